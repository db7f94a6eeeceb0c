
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * make bench: microseconds of a JWT's first verification (not yet in the
 * verified-token cache) per algorithm, with the shared code the module
 * runs: the token read, and its signature checked with the key's pinned
 * algorithm.  Keys are made here, the tokens signed with OpenSSL.
 */


#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "apiauth_crypto.h"
#include "apiauth_jwt.h"


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static size_t
b64url(unsigned char *out, const unsigned char *in, size_t len)
{
    int     n;
    size_t  i, j;

    n = EVP_EncodeBlock(out, in, (int) len);

    for (i = 0, j = 0; i < (size_t) n; i++) {
        if (out[i] == '=') {
            break;
        }

        out[j++] = (out[i] == '+') ? '-' : (out[i] == '/') ? '_' : out[i];
    }

    return j;
}


/* raw r || s from a DER ECDSA signature, as JOSE wants it */

static size_t
es_raw(unsigned char *sig, size_t len)
{
    const unsigned char  *p;
    const BIGNUM         *r, *s;
    ECDSA_SIG            *es;

    p = sig;
    es = d2i_ECDSA_SIG(NULL, &p, (long) len);
    if (es == NULL) {
        return 0;
    }

    ECDSA_SIG_get0(es, &r, &s);
    BN_bn2binpad(r, sig, 32);
    BN_bn2binpad(s, sig + 32, 32);
    ECDSA_SIG_free(es);

    return 64;
}


static size_t
token(unsigned char *out, const char *alg, EVP_PKEY *pkey,
    const unsigned char *secret)
{
    char            header[64];
    size_t          n, slen;
    unsigned char   sig[1024];
    EVP_MD_CTX     *md;
    const EVP_MD   *digest;

    static const char  payload[] =
        "{\"sub\":\"BenchKey0001\",\"iat\":1796400000,\"exp\":4102444800,"
        "\"iss\":\"https://idp.example\",\"aud\":\"orders-api\"}";

    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}",
             alg);

    n = b64url(out, (unsigned char *) header, strlen(header));
    out[n++] = '.';
    n += b64url(out + n, (unsigned char *) payload, sizeof(payload) - 1);

    if (pkey == NULL) {
        apiauth_hmac_sha256(secret, 64, out, n, sig);
        slen = 32;

    } else {
        md = EVP_MD_CTX_new();
        digest = (strcmp(alg, "EdDSA") == 0) ? NULL : EVP_sha256();
        slen = sizeof(sig);

        if (md == NULL
            || EVP_DigestSignInit(md, NULL, digest, NULL, pkey) != 1
            || EVP_DigestSign(md, sig, &slen, out, n) != 1)
        {
            return 0;
        }

        EVP_MD_CTX_free(md);

        if (strcmp(alg, "ES256") == 0) {
            slen = es_raw(sig, slen);
        }
    }

    out[n++] = '.';
    n += b64url(out + n, sig, slen);

    return n;
}


int
main(void)
{
    int             i, n, alg, rc;
    size_t          len;
    double          t0;
    const char     *why;
    EVP_PKEY       *pkey;
    unsigned char   tok[2048], secret[64];
    apiauth_jwt_t   jwt;

    static const struct {
        const char  *name;
        int          alg;
        int          n;
    } algs[] = {
        { "HS256", APIAUTH_JWT_HS256, 200000 },
        { "RS256", APIAUTH_JWT_RS256, 20000 },
        { "ES256", APIAUTH_JWT_ES256, 5000 },
        { "EdDSA", APIAUTH_JWT_EDDSA, 5000 },
        { NULL, 0, 0 }
    };

    memset(secret, 'a', sizeof(secret));

    printf("# a JWT's first verification (read, then its signature), "
           "before the verified-token cache\n");

    for (i = 0; algs[i].name; i++) {
        alg = algs[i].alg;

        switch (alg) {
        case APIAUTH_JWT_RS256:
            pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
            break;
        case APIAUTH_JWT_ES256:
            pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
            break;
        case APIAUTH_JWT_EDDSA:
            pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
            break;
        default:
            pkey = NULL;
        }

        len = token(tok, algs[i].name, pkey, secret);

        if (len == 0 || apiauth_jwt_parse(&jwt, tok, len, &why) != 0
            || apiauth_jwt_verify(&jwt, alg, secret, 64, pkey) != 0)
        {
            fprintf(stderr, "%s: the token does not verify\n", algs[i].name);
            return 1;
        }

        t0 = now();
        rc = 0;

        for (n = 0; n < algs[i].n; n++) {
            rc |= apiauth_jwt_parse(&jwt, tok, len, &why);
            rc |= apiauth_jwt_verify(&jwt, alg, secret, 64, pkey);
        }

        printf("  %-8s %8.2f us  (%zu-byte token)%s\n", algs[i].name,
               (now() - t0) / algs[i].n * 1e6, len, rc ? "  FAILED" : "");

        EVP_PKEY_free(pkey);
    }

    return 0;
}
