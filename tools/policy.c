
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl policy: rate limits and quotas (docs/policies.md), and the
 * key commands that attach one and show what a key has used.
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_policy.h"


#define POLICY_STORE_LEN                                                     \
    (sizeof(APIAUTH_STORE_POLICY_KEYS_PREFIX) + APIAUTH_PLAIN_NAME_MAX)
#define USAGE_STORE_LEN                                                      \
    (sizeof(APIAUTH_STORE_QUOTA_PREFIX) + APIAUTH_ACCESS_KEY_MAX)


/* what a key has used of its policy, as Redis holds it now */
typedef struct {
    long long        now_ms;            /* Redis's clock */
    uint64_t         available;         /* rate tokens to take now */
    long long        used;
    long long        start_ms;          /* the quota's period */
    long long        end_ms;
    int              open;              /* a first-use period is running */
} usage_t;


static void policy_usage_exit(void);
static const char *policy_name_arg(const char *s);
static void policy_json(const char *name, const apiauth_policy_t *p,
    redisReply *h, long long nkeys);
static int policy_read(const char *name, apiauth_policy_t *p,
    redisReply **h);
static void policy_store_names(const char *name, char *store, char *keys);
static void usage_read(const char *ak, const apiauth_policy_t *p,
    usage_t *u);
static void usage_time(long long ms, char *buf, size_t size);

static int policy_create(int argc, char **argv);
static int policy_list(int argc, char **argv);
static int policy_show(int argc, char **argv);
static int policy_update(int argc, char **argv);
static int policy_delete(int argc, char **argv);


static const char  policy_help[] =
    "usage: apiauth-ctl policy COMMAND [ARGS] [--json]\n"
    "\n"
    "commands:\n"
    "  create NAME [--rate RATE] [--burst N] [--quota QUOTA]\n"
    "         [--utc-offset +HH:MM] [--anchor calendar|first-use] "
    "[--dry-run]\n"
    "  list\n"
    "  show NAME\n"
    "  update NAME [the options of create] [--rate none] [--quota none]\n"
    "         [--no-dry-run]\n"
    "  delete NAME               (a policy no key uses)\n"
    "\n"
    "A key gets a policy with \"apiauth-ctl key policy AK NAME\"; a key\n"
    "without one has no limits.\n"
    "NAME: " APIAUTH_PLAIN_NAME_RULE " (not \"none\").\n"
    "RATE: " APIAUTH_RATE_RULE "; --burst (default N) requests may come\n"
    "      at once.\n"
    "QUOTA: " APIAUTH_QUOTA_RULE ".\n"
    "      Periods start at midnight, Monday or the 1st at --utc-offset\n"
    "      (" APIAUTH_OFFSET_RULE ", default +00:00), or at a key's\n"
    "      first request with --anchor first-use.\n"
    "--dry-run: count and log what the policy would refuse; refuse "
    "nothing.\n";

static const char  policy_create_help[] =
    "usage: apiauth-ctl policy create NAME [--rate RATE] [--burst N]\n"
    "           [--quota QUOTA] [--utc-offset +HH:MM]\n"
    "           [--anchor calendar|first-use] [--dry-run] [--json]\n"
    "\n"
    "Creates a policy: a rate, a quota, or both.\n"
    "RATE: " APIAUTH_RATE_RULE "; --burst (default N) requests may come\n"
    "      at once, then one every window/N.\n"
    "QUOTA: " APIAUTH_QUOTA_RULE ".\n"
    "--utc-offset: where calendar periods start (" APIAUTH_OFFSET_RULE
    ",\n"
    "      default +00:00); --anchor first-use: a period starts at a key's\n"
    "      first request after the last one ended.  Both need --quota.\n";

static const char  policy_update_help[] =
    "usage: apiauth-ctl policy update NAME [--rate RATE|none] [--burst N]\n"
    "           [--quota QUOTA|none] [--utc-offset +HH:MM]\n"
    "           [--anchor calendar|first-use] [--dry-run|--no-dry-run]\n"
    "           [--json]\n"
    "\n"
    "Changes what is given and keeps the rest (a new --rate keeps the\n"
    "burst unless --burst); every key that uses the policy has it on every\n"
    "nginx within a second.  A lower quota applies at once to what keys\n"
    "have used in the current period.\n";

static const char  policy_list_help[] =
    "usage: apiauth-ctl policy list [--json]\n";

static const char  policy_show_help[] =
    "usage: apiauth-ctl policy show NAME [--json]\n"
    "\n"
    "Shows a policy and the keys that use it.\n";

static const char  policy_delete_help[] =
    "usage: apiauth-ctl policy delete NAME [--json]\n"
    "\n"
    "Deletes a policy that no key uses.\n";

static const char  key_policy_help[] =
    "usage: apiauth-ctl key policy AK NAME|none [--json]\n"
    "\n"
    "Gives the key a policy, or none (no limits).  What the key has used\n"
    "stays: a new quota applies to it at once.\n";

static const char  key_usage_help[] =
    "usage: apiauth-ctl key usage AK [--json]\n"
    "\n"
    "What the key has used of its policy's limits and what remains, as\n"
    "Redis counts it: tokens leased to nginx nodes and not yet spent count\n"
    "as used until they go back.\n";


static const ctl_cmd_t  policy_cmds[] = {
    { "create", policy_create },
    { "list", policy_list },
    { "show", policy_show },
    { "update", policy_update },
    { "delete", policy_delete },
    { NULL, NULL }
};


int
do_policy(int argc, char **argv)
{
    return ctl_dispatch(policy_cmds, "policy", argc - 1, argv + 1,
                        policy_usage_exit);
}


static void
policy_usage_exit(void)
{
    ctl_help_exit(policy_help);
}


static const char *
policy_name_arg(const char *s)
{
    if (apiauth_plain_name_check((const unsigned char *) s, strlen(s)) != 0
        || strcmp(s, "none") == 0)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid policy name \"%s\": use "
                 APIAUTH_PLAIN_NAME_RULE ", not \"none\"", s);
    }

    return s;
}


static void
policy_store_names(const char *name, char *store, char *keys)
{
    snprintf(store, POLICY_STORE_LEN, APIAUTH_STORE_POLICY_PREFIX "%s", name);
    snprintf(keys, POLICY_STORE_LEN, APIAUTH_STORE_POLICY_KEYS_PREFIX "%s",
             name);
}


/* the options of create and update, as given */
typedef struct {
    const char      *rate;
    const char      *burst;
    const char      *quota;
    const char      *offset;
    const char      *anchor;
    int              dry_run;           /* -1: not given */
} policy_opts_t;


/* parses the options; the name is left at argv[optind] */

static void
policy_options(int argc, char **argv, const char *help, policy_opts_t *o,
    int create)
{
    int  opt;

    static const struct option  options[] = {
        { "rate", required_argument, NULL, 'r' },
        { "burst", required_argument, NULL, 'b' },
        { "quota", required_argument, NULL, 'q' },
        { "utc-offset", required_argument, NULL, 'o' },
        { "anchor", required_argument, NULL, 'a' },
        { "dry-run", no_argument, NULL, 'd' },
        { "no-dry-run", no_argument, NULL, 'D' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(policy_opts_t));
    o->dry_run = -1;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'r': o->rate = optarg; break;
        case 'b': o->burst = optarg; break;
        case 'q': o->quota = optarg; break;
        case 'o': o->offset = optarg; break;
        case 'a': o->anchor = optarg; break;
        case 'd': o->dry_run = 1; break;
        case 'D': o->dry_run = 0; break;
        default: ctl_common_opt(opt, argv, help);
        }
    }

    if (argc - optind != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"policy %s\" takes one NAME; see "
                 "\"apiauth-ctl policy %s --help\"",
                 create ? "create" : "update", create ? "create" : "update");
    }

    if (create && o->dry_run == 0) {
        ctl_fail(CTL_EXIT_USAGE, "--no-dry-run is for \"policy update\"");
    }
}


/* the options given over what p holds; "none" removes a rate or a quota */

static void
policy_apply(apiauth_policy_t *p, const policy_opts_t *o, int create)
{
    uint64_t   had;
    long long  v;

    if (o->rate && !create && strcmp(o->rate, "none") == 0) {
        p->rate = 0;
        p->rate_window = 0;
        p->burst = 0;

    } else if (o->rate) {
        had = p->rate;

        if (apiauth_policy_rate_parse(p, o->rate, strlen(o->rate)) != 0) {
            ctl_fail(CTL_EXIT_USAGE, "invalid rate \"%s\": use "
                     APIAUTH_RATE_RULE, o->rate);
        }

        /* the burst: N for a new rate; an update keeps the one there was */

        if (!had) {
            p->burst = p->rate;
        }
    }

    if (o->burst) {
        if (ctl_parse_uint(o->burst, APIAUTH_POLICY_BURST_MAX, &v) != 0
            || v < 1)
        {
            ctl_fail(CTL_EXIT_USAGE, "invalid burst \"%s\": use 1 to %d",
                     o->burst, APIAUTH_POLICY_BURST_MAX);
        }

        if (p->rate == 0) {
            ctl_fail(CTL_EXIT_USAGE, "--burst needs a rate (--rate)");
        }

        p->burst = (uint64_t) v;
    }

    if (o->quota && !create && strcmp(o->quota, "none") == 0) {
        p->quota = 0;
        p->period = APIAUTH_QUOTA_NONE;
        p->period_len = 0;

    } else if (o->quota
               && apiauth_policy_quota_parse(p, o->quota, strlen(o->quota))
                  != 0)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid quota \"%s\": use "
                 APIAUTH_QUOTA_RULE, o->quota);
    }

    if (o->offset
        && apiauth_policy_offset_parse(&p->utc_offset, o->offset,
                                       strlen(o->offset))
           != 0)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid UTC offset \"%s\": use "
                 APIAUTH_OFFSET_RULE, o->offset);
    }

    if (o->anchor) {
        if (strcmp(o->anchor, "calendar") == 0) {
            p->anchor = APIAUTH_ANCHOR_CALENDAR;

        } else if (strcmp(o->anchor, "first-use") == 0) {
            p->anchor = APIAUTH_ANCHOR_FIRST_USE;

        } else {
            ctl_fail(CTL_EXIT_USAGE, "invalid anchor \"%s\": use calendar "
                     "or first-use", o->anchor);
        }
    }

    if (o->dry_run != -1) {
        p->dry_run = o->dry_run;
    }

    if (p->rate == 0 && p->quota == 0) {
        ctl_fail(CTL_EXIT_USAGE, "a policy limits something: give --rate, "
                 "--quota or both");
    }

    /* what only matters to a quota is kept only with one */

    if (p->quota == 0) {
        if (o->offset || o->anchor) {
            ctl_fail(CTL_EXIT_USAGE, "%s applies to a quota (--quota)",
                     o->offset ? "--utc-offset" : "--anchor");
        }

        p->utc_offset = 0;
        p->anchor = APIAUTH_ANCHOR_CALENDAR;
    }

    if (apiauth_policy_check(p) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid policy");
    }
}


static int
policy_create(int argc, char **argv)
{
    char              store[POLICY_STORE_LEN], keys[POLICY_STORE_LEN];
    char              limits[APIAUTH_POLICY_TEXT_MAX + 1];
    const char       *name;
    redisReply       *r;
    policy_opts_t     o;
    apiauth_policy_t  p;

    memset(&p, 0, sizeof(apiauth_policy_t));

    policy_options(argc, argv, policy_create_help, &o, 1);
    name = policy_name_arg(argv[optind]);
    policy_apply(&p, &o, 1);

    if (apiauth_policy_format(&p, limits, sizeof(limits)) == 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "internal error: a policy too long");
    }

    ctl_redis_connect();
    ctl_master_check();

    policy_store_names(name, store, keys);

    r = ctl_scriptl(ctl_lua_policy_create, 3, APIAUTH_STORE_META,
                    APIAUTH_STORE_POLICIES, store, ctl.key_id, ctl_now(),
                    name, limits, NULL);
    freeReplyObject(r);

    if (ctl.json) {
        policy_json(name, &p, NULL, 0);
        json_end();

    } else {
        printf("policy \"%s\" created: %s\n", name, limits);
    }

    return CTL_EXIT_OK;
}


static int
policy_update(int argc, char **argv)
{
    char              store[POLICY_STORE_LEN], keys[POLICY_STORE_LEN];
    char              limits[APIAUTH_POLICY_TEXT_MAX + 1];
    const char       *name;
    redisReply       *r;
    policy_opts_t     o;
    apiauth_policy_t  p;

    policy_options(argc, argv, policy_update_help, &o, 0);
    name = policy_name_arg(argv[optind]);

    ctl_redis_connect();
    ctl_master_check();

    if (policy_read(name, &p, NULL) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "no policy named \"%s\"", name);
    }

    policy_apply(&p, &o, 0);

    if (apiauth_policy_format(&p, limits, sizeof(limits)) == 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "internal error: a policy too long");
    }

    policy_store_names(name, store, keys);

    r = ctl_scriptl(ctl_lua_policy_update, 3, APIAUTH_STORE_META, store, keys,
                    ctl.key_id, ctl_now(), name, limits, NULL);
    freeReplyObject(r);

    if (ctl.json) {
        policy_json(name, &p, NULL, 0);
        json_end();

    } else {
        printf("policy \"%s\" updated: %s\n", name, limits);
    }

    return CTL_EXIT_OK;
}


/*
 * a policy's hash (kept in *h when h is not NULL) and its limits: 0, or -1
 * when there is no such policy; limits that cannot be read fail the run
 */

static int
policy_read(const char *name, apiauth_policy_t *p, redisReply **h)
{
    char         store[POLICY_STORE_LEN], keys[POLICY_STORE_LEN], *text;
    size_t       i;
    redisReply  *r, *limits;

    policy_store_names(name, store, keys);

    r = ctl_redis_cmd("HGETALL %s", store);

    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return -1;
    }

    limits = NULL;

    for (i = 0; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type == REDIS_REPLY_STRING
            && strcmp(r->element[i]->str, "limits") == 0)
        {
            limits = r->element[i + 1];
        }
    }

    if (limits == NULL || limits->type != REDIS_REPLY_STRING
        || apiauth_policy_parse(p, limits->str, limits->len) != 0)
    {
        text = limits && limits->type == REDIS_REPLY_STRING
               ? ctl_escape_dup(limits->str, limits->len) : ctl_strdup("");
        freeReplyObject(r);
        ctl_fail(CTL_EXIT_RUNTIME, "policy \"%s\" holds limits that are not "
                 "a policy's: \"%s\"", name, text);
    }

    if (h) {
        *h = r;

    } else {
        freeReplyObject(r);
    }

    return 0;
}


static long long
policy_hash_time(redisReply *h, const char *field)
{
    size_t  i;

    for (i = 0; h && i + 1 < h->elements; i += 2) {
        if (h->element[i]->type == REDIS_REPLY_STRING
            && strcmp(h->element[i]->str, field) == 0
            && h->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return atoll(h->element[i + 1]->str);
        }
    }

    return 0;
}


static void
policy_json(const char *name, const apiauth_policy_t *p, redisReply *h,
    long long nkeys)
{
    char  buf[64];

    json_begin_object();
    json_str_field("name", name);
    json_key("rate");

    if (p->rate) {
        apiauth_policy_rate_text(p, buf, sizeof(buf));
        json_str(buf);
        json_int_field("burst", (long long) p->burst);

    } else {
        json_null();
        json_key("burst");
        json_null();
    }

    json_key("quota");

    if (p->quota) {
        apiauth_policy_quota_text(p, buf, sizeof(buf));
        json_str(buf);

    } else {
        json_null();
    }

    apiauth_policy_offset_text(p->utc_offset, buf, sizeof(buf));
    json_str_field("utc_offset", buf);
    json_str_field("anchor", p->anchor == APIAUTH_ANCHOR_FIRST_USE
                             ? "first-use" : "calendar");
    json_bool_field("dry_run", p->dry_run);

    apiauth_policy_format(p, buf, sizeof(buf));

    if (h) {
        json_key("created");
        ctl_format_time(policy_hash_time(h, "created"), buf, sizeof(buf));
        json_str(buf);
        json_key("updated");
        ctl_format_time(policy_hash_time(h, "updated"), buf, sizeof(buf));
        json_str(buf);
        json_int_field("keys", nkeys);
    }

    json_end_object();
}


static void
policy_print(const char *name, const apiauth_policy_t *p)
{
    char  buf[64], off[8];

    printf("name           %s\n", name);

    if (p->rate) {
        apiauth_policy_rate_text(p, buf, sizeof(buf));
        printf("rate           %s, burst %" PRIu64 "\n", buf, p->burst);

    } else {
        printf("rate           none\n");
    }

    if (p->quota) {
        apiauth_policy_quota_text(p, buf, sizeof(buf));
        apiauth_policy_offset_text(p->utc_offset, off, sizeof(off));
        printf("quota          %s, from %s at UTC%s\n", buf,
               p->anchor == APIAUTH_ANCHOR_FIRST_USE
               ? "a key's first use" : "the calendar", off);

    } else {
        printf("quota          none\n");
    }

    printf("dry run        %s\n", p->dry_run
           ? "yes (counts and logs what it would refuse)" : "no");
}


static int
policy_list(int argc, char **argv)
{
    char              rate[64], quota[64], off[8], burst[24], nk[24];
    char              keys[POLICY_STORE_LEN], store[POLICY_STORE_LEN];
    size_t            i;
    redisReply       *names, *h, *n;
    ctl_table_t      *t;
    apiauth_policy_t  p;

    if (argc - ctl_common_args(argc, argv, policy_list_help) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "\"policy list\" takes no arguments");
    }

    ctl_redis_connect();
    ctl_master_check();

    names = ctl_redis_cmd("ZRANGEBYLEX %s - +", APIAUTH_STORE_POLICIES);

    t = NULL;

    if (ctl.json) {
        json_begin_array();

    } else {
        t = ctl_table_new(7, "NAME", "RATE", "BURST", "QUOTA", "PERIODS",
                          "DRY RUN", "KEYS");
    }

    for (i = 0; i < names->elements; i++) {
        if (policy_read(names->element[i]->str, &p, &h) != 0) {
            continue;                           /* deleted meanwhile */
        }

        policy_store_names(names->element[i]->str, store, keys);
        n = ctl_redis_cmd("SCARD %s", keys);

        if (ctl.json) {
            policy_json(names->element[i]->str, &p, h, n->integer);

        } else {
            rate[0] = '\0';
            burst[0] = '\0';
            quota[0] = '\0';
            off[0] = '\0';

            if (p.rate) {
                apiauth_policy_rate_text(&p, rate, sizeof(rate));
                snprintf(burst, sizeof(burst), "%" PRIu64, p.burst);
            }

            if (p.quota) {
                apiauth_policy_quota_text(&p, quota, sizeof(quota));
                apiauth_policy_offset_text(p.utc_offset, off, sizeof(off));

                if (p.anchor == APIAUTH_ANCHOR_FIRST_USE) {
                    snprintf(off, sizeof(off), "first");
                }
            }

            snprintf(nk, sizeof(nk), "%lld", n->integer);
            ctl_table_row(t, names->element[i]->str, rate[0] ? rate : "-",
                          burst[0] ? burst : "-", quota[0] ? quota : "-",
                          !p.quota ? "-"
                          : p.anchor == APIAUTH_ANCHOR_FIRST_USE
                          ? "first use" : off,
                          p.dry_run ? "yes" : "no", nk);
        }

        freeReplyObject(n);
        freeReplyObject(h);
    }

    freeReplyObject(names);

    if (ctl.json) {
        json_end_array();
        json_end();

    } else {
        if (ctl_table_rows(t)) {
            ctl_table_print(t);

        } else {
            printf("no policies\n");
        }

        ctl_table_free(t);
    }

    return CTL_EXIT_OK;
}


static int
policy_show(int argc, char **argv)
{
    char              keys[POLICY_STORE_LEN], store[POLICY_STORE_LEN];
    char              buf[64];
    size_t            i;
    const char       *name;
    redisReply       *h, *aks;
    apiauth_policy_t  p;

    if (argc - ctl_common_args(argc, argv, policy_show_help) != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"policy show\" takes one NAME; see "
                 "\"apiauth-ctl policy show --help\"");
    }

    name = policy_name_arg(argv[optind]);

    ctl_redis_connect();
    ctl_master_check();

    if (policy_read(name, &p, &h) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "no policy named \"%s\"", name);
    }

    policy_store_names(name, store, keys);
    aks = ctl_redis_cmd("SORT %s ALPHA", keys);

    if (ctl.json) {
        json_begin_object();
        json_key("policy");
        policy_json(name, &p, h, (long long) aks->elements);
        json_key("access_keys");
        json_begin_array();

        for (i = 0; i < aks->elements; i++) {
            json_str(aks->element[i]->str);
        }

        json_end_array();
        json_end_object();
        json_end();

    } else {
        policy_print(name, &p);
        ctl_format_time(policy_hash_time(h, "created"), buf, sizeof(buf));
        printf("created        %s\n", buf);
        ctl_format_time(policy_hash_time(h, "updated"), buf, sizeof(buf));
        printf("updated        %s\n", buf);
        printf("keys           %zu\n", aks->elements);

        for (i = 0; i < aks->elements; i++) {
            printf("  %s\n", aks->element[i]->str);
        }
    }

    freeReplyObject(aks);
    freeReplyObject(h);

    return CTL_EXIT_OK;
}


static int
policy_delete(int argc, char **argv)
{
    char         keys[POLICY_STORE_LEN], store[POLICY_STORE_LEN];
    const char  *name;
    redisReply  *r;

    if (argc - ctl_common_args(argc, argv, policy_delete_help) != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"policy delete\" takes one NAME; see "
                 "\"apiauth-ctl policy delete --help\"");
    }

    name = policy_name_arg(argv[optind]);

    ctl_redis_connect();
    ctl_master_check();

    policy_store_names(name, store, keys);

    r = ctl_scriptl(ctl_lua_policy_delete, 4, APIAUTH_STORE_META,
                    APIAUTH_STORE_POLICIES, store, keys, ctl.key_id,
                    ctl_now(), name, NULL);
    freeReplyObject(r);

    if (ctl.json) {
        json_begin_object();
        json_str_field("name", name);
        json_bool_field("deleted", 1);
        json_end_object();
        json_end();

    } else {
        printf("policy \"%s\" deleted\n", name);
    }

    return CTL_EXIT_OK;
}


/* the script's "INUSE n ak,ak,...": the keys named, ten at most */

void
ctl_policy_in_use(const char *detail)
{
    const char  *aks;

    aks = strchr(detail, ' ');

    ctl_fail(CTL_EXIT_USAGE, "the policy is used by %.*s key(s): %s%s; give "
             "them another policy first (\"apiauth-ctl key policy AK NAME|"
             "none\")", aks ? (int) (aks - detail) : 0, detail,
             aks ? aks + 1 : "",
             aks && atoll(detail) > 10 ? ", ..." : "");
}


int
ctl_key_policy(int argc, char **argv)
{
    char         store[CTL_KEY_STORE_LEN];
    const char  *ak, *name;
    redisReply  *r;

    if (argc - ctl_common_args(argc, argv, key_policy_help) != 2) {
        ctl_fail(CTL_EXIT_USAGE, "\"key policy\" takes an accessKey and a "
                 "policy name or none; see \"apiauth-ctl key policy "
                 "--help\"");
    }

    ak = ctl_access_key_arg(argv[optind]);
    name = argv[optind + 1];

    if (strcmp(name, "none") != 0) {
        policy_name_arg(name);
    }

    ctl_redis_connect();
    ctl_master_check();

    ctl_key_store_name(store, ak);

    r = ctl_scriptl(ctl_lua_key_policy, 2, APIAUTH_STORE_META, store,
                    ctl.key_id, ctl_now(), ak,
                    strcmp(name, "none") == 0 ? "" : name, NULL);
    freeReplyObject(r);

    if (ctl.json) {
        json_begin_object();
        json_str_field("access_key", ak);
        json_key("policy");

        if (strcmp(name, "none") == 0) {
            json_null();

        } else {
            json_str(name);
        }

        json_end_object();
        json_end();

    } else if (strcmp(name, "none") == 0) {
        printf("key \"%s\" has no policy: no limits\n", ak);

    } else {
        printf("key \"%s\" has policy \"%s\"\n", ak, name);
    }

    return CTL_EXIT_OK;
}


/*
 * what Redis counts, on Redis's clock (nginx leases on it too): the rate's
 * tokens that a request could take now, and the quota used in its period
 */

static void
usage_read(const char *ak, const apiauth_policy_t *p, usage_t *u)
{
    char         name[USAGE_STORE_LEN];
    uint64_t     t, tau;
    int64_t      ws, we;
    long long    now_us, tat, s, e, used;
    redisReply  *r;

    memset(u, 0, sizeof(usage_t));

    r = ctl_redis_cmd("TIME");
    now_us = atoll(r->element[0]->str) * 1000000
             + atoll(r->element[1]->str);
    freeReplyObject(r);

    u->now_ms = now_us / 1000;

    if (p->rate) {
        apiauth_policy_gcra(p, &t, &tau);

        snprintf(name, sizeof(name), APIAUTH_STORE_RATE_PREFIX "%s", ak);
        r = ctl_redis_cmd("GET %s", name);
        tat = (r->type == REDIS_REPLY_STRING) ? atoll(r->str) : 0;
        freeReplyObject(r);

        if (tat < now_us) {
            tat = now_us;
        }

        /* a TAT further ahead than a burst (one lowered since): none */

        tat = now_us + (long long) (tau + t) - tat;
        u->available = tat > 0 ? (uint64_t) tat / t : 0;

        if (u->available > p->burst) {
            u->available = p->burst;
        }
    }

    if (p->quota) {
        snprintf(name, sizeof(name), APIAUTH_STORE_QUOTA_PREFIX "%s", ak);
        r = ctl_redis_cmd("HMGET %s start end used", name);

        s = r->element[0]->type == REDIS_REPLY_STRING
            ? atoll(r->element[0]->str) : 0;
        e = r->element[1]->type == REDIS_REPLY_STRING
            ? atoll(r->element[1]->str) : 0;
        used = r->element[2]->type == REDIS_REPLY_STRING
               ? atoll(r->element[2]->str) : 0;
        freeReplyObject(r);

        apiauth_policy_window(p, u->now_ms, &ws, &we);

        if (p->anchor == APIAUTH_ANCHOR_FIRST_USE) {
            u->open = (u->now_ms < e);
            u->start_ms = u->open ? s : 0;
            u->end_ms = u->open ? e : 0;
            u->used = u->open ? used : 0;

        } else {
            /* another period (the policy's changed since): a new count */
            u->open = 1;
            u->start_ms = ws;
            u->end_ms = we;
            u->used = (s == ws && e == we) ? used : 0;
        }
    }
}


static void
usage_time(long long ms, char *buf, size_t size)
{
    ctl_format_time(ms / 1000, buf, size);
}


/* "key show" and "key usage": the policy, and what the key used of it */

void
ctl_usage_json(const ctl_key_t *k)
{
    char              buf[64];
    long long         left;
    usage_t           u;
    apiauth_policy_t  p;

    json_key("usage");

    if (k->limits == NULL
        || apiauth_policy_parse(&p, k->limits, strlen(k->limits)) != 0)
    {
        json_null();
        return;
    }

    usage_read(k->access_key, &p, &u);

    json_begin_object();
    json_bool_field("dry_run", p.dry_run);
    json_key("rate");

    if (p.rate) {
        json_begin_object();
        apiauth_policy_rate_text(&p, buf, sizeof(buf));
        json_str_field("limit", buf);
        json_int_field("burst", (long long) p.burst);
        json_int_field("available", (long long) u.available);
        json_end_object();

    } else {
        json_null();
    }

    json_key("quota");

    if (p.quota) {
        json_begin_object();
        apiauth_policy_quota_text(&p, buf, sizeof(buf));
        json_str_field("limit", buf);
        json_int_field("used", u.used);
        left = (long long) p.quota - u.used;
        json_int_field("remaining", left > 0 ? left : 0);
        json_key("period_start");

        if (u.open) {
            usage_time(u.start_ms, buf, sizeof(buf));
            json_str(buf);

        } else {
            json_null();
        }

        json_key("period_end");

        if (u.open) {
            usage_time(u.end_ms, buf, sizeof(buf));
            json_str(buf);

        } else {
            json_null();
        }

        json_end_object();

    } else {
        json_null();
    }

    json_end_object();
}


void
ctl_usage_print(const ctl_key_t *k)
{
    char              buf[64], from[32], to[32];
    long long         left;
    usage_t           u;
    apiauth_policy_t  p;

    if (k->limits == NULL
        || apiauth_policy_parse(&p, k->limits, strlen(k->limits)) != 0)
    {
        return;
    }

    usage_read(k->access_key, &p, &u);

    if (p.rate) {
        apiauth_policy_rate_text(&p, buf, sizeof(buf));
        printf("rate           %s, burst %" PRIu64 ": %" PRIu64
               " available now\n", buf, p.burst, u.available);
    }

    if (p.quota) {
        apiauth_policy_quota_text(&p, buf, sizeof(buf));
        left = (long long) p.quota - u.used;

        if (u.open) {
            usage_time(u.start_ms, from, sizeof(from));
            usage_time(u.end_ms, to, sizeof(to));
            printf("quota          %s: %lld used, %lld remaining, "
                   "from %s to %s\n", buf, u.used, left > 0 ? left : 0,
                   from, to);

        } else {
            printf("quota          %s: %llu remaining; the period starts "
                   "with the next request\n", buf,
                   (unsigned long long) p.quota);
        }
    }

    if (p.dry_run) {
        printf("dry run        yes: nothing is refused\n");
    }
}


int
ctl_key_usage(int argc, char **argv)
{
    ctl_key_t    k;
    const char  *ak;

    if (argc - ctl_common_args(argc, argv, key_usage_help) != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"key usage\" takes one accessKey; see "
                 "\"apiauth-ctl key usage --help\"");
    }

    ak = ctl_access_key_arg(argv[optind]);

    ctl_redis_connect();
    ctl_master_check();

    if (ctl_key_read(ak, &k) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "no key with accessKey \"%s\"", ak);
    }

    if (ctl.json) {
        json_begin_object();
        json_str_field("access_key", ak);
        json_str_field("policy", k.policy);
        ctl_usage_json(&k);
        json_end_object();
        json_end();

    } else {
        printf("access key     %s\n", ak);
        printf("policy         %s\n", k.policy ? k.policy : "none (no limits)");
        ctl_usage_print(&k);
    }

    ctl_key_free(&k);

    return CTL_EXIT_OK;
}
