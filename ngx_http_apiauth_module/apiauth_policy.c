
/*
 * Copyright (C) ngx_http_apiauth_module authors
 */


#include <stdio.h>
#include <string.h>

#include "apiauth_policy.h"


#define apiauth_is(s, len, lit)                                              \
    ((len) == sizeof(lit) - 1 && memcmp(s, lit, len) == 0)


static const char *apiauth_number(const char *s, const char *end,
    uint64_t max, uint64_t *v);
static int64_t apiauth_days_from_civil(int64_t y, int64_t m, int64_t d);
static void apiauth_civil_from_days(int64_t z, int64_t *y, int64_t *m,
    int64_t *d);
static int64_t apiauth_floor_div(int64_t a, int64_t b);


/* 1 to max decimal digits without a leading zero; returns past them */

static const char *
apiauth_number(const char *s, const char *end, uint64_t max, uint64_t *v)
{
    uint64_t  n;

    if (s == end || *s < '1' || *s > '9') {
        return NULL;
    }

    n = 0;

    while (s < end && *s >= '0' && *s <= '9') {
        if (n > (max - (uint64_t) (*s - '0')) / 10) {
            return NULL;
        }

        n = n * 10 + (uint64_t) (*s - '0');
        s++;
    }

    *v = n;

    return s;
}


int
apiauth_policy_rate_parse(apiauth_policy_t *p, const char *s, size_t len)
{
    uint64_t     n, w;
    const char  *end, *u;

    end = s + len;

    u = apiauth_number(s, end, APIAUTH_POLICY_RATE_MAX, &n);
    if (u == NULL || u == end || *u++ != '/') {
        return -1;
    }

    len = (size_t) (end - u);

    if (apiauth_is(u, len, "s")) {
        w = 1;

    } else if (apiauth_is(u, len, "min")) {
        w = 60;

    } else if (apiauth_is(u, len, "h")) {
        w = 3600;

    } else {
        return -1;
    }

    p->rate = n;
    p->rate_window = w;

    return 0;
}


int
apiauth_policy_quota_parse(apiauth_policy_t *p, const char *s, size_t len)
{
    int          period;
    uint64_t     n, k, unit, plen, max;
    const char  *end, *u;

    end = s + len;

    u = apiauth_number(s, end, APIAUTH_POLICY_QUOTA_MAX, &n);
    if (u == NULL || u == end || *u++ != '/') {
        return -1;
    }

    len = (size_t) (end - u);
    plen = 0;

    if (apiauth_is(u, len, "day")) {
        period = APIAUTH_QUOTA_DAY;

    } else if (apiauth_is(u, len, "week")) {
        period = APIAUTH_QUOTA_WEEK;

    } else if (apiauth_is(u, len, "month")) {
        period = APIAUTH_QUOTA_MONTH;

    } else {
        /* K days, hours or minutes, up to a leap year of them */

        if (len < 2) {
            return -1;
        }

        switch (end[-1]) {
        case 'd':
            unit = 86400;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'm':
            unit = 60;
            break;
        default:
            return -1;
        }

        max = 366 * 86400 / unit;

        if (apiauth_number(u, end - 1, max, &k) != end - 1) {
            return -1;
        }

        period = APIAUTH_QUOTA_SECONDS;
        plen = k * unit;
    }

    p->quota = n;
    p->period = period;
    p->period_len = plen;

    return 0;
}


int
apiauth_policy_offset_parse(int64_t *offset, const char *s, size_t len)
{
    int64_t  h, m, v;

    if (len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') {
        return -1;
    }

    if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9'
        || s[4] < '0' || s[4] > '5' || s[5] < '0' || s[5] > '9')
    {
        return -1;
    }

    h = (s[1] - '0') * 10 + (s[2] - '0');
    m = (s[4] - '0') * 10 + (s[5] - '0');
    v = h * 3600 + m * 60;

    if (v > APIAUTH_POLICY_OFFSET_MAX) {
        return -1;
    }

    *offset = (s[0] == '-') ? -v : v;

    return 0;
}


int
apiauth_policy_check(const apiauth_policy_t *p)
{
    if (p->rate == 0 && p->quota == 0) {
        return -1;
    }

    if (p->rate && (p->burst < 1 || p->burst > APIAUTH_POLICY_BURST_MAX)) {
        return -1;
    }

    if (p->utc_offset > APIAUTH_POLICY_OFFSET_MAX
        || p->utc_offset < -APIAUTH_POLICY_OFFSET_MAX)
    {
        return -1;
    }

    return 0;
}


size_t
apiauth_policy_rate_text(const apiauth_policy_t *p, char *buf, size_t size)
{
    int  n;

    n = snprintf(buf, size, "%llu/%s", (unsigned long long) p->rate,
                 p->rate_window == 1 ? "s"
                 : p->rate_window == 60 ? "min" : "h");

    return (n < 0 || (size_t) n >= size) ? 0 : (size_t) n;
}


size_t
apiauth_policy_quota_text(const apiauth_policy_t *p, char *buf, size_t size)
{
    int                  n;
    unsigned long long   q;

    q = (unsigned long long) p->quota;

    switch (p->period) {

    case APIAUTH_QUOTA_DAY:
        n = snprintf(buf, size, "%llu/day", q);
        break;

    case APIAUTH_QUOTA_WEEK:
        n = snprintf(buf, size, "%llu/week", q);
        break;

    case APIAUTH_QUOTA_MONTH:
        n = snprintf(buf, size, "%llu/month", q);
        break;

    default:
        /* the largest unit that divides the period */
        if (p->period_len % 86400 == 0) {
            n = snprintf(buf, size, "%llu/%llud", q,
                         (unsigned long long) p->period_len / 86400);

        } else if (p->period_len % 3600 == 0) {
            n = snprintf(buf, size, "%llu/%lluh", q,
                         (unsigned long long) p->period_len / 3600);

        } else {
            n = snprintf(buf, size, "%llu/%llum", q,
                         (unsigned long long) p->period_len / 60);
        }
    }

    return (n < 0 || (size_t) n >= size) ? 0 : (size_t) n;
}


size_t
apiauth_policy_offset_text(int64_t offset, char *buf, size_t size)
{
    int      n;
    int64_t  a;

    a = offset < 0 ? -offset : offset;

    n = snprintf(buf, size, "%c%02d:%02d", offset < 0 ? '-' : '+',
                 (int) (a / 3600), (int) (a % 3600 / 60));

    return (n < 0 || (size_t) n >= size) ? 0 : (size_t) n;
}


size_t
apiauth_policy_format(const apiauth_policy_t *p, char *buf, size_t size)
{
    char    rate[32], quota[48], offset[8];
    int     n;
    size_t  len;

    len = 0;
    buf[0] = '\0';

    if (p->rate) {
        apiauth_policy_rate_text(p, rate, sizeof(rate));
        n = snprintf(buf, size, "rate=%s burst=%llu ", rate,
                     (unsigned long long) p->burst);
        if (n < 0 || (size_t) n >= size) {
            return 0;
        }

        len = (size_t) n;
    }

    if (p->quota) {
        apiauth_policy_quota_text(p, quota, sizeof(quota));
        apiauth_policy_offset_text(p->utc_offset, offset, sizeof(offset));
        n = snprintf(buf + len, size - len,
                     "quota=%s offset=%s anchor=%s ", quota, offset,
                     p->anchor == APIAUTH_ANCHOR_FIRST_USE
                     ? "first-use" : "calendar");
        if (n < 0 || (size_t) n >= size - len) {
            return 0;
        }

        len += (size_t) n;
    }

    n = snprintf(buf + len, size - len, "dry_run=%d", p->dry_run ? 1 : 0);
    if (n < 0 || (size_t) n >= size - len) {
        return 0;
    }

    return len + (size_t) n;
}


/* "name=value" words separated by one space; every name at most once */

int
apiauth_policy_parse(apiauth_policy_t *p, const char *s, size_t len)
{
    size_t       nlen, vlen;
    unsigned     seen, bit;
    uint64_t     v;
    const char  *end, *w, *eq, *val;

    memset(p, 0, sizeof(apiauth_policy_t));

    end = s + len;
    seen = 0;

    while (s < end) {
        w = s;

        while (s < end && *s != ' ') {
            s++;
        }

        eq = memchr(w, '=', (size_t) (s - w));
        if (eq == NULL) {
            goto invalid;
        }

        nlen = (size_t) (eq - w);
        val = eq + 1;
        vlen = (size_t) (s - val);

        if (apiauth_is(w, nlen, "rate")) {
            bit = 1;
            if (apiauth_policy_rate_parse(p, val, vlen) != 0) {
                goto invalid;
            }

        } else if (apiauth_is(w, nlen, "burst")) {
            bit = 2;
            if (apiauth_number(val, s, APIAUTH_POLICY_BURST_MAX, &v) != s) {
                goto invalid;
            }

            p->burst = v;

        } else if (apiauth_is(w, nlen, "quota")) {
            bit = 4;
            if (apiauth_policy_quota_parse(p, val, vlen) != 0) {
                goto invalid;
            }

        } else if (apiauth_is(w, nlen, "offset")) {
            bit = 8;
            if (apiauth_policy_offset_parse(&p->utc_offset, val, vlen) != 0) {
                goto invalid;
            }

        } else if (apiauth_is(w, nlen, "anchor")) {
            bit = 16;
            if (apiauth_is(val, vlen, "calendar")) {
                p->anchor = APIAUTH_ANCHOR_CALENDAR;

            } else if (apiauth_is(val, vlen, "first-use")) {
                p->anchor = APIAUTH_ANCHOR_FIRST_USE;

            } else {
                goto invalid;
            }

        } else if (apiauth_is(w, nlen, "dry_run")) {
            bit = 32;
            if (vlen != 1 || (*val != '0' && *val != '1')) {
                goto invalid;
            }

            p->dry_run = (*val == '1');

        } else {
            goto invalid;
        }

        if (seen & bit) {
            goto invalid;
        }

        seen |= bit;

        if (s < end) {
            s++;                                /* the space */
            if (s == end) {
                goto invalid;
            }
        }
    }

    /* a rate has its burst; the rest has defaults */

    if (((seen & 1) != 0) != ((seen & 2) != 0)
        || apiauth_policy_check(p) != 0)
    {
        goto invalid;
    }

    return 0;

invalid:

    memset(p, 0, sizeof(apiauth_policy_t));

    return -1;
}


void
apiauth_policy_gcra(const apiauth_policy_t *p, uint64_t *t, uint64_t *tau)
{
    uint64_t  w;

    if (p->rate == 0) {
        *t = 0;
        *tau = 0;
        return;
    }

    w = p->rate_window * 1000000;

    *t = (w + p->rate - 1) / p->rate;
    *tau = (p->burst - 1) * *t;
}


uint64_t
apiauth_policy_period_max(const apiauth_policy_t *p)
{
    switch (p->period) {
    case APIAUTH_QUOTA_DAY:
        return 86400;
    case APIAUTH_QUOTA_WEEK:
        return 7 * 86400;
    case APIAUTH_QUOTA_MONTH:
        return 31 * 86400;
    case APIAUTH_QUOTA_SECONDS:
        return p->period_len;
    default:
        return 0;
    }
}


void
apiauth_policy_window(const apiauth_policy_t *p, int64_t now, int64_t *start,
    int64_t *end)
{
    int64_t  off, local, day, len, y, m, d, last, tod;

    off = p->utc_offset * 1000;
    local = now + off;

    if (p->anchor == APIAUTH_ANCHOR_FIRST_USE) {
        *start = now;

        if (p->period != APIAUTH_QUOTA_MONTH) {
            *end = now + (int64_t) apiauth_policy_period_max(p) * 1000;
            return;
        }

        /* the same local time a month on, on the month's last day at most */

        day = apiauth_floor_div(local, 86400000);
        tod = local - day * 86400000;
        apiauth_civil_from_days(day, &y, &m, &d);

        y += (m == 12);
        m = (m == 12) ? 1 : m + 1;

        last = apiauth_days_from_civil(y + (m == 12), m == 12 ? 1 : m + 1, 1)
               - apiauth_days_from_civil(y, m, 1);

        *end = (apiauth_days_from_civil(y, m, d < last ? d : last) * 86400000
                + tod) - off;
        return;
    }

    switch (p->period) {

    case APIAUTH_QUOTA_MONTH:
        day = apiauth_floor_div(local, 86400000);
        apiauth_civil_from_days(day, &y, &m, &d);
        *start = apiauth_days_from_civil(y, m, 1) * 86400000 - off;
        *end = apiauth_days_from_civil(y + (m == 12), m == 12 ? 1 : m + 1, 1)
               * 86400000 - off;
        return;

    case APIAUTH_QUOTA_WEEK:
        /* 1970-01-05, day 4, was a Monday */
        len = 7 * 86400000LL;
        *start = apiauth_floor_div(local - 4 * 86400000LL, len) * len
                 + 4 * 86400000LL - off;
        *end = *start + len;
        return;

    default:
        len = (int64_t) apiauth_policy_period_max(p) * 1000;
        *start = apiauth_floor_div(local, len) * len - off;
        *end = *start + len;
    }
}


static int64_t
apiauth_floor_div(int64_t a, int64_t b)
{
    int64_t  q;

    q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}


/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */

static int64_t
apiauth_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = apiauth_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


static void
apiauth_civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    int64_t  era, doe, yoe, doy, mp;

    z += 719468;
    era = apiauth_floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}
