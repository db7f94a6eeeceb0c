
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "apiauth_ip.h"


static int apiauth_ip_parse_v4(const char *s, apiauth_ip_entry_t *e);
static int apiauth_ip_parse_prefix(const char *s, unsigned max);
static void apiauth_ip_set_prefix(apiauth_ip_entry_t *e, unsigned prefix,
    size_t n);


static const unsigned char  apiauth_ip_v4mapped[12] =
    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };


int
apiauth_ip_parse(const unsigned char *s, size_t len, apiauth_ip_entry_t *e)
{
    int            prefix;
    char           buf[APIAUTH_IP_TEXT_MAX], *slash;
    unsigned char  a6[16];

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL) {
        return -1;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    memset(e, 0, sizeof(apiauth_ip_entry_t));

    slash = strchr(buf, '/');
    if (slash) {
        *slash++ = '\0';
    }

    if (strchr(buf, ':') == NULL) {

        if (apiauth_ip_parse_v4(buf, e) != 0) {
            return -1;
        }

        if (slash == NULL) {
            return 0;
        }

        if (e->kind == APIAUTH_IP_WILDCARD) {
            return -1;
        }

        prefix = apiauth_ip_parse_prefix(slash, 32);
        if (prefix < 0) {
            return -1;
        }

        apiauth_ip_set_prefix(e, prefix, 4);

        return 0;
    }

    /* inet_pton() refuses zone ids ("%eth0"), which no peer address has */

    if (inet_pton(AF_INET6, buf, a6) != 1) {
        return -1;
    }

    prefix = 128;

    if (slash) {
        prefix = apiauth_ip_parse_prefix(slash, 128);
        if (prefix < 0) {
            return -1;
        }
    }

    if (memcmp(a6, apiauth_ip_v4mapped, 12) == 0 && prefix >= 96) {
        e->family = APIAUTH_IP_V4;
        memcpy(e->addr, a6 + 12, 4);
        prefix -= 96;

        if (slash == NULL) {
            memset(e->mask, 0xff, 4);
            return 0;
        }

        apiauth_ip_set_prefix(e, prefix, 4);

        return 0;
    }

    e->family = APIAUTH_IP_V6;
    memcpy(e->addr, a6, 16);

    if (slash == NULL) {
        memset(e->mask, 0xff, 16);
        return 0;
    }

    apiauth_ip_set_prefix(e, prefix, 16);

    return 0;
}


/*
 * dotted quad, each part 0-255 without leading zeros (which some parsers
 * read as octal), or '*'
 */

static int
apiauth_ip_parse_v4(const char *s, apiauth_ip_entry_t *e)
{
    int       part, digits, wild;
    unsigned  value;

    wild = 0;

    for (part = 0; part < 4; part++) {

        if (part > 0) {
            if (*s++ != '.') {
                return -1;
            }
        }

        if (*s == '*') {
            s++;
            e->addr[part] = 0;
            e->mask[part] = 0;
            wild = 1;
            continue;
        }

        value = 0;

        for (digits = 0; *s >= '0' && *s <= '9'; digits++, s++) {
            if (digits == 3 || (digits == 1 && value == 0)) {
                return -1;
            }

            value = value * 10 + (*s - '0');
        }

        if (digits == 0 || value > 255) {
            return -1;
        }

        e->addr[part] = (unsigned char) value;
        e->mask[part] = 0xff;
    }

    if (*s != '\0') {
        return -1;
    }

    e->family = APIAUTH_IP_V4;
    e->kind = wild ? APIAUTH_IP_WILDCARD : APIAUTH_IP_ADDR;

    return 0;
}


static int
apiauth_ip_parse_prefix(const char *s, unsigned max)
{
    unsigned  value;
    int       digits;

    value = 0;

    for (digits = 0; *s >= '0' && *s <= '9'; digits++, s++) {
        if (digits == 3 || (digits == 1 && value == 0)) {
            return -1;
        }

        value = value * 10 + (*s - '0');
    }

    if (digits == 0 || *s != '\0' || value > max) {
        return -1;
    }

    return (int) value;
}


/* a full-length prefix is one address: "192.0.2.1/32" is "192.0.2.1" */

static void
apiauth_ip_set_prefix(apiauth_ip_entry_t *e, unsigned prefix, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (prefix >= 8) {
            e->mask[i] = 0xff;
            prefix -= 8;

        } else {
            e->mask[i] = (unsigned char) (0xff00 >> prefix);
            prefix = 0;
        }

        e->addr[i] &= e->mask[i];
    }

    for (i = 0; i < n && e->mask[i] == 0xff; i++) { /* void */ }

    if (i == n) {
        e->kind = APIAUTH_IP_ADDR;
        return;
    }

    e->kind = APIAUTH_IP_CIDR;
    e->prefix = 0;

    for (i = 0; i < n; i++) {
        unsigned char  m = e->mask[i];

        while (m) {
            e->prefix++;
            m <<= 1;
        }
    }
}


size_t
apiauth_ip_format(const apiauth_ip_entry_t *e, char *buf)
{
    int     i, n;
    size_t  len;

    if (e->family == APIAUTH_IP_V4) {
        len = 0;

        for (i = 0; i < 4; i++) {
            if (e->mask[i] == 0 && e->kind == APIAUTH_IP_WILDCARD) {
                n = snprintf(buf + len, APIAUTH_IP_TEXT_MAX - len, "%s*",
                             i ? "." : "");

            } else {
                n = snprintf(buf + len, APIAUTH_IP_TEXT_MAX - len, "%s%u",
                             i ? "." : "", e->addr[i]);
            }

            len += n;
        }

    } else {
        if (inet_ntop(AF_INET6, e->addr, buf, APIAUTH_IP_TEXT_MAX) == NULL) {
            buf[0] = '\0';
            return 0;
        }

        len = strlen(buf);
    }

    if (e->kind == APIAUTH_IP_CIDR) {
        len += snprintf(buf + len, APIAUTH_IP_TEXT_MAX - len, "/%u",
                        e->prefix);
    }

    return len;
}


int
apiauth_ip_match(const apiauth_ip_entry_t *e, int family,
    const unsigned char *addr)
{
    size_t  i, n;

    if (family == APIAUTH_IP_V6 && memcmp(addr, apiauth_ip_v4mapped, 12) == 0)
    {
        family = APIAUTH_IP_V4;
        addr += 12;
    }

    if (family != e->family) {
        return 0;
    }

    n = (family == APIAUTH_IP_V4) ? 4 : 16;

    for (i = 0; i < n; i++) {
        if ((addr[i] & e->mask[i]) != e->addr[i]) {
            return 0;
        }
    }

    return 1;
}


int
apiauth_ip_list_parse(const unsigned char *s, size_t len,
    apiauth_ip_entry_t *out, size_t max)
{
    size_t               n;
    const unsigned char  *end, *comma;

    if (len == 0) {
        return 0;
    }

    n = 0;
    end = s + len;

    /* every entry counts, an empty one too: "a," is refused */

    for ( ;; ) {
        comma = memchr(s, ',', end - s);
        if (comma == NULL) {
            comma = end;
        }

        if (n == max || apiauth_ip_parse(s, comma - s, &out[n]) != 0) {
            return -1;
        }

        n++;

        if (comma == end) {
            return (int) n;
        }

        s = comma + 1;
    }
}
