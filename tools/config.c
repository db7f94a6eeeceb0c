
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl config: the key store's limits.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_key.h"


#define CONFIG_MAX  1000000000LL


static void config_usage(void);
static int config_show(int argc, char **argv);
static int config_set(int argc, char **argv);


static const char  config_help[] =
    "usage: apiauth-ctl config COMMAND [ARGS] [--json]\n"
    "\n"
    "commands:\n"
    "  show                 the limits, counts and master key id\n"
    "  set max_keys N       keys in the store (default 500)\n"
    "  set max_ips N        whitelist entries per key (default 50, at "
    "most " CTL_XSTR(APIAUTH_IPS_MAX) ")\n"
    "\n"
    "A change past a limit is refused; lowering a limit keeps what is\n"
    "there and refuses growth.\n";


static const ctl_cmd_t  config_cmds[] = {
    { "show", config_show },
    { "set", config_set },
    { NULL, NULL }
};


int
do_config(int argc, char **argv)
{
    return ctl_dispatch(config_cmds, "config", argc - 1, argv + 1,
                        config_usage);
}


static void
config_usage(void)
{
    ctl_help_exit(config_help);
}


long long
ctl_config_get(const char *name, long long dflt)
{
    long long    v;
    redisReply  *r;

    r = ctl_redis_cmd("HGET %s %s", APIAUTH_STORE_META, name);
    v = (r->type == REDIS_REPLY_STRING) ? atoll(r->str) : dflt;
    freeReplyObject(r);

    return v;
}


static long long
config_count(const char *index)
{
    long long    v;
    redisReply  *r;

    r = ctl_redis_cmd("ZCARD %s", index);
    v = r->integer;
    freeReplyObject(r);

    return v;
}


static int
config_show(int argc, char **argv)
{
    long long  max_keys, max_ips, keys, ifs;

    if (ctl_common_args(argc, argv, config_help) != argc) {
        ctl_fail(CTL_EXIT_USAGE, "\"config show\" takes no arguments");
    }

    ctl_redis_connect();
    ctl_master_check();

    max_keys = ctl_config_get("max_keys", CTL_DEFAULT_MAX_KEYS);
    max_ips = ctl_config_get("max_ips", CTL_DEFAULT_MAX_IPS);
    keys = config_count(APIAUTH_STORE_KEYS);
    ifs = config_count(APIAUTH_STORE_IFS);

    /* set before there was a bound, or straight into Redis */

    if (max_ips > APIAUTH_IPS_MAX) {
        ctl_warn("max_ips %lld is past the module's bound: no whitelist "
                 "holds more than %d entries; set \"apiauth-ctl config set "
                 "max_ips %d\"", max_ips, APIAUTH_IPS_MAX, APIAUTH_IPS_MAX);
    }

    if (ctl.json) {
        printf("{\"max_keys\":%lld,\"max_ips\":%lld,\"max_ips_bound\":%d,"
               "\"keys\":%lld,\"interfaces\":%lld,"
               "\"master_key_id\":\"%s\"}\n",
               max_keys, max_ips, APIAUTH_IPS_MAX, keys, ifs, ctl.key_id);

    } else {
        printf("max_keys       %lld\n", max_keys);
        printf("max_ips        %lld%s\n", max_ips,
               max_ips > APIAUTH_IPS_MAX ? "  (past the module's bound of "
               CTL_XSTR(APIAUTH_IPS_MAX) ")" : "");
        printf("keys           %lld\n", keys);
        printf("interfaces     %lld\n", ifs);
        printf("master key id  %s\n", ctl.key_id);
    }

    return CTL_EXIT_OK;
}


static int
config_set(int argc, char **argv)
{
    int          first;
    char         buf[32];
    long long    v, keys;
    const char  *name;
    redisReply  *r;

    first = ctl_common_args(argc, argv, config_help);

    if (argc - first != 2) {
        ctl_fail(CTL_EXIT_USAGE, "\"config set\" takes NAME and VALUE; see "
                 "\"apiauth-ctl config --help\"");
    }

    name = argv[first];

    if (strcmp(name, "max_keys") != 0 && strcmp(name, "max_ips") != 0) {
        ctl_fail(CTL_EXIT_USAGE, "unknown setting \"%s\": use max_keys or "
                 "max_ips", name);
    }

    if (ctl_parse_uint(argv[first + 1], CONFIG_MAX, &v) != 0 || v == 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid %s \"%s\": use a number from 1 to "
                 "%lld", name, argv[first + 1],
                 strcmp(name, "max_ips") == 0 ? APIAUTH_IPS_MAX : CONFIG_MAX);
    }

    /* a whitelist the module would read as malformed is never allowed */

    if (strcmp(name, "max_ips") == 0 && v > APIAUTH_IPS_MAX) {
        ctl_fail(CTL_EXIT_USAGE, "invalid max_ips \"%s\": the module reads "
                 "at most %d whitelist entries; use a number from 1 to %d",
                 argv[first + 1], APIAUTH_IPS_MAX, APIAUTH_IPS_MAX);
    }

    ctl_redis_connect();
    ctl_master_check();

    if (strcmp(name, "max_keys") == 0) {
        keys = config_count(APIAUTH_STORE_KEYS);

        if (v < keys) {
            ctl_warn("the store holds %lld keys, more than max_keys %lld: "
                     "no key can be created until some are deleted", keys, v);
        }
    }

    snprintf(buf, sizeof(buf), "%lld", v);

    r = ctl_scriptl(ctl_lua_config_set, 1, APIAUTH_STORE_META, ctl.key_id,
                    ctl_now(), name, buf, NULL);
    freeReplyObject(r);

    if (ctl.json) {
        printf("{\"%s\":%lld}\n", name, v);

    } else {
        printf("%s set to %lld\n", name, v);
    }

    return CTL_EXIT_OK;
}
