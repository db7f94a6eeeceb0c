
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The key cache: key records in a shared memory zone, shared by all
 * workers, fresh for ttl; unknown accessKeys are cached for negative_ttl.
 *
 * Records are slab nodes found through a power-of-two array of bucket
 * chains, sized for as many nodes as the zone can hold: a hit touches a
 * bucket and a node, whether ten keys are hot or a hundred thousand (an
 * rbtree costs a cache miss per level once the keys outgrow the CPU
 * caches).  The bucket comes from SipHash keyed with a seed drawn when the
 * zone is made, so that nobody can choose accessKeys that share one chain.
 * An LRU queue for each kind: unknown accessKeys hold at most a quarter of
 * the zone and never push a key out, so a flood of random
 * accessKeys evicts only its own kind.
 *
 * The change feed invalidates records here, for every worker: one
 * accessKey, or all of them at once by a new generation (records of an
 * older one are fetched again).  Every invalidation counts one epoch; a
 * lookup's answer is cached only if no epoch passed since it was sent,
 * since the answer may have left Redis before the change it crossed.
 * With stale=, a record past its freshness still answers for its key while
 * Redis does not, for that long.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>

#include "ngx_http_apiauth_module.h"


/* the slab chunk of most records: the index has a bucket per chunk */
#define NGX_HTTP_APIAUTH_CACHE_NODE  256


typedef struct ngx_http_apiauth_cache_node_s  ngx_http_apiauth_cache_node_t;

struct ngx_http_apiauth_cache_node_s {
    ngx_http_apiauth_cache_node_t  *next;          /* in its bucket */
    ngx_http_apiauth_cache_node_t **pprev;         /* what points here */
    ngx_queue_t                     queue;
    uint32_t                        hash;
    uint32_t                        generation;
    u_char                          negative;
    u_char                          enabled;
    u_char                          limited;       /* limits after ips */
    u_char                          jwt_alg;       /* JWT texts after */
    u_char                          jwt_require_exp;
    u_char                          ak_len;
    u_short                         name_len;
    u_short                         nips;
    uint32_t                        apps_len;
    uint32_t                        interfaces_len;
    uint64_t                        jwt_version;
    u_short                         jwt_issuer_len;
    u_short                         jwt_audience_len;
    u_short                         jwt_public_key_len;
    time_t                          jwt_max_lifetime;
    ngx_msec_t                      fresh_until;
    time_t                          expires;
    time_t                          warned;        /* cache_warn() */
    u_char                          secret[APIAUTH_SECRET_LEN / 2];
    apiauth_hmac_key_t              hmac;
    u_char                          data[1];       /* ak, name, apps,
                                                      interfaces, ips */
};


typedef struct {
    ngx_http_apiauth_cache_node_t **buckets;
    ngx_uint_t                      mask;
    ngx_queue_t                     queue;         /* keys, recent first */
    ngx_queue_t                     unknown;       /* unknown accessKeys */
    ngx_uint_t                      nunknown;
    ngx_uint_t                      max_unknown;
    size_t                          max_node;
    uint64_t                        seed[2];
    uint32_t                        generation;
    uint64_t                        epoch;
    ngx_http_apiauth_feed_id_t      feed;          /* last entry applied */
} ngx_http_apiauth_cache_sh_t;


typedef struct {
    ngx_http_apiauth_cache_sh_t    *sh;
    ngx_slab_pool_t                *shpool;
    ngx_msec_t                      ttl;
    ngx_msec_t                      negative_ttl;
    ngx_msec_t                      stale;
} ngx_http_apiauth_cache_t;


static ngx_int_t ngx_http_apiauth_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_apiauth_cache_node_t *ngx_http_apiauth_cache_find(
    ngx_http_apiauth_cache_t *cache, ngx_str_t *ak, uint64_t hash);
static ngx_http_apiauth_cache_node_t *ngx_http_apiauth_cache_node(
    ngx_http_apiauth_cache_t *cache, ngx_str_t *ak);
static ngx_int_t ngx_http_apiauth_cache_read(ngx_http_apiauth_cache_t *cache,
    ngx_str_t *ak, ngx_http_apiauth_key_t *key, ngx_pool_t *pool,
    ngx_msec_t stale);
static ngx_uint_t ngx_http_apiauth_cache_expire(
    ngx_http_apiauth_cache_t *cache, ngx_queue_t *queue, ngx_uint_t force);
static void ngx_http_apiauth_cache_delete(ngx_http_apiauth_cache_t *cache,
    ngx_http_apiauth_cache_node_t *cn);
static ngx_int_t ngx_http_apiauth_cache_copy(ngx_http_apiauth_cache_node_t *cn,
    ngx_http_apiauth_key_t *key, ngx_pool_t *pool);


ngx_shm_zone_t *
ngx_http_apiauth_cache_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    ngx_msec_t ttl, ngx_msec_t negative_ttl, ngx_msec_t stale)
{
    ngx_http_apiauth_cache_t  *cache;

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_cache_t));
    if (cache == NULL) {
        return NULL;
    }

    cache->ttl = ttl;
    cache->negative_ttl = negative_ttl;
    cache->stale = stale;

    return ngx_http_apiauth_shm_add(cf, name, size, &ngx_http_apiauth_module,
                                    ngx_http_apiauth_cache_init_zone, cache);
}


static ngx_int_t
ngx_http_apiauth_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apiauth_cache_t  *ocache = data;

    ngx_uint_t                 n;
    ngx_http_apiauth_cache_t  *cache;

    cache = shm_zone->data;

    /* a reload keeps the zone, and what it holds */

    if (ocache) {
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;
        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_alloc(cache->shpool,
                               sizeof(ngx_http_apiauth_cache_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    /* a bucket for each node the zone can hold, rounded to a power of 2 */

    for (n = 1; n < shm_zone->shm.size / NGX_HTTP_APIAUTH_CACHE_NODE; n <<= 1)
    {
        /* void */
    }

    cache->sh->buckets = ngx_slab_calloc(cache->shpool,
                                   n * sizeof(ngx_http_apiauth_cache_node_t *));
    if (cache->sh->buckets == NULL) {
        return NGX_ERROR;
    }

    cache->sh->mask = n - 1;

    ngx_queue_init(&cache->sh->queue);
    ngx_queue_init(&cache->sh->unknown);

    cache->sh->nunknown = 0;
    cache->sh->max_unknown = shm_zone->shm.size / 4
                             / NGX_HTTP_APIAUTH_CACHE_NODE;

    /* a record larger than this could only be made room for by a purge */
    cache->sh->max_node = shm_zone->shm.size / 16;

    if (RAND_bytes((u_char *) cache->sh->seed, sizeof(cache->sh->seed)) != 1)
    {
        return NGX_ERROR;
    }

    if (ngx_http_apiauth_shm_log_ctx(shm_zone, cache->shpool, "cache")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cache->shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_http_apiauth_cache_node_t *
ngx_http_apiauth_cache_find(ngx_http_apiauth_cache_t *cache, ngx_str_t *ak,
    uint64_t hash)
{
    ngx_http_apiauth_cache_node_t  *cn;

    for (cn = cache->sh->buckets[hash & cache->sh->mask]; cn; cn = cn->next) {
        if (cn->hash == (uint32_t) hash && cn->ak_len == ak->len
            && apiauth_bytes_eq(cn->data, ak->data, ak->len))
        {
            return cn;
        }
    }

    return NULL;
}


/* the accessKey's node, by its hash */

static ngx_http_apiauth_cache_node_t *
ngx_http_apiauth_cache_node(ngx_http_apiauth_cache_t *cache, ngx_str_t *ak)
{
    return ngx_http_apiauth_cache_find(cache, ak,
                                       apiauth_siphash(cache->sh->seed,
                                                       ak->data, ak->len));
}


/*
 * the key is copied out under the lock: another worker may evict the node
 * as soon as the lock is released
 */

ngx_int_t
ngx_http_apiauth_cache_get(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_key_t *key, ngx_pool_t *pool)
{
    return ngx_http_apiauth_cache_read(zone->data, ak, key, pool, 0);
}


/*
 * a key that is no longer fresh, while Redis cannot be asked: NGX_OK while
 * within stale= of its freshness, else NGX_DECLINED; a record of an older
 * generation is one too
 */

ngx_int_t
ngx_http_apiauth_cache_get_stale(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_key_t *key, ngx_pool_t *pool)
{
    ngx_http_apiauth_cache_t  *cache = zone->data;

    if (cache->stale == 0) {
        return NGX_DECLINED;
    }

    return ngx_http_apiauth_cache_read(cache, ak, key, pool, cache->stale);
}


/* with stale 0, a fresh record (the LRU's most recent), else a stale one */

static ngx_int_t
ngx_http_apiauth_cache_read(ngx_http_apiauth_cache_t *cache, ngx_str_t *ak,
    ngx_http_apiauth_key_t *key, ngx_pool_t *pool, ngx_msec_t stale)
{
    ngx_int_t                       rc;
    ngx_http_apiauth_cache_node_t  *cn;

    ngx_shmtx_lock(&cache->shpool->mutex);

    cn = ngx_http_apiauth_cache_node(cache, ak);

    if (cn == NULL
        || (stale == 0 && cn->generation != cache->sh->generation)
        || (stale && cn->negative)
        || (ngx_msec_int_t) (cn->fresh_until + stale - ngx_current_msec) <= 0)
    {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return NGX_DECLINED;
    }

    if (stale == 0) {
        ngx_queue_remove(&cn->queue);
        ngx_queue_insert_head(cn->negative ? &cache->sh->unknown
                                           : &cache->sh->queue, &cn->queue);
    }

    rc = cn->negative ? NGX_DONE : ngx_http_apiauth_cache_copy(cn, key, pool);

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return rc;
}


/* name, scopes and whitelist follow the accessKey: one copy for all */

static ngx_int_t
ngx_http_apiauth_cache_copy(ngx_http_apiauth_cache_node_t *cn,
    ngx_http_apiauth_key_t *key, ngx_pool_t *pool)
{
    u_char  *p, *jwt;
    size_t   size;

    size = cn->name_len + cn->apps_len + cn->interfaces_len
           + cn->nips * sizeof(apiauth_ip_entry_t);
    jwt = cn->data + cn->ak_len + size
          + (cn->limited ? sizeof(ngx_http_apiauth_limits_t) : 0);

    p = ngx_pnalloc(pool, (size ? size : 1) + cn->jwt_issuer_len
                          + cn->jwt_audience_len + cn->jwt_public_key_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, cn->data + cn->ak_len, size);

    key->name.data = p;
    key->name.len = cn->name_len;
    p += cn->name_len;

    key->apps.data = p;
    key->apps.len = cn->apps_len;
    p += cn->apps_len;

    key->interfaces.data = p;
    key->interfaces.len = cn->interfaces_len;
    p += cn->interfaces_len;

    key->ips = (apiauth_ip_entry_t *) p;
    key->nips = cn->nips;
    key->expires = cn->expires;
    key->enabled = cn->enabled;
    ngx_memcpy(key->secret, cn->secret, sizeof(key->secret));
    key->hmac = cn->hmac;
    key->limited = cn->limited;

    /* unaligned in the node: copied bytewise */

    if (cn->limited) {
        ngx_memcpy(&key->limits, cn->data + cn->ak_len + size,
                   sizeof(ngx_http_apiauth_limits_t));
    }

    key->jwt_alg = cn->jwt_alg;

    if (cn->jwt_alg) {
        key->jwt_require_exp = cn->jwt_require_exp;
        key->jwt_max_lifetime = cn->jwt_max_lifetime;
        key->jwt_version = cn->jwt_version;

        p = (u_char *) key->ips + cn->nips * sizeof(apiauth_ip_entry_t);

        key->jwt_issuer.data = p;
        key->jwt_issuer.len = cn->jwt_issuer_len;
        key->jwt_audience.data = p + cn->jwt_issuer_len;
        key->jwt_audience.len = cn->jwt_audience_len;
        key->jwt_public_key.data = key->jwt_audience.data
                                   + cn->jwt_audience_len;
        key->jwt_public_key.len = cn->jwt_public_key_len;

        ngx_memcpy(p, jwt, cn->jwt_issuer_len + cn->jwt_audience_len
                           + cn->jwt_public_key_len);
    }

    return NGX_OK;
}


/*
 * read when a lookup is sent, handed back to cache_put() with its answer,
 * and when a request would join a lookup out (lookup.c)
 */

uint64_t
ngx_http_apiauth_cache_epoch(ngx_shm_zone_t *zone)
{
    uint64_t                   epoch;
    ngx_http_apiauth_cache_t  *cache;

    cache = zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);
    epoch = cache->sh->epoch;
    ngx_shmtx_unlock(&cache->shpool->mutex);

    return epoch;
}


/*
 * a change stream entry, applied once per node: the worker that reads it
 * first drops the records it names (aks NULL: every record, by a new
 * generation) and moves the shared position past it; the others find it
 * passed
 */

void
ngx_http_apiauth_cache_apply(ngx_shm_zone_t *zone,
    ngx_http_apiauth_feed_id_t *id, ngx_str_t *aks, ngx_uint_t n)
{
    ngx_uint_t                      i;
    ngx_http_apiauth_cache_t       *cache;
    ngx_http_apiauth_feed_id_t     *cur;
    ngx_http_apiauth_cache_node_t  *cn;

    cache = zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    cur = &cache->sh->feed;

    if (cur->known
        && (id->ms < cur->ms || (id->ms == cur->ms && id->seq <= cur->seq)))
    {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return;
    }

    if (aks == NULL) {
        cache->sh->generation++;
        cache->sh->epoch++;

    } else if (n) {
        cache->sh->epoch++;

        for (i = 0; i < n; i++) {
            cn = ngx_http_apiauth_cache_node(cache, &aks[i]);

            if (cn) {
                ngx_http_apiauth_cache_delete(cache, cn);
            }
        }
    }

    *cur = *id;

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/*
 * the feed starts after entry id, what came before unknown: a new
 * generation, and the position set there even if it goes back (a stream
 * made anew)
 */

void
ngx_http_apiauth_cache_restart(ngx_shm_zone_t *zone,
    ngx_http_apiauth_feed_id_t *id)
{
    ngx_http_apiauth_cache_t  *cache;

    cache = zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    cache->sh->generation++;
    cache->sh->epoch++;
    cache->sh->feed = *id;

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/* where the feed is: a new worker resumes where the others are */

void
ngx_http_apiauth_cache_feed_get(ngx_shm_zone_t *zone,
    ngx_http_apiauth_feed_id_t *id)
{
    ngx_http_apiauth_cache_t  *cache;

    cache = zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);
    *id = cache->sh->feed;
    ngx_shmtx_unlock(&cache->shpool->mutex);
}


void
ngx_http_apiauth_cache_put(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_key_t *key, uint64_t epoch, ngx_log_t *log)
{
    u_char                          *p;
    size_t                           size;
    time_t                           warned;
    uint64_t                         hash;
    ngx_uint_t                       tries;
    ngx_http_apiauth_cache_t        *cache;
    ngx_http_apiauth_cache_node_t   *cn, **bucket;

    cache = zone->data;

    size = offsetof(ngx_http_apiauth_cache_node_t, data) + ak->len;

    if (key) {
        size += key->name.len + key->apps.len + key->interfaces.len
                + key->nips * sizeof(apiauth_ip_entry_t);

        if (key->limited) {
            size += sizeof(ngx_http_apiauth_limits_t);
        }

        size += key->jwt_issuer.len + key->jwt_audience.len
                + key->jwt_public_key.len;
    }

    ngx_shmtx_lock(&cache->shpool->mutex);

    /* a change crossed the lookup: the answer may predate it */

    if (epoch != cache->sh->epoch) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return;
    }

    hash = apiauth_siphash(cache->sh->seed, ak->data, ak->len);

    cn = ngx_http_apiauth_cache_find(cache, ak, hash);
    warned = 0;

    if (cn) {
        warned = cn->warned;
        ngx_http_apiauth_cache_delete(cache, cn);
    }

    /* a record that could not fit but by a purge is not cached */

    if (size > cache->sh->max_node) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "apiauth: key \"%V\" is too large to cache%s", ak,
                      cache->shpool->log_ctx);
        return;
    }

    ngx_http_apiauth_cache_expire(cache, &cache->sh->queue, 0);
    ngx_http_apiauth_cache_expire(cache, &cache->sh->unknown, 0);

    /* unknown accessKeys make room among themselves only */

    if (key == NULL && cache->sh->nunknown >= cache->sh->max_unknown) {
        ngx_http_apiauth_cache_expire(cache, &cache->sh->unknown, 1);
    }

    /* nodes differ in size: evict the oldest of the kind until one fits */

    for (tries = 0; ; tries++) {
        cn = ngx_slab_alloc_locked(cache->shpool, size);

        if (cn || tries == 64
            || ngx_http_apiauth_cache_expire(cache,
                   key ? &cache->sh->queue : &cache->sh->unknown, 1)
               == 0)
        {
            break;
        }
    }

    if (cn == NULL && key) {
        /* a key may push unknown accessKeys out, never the other way */

        for (tries = 0;
             cn == NULL && tries < 64
             && ngx_http_apiauth_cache_expire(cache, &cache->sh->unknown, 1);
             tries++)
        {
            cn = ngx_slab_alloc_locked(cache->shpool, size);
        }
    }

    if (cn == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);

        if (key) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "apiauth: could not cache key \"%V\"%s", ak,
                          cache->shpool->log_ctx);
        }

        return;
    }

    cn->hash = (uint32_t) hash;
    cn->generation = cache->sh->generation;
    cn->ak_len = (u_char) ak->len;
    cn->warned = warned;
    p = ngx_cpymem(cn->data, ak->data, ak->len);

    if (key == NULL) {
        cn->negative = 1;
        cn->fresh_until = ngx_current_msec + cache->negative_ttl;

        ngx_queue_insert_head(&cache->sh->unknown, &cn->queue);
        cache->sh->nunknown++;

    } else {
        cn->negative = 0;
        cn->fresh_until = ngx_current_msec + cache->ttl;
        cn->enabled = (u_char) key->enabled;
        cn->expires = key->expires;
        cn->name_len = (u_short) key->name.len;
        cn->apps_len = (uint32_t) key->apps.len;
        cn->interfaces_len = (uint32_t) key->interfaces.len;
        cn->nips = (u_short) key->nips;
        ngx_memcpy(cn->secret, key->secret, sizeof(cn->secret));
        cn->hmac = key->hmac;

        p = ngx_cpymem(p, key->name.data, key->name.len);
        p = ngx_cpymem(p, key->apps.data, key->apps.len);
        p = ngx_cpymem(p, key->interfaces.data, key->interfaces.len);
        p = ngx_cpymem(p, key->ips, key->nips * sizeof(apiauth_ip_entry_t));

        cn->limited = (u_char) key->limited;

        if (key->limited) {
            p = ngx_cpymem(p, &key->limits,
                           sizeof(ngx_http_apiauth_limits_t));
        }

        cn->jwt_alg = (u_char) key->jwt_alg;
        cn->jwt_require_exp = (u_char) key->jwt_require_exp;
        cn->jwt_max_lifetime = key->jwt_max_lifetime;
        cn->jwt_version = key->jwt_version;
        cn->jwt_issuer_len = (u_short) key->jwt_issuer.len;
        cn->jwt_audience_len = (u_short) key->jwt_audience.len;
        cn->jwt_public_key_len = (u_short) key->jwt_public_key.len;

        if (key->jwt_alg) {
            p = ngx_cpymem(p, key->jwt_issuer.data, key->jwt_issuer.len);
            p = ngx_cpymem(p, key->jwt_audience.data, key->jwt_audience.len);
            ngx_memcpy(p, key->jwt_public_key.data, key->jwt_public_key.len);
        }

        ngx_queue_insert_head(&cache->sh->queue, &cn->queue);
    }

    bucket = &cache->sh->buckets[hash & cache->sh->mask];

    cn->next = *bucket;
    cn->pprev = bucket;

    if (cn->next) {
        cn->next->pprev = &cn->next;
    }

    *bucket = cn;

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/*
 * returns 1 when a warning about a cached key is due: at most once a
 * period, across workers and lookups, while the key stays cached
 */

ngx_uint_t
ngx_http_apiauth_cache_warn(ngx_shm_zone_t *zone, ngx_str_t *ak,
    time_t period)
{
    time_t                          now;
    ngx_uint_t                      due;
    ngx_http_apiauth_cache_t       *cache;
    ngx_http_apiauth_cache_node_t  *cn;

    cache = zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&cache->shpool->mutex);

    cn = ngx_http_apiauth_cache_node(cache, ak);

    /* a key too large to cache is warned about at each lookup */

    due = (cn == NULL || now - cn->warned >= period);

    if (cn && due) {
        cn->warned = now;
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return due;
}


/*
 * as limit_req does before each allocation: one or two stale nodes of a
 * queue go; with force, its oldest goes whatever its age; returns how many
 * went
 */

static ngx_uint_t
ngx_http_apiauth_cache_expire(ngx_http_apiauth_cache_t *cache,
    ngx_queue_t *queue, ngx_uint_t force)
{
    ngx_uint_t                      n;
    ngx_queue_t                    *q;
    ngx_http_apiauth_cache_node_t  *cn;

    for (n = 0; n < 3; n++) {

        if (ngx_queue_empty(queue)) {
            return n;
        }

        q = ngx_queue_last(queue);
        cn = ngx_queue_data(q, ngx_http_apiauth_cache_node_t, queue);

        if (!(force && n == 0)
            && (ngx_msec_int_t) (cn->fresh_until
                                 + (cn->negative ? 0 : cache->stale)
                                 - ngx_current_msec) > 0)
        {
            return n;
        }

        ngx_http_apiauth_cache_delete(cache, cn);
    }

    return n;
}


static void
ngx_http_apiauth_cache_delete(ngx_http_apiauth_cache_t *cache,
    ngx_http_apiauth_cache_node_t *cn)
{
    if (cn->negative) {
        cache->sh->nunknown--;
    }

    *cn->pprev = cn->next;

    if (cn->next) {
        cn->next->pprev = cn->pprev;
    }

    ngx_queue_remove(&cn->queue);

    /* the secret does not linger in freed slab memory */
    ngx_explicit_memzero(cn->secret, sizeof(cn->secret));
    ngx_explicit_memzero(&cn->hmac, sizeof(cn->hmac));

    ngx_slab_free_locked(cache->shpool, cn);
}


/* one allocation for the strings and the whitelist */

ngx_int_t
ngx_http_apiauth_key_copy(ngx_pool_t *pool, ngx_http_apiauth_key_t *dst,
    ngx_http_apiauth_key_t *src)
{
    u_char  *p;
    size_t   size;

    size = src->name.len + src->apps.len + src->interfaces.len
           + src->nips * sizeof(apiauth_ip_entry_t)
           + src->jwt_issuer.len + src->jwt_audience.len
           + src->jwt_public_key.len;

    p = ngx_pnalloc(pool, size ? size : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *dst = *src;

    dst->name.data = p;
    p = ngx_cpymem(p, src->name.data, src->name.len);

    dst->apps.data = p;
    p = ngx_cpymem(p, src->apps.data, src->apps.len);

    dst->interfaces.data = p;
    p = ngx_cpymem(p, src->interfaces.data, src->interfaces.len);

    dst->ips = (apiauth_ip_entry_t *) p;
    p = ngx_cpymem(p, src->ips, src->nips * sizeof(apiauth_ip_entry_t));

    if (src->jwt_alg) {
        dst->jwt_issuer.data = p;
        p = ngx_cpymem(p, src->jwt_issuer.data, src->jwt_issuer.len);

        dst->jwt_audience.data = p;
        p = ngx_cpymem(p, src->jwt_audience.data, src->jwt_audience.len);

        dst->jwt_public_key.data = p;
        ngx_memcpy(p, src->jwt_public_key.data, src->jwt_public_key.len);
    }

    return NGX_OK;
}
