
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Credentials: a signature (Authorization: APIAUTH-HMAC-SHA256 ...), a
 * token (Authorization: Bearer AK.SECRET, X-Api-Key: AK.SECRET) or a JWT
 * (Authorization: Bearer HEADER.PAYLOAD.SIGNATURE, ngx_http_apiauth_jwt.c).
 * Parsing
 * needs no key; verifying needs the key's secret.  An accessKey that does
 * not exist is verified against a decoy key all the same, so that its
 * refusal costs what a wrong signature costs.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>

#include "ngx_http_apiauth_module.h"


/* the longest Authorization read: a Bearer JWT of APIAUTH_JWT_MAX */
#define NGX_HTTP_APIAUTH_AUTH_MAX    (sizeof("Bearer ") - 1 + APIAUTH_JWT_MAX)


typedef struct {
    ngx_table_elt_t   *authorization;
    ngx_table_elt_t   *api_key;
    ngx_table_elt_t   *date;
    ngx_table_elt_t   *nonce;
    ngx_table_elt_t   *content_sha256;
    ngx_uint_t         nheaders;
    ngx_uint_t         repeated;
} ngx_http_apiauth_sent_t;


static void ngx_http_apiauth_scan(ngx_http_request_t *r,
    ngx_http_apiauth_sent_t *sent, apiauth_header_t *hs, ngx_uint_t cap);
static ngx_uint_t ngx_http_apiauth_parse_signature(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_sent_t *sent);
static ngx_uint_t ngx_http_apiauth_parse_token(ngx_http_apiauth_ctx_t *ctx,
    ngx_table_elt_t *h, u_char *p, size_t len);
static ngx_uint_t ngx_http_apiauth_authority(ngx_http_request_t *r);
static ngx_uint_t ngx_http_apiauth_dots(u_char *p, size_t len);
static void ngx_http_apiauth_trim(ngx_str_t *v);
static apiauth_header_t *ngx_http_apiauth_headers(ngx_http_request_t *r,
    ngx_uint_t nheaders);


/* a comparison with a literal, inlined by the compiler: no library call */
#define ngx_http_apiauth_is(h, lit)                                          \
    (ngx_memcmp((h)->lowcase_key, lit, sizeof(lit) - 1) == 0)


/* the key an unknown accessKey is verified with: drawn by each worker */
static ngx_http_apiauth_key_t  ngx_http_apiauth_decoy;


/*
 * nginx trims the spaces that end a header value, not the tabs: both are
 * white space around a value (RFC 9110 5.5), as the canonical request
 * folds them
 */

static void
ngx_http_apiauth_trim(ngx_str_t *v)
{
    while (v->len && (v->data[0] == ' ' || v->data[0] == '\t')) {
        v->data++;
        v->len--;
    }

    while (v->len
           && (v->data[v->len - 1] == ' ' || v->data[v->len - 1] == '\t'))
    {
        v->len--;
    }
}


/*
 * one pass over the headers: ours, whether any of them is repeated, and
 * the first cap of them all into hs
 */

static void
ngx_http_apiauth_scan(ngx_http_request_t *r, ngx_http_apiauth_sent_t *sent,
    apiauth_header_t *hs, ngx_uint_t cap)
{
    ngx_uint_t         i;
    ngx_list_part_t   *part;
    ngx_table_elt_t   *h, **slot;

    ngx_memzero(sent, sizeof(ngx_http_apiauth_sent_t));

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        /* more headers than that are kept in the pool (see below) */

        if (sent->nheaders < cap) {
            hs[sent->nheaders].name = h[i].lowcase_key;
            hs[sent->nheaders].name_len = h[i].key.len;
            hs[sent->nheaders].value = h[i].value.data;
            hs[sent->nheaders].value_len = h[i].value.len;
        }

        sent->nheaders++;

        /* the length picks the one name to compare */

        switch (h[i].key.len) {

        case sizeof("authorization") - 1:
            slot = ngx_http_apiauth_is(&h[i], "authorization")
                   ? &sent->authorization : NULL;
            break;

        case sizeof("x-api-key") - 1:
            slot = ngx_http_apiauth_is(&h[i], "x-api-key")
                   ? &sent->api_key : NULL;
            break;

        case sizeof("x-apiauth-date") - 1:
            slot = ngx_http_apiauth_is(&h[i], "x-apiauth-date")
                   ? &sent->date : NULL;
            break;

        case sizeof("x-apiauth-nonce") - 1:
            slot = ngx_http_apiauth_is(&h[i], "x-apiauth-nonce")
                   ? &sent->nonce : NULL;
            break;

        case sizeof("x-apiauth-content-sha256") - 1:
            slot = ngx_http_apiauth_is(&h[i], "x-apiauth-content-sha256")
                   ? &sent->content_sha256 : NULL;
            break;

        default:
            slot = NULL;
        }

        if (slot == NULL) {
            continue;
        }

        if (*slot) {
            sent->repeated++;
        }

        *slot = &h[i];
    }
}


/*
 * returns NGX_HTTP_APIAUTH_OK or the reason the credentials are refused
 * before any key is looked up
 */

ngx_uint_t
ngx_http_apiauth_credentials_parse(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_uint_t mode)
{
    ngx_str_t                 v;
    ngx_uint_t                sig, bearer;
    ngx_table_elt_t          *auth;
    ngx_http_apiauth_sent_t   sent;

    /* ours, and how many there are: a signature's take them all, later */
    ngx_http_apiauth_scan(r, &sent, NULL, 0);

    auth = sent.authorization;
    sig = 0;
    bearer = 0;

    if (auth) {
        if (auth->value.len > NGX_HTTP_APIAUTH_AUTH_MAX) {
            return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
        }

        sig = (auth->value.len >= 8
               && ngx_memcmp(auth->value.data, "APIAUTH-", 8) == 0);

        /* RFC 9110: a scheme's name is case-insensitive */
        bearer = (!sig && auth->value.len >= 7
                  && ngx_strncasecmp(auth->value.data, (u_char *) "bearer ", 7)
                     == 0);
    }

    if (sent.repeated || (sig + bearer + (sent.api_key != NULL)) > 1) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    if (sig && (mode & NGX_HTTP_APIAUTH_SIGNATURE)) {
        ctx->cred_type = NGX_HTTP_APIAUTH_SIGNATURE;
        return ngx_http_apiauth_parse_signature(r, ctx, &sent);
    }

    /* a JWT: three parts, where a token has two */

    if (bearer && (mode & NGX_HTTP_APIAUTH_JWT)
        && ngx_http_apiauth_dots(auth->value.data + 7,
                                 auth->value.len - 7) == 2)
    {
        ctx->cred_type = NGX_HTTP_APIAUTH_JWT;
        return ngx_http_apiauth_jwt_parse(r, ctx, auth, auth->value.data + 7,
                                          auth->value.len - 7);
    }

    if (mode & NGX_HTTP_APIAUTH_TOKEN) {

        if (bearer) {
            ctx->cred_type = NGX_HTTP_APIAUTH_TOKEN;
            v.data = auth->value.data + 7;
            v.len = auth->value.len - 7;

            return ngx_http_apiauth_parse_token(ctx, auth, v.data, v.len);
        }

        /* another scheme's Authorization may be meant for the upstream */

        if (sent.api_key && !sig) {
            ctx->cred_type = NGX_HTTP_APIAUTH_TOKEN;
            return ngx_http_apiauth_parse_token(ctx, sent.api_key,
                                                sent.api_key->value.data,
                                                sent.api_key->value.len);
        }
    }

    if (auth) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    return NGX_HTTP_APIAUTH_MISSING_CREDENTIALS;
}


static ngx_uint_t
ngx_http_apiauth_dots(u_char *p, size_t len)
{
    ngx_uint_t  n;

    for (n = 0; len; len--) {
        n += (*p++ == '.');
    }

    return n;
}


static ngx_uint_t
ngx_http_apiauth_parse_token(ngx_http_apiauth_ctx_t *ctx, ngx_table_elt_t *h,
    u_char *p, size_t len)
{
    u_char     *dot;
    ngx_str_t   v;

    v.data = p;
    v.len = len;
    ngx_http_apiauth_trim(&v);

    p = v.data;
    len = v.len;

    dot = ngx_strlchr(p, p + len, '.');
    if (dot == NULL) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    ctx->access_key.data = p;
    ctx->access_key.len = dot - p;

    if (apiauth_access_key_check(p, dot - p) != 0
        || (size_t) (p + len - dot - 1) != APIAUTH_SECRET_LEN)
    {
        ngx_str_null(&ctx->access_key);
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    /* the secret's bytes, compared with the key's; hex is lower case */

    if (apiauth_unhex_lower(ctx->token, dot + 1, sizeof(ctx->token)) != 0) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    ctx->cred_header = h;

    return NGX_HTTP_APIAUTH_OK;
}


static ngx_uint_t
ngx_http_apiauth_parse_signature(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_sent_t *sent)
{
    ngx_str_t          date_text, nonce, hash;
    ngx_uint_t         n;
    long long          date;
    apiauth_header_t  *hs;

    if (apiauth_auth_parse(sent->authorization->value.data,
                           sent->authorization->value.len, &ctx->auth)
        != 0)
    {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    if (apiauth_access_key_check(ctx->auth.credential,
                                 ctx->auth.credential_len)
        != 0)
    {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    ctx->access_key.data = (u_char *) ctx->auth.credential;
    ctx->access_key.len = ctx->auth.credential_len;

    if (sent->date == NULL || sent->nonce == NULL) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    date_text = sent->date->value;
    nonce = sent->nonce->value;
    ngx_http_apiauth_trim(&date_text);
    ngx_http_apiauth_trim(&nonce);

    if (apiauth_date_parse(date_text.data, date_text.len, &date) != 0
        || apiauth_nonce_check(nonce.data, nonce.len) != 0)
    {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    /*
     * the body's hash is 64 lowercase hex digits, or UNSIGNED-PAYLOAD,
     * which says so as its absence does
     */

    ngx_str_null(&ctx->body_hash);

    if (sent->content_sha256) {
        hash = sent->content_sha256->value;
        ngx_http_apiauth_trim(&hash);

        if (hash.len != sizeof(APIAUTH_UNSIGNED_PAYLOAD) - 1
            || ngx_strncmp(hash.data, APIAUTH_UNSIGNED_PAYLOAD, hash.len) != 0)
        {
            if (apiauth_hash_hex_check(hash.data, hash.len) != 0) {
                return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
            }

            ctx->body_hash = hash;
        }
    }

    if (ngx_http_apiauth_authority(r) != NGX_HTTP_APIAUTH_OK) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    ctx->date = date_text;
    ctx->nonce = nonce;
    ctx->date_value = (time_t) date;
    ctx->cred_header = sent->authorization;

    /* the headers as sent, with nginx's lower-cased names */

    hs = ngx_http_apiauth_headers(r, sent->nheaders);
    if (hs == NULL) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    n = sent->nheaders;

    ctx->headers = hs;
    ctx->nheaders = n;

    if (apiauth_signed_headers_check(ctx->auth.signed_headers,
                                     ctx->auth.signed_headers_len, hs, n)
        != 0)
    {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    return NGX_HTTP_APIAUTH_OK;
}


/*
 * nginx picks the virtual server from the authority of an absolute-form
 * request line ("GET http://host/path"), not from Host: the signed Host
 * must name the same host and port, or a request signed for one server
 * would be served by another
 */

static ngx_uint_t
ngx_http_apiauth_authority(ngx_http_request_t *r)
{
    u_char     *p;
    ngx_str_t   authority, host;

    if (r->host_start == NULL || r->host_end == NULL) {
        return NGX_HTTP_APIAUTH_OK;
    }

    /*
     * the port is read here: nginx does not move r->port_end when a long
     * request line moves to a large header buffer; the line ends with a
     * space or a line break, so the digits end within it
     */

    p = r->host_end;

    if (*p == ':') {
        do {
            p++;
        } while (*p >= '0' && *p <= '9');
    }

    authority.data = r->host_start;
    authority.len = p - r->host_start;

    if (r->headers_in.host == NULL) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    host = r->headers_in.host->value;
    ngx_http_apiauth_trim(&host);

    if (host.len != authority.len
        || ngx_strncasecmp(host.data, authority.data, host.len) != 0)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "apiauth: request line names \"%V\", Host \"%V\"",
                       &authority, &host);
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    return NGX_HTTP_APIAUTH_OK;
}


/* every header, in the request's pool */

static apiauth_header_t *
ngx_http_apiauth_headers(ngx_http_request_t *r, ngx_uint_t nheaders)
{
    apiauth_header_t         *hs;
    ngx_http_apiauth_sent_t   again;

    hs = ngx_palloc(r->pool, nheaders * sizeof(apiauth_header_t));
    if (hs == NULL) {
        return NULL;
    }

    /* the same list, read again: the same count */
    ngx_http_apiauth_scan(r, &again, hs, nheaders);

    return hs;
}


ngx_uint_t
ngx_http_apiauth_credentials_verify(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx, ngx_http_apiauth_key_t *key)
{
    int                 rc;
    u_char             *q;
    size_t              n, i;
    u_char              mac[APIAUTH_SHA256_LEN];
    apiauth_request_t   req;
    apiauth_scratch_t   scratch;

    if (ctx->cred_type == NGX_HTTP_APIAUTH_TOKEN) {
        return (apiauth_mac_compare(ctx->token, sizeof(ctx->token),
                                    key->secret, sizeof(key->secret))
                == 0)
               ? NGX_HTTP_APIAUTH_OK : NGX_HTTP_APIAUTH_BAD_SECRET;
    }

    if (ctx->cred_type == NGX_HTTP_APIAUTH_JWT) {
        return ngx_http_apiauth_jwt_verify(r, ctx, key);
    }

    /* the raw target of the request line, whatever rewrites did since */

    req.method = r->method_name.data;
    req.method_len = r->method_name.len;

    q = ngx_strlchr(r->unparsed_uri.data,
                    r->unparsed_uri.data + r->unparsed_uri.len, '?');

    req.path = r->unparsed_uri.data;
    req.path_len = q ? (size_t) (q - req.path) : r->unparsed_uri.len;
    req.query = q ? q + 1 : (u_char *) "";
    req.query_len = q ? r->unparsed_uri.len - req.path_len - 1 : 0;

    req.headers = ctx->headers;
    req.nheaders = ctx->nheaders;
    req.signed_headers = ctx->auth.signed_headers;
    req.signed_headers_len = ctx->auth.signed_headers_len;

    /*
     * the scratch space, sized for this request, in its pool: a query's
     * parts (at most as many as the sort takes; more are refused), the
     * normalised path or query, and the canonical request
     */

    n = 1;

    for (i = 0; i < req.query_len; i++) {
        n += (req.query[i] == '&');
    }

    scratch.params = ngx_palloc(r->pool,
                                ngx_min(n, APIAUTH_QUERY_PARAMS_MAX)
                                * sizeof(apiauth_param_t));
    scratch.buf = ngx_pnalloc(r->pool,
                              ngx_max(req.path_len, req.query_len) + 1);
    scratch.creq_cap = apiauth_canonical_request_bound(&req);
    scratch.creq = ngx_pnalloc(r->pool, scratch.creq_cap);

    if (scratch.params == NULL || scratch.buf == NULL || scratch.creq == NULL)
    {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    rc = apiauth_sign_keyed(&req, &scratch, ctx->date.data, ctx->date.len,
                            ctx->nonce.data, ctx->nonce.len, &key->hmac, mac);

    /* more query parameters than the sort takes */

    if (rc != 0) {
        return NGX_HTTP_APIAUTH_MALFORMED_CREDENTIALS;
    }

    return (apiauth_mac_compare(mac, sizeof(mac), ctx->auth.signature,
                                APIAUTH_SHA256_LEN) == 0)
           ? NGX_HTTP_APIAUTH_OK : NGX_HTTP_APIAUTH_BAD_SIGNATURE;
}


/*
 * each worker draws its decoy: nobody can compute a signature it would
 * admit, and nothing admits one anyway (see credentials_decoy())
 */

ngx_int_t
ngx_http_apiauth_credentials_init(ngx_cycle_t *cycle)
{
    u_char     secret[APIAUTH_SECRET_LEN];
    ngx_int_t  rc;

    if (RAND_bytes(ngx_http_apiauth_decoy.secret,
                   sizeof(ngx_http_apiauth_decoy.secret))
        != 1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "apiauth: RAND_bytes() failed");
        return NGX_ERROR;
    }

    apiauth_hex(secret, ngx_http_apiauth_decoy.secret,
                sizeof(ngx_http_apiauth_decoy.secret));

    rc = apiauth_hmac_key(&ngx_http_apiauth_decoy.hmac, secret,
                          sizeof(secret)) == 0 ? NGX_OK : NGX_ERROR;

    ngx_explicit_memzero(secret, sizeof(secret));

    return rc;
}


/*
 * an accessKey that does not exist costs what a wrong signature or secret
 * of one that does costs: the canonical request hashed, a MAC computed and
 * compared, its verdict thrown away
 */

void
ngx_http_apiauth_credentials_decoy(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx)
{
    (void) ngx_http_apiauth_credentials_verify(r, ctx,
                                               &ngx_http_apiauth_decoy);
}


/*
 * a verified credential does not go upstream, where it could be logged: a
 * new header list without it; the old one's elements stay where they are,
 * so that pointers other modules keep into it stay valid
 */

ngx_int_t
ngx_http_apiauth_credentials_hide(ngx_http_request_t *r,
    ngx_http_apiauth_ctx_t *ctx)
{
    ngx_uint_t                     i, n;
    ngx_list_t                     old;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h, *e;
    ngx_http_variable_value_t     *vv;
    ngx_http_apiauth_main_conf_t  *amcf;

    /* the list is made anew in place: its "last" points into itself */

    old = r->headers_in.headers;
    n = 0;

    for (part = &old.part; part; part = part->next) {
        n += part->nelts;
    }

    if (ngx_list_init(&r->headers_in.headers, r->pool, n ? n : 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        r->headers_in.headers = old;
        return NGX_ERROR;
    }

    for (part = &old.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (&h[i] == ctx->cred_header) {
                continue;
            }

            e = ngx_list_push(&r->headers_in.headers);
            if (e == NULL) {
                return NGX_ERROR;
            }

            *e = h[i];
        }
    }

    if (r->headers_in.authorization == ctx->cred_header) {
        r->headers_in.authorization = NULL;
    }

    /*
     * $http_authorization and $http_x_api_key, if something (a limit_req
     * key, a map) read them before this phase, are read again from the
     * new list
     */

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apiauth_module);

    for (i = 0; i < NGX_HTTP_APIAUTH_CRED_VARS; i++) {
        vv = &r->variables[amcf->cred_vars[i]];
        vv->valid = 0;
        vv->not_found = 0;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "apiauth: \"%V\" hidden from the upstream",
                   &ctx->cred_header->key);

    ctx->cred_header = NULL;

    return NGX_OK;
}
