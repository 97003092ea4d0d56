/*
 * flight.h — the flight table: per-key state of reads that are waiting.
 *
 * A flight exists for (db, key) while something is pending on that key:
 *   FLIGHT_FILLING  one upstream fill is in flight; readers of the key join
 *                   it instead of sending their own (miss coalescing);
 *   FLIGHT_LEASED   the key was missing in Redis and one client (the holder)
 *                   was told so and is expected to write it; readers park
 *                   until a write, a lease timeout or max_wait;
 *   FLIGHT_IDLE     nothing in flight, but the key is in its no-lease
 *                   cool-down (unfilled_until_ms) after a lease expired.
 *
 * Pure: a hash table and intrusive waiter lists; no clock, no I/O. The I/O
 * shell (lease.c, proxy.c) decides transitions; this module stores state.
 *
 * A flight may be detached: removed from the table (so new readers start a
 * fresh fill) while its pending fill still runs and its waiters still wait.
 * That is how an invalidation during a fill works: the fill's value is served
 * to the readers that joined it and never stored.
 *
 * Waiters are embedded in the caller's request object (struct flight_waiter),
 * so joining a flight allocates nothing. Each flight has a user area of the
 * size given at table creation for the shell's own per-flight state (its
 * timer), allocated with the flight in one block.
 */
#ifndef CORRAL_FLIGHT_H
#define CORRAL_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

struct flight;

struct flight_waiter {
    struct flight_waiter *next, *prev;
    struct flight *f;            /* NULL when not waiting */
    uint64_t since_ms;           /* when it started waiting */
};

enum flight_state { FLIGHT_IDLE = 0, FLIGHT_FILLING, FLIGHT_LEASED };

struct flight {
    struct flight *hnext;        /* hash chain (private) */
    uint64_t hash;               /* hash of the key bytes (private) */
    int db;
    enum flight_state state;
    int attached;                /* in the table (findable) */
    int fill_pending;            /* a fill request is in flight upstream */
    int stale;                   /* invalidated during the fill: never store */
    void *holder;                /* lease holder (opaque to this module) */
    uint64_t unfilled_until_ms;  /* no new lease before this time */
    size_t nwaiters;
    struct flight_waiter waiters;/* list head; waiters in arrival order */
    size_t klen;
    char *key;                   /* points into the same allocation */
};

struct flight_table;

/* Create a table whose flights carry user_size bytes of user area (maximally
 * aligned). NULL when out of memory. */
struct flight_table *flight_table_create(size_t user_size);

/* Free the table and every flight still in it (attached or not: the table
 * tracks all). Waiters are simply forgotten. */
void flight_table_destroy(struct flight_table *t);

/* Number of live flights (attached and detached). */
size_t flight_count(const struct flight_table *t);

/* The attached flight for (db, key), or NULL. */
struct flight *flight_find(struct flight_table *t, int db, const char *key,
                           size_t klen);

/* Create and attach a flight for (db, key) in state FLIGHT_IDLE (any flight
 * attached for the key must have been detached first). NULL when out of
 * memory. The user area is zeroed. */
struct flight *flight_add(struct flight_table *t, int db, const char *key,
                          size_t klen);

/* Remove f from the table's lookup (it stays alive until flight_free). */
void flight_detach(struct flight_table *t, struct flight *f);

/* Free f (detaching it if needed). It must have no waiters. */
void flight_free(struct flight_table *t, struct flight *f);

/* The user area of f. */
void *flight_user(struct flight *f);
/* The flight owning a user area. */
struct flight *flight_of_user(void *user);

/* Append w to f's waiters (w must not be waiting elsewhere). */
void flight_wait(struct flight *f, struct flight_waiter *w, uint64_t now_ms);
/* Remove w from its flight's waiters; no-op when not waiting. */
void flight_unwait(struct flight_waiter *w);
/* The longest-waiting waiter, or NULL. */
struct flight_waiter *flight_first(struct flight *f);
/* Move all of from's waiters to the end of to's list, in order. */
void flight_move_waiters(struct flight *from, struct flight *to);

/* Call fn for every attached flight whose key is key (every db). fn may
 * detach or free the flight it is given. */
void flight_foreach_key(struct flight_table *t, const char *key, size_t klen,
                        void (*fn)(struct flight *f, void *arg), void *arg);

/* Call fn for every attached flight (db < 0: every db). fn may detach or free
 * the flight it is given. */
void flight_foreach(struct flight_table *t, int db,
                    void (*fn)(struct flight *f, void *arg), void *arg);

#endif
