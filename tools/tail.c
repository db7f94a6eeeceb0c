
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * apiauth-ctl records tail: the newest call records of the stream, read
 * without a consumer group, so without consuming them (docs/records.md,
 * "tail").
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"


#define TAIL_COUNT      10
#define TAIL_BLOCK_MS   1000      /* under the socket's 10 s timeout */


static void tail_print(const ctl_call_filter_t *f, redisReply *e,
    int lines);


static const char  tail_help[] =
    "usage: apiauth-ctl records tail [--follow] [--count N] [--stream KEY]\n"
    "           [--result ok|denied|error] [--reason REASON] [--key AK]\n"
    "           [--interface IF] [--ip IP|CIDR] [--status CODE|Nxx] "
    "[--json]\n"
    "\n"
    "The newest N (default 10) call records in the stream that pass the\n"
    "filters, oldest first, read without consuming them; --follow then\n"
    "shows each new one as it comes (with --json one document a line).\n"
    "--reason ok also selects ok;stale.  --status 404, or 4xx for 400-499.\n"
    "--ip: an address or a network, IPv4 or IPv6 (10.0.0.0/8, "
    "2001:db8::/32).\n";


static void
tail_print(const ctl_call_filter_t *f, redisReply *e, int lines)
{
    ctl_call_t  c;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING
        || e->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return;
    }

    ctl_call_parse(&c, e->element[0]->str, e->element[1]);

    if (!ctl_call_match(f, &c)) {
        return;
    }

    if (!ctl.json) {
        ctl_call_line(&c);
        return;
    }

    ctl_call_json(&c);

    if (lines) {
        json_end();
    }
}


int
ctl_records_tail(int argc, char **argv)
{
    int                 opt, follow, kept;
    char                end[64], last[64];
    size_t              i, n, npages;
    long long           count, page;
    ctl_call_t          c;
    redisReply         *r, *e, **pages, **found;
    ctl_call_filter_t   f;

    static const struct option  options[] = {
        { "follow", no_argument, NULL, 'f' },
        { "count", required_argument, NULL, 'n' },
        { "stream", required_argument, NULL, 'K' },
        CTL_CALL_FILTER_OPTIONS,
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    follow = 0;
    count = TAIL_COUNT;
    ctl_call_filter_init(&f);

    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': follow = 1; break;
        case 'K': ctl_call_stream_arg(optarg); break;
        case 'n':
            count = ctl_call_uint_arg("--count", optarg, 0, 100000);
            break;
        default:
            if (ctl_call_filter_opt(&f, opt, optarg) != 0) {
                ctl_common_opt(opt, argv, tail_help);
            }
        }
    }

    if (optind != argc) {
        ctl_fail(CTL_EXIT_USAGE, "unexpected argument \"%s\"; see "
                 "\"apiauth-ctl records tail --help\"", argv[optind]);
    }

    ctl_redis_connect();

    /*
     * newest first, a page at a time, until count pass the filters; only
     * the pages that hold one are kept.  --follow goes on after the
     * newest entry there was, not after "$", which may have moved since
     */

    found = ctl_alloc((count + 1) * sizeof(redisReply *));
    pages = ctl_alloc((count + 1) * sizeof(redisReply *));
    page = count == 0 ? 1 : count < 100 ? 100 : count > 1000 ? 1000 : count;
    strcpy(end, "+");
    strcpy(last, "0-0");
    n = 0;
    npages = 0;

    for ( ;; ) {
        r = ctl_redis_cmd("XREVRANGE %s %s - COUNT %lld",
                          ctl_call_stream, end, page);

        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            break;
        }

        kept = 0;
        e = r->element[0];

        if (strcmp(end, "+") == 0 && e->type == REDIS_REPLY_ARRAY
            && e->elements == 2)
        {
            snprintf(last, sizeof(last), "%s", e->element[0]->str);
        }

        for (i = 0; i < r->elements && n < (size_t) count; i++) {
            e = r->element[i];

            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
                || e->element[0]->type != REDIS_REPLY_STRING
                || e->element[1]->type != REDIS_REPLY_ARRAY)
            {
                continue;
            }

            ctl_call_parse(&c, e->element[0]->str, e->element[1]);

            if (ctl_call_match(&f, &c)) {
                found[n++] = e;
                kept = 1;
            }
        }

        e = r->element[r->elements - 1];
        snprintf(end, sizeof(end), "(%s", e->type == REDIS_REPLY_ARRAY
                 && e->elements == 2 ? e->element[0]->str : "0-0");

        i = r->elements;

        if (kept) {
            pages[npages++] = r;

        } else {
            freeReplyObject(r);
        }

        if (i < (size_t) page || n == (size_t) count) {
            break;
        }
    }

    if (ctl.json && !follow) {
        json_begin_object();
        json_key("records");
        json_begin_array();

    } else if (!ctl.json) {
        ctl_call_line(NULL);
    }

    while (n--) {
        tail_print(&f, found[n], follow);
    }

    for (i = 0; i < npages; i++) {
        freeReplyObject(pages[i]);
    }

    free(found);
    free(pages);

    if (!follow) {
        if (ctl.json) {
            json_end_array();
            json_end_object();
            json_end();
        }

        return CTL_EXIT_OK;
    }

    ctl_call_signals();

    while (!ctl_call_stop) {
        fflush(stdout);

        r = ctl_redis_cmd("XREAD COUNT 1000 BLOCK %d STREAMS %s %s",
                          TAIL_BLOCK_MS, ctl_call_stream, last);
        ctl_call_reply = r;
        e = ctl_call_entries(r);

        for (i = 0; e && i < e->elements; i++) {
            tail_print(&f, e->element[i], 1);

            if (e->element[i]->type == REDIS_REPLY_ARRAY
                && e->element[i]->elements == 2)
            {
                snprintf(last, sizeof(last), "%s",
                         e->element[i]->element[0]->str);
            }
        }

        freeReplyObject(r);
        ctl_call_reply = NULL;
    }

    return CTL_EXIT_OK;
}
