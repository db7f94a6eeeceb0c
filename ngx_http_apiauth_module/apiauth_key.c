
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include "apiauth_key.h"
#include "apiauth_secret.h"


static int apiauth_text_check(const unsigned char *s, size_t len);


/* letters and digits: the accessKey's alphabet, checked on every request */
static const unsigned char  apiauth_alnum[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1
};


int
apiauth_access_key_check(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len < APIAUTH_ACCESS_KEY_MIN || len > APIAUTH_ACCESS_KEY_MAX) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!apiauth_alnum[s[i]]) {
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


/*
 * shortest forms only: an overlong "/" or a surrogate is how a filter that
 * decodes differently from the next one is slipped past
 */

size_t
apiauth_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t    i, n;
    uint32_t  c, min;

    c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
        c &= 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
        c &= 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
        c &= 0x07;

    } else {
        /* a continuation byte, 0xc0 and 0xc1 (overlong), or 0xf5-0xff */
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (s[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    *cp = c;

    return n;
}


/*
 * controls move the cursor or recolour a terminal, and break tables, logs
 * and the stream's fields; bidirectional formatting characters reorder
 * what follows them, so that a table shows another name than is stored
 */

int
apiauth_text_forbidden(uint32_t cp)
{
    return cp < 0x20
           || (cp >= 0x7f && cp <= 0x9f)
           || cp == 0x061c
           || cp == 0x200e || cp == 0x200f
           || (cp >= 0x202a && cp <= 0x202e)
           || (cp >= 0x2066 && cp <= 0x2069);
}


static int
apiauth_text_check(const unsigned char *s, size_t len)
{
    size_t    n;
    uint32_t  cp;

    while (len) {
        n = apiauth_utf8_decode(s, len, &cp);

        if (n == 0 || apiauth_text_forbidden(cp)) {
            return -1;
        }

        s += n;
        len -= n;
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
