
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Counters in shared memory, one set for all workers, and apiauth_status,
 * the content handler that shows them: JSON, or Prometheus's text format
 * with ?format=prometheus.  The zone outlives reloads, so counters only
 * grow, as Prometheus expects of a counter; gauges (links up, records
 * buffered) go up and down with the workers that hold them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_STATUS_SIZE   (64 * 1024)


typedef struct {
    ngx_atomic_t                stats[NGX_HTTP_APIAUTH_STAT_N];
    ngx_atomic_t                reasons[NGX_HTTP_APIAUTH_REASONS];
} ngx_http_apiauth_status_shctx_t;


typedef struct {
    const char                 *name;
    const char                 *help;
    ngx_uint_t                  stat;
    ngx_uint_t                  gauge;
} ngx_http_apiauth_metric_t;


static ngx_int_t ngx_http_apiauth_status_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_apiauth_status_handler(ngx_http_request_t *r);
static u_char *ngx_http_apiauth_status_json(u_char *p,
    ngx_http_apiauth_status_shctx_t *sh);
static u_char *ngx_http_apiauth_status_prometheus(u_char *p,
    ngx_http_apiauth_status_shctx_t *sh);


static ngx_http_apiauth_status_shctx_t  *ngx_http_apiauth_status_sh;


const char  *ngx_http_apiauth_link_kinds[NGX_HTTP_APIAUTH_LINKS] = {
    "lookups", "feed", "records"
};


static ngx_http_apiauth_metric_t  ngx_http_apiauth_metrics[] = {
    { "cache_hits", "Keys found fresh in the shared cache.",
      NGX_HTTP_APIAUTH_STAT_CACHE_HITS, 0 },
    { "cache_misses", "Keys not cached or not fresh: looked up in Redis.",
      NGX_HTTP_APIAUTH_STAT_CACHE_MISSES, 0 },
    { "cache_stale", "Keys judged by a stale cached record while Redis did "
      "not answer.", NGX_HTTP_APIAUTH_STAT_CACHE_STALE, 0 },
    { "records", "Call records made.", NGX_HTTP_APIAUTH_STAT_RECORDS, 0 },
    { "records_buffered", "Call records in workers' buffers, not yet sent "
      "nor spooled.", NGX_HTTP_APIAUTH_STAT_RECORDS_BUFFERED, 1 },
    { "records_sent", "Call records Redis took, replayed ones included.",
      NGX_HTTP_APIAUTH_STAT_RECORDS_SENT, 0 },
    { "records_spooled", "Call records written to the spool.",
      NGX_HTTP_APIAUTH_STAT_RECORDS_SPOOLED, 0 },
    { "records_replayed", "Spooled call records Redis took.",
      NGX_HTTP_APIAUTH_STAT_RECORDS_REPLAYED, 0 },
    { "records_dropped", "Call records lost: the spool full or off, or torn.",
      NGX_HTTP_APIAUTH_STAT_RECORDS_DROPPED, 0 },
    { "leases", "Lease scripts sent to Redis: tokens asked for, given back, "
      "debts paid.", NGX_HTTP_APIAUTH_STAT_LEASES, 0 },
    { "dry_run_refusals", "Requests a policy in dry run would have refused.",
      NGX_HTTP_APIAUTH_STAT_DRY_RUN, 0 },
    { NULL, NULL, 0, 0 }
};


/* the zone, made with the other zones; it needs no configuration */

ngx_shm_zone_t *
ngx_http_apiauth_status_add(ngx_conf_t *cf)
{
    ngx_str_t  name = ngx_string("apiauth_status");

    return ngx_http_apiauth_shm_add(cf, &name, NGX_HTTP_APIAUTH_STATUS_SIZE,
                                    &ngx_http_apiauth_module,
                                    ngx_http_apiauth_status_zone_init,
                                    (void *) 1);
}


static ngx_int_t
ngx_http_apiauth_status_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload: the counters go on */
        shm_zone->data = data;
        ngx_http_apiauth_status_sh = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_http_apiauth_status_sh = shpool->data;
        return NGX_OK;
    }

    ngx_http_apiauth_status_sh = ngx_slab_calloc(shpool,
                                      sizeof(ngx_http_apiauth_status_shctx_t));
    if (ngx_http_apiauth_status_sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ngx_http_apiauth_status_sh;
    shm_zone->data = ngx_http_apiauth_status_sh;

    return NGX_OK;
}


void
ngx_http_apiauth_stat_add(ngx_uint_t stat, ngx_atomic_int_t n)
{
    if (ngx_http_apiauth_status_sh && n) {
        (void) ngx_atomic_fetch_add(&ngx_http_apiauth_status_sh->stats[stat],
                                    n);
    }
}


/* the log phase: each request apiauth judged, once */

void
ngx_http_apiauth_stat_reason(ngx_uint_t reason)
{
    if (ngx_http_apiauth_status_sh) {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_apiauth_status_sh->reasons[reason], 1);
    }
}


char *
ngx_http_apiauth_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_apiauth_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_apiauth_status_handler(ngx_http_request_t *r)
{
    size_t        size;
    ngx_int_t     rc;
    ngx_str_t     format;
    ngx_buf_t    *b;
    ngx_uint_t    prometheus;
    ngx_chain_t   out;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_apiauth_status_sh == NULL) {
        /* apiauth is used nowhere: no counters */
        return NGX_HTTP_NOT_FOUND;
    }

    prometheus = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            prometheus = 1;

        } else if (!(format.len == 4
                     && ngx_strncmp(format.data, "json", 4) == 0))
        {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    /* each line's text is bounded: names, labels and a number */

    size = 256 * (NGX_HTTP_APIAUTH_REASONS + NGX_HTTP_APIAUTH_STAT_N
                  + 3 * NGX_HTTP_APIAUTH_LINKS + 16);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (prometheus) {
        b->last = ngx_http_apiauth_status_prometheus(b->last,
                                                 ngx_http_apiauth_status_sh);
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

    } else {
        b->last = ngx_http_apiauth_status_json(b->last,
                                               ngx_http_apiauth_status_sh);
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static u_char *
ngx_http_apiauth_status_json(u_char *p, ngx_http_apiauth_status_shctx_t *sh)
{
    ngx_uint_t                  i;
    ngx_http_apiauth_reason_t  *rs;
    ngx_http_apiauth_metric_t  *m;

    p = ngx_sprintf(p, "{\"requests\":{");

    for (i = NGX_HTTP_APIAUTH_OK; i < NGX_HTTP_APIAUTH_REASONS; i++) {
        rs = &ngx_http_apiauth_reasons[i];
        p = ngx_sprintf(p, "%s\"%V\":{\"result\":\"%V\",\"count\":%uA}",
                        i == NGX_HTTP_APIAUTH_OK ? "" : ",", &rs->code,
                        &rs->result, sh->reasons[i]);
    }

    p = ngx_sprintf(p, "},\"redis\":{");

    for (i = 0; i < NGX_HTTP_APIAUTH_LINKS; i++) {
        p = ngx_sprintf(p, "%s\"%s\":{\"up\":%A,\"reconnects\":%uA}",
                        i ? "," : "", ngx_http_apiauth_link_kinds[i],
                        (ngx_atomic_int_t)
                            sh->stats[NGX_HTTP_APIAUTH_STAT_LINK_UP + i],
                        sh->stats[NGX_HTTP_APIAUTH_STAT_RECONNECTS + i]);
    }

    p = ngx_sprintf(p, "}");

    for (m = ngx_http_apiauth_metrics; m->name; m++) {
        p = ngx_sprintf(p, ",\"%s\":%A", m->name,
                        (ngx_atomic_int_t) sh->stats[m->stat]);
    }

    return ngx_sprintf(p, "}\n");
}


static u_char *
ngx_http_apiauth_status_prometheus(u_char *p,
    ngx_http_apiauth_status_shctx_t *sh)
{
    ngx_uint_t                  i;
    ngx_http_apiauth_reason_t  *rs;
    ngx_http_apiauth_metric_t  *m;

    p = ngx_sprintf(p, "# HELP apiauth_requests_total Requests apiauth "
                    "judged, by result and exact reason.\n"
                    "# TYPE apiauth_requests_total counter\n");

    for (i = NGX_HTTP_APIAUTH_OK; i < NGX_HTTP_APIAUTH_REASONS; i++) {
        rs = &ngx_http_apiauth_reasons[i];
        p = ngx_sprintf(p, "apiauth_requests_total{result=\"%V\","
                        "reason=\"%V\"} %uA\n", &rs->result, &rs->code,
                        sh->reasons[i]);
    }

    p = ngx_sprintf(p, "# HELP apiauth_redis_links_up Redis connections "
                    "up, by kind, summed over workers.\n"
                    "# TYPE apiauth_redis_links_up gauge\n");

    for (i = 0; i < NGX_HTTP_APIAUTH_LINKS; i++) {
        p = ngx_sprintf(p, "apiauth_redis_links_up{kind=\"%s\"} %A\n",
                        ngx_http_apiauth_link_kinds[i],
                        (ngx_atomic_int_t)
                            sh->stats[NGX_HTTP_APIAUTH_STAT_LINK_UP + i]);
    }

    p = ngx_sprintf(p, "# HELP apiauth_redis_reconnects_total Redis "
                    "connections made again after one failed, by kind.\n"
                    "# TYPE apiauth_redis_reconnects_total counter\n");

    for (i = 0; i < NGX_HTTP_APIAUTH_LINKS; i++) {
        p = ngx_sprintf(p, "apiauth_redis_reconnects_total{kind=\"%s\"} "
                        "%uA\n", ngx_http_apiauth_link_kinds[i],
                        sh->stats[NGX_HTTP_APIAUTH_STAT_RECONNECTS + i]);
    }

    for (m = ngx_http_apiauth_metrics; m->name; m++) {
        p = ngx_sprintf(p, "# HELP apiauth_%s%s %s\n"
                        "# TYPE apiauth_%s%s %s\n"
                        "apiauth_%s%s %A\n",
                        m->name, m->gauge ? "" : "_total", m->help,
                        m->name, m->gauge ? "" : "_total",
                        m->gauge ? "gauge" : "counter",
                        m->name, m->gauge ? "" : "_total",
                        (ngx_atomic_int_t) sh->stats[m->stat]);
    }

    return p;
}
