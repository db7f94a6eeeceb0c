
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The key cache: key records in a shared memory zone, shared by all
 * workers, fresh for ttl; unknown accessKeys are cached for negative_ttl.
 * An rbtree keyed by crc32 of the accessKey, and an LRU queue for each
 * kind.  Unknown accessKeys hold at most a quarter of the zone and never
 * push a key out: a flood of random accessKeys evicts only its own kind.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   queue;          /* keys, recent first */
    ngx_queue_t                   unknown;        /* unknown accessKeys */
    ngx_uint_t                    nunknown;
    ngx_uint_t                    max_unknown;
} ngx_http_apiauth_cache_sh_t;


typedef struct {
    ngx_http_apiauth_cache_sh_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_msec_t                    ttl;
    ngx_msec_t                    negative_ttl;
} ngx_http_apiauth_cache_t;


/* starts at the rbtree node's color, as limit_req's nodes do */
typedef struct {
    u_char                        color;
    u_char                        negative;
    u_char                        enabled;
    u_char                        ak_len;
    u_short                       name_len;
    u_short                       nips;
    ngx_queue_t                   queue;
    ngx_msec_t                    fresh_until;
    time_t                        expires;
    uint32_t                      apps_len;
    uint32_t                      interfaces_len;
    u_char                        secret[APIAUTH_SECRET_LEN];
    u_char                        data[1];        /* ak, name, apps,
                                                     interfaces, ips */
} ngx_http_apiauth_cache_node_t;


static ngx_int_t ngx_http_apiauth_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_apiauth_cache_rbtree_insert_value(
    ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel);
static ngx_rbtree_node_t *ngx_http_apiauth_cache_find(
    ngx_http_apiauth_cache_t *cache, ngx_str_t *ak, uint32_t hash);
static ngx_uint_t ngx_http_apiauth_cache_expire(
    ngx_http_apiauth_cache_t *cache, ngx_queue_t *queue, ngx_uint_t force);
static void ngx_http_apiauth_cache_delete(ngx_http_apiauth_cache_t *cache,
    ngx_rbtree_node_t *node);


#define ngx_http_apiauth_cache_node(node)                                    \
    ((ngx_http_apiauth_cache_node_t *) &(node)->color)


ngx_shm_zone_t *
ngx_http_apiauth_cache_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    ngx_msec_t ttl, ngx_msec_t negative_ttl)
{
    ngx_shm_zone_t            *shm_zone;
    ngx_http_apiauth_cache_t  *cache;

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_cache_t));
    if (cache == NULL) {
        return NULL;
    }

    cache->ttl = ttl;
    cache->negative_ttl = negative_ttl;

    shm_zone = ngx_shared_memory_add(cf, name, size, &ngx_http_apiauth_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apiauth: zone \"%V\" is already used", name);
        return NULL;
    }

    shm_zone->init = ngx_http_apiauth_cache_init_zone;
    shm_zone->data = cache;

    return shm_zone;
}


static ngx_int_t
ngx_http_apiauth_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apiauth_cache_t  *ocache = data;

    size_t                     len;
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

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_http_apiauth_cache_rbtree_insert_value);

    ngx_queue_init(&cache->sh->queue);
    ngx_queue_init(&cache->sh->unknown);

    /* an unknown accessKey's node is a slab chunk of 256 bytes at most */

    cache->sh->nunknown = 0;
    cache->sh->max_unknown = shm_zone->shm.size / 4 / 256;

    len = sizeof(" in apiauth cache zone \"\"") + shm_zone->shm.name.len;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in apiauth cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    cache->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_apiauth_cache_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t              **p;
    ngx_http_apiauth_cache_node_t   *cn, *cnt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            cn = ngx_http_apiauth_cache_node(node);
            cnt = ngx_http_apiauth_cache_node(temp);

            p = (ngx_memn2cmp(cn->data, cnt->data, cn->ak_len, cnt->ak_len)
                 < 0) ? &temp->left : &temp->right;
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


static ngx_rbtree_node_t *
ngx_http_apiauth_cache_find(ngx_http_apiauth_cache_t *cache, ngx_str_t *ak,
    uint32_t hash)
{
    ngx_int_t                       rc;
    ngx_rbtree_node_t              *node, *sentinel;
    ngx_http_apiauth_cache_node_t  *cn;

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        cn = ngx_http_apiauth_cache_node(node);

        rc = ngx_memn2cmp(ak->data, cn->data, ak->len, (size_t) cn->ak_len);

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * the key is copied out under the lock: another worker may evict the node
 * as soon as the lock is released
 */

ngx_int_t
ngx_http_apiauth_cache_get(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_key_t *key, ngx_pool_t *pool)
{
    u_char                         *p;
    ngx_int_t                       rc;
    ngx_rbtree_node_t              *node;
    ngx_http_apiauth_key_t          view;
    ngx_http_apiauth_cache_t       *cache;
    ngx_http_apiauth_cache_node_t  *cn;

    cache = zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    node = ngx_http_apiauth_cache_find(cache, ak, ngx_crc32_short(ak->data,
                                                                  ak->len));

    if (node == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return NGX_DECLINED;
    }

    cn = ngx_http_apiauth_cache_node(node);

    if ((ngx_msec_int_t) (cn->fresh_until - ngx_current_msec) <= 0) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_queue_remove(&cn->queue);
    ngx_queue_insert_head(cn->negative ? &cache->sh->unknown
                                       : &cache->sh->queue, &cn->queue);

    if (cn->negative) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return NGX_DONE;
    }

    p = cn->data + cn->ak_len;

    view.name.data = p;
    view.name.len = cn->name_len;
    p += cn->name_len;

    view.apps.data = p;
    view.apps.len = cn->apps_len;
    p += cn->apps_len;

    view.interfaces.data = p;
    view.interfaces.len = cn->interfaces_len;
    p += cn->interfaces_len;

    view.ips = (apiauth_ip_entry_t *) p;
    view.nips = cn->nips;
    view.expires = cn->expires;
    view.enabled = cn->enabled;
    ngx_memcpy(view.secret, cn->secret, APIAUTH_SECRET_LEN);

    rc = ngx_http_apiauth_key_copy(pool, key, &view);

    ngx_shmtx_unlock(&cache->shpool->mutex);

    ngx_explicit_memzero(view.secret, APIAUTH_SECRET_LEN);

    return rc;
}


void
ngx_http_apiauth_cache_put(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_key_t *key, ngx_log_t *log)
{
    u_char                         *p;
    size_t                          size;
    uint32_t                        hash;
    ngx_uint_t                      tries;
    ngx_rbtree_node_t              *node;
    ngx_http_apiauth_cache_t       *cache;
    ngx_http_apiauth_cache_node_t  *cn;

    cache = zone->data;
    hash = ngx_crc32_short(ak->data, ak->len);

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_apiauth_cache_node_t, data)
           + ak->len;

    if (key) {
        size += key->name.len + key->apps.len + key->interfaces.len
                + key->nips * sizeof(apiauth_ip_entry_t);
    }

    ngx_shmtx_lock(&cache->shpool->mutex);

    node = ngx_http_apiauth_cache_find(cache, ak, hash);
    if (node) {
        ngx_http_apiauth_cache_delete(cache, node);
    }

    ngx_http_apiauth_cache_expire(cache, &cache->sh->queue, 0);
    ngx_http_apiauth_cache_expire(cache, &cache->sh->unknown, 0);

    /* unknown accessKeys make room among themselves only */

    if (key == NULL && cache->sh->nunknown >= cache->sh->max_unknown) {
        ngx_http_apiauth_cache_expire(cache, &cache->sh->unknown, 1);
    }

    /* nodes differ in size: evict the oldest of the kind until one fits */

    for (tries = 0; ; tries++) {
        node = ngx_slab_alloc_locked(cache->shpool, size);

        if (node || tries == 64
            || ngx_http_apiauth_cache_expire(cache,
                   key ? &cache->sh->queue : &cache->sh->unknown, 1)
               == 0)
        {
            break;
        }
    }

    if (node == NULL && key) {
        /* a key may push unknown accessKeys out, never the other way */

        while (node == NULL
               && ngx_http_apiauth_cache_expire(cache, &cache->sh->unknown, 1))
        {
            node = ngx_slab_alloc_locked(cache->shpool, size);
        }
    }

    if (node == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);

        if (key) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "apiauth: could not cache key \"%V\"%s", ak,
                          cache->shpool->log_ctx);
        }

        return;
    }

    node->key = hash;

    cn = ngx_http_apiauth_cache_node(node);

    cn->ak_len = (u_char) ak->len;
    p = ngx_cpymem(cn->data, ak->data, ak->len);

    if (key == NULL) {
        cn->negative = 1;
        cn->fresh_until = ngx_current_msec + cache->negative_ttl;

    } else {
        cn->negative = 0;
        cn->fresh_until = ngx_current_msec + cache->ttl;
        cn->enabled = (u_char) key->enabled;
        cn->expires = key->expires;
        cn->name_len = (u_short) key->name.len;
        cn->apps_len = (uint32_t) key->apps.len;
        cn->interfaces_len = (uint32_t) key->interfaces.len;
        cn->nips = (u_short) key->nips;
        ngx_memcpy(cn->secret, key->secret, APIAUTH_SECRET_LEN);

        p = ngx_cpymem(p, key->name.data, key->name.len);
        p = ngx_cpymem(p, key->apps.data, key->apps.len);
        p = ngx_cpymem(p, key->interfaces.data, key->interfaces.len);
        ngx_memcpy(p, key->ips, key->nips * sizeof(apiauth_ip_entry_t));
    }

    ngx_rbtree_insert(&cache->sh->rbtree, node);

    if (key) {
        ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

    } else {
        ngx_queue_insert_head(&cache->sh->unknown, &cn->queue);
        cache->sh->nunknown++;
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
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
    ngx_rbtree_node_t              *node;
    ngx_http_apiauth_cache_node_t  *cn;

    for (n = 0; n < 3; n++) {

        if (ngx_queue_empty(queue)) {
            return n;
        }

        q = ngx_queue_last(queue);
        cn = ngx_queue_data(q, ngx_http_apiauth_cache_node_t, queue);

        if (!(force && n == 0)
            && (ngx_msec_int_t) (cn->fresh_until - ngx_current_msec) > 0)
        {
            return n;
        }

        node = (ngx_rbtree_node_t *)
                   ((u_char *) cn - offsetof(ngx_rbtree_node_t, color));

        ngx_http_apiauth_cache_delete(cache, node);
    }

    return n;
}


static void
ngx_http_apiauth_cache_delete(ngx_http_apiauth_cache_t *cache,
    ngx_rbtree_node_t *node)
{
    ngx_http_apiauth_cache_node_t  *cn;

    cn = ngx_http_apiauth_cache_node(node);

    if (cn->negative) {
        cache->sh->nunknown--;
    }

    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, node);

    /* the secret does not linger in freed slab memory */
    ngx_explicit_memzero(cn->secret, APIAUTH_SECRET_LEN);

    ngx_slab_free_locked(cache->shpool, node);
}


/* one allocation for the strings and the whitelist */

ngx_int_t
ngx_http_apiauth_key_copy(ngx_pool_t *pool, ngx_http_apiauth_key_t *dst,
    ngx_http_apiauth_key_t *src)
{
    u_char  *p;
    size_t   size;

    size = src->name.len + src->apps.len + src->interfaces.len
           + src->nips * sizeof(apiauth_ip_entry_t);

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
    ngx_memcpy(p, src->ips, src->nips * sizeof(apiauth_ip_entry_t));

    return NGX_OK;
}
