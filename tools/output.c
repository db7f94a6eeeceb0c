
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Aligned tables for people; --json is for scripts.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"


struct ctl_table_s {
    int       ncols;
    size_t    nrows;
    size_t    nalloc;
    char    **cells;                  /* nrows * ncols, row 0: headings */
};


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
        t->cells[t->nrows * t->ncols + i] = ctl_strdup(s ? s : "-");
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
            n = strlen(t->cells[r * t->ncols + i]);
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
                printf("%-*s  ", (int) w[i], cell);
            }
        }
    }
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
