
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl init: the master key file, and its id in the key store.
 */


#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ctl.h"
#include "apiauth_key.h"


static void init_write_master(const char *path);


static const char  init_help[] =
    "usage: apiauth-ctl init [--master-key FILE] [--use-existing] [--json]\n"
    "\n"
    "Creates the master key file (mode 0600; an existing file is never\n"
    "overwritten) and records its id in the key store, then runs the\n"
    "doctor's checks.  With --use-existing, records the id of an existing\n"
    "master key file instead, e.g. to set up a new Redis for the same "
    "nginx\nnodes.\n";


static void
init_write_master(const char *path)
{
    int            fd;
    char          *copy, *dir;
    unsigned char  master[APIAUTH_MASTER_KEY_LEN];
    unsigned char  text[APIAUTH_MASTER_HEX_LEN + 1];

    /* a missing /etc/apiauth is made, for root only */

    copy = ctl_strdup(path);
    dir = dirname(copy);

    if (access(dir, F_OK) != 0 && mkdir(dir, 0700) != 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "cannot create directory \"%s\": %s",
                 dir, strerror(errno));
    }

    free(copy);

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd == -1) {
        ctl_fail(CTL_EXIT_RUNTIME, "cannot create master key \"%s\": %s",
                 path, strerror(errno));
    }

    ctl_random(master, sizeof(master));
    apiauth_hex(text, master, sizeof(master));
    text[APIAUTH_MASTER_HEX_LEN] = '\n';

    if (write(fd, text, sizeof(text)) != (ssize_t) sizeof(text)
        || fsync(fd) != 0)
    {
        close(fd);
        unlink(path);
        ctl_fail(CTL_EXIT_RUNTIME, "cannot write master key \"%s\": %s",
                 path, strerror(errno));
    }

    close(fd);
    memset(master, 0, sizeof(master));
    memset(text, 0, sizeof(text));
}


int
do_init(int argc, char **argv)
{
    int          opt, existing, created;
    char         max_keys[16], max_ips[16];
    struct stat  st;
    redisReply  *r;

    static const struct option  options[] = {
        { "master-key", required_argument, NULL, 'm' },
        { "use-existing", no_argument, NULL, 'E' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    existing = 0;
    optind = 0;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': ctl.master_path = optarg; break;
        case 'E': existing = 1; break;
        default: ctl_common_opt(opt, argv, init_help);
        }
    }

    if (optind != argc) {
        ctl_fail(CTL_EXIT_USAGE, "\"init\" takes no arguments");
    }

    if (!existing && stat(ctl.master_path, &st) == 0) {
        ctl_fail(CTL_EXIT_USAGE, "master key \"%s\" exists; refusing to "
                 "overwrite it (--use-existing records its id instead)",
                 ctl.master_path);
    }

    ctl_redis_connect();

    if (existing) {
        ctl_master_load();

    } else {
        r = ctl_redis_cmd("HGET %s master_key_id", APIAUTH_STORE_META);

        if (r->type == REDIS_REPLY_STRING) {
            ctl_fail_reply(r, CTL_EXIT_RUNTIME, "the key store at %s is "
                           "initialised already, with master key id %s; use "
                           "that key's file (--master-key)", ctl.addr, r->str);
        }

        freeReplyObject(r);

        init_write_master(ctl.master_path);
        ctl_master_load();
    }

    snprintf(max_keys, sizeof(max_keys), "%d", CTL_DEFAULT_MAX_KEYS);
    snprintf(max_ips, sizeof(max_ips), "%d", CTL_DEFAULT_MAX_IPS);

    /* nothing half-done: the file we made goes with any failure */
    ctl.made_file = existing ? NULL : ctl.master_path;

    r = ctl_redis_reply("EVAL %s%s%s 1 %s %s %s %s %s", ctl_lua_bounds,
                        ctl_lua_prelude, ctl_lua_init, APIAUTH_STORE_META,
                        ctl.key_id, ctl_now(), max_keys, max_ips);

    if (r->type == REDIS_REPLY_ERROR) {
        ctl_script_fail(r);
    }

    ctl.made_file = NULL;

    created = (strcmp(r->str, "OK") == 0);
    freeReplyObject(r);

    ctl_doctor_run(1);

    if (ctl.json) {
        json_begin_object();
        json_str_field("master_key", ctl.master_path);
        json_str_field("master_key_id", ctl.key_id);
        json_str_field("redis", ctl.addr);
        json_bool_field("initialised", created);
        json_end_object();
        json_end();

    } else if (created) {
        printf("initialised the key store at %s with master key \"%s\" "
               "(id %s)\n", ctl.addr, ctl.master_path, ctl.key_id);

    } else {
        printf("the key store at %s was initialised already with master "
               "key id %s\n", ctl.addr, ctl.key_id);
    }

    return CTL_EXIT_OK;
}
