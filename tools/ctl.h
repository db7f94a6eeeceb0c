
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl: manages the key store in Redis.
 */


#ifndef _CTL_H_INCLUDED_
#define _CTL_H_INCLUDED_


#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <getopt.h>
#include <signal.h>

#include <hiredis/hiredis.h>
#include <sqlite3.h>

#include "apiauth_secret.h"
#include "apiauth_key.h"
#include "apiauth_store.h"
#include "apiauth_ip.h"
#include "apiauth_jwt_key.h"


#define CTL_VERSION        "0.1.0"

#define CTL_EXIT_OK        0
#define CTL_EXIT_RUNTIME   1
#define CTL_EXIT_USAGE     2

#define CTL_DEFAULT_REDIS  "redis://127.0.0.1:6379/0"
#define CTL_DEFAULT_MASTER "/etc/apiauth/master.key"

#define CTL_DEFAULT_MAX_KEYS  500
#define CTL_DEFAULT_MAX_IPS   50

/* a number of a header's #define as a string literal */
#define CTL_STR(x)         #x
#define CTL_XSTR(x)        CTL_STR(x)



typedef struct {
    const char     *redis_url;
    const char     *password_file;
    const char     *master_path;
    int             json;

    /* a file this run made, removed if the run fails before it is done */
    const char     *made_file;

    redisContext   *rc;
    char            addr[512];        /* for messages, no password */

    int             have_master;
    unsigned char   master[APIAUTH_MASTER_KEY_LEN];
    char            key_id[APIAUTH_KEY_ID_LEN + 1];
} ctl_t;


/* a key as the store holds it; strings are owned by the record */
typedef struct {
    char           *access_key;
    char           *name;
    char           *description;
    char           *salt;
    char           *status;
    char           *apps;
    char           *interfaces;
    char           *ips;
    long long       created;
    long long       updated;
    long long       expires;          /* 0: never; -1: not a valid time */
    char           *expires_text;     /* as stored, when not a valid time */
    const char     *refused;          /* why nginx refuses it, or NULL */
    char           *policy;           /* NULL: none */
    char           *limits;           /* the policy's, as the key holds them */

    /* the JWT method (docs/jwt.md): the fields as stored, NULL if absent */
    char           *jwt_alg;          /* NULL: no JWT method */
    char           *jwt_public_key;
    char           *jwt_issuer;
    char           *jwt_audience;
    char           *jwt_max_lifetime;
    char           *jwt_require_exp;
    char            jwt_fingerprint[APIAUTH_JWT_FINGERPRINT_LEN + 1];
    const char     *jwt_key_error;    /* why the public key does not load */
} ctl_key_t;


typedef struct {
    const char     *name;
    int           (*handler)(int argc, char **argv);
} ctl_cmd_t;


extern ctl_t  ctl;


/* main.c */
int ctl_dispatch(const ctl_cmd_t *cmds, const char *object, int argc,
    char **argv, void (*usage)(void));

/* util.c */
void ctl_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void ctl_fail_reply(redisReply *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *ctl_alloc(size_t n);
char *ctl_strdup(const char *s);
int ctl_parse_time(const char *s, time_t now, long long *t);
void ctl_format_time(long long t, char *buf, size_t size);
void ctl_random(unsigned char *buf, size_t n);
void ctl_gen_access_key(char *out);
void ctl_gen_salt(char *out);
int ctl_parse_uint(const char *s, long long max, long long *v);
void ctl_help_exit(const char *text) __attribute__((noreturn));
int ctl_common_opt(int opt, char **argv, const char *help);
int ctl_common_args(int argc, char **argv, const char *help);

/* master.c */
void ctl_master_load(void);
void ctl_master_check(void);
void ctl_secret(const ctl_key_t *k, char *out);

/* redis.c */
void ctl_redis_connect(void);
redisReply *ctl_redis_cmd(const char *fmt, ...);
redisReply *ctl_redis_reply(const char *fmt, ...);
void ctl_redis_append(const char *fmt, ...);
redisReply *ctl_redis_next(void);
redisReply *ctl_script(const char *body, int nkeys, int argc,
    const char **argv);
redisReply *ctl_scriptl(const char *body, int nkeys, ...)
    __attribute__((sentinel));
void ctl_script_fail(redisReply *r) __attribute__((noreturn));
char *ctl_now(void);

/* json.c */
void json_begin_object(void);
void json_end_object(void);
void json_begin_array(void);
void json_end_array(void);
void json_key(const char *key);
void json_str(const char *s);
void json_strn(const char *s, size_t len);
void json_int(long long v);
void json_bool(int v);
void json_null(void);
void json_str_field(const char *key, const char *s);
void json_int_field(const char *key, long long v);
void json_bool_field(const char *key, int v);
void json_end(void);
void json_discard(void);
void json_escape(FILE *f, const char *s, size_t len);

/* output.c */
#define CTL_ESCAPED_SIZE(len)  ((len) * 6 + 1)

typedef struct ctl_table_s  ctl_table_t;
size_t ctl_escape(char *out, const char *s, size_t len);
char *ctl_escape_dup(const char *s, size_t len);
ctl_table_t *ctl_table_new(int ncols, ...);
void ctl_table_row(ctl_table_t *t, ...);
void ctl_table_print(ctl_table_t *t);
size_t ctl_table_rows(ctl_table_t *t);
void ctl_table_free(ctl_table_t *t);

/* key.c: the key commands */
int do_key(int argc, char **argv);

/* record.c: a key record, read and shown */
#define CTL_KEY_STORE_LEN                                                    \
    (sizeof(APIAUTH_STORE_KEY_PREFIX) + APIAUTH_ACCESS_KEY_MAX)
#define CTL_KEY_MASK_SHOWN 4

void ctl_key_store_name(char *buf, const char *ak);
int ctl_key_read(const char *ak, ctl_key_t *k);
void ctl_key_from_reply(ctl_key_t *k, const char *ak, redisReply *r);
void ctl_key_free(ctl_key_t *k);
void ctl_key_mask(const ctl_key_t *k, int reveal, char *out);
void ctl_key_json(const ctl_key_t *k, int reveal);
void ctl_key_json_members(const ctl_key_t *k, int reveal);
void ctl_key_print(const ctl_key_t *k, int reveal);
void ctl_print_field(const char *label, const char *value);
void ctl_list_json(const char *list, int split_all);
size_t ctl_list_count(const char *list);

/* canon.c: what the commands take, in canonical form */
typedef struct {
    char          **items;
    int             n;
} ctl_strv_t;

const char *ctl_access_key_arg(const char *s);
void ctl_strv_add(ctl_strv_t *v, const char *s);
void ctl_strv_free(ctl_strv_t *v, int items);
char *ctl_scope_canon(const char *what, ctl_strv_t *v);
char *ctl_ips_canon(ctl_strv_t *v, ctl_strv_t *out);
long long ctl_expiry_arg(const char *arg, const char *use);

/* interface.c */
typedef struct {
    const char     *name;
    const char     *app;              /* "" when none */
    const char     *url;
    long long       created;
} ctl_interface_t;

typedef void (*ctl_interface_pt)(const ctl_interface_t *itf, void *data);

int do_interface(int argc, char **argv);
void ctl_interfaces_each(ctl_interface_pt handler, void *data);

/* policy.c */
int do_policy(int argc, char **argv);
int ctl_key_policy(int argc, char **argv);
int ctl_key_usage(int argc, char **argv);
void ctl_policy_in_use(const char *detail) __attribute__((noreturn));
void ctl_usage_json(const ctl_key_t *k);
void ctl_usage_print(const ctl_key_t *k);

/* jwt.c: a key's JWT method */
int ctl_key_jwt(int argc, char **argv);
void ctl_jwt_check(ctl_key_t *k, const apiauth_record_t *rec);
void ctl_jwt_json(const ctl_key_t *k);
void ctl_jwt_print(const ctl_key_t *k);

/* config.c */
int do_config(int argc, char **argv);
long long ctl_config_get(const char *name, long long dflt);

/* doctor.c */
int do_doctor(int argc, char **argv);
int ctl_doctor_run(int quiet);

/* init.c */
int do_init(int argc, char **argv);

/* upgrade.c */
int do_upgrade(int argc, char **argv);

/* records.c: call records (docs/records.md), as entries */

/* one entry of the records stream, or one row of the archive */
typedef struct {
    const char         *text[APIAUTH_CALL_NFIELDS];   /* "" when absent */
    size_t              len[APIAUTH_CALL_NFIELDS];
    const char         *stream_id;
    long long           time_ms;
    long long           status;
    long long           latency_ms;
    long long           bytes;
} ctl_call_t;

/* what report and tail select; NULL, 0 or -1: no condition */
typedef struct {
    const char         *result;
    const char         *reason;
    const char         *key;
    const char         *interface;
    const char         *ip_text;
    apiauth_ip_entry_t  ip;
    int                 status_min;
    int                 status_max;
    long long           since_ms;
    long long           until_ms;
} ctl_call_filter_t;

/* the filter options report and tail take, for their getopt tables */
#define CTL_CALL_FILTER_OPTIONS                                              \
    { "result", required_argument, NULL, 'r' },                              \
    { "reason", required_argument, NULL, 'R' },                              \
    { "key", required_argument, NULL, 'k' },                                 \
    { "interface", required_argument, NULL, 'I' },                           \
    { "ip", required_argument, NULL, 'P' },                                  \
    { "status", required_argument, NULL, 's' }

#define CTL_CALL_FORMAT_TABLE  0
#define CTL_CALL_FORMAT_JSON   1
#define CTL_CALL_FORMAT_CSV    2

extern volatile sig_atomic_t  ctl_call_stop;
extern redisReply            *ctl_call_reply;
extern const char            *ctl_call_stream;

int do_records(int argc, char **argv);
double ctl_call_clock(void);
void ctl_call_signals(void);
void ctl_call_stream_arg(const char *s);
redisReply *ctl_call_entries(redisReply *r);
const char *ctl_call_parse(ctl_call_t *c, const char *id,
    const redisReply *fields);
void ctl_call_filter_init(ctl_call_filter_t *f);
int ctl_call_match(const ctl_call_filter_t *f, const ctl_call_t *c);
int ctl_call_filter_opt(ctl_call_filter_t *f, int opt, const char *arg);
long long ctl_call_time_arg(const char *opt, const char *s);
long long ctl_call_uint_arg(const char *opt, const char *s, long long min,
    long long max);
int ctl_call_ip_in(const apiauth_ip_entry_t *e, const char *ip, size_t len);
void ctl_call_time(long long ms, char *buf, size_t size);
void ctl_call_json(const ctl_call_t *c);
void ctl_call_line(const ctl_call_t *c);
ctl_table_t *ctl_call_table(void);
void ctl_call_row(ctl_table_t *t, const ctl_call_t *c);
void ctl_call_csv_header(void);
void ctl_call_csv(const ctl_call_t *c);
void ctl_csv_cell(const char *s, size_t len, int last);

/* archive.c: the SQLite side of records */
extern const char  ctl_archive_columns[];

void ctl_archive_open(const char *path, int create);
void ctl_archive_fail(int code, const char *what)
    __attribute__((noreturn));
sqlite3_stmt *ctl_archive_query(const char *sql);
void ctl_archive_row(sqlite3_stmt *st, ctl_call_t *c);
void ctl_archive_begin(void);
int ctl_archive_put(const ctl_call_t *c);
void ctl_archive_reject(const char *stream_id, const char *why,
    const redisReply *fields);
void ctl_archive_commit(void);
void ctl_archive_close(void);

/* report.c */
int ctl_records_report(int argc, char **argv);

/* drain.c, tail.c */
int ctl_records_drain(int argc, char **argv);
int ctl_records_tail(int argc, char **argv);

/* redis.c: the module's bounds, as Lua, before the prelude */
extern const char  ctl_lua_bounds[];

/* scripts.c, generated from scripts/ *.lua */
extern const char  ctl_lua_prelude[];
extern const char  ctl_lua_init[];
extern const char  ctl_lua_key_create[];
extern const char  ctl_lua_key_copy[];
extern const char  ctl_lua_key_update[];
extern const char  ctl_lua_key_rekey[];
extern const char  ctl_lua_key_ip[];
extern const char  ctl_lua_key_delete[];
extern const char  ctl_lua_interface_add[];
extern const char  ctl_lua_policy_create[];
extern const char  ctl_lua_policy_update[];
extern const char  ctl_lua_policy_delete[];
extern const char  ctl_lua_key_policy[];
extern const char  ctl_lua_interface_remove[];
extern const char  ctl_lua_config_set[];
extern const char  ctl_lua_upgrade[];


#endif /* _CTL_H_INCLUDED_ */
