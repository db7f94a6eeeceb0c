
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Aligned tables for people; --json is for scripts.  Whatever people see
 * of the store goes through ctl_escape() first.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_key.h"


static size_t ctl_width(const char *s);


struct ctl_table_s {
    int       ncols;
    size_t    nrows;
    size_t    nalloc;
    char    **cells;                  /* nrows * ncols, row 0: headings */
};


/*
 * text from the store as people may see it: a byte that is not UTF-8 as
 * \xNN, a control or a bidirectional formatting character (what a name
 * may not hold) as \uXXXX, and the backslash as \\, so that a value
 * written straight into Redis cannot move the cursor, recolour the
 * terminal or reorder a table's columns; out has CTL_ESCAPED_SIZE(len)
 * bytes
 */

size_t
ctl_escape(char *out, const char *s, size_t len)
{
    char                 *o;
    size_t                n;
    uint32_t              cp;
    const unsigned char  *p, *end;

    o = out;
    p = (const unsigned char *) s;
    end = p + len;

    while (p < end) {
        n = apiauth_utf8_decode(p, end - p, &cp);

        if (n == 0) {
            o += sprintf(o, "\\x%02x", *p++);
            continue;
        }

        if (cp == '\\') {
            *o++ = '\\';
            *o++ = '\\';

        } else if (apiauth_text_forbidden(cp)) {
            o += sprintf(o, "\\u%04x", (unsigned) cp);

        } else {
            memcpy(o, p, n);
            o += n;
        }

        p += n;
    }

    *o = '\0';

    return o - out;
}


char *
ctl_escape_dup(const char *s, size_t len)
{
    char  *out;

    out = ctl_alloc(CTL_ESCAPED_SIZE(len));
    ctl_escape(out, s, len);

    return out;
}


/*
 * the columns escaped text takes: one per code point, so that a name with
 * an accented letter lines up with one without
 */

static size_t
ctl_width(const char *s)
{
    size_t  n;

    for (n = 0; *s; s++) {
        n += (((unsigned char) *s & 0xc0) != 0x80);
    }

    return n;
}


ctl_table_t *
ctl_table_new(int ncols, ...)
{
    int           i;
    va_list       ap;
    ctl_table_t  *t;

    t = ctl_alloc(sizeof(ctl_table_t));
    t->ncols = ncols;
    t->nalloc = 16;
    t->cells = ctl_alloc(t->nalloc * ncols * sizeof(char *));

    va_start(ap, ncols);

    for (i = 0; i < ncols; i++) {
        t->cells[i] = ctl_strdup(va_arg(ap, const char *));
    }

    va_end(ap);

    t->nrows = 1;

    return t;
}


void
ctl_table_row(ctl_table_t *t, ...)
{
    int          i;
    char       **cells;
    va_list      ap;
    const char  *s;

    if (t->nrows == t->nalloc) {
        t->nalloc *= 2;
        cells = realloc(t->cells, t->nalloc * t->ncols * sizeof(char *));
        if (cells == NULL) {
            ctl_fail(CTL_EXIT_RUNTIME, "out of memory");
        }
        t->cells = cells;
    }

    va_start(ap, t);

    for (i = 0; i < t->ncols; i++) {
        s = va_arg(ap, const char *);
        t->cells[t->nrows * t->ncols + i] = s ? ctl_escape_dup(s, strlen(s))
                                              : ctl_strdup("-");
    }

    va_end(ap);

    t->nrows++;
}


void
ctl_table_print(ctl_table_t *t)
{
    int      i;
    size_t   r, w[32], n;
    char    *cell;

    for (i = 0; i < t->ncols && i < 32; i++) {
        w[i] = 0;

        for (r = 0; r < t->nrows; r++) {
            n = ctl_width(t->cells[r * t->ncols + i]);
            if (n > w[i]) {
                w[i] = n;
            }
        }
    }

    for (r = 0; r < t->nrows; r++) {
        for (i = 0; i < t->ncols; i++) {
            cell = t->cells[r * t->ncols + i];

            if (i == t->ncols - 1) {
                printf("%s\n", cell);

            } else {
                printf("%s%*s", cell, (int) (w[i] - ctl_width(cell) + 2),
                       "");
            }
        }
    }
}


/* rows, the headings not counted */

size_t
ctl_table_rows(ctl_table_t *t)
{
    return t->nrows - 1;
}


void
ctl_table_free(ctl_table_t *t)
{
    size_t  i;

    for (i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }

    free(t->cells);
    free(t);
}
