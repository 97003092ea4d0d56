/*
 * client.h — client connections and their request FIFO.
 *
 * A client's requests are answered strictly in the order they arrived,
 * whatever order their answers become ready in (a cache hit behind a pending
 * upstream request, a parked lease waiter ahead of a hit). Each request that
 * cannot be answered at once gets a struct req on the client's FIFO; a reply
 * that is ready while earlier ones are not is held in the req's own buffer
 * and counted against clients.output_limit.
 *
 * Backpressure: a client with too many requests in flight, or whose output
 * is over its limit... stops being read; past clients.output_limit it is
 * disconnected.
 */
#ifndef CORRAL_CLIENT_H
#define CORRAL_CLIENT_H

#include <event2/event_struct.h>
#include <stddef.h>
#include <stdint.h>

#include "flight.h"
#include "flush.h"
#include "metrics.h"
#include "resp.h"

struct server;
struct upconn;
struct upop;
struct evbuffer;

/* Most requests a client may have waiting for replies before corral stops
 * reading from it. */
#define CLIENT_MAX_PENDING 1024

struct req {
    struct req *next;          /* client FIFO */
    struct client *c;          /* NULL once the client has gone */
    struct evbuffer *reply;    /* reply held until the req reaches the head */
    struct evbuffer *aux;      /* MGET: the cached values, in key order */
    int done;                  /* reply complete */
    int close_after;           /* QUIT: close once this reply is sent */
    int lat_class;             /* enum latency_id, or -1 */
    uint64_t start_ns;
    struct upop *op;           /* in flight upstream */
    unsigned is_write : 1;     /* counted in c->writes_inflight */
    unsigned on_pin : 1;       /* sent on the client's dedicated connection */
    unsigned flush : 2;        /* 1 FLUSHDB, 2 FLUSHALL, 3 SWAPDB */
    unsigned is_select : 1;    /* a client's SELECT */
    int prev_db;               /* SELECT: the client's db before it */
    int db;                    /* db the request ran in */
    int cmd_flags;             /* the command's enum cmd_flag */
    /* keys a write touches, kept until its reply for invalidation */
    char *keys;                /* [uint32 len][bytes] per key */
    size_t keys_len, keys_cap;
    long long swap_a, swap_b;  /* SWAPDB's dbs */
    /* MGET */
    uint32_t *mget_len;        /* per key: cached value length, or UINT32_MAX */
    int mget_n, mget_cap;
    /* GET waiting on a flight (coalesced or parked on a lease) */
    struct flight_waiter w;
    struct event wait_timer;   /* lease.max_wait */
    int wait_timer_set;
    struct req *next_free;
};

struct client {
    struct server *srv;
    struct bufferevent *bev;     /* output only; owns the socket */
    struct evbuffer *in;         /* bytes read, not yet parsed; owned */
    struct event read_ev;        /* the socket is readable */
    size_t read_size;            /* bytes asked of the next read */
    int reading;                 /* read_ev is added */
    struct flush_entry out;      /* replies written at the end of a pass */
    struct client *next, *prev;  /* server's client list */
    struct resp_parser parser;
    int db;
    char *name;                  /* CLIENT SETNAME, owned */
    int authed;
    struct req *head, *tail;     /* FIFO */
    unsigned nreqs;
    size_t held;                 /* bytes held in reqs' reply buffers */
    unsigned inflight;           /* requests on upstream connections */
    unsigned writes_inflight;    /* of which writes */
    struct upconn *up;           /* shared connection used while inflight */
    struct upconn *pin;          /* dedicated connection, if any */
    int in_multi, watching, stream;
    int blocked;                 /* input processing paused (route change,
                                    pending limit, output over limit) */
    int closing;                 /* close once output is flushed */
    int in_process;              /* re-entrancy guard for client_process */
    int dead;                    /* closed; freed by the reaper */
    struct client *next_dead;
    int leases_held;             /* leases this client holds */
    uint32_t batch_answered[LAT__COUNT];  /* answered at once in this batch, by
                                    latency class (enum latency_id) */
    struct event resume_ev;      /* runs client_process after a pause */
    uint64_t last_active_ms;
    char addr[64];
    /* keys written inside MULTI, invalidated when EXEC is answered */
    char *txkeys;
    size_t txkeys_len, txkeys_cap;
    int txkeys_overflow;         /* too many: flush the db at EXEC */
};

/* Accept a new connection on fd (the server checks clients.max first).
 * Returns 0, or -1 (fd closed) when out of memory. */
int client_accept(struct server *srv, int fd, const char *addr);

/* Close a client (deferred to the reaper, so it is safe from any callback):
 * its pending requests are dropped, parked ones
 * unparked, upstream requests in flight orphaned (their replies will be
 * discarded), its dedicated connection released or closed. */
void client_close(struct client *c);

/* Stop reading from c and close it once everything queued to it has been
 * written. */
void client_close_when_flushed(struct client *c);

/* A new req on c's FIFO (from the server's free list). NULL when out of
 * memory. */
struct req *client_req_new(struct client *c, uint64_t start_ns, int lat_class);

/* Free a req that is on no FIFO and no upstream connection (it goes back
 * to the server's free list, bounded). */
void client_req_free(struct server *srv, struct req *r);

/* Free the server's list of recycled reqs (at exit). */
void client_req_pool_free(struct server *srv);

/* Answer r with bytes (copied). r's client may be NULL (orphan: the reply is
 * dropped and r freed). If r is at the head of its FIFO the bytes go straight
 * to the socket, then any following completed replies; otherwise they are
 * held in r. Records r's latency. */
void client_reply(struct req *r, const char *data, size_t len);

/* Same, moving len bytes out of src. */
void client_reply_move(struct req *r, struct evbuffer *src, size_t len);

/* Answer an error "-<msg>\r\n". */
void client_reply_error(struct req *r, const char *msg);

/* Build r's reply piecewise (MGET assembly): append to the buffer returned
 * by client_reply_buffer (NULL when out of memory), then client_reply_finish
 * completes it. */
struct evbuffer *client_reply_buffer(struct req *r);
void client_reply_finish(struct req *r);

/* Answer the request being processed now: straight to the socket when
 * nothing is ahead of it in c's FIFO, else through a new req. Returns 0, or
 * -1 when out of memory (the client is closed). */
int client_answer(struct client *c, uint64_t start_ns, int lat_class,
                  const char *data, size_t len);

/* Free clients closed during this event-loop turn (run by the server's
 * reaper event). */
void client_reap(struct server *srv);

/* Write bytes for the client directly (no req: fast path when its FIFO is
 * empty, and pub/sub streams). Checks the output limit. */
void client_write(struct client *c, const char *data, size_t len);
void client_write_move(struct client *c, struct evbuffer *src, size_t len);

/* Resume reading and processing input (after a route change drained, the
 * FIFO shrank, ...). Deferred to its own event-loop callback, so it is safe
 * to call from inside upstream and fill callbacks: the client's requests
 * are never parsed (and connections never released) underneath them. */
void client_resume(struct client *c);

/* Parse and dispatch whatever complete requests c has buffered. */
void client_process(struct client *c);

#endif
