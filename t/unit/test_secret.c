
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Master key parsing, accessSecret derivation and the master key id
 * (apiauth_secret.h), against every entry of t/data's
 * secret-vectors.json (its directory is argv[1]).
 */


#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "apiauth_crypto.h"
#include "apiauth_key.h"
#include "apiauth_secret.h"
#include "json_reader.h"
#include "tap.h"


/* a string literal with its length, embedded NULs included */
#define S(lit)  (const unsigned char *) lit, sizeof(lit) - 1


enum {
    F_MASTER_KEY_FILE = 0,
    F_ACCESS_KEY,
    F_SALT,
    F_ACCESS_SECRET,
    F_MASTER_KEY_ID,
    F_N
};

static const char  *field_names[F_N] = {
    "master_key_file", "access_key", "salt", "access_secret", "master_key_id"
};


typedef struct {
    str_t  f[F_N];
} vector_t;


/*
 * secret-vectors.json, read with json_reader.h: an array of objects whose
 * fields of interest are strings; other fields are skipped whatever they
 * hold.
 */

static int
vector_field(json_t *j, vector_t *v)
{
    int    i;
    str_t  key;

    if (json_string(j, &key) != 0) {
        return -1;
    }

    if (json_expect(j, ':') != 0) {
        free(key.data);
        return -1;
    }

    for (i = 0; i < F_N; i++) {
        if (key.len == strlen(field_names[i])
            && memcmp(key.data, field_names[i], key.len) == 0)
        {
            break;
        }
    }

    free(key.data);

    if (i == F_N) {
        return json_skip(j, 1);
    }

    if (json_peek(j) != '"') {
        return json_fail(j, "a field of interest is no string");
    }

    free(v->f[i].data);
    v->f[i].data = NULL;

    return json_string(j, &v->f[i]);
}


static void
free_vectors(vector_t *v, size_t n)
{
    size_t  i, k;

    for (i = 0; i < n; i++) {
        for (k = 0; k < F_N; k++) {
            free(v[i].f[k].data);
        }
    }

    free(v);
}


/* reads the file's vectors; returns their number, or -1 with a diag */

static long
read_vectors(const char *path, vector_t **out)
{
    int        c;
    long       rc;
    size_t     n, k;
    json_t     j;
    vector_t  *v, *vs;

    if (json_load(&j, path) != 0) {
        diag("cannot open %s", path);
        return -1;
    }

    vs = NULL;
    n = 0;
    rc = -1;

    if (json_expect(&j, '[') != 0) {
        goto done;
    }

    if (json_peek(&j) == ']') {
        j.p++;
        goto end;
    }

    for ( ;; ) {
        vs = realloc(vs, (n + 1) * sizeof(vector_t));
        if (vs == NULL) {
            abort();
        }

        v = &vs[n++];
        memset(v, 0, sizeof(vector_t));

        if (json_expect(&j, '{') != 0) {
            goto done;
        }

        if (json_peek(&j) != '}') {
            for ( ;; ) {
                if (vector_field(&j, v) != 0) {
                    goto done;
                }

                if (json_peek(&j) == '}') {
                    break;
                }

                if (json_expect(&j, ',') != 0) {
                    goto done;
                }
            }
        }

        j.p++;

        for (k = 0; k < F_N; k++) {
            if (v->f[k].data == NULL) {
                diag("%s: entry %zu has no \"%s\" string", path, n,
                     field_names[k]);
                goto done;
            }
        }

        c = json_peek(&j);

        if (c == ']') {
            j.p++;
            break;
        }

        if (json_expect(&j, ',') != 0) {
            goto done;
        }
    }

end:

    if (json_peek(&j) != -1) {
        json_fail(&j, "trailing text");
        goto done;
    }

    rc = (long) n;

done:

    if (j.error) {
        diag("%s: %s at byte %zu", path, j.error, j.error_at);
    }

    json_free(&j);

    if (rc < 0) {
        free_vectors(vs, n);
        return -1;
    }

    *out = vs;

    return rc;
}


static void
test_vectors(const char *dir)
{
    long            n, i;
    char            path[4096];
    vector_t       *vs, *v;
    unsigned char   master[APIAUTH_MASTER_KEY_LEN];
    unsigned char   secret[APIAUTH_SECRET_LEN], id[APIAUTH_KEY_ID_LEN];

    snprintf(path, sizeof(path), "%s/secret-vectors.json", dir);

    vs = NULL;
    n = read_vectors(path, &vs);

    if (!ok(n > 0, "secret-vectors.json read, %ld entries", n)) {
        return;
    }

    for (i = 0; i < n; i++) {
        v = &vs[i];

        ok(apiauth_access_key_check(v->f[F_ACCESS_KEY].data,
                                    v->f[F_ACCESS_KEY].len) == 0
           && apiauth_salt_check(v->f[F_SALT].data, v->f[F_SALT].len) == 0,
           "entry %ld: its accessKey and salt have the store's formats", i);

        if (!ok(apiauth_master_key_parse(v->f[F_MASTER_KEY_FILE].data,
                                         v->f[F_MASTER_KEY_FILE].len,
                                         master) == 0,
                "entry %ld: the master key file parses", i))
        {
            continue;
        }

        memset(secret, 0, sizeof(secret));

        ok(apiauth_secret_derive(master, v->f[F_ACCESS_KEY].data,
                                 v->f[F_ACCESS_KEY].len, v->f[F_SALT].data,
                                 v->f[F_SALT].len, secret) == 0,
           "entry %ld: apiauth_secret_derive succeeds", i);
        is_str(secret, sizeof(secret), v->f[F_ACCESS_SECRET].data,
               v->f[F_ACCESS_SECRET].len,
               "entry %ld: the derived accessSecret is the vector's (%.*s)",
               i, (int) v->f[F_ACCESS_KEY].len, v->f[F_ACCESS_KEY].data);

        memset(id, 0, sizeof(id));

        ok(apiauth_master_key_id(master, id) == 0,
           "entry %ld: apiauth_master_key_id succeeds", i);
        is_str(id, sizeof(id), v->f[F_MASTER_KEY_ID].data,
               v->f[F_MASTER_KEY_ID].len,
               "entry %ld: the master key id is the vector's", i);
    }

    free_vectors(vs, (size_t) n);
}


/* apiauth_master_key_parse() on an exact-size heap copy */

static int
master_parse(const unsigned char *s, size_t len, unsigned char *master)
{
    int             rc;
    unsigned char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    memcpy(p, s, len);
    rc = apiauth_master_key_parse(p, len, master);
    free(p);

    return rc;
}


#define KEY_HEX                                                              \
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_HEX_UPPER                                                        \
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"


static void
test_master_key_parse(void)
{
    int            i;
    unsigned char  m[APIAUTH_MASTER_KEY_LEN], want[APIAUTH_MASTER_KEY_LEN];

    for (i = 0; i < APIAUTH_MASTER_KEY_LEN; i++) {
        want[i] = (unsigned char) i;
    }

    memset(m, 0xaa, sizeof(m));
    ok(master_parse(S(KEY_HEX), m) == 0
       && memcmp(m, want, sizeof(m)) == 0,
       "master key of 64 hex digits parses to its 32 bytes");

    memset(m, 0xaa, sizeof(m));
    ok(master_parse(S(KEY_HEX "\n"), m) == 0
       && memcmp(m, want, sizeof(m)) == 0,
       "master key with a trailing newline parses");

    memset(m, 0xaa, sizeof(m));
    ok(master_parse(S(KEY_HEX "\r\n"), m) == 0
       && memcmp(m, want, sizeof(m)) == 0,
       "master key with a trailing CRLF parses");

    memset(m, 0xaa, sizeof(m));
    ok(master_parse(S("  \t" KEY_HEX " \n\n"), m) == 0
       && memcmp(m, want, sizeof(m)) == 0,
       "master key surrounded by white space parses");

    memset(m, 0xaa, sizeof(m));
    ok(master_parse(S(KEY_HEX_UPPER "\n"), m) == 0
       && memcmp(m, want, sizeof(m)) == 0,
       "master key in uppercase hex parses to the same bytes");

    ok(master_parse((const unsigned char *) KEY_HEX, 63, m) == -1,
       "master key of 63 hex digits refused");
    ok(master_parse(S(KEY_HEX "0"), m) == -1,
       "master key of 65 hex digits refused");
    ok(master_parse(S("0" KEY_HEX "\n"), m) == -1,
       "master key of 65 hex digits and a newline refused");
    ok(master_parse(S("00" KEY_HEX), m) == -1,
       "master key of 66 hex digits refused");
    ok(master_parse(S(KEY_HEX KEY_HEX), m) == -1,
       "master key of 128 hex digits refused");
    ok(master_parse(S(KEY_HEX "\n" KEY_HEX "\n"), m) == -1,
       "two master keys on two lines refused");
    ok(master_parse(S("0001020304050607080g0a0b0c0d0e0f"
                      "101112131415161718191a1b1c1d1e1f"), m) == -1,
       "master key with a non-hex digit 'g' refused");
    ok(master_parse(S("0x0102030405060708090a0b0c0d0e0f"
                      "101112131415161718191a1b1c1d1e1f"), m) == -1,
       "master key with a 0x prefix refused");
    ok(master_parse(S("00010203040506070809 a0b0c0d0e0f"
                      "101112131415161718191a1b1c1d1e1f"), m) == -1,
       "master key with an inner space refused");
    ok(master_parse(S("00010203040506070809\0a0b0c0d0e0f"
                      "101112131415161718191a1b1c1d1e1f"), m) == -1,
       "master key with an inner NUL refused");
    ok(master_parse(S(""), m) == -1, "empty master key file refused");
    ok(master_parse(S("\n"), m) == -1, "master key file of a newline refused");
}


static void
test_hex(void)
{
    unsigned char  out[8];
    unsigned char  in[4] = { 0x00, 0xab, 0xff, 0x10 };

    apiauth_hex(out, in, 4);
    is_str(out, 8, "00abff10", 8, "apiauth_hex writes lowercase hex");

    memset(out, 0, sizeof(out));
    ok(apiauth_unhex(out, (const unsigned char *) "00ABff10", 4) == 0
       && memcmp(out, in, 4) == 0,
       "apiauth_unhex reads either case");
    ok(apiauth_unhex(out, (const unsigned char *) "0g", 1) == -1,
       "apiauth_unhex refuses 'g'");
    ok(apiauth_unhex(out, (const unsigned char *) "G0", 1) == -1,
       "apiauth_unhex refuses a non-hex high digit");
    ok(apiauth_unhex(out, (const unsigned char *) " 0", 1) == -1,
       "apiauth_unhex refuses a space");
    ok(apiauth_unhex(out, (const unsigned char *) "", 0) == 0,
       "apiauth_unhex of nothing succeeds");

    /* every pair of characters, against a plain reading of each */
    {
        int            c1, c2, all, all_lower;
        unsigned char  pair[2], o, lo_o;
        const char    *digits = "0123456789abcdef";

        all = 1;
        all_lower = 1;

        for (c1 = 0; c1 < 256; c1++) {
            for (c2 = 0; c2 < 256; c2++) {
                int  v1, v2, lower;

                pair[0] = (unsigned char) c1;
                pair[1] = (unsigned char) c2;

                v1 = strchr(digits, tolower(c1)) && c1 ? (int)
                     (strchr(digits, tolower(c1)) - digits) : -1;
                v2 = strchr(digits, tolower(c2)) && c2 ? (int)
                     (strchr(digits, tolower(c2)) - digits) : -1;
                lower = !isupper(c1) && !isupper(c2);

                o = 0;
                lo_o = 0;

                if (v1 < 0 || v2 < 0) {
                    all &= apiauth_unhex(&o, pair, 1) == -1;
                    all_lower &= apiauth_unhex_lower(&lo_o, pair, 1) == -1;
                    continue;
                }

                all &= apiauth_unhex(&o, pair, 1) == 0 && o == v1 * 16 + v2;
                all_lower &= lower
                    ? apiauth_unhex_lower(&lo_o, pair, 1) == 0
                      && lo_o == v1 * 16 + v2
                    : apiauth_unhex_lower(&lo_o, pair, 1) == -1;
            }
        }

        ok(all, "apiauth_unhex: all 65,536 pairs read as hex digits of "
           "either case, or refused");
        ok(all_lower, "apiauth_unhex_lower: all 65,536 pairs read as "
           "lower-case hex digits, or refused (upper case too)");
    }
}


/* HMAC-SHA256 in lowercase hex, computed here with OpenSSL alone */

static void
hmac_hex(const unsigned char *key, size_t key_len, const unsigned char *msg,
    size_t msg_len, unsigned char *hex)
{
    size_t         i;
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    HMAC(EVP_sha256(), key, (int) key_len, msg, msg_len, md, &n);

    for (i = 0; i < n; i++) {
        hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[md[i] & 0xf];
    }
}


/*
 * the HMAC with its key prepared once agrees with OpenSSL's HMAC() on keys
 * shorter than, as long as and longer than a block, on messages around the
 * block and padding boundaries, and signs many messages with one key
 */

static void
test_hmac_keyed(void)
{
    int                 same;
    size_t              k, m, i;
    unsigned char       key[131], msg[1000], md[APIAUTH_SHA256_LEN];
    unsigned char       hex[2 * APIAUTH_SHA256_LEN];
    unsigned char       want[2 * APIAUTH_SHA256_LEN];
    apiauth_hmac_key_t  hk;

    static const size_t  key_lens[] = { 0, 1, 32, 63, 64, 65, 131 };
    static const size_t  msg_lens[] = { 0, 1, 55, 56, 63, 64, 65, 119, 120,
                                        200, 1000 };

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (unsigned char) (i * 7 + 3);
    }

    for (i = 0; i < sizeof(msg); i++) {
        msg[i] = (unsigned char) (i * 13 + 1);
    }

    for (k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
        same = apiauth_hmac_key(&hk, key, key_lens[k]) == 0;

        for (m = 0; m < sizeof(msg_lens) / sizeof(msg_lens[0]); m++) {
            hmac_hex(key, key_lens[k], msg, msg_lens[m], want);

            same = same
                   && apiauth_hmac_sha256_keyed(&hk, msg, msg_lens[m], md)
                      == 0;
            apiauth_hex(hex, md, sizeof(md));
            same = same && memcmp(hex, want, sizeof(want)) == 0;

            same = same
                   && apiauth_hmac_sha256(key, key_lens[k], msg,
                                          msg_lens[m], md) == 0;
            apiauth_hex(hex, md, sizeof(md));
            same = same && memcmp(hex, want, sizeof(want)) == 0;
        }

        ok(same, "a prepared HMAC key of %zu bytes signs as HMAC() does, "
           "messages of 0 to 1000 bytes", key_lens[k]);
    }

    /* RFC 4231, test case 2 */

    apiauth_hmac_key(&hk, (const unsigned char *) "Jefe", 4);
    apiauth_hmac_sha256_keyed(&hk,
        (const unsigned char *) "what do ya want for nothing?", 28, md);
    apiauth_hex(hex, md, sizeof(md));
    ok(memcmp(hex, "5bdcc146bf60754e6a042426089575c7"
                   "5a003f089d2739839dec58b964ec3843", sizeof(hex)) == 0,
       "RFC 4231 test case 2");
}


static int
derive(const unsigned char *m, const char *ak, const char *salt,
    unsigned char *out)
{
    int             rc;
    size_t          ak_len, salt_len;
    unsigned char  *a, *s;

    /* exact-size copies, for the sanitizers */

    ak_len = strlen(ak);
    salt_len = strlen(salt);
    a = malloc(ak_len ? ak_len : 1);
    s = malloc(salt_len ? salt_len : 1);
    if (a == NULL || s == NULL) {
        abort();
    }

    memcpy(a, ak, ak_len);
    memcpy(s, salt, salt_len);
    rc = apiauth_secret_derive(m, a, ak_len, s, salt_len, out);
    free(s);
    free(a);

    return rc;
}


static int
is_lower_hex(const unsigned char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}


#define AK     "AK1234567890"
#define AK32   "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
#define SALT   "00112233445566778899aabbccddeeff"
#define SALT2  "00112233445566778899aabbccddeefe"


static void
test_derive(void)
{
    size_t         n;
    unsigned char  m[APIAUTH_MASTER_KEY_LEN], m2[APIAUTH_MASTER_KEY_LEN];
    unsigned char  s1[APIAUTH_SECRET_LEN], s2[APIAUTH_SECRET_LEN];
    unsigned char  want[APIAUTH_SECRET_LEN], msg[128];
    unsigned char  id[APIAUTH_KEY_ID_LEN], id2[APIAUTH_KEY_ID_LEN];

    if (master_parse(S(KEY_HEX), m) != 0) {
        ok(0, "the test master key parses");
        return;
    }

    memcpy(m2, m, sizeof(m));
    m2[31] ^= 0x01;

    ok(derive(m, AK, SALT, s1) == 0 && derive(m, AK, SALT, s2) == 0
       && memcmp(s1, s2, sizeof(s1)) == 0,
       "the same inputs derive the same secret");
    ok(is_lower_hex(s1, sizeof(s1)), "the secret is 64 lowercase hex digits");

    ok(derive(m, AK, SALT2, s2) == 0 && memcmp(s1, s2, sizeof(s1)) != 0,
       "the same accessKey with another salt derives another secret");
    ok(derive(m2, AK, SALT, s2) == 0 && memcmp(s1, s2, sizeof(s1)) != 0,
       "another master key (one bit flipped) derives another secret");
    ok(derive(m, "AK1234567891", SALT, s2) == 0
       && memcmp(s1, s2, sizeof(s1)) != 0,
       "another accessKey with the same salt derives another secret");
    ok(derive(m, "ak1234567890", SALT, s2) == 0
       && memcmp(s1, s2, sizeof(s1)) != 0,
       "the accessKey's case matters to the secret");

    /* the layout, independently: label NUL accessKey NUL salt */

    n = 0;
    memcpy(msg + n, "apiauth-secret-v1", 17);
    n += 17;
    msg[n++] = '\0';
    memcpy(msg + n, AK, sizeof(AK) - 1);
    n += sizeof(AK) - 1;
    msg[n++] = '\0';
    memcpy(msg + n, SALT, 32);
    n += 32;

    hmac_hex(m, sizeof(m), msg, n, want);
    is_str(s1, sizeof(s1), want, sizeof(want),
           "the secret is HMAC(master, label NUL accessKey NUL salt)");

    ok(derive(m, AK32, SALT, s2) == 0,
       "a 32-character accessKey (the longest) derives a secret");

    n = 18;
    memcpy(msg + n, AK32, 32);
    n += 32;
    msg[n++] = '\0';
    memcpy(msg + n, SALT, 32);
    n += 32;

    hmac_hex(m, sizeof(m), msg, n, want);
    is_str(s2, sizeof(s2), want, sizeof(want),
           "the secret of a 32-character accessKey is right");

    ok(derive(m, AK32 "6", SALT, s2) == -1,
       "a 33-character accessKey is refused");
    ok(derive(m, AK, "00112233445566778899aabbccddeef", s2) == -1,
       "a salt of 31 characters is refused");
    ok(derive(m, AK, SALT "0", s2) == -1,
       "a salt of 33 characters is refused");

    ok(apiauth_master_key_id(m, id) == 0
       && is_lower_hex(id, sizeof(id)),
       "the master key id is 16 lowercase hex digits");

    hmac_hex(m, sizeof(m), S("apiauth-key-id-v1"), want);
    is_str(id, sizeof(id), want, APIAUTH_KEY_ID_LEN,
           "the master key id is HMAC(master, label)'s first 16 hex digits");

    ok(apiauth_master_key_id(m2, id2) == 0
       && memcmp(id, id2, sizeof(id)) != 0,
       "another master key has another id");
}


int
main(int argc, char **argv)
{
    const char  *dir;

    dir = (argc > 1) ? argv[1] : getenv("APIAUTH_DATA");

    if (ok(dir != NULL && dir[0] != '\0',
           "the data directory, t/data, is given (argv[1])"))
    {
        test_vectors(dir);
    }

    test_master_key_parse();
    test_hex();
    test_hmac_keyed();
    test_derive();

    return done_testing();
}
