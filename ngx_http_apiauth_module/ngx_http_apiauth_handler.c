
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The access handler.  It returns a status and never finalizes the
 * request itself, so that satisfy, error_page and auth_delay work as with
 * auth_basic.  It is entered again after NGX_AGAIN (a lookup answered) and
 * after internal redirects; the credentials are judged once per request,
 * the key's status, expiry, whitelist and scope once per location, and the
 * nonce is remembered last, once, for a request that every other check
 * admitted: a key that may not call cannot fill the nonce zone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


static ngx_http_apiauth_ctx_t *ngx_http_apiauth_ctx(ngx_http_request_t *r,
    ngx_http_apiauth_loc_conf_t *alcf);
static ngx_int_t ngx_http_apiauth_credentials(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);
static ngx_int_t ngx_http_apiauth_verify(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);
static ngx_int_t ngx_http_apiauth_unavailable(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);
static ngx_int_t ngx_http_apiauth_decide(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);
static ngx_int_t ngx_http_apiauth_refuse(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);
static ngx_uint_t ngx_http_apiauth_replay(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);
static ngx_int_t ngx_http_apiauth_hash_nonce(ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_main_conf_t *amcf);
static ngx_uint_t ngx_http_apiauth_in_window(ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf);
static ngx_uint_t ngx_http_apiauth_judge(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);
static ngx_uint_t ngx_http_apiauth_ip_allowed(ngx_http_request_t *r,
    ngx_http_apiauth_key_t *key);
static ngx_uint_t ngx_http_apiauth_in_scope(ngx_http_request_t *r,
    ngx_str_t *list, ngx_http_complex_value_t *cv);
static ngx_int_t ngx_http_apiauth_park(ngx_http_request_t *r);
static void ngx_http_apiauth_looked_up(ngx_http_apiauth_waiter_t *w,
    ngx_uint_t result, ngx_http_apiauth_key_t *key);
static void ngx_http_apiauth_resume(ngx_http_request_t *r);


static ngx_str_t  ngx_http_apiauth_www_authenticate =
    ngx_string("APIAUTH-HMAC-SHA256");


ngx_int_t
ngx_http_apiauth_handler(ngx_http_request_t *r)
{
    ngx_http_apiauth_ctx_t       *ctx;
    ngx_http_apiauth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apiauth_module);

    if (alcf->mode == NGX_HTTP_APIAUTH_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_apiauth_module);

    if (ctx == NULL) {
        ctx = ngx_http_apiauth_ctx(r, alcf);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth handler, state %ui", ctx->state);

    ngx_http_apiauth_records_note(r, ctx, alcf);

    switch (ctx->state) {

    case NGX_HTTP_APIAUTH_STATE_NEW:
        return ngx_http_apiauth_credentials(r, ctx, alcf);

    case NGX_HTTP_APIAUTH_STATE_WAITING:
        /* woken before the answer: keep waiting */
        return NGX_AGAIN;

    case NGX_HTTP_APIAUTH_STATE_LOOKED_UP:

        switch (ctx->lookup_result) {

        case NGX_HTTP_APIAUTH_KEY_FOUND:
            return ngx_http_apiauth_verify(r, ctx, alcf);

        case NGX_HTTP_APIAUTH_KEY_UNKNOWN:
            ngx_http_apiauth_credentials_decoy(r, ctx);
            ctx->cred_reason = NGX_HTTP_APIAUTH_UNKNOWN_KEY;
            break;

        case NGX_HTTP_APIAUTH_KEY_UNAVAILABLE:
            return ngx_http_apiauth_unavailable(r, ctx, alcf);

        default: /* NGX_HTTP_APIAUTH_KEY_MALFORMED */
            ctx->cred_reason = NGX_HTTP_APIAUTH_STORE_UNAVAILABLE;
        }

        ctx->state = NGX_HTTP_APIAUTH_STATE_DONE;
        return ngx_http_apiauth_decide(r, ctx, alcf);

    default: /* NGX_HTTP_APIAUTH_STATE_DONE */
        return ngx_http_apiauth_decide(r, ctx, alcf);
    }
}


/*
 * an internal redirect zeroes the module context; the state is then found
 * again in its pool cleanup, as realip finds its address
 */

ngx_http_apiauth_ctx_t *
ngx_http_apiauth_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_apiauth_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_apiauth_ctx_cleanup) {
                ctx = cln->data;
                break;
            }
        }
    }

    return ctx;
}


/* a request that ends while parked leaves its lookup behind; its key goes */

void
ngx_http_apiauth_ctx_cleanup(void *data)
{
    ngx_http_apiauth_ctx_t  *ctx = data;

    ngx_http_apiauth_lookup_cancel(&ctx->waiter);

    /*
     * the key's secret does not outlive the request in freed pool memory:
     * its bytes, its HMAC key, and a token's copy of the secret
     */
    ngx_explicit_memzero(ctx->key.secret, sizeof(ctx->key.secret));
    ngx_explicit_memzero(&ctx->key.hmac, sizeof(ctx->key.hmac));
    ngx_explicit_memzero(ctx->token, sizeof(ctx->token));
}


/*
 * a new request gets a new state; a redirected one finds its state in the
 * pool cleanup and keeps its verdict on the credentials where this
 * location's mode admits their type, and starts over where it does not
 */

static ngx_http_apiauth_ctx_t *
ngx_http_apiauth_ctx(ngx_http_request_t *r, ngx_http_apiauth_loc_conf_t *alcf)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_apiauth_get_ctx(r);

    if (ctx == NULL) {
        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_apiauth_ctx_t));
        if (cln == NULL) {
            return NULL;
        }

        ctx = cln->data;
        ngx_memzero(ctx, sizeof(ngx_http_apiauth_ctx_t));
        ctx->request = r;

        cln->handler = ngx_http_apiauth_ctx_cleanup;

    } else if (!(ctx->state == NGX_HTTP_APIAUTH_STATE_DONE
                 && (ctx->cred_type & alcf->mode)))
    {
        ngx_http_apiauth_lookup_cancel(&ctx->waiter);

        ngx_memzero(ctx, sizeof(ngx_http_apiauth_ctx_t));
        ctx->request = r;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_apiauth_module);

    return ctx;
}


static ngx_int_t
ngx_http_apiauth_credentials(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf)
{
    ngx_int_t                      rc;
    ngx_uint_t                     reason;
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apiauth_module);

    reason = ngx_http_apiauth_credentials_parse(r, ctx, alcf->mode);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: %s credentials of \"%V\": %V",
                   ctx->cred_type == NGX_HTTP_APIAUTH_JWT ? "jwt"
                   : ctx->cred_type == NGX_HTTP_APIAUTH_TOKEN ? "token"
                   : ctx->cred_type == NGX_HTTP_APIAUTH_SIGNATURE ? "signature"
                   : "no",
                   &ctx->access_key,
                   &ngx_http_apiauth_reasons[reason].code);

    /* a stale signature needs no lookup */

    if (reason == NGX_HTTP_APIAUTH_OK && !ngx_http_apiauth_in_window(ctx, alcf))
    {
        reason = NGX_HTTP_APIAUTH_CLOCK_SKEW;
    }

    if (reason != NGX_HTTP_APIAUTH_OK) {
        ctx->cred_reason = reason;
        ctx->state = NGX_HTTP_APIAUTH_STATE_DONE;
        return ngx_http_apiauth_decide(r, ctx, alcf);
    }

    /* the nonce's buckets are fetched from memory while the key is found */

    if (ctx->cred_type == NGX_HTTP_APIAUTH_SIGNATURE && alcf->replay) {
        /* a failure is met again, and refused, where the nonce is kept */
        (void) ngx_http_apiauth_hash_nonce(ctx, amcf);
    }

    rc = ngx_http_apiauth_cache_get(amcf->cache_zone, &ctx->access_key,
                                    &ctx->key, r->pool);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: key \"%V\" %s", &ctx->access_key,
                   rc == NGX_OK ? "cached"
                   : rc == NGX_DONE ? "cached as unknown"
                   : rc == NGX_DECLINED ? "not cached" : "cache error");

    if (rc != NGX_ERROR) {
        ngx_http_apiauth_stat_add(rc == NGX_DECLINED
                                  ? NGX_HTTP_APIAUTH_STAT_CACHE_MISSES
                                  : NGX_HTTP_APIAUTH_STAT_CACHE_HITS, 1);
    }

    switch (rc) {

    case NGX_OK:
        ctx->have_key = 1;
        return ngx_http_apiauth_verify(r, ctx, alcf);

    case NGX_DONE:
        ngx_http_apiauth_credentials_decoy(r, ctx);
        ctx->cred_reason = NGX_HTTP_APIAUTH_UNKNOWN_KEY;
        ctx->state = NGX_HTTP_APIAUTH_STATE_DONE;
        return ngx_http_apiauth_decide(r, ctx, alcf);

    case NGX_ERROR:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* not cached: ask Redis and wait, while the worker serves others */

    ctx->waiter.handler = ngx_http_apiauth_looked_up;
    ctx->waiter.data = ctx;

    if (ngx_http_apiauth_lookup(&ctx->access_key, &ctx->waiter) == NGX_AGAIN)
    {
        ctx->state = NGX_HTTP_APIAUTH_STATE_WAITING;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "apiauth: waiting for the lookup of \"%V\"",
                       &ctx->access_key);

        rc = ngx_http_apiauth_park(r);

        if (rc != NGX_AGAIN) {
            ngx_http_apiauth_lookup_cancel(&ctx->waiter);
            ctx->state = NGX_HTTP_APIAUTH_STATE_NEW;
        }

        return rc;
    }

    return ngx_http_apiauth_unavailable(r, ctx, alcf);
}


/*
 * Redis cannot be asked, or did not answer: a cached record within
 * stale= judges the key, refusals included; else store_unavailable
 */

static ngx_int_t
ngx_http_apiauth_unavailable(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf)
{
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apiauth_module);

    if (ngx_http_apiauth_cache_get_stale(amcf->cache_zone, &ctx->access_key,
                                         &ctx->key, r->pool)
        == NGX_OK)
    {
        ctx->have_key = 1;
        ctx->stale = 1;

        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_CACHE_STALE, 1);

        /* once a minute per key, not once a request */

        if (ngx_http_apiauth_cache_warn(amcf->cache_zone, &ctx->access_key,
                                        60))
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "apiauth: Redis did not answer: key \"%V\" judged "
                          "by its stale cached record", &ctx->access_key);
        }

        return ngx_http_apiauth_verify(r, ctx, alcf);
    }

    ctx->cred_reason = NGX_HTTP_APIAUTH_STORE_UNAVAILABLE;
    ctx->state = NGX_HTTP_APIAUTH_STATE_DONE;

    return ngx_http_apiauth_decide(r, ctx, alcf);
}


static ngx_int_t
ngx_http_apiauth_verify(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf)
{
    ctx->cred_reason = ngx_http_apiauth_credentials_verify(r, ctx, &ctx->key);
    ctx->state = NGX_HTTP_APIAUTH_STATE_DONE;

    return ngx_http_apiauth_decide(r, ctx, alcf);
}


static ngx_int_t
ngx_http_apiauth_decide(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf)
{
    ngx_int_t  rc;

    if (ctx->cred_reason == NGX_HTTP_APIAUTH_OK) {

        /*
         * back from reading the body for this location, whose checks it
         * passed before: judged again, a long upload would be clock_skew
         */

        if (ctx->body_loc == alcf) {
            ctx->reason = NGX_HTTP_APIAUTH_OK;

        } else {
            ctx->reason = ngx_http_apiauth_judge(r, ctx, alcf);

            if (ctx->reason == NGX_HTTP_APIAUTH_OK) {
                ctx->reason = ngx_http_apiauth_replay(r, ctx, alcf);
            }

            /* the limits last: a refused request spends nothing */

            if (ctx->reason == NGX_HTTP_APIAUTH_OK && ctx->key.limited) {
                rc = ngx_http_apiauth_limits_check(r, ctx, alcf,
                                                   &ctx->reason);

                if (rc == NGX_AGAIN) {
                    ctx->reason = NGX_HTTP_APIAUTH_NONE;
                    return ngx_http_apiauth_park(r);
                }

                if (rc != NGX_OK) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }
            }
        }

        /* a proven credential is real: refused or not, it stays here */

        if (alcf->hide && ctx->cred_header
            && ngx_http_apiauth_credentials_hide(r, ctx) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the body last: only an admitted request has it read */

        if (ctx->reason == NGX_HTTP_APIAUTH_OK) {
            rc = ngx_http_apiauth_body_check(r, ctx, alcf->body_hash,
                                             &ctx->reason);

            if (rc == NGX_DONE) {
                /* not judged until the body is: a client that leaves first */
                ctx->body_loc = alcf;
                ctx->reason = NGX_HTTP_APIAUTH_NONE;
                return NGX_DONE;
            }

            if (rc != NGX_OK) {
                /* nginx's own status (413, 400...): not admitted */
                ctx->reason = NGX_HTTP_APIAUTH_BODY_HASH_MISMATCH;
                ngx_http_apiauth_filter_refused(ctx, 0);
                return rc;
            }
        }

    } else {
        ctx->reason = ctx->cred_reason;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: \"%V\" %V here", &ctx->access_key,
                   &ngx_http_apiauth_reasons[ctx->reason].code);

    if (ctx->reason == NGX_HTTP_APIAUTH_OK) {
        ngx_http_apiauth_filter_refused(ctx, 0);
        return NGX_OK;
    }

    return ngx_http_apiauth_refuse(r, ctx, alcf);
}


/* the refusal: its status, logged at apiauth_log_level, and its header */

static ngx_int_t
ngx_http_apiauth_refuse(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf)
{
    ngx_uint_t                  status;
    ngx_http_apiauth_reason_t  *reason;

    reason = &ngx_http_apiauth_reasons[ctx->reason];
    status = reason->status;

    ngx_log_error(alcf->log_level, r->connection->log, 0,
                  "apiauth: %V for access key \"%V\"", &reason->code,
                  &ctx->access_key);

    if (status == NGX_HTTP_UNAUTHORIZED
        && r->headers_out.www_authenticate == NULL)
    {
        r->headers_out.www_authenticate =
                                    ngx_list_push(&r->headers_out.headers);
        if (r->headers_out.www_authenticate == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->headers_out.www_authenticate->hash = 1;
        ngx_str_set(&r->headers_out.www_authenticate->key, "WWW-Authenticate");
        r->headers_out.www_authenticate->value =
                                            ngx_http_apiauth_www_authenticate;
    }

    ngx_http_apiauth_filter_refused(ctx, 1);

    return status;
}


/*
 * the nonce of a signature this location admits is remembered once, where
 * the first location that asks for replay protection sees it; only a
 * request that proves its key and passes every other check burns the
 * nonce, so that neither a forger nor a key that may not call can spend or
 * hoard one
 */

static ngx_uint_t
ngx_http_apiauth_replay(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf)
{
    ngx_int_t                      rc;
    ngx_http_apiauth_main_conf_t  *amcf;

    /* a JWT's jti is its nonce; a JWT without one is not checked */

    if (!(ctx->cred_type == NGX_HTTP_APIAUTH_SIGNATURE
          || (ctx->cred_type == NGX_HTTP_APIAUTH_JWT && ctx->nonce.data))
        || !alcf->replay || ctx->nonce_remembered)
    {
        return NGX_HTTP_APIAUTH_OK;
    }

    if (ctx->cred_type == NGX_HTTP_APIAUTH_JWT) {
        rc = ngx_http_apiauth_jwt_jti(ctx, alcf);

        if (rc != NGX_HTTP_APIAUTH_OK) {
            return rc;
        }
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apiauth_module);

    /* hashed already unless verified in a location without replay checks */

    if (ngx_http_apiauth_hash_nonce(ctx, amcf) != NGX_OK) {
        return NGX_HTTP_APIAUTH_STORE_UNAVAILABLE;
    }

    rc = ngx_http_apiauth_nonce_remember(amcf->nonce_zone, &ctx->nonce_id,
                                         ctx->date_value, amcf->max_skew,
                                         &ctx->access_key,
                                         r->connection->log);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: nonce %s",
                   rc == NGX_OK ? "remembered"
                   : rc == NGX_DECLINED ? "seen before"
                   : rc == NGX_ABORT ? "refused: its key holds its share"
                   : "refused: no room");

    switch (rc) {

    case NGX_OK:
        ctx->nonce_remembered = 1;
        return NGX_HTTP_APIAUTH_OK;

    case NGX_DECLINED:
        /* a replay stays one wherever the request goes */
        ctx->cred_reason = NGX_HTTP_APIAUTH_REPLAYED_NONCE;
        return NGX_HTTP_APIAUTH_REPLAYED_NONCE;

    default: /* NGX_BUSY, NGX_ABORT, NGX_ERROR */
        return NGX_HTTP_APIAUTH_STORE_UNAVAILABLE;
    }
}


/* the nonce's hashes, once per request, wherever they are first needed */

static ngx_int_t
ngx_http_apiauth_hash_nonce(ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_main_conf_t *amcf)
{
    if (ctx->nonce_hashed) {
        return NGX_OK;
    }

    if (ngx_http_apiauth_nonce_hash(amcf->nonce_zone, &ctx->access_key,
                                    &ctx->nonce, &ctx->nonce_id)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->nonce_hashed = 1;

    return NGX_OK;
}


/*
 * a signature's date within this location's window, wherever the request
 * is judged: before its key is looked up, and in each location a redirect
 * takes it to (the windows may differ); a token has no date
 */

static ngx_uint_t
ngx_http_apiauth_in_window(ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf)
{
    time_t  now;

    if (ctx->cred_type != NGX_HTTP_APIAUTH_SIGNATURE) {
        return 1;
    }

    now = ngx_time();

    return ctx->date_value >= now - alcf->clock_skew
           && ctx->date_value <= now + alcf->clock_skew;
}


/* after the credentials hold: nothing here tells a stranger about a key */

static ngx_uint_t
ngx_http_apiauth_judge(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf)
{
    ngx_uint_t               reason;
    ngx_http_apiauth_key_t  *key;

    key = &ctx->key;

    if (!ngx_http_apiauth_in_window(ctx, alcf)) {
        return NGX_HTTP_APIAUTH_CLOCK_SKEW;
    }

    /* a JWT's claims, cached or not: this location's leeway */

    if (ctx->cred_type == NGX_HTTP_APIAUTH_JWT) {
        reason = ngx_http_apiauth_jwt_claims(r, ctx, alcf);

        if (reason != NGX_HTTP_APIAUTH_OK) {
            return reason;
        }
    }

    if (!key->enabled) {
        return NGX_HTTP_APIAUTH_DISABLED_KEY;
    }

    if (key->expires && key->expires <= ngx_time()) {
        return NGX_HTTP_APIAUTH_EXPIRED_KEY;
    }

    if (!ngx_http_apiauth_ip_allowed(r, key)) {
        return NGX_HTTP_APIAUTH_IP_NOT_ALLOWED;
    }

    if (!ngx_http_apiauth_in_scope(r, &key->apps, alcf->app)
        || !ngx_http_apiauth_in_scope(r, &key->interfaces, alcf->interface))
    {
        return NGX_HTTP_APIAUTH_SCOPE_DENIED;
    }

    return NGX_HTTP_APIAUTH_OK;
}


/* $remote_addr, so realip decides which proxies are trusted */

static ngx_uint_t
ngx_http_apiauth_ip_allowed(ngx_http_request_t *r, ngx_http_apiauth_key_t *key)
{
    int                   family;
    ngx_uint_t            i;
    struct sockaddr      *sa;
    const unsigned char  *addr;

    if (key->nips == 0) {
        return 1;
    }

    sa = r->connection->sockaddr;

    switch (sa->sa_family) {

    case AF_INET:
        family = APIAUTH_IP_V4;
        addr = (u_char *) &((struct sockaddr_in *) sa)->sin_addr;
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        family = APIAUTH_IP_V6;
        addr = ((struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
        break;
#endif

    default:
        /* a unix socket has no address a whitelist could name */
        return 0;
    }

    for (i = 0; i < key->nips; i++) {
        if (apiauth_ip_match(&key->ips[i], family, addr)) {
            return 1;
        }
    }

    return 0;
}


/* a location that names no app (interface) admits keys of all only */

static ngx_uint_t
ngx_http_apiauth_in_scope(ngx_http_request_t *r, ngx_str_t *list,
    ngx_http_complex_value_t *cv)
{
    ngx_str_t  name;

    ngx_str_null(&name);

    if (cv && ngx_http_complex_value(r, cv, &name) != NGX_OK) {
        return 0;
    }

    return apiauth_scope_match(list->data, list->len, name.data, name.len);
}


/* as limit_req parks a delayed request */

static ngx_int_t
ngx_http_apiauth_park(ngx_http_request_t *r)
{
    if (r->connection->read->ready) {
        ngx_post_event(r->connection->read, &ngx_posted_events);

    } else {
        if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_apiauth_resume;

    return NGX_AGAIN;
}


/*
 * the lookup's answer: the key copied into the request's pool (the
 * lookup's copy goes when this returns); the request goes on from the
 * event loop, not from inside Redis's callback
 */

static void
ngx_http_apiauth_looked_up(ngx_http_apiauth_waiter_t *w, ngx_uint_t result,
    ngx_http_apiauth_key_t *key)
{
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = w->data;
    ctx->lookup_result = result;

    if (key) {
        if (ngx_http_apiauth_key_copy(ctx->request->pool, &ctx->key, key)
            == NGX_OK)
        {
            ctx->have_key = 1;

        } else {
            ctx->lookup_result = NGX_HTTP_APIAUTH_KEY_UNAVAILABLE;
        }
    }

    ctx->state = NGX_HTTP_APIAUTH_STATE_LOOKED_UP;

    ngx_post_event(ctx->request->connection->write, &ngx_posted_events);
}


static void
ngx_http_apiauth_resume(ngx_http_request_t *r)
{
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_apiauth_module);

    /* the connection became writable while the lookup is still out */

    if (ctx
        && (ctx->state == NGX_HTTP_APIAUTH_STATE_WAITING
            || ctx->limits_state == NGX_HTTP_APIAUTH_LIMITS_WAITING))
    {
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: the lookup answered, resuming");

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}
