/*
 * flight.c — the flight table (see flight.h): a chained hash table of
 * per-key flights with intrusive waiter lists.
 *
 * Every live flight, attached or detached, is also on one list, so the table
 * can free everything at teardown.
 */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "flight.h"

struct flight_table {
    struct flight **buckets;
    size_t nbuckets;        /* power of two */
    size_t attached;        /* flights in buckets */
    size_t live;            /* all flights */
    size_t user_size;       /* rounded up to max alignment */
    struct flight_node *all;/* every live flight */
};

/* Allocation layout: [flight_node][user area][key bytes + NUL]. */
struct flight_node {
    struct flight f;
    struct flight_node *next_all, *prev_all;
    alignas(max_align_t) unsigned char user[];
};

static uint64_t flight_hash(const char *key, size_t len)
{
    /* FNV-1a over the bytes, then a final avalanche step. */
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

struct flight_table *flight_table_create(size_t user_size)
{
    struct flight_table *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->nbuckets = 64;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->user_size = (user_size + alignof(max_align_t) - 1) &
                   ~(alignof(max_align_t) - 1);
    return t;
}

void flight_table_destroy(struct flight_table *t)
{
    struct flight_node *n, *next;

    if (!t)
        return;
    for (n = t->all; n; n = next) {
        next = n->next_all;
        free(n);
    }
    free(t->buckets);
    free(t);
}

size_t flight_count(const struct flight_table *t)
{
    return t->live;
}

static int flight_same(const struct flight *f, uint64_t h, int db,
                       const char *key, size_t klen)
{
    return f->hash == h && f->db == db && f->klen == klen &&
           memcmp(f->key, key, klen) == 0;
}

struct flight *flight_find(struct flight_table *t, int db, const char *key,
                           size_t klen)
{
    uint64_t h = flight_hash(key, klen);
    struct flight *f;

    for (f = t->buckets[h & (t->nbuckets - 1)]; f; f = f->hnext)
        if (flight_same(f, h, db, key, klen))
            return f;
    return NULL;
}

/* Double the bucket array; on allocation failure keep the old one (chains
 * just get longer). */
static void flight_grow(struct flight_table *t)
{
    size_t n = t->nbuckets * 2, i;
    struct flight **b = calloc(n, sizeof(*b));
    struct flight *f, *next;

    if (!b)
        return;
    for (i = 0; i < t->nbuckets; i++) {
        for (f = t->buckets[i]; f; f = next) {
            next = f->hnext;
            f->hnext = b[f->hash & (n - 1)];
            b[f->hash & (n - 1)] = f;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

struct flight *flight_add(struct flight_table *t, int db, const char *key,
                          size_t klen)
{
    struct flight_node *n;
    struct flight *f;
    size_t slot;

    if (klen > SIZE_MAX - sizeof(*n) - t->user_size - 1)
        return NULL;
    n = calloc(1, sizeof(*n) + t->user_size + klen + 1);
    if (!n)
        return NULL;
    f = &n->f;
    f->key = (char *)n->user + t->user_size;
    memcpy(f->key, key, klen);
    f->klen = klen;
    f->db = db;
    f->hash = flight_hash(key, klen);
    f->waiters.next = f->waiters.prev = &f->waiters;

    if (t->attached >= t->nbuckets)
        flight_grow(t);
    slot = f->hash & (t->nbuckets - 1);
    f->hnext = t->buckets[slot];
    t->buckets[slot] = f;
    f->attached = 1;
    t->attached++;

    n->next_all = t->all;
    if (t->all)
        t->all->prev_all = n;
    t->all = n;
    t->live++;
    return f;
}

void flight_detach(struct flight_table *t, struct flight *f)
{
    struct flight **pp;

    if (!f->attached)
        return;
    for (pp = &t->buckets[f->hash & (t->nbuckets - 1)]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == f) {
            *pp = f->hnext;
            break;
        }
    }
    f->hnext = NULL;
    f->attached = 0;
    t->attached--;
}

void flight_free(struct flight_table *t, struct flight *f)
{
    struct flight_node *n = (struct flight_node *)f;

    flight_detach(t, f);
    if (n->prev_all)
        n->prev_all->next_all = n->next_all;
    else
        t->all = n->next_all;
    if (n->next_all)
        n->next_all->prev_all = n->prev_all;
    t->live--;
    free(n);
}

void *flight_user(struct flight *f)
{
    return ((struct flight_node *)f)->user;
}

struct flight *flight_of_user(void *user)
{
    return (struct flight *)((char *)user - offsetof(struct flight_node, user));
}

void flight_wait(struct flight *f, struct flight_waiter *w, uint64_t now_ms)
{
    w->f = f;
    w->since_ms = now_ms;
    w->prev = f->waiters.prev;
    w->next = &f->waiters;
    f->waiters.prev->next = w;
    f->waiters.prev = w;
    f->nwaiters++;
}

void flight_unwait(struct flight_waiter *w)
{
    if (!w->f)
        return;
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->f->nwaiters--;
    w->f = NULL;
    w->next = w->prev = NULL;
}

struct flight_waiter *flight_first(struct flight *f)
{
    return f->waiters.next == &f->waiters ? NULL : f->waiters.next;
}

void flight_move_waiters(struct flight *from, struct flight *to)
{
    struct flight_waiter *w;

    while ((w = flight_first(from)) != NULL) {
        uint64_t since = w->since_ms;

        flight_unwait(w);
        flight_wait(to, w, since);
    }
}

void flight_foreach_key(struct flight_table *t, const char *key, size_t klen,
                        void (*fn)(struct flight *f, void *arg), void *arg)
{
    uint64_t h = flight_hash(key, klen);
    struct flight *f, *next;

    for (f = t->buckets[h & (t->nbuckets - 1)]; f; f = next) {
        next = f->hnext;
        if (f->hash == h && f->klen == klen && memcmp(f->key, key, klen) == 0)
            fn(f, arg);
    }
}

void flight_foreach(struct flight_table *t, int db,
                    void (*fn)(struct flight *f, void *arg), void *arg)
{
    struct flight_node *n, *next;

    for (n = t->all; n; n = next) {
        next = n->next_all;
        if (n->f.attached && (db < 0 || n->f.db == db))
            fn(&n->f, arg);
    }
}
