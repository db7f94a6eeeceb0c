
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Formats of the key store's fields (apiauth_key.h).
 */


#include <stdint.h>
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


/* cp in n bytes (1-4), overlong when n is more than it needs */

static size_t
enc(uint32_t cp, size_t n, char *out)
{
    size_t  i;

    if (n == 1) {
        out[0] = (char) cp;
        return 1;
    }

    for (i = n - 1; i > 0; i--) {
        out[i] = (char) (0x80 | (cp & 0x3f));
        cp >>= 6;
    }

    out[0] = (char) ((0xff00 >> n) | cp);

    return n;
}


/* the shortest encoding's length */

static size_t
enc_len(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}


/* "a", cp encoded in n bytes, "b": accepted as a key name? */

static int
name_with(uint32_t cp, size_t n)
{
    char    buf[8];
    size_t  len;

    buf[0] = 'a';
    len = 1 + enc(cp, n, buf + 1);
    buf[len++] = 'b';

    return check(apiauth_key_name_check, buf, len);
}


/* the rule of apiauth_key.h, written out again, range by range */

static int
forbidden(uint32_t cp)
{
    static const uint32_t  ranges[][2] = {
        { 0x0000, 0x001f },           /* C0 */
        { 0x007f, 0x009f },           /* DEL, C1 */
        { 0x061c, 0x061c },           /* ALM */
        { 0x200e, 0x200f },           /* LRM, RLM */
        { 0x202a, 0x202e },           /* LRE RLE PDF LRO RLO */
        { 0x2066, 0x2069 },           /* LRI RLI FSI PDI */
        { 0xd800, 0xdfff }            /* surrogates: not characters */
    };

    size_t  i;

    for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (cp >= ranges[i][0] && cp <= ranges[i][1]) {
            return 1;
        }
    }

    return 0;
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


/* every code point, in its shortest form and in each overlong one */

static void
test_text_every_code_point(void)
{
    char      buf[4];
    size_t    n, len, bad_len, bad_overlong, bad_decode;
    uint32_t  cp, got;

    bad_len = 0;
    bad_overlong = 0;
    bad_decode = 0;

    for (cp = 0; cp <= 0x10ffff; cp++) {
        len = enc_len(cp);

        if (name_with(cp, len) != (forbidden(cp) ? -1 : 0)) {
            if (bad_len++ == 0) {
                diag("U+%04X: the name check disagrees with the rule",
                     (unsigned) cp);
            }
        }

        enc(cp, len, buf);
        got = 0xffffffff;
        n = apiauth_utf8_decode((unsigned char *) buf, len, &got);

        if (cp >= 0xd800 && cp <= 0xdfff ? n != 0 : n != len || got != cp) {
            if (bad_decode++ == 0) {
                diag("U+%04X: decoded as %zu bytes, U+%04X", (unsigned) cp,
                     n, (unsigned) got);
            }
        }

        for (n = len + 1; n <= 4; n++) {
            if (name_with(cp, n) != -1 && bad_overlong++ == 0) {
                diag("U+%04X in %zu bytes accepted", (unsigned) cp, n);
            }
        }
    }

    ok(bad_len == 0, "each of the 1,114,112 code points in its shortest "
       "form: accepted unless a control, a bidirectional formatting "
       "character or a surrogate");
    ok(bad_decode == 0, "each shortest form decodes to its code point and "
       "length; a surrogate decodes to nothing");
    ok(bad_overlong == 0, "each overlong form of each code point refused");
}


static void
test_text(void)
{
    char      buf[1030];
    size_t    i;
    uint32_t  cp;
    check_pt  f = apiauth_key_name_check;
    check_pt  d = apiauth_description_check;

    static const uint32_t  bidi[] = {
        0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e,
        0x2066, 0x2067, 0x2068, 0x2069
    };

    ok(check(f, S("Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac "
                  "\xf0\x9f\x9a\x80")) == 0,
       "key name \"Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac "
       "\xf0\x9f\x9a\x80\" (2, 3 and 4 bytes) accepted");
    ok(check(d, S("Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac "
                  "\xf0\x9f\x9a\x80")) == 0,
       "description with 2, 3 and 4 byte characters accepted");
    ok(check(f, S("\xc2\xa0")) == 0 && check(f, S("\xdf\xbf")) == 0
       && check(f, S("\xe0\xa0\x80")) == 0
       && check(f, S("\xed\x9f\xbf")) == 0
       && check(f, S("\xee\x80\x80")) == 0
       && check(f, S("\xef\xbf\xbf")) == 0
       && check(f, S("\xf0\x90\x80\x80")) == 0
       && check(f, S("\xf4\x8f\xbf\xbf")) == 0,
       "the ends of each length's range accepted (U+00A0 U+07FF U+0800 "
       "U+D7FF U+E000 U+FFFF U+10000 U+10FFFF)");

    /* the byte counts, not the characters */

    ok(check(f, rep('\xc3', 128), 128) == -1,
       "128 lead bytes without continuations refused");

    for (i = 0; i < 64; i++) {
        memcpy(buf + 2 * i, "\xc3\xa9", 2);
    }

    ok(check(f, buf, 128) == 0, "key name of 64 two-byte characters "
       "(128 bytes) accepted");

    memcpy(buf + 128, "\xc3\xa9", 2);
    ok(check(f, buf, 130) == -1, "key name of 65 two-byte characters "
       "(130 bytes) refused");

    for (i = 0; i < 341; i++) {
        memcpy(buf + 3 * i, "\xe6\x9d\xb1", 3);
    }

    buf[1023] = 'x';
    ok(check(d, buf, 1024) == 0, "description of 341 three-byte "
       "characters and one byte (1024 bytes) accepted");
    memcpy(buf + 1023, "\xe6\x9d\xb1", 3);
    ok(check(d, buf, 1026) == -1, "description of 342 three-byte "
       "characters (1026 bytes) refused");

    /* overlong forms */

    ok(check(f, S("a\xc0\xaf" "b")) == -1, "overlong '/' in 2 bytes refused");
    ok(check(f, S("a\xc1\xbf" "b")) == -1,
       "overlong U+007F in 2 bytes refused");
    ok(check(f, S("a\xe0\x80\xaf" "b")) == -1,
       "overlong '/' in 3 bytes refused");
    ok(check(f, S("a\xe0\x9f\xbf" "b")) == -1,
       "overlong U+07FF in 3 bytes refused");
    ok(check(f, S("a\xf0\x80\x80\xaf" "b")) == -1,
       "overlong '/' in 4 bytes refused");
    ok(check(f, S("a\xf0\x8f\xbf\xbf" "b")) == -1,
       "overlong U+FFFF in 4 bytes refused");
    ok(check(f, S("\xc0\x80")) == -1, "overlong NUL (0xc0 0x80) refused");

    /* truncated sequences: at the end and interrupted */

    ok(check(f, S("Caf\xc3")) == -1, "a 2-byte sequence cut at the end "
       "refused");
    ok(check(f, S("\xe6\x9d")) == -1, "a 3-byte sequence cut at the end "
       "refused");
    ok(check(f, S("\xf0\x9f\x9a")) == -1, "a 4-byte sequence cut at the "
       "end refused");
    ok(check(f, S("\xe6\x9dxy")) == -1, "a 3-byte sequence interrupted by "
       "ASCII refused");
    ok(check(f, S("\xf0\x9f\xc3\xa9")) == -1, "a 4-byte sequence "
       "interrupted by a lead byte refused");
    ok(check(d, S("x\xe2\x80")) == -1,
       "a description with a cut sequence at the end refused");

    /* lone continuation bytes and bytes that never occur */

    ok(check(f, S("\x80")) == -1, "a lone 0x80 refused");
    ok(check(f, S("a\xbf" "b")) == -1, "a lone 0xbf refused");
    ok(check(f, S("a\x9b" "b")) == -1, "a lone 0x9b (CSI in Latin-1) refused");
    ok(check(f, S("\xc3\xa9\xa9")) == -1,
       "a continuation byte too many refused");
    ok(check(f, S("a\xfe" "b")) == -1 && check(f, S("a\xff" "b")) == -1,
       "0xfe and 0xff refused");

    /* surrogates, alone and paired (CESU-8) */

    ok(check(f, S("a\xed\xa0\x80" "b")) == -1, "U+D800 refused");
    ok(check(f, S("a\xed\xbf\xbf" "b")) == -1, "U+DFFF refused");
    ok(check(f, S("\xed\xa0\xbd\xed\xb8\x80")) == -1,
       "a surrogate pair in 6 bytes (CESU-8) refused");

    /* past U+10FFFF */

    ok(check(f, S("a\xf4\x90\x80\x80" "b")) == -1, "U+110000 refused");
    ok(check(f, S("a\xf5\x80\x80\x80" "b")) == -1, "lead byte 0xf5 refused");
    ok(check(f, S("a\xf7\xbf\xbf\xbf" "b")) == -1, "U+1FFFFF refused");
    ok(check(f, S("a\xf8\x88\x80\x80\x80" "b")) == -1,
       "a 5-byte sequence refused");

    /* C1 controls: the terminal reads 0xc2 0x9b as CSI too */

    ok(check(f, S("a\xc2\x80" "b")) == -1, "U+0080 refused");
    ok(check(f, S("a\xc2\x9b" "31mb")) == -1, "U+009B (CSI) refused");
    ok(check(f, S("a\xc2\x9d" "b")) == -1, "U+009D (OSC) refused");
    ok(check(f, S("a\xc2\x9f" "b")) == -1, "U+009F refused");
    ok(check(f, S("a\xc2\xa0" "b")) == 0, "U+00A0, after C1, accepted");
    ok(check(d, S("a\xc2\x9b" "b")) == -1, "description with U+009B refused");

    /* bidirectional formatting characters, each, and their neighbours */

    for (i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++) {
        cp = bidi[i];
        ok(name_with(cp, enc_len(cp)) == -1, "key name with U+%04X refused",
           (unsigned) cp);
    }

    ok(check(d, S("x\xe2\x80\xaey")) == -1,
       "description with U+202E (RLO) refused");
    ok(check(f, S("a\xe2\x81\xaa" "b")) == 0, "U+206A, after U+2069, "
       "accepted");
    ok(check(f, S("a\xe2\x81\xa5" "b")) == 0, "U+2065, before U+2066, "
       "accepted");
    ok(check(f, S("a\xe2\x80\xaf" "b")) == 0, "U+202F, after U+202E, "
       "accepted");
    ok(check(f, S("a\xe2\x80\xa9" "b")) == 0, "U+2029, before U+202A, "
       "accepted");
    ok(check(f, S("a\xe2\x80\x8d" "b")) == 0,
       "U+200D (zero width joiner, in emoji) accepted");
    ok(check(f, S("a\xe2\x80\x90" "b")) == 0, "U+2010, after U+200F, "
       "accepted");
    ok(check(f, S("a\xd8\x9b" "b")) == 0
       && check(f, S("a\xd8\x9d" "b")) == 0,
       "U+061B and U+061D, around U+061C, accepted");
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
    test_text();
    test_text_every_code_point();
    test_salt();

    return done_testing();
}
