
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl interface: the catalog of interfaces, so that "key show" can
 * print the call URLs of what a key may call.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_key.h"


#define IF_STORE_LEN                                                         \
    (sizeof(APIAUTH_STORE_IF_PREFIX) + APIAUTH_PLAIN_NAME_MAX)
#define IF_URL_MAX     2048


static void interface_usage(void);
static const char *interface_name(const char *s);
static int interface_add(int argc, char **argv);
static void interface_row(const ctl_interface_t *itf, void *data);
static int interface_list(int argc, char **argv);
static int interface_remove(int argc, char **argv);


static const char  interface_help[] =
    "usage: apiauth-ctl interface COMMAND [ARGS] [--json]\n"
    "\n"
    "commands:\n"
    "  add NAME --url URL [--app APP]\n"
    "  list\n"
    "  remove NAME\n"
    "\n"
    "NAME, APP: " APIAUTH_PLAIN_NAME_RULE ".  URL: http:// or https://.\n"
    "The module scopes a location with apiauth_app and apiauth_interface;\n"
    "the catalog lets \"key show\" print the call URLs a key may use.\n";

static const char  interface_add_help[] =
    "usage: apiauth-ctl interface add NAME --url URL [--app APP] [--json]\n";

static const char  interface_list_help[] =
    "usage: apiauth-ctl interface list [--json]\n";

static const char  interface_remove_help[] =
    "usage: apiauth-ctl interface remove NAME [--json]\n";


static const ctl_cmd_t  interface_cmds[] = {
    { "add", interface_add },
    { "list", interface_list },
    { "remove", interface_remove },
    { NULL, NULL }
};


static const struct option  interface_plain_options[] = {
    { "json", no_argument, NULL, 'J' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


int
do_interface(int argc, char **argv)
{
    return ctl_dispatch(interface_cmds, "interface", argc - 1, argv + 1,
                        interface_usage);
}


static void
interface_usage(void)
{
    ctl_help_exit(interface_help);
}


static const char *
interface_name(const char *s)
{
    if (apiauth_plain_name_check((unsigned char *) s, strlen(s)) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid interface name \"%s\": use "
                 APIAUTH_PLAIN_NAME_RULE, s);
    }

    return s;
}


static int
interface_add(int argc, char **argv)
{
    int          opt;
    char         store[IF_STORE_LEN];
    size_t       i, n;
    const char  *name, *url, *app;
    redisReply  *r;

    static const struct option  options[] = {
        { "url", required_argument, NULL, 'u' },
        { "app", required_argument, NULL, 'a' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    url = NULL;
    app = "";

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'u': url = optarg; break;
        case 'a': app = optarg; break;
        default: ctl_common_opt(opt, argv, interface_add_help);
        }
    }

    if (argc - optind != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"interface add\" takes one NAME; see "
                 "\"apiauth-ctl interface add --help\"");
    }

    name = interface_name(argv[optind]);

    if (url == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "\"interface add\" needs --url URL");
    }

    n = strlen(url);

    if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        || n > IF_URL_MAX || n <= 8)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid URL \"%s\": use http:// or "
                 "https:// and at most %d characters", url, IF_URL_MAX);
    }

    for (i = 0; i < n; i++) {
        if ((unsigned char) url[i] <= 0x20 || url[i] == 0x7f) {
            ctl_fail(CTL_EXIT_USAGE, "invalid URL \"%s\": no spaces or "
                     "control characters", url);
        }
    }

    if (app[0] && apiauth_plain_name_check((unsigned char *) app,
                                           strlen(app)) != 0)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid app name \"%s\": use "
                 APIAUTH_PLAIN_NAME_RULE, app);
    }

    ctl_redis_connect();
    ctl_master_check();

    snprintf(store, sizeof(store), APIAUTH_STORE_IF_PREFIX "%s", name);

    r = ctl_scriptl(ctl_lua_interface_add, 3, APIAUTH_STORE_META,
                    APIAUTH_STORE_IFS, store, ctl.key_id, ctl_now(), name, url,
                    app, NULL);
    freeReplyObject(r);

    if (ctl.json) {
        json_begin_object();
        json_str_field("name", name);
        json_str_field("app", app);
        json_str_field("url", url);
        json_end_object();
        json_end();

    } else {
        printf("interface \"%s\" added\n", name);
    }

    return CTL_EXIT_OK;
}


/* the catalog's one reader: every interface, in name order */

void
ctl_interfaces_each(ctl_interface_pt handler, void *data)
{
    char             store[IF_STORE_LEN];
    size_t           i, j;
    const char      *f;
    redisReply      *names, *r;
    ctl_interface_t  itf;

    names = ctl_redis_cmd("ZRANGEBYLEX %s - +", APIAUTH_STORE_IFS);

    for (i = 0; i < names->elements; i++) {
        snprintf(store, sizeof(store), APIAUTH_STORE_IF_PREFIX "%s",
                 names->element[i]->str);
        r = ctl_redis_cmd("HGETALL %s", store);

        itf.name = names->element[i]->str;
        itf.url = "";
        itf.app = "";
        itf.created = 0;

        for (j = 0; j + 1 < r->elements; j += 2) {
            f = r->element[j]->str;

            if (strcmp(f, "url") == 0) {
                itf.url = r->element[j + 1]->str;

            } else if (strcmp(f, "app") == 0) {
                itf.app = r->element[j + 1]->str;

            } else if (strcmp(f, "created") == 0) {
                itf.created = atoll(r->element[j + 1]->str);
            }
        }

        handler(&itf, data);
        freeReplyObject(r);
    }

    freeReplyObject(names);
}


static void
interface_row(const ctl_interface_t *itf, void *data)
{
    char          created[32];
    ctl_table_t  *t = data;

    ctl_format_time(itf->created, created, sizeof(created));

    if (ctl.json) {
        json_begin_object();
        json_str_field("name", itf->name);
        json_str_field("app", itf->app);
        json_str_field("url", itf->url);
        json_str_field("created", created);
        json_end_object();

    } else {
        ctl_table_row(t, itf->name, itf->app[0] ? itf->app : "-", itf->url,
                      created);
    }
}


static int
interface_list(int argc, char **argv)
{
    int           opt;
    ctl_table_t  *t;

    while ((opt = getopt_long(argc, argv, ":h", interface_plain_options,
                              NULL))
           != -1)
    {
        ctl_common_opt(opt, argv, interface_list_help);
    }

    if (optind != argc) {
        ctl_fail(CTL_EXIT_USAGE, "unexpected argument \"%s\"; see "
                 "\"apiauth-ctl interface list --help\"", argv[optind]);
    }

    ctl_redis_connect();
    ctl_master_check();

    if (ctl.json) {
        json_begin_object();
        json_key("interfaces");
        json_begin_array();
    }

    t = ctl_table_new(4, "NAME", "APP", "CALL URL", "CREATED");

    ctl_interfaces_each(interface_row, t);

    if (ctl.json) {
        json_end_array();
        json_end_object();
        json_end();

    } else if (ctl_table_rows(t) == 0) {
        printf("no interfaces\n");

    } else {
        ctl_table_print(t);
    }

    ctl_table_free(t);

    return CTL_EXIT_OK;
}


static int
interface_remove(int argc, char **argv)
{
    int          opt;
    char         store[IF_STORE_LEN];
    const char  *name;
    redisReply  *r;

    while ((opt = getopt_long(argc, argv, ":h", interface_plain_options,
                              NULL))
           != -1)
    {
        ctl_common_opt(opt, argv, interface_remove_help);
    }

    if (argc - optind != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"interface remove\" takes one NAME; see "
                 "\"apiauth-ctl interface remove --help\"");
    }

    name = interface_name(argv[optind]);

    ctl_redis_connect();
    ctl_master_check();

    snprintf(store, sizeof(store), APIAUTH_STORE_IF_PREFIX "%s", name);

    r = ctl_scriptl(ctl_lua_interface_remove, 3, APIAUTH_STORE_META,
                    APIAUTH_STORE_IFS, store, ctl.key_id, ctl_now(), name,
                    NULL);
    freeReplyObject(r);

    if (ctl.json) {
        printf("{\"name\":");
        json_escape(stdout, name, strlen(name));
        printf(",\"removed\":true}\n");

    } else {
        printf("interface \"%s\" removed\n", name);
    }

    return CTL_EXIT_OK;
}
