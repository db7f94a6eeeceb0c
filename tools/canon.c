
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl's canonical forms of what a command takes: an accessKey,
 * scope lists, whitelist entries, a time; anything invalid refuses the
 * whole command (exit 2) before it changes anything.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "apiauth_ip.h"
#include "apiauth_key.h"
#include "apiauth_scope.h"


const char *
ctl_access_key_arg(const char *s)
{
    if (apiauth_access_key_check((const unsigned char *) s, strlen(s)) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid accessKey \"%s\": use "
                 APIAUTH_ACCESS_KEY_RULE, s);
    }

    return s;
}


void
ctl_strv_add(ctl_strv_t *v, const char *s)
{
    char  **items;

    items = realloc(v->items, (v->n + 1) * sizeof(char *));
    if (items == NULL) {
        ctl_fail(CTL_EXIT_RUNTIME, "out of memory");
    }

    v->items = items;
    v->items[v->n++] = (char *) s;
}


void
ctl_strv_free(ctl_strv_t *v, int items)
{
    int  i;

    if (items) {
        for (i = 0; i < v->n; i++) {
            free(v->items[i]);
        }
    }

    free(v->items);
    memset(v, 0, sizeof(ctl_strv_t));
}


/*
 * "all" alone is every app or interface ("*" in the store); otherwise
 * names, each possibly a comma-separated list, kept in order, without
 * repeats
 */

char *
ctl_scope_canon(const char *what, ctl_strv_t *v)
{
    int          i, names;
    char        *out, *p, *item, *save, *copy;
    size_t       len, n;

    if (v->n == 0) {
        return ctl_strdup(APIAUTH_SCOPE_ALL);
    }

    len = 0;

    for (i = 0; i < v->n; i++) {
        len += strlen(v->items[i]) + 1;
    }

    out = ctl_alloc(len + 1);
    p = out;
    names = 0;

    for (i = 0; i < v->n; i++) {
        copy = ctl_strdup(v->items[i]);

        if (*copy == '\0' || copy[strlen(copy) - 1] == ','
            || *copy == ',' || strstr(copy, ",,"))
        {
            ctl_fail(CTL_EXIT_USAGE, "invalid %s list \"%s\": use all or "
                     "names separated by commas", what, v->items[i]);
        }

        for (item = strtok_r(copy, ",", &save); item;
             item = strtok_r(NULL, ",", &save))
        {
            n = strlen(item);

            if (strcmp(item, "all") == 0) {
                if (v->n > 1 || strcmp(v->items[i], "all") != 0) {
                    ctl_fail(CTL_EXIT_USAGE, "\"all\" %s cannot be mixed "
                             "with names", what);
                }

                free(copy);
                free(out);
                return ctl_strdup(APIAUTH_SCOPE_ALL);
            }

            if (apiauth_plain_name_check((unsigned char *) item, n) != 0) {
                ctl_fail(CTL_EXIT_USAGE, "invalid %s name \"%s\": use "
                         APIAUTH_PLAIN_NAME_RULE, what, item);
            }

            *p = '\0';

            if (apiauth_scope_match((unsigned char *) out, p - out,
                                    (unsigned char *) item, n))
            {
                continue;
            }

            /* the module reads a longer list as a malformed record */

            if (++names > APIAUTH_SCOPE_NAMES_MAX) {
                ctl_fail(CTL_EXIT_USAGE, "an %s list holds at most %d "
                         "names, the module's bound; use all or fewer names",
                         what, APIAUTH_SCOPE_NAMES_MAX);
            }

            if (p != out) {
                *p++ = ',';
            }

            memcpy(p, item, n);
            p += n;
        }

        free(copy);
    }

    *p = '\0';

    return out;
}


/*
 * every entry is parsed and written back in its canonical form, so that
 * "10.1.2.3/8" and "10.0.0.0/8" are one entry; any invalid entry refuses
 * the whole change
 */

char *
ctl_ips_canon(ctl_strv_t *v, ctl_strv_t *out)
{
    int                  i, j;
    char                 buf[APIAUTH_IP_TEXT_MAX], *list, *p;
    apiauth_ip_entry_t   e;

    list = ctl_alloc(v->n * APIAUTH_IP_TEXT_MAX + 1);
    p = list;

    for (i = 0; i < v->n; i++) {
        if (apiauth_ip_parse((unsigned char *) v->items[i],
                             strlen(v->items[i]), &e)
            != 0)
        {
            ctl_fail(CTL_EXIT_USAGE, "invalid whitelist entry \"%s\": use "
                     APIAUTH_IP_RULE, v->items[i]);
        }

        apiauth_ip_format(&e, buf);

        for (j = 0; j < out->n; j++) {
            if (strcmp(out->items[j], buf) == 0) {
                break;
            }
        }

        if (j < out->n) {
            continue;
        }

        ctl_strv_add(out, ctl_strdup(buf));

        if (p != list) {
            *p++ = ',';
        }

        p = stpcpy(p, buf);
    }

    return list;
}


/* an expiry is after the epoch: 0 and before could read as "never" */

long long
ctl_expiry_arg(const char *arg, const char *use)
{
    long long  t;

    if (ctl_parse_time(arg, time(NULL), &t) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid time \"%s\": use %s", arg, use);
    }

    if (t <= 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid expiry \"%s\": use a time after "
                 "1970-01-01T00:00:00Z", arg);
    }

    return t;
}
