
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Call records: in the log phase, each request that apiauth judged is
 * counted (apiauth_status), and, where the location that judged it last
 * says apiauth_records on, becomes a record of the fields docs/records.md
 * lists, handed to the worker's pipeline (ngx_http_apiauth_pipeline.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>

#include "ngx_http_apiauth_module.h"


static void ngx_http_apiauth_records_add(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t reason);
static ngx_http_variable_value_t *ngx_http_apiauth_records_id(
    ngx_http_request_t *r);
static void ngx_http_apiauth_records_fields(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t reason, ngx_str_t *f,
    u_char *num);


static ngx_int_t  ngx_http_apiauth_records_request_id = NGX_ERROR;

/* request ids made here: a secret key, and a count */
static uint64_t   ngx_http_apiauth_records_id_key[2];
static uint64_t   ngx_http_apiauth_records_id_count;


ngx_int_t
ngx_http_apiauth_records_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf)
{
    if (!amcf->records.used) {
        return NGX_OK;
    }

    if (RAND_bytes((u_char *) ngx_http_apiauth_records_id_key,
                   sizeof(ngx_http_apiauth_records_id_key))
        != 1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "apiauth: RAND_bytes() failed");
        return NGX_ERROR;
    }

    ngx_http_apiauth_records_request_id = amcf->request_id_index;

    return ngx_http_apiauth_pipeline_init(cycle, amcf);
}


void
ngx_http_apiauth_records_exit(void)
{
    ngx_http_apiauth_pipeline_exit();
}


/*
 * the log phase: each request that apiauth judged is counted, and
 * recorded where the location that judged it last says so
 */

ngx_int_t
ngx_http_apiauth_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t               reason;
    ngx_http_apiauth_ctx_t  *ctx;

    /* log_subrequest on: a subrequest shares its main request's state */

    if (r != r->main) {
        return NGX_OK;
    }

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


static void
ngx_http_apiauth_records_add(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t reason)
{
    ngx_str_t  f[APIAUTH_CALL_NFIELDS];
    u_char     num[4 * NGX_INT64_LEN + 64];

    ngx_http_apiauth_records_fields(r, ctx, reason, f, num);
    ngx_http_apiauth_pipeline_add(f);
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
    u_char                     *p;
    uint64_t                    id[2];
    ngx_http_variable_value_t  *vv;

    vv = &r->variables[ngx_http_apiauth_records_request_id];

    if (vv->valid || vv->not_found) {
        return vv->not_found ? NULL : vv;
    }

    p = ngx_pnalloc(r->pool, 32);
    if (p == NULL) {
        return NULL;
    }

    ngx_http_apiauth_records_id_count++;

    id[0] = apiauth_siphash(ngx_http_apiauth_records_id_key,
                            (u_char *) &ngx_http_apiauth_records_id_count,
                            sizeof(uint64_t));
    id[1] = apiauth_siphash(ngx_http_apiauth_records_id_key, (u_char *) id,
                            sizeof(uint64_t));

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
