
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl doctor: a Redis that keeps data, the master key id, the
 * store's schema and change stream, and records nginx reads.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ctl.h"
#include "apiauth_key.h"


#define DOCTOR_OK       0
#define DOCTOR_WARN     1
#define DOCTOR_FAIL     2
#define DOCTOR_UNKNOWN  3


static void doctor_report(const char *check, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
static char *doctor_config_get(const char *name);
static void doctor_schema(void);
static void doctor_changes(long long schema);
static void doctor_records(void);
static void doctor_age(long long ms, char *buf, size_t size);
static long long doctor_id_age(long long now, const char *id);
static void doctor_calls(void);
static void doctor_call_group(long long now, redisReply *g);


static int  doctor_worst;
static int  doctor_quiet;


static const char  doctor_help[] =
    "usage: apiauth-ctl doctor [--json]\n"
    "\n"
    "Checks that the key store's Redis answers and keeps data (version,\n"
    "appendonly, maxmemory-policy), the master key id, the store's schema\n"
    "and its change stream, reads every key record as nginx does, counts\n"
    "keys and interfaces, and shows the call records stream, its consumer\n"
    "groups and their lag.  Exit status 1 when a check fails.\n";


static const char  *doctor_status_names[] = {
    "ok", "warn", "FAIL", "could not check"
};


static void
doctor_report(const char *check, int status, const char *fmt, ...)
{
    char     msg[1024], text[CTL_ESCAPED_SIZE(1024)];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (status != DOCTOR_UNKNOWN && status > doctor_worst) {
        doctor_worst = status;
    }

    if (doctor_quiet) {
        /* init shows only what needs fixing */
        if (status != DOCTOR_OK) {
            ctl_warn("%s: %s", check, msg);
        }
        return;
    }

    if (ctl.json) {
        json_begin_object();
        json_str_field("check", check);
        json_str_field("status",
                       status == DOCTOR_UNKNOWN ? "unknown"
                       : (status == DOCTOR_FAIL ? "fail"
                          : doctor_status_names[status]));
        json_str_field("detail", msg);
        json_end_object();

    } else {
        /* the details quote what Redis says */
        ctl_escape(text, msg, strlen(msg));
        printf("%-16s %-16s %s\n", check, doctor_status_names[status], text);
    }
}


/* NULL where CONFIG is not allowed (an ACL, a managed Redis) */

static char *
doctor_config_get(const char *name)
{
    char        *v;
    redisReply  *r;

    r = ctl_redis_reply("CONFIG GET %s", name);

    v = NULL;

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[1]->type == REDIS_REPLY_STRING)
    {
        v = ctl_strdup(r->element[1]->str);
    }

    freeReplyObject(r);

    return v;
}


/* quiet: init's, which shows only what needs fixing */

int
ctl_doctor_run(int quiet)
{
    int          major;
    char        *v, *p;
    long long    n;
    redisReply  *r;

    doctor_quiet = quiet;
    doctor_worst = DOCTOR_OK;

    r = ctl_redis_cmd("PING");
    doctor_report("redis", DOCTOR_OK, "reachable at %s", ctl.addr);
    freeReplyObject(r);

    r = ctl_redis_cmd("INFO server");
    p = (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        ? strstr(r->str, "redis_version:") : NULL;

    if (p) {
        p += sizeof("redis_version:") - 1;
        p[strcspn(p, "\r\n")] = '\0';
        major = atoi(p);

        /* ACL users need 6; scripts replicate their effects since 5 */

        if (major >= 6) {
            doctor_report("version", DOCTOR_OK, "Redis %s", p);

        } else {
            doctor_report("version", DOCTOR_FAIL, "Redis %s is too old: "
                          "use Redis 6 or later", p);
        }

    } else {
        doctor_report("version", DOCTOR_UNKNOWN, "INFO gave no version");
    }

    freeReplyObject(r);

    v = doctor_config_get("appendonly");

    if (v == NULL) {
        doctor_report("persistence", DOCTOR_UNKNOWN, "CONFIG GET is not "
                      "allowed; make sure appendonly is yes");

    } else if (strcmp(v, "yes") == 0) {
        doctor_report("persistence", DOCTOR_OK, "appendonly yes");

    } else {
        doctor_report("persistence", DOCTOR_WARN, "appendonly is %s: a "
                      "restart loses key changes since the last snapshot; "
                      "set \"appendonly yes\" in redis.conf", v);
    }

    free(v);

    v = doctor_config_get("maxmemory-policy");

    if (v == NULL) {
        doctor_report("eviction", DOCTOR_UNKNOWN, "CONFIG GET is not "
                      "allowed; make sure maxmemory-policy is noeviction");

    } else if (strcmp(v, "noeviction") == 0
               || strncmp(v, "volatile-", 9) == 0)
    {
        /* key store names never have a TTL: volatile-* never takes them */
        doctor_report("eviction", DOCTOR_OK, "maxmemory-policy %s", v);

    } else {
        doctor_report("eviction", DOCTOR_FAIL, "maxmemory-policy %s can "
                      "evict keys from the store; set \"maxmemory-policy "
                      "noeviction\"", v);
    }

    free(v);

    r = ctl_redis_cmd("HGET %s master_key_id", APIAUTH_STORE_META);

    if (r->type != REDIS_REPLY_STRING) {
        doctor_report("master key", DOCTOR_FAIL,
                      "the key store is not initialised: run "
                      "\"apiauth-ctl init\"");

    } else if (!ctl.have_master) {
        doctor_report("master key", DOCTOR_UNKNOWN, "the store has id %s; "
                      "cannot read \"%s\" to compare", r->str,
                      ctl.master_path);

    } else if (strcmp(r->str, ctl.key_id) != 0) {
        doctor_report("master key", DOCTOR_FAIL, "\"%s\" has id %s, the key "
                      "store was initialised with id %s", ctl.master_path,
                      ctl.key_id, r->str);

    } else {
        doctor_report("master key", DOCTOR_OK, "id %s matches \"%s\"",
                      ctl.key_id, ctl.master_path);
    }

    freeReplyObject(r);

    doctor_schema();

    r = ctl_redis_cmd("ZCARD %s", APIAUTH_STORE_KEYS);
    n = r->integer;
    freeReplyObject(r);

    doctor_report("keys", DOCTOR_OK, "%lld of max_keys %lld", n,
                  ctl_config_get("max_keys", CTL_DEFAULT_MAX_KEYS));

    /* a max_ips set before there was a bound, or straight into Redis */

    n = ctl_config_get("max_ips", CTL_DEFAULT_MAX_IPS);

    if (n > APIAUTH_IPS_MAX) {
        doctor_report("whitelists", DOCTOR_WARN, "max_ips %lld is past the "
                      "module's bound of %d entries: apiauth-ctl lets no "
                      "whitelist grow past %d, and nginx reads a key whose "
                      "whitelist holds more as malformed and refuses its "
                      "requests (store_unavailable); set \"apiauth-ctl "
                      "config set max_ips %d\"", n, APIAUTH_IPS_MAX,
                      APIAUTH_IPS_MAX, APIAUTH_IPS_MAX);

    } else {
        doctor_report("whitelists", DOCTOR_OK, "at most max_ips %lld "
                      "entries, within the module's bound of %d", n,
                      APIAUTH_IPS_MAX);
    }

    doctor_records();

    r = ctl_redis_cmd("ZCARD %s", APIAUTH_STORE_IFS);
    doctor_report("interfaces", DOCTOR_OK, "%lld", r->integer);
    freeReplyObject(r);

    doctor_calls();

    return doctor_worst;
}


/*
 * the change commands refuse a store of another schema than the tool's,
 * as the schema says what the store holds: 2 has the change stream
 */

static void
doctor_schema(void)
{
    long long    v;
    redisReply  *r, *id, *schema;

    r = ctl_redis_cmd("HMGET %s master_key_id schema", APIAUTH_STORE_META);
    id = r->element[0];
    schema = r->element[1];
    v = -1;

    if (id->type != REDIS_REPLY_STRING) {
        doctor_report("schema", DOCTOR_UNKNOWN, "the key store is not "
                      "initialised");

    } else if (schema->type != REDIS_REPLY_STRING) {
        v = 0;
        doctor_report("schema", DOCTOR_FAIL, "no schema: run \"apiauth-ctl "
                      "upgrade\"");

    } else if (strcmp(schema->str, CTL_XSTR(APIAUTH_STORE_SCHEMA)) == 0) {
        v = APIAUTH_STORE_SCHEMA;
        doctor_report("schema", DOCTOR_OK, "schema %d", APIAUTH_STORE_SCHEMA);

    } else if (ctl_parse_uint(schema->str, 1000000, &v) != 0
               || v == APIAUTH_STORE_SCHEMA)
    {
        v = -1;
        doctor_report("schema", DOCTOR_FAIL, "schema \"%.64s\" is not a "
                      "schema (this apiauth-ctl writes %d)", schema->str,
                      APIAUTH_STORE_SCHEMA);

    } else if (v < APIAUTH_STORE_SCHEMA) {
        doctor_report("schema", DOCTOR_FAIL, "schema %lld: run \"apiauth-ctl "
                      "upgrade\"", v);

    } else {
        doctor_report("schema", DOCTOR_FAIL, "schema %lld is newer than this "
                      "apiauth-ctl (%d): upgrade apiauth-ctl", v,
                      APIAUTH_STORE_SCHEMA);
    }

    freeReplyObject(r);

    doctor_changes(v);
}


/*
 * the change stream that nginx reads; init and upgrade make it, so a
 * store of the tool's schema has one
 */

static void
doctor_changes(long long schema)
{
    long long    n;
    redisReply  *r, *last;

    r = ctl_redis_cmd("TYPE %s", APIAUTH_STORE_CHANGES);

    if (strcmp(r->str, "none") == 0) {
        if (schema == APIAUTH_STORE_SCHEMA) {
            doctor_report("changes", DOCTOR_WARN, APIAUTH_STORE_CHANGES
                          " is missing (deleted?): the next change makes "
                          "it again");

        } else {
            doctor_report("changes", DOCTOR_OK, "no change stream yet%s",
                          schema >= 0 && schema < APIAUTH_STORE_SCHEMA
                          ? ": \"apiauth-ctl upgrade\" makes it" : "");
        }

    } else if (strcmp(r->str, "stream") != 0) {
        doctor_report("changes", DOCTOR_FAIL, APIAUTH_STORE_CHANGES " is a "
                      "%s, not a stream: every change is refused until it "
                      "is renamed or deleted", r->str);

    } else {
        freeReplyObject(r);

        r = ctl_redis_cmd("XLEN %s", APIAUTH_STORE_CHANGES);
        n = r->integer;
        freeReplyObject(r);

        r = ctl_redis_cmd("XREVRANGE %s + - COUNT 1", APIAUTH_STORE_CHANGES);
        last = (r->type == REDIS_REPLY_ARRAY && r->elements == 1
                && r->element[0]->type == REDIS_REPLY_ARRAY
                && r->element[0]->elements == 2)
               ? r->element[0]->element[0] : NULL;

        doctor_report("changes", DOCTOR_OK, "a stream of %lld entr%s%s%s "
                      "(trimmed to about %d)", n, n == 1 ? "y" : "ies",
                      last ? ", the newest " : "", last ? last->str : "",
                      APIAUTH_STORE_CHANGES_MAXLEN);
    }

    freeReplyObject(r);
}


/*
 * every key record read as nginx reads it, a page at a time: the ones it
 * would refuse, and why, for the first few
 */

static void
doctor_records(void)
{
    char         last[APIAUTH_ACCESS_KEY_MAX + 2], examples[512];
    char         name[sizeof(APIAUTH_STORE_KEY_PREFIX)
                      + APIAUTH_ACCESS_KEY_MAX];
    size_t       i, all, bad, len;
    ctl_key_t    k;
    redisReply  *page, *r;

    strcpy(last, "-");
    all = 0;
    bad = 0;
    examples[0] = '\0';

    for ( ;; ) {
        page = ctl_redis_cmd("ZRANGEBYLEX %s %s + LIMIT 0 500",
                             APIAUTH_STORE_KEYS, last);

        if (page->type != REDIS_REPLY_ARRAY || page->elements == 0) {
            freeReplyObject(page);
            break;
        }

        for (i = 0; i < page->elements; i++) {
            snprintf(name, sizeof(name), APIAUTH_STORE_KEY_PREFIX "%s",
                     page->element[i]->str);
            ctl_redis_append("HGETALL %s", name);
        }

        for (i = 0; i < page->elements; i++) {
            r = ctl_redis_next();

            if (r->type == REDIS_REPLY_ARRAY && r->elements) {
                ctl_key_from_reply(&k, page->element[i]->str, r);
                all++;

                if (k.refused && ++bad <= 3) {
                    len = strlen(examples);
                    snprintf(examples + len, sizeof(examples) - len,
                             "%s\"%s\": %s", len ? "; " : "",
                             k.access_key, k.refused);
                }

                ctl_key_free(&k);
            }

            freeReplyObject(r);
        }

        snprintf(last, sizeof(last), "(%s",
                 page->element[page->elements - 1]->str);

        i = page->elements;
        freeReplyObject(page);

        if (i < 500) {
            break;
        }
    }

    if (bad) {
        doctor_report("records", DOCTOR_WARN, "nginx refuses %zu of %zu "
                      "keys as malformed (store_unavailable)%s: %s", bad,
                      all, bad > 3 ? ", the first three" : "", examples);

    } else {
        doctor_report("records", DOCTOR_OK, "nginx reads all %zu keys", all);
    }
}


/* 59s, 5m, 3h, 2d: how old an entry is, as people say it */

static void
doctor_age(long long ms, char *buf, size_t size)
{
    long long  s;

    s = ms < 0 ? 0 : ms / 1000;

    if (s < 120) {
        snprintf(buf, size, "%llds", s);

    } else if (s < 7200) {
        snprintf(buf, size, "%lldm", s / 60);

    } else if (s < 172800) {
        snprintf(buf, size, "%lldh", s / 3600);

    } else {
        snprintf(buf, size, "%lldd", s / 86400);
    }
}


/* a stream ID starts with the unix milliseconds Redis took it at */

static long long
doctor_id_age(long long now, const char *id)
{
    return now - atoll(id);
}


/*
 * the call records nginx appends (docs/records.md): the stream's length
 * and age, then each consumer group's; nothing there is fine, records are
 * off.  An entry older than a minute that a group has not read, or read
 * and not acknowledged, warns: its drain is stopped or behind
 */

static void
doctor_calls(void)
{
    char         age[32];
    size_t       i;
    long long    now, len, oldest;
    redisReply  *r, *t, *first;

    r = ctl_redis_cmd("TYPE %s", APIAUTH_RECORDS_STREAM);

    if (strcmp(r->str, "none") == 0) {
        doctor_report("call records", DOCTOR_OK, "no stream "
                      APIAUTH_RECORDS_STREAM ": nginx does not record "
                      "calls here");
        freeReplyObject(r);
        return;
    }

    if (strcmp(r->str, "stream") != 0) {
        doctor_report("call records", DOCTOR_FAIL, APIAUTH_RECORDS_STREAM
                      " is a %s, not a stream: nginx cannot append call "
                      "records to it", r->str);
        freeReplyObject(r);
        return;
    }

    freeReplyObject(r);

    /* Redis's clock, which made the IDs */

    t = ctl_redis_cmd("TIME");
    now = t->type == REDIS_REPLY_ARRAY && t->elements == 2
          ? atoll(t->element[0]->str) * 1000
            + atoll(t->element[1]->str) / 1000
          : 0;
    freeReplyObject(t);

    r = ctl_redis_cmd("XLEN %s", APIAUTH_RECORDS_STREAM);
    len = r->integer;
    freeReplyObject(r);

    t = ctl_redis_cmd("XRANGE %s - + COUNT 1", APIAUTH_RECORDS_STREAM);
    first = t->type == REDIS_REPLY_ARRAY && t->elements == 1
            ? t->element[0]->element[0] : NULL;
    oldest = first ? doctor_id_age(now, first->str) : 0;
    doctor_age(oldest, age, sizeof(age));

    r = ctl_redis_cmd("XINFO GROUPS %s", APIAUTH_RECORDS_STREAM);

    if (r->elements == 0 && first && oldest > 60000) {
        doctor_report("call records", DOCTOR_WARN, "a stream of %lld "
                      "entr%s, the oldest %s old, and no consumer group: "
                      "nothing archives it; run \"apiauth-ctl records drain "
                      "--db FILE\"", len, len == 1 ? "y" : "ies", age);

    } else {
        doctor_report("call records", DOCTOR_OK, "a stream of %lld entr%s%s"
                      "%s%s, %zu consumer group%s", len,
                      len == 1 ? "y" : "ies", first ? ", the oldest " : "",
                      first ? age : "", first ? " old" : "", r->elements,
                      r->elements == 1 ? "" : "s");
    }

    freeReplyObject(t);

    for (i = 0; i < r->elements; i++) {
        doctor_call_group(now, r->element[i]);
    }

    freeReplyObject(r);
}


/* one group of XINFO GROUPS: name, consumers, pending, lag (Redis 7) */

static void
doctor_call_group(long long now, redisReply *g)
{
    int          status;
    char         lag[32], pending_age[64], unread_age[64], age[32];
    size_t       i;
    long long    consumers, pending, ms;
    const char  *name, *last, *k;
    redisReply  *v, *r;

    name = "?";
    last = "0-0";
    consumers = pending = 0;
    strcpy(lag, "unknown");

    for (i = 0; i + 1 < g->elements; i += 2) {
        k = g->element[i]->str;
        v = g->element[i + 1];

        if (strcmp(k, "name") == 0 && v->type == REDIS_REPLY_STRING) {
            name = v->str;

        } else if (strcmp(k, "consumers") == 0) {
            consumers = v->integer;

        } else if (strcmp(k, "pending") == 0) {
            pending = v->integer;

        } else if (strcmp(k, "last-delivered-id") == 0
                   && v->type == REDIS_REPLY_STRING)
        {
            last = v->str;

        } else if (strcmp(k, "lag") == 0 && v->type == REDIS_REPLY_INTEGER) {
            snprintf(lag, sizeof(lag), "%lld", v->integer);
        }
    }

    status = DOCTOR_OK;
    pending_age[0] = '\0';
    unread_age[0] = '\0';

    if (pending) {
        r = ctl_redis_cmd("XPENDING %s %s", APIAUTH_RECORDS_STREAM, name);

        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4
            && r->element[1]->type == REDIS_REPLY_STRING)
        {
            ms = doctor_id_age(now, r->element[1]->str);
            doctor_age(ms, age, sizeof(age));
            snprintf(pending_age, sizeof(pending_age), ", the oldest "
                     "pending %s old", age);
            status = ms > 60000 ? DOCTOR_WARN : status;
        }

        freeReplyObject(r);
    }

    r = ctl_redis_cmd("XRANGE %s (%s + COUNT 1", APIAUTH_RECORDS_STREAM, last);

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        ms = doctor_id_age(now, r->element[0]->element[0]->str);
        doctor_age(ms, age, sizeof(age));
        snprintf(unread_age, sizeof(unread_age), ", the oldest unread %s old",
                 age);
        status = ms > 60000 ? DOCTOR_WARN : status;
    }

    freeReplyObject(r);

    doctor_report("call group", status, "\"%s\": %lld consumer%s, %lld "
                  "pending, lag %s%s%s%s", name, consumers,
                  consumers == 1 ? "" : "s", pending, lag, pending_age,
                  unread_age, status == DOCTOR_WARN
                  ? ": is \"apiauth-ctl records drain\" running?" : "");
}


int
do_doctor(int argc, char **argv)
{
    int          worst;
    struct stat  st;

    if (ctl_common_args(argc, argv, doctor_help) != argc) {
        ctl_fail(CTL_EXIT_USAGE, "\"doctor\" takes no arguments");
    }

    ctl_redis_connect();

    /* the master key is compared when it can be read, not required */

    if (stat(ctl.master_path, &st) == 0 && access(ctl.master_path, R_OK) == 0)
    {
        ctl_master_load();
    }

    if (ctl.json) {
        json_begin_object();
        json_key("checks");
        json_begin_array();
    }

    worst = ctl_doctor_run(0);

    if (ctl.json) {
        json_end_array();
        json_bool_field("ok", worst != DOCTOR_FAIL);
        json_end_object();
        json_end();
    }

    return worst == DOCTOR_FAIL ? CTL_EXIT_RUNTIME : CTL_EXIT_OK;
}
