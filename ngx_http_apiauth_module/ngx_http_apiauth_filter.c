
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The refusal page: where the access handler refused a request and nginx
 * sends its own page for that status, a JSON body replaces it:
 *
 *     {"error":"unauthorized","reason":"invalid_credentials",
 *      "request_id":"..."}
 *
 * An operator's error_page redirects the request, which zeroes the module
 * context: that page is left alone.  An upstream's own 401 or 403 has no
 * r->err_status: it is left alone too.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


/* the longest body: its fixed parts, the longest words, a request id */
#define NGX_HTTP_APIAUTH_BODY_MAX  192


static ngx_int_t ngx_http_apiauth_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_apiauth_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_http_apiauth_ctx_t *ngx_http_apiauth_refusal(
    ngx_http_request_t *r);
static size_t ngx_http_apiauth_body(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, u_char *buf);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_apiauth_json = ngx_string("application/json");


ngx_int_t
ngx_http_apiauth_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_apiauth_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_apiauth_body_filter;

    return NGX_OK;
}


/*
 * the precontent phase is reached by admitted requests only: where satisfy
 * any let another module admit a request we refused, our page must not
 * replace a later 401 or 403 of the location's own
 */

ngx_int_t
ngx_http_apiauth_admitted(ngx_http_request_t *r)
{
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_apiauth_module);

    if (ctx) {
        ngx_http_apiauth_filter_refused(ctx, 0);
    }

    return NGX_DECLINED;
}


/* the handler's verdict in this location: the page to send, or none */

void
ngx_http_apiauth_filter_refused(ngx_http_apiauth_ctx_t *ctx,
    ngx_uint_t refused)
{
    ctx->refused = refused;
    ctx->body_sent = 0;
}


/* the module context, not the pool cleanup: a redirect ends the refusal */

static ngx_http_apiauth_ctx_t *
ngx_http_apiauth_refusal(ngx_http_request_t *r)
{
    ngx_uint_t               status;
    ngx_http_apiauth_ctx_t  *ctx;

    if (r != r->main) {
        return NULL;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_apiauth_module);

    if (ctx == NULL || !ctx->refused) {
        return NULL;
    }

    status = ngx_http_apiauth_reasons[ctx->reason].status;

    if (r->err_status != status
        || r->headers_out.status != status)
    {
        return NULL;
    }

    return ctx;
}


static size_t
ngx_http_apiauth_body(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    u_char *buf)
{
    u_char                        *p;
    ngx_str_t                      error;
    ngx_http_variable_value_t     *vv;
    ngx_http_apiauth_reason_t     *reason;
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apiauth_module);
    reason = &ngx_http_apiauth_reasons[ctx->reason];

    switch (reason->status) {

    case NGX_HTTP_UNAUTHORIZED:
        ngx_str_set(&error, "unauthorized");
        break;

    case NGX_HTTP_FORBIDDEN:
        ngx_str_set(&error, "forbidden");
        break;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        ngx_str_set(&error, "too_many_requests");
        break;

    default:
        ngx_str_set(&error, "service_unavailable");
    }

    vv = ngx_http_get_indexed_variable(r, amcf->request_id_index);

    /* every part is ours or hex: nothing needs escaping */

    p = ngx_sprintf(buf, "{\"error\":\"%V\",\"reason\":\"%V\","
                    "\"request_id\":\"%*s\"}\n",
                    &error, &reason->shown,
                    (vv && !vv->not_found) ? (size_t) vv->len : (size_t) 0,
                    vv ? vv->data : (u_char *) "");

    return p - buf;
}


static ngx_int_t
ngx_http_apiauth_header_filter(ngx_http_request_t *r)
{
    u_char                   buf[NGX_HTTP_APIAUTH_BODY_MAX];
    ngx_http_apiauth_ctx_t  *ctx;

    /* the limits' headers, on whatever answers the request, once */

    if (r == r->main) {
        ctx = ngx_http_apiauth_get_ctx(r);

        if (ctx && ctx->limits_state == NGX_HTTP_APIAUTH_LIMITS_DONE
            && ngx_http_apiauth_limits_headers(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ctx = ngx_http_apiauth_refusal(r);

    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    r->headers_out.content_type = ngx_http_apiauth_json;
    r->headers_out.content_type_len = ngx_http_apiauth_json.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    r->headers_out.content_length_n = ngx_http_apiauth_body(r, ctx, buf);

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_apiauth_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t               *b;
    ngx_chain_t              out, *cl;
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_apiauth_refusal(r);

    if (ctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's page is dropped: it is memory, nobody waits for it */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
    }

    /* a flush from ngx_http_writer() must reach the write filter */

    if (ctx->body_sent) {
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->body_sent = 1;

    b = ngx_create_temp_buf(r->pool, NGX_HTTP_APIAUTH_BODY_MAX);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last += ngx_http_apiauth_body(r, ctx, b->pos);
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
