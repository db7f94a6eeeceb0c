
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Signed bodies: the body nginx receives must hash to the signed
 * X-Apiauth-Content-SHA256.  It is read only once every other check has
 * admitted the request, so that an unauthenticated client makes nginx
 * buffer or spool nothing, and a refusal goes out without a 100 Continue.
 * A body that came whole with the headers is hashed where it is, and left
 * there for the content handler.  Any other is hashed as it arrives, by a
 * request body filter ahead of the one that writes temp files: in memory
 * or on its way to disk, chunked or not, nothing is read back.  The access
 * handler reads it as the mirror module does: NGX_DONE, and the body's
 * post handler runs the phases again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_BODY_NEW      0
#define NGX_HTTP_APIAUTH_BODY_READING  1
#define NGX_HTTP_APIAUTH_BODY_JUDGED   2


static ngx_int_t ngx_http_apiauth_body_preread(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx);
static ngx_int_t ngx_http_apiauth_body_read(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx);
static void ngx_http_apiauth_body_handler(ngx_http_request_t *r);
static void ngx_http_apiauth_body_unread(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx);
static ngx_uint_t ngx_http_apiauth_body_verdict(ngx_http_apiauth_ctx_t *ctx,
    apiauth_sha256_t *md);
static ngx_int_t ngx_http_apiauth_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;


ngx_int_t
ngx_http_apiauth_body_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_apiauth_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_http_apiauth_body_check(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t mode, ngx_uint_t *reason)
{
    ngx_int_t   rc;
    ngx_uint_t  has_body;

    *reason = NGX_HTTP_APIAUTH_OK;

    if (mode == NGX_HTTP_APIAUTH_BODY_OFF
        || ctx->cred_type != NGX_HTTP_APIAUTH_SIGNATURE)
    {
        return NGX_OK;
    }

    switch (ctx->body_state) {

    case NGX_HTTP_APIAUTH_BODY_JUDGED:
        *reason = ctx->body_reason;
        return NGX_OK;

    case NGX_HTTP_APIAUTH_BODY_READING:
        /*
         * the phases run again only from the post handler, or after the
         * read failed (a bad chunk, too large, a temp file that could not
         * be written) and error_page redirected: never admitted
         */
        ngx_http_apiauth_body_unread(r, ctx);
        *reason = ctx->body_reason;
        return NGX_OK;
    }

    /* a chunked body may be empty: it counts as one until it is read */

    has_body = r->headers_in.content_length_n > 0 || r->headers_in.chunked;

    if (ctx->body_hash.len == 0) {
        if (mode == NGX_HTTP_APIAUTH_BODY_REQUIRE && has_body) {
            *reason = NGX_HTTP_APIAUTH_UNSIGNED_BODY;
        }

        return NGX_OK;
    }

    /* read before, by another module, it went by unhashed */

    if (r != r->main || r->request_body || r->discard_body) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "apiauth: the body of \"%V\" was read before its hash "
                      "could be checked", &ctx->access_key);
        ctx->body_reason = NGX_HTTP_APIAUTH_BODY_HASH_MISMATCH;
        ctx->body_state = NGX_HTTP_APIAUTH_BODY_JUDGED;
        *reason = ctx->body_reason;
        return NGX_OK;
    }

    rc = ngx_http_apiauth_body_preread(r, ctx);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_apiauth_body_read(r, ctx);
    }

    if (rc == NGX_OK) {
        *reason = ctx->body_reason;
    }

    return rc;
}


/*
 * a body that came whole with the headers (most small ones) is hashed where
 * it is, and left there for the content handler to read: the same bytes,
 * as Content-Length says how many; NGX_DECLINED: it must be read
 */

static ngx_int_t
ngx_http_apiauth_body_preread(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx)
{
    off_t             len;
    apiauth_sha256_t  md;

    len = r->headers_in.content_length_n;

    if (r->headers_in.chunked
        || r->http_version >= NGX_HTTP_VERSION_20
        || r->header_in->last - r->header_in->pos < len)
    {
        return NGX_DECLINED;
    }

    if (len < 0) {
        len = 0;
    }

    if (apiauth_sha256_init(&md) != 0
        || apiauth_sha256_update(&md, r->header_in->pos, (size_t) len) != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->body_reason = ngx_http_apiauth_body_verdict(ctx, &md);
    ctx->body_state = NGX_HTTP_APIAUTH_BODY_JUDGED;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: the body of \"%V\", read with the headers: %V",
                   &ctx->access_key,
                   &ngx_http_apiauth_reasons[ctx->body_reason].code);

    return NGX_OK;
}


/* NGX_DONE: being read; NGX_OK: read at once, judged (ctx->body_reason) */

static ngx_int_t
ngx_http_apiauth_body_read(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx)
{
    ngx_int_t          rc;
    apiauth_sha256_t  *md;

    md = ngx_palloc(r->pool, sizeof(apiauth_sha256_t));
    if (md == NULL || apiauth_sha256_init(md) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->body_md = md;
    ctx->body_state = NGX_HTTP_APIAUTH_BODY_READING;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: reading the body of \"%V\" to hash it",
                   &ctx->access_key);

    rc = ngx_http_read_client_request_body(r, ngx_http_apiauth_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_apiauth_body_unread(r, ctx);
        return rc;
    }

    /* the count read_client_request_body() took: the post handler goes on */

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


static void
ngx_http_apiauth_body_handler(ngx_http_request_t *r)
{
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_apiauth_get_ctx(r);

    ctx->body_reason = ngx_http_apiauth_body_verdict(ctx, ctx->body_md);
    ctx->body_state = NGX_HTTP_APIAUTH_BODY_JUDGED;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: the body of \"%V\": %V", &ctx->access_key,
                   &ngx_http_apiauth_reasons[ctx->body_reason].code);

    /* the body is still there for proxy_pass and the rest */

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/* a body that could not be read whole is never admitted */

static void
ngx_http_apiauth_body_unread(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx)
{
    /* nginx said why (too large, a bad chunk...): a client's doing */

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "apiauth: the body of \"%V\" could not be read",
                  &ctx->access_key);

    ctx->body_reason = NGX_HTTP_APIAUTH_BODY_HASH_MISMATCH;
    ctx->body_state = NGX_HTTP_APIAUTH_BODY_JUDGED;
}


/* md NULL: a buffer the filter could not hash */

static ngx_uint_t
ngx_http_apiauth_body_verdict(ngx_http_apiauth_ctx_t *ctx,
    apiauth_sha256_t *md)
{
    u_char  hex[APIAUTH_SHA256_HEX_LEN];
    u_char  digest[APIAUTH_SHA256_LEN];

    if (md == NULL || apiauth_sha256_final(md, digest) != 0) {
        return NGX_HTTP_APIAUTH_BODY_HASH_MISMATCH;
    }

    ngx_hex_dump(hex, digest, APIAUTH_SHA256_LEN);

    return apiauth_mac_compare(hex, sizeof(hex), ctx->body_hash.data,
                               ctx->body_hash.len) == 0
           ? NGX_HTTP_APIAUTH_OK : NGX_HTTP_APIAUTH_BODY_HASH_MISMATCH;
}


/*
 * every request body passes here, hashed only when apiauth reads it; the
 * filters below this one may write it to a temp file, this one sees it in
 * memory
 */

static ngx_int_t
ngx_http_apiauth_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t               *b;
    ngx_chain_t             *cl;
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_apiauth_get_ctx(r);

    if (ctx == NULL || ctx->body_state != NGX_HTTP_APIAUTH_BODY_READING
        || ctx->body_md == NULL)
    {
        return ngx_http_next_request_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_size(b) == 0) {
            continue;
        }

        if (!ngx_buf_in_memory(b)
            || apiauth_sha256_update(ctx->body_md, b->pos, b->last - b->pos)
               != 0)
        {
            /* not hashed, never admitted: the verdict is a mismatch */
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "apiauth: cannot hash the body of \"%V\"",
                          &ctx->access_key);
            ctx->body_md = NULL;
            break;
        }
    }

    return ngx_http_next_request_body_filter(r, in);
}
