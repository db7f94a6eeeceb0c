
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The APIAUTH-HMAC-SHA256 request signature (apiauth_sign.h): every vector
 * of t/data/vectors.json (its directory is argv[1]) reproduced
 * byte for byte, then the refusals and the edges of each step.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "apiauth_secret.h"
#include "apiauth_sign.h"
#include "json_reader.h"
#include "tap.h"


/* a string literal with its length, embedded NULs included */
#define S(lit)  (const unsigned char *) lit, sizeof(lit) - 1

#define MAX_HEADERS  64


/* borrowed bytes */
typedef struct {
    const unsigned char  *data;
    size_t                len;
} ref_t;


enum {
    F_NAME = 0,
    F_ACCESS_KEY,
    F_SECRET,
    F_METHOD,
    F_TARGET,
    F_CANONICAL_REQUEST,
    F_STRING_TO_SIGN,
    F_AUTHORIZATION,
    F_N
};

static const char  *field_names[F_N] = {
    "name", "access_key", "secret", "method", "target", "canonical_request",
    "string_to_sign", "authorization"
};


typedef struct {
    str_t    f[F_N];
    str_t   *names;                     /* as in the file */
    str_t   *values;
    size_t   nheaders;
    int      has_headers;
} vector_t;


/*
 * vectors.json, read with json_reader.h: an array of objects whose fields
 * of interest are strings, and "headers", an array of [name, value] string
 * pairs; other fields are skipped whatever they hold.
 */

static int
vector_headers(json_t *j, vector_t *v)
{
    str_t  name, value;

    if (v->has_headers) {
        return json_fail(j, "\"headers\" twice");
    }

    v->has_headers = 1;

    if (json_expect(j, '[') != 0) {
        return -1;
    }

    if (json_peek(j) == ']') {
        j->p++;
        return 0;
    }

    for ( ;; ) {
        if (json_expect(j, '[') != 0 || json_string(j, &name) != 0) {
            return -1;
        }

        if (json_expect(j, ',') != 0 || json_string(j, &value) != 0) {
            free(name.data);
            return -1;
        }

        if (json_expect(j, ']') != 0) {
            free(value.data);
            free(name.data);
            return json_fail(j, "a header is no [name, value] pair");
        }

        v->names = realloc(v->names, (v->nheaders + 1) * sizeof(str_t));
        v->values = realloc(v->values, (v->nheaders + 1) * sizeof(str_t));
        if (v->names == NULL || v->values == NULL) {
            abort();
        }

        v->names[v->nheaders] = name;
        v->values[v->nheaders] = value;
        v->nheaders++;

        if (json_peek(j) == ']') {
            j->p++;
            return 0;
        }

        if (json_expect(j, ',') != 0) {
            return -1;
        }
    }
}


static int
vector_field(json_t *j, vector_t *v)
{
    int    i;
    str_t  key;

    if (json_string(j, &key) != 0) {
        return -1;
    }

    if (json_expect(j, ':') != 0) {
        free(key.data);
        return -1;
    }

    if (key.len == sizeof("headers") - 1
        && memcmp(key.data, "headers", key.len) == 0)
    {
        free(key.data);
        return vector_headers(j, v);
    }

    for (i = 0; i < F_N; i++) {
        if (key.len == strlen(field_names[i])
            && memcmp(key.data, field_names[i], key.len) == 0)
        {
            break;
        }
    }

    free(key.data);

    if (i == F_N) {
        return json_skip(j, 1);
    }

    if (json_peek(j) != '"') {
        return json_fail(j, "a field of interest is no string");
    }

    free(v->f[i].data);
    v->f[i].data = NULL;

    return json_string(j, &v->f[i]);
}


static void
free_vectors(vector_t *v, size_t n)
{
    size_t  i, k;

    for (i = 0; i < n; i++) {
        for (k = 0; k < F_N; k++) {
            free(v[i].f[k].data);
        }

        for (k = 0; k < v[i].nheaders; k++) {
            free(v[i].names[k].data);
            free(v[i].values[k].data);
        }

        free(v[i].names);
        free(v[i].values);
    }

    free(v);
}


/* reads the file's vectors; returns their number, or -1 with a diag */

static long
read_vectors(const char *path, vector_t **out)
{
    int        c;
    long       rc;
    size_t     n, k;
    json_t     j;
    vector_t  *v, *vs;

    if (json_load(&j, path) != 0) {
        diag("cannot open %s", path);
        return -1;
    }

    vs = NULL;
    n = 0;
    rc = -1;

    if (json_expect(&j, '[') != 0) {
        goto done;
    }

    if (json_peek(&j) == ']') {
        j.p++;
        goto end;
    }

    for ( ;; ) {
        vs = realloc(vs, (n + 1) * sizeof(vector_t));
        if (vs == NULL) {
            abort();
        }

        v = &vs[n++];
        memset(v, 0, sizeof(vector_t));

        if (json_expect(&j, '{') != 0) {
            goto done;
        }

        if (json_peek(&j) != '}') {
            for ( ;; ) {
                if (vector_field(&j, v) != 0) {
                    goto done;
                }

                if (json_peek(&j) == '}') {
                    break;
                }

                if (json_expect(&j, ',') != 0) {
                    goto done;
                }
            }
        }

        j.p++;

        for (k = 0; k < F_N; k++) {
            if (v->f[k].data == NULL) {
                diag("%s: vector %zu has no \"%s\" string", path, n,
                     field_names[k]);
                goto done;
            }
        }

        if (!v->has_headers || v->nheaders == 0
            || v->nheaders > MAX_HEADERS - 1)
        {
            diag("%s: vector %zu has no \"headers\", or more than %d", path,
                 n, MAX_HEADERS - 1);
            goto done;
        }

        c = json_peek(&j);

        if (c == ']') {
            j.p++;
            break;
        }

        if (json_expect(&j, ',') != 0) {
            goto done;
        }
    }

end:

    if (json_peek(&j) != -1) {
        json_fail(&j, "trailing text");
        goto done;
    }

    rc = (long) n;

done:

    if (j.error) {
        diag("%s: %s at byte %zu", path, j.error, j.error_at);
    }

    json_free(&j);

    if (rc < 0) {
        free_vectors(vs, n);
        return -1;
    }

    *out = vs;

    return rc;
}


/* the canonical request and the string to sign go to a growing buffer */

typedef struct {
    unsigned char  *p;
    size_t          len;
    size_t          size;
} buf_t;


static void
buf_sink(void *data, const unsigned char *p, size_t len)
{
    buf_t  *b = data;

    if (b->len + len > b->size) {
        b->size = 2 * (b->len + len) + 64;
        b->p = realloc(b->p, b->size);
        if (b->p == NULL) {
            abort();
        }
    }

    if (len) {
        memcpy(b->p + b->len, p, len);
    }

    b->len += len;
}


static void
sha256_hex(const unsigned char *p, size_t len, unsigned char *hex)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(p, len, md, &n, EVP_sha256(), NULL) != 1) {
        abort();
    }

    apiauth_hex(hex, md, APIAUTH_SHA256_LEN);
}


/*
 * A request as a test describes it (borrowed bytes); build() turns it into
 * an apiauth_request_t whose every string is an exact-size heap copy, and
 * whose scratch space has exactly the documented size, so that the
 * sanitizers see any access out of bounds.
 */

typedef struct {
    ref_t    method;
    ref_t    target;                    /* path?query */
    ref_t    names[MAX_HEADERS];        /* lower case */
    ref_t    values[MAX_HEADERS];
    size_t   nheaders;
    ref_t    signed_headers;
    ref_t    date;
    ref_t    nonce;
    ref_t    secret;
} spec_t;


typedef struct {
    apiauth_request_t   req;
    apiauth_scratch_t   scratch;
    apiauth_header_t    headers[MAX_HEADERS];
    void               *owned[2 * MAX_HEADERS + 16];
    size_t              nowned;
} built_t;


static void *
own(built_t *b, size_t size)
{
    void  *p;

    p = malloc(size ? size : 1);
    if (p == NULL) {
        abort();
    }

    b->owned[b->nowned++] = p;

    return p;
}


static const unsigned char *
own_copy(built_t *b, const unsigned char *s, size_t len)
{
    unsigned char  *p;

    p = own(b, len);

    if (len) {
        memcpy(p, s, len);
    }

    return p;
}


static void
build(const spec_t *s, built_t *b)
{
    size_t                i, path_len, query_len;
    const unsigned char  *q;

    memset(b, 0, sizeof(built_t));

    q = memchr(s->target.data, '?', s->target.len);
    path_len = q ? (size_t) (q - s->target.data) : s->target.len;
    query_len = q ? s->target.len - path_len - 1 : 0;

    b->req.method = own_copy(b, s->method.data, s->method.len);
    b->req.method_len = s->method.len;
    b->req.path = own_copy(b, s->target.data, path_len);
    b->req.path_len = path_len;
    b->req.query = own_copy(b, q ? q + 1 : s->target.data, query_len);
    b->req.query_len = query_len;

    for (i = 0; i < s->nheaders; i++) {
        b->headers[i].name = own_copy(b, s->names[i].data, s->names[i].len);
        b->headers[i].name_len = s->names[i].len;
        b->headers[i].value = own_copy(b, s->values[i].data,
                                       s->values[i].len);
        b->headers[i].value_len = s->values[i].len;
    }

    b->req.headers = b->headers;
    b->req.nheaders = s->nheaders;
    b->req.signed_headers = own_copy(b, s->signed_headers.data,
                                     s->signed_headers.len);
    b->req.signed_headers_len = s->signed_headers.len;

    b->scratch.buf = own(b, path_len > query_len ? path_len : query_len);

    /* exactly the documented bound: the sanitizers catch an overflow */
    b->scratch.creq_cap = apiauth_canonical_request_bound(&b->req);
    b->scratch.creq = own(b, b->scratch.creq_cap);
    b->scratch.params = own(b, APIAUTH_QUERY_PARAMS_MAX
                               * sizeof(apiauth_param_t));
}


static void
unbuild(built_t *b)
{
    while (b->nowned) {
        free(b->owned[--b->nowned]);
    }
}


static int
spec_check(const spec_t *s)
{
    int      rc;
    built_t  b;

    build(s, &b);
    rc = apiauth_signed_headers_check(b.req.signed_headers,
                                      b.req.signed_headers_len, b.headers,
                                      b.req.nheaders);
    unbuild(&b);

    return rc;
}


static int
spec_creq(const spec_t *s, buf_t *out)
{
    int      rc;
    built_t  b;

    build(s, &b);
    out->len = 0;
    rc = apiauth_canonical_request(&b.req, &b.scratch, buf_sink, out);
    unbuild(&b);

    return rc;
}


static int
spec_mac(const spec_t *s, unsigned char *mac)
{
    int                   rc;
    built_t               b;
    const unsigned char  *date, *nonce, *secret;

    build(s, &b);
    date = own_copy(&b, s->date.data, s->date.len);
    nonce = own_copy(&b, s->nonce.data, s->nonce.len);
    secret = own_copy(&b, s->secret.data, s->secret.len);

    memset(mac, 0, APIAUTH_SHA256_LEN);
    rc = apiauth_sign(&b.req, &b.scratch, date, s->date.len, nonce,
                      s->nonce.len, secret, s->secret.len, mac);
    unbuild(&b);

    return rc;
}


#define REF(str)  ((ref_t) { (str).data, (str).len })


/* whether t can be signed and its MAC differs from mac */

static int
mac_differs(const spec_t *t, const unsigned char *mac)
{
    unsigned char  m[APIAUTH_SHA256_LEN];

    return spec_mac(t, m) == 0
           && apiauth_mac_compare(m, sizeof(m), mac, APIAUTH_SHA256_LEN) != 0;
}


static int
mac_same(const spec_t *t, const unsigned char *mac)
{
    unsigned char  m[APIAUTH_SHA256_LEN];

    return spec_mac(t, m) == 0
           && apiauth_mac_compare(m, sizeof(m), mac, APIAUTH_SHA256_LEN) == 0;
}


/* keep receives s with ins inserted at offset at; returns it as a ref */

static ref_t
spliced(str_t *keep, const unsigned char *s, size_t len, size_t at,
    const char *ins)
{
    size_t  n;

    n = strlen(ins);
    keep->len = len + n;
    keep->data = malloc(keep->len);
    if (keep->data == NULL) {
        abort();
    }

    memcpy(keep->data, s, at);
    memcpy(keep->data + at, ins, n);
    memcpy(keep->data + at + n, s + at, len - at);

    return REF(*keep);
}


static int
signed_has(ref_t list, const unsigned char *name, size_t len)
{
    const unsigned char  *p, *end, *semi;

    p = list.data;
    end = p + list.len;

    while (p < end) {
        semi = memchr(p, ';', end - p);
        if (semi == NULL) {
            semi = end;
        }

        if ((size_t) (semi - p) == len && memcmp(p, name, len) == 0) {
            return 1;
        }

        p = semi + 1;
    }

    return 0;
}


static int
ref_is(ref_t r, const char *lit)
{
    return r.len == strlen(lit) && memcmp(r.data, lit, r.len) == 0;
}


static void
test_vector(const vector_t *v)
{
    int              found_date, found_nonce;
    char             name[128];
    size_t           i, k, path_len;
    spec_t           s, t;
    str_t            lower[MAX_HEADERS], tmp;
    buf_t            creq, sts;
    long long        date;
    apiauth_auth_t   a;
    unsigned char    hash[APIAUTH_SHA256_HEX_LEN];
    unsigned char    mac[APIAUTH_SHA256_LEN], hex[2][APIAUTH_SHA256_HEX_LEN];
    unsigned char    other[APIAUTH_DATE_MAX];
    const char      *q;

    snprintf(name, sizeof(name), "%.*s", (int) v->f[F_NAME].len,
             v->f[F_NAME].data);

    memset(&s, 0, sizeof(spec_t));
    memset(&creq, 0, sizeof(buf_t));
    memset(&sts, 0, sizeof(buf_t));

    s.method = REF(v->f[F_METHOD]);
    s.target = REF(v->f[F_TARGET]);
    s.secret = REF(v->f[F_SECRET]);
    s.nheaders = v->nheaders;

    found_date = 0;
    found_nonce = 0;

    /* the names in lower case, as the module hands them over */

    for (i = 0; i < v->nheaders; i++) {
        lower[i].len = v->names[i].len;
        lower[i].data = malloc(lower[i].len ? lower[i].len : 1);
        if (lower[i].data == NULL) {
            abort();
        }

        for (k = 0; k < lower[i].len; k++) {
            lower[i].data[k] = v->names[i].data[k];

            if (lower[i].data[k] >= 'A' && lower[i].data[k] <= 'Z') {
                lower[i].data[k] |= 0x20;
            }
        }

        s.names[i] = REF(lower[i]);
        s.values[i] = REF(v->values[i]);

        if (!found_date && ref_is(s.names[i], "x-apiauth-date")) {
            s.date = s.values[i];
            found_date = 1;
        }

        if (!found_nonce && ref_is(s.names[i], "x-apiauth-nonce")) {
            s.nonce = s.values[i];
            found_nonce = 1;
        }
    }

    if (!ok(found_date && found_nonce,
            "%s: the vector sends X-Apiauth-Date and X-Apiauth-Nonce", name)
        || !ok(apiauth_auth_parse(v->f[F_AUTHORIZATION].data,
                                  v->f[F_AUTHORIZATION].len, &a) == 0,
               "%s: its Authorization header parses", name))
    {
        goto done;
    }

    is_str(a.credential, a.credential_len, v->f[F_ACCESS_KEY].data,
           v->f[F_ACCESS_KEY].len, "%s: Credential is its accessKey", name);

    s.signed_headers.data = a.signed_headers;
    s.signed_headers.len = a.signed_headers_len;

    ok(spec_check(&s) == 0, "%s: its SignedHeaders pass the check (%.*s)",
       name, (int) a.signed_headers_len, a.signed_headers);

    ok(apiauth_date_parse(s.date.data, s.date.len, &date) == 0
       && apiauth_nonce_check(s.nonce.data, s.nonce.len) == 0,
       "%s: its date and nonce are well formed", name);

    /* the canonical request, byte for byte */

    if (!ok(spec_creq(&s, &creq) == 0,
            "%s: apiauth_canonical_request succeeds", name))
    {
        goto done;
    }

    is_str(creq.p, creq.len, v->f[F_CANONICAL_REQUEST].data,
           v->f[F_CANONICAL_REQUEST].len, "%s: the canonical request", name);

    /* the string to sign, from the SHA-256 of our canonical request */

    sha256_hex(creq.p, creq.len, hash);
    apiauth_string_to_sign(s.date.data, s.date.len, s.nonce.data, s.nonce.len,
                           hash, buf_sink, &sts);

    is_str(sts.p, sts.len, v->f[F_STRING_TO_SIGN].data,
           v->f[F_STRING_TO_SIGN].len, "%s: the string to sign", name);

    /* the whole signature */

    if (!ok(spec_mac(&s, mac) == 0, "%s: apiauth_sign succeeds", name)) {
        goto done;
    }

    if (!ok(apiauth_mac_compare(mac, sizeof(mac), a.signature,
                                sizeof(a.signature)) == 0,
            "%s: apiauth_sign's MAC is its Signature (apiauth_mac_compare)",
            name))
    {
        apiauth_hex(hex[0], mac, APIAUTH_SHA256_LEN);
        apiauth_hex(hex[1], a.signature, APIAUTH_SHA256_LEN);
        diag("          MAC: %.64s\n    Signature: %.64s", hex[0], hex[1]);
    }

    /* whatever is signed changes the MAC */

    t = s;
    t.method.data = (const unsigned char *)
                    (ref_is(s.method, "GET") ? "HEAD" : "GET");
    t.method.len = strlen((const char *) t.method.data);
    ok(mac_differs(&t, mac), "%s: another method (%.*s) changes the MAC",
       name, (int) t.method.len, t.method.data);

    if (ref_is(s.method, "GET")) {
        t = s;
        t.method.data = (const unsigned char *) "get";
        ok(mac_differs(&t, mac), "%s: the method's case changes the MAC",
           name);
    }

    q = memchr(s.target.data, '?', s.target.len);
    path_len = q ? (size_t) (q - (const char *) s.target.data) : s.target.len;

    t = s;
    t.target = spliced(&tmp, s.target.data, s.target.len, path_len, "x");
    ok(mac_differs(&t, mac), "%s: a longer path changes the MAC", name);
    free(tmp.data);

    t = s;
    t.target = spliced(&tmp, s.target.data, s.target.len, s.target.len,
                       q ? "&z=1" : "?z=1");
    ok(mac_differs(&t, mac), "%s: another query parameter changes the MAC",
       name);
    free(tmp.data);

    if (q && q + 1 < (const char *) s.target.data + s.target.len) {
        t = s;
        t.target = spliced(&tmp, s.target.data, s.target.len, s.target.len,
                           "0");
        ok(mac_differs(&t, mac), "%s: a changed query value changes the MAC",
           name);
        free(tmp.data);
    }

    for (i = 0; i < s.nheaders; i++) {
        if (!signed_has(s.signed_headers, s.names[i].data, s.names[i].len)) {
            continue;
        }

        t = s;
        t.values[i] = spliced(&tmp, s.values[i].data, s.values[i].len,
                              s.values[i].len, "0");
        ok(mac_differs(&t, mac),
           "%s: a changed %.*s value (header %zu) changes the MAC", name,
           (int) s.names[i].len, s.names[i].data, i + 1);
        free(tmp.data);
    }

    t = s;
    t.secret = spliced(&tmp, s.secret.data, s.secret.len, s.secret.len, "x");
    ok(mac_differs(&t, mac), "%s: another secret changes the MAC", name);
    free(tmp.data);

    if (s.date.len > 0 && s.date.len <= sizeof(other)) {
        memcpy(other, s.date.data, s.date.len);
        other[s.date.len - 1] ^= 1;     /* another digit */
        t = s;
        t.date.data = other;
        ok(mac_differs(&t, mac), "%s: another date changes the MAC", name);
    }

    if (s.nonce.len > 0) {
        t = s;
        t.nonce = spliced(&tmp, s.nonce.data, s.nonce.len - 1,
                          s.nonce.len - 1,
                          s.nonce.data[s.nonce.len - 1] == 'a' ? "b" : "a");
        ok(mac_differs(&t, mac), "%s: another nonce changes the MAC", name);
        free(tmp.data);
    }

    /* what is not signed does not */

    t = s;
    t.names[t.nheaders].data = (const unsigned char *) "x-not-signed";
    t.names[t.nheaders].len = sizeof("x-not-signed") - 1;
    t.values[t.nheaders].data = (const unsigned char *) "anything";
    t.values[t.nheaders].len = sizeof("anything") - 1;
    t.nheaders++;
    ok(spec_check(&t) == 0 && mac_same(&t, mac),
       "%s: an unsigned header leaves the check and the MAC as they were",
       name);

    for (i = 0; i < s.nheaders; i++) {
        if (!ref_is(s.names[i], "host")) {
            continue;
        }

        tmp.len = s.values[i].len + 6;
        tmp.data = malloc(tmp.len);
        if (tmp.data == NULL) {
            abort();
        }

        memcpy(tmp.data, " \t ", 3);
        memcpy(tmp.data + 3, s.values[i].data, s.values[i].len);
        memcpy(tmp.data + 3 + s.values[i].len, "\t  ", 3);

        t = s;
        t.values[i] = REF(tmp);
        ok(mac_same(&t, mac),
           "%s: spaces and tabs around the Host value leave the MAC as it "
           "was", name);
        free(tmp.data);
        break;
    }

done:

    free(creq.p);
    free(sts.p);

    for (i = 0; i < v->nheaders; i++) {
        free(lower[i].data);
    }
}


static void
test_vectors(const char *dir)
{
    long       n, i;
    char       path[4096];
    vector_t  *vs;

    snprintf(path, sizeof(path), "%s/vectors.json", dir);

    vs = NULL;
    n = read_vectors(path, &vs);

    if (!ok(n > 0, "vectors.json read, %ld vectors", n)) {
        return;
    }

    for (i = 0; i < n; i++) {
        test_vector(&vs[i]);
    }

    free_vectors(vs, (size_t) n);
}


#define SIG                                                                  \
    "4846d1e3ecb3741f4fd7399f6ff1fa8a3e6655e9bc8fedb3751c4846b18d3840"
#define SIGNED3  "host;x-apiauth-date;x-apiauth-nonce"
#define AUTH                                                                 \
    "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3     \
    ", Signature=" SIG


/*
 * apiauth_auth_parse() on an exact-size heap copy; a points into the copy,
 * which lives until the next call (auth_parse(NULL, 0, NULL) frees it)
 */

static int
auth_parse(const char *s, size_t len, apiauth_auth_t *a)
{
    static unsigned char  *copy;

    free(copy);
    copy = NULL;

    if (s == NULL) {
        return 0;
    }

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, s, len);

    return apiauth_auth_parse(copy, len, a);
}


typedef struct {
    const char  *text;
    const char  *why;
} refuse_case_t;


static const refuse_case_t  auth_refused[] = {
    { "", "empty" },
    { "APIAUTH-HMAC-SHA256", "the algorithm alone" },
    { "APIAUTH-HMAC-SHA256 ", "the algorithm and a space" },
    { "APIAUTH-HMAC-SHA1 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "a wrong algorithm (APIAUTH-HMAC-SHA1)" },
    { "AWS4-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "a wrong algorithm (AWS4-HMAC-SHA256)" },
    { "apiauth-hmac-sha256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "the algorithm in lower case" },
    { "APIAUTH-HMAC-SHA256X Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "a longer algorithm name" },
    { "APIAUTH-HMAC-SHA256,Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "no space after the algorithm" },
    { "Bearer abc", "another scheme" },
    { "APIAUTH-HMAC-SHA256 SignedHeaders=" SIGNED3 ", Signature=" SIG,
      "Credential missing" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, Signature=" SIG,
      "SignedHeaders missing" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3,
      "Signature missing" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, Credential=AK1234567890, "
      "SignedHeaders=" SIGNED3 ", Signature=" SIG, "Credential twice" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", SignedHeaders=" SIGNED3 ", Signature=" SIG, "SignedHeaders twice" },
    { AUTH ", Signature=" SIG, "Signature twice" },
    { AUTH ", Region=eu", "an unknown parameter" },
    { "APIAUTH-HMAC-SHA256 credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "a parameter name in lower case" },
    { "APIAUTH-HMAC-SHA256 Credential=, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "an empty Credential" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=, "
      "Signature=" SIG, "an empty SignedHeaders" },
    { "APIAUTH-HMAC-SHA256 Credential, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "a parameter without '='" },
    { "APIAUTH-HMAC-SHA256 =AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=" SIG, "a parameter without a name" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=4846d1e3ecb3741f4fd7399f6ff1fa8a"
      "3e6655e9bc8fedb3751c4846b18d384g",
      "a non-hex Signature" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=4846d1e3ecb3741f4fd7399f6ff1fa8a"
      "3e6655e9bc8fedb3751c4846b18d384",
      "a Signature of 63 hex digits" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=4846d1e3ecb3741f4fd7399f6ff1fa8a"
      "3e6655e9bc8fedb3751c4846b18d38",
      "a Signature of 62 hex digits" },
    { AUTH "0", "a Signature of 65 hex digits" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=4846D1E3ECB3741F4FD7399F6FF1FA8A"
      "3E6655E9BC8FEDB3751C4846B18D3840",
      "an upper-case Signature (hex is lower case)" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=4846d1e3ecb3741f4fd7399f6ff1fa8a"
      "3e6655e9bc8fedb3751c4846b18d384A",
      "one upper-case digit in the Signature" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890, SignedHeaders=" SIGNED3
      ", Signature=", "an empty Signature" },
    { AUTH ",", "a trailing comma" },
    { "APIAUTH-HMAC-SHA256 , Credential=AK1234567890, SignedHeaders="
      SIGNED3 ", Signature=" SIG, "a leading comma" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890,, SignedHeaders="
      SIGNED3 ", Signature=" SIG, "two commas" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890; SignedHeaders="
      SIGNED3 "; Signature=" SIG, "';' between parameters" },
    { "APIAUTH-HMAC-SHA256 Credential=AK1234567890 SignedHeaders="
      SIGNED3 " Signature=" SIG, "only spaces between parameters" },
    { "APIAUTH-HMAC-SHA256 Credential=AK 1234567890, SignedHeaders="
      SIGNED3 ", Signature=" SIG, "a space inside a value" },
};


static void
test_auth_parse(void)
{
    size_t          i;
    apiauth_auth_t  a;
    unsigned char   sig[APIAUTH_SHA256_LEN];

    apiauth_unhex(sig, (const unsigned char *) SIG, APIAUTH_SHA256_LEN);

    if (ok(auth_parse(AUTH, sizeof(AUTH) - 1, &a) == 0,
           "Authorization: a well-formed header parses"))
    {
        is_str(a.credential, a.credential_len, "AK1234567890", 12,
               "Authorization: Credential is read");
        is_str(a.signed_headers, a.signed_headers_len, SIGNED3,
               sizeof(SIGNED3) - 1, "Authorization: SignedHeaders is read");
        ok(memcmp(a.signature, sig, sizeof(sig)) == 0,
           "Authorization: Signature is decoded to its 32 bytes");
    }

#define AUTH_OK(text, why)                                                   \
    ok(auth_parse(text, sizeof(text) - 1, &a) == 0                           \
       && a.credential_len == 12 && memcmp(a.credential, "AK1234567890", 12) \
          == 0                                                               \
       && a.signed_headers_len == sizeof(SIGNED3) - 1                        \
       && memcmp(a.signature, sig, sizeof(sig)) == 0,                        \
       "Authorization: %s accepted", why)

    AUTH_OK("APIAUTH-HMAC-SHA256 Credential=AK1234567890,SignedHeaders="
            SIGNED3 ",Signature=" SIG, "no spaces after the commas");
    AUTH_OK("APIAUTH-HMAC-SHA256 Signature=" SIG ", SignedHeaders=" SIGNED3
            ", Credential=AK1234567890", "the parameters in another order");
    AUTH_OK("APIAUTH-HMAC-SHA256\tCredential=AK1234567890 ,\t SignedHeaders="
            SIGNED3 "  ,  Signature=" SIG "  ",
            "tabs and spaces around the commas");
    AUTH_OK("APIAUTH-HMAC-SHA256   Credential=AK1234567890, SignedHeaders="
            SIGNED3 ", Signature=" SIG, "several spaces after the algorithm");

#undef AUTH_OK

    for (i = 0; i < sizeof(auth_refused) / sizeof(auth_refused[0]); i++) {
        ok(auth_parse(auth_refused[i].text, strlen(auth_refused[i].text), &a)
           == -1, "Authorization refused: %s", auth_refused[i].why);
    }

    auth_parse(NULL, 0, NULL);
}


/* the headers a request sends, for apiauth_signed_headers_check() */

static const char  *sent[] = {
    "host", "x-apiauth-date", "x-apiauth-nonce", "content-type",
    "authorization", "x-a", "x-ab", "x-apiauth-content-sha256"
};

#define NSENT_NO_PAYLOAD  7             /* without x-apiauth-content-sha256 */
#define NSENT             8


static int
check_signed(const char *list, size_t len, size_t nsent)
{
    size_t  i;
    spec_t  s;

    memset(&s, 0, sizeof(spec_t));

    for (i = 0; i < nsent; i++) {
        s.names[i].data = (const unsigned char *) sent[i];
        s.names[i].len = strlen(sent[i]);
        s.values[i].data = (const unsigned char *) "v";
        s.values[i].len = 1;
    }

    s.nheaders = nsent;
    s.method.data = (const unsigned char *) "GET";
    s.method.len = 3;
    s.target.data = (const unsigned char *) "/";
    s.target.len = 1;
    s.signed_headers.data = (const unsigned char *) list;
    s.signed_headers.len = len;

    return spec_check(&s);
}


typedef struct {
    const char  *list;
    size_t       nsent;
    int          rc;
    const char  *why;
} signed_case_t;


static const signed_case_t  signed_cases[] = {
    { SIGNED3, NSENT_NO_PAYLOAD, 0, "the three required names" },
    { "content-type;" SIGNED3, NSENT_NO_PAYLOAD, 0,
      "another sent header too" },
    { "host;x-a;x-ab;x-apiauth-date;x-apiauth-nonce", NSENT_NO_PAYLOAD, 0,
      "a name before a longer name it begins" },
    { "host;x-apiauth-content-sha256;x-apiauth-date;x-apiauth-nonce", NSENT,
      0, "x-apiauth-content-sha256 signed when sent" },

    { "", NSENT_NO_PAYLOAD, -1, "empty" },
    { "x-apiauth-date;host;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "unsorted" },
    { "host;x-apiauth-nonce;x-apiauth-date", NSENT_NO_PAYLOAD, -1,
      "unsorted (the last two)" },
    { "host;x-ab;x-a;x-apiauth-date;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "a longer name before the name it begins" },
    { "host;host;x-apiauth-date;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "a duplicate (host)" },
    { "host;x-apiauth-date;x-apiauth-date;x-apiauth-nonce", NSENT_NO_PAYLOAD,
      -1, "a duplicate (x-apiauth-date)" },
    { "Host;x-apiauth-date;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "an upper-case name" },
    { "host;x-apiauth-Date;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "an upper-case letter inside a name" },
    { "authorization;" SIGNED3, NSENT_NO_PAYLOAD, -1,
      "authorization, sent as it is" },
    { SIGNED3 ";x-other", NSENT_NO_PAYLOAD, -1, "a header not sent" },
    { SIGNED3 ";x-apiauth-content-sha256", NSENT_NO_PAYLOAD, -1,
      "x-apiauth-content-sha256 when not sent" },
    { "x-apiauth-date;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "host missing" },
    { "host;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "x-apiauth-date missing" },
    { "host;x-apiauth-date", NSENT_NO_PAYLOAD, -1,
      "x-apiauth-nonce missing" },
    { "content-type;x-a;x-ab", NSENT_NO_PAYLOAD, -1,
      "none of the required names" },
    { SIGNED3, NSENT, -1, "x-apiauth-content-sha256 sent but not signed" },
    { ";" SIGNED3, NSENT_NO_PAYLOAD, -1, "a leading ';'" },
    { SIGNED3 ";", NSENT_NO_PAYLOAD, -1, "a trailing ';'" },
    { "host;;x-apiauth-date;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1, "';;'" },
    { "host; x-apiauth-date;x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "a space after ';'" },
    { "host,x-apiauth-date,x-apiauth-nonce", NSENT_NO_PAYLOAD, -1,
      "',' as the separator" },
};


static void
test_signed_headers(void)
{
    char                  list[1100], names[40][8];
    size_t                i, n;
    spec_t                s;
    const signed_case_t  *c;

    for (i = 0; i < sizeof(signed_cases) / sizeof(signed_cases[0]); i++) {
        c = &signed_cases[i];

        ok(check_signed(c->list, strlen(c->list), c->nsent) == c->rc,
           "SignedHeaders %s: %s", c->rc == 0 ? "accepted" : "refused",
           c->why);
    }

    ok(check_signed("host\0;x-apiauth-date;x-apiauth-nonce",
                    sizeof("host\0;x-apiauth-date;x-apiauth-nonce") - 1,
                    NSENT_NO_PAYLOAD) == -1,
       "SignedHeaders refused: a NUL");

    /* APIAUTH_SIGNED_MAX names: host, date, nonce and x-h00... */

    memset(&s, 0, sizeof(spec_t));
    s.method.data = (const unsigned char *) "GET";
    s.method.len = 3;
    s.target.data = (const unsigned char *) "/";
    s.target.len = 1;

    n = snprintf(list, sizeof(list), "%s", SIGNED3);

    for (i = 0; i < 3; i++) {
        s.names[i].data = (const unsigned char *) sent[i];
        s.names[i].len = strlen(sent[i]);
    }

    for (i = 3; i < APIAUTH_SIGNED_MAX + 1; i++) {
        snprintf(names[i], sizeof(names[i]), "x-h%02zu", i - 3);
        s.names[i].data = (const unsigned char *) names[i];
        s.names[i].len = strlen(names[i]);
    }

    for (i = 0; i < APIAUTH_SIGNED_MAX + 1; i++) {
        s.values[i].data = (const unsigned char *) "v";
        s.values[i].len = 1;
    }

    s.nheaders = APIAUTH_SIGNED_MAX + 1;

    for (i = 3; i < APIAUTH_SIGNED_MAX; i++) {
        n += snprintf(list + n, sizeof(list) - n, ";%s", names[i]);
    }

    s.signed_headers.data = (const unsigned char *) list;
    s.signed_headers.len = n;
    ok(spec_check(&s) == 0, "SignedHeaders accepted: %d names",
       APIAUTH_SIGNED_MAX);

    n += snprintf(list + n, sizeof(list) - n, ";%s",
                  names[APIAUTH_SIGNED_MAX]);
    s.signed_headers.len = n;
    ok(spec_check(&s) == -1, "SignedHeaders refused: %d names",
       APIAUTH_SIGNED_MAX + 1);

    /* APIAUTH_SIGNED_HEADERS_MAX bytes, with one long name after nonce */

    n = snprintf(list, sizeof(list), "%s;x-z", SIGNED3);
    memset(list + n, 'z', APIAUTH_SIGNED_HEADERS_MAX - n);

    s.nheaders = 4;
    s.names[3].data = (const unsigned char *) list + sizeof(SIGNED3);
    s.names[3].len = APIAUTH_SIGNED_HEADERS_MAX - sizeof(SIGNED3);
    s.signed_headers.len = APIAUTH_SIGNED_HEADERS_MAX;
    ok(spec_check(&s) == 0, "SignedHeaders accepted: %d bytes",
       APIAUTH_SIGNED_HEADERS_MAX);

    list[APIAUTH_SIGNED_HEADERS_MAX] = 'z';
    s.names[3].len++;
    s.signed_headers.len++;
    ok(spec_check(&s) == -1, "SignedHeaders refused: %d bytes",
       APIAUTH_SIGNED_HEADERS_MAX + 1);
}


static int
date_parse(const char *s, size_t len, long long *date)
{
    int             rc;
    unsigned char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    memcpy(p, s, len);
    *date = -1;
    rc = apiauth_date_parse(p, len, date);
    free(p);

    return rc;
}


static int
nonce_check(const char *s, size_t len)
{
    int             rc;
    unsigned char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    memcpy(p, s, len);
    rc = apiauth_nonce_check(p, len);
    free(p);

    return rc;
}


#define NONCE64                                                              \
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"


static void
test_date_nonce(void)
{
    long long  d;

    ok(date_parse("0", 1, &d) == 0 && d == 0, "date \"0\" is 0");
    ok(date_parse("1764000000", 10, &d) == 0 && d == 1764000000LL,
       "date \"1764000000\" is read");
    ok(date_parse("999999999999", 12, &d) == 0 && d == 999999999999LL,
       "date of 12 digits is read");
    ok(date_parse("1000000000000", 13, &d) == -1,
       "date of 13 digits refused");
    ok(date_parse("", 0, &d) == -1, "empty date refused");
    ok(date_parse("-1", 2, &d) == -1, "negative date refused");
    ok(date_parse("+1", 2, &d) == -1, "date with '+' refused");
    ok(date_parse("1.5", 3, &d) == -1, "date with '.' refused");
    ok(date_parse(" 1", 2, &d) == -1, "date with a leading space refused");
    ok(date_parse("1 ", 2, &d) == -1, "date with a trailing space refused");
    ok(date_parse("17640000a0", 10, &d) == -1, "date with a letter refused");
    ok(date_parse("0x10", 4, &d) == -1, "date in hex refused");
    ok(date_parse("1\0", 2, &d) == -1, "date with a NUL refused");

    ok(nonce_check(NONCE64, 15) == -1, "nonce of 15 characters refused");
    ok(nonce_check(NONCE64, 16) == 0, "nonce of 16 characters accepted");
    ok(nonce_check(NONCE64, 64) == 0,
       "nonce of 64 characters (every allowed one) accepted");
    ok(nonce_check(NONCE64 "0", 65) == -1, "nonce of 65 characters refused");
    ok(nonce_check("", 0) == -1, "empty nonce refused");
    ok(nonce_check("n-0001_xyzXYZ789", 16) == 0,
       "nonce with '-' and '_' accepted");
    ok(nonce_check("0123456789abcde.", 16) == -1, "nonce with '.' refused");
    ok(nonce_check("0123456789abcde ", 16) == -1,
       "nonce with a space refused");
    ok(nonce_check("0123456789abcde+", 16) == -1, "nonce with '+' refused");
    ok(nonce_check("0123456789abcde/", 16) == -1, "nonce with '/' refused");
    ok(nonce_check("0123456789abcde=", 16) == -1, "nonce with '=' refused");
    ok(nonce_check("0123456789abcde~", 16) == -1, "nonce with '~' refused");
    ok(nonce_check("0123456789abcd\xc3\xa9", 16) == -1,
       "nonce with a non-ASCII letter refused");
    ok(nonce_check("0123456789abcde\0", 16) == -1, "nonce with a NUL refused");
}


/*
 * canonical requests of these requests (all their headers signed), as an
 * independent implementation of docs/signature.md computed them, for what
 * the vectors leave out
 */

#define STD_HEADERS                                                          \
    "host:h.example\nx-apiauth-date:1\nx-apiauth-nonce:nnnnnnnnnnnnnnnn\n"
#define STD_TAIL     STD_HEADERS SIGNED3 "\nUNSIGNED-PAYLOAD"


typedef struct {
    const char  *why;
    const char  *method;
    const char  *target;
    const char  *extra[4][2];           /* beyond host, date and nonce */
    const char  *signed_headers;
    const char  *canonical;
} creq_case_t;


static const creq_case_t  creq_cases[] = {
    { "path: %xx upper-cased, unreserved decoded, bad escapes kept", "GET",
      "/a%2fb%2Fc%7E%7e%41%zz%4%", { { NULL } }, SIGNED3,
      "GET\n/a%2Fb%2Fc~~A%zz%4%\n\n" STD_TAIL },
    { "query: empty parts dropped, sorted", "GET", "/?&&b=2&&a=1&",
      { { NULL } }, SIGNED3, "GET\n/\na=1&b=2\n" STD_TAIL },
    { "query: an empty name, a name without '='", "GET", "/?=x&a",
      { { NULL } }, SIGNED3, "GET\n/\n=x&a=\n" STD_TAIL },
    { "query: split at the first '='", "GET", "/?a=1=2&a", { { NULL } },
      SIGNED3, "GET\n/\na=&a=1=2\n" STD_TAIL },
    { "query: values normalised, then sorted bytewise", "GET",
      "/?a=%2f&a=/&a=%2F", { { NULL } }, SIGNED3,
      "GET\n/\na=%2F&a=%2F&a=/\n" STD_TAIL },
    { "query: names sorted bytewise", "GET", "/?~=1&_=1&a=1&B=1&-=1",
      { { NULL } }, SIGNED3, "GET\n/\n-=1&B=1&_=1&a=1&~=1\n" STD_TAIL },
    { "query: a name before a longer name it begins", "GET",
      "/?ab=1&a=2&a.b=3&a=", { { NULL } }, SIGNED3,
      "GET\n/\na=&a=2&a.b=3&ab=1\n" STD_TAIL },
    { "'+' kept as is, %20 kept encoded", "GET", "/p+q?x=a+b%20c%7a%5A",
      { { NULL } }, SIGNED3, "GET\n/p+q\nx=a+b%20czZ\n" STD_TAIL },
    { "header values trimmed and folded, empty ones kept", "GET", "/",
      { { "x-fold", "\t a \t\t b  c\t" }, { "x-empty", "" },
        { "x-blank", "   " } },
      SIGNED3 ";x-blank;x-empty;x-fold",
      "GET\n/\n\n" STD_HEADERS "x-blank:\nx-empty:\nx-fold:a b c\n"
      SIGNED3 ";x-blank;x-empty;x-fold\nUNSIGNED-PAYLOAD" },
    { "a repeated header's values joined with ','", "GET", "/",
      { { "x-rep", "one" }, { "x-other", "o" }, { "x-rep", "  " },
        { "x-rep", " three  " } },
      SIGNED3 ";x-other;x-rep",
      "GET\n/\n\n" STD_HEADERS "x-other:o\nx-rep:one,,three\n"
      SIGNED3 ";x-other;x-rep\nUNSIGNED-PAYLOAD" },
    { "the payload hash is the folded header value", "PUT", "/",
      { { "x-apiauth-content-sha256", "  abc  " } },
      "host;x-apiauth-content-sha256;x-apiauth-date;x-apiauth-nonce",
      "PUT\n/\n\nhost:h.example\nx-apiauth-content-sha256:abc\n"
      "x-apiauth-date:1\nx-apiauth-nonce:nnnnnnnnnnnnnnnn\n"
      "host;x-apiauth-content-sha256;x-apiauth-date;x-apiauth-nonce\nabc" },
};


static void
std_spec(spec_t *s, const char *method, const char *target)
{
    size_t  i;

    memset(s, 0, sizeof(spec_t));

    s->method.data = (const unsigned char *) method;
    s->method.len = strlen(method);
    s->target.data = (const unsigned char *) target;
    s->target.len = strlen(target);

    s->names[0].data = (const unsigned char *) "host";
    s->values[0].data = (const unsigned char *) "h.example";
    s->names[1].data = (const unsigned char *) "x-apiauth-date";
    s->values[1].data = (const unsigned char *) "1";
    s->names[2].data = (const unsigned char *) "x-apiauth-nonce";
    s->values[2].data = (const unsigned char *) "nnnnnnnnnnnnnnnn";
    s->nheaders = 3;

    for (i = 0; i < 3; i++) {
        s->names[i].len = strlen((const char *) s->names[i].data);
        s->values[i].len = strlen((const char *) s->values[i].data);
    }

    s->signed_headers.data = (const unsigned char *) SIGNED3;
    s->signed_headers.len = sizeof(SIGNED3) - 1;
    s->date = s->values[1];
    s->nonce = s->values[2];
    s->secret.data = (const unsigned char *) "secret";
    s->secret.len = 6;
}


static void
test_canonical(void)
{
    int                 rc;
    size_t              i, k;
    buf_t               creq;
    spec_t              s;
    const creq_case_t  *c;

    memset(&creq, 0, sizeof(buf_t));

    for (i = 0; i < sizeof(creq_cases) / sizeof(creq_cases[0]); i++) {
        c = &creq_cases[i];

        std_spec(&s, c->method, c->target);

        for (k = 0; k < 4 && c->extra[k][0]; k++) {
            s.names[s.nheaders].data = (const unsigned char *) c->extra[k][0];
            s.names[s.nheaders].len = strlen(c->extra[k][0]);
            s.values[s.nheaders].data = (const unsigned char *) c->extra[k][1];
            s.values[s.nheaders].len = strlen(c->extra[k][1]);
            s.nheaders++;
        }

        s.signed_headers.data = (const unsigned char *) c->signed_headers;
        s.signed_headers.len = strlen(c->signed_headers);

        if (!ok(spec_check(&s) == 0, "canonical, %s: SignedHeaders pass",
                c->why))
        {
            continue;
        }

        rc = spec_creq(&s, &creq);

        is_str(rc == 0 ? creq.p : NULL, creq.len,
               c->canonical, strlen(c->canonical),
               "canonical, %s: as the specification writes it", c->why);
    }

    free(creq.p);
}


static void
test_limits(void)
{
    char           *query;
    size_t          i, n;
    buf_t           creq;
    spec_t          s;
    unsigned char   mac[APIAUTH_SHA256_LEN], mac2[APIAUTH_SHA256_LEN];
    unsigned char   hash[APIAUTH_SHA256_HEX_LEN];
    unsigned int    len;

    /* APIAUTH_QUERY_PARAMS_MAX query parameters, then one more */

    query = malloc(2 + 4 * (APIAUTH_QUERY_PARAMS_MAX + 1));
    if (query == NULL) {
        abort();
    }

    n = 0;
    query[n++] = '/';
    query[n++] = '?';

    for (i = 0; i < APIAUTH_QUERY_PARAMS_MAX; i++) {
        memcpy(query + n, "a=1&", 4);
        n += 4;
    }

    memset(&creq, 0, sizeof(buf_t));

    std_spec(&s, "GET", "/");
    s.target.data = (const unsigned char *) query;
    s.target.len = n - 1;               /* the last '&' */

    ok(spec_creq(&s, &creq) == 0 && spec_mac(&s, mac) == 0,
       "%d query parameters are signed", APIAUTH_QUERY_PARAMS_MAX);

    s.target.len = n;                   /* an empty part does not count */
    ok(spec_creq(&s, &creq) == 0, "%d query parameters and a trailing '&' "
       "are signed", APIAUTH_QUERY_PARAMS_MAX);

    memcpy(query + n, "b=2", 3);
    s.target.len = n + 3;

    ok(spec_creq(&s, &creq) == -1,
       "apiauth_canonical_request refuses %d query parameters",
       APIAUTH_QUERY_PARAMS_MAX + 1);
    ok(spec_mac(&s, mac) == -1, "apiauth_sign refuses %d query parameters",
       APIAUTH_QUERY_PARAMS_MAX + 1);

    free(query);

    /*
     * the longest date and nonce fill the string to sign exactly; the MAC
     * must be that of the whole string, computed here independently
     */

    std_spec(&s, "GET", "/x?y=z");
    s.values[1].data = (const unsigned char *) "999999999999";
    s.values[1].len = APIAUTH_DATE_MAX;
    s.values[2].data = (const unsigned char *) NONCE64;
    s.values[2].len = APIAUTH_NONCE_MAX;
    s.date = s.values[1];
    s.nonce = s.values[2];

    if (ok(spec_mac(&s, mac) == 0 && spec_creq(&s, &creq) == 0,
           "apiauth_sign signs a date of 12 digits and a nonce of 64"))
    {
        buf_t  sts;

        memset(&sts, 0, sizeof(buf_t));
        sha256_hex(creq.p, creq.len, hash);
        apiauth_string_to_sign(s.date.data, s.date.len, s.nonce.data,
                               s.nonce.len, hash, buf_sink, &sts);

        HMAC(EVP_sha256(), s.secret.data, (int) s.secret.len, sts.p,
             sts.len, mac2, &len);

        ok(apiauth_mac_compare(mac, sizeof(mac), mac2, len) == 0,
           "the longest string to sign is signed whole");
        free(sts.p);
    }

    s.date.data = (const unsigned char *) "1000000000000";
    s.date.len = APIAUTH_DATE_MAX + 1;
    ok(spec_mac(&s, mac) == -1, "apiauth_sign refuses a date of 13 digits");

    s.date = s.values[1];
    s.nonce.data = (const unsigned char *) NONCE64 "0";
    s.nonce.len = APIAUTH_NONCE_MAX + 1;
    ok(spec_mac(&s, mac) == -1, "apiauth_sign refuses a nonce of 65");

    free(creq.p);
}


static void
test_string_to_sign(void)
{
    buf_t  sts;

    memset(&sts, 0, sizeof(buf_t));

    apiauth_string_to_sign(S("1764000000"), S("0123456789abcdef"),
                           (const unsigned char *)
                           "0123456789abcdef0123456789abcdef"
                           "0123456789abcdef0123456789abcdef",
                           buf_sink, &sts);

    is_str(sts.p, sts.len,
           "APIAUTH-HMAC-SHA256\n1764000000\n0123456789abcdef\n"
           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
           20 + 11 + 17 + 64,
           "string to sign: algorithm, date, nonce, hash on 4 lines");

    free(sts.p);
}


/*
 * a caller's buffer too small for the canonical request (or none) is not
 * written past: apiauth_sign_keyed() sizes its own by the bound, and the
 * MAC is the same
 */

static void
test_small_buffer(void)
{
    size_t              cap, need;
    spec_t              s;
    built_t             b;
    unsigned char       mac[APIAUTH_SHA256_LEN], m[APIAUTH_SHA256_LEN];
    unsigned char      *small;
    apiauth_hmac_key_t  hk;
    int                 same;

    std_spec(&s, "GET", "/a/b?c=d&e=f");

    if (!ok(spec_mac(&s, mac) == 0, "small buffers: the reference MAC")) {
        return;
    }

    build(&s, &b);
    need = b.scratch.creq_cap;
    apiauth_hmac_key(&hk, s.secret.data, s.secret.len);
    same = 1;

    for (cap = 0; cap <= need; cap++) {

        /* exactly cap bytes on the heap: the sanitizers see an overflow */
        small = malloc(cap ? cap : 1);
        if (small == NULL) {
            abort();
        }

        b.scratch.creq = cap ? small : NULL;
        b.scratch.creq_cap = cap;

        memset(m, 0, sizeof(m));

        if (apiauth_sign_keyed(&b.req, &b.scratch, s.date.data, s.date.len,
                               s.nonce.data, s.nonce.len, &hk, m)
            != 0
            || memcmp(m, mac, sizeof(mac)) != 0)
        {
            diag("small buffers: %zu bytes of %zu give another MAC", cap,
                 need);
            same = 0;
        }

        free(small);
    }

    ok(same, "small buffers: every caller buffer from none to the bound "
       "gives the reference MAC");

    unbuild(&b);
}


static void
test_mac_compare(void)
{
    unsigned char  a[APIAUTH_SHA256_LEN], b[APIAUTH_SHA256_LEN];

    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));

    ok(apiauth_mac_compare(a, sizeof(a), b, sizeof(b)) == 0,
       "mac_compare: equal MACs are equal");

    b[31] ^= 0x01;
    ok(apiauth_mac_compare(a, sizeof(a), b, sizeof(b)) == -1,
       "mac_compare: a different last bit differs");

    b[31] ^= 0x01;
    b[0] ^= 0x80;
    ok(apiauth_mac_compare(a, sizeof(a), b, sizeof(b)) == -1,
       "mac_compare: a different first bit differs");

    b[0] ^= 0x80;
    ok(apiauth_mac_compare(a, sizeof(a), b, sizeof(b) - 1) == -1,
       "mac_compare: a shorter MAC differs");
    ok(apiauth_mac_compare(a, 0, b, 0) == 0,
       "mac_compare: two empty MACs are equal");

    /* words and the bytes after them: every length, every bit */
    {
        int            all;
        size_t         len, i, bit;
        unsigned char  x[41], y[41];

        all = 1;

        for (len = 1; len <= sizeof(x); len++) {
            for (i = 0; i < len; i++) {
                x[i] = (unsigned char) (i * 37 + len);
            }

            memcpy(y, x, len);
            all &= apiauth_mac_compare(x, len, y, len) == 0;

            for (i = 0; i < len; i++) {
                for (bit = 0; bit < 8; bit++) {
                    y[i] ^= (unsigned char) (1 << bit);
                    all &= apiauth_mac_compare(x, len, y, len) == -1;
                    y[i] ^= (unsigned char) (1 << bit);
                }
            }
        }

        ok(all, "mac_compare: lengths 1 to 41, any one bit flipped differs, "
           "none flipped is equal");
    }
}


/* SHA-256 in pieces, as a request body arrives, equals the one-shot one */

static void
test_sha256_pieces(void)
{
    int               all;
    size_t            len, cut, i;
    apiauth_sha256_t  s;
    unsigned char     buf[300], one[APIAUTH_SHA256_LEN];
    unsigned char     parts[APIAUTH_SHA256_LEN];

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char) (i * 7 + 3);
    }

    all = 1;

    for (len = 0; len <= sizeof(buf); len += 37) {
        for (cut = 0; cut <= len; cut += 13) {
            all &= apiauth_sha256(buf, len, one) == 0
                   && apiauth_sha256_init(&s) == 0
                   && apiauth_sha256_update(&s, buf, cut) == 0
                   && apiauth_sha256_update(&s, buf + cut, 0) == 0
                   && apiauth_sha256_update(&s, buf + cut, len - cut) == 0
                   && apiauth_sha256_final(&s, parts) == 0
                   && memcmp(one, parts, sizeof(one)) == 0;
        }
    }

    ok(all, "sha256 in two pieces (and an empty one), cut anywhere, equals "
       "the one-shot hash, 0 to 296 bytes");

    all = apiauth_sha256_init(&s) == 0
          && apiauth_sha256_final(&s, parts) == 0;
    ok(all && memcmp(parts, "\xe3\xb0\xc4\x42\x98\xfc\x1c\x14", 8) == 0,
       "sha256 of nothing, in pieces: e3b0c44298fc1c14...");
}


int
main(int argc, char **argv)
{
    const char  *dir;

    dir = (argc > 1) ? argv[1] : getenv("APIAUTH_DATA");

    if (ok(dir != NULL && dir[0] != '\0',
           "the data directory, t/data, is given (argv[1])"))
    {
        test_vectors(dir);
    }

    test_auth_parse();
    test_signed_headers();
    test_date_nonce();
    test_canonical();
    test_limits();
    test_string_to_sign();
    test_small_buffer();
    test_mac_compare();
    test_sha256_pieces();

    return done_testing();
}
