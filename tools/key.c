
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl key: API authorizations.
 */


#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "apiauth_ip.h"
#include "apiauth_key.h"
#include "apiauth_scope.h"


#define KEY_PAGE       500


/* the call URLs of a key, as the catalog is read */
typedef struct {
    const ctl_key_t  *key;
    ctl_table_t      *table;
} key_urls_t;


static void key_usage(void);
static int key_args(int argc, char **argv, const char *help, int min,
    int max);
static void key_print_secret(const char *ak, const char *op,
    const char *salt, redisReply *r);
static int key_simple(int argc, char **argv, const char *help,
    const char *op, const char *field, const char *value);
static void key_call_url(const ctl_interface_t *itf, void *data);
static void key_call_urls(const ctl_key_t *k);
static void key_done(const char *ak, const char *fmt, const char *arg);
static redisReply *key_update(const char *ak, const char *op, int nset,
    const char **fv, int ndel, const char **del);

static int key_create(int argc, char **argv);
static int key_list(int argc, char **argv);
static int key_show(int argc, char **argv);
static int key_rename(int argc, char **argv);
static int key_describe(int argc, char **argv);
static int key_set_access_key(int argc, char **argv);
static int key_regenerate_secret(int argc, char **argv);
static int key_enable(int argc, char **argv);
static int key_disable(int argc, char **argv);
static int key_delete(int argc, char **argv);
static int key_copy(int argc, char **argv);
static int key_scope(int argc, char **argv);
static int key_ip(int argc, char **argv);
static int key_expire(int argc, char **argv);


static const char  key_help[] =
    "usage: apiauth-ctl key COMMAND [ARGS] [--json]\n"
    "\n"
    "commands:\n"
    "  create --name NAME [--access-key AK] [--description TEXT]\n"
    "         [--app APP]... [--interface IF]... [--ip ENTRY]...\n"
    "         [--expires TIME] [--disabled]\n"
    "  list [--status enabled|disabled]\n"
    "  show AK [--reveal]\n"
    "  rename AK NAME\n"
    "  describe AK TEXT\n"
    "  set-access-key AK NEW_AK\n"
    "  regenerate-secret AK\n"
    "  enable AK\n"
    "  disable AK\n"
    "  delete AK                 (a disabled key only)\n"
    "  copy AK --name NAME [--access-key AK] [--expires TIME] "
    "[--disabled]\n"
    "  scope AK [--apps all|A,B,...] [--interfaces all|X,Y,...]\n"
    "  ip AK add ENTRY... | remove ENTRY... | clear | list\n"
    "  expire AK TIME|never\n"
    "  policy AK NAME|none       (apiauth-ctl policy --help)\n"
    "  usage AK\n"
    "  jwt AK --alg HS256|RS256|ES256|EdDSA [--public-key FILE] ... | off\n"
    "                            (apiauth-ctl key jwt --help)\n"
    "\n"
    "AK: " APIAUTH_ACCESS_KEY_RULE ".\n"
    "APP, IF: " APIAUTH_PLAIN_NAME_RULE " (\"all\" means every one).\n"
    "ENTRY: " APIAUTH_IP_RULE ".\n"
    "TIME: RFC 3339 (2026-12-31T23:59:59Z), unix seconds, now, or from now\n"
    "      (30d, 12h, 15m, 45s, 2w).\n";

static const char  key_create_help[] =
    "usage: apiauth-ctl key create --name NAME [--access-key AK]\n"
    "           [--description TEXT] [--app APP]... [--interface IF]...\n"
    "           [--ip ENTRY]... [--expires TIME] [--disabled] [--json]\n"
    "\n"
    "Creates a key and prints its accessKey and accessSecret.  Without\n"
    "--access-key one of 20 letters and digits is drawn.  Without --app\n"
    "(--interface) the key may call every app (interface).  Without --ip\n"
    "it may call from any address.\n";

static const char  key_list_help[] =
    "usage: apiauth-ctl key list [--status enabled|disabled] [--json]\n"
    "\n"
    "Lists every key, secrets masked, in accessKey order, a page at a "
    "time.\n";

static const char  key_show_help[] =
    "usage: apiauth-ctl key show AK [--reveal] [--json]\n"
    "\n"
    "Shows everything about a key and the call URLs of the interfaces it "
    "may\ncall.  The secret is masked unless --reveal.\n";

static const char  key_rename_help[] =
    "usage: apiauth-ctl key rename AK NAME [--json]\n";

static const char  key_describe_help[] =
    "usage: apiauth-ctl key describe AK TEXT [--json]\n";

static const char  key_set_access_key_help[] =
    "usage: apiauth-ctl key set-access-key AK NEW_AK [--json]\n"
    "\n"
    "Gives the key a new accessKey and so a new secret, printed once; the\n"
    "old accessKey and its secret stop working.\n";

static const char  key_regenerate_secret_help[] =
    "usage: apiauth-ctl key regenerate-secret AK [--json]\n"
    "\n"
    "Derives a new secret (a new salt), printed once; the old one stops\n"
    "working.\n";

static const char  key_enable_help[] =
    "usage: apiauth-ctl key enable AK [--json]\n";

static const char  key_disable_help[] =
    "usage: apiauth-ctl key disable AK [--json]\n";

static const char  key_delete_help[] =
    "usage: apiauth-ctl key delete AK [--json]\n"
    "\n"
    "Deletes a key; it must be disabled first.\n";

static const char  key_copy_help[] =
    "usage: apiauth-ctl key copy AK --name NAME [--access-key NEW_AK]\n"
    "           [--expires TIME] [--disabled] [--json]\n"
    "\n"
    "Creates a key with its own accessKey and secret and the description,\n"
    "scopes and IP whitelist of AK.\n";

static const char  key_scope_help[] =
    "usage: apiauth-ctl key scope AK [--apps all|A,B,...] "
    "[--interfaces all|X,Y,...] [--json]\n"
    "\n"
    "Sets which apps and interfaces the key may call.\n";

static const char  key_ip_help[] =
    "usage: apiauth-ctl key ip AK add ENTRY...\n"
    "       apiauth-ctl key ip AK remove ENTRY...\n"
    "       apiauth-ctl key ip AK clear\n"
    "       apiauth-ctl key ip AK list\n"
    "\n"
    "The key's IP whitelist; an empty one admits any address.\n"
    "ENTRY: " APIAUTH_IP_RULE ".\n";

static const char  key_expire_help[] =
    "usage: apiauth-ctl key expire AK TIME|never [--json]\n";


static const struct option  key_plain_options[] = {
    { "json", no_argument, NULL, 'J' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


static const ctl_cmd_t  key_cmds[] = {
    { "create", key_create },
    { "list", key_list },
    { "show", key_show },
    { "rename", key_rename },
    { "describe", key_describe },
    { "set-access-key", key_set_access_key },
    { "regenerate-secret", key_regenerate_secret },
    { "enable", key_enable },
    { "disable", key_disable },
    { "delete", key_delete },
    { "copy", key_copy },
    { "scope", key_scope },
    { "ip", key_ip },
    { "expire", key_expire },
    { "policy", ctl_key_policy },
    { "usage", ctl_key_usage },
    { "jwt", ctl_key_jwt },
    { NULL, NULL }
};


int
do_key(int argc, char **argv)
{
    return ctl_dispatch(key_cmds, "key", argc - 1, argv + 1, key_usage);
}


static void
key_usage(void)
{
    ctl_help_exit(key_help);
}


/* --json, --help, then min..max positional arguments from optind */

static int
key_args(int argc, char **argv, const char *help, int min, int max)
{
    int  opt, n;

    while ((opt = getopt_long(argc, argv, ":h", key_plain_options, NULL))
           != -1)
    {
        ctl_common_opt(opt, argv, help);
    }

    n = argc - optind;

    if (n < min || n > max) {
        ctl_fail(CTL_EXIT_USAGE, "\"key %s\" takes %s; see \"apiauth-ctl key "
                 "%s --help\"", argv[0],
                 min == max ? (min == 1 ? "one argument" : "two arguments")
                            : "more arguments", argv[0]);
    }

    return optind;
}


/*
 * a change that drew a salt prints the secret of that salt, which its
 * script returns, not of the salt stored when the key is read again: a
 * concurrent change may have replaced it since, and its secret is not
 * this run's to hand out
 */

static void
key_print_secret(const char *ak, const char *op, const char *salt,
    redisReply *r)
{
    ctl_key_t  k;

    if (r->type != REDIS_REPLY_STRING || strcmp(r->str, salt) != 0) {
        ctl_fail_reply(r, CTL_EXIT_RUNTIME, "internal error: the %s script "
                       "did not return the salt it was given", op);
    }

    freeReplyObject(r);

    if (ctl_key_read(ak, &k) != 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "key \"%s\" vanished during %s", ak, op);
    }

    free(k.salt);
    k.salt = ctl_strdup(salt);

    if (ctl.json) {
        ctl_key_json(&k, 1);
        json_end();

    } else {
        ctl_key_print(&k, 1);
        printf("\nThe secret is derived from the master key and never "
               "stored; give it to\nthe caller now.\n");
    }

    ctl_key_free(&k);
}


static int
key_create(int argc, char **argv)
{
    int          opt, disabled, tries;
    char         ak_buf[APIAUTH_ACCESS_KEY_MAX + 1], salt[64];
    char         store[CTL_KEY_STORE_LEN], expires_buf[32];
    char        *apps, *interfaces, *ips;
    long long    expires;
    const char  *name, *ak, *description, *expires_arg;
    ctl_strv_t   app_v, if_v, ip_v, canon;
    redisReply  *r;

    static const struct option  options[] = {
        { "name", required_argument, NULL, 'n' },
        { "access-key", required_argument, NULL, 'k' },
        { "description", required_argument, NULL, 'd' },
        { "app", required_argument, NULL, 'a' },
        { "interface", required_argument, NULL, 'i' },
        { "ip", required_argument, NULL, 'I' },
        { "expires", required_argument, NULL, 'e' },
        { "disabled", no_argument, NULL, 'D' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    name = NULL;
    ak = NULL;
    description = "";
    expires_arg = NULL;
    disabled = 0;
    memset(&app_v, 0, sizeof(ctl_strv_t));
    memset(&if_v, 0, sizeof(ctl_strv_t));
    memset(&ip_v, 0, sizeof(ctl_strv_t));
    memset(&canon, 0, sizeof(ctl_strv_t));

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': name = optarg; break;
        case 'k': ak = optarg; break;
        case 'd': description = optarg; break;
        case 'a': ctl_strv_add(&app_v, optarg); break;
        case 'i': ctl_strv_add(&if_v, optarg); break;
        case 'I': ctl_strv_add(&ip_v, optarg); break;
        case 'e': expires_arg = optarg; break;
        case 'D': disabled = 1; break;
        default: ctl_common_opt(opt, argv, key_create_help);
        }
    }

    if (optind != argc) {
        ctl_fail(CTL_EXIT_USAGE, "unexpected argument \"%s\"; see "
                 "\"apiauth-ctl key create --help\"", argv[optind]);
    }

    if (name == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "\"key create\" needs --name NAME");
    }

    if (apiauth_key_name_check((unsigned char *) name, strlen(name)) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid key name \"%s\": use "
                 APIAUTH_KEY_NAME_RULE, name);
    }

    if (apiauth_description_check((unsigned char *) description,
                                  strlen(description))
        != 0)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid description: use "
                 APIAUTH_DESCRIPTION_RULE);
    }

    if (ak) {
        ctl_access_key_arg(ak);
    }

    expires_buf[0] = '\0';

    if (expires_arg) {
        expires = ctl_expiry_arg(expires_arg, "RFC 3339, unix seconds or a "
                             "duration such as 30d");
        snprintf(expires_buf, sizeof(expires_buf), "%lld", expires);
    }

    apps = ctl_scope_canon("app", &app_v);
    interfaces = ctl_scope_canon("interface", &if_v);
    ips = ctl_ips_canon(&ip_v, &canon);

    ctl_redis_connect();
    ctl_master_check();

    /* a drawn accessKey that exists already is drawn again */

    for (tries = 0; ; tries++) {
        if (ak == NULL || tries > 0) {
            ctl_gen_access_key(ak_buf);

        } else {
            snprintf(ak_buf, sizeof(ak_buf), "%s", ak);
        }

        ctl_gen_salt(salt);
        ctl_key_store_name(store, ak_buf);

        r = ctl_redis_cmd("EXISTS %s", store);

        if (ak == NULL && tries < 5 && r->type == REDIS_REPLY_INTEGER
            && r->integer == 1)
        {
            freeReplyObject(r);
            continue;
        }

        freeReplyObject(r);

        break;
    }

    r = ctl_scriptl(ctl_lua_key_create, 3, APIAUTH_STORE_META,
                    APIAUTH_STORE_KEYS, store, ctl.key_id, ctl_now(), ak_buf,
                    name, description, salt,
                    disabled ? "disabled" : "enabled", expires_buf, apps,
                    interfaces, ips, NULL);

    key_print_secret(ak_buf, "create", salt, r);

    free(apps);
    free(interfaces);
    free(ips);
    ctl_strv_free(&app_v, 0);
    ctl_strv_free(&if_v, 0);
    ctl_strv_free(&ip_v, 0);
    ctl_strv_free(&canon, 1);

    return CTL_EXIT_OK;
}


static int
key_list(int argc, char **argv)
{
    int          opt;
    char         last[APIAUTH_ACCESS_KEY_MAX + 2], name[CTL_KEY_STORE_LEN];
    char         secret[APIAUTH_SECRET_LEN + 1], expires[32], ips[24];
    size_t       i, count, printed;
    ctl_key_t    k;
    const char  *status;
    redisReply  *page, *r;
    ctl_table_t *t;

    static const struct option  options[] = {
        { "status", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    status = NULL;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 's': status = optarg; break;
        default: ctl_common_opt(opt, argv, key_list_help);
        }
    }

    if (optind != argc) {
        ctl_fail(CTL_EXIT_USAGE, "unexpected argument \"%s\"; see "
                 "\"apiauth-ctl key list --help\"", argv[optind]);
    }

    if (status && strcmp(status, "enabled") != 0
        && strcmp(status, "disabled") != 0)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid status \"%s\": use enabled or "
                 "disabled", status);
    }

    ctl_redis_connect();
    ctl_master_check();

    if (ctl.json) {
        json_begin_object();
        json_key("keys");
        json_begin_array();
    }

    /*
     * a page at a time, in accessKey order, each page's records fetched in
     * one pipeline: a million keys never sit in memory
     */

    strcpy(last, "-");
    count = 0;
    printed = 0;
    t = NULL;

    for ( ;; ) {
        page = ctl_redis_cmd("ZRANGEBYLEX %s %s + LIMIT 0 %d",
                             APIAUTH_STORE_KEYS, last, KEY_PAGE);

        if (page->type != REDIS_REPLY_ARRAY || page->elements == 0) {
            freeReplyObject(page);
            break;
        }

        for (i = 0; i < page->elements; i++) {
            ctl_key_store_name(name, page->element[i]->str);
            ctl_redis_append("HGETALL %s", name);
        }

        if (!ctl.json) {
            t = ctl_table_new(8, "ACCESS KEY", "NAME", "STATUS", "SECRET",
                              "EXPIRES", "APPS", "INTERFACES", "IPS");
        }

        for (i = 0; i < page->elements; i++) {
            r = ctl_redis_next();

            /* deleted between the two reads */

            if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
                freeReplyObject(r);
                continue;
            }

            ctl_key_from_reply(&k, page->element[i]->str, r);
            freeReplyObject(r);

            if (status && strcmp(k.status, status) != 0) {
                ctl_key_free(&k);
                continue;
            }

            count++;

            if (ctl.json) {
                ctl_key_json(&k, 0);

            } else {
                ctl_key_mask(&k, 0, secret);

                if (k.expires > 0) {
                    ctl_format_time(k.expires, expires, sizeof(expires));

                } else if (k.expires < 0) {
                    strcpy(expires, "invalid (expired)");

                } else {
                    strcpy(expires, "never");
                }

                if (k.ips[0]) {
                    snprintf(ips, sizeof(ips), "%zu", ctl_list_count(k.ips));

                } else {
                    strcpy(ips, "any");
                }

                ctl_table_row(t, k.access_key, k.name,
                              k.refused ? "malformed" : k.status, secret,
                              expires,
                              strcmp(k.apps, "*") ? k.apps : "all",
                              strcmp(k.interfaces, "*") ? k.interfaces
                                                        : "all",
                              ips);
            }

            ctl_key_free(&k);
        }

        if (t) {
            if (count > printed) {
                ctl_table_print(t);
            }

            ctl_table_free(t);
            t = NULL;
        }

        printed = count;

        snprintf(last, sizeof(last), "(%s",
                 page->element[page->elements - 1]->str);

        if (page->elements < KEY_PAGE) {
            freeReplyObject(page);
            break;
        }

        freeReplyObject(page);
    }

    if (ctl.json) {
        json_end_array();
        json_int_field("count", (long long) count);
        json_end_object();
        json_end();

    } else if (count == 0) {
        printf("no keys\n");
    }

    return CTL_EXIT_OK;
}


/* what the module admits: both dimensions of the scope */

static void
key_call_url(const ctl_interface_t *itf, void *data)
{
    key_urls_t  *u = data;

    if (!apiauth_scope_match((unsigned char *) u->key->apps,
                             strlen(u->key->apps),
                             (unsigned char *) itf->app, strlen(itf->app))
        || !apiauth_scope_match((unsigned char *) u->key->interfaces,
                                strlen(u->key->interfaces),
                                (unsigned char *) itf->name,
                                strlen(itf->name)))
    {
        return;
    }

    if (ctl.json) {
        json_begin_object();
        json_str_field("interface", itf->name);
        json_str_field("app", itf->app);
        json_str_field("url", itf->url);
        json_end_object();

    } else {
        ctl_table_row(u->table, itf->name, itf->app[0] ? itf->app : "-",
                      itf->url);
    }
}


static void
key_call_urls(const ctl_key_t *k)
{
    key_urls_t  u;

    u.key = k;
    u.table = ctl_table_new(3, "INTERFACE", "APP", "CALL URL");

    if (ctl.json) {
        json_key("call_urls");
        json_begin_array();
    }

    ctl_interfaces_each(key_call_url, &u);

    if (ctl.json) {
        json_end_array();

    } else {
        printf("\ncall urls (interfaces in the catalog this key may call):\n");
        ctl_table_print(u.table);
    }

    ctl_table_free(u.table);
}


static int
key_show(int argc, char **argv)
{
    int          opt, reveal;
    ctl_key_t    k;
    const char  *ak;

    static const struct option  options[] = {
        { "reveal", no_argument, NULL, 'R' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    reveal = 0;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'R': reveal = 1; break;
        default: ctl_common_opt(opt, argv, key_show_help);
        }
    }

    if (argc - optind != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"key show\" takes one accessKey; see "
                 "\"apiauth-ctl key show --help\"");
    }

    ak = ctl_access_key_arg(argv[optind]);

    ctl_redis_connect();
    ctl_master_check();

    if (ctl_key_read(ak, &k) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "no key with accessKey \"%s\"", ak);
    }

    if (ctl.json) {
        json_begin_object();
        ctl_key_json_members(&k, reveal);
        ctl_usage_json(&k);
        key_call_urls(&k);
        json_end_object();
        json_end();

    } else {
        ctl_key_print(&k, reveal);
        ctl_usage_print(&k);
        key_call_urls(&k);
    }

    ctl_key_free(&k);

    return CTL_EXIT_OK;
}


/* after a change: the key as it now is for scripts, one line for people */

static void
key_done(const char *ak, const char *fmt, const char *arg)
{
    ctl_key_t  k;

    if (!ctl.json) {
        printf(fmt, ak, arg);
        fputc('\n', stdout);
        return;
    }

    if (ctl_key_read(ak, &k) != 0) {
        json_begin_object();
        json_str_field("access_key", ak);
        json_bool_field("deleted", 1);
        json_end_object();
        json_end();
        return;
    }

    ctl_key_json(&k, 0);
    json_end();
    ctl_key_free(&k);
}


/*
 * one script for every change of fields: nset field/value pairs to set,
 * then the fields to delete; the reply is the salt set, if one was
 */

static redisReply *
key_update(const char *ak, const char *op, int nset, const char **fv,
    int ndel, const char **del)
{
    int          i, n;
    char         store[CTL_KEY_STORE_LEN], count[16];
    const char  *argv[32];

    if (7 + 2 * nset + ndel > (int) (sizeof(argv) / sizeof(argv[0]))) {
        ctl_fail(CTL_EXIT_RUNTIME, "internal error: %d fields to change",
                 nset + ndel);
    }

    ctl_key_store_name(store, ak);
    snprintf(count, sizeof(count), "%d", nset);

    n = 0;
    argv[n++] = APIAUTH_STORE_META;
    argv[n++] = store;
    argv[n++] = ctl.key_id;
    argv[n++] = ctl_now();
    argv[n++] = ak;
    argv[n++] = op;
    argv[n++] = count;

    for (i = 0; i < 2 * nset; i++) {
        argv[n++] = fv[i];
    }

    for (i = 0; i < ndel; i++) {
        argv[n++] = del[i];
    }

    return ctl_script(ctl_lua_key_update, 2, n, argv);
}


/* a command of the form "key CMD AK [VALUE]" that sets one field */

static int
key_simple(int argc, char **argv, const char *help, const char *op,
    const char *field, const char *value)
{
    int          i;
    const char  *ak, *fv[2];

    i = key_args(argc, argv, help, value ? 1 : 2, value ? 1 : 2);
    ak = ctl_access_key_arg(argv[i]);

    if (value == NULL) {
        value = argv[i + 1];

        if (strcmp(field, "name") == 0
            && apiauth_key_name_check((unsigned char *) value,
                                      strlen(value)) != 0)
        {
            ctl_fail(CTL_EXIT_USAGE, "invalid key name \"%s\": use "
                     APIAUTH_KEY_NAME_RULE, value);
        }

        if (strcmp(field, "description") == 0
            && apiauth_description_check((unsigned char *) value,
                                         strlen(value)) != 0)
        {
            ctl_fail(CTL_EXIT_USAGE, "invalid description: use "
                     APIAUTH_DESCRIPTION_RULE);
        }
    }

    ctl_redis_connect();
    ctl_master_check();

    fv[0] = field;
    fv[1] = value;
    freeReplyObject(key_update(ak, op, 1, fv, 0, NULL));

    if (strcmp(field, "status") == 0) {
        key_done(ak, "key \"%s\" %s", value);

    } else {
        key_done(ak, "key \"%s\": %s set", field);
    }

    return CTL_EXIT_OK;
}


static int
key_rename(int argc, char **argv)
{
    return key_simple(argc, argv, key_rename_help, "rename", "name", NULL);
}


static int
key_describe(int argc, char **argv)
{
    return key_simple(argc, argv, key_describe_help, "describe",
                      "description", NULL);
}


static int
key_enable(int argc, char **argv)
{
    return key_simple(argc, argv, key_enable_help, "enable", "status",
                      "enabled");
}


static int
key_disable(int argc, char **argv)
{
    return key_simple(argc, argv, key_disable_help, "disable", "status",
                      "disabled");
}


static int
key_regenerate_secret(int argc, char **argv)
{
    int          i;
    char         salt[64];
    const char  *ak, *fv[2];
    redisReply  *r;

    i = key_args(argc, argv, key_regenerate_secret_help, 1, 1);
    ak = ctl_access_key_arg(argv[i]);

    ctl_redis_connect();
    ctl_master_check();

    ctl_gen_salt(salt);
    fv[0] = "salt";
    fv[1] = salt;
    r = key_update(ak, "regenerate-secret", 1, fv, 0, NULL);

    key_print_secret(ak, "regenerate-secret", salt, r);

    return CTL_EXIT_OK;
}


static int
key_set_access_key(int argc, char **argv)
{
    int          i;
    char         salt[64];
    char         old_store[CTL_KEY_STORE_LEN], new_store[CTL_KEY_STORE_LEN];
    const char  *ak, *new_ak;
    redisReply  *r;

    i = key_args(argc, argv, key_set_access_key_help, 2, 2);
    ak = ctl_access_key_arg(argv[i]);
    new_ak = ctl_access_key_arg(argv[i + 1]);

    if (strcmp(ak, new_ak) == 0) {
        ctl_fail(CTL_EXIT_USAGE, "the new accessKey is the old one");
    }

    ctl_redis_connect();
    ctl_master_check();

    ctl_gen_salt(salt);
    ctl_key_store_name(old_store, ak);
    ctl_key_store_name(new_store, new_ak);

    r = ctl_scriptl(ctl_lua_key_rekey, 4, APIAUTH_STORE_META,
                    APIAUTH_STORE_KEYS, old_store, new_store, ctl.key_id,
                    ctl_now(), ak, new_ak, salt, NULL);

    key_print_secret(new_ak, "set-access-key", salt, r);

    return CTL_EXIT_OK;
}


static int
key_delete(int argc, char **argv)
{
    int          i;
    char         store[CTL_KEY_STORE_LEN];
    const char  *ak;
    redisReply  *r;

    i = key_args(argc, argv, key_delete_help, 1, 1);
    ak = ctl_access_key_arg(argv[i]);

    ctl_redis_connect();
    ctl_master_check();

    ctl_key_store_name(store, ak);

    r = ctl_scriptl(ctl_lua_key_delete, 3, APIAUTH_STORE_META,
                    APIAUTH_STORE_KEYS, store, ctl.key_id, ctl_now(), ak, NULL);
    freeReplyObject(r);

    key_done(ak, "key \"%s\" deleted%s", "");

    return CTL_EXIT_OK;
}


static int
key_copy(int argc, char **argv)
{
    int          opt, disabled;
    char         ak_buf[APIAUTH_ACCESS_KEY_MAX + 1], salt[64];
    char         src_store[CTL_KEY_STORE_LEN], dst_store[CTL_KEY_STORE_LEN];
    char         expires_buf[32];
    long long    expires;
    const char  *src, *ak, *name, *expires_arg;
    redisReply  *r;

    static const struct option  options[] = {
        { "name", required_argument, NULL, 'n' },
        { "access-key", required_argument, NULL, 'k' },
        { "expires", required_argument, NULL, 'e' },
        { "disabled", no_argument, NULL, 'D' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    name = NULL;
    ak = NULL;
    expires_arg = NULL;
    disabled = 0;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': name = optarg; break;
        case 'k': ak = optarg; break;
        case 'e': expires_arg = optarg; break;
        case 'D': disabled = 1; break;
        default: ctl_common_opt(opt, argv, key_copy_help);
        }
    }

    if (argc - optind != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"key copy\" takes one accessKey; see "
                 "\"apiauth-ctl key copy --help\"");
    }

    src = ctl_access_key_arg(argv[optind]);

    if (name == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "\"key copy\" needs --name NAME");
    }

    if (apiauth_key_name_check((unsigned char *) name, strlen(name)) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid key name \"%s\": use "
                 APIAUTH_KEY_NAME_RULE, name);
    }

    if (ak) {
        ctl_access_key_arg(ak);
        snprintf(ak_buf, sizeof(ak_buf), "%s", ak);

    } else {
        ctl_gen_access_key(ak_buf);
    }

    expires_buf[0] = '\0';

    if (expires_arg) {
        expires = ctl_expiry_arg(expires_arg, "RFC 3339, unix seconds or a "
                             "duration such as 30d");
        snprintf(expires_buf, sizeof(expires_buf), "%lld", expires);
    }

    ctl_redis_connect();
    ctl_master_check();

    ctl_gen_salt(salt);
    ctl_key_store_name(src_store, src);
    ctl_key_store_name(dst_store, ak_buf);

    r = ctl_scriptl(ctl_lua_key_copy, 4, APIAUTH_STORE_META,
                    APIAUTH_STORE_KEYS, src_store, dst_store, ctl.key_id,
                    ctl_now(), src, ak_buf, name, salt,
                    disabled ? "disabled" : "enabled", expires_buf, NULL);

    key_print_secret(ak_buf, "copy", salt, r);

    return CTL_EXIT_OK;
}


static int
key_scope(int argc, char **argv)
{
    int          opt, n;
    char        *apps, *interfaces;
    const char  *ak, *fv[4];
    ctl_strv_t   app_v, if_v;

    static const struct option  options[] = {
        { "apps", required_argument, NULL, 'a' },
        { "interfaces", required_argument, NULL, 'i' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&app_v, 0, sizeof(ctl_strv_t));
    memset(&if_v, 0, sizeof(ctl_strv_t));

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'a': ctl_strv_add(&app_v, optarg); break;
        case 'i': ctl_strv_add(&if_v, optarg); break;
        default: ctl_common_opt(opt, argv, key_scope_help);
        }
    }

    if (argc - optind != 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"key scope\" takes one accessKey; see "
                 "\"apiauth-ctl key scope --help\"");
    }

    ak = ctl_access_key_arg(argv[optind]);

    if (app_v.n == 0 && if_v.n == 0) {
        ctl_fail(CTL_EXIT_USAGE, "\"key scope\" needs --apps or "
                 "--interfaces");
    }

    n = 0;
    apps = NULL;
    interfaces = NULL;

    if (app_v.n) {
        apps = ctl_scope_canon("app", &app_v);
        fv[n++] = "apps";
        fv[n++] = apps;
    }

    if (if_v.n) {
        interfaces = ctl_scope_canon("interface", &if_v);
        fv[n++] = "interfaces";
        fv[n++] = interfaces;
    }

    ctl_redis_connect();
    ctl_master_check();

    freeReplyObject(key_update(ak, "scope", n / 2, fv, 0, NULL));
    key_done(ak, "key \"%s\": scope set%s", "");

    free(apps);
    free(interfaces);
    ctl_strv_free(&app_v, 0);
    ctl_strv_free(&if_v, 0);

    return CTL_EXIT_OK;
}


static int
key_expire(int argc, char **argv)
{
    int          i;
    char         buf[32];
    long long    t;
    const char  *ak, *fv[2], *del[1];

    i = key_args(argc, argv, key_expire_help, 2, 2);
    ak = ctl_access_key_arg(argv[i]);

    t = 0;

    if (strcmp(argv[i + 1], "never") != 0) {
        t = ctl_expiry_arg(argv[i + 1], "RFC 3339, unix seconds, a duration "
                       "such as 30d, or never");
    }

    ctl_redis_connect();
    ctl_master_check();

    if (strcmp(argv[i + 1], "never") == 0) {
        del[0] = "expires";
        freeReplyObject(key_update(ak, "expire", 0, NULL, 1, del));
        key_done(ak, "key \"%s\" never expires%s", "");

    } else {
        snprintf(buf, sizeof(buf), "%lld", t);
        fv[0] = "expires";
        fv[1] = buf;
        freeReplyObject(key_update(ak, "expire", 1, fv, 0, NULL));
        ctl_format_time(t, buf, sizeof(buf));
        key_done(ak, "key \"%s\" expires at %s", buf);
    }

    return CTL_EXIT_OK;
}


static int
key_ip(int argc, char **argv)
{
    int          i, n, action;
    char         store[CTL_KEY_STORE_LEN], *text;
    const char  *ak, **args;
    ctl_key_t    k;
    ctl_strv_t   in, canon;
    redisReply  *r;

    i = key_args(argc, argv, key_ip_help, 2, INT_MAX);
    ak = ctl_access_key_arg(argv[i]);

    action = -1;

    if (strcmp(argv[i + 1], "add") == 0) {
        action = 0;

    } else if (strcmp(argv[i + 1], "remove") == 0) {
        action = 1;

    } else if (strcmp(argv[i + 1], "clear") == 0) {
        action = 2;

    } else if (strcmp(argv[i + 1], "list") == 0) {
        action = 3;

    } else {
        ctl_fail(CTL_EXIT_USAGE, "unknown command \"key ip %s\": use add, "
                 "remove, clear or list", argv[i + 1]);
    }

    n = argc - i - 2;

    if ((action <= 1 && n == 0) || (action >= 2 && n != 0)) {
        ctl_fail(CTL_EXIT_USAGE, "\"key ip AK %s\" takes %s", argv[i + 1],
                 action <= 1 ? "one or more entries" : "no entries");
    }

    memset(&in, 0, sizeof(ctl_strv_t));
    memset(&canon, 0, sizeof(ctl_strv_t));

    for (n = i + 2; n < argc; n++) {
        ctl_strv_add(&in, argv[n]);
    }

    free(ctl_ips_canon(&in, &canon));

    ctl_redis_connect();
    ctl_master_check();

    if (action != 3) {
        ctl_key_store_name(store, ak);

        args = ctl_alloc((canon.n + 6) * sizeof(char *));
        args[0] = APIAUTH_STORE_META;
        args[1] = store;
        args[2] = ctl.key_id;
        args[3] = ctl_now();
        args[4] = ak;
        args[5] = argv[i + 1];

        for (n = 0; n < canon.n; n++) {
            args[6 + n] = canon.items[n];
        }

        r = ctl_script(ctl_lua_key_ip, 2, canon.n + 6, args);
        freeReplyObject(r);
        free(args);
    }

    if (ctl_key_read(ak, &k) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "no key with accessKey \"%s\"", ak);
    }

    if (ctl.json) {
        json_begin_object();
        json_str_field("access_key", ak);
        json_key("ip_whitelist");
        ctl_list_json(k.ips, 0);
        json_end_object();
        json_end();

    } else if (k.ips[0] == '\0') {
        printf("key \"%s\": empty whitelist, any address may call\n", ak);

    } else {
        /* escaping leaves the commas alone */

        text = ctl_escape_dup(k.ips, strlen(k.ips));

        for (n = 0; text[n]; n++) {
            fputc(text[n] == ',' ? '\n' : text[n], stdout);
        }

        fputc('\n', stdout);
        free(text);
    }

    ctl_key_free(&k);
    ctl_strv_free(&in, 0);
    ctl_strv_free(&canon, 1);

    return CTL_EXIT_OK;
}
