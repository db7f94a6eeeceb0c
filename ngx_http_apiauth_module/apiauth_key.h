
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Formats of the key store's fields, shared by the module and apiauth-ctl
 * (no nginx headers).  Each check returns 0 when the value is valid, else -1.
 */


#ifndef _APIAUTH_KEY_H_INCLUDED_
#define _APIAUTH_KEY_H_INCLUDED_


#include <stddef.h>


#define APIAUTH_ACCESS_KEY_MIN       8
#define APIAUTH_ACCESS_KEY_MAX       32
#define APIAUTH_ACCESS_KEY_GEN_LEN   20
#define APIAUTH_PLAIN_NAME_MAX       64
#define APIAUTH_KEY_NAME_MAX         128
#define APIAUTH_DESCRIPTION_MAX      1024

#define APIAUTH_ACCESS_KEY_RULE                                              \
    "8 to 32 letters or digits (A-Z, a-z, 0-9)"
#define APIAUTH_PLAIN_NAME_RULE                                              \
    "1 to 64 of A-Z a-z 0-9 _ . -"
#define APIAUTH_KEY_NAME_RULE                                                \
    "1 to 128 bytes, no control characters"
#define APIAUTH_DESCRIPTION_RULE                                             \
    "at most 1024 bytes, no control characters"


/* accessKey: 8-32 ASCII letters or digits */
int apiauth_access_key_check(const unsigned char *s, size_t len);

/* app and interface names: 1-64 of [A-Za-z0-9_.-] */
int apiauth_plain_name_check(const unsigned char *s, size_t len);

/* a key's display name: 1-128 bytes without control characters */
int apiauth_key_name_check(const unsigned char *s, size_t len);

/* a key's description: 0-1024 bytes without control characters */
int apiauth_description_check(const unsigned char *s, size_t len);

/* a stored salt: exactly 32 lowercase hex characters */
int apiauth_salt_check(const unsigned char *s, size_t len);


/*
 * names, accessKeys and header names are a few bytes long: on the request
 * path a loop compares them for less than a call into the C library
 */

static inline int
apiauth_bytes_eq(const unsigned char *a, const unsigned char *b, size_t n)
{
    while (n--) {
        if (*a++ != *b++) {
            return 0;
        }
    }

    return 1;
}


#endif /* _APIAUTH_KEY_H_INCLUDED_ */
