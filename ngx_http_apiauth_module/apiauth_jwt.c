
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "apiauth_crypto.h"
#include "apiauth_key.h"
#include "apiauth_jwt.h"


#define apiauth_jwt_is(t, lit)                                               \
    ((t)->len == sizeof(lit) - 1 && memcmp((t)->data, lit, (t)->len) == 0)

#define apiauth_jwt_eq(a, b)                                                 \
    ((a)->len == (b)->len && memcmp((a)->data, (b)->data, (a)->len) == 0)


/*
 * containers below the top object: two levels hold an array of strings
 * (aud) or a small object's members; more is only a parser's burden
 */
#define APIAUTH_JSON_DEPTH_MAX    2

/*
 * the members of one object: each name is compared with the ones before
 * it, so their number bounds that work
 */
#define APIAUTH_JSON_MEMBERS_MAX  128

#define APIAUTH_JSON_AUD_MAX      8

#define APIAUTH_JSON_STRING       1
#define APIAUTH_JSON_NUMBER       2
#define APIAUTH_JSON_LITERAL      3         /* true, false or null */
#define APIAUTH_JSON_OBJECT       4
#define APIAUTH_JSON_ARRAY        5


typedef struct {
    int                   type;
    apiauth_jwt_text_t    text;     /* a string unescaped, a number as sent */
    size_t                nitems;   /* an array's values */
    size_t                nstrings; /* how many of them are strings */
    apiauth_jwt_text_t    strings[APIAUTH_JSON_AUD_MAX]; /* the first ones */
} apiauth_json_value_t;


typedef struct apiauth_json_s  apiauth_json_t;

typedef int (*apiauth_json_member_pt)(apiauth_json_t *j,
    const apiauth_jwt_text_t *name, const apiauth_json_value_t *v);

struct apiauth_json_s {
    unsigned char           *p;
    unsigned char           *end;
    apiauth_jwt_t           *jwt;
    apiauth_json_member_pt   member;        /* for the top object's */
    const char              *why;
};


static int apiauth_b64url_decode(unsigned char *dst, size_t size,
    const unsigned char *src, size_t len, size_t *n);
static int apiauth_json_fail(apiauth_json_t *j, const char *why);
static void apiauth_json_ws(apiauth_json_t *j);
static int apiauth_json_hex4(const unsigned char *p, uint32_t *c);
static unsigned char *apiauth_json_utf8(unsigned char *out, uint32_t c);
static int apiauth_json_escape(apiauth_json_t *j, unsigned char **out);
static int apiauth_json_string(apiauth_json_t *j, apiauth_jwt_text_t *s);
static int apiauth_json_number(apiauth_json_t *j, apiauth_jwt_text_t *s);
static int apiauth_json_value(apiauth_json_t *j, int depth,
    apiauth_json_value_t *v);
static int apiauth_json_next(apiauth_json_t *j, int close);
static int apiauth_json_object(apiauth_json_t *j, int depth);
static int apiauth_json_array(apiauth_json_t *j, int depth,
    apiauth_json_value_t *v);
static int apiauth_json_parse(apiauth_json_t *j, unsigned char *p,
    size_t len, apiauth_json_member_pt member);
static int apiauth_jwt_header_member(apiauth_json_t *j,
    const apiauth_jwt_text_t *name, const apiauth_json_value_t *v);
static int apiauth_jwt_date(const apiauth_json_value_t *v, int64_t *date);
static int apiauth_jwt_payload_member(apiauth_json_t *j,
    const apiauth_jwt_text_t *name, const apiauth_json_value_t *v);
static int apiauth_jwt_digest_verify(const apiauth_jwt_t *jwt,
    EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *sig,
    size_t sig_len);
static int apiauth_jwt_verify_hs256(const apiauth_jwt_t *jwt,
    const unsigned char *secret, size_t secret_len);
static int apiauth_jwt_verify_es256(const apiauth_jwt_t *jwt,
    EVP_PKEY *pkey);
static int64_t apiauth_jwt_add(int64_t a, int64_t b);
static int64_t apiauth_jwt_sub(int64_t a, int64_t b);


static const char  *apiauth_jwt_algs[] = {
    NULL, "HS256", "RS256", "ES256", "EdDSA"
};


int
apiauth_jwt_alg(const unsigned char *name, size_t len)
{
    int  i;

    for (i = APIAUTH_JWT_HS256; i <= APIAUTH_JWT_EDDSA; i++) {
        if (len == strlen(apiauth_jwt_algs[i])
            && memcmp(name, apiauth_jwt_algs[i], len) == 0)
        {
            return i;
        }
    }

    return -1;
}


const char *
apiauth_jwt_alg_name(int alg)
{
    return (alg >= APIAUTH_JWT_HS256 && alg <= APIAUTH_JWT_EDDSA)
           ? apiauth_jwt_algs[alg] : NULL;
}


/*
 * RFC 7515 2 and RFC 4648 5, strictly: no padding, no other alphabet, and
 * the bits of the last character that encode nothing are zero, so that a
 * token has one spelling only (the same signature under two spellings
 * would pass a replay check keyed by the token)
 */

static int
apiauth_b64url_decode(unsigned char *dst, size_t size,
    const unsigned char *src, size_t len, size_t *n)
{
    int        v;
    size_t     i, out;
    uint32_t   acc;
    unsigned   bits;

    if (len == 0 || len % 4 == 1
        || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > size)
    {
        return -1;
    }

    acc = 0;
    bits = 0;
    out = 0;

    for (i = 0; i < len; i++) {
        if (src[i] >= 'A' && src[i] <= 'Z') {
            v = src[i] - 'A';

        } else if (src[i] >= 'a' && src[i] <= 'z') {
            v = src[i] - 'a' + 26;

        } else if (src[i] >= '0' && src[i] <= '9') {
            v = src[i] - '0' + 52;

        } else if (src[i] == '-' || src[i] == '_') {
            v = (src[i] == '-') ? 62 : 63;

        } else {
            return -1;
        }

        acc = ((acc << 6) | (uint32_t) v) & 0xffff;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[out++] = (unsigned char) (acc >> bits);
        }
    }

    if (acc & ((1u << bits) - 1)) {
        return -1;
    }

    *n = out;

    return 0;
}


/*
 * The JSON reader (RFC 8259), as strict as a JWT allows: one object, no
 * duplicate names, shallow, strings of valid UTF-8 without raw controls.
 * It reads the decoded header or payload in jwt->buf and unescapes each
 * string where it lies: an escape is never shorter than what it stands
 * for, so the writes stay behind the reads.
 */

static int
apiauth_json_fail(apiauth_json_t *j, const char *why)
{
    if (j->why == NULL) {
        j->why = why;
    }

    return -1;
}


static void
apiauth_json_ws(apiauth_json_t *j)
{
    while (j->p < j->end
           && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
               || *j->p == '\r'))
    {
        j->p++;
    }
}


static int
apiauth_json_hex4(const unsigned char *p, uint32_t *c)
{
    size_t    i;
    uint32_t  v, d;

    v = 0;

    for (i = 0; i < 4; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            d = p[i] - '0';

        } else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f') {
            d = (p[i] | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        v = (v << 4) | d;
    }

    *c = v;

    return 0;
}


static unsigned char *
apiauth_json_utf8(unsigned char *out, uint32_t c)
{
    if (c < 0x80) {
        *out++ = (unsigned char) c;

    } else if (c < 0x800) {
        *out++ = (unsigned char) (0xc0 | (c >> 6));
        *out++ = (unsigned char) (0x80 | (c & 0x3f));

    } else if (c < 0x10000) {
        *out++ = (unsigned char) (0xe0 | (c >> 12));
        *out++ = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
        *out++ = (unsigned char) (0x80 | (c & 0x3f));

    } else {
        *out++ = (unsigned char) (0xf0 | (c >> 18));
        *out++ = (unsigned char) (0x80 | ((c >> 12) & 0x3f));
        *out++ = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
        *out++ = (unsigned char) (0x80 | (c & 0x3f));
    }

    return out;
}


/* the escape at j->p (its backslash), written at *out */

static int
apiauth_json_escape(apiauth_json_t *j, unsigned char **out)
{
    uint32_t        c, lo;
    const char     *e;
    unsigned char  *p;

    static const char  from[] = "\"\\/bfnrt";
    static const char  to[] = "\"\\/\b\f\n\r\t";

    p = j->p;

    if (j->end - p < 2) {
        return apiauth_json_fail(j, "an unterminated string");
    }

    if (p[1] != 'u') {
        e = memchr(from, p[1], sizeof(from) - 1);
        if (e == NULL) {
            return apiauth_json_fail(j, "a bad escape in a string");
        }

        *(*out)++ = (unsigned char) to[e - from];
        j->p += 2;

        return 0;
    }

    if (j->end - p < 6 || apiauth_json_hex4(p + 2, &c) != 0) {
        return apiauth_json_fail(j, "a bad \\u escape in a string");
    }

    /* a surrogate is half of a pair, or not UTF-8 */

    if (c >= 0xd800 && c <= 0xdfff) {
        if (c >= 0xdc00 || j->end - p < 12 || p[6] != '\\' || p[7] != 'u'
            || apiauth_json_hex4(p + 8, &lo) != 0
            || lo < 0xdc00 || lo > 0xdfff)
        {
            return apiauth_json_fail(j, "a lone surrogate in a string");
        }

        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }

    /* no claim needs a NUL, and whatever takes a text for a C string stops */
    if (c == 0) {
        return apiauth_json_fail(j, "a NUL character in a string");
    }

    *out = apiauth_json_utf8(*out, c);
    j->p = p + 6;

    return 0;
}


/* the text points at the string's first byte, where it is unescaped */

static int
apiauth_json_string(apiauth_json_t *j, apiauth_jwt_text_t *s)
{
    size_t          n;
    uint32_t        c;
    unsigned char  *out;

    out = ++j->p;
    s->data = out;

    for ( ;; ) {
        if (j->p == j->end) {
            return apiauth_json_fail(j, "an unterminated string");
        }

        c = *j->p;

        if (c == '"') {
            break;
        }

        if (c < 0x20) {
            return apiauth_json_fail(j, "a control character in a string");
        }

        if (c == '\\') {
            if (apiauth_json_escape(j, &out) != 0) {
                return -1;
            }

            continue;
        }

        n = apiauth_utf8_decode(j->p, j->end - j->p, &c);
        if (n == 0) {
            return apiauth_json_fail(j, "invalid UTF-8 in a string");
        }

        while (n--) {
            *out++ = *j->p++;
        }
    }

    s->len = out - s->data;
    j->p++;

    return 0;
}


/* RFC 8259 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, as sent */

#define apiauth_json_digits(p, end)                                          \
    while (p < end && *p >= '0' && *p <= '9') {                              \
        p++;                                                                 \
    }

static int
apiauth_json_number(apiauth_json_t *j, apiauth_jwt_text_t *s)
{
    unsigned char  *p, *end;

    p = j->p;
    end = j->end;
    s->data = p;

    p += (*p == '-');

    if (p < end && *p == '0') {
        p++;

    } else if (p < end && *p >= '1' && *p <= '9') {
        apiauth_json_digits(p, end);

    } else {
        return apiauth_json_fail(j, "not a JSON value");
    }

    if (p < end && *p == '.') {
        if (++p == end || *p < '0' || *p > '9') {
            return apiauth_json_fail(j, "a bad number");
        }

        apiauth_json_digits(p, end);
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || *p < '0' || *p > '9') {
            return apiauth_json_fail(j, "a bad number");
        }

        apiauth_json_digits(p, end);
    }

    s->len = p - s->data;
    j->p = p;

    return 0;
}


/* a value at depth levels below the top object */

static int
apiauth_json_value(apiauth_json_t *j, int depth, apiauth_json_value_t *v)
{
    size_t       n;
    const char  *lit;

    v->text.data = NULL;
    v->text.len = 0;
    v->nitems = 0;
    v->nstrings = 0;

    if (j->p == j->end) {
        return apiauth_json_fail(j, "a value is missing");
    }

    switch (*j->p) {

    case '"':
        v->type = APIAUTH_JSON_STRING;
        return apiauth_json_string(j, &v->text);

    case '{':
    case '[':
        if (depth > APIAUTH_JSON_DEPTH_MAX) {
            return apiauth_json_fail(j, "nested deeper than a JWT needs");
        }

        if (*j->p == '{') {
            v->type = APIAUTH_JSON_OBJECT;
            return apiauth_json_object(j, depth);
        }

        v->type = APIAUTH_JSON_ARRAY;
        return apiauth_json_array(j, depth, v);

    case 't':
    case 'f':
    case 'n':
        lit = (*j->p == 't') ? "true" : (*j->p == 'f') ? "false" : "null";
        n = strlen(lit);

        if ((size_t) (j->end - j->p) < n || memcmp(j->p, lit, n) != 0) {
            return apiauth_json_fail(j, "not a JSON value");
        }

        v->type = APIAUTH_JSON_LITERAL;
        j->p += n;

        return 0;

    default:
        v->type = APIAUTH_JSON_NUMBER;
        return apiauth_json_number(j, &v->text);
    }
}


/* after a member or an element: 1 if another follows, 0 at close */

static int
apiauth_json_next(apiauth_json_t *j, int close)
{
    apiauth_json_ws(j);

    if (j->p < j->end && *j->p == ',') {
        j->p++;
        apiauth_json_ws(j);
        return 1;
    }

    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }

    return apiauth_json_fail(j, (close == '}')
                                ? "an object without a ',' or a '}'"
                                : "an array without a ',' or a ']'");
}


/*
 * RFC 7519 4 lets a reader take the last of duplicate names; another
 * reader may take the first, so a token with any is refused
 */

static int
apiauth_json_object(apiauth_json_t *j, int depth)
{
    int                   rc;
    size_t                n, i;
    apiauth_json_value_t  v;
    apiauth_jwt_text_t    names[APIAUTH_JSON_MEMBERS_MAX];

    j->p++;
    apiauth_json_ws(j);

    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }

    for (n = 0; ; n++) {
        if (n == APIAUTH_JSON_MEMBERS_MAX) {
            return apiauth_json_fail(j, "an object of too many members");
        }

        if (j->p == j->end || *j->p != '"') {
            return apiauth_json_fail(j, "a member name is not a string");
        }

        if (apiauth_json_string(j, &names[n]) != 0) {
            return -1;
        }

        for (i = 0; i < n; i++) {
            if (apiauth_jwt_eq(&names[i], &names[n])) {
                return apiauth_json_fail(j, "a duplicate member name");
            }
        }

        apiauth_json_ws(j);

        if (j->p == j->end || *j->p != ':') {
            return apiauth_json_fail(j, "a member without a ':'");
        }

        j->p++;
        apiauth_json_ws(j);

        if (apiauth_json_value(j, depth + 1, &v) != 0
            || (depth == 0 && j->member(j, &names[n], &v) != 0))
        {
            return -1;
        }

        rc = apiauth_json_next(j, '}');
        if (rc <= 0) {
            return rc;
        }
    }
}


/* the first strings of the array are kept in v, for aud */

static int
apiauth_json_array(apiauth_json_t *j, int depth, apiauth_json_value_t *v)
{
    int                   rc;
    apiauth_json_value_t  item;

    j->p++;
    apiauth_json_ws(j);

    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }

    do {
        if (apiauth_json_value(j, depth + 1, &item) != 0) {
            return -1;
        }

        if (item.type == APIAUTH_JSON_STRING) {
            if (v->nstrings < APIAUTH_JSON_AUD_MAX) {
                v->strings[v->nstrings] = item.text;
            }

            v->nstrings++;
        }

        v->nitems++;

        rc = apiauth_json_next(j, ']');

    } while (rc == 1);

    return rc;
}


/* one JSON object and nothing after it but white space */

static int
apiauth_json_parse(apiauth_json_t *j, unsigned char *p, size_t len,
    apiauth_json_member_pt member)
{
    j->p = p;
    j->end = p + len;
    j->member = member;

    apiauth_json_ws(j);

    if (j->p == j->end || *j->p != '{') {
        return apiauth_json_fail(j, "not a JSON object");
    }

    if (apiauth_json_object(j, 0) != 0) {
        return -1;
    }

    apiauth_json_ws(j);

    if (j->p != j->end) {
        return apiauth_json_fail(j, "bytes after the JSON object");
    }

    return 0;
}


/* RFC 7515 4.1.11: we understand no extension, so crit is never met */

static int
apiauth_jwt_header_member(apiauth_json_t *j, const apiauth_jwt_text_t *name,
    const apiauth_json_value_t *v)
{
    if (apiauth_jwt_is(name, "crit")) {
        return apiauth_json_fail(j, "the header has crit");
    }

    if (!apiauth_jwt_is(name, "alg") && !apiauth_jwt_is(name, "kid")
        && !apiauth_jwt_is(name, "typ"))
    {
        return 0;
    }

    if (v->type != APIAUTH_JSON_STRING) {
        return apiauth_json_fail(j, "alg, kid or typ is not a string");
    }

    if (name->data[0] == 'a') {
        j->jwt->alg = v->text;

    } else if (name->data[0] == 'k') {
        j->jwt->kid = v->text;
    }

    return 0;
}


/*
 * A NumericDate (RFC 7519 2) may have a fraction or an exponent: its floor
 * is taken, if it fits in int64_t ("1.7e9" is 1700000000).  The floor
 * moves an nbf or an iat less than a second earlier, well within any
 * leeway, and an exp earlier.
 */

static int
apiauth_jwt_date(const apiauth_json_value_t *v, int64_t *date)
{
    int                   neg, inexact;
    int64_t               e, point, i;
    uint64_t              n, d, max;
    const unsigned char  *p, *end, *mant, *mend, *dot;

    if (v->type != APIAUTH_JSON_NUMBER) {
        return -1;
    }

    /* the reader has checked the grammar */

    end = v->text.data + v->text.len;
    neg = (v->text.data[0] == '-');
    mant = v->text.data + neg;

    for (mend = mant; mend < end && (*mend | 0x20) != 'e'; mend++) {
        /* void */
    }

    e = 0;

    if (mend < end) {
        p = mend + 1 + (mend[1] == '-' || mend[1] == '+');

        /* past a million, only zero or an overflow is left */
        for ( ; p < end; p++) {
            if (e < 1000000) {
                e = e * 10 + (*p - '0');
            }
        }

        e = (mend[1] == '-') ? -e : e;
    }

    /* the mantissa's first point digits are the integer, the rest not */

    dot = memchr(mant, '.', mend - mant);
    point = ((dot ? dot : mend) - mant) + e;

    n = 0;
    inexact = 0;
    i = 0;

    for (p = mant; p < mend; p++) {
        if (*p == '.') {
            continue;
        }

        d = *p - '0';

        if (i++ >= point) {
            inexact |= (d != 0);

        } else if (n > (UINT64_MAX - d) / 10) {
            return -1;

        } else {
            n = n * 10 + d;
        }
    }

    for ( ; i < point && n != 0; i++) {
        if (n > UINT64_MAX / 10) {
            return -1;
        }

        n *= 10;
    }

    max = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;

    if (n > max - (neg && inexact)) {
        return -1;
    }

    if (neg) {
        n += inexact;
        *date = (n == (uint64_t) INT64_MAX + 1) ? INT64_MIN : -(int64_t) n;

    } else {
        *date = (int64_t) n;
    }

    return 0;
}


static int
apiauth_jwt_payload_member(apiauth_json_t *j, const apiauth_jwt_text_t *name,
    const apiauth_json_value_t *v)
{
    size_t          i;
    int64_t         date;
    apiauth_jwt_t  *jwt;

    jwt = j->jwt;

    if (apiauth_jwt_is(name, "exp") || apiauth_jwt_is(name, "nbf")
        || apiauth_jwt_is(name, "iat"))
    {
        if (apiauth_jwt_date(v, &date) != 0) {
            return apiauth_json_fail(j, "exp, nbf or iat is not a number "
                                        "of seconds that fits");
        }

        if (name->data[0] == 'e') {
            jwt->exp = date;
            jwt->has_exp = 1;

        } else if (name->data[0] == 'n') {
            jwt->nbf = date;
            jwt->has_nbf = 1;

        } else {
            jwt->iat = date;
            jwt->has_iat = 1;
        }

    } else if (apiauth_jwt_is(name, "sub") || apiauth_jwt_is(name, "iss")
               || apiauth_jwt_is(name, "jti"))
    {
        if (v->type != APIAUTH_JSON_STRING) {
            return apiauth_json_fail(j, "sub, iss or jti is not a string");
        }

        if (name->data[0] == 's') {
            jwt->sub = v->text;

        } else if (name->data[0] == 'i') {
            jwt->iss = v->text;

        } else {
            jwt->jti = v->text;
        }

    } else if (apiauth_jwt_is(name, "aud")) {
        if (v->type == APIAUTH_JSON_STRING) {
            jwt->aud[0] = v->text;
            jwt->naud = 1;

        } else if (v->type == APIAUTH_JSON_ARRAY && v->nitems >= 1
                   && v->nitems <= APIAUTH_JSON_AUD_MAX
                   && v->nstrings == v->nitems)
        {
            for (i = 0; i < v->nitems; i++) {
                jwt->aud[i] = v->strings[i];
            }

            jwt->naud = v->nitems;

        } else {
            return apiauth_json_fail(j, "aud is not a string or 1 to 8 "
                                        "strings");
        }
    }

    if ((v->type == APIAUTH_JSON_STRING || v->type == APIAUTH_JSON_NUMBER)
        && jwt->nclaims < APIAUTH_JWT_CLAIMS_MAX)
    {
        jwt->claims[jwt->nclaims].name = *name;
        jwt->claims[jwt->nclaims].value = v->text;
        jwt->nclaims++;
    }

    return 0;
}


/*
 * the header and the payload are decoded into buf, one after the other
 * (decoded, they are shorter than the token), and read there
 */

int
apiauth_jwt_parse(apiauth_jwt_t *jwt, const unsigned char *token,
    size_t len, const char **why)
{
    size_t                hlen, plen;
    apiauth_json_t        j;
    const unsigned char  *dot1, *dot2, *end;

    memset(jwt, 0, offsetof(apiauth_jwt_t, buf));

    if (len > APIAUTH_JWT_MAX) {
        *why = "the token is too long";
        return APIAUTH_JWT_MALFORMED;
    }

    end = token + len;
    dot1 = len ? memchr(token, '.', len) : NULL;
    dot2 = dot1 ? memchr(dot1 + 1, '.', end - dot1 - 1) : NULL;

    if (dot2 == NULL || memchr(dot2 + 1, '.', end - dot2 - 1) != NULL) {
        *why = "the token is not three parts";
        return APIAUTH_JWT_MALFORMED;
    }

    if (apiauth_b64url_decode(jwt->buf, sizeof(jwt->buf), token,
                              dot1 - token, &hlen) != 0
        || apiauth_b64url_decode(jwt->buf + hlen, sizeof(jwt->buf) - hlen,
                                 dot1 + 1, dot2 - dot1 - 1, &plen) != 0
        || apiauth_b64url_decode(jwt->sig, sizeof(jwt->sig), dot2 + 1,
                                 end - dot2 - 1, &jwt->sig_len) != 0)
    {
        *why = "a part is empty or not strict base64url";
        return APIAUTH_JWT_MALFORMED;
    }

    jwt->signed_part.data = token;
    jwt->signed_part.len = dot2 - token;

    memset(&j, 0, sizeof(apiauth_json_t));
    j.jwt = jwt;

    if (apiauth_json_parse(&j, jwt->buf, hlen, apiauth_jwt_header_member)
        != 0)
    {
        *why = j.why;
        return APIAUTH_JWT_MALFORMED;
    }

    if (jwt->alg.data == NULL) {
        *why = "the header has no alg";
        return APIAUTH_JWT_MALFORMED;
    }

    if (apiauth_json_parse(&j, jwt->buf + hlen, plen,
                           apiauth_jwt_payload_member)
        != 0)
    {
        *why = j.why;
        return APIAUTH_JWT_MALFORMED;
    }

    return APIAUTH_JWT_OK;
}


/* a failed check leaves nothing in OpenSSL's error queue for nginx to log */

static int
apiauth_jwt_digest_verify(const apiauth_jwt_t *jwt, EVP_PKEY *pkey,
    const EVP_MD *md, const unsigned char *sig, size_t sig_len)
{
    int          rc;
    EVP_MD_CTX  *ctx;

    ctx = EVP_MD_CTX_new();

    /* RSA: PKCS#1 v1.5 is the default padding; Ed25519: one shot, no md */

    rc = ctx != NULL
         && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1
         && EVP_DigestVerify(ctx, sig, sig_len, jwt->signed_part.data,
                             jwt->signed_part.len) == 1;

    EVP_MD_CTX_free(ctx);

    if (!rc) {
        ERR_clear_error();
        return APIAUTH_JWT_BAD_SIGNATURE;
    }

    return APIAUTH_JWT_OK;
}


/* the project's HMAC, as a request's signature uses, without EVP's fetch */

static int
apiauth_jwt_verify_hs256(const apiauth_jwt_t *jwt,
    const unsigned char *secret, size_t secret_len)
{
    int            rc;
    unsigned char  mac[APIAUTH_SHA256_LEN];

    /* an empty key is no key */

    if (secret == NULL || secret_len == 0
        || jwt->sig_len != APIAUTH_SHA256_LEN
        || apiauth_hmac_sha256(secret, secret_len, jwt->signed_part.data,
                               jwt->signed_part.len, mac)
           != 0)
    {
        return APIAUTH_JWT_BAD_SIGNATURE;
    }

    rc = CRYPTO_memcmp(mac, jwt->sig, APIAUTH_SHA256_LEN);

    OPENSSL_cleanse(mac, sizeof(mac));

    return rc == 0 ? APIAUTH_JWT_OK : APIAUTH_JWT_BAD_SIGNATURE;
}


/*
 * RFC 7518 3.4: R || S, 32 bytes each, which OpenSSL takes as DER; it
 * refuses an r or an s of 0, or of the group's order or more, itself
 */

static int
apiauth_jwt_verify_es256(const apiauth_jwt_t *jwt, EVP_PKEY *pkey)
{
    int             rc, n;
    char            group[32];
    BIGNUM         *r, *s;
    size_t          len;
    ECDSA_SIG      *es;
    unsigned char  *der;

    /* a named P-256 only: explicit curve parameters are not one */

    if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC
        || EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                          group, sizeof(group), &len) != 1
        || len != sizeof("prime256v1") - 1
        || memcmp(group, "prime256v1", len) != 0
        || jwt->sig_len != 64)
    {
        ERR_clear_error();
        return APIAUTH_JWT_BAD_SIGNATURE;
    }

    es = ECDSA_SIG_new();
    r = BN_bin2bn(jwt->sig, 32, NULL);
    s = BN_bin2bn(jwt->sig + 32, 32, NULL);

    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
    {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        ERR_clear_error();
        return APIAUTH_JWT_BAD_SIGNATURE;
    }

    /* es holds r and s now */

    der = NULL;
    n = i2d_ECDSA_SIG(es, &der);

    ECDSA_SIG_free(es);

    if (n <= 0) {
        ERR_clear_error();
        return APIAUTH_JWT_BAD_SIGNATURE;
    }

    rc = apiauth_jwt_digest_verify(jwt, pkey, EVP_sha256(), der, n);

    OPENSSL_free(der);

    return rc;
}


int
apiauth_jwt_verify(const apiauth_jwt_t *jwt, int alg,
    const unsigned char *secret, size_t secret_len, EVP_PKEY *pkey)
{
    size_t       n;
    const char  *name;

    /* the key's algorithm, never the token's: "none" names none of ours */

    name = apiauth_jwt_alg_name(alg);

    if (name == NULL || jwt->alg.data == NULL) {
        return APIAUTH_JWT_WRONG_ALG;
    }

    n = strlen(name);

    if (jwt->alg.len != n || memcmp(jwt->alg.data, name, n) != 0) {
        return APIAUTH_JWT_WRONG_ALG;
    }

    switch (alg) {

    case APIAUTH_JWT_HS256:
        return apiauth_jwt_verify_hs256(jwt, secret, secret_len);

    case APIAUTH_JWT_RS256:

        /* apiauth_jwt_key_load() refuses keys under 2048 bits; so do we */

        if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA
            || EVP_PKEY_get_bits(pkey) < 2048
            || jwt->sig_len != (size_t) EVP_PKEY_get_size(pkey))
        {
            return APIAUTH_JWT_BAD_SIGNATURE;
        }

        return apiauth_jwt_digest_verify(jwt, pkey, EVP_sha256(), jwt->sig,
                                         jwt->sig_len);

    case APIAUTH_JWT_ES256:
        return apiauth_jwt_verify_es256(jwt, pkey);

    default: /* APIAUTH_JWT_EDDSA */

        if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519
            || jwt->sig_len != 64)
        {
            return APIAUTH_JWT_BAD_SIGNATURE;
        }

        return apiauth_jwt_digest_verify(jwt, pkey, NULL, jwt->sig,
                                         jwt->sig_len);
    }
}


/* b >= 0: a + b, or INT64_MAX when it would not fit */

static int64_t
apiauth_jwt_add(int64_t a, int64_t b)
{
    return (a > INT64_MAX - b) ? INT64_MAX : a + b;
}


/* a - b, held to int64_t's range */

static int64_t
apiauth_jwt_sub(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b) {
        return INT64_MAX;
    }

    if (b > 0 && a < INT64_MIN + b) {
        return INT64_MIN;
    }

    return a - b;
}


/*
 * RFC 7519 4.1.4: a token is not accepted on or after its exp, so it has
 * expired at exp + leeway itself; an nbf (4.1.5) or an iat may be up to
 * the leeway ahead of now, that instant included.  A max lifetime bounds
 * how long a token lives: one without exp lives for ever, and is refused.
 * A negative leeway or max lifetime is taken as none.
 */

int
apiauth_jwt_claims_check(const apiauth_jwt_t *jwt,
    const apiauth_jwt_rules_t *rules, int64_t now, const char **why)
{
    size_t   i;
    int64_t  leeway;

    leeway = (rules->leeway > 0) ? rules->leeway : 0;

    if (!jwt->has_exp && (rules->require_exp || rules->max_lifetime > 0)) {
        *why = rules->require_exp ? "the token has no exp"
                                  : "the token has no exp, a max lifetime "
                                    "is set";
        return APIAUTH_JWT_BAD_CLAIMS;
    }

    if (jwt->has_exp && now >= apiauth_jwt_add(jwt->exp, leeway)) {
        *why = "the token has expired";
        return APIAUTH_JWT_EXPIRED;
    }

    if (jwt->has_nbf && jwt->nbf > apiauth_jwt_add(now, leeway)) {
        *why = "the token's nbf is in the future";
        return APIAUTH_JWT_NOT_YET_VALID;
    }

    if (jwt->has_iat && jwt->iat > apiauth_jwt_add(now, leeway)) {
        *why = "the token's iat is in the future";
        return APIAUTH_JWT_NOT_YET_VALID;
    }

    if (jwt->has_exp && rules->max_lifetime > 0
        && apiauth_jwt_sub(jwt->exp, jwt->has_iat ? jwt->iat : now)
           > rules->max_lifetime)
    {
        *why = "the token lives longer than the max lifetime";
        return APIAUTH_JWT_BAD_CLAIMS;
    }

    if (rules->issuer.data != NULL
        && (jwt->iss.data == NULL
            || !apiauth_jwt_eq(&jwt->iss, &rules->issuer)))
    {
        *why = "the token's iss is not the key's issuer";
        return APIAUTH_JWT_BAD_CLAIMS;
    }

    if (rules->audience.data != NULL) {
        for (i = 0; i < jwt->naud; i++) {
            if (apiauth_jwt_eq(&jwt->aud[i], &rules->audience)) {
                break;
            }
        }

        if (i == jwt->naud) {
            *why = "the token's aud is not the key's audience";
            return APIAUTH_JWT_BAD_CLAIMS;
        }
    }

    return APIAUTH_JWT_OK;
}
