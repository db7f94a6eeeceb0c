
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Policies (docs/policies.md): a rate with a burst and a quota, read and
 * written in one text form by the module and apiauth-ctl (no nginx
 * headers).  A key that uses a policy holds its name ("policy") and this
 * text ("limits") in its own record, so that one HGETALL still returns
 * everything nginx needs about the key.
 */


#ifndef _APIAUTH_POLICY_H_INCLUDED_
#define _APIAUTH_POLICY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define APIAUTH_POLICY_RATE_MAX      1000000           /* a window */
#define APIAUTH_POLICY_BURST_MAX     1000000
#define APIAUTH_POLICY_QUOTA_MAX     1000000000000LL
#define APIAUTH_POLICY_OFFSET_MAX    (14 * 3600)
#define APIAUTH_POLICY_TEXT_MAX      160

/* quota periods */
#define APIAUTH_QUOTA_NONE           0
#define APIAUTH_QUOTA_DAY            1
#define APIAUTH_QUOTA_WEEK           2
#define APIAUTH_QUOTA_MONTH          3
#define APIAUTH_QUOTA_SECONDS        4      /* Nd, Nh, Nm: seconds */

#define APIAUTH_ANCHOR_CALENDAR      0
#define APIAUTH_ANCHOR_FIRST_USE     1

#define APIAUTH_RATE_RULE                                                    \
    "N/s, N/min or N/h, N from 1 to 1000000"
#define APIAUTH_QUOTA_RULE                                                   \
    "N/day, N/week, N/month, or N/Kd, N/Kh, N/Km (a period of K days, "     \
    "hours or minutes), N from 1 to 10^12"
#define APIAUTH_OFFSET_RULE                                                  \
    "+HH:MM or -HH:MM, from -14:00 to +14:00"


typedef struct {
    uint64_t    rate;           /* requests a window; 0: no rate */
    uint64_t    rate_window;    /* seconds: 1, 60 or 3600 */
    uint64_t    burst;          /* at once; the rate's N unless given */
    uint64_t    quota;          /* requests a period; 0: no quota */
    int         period;         /* APIAUTH_QUOTA_* */
    uint64_t    period_len;     /* seconds, for APIAUTH_QUOTA_SECONDS */
    int64_t     utc_offset;     /* seconds east of UTC */
    int         anchor;         /* APIAUTH_ANCHOR_* */
    int         dry_run;
} apiauth_policy_t;


/* each returns 0, or -1 when the text is not one; p keeps what it had */
int apiauth_policy_rate_parse(apiauth_policy_t *p, const char *s,
    size_t len);
int apiauth_policy_quota_parse(apiauth_policy_t *p, const char *s,
    size_t len);
int apiauth_policy_offset_parse(int64_t *offset, const char *s, size_t len);

/* a policy with neither rate nor quota limits nothing: it is refused */
int apiauth_policy_check(const apiauth_policy_t *p);

/*
 * the text form, "rate=100/s burst=50 quota=1000000/month offset=+08:00
 * anchor=calendar dry_run=0", at most APIAUTH_POLICY_TEXT_MAX bytes and a
 * NUL; returns its length
 */
size_t apiauth_policy_format(const apiauth_policy_t *p, char *buf,
    size_t size);

/* reads the text form strictly: 0, or -1 (p is then zeroed) */
int apiauth_policy_parse(apiauth_policy_t *p, const char *s, size_t len);

/* the parts of the text form, for display ("100/s", "1000/7d", "+08:00") */
size_t apiauth_policy_rate_text(const apiauth_policy_t *p, char *buf,
    size_t size);
size_t apiauth_policy_quota_text(const apiauth_policy_t *p, char *buf,
    size_t size);
size_t apiauth_policy_offset_text(int64_t offset, char *buf, size_t size);

/*
 * the rate as a GCRA in integer microseconds: the emission interval T,
 * rounded up so that the rate is never exceeded, and the tolerance
 * tau = (burst - 1) T
 */
void apiauth_policy_gcra(const apiauth_policy_t *p, uint64_t *t,
    uint64_t *tau);

/*
 * the quota's period holding now, all in unix ms: with the calendar
 * anchor, the day, week (from Monday), month or K-period (counted from
 * the epoch) at the policy's UTC offset; with first-use, the period that
 * starts at now.  Redis's grant script computes the same (docs/policies.md)
 */
void apiauth_policy_window(const apiauth_policy_t *p, int64_t now,
    int64_t *start, int64_t *end);

/* the quota period, for messages and headers: seconds (a month: 31 days) */
uint64_t apiauth_policy_period_max(const apiauth_policy_t *p);


#endif /* _APIAUTH_POLICY_H_INCLUDED_ */
