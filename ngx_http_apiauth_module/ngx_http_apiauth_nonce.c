
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Replay protection: a digest of accessKey and nonce is remembered in a
 * shared memory zone until the request's Date plus the widest clock skew,
 * when no window accepts the request any more.  A nonce is remembered once,
 * atomically across workers: the lookup and the insertion are one critical
 * section.  A full zone refuses rather than forgets.
 *
 * A node is 64 bytes: the rbtree node's key holds the digest's first half,
 * the rest sits in the node's padding and after it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_apiauth_module.h"


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   queue;          /* newest first */
    time_t                        full_scanned;
    time_t                        full_logged;
} ngx_http_apiauth_nonce_sh_t;


typedef struct {
    ngx_http_apiauth_nonce_sh_t  *sh;
    ngx_slab_pool_t              *shpool;
} ngx_http_apiauth_nonce_t;


/* starts at the rbtree node's color */
typedef struct {
    u_char                        color;
    u_char                        unused;
    u_short                       unused2;
    uint32_t                      until;          /* unix seconds */
    ngx_queue_t                   queue;
    u_char                        tail[8];        /* digest, 2nd half */
} ngx_http_apiauth_nonce_node_t;


static ngx_int_t ngx_http_apiauth_nonce_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_apiauth_nonce_rbtree_insert_value(
    ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel);
static ngx_rbtree_node_t *ngx_http_apiauth_nonce_find(
    ngx_http_apiauth_nonce_t *nonces, ngx_rbtree_key_t key, u_char *tail);
static void ngx_http_apiauth_nonce_expire(ngx_http_apiauth_nonce_t *nonces,
    time_t now, ngx_uint_t all);


#define ngx_http_apiauth_nonce_node(node)                                    \
    ((ngx_http_apiauth_nonce_node_t *) &(node)->color)


/*
 * the zone's tag: a reload that swapped the names of a cache and a nonce
 * zone must not give one the other's memory
 */
static ngx_uint_t  ngx_http_apiauth_nonce_tag;


ngx_shm_zone_t *
ngx_http_apiauth_nonce_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_shm_zone_t            *shm_zone;
    ngx_http_apiauth_nonce_t  *nonces;

    nonces = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_nonce_t));
    if (nonces == NULL) {
        return NULL;
    }

    shm_zone = ngx_shared_memory_add(cf, name, size,
                                     &ngx_http_apiauth_nonce_tag);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apiauth: zone \"%V\" is already used", name);
        return NULL;
    }

    shm_zone->init = ngx_http_apiauth_nonce_init_zone;
    shm_zone->data = nonces;

    return shm_zone;
}


static ngx_int_t
ngx_http_apiauth_nonce_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apiauth_nonce_t  *onces = data;

    size_t                     len;
    ngx_http_apiauth_nonce_t  *nonces;

    nonces = shm_zone->data;

    /* a reload keeps every remembered nonce */

    if (onces) {
        nonces->sh = onces->sh;
        nonces->shpool = onces->shpool;
        return NGX_OK;
    }

    nonces->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        nonces->sh = nonces->shpool->data;
        return NGX_OK;
    }

    nonces->sh = ngx_slab_alloc(nonces->shpool,
                                sizeof(ngx_http_apiauth_nonce_sh_t));
    if (nonces->sh == NULL) {
        return NGX_ERROR;
    }

    nonces->shpool->data = nonces->sh;

    ngx_rbtree_init(&nonces->sh->rbtree, &nonces->sh->sentinel,
                    ngx_http_apiauth_nonce_rbtree_insert_value);

    ngx_queue_init(&nonces->sh->queue);
    nonces->sh->full_scanned = 0;
    nonces->sh->full_logged = 0;

    len = sizeof(" in apiauth nonce zone \"\"") + shm_zone->shm.name.len;

    nonces->shpool->log_ctx = ngx_slab_alloc(nonces->shpool, len);
    if (nonces->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(nonces->shpool->log_ctx, " in apiauth nonce zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is expected under load and logged by us, once a second */
    nonces->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_apiauth_nonce_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t              **p;
    ngx_http_apiauth_nonce_node_t   *nn, *nnt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            nn = ngx_http_apiauth_nonce_node(node);
            nnt = ngx_http_apiauth_nonce_node(temp);

            p = (ngx_memcmp(nn->tail, nnt->tail, 8) < 0)
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


static ngx_rbtree_node_t *
ngx_http_apiauth_nonce_find(ngx_http_apiauth_nonce_t *nonces,
    ngx_rbtree_key_t key, u_char *tail)
{
    ngx_int_t           rc;
    ngx_rbtree_node_t  *node, *sentinel;

    node = nonces->sh->rbtree.root;
    sentinel = nonces->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        rc = ngx_memcmp(tail, ngx_http_apiauth_nonce_node(node)->tail, 8);

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * the queue is in arrival order, which is nearly expiry order; the oldest
 * one or two go before each insertion, every expired one when full
 */

static void
ngx_http_apiauth_nonce_expire(ngx_http_apiauth_nonce_t *nonces, time_t now,
    ngx_uint_t all)
{
    ngx_uint_t                      n;
    ngx_queue_t                    *q, *prev;
    ngx_rbtree_node_t              *node;
    ngx_http_apiauth_nonce_node_t  *nn;

    n = 0;
    q = ngx_queue_last(&nonces->sh->queue);

    while (q != ngx_queue_sentinel(&nonces->sh->queue)) {
        prev = ngx_queue_prev(q);
        nn = ngx_queue_data(q, ngx_http_apiauth_nonce_node_t, queue);

        if ((time_t) nn->until < now) {
            node = (ngx_rbtree_node_t *)
                       ((u_char *) nn - offsetof(ngx_rbtree_node_t, color));

            ngx_queue_remove(q);
            ngx_rbtree_delete(&nonces->sh->rbtree, node);
            ngx_slab_free_locked(nonces->shpool, node);

        } else if (!all) {
            return;
        }

        if (!all && ++n == 2) {
            return;
        }

        q = prev;
    }
}


/*
 * returns NGX_OK when the nonce is new and now remembered, NGX_DECLINED
 * when it was seen, NGX_BUSY when the zone is full of live nonces
 */

ngx_int_t
ngx_http_apiauth_nonce_remember(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_str_t *nonce, time_t until, ngx_log_t *log)
{
    time_t                          now;
    u_char                          msg[APIAUTH_ACCESS_KEY_MAX + 1
                                        + APIAUTH_NONCE_MAX];
    u_char                          md[EVP_MAX_MD_SIZE];
    unsigned int                    mdlen;
    ngx_rbtree_key_t                key;
    ngx_rbtree_node_t              *node;
    ngx_http_apiauth_nonce_t       *nonces;
    ngx_http_apiauth_nonce_node_t  *nn;

    if (ak->len > APIAUTH_ACCESS_KEY_MAX || nonce->len > APIAUTH_NONCE_MAX) {
        return NGX_ERROR;
    }

    /* the NUL keeps "AB"+"C..." and "A"+"BC..." apart */

    ngx_memcpy(msg, ak->data, ak->len);
    msg[ak->len] = '\0';
    ngx_memcpy(msg + ak->len + 1, nonce->data, nonce->len);

    if (EVP_Digest(msg, ak->len + 1 + nonce->len, md, &mdlen, EVP_sha256(),
                   NULL)
        != 1)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(&key, md, sizeof(ngx_rbtree_key_t));

    nonces = zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&nonces->shpool->mutex);

    node = ngx_http_apiauth_nonce_find(nonces, key, md + 8);

    if (node) {
        nn = ngx_http_apiauth_nonce_node(node);

        if ((time_t) nn->until >= now) {
            ngx_shmtx_unlock(&nonces->shpool->mutex);
            return NGX_DECLINED;
        }

        /* seen long ago, outside any window: remembered afresh */

        nn->until = (uint32_t) until;
        ngx_queue_remove(&nn->queue);
        ngx_queue_insert_head(&nonces->sh->queue, &nn->queue);

        ngx_shmtx_unlock(&nonces->shpool->mutex);
        return NGX_OK;
    }

    ngx_http_apiauth_nonce_expire(nonces, now, 0);

    node = ngx_slab_alloc_locked(nonces->shpool,
                                 offsetof(ngx_rbtree_node_t, color)
                                 + sizeof(ngx_http_apiauth_nonce_node_t));

    /* every worker waits on the lock during a scan: once a second at most */

    if (node == NULL && nonces->sh->full_scanned != now) {
        nonces->sh->full_scanned = now;
        ngx_http_apiauth_nonce_expire(nonces, now, 1);

        node = ngx_slab_alloc_locked(nonces->shpool,
                                     offsetof(ngx_rbtree_node_t, color)
                                     + sizeof(ngx_http_apiauth_nonce_node_t));
    }

    if (node == NULL) {
        if (nonces->sh->full_logged != now) {
            nonces->sh->full_logged = now;
            ngx_shmtx_unlock(&nonces->shpool->mutex);

            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "apiauth: nonce zone \"%V\" is full of live nonces: "
                          "refusing signed requests until some expire",
                          &zone->shm.name);
            return NGX_BUSY;
        }

        ngx_shmtx_unlock(&nonces->shpool->mutex);
        return NGX_BUSY;
    }

    node->key = key;

    nn = ngx_http_apiauth_nonce_node(node);
    nn->until = (uint32_t) until;
    ngx_memcpy(nn->tail, md + 8, 8);

    ngx_rbtree_insert(&nonces->sh->rbtree, node);
    ngx_queue_insert_head(&nonces->sh->queue, &nn->queue);

    ngx_shmtx_unlock(&nonces->shpool->mutex);

    return NGX_OK;
}
