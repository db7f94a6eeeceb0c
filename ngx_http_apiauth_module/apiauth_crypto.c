
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * OpenSSL's SHA-256 block functions, without EVP: OpenSSL 3 allocates a
 * provider context on every EVP_DigestInit_ex2() and fetches an algorithm
 * on every one-shot call, several times the cost of the hashing itself
 * (docs/performance.md).  They are deprecated in OpenSSL 3.0 but present
 * in every 3.x; should they go, EVP_Q_digest() is the drop-in.  A prepared
 * HMAC key keeps the states after the key's two padded blocks
 * (SHA256_CTX's public h[]), so that a MAC hashes two blocks fewer.
 */


#define OPENSSL_SUPPRESS_DEPRECATED  1

#include <string.h>

#include <openssl/sha.h>

#include "apiauth_crypto.h"


int
apiauth_sha256(const unsigned char *p, size_t len,
    unsigned char out[APIAUTH_SHA256_LEN])
{
    SHA256_CTX  ctx;

    if (SHA256_Init(&ctx) != 1
        || SHA256_Update(&ctx, p, len) != 1
        || SHA256_Final(out, &ctx) != 1)
    {
        return -1;
    }

    return 0;
}


/* the opaque type must hold OpenSSL's context */
typedef char  apiauth_sha256_fits[sizeof(SHA256_CTX)
                                  <= sizeof(apiauth_sha256_t) ? 1 : -1];


int
apiauth_sha256_init(apiauth_sha256_t *s)
{
    return SHA256_Init((SHA256_CTX *) s) == 1 ? 0 : -1;
}


int
apiauth_sha256_update(apiauth_sha256_t *s, const unsigned char *p,
    size_t len)
{
    return SHA256_Update((SHA256_CTX *) s, p, len) == 1 ? 0 : -1;
}


int
apiauth_sha256_final(apiauth_sha256_t *s,
    unsigned char out[APIAUTH_SHA256_LEN])
{
    return SHA256_Final(out, (SHA256_CTX *) s) == 1 ? 0 : -1;
}


/* RFC 2104 */

int
apiauth_hmac_sha256(const unsigned char *key, size_t key_len,
    const unsigned char *msg, size_t msg_len,
    unsigned char out[APIAUTH_SHA256_LEN])
{
    int                 rc;
    apiauth_hmac_key_t  hk;

    rc = apiauth_hmac_key(&hk, key, key_len) == 0
         && apiauth_hmac_sha256_keyed(&hk, msg, msg_len, out) == 0;

    explicit_bzero(&hk, sizeof(hk));

    return rc ? 0 : -1;
}


/*
 * the states after the key's inner and outer padded blocks; a message then
 * costs its own blocks and one more, not two more
 */

int
apiauth_hmac_key(apiauth_hmac_key_t *hk, const unsigned char *key,
    size_t key_len)
{
    int            rc;
    size_t         i;
    SHA256_CTX     ctx;
    unsigned char  k[APIAUTH_SHA256_BLOCK], pad[APIAUTH_SHA256_BLOCK];

    memset(k, 0, sizeof(k));

    if (key_len > APIAUTH_SHA256_BLOCK) {
        if (apiauth_sha256(key, key_len, k) != 0) {
            return -1;
        }

    } else {
        memcpy(k, key, key_len);
    }

    for (i = 0; i < APIAUTH_SHA256_BLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }

    rc = SHA256_Init(&ctx) == 1
         && SHA256_Update(&ctx, pad, sizeof(pad)) == 1;

    if (rc) {
        memcpy(hk->inner, ctx.h, sizeof(hk->inner));

        for (i = 0; i < APIAUTH_SHA256_BLOCK; i++) {
            pad[i] = k[i] ^ 0x5c;
        }

        rc = SHA256_Init(&ctx) == 1
             && SHA256_Update(&ctx, pad, sizeof(pad)) == 1;

        memcpy(hk->outer, ctx.h, sizeof(hk->outer));
    }

    /* the key's pads are as secret as the key */
    explicit_bzero(k, sizeof(k));
    explicit_bzero(pad, sizeof(pad));
    explicit_bzero(&ctx, sizeof(ctx));

    return rc ? 0 : -1;
}


/* a context that has hashed one block, whose state is h */

static int
apiauth_sha256_resume(SHA256_CTX *ctx, const uint32_t h[8])
{
    /* SHA_LONG is at least 32 bits: the copy must be exact */
    if (sizeof(ctx->h) != 8 * sizeof(uint32_t) || SHA256_Init(ctx) != 1) {
        return -1;
    }

    memcpy(ctx->h, h, sizeof(ctx->h));
    ctx->Nl = APIAUTH_SHA256_BLOCK * 8;         /* bits hashed so far */

    return 0;
}


int
apiauth_hmac_sha256_keyed(const apiauth_hmac_key_t *hk,
    const unsigned char *msg, size_t msg_len,
    unsigned char out[APIAUTH_SHA256_LEN])
{
    int            rc;
    SHA256_CTX     ctx;
    unsigned char  inner[APIAUTH_SHA256_LEN];

    rc = apiauth_sha256_resume(&ctx, hk->inner) == 0
         && SHA256_Update(&ctx, msg, msg_len) == 1
         && SHA256_Final(inner, &ctx) == 1
         && apiauth_sha256_resume(&ctx, hk->outer) == 0
         && SHA256_Update(&ctx, inner, sizeof(inner)) == 1
         && SHA256_Final(out, &ctx) == 1;

    explicit_bzero(&ctx, sizeof(ctx));

    return rc ? 0 : -1;
}
