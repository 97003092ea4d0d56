/*
 * cache.c — the local cache store (contract in cache.h).
 *
 * Entries live in an open-addressing hash table with linear probing, keyed
 * by the key bytes alone, so the same key in every db sits in one probe run
 * and cache_del_all_dbs is one run walk. A slot is the entry's address with
 * a few bits of its hash in the low bits that malloc's alignment leaves
 * zero: a probe only follows a pointer when those bits match, so a miss
 * rarely touches an entry. 0 is an empty slot. The table is never more than
 * 3/4 full; deletion shifts the rest of the run back (no tombstones).
 *
 * Each entry is a single allocation: a 32-byte header (on 64-bit) followed
 * by the key and then the value. The same entries form the SIEVE queue, a
 * doubly linked FIFO with the newest entry at the head; the hand walks from
 * the tail toward the head, clearing visited bits, and evicts the first
 * entry that is unvisited or expired.
 *
 * The table doubles when an insert would pass 3/4 full, and halves only
 * when cache_set_limit needs the room; both rebuild it. Hashes are not
 * stored; they are recomputed from the key when the table is rebuilt or a
 * deletion moves an entry.
 */
#include "cache.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_DB      65535
#define CACHE_MAX_KLEN    ((size_t)1 << 29)          /* 512 MiB */
#define CACHE_MAX_VLEN    ((size_t)UINT32_MAX)
#define CACHE_NEVER       (((uint64_t)1 << 48) - 1)  /* expire_ms field max */
#define CACHE_MIN_SLOTS   16

/* Slot tag: low hash bits kept in the alignment bits of the entry address
 * (malloc aligns to max_align_t). */
#define SLOT_TAG_MASK     ((uintptr_t)_Alignof(max_align_t) - 1)
_Static_assert(_Alignof(max_align_t) >= 8 &&
               (_Alignof(max_align_t) & (_Alignof(max_align_t) - 1)) == 0,
               "malloc alignment leaves at least 3 tag bits");

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
    struct cache_entry *newer;  /* toward the queue head; NULL at the head */
    struct cache_entry *older;  /* toward the queue tail; NULL at the tail */
    uint64_t expire_ms : 48;    /* absolute; CACHE_NEVER means never */
    uint64_t db : 16;
    uint32_t klen : 30;
    uint32_t visited : 1;       /* hit since the hand last passed */
    uint32_t vlen;
    char data[];                /* klen key bytes, then vlen value bytes */
};

_Static_assert(sizeof(struct cache_entry) == 2 * sizeof(void *) + 16,
               "entry header must stay packed");

struct cache {
    uintptr_t *slots;              /* entry | tag, or 0; NULL until the
                                      first entry */
    size_t nslots;                 /* a power of two, or 0 */
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
 * round folds the high bits down, since slots are picked by the low bits. */
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

static size_t table_bytes(size_t nslots)
{
    return nslots * sizeof(uintptr_t);
}

static int key_eq(const struct cache_entry *e, const char *key, size_t klen)
{
    return e->klen == klen && (klen == 0 || memcmp(e->data, key, klen) == 0);
}

static uintptr_t slot_tag(uint64_t h)
{
    /* the high bits: the low ones pick the slot */
    return (uintptr_t)(h >> 58) & SLOT_TAG_MASK;
}

static struct cache_entry *slot_entry(uintptr_t slot)
{
    return (struct cache_entry *)(slot & ~SLOT_TAG_MASK);
}

static uint64_t entry_hash(const struct cache_entry *e)
{
    return hash_key(e->data, e->klen);
}

/* The slot holding (db, key), or SIZE_MAX. */
static size_t find(const struct cache *c, int db, const char *key, size_t klen)
{
    uint64_t h;
    uintptr_t tag, s;
    size_t mask, i;

    if (c->nslots == 0 || !db_ok(db) || klen > CACHE_MAX_KLEN)
        return SIZE_MAX;
    h = hash_key(key, klen);
    tag = slot_tag(h);
    mask = c->nslots - 1;
    /* ends: the table always has an empty slot */
    for (i = h & mask; (s = c->slots[i]) != 0; i = (i + 1) & mask) {
        const struct cache_entry *e = slot_entry(s);

        if ((s & SLOT_TAG_MASK) == tag && e->db == (unsigned)db &&
            key_eq(e, key, klen))
            return i;
    }
    return SIZE_MAX;
}

/* The slot holding e, which is in the table. */
static size_t slot_of(const struct cache *c, const struct cache_entry *e)
{
    size_t mask = c->nslots - 1, i = entry_hash(e) & mask;

    while (slot_entry(c->slots[i]) != e)
        i = (i + 1) & mask;
    return i;
}

/* Put e into the first free slot of its run; the table has room. */
static void slot_put(uintptr_t *slots, size_t nslots, struct cache_entry *e)
{
    uint64_t h = entry_hash(e);
    size_t mask = nslots - 1, i = h & mask;

    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = (uintptr_t)e | slot_tag(h);
}

/* Empty slot i, moving later entries of the run back so that every entry
 * stays reachable from its home slot without tombstones. */
static void slot_clear(struct cache *c, size_t i)
{
    size_t mask = c->nslots - 1, j = i;
    uintptr_t s;

    while ((s = c->slots[j = (j + 1) & mask]) != 0) {
        size_t home = entry_hash(slot_entry(s)) & mask;

        /* the entry at j may fill the hole at i unless its home lies
           cyclically in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            c->slots[i] = s;
            i = j;
        }
    }
    c->slots[i] = 0;
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

/* Remove e, held by slot i, from table and queue and free it. */
static void drop(struct cache *c, size_t i, struct cache_entry *e)
{
    slot_clear(c, i);
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
    drop(c, slot_of(c, e), e);
    if (was_expired)
        c->expired++;
    else
        c->evictions++;
}

/* The entries fit in n slots at most 3/4 full. */
static int fits(uint64_t entries, size_t n)
{
    return entries <= n / 4 * 3;
}

/* Rebuild the table with n slots (a power of two the entries fit in).
 * Returns 0, or -1 when out of memory (the old table stays). */
static int table_resize(struct cache *c, size_t n)
{
    uintptr_t *slots = calloc(n, sizeof *slots);

    if (slots == NULL)
        return -1;
    for (struct cache_entry *e = c->head; e != NULL; e = e->older)
        slot_put(slots, n, e);
    free(c->slots);
    c->bytes = c->bytes - table_bytes(c->nslots) + table_bytes(n);
    c->slots = slots;
    c->nslots = n;
    return 0;
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
    c->bytes = table_bytes(c->nslots);
}

static void table_free(struct cache *c)
{
    free(c->slots);
    c->slots = NULL;
    c->nslots = 0;
    c->bytes = 0;
}

void cache_destroy(struct cache *c)
{
    if (c == NULL)
        return;
    free_entries(c);
    free(c->slots);
    free(c);
}

void cache_set_limit(struct cache *c, size_t max_memory)
{
    c->max_memory = max_memory;
    /* Besides fitting, keep the table within a quarter of the new budget
     * (as growth in cache_set does), so any entry of up to half the budget
     * can still be stored. */
    while (c->bytes > max_memory ||
           (c->nslots > CACHE_MIN_SLOTS &&
            table_bytes(c->nslots) > max_memory / 4)) {
        if (c->nslots > CACHE_MIN_SLOTS && fits(c->entries, c->nslots / 2) &&
            table_resize(c, c->nslots / 2) == 0)
            continue;
        if (c->tail != NULL)
            evict_one(c);
        else
            table_free(c);
    }
}

const char *cache_get(struct cache *c, int db, const char *key, size_t klen,
                      uint64_t now_ms, size_t *vlen)
{
    struct cache_entry *e;
    size_t i;

    if (now_ms > c->now_ms)
        c->now_ms = now_ms;
    i = find(c, db, key, klen);
    if (i == SIZE_MAX)
        return NULL;
    e = slot_entry(c->slots[i]);
    if (expired(e, now_ms)) {
        drop(c, i, e);
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
    struct cache_entry *e;
    size_t charge, tbytes, i;

    if (!db_ok(db) || klen > CACHE_MAX_KLEN)
        return -1;  /* no entry can exist for such a key */
    i = find(c, db, key, klen);
    if (i != SIZE_MAX)
        drop(c, i, slot_entry(c->slots[i]));
    if (!lengths_ok(klen, vlen))
        return -1;

    charge = entry_charge(klen, vlen);
    tbytes = table_bytes(c->nslots > 0 ? c->nslots : CACHE_MIN_SLOTS);
    if (charge > c->max_memory || tbytes > c->max_memory - charge)
        return -1;

    e = malloc(entry_size(klen, vlen));
    if (e == NULL)
        return -1;
    if (c->slots == NULL) {
        c->slots = calloc(CACHE_MIN_SLOTS, sizeof *c->slots);
        if (c->slots == NULL) {
            free(e);
            return -1;
        }
        c->nslots = CACHE_MIN_SLOTS;
        c->bytes += tbytes;
    }
    /* Grow before passing 3/4 full, if the doubled table still leaves room
     * for the new entry (the eviction below then pays for it too); if it
     * does not, or memory is short, evict to stay 3/4 full instead. */
    if (!fits(c->entries + 1, c->nslots) &&
        (tbytes > (c->max_memory - charge) / 2 ||
         table_resize(c, 2 * c->nslots) < 0)) {
        while (!fits(c->entries + 1, c->nslots))
            evict_one(c);
    }
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

    slot_put(c->slots, c->nslots, e);
    queue_push(c, e);
    c->entries++;
    c->bytes += charge;
    return 0;
}

int cache_del(struct cache *c, int db, const char *key, size_t klen)
{
    size_t i = find(c, db, key, klen);

    if (i == SIZE_MAX)
        return 0;
    drop(c, i, slot_entry(c->slots[i]));
    return 1;
}

int cache_del_all_dbs(struct cache *c, const char *key, size_t klen)
{
    uint64_t h;
    uintptr_t tag, s;
    size_t mask, i;
    int n = 0;

    if (c->nslots == 0 || klen > CACHE_MAX_KLEN)
        return 0;
    h = hash_key(key, klen);
    tag = slot_tag(h);
    mask = c->nslots - 1;
    /* a deletion shifts later entries of the run back into slot i, never
       before it: look at slot i again after one */
    for (i = h & mask; (s = c->slots[i]) != 0;) {
        struct cache_entry *e = slot_entry(s);

        if ((s & SLOT_TAG_MASK) == tag && key_eq(e, key, klen)) {
            drop(c, i, e);
            n++;
        } else {
            i = (i + 1) & mask;
        }
    }
    return n;
}

void cache_flush_db(struct cache *c, int db)
{
    struct cache_entry *e = c->head;

    if (!db_ok(db))
        return;
    while (e != NULL) {
        struct cache_entry *older = e->older;

        if (e->db == (unsigned)db)
            drop(c, slot_of(c, e), e);
        e = older;
    }
}

void cache_flush(struct cache *c)
{
    free_entries(c);
    if (c->slots != NULL)
        memset(c->slots, 0, table_bytes(c->nslots));
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
