
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include "apiauth_key.h"
#include "apiauth_secret.h"


static int apiauth_text_check(const unsigned char *s, size_t len);


int
apiauth_access_key_check(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len < APIAUTH_ACCESS_KEY_MIN || len > APIAUTH_ACCESS_KEY_MAX) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9')
              || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= 'a' && s[i] <= 'z')))
        {
            return -1;
        }
    }

    return 0;
}


int
apiauth_plain_name_check(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > APIAUTH_PLAIN_NAME_MAX) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9')
              || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= 'a' && s[i] <= 'z')
              || s[i] == '_' || s[i] == '.' || s[i] == '-'))
        {
            return -1;
        }
    }

    return 0;
}


/* control characters would break tables, logs and the stream's fields */

static int
apiauth_text_check(const unsigned char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            return -1;
        }
    }

    return 0;
}


int
apiauth_key_name_check(const unsigned char *s, size_t len)
{
    if (len == 0 || len > APIAUTH_KEY_NAME_MAX) {
        return -1;
    }

    return apiauth_text_check(s, len);
}


int
apiauth_description_check(const unsigned char *s, size_t len)
{
    if (len > APIAUTH_DESCRIPTION_MAX) {
        return -1;
    }

    return apiauth_text_check(s, len);
}


int
apiauth_salt_check(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len != APIAUTH_SALT_HEX_LEN) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return -1;
        }
    }

    return 0;
}
