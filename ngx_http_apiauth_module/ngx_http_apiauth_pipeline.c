
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The call records' pipeline, one a worker: the log phase appends a frame
 * per call to the worker's buffer, and nothing else; a timer sends the
 * buffer in batches of pipelined XADDs on a Redis link of the worker's
 * own, one batch in flight.  A batch that Redis refuses, or that fails or
 * times out, goes to the spool (ngx_http_apiauth_spool.c), and so does the
 * buffer while Redis refuses writes; the spool is replayed, oldest first,
 * before the buffer once Redis takes them again.  At exit, with no event
 * loop left, whatever is not acknowledged is written to the spool, for a
 * later worker to replay.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_RETRY_MIN     500        /* ms */
#define NGX_HTTP_APIAUTH_RETRY_MAX     5000

/* a bulk string's header: "$65535\r\n" */
#define NGX_HTTP_APIAUTH_BULK_HEAD     8


typedef struct {
    ngx_http_apiauth_records_conf_t  *conf;
    ngx_log_t                        *log;
    ngx_http_apiauth_redis_link_t    *link;
    ngx_event_t                       tick;

    /* records waiting, whole frames */
    u_char                           *buf;
    u_char                           *last;
    ngx_uint_t                        n;

    /* an XADD in Redis's protocol: its fixed start, a field's name */
    ngx_str_t                         xadd;
    ngx_str_t                         names[APIAUTH_CALL_NFIELDS];
    u_char                           *resp;

    /* the batch in flight */
    u_char                           *fly;
    u_char                           *fly_last;
    ngx_uint_t                        fly_n;
    ngx_uint_t                        pending;      /* replies to come */
    ngx_http_apiauth_redis_cmd_t     *cmds;
    unsigned                          failed:1;
    unsigned                          from_spool:1;

    unsigned                          exiting:1;
    unsigned                          flush_armed:1;

    ngx_msec_t                        backoff;
    ngx_msec_t                        retry_at;
    ngx_uint_t                        retrying;

    time_t                            error_logged;
    time_t                            drop_logged;
    ngx_uint_t                        drops;        /* not yet logged */
} ngx_http_apiauth_pipeline_t;


static void ngx_http_apiauth_pipeline_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_apiauth_pipeline_protocol(
    ngx_http_apiauth_pipeline_t *pl, ngx_pool_t *pool);
static void ngx_http_apiauth_pipeline_send(ngx_http_apiauth_pipeline_t *pl);
static void ngx_http_apiauth_pipeline_reply(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_apiauth_pipeline_done(ngx_http_apiauth_pipeline_t *pl);
static void ngx_http_apiauth_pipeline_take(ngx_http_apiauth_pipeline_t *pl);
static void ngx_http_apiauth_pipeline_spill(ngx_http_apiauth_pipeline_t *pl,
    u_char *p, u_char *last, ngx_uint_t n);
static void ngx_http_apiauth_pipeline_drop(ngx_http_apiauth_pipeline_t *pl,
    ngx_uint_t n);
static void ngx_http_apiauth_pipeline_lost(ngx_http_apiauth_pipeline_t *pl);


static ngx_http_apiauth_pipeline_t  *ngx_http_apiauth_pipe;


/* apiauth_records_pipeline's defaults, where it is not given */

void
ngx_http_apiauth_pipeline_conf_init(ngx_http_apiauth_records_conf_t *conf)
{
    conf->flush = NGX_CONF_UNSET_MSEC;
    conf->batch = NGX_CONF_UNSET_UINT;
    conf->buffer = NGX_CONF_UNSET_SIZE;
    conf->spool_size = NGX_CONF_UNSET;
    conf->maxlen = NGX_CONF_UNSET_UINT;
    conf->spool_on = NGX_CONF_UNSET;
}


char *
ngx_http_apiauth_pipeline(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_apiauth_main_conf_t *amcf = conf;

    ssize_t                           size;
    ngx_str_t                        *value, s;
    ngx_int_t                         n;
    ngx_uint_t                        i;
    ngx_http_apiauth_records_conf_t  *rc;

    rc = &amcf->records;

    if (rc->set) {
        return "is duplicate";
    }

    rc->set = 1;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "stream=", 7) == 0) {
            rc->stream.data = value[i].data + 7;
            rc->stream.len = value[i].len - 7;

            if (rc->stream.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            rc->flush = ngx_parse_time(&s, 0);
            if (rc->flush == (ngx_msec_t) NGX_ERROR || rc->flush == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "batch=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n == NGX_ERROR || n < 1 || n > 10000) {
                goto invalid;
            }

            rc->batch = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "buffer=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR || size < 64 * 1024) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "apiauth: buffer must be at least 64k "
                                   "in \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            rc->buffer = size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "spool=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            if (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
                rc->spool_on = 0;
                continue;
            }

            if (s.len == 0) {
                goto invalid;
            }

            if (ngx_conf_full_name(cf->cycle, &s, 0) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            rc->spool_dir = s;
            rc->spool_on = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "spool_size=", 11) == 0) {
            s.data = value[i].data + 11;
            s.len = value[i].len - 11;

            rc->spool_size = ngx_parse_offset(&s);
            if (rc->spool_size == NGX_ERROR || rc->spool_size < 1024 * 1024) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "apiauth: spool_size must be at least 1m "
                                   "in \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "maxlen=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);
            if (n == NGX_ERROR || n < 1) {
                goto invalid;
            }

            rc->maxlen = n;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * the defaults, and the spool directory, which the master makes for the
 * worker's user as it makes the temp paths
 */

char *
ngx_http_apiauth_pipeline_init_conf(ngx_conf_t *cf,
    ngx_http_apiauth_records_conf_t *rc)
{
    ngx_path_t  *path;

    if (rc->stream.len == 0) {
        ngx_str_set(&rc->stream, APIAUTH_RECORDS_STREAM);
    }

    ngx_conf_init_msec_value(rc->flush, 100);
    ngx_conf_init_uint_value(rc->batch, 256);
    ngx_conf_init_size_value(rc->buffer, 1024 * 1024);
    ngx_conf_init_value(rc->spool_size, (off_t) 1024 * 1024 * 1024);
    ngx_conf_init_uint_value(rc->maxlen, 0);
    ngx_conf_init_value(rc->spool_on, 1);

    if (!rc->used || !rc->spool_on) {
        return NGX_CONF_OK;
    }

    if (rc->spool_dir.len == 0) {
        ngx_str_set(&rc->spool_dir, NGX_HTTP_APIAUTH_SPOOL_DIR);
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name = rc->spool_dir;
    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_apiauth_pipeline_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf)
{
    ngx_http_apiauth_pipeline_t       *pl;
    ngx_http_apiauth_records_conf_t  *rc;

    rc = &amcf->records;

    pl = ngx_pcalloc(cycle->pool, sizeof(ngx_http_apiauth_pipeline_t));
    if (pl == NULL) {
        return NGX_ERROR;
    }

    pl->conf = rc;

    pl->log = cycle->log;
    pl->backoff = NGX_HTTP_APIAUTH_RETRY_MIN;

    pl->buf = ngx_alloc(rc->buffer, cycle->log);
    pl->fly = ngx_alloc(rc->buffer, cycle->log);
    pl->cmds = ngx_pcalloc(cycle->pool,
                       rc->batch * sizeof(ngx_http_apiauth_redis_cmd_t));

    if (pl->buf == NULL || pl->fly == NULL || pl->cmds == NULL) {
        return NGX_ERROR;
    }

    pl->last = pl->buf;
    pl->fly_last = pl->fly;

    if (ngx_http_apiauth_pipeline_protocol(pl, cycle->pool) != NGX_OK) {
        return NGX_ERROR;
    }

    pl->tick.handler = ngx_http_apiauth_pipeline_tick;
    pl->tick.log = cycle->log;
    pl->tick.data = pl;
    pl->tick.cancelable = 1;

    if (rc->spool_on) {
        ngx_http_apiauth_spool_init(cycle, &rc->spool_dir, rc->spool_size);
    }

    pl->link = ngx_http_apiauth_redis_open(cycle, amcf,
                                            NGX_HTTP_APIAUTH_LINK_RECORDS,
                                            NULL, NULL);
    if (pl->link == NULL) {
        return NGX_ERROR;
    }

    ngx_http_apiauth_pipe = pl;

    /* what earlier workers left is looked for at once */
    ngx_add_timer(&pl->tick, rc->flush);

    return NGX_OK;
}


/*
 * no event loop any more: the batch in flight (its replies now come as
 * failures) and the buffer go to the spool
 */

void
ngx_http_apiauth_pipeline_exit(void)
{
    ngx_http_apiauth_pipeline_t  *pl = ngx_http_apiauth_pipe;

    if (pl == NULL) {
        return;
    }

    pl->exiting = 1;

    if (pl->link) {
        ngx_http_apiauth_redis_close(pl->link);
        pl->link = NULL;
    }

    if (pl->pending) {
        /* commands never sent answer nothing: the batch fails whole */
        pl->pending = 0;
        pl->failed = 1;
        ngx_http_apiauth_pipeline_done(pl);
    }

    ngx_http_apiauth_pipeline_spill(pl, pl->buf, pl->last, pl->n);
    pl->last = pl->buf;
    pl->n = 0;

    if (pl->conf->spool_on) {
        ngx_http_apiauth_spool_exit();
    }

    if (pl->tick.timer_set) {
        ngx_del_timer(&pl->tick);
    }

    ngx_free(pl->buf);
    ngx_free(pl->fly);

    ngx_http_apiauth_pipe = NULL;
}


/* the log phase: a frame into the buffer, nothing more */

void
ngx_http_apiauth_pipeline_add(ngx_str_t *f)
{
    size_t                       size;
    ngx_http_apiauth_pipeline_t  *pl = ngx_http_apiauth_pipe;

    if (pl == NULL || pl->exiting) {
        return;
    }

    size = ngx_http_apiauth_frame_size(f, APIAUTH_CALL_NFIELDS);

    if ((size_t) (pl->buf + pl->conf->buffer - pl->last) < size) {
        /* the buffer is full while a batch is out or Redis is away */
        ngx_http_apiauth_pipeline_spill(pl, pl->buf, pl->last, pl->n);
        pl->last = pl->buf;
        pl->n = 0;
    }

    pl->last = ngx_http_apiauth_frame_write(pl->last, f,
                                             APIAUTH_CALL_NFIELDS);
    pl->n++;

    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS, 1);
    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_BUFFERED, 1);

    /* a batch's worth, or half the buffer: on its way at once */

    if (pl->n >= pl->conf->batch
        || (size_t) (pl->last - pl->buf) > pl->conf->buffer / 2)
    {
        if (!pl->tick.posted) {
            ngx_post_event(&pl->tick, &ngx_posted_events);
        }

    } else if (!pl->flush_armed) {
        /* sooner than an idle look at the spool */
        ngx_add_timer(&pl->tick, pl->conf->flush);
        pl->flush_armed = 1;
    }
}


/*
 * the spool first, oldest first, then the buffer; while Redis refuses,
 * the buffer waits in the spool
 */

static void
ngx_http_apiauth_pipeline_tick(ngx_event_t *ev)
{
    size_t                            len;
    ngx_uint_t                        n;
    ngx_msec_int_t                    wait;
    ngx_http_apiauth_pipeline_t       *pl = ev->data;
    ngx_http_apiauth_records_conf_t  *rc = pl->conf;

    if (pl->exiting || pl->pending) {
        return;
    }

    if (pl->tick.timer_set) {
        ngx_del_timer(&pl->tick);
    }

    pl->flush_armed = 0;

    if (pl->retrying) {
        wait = (ngx_msec_int_t) (pl->retry_at - ngx_current_msec);

        if (wait > 0) {
            ngx_http_apiauth_pipeline_spill(pl, pl->buf, pl->last, pl->n);
            pl->last = pl->buf;
            pl->n = 0;

            ngx_add_timer(&pl->tick, (ngx_msec_t) wait);
            return;
        }
    }

    if (rc->spool_on && ngx_http_apiauth_spool_pending()) {
        len = ngx_http_apiauth_spool_read(pl->fly, rc->buffer, rc->batch, &n);

        ngx_http_apiauth_pipeline_lost(pl);

        if (len) {
            pl->fly_last = pl->fly + len;
            pl->fly_n = n;
            pl->from_spool = 1;
            ngx_http_apiauth_pipeline_send(pl);
            return;
        }
    }

    if (pl->n) {
        ngx_http_apiauth_pipeline_take(pl);
        pl->from_spool = 0;
        ngx_http_apiauth_pipeline_send(pl);
        return;
    }

    /* idle: a look at the spool directory now and then */

    if (rc->spool_on) {
        ngx_add_timer(&pl->tick, NGX_HTTP_APIAUTH_SPOOL_SCAN * 1000);
    }
}


/* a batch's worth of the buffer goes into flight */

static void
ngx_http_apiauth_pipeline_take(ngx_http_apiauth_pipeline_t *pl)
{
    u_char      *p, *q;
    ngx_uint_t   n;

    if (pl->n <= pl->conf->batch) {
        p = pl->fly;
        pl->fly = pl->buf;
        pl->fly_last = pl->last;
        pl->fly_n = pl->n;

        pl->buf = p;
        pl->last = p;
        pl->n = 0;
        return;
    }

    p = pl->buf;

    for (n = 0; n < pl->conf->batch; n++) {
        p += ngx_http_apiauth_frame_len(p);
    }

    q = ngx_cpymem(pl->fly, pl->buf, p - pl->buf);
    pl->fly_last = q;
    pl->fly_n = n;

    pl->last = ngx_movemem(pl->buf, p, pl->last - p);
    pl->n -= n;
}


/*
 * the XADD of a record is written here in Redis's protocol: what is the
 * same for every record once, at start, then the values (hiredis's
 * formatting costs more than the rest of a record together)
 */

static ngx_int_t
ngx_http_apiauth_pipeline_protocol(ngx_http_apiauth_pipeline_t *pl,
    ngx_pool_t *pool)
{
    u_char                           *p;
    size_t                            len;
    ngx_uint_t                        k, argc;
    u_char                            maxlen[NGX_INT_T_LEN];
    ngx_http_apiauth_records_conf_t  *rc = pl->conf;

    argc = 3 + 2 * APIAUTH_CALL_NFIELDS + (rc->maxlen ? 3 : 0);
    len = ngx_sprintf(maxlen, "%ui", rc->maxlen) - maxlen;

    p = ngx_pnalloc(pool, 128 + rc->stream.len + len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    pl->xadd.data = p;
    p = ngx_sprintf(p, "*%ui\r\n$4\r\nXADD\r\n$%uz\r\n%V\r\n", argc,
                    rc->stream.len, &rc->stream);

    if (rc->maxlen) {
        p = ngx_sprintf(p, "$6\r\nMAXLEN\r\n$1\r\n~\r\n$%uz\r\n%*s\r\n", len,
                        len, maxlen);
    }

    p = ngx_cpymem(p, "$1\r\n*\r\n", 7);
    pl->xadd.len = p - pl->xadd.data;

    for (k = 0; k < APIAUTH_CALL_NFIELDS; k++) {
        len = ngx_strlen(apiauth_call_fields[k]);

        p = ngx_pnalloc(pool, len + NGX_HTTP_APIAUTH_BULK_HEAD + 2);
        if (p == NULL) {
            return NGX_ERROR;
        }

        pl->names[k].data = p;
        p = ngx_sprintf(p, "$%uz\r\n%s\r\n", len, apiauth_call_fields[k]);
        pl->names[k].len = p - pl->names[k].data;
    }

    len = pl->xadd.len;

    for (k = 0; k < APIAUTH_CALL_NFIELDS; k++) {
        len += pl->names[k].len + NGX_HTTP_APIAUTH_BULK_HEAD + 2
               + NGX_HTTP_APIAUTH_FIELD_MAX;
    }

    pl->resp = ngx_pnalloc(pool, len);

    return pl->resp ? NGX_OK : NGX_ERROR;
}


/* a bulk string: "$" len CRLF bytes CRLF */

static u_char *
ngx_http_apiauth_pipeline_bulk(u_char *p, ngx_str_t *v)
{
    u_char  *d, digits[NGX_HTTP_APIAUTH_BULK_HEAD];
    size_t   n;

    d = digits + sizeof(digits);
    n = v->len;

    do {
        *--d = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    *p++ = '$';
    p = ngx_cpymem(p, d, digits + sizeof(digits) - d);
    *p++ = CR; *p++ = LF;

    if (v->len) {
        p = ngx_cpymem(p, v->data, v->len);
    }

    *p++ = CR; *p++ = LF;

    return p;
}


static void
ngx_http_apiauth_pipeline_send(ngx_http_apiauth_pipeline_t *pl)
{
    u_char                        *p, *q;
    ngx_str_t                      f[APIAUTH_CALL_NFIELDS];
    ngx_uint_t                     i, k;
    ngx_http_apiauth_redis_cmd_t  *cmd;

    pl->failed = 0;
    pl->pending = 0;

    p = pl->fly;

    for (i = 0; i < pl->fly_n; i++) {
        if (ngx_http_apiauth_frame_next(&p, pl->fly_last, f,
                                        APIAUTH_CALL_NFIELDS)
            != NGX_OK)
        {
            pl->failed = 1;
            break;
        }

        q = ngx_cpymem(pl->resp, pl->xadd.data, pl->xadd.len);

        for (k = 0; k < APIAUTH_CALL_NFIELDS; k++) {
            q = ngx_cpymem(q, pl->names[k].data, pl->names[k].len);
            q = ngx_http_apiauth_pipeline_bulk(q, &f[k]);
        }

        /* one timer a batch: on its last command, answered last */

        cmd = &pl->cmds[i];
        cmd->handler = ngx_http_apiauth_pipeline_reply;
        cmd->data = pl;
        cmd->timeout = (i + 1 == pl->fly_n) ? 0 : NGX_TIMER_INFINITE;
        cmd->cancelable = 1;

        if (ngx_http_apiauth_redis_send_formatted(pl->link, cmd, pl->resp,
                                                  q - pl->resp)
            != NGX_OK)
        {
            pl->failed = 1;
            break;
        }

        pl->pending++;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, pl->log, 0,
                   "apiauth pipeline: %ui of %ui sent%s", pl->pending,
                   pl->fly_n, pl->from_spool ? " from the spool" : "");

    if (pl->pending == 0) {
        ngx_http_apiauth_pipeline_done(pl);

    } else if (pl->failed) {
        /*
         * those sent have no timer (the last command has it): the link
         * goes, and they fail with it, the batch with them
         */
        ngx_http_apiauth_redis_reset(pl->link, "did not take a command");
    }
}


static void
ngx_http_apiauth_pipeline_reply(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_http_apiauth_pipeline_t  *pl = cmd->data;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {

        if (!pl->failed && reply && reply->type == REDIS_REPLY_ERROR
            && ngx_time() != pl->error_logged)
        {
            pl->error_logged = ngx_time();
            ngx_log_error(NGX_LOG_ERR, pl->log, 0,
                          "apiauth: Redis refused call records: %*s",
                          ngx_min(reply->len, (size_t) 256), reply->str);
        }

        pl->failed = 1;
    }

    if (--pl->pending == 0) {
        ngx_http_apiauth_pipeline_done(pl);
    }
}


/*
 * a batch is answered: all taken, or else it is spooled (one that timed
 * out may have reached Redis: the drain keeps one record per request id)
 */

static void
ngx_http_apiauth_pipeline_done(ngx_http_apiauth_pipeline_t *pl)
{
    if (pl->failed) {
        if (!pl->from_spool) {
            ngx_http_apiauth_pipeline_spill(pl, pl->fly, pl->fly_last,
                                           pl->fly_n);
        }

        pl->fly_last = pl->fly;
        pl->fly_n = 0;

        if (pl->exiting) {
            return;
        }

        pl->retrying = 1;
        pl->retry_at = ngx_current_msec + pl->backoff;
        pl->backoff = ngx_min(pl->backoff * 2, NGX_HTTP_APIAUTH_RETRY_MAX);

        if (!pl->tick.timer_set) {
            ngx_add_timer(&pl->tick, pl->conf->flush);
        }

        return;
    }

    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_SENT, pl->fly_n);

    if (pl->from_spool) {
        ngx_http_apiauth_spool_commit();
        ngx_http_apiauth_pipeline_lost(pl);
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_REPLAYED,
                                  pl->fly_n);

    } else {
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_BUFFERED,
                                  -(ngx_atomic_int_t) pl->fly_n);
    }

    pl->fly_last = pl->fly;
    pl->fly_n = 0;
    pl->retrying = 0;
    pl->backoff = NGX_HTTP_APIAUTH_RETRY_MIN;

    if (pl->exiting) {
        return;
    }

    /* more waits: on at once, as a posted event, never from this callback */

    if (pl->from_spool || pl->n >= pl->conf->batch) {
        if (!pl->tick.posted) {
            ngx_post_event(&pl->tick, &ngx_posted_events);
        }

    } else if (!pl->tick.timer_set) {
        ngx_add_timer(&pl->tick, pl->conf->flush);
        pl->flush_armed = 1;
    }
}


/* frames that Redis did not take: to the spool, or else dropped */

static void
ngx_http_apiauth_pipeline_spill(ngx_http_apiauth_pipeline_t *pl, u_char *p,
    u_char *last, ngx_uint_t n)
{
    ngx_uint_t  written;

    if (n == 0) {
        return;
    }

    written = 0;

    if (pl->conf->spool_on) {
        written = ngx_http_apiauth_spool_write(p, last);
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_SPOOLED,
                                  written);
    }

    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_BUFFERED,
                              -(ngx_atomic_int_t) n);

    if (written < n) {
        ngx_http_apiauth_pipeline_drop(pl, n - written);
    }
}


/* records of the spool found torn or damaged, once read past */

static void
ngx_http_apiauth_pipeline_lost(ngx_http_apiauth_pipeline_t *pl)
{
    ngx_uint_t  lost;

    lost = ngx_http_apiauth_spool_lost();

    if (lost) {
        ngx_log_error(NGX_LOG_ERR, pl->log, 0,
                      "apiauth: %ui call records torn or damaged in the "
                      "spool, lost", lost);
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_DROPPED, lost);
    }
}


/* counted always, logged at most once a second */

static void
ngx_http_apiauth_pipeline_drop(ngx_http_apiauth_pipeline_t *pl, ngx_uint_t n)
{
    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_DROPPED, n);

    pl->drops += n;

    if (ngx_time() == pl->drop_logged && !pl->exiting) {
        return;
    }

    pl->drop_logged = ngx_time();

    ngx_log_error(NGX_LOG_ERR, pl->log, 0,
                  "apiauth: %ui call records dropped: %s", pl->drops,
                  pl->conf->spool_on ? "the spool is full or cannot be "
                                        "written"
                                      : "Redis did not take them and the "
                                        "spool is off");
    pl->drops = 0;
}
