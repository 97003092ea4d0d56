/*
 * fill.h — the read path for GET: local cache, miss coalescing, and fill
 * leases (stampede protection), plus the invalidation entry points that end
 * fills and leases.
 *
 *   GET k ──hit──────────────────────────────────────> value from memory
 *     │miss
 *     ├─ fill of k in flight ──────────> join it (coalesced), answered with it
 *     ├─ lease on k held by another ───> park until the holder's write,
 *     │                                  lease timeout or lease.max_wait
 *     └─ start a fill: PTTL k + GET k on one tracked connection
 *            value ─> every joined reader; stored unless invalidated meanwhile
 *            nil   ─> the first reader gets nil and holds the lease; the
 *                     others stay parked
 *
 *   write of k acknowledged / tracking message for k
 *        ─> drop k; a fill in flight is detached (served, never stored);
 *           a lease ends: k is read again once and the parked readers get it
 */
#ifndef CORRAL_FILL_H
#define CORRAL_FILL_H

#include <stddef.h>
#include <stdint.h>

#include "proxy.h"

struct server;
struct client;
struct req;
struct upconn;
struct upop;
struct evbuffer;
struct resp_scanner;

enum fill_source { FILL_SRC_WRITE, FILL_SRC_TRACKING, FILL_SRC_FLUSH };

/* Most flights (fills, leases, no-lease cool-downs) at once; past it reads
 * go straight upstream and no lease is granted. */
#define FILL_MAX_FLIGHTS 100000

/* Set up the flight table. Returns 0 or -1 (out of memory). */
int fill_init(struct server *srv);
void fill_free(struct server *srv);

/* GET key for client c; reqlen is the request's size at the front of in.
 * Returns 0 when handled (bytes drained), or -1 when the request should
 * simply be forwarded (key not cached and not leased, no tracked
 * connection, or the client has writes in flight). */
int fill_get(struct client *c, struct evbuffer *in, size_t reqlen,
             const char *key, size_t klen, uint64_t start_ns);

/* Replies and failures of UPOP_FILL_TTL and UPOP_FILL. */
void fill_reply(struct upconn *u, struct upop *op, struct evbuffer *in,
                size_t len, const struct resp_scanner *s);
void fill_failed(struct upop *op, const char *msg);

/* A write of key in db was acknowledged by Redis. */
void fill_invalidate_db_key(struct server *srv, int db, const char *key,
                            size_t klen, enum fill_source src);
/* Redis says key changed (no db known): every db. */
void fill_invalidate_key(struct server *srv, const char *key, size_t klen,
                         enum fill_source src);
/* Everything in db (-1: every db) changed. */
void fill_invalidate_all(struct server *srv, int db, enum fill_source src);

/* Redis may no longer tell corral about writes to what it holds (the
 * invalidation channel or a tracked connection is gone): drop every cached
 * entry and keep fills in flight from being stored. Leases are left alone:
 * they still end by a write through corral or by their timeout. */
void fill_cache_flush(struct server *srv);

/* r is being dropped (its client left, or it is freed): stop its
 * lease.max_wait timer and leave any flight it waits on. */
void fill_req_cancel(struct server *srv, struct req *r);

/* c is leaving: leases it holds pass to the next parked reader. */
void fill_client_gone(struct client *c);

/* Shutdown: every parked reader gets nil now. */
void fill_release_all(struct server *srv);

#endif
