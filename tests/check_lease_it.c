/*
 * check_lease_it.c — integration tests of fill leases (stampede
 * protection) against a real redis-server: the naive GET-compute-SET loop
 * run by 100 threads and by 1000 nonblocking clients does one computation;
 * a holder that leaves or never writes hands the lease on, bounded by
 * lease.timeout, lease.max_wait and lease.unfilled_ttl; writes that end a
 * lease (SET NX that succeeds or fails, writes around corral); pipelined
 * requests behind a parked read; keys whose rule turns leases off.
 *
 * Whether a reader is parked is read from corral's stats port
 * (corral_lease_waiting). Every wait polls for an event with a deadline;
 * the only sleep is the simulated computation of the naive loop.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 10000
#define COMPUTE_MS 200          /* the naive loop's "expensive computation" */

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

/* No reply arrives on c within ms. */
static int silent_for(redisContext *c, int ms)
{
    redisReply *rep = h_reply_within(c, ms);

    if (rep) {
        fprintf(stderr, "silent_for: unexpected reply type %d '%s'\n",
                rep->type, rep->str ? rep->str : "");
        freeReplyObject(rep);
        return 0;
    }
    return c->err == 0;
}

/* Wait until corral's metric name is at least min. */
static int metric_wait(const char *name, long long min)
{
    return h_metric_wait(w.stats, name, min, WAIT_MS);
}

/* Send GET key on c and wait until corral has parked it (one more reader
 * waiting on a lease than parked_before). */
static void park_get(redisContext *c, const char *key, long long parked_before)
{
    ck_assert_int_eq(h_send(c, "GET %s", key), 0);
    ck_assert(metric_wait("corral_lease_waiting", parked_before + 1));
}

/* Wait up to timeout_ms for one reply on each of cs[0..n); reps[i] and
 * at[i] (arrival, h_now_ms) are set for those that arrived, NULL/0 for the
 * others. */
static void collect(redisContext **cs, int n, redisReply **reps,
                    long long *at, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    struct pollfd pfd[16];
    int i, left = n;

    ck_assert_int_le(n, 16);
    for (i = 0; i < n; i++) {
        reps[i] = NULL;
        at[i] = 0;
    }
    while (left > 0) {
        long long wait = end - h_now_ms();
        int np = 0;

        for (i = 0; i < n; i++) {
            void *rep = NULL;

            if (reps[i])
                continue;
            if (redisGetReplyFromReader(cs[i], &rep) == REDIS_OK && rep) {
                reps[i] = rep;
                at[i] = h_now_ms();
                left--;
            }
        }
        if (left == 0 || wait < 0)
            break;
        for (i = 0; i < n; i++) {
            pfd[i].fd = reps[i] ? -1 : cs[i]->fd;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        np = poll(pfd, (nfds_t)n, (int)wait);
        if (np <= 0)
            break;
        for (i = 0; i < n; i++) {
            if (pfd[i].revents && redisBufferRead(cs[i]) != REDIS_OK)
                pfd[i].fd = -1;
        }
    }
}

/* ---- the naive loop, one thread per client ---- */

#define NTHREADS 100

struct naive {
    int port, id;
    pthread_barrier_t *bar;
    atomic_int *computations;
    char val[64];
    long long elapsed_ms;
    int ok;
};

static void *naive_run(void *arg)
{
    struct naive *n = arg;
    redisContext *c = h_connect(n->port);
    redisReply *rep;
    long long t0;

    if (c) {
        rep = redisCommand(c, "PING");
        if (rep)
            freeReplyObject(rep);
    }
    pthread_barrier_wait(n->bar);
    if (!c)
        return NULL;
    t0 = h_now_ms();
    rep = redisCommand(c, "GET k");
    if (rep && rep->type == REDIS_REPLY_NIL) {
        redisReply *set;

        atomic_fetch_add(n->computations, 1);
        usleep(COMPUTE_MS * 1000);          /* the computation itself */
        snprintf(n->val, sizeof(n->val), "computed-by-%d", n->id);
        set = redisCommand(c, "SET k %s EX 60", n->val);
        n->ok = set && set->type == REDIS_REPLY_STATUS && strcmp(set->str, "OK") == 0;
        if (set)
            freeReplyObject(set);
    } else if (rep && rep->type == REDIS_REPLY_STRING) {
        snprintf(n->val, sizeof(n->val), "%s", rep->str);
        n->ok = 1;
    }
    n->elapsed_ms = h_now_ms() - t0;
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return NULL;
}

START_TEST(test_naive_loop_100_threads)
{
    static struct naive ns[NTHREADS];
    pthread_t th[NTHREADS];
    pthread_barrier_t bar;
    atomic_int computations = 0;
    long long max_ms = 0;
    int i;

    h_world_start(&w, NULL);
    ck_assert_int_eq(pthread_barrier_init(&bar, NULL, NTHREADS), 0);
    for (i = 0; i < NTHREADS; i++) {
        memset(&ns[i], 0, sizeof(ns[i]));
        ns[i].port = w.corral.port;
        ns[i].id = i;
        ns[i].bar = &bar;
        ns[i].computations = &computations;
        ck_assert_int_eq(pthread_create(&th[i], NULL, naive_run, &ns[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (i = 0; i < NTHREADS; i++) {
        ck_assert_msg(ns[i].ok, "thread %d failed", i);
        ck_assert_str_eq(ns[i].val, ns[0].val);
        if (ns[i].elapsed_ms > max_ms)
            max_ms = ns[i].elapsed_ms;
    }
    printf("lease_it: %d threads, %d computation(s), slowest thread %lld ms\n",
           NTHREADS, atomic_load(&computations), max_ms);
    ck_assert_int_eq(atomic_load(&computations), 1);
    ck_assert_int_le(max_ms, COMPUTE_MS + 100);
}
END_TEST

/* ---- the holder goes away or stays silent ---- */

START_TEST(test_holder_disconnects)
{
    redisContext *a, *b, *c;
    redisReply *rep;
    long long t;

    h_world_start(&w, NULL);        /* lease.timeout 2 s */
    a = h_world_corral(&w);
    b = h_world_corral(&w);
    c = h_world_corral(&w);
    ck_assert(h_cmd_is(a, NULL, "GET k"));
    park_get(b, "k", 0);
    park_get(c, "k", 1);
    ck_assert(silent_for(b, 100));
    ck_assert(silent_for(c, 1));

    t = h_now_ms();
    redisFree(a);
    /* B, parked longest, now holds the lease */
    rep = h_reply_within(b, 100);
    ck_assert_msg(rep != NULL, "no reply to B within 100 ms of A leaving");
    ck_assert(h_reply_is(rep, NULL));
    printf("lease_it: holder left, next reader got the lease after %lld ms\n",
           h_now_ms() - t);
    ck_assert(silent_for(c, 100));
    ck_assert(h_cmd_is(b, "OK", "SET k v"));
    ck_assert(h_reply_is(h_reply_within(c, 1000), "v"));
    redisFree(c);
    redisFree(b);
}
END_TEST

#define NSILENT 4

START_TEST(test_holder_never_writes)
{
    redisContext *a, *cs[NSILENT], *f, *g, *pair[2];
    redisReply *reps[NSILENT], *r2[2];
    long long sent[NSILENT], at[NSILENT], at2[2], ta, t;
    int i;

    h_world_start(&w, "lease:\n  timeout: 300ms\n  max_wait: 1s\n"
                      "  unfilled_ttl: 2s\n");
    a = h_world_corral(&w);
    ck_assert(h_cmd_is(a, NULL, "GET k"));
    ta = h_now_ms();
    for (i = 0; i < NSILENT; i++) {
        cs[i] = h_world_corral(&w);
        sent[i] = h_now_ms();
        park_get(cs[i], "k", i);
    }
    collect(cs, NSILENT, reps, at, 3000);
    for (i = 0; i < NSILENT; i++) {
        ck_assert_msg(reps[i] != NULL, "reader %d got no reply", i);
        ck_assert(h_reply_is(reps[i], NULL));
        printf("lease_it: silent holders: reader %d got nil after %lld ms "
               "(%lld ms after the first lease)\n", i, at[i] - sent[i],
               at[i] - ta);
        /* no reader waits longer than max_wait */
        ck_assert_int_le(at[i] - sent[i], 1000 + 100);
    }
    /* each lease passes on after its 300 ms; the last reader reaches
       max_wait (1 s) before its turn */
    ck_assert_int_ge(at[0] - ta, 300 - 50);
    ck_assert_int_le(at[0] - ta, 300 + 100);
    ck_assert_int_ge(at[1] - ta, 600 - 50);
    ck_assert_int_le(at[1] - ta, 600 + 100);
    ck_assert_int_ge(at[2] - ta, 900 - 50);
    ck_assert_int_le(at[2] - ta, 900 + 100);
    ck_assert_int_ge(at[3] - sent[3], 1000 - 50);

    /* once the last lease has run out unfilled, readers of the key are not
       held at all for unfilled_ttl */
    ck_assert(metric_wait("corral_leases_expired_total", NSILENT));
    ck_assert_int_lt(h_now_ms() - ta, 2000);
    f = h_world_corral(&w);
    g = h_world_corral(&w);
    pair[0] = f;
    pair[1] = g;
    t = h_now_ms();
    ck_assert_int_eq(h_send(f, "GET k"), 0);
    ck_assert_int_eq(h_send(g, "GET k"), 0);
    collect(pair, 2, r2, at2, 1000);
    ck_assert(h_reply_is(r2[0], NULL));
    ck_assert(h_reply_is(r2[1], NULL));
    printf("lease_it: in the no-lease cool-down, two readers got nil after "
           "%lld and %lld ms\n", at2[0] - t, at2[1] - t);
    ck_assert_int_lt(at2[0] - t, 50);
    ck_assert_int_lt(at2[1] - t, 50);
    redisFree(g);
    redisFree(f);
    for (i = 0; i < NSILENT; i++)
        redisFree(cs[i]);
    redisFree(a);
}
END_TEST

/* ---- writes that end a lease ---- */

START_TEST(test_set_nx_fills)
{
    redisContext *a, *b;

    h_world_start(&w, NULL);
    a = h_world_corral(&w);
    b = h_world_corral(&w);
    ck_assert(h_cmd_is(a, NULL, "GET k"));
    park_get(b, "k", 0);
    ck_assert(h_cmd_is(a, "OK", "SET k v NX"));
    ck_assert(h_reply_is(h_reply_within(b, 500), "v"));
    redisFree(b);
    redisFree(a);
}
END_TEST

/* The value that ends a lease is cached for the readers after it. */
START_TEST(test_fulfilled_lease_cached)
{
    redisContext *a, *b, *c;
    long long before;

    h_world_start(&w, NULL);
    a = h_world_corral(&w);
    b = h_world_corral(&w);
    c = h_world_corral(&w);
    ck_assert(h_cmd_is(a, NULL, "GET k"));
    park_get(b, "k", 0);
    ck_assert(h_cmd_is(a, "OK", "SET k v"));
    ck_assert(h_reply_is(h_reply_within(b, 500), "v"));
    before = h_cmdstat(w.redis.port, "get");
    ck_assert(h_cmd_is(c, "v", "GET k"));
    ck_assert(h_cmd_is(b, "v", "GET k"));
    ck_assert_int_eq(h_cmdstat(w.redis.port, "get") - before, 0);
    redisFree(c);
    redisFree(b);
    redisFree(a);
}
END_TEST

START_TEST(test_set_nx_fails)
{
    redisContext *a, *b, *r;

    /* without invalidation the direct write below does not end the lease:
       only the holder's refused SET NX does */
    h_world_start(&w, "cache:\n  invalidation: none\n");
    a = h_world_corral(&w);
    b = h_world_corral(&w);
    r = h_world_redis(&w);
    ck_assert(h_cmd_is(a, NULL, "GET k"));
    park_get(b, "k", 0);
    ck_assert(h_cmd_is(r, "OK", "SET k direct"));
    ck_assert(silent_for(b, 100));
    ck_assert(h_cmd_is(a, NULL, "SET k v2 NX"));
    ck_assert(h_reply_is(h_reply_within(b, 500), "direct"));
    ck_assert(h_cmd_is(a, "direct", "GET k"));
    redisFree(r);
    redisFree(b);
    redisFree(a);
}
END_TEST

START_TEST(test_write_around_ends_lease)
{
    redisContext *a, *b, *r;
    redisReply *rep;
    long long t, before;

    h_world_start(&w, NULL);
    a = h_world_corral(&w);
    b = h_world_corral(&w);
    r = h_world_redis(&w);
    ck_assert(h_cmd_is(a, NULL, "GET k"));
    park_get(b, "k", 0);
    ck_assert(h_cmd_is(r, "OK", "SET k v"));
    t = h_now_ms();
    rep = h_reply_within(b, 500);
    ck_assert_msg(rep != NULL, "parked reader not answered within 500 ms");
    ck_assert(h_reply_is(rep, "v"));
    printf("lease_it: write around corral ended the lease, reader answered "
           "after %lld ms\n", h_now_ms() - t);
    /* the value was cached for the readers after it */
    before = h_cmdstat(w.redis.port, "get");
    ck_assert(h_cmd_is(b, "v", "GET k"));
    ck_assert_int_eq(h_cmdstat(w.redis.port, "get") - before, 0);
    /* the holder's late SET NX is refused; the value stays */
    ck_assert(h_cmd_is(a, NULL, "SET k v2 NX"));
    ck_assert(h_cmd_is(b, "v", "GET k"));
    redisFree(r);
    redisFree(b);
    redisFree(a);
}
END_TEST

START_TEST(test_pipeline_behind_parked_get)
{
    redisContext *a, *b;

    h_world_start(&w, NULL);
    a = h_world_corral(&w);
    b = h_world_corral(&w);
    ck_assert(h_cmd_is(a, NULL, "GET k"));
    ck_assert_int_eq(redisAppendCommand(b, "GET k"), REDIS_OK);
    ck_assert_int_eq(redisAppendCommand(b, "PING"), REDIS_OK);
    ck_assert_int_eq(redisAppendCommand(b, "SET other 1"), REDIS_OK);
    ck_assert_int_eq(h_send(b, "GET other"), 0);   /* flushes all four */
    ck_assert(metric_wait("corral_lease_waiting", 1));
    /* nothing is answered ahead of the parked read */
    ck_assert(silent_for(b, 100));
    ck_assert(h_cmd_is(a, "OK", "SET k v"));
    ck_assert(h_reply_is(h_reply_within(b, 1000), "v"));
    ck_assert(h_reply_is(h_reply_within(b, 1000), "PONG"));
    ck_assert(h_reply_is(h_reply_within(b, 1000), "OK"));
    ck_assert(h_reply_is(h_reply_within(b, 1000), "1"));
    redisFree(b);
    redisFree(a);
}
END_TEST

START_TEST(test_rule_no_lease)
{
    redisContext *a, *b, *pair[2];
    redisReply *reps[2];
    long long at[2], t;

    h_world_start(&w, "cache:\n  rules:\n    - prefix: \"nolease:\"\n"
                      "      lease: false\n");
    a = h_world_corral(&w);
    b = h_world_corral(&w);
    pair[0] = a;
    pair[1] = b;
    t = h_now_ms();
    ck_assert_int_eq(h_send(a, "GET nolease:x"), 0);
    ck_assert_int_eq(h_send(b, "GET nolease:x"), 0);
    collect(pair, 2, reps, at, 1000);
    ck_assert(h_reply_is(reps[0], NULL));
    ck_assert(h_reply_is(reps[1], NULL));
    ck_assert_int_lt(at[0] - t, 100);
    ck_assert_int_lt(at[1] - t, 100);
    /* and again: nobody holds a lease on it */
    ck_assert(h_cmd_is(b, NULL, "GET nolease:x"));
    ck_assert(h_cmd_is(a, NULL, "GET nolease:x"));

    /* a key outside the rule is leased: the second reader waits */
    ck_assert(h_cmd_is(a, NULL, "GET x"));
    park_get(b, "x", 0);
    ck_assert(silent_for(b, 100));
    ck_assert(h_cmd_is(a, "OK", "SET x 1"));
    ck_assert(h_reply_is(h_reply_within(b, 1000), "1"));
    redisFree(b);
    redisFree(a);
}
END_TEST

/* Losing the invalidation connection flushes the cache but leaves leases
 * in force: a parked reader is neither failed nor released into a
 * stampede, and the holder's write through corral still answers it.
 * Leasing works again once the channel is back. */
static int flush_counted(void *arg)
{
    long long *before = arg;

    return h_metric(w.stats, "corral_invalidations_total{source=\"flush\"}") >
           *before;
}

START_TEST(test_inval_lost_while_parked)
{
    redisContext *a, *b, *c, *r;
    long long id, flushes;

    h_world_start(&w, NULL);
    a = h_world_corral(&w);
    b = h_world_corral(&w);
    c = h_world_corral(&w);
    r = h_world_redis(&w);
    ck_assert(h_cmd_is(a, NULL, "GET k"));
    park_get(b, "k", 0);
    id = h_subscriber_id(r);
    ck_assert_int_gt(id, 0);
    flushes = h_metric(w.stats, "corral_invalidations_total{source=\"flush\"}");
    ck_assert_int_eq(h_cmd_int(r, "CLIENT KILL ID %lld", id), 1);
    ck_assert(h_wait_until(flush_counted, &flushes, WAIT_MS));
    /* still parked: no reply, not an error */
    ck_assert_ptr_null(h_reply_within(b, 100));
    ck_assert(h_cmd_is(a, "OK", "SET k v1"));
    ck_assert(h_reply_is(h_reply_within(b, 1000), "v1"));

    /* back to normal: a new holder, a parked reader, a write */
    ck_assert(h_wait_cached(c, w.redis.port, "probe:live", "1", WAIT_MS));
    ck_assert(h_cmd_is(a, NULL, "GET k2"));
    park_get(c, "k2", h_metric(w.stats, "corral_lease_waiting"));
    ck_assert(h_cmd_is(a, "OK", "SET k2 v"));
    ck_assert(h_reply_is(h_reply_within(c, 1000), "v"));
    redisFree(r);
    redisFree(c);
    redisFree(b);
    redisFree(a);
}
END_TEST

/* ---- the naive loop, 1000 nonblocking clients in one thread ---- */

#define NCLIENTS 1000

enum nb_state { NB_GET, NB_COMPUTE, NB_SET, NB_DONE };

struct nb {
    int fd;
    enum nb_state state;
    char in[256];
    size_t inlen;
    long long compute_until, done_at;
    char val[40];
};

/* One complete reply at the front of in: 1 (type, string in s/slen;
 * slen -1 for nil), 0 incomplete, -1 malformed. */
static int nb_reply(const char *in, size_t len, char *type, const char **s,
                    long *slen)
{
    const char *nl = memchr(in, '\n', len);
    long n;

    if (!nl)
        return 0;
    if (nl == in || nl[-1] != '\r')
        return -1;
    *type = in[0];
    if (in[0] == '+' || in[0] == '-') {
        *s = in + 1;
        *slen = (long)(nl - 1 - (in + 1));
        return 1;
    }
    if (in[0] != '$')
        return -1;
    n = strtol(in + 1, NULL, 10);
    if (n < 0) {
        *slen = -1;
        *s = NULL;
        return 1;
    }
    if ((size_t)(nl + 1 - in) + (size_t)n + 2 > len)
        return 0;
    *s = nl + 1;
    *slen = n;
    return 1;
}

static int nb_write(int fd, const char *buf, size_t len)
{
    return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

static int nb_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* corral's resident memory now and at its peak, in kB. */
static void rss_kb(pid_t pid, long *now, long *peak)
{
    char path[64], line[256];
    FILE *f;

    *now = *peak = -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *now = atol(line + 6);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *peak = atol(line + 6);
    }
    fclose(f);
}

START_TEST(test_naive_loop_1000_clients)
{
    static struct nb cl[NCLIENTS];
    static struct pollfd pfd[NCLIENTS];
    static int idx[NCLIENTS];
    static const char get[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    int i, ndone = 0, computations = 0;
    long long t0, end, max_ms = 0;
    long rss, hwm;

    h_world_start(&w, NULL);
    for (i = 0; i < NCLIENTS; i++) {
        memset(&cl[i], 0, sizeof(cl[i]));
        cl[i].fd = nb_connect(w.corral.port);
        ck_assert_int_ge(cl[i].fd, 0);
    }
    t0 = h_now_ms();
    end = t0 + 20000;
    for (i = 0; i < NCLIENTS; i++)
        ck_assert_int_eq(nb_write(cl[i].fd, get, sizeof(get) - 1), 0);

    while (ndone < NCLIENTS) {
        long long now = h_now_ms(), next = now + 100;
        int n = 0, rc;

        ck_assert_msg(now < end, "%d of %d clients finished", ndone, NCLIENTS);
        for (i = 0; i < NCLIENTS; i++) {
            if (cl[i].state == NB_COMPUTE) {
                if (now >= cl[i].compute_until) {
                    char cmd[128];
                    int len;

                    snprintf(cl[i].val, sizeof(cl[i].val), "computed-by-%d", i);
                    len = snprintf(cmd, sizeof(cmd),
                                   "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n%s\r\n"
                                   "$2\r\nEX\r\n$2\r\n60\r\n",
                                   strlen(cl[i].val), cl[i].val);
                    ck_assert_int_eq(nb_write(cl[i].fd, cmd, (size_t)len), 0);
                    cl[i].state = NB_SET;
                } else if (cl[i].compute_until < next) {
                    next = cl[i].compute_until;
                }
            }
            if (cl[i].state == NB_GET || cl[i].state == NB_SET) {
                pfd[n].fd = cl[i].fd;
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                idx[n++] = i;
            }
        }
        rc = poll(pfd, (nfds_t)n, (int)(next > now ? next - now : 0));
        ck_assert_int_ge(rc, 0);
        for (i = 0; i < n && rc > 0; i++) {
            struct nb *b = &cl[idx[i]];
            const char *s;
            long slen;
            char type;
            ssize_t got;
            int st;

            if (!pfd[i].revents)
                continue;
            got = read(b->fd, b->in + b->inlen, sizeof(b->in) - b->inlen);
            ck_assert_msg(got > 0 || (got < 0 && errno == EAGAIN),
                          "client %d: connection lost", idx[i]);
            if (got < 0)
                continue;
            b->inlen += (size_t)got;
            st = nb_reply(b->in, b->inlen, &type, &s, &slen);
            ck_assert_int_ge(st, 0);
            if (st == 0)
                continue;
            if (b->state == NB_GET && type == '$' && slen < 0) {
                computations++;
                b->compute_until = h_now_ms() + COMPUTE_MS;
                b->state = NB_COMPUTE;
            } else if (b->state == NB_GET) {
                ck_assert_int_eq(type, '$');
                ck_assert_int_lt(slen, (long)sizeof(b->val));
                memcpy(b->val, s, (size_t)slen);
                b->val[slen] = '\0';
                b->state = NB_DONE;
            } else {
                ck_assert_msg(type == '+' && slen == 2 && memcmp(s, "OK", 2) == 0,
                              "SET answered %c", type);
                b->state = NB_DONE;
            }
            b->inlen = 0;
            if (b->state == NB_DONE) {
                b->done_at = h_now_ms();
                if (b->done_at - t0 > max_ms)
                    max_ms = b->done_at - t0;
                ndone++;
            }
        }
    }
    rss_kb(w.corral.pid, &rss, &hwm);
    printf("lease_it: %d nonblocking clients, %d computation(s), all done "
           "after %lld ms; corral RSS %ld kB (peak %ld kB)\n", NCLIENTS,
           computations, max_ms, rss, hwm);
    ck_assert_int_eq(computations, 1);
    for (i = 0; i < NCLIENTS; i++)
        ck_assert_str_eq(cl[i].val, cl[0].val);
    ck_assert_int_gt(hwm, 0);
    ck_assert_int_lt(hwm, 100 * 1024);
    ck_assert_int_le(max_ms, COMPUTE_MS + 300);
    for (i = 0; i < NCLIENTS; i++)
        close(cl[i].fd);
}
END_TEST

static Suite *lease_it_suite(void)
{
    Suite *s = suite_create("lease_it");
    TCase *tc = tcase_create("lease");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_naive_loop_100_threads);
    tcase_add_test(tc, test_holder_disconnects);
    tcase_add_test(tc, test_holder_never_writes);
    tcase_add_test(tc, test_set_nx_fills);
    tcase_add_test(tc, test_fulfilled_lease_cached);
    tcase_add_test(tc, test_set_nx_fails);
    tcase_add_test(tc, test_write_around_ends_lease);
    tcase_add_test(tc, test_pipeline_behind_parked_get);
    tcase_add_test(tc, test_rule_no_lease);
    tcase_add_test(tc, test_inval_lost_while_parked);
    tcase_add_test(tc, test_naive_loop_1000_clients);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* a thousand client sockets in one test */
    h_raise_nofile();
    /* the measured figures are printed line by line, so that those of a
       test that then fails are not lost with its process */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return h_run_suite(lease_it_suite());
}
