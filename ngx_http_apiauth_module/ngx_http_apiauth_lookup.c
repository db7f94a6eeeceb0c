
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Key lookups: one HGETALL of {apiauth}:key:<accessKey> returns a
 * consistent snapshot of the key.  Concurrent misses for one accessKey in a
 * worker wait on one lookup, unless an invalidation came between them.  A
 * lookup outlives the requests that wait on it, so it lives on the heap; a
 * request that ends first leaves the queue.  An answer reaches each waiter
 * through its handler: the lookup knows nothing of requests.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


/* more fields than a record has (docs/keys.md) are not a record */
#define NGX_HTTP_APIAUTH_FIELDS  32


typedef struct {
    ngx_str_node_t                  sn;         /* the accessKey */
    ngx_queue_t                     waiters;
    ngx_http_apiauth_redis_cmd_t    cmd;
    uint64_t                        epoch;      /* the cache's, when sent */
    ngx_uint_t                      detached;   /* out of the tree */
    u_char                          name[sizeof(APIAUTH_STORE_KEY_PREFIX)
                                         + APIAUTH_ACCESS_KEY_MAX];
} ngx_http_apiauth_lookup_t;


static void ngx_http_apiauth_lookup_done(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply);
static ngx_uint_t ngx_http_apiauth_lookup_parse(ngx_str_t *ak,
    redisReply *reply, ngx_http_apiauth_key_t *key);
static void ngx_http_apiauth_lookup_text(ngx_str_t *dst,
    const apiauth_text_t *src);
static ngx_int_t ngx_http_apiauth_lookup_jwt_version(
    ngx_http_apiauth_key_t *key);


static ngx_rbtree_t                   ngx_http_apiauth_lookups;
static ngx_rbtree_node_t              ngx_http_apiauth_lookups_sentinel;
static ngx_http_apiauth_main_conf_t  *ngx_http_apiauth_lookup_conf;
static ngx_log_t                     *ngx_http_apiauth_lookup_log;
static ngx_http_apiauth_redis_link_t *ngx_http_apiauth_lookup_link;

/* a record's whitelist, parsed once per reply: workers are one thread */
static apiauth_ip_entry_t  ngx_http_apiauth_lookup_ips[APIAUTH_IPS_MAX];


ngx_int_t
ngx_http_apiauth_lookup_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf)
{
    ngx_rbtree_init(&ngx_http_apiauth_lookups,
                    &ngx_http_apiauth_lookups_sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_http_apiauth_lookup_conf = amcf;
    ngx_http_apiauth_lookup_log = cycle->log;

    ngx_http_apiauth_lookup_link =
        ngx_http_apiauth_redis_open(cycle, amcf,
                                     NGX_HTTP_APIAUTH_LINK_LOOKUPS, NULL, NULL);

    return ngx_http_apiauth_lookup_link ? NGX_OK : NGX_ERROR;
}


/* an open connection at exit is an [alert]: close it first */

void
ngx_http_apiauth_lookup_exit(void)
{
    if (ngx_http_apiauth_lookup_link) {
        ngx_http_apiauth_redis_close(ngx_http_apiauth_lookup_link);
        ngx_http_apiauth_lookup_link = NULL;
    }
}


/*
 * returns NGX_AGAIN when the request waits for an answer, NGX_DECLINED when
 * Redis cannot be asked now
 */

ngx_int_t
ngx_http_apiauth_lookup(ngx_str_t *ak, ngx_http_apiauth_waiter_t *w)
{
    uint32_t                       hash;
    const char                    *argv[2];
    size_t                         argvlen[2];
    ngx_http_apiauth_lookup_t     *lk;
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_http_apiauth_lookup_conf;
    hash = ngx_crc32_short(ak->data, ak->len);

    lk = (ngx_http_apiauth_lookup_t *)
             ngx_str_rbtree_lookup(&ngx_http_apiauth_lookups, ak, hash);

    /*
     * a lookup sent before an invalidation may answer from before it: it
     * keeps its waiters, and a request that comes after asks again
     */

    if (lk && lk->epoch != ngx_http_apiauth_cache_epoch(amcf->cache_zone)) {
        ngx_rbtree_delete(&ngx_http_apiauth_lookups, &lk->sn.node);
        lk->detached = 1;
        lk = NULL;
    }

    if (lk == NULL) {
        lk = ngx_alloc(sizeof(ngx_http_apiauth_lookup_t),
                       ngx_http_apiauth_lookup_log);
        if (lk == NULL) {
            return NGX_DECLINED;
        }

        ngx_memzero(lk, sizeof(ngx_http_apiauth_lookup_t));

        lk->sn.node.key = hash;
        lk->sn.str.len = ak->len;
        lk->sn.str.data = ngx_cpymem(lk->name, APIAUTH_STORE_KEY_PREFIX,
                                     sizeof(APIAUTH_STORE_KEY_PREFIX) - 1);
        ngx_memcpy(lk->sn.str.data, ak->data, ak->len);

        ngx_queue_init(&lk->waiters);

        lk->cmd.handler = ngx_http_apiauth_lookup_done;
        lk->cmd.data = lk;
        lk->epoch = ngx_http_apiauth_cache_epoch(amcf->cache_zone);

        argv[0] = "HGETALL";
        argvlen[0] = sizeof("HGETALL") - 1;
        argv[1] = (char *) lk->name;
        argvlen[1] = sizeof(APIAUTH_STORE_KEY_PREFIX) - 1 + lk->sn.str.len;

        if (ngx_http_apiauth_redis_send(ngx_http_apiauth_lookup_link,
                                        &lk->cmd, 2, argv, argvlen)
            != NGX_OK)
        {
            ngx_free(lk);
            return NGX_DECLINED;
        }

        ngx_rbtree_insert(&ngx_http_apiauth_lookups, &lk->sn.node);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_apiauth_lookup_log, 0,
                       "apiauth lookup: HGETALL of \"%V\" sent", &lk->sn.str);
    }

    ngx_queue_insert_tail(&lk->waiters, &w->queue);
    w->waiting = 1;

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_apiauth_lookup_send(ngx_http_apiauth_redis_cmd_t *cmd, int argc,
    const char **argv, const size_t *argvlen)
{
    return ngx_http_apiauth_redis_send(ngx_http_apiauth_lookup_link, cmd,
                                       argc, argv, argvlen);
}


void
ngx_http_apiauth_lookup_cancel(ngx_http_apiauth_waiter_t *w)
{
    if (w->waiting) {
        ngx_queue_remove(&w->queue);
        w->waiting = 0;
    }
}


static void
ngx_http_apiauth_lookup_done(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_uint_t                      result;
    ngx_queue_t                    *q;
    ngx_http_apiauth_key_t          key;
    ngx_http_apiauth_waiter_t      *w;
    ngx_http_apiauth_lookup_t      *lk;
    ngx_http_apiauth_main_conf_t   *amcf;

    lk = cmd->data;
    amcf = ngx_http_apiauth_lookup_conf;

    if (!lk->detached) {
        ngx_rbtree_delete(&ngx_http_apiauth_lookups, &lk->sn.node);
    }

    result = ngx_http_apiauth_lookup_parse(&lk->sn.str, reply, &key);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_apiauth_lookup_log, 0,
                   "apiauth lookup: \"%V\" %s", &lk->sn.str,
                   result == NGX_HTTP_APIAUTH_KEY_FOUND ? "found"
                   : result == NGX_HTTP_APIAUTH_KEY_UNKNOWN ? "unknown"
                   : result == NGX_HTTP_APIAUTH_KEY_MALFORMED ? "malformed"
                   : "unavailable");

    /* only what Redis said for sure is cached: a key, or its absence */

    if (result == NGX_HTTP_APIAUTH_KEY_FOUND) {
        ngx_http_apiauth_cache_put(amcf->cache_zone, &lk->sn.str, &key,
                                   lk->epoch, ngx_http_apiauth_lookup_log);

        /* once a minute per key, not once a lookup */

        if (key.bad_expires
            && ngx_http_apiauth_cache_warn(amcf->cache_zone, &lk->sn.str, 60))
        {
            ngx_log_error(NGX_LOG_ERR, ngx_http_apiauth_lookup_log, 0,
                          "apiauth: key \"%V\" in Redis has a malformed "
                          "expiry: refusing it as expired", &lk->sn.str);
        }

    } else if (result == NGX_HTTP_APIAUTH_KEY_UNKNOWN) {
        ngx_http_apiauth_cache_put(amcf->cache_zone, &lk->sn.str, NULL,
                                   lk->epoch, ngx_http_apiauth_lookup_log);
    }

    while (!ngx_queue_empty(&lk->waiters)) {
        q = ngx_queue_head(&lk->waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_apiauth_waiter_t, queue);
        w->waiting = 0;

        w->handler(w, result, result == NGX_HTTP_APIAUTH_KEY_FOUND ? &key
                                                                   : NULL);
    }

    ngx_explicit_memzero(key.secret, sizeof(key.secret));
    ngx_explicit_memzero(&key.hmac, sizeof(key.hmac));
    ngx_free(lk);
}


/*
 * only a well-formed empty reply means "no such key"; NULL (a timeout, a
 * dropped link) or an error reply (LOADING, NOAUTH, ...) is "unavailable",
 * a record that apiauth_record_parse() refuses "malformed", and a security
 * check never fails open
 */

static ngx_uint_t
ngx_http_apiauth_lookup_parse(ngx_str_t *ak, redisReply *reply,
    ngx_http_apiauth_key_t *key)
{
    size_t                         i;
    ngx_uint_t                     derived;
    const char                    *why;
    redisReply                    *e;
    apiauth_text_t                 fv[2 * NGX_HTTP_APIAUTH_FIELDS];
    apiauth_record_t               rec;
    u_char                         secret[APIAUTH_SECRET_LEN];
    ngx_http_apiauth_main_conf_t  *amcf;

    if (reply == NULL) {
        return NGX_HTTP_APIAUTH_KEY_UNAVAILABLE;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_apiauth_lookup_log, 0,
                      "apiauth: Redis refused to read key \"%V\": %*s", ak,
                      reply->type == REDIS_REPLY_ERROR
                      ? ngx_min(reply->len, (size_t) 256) : (size_t) 0,
                      reply->str);
        return NGX_HTTP_APIAUTH_KEY_UNAVAILABLE;
    }

    if (reply->elements == 0) {
        return NGX_HTTP_APIAUTH_KEY_UNKNOWN;
    }

    why = "it is not a hash of strings";

    if (reply->elements % 2 || reply->elements > 2 * NGX_HTTP_APIAUTH_FIELDS) {
        goto malformed;
    }

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING) {
            goto malformed;
        }

        fv[i].data = (u_char *) e->str;
        fv[i].len = e->len;
    }

    if (apiauth_record_parse(&rec, fv, reply->elements / 2,
                             ngx_http_apiauth_lookup_ips, APIAUTH_IPS_MAX,
                             &why)
        != 0)
    {
        goto malformed;
    }

    ngx_memzero(key, sizeof(ngx_http_apiauth_key_t));

    key->name.data = (u_char *) rec.name.data;
    key->name.len = rec.name.len;
    key->apps.data = (u_char *) rec.apps.data;
    key->apps.len = rec.apps.len;
    key->interfaces.data = (u_char *) rec.interfaces.data;
    key->interfaces.len = rec.interfaces.len;
    key->ips = ngx_http_apiauth_lookup_ips;
    key->nips = rec.nips;
    key->enabled = rec.enabled;

    /* at or before 1970, or no time: 1, in the past, so expired */
    key->expires = (rec.expires_at < 0) ? 1 : (time_t) rec.expires_at;
    key->bad_expires = rec.expires_malformed;

    if (rec.limited) {
        key->limited = 1;
        key->limits.policy = rec.rules;
        key->limits.version = ngx_crc32_short((u_char *) rec.limits.data,
                                              rec.limits.len);
    }

    if (rec.jwt) {
        key->jwt_alg = rec.jwt;
        key->jwt_require_exp = rec.jwt_exp;
        key->jwt_max_lifetime = (time_t) rec.jwt_lifetime;
        /* absent texts are empty, never NULL: they are copied */
        ngx_http_apiauth_lookup_text(&key->jwt_issuer, &rec.jwt_issuer);
        ngx_http_apiauth_lookup_text(&key->jwt_audience, &rec.jwt_audience);
        ngx_http_apiauth_lookup_text(&key->jwt_public_key,
                                     &rec.jwt_public_key);
    }

    amcf = ngx_http_apiauth_lookup_conf;

    /* the hex secret is the HMAC key; it is kept in the forms used */

    derived = apiauth_secret_derive(amcf->master, ak->data, ak->len,
                                    rec.salt.data, rec.salt.len, secret) == 0
              && apiauth_unhex(key->secret, secret, sizeof(key->secret)) == 0
              && apiauth_hmac_key(&key->hmac, secret, sizeof(secret)) == 0;

    ngx_explicit_memzero(secret, sizeof(secret));

    if (!derived) {
        why = "its secret could not be derived";
        goto malformed;
    }

    /* a verified token stands for this secret and method only */

    if (key->jwt_alg && ngx_http_apiauth_lookup_jwt_version(key) != NGX_OK) {
        why = "its JWT method could not be digested";
        goto malformed;
    }

    return NGX_HTTP_APIAUTH_KEY_FOUND;

malformed:

    ngx_log_error(NGX_LOG_ERR, ngx_http_apiauth_lookup_log, 0,
                  "apiauth: key \"%V\" in Redis is malformed: refusing it "
                  "(%s)", ak, why);

    return NGX_HTTP_APIAUTH_KEY_MALFORMED;
}


static void
ngx_http_apiauth_lookup_text(ngx_str_t *dst, const apiauth_text_t *src)
{
    if (src->data) {
        dst->data = (u_char *) src->data;
        dst->len = src->len;

    } else {
        ngx_str_set(dst, "");
    }
}


/*
 * what a verified token, and a worker's public key, stand for: 64 bits of
 * a SHA-256 of the key's secret, algorithm and public key
 */

static ngx_int_t
ngx_http_apiauth_lookup_jwt_version(ngx_http_apiauth_key_t *key)
{
    u_char   *p, *buf, md[APIAUTH_SHA256_LEN];
    size_t    len;

    len = sizeof(key->secret) + 1 + key->jwt_public_key.len;

    buf = ngx_alloc(len, ngx_http_apiauth_lookup_log);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(buf, key->secret, sizeof(key->secret));
    *p++ = (u_char) key->jwt_alg;
    ngx_memcpy(p, key->jwt_public_key.data, key->jwt_public_key.len);

    if (apiauth_sha256(buf, len, md) != 0) {
        ngx_explicit_memzero(buf, len);
        ngx_free(buf);
        return NGX_ERROR;
    }

    ngx_explicit_memzero(buf, len);
    ngx_free(buf);

    ngx_memcpy(&key->jwt_version, md, sizeof(key->jwt_version));

    return NGX_OK;
}
