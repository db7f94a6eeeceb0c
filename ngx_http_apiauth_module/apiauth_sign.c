
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apiauth_key.h"
#include "apiauth_secret.h"
#include "apiauth_sign.h"


#define apiauth_str_eq(p, n, lit)                                            \
    ((n) == sizeof(lit) - 1 && memcmp(p, lit, sizeof(lit) - 1) == 0)


static const unsigned char *apiauth_auth_skip_sp(const unsigned char *p,
    const unsigned char *end);
static int apiauth_header_sent(const apiauth_header_t *headers,
    size_t nheaders, const unsigned char *name, size_t len);
static size_t apiauth_normalise(unsigned char *dst, const unsigned char *src,
    size_t len);
static int apiauth_param_cmp(const void *one, const void *two);
static unsigned char *apiauth_canonical_query(const apiauth_request_t *req,
    apiauth_scratch_t *scratch, unsigned char *out, unsigned char *last);
static unsigned char *apiauth_fold(unsigned char *out, const unsigned char *p,
    size_t len);
static unsigned char *apiauth_canonical_write(const apiauth_request_t *req,
    apiauth_scratch_t *scratch, unsigned char *out, unsigned char *last);


#define apiauth_cpy(dst, src, n)  ((unsigned char *) memcpy(dst, src, n) + (n))

/*
 * every write into the canonical request's buffer checks the room left
 * first: a wrong bound must fail, never overflow
 */
#define apiauth_room(out, last, n)                                           \
    if ((size_t) ((last) - (out)) < (size_t) (n)) return NULL


/* bytewise, a shorter name first where one is the other's start */

static int
apiauth_name_cmp(const unsigned char *a, size_t a_len,
    const unsigned char *b, size_t b_len)
{
    int  rc;

    rc = memcmp(a, b, a_len < b_len ? a_len : b_len);

    if (rc != 0) {
        return rc;
    }

    return a_len == b_len ? 0 : (a_len < b_len ? -1 : 1);
}


#define apiauth_name_is(p, n, lit)                                           \
    ((n) == sizeof(lit) - 1                                                  \
     && apiauth_bytes_eq(p, (const unsigned char *) lit, sizeof(lit) - 1))


/*
 * character classes, one table lookup per character on the hot path:
 * unreserved (RFC 3986), header name (RFC 9110 token, lower case), nonce,
 * and what ends a value (a name) in the Authorization header
 */
#define APIAUTH_UNRESERVED   1
#define APIAUTH_NAME         2
#define APIAUTH_NONCE        4
#define APIAUTH_VALUE_END    8
#define APIAUTH_NAME_END     16

static unsigned char  apiauth_class[256];
static int            apiauth_class_ready;

static void apiauth_class_init(void);


/* RFC 3986 unreserved characters */
static const unsigned char  apiauth_unreserved[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1
};


static void
apiauth_class_init(void)
{
    int          c;
    const char  *p;

    for (c = 0; c < 256; c++) {
        if (apiauth_unreserved[c]) {
            apiauth_class[c] |= APIAUTH_UNRESERVED;
        }

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            apiauth_class[c] |= APIAUTH_NAME | APIAUTH_NONCE;
        }

        if (c >= 'A' && c <= 'Z') {
            apiauth_class[c] |= APIAUTH_NONCE;
        }
    }

    for (p = "!#$%&'*+-.^_`|~"; *p; p++) {
        apiauth_class[(unsigned char) *p] |= APIAUTH_NAME;
    }

    apiauth_class['_'] |= APIAUTH_NONCE;
    apiauth_class['-'] |= APIAUTH_NONCE;

    for (p = ", \t"; *p; p++) {
        apiauth_class[(unsigned char) *p] |= APIAUTH_VALUE_END
                                             | APIAUTH_NAME_END;
    }

    apiauth_class['='] |= APIAUTH_NAME_END;

    apiauth_class_ready = 1;
}


static const unsigned char *
apiauth_auth_skip_sp(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}


/*
 * one pass, no library calls: a header of a few hundred bytes is cheaper
 * to read byte by byte than through a memchr() per separator
 */

int
apiauth_auth_parse(const unsigned char *s, size_t len, apiauth_auth_t *a)
{
    size_t                n;
    unsigned              seen;
    const unsigned char  *p, *end, *name, *val;

    end = s + len;
    n = sizeof(APIAUTH_ALGORITHM) - 1;

    if (len <= n || memcmp(s, APIAUTH_ALGORITHM, n) != 0
        || (s[n] != ' ' && s[n] != '\t'))
    {
        return -1;
    }

    if (!apiauth_class_ready) {
        apiauth_class_init();
    }

    seen = 0;
    p = s + n;

    /* "name=value" segments between commas, spaces around them only */

    for ( ;; ) {
        p = apiauth_auth_skip_sp(p, end);

        name = p;

        while (p < end && !(apiauth_class[*p] & APIAUTH_NAME_END)) {
            p++;
        }

        if (p == end || *p != '=' || p == name) {
            return -1;
        }

        n = p - name;
        val = ++p;

        if (apiauth_name_is(name, n, "Signature")) {

            /* 64 lower-case hex digits, decoded as they are read */

            if ((seen & 4) || (size_t) (end - val) < 2 * APIAUTH_SHA256_LEN
                || apiauth_unhex_lower(a->signature, val, APIAUTH_SHA256_LEN)
                   != 0)
            {
                return -1;
            }

            seen |= 4;
            p = val + 2 * APIAUTH_SHA256_LEN;

        } else {

            while (p < end && !(apiauth_class[*p] & APIAUTH_VALUE_END)) {
                p++;
            }

            if (p == val) {
                return -1;
            }

            if (apiauth_name_is(name, n, "Credential") && !(seen & 1)) {
                seen |= 1;
                a->credential = val;
                a->credential_len = p - val;

            } else if (apiauth_name_is(name, n, "SignedHeaders")
                       && !(seen & 2))
            {
                seen |= 2;
                a->signed_headers = val;
                a->signed_headers_len = p - val;

            } else {
                return -1;
            }
        }

        /* spaces may end a value, but only a comma or the end follows */

        p = apiauth_auth_skip_sp(p, end);

        if (p < end && *p != ',') {
            return -1;
        }

        if (p == end) {
            break;
        }

        p++;
    }

    return seen == 7 ? 0 : -1;
}


static int
apiauth_header_sent(const apiauth_header_t *headers, size_t nheaders,
    const unsigned char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < nheaders; i++) {
        if (headers[i].name_len == len
            && apiauth_bytes_eq(headers[i].name, name, len))
        {
            return 1;
        }
    }

    return 0;
}


int
apiauth_signed_headers_check(const unsigned char *s, size_t len,
    const apiauth_header_t *headers, size_t nheaders)
{
    size_t                n, prev_len, count;
    unsigned              required;
    const unsigned char  *p, *end, *name, *prev;

    if (len == 0 || len > APIAUTH_SIGNED_HEADERS_MAX) {
        return -1;
    }

    if (!apiauth_class_ready) {
        apiauth_class_init();
    }

    end = s + len;
    p = s;
    prev = NULL;
    prev_len = 0;
    required = 0;
    count = 0;

    for ( ;; ) {
        name = p;

        while (p < end && *p != ';') {
            /* RFC 9110 token characters, upper case excluded */
            if (!(apiauth_class[*p] & APIAUTH_NAME)) {
                return -1;
            }
            p++;
        }

        n = p - name;

        if (n == 0 || ++count > APIAUTH_SIGNED_MAX) {
            return -1;
        }

        /* strictly sorted, which also rules out duplicates */

        if (prev && apiauth_name_cmp(prev, prev_len, name, n) >= 0) {
            return -1;
        }

        if (apiauth_str_eq(name, n, "authorization")
            || !apiauth_header_sent(headers, nheaders, name, n))
        {
            return -1;
        }

        if (apiauth_str_eq(name, n, "host")) {
            required |= 1;

        } else if (apiauth_str_eq(name, n, "x-apiauth-date")) {
            required |= 2;

        } else if (apiauth_str_eq(name, n, "x-apiauth-nonce")) {
            required |= 4;

        } else if (apiauth_str_eq(name, n, "x-apiauth-content-sha256")) {
            required |= 8;
        }

        prev = name;
        prev_len = n;

        if (p == end) {
            break;
        }

        p++;
    }

    if (apiauth_header_sent(headers, nheaders,
                            (const unsigned char *) "x-apiauth-content-sha256",
                            sizeof("x-apiauth-content-sha256") - 1))
    {
        return required == 15 ? 0 : -1;
    }

    return required == 7 ? 0 : -1;
}


int
apiauth_date_parse(const unsigned char *s, size_t len, long long *date)
{
    size_t     i;
    long long  v;

    if (len == 0 || len > APIAUTH_DATE_MAX) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    *date = v;

    return 0;
}


int
apiauth_nonce_check(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len < APIAUTH_NONCE_MIN || len > APIAUTH_NONCE_MAX) {
        return -1;
    }

    if (!apiauth_class_ready) {
        apiauth_class_init();
    }

    for (i = 0; i < len; i++) {
        if (!(apiauth_class[s[i]] & APIAUTH_NONCE)) {
            return -1;
        }
    }

    return 0;
}


int
apiauth_hash_hex_check(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len != APIAUTH_SHA256_HEX_LEN) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return -1;
        }
    }

    return 0;
}


/*
 * RFC 3986 6.2.2.1 and 6.2.2.2: "%xx" upper-cased, unreserved characters
 * decoded; never longer than its input, so dst may be src's own size
 */

static size_t
apiauth_normalise(unsigned char *dst, const unsigned char *src, size_t len)
{
    unsigned char  c, *start;
    const unsigned char *end;

    start = dst;
    end = src + len;

    while (src < end) {
        if (*src == '%' && end - src >= 3
            && apiauth_unhex(&c, src + 1, 1) == 0)
        {
            if (apiauth_unreserved[c]) {
                *dst++ = c;

            } else {
                *dst++ = '%';
                *dst++ = (src[1] >= 'a') ? src[1] - 0x20 : src[1];
                *dst++ = (src[2] >= 'a') ? src[2] - 0x20 : src[2];
            }

            src += 3;
            continue;
        }

        *dst++ = *src++;
    }

    return dst - start;
}


static int
apiauth_param_cmp(const void *one, const void *two)
{
    int                     rc;
    const apiauth_param_t  *a, *b;

    a = one;
    b = two;

    rc = memcmp(a->name, b->name,
                a->name_len < b->name_len ? a->name_len : b->name_len);
    if (rc || a->name_len != b->name_len) {
        return rc ? rc : (a->name_len < b->name_len ? -1 : 1);
    }

    rc = memcmp(a->value, b->value,
                a->value_len < b->value_len ? a->value_len : b->value_len);
    if (rc || a->value_len != b->value_len) {
        return rc ? rc : (a->value_len < b->value_len ? -1 : 1);
    }

    return 0;
}


static unsigned char *
apiauth_canonical_query(const apiauth_request_t *req,
    apiauth_scratch_t *scratch, unsigned char *dst, unsigned char *last)
{
    size_t                n, i;
    unsigned char        *out;
    apiauth_param_t      *prm;
    const unsigned char  *p, *end, *amp, *eq;

    n = 0;
    out = scratch->buf;
    p = req->query;
    end = p + req->query_len;

    while (p < end) {
        amp = memchr(p, '&', end - p);
        if (amp == NULL) {
            amp = end;
        }

        if (amp == p) {
            p++;
            continue;
        }

        if (n == APIAUTH_QUERY_PARAMS_MAX) {
            return NULL;
        }

        eq = memchr(p, '=', amp - p);
        if (eq == NULL) {
            eq = amp;
        }

        prm = &scratch->params[n++];

        prm->name = out;
        prm->name_len = apiauth_normalise(out, p, eq - p);
        out += prm->name_len;

        prm->value = out;
        prm->value_len = (eq < amp) ? apiauth_normalise(out, eq + 1,
                                                        amp - eq - 1)
                                    : 0;
        out += prm->value_len;

        if (amp == end) {
            break;
        }

        p = amp + 1;
    }

    if (n > 1) {
        qsort(scratch->params, n, sizeof(apiauth_param_t), apiauth_param_cmp);
    }

    for (i = 0; i < n; i++) {
        prm = &scratch->params[i];

        apiauth_room(dst, last, prm->name_len + prm->value_len + 2);

        if (i) {
            *dst++ = '&';
        }

        dst = apiauth_cpy(dst, prm->name, prm->name_len);
        *dst++ = '=';
        dst = apiauth_cpy(dst, prm->value, prm->value_len);
    }

    return dst;
}


/*
 * trims spaces and tabs, and folds inner runs of them into one space; most
 * values (nginx trims them already) are copied whole
 */

static unsigned char *
apiauth_fold(unsigned char *out, const unsigned char *p, size_t len)
{
    size_t                i;
    const unsigned char  *end;

    end = p + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    len = end - p;

    for (i = 0; i < len; i++) {
        if (p[i] == '\t' || (p[i] == ' ' && (p[i + 1] == ' '
                                              || p[i + 1] == '\t')))
        {
            break;
        }
    }

    if (i == len) {
        memcpy(out, p, len);
        return out + len;
    }

    while (p < end) {
        if (*p == ' ' || *p == '\t') {
            *out++ = ' ';

            while (*p == ' ' || *p == '\t') {
                p++;
            }

            continue;
        }

        *out++ = *p++;
    }

    return out;
}


/*
 * writes the canonical request between out and last and returns its end;
 * NULL when it does not fit or the request has more query parameters than
 * are sorted (apiauth_canonical_request_bound(req) bytes always fit)
 */

static unsigned char *
apiauth_canonical_write(const apiauth_request_t *req,
    apiauth_scratch_t *scratch, unsigned char *out, unsigned char *last)
{
    size_t                   i, n;
    unsigned char           *start;
    const unsigned char     *p, *end, *name;
    const apiauth_header_t  *h, *payload;

    apiauth_room(out, last, req->method_len + req->path_len + 2);

    out = apiauth_cpy(out, req->method, req->method_len);
    *out++ = '\n';

    /* normalising never lengthens */
    out += apiauth_normalise(out, req->path, req->path_len);
    *out++ = '\n';

    out = apiauth_canonical_query(req, scratch, out, last);
    if (out == NULL) {
        return NULL;
    }

    apiauth_room(out, last, 1);
    *out++ = '\n';

    p = req->signed_headers;
    end = p + req->signed_headers_len;

    for ( ;; ) {
        name = p;

        while (p < end && *p != ';') {
            p++;
        }

        n = p - name;

        apiauth_room(out, last, n + 1);
        out = apiauth_cpy(out, name, n);
        *out++ = ':';
        start = out;

        for (i = 0; i < req->nheaders; i++) {
            h = &req->headers[i];

            if (h->name_len == n && apiauth_bytes_eq(h->name, name, n)) {

                /* folding never lengthens */
                apiauth_room(out, last, h->value_len + 1);

                if (out != start) {
                    *out++ = ',';
                }

                out = apiauth_fold(out, h->value, h->value_len);

                /* an empty first value still counts as one */
                start = NULL;
            }
        }

        apiauth_room(out, last, 1);
        *out++ = '\n';

        if (p == end) {
            break;
        }

        p++;
    }

    apiauth_room(out, last, req->signed_headers_len + 1);
    out = apiauth_cpy(out, req->signed_headers, req->signed_headers_len);
    *out++ = '\n';

    payload = NULL;

    for (i = 0; i < req->nheaders; i++) {
        if (apiauth_str_eq(req->headers[i].name, req->headers[i].name_len,
                           "x-apiauth-content-sha256"))
        {
            payload = &req->headers[i];
            break;
        }
    }

    if (payload) {
        apiauth_room(out, last, payload->value_len);
        return apiauth_fold(out, payload->value, payload->value_len);
    }

    apiauth_room(out, last, sizeof(APIAUTH_UNSIGNED_PAYLOAD) - 1);

    return apiauth_cpy(out, (const unsigned char *) APIAUTH_UNSIGNED_PAYLOAD,
                       sizeof(APIAUTH_UNSIGNED_PAYLOAD) - 1);
}


/* the canonical request as text, for tools and tests */

int
apiauth_canonical_request(const apiauth_request_t *req,
    apiauth_scratch_t *scratch, apiauth_sink_pt sink, void *data)
{
    size_t          n;
    unsigned char  *buf, *end;

    n = apiauth_canonical_request_bound(req);

    buf = malloc(n);
    if (buf == NULL) {
        return -1;
    }

    end = apiauth_canonical_write(req, scratch, buf, buf + n);

    if (end) {
        sink(data, buf, end - buf);
    }

    free(buf);

    return end ? 0 : -1;
}


void
apiauth_string_to_sign(const unsigned char *date, size_t date_len,
    const unsigned char *nonce, size_t nonce_len,
    const unsigned char *creq_hash_hex, apiauth_sink_pt sink, void *data)
{
    sink(data, (const unsigned char *) APIAUTH_ALGORITHM "\n",
         sizeof(APIAUTH_ALGORITHM));
    sink(data, date, date_len);
    sink(data, (const unsigned char *) "\n", 1);
    sink(data, nonce, nonce_len);
    sink(data, (const unsigned char *) "\n", 1);
    sink(data, creq_hash_hex, APIAUTH_SHA256_HEX_LEN);
}


/*
 * the path only shrinks when normalised; the query too, but a part without
 * '=' gains one; each sent header adds to at most one signed line, with a
 * separator; each signed name adds its ':' and line break; the payload
 * hash is written a second time, as the last line
 */

size_t
apiauth_canonical_request_bound(const apiauth_request_t *req)
{
    size_t  i, n;

    n = req->method_len + req->path_len + 2 * req->query_len
        + 3 * req->signed_headers_len + sizeof(APIAUTH_UNSIGNED_PAYLOAD)
        + 32;

    for (i = 0; i < req->nheaders; i++) {
        n += req->headers[i].name_len + req->headers[i].value_len + 2;

        if (apiauth_str_eq(req->headers[i].name, req->headers[i].name_len,
                           "x-apiauth-content-sha256"))
        {
            n += req->headers[i].value_len;
        }
    }

    return n;
}


int
apiauth_sign(const apiauth_request_t *req, apiauth_scratch_t *scratch,
    const unsigned char *date, size_t date_len,
    const unsigned char *nonce, size_t nonce_len,
    const unsigned char *secret, size_t secret_len, unsigned char *mac)
{
    int                 rc;
    apiauth_hmac_key_t  hk;

    rc = apiauth_hmac_key(&hk, secret, secret_len) == 0
         && apiauth_sign_keyed(req, scratch, date, date_len, nonce,
                               nonce_len, &hk, mac) == 0;

    explicit_bzero(&hk, sizeof(hk));

    return rc ? 0 : -1;
}


int
apiauth_sign_keyed(const apiauth_request_t *req, apiauth_scratch_t *scratch,
    const unsigned char *date, size_t date_len,
    const unsigned char *nonce, size_t nonce_len,
    const apiauth_hmac_key_t *hk, unsigned char *mac)
{
    int             rc;
    size_t          cap;
    unsigned char  *own, *start, *end, *p;
    unsigned char   md[APIAUTH_SHA256_LEN];
    unsigned char   sts[sizeof(APIAUTH_ALGORITHM) + APIAUTH_DATE_MAX
                        + APIAUTH_NONCE_MAX + APIAUTH_SHA256_HEX_LEN + 2];

    if (date_len > APIAUTH_DATE_MAX || nonce_len > APIAUTH_NONCE_MAX) {
        return -1;
    }

    /*
     * one buffer, one digest: a piecewise digest costs more per piece;
     * most requests fit the caller's buffer (every write is checked), the
     * bound sizes one for the others
     */

    own = NULL;
    start = scratch->creq;
    end = start ? apiauth_canonical_write(req, scratch, start,
                                          start + scratch->creq_cap)
                : NULL;

    if (end == NULL) {
        cap = apiauth_canonical_request_bound(req);

        /* it had room: the request is refused, not written twice */
        if (start && cap <= scratch->creq_cap) {
            return -1;
        }

        own = malloc(cap);
        if (own == NULL) {
            return -1;
        }

        start = own;
        end = apiauth_canonical_write(req, scratch, own, own + cap);
    }

    rc = end ? apiauth_sha256(start, end - start, md) : -1;

    free(own);

    if (rc != 0) {
        return -1;
    }

    /*
     * the string to sign, written in place: it is short and bounded, and
     * fits in sts; apiauth_string_to_sign() writes the same for the tools
     * (t/unit/test_sign.c checks that the two agree)
     */

    p = apiauth_cpy(sts, (const unsigned char *) APIAUTH_ALGORITHM "\n",
                    sizeof(APIAUTH_ALGORITHM));
    p = apiauth_cpy(p, date, date_len);
    *p++ = '\n';
    p = apiauth_cpy(p, nonce, nonce_len);
    *p++ = '\n';
    apiauth_hex(p, md, APIAUTH_SHA256_LEN);
    p += APIAUTH_SHA256_HEX_LEN;

    return apiauth_hmac_sha256_keyed(hk, sts, p - sts, mac);
}


/* the lengths are public: only the bytes are compared in constant time */

int
apiauth_mac_compare(const unsigned char *a, size_t a_len,
    const unsigned char *b, size_t b_len)
{
    if (a_len != b_len) {
        return -1;
    }

    return CRYPTO_memcmp(a, b, a_len) == 0 ? 0 : -1;
}
