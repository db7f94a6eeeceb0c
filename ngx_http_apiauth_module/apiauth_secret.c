
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <string.h>

#include "apiauth_crypto.h"
#include "apiauth_secret.h"


#define APIAUTH_SECRET_LABEL  "apiauth-secret-v1"
#define APIAUTH_KEY_ID_LABEL  "apiauth-key-id-v1"

/* the longest message: label, NUL, 32-byte accessKey, NUL, salt */
#define APIAUTH_SECRET_MSG_MAX                                               \
    (sizeof(APIAUTH_SECRET_LABEL) + 32 + 1 + APIAUTH_SALT_HEX_LEN)


/* "000102...ff": two hex digits per byte value */
static const unsigned char  apiauth_hexpairs[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* a hex digit's value plus one; 0: not a hex digit */
static const unsigned char  apiauth_hexval[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
    ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16
};


void
apiauth_hex(unsigned char *out, const unsigned char *in, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        memcpy(out + 2 * i, apiauth_hexpairs + 2 * in[i], 2);
    }
}


int
apiauth_unhex(unsigned char *out, const unsigned char *in, size_t len)
{
    unsigned  hi, lo;

    while (len--) {
        hi = apiauth_hexval[*in++];
        lo = apiauth_hexval[*in++];

        if (hi == 0 || lo == 0) {
            return -1;
        }

        *out++ = (unsigned char) ((hi - 1) << 4 | (lo - 1));
    }

    return 0;
}


/* where the format says lower case: the one decoder, upper case refused */

int
apiauth_unhex_lower(unsigned char *out, const unsigned char *in, size_t len)
{
    size_t  i;

    for (i = 0; i < 2 * len; i++) {
        if (in[i] >= 'A' && in[i] <= 'F') {
            return -1;
        }
    }

    return apiauth_unhex(out, in, len);
}


int
apiauth_master_key_parse(const unsigned char *text, size_t len,
    unsigned char master[APIAUTH_MASTER_KEY_LEN])
{
    /* white space around the digits is what editors and echo leave */

    while (len && (*text == ' ' || *text == '\t' || *text == '\n'
                   || *text == '\r'))
    {
        text++;
        len--;
    }

    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'
                   || text[len - 1] == '\n' || text[len - 1] == '\r'))
    {
        len--;
    }

    if (len != APIAUTH_MASTER_HEX_LEN) {
        return -1;
    }

    return apiauth_unhex(master, text, APIAUTH_MASTER_KEY_LEN);
}


int
apiauth_secret_derive(const unsigned char master[APIAUTH_MASTER_KEY_LEN],
    const unsigned char *access_key, size_t access_key_len,
    const unsigned char *salt_hex, size_t salt_hex_len,
    unsigned char out[APIAUTH_SECRET_LEN])
{
    size_t         n;
    unsigned char  msg[APIAUTH_SECRET_MSG_MAX];
    unsigned char  md[APIAUTH_SHA256_LEN];

    if (access_key_len > 32 || salt_hex_len != APIAUTH_SALT_HEX_LEN) {
        return -1;
    }

    n = sizeof(APIAUTH_SECRET_LABEL);   /* the label and its NUL */
    memcpy(msg, APIAUTH_SECRET_LABEL, n);
    memcpy(msg + n, access_key, access_key_len);
    n += access_key_len;
    msg[n++] = '\0';
    memcpy(msg + n, salt_hex, salt_hex_len);
    n += salt_hex_len;

    if (apiauth_hmac_sha256(master, APIAUTH_MASTER_KEY_LEN, msg, n, md)
        != 0)
    {
        return -1;
    }

    apiauth_hex(out, md, 32);

    return 0;
}


int
apiauth_master_key_id(const unsigned char master[APIAUTH_MASTER_KEY_LEN],
    unsigned char out[APIAUTH_KEY_ID_LEN])
{
    unsigned char  md[APIAUTH_SHA256_LEN];

    if (apiauth_hmac_sha256(master, APIAUTH_MASTER_KEY_LEN,
                            (const unsigned char *) APIAUTH_KEY_ID_LABEL,
                            sizeof(APIAUTH_KEY_ID_LABEL) - 1, md)
        != 0)
    {
        return -1;
    }

    apiauth_hex(out, md, APIAUTH_KEY_ID_LEN / 2);

    return 0;
}
