
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * A streaming JSON writer: one document per run, so that a list of a
 * million keys never sits in memory.  The document goes to a temporary
 * file and reaches stdout whole at json_end(): a failure half-way through
 * discards it and prints its own error document instead, so that a script
 * always reads exactly one document.
 */


#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_key.h"


#define JSON_DEPTH  16


static void json_sep(void);
static FILE *json_out(void);


static int    json_depth;
static int    json_after_key;
static int    json_first[JSON_DEPTH];
static FILE  *json_doc;              /* the document being written */


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
            fputc(',', json_out());
        }

        json_first[json_depth] = 0;
    }
}


void
json_begin_object(void)
{
    json_sep();
    fputc('{', json_out());
    json_first[++json_depth] = 1;
}


void
json_end_object(void)
{
    fputc('}', json_out());
    json_depth--;
}


void
json_begin_array(void)
{
    json_sep();
    fputc('[', json_out());
    json_first[++json_depth] = 1;
}


void
json_end_array(void)
{
    fputc(']', json_out());
    json_depth--;
}


void
json_key(const char *key)
{
    json_sep();
    json_escape(json_out(), key, strlen(key));
    fputc(':', json_out());
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
    json_escape(json_out(), s, len);
}


void
json_int(long long v)
{
    json_sep();
    fprintf(json_out(), "%lld", v);
}


void
json_bool(int v)
{
    json_sep();
    fputs(v ? "true" : "false", json_out());
}


void
json_null(void)
{
    json_sep();
    fputs("null", json_out());
}


/* a member of the object being written: "key": value */

void
json_str_field(const char *key, const char *s)
{
    json_key(key);
    json_str(s);
}


void
json_int_field(const char *key, long long v)
{
    json_key(key);
    json_int(v);
}


void
json_bool_field(const char *key, int v)
{
    json_key(key);
    json_bool(v);
}


/* the whole document, to stdout */

void
json_end(void)
{
    int    c;
    FILE  *doc;

    doc = json_out();
    fputc('\n', doc);

    if (doc != stdout) {
        rewind(doc);

        while ((c = getc(doc)) != EOF) {
            putchar(c);
        }

        fclose(doc);
    }

    fflush(stdout);
    json_doc = NULL;
    json_depth = 0;
    json_after_key = 0;
}


/* a failure's: what was written of the document goes */

void
json_discard(void)
{
    if (json_doc && json_doc != stdout) {
        fclose(json_doc);
    }

    json_doc = NULL;
    json_depth = 0;
    json_after_key = 0;
}


/* stdout only where no temporary file can be had */

static FILE *
json_out(void)
{
    if (json_doc == NULL) {
        json_doc = tmpfile();

        if (json_doc == NULL) {
            json_doc = stdout;
        }
    }

    return json_doc;
}
