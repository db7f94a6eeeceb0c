
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * JSON Web Tokens on the request (docs/jwt.md): Authorization: Bearer
 * <JWT>, read by apiauth_jwt.c; its accessKey is the header's kid, else
 * the sub claim, looked up like any other.  The signature is checked with
 * the key's pinned algorithm: HS256 with its accessSecret, the others with
 * its public key, parsed once a worker (EVP_PKEYs are heap state, never in
 * shared memory).  A verified token is remembered in a shared memory zone
 * by its digest, for its key's secret and method as they were, until its
 * exp or a minute, whichever comes first: a cached token skips the
 * signature, nothing else.  $apiauth_jwt_claim_<name> tells a location a
 * verified token's top-level claims.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_JWT_KEEP     60        /* s, a verified token */
#define NGX_HTTP_APIAUTH_JWT_PKEYS    1024      /* a worker's public keys */

/* a token with a jti ends within this long (its jti is remembered) */
#define NGX_HTTP_APIAUTH_JWT_JTI_DAYS 86400     /* s */


typedef struct {
    ngx_rbtree_node_t               node;       /* key: 4 digest bytes */
    ngx_queue_t                     queue;      /* recent first */
    u_char                          digest[APIAUTH_SHA256_LEN];
    uint64_t                        version;    /* the key's, verified */
    time_t                          until;
    u_char                          len;
    u_char                          ak[APIAUTH_ACCESS_KEY_MAX];
} ngx_http_apiauth_jwt_node_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
} ngx_http_apiauth_jwt_sh_t;


typedef struct {
    ngx_http_apiauth_jwt_sh_t      *sh;
    ngx_slab_pool_t                *shpool;
} ngx_http_apiauth_jwt_zone_t;


/* a worker's public keys, by their key's version */
typedef struct {
    uint64_t                        version;
    EVP_PKEY                       *pkey;
} ngx_http_apiauth_jwt_pkey_t;


static ngx_int_t ngx_http_apiauth_jwt_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_apiauth_jwt_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_apiauth_jwt_node_t *ngx_http_apiauth_jwt_find(
    ngx_http_apiauth_jwt_zone_t *jz, u_char *digest);
static ngx_uint_t ngx_http_apiauth_jwt_cached(ngx_shm_zone_t *zone,
    u_char *digest, ngx_str_t *ak, uint64_t version);
static void ngx_http_apiauth_jwt_remember(ngx_shm_zone_t *zone,
    u_char *digest, ngx_str_t *ak, uint64_t version, time_t until);
static int ngx_http_apiauth_jwt_hs256(apiauth_jwt_t *jwt,
    ngx_http_apiauth_key_t *key);
static void ngx_http_apiauth_jwt_decoy(apiauth_jwt_t *jwt, int alg,
    ngx_http_apiauth_key_t *key);
static EVP_PKEY *ngx_http_apiauth_jwt_pkey(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_key_t *key);


static ngx_uint_t  ngx_http_apiauth_jwt_tag;

/*
 * what a token is checked with when its key does not exist, has no JWT
 * method or pins another algorithm: a key of the algorithm the token
 * names, so that the refusal costs what a wrong signature would (public
 * keys of RFC 7515 A.2 and A.3 and RFC 8037 A.4: nothing they verify is
 * admitted anyway)
 */
static EVP_PKEY  *ngx_http_apiauth_jwt_decoys[APIAUTH_JWT_EDDSA + 1];

static const char  *ngx_http_apiauth_jwt_decoy_pems[APIAUTH_JWT_EDDSA + 1] = {
    NULL,
    NULL,
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAofgWCuLjybRlzo0tZWJj\n"
    "NiuSfb4p4fAkd/wWJcyQoTbji9k0l8W26mPddxHmfHQp+Vaw+4qPCJrcS2mJPMEz\n"
    "P1Pt0Bm4d4QlL+yRT+SFd2lZS+pCgNMsD1W/YpRPEwOWvG6b32690r2jZ47soMZo\n"
    "9wGzjb/7OMg0LOL+bSf63kpaSHSXndS5z5rexMdbBYUsLA9e+KXBdQOS+UTo7WTB\n"
    "EMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6/I5IhlJH7aGhyxX\n"
    "FvUK+DWNmoudF8NAco9/h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXp\n"
    "oQIDAQAB\n"
    "-----END PUBLIC KEY-----\n",
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV7\n"
    "6e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==\n"
    "-----END PUBLIC KEY-----\n",
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n"
};

static ngx_http_apiauth_jwt_pkey_t
    ngx_http_apiauth_jwt_pkeys[NGX_HTTP_APIAUTH_JWT_PKEYS];


ngx_shm_zone_t *
ngx_http_apiauth_jwt_cache_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_http_apiauth_jwt_zone_t  *jz;

    jz = ngx_pcalloc(cf->pool, sizeof(ngx_http_apiauth_jwt_zone_t));
    if (jz == NULL) {
        return NULL;
    }

    return ngx_http_apiauth_shm_add(cf, name, size, &ngx_http_apiauth_jwt_tag,
                                    ngx_http_apiauth_jwt_init_zone, jz);
}


static ngx_int_t
ngx_http_apiauth_jwt_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apiauth_jwt_zone_t  *ojz = data;

    ngx_http_apiauth_jwt_zone_t  *jz;

    jz = shm_zone->data;

    if (ojz) {
        jz->sh = ojz->sh;
        jz->shpool = ojz->shpool;
        return NGX_OK;
    }

    jz->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        jz->sh = jz->shpool->data;
        return NGX_OK;
    }

    jz->sh = ngx_slab_alloc(jz->shpool, sizeof(ngx_http_apiauth_jwt_sh_t));
    if (jz->sh == NULL) {
        return NGX_ERROR;
    }

    jz->shpool->data = jz->sh;

    ngx_rbtree_init(&jz->sh->rbtree, &jz->sh->sentinel,
                    ngx_http_apiauth_jwt_insert);
    ngx_queue_init(&jz->sh->queue);

    if (ngx_http_apiauth_shm_log_ctx(shm_zone, jz->shpool, "JWT cache")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Bearer <JWT>: read, and its accessKey found; returns NGX_HTTP_APIAUTH_OK
 * or the reason the credentials are refused before any lookup
 */

ngx_uint_t
ngx_http_apiauth_jwt_parse(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_table_elt_t *h, u_char *p, size_t len)
{
    const char          *why;
    apiauth_jwt_text_t  *ak;

    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }

    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
        len--;
    }

    if (len > APIAUTH_JWT_MAX) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    ctx->jwt = ngx_palloc(r->pool, sizeof(apiauth_jwt_t));
    if (ctx->jwt == NULL) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    if (apiauth_jwt_parse(ctx->jwt, p, len, &why) != APIAUTH_JWT_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "apiauth: a JWT not read: %s", why);
        ctx->jwt = NULL;
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    /* the accessKey: kid, else sub; an accessKey like any other */

    ak = ctx->jwt->kid.data ? &ctx->jwt->kid : &ctx->jwt->sub;

    if (ak->data == NULL || apiauth_access_key_check(ak->data, ak->len) != 0)
    {
        ctx->jwt = NULL;
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    ctx->access_key.data = (u_char *) ak->data;
    ctx->access_key.len = ak->len;
    ctx->jwt_token.data = p;
    ctx->jwt_token.len = len;
    ctx->cred_header = h;

    /* a jti is the token's nonce, kept until its exp (replay protection) */

    if (ctx->jwt->jti.data) {
        ctx->nonce.data = (u_char *) ctx->jwt->jti.data;
        ctx->nonce.len = ctx->jwt->jti.len;
    }

    return NGX_HTTP_APIAUTH_OK;
}


ngx_int_t
ngx_http_apiauth_jwt_init(ngx_cycle_t *cycle)
{
    int          alg;
    const char  *why;

    for (alg = APIAUTH_JWT_RS256; alg <= APIAUTH_JWT_EDDSA; alg++) {
        ngx_http_apiauth_jwt_decoys[alg] = apiauth_jwt_key_load(
            (const u_char *) ngx_http_apiauth_jwt_decoy_pems[alg],
            ngx_strlen(ngx_http_apiauth_jwt_decoy_pems[alg]), alg, &why);

        if (ngx_http_apiauth_jwt_decoys[alg] == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "apiauth: a decoy JWT key: %s", why);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * the signature, with the key's pinned algorithm, unless this token was
 * verified for the key as it is now; a token of a key that does not exist
 * (the decoy key), has no JWT method or pins another algorithm costs a
 * verification of the algorithm it names all the same, so that its
 * refusal tells nothing of the key
 */

ngx_uint_t
ngx_http_apiauth_jwt_verify(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_key_t *key)
{
    int                            rc, named;
    time_t                         until;
    ngx_uint_t                     hit;
    u_char                         digest[APIAUTH_SHA256_LEN];
    EVP_PKEY                      *pkey;
    apiauth_jwt_t                 *jwt;
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apiauth_module);
    jwt = ctx->jwt;

    if (apiauth_sha256(ctx->jwt_token.data, ctx->jwt_token.len, digest) != 0)
    {
        return NGX_HTTP_APIAUTH_STORE_UNAVAILABLE;
    }

    hit = ngx_http_apiauth_jwt_cached(amcf->jwt_zone, digest,
                                      &ctx->access_key, key->jwt_version);

    named = apiauth_jwt_alg(jwt->alg.data, jwt->alg.len);

    if (key->jwt_alg == 0 || named != (int) key->jwt_alg) {
        ngx_http_apiauth_jwt_decoy(jwt, named, key);
        return NGX_HTTP_APIAUTH_WRONG_ALGORITHM;
    }

    if (hit) {
        return NGX_HTTP_APIAUTH_OK;
    }

    if (key->jwt_alg == APIAUTH_JWT_HS256) {
        rc = ngx_http_apiauth_jwt_hs256(jwt, key);

    } else {
        pkey = ngx_http_apiauth_jwt_pkey(r, ctx, key);

        if (pkey == NULL) {
            return NGX_HTTP_APIAUTH_STORE_UNAVAILABLE;
        }

        rc = apiauth_jwt_verify(jwt, (int) key->jwt_alg, NULL, 0, pkey);
    }

    switch (rc) {

    case APIAUTH_JWT_OK:
        break;

    case APIAUTH_JWT_WRONG_ALG:
        return NGX_HTTP_APIAUTH_WRONG_ALGORITHM;

    default:
        return NGX_HTTP_APIAUTH_BAD_SIGNATURE;
    }

    until = ngx_time() + NGX_HTTP_APIAUTH_JWT_KEEP;

    if (jwt->has_exp && jwt->exp < until) {
        until = (time_t) jwt->exp;
    }

    ngx_http_apiauth_jwt_remember(amcf->jwt_zone, digest, &ctx->access_key,
                                  key->jwt_version, until);

    return NGX_HTTP_APIAUTH_OK;
}


/* HS256: the HMAC key is the secret's 64 hex characters, kept no longer */

static int
ngx_http_apiauth_jwt_hs256(apiauth_jwt_t *jwt, ngx_http_apiauth_key_t *key)
{
    int     rc;
    u_char  hex[APIAUTH_SECRET_LEN];

    apiauth_hex(hex, key->secret, sizeof(key->secret));

    rc = apiauth_jwt_verify(jwt, APIAUTH_JWT_HS256, hex, sizeof(hex), NULL);

    ngx_explicit_memzero(hex, sizeof(hex));

    return rc;
}


/* a verification of the algorithm the token names, its verdict ignored */

static void
ngx_http_apiauth_jwt_decoy(apiauth_jwt_t *jwt, int alg,
    ngx_http_apiauth_key_t *key)
{
    if (alg >= APIAUTH_JWT_RS256 && alg <= APIAUTH_JWT_EDDSA
        && ngx_http_apiauth_jwt_decoys[alg])
    {
        (void) apiauth_jwt_verify(jwt, alg, NULL, 0,
                                  ngx_http_apiauth_jwt_decoys[alg]);
        return;
    }

    (void) ngx_http_apiauth_jwt_hs256(jwt, key);
}


/* the claims, by the key's rules and this location's leeway */

ngx_uint_t
ngx_http_apiauth_jwt_claims(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf)
{
    const char              *why;
    ngx_http_apiauth_key_t  *key;
    apiauth_jwt_rules_t      rules;

    key = &ctx->key;

    rules.leeway = alcf->jwt_leeway;
    rules.max_lifetime = key->jwt_max_lifetime;
    rules.require_exp = key->jwt_require_exp ? 1 : 0;
    rules.issuer.data = key->jwt_issuer.len ? key->jwt_issuer.data : NULL;
    rules.issuer.len = key->jwt_issuer.len;
    rules.audience.data = key->jwt_audience.len ? key->jwt_audience.data
                                                : NULL;
    rules.audience.len = key->jwt_audience.len;

    switch (apiauth_jwt_claims_check(ctx->jwt, &rules, ngx_time(), &why)) {

    case APIAUTH_JWT_OK:
        return NGX_HTTP_APIAUTH_OK;

    case APIAUTH_JWT_EXPIRED:
        return NGX_HTTP_APIAUTH_EXPIRED_TOKEN;

    case APIAUTH_JWT_NOT_YET_VALID:
        return NGX_HTTP_APIAUTH_TOKEN_NOT_YET_VALID;

    default:
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "apiauth: JWT claims refused: %s", why);
        return NGX_HTTP_APIAUTH_BAD_CLAIMS;
    }
}


/* the key's public key: parsed once a worker, again when the key changes */

static EVP_PKEY *
ngx_http_apiauth_jwt_pkey(ngx_http_request_t *r, ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_key_t *key)
{
    const char                    *why;
    EVP_PKEY                      *pkey;
    ngx_http_apiauth_jwt_pkey_t   *slot;
    ngx_http_apiauth_main_conf_t  *amcf;

    slot = &ngx_http_apiauth_jwt_pkeys[key->jwt_version
                                       % NGX_HTTP_APIAUTH_JWT_PKEYS];

    if (slot->pkey && slot->version == key->jwt_version
        && EVP_PKEY_get_base_id(slot->pkey) != EVP_PKEY_NONE)
    {
        return slot->pkey;
    }

    pkey = apiauth_jwt_key_load(key->jwt_public_key.data,
                                key->jwt_public_key.len, (int) key->jwt_alg,
                                &why);

    if (pkey == NULL) {
        amcf = ngx_http_get_module_main_conf(r, ngx_http_apiauth_module);

        /* once a minute per key, not once a request */

        if (ngx_http_apiauth_cache_warn(amcf->cache_zone, &ctx->access_key,
                                        60))
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "apiauth: key \"%V\" has a JWT public key nginx "
                          "cannot use: %s", &ctx->access_key, why);
        }

        return NULL;
    }

    if (slot->pkey) {
        EVP_PKEY_free(slot->pkey);
    }

    slot->pkey = pkey;
    slot->version = key->jwt_version;

    return pkey;
}


void
ngx_http_apiauth_jwt_exit(void)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_APIAUTH_JWT_PKEYS; i++) {
        if (ngx_http_apiauth_jwt_pkeys[i].pkey) {
            EVP_PKEY_free(ngx_http_apiauth_jwt_pkeys[i].pkey);
            ngx_http_apiauth_jwt_pkeys[i].pkey = NULL;
        }
    }
}


/* $apiauth_jwt_claim_<name>: a top-level claim of a verified token */

ngx_int_t
ngx_http_apiauth_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    size_t                   i, k, len;
    u_char                  *p;
    apiauth_jwt_claim_t     *c;
    ngx_http_apiauth_ctx_t  *ctx;

    ctx = ngx_http_apiauth_get_ctx(r);

    len = name->len - (sizeof("apiauth_jwt_claim_") - 1);
    p = name->data + sizeof("apiauth_jwt_claim_") - 1;

    /* the claims of an admitted token only */

    if (ctx == NULL || ctx->jwt == NULL
        || ctx->cred_type != NGX_HTTP_APIAUTH_JWT
        || ctx->reason != NGX_HTTP_APIAUTH_OK)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    for (i = 0; i < ctx->jwt->nclaims; i++) {
        c = &ctx->jwt->claims[i];

        if (c->name.len == len && ngx_memcmp(c->name.data, p, len) == 0) {

            /* a value that would end a header line upstream is not given */

            for (k = 0; k < c->value.len; k++) {
                if (c->value.data[k] < 0x20 || c->value.data[k] == 0x7f) {
                    v->not_found = 1;
                    return NGX_OK;
                }
            }

            v->data = (u_char *) c->value.data;
            v->len = c->value.len;
            v->valid = 1;
            v->no_cacheable = 1;
            v->not_found = 0;
            return NGX_OK;
        }
    }

    v->not_found = 1;

    return NGX_OK;
}


static void
ngx_http_apiauth_jwt_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t            **p;
    ngx_http_apiauth_jwt_node_t   *jn, *jnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            jn = (ngx_http_apiauth_jwt_node_t *) node;
            jnt = (ngx_http_apiauth_jwt_node_t *) temp;

            p = (ngx_memcmp(jn->digest, jnt->digest, APIAUTH_SHA256_LEN) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_apiauth_jwt_node_t *
ngx_http_apiauth_jwt_find(ngx_http_apiauth_jwt_zone_t *jz, u_char *digest)
{
    ngx_int_t                     rc;
    ngx_rbtree_key_t              key;
    ngx_rbtree_node_t            *node, *sentinel;
    ngx_http_apiauth_jwt_node_t  *jn;

    key = (ngx_rbtree_key_t) ((uint32_t) digest[0] << 24
                              | (uint32_t) digest[1] << 16
                              | (uint32_t) digest[2] << 8 | digest[3]);

    node = jz->sh->rbtree.root;
    sentinel = jz->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        jn = (ngx_http_apiauth_jwt_node_t *) node;

        rc = ngx_memcmp(digest, jn->digest, APIAUTH_SHA256_LEN);

        if (rc == 0) {
            return jn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* verified for this accessKey, its secret and method as they are now */

static ngx_uint_t
ngx_http_apiauth_jwt_cached(ngx_shm_zone_t *zone, u_char *digest,
    ngx_str_t *ak, uint64_t version)
{
    ngx_uint_t                    hit;
    ngx_http_apiauth_jwt_node_t  *jn;
    ngx_http_apiauth_jwt_zone_t  *jz;

    jz = zone->data;
    hit = 0;

    ngx_shmtx_lock(&jz->shpool->mutex);

    jn = ngx_http_apiauth_jwt_find(jz, digest);

    if (jn && jn->until > ngx_time() && jn->version == version
        && jn->len == ak->len && ngx_memcmp(jn->ak, ak->data, ak->len) == 0)
    {
        hit = 1;
        ngx_queue_remove(&jn->queue);
        ngx_queue_insert_head(&jz->sh->queue, &jn->queue);
    }

    ngx_shmtx_unlock(&jz->shpool->mutex);

    return hit;
}


/* a full zone forgets the tokens verified longest ago first */

static void
ngx_http_apiauth_jwt_remember(ngx_shm_zone_t *zone, u_char *digest,
    ngx_str_t *ak, uint64_t version, time_t until)
{
    time_t                        now;
    ngx_uint_t                    i;
    ngx_queue_t                  *q;
    ngx_http_apiauth_jwt_node_t  *jn, *old;
    ngx_http_apiauth_jwt_zone_t  *jz;

    jz = zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&jz->shpool->mutex);

    jn = ngx_http_apiauth_jwt_find(jz, digest);

    if (jn) {
        ngx_queue_remove(&jn->queue);
        ngx_rbtree_delete(&jz->sh->rbtree, &jn->node);

    } else {
        /* two that expired, and the oldest when there is no room */

        for (i = 0; i < 2 && !ngx_queue_empty(&jz->sh->queue); i++) {
            q = ngx_queue_last(&jz->sh->queue);
            old = ngx_queue_data(q, ngx_http_apiauth_jwt_node_t, queue);

            if (old->until > now) {
                break;
            }

            ngx_queue_remove(q);
            ngx_rbtree_delete(&jz->sh->rbtree, &old->node);
            ngx_slab_free_locked(jz->shpool, old);
        }

        jn = ngx_slab_alloc_locked(jz->shpool,
                                   sizeof(ngx_http_apiauth_jwt_node_t));

        if (jn == NULL && !ngx_queue_empty(&jz->sh->queue)) {
            q = ngx_queue_last(&jz->sh->queue);
            jn = ngx_queue_data(q, ngx_http_apiauth_jwt_node_t, queue);
            ngx_queue_remove(q);
            ngx_rbtree_delete(&jz->sh->rbtree, &jn->node);
        }

        if (jn == NULL) {
            ngx_shmtx_unlock(&jz->shpool->mutex);
            return;
        }
    }

    ngx_memcpy(jn->digest, digest, APIAUTH_SHA256_LEN);
    jn->node.key = (ngx_rbtree_key_t) ((uint32_t) digest[0] << 24
                                       | (uint32_t) digest[1] << 16
                                       | (uint32_t) digest[2] << 8
                                       | digest[3]);
    jn->version = version;
    jn->until = until;
    jn->len = (u_char) ak->len;
    ngx_memcpy(jn->ak, ak->data, ak->len);

    ngx_rbtree_insert(&jz->sh->rbtree, &jn->node);
    ngx_queue_insert_head(&jz->sh->queue, &jn->queue);

    ngx_shmtx_unlock(&jz->shpool->mutex);
}


/*
 * a jti is remembered until its token's exp and the leeway: a token with
 * one must say when it ends, within a day, and a jti must fit the nonce
 * zone; else BAD_CLAIMS
 */

ngx_uint_t
ngx_http_apiauth_jwt_jti(ngx_http_apiauth_ctx_t *ctx,
    ngx_http_apiauth_loc_conf_t *alcf)
{
    apiauth_jwt_t  *jwt;

    jwt = ctx->jwt;

    if (jwt->jti.len == 0 || jwt->jti.len > APIAUTH_NONCE_MAX
        || !jwt->has_exp
        || jwt->exp > (int64_t) ngx_time() + NGX_HTTP_APIAUTH_JWT_JTI_DAYS)
    {
        return NGX_HTTP_APIAUTH_BAD_CLAIMS;
    }

    ctx->date_value = (time_t) jwt->exp + alcf->jwt_leeway;

    return NGX_HTTP_APIAUTH_OK;
}
