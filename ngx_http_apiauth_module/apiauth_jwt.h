
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * JSON Web Tokens (docs/jwt.md), read and verified by our own code on
 * OpenSSL 3, shared by the module and apiauth-ctl (no nginx headers):
 * strict base64url, a strict JSON reader, the algorithm pinned by the
 * caller, the claims checked against the key's rules.
 */


#ifndef _APIAUTH_JWT_H_INCLUDED_
#define _APIAUTH_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>


#define APIAUTH_JWT_MAX             8192      /* a token's bytes, at most */
#define APIAUTH_JWT_CLAIMS_MAX      32        /* top-level claims kept */
#define APIAUTH_JWT_CLAIM_MAX       256       /* a key's issuer, audience */

/* algorithms; a key pins exactly one */
#define APIAUTH_JWT_NONE            0         /* no JWT method */
#define APIAUTH_JWT_HS256           1
#define APIAUTH_JWT_RS256           2
#define APIAUTH_JWT_ES256           3
#define APIAUTH_JWT_EDDSA           4

/* what a check says */
#define APIAUTH_JWT_OK              0
#define APIAUTH_JWT_MALFORMED       1         /* not a token we read */
#define APIAUTH_JWT_WRONG_ALG       2         /* alg is not the key's */
#define APIAUTH_JWT_BAD_SIGNATURE   3
#define APIAUTH_JWT_EXPIRED         4         /* exp past, with leeway */
#define APIAUTH_JWT_NOT_YET_VALID   5         /* nbf or iat in the future */
#define APIAUTH_JWT_BAD_CLAIMS      6         /* no exp, lifetime, iss, aud */


typedef struct {
    const unsigned char  *data;
    size_t                len;
} apiauth_jwt_text_t;


/* a top-level claim of a string or a number: its name and value as text */
typedef struct {
    apiauth_jwt_text_t    name;
    apiauth_jwt_text_t    value;    /* a string unescaped, a number as sent */
} apiauth_jwt_claim_t;


/*
 * a token read by apiauth_jwt_parse(): its texts point into buf (the
 * decoded header and payload, unescaped strings) or into the token
 */
typedef struct {
    /* the signing input: the token up to its second dot */
    apiauth_jwt_text_t    signed_part;

    apiauth_jwt_text_t    alg;          /* the header's, as sent */
    apiauth_jwt_text_t    kid;          /* absent: data NULL */

    apiauth_jwt_text_t    sub;
    apiauth_jwt_text_t    iss;
    apiauth_jwt_text_t    jti;
    apiauth_jwt_text_t    aud[8];       /* a string, or up to 8 in an array */
    size_t                naud;

    int64_t               exp;          /* NumericDate, seconds */
    int64_t               nbf;
    int64_t               iat;
    unsigned              has_exp:1;
    unsigned              has_nbf:1;
    unsigned              has_iat:1;

    apiauth_jwt_claim_t   claims[APIAUTH_JWT_CLAIMS_MAX];
    size_t                nclaims;

    unsigned char         sig[512];     /* the signature, decoded */
    size_t                sig_len;

    unsigned char         buf[APIAUTH_JWT_MAX];
} apiauth_jwt_t;


/* the key's rules for the claims */
typedef struct {
    int64_t               leeway;       /* seconds, for exp, nbf and iat */
    int64_t               max_lifetime; /* exp - iat (or exp - now); 0: any */
    int                   require_exp;
    apiauth_jwt_text_t    issuer;       /* data NULL: not checked */
    apiauth_jwt_text_t    audience;     /* data NULL: not checked */
} apiauth_jwt_rules_t;


/* "HS256", "RS256", "ES256", "EdDSA": APIAUTH_JWT_*, or -1 */
int apiauth_jwt_alg(const unsigned char *name, size_t len);
const char *apiauth_jwt_alg_name(int alg);

/*
 * reads a token of len bytes: three parts of strict base64url (no padding,
 * canonical last character), a header and a payload that are JSON objects
 * without duplicate names and nested no deeper than a JWT needs, a header
 * with a string alg and no crit; returns APIAUTH_JWT_OK, or
 * APIAUTH_JWT_MALFORMED with *why saying what
 */
int apiauth_jwt_parse(apiauth_jwt_t *jwt, const unsigned char *token,
    size_t len, const char **why);

/*
 * the signature, by the key's pinned algorithm alg: the header's alg must
 * be its name byte for byte (else APIAUTH_JWT_WRONG_ALG, "none" always);
 * HS256 with the HMAC key secret (the key's accessSecret's 64 hex
 * characters), the others with pkey, of the matching type (ES256:
 * exactly 64 bytes of r || s); APIAUTH_JWT_OK or APIAUTH_JWT_BAD_SIGNATURE
 */
int apiauth_jwt_verify(const apiauth_jwt_t *jwt, int alg,
    const unsigned char *secret, size_t secret_len, EVP_PKEY *pkey);

/*
 * the claims at time now (unix seconds): APIAUTH_JWT_OK, _EXPIRED,
 * _NOT_YET_VALID or _BAD_CLAIMS, with *why saying what
 */
int apiauth_jwt_claims_check(const apiauth_jwt_t *jwt,
    const apiauth_jwt_rules_t *rules, int64_t now, const char **why);


#endif /* _APIAUTH_JWT_H_INCLUDED_ */
