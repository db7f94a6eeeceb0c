
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Policies (apiauth_policy.h): the options' forms, the text form a key
 * holds, the GCRA's integers, and the quota's periods.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apiauth_policy.h"
#include "tap.h"


#define S(lit)  lit, sizeof(lit) - 1

/* is_str() against a literal */
#define TEXT_IS(buf, n, lit, name)                                           \
    is_str(buf, n, lit, sizeof(lit) - 1, name)


/* unix ms of a UTC date and time, by timegm(), independent of the code */

static int64_t
ms(int y, int mo, int d, int h, int mi)
{
    struct tm  tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;

    return (int64_t) timegm(&tm) * 1000;
}


static int
rate_ok(const char *s, size_t len, uint64_t n, uint64_t w)
{
    apiauth_policy_t  p;

    memset(&p, 0, sizeof(p));

    return apiauth_policy_rate_parse(&p, s, len) == 0
           && p.rate == n && p.rate_window == w;
}


static int
rate_bad(const char *s, size_t len)
{
    apiauth_policy_t  p;

    memset(&p, 0, sizeof(p));

    return apiauth_policy_rate_parse(&p, s, len) == -1 && p.rate == 0;
}


static int
quota_ok(const char *s, size_t len, uint64_t n, int period, uint64_t plen)
{
    apiauth_policy_t  p;

    memset(&p, 0, sizeof(p));

    return apiauth_policy_quota_parse(&p, s, len) == 0
           && p.quota == n && p.period == period && p.period_len == plen;
}


static int
quota_bad(const char *s, size_t len)
{
    apiauth_policy_t  p;

    memset(&p, 0, sizeof(p));

    return apiauth_policy_quota_parse(&p, s, len) == -1 && p.quota == 0;
}


static int
window_is(const apiauth_policy_t *p, int64_t now, int64_t start, int64_t end)
{
    int64_t  s, e;

    apiauth_policy_window(p, now, &s, &e);

    if (s != start || e != end) {
        diag("window of %lld: got [%lld, %lld), want [%lld, %lld)",
             (long long) now, (long long) s, (long long) e,
             (long long) start, (long long) end);
        return 0;
    }

    return 1;
}


int
main(void)
{
    int64_t           off;
    uint64_t          t, tau;
    char              buf[APIAUTH_POLICY_TEXT_MAX + 1];
    size_t            n;
    apiauth_policy_t  p, q;

    /* rates */

    ok(rate_ok(S("100/s"), 100, 1), "100/s");
    ok(rate_ok(S("5/min"), 5, 60), "5/min");
    ok(rate_ok(S("1000000/h"), 1000000, 3600), "1000000/h");
    ok(rate_bad(S("0/s")), "0/s refused");
    ok(rate_bad(S("1000001/s")), "past the bound refused");
    ok(rate_bad(S("010/s")), "a leading zero refused");
    ok(rate_bad(S("10/sec")), "an unknown unit refused");
    ok(rate_bad(S("10/")), "no unit refused");
    ok(rate_bad(S("/s")), "no number refused");
    ok(rate_bad(S("10 /s")), "a space refused");
    ok(rate_bad(S("10/s\0")), "a NUL after it refused");
    ok(rate_bad(S("-1/s")), "a sign refused");

    /* quotas */

    ok(quota_ok(S("1000/day"), 1000, APIAUTH_QUOTA_DAY, 0), "1000/day");
    ok(quota_ok(S("7/week"), 7, APIAUTH_QUOTA_WEEK, 0), "7/week");
    ok(quota_ok(S("1000000000000/month"), 1000000000000ULL,
                APIAUTH_QUOTA_MONTH, 0), "10^12/month");
    ok(quota_ok(S("50/7d"), 50, APIAUTH_QUOTA_SECONDS, 7 * 86400), "50/7d");
    ok(quota_ok(S("50/12h"), 50, APIAUTH_QUOTA_SECONDS, 12 * 3600),
       "50/12h");
    ok(quota_ok(S("50/1m"), 50, APIAUTH_QUOTA_SECONDS, 60), "50/1m");
    ok(quota_ok(S("50/366d"), 50, APIAUTH_QUOTA_SECONDS, 366 * 86400),
       "50/366d: a leap year");
    ok(quota_bad(S("50/367d")), "50/367d refused");
    ok(quota_bad(S("50/527041m")), "past a leap year of minutes refused");
    ok(quota_bad(S("1000000000001/day")), "past 10^12 refused");
    ok(quota_bad(S("50/0d")), "a period of 0 refused");
    ok(quota_bad(S("50/d")), "no count of days refused");
    ok(quota_bad(S("50/year")), "an unknown period refused");
    ok(quota_bad(S("50/1w")), "an unknown unit refused");

    /* UTC offsets */

    ok(apiauth_policy_offset_parse(&off, S("+08:00")) == 0
       && off == 8 * 3600, "+08:00");
    ok(apiauth_policy_offset_parse(&off, S("-05:30")) == 0
       && off == -(5 * 3600 + 30 * 60), "-05:30");
    ok(apiauth_policy_offset_parse(&off, S("+14:00")) == 0
       && off == 14 * 3600, "+14:00");
    ok(apiauth_policy_offset_parse(&off, S("+14:01")) == -1,
       "+14:01 refused");
    ok(apiauth_policy_offset_parse(&off, S("08:00")) == -1,
       "no sign refused");
    ok(apiauth_policy_offset_parse(&off, S("+8:00")) == -1,
       "one hour digit refused");
    ok(apiauth_policy_offset_parse(&off, S("+08:60")) == -1,
       "minute 60 refused");

    /* the text form, both ways */

    memset(&p, 0, sizeof(p));
    apiauth_policy_rate_parse(&p, S("100/s"));
    p.burst = 50;
    apiauth_policy_quota_parse(&p, S("1000000/month"));
    p.utc_offset = 8 * 3600;
    n = apiauth_policy_format(&p, buf, sizeof(buf));
    TEXT_IS(buf, n, "rate=100/s burst=50 quota=1000000/month "
                     "offset=+08:00 anchor=calendar dry_run=0",
            "text form of rate, burst and quota");
    ok(apiauth_policy_parse(&q, buf, n) == 0
       && memcmp(&p, &q, sizeof(p)) == 0, "read back the same");

    memset(&p, 0, sizeof(p));
    apiauth_policy_quota_parse(&p, S("10/90m"));
    p.anchor = APIAUTH_ANCHOR_FIRST_USE;
    p.dry_run = 1;
    p.utc_offset = -(3 * 3600 + 30 * 60);
    n = apiauth_policy_format(&p, buf, sizeof(buf));
    TEXT_IS(buf, n, "quota=10/90m offset=-03:30 anchor=first-use "
                     "dry_run=1",
            "text form of a quota alone");
    ok(apiauth_policy_parse(&q, buf, n) == 0
       && memcmp(&p, &q, sizeof(p)) == 0, "read back the same");

    memset(&p, 0, sizeof(p));
    apiauth_policy_quota_parse(&p, S("5/48h"));
    n = apiauth_policy_format(&p, buf, sizeof(buf));
    TEXT_IS(buf, n, "quota=5/2d offset=+00:00 anchor=calendar dry_run=0",
            "a period in its largest whole unit");

    ok(apiauth_policy_parse(&q, S("rate=100/s burst=5 dry_run=0")) == 0
       && q.rate == 100 && q.burst == 5 && q.quota == 0,
       "a rate alone");
    ok(apiauth_policy_parse(&q, S("dry_run=0")) == -1,
       "neither rate nor quota refused");
    ok(apiauth_policy_parse(&q, S("rate=100/s dry_run=0")) == -1,
       "a rate without its burst refused");
    ok(apiauth_policy_parse(&q, S("burst=5 quota=5/day")) == -1,
       "a burst without a rate refused");
    ok(apiauth_policy_parse(&q, S("quota=5/day quota=6/day")) == -1,
       "a name twice refused");
    ok(apiauth_policy_parse(&q, S("quota=5/day  dry_run=0")) == -1,
       "two spaces refused");
    ok(apiauth_policy_parse(&q, S("quota=5/day ")) == -1,
       "a trailing space refused");
    ok(apiauth_policy_parse(&q, S("quota=5/day colour=red")) == -1,
       "an unknown name refused");
    ok(apiauth_policy_parse(&q, S("quota=5/day dry_run=2")) == -1,
       "dry_run=2 refused");
    ok(apiauth_policy_parse(&q, S("quota=5/day anchor=never")) == -1,
       "an unknown anchor refused");
    ok(apiauth_policy_parse(&q, S("rate=1/s burst=0 dry_run=0")) == -1,
       "burst 0 refused");
    ok(apiauth_policy_parse(&q, S("")) == -1, "nothing refused");

    /* the GCRA: T rounded up, so the rate is never exceeded */

    memset(&p, 0, sizeof(p));
    apiauth_policy_rate_parse(&p, S("3/s"));
    p.burst = 10;
    apiauth_policy_gcra(&p, &t, &tau);
    ok(t == 333334 && tau == 9 * 333334, "3/s, burst 10: T %llu, tau %llu",
       (unsigned long long) t, (unsigned long long) tau);
    apiauth_policy_rate_parse(&p, S("50/min"));
    p.burst = 1;
    apiauth_policy_gcra(&p, &t, &tau);
    ok(t == 1200000 && tau == 0, "50/min, burst 1: T 1.2 s, tau 0");

    /* periods: calendar at an offset */

    memset(&p, 0, sizeof(p));
    apiauth_policy_quota_parse(&p, S("10/day"));
    p.utc_offset = 8 * 3600;
    ok(window_is(&p, ms(2026, 12, 4, 15, 59), ms(2026, 12, 3, 16, 0),
                 ms(2026, 12, 4, 16, 0)),
       "a day at +08:00: 15:59Z is still the 4th's");
    ok(window_is(&p, ms(2026, 12, 4, 16, 0), ms(2026, 12, 4, 16, 0),
                 ms(2026, 12, 5, 16, 0)),
       "a day at +08:00: 16:00Z starts the 5th");

    apiauth_policy_quota_parse(&p, S("10/week"));
    p.utc_offset = 0;
    ok(window_is(&p, ms(2026, 12, 4, 12, 0), ms(2026, 11, 30, 0, 0),
                 ms(2026, 12, 7, 0, 0)),
       "a week: Friday 2026-12-04 is in the week of Monday the 30th");
    ok(window_is(&p, ms(1970, 1, 1, 0, 0), ms(1969, 12, 29, 0, 0),
                 ms(1970, 1, 5, 0, 0)),
       "a week across the epoch");

    apiauth_policy_quota_parse(&p, S("10/month"));
    ok(window_is(&p, ms(2026, 12, 31, 23, 59), ms(2026, 12, 1, 0, 0),
                 ms(2027, 1, 1, 0, 0)), "December");
    ok(window_is(&p, ms(2028, 2, 29, 12, 0), ms(2028, 2, 1, 0, 0),
                 ms(2028, 3, 1, 0, 0)), "February of a leap year");
    p.utc_offset = -5 * 3600;
    ok(window_is(&p, ms(2027, 1, 1, 3, 0), ms(2026, 12, 1, 5, 0),
                 ms(2027, 1, 1, 5, 0)),
       "a month at -05:00: 03:00Z on January 1st is still December");
    p.utc_offset = 0;

    apiauth_policy_quota_parse(&p, S("10/15m"));
    ok(window_is(&p, ms(2026, 12, 4, 10, 44), ms(2026, 12, 4, 10, 30),
                 ms(2026, 12, 4, 10, 45)), "15 minutes from the hour");

    /* periods from first use */

    p.anchor = APIAUTH_ANCHOR_FIRST_USE;
    ok(window_is(&p, ms(2026, 12, 4, 10, 44) + 123,
                 ms(2026, 12, 4, 10, 44) + 123,
                 ms(2026, 12, 4, 10, 59) + 123), "15 minutes from now");

    apiauth_policy_quota_parse(&p, S("10/month"));
    ok(window_is(&p, ms(2027, 1, 31, 9, 30), ms(2027, 1, 31, 9, 30),
                 ms(2027, 2, 28, 9, 30)),
       "a month from January 31st ends on February 28th");
    ok(window_is(&p, ms(2026, 12, 15, 9, 30), ms(2026, 12, 15, 9, 30),
                 ms(2027, 1, 15, 9, 30)), "a month from December 15th");
    p.utc_offset = 8 * 3600;
    ok(window_is(&p, ms(2027, 1, 30, 20, 0), ms(2027, 1, 30, 20, 0),
                 ms(2027, 2, 27, 20, 0)),
       "at +08:00, 20:00Z on January 30th is 04:00 on the 31st: to 04:00 "
       "on February 28th");

    return done_testing();
}
