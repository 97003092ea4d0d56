/*
 * cache_overhead.c — memory overhead and speed of the cache store.
 *
 * Inserts 1,000,000 keys "key:%07d" with 10-byte RESP values, then prints
 * the bytes charged per entry beyond key and value, the budget's bytes per
 * entry against the resident memory the process grew by (/proc/self/statm),
 * and nanoseconds per set and get.
 *
 * Build: gcc -std=gnu11 -D_GNU_SOURCE -O2 -Isrc src/cache.c \
 *            bench/cache_overhead.c -o /tmp/co
 */
#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_KEYS 1000000
#define KLEN 11                  /* "key:%07d" */
#define VAL "$4\r\nabcd\r\n"      /* 10 bytes */
#define VLEN 10
#define PERM_STEP 7919           /* prime, so i * step covers every index */

/* Resident set size in bytes, or -1. */
static long long resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size, res;
    int n;

    if (f == NULL)
        return -1;
    n = fscanf(f, "%lld %lld", &size, &res);
    fclose(f);
    return n == 2 ? res * sysconf(_SC_PAGESIZE) : -1;
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const char *key_at(const char *keys, long i)
{
    return keys + (size_t)i * (KLEN + 1);
}

int main(void)
{
    char *keys = malloc((size_t)2 * N_KEYS * (KLEN + 1));
    struct cache *c;
    struct cache_stats st;
    long long rss0, rss1;
    double t0, t1, per_entry, cost;
    size_t vlen;
    volatile size_t sink = 0;  /* keeps the timed loops' results live */
    long hits = 0;

    if (keys == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    /* Keys for the inserts and for a second, evicting round; made (and
     * their pages touched) before the baseline is taken. */
    for (long i = 0; i < 2L * N_KEYS; i++)
        snprintf(keys + (size_t)i * (KLEN + 1), KLEN + 1, "key:%07ld", i);
    c = cache_create((size_t)1 << 30);
    if (c == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }

    rss0 = resident_bytes();
    t0 = now_ns();
    for (long i = 0; i < N_KEYS; i++) {
        if (cache_set(c, 0, key_at(keys, i), KLEN, VAL, VLEN, UINT64_MAX) != 0) {
            fprintf(stderr, "set failed at %ld\n", i);
            return 1;
        }
    }
    t1 = now_ns();
    rss1 = resident_bytes();
    cache_get_stats(c, &st);

    cost = (double)cache_entry_cost(KLEN, VLEN);
    per_entry = (double)st.bytes / (double)st.entries;
    printf("entries                         %llu\n",
           (unsigned long long)st.entries);
    printf("key + value bytes per entry     %d\n", KLEN + VLEN);
    printf("cache_entry_cost(11, 10)        %.0f\n", cost);
    printf("hash table share per entry      %.2f\n",
           per_entry - KLEN - VLEN - cost);
    printf("charged beyond key+value        %.2f bytes/entry\n",
           per_entry - KLEN - VLEN);
    printf("budget bytes                    %.2f bytes/entry (%llu total)\n",
           per_entry, (unsigned long long)st.bytes);
    if (rss0 >= 0 && rss1 >= 0)
        printf("RSS growth                      %.2f bytes/entry "
               "(%lld total, budget/RSS %.3f)\n",
               (double)(rss1 - rss0) / N_KEYS, rss1 - rss0,
               (double)st.bytes / (double)(rss1 - rss0));
    printf("set, new key                    %.1f ns\n", (t1 - t0) / N_KEYS);

    /* Gets in a scattered order so neighbouring entries do not share
     * cache lines by insertion order. */
    t0 = now_ns();
    for (long i = 0; i < N_KEYS; i++) {
        long k = (long)(((unsigned long)i * PERM_STEP) % N_KEYS);
        const char *v = cache_get(c, 0, key_at(keys, k), KLEN, 0, &vlen);

        if (v != NULL) {
            hits++;
            sink += (size_t)v[0] + vlen;
        }
    }
    t1 = now_ns();
    printf("get, hit                        %.1f ns (%ld hits)\n",
           (t1 - t0) / N_KEYS, hits);

    t0 = now_ns();
    for (long i = 0; i < N_KEYS; i++) {
        long k = (long)(((unsigned long)i * PERM_STEP) % N_KEYS);

        if (cache_get(c, 1, key_at(keys, k), KLEN, 0, &vlen) != NULL)
            sink++;
    }
    t1 = now_ns();
    printf("get, miss (other db)            %.1f ns\n", (t1 - t0) / N_KEYS);

    t0 = now_ns();
    for (long i = 0; i < N_KEYS; i++) {
        long k = (long)(((unsigned long)i * PERM_STEP) % N_KEYS);

        if (cache_set(c, 0, key_at(keys, k), KLEN, VAL, VLEN, UINT64_MAX) != 0)
            sink++;
    }
    t1 = now_ns();
    printf("set, replace                    %.1f ns\n", (t1 - t0) / N_KEYS);

    /* Half the budget: every new key now evicts one. */
    cache_set_limit(c, (size_t)(st.bytes / 2));
    t0 = now_ns();
    for (long i = N_KEYS; i < 2L * N_KEYS; i++) {
        if (cache_set(c, 0, key_at(keys, i), KLEN, VAL, VLEN, UINT64_MAX) != 0)
            sink++;
    }
    t1 = now_ns();
    cache_get_stats(c, &st);
    printf("set, new key with eviction      %.1f ns (%llu evictions, "
           "%llu entries)\n", (t1 - t0) / N_KEYS,
           (unsigned long long)st.evictions, (unsigned long long)st.entries);

    cache_destroy(c);
    free(keys);
    return 0;
}
