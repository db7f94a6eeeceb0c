
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#ifndef _NGX_HTTP_APIAUTH_MODULE_H_INCLUDED_
#define _NGX_HTTP_APIAUTH_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "apiauth_secret.h"
#include "apiauth_hash.h"
#include "apiauth_key.h"
#include "apiauth_ip.h"
#include "apiauth_scope.h"
#include "apiauth_sign.h"
#include "apiauth_store.h"
#include "apiauth_jwt.h"
#include "apiauth_jwt_key.h"


/* apiauth modes; a credential type is admitted where mode & type */
#define NGX_HTTP_APIAUTH_OFF             0
#define NGX_HTTP_APIAUTH_SIGNATURE       1
#define NGX_HTTP_APIAUTH_TOKEN           2
#define NGX_HTTP_APIAUTH_JWT             4
#define NGX_HTTP_APIAUTH_ANY             7


/* the variables of the headers that carry credentials */
#define NGX_HTTP_APIAUTH_CRED_VARS       2


/* reason codes: index into ngx_http_apiauth_reasons[] */
#define NGX_HTTP_APIAUTH_NONE                   0
#define NGX_HTTP_APIAUTH_OK                     1
#define NGX_HTTP_APIAUTH_MISSING_CREDENTIALS    2
#define NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS  3
#define NGX_HTTP_APIAUTH_CLOCK_SKEW             4
#define NGX_HTTP_APIAUTH_UNKNOWN_KEY            5
#define NGX_HTTP_APIAUTH_BAD_SIGNATURE          6
#define NGX_HTTP_APIAUTH_BAD_SECRET             7
#define NGX_HTTP_APIAUTH_REPLAYED_NONCE         8
#define NGX_HTTP_APIAUTH_EXPIRED_KEY            9
#define NGX_HTTP_APIAUTH_DISABLED_KEY           10
#define NGX_HTTP_APIAUTH_IP_NOT_ALLOWED         11
#define NGX_HTTP_APIAUTH_SCOPE_DENIED           12
#define NGX_HTTP_APIAUTH_STORE_UNAVAILABLE      13
#define NGX_HTTP_APIAUTH_BODY_HASH_MISMATCH     14
#define NGX_HTTP_APIAUTH_UNSIGNED_BODY          15
#define NGX_HTTP_APIAUTH_RATE_LIMITED           16
#define NGX_HTTP_APIAUTH_QUOTA_EXCEEDED         17
#define NGX_HTTP_APIAUTH_EXPIRED_TOKEN          18
#define NGX_HTTP_APIAUTH_TOKEN_NOT_YET_VALID    19
#define NGX_HTTP_APIAUTH_WRONG_ALGORITHM        20
#define NGX_HTTP_APIAUTH_BAD_CLAIMS             21
/* call records only: the request ended before a verdict */
#define NGX_HTTP_APIAUTH_UNFINISHED             22
#define NGX_HTTP_APIAUTH_REASONS                23


/* Redis links, by kind */
#define NGX_HTTP_APIAUTH_LINK_LOOKUPS    0
#define NGX_HTTP_APIAUTH_LINK_FEED       1
#define NGX_HTTP_APIAUTH_LINK_RECORDS    2
#define NGX_HTTP_APIAUTH_LINKS           3


/* counters in shared memory (ngx_http_apiauth_status.c) */
#define NGX_HTTP_APIAUTH_STAT_CACHE_HITS        0
#define NGX_HTTP_APIAUTH_STAT_CACHE_MISSES      1
#define NGX_HTTP_APIAUTH_STAT_CACHE_STALE       2
#define NGX_HTTP_APIAUTH_STAT_RECORDS           3
#define NGX_HTTP_APIAUTH_STAT_RECORDS_BUFFERED  4     /* a gauge */
#define NGX_HTTP_APIAUTH_STAT_RECORDS_SENT      5
#define NGX_HTTP_APIAUTH_STAT_RECORDS_SPOOLED   6
#define NGX_HTTP_APIAUTH_STAT_RECORDS_REPLAYED  7
#define NGX_HTTP_APIAUTH_STAT_RECORDS_DROPPED   8
#define NGX_HTTP_APIAUTH_STAT_LEASES            9
#define NGX_HTTP_APIAUTH_STAT_DRY_RUN           10
#define NGX_HTTP_APIAUTH_STAT_LINK_UP           11    /* gauges, by kind */
#define NGX_HTTP_APIAUTH_STAT_RECONNECTS        (11 + NGX_HTTP_APIAUTH_LINKS)
#define NGX_HTTP_APIAUTH_STAT_N                                              \
    (11 + 2 * NGX_HTTP_APIAUTH_LINKS)


/* call records: a field is cut to this length, so a frame is bounded */
#define NGX_HTTP_APIAUTH_RECORDS_VERSION  "1"
#define NGX_HTTP_APIAUTH_FIELD_MAX       2048
#define NGX_HTTP_APIAUTH_FRAME_MAX                                           \
    (APIAUTH_CALL_NFIELDS * (2 + NGX_HTTP_APIAUTH_FIELD_MAX))
#define NGX_HTTP_APIAUTH_SPOOL_DIR       "/var/lib/nginx/apiauth"
#define NGX_HTTP_APIAUTH_SPOOL_SCAN      5          /* seconds */


/* apiauth_body_hash */
#define NGX_HTTP_APIAUTH_BODY_OFF        0
#define NGX_HTTP_APIAUTH_BODY_VERIFY     1
#define NGX_HTTP_APIAUTH_BODY_REQUIRE    2


/* apiauth_limits_store_error */
#define NGX_HTTP_APIAUTH_STORE_ERROR_LOCAL   0
#define NGX_HTTP_APIAUTH_STORE_ERROR_OPEN    1
#define NGX_HTTP_APIAUTH_STORE_ERROR_CLOSED  2

/* apiauth_ratelimit_headers */
#define NGX_HTTP_APIAUTH_HEADERS_OFF     0
#define NGX_HTTP_APIAUTH_HEADERS_LEGACY  1
#define NGX_HTTP_APIAUTH_HEADERS_DRAFT   2

/* what a key's limits say of a request (ngx_http_apiauth_limits.c) */
#define NGX_HTTP_APIAUTH_LIMITS_SPENT        0
#define NGX_HTTP_APIAUTH_LIMITS_REFUSED      1
#define NGX_HTTP_APIAUTH_LIMITS_WAIT         2
#define NGX_HTTP_APIAUTH_LIMITS_UNAVAILABLE  3
#define NGX_HTTP_APIAUTH_LIMITS_NOMEM        4

/* where the request is with its key's limits */
#define NGX_HTTP_APIAUTH_LIMITS_NEW      0
#define NGX_HTTP_APIAUTH_LIMITS_WAITING  1
#define NGX_HTTP_APIAUTH_LIMITS_ANSWERED 2
#define NGX_HTTP_APIAUTH_LIMITS_DONE     3


/* the request's progress through the handler; it survives re-entry */
#define NGX_HTTP_APIAUTH_STATE_NEW       0
#define NGX_HTTP_APIAUTH_STATE_WAITING   1      /* parked on a lookup */
#define NGX_HTTP_APIAUTH_STATE_LOOKED_UP 2      /* the lookup answered */
#define NGX_HTTP_APIAUTH_STATE_DONE      3      /* credentials judged */


/* what a lookup found */
#define NGX_HTTP_APIAUTH_KEY_FOUND       0
#define NGX_HTTP_APIAUTH_KEY_UNKNOWN     1
#define NGX_HTTP_APIAUTH_KEY_UNAVAILABLE 2      /* Redis did not answer */
#define NGX_HTTP_APIAUTH_KEY_MALFORMED   3      /* nor can its answer be read */


typedef struct {
    ngx_str_t                   code;           /* exact, for logs */
    ngx_str_t                   shown;          /* told to the client */
    ngx_uint_t                  status;
    ngx_str_t                   result;         /* $apiauth_result */
} ngx_http_apiauth_reason_t;


/* a key's policy, as its record holds it (apiauth_policy.h) */
typedef struct {
    apiauth_policy_t            policy;
    uint32_t                    version;        /* crc32 of its text */
} ngx_http_apiauth_limits_t;


/*
 * a lease to ask Redis for (want tokens), tokens to give back (of the
 * quota period window, and of the rate's lease that ended at TAT tat with
 * last tokens), a debt to pay (quota spent while Redis was away, in
 * period debt_window), all in one script call
 */
typedef struct {
    int64_t                     want;
    int64_t                     tokens;
    int64_t                     window;
    int64_t                     tat;            /* of the lease they came */
    int64_t                     last;           /* in, and its tokens */
    int64_t                     debt;
    int64_t                     debt_window;
    ngx_http_apiauth_limits_t   limits;
    u_char                      len;
    u_char                      ak[APIAUTH_ACCESS_KEY_MAX];
} ngx_http_apiauth_lease_t;


/* Redis's answer: granted tokens, else blocked by which limit, how long */
typedef struct {
    int64_t                     granted;
    ngx_uint_t                  blocked;        /* a reason, or 0 */
    int64_t                     wait;           /* ms */
    int64_t                     used;           /* of the quota */
    int64_t                     start;          /* its period, unix ms */
    int64_t                     end;
    int64_t                     now;            /* Redis's clock, ms */
    int64_t                     tat;            /* the rate's after it, us */
} ngx_http_apiauth_grant_t;


/* one request's spending: its verdict's details, and what to send */
typedef struct {
    ngx_uint_t                  reason;         /* when refused */
    int64_t                     retry_at;       /* unix ms */
    ngx_uint_t                  away;           /* Redis away: judged here */
    int64_t                     now;
    int64_t                     tokens;         /* left here */
    int64_t                     used;           /* of the quota, in Redis */
    int64_t                     window_end;
    ngx_http_apiauth_lease_t    lease;
} ngx_http_apiauth_spend_t;


/* a key as a request sees it: copied out of shared memory or a reply */
typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   apps;
    ngx_str_t                   interfaces;
    apiauth_ip_entry_t         *ips;
    ngx_uint_t                  nips;
    /* 0: never; a stored time at or before 1970, or malformed: 1 */
    time_t                      expires;
    ngx_uint_t                  enabled;
    ngx_uint_t                  bad_expires;    /* to be logged */
    ngx_uint_t                  limited;        /* limits hold its policy */
    ngx_http_apiauth_limits_t   limits;

    /* the JWT method (docs/jwt.md); jwt_alg 0: none */
    ngx_uint_t                  jwt_alg;
    ngx_uint_t                  jwt_require_exp;
    time_t                      jwt_max_lifetime;
    ngx_str_t                   jwt_issuer;
    ngx_str_t                   jwt_audience;
    ngx_str_t                   jwt_public_key; /* PEM */
    uint64_t                    jwt_version;    /* of secret and method */
    /* the secret's bytes (tokens), and its HMAC key prepared (signatures) */
    u_char                      secret[APIAUTH_SECRET_LEN / 2];
    apiauth_hmac_key_t          hmac;
} ngx_http_apiauth_key_t;


/* apiauth_records_pipeline */
typedef struct {
    ngx_str_t                   stream;
    ngx_msec_t                  flush;
    ngx_uint_t                  batch;
    size_t                      buffer;
    ngx_flag_t                  spool_on;
    ngx_str_t                   spool_dir;
    off_t                       spool_size;
    ngx_uint_t                  maxlen;         /* 0: none */
    ngx_uint_t                  set;            /* the directive was seen */
    ngx_uint_t                  used;           /* apiauth_records on */
} ngx_http_apiauth_records_conf_t;


typedef struct {
    /* apiauth_redis */
    ngx_str_t                   redis_text;     /* for messages */
    u_char                     *redis_host;     /* IP literal, NUL ended */
    int                         redis_port;
    u_char                     *redis_unix;     /* path, NUL ended */
    ngx_uint_t                  redis_db;
    ngx_str_t                   redis_user;
    ngx_str_t                   redis_password;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;

    /* apiauth_master_key */
    ngx_str_t                   master_file;
    u_char                      master[APIAUTH_MASTER_KEY_LEN];
    u_char                      master_id[APIAUTH_KEY_ID_LEN];

    ngx_shm_zone_t             *cache_zone;
    ngx_shm_zone_t             *nonce_zone;
    ngx_shm_zone_t             *status_zone;
    ngx_shm_zone_t             *limits_zone;
    ngx_shm_zone_t             *jwt_zone;       /* verified tokens */
    ngx_uint_t                  limits_nodes;   /* the local share: 1/n */

    ngx_http_apiauth_records_conf_t  records;

    /* the widest apiauth_clock_skew: how long a nonce is remembered */
    time_t                      max_skew;

    /* where "apiauth" is first turned on, for messages */
    ngx_str_t                   used_file;
    ngx_uint_t                  used_line;

    ngx_int_t                   request_id_index;

    /* $http_authorization, $http_x_api_key: hidden with their headers */
    ngx_int_t                   cred_vars[2];
} ngx_http_apiauth_main_conf_t;


typedef struct {
    ngx_uint_t                  mode;
    ngx_http_complex_value_t   *app;
    ngx_http_complex_value_t   *interface;
    time_t                      clock_skew;
    ngx_flag_t                  replay;
    ngx_flag_t                  hide;
    ngx_uint_t                  log_level;      /* of refusals */
    ngx_uint_t                  body_hash;
    ngx_flag_t                  records;
    ngx_uint_t                  store_error;    /* of the limits */
    ngx_uint_t                  ratelimit_headers;
    time_t                      jwt_leeway;
} ngx_http_apiauth_loc_conf_t;


/* a nonce as the zone knows it: keyed digests, never the nonce itself */
typedef struct {
    uint64_t                    hash[2];        /* of accessKey and nonce */
    uint32_t                    key;            /* of the accessKey */
} ngx_http_apiauth_nonce_id_t;


/* a change stream entry's ID, ms-seq; known 0: no entry applied yet */
typedef struct {
    uint64_t                    ms;
    uint64_t                    seq;
    ngx_uint_t                  known;
} ngx_http_apiauth_feed_id_t;


typedef struct ngx_http_apiauth_waiter_s  ngx_http_apiauth_waiter_t;

/*
 * a lookup's answer: result is NGX_HTTP_APIAUTH_KEY_FOUND (key, valid
 * until the handler returns), _UNKNOWN, _UNAVAILABLE or _MALFORMED (key
 * NULL)
 */
typedef void (*ngx_http_apiauth_lookup_pt)(ngx_http_apiauth_waiter_t *w,
    ngx_uint_t result, ngx_http_apiauth_key_t *key);

/* one who waits for a lookup: the lookup calls its handler, nothing else */
struct ngx_http_apiauth_waiter_s {
    ngx_queue_t                  queue;         /* the lookup's */
    ngx_http_apiauth_lookup_pt   handler;
    void                        *data;
    unsigned                     waiting:1;
};


/*
 * the request's state; it lives in a pool cleanup, as realip's does, so
 * that an internal redirect, which zeroes module contexts, cannot lose the
 * verified identity
 */
typedef struct {
    ngx_http_request_t         *request;

    ngx_uint_t                  state;
    ngx_uint_t                  cred_type;      /* SIGNATURE or TOKEN */
    ngx_uint_t                  cred_reason;    /* credentials' verdict */
    ngx_uint_t                  reason;         /* this location's */
    ngx_uint_t                  lookup_result;

    /* the credentials, pointing into the request's headers */
    ngx_str_t                   access_key;
    u_char                      token[APIAUTH_SECRET_LEN / 2];
    apiauth_auth_t              auth;
    ngx_str_t                   date;
    ngx_str_t                   nonce;
    time_t                      date_value;
    ngx_http_apiauth_nonce_id_t nonce_id;       /* where nonce_hashed */
    ngx_str_t                   body_hash;      /* hex; empty: unsigned */
    apiauth_jwt_t              *jwt;            /* a JWT's, read */
    ngx_str_t                   jwt_token;
    apiauth_header_t           *headers;
    ngx_uint_t                  nheaders;

    /* the header that carried the credentials, until it is hidden */
    ngx_table_elt_t            *cred_header;

    ngx_http_apiauth_key_t      key;

    /* parked on a lookup */
    ngx_http_apiauth_waiter_t   waiter;

    /* the body, hashed as it is read (ngx_http_apiauth_body.c) */
    apiauth_sha256_t           *body_md;
    ngx_uint_t                  body_reason;
    ngx_uint_t                  body_state;
    ngx_http_apiauth_loc_conf_t *body_loc;      /* the body read for */

    /* the key's limits: judged once a request, whatever redirects */
    ngx_uint_t                  limits_state;
    ngx_uint_t                  limits_tries;
    ngx_uint_t                  limits_reason;
    int64_t                     retry_at;       /* refused: unix ms */
    ngx_http_apiauth_spend_t   *spend;          /* for the headers */

    /* the location that judged last, for the call record */
    ngx_http_apiauth_loc_conf_t *record_loc;
    ngx_str_t                   record_app;
    ngx_str_t                   record_interface;

    /* the refusal page: set per location, read by the filters */
    unsigned                    refused:1;
    unsigned                    body_sent:1;
    unsigned                    have_key:1;
    unsigned                    stale:1;        /* key judged from cache */
    unsigned                    nonce_hashed:1;
    unsigned                    nonce_remembered:1;
    unsigned                    limits_headers:2;   /* their style */
    unsigned                    limits_sent:1;
} ngx_http_apiauth_ctx_t;


extern ngx_module_t                    ngx_http_apiauth_module;
extern ngx_http_apiauth_reason_t       ngx_http_apiauth_reasons[];


/* ngx_http_apiauth_module.c */
ngx_shm_zone_t *ngx_http_apiauth_shm_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, void *tag, ngx_shm_zone_init_pt init, void *data);
ngx_int_t ngx_http_apiauth_shm_log_ctx(ngx_shm_zone_t *shm_zone,
    ngx_slab_pool_t *shpool, const char *kind);

/*
 * ngx_http_apiauth_handler.c, where the request's state is made, found
 * and cleaned up
 */
ngx_http_apiauth_ctx_t *ngx_http_apiauth_get_ctx(ngx_http_request_t *r);
void ngx_http_apiauth_ctx_cleanup(void *data);
ngx_int_t ngx_http_apiauth_handler(ngx_http_request_t *r);

/* ngx_http_apiauth_credentials.c */
ngx_uint_t ngx_http_apiauth_credentials_parse(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t mode);
ngx_uint_t ngx_http_apiauth_credentials_verify(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_key_t *key);
ngx_int_t ngx_http_apiauth_credentials_init(ngx_cycle_t *cycle);
void ngx_http_apiauth_credentials_decoy(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx);
ngx_int_t ngx_http_apiauth_credentials_hide(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx);

/*
 * ngx_http_apiauth_body.c: NGX_OK with the body's verdict in *reason, or
 * NGX_DONE while it is read (the phases run again once it is), or an HTTP
 * status
 */
ngx_int_t ngx_http_apiauth_body_init(ngx_conf_t *cf);
ngx_int_t ngx_http_apiauth_body_check(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t mode, ngx_uint_t *reason);

/* ngx_http_apiauth_filter.c: the refusal page and its state */
ngx_int_t ngx_http_apiauth_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_apiauth_admitted(ngx_http_request_t *r);
void ngx_http_apiauth_filter_refused(ngx_http_apiauth_ctx_t *ctx,
    ngx_uint_t refused);

/*
 * ngx_http_apiauth_cache.c; ngx_http_apiauth_cache_get() returns NGX_OK (a
 * key, copied into pool), NGX_DONE (known to be unknown), NGX_DECLINED (not
 * cached or not fresh) or NGX_ERROR; cache_put() with key NULL caches
 * "unknown", unless the epoch read when the lookup was sent has passed
 */
ngx_shm_zone_t *ngx_http_apiauth_cache_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, ngx_msec_t ttl, ngx_msec_t negative_ttl, ngx_msec_t stale);
ngx_int_t ngx_http_apiauth_cache_get(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_key_t *key, ngx_pool_t *pool);
ngx_int_t ngx_http_apiauth_cache_get_stale(ngx_shm_zone_t *zone,
    ngx_str_t *ak, ngx_http_apiauth_key_t *key, ngx_pool_t *pool);
void ngx_http_apiauth_cache_put(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_key_t *key, uint64_t epoch, ngx_log_t *log);
uint64_t ngx_http_apiauth_cache_epoch(ngx_shm_zone_t *zone);
void ngx_http_apiauth_cache_apply(ngx_shm_zone_t *zone,
    ngx_http_apiauth_feed_id_t *id, ngx_str_t *aks, ngx_uint_t n);
void ngx_http_apiauth_cache_restart(ngx_shm_zone_t *zone,
    ngx_http_apiauth_feed_id_t *id);
void ngx_http_apiauth_cache_feed_get(ngx_shm_zone_t *zone,
    ngx_http_apiauth_feed_id_t *id);
ngx_uint_t ngx_http_apiauth_cache_warn(ngx_shm_zone_t *zone, ngx_str_t *ak,
    time_t period);
ngx_int_t ngx_http_apiauth_key_copy(ngx_pool_t *pool,
    ngx_http_apiauth_key_t *dst, ngx_http_apiauth_key_t *src);

/* ngx_http_apiauth_nonce.c */
ngx_shm_zone_t *ngx_http_apiauth_nonce_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, ngx_uint_t share);
ngx_int_t ngx_http_apiauth_nonce_hash(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_str_t *nonce, ngx_http_apiauth_nonce_id_t *id);
/*
 * NGX_OK: new, and now remembered; NGX_DECLINED: a replay; NGX_BUSY: no
 * room for it; NGX_ABORT: no room within its key's share
 */
ngx_int_t ngx_http_apiauth_nonce_remember(ngx_shm_zone_t *zone,
    ngx_http_apiauth_nonce_id_t *id, time_t date, time_t skew, ngx_str_t *ak,
    ngx_log_t *log);

/* ngx_http_apiauth_jwt.c: JSON Web Tokens on the request */
ngx_shm_zone_t *ngx_http_apiauth_jwt_cache_add(ngx_conf_t *cf,
    ngx_str_t *name, size_t size);
ngx_uint_t ngx_http_apiauth_jwt_parse(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_table_elt_t *h, u_char *p, size_t len);
ngx_uint_t ngx_http_apiauth_jwt_verify(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_key_t *key);
ngx_uint_t ngx_http_apiauth_jwt_claims(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);
ngx_int_t ngx_http_apiauth_jwt_init(ngx_cycle_t *cycle);
ngx_uint_t ngx_http_apiauth_jwt_jti(ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf);
void ngx_http_apiauth_jwt_exit(void);
ngx_int_t ngx_http_apiauth_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

/* ngx_http_apiauth_limits.c: a request and its key's policy */
/* NGX_OK (*reason set), NGX_AGAIN (waits for a lease), NGX_ERROR */
ngx_int_t ngx_http_apiauth_limits_check(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf,
    ngx_uint_t *reason);
ngx_int_t ngx_http_apiauth_limits_headers(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx);

/* ngx_http_apiauth_tokens.c: the tokens a node holds, in shared memory */
ngx_shm_zone_t *ngx_http_apiauth_tokens_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size);
int64_t ngx_http_apiauth_tokens_now(void);
ngx_uint_t ngx_http_apiauth_tokens_spend(ngx_shm_zone_t *zone, ngx_str_t *ak,
    ngx_http_apiauth_limits_t *limits, ngx_uint_t mode, ngx_uint_t nodes,
    ngx_msec_t stale, ngx_http_apiauth_spend_t *sp);
void ngx_http_apiauth_tokens_abandon(ngx_shm_zone_t *zone,
    ngx_http_apiauth_lease_t *lease);
void ngx_http_apiauth_tokens_granted(ngx_shm_zone_t *zone,
    ngx_http_apiauth_lease_t *lease, ngx_http_apiauth_grant_t *g,
    ngx_http_apiauth_lease_t *back);
ngx_uint_t ngx_http_apiauth_tokens_sweep(ngx_shm_zone_t *zone,
    ngx_http_apiauth_lease_t *back, ngx_uint_t n, ngx_uint_t all);

/* ngx_http_apiauth_lease.c: leases from Redis */
ngx_int_t ngx_http_apiauth_lease_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf);
void ngx_http_apiauth_lease_exit(void);
void ngx_http_apiauth_lease_exit_master(ngx_cycle_t *cycle);
/* NGX_AGAIN: w waits; NGX_OK: sent; NGX_DECLINED: Redis cannot be asked */
ngx_int_t ngx_http_apiauth_lease_ask(ngx_http_apiauth_lease_t *lease,
    ngx_http_apiauth_waiter_t *w);

/* ngx_http_apiauth_lookup.c */
ngx_int_t ngx_http_apiauth_lookup_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf);
void ngx_http_apiauth_lookup_exit(void);
/* NGX_AGAIN: w waits for the answer; NGX_DECLINED: Redis cannot be asked */
ngx_int_t ngx_http_apiauth_lookup(ngx_str_t *ak, ngx_http_apiauth_waiter_t *w);
void ngx_http_apiauth_lookup_cancel(ngx_http_apiauth_waiter_t *w);

/* ngx_http_apiauth_redis.c */
typedef struct ngx_http_apiauth_redis_link_s  ngx_http_apiauth_redis_link_t;
typedef struct ngx_http_apiauth_redis_cmd_s  ngx_http_apiauth_redis_cmd_t;

/* reply is NULL when the command failed, timed out or the link dropped */
typedef void (*ngx_http_apiauth_redis_handler_pt)(
    ngx_http_apiauth_redis_cmd_t *cmd, redisReply *reply);

/* the link is up, its store checked, of this schema */
typedef void (*ngx_http_apiauth_redis_ready_pt)(
    ngx_http_apiauth_redis_link_t *link, void *data, ngx_uint_t schema);

struct ngx_http_apiauth_redis_cmd_s {
    ngx_http_apiauth_redis_handler_pt   handler;
    void                               *data;
    /* 0: the link's; NGX_TIMER_INFINITE: none, a later command's bounds it */
    ngx_msec_t                          timeout;
    ngx_uint_t                          cancelable;
    ngx_http_apiauth_redis_link_t      *link;      /* the adapter's */
    ngx_event_t                         timer;     /* the adapter's */
};

ngx_http_apiauth_redis_link_t *ngx_http_apiauth_redis_open(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf, ngx_uint_t kind,
    ngx_http_apiauth_redis_ready_pt ready, void *data);
void ngx_http_apiauth_redis_close(ngx_http_apiauth_redis_link_t *link);
ngx_int_t ngx_http_apiauth_redis_send(ngx_http_apiauth_redis_link_t *link,
    ngx_http_apiauth_redis_cmd_t *cmd, int argc, const char **argv,
    const size_t *argvlen);
void ngx_http_apiauth_redis_reset(ngx_http_apiauth_redis_link_t *link,
    const char *why);
ngx_int_t ngx_http_apiauth_redis_send_formatted(
    ngx_http_apiauth_redis_link_t *link, ngx_http_apiauth_redis_cmd_t *cmd,
    u_char *buf, size_t len);

/* another command on the lookups' link (a lease) */
ngx_int_t ngx_http_apiauth_lookup_send(ngx_http_apiauth_redis_cmd_t *cmd,
    int argc, const char **argv, const size_t *argvlen);

/* ngx_http_apiauth_feed.c: the change feed */
ngx_int_t ngx_http_apiauth_feed_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf);
void ngx_http_apiauth_feed_exit(void);

/* ngx_http_apiauth_records.c: call records, from the log phase */
ngx_int_t ngx_http_apiauth_records_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf);
void ngx_http_apiauth_records_exit(void);
ngx_int_t ngx_http_apiauth_log_handler(ngx_http_request_t *r);
void ngx_http_apiauth_records_note(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_loc_conf_t *alcf);

/* ngx_http_apiauth_pipeline.c: the records' way to Redis, one a worker */
void ngx_http_apiauth_pipeline_conf_init(
    ngx_http_apiauth_records_conf_t *conf);
char *ngx_http_apiauth_pipeline(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_apiauth_pipeline_init_conf(ngx_conf_t *cf,
    ngx_http_apiauth_records_conf_t *rc);
ngx_int_t ngx_http_apiauth_pipeline_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf);
void ngx_http_apiauth_pipeline_exit(void);
void ngx_http_apiauth_pipeline_add(ngx_str_t *fields);

/* ngx_http_apiauth_spool.c: records framed, and spooled while Redis is away */
size_t ngx_http_apiauth_frame_size(ngx_str_t *fields, ngx_uint_t n);
size_t ngx_http_apiauth_frame_len(u_char *p);
u_char *ngx_http_apiauth_frame_write(u_char *p, ngx_str_t *fields,
    ngx_uint_t n);
ngx_int_t ngx_http_apiauth_frame_next(u_char **pos, u_char *last,
    ngx_str_t *fields, ngx_uint_t n);
void ngx_http_apiauth_spool_init(ngx_cycle_t *cycle, ngx_str_t *dir,
    off_t max);
ngx_uint_t ngx_http_apiauth_spool_write(u_char *p, u_char *last);
ngx_uint_t ngx_http_apiauth_spool_pending(void);
size_t ngx_http_apiauth_spool_read(u_char *buf, size_t size, ngx_uint_t max,
    ngx_uint_t *n);
void ngx_http_apiauth_spool_commit(void);
ngx_uint_t ngx_http_apiauth_spool_lost(void);
void ngx_http_apiauth_spool_exit(void);

/* ngx_http_apiauth_status.c: counters, and apiauth_status */
extern const char  *ngx_http_apiauth_link_kinds[NGX_HTTP_APIAUTH_LINKS];
ngx_shm_zone_t *ngx_http_apiauth_status_add(ngx_conf_t *cf);
void ngx_http_apiauth_stat_add(ngx_uint_t stat, ngx_atomic_int_t n);
void ngx_http_apiauth_stat_reason(ngx_uint_t reason);
char *ngx_http_apiauth_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_APIAUTH_MODULE_H_INCLUDED_ */
