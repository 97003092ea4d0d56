/*
 * fill.c — GET through the local cache, miss coalescing and fill leases
 * (see fill.h for the picture).
 *
 * Flights live in the flight table (flight.c); this file is the I/O shell
 * around it: it sends fills upstream, answers waiting requests, and runs
 * one timer per flight (lease deadline, or end of the no-lease cool-down)
 * and one per parked reader (lease.max_wait).
 *
 * A flight is freed when nothing refers to it any more: no fill request in
 * flight (fill_pending counts them), no waiters, not leased, and no
 * cool-down left (fill_maybe_free).
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "client.h"
#include "fill.h"
#include "flight.h"
#include "log.h"
#include "server.h"
#include "upstream.h"

static const char NIL[] = "$-1\r\n";

/* Per-flight state of this shell, in the flight's user area. */
struct fill_state {
    struct server *srv;
    struct event timer;         /* lease deadline / cool-down end */
    int timer_set;
    long long pttl;             /* PTTL reply of the current fill; -3 none */
    uint64_t lease_deadline_ms;
    struct conf_policy pol;     /* the key's policy when the flight began */
    int await_inval;            /* lease ended by a write through corral:
                                   refill once its tracking message is in */
};

/* Longest a refill waits for the tracking message of the write that ended
 * a lease (the message is normally a few microseconds behind the ack). */
#define FILL_INVAL_WAIT_MS 20

#define FILL_REQ(w) ((struct req *)((char *)(w) - offsetof(struct req, w)))

static void fill_timer_cb(evutil_socket_t fd, short what, void *arg);

int fill_init(struct server *srv)
{
    srv->flights = flight_table_create(sizeof(struct fill_state));
    return srv->flights ? 0 : -1;
}

static void fill_free_one(struct flight *f, void *arg)
{
    struct fill_state *fs = flight_user(f);

    if (fs->timer_set)
        event_del(&fs->timer);
}

void fill_free(struct server *srv)
{
    if (!srv->flights)
        return;
    flight_foreach(srv->flights, -1, fill_free_one, NULL);
    flight_table_destroy(srv->flights);
    srv->flights = NULL;
}

static void fill_arm(struct flight *f, uint64_t at_ms, uint64_t now_ms)
{
    struct fill_state *fs = flight_user(f);
    uint64_t d = at_ms > now_ms ? at_ms - now_ms : 0;
    struct timeval tv = { (time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000 };

    if (!fs->timer_set) {
        evtimer_assign(&fs->timer, fs->srv->base, fill_timer_cb, fs);
        fs->timer_set = 1;
    }
    evtimer_add(&fs->timer, &tv);
}

/* Free f if nothing refers to it any more; arm the cool-down timer if only
 * the cool-down keeps it. */
static void fill_maybe_free(struct flight *f)
{
    struct fill_state *fs = flight_user(f);
    struct server *srv = fs->srv;
    uint64_t now;

    if (f->fill_pending || f->nwaiters || f->state != FLIGHT_IDLE)
        return;
    now = server_clock_ns(srv) / 1000000ULL;
    if (f->attached && f->unfilled_until_ms > now) {
        fill_arm(f, f->unfilled_until_ms, now);
        return;
    }
    if (fs->timer_set)
        event_del(&fs->timer);
    flight_free(srv->flights, f);
}

/* r no longer waits on a lease: stop its max_wait timer. */
static void fill_unpark(struct server *srv, struct req *r)
{
    if (r->wait_timer_set) {
        event_del(&r->wait_timer);
        r->wait_timer_set = 0;
        srv->lease_waiting--;
    }
}

/* Answer every waiter of f with data. f stays alive meanwhile. */
static void fill_deliver(struct flight *f, const char *data, size_t len)
{
    struct server *srv = ((struct fill_state *)flight_user(f))->srv;
    struct flight_waiter *w;

    f->fill_pending++;
    while ((w = flight_first(f)) != NULL) {
        struct req *r = FILL_REQ(w);

        flight_unwait(w);
        fill_unpark(srv, r);
        client_reply(r, data, len);
    }
    f->fill_pending--;
}

static void fill_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct req *r = arg;
    struct flight *f = r->w.f;
    struct server *srv = r->c->srv;

    r->wait_timer_set = 1;       /* the event fired: it is no longer pending */
    fill_unpark(srv, r);
    if (f) {
        flight_unwait(&r->w);
        client_reply(r, NIL, sizeof(NIL) - 1);
        fill_maybe_free(f);
    }
}

/* Park r on f's lease, bounded by lease.max_wait from since_ms. */
static void fill_park(struct server *srv, struct req *r, uint64_t since_ms,
                      uint64_t now_ms)
{
    uint64_t end = since_ms + srv->conf.lease.max_wait_ms;
    uint64_t d = end > now_ms ? end - now_ms : 0;
    struct timeval tv = { (time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000 };

    r->lat_class = LAT_LEASE_WAIT;
    evtimer_assign(&r->wait_timer, srv->base, fill_wait_timeout, r);
    evtimer_add(&r->wait_timer, &tv);
    r->wait_timer_set = 1;
    srv->lease_waiting++;
}

/* Send PTTL + GET for f on one tracked connection. 0, or -1 when no
 * connection can take it. */
static int fill_send(struct flight *f)
{
    struct fill_state *fs = flight_user(f);
    struct server *srv = fs->srv;
    struct upconn *u = upstream_pick(srv, 1);
    const char *argv[2];
    size_t lens[2];
    int untracked = 0;

    /* readers parked on a lease when the invalidation channel went down
       still need the key: read it untracked (served, never stored, and no
       lease granted on a nil, since a write around corral could not end
       it) */
    if (!u) {
        u = upstream_pick(srv, 0);
        untracked = 1;
    }
    if (!u)
        return -1;
    argv[1] = f->key;
    lens[1] = f->klen;
    argv[0] = "PTTL";
    lens[0] = 4;
    if (!upstream_send_argv(u, UPOP_FILL_TTL, f, f->db, 2, argv, lens))
        return -1;
    f->fill_pending++;
    argv[0] = "GET";
    lens[0] = 3;
    if (!upstream_send_argv(u, UPOP_FILL, f, f->db, 2, argv, lens))
        return -1;  /* the PTTL upop is answered or failed on its own */
    f->fill_pending++;
    f->state = FLIGHT_FILLING;
    f->stale = untracked;
    fs->pttl = -3;
    metrics_inc(&srv->metrics, FILLS);
    return 0;
}

int fill_get(struct client *c, struct evbuffer *in, size_t reqlen,
             const char *key, size_t klen, uint64_t start_ns)
{
    struct server *srv = c->srv;
    struct conf_policy pol;
    struct flight *f;
    struct req *r;
    uint64_t now;

    if (c->writes_inflight)
        return -1;
    conf_policy(&srv->conf, key, klen, &pol);
    if (!pol.cache && !pol.lease)
        return -1;
    now = server_clock_ns(srv) / 1000000ULL;
    if (pol.cache) {
        size_t vlen;
        const char *v = cache_get(srv->cache, c->db, key, klen, now, &vlen);

        if (v) {
            metrics_inc(&srv->metrics, CACHE_HITS);
            evbuffer_drain(in, reqlen);
            client_answer(c, start_ns, LAT_HIT, v, vlen);
            return 0;
        }
        metrics_inc(&srv->metrics, CACHE_MISSES);
    }

    f = flight_find(srv->flights, c->db, key, klen);
    if (f && f->state == FLIGHT_FILLING) {
        r = client_req_new(c, start_ns, LAT_COALESCED);
        if (!r)
            return -1;
        flight_wait(f, &r->w, now);
        metrics_inc(&srv->metrics, COALESCED);
        evbuffer_drain(in, reqlen);
        return 0;
    }
    if (f && f->state == FLIGHT_LEASED) {
        if (f->holder == c)
            return -1;            /* the holder reads again: straight through */
        if (srv->lease_waiting >= (size_t)srv->conf.lease.max_waiters) {
            evbuffer_drain(in, reqlen);
            client_answer(c, start_ns, LAT_LEASE_WAIT, NIL, sizeof(NIL) - 1);
            return 0;
        }
        r = client_req_new(c, start_ns, LAT_LEASE_WAIT);
        if (!r)
            return -1;
        flight_wait(f, &r->w, now);
        fill_park(srv, r, now, now);
        evbuffer_drain(in, reqlen);
        return 0;
    }

    /* start a fill; without a tracked connection (tracking not confirmed
       yet) the read just goes through */
    if (!upstream_pick(srv, 1))
        return -1;
    if (!f) {
        struct fill_state *fs;

        if (flight_count(srv->flights) >= FILL_MAX_FLIGHTS)
            return -1;
        f = flight_add(srv->flights, c->db, key, klen);
        if (!f)
            return -1;
        fs = flight_user(f);
        fs->srv = srv;
        fs->pttl = -3;
    }
    ((struct fill_state *)flight_user(f))->pol = pol;
    r = client_req_new(c, start_ns, LAT_MISS);
    if (!r) {
        fill_maybe_free(f);
        return -1;
    }
    flight_wait(f, &r->w, now);
    evbuffer_drain(in, reqlen);
    if (fill_send(f) < 0) {
        /* no tracked connection: nothing cacheable can be had now */
        f->state = FLIGHT_IDLE;
        metrics_inc(&srv->metrics, UPSTREAM_ERRORS);
        fill_deliver(f, "-ERR upstream unavailable\r\n", 27);
        fill_maybe_free(f);
    }
    return 0;
}

/* The fill of f found nothing: the first waiter becomes the lease holder
 * (it gets nil), the others stay parked on the lease. Returns 0, or -1 when
 * no lease may be granted. */
static int fill_grant(struct flight *f, uint64_t now)
{
    struct fill_state *fs = flight_user(f);
    struct server *srv = fs->srv;
    struct flight_waiter *w, *next;
    struct req *holder;

    if (f->stale || !f->attached || !fs->pol.lease || !srv->conf.lease.enabled ||
        now < f->unfilled_until_ms || !(w = flight_first(f)))
        return -1;
    holder = FILL_REQ(w);
    flight_unwait(w);
    fill_unpark(srv, holder);
    f->state = FLIGHT_LEASED;
    f->holder = holder->c;
    holder->c->leases_held++;
    metrics_inc(&srv->metrics, LEASES_GRANTED);
    fs->lease_deadline_ms = now + fs->pol.lease_timeout_ms;
    fill_arm(f, fs->lease_deadline_ms, now);

    f->fill_pending++;
    for (w = flight_first(f); w; w = next) {
        struct req *r = FILL_REQ(w);

        next = w->next == &f->waiters ? NULL : w->next;
        if (r->wait_timer_set)
            continue;
        if (srv->lease_waiting >= (size_t)srv->conf.lease.max_waiters) {
            flight_unwait(w);
            client_reply(r, NIL, sizeof(NIL) - 1);
            continue;
        }
        fill_park(srv, r, w->since_ms, now);
    }
    f->fill_pending--;
    client_reply(holder, NIL, sizeof(NIL) - 1);
    return 0;
}

void fill_reply(struct upconn *u, struct upop *op, struct evbuffer *in,
                size_t len, const struct resp_scanner *s)
{
    struct flight *f = op->target;
    struct fill_state *fs = flight_user(f);
    struct server *srv = fs->srv;
    uint64_t now;

    f->fill_pending--;
    if (op->kind == UPOP_FILL_TTL) {
        fs->pttl = s->type == ':' ? s->num : -3;
        evbuffer_drain(in, len);
        fill_maybe_free(f);
        return;
    }
    now = server_clock_ns(srv) / 1000000ULL;
    if (s->type == '$' && s->num >= 0) {
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)len);
        int usable = srv->cache_usable &&
                     (srv->conf.cache.invalidation == CONF_INVAL_NONE ||
                      u->tracking_gen == srv->inval_gen);

        if (p && fs->pol.cache && !f->stale && f->attached && usable &&
            (uint64_t)s->num <= srv->conf.cache.max_value &&
            (fs->pttl == -1 || fs->pttl > 0)) {
            uint64_t ttl = fs->pol.ttl_ms;

            if (fs->pttl > 0 && (uint64_t)fs->pttl < ttl)
                ttl = (uint64_t)fs->pttl;
            cache_set(srv->cache, f->db, f->key, f->klen, p, len, now + ttl);
        } else if (f->stale) {
            metrics_inc(&srv->metrics, FILLS_UNSTORED);
        }
        f->state = FLIGHT_IDLE;
        if (p)
            fill_deliver(f, p, len);
        else
            fill_deliver(f, "-ERR out of memory\r\n", 20);
    } else if (s->type == '$') {
        f->state = FLIGHT_IDLE;
        if (fill_grant(f, now) < 0)
            fill_deliver(f, NIL, sizeof(NIL) - 1);
    } else {
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)len);

        if (s->type == '-')
            metrics_inc(&srv->metrics, FILL_ERRORS);
        f->state = FLIGHT_IDLE;
        fill_deliver(f, p ? p : "-ERR out of memory\r\n", p ? len : 20);
    }
    evbuffer_drain(in, len);
    fill_maybe_free(f);
}

void fill_failed(struct upop *op, const char *msg)
{
    struct flight *f = op->target;
    struct fill_state *fs = flight_user(f);
    char line[128];
    int n;

    f->fill_pending--;
    if (op->kind == UPOP_FILL) {
        metrics_inc(&fs->srv->metrics, FILL_ERRORS);
        f->state = FLIGHT_IDLE;
        n = snprintf(line, sizeof(line), "-%s\r\n", msg);
        fill_deliver(f, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
    }
    fill_maybe_free(f);
}

/* The lease on f was fulfilled: read the key again for the parked
 * readers. */
static void fill_refill(struct flight *f)
{
    struct fill_state *fs = flight_user(f);
    struct server *srv = fs->srv;

    fs->await_inval = 0;
    f->state = FLIGHT_IDLE;
    if (f->nwaiters && fill_send(f) < 0) {
        metrics_inc(&srv->metrics, UPSTREAM_ERRORS);
        fill_deliver(f, "-ERR upstream unavailable\r\n", 27);
    }
    fill_maybe_free(f);
}

/* The lease on f ends without a write: it passes to the longest-waiting
 * reader, or f goes idle. expired: the holder ran out of time (starts the
 * no-lease cool-down) rather than leaving. */
static void fill_lease_end(struct flight *f, int expired)
{
    struct fill_state *fs = flight_user(f);
    struct server *srv = fs->srv;
    uint64_t now = server_clock_ns(srv) / 1000000ULL;
    struct flight_waiter *w;

    if (f->holder) {
        ((struct client *)f->holder)->leases_held--;
        f->holder = NULL;
    }
    if (expired) {
        metrics_inc(&srv->metrics, LEASES_EXPIRED);
        f->unfilled_until_ms = now + srv->conf.lease.unfilled_ttl_ms;
    }
    w = flight_first(f);
    if (w) {
        struct req *r = FILL_REQ(w);

        flight_unwait(w);
        fill_unpark(srv, r);
        f->holder = r->c;
        r->c->leases_held++;
        metrics_inc(&srv->metrics, LEASES_HANDED_OVER);
        fs->lease_deadline_ms = now + fs->pol.lease_timeout_ms;
        fill_arm(f, fs->lease_deadline_ms, now);
        client_reply(r, NIL, sizeof(NIL) - 1);
        return;
    }
    f->state = FLIGHT_IDLE;
    fill_maybe_free(f);
}

static void fill_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fill_state *fs = arg;
    struct flight *f = flight_of_user(fs);
    uint64_t now = server_clock_ns(fs->srv) / 1000000ULL;

    if (f->state == FLIGHT_LEASED) {
        if (fs->await_inval && now >= fs->lease_deadline_ms)
            fill_refill(f);
        else if (now >= fs->lease_deadline_ms)
            fill_lease_end(f, 1);
        else
            fill_arm(f, fs->lease_deadline_ms, now);
        return;
    }
    fill_maybe_free(f);
}

/* The key of f was written (src says how we know). */
static void fill_flight_changed(struct flight *f, void *arg)
{
    struct fill_state *fs = flight_user(f);
    struct server *srv = fs->srv;
    enum fill_source src = (enum fill_source)(intptr_t)arg;

    switch (f->state) {
    case FLIGHT_FILLING:
        /* served to those waiting, never stored; new readers start over */
        f->stale = 1;
        flight_detach(srv->flights, f);
        break;
    case FLIGHT_LEASED:
        if (!fs->await_inval) {
            if (src == FILL_SRC_TRACKING)
                metrics_inc(&srv->metrics, LEASES_FULFILLED_INVAL);
            else
                metrics_inc(&srv->metrics, LEASES_FULFILLED_WRITE);
        }
        if (f->holder) {
            ((struct client *)f->holder)->leases_held--;
            f->holder = NULL;
        }
        f->unfilled_until_ms = 0;
        if (src == FILL_SRC_WRITE && !fs->await_inval && f->nwaiters &&
            srv->conf.cache.invalidation != CONF_INVAL_NONE &&
            srv->cache_usable) {
            /* Redis also sends a tracking message for this write, a moment
               behind its ack; a refill sent before it is in would be taken
               as invalidated by it and not stored. Parked readers stay
               parked until it comes (or FILL_INVAL_WAIT_MS). */
            uint64_t now = server_clock_ns(srv) / 1000000ULL;

            fs->await_inval = 1;
            fs->lease_deadline_ms = now + FILL_INVAL_WAIT_MS;
            fill_arm(f, fs->lease_deadline_ms, now);
            break;
        }
        fill_refill(f);
        break;
    case FLIGHT_IDLE:
        f->unfilled_until_ms = 0;
        fill_maybe_free(f);
        break;
    }
}

static void fill_count(struct server *srv, enum fill_source src)
{
    switch (src) {
    case FILL_SRC_WRITE:
        metrics_inc(&srv->metrics, INVAL_WRITE);
        break;
    case FILL_SRC_TRACKING:
        metrics_inc(&srv->metrics, INVAL_TRACKING);
        break;
    case FILL_SRC_FLUSH:
        metrics_inc(&srv->metrics, INVAL_FLUSH);
        break;
    }
}

void fill_invalidate_db_key(struct server *srv, int db, const char *key,
                            size_t klen, enum fill_source src)
{
    struct flight *f;

    if (cache_del(srv->cache, db, key, klen))
        fill_count(srv, src);
    f = flight_find(srv->flights, db, key, klen);
    if (f)
        fill_flight_changed(f, (void *)(intptr_t)src);
}

void fill_invalidate_key(struct server *srv, const char *key, size_t klen,
                         enum fill_source src)
{
    int n = cache_del_all_dbs(srv->cache, key, klen);

    while (n-- > 0)
        fill_count(srv, src);
    flight_foreach_key(srv->flights, key, klen, fill_flight_changed,
                       (void *)(intptr_t)src);
}

void fill_invalidate_all(struct server *srv, int db, enum fill_source src)
{
    if (db < 0)
        cache_flush(srv->cache);
    else
        cache_flush_db(srv->cache, db);
    fill_count(srv, src);
    flight_foreach(srv->flights, db, fill_flight_changed, (void *)(intptr_t)src);
}

static void fill_stale_one(struct flight *f, void *arg)
{
    struct fill_state *fs = flight_user(f);

    if (f->state == FLIGHT_FILLING) {
        f->stale = 1;
        flight_detach(fs->srv->flights, f);
    }
}

void fill_cache_flush(struct server *srv)
{
    flight_foreach(srv->flights, -1, fill_stale_one, NULL);
    cache_flush(srv->cache);
    fill_count(srv, FILL_SRC_FLUSH);
}

void fill_req_cancel(struct server *srv, struct req *r)
{
    struct flight *f = r->w.f;

    fill_unpark(srv, r);
    if (!f)
        return;
    flight_unwait(&r->w);
    fill_maybe_free(f);
}

static void fill_holder_gone(struct flight *f, void *arg)
{
    if (f->state == FLIGHT_LEASED && f->holder == arg)
        fill_lease_end(f, 0);
}

void fill_client_gone(struct client *c)
{
    if (c->leases_held > 0)
        flight_foreach(c->srv->flights, -1, fill_holder_gone, c);
}

static void fill_release_one(struct flight *f, void *arg)
{
    if (f->state == FLIGHT_LEASED) {
        fill_deliver(f, NIL, sizeof(NIL) - 1);
        fill_maybe_free(f);
    }
}

void fill_release_all(struct server *srv)
{
    flight_foreach(srv->flights, -1, fill_release_one, NULL);
}
