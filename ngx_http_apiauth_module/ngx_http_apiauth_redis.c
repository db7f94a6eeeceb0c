
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * Redis links: hiredis's asynchronous API on nginx's event loop.  A worker
 * has one link for lookups and one for the change feed, whose blocking
 * reads must not hold lookups back.  hiredis 0.14 has no timeouts, so the
 * connection and every command are bounded by our own timers; a command
 * that times out drops the connection, which fails every command in
 * flight, and the link reconnects with a backoff.  Each connection first
 * authenticates, selects the database, and reads the store's master key id,
 * which must be ours, and its schema.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apiauth_module.h"


#define NGX_HTTP_APIAUTH_REDIS_DOWN        0
#define NGX_HTTP_APIAUTH_REDIS_CONNECTING  1
#define NGX_HTTP_APIAUTH_REDIS_READY       2

#define NGX_HTTP_APIAUTH_BACKOFF_MIN       100
#define NGX_HTTP_APIAUTH_BACKOFF_MAX       2000


struct ngx_http_apiauth_redis_link_s {
    redisAsyncContext                  *ac;
    ngx_http_apiauth_main_conf_t       *amcf;
    ngx_log_t                          *log;
    const char                         *name;       /* for messages */
    ngx_uint_t                          kind;
    ngx_uint_t                          state;
    ngx_uint_t                          up;         /* counted as up */
    ngx_uint_t                          connected;  /* once, at least */
    ngx_uint_t                          failed;     /* since last ready */
    ngx_uint_t                          exiting;
    ngx_msec_t                          backoff;
    ngx_event_t                         connect_timer;
    ngx_event_t                         reconnect;
    ngx_http_apiauth_redis_ready_pt     ready;
    void                               *data;
};


static void ngx_http_apiauth_redis_connect(
    ngx_http_apiauth_redis_link_t *link);
static void ngx_http_apiauth_redis_drop(ngx_http_apiauth_redis_link_t *link,
    const char *why);
static void ngx_http_apiauth_redis_down(ngx_http_apiauth_redis_link_t *link);
static void ngx_http_apiauth_redis_schedule(
    ngx_http_apiauth_redis_link_t *link);
static void ngx_http_apiauth_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_apiauth_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_apiauth_redis_cmd_timeout(ngx_event_t *ev);
static void ngx_http_apiauth_redis_sent(ngx_http_apiauth_redis_link_t *link,
    ngx_http_apiauth_redis_cmd_t *cmd);
static void ngx_http_apiauth_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_apiauth_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_apiauth_redis_handshake(redisAsyncContext *ac,
    void *r, void *data);
static void ngx_http_apiauth_redis_meta(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_apiauth_redis_reply(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_apiauth_redis_read_handler(ngx_event_t *ev);
static void ngx_http_apiauth_redis_write_handler(ngx_event_t *ev);
static void ngx_http_apiauth_redis_add_read(void *data);
static void ngx_http_apiauth_redis_del_read(void *data);
static void ngx_http_apiauth_redis_add_write(void *data);
static void ngx_http_apiauth_redis_del_write(void *data);
static void ngx_http_apiauth_redis_cleanup(void *data);


/* ready, if set, is called each time the link is up and checked */

ngx_http_apiauth_redis_link_t *
ngx_http_apiauth_redis_open(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf, ngx_uint_t kind,
    ngx_http_apiauth_redis_ready_pt ready, void *data)
{
    ngx_http_apiauth_redis_link_t  *link;

    link = ngx_pcalloc(cycle->pool, sizeof(ngx_http_apiauth_redis_link_t));
    if (link == NULL) {
        return NULL;
    }

    link->amcf = amcf;
    link->log = cycle->log;
    link->kind = kind;
    link->name = ngx_http_apiauth_link_kinds[kind];
    link->backoff = NGX_HTTP_APIAUTH_BACKOFF_MIN;
    link->ready = ready;
    link->data = data;

    /* neither timer may hold a worker back from a graceful exit */

    link->connect_timer.handler = ngx_http_apiauth_redis_connect_timeout;
    link->connect_timer.log = cycle->log;
    link->connect_timer.data = link;
    link->connect_timer.cancelable = 1;

    link->reconnect.handler = ngx_http_apiauth_redis_reconnect_handler;
    link->reconnect.log = cycle->log;
    link->reconnect.data = link;
    link->reconnect.cancelable = 1;

    ngx_http_apiauth_redis_connect(link);

    return link;
}


void
ngx_http_apiauth_redis_close(ngx_http_apiauth_redis_link_t *link)
{
    redisAsyncContext  *ac;

    link->exiting = 1;

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (link->reconnect.timer_set) {
        ngx_del_timer(&link->reconnect);
    }

    ac = link->ac;

    if (ac) {
        link->ac = NULL;
        ngx_http_apiauth_redis_down(link);
        redisAsyncFree(ac);
    }
}


static void
ngx_http_apiauth_redis_connect(ngx_http_apiauth_redis_link_t *link)
{
    int                            n;
    const char                    *argv[4];
    size_t                         argvlen[4];
    u_char                         db[NGX_INT_T_LEN];
    redisAsyncContext             *ac;
    ngx_connection_t              *c;
    ngx_http_apiauth_main_conf_t  *amcf;

    amcf = link->amcf;

    /* an IP literal or a socket path: hiredis resolves nothing here */

    if (amcf->redis_unix) {
        ac = redisAsyncConnectUnix((char *) amcf->redis_unix);

    } else {
        ac = redisAsyncConnect((char *) amcf->redis_host, amcf->redis_port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: cannot connect to Redis at \"%V\": "
                      "out of memory", &amcf->redis_text);
        link->failed = 1;
        ngx_http_apiauth_redis_schedule(link);
        return;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: cannot connect to Redis at \"%V\": %s",
                      &amcf->redis_text, ac->errstr);
        redisAsyncFree(ac);
        link->failed = 1;
        ngx_http_apiauth_redis_schedule(link);
        return;
    }

    /*
     * a NAT that forgets an idle connection must not cost a timeout; TCP
     * only: on a unix socket hiredis would mark the context failed
     */

    if (amcf->redis_unix == NULL) {
        (void) redisEnableKeepAlive(&ac->c);
    }

    c = ngx_get_connection(ac->c.fd, link->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        link->failed = 1;
        ngx_http_apiauth_redis_schedule(link);
        return;
    }

    c->data = ac;
    c->read->handler = ngx_http_apiauth_redis_read_handler;
    c->write->handler = ngx_http_apiauth_redis_write_handler;
    c->read->log = link->log;
    c->write->log = link->log;

    /* the hooks get the connection: one owner per fd, whatever link holds */

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_apiauth_redis_add_read;
    ac->ev.delRead = ngx_http_apiauth_redis_del_read;
    ac->ev.addWrite = ngx_http_apiauth_redis_add_write;
    ac->ev.delWrite = ngx_http_apiauth_redis_del_write;
    ac->ev.cleanup = ngx_http_apiauth_redis_cleanup;
    ac->data = link;

    redisAsyncSetConnectCallback(ac, ngx_http_apiauth_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_apiauth_redis_on_disconnect);

    link->ac = ac;
    link->state = NGX_HTTP_APIAUTH_REDIS_CONNECTING;

    ngx_add_timer(&link->connect_timer, amcf->connect_timeout);

    /* hiredis keeps these until the socket connects; replies come in order */

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

        redisAsyncCommandArgv(ac, ngx_http_apiauth_redis_handshake,
                              (void *) "AUTH", n, argv, argvlen);
    }

    if (amcf->redis_db) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (char *) db;
        argvlen[1] = ngx_sprintf(db, "%ui", amcf->redis_db) - db;

        redisAsyncCommandArgv(ac, ngx_http_apiauth_redis_handshake,
                              (void *) "SELECT", 2, argv, argvlen);
    }

    argv[0] = "HMGET";
    argvlen[0] = 5;
    argv[1] = APIAUTH_STORE_META;
    argvlen[1] = sizeof(APIAUTH_STORE_META) - 1;
    argv[2] = "master_key_id";
    argvlen[2] = sizeof("master_key_id") - 1;
    argv[3] = "schema";
    argvlen[3] = sizeof("schema") - 1;

    redisAsyncCommandArgv(ac, ngx_http_apiauth_redis_meta, NULL, 4, argv,
                          argvlen);
}


/*
 * every command in flight is answered with NULL; when called from a hiredis
 * callback, hiredis frees the context once the callback returns
 */

static void
ngx_http_apiauth_redis_drop(ngx_http_apiauth_redis_link_t *link,
    const char *why)
{
    redisAsyncContext  *ac;

    ac = link->ac;

    link->ac = NULL;
    ngx_http_apiauth_redis_down(link);
    link->failed = 1;

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (why) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: Redis at \"%V\" %s (%s link); reconnecting",
                      &link->amcf->redis_text, why, link->name);
    }

    ngx_http_apiauth_redis_schedule(link);

    if (ac) {
        redisAsyncFree(ac);
    }
}


/* the link is down: apiauth_status counts the links up */

static void
ngx_http_apiauth_redis_down(ngx_http_apiauth_redis_link_t *link)
{
    link->state = NGX_HTTP_APIAUTH_REDIS_DOWN;

    if (link->up) {
        link->up = 0;
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_LINK_UP + link->kind,
                                  -1);
    }
}


/* from outside a hiredis callback: the link goes, its commands fail */

void
ngx_http_apiauth_redis_reset(ngx_http_apiauth_redis_link_t *link,
    const char *why)
{
    if (link->ac) {
        ngx_http_apiauth_redis_drop(link, why);
    }
}


static void
ngx_http_apiauth_redis_schedule(ngx_http_apiauth_redis_link_t *link)
{
    if (link->exiting || link->reconnect.timer_set) {
        return;
    }

    ngx_add_timer(&link->reconnect, link->backoff);

    link->backoff *= 2;

    if (link->backoff > NGX_HTTP_APIAUTH_BACKOFF_MAX) {
        link->backoff = NGX_HTTP_APIAUTH_BACKOFF_MAX;
    }
}


static void
ngx_http_apiauth_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_apiauth_redis_link_t  *link = ev->data;

    if (link->ac == NULL && !link->exiting && !ngx_exiting) {
        ngx_http_apiauth_redis_connect(link);
    }
}


static void
ngx_http_apiauth_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_apiauth_redis_drop(ev->data, "did not connect and answer in time");
}


static void
ngx_http_apiauth_redis_cmd_timeout(ngx_event_t *ev)
{
    ngx_http_apiauth_redis_cmd_t  *cmd = ev->data;

    ngx_http_apiauth_redis_drop(cmd->link, "did not answer in time");
}


/*
 * commands go out while the link is up, or while the first connection since
 * it last was up is being made; a link that failed answers at once; the
 * command's timeout is cmd->timeout, or the link's when 0, or none
 */

/*
 * lookups go out with the first connection's handshake, at once; records
 * only to a store that was checked (a write to the wrong Redis is kept)
 */

#define ngx_http_apiauth_redis_closed(link)                                  \
    ((link)->ac == NULL                                                      \
     || ((link)->state != NGX_HTTP_APIAUTH_REDIS_READY                       \
         && ((link)->failed                                                  \
             || (link)->kind == NGX_HTTP_APIAUTH_LINK_RECORDS)))

ngx_int_t
ngx_http_apiauth_redis_send(ngx_http_apiauth_redis_link_t *link,
    ngx_http_apiauth_redis_cmd_t *cmd, int argc, const char **argv,
    const size_t *argvlen)
{
    if (ngx_http_apiauth_redis_closed(link)) {
        return NGX_DECLINED;
    }

    if (redisAsyncCommandArgv(link->ac, ngx_http_apiauth_redis_reply, cmd,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    ngx_http_apiauth_redis_sent(link, cmd);

    return NGX_OK;
}


/* the same, a command already in Redis's protocol (RESP) */

ngx_int_t
ngx_http_apiauth_redis_send_formatted(ngx_http_apiauth_redis_link_t *link,
    ngx_http_apiauth_redis_cmd_t *cmd, u_char *buf, size_t len)
{
    if (ngx_http_apiauth_redis_closed(link)) {
        return NGX_DECLINED;
    }

    if (redisAsyncFormattedCommand(link->ac, ngx_http_apiauth_redis_reply,
                                   cmd, (char *) buf, len)
        != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    ngx_http_apiauth_redis_sent(link, cmd);

    return NGX_OK;
}


static void
ngx_http_apiauth_redis_sent(ngx_http_apiauth_redis_link_t *link,
    ngx_http_apiauth_redis_cmd_t *cmd)
{
    /*
     * a lookup's timer is not cancelable: a graceful exit waits for the
     * answer (or the timeout) of a lookup that a request waits for
     */

    cmd->link = link;

    ngx_memzero(&cmd->timer, sizeof(ngx_event_t));

    /* replies come in order: the last command of a pipeline bounds all */

    if (cmd->timeout == NGX_TIMER_INFINITE) {
        return;
    }

    cmd->timer.handler = ngx_http_apiauth_redis_cmd_timeout;
    cmd->timer.log = link->log;
    cmd->timer.data = cmd;
    cmd->timer.cancelable = cmd->cancelable;

    ngx_add_timer(&cmd->timer, cmd->timeout ? cmd->timeout
                                            : link->amcf->timeout);
}


static void
ngx_http_apiauth_redis_reply(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_apiauth_redis_cmd_t   *cmd = data;
    ngx_http_apiauth_redis_link_t  *link = cmd->link;

    redisReply  *reply = r;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    /* a reply after a failed handshake is not trusted */

    if (link->ac != ac || link->state != NGX_HTTP_APIAUTH_REDIS_READY) {
        reply = NULL;
    }

    cmd->handler(cmd, reply);
}


static void
ngx_http_apiauth_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_apiauth_redis_link_t  *link = ac->data;

    if (status == REDIS_OK) {
        return;
    }

    /* hiredis frees the context right after this callback */

    ngx_log_error(NGX_LOG_ERR, link->log, 0,
                  "apiauth: cannot connect to Redis at \"%V\": %s",
                  &link->amcf->redis_text, ac->errstr);

    if (link->ac == ac) {
        link->ac = NULL;
        ngx_http_apiauth_redis_down(link);
        link->failed = 1;

        if (link->connect_timer.timer_set) {
            ngx_del_timer(&link->connect_timer);
        }

        ngx_http_apiauth_redis_schedule(link);
    }
}


static void
ngx_http_apiauth_redis_on_disconnect(const redisAsyncContext *ac,
    int status)
{
    ngx_http_apiauth_redis_link_t  *link = ac->data;

    /* a context we dropped ourselves has been accounted for already */

    if (link->ac != ac) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, link->log, 0,
                  "apiauth: lost the connection to Redis at \"%V\" (%s "
                  "link): %s", &link->amcf->redis_text, link->name,
                  ac->errstr ? ac->errstr : "closed");

    link->ac = NULL;
    ngx_http_apiauth_redis_down(link);
    link->failed = 1;

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    ngx_http_apiauth_redis_schedule(link);
}


/* AUTH and SELECT: an error reply (NOAUTH, WRONGPASS, ...) drops the link */

static void
ngx_http_apiauth_redis_handshake(redisAsyncContext *ac, void *r, void *data)
{
    redisReply                     *reply = r;
    ngx_http_apiauth_redis_link_t  *link = ac->data;

    if (reply == NULL || link->ac != ac
        || reply->type != REDIS_REPLY_ERROR)
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, link->log, 0,
                  "apiauth: Redis at \"%V\" refused %s: %s",
                  &link->amcf->redis_text, (char *) data, reply->str);

    ngx_http_apiauth_redis_drop(link, NULL);
}


/*
 * once per connection: the store must be the one our master key made, in
 * a layout we know; a store of an older schema is read (the ready handler
 * hears which)
 */

static void
ngx_http_apiauth_redis_meta(redisAsyncContext *ac, void *r, void *data)
{
    ngx_int_t                       schema;
    redisReply                     *reply = r;
    redisReply                     *id, *sv;
    ngx_http_apiauth_main_conf_t   *amcf;
    ngx_http_apiauth_redis_link_t  *link = ac->data;

    if (reply == NULL || link->ac != ac) {
        return;
    }

    amcf = link->amcf;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: Redis at \"%V\" refused to read the key "
                      "store's master key id: %*s", &amcf->redis_text,
                      reply->type == REDIS_REPLY_ERROR
                      ? ngx_min(reply->len, (size_t) 256) : (size_t) 0,
                      reply->str);
        ngx_http_apiauth_redis_drop(link, NULL);
        return;
    }

    id = reply->element[0];
    sv = reply->element[1];

    if (id->type != REDIS_REPLY_STRING) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: the key store at \"%V\" is not initialised: "
                      "run \"apiauth-ctl init\"", &amcf->redis_text);
        ngx_http_apiauth_redis_drop(link, NULL);
        return;
    }

    if (id->len != APIAUTH_KEY_ID_LEN
        || ngx_memcmp(id->str, amcf->master_id, APIAUTH_KEY_ID_LEN) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: master key mismatch: \"%V\" has id %*s, the "
                      "key store at \"%V\" was initialised with id %*s",
                      &amcf->master_file, (size_t) APIAUTH_KEY_ID_LEN,
                      amcf->master_id, &amcf->redis_text,
                      ngx_min((size_t) id->len, 64), id->str);
        ngx_http_apiauth_redis_drop(link, NULL);
        return;
    }

    schema = (sv->type == REDIS_REPLY_STRING)
             ? ngx_atoi((u_char *) sv->str, sv->len) : 1;

    /* a layout we do not know is not read: a security check fails closed */

    if (schema == NGX_ERROR || schema > APIAUTH_STORE_SCHEMA) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: the key store at \"%V\" has schema %*s, "
                      "which this module (schema %d) cannot read: upgrade "
                      "ngx_http_apiauth_module", &amcf->redis_text,
                      ngx_min((size_t) sv->len, 32), sv->str,
                      APIAUTH_STORE_SCHEMA);
        ngx_http_apiauth_redis_drop(link, NULL);
        return;
    }

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (link->failed) {
        ngx_log_error(NGX_LOG_NOTICE, link->log, 0,
                      "apiauth: connected to Redis at \"%V\" (%s link)",
                      &amcf->redis_text, link->name);
    }

    link->state = NGX_HTTP_APIAUTH_REDIS_READY;
    link->failed = 0;
    link->up = 1;

    ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_LINK_UP + link->kind, 1);

    if (link->connected) {
        ngx_http_apiauth_stat_add(NGX_HTTP_APIAUTH_STAT_RECONNECTS + link->kind,
                                  1);
    }

    link->connected = 1;
    link->backoff = NGX_HTTP_APIAUTH_BACKOFF_MIN;

    if (link->ready) {
        link->ready(link, link->data, (ngx_uint_t) schema);
    }
}


static void
ngx_http_apiauth_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_http_apiauth_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleWrite(c->data);
}


/*
 * level-triggered: hiredis reads at most 16 KiB at a time, and an
 * edge-triggered event would not fire again for the rest of a large reply
 */

static void
ngx_http_apiauth_redis_add_read(void *data)
{
    ngx_connection_t  *c = data;

    if (!c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "apiauth: cannot watch the Redis connection");
        }
    }
}


static void
ngx_http_apiauth_redis_del_read(void *data)
{
    ngx_connection_t  *c = data;

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_apiauth_redis_add_write(void *data)
{
    ngx_connection_t  *c = data;

    if (!c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "apiauth: cannot watch the Redis connection");
        }
    }
}


static void
ngx_http_apiauth_redis_del_write(void *data)
{
    ngx_connection_t  *c = data;

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/* hiredis closes the fd itself right after this: we must not */

static void
ngx_http_apiauth_redis_cleanup(void *data)
{
    ngx_connection_t  *c = data;

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}
