
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl records report: the archive's calls, filtered, listed or
 * counted per group with the latency's percentiles (docs/records.md,
 * "report").
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"


#define REPORT_LIMIT   100


typedef struct {
    const char  *name;
    const char  *heading;
    const char  *expr;
    int          kind;
} report_group_t;

#define REPORT_TEXT   0
#define REPORT_INT    1
#define REPORT_TIME   2


static void report_where(const ctl_call_filter_t *f, char *buf,
    size_t size);
static sqlite3_stmt *report_prepare(const char *sql,
    const ctl_call_filter_t *f, long long limit);
static void report_list(const ctl_call_filter_t *f, int format,
    long long limit);
static void report_groups(const ctl_call_filter_t *f,
    const report_group_t *g, int format, long long limit);
static void report_group_value(const report_group_t *g, sqlite3_stmt *st,
    char *buf, size_t size);
static void report_table_row(ctl_table_t *t, const report_group_t *g,
    const char *text, const char *name, const long long *v);


static const report_group_t  report_group_by[] = {
    { "key", "KEY", "access_key", REPORT_TEXT },
    { "interface", "INTERFACE", "interface", REPORT_TEXT },
    { "result", "RESULT", "result", REPORT_TEXT },
    { "reason", "REASON", "reason", REPORT_TEXT },
    { "ip", "IP", "ip", REPORT_TEXT },
    { "status", "STATUS", "status", REPORT_INT },
    { "minute", "MINUTE", "time_ms / 60000 * 60000", REPORT_TIME },
    { "hour", "HOUR", "time_ms / 3600000 * 3600000", REPORT_TIME },
    { "day", "DAY", "time_ms / 86400000 * 86400000", REPORT_TIME },
    { NULL, NULL, NULL, 0 }
};


static const char  report_help[] =
    "usage: apiauth-ctl records report --db FILE [--since TIME] "
    "[--until TIME]\n"
    "           [--result ok|denied|error] [--reason REASON] [--key AK]\n"
    "           [--interface IF] [--ip IP|CIDR] [--status CODE|Nxx]\n"
    "           [--group-by key|interface|result|reason|ip|status|minute|"
    "hour|day]\n"
    "           [--format table|json|csv] [--limit N] [--json]\n"
    "\n"
    "Reads the archive that \"records drain\" writes.  Without --group-by,\n"
    "the calls newest first, at most --limit (default 100; 0: all).  With\n"
    "it, the calls counted per group, with ok, denied and error counts and\n"
    "the latency's 50th, 95th and 99th percentiles (nearest rank), every\n"
    "group unless --limit.\n"
    "\n"
    "TIME: RFC 3339 (2026-12-04T10:00:00.250Z), unix seconds, now, or ago\n"
    "      (-15m, -2h, -7d, -30s, -1w).  --since is inclusive, --until not.\n"
    "--reason ok also selects ok;stale.  --status 404, or 4xx for 400-499.\n"
    "--ip: an address or a network, IPv4 or IPv6 (10.0.0.0/8, "
    "2001:db8::/32).\n"
    "--json is --format json.\n";


static void
report_where(const ctl_call_filter_t *f, char *buf, size_t size)
{
    snprintf(buf, size, " WHERE 1%s%s%s%s%s%s%s%s",
             f->since_ms >= 0 ? " AND time_ms >= :since" : "",
             f->until_ms >= 0 ? " AND time_ms < :until" : "",
             f->result ? " AND result = :result" : "",
             f->reason ? " AND (reason = :reason OR substr(reason, 1, "
                         "length(:reason) + 1) = :reason || ';')" : "",
             f->key ? " AND access_key = :key" : "",
             f->interface ? " AND interface = :interface" : "",
             f->status_min ? " AND status BETWEEN :smin AND :smax" : "",
             f->ip_text ? " AND apiauth_ip_in(ip, :ip)" : "");
}


#define report_bind_text(st, name, v)                                       \
    if (v) {                                                                 \
        sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, name), v,     \
                          -1, SQLITE_STATIC);                                \
    }

static sqlite3_stmt *
report_prepare(const char *sql, const ctl_call_filter_t *f, long long limit)
{
    sqlite3_stmt  *st;

    st = ctl_archive_query(sql);

    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since"),
                       f->since_ms);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":until"),
                       f->until_ms);
    sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":smin"),
                     f->status_min);
    sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":smax"),
                     f->status_max);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
                       limit);
    sqlite3_bind_pointer(st, sqlite3_bind_parameter_index(st, ":ip"),
                         (void *) f, "ctl_call_filter_t", NULL);
    report_bind_text(st, ":result", f->result);
    report_bind_text(st, ":reason", f->reason);
    report_bind_text(st, ":key", f->key);
    report_bind_text(st, ":interface", f->interface);

    return st;
}


/* the calls, newest first; one more than the limit says there are more */

static void
report_list(const ctl_call_filter_t *f, int format, long long limit)
{
    int            rc;
    char           sql[2048], where[1024];
    long long      n;
    ctl_call_t     c;
    ctl_table_t   *t;
    sqlite3_stmt  *st;

    report_where(f, where, sizeof(where));
    snprintf(sql, sizeof(sql), "SELECT %s FROM records%s ORDER BY time_ms "
             "DESC, request_id DESC LIMIT :limit", ctl_archive_columns, where);

    st = report_prepare(sql, f, limit ? limit + 1 : -1);
    t = NULL;

    if (format == CTL_CALL_FORMAT_JSON) {
        json_begin_object();
        json_key("records");
        json_begin_array();

    } else if (format == CTL_CALL_FORMAT_CSV) {
        ctl_call_csv_header();

    } else {
        t = ctl_call_table();
    }

    for (n = 0; (rc = sqlite3_step(st)) == SQLITE_ROW; n++) {
        if (limit && n == limit) {
            break;
        }

        ctl_archive_row(st, &c);

        if (format == CTL_CALL_FORMAT_JSON) {
            ctl_call_json(&c);

        } else if (format == CTL_CALL_FORMAT_CSV) {
            ctl_call_csv(&c);

        } else {
            ctl_call_row(t, &c);
        }
    }

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        ctl_archive_fail(CTL_EXIT_RUNTIME, "cannot read it");
    }

    sqlite3_finalize(st);

    if (format == CTL_CALL_FORMAT_JSON) {
        json_end_array();
        json_int_field("count", n);
        json_bool_field("more", rc == SQLITE_ROW);
        json_end_object();
        json_end();

    } else if (format == CTL_CALL_FORMAT_TABLE) {
        ctl_table_print(t);
        ctl_table_free(t);

        if (rc == SQLITE_ROW) {
            printf("(the newest %lld; --limit N shows more, 0 all)\n", n);
        }
    }
}


/*
 * counts per group and the latency's percentiles by nearest rank: the
 * p-th is the value at rank ceil(p * n / 100) of the group's n latencies
 * in ascending order, numbered by a window function
 */

#define REPORT_RANK(p)                                                      \
    "max(CASE WHEN rn = (n * " #p " + 99) / 100 THEN l END)"

static void
report_groups(const ctl_call_filter_t *f, const report_group_t *g,
    int format, long long limit)
{
    int            i, rc;
    char           sql[4096], where[1024], value[64];
    long long      v[7];
    const char    *text, *name;
    ctl_table_t   *t;
    sqlite3_stmt  *st;

    static const char  *heads[] = {
        "count", "ok", "denied", "error", "p50_ms", "p95_ms", "p99_ms"
    };

    report_where(f, where, sizeof(where));
    snprintf(sql, sizeof(sql),
             "WITH r AS (SELECT %s AS g, latency_ms AS l, result AS res, "
             "row_number() OVER (PARTITION BY %s ORDER BY latency_ms) AS rn, "
             "count(*) OVER (PARTITION BY %s) AS n FROM records%s) "
             "SELECT g, %s, n, sum(res = 'ok'), sum(res = 'denied'), "
             "sum(res = 'error'), " REPORT_RANK(50) ", " REPORT_RANK(95)
             ", " REPORT_RANK(99) " FROM r GROUP BY g ORDER BY %s "
             "LIMIT :limit", g->expr, g->expr, g->expr, where,
             g->expr == report_group_by[0].expr
             ? "(SELECT key_name FROM records AS k WHERE k.access_key = g "
               "ORDER BY time_ms DESC LIMIT 1)" : "NULL",
             g->kind == REPORT_TIME ? "g" : "n DESC, g");

    st = report_prepare(sql, f, limit ? limit : -1);
    t = NULL;

    if (format == CTL_CALL_FORMAT_JSON) {
        json_begin_object();
        json_str_field("group_by", g->name);
        json_key("groups");
        json_begin_array();

    } else if (format == CTL_CALL_FORMAT_CSV) {
        printf("%s,%s%s\n", g->name, g->expr == report_group_by[0].expr
               ? "name," : "", "count,ok,denied,error,p50_ms,p95_ms,p99_ms");

    } else if (g->expr == report_group_by[0].expr) {
        t = ctl_table_new(9, "KEY", "NAME", "COUNT", "OK", "DENIED", "ERROR",
                          "P50 MS", "P95 MS", "P99 MS");
    } else {
        t = ctl_table_new(8, g->heading, "COUNT", "OK", "DENIED", "ERROR",
                          "P50 MS", "P95 MS", "P99 MS");
    }

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        report_group_value(g, st, value, sizeof(value));
        text = g->kind == REPORT_TEXT
               ? (const char *) sqlite3_column_text(st, 0) : value;
        name = (const char *) sqlite3_column_text(st, 1);

        for (i = 0; i < 7; i++) {
            v[i] = sqlite3_column_int64(st, 2 + i);
        }

        if (format == CTL_CALL_FORMAT_JSON) {
            json_begin_object();
            json_key(g->name);

            if (g->kind == REPORT_INT) {
                json_int(sqlite3_column_int64(st, 0));

            } else {
                json_str(text);
            }

            if (name) {
                json_str_field("name", name);
            }

            for (i = 0; i < 7; i++) {
                json_int_field(heads[i], v[i]);
            }

            json_end_object();
            continue;
        }

        if (format == CTL_CALL_FORMAT_CSV) {
            ctl_csv_cell(text, strlen(text), 0);

            if (g->expr == report_group_by[0].expr) {
                ctl_csv_cell(name ? name : "", name ? strlen(name) : 0, 0);
            }

            printf("%lld,%lld,%lld,%lld,%lld,%lld,%lld\n", v[0], v[1], v[2],
                   v[3], v[4], v[5], v[6]);
            continue;
        }

        report_table_row(t, g, *text ? text : "-", name, v);
    }

    if (rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        ctl_archive_fail(CTL_EXIT_RUNTIME, "cannot read it");
    }

    sqlite3_finalize(st);

    if (format == CTL_CALL_FORMAT_JSON) {
        json_end_array();
        json_end_object();
        json_end();

    } else if (format == CTL_CALL_FORMAT_TABLE) {
        ctl_table_print(t);
        ctl_table_free(t);
    }
}


/* a group's value as text: a time bucket in RFC 3339, a status */

static void
report_group_value(const report_group_t *g, sqlite3_stmt *st, char *buf,
    size_t size)
{
    long long  v;

    v = sqlite3_column_int64(st, 0);

    if (g->kind == REPORT_TIME) {
        ctl_format_time(v / 1000, buf, size);

    } else {
        snprintf(buf, size, "%lld", v);
    }
}


static void
report_table_row(ctl_table_t *t, const report_group_t *g, const char *text,
    const char *name, const long long *v)
{
    int   i;
    char  n[7][24];

    for (i = 0; i < 7; i++) {
        snprintf(n[i], sizeof(n[i]), "%lld", v[i]);
    }

    if (g->expr == report_group_by[0].expr) {
        ctl_table_row(t, text, name && *name ? name : "-", n[0], n[1], n[2],
                      n[3], n[4], n[5], n[6]);

    } else {
        ctl_table_row(t, text, n[0], n[1], n[2], n[3], n[4], n[5], n[6]);
    }
}


int
ctl_records_report(int argc, char **argv)
{
    int                     opt, format;
    long long               limit;
    const char             *db, *by, *fmt;
    ctl_call_filter_t       f;
    const report_group_t  *g;

    static const struct option  options[] = {
        { "db", required_argument, NULL, 'd' },
        { "since", required_argument, NULL, 'S' },
        { "until", required_argument, NULL, 'U' },
        CTL_CALL_FILTER_OPTIONS,
        { "group-by", required_argument, NULL, 'G' },
        { "format", required_argument, NULL, 'F' },
        { "limit", required_argument, NULL, 'l' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    db = NULL;
    by = NULL;
    fmt = NULL;
    limit = -1;
    ctl_call_filter_init(&f);

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'd': db = optarg; break;
        case 'S': f.since_ms = ctl_call_time_arg("--since", optarg); break;
        case 'U': f.until_ms = ctl_call_time_arg("--until", optarg); break;
        case 'G': by = optarg; break;
        case 'F': fmt = optarg; break;
        case 'l':
            limit = ctl_call_uint_arg("--limit", optarg, 0, 1000000000000LL);
            break;
        default:
            if (ctl_call_filter_opt(&f, opt, optarg) != 0) {
                ctl_common_opt(opt, argv, report_help);
            }
        }
    }

    if (optind != argc) {
        ctl_fail(CTL_EXIT_USAGE, "unexpected argument \"%s\"; see "
                 "\"apiauth-ctl records report --help\"", argv[optind]);
    }

    if (db == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "\"records report\" needs --db FILE, the "
                 "archive \"records drain\" writes");
    }

    format = ctl.json ? CTL_CALL_FORMAT_JSON : CTL_CALL_FORMAT_TABLE;

    if (fmt) {
        format = strcmp(fmt, "json") == 0 ? CTL_CALL_FORMAT_JSON
                 : strcmp(fmt, "csv") == 0 ? CTL_CALL_FORMAT_CSV
                 : strcmp(fmt, "table") == 0 ? CTL_CALL_FORMAT_TABLE : -1;

        if (format < 0) {
            ctl_fail(CTL_EXIT_USAGE, "invalid --format \"%s\": use table, "
                     "json or csv", fmt);
        }

        if (ctl.json && format != CTL_CALL_FORMAT_JSON) {
            ctl_fail(CTL_EXIT_USAGE, "--json and --format %s contradict each "
                     "other", fmt);
        }
    }

    /* the document an error replaces is the one asked for */
    ctl.json = (format == CTL_CALL_FORMAT_JSON);

    g = NULL;

    if (by) {
        for (g = report_group_by; g->name; g++) {
            if (strcmp(g->name, by) == 0) {
                break;
            }
        }

        if (g->name == NULL) {
            ctl_fail(CTL_EXIT_USAGE, "invalid --group-by \"%s\": use key, "
                     "interface, result, reason, ip, status, minute, hour "
                     "or day", by);
        }
    }

    if (f.since_ms >= 0 && f.until_ms >= 0 && f.until_ms <= f.since_ms) {
        ctl_fail(CTL_EXIT_USAGE, "--until must be after --since");
    }

    ctl_archive_open(db, 0);

    if (g) {
        report_groups(&f, g, format, limit < 0 ? 0 : limit);

    } else {
        report_list(&f, format, limit < 0 ? REPORT_LIMIT : limit);
    }

    ctl_archive_close();

    return CTL_EXIT_OK;
}
