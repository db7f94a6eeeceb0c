
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Directives, configuration, variables and process hooks.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_DEFAULT_PORT    6379
#define NGX_HTTP_APIAUTH_CACHE_SIZE      (16 * 1024 * 1024)
/* the change feed invalidates at once: ttl bounds a feed that is down */
#define NGX_HTTP_APIAUTH_CACHE_TTL       300000
#define NGX_HTTP_APIAUTH_NONCE_SIZE      (64 * 1024 * 1024)
#define NGX_HTTP_APIAUTH_NONCE_SHARE     25         /* percent */
#define NGX_HTTP_APIAUTH_LIMITS_SIZE     (4 * 1024 * 1024)
#define NGX_HTTP_APIAUTH_JWT_CACHE_SIZE  (4 * 1024 * 1024)
#define NGX_HTTP_APIAUTH_NODES_MAX       1000


/* NGX_OK: taken; NGX_DECLINED: not a parameter of this directive */
typedef ngx_int_t (*ngx_http_apiauth_param_pt)(ngx_conf_t *cf,
    ngx_str_t *value, void *data);


static ngx_int_t ngx_http_apiauth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_apiauth_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_apiauth_init(ngx_conf_t *cf);
static void *ngx_http_apiauth_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_apiauth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_apiauth_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_apiauth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apiauth_records(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apiauth_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apiauth_redis_address(ngx_conf_t *cf,
    ngx_http_apiauth_main_conf_t *amcf, ngx_str_t *addr);
static char *ngx_http_apiauth_read_file(ngx_conf_t *cf, ngx_str_t *name,
    u_char *buf, size_t size, ssize_t *n);
static char *ngx_http_apiauth_master_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apiauth_zone_args(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *name, ssize_t *size, ngx_http_apiauth_param_pt param,
    void *data);
static char *ngx_http_apiauth_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_apiauth_cache_param(ngx_conf_t *cf,
    ngx_str_t *value, void *data);
static char *ngx_http_apiauth_nonce_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_apiauth_nonce_param(ngx_conf_t *cf,
    ngx_str_t *value, void *data);
static char *ngx_http_apiauth_limits_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_apiauth_limits_param(ngx_conf_t *cf,
    ngx_str_t *value, void *data);
static char *ngx_http_apiauth_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_apiauth_no_param(ngx_conf_t *cf, ngx_str_t *value,
    void *data);
static char *ngx_http_apiauth_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_apiauth_name(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_apiauth_init_process(ngx_cycle_t *cycle);
static void ngx_http_apiauth_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_apiauth_modes[] = {
    { ngx_string("off"), NGX_HTTP_APIAUTH_OFF },
    { ngx_string("signature"), NGX_HTTP_APIAUTH_SIGNATURE },
    { ngx_string("token"), NGX_HTTP_APIAUTH_TOKEN },
    { ngx_string("jwt"), NGX_HTTP_APIAUTH_JWT },
    { ngx_string("any"), NGX_HTTP_APIAUTH_ANY },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_apiauth_body_hashes[] = {
    { ngx_string("off"), NGX_HTTP_APIAUTH_BODY_OFF },
    { ngx_string("verify"), NGX_HTTP_APIAUTH_BODY_VERIFY },
    { ngx_string("require"), NGX_HTTP_APIAUTH_BODY_REQUIRE },
    { ngx_null_string, 0 }
};


/* the levels of limit_req_log_level */
static ngx_conf_enum_t  ngx_http_apiauth_store_errors[] = {
    { ngx_string("local"), NGX_HTTP_APIAUTH_STORE_ERROR_LOCAL },
    { ngx_string("open"), NGX_HTTP_APIAUTH_STORE_ERROR_OPEN },
    { ngx_string("closed"), NGX_HTTP_APIAUTH_STORE_ERROR_CLOSED },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_apiauth_header_styles[] = {
    { ngx_string("off"), NGX_HTTP_APIAUTH_HEADERS_OFF },
    { ngx_string("legacy"), NGX_HTTP_APIAUTH_HEADERS_LEGACY },
    { ngx_string("draft"), NGX_HTTP_APIAUTH_HEADERS_DRAFT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_apiauth_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_apiauth_commands[] = {

    { ngx_string("apiauth_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_apiauth_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apiauth_master_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_apiauth_master_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apiauth_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_apiauth_cache_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apiauth_nonce"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_apiauth_nonce_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apiauth_limits"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_apiauth_limits_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apiauth_jwt_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_apiauth_jwt_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apiauth_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, jwt_leeway),
      NULL },

    { ngx_string("apiauth_limits_store_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, store_error),
      &ngx_http_apiauth_store_errors },

    { ngx_string("apiauth_ratelimit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, ratelimit_headers),
      &ngx_http_apiauth_header_styles },

    { ngx_string("apiauth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_apiauth,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, mode),
      &ngx_http_apiauth_modes },

    { ngx_string("apiauth_app"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_apiauth_name,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, app),
      NULL },

    { ngx_string("apiauth_interface"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_apiauth_name,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, interface),
      NULL },

    { ngx_string("apiauth_clock_skew"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, clock_skew),
      NULL },

    { ngx_string("apiauth_replay_protection"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, replay),
      NULL },

    { ngx_string("apiauth_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, log_level),
      &ngx_http_apiauth_log_levels },

    { ngx_string("apiauth_hide_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, hide),
      NULL },

    { ngx_string("apiauth_body_hash"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, body_hash),
      &ngx_http_apiauth_body_hashes },

    { ngx_string("apiauth_records"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_apiauth_records,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apiauth_loc_conf_t, records),
      NULL },

    { ngx_string("apiauth_records_pipeline"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_apiauth_pipeline,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apiauth_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_apiauth_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_apiauth_module_ctx = {
    ngx_http_apiauth_add_variables,        /* preconfiguration */
    ngx_http_apiauth_init,                 /* postconfiguration */

    ngx_http_apiauth_create_main_conf,     /* create main configuration */
    ngx_http_apiauth_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_apiauth_create_loc_conf,      /* create location configuration */
    ngx_http_apiauth_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_apiauth_module = {
    NGX_MODULE_V1,
    &ngx_http_apiauth_module_ctx,          /* module context */
    ngx_http_apiauth_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_apiauth_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_apiauth_exit_process,         /* exit process */
    ngx_http_apiauth_lease_exit_master,    /* exit master */
    NGX_MODULE_V1_PADDING
};


#define ngx_http_apiauth_reason(code, shown, status, result)                 \
    { ngx_string(code), ngx_string(shown), status, ngx_string(result) }

/* unknown_key, bad_signature and bad_secret look alike: no enumeration */

ngx_http_apiauth_reason_t  ngx_http_apiauth_reasons[] = {
    ngx_http_apiauth_reason("", "", 0, ""),
    ngx_http_apiauth_reason("ok", "ok", NGX_OK, "ok"),
    ngx_http_apiauth_reason("missing_credentials", "missing_credentials",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("malformed_credentials", "malformed_credentials",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("clock_skew", "clock_skew",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("unknown_key", "invalid_credentials",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("bad_signature", "invalid_credentials",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("bad_secret", "invalid_credentials",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("replayed_nonce", "replayed_nonce",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("expired_key", "expired_key",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("disabled_key", "disabled_key",
                            NGX_HTTP_FORBIDDEN, "denied"),
    ngx_http_apiauth_reason("ip_not_allowed", "ip_not_allowed",
                            NGX_HTTP_FORBIDDEN, "denied"),
    ngx_http_apiauth_reason("scope_denied", "scope_denied",
                            NGX_HTTP_FORBIDDEN, "denied"),
    ngx_http_apiauth_reason("store_unavailable", "store_unavailable",
                            NGX_HTTP_SERVICE_UNAVAILABLE, "error"),
    ngx_http_apiauth_reason("body_hash_mismatch", "body_hash_mismatch",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("unsigned_body", "unsigned_body",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("rate_limited", "rate_limited",
                            NGX_HTTP_TOO_MANY_REQUESTS, "denied"),
    ngx_http_apiauth_reason("quota_exceeded", "quota_exceeded",
                            NGX_HTTP_TOO_MANY_REQUESTS, "denied"),
    ngx_http_apiauth_reason("expired_token", "expired_token",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("token_not_yet_valid", "token_not_yet_valid",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("wrong_algorithm", "invalid_credentials",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("bad_claims", "bad_claims",
                            NGX_HTTP_UNAUTHORIZED, "denied"),
    ngx_http_apiauth_reason("unfinished", "unfinished", 0, "error")
};


#define NGX_HTTP_APIAUTH_VAR_ACCESS_KEY  0
#define NGX_HTTP_APIAUTH_VAR_KEY_NAME    1
#define NGX_HTTP_APIAUTH_VAR_RESULT      2
#define NGX_HTTP_APIAUTH_VAR_REASON      3


static ngx_http_variable_t  ngx_http_apiauth_vars[] = {

    { ngx_string("apiauth_access_key"), NULL, ngx_http_apiauth_variable,
      NGX_HTTP_APIAUTH_VAR_ACCESS_KEY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apiauth_key_name"), NULL, ngx_http_apiauth_variable,
      NGX_HTTP_APIAUTH_VAR_KEY_NAME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apiauth_result"), NULL, ngx_http_apiauth_variable,
      NGX_HTTP_APIAUTH_VAR_RESULT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apiauth_reason"), NULL, ngx_http_apiauth_variable,
      NGX_HTTP_APIAUTH_VAR_REASON, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apiauth_jwt_claim_"), NULL,
      ngx_http_apiauth_jwt_claim_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_apiauth_request_id = ngx_string("request_id");

static ngx_str_t  ngx_http_apiauth_cred_vars[NGX_HTTP_APIAUTH_CRED_VARS] = {
    ngx_string("http_authorization"),
    ngx_string("http_x_api_key")
};


/* a zone of ours, refused where its name is taken */

ngx_shm_zone_t *
ngx_http_apiauth_shm_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    void *tag, ngx_shm_zone_init_pt init, void *data)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, name, size, tag);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apiauth: zone \"%V\" is already used", name);
        return NULL;
    }

    shm_zone->init = init;
    shm_zone->data = data;

    return shm_zone;
}


/*
 * " in apiauth <kind> zone "<name>"", which the slab allocator adds to
 * its messages about the zone
 */

ngx_int_t
ngx_http_apiauth_shm_log_ctx(ngx_shm_zone_t *shm_zone, ngx_slab_pool_t *shpool,
    const char *kind)
{
    size_t  len;

    len = sizeof(" in apiauth  zone \"\"") + ngx_strlen(kind)
          + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in apiauth %s zone \"%V\"%Z", kind,
                &shm_zone->shm.name);

    return NGX_OK;
}


static ngx_int_t
ngx_http_apiauth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                  *p;
    ngx_str_t               *s;
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_apiauth_get_ctx(r);

    if (ctx == NULL || ctx->reason == NGX_HTTP_APIAUTH_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_APIAUTH_VAR_ACCESS_KEY:
        s = &ctx->access_key;
        break;

    case NGX_HTTP_APIAUTH_VAR_KEY_NAME:
        /* the name of a key only once its credentials hold */
        if (!ctx->have_key || ctx->cred_reason != NGX_HTTP_APIAUTH_OK) {
            v->not_found = 1;
            return NGX_OK;
        }

        s = &ctx->key.name;
        break;

    case NGX_HTTP_APIAUTH_VAR_RESULT:
        s = &ngx_http_apiauth_reasons[ctx->reason].result;
        break;

    default: /* NGX_HTTP_APIAUTH_VAR_REASON */
        s = &ngx_http_apiauth_reasons[ctx->reason].code;

        /* "ok;stale": judged by a cached record while Redis was away */

        if (ctx->stale) {
            p = ngx_pnalloc(r->pool, s->len + sizeof(";stale") - 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            v->len = ngx_cpymem(ngx_cpymem(p, s->data, s->len), ";stale",
                                sizeof(";stale") - 1) - p;
            v->valid = 1;
            v->no_cacheable = 1;
            v->not_found = 0;
            v->data = p;

            return NGX_OK;
        }

        break;
    }

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_apiauth_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_apiauth_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_apiauth_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->redis_text = { 0, NULL };
     *     amcf->redis_host = NULL;
     *     amcf->redis_unix = NULL;
     *     amcf->redis_db = 0;
     *     amcf->redis_user = { 0, NULL };
     *     amcf->redis_password = { 0, NULL };
     *     amcf->master_file = { 0, NULL };
     *     amcf->cache_zone = NULL;
     *     amcf->nonce_zone = NULL;
     *     amcf->max_skew = 0;
     *     amcf->used_file = { 0, NULL };
     *     amcf->used_line = 0;
     */

    amcf->connect_timeout = NGX_CONF_UNSET_MSEC;
    amcf->timeout = NGX_CONF_UNSET_MSEC;
    amcf->request_id_index = NGX_ERROR;
    amcf->limits_nodes = NGX_CONF_UNSET_UINT;

    ngx_http_apiauth_pipeline_conf_init(&amcf->records);

    return amcf;
}


static void *
ngx_http_apiauth_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_apiauth_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->app = NULL;
     *     conf->interface = NULL;
     */

    conf->mode = NGX_CONF_UNSET_UINT;
    conf->clock_skew = NGX_CONF_UNSET;
    conf->replay = NGX_CONF_UNSET;
    conf->hide = NGX_CONF_UNSET;
    conf->log_level = NGX_CONF_UNSET_UINT;
    conf->body_hash = NGX_CONF_UNSET_UINT;
    conf->records = NGX_CONF_UNSET;
    conf->store_error = NGX_CONF_UNSET_UINT;
    conf->ratelimit_headers = NGX_CONF_UNSET_UINT;
    conf->jwt_leeway = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_apiauth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_apiauth_loc_conf_t *prev = parent;
    ngx_http_apiauth_loc_conf_t *conf = child;

    ngx_http_apiauth_main_conf_t  *amcf;

    ngx_conf_merge_uint_value(conf->mode, prev->mode, NGX_HTTP_APIAUTH_OFF);
    ngx_conf_merge_sec_value(conf->clock_skew, prev->clock_skew, 300);
    ngx_conf_merge_value(conf->replay, prev->replay, 1);
    ngx_conf_merge_value(conf->hide, prev->hide, 1);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_INFO);
    ngx_conf_merge_uint_value(conf->body_hash, prev->body_hash,
                              NGX_HTTP_APIAUTH_BODY_VERIFY);
    ngx_conf_merge_value(conf->records, prev->records, 0);
    ngx_conf_merge_uint_value(conf->store_error, prev->store_error,
                              NGX_HTTP_APIAUTH_STORE_ERROR_LOCAL);
    ngx_conf_merge_uint_value(conf->ratelimit_headers,
                              prev->ratelimit_headers,
                              NGX_HTTP_APIAUTH_HEADERS_OFF);
    ngx_conf_merge_sec_value(conf->jwt_leeway, prev->jwt_leeway, 30);

    if (conf->app == NULL) {
        conf->app = prev->app;
    }

    if (conf->interface == NULL) {
        conf->interface = prev->interface;
    }

    /* a nonce is remembered as long as the widest window accepts it */

    if (conf->mode != NGX_HTTP_APIAUTH_OFF) {
        amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apiauth_module);

        if (conf->clock_skew > amcf->max_skew) {
            amcf->max_skew = conf->clock_skew;
        }
    }

    return NGX_CONF_OK;
}


/* "on" anywhere: each worker gets its records pipeline */

static char *
ngx_http_apiauth_records(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apiauth_loc_conf_t *alcf = conf;

    char                          *rv;
    ngx_http_apiauth_main_conf_t  *amcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (alcf->records) {
        amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apiauth_module);
        amcf->records.used = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_apiauth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apiauth_loc_conf_t *alcf = conf;

    char                          *rv;
    ngx_http_apiauth_main_conf_t  *amcf;

    rv = ngx_conf_set_enum_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* remembered so that a missing apiauth_redis can name its user */

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apiauth_module);

    if (alcf->mode != NGX_HTTP_APIAUTH_OFF && amcf->used_line == 0) {
        amcf->used_file = cf->conf_file->file.name;
        amcf->used_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_apiauth_name(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_str_t                 *value;
    ngx_http_complex_value_t  **cv;

    rv = ngx_http_set_complex_value_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* a name without variables is checked now, not per request */

    cv = (ngx_http_complex_value_t **) ((char *) conf + cmd->offset);
    value = cf->args->elts;

    if ((*cv)->lengths == NULL
        && apiauth_plain_name_check(value[1].data, value[1].len) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid name \"%V\": use " APIAUTH_PLAIN_NAME_RULE,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_apiauth_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apiauth_main_conf_t *amcf = conf;

    u_char      buf[512], *p;
    ssize_t     n;
    ngx_int_t   db;
    ngx_str_t  *value, s, file;
    ngx_uint_t  i;

    if (amcf->redis_text.len) {
        return "is duplicate";
    }

    value = cf->args->elts;
    amcf->redis_text = value[1];

    if (ngx_http_apiauth_redis_address(cf, amcf, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            db = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (db == NGX_ERROR) {
                goto invalid;
            }

            amcf->redis_db = db;
            continue;
        }

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            amcf->redis_user.data = value[i].data + 5;
            amcf->redis_user.len = value[i].len - 5;

            if (amcf->redis_user.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            file.data = value[i].data + 14;
            file.len = value[i].len - 14;

            if (ngx_http_apiauth_read_file(cf, &file, buf, sizeof(buf), &n)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
                n--;
            }

            if (n == 0 || n == sizeof(buf)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "apiauth: password file \"%V\" must hold "
                                   "one line of 1 to %uz bytes", &file,
                                   sizeof(buf) - 1);
                return NGX_CONF_ERROR;
            }

            p = ngx_pnalloc(cf->pool, n);
            if (p == NULL) {
                return NGX_CONF_ERROR;
            }

            amcf->redis_password.data = ngx_cpymem(p, buf, n) - n;
            amcf->redis_password.len = n;
            ngx_explicit_memzero(buf, sizeof(buf));
            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0) {
            s.data = value[i].data + 16;
            s.len = value[i].len - 16;

            amcf->connect_timeout = ngx_parse_time(&s, 0);
            if (amcf->connect_timeout == (ngx_msec_t) NGX_ERROR
                || amcf->connect_timeout == 0)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            amcf->timeout = ngx_parse_time(&s, 0);
            if (amcf->timeout == (ngx_msec_t) NGX_ERROR || amcf->timeout == 0)
            {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (amcf->redis_user.len && amcf->redis_password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apiauth: \"user=\" needs \"password_file=\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * hiredis resolves names with a blocking getaddrinfo(): names are resolved
 * here, once, and workers connect to the address
 */

static char *
ngx_http_apiauth_redis_address(ngx_conf_t *cf,
    ngx_http_apiauth_main_conf_t *amcf, ngx_str_t *addr)
{
    u_char     text[NGX_SOCKADDR_STRLEN];
    size_t     len;
    ngx_url_t  u;

    if (addr->len > 5 && ngx_strncasecmp(addr->data, (u_char *) "unix:", 5)
                         == 0)
    {
        amcf->redis_unix = ngx_pnalloc(cf->pool, addr->len - 5 + 1);
        if (amcf->redis_unix == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(amcf->redis_unix, addr->data + 5, addr->len - 5 + 1);

        return NGX_CONF_OK;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *addr;
    u.default_port = NGX_HTTP_APIAUTH_DEFAULT_PORT;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in \"apiauth_redis\" \"%V\"", u.err, addr);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apiauth: \"%V\" has no address", addr);
        return NGX_CONF_ERROR;
    }

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, text,
                        NGX_SOCKADDR_STRLEN, 0);

    amcf->redis_host = ngx_pnalloc(cf->pool, len + 1);
    if (amcf->redis_host == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(amcf->redis_host, text, len + 1);

    /* ngx_sock_ntop() puts IPv6 in brackets only with a port */
    amcf->redis_port = ngx_inet_get_port(u.addrs[0].sockaddr);

    return NGX_CONF_OK;
}


/* the master reads these files at configuration time; workers never do */

static char *
ngx_http_apiauth_read_file(ngx_conf_t *cf, ngx_str_t *name, u_char *buf,
    size_t size, ssize_t *n)
{
    ngx_fd_t   fd;
    ngx_str_t  full;

    full = *name;

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(full.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "apiauth: cannot read \"%V\"", &full);
        return NGX_CONF_ERROR;
    }

    *n = ngx_read_fd(fd, buf, size);

    if (*n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "apiauth: cannot read \"%V\"", &full);
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    ngx_close_file(fd);

    return NGX_CONF_OK;
}


static char *
ngx_http_apiauth_master_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apiauth_main_conf_t *amcf = conf;

    u_char      buf[256];
    ssize_t     n;
    ngx_str_t  *value;

    if (amcf->master_file.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_apiauth_read_file(cf, &value[1], buf, sizeof(buf), &n)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (apiauth_master_key_parse(buf, n, amcf->master) != 0) {
        ngx_explicit_memzero(buf, sizeof(buf));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apiauth: master key \"%V\" must hold 64 hex "
                           "characters and a newline", &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_explicit_memzero(buf, sizeof(buf));

    if (apiauth_master_key_id(amcf->master, amcf->master_id) != 0) {
        return NGX_CONF_ERROR;
    }

    amcf->master_file = value[1];

    return NGX_CONF_OK;
}


/*
 * the arguments of both zones' directives: zone=NAME:SIZE, and the
 * directive's own parameters, each given to "param"
 */

static char *
ngx_http_apiauth_zone_args(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *name, ssize_t *size, ngx_http_apiauth_param_pt param,
    void *data)
{
    u_char      *colon;
    ngx_int_t    rc;
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    value = cf->args->elts;
    name->len = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) != 0) {
            rc = param(cf, &value[i], data);

            if (rc == NGX_ERROR) {
                return NGX_CONF_ERROR;
            }

            if (rc == NGX_DECLINED) {
                goto invalid;
            }

            continue;
        }

        name->data = value[i].data + 5;
        colon = (u_char *) ngx_strlchr(name->data,
                                       value[i].data + value[i].len, ':');

        if (colon == NULL) {
            goto invalid;
        }

        name->len = colon - name->data;
        s.data = colon + 1;
        s.len = value[i].data + value[i].len - s.data;

        *size = ngx_parse_size(&s);

        if (name->len == 0 || *size == NGX_ERROR) {
            goto invalid;
        }

        if (*size < (ssize_t) (8 * ngx_pagesize)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "zone \"%V\" is too small", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    if (name->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


/* apiauth_cache zone=NAME:SIZE [ttl=TIME] [negative_ttl=TIME] [stale=TIME] */

static char *
ngx_http_apiauth_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apiauth_main_conf_t *amcf = conf;

    ssize_t     size;
    ngx_str_t   name;
    ngx_msec_t  ttl[3];

    if (amcf->cache_zone) {
        return "is duplicate";
    }

    ttl[0] = NGX_HTTP_APIAUTH_CACHE_TTL;
    ttl[1] = NGX_CONF_UNSET_MSEC;
    ttl[2] = 0;

    if (ngx_http_apiauth_zone_args(cf, cmd, &name, &size,
                                   ngx_http_apiauth_cache_param, ttl)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /*
     * unknown accessKeys live as long as keys do: a shorter life would
     * tell a prober which accessKeys exist (docs/errors.md)
     */
    ngx_conf_init_msec_value(ttl[1], ttl[0]);

    amcf->cache_zone = ngx_http_apiauth_cache_add(cf, &name, size, ttl[0],
                                                  ttl[1], ttl[2]);

    return amcf->cache_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* ttl=, negative_ttl= and stale=TIME: into ttl[i] for the i-th of them */

static ngx_int_t
ngx_http_apiauth_cache_param(ngx_conf_t *cf, ngx_str_t *value, void *data)
{
    ngx_msec_t *ttl = data;

    ngx_str_t   s, *name;
    ngx_uint_t  i;

    static ngx_str_t  names[] = {
        ngx_string("ttl="),
        ngx_string("negative_ttl="),
        ngx_string("stale=")
    };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        name = &names[i];

        if (value->len > name->len
            && ngx_strncmp(value->data, name->data, name->len) == 0)
        {
            s.data = value->data + name->len;
            s.len = value->len - name->len;

            ttl[i] = ngx_parse_time(&s, 0);

            return ttl[i] == (ngx_msec_t) NGX_ERROR ? NGX_DECLINED : NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* apiauth_nonce zone=NAME:SIZE [share=N%] */

static char *
ngx_http_apiauth_nonce_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apiauth_main_conf_t *amcf = conf;

    ssize_t    size;
    ngx_int_t  share;
    ngx_str_t  name;

    if (amcf->nonce_zone) {
        return "is duplicate";
    }

    share = NGX_HTTP_APIAUTH_NONCE_SHARE;

    if (ngx_http_apiauth_zone_args(cf, cmd, &name, &size,
                                   ngx_http_apiauth_nonce_param, &share)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    amcf->nonce_zone = ngx_http_apiauth_nonce_add(cf, &name, size, share);

    return amcf->nonce_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* share=N%: whole sixteenths of a bucket, 25% is four entries of it */

static ngx_int_t
ngx_http_apiauth_nonce_param(ngx_conf_t *cf, ngx_str_t *value, void *data)
{
    ngx_int_t *share = data;

    if (ngx_strncmp(value->data, "share=", 6) != 0
        || value->len <= 7
        || value->data[value->len - 1] != '%')
    {
        return NGX_DECLINED;
    }

    *share = ngx_atoi(value->data + 6, value->len - 7);

    if (*share == NGX_ERROR || *share < 7 || *share > 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": use a share "
                           "from 7%% to 100%%", value);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* apiauth_limits zone=NAME:SIZE [nodes=N] */

static char *
ngx_http_apiauth_limits_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apiauth_main_conf_t *amcf = conf;

    ssize_t    size;
    ngx_str_t  name;

    if (amcf->limits_zone) {
        return "is duplicate";
    }

    if (ngx_http_apiauth_zone_args(cf, cmd, &name, &size,
                                   ngx_http_apiauth_limits_param,
                                   &amcf->limits_nodes)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    amcf->limits_zone = ngx_http_apiauth_tokens_add(cf, &name, size);

    return amcf->limits_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* apiauth_jwt_cache zone=NAME:SIZE */

static char *
ngx_http_apiauth_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apiauth_main_conf_t *amcf = conf;

    ssize_t    size;
    ngx_str_t  name;

    if (amcf->jwt_zone) {
        return "is duplicate";
    }

    if (ngx_http_apiauth_zone_args(cf, cmd, &name, &size,
                                   ngx_http_apiauth_no_param, NULL)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    amcf->jwt_zone = ngx_http_apiauth_jwt_cache_add(cf, &name, size);

    return amcf->jwt_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_apiauth_no_param(ngx_conf_t *cf, ngx_str_t *value, void *data)
{
    return NGX_DECLINED;
}


/* nodes=N: how many nginx nodes share a limit when Redis is away */

static ngx_int_t
ngx_http_apiauth_limits_param(ngx_conf_t *cf, ngx_str_t *value, void *data)
{
    ngx_uint_t *nodes = data;

    ngx_int_t  n;

    if (ngx_strncmp(value->data, "nodes=", 6) != 0) {
        return NGX_DECLINED;
    }

    n = ngx_atoi(value->data + 6, value->len - 6);

    if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_APIAUTH_NODES_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": use a number of "
                           "nodes from 1 to %d", value,
                           NGX_HTTP_APIAUTH_NODES_MAX);
        return NGX_ERROR;
    }

    *nodes = (ngx_uint_t) n;

    return NGX_OK;
}


/*
 * after the http block is read: the defaults, and what apiauth needs
 * wherever it is used
 */

static char *
ngx_http_apiauth_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_apiauth_main_conf_t *amcf = conf;

    ngx_str_t  name;

    ngx_conf_init_msec_value(amcf->connect_timeout, 1000);
    ngx_conf_init_msec_value(amcf->timeout, 1000);
    ngx_conf_init_uint_value(amcf->limits_nodes, 1);

    /* where apiauth is used nowhere, nginx runs as if without the module */

    if (amcf->used_line == 0) {
        return NGX_CONF_OK;
    }

    if (amcf->redis_text.len == 0 || amcf->master_file.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"apiauth\" in %V:%ui needs \"%s\" in the http block",
                      &amcf->used_file, amcf->used_line,
                      amcf->redis_text.len ? "apiauth_master_key"
                                           : "apiauth_redis");
        return NGX_CONF_ERROR;
    }

    if (amcf->cache_zone == NULL) {
        ngx_str_set(&name, "apiauth_cache");
        amcf->cache_zone = ngx_http_apiauth_cache_add(cf, &name,
                                                  NGX_HTTP_APIAUTH_CACHE_SIZE,
                                                  NGX_HTTP_APIAUTH_CACHE_TTL,
                                                  NGX_HTTP_APIAUTH_CACHE_TTL,
                                                  0);
        if (amcf->cache_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    amcf->status_zone = ngx_http_apiauth_status_add(cf);
    if (amcf->status_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_apiauth_pipeline_init_conf(cf, &amcf->records)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (amcf->limits_zone == NULL) {
        ngx_str_set(&name, "apiauth_limits");
        amcf->limits_zone = ngx_http_apiauth_tokens_add(cf, &name,
                                                  NGX_HTTP_APIAUTH_LIMITS_SIZE);
        if (amcf->limits_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (amcf->jwt_zone == NULL) {
        ngx_str_set(&name, "apiauth_jwt_cache");
        amcf->jwt_zone = ngx_http_apiauth_jwt_cache_add(cf, &name,
                                               NGX_HTTP_APIAUTH_JWT_CACHE_SIZE);
        if (amcf->jwt_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (amcf->nonce_zone == NULL) {
        ngx_str_set(&name, "apiauth_nonce");
        amcf->nonce_zone = ngx_http_apiauth_nonce_add(cf, &name,
                                                  NGX_HTTP_APIAUTH_NONCE_SIZE,
                                                  NGX_HTTP_APIAUTH_NONCE_SHARE);
        if (amcf->nonce_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_apiauth_init(ngx_conf_t *cf)
{
    ngx_uint_t                     i;
    ngx_http_handler_pt           *h;
    ngx_http_core_main_conf_t     *cmcf;
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apiauth_module);

    /* where apiauth is used nowhere, nginx runs as if without the module */

    if (amcf->used_line == 0) {
        return NGX_OK;
    }

    amcf->request_id_index = ngx_http_get_variable_index(cf,
                                                  &ngx_http_apiauth_request_id);
    if (amcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_APIAUTH_CRED_VARS; i++) {
        amcf->cred_vars[i] = ngx_http_get_variable_index(cf,
                                                &ngx_http_apiauth_cred_vars[i]);
        if (amcf->cred_vars[i] == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_apiauth_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_apiauth_admitted;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_apiauth_log_handler;

    if (ngx_http_apiauth_body_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_apiauth_filter_init(cf);
}


static ngx_int_t
ngx_http_apiauth_init_process(ngx_cycle_t *cycle)
{
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_apiauth_module);

    /* the cache manager and loader serve no requests */

    if (amcf == NULL || amcf->used_line == 0
        || (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE))
    {
        return NGX_OK;
    }

    if (ngx_http_apiauth_credentials_init(cycle) != NGX_OK
        || ngx_http_apiauth_jwt_init(cycle) != NGX_OK
        || ngx_http_apiauth_lookup_init(cycle, amcf) != NGX_OK
        || ngx_http_apiauth_lease_init(cycle, amcf) != NGX_OK
        || ngx_http_apiauth_records_init(cycle, amcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_apiauth_feed_init(cycle, amcf);
}


static void
ngx_http_apiauth_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_apiauth_records_exit();
    ngx_http_apiauth_feed_exit();
    ngx_http_apiauth_lease_exit();
    ngx_http_apiauth_lookup_exit();
    ngx_http_apiauth_jwt_exit();
}
