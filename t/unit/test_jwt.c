
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * JSON Web Tokens (apiauth_jwt.h): RFC 7515 A.1 to A.3 and RFC 8037 A.4,
 * tokens minted by python3-jwt (t/data/jwt-*, whose directory is argv[1];
 * t/data/jwt-README.md says where each comes from), the refusals of the
 * strict reader, the algorithm pinned by the key, and the claims.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "apiauth_jwt.h"
#include "tap.h"


/* a string literal with its length, embedded NULs included */
#define S(lit)  lit, sizeof(lit) - 1

/* is_str() of a text against a literal */
#define TEXT_IS(t, lit, ...)                                                 \
    is_str((t).data, (t).len, lit, sizeof(lit) - 1, __VA_ARGS__)

#define HS256_HEADER  "{\"alg\":\"HS256\"}"

#define OK            APIAUTH_JWT_OK
#define MALFORMED     APIAUTH_JWT_MALFORMED
#define WRONG_ALG     APIAUTH_JWT_WRONG_ALG
#define BAD_SIG       APIAUTH_JWT_BAD_SIGNATURE
#define EXPIRED       APIAUTH_JWT_EXPIRED
#define NOT_YET       APIAUTH_JWT_NOT_YET_VALID
#define BAD_CLAIMS    APIAUTH_JWT_BAD_CLAIMS


static apiauth_jwt_t  *jwt;             /* the last token read */
static unsigned char  *token;           /* its exact-size copy */
static size_t          token_len;
static const char     *why;
static const char     *dir;

static char            tok[2 * APIAUTH_JWT_MAX];  /* tokens being made */


/* exact-size heap copies, so that the sanitizers see any over-read */

static unsigned char *
copy(const void *s, size_t len)
{
    unsigned char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    memcpy(p, s, len);

    return p;
}


/* reads an exact-size copy of s into jwt; the copy lives until the next */

static int
parse(const char *s, size_t len)
{
    free(token);
    token = copy(s, len);
    token_len = len;
    why = NULL;

    return apiauth_jwt_parse(jwt, token, len, &why);
}


/* MALFORMED, and saying why */

static int
refused(int rc)
{
    return rc == MALFORMED && why != NULL && why[0] != '\0';
}


/* the test's own base64url encoder (RFC 4648 5, no padding) */

static size_t
b64url(char *out, const unsigned char *in, size_t len)
{
    size_t         i, n;
    uint32_t       v;
    static char    a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789-_";

    n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];
        out[n++] = a[(v >> 6) & 63];
        out[n++] = a[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];
        out[n++] = a[(v >> 6) & 63];
    }

    out[n] = '\0';

    return n;
}


/* OpenSSL's base64 decoder, after turning base64url into base64 */

static size_t
b64url_decode(unsigned char *out, const char *in, size_t len)
{
    int     n;
    char   *s;
    size_t  i, pad;

    s = malloc(len + 4);
    if (s == NULL) {
        abort();
    }

    for (i = 0; i < len; i++) {
        s[i] = (in[i] == '-') ? '+' : (in[i] == '_') ? '/' : in[i];
    }

    for (pad = 0; (len + pad) % 4; pad++) {
        s[len + pad] = '=';
    }

    n = EVP_DecodeBlock(out, (unsigned char *) s, (int) (len + pad));
    free(s);

    if (n < 0) {
        abort();
    }

    return (size_t) n - pad;
}


/* "header.payload.sig" in tok, each encoded; no sig: three zero bytes */

static size_t
mk(const char *h, size_t hl, const char *p, size_t pl,
    const unsigned char *sig, size_t sl)
{
    size_t  n;

    n = b64url(tok, (const unsigned char *) h, hl);
    tok[n++] = '.';
    n += b64url(tok + n, (const unsigned char *) p, pl);
    tok[n++] = '.';

    if (sig == NULL) {
        sig = (const unsigned char *) "\0\0\0";
        sl = 3;
    }

    return n + b64url(tok + n, sig, sl);
}


/* as mk(), signed with HMAC-SHA256 by key */

static size_t
mk_hs256(const char *h, size_t hl, const char *p, size_t pl,
    const void *key, size_t key_len)
{
    size_t         n;
    unsigned int   mac_len;
    unsigned char  mac[EVP_MAX_MD_SIZE];

    n = mk(h, hl, p, pl, NULL, 0);
    n -= 4;

    HMAC(EVP_sha256(), key, (int) key_len, (unsigned char *) tok, n - 1, mac,
         &mac_len);

    return n + b64url(tok + n, mac, mac_len);
}


/* the signing input of tok, signed by pkey with md (NULL for Ed25519) */

static size_t
mk_signed(const char *h, size_t hl, const char *p, size_t pl, EVP_PKEY *pkey,
    const EVP_MD *md)
{
    size_t          n, sl;
    EVP_MD_CTX     *ctx;
    unsigned char   sig[1024];

    n = mk(h, hl, p, pl, NULL, 0) - 4;
    sl = sizeof(sig);

    ctx = EVP_MD_CTX_new();

    if (ctx == NULL
        || EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) != 1
        || EVP_DigestSign(ctx, sig, &sl, (unsigned char *) tok, n - 1) != 1)
    {
        abort();
    }

    EVP_MD_CTX_free(ctx);

    return n + b64url(tok + n, sig, sl);
}


/* as mk_signed() with ECDSA, the DER signature turned into R || S */

static size_t
mk_es(const char *h, size_t hl, const char *p, size_t pl, EVP_PKEY *pkey)
{
    size_t                n, len;
    ECDSA_SIG            *es;
    const BIGNUM         *r, *s;
    unsigned char         der[160], raw[64];
    const unsigned char  *q;

    n = mk_signed(h, hl, p, pl, pkey, EVP_sha256());

    while (tok[n - 1] != '.') {
        n--;
    }

    len = b64url_decode(der, tok + n, strlen(tok + n));
    q = der;
    es = d2i_ECDSA_SIG(NULL, &q, (long) len);

    if (es == NULL) {
        abort();
    }

    ECDSA_SIG_get0(es, &r, &s);

    if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32)
    {
        abort();
    }

    ECDSA_SIG_free(es);

    return n + b64url(tok + n, raw, 64);
}


static int
header(const char *h, size_t hl)
{
    return parse(tok, mk(h, hl, S("{}"), NULL, 0));
}


static int
payload(const char *p, size_t pl)
{
    return parse(tok, mk(S(HS256_HEADER), p, pl, NULL, 0));
}


/* a whole file of t/data, and its length */

static char *
slurp(const char *name, size_t *len)
{
    FILE   *f;
    char   *buf, path[4096];
    size_t  n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    buf = malloc(65536);
    if (buf == NULL) {
        abort();
    }

    n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;

    return buf;
}


/*
 * the value of a "name value" line of a jwt-*.txt file ('#' starts a
 * comment line), as an exact-size copy; NULL if it is not there
 */

static char *
field(const char *file, const char *name, size_t *len)
{
    char    *text, *p, *nl, *v;
    size_t   n, flen;

    text = slurp(file, &flen);
    if (text == NULL) {
        return NULL;
    }

    n = strlen(name);
    v = NULL;

    for (p = text; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL) {
            nl = p + strlen(p);
        }

        if (p[0] != '#' && (size_t) (nl - p) > n && memcmp(p, name, n) == 0
            && p[n] == ' ')
        {
            *len = nl - p - n - 1;
            v = (char *) copy(p + n + 1, *len);
            break;
        }

        if (*nl == '\0') {
            break;
        }
    }

    free(text);

    return v;
}


static EVP_PKEY *
pem_key(const char *file)
{
    BIO       *b;
    char       path[4096];
    EVP_PKEY  *k;

    snprintf(path, sizeof(path), "%s/%s", dir, file);

    b = BIO_new_file(path, "r");
    if (b == NULL) {
        return NULL;
    }

    k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);

    return k;
}


/* the first or the last '.' of the len bytes at t (which have no NUL) */

static char *
dot(char *t, size_t len, int last)
{
    char    *d;
    size_t   i;

    d = NULL;

    for (i = 0; i < len; i++) {
        if (t[i] == '.') {
            d = t + i;

            if (!last) {
                break;
            }
        }
    }

    return d;
}


static int
claim_is(size_t i, const char *name, const char *value)
{
    return i < jwt->nclaims
           && jwt->claims[i].name.len == strlen(name)
           && memcmp(jwt->claims[i].name.data, name, strlen(name)) == 0
           && jwt->claims[i].value.len == strlen(value)
           && memcmp(jwt->claims[i].value.data, value, strlen(value)) == 0;
}


static int
in_buf(apiauth_jwt_text_t t)
{
    return t.data >= jwt->buf && t.data + t.len <= jwt->buf + sizeof(jwt->buf);
}


static void
test_rfc7515_a1(void)
{
    int             rc;
    char           *t, *k, *dot1, *dot2;
    size_t          len, klen, key_len, n, m;
    unsigned char  *saved, *p, key[128], raw[256];

    t = field("jwt-rfc7515-a1.txt", "token", &len);
    k = field("jwt-rfc7515-a1.txt", "k", &klen);

    if (!ok(t != NULL && k != NULL, "A.1: jwt-rfc7515-a1.txt is read")) {
        free(t);
        free(k);
        return;
    }

    key_len = b64url_decode(key, k, klen);
    ok(key_len == 64, "A.1: the JWK's k is 64 bytes");

    rc = parse(t, len);
    ok(rc == OK, "A.1: the token is read (%s)", why ? why : "");

    saved = copy(token, token_len);
    ok(memcmp(saved, token, token_len) == 0, "A.1: the token is left as sent");
    free(saved);

    TEXT_IS(jwt->alg, "HS256", "A.1: alg");
    ok(jwt->kid.data == NULL, "A.1: no kid");
    TEXT_IS(jwt->iss, "joe", "A.1: iss");
    ok(in_buf(jwt->iss), "A.1: iss is in buf");
    ok(jwt->has_exp && jwt->exp == 1300819380, "A.1: exp");
    ok(!jwt->has_nbf && !jwt->has_iat, "A.1: no nbf, no iat");
    ok(jwt->sub.data == NULL && jwt->jti.data == NULL && jwt->naud == 0,
       "A.1: no sub, jti or aud");
    ok(jwt->signed_part.data == token
       && jwt->signed_part.len == (size_t) (dot(t, len, 1) - t),
       "A.1: the signed part is the token up to its second dot");
    ok(jwt->sig_len == 32, "A.1: a signature of 32 bytes");

    /* is_root is true: neither a string nor a number */
    ok(jwt->nclaims == 2 && claim_is(0, "iss", "joe")
       && claim_is(1, "exp", "1300819380"),
       "A.1: the claims kept are iss and exp, not a boolean");

    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, key, key_len, NULL) == OK,
       "A.1: the signature verifies with k");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, key, key_len - 1, NULL)
       == BAD_SIG, "A.1: not with a key a byte shorter");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, key, 0, NULL) == BAD_SIG,
       "A.1: not with an empty key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, NULL, 0, NULL) == BAD_SIG,
       "A.1: not without a key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_RS256, key, key_len, NULL)
       == WRONG_ALG, "A.1: WRONG_ALG when the key pins RS256");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_NONE, key, key_len, NULL)
       == WRONG_ALG, "A.1: WRONG_ALG for a key without a JWT method");
    ok(apiauth_jwt_verify(jwt, 99, key, key_len, NULL) == WRONG_ALG,
       "A.1: WRONG_ALG for an unknown algorithm");

    {
        apiauth_jwt_rules_t  r;

        memset(&r, 0, sizeof(r));
        r.require_exp = 1;
        r.issuer.data = (const unsigned char *) "joe";
        r.issuer.len = 3;

        ok(apiauth_jwt_claims_check(jwt, &r, 1300819379, &why) == OK,
           "A.1: the claims hold a second before exp");
        ok(apiauth_jwt_claims_check(jwt, &r, 1300819380, &why) == EXPIRED,
           "A.1: EXPIRED at exp");
    }

    /* the same token, "joe" in the payload as "Joe" */

    dot1 = dot(t, len, 0);
    dot2 = dot(t, len, 1);
    n = b64url_decode(raw, dot1 + 1, dot2 - dot1 - 1);
    p = NULL;

    for (m = 0; m + 5 <= n; m++) {
        if (memcmp(raw + m, "\"joe\"", 5) == 0) {
            p = raw + m;
            break;
        }
    }

    if (ok(p != NULL, "A.1: the payload has \"joe\"")) {
        p[1] = 'J';
        memcpy(tok, t, dot1 + 1 - t);
        m = dot1 + 1 - t;
        m += b64url(tok + m, raw, n);
        memcpy(tok + m, dot2, t + len - dot2);
        m += t + len - dot2;

        ok(parse(tok, m) == OK && jwt->iss.data[0] == 'J'
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, key, key_len, NULL)
              == BAD_SIG, "A.1: a changed payload does not verify");
    }

    /* 'k' is the signature's last character: "l" decodes alike */

    ok(t[len - 1] == 'k', "A.1: the signature ends in 'k'");
    t[len - 1] = 'l';
    ok(refused(parse(t, len)),
       "A.1: a non-canonical last character is refused");
    t[len - 1] = 'k';

    memcpy(tok, t, len);
    tok[len] = '=';
    ok(refused(parse(tok, len + 1)), "A.1: a padded signature is refused");

    free(t);
    free(k);
}


static void
test_rfc7515_a2(void)
{
    char           *t, *pem, *text;
    size_t          len, pem_len, n;
    EVP_PKEY       *rsa, *ec, *small;
    unsigned char  *p;

    t = field("jwt-rfc7515-a2.txt", "token", &len);
    rsa = pem_key("jwt-rfc7515-a2.pem");
    ec = pem_key("jwt-rfc7515-a3.pem");
    text = slurp("jwt-rfc7515-a2.pem", &pem_len);
    pem = text ? (char *) copy(text, pem_len) : NULL;
    free(text);

    if (!ok(t != NULL && rsa != NULL && ec != NULL && pem != NULL,
            "A.2: jwt-rfc7515-a2.txt and its key are read"))
    {
        goto done;
    }

    ok(parse(t, len) == OK, "A.2: the token is read");
    TEXT_IS(jwt->alg, "RS256", "A.2: alg");
    ok(jwt->sig_len == 256, "A.2: a signature of 256 bytes");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_RS256, NULL, 0, rsa) == OK,
       "A.2: the signature verifies with the public key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_RS256, NULL, 0, NULL) == BAD_SIG,
       "A.2: not without a key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_RS256, NULL, 0, ec) == BAD_SIG,
       "A.2: not with an EC key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, rsa) == WRONG_ALG,
       "A.2: WRONG_ALG when the key pins ES256");

    jwt->sig[100] ^= 0x10;
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_RS256, NULL, 0, rsa) == BAD_SIG,
       "A.2: a changed signature does not verify");

    /* the standard alphabet is not base64url */

    p = (unsigned char *) dot(t, len, 1) + 1;

    for (n = 0; p + n < (unsigned char *) t + len; n++) {
        if (p[n] == '-' || p[n] == '_') {
            break;
        }
    }

    ok(p + n < (unsigned char *) t + len,
       "A.2: the signature has a '-' or a '_'");
    memcpy(tok, t, len);
    tok[(char *) p - t + n] = '+';
    ok(refused(parse(tok, len)), "A.2: a '+' is refused");
    tok[(char *) p - t + n] = '/';
    ok(refused(parse(tok, len)), "A.2: a '/' is refused");

    /*
     * RS/HS confusion: the public key's PEM as the HMAC secret of a token
     * that says HS256; such a token is a valid HMAC, and refused by alg
     */

    n = mk_hs256(S(HS256_HEADER), S("{\"iss\":\"joe\",\"exp\":4102444800}"),
                 pem, pem_len);
    ok(parse(tok, n) == OK, "HS/RS: the forged token is read");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256,
                          (unsigned char *) pem, pem_len, NULL) == OK,
       "HS/RS: it is a valid HMAC with the PEM as the secret");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_RS256,
                          (unsigned char *) pem, pem_len, rsa) == WRONG_ALG,
       "HS/RS: WRONG_ALG when the key pins RS256");

    /* a valid signature by an RSA key of 1024 bits */

    small = EVP_RSA_gen(1024);

    if (ok(small != NULL, "RS256: an RSA key of 1024 bits is made")) {
        n = mk_signed(S("{\"alg\":\"RS256\"}"), S("{\"exp\":4102444800}"),
                      small, EVP_sha256());
        ok(parse(tok, n) == OK && jwt->sig_len == 128,
           "RS256: its token is read");
        ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_RS256, NULL, 0, small)
           == BAD_SIG, "RS256: a key of fewer than 2048 bits is refused");
        EVP_PKEY_free(small);
    }

done:

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    free(pem);
    free(t);
}


static void
test_rfc7515_a3(void)
{
    char           *t, *last, p[64];
    size_t          tlen, len, n, i, bad;
    EVP_PKEY       *ec, *ed, *p384, *other, *k1;
    unsigned char   sig[80];

    t = field("jwt-rfc7515-a3.txt", "token", &tlen);
    ec = pem_key("jwt-rfc7515-a3.pem");
    ed = pem_key("jwt-rfc8037-a4.pem");

    if (!ok(t != NULL && ec != NULL && ed != NULL,
            "A.3: jwt-rfc7515-a3.txt and its key are read"))
    {
        goto done;
    }

    ok(parse(t, tlen) == OK, "A.3: the token is read");
    TEXT_IS(jwt->alg, "ES256", "A.3: alg");
    ok(jwt->sig_len == 64, "A.3: a signature of 64 bytes (R || S)");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, ec) == OK,
       "A.3: the signature verifies with the public key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, ed) == BAD_SIG,
       "A.3: not with an Ed25519 key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, NULL) == BAD_SIG,
       "A.3: not without a key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_EDDSA, NULL, 0, ed) == WRONG_ALG,
       "A.3: WRONG_ALG when the key pins EdDSA");

    memcpy(sig, jwt->sig, 64);
    last = dot(t, tlen, 1);
    n = last + 1 - t;
    memcpy(tok, t, n);

    /* 63 and 65 bytes: each a base64url the reader takes */

    len = n + b64url(tok + n, sig, 63);
    ok(parse(tok, len) == OK && jwt->sig_len == 63
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, ec) == BAD_SIG,
       "A.3: a signature of 63 bytes is refused");

    sig[64] = 0;
    len = n + b64url(tok + n, sig, 65);
    ok(parse(tok, len) == OK && jwt->sig_len == 65
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, ec) == BAD_SIG,
       "A.3: a signature of 65 bytes is refused");

    /* CVE-2022-21449, "psychic signatures" */

    memset(sig, 0, 64);
    len = n + b64url(tok + n, sig, 64);
    ok(parse(tok, len) == OK
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, ec) == BAD_SIG,
       "A.3: r = s = 0 is refused");

    /* another P-256 key, and a P-384 one with a valid ES256-shaped token */

    other = EVP_EC_gen("P-256");
    p384 = EVP_EC_gen("P-384");

    if (ok(other != NULL && p384 != NULL, "ES256: P-256 and P-384 keys")) {
        ok(parse(t, tlen) == OK
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, other)
              == BAD_SIG, "A.3: not with another P-256 key");

        /* OpenSSL signs in DER: a DER signature is not r || s */
        n = mk_signed(S("{\"alg\":\"ES256\"}"), S("{\"exp\":4102444800}"),
                      other, EVP_sha256());
        ok(parse(tok, n) == OK && jwt->sig_len != 64
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, other)
              == BAD_SIG, "ES256: a DER signature is refused");

        n = mk_signed(S("{\"alg\":\"ES256\"}"), S("{\"exp\":4102444800}"),
                      p384, EVP_sha256());
        ok(parse(tok, n) == OK
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, p384)
              == BAD_SIG, "ES256: a P-384 key is refused");

        /* R || S of 32 bytes each, some with leading zero bytes */

        for (i = 0, bad = 0; i < 300; i++) {
            n = snprintf(p, sizeof(p), "{\"exp\":4102444800,\"i\":%zu}", i);
            n = mk_es(S("{\"alg\":\"ES256\"}"), p, n, other);

            if (parse(tok, n) != OK
                || apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, other)
                   != OK)
            {
                bad++;
            }
        }

        ok(bad == 0, "ES256: 300 tokens signed by OpenSSL verify (%zu not)",
           bad);
    }

    /* a 256-bit curve that is not P-256: its R || S is 64 bytes too */

    k1 = EVP_EC_gen("secp256k1");

    if (ok(k1 != NULL, "ES256: a secp256k1 key is made")) {
        n = mk_es(S("{\"alg\":\"ES256\"}"), S("{\"exp\":4102444800}"), k1);
        ok(parse(tok, n) == OK && jwt->sig_len == 64
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, k1)
              == BAD_SIG, "ES256: a secp256k1 key is refused");
    }

    EVP_PKEY_free(other);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(k1);

done:

    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    free(t);
}


static void
test_rfc8037_a4(void)
{
    char      *t, *dot1, *dot2;
    size_t     len, n;
    EVP_PKEY  *ed, *ed448, *ec;

    t = field("jwt-rfc8037-a4.txt", "token", &len);
    ed = pem_key("jwt-rfc8037-a4.pem");
    ec = pem_key("jwt-rfc7515-a3.pem");

    if (!ok(t != NULL && ed != NULL && ec != NULL,
            "A.4: jwt-rfc8037-a4.txt and its key are read"))
    {
        goto done;
    }

    /* its payload is a text, not a JSON object */

    ok(refused(parse(t, len)), "A.4: the JWS is not a JWT we read");

    /* the signature alone, in a token put together here */

    dot1 = dot(t, len, 0);
    dot2 = dot(t, len, 1);

    memset(jwt, 0, sizeof(apiauth_jwt_t));
    jwt->signed_part.data = token;
    jwt->signed_part.len = dot2 - t;
    jwt->alg.data = (const unsigned char *) "EdDSA";
    jwt->alg.len = 5;
    jwt->sig_len = b64url_decode(jwt->sig, dot2 + 1, t + len - dot2 - 1);

    ok(jwt->sig_len == 64 && dot1 != dot2, "A.4: a signature of 64 bytes");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_EDDSA, NULL, 0, ed) == OK,
       "A.4: the signature verifies with the public key");
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_EDDSA, NULL, 0, ec) == BAD_SIG,
       "A.4: not with an EC key");

    jwt->sig[0] ^= 1;
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_EDDSA, NULL, 0, ed) == BAD_SIG,
       "A.4: a changed signature does not verify");
    jwt->sig[0] ^= 1;

    jwt->sig_len = 63;
    ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_EDDSA, NULL, 0, ed) == BAD_SIG,
       "A.4: a signature of 63 bytes is refused");

    ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");

    if (ok(ed448 != NULL, "EdDSA: an Ed448 key is made")) {
        n = mk_signed(S("{\"alg\":\"EdDSA\"}"), S("{\"exp\":4102444800}"),
                      ed448, NULL);
        ok(parse(tok, n) == OK
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_EDDSA, NULL, 0, ed448)
              == BAD_SIG, "EdDSA: an Ed448 key is refused");
        EVP_PKEY_free(ed448);
    }

done:

    EVP_PKEY_free(ed);
    EVP_PKEY_free(ec);
    free(t);
}


static void
test_minted(void)
{
    char      *t, *secret;
    size_t     len, slen;
    EVP_PKEY  *ed, *ec;

    t = field("jwt-minted-hs256.txt", "token", &len);
    secret = field("jwt-minted-hs256.txt", "secret", &slen);

    if (ok(t != NULL && secret != NULL, "minted HS256: the file is read")) {
        ok(parse(t, len) == OK, "minted HS256: the token is read");
        ok(apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256,
                              (unsigned char *) secret, slen, NULL) == OK,
           "minted HS256: verifies with the accessSecret's text");
        TEXT_IS(jwt->kid, "AKIDEXAMPLE0001", "minted HS256: kid");
        TEXT_IS(jwt->sub, "AKIDEXAMPLE0001", "minted HS256: sub");
        TEXT_IS(jwt->iss, "https://issuer.example", "minted HS256: iss");
        TEXT_IS(jwt->jti, "6f1c2a90", "minted HS256: jti");
        ok(jwt->naud == 2, "minted HS256: two audiences");
        TEXT_IS(jwt->aud[0], "other.example", "minted HS256: aud[0]");
        TEXT_IS(jwt->aud[1], "api.example", "minted HS256: aud[1]");
        ok(jwt->iat == 1764547200 && jwt->nbf == 1764547200
           && jwt->exp == 1764550800 && jwt->has_iat && jwt->has_nbf,
           "minted HS256: iat, nbf and exp");
        ok(jwt->nclaims == 9, "minted HS256: 9 string or number claims");
        ok(claim_is(0, "sub", "AKIDEXAMPLE0001")
           && claim_is(3, "nbf", "1764547200")
           && claim_is(6, "tenant", "acme") && claim_is(7, "n", "12.5"),
           "minted HS256: sub, nbf, tenant and n kept with their values");
        ok(claim_is(8, "caf\xc3\xa9", "cr\xc3\xa8me \xf0\x9f\x98\x80"),
           "minted HS256: a \\u-escaped name and value, unescaped");
    }

    free(t);
    free(secret);

    t = field("jwt-minted-eddsa.txt", "token", &len);
    ed = pem_key("jwt-rfc8037-a4.pem");

    if (ok(t != NULL && ed != NULL, "minted EdDSA: the file is read")) {
        ok(parse(t, len) == OK
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_EDDSA, NULL, 0, ed) == OK,
           "minted EdDSA: RFC 8037's key signed a JWT");
        TEXT_IS(jwt->sub, "AKIDEXAMPLE0002", "minted EdDSA: sub");
    }

    EVP_PKEY_free(ed);
    free(t);

    t = field("jwt-minted-es256.txt", "token", &len);
    ec = pem_key("jwt-minted-es256.pem");

    if (ok(t != NULL && ec != NULL, "minted ES256: the file is read")) {
        ok(parse(t, len) == OK
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, ec) == OK,
           "minted ES256: verifies");
        TEXT_IS(jwt->kid, "AKIDEXAMPLE0003", "minted ES256: kid");
        ok(jwt->naud == 1, "minted ES256: one audience");
        TEXT_IS(jwt->aud[0], "api.example", "minted ES256: aud as a string");
    }

    EVP_PKEY_free(ec);
    free(t);
}


static void
test_alg(void)
{
    size_t          i, n;
    EVP_PKEY       *ed;
    const char     *key = "0123456789abcdef";
    static const char *algs[] = {
        "{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
        "{\"alg\":\"hs256\"}", "{\"alg\":\"HS256 \"}", "{\"alg\":\"HS384\"}",
        "{\"alg\":\"HS2\"}", "{\"alg\":\"\"}", "{\"alg\":\"HS256\\t\"}"
    };

    /* the usual "none" token has an empty signature */

    n = mk(S("{\"alg\":\"none\"}"), S("{\"exp\":4102444800}"), NULL, 0);
    ok(refused(parse(tok, n - 4)), "alg none with an empty signature");

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        n = mk_hs256(algs[i], strlen(algs[i]), S("{\"exp\":4102444800}"),
                     key, strlen(key));

        ok(parse(tok, n) == OK
           && apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256,
                                 (unsigned char *) key, strlen(key), NULL)
              == WRONG_ALG,
           "%s: WRONG_ALG when the key pins HS256", algs[i]);
    }

    ed = pem_key("jwt-rfc8037-a4.pem");

    n = mk(S("{\"alg\":\"none\"}"), S("{}"), NULL, 0);
    ok(parse(tok, n) == OK
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_EDDSA, NULL, 0, ed) == WRONG_ALG
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_RS256, NULL, 0, ed) == WRONG_ALG
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_ES256, NULL, 0, ed) == WRONG_ALG
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_NONE, NULL, 0, ed) == WRONG_ALG,
       "alg none: WRONG_ALG for every key");

    EVP_PKEY_free(ed);

    /* the same name spelt with escapes is the same string */

    n = mk_hs256(S("{\"alg\":\"HS\\u0032\\u0035\\u0036\"}"), S("{}"),
                 key, strlen(key));
    ok(parse(tok, n) == OK
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, (unsigned char *) key,
                             strlen(key), NULL) == OK,
       "alg \"HS\\u0032\\u0035\\u0036\" is HS256");
    TEXT_IS(jwt->alg, "HS256", "alg is kept unescaped");

    n = mk_hs256(S("{\"alg\":\"HS256\"}"), S("{}"), key, strlen(key));
    tok[n - 5] = (tok[n - 5] == 'A') ? 'B' : 'A';
    ok(parse(tok, n) == OK
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, (unsigned char *) key,
                             strlen(key), NULL) == BAD_SIG,
       "HS256: a changed MAC does not verify");

    n = mk(S("{\"alg\":\"HS256\"}"), S("{}"), (unsigned char *) S("0123"));
    ok(parse(tok, n) == OK && jwt->sig_len == 4
       && apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, (unsigned char *) key,
                             strlen(key), NULL) == BAD_SIG,
       "HS256: a MAC of 4 bytes is refused");
}


/* a token of exactly len bytes, valid otherwise */

static size_t
mk_long(size_t len)
{
    char    *p;
    size_t   m, n, hl, sl;

    p = malloc(len);
    if (p == NULL) {
        abort();
    }

    for (m = len * 3 / 4; m > 0; m--) {
        memcpy(p, "{\"p\":\"", 6);
        memset(p + 6, 'x', m);
        memcpy(p + 6 + m, "\"}", 2);

        hl = b64url(tok, (const unsigned char *) HS256_HEADER,
                    sizeof(HS256_HEADER) - 1);
        tok[hl++] = '.';
        n = hl + b64url(tok + hl, (unsigned char *) p, m + 8);

        if (n + 1 + 100 > len) {
            continue;
        }

        sl = len - n - 1;

        if (sl % 4 != 1 && sl <= 600) {
            tok[n++] = '.';
            memset(tok + n, 'A', sl);
            free(p);
            return n + sl;
        }
    }

    abort();
}


static void
test_shape(void)
{
    size_t  n;

    ok(refused(parse("", 0)), "an empty token is refused");
    ok(refused(parse(S("."))), "\".\" is refused");
    ok(refused(parse(S(".."))), "\"..\" is refused");
    ok(refused(parse(S("..."))), "\"...\" is refused");

    n = mk(S(HS256_HEADER), S("{}"), NULL, 0);
    ok(parse(tok, n) == OK, "a well-formed token is read");
    ok(parse(tok, n) == OK && jwt->nclaims == 0 && !jwt->has_exp,
       "an empty payload has no claims");

    memcpy(tok + n, ".AAAA", 5);
    ok(refused(parse(tok, n + 5)), "4 parts are refused");
    ok(refused(parse(tok, n + 1)), "a fourth empty part is refused");

    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30"))),
       "2 parts are refused");
    ok(refused(parse(S(".e30.AAAA"))), "an empty header is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9..AAAA"))),
       "an empty payload is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30."))),
       "an empty signature is refused");
    ok(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AAAA")) == OK,
       "HS256 header, {} payload, 3 zero bytes is read");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.A"))),
       "a part of 4k+1 characters is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30=.AAAA"))),
       "a padded payload is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AA=="))),
       "a signature padded with \"==\" is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AAAA=="))),
       "\"==\" after a whole group is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e31.AAAA"))),
       "a non-canonical payload (e31 for e30) is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AB"))),
       "a non-canonical signature of 1 byte (AB) is refused");
    ok(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AQ")) == OK && jwt->sig_len == 1
       && jwt->sig[0] == 1, "AQ is the byte 1");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AAB"))),
       "a non-canonical signature of 2 bytes (AAB) is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AA+A"))),
       "'+' in a part is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AA/A"))),
       "'/' in a part is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AA A"))),
       "a space in a part is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AAAA\n"))),
       "a line break after the token is refused");
    ok(refused(parse(S("eyJhbGciOiJIUzI1NiJ9.e30.AA\0A"))),
       "a NUL in a part is refused");

    n = mk_long(APIAUTH_JWT_MAX);
    ok(n == APIAUTH_JWT_MAX && parse(tok, n) == OK,
       "a token of APIAUTH_JWT_MAX bytes is read");

    n = mk_long(APIAUTH_JWT_MAX + 1);
    ok(n == APIAUTH_JWT_MAX + 1 && refused(parse(tok, n)),
       "a token of APIAUTH_JWT_MAX + 1 bytes is refused");

    /* a signature longer than sig[] */

    n = mk(S(HS256_HEADER), S("{}"), NULL, 0) - 4;
    memset(tok + n, 'A', 684);
    ok(refused(parse(tok, n + 684)), "a signature of 513 bytes is refused");
    ok(parse(tok, n + 683) == OK && jwt->sig_len == 512,
       "a signature of 512 bytes is read");
}


static void
test_header(void)
{
    ok(header(S("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"AKID0001\","
                "\"x5t\":[1,{\"a\":null}]}")) == OK,
       "a header with typ, kid and another member is read");
    TEXT_IS(jwt->kid, "AKID0001", "kid is kept");
    ok(refused(header(S("{}"))), "a header without alg is refused");
    ok(refused(header(S("{\"alg\":256}"))), "alg as a number is refused");
    ok(refused(header(S("{\"alg\":null}"))), "alg as null is refused");
    ok(refused(header(S("{\"alg\":[\"HS256\"]}"))),
       "alg as an array is refused");
    ok(refused(header(S("{\"alg\":\"HS256\",\"kid\":7}"))),
       "kid as a number is refused");
    ok(refused(header(S("{\"alg\":\"HS256\",\"typ\":{}}"))),
       "typ as an object is refused");
    ok(refused(header(S("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}"))),
       "crit is refused");
    ok(refused(header(S("{\"alg\":\"HS256\",\"crit\":[]}"))),
       "an empty crit is refused");
    ok(refused(header(S("{\"crit\":null,\"alg\":\"HS256\"}"))),
       "crit first, as null, is refused");
    ok(refused(header(S("{\"alg\":\"HS256\",\"alg\":\"none\"}"))),
       "alg twice is refused");
    ok(refused(header(S("{\"alg\":\"none\",\"\\u0061lg\":\"HS256\"}"))),
       "alg twice, once escaped, is refused");
    ok(refused(header(S("[\"HS256\"]"))), "an array header is refused");
    ok(refused(header(S("\"HS256\""))), "a string header is refused");
    ok(refused(header(S("{\"alg\":\"HS256\"}{}"))),
       "a second object after the header is refused");
    ok(header(S(" \r\n\t{\"alg\" : \"HS256\"}\r\n ")) == OK,
       "white space around the header and its tokens is read");
    ok(refused(header(S("\xef\xbb\xbf{\"alg\":\"HS256\"}"))),
       "a byte order mark is refused");
    ok(refused(header(S("{\"alg\":\"HS256\"}\f"))),
       "a form feed is not JSON white space");
}


static void
test_json(void)
{
    size_t  i, n;
    char    big[8192];

    /* duplicates */

    ok(refused(payload(S("{\"exp\":1,\"exp\":2}"))), "exp twice is refused");
    ok(refused(payload(S("{\"exp\":1,\"\\u0065xp\":2}"))),
       "exp twice, once as \"\\u0065xp\", is refused");
    ok(refused(payload(S("{\"e\\u0078p\":1,\"\\u0065x\\u0070\":2}"))),
       "exp twice, both escaped, is refused");
    ok(refused(payload(S("{\"a\":{\"x\":1,\"x\":1}}"))),
       "a duplicate in a nested object is refused");
    ok(refused(payload(S("{\"a\":[{\"x\":1,\"x\":2}]}"))),
       "a duplicate in an object in an array is refused");
    ok(payload(S("{\"a\":{\"x\":1},\"b\":{\"x\":1},\"x\":{}}")) == OK,
       "the same name in other objects is read");
    ok(payload(S("{\"a\":1,\"A\":1,\"a \":1,\"\":1}")) == OK,
       "names that differ by case, a space or are empty are read");
    ok(refused(payload(S("{\"\":1,\"\":1}"))),
       "an empty name twice is refused");

    /* nesting */

    ok(payload(S("{\"a\":{\"b\":{\"c\":1}}}")) == OK,
       "objects 3 deep (2 below the top) are read");
    ok(payload(S("{\"a\":[[1,\"x\"],[]]}")) == OK,
       "arrays 2 deep below the top are read");
    ok(refused(payload(S("{\"a\":{\"b\":{\"c\":{}}}}"))),
       "objects 4 deep are refused");
    ok(refused(payload(S("{\"a\":[[[]]]}"))), "arrays 3 deep are refused");
    ok(refused(payload(S("{\"a\":[{\"b\":[]}]}"))),
       "an array in an object in an array is refused");
    ok(refused(header(S("{\"alg\":\"HS256\",\"x\":{\"y\":{\"z\":[1]}}}"))),
       "a header 4 deep is refused");

    /* strings */

    ok(payload(S("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}")) == OK
       && claim_is(0, "s", "\"\\/\b\f\n\r\t"),
       "every two-character escape is unescaped");
    ok(payload(S("{\"s\":\"\\u00e9\\u20AC\\ud83d\\ude00\"}")) == OK
       && claim_is(0, "s", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
       "\\u escapes and a surrogate pair become UTF-8");
    ok(payload(S("{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"
                 "\x7f\"}")) == OK
       && claim_is(0, "s", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\x7f"),
       "UTF-8 and DEL are read as sent");
    ok(payload(S("{\"s\":\"\"}")) == OK && claim_is(0, "s", ""),
       "an empty string is read");
    ok(refused(payload(S("{\"s\":\"\\ud800\"}"))),
       "a lone high surrogate \\ud800 is refused");
    ok(refused(payload(S("{\"s\":\"\\udc00\"}"))),
       "a lone low surrogate \\udc00 is refused");
    ok(refused(payload(S("{\"s\":\"\\ud800\\u0041\"}"))),
       "a high surrogate before another escape is refused");
    ok(refused(payload(S("{\"s\":\"\\ud800\\ud800\"}"))),
       "two high surrogates are refused");
    ok(refused(payload(S("{\"s\":\"\\ud800x\"}"))),
       "a high surrogate at a string's end is refused");
    ok(refused(payload(S("{\"s\":\"\\udc00\\udc00\"}"))),
       "two low surrogates are refused");
    ok(refused(payload(S("{\"s\":\"\\udc00\\ud800\"}"))),
       "a pair in the wrong order is refused");
    ok(payload(S("{\"s\":\"\\uDBFF\\uDFFF\\ud800\\udc00\"}")) == OK
       && claim_is(0, "s", "\xf4\x8f\xbf\xbf\xf0\x90\x80\x80"),
       "the last and the first pair are U+10FFFF and U+10000");
    ok(refused(payload(S("{\"s\":\"\\u0000\"}"))),
       "\\u0000 is refused");
    ok(refused(payload(S("{\"s\":\"\\u12\"}"))), "a short \\u is refused");
    ok(refused(payload(S("{\"s\":\"\\u12g4\"}"))),
       "a \\u with a non-hex digit is refused");
    ok(refused(payload(S("{\"s\":\"\\x41\"}"))), "\\x is refused");
    ok(refused(payload(S("{\"s\":\"\\'\"}"))), "\\' is refused");
    ok(refused(payload(S("{\"s\":\"\\\"}"))),
       "a string ended by an escaped quote is refused");
    ok(refused(payload(S("{\"s\":\"a\x01\"}"))),
       "a control character 0x01 is refused");
    ok(refused(payload(S("{\"s\":\"a\nb\"}"))),
       "a raw line feed in a string is refused");
    ok(refused(payload(S("{\"s\":\"a\tb\"}"))),
       "a raw tab in a string is refused");
    ok(refused(payload(S("{\"s\":\"a\0b\"}"))),
       "a raw NUL in a string is refused");
    ok(refused(payload(S("{\"s\":\"\xff\"}"))), "the byte 0xff is refused");
    ok(refused(payload(S("{\"s\":\"\x80\"}"))),
       "a lone continuation byte is refused");
    ok(refused(payload(S("{\"s\":\"\xc0\xaf\"}"))),
       "an overlong '/' is refused");
    ok(refused(payload(S("{\"s\":\"\xe0\x80\xaf\"}"))),
       "an overlong 3-byte '/' is refused");
    ok(refused(payload(S("{\"s\":\"\xed\xa0\x80\"}"))),
       "a UTF-8 encoded surrogate is refused");
    ok(refused(payload(S("{\"s\":\"\xf4\x90\x80\x80\"}"))),
       "a code point above U+10FFFF is refused");
    ok(refused(payload(S("{\"s\":\"\xe2\x82\"}"))),
       "a truncated sequence is refused");
    ok(refused(payload(S("{\"\xc3\":1}"))), "invalid UTF-8 in a name");
    ok(refused(payload(S("{\"s\":\"abc}"))), "an unterminated string");
    ok(refused(payload(S("{\"s\":\"abc\\"))),
       "an unterminated string, ended by a backslash");

    /* numbers */

    ok(payload(S("{\"a\":0,\"b\":-0,\"c\":12.5,\"d\":1e3,\"e\":1E+3,"
                 "\"f\":-1.5e-3,\"g\":0.0}")) == OK
       && claim_is(0, "a", "0") && claim_is(1, "b", "-0")
       && claim_is(2, "c", "12.5") && claim_is(3, "d", "1e3")
       && claim_is(4, "e", "1E+3") && claim_is(5, "f", "-1.5e-3")
       && claim_is(6, "g", "0.0"),
       "numbers are read and kept as sent");

    {
        static const char  *bad[] = {
            "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "1.e5", "0x10",
            "NaN", "Infinity", "-Infinity", "1_000", "--1", "1ee5", "1.5.5",
            "tru", "nul", "True", "falsey", "nulll", "'a'", "undefined", ""
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            n = snprintf(big, sizeof(big), "{\"n\":%s}", bad[i]);
            ok(refused(payload(big, n)), "the value %s is refused",
               bad[i][0] ? bad[i] : "(none)");
        }
    }

    ok(payload(S("{\"t\":true,\"f\":false,\"z\":null,\"a\":[],\"o\":{}}"))
       == OK && jwt->nclaims == 0,
       "literals, arrays and objects are read, not kept as claims");

    /* syntax */

    ok(refused(payload(S("{\"a\":1,}"))), "a trailing comma is refused");
    ok(refused(payload(S("{\"a\":[1,]}"))),
       "a trailing comma in an array is refused");
    ok(refused(payload(S("{,}"))), "{,} is refused");
    ok(refused(payload(S("{\"a\" 1}"))), "a member without ':' is refused");
    ok(refused(payload(S("{\"a\":1 \"b\":2}"))),
       "members without ',' are refused");
    ok(refused(payload(S("{\"a\":}"))), "a member without a value");
    ok(refused(payload(S("{a:1}"))), "an unquoted name is refused");
    ok(refused(payload(S("{'a':1}"))), "a single-quoted name is refused");
    ok(refused(payload(S("{1:1}"))), "a number as a name is refused");
    ok(refused(payload(S("{\"a\":1"))), "an unclosed object is refused");
    ok(refused(payload(S("{\"a\":[1,2}"))), "an unclosed array is refused");
    ok(refused(payload(S("{\"a\":1]"))), "a ']' for a '}' is refused");
    ok(refused(payload(S("{\"a\":1}x"))),
       "trailing garbage after the object is refused");
    ok(refused(payload(S("{\"a\":1}}"))), "a second '}' is refused");
    ok(refused(payload(S("{\"a\":1}\0"))),
       "a NUL after the object is refused");
    ok(payload(S("{\"a\":1}\n  \t\r")) == OK,
       "white space after the object is read");
    ok(refused(payload(S("[]"))), "an array payload is refused");
    ok(refused(payload(S("null"))), "a null payload is refused");
    ok(refused(payload(S(""))) , "an empty payload is refused");
    ok(refused(payload(S("  "))), "a white space payload is refused");

    /* the members of an object */

    n = 0;
    big[n++] = '{';

    for (i = 0; i < 128; i++) {
        n += snprintf(big + n, sizeof(big) - n, "%s\"m%zu\":%zu",
                      i ? "," : "", i, i);
    }

    big[n++] = '}';

    ok(payload(big, n) == OK && jwt->nclaims == APIAUTH_JWT_CLAIMS_MAX
       && claim_is(0, "m0", "0") && claim_is(31, "m31", "31"),
       "128 members are read; the first 32 are kept");

    n--;
    n += snprintf(big + n, sizeof(big) - n, ",\"m128\":1}");
    ok(refused(payload(big, n)), "129 members are refused");
}


static void
test_claims_parse(void)
{
    size_t  i, n;
    char    p[512];

    ok(payload(S("{\"tenant\":\"acme\",\"n\":12.5,\"flag\":true,"
                 "\"list\":[\"x\"],\"obj\":{\"k\":\"v\"},"
                 "\"t\\u00e9\":\"\\n\"}")) == OK,
       "a payload of claims of every type is read");
    ok(jwt->nclaims == 3, "3 claims are strings or numbers");
    ok(claim_is(0, "tenant", "acme"), "tenant is \"acme\"");
    ok(claim_is(1, "n", "12.5"), "n is 12.5, as sent");
    ok(claim_is(2, "t\xc3\xa9", "\n"), "an escaped name and value");
    ok(in_buf(jwt->claims[0].name) && in_buf(jwt->claims[0].value)
       && in_buf(jwt->claims[1].value),
       "the claims point into buf");

    ok(refused(payload(S("{\"exp\":\"4102444800\"}"))),
       "exp as a string is refused");
    ok(refused(payload(S("{\"exp\":null}"))), "exp as null is refused");
    ok(refused(payload(S("{\"nbf\":true}"))), "nbf as true is refused");
    ok(refused(payload(S("{\"iat\":[1]}"))), "iat as an array is refused");
    ok(refused(payload(S("{\"sub\":1}"))), "sub as a number is refused");
    ok(refused(payload(S("{\"iss\":null}"))), "iss as null is refused");
    ok(refused(payload(S("{\"jti\":{}}"))), "jti as an object is refused");
    ok(refused(payload(S("{\"aud\":1}"))), "aud as a number is refused");
    ok(refused(payload(S("{\"aud\":null}"))), "aud as null is refused");
    ok(refused(payload(S("{\"aud\":[]}"))), "an empty aud array is refused");
    ok(refused(payload(S("{\"aud\":[\"a\",1]}"))),
       "aud with a number in it is refused");
    ok(refused(payload(S("{\"aud\":[[\"a\"]]}"))),
       "aud with an array in it is refused");
    ok(refused(payload(S("{\"aud\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\","
                         "\"7\",\"8\",\"9\"]}"))),
       "aud of 9 strings is refused");
    ok(payload(S("{\"aud\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
                 "\"8\"]}")) == OK && jwt->naud == 8
       && jwt->aud[7].len == 1 && jwt->aud[7].data[0] == '8',
       "aud of 8 strings is read");
    ok(payload(S("{\"aud\":\"api\"}")) == OK && jwt->naud == 1
       && jwt->nclaims == 1 && claim_is(0, "aud", "api"),
       "aud as a string is an audience and a claim");
    ok(payload(S("{\"sub\":\"\",\"iss\":\"\"}")) == OK
       && jwt->sub.data != NULL && jwt->sub.len == 0
       && jwt->iss.data != NULL && jwt->iss.len == 0,
       "empty sub and iss are present");

    /* NumericDates: the floor of a number that fits in int64_t */

    {
        static const struct {
            const char  *text;
            int64_t      value;
        } dates[] = {
            { "1700000000", 1700000000 },
            { "1700000000.9", 1700000000 },
            { "1.7e9", 1700000000 },
            { "1.7E+9", 1700000000 },
            { "17000000000e-1", 1700000000 },
            { "0.0000017e15", 1700000000 },
            { "-1.5", -2 },
            { "-1", -1 },
            { "-0", 0 },
            { "-0.0", 0 },
            { "0.5", 0 },
            { "-0.5", -1 },
            { "15E-1", 1 },
            { "1e-400", 0 },
            { "-1e-400", -1 },
            { "0e999999999", 0 },
            { "9223372036854775807", INT64_MAX },
            { "9223372036854775807.99", INT64_MAX },
            { "922337203685477580.7e1", INT64_MAX },
            { "-9223372036854775808", INT64_MIN },
            { "-9223372036854775807.5", INT64_MIN },
            { "00", -42 },          /* not JSON */
        };

        static const char  *big_dates[] = {
            "9223372036854775808", "-9223372036854775809",
            "-9223372036854775808.5", "18446744073709551616",
            "1e19", "1e999999999", "99999999999999999999999"
        };

        for (n = 0; n < sizeof(dates) / sizeof(dates[0]); n++) {
            snprintf(p, sizeof(p), "{\"exp\":%s}", dates[n].text);

            if (dates[n].value == -42) {
                ok(refused(payload(p, strlen(p))), "exp %s is refused",
                   dates[n].text);
                continue;
            }

            ok(payload(p, strlen(p)) == OK && jwt->has_exp
               && jwt->exp == dates[n].value,
               "exp %s is %lld", dates[n].text, (long long) dates[n].value);
        }

        for (n = 0; n < sizeof(big_dates) / sizeof(big_dates[0]); n++) {
            snprintf(p, sizeof(p), "{\"nbf\":%s}", big_dates[n]);
            ok(refused(payload(p, strlen(p))),
               "nbf %s (beyond int64_t) is refused", big_dates[n]);
        }
    }

    /* more claims than are kept */

    n = 0;
    p[n++] = '{';

    for (i = 0; i < 40; i++) {
        n += snprintf(p + n, sizeof(p) - n, "%s\"c%zu\":\"v\"",
                      i ? "," : "", i);
    }

    p[n++] = '}';

    ok(payload(p, n) == OK && jwt->nclaims == APIAUTH_JWT_CLAIMS_MAX
       && claim_is(0, "c0", "v") && claim_is(31, "c31", "v"),
       "of 40 claims, the first APIAUTH_JWT_CLAIMS_MAX are kept");
}


/* the claims of payload p at now under r; -1 if p is not read */

static int
check(const char *p, const apiauth_jwt_rules_t *r, int64_t now)
{
    int  rc;

    if (payload(p, strlen(p)) != OK) {
        return -1;
    }

    why = NULL;
    rc = apiauth_jwt_claims_check(jwt, r, now, &why);

    if (rc != OK && (why == NULL || why[0] == '\0')) {
        return -2;
    }

    return rc;
}


static void
test_claims_check(void)
{
    int64_t              now;
    apiauth_jwt_rules_t  r;

    memset(&r, 0, sizeof(r));
    now = 1764547200;

    ok(check("{}", &r, now) == OK, "no rules: no claims is OK");

    r.require_exp = 1;
    ok(check("{}", &r, now) == BAD_CLAIMS, "exp required and absent");
    ok(check("{\"exp\":1764547201}", &r, now) == OK,
       "exp required and a second ahead");

    /* exp: refused on and after exp + leeway (RFC 7519 4.1.4) */

    ok(check("{\"exp\":1764547200}", &r, now) == EXPIRED,
       "leeway 0: EXPIRED at exp");
    ok(check("{\"exp\":1764547199}", &r, now) == EXPIRED,
       "leeway 0: EXPIRED a second after exp");

    r.leeway = 30;
    ok(check("{\"exp\":1764547170}", &r, now) == EXPIRED,
       "leeway 30: EXPIRED at exactly exp + leeway");
    ok(check("{\"exp\":1764547171}", &r, now) == OK,
       "leeway 30: OK a second before exp + leeway");
    ok(check("{\"exp\":1764547200}", &r, now) == OK,
       "leeway 30: OK at exp");
    ok(check("{\"exp\":1000}", &r, now) == EXPIRED, "long expired");
    ok(check("{\"exp\":9223372036854775807}", &r, now) == OK,
       "exp at INT64_MAX, with a leeway, does not overflow");
    ok(check("{\"exp\":-9223372036854775808}", &r, now) == EXPIRED,
       "exp at INT64_MIN is expired");

    r.require_exp = 0;

    /* nbf and iat: refused beyond now + leeway, OK at it */

    ok(check("{\"nbf\":1764547231}", &r, now) == NOT_YET,
       "nbf beyond the leeway: NOT_YET_VALID");
    ok(check("{\"nbf\":1764547230}", &r, now) == OK,
       "nbf at now + leeway: OK");
    ok(check("{\"nbf\":1764547000}", &r, now) == OK, "nbf past: OK");
    ok(check("{\"iat\":1764547231}", &r, now) == NOT_YET,
       "iat beyond the leeway: NOT_YET_VALID");
    ok(check("{\"iat\":1764547230}", &r, now) == OK,
       "iat at now + leeway: OK");
    ok(check("{\"iat\":1764547215}", &r, now) == OK,
       "iat within the leeway: OK");
    ok(check("{\"nbf\":9223372036854775807}", &r, 9223372036854775807LL)
       == OK, "nbf and now at INT64_MAX do not overflow");

    r.leeway = 0;
    ok(check("{\"nbf\":1764547201}", &r, now) == NOT_YET,
       "leeway 0: nbf a second ahead");
    ok(check("{\"nbf\":1764547200}", &r, now) == OK, "leeway 0: nbf now");
    ok(check("{\"iat\":1764547201}", &r, now) == NOT_YET,
       "leeway 0: iat a second ahead");

    r.leeway = -100;
    ok(check("{\"exp\":1764547201}", &r, now) == OK
       && check("{\"nbf\":1764547201}", &r, now) == NOT_YET,
       "a negative leeway is none");
    r.leeway = 30;

    /* the lifetime: exp - iat, or exp - now */

    r.max_lifetime = 3600;
    ok(check("{\"iat\":1764547000,\"exp\":1764550600}", &r, now) == OK,
       "max lifetime: exp - iat at the max");
    ok(check("{\"iat\":1764547000,\"exp\":1764550601}", &r, now)
       == BAD_CLAIMS, "max lifetime: exp - iat a second over");
    ok(check("{\"exp\":1764550800}", &r, now) == OK,
       "max lifetime without iat: exp - now at the max");
    ok(check("{\"exp\":1764550801}", &r, now) == BAD_CLAIMS,
       "max lifetime without iat: exp - now a second over");
    ok(check("{\"iat\":1764500000,\"exp\":1764550000}", &r, now)
       == BAD_CLAIMS, "max lifetime: an old iat counts, not now");
    ok(check("{\"iat\":-9223372036854775808,\"exp\":1764550000}", &r, now)
       == BAD_CLAIMS, "max lifetime: exp - iat does not overflow");
    ok(check("{}", &r, now) == BAD_CLAIMS,
       "max lifetime: a token without exp is refused");
    ok(check("{\"exp\":1764547199}", &r, now) == OK,
       "max lifetime: an exp in the leeway is OK");

    r.max_lifetime = 0;

    /* iss and aud */

    r.issuer.data = (const unsigned char *) "https://issuer.example";
    r.issuer.len = strlen("https://issuer.example");
    ok(check("{\"iss\":\"https://issuer.example\"}", &r, now) == OK,
       "iss matches");
    ok(check("{\"iss\":\"https://issuer.example/\"}", &r, now) == BAD_CLAIMS,
       "iss with a '/' more does not match");
    ok(check("{\"iss\":\"https://issuer.exampl\"}", &r, now) == BAD_CLAIMS,
       "iss a prefix does not match");
    ok(check("{\"iss\":\"HTTPS://ISSUER.EXAMPLE\"}", &r, now) == BAD_CLAIMS,
       "iss in capitals does not match");
    ok(check("{}", &r, now) == BAD_CLAIMS, "no iss does not match");
    ok(check("{\"iss\":\"https:\\/\\/issuer.example\"}", &r, now) == OK,
       "iss with escaped slashes matches");

    r.issuer.data = NULL;
    r.issuer.len = 0;
    r.audience.data = (const unsigned char *) "api.example";
    r.audience.len = strlen("api.example");

    ok(check("{\"aud\":\"api.example\"}", &r, now) == OK,
       "aud as a string matches");
    ok(check("{\"aud\":[\"other\",\"api.example\"]}", &r, now) == OK,
       "aud in an array, second, matches");
    ok(check("{\"aud\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
             "\"api.example\"]}", &r, now) == OK,
       "aud in an array, eighth, matches");
    ok(check("{\"aud\":[\"other\",\"api.example.com\"]}", &r, now)
       == BAD_CLAIMS, "aud not in the array");
    ok(check("{\"aud\":\"api.exampl\"}", &r, now) == BAD_CLAIMS,
       "aud a prefix does not match");
    ok(check("{}", &r, now) == BAD_CLAIMS, "no aud does not match");

    r.audience.data = NULL;
    r.audience.len = 0;
    ok(check("{\"aud\":\"x\",\"iss\":\"y\"}", &r, now) == OK,
       "no issuer or audience set: any");

    /* the order: exp first */

    r.require_exp = 1;
    r.issuer.data = (const unsigned char *) "joe";
    r.issuer.len = 3;
    ok(check("{\"exp\":1,\"iss\":\"eve\"}", &r, now) == EXPIRED,
       "expired and a wrong iss: EXPIRED");
    ok(check("{\"exp\":1764550000,\"nbf\":1764550000,\"iss\":\"eve\"}", &r,
             now) == NOT_YET, "not yet valid and a wrong iss: NOT_YET_VALID");
}


int
main(int argc, char **argv)
{
    dir = (argc > 1) ? argv[1] : getenv("APIAUTH_DATA");

    jwt = malloc(sizeof(apiauth_jwt_t));
    if (jwt == NULL) {
        abort();
    }

    if (ok(dir != NULL && dir[0] != '\0',
           "the data directory, t/data, is given (argv[1])"))
    {
        test_rfc7515_a1();
        test_rfc7515_a2();
        test_rfc7515_a3();
        test_rfc8037_a4();
        test_minted();
        test_alg();
    }

    test_shape();
    test_header();
    test_json();
    test_claims_parse();
    test_claims_check();

    free(jwt);
    free(token);

    return done_testing();
}
