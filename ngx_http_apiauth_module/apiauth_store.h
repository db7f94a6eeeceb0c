
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
#include "apiauth_policy.h"


/* every name carries the one hash tag: one slot on Redis Cluster */
#define APIAUTH_STORE_META         "{apiauth}:meta"
#define APIAUTH_STORE_KEYS         "{apiauth}:keys"
#define APIAUTH_STORE_KEY_PREFIX   "{apiauth}:key:"
#define APIAUTH_STORE_IFS          "{apiauth}:interfaces"
#define APIAUTH_STORE_IF_PREFIX    "{apiauth}:interface:"
#define APIAUTH_STORE_CHANGES      "{apiauth}:changes"

/*
 * policies (docs/policies.md): the index of their names, each policy's
 * hash, the set of accessKeys that use it, and each key's usage: its
 * rate's theoretical arrival time (a string, unix microseconds) and its
 * quota's period (a hash: start, end in unix ms, used)
 */
#define APIAUTH_STORE_POLICIES          "{apiauth}:policies"
#define APIAUTH_STORE_POLICY_PREFIX     "{apiauth}:policy:"
#define APIAUTH_STORE_POLICY_KEYS_PREFIX "{apiauth}:policy-keys:"
#define APIAUTH_STORE_RATE_PREFIX       "{apiauth}:rate:"
#define APIAUTH_STORE_QUOTA_PREFIX      "{apiauth}:quota:"

/*
 * the store's layout: 2 adds the change stream {apiauth}:changes, an
 * entry per change (field "op", then "ak" for the accessKey it touches,
 * or "old" and "new" for key.set-access-key), trimmed to about MAXLEN
 */
#define APIAUTH_STORE_SCHEMA           2
#define APIAUTH_STORE_CHANGES_MAXLEN   100000


/*
 * call records (docs/records.md): nginx appends one stream entry per call
 * with these fields, in this order, every one present (an empty string
 * where there is nothing to say); apiauth-ctl records drains them.  "call"
 * names them in code: a "record" is also a key's hash
 */
#define APIAUTH_RECORDS_STREAM         "{apiauth}:records"
#define APIAUTH_RECORDS_VERSION        1

#define APIAUTH_CALL_FIELDS(X)                                             \
    X(VERSION,   "v")           /* APIAUTH_RECORDS_VERSION */               \
    X(ID,        "id")          /* $request_id, 32 hex digits */            \
    X(TIME,      "t")           /* request start, unix ms */                \
    X(AK,        "ak")          /* accessKey, when well formed */           \
    X(NAME,      "name")        /* the key's name, when found */            \
    X(IP,        "ip")          /* client address ($remote_addr) */         \
    X(METHOD,    "method")                                                  \
    X(PATH,      "path")        /* as sent, without the query string */     \
    X(INTERFACE, "interface")   /* apiauth_interface where decided */       \
    X(APP,       "app")         /* apiauth_app where decided */             \
    X(STATUS,    "status")      /* the response's status */                 \
    X(RESULT,    "result")      /* ok, denied or error */                   \
    X(REASON,    "reason")      /* the exact reason code */                 \
    X(RT,        "rt")          /* request time, ms */                      \
    X(BYTES,     "bytes")       /* bytes sent to the client */              \
    X(SERVER,    "server")      /* $server_name */                          \
    X(NODE,      "node")        /* the nginx node's host name */

#define APIAUTH_CALL_ENUM(id, name)  APIAUTH_CALL_##id,
enum { APIAUTH_CALL_FIELDS(APIAUTH_CALL_ENUM) APIAUTH_CALL_NFIELDS };
#undef APIAUTH_CALL_ENUM

/* the field names, indexed by APIAUTH_CALL_* */
extern const char  *apiauth_call_fields[APIAUTH_CALL_NFIELDS];


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
    apiauth_text_t        policy;
    apiauth_text_t        limits;       /* the policy's, apiauth_policy.h */
    apiauth_text_t        jwt_alg;      /* the JWT method (docs/jwt.md) */
    apiauth_text_t        jwt_public_key;
    apiauth_text_t        jwt_issuer;
    apiauth_text_t        jwt_audience;
    apiauth_text_t        jwt_max_lifetime;
    apiauth_text_t        jwt_require_exp;

    int                   enabled;

    /*
     * 0: never (no "expires" field); else the time; -1 where the field
     * holds a time at or before 1970, or no time at all (expired_malformed
     * then): an expiry that is there is never read as "never"
     */
    long long             expires_at;
    int                   expires_malformed;

    size_t                nips;         /* entries parsed into ips[] */

    int                   limited;      /* limits read into rules */
    apiauth_policy_t      rules;

    int                   jwt;          /* APIAUTH_JWT_*: 0, no method */
    long long             jwt_lifetime; /* seconds; 0: any */
    int                   jwt_exp;      /* exp required */
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
