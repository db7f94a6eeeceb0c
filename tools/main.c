
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl: global options, then one object and its command.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"


static void ctl_usage(void);


ctl_t  ctl;


static const char  ctl_help[] =
    "usage: apiauth-ctl [OPTIONS] OBJECT [COMMAND] [ARGS]\n"
    "\n"
    "Manages the API keys that ngx_http_apiauth_module checks.\n"
    "\n"
    "objects:\n"
    "  init        create the master key and initialise the key store\n"
    "  doctor      check the key store's Redis and the master key\n"
    "  upgrade     migrate the key store to this apiauth-ctl's schema\n"
    "  key         create, list, show and change keys\n"
    "  interface   the catalog of interfaces and their call URLs\n"
    "  policy      rate limits and quotas that keys are given\n"
    "  config      show or set the key store's limits\n"
    "  records     archive nginx's call records in SQLite, report, tail\n"
    "  version     print the version\n"
    "\n"
    "options (before OBJECT; --json and --help also work after it):\n"
    "  --redis URL                 redis://[user@]host:port/db or "
    "unix:/path[?db=N]\n"
    "                              (env APIAUTH_REDIS; default "
    CTL_DEFAULT_REDIS ")\n"
    "  --redis-password-file FILE  Redis password (else env "
    "APIAUTH_REDIS_PASSWORD)\n"
    "  --master-key FILE           master key file (env APIAUTH_MASTER_KEY;\n"
    "                              default " CTL_DEFAULT_MASTER ")\n"
    "  --json                      one JSON document on stdout\n"
    "  --help, --version\n"
    "\n"
    "Run \"apiauth-ctl OBJECT --help\" for an object's commands.\n"
    "Exit status: 0 success, 1 runtime failure, 2 usage or validation "
    "error.\n";


static void
ctl_usage(void)
{
    ctl_help_exit(ctl_help);
}


/* exact names only: "del" must never mean "delete" nor "disable" */

int
ctl_dispatch(const ctl_cmd_t *cmds, const char *object, int argc,
    char **argv, void (*usage)(void))
{
    const ctl_cmd_t  *c;

    if (argc < 1) {
        ctl_fail(CTL_EXIT_USAGE, "\"%s\" needs a command; see "
                 "\"apiauth-ctl %s --help\"", object, object);
    }


    if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0
        || strcmp(argv[0], "-h") == 0)
    {
        usage();
    }

    if (strcmp(argv[0], "--json") == 0 && argc > 1) {
        ctl.json = 1;
        return ctl_dispatch(cmds, object, argc - 1, argv + 1, usage);
    }

    for (c = cmds; c->name; c++) {
        if (strcmp(c->name, argv[0]) == 0) {
            optind = 0;
            return c->handler(argc, argv);
        }
    }

    if (usage == ctl_usage) {
        ctl_fail(CTL_EXIT_USAGE, "unknown object \"%s\"; see "
                 "\"apiauth-ctl --help\"", argv[0]);
    }

    ctl_fail(CTL_EXIT_USAGE, "unknown command \"%s %s\"; see "
             "\"apiauth-ctl %s --help\"", object, argv[0], object);
}


static int
do_version(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    if (ctl.json) {
        printf("{\"version\":\"%s\"}\n", CTL_VERSION);

    } else {
        printf("apiauth-ctl %s\n", CTL_VERSION);
    }

    return CTL_EXIT_OK;
}


static const ctl_cmd_t  ctl_objects[] = {
    { "init", do_init },
    { "doctor", do_doctor },
    { "upgrade", do_upgrade },
    { "key", do_key },
    { "interface", do_interface },
    { "policy", do_policy },
    { "config", do_config },
    { "records", do_records },
    { "version", do_version },
    { NULL, NULL }
};


int
main(int argc, char **argv)
{
    int          opt;
    const char  *env;

    static const struct option  options[] = {
        { "redis", required_argument, NULL, 'r' },
        { "redis-password-file", required_argument, NULL, 'p' },
        { "master-key", required_argument, NULL, 'm' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };

    env = getenv("APIAUTH_REDIS");
    ctl.redis_url = (env && *env) ? env : CTL_DEFAULT_REDIS;

    env = getenv("APIAUTH_MASTER_KEY");
    ctl.master_path = (env && *env) ? env : CTL_DEFAULT_MASTER;

    opterr = 0;

    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {

        case 'r':
            ctl.redis_url = optarg;
            break;

        case 'p':
            ctl.password_file = optarg;
            break;

        case 'm':
            ctl.master_path = optarg;
            break;

        case 'V':
            return do_version(0, NULL);

        default:
            ctl_common_opt(opt, argv, ctl_help);
        }
    }

    if (optind >= argc) {
        fputs(ctl_help, stderr);
        return CTL_EXIT_USAGE;
    }

    return ctl_dispatch(ctl_objects, "apiauth-ctl", argc - optind,
                        argv + optind, ctl_usage);
}
