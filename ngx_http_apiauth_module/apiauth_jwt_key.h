
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The public key of a key's JWT method (docs/jwt.md): PEM
 * (SubjectPublicKeyInfo) of the algorithm's type, checked when it is set
 * and read again by nginx, never a secret; shared by the module and
 * apiauth-ctl (no nginx headers).
 */


#ifndef _APIAUTH_JWT_KEY_H_INCLUDED_
#define _APIAUTH_JWT_KEY_H_INCLUDED_


#include <stddef.h>

#include <openssl/evp.h>


#define APIAUTH_JWT_PEM_MAX         4096      /* a public key's PEM bytes */
#define APIAUTH_JWT_FINGERPRINT_LEN 64        /* hex SHA-256 of the SPKI DER */


/*
 * the public key in pem (len bytes, exactly one SubjectPublicKeyInfo PEM
 * block) for algorithm alg (APIAUTH_JWT_RS256: RSA of 2048 bits or more;
 * ES256: EC on P-256; EDDSA: Ed25519); NULL with *why saying what is
 * wrong.  The caller frees it with EVP_PKEY_free().
 */
EVP_PKEY *apiauth_jwt_key_load(const unsigned char *pem, size_t len, int alg,
    const char **why);

/* lower-case hex SHA-256 of the key's DER SPKI, and a NUL: 0 or -1 */
int apiauth_jwt_key_fingerprint(EVP_PKEY *pkey,
    char out[APIAUTH_JWT_FINGERPRINT_LEN + 1]);


#endif /* _APIAUTH_JWT_KEY_H_INCLUDED_ */
