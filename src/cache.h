/*
 * cache.h — the local cache store.
 *
 * Pure and single-threaded: a hash table of (db, key) -> value, where the
 * value is the exact RESP reply bytes to send to a client (for GET, a bulk
 * string "$3\r\nfoo\r\n"). Each entry has an absolute expiry time. The whole
 * store stays within a byte budget that counts keys, values and the per-entry
 * overhead (entry header, hash table share, allocator rounding); eviction is
 * SIEVE (a FIFO queue with a visited bit and a moving hand), which keeps hit
 * ratio above LRU at O(1) per operation with no work on a hit but setting one
 * bit.
 *
 * Time is passed in by the caller (milliseconds, any monotonic origin), so the
 * store never reads a clock. An entry is live while now_ms < its expire_ms.
 * cache_set takes no time, so eviction judges expiry by the latest now_ms
 * seen by cache_get: entries expired by then are dropped first.
 *
 * Limits of the packed entry: db 0..65535, key up to 512 MiB, value below
 * 4 GiB; expire_ms is saturated at 2^48 - 1 ms (about 8900 years), which
 * means never (pass UINT64_MAX for no expiry).
 *
 * Accounting: each entry is one allocation (header, key, value) charged at
 * the size glibc malloc takes for it (request plus one word, rounded up to
 * 16 bytes; whole pages at or above 128 KiB), see cache_entry_cost. The hash
 * table (a word per slot, at most 3/4 full: it doubles when an insert would
 * pass that, so 10.7 to 21.3 bytes per entry on 64-bit) is charged as a
 * whole in stats.bytes. It is allocated with the first entry, and shrunk or
 * freed only when cache_set_limit needs the room.
 */
#ifndef CORRAL_CACHE_H
#define CORRAL_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;

struct cache_stats {
    uint64_t entries;    /* entries stored now */
    uint64_t bytes;      /* bytes charged to the budget now */
    uint64_t evictions;  /* entries evicted to make room, ever */
    uint64_t expired;    /* entries dropped because their time ran out */
};

/* Create an empty store with a budget of max_memory bytes. NULL when out of
 * memory. */
struct cache *cache_create(size_t max_memory);

/* Free the store and every entry. NULL is allowed. */
void cache_destroy(struct cache *c);

/* Change the budget; evicts at once down to the new one. The table is
 * halved instead while the entries fit in half of it, and also while it
 * takes more than a quarter of the new budget. 0 empties the store. */
void cache_set_limit(struct cache *c, size_t max_memory);

/* Look up (db, key) at time now_ms. Returns the stored reply bytes and sets
 * *vlen, or NULL when absent or expired (an expired entry is freed; *vlen is
 * then untouched). The pointer is valid until the next call that modifies
 * the store. Marks the entry visited for eviction. */
const char *cache_get(struct cache *c, int db, const char *key, size_t klen,
                      uint64_t now_ms, size_t *vlen);

/* Store a copy of key and value for (db, key) until expire_ms, replacing any
 * old entry, evicting others as needed. Returns 0 when stored, -1 when not
 * (the entry alone with the table exceeds the budget, out of memory,
 * or db/key/value beyond the limits above: the store is then unchanged
 * except that an old entry for the key is gone). */
int cache_set(struct cache *c, int db, const char *key, size_t klen,
              const char *val, size_t vlen, uint64_t expire_ms);

/* Drop (db, key). Returns 1 if there was an entry (live or not yet freed
 * after expiry). */
int cache_del(struct cache *c, int db, const char *key, size_t klen);

/* Drop key in every db (invalidation messages name no db). Returns how many
 * entries were dropped. */
int cache_del_all_dbs(struct cache *c, const char *key, size_t klen);

/* Drop every entry of one db / of all dbs. */
void cache_flush_db(struct cache *c, int db);
void cache_flush(struct cache *c);

void cache_get_stats(const struct cache *c, struct cache_stats *st);

/* Bytes charged per entry beyond its key and value bytes, for an entry with
 * the given key and value length: header, allocator header and rounding.
 * The table is not included (see above). stats.bytes is always the
 * table plus, for each entry, klen + vlen + cache_entry_cost.
 * SIZE_MAX for lengths beyond the limits. */
size_t cache_entry_cost(size_t klen, size_t vlen);

#endif
