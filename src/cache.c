/*
 * cache.c — the local cache store (contract in cache.h).
 *
 * Entries live in a chained hash table keyed by the key bytes alone, so one
 * chain holds a key for every db and cache_del_all_dbs is one chain walk.
 * Each entry is a single allocation: a 40-byte header (on 64-bit) followed
 * by the key and then the value. The same entries form the SIEVE queue, a
 * doubly linked FIFO with the newest entry at the head; the hand walks from
 * the tail toward the head, clearing visited bits, and evicts the first
 * entry that is unvisited or expired.
 *
 * The bucket array doubles in place (realloc, then each chain is split by
 * one more hash bit) when the entries reach the bucket count, and halves in
 * place (chains appended pairwise) only when cache_set_limit needs the room.
 * Hashes are not stored; they are recomputed from the key when a chain is
 * split or an evicted entry is unlinked.
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_DB      65535
#define CACHE_MAX_KLEN    ((size_t)1 << 29)          /* 512 MiB */
#define CACHE_MAX_VLEN    ((size_t)UINT32_MAX)
#define CACHE_NEVER       (((uint64_t)1 << 48) - 1)  /* expire_ms field max */
#define CACHE_MIN_BUCKETS 16

/* Model of glibc malloc on Linux: a chunk is the request plus one size word,
 * rounded up to 16 bytes and at least 32; requests from the mmap threshold
 * (128 KiB by default) up are mapped and take whole pages. */
#define MALLOC_ALIGN      16
#define MALLOC_MIN_CHUNK  32
#define MALLOC_MMAP_MIN   ((size_t)128 * 1024)
#define MALLOC_PAGE       ((size_t)4096)

/* Hash constants: odd 64-bit multipliers with about half their bits set. */
#define HASH_SEED 0x5e6a0a2edd70e34dULL
#define HASH_MUL1 0xd1a6e55e9b9b1325ULL
#define HASH_MUL2 0xcf0c26ef4243ed53ULL

struct cache_entry {
    struct cache_entry *chain;  /* next entry in the same bucket */
    struct cache_entry *newer;  /* toward the queue head; NULL at the head */
    struct cache_entry *older;  /* toward the queue tail; NULL at the tail */
    uint64_t expire_ms : 48;    /* absolute; CACHE_NEVER means never */
    uint64_t db : 16;
    uint32_t klen : 30;
    uint32_t visited : 1;       /* hit since the hand last passed */
    uint32_t vlen;
    char data[];                /* klen key bytes, then vlen value bytes */
};

_Static_assert(sizeof(struct cache_entry) == 3 * sizeof(void *) + 16,
               "entry header must stay packed");

struct cache {
    struct cache_entry **buckets;  /* NULL until the first entry */
    size_t nbuckets;               /* a power of two, or 0 */
    struct cache_entry *head;      /* newest entry */
    struct cache_entry *tail;      /* oldest entry */
    struct cache_entry *hand;      /* next entry the hand looks at;
                                      NULL means start at the tail */
    size_t max_memory;
    uint64_t now_ms;               /* latest time passed to cache_get */
    uint64_t entries;
    uint64_t bytes;
    uint64_t evictions;
    uint64_t expired;
};

/* 64-bit multiply-xorshift over the key in 8-byte words; the length seeds
 * the state so keys differing only by trailing zero bytes differ. The final
 * round folds the high bits down, since buckets are picked by the low bits. */
static uint64_t hash_key(const char *key, size_t klen)
{
    uint64_t h = HASH_SEED ^ ((uint64_t)klen * HASH_MUL2);
    uint64_t w;

    while (klen >= 8) {
        memcpy(&w, key, 8);
        h = (h ^ w) * HASH_MUL1;
        h ^= h >> 29;
        key += 8;
        klen -= 8;
    }
    if (klen > 0) {
        /* a byte loop: cheaper than a variable-length memcpy call here */
        w = 0;
        for (size_t i = 0; i < klen; i++)
            w |= (uint64_t)(unsigned char)key[i] << (8 * i);
        h = (h ^ w) * HASH_MUL1;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= HASH_MUL2;
    h ^= h >> 31;
    return h;
}

/* Bytes the allocator takes for a request of n bytes (see MALLOC_*). */
static size_t alloc_charge(size_t n)
{
    const size_t word = sizeof(size_t);
    size_t chunk = (n + word + MALLOC_ALIGN - 1) & ~(size_t)(MALLOC_ALIGN - 1);

    if (chunk < MALLOC_MIN_CHUNK)
        chunk = MALLOC_MIN_CHUNK;
    if (n >= MALLOC_MMAP_MIN)
        chunk = (chunk + word + MALLOC_PAGE - 1) & ~(MALLOC_PAGE - 1);
    return chunk;
}

/* Request size of an entry; callers have checked the limits, so the sum
 * cannot overflow. */
static size_t entry_size(size_t klen, size_t vlen)
{
    return offsetof(struct cache_entry, data) + klen + vlen;
}

/* Everything an entry is charged: header, key, value, allocator overhead. */
static size_t entry_charge(size_t klen, size_t vlen)
{
    return alloc_charge(entry_size(klen, vlen));
}

static int lengths_ok(size_t klen, size_t vlen)
{
    if (klen > CACHE_MAX_KLEN || vlen > CACHE_MAX_VLEN)
        return 0;
    /* Only bites where size_t is 32 bits: leave room for header and pages. */
    return vlen <= SIZE_MAX - klen - offsetof(struct cache_entry, data) -
                   2 * MALLOC_PAGE;
}

static int db_ok(int db)
{
    return db >= 0 && db <= CACHE_MAX_DB;
}

static int expired(const struct cache_entry *e, uint64_t now_ms)
{
    return e->expire_ms != CACHE_NEVER && now_ms >= e->expire_ms;
}

static size_t table_bytes(size_t nbuckets)
{
    return nbuckets * sizeof(struct cache_entry *);
}

static int key_eq(const struct cache_entry *e, const char *key, size_t klen)
{
    return e->klen == klen && (klen == 0 || memcmp(e->data, key, klen) == 0);
}

/* The chain link that points at (db, key), or NULL. */
static struct cache_entry **find(struct cache *c, int db, const char *key,
                                 size_t klen)
{
    struct cache_entry **link;

    if (c->nbuckets == 0 || !db_ok(db) || klen > CACHE_MAX_KLEN)
        return NULL;
    link = &c->buckets[hash_key(key, klen) & (c->nbuckets - 1)];
    for (; *link != NULL; link = &(*link)->chain) {
        struct cache_entry *e = *link;
        if (e->db == (unsigned)db && key_eq(e, key, klen))
            return link;
    }
    return NULL;
}

/* The chain link that points at e, which is in the table. */
static struct cache_entry **link_of(struct cache *c, struct cache_entry *e)
{
    struct cache_entry **link =
        &c->buckets[hash_key(e->data, e->klen) & (c->nbuckets - 1)];

    while (*link != e)
        link = &(*link)->chain;
    return link;
}

static void queue_push(struct cache *c, struct cache_entry *e)
{
    e->newer = NULL;
    e->older = c->head;
    if (c->head != NULL)
        c->head->newer = e;
    else
        c->tail = e;
    c->head = e;
}

static void queue_unlink(struct cache *c, struct cache_entry *e)
{
    if (c->hand == e)
        c->hand = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        c->head = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        c->tail = e->newer;
}

/* Remove e, found through *link, from table and queue and free it. */
static void drop(struct cache *c, struct cache_entry **link,
                 struct cache_entry *e)
{
    *link = e->chain;
    queue_unlink(c, e);
    c->bytes -= entry_charge(e->klen, e->vlen);
    c->entries--;
    free(e);
}

/* SIEVE: evict one entry; the queue must not be empty. The walk ends within
 * one lap, since it clears every visited bit it passes. */
static void evict_one(struct cache *c)
{
    struct cache_entry *e = c->hand != NULL ? c->hand : c->tail;
    int was_expired;

    while (!(was_expired = expired(e, c->now_ms)) && e->visited) {
        e->visited = 0;
        e = e->newer != NULL ? e->newer : c->tail;
    }
    c->hand = e->newer;
    drop(c, link_of(c, e), e);
    if (was_expired)
        c->expired++;
    else
        c->evictions++;
}

/* Double the bucket array in place; on allocation failure keep the old one
 * (chains just get longer). */
static void table_grow(struct cache *c)
{
    size_t n = c->nbuckets;
    struct cache_entry **b;

    if (n > SIZE_MAX / 2 / sizeof *b)
        return;
    b = realloc(c->buckets, table_bytes(2 * n));
    if (b == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        struct cache_entry *e = b[i], *lo = NULL, *hi = NULL;

        while (e != NULL) {
            struct cache_entry *next = e->chain;
            if (hash_key(e->data, e->klen) & n) {
                e->chain = hi;
                hi = e;
            } else {
                e->chain = lo;
                lo = e;
            }
            e = next;
        }
        b[i] = lo;
        b[i + n] = hi;
    }
    c->buckets = b;
    c->nbuckets = 2 * n;
    c->bytes += table_bytes(n);
}

/* Halve the bucket array in place: bucket i + half joins bucket i. */
static void table_halve(struct cache *c)
{
    size_t half = c->nbuckets / 2;
    struct cache_entry **b = c->buckets, **shrunk;

    for (size_t i = 0; i < half; i++) {
        struct cache_entry **link = &b[i];

        if (b[i + half] == NULL)
            continue;
        while (*link != NULL)
            link = &(*link)->chain;
        *link = b[i + half];
    }
    /* Shrinking cannot really fail; if it does the block stays bigger. */
    shrunk = realloc(b, table_bytes(half));
    if (shrunk != NULL)
        c->buckets = shrunk;
    c->nbuckets = half;
    c->bytes -= table_bytes(half);
}

struct cache *cache_create(size_t max_memory)
{
    struct cache *c = calloc(1, sizeof *c);

    if (c != NULL)
        c->max_memory = max_memory;
    return c;
}

static void free_entries(struct cache *c)
{
    struct cache_entry *e = c->head;

    while (e != NULL) {
        struct cache_entry *older = e->older;
        free(e);
        e = older;
    }
    c->head = c->tail = c->hand = NULL;
    c->entries = 0;
    c->bytes = table_bytes(c->nbuckets);
}

void cache_destroy(struct cache *c)
{
    if (c == NULL)
        return;
    free_entries(c);
    free(c->buckets);
    free(c);
}

void cache_set_limit(struct cache *c, size_t max_memory)
{
    c->max_memory = max_memory;
    /* Besides fitting, keep the array within a quarter of the new budget
     * (as growth in cache_set does), so any entry of up to half the budget
     * can still be stored. */
    while (c->bytes > max_memory ||
           (c->nbuckets > CACHE_MIN_BUCKETS &&
            table_bytes(c->nbuckets) > max_memory / 4)) {
        if (c->nbuckets > CACHE_MIN_BUCKETS &&
            c->entries <= c->nbuckets / 2) {
            table_halve(c);
        } else if (c->tail != NULL) {
            evict_one(c);
        } else {
            free(c->buckets);
            c->buckets = NULL;
            c->nbuckets = 0;
            c->bytes = 0;
        }
    }
}

const char *cache_get(struct cache *c, int db, const char *key, size_t klen,
                      uint64_t now_ms, size_t *vlen)
{
    struct cache_entry **link, *e;

    if (now_ms > c->now_ms)
        c->now_ms = now_ms;
    link = find(c, db, key, klen);
    if (link == NULL)
        return NULL;
    e = *link;
    if (expired(e, now_ms)) {
        drop(c, link, e);
        c->expired++;
        return NULL;
    }
    e->visited = 1;
    *vlen = e->vlen;
    return e->data + e->klen;
}

int cache_set(struct cache *c, int db, const char *key, size_t klen,
              const char *val, size_t vlen, uint64_t expire_ms)
{
    struct cache_entry **link, *e;
    size_t charge, tbytes;

    if (!db_ok(db) || klen > CACHE_MAX_KLEN)
        return -1;  /* no entry can exist for such a key */
    link = find(c, db, key, klen);
    if (link != NULL)
        drop(c, link, *link);
    if (!lengths_ok(klen, vlen))
        return -1;

    charge = entry_charge(klen, vlen);
    tbytes = table_bytes(c->nbuckets > 0 ? c->nbuckets : CACHE_MIN_BUCKETS);
    if (charge > c->max_memory || tbytes > c->max_memory - charge)
        return -1;

    e = malloc(entry_size(klen, vlen));
    if (e == NULL)
        return -1;
    if (c->buckets == NULL) {
        c->buckets = calloc(CACHE_MIN_BUCKETS, sizeof *c->buckets);
        if (c->buckets == NULL) {
            free(e);
            return -1;
        }
        c->nbuckets = CACHE_MIN_BUCKETS;
        c->bytes += tbytes;
    }
    /* Grow at load factor 1, if the doubled array still leaves room for the
     * new entry; the eviction below then pays for the array too. */
    if (c->entries >= c->nbuckets && tbytes <= (c->max_memory - charge) / 2)
        table_grow(c);
    while (c->bytes + charge > c->max_memory && c->tail != NULL)
        evict_one(c);

    e->expire_ms = expire_ms < CACHE_NEVER ? expire_ms : CACHE_NEVER;
    e->db = (unsigned)db;
    e->klen = (uint32_t)klen;
    e->visited = 0;
    e->vlen = (uint32_t)vlen;
    if (klen > 0)
        memcpy(e->data, key, klen);
    if (vlen > 0)
        memcpy(e->data + klen, val, vlen);

    link = &c->buckets[hash_key(key, klen) & (c->nbuckets - 1)];
    e->chain = *link;
    *link = e;
    queue_push(c, e);
    c->entries++;
    c->bytes += charge;
    return 0;
}

int cache_del(struct cache *c, int db, const char *key, size_t klen)
{
    struct cache_entry **link = find(c, db, key, klen);

    if (link == NULL)
        return 0;
    drop(c, link, *link);
    return 1;
}

int cache_del_all_dbs(struct cache *c, const char *key, size_t klen)
{
    struct cache_entry **link;
    int n = 0;

    if (c->nbuckets == 0 || klen > CACHE_MAX_KLEN)
        return 0;
    link = &c->buckets[hash_key(key, klen) & (c->nbuckets - 1)];
    while (*link != NULL) {
        struct cache_entry *e = *link;
        if (key_eq(e, key, klen)) {
            drop(c, link, e);
            n++;
        } else {
            link = &e->chain;
        }
    }
    return n;
}

void cache_flush_db(struct cache *c, int db)
{
    if (!db_ok(db))
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct cache_entry **link = &c->buckets[i];

        while (*link != NULL) {
            struct cache_entry *e = *link;
            if (e->db == (unsigned)db)
                drop(c, link, e);
            else
                link = &e->chain;
        }
    }
}

void cache_flush(struct cache *c)
{
    free_entries(c);
    if (c->buckets != NULL)
        memset(c->buckets, 0, table_bytes(c->nbuckets));
}

void cache_get_stats(const struct cache *c, struct cache_stats *st)
{
    st->entries = c->entries;
    st->bytes = c->bytes;
    st->evictions = c->evictions;
    st->expired = c->expired;
}

size_t cache_entry_cost(size_t klen, size_t vlen)
{
    if (!lengths_ok(klen, vlen))
        return SIZE_MAX;
    return entry_charge(klen, vlen) - klen - vlen;
}
