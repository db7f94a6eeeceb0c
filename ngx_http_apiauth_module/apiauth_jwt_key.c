
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The public key of a key's JWT method: one SubjectPublicKeyInfo PEM block
 * and nothing else but white space around it, of the type and size the
 * key's algorithm pins (docs/jwt.md), with OpenSSL 3's current API only.
 */


#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "apiauth_jwt.h"
#include "apiauth_jwt_key.h"


#define APIAUTH_JWT_PEM_BEGIN  "-----BEGIN PUBLIC KEY-----"
#define APIAUTH_JWT_PEM_END    "-----END PUBLIC KEY-----"

#define APIAUTH_JWT_RSA_MIN    2048
/* a signature fits apiauth_jwt_t's 512 bytes, and verifies in tens of us */
#define APIAUTH_JWT_RSA_MAX    4096


/* what a key of the wrong type is called, by the type OpenSSL reads */
typedef struct {
    int          type;
    const char  *rs256;
    const char  *es256;
    const char  *eddsa;
} apiauth_jwt_key_type_t;


static const char *apiauth_jwt_key_text(const unsigned char *pem,
    size_t len);
static int apiauth_jwt_key_space(unsigned char c);
static int apiauth_jwt_key_nopass(char *buf, int size, int rwflag,
    void *data);
static const char *apiauth_jwt_key_check(EVP_PKEY *pkey, int alg);
static const char *apiauth_jwt_key_rsa(EVP_PKEY *pkey);
static const char *apiauth_jwt_key_ec(EVP_PKEY *pkey);


#define apiauth_jwt_key_type(type, name)                                    \
    { type,                                                                 \
      name ": RS256 needs an RSA key of 2048 bits or more",                 \
      name ": ES256 needs an EC key on P-256",                              \
      name ": EdDSA needs an Ed25519 key" }

static const apiauth_jwt_key_type_t  apiauth_jwt_key_types[] = {
    apiauth_jwt_key_type(EVP_PKEY_RSA, "an RSA key"),
    apiauth_jwt_key_type(EVP_PKEY_RSA_PSS, "an RSA-PSS key"),
    apiauth_jwt_key_type(EVP_PKEY_EC, "an EC key"),
    apiauth_jwt_key_type(EVP_PKEY_ED25519, "an Ed25519 key"),
    apiauth_jwt_key_type(EVP_PKEY_ED448, "an Ed448 key"),
    apiauth_jwt_key_type(EVP_PKEY_X25519, "an X25519 key"),
    apiauth_jwt_key_type(EVP_PKEY_X448, "an X448 key"),
    apiauth_jwt_key_type(EVP_PKEY_DSA, "a DSA key"),
    apiauth_jwt_key_type(EVP_PKEY_DH, "a DH key"),
    apiauth_jwt_key_type(EVP_PKEY_DHX, "a DH key"),
    apiauth_jwt_key_type(0, "a key of another type")
};


/* curves named in refusals; any other is "another curve" */
static const char  *apiauth_jwt_key_curves[][2] = {
    { SN_secp384r1, "an EC key on secp384r1: ES256 needs P-256" },
    { SN_secp521r1, "an EC key on secp521r1: ES256 needs P-256" },
    { SN_secp256k1, "an EC key on secp256k1: ES256 needs P-256" },
    { SN_secp224r1, "an EC key on secp224r1: ES256 needs P-256" },
    { SN_X9_62_prime192v1, "an EC key on prime192v1: ES256 needs P-256" },
    { SN_brainpoolP256r1,
      "an EC key on brainpoolP256r1: ES256 needs P-256" },
    { NULL, "an EC key on another curve: ES256 needs P-256" }
};


/* RSA sizes named in refusals; any other is "fewer than 2048" */
static const struct {
    int          bits;
    const char  *why;
} apiauth_jwt_key_small[] = {
    { 512, "an RSA key of 512 bits: RS256 needs 2048 or more" },
    { 768, "an RSA key of 768 bits: RS256 needs 2048 or more" },
    { 1024, "an RSA key of 1024 bits: RS256 needs 2048 or more" },
    { 1536, "an RSA key of 1536 bits: RS256 needs 2048 or more" },
    { 2047, "an RSA key of 2047 bits: RS256 needs 2048 or more" },
    { 0, "an RSA key of fewer than 2048 bits: RS256 needs 2048 or more" }
};


EVP_PKEY *
apiauth_jwt_key_load(const unsigned char *pem, size_t len, int alg,
    const char **why)
{
    BIO         *bio;
    EVP_PKEY    *pkey;
    const char  *bad;

    if (alg == APIAUTH_JWT_HS256) {
        *why = "HS256 takes no public key";
        return NULL;
    }

    if (alg != APIAUTH_JWT_RS256 && alg != APIAUTH_JWT_ES256
        && alg != APIAUTH_JWT_EDDSA)
    {
        *why = "not an algorithm of a public key";
        return NULL;
    }

    if (len > APIAUTH_JWT_PEM_MAX) {
        *why = "longer than 4096 bytes: not a public key of a JWT method";
        return NULL;
    }

    bad = apiauth_jwt_key_text(pem, len);

    if (bad) {
        *why = bad;
        return NULL;
    }

    /* OpenSSL's errors of a key it cannot read are ours to report */

    ERR_set_mark();

    bio = BIO_new_mem_buf(pem, (int) len);

    if (bio == NULL) {
        ERR_pop_to_mark();
        *why = "out of memory";
        return NULL;
    }

    pkey = PEM_read_bio_PUBKEY(bio, NULL, apiauth_jwt_key_nopass, NULL);

    BIO_free(bio);

    if (pkey == NULL) {
        ERR_pop_to_mark();
        *why = "a PEM public key that OpenSSL cannot read";
        return NULL;
    }

    bad = apiauth_jwt_key_check(pkey, alg);

    ERR_pop_to_mark();

    if (bad) {
        EVP_PKEY_free(pkey);
        *why = bad;
        return NULL;
    }

    *why = NULL;

    return pkey;
}


/*
 * one "PUBLIC KEY" block of base64 lines, white space around it: nothing
 * that PEM_read_bio_PUBKEY() would skip (text before the block, a second
 * block) or read (encryption headers) is there
 */

static const char *
apiauth_jwt_key_text(const unsigned char *pem, size_t len)
{
    size_t                b, e, i, bl, el;
    unsigned char         c;
    const unsigned char  *body, *p;

    b = 0;
    e = len;

    while (b < e && apiauth_jwt_key_space(pem[b])) {
        b++;
    }

    while (e > b && apiauth_jwt_key_space(pem[e - 1])) {
        e--;
    }

    bl = sizeof(APIAUTH_JWT_PEM_BEGIN) - 1;
    el = sizeof(APIAUTH_JWT_PEM_END) - 1;

    if (e - b < bl + el || memcmp(pem + b, APIAUTH_JWT_PEM_BEGIN, bl) != 0) {

        for (p = pem + b; p + 10 < pem + e; p++) {
            if (memcmp(p, "-----BEGIN", 10) != 0) {
                continue;
            }

            if (p != pem + b) {
                return "text before the PEM block: give the public key's "
                       "PEM alone";
            }

            for (i = 10; p + i + 16 <= pem + e && p[i] != '\n'; i++) {
                if (memcmp(p + i, "PRIVATE KEY-----", 16) == 0) {
                    return "a private key: give the public key "
                           "(openssl pkey -pubout)";
                }
            }

            if (e - b > 21 && memcmp(p, "-----BEGIN CERTIFICATE", 21) == 0) {
                return "a certificate: give its public key "
                       "(openssl x509 -pubkey -noout)";
            }

            if (e - b > 25
                && memcmp(p, "-----BEGIN RSA PUBLIC KEY", 25) == 0)
            {
                return "a PKCS#1 RSA public key: give it as a "
                       "SubjectPublicKeyInfo (\"BEGIN PUBLIC KEY\")";
            }

            break;
        }

        return "not a PEM public key (\"-----BEGIN PUBLIC KEY-----\")";
    }

    if (memcmp(pem + e - el, APIAUTH_JWT_PEM_END, el) != 0) {
        return "text after the PEM block, or no end line: give the public "
               "key's PEM alone";
    }

    body = pem + b + bl;

    if (memchr(body, ':', pem + e - el - body) != NULL) {
        return "a PEM block with headers: give a plain public key";
    }

    for (p = body; p < pem + e - el; p++) {
        c = *p;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='
            || c == '\n' || c == '\r' || c == ' ' || c == '\t')
        {
            continue;
        }

        if (c == '-') {
            return "more than one PEM block: give one public key";
        }

        return "not base64 inside the PEM block";
    }

    return NULL;
}


static int
apiauth_jwt_key_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}


/* a public key has no pass phrase: OpenSSL never prompts for one */

static int
apiauth_jwt_key_nopass(char *buf, int size, int rwflag, void *data)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) data;

    return -1;
}


static const char *
apiauth_jwt_key_check(EVP_PKEY *pkey, int alg)
{
    int                            type, want;
    const apiauth_jwt_key_type_t  *t;

    type = EVP_PKEY_get_id(pkey);

    want = (alg == APIAUTH_JWT_RS256) ? EVP_PKEY_RSA
           : (alg == APIAUTH_JWT_ES256) ? EVP_PKEY_EC : EVP_PKEY_ED25519;

    if (type == want) {
        if (alg == APIAUTH_JWT_RS256) {
            return apiauth_jwt_key_rsa(pkey);
        }

        if (alg == APIAUTH_JWT_ES256) {
            return apiauth_jwt_key_ec(pkey);
        }

        return NULL;
    }

    for (t = apiauth_jwt_key_types; t->type != 0; t++) {
        if (t->type == type) {
            break;
        }
    }

    if (alg == APIAUTH_JWT_EDDSA && type == EVP_PKEY_ED448) {
        return "an Ed448 key: EdDSA takes Ed25519 keys only";
    }

    return (alg == APIAUTH_JWT_RS256) ? t->rs256
           : (alg == APIAUTH_JWT_ES256) ? t->es256 : t->eddsa;
}


/*
 * 2048 to 4096 bits, and an odd public exponent from 3 to 2^32 - 1: a
 * larger one would make each verification costly for anyone who sends
 * tokens
 */

static const char *
apiauth_jwt_key_rsa(EVP_PKEY *pkey)
{
    int      bits, i, ok;
    BIGNUM  *e;

    bits = EVP_PKEY_get_bits(pkey);

    if (bits < APIAUTH_JWT_RSA_MIN) {
        for (i = 0; apiauth_jwt_key_small[i].bits != 0; i++) {
            if (apiauth_jwt_key_small[i].bits == bits) {
                break;
            }
        }

        return apiauth_jwt_key_small[i].why;
    }

    if (bits > APIAUTH_JWT_RSA_MAX) {
        return "an RSA key of more than 4096 bits: RS256 takes 2048 to 4096";
    }

    e = NULL;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        return "an RSA key whose public exponent OpenSSL cannot read";
    }

    ok = BN_is_odd(e) && !BN_is_one(e) && BN_num_bits(e) <= 32;

    BN_free(e);

    if (!ok) {
        return "an RSA key whose public exponent is even, 1, or over 32 "
               "bits: not a key for RS256";
    }

    return NULL;
}


/* on the named curve P-256 (explicit parameters are refused) */

static const char *
apiauth_jwt_key_ec(EVP_PKEY *pkey)
{
    int     i;
    char    name[80];
    size_t  len;

    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                       name, sizeof(name), &len)
        != 1)
    {
        return "an EC key without a named curve (explicit parameters): "
               "ES256 needs P-256";
    }

    if (strcmp(name, SN_X9_62_prime256v1) == 0) {

        /*
         * OpenSSL names explicit parameters after the curve they match;
         * RFC 5480 allows the name only, and so do we
         */

        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
                                           name, sizeof(name), &len)
            != 1
            || strcmp(name, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
        {
            return "an EC key with explicit curve parameters: ES256 needs "
                   "the named curve P-256 (openssl ec -pubin -param_enc "
                   "named_curve)";
        }

        return NULL;
    }

    for (i = 0; apiauth_jwt_key_curves[i][0] != NULL; i++) {
        if (strcmp(name, apiauth_jwt_key_curves[i][0]) == 0) {
            break;
        }
    }

    return apiauth_jwt_key_curves[i][1];
}


int
apiauth_jwt_key_fingerprint(EVP_PKEY *pkey,
    char out[APIAUTH_JWT_FINGERPRINT_LEN + 1])
{
    int             n, rc;
    unsigned int    i, md_len;
    unsigned char  *der, md[EVP_MAX_MD_SIZE];

    static const char  hex[] = "0123456789abcdef";

    der = NULL;

    ERR_set_mark();

    n = i2d_PUBKEY(pkey, &der);

    rc = n > 0
         && EVP_Digest(der, (size_t) n, md, &md_len, EVP_sha256(), NULL) == 1
         && md_len * 2 == APIAUTH_JWT_FINGERPRINT_LEN;

    OPENSSL_free(der);
    ERR_pop_to_mark();

    if (!rc) {
        out[0] = '\0';
        return -1;
    }

    for (i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }

    out[2 * md_len] = '\0';

    return 0;
}
