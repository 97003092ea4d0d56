/*
 * inval.h — the invalidation connection.
 *
 * One dedicated upstream connection subscribed to __redis__:invalidate. The
 * shared connections turn on CLIENT TRACKING with REDIRECT to its client id,
 * so Redis tells corral about every write to a key corral has read, whoever
 * made the write. Each message names keys without a db (they are dropped in
 * every db); a null message means "everything" (FLUSHALL, or the tracking
 * table overflowed).
 *
 * The connection is pinged every second; no answer within three seconds,
 * or any error, and the channel counts as lost: the cache is flushed
 * (server_cache_lost) and nothing is stored again until the connection is
 * back and tracking has been rebuilt on the shared connections.
 */
#ifndef CORRAL_INVAL_H
#define CORRAL_INVAL_H

#include <stdint.h>

struct server;
struct inval;

/* Start the connection (it connects in the background). NULL when out of
 * memory. */
struct inval *inval_start(struct server *srv);

/* Close and free. NULL allowed. */
void inval_stop(struct inval *iv);

/* Client id of the subscribed invalidation connection, 0 while it is not
 * ready. */
long long inval_client_id(const struct server *srv);

/* Keepalive; called every 100 ms. */
void inval_tick(struct inval *iv, uint64_t now_ms);

#endif
