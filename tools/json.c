
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * A streaming JSON writer to stdout: one document per run, so that a list
 * of a million keys never sits in memory.
 */


#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_key.h"


#define JSON_DEPTH  16


static void json_sep(void);


static int  json_depth;
static int  json_after_key;
static int  json_first[JSON_DEPTH];


/*
 * valid JSON whatever the bytes: a byte that is not UTF-8 becomes U+FFFD,
 * a control or a bidirectional formatting character \uXXXX, so that a
 * record written straight into Redis still gives a document that parses
 * and a script that prints a value does not print an escape sequence
 */

void
json_escape(FILE *f, const char *s, size_t len)
{
    size_t                n;
    uint32_t              cp;
    const unsigned char  *p, *end;

    p = (const unsigned char *) s;
    end = p + len;

    fputc('"', f);

    while (p < end) {
        n = apiauth_utf8_decode(p, end - p, &cp);

        if (n == 0) {
            fputs("\\ufffd", f);
            p++;
            continue;
        }

        if (cp == '"' || cp == '\\') {
            fputc('\\', f);
            fputc((int) cp, f);

        } else if (apiauth_text_forbidden(cp)) {
            fprintf(f, "\\u%04x", (unsigned) cp);

        } else {
            fwrite(p, 1, n, f);
        }

        p += n;
    }

    fputc('"', f);
}


/* a comma before every member but the first, none after a key */

static void
json_sep(void)
{
    if (json_after_key) {
        json_after_key = 0;
        return;
    }

    if (json_depth > 0) {
        if (!json_first[json_depth]) {
            fputc(',', stdout);
        }

        json_first[json_depth] = 0;
    }
}


void
json_begin_object(void)
{
    json_sep();
    fputc('{', stdout);
    json_first[++json_depth] = 1;
}


void
json_end_object(void)
{
    fputc('}', stdout);
    json_depth--;
}


void
json_begin_array(void)
{
    json_sep();
    fputc('[', stdout);
    json_first[++json_depth] = 1;
}


void
json_end_array(void)
{
    fputc(']', stdout);
    json_depth--;
}


void
json_key(const char *key)
{
    json_sep();
    json_escape(stdout, key, strlen(key));
    fputc(':', stdout);
    json_after_key = 1;
}


void
json_str(const char *s)
{
    if (s == NULL) {
        json_null();
        return;
    }

    json_strn(s, strlen(s));
}


void
json_strn(const char *s, size_t len)
{
    json_sep();
    json_escape(stdout, s, len);
}


void
json_int(long long v)
{
    json_sep();
    printf("%lld", v);
}


void
json_bool(int v)
{
    json_sep();
    fputs(v ? "true" : "false", stdout);
}


void
json_null(void)
{
    json_sep();
    fputs("null", stdout);
}


void
json_end(void)
{
    fputc('\n', stdout);
}
