
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl upgrade: migrates the key store to the tool's schema in one
 * script, so nginx serves on while it runs.
 */


#include <stdio.h>
#include <string.h>

#include "ctl.h"


static const char  upgrade_help[] =
    "usage: apiauth-ctl upgrade [--json]\n"
    "\n"
    "Migrates the key store to the schema this apiauth-ctl writes ("
    CTL_XSTR(APIAUTH_STORE_SCHEMA) "):\n"
    "schema 2 adds the change stream " APIAUTH_STORE_CHANGES ", which nginx "
    "reads to\n"
    "drop the keys it caches as soon as they change.  One atomic script that\n"
    "leaves the key records as they are, so it is safe while nginx serves;\n"
    "a store of that schema already is left as it is.  Change commands\n"
    "refuse an older store until it is upgraded.\n";


int
do_upgrade(int argc, char **argv)
{
    int          upgraded;
    char         from[32];
    long long    v;
    redisReply  *r;

    if (ctl_common_args(argc, argv, upgrade_help) != argc) {
        ctl_fail(CTL_EXIT_USAGE, "\"upgrade\" takes no arguments");
    }

    ctl_redis_connect();
    ctl_master_check();

    /* the schema found ("none" when missing), and 1 when it upgraded */

    r = ctl_scriptl(ctl_lua_upgrade, 1, APIAUTH_STORE_META, ctl.key_id,
                    ctl_now(), NULL);

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_INTEGER)
    {
        ctl_fail_reply(r, CTL_EXIT_RUNTIME, "Redis at %s gave an unexpected "
                       "reply to the upgrade", ctl.addr);
    }

    snprintf(from, sizeof(from), "%s", r->element[0]->str);
    upgraded = (r->element[1]->integer == 1);
    freeReplyObject(r);

    if (ctl.json) {
        json_begin_object();
        json_int_field("schema", APIAUTH_STORE_SCHEMA);
        json_bool_field("upgraded", upgraded);
        json_key("from");

        if (ctl_parse_uint(from, 1000000, &v) == 0) {
            json_int(v);

        } else {
            json_null();
        }

        json_end_object();
        json_end();

    } else if (!upgraded) {
        printf("the key store at %s has schema %d already\n", ctl.addr,
               APIAUTH_STORE_SCHEMA);

    } else if (strcmp(from, "none") == 0) {
        printf("upgraded the key store at %s from no schema to schema %d\n",
               ctl.addr, APIAUTH_STORE_SCHEMA);

    } else {
        printf("upgraded the key store at %s from schema %s to schema %d\n",
               ctl.addr, from, APIAUTH_STORE_SCHEMA);
    }

    return CTL_EXIT_OK;
}
