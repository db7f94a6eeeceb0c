
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Formats of the key store's fields, shared by the module and apiauth-ctl
 * (no nginx headers).  Each check returns 0 when the value is valid, else -1.
 */


#ifndef _APIAUTH_KEY_H_INCLUDED_
#define _APIAUTH_KEY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>


#define APIAUTH_ACCESS_KEY_MIN       8
#define APIAUTH_ACCESS_KEY_MAX       32
#define APIAUTH_ACCESS_KEY_GEN_LEN   20
#define APIAUTH_PLAIN_NAME_MAX       64
#define APIAUTH_KEY_NAME_MAX         128
#define APIAUTH_DESCRIPTION_MAX      1024

/*
 * the bounds of a record that the module enforces: apiauth-ctl refuses to
 * write past them, and refuses a "config set" that would allow it
 */
#define APIAUTH_IPS_MAX              1024     /* whitelist entries */
#define APIAUTH_SCOPE_NAMES_MAX      256      /* names in apps, interfaces */

#define APIAUTH_ACCESS_KEY_RULE                                              \
    "8 to 32 letters or digits (A-Z, a-z, 0-9)"
#define APIAUTH_PLAIN_NAME_RULE                                              \
    "1 to 64 of A-Z a-z 0-9 _ . -"
#define APIAUTH_KEY_NAME_RULE                                                \
    "1 to 128 bytes of UTF-8 without control or bidirectional formatting "  \
    "characters"
#define APIAUTH_DESCRIPTION_RULE                                             \
    "at most 1024 bytes of UTF-8 without control or bidirectional "         \
    "formatting characters"


/* accessKey: 8-32 ASCII letters or digits */
int apiauth_access_key_check(const unsigned char *s, size_t len);

/* app and interface names: 1-64 of [A-Za-z0-9_.-] */
int apiauth_plain_name_check(const unsigned char *s, size_t len);

/*
 * a key's display name: 1-128 bytes of valid UTF-8 (shortest forms, no
 * surrogates) without a C0 or C1 control, DEL, or a bidirectional
 * formatting character (U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069), which could make a terminal or a table lie
 */
int apiauth_key_name_check(const unsigned char *s, size_t len);

/* a key's description: 0-1024 bytes, the same characters as a name */
int apiauth_description_check(const unsigned char *s, size_t len);

/*
 * the character at s, len > 0 bytes on: its length with *cp set, or 0 when
 * the bytes at s are not the shortest form of a scalar value (a lone
 * continuation byte, a truncated or overlong sequence, a surrogate, past
 * U+10FFFF)
 */
size_t apiauth_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* 1 for a code point a name or a description must not hold, else 0 */
int apiauth_text_forbidden(uint32_t cp);

/* a stored salt: exactly 32 lowercase hex characters */
int apiauth_salt_check(const unsigned char *s, size_t len);


/* 1 when n bytes are equal */

static inline int
apiauth_bytes_eq(const unsigned char *a, const unsigned char *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}


#endif /* _APIAUTH_KEY_H_INCLUDED_ */
