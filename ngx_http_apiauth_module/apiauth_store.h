
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * The key store in Redis, defined once for the module and apiauth-ctl (no
 * nginx headers): every name, and the one strict reader of a key record
 * (docs/keys.md), so that the tool shows a record as nginx reads it and
 * says why nginx would refuse one.
 */


#ifndef _APIAUTH_STORE_H_INCLUDED_
#define _APIAUTH_STORE_H_INCLUDED_


#include <stddef.h>

#include "apiauth_ip.h"


/* every name carries the one hash tag: one slot on Redis Cluster */
#define APIAUTH_STORE_META         "{apiauth}:meta"
#define APIAUTH_STORE_KEYS         "{apiauth}:keys"
#define APIAUTH_STORE_KEY_PREFIX   "{apiauth}:key:"
#define APIAUTH_STORE_IFS          "{apiauth}:interfaces"
#define APIAUTH_STORE_IF_PREFIX    "{apiauth}:interface:"
#define APIAUTH_STORE_CHANGES      "{apiauth}:changes"

/*
 * the store's layout: 2 adds the change stream {apiauth}:changes, an
 * entry per change (field "op", then "ak" for the accessKey it touches,
 * or "old" and "new" for key.set-access-key), trimmed to about MAXLEN
 */
#define APIAUTH_STORE_SCHEMA           2
#define APIAUTH_STORE_CHANGES_MAXLEN   100000


typedef struct {
    const unsigned char  *data;         /* NULL: the field is absent */
    size_t                len;
} apiauth_text_t;


/* a key record, its texts pointing into the reply it was read from */
typedef struct {
    apiauth_text_t        name;
    apiauth_text_t        description;
    apiauth_text_t        salt;
    apiauth_text_t        status;
    apiauth_text_t        apps;
    apiauth_text_t        interfaces;
    apiauth_text_t        ips;
    apiauth_text_t        expires;
    apiauth_text_t        created;
    apiauth_text_t        updated;

    int                   enabled;

    /*
     * 0: never (no "expires" field); else the time; -1 where the field
     * holds a time at or before 1970, or no time at all (expired_malformed
     * then): an expiry that is there is never read as "never"
     */
    long long             expires_at;
    int                   expires_malformed;

    size_t                nips;         /* entries parsed into ips[] */
} apiauth_record_t;


/*
 * reads a record from n field/value pairs as HGETALL returns them (fv[2i]
 * the field, fv[2i + 1] its value), its whitelist parsed into ips (room for
 * max entries); every field is set whatever is wrong, for display; returns
 * 0, or -1 with *why saying what makes the module refuse the record
 */
int apiauth_record_parse(apiauth_record_t *rec, const apiauth_text_t *fv,
    size_t n, apiauth_ip_entry_t *ips, size_t max, const char **why);


#endif /* _APIAUTH_STORE_H_INCLUDED_ */
