
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <string.h>

#include "apiauth_key.h"
#include "apiauth_scope.h"


int
apiauth_scope_is_all(const unsigned char *list, size_t len)
{
    return len == 1 && list[0] == '*';
}


/*
 * a list holds at most APIAUTH_SCOPE_NAMES_MAX names: each request reads
 * it whole, and apiauth-ctl never writes a longer one
 */

int
apiauth_scope_check(const unsigned char *list, size_t len)
{
    size_t                n;
    const unsigned char  *end, *comma;

    if (apiauth_scope_is_all(list, len)) {
        return 0;
    }

    if (len == 0) {
        return -1;
    }

    end = list + len;

    for (n = 1; ; n++) {
        if (n > APIAUTH_SCOPE_NAMES_MAX) {
            return -1;
        }

        comma = memchr(list, ',', end - list);
        if (comma == NULL) {
            comma = end;
        }

        if (apiauth_plain_name_check(list, comma - list) != 0) {
            return -1;
        }

        if (comma == end) {
            return 0;
        }

        list = comma + 1;
    }
}


int
apiauth_scope_match(const unsigned char *list, size_t len,
    const unsigned char *name, size_t name_len)
{
    const unsigned char  *end, *comma;

    if (apiauth_scope_is_all(list, len)) {
        return 1;
    }

    if (name_len == 0) {
        return 0;
    }

    end = list + len;

    while (list < end) {

        /* lists are short: no library call per entry */

        for (comma = list; comma < end && *comma != ','; comma++) {
            /* void */
        }

        if ((size_t) (comma - list) == name_len
            && apiauth_bytes_eq(list, name, name_len))
        {
            return 1;
        }

        if (comma == end) {
            break;
        }

        list = comma + 1;
    }

    return 0;
}
