/*
 * flush.c — writing queued output once per event-loop pass (see flush.h).
 *
 * The end-of-pass event is made active when the first socket is marked;
 * libevent appends it behind the callbacks already active, so it runs
 * after them in the same pass.
 */
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "flush.h"
#include "server.h"

#define FLUSH_IOV 64

/* Write as much of out as the socket takes, in one syscall: write() when
 * the data is in one piece (the common case, and a little cheaper than
 * writev()), else writev() of up to FLUSH_IOV pieces. What was written is
 * drained; on an error nothing is, and the bufferevent's own write
 * reports it. */
static void flush_write(struct evbuffer *out, evutil_socket_t fd)
{
    struct evbuffer_iovec v[FLUSH_IOV];
    struct iovec iov[FLUSH_IOV];
    int n = evbuffer_peek(out, -1, NULL, v, FLUSH_IOV);
    ssize_t w;

    if (n <= 0)
        return;
    if (n > FLUSH_IOV)
        n = FLUSH_IOV;
    if (n == 1) {
        w = write(fd, v[0].iov_base, v[0].iov_len);
    } else {
        for (int i = 0; i < n; i++) {
            iov[i].iov_base = v[i].iov_base;
            iov[i].iov_len = v[i].iov_len;
        }
        w = writev(fd, iov, n);
    }
    if (w > 0)
        evbuffer_drain(out, (size_t)w);
}

static void flush_run(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    struct flush_entry *e;

    while ((e = srv->flush_list) != NULL) {
        struct evbuffer *out = bufferevent_get_output(e->bev);

        srv->flush_list = e->next;
        e->next = NULL;
        e->marked = 0;
        if (evbuffer_get_length(out) == 0)
            continue;
        if (!e->ready || e->ready(e->owner)) {
            /* a socket bufferevent keeps the front of its output frozen
               so that only its own write callback drains it; that callback
               is not used while the write succeeds, so unfreeze around the
               write as it does */
            evbuffer_unfreeze(out, 1);
            flush_write(out, bufferevent_getfd(e->bev));
            evbuffer_freeze(out, 1);
        }
        if (evbuffer_get_length(out) > 0) {
            /* the rest (or the error) is the bufferevent's business: it
               writes when the socket takes more, and reports errors */
            bufferevent_enable(e->bev, EV_WRITE);
        } else {
            /* as if the bufferevent had written it: the owner's write
               callback sees the output drained */
            bufferevent_trigger(e->bev, EV_WRITE, 0);
        }
    }
}

void flush_mark(struct flush_entry *e)
{
    struct server *srv = e->srv;

    if (e->marked)
        return;
    e->marked = 1;
    e->next = srv->flush_list;
    if (!srv->flush_list)
        event_active(srv->flusher, EV_TIMEOUT, 0);
    srv->flush_list = e;
}

static void flush_out_cb(struct evbuffer *buf,
                         const struct evbuffer_cb_info *info, void *arg)
{
    if (info->n_added > 0)
        flush_mark(arg);
}

int flush_attach(struct server *srv, struct flush_entry *e,
                 struct bufferevent *bev, void *owner,
                 int (*ready)(void *owner))
{
    e->srv = srv;
    e->bev = bev;
    e->owner = owner;
    e->ready = ready;
    e->marked = 0;
    e->next = NULL;
    /* a new socket bufferevent starts with writing enabled: every add to
       its output would register the write event with the kernel */
    bufferevent_disable(bev, EV_WRITE);
    return evbuffer_add_cb(bufferevent_get_output(bev), flush_out_cb, e)
               ? 0 : -1;
}

void flush_detach(struct flush_entry *e)
{
    struct flush_entry **pp;

    if (!e->marked)
        return;
    for (pp = &e->srv->flush_list; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    e->marked = 0;
    e->next = NULL;
}

void flush_drained(struct flush_entry *e)
{
    bufferevent_disable(e->bev, EV_WRITE);
}

int flush_init(struct server *srv)
{
    srv->flusher = event_new(srv->base, -1, 0, flush_run, srv);
    return srv->flusher ? 0 : -1;
}

void flush_free(struct server *srv)
{
    if (srv->flusher)
        event_free(srv->flusher);
    srv->flusher = NULL;
}
