
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "apiauth_jwt.h"
#include "apiauth_jwt_key.h"
#include "apiauth_key.h"
#include "apiauth_scope.h"
#include "apiauth_store.h"


#define apiauth_text_is(t, lit)                                              \
    ((t)->len == sizeof(lit) - 1 && memcmp((t)->data, lit, (t)->len) == 0)


static void apiauth_record_expires(apiauth_record_t *rec);
static int apiauth_record_jwt(apiauth_record_t *rec);


#define APIAUTH_CALL_NAME(id, name)  name,
const char  *apiauth_call_fields[APIAUTH_CALL_NFIELDS] = {
    APIAUTH_CALL_FIELDS(APIAUTH_CALL_NAME)
};
#undef APIAUTH_CALL_NAME


/* the fields of a key record docs/keys.md lists; others are skipped */

#define apiauth_record_field(f)                                              \
    { #f, sizeof(#f) - 1, offsetof(apiauth_record_t, f) }

static const struct {
    const char  *name;
    size_t       len;
    size_t       offset;
} apiauth_record_fields[] = {
    apiauth_record_field(name),
    apiauth_record_field(description),
    apiauth_record_field(salt),
    apiauth_record_field(status),
    apiauth_record_field(apps),
    apiauth_record_field(interfaces),
    apiauth_record_field(ips),
    apiauth_record_field(expires),
    apiauth_record_field(created),
    apiauth_record_field(updated),
    apiauth_record_field(policy),
    apiauth_record_field(limits),
    apiauth_record_field(jwt_alg),
    apiauth_record_field(jwt_public_key),
    apiauth_record_field(jwt_issuer),
    apiauth_record_field(jwt_audience),
    apiauth_record_field(jwt_max_lifetime),
    apiauth_record_field(jwt_require_exp),
    { NULL, 0, 0 }
};


int
apiauth_record_parse(apiauth_record_t *rec, const apiauth_text_t *fv,
    size_t n, apiauth_ip_entry_t *ips, size_t max, const char **why)
{
    int                    nips;
    size_t                 i, k;
    apiauth_text_t        *to;
    const apiauth_text_t  *f;

    memset(rec, 0, sizeof(apiauth_record_t));

    /* the last of a field sent twice counts, as in a hash it cannot be */

    for (i = 0; i < n; i++) {
        f = &fv[2 * i];

        for (k = 0; apiauth_record_fields[k].name; k++) {
            if (f->len == apiauth_record_fields[k].len
                && memcmp(f->data, apiauth_record_fields[k].name, f->len)
                   == 0)
            {
                break;
            }
        }

        if (apiauth_record_fields[k].name == NULL) {
            continue;
        }

        to = (apiauth_text_t *) ((char *) rec
                                 + apiauth_record_fields[k].offset);
        *to = fv[2 * i + 1];

        /* an empty value is there: only a missing field has no data */
        if (to->data == NULL) {
            to->data = (const unsigned char *) "";
        }
    }

    rec->enabled = apiauth_text_is(&rec->status, "enabled");

    apiauth_record_expires(rec);

    /* in the order docs/keys.md lists them */

    if (rec->salt.data == NULL
        || apiauth_salt_check(rec->salt.data, rec->salt.len) != 0)
    {
        *why = "its salt is not 32 lower-case hex digits";
        return -1;
    }

    if (!rec->enabled && !apiauth_text_is(&rec->status, "disabled")) {
        *why = "its status is neither enabled nor disabled";
        return -1;
    }

    if (rec->apps.data == NULL
        || apiauth_scope_check(rec->apps.data, rec->apps.len) != 0)
    {
        *why = "its apps are neither \"*\" nor 1 to 256 names";
        return -1;
    }

    if (rec->interfaces.data == NULL
        || apiauth_scope_check(rec->interfaces.data, rec->interfaces.len)
           != 0)
    {
        *why = "its interfaces are neither \"*\" nor 1 to 256 names";
        return -1;
    }

    /* a record without its whitelist must not mean "any address" */

    if (rec->ips.data == NULL) {
        *why = "it has no ips field (an empty one admits any address)";
        return -1;
    }

    nips = apiauth_ip_list_parse(rec->ips.data, rec->ips.len, ips, max);

    if (nips < 0) {
        *why = "its whitelist holds an entry that is not one, or more than "
               "1024 entries";
        return -1;
    }

    rec->nips = (size_t) nips;

    if (rec->name.len > APIAUTH_KEY_NAME_MAX) {
        *why = "its name is longer than 128 bytes";
        return -1;
    }

    /* limits that cannot be read must not mean "no limits" */

    if (rec->limits.data) {
        if (apiauth_policy_parse(&rec->rules, (const char *) rec->limits.data,
                                 rec->limits.len)
            != 0)
        {
            *why = "its limits are not a policy's";
            return -1;
        }

        rec->limited = 1;
    }

    /* a JWT method that cannot be read must not mean a weaker one */

    if (rec->jwt_alg.data) {
        if (apiauth_record_jwt(rec) != 0) {
            *why = "its JWT method is not one (jwt_alg, jwt_public_key, "
                   "jwt_max_lifetime or jwt_require_exp)";
            return -1;
        }
    }

    *why = NULL;

    return 0;
}


/*
 * unix seconds, as nginx's ngx_atotm() reads them: digits only; anything
 * else that is there is expired, never "never"
 */

static void
apiauth_record_expires(apiauth_record_t *rec)
{
    size_t     i;
    long long  v;

    if (rec->expires.data == NULL) {
        rec->expires_at = 0;
        return;
    }

    v = 0;

    for (i = 0; i < rec->expires.len; i++) {
        if (rec->expires.data[i] < '0' || rec->expires.data[i] > '9'
            || v > (LLONG_MAX - (rec->expires.data[i] - '0')) / 10)
        {
            rec->expires_at = -1;
            rec->expires_malformed = 1;
            return;
        }

        v = v * 10 + (rec->expires.data[i] - '0');
    }

    if (rec->expires.len == 0) {
        rec->expires_at = -1;
        rec->expires_malformed = 1;
        return;
    }

    rec->expires_at = (v > 0) ? v : -1;
}


/*
 * jwt_alg one of the four names; a public key for all but HS256;
 * jwt_max_lifetime a number of seconds, jwt_require_exp on or off (both
 * optional: any lifetime, exp required)
 */

static int
apiauth_record_jwt(apiauth_record_t *rec)
{
    size_t     i;
    long long  v;

    rec->jwt = apiauth_jwt_alg(rec->jwt_alg.data, rec->jwt_alg.len);

    if (rec->jwt <= 0) {
        rec->jwt = 0;
        return -1;
    }

    if (rec->jwt != APIAUTH_JWT_HS256
        && (rec->jwt_public_key.data == NULL || rec->jwt_public_key.len == 0))
    {
        return -1;
    }

    /* the bounds apiauth-ctl writes within, and nginx's cache keeps */

    if (rec->jwt_public_key.len > APIAUTH_JWT_PEM_MAX
        || rec->jwt_issuer.len > APIAUTH_JWT_CLAIM_MAX
        || rec->jwt_audience.len > APIAUTH_JWT_CLAIM_MAX)
    {
        return -1;
    }

    rec->jwt_exp = 1;

    if (rec->jwt_require_exp.data) {
        if (apiauth_text_is(&rec->jwt_require_exp, "off")) {
            rec->jwt_exp = 0;

        } else if (!apiauth_text_is(&rec->jwt_require_exp, "on")) {
            return -1;
        }
    }

    if (rec->jwt_max_lifetime.data) {
        v = 0;

        if (rec->jwt_max_lifetime.len == 0
            || rec->jwt_max_lifetime.len > 10)
        {
            return -1;
        }

        for (i = 0; i < rec->jwt_max_lifetime.len; i++) {
            if (rec->jwt_max_lifetime.data[i] < '0'
                || rec->jwt_max_lifetime.data[i] > '9')
            {
                return -1;
            }

            v = v * 10 + (rec->jwt_max_lifetime.data[i] - '0');
        }

        rec->jwt_lifetime = v;
    }

    return 0;
}
