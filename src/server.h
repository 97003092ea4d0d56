/*
 * server.h — the one server instance: configuration, event loop, listeners,
 * the shared state every module reaches through it (cache, flight table,
 * upstream pool, metrics), and its lifecycle (start, reload, shutdown).
 */
#ifndef CORRAL_SERVER_H
#define CORRAL_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "metrics.h"

struct event_base;
struct evconnlistener;
struct event;
struct cache;
struct flight_table;
struct upconn;
struct client;
struct req;
struct inval;
struct stats;

struct server {
    struct event_base *base;
    struct conf conf;
    char *conf_path;                 /* owned; NULL = defaults only */
    struct metrics metrics;

    struct evconnlistener *listener;
    struct stats *stats;
    struct event *sig_term, *sig_int, *sig_hup;
    struct event *tick;              /* housekeeping, every 100 ms */
    struct event *shutdown_timer;    /* graceful shutdown deadline */
    int shutting_down;

    /* clients */
    struct client *clients;
    long nclients;
    struct client *dead;             /* closed clients awaiting the reaper */
    struct event *reaper;
    struct event *flusher;           /* end-of-pass writes (flush.c) */
    struct flush_entry *flush_list;  /* sockets with output to write */
    struct req *free_reqs;           /* recycled request objects */
    size_t nfree_reqs;

    /* upstream */
    struct upconn **pool;            /* upstream.connections shared */
    int npool;
    int pool_rr;
    struct upconn *idle;             /* idle dedicated connections */
    int nidle;
    int npinned;
    unsigned up_gen;                 /* bumps when the upstream changes */
    struct upop *free_ops;           /* recycled upops */
    /* argument vectors of the request being routed (grown as needed) */
    const char **argv;
    size_t *argvlen;
    int argv_cap;

    /* cache and flights */
    struct cache *cache;
    struct flight_table *flights;
    size_t lease_waiting;            /* readers parked on leases now */
    struct inval *inval;
    unsigned inval_gen;              /* bumps each time tracking is rebuilt;
                                        0 = no invalidation channel yet */
    int cache_usable;                /* invalidation is live: fills may store */

    uint64_t clock_ns;               /* monotonic time cached for the
                                        callback running now; 0 = none */
    uint64_t watchdog_usec;
    uint64_t last_watchdog_ms;
};

/* Monotonic clock. */
static inline uint64_t server_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t server_now_ms(void)
{
    return server_now_ns() / 1000000ULL;
}

/* The time for the callback running now: the clock is read once per batch
 * of requests or replies (see client_process, up_read), not per request. */
static inline uint64_t server_clock_ns(const struct server *srv)
{
    return srv->clock_ns ? srv->clock_ns : server_now_ns();
}

/* Set up everything from a loaded configuration (takes ownership of conf)
 * and start listening. Returns 0, or -1 with the reason logged. */
int server_start(struct server *srv, struct conf *conf, const char *conf_path);

/* Run the event loop until shutdown completes. Returns the exit status. */
int server_run(struct server *srv);

/* Free everything. */
void server_free(struct server *srv);

/* Re-read the configuration file and apply it (SIGHUP). */
void server_reload(struct server *srv);

/* The invalidation channel is gone: flush the cache and stop storing fills
 * until tracking is rebuilt. */
void server_cache_lost(struct server *srv, const char *why);

#endif
