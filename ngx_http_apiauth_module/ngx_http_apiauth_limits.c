
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Policies' limits on a node (docs/policies.md): Redis counts every key's
 * rate (a GCRA) and quota for all nodes, and grants a node tokens in
 * leases; the node's workers spend them here, in a shared memory zone,
 * under its lock, one token a request.  A node asks for the next lease
 * when half of one is spent, so a hot key never waits for Redis; a key's
 * first request on a node waits for its first lease, like a cache miss.
 * Every token admitted was counted in Redis first: the limit holds summed
 * over nodes.  Tokens not spent go back: rate tokens after a lease's life,
 * any token once its key is idle.
 *
 * Where Redis is away, the tokens held are spent first; then
 * apiauth_limits_store_error says what happens: "local" keeps the node's
 * share of each limit (a 1/nodes part) by its own clock, "open" admits,
 * "closed" refuses.  Quota spent meanwhile is a debt, paid with the next
 * lease, so that a monthly quota loses nothing.
 *
 * The zone is an rbtree of nodes keyed by accessKey with an LRU queue, as
 * limit_req's; a node is made by a key's first request and goes when its
 * key has been idle for a minute and holds nothing.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


/* a lease of rate tokens lives this long; then what is left goes back */
#define NGX_HTTP_APIAUTH_LEASE_LIFE      1000      /* ms */

/* a key without a request for this long gives its tokens back */
#define NGX_HTTP_APIAUTH_LEASE_IDLE      1000      /* ms */

/* a lease is what the key spends on this node in this long */
#define NGX_HTTP_APIAUTH_LEASE_SPAN      100       /* ms */
#define NGX_HTTP_APIAUTH_LEASE_MAX       10000

/* a node idle for this long, holding nothing, may go */
#define NGX_HTTP_APIAUTH_LIMITS_FORGET   60000     /* ms */

/* Redis failed a key's lease: it is not waited for again in this long */
#define NGX_HTTP_APIAUTH_LIMITS_AWAY     1000      /* ms */

/* a quota refused: asked again this soon, as other nodes give back */
#define NGX_HTTP_APIAUTH_LIMITS_RECHECK  1000      /* ms */


typedef struct {
    ngx_rbtree_node_t               node;       /* key: crc32 of the ak */
    ngx_queue_t                     queue;      /* recent first */
    ngx_http_apiauth_limits_t       limits;

    int64_t                         tokens;     /* leased, not spent */
    int64_t                         lease_end;  /* rate tokens spent by */
    int64_t                         window;     /* their quota period */
    int64_t                         window_end;
    int64_t                         used;       /* of the quota, by Redis */

    int64_t                         denied_until;
    int64_t                         retry_at;
    ngx_uint_t                      denied_reason;

    int64_t                         asked;      /* a lease asked: when */
    int64_t                         last;       /* the last request */
    int64_t                         second;     /* of count */
    uint32_t                        count;      /* requests in it */
    uint32_t                        prev;       /* and in the one before */

    /* Redis away */
    int64_t                         away_until;
    int64_t                         debt;       /* quota spent meanwhile */
    int64_t                         debt_window;
    int64_t                         local_tat;  /* us, the node's share */
    int64_t                         local_window;
    int64_t                         local_used;

    u_char                          len;
    u_char                          ak[APIAUTH_ACCESS_KEY_MAX];
} ngx_http_apiauth_limits_node_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
} ngx_http_apiauth_limits_sh_t;


typedef struct {
    ngx_http_apiauth_limits_sh_t   *sh;
    ngx_slab_pool_t                *shpool;
} ngx_http_apiauth_limits_zone_t;


static ngx_int_t ngx_http_apiauth_limits_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_apiauth_limits_node_t *ngx_http_apiauth_limits_find(
    ngx_http_apiauth_limits_zone_t *lz, ngx_str_t *ak, uint32_t hash);
static ngx_http_apiauth_limits_node_t *ngx_http_apiauth_limits_new(
    ngx_http_apiauth_limits_zone_t *lz, ngx_str_t *ak, uint32_t hash,
    int64_t now);
static void ngx_http_apiauth_limits_give_back(
    ngx_http_apiauth_limits_node_t *ln, ngx_http_apiauth_lease_t *lease);
static int64_t ngx_http_apiauth_limits_size(
    ngx_http_apiauth_limits_node_t *ln, ngx_uint_t nodes);
static ngx_uint_t ngx_http_apiauth_limits_away(
    ngx_http_apiauth_limits_node_t *ln, ngx_http_apiauth_spend_t *sp,
    ngx_uint_t mode, ngx_uint_t nodes);
static void ngx_http_apiauth_limits_refused(
    ngx_http_apiauth_limits_node_t *ln, ngx_http_apiauth_spend_t *sp);
static void ngx_http_apiauth_limits_state(ngx_http_apiauth_limits_node_t *ln,
    ngx_http_apiauth_spend_t *sp);


static void ngx_http_apiauth_limits_answered(ngx_http_apiauth_waiter_t *w,
    ngx_uint_t result, ngx_http_apiauth_key_t *key);
static ngx_table_elt_t *ngx_http_apiauth_limits_header(ngx_http_request_t *r,
    const char *name, size_t len);


static ngx_uint_t  ngx_http_apiauth_limits_tag;


ngx_shm_zone_t *
ngx_http_apiauth_limits_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_http_apiauth_limits_zone_t  *lz;

    lz = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_limits_zone_t));
    if (lz == NULL) {
        return NULL;
    }

    return ngx_http_apiauth_shm_add(cf, name, size,
                                    &ngx_http_apiauth_limits_tag,
                                    ngx_http_apiauth_limits_init_zone, lz);
}


/* a reload keeps every lease: the tokens stay spendable */

static ngx_int_t
ngx_http_apiauth_limits_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apiauth_limits_zone_t  *olz = data;

    size_t                           len;
    ngx_http_apiauth_limits_zone_t  *lz;

    lz = shm_zone->data;

    if (olz) {
        lz->sh = olz->sh;
        lz->shpool = olz->shpool;
        return NGX_OK;
    }

    lz->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        lz->sh = lz->shpool->data;
        return NGX_OK;
    }

    lz->sh = ngx_slab_alloc(lz->shpool, sizeof(ngx_http_apiauth_limits_sh_t));
    if (lz->sh == NULL) {
        return NGX_ERROR;
    }

    lz->shpool->data = lz->sh;

    ngx_rbtree_init(&lz->sh->rbtree, &lz->sh->sentinel,
                    ngx_rbtree_insert_value);
    ngx_queue_init(&lz->sh->queue);

    len = sizeof(" in apiauth limits zone \"\"") + shm_zone->shm.name.len;

    lz->shpool->log_ctx = ngx_slab_alloc(lz->shpool, len);
    if (lz->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(lz->shpool->log_ctx, " in apiauth limits zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


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
    ngx_http_apiauth_spend_t      *sp;
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

    sp = ctx->spend;

    if (sp == NULL) {
        sp = ngx_palloc(r->pool, sizeof(ngx_http_apiauth_spend_t));
        if (sp == NULL) {
            return NGX_ERROR;
        }

        ctx->spend = sp;
    }

    for ( ;; ) {
        verdict = ngx_http_apiauth_limits_spend(amcf->limits_zone,
                                                &ctx->access_key,
                                                &ctx->key.limits,
                                                alcf->store_error,
                                                amcf->limits_nodes, sp);

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

        if (ctx->limits_tries++ == 4) {
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

        if (ctx->key.limits.policy.dry_run) {
            ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                          "apiauth: %V for access key \"%V\" (dry run: "
                          "admitted)", &ngx_http_apiauth_reasons[*reason].code,
                          &ctx->access_key);
            ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_DRY_RUN, 1);
            *reason = NGX_HTTP_APIAUTH_OK;
        }

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

    ctx->limits_state = NGX_HTTP_APIAUTH_LIMITS_DONE;
    ctx->limits_reason = *reason;
    ctx->limits_headers = alcf->ratelimit_headers;

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

    if (ctx->limits_reason == NGX_HTTP_APIAUTH_RATE_LIMITED
        || ctx->limits_reason == NGX_HTTP_APIAUTH_QUOTA_EXCEEDED)
    {
        h = ngx_http_apiauth_limits_header(r, "Retry-After",
                                           NGX_INT64_LEN);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%L",
                                   ngx_max((ctx->retry_at - now + 999) / 1000,
                                           1))
                       - h->value.data;
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

        h = ngx_http_apiauth_limits_header(r, "X-RateLimit-Limit",
                                           NGX_INT64_LEN);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%L", limit)
                       - h->value.data;

        h = ngx_http_apiauth_limits_header(r, "X-RateLimit-Remaining",
                                           NGX_INT64_LEN);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%L", left)
                       - h->value.data;

        h = ngx_http_apiauth_limits_header(r, "X-RateLimit-Reset",
                                           NGX_INT64_LEN);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%L", reset)
                       - h->value.data;

        return NGX_OK;
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


/* unix ms, on the node's clock, the same in every worker */

int64_t
ngx_http_apiauth_limits_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + (int64_t) tp->msec;
}


/*
 * one request of a key with a policy: a token spent (SPENT), a refusal
 * (REFUSED, with its reason and when to retry), or no token here yet
 * (WAIT: sp->lease is the lease to ask for, and the request waits for
 * it); Redis away: what mode says (SPENT, or UNAVAILABLE).  sp->lease
 * may also ask for a lease without waiting, give tokens back or pay a
 * debt: the caller sends it.
 */

ngx_uint_t
ngx_http_apiauth_limits_spend(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_limits_t *limits, ngx_uint_t mode, ngx_uint_t nodes,
    ngx_http_apiauth_spend_t *sp)
{
    int64_t                          now, k;
    uint32_t                         hash;
    ngx_uint_t                       verdict;
    ngx_http_apiauth_limits_node_t  *ln;
    ngx_http_apiauth_limits_zone_t  *lz;

    lz = zone->data;
    now = ngx_http_apiauth_limits_now();
    hash = ngx_crc32_short(ak->data, ak->len);

    ngx_memzero(sp, sizeof(ngx_http_apiauth_spend_t));

    ngx_shmtx_lock(&lz->shpool->mutex);

    ln = ngx_http_apiauth_limits_find(lz, ak, hash);

    if (ln == NULL) {
        ln = ngx_http_apiauth_limits_new(lz, ak, hash, now);

        if (ln == NULL) {
            ngx_shmtx_unlock(&lz->shpool->mutex);
            return NGX_HTTP_APIAUTH_LIMITS_NOMEM;
        }

        ln->limits = *limits;
    }

    ngx_queue_remove(&ln->queue);
    ngx_queue_insert_head(&lz->sh->queue, &ln->queue);

    /*
     * another policy: what was leased under the old one is dropped, not
     * given back, as the old rate's tokens are not the new one's
     */

    if (ln->limits.version != limits->version) {
        ln->tokens = 0;
        ln->limits = *limits;
        ln->denied_until = 0;
        ln->asked = 0;
        ln->local_tat = 0;
        ln->local_used = 0;
    }

    /* how fast the key comes here: what a lease should hold */

    if (now / 1000 != ln->second) {
        ln->prev = (now / 1000 == ln->second + 1) ? ln->count : 0;
        ln->count = 0;
        ln->second = now / 1000;
    }

    ln->count++;
    ln->last = now;

    /* tokens that outlived their lease or their period */

    if (ln->tokens
        && ((ln->limits.policy.rate && now >= ln->lease_end)
            || (ln->limits.policy.quota && now >= ln->window_end)))
    {
        ngx_http_apiauth_limits_give_back(ln, &sp->lease);
    }

    if (ln->tokens == 0 && now < ln->denied_until) {
        ngx_http_apiauth_limits_refused(ln, sp);
        verdict = NGX_HTTP_APIAUTH_LIMITS_REFUSED;
        goto done;
    }

    k = ngx_http_apiauth_limits_size(ln, nodes);

    if (ln->tokens) {
        ln->tokens--;
        verdict = NGX_HTTP_APIAUTH_LIMITS_SPENT;

        /* half a lease left: the next one is asked for now, once */

        if (ln->tokens <= k / 2 && ln->asked == 0 && now >= ln->away_until) {
            ln->asked = now;
            sp->lease.want = k;
        }

        goto done;
    }

    if (now < ln->away_until) {
        verdict = ngx_http_apiauth_limits_away(ln, sp, mode, nodes);
        goto done;
    }

    /* nothing here: this request waits for a lease (its worker's own) */

    ln->asked = now;
    sp->lease.want = k;
    verdict = NGX_HTTP_APIAUTH_LIMITS_WAIT;

done:

    /* a debt goes with a lease, and comes back if the lease fails */

    if (sp->lease.want && ln->debt) {
        sp->lease.debt = ln->debt;
        sp->lease.debt_window = ln->debt_window;
        ln->debt = 0;
    }

    if (sp->lease.want || sp->lease.tokens || sp->lease.debt) {
        sp->lease.limits = ln->limits;
        sp->lease.len = ln->len;
        ngx_memcpy(sp->lease.ak, ln->ak, ln->len);
    }

    ngx_http_apiauth_limits_state(ln, sp);

    ngx_shmtx_unlock(&lz->shpool->mutex);

    return verdict;
}


/*
 * Redis's answer to a lease as sent: tokens to spend (for the period
 * Redis says), or none and until when; g NULL: Redis did not answer, and
 * the key is decided without it for a while (its debt is owed again).  A
 * policy changed meanwhile: the tokens go back, in *back.
 */

void
ngx_http_apiauth_limits_granted(ngx_shm_zone_t *zone,
    ngx_http_apiauth_lease_t *lease, ngx_http_apiauth_grant_t *g,
    ngx_http_apiauth_lease_t *back)
{
    int64_t                          now;
    uint32_t                         hash;
    ngx_str_t                        ak;
    ngx_http_apiauth_limits_node_t  *ln;
    ngx_http_apiauth_limits_zone_t  *lz;

    lz = zone->data;
    now = ngx_http_apiauth_limits_now();

    ak.data = lease->ak;
    ak.len = lease->len;
    hash = ngx_crc32_short(ak.data, ak.len);

    ngx_memzero(back, sizeof(ngx_http_apiauth_lease_t));

    ngx_shmtx_lock(&lz->shpool->mutex);

    ln = ngx_http_apiauth_limits_find(lz, &ak, hash);

    if (ln == NULL || ln->limits.version != lease->limits.version) {
        if (g && g->granted) {
            *back = *lease;
            back->want = 0;
            back->debt = 0;
            back->tokens = g->granted;
            back->window = g->start;
        }

        ngx_shmtx_unlock(&lz->shpool->mutex);
        return;
    }

    if (lease->want) {
        ln->asked = 0;
    }

    if (g == NULL) {
        ln->away_until = now + NGX_HTTP_APIAUTH_LIMITS_AWAY;

        if (lease->debt
            && (ln->debt == 0 || ln->debt_window == lease->debt_window))
        {
            ln->debt += lease->debt;
            ln->debt_window = lease->debt_window;
        }

        ngx_shmtx_unlock(&lz->shpool->mutex);
        return;
    }

    ln->away_until = 0;

    if (ln->debt == 0) {
        ln->local_used = 0;
        ln->local_tat = 0;
    }

    if (ln->limits.policy.quota) {
        ln->used = g->used;

        if (ln->window != g->start) {
            /* tokens of an ended period ended with it */
            ln->tokens = 0;
        }

        ln->window = g->start;
        ln->window_end = g->end;
    }

    if (g->granted) {
        ln->tokens += g->granted;
        ln->lease_end = now + NGX_HTTP_APIAUTH_LEASE_LIFE;
        ln->denied_until = 0;

    } else if (g->blocked) {
        ln->denied_reason = g->blocked;
        ln->retry_at = now + g->wait;

        /* a quota may come back from other nodes' leases: asked again */

        ln->denied_until = (g->blocked == NGX_HTTP_APIAUTH_QUOTA_EXCEEDED)
                           ? ngx_min(now + NGX_HTTP_APIAUTH_LIMITS_RECHECK,
                                     ln->retry_at)
                           : ln->retry_at;
    }

    ngx_shmtx_unlock(&lz->shpool->mutex);
}


/*
 * up to n keys idle for a while that hold tokens or a debt: their tokens
 * go back, their debts are paid (a worker's timer sends them)
 */

ngx_uint_t
ngx_http_apiauth_limits_sweep(ngx_shm_zone_t *zone,
    ngx_http_apiauth_lease_t *back, ngx_uint_t n)
{
    int64_t                          now;
    ngx_uint_t                       i;
    ngx_queue_t                     *q, *prev;
    ngx_http_apiauth_limits_node_t  *ln;
    ngx_http_apiauth_limits_zone_t  *lz;

    lz = zone->data;
    now = ngx_http_apiauth_limits_now();
    i = 0;

    ngx_shmtx_lock(&lz->shpool->mutex);

    for (q = ngx_queue_last(&lz->sh->queue);
         q != ngx_queue_sentinel(&lz->sh->queue) && i < n;
         q = prev)
    {
        prev = ngx_queue_prev(q);
        ln = ngx_queue_data(q, ngx_http_apiauth_limits_node_t, queue);

        if (now - ln->last < NGX_HTTP_APIAUTH_LEASE_IDLE) {
            break;                          /* and every one before it */
        }

        if (ln->tokens == 0 && (ln->debt == 0 || now < ln->away_until)) {
            if (now - ln->last >= NGX_HTTP_APIAUTH_LIMITS_FORGET
                && ln->debt == 0 && ln->asked == 0)
            {
                ngx_queue_remove(&ln->queue);
                ngx_rbtree_delete(&lz->sh->rbtree, &ln->node);
                ngx_slab_free_locked(lz->shpool, ln);
            }

            continue;
        }

        ngx_memzero(&back[i], sizeof(ngx_http_apiauth_lease_t));
        ngx_http_apiauth_limits_give_back(ln, &back[i]);

        if (ln->debt && now >= ln->away_until) {
            back[i].debt = ln->debt;
            back[i].debt_window = ln->debt_window;
            ln->debt = 0;
        }

        back[i].limits = ln->limits;
        back[i].len = ln->len;
        ngx_memcpy(back[i].ak, ln->ak, ln->len);
        i++;
    }

    ngx_shmtx_unlock(&lz->shpool->mutex);

    return i;
}


static ngx_http_apiauth_limits_node_t *
ngx_http_apiauth_limits_find(ngx_http_apiauth_limits_zone_t *lz,
    ngx_str_t *ak, uint32_t hash)
{
    ngx_int_t                        rc;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_http_apiauth_limits_node_t  *ln;

    node = lz->sh->rbtree.root;
    sentinel = lz->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        ln = (ngx_http_apiauth_limits_node_t *) node;

        rc = ngx_memn2cmp(ak->data, ln->ak, ak->len, (size_t) ln->len);

        if (rc == 0) {
            return ln;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * a node for a key's first request here; a full zone forgets the keys
 * longest idle that hold nothing, never a lease or a debt
 */

static ngx_http_apiauth_limits_node_t *
ngx_http_apiauth_limits_new(ngx_http_apiauth_limits_zone_t *lz,
    ngx_str_t *ak, uint32_t hash, int64_t now)
{
    ngx_uint_t                       tries;
    ngx_queue_t                     *q, *prev;
    ngx_http_apiauth_limits_node_t  *ln, *old;

    ln = ngx_slab_alloc_locked(lz->shpool,
                               sizeof(ngx_http_apiauth_limits_node_t));

    for (q = ngx_queue_last(&lz->sh->queue), tries = 0;
         ln == NULL && q != ngx_queue_sentinel(&lz->sh->queue)
         && tries < 64;
         q = prev, tries++)
    {
        prev = ngx_queue_prev(q);
        old = ngx_queue_data(q, ngx_http_apiauth_limits_node_t, queue);

        if (old->tokens || old->debt || old->asked
            || now - old->last < NGX_HTTP_APIAUTH_LEASE_IDLE)
        {
            continue;
        }

        ngx_queue_remove(&old->queue);
        ngx_rbtree_delete(&lz->sh->rbtree, &old->node);
        ngx_slab_free_locked(lz->shpool, old);

        ln = ngx_slab_alloc_locked(lz->shpool,
                                   sizeof(ngx_http_apiauth_limits_node_t));
    }

    if (ln == NULL) {
        return NULL;
    }

    ngx_memzero(ln, sizeof(ngx_http_apiauth_limits_node_t));

    ln->node.key = hash;
    ln->len = (u_char) ak->len;
    ngx_memcpy(ln->ak, ak->data, ak->len);
    ln->last = now;

    ngx_rbtree_insert(&lz->sh->rbtree, &ln->node);
    ngx_queue_insert_head(&lz->sh->queue, &ln->queue);

    return ln;
}


/* the node's tokens, to go back to Redis with their period */

static void
ngx_http_apiauth_limits_give_back(ngx_http_apiauth_limits_node_t *ln,
    ngx_http_apiauth_lease_t *lease)
{
    lease->tokens += ln->tokens;
    lease->window = ln->window;
    ln->tokens = 0;
}


/*
 * what the key spends here in a lease's span, one at least; at most half
 * a burst, and half of the node's share of a quota, so that other nodes
 * are never kept waiting by more than that
 */

static int64_t
ngx_http_apiauth_limits_size(ngx_http_apiauth_limits_node_t *ln,
    ngx_uint_t nodes)
{
    int64_t            k, rate;
    apiauth_policy_t  *p;

    p = &ln->limits.policy;

    rate = ngx_max(ln->count, ln->prev);
    k = (rate * NGX_HTTP_APIAUTH_LEASE_SPAN + 999) / 1000;
    k = ngx_max(k, 1);

    if (p->rate) {
        k = ngx_min(k, ngx_max((int64_t) p->burst / 2, 1));
    }

    if (p->quota) {
        k = ngx_min(k, ngx_max((int64_t) (p->quota / (2 * nodes)), 1));
    }

    return ngx_min(k, NGX_HTTP_APIAUTH_LEASE_MAX);
}


/*
 * Redis away and no token left: "local" keeps a 1/nodes share of the rate
 * and of the quota by the node's clock, "open" admits, "closed" refuses;
 * quota admitted meanwhile is a debt
 */

static ngx_uint_t
ngx_http_apiauth_limits_away(ngx_http_apiauth_limits_node_t *ln,
    ngx_http_apiauth_spend_t *sp, ngx_uint_t mode, ngx_uint_t nodes)
{
    int64_t            now, now_us, t, tau, start, end, share;
    uint64_t           ut, utau;
    apiauth_policy_t  *p;

    p = &ln->limits.policy;
    now = ln->last;
    t = 0;
    start = 0;
    end = 0;

    if (mode == NGX_HTTP_APIAUTH_STORE_ERROR_CLOSED) {
        return NGX_HTTP_APIAUTH_LIMITS_UNAVAILABLE;
    }

    if (p->quota) {
        apiauth_policy_window(p, now, &start, &end);

        if (p->anchor == APIAUTH_ANCHOR_FIRST_USE) {
            /* the period Redis last said, while it lasts */
            if (now < ln->window_end) {
                start = ln->window;
                end = ln->window_end;
            }
        }

        if (ln->local_window != start) {
            ln->local_window = start;
            ln->local_used = 0;
        }
    }

    if (mode == NGX_HTTP_APIAUTH_STORE_ERROR_LOCAL) {

        if (p->rate) {
            apiauth_policy_gcra(p, &ut, &utau);

            /* the node's share: an nth of the rate and of the burst */

            t = (int64_t) ut * (int64_t) nodes;
            tau = (ngx_max((int64_t) (p->burst / nodes), 1) - 1) * t;
            now_us = now * 1000;

            if (ln->local_tat < now_us) {
                ln->local_tat = now_us;
            }

            if (ln->local_tat - now_us > tau) {
                ln->denied_reason = NGX_HTTP_APIAUTH_RATE_LIMITED;
                ln->retry_at = now + (ln->local_tat - tau - now_us + 999)
                                     / 1000;
                ngx_http_apiauth_limits_refused(ln, sp);
                return NGX_HTTP_APIAUTH_LIMITS_REFUSED;
            }
        }

        if (p->quota) {
            share = ngx_max((int64_t) (p->quota / nodes), 1);

            if (ln->local_used >= share) {
                ln->denied_reason = NGX_HTTP_APIAUTH_QUOTA_EXCEEDED;
                ln->retry_at = end;
                ngx_http_apiauth_limits_refused(ln, sp);
                return NGX_HTTP_APIAUTH_LIMITS_REFUSED;
            }
        }

        if (p->rate) {
            ln->local_tat += t;
        }
    }

    if (p->quota) {
        ln->local_used++;

        if (ln->debt_window != start) {
            /* a debt of an ended period is not owed to the new one */
            ln->debt = 0;
            ln->debt_window = start;
        }

        ln->debt++;
    }

    sp->away = 1;

    return NGX_HTTP_APIAUTH_LIMITS_SPENT;
}


static void
ngx_http_apiauth_limits_refused(ngx_http_apiauth_limits_node_t *ln,
    ngx_http_apiauth_spend_t *sp)
{
    sp->reason = ln->denied_reason;
    sp->retry_at = ln->retry_at;
}


/* what the headers say: the tightest limit, as the node knows it */

static void
ngx_http_apiauth_limits_state(ngx_http_apiauth_limits_node_t *ln,
    ngx_http_apiauth_spend_t *sp)
{
    sp->tokens = ln->tokens;
    sp->used = ln->used;
    sp->window_end = ln->window_end;
    sp->now = ln->last;
}
