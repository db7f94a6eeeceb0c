
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * IP whitelist entries (apiauth_ip.h): parsing, canonical texts, matching
 * and lists.
 */


#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "apiauth_ip.h"
#include "tap.h"


typedef struct {
    const char  *text;
    const char  *canonical;
    int          family;
    int          kind;
    int          prefix;                /* CIDR only */
} parse_case_t;


typedef struct {
    const char  *text;
    const char  *why;
} refuse_case_t;


static const parse_case_t  parse_cases[] = {
    { "192.0.2.1", "192.0.2.1", APIAUTH_IP_V4, APIAUTH_IP_ADDR, 0 },
    { "192.0.2.0/24", "192.0.2.0/24", APIAUTH_IP_V4, APIAUTH_IP_CIDR, 24 },
    { "10.1.2.3/8", "10.0.0.0/8", APIAUTH_IP_V4, APIAUTH_IP_CIDR, 8 },
    { "192.0.2.77/26", "192.0.2.64/26", APIAUTH_IP_V4, APIAUTH_IP_CIDR, 26 },
    { "192.0.2.1/32", "192.0.2.1", APIAUTH_IP_V4, APIAUTH_IP_ADDR, 0 },
    { "192.168.1.*", "192.168.1.*", APIAUTH_IP_V4, APIAUTH_IP_WILDCARD, 0 },
    { "10.*.*.*", "10.*.*.*", APIAUTH_IP_V4, APIAUTH_IP_WILDCARD, 0 },
    { "0.0.0.0/0", "0.0.0.0/0", APIAUTH_IP_V4, APIAUTH_IP_CIDR, 0 },
    { "255.255.255.255", "255.255.255.255", APIAUTH_IP_V4, APIAUTH_IP_ADDR,
      0 },
    { "0.0.0.0", "0.0.0.0", APIAUTH_IP_V4, APIAUTH_IP_ADDR, 0 },
    { "2001:db8::1", "2001:db8::1", APIAUTH_IP_V6, APIAUTH_IP_ADDR, 0 },
    { "2001:DB8:0::/32", "2001:db8::/32", APIAUTH_IP_V6, APIAUTH_IP_CIDR,
      32 },
    { "2001:db8:0:0:0:0:0:1", "2001:db8::1", APIAUTH_IP_V6, APIAUTH_IP_ADDR,
      0 },
    { "2001:db8::1/128", "2001:db8::1", APIAUTH_IP_V6, APIAUTH_IP_ADDR, 0 },
    { "2001:db8:abcd:12ff::/63", "2001:db8:abcd:12fe::/63", APIAUTH_IP_V6,
      APIAUTH_IP_CIDR, 63 },
    { "::ffff:192.0.2.1", "192.0.2.1", APIAUTH_IP_V4, APIAUTH_IP_ADDR, 0 },
    { "::ffff:192.0.2.0/120", "192.0.2.0/24", APIAUTH_IP_V4,
      APIAUTH_IP_CIDR, 24 },
    { "::/0", "::/0", APIAUTH_IP_V6, APIAUTH_IP_CIDR, 0 },
    { "::1", "::1", APIAUTH_IP_V6, APIAUTH_IP_ADDR, 0 },
};


static const refuse_case_t  refuse_cases[] = {
    { "", "empty" },
    { "*", "a lone '*'" },
    { "*.*.*", "three wildcard octets" },
    { "256.1.1.1", "an octet over 255" },
    { "1.2.3.1000", "an octet of 4 digits" },
    { "01.2.3.4", "a leading zero" },
    { "1.2.3.00", "an octet '00'" },
    { "1.2.3", "3 octets" },
    { "1.2.3.4.5", "5 octets" },
    { "1.2.3.", "an empty octet" },
    { "1..3.4", "an empty inner octet" },
    { "1.2.3.4/33", "a v4 prefix of 33" },
    { "1.2.3.4/-1", "a negative prefix" },
    { "1.2.3.4/", "an empty prefix" },
    { "1.2.3.4/08", "a prefix with a leading zero" },
    { "1.2.3.4/8/8", "two prefixes" },
    { "1.2.3.*/24", "a wildcard with a prefix" },
    { "1.2.3.4*", "a '*' after an octet" },
    { "2001:db8::/129", "a v6 prefix of 129" },
    { "2001:db8::/", "an empty v6 prefix" },
    { "fe80::1%eth0", "a zone id" },
    { "2001:db8:::1", "':::'" },
    { "2001:db8::g", "a non-hex v6 digit" },
    { "1:2:3:4:5:6:7:8:9", "9 v6 groups" },
    { "1.2.3.4 ", "a trailing space" },
    { " 1.2.3.4", "a leading space" },
    { "1.2.3.4,5.6.7.8", "a list" },
    { "example.com", "a host name" },
    { "garbage", "garbage" },
    { "0x7f.0.0.1", "hex octets" },
    { "1.2.3.4\n", "a trailing newline" },
};


/* a string literal with its length, embedded NULs included */
#define S(lit)  (const unsigned char *) lit, sizeof(lit) - 1


/* apiauth_ip_parse() on an exact-size heap copy, for the sanitizers */

static int
parse(const char *s, size_t len, apiauth_ip_entry_t *e)
{
    int             rc;
    unsigned char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    memcpy(p, s, len);
    rc = apiauth_ip_parse(p, len, e);
    free(p);

    return rc;
}


static int
list_parse(const char *s, size_t max)
{
    int                  rc;
    size_t               len;
    unsigned char       *p;
    apiauth_ip_entry_t  *out;

    /* exact sizes, for the sanitizers */

    len = strlen(s);
    p = malloc(len ? len : 1);
    out = malloc(max ? max * sizeof(apiauth_ip_entry_t) : 1);
    if (p == NULL || out == NULL) {
        abort();
    }

    memcpy(p, s, len);
    rc = apiauth_ip_list_parse(p, len, out, max);
    free(out);
    free(p);

    return rc;
}


static void
test_parse(void)
{
    char                 buf[APIAUTH_IP_TEXT_MAX], again[APIAUTH_IP_TEXT_MAX];
    size_t               i, n;
    apiauth_ip_entry_t   e, e2;
    const parse_case_t  *c;

    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        c = &parse_cases[i];

        if (!ok(parse(c->text, strlen(c->text), &e) == 0, "%s parses",
                c->text))
        {
            continue;
        }

        ok(e.family == c->family && e.kind == c->kind
           && (c->kind != APIAUTH_IP_CIDR || e.prefix == c->prefix),
           "%s is an IPv%d %s%s", c->text, c->family,
           c->kind == APIAUTH_IP_ADDR ? "address"
           : c->kind == APIAUTH_IP_CIDR ? "CIDR" : "wildcard",
           c->kind == APIAUTH_IP_CIDR ? " with its prefix" : "");

        memset(buf, 'X', sizeof(buf));
        n = apiauth_ip_format(&e, buf);

        is_str(buf, n, c->canonical, strlen(c->canonical),
               "%s is written %s", c->text, c->canonical);
        ok(n < sizeof(buf) && buf[n] == '\0',
           "%s: the written text ends with a NUL at the returned length",
           c->text);

        /* the canonical text is a fixed point */

        if (ok(parse(buf, n, &e2) == 0, "%s: its canonical text parses",
               c->text))
        {
            n = apiauth_ip_format(&e2, again);
            is_str(again, n, c->canonical, strlen(c->canonical),
                   "%s: its canonical text is written unchanged", c->text);
        }
    }

    for (i = 0; i < sizeof(refuse_cases) / sizeof(refuse_cases[0]); i++) {
        ok(parse(refuse_cases[i].text, strlen(refuse_cases[i].text), &e)
           == -1, "\"%s\" refused: %s", refuse_cases[i].text,
           refuse_cases[i].why);
    }

    ok(parse("1.2.3.4\0", 8, &e) == -1, "an entry with a NUL refused");
    ok(parse("1.2.3.4", 0, &e) == -1, "an entry of length 0 refused");
    ok(parse("1.2.3.4", 5, &e) == -1,
       "the length bounds the entry (\"1.2.3\" of \"1.2.3.4\") refused");
    ok(parse("192.0.2.1/24", 9, &e) == 0 && e.kind == APIAUTH_IP_ADDR,
       "the length bounds the entry (\"192.0.2.1\" of \"192.0.2.1/24\")");

    {
        char  longest[APIAUTH_IP_TEXT_MAX + 1];

        memset(longest, '0', sizeof(longest));
        ok(parse(longest, sizeof(longest), &e) == -1,
           "an entry longer than APIAUTH_IP_TEXT_MAX refused");
    }
}


static void
peer4(unsigned char *a, const char *text)
{
    if (inet_pton(AF_INET, text, a) != 1) {
        diag("bad test address %s", text);
        abort();
    }
}


static void
peer6(unsigned char *a, const char *text)
{
    if (inet_pton(AF_INET6, text, a) != 1) {
        diag("bad test address %s", text);
        abort();
    }
}


/* whether entry matches the v4 or v6 peer (by its text) */

static int
match(const char *entry, const char *peer)
{
    int                 family;
    unsigned char      *a;
    apiauth_ip_entry_t  e;

    if (parse(entry, strlen(entry), &e) != 0) {
        diag("bad test entry %s", entry);
        return -1;
    }

    family = strchr(peer, ':') ? APIAUTH_IP_V6 : APIAUTH_IP_V4;

    /* exactly the address's size, for the sanitizers */

    a = malloc(family == APIAUTH_IP_V4 ? 4 : 16);
    if (a == NULL) {
        abort();
    }

    if (family == APIAUTH_IP_V4) {
        peer4(a, peer);

    } else {
        peer6(a, peer);
    }

    family = apiauth_ip_match(&e, family, a);
    free(a);

    return family;
}


#define MATCH(entry, peer, why)                                              \
    ok(match(entry, peer) == 1, "%s matches %s: %s", entry, peer, why)
#define NO_MATCH(entry, peer, why)                                           \
    ok(match(entry, peer) == 0, "%s does not match %s: %s", entry, peer, why)


static void
test_match(void)
{
    MATCH("192.0.2.1", "192.0.2.1", "the same v4 address");
    NO_MATCH("192.0.2.1", "192.0.2.2", "another v4 address");
    NO_MATCH("192.0.2.1", "193.0.2.1", "another first octet");

    MATCH("192.0.2.0/24", "192.0.2.0", "the first address in the CIDR");
    MATCH("192.0.2.0/24", "192.0.2.255", "the last address in the CIDR");
    NO_MATCH("192.0.2.0/24", "192.0.1.255", "just below the CIDR");
    NO_MATCH("192.0.2.0/24", "192.0.3.0", "just above the CIDR");

    MATCH("10.1.2.3/8", "10.0.0.0", "the first address of the masked CIDR");
    MATCH("10.1.2.3/8", "10.255.255.255",
          "the last address of the masked CIDR");
    NO_MATCH("10.1.2.3/8", "11.0.0.0", "just above the CIDR");
    NO_MATCH("10.1.2.3/8", "9.255.255.255", "just below the CIDR");

    MATCH("192.0.2.64/26", "192.0.2.64", "the first address of a /26");
    MATCH("192.0.2.64/26", "192.0.2.127", "the last address of a /26");
    NO_MATCH("192.0.2.64/26", "192.0.2.63", "just below a /26");
    NO_MATCH("192.0.2.64/26", "192.0.2.128", "just above a /26");

    MATCH("192.168.1.*", "192.168.1.0", "the wildcard octet's lowest value");
    MATCH("192.168.1.*", "192.168.1.255",
          "the wildcard octet's highest value");
    NO_MATCH("192.168.1.*", "192.168.2.1", "a fixed octet differs");
    MATCH("10.*.*.*", "10.200.3.4", "three wildcard octets");
    MATCH("10.*.*.*", "10.0.0.0", "three wildcard octets, all zero");
    NO_MATCH("10.*.*.*", "11.0.0.1", "the fixed first octet differs");

    MATCH("0.0.0.0/0", "0.0.0.0", "/0 holds every v4 address");
    MATCH("0.0.0.0/0", "192.0.2.1", "/0 holds every v4 address");
    MATCH("0.0.0.0/0", "255.255.255.255", "/0 holds every v4 address");

    MATCH("2001:db8::1", "2001:db8::1", "the same v6 address");
    NO_MATCH("2001:db8::1", "2001:db8::2", "another v6 address");
    NO_MATCH("2001:db8::1", "3001:db8::1", "another first group");
    MATCH("2001:db8::/32", "2001:db8::", "the first address in the v6 CIDR");
    MATCH("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
          "the last address in the v6 CIDR");
    NO_MATCH("2001:db8::/32", "2001:db9::", "just above the v6 CIDR");
    NO_MATCH("2001:db8::/32", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
             "just below the v6 CIDR");
    MATCH("2001:db8:abcd:12fe::/63", "2001:db8:abcd:12ff:1::1",
          "inside a /63");
    NO_MATCH("2001:db8:abcd:12fe::/63", "2001:db8:abcd:1300::",
             "just above a /63");
    MATCH("::/0", "2001:db8::1", "::/0 holds every v6 address");
    MATCH("::/0", "::1", "::/0 holds ::1");

    MATCH("10.0.0.0/8", "::ffff:10.1.2.3",
          "a mapped v6 peer is its v4 address");
    NO_MATCH("10.0.0.0/8", "::ffff:11.1.2.3",
             "a mapped v6 peer outside the v4 CIDR");
    MATCH("192.168.1.*", "::ffff:192.168.1.9",
          "a mapped v6 peer against a wildcard");
    MATCH("::ffff:192.0.2.1", "192.0.2.1",
          "a mapped entry is its v4 address");
    MATCH("::ffff:192.0.2.1", "::ffff:192.0.2.1",
          "a mapped entry and a mapped peer");

    NO_MATCH("::/0", "192.0.2.1", "a v4 peer never matches a v6 entry");
    NO_MATCH("::/0", "::ffff:192.0.2.1",
             "a mapped peer is v4, never matches a v6 entry");
    NO_MATCH("0.0.0.0/0", "2001:db8::1", "a v6 peer never matches a v4 entry");
    NO_MATCH("0.0.0.0/0", "::", "the v6 address :: is no v4 address");
    NO_MATCH("0.0.0.0/0", "::192.0.2.1",
             "an IPv4-compatible (not mapped) peer is v6");
    NO_MATCH("10.*.*.*", "a00::", "a v6 peer never matches a v4 wildcard");
}


static void
test_list(void)
{
    int                 n;
    char                buf[APIAUTH_IP_TEXT_MAX];
    size_t              len;
    apiauth_ip_entry_t  out[4];

    ok(list_parse("", 4) == 0, "an empty list has 0 entries");
    ok(list_parse("", 0) == 0, "an empty list fits in max 0");
    ok(list_parse("192.0.2.1", 4) == 1, "a list of one entry has 1");

    n = apiauth_ip_list_parse(S("192.0.2.1,2001:db8::/32"), out, 4);

    if (ok(n == 2, "\"192.0.2.1,2001:db8::/32\" has 2 entries")) {
        len = apiauth_ip_format(&out[0], buf);
        is_str(buf, len, "192.0.2.1", 9, "the list's first entry, in order");
        len = apiauth_ip_format(&out[1], buf);
        is_str(buf, len, "2001:db8::/32", 13,
               "the list's second entry, in order");
    }

    ok(list_parse("192.0.2.1,192.168.1.*,10.0.0.0/8,::/0", 4) == 4,
       "a list of each form has 4 entries");
    ok(list_parse("192.0.2.1,garbage", 4) == -1,
       "a list with an invalid entry is refused");
    ok(list_parse("garbage,192.0.2.1", 4) == -1,
       "a list with an invalid first entry is refused");
    ok(list_parse("192.0.2.1, 10.0.0.1", 4) == -1,
       "a list with a space after a comma is refused");
    ok(list_parse("192.0.2.1,,10.0.0.1", 4) == -1,
       "a list with an empty inner entry is refused");
    ok(list_parse(",192.0.2.1", 4) == -1,
       "a list with an empty first entry (leading comma) is refused");
    ok(list_parse("192.0.2.1,", 4) == -1,
       "a list with an empty last entry (trailing comma) is refused");
    ok(list_parse(",", 4) == -1, "a list of one comma is refused");

    ok(list_parse("1.1.1.1,2.2.2.2", 2) == 2,
       "a list of exactly max entries is accepted");
    ok(list_parse("1.1.1.1,2.2.2.2,3.3.3.3", 2) == -1,
       "a list of more than max entries is refused");
    ok(list_parse("1.1.1.1", 0) == -1,
       "a list of one entry is refused with max 0");
}


int
main(void)
{
    test_parse();
    test_match();
    test_list();

    return done_testing();
}
