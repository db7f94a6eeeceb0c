
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Scope lists (apiauth_scope.h): "*" or comma-separated plain names.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiauth_key.h"
#include "apiauth_scope.h"
#include "tap.h"


/* a string literal with its length, embedded NULs included */
#define S(lit)  lit, sizeof(lit) - 1


/* exact-size heap copies, so that the sanitizers see any over-read */

static unsigned char *
copy(const char *s, size_t len)
{
    unsigned char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    memcpy(p, s, len);

    return p;
}


static int
check(const char *s, size_t len)
{
    int             rc;
    unsigned char  *p;

    p = copy(s, len);
    rc = apiauth_scope_check(p, len);
    free(p);

    return rc;
}


static int
is_all(const char *s, size_t len)
{
    int             rc;
    unsigned char  *p;

    p = copy(s, len);
    rc = apiauth_scope_is_all(p, len);
    free(p);

    return rc;
}


static int
match(const char *list, const char *name)
{
    int             rc;
    size_t          len, name_len;
    unsigned char  *l, *n;

    len = strlen(list);
    name_len = strlen(name);
    l = copy(list, len);
    n = copy(name, name_len);
    rc = apiauth_scope_match(l, len, n, name_len);
    free(n);
    free(l);

    return rc;
}


static void
test_is_all(void)
{
    ok(is_all(S("*")) == 1, "\"*\" is all");
    ok(is_all(S("a")) == 0, "\"a\" is not all");
    ok(is_all(S("")) == 0, "\"\" is not all");
    ok(is_all(S("**")) == 0, "\"**\" is not all");
    ok(is_all(S("*,a")) == 0, "\"*,a\" is not all");
    ok(is_all(S(" *")) == 0, "\" *\" is not all");
}


static void
test_check(void)
{
    char  name[67];

    ok(check(S("*")) == 0, "check accepts \"*\"");
    ok(check(S("a")) == 0, "check accepts one name");
    ok(check(S("a,b")) == 0, "check accepts \"a,b\"");
    ok(check(S("orders-api,billing_v2,app.internal")) == 0,
       "check accepts names with '-', '_' and '.'");

    memset(name, 'n', sizeof(name));
    ok(check(name, 64) == 0, "check accepts a name of 64 characters");
    ok(check(name, 65) == -1, "check refuses a name of 65 characters");

    /* "a," and a long name */

    name[0] = 'a';
    name[1] = ',';
    ok(check(name, 2 + 64) == 0,
       "check accepts a second name of 64 characters");
    ok(check(name, 2 + 65) == -1,
       "check refuses a second name of 65 characters");

    ok(check(S("")) == -1, "check refuses \"\"");
    ok(check(S(",")) == -1, "check refuses \",\"");
    ok(check(S("a,,b")) == -1, "check refuses \"a,,b\" (an empty name)");
    ok(check(S("a,b,")) == -1, "check refuses \"a,b,\" (a trailing comma)");
    ok(check(S(",a,b")) == -1, "check refuses \",a,b\" (a leading comma)");
    ok(check(S("a b")) == -1, "check refuses a name with a space");
    ok(check(S("a, b")) == -1, "check refuses a space after a comma");
    ok(check(S("a ,b")) == -1, "check refuses a space before a comma");
    ok(check(S(" a")) == -1, "check refuses a leading space");
    ok(check(S("a;b")) == -1, "check refuses ';' as a separator");
    ok(check(S("a/b")) == -1, "check refuses a name with '/'");
    ok(check(S("caf\xc3\xa9")) == -1, "check refuses a non-ASCII name");
    ok(check(S("a\0")) == -1, "check refuses a name with a NUL");
    ok(check(S("**")) == -1, "check refuses \"**\"");
    ok(check(S("*,a")) == -1, "check refuses \"*\" among names (first)");
    ok(check(S("a,*")) == -1, "check refuses \"*\" among names (last)");
}


/* n names "n0,n1,...", a list of up to 300 names of up to 4 characters */

static size_t
names(char *buf, size_t n)
{
    size_t  i, len;

    len = 0;

    for (i = 0; i < n; i++) {
        len += sprintf(buf + len, i ? ",n%zu" : "n%zu", i);
    }

    return len;
}


static void
test_check_bound(void)
{
    char    buf[300 * 6];
    size_t  len;

    len = names(buf, APIAUTH_SCOPE_NAMES_MAX);
    ok(check(buf, len) == 0, "check accepts a list of %d names",
       APIAUTH_SCOPE_NAMES_MAX);

    len = names(buf, APIAUTH_SCOPE_NAMES_MAX + 1);
    ok(check(buf, len) == -1, "check refuses a list of %d names",
       APIAUTH_SCOPE_NAMES_MAX + 1);

    len = names(buf, 300);
    ok(check(buf, len) == -1, "check refuses a list of 300 names");

    /* the same name counts each time it is there */

    memset(buf, 'a', sizeof(buf));

    for (len = 1; len < 2 * (APIAUTH_SCOPE_NAMES_MAX + 1); len += 2) {
        buf[len] = ',';
    }

    ok(check(buf, 2 * APIAUTH_SCOPE_NAMES_MAX - 1) == 0,
       "check accepts \"a\" %d times", APIAUTH_SCOPE_NAMES_MAX);
    ok(check(buf, 2 * APIAUTH_SCOPE_NAMES_MAX + 1) == -1,
       "check refuses \"a\" %d times", APIAUTH_SCOPE_NAMES_MAX + 1);
}


static void
test_match(void)
{
    ok(match("*", "orders") == 1, "\"*\" admits any name");
    ok(match("*", "") == 1, "\"*\" admits the empty name");

    ok(match("a,b", "a") == 1, "\"a,b\" admits a");
    ok(match("a,b", "b") == 1, "\"a,b\" admits b");
    ok(match("a,b", "c") == 0, "\"a,b\" does not admit c");
    ok(match("a,b", "") == 0, "\"a,b\" does not admit the empty name");
    ok(match("a,b", "ab") == 0, "\"a,b\" does not admit ab");
    ok(match("a,b", "a,b") == 0, "\"a,b\" does not admit the name \"a,b\"");
    ok(match("a,b", "A") == 0, "\"a,b\" does not admit A (case matters)");
    ok(match("a,b", "*") == 0, "\"a,b\" does not admit the name \"*\"");
    ok(match("orders", "order") == 0, "\"orders\" does not admit a prefix");
    ok(match("order", "orders") == 0,
       "\"order\" does not admit a longer name");
    ok(match("ab,a", "a") == 1, "\"ab,a\" admits a (a later exact name)");
    ok(match("orders-api,billing", "billing") == 1,
       "\"orders-api,billing\" admits billing");
    ok(match("a", "a") == 1, "\"a\" admits a");
}


int
main(void)
{
    test_is_all();
    test_check();
    test_check_bound();
    test_match();

    return done_testing();
}
