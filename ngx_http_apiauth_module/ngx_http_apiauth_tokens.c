
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The tokens a node holds (docs/policies.md): Redis counts every key's
 * rate (a GCRA) and quota for all nodes and grants a node tokens in
 * leases; the node's workers spend them here, in a shared memory zone,
 * under its lock, one token a request.  A node asks for the next lease
 * when half of one is spent, so a hot key never waits for Redis; a key's
 * first request on a node waits for its first lease, like a cache miss.
 * Every token admitted was counted in Redis first: the limit holds summed
 * over nodes.  Tokens not spent go back once their key is idle; rate
 * tokens only for the time still ahead of them, as time past is spent.
 *
 * Where Redis is away, the tokens held are spent first; then
 * apiauth_limits_store_error says what happens: "local" keeps the node's
 * share of each limit (a 1/nodes part) by its own clock, "open" admits,
 * "closed" refuses.  Quota spent meanwhile is a debt, paid with the next
 * lease, so that a monthly quota loses nothing.
 *
 * The zone is an rbtree of nodes keyed by accessKey with an LRU queue, as
 * limit_req's, and a second queue of the nodes that hold tokens or a
 * debt, which the sweep walks; a node goes when its key has been idle for
 * a minute and it holds nothing.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


/* a lease of rate tokens is spent within this long, or what is left goes */
#define NGX_HTTP_APIAUTH_LEASE_LIFE      1000      /* ms */

/* a key without a request for this long gives its tokens back */
#define NGX_HTTP_APIAUTH_LEASE_IDLE      1000      /* ms */

/* a lease is what the key spends on this node in this long */
#define NGX_HTTP_APIAUTH_LEASE_SPAN      100       /* ms */
#define NGX_HTTP_APIAUTH_LEASE_MAX       10000

/* a node idle for this long, holding nothing, may go */
#define NGX_HTTP_APIAUTH_TOKENS_FORGET   60000     /* ms */
#define NGX_HTTP_APIAUTH_TOKENS_FREE     8         /* nodes a sweep frees */

/* Redis failed a key's lease: it is not waited for again in this long */
#define NGX_HTTP_APIAUTH_TOKENS_AWAY     1000      /* ms */

/* a quota refused: asked again this soon, as other nodes give back */
#define NGX_HTTP_APIAUTH_TOKENS_RECHECK  1000      /* ms */


typedef struct {
    ngx_rbtree_node_t               node;       /* key: crc32 of the ak */
    ngx_queue_t                     queue;      /* recent first */
    ngx_queue_t                     hold;       /* holding: recent first */
    ngx_http_apiauth_limits_t       limits;

    int64_t                         tokens;     /* leased, not spent */
    int64_t                         lease_end;  /* rate tokens spent by */
    int64_t                         lease_tat;  /* the last lease's, us */
    int64_t                         lease_last; /* its tokens */
    int64_t                         window;     /* the quota's period */
    int64_t                         window_end;
    int64_t                         used;       /* of the quota, by Redis */

    int64_t                         denied_until;
    int64_t                         retry_at;
    ngx_uint_t                      denied_reason;

    int64_t                         asked;      /* a lease asked: when */
    int64_t                         short_of;   /* requests found none */
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
    int64_t                         local_end;
    int64_t                         local_used;

    ngx_uint_t                      holding;    /* in the hold queue */
    u_char                          len;
    u_char                          ak[APIAUTH_ACCESS_KEY_MAX];
} ngx_http_apiauth_tokens_node_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    ngx_queue_t                     hold;
} ngx_http_apiauth_tokens_sh_t;


typedef struct {
    ngx_http_apiauth_tokens_sh_t   *sh;
    ngx_slab_pool_t                *shpool;
} ngx_http_apiauth_tokens_zone_t;


static ngx_int_t ngx_http_apiauth_tokens_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_apiauth_tokens_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_apiauth_tokens_node_t *ngx_http_apiauth_tokens_find(
    ngx_http_apiauth_tokens_zone_t *tz, ngx_str_t *ak, uint32_t hash);
static ngx_http_apiauth_tokens_node_t *ngx_http_apiauth_tokens_new(
    ngx_http_apiauth_tokens_zone_t *tz, ngx_str_t *ak, uint32_t hash,
    int64_t now);
static void ngx_http_apiauth_tokens_free(ngx_http_apiauth_tokens_zone_t *tz,
    ngx_http_apiauth_tokens_node_t *tn);
static void ngx_http_apiauth_tokens_hold(ngx_http_apiauth_tokens_zone_t *tz,
    ngx_http_apiauth_tokens_node_t *tn);
static void ngx_http_apiauth_tokens_give_back(
    ngx_http_apiauth_tokens_node_t *tn, ngx_http_apiauth_lease_t *lease);
static void ngx_http_apiauth_tokens_lease(ngx_http_apiauth_tokens_node_t *tn,
    ngx_http_apiauth_lease_t *lease);
static int64_t ngx_http_apiauth_tokens_size(
    ngx_http_apiauth_tokens_node_t *tn, ngx_uint_t nodes, int64_t backlog);
static ngx_uint_t ngx_http_apiauth_tokens_away(
    ngx_http_apiauth_tokens_node_t *tn, ngx_http_apiauth_spend_t *sp,
    ngx_uint_t mode, ngx_uint_t nodes);
static void ngx_http_apiauth_tokens_refused(
    ngx_http_apiauth_tokens_node_t *tn, ngx_http_apiauth_spend_t *sp);


static ngx_uint_t  ngx_http_apiauth_tokens_tag;


ngx_shm_zone_t *
ngx_http_apiauth_tokens_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_http_apiauth_tokens_zone_t  *tz;

    tz = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_tokens_zone_t));
    if (tz == NULL) {
        return NULL;
    }

    return ngx_http_apiauth_shm_add(cf, name, size,
                                    &ngx_http_apiauth_tokens_tag,
                                    ngx_http_apiauth_tokens_init_zone, tz);
}


/* a reload keeps every lease: the tokens stay spendable */

static ngx_int_t
ngx_http_apiauth_tokens_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apiauth_tokens_zone_t  *otz = data;

    ngx_http_apiauth_tokens_zone_t  *tz;

    tz = shm_zone->data;

    if (otz) {
        tz->sh = otz->sh;
        tz->shpool = otz->shpool;
        return NGX_OK;
    }

    tz->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        tz->sh = tz->shpool->data;
        return NGX_OK;
    }

    tz->sh = ngx_slab_alloc(tz->shpool, sizeof(ngx_http_apiauth_tokens_sh_t));
    if (tz->sh == NULL) {
        return NGX_ERROR;
    }

    tz->shpool->data = tz->sh;

    ngx_rbtree_init(&tz->sh->rbtree, &tz->sh->sentinel,
                    ngx_http_apiauth_tokens_insert);
    ngx_queue_init(&tz->sh->queue);
    ngx_queue_init(&tz->sh->hold);

    if (ngx_http_apiauth_shm_log_ctx(shm_zone, tz->shpool, "limits")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* by the accessKey's crc32, then by the accessKey: crc32s may collide */

static void
ngx_http_apiauth_tokens_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t               **p;
    ngx_http_apiauth_tokens_node_t   *tn, *tnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            tn = (ngx_http_apiauth_tokens_node_t *) node;
            tnt = (ngx_http_apiauth_tokens_node_t *) temp;

            p = (ngx_memn2cmp(tn->ak, tnt->ak, tn->len, tnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* unix ms, on the node's clock, the same in every worker */

int64_t
ngx_http_apiauth_tokens_now(void)
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
 * debt: the caller sends it.  A lease asked more than stale ms ago whose
 * answer never came (its worker died) is asked again.
 */

ngx_uint_t
ngx_http_apiauth_tokens_spend(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_limits_t *limits, ngx_uint_t mode, ngx_uint_t nodes,
    ngx_msec_t stale, ngx_http_apiauth_spend_t *sp)
{
    int64_t                          now, k;
    uint32_t                         hash;
    ngx_uint_t                       verdict;
    ngx_http_apiauth_tokens_node_t  *tn;
    ngx_http_apiauth_tokens_zone_t  *tz;

    tz = zone->data;
    now = ngx_http_apiauth_tokens_now();
    hash = ngx_crc32_short(ak->data, ak->len);

    ngx_memzero(sp, sizeof(ngx_http_apiauth_spend_t));

    ngx_shmtx_lock(&tz->shpool->mutex);

    tn = ngx_http_apiauth_tokens_find(tz, ak, hash);

    if (tn == NULL) {
        tn = ngx_http_apiauth_tokens_new(tz, ak, hash, now);

        if (tn == NULL) {
            ngx_shmtx_unlock(&tz->shpool->mutex);
            return NGX_HTTP_APIAUTH_LIMITS_NOMEM;
        }

        tn->limits = *limits;
    }

    ngx_queue_remove(&tn->queue);
    ngx_queue_insert_head(&tz->sh->queue, &tn->queue);

    /*
     * another policy: what was leased under the old one is dropped, not
     * given back, as the old rate's tokens are not the new one's
     */

    if (tn->limits.version != limits->version) {
        tn->tokens = 0;
        tn->limits = *limits;
        tn->denied_until = 0;
        tn->asked = 0;
        tn->local_tat = 0;
        tn->local_used = 0;
        tn->local_end = 0;
    }

    if (tn->asked && now - tn->asked > (int64_t) stale) {
        tn->asked = 0;
    }

    /* how fast the key comes here: what a lease should hold */

    if (now / 1000 != tn->second) {
        tn->prev = (now / 1000 == tn->second + 1) ? tn->count : 0;
        tn->count = 0;
        tn->second = now / 1000;
    }

    tn->count++;
    tn->last = now;

    /* tokens that outlived their lease or their period */

    if (tn->tokens
        && ((tn->limits.policy.rate && now >= tn->lease_end)
            || (tn->limits.policy.quota && now >= tn->window_end)))
    {
        ngx_http_apiauth_tokens_give_back(tn, &sp->lease);
    }

    if (tn->tokens == 0 && now < tn->denied_until) {
        ngx_http_apiauth_tokens_refused(tn, sp);
        verdict = NGX_HTTP_APIAUTH_LIMITS_REFUSED;
        goto done;
    }

    k = ngx_http_apiauth_tokens_size(tn, nodes, 0);

    if (tn->tokens) {
        tn->tokens--;
        verdict = NGX_HTTP_APIAUTH_LIMITS_SPENT;

        /* half a lease left: the next one is asked for now, once */

        if (tn->tokens <= k / 2 && tn->asked == 0 && now >= tn->away_until) {
            tn->asked = now;
            sp->lease.want = k;
        }

        goto done;
    }

    if (now < tn->away_until) {
        verdict = ngx_http_apiauth_tokens_away(tn, sp, mode, nodes);
        goto done;
    }

    /*
     * nothing here: this request waits for a lease (its worker's own),
     * large enough for the requests that found none since the last
     */

    tn->short_of++;
    tn->asked = now;
    sp->lease.want = ngx_http_apiauth_tokens_size(tn, nodes, tn->short_of);
    verdict = NGX_HTTP_APIAUTH_LIMITS_WAIT;

done:

    /* a debt goes with a lease, and comes back if the lease fails */

    if (sp->lease.want && tn->debt) {
        sp->lease.debt = tn->debt;
        sp->lease.debt_window = tn->debt_window;
        tn->debt = 0;
    }

    if (sp->lease.want || sp->lease.tokens || sp->lease.debt) {
        ngx_http_apiauth_tokens_lease(tn, &sp->lease);
    }

    ngx_http_apiauth_tokens_hold(tz, tn);

    /* what the headers say */

    sp->tokens = tn->tokens;
    sp->used = tn->used;
    sp->window_end = tn->window_end;
    sp->now = now;

    ngx_shmtx_unlock(&tz->shpool->mutex);

    return verdict;
}


/*
 * a request that found no token after its worker asked for leases several
 * times (other requests spent each first) gives up what it would send: no
 * lease is out for it any more
 */

void
ngx_http_apiauth_tokens_abandon(ngx_shm_zone_t *zone,
    ngx_http_apiauth_lease_t *lease)
{
    uint32_t                         hash;
    ngx_str_t                        ak;
    ngx_http_apiauth_tokens_node_t  *tn;
    ngx_http_apiauth_tokens_zone_t  *tz;

    tz = zone->data;

    ak.data = lease->ak;
    ak.len = lease->len;
    hash = ngx_crc32_short(ak.data, ak.len);

    ngx_shmtx_lock(&tz->shpool->mutex);

    tn = ngx_http_apiauth_tokens_find(tz, &ak, hash);

    if (tn && tn->limits.version == lease->limits.version) {
        tn->asked = 0;
    }

    ngx_shmtx_unlock(&tz->shpool->mutex);

    lease->want = 0;
}


/*
 * Redis's answer to a lease as sent: tokens to spend (for the period
 * Redis says), or none and until when; g NULL: Redis did not answer, and
 * the key is decided without it for a while (its debt is owed again).  A
 * policy changed meanwhile: the tokens go back, in *back.
 */

void
ngx_http_apiauth_tokens_granted(ngx_shm_zone_t *zone,
    ngx_http_apiauth_lease_t *lease, ngx_http_apiauth_grant_t *g,
    ngx_http_apiauth_lease_t *back)
{
    int64_t                          now;
    uint32_t                         hash;
    ngx_str_t                        ak;
    ngx_http_apiauth_tokens_node_t  *tn;
    ngx_http_apiauth_tokens_zone_t  *tz;

    tz = zone->data;
    now = ngx_http_apiauth_tokens_now();

    ak.data = lease->ak;
    ak.len = lease->len;
    hash = ngx_crc32_short(ak.data, ak.len);

    ngx_memzero(back, sizeof(ngx_http_apiauth_lease_t));

    ngx_shmtx_lock(&tz->shpool->mutex);

    tn = ngx_http_apiauth_tokens_find(tz, &ak, hash);

    if (tn == NULL || tn->limits.version != lease->limits.version) {
        if (g && g->granted) {
            *back = *lease;
            back->want = 0;
            back->debt = 0;
            back->tokens = g->granted;
            back->window = g->start;
            back->tat = g->tat;
            back->last = g->granted;
        }

        ngx_shmtx_unlock(&tz->shpool->mutex);
        return;
    }

    if (lease->want) {
        tn->asked = 0;
    }

    if (g == NULL) {
        tn->away_until = now + NGX_HTTP_APIAUTH_TOKENS_AWAY;

        if (lease->debt
            && (tn->debt == 0 || tn->debt_window == lease->debt_window))
        {
            tn->debt += lease->debt;
            tn->debt_window = lease->debt_window;
        }

        ngx_http_apiauth_tokens_hold(tz, tn);
        ngx_shmtx_unlock(&tz->shpool->mutex);
        return;
    }

    tn->away_until = 0;

    if (tn->debt == 0) {
        tn->local_used = 0;
        tn->local_tat = 0;
    }

    /*
     * only a lease tells the period, and only forward: a give-back's
     * answer, or another worker's that came late, says nothing newer
     */

    if (tn->limits.policy.quota && lease->want && g->end > now
        && g->start >= tn->window)
    {
        if (g->start != tn->window) {
            /* tokens of an ended period ended with it */
            tn->tokens = 0;
        }

        tn->used = g->used;
        tn->window = g->start;
        tn->window_end = g->end;
    }

    if (lease->want) {
        tn->short_of = 0;
    }

    if (g->granted) {

        /* spent within a lease's life from the first of those held */

        if (tn->tokens == 0) {
            tn->lease_end = now + NGX_HTTP_APIAUTH_LEASE_LIFE;
        }

        tn->tokens += g->granted;
        tn->lease_tat = g->tat;
        tn->lease_last = g->granted;
        tn->denied_until = 0;

    } else if (g->blocked && lease->want) {
        tn->denied_reason = g->blocked;
        tn->retry_at = now + g->wait;

        /* a quota may come back from other nodes' leases: asked again */

        tn->denied_until = (g->blocked == NGX_HTTP_APIAUTH_QUOTA_EXCEEDED)
                           ? ngx_min(now + NGX_HTTP_APIAUTH_TOKENS_RECHECK,
                                     tn->retry_at)
                           : tn->retry_at;
    }

    ngx_http_apiauth_tokens_hold(tz, tn);

    ngx_shmtx_unlock(&tz->shpool->mutex);
}


/*
 * up to n keys idle for a while (or all keys: at exit) that hold tokens or
 * a debt: their tokens go back, their debts are paid (a worker's timer
 * sends them); and a few nodes idle for a minute that hold nothing go
 */

ngx_uint_t
ngx_http_apiauth_tokens_sweep(ngx_shm_zone_t *zone,
    ngx_http_apiauth_lease_t *back, ngx_uint_t n, ngx_uint_t all)
{
    int64_t                          now;
    ngx_uint_t                       i, seen;
    ngx_queue_t                     *q, *prev;
    ngx_http_apiauth_tokens_node_t  *tn;
    ngx_http_apiauth_tokens_zone_t  *tz;

    tz = zone->data;
    now = ngx_http_apiauth_tokens_now();
    i = 0;
    seen = 0;

    ngx_shmtx_lock(&tz->shpool->mutex);

    for (q = ngx_queue_last(&tz->sh->hold);
         q != ngx_queue_sentinel(&tz->sh->hold) && i < n && seen++ < 2 * n;
         q = prev)
    {
        prev = ngx_queue_prev(q);
        tn = ngx_queue_data(q, ngx_http_apiauth_tokens_node_t, hold);

        if (!all && now - tn->last < NGX_HTTP_APIAUTH_LEASE_IDLE) {
            break;                          /* and every one before it */
        }

        /* a debt is paid once Redis is back */

        if (tn->tokens == 0 && now < tn->away_until && !all) {
            continue;
        }

        ngx_memzero(&back[i], sizeof(ngx_http_apiauth_lease_t));
        ngx_http_apiauth_tokens_give_back(tn, &back[i]);

        if (tn->debt && (now >= tn->away_until || all)) {
            back[i].debt = tn->debt;
            back[i].debt_window = tn->debt_window;
            tn->debt = 0;
        }

        ngx_http_apiauth_tokens_lease(tn, &back[i]);
        ngx_http_apiauth_tokens_hold(tz, tn);
        i++;
    }

    for (seen = 0; seen < NGX_HTTP_APIAUTH_TOKENS_FREE; seen++) {
        q = ngx_queue_last(&tz->sh->queue);

        if (q == ngx_queue_sentinel(&tz->sh->queue)) {
            break;
        }

        tn = ngx_queue_data(q, ngx_http_apiauth_tokens_node_t, queue);

        if (now - tn->last < NGX_HTTP_APIAUTH_TOKENS_FORGET
            || tn->holding || tn->asked)
        {
            break;
        }

        ngx_http_apiauth_tokens_free(tz, tn);
    }

    ngx_shmtx_unlock(&tz->shpool->mutex);

    return i;
}


static ngx_http_apiauth_tokens_node_t *
ngx_http_apiauth_tokens_find(ngx_http_apiauth_tokens_zone_t *tz,
    ngx_str_t *ak, uint32_t hash)
{
    ngx_int_t                        rc;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_http_apiauth_tokens_node_t  *tn;

    node = tz->sh->rbtree.root;
    sentinel = tz->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        tn = (ngx_http_apiauth_tokens_node_t *) node;

        rc = ngx_memn2cmp(ak->data, tn->ak, ak->len, (size_t) tn->len);

        if (rc == 0) {
            return tn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * a node for a key's first request here; a full zone forgets the keys
 * longest idle that hold nothing, never a lease or a debt
 */

static ngx_http_apiauth_tokens_node_t *
ngx_http_apiauth_tokens_new(ngx_http_apiauth_tokens_zone_t *tz,
    ngx_str_t *ak, uint32_t hash, int64_t now)
{
    ngx_uint_t                       tries;
    ngx_queue_t                     *q, *prev;
    ngx_http_apiauth_tokens_node_t  *tn, *old;

    tn = ngx_slab_alloc_locked(tz->shpool,
                               sizeof(ngx_http_apiauth_tokens_node_t));

    for (q = ngx_queue_last(&tz->sh->queue), tries = 0;
         tn == NULL && q != ngx_queue_sentinel(&tz->sh->queue)
         && tries < 64;
         q = prev, tries++)
    {
        prev = ngx_queue_prev(q);
        old = ngx_queue_data(q, ngx_http_apiauth_tokens_node_t, queue);

        if (old->holding || old->asked
            || now - old->last < NGX_HTTP_APIAUTH_LEASE_IDLE)
        {
            continue;
        }

        ngx_http_apiauth_tokens_free(tz, old);

        tn = ngx_slab_alloc_locked(tz->shpool,
                                   sizeof(ngx_http_apiauth_tokens_node_t));
    }

    if (tn == NULL) {
        return NULL;
    }

    ngx_memzero(tn, sizeof(ngx_http_apiauth_tokens_node_t));

    tn->node.key = hash;
    tn->len = (u_char) ak->len;
    ngx_memcpy(tn->ak, ak->data, ak->len);
    tn->last = now;

    ngx_rbtree_insert(&tz->sh->rbtree, &tn->node);
    ngx_queue_insert_head(&tz->sh->queue, &tn->queue);

    return tn;
}


static void
ngx_http_apiauth_tokens_free(ngx_http_apiauth_tokens_zone_t *tz,
    ngx_http_apiauth_tokens_node_t *tn)
{
    ngx_queue_remove(&tn->queue);
    ngx_rbtree_delete(&tz->sh->rbtree, &tn->node);
    ngx_slab_free_locked(tz->shpool, tn);
}


/* the hold queue: the nodes with tokens or a debt, recent first */

static void
ngx_http_apiauth_tokens_hold(ngx_http_apiauth_tokens_zone_t *tz,
    ngx_http_apiauth_tokens_node_t *tn)
{
    if (tn->holding) {
        ngx_queue_remove(&tn->hold);
    }

    tn->holding = (tn->tokens || tn->debt);

    if (tn->holding) {
        ngx_queue_insert_head(&tz->sh->hold, &tn->hold);
    }
}


/* the node's tokens, to go back to Redis with their period and lease */

static void
ngx_http_apiauth_tokens_give_back(ngx_http_apiauth_tokens_node_t *tn,
    ngx_http_apiauth_lease_t *lease)
{
    lease->tokens += tn->tokens;
    lease->window = tn->window;
    lease->tat = tn->lease_tat;
    lease->last = tn->lease_last;
    tn->tokens = 0;
}


static void
ngx_http_apiauth_tokens_lease(ngx_http_apiauth_tokens_node_t *tn,
    ngx_http_apiauth_lease_t *lease)
{
    lease->limits = tn->limits;
    lease->len = tn->len;
    ngx_memcpy(lease->ak, tn->ak, tn->len);
}


/*
 * what the key spends here in a lease's span, one at least, or the
 * requests that wait if more; at most half a burst, and half of the node's
 * share of a quota, so that other nodes are never kept waiting by more
 */

static int64_t
ngx_http_apiauth_tokens_size(ngx_http_apiauth_tokens_node_t *tn,
    ngx_uint_t nodes, int64_t backlog)
{
    int64_t            k, rate;
    apiauth_policy_t  *p;

    p = &tn->limits.policy;

    rate = ngx_max(tn->count, tn->prev);
    k = (rate * NGX_HTTP_APIAUTH_LEASE_SPAN + 999) / 1000;
    k = ngx_max(ngx_max(k, backlog), 1);

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
 * and of the quota by the node's clock (of the quota, no more than Redis
 * last said was left), "open" admits, "closed" refuses; quota admitted
 * meanwhile is a debt
 */

static ngx_uint_t
ngx_http_apiauth_tokens_away(ngx_http_apiauth_tokens_node_t *tn,
    ngx_http_apiauth_spend_t *sp, ngx_uint_t mode, ngx_uint_t nodes)
{
    int64_t            now, now_us, t, tau, start, end, share;
    uint64_t           ut, utau;
    apiauth_policy_t  *p;

    p = &tn->limits.policy;
    now = tn->last;
    t = 0;
    start = 0;
    end = 0;

    if (mode == NGX_HTTP_APIAUTH_STORE_ERROR_CLOSED) {
        return NGX_HTTP_APIAUTH_LIMITS_UNAVAILABLE;
    }

    if (p->quota) {

        /* the period Redis last said while it lasts, else the node's own */

        if (now < tn->window_end) {
            start = tn->window;
            end = tn->window_end;

        } else if (p->anchor == APIAUTH_ANCHOR_FIRST_USE
                   && now < tn->local_end)
        {
            start = tn->local_window;
            end = tn->local_end;

        } else {
            apiauth_policy_window(p, now, &start, &end);
        }

        if (tn->local_window != start) {
            tn->local_window = start;
            tn->local_end = end;
            tn->local_used = 0;
        }
    }

    if (mode == NGX_HTTP_APIAUTH_STORE_ERROR_LOCAL) {

        if (p->rate) {
            apiauth_policy_gcra(p, &ut, &utau);

            /* the node's share: an nth of the rate and of the burst */

            t = (int64_t) ut * (int64_t) nodes;
            tau = (ngx_max((int64_t) (p->burst / nodes), 1) - 1) * t;
            now_us = now * 1000;

            if (tn->local_tat < now_us) {
                tn->local_tat = now_us;
            }

            if (tn->local_tat - now_us > tau) {
                tn->denied_reason = NGX_HTTP_APIAUTH_RATE_LIMITED;
                tn->retry_at = now + (tn->local_tat - tau - now_us + 999)
                                     / 1000;
                ngx_http_apiauth_tokens_refused(tn, sp);
                return NGX_HTTP_APIAUTH_LIMITS_REFUSED;
            }
        }

        if (p->quota) {
            share = ngx_max((int64_t) (p->quota / nodes), 1);

            if (start == tn->window) {
                share = ngx_min(share, (int64_t) p->quota - tn->used);
            }

            if (tn->local_used >= share) {
                tn->denied_reason = NGX_HTTP_APIAUTH_QUOTA_EXCEEDED;
                tn->retry_at = end;
                ngx_http_apiauth_tokens_refused(tn, sp);
                return NGX_HTTP_APIAUTH_LIMITS_REFUSED;
            }
        }

        if (p->rate) {
            tn->local_tat += t;
        }
    }

    if (p->quota) {
        tn->local_used++;

        if (tn->debt_window != start) {
            /* a debt of an ended period is not owed to the new one */
            tn->debt = 0;
            tn->debt_window = start;
        }

        tn->debt++;
    }

    sp->away = 1;

    return NGX_HTTP_APIAUTH_LIMITS_SPENT;
}


static void
ngx_http_apiauth_tokens_refused(ngx_http_apiauth_tokens_node_t *tn,
    ngx_http_apiauth_spend_t *sp)
{
    sp->reason = tn->denied_reason;
    sp->retry_at = tn->retry_at;
}
