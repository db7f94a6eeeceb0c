
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * A request and its key's policy (docs/policies.md): one token spent from
 * the node's zone (ngx_http_apiauth_tokens.c) once every other check has
 * passed, whatever redirects follow; a wait for the key's first lease on
 * this node; the refusal's Retry-After and the rate limit headers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


/* a worker's requests that found no token ask again this often at most */
#define NGX_HTTP_APIAUTH_LIMITS_TRIES    16


static void ngx_http_apiauth_limits_answered(ngx_http_apiauth_waiter_t *w,
    ngx_uint_t result, ngx_http_apiauth_key_t *key);
static ngx_int_t ngx_http_apiauth_limits_number(ngx_http_request_t *r,
    const char *name, int64_t n);
static ngx_table_elt_t *ngx_http_apiauth_limits_header(ngx_http_request_t *r,
    const char *name, size_t len);


/*
 * a request whose key has a policy, after every other check passed: one
 * token, spent once whatever redirects follow; NGX_AGAIN while it waits
 * for its key's first lease on this node
 */

ngx_int_t
ngx_http_apiauth_limits_check(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf,
    ngx_uint_t *reason)
{
    ngx_int_t                      rc;
    ngx_uint_t                     verdict;
    ngx_http_apiauth_spend_t       spend, *sp;
    ngx_http_apiauth_main_conf_t  *amcf;

    switch (ctx->limits_state) {

    case NGX_HTTP_APIAUTH_LIMITS_DONE:
        *reason = ctx->limits_reason;
        return NGX_OK;

    case NGX_HTTP_APIAUTH_LIMITS_WAITING:
        return NGX_AGAIN;

    default: /* NEW, ANSWERED */
        break;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apiauth_module);

    sp = &spend;

    for ( ;; ) {
        verdict = ngx_http_apiauth_tokens_spend(amcf->limits_zone,
                                                &ctx->access_key,
                                                &ctx->key.limits,
                                                alcf->store_error,
                                                amcf->limits_nodes,
                                                amcf->timeout + 1000, sp);

        if (verdict != NGX_HTTP_APIAUTH_LIMITS_WAIT) {
            if (sp->lease.want || sp->lease.tokens || sp->lease.debt) {
                (void) ngx_http_apiauth_lease_ask(&sp->lease, NULL);
            }

            break;
        }

        /*
         * the worker's requests wait for one lease; if others spent it
         * first, this one asks again, a few times at most
         */

        if (ctx->limits_tries++ == NGX_HTTP_APIAUTH_LIMITS_TRIES) {
            ngx_http_apiauth_tokens_abandon(amcf->limits_zone, &sp->lease);

            if (sp->lease.tokens || sp->lease.debt) {
                (void) ngx_http_apiauth_lease_ask(&sp->lease, NULL);
            }

            verdict = NGX_HTTP_APIAUTH_LIMITS_REFUSED;
            sp->reason = NGX_HTTP_APIAUTH_RATE_LIMITED;
            sp->retry_at = sp->now + 1000;
            break;
        }

        ctx->waiter.handler = ngx_http_apiauth_limits_answered;
        ctx->waiter.data = ctx;

        rc = ngx_http_apiauth_lease_ask(&sp->lease, &ctx->waiter);

        if (rc == NGX_AGAIN) {
            ctx->limits_state = NGX_HTTP_APIAUTH_LIMITS_WAITING;
            return NGX_AGAIN;
        }

        /* NGX_DECLINED: the zone knows Redis is away; decided without it */
    }

    switch (verdict) {

    case NGX_HTTP_APIAUTH_LIMITS_SPENT:
        *reason = NGX_HTTP_APIAUTH_OK;
        break;

    case NGX_HTTP_APIAUTH_LIMITS_REFUSED:
        *reason = sp->reason;
        ctx->retry_at = sp->retry_at;
        break;

    case NGX_HTTP_APIAUTH_LIMITS_NOMEM:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "apiauth: no room for access key \"%V\" in the "
                      "limits zone", &ctx->access_key);
        *reason = NGX_HTTP_APIAUTH_STORE_UNAVAILABLE;
        break;

    default: /* NGX_HTTP_APIAUTH_LIMITS_UNAVAILABLE */
        *reason = NGX_HTTP_APIAUTH_STORE_UNAVAILABLE;
    }

    /* a policy in dry run refuses nothing: it says what it would */

    if (*reason != NGX_HTTP_APIAUTH_OK && ctx->key.limits.policy.dry_run) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "apiauth: %V for access key \"%V\" (dry run: "
                      "admitted)", &ngx_http_apiauth_reasons[*reason].code,
                      &ctx->access_key);
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_DRY_RUN, 1);
        *reason = NGX_HTTP_APIAUTH_OK;
    }

    ctx->limits_state = NGX_HTTP_APIAUTH_LIMITS_DONE;
    ctx->limits_reason = *reason;
    ctx->limits_headers = alcf->ratelimit_headers;

    /* what the headers will say, kept where there will be headers */

    if (alcf->ratelimit_headers != NGX_HTTP_APIAUTH_HEADERS_OFF
        || ctx->retry_at)
    {
        ctx->spend = ngx_palloc(r->pool, sizeof(ngx_http_apiauth_spend_t));
        if (ctx->spend == NULL) {
            return NGX_ERROR;
        }

        *ctx->spend = spend;
    }

    return NGX_OK;
}


static void
ngx_http_apiauth_limits_answered(ngx_http_apiauth_waiter_t *w,
    ngx_uint_t result, ngx_http_apiauth_key_t *key)
{
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = w->data;
    ctx->limits_state = NGX_HTTP_APIAUTH_LIMITS_ANSWERED;

    ngx_post_event(ctx->request->connection->write, &ngx_posted_events);
}


/*
 * Retry-After on a refusal by the limits, and the rate limit headers in
 * the style asked for, on the response whatever it is (header filter)
 */

ngx_int_t
ngx_http_apiauth_limits_headers(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx)
{
    u_char                    *p;
    int64_t                    now, limit, left, reset, w, cap;
    ngx_table_elt_t           *h;
    apiauth_policy_t          *pol;
    ngx_http_apiauth_spend_t  *sp;

    if (ctx->limits_state != NGX_HTTP_APIAUTH_LIMITS_DONE
        || ctx->limits_sent || ctx->spend == NULL)
    {
        return NGX_OK;
    }

    ctx->limits_sent = 1;

    sp = ctx->spend;
    pol = &ctx->key.limits.policy;
    now = sp->now;

    if ((ctx->limits_reason == NGX_HTTP_APIAUTH_RATE_LIMITED
         || ctx->limits_reason == NGX_HTTP_APIAUTH_QUOTA_EXCEEDED)
        && ngx_http_apiauth_limits_number(r, "Retry-After",
                               ngx_max((ctx->retry_at - now + 999) / 1000, 1))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->limits_headers == NGX_HTTP_APIAUTH_HEADERS_OFF) {
        return NGX_OK;
    }

    /*
     * the quota if there is one, else the rate; what remains is as the
     * node knows it: Redis's count at the last lease, less the tokens
     * other nodes hold unspent
     */

    if (pol->quota) {
        limit = (int64_t) pol->quota;
        left = ngx_max(limit - sp->used + sp->tokens, 0);
        reset = ngx_max((sp->window_end - now + 999) / 1000, 0);
        w = (int64_t) apiauth_policy_period_max(pol);

    } else {
        limit = (int64_t) pol->rate;
        left = sp->tokens;
        reset = (int64_t) pol->rate_window;
        w = (int64_t) pol->rate_window;
    }

    if (ctx->limits_reason == NGX_HTTP_APIAUTH_QUOTA_EXCEEDED
        || ctx->limits_reason == NGX_HTTP_APIAUTH_RATE_LIMITED)
    {
        left = 0;
        reset = ngx_max((ctx->retry_at - now + 999) / 1000, 1);
    }

    if (ctx->limits_headers == NGX_HTTP_APIAUTH_HEADERS_LEGACY) {
        if (ngx_http_apiauth_limits_number(r, "X-RateLimit-Limit", limit)
            != NGX_OK
            || ngx_http_apiauth_limits_number(r, "X-RateLimit-Remaining",
                                              left)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_apiauth_limits_number(r, "X-RateLimit-Reset", reset);
    }

    /*
     * draft-ietf-httpapi-ratelimit-headers-11: the policies, and the one
     * told of; of a window longer than a day, what remains is told up to
     * a day's share, as the draft asks of long windows
     */

    h = ngx_http_apiauth_limits_header(r, "RateLimit-Policy",
                                       2 * (sizeof("\"quota\";q=;w=, ")
                                            + 2 * NGX_INT64_LEN));
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = h->value.data;

    if (pol->rate) {
        p = ngx_sprintf(p, "\"rate\";q=%uL;w=%uL", pol->rate,
                        pol->rate_window);
    }

    if (pol->quota) {
        p = ngx_sprintf(p, "%s\"quota\";q=%uL;w=%L", pol->rate ? ", " : "",
                        pol->quota, w);
    }

    h->value.len = p - h->value.data;

    if (w > 86400) {
        cap = ngx_max(limit * 86400 / w, 1);
        left = ngx_min(left, cap);
    }

    h = ngx_http_apiauth_limits_header(r, "RateLimit",
                                       sizeof("\"quota\";r=;t=")
                                       + 2 * NGX_INT64_LEN);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "\"%s\";r=%L;t=%L",
                               pol->quota ? "quota" : "rate", left, reset)
                   - h->value.data;

    return NGX_OK;
}


/* a header whose value is a number */

static ngx_int_t
ngx_http_apiauth_limits_number(ngx_http_request_t *r, const char *name,
    int64_t n)
{
    ngx_table_elt_t  *h;

    h = ngx_http_apiauth_limits_header(r, name, NGX_INT64_LEN);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%L", n) - h->value.data;

    return NGX_OK;
}


static ngx_table_elt_t *
ngx_http_apiauth_limits_header(ngx_http_request_t *r, const char *name,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->value.data = ngx_pnalloc(r->pool, len);
    if (h->value.data == NULL) {
        h->hash = 0;
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);

    return h;
}
