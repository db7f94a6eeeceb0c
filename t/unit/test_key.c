
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Formats of the key store's fields (apiauth_key.h).
 */


#include <stdlib.h>
#include <string.h>

#include "apiauth_key.h"
#include "tap.h"


typedef int (*check_pt)(const unsigned char *s, size_t len);


/* a string literal with its length, embedded NULs included */
#define S(lit)  lit, sizeof(lit) - 1


/*
 * runs a check on an exact-size heap copy of s, so that the sanitizers see
 * any read past its end
 */

static int
check(check_pt fn, const char *s, size_t len)
{
    int             rc;
    unsigned char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    memcpy(p, s, len);
    rc = fn(p, len);
    free(p);

    return rc;
}


/* n times c, at most 2048 */

static const char *
rep(char c, size_t n)
{
    static char  buf[2048];

    memset(buf, c, n);

    return buf;
}


static void
test_access_key(void)
{
    check_pt  f = apiauth_access_key_check;

    ok(check(f, rep('a', 7), 7) == -1, "accessKey of 7 characters refused");
    ok(check(f, rep('a', 8), 8) == 0, "accessKey of 8 characters accepted");
    ok(check(f, rep('Z', 32), 32) == 0,
       "accessKey of 32 characters accepted");
    ok(check(f, rep('Z', 33), 33) == -1,
       "accessKey of 33 characters refused");
    ok(check(f, S("")) == -1, "empty accessKey refused");
    ok(check(f, rep('7', APIAUTH_ACCESS_KEY_GEN_LEN),
             APIAUTH_ACCESS_KEY_GEN_LEN) == 0,
       "accessKey of the generated length accepted");

    ok(check(f, S("AK1234567890")) == 0,
       "accessKey of letters and digits accepted");
    ok(check(f, S("0123456789")) == 0, "accessKey of digits only accepted");
    ok(check(f, S("AZazAZaz09")) == 0,
       "accessKey with the ends of each range (A Z a z 0 9) accepted");

    ok(check(f, S("AK-1234567890")) == -1, "accessKey with '-' refused");
    ok(check(f, S("AK_1234567890")) == -1, "accessKey with '_' refused");
    ok(check(f, S("AK 1234567890")) == -1, "accessKey with a space refused");
    ok(check(f, S("AK1234567890 ")) == -1,
       "accessKey with a trailing space refused");
    ok(check(f, S("AK\xc3\xa9" "1234567890")) == -1,
       "accessKey with a non-ASCII letter (UTF-8) refused");
    ok(check(f, S("AK\0" "1234567890")) == -1, "accessKey with a NUL refused");
    ok(check(f, S("AK1234567890\n")) == -1,
       "accessKey with a trailing newline refused");
    ok(check(f, S("AK1234/67890")) == -1
       && check(f, S("AK1234:67890")) == -1
       && check(f, S("AK1234@67890")) == -1
       && check(f, S("AK1234[67890")) == -1
       && check(f, S("AK1234`67890")) == -1
       && check(f, S("AK1234{67890")) == -1,
       "accessKey with a character next to a range (/ : @ [ ` {) refused");
}


static void
test_plain_name(void)
{
    check_pt  f = apiauth_plain_name_check;

    ok(check(f, S("")) == -1, "empty plain name refused");
    ok(check(f, S("a")) == 0, "plain name of 1 character accepted");
    ok(check(f, rep('x', 64), 64) == 0,
       "plain name of 64 characters accepted");
    ok(check(f, rep('x', 65), 65) == -1,
       "plain name of 65 characters refused");
    ok(check(f, S("orders-api_v1.2")) == 0,
       "plain name with '-', '_' and '.' accepted");
    ok(check(f, S("_")) == 0 && check(f, S(".")) == 0
       && check(f, S("-")) == 0,
       "plain names '_', '.' and '-' alone accepted");
    ok(check(f, S("AZaz09")) == 0, "plain name of letters and digits accepted");

    ok(check(f, S("orders api")) == -1, "plain name with a space refused");
    ok(check(f, S("orders/api")) == -1, "plain name with '/' refused");
    ok(check(f, S("orders,api")) == -1, "plain name with ',' refused");
    ok(check(f, S("*")) == -1, "plain name '*' refused");
    ok(check(f, S("orders:api")) == -1, "plain name with ':' refused");
    ok(check(f, S("caf\xc3\xa9")) == -1,
       "plain name with a non-ASCII letter refused");
    ok(check(f, S("orders\0")) == -1, "plain name with a NUL refused");
    ok(check(f, S("orders\n")) == -1, "plain name with a newline refused");
}


static void
test_key_name(void)
{
    check_pt  f = apiauth_key_name_check;

    ok(check(f, S("")) == -1, "empty key name refused");
    ok(check(f, S("k")) == 0, "key name of 1 byte accepted");
    ok(check(f, rep('n', 128), 128) == 0, "key name of 128 bytes accepted");
    ok(check(f, rep('n', 129), 129) == -1, "key name of 129 bytes refused");
    ok(check(f, S("Partner ACME (prod), v2: \"billing\" & <reports>!")) == 0,
       "key name with spaces and punctuation accepted");
    ok(check(f, S("Soci\xc3\xa9t\xc3\xa9 g\xc3\xa9n\xc3\xa9rale")) == 0,
       "key name in UTF-8 accepted");
    ok(check(f, S(" ")) == 0, "key name of a space (0x20) accepted");
    ok(check(f, S("~")) == 0, "key name '~' (0x7e) accepted");

    ok(check(f, S("a\tb")) == -1, "key name with a tab refused");
    ok(check(f, S("a\nb")) == -1, "key name with a newline refused");
    ok(check(f, S("a\rb")) == -1, "key name with a carriage return refused");
    ok(check(f, S("a\0b")) == -1, "key name with a NUL refused");
    ok(check(f, S("a\x1f" "b")) == -1, "key name with 0x1f refused");
    ok(check(f, S("a\x1b[31mb")) == -1, "key name with an escape refused");
    ok(check(f, S("a\x7f" "b")) == -1, "key name with DEL (0x7f) refused");
}


static void
test_description(void)
{
    check_pt  f = apiauth_description_check;

    ok(check(f, S("")) == 0, "empty description accepted");
    ok(check(f, rep('d', 1024), 1024) == 0,
       "description of 1024 bytes accepted");
    ok(check(f, rep('d', 1025), 1025) == -1,
       "description of 1025 bytes refused");
    ok(check(f, S("Used by the nightly export; owner: ops@example.com"))
       == 0, "description with punctuation accepted");
    ok(check(f, S("\xe2\x9c\x93 r\xc3\xa9sum\xc3\xa9")) == 0,
       "description in UTF-8 accepted");

    ok(check(f, S("line one\nline two")) == -1,
       "description with a newline refused");
    ok(check(f, S("a\tb")) == -1, "description with a tab refused");
    ok(check(f, S("a\0b")) == -1, "description with a NUL refused");
    ok(check(f, S("a\x7f" "b")) == -1,
       "description with DEL (0x7f) refused");
}


static void
test_salt(void)
{
    check_pt  f = apiauth_salt_check;

    ok(check(f, S("00112233445566778899aabbccddeeff")) == 0,
       "salt of 32 lowercase hex accepted");
    ok(check(f, S("0123456789abcdef0123456789abcdef")) == 0,
       "salt with every hex digit accepted");
    ok(check(f, S("0011223344556677889aabbccddeeff")) == -1,
       "salt of 31 hex refused");
    ok(check(f, S("00112233445566778899aabbccddeeff0")) == -1,
       "salt of 33 hex refused");
    ok(check(f, S("")) == -1, "empty salt refused");
    ok(check(f, S("00112233445566778899AABBCCDDEEFF")) == -1,
       "salt in uppercase hex refused");
    ok(check(f, S("00112233445566778899aabbccddeefg")) == -1,
       "salt with 'g' refused");
    ok(check(f, S("00112233445566778899aabbccddee f")) == -1,
       "salt with a space refused");
    ok(check(f, S("00112233445566778899aabbccddeef\0")) == -1,
       "salt with a NUL refused");
}


int
main(void)
{
    test_access_key();
    test_plain_name();
    test_key_name();
    test_description();
    test_salt();

    return done_testing();
}
