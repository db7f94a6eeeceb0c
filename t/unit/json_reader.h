
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * A minimal JSON reader for the unit tests, just enough for t/data's
 * vectors.json and secret-vectors.json: the caller walks the structure it
 * expects with these steps, and skips whatever else it meets.
 *
 *     json_load(&j, path)          the whole file into j; -1 if it cannot
 *                                  be opened
 *     json_peek(&j)                the next significant character, not
 *                                  consumed; -1 at the end
 *     json_expect(&j, c)           consumes c, or fails
 *     json_string(&j, &s)          decodes a string into a str_t
 *     json_skip(&j, depth)         skips any value
 *     json_fail(&j, "error")       records the first error and where
 *     json_free(&j)                frees what json_load() read
 *
 * Every step returns 0, or -1 once j.error (at byte j.error_at) is set.
 */


#ifndef _JSON_READER_H_INCLUDED_
#define _JSON_READER_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    unsigned char  *data;               /* exactly len bytes, no NUL */
    size_t          len;
} str_t;


typedef struct {
    const unsigned char  *start;
    const unsigned char  *p;
    const unsigned char  *end;
    const char           *error;
    size_t                error_at;
    unsigned char        *text;         /* json_load()'s, or NULL */
} json_t;


static inline int
json_fail(json_t *j, const char *error)
{
    if (j->error == NULL) {
        j->error = error;
        j->error_at = j->p - j->start;
    }

    return -1;
}


/* the next significant character (not consumed), or -1 at the end */

static inline int
json_peek(json_t *j)
{
    while (j->p < j->end
           && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
               || *j->p == '\r'))
    {
        j->p++;
    }

    return j->p < j->end ? *j->p : -1;
}


static inline int
json_expect(json_t *j, int c)
{
    if (json_peek(j) != c) {
        return json_fail(j, "unexpected character");
    }

    j->p++;

    return 0;
}


static inline int
json_hex4(json_t *j, unsigned *cp)
{
    int  i, c;

    if (j->end - j->p < 4) {
        return json_fail(j, "short \\u escape");
    }

    *cp = 0;

    for (i = 0; i < 4; i++) {
        c = *j->p++;

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return json_fail(j, "bad \\u escape");
        }

        *cp = *cp << 4 | c;
    }

    return 0;
}


/* decodes a string into s->data, allocated to its exact length */

static inline int
json_string(json_t *j, str_t *s)
{
    unsigned        cp, lo;
    unsigned char  *out, *o, c;

    if (json_expect(j, '"') != 0) {
        return -1;
    }

    /* the decoded string is never longer than its JSON text */

    out = malloc(j->end - j->p + 1);
    if (out == NULL) {
        abort();
    }

    o = out;

    for ( ;; ) {
        if (j->p == j->end) {
            free(out);
            return json_fail(j, "unterminated string");
        }

        c = *j->p++;

        if (c == '"') {
            break;
        }

        if (c < 0x20) {
            free(out);
            return json_fail(j, "control character in a string");
        }

        if (c != '\\') {
            *o++ = c;
            continue;
        }

        if (j->p == j->end) {
            free(out);
            return json_fail(j, "unterminated escape");
        }

        c = *j->p++;

        switch (c) {
        case '"': case '\\': case '/':
            *o++ = c;
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;

        case 'u':
            if (json_hex4(j, &cp) != 0) {
                free(out);
                return -1;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') {
                    free(out);
                    return json_fail(j, "lone surrogate");
                }

                j->p += 2;

                if (json_hex4(j, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
                    free(out);
                    return json_fail(j, "bad surrogate pair");
                }

                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);

            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                free(out);
                return json_fail(j, "lone surrogate");
            }

            /* UTF-8: never longer than the 6 or 12 bytes it came from */

            if (cp < 0x80) {
                *o++ = (unsigned char) cp;

            } else if (cp < 0x800) {
                *o++ = (unsigned char) (0xc0 | cp >> 6);
                *o++ = (unsigned char) (0x80 | (cp & 0x3f));

            } else if (cp < 0x10000) {
                *o++ = (unsigned char) (0xe0 | cp >> 12);
                *o++ = (unsigned char) (0x80 | (cp >> 6 & 0x3f));
                *o++ = (unsigned char) (0x80 | (cp & 0x3f));

            } else {
                *o++ = (unsigned char) (0xf0 | cp >> 18);
                *o++ = (unsigned char) (0x80 | (cp >> 12 & 0x3f));
                *o++ = (unsigned char) (0x80 | (cp >> 6 & 0x3f));
                *o++ = (unsigned char) (0x80 | (cp & 0x3f));
            }

            break;

        default:
            free(out);
            return json_fail(j, "bad escape");
        }
    }

    s->len = o - out;
    s->data = realloc(out, s->len ? s->len : 1);
    if (s->data == NULL) {
        abort();
    }

    return 0;
}


/* skips any value */

static inline int
json_skip(json_t *j, int depth)
{
    int    c, close;
    str_t  s;

    if (depth > 32) {
        return json_fail(j, "nested too deep");
    }

    c = json_peek(j);

    if (c == '"') {
        if (json_string(j, &s) != 0) {
            return -1;
        }

        free(s.data);
        return 0;
    }

    if (c == '{' || c == '[') {
        close = (c == '{') ? '}' : ']';
        j->p++;

        if (json_peek(j) == close) {
            j->p++;
            return 0;
        }

        for ( ;; ) {
            if (c == '{') {
                if (json_skip(j, depth + 1) != 0 || json_expect(j, ':') != 0)
                {
                    return -1;
                }
            }

            if (json_skip(j, depth + 1) != 0) {
                return -1;
            }

            if (json_peek(j) == close) {
                j->p++;
                return 0;
            }

            if (json_expect(j, ',') != 0) {
                return -1;
            }
        }
    }

    if (c == '-' || (c >= '0' && c <= '9')) {
        while (j->p < j->end && strchr("+-.eE0123456789", *j->p) != NULL
               && *j->p != '\0')
        {
            j->p++;
        }

        return 0;
    }

    if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        return 0;
    }

    if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
        j->p += 4;
        return 0;
    }

    if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
        j->p += 5;
        return 0;
    }

    return json_fail(j, "bad value");
}


/* reads the whole file into j, set up to read it from its start */

static inline int
json_load(json_t *j, const char *path)
{
    FILE           *fp;
    size_t          size, len, n;
    unsigned char  *text;

    memset(j, 0, sizeof(json_t));

    fp = fopen(path, "rb");
    if (fp == NULL) {
        return -1;
    }

    size = 4096;
    len = 0;
    text = malloc(size);

    while (text && (n = fread(text + len, 1, size - len, fp)) > 0) {
        len += n;

        if (len == size) {
            size *= 2;
            text = realloc(text, size);
        }
    }

    fclose(fp);

    if (text == NULL) {
        abort();
    }

    j->text = text;
    j->start = text;
    j->p = text;
    j->end = text + len;

    return 0;
}


static inline void
json_free(json_t *j)
{
    free(j->text);
    j->text = NULL;
}


#endif /* _JSON_READER_H_INCLUDED_ */
