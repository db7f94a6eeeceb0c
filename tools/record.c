
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl's model of a key record: read from the store with the
 * module's own reader, and shown as JSON or as lines for people.
 */


#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_ip.h"
#include "apiauth_key.h"
#include "apiauth_scope.h"


static char *record_text(const apiauth_text_t *t, const char *dflt);


int
ctl_key_read(const char *ak, ctl_key_t *k)
{
    char         name[CTL_KEY_STORE_LEN];
    redisReply  *r;

    ctl_key_store_name(name, ak);

    r = ctl_redis_cmd("HGETALL %s", name);

    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return -1;
    }

    ctl_key_from_reply(k, ak, r);
    freeReplyObject(r);

    return 0;
}


/* a text of the record, copied, or dflt where the field is absent */

static char *
record_text(const apiauth_text_t *t, const char *dflt)
{
    char  *s;

    if (t->data == NULL) {
        return ctl_strdup(dflt);
    }

    s = ctl_alloc(t->len + 1);
    memcpy(s, t->data, t->len);

    return s;
}


/*
 * a record as the module reads it (apiauth_record_parse()), shown whole
 * whatever is wrong with it, and why nginx would refuse it
 */

void
ctl_key_from_reply(ctl_key_t *k, const char *ak, redisReply *r)
{
    size_t            i, n;
    apiauth_text_t   *fv;
    apiauth_record_t  rec;

    static apiauth_ip_entry_t  ips[APIAUTH_IPS_MAX];

    memset(k, 0, sizeof(ctl_key_t));
    k->access_key = ctl_strdup(ak);

    n = r->elements / 2;
    fv = ctl_alloc(2 * n * sizeof(apiauth_text_t));

    for (i = 0; i < 2 * n; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING) {
            fv[i].data = (const unsigned char *) r->element[i]->str;
            fv[i].len = r->element[i]->len;
        }
    }

    if (apiauth_record_parse(&rec, fv, n, ips, APIAUTH_IPS_MAX, &k->refused)
        != 0 && k->refused == NULL)
    {
        k->refused = "it cannot be read";
    }

    /* a record is never shown with holes */

    k->name = record_text(&rec.name, "");
    k->description = record_text(&rec.description, "");
    k->salt = record_text(&rec.salt, "");
    k->status = record_text(&rec.status, "disabled");
    k->apps = record_text(&rec.apps, "");
    k->interfaces = record_text(&rec.interfaces, "");
    k->ips = record_text(&rec.ips, "");

    if (rec.created.data) {
        k->created = atoll((const char *) rec.created.data);
    }

    if (rec.updated.data) {
        k->updated = atoll((const char *) rec.updated.data);
    }

    if (rec.policy.data) {
        k->policy = record_text(&rec.policy, "");
    }

    if (rec.limits.data) {
        k->limits = record_text(&rec.limits, "");
    }

    /* the JWT method's fields, absent ones NULL; its public key loaded */

    if (rec.jwt_alg.data) {
        k->jwt_alg = record_text(&rec.jwt_alg, "");
    }

    if (rec.jwt_public_key.data) {
        k->jwt_public_key = record_text(&rec.jwt_public_key, "");
    }

    if (rec.jwt_issuer.data) {
        k->jwt_issuer = record_text(&rec.jwt_issuer, "");
    }

    if (rec.jwt_audience.data) {
        k->jwt_audience = record_text(&rec.jwt_audience, "");
    }

    if (rec.jwt_max_lifetime.data) {
        k->jwt_max_lifetime = record_text(&rec.jwt_max_lifetime, "");
    }

    if (rec.jwt_require_exp.data) {
        k->jwt_require_exp = record_text(&rec.jwt_require_exp, "");
    }

    ctl_jwt_check(k, &rec);

    /* only an absent field means never: what is there and no time expired */

    k->expires = rec.expires_at;

    if (rec.expires_at < 0) {
        k->expires_text = record_text(&rec.expires, "");
    }

    free(fv);
}


void
ctl_key_free(ctl_key_t *k)
{
    free(k->access_key);
    free(k->name);
    free(k->description);
    free(k->salt);
    free(k->status);
    free(k->apps);
    free(k->interfaces);
    free(k->ips);
    free(k->expires_text);
    free(k->policy);
    free(k->limits);
    free(k->jwt_alg);
    free(k->jwt_public_key);
    free(k->jwt_issuer);
    free(k->jwt_audience);
    free(k->jwt_max_lifetime);
    free(k->jwt_require_exp);
}


/* the first characters show which secret a client holds, not the secret */

void
ctl_key_mask(const ctl_key_t *k, int reveal, char *out)
{
    ctl_secret(k, out);

    if (!reveal) {
        memset(out + CTL_KEY_MASK_SHOWN, '*', 12);
        out[CTL_KEY_MASK_SHOWN + 12] = '\0';
    }
}


/* a scope or whitelist as JSON: "all" or a list */

void
ctl_list_json(const char *list, int split_all)
{
    const char  *p, *comma;

    if (split_all && strcmp(list, APIAUTH_SCOPE_ALL) == 0) {
        json_str("all");
        return;
    }

    json_begin_array();

    for (p = list; *p; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma == NULL) {
            json_str(p);
            break;
        }

        json_strn(p, comma - p);
    }

    json_end_array();
}


void
ctl_key_json(const ctl_key_t *k, int reveal)
{
    json_begin_object();
    ctl_key_json_members(k, reveal);
    json_end_object();
}


void
ctl_key_json_members(const ctl_key_t *k, int reveal)
{
    char  buf[64], secret[APIAUTH_SECRET_LEN + 1];

    ctl_key_mask(k, reveal, secret);

    json_str_field("access_key", k->access_key);
    json_str_field("name", k->name);
    json_str_field("description", k->description);
    json_str_field("access_secret", secret);
    json_str_field("status", k->status);
    json_key("created");
    ctl_format_time(k->created, buf, sizeof(buf));
    json_str(buf);
    json_key("updated");
    ctl_format_time(k->updated, buf, sizeof(buf));
    json_str(buf);
    json_key("expires");

    if (k->expires > 0) {
        ctl_format_time(k->expires, buf, sizeof(buf));
        json_str(buf);

    } else if (k->expires < 0) {
        json_str("invalid");

    } else {
        json_null();
    }

    json_bool_field("expired",
                    k->expires < 0
                    || (k->expires > 0
                        && k->expires <= (long long) time(NULL)));
    json_key("apps");
    ctl_list_json(k->apps, 1);
    json_key("interfaces");
    ctl_list_json(k->interfaces, 1);
    json_key("ip_whitelist");
    ctl_list_json(k->ips, 0);
    json_str_field("nginx_refuses", k->refused);
    json_str_field("policy", k->policy);
    ctl_jwt_json(k);
}


/* a line of "key show": the value as the store holds it, escaped */

void
ctl_print_field(const char *label, const char *value)
{
    char  *text;

    text = ctl_escape_dup(value, strlen(value));
    printf("%-15s%s\n", label, text);
    free(text);
}


void
ctl_key_print(const ctl_key_t *k, int reveal)
{
    char  buf[64], secret[APIAUTH_SECRET_LEN + 1], *text;

    ctl_key_mask(k, reveal, secret);

    ctl_print_field("access key", k->access_key);
    ctl_print_field("name", k->name);
    ctl_print_field("description", k->description[0] ? k->description : "-");
    printf("access secret  %s%s\n", secret,
           reveal ? "" : "  (--reveal shows it)");
    ctl_print_field("status", k->status);
    ctl_format_time(k->created, buf, sizeof(buf));
    printf("created        %s\n", buf);
    ctl_format_time(k->updated, buf, sizeof(buf));
    printf("updated        %s\n", buf);

    if (k->expires > 0) {
        ctl_format_time(k->expires, buf, sizeof(buf));
        printf("expires        %s%s\n", buf,
               k->expires <= (long long) time(NULL) ? " (expired)" : "");

    } else if (k->expires < 0) {
        text = ctl_escape_dup(k->expires_text, strlen(k->expires_text));
        printf("expires        invalid (\"%s\"): treated as expired\n", text);
        free(text);

    } else {
        printf("expires        never\n");
    }

    ctl_print_field("apps",
                    apiauth_scope_is_all((unsigned char *) k->apps,
                                         strlen(k->apps))
                    ? "all" : k->apps);
    ctl_print_field("interfaces",
                    apiauth_scope_is_all((unsigned char *) k->interfaces,
                                         strlen(k->interfaces))
                    ? "all" : k->interfaces);
    ctl_print_field("ip whitelist", k->ips[0] ? k->ips : "any address");
    ctl_jwt_print(k);
    ctl_print_field("policy", k->policy ? k->policy : "none (no limits)");

    if (k->refused) {
        printf("nginx          refuses it (store_unavailable): %s\n",
               k->refused);
    }
}


size_t
ctl_list_count(const char *list)
{
    size_t  n;

    if (*list == '\0') {
        return 0;
    }

    for (n = 1; *list; list++) {
        n += (*list == ',');
    }

    return n;
}


void
ctl_key_store_name(char *buf, const char *ak)
{
    snprintf(buf, CTL_KEY_STORE_LEN, APIAUTH_STORE_KEY_PREFIX "%s", ak);
}
