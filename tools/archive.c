
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl records: the archive, an SQLite file any SQLite tool reads
 * (docs/records.md, "The archive"): its schema, the drain's inserts, the
 * reads of "records report" (report.c).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "ctl.h"
#include "apiauth_key.h"


/* "apia": what tells an archive from any other SQLite file */
#define ARCHIVE_APP_ID     0x61706961
#define ARCHIVE_SCHEMA     1


static long long archive_int(const char *sql);
static void archive_exec(const char *sql);
static int archive_busy(void *data, int count);
static void archive_create(void);
static void archive_ip_in(sqlite3_context *ctx, int argc,
    sqlite3_value **argv);


static sqlite3       *archive_db;
static sqlite3_stmt  *archive_put_stmt;
static sqlite3_stmt  *archive_reject_stmt;
static const char    *archive_path;


/*
 * one column per field of the stream; request_id, unique per request, is
 * the key that makes a replayed entry a no-op.  A rowid table: its rows go
 * in at the end and its indexes hold a rowid, not the 32-byte id
 * (docs/records.md, "Performance", has the figures)
 */
static const char  archive_schema[] =
    "CREATE TABLE records (\n"
    "    request_id  TEXT PRIMARY KEY,\n"
    "    time_ms     INTEGER NOT NULL,\n"
    "    access_key  TEXT NOT NULL,\n"
    "    key_name    TEXT NOT NULL,\n"
    "    ip          TEXT NOT NULL,\n"
    "    method      TEXT NOT NULL,\n"
    "    path        TEXT NOT NULL,\n"
    "    interface   TEXT NOT NULL,\n"
    "    app         TEXT NOT NULL,\n"
    "    status      INTEGER NOT NULL,\n"
    "    result      TEXT NOT NULL,\n"
    "    reason      TEXT NOT NULL,\n"
    "    latency_ms  INTEGER NOT NULL,\n"
    "    bytes       INTEGER NOT NULL,\n"
    "    server      TEXT NOT NULL,\n"
    "    node        TEXT NOT NULL,\n"
    "    stream_id   TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX records_time ON records (time_ms);\n"
    "CREATE INDEX records_key ON records (access_key, time_ms);\n"
    "CREATE INDEX records_interface ON records (interface, time_ms);\n"
    "CREATE INDEX records_result ON records (result, time_ms);\n"
    "CREATE INDEX records_ip ON records (ip, time_ms);\n"
    "CREATE TABLE rejects (\n"
    "    stream_id   TEXT PRIMARY KEY,\n"
    "    why         TEXT NOT NULL,\n"
    "    fields      TEXT NOT NULL,\n"
    "    drained_ms  INTEGER NOT NULL\n"
    ");\n"
    "PRAGMA application_id = " CTL_XSTR(ARCHIVE_APP_ID) ";\n"
    "PRAGMA user_version = " CTL_XSTR(ARCHIVE_SCHEMA) ";\n";

/* the columns in field order, as the stream has them */
const char  ctl_archive_columns[] =
    "request_id, time_ms, access_key, key_name, ip, method, path, "
    "interface, app, status, result, reason, latency_ms, bytes, server, "
    "node, stream_id";

/* the stream's fields by column, v left out */
static const int  archive_fields[] = {
    APIAUTH_CALL_ID, APIAUTH_CALL_TIME, APIAUTH_CALL_AK, APIAUTH_CALL_NAME,
    APIAUTH_CALL_IP, APIAUTH_CALL_METHOD, APIAUTH_CALL_PATH,
    APIAUTH_CALL_INTERFACE, APIAUTH_CALL_APP, APIAUTH_CALL_STATUS,
    APIAUTH_CALL_RESULT, APIAUTH_CALL_REASON, APIAUTH_CALL_RT,
    APIAUTH_CALL_BYTES, APIAUTH_CALL_SERVER, APIAUTH_CALL_NODE
};

#define ARCHIVE_NCOLUMNS                                                     \
    (sizeof(archive_fields) / sizeof(archive_fields[0]) + 1)


void
ctl_archive_fail(int code, const char *what)
{
    ctl_fail(code, "archive \"%s\": %s: %s", archive_path, what,
             archive_db ? sqlite3_errmsg(archive_db) : "out of memory");
}


static long long
archive_int(const char *sql)
{
    int            rc;
    long long      v;
    sqlite3_stmt  *st;

    st = NULL;
    rc = sqlite3_prepare_v2(archive_db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }

    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);

        if (sqlite3_errcode(archive_db) == SQLITE_NOTADB) {
            ctl_fail(CTL_EXIT_USAGE, "\"%s\" is not an SQLite database, so "
                     "not a records archive", archive_path);
        }

        ctl_archive_fail(CTL_EXIT_RUNTIME, sql);
    }

    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);

    return v;
}


static void
archive_exec(const char *sql)
{
    if (sqlite3_exec(archive_db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        ctl_archive_fail(CTL_EXIT_RUNTIME, sql);
    }
}


/*
 * create: the drain's, which makes the archive in a new or empty file;
 * report only reads one.  A file that holds anything else is refused
 * before anything is written to it
 */

void
ctl_archive_open(const char *path, int create)
{
    long long    id, version;
    struct stat  st;

    archive_path = path;

    if (stat(path, &st) != 0) {
        if (errno != ENOENT || !create) {
            ctl_fail(CTL_EXIT_USAGE, "no archive \"%s\": %s (\"records drain "
                     "--db FILE\" makes one)", path, strerror(errno));
        }

    } else if (!S_ISREG(st.st_mode)) {
        ctl_fail(CTL_EXIT_USAGE, "\"%s\" is not a file, so not a records "
                 "archive", path);
    }

    if (sqlite3_open_v2(path, &archive_db,
                        create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                               : SQLITE_OPEN_READONLY,
                        NULL)
        != SQLITE_OK)
    {
        ctl_archive_fail(CTL_EXIT_RUNTIME, "cannot open it");
    }

    sqlite3_busy_handler(archive_db, archive_busy, NULL);

    id = archive_int("PRAGMA application_id");

    if (id == 0 && create) {
        archive_create();
        id = archive_int("PRAGMA application_id");
    }

    if (id != ARCHIVE_APP_ID) {
        ctl_fail(CTL_EXIT_USAGE, "\"%s\" is not a records archive (its "
                 "application_id is %lld, an archive's %d)", path, id,
                 ARCHIVE_APP_ID);
    }

    version = archive_int("PRAGMA user_version");

    if (version != ARCHIVE_SCHEMA) {
        ctl_fail(CTL_EXIT_RUNTIME, "archive \"%s\" has schema %lld, this "
                 "apiauth-ctl knows %d only", path, version, ARCHIVE_SCHEMA);
    }

    if (!create) {
        sqlite3_create_function(archive_db, "apiauth_ip_in", 2,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                archive_ip_in, NULL, NULL);
        return;
    }

    /*
     * WAL: report reads while the drain writes; NORMAL: a commit survives
     * a crash of the drain, and a power loss at worst loses the last
     * transactions, whose entries Redis still holds unacknowledged
     */
    archive_exec("PRAGMA journal_mode = WAL");
    archive_exec("PRAGMA synchronous = NORMAL");

    /*
     * the request id's and the address's indexes take inserts at random
     * places: 64 MiB keeps a batch's pages of them in memory, which halves
     * the CPU a record of an archive of millions (docs/records.md)
     */
    archive_exec("PRAGMA cache_size = -65536");

    if (sqlite3_prepare_v2(archive_db, "INSERT OR IGNORE INTO records "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                           "?11, ?12, ?13, ?14, ?15, ?16, ?17)", -1,
                           &archive_put_stmt, NULL)
        != SQLITE_OK
        || sqlite3_prepare_v2(archive_db, "INSERT OR IGNORE INTO rejects "
                              "VALUES (?1, ?2, ?3, ?4)", -1,
                              &archive_reject_stmt, NULL)
           != SQLITE_OK)
    {
        ctl_archive_fail(CTL_EXIT_RUNTIME, "cannot prepare the inserts");
    }
}


/*
 * parallel drains wait for each other's transactions, which are short:
 * every millisecond for a minute, where sqlite3_busy_timeout() would
 * sleep up to 100 ms at a time
 */

static int
archive_busy(void *data, int count)
{
    (void) data;

    if (count >= 60000) {
        return 0;
    }

    usleep(1000);

    return 1;
}


/*
 * a new or empty file; two drains starting on one: the second finds the
 * first's schema; a file of tables of its own is left alone
 */

static void
archive_create(void)
{
    /* 16 KiB pages: a fifth less CPU a record than 4 KiB (docs/records.md) */
    archive_exec("PRAGMA page_size = 16384");
    archive_exec("BEGIN IMMEDIATE");

    if (archive_int("SELECT count(*) FROM sqlite_master") == 0) {
        archive_exec(archive_schema);
    }

    archive_exec("COMMIT");
}


void
ctl_archive_begin(void)
{
    archive_exec("BEGIN IMMEDIATE");
}


void
ctl_archive_commit(void)
{
    archive_exec("COMMIT");
}


/* 1: a new row; 0: the request id is archived already */

int
ctl_archive_put(const ctl_call_t *c)
{
    int            i, f;
    sqlite3_stmt  *st;

    st = archive_put_stmt;

    for (i = 0; i < (int) ARCHIVE_NCOLUMNS - 1; i++) {
        f = archive_fields[i];

        switch (f) {
        case APIAUTH_CALL_TIME:
            sqlite3_bind_int64(st, i + 1, c->time_ms);
            break;
        case APIAUTH_CALL_STATUS:
            sqlite3_bind_int64(st, i + 1, c->status);
            break;
        case APIAUTH_CALL_RT:
            sqlite3_bind_int64(st, i + 1, c->latency_ms);
            break;
        case APIAUTH_CALL_BYTES:
            sqlite3_bind_int64(st, i + 1, c->bytes);
            break;
        default:
            sqlite3_bind_text(st, i + 1, c->text[f], (int) c->len[f],
                              SQLITE_STATIC);
        }
    }

    sqlite3_bind_text(st, ARCHIVE_NCOLUMNS, c->stream_id, -1, SQLITE_STATIC);

    if (sqlite3_step(st) != SQLITE_DONE) {
        ctl_archive_fail(CTL_EXIT_RUNTIME, "cannot insert a record");
    }

    sqlite3_reset(st);

    return sqlite3_changes(archive_db) == 1;
}


/* an entry that cannot be archived by its request id: its fields, kept */

void
ctl_archive_reject(const char *stream_id, const char *why,
    const redisReply *fields)
{
    char          *json;
    FILE          *f;
    size_t         i, len;
    redisReply    *k, *v;
    sqlite3_stmt  *st;

    json = NULL;
    f = open_memstream(&json, &len);
    if (f == NULL) {
        ctl_fail(CTL_EXIT_RUNTIME, "out of memory");
    }

    fputc('{', f);

    for (i = 0; i + 1 < fields->elements; i += 2) {
        k = fields->element[i];
        v = fields->element[i + 1];

        if (i) {
            fputc(',', f);
        }

        json_escape(f, k->str ? k->str : "", k->str ? k->len : 0);
        fputc(':', f);
        json_escape(f, v->str ? v->str : "", v->str ? v->len : 0);
    }

    fputc('}', f);
    fclose(f);

    st = archive_reject_stmt;
    sqlite3_bind_text(st, 1, stream_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, json, (int) len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (long long) time(NULL) * 1000);

    if (sqlite3_step(st) != SQLITE_DONE) {
        free(json);
        ctl_archive_fail(CTL_EXIT_RUNTIME, "cannot insert a reject");
    }

    sqlite3_reset(st);
    free(json);
}


/* the last connection to close checkpoints the WAL into the file */

void
ctl_archive_close(void)
{
    sqlite3_finalize(archive_put_stmt);
    sqlite3_finalize(archive_reject_stmt);
    sqlite3_close(archive_db);
    archive_put_stmt = NULL;
    archive_reject_stmt = NULL;
    archive_db = NULL;
}


/* apiauth_ip_in(ip, 0): the call's address is in the --ip network */

static void
archive_ip_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const unsigned char       *ip;
    const ctl_call_filter_t   *f;

    (void) argc;

    f = sqlite3_value_pointer(argv[1], "ctl_call_filter_t");
    ip = sqlite3_value_text(argv[0]);

    sqlite3_result_int(ctx, f && ip
                            && ctl_call_ip_in(&f->ip, (const char *) ip,
                                              sqlite3_value_bytes(argv[0])));
}


sqlite3_stmt *
ctl_archive_query(const char *sql)
{
    sqlite3_stmt  *st;

    if (sqlite3_prepare_v2(archive_db, sql, -1, &st, NULL) != SQLITE_OK) {
        ctl_archive_fail(CTL_EXIT_RUNTIME, "cannot read it");
    }

    return st;
}


/* a row of SELECT ctl_archive_columns, as a call */

void
ctl_archive_row(sqlite3_stmt *st, ctl_call_t *c)
{
    size_t  i;

    memset(c, 0, sizeof(ctl_call_t));

    for (i = 0; i < ARCHIVE_NCOLUMNS - 1; i++) {
        c->text[archive_fields[i]] = (const char *) sqlite3_column_text(st, i);
        c->len[archive_fields[i]] = sqlite3_column_bytes(st, i);
    }

    c->text[APIAUTH_CALL_VERSION] = CTL_XSTR(APIAUTH_RECORDS_VERSION);
    c->len[APIAUTH_CALL_VERSION] = 1;
    c->stream_id = (const char *) sqlite3_column_text(st, i);
    c->time_ms = sqlite3_column_int64(st, 1);
    c->status = sqlite3_column_int64(st, 9);
    c->latency_ms = sqlite3_column_int64(st, 12);
    c->bytes = sqlite3_column_int64(st, 13);
}
