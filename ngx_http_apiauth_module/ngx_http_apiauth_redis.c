
/*
 * Copyright (C) ngx_http_apiauth_module authors
 *
 * One Redis connection per worker: hiredis's asynchronous API on nginx's
 * event loop.  hiredis 0.14 has no timeouts, so the connection and every
 * command are bounded by our own timers; a command that times out drops the
 * connection, which fails every command in flight, and the worker
 * reconnects with a backoff.  Each connection first authenticates, selects
 * the database and compares the store's master key id with ours.
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


typedef struct {
    redisAsyncContext              *ac;
    ngx_http_apiauth_main_conf_t   *amcf;
    ngx_log_t                      *log;
    ngx_uint_t                      state;
    ngx_uint_t                      failed;     /* since last ready */
    ngx_uint_t                      exiting;
    ngx_msec_t                      backoff;
    ngx_event_t                     connect_timer;
    ngx_event_t                     reconnect;
} ngx_http_apiauth_redis_link_t;


static void ngx_http_apiauth_redis_connect(void);
static void ngx_http_apiauth_redis_drop(const char *why);
static void ngx_http_apiauth_redis_schedule(void);
static void ngx_http_apiauth_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_apiauth_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_apiauth_redis_cmd_timeout(ngx_event_t *ev);
static void ngx_http_apiauth_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_apiauth_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_apiauth_redis_handshake(redisAsyncContext *ac,
    void *r, void *data);
static void ngx_http_apiauth_redis_key_id(redisAsyncContext *ac, void *r,
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


static ngx_http_apiauth_redis_link_t  ngx_http_apiauth_redis_link;


ngx_int_t
ngx_http_apiauth_redis_init(ngx_cycle_t *cycle,
    ngx_http_apiauth_main_conf_t *amcf)
{
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

    ngx_memzero(link, sizeof(ngx_http_apiauth_redis_link_t));

    link->amcf = amcf;
    link->log = cycle->log;
    link->backoff = NGX_HTTP_APIAUTH_BACKOFF_MIN;

    /* neither timer may hold a worker back from a graceful exit */

    link->connect_timer.handler = ngx_http_apiauth_redis_connect_timeout;
    link->connect_timer.log = cycle->log;
    link->connect_timer.data = link;
    link->connect_timer.cancelable = 1;

    link->reconnect.handler = ngx_http_apiauth_redis_reconnect_handler;
    link->reconnect.log = cycle->log;
    link->reconnect.data = link;
    link->reconnect.cancelable = 1;

    ngx_http_apiauth_redis_connect();

    return NGX_OK;
}


void
ngx_http_apiauth_redis_exit(void)
{
    redisAsyncContext              *ac;
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

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
        link->state = NGX_HTTP_APIAUTH_REDIS_DOWN;
        redisAsyncFree(ac);
    }
}


static void
ngx_http_apiauth_redis_connect(void)
{
    int                             n;
    const char                     *argv[3];
    size_t                          argvlen[3];
    u_char                          db[NGX_INT_T_LEN];
    redisAsyncContext              *ac;
    ngx_connection_t               *c;
    ngx_http_apiauth_main_conf_t   *amcf;
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

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
        ngx_http_apiauth_redis_schedule();
        return;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: cannot connect to Redis at \"%V\": %s",
                      &amcf->redis_text, ac->errstr);
        redisAsyncFree(ac);
        link->failed = 1;
        ngx_http_apiauth_redis_schedule();
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
        ngx_http_apiauth_redis_schedule();
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

    argv[0] = "HGET";
    argvlen[0] = 4;
    argv[1] = APIAUTH_STORE_META;
    argvlen[1] = sizeof(APIAUTH_STORE_META) - 1;
    argv[2] = "master_key_id";
    argvlen[2] = sizeof("master_key_id") - 1;

    redisAsyncCommandArgv(ac, ngx_http_apiauth_redis_key_id, NULL, 3, argv,
                          argvlen);
}


/*
 * every command in flight is answered with NULL; when called from a hiredis
 * callback, hiredis frees the context once the callback returns
 */

static void
ngx_http_apiauth_redis_drop(const char *why)
{
    redisAsyncContext              *ac;
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

    ac = link->ac;

    link->ac = NULL;
    link->state = NGX_HTTP_APIAUTH_REDIS_DOWN;
    link->failed = 1;

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (why) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: Redis at \"%V\" %s; reconnecting",
                      &link->amcf->redis_text, why);
    }

    ngx_http_apiauth_redis_schedule();

    if (ac) {
        redisAsyncFree(ac);
    }
}


static void
ngx_http_apiauth_redis_schedule(void)
{
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

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
        ngx_http_apiauth_redis_connect();
    }
}


static void
ngx_http_apiauth_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_apiauth_redis_drop("did not connect and answer in time");
}


static void
ngx_http_apiauth_redis_cmd_timeout(ngx_event_t *ev)
{
    ngx_http_apiauth_redis_drop("did not answer in time");
}


/*
 * lookups go out while the link is up, or while the first connection since
 * it last was up is being made; a link that failed answers at once
 */

ngx_int_t
ngx_http_apiauth_redis_send(ngx_http_apiauth_redis_cmd_t *cmd, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

    if (link->ac == NULL
        || (link->state != NGX_HTTP_APIAUTH_REDIS_READY && link->failed))
    {
        return NGX_DECLINED;
    }

    if (redisAsyncCommandArgv(link->ac, ngx_http_apiauth_redis_reply, cmd,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    /*
     * not cancelable: a graceful exit waits for the answer (or the timeout)
     * of a lookup that a request waits for
     */

    ngx_memzero(&cmd->timer, sizeof(ngx_event_t));
    cmd->timer.handler = ngx_http_apiauth_redis_cmd_timeout;
    cmd->timer.log = link->log;
    cmd->timer.data = cmd;

    ngx_add_timer(&cmd->timer, link->amcf->timeout);

    return NGX_OK;
}


static void
ngx_http_apiauth_redis_reply(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_apiauth_redis_cmd_t   *cmd = data;
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

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
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

    if (status == REDIS_OK) {
        return;
    }

    /* hiredis frees the context right after this callback */

    ngx_log_error(NGX_LOG_ERR, link->log, 0,
                  "apiauth: cannot connect to Redis at \"%V\": %s",
                  &link->amcf->redis_text, ac->errstr);

    if (link->ac == ac) {
        link->ac = NULL;
        link->state = NGX_HTTP_APIAUTH_REDIS_DOWN;
        link->failed = 1;

        if (link->connect_timer.timer_set) {
            ngx_del_timer(&link->connect_timer);
        }

        ngx_http_apiauth_redis_schedule();
    }
}


static void
ngx_http_apiauth_redis_on_disconnect(const redisAsyncContext *ac,
    int status)
{
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

    /* a context we dropped ourselves has been accounted for already */

    if (link->ac != ac) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, link->log, 0,
                  "apiauth: lost the connection to Redis at \"%V\": %s",
                  &link->amcf->redis_text,
                  ac->errstr ? ac->errstr : "closed");

    link->ac = NULL;
    link->state = NGX_HTTP_APIAUTH_REDIS_DOWN;
    link->failed = 1;

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    ngx_http_apiauth_redis_schedule();
}


/* AUTH and SELECT: an error reply (NOAUTH, WRONGPASS, ...) drops the link */

static void
ngx_http_apiauth_redis_handshake(redisAsyncContext *ac, void *r, void *data)
{
    redisReply                     *reply = r;
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

    if (reply == NULL || link->ac != ac
        || reply->type != REDIS_REPLY_ERROR)
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, link->log, 0,
                  "apiauth: Redis at \"%V\" refused %s: %s",
                  &link->amcf->redis_text, (char *) data, reply->str);

    ngx_http_apiauth_redis_drop(NULL);
}


/* once per connection: the store must be the one our master key made */

static void
ngx_http_apiauth_redis_key_id(redisAsyncContext *ac, void *r, void *data)
{
    redisReply                     *reply = r;
    ngx_http_apiauth_main_conf_t   *amcf;
    ngx_http_apiauth_redis_link_t  *link = &ngx_http_apiauth_redis_link;

    if (reply == NULL || link->ac != ac) {
        return;
    }

    amcf = link->amcf;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: Redis at \"%V\" refused to read the master "
                      "key id: %s", &amcf->redis_text, reply->str);
        ngx_http_apiauth_redis_drop(NULL);
        return;
    }

    if (reply->type != REDIS_REPLY_STRING) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: the key store at \"%V\" is not initialised: "
                      "run \"apiauth-ctl init\"", &amcf->redis_text);
        ngx_http_apiauth_redis_drop(NULL);
        return;
    }

    if (reply->len != APIAUTH_KEY_ID_LEN
        || ngx_memcmp(reply->str, amcf->master_id, APIAUTH_KEY_ID_LEN) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "apiauth: master key mismatch: \"%V\" has id %*s, the "
                      "key store at \"%V\" was initialised with id %*s",
                      &amcf->master_file, (size_t) APIAUTH_KEY_ID_LEN,
                      amcf->master_id, &amcf->redis_text,
                      ngx_min((size_t) reply->len, 64), reply->str);
        ngx_http_apiauth_redis_drop(NULL);
        return;
    }

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (link->failed) {
        ngx_log_error(NGX_LOG_NOTICE, link->log, 0,
                      "apiauth: connected to Redis at \"%V\"",
                      &amcf->redis_text);
    }

    link->state = NGX_HTTP_APIAUTH_REDIS_READY;
    link->failed = 0;
    link->backoff = NGX_HTTP_APIAUTH_BACKOFF_MIN;
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
