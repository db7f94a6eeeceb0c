
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * SHA-256 and HMAC-SHA256, shared by the module and the tools (no nginx
 * headers), without OpenSSL 3's per-call fetch and allocation
 * (apiauth_crypto.c says what they cost).
 */


#ifndef _APIAUTH_CRYPTO_H_INCLUDED_
#define _APIAUTH_CRYPTO_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define APIAUTH_SHA256_LEN         32
#define APIAUTH_SHA256_HEX_LEN     64
#define APIAUTH_SHA256_BLOCK       64


/*
 * an HMAC key whose two padded blocks are hashed once, in advance: the
 * SHA-256 states after them; it signs as the key does, so it is as secret
 */
typedef struct {
    uint32_t  inner[8];
    uint32_t  outer[8];
} apiauth_hmac_key_t;


/* a SHA-256 of data that comes in pieces: OpenSSL's SHA256_CTX, opaque */
typedef struct {
    uint64_t  opaque[16];
} apiauth_sha256_t;


/* all return 0, or -1 when OpenSSL fails */
int apiauth_sha256_init(apiauth_sha256_t *s);
int apiauth_sha256_update(apiauth_sha256_t *s, const unsigned char *p,
    size_t len);
int apiauth_sha256_final(apiauth_sha256_t *s,
    unsigned char out[APIAUTH_SHA256_LEN]);

int apiauth_sha256(const unsigned char *p, size_t len,
    unsigned char out[APIAUTH_SHA256_LEN]);
int apiauth_hmac_sha256(const unsigned char *key, size_t key_len,
    const unsigned char *msg, size_t msg_len,
    unsigned char out[APIAUTH_SHA256_LEN]);
int apiauth_hmac_key(apiauth_hmac_key_t *hk, const unsigned char *key,
    size_t key_len);
int apiauth_hmac_sha256_keyed(const apiauth_hmac_key_t *hk,
    const unsigned char *msg, size_t msg_len,
    unsigned char out[APIAUTH_SHA256_LEN]);


#endif /* _APIAUTH_CRYPTO_H_INCLUDED_ */
