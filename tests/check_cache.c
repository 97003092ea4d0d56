/*
 * check_cache.c — unit tests for the local cache store (src/cache.c):
 * basic operations, db isolation, expiry, SIEVE eviction order, the byte
 * budget and its accounting, table resizing, and randomized workloads
 * checked against a reference model.
 */
#include "cache.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEVER UINT64_MAX

/* Everything one entry is charged, key and value included. */
static size_t charge(size_t klen, size_t vlen)
{
    return cache_entry_cost(klen, vlen) + klen + vlen;
}

static struct cache_stats stats(const struct cache *c)
{
    struct cache_stats st;

    cache_get_stats(c, &st);
    return st;
}

/* bytes minus the entries' charges must be exactly the hash table: none,
 * or a power-of-two number of pointers. */
static void assert_table_share(uint64_t bytes, uint64_t entry_bytes)
{
    uint64_t diff, n;

    ck_assert_uint_ge(bytes, entry_bytes);
    diff = bytes - entry_bytes;
    ck_assert_uint_eq(diff % sizeof(void *), 0);
    n = diff / sizeof(void *);
    ck_assert_msg((n & (n - 1)) == 0, "table bytes %llu not a power of two",
                  (unsigned long long)diff);
}

static uint64_t table_share(const struct cache *c, uint64_t entry_bytes)
{
    struct cache_stats st = stats(c);

    assert_table_share(st.bytes, entry_bytes);
    return (st.bytes - entry_bytes) / sizeof(void *);
}

static int has(struct cache *c, int db, const char *key, uint64_t now)
{
    size_t vlen;

    return cache_get(c, db, key, strlen(key), now, &vlen) != NULL;
}

static int put(struct cache *c, int db, const char *key, const char *val,
               uint64_t expire_ms)
{
    return cache_set(c, db, key, strlen(key), val, strlen(val), expire_ms);
}

/* xorshift64: deterministic test randomness. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

START_TEST(test_get_set_replace)
{
    struct cache *c = cache_create(1 << 20);
    char val[] = "$3\r\nbar\r\n";
    const char *v;
    size_t vlen = 12345;
    struct cache_stats st;
    uint64_t before;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(cache_get(c, 0, "foo", 3, 0, &vlen));
    ck_assert_uint_eq(vlen, 12345);  /* untouched on a miss */
    ck_assert_int_eq(cache_set(c, 0, "foo", 3, val, 9, NEVER), 0);
    val[4] = 'X';  /* the store keeps its own copy */
    v = cache_get(c, 0, "foo", 3, 0, &vlen);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(vlen, 9);
    ck_assert_mem_eq(v, "$3\r\nbar\r\n", 9);
    st = stats(c);
    ck_assert_uint_eq(st.entries, 1);
    table_share(c, charge(3, 9));
    before = st.bytes;

    ck_assert_int_eq(put(c, 0, "foo", "$6\r\nbarbaz\r\n", NEVER), 0);
    v = cache_get(c, 0, "foo", 3, 0, &vlen);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(vlen, 12);
    ck_assert_mem_eq(v, "$6\r\nbarbaz\r\n", 12);
    st = stats(c);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.bytes - before, charge(3, 12) - charge(3, 9));
    ck_assert_uint_eq(st.evictions, 0);

    /* Empty key and empty value are valid. */
    ck_assert_int_eq(cache_set(c, 0, "", 0, "", 0, NEVER), 0);
    v = cache_get(c, 0, "", 0, 0, &vlen);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(vlen, 0);
    ck_assert(has(c, 0, "foo", 0));
    table_share(c, charge(3, 12) + charge(0, 0));
    cache_destroy(c);
    cache_destroy(NULL);
}
END_TEST

START_TEST(test_db_isolation)
{
    struct cache *c = cache_create(1 << 20);
    const char *v;
    size_t vlen;

    ck_assert_int_eq(put(c, 0, "k", "zero", NEVER), 0);
    ck_assert_int_eq(put(c, 1, "k", "one!", NEVER), 0);
    ck_assert_int_eq(put(c, 65535, "k", "last", NEVER), 0);
    v = cache_get(c, 1, "k", 1, 0, &vlen);
    ck_assert_ptr_nonnull(v);
    ck_assert_mem_eq(v, "one!", 4);
    v = cache_get(c, 0, "k", 1, 0, &vlen);
    ck_assert_ptr_nonnull(v);
    ck_assert_mem_eq(v, "zero", 4);
    v = cache_get(c, 65535, "k", 1, 0, &vlen);
    ck_assert_ptr_nonnull(v);
    ck_assert_mem_eq(v, "last", 4);
    ck_assert(!has(c, 2, "k", 0));
    /* dbs outside the packed range are refused, never aliased */
    ck_assert_int_eq(put(c, -1, "k", "bad", NEVER), -1);
    ck_assert_int_eq(put(c, 65536, "k", "bad", NEVER), -1);
    ck_assert(!has(c, -1, "k", 0));
    ck_assert(!has(c, 65536, "k", 0));
    ck_assert_int_eq(cache_del(c, 65536 + 1, "k", 1), 0);
    ck_assert_uint_eq(stats(c).entries, 3);

    ck_assert_int_eq(cache_del(c, 0, "k", 1), 1);
    ck_assert(!has(c, 0, "k", 0));
    ck_assert(has(c, 1, "k", 0));
    ck_assert(has(c, 65535, "k", 0));
    cache_destroy(c);
}
END_TEST

START_TEST(test_del)
{
    struct cache *c = cache_create(1 << 20);
    struct cache_stats st;
    uint64_t before;

    ck_assert_int_eq(cache_del(c, 0, "a", 1), 0);  /* no table yet */
    ck_assert_int_eq(put(c, 0, "a", "1", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "b", "22", NEVER), 0);
    before = stats(c).bytes;
    ck_assert_int_eq(cache_del(c, 0, "a", 1), 1);
    ck_assert_int_eq(cache_del(c, 0, "a", 1), 0);
    ck_assert_int_eq(cache_del(c, 0, "ab", 2), 0);
    ck_assert(!has(c, 0, "a", 0));
    ck_assert(has(c, 0, "b", 0));
    st = stats(c);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(before - st.bytes, charge(1, 1));
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.expired, 0);
    /* an entry whose time ran out but was not freed yet still counts */
    ck_assert_int_eq(put(c, 0, "t", "x", 10), 0);
    ck_assert_int_eq(cache_del(c, 0, "t", 1), 1);
    ck_assert_uint_eq(stats(c).expired, 0);
    cache_destroy(c);
}
END_TEST

START_TEST(test_del_all_dbs)
{
    struct cache *c = cache_create(16 << 20);
    char key[32];
    uint64_t sum = 0;

    ck_assert_int_eq(cache_del_all_dbs(c, "shared", 6), 0);
    for (int db = 0; db < 3; db++) {
        for (int i = 0; i < 500; i++) {
            snprintf(key, sizeof key, "other:%d", i);
            ck_assert_int_eq(put(c, db, key, "v", NEVER), 0);
            sum += charge(strlen(key), 1);
        }
    }
    ck_assert_int_eq(put(c, 0, "shared", "a", NEVER), 0);
    ck_assert_int_eq(put(c, 1, "shared", "b", NEVER), 0);
    ck_assert_int_eq(put(c, 7, "shared", "c", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "shared2", "x", NEVER), 0);
    ck_assert_int_eq(put(c, 3, "share", "y", NEVER), 0);
    ck_assert_int_eq(cache_set(c, 4, "shared\0", 7, "z", 1, NEVER), 0);
    sum += charge(7, 1) + charge(5, 1) + charge(7, 1);

    ck_assert_int_eq(cache_del_all_dbs(c, "shared", 6), 3);
    ck_assert(!has(c, 0, "shared", 0));
    ck_assert(!has(c, 1, "shared", 0));
    ck_assert(!has(c, 7, "shared", 0));
    ck_assert(has(c, 0, "shared2", 0));
    ck_assert(has(c, 3, "share", 0));
    ck_assert_int_eq(cache_del_all_dbs(c, "shared", 6), 0);
    for (int db = 0; db < 3; db++) {
        for (int i = 0; i < 500; i++) {
            snprintf(key, sizeof key, "other:%d", i);
            ck_assert(has(c, db, key, 0));
        }
    }
    ck_assert_uint_eq(stats(c).entries, 1503);
    table_share(c, sum);
    ck_assert_int_eq(cache_del_all_dbs(c, "shared\0", 7), 1);
    cache_destroy(c);
}
END_TEST

START_TEST(test_flush_db)
{
    struct cache *c = cache_create(16 << 20);
    char key[32];
    uint64_t sum = 0;

    cache_flush_db(c, 0);  /* empty store, no table */
    for (int db = 0; db < 3; db++) {
        for (int i = 0; i < 100; i++) {
            snprintf(key, sizeof key, "key:%d", i);
            ck_assert_int_eq(put(c, db, key, "value", NEVER), 0);
            if (db != 1)
                sum += charge(strlen(key), 5);
        }
    }
    cache_flush_db(c, 1);
    cache_flush_db(c, -1);
    cache_flush_db(c, 1 << 20);
    for (int db = 0; db < 3; db++) {
        for (int i = 0; i < 100; i++) {
            snprintf(key, sizeof key, "key:%d", i);
            ck_assert_int_eq(has(c, db, key, 0), db != 1);
        }
    }
    ck_assert_uint_eq(stats(c).entries, 200);
    ck_assert_uint_eq(stats(c).evictions, 0);
    table_share(c, sum);
    cache_destroy(c);
}
END_TEST

START_TEST(test_flush)
{
    struct cache *c = cache_create(16 << 20);
    char key[32];
    struct cache_stats st;
    uint64_t nb;

    cache_flush(c);  /* empty store, no table */
    ck_assert_uint_eq(stats(c).bytes, 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        ck_assert_int_eq(put(c, i % 4, key, "value", NEVER), 0);
    }
    cache_flush(c);
    st = stats(c);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.expired, 0);
    nb = table_share(c, 0);  /* the table stays */
    ck_assert_uint_ge(nb, 1000);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        ck_assert(!has(c, i % 4, key, 0));
    }
    ck_assert_int_eq(put(c, 0, "again", "v", NEVER), 0);
    ck_assert(has(c, 0, "again", 0));
    ck_assert_uint_eq(table_share(c, charge(5, 1)), nb);
    cache_destroy(c);
}
END_TEST

START_TEST(test_expiry_boundary)
{
    struct cache *c = cache_create(1 << 20);
    struct cache_stats st;
    size_t vlen;

    ck_assert_int_eq(put(c, 0, "e", "val", 1000), 0);
    ck_assert_int_eq(put(c, 0, "keep", "val", NEVER), 0);
    ck_assert(has(c, 0, "e", 999));
    ck_assert(!has(c, 0, "e", 1000));
    st = stats(c);
    ck_assert_uint_eq(st.expired, 1);
    ck_assert_uint_eq(st.entries, 1);
    table_share(c, charge(4, 3));
    ck_assert(!has(c, 0, "e", 999));  /* freed, not just hidden */
    ck_assert_int_eq(cache_del(c, 0, "e", 1), 0);

    ck_assert(has(c, 0, "keep", UINT64_MAX - 1));
    /* expiry saturates at 2^48 - 1 ms, which means never */
    ck_assert_int_eq(put(c, 0, "far", "v", (1ULL << 48) + 5), 0);
    ck_assert(has(c, 0, "far", (1ULL << 48) + 10));
    ck_assert_int_eq(put(c, 0, "edge", "v", (1ULL << 48) - 2), 0);
    ck_assert(has(c, 0, "edge", (1ULL << 48) - 3));
    ck_assert_ptr_null(cache_get(c, 0, "edge", 4, (1ULL << 48) - 2, &vlen));
    ck_assert_uint_eq(stats(c).expired, 2);
    ck_assert_uint_eq(stats(c).evictions, 0);
    cache_destroy(c);
}
END_TEST

/* A store holding exactly n entries of one-byte keys with values "vv". */
static struct cache *small_store(int n)
{
    struct cache *c = cache_create(1 << 20);
    uint64_t table;

    ck_assert_int_eq(put(c, 0, "@", "vv", NEVER), 0);
    table = stats(c).bytes - charge(1, 2);
    ck_assert_int_eq(cache_del(c, 0, "@", 1), 1);
    cache_set_limit(c, table + (size_t)n * charge(1, 2));
    ck_assert_uint_eq(stats(c).bytes, table);
    return c;
}

START_TEST(test_sieve_order)
{
    struct cache *c = small_store(4);

    ck_assert_int_eq(put(c, 0, "A", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "B", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "C", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "D", "vv", NEVER), 0);
    ck_assert_uint_eq(stats(c).evictions, 0);
    ck_assert(has(c, 0, "A", 0));
    ck_assert(has(c, 0, "C", 0));
    /* hand from the tail: A visited (cleared), B evicted, hand now at C */
    ck_assert_int_eq(put(c, 0, "E", "vv", NEVER), 0);
    /* hand continues at C (cleared), evicts D; from the tail it would
     * have taken A */
    ck_assert_int_eq(put(c, 0, "F", "vv", NEVER), 0);
    ck_assert(has(c, 0, "A", 0));
    /* hand at E, unvisited: evicted; A and C, passed before, stay */
    ck_assert_int_eq(put(c, 0, "G", "vv", NEVER), 0);
    ck_assert_uint_eq(stats(c).evictions, 3);
    ck_assert_uint_eq(stats(c).entries, 4);
    ck_assert(!has(c, 0, "B", 0));
    ck_assert(!has(c, 0, "D", 0));
    ck_assert(!has(c, 0, "E", 0));
    ck_assert(has(c, 0, "A", 0));
    ck_assert(has(c, 0, "C", 0));
    ck_assert(has(c, 0, "F", 0));
    ck_assert(has(c, 0, "G", 0));
    cache_destroy(c);
}
END_TEST

START_TEST(test_sieve_full_lap)
{
    struct cache *c = small_store(3);

    ck_assert_int_eq(put(c, 0, "A", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "B", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "C", "vv", NEVER), 0);
    ck_assert(has(c, 0, "A", 0));
    ck_assert(has(c, 0, "B", 0));
    ck_assert(has(c, 0, "C", 0));
    /* all visited: the hand clears them all, wraps, and takes the oldest */
    ck_assert_int_eq(put(c, 0, "D", "vv", NEVER), 0);
    ck_assert_uint_eq(stats(c).evictions, 1);
    ck_assert(!has(c, 0, "A", 0));
    ck_assert(has(c, 0, "B", 0));
    ck_assert(has(c, 0, "C", 0));
    ck_assert(has(c, 0, "D", 0));
    cache_destroy(c);
}
END_TEST

START_TEST(test_sieve_expired_first)
{
    struct cache *c = small_store(3);
    struct cache_stats st;

    ck_assert_int_eq(put(c, 0, "A", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "B", "vv", 100), 0);
    ck_assert_int_eq(put(c, 0, "C", "vv", NEVER), 0);
    ck_assert(has(c, 0, "A", 50));
    ck_assert(has(c, 0, "B", 50));
    ck_assert(has(c, 0, "C", 200));  /* the store now knows it is 200 */
    /* A is visited and stays; B is visited but expired, so it goes */
    ck_assert_int_eq(put(c, 0, "D", "vv", NEVER), 0);
    st = stats(c);
    ck_assert_uint_eq(st.expired, 1);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert(has(c, 0, "A", 200));
    ck_assert(has(c, 0, "C", 200));
    ck_assert(has(c, 0, "D", 200));
    cache_destroy(c);
}
END_TEST

START_TEST(test_sieve_hand_entry_deleted)
{
    struct cache *c = small_store(4);

    ck_assert_int_eq(put(c, 0, "A", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "B", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "C", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "D", "vv", NEVER), 0);
    ck_assert(has(c, 0, "A", 0));
    ck_assert_int_eq(put(c, 0, "E", "vv", NEVER), 0);  /* evicts B */
    /* the hand rests on C; deleting C moves it on to D */
    ck_assert_int_eq(cache_del(c, 0, "C", 1), 1);
    ck_assert_int_eq(put(c, 0, "F", "vv", NEVER), 0);  /* fits */
    ck_assert_uint_eq(stats(c).evictions, 1);
    ck_assert_int_eq(put(c, 0, "G", "vv", NEVER), 0);  /* evicts D */
    ck_assert_uint_eq(stats(c).evictions, 2);
    ck_assert(!has(c, 0, "D", 0));
    ck_assert(has(c, 0, "A", 0));
    ck_assert(has(c, 0, "E", 0));
    ck_assert(has(c, 0, "F", 0));
    ck_assert(has(c, 0, "G", 0));
    cache_destroy(c);
}
END_TEST

START_TEST(test_over_budget_entry)
{
    struct cache *c = small_store(2);
    struct cache_stats st;
    size_t limit;
    char *big;
    char one = 'x';

    ck_assert_int_eq(put(c, 0, "x", "vv", NEVER), 0);
    ck_assert_int_eq(put(c, 0, "y", "vv", NEVER), 0);
    limit = stats(c).bytes;
    big = malloc(limit);
    ck_assert_ptr_nonnull(big);
    memset(big, 'b', limit);
    ck_assert_int_eq(cache_set(c, 0, "x", 1, big, limit, NEVER), -1);
    ck_assert(!has(c, 0, "x", 0));  /* the old value must not survive */
    ck_assert(has(c, 0, "y", 0));
    st = stats(c);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_le(st.bytes, limit);
    free(big);

    /* Beyond the packed limits: refused without reading the buffers. */
    ck_assert_int_eq(cache_set(c, 0, "y", 1, &one, (size_t)UINT32_MAX + 1,
                               NEVER), -1);
    ck_assert(!has(c, 0, "y", 0));
    ck_assert_int_eq(cache_set(c, 0, &one, ((size_t)1 << 29) + 1, "v", 1,
                               NEVER), -1);
    ck_assert_ptr_null(cache_get(c, 0, &one, ((size_t)1 << 29) + 1, 0,
                                 &limit));
    ck_assert_int_eq(cache_del_all_dbs(c, &one, ((size_t)1 << 29) + 1), 0);
    ck_assert_uint_eq(cache_entry_cost(0, (size_t)UINT32_MAX + 1), SIZE_MAX);
    ck_assert_uint_eq(stats(c).entries, 0);
    cache_destroy(c);

    c = cache_create(0);
    ck_assert_int_eq(put(c, 0, "k", "v", NEVER), -1);
    ck_assert_uint_eq(stats(c).bytes, 0);
    cache_destroy(c);
}
END_TEST

START_TEST(test_set_limit_shrink)
{
    struct cache *c = cache_create(4 << 20);
    char key[32], val[100];
    struct cache_stats st;
    uint64_t sum = 0, hits = 0, limit;

    memset(val, 'v', sizeof val);
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        ck_assert_int_eq(cache_set(c, 0, key, strlen(key), val, sizeof val,
                                   NEVER), 0);
    }
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        ck_assert(has(c, 0, key, 0));
    }
    limit = stats(c).bytes / 4;
    cache_set_limit(c, limit);
    st = stats(c);
    ck_assert_uint_le(st.bytes, limit);
    ck_assert_uint_gt(st.evictions, 1000);
    ck_assert_uint_eq(st.evictions + st.entries, 2000);
    /* the hand passed the visited oldest hundred and evicted what followed */
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        if (has(c, 0, key, 0)) {
            hits++;
            sum += charge(strlen(key), sizeof val);
        } else {
            ck_assert_int_ge(i, 100);
        }
    }
    ck_assert_uint_eq(hits, st.entries);
    table_share(c, sum);

    cache_set_limit(c, 0);
    st = stats(c);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.bytes, 0);
    ck_assert_int_eq(put(c, 0, "k", "v", NEVER), -1);
    ck_assert(!has(c, 0, "key:0", 0));
    cache_set_limit(c, 1 << 20);
    ck_assert_int_eq(put(c, 0, "k", "v", NEVER), 0);
    ck_assert(has(c, 0, "k", 0));
    cache_destroy(c);
}
END_TEST

START_TEST(test_resize_under_load)
{
    enum { N = 100000 };
    struct cache *c = cache_create(256 << 20);
    char key[32], val[32];
    uint64_t seed = 7, sum = 0, nb, nb2;
    struct cache_stats st;
    size_t vlen;
    const char *v;

    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "r:%d", i);
        snprintf(val, sizeof val, "$%d", i * 3);
        ck_assert_int_eq(put(c, i % 16, key, val, NEVER), 0);
        sum += charge(strlen(key), strlen(val));
        if (i % 997 == 0) {
            for (int j = 0; j < 50; j++) {
                int k = (int)(rnd(&seed) % (uint64_t)(i + 1));
                snprintf(key, sizeof key, "r:%d", k);
                snprintf(val, sizeof val, "$%d", k * 3);
                v = cache_get(c, k % 16, key, strlen(key), 0, &vlen);
                ck_assert_ptr_nonnull(v);
                ck_assert_uint_eq(vlen, strlen(val));
                ck_assert_mem_eq(v, val, vlen);
            }
            nb = table_share(c, sum);
            /* at most 3/4 full, and grown only when it had to be */
            ck_assert_uint_ge(nb / 4 * 3, (uint64_t)i + 1);
            ck_assert(i < 12 || nb / 2 / 4 * 3 < (uint64_t)i + 1);
        }
    }
    nb = table_share(c, sum);
    ck_assert_uint_ge(nb / 4 * 3, N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "r:%d", i);
        ck_assert(has(c, i % 16, key, 0));
    }
    /* Delete most, then tighten the budget: the table halves instead of
     * evicting. */
    for (int i = 0; i < N; i++) {
        if (i % 20 == 0)
            continue;
        snprintf(key, sizeof key, "r:%d", i);
        snprintf(val, sizeof val, "$%d", i * 3);
        ck_assert_int_eq(cache_del(c, i % 16, key, strlen(key)), 1);
        sum -= charge(strlen(key), strlen(val));
    }
    cache_set_limit(c, stats(c).bytes - 1);
    st = stats(c);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.entries, N / 20);
    nb2 = table_share(c, sum);
    ck_assert_uint_lt(nb2, nb);
    ck_assert_uint_ge(nb2 / 4 * 3, N / 20);
    for (int i = 0; i < N; i += 20) {
        snprintf(key, sizeof key, "r:%d", i);
        snprintf(val, sizeof val, "$%d", i * 3);
        v = cache_get(c, i % 16, key, strlen(key), 0, &vlen);
        ck_assert_ptr_nonnull(v);
        ck_assert_mem_eq(v, val, vlen);
    }
    cache_destroy(c);
}
END_TEST

/* Deleting from the middle of probe runs (in a table kept 3/4 full, whose
 * runs wrap around its end) leaves every other key reachable, and a key
 * deleted is gone in every db it was deleted from. */
START_TEST(test_delete_in_runs)
{
    enum { N = 3000 };
    struct cache *c = cache_create(64 << 20);
    char key[32];
    uint64_t seed = 11;
    int order[N], present[N];

    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "d:%d", i);
        ck_assert_int_eq(put(c, i % 2, key, "v", NEVER), 0);
        order[i] = i;
        present[i] = 1;
    }
    for (int i = N - 1; i > 0; i--) {      /* shuffle the deletion order */
        int j = (int)(rnd(&seed) % (uint64_t)(i + 1)), t = order[i];

        order[i] = order[j];
        order[j] = t;
    }
    for (int n = 0; n < N; n++) {
        int k = order[n];

        snprintf(key, sizeof key, "d:%d", k);
        if (n % 3 == 0)
            ck_assert_int_eq(cache_del_all_dbs(c, key, strlen(key)), 1);
        else
            ck_assert_int_eq(cache_del(c, k % 2, key, strlen(key)), 1);
        present[k] = 0;
        if (n % 97 == 0 || n > N - 50) {
            for (int i = 0; i < N; i++) {
                snprintf(key, sizeof key, "d:%d", i);
                ck_assert_int_eq(has(c, i % 2, key, 0), present[i]);
            }
        }
    }
    ck_assert_uint_eq(stats(c).entries, 0);
    cache_destroy(c);
}
END_TEST

/* Reference model for randomized workloads: every (db, key) of a small key
 * space, with the value and expiry the store should hold. */
#define M_KEYS 61
#define M_DBS 3
#define M_VMAX 4000

struct m_slot {
    int present;     /* set and not yet removed */
    uint64_t expire;
    size_t vlen;
    char val[M_VMAX];
};

struct model {
    struct m_slot slot[M_DBS][M_KEYS];
    char key[M_KEYS][64];
    size_t klen[M_KEYS];
    uint64_t now;
    size_t max;
    int exact;       /* budget never reached: the store equals the model */
};

static struct model *model_new(size_t max, int exact)
{
    struct model *m = calloc(1, sizeof *m);

    ck_assert_ptr_nonnull(m);
    for (int i = 0; i < M_KEYS; i++) {
        /* key 0 is empty; the others are unique, 2 to 47 bytes */
        int n = i == 0 ? 0 : snprintf(m->key[i], 64, "%d:", i);
        for (; i > 0 && n < 2 + (i * 7) % 46; n++)
            m->key[i][n] = (char)('a' + (i + n) % 26);
        m->klen[i] = (size_t)n;
    }
    m->now = 1000;
    m->max = max;
    m->exact = exact;
    return m;
}

static int m_live(const struct model *m, const struct m_slot *s)
{
    return s->present && (s->expire == NEVER || m->now < s->expire);
}

/* Sum of the charges of the entries the model holds. */
static uint64_t m_bytes(const struct model *m, uint64_t *count)
{
    uint64_t sum = 0;

    *count = 0;
    for (int d = 0; d < M_DBS; d++) {
        for (int k = 0; k < M_KEYS; k++) {
            if (m->slot[d][k].present) {
                sum += charge(m->klen[k], m->slot[d][k].vlen);
                (*count)++;
            }
        }
    }
    return sum;
}

static void m_get(struct model *m, struct cache *c, int d, int k)
{
    struct m_slot *s = &m->slot[d][k];
    size_t vlen = 0;
    const char *v = cache_get(c, d, m->key[k], m->klen[k], m->now, &vlen);

    if (v != NULL) {
        ck_assert_msg(m_live(m, s), "store returned a dead entry");
        ck_assert_uint_eq(vlen, s->vlen);
        if (vlen > 0)
            ck_assert_mem_eq(v, s->val, vlen);
    } else {
        ck_assert_msg(!m->exact || !m_live(m, s), "store lost an entry");
        s->present = 0;  /* expired and freed, or evicted */
    }
}

/* With a tight budget the store holds an unknown subset: probe every slot
 * (which sets visited bits) and check counts and bytes against what was
 * found. */
static void m_probe(struct model *m, struct cache *c)
{
    uint64_t count, sum;
    struct cache_stats st;

    for (int d = 0; d < M_DBS; d++)
        for (int k = 0; k < M_KEYS; k++)
            m_get(m, c, d, k);
    sum = m_bytes(m, &count);
    st = stats(c);
    ck_assert_uint_eq(st.entries, count);
    assert_table_share(st.bytes, sum);
}

static void run_workload(uint64_t seed, int ops, size_t max, int exact,
                         int vary_limit)
{
    static const size_t limits[] = { 0, 300, 2000, 9000, 40000, 200000 };
    struct model *m = model_new(max, exact);
    struct cache *c = cache_create(max);
    uint64_t count, sum;
    struct cache_stats st;

    ck_assert_ptr_nonnull(c);
    for (int op = 0; op < ops; op++) {
        uint64_t r = rnd(&seed) % 1000;
        int d = (int)(rnd(&seed) % M_DBS), k = (int)(rnd(&seed) % M_KEYS);
        struct m_slot *s = &m->slot[d][k];

        m->now += rnd(&seed) % 3;
        if (r < 450) {
            m_get(m, c, d, k);
        } else if (r < 800) {
            size_t vlen = rnd(&seed) % 50 == 0 ? rnd(&seed) % M_VMAX
                                                : rnd(&seed) % 200;
            uint64_t e = rnd(&seed) % 8;
            uint64_t expire = e < 2   ? NEVER
                              : e < 3 ? m->now - rnd(&seed) % 10
                                      : m->now + 1 + rnd(&seed) % 1000;
            int rc;

            for (size_t i = 0; i < vlen; i++)
                s->val[i] = (char)rnd(&seed);
            s->vlen = vlen;
            s->expire = expire;
            rc = cache_set(c, d, m->key[k], m->klen[k], s->val, vlen, expire);
            if (exact || charge(m->klen[k], vlen) <= m->max / 2)
                ck_assert_int_eq(rc, 0);
            s->present = rc == 0;
        } else if (r < 900) {
            int rc = cache_del(c, d, m->key[k], m->klen[k]);

            if (exact)
                ck_assert_int_eq(rc, s->present);
            else
                ck_assert_int_le(rc, s->present);
            s->present = 0;
        } else if (r < 950) {
            int want = 0, rc;

            for (int i = 0; i < M_DBS; i++) {
                want += m->slot[i][k].present;
                m->slot[i][k].present = 0;
            }
            rc = cache_del_all_dbs(c, m->key[k], m->klen[k]);
            if (exact)
                ck_assert_int_eq(rc, want);
            else
                ck_assert_int_le(rc, want);
        } else if (r < 960) {
            cache_flush_db(c, d);
            for (int i = 0; i < M_KEYS; i++)
                m->slot[d][i].present = 0;
        } else if (r < 962) {
            cache_flush(c);
            for (int i = 0; i < M_DBS; i++)
                for (int j = 0; j < M_KEYS; j++)
                    m->slot[i][j].present = 0;
        } else if (r < 975 && vary_limit) {
            m->max = limits[rnd(&seed) % (sizeof limits / sizeof *limits)];
            cache_set_limit(c, m->max);
            if (m->max == 0)
                ck_assert_uint_eq(stats(c).bytes, 0);
        } else {
            m->now += rnd(&seed) % 500;  /* let many entries expire */
        }

        st = stats(c);
        ck_assert_uint_le(st.bytes, m->max);
        if (exact) {
            sum = m_bytes(m, &count);
            ck_assert_uint_eq(st.entries, count);
            assert_table_share(st.bytes, sum);
            ck_assert_uint_eq(st.evictions, 0);
        } else if (op % 64 == 0) {
            m_probe(m, c);
        }
    }
    m_probe(m, c);
    cache_destroy(c);
    free(m);
}

START_TEST(test_random_budget)
{
    run_workload(0x1234567ULL + (uint64_t)_i, 40000, 9000, 0, 1);
}
END_TEST

START_TEST(test_random_tight)
{
    static const size_t budgets[] = { 400, 3000, 20000 };

    run_workload(0xabcdefULL + (uint64_t)_i, 40000, budgets[_i], 0, 0);
}
END_TEST

START_TEST(test_random_consistency)
{
    run_workload(0x5eed5eedULL, 300000, 64 << 20, 1, 0);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *basic = tcase_create("basic");
    TCase *evict = tcase_create("eviction");
    TCase *load = tcase_create("load");

    tcase_add_test(basic, test_get_set_replace);
    tcase_add_test(basic, test_db_isolation);
    tcase_add_test(basic, test_del);
    tcase_add_test(basic, test_del_all_dbs);
    tcase_add_test(basic, test_flush_db);
    tcase_add_test(basic, test_flush);
    tcase_add_test(basic, test_expiry_boundary);
    suite_add_tcase(s, basic);

    tcase_add_test(evict, test_sieve_order);
    tcase_add_test(evict, test_sieve_full_lap);
    tcase_add_test(evict, test_sieve_expired_first);
    tcase_add_test(evict, test_sieve_hand_entry_deleted);
    tcase_add_test(evict, test_over_budget_entry);
    tcase_add_test(evict, test_set_limit_shrink);
    suite_add_tcase(s, evict);

    tcase_set_timeout(load, 120);
    tcase_add_test(load, test_resize_under_load);
    tcase_add_test(load, test_delete_in_runs);
    tcase_add_loop_test(load, test_random_budget, 0, 4);
    tcase_add_loop_test(load, test_random_tight, 0, 3);
    tcase_add_test(load, test_random_consistency);
    suite_add_tcase(s, load);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cache_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
