
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The Redis connection: URL, password, scripts and their refusals.
 * Synchronous hiredis is right for a command-line tool.
 */


#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_key.h"


typedef struct {
    char        host[256];
    int         port;
    char        path[256];            /* unix socket */
    char        user[128];
    char        password[256];
    int         url_password;
    long long   db;
} ctl_redis_addr_t;


static void ctl_redis_parse_url(const char *url, ctl_redis_addr_t *a);
static void ctl_redis_password(ctl_redis_addr_t *a);
static void ctl_redis_check(redisReply *r, const char *what);
static void ctl_schema_fail(const char *schema)
    __attribute__((noreturn));


/*
 * the bound, the store's schema and its change stream are written once, in
 * apiauth_key.h and apiauth_store.h: the scripts get them here
 */
const char  ctl_lua_bounds[] =
    "local APIAUTH_IPS_MAX = " CTL_XSTR(APIAUTH_IPS_MAX) "\n"
    "local APIAUTH_SCHEMA = " CTL_XSTR(APIAUTH_STORE_SCHEMA) "\n"
    "local APIAUTH_CHANGES = '" APIAUTH_STORE_CHANGES "'\n"
    "local APIAUTH_CHANGES_MAXLEN = "
        CTL_XSTR(APIAUTH_STORE_CHANGES_MAXLEN) "\n"
    "local APIAUTH_KEY_PREFIX = '" APIAUTH_STORE_KEY_PREFIX "'\n"
    "local APIAUTH_POLICY_PREFIX = '" APIAUTH_STORE_POLICY_PREFIX "'\n"
    "local APIAUTH_POLICY_KEYS_PREFIX = '"
        APIAUTH_STORE_POLICY_KEYS_PREFIX "'\n"
    "local APIAUTH_RATE_PREFIX = '" APIAUTH_STORE_RATE_PREFIX "'\n"
    "local APIAUTH_QUOTA_PREFIX = '" APIAUTH_STORE_QUOTA_PREFIX "'\n";


#define ctl_url_fail(url)                                                    \
    ctl_fail(CTL_EXIT_USAGE, "invalid Redis URL \"%s\"; use "               \
             "redis://[user@]host:port/db or unix:/path[?db=N]", url)


static void
ctl_redis_parse_url(const char *url, ctl_redis_addr_t *a)
{
    size_t       n;
    long long    v;
    const char  *p, *at, *colon, *slash, *end;
    char         num[32];

    memset(a, 0, sizeof(ctl_redis_addr_t));
    a->port = 6379;

    if (strncmp(url, "unix:", 5) == 0) {
        p = url + 5;
        end = strstr(p, "?db=");
        n = end ? (size_t) (end - p) : strlen(p);

        if (n == 0 || n >= sizeof(a->path) || p[0] != '/') {
            ctl_url_fail(url);
        }

        memcpy(a->path, p, n);

        if (end && ctl_parse_uint(end + 4, 1000000, &a->db) != 0) {
            ctl_url_fail(url);
        }

        return;
    }

    if (strncmp(url, "redis://", 8) != 0) {
        ctl_url_fail(url);
    }

    p = url + 8;
    slash = strchr(p, '/');
    end = slash ? slash : p + strlen(p);

    at = memchr(p, '@', end - p);

    if (at) {
        colon = memchr(p, ':', at - p);
        n = (colon ? colon : at) - p;

        if (n >= sizeof(a->user)) {
            ctl_url_fail(url);
        }

        memcpy(a->user, p, n);

        if (colon) {
            n = at - colon - 1;

            if (n >= sizeof(a->password)) {
                ctl_url_fail(url);
            }

            memcpy(a->password, colon + 1, n);
            a->url_password = 1;
        }

        p = at + 1;
    }

    if (*p == '[') {
        colon = memchr(p, ']', end - p);
        if (colon == NULL) {
            ctl_url_fail(url);
        }

        n = colon - p - 1;
        if (n == 0 || n >= sizeof(a->host)) {
            ctl_url_fail(url);
        }

        memcpy(a->host, p + 1, n);
        p = colon + 1;
        colon = (p < end && *p == ':') ? p : NULL;

        if (p < end && colon == NULL) {
            ctl_url_fail(url);
        }

    } else {
        colon = memchr(p, ':', end - p);
        n = (colon ? colon : end) - p;

        if (n == 0 || n >= sizeof(a->host)) {
            ctl_url_fail(url);
        }

        memcpy(a->host, p, n);
    }

    if (colon) {
        n = end - colon - 1;

        if (n == 0 || n >= sizeof(num)) {
            ctl_url_fail(url);
        }

        memcpy(num, colon + 1, n);
        num[n] = '\0';

        if (ctl_parse_uint(num, 65535, &v) != 0 || v == 0) {
            ctl_url_fail(url);
        }

        a->port = (int) v;
    }

    if (slash && slash[1] != '\0'
        && ctl_parse_uint(slash + 1, 1000000, &a->db) != 0)
    {
        ctl_url_fail(url);
    }
}


/* a file given on the command line wins over the environment and the URL */

static void
ctl_redis_password(ctl_redis_addr_t *a)
{
    size_t       n;
    FILE        *f;
    const char  *env;

    if (ctl.password_file) {
        f = fopen(ctl.password_file, "r");
        if (f == NULL) {
            ctl_fail(CTL_EXIT_USAGE, "cannot read Redis password file "
                     "\"%s\": %s", ctl.password_file, strerror(errno));
        }

        n = fread(a->password, 1, sizeof(a->password) - 1, f);
        fclose(f);
        a->password[n] = '\0';

        while (n && (a->password[n - 1] == '\n'
                     || a->password[n - 1] == '\r'))
        {
            a->password[--n] = '\0';
        }

        if (n == 0) {
            ctl_fail(CTL_EXIT_USAGE, "Redis password file \"%s\" is empty",
                     ctl.password_file);
        }

        return;
    }

    env = getenv("APIAUTH_REDIS_PASSWORD");

    if (env && *env) {
        if (strlen(env) >= sizeof(a->password)) {
            ctl_fail(CTL_EXIT_USAGE, "APIAUTH_REDIS_PASSWORD is too long");
        }

        strcpy(a->password, env);
        return;
    }

    if (a->url_password) {
        ctl_warn("a password in the Redis URL shows in \"ps\"; use "
                 "APIAUTH_REDIS_PASSWORD or --redis-password-file");
    }
}


void
ctl_redis_connect(void)
{
    redisReply       *r;
    struct timeval    tv;
    ctl_redis_addr_t  a;

    ctl_redis_parse_url(ctl.redis_url, &a);
    ctl_redis_password(&a);

    tv.tv_sec = 3;
    tv.tv_usec = 0;

    if (a.path[0]) {
        snprintf(ctl.addr, sizeof(ctl.addr), "unix:%s", a.path);
        ctl.rc = redisConnectUnixWithTimeout(a.path, tv);

    } else {
        snprintf(ctl.addr, sizeof(ctl.addr), strchr(a.host, ':')
                 ? "[%s]:%d" : "%s:%d", a.host, a.port);
        ctl.rc = redisConnectWithTimeout(a.host, a.port, tv);
    }

    if (ctl.rc == NULL || ctl.rc->err) {
        ctl_fail(CTL_EXIT_RUNTIME, "cannot connect to Redis at %s: %s",
                 ctl.addr, ctl.rc ? ctl.rc->errstr : "out of memory");
    }

    tv.tv_sec = 10;
    redisSetTimeout(ctl.rc, tv);

    if (a.password[0]) {
        if (a.user[0]) {
            r = redisCommand(ctl.rc, "AUTH %s %s", a.user, a.password);

        } else {
            r = redisCommand(ctl.rc, "AUTH %s", a.password);
        }

        ctl_redis_check(r, "AUTH");
        freeReplyObject(r);

    } else if (a.user[0]) {
        ctl_fail(CTL_EXIT_USAGE, "Redis user \"%s\" needs a password: set "
                 "APIAUTH_REDIS_PASSWORD or --redis-password-file", a.user);
    }

    if (a.db) {
        r = redisCommand(ctl.rc, "SELECT %lld", a.db);
        ctl_redis_check(r, "SELECT");
        freeReplyObject(r);
    }

    memset(a.password, 0, sizeof(a.password));
}


static void
ctl_redis_check(redisReply *r, const char *what)
{
    if (r == NULL) {
        ctl_fail(CTL_EXIT_RUNTIME, "lost the connection to Redis at %s: %s",
                 ctl.addr, ctl.rc->errstr);
    }

    if (r->type == REDIS_REPLY_ERROR) {
        ctl_fail_reply(r, CTL_EXIT_RUNTIME, "Redis at %s refused %s: %s",
                       ctl.addr, what, r->str);
    }
}


/*
 * The ways the tool talks to Redis, all of them here: a lost connection
 * always ends the run.  ctl_redis_cmd(): any error reply is a runtime
 * failure too; ctl_redis_reply(): the caller reads error replies itself;
 * ctl_redis_append() and ctl_redis_next(): a pipeline; ctl_script(): the
 * changes.
 */

redisReply *
ctl_redis_cmd(const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = redisvCommand(ctl.rc, fmt, ap);
    va_end(ap);

    ctl_redis_check(r, fmt);

    return r;
}


redisReply *
ctl_redis_reply(const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = redisvCommand(ctl.rc, fmt, ap);
    va_end(ap);

    if (r == NULL) {
        ctl_redis_check(r, fmt);
    }

    return r;
}


void
ctl_redis_append(const char *fmt, ...)
{
    int      rc;
    va_list  ap;

    va_start(ap, fmt);
    rc = redisvAppendCommand(ctl.rc, fmt, ap);
    va_end(ap);

    if (rc != REDIS_OK) {
        ctl_fail(CTL_EXIT_RUNTIME, "out of memory");
    }
}


/* the next reply of a pipeline, error replies included */

redisReply *
ctl_redis_next(void)
{
    redisReply  *r;

    if (redisGetReply(ctl.rc, (void **) &r) != REDIS_OK) {
        r = NULL;
    }

    if (r == NULL) {
        ctl_redis_check(r, "a pipelined command");
    }

    return r;
}


/*
 * runs the prelude and body as one script: every change is a script, so
 * it is atomic, and it appends its entry to the change stream in the same
 * step
 */

redisReply *
ctl_script(const char *body, int nkeys, int argc, const char **argv)
{
    int           i, n;
    char          numkeys[16], *src;
    size_t        hlen, plen, blen;
    size_t       *lens;
    const char  **args;
    redisReply   *r;

    hlen = strlen(ctl_lua_bounds);
    plen = strlen(ctl_lua_prelude);
    blen = strlen(body);
    src = ctl_alloc(hlen + plen + blen + 1);
    memcpy(src, ctl_lua_bounds, hlen);
    memcpy(src + hlen, ctl_lua_prelude, plen);
    memcpy(src + hlen + plen, body, blen);

    snprintf(numkeys, sizeof(numkeys), "%d", nkeys);

    n = argc + 3;
    args = ctl_alloc(n * sizeof(char *));
    lens = ctl_alloc(n * sizeof(size_t));

    args[0] = "EVAL";
    args[1] = src;
    args[2] = numkeys;

    for (i = 0; i < argc; i++) {
        args[i + 3] = argv[i];
    }

    for (i = 0; i < n; i++) {
        lens[i] = strlen(args[i]);
    }

    r = redisCommandArgv(ctl.rc, n, args, lens);

    free(src);
    free(args);
    free(lens);

    if (r == NULL) {
        ctl_redis_check(r, "EVAL");
    }

    if (r->type == REDIS_REPLY_ERROR) {
        ctl_script_fail(r);
    }

    return r;
}


/*
 * the scripts refuse with "CODE detail"; refusals of the request are usage
 * errors (2), a store that cannot be used is a runtime failure (1)
 */

void
ctl_script_fail(redisReply *r)
{
    char    *detail, code[32], str[1024];
    size_t   n;

    /* the reply is freed here: a leak checker sees nothing left at exit */

    n = strlen(r->str);

    if (n >= sizeof(str)) {
        n = sizeof(str) - 1;
    }

    memcpy(str, r->str, n);
    str[n] = '\0';

    freeReplyObject(r);

    detail = strchr(str, ' ');
    n = detail ? (size_t) (detail - str) : strlen(str);
    detail = detail ? detail + 1 : (char *) "";

    if (n >= sizeof(code)) {
        n = sizeof(code) - 1;
    }

    memcpy(code, str, n);
    code[n] = '\0';

    if (strcmp(code, "NOINIT") == 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "the key store at %s is not initialised; "
                 "run \"apiauth-ctl init\"", ctl.addr);
    }

    if (strcmp(code, "KEYID") == 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "master key mismatch: \"%s\" has id %s, "
                 "the key store at %s was initialised with id %s",
                 ctl.master_path, ctl.key_id, ctl.addr, detail);
    }

    if (strcmp(code, "SCHEMA") == 0) {
        ctl_schema_fail(detail);
    }

    if (strcmp(code, "CHANGES") == 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "the key store at %s holds a %s at \""
                 APIAUTH_STORE_CHANGES "\", the name of its change stream: "
                 "no change can be announced; rename or delete it",
                 ctl.addr, detail);
    }

    if (strcmp(code, "NOKEY") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "no key with accessKey \"%s\"", detail);
    }

    if (strcmp(code, "EXISTS") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "a key with accessKey \"%s\" exists already",
                 detail);
    }

    if (strcmp(code, "MAXKEYS") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "the key store holds max_keys (%s) keys "
                 "already; raise the limit with \"apiauth-ctl config set "
                 "max_keys N\"", detail);
    }

    if (strcmp(code, "MAXIPS") == 0 && strchr(detail, ' ') != NULL) {
        ctl_fail(CTL_EXIT_USAGE, "a whitelist holds at most %d entries, the "
                 "module's bound, whatever max_ips says", APIAUTH_IPS_MAX);
    }

    if (strcmp(code, "MAXIPS") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "a whitelist holds at most max_ips (%s) "
                 "entries; raise the limit with \"apiauth-ctl config set "
                 "max_ips N\" (at most %d)", detail, APIAUTH_IPS_MAX);
    }

    if (strcmp(code, "ENABLED") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "key \"%s\" is enabled; disable it with "
                 "\"apiauth-ctl key disable %s\" before deleting it",
                 detail, detail);
    }

    if (strcmp(code, "NOENTRY") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "\"%s\" is not in the whitelist", detail);
    }

    if (strcmp(code, "NOPOLICY") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "no policy named \"%s\"", detail);
    }

    if (strcmp(code, "POLEXISTS") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "a policy named \"%s\" exists already",
                 detail);
    }

    if (strcmp(code, "INUSE") == 0) {
        ctl_policy_in_use(detail);
    }

    if (strcmp(code, "NOIF") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "no interface named \"%s\"", detail);
    }

    if (strcmp(code, "IFEXISTS") == 0) {
        ctl_fail(CTL_EXIT_USAGE, "an interface named \"%s\" exists already; "
                 "remove it first", detail);
    }

    ctl_fail(CTL_EXIT_RUNTIME, "Redis at %s refused the change: %s",
             ctl.addr, str);
}


/*
 * a store of another schema than the tool's: an older one is upgraded, a
 * newer one needs a newer tool (the detail is what the store holds, or
 * "none")
 */

static void
ctl_schema_fail(const char *schema)
{
    char       text[CTL_ESCAPED_SIZE(64)];
    size_t     n;
    long long  v;

    if (strcmp(schema, "none") == 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "the key store at %s has no schema; run "
                 "\"apiauth-ctl upgrade\"", ctl.addr);
    }

    n = strlen(schema);
    ctl_escape(text, schema, n < 64 ? n : 64);

    if (ctl_parse_uint(schema, 1000000, &v) == 0) {
        if (v < APIAUTH_STORE_SCHEMA) {
            ctl_fail(CTL_EXIT_RUNTIME, "the key store at %s has schema %s; "
                     "run \"apiauth-ctl upgrade\"", ctl.addr, text);
        }

        if (v > APIAUTH_STORE_SCHEMA) {
            ctl_fail(CTL_EXIT_RUNTIME, "the key store at %s has schema %s, "
                     "newer than this apiauth-ctl (%d): upgrade apiauth-ctl",
                     ctl.addr, text, APIAUTH_STORE_SCHEMA);
        }
    }

    ctl_fail(CTL_EXIT_RUNTIME, "the key store at %s has schema \"%s\", "
             "which is not a schema (this apiauth-ctl knows %d)", ctl.addr,
             text, APIAUTH_STORE_SCHEMA);
}


/* ctl_script() with its arguments listed, NULL-terminated */

redisReply *
ctl_scriptl(const char *body, int nkeys, ...)
{
    int          n;
    va_list      ap;
    const char  *argv[64];

    va_start(ap, nkeys);

    for (n = 0; ; n++) {
        if (n == (int) (sizeof(argv) / sizeof(argv[0]))) {
            va_end(ap);
            ctl_fail(CTL_EXIT_RUNTIME, "internal error: a script of more "
                     "than %d arguments", n);
        }

        argv[n] = va_arg(ap, const char *);
        if (argv[n] == NULL) {
            break;
        }
    }

    va_end(ap);

    return ctl_script(body, nkeys, n, argv);
}
