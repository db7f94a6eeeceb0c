
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * A tiny TAP producer for the unit tests, in the spirit of the test_cond()
 * macros of hiredis's test.c:
 *
 *     ok(cond, "name", ...)                 one check
 *     is_str(got, got_len, want, want_len, "name", ...)
 *                                           byte-exact comparison
 *     diag("text", ...)                     a "# text" line on stderr
 *     plan(n)                               optional, before any check
 *     return done_testing();                "1..n" unless planned; the
 *                                           exit status (0: all passed)
 *
 * Names are printf formats.  A failed check prints where it was made and,
 * for is_str(), both values with their bytes escaped.
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <string.h>


#define ok(cond, ...)                                                        \
    tap_ok((cond) != 0, __FILE__, __LINE__, __VA_ARGS__)

#define is_str(got, got_len, want, want_len, ...)                            \
    tap_is_str(got, got_len, want, want_len, __FILE__, __LINE__, __VA_ARGS__)

#define diag(...)        tap_diag(__VA_ARGS__)
#define plan(n)          tap_plan(n)
#define done_testing()   tap_done_testing()


#define TAP_PRINTF(f, a)  __attribute__((format(printf, f, a)))


static struct {
    unsigned  run;
    unsigned  failed;
    unsigned  planned;
} tap;


static inline void
tap_plan(unsigned n)
{
    tap.planned = n;
    printf("1..%u\n", n);
    fflush(stdout);
}


/* "# " before every line of the text, on stderr as Test::More does */

static inline void
tap_vdiag(const char *fmt, va_list args)
{
    char         buf[4096];
    const char  *p, *nl;

    vsnprintf(buf, sizeof(buf), fmt, args);

    fflush(stdout);

    for (p = buf; ; p = nl + 1) {
        nl = strchr(p, '\n');

        if (nl == NULL) {
            fprintf(stderr, "# %s\n", p);
            break;
        }

        fprintf(stderr, "# %.*s\n", (int) (nl - p), p);
    }

    fflush(stderr);
}


static inline TAP_PRINTF(1, 2) void
tap_diag(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    tap_vdiag(fmt, args);
    va_end(args);
}


static inline int
tap_vok(int pass, const char *file, int line, const char *fmt, va_list args)
{
    char   name[1024], *p;

    vsnprintf(name, sizeof(name), fmt, args);

    /* a name stays on its line, and '#' would start a directive */

    printf("%sok %u - ", pass ? "" : "not ", ++tap.run);

    for (p = name; *p; p++) {
        if (*p == '#') {
            fputs("\\#", stdout);

        } else if (*p == '\n') {
            fputs("\\n", stdout);

        } else if ((unsigned char) *p < 0x20) {
            printf("\\x%02x", (unsigned char) *p);

        } else {
            putchar(*p);
        }
    }

    putchar('\n');
    fflush(stdout);

    if (!pass) {
        tap.failed++;
        tap_diag("  Failed test '%s'\n  at %s line %d.", name, file, line);
    }

    return pass;
}


static inline TAP_PRINTF(4, 5) int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    pass = tap_vok(pass, file, line, fmt, args);
    va_end(args);

    return pass;
}


/* s as a quoted string with C escapes, cut to fit in size bytes */

static inline void
tap_escape(char *out, size_t size, const void *s, size_t len)
{
    size_t               n, i;
    const unsigned char  *p = s;

    n = 0;
    out[n++] = '\'';

    for (i = 0; i < len && n + 8 < size; i++) {
        if (p[i] == '\n') {
            n += snprintf(out + n, size - n, "\\n");

        } else if (p[i] == '\t') {
            n += snprintf(out + n, size - n, "\\t");

        } else if (p[i] == '\\' || p[i] == '\'') {
            n += snprintf(out + n, size - n, "\\%c", p[i]);

        } else if (p[i] < 0x20 || p[i] >= 0x7f) {
            n += snprintf(out + n, size - n, "\\x%02x", p[i]);

        } else {
            out[n++] = p[i];
        }
    }

    snprintf(out + n, size - n, "%s", i < len ? "'..." : "'");
}


static inline TAP_PRINTF(7, 8) int
tap_is_str(const void *got, size_t got_len, const void *want,
    size_t want_len, const char *file, int line, const char *fmt, ...)
{
    int                   pass;
    char                  g[1400], w[1400];
    size_t                i;
    va_list               args;
    const unsigned char  *a = got, *b = want;

    pass = (got != NULL && got_len == want_len
            && (want_len == 0 || memcmp(got, want, want_len) == 0));

    va_start(args, fmt);
    tap_vok(pass, file, line, fmt, args);
    va_end(args);

    if (pass) {
        return 1;
    }

    if (got == NULL) {
        tap_diag("         got: NULL");
        return 0;
    }

    for (i = 0; i < got_len && i < want_len && a[i] == b[i]; i++) {
        /* void */
    }

    tap_escape(g, sizeof(g), got, got_len);
    tap_escape(w, sizeof(w), want, want_len);

    tap_diag("         got: %s (%zu bytes)\n    expected: %s (%zu bytes)\n"
             "    first difference at byte %zu", g, got_len, w, want_len, i);

    return 0;
}


static inline int
tap_done_testing(void)
{
    if (tap.planned == 0) {
        printf("1..%u\n", tap.run);
        fflush(stdout);

    } else if (tap.planned != tap.run) {
        tap_diag("Looks like you planned %u tests but ran %u.",
                 tap.planned, tap.run);
        return 255;
    }

    if (tap.run == 0) {
        tap_diag("No tests run!");
        return 255;
    }

    if (tap.failed) {
        tap_diag("Looks like you failed %u test%s of %u.", tap.failed,
                 tap.failed == 1 ? "" : "s", tap.run);
        return tap.failed < 254 ? (int) tap.failed : 254;
    }

    return 0;
}


#endif /* _TAP_H_INCLUDED_ */
