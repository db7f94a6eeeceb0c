
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Call records: the log phase appends a frame per call to a per-worker
 * buffer, and nothing else; a timer sends the buffer in batches of
 * pipelined XADDs on a Redis link of the worker's own, one batch in flight.
 * A batch that Redis refuses, or that fails or times out, goes to the spool
 * (ngx_http_apiauth_spool.c), and so does the buffer while Redis refuses
 * writes; the spool is replayed, oldest first, before the buffer once it
 * takes them again.  At exit, with no event loop left, whatever is not
 * acknowledged is written to the spool, for a later worker to replay.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_RETRY_MIN     500        /* ms */
#define NGX_HTTP_APIAUTH_RETRY_MAX     5000

/* a bulk string's header: "$65535\r\n" */
#define NGX_HTTP_APIAUTH_BULK_HEAD     8


typedef struct {
    ngx_http_apiauth_main_conf_t     *amcf;
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

    /* request ids made here: a secret key, and a count */
    uint64_t                          id_key[2];
    uint64_t                          id_count;

    time_t                            error_logged;
    time_t                            drop_logged;
    ngx_uint_t                        drops;        /* not yet logged */
} ngx_http_apiauth_records_t;


static void ngx_http_apiauth_records_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_apiauth_records_protocol(
    ngx_http_apiauth_records_t *rec, ngx_pool_t *pool);
static void ngx_http_apiauth_records_send(ngx_http_apiauth_records_t *rec);
static void ngx_http_apiauth_records_reply(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_apiauth_records_done(ngx_http_apiauth_records_t *rec);
static void ngx_http_apiauth_records_take(ngx_http_apiauth_records_t *rec);
static void ngx_http_apiauth_records_spill(ngx_http_apiauth_records_t *rec,
    u_char *p, u_char *last, ngx_uint_t n);
static void ngx_http_apiauth_records_drop(ngx_http_apiauth_records_t *rec,
    ngx_uint_t n);
static ngx_http_variable_value_t *ngx_http_apiauth_records_id(
    ngx_http_request_t *r);
static void ngx_http_apiauth_records_add(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t reason);
static void ngx_http_apiauth_records_fields(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t reason, ngx_str_t *f,
    u_char *num);


static ngx_http_apiauth_records_t  *ngx_http_apiauth_records;



/*
 * the log phase: each request that apiauth judged is counted, and
 * recorded where the location that judged it last says so
 */

ngx_int_t
ngx_http_apiauth_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t               reason;
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_apiauth_get_ctx(r);

    if (ctx == NULL || ctx->record_loc == NULL) {
        return NGX_OK;
    }

    reason = ctx->reason ? ctx->reason : NGX_HTTP_APIAUTH_UNFINISHED;

    ngx_http_apiauth_stat_reason(reason);

    if (ctx->record_loc->records) {
        ngx_http_apiauth_records_add(r, ctx, reason);
    }

    return NGX_OK;
}


/* the location judging: what the record names, as it was here */

void
ngx_http_apiauth_records_note(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf)
{
    if (ctx->record_loc == alcf) {
        return;
    }

    ctx->record_loc = alcf;

    ngx_str_null(&ctx->record_app);
    ngx_str_null(&ctx->record_interface);

    if (!alcf->records) {
        return;
    }

    if (alcf->app) {
        (void) ngx_http_complex_value(r, alcf->app, &ctx->record_app);
    }

    if (alcf->interface) {
        (void) ngx_http_complex_value(r, alcf->interface,
                                      &ctx->record_interface);
    }
}


/* apiauth_records_pipeline's defaults, where it is not given */

void
ngx_http_apiauth_records_conf_init(ngx_http_apiauth_records_conf_t *conf)
{
    conf->flush = NGX_CONF_UNSET_MSEC;
    conf->batch = NGX_CONF_UNSET_UINT;
    conf->buffer = NGX_CONF_UNSET_SIZE;
    conf->spool_size = NGX_CONF_UNSET;
    conf->maxlen = NGX_CONF_UNSET_UINT;
    conf->spool_on = NGX_CONF_UNSET;
}


char *
ngx_http_apiauth_records_pipeline(ngx_conf_t *cf, ngx_command_t *cmd,
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
ngx_http_apiauth_records_init_conf(ngx_conf_t *cf,
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
ngx_http_apiauth_records_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf)
{
    ngx_http_apiauth_records_t       *rec;
    ngx_http_apiauth_records_conf_t  *rc;

    rc = &amcf->records;

    if (!rc->used) {
        return NGX_OK;
    }

    rec = ngx_pcalloc(cycle->pool, sizeof(ngx_http_apiauth_records_t));
    if (rec == NULL) {
        return NGX_ERROR;
    }

    rec->amcf = amcf;
    rec->conf = rc;

    if (RAND_bytes((u_char *) rec->id_key, sizeof(rec->id_key)) != 1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "apiauth: RAND_bytes() failed");
        return NGX_ERROR;
    }

    rec->log = cycle->log;
    rec->backoff = NGX_HTTP_APIAUTH_RETRY_MIN;

    rec->buf = ngx_alloc(rc->buffer, cycle->log);
    rec->fly = ngx_alloc(rc->buffer, cycle->log);
    rec->cmds = ngx_pcalloc(cycle->pool,
                       rc->batch * sizeof(ngx_http_apiauth_redis_cmd_t));

    if (rec->buf == NULL || rec->fly == NULL || rec->cmds == NULL) {
        return NGX_ERROR;
    }

    rec->last = rec->buf;
    rec->fly_last = rec->fly;

    if (ngx_http_apiauth_records_protocol(rec, cycle->pool) != NGX_OK) {
        return NGX_ERROR;
    }

    rec->tick.handler = ngx_http_apiauth_records_tick;
    rec->tick.log = cycle->log;
    rec->tick.data = rec;
    rec->tick.cancelable = 1;

    if (rc->spool_on) {
        ngx_http_apiauth_spool_init(cycle, &rc->spool_dir, rc->spool_size);
    }

    rec->link = ngx_http_apiauth_redis_open(cycle, amcf,
                                            NGX_HTTP_APIAUTH_LINK_RECORDS,
                                            NULL, NULL);
    if (rec->link == NULL) {
        return NGX_ERROR;
    }

    ngx_http_apiauth_records = rec;

    /* what earlier workers left is looked for at once */
    ngx_add_timer(&rec->tick, rc->flush);

    return NGX_OK;
}


/*
 * no event loop any more: the batch in flight (its replies now come as
 * failures) and the buffer go to the spool
 */

void
ngx_http_apiauth_records_exit(void)
{
    ngx_http_apiauth_records_t  *rec = ngx_http_apiauth_records;

    if (rec == NULL) {
        return;
    }

    rec->exiting = 1;

    if (rec->link) {
        ngx_http_apiauth_redis_close(rec->link);
        rec->link = NULL;
    }

    if (rec->pending) {
        /* commands never sent answer nothing: the batch fails whole */
        rec->pending = 0;
        rec->failed = 1;
        ngx_http_apiauth_records_done(rec);
    }

    ngx_http_apiauth_records_spill(rec, rec->buf, rec->last, rec->n);
    rec->last = rec->buf;
    rec->n = 0;

    if (rec->conf->spool_on) {
        ngx_http_apiauth_spool_exit();
    }

    if (rec->tick.timer_set) {
        ngx_del_timer(&rec->tick);
    }

    ngx_free(rec->buf);
    ngx_free(rec->fly);

    ngx_http_apiauth_records = NULL;
}


/* the log phase: a frame into the buffer, nothing more */

static void
ngx_http_apiauth_records_add(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t reason)
{
    size_t                       size;
    ngx_str_t                    f[APIAUTH_CALL_NFIELDS];
    u_char                       num[4 * NGX_INT64_LEN + 64];
    ngx_http_apiauth_records_t  *rec = ngx_http_apiauth_records;

    if (rec == NULL || rec->exiting) {
        return;
    }

    ngx_http_apiauth_records_fields(r, ctx, reason, f, num);

    size = ngx_http_apiauth_frame_size(f, APIAUTH_CALL_NFIELDS);

    if ((size_t) (rec->buf + rec->conf->buffer - rec->last) < size) {
        /* the buffer is full while a batch is out or Redis is away */
        ngx_http_apiauth_records_spill(rec, rec->buf, rec->last, rec->n);
        rec->last = rec->buf;
        rec->n = 0;
    }

    rec->last = ngx_http_apiauth_frame_write(rec->last, f,
                                             APIAUTH_CALL_NFIELDS);
    rec->n++;

    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS, 1);
    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_BUFFERED, 1);

    if (rec->n >= rec->conf->batch) {
        if (!rec->tick.posted) {
            ngx_post_event(&rec->tick, &ngx_posted_events);
        }

    } else if (!rec->flush_armed) {
        /* sooner than an idle look at the spool */
        ngx_add_timer(&rec->tick, rec->conf->flush);
        rec->flush_armed = 1;
    }
}


/*
 * $request_id, as the access log saw it; where nothing asked for it, made
 * here and kept as its value for what asks later: 128 bits as nginx's, a
 * keyed hash of a count in place of RAND_bytes(), which costs a record
 * more than all else (docs/performance.md)
 */

static ngx_http_variable_value_t *
ngx_http_apiauth_records_id(ngx_http_request_t *r)
{
    u_char                      *p;
    uint64_t                     id[2];
    ngx_http_variable_value_t   *vv;
    ngx_http_apiauth_records_t  *rec = ngx_http_apiauth_records;

    vv = &r->variables[rec->amcf->request_id_index];

    if (vv->valid || vv->not_found) {
        return vv->not_found ? NULL : vv;
    }

    p = ngx_pnalloc(r->pool, 32);
    if (p == NULL) {
        return NULL;
    }

    rec->id_count++;
    id[0] = apiauth_siphash(rec->id_key, (u_char *) &rec->id_count,
                            sizeof(uint64_t));
    id[1] = apiauth_siphash(rec->id_key, (u_char *) id, sizeof(uint64_t));

    ngx_hex_dump(p, (u_char *) id, sizeof(id));

    vv->data = p;
    vv->len = 32;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;

    return vv;
}


static void
ngx_http_apiauth_records_fields(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t reason, ngx_str_t *f,
    u_char *num)
{
    u_char                     *p;
    ngx_msec_int_t              ms;
    ngx_uint_t                  i, status;
    ngx_time_t                 *tp;
    ngx_http_variable_value_t  *vv;
    ngx_http_apiauth_reason_t  *rs;
    ngx_http_core_srv_conf_t   *cscf;

    ngx_memzero(f, APIAUTH_CALL_NFIELDS * sizeof(ngx_str_t));

    ngx_str_set(&f[APIAUTH_CALL_VERSION], NGX_HTTP_APIAUTH_RECORDS_VERSION);

    vv = ngx_http_apiauth_records_id(r);
    if (vv) {
        f[APIAUTH_CALL_ID].data = vv->data;
        f[APIAUTH_CALL_ID].len = vv->len;
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    if (r->err_status) {
        status = r->err_status;

    } else {
        status = r->headers_out.status;
    }

    p = num;

    f[APIAUTH_CALL_TIME].data = p;
    p = ngx_sprintf(p, "%T%03M", r->start_sec, r->start_msec);
    f[APIAUTH_CALL_TIME].len = p - f[APIAUTH_CALL_TIME].data;

    f[APIAUTH_CALL_STATUS].data = p;
    p = ngx_sprintf(p, "%ui", status);
    f[APIAUTH_CALL_STATUS].len = p - f[APIAUTH_CALL_STATUS].data;

    f[APIAUTH_CALL_RT].data = p;
    p = ngx_sprintf(p, "%M", (ngx_msec_t) ngx_max(ms, 0));
    f[APIAUTH_CALL_RT].len = p - f[APIAUTH_CALL_RT].data;

    f[APIAUTH_CALL_BYTES].data = p;
    p = ngx_sprintf(p, "%O", r->connection->sent);
    f[APIAUTH_CALL_BYTES].len = p - f[APIAUTH_CALL_BYTES].data;

    /* an accessKey that is not well formed may be anything: not kept */

    if (apiauth_access_key_check(ctx->access_key.data, ctx->access_key.len)
        == 0)
    {
        f[APIAUTH_CALL_AK] = ctx->access_key;
    }

    if (ctx->have_key && ctx->cred_reason == NGX_HTTP_APIAUTH_OK) {
        f[APIAUTH_CALL_NAME] = ctx->key.name;
    }

    f[APIAUTH_CALL_IP] = r->connection->addr_text;
    f[APIAUTH_CALL_METHOD] = r->method_name;

    /* the path as sent; its query may carry secrets */

    f[APIAUTH_CALL_PATH] = r->unparsed_uri;

    p = ngx_strlchr(r->unparsed_uri.data,
                    r->unparsed_uri.data + r->unparsed_uri.len, '?');
    if (p) {
        f[APIAUTH_CALL_PATH].len = p - r->unparsed_uri.data;
    }

    f[APIAUTH_CALL_INTERFACE] = ctx->record_interface;
    f[APIAUTH_CALL_APP] = ctx->record_app;

    rs = &ngx_http_apiauth_reasons[reason];
    f[APIAUTH_CALL_RESULT] = rs->result;
    f[APIAUTH_CALL_REASON] = rs->code;

    /* as $apiauth_reason says it: "ok;stale" */

    if (ctx->stale) {
        f[APIAUTH_CALL_REASON].data = p;
        p = ngx_cpymem(p, rs->code.data, rs->code.len);
        p = ngx_cpymem(p, ";stale", sizeof(";stale") - 1);
        f[APIAUTH_CALL_REASON].len = p - f[APIAUTH_CALL_REASON].data;
    }

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
    f[APIAUTH_CALL_SERVER] = cscf->server_name;

    f[APIAUTH_CALL_NODE] = ngx_cycle->hostname;

    for (i = 0; i < APIAUTH_CALL_NFIELDS; i++) {
        if (f[i].len > NGX_HTTP_APIAUTH_FIELD_MAX) {
            f[i].len = NGX_HTTP_APIAUTH_FIELD_MAX;
        }
    }
}


/*
 * the spool first, oldest first, then the buffer; while Redis refuses,
 * the buffer waits in the spool
 */

static void
ngx_http_apiauth_records_tick(ngx_event_t *ev)
{
    size_t                            len;
    ngx_uint_t                        n, lost;
    ngx_msec_int_t                    wait;
    ngx_http_apiauth_records_t       *rec = ev->data;
    ngx_http_apiauth_records_conf_t  *rc = rec->conf;

    if (rec->exiting || rec->pending) {
        return;
    }

    if (rec->tick.timer_set) {
        ngx_del_timer(&rec->tick);
    }

    rec->flush_armed = 0;

    if (rec->retrying) {
        wait = (ngx_msec_int_t) (rec->retry_at - ngx_current_msec);

        if (wait > 0) {
            ngx_http_apiauth_records_spill(rec, rec->buf, rec->last, rec->n);
            rec->last = rec->buf;
            rec->n = 0;

            ngx_add_timer(&rec->tick, (ngx_msec_t) wait);
            return;
        }
    }

    if (rc->spool_on && ngx_http_apiauth_spool_pending()) {
        len = ngx_http_apiauth_spool_read(rec->fly, rc->buffer, rc->batch, &n,
                                          &lost);
        if (lost) {
            ngx_log_error(NGX_LOG_ERR, rec->log, 0,
                          "apiauth: %ui call records torn or damaged in the "
                          "spool, lost", lost);
            ngx_http_apiauth_records_drop(rec, lost);
        }

        if (len) {
            rec->fly_last = rec->fly + len;
            rec->fly_n = n;
            rec->from_spool = 1;
            ngx_http_apiauth_records_send(rec);
            return;
        }
    }

    if (rec->n) {
        ngx_http_apiauth_records_take(rec);
        rec->from_spool = 0;
        ngx_http_apiauth_records_send(rec);
        return;
    }

    /* idle: a look at the spool directory now and then */

    if (rc->spool_on) {
        ngx_add_timer(&rec->tick, NGX_HTTP_APIAUTH_SPOOL_SCAN * 1000);
    }
}


/* a batch's worth of the buffer goes into flight */

static void
ngx_http_apiauth_records_take(ngx_http_apiauth_records_t *rec)
{
    u_char      *p, *q;
    ngx_str_t    f[APIAUTH_CALL_NFIELDS];
    ngx_uint_t   n;

    if (rec->n <= rec->conf->batch) {
        p = rec->fly;
        rec->fly = rec->buf;
        rec->fly_last = rec->last;
        rec->fly_n = rec->n;

        rec->buf = p;
        rec->last = p;
        rec->n = 0;
        return;
    }

    p = rec->buf;

    for (n = 0; n < rec->conf->batch; n++) {
        (void) ngx_http_apiauth_frame_next(&p, rec->last, f,
                                           APIAUTH_CALL_NFIELDS);
    }

    q = ngx_cpymem(rec->fly, rec->buf, p - rec->buf);
    rec->fly_last = q;
    rec->fly_n = n;

    rec->last = ngx_movemem(rec->buf, p, rec->last - p);
    rec->n -= n;
}


/*
 * the XADD of a record is written here in Redis's protocol: what is the
 * same for every record once, at start, then the values (hiredis's
 * formatting costs more than the rest of a record together)
 */

static ngx_int_t
ngx_http_apiauth_records_protocol(ngx_http_apiauth_records_t *rec,
    ngx_pool_t *pool)
{
    u_char                           *p;
    size_t                            len;
    ngx_uint_t                        k, argc;
    u_char                            maxlen[NGX_INT_T_LEN];
    ngx_http_apiauth_records_conf_t  *rc = rec->conf;

    argc = 3 + 2 * APIAUTH_CALL_NFIELDS + (rc->maxlen ? 3 : 0);
    len = ngx_sprintf(maxlen, "%ui", rc->maxlen) - maxlen;

    p = ngx_pnalloc(pool, 128 + rc->stream.len + len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rec->xadd.data = p;
    p = ngx_sprintf(p, "*%ui\r\n$4\r\nXADD\r\n$%uz\r\n%V\r\n", argc,
                    rc->stream.len, &rc->stream);

    if (rc->maxlen) {
        p = ngx_sprintf(p, "$6\r\nMAXLEN\r\n$1\r\n~\r\n$%uz\r\n%*s\r\n", len,
                        len, maxlen);
    }

    p = ngx_cpymem(p, "$1\r\n*\r\n", 7);
    rec->xadd.len = p - rec->xadd.data;

    for (k = 0; k < APIAUTH_CALL_NFIELDS; k++) {
        len = ngx_strlen(apiauth_call_fields[k]);

        p = ngx_pnalloc(pool, len + NGX_HTTP_APIAUTH_BULK_HEAD + 2);
        if (p == NULL) {
            return NGX_ERROR;
        }

        rec->names[k].data = p;
        p = ngx_sprintf(p, "$%uz\r\n%s\r\n", len, apiauth_call_fields[k]);
        rec->names[k].len = p - rec->names[k].data;
    }

    len = rec->xadd.len;

    for (k = 0; k < APIAUTH_CALL_NFIELDS; k++) {
        len += rec->names[k].len + NGX_HTTP_APIAUTH_BULK_HEAD + 2
               + NGX_HTTP_APIAUTH_FIELD_MAX;
    }

    rec->resp = ngx_pnalloc(pool, len);

    return rec->resp ? NGX_OK : NGX_ERROR;
}


/* a bulk string: "$" len CRLF bytes CRLF */

static u_char *
ngx_http_apiauth_records_bulk(u_char *p, ngx_str_t *v)
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
ngx_http_apiauth_records_send(ngx_http_apiauth_records_t *rec)
{
    u_char                        *p, *q;
    ngx_str_t                      f[APIAUTH_CALL_NFIELDS];
    ngx_uint_t                     i, k;
    ngx_http_apiauth_redis_cmd_t  *cmd;

    rec->failed = 0;
    rec->pending = 0;

    p = rec->fly;

    for (i = 0; i < rec->fly_n; i++) {
        if (ngx_http_apiauth_frame_next(&p, rec->fly_last, f,
                                        APIAUTH_CALL_NFIELDS)
            != NGX_OK)
        {
            rec->failed = 1;
            break;
        }

        q = ngx_cpymem(rec->resp, rec->xadd.data, rec->xadd.len);

        for (k = 0; k < APIAUTH_CALL_NFIELDS; k++) {
            q = ngx_cpymem(q, rec->names[k].data, rec->names[k].len);
            q = ngx_http_apiauth_records_bulk(q, &f[k]);
        }

        /* one timer a batch: on its last command, answered last */

        cmd = &rec->cmds[i];
        cmd->handler = ngx_http_apiauth_records_reply;
        cmd->data = rec;
        cmd->timeout = (i + 1 == rec->fly_n) ? 0 : NGX_TIMER_INFINITE;
        cmd->cancelable = 1;

        if (ngx_http_apiauth_redis_send_formatted(rec->link, cmd, rec->resp,
                                                  q - rec->resp)
            != NGX_OK)
        {
            rec->failed = 1;
            break;
        }

        rec->pending++;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rec->log, 0,
                   "apiauth records: %ui of %ui sent%s", rec->pending,
                   rec->fly_n, rec->from_spool ? " from the spool" : "");

    if (rec->pending == 0) {
        ngx_http_apiauth_records_done(rec);
    }
}


static void
ngx_http_apiauth_records_reply(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_http_apiauth_records_t  *rec = cmd->data;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {

        if (!rec->failed && reply && reply->type == REDIS_REPLY_ERROR
            && ngx_time() != rec->error_logged)
        {
            rec->error_logged = ngx_time();
            ngx_log_error(NGX_LOG_ERR, rec->log, 0,
                          "apiauth: Redis refused call records: %*s",
                          ngx_min(reply->len, (size_t) 256), reply->str);
        }

        rec->failed = 1;
    }

    if (--rec->pending == 0) {
        ngx_http_apiauth_records_done(rec);
    }
}


/*
 * a batch is answered: all taken, or else it is spooled (one that timed
 * out may have reached Redis: the drain keeps one record per request id)
 */

static void
ngx_http_apiauth_records_done(ngx_http_apiauth_records_t *rec)
{
    if (rec->failed) {
        if (!rec->from_spool) {
            ngx_http_apiauth_records_spill(rec, rec->fly, rec->fly_last,
                                           rec->fly_n);
        }

        rec->fly_last = rec->fly;
        rec->fly_n = 0;

        if (rec->exiting) {
            return;
        }

        rec->retrying = 1;
        rec->retry_at = ngx_current_msec + rec->backoff;
        rec->backoff = ngx_min(rec->backoff * 2, NGX_HTTP_APIAUTH_RETRY_MAX);

        if (!rec->tick.timer_set) {
            ngx_add_timer(&rec->tick, rec->conf->flush);
        }

        return;
    }

    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_SENT, rec->fly_n);

    if (rec->from_spool) {
        ngx_http_apiauth_spool_commit();
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_REPLAYED,
                                  rec->fly_n);

    } else {
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_BUFFERED,
                                  -(ngx_atomic_int_t) rec->fly_n);
    }

    rec->fly_last = rec->fly;
    rec->fly_n = 0;
    rec->retrying = 0;
    rec->backoff = NGX_HTTP_APIAUTH_RETRY_MIN;

    if (rec->exiting) {
        return;
    }

    /* more waits: on at once, as a posted event, never from this callback */

    if (rec->from_spool || rec->n >= rec->conf->batch) {
        if (!rec->tick.posted) {
            ngx_post_event(&rec->tick, &ngx_posted_events);
        }

    } else if (!rec->tick.timer_set) {
        ngx_add_timer(&rec->tick, rec->conf->flush);
        rec->flush_armed = 1;
    }
}


/* frames that Redis did not take: to the spool, or else dropped */

static void
ngx_http_apiauth_records_spill(ngx_http_apiauth_records_t *rec, u_char *p,
    u_char *last, ngx_uint_t n)
{
    ngx_uint_t  written;

    if (n == 0) {
        return;
    }

    written = 0;

    if (rec->conf->spool_on) {
        written = ngx_http_apiauth_spool_write(p, last);
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_SPOOLED,
                                  written);
    }

    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_BUFFERED,
                              -(ngx_atomic_int_t) n);

    if (written < n) {
        ngx_http_apiauth_records_drop(rec, n - written);
    }
}


/* counted always, logged at most once a second */

static void
ngx_http_apiauth_records_drop(ngx_http_apiauth_records_t *rec, ngx_uint_t n)
{
    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECORDS_DROPPED, n);

    rec->drops += n;

    if (ngx_time() == rec->drop_logged && !rec->exiting) {
        return;
    }

    rec->drop_logged = ngx_time();

    ngx_log_error(NGX_LOG_ERR, rec->log, 0,
                  "apiauth: %ui call records dropped: %s", rec->drops,
                  rec->conf->spool_on ? "the spool is full or cannot be "
                                        "written"
                                      : "Redis did not take them and the "
                                        "spool is off");
    rec->drops = 0;
}
