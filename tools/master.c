
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The master key: secrets are derived from it and never stored.
 */


#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ctl.h"


void
ctl_master_load(void)
{
    int            fd;
    ssize_t        n;
    struct stat    st;
    unsigned char  buf[256], id[APIAUTH_KEY_ID_LEN];

    fd = open(ctl.master_path, O_RDONLY);
    if (fd == -1) {
        ctl_fail(CTL_EXIT_RUNTIME, "cannot read master key \"%s\": %s; set "
                 "--master-key FILE or APIAUTH_MASTER_KEY", ctl.master_path,
                 strerror(errno));
    }

    if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
        ctl_warn("master key \"%s\" can be read by others (mode %04o); "
                 "chmod 600 it", ctl.master_path, st.st_mode & 07777);
    }

    n = read(fd, buf, sizeof(buf));
    close(fd);

    if (n < 0 || apiauth_master_key_parse(buf, n, ctl.master) != 0) {
        ctl_fail(CTL_EXIT_RUNTIME, "master key \"%s\" must hold 64 hex "
                 "characters and a newline", ctl.master_path);
    }

    memset(buf, 0, sizeof(buf));

    apiauth_master_key_id(ctl.master, id);
    memcpy(ctl.key_id, id, APIAUTH_KEY_ID_LEN);
    ctl.key_id[APIAUTH_KEY_ID_LEN] = '\0';

    ctl.have_master = 1;
}


/* every command but init and doctor works only with the store's own key */

void
ctl_master_check(void)
{
    redisReply  *r;

    ctl_master_load();

    r = ctl_redis_cmd("HGET %s master_key_id", APIAUTH_STORE_META);

    if (r->type != REDIS_REPLY_STRING) {
        ctl_fail_reply(r, CTL_EXIT_RUNTIME, "the key store at %s is not "
                       "initialised; run \"apiauth-ctl init\"", ctl.addr);
    }

    if (strcmp(r->str, ctl.key_id) != 0) {
        ctl_fail_reply(r, CTL_EXIT_RUNTIME, "master key mismatch: \"%s\" has "
                       "id %s, the key store at %s was initialised with id %s",
                       ctl.master_path, ctl.key_id, ctl.addr, r->str);
    }

    freeReplyObject(r);
}


void
ctl_secret(const ctl_key_t *k, char *out)
{
    if (apiauth_secret_derive(ctl.master,
                              (const unsigned char *) k->access_key,
                              strlen(k->access_key),
                              (const unsigned char *) k->salt,
                              strlen(k->salt), (unsigned char *) out)
        != 0)
    {
        ctl_fail(CTL_EXIT_RUNTIME, "key \"%s\" has a malformed salt in the "
                 "store", k->access_key);
    }

    out[APIAUTH_SECRET_LEN] = '\0';
}
