
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Replay protection: a keyed digest of accessKey and nonce (SipHashes keyed
 * with a seed drawn when the zone is made, so that nobody can choose nonces
 * that share buckets) is remembered in a shared memory zone until the
 * request's Date plus the widest clock skew the zone has seen, and a
 * second, when no window accepts the request any more.  A nonce is
 * remembered once, atomically across workers: the lookup and the insertion
 * are one critical section.  A full zone refuses rather than forgets.
 *
 * The zone is one table of 256-byte buckets (four cache lines) of sixteen
 * entries of 16 bytes, stored as three arrays: a date, 32 bits of a digest
 * of the accessKey (the key's tag), and 64 bits of the nonce's digest.
 * Each nonce may live in two buckets that its digest chooses, and goes to
 * the emptier one.  An insertion allocates nothing, and an expired entry is
 * free for the taking: there is nothing to scan or to expire.  Where both
 * buckets hold sixteen live nonces, the zone is full for that nonce: the
 * first such refusal comes at about 87% of the entries.
 *
 * A key holds at most its share of each bucket (four entries of sixteen, a
 * quarter of the zone, unless configured), so that one key, however fast it
 * signs, leaves the other keys room: where both of a nonce's buckets hold
 * its share of its key's entries, that key is refused, not the others.
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
 * entry i is date[i] (X-Apiauth-Date; 0: free), key[i] (the accessKey's
 * tag) and tag[i] (the low halves of the nonce's two SipHashes, whose high
 * bits choose its two buckets)
 */
typedef struct {
    uint32_t                      date[NGX_HTTP_APIAUTH_NONCE_WAYS];
    uint32_t                      key[NGX_HTTP_APIAUTH_NONCE_WAYS];
    uint64_t                      tag[NGX_HTTP_APIAUTH_NONCE_WAYS];
} ngx_http_apiauth_nonce_bucket_t;


typedef struct {
    ngx_uint_t                    nbuckets;
    time_t                        full_logged;
    time_t                        share_logged;
    time_t                        skew;           /* the widest seen */
    uint64_t                      seed[6];        /* the SipHashes' keys */
} ngx_http_apiauth_nonce_sh_t;


/* what a bucket holds for a nonce */
typedef struct {
    ngx_http_apiauth_nonce_bucket_t  *bucket;
    ngx_int_t                         free;       /* an entry, or -1 */
    ngx_uint_t                        live;
    ngx_uint_t                        own;        /* live, of its key */
} ngx_http_apiauth_nonce_scan_t;


typedef struct {
    ngx_http_apiauth_nonce_sh_t      *sh;
    ngx_http_apiauth_nonce_bucket_t  *table;
    ngx_slab_pool_t                  *shpool;
    ngx_uint_t                        share;      /* entries of a bucket */
} ngx_http_apiauth_nonce_t;


static ngx_int_t ngx_http_apiauth_nonce_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_apiauth_nonce_bucket_t *ngx_http_apiauth_nonce_bucket(
    ngx_http_apiauth_nonce_t *nonces, uint64_t h);
static ngx_uint_t ngx_http_apiauth_nonce_scan(
    ngx_http_apiauth_nonce_scan_t *sc, time_t oldest, uint32_t key,
    uint64_t tag);
static void ngx_http_apiauth_nonce_log(ngx_shm_zone_t *zone, ngx_int_t rc,
    ngx_str_t *ak, ngx_log_t *log);


/*
 * the zone's tag: a reload that swapped the names of a cache and a nonce
 * zone must not give one the other's memory
 */
static ngx_uint_t  ngx_http_apiauth_nonce_tag;


/* share: the percentage of the zone one key may hold */

ngx_shm_zone_t *
ngx_http_apiauth_nonce_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    ngx_uint_t share)
{
    ngx_http_apiauth_nonce_t  *nonces;

    nonces = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_nonce_t));
    if (nonces == NULL) {
        return NULL;
    }

    /* in whole entries of a bucket, at least one */
    nonces->share = ngx_max(share * NGX_HTTP_APIAUTH_NONCE_WAYS / 100, 1);

    return ngx_http_apiauth_shm_add(cf, name, size,
                                    &ngx_http_apiauth_nonce_tag,
                                    ngx_http_apiauth_nonce_init_zone, nonces);
}


static ngx_int_t
ngx_http_apiauth_nonce_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apiauth_nonce_t  *onces = data;

    size_t                     size;
    ngx_http_apiauth_nonce_t  *nonces;

    nonces = shm_zone->data;

    /* a reload keeps every remembered nonce, and may change the share */

    if (onces) {
        nonces->sh = onces->sh;
        nonces->table = onces->table;
        nonces->shpool = onces->shpool;
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

    if (ngx_http_apiauth_shm_log_ctx(shm_zone, nonces->shpool, "nonce")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

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
    nonces->sh->share_logged = 0;
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


/*
 * counts a bucket's live entries and its key's among them, and finds a
 * free one; returns 1 when the nonce is among them
 */

static ngx_uint_t
ngx_http_apiauth_nonce_scan(ngx_http_apiauth_nonce_scan_t *sc, time_t oldest,
    uint32_t key, uint64_t tag)
{
    ngx_uint_t                        i;
    ngx_http_apiauth_nonce_bucket_t  *b;

    b = sc->bucket;
    sc->free = -1;
    sc->live = 0;
    sc->own = 0;

    for (i = 0; i < NGX_HTTP_APIAUTH_NONCE_WAYS; i++) {
        if ((time_t) b->date[i] < oldest) {
            sc->free = (ngx_int_t) i;
            continue;
        }

        sc->live++;

        if (b->key[i] == key) {
            if (b->tag[i] == tag) {
                return 1;
            }

            sc->own++;
        }
    }

    return 0;
}


/*
 * the nonce's SipHashes, computed as soon as the credentials are read; the
 * lines of its two buckets, in a table far larger than the CPU's caches,
 * are asked for now, so that they arrive while the signature is checked
 * rather than when the nonce is remembered (a store that misses would
 * stall the unlock's fence)
 */

ngx_int_t
ngx_http_apiauth_nonce_hash(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_str_t *nonce, ngx_http_apiauth_nonce_id_t *id)
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

    id->hash[0] = apiauth_siphash(&nonces->sh->seed[0], msg,
                                           ak->len + 1 + nonce->len);
    id->hash[1] = apiauth_siphash(&nonces->sh->seed[2], msg,
                                           ak->len + 1 + nonce->len);
    id->key = (uint32_t) apiauth_siphash(&nonces->sh->seed[4],
                                                  ak->data, ak->len);

    /* the table's size is set when the zone is made: no lock needed */

    for (i = 0; i < 2; i++) {
        b = ngx_http_apiauth_nonce_bucket(nonces, id->hash[i]);

        ngx_http_apiauth_prefetch_w(b->date);
        ngx_http_apiauth_prefetch_w(b->key);
        ngx_http_apiauth_prefetch_w(b->tag);
        ngx_http_apiauth_prefetch_w(b->tag + NGX_HTTP_APIAUTH_NONCE_WAYS / 2);
    }

    return NGX_OK;
}


/*
 * a nonce lives while any window accepts its date: the widest skew the
 * zone has seen (a reload may widen it), and a second more, as workers
 * read the clock each on its own
 */

ngx_int_t
ngx_http_apiauth_nonce_remember(ngx_shm_zone_t *zone,
    ngx_http_apiauth_nonce_id_t *id, time_t date, time_t skew, ngx_str_t *ak,
    ngx_log_t *log)
{
    time_t                            now, oldest, *logged;
    uint64_t                          tag;
    ngx_int_t                         rc;
    ngx_uint_t                        i, n, first;
    ngx_http_apiauth_nonce_t         *nonces;
    ngx_http_apiauth_nonce_scan_t     sc[2], *to;

    nonces = zone->data;

    /* the buckets are read from the high bits, the tag from the low ones */
    tag = (id->hash[0] << 32) | (id->hash[1] & 0xffffffff);

    for (i = 0; i < 2; i++) {
        sc[i].bucket = ngx_http_apiauth_nonce_bucket(nonces, id->hash[i]);

        /*
         * asked for again: after a lookup in Redis the lines are long
         * gone, and misses one after the other would be paid under the lock
         */
        ngx_http_apiauth_prefetch_w(sc[i].bucket->date);
        ngx_http_apiauth_prefetch_w(sc[i].bucket->key);
    }

    ngx_shmtx_lock(&nonces->shpool->mutex);

    if (skew > nonces->sh->skew) {
        nonces->sh->skew = skew;
    }

    now = ngx_time();
    oldest = now - nonces->sh->skew - 1;

    for (i = 0; i < 2; i++) {
        if (ngx_http_apiauth_nonce_scan(&sc[i], oldest, id->key, tag)) {
            ngx_shmtx_unlock(&nonces->shpool->mutex);
            return NGX_DECLINED;
        }
    }

    /* the emptier bucket that has room, within the key's share */

    to = NULL;
    n = 0;

    for (i = 0; i < 2; i++) {
        if (sc[i].free < 0) {
            continue;
        }

        n++;

        if (sc[i].own < nonces->share
            && (to == NULL || sc[i].live < to->live))
        {
            to = &sc[i];
        }
    }

    if (to == NULL) {
        rc = n ? NGX_ABORT : NGX_BUSY;

        /* logged at most once a second, of each kind */

        logged = (rc == NGX_BUSY) ? &nonces->sh->full_logged
                                  : &nonces->sh->share_logged;
        first = (*logged != now);
        *logged = now;

        ngx_shmtx_unlock(&nonces->shpool->mutex);

        if (first) {
            ngx_http_apiauth_nonce_log(zone, rc, ak, log);
        }

        return rc;
    }

    to->bucket->date[to->free] = (uint32_t) date;
    to->bucket->key[to->free] = id->key;
    to->bucket->tag[to->free] = tag;

    ngx_shmtx_unlock(&nonces->shpool->mutex);

    return NGX_OK;
}


static void
ngx_http_apiauth_nonce_log(ngx_shm_zone_t *zone, ngx_int_t rc, ngx_str_t *ak,
    ngx_log_t *log)
{
    if (rc == NGX_BUSY) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "apiauth: nonce zone \"%V\" is full of live nonces: "
                      "refusing signed requests until some expire",
                      &zone->shm.name);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "apiauth: key \"%V\" holds its share of nonce zone \"%V\": "
                  "refusing its signed requests until some expire",
                  ak, &zone->shm.name);
}
