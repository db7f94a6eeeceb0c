
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * IP whitelist entries, shared by the module and apiauth-ctl (no nginx
 * headers).  Forms: 192.0.2.1, 192.0.2.0/24, 192.168.1.* and 10.*.*.*,
 * 2001:db8::1, 2001:db8::/32.  IPv4-mapped IPv6 (::ffff:a.b.c.d) is taken
 * as the IPv4 address it carries, in entries and in peers alike.
 */


#ifndef _APIAUTH_IP_H_INCLUDED_
#define _APIAUTH_IP_H_INCLUDED_


#include <stddef.h>


#define APIAUTH_IP_V4          4
#define APIAUTH_IP_V6          6

#define APIAUTH_IP_ADDR        0        /* one address */
#define APIAUTH_IP_CIDR        1        /* address/prefix */
#define APIAUTH_IP_WILDCARD    2        /* IPv4 with '*' octets */

/* the longest canonical text: an IPv6 address, '/', 3 digits */
#define APIAUTH_IP_TEXT_MAX    64

#define APIAUTH_IP_RULE                                                      \
    "an IPv4 address (192.0.2.1), IPv4 CIDR (192.0.2.0/24), IPv4 with '*' "  \
    "octets (192.168.1.*), IPv6 address (2001:db8::1) or IPv6 CIDR "         \
    "(2001:db8::/32)"


typedef struct {
    unsigned char  family;
    unsigned char  kind;
    unsigned char  prefix;             /* APIAUTH_IP_CIDR only */
    unsigned char  addr[16];           /* masked, network order */
    unsigned char  mask[16];
} apiauth_ip_entry_t;


/* returns 0 or -1 */
int apiauth_ip_parse(const unsigned char *s, size_t len,
    apiauth_ip_entry_t *e);

/*
 * writes the canonical text and a NUL into buf (APIAUTH_IP_TEXT_MAX bytes);
 * equal entries have equal texts, so the store keeps canonical texts only;
 * returns the length
 */
size_t apiauth_ip_format(const apiauth_ip_entry_t *e, char *buf);

/*
 * family is APIAUTH_IP_V4 (addr: 4 bytes) or APIAUTH_IP_V6 (16 bytes);
 * returns 1 when the address matches the entry, else 0
 */
int apiauth_ip_match(const apiauth_ip_entry_t *e, int family,
    const unsigned char *addr);

/*
 * parses a comma-separated list as the store keeps it ("" is an empty
 * list); returns the number of entries or -1 when an entry is invalid or
 * there are more than max
 */
int apiauth_ip_list_parse(const unsigned char *s, size_t len,
    apiauth_ip_entry_t *out, size_t max);


#endif /* _APIAUTH_IP_H_INCLUDED_ */
