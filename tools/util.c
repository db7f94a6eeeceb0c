
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Errors, allocation, times and random values.
 */


#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "ctl.h"
#include "apiauth_key.h"


static int ctl_parse_digits(const char **p, int n, int *v);


static void ctl_fail_exit(int code, const char *msg)
    __attribute__((noreturn));


/* a message may quote the store or the command line: escaped on stderr */

static void
ctl_fail_exit(int code, const char *msg)
{
    if (ctl.made_file) {
        unlink(ctl.made_file);
    }

    char  text[CTL_ESCAPED_SIZE(2048)];

    ctl_escape(text, msg, strlen(msg));
    fprintf(stderr, "apiauth-ctl: error: %s\n", text);

    if (ctl.json) {
        /* one document per run: scripts read this one instead */
        json_discard();
        printf("{\"error\":");
        json_escape(stdout, msg, strlen(msg));
        printf("}\n");
    }

    exit(code);
}


void
ctl_fail(int code, const char *fmt, ...)
{
    char     msg[2048];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    ctl_fail_exit(code, msg);
}


/*
 * a failure that holds a reply frees it on the way out, once the message
 * that may quote it is written, so that a leak checker sees nothing left
 * behind whatever registers the compiler kept it in
 */

void
ctl_fail_reply(redisReply *r, int code, const char *fmt, ...)
{
    char     msg[2048];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    freeReplyObject(r);

    ctl_fail_exit(code, msg);
}


void
ctl_warn(const char *fmt, ...)
{
    char     msg[2048], text[CTL_ESCAPED_SIZE(2048)];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    ctl_escape(text, msg, strlen(msg));
    fprintf(stderr, "apiauth-ctl: warning: %s\n", text);
}


void *
ctl_alloc(size_t n)
{
    void  *p;

    p = calloc(1, n ? n : 1);
    if (p == NULL) {
        ctl_fail(CTL_EXIT_RUNTIME, "out of memory");
    }

    return p;
}


char *
ctl_strdup(const char *s)
{
    size_t  n;
    char   *p;

    n = strlen(s);
    p = ctl_alloc(n + 1);
    memcpy(p, s, n);

    return p;
}


void
ctl_help_exit(const char *text)
{
    fputs(text, stdout);
    exit(CTL_EXIT_OK);
}


/*
 * every command takes --json and --help; getopt_long() runs with ":" first
 * and opterr 0 so that the messages are ours
 */

int
ctl_common_opt(int opt, char **argv, const char *help)
{
    switch (opt) {

    case 'h':
        ctl_help_exit(help);

    case 'J':
        ctl.json = 1;
        return 0;

    case ':':
        ctl_fail(CTL_EXIT_USAGE, "option \"%s\" needs a value; see --help",
                 argv[optind - 1]);

    case '?':
        ctl_fail(CTL_EXIT_USAGE, "unknown option \"%s\"; see --help",
                 argv[optind - 1]);

    default:
        return -1;
    }
}


/*
 * a command with no options of its own, --json and --help only; returns
 * the index of its first argument
 */

int
ctl_common_args(int argc, char **argv, const char *help)
{
    int  opt;

    static const struct option  options[] = {
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    optind = 0;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        ctl_common_opt(opt, argv, help);
    }

    return optind;
}


/* up to max, which may be LLONG_MAX: the check comes before the overflow */

int
ctl_parse_uint(const char *s, long long max, long long *v)
{
    long long  n;

    if (*s == '\0') {
        return -1;
    }

    n = 0;

    for ( ; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }

        if (n > (max - (*s - '0')) / 10) {
            return -1;
        }

        n = n * 10 + (*s - '0');
    }

    *v = n;

    return 0;
}


static int
ctl_parse_digits(const char **p, int n, int *v)
{
    int  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9') {
            return -1;
        }

        *v = *v * 10 + ((*p)[i] - '0');
    }

    *p += n;

    return 0;
}


/*
 * TIME: "now", unix seconds, a duration from now ("30d", "12h", "15m",
 * "45s", "2w") or RFC 3339 ("2026-12-31T23:59:59Z", with an offset or
 * fraction, or a date alone, midnight UTC)
 */

int
ctl_parse_time(const char *s, time_t now, long long *t)
{
    int         y, mo, d, h, mi, sec, oh, om, sign;
    size_t      len;
    struct tm   tm;
    long long   n, unit;
    const char  *p;

    len = strlen(s);

    if (strcmp(s, "now") == 0) {
        *t = now;
        return 0;
    }

    if (ctl_parse_uint(s, 99999999999LL, &n) == 0) {
        *t = n;
        return 0;
    }

    if (len >= 2 && len <= 8 && strchr("smhdw", s[len - 1]) != NULL) {
        char  num[8];

        memcpy(num, s, len - 1);
        num[len - 1] = '\0';

        if (ctl_parse_uint(num, 9999999, &n) != 0) {
            return -1;
        }

        switch (s[len - 1]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default:  unit = 7 * 86400; break;
        }

        *t = now + n * unit;
        return 0;
    }

    p = s;
    h = mi = sec = 0;
    sign = 0;
    oh = om = 0;

    if (ctl_parse_digits(&p, 4, &y) || *p++ != '-'
        || ctl_parse_digits(&p, 2, &mo) || *p++ != '-'
        || ctl_parse_digits(&p, 2, &d))
    {
        return -1;
    }

    if (*p != '\0') {
        if (*p != 'T' && *p != 't' && *p != ' ') {
            return -1;
        }

        p++;

        if (ctl_parse_digits(&p, 2, &h) || *p++ != ':'
            || ctl_parse_digits(&p, 2, &mi) || *p++ != ':'
            || ctl_parse_digits(&p, 2, &sec))
        {
            return -1;
        }

        if (*p == '.') {
            p++;

            if (*p < '0' || *p > '9') {
                return -1;
            }

            while (*p >= '0' && *p <= '9') {
                p++;
            }
        }

        if (*p == 'Z' || *p == 'z') {
            p++;

        } else if (*p == '+' || *p == '-') {
            sign = (*p++ == '+') ? 1 : -1;

            if (ctl_parse_digits(&p, 2, &oh) || *p++ != ':'
                || ctl_parse_digits(&p, 2, &om) || oh > 23 || om > 59)
            {
                return -1;
            }

        } else {
            return -1;
        }

        if (*p != '\0') {
            return -1;
        }
    }

    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || sec > 60)
    {
        return -1;
    }

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;

    n = (long long) timegm(&tm);

    /* timegm() normalises 31 February into March: refuse instead */

    if (tm.tm_mday != d || tm.tm_mon != mo - 1) {
        return -1;
    }

    *t = n - sign * (oh * 3600 + om * 60);

    return 0;
}


void
ctl_format_time(long long t, char *buf, size_t size)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, size, "%lld", t);
    }
}


void
ctl_random(unsigned char *buf, size_t n)
{
    if (RAND_bytes(buf, (int) n) != 1) {
        ctl_fail(CTL_EXIT_RUNTIME, "the random generator failed");
    }
}


/* 20 letters or digits, uniformly drawn: bytes >= 248 are drawn again */

void
ctl_gen_access_key(char *out)
{
    size_t          i, n;
    unsigned char   buf[64];
    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    n = 0;

    while (n < APIAUTH_ACCESS_KEY_GEN_LEN) {
        ctl_random(buf, sizeof(buf));

        for (i = 0; i < sizeof(buf) && n < APIAUTH_ACCESS_KEY_GEN_LEN; i++) {
            if (buf[i] < 248) {
                out[n++] = alphabet[buf[i] % 62];
            }
        }
    }

    out[n] = '\0';
}


void
ctl_gen_salt(char *out)
{
    unsigned char  salt[APIAUTH_SALT_LEN];

    ctl_random(salt, sizeof(salt));
    apiauth_hex((unsigned char *) out, salt, sizeof(salt));
    out[APIAUTH_SALT_HEX_LEN] = '\0';
}


/* the time of this run, as the scripts take it */

char *
ctl_now(void)
{
    static char  buf[32];

    if (buf[0] == '\0') {
        snprintf(buf, sizeof(buf), "%lld", (long long) time(NULL));
    }

    return buf;
}
