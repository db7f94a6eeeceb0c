
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl records: the call records nginx appends to the stream
 * {apiauth}:records (docs/records.md), as entries, filtered and shown.
 * "drain" (drain.c) moves them into an SQLite archive (archive.c), which
 * "report" (report.c) reads; "tail" (tail.c) shows the newest.
 */


#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "apiauth_key.h"


static void records_usage(void);
static void records_on_signal(int signo);
static int records_number(const ctl_call_t *c, int f, long long max,
    long long *v);
static char *records_cells(const ctl_call_t *c, char buf[3][40],
    const char **cells);


volatile sig_atomic_t  ctl_call_stop;

/* nginx's apiauth_records stream=, when not the default */
const char  *ctl_call_stream = APIAUTH_RECORDS_STREAM;

/* the reply being read, reachable from here whatever fails */
redisReply  *ctl_call_reply;


static const char  records_help[] =
    "usage: apiauth-ctl records COMMAND [ARGS] [--json]\n"
    "\n"
    "nginx appends a record of every call to the stream "
    APIAUTH_RECORDS_STREAM ";\n"
    "these commands archive them into SQLite, report on the archive and\n"
    "show the newest (docs/records.md).\n"
    "\n"
    "commands:\n"
    "  drain --db FILE [--group G] [--consumer C] [--batch N]\n"
    "        [--min-idle TIME] [--follow]\n"
    "  report --db FILE [--since TIME] [--until TIME] [FILTERS]\n"
    "        [--group-by key|interface|result|reason|ip|status|minute|hour|"
    "day]\n"
    "        [--format table|json|csv] [--limit N]\n"
    "  tail [--follow] [--count N] [FILTERS]\n"
    "\n"
    "FILTERS: [--result ok|denied|error] [--reason REASON] [--key AK]\n"
    "         [--interface IF] [--ip IP|CIDR] [--status CODE|Nxx]\n"
    "drain and tail take --stream KEY where nginx's apiauth_records names\n"
    "another stream than " APIAUTH_RECORDS_STREAM ".\n";

static const ctl_cmd_t  records_cmds[] = {
    { "drain", ctl_records_drain },
    { "report", ctl_records_report },
    { "tail", ctl_records_tail },
    { NULL, NULL }
};


int
do_records(int argc, char **argv)
{
    return ctl_dispatch(records_cmds, "records", argc - 1, argv + 1,
                        records_usage);
}


static void
records_usage(void)
{
    ctl_help_exit(records_help);
}


double
ctl_call_clock(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void
records_on_signal(int signo)
{
    (void) signo;

    ctl_call_stop = 1;
}


/* SIGTERM and SIGINT end a loop after what it is doing */

void
ctl_call_signals(void)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(struct sigaction));
    sa.sa_handler = records_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}


/* --stream KEY: a Redis key name, printable */

void
ctl_call_stream_arg(const char *s)
{
    if (apiauth_key_name_check((const unsigned char *) s, strlen(s)) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid --stream \"%s\": use "
                 APIAUTH_KEY_NAME_RULE, s);
    }

    ctl_call_stream = s;
}


/* filters */

void
ctl_call_filter_init(ctl_call_filter_t *f)
{
    memset(f, 0, sizeof(ctl_call_filter_t));
    f->since_ms = -1;
    f->until_ms = -1;
}


/* 0: the option was a filter's; -1: it is someone else's */

int
ctl_call_filter_opt(ctl_call_filter_t *f, int opt, const char *arg)
{
    size_t     n;
    long long  v;

    switch (opt) {

    case 'r':
        if (strcmp(arg, "ok") != 0 && strcmp(arg, "denied") != 0
            && strcmp(arg, "error") != 0)
        {
            ctl_fail(CTL_EXIT_USAGE, "invalid --result \"%s\": use ok, "
                     "denied or error", arg);
        }

        f->result = arg;
        return 0;

    case 'R':
        n = strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_;");

        if (n == 0 || n > 64 || arg[n] != '\0') {
            ctl_fail(CTL_EXIT_USAGE, "invalid --reason \"%s\": use a reason "
                     "code such as bad_signature (docs/errors.md)", arg);
        }

        f->reason = arg;
        return 0;

    case 'k':
        f->key = ctl_access_key_arg(arg);
        return 0;

    case 'I':
        if (apiauth_plain_name_check((const unsigned char *) arg,
                                     strlen(arg)) != 0)
        {
            ctl_fail(CTL_EXIT_USAGE, "invalid --interface \"%s\": use "
                     APIAUTH_PLAIN_NAME_RULE, arg);
        }

        f->interface = arg;
        return 0;

    case 'P':
        if (apiauth_ip_parse((const unsigned char *) arg, strlen(arg), &f->ip)
            != 0)
        {
            ctl_fail(CTL_EXIT_USAGE, "invalid --ip \"%s\": use "
                     APIAUTH_IP_RULE, arg);
        }

        f->ip_text = arg;
        return 0;

    case 's':
        n = strlen(arg);

        if (n == 3 && arg[0] >= '1' && arg[0] <= '5'
            && (arg[1] == 'x' || arg[1] == 'X')
            && (arg[2] == 'x' || arg[2] == 'X'))
        {
            f->status_min = (arg[0] - '0') * 100;
            f->status_max = f->status_min + 99;
            return 0;
        }

        if (ctl_parse_uint(arg, 999, &v) != 0 || v < 100 || v > 599) {
            ctl_fail(CTL_EXIT_USAGE, "invalid --status \"%s\": use a status "
                     "from 100 to 599, or a class such as 4xx", arg);
        }

        f->status_min = (int) v;
        f->status_max = (int) v;
        return 0;

    default:
        return -1;
    }
}


/*
 * TIME in milliseconds: what ctl_parse_time() reads (with the fraction of
 * RFC 3339 kept), or a time ago, "-15m"; "15m" is refused, as it would be
 * from now
 */

long long
ctl_call_time_arg(const char *opt, const char *s)
{
    size_t           n, i;
    long long        t, now;
    const char      *p;
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;

    n = strlen(s);
    p = s[0] == '-' ? s + 1 : s;

    if (n >= 2 && strchr("smhdw", s[n - 1]) != NULL
        && strspn(p, "0123456789") == (size_t) (s + n - 1 - p)
        && s + n - 1 > p)
    {
        if (p == s || ctl_parse_time(p, 0, &t) != 0) {
            ctl_fail(CTL_EXIT_USAGE, "invalid %s \"%s\": a time ago is "
                     "written -%s", opt, s, p == s ? s : "15m");
        }

        t = now - t * 1000;

        return t > 0 ? t : 0;
    }

    if (strcmp(s, "now") == 0) {
        return now;
    }

    if (s[0] == '-' || ctl_parse_time(s, ts.tv_sec, &t) != 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid %s \"%s\": use RFC 3339, unix "
                 "seconds, now, or a time ago such as -15m", opt, s);
    }

    t *= 1000;

    /* the milliseconds of an RFC 3339 fraction */

    p = strchr(s, '.');

    if (p && strpbrk(s, "Tt ") != NULL) {
        for (i = 0, n = 100; i < 3 && p[1 + i] >= '0' && p[1 + i] <= '9'; i++)
        {
            t += (p[1 + i] - '0') * (long long) n;
            n /= 10;
        }
    }

    return t;
}


long long
ctl_call_uint_arg(const char *opt, const char *s, long long min,
    long long max)
{
    long long  v;

    if (ctl_parse_uint(s, max, &v) != 0 || v < min) {
        ctl_fail(CTL_EXIT_USAGE, "invalid %s \"%s\": use a number from %lld "
                 "to %lld", opt, s, min, max);
    }

    return v;
}


/* the call's address is in e: an address, a network, a wildcard */

int
ctl_call_ip_in(const apiauth_ip_entry_t *e, const char *ip, size_t len)
{
    apiauth_ip_entry_t  a;

    if (apiauth_ip_parse((const unsigned char *) ip, len, &a) != 0
        || a.kind != APIAUTH_IP_ADDR)
    {
        return 0;
    }

    return apiauth_ip_match(e, a.family, a.addr);
}


/* an entry of the stream */

static int
records_number(const ctl_call_t *c, int f, long long max, long long *v)
{
    if (c->len[f] == 0 || c->len[f] != strlen(c->text[f])) {
        return -1;
    }

    return ctl_parse_uint(c->text[f], max, v);
}


/*
 * NULL, or why the entry cannot be archived by its request id; every
 * field is set anyway, for tail: "" where absent, -1 for a number that is
 * not one, the time the stream took the entry for a time that is not one
 */

const char *
ctl_call_parse(ctl_call_t *c, const char *id, const redisReply *fields)
{
    int          f, seen, bad_time;
    size_t       k;
    const char  *rid;
    redisReply  *name, *value;

    memset(c, 0, sizeof(ctl_call_t));
    c->stream_id = id;
    seen = 0;

    for (k = 0; k + 1 < fields->elements; k += 2) {
        name = fields->element[k];
        value = fields->element[k + 1];

        if (name->type != REDIS_REPLY_STRING
            || value->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        /* the first of a repeated field; unknown fields are ignored */

        for (f = 0; f < APIAUTH_CALL_NFIELDS; f++) {
            if (!(seen & (1 << f))
                && strcmp(name->str, apiauth_call_fields[f]) == 0)
            {
                c->text[f] = value->str;
                c->len[f] = value->len;
                seen |= 1 << f;
                break;
            }
        }
    }

    for (f = 0; f < APIAUTH_CALL_NFIELDS; f++) {
        if (c->text[f] == NULL) {
            c->text[f] = "";
        }
    }

    bad_time = records_number(c, APIAUTH_CALL_TIME, 99999999999999LL,
                              &c->time_ms);
    if (bad_time) {
        c->time_ms = atoll(id);
    }

    c->status = c->latency_ms = c->bytes = -1;
    records_number(c, APIAUTH_CALL_STATUS, 999, &c->status);
    records_number(c, APIAUTH_CALL_RT, 999999999999LL, &c->latency_ms);
    records_number(c, APIAUTH_CALL_BYTES, 999999999999999LL, &c->bytes);

    rid = c->text[APIAUTH_CALL_ID];

    if (!(seen & (1 << APIAUTH_CALL_VERSION))) {
        return "no version (v)";
    }

    if (strcmp(c->text[APIAUTH_CALL_VERSION],
               CTL_XSTR(APIAUTH_RECORDS_VERSION)) != 0)
    {
        return "a version (v) other than " CTL_XSTR(APIAUTH_RECORDS_VERSION);
    }

    if (!(seen & (1 << APIAUTH_CALL_ID))) {
        return "no request id (id)";
    }

    if (c->len[APIAUTH_CALL_ID] != 32
        || strspn(rid, "0123456789abcdefABCDEF") != 32)
    {
        return "a request id (id) that is not 32 hex digits";
    }

    return bad_time ? "a time (t) that is not unix milliseconds"
           : c->status < 0 ? "a status that is not a number"
           : c->latency_ms < 0 ? "a request time (rt) that is not a number"
           : c->bytes < 0 ? "bytes that are not a number" : NULL;
}


int
ctl_call_match(const ctl_call_filter_t *f, const ctl_call_t *c)
{
    size_t       n;
    const char  *reason;

    if (f->reason) {
        reason = c->text[APIAUTH_CALL_REASON];
        n = strlen(f->reason);

        /* "ok" is also "ok;stale" */
        if (strncmp(reason, f->reason, n) != 0
            || (reason[n] != '\0' && reason[n] != ';'))
        {
            return 0;
        }
    }

    return (f->result == NULL
            || strcmp(c->text[APIAUTH_CALL_RESULT], f->result) == 0)
           && (f->key == NULL || strcmp(c->text[APIAUTH_CALL_AK], f->key) == 0)
           && (f->interface == NULL
               || strcmp(c->text[APIAUTH_CALL_INTERFACE], f->interface) == 0)
           && (f->status_min == 0
               || (c->status >= f->status_min && c->status <= f->status_max))
           && (f->ip_text == NULL
               || ctl_call_ip_in(&f->ip, c->text[APIAUTH_CALL_IP],
                                 c->len[APIAUTH_CALL_IP]))
           && (f->since_ms < 0 || c->time_ms >= f->since_ms)
           && (f->until_ms < 0 || c->time_ms < f->until_ms);
}


/* output: RFC 3339 in UTC with milliseconds */

void
ctl_call_time(long long ms, char *buf, size_t size)
{
    time_t     t;
    size_t     n;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (gmtime_r(&t, &tm) == NULL
        || (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
    {
        snprintf(buf, size, "%lld", ms);
        return;
    }

    snprintf(buf + n, size - n, ".%03dZ", (int) (ms % 1000));
}


#define records_json_text(key, c, f)                                        \
    json_key(key);                                                           \
    json_strn((c)->text[f], (c)->len[f])

#define records_json_number(key, v)                                          \
    json_key(key);                                                           \
    if ((v) >= 0) { json_int(v); } else { json_null(); }

void
ctl_call_json(const ctl_call_t *c)
{
    char  time[40];

    ctl_call_time(c->time_ms, time, sizeof(time));

    json_begin_object();
    records_json_text("request_id", c, APIAUTH_CALL_ID);
    json_str_field("time", time);
    json_int_field("time_ms", c->time_ms);
    records_json_text("access_key", c, APIAUTH_CALL_AK);
    records_json_text("key_name", c, APIAUTH_CALL_NAME);
    records_json_text("ip", c, APIAUTH_CALL_IP);
    records_json_text("method", c, APIAUTH_CALL_METHOD);
    records_json_text("path", c, APIAUTH_CALL_PATH);
    records_json_text("interface", c, APIAUTH_CALL_INTERFACE);
    records_json_text("app", c, APIAUTH_CALL_APP);
    records_json_number("status", c->status);
    records_json_text("result", c, APIAUTH_CALL_RESULT);
    records_json_text("reason", c, APIAUTH_CALL_REASON);
    records_json_number("latency_ms", c->latency_ms);
    records_json_number("bytes", c->bytes);
    records_json_text("server", c, APIAUTH_CALL_SERVER);
    records_json_text("node", c, APIAUTH_CALL_NODE);
    json_str_field("stream_id", c->stream_id);
    json_end_object();
}


/* what people see of a call */

static const char  *records_headings[] = {
    "TIME", "IP", "KEY", "INTERFACE", "STATUS", "RESULT", "REASON", "MS",
    "REQUEST"
};

#define RECORDS_NCELLS                                                       \
    (sizeof(records_headings) / sizeof(records_headings[0]))

#define records_or_dash(c, f)                                                \
    ((c)->len[f] ? (c)->text[f] : "-")

/* returns the request's text, the caller's to free */

static char *
records_cells(const ctl_call_t *c, char buf[3][40], const char **cells)
{
    char    *req;
    size_t   m, p;

    ctl_call_time(c->time_ms, buf[0], 40);
    snprintf(buf[1], 40, c->status >= 0 ? "%lld" : "-", c->status);
    snprintf(buf[2], 40, c->latency_ms >= 0 ? "%lld" : "-", c->latency_ms);

    m = strlen(c->text[APIAUTH_CALL_METHOD]);
    p = strlen(c->text[APIAUTH_CALL_PATH]);
    req = ctl_alloc(m + p + 2);
    memcpy(req, c->text[APIAUTH_CALL_METHOD], m);
    req[m] = ' ';
    memcpy(req + m + 1, c->text[APIAUTH_CALL_PATH], p);

    cells[0] = buf[0];
    cells[1] = records_or_dash(c, APIAUTH_CALL_IP);
    cells[2] = records_or_dash(c, APIAUTH_CALL_AK);
    cells[3] = records_or_dash(c, APIAUTH_CALL_INTERFACE);
    cells[4] = buf[1];
    cells[5] = records_or_dash(c, APIAUTH_CALL_RESULT);
    cells[6] = records_or_dash(c, APIAUTH_CALL_REASON);
    cells[7] = buf[2];
    cells[8] = req;

    return req;
}


/* report's table: the columns of tail's lines, aligned on what is there */

ctl_table_t *
ctl_call_table(void)
{
    const char  **h;

    h = records_headings;

    return ctl_table_new(RECORDS_NCELLS, h[0], h[1], h[2], h[3], h[4], h[5],
                         h[6], h[7], h[8]);
}


void
ctl_call_row(ctl_table_t *t, const ctl_call_t *c)
{
    char         buf[3][40], *req;
    const char  *v[RECORDS_NCELLS];

    req = records_cells(c, buf, v);
    ctl_table_row(t, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    free(req);
}


/*
 * a call on a line of its own, as tail's come one at a time: columns of a
 * fixed width at least, the request last, as it has none; NULL: headings
 */

void
ctl_call_line(const ctl_call_t *c)
{
    char         buf[3][40], *req, *text;
    size_t       i, n, w;
    const char  *v[RECORDS_NCELLS];

    static const size_t  widths[RECORDS_NCELLS] = {
        24, 15, 20, 12, 6, 6, 20, 5, 0
    };

    req = c ? records_cells(c, buf, v) : NULL;

    for (i = 0; i < RECORDS_NCELLS; i++) {
        text = ctl_escape_dup(c ? v[i] : records_headings[i],
                              strlen(c ? v[i] : records_headings[i]));
        fputs(text, stdout);

        if (i == RECORDS_NCELLS - 1) {
            break;
        }

        /* a column a character, not a byte */
        for (n = 0, w = 0; text[n]; n++) {
            w += ((unsigned char) text[n] & 0xc0) != 0x80;
        }

        printf("%*s", (int) (w < widths[i] ? widths[i] - w + 2 : 2), "");
        free(text);
    }

    fputc('\n', stdout);
    free(text);
    free(req);
}


static const char  records_csv_header[] =
    "request_id,time,time_ms,access_key,key_name,ip,method,path,interface,"
    "app,status,result,reason,latency_ms,bytes,server,node,stream_id\n";

void
ctl_call_csv_header(void)
{
    fputs(records_csv_header, stdout);
}


/* RFC 4180, of the text escaped as people see it: no line breaks in it */

void
ctl_csv_cell(const char *s, size_t len, int last)
{
    char  *text, *p;

    text = ctl_escape_dup(s, len);

    if (strpbrk(text, ",\"") == NULL) {
        fputs(text, stdout);

    } else {
        putchar('"');

        for (p = text; *p; p++) {
            if (*p == '"') {
                putchar('"');
            }

            putchar(*p);
        }

        putchar('"');
    }

    putchar(last ? '\n' : ',');
    free(text);
}


void
ctl_call_csv(const ctl_call_t *c)
{
    int   f;
    char  time[40];

    ctl_call_time(c->time_ms, time, sizeof(time));

    for (f = APIAUTH_CALL_ID; f < APIAUTH_CALL_NFIELDS; f++) {
        if (f == APIAUTH_CALL_TIME) {
            printf("%s,%lld,", time, c->time_ms);

        } else if (f == APIAUTH_CALL_STATUS || f == APIAUTH_CALL_RT
                   || f == APIAUTH_CALL_BYTES)
        {
            printf("%lld,", f == APIAUTH_CALL_STATUS ? c->status
                            : f == APIAUTH_CALL_RT ? c->latency_ms
                            : c->bytes);

        } else {
            ctl_csv_cell(c->text[f], c->len[f], 0);
        }
    }

    ctl_csv_cell(c->stream_id, strlen(c->stream_id), 1);
}


/* the entries of an XREAD or XREADGROUP reply, or NULL */

redisReply *
ctl_call_entries(redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1
        || r->element[0]->type != REDIS_REPLY_ARRAY
        || r->element[0]->elements != 2
        || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NULL;
    }

    return r->element[0]->element[1];
}
