
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl records drain: the call records move from the stream into
 * the archive (archive.c) through a consumer group, committed before they
 * are acknowledged, acknowledged before they are trimmed (docs/records.md,
 * "drain").
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "apiauth_key.h"


#define DRAIN_BATCH       20000
#define DRAIN_BATCH_MAX   1000000
#define DRAIN_BLOCK_MS    1000      /* under the socket's 10 s timeout */

/* what one command reads or acknowledges: Redis answers nginx too */
#define DRAIN_READ        1000


typedef struct {
    const char   *group;
    const char   *consumer;
    long long     batch;
    long long     min_idle_ms;
    int           follow;
    int           tty;

    long long     archived;
    long long     duplicates;
    long long     rejects;
    long long     acked;
    long long     trimmed;
    long long     gone;
    long long     lag;               /* -1: not known */

    double        start;
    double        shown;             /* progress, when last shown */
    long long     shown_done;

    int           txn;               /* a transaction of the archive open */
    char        **ids;               /* taken into it, not acknowledged */
    size_t        nids;
} drain_t;


static long long drain_duration_arg(const char *opt, const char *s);
static void drain_names(drain_t *d, char *host, size_t size);
static size_t drain_room(drain_t *d);
static void drain_pending(drain_t *d);
static size_t drain_take(drain_t *d, redisReply *entries);
static void drain_commit(drain_t *d);
static void drain_ack(drain_t *d);
static void drain_trim(drain_t *d);
static void drain_claim(drain_t *d);
static double drain_claim_next(drain_t *d);
static void drain_progress(drain_t *d, int last);
static void drain_summary(drain_t *d);


static const char  drain_help[] =
    "usage: apiauth-ctl records drain --db FILE [--group G] [--consumer C]\n"
    "           [--batch N] [--min-idle TIME] [--follow] [--stream KEY]\n"
    "           [--json]\n"
    "\n"
    "Moves the call records from the stream KEY (default "
    APIAUTH_RECORDS_STREAM ")\n"
    "into the SQLite archive FILE, made when missing, as consumer C\n"
    "(default: the host name) of the consumer group G (default archive).\n"
    "A batch of at most N entries (default 20000) is committed to FILE,\n"
    "then acknowledged, then the stream is trimmed of what every group has\n"
    "read and acknowledged; a request id archived already is not archived\n"
    "again.  It first takes its own unacknowledged entries and those other\n"
    "consumers have left for --min-idle (default 60s; 0, 500ms, 30s, 5m,\n"
    "1h).  Without --follow it exits once it has caught up; with it, it\n"
    "waits for more until SIGTERM or SIGINT, which end it after the batch.\n";


/*
 * the drain's bookkeeping, in one step: what every group of the stream
 * needs starts at its oldest pending entry, or past its last delivered one
 * when none is pending; XTRIM MINID drops what is below the lowest.  IDs
 * compare as decimal strings, exact past 2^53.  Returns the number trimmed
 * and the lag of the group ARGV[1] (-1: not known)
 */
static const char  drain_trim_lua[] =
    "local function less(a, b)\n"
    "  local am, as = string.match(a, '^(%d+)%-(%d+)$')\n"
    "  local bm, bs = string.match(b, '^(%d+)%-(%d+)$')\n"
    "  if #am ~= #bm then return #am < #bm end\n"
    "  if am ~= bm then return am < bm end\n"
    "  if #as ~= #bs then return #as < #bs end\n"
    "  return as < bs\n"
    "end\n"
    "local min, lag = nil, -1\n"
    "for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do\n"
    "  local info = {}\n"
    "  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end\n"
    "  local keep = info['last-delivered-id']\n"
    "  local ms, seq = string.match(keep, '^(%d+)%-(%d+)$')\n"
    "  if #seq < 15 then\n"
    "    keep = ms .. '-' .. string.format('%d', tonumber(seq) + 1)\n"
    "  end\n"
    "  if info['pending'] > 0 then\n"
    "    keep = redis.call('XPENDING', KEYS[1], info['name'])[2]\n"
    "  end\n"
    "  if info['name'] == ARGV[1] and info['lag'] then lag = info['lag'] end\n"
    "  if min == nil or less(keep, min) then min = keep end\n"
    "end\n"
    "if min == nil then return {0, lag} end\n"
    "return {redis.call('XTRIM', KEYS[1], 'MINID', min), lag}\n";


/* 0, 500ms, 30s, 5m, 1h; a bare number is seconds */

static long long
drain_duration_arg(const char *opt, const char *s)
{
    char       num[16];
    size_t     n;
    long long  v, unit;

    n = strspn(s, "0123456789");
    unit = strcmp(s + n, "ms") == 0 ? 1
           : (strcmp(s + n, "s") == 0 || s[n] == '\0') ? 1000
           : strcmp(s + n, "m") == 0 ? 60000
           : strcmp(s + n, "h") == 0 ? 3600000 : 0;

    if (n == 0 || n >= sizeof(num) || unit == 0) {
        ctl_fail(CTL_EXIT_USAGE, "invalid %s \"%s\": use a duration such as "
                 "0, 500ms, 30s, 5m or 1h", opt, s);
    }

    memcpy(num, s, n);
    num[n] = '\0';
    ctl_parse_uint(num, 999999999, &v);

    return v * unit;
}


int
ctl_records_drain(int argc, char **argv)
{
    int          opt;
    char         host[256];
    size_t       n, got;
    double       claim;
    const char  *db;
    redisReply  *r, *entries;
    drain_t      d;

    static const struct option  options[] = {
        { "db", required_argument, NULL, 'd' },
        { "group", required_argument, NULL, 'g' },
        { "consumer", required_argument, NULL, 'c' },
        { "batch", required_argument, NULL, 'b' },
        { "min-idle", required_argument, NULL, 'i' },
        { "follow", no_argument, NULL, 'f' },
        { "stream", required_argument, NULL, 'K' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&d, 0, sizeof(drain_t));
    d.group = "archive";
    d.batch = DRAIN_BATCH;
    d.min_idle_ms = 60000;
    d.lag = -1;
    db = NULL;

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'd': db = optarg; break;
        case 'g': d.group = optarg; break;
        case 'c': d.consumer = optarg; break;
        case 'b':
            d.batch = ctl_call_uint_arg("--batch", optarg, 1,
                                        DRAIN_BATCH_MAX);
            break;
        case 'i':
            d.min_idle_ms = drain_duration_arg("--min-idle", optarg);
            break;
        case 'f': d.follow = 1; break;
        case 'K': ctl_call_stream_arg(optarg); break;
        default: ctl_common_opt(opt, argv, drain_help);
        }
    }

    if (optind != argc) {
        ctl_fail(CTL_EXIT_USAGE, "unexpected argument \"%s\"; see "
                 "\"apiauth-ctl records drain --help\"", argv[optind]);
    }

    if (db == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "\"records drain\" needs --db FILE, the "
                 "archive to write");
    }

    drain_names(&d, host, sizeof(host));

    ctl_redis_connect();
    ctl_archive_open(db, 1);

    /* from the stream's first entry: a new group archives all there is */

    r = ctl_redis_reply("XGROUP CREATE %s %s 0 MKSTREAM",
                        ctl_call_stream, d.group);

    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
        ctl_fail_reply(r, CTL_EXIT_RUNTIME, "cannot make the consumer group "
                       "\"%s\" of %s at %s: %s", d.group, ctl_call_stream,
                       ctl.addr, r->str);
    }

    freeReplyObject(r);

    ctl_call_signals();
    d.ids = ctl_alloc(d.batch * sizeof(char *));
    d.tty = isatty(STDERR_FILENO);
    d.start = ctl_call_clock();
    d.shown = d.start;

    drain_pending(&d);
    drain_claim(&d);
    claim = drain_claim_next(&d);

    /*
     * new entries: a transaction takes up to --batch of them, read a
     * thousand at a time, and is committed when full or when the stream
     * has no more; --follow blocks only with nothing taken
     */

    while (!ctl_call_stop) {
        if (d.follow && d.nids == 0 && ctl_call_clock() >= claim) {
            drain_claim(&d);
            claim = drain_claim_next(&d);
        }

        n = drain_room(&d);

        r = d.follow && d.nids == 0
            ? ctl_redis_cmd("XREADGROUP GROUP %s %s COUNT %lld BLOCK %d "
                            "STREAMS %s >", d.group, d.consumer,
                            (long long) n, DRAIN_BLOCK_MS,
                            ctl_call_stream)
            : ctl_redis_cmd("XREADGROUP GROUP %s %s COUNT %lld STREAMS %s >",
                            d.group, d.consumer, (long long) n,
                            ctl_call_stream);
        ctl_call_reply = r;
        entries = ctl_call_entries(r);
        got = entries ? drain_take(&d, entries) : 0;
        freeReplyObject(r);
        ctl_call_reply = NULL;

        if (got < n || d.nids == (size_t) d.batch) {
            drain_commit(&d);
        }

        if (got == 0 && !d.follow) {
            break;
        }
    }

    /* a signal ends it here, with what it took committed */
    drain_commit(&d);

    /* what other groups have read since */
    drain_trim(&d);
    drain_progress(&d, 1);
    ctl_archive_close();
    free(d.ids);
    drain_summary(&d);

    return CTL_EXIT_OK;
}


/* --group, and --consumer or the host name, as names Redis is given */

static void
drain_names(drain_t *d, char *host, size_t size)
{
    if (d->consumer == NULL) {
        if (gethostname(host, size) != 0) {
            host[0] = '\0';
        }

        host[size - 1] = '\0';
        d->consumer = host;
    }

    if (apiauth_plain_name_check((const unsigned char *) d->group,
                                 strlen(d->group)) != 0)
    {
        ctl_fail(CTL_EXIT_USAGE, "invalid --group \"%s\": use "
                 APIAUTH_PLAIN_NAME_RULE, d->group);
    }

    if (apiauth_plain_name_check((const unsigned char *) d->consumer,
                                 strlen(d->consumer)) != 0)
    {
        ctl_fail(CTL_EXIT_USAGE, d->consumer == host
                 ? "the host name \"%s\" is not a consumer name: give "
                   "--consumer C, " APIAUTH_PLAIN_NAME_RULE
                 : "invalid --consumer \"%s\": use " APIAUTH_PLAIN_NAME_RULE,
                 d->consumer);
    }
}


/*
 * this consumer's own entries, read and not acknowledged by a run that
 * died: from ID 0, the group gives its pending ones again
 */

static void
drain_pending(drain_t *d)
{
    char         after[64];
    redisReply  *r, *entries;

    strcpy(after, "0");

    while (!ctl_call_stop) {
        r = ctl_redis_cmd("XREADGROUP GROUP %s %s COUNT %lld STREAMS %s %s",
                          d->group, d->consumer, (long long) drain_room(d),
                          ctl_call_stream, after);
        ctl_call_reply = r;
        entries = ctl_call_entries(r);

        if (entries == NULL || entries->elements == 0) {
            break;
        }

        drain_take(d, entries);
        snprintf(after, sizeof(after), "%s", d->ids[d->nids - 1]);
        freeReplyObject(r);
        ctl_call_reply = NULL;

        if (drain_room(d) == 0) {
            drain_commit(d);
        }
    }

    freeReplyObject(ctl_call_reply);
    ctl_call_reply = NULL;

    drain_commit(d);
}


/* what the next read may take: the batch's room, a thousand at most */

static size_t
drain_room(drain_t *d)
{
    size_t  room;

    room = (size_t) d->batch - d->nids;

    return room < DRAIN_READ ? room : DRAIN_READ;
}


/*
 * the entries into the archive's open transaction, their IDs kept for
 * the acknowledgement that follows its commit: a drain killed in between
 * finds them pending again, and their request ids make the second insert
 * a no-op; returns the number of entries
 */

static size_t
drain_take(drain_t *d, redisReply *entries)
{
    size_t       i;
    ctl_call_t   c;
    const char  *why, *id;
    redisReply  *e;

    if (entries->elements && !d->txn) {
        ctl_archive_begin();
        d->txn = 1;
    }

    for (i = 0; i < entries->elements; i++) {
        e = entries->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
            || e->element[0]->type != REDIS_REPLY_STRING)
        {
            ctl_fail(CTL_EXIT_RUNTIME, "Redis at %s sent an entry of %s "
                     "that is not one", ctl.addr, ctl_call_stream);
        }

        id = e->element[0]->str;
        d->ids[d->nids++] = ctl_strdup(id);

        /* pending, then deleted: there is nothing left to archive */

        if (e->element[1]->type != REDIS_REPLY_ARRAY) {
            d->gone++;
            continue;
        }

        why = ctl_call_parse(&c, id, e->element[1]);

        if (why) {
            ctl_archive_reject(id, why, e->element[1]);
            d->rejects++;

        } else if (ctl_archive_put(&c)) {
            d->archived++;

        } else {
            d->duplicates++;
        }
    }

    return entries->elements;
}


/* commit, acknowledge, trim: in this order, never another */

static void
drain_commit(drain_t *d)
{
    size_t  i;

    if (d->txn) {
        ctl_archive_commit();
        d->txn = 0;
    }

    if (d->nids == 0) {
        return;
    }

    drain_ack(d);

    for (i = 0; i < d->nids; i++) {
        free(d->ids[i]);
    }

    d->nids = 0;

    drain_trim(d);
    drain_progress(d, 0);
}


static void
drain_ack(drain_t *d)
{
    size_t        i, n, k, *lens;
    const char  **argv;
    redisReply   *r;

    argv = ctl_alloc((DRAIN_READ + 3) * sizeof(char *));
    lens = ctl_alloc((DRAIN_READ + 3) * sizeof(size_t));

    argv[0] = "XACK";
    argv[1] = ctl_call_stream;
    argv[2] = d->group;

    for (i = 0; i < d->nids; i += n) {
        n = d->nids - i < DRAIN_READ ? d->nids - i : DRAIN_READ;

        for (k = 0; k < n + 3; k++) {
            argv[k] = k < 3 ? argv[k] : d->ids[i + k - 3];
            lens[k] = strlen(argv[k]);
        }

        r = redisCommandArgv(ctl.rc, (int) n + 3, argv, lens);

        if (r == NULL) {
            ctl_fail(CTL_EXIT_RUNTIME, "lost the connection to Redis at %s: "
                     "%s", ctl.addr, ctl.rc->errstr);
        }

        if (r->type != REDIS_REPLY_INTEGER) {
            ctl_fail_reply(r, CTL_EXIT_RUNTIME, "Redis at %s refused XACK: "
                           "%s", ctl.addr,
                           r->type == REDIS_REPLY_ERROR ? r->str : "");
        }

        d->acked += r->integer;
        freeReplyObject(r);
    }

    free(argv);
    free(lens);
}


static void
drain_trim(drain_t *d)
{
    redisReply  *r;

    r = ctl_redis_cmd("EVAL %s 1 %s %s", drain_trim_lua,
                      ctl_call_stream, d->group);

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[0]->type == REDIS_REPLY_INTEGER
        && r->element[1]->type == REDIS_REPLY_INTEGER)
    {
        d->trimmed += r->element[0]->integer;
        d->lag = r->element[1]->integer;
    }

    freeReplyObject(r);
}


/*
 * the entries other consumers of the group took and have left alone for
 * --min-idle: a consumer that died with them (XAUTOCLAIM, Redis 6.2)
 */

static void
drain_claim(drain_t *d)
{
    char         start[64];
    redisReply  *r;

    strcpy(start, "0-0");

    do {
        r = ctl_redis_cmd("XAUTOCLAIM %s %s %s %lld %s COUNT %lld",
                          ctl_call_stream, d->group, d->consumer,
                          d->min_idle_ms, start, (long long) drain_room(d));
        ctl_call_reply = r;

        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
            || r->element[0]->type != REDIS_REPLY_STRING
            || r->element[1]->type != REDIS_REPLY_ARRAY)
        {
            ctl_fail(CTL_EXIT_RUNTIME, "Redis at %s answered XAUTOCLAIM "
                     "with something else than entries", ctl.addr);
        }

        snprintf(start, sizeof(start), "%s", r->element[0]->str);

        /* Redis 7 names the pending entries it found deleted, and drops */
        if (r->elements > 2 && r->element[2]->type == REDIS_REPLY_ARRAY) {
            d->gone += r->element[2]->elements;
        }

        drain_take(d, r->element[1]);
        freeReplyObject(r);
        ctl_call_reply = NULL;

        if (drain_room(d) == 0) {
            drain_commit(d);
        }

    } while (strcmp(start, "0-0") != 0 && !ctl_call_stop);

    drain_commit(d);
}


/*
 * --follow looks for a dead consumer's entries again every --min-idle,
 * within 1 s to 1 min
 */

static double
drain_claim_next(drain_t *d)
{
    long long  ms;

    ms = d->min_idle_ms < 1000 ? 1000
         : d->min_idle_ms > 60000 ? 60000 : d->min_idle_ms;

    return ctl_call_clock() + ms / 1000.0;
}


/* on a terminal, once a second */

static void
drain_progress(drain_t *d, int last)
{
    char       lag[32];
    double     now, secs;
    long long  done;

    if (!d->tty) {
        return;
    }

    now = ctl_call_clock();

    if (!last && now - d->shown < 1.0) {
        return;
    }

    done = d->archived + d->duplicates + d->rejects;
    secs = last ? now - d->start : now - d->shown;
    snprintf(lag, sizeof(lag), d->lag < 0 ? "unknown" : "%lld", d->lag);

    fprintf(stderr, "\rrecords drain: %lld entries, %.0f/s, lag %s   %s",
            done, secs > 0 ? (done - (last ? 0 : d->shown_done)) / secs : 0,
            lag, last ? "\n" : "");

    d->shown = now;
    d->shown_done = done;
}


static void
drain_summary(drain_t *d)
{
    double  secs;

    secs = ctl_call_clock() - d->start;

    if (d->rejects) {
        ctl_warn("%lld entries without a request id or of another version "
                 "are kept in the archive's rejects table", d->rejects);
    }

    if (d->gone) {
        ctl_warn("%lld pending entries were deleted from the stream before "
                 "they were archived", d->gone);
    }

    if (!ctl.json) {
        printf("archived %lld records (%lld duplicates, %lld rejects), "
               "acknowledged %lld and trimmed %lld entries in %.2f s\n",
               d->archived, d->duplicates, d->rejects, d->acked, d->trimmed,
               secs);
        return;
    }

    json_begin_object();
    json_int_field("archived", d->archived);
    json_int_field("duplicates", d->duplicates);
    json_int_field("rejects", d->rejects);
    json_int_field("gone", d->gone);
    json_int_field("acked", d->acked);
    json_int_field("trimmed", d->trimmed);
    json_int_field("seconds", (long long) (secs + 0.5));
    json_int_field("milliseconds", (long long) (secs * 1000 + 0.5));
    json_end_object();
    json_end();
}


