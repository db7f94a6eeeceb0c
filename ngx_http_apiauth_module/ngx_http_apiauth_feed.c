
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The change feed: each worker reads the stream {apiauth}:changes with
 * XREAD BLOCK on a link of its own and invalidates the keys each entry
 * names in the shared cache.  Where it resumes, the last entry applied, is
 * kept in the cache zone, so that a worker started by a reload goes on
 * where the old ones stopped.  A block of a second makes Redis answer at
 * least every second: no answer within that and timeout= drops the link,
 * which reconnects with the adapter's backoff.
 *
 * When the feed cannot resume (the entry it last applied is gone: the
 * stream was trimmed past it, or made anew), every cached key is fetched
 * again: a new generation of the cache.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_FEED_BLOCK      1000      /* ms */
#define NGX_HTTP_APIAUTH_FEED_COUNT      "128"

/* the accessKeys an entry names: two at most (set-access-key) */
#define NGX_HTTP_APIAUTH_FEED_KEYS       8

/*
 * after an error reply, doubling while they go on: an ACL without XREAD
 * is logged twice a minute, not every second
 */
#define NGX_HTTP_APIAUTH_FEED_RETRY      1000      /* ms */
#define NGX_HTTP_APIAUTH_FEED_RETRY_MAX  30000

/* "ms-seq", two 64-bit numbers */
#define NGX_HTTP_APIAUTH_FEED_ID_LEN  (2 * NGX_INT64_LEN + 1)


typedef struct {
    ngx_http_apiauth_redis_link_t  *link;
    ngx_http_apiauth_main_conf_t   *amcf;
    ngx_log_t                      *log;
    ngx_http_apiauth_feed_id_t      pos;        /* the last entry applied */
    ngx_http_apiauth_redis_cmd_t    cmd;
    ngx_event_t                     retry;
    ngx_msec_t                      retry_after;
    ngx_uint_t                      busy;       /* cmd is out */
    ngx_uint_t                      exiting;
} ngx_http_apiauth_feed_t;


static void ngx_http_apiauth_feed_ready(ngx_http_apiauth_redis_link_t *link,
    void *data, ngx_uint_t schema);
static void ngx_http_apiauth_feed_start(void);
static void ngx_http_apiauth_feed_range(const char *cmd, const char *from,
    const char *to, ngx_http_apiauth_redis_handler_pt h);
static void ngx_http_apiauth_feed_send(ngx_http_apiauth_redis_handler_pt h,
    ngx_msec_t timeout, int argc, const char **argv);
static void ngx_http_apiauth_feed_checked(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_apiauth_feed_seek(void);
static void ngx_http_apiauth_feed_sought(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_apiauth_feed_read(void);
static void ngx_http_apiauth_feed_entries(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply);
static ngx_int_t ngx_http_apiauth_feed_apply(redisReply *entry);
static ngx_uint_t ngx_http_apiauth_feed_failed(redisReply *reply,
    const char *what);
static void ngx_http_apiauth_feed_later(void);
static void ngx_http_apiauth_feed_retry(ngx_event_t *ev);
static const char *ngx_http_apiauth_feed_pos(void);
static ngx_int_t ngx_http_apiauth_feed_entry_id(redisReply *entry,
    ngx_http_apiauth_feed_id_t *id);
static ngx_int_t ngx_http_apiauth_feed_uint64(u_char *p, u_char *end,
    uint64_t *v);


static ngx_http_apiauth_feed_t  ngx_http_apiauth_feed;

static u_char  ngx_http_apiauth_feed_id[NGX_HTTP_APIAUTH_FEED_ID_LEN + 1];


ngx_int_t
ngx_http_apiauth_feed_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf)
{
    ngx_http_apiauth_feed_t  *feed = &ngx_http_apiauth_feed;

    ngx_memzero(feed, sizeof(ngx_http_apiauth_feed_t));

    feed->amcf = amcf;
    feed->log = cycle->log;

    feed->retry.handler = ngx_http_apiauth_feed_retry;
    feed->retry.log = cycle->log;
    feed->retry.data = feed;
    feed->retry.cancelable = 1;
    feed->retry_after = NGX_HTTP_APIAUTH_FEED_RETRY;

    /* a blocked read must not hold a graceful exit back */

    feed->cmd.data = feed;
    feed->cmd.cancelable = 1;

    feed->link = ngx_http_apiauth_redis_open(cycle, amcf,
                                             NGX_HTTP_APIAUTH_LINK_FEED,
                                             ngx_http_apiauth_feed_ready,
                                             feed);

    return feed->link ? NGX_OK : NGX_ERROR;
}


void
ngx_http_apiauth_feed_exit(void)
{
    ngx_http_apiauth_feed_t  *feed = &ngx_http_apiauth_feed;

    feed->exiting = 1;

    if (feed->retry.timer_set) {
        ngx_del_timer(&feed->retry);
    }

    if (feed->link) {
        ngx_http_apiauth_redis_close(feed->link);
        feed->link = NULL;
    }
}


/* each time the link is up: find where to resume */

static void
ngx_http_apiauth_feed_ready(ngx_http_apiauth_redis_link_t *link, void *data,
    ngx_uint_t schema)
{
    ngx_http_apiauth_feed_t  *feed = data;

    /* an old store has no stream yet: read, it reads as empty */

    if (schema < APIAUTH_STORE_SCHEMA) {
        ngx_log_error(NGX_LOG_WARN, feed->log, 0,
                      "apiauth: the key store at \"%V\" has schema %ui, "
                      "without a change feed: key changes reach nginx only "
                      "as cached keys age (ttl); run \"apiauth-ctl upgrade\"",
                      &feed->amcf->redis_text, schema);
    }

    if (!feed->busy) {
        ngx_http_apiauth_feed_start();
    }
}


/*
 * from the last entry applied by any worker, if it is still in the stream
 * (XRANGE is inclusive: the first entry from it must be it); 0-0 stands
 * for a stream that was empty, and must still be
 */

static void
ngx_http_apiauth_feed_start(void)
{
    ngx_http_apiauth_feed_t  *feed = &ngx_http_apiauth_feed;

    if (feed->retry.timer_set) {
        ngx_del_timer(&feed->retry);
    }

    ngx_http_apiauth_cache_feed_get(feed->amcf->cache_zone, &feed->pos);

    if (!feed->pos.known) {
        ngx_http_apiauth_feed_seek();
        return;
    }

    ngx_http_apiauth_feed_range("XRANGE",
                                (feed->pos.ms || feed->pos.seq)
                                ? ngx_http_apiauth_feed_pos() : "-",
                                "+", ngx_http_apiauth_feed_checked);
}


/* the first entry of a range of the stream */

static void
ngx_http_apiauth_feed_range(const char *cmd, const char *from,
    const char *to, ngx_http_apiauth_redis_handler_pt h)
{
    const char  *argv[6];

    argv[0] = cmd;
    argv[1] = APIAUTH_STORE_CHANGES;
    argv[2] = from;
    argv[3] = to;
    argv[4] = "COUNT";
    argv[5] = "1";

    ngx_http_apiauth_feed_send(h, 0, 6, argv);
}


static void
ngx_http_apiauth_feed_send(ngx_http_apiauth_redis_handler_pt h,
    ngx_msec_t timeout, int argc, const char **argv)
{
    int                       i;
    size_t                    argvlen[8];
    ngx_http_apiauth_feed_t  *feed = &ngx_http_apiauth_feed;

    if (feed->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    for (i = 0; i < argc; i++) {
        argvlen[i] = ngx_strlen(argv[i]);
    }

    feed->cmd.handler = h;
    feed->cmd.timeout = timeout;

    if (ngx_http_apiauth_redis_send(feed->link, &feed->cmd, argc, argv,
                                    argvlen)
        != NGX_OK)
    {
        /* a link that is down also calls ready once it is up */
        ngx_http_apiauth_feed_later();
        return;
    }

    feed->busy = 1;
}


static void
ngx_http_apiauth_feed_checked(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_http_apiauth_feed_id_t   first;
    ngx_http_apiauth_feed_t     *feed = cmd->data;

    if (ngx_http_apiauth_feed_failed(reply, "XRANGE")) {
        return;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 0
        && feed->pos.ms == 0 && feed->pos.seq == 0)
    {
        ngx_http_apiauth_feed_read();
        return;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
        && ngx_http_apiauth_feed_entry_id(reply->element[0], &first)
           == NGX_OK
        && first.ms == feed->pos.ms && first.seq == feed->pos.seq)
    {
        ngx_http_apiauth_feed_read();
        return;
    }

    if (feed->pos.ms == 0 && feed->pos.seq == 0) {
        ngx_log_error(NGX_LOG_NOTICE, feed->log, 0,
                      "apiauth: \"" APIAUTH_STORE_CHANGES "\" has entries "
                      "that the change feed, which saw it empty, may have "
                      "missed: every cached key is fetched again");

    } else {
        ngx_log_error(NGX_LOG_WARN, feed->log, 0,
                      "apiauth: the change feed cannot resume after entry "
                      "%uL-%uL of \"" APIAUTH_STORE_CHANGES "\" (it was "
                      "trimmed or made anew): every cached key is fetched "
                      "again", feed->pos.ms, feed->pos.seq);
    }

    ngx_http_apiauth_feed_seek();
}


/* no place to resume from: the newest entry, after which all is read */

static void
ngx_http_apiauth_feed_seek(void)
{
    ngx_http_apiauth_feed_range("XREVRANGE", "+", "-",
                                ngx_http_apiauth_feed_sought);
}


/*
 * the cache is invalidated after the newest entry is known, so that a
 * change after that entry is read, and one before it is in every record
 * fetched from now on
 */

static void
ngx_http_apiauth_feed_sought(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_http_apiauth_feed_id_t   newest;
    ngx_http_apiauth_feed_t     *feed = cmd->data;

    if (ngx_http_apiauth_feed_failed(reply, "XREVRANGE")) {
        return;
    }

    ngx_memzero(&newest, sizeof(ngx_http_apiauth_feed_id_t));

    if (reply->type != REDIS_REPLY_ARRAY
        || (reply->elements == 1
            && ngx_http_apiauth_feed_entry_id(reply->element[0], &newest)
               != NGX_OK))
    {
        ngx_log_error(NGX_LOG_ERR, feed->log, 0,
                      "apiauth: \"" APIAUTH_STORE_CHANGES "\" in Redis is "
                      "not a stream of changes");
        ngx_http_apiauth_feed_later();
        return;
    }

    newest.known = 1;

    ngx_http_apiauth_cache_restart(feed->amcf->cache_zone, &newest);

    feed->pos = newest;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, feed->log, 0,
                   "apiauth feed: every key invalidated, reading after "
                   "%uL-%uL", newest.ms, newest.seq);

    ngx_http_apiauth_feed_read();
}


static void
ngx_http_apiauth_feed_read(void)
{
    const char               *argv[8];
    ngx_http_apiauth_feed_t  *feed = &ngx_http_apiauth_feed;

    argv[0] = "XREAD";
    argv[1] = "COUNT";
    argv[2] = NGX_HTTP_APIAUTH_FEED_COUNT;
    argv[3] = "BLOCK";
    argv[4] = ngx_value(NGX_HTTP_APIAUTH_FEED_BLOCK);
    argv[5] = "STREAMS";
    argv[6] = APIAUTH_STORE_CHANGES;
    argv[7] = ngx_http_apiauth_feed_pos();

    ngx_http_apiauth_feed_send(ngx_http_apiauth_feed_entries,
                               NGX_HTTP_APIAUTH_FEED_BLOCK
                               + feed->amcf->timeout,
                               8, argv);
}


/* nil: nothing new within the block; else [[stream, [entry, ...]]] */

static void
ngx_http_apiauth_feed_entries(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply)
{
    size_t                    i;
    redisReply               *entries;
    ngx_http_apiauth_feed_t  *feed = cmd->data;

    if (ngx_http_apiauth_feed_failed(reply, "XREAD")) {
        return;
    }

    feed->retry_after = NGX_HTTP_APIAUTH_FEED_RETRY;

    if (reply->type == REDIS_REPLY_NIL) {
        ngx_http_apiauth_feed_read();
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1
        || reply->element[0]->type != REDIS_REPLY_ARRAY
        || reply->element[0]->elements != 2
        || reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
    {
        goto malformed;
    }

    entries = reply->element[0]->element[1];

    for (i = 0; i < entries->elements; i++) {
        if (ngx_http_apiauth_feed_apply(entries->element[i]) != NGX_OK) {
            break;
        }
    }

    if (i == entries->elements) {
        ngx_http_apiauth_feed_read();
        return;
    }

malformed:

    ngx_log_error(NGX_LOG_ERR, feed->log, 0,
                  "apiauth: Redis answered XREAD of \"" APIAUTH_STORE_CHANGES
                  "\" with what is not a stream's entries");

    ngx_http_apiauth_feed_later();
}


/*
 * [id, [field, value, ...]]: "op" init or upgrade (a store made anew)
 * invalidates every key; every other field names an accessKey; an entry
 * that is not a change, written by hand, invalidates every key too
 */

static ngx_int_t
ngx_http_apiauth_feed_apply(redisReply *entry)
{
    size_t                       i;
    ngx_str_t                    aks[NGX_HTTP_APIAUTH_FEED_KEYS];
    ngx_uint_t                   n, all, bad;
    redisReply                  *f, *v, *fields;
    ngx_http_apiauth_feed_id_t   id;
    ngx_http_apiauth_feed_t     *feed = &ngx_http_apiauth_feed;

    if (ngx_http_apiauth_feed_entry_id(entry, &id) != NGX_OK) {
        return NGX_ERROR;
    }

    feed->pos = id;

    fields = entry->element[1];
    n = 0;
    bad = (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2);
    all = 0;

    for (i = 0; !bad && i < fields->elements; i += 2) {
        f = fields->element[i];
        v = fields->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            bad = 1;
            break;
        }

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, feed->log, 0,
                       "apiauth feed: %uL-%uL %s %s", id.ms, id.seq, f->str,
                       v->str);

        if (f->len == 2 && ngx_strncmp(f->str, "op", 2) == 0) {
            all |= (v->len == 4 && ngx_strncmp(v->str, "init", 4) == 0)
                   || (v->len == 7 && ngx_strncmp(v->str, "upgrade", 7) == 0);
            continue;
        }

        /* an accessKey too long to be cached is in no cache */

        if (v->len > APIAUTH_ACCESS_KEY_MAX) {
            continue;
        }

        if (n == NGX_HTTP_APIAUTH_FEED_KEYS) {
            all = 1;
            continue;
        }

        aks[n].data = (u_char *) v->str;
        aks[n].len = v->len;
        n++;
    }

    if (bad) {
        ngx_log_error(NGX_LOG_WARN, feed->log, 0,
                      "apiauth: entry %uL-%uL of \"" APIAUTH_STORE_CHANGES "\" "
                      "is not a change: every cached key is fetched again",
                      id.ms, id.seq);
        all = 1;
    }

    ngx_http_apiauth_cache_apply(feed->amcf->cache_zone, &id,
                                 all ? NULL : aks, n);

    return NGX_OK;
}


/*
 * every answer comes here first, and the command is no longer out; a NULL
 * reply: the link dropped, and calls ready again once it is up; an error
 * reply (NOPERM, LOADING, ...): tried again in a while
 */

static ngx_uint_t
ngx_http_apiauth_feed_failed(redisReply *reply, const char *what)
{
    ngx_http_apiauth_feed_t  *feed = &ngx_http_apiauth_feed;

    feed->busy = 0;

    if (reply == NULL) {
        return 1;
    }

    if (reply->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    ngx_log_error(NGX_LOG_ERR, feed->log, 0,
                  "apiauth: Redis at \"%V\" refused %s of the change feed: "
                  "%*s", &feed->amcf->redis_text, what,
                  ngx_min(reply->len, (size_t) 256), reply->str);

    ngx_http_apiauth_feed_later();

    return 1;
}


static void
ngx_http_apiauth_feed_later(void)
{
    ngx_http_apiauth_feed_t  *feed = &ngx_http_apiauth_feed;

    if (feed->exiting || feed->retry.timer_set) {
        return;
    }

    ngx_add_timer(&feed->retry, feed->retry_after);

    feed->retry_after = ngx_min(2 * feed->retry_after,
                                NGX_HTTP_APIAUTH_FEED_RETRY_MAX);
}


static void
ngx_http_apiauth_feed_retry(ngx_event_t *ev)
{
    ngx_http_apiauth_feed_t  *feed = ev->data;

    if (!feed->busy && !feed->exiting) {
        ngx_http_apiauth_feed_start();
    }
}


/* the last entry applied, as an ID for a command: "ms-seq" */

static const char *
ngx_http_apiauth_feed_pos(void)
{
    ngx_http_apiauth_feed_t  *feed = &ngx_http_apiauth_feed;

    *ngx_sprintf(ngx_http_apiauth_feed_id, "%uL-%uL", feed->pos.ms,
                 feed->pos.seq) = '\0';

    return (const char *) ngx_http_apiauth_feed_id;
}


/* an entry is [id, fields], its id "ms-seq" */

static ngx_int_t
ngx_http_apiauth_feed_entry_id(redisReply *entry,
    ngx_http_apiauth_feed_id_t *id)
{
    u_char      *p, *dash, *end;
    redisReply  *r;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) {
        return NGX_ERROR;
    }

    r = entry->element[0];

    if (r->type != REDIS_REPLY_STRING) {
        return NGX_ERROR;
    }

    p = (u_char *) r->str;
    end = p + r->len;

    dash = ngx_strlchr(p, end, '-');

    if (dash == NULL
        || ngx_http_apiauth_feed_uint64(p, dash, &id->ms) != NGX_OK
        || ngx_http_apiauth_feed_uint64(dash + 1, end, &id->seq) != NGX_OK)
    {
        return NGX_ERROR;
    }

    id->known = 1;

    return NGX_OK;
}


/* either part of an ID is a 64-bit number: past ngx_atoof()'s 63 bits */

static ngx_int_t
ngx_http_apiauth_feed_uint64(u_char *p, u_char *end, uint64_t *v)
{
    uint64_t  n, d;

    if (p == end) {
        return NGX_ERROR;
    }

    for (n = 0; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        d = *p - '0';

        if (n > (UINT64_MAX - d) / 10) {
            return NGX_ERROR;
        }

        n = n * 10 + d;
    }

    *v = n;

    return NGX_OK;
}
