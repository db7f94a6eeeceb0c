
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl key jwt: a key's JWT method (docs/jwt.md), set whole or
 * removed in one script, and how key show shows it.
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_jwt.h"
#include "apiauth_jwt_key.h"


#define JWT_CLAIM_MAX      APIAUTH_JWT_CLAIM_MAX
#define JWT_LIFETIME_MAX   9999999999LL  /* ten digits, as the reader takes */
#define JWT_LIFETIME_SIZE  16

#define JWT_CLAIM_RULE                                                       \
    "1 to 256 bytes of printable ASCII, no spaces"

#define JWT_LIFETIME_RULE                                                    \
    "1 to 9999999999 seconds, as N or with a unit: 30s, 15m, 12h, 7d, 2w"


/* what the command line asks for */
typedef struct {
    const char     *ak;
    const char     *alg_name;
    const char     *key_file;
    const char     *issuer;
    const char     *audience;
    const char     *lifetime;
    const char     *require_exp;
    int             alg;
    int             off;
} jwt_args_t;


static void jwt_args(int argc, char **argv, jwt_args_t *a);
static void jwt_once(const char **opt, const char *name, const char *arg);
static void jwt_check(jwt_args_t *a, char *pem, size_t *pem_len,
    char *lifetime);
static void jwt_claim_arg(const char *opt, const char *s);
static void jwt_lifetime_arg(const char *s, char *out, size_t size);
static size_t jwt_read_pem(const char *path, char *buf);
static int jwt_space(char c);
static void jwt_write(const jwt_args_t *a, const char *pem,
    const char *lifetime);
static void jwt_done(const char *ak);
static void jwt_describe(const ctl_key_t *k);
static void jwt_print_text(const char *s);
static int jwt_lifetime(const ctl_key_t *k, long long *v);


/* the six fields of a JWT method, removed by "off" or when not given */
static const char  *jwt_fields[] = {
    "jwt_alg", "jwt_public_key", "jwt_issuer", "jwt_audience",
    "jwt_max_lifetime", "jwt_require_exp"
};


static const char  key_jwt_help[] =
    "usage: apiauth-ctl key jwt AK --alg HS256|RS256|ES256|EdDSA\n"
    "           [--public-key FILE] [--issuer ISS] [--audience AUD]\n"
    "           [--max-lifetime TIME] [--require-exp on|off] [--json]\n"
    "       apiauth-ctl key jwt AK off [--json]\n"
    "\n"
    "Sets the key's JWT method, replacing the one it had whole: an option\n"
    "not given now is removed.  A token's header alg must be ALG.\n"
    "HS256: signed with the key's accessSecret; no --public-key.\n"
    "RS256 (RSA, 2048 to 4096 bits), ES256 (EC on P-256), EdDSA (Ed25519):\n"
    "--public-key FILE, one PEM \"PUBLIC KEY\" block of at most 4096 bytes.\n"
    "--issuer: the token's iss must be ISS; --audience: its aud must hold\n"
    "AUD; each " JWT_CLAIM_RULE ".\n"
    "--max-lifetime: exp - iat (or exp - now) at most TIME: seconds, or\n"
    "30s, 15m, 12h, 7d, 2w; at most 9999999999 seconds.\n"
    "--require-exp: a token without exp is refused (on, the default) or\n"
    "admitted (off).\n"
    "\"off\" removes the JWT method.\n";


int
ctl_key_jwt(int argc, char **argv)
{
    char        pem[APIAUTH_JWT_PEM_MAX + 1], lifetime[JWT_LIFETIME_SIZE];
    size_t      pem_len;
    jwt_args_t  a;

    jwt_args(argc, argv, &a);

    pem_len = 0;
    lifetime[0] = '\0';

    if (!a.off) {
        jwt_check(&a, pem, &pem_len, lifetime);
    }

    ctl_redis_connect();
    ctl_master_check();

    jwt_write(&a, pem_len ? pem : NULL, lifetime);
    jwt_done(a.ak);

    return CTL_EXIT_OK;
}


static void
jwt_args(int argc, char **argv, jwt_args_t *a)
{
    int  opt;

    static const struct option  options[] = {
        { "alg", required_argument, NULL, 'a' },
        { "public-key", required_argument, NULL, 'p' },
        { "issuer", required_argument, NULL, 'i' },
        { "audience", required_argument, NULL, 'u' },
        { "max-lifetime", required_argument, NULL, 'l' },
        { "require-exp", required_argument, NULL, 'e' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(a, 0, sizeof(jwt_args_t));

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'a': jwt_once(&a->alg_name, "--alg", optarg); break;
        case 'p': jwt_once(&a->key_file, "--public-key", optarg); break;
        case 'i': jwt_once(&a->issuer, "--issuer", optarg); break;
        case 'u': jwt_once(&a->audience, "--audience", optarg); break;
        case 'l': jwt_once(&a->lifetime, "--max-lifetime", optarg); break;
        case 'e': jwt_once(&a->require_exp, "--require-exp", optarg); break;
        default: ctl_common_opt(opt, argv, key_jwt_help);
        }
    }

    if (argc - optind < 1 || argc - optind > 2) {
        ctl_fail(CTL_EXIT_USAGE, "\"key jwt\" takes one accessKey (and off); "
                 "see \"apiauth-ctl key jwt --help\"");
    }

    a->ak = ctl_access_key_arg(argv[optind]);

    if (argc - optind == 2) {
        if (strcmp(argv[optind + 1], "off") != 0) {
            ctl_fail(CTL_EXIT_USAGE, "unexpected argument \"%s\": \"key jwt "
                     "AK\" takes --alg and its options, or off",
                     argv[optind + 1]);
        }

        if (a->alg_name || a->key_file || a->issuer || a->audience
            || a->lifetime || a->require_exp)
        {
            ctl_fail(CTL_EXIT_USAGE, "\"key jwt AK off\" takes no other "
                     "option than --json");
        }

        a->off = 1;
    }
}


/* an option given twice is a mistake, not a choice of the last one */

static void
jwt_once(const char **opt, const char *name, const char *arg)
{
    if (*opt) {
        ctl_fail(CTL_EXIT_USAGE, "%s is given twice", name);
    }

    *opt = arg;
}


/* everything is checked before anything is written */

static void
jwt_check(jwt_args_t *a, char *pem, size_t *pem_len, char *lifetime)
{
    EVP_PKEY    *pkey;
    const char  *why;

    if (a->alg_name == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "\"key jwt\" needs --alg HS256, RS256, "
                 "ES256 or EdDSA (or off)");
    }

    a->alg = apiauth_jwt_alg((const unsigned char *) a->alg_name,
                             strlen(a->alg_name));

    if (a->alg <= 0) {
        ctl_fail(CTL_EXIT_USAGE, "unknown algorithm \"%s\": use HS256, RS256, "
                 "ES256 or EdDSA, as written", a->alg_name);
    }

    if (a->alg == APIAUTH_JWT_HS256 && a->key_file) {
        ctl_fail(CTL_EXIT_USAGE, "HS256 takes no --public-key: its HMAC key "
                 "is the key's accessSecret");
    }

    if (a->alg != APIAUTH_JWT_HS256 && a->key_file == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "%s needs --public-key FILE, the PEM of "
                 "its public key", a->alg_name);
    }

    if (a->issuer) {
        jwt_claim_arg("--issuer", a->issuer);
    }

    if (a->audience) {
        jwt_claim_arg("--audience", a->audience);
    }

    if (a->lifetime) {
        jwt_lifetime_arg(a->lifetime, lifetime, JWT_LIFETIME_SIZE);
    }

    if (a->require_exp && strcmp(a->require_exp, "on") != 0
        && strcmp(a->require_exp, "off") != 0)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid --require-exp \"%s\": use on or "
                 "off", a->require_exp);
    }

    if (a->key_file == NULL) {
        return;
    }

    *pem_len = jwt_read_pem(a->key_file, pem);

    pkey = apiauth_jwt_key_load((const unsigned char *) pem, *pem_len,
                                a->alg, &why);

    if (pkey == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "invalid public key in \"%s\" for %s: %s",
                 a->key_file, a->alg_name, why);
    }

    EVP_PKEY_free(pkey);
}


static void
jwt_claim_arg(const char *opt, const char *s)
{
    size_t  i, n;

    n = strlen(s);

    if (n == 0 || n > JWT_CLAIM_MAX) {
        ctl_fail(CTL_EXIT_USAGE, "invalid %s of %zu bytes: use "
                 JWT_CLAIM_RULE, opt, n);
    }

    for (i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f) {
            ctl_fail(CTL_EXIT_USAGE, "invalid %s \"%s\": use "
                     JWT_CLAIM_RULE, opt, s);
        }
    }
}


/* N, Ns, Nm, Nh, Nd or Nw: seconds in out, in decimal */

static void
jwt_lifetime_arg(const char *s, char *out, size_t size)
{
    char       num[16];
    size_t     n;
    long long  v, unit;

    n = strlen(s);
    unit = 1;

    if (n > 1 && strchr("smhdw", s[n - 1]) != NULL) {
        switch (s[n - 1]) {
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: break;
        }

        n--;
    }

    if (n == 0 || n >= sizeof(num)) {
        goto invalid;
    }

    memcpy(num, s, n);
    num[n] = '\0';

    if (ctl_parse_uint(num, JWT_LIFETIME_MAX / unit, &v) != 0 || v == 0) {
        goto invalid;
    }

    snprintf(out, size, "%lld", v * unit);

    return;

invalid:

    ctl_fail(CTL_EXIT_USAGE, "invalid --max-lifetime \"%s\": use "
             JWT_LIFETIME_RULE, s);
}


/*
 * the file's bytes, at most APIAUTH_JWT_PEM_MAX, trimmed of the white
 * space around them: the text is stored as it was read
 */

static size_t
jwt_read_pem(const char *path, char *buf)
{
    FILE    *f;
    size_t   n, b;

    f = fopen(path, "rb");

    if (f == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "cannot open the public key \"%s\": %s",
                 path, strerror(errno));
    }

    n = fread(buf, 1, APIAUTH_JWT_PEM_MAX + 1, f);

    if (ferror(f)) {
        fclose(f);
        ctl_fail(CTL_EXIT_USAGE, "cannot read the public key \"%s\"", path);
    }

    fclose(f);

    if (n > APIAUTH_JWT_PEM_MAX) {
        ctl_fail(CTL_EXIT_USAGE, "the public key \"%s\" is longer than %d "
                 "bytes: give one PEM public key", path, APIAUTH_JWT_PEM_MAX);
    }

    for (b = 0; b < n && jwt_space(buf[b]); b++) {
        /* void */
    }

    while (n > b && jwt_space(buf[n - 1])) {
        n--;
    }

    memmove(buf, buf + b, n - b);
    buf[n - b] = '\0';

    if (n == b) {
        ctl_fail(CTL_EXIT_USAGE, "the public key \"%s\" is empty", path);
    }

    return n - b;
}


static int
jwt_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}


/*
 * one script sets the method's fields and removes the others, so that
 * nginx never reads half of one; it appends "op key.jwt ak AK"
 */

static void
jwt_write(const jwt_args_t *a, const char *pem, const char *lifetime)
{
    int          i, n, nset;
    char         store[CTL_KEY_STORE_LEN], count[16];
    const char  *argv[32], *value[6];

    value[0] = a->off ? NULL : a->alg_name;
    value[1] = pem;
    value[2] = a->issuer;
    value[3] = a->audience;
    value[4] = lifetime[0] ? lifetime : NULL;
    value[5] = a->off ? NULL : (a->require_exp ? a->require_exp : "on");

    nset = 0;

    for (i = 0; i < 6; i++) {
        nset += (value[i] != NULL);
    }

    ctl_key_store_name(store, a->ak);
    snprintf(count, sizeof(count), "%d", nset);

    n = 0;
    argv[n++] = APIAUTH_STORE_META;
    argv[n++] = store;
    argv[n++] = ctl.key_id;
    argv[n++] = ctl_now();
    argv[n++] = a->ak;
    argv[n++] = "jwt";
    argv[n++] = count;

    for (i = 0; i < 6; i++) {
        if (value[i]) {
            argv[n++] = jwt_fields[i];
            argv[n++] = value[i];
        }
    }

    for (i = 0; i < 6; i++) {
        if (value[i] == NULL) {
            argv[n++] = jwt_fields[i];
        }
    }

    freeReplyObject(ctl_script(ctl_lua_key_update, 2, n, argv));
}


/* the method as the store now holds it */

static void
jwt_done(const char *ak)
{
    ctl_key_t  k;

    if (ctl_key_read(ak, &k) != 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "key \"%s\" vanished during jwt", ak);
    }

    if (ctl.json) {
        json_begin_object();
        json_str_field("access_key", ak);
        ctl_jwt_json(&k);
        json_end_object();
        json_end();

    } else {
        printf("key \"%s\": jwt ", ak);
        jwt_describe(&k);
        fputc('\n', stdout);
    }

    ctl_key_free(&k);
}


/*
 * a public key that nginx reads with apiauth_jwt_key_load() and that does
 * not load: the record reader cannot see it, this does.  nginx refuses the
 * key's tokens then (store_unavailable), not the key: its signed requests
 * still pass, so the record is not "refused"
 */

void
ctl_jwt_check(ctl_key_t *k, const apiauth_record_t *rec)
{
    int          alg;
    EVP_PKEY    *pkey;
    const char  *why;

    k->jwt_fingerprint[0] = '\0';
    k->jwt_key_error = NULL;

    if (rec->jwt_alg.data == NULL || rec->jwt_public_key.data == NULL
        || rec->jwt_public_key.len == 0)
    {
        return;
    }

    alg = apiauth_jwt_alg(rec->jwt_alg.data, rec->jwt_alg.len);

    if (alg <= APIAUTH_JWT_HS256) {
        return;
    }

    pkey = apiauth_jwt_key_load(rec->jwt_public_key.data,
                                rec->jwt_public_key.len, alg, &why);

    if (pkey == NULL) {
        k->jwt_key_error = why;
        return;
    }

    if (apiauth_jwt_key_fingerprint(pkey, k->jwt_fingerprint) != 0) {
        k->jwt_fingerprint[0] = '\0';
    }

    EVP_PKEY_free(pkey);
}


/* "jwt": null, or the method */

void
ctl_jwt_json(const ctl_key_t *k)
{
    long long  v;

    json_key("jwt");

    if (k->jwt_alg == NULL) {
        json_null();
        return;
    }

    json_begin_object();
    json_str_field("alg", k->jwt_alg);
    json_str_field("public_key_fingerprint",
                   k->jwt_fingerprint[0] ? k->jwt_fingerprint : NULL);
    json_str_field("public_key_error", k->jwt_key_error);
    json_str_field("issuer", k->jwt_issuer);
    json_str_field("audience", k->jwt_audience);
    json_key("max_lifetime");

    if (jwt_lifetime(k, &v) == 0) {
        json_int(v);

    } else {
        json_null();
    }

    json_bool_field("require_exp", k->jwt_require_exp == NULL
                                   || strcmp(k->jwt_require_exp, "off") != 0);
    json_end_object();
}


void
ctl_jwt_print(const ctl_key_t *k)
{
    printf("%-15s", "jwt");
    jwt_describe(k);
    fputc('\n', stdout);

    if (k->jwt_key_error) {
        printf("%-15srefuses its tokens (store_unavailable): the public key "
               "does not load: %s\n", "nginx", k->jwt_key_error);
    }
}


/* one line: the values as stored, escaped */

static void
jwt_describe(const ctl_key_t *k)
{
    long long  v;

    if (k->jwt_alg == NULL) {
        fputs("none", stdout);
        return;
    }

    jwt_print_text(k->jwt_alg);

    if (strcmp(k->jwt_alg, "HS256") == 0) {
        fputs(" (HMAC with the access secret)", stdout);

    } else if (k->jwt_key_error) {
        fputs(", public key unreadable", stdout);

    } else if (k->jwt_fingerprint[0]) {
        printf(", key sha256:%s", k->jwt_fingerprint);

    } else if (k->jwt_public_key == NULL || k->jwt_public_key[0] == '\0') {
        fputs(", no public key", stdout);
    }

    fputs(k->jwt_issuer ? ", issuer " : ", any issuer", stdout);
    jwt_print_text(k->jwt_issuer);

    fputs(k->jwt_audience ? ", audience " : ", any audience", stdout);
    jwt_print_text(k->jwt_audience);

    if (k->jwt_max_lifetime == NULL) {
        fputs(", any lifetime", stdout);

    } else if (jwt_lifetime(k, &v) == 0) {
        printf(", max lifetime %lld s", v);

    } else {
        fputs(", max lifetime \"", stdout);
        jwt_print_text(k->jwt_max_lifetime);
        fputc('"', stdout);
    }

    if (k->jwt_require_exp == NULL || strcmp(k->jwt_require_exp, "on") == 0) {
        fputs(", exp required", stdout);

    } else if (strcmp(k->jwt_require_exp, "off") == 0) {
        fputs(", exp not required", stdout);

    } else {
        fputs(", require_exp \"", stdout);
        jwt_print_text(k->jwt_require_exp);
        fputc('"', stdout);
    }
}


static void
jwt_print_text(const char *s)
{
    char  *text;

    if (s == NULL) {
        return;
    }

    text = ctl_escape_dup(s, strlen(s));
    fputs(text, stdout);
    free(text);
}


/* the stored lifetime as the record reader takes it: 1 to 10 digits */

static int
jwt_lifetime(const ctl_key_t *k, long long *v)
{
    size_t  n;

    if (k->jwt_max_lifetime == NULL) {
        return -1;
    }

    n = strlen(k->jwt_max_lifetime);

    if (n == 0 || n > 10) {
        return -1;
    }

    return ctl_parse_uint(k->jwt_max_lifetime, JWT_LIFETIME_MAX, v);
}
