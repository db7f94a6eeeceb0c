
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Leases from Redis (docs/policies.md): one script grants a node tokens
 * of a key's rate and quota at once, takes tokens back and pays debts,
 * atomically and on Redis's clock (TIME), never a node's.  Requests of
 * one worker that wait for a key's lease wait on one script call; leases
 * go on the lookups' link.  A timer gives back what idle keys hold.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_SWEEP           500       /* ms */
#define NGX_HTTP_APIAUTH_SWEEP_KEYS      16

/* a lease's answer: it reached Redis past its deadline */
#define NGX_HTTP_APIAUTH_LEASE_LATE      ((ngx_uint_t) -1)

#define NGX_HTTP_APIAUTH_LEASE_ARGS      20
#define NGX_HTTP_APIAUTH_LEASE_NUMS      15         /* ARGV */
#define NGX_HTTP_APIAUTH_LEASE_NAME                                          \
    (sizeof(APIAUTH_STORE_QUOTA_PREFIX) + APIAUTH_ACCESS_KEY_MAX)


typedef struct {
    ngx_str_node_t                  sn;         /* the accessKey; waited on */
    ngx_queue_t                     waiters;
    ngx_http_apiauth_redis_cmd_t    cmd;
    ngx_http_apiauth_lease_t        lease;
    int64_t                         sent;       /* the node's ms */
    ngx_uint_t                      in_tree;
} ngx_http_apiauth_lease_call_t;


static void ngx_http_apiauth_lease_argv(ngx_http_apiauth_lease_t *ls,
    int64_t deadline, const char **argv, size_t *argvlen);
static ngx_int_t ngx_http_apiauth_lease_send(
    ngx_http_apiauth_lease_call_t *lc);
static redisContext *ngx_http_apiauth_lease_connect(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf);
static void ngx_http_apiauth_lease_done(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply);
static ngx_int_t ngx_http_apiauth_lease_parse(redisReply *reply,
    ngx_http_apiauth_grant_t *g);
static void ngx_http_apiauth_lease_sweep(ngx_event_t *ev);


/*
 * KEYS: the key's rate (its TAT, unix us) and quota (a hash: start, end,
 * used).  ARGV: want, T and tau (us; T 0: no rate), quota (0: none),
 * period kind (fixed, week, month) and length (s), UTC offset (s), anchor,
 * tokens given back and their period's start, debt and its period's
 * start, a deadline on Redis's clock (ms; 0: none), and the TAT and the
 * tokens of the lease the given back tokens came in.  Returns granted,
 * blocked (0, 1 rate, 2 quota, 3 past its deadline), wait (ms), used, the
 * period's start and end (ms), Redis's time (ms) and the rate's TAT (us).
 * The period arithmetic is apiauth_policy_window()'s.
 *
 * Rate tokens given back free only the time still ahead of their lease:
 * time that has passed was the rate's, spent or not.
 *
 * A lease that reaches Redis after its node gave up on it (Redis was
 * frozen, the link slow) changes nothing: its tokens would be counted and
 * never spent, and its debt paid twice.
 */

static const char  ngx_http_apiauth_lease_script[] =
    "local t = redis.call('TIME')\n"
    "local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local now = math.floor(now_us / 1000)\n"
    "local deadline = tonumber(ARGV[13])\n"
    "if deadline > 0 and now > deadline then\n"
    "  return { 0, 3, 0, 0, 0, 0, now, 0 }\n"
    "end\n"
    "local want, T, tau, Q = tonumber(ARGV[1]), tonumber(ARGV[2]),\n"
    "  tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local kind, plen, off = ARGV[5], tonumber(ARGV[6]) * 1000,\n"
    "  tonumber(ARGV[7]) * 1000\n"
    "local back, debt = tonumber(ARGV[9]), tonumber(ARGV[11])\n"
    "local function fdiv(a, b) return math.floor(a / b) end\n"
    "local function days(y, m, d)\n"
    "  if m <= 2 then y = y - 1 end\n"
    "  local era = fdiv(y, 400)\n"
    "  local yoe = y - era * 400\n"
    "  local mm = m > 2 and m - 3 or m + 9\n"
    "  local doy = fdiv(153 * mm + 2, 5) + d - 1\n"
    "  return era * 146097 + yoe * 365 + fdiv(yoe, 4) - fdiv(yoe, 100)\n"
    "         + doy - 719468\n"
    "end\n"
    "local function civil(z)\n"
    "  z = z + 719468\n"
    "  local era = fdiv(z, 146097)\n"
    "  local doe = z - era * 146097\n"
    "  local yoe = fdiv(doe - fdiv(doe, 1460) + fdiv(doe, 36524)\n"
    "                  - fdiv(doe, 146096), 365)\n"
    "  local doy = doe - (365 * yoe + fdiv(yoe, 4) - fdiv(yoe, 100))\n"
    "  local mp = fdiv(5 * doy + 2, 153)\n"
    "  local d = doy - fdiv(153 * mp + 2, 5) + 1\n"
    "  local m = mp < 10 and mp + 3 or mp - 9\n"
    "  local y = yoe + era * 400\n"
    "  if m <= 2 then y = y + 1 end\n"
    "  return y, m, d\n"
    "end\n"
    "local function next_month(y, m)\n"
    "  if m == 12 then return y + 1, 1 end\n"
    "  return y, m + 1\n"
    "end\n"
    "local function window()\n"
    "  local loc = now + off\n"
    "  local day = fdiv(loc, 86400000)\n"
    "  if ARGV[8] == 'first-use' then\n"
    "    if kind ~= 'month' then return now, now + plen end\n"
    "    local tod = loc - day * 86400000\n"
    "    local y, m, d = civil(day)\n"
    "    y, m = next_month(y, m)\n"
    "    local ny, nm = next_month(y, m)\n"
    "    local last = days(ny, nm, 1) - days(y, m, 1)\n"
    "    if d > last then d = last end\n"
    "    return now, days(y, m, d) * 86400000 + tod - off\n"
    "  end\n"
    "  if kind == 'month' then\n"
    "    local y, m = civil(day)\n"
    "    local ny, nm = next_month(y, m)\n"
    "    return days(y, m, 1) * 86400000 - off,\n"
    "           days(ny, nm, 1) * 86400000 - off\n"
    "  end\n"
    "  local base = 0\n"
    "  if kind == 'week' then base = 4 * 86400000 end\n"
    "  local s = fdiv(loc - base, plen) * plen + base - off\n"
    "  return s, s + plen\n"
    "end\n"
    "local g, blocked, wait = want, 0, 0\n"
    "local tat = 0\n"
    "if T > 0 then\n"
    "  tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "  if back > 0 then\n"
    "    local n = math.min(back, tonumber(ARGV[15]))\n"
    "    local ahead = math.max(tonumber(ARGV[14]) - now_us, 0)\n"
    "    tat = tat - math.min(n * T, ahead)\n"
    "  end\n"
    "  if tat < now_us then tat = now_us end\n"
    "  local avail = fdiv(now_us + tau + T - tat, T)\n"
    "  if avail < g then\n"
    "    g = math.max(avail, 0)\n"
    "    if g == 0 then\n"
    "      blocked = 1\n"
    "      wait = math.max(math.ceil((tat - tau - now_us) / 1000), 1)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local used, s, e = 0, 0, 0\n"
    "if Q > 0 then\n"
    "  local q = redis.call('HMGET', KEYS[2], 'start', 'end', 'used')\n"
    "  s, e, used = tonumber(q[1]) or 0, tonumber(q[2]) or 0,\n"
    "    tonumber(q[3]) or 0\n"
    "  if ARGV[8] == 'first-use' then\n"
    "    if now >= e then\n"
    "      s, e, used = 0, 0, 0\n"
    "      if want > 0 or debt > 0 then s, e = window() end\n"
    "    end\n"
    "  else\n"
    "    local ws, we = window()\n"
    "    if ws ~= s or we ~= e then s, e, used = ws, we, 0 end\n"
    "  end\n"
    "  if back > 0 and tonumber(ARGV[10]) == s then\n"
    "    used = math.max(used - back, 0)\n"
    "  end\n"
    "  if debt > 0 and (tonumber(ARGV[12]) == s or ARGV[8] == 'first-use')\n"
    "  then\n"
    "    used = used + debt\n"
    "  end\n"
    "  local avail = Q - used\n"
    "  if avail <= 0 and want > 0 then\n"
    "    g, blocked, wait = 0, 2, math.max(e - now, 1)\n"
    "  elseif avail < g then\n"
    "    g = math.max(avail, 0)\n"
    "  end\n"
    "end\n"
    "if g > 0 then blocked, wait = 0, 0 end\n"
    "if T > 0 then\n"
    "  tat = tat + g * T\n"
    "  if tat > now_us then\n"
    "    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',\n"
    "               math.ceil((tat - now_us) / 1000) + 1000)\n"
    "  else\n"
    "    redis.call('DEL', KEYS[1])\n"
    "  end\n"
    "end\n"
    "if Q > 0 and e > 0 then\n"
    "  used = used + g\n"
    "  redis.call('HSET', KEYS[2], 'start', string.format('%.0f', s),\n"
    "             'end', string.format('%.0f', e),\n"
    "             'used', string.format('%.0f', used))\n"
    "  redis.call('PEXPIREAT', KEYS[2], e + 60000)\n"
    "end\n"
    "return { g, blocked, wait, used, s, e, now, tat }\n";


static ngx_rbtree_t                   ngx_http_apiauth_leases;
static ngx_rbtree_node_t              ngx_http_apiauth_leases_sentinel;
static ngx_http_apiauth_main_conf_t  *ngx_http_apiauth_lease_conf;
static ngx_log_t                     *ngx_http_apiauth_lease_log;
static ngx_event_t                    ngx_http_apiauth_sweep_timer;

/* Redis's clock less the node's, as the last answer showed it */
static int64_t                        ngx_http_apiauth_redis_offset;
static ngx_uint_t                     ngx_http_apiauth_redis_offset_known;


ngx_int_t
ngx_http_apiauth_lease_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf)
{
    ngx_rbtree_init(&ngx_http_apiauth_leases,
                    &ngx_http_apiauth_leases_sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_http_apiauth_lease_conf = amcf;
    ngx_http_apiauth_lease_log = cycle->log;

    ngx_http_apiauth_sweep_timer.handler = ngx_http_apiauth_lease_sweep;
    ngx_http_apiauth_sweep_timer.log = cycle->log;
    ngx_http_apiauth_sweep_timer.data = amcf;
    ngx_http_apiauth_sweep_timer.cancelable = 1;

    ngx_add_timer(&ngx_http_apiauth_sweep_timer, NGX_HTTP_APIAUTH_SWEEP);

    return NGX_OK;
}


void
ngx_http_apiauth_lease_exit(void)
{
    if (ngx_http_apiauth_sweep_timer.timer_set) {
        ngx_del_timer(&ngx_http_apiauth_sweep_timer);
    }
}


/*
 * sends a lease; with w, w waits for its answer (NGX_AGAIN), with the
 * worker's other requests that wait for this key's; NGX_OK: sent, nobody
 * waits; NGX_DECLINED: Redis cannot be asked now (the zone knows)
 */

ngx_int_t
ngx_http_apiauth_lease_ask(ngx_http_apiauth_lease_t *lease,
    ngx_http_apiauth_waiter_t *w)
{
    uint32_t                        hash;
    ngx_str_t                       ak;
    ngx_http_apiauth_lease_t        back;
    ngx_http_apiauth_lease_call_t  *lc;

    ak.data = lease->ak;
    ak.len = lease->len;
    hash = ngx_crc32_short(ak.data, ak.len);

    if (w) {
        lc = (ngx_http_apiauth_lease_call_t *)
                 ngx_str_rbtree_lookup(&ngx_http_apiauth_leases, &ak, hash);

        if (lc && lc->lease.limits.version == lease->limits.version) {

            /* what this one gives back or pays goes on its own */

            if (lease->debt || lease->tokens) {
                back = *lease;
                back.want = 0;
                (void) ngx_http_apiauth_lease_ask(&back, NULL);
            }

            ngx_queue_insert_tail(&lc->waiters, &w->queue);
            w->waiting = 1;
            return NGX_AGAIN;
        }
    }

    lc = ngx_alloc(sizeof(ngx_http_apiauth_lease_call_t),
                   ngx_http_apiauth_lease_log);
    if (lc == NULL) {
        ngx_http_apiauth_tokens_granted(
            ngx_http_apiauth_lease_conf->limits_zone, lease, NULL, &back);
        return NGX_DECLINED;
    }

    ngx_memzero(lc, sizeof(ngx_http_apiauth_lease_call_t));

    lc->lease = *lease;
    ngx_queue_init(&lc->waiters);

    if (ngx_http_apiauth_lease_send(lc) != NGX_OK) {
        ngx_http_apiauth_tokens_granted(
            ngx_http_apiauth_lease_conf->limits_zone, lease, NULL, &back);
        ngx_free(lc);
        return NGX_DECLINED;
    }

    if (w == NULL) {
        return NGX_OK;
    }

    lc->sn.node.key = hash;
    lc->sn.str.data = lc->lease.ak;
    lc->sn.str.len = lc->lease.len;
    lc->in_tree = 1;
    ngx_rbtree_insert(&ngx_http_apiauth_leases, &lc->sn.node);

    ngx_queue_insert_tail(&lc->waiters, &w->queue);
    w->waiting = 1;

    return NGX_AGAIN;
}


/*
 * the script's command for a lease: argv points into static buffers, good
 * until the next call (hiredis copies a command as it is appended)
 */

static void
ngx_http_apiauth_lease_argv(ngx_http_apiauth_lease_t *ls, int64_t deadline,
    const char **argv, size_t *argvlen)
{
    int                i;
    u_char            *p;
    uint64_t           t, tau;
    apiauth_policy_t  *pol;

    static u_char  rate[NGX_HTTP_APIAUTH_LEASE_NAME];
    static u_char  quota[NGX_HTTP_APIAUTH_LEASE_NAME];
    static u_char  nums[NGX_HTTP_APIAUTH_LEASE_NUMS][NGX_INT64_LEN + 1];

    pol = &ls->limits.policy;

    apiauth_policy_gcra(pol, &t, &tau);

    argv[0] = "EVAL";
    argv[1] = ngx_http_apiauth_lease_script;
    argv[2] = "2";

    p = ngx_sprintf(rate, APIAUTH_STORE_RATE_PREFIX "%*s", (size_t) ls->len,
                    ls->ak);
    argv[3] = (char *) rate;
    argvlen[3] = p - rate;

    p = ngx_sprintf(quota, APIAUTH_STORE_QUOTA_PREFIX "%*s", (size_t) ls->len,
                    ls->ak);
    argv[4] = (char *) quota;
    argvlen[4] = p - quota;

    /* the numbers, in the script's order, from ARGV[1] */

    *ngx_sprintf(nums[0], "%L", ls->want) = '\0';
    *ngx_sprintf(nums[1], "%uL", t) = '\0';
    *ngx_sprintf(nums[2], "%uL", tau) = '\0';
    *ngx_sprintf(nums[3], "%uL", pol->quota) = '\0';
    argv[9] = pol->period == APIAUTH_QUOTA_MONTH ? "month"
              : pol->period == APIAUTH_QUOTA_WEEK
                && pol->anchor == APIAUTH_ANCHOR_CALENDAR ? "week" : "fixed";
    *ngx_sprintf(nums[5], "%uL", apiauth_policy_period_max(pol)) = '\0';
    *ngx_sprintf(nums[6], "%L", pol->utc_offset) = '\0';
    argv[12] = pol->anchor == APIAUTH_ANCHOR_FIRST_USE ? "first-use"
                                                       : "calendar";
    *ngx_sprintf(nums[8], "%L", ls->tokens) = '\0';
    *ngx_sprintf(nums[9], "%L", ls->window) = '\0';
    *ngx_sprintf(nums[10], "%L", ls->debt) = '\0';
    *ngx_sprintf(nums[11], "%L", ls->debt_window) = '\0';
    *ngx_sprintf(nums[12], "%L", deadline) = '\0';
    *ngx_sprintf(nums[13], "%L", ls->tat) = '\0';
    *ngx_sprintf(nums[14], "%L", ls->last) = '\0';

    for (i = 0; i < NGX_HTTP_APIAUTH_LEASE_NUMS; i++) {
        if (i != 4 && i != 7) {
            argv[5 + i] = (char *) nums[i];
        }
    }

    for (i = 0; i < NGX_HTTP_APIAUTH_LEASE_ARGS; i++) {
        if (i != 3 && i != 4) {
            argvlen[i] = ngx_strlen(argv[i]);
        }
    }
}


static ngx_int_t
ngx_http_apiauth_lease_send(ngx_http_apiauth_lease_call_t *lc)
{
    int64_t   deadline;
    size_t    argvlen[NGX_HTTP_APIAUTH_LEASE_ARGS];
    const char  *argv[NGX_HTTP_APIAUTH_LEASE_ARGS];

    /*
     * Redis's time by which the lease must run: half the link's timeout
     * after now, so that one that runs later is one this node gave up on
     */

    lc->sent = ngx_http_apiauth_tokens_now();

    deadline = ngx_http_apiauth_redis_offset_known
               ? lc->sent + ngx_http_apiauth_redis_offset
                 + (int64_t) ngx_http_apiauth_lease_conf->timeout / 2
               : 0;

    ngx_http_apiauth_lease_argv(&lc->lease, deadline, argv, argvlen);

    lc->cmd.handler = ngx_http_apiauth_lease_done;
    lc->cmd.data = lc;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_http_apiauth_lease_log, 0,
                   "apiauth lease: \"%*s\" want %L, back %L",
                   (size_t) lc->lease.len, lc->lease.ak, lc->lease.want,
                   lc->lease.tokens);

    if (ngx_http_apiauth_lookup_send(&lc->cmd, NGX_HTTP_APIAUTH_LEASE_ARGS,
                                     argv, argvlen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_LEASES, 1);

    return NGX_OK;
}


static void
ngx_http_apiauth_lease_done(ngx_http_apiauth_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_queue_t                    *q;
    ngx_http_apiauth_grant_t        g, *gp;
    ngx_http_apiauth_lease_t        back;
    ngx_http_apiauth_waiter_t      *w;
    ngx_http_apiauth_lease_call_t  *lc;

    lc = cmd->data;

    if (lc->in_tree) {
        ngx_rbtree_delete(&ngx_http_apiauth_leases, &lc->sn.node);
    }

    gp = (ngx_http_apiauth_lease_parse(reply, &g) == NGX_OK) ? &g : NULL;

    if (gp) {
        /* the answer left Redis between the send and now: the midpoint */
        ngx_http_apiauth_redis_offset = g.now
            - (lc->sent + ngx_http_apiauth_tokens_now()) / 2;
        ngx_http_apiauth_redis_offset_known = 1;

        if (g.blocked == NGX_HTTP_APIAUTH_LEASE_LATE) {
            gp = NULL;
        }
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_http_apiauth_lease_log, 0,
                   "apiauth lease: \"%*s\" granted %L, blocked %ui",
                   (size_t) lc->lease.len, lc->lease.ak,
                   gp ? g.granted : -1, gp ? g.blocked : 0);

    ngx_http_apiauth_tokens_granted(ngx_http_apiauth_lease_conf->limits_zone,
                                    &lc->lease, gp, &back);

    /* granted for a policy that changed meanwhile: given back */

    if (back.tokens) {
        (void) ngx_http_apiauth_lease_ask(&back, NULL);
    }

    while (!ngx_queue_empty(&lc->waiters)) {
        q = ngx_queue_head(&lc->waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_apiauth_waiter_t, queue);
        w->waiting = 0;

        w->handler(w, gp ? NGX_OK : NGX_ERROR, NULL);
    }

    ngx_free(lc);
}


/* eight integers; anything else is no answer, and logged */

static ngx_int_t
ngx_http_apiauth_lease_parse(redisReply *reply, ngx_http_apiauth_grant_t *g)
{
    size_t       i;
    long long    v[8];
    redisReply  *e;

    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 8) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_apiauth_lease_log, 0,
                      "apiauth: Redis refused a lease: %*s",
                      reply->type == REDIS_REPLY_ERROR
                      ? ngx_min(reply->len, (size_t) 256) : (size_t) 0,
                      reply->str);
        return NGX_ERROR;
    }

    for (i = 0; i < 8; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_INTEGER) {
            return NGX_ERROR;
        }

        v[i] = e->integer;
    }

    if (v[0] < 0 || v[1] < 0 || v[1] > 3) {
        return NGX_ERROR;
    }

    g->granted = v[0];
    g->blocked = (v[1] == 1) ? NGX_HTTP_APIAUTH_RATE_LIMITED
                 : (v[1] == 2) ? NGX_HTTP_APIAUTH_QUOTA_EXCEEDED
                 : (v[1] == 3) ? NGX_HTTP_APIAUTH_LEASE_LATE : 0;
    g->wait = v[2];
    g->used = v[3];
    g->start = v[4];
    g->end = v[5];
    g->now = v[6];
    g->tat = v[7];

    return NGX_OK;
}


/* what idle keys hold goes back, a few keys a round, from every worker */

static void
ngx_http_apiauth_lease_sweep(ngx_event_t *ev)
{
    ngx_uint_t                     i, n;
    ngx_http_apiauth_lease_t       back[NGX_HTTP_APIAUTH_SWEEP_KEYS];
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ev->data;

    if (ngx_exiting) {
        return;
    }

    n = ngx_http_apiauth_tokens_sweep(amcf->limits_zone, back,
                                      NGX_HTTP_APIAUTH_SWEEP_KEYS, 0);

    for (i = 0; i < n; i++) {
        (void) ngx_http_apiauth_lease_ask(&back[i], NULL);
    }

    ngx_add_timer(ev, NGX_HTTP_APIAUTH_SWEEP);
}


/*
 * nginx stops: the master gives back what the node holds, and pays the
 * debts, so that a node that stops leaves no token counted unspent.  The
 * workers are gone and nothing waits on the master: it may wait for
 * Redis, briefly (a reload keeps the zone, and its tokens, for the new
 * workers)
 */

void
ngx_http_apiauth_lease_exit_master(ngx_cycle_t *cycle)
{
    int                            argc;
    size_t                         argvlen[NGX_HTTP_APIAUTH_LEASE_ARGS];
    ngx_uint_t                     i, n, sent;
    const char                    *argv[NGX_HTTP_APIAUTH_LEASE_ARGS];
    redisReply                    *reply;
    redisContext                  *c;
    ngx_http_apiauth_lease_t       back[NGX_HTTP_APIAUTH_SWEEP_KEYS];
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_apiauth_module);

    if (amcf == NULL || amcf->used_line == 0 || amcf->limits_zone == NULL
        || amcf->limits_zone->data == NULL)
    {
        return;
    }

    c = NULL;
    sent = 0;

    for ( ;; ) {
        n = ngx_http_apiauth_tokens_sweep(amcf->limits_zone, back,
                                          NGX_HTTP_APIAUTH_SWEEP_KEYS, 1);
        if (n == 0) {
            break;
        }

        if (c == NULL) {
            c = ngx_http_apiauth_lease_connect(cycle, amcf);
            if (c == NULL) {
                break;
            }
        }

        for (i = 0; i < n; i++) {
            argc = NGX_HTTP_APIAUTH_LEASE_ARGS;
            ngx_http_apiauth_lease_argv(&back[i], 0, argv, argvlen);
            redisAppendCommandArgv(c, argc, argv, argvlen);
        }

        for (i = 0; i < n; i++) {
            if (redisGetReply(c, (void **) &reply) != REDIS_OK) {
                ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                              "apiauth: tokens not given back to Redis at "
                              "exit: %s", c->errstr);
                redisFree(c);
                return;
            }

            freeReplyObject(reply);
            sent++;
        }
    }

    if (c) {
        redisFree(c);
    }

    if (sent) {
        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "apiauth: the tokens and debts of %ui keys given back "
                      "to Redis at exit", sent);
    }
}


static redisContext *
ngx_http_apiauth_lease_connect(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf)
{
    int              n;
    u_char           db[NGX_INT_T_LEN];
    size_t           argvlen[3];
    const char      *argv[3];
    redisReply      *r;
    redisContext    *c;
    struct timeval   tv;

    tv.tv_sec = (long) (amcf->timeout / 1000);
    tv.tv_usec = (long) (amcf->timeout % 1000) * 1000;

    c = amcf->redis_unix
        ? redisConnectUnixWithTimeout((char *) amcf->redis_unix, tv)
        : redisConnectWithTimeout((char *) amcf->redis_host,
                                  amcf->redis_port, tv);

    if (c == NULL || c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        goto failed;
    }

    if (amcf->redis_password.len) {
        n = 0;
        argv[n] = "AUTH";
        argvlen[n++] = 4;

        if (amcf->redis_user.len) {
            argv[n] = (char *) amcf->redis_user.data;
            argvlen[n++] = amcf->redis_user.len;
        }

        argv[n] = (char *) amcf->redis_password.data;
        argvlen[n++] = amcf->redis_password.len;

        r = redisCommandArgv(c, n, argv, argvlen);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            goto refused;
        }

        freeReplyObject(r);
    }

    if (amcf->redis_db) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (char *) db;
        argvlen[1] = ngx_sprintf(db, "%ui", amcf->redis_db) - db;

        r = redisCommandArgv(c, 2, argv, argvlen);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            goto refused;
        }

        freeReplyObject(r);
    }

    return c;

refused:

    if (r) {
        freeReplyObject(r);
    }

failed:

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "apiauth: tokens not given back to Redis at exit: %s",
                  c ? c->errstr : "no memory");

    if (c) {
        redisFree(c);
    }

    return NULL;
}
