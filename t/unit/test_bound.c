
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth_canonical_request_bound() bounds the canonical request of
 * adversarial requests: query parts without '=', a long body hash that is
 * written twice, many repeated and long signed headers.  The buffers are
 * exactly the bound, so the sanitizers catch a write past it.
 */


#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "apiauth_sign.h"


typedef struct {
    size_t  len;
} count_t;


static void
count_sink(void *data, const unsigned char *p, size_t len)
{
    (void) p;
    ((count_t *) data)->len += len;
}


static void
check(const char *why, apiauth_request_t *req)
{
    size_t              bound;
    count_t             c;
    unsigned char       mac[APIAUTH_SHA256_LEN];
    apiauth_scratch_t   scratch;

    bound = apiauth_canonical_request_bound(req);

    scratch.buf = malloc(req->path_len > req->query_len ? req->path_len + 1
                                                        : req->query_len + 1);
    scratch.params = malloc(APIAUTH_QUERY_PARAMS_MAX
                            * sizeof(apiauth_param_t));
    scratch.creq = malloc(bound);
    scratch.creq_cap = bound;

    c.len = 0;

    ok(apiauth_canonical_request(req, &scratch, count_sink, &c) == 0,
       "%s: canonical request made", why);
    ok(c.len <= bound, "%s: %zu bytes within the bound of %zu", why, c.len,
       bound);
    ok(apiauth_sign(req, &scratch, (unsigned char *) "1764000000", 10,
                    (unsigned char *) "0123456789abcdef", 16,
                    (unsigned char *) "secret", 6, mac) == 0,
       "%s: signed in a buffer of exactly the bound", why);

    free(scratch.buf);
    free(scratch.params);
    free(scratch.creq);
}


int
main(void)
{
    size_t             i;
    unsigned char     *query, *hash, *pad;
    apiauth_header_t   h[40];
    apiauth_request_t  req;

    memset(&req, 0, sizeof(req));
    req.method = (unsigned char *) "GET";
    req.method_len = 3;
    req.path = (unsigned char *) "/p";
    req.path_len = 2;

    h[0].name = (unsigned char *) "host";
    h[0].name_len = 4;
    h[0].value = (unsigned char *) "h";
    h[0].value_len = 1;
    h[1].name = (unsigned char *) "x-apiauth-date";
    h[1].name_len = 14;
    h[1].value = (unsigned char *) "1764000000";
    h[1].value_len = 10;
    h[2].name = (unsigned char *) "x-apiauth-nonce";
    h[2].name_len = 15;
    h[2].value = (unsigned char *) "0123456789abcdef";
    h[2].value_len = 16;

    req.headers = h;
    req.nheaders = 3;
    req.signed_headers = (unsigned char *) "host;x-apiauth-date;x-apiauth-nonce";
    req.signed_headers_len = 35;

    /* 256 parts without '=': "a&a&...&a" becomes "a=&a=&...&a=" */

    query = malloc(511);
    for (i = 0; i < 511; i++) {
        query[i] = (i % 2) ? '&' : 'a';
    }

    req.query = query;
    req.query_len = 511;
    check("256 query parts without '='", &req);

    req.query = (unsigned char *) "a";
    req.query_len = 1;
    check("one part without '='", &req);

    /* the body hash is a signed header and the last line: twice */

    hash = malloc(8000);
    memset(hash, 'f', 8000);
    h[3].name = (unsigned char *) "x-apiauth-content-sha256";
    h[3].name_len = 24;
    h[3].value = hash;
    h[3].value_len = 8000;
    req.nheaders = 4;
    req.signed_headers = (unsigned char *)
        "host;x-apiauth-content-sha256;x-apiauth-date;x-apiauth-nonce";
    req.signed_headers_len = 60;
    req.query = (unsigned char *) "";
    req.query_len = 0;
    check("an 8000-byte body hash", &req);

    /* a long signed header sent many times, values with runs of spaces */

    pad = malloc(7600);
    memset(pad, ' ', 7600);
    pad[0] = 'x';
    pad[7599] = 'y';

    for (i = 4; i < 40; i++) {
        h[i].name = (unsigned char *) "x-pad";
        h[i].name_len = 5;
        h[i].value = pad;
        h[i].value_len = 7600;
    }

    req.nheaders = 40;
    req.signed_headers = (unsigned char *)
        "host;x-apiauth-content-sha256;x-apiauth-date;x-apiauth-nonce;x-pad";
    req.signed_headers_len = 66;
    req.query = query;
    req.query_len = 511;
    check("everything at once", &req);

    free(query);
    free(hash);
    free(pad);

    return done_testing();
}
