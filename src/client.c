/*
 * client.c — client connections (see client.h): accepting, reading and
 * parsing requests, answering them in order, limits, closing.
 *
 * Input: client_read_cb reads the socket into c->in; client_process parses
 * one complete request at a time in place (pulling up only what a request
 * spans) and hands it to proxy_request, which either answers it, forwards
 * its bytes upstream (moved, not copied), or says it must wait. Reading is
 * done here rather than by the bufferevent, which asks the kernel how much
 * is readable (an FIONREAD ioctl) before every read: on a cache hit that was
 * one system call in three.
 *
 * Output: a reply is written to the socket as soon as every earlier request
 * of the client has been answered; otherwise it waits in its req.
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "client.h"
#include "fill.h"
#include "log.h"
#include "proxy.h"
#include "server.h"
#include "upstream.h"

#define CLIENT_FREE_REQS_MAX 4096
#define CLIENT_REQ_BUF_KEEP (64 * 1024)
/* Bytes asked of one read: small for a connection that sends small
 * requests (the buffer is freed whenever it empties, so each read may
 * allocate it anew), doubled while reads fill it, halved when they use
 * less than a quarter. The maximum is libevent's default for one read. */
#define CLIENT_READ_MIN 512
#define CLIENT_READ_MAX (16 * 1024)

_Static_assert(M_REQ_HIT + LAT_MISS == M_REQ_MISS &&
               M_REQ_HIT + LAT_PASSTHROUGH == M_REQ_PASSTHROUGH,
               "request counters follow the latency classes");

static void client_record(struct server *srv, int lat_class, uint64_t start_ns)
{
    if (lat_class < 0)
        return;
    srv->metrics.v[M_REQ_HIT + lat_class]++;
#ifndef CORRAL_NO_STATS
    hist_record(&srv->metrics.lat[lat_class], server_clock_ns(srv) - start_ns);
#endif
}

/* ---- requests ---- */

struct req *client_req_new(struct client *c, uint64_t start_ns, int lat_class)
{
    struct server *srv = c->srv;
    struct req *r = srv->free_reqs;
    struct evbuffer *reply, *aux;
    char *keys;
    size_t keys_cap;
    uint32_t *mget_len;
    int mget_cap;

    if (r) {
        srv->free_reqs = r->next_free;
        srv->nfree_reqs--;
    } else {
        r = calloc(1, sizeof(*r));
        if (!r)
            return NULL;
    }
    reply = r->reply;
    aux = r->aux;
    keys = r->keys;
    keys_cap = r->keys_cap;
    mget_len = r->mget_len;
    mget_cap = r->mget_cap;
    memset(r, 0, sizeof(*r));
    r->reply = reply;
    r->aux = aux;
    r->keys = keys;
    r->keys_cap = keys_cap;
    r->mget_len = mget_len;
    r->mget_cap = mget_cap;
    if (!r->reply && !(r->reply = evbuffer_new())) {
        free(r);
        return NULL;
    }
    r->c = c;
    r->start_ns = start_ns;
    r->lat_class = lat_class;
    r->db = c->db;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->nreqs++;
    return r;
}

static void client_req_destroy(struct req *r)
{
    evbuffer_free(r->reply);
    if (r->aux)
        evbuffer_free(r->aux);
    free(r->keys);
    free(r->mget_len);
    free(r);
}

void client_req_pool_free(struct server *srv)
{
    while (srv->free_reqs) {
        struct req *r = srv->free_reqs;

        srv->free_reqs = r->next_free;
        client_req_destroy(r);
    }
    srv->nfree_reqs = 0;
}

void client_req_free(struct server *srv, struct req *r)
{
    fill_req_cancel(srv, r);
    evbuffer_drain(r->reply, evbuffer_get_length(r->reply));
    if (r->aux)
        evbuffer_drain(r->aux, evbuffer_get_length(r->aux));
    if (srv->nfree_reqs >= CLIENT_FREE_REQS_MAX ||
        r->keys_cap > CLIENT_REQ_BUF_KEEP) {
        client_req_destroy(r);
        return;
    }
    r->next_free = srv->free_reqs;
    srv->free_reqs = r;
    srv->nfree_reqs++;
}

/* ---- output ---- */

static int client_over_limit(struct client *c)
{
    size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));

    if (out + c->held > c->srv->conf.clients.output_limit) {
        metrics_inc(&c->srv->metrics, OUTPUT_LIMIT_CLOSED);
        log_info("client %s: output over %llu bytes, closing", c->addr,
                 (unsigned long long)c->srv->conf.clients.output_limit);
        client_close(c);
        return 1;
    }
    return 0;
}

/* Write out every completed reply at the head of the FIFO. */
static void client_flush(struct client *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct req *r;
    int close_after = 0;

    while ((r = c->head) != NULL && r->done) {
        size_t n = evbuffer_get_length(r->reply);

        c->held -= n;
        evbuffer_add_buffer(out, r->reply);
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        c->nreqs--;
        close_after |= r->close_after;
        client_req_free(c->srv, r);
    }
    if (close_after)
        client_close_when_flushed(c);
    if (c->blocked && c->nreqs < CLIENT_MAX_PENDING / 2 && !c->dead)
        client_resume(c);
}

struct evbuffer *client_reply_buffer(struct req *r)
{
    return r->reply;
}

/* r's reply is complete: send it if r is at the head of the FIFO. */
static void client_done(struct req *r)
{
    struct client *c = r->c;

    r->done = 1;
    c->held += evbuffer_get_length(r->reply);
    if (c->dead)
        return;
    if (r == c->head)
        client_flush(c);
    client_over_limit(c);
}

void client_reply_finish(struct req *r)
{
    struct client *c = r->c;

    if (!c)
        return;
    client_record(c->srv, r->lat_class, r->start_ns);
    r->lat_class = -1;
    client_done(r);
}

/* r is the head of its FIFO with nothing held: its reply can go straight
 * to the socket buffer, without passing through r's own buffer. */
static int client_direct(const struct req *r)
{
    return r->c && r == r->c->head && !r->c->dead &&
           evbuffer_get_length(r->reply) == 0;
}

void client_reply(struct req *r, const char *data, size_t len)
{
    struct client *c = r->c;

    if (!c) {
        /* orphan: its client left while the reply was on its way */
        return;
    }
    if (client_direct(r)) {
        if (evbuffer_add(bufferevent_get_output(c->bev), data, len) < 0) {
            client_close(c);
            return;
        }
    } else if (evbuffer_add(r->reply, data, len) < 0) {
        client_close(c);
        return;
    }
    client_reply_finish(r);
}

void client_reply_move(struct req *r, struct evbuffer *src, size_t len)
{
    struct client *c = r->c;
    struct evbuffer *dst;

    if (!c) {
        evbuffer_drain(src, len);
        return;
    }
    dst = client_direct(r) ? bufferevent_get_output(c->bev) : r->reply;
    if (evbuffer_remove_buffer(src, dst, len) != (int)len) {
        client_close(c);
        return;
    }
    client_reply_finish(r);
}

void client_reply_error(struct req *r, const char *msg)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "-%s\r\n", msg);

    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    client_reply(r, line, (size_t)n);
}

int client_answer(struct client *c, uint64_t start_ns, int lat_class,
                  const char *data, size_t len)
{
    struct req *r;

    if (!c->head) {
        /* latency recorded for the whole batch at its end (client_process) */
        c->srv->metrics.v[M_REQ_HIT + lat_class]++;
        c->batch_answered[lat_class]++;
        client_write(c, data, len);
        return 0;
    }
    r = client_req_new(c, start_ns, lat_class);
    if (!r) {
        client_close(c);
        return -1;
    }
    client_reply(r, data, len);
    return 0;
}

void client_write(struct client *c, const char *data, size_t len)
{
    if (c->dead)
        return;
    if (evbuffer_add(bufferevent_get_output(c->bev), data, len) < 0) {
        client_close(c);
        return;
    }
    client_over_limit(c);
}

void client_write_move(struct client *c, struct evbuffer *src, size_t len)
{
    if (c->dead) {
        evbuffer_drain(src, len);
        return;
    }
    if (evbuffer_remove_buffer(src, bufferevent_get_output(c->bev), len) !=
        (int)len) {
        client_close(c);
        return;
    }
    client_over_limit(c);
}

/* ---- input ---- */

/* Watch the socket for input, or stop (backpressure, closing). */
static void client_reading(struct client *c, int on)
{
    if (on == c->reading)
        return;
    if (on ? event_add(&c->read_ev, NULL) : event_del(&c->read_ev))
        return;
    c->reading = on;
}

static void client_protocol_error(struct client *c, const char *err)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "-ERR Protocol error: %s\r\n", err);

    metrics_inc(&c->srv->metrics, PROTOCOL_ERRORS);
    log_debug("client %s: protocol error: %s", c->addr, err);
    /* the error goes after the replies already owed, as in Redis */
    if (c->head) {
        struct req *r = client_req_new(c, server_clock_ns(c->srv), -1);

        if (r) {
            r->close_after = 1;
            client_reply(r, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
        } else {
            client_close(c);
        }
    } else {
        client_write(c, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
        client_close_when_flushed(c);
    }
    c->closing = 1;
    client_reading(c, 0);
}

/* Record the latency of the requests answered at once during a batch: from
 * the batch's start to now, when their replies are all queued. */
static void client_batch_done(struct client *c, uint64_t start_ns)
{
#ifndef CORRAL_NO_STATS
    uint64_t now = 0;
    int i;

    for (i = 0; i < LAT__COUNT; i++) {
        if (!c->batch_answered[i])
            continue;
        if (!now)
            now = server_now_ns();
        hist_record_n(&c->srv->metrics.lat[i], now - start_ns,
                      c->batch_answered[i]);
        c->batch_answered[i] = 0;
    }
#else
    memset(c->batch_answered, 0, sizeof(c->batch_answered));
    (void)start_ns;
#endif
}

void client_process(struct client *c)
{
    struct server *srv = c->srv;
    struct evbuffer *in = c->in;
    uint64_t saved_clock = srv->clock_ns, start;

    if (c->in_process || c->dead)
        return;
    c->in_process = 1;
    start = srv->clock_ns = server_now_ns();
    c->last_active_ms = start / 1000000ULL;
    while (!c->blocked && !c->closing && !c->dead) {
        struct evbuffer_iovec v;
        size_t avail = evbuffer_get_length(in);
        const char *buf;
        size_t len;
        enum resp_status st;
        enum proxy_result pr;

        if (avail == 0)
            break;
        if (c->nreqs >= CLIENT_MAX_PENDING) {
            c->blocked = 1;
            break;
        }
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        buf = v.iov_base;
        len = v.iov_len;
        st = resp_parse_request(&c->parser, buf, len);
        while (st == RESP_AGAIN && avail > len) {
            size_t want = c->parser.need > avail ? avail : c->parser.need;

            if (want <= len)
                want = len + 1 > avail ? avail : len + 1;
            buf = (const char *)evbuffer_pullup(in, (ssize_t)want);
            if (!buf) {
                client_close(c);
                goto out;
            }
            len = want;
            st = resp_parse_request(&c->parser, buf, len);
        }
        if (st == RESP_AGAIN)
            break;
        if (st == RESP_ERROR) {
            client_protocol_error(c, c->parser.err);
            break;
        }
        if (c->parser.argc == 0) {
            evbuffer_drain(in, c->parser.consumed);
            resp_parser_reset(&c->parser);
            continue;
        }
        pr = proxy_request(c, in, buf, &c->parser, start);
        if (pr == PROXY_WAIT) {
            /* re-parsed from the start when resumed */
            resp_parser_reset(&c->parser);
            c->blocked = 1;
            break;
        }
        resp_parser_reset(&c->parser);
        if (pr == PROXY_CLOSED)
            break;
    }
out:
    c->in_process = 0;
    client_batch_done(c, start);
    srv->clock_ns = saved_clock;
    if (c->dead)
        return;
    client_reading(c, !c->blocked && !c->closing);
}

static void client_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;

    if (c->dead || c->closing)
        return;
    c->blocked = 0;
    client_reading(c, 1);
    client_process(c);
}

void client_resume(struct client *c)
{
    if (c->dead || c->closing)
        return;
    event_active(&c->resume_ev, EV_TIMEOUT, 0);
}

/* Read once from the socket into c->in and process what arrived. End of
 * stream or a read error closes the client. */
static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    struct evbuffer_iovec v[2];
    struct iovec iov[2];
    ssize_t n;
    int nv, i;

    (void)what;
    nv = evbuffer_reserve_space(c->in, (ev_ssize_t)c->read_size, v, 2);
    if (nv < 1) {
        log_warn("client %s: out of memory reading, closing", c->addr);
        client_close(c);
        return;
    }
    for (i = 0; i < nv; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len;
    }
    /* the space is nearly always one piece, and read() costs less than
       readv() */
    n = nv == 1 ? read(fd, iov[0].iov_base, iov[0].iov_len)
                : readv(fd, iov, nv);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                      errno == EINTR))
            return;
        client_close(c);
        return;
    }
    if ((size_t)n >= c->read_size && c->read_size < CLIENT_READ_MAX)
        c->read_size *= 2;
    else if ((size_t)n < c->read_size / 4 && c->read_size > CLIENT_READ_MIN)
        c->read_size /= 2;
    for (i = 0; i < nv; i++) {
        if ((size_t)n < v[i].iov_len)
            v[i].iov_len = (size_t)n;
        n -= (ssize_t)v[i].iov_len;
        if (v[i].iov_len == 0)
            break;
    }
    if (evbuffer_commit_space(c->in, v, i) < 0) {
        client_close(c);
        return;
    }
    client_process(c);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;

    flush_drained(&c->out);
    if (c->closing && !c->dead && !c->head &&
        evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        client_close(c);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct client *c = arg;

    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        client_close(c);
}

/* ---- lifecycle ---- */

int client_accept(struct server *srv, int fd, const char *addr)
{
    struct client *c = calloc(1, sizeof(*c));
    int one = 1;

    if (!c) {
        evutil_closesocket(fd);
        return -1;
    }
    c->in = evbuffer_new();
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev || !c->in) {
        if (c->bev)
            bufferevent_free(c->bev);
        else
            evutil_closesocket(fd);
        if (c->in)
            evbuffer_free(c->in);
        free(c);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->srv = srv;
    c->authed = srv->conf.clients.password == NULL;
    c->last_active_ms = server_now_ms();
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    resp_parser_init(&c->parser, srv->conf.clients.max_request);
    event_assign(&c->resume_ev, srv->base, -1, 0, client_resume_cb, c);
    event_assign(&c->read_ev, srv->base, fd, EV_READ | EV_PERSIST,
                 client_read_cb, c);
    c->read_size = CLIENT_READ_MIN;
    bufferevent_setcb(c->bev, NULL, client_write_cb, client_event_cb, c);
    if (flush_attach(srv, &c->out, c->bev, c, NULL) < 0) {
        bufferevent_free(c->bev);
        evbuffer_free(c->in);
        free(c);
        return -1;
    }
    client_reading(c, 1);
    c->next = srv->clients;
    if (srv->clients)
        srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
    metrics_inc(&srv->metrics, CLIENTS_TOTAL);
    return 0;
}

void client_close_when_flushed(struct client *c)
{
    if (c->dead)
        return;
    c->closing = 1;
    client_reading(c, 0);
    if (!c->head && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        client_close(c);
}

void client_close(struct client *c)
{
    struct server *srv = c->srv;

    if (c->dead)
        return;
    c->dead = 1;
    client_reading(c, 0);
    bufferevent_disable(c->bev, EV_WRITE);
    c->next_dead = srv->dead;
    srv->dead = c;
    event_active(srv->reaper, EV_TIMEOUT, 0);
}

/* Free one closed client (see client_close). */
static void client_free(struct client *c)
{
    struct server *srv = c->srv;
    struct req *r, *next;

    for (r = c->head; r; r = next) {
        next = r->next;
        r->next = NULL;
        fill_req_cancel(srv, r);
        if (r->op) {
            r->c = NULL;             /* orphan: freed when answered */
            continue;
        }
        client_req_free(srv, r);
    }
    c->head = c->tail = NULL;
    fill_client_gone(c);
    if (c->pin) {
        struct upconn *u = c->pin;

        c->pin = NULL;
        upstream_release(u, !c->in_multi && !c->watching && !c->stream &&
                                u->nops == 0);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nclients--;
    event_del(&c->resume_ev);
    event_del(&c->read_ev);
    flush_detach(&c->out);
    resp_parser_free(&c->parser);
    bufferevent_free(c->bev);
    evbuffer_free(c->in);
    free(c->name);
    free(c->txkeys);
    free(c);
}

void client_reap(struct server *srv)
{
    while (srv->dead) {
        struct client *c = srv->dead;

        srv->dead = c->next_dead;
        client_free(c);
    }
}
