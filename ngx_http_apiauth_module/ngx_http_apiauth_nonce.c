
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Replay protection: a keyed digest of accessKey and nonce (two SipHashes,
 * 128 bits, keyed with a seed drawn when the zone is made, so that nobody
 * can choose nonces that share buckets) is remembered in a
 * shared memory zone until the request's Date plus the widest clock skew
 * the zone has seen, and a second, when no window accepts the request any
 * more.  A nonce is remembered once, atomically across workers: the lookup
 * and the insertion are one critical section.  A full zone refuses rather
 * than forgets.
 *
 * The zone is one table of 256-byte buckets (four cache lines) of sixteen
 * entries of 16 bytes, a date and 96 bits of the digest, stored as three
 * arrays; each nonce may live in two buckets that the digest chooses, and
 * goes to the emptier one.  A bucket keeps its sixteen dates in its first
 * line and the first 32 bits of their tags in the second, so a lookup reads
 * two lines of each bucket (the rest of a tag only where 32 bits match); an
 * insertion allocates nothing, and an expired entry is free for the taking:
 * there is nothing to scan or to expire.  Where both buckets hold sixteen
 * live nonces, the zone is full for that nonce: the first such refusal comes
 * at about 87% of the entries (four entries a bucket would refuse at
 * 45%).  An rbtree with a slab node per nonce cost a cache miss per tree
 * level and 64 bytes per nonce.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_NONCE_WAYS  16

/*
 * the header's room before the table: buckets start 128-byte aligned, so
 * that the two lines a lookup reads are a pair that the CPU's adjacent
 * line prefetcher may fetch together
 */
#define NGX_HTTP_APIAUTH_NONCE_HEAD  256

#if (defined __GNUC__)
#define ngx_http_apiauth_prefetch_w(p)  __builtin_prefetch(p, 1)
#else
#define ngx_http_apiauth_prefetch_w(p)
#endif


/*
 * entry i is date[i] (X-Apiauth-Date; 0: free), tag1[i] (the low 32 bits
 * of the first SipHash, whose high bits choose the first bucket) and
 * tag2[i] (the second SipHash, which chooses the second)
 */
typedef struct {
    uint32_t                      date[NGX_HTTP_APIAUTH_NONCE_WAYS];
    uint32_t                      tag1[NGX_HTTP_APIAUTH_NONCE_WAYS];
    uint64_t                      tag2[NGX_HTTP_APIAUTH_NONCE_WAYS];
} ngx_http_apiauth_nonce_bucket_t;


typedef struct {
    ngx_uint_t                    nbuckets;
    time_t                        full_logged;
    time_t                        skew;           /* the widest seen */
    uint64_t                      seed[4];        /* the SipHashes' keys */
} ngx_http_apiauth_nonce_sh_t;


typedef struct {
    ngx_http_apiauth_nonce_sh_t      *sh;
    ngx_http_apiauth_nonce_bucket_t  *table;
    ngx_slab_pool_t                  *shpool;
} ngx_http_apiauth_nonce_t;


static ngx_int_t ngx_http_apiauth_nonce_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_apiauth_nonce_bucket_t *ngx_http_apiauth_nonce_bucket(
    ngx_http_apiauth_nonce_t *nonces, uint64_t h);
static ngx_uint_t ngx_http_apiauth_nonce_live(
    ngx_http_apiauth_nonce_bucket_t *b, time_t oldest, uint32_t tag1,
    uint64_t tag2, ngx_int_t *free);


/*
 * the zone's tag: a reload that swapped the names of a cache and a nonce
 * zone must not give one the other's memory
 */
static ngx_uint_t  ngx_http_apiauth_nonce_tag;


ngx_shm_zone_t *
ngx_http_apiauth_nonce_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_http_apiauth_nonce_t  *nonces;

    nonces = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_nonce_t));
    if (nonces == NULL) {
        return NULL;
    }

    return ngx_http_apiauth_shm_add(cf, name, size,
                                    &ngx_http_apiauth_nonce_tag,
                                    ngx_http_apiauth_nonce_init_zone, nonces);
}


static ngx_int_t
ngx_http_apiauth_nonce_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apiauth_nonce_t  *onces = data;

    size_t                     len, size;
    ngx_http_apiauth_nonce_t  *nonces;

    nonces = shm_zone->data;

    /* a reload keeps every remembered nonce */

    if (onces) {
        *nonces = *onces;
        return NGX_OK;
    }

    nonces->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        nonces->sh = nonces->shpool->data;
        nonces->table = (ngx_http_apiauth_nonce_bucket_t *)
                            ((u_char *) nonces->sh
                             + NGX_HTTP_APIAUTH_NONCE_HEAD);
        return NGX_OK;
    }

    len = sizeof(" in apiauth nonce zone \"\"") + shm_zone->shm.name.len;

    nonces->shpool->log_ctx = ngx_slab_alloc(nonces->shpool, len);
    if (nonces->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(nonces->shpool->log_ctx, " in apiauth nonce zone \"%V\"%Z",
                &shm_zone->shm.name);

    /*
     * the header and the table take every free page, in one piece; zeroed
     * now, in the master: every entry is free, and the pages fault in here
     * rather than in the workers' requests (every page of a table used at
     * random is soon touched anyway)
     */

    size = nonces->shpool->pfree * ngx_pagesize;

    nonces->sh = ngx_slab_alloc(nonces->shpool, size);
    if (nonces->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(nonces->sh, size);

    nonces->shpool->data = nonces->sh;

    /* the block is page aligned: the header, then the buckets */

    nonces->table = (ngx_http_apiauth_nonce_bucket_t *)
                        ((u_char *) nonces->sh + NGX_HTTP_APIAUTH_NONCE_HEAD);
    nonces->sh->nbuckets = (size - NGX_HTTP_APIAUTH_NONCE_HEAD)
                           / sizeof(ngx_http_apiauth_nonce_bucket_t);
    nonces->sh->full_logged = 0;
    nonces->sh->skew = 0;

    if (RAND_bytes((u_char *) nonces->sh->seed, sizeof(nonces->sh->seed))
        != 1)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * the bucket of a 64-bit hash: its product with the number of buckets,
 * shifted, rather than a division
 */

static ngx_http_apiauth_nonce_bucket_t *
ngx_http_apiauth_nonce_bucket(ngx_http_apiauth_nonce_t *nonces, uint64_t h)
{
#if (defined __SIZEOF_INT128__)
    return &nonces->table[(uint64_t) (((unsigned __int128) h
                                       * nonces->sh->nbuckets) >> 64)];
#else
    return &nonces->table[(h >> 32) % nonces->sh->nbuckets];
#endif
}


/* the live entries of a bucket; *free gets one that is not, if any */

static ngx_uint_t
ngx_http_apiauth_nonce_live(ngx_http_apiauth_nonce_bucket_t *b, time_t oldest,
    uint32_t tag1, uint64_t tag2, ngx_int_t *free)
{
    ngx_uint_t  i, live;

    live = 0;

    for (i = 0; i < NGX_HTTP_APIAUTH_NONCE_WAYS; i++) {
        if ((time_t) b->date[i] < oldest) {
            *free = (ngx_int_t) i;
            continue;
        }

        if (b->tag1[i] == tag1 && b->tag2[i] == tag2) {
            return NGX_HTTP_APIAUTH_NONCE_WAYS + 1;
        }

        live++;
    }

    return live;
}


/*
 * the nonce's two SipHashes, computed as soon as the credentials are read;
 * the lines of its two buckets, in a table far larger than the CPU's
 * caches, are asked for now, so that they arrive while the signature is
 * checked rather than when the nonce is remembered: every line the lookup
 * reads, and both halves of the tags that an insertion writes (a store
 * that misses would stall the unlock's fence)
 */

ngx_int_t
ngx_http_apiauth_nonce_hash(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_str_t *nonce, uint64_t hash[2])
{
    ngx_uint_t                        i;
    u_char                            msg[APIAUTH_ACCESS_KEY_MAX + 1
                                          + APIAUTH_NONCE_MAX];
    ngx_http_apiauth_nonce_t         *nonces;
    ngx_http_apiauth_nonce_bucket_t  *b;

    if (ak->len > APIAUTH_ACCESS_KEY_MAX || nonce->len > APIAUTH_NONCE_MAX) {
        return NGX_ERROR;
    }

    /* the NUL keeps "AB"+"C..." and "A"+"BC..." apart */

    ngx_memcpy(msg, ak->data, ak->len);
    msg[ak->len] = '\0';
    ngx_memcpy(msg + ak->len + 1, nonce->data, nonce->len);

    nonces = zone->data;

    /* the seed is set when the zone is made: read without the lock */

    hash[0] = ngx_http_apiauth_siphash(&nonces->sh->seed[0], msg,
                                       ak->len + 1 + nonce->len);
    hash[1] = ngx_http_apiauth_siphash(&nonces->sh->seed[2], msg,
                                       ak->len + 1 + nonce->len);

    /* the table's size is set when the zone is made: no lock needed */

    for (i = 0; i < 2; i++) {
        b = ngx_http_apiauth_nonce_bucket(nonces, hash[i]);

        ngx_http_apiauth_prefetch_w(b->date);
        ngx_http_apiauth_prefetch_w(b->tag1);
        ngx_http_apiauth_prefetch_w(b->tag2);
        ngx_http_apiauth_prefetch_w(b->tag2 + NGX_HTTP_APIAUTH_NONCE_WAYS / 2);
    }

    return NGX_OK;
}


/*
 * returns NGX_OK when the nonce is new and now remembered, NGX_DECLINED
 * when it was seen, NGX_BUSY when both of its buckets are full of live
 * nonces; a nonce lives while any window accepts its date: the widest
 * skew the zone has seen (a reload may widen it), and a second more, as
 * workers read the clock each on its own
 */

ngx_int_t
ngx_http_apiauth_nonce_remember(ngx_shm_zone_t *zone, uint64_t hash[2],
    time_t date, time_t skew, ngx_log_t *log)
{
    time_t                            oldest;
    uint32_t                          tag1;
    uint64_t                          tag2;
    ngx_int_t                         free1, free2, i;
    ngx_uint_t                        live1, live2;
    ngx_http_apiauth_nonce_t         *nonces;
    ngx_http_apiauth_nonce_bucket_t  *b1, *b2, *b;

    nonces = zone->data;

    /* the bucket is read from the high bits, the tag from the low ones */
    tag1 = (uint32_t) hash[0];
    tag2 = hash[1];
    free1 = -1;
    free2 = -1;

    b1 = ngx_http_apiauth_nonce_bucket(nonces, hash[0]);
    b2 = ngx_http_apiauth_nonce_bucket(nonces, hash[1]);

    /*
     * asked for again: after a lookup in Redis the lines are long gone, and
     * four misses one after the other would be paid under the lock
     */

    ngx_http_apiauth_prefetch_w(b1->date);
    ngx_http_apiauth_prefetch_w(b1->tag1);
    ngx_http_apiauth_prefetch_w(b2->date);
    ngx_http_apiauth_prefetch_w(b2->tag1);

    ngx_shmtx_lock(&nonces->shpool->mutex);

    if (skew > nonces->sh->skew) {
        nonces->sh->skew = skew;
    }

    oldest = ngx_time() - nonces->sh->skew - 1;

    live1 = ngx_http_apiauth_nonce_live(b1, oldest, tag1, tag2, &free1);
    live2 = ngx_http_apiauth_nonce_live(b2, oldest, tag1, tag2, &free2);

    if (live1 > NGX_HTTP_APIAUTH_NONCE_WAYS
        || live2 > NGX_HTTP_APIAUTH_NONCE_WAYS)
    {
        ngx_shmtx_unlock(&nonces->shpool->mutex);
        return NGX_DECLINED;
    }

    if (free2 >= 0 && (free1 < 0 || live2 < live1)) {
        b = b2;
        i = free2;

    } else {
        b = b1;
        i = free1;
    }

    if (i < 0) {
        if (nonces->sh->full_logged == ngx_time()) {
            ngx_shmtx_unlock(&nonces->shpool->mutex);
            return NGX_BUSY;
        }

        nonces->sh->full_logged = ngx_time();
        ngx_shmtx_unlock(&nonces->shpool->mutex);

        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "apiauth: nonce zone \"%V\" is full of live nonces: "
                      "refusing signed requests until some expire",
                      &zone->shm.name);
        return NGX_BUSY;
    }

    b->date[i] = (uint32_t) date;
    b->tag1[i] = tag1;
    b->tag2[i] = tag2;

    ngx_shmtx_unlock(&nonces->shpool->mutex);

    return NGX_OK;
}
