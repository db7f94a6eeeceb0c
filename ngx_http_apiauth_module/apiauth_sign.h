
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The APIAUTH-HMAC-SHA256 request signature (docs/signature.md), shared by
 * the module and the tools (no nginx headers).  Functions return 0 on
 * success and -1 on malformed input.
 */


#ifndef _APIAUTH_SIGN_H_INCLUDED_
#define _APIAUTH_SIGN_H_INCLUDED_


#include <stddef.h>

#include "apiauth_crypto.h"


#define APIAUTH_ALGORITHM          "APIAUTH-HMAC-SHA256"
#define APIAUTH_UNSIGNED_PAYLOAD   "UNSIGNED-PAYLOAD"

#define APIAUTH_NONCE_MIN          16
#define APIAUTH_NONCE_MAX          64
#define APIAUTH_DATE_MAX           12       /* digits of unix seconds */
#define APIAUTH_SIGNED_MAX         32       /* signed headers */
#define APIAUTH_SIGNED_HEADERS_MAX 1024     /* bytes of SignedHeaders */
#define APIAUTH_QUERY_PARAMS_MAX   256


typedef struct {
    const unsigned char  *name;         /* lower case */
    size_t                name_len;
    const unsigned char  *value;        /* as sent */
    size_t                value_len;
} apiauth_header_t;


/* the parts of an Authorization header of our scheme */
typedef struct {
    const unsigned char  *credential;
    size_t                credential_len;
    const unsigned char  *signed_headers;
    size_t                signed_headers_len;
    unsigned char         signature[APIAUTH_SHA256_LEN];
} apiauth_auth_t;


typedef struct {
    const unsigned char  *method;
    size_t                method_len;
    const unsigned char  *path;          /* raw, up to '?' */
    size_t                path_len;
    const unsigned char  *query;         /* raw, after '?' */
    size_t                query_len;
    const apiauth_header_t  *headers;    /* every header, as sent */
    size_t                nheaders;
    const unsigned char  *signed_headers;    /* checked, "a;b;c" */
    size_t                signed_headers_len;
} apiauth_request_t;


/* where the canonical request goes: a buffer or a running hash */
typedef void (*apiauth_sink_pt)(void *data, const unsigned char *p,
    size_t len);


typedef struct {
    const unsigned char  *name;
    size_t                name_len;
    const unsigned char  *value;
    size_t                value_len;
} apiauth_param_t;


/*
 * scratch space: for the canonical query, and for the canonical request,
 * which is hashed in one piece; without creq, apiauth_sign() allocates it
 */
typedef struct {
    unsigned char        *buf;           /* max(path_len, query_len) */
    apiauth_param_t      *params;        /* APIAUTH_QUERY_PARAMS_MAX */
    unsigned char        *creq;          /* apiauth_canonical_request_bound */
    size_t                creq_cap;
} apiauth_scratch_t;


/*
 * "APIAUTH-HMAC-SHA256 Credential=AK, SignedHeaders=a;b, Signature=hex";
 * the three parameters exactly once each, in any order, separated by ','
 * and optional spaces
 */
int apiauth_auth_parse(const unsigned char *s, size_t len, apiauth_auth_t *a);

/*
 * SignedHeaders: lower-case header names, strictly sorted, each sent
 * (present in headers), never "authorization", including host,
 * x-apiauth-date, x-apiauth-nonce, and x-apiauth-content-sha256 when sent
 */
int apiauth_signed_headers_check(const unsigned char *s, size_t len,
    const apiauth_header_t *headers, size_t nheaders);

/* X-Apiauth-Date: 1-12 digits of unix seconds; X-Apiauth-Nonce */
int apiauth_date_parse(const unsigned char *s, size_t len, long long *date);
int apiauth_nonce_check(const unsigned char *s, size_t len);

/* X-Apiauth-Content-SHA256: 64 lowercase hex digits */
int apiauth_hash_hex_check(const unsigned char *s, size_t len);

/* writes the canonical request into sink */
int apiauth_canonical_request(const apiauth_request_t *req,
    apiauth_scratch_t *scratch, apiauth_sink_pt sink, void *data);

/* at least the length of the canonical request of req */
size_t apiauth_canonical_request_bound(const apiauth_request_t *req);

/*
 * the whole verification: SHA-256 of the canonical request, string to
 * sign, HMAC with the secret; mac receives APIAUTH_SHA256_LEN bytes
 */
int apiauth_sign(const apiauth_request_t *req, apiauth_scratch_t *scratch,
    const unsigned char *date, size_t date_len,
    const unsigned char *nonce, size_t nonce_len,
    const unsigned char *secret, size_t secret_len, unsigned char *mac);

/* the same with the secret's HMAC key prepared (apiauth_hmac_key()) */
int apiauth_sign_keyed(const apiauth_request_t *req,
    apiauth_scratch_t *scratch, const unsigned char *date, size_t date_len,
    const unsigned char *nonce, size_t nonce_len,
    const apiauth_hmac_key_t *hk, unsigned char *mac);

/*
 * writes the string to sign into sink, given the hex SHA-256 of the
 * canonical request
 */
void apiauth_string_to_sign(const unsigned char *date, size_t date_len,
    const unsigned char *nonce, size_t nonce_len,
    const unsigned char *creq_hash_hex, apiauth_sink_pt sink, void *data);

/* constant time for equal lengths; returns 0 when equal */
int apiauth_mac_compare(const unsigned char *a, size_t a_len,
    const unsigned char *b, size_t b_len);


#endif /* _APIAUTH_SIGN_H_INCLUDED_ */
