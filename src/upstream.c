/*
 * upstream.c — shared and dedicated connections to the upstream Redis (see
 * upstream.h).
 *
 * Life of a connection:
 *
 *   DOWN --connect--> CONNECTING --connected--> HANDSHAKE --AUTH ok--> READY
 *     ^                   |                         |                    |
 *     +---- backoff <-----+---- error / timeout ----+--------------------+
 *
 * AUTH and CLIENT TRACKING are queued as upops right after the connect call,
 * so they precede anything else on the wire. Shared connections come back by
 * themselves after a failure, with exponential backoff; dedicated ones are
 * simply closed and their client told.
 */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "client.h"
#include "fill.h"
#include "inval.h"
#include "log.h"
#include "proxy.h"
#include "server.h"
#include "upstream.h"

#define UP_BACKOFF_MIN_MS 50
#define UP_BACKOFF_MAX_MS 1000
#define UP_IDLE_MAX 16
#define UP_SALVAGE_READ (64 * 1024)  /* bytes per read after a failure */

static int up_connect(struct upconn *u);
static void up_fail(struct upconn *u, const char *msg);

/* ---- upops ---- */

static struct upop *upop_new(struct server *srv)
{
    struct upop *op = srv->free_ops;

    if (op)
        srv->free_ops = op->next;
    else if (!(op = malloc(sizeof(*op))))
        return NULL;
    memset(op, 0, sizeof(*op));
    return op;
}

static void upop_free(struct server *srv, struct upop *op)
{
    op->next = srv->free_ops;
    srv->free_ops = op;
}

static void up_push(struct upconn *u, struct upop *op)
{
    op->sent_ns = server_clock_ns(u->srv);
    op->next = NULL;
    if (u->tail)
        u->tail->next = op;
    else
        u->head = op;
    u->tail = op;
    u->nops++;
}

static struct upop *up_pop(struct upconn *u)
{
    struct upop *op = u->head;

    if (op) {
        u->head = op->next;
        if (!u->head)
            u->tail = NULL;
        u->nops--;
    }
    return op;
}

/* Format a multibulk request into out. */
static int up_format(struct evbuffer *out, int argc, const char *const *argv,
                     const size_t *lens)
{
    int i;

    if (evbuffer_add_printf(out, "*%d\r\n", argc) < 0)
        return -1;
    for (i = 0; i < argc; i++) {
        if (evbuffer_add_printf(out, "$%zu\r\n", lens[i]) < 0 ||
            evbuffer_add(out, argv[i], lens[i]) < 0 ||
            evbuffer_add(out, "\r\n", 2) < 0)
            return -1;
    }
    return 0;
}

/* Queue a request of corral's own. */
static int up_internal(struct upconn *u, enum upop_kind kind, long long arg,
                       int argc, const char *const *argv)
{
    size_t lens[8];
    struct upop *op;
    int i;

    for (i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    op = upop_new(u->srv);
    if (!op)
        return -1;
    if (up_format(bufferevent_get_output(u->bev), argc, argv, lens) < 0) {
        upop_free(u->srv, op);
        return -1;
    }
    op->kind = kind;
    op->arg = arg;
    up_push(u, op);
    return 0;
}

static int up_select(struct upconn *u, int db)
{
    char num[16];
    const char *argv[2] = { "SELECT", num };

    snprintf(num, sizeof(num), "%d", db);
    if (up_internal(u, UPOP_SELECT, db, 2, argv) < 0)
        return -1;
    u->db = db;
    return 0;
}

static void up_send_tracking(struct upconn *u)
{
    struct server *srv = u->srv;
    char id[32];
    const char *argv[6] = { "CLIENT", "TRACKING", "on", "REDIRECT", id,
                            "BCAST" };
    long long cid = inval_client_id(srv);

    if (cid <= 0 || u->index < 0 || srv->conf.cache.invalidation == CONF_INVAL_NONE)
        return;
    snprintf(id, sizeof(id), "%lld", cid);
    if (up_internal(u, UPOP_TRACKING, srv->inval_gen,
                    srv->conf.cache.invalidation == CONF_INVAL_BCAST ? 6 : 5,
                    argv) == 0)
        u->tracking_want = srv->inval_gen;
}

/* ---- sending ---- */

static int up_prepare(struct upconn *u, enum upop_kind kind, int db)
{
    if (u->db != db)
        return up_select(u, db);
    return 0;
}

struct upop *upstream_send(struct upconn *u, enum upop_kind kind, void *target,
                           int db, struct evbuffer *src, size_t len)
{
    struct upop *op;

    if (!u->bev || up_prepare(u, kind, db) < 0)
        return NULL;
    op = upop_new(u->srv);
    if (!op)
        return NULL;
    if (evbuffer_remove_buffer(src, bufferevent_get_output(u->bev), len) !=
        (int)len) {
        upop_free(u->srv, op);
        up_fail(u, "ERR upstream unavailable");
        return NULL;
    }
    op->kind = kind;
    op->target = target;
    if (u->stream) {
        upop_free(u->srv, op);
        return op;
    }
    up_push(u, op);
    return op;
}

struct upop *upstream_send_argv(struct upconn *u, enum upop_kind kind,
                                void *target, int db, int argc,
                                const char *const *argv, const size_t *lens)
{
    struct upop *op;

    if (!u->bev || up_prepare(u, kind, db) < 0)
        return NULL;
    op = upop_new(u->srv);
    if (!op)
        return NULL;
    if (up_format(bufferevent_get_output(u->bev), argc, argv, lens) < 0) {
        upop_free(u->srv, op);
        up_fail(u, "ERR upstream unavailable");
        return NULL;
    }
    op->kind = kind;
    op->target = target;
    up_push(u, op);
    return op;
}

/* ---- replies ---- */

/* A reply of len bytes for one of corral's own requests. */
static int up_internal_reply(struct upconn *u, struct upop *op,
                             struct evbuffer *in, size_t len)
{
    struct server *srv = u->srv;
    char msg[128];
    size_t n = len < sizeof(msg) - 1 ? len : sizeof(msg) - 1;
    int is_err = u->scan.type == '-';

    if (is_err) {
        evbuffer_copyout(in, msg, n);
        msg[n] = '\0';
        msg[strcspn(msg, "\r\n")] = '\0';
    }
    evbuffer_drain(in, len);
    switch (op->kind) {
    case UPOP_AUTH:
        if (is_err) {
            log_error("upstream %s: AUTH failed: %s",
                      srv->conf.upstream.address, msg + 1);
            return -1;
        }
        if (u->state == UP_HANDSHAKE) {
            u->state = UP_READY;
            u->backoff_ms = 0;
        }
        break;
    case UPOP_SELECT:
        if (is_err) {
            log_warn("upstream SELECT %lld failed: %s", op->arg, msg + 1);
            u->db = -1;           /* unknown: select again next time */
        }
        break;
    case UPOP_TRACKING:
        if (is_err) {
            log_error("upstream CLIENT TRACKING failed: %s", msg + 1);
            u->tracking_want = 0;
        } else if ((unsigned)op->arg == srv->inval_gen) {
            u->tracking_gen = (unsigned)op->arg;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* Is the pushed reply of len bytes at the front of in the last
 * "unsubscribe"-kind confirmation (subscription count 0), which ends the
 * client's subscribed state? */
static int up_stream_ends(struct evbuffer *in, size_t len,
                          const struct resp_scanner *s)
{
    static const char *const kinds[] = { "unsubscribe", "punsubscribe",
                                         "sunsubscribe" };
    char head[32];
    size_t i, n = len < sizeof(head) ? len : sizeof(head);
    char tail[5];

    if (s->type != '*' || s->num != 3 || len < 16)
        return 0;
    evbuffer_copyout(in, head, n);
    {
        struct evbuffer_ptr p;

        if (evbuffer_ptr_set(in, &p, len - 5, EVBUFFER_PTR_SET) < 0 ||
            evbuffer_copyout_from(in, &p, tail, 5) != 5)
            return 0;
    }
    if (memcmp(tail, "\n:0\r\n", 5) != 0)
        return 0;
    for (i = 0; i < 3; i++) {
        size_t kl = strlen(kinds[i]);
        char want[24];
        int wl = snprintf(want, sizeof(want), "*3\r\n$%zu\r\n", kl);

        if (n >= (size_t)wl + kl && memcmp(head, want, (size_t)wl) == 0 &&
            strncasecmp(head + wl, kinds[i], kl) == 0)
            return 1;
    }
    return 0;
}

/* Deliver every complete reply in u's input. Returns 0, or -1 when u was
 * failed or released meanwhile (a malformed reply, a reply nobody asked
 * for, a handler that let the connection go): the caller must not touch u
 * again, it may be freed. */
static int up_parse(struct upconn *u)
{
    struct evbuffer *in = bufferevent_get_input(u->bev);
    struct evbuffer_iovec vec[8];
    struct evbuffer_ptr ptr;
    size_t scanned = u->scan_off;   /* fed to u->scan by earlier calls */
    struct server *srv = u->srv;
    uint64_t saved_clock = srv->clock_ns;
    unsigned replies = 0;

    while (evbuffer_get_length(in) > scanned) {
        int n, i;
        ssize_t used;

        /* one clock read per 32 replies times them all */
        if (replies++ % 32 == 0)
            srv->clock_ns = server_now_ns();
        if (evbuffer_ptr_set(in, &ptr, scanned, EVBUFFER_PTR_SET) < 0)
            break;
        n = evbuffer_peek(in, -1, &ptr, vec, 8);
        if (n > 8)
            n = 8;
        used = 0;
        for (i = 0; i < n && !u->scan.done; i++) {
            used = resp_scan(&u->scan, vec[i].iov_base, vec[i].iov_len);
            if (used < 0) {
                log_error("upstream %s: malformed reply, resetting connection",
                          u->srv->conf.upstream.address);
                up_fail(u, "ERR upstream sent a malformed reply");
                srv->clock_ns = saved_clock;
                return -1;
            }
            scanned += (size_t)used;
        }
        if (!u->scan.done)
            continue;

        /* one complete reply of 'scanned' bytes at the front of in */
        if (u->stream && u->pinned && !u->head) {
            struct client *c = u->pinned;

            if (up_stream_ends(in, scanned, &u->scan)) {
                /* back to request/reply; released at the next request */
                u->stream = 0;
                c->stream = 0;
            }
            client_write_move(c, in, scanned);
        } else {
            struct upop *op = up_pop(u);

            if (!op) {
                log_error("upstream %s: reply with no request, resetting",
                          u->srv->conf.upstream.address);
                up_fail(u, "ERR upstream protocol desync");
                srv->clock_ns = saved_clock;
                return -1;
            }
#ifndef CORRAL_NO_STATS
            hist_record(&srv->metrics.upstream_rtt,
                        srv->clock_ns > op->sent_ns ? srv->clock_ns - op->sent_ns : 0);
#endif
            if (op->kind >= UPOP_AUTH) {
                if (up_internal_reply(u, op, in, scanned) < 0) {
                    upop_free(u->srv, op);
                    up_fail(u, "ERR upstream unavailable");
                    srv->clock_ns = saved_clock;
                    return -1;
                }
            } else {
                proxy_upop_reply(u, op, in, scanned, &u->scan);
            }
            upop_free(u->srv, op);
            if (!u->bev) {        /* the handler released the connection */
                srv->clock_ns = saved_clock;
                return -1;
            }
        }
        scanned = 0;
        resp_scan_init(&u->scan);
    }
    u->scan_off = scanned;
    srv->clock_ns = saved_clock;
    return 0;
}

static void up_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    up_parse(arg);
}

/* ---- connection lifecycle ---- */

static void up_free_bev(struct upconn *u)
{
    if (u->bev) {
        flush_detach(&u->out);
        bufferevent_free(u->bev);
        u->bev = NULL;
    }
    if (u->timer)
        evtimer_del(u->timer);
}

static void up_unidle(struct upconn *u)
{
    struct upconn **pp;

    for (pp = &u->srv->idle; *pp; pp = &(*pp)->next_idle) {
        if (*pp == u) {
            *pp = u->next_idle;
            u->srv->nidle--;
            break;
        }
    }
    u->next_idle = NULL;
    u->in_idle = 0;
}

static void up_destroy(struct upconn *u)
{
    up_free_bev(u);
    if (u->timer)
        event_free(u->timer);
    free(u);
}

/* Fail every request in flight on u with msg, reset its state, and for a
 * shared connection schedule a reconnect. */
static void up_fail(struct upconn *u, const char *msg)
{
    struct server *srv = u->srv;
    struct client *pinned = u->pinned;
    struct upop *op;
    int was_ready = u->state == UP_READY;

    /* Redis forgets what this connection was tracking: writes to keys it
       filled would no longer be reported, so nothing cached may stay */
    if (u->index >= 0 && u->tracking_gen && srv->cache_usable &&
        srv->conf.cache.invalidation == CONF_INVAL_TRACKING) {
        log_warn("cache flushed: a tracked upstream connection was lost");
        fill_cache_flush(srv);
    }
    up_free_bev(u);
    u->state = UP_DOWN;
    u->tracking_gen = 0;
    u->tracking_want = 0;
    u->stream = 0;
    resp_scan_init(&u->scan);
    u->scan_off = 0;
    while ((op = up_pop(u)) != NULL) {
        if (op->kind < UPOP_AUTH) {
            metrics_inc(&srv->metrics, UPSTREAM_ERRORS);
            proxy_upop_failed(u, op, msg);
        }
        upop_free(srv, op);
    }
    if (u->index >= 0) {
        struct timeval tv;

        if (was_ready)
            log_warn("upstream %s: connection %d lost",
                     srv->conf.upstream.address, u->index);
        u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : UP_BACKOFF_MIN_MS;
        if (u->backoff_ms > UP_BACKOFF_MAX_MS)
            u->backoff_ms = UP_BACKOFF_MAX_MS;
        tv.tv_sec = u->backoff_ms / 1000;
        tv.tv_usec = (u->backoff_ms % 1000) * 1000;
        if (!srv->shutting_down)
            evtimer_add(u->timer, &tv);
        return;
    }
    /* dedicated */
    if (u->in_idle) {
        up_unidle(u);
        up_destroy(u);
        return;
    }
    if (pinned) {
        pinned->pin = NULL;
        pinned->in_multi = pinned->watching = pinned->stream = 0;
        srv->npinned--;
        u->pinned = NULL;
        up_destroy(u);
        client_close_when_flushed(pinned);
        return;
    }
    up_destroy(u);
}

/* u's connection broke (reset, write error or end of stream). Replies
 * Redis sent before that may still sit unread in the socket: the kernel
 * keeps received data readable after a reset, and a failed write is
 * reported before what is waiting to be read. Read and deliver them while
 * requests are in flight, so that a command that ran is answered with its
 * reply rather than an error; up_fail then fails only the rest. Stops at
 * the first read that returns nothing or an error. Returns 0, or -1 when
 * delivering a reply failed or released u (as up_parse: do not touch u). */
static int up_salvage(struct upconn *u)
{
    while (u->head) {
        struct evbuffer *in = bufferevent_get_input(u->bev);
        int n;

        /* a socket bufferevent freezes the end of its input so that only
           its own read callback adds to it; unfreeze around the read as
           that callback does */
        evbuffer_unfreeze(in, 0);
        n = evbuffer_read(in, bufferevent_getfd(u->bev), UP_SALVAGE_READ);
        evbuffer_freeze(in, 0);
        if (n <= 0)
            return 0;
        if (up_parse(u) < 0)
            return -1;
    }
    return 0;
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
    struct upconn *u = arg;

    if (what & BEV_EVENT_CONNECTED) {
        int fd = bufferevent_getfd(bev), one = 1;

        /* from now on writes happen at the end of each pass (flush.c) */
        bufferevent_disable(bev, EV_WRITE);
        flush_mark(&u->out);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (u->timer)
            evtimer_del(u->timer);
        if (u->state == UP_CONNECTING) {
            u->state = u->srv->conf.upstream.password ? UP_HANDSHAKE : UP_READY;
            if (u->state == UP_READY)
                u->backoff_ms = 0;
        }
        if (u->index >= 0) {
            metrics_inc(&u->srv->metrics, UPSTREAM_RECONNECTS);
            log_debug("upstream connection %d up", u->index);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (u->state == UP_CONNECTING && u->index >= 0 && u->backoff_ms == 0)
            log_warn("upstream %s: cannot connect: %s",
                     u->srv->conf.upstream.address,
                     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        if (u->state != UP_CONNECTING && up_salvage(u) < 0)
            return;
        up_fail(u, "ERR upstream unavailable");
    }
}

/* The socket may be written (not still connecting). */
static int up_writable(void *arg)
{
    return ((struct upconn *)arg)->state != UP_CONNECTING;
}

/* The output drained: no write event needed until the next leftover. */
static void up_write_cb(struct bufferevent *bev, void *arg)
{
    struct upconn *u = arg;

    if (u->state != UP_CONNECTING)
        flush_drained(&u->out);
}

static void up_timer(evutil_socket_t fd, short what, void *arg)
{
    struct upconn *u = arg;

    if (u->state == UP_DOWN) {
        up_connect(u);
    } else if (u->state == UP_CONNECTING) {
        log_warn("upstream %s: connect timeout", u->srv->conf.upstream.address);
        up_fail(u, "ERR upstream unavailable");
    }
}

/* Start connecting u; requests may be queued at once. Returns -1 on
 * immediate failure (u is then DOWN with no bufferevent; a shared
 * connection has its retry scheduled). */
static int up_connect(struct upconn *u)
{
    struct server *srv = u->srv;
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct timeval tv;

    u->bev = bufferevent_socket_new(srv->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!u->bev)
        goto fail;
    bufferevent_setcb(u->bev, up_read, up_write_cb, up_event, u);
    if (flush_attach(srv, &u->out, u->bev, u, up_writable) < 0)
        goto fail;
    bufferevent_enable(u->bev, EV_READ | EV_WRITE);  /* EV_WRITE: connect */
    u->state = UP_CONNECTING;
    u->db = 0;
    u->gen = srv->up_gen;
    resp_scan_init(&u->scan);
    u->scan_off = 0;
    if (addr_parse(srv->conf.upstream.address, &ss, &sslen) < 0) {
        log_error("upstream %s: cannot resolve address",
                  srv->conf.upstream.address);
        goto fail;
    }
    if (bufferevent_socket_connect(u->bev, (struct sockaddr *)&ss,
                                   (int)sslen) < 0)
        goto fail;
    tv.tv_sec = (time_t)(srv->conf.upstream.connect_timeout_ms / 1000);
    tv.tv_usec = (suseconds_t)(srv->conf.upstream.connect_timeout_ms % 1000) * 1000;
    evtimer_add(u->timer, &tv);

    if (srv->conf.upstream.password) {
        const char *argv[3] = { "AUTH", srv->conf.upstream.username,
                                srv->conf.upstream.password };

        if (srv->conf.upstream.username)
            up_internal(u, UPOP_AUTH, 0, 3, argv);
        else {
            argv[1] = srv->conf.upstream.password;
            up_internal(u, UPOP_AUTH, 0, 2, argv);
        }
    }
    up_send_tracking(u);
    return 0;

fail:
    if (u->index >= 0) {
        up_fail(u, "ERR upstream unavailable");
    } else if (u->bev) {
        bufferevent_free(u->bev);
        u->bev = NULL;
        u->state = UP_DOWN;
    }
    return -1;
}

static struct upconn *up_new(struct server *srv, int index)
{
    struct upconn *u = calloc(1, sizeof(*u));

    if (!u)
        return NULL;
    u->srv = srv;
    u->index = index;
    resp_scan_init(&u->scan);
    u->timer = evtimer_new(srv->base, up_timer, u);
    if (!u->timer) {
        free(u);
        return NULL;
    }
    return u;
}

int upstream_pool_start(struct server *srv)
{
    int i, n = srv->conf.upstream.connections;

    srv->pool = calloc((size_t)n, sizeof(*srv->pool));
    if (!srv->pool)
        return -1;
    for (i = 0; i < n; i++) {
        srv->pool[i] = up_new(srv, i);
        if (!srv->pool[i])
            return -1;
        srv->npool = i + 1;
        up_connect(srv->pool[i]);
    }
    return 0;
}

void upstream_pool_stop(struct server *srv)
{
    struct upconn **pool = srv->pool;
    int i, n = srv->npool;

    /* detach first: failing requests wakes clients, which must not find
       the connections being torn down */
    srv->pool = NULL;
    srv->npool = 0;
    for (i = 0; i < n; i++) {
        struct upconn *u = pool[i];

        if (!u)
            continue;
        u->index = -2;          /* as a dedicated one: fail, no reconnect */
        up_fail(u, "ERR upstream unavailable");
    }
    free(pool);
    while (srv->idle) {
        struct upconn *u = srv->idle;

        up_unidle(u);
        up_destroy(u);
    }
}

static int up_pickable(const struct server *srv, const struct upconn *u,
                       int tracked)
{
    if (u->state != UP_READY)
        return 0;
    return !tracked || srv->conf.cache.invalidation == CONF_INVAL_NONE ||
           (srv->cache_usable && u->tracking_gen == srv->inval_gen);
}

struct upconn *upstream_pick(struct server *srv, int tracked)
{
    struct upconn *last;
    int i;

    if (srv->npool == 0)
        return NULL;
    /* The connection picked last still has this pass's requests waiting to
       be written: add to them, so that Redis reads (and answers) the pass's
       requests in one go instead of a few on every connection. */
    last = srv->pool[(srv->pool_rr + srv->npool - 1) % srv->npool];
    if (last->out.marked && up_pickable(srv, last, tracked))
        return last;
    for (i = 0; i < srv->npool; i++) {
        struct upconn *u = srv->pool[(srv->pool_rr + i) % srv->npool];

        if (!up_pickable(srv, u, tracked))
            continue;
        srv->pool_rr = (srv->pool_rr + i + 1) % srv->npool;
        return u;
    }
    return NULL;
}

int upstream_ready_count(const struct server *srv)
{
    int i, n = 0;

    for (i = 0; i < srv->npool; i++)
        n += srv->pool[i]->state == UP_READY;
    return n;
}

struct upconn *upstream_dedicate(struct server *srv, struct client *c)
{
    struct upconn *u = srv->idle;

    if (u) {
        up_unidle(u);
    } else {
        u = up_new(srv, -1);
        if (!u)
            return NULL;
        if (up_connect(u) < 0) {
            up_destroy(u);
            return NULL;
        }
    }
    u->pinned = c;
    srv->npinned++;
    return u;
}

void upstream_release(struct upconn *u, int reusable)
{
    struct server *srv = u->srv;
    struct upop *op;

    if (u->pinned) {
        u->pinned = NULL;
        srv->npinned--;
    }
    if (reusable && u->nops == 0 && !u->stream && u->state != UP_DOWN &&
        u->gen == srv->up_gen &&
        srv->nidle < UP_IDLE_MAX && !srv->shutting_down) {
        u->next_idle = srv->idle;
        u->in_idle = 1;
        srv->idle = u;
        srv->nidle++;
        return;
    }
    up_free_bev(u);
    while ((op = up_pop(u)) != NULL) {
        if (op->kind < UPOP_AUTH)
            proxy_upop_failed(u, op, "ERR connection closed");
        upop_free(srv, op);
    }
    up_destroy(u);
}

void upstream_tracking_refresh(struct server *srv)
{
    int i;

    for (i = 0; i < srv->npool; i++) {
        struct upconn *u = srv->pool[i];

        if (u->bev && u->tracking_gen != srv->inval_gen &&
            u->tracking_want != srv->inval_gen)
            up_send_tracking(u);
    }
}

static void up_check_timeout(struct upconn *u, uint64_t now_ns,
                             uint64_t limit_ns)
{
    if (u->head && !u->head->blocking && !u->stream &&
        now_ns - u->head->sent_ns > limit_ns) {
        log_warn("upstream %s: request timed out after %llu ms",
                 u->srv->conf.upstream.address,
                 (unsigned long long)(limit_ns / 1000000));
        up_fail(u, "ERR upstream timeout");
    }
}

void upstream_tick(struct server *srv, uint64_t now_ns)
{
    uint64_t limit = srv->conf.upstream.timeout_ms * 1000000ULL;
    struct client *c, *next;
    int i;

    for (i = 0; i < srv->npool; i++)
        up_check_timeout(srv->pool[i], now_ns, limit);
    for (c = srv->clients; c; c = next) {
        next = c->next;
        if (c->pin)
            up_check_timeout(c->pin, now_ns, limit);
    }
}
