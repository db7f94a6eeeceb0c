
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Secret derivation, shared by the module and apiauth-ctl (no nginx headers).
 *
 *   accessSecret  = hex(HMAC-SHA256(master, "apiauth-secret-v1" 0x00
 *                                           accessKey 0x00 salt_hex))
 *   master key id = first 16 hex of hex(HMAC-SHA256(master,
 *                                                   "apiauth-key-id-v1"))
 */


#ifndef _APIAUTH_SECRET_H_INCLUDED_
#define _APIAUTH_SECRET_H_INCLUDED_


#include <stddef.h>


#define APIAUTH_MASTER_KEY_LEN   32         /* bytes */
#define APIAUTH_MASTER_HEX_LEN   64
#define APIAUTH_SECRET_LEN       64         /* hex characters */
#define APIAUTH_SALT_LEN         16         /* bytes */
#define APIAUTH_SALT_HEX_LEN     32
#define APIAUTH_KEY_ID_LEN       16         /* hex characters */


/*
 * text: the master key file's content: 64 hex digits, optionally surrounded
 * by white space (a trailing newline); returns 0 or -1
 */
int apiauth_master_key_parse(const unsigned char *text, size_t len,
    unsigned char master[APIAUTH_MASTER_KEY_LEN]);

/* out receives APIAUTH_SECRET_LEN lowercase hex characters, no NUL */
int apiauth_secret_derive(const unsigned char master[APIAUTH_MASTER_KEY_LEN],
    const unsigned char *access_key, size_t access_key_len,
    const unsigned char *salt_hex, size_t salt_hex_len,
    unsigned char out[APIAUTH_SECRET_LEN]);

/* out receives APIAUTH_KEY_ID_LEN lowercase hex characters, no NUL */
int apiauth_master_key_id(const unsigned char master[APIAUTH_MASTER_KEY_LEN],
    unsigned char out[APIAUTH_KEY_ID_LEN]);

/* lowercase hex of len bytes into out (2 * len characters, no NUL) */
void apiauth_hex(unsigned char *out, const unsigned char *in, size_t len);

/* decodes 2 * len hex digits (either case); returns 0 or -1 */
int apiauth_unhex(unsigned char *out, const unsigned char *in, size_t len);

/* the same with lower-case digits only; -1 also for upper-case ones */
int apiauth_unhex_lower(unsigned char *out, const unsigned char *in,
    size_t len);


#endif /* _APIAUTH_SECRET_H_INCLUDED_ */
