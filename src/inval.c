/*
 * inval.c — the invalidation connection (see inval.h).
 *
 *   connect -> [AUTH] -> CLIENT ID -> SUBSCRIBE __redis__:invalidate
 *           -> ready: bump srv->inval_gen, turn tracking on everywhere
 *   message -> fill_invalidate_key / fill_invalidate_all
 *   error, EOF, PING unanswered -> server_cache_lost, reconnect with backoff
 *
 * Replies are decoded with hiredis's reader: this connection carries only
 * small messages, so structured replies are the convenient form.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <hiredis/read.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fill.h"
#include "inval.h"
#include "log.h"
#include "server.h"
#include "upstream.h"

#define INVAL_CHANNEL "__redis__:invalidate"
#define INVAL_PING_MS 1000
#define INVAL_DEAD_MS 3000

enum inval_state { IV_DOWN, IV_AUTH, IV_ID, IV_SUBSCRIBING, IV_READY };

struct inval {
    struct server *srv;
    struct bufferevent *bev;
    redisReader *reader;
    enum inval_state state;
    long long id;
    struct event *timer;       /* reconnect */
    unsigned backoff_ms;
    uint64_t ping_sent_ms;     /* 0 = no ping outstanding */
    uint64_t last_ping_ms;
};

static void iv_connect(struct inval *iv);

static void iv_send(struct inval *iv, const char *cmd)
{
    evbuffer_add(bufferevent_get_output(iv->bev), cmd, strlen(cmd));
}

/* Drop the connection; flush the cache if it had been live. */
static void iv_fail(struct inval *iv, const char *why)
{
    struct server *srv = iv->srv;
    struct timeval tv;

    if (iv->state == IV_READY || srv->cache_usable)
        server_cache_lost(srv, why);
    if (iv->bev) {
        bufferevent_free(iv->bev);
        iv->bev = NULL;
    }
    if (iv->reader) {
        redisReaderFree(iv->reader);
        iv->reader = NULL;
    }
    iv->state = IV_DOWN;
    iv->id = 0;
    iv->ping_sent_ms = 0;
    if (srv->shutting_down)
        return;
    iv->backoff_ms = iv->backoff_ms ? iv->backoff_ms * 2 : 50;
    if (iv->backoff_ms > 1000)
        iv->backoff_ms = 1000;
    tv.tv_sec = iv->backoff_ms / 1000;
    tv.tv_usec = (iv->backoff_ms % 1000) * 1000;
    evtimer_add(iv->timer, &tv);
}

static int iv_is(const redisReply *r, const char *s)
{
    return r && (r->type == REDIS_REPLY_STRING ||
                 r->type == REDIS_REPLY_STATUS) &&
           r->len == strlen(s) && strncasecmp(r->str, s, r->len) == 0;
}

/* A pushed message on the subscribed connection. */
static void iv_message(struct inval *iv, redisReply *r)
{
    struct server *srv = iv->srv;
    redisReply *payload;
    size_t i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return;
    if (iv_is(r->element[0], "pong")) {
        iv->ping_sent_ms = 0;
        return;
    }
    if (!iv_is(r->element[0], "message") || r->elements != 3)
        return;
    payload = r->element[2];
    if (payload->type == REDIS_REPLY_NIL) {
        fill_invalidate_all(srv, -1, FILL_SRC_TRACKING);
        return;
    }
    if (payload->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < payload->elements; i++) {
            redisReply *k = payload->element[i];

            if (k->type == REDIS_REPLY_STRING)
                fill_invalidate_key(srv, k->str, k->len, FILL_SRC_TRACKING);
        }
    } else if (payload->type == REDIS_REPLY_STRING) {
        fill_invalidate_key(srv, payload->str, payload->len, FILL_SRC_TRACKING);
    }
}

static void iv_reply(struct inval *iv, redisReply *r)
{
    struct server *srv = iv->srv;

    switch (iv->state) {
    case IV_AUTH:
        if (r->type == REDIS_REPLY_ERROR) {
            log_error("invalidation connection: AUTH failed: %s", r->str);
            iv_fail(iv, "AUTH failed");
            return;
        }
        iv->state = IV_ID;
        break;
    case IV_ID:
        if (r->type != REDIS_REPLY_INTEGER) {
            log_error("invalidation connection: CLIENT ID failed");
            iv_fail(iv, "CLIENT ID failed");
            return;
        }
        iv->id = r->integer;
        iv->state = IV_SUBSCRIBING;
        break;
    case IV_SUBSCRIBING:
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
            !iv_is(r->element[0], "subscribe")) {
            log_error("invalidation connection: SUBSCRIBE failed");
            iv_fail(iv, "SUBSCRIBE failed");
            return;
        }
        iv->state = IV_READY;
        iv->backoff_ms = 0;
        evtimer_del(iv->timer);
        srv->inval_gen++;
        if (srv->inval_gen == 0)
            srv->inval_gen = 1;
        srv->cache_usable = 1;
        log_info("invalidation channel up (client id %lld)", iv->id);
        upstream_tracking_refresh(srv);
        break;
    case IV_READY:
        iv_message(iv, r);
        break;
    case IV_DOWN:
        break;
    }
}

static void iv_read(struct bufferevent *bev, void *arg)
{
    struct inval *iv = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    void *reply;

    if (len == 0)
        return;
    if (redisReaderFeed(iv->reader, (const char *)evbuffer_pullup(in, -1),
                        len) != REDIS_OK) {
        iv_fail(iv, "out of memory");
        return;
    }
    evbuffer_drain(in, len);
    for (;;) {
        if (redisReaderGetReply(iv->reader, &reply) != REDIS_OK) {
            log_error("invalidation connection: malformed reply");
            iv_fail(iv, "malformed reply");
            return;
        }
        if (!reply)
            break;
        iv_reply(iv, reply);
        freeReplyObject(reply);
        if (!iv->bev)
            return;
    }
}

static void iv_event(struct bufferevent *bev, short what, void *arg)
{
    struct inval *iv = arg;

    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (iv->state == IV_READY)
            log_warn("invalidation connection lost");
        iv_fail(iv, "invalidation connection lost");
    }
}

/* Reconnect when down; give up on a connection not ready by
 * upstream.connect_timeout. */
static void iv_timer(evutil_socket_t fd, short what, void *arg)
{
    struct inval *iv = arg;

    if (iv->state == IV_DOWN) {
        iv_connect(iv);
    } else if (iv->state != IV_READY) {
        log_warn("invalidation connection: not ready after %llu ms",
                 (unsigned long long)iv->srv->conf.upstream.connect_timeout_ms);
        iv_fail(iv, "invalidation connection timed out");
    }
}

static void iv_connect(struct inval *iv)
{
    struct server *srv = iv->srv;
    struct sockaddr_storage ss;
    socklen_t sslen;
    char cmd[1024];

    iv->reader = redisReaderCreate();
    iv->bev = bufferevent_socket_new(srv->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!iv->reader || !iv->bev ||
        addr_parse(srv->conf.upstream.address, &ss, &sslen) < 0 ||
        bufferevent_socket_connect(iv->bev, (struct sockaddr *)&ss,
                                   (int)sslen) < 0) {
        iv_fail(iv, "cannot connect");
        return;
    }
    bufferevent_setcb(iv->bev, iv_read, NULL, iv_event, iv);
    bufferevent_enable(iv->bev, EV_READ | EV_WRITE);
    iv->state = IV_ID;
    if (srv->conf.upstream.password) {
        const char *u = srv->conf.upstream.username;
        const char *p = srv->conf.upstream.password;

        if (u)
            snprintf(cmd, sizeof(cmd), "*3\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
                     strlen(u), u, strlen(p), p);
        else
            snprintf(cmd, sizeof(cmd), "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n",
                     strlen(p), p);
        iv_send(iv, cmd);
        iv->state = IV_AUTH;
    }
    iv_send(iv, "*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n");
    iv_send(iv, "*2\r\n$9\r\nSUBSCRIBE\r\n$20\r\n" INVAL_CHANNEL "\r\n");
    iv->last_ping_ms = server_now_ms();
    {
        uint64_t ms = srv->conf.upstream.connect_timeout_ms;
        struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

        evtimer_add(iv->timer, &tv);
    }
}

struct inval *inval_start(struct server *srv)
{
    struct inval *iv = calloc(1, sizeof(*iv));

    if (!iv)
        return NULL;
    iv->srv = srv;
    iv->timer = evtimer_new(srv->base, iv_timer, iv);
    if (!iv->timer) {
        free(iv);
        return NULL;
    }
    iv_connect(iv);
    return iv;
}

void inval_stop(struct inval *iv)
{
    if (!iv)
        return;
    if (iv->bev)
        bufferevent_free(iv->bev);
    if (iv->reader)
        redisReaderFree(iv->reader);
    event_free(iv->timer);
    free(iv);
}

long long inval_client_id(const struct server *srv)
{
    const struct inval *iv = srv->inval;

    return iv && iv->state == IV_READY ? iv->id : 0;
}

void inval_tick(struct inval *iv, uint64_t now_ms)
{
    if (!iv || iv->state != IV_READY)
        return;
    if (iv->ping_sent_ms && now_ms - iv->ping_sent_ms > INVAL_DEAD_MS) {
        log_warn("invalidation connection: PING unanswered for %d ms",
                 INVAL_DEAD_MS);
        iv_fail(iv, "PING unanswered");
        return;
    }
    if (!iv->ping_sent_ms && now_ms - iv->last_ping_ms >= INVAL_PING_MS) {
        iv_send(iv, "*1\r\n$4\r\nPING\r\n");
        iv->ping_sent_ms = now_ms;
        iv->last_ping_ms = now_ms;
    }
}
