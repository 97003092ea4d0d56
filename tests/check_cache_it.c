/*
 * check_cache_it.c — integration tests of the local cache against a real
 * redis-server: miss coalescing (one upstream GET for 200 concurrent
 * misses), coherence for writes through and around corral (DEL, MSET, INCR,
 * PEXPIRE, FLUSHDB, per-db keys), a stress run of write/read rounds, loss of
 * the invalidation connection, MGET, cache.max_value, per-prefix rules and
 * clients that leave while waiting on a fill.
 *
 * Upstream work is measured with INFO commandstats (a fill is PTTL + GET, so
 * one fill adds exactly one to cmdstat_get). Every wait polls for an event
 * with a deadline; nothing sleeps for a fixed time.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 10000

/* The processes of one test (file scope: see harness.h). */
static struct h_world w;

static void setup(void)
{
    h_world_setup(&w);
}

static void teardown(void)
{
    h_world_kill(&w);
}

/* ---- helpers ---- */

static long long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* How many GETs one GET of key through c caused upstream, or -1 when the
 * reply was not want (NULL: nil). */
static long long get_upstream(redisContext *c, const char *key, const char *want)
{
    long long before = h_cmdstat(w.redis.port, "get");

    if (!h_cmd_is(c, want, "GET %s", key))
        return -1;
    return h_cmdstat(w.redis.port, "get") - before;
}

/* Read key through c until corral answers it from its cache: true once
 * the invalidation channel is up (it comes up after corral starts). */
static int wait_cached(redisContext *c, const char *key, const char *want)
{
    return h_wait_cached(c, w.redis.port, key, want, WAIT_MS);
}

struct poll_arg {
    redisContext *c;
    const char *key, *want;
};

static int reads_value(void *arg)
{
    struct poll_arg *a = arg;
    redisReply *rep = redisCommand(a->c, "GET %s", a->key);
    int ok = rep && (a->want ? rep->type == REDIS_REPLY_STRING &&
                                   strcmp(rep->str, a->want) == 0
                             : rep->type == REDIS_REPLY_NIL);

    if (rep)
        freeReplyObject(rep);
    return ok;
}

/* Poll GET key through c until it reads want (NULL: nil), for at most
 * timeout_ms. Returns 1 when it did. */
static int reads_within(redisContext *c, const char *key, const char *want,
                        int timeout_ms)
{
    struct poll_arg a = { c, key, want };

    return h_wait_until(reads_value, &a, timeout_ms);
}

struct sub_arg {
    redisContext *r;
    long long not_id;
    long long id;
};

static int new_subscriber(void *arg)
{
    struct sub_arg *a = arg;

    a->id = h_subscriber_id(a->r);
    return a->id != 0 && a->id != a->not_id;
}

/* ---- coalescing ---- */

#define NCOALESCE 200
#define NWAIT 10
#define NWAIT_ERR 10
#define NHITS 10000
#define NHIT_CONNS 4

START_TEST(test_coalesce_200_misses)
{
    redisContext *r, *cs[NCOALESCE], *hc[NHIT_CONNS];
    long long before, mid;
    int i, j;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    ck_assert(h_cmd_is(r, "OK", "SET k v"));
    for (i = 0; i < NCOALESCE; i++) {
        cs[i] = h_world_corral(&w);
        ck_assert(h_cmd_is(cs[i], "PONG", "PING"));
    }
    before = h_cmdstat(w.redis.port, "get");
    /* Redis runs nothing for 500 ms: every GET below arrives while the one
     * fill is stuck upstream */
    ck_assert(h_cmd_is(r, "OK", "CLIENT PAUSE 500 ALL"));
    for (i = 0; i < NCOALESCE; i++)
        ck_assert_int_eq(h_send(cs[i], "GET k"), 0);
    for (i = 0; i < NCOALESCE; i++)
        ck_assert(h_reply_is(h_reply_within(cs[i], WAIT_MS), "v"));
    mid = h_cmdstat(w.redis.port, "get");
    ck_assert_int_eq(mid - before, 1);

    /* everything after is answered from memory */
    for (i = 0; i < NHIT_CONNS; i++) {
        hc[i] = h_world_corral(&w);
        for (j = 0; j < NHITS / NHIT_CONNS; j++)
            ck_assert_int_eq(redisAppendCommand(hc[i], "GET k"), REDIS_OK);
    }
    for (i = 0; i < NHIT_CONNS; i++) {
        for (j = 0; j < NHITS / NHIT_CONNS; j++) {
            redisReply *rep = NULL;

            ck_assert_int_eq(redisGetReply(hc[i], (void **)&rep), REDIS_OK);
            ck_assert(h_reply_is(rep, "v"));
        }
        redisFree(hc[i]);
    }
    ck_assert_int_eq(h_cmdstat(w.redis.port, "get") - mid, 0);
    for (i = 0; i < NCOALESCE; i++)
        redisFree(cs[i]);
    redisFree(r);
}
END_TEST

/* ---- coherence ---- */

START_TEST(test_write_through_visible)
{
    redisContext *r, *c, *c2;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    c2 = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "SET k old"));
    ck_assert(wait_cached(c2, "k", "old"));
    ck_assert(h_cmd_is(c, "OK", "SET k new"));
    /* the very next read, on another connection and on the writer's */
    ck_assert(h_cmd_is(c2, "new", "GET k"));
    ck_assert(h_cmd_is(c, "new", "GET k"));
    /* and it is cached again, with no stale copy left behind */
    ck_assert(wait_cached(c2, "k", "new"));
    /* an empty value is a value, not a miss */
    ck_assert(h_cmd_is(c, "OK", "SET k %s", ""));
    ck_assert(h_cmd_is(c2, "", "GET k"));
    ck_assert(wait_cached(c2, "k", ""));
    redisFree(c2);
    redisFree(c);
    redisFree(r);
}
END_TEST

START_TEST(test_write_around_visible)
{
    redisContext *r, *c;
    long long t;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "SET k old"));
    ck_assert(wait_cached(c, "k", "old"));
    ck_assert(h_cmd_is(r, "OK", "SET k new"));
    t = h_now_ms();
    ck_assert(reads_within(c, "k", "new", 100));
    printf("cache_it: write around corral seen after %lld ms\n", h_now_ms() - t);
    redisFree(c);
    redisFree(r);
}
END_TEST

START_TEST(test_write_commands_invalidate)
{
    redisContext *r, *c, *c2;
    long long t;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    c2 = h_world_corral(&w);

    /* DEL */
    ck_assert(h_cmd_is(r, "OK", "SET d1 v1"));
    ck_assert(wait_cached(c2, "d1", "v1"));
    ck_assert_int_eq(h_cmd_int(c, "DEL d1"), 1);
    ck_assert(h_cmd_is(c2, NULL, "GET d1"));

    /* MSET: every key it touches */
    ck_assert(h_cmd_is(r, "OK", "MSET m1 a m2 b"));
    ck_assert(wait_cached(c2, "m1", "a"));
    ck_assert(wait_cached(c2, "m2", "b"));
    ck_assert(h_cmd_is(c, "OK", "MSET m1 x m2 y"));
    ck_assert(h_cmd_is(c2, "x", "GET m1"));
    ck_assert(h_cmd_is(c2, "y", "GET m2"));

    /* INCR */
    ck_assert(h_cmd_is(r, "OK", "SET n 5"));
    ck_assert(wait_cached(c2, "n", "5"));
    ck_assert_int_eq(h_cmd_int(c, "INCR n"), 6);
    ck_assert(h_cmd_is(c2, "6", "GET n"));

    /* PEXPIRE: the refilled entry lives no longer than the key */
    ck_assert(h_cmd_is(r, "OK", "SET e v"));
    ck_assert(wait_cached(c2, "e", "v"));
    ck_assert_int_eq(h_cmd_int(c, "PEXPIRE e 300"), 1);
    t = h_now_ms();
    ck_assert(h_cmd_is(c2, "v", "GET e"));
    ck_assert(reads_within(c2, "e", NULL, 300 + 100));
    ck_assert_int_ge(h_now_ms() - t, 250);

    /* FLUSHDB through corral */
    ck_assert(h_cmd_is(r, "OK", "MSET f1 a f2 b"));
    ck_assert(wait_cached(c2, "f1", "a"));
    ck_assert(wait_cached(c2, "f2", "b"));
    ck_assert(h_cmd_is(c, "OK", "FLUSHDB"));
    ck_assert(h_cmd_is(c2, NULL, "GET f1"));
    ck_assert(h_cmd_is(c2, NULL, "GET f2"));

    /* FLUSHDB and EXPIRE around corral */
    ck_assert(h_cmd_is(r, "OK", "MSET g1 a g2 b"));
    ck_assert(wait_cached(c2, "g1", "a"));
    ck_assert(wait_cached(c2, "g2", "b"));
    ck_assert_int_eq(h_cmd_int(r, "PEXPIRE g2 1"), 1);
    ck_assert(reads_within(c2, "g2", NULL, 100));
    ck_assert(h_cmd_is(r, "OK", "FLUSHDB"));
    ck_assert(reads_within(c2, "g1", NULL, 100));

    redisFree(c2);
    redisFree(c);
    redisFree(r);
}
END_TEST

START_TEST(test_select_db)
{
    redisContext *r, *c, *c2;
    long long before;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    c2 = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "SET k zero"));
    ck_assert(h_cmd_is(r, "OK", "SELECT 1"));
    ck_assert(h_cmd_is(r, "OK", "SET k one"));

    ck_assert(wait_cached(c, "k", "zero"));
    ck_assert(h_cmd_is(c, "OK", "SELECT 1"));
    ck_assert(wait_cached(c, "k", "one"));
    ck_assert(h_cmd_is(c2, "OK", "SELECT 1"));
    /* both dbs cached side by side */
    before = h_cmdstat(w.redis.port, "get");
    ck_assert(h_cmd_is(c2, "one", "GET k"));
    ck_assert(h_cmd_is(c2, "OK", "SELECT 0"));
    ck_assert(h_cmd_is(c2, "zero", "GET k"));
    ck_assert(h_cmd_is(c2, "OK", "SELECT 1"));
    ck_assert(h_cmd_is(c2, "one", "GET k"));
    ck_assert_int_eq(h_cmdstat(w.redis.port, "get") - before, 0);

    /* a write in db 1 changes db 1 only */
    ck_assert(h_cmd_is(c, "OK", "SET k uno"));
    ck_assert(h_cmd_is(c2, "uno", "GET k"));
    ck_assert(h_cmd_is(c2, "OK", "SELECT 0"));
    ck_assert(h_cmd_is(c2, "zero", "GET k"));
    /* FLUSHDB in db 1 keeps db 0's copy and value */
    ck_assert(h_cmd_is(c, "OK", "FLUSHDB"));
    ck_assert(h_cmd_is(c, NULL, "GET k"));
    ck_assert(h_cmd_is(c2, "zero", "GET k"));
    redisFree(c2);
    redisFree(c);
    redisFree(r);
}
END_TEST

/* ---- stress ---- */

#define NROUNDS 3000

START_TEST(test_stress_write_around)
{
    redisContext *r, *c;
    char want[32], prev[32];
    long long max_us = 0, total_us = 0;
    int i, retried = 0, extra_reads = 0;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "SET k start"));
    ck_assert(wait_cached(c, "k", "start"));
    snprintf(prev, sizeof(prev), "start");
    for (i = 0; i < NROUNDS; i++) {
        long long t0, end, lat;
        int tries = 0;

        snprintf(want, sizeof(want), "%d", i);
        ck_assert(h_cmd_is(r, "OK", "SET k %s", want));
        t0 = now_us();
        end = h_now_ms() + 1000;
        for (;;) {
            redisReply *rep = redisCommand(c, "GET k");

            ck_assert_ptr_nonnull(rep);
            ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
            tries++;
            if (strcmp(rep->str, want) == 0) {
                freeReplyObject(rep);
                break;
            }
            /* a late read may still see the value just replaced, never an
               older one */
            ck_assert_str_eq(rep->str, prev);
            freeReplyObject(rep);
            ck_assert_int_le(h_now_ms(), end);
        }
        lat = now_us() - t0;
        if (lat > max_us)
            max_us = lat;
        total_us += lat;
        if (tries > 1) {
            retried++;
            extra_reads += tries - 1;
        }
        memcpy(prev, want, sizeof(prev));
    }
    printf("cache_it: write around corral, %d rounds: %d needed a retry "
           "(%d extra reads), latency to see the write max %lld us, "
           "mean %lld us\n", NROUNDS, retried, extra_reads, max_us,
           total_us / NROUNDS);
    redisFree(c);
    redisFree(r);
}
END_TEST

START_TEST(test_stress_write_through)
{
    redisContext *r, *wc, *rc;
    char want[32];
    long long before, t0;
    int i;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    wc = h_world_corral(&w);
    rc = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "SET k start"));
    ck_assert(wait_cached(rc, "k", "start"));
    before = h_cmdstat(w.redis.port, "get");
    t0 = h_now_ms();
    for (i = 0; i < NROUNDS; i++) {
        snprintf(want, sizeof(want), "%d", i);
        ck_assert(h_cmd_is(wc, "OK", "SET k %s", want));
        /* no waiting: the first read after the acknowledged write */
        ck_assert(h_cmd_is(rc, want, "GET k"));
        ck_assert(h_cmd_is(wc, want, "GET k"));
        ck_assert(h_cmd_is(rc, want, "GET k"));
    }
    printf("cache_it: write through corral, %d rounds in %lld ms, "
           "%lld upstream GETs for %d reads\n", NROUNDS, h_now_ms() - t0,
           h_cmdstat(w.redis.port, "get") - before, 3 * NROUNDS);
    redisFree(rc);
    redisFree(wc);
    redisFree(r);
}
END_TEST

/* One writer through corral, readers through corral at the same time:
 * a read sent after a write was acknowledged returns that value or a newer
 * one, and no reader ever sees the value go back. */
#define NREADERS 4

struct race {
    int port;
    atomic_long acked;          /* last value whose SET was acknowledged */
    atomic_int writing;
    atomic_long violations, reads;
    char what[128];             /* the first violation */
};

static void *race_reader(void *arg)
{
    struct race *rc = arg;
    redisContext *c = h_connect(rc->port);
    long last = -1;

    if (!c) {
        atomic_fetch_add(&rc->violations, 1);
        return NULL;
    }
    while (atomic_load(&rc->writing)) {
        long floor = atomic_load(&rc->acked), v;
        redisReply *rep = redisCommand(c, "GET k");

        if (!rep || rep->type != REDIS_REPLY_STRING) {
            atomic_fetch_add(&rc->violations, 1);
            if (rep)
                freeReplyObject(rep);
            break;
        }
        v = atol(rep->str);
        freeReplyObject(rep);
        atomic_fetch_add(&rc->reads, 1);
        if (v < floor || v < last) {
            if (atomic_fetch_add(&rc->violations, 1) == 0)
                snprintf(rc->what, sizeof(rc->what),
                         "read %ld after %ld was acknowledged (previous read %ld)",
                         v, floor, last);
        }
        last = v;
    }
    redisFree(c);
    return NULL;
}

/* Run NROUNDS writes of k (through corral, or straight to Redis) against
 * NREADERS concurrent readers through corral. Only writes through corral
 * set the floor a later read must reach; both check that no reader sees
 * the value go back. */
static void race_run(int through)
{
    static struct race rc;
    pthread_t th[NREADERS];
    redisContext *wc;
    long i, reads, bad;

    h_world_start(&w, NULL);
    memset(&rc, 0, sizeof(rc));
    rc.port = w.corral.port;
    atomic_store(&rc.writing, 1);
    wc = through ? h_world_corral(&w) : h_world_redis(&w);
    ck_assert(h_cmd_is(wc, "OK", "SET k 0"));
    for (i = 0; i < NREADERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_reader, &rc), 0);
    for (i = 1; i <= NROUNDS; i++) {
        ck_assert(h_cmd_is(wc, "OK", "SET k %ld", i));
        if (through)
            atomic_store(&rc.acked, i);
    }
    atomic_store(&rc.writing, 0);
    for (i = 0; i < NREADERS; i++)
        pthread_join(th[i], NULL);
    reads = atomic_load(&rc.reads);
    bad = atomic_load(&rc.violations);
    printf("cache_it: %d writes %s corral, %ld concurrent reads, "
           "%ld stale or backward\n", NROUNDS, through ? "through" : "around",
           reads, bad);
    ck_assert_msg(bad == 0, "%s", rc.what);
    /* the readers really ran alongside the writes */
    ck_assert_int_ge(reads, 1000);
    redisFree(wc);
}

START_TEST(test_stress_concurrent_readers)
{
    race_run(1);
}
END_TEST

START_TEST(test_stress_concurrent_readers_around)
{
    race_run(0);
}
END_TEST

/* ---- loss of the invalidation connection ---- */

START_TEST(test_invalidation_conn_killed)
{
    redisContext *r, *c;
    struct sub_arg sa;
    long long t;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "MSET k1 old k2 old"));
    ck_assert(wait_cached(c, "k1", "old"));
    ck_assert(wait_cached(c, "k2", "old"));
    sa.r = r;
    sa.not_id = 0;
    ck_assert(h_wait_until(new_subscriber, &sa, WAIT_MS));

    ck_assert_int_eq(h_cmd_int(r, "CLIENT KILL ID %lld", sa.id), 1);
    /* changed during the outage: no invalidation is sent for these */
    ck_assert(h_cmd_is(r, "OK", "MSET k1 new1 k2 new2"));
    t = h_now_ms();
    ck_assert(reads_within(c, "k2", "new2", 2000));
    printf("cache_it: write during invalidation outage seen after %lld ms\n",
           h_now_ms() - t);

    /* once corral has reconnected (it flushed its cache first), the value
       cached before the kill is never served */
    sa.not_id = sa.id;
    ck_assert(h_wait_until(new_subscriber, &sa, WAIT_MS));
    ck_assert(h_cmd_is(c, "new1", "GET k1"));

    /* and the new channel keeps the cache coherent again */
    ck_assert(wait_cached(c, "k1", "new1"));
    ck_assert(h_cmd_is(r, "OK", "SET k1 newer"));
    ck_assert(reads_within(c, "k1", "newer", 100));
    redisFree(c);
    redisFree(r);
}
END_TEST

/* ---- MGET ---- */

START_TEST(test_mget_partial)
{
    redisContext *r, *c;
    redisReply *rep;
    long long mget0, get0, hits0, misses0;
    static const char *const want[] = { "A", "C", "B", "D", NULL };
    size_t i;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "MSET a A b B c C d D"));
    ck_assert(wait_cached(c, "a", "A"));
    ck_assert(wait_cached(c, "b", "B"));

    mget0 = h_cmdstat(w.redis.port, "mget");
    get0 = h_cmdstat(w.redis.port, "get");
    hits0 = h_info_int(w.redis.port, "keyspace_hits");
    misses0 = h_info_int(w.redis.port, "keyspace_misses");
    rep = redisCommand(c, "MGET a c b d e");
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(rep->elements, 5);
    for (i = 0; i < 5; i++) {
        if (!want[i]) {
            ck_assert_int_eq(rep->element[i]->type, REDIS_REPLY_NIL);
        } else {
            ck_assert_int_eq(rep->element[i]->type, REDIS_REPLY_STRING);
            ck_assert_str_eq(rep->element[i]->str, want[i]);
        }
    }
    freeReplyObject(rep);
    /* one MGET upstream, of the three keys not cached (c, d found, e not) */
    ck_assert_int_eq(h_cmdstat(w.redis.port, "mget") - mget0, 1);
    ck_assert_int_eq(h_cmdstat(w.redis.port, "get") - get0, 0);
    ck_assert_int_eq(h_info_int(w.redis.port, "keyspace_hits") - hits0, 2);
    ck_assert_int_eq(h_info_int(w.redis.port, "keyspace_misses") - misses0, 1);

    /* all cached: nothing goes upstream */
    rep = redisCommand(c, "MGET b a b");
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(rep->elements, 3);
    ck_assert_str_eq(rep->element[0]->str, "B");
    ck_assert_str_eq(rep->element[1]->str, "A");
    ck_assert_str_eq(rep->element[2]->str, "B");
    freeReplyObject(rep);
    ck_assert_int_eq(h_cmdstat(w.redis.port, "mget") - mget0, 1);

    /* a cached key changed through corral is not served from the cache */
    ck_assert(h_cmd_is(c, "OK", "SET a A2"));
    rep = redisCommand(c, "MGET a b");
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(rep->elements, 2);
    ck_assert_str_eq(rep->element[0]->str, "A2");
    ck_assert_str_eq(rep->element[1]->str, "B");
    freeReplyObject(rep);
    redisFree(c);
    redisFree(r);
}
END_TEST

/* ---- limits and rules ---- */

START_TEST(test_max_value_not_cached)
{
    redisContext *r, *c;
    char big[2001], edge[1025], over[1026];

    h_world_start(&w, "cache:\n  max_value: 1kb\n");
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memset(edge, 'y', sizeof(edge) - 1);
    edge[sizeof(edge) - 1] = '\0';
    memset(over, 'z', sizeof(over) - 1);
    over[sizeof(over) - 1] = '\0';
    ck_assert(h_cmd_is(r, "OK", "SET big %s", big));
    ck_assert(h_cmd_is(r, "OK", "SET edge %s", edge));
    ck_assert(h_cmd_is(r, "OK", "SET over %s", over));

    ck_assert_int_eq(get_upstream(c, "big", big), 1);
    ck_assert_int_eq(get_upstream(c, "big", big), 1);
    ck_assert_int_eq(get_upstream(c, "big", big), 1);
    /* 1025 bytes is over the limit; exactly 1024 is not */
    ck_assert_int_eq(get_upstream(c, "over", over), 1);
    ck_assert_int_eq(get_upstream(c, "over", over), 1);
    ck_assert_int_eq(get_upstream(c, "edge", edge), 1);
    ck_assert_int_eq(get_upstream(c, "edge", edge), 0);
    redisFree(c);
    redisFree(r);
}
END_TEST

START_TEST(test_rule_nocache)
{
    redisContext *r, *c;
    int i;

    h_world_start(&w, "cache:\n  rules:\n    - prefix: \"nocache:\"\n"
                      "      cache: false\n");
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "MSET nocache:x 1 other:x 2"));
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(get_upstream(c, "nocache:x", "1"), 1);
    ck_assert_int_eq(get_upstream(c, "other:x", "2"), 1);
    ck_assert_int_eq(get_upstream(c, "other:x", "2"), 0);
    /* and its value is always the current one */
    ck_assert(h_cmd_is(r, "OK", "SET nocache:x 3"));
    ck_assert(h_cmd_is(c, "3", "GET nocache:x"));
    redisFree(c);
    redisFree(r);
}
END_TEST

/* Without invalidation, an entry lives no longer than cache.ttl. */
START_TEST(test_local_ttl_without_invalidation)
{
    redisContext *r, *c;
    long long t;

    h_world_start(&w, "cache:\n  invalidation: none\n  ttl: 300ms\n");
    r = h_world_redis(&w);
    c = h_world_corral(&w);
    ck_assert(h_cmd_is(r, "OK", "SET k old"));
    ck_assert(wait_cached(c, "k", "old"));
    ck_assert(h_cmd_is(r, "OK", "SET k new"));
    t = h_now_ms();
    ck_assert(reads_within(c, "k", "new", 300 + 100));
    printf("cache_it: without invalidation a write around corral was seen "
           "after %lld ms (cache.ttl 300ms)\n", h_now_ms() - t);
    redisFree(c);
    redisFree(r);
}
END_TEST

/* A fill that fails is shared by the readers waiting on it, never cached. */
START_TEST(test_fill_error_shared)
{
    redisContext *r, *cs[NWAIT_ERR];
    long long before;
    int i;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    ck_assert_int_eq(h_cmd_int(r, "RPUSH list a"), 1);
    for (i = 0; i < NWAIT_ERR; i++) {
        cs[i] = h_world_corral(&w);
        ck_assert(h_cmd_is(cs[i], "PONG", "PING"));
    }
    before = h_cmdstat(w.redis.port, "get");
    ck_assert(h_cmd_is(r, "OK", "CLIENT PAUSE 300 ALL"));
    for (i = 0; i < NWAIT_ERR; i++)
        ck_assert_int_eq(h_send(cs[i], "GET list"), 0);
    for (i = 0; i < NWAIT_ERR; i++) {
        redisReply *rep = h_reply_within(cs[i], WAIT_MS);

        ck_assert_ptr_nonnull(rep);
        ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR);
        ck_assert(strncmp(rep->str, "WRONGTYPE", 9) == 0);
        freeReplyObject(rep);
    }
    ck_assert_int_eq(h_cmdstat(w.redis.port, "get") - before, 1);
    /* not cached: the next read asks again, and sees the key change */
    ck_assert(h_cmd_is(cs[0], "WRONGTYPE Operation against a key holding the wrong kind of value", "GET list"));
    ck_assert_int_eq(h_cmdstat(w.redis.port, "get") - before, 2);
    ck_assert_int_eq(h_cmd_int(r, "DEL list"), 1);
    ck_assert(h_cmd_is(r, "OK", "SET list now-a-string"));
    ck_assert(h_cmd_is(cs[0], "now-a-string", "GET list"));
    for (i = 0; i < NWAIT_ERR; i++)
        redisFree(cs[i]);
    redisFree(r);
}
END_TEST

/* ---- clients leaving ---- */


START_TEST(test_waiter_disconnects)
{
    redisContext *r, *cs[NWAIT], *c;
    const char *name = "corral_coalesced_reads_total";
    long long before, min;
    int i;

    h_world_start(&w, NULL);
    r = h_world_redis(&w);
    ck_assert(h_cmd_is(r, "OK", "SET k v"));
    for (i = 0; i < NWAIT; i++) {
        cs[i] = h_world_corral(&w);
        ck_assert(h_cmd_is(cs[i], "PONG", "PING"));
    }
    min = h_metric(w.stats, name);
    ck_assert_int_ge(min, 0);
    min += NWAIT - 1;
    before = h_cmdstat(w.redis.port, "get");
    ck_assert(h_cmd_is(r, "OK", "CLIENT PAUSE 1000 ALL"));
    for (i = 0; i < NWAIT; i++)
        ck_assert_int_eq(h_send(cs[i], "GET k"), 0);
    /* all ten wait on the one fill; then half of them leave, the one whose
       read started it among them */
    ck_assert(h_metric_wait(w.stats, name, min, WAIT_MS));
    for (i = 0; i < NWAIT / 2; i++)
        redisFree(cs[i]);
    for (i = NWAIT / 2; i < NWAIT; i++)
        ck_assert(h_reply_is(h_reply_within(cs[i], WAIT_MS), "v"));
    ck_assert_int_eq(h_cmdstat(w.redis.port, "get") - before, 1);
    /* the fill was stored and corral serves on */
    c = h_world_corral(&w);
    ck_assert_int_eq(get_upstream(c, "k", "v"), 0);
    ck_assert(h_cmd_is(cs[NWAIT - 1], "PONG", "PING"));
    redisFree(c);
    for (i = NWAIT / 2; i < NWAIT; i++)
        redisFree(cs[i]);
    redisFree(r);
}
END_TEST

static Suite *cache_it_suite(void)
{
    Suite *s = suite_create("cache_it");
    TCase *tc = tcase_create("cache");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_coalesce_200_misses);
    tcase_add_test(tc, test_write_through_visible);
    tcase_add_test(tc, test_write_around_visible);
    tcase_add_test(tc, test_write_commands_invalidate);
    tcase_add_test(tc, test_select_db);
    tcase_add_test(tc, test_stress_write_around);
    tcase_add_test(tc, test_stress_write_through);
    tcase_add_test(tc, test_stress_concurrent_readers);
    tcase_add_test(tc, test_stress_concurrent_readers_around);
    tcase_add_test(tc, test_invalidation_conn_killed);
    tcase_add_test(tc, test_mget_partial);
    tcase_add_test(tc, test_max_value_not_cached);
    tcase_add_test(tc, test_rule_nocache);
    tcase_add_test(tc, test_local_ttl_without_invalidation);
    tcase_add_test(tc, test_fill_error_shared);
    tcase_add_test(tc, test_waiter_disconnects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* hundreds of client sockets in one test */
    h_raise_nofile();
    /* the measured figures are printed line by line, so that those of a
       test that then fails are not lost with its process */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return h_run_suite(cache_it_suite());
}
