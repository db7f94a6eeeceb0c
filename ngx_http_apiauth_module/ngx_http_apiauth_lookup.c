
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Key lookups: one HGETALL of {apiauth}:key:<accessKey> returns a
 * consistent snapshot of the key.  Concurrent misses for one accessKey in a
 * worker wait on one lookup.  A lookup outlives the requests that wait on
 * it, so it lives on the heap; a request that ends first leaves the queue.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_KEY_PREFIX  "{apiauth}:key:"


struct ngx_http_apiauth_lookup_s {
    ngx_str_node_t                  sn;         /* the accessKey */
    ngx_queue_t                     waiters;
    ngx_http_apiauth_redis_cmd_t    cmd;
    u_char                          name[sizeof(NGX_HTTP_APIAUTH_KEY_PREFIX)
                                         + APIAUTH_ACCESS_KEY_MAX];
};


static void ngx_http_apiauth_lookup_done(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply);
static ngx_uint_t ngx_http_apiauth_lookup_parse(ngx_str_t *ak,
    redisReply *reply, ngx_http_apiauth_key_t *key);


static ngx_rbtree_t                   ngx_http_apiauth_lookups;
static ngx_rbtree_node_t              ngx_http_apiauth_lookups_sentinel;
static ngx_http_apiauth_main_conf_t  *ngx_http_apiauth_lookup_conf;
static ngx_log_t                     *ngx_http_apiauth_lookup_log;

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

    return NGX_OK;
}


/*
 * returns NGX_AGAIN when the request waits for an answer, NGX_DECLINED when
 * Redis cannot be asked now
 */

ngx_int_t
ngx_http_apiauth_lookup(ngx_http_apiauth_ctx_t *ctx)
{
    uint32_t                    hash;
    const char                 *argv[2];
    size_t                      argvlen[2];
    ngx_http_apiauth_lookup_t  *lk;

    hash = ngx_crc32_short(ctx->access_key.data, ctx->access_key.len);

    lk = (ngx_http_apiauth_lookup_t *)
             ngx_str_rbtree_lookup(&ngx_http_apiauth_lookups,
                                   &ctx->access_key, hash);

    if (lk == NULL) {
        lk = ngx_alloc(sizeof(ngx_http_apiauth_lookup_t),
                       ngx_http_apiauth_lookup_log);
        if (lk == NULL) {
            return NGX_DECLINED;
        }

        ngx_memzero(lk, sizeof(ngx_http_apiauth_lookup_t));

        lk->sn.node.key = hash;
        lk->sn.str.len = ctx->access_key.len;
        lk->sn.str.data = ngx_cpymem(lk->name, NGX_HTTP_APIAUTH_KEY_PREFIX,
                                     sizeof(NGX_HTTP_APIAUTH_KEY_PREFIX) - 1);
        ngx_memcpy(lk->sn.str.data, ctx->access_key.data,
                   ctx->access_key.len);

        ngx_queue_init(&lk->waiters);

        lk->cmd.handler = ngx_http_apiauth_lookup_done;
        lk->cmd.data = lk;

        argv[0] = "HGETALL";
        argvlen[0] = sizeof("HGETALL") - 1;
        argv[1] = (char *) lk->name;
        argvlen[1] = sizeof(NGX_HTTP_APIAUTH_KEY_PREFIX) - 1 + lk->sn.str.len;

        if (ngx_http_apiauth_redis_send(&lk->cmd, 2, argv, argvlen)
            != NGX_OK)
        {
            ngx_free(lk);
            return NGX_DECLINED;
        }

        ngx_rbtree_insert(&ngx_http_apiauth_lookups, &lk->sn.node);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_apiauth_lookup_log, 0,
                       "apiauth lookup: HGETALL of \"%V\" sent", &lk->sn.str);
    }

    ngx_queue_insert_tail(&lk->waiters, &ctx->waiter);
    ctx->lookup = lk;

    return NGX_AGAIN;
}


void
ngx_http_apiauth_lookup_detach(ngx_http_apiauth_ctx_t *ctx)
{
    ngx_queue_remove(&ctx->waiter);
    ctx->lookup = NULL;
}


static void
ngx_http_apiauth_lookup_done(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_uint_t                      result;
    ngx_queue_t                    *q;
    ngx_http_apiauth_key_t          key;
    ngx_http_apiauth_ctx_t         *ctx;
    ngx_http_apiauth_lookup_t      *lk;
    ngx_http_apiauth_main_conf_t   *amcf;

    lk = cmd->data;
    amcf = ngx_http_apiauth_lookup_conf;

    ngx_rbtree_delete(&ngx_http_apiauth_lookups, &lk->sn.node);

    result = ngx_http_apiauth_lookup_parse(&lk->sn.str, reply, &key);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_apiauth_lookup_log, 0,
                   "apiauth lookup: \"%V\" %s", &lk->sn.str,
                   result == NGX_HTTP_APIAUTH_KEY_FOUND ? "found"
                   : result == NGX_HTTP_APIAUTH_KEY_UNKNOWN ? "unknown"
                   : "unavailable");

    /* only what Redis said for sure is cached: a key, or its absence */

    if (result == NGX_HTTP_APIAUTH_KEY_FOUND) {
        ngx_http_apiauth_cache_put(amcf->cache_zone, &lk->sn.str, &key,
                                   ngx_http_apiauth_lookup_log);

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
                                   ngx_http_apiauth_lookup_log);
    }

    while (!ngx_queue_empty(&lk->waiters)) {
        q = ngx_queue_head(&lk->waiters);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_apiauth_ctx_t, waiter);
        ctx->lookup = NULL;
        ctx->lookup_result = result;

        if (result == NGX_HTTP_APIAUTH_KEY_FOUND) {
            if (ngx_http_apiauth_key_copy(ctx->request->pool, &ctx->key,
                                          &key)
                == NGX_OK)
            {
                ctx->have_key = 1;

            } else {
                ctx->lookup_result = NGX_HTTP_APIAUTH_KEY_UNAVAILABLE;
            }
        }

        ngx_http_apiauth_wake(ctx);
    }

    ngx_explicit_memzero(key.secret, sizeof(key.secret));
    ngx_explicit_memzero(&key.hmac, sizeof(key.hmac));
    ngx_free(lk);
}


/*
 * only a well-formed empty reply means "no such key"; NULL (a timeout, a
 * dropped link), an error reply (LOADING, NOAUTH, ...) or a malformed
 * record is "unavailable", and a security check never fails open
 */

static ngx_uint_t
ngx_http_apiauth_lookup_parse(ngx_str_t *ak, redisReply *reply,
    ngx_http_apiauth_key_t *key)
{
    int                            n;
    size_t                         i;
    ngx_str_t                      f, v, salt, status, expires;
    ngx_uint_t                     have, derived;
    redisReply                    *e;
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

    ngx_memzero(key, sizeof(ngx_http_apiauth_key_t));
    ngx_str_null(&salt);
    ngx_str_null(&status);
    ngx_str_null(&expires);
    have = 0;

    if (reply->elements % 2) {
        goto malformed;
    }

    for (i = 0; i < reply->elements; i += 2) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING
            || reply->element[i + 1]->type != REDIS_REPLY_STRING)
        {
            goto malformed;
        }

        f.data = (u_char *) e->str;
        f.len = e->len;
        v.data = (u_char *) reply->element[i + 1]->str;
        v.len = reply->element[i + 1]->len;

        if (f.len == 4 && ngx_strncmp(f.data, "salt", 4) == 0) {
            salt = v;
            have |= 1;

        } else if (f.len == 6 && ngx_strncmp(f.data, "status", 6) == 0) {
            status = v;
            have |= 2;

        } else if (f.len == 4 && ngx_strncmp(f.data, "apps", 4) == 0) {
            key->apps = v;
            have |= 4;

        } else if (f.len == 10 && ngx_strncmp(f.data, "interfaces", 10) == 0)
        {
            key->interfaces = v;
            have |= 8;

        } else if (f.len == 3 && ngx_strncmp(f.data, "ips", 3) == 0) {
            n = apiauth_ip_list_parse(v.data, v.len,
                                      ngx_http_apiauth_lookup_ips,
                                      APIAUTH_IPS_MAX);
            if (n < 0) {
                goto malformed;
            }

            key->ips = ngx_http_apiauth_lookup_ips;
            key->nips = n;
            have |= 16;

        } else if (f.len == 4 && ngx_strncmp(f.data, "name", 4) == 0) {
            key->name = v;

        } else if (f.len == 7 && ngx_strncmp(f.data, "expires", 7) == 0) {
            expires = v;
        }
    }

    /* a record without its whitelist must not mean "any address" */

    if (have != 31
        || apiauth_salt_check(salt.data, salt.len) != 0
        || apiauth_scope_check(key->apps.data, key->apps.len) != 0
        || apiauth_scope_check(key->interfaces.data, key->interfaces.len)
           != 0
        || key->name.len > APIAUTH_KEY_NAME_MAX)
    {
        goto malformed;
    }

    if (status.len == 7 && ngx_strncmp(status.data, "enabled", 7) == 0) {
        key->enabled = 1;

    } else if (!(status.len == 8
                 && ngx_strncmp(status.data, "disabled", 8) == 0))
    {
        goto malformed;
    }

    /*
     * an expiry that is there but malformed, or at or before 1970, is
     * expired: a security check never reads it as "never", and a key that
     * can be refused for what it is must not be refused for Redis
     */

    if (expires.data) {
        key->expires = ngx_atotm(expires.data, expires.len);

        if (key->expires == NGX_ERROR) {
            key->bad_expires = 1;
            key->expires = 1;

        } else if (key->expires <= 0) {
            key->expires = 1;
        }
    }

    amcf = ngx_http_apiauth_lookup_conf;

    /* the hex secret is the HMAC key; it is kept in the forms used */

    derived = apiauth_secret_derive(amcf->master, ak->data, ak->len,
                                    salt.data, salt.len, secret) == 0
              && apiauth_unhex(key->secret, secret, sizeof(key->secret)) == 0
              && apiauth_hmac_key(&key->hmac, secret, sizeof(secret)) == 0;

    ngx_explicit_memzero(secret, sizeof(secret));

    if (!derived) {
        goto malformed;
    }

    return NGX_HTTP_APIAUTH_KEY_FOUND;

malformed:

    ngx_log_error(NGX_LOG_ERR, ngx_http_apiauth_lookup_log, 0,
                  "apiauth: key \"%V\" in Redis is malformed: refusing it",
                  ak);

    return NGX_HTTP_APIAUTH_KEY_UNAVAILABLE;
}
