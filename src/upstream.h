/*
 * upstream.h — connections to the upstream Redis.
 *
 * Two kinds of connection:
 *   shared     upstream.connections of them, pipelined: many clients'
 *              requests and corral's own fills are in flight on one
 *              connection at once, replies matched in order;
 *   dedicated  opened (or taken from a small idle list) for one client that
 *              needs a connection of its own: MULTI/WATCH, blocking commands,
 *              SUBSCRIBE, MONITOR. Closed rather than reused whenever it
 *              might still hold some state.
 *
 * Every request sent upstream is an upop on its connection's FIFO. When the
 * reply arrives, the upop's kind decides who gets it: a client request, a
 * fill, an MGET, or corral itself (AUTH, SELECT, CLIENT TRACKING, which are
 * checked and dropped here). When a connection fails or a request times out,
 * every upop still on it fails (proxy_upop_failed) and the connection
 * reconnects with exponential backoff.
 *
 * A connection remembers which db its requests run in, and inserts a SELECT
 * before a request for another db, so clients of any db share the pool.
 */
#ifndef CORRAL_UPSTREAM_H
#define CORRAL_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "flush.h"
#include "resp.h"

struct server;
struct client;
struct evbuffer;

enum upop_kind {
    UPOP_CLIENT = 0,  /* target: struct req; reply forwarded to its client */
    UPOP_FILL_TTL,    /* target: struct flight; PTTL before a fill's GET */
    UPOP_FILL,        /* target: struct flight; the fill's GET */
    UPOP_MGET,        /* target: struct req; MGET of the keys not cached */
    UPOP_AUTH,        /* handshake, checked here */
    UPOP_SELECT,      /* SELECT inserted by corral; arg = db */
    UPOP_TRACKING,    /* CLIENT TRACKING on ... REDIRECT; arg = generation */
    UPOP_IGNORE,      /* reply dropped (e.g. a DISCARD on release) */
};

struct upop {
    struct upop *next;
    enum upop_kind kind;
    void *target;
    long long arg;
    uint64_t sent_ns;
    int blocking;             /* may block in Redis: exempt from
                                 upstream.timeout */
};

enum up_state { UP_DOWN = 0, UP_CONNECTING, UP_HANDSHAKE, UP_READY };

struct upconn {
    struct server *srv;
    struct bufferevent *bev;
    struct flush_entry out;   /* requests written at the end of a pass */
    enum up_state state;
    int index;                /* pool index; -1 for dedicated */
    int db;                   /* db the next request runs in */
    unsigned tracking_gen;    /* inval generation tracking is on for, 0 none */
    unsigned tracking_want;   /* generation requested, not yet confirmed */
    struct upop *head, *tail; /* requests in flight, oldest first */
    size_t nops;
    struct resp_scanner scan; /* the reply being received */
    size_t scan_off;          /* bytes of it already fed to scan */
    struct event *timer;      /* connect timeout / reconnect delay */
    unsigned backoff_ms;
    struct client *pinned;    /* dedicated: the client it serves */
    int stream;               /* dedicated: subscribed/monitoring, replies
                                 are pushed, not matched to requests */
    struct upconn *next_idle; /* dedicated: idle list link */
    int in_idle;              /* on the idle list */
    unsigned gen;             /* srv->up_gen when it connected */
};

/* Open the pool's shared connections (they connect in the background).
 * Returns 0, or -1 when out of memory. */
int upstream_pool_start(struct server *srv);

/* Close every connection, failing what is in flight. */
void upstream_pool_stop(struct server *srv);

/* A READY shared connection; with tracked set, only one whose tracking is
 * on for the current invalidation generation. NULL if none. Within one
 * event-loop pass the same connection is returned while it qualifies (its
 * requests go out in one write); each pass starts on the next one, round
 * robin. */
struct upconn *upstream_pick(struct server *srv, int tracked);

/* Number of READY shared connections. */
int upstream_ready_count(const struct server *srv);

/* A dedicated connection for client c, from the idle list or newly
 * connecting (requests may be sent at once; they are written after the
 * handshake). NULL when out of memory. */
struct upconn *upstream_dedicate(struct server *srv, struct client *c);

/* Give a dedicated connection back. With reusable set and nothing in flight
 * it goes on the idle list (bounded), else it is closed. Its in-flight
 * upops are failed. */
void upstream_release(struct upconn *u, int reusable);

/* Queue a request whose bytes are the first len bytes of src (moved, not
 * copied where the buffers allow). A SELECT is inserted first when db differs
 * from the connection's. Returns the new upop (owned by the connection until
 * its reply or failure), or NULL when out of memory (nothing was sent and
 * src is untouched) or the connection failed. On a streaming connection
 * (u->stream) no upop is queued, as replies are pushed to the client as they
 * come; the returned pointer then only signals success and must not be
 * used. */
struct upop *upstream_send(struct upconn *u, enum upop_kind kind, void *target,
                           int db, struct evbuffer *src, size_t len);

/* Same, formatting a multibulk request from argv. */
struct upop *upstream_send_argv(struct upconn *u, enum upop_kind kind,
                                void *target, int db, int argc,
                                const char *const *argv, const size_t *lens);

/* Turn tracking on, for the current invalidation generation, on every READY
 * shared connection where it is not on yet. */
void upstream_tracking_refresh(struct server *srv);

/* Fail requests older than upstream.timeout (their connection is reset).
 * Called periodically. */
void upstream_tick(struct server *srv, uint64_t now_ns);

#endif
