/*
 * check_passthrough_errors.c — integration tests of the pass-through path
 * when things go wrong: protocol errors, clients.max_request and
 * clients.max, Redis killed (alone and under load) and restarted,
 * protected mode and AUTH. The sections are numbered on from
 * check_passthrough.c.
 *
 * One redis-server and one corral serve the whole suite (unchecked fixture,
 * passlib.h): a test that restarts Redis records the new process in the
 * shared fixture and the parent stops it. Tests that need other settings
 * start a corral of their own.
 */
#include <check.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "passlib.h"

static struct pl_fixture *fx;   /* shared with the forked tests */

/* ---- 9. error paths ---- */

START_TEST(test_protocol_errors)
{
    redisContext *other = pl_via_corral();
    struct h_raw w;

    ck_assert(h_cmd_is(other, "OK", "SET pe:k alive"));
    pl_raw_open(&w, fx->corral.port);
    PL_RAW_SEND_LIT(&w, "*abc\r\n");
    pl_raw_expect_protocol_error(&w);
    h_raw_close(&w);
    ck_assert(h_cmd_is(other, "alive", "GET pe:k"));
    /* replies owed before the bad bytes still come first */
    pl_raw_open(&w, fx->corral.port);
    PL_RAW_SEND_LIT(&w, "PING\r\n*1\r\n$999999999999\r\n");
    pl_raw_expect(&w, "PONG");
    pl_raw_expect_protocol_error(&w);
    h_raw_close(&w);
    pl_raw_open(&w, fx->corral.port);
    PL_RAW_SEND_LIT(&w, "*2\r\n$3\r\nGET\r\nxy\r\n");
    pl_raw_expect_protocol_error(&w);
    h_raw_close(&w);
    ck_assert(h_cmd_is(other, "PONG", "PING"));
    ck_assert(h_cmd_is(other, "alive", "GET pe:k"));
    redisFree(other);
}
END_TEST

START_TEST(test_max_request)
{
    static const char hdr[] = "*3\r\n$3\r\nSET\r\n$4\r\nmr:x\r\n$2000\r\n";
    size_t chunk = 1 << 16, sent = 0, total = 64u << 20;
    char *big = malloc(chunk), val[900];
    struct timeval tv = { 5, 0 };
    long long rss0, rss1;
    struct h_raw w;
    struct proc p;
    redisContext *c;

    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(h_corral_start(&p, fx->redis.port, 0,
                                    "clients:\n  max_request: 1kb\n"), 0);
    c = h_connect(p.port);
    ck_assert_ptr_nonnull(c);
    /* under the limit: fine */
    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    ck_assert(h_cmd_is(c, "OK", "SET mr:k %s", val));
    /* over it, in one write: error and close */
    memcpy(big, hdr, sizeof(hdr) - 1);
    memset(big + sizeof(hdr) - 1, 'x', 2000);
    memcpy(big + sizeof(hdr) - 1 + 2000, "\r\n", 2);
    pl_raw_open(&w, p.port);
    pl_raw_send(&w, big, sizeof(hdr) - 1 + 2002);
    pl_raw_expect_protocol_error(&w);
    h_raw_close(&w);

    /* a client streaming a huge request is cut off, and corral's memory
     * does not grow with it */
    memset(big, 'b', chunk);
    rss0 = h_rss_kb(p.pid);
    ck_assert_int_gt(rss0, 0);
    pl_raw_open(&w, p.port);
    setsockopt(w.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    errno = 0;
    while (sent < total) {
        ssize_t n = send(w.fd, big, chunk, MSG_NOSIGNAL);

        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    ck_assert_msg(sent < total, "corral took all %zu bytes", sent);
    ck_assert_msg(errno == EPIPE || errno == ECONNRESET,
                  "the connection was not closed after %zu bytes: %s", sent,
                  strerror(errno));
    h_raw_close(&w);
    rss1 = h_rss_kb(p.pid);
    ck_assert_msg(rss1 - rss0 < 8 * 1024, "RSS grew from %lld to %lld kB",
                  rss0, rss1);
    /* other clients are unaffected, and nothing was written */
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert_int_eq(h_cmd_int(c, "EXISTS mr:x"), 0);
    redisFree(c);
    free(big);
    ck_assert_int_eq(h_stop(&p, SIGTERM), 0);
}
END_TEST

START_TEST(test_max_clients)
{
    redisContext *c[5];
    struct h_raw w;
    struct proc p;
    int i;

    ck_assert_int_eq(h_corral_start(&p, fx->redis.port, 0,
                                    "clients:\n  max: 5\n"), 0);
    for (i = 0; i < 5; i++) {
        c[i] = h_connect(p.port);
        ck_assert_ptr_nonnull(c[i]);
        ck_assert(h_cmd_is(c[i], "PONG", "PING"));
    }
    pl_raw_open(&w, p.port);
    pl_raw_expect(&w, "-ERR max number of clients reached");
    ck_assert(h_raw_closed(&w, 5000));
    h_raw_close(&w);
    for (i = 0; i < 5; i++)
        ck_assert(h_cmd_is(c[i], "PONG", "PING"));
    /* a slot that frees up can be taken again */
    redisFree(c[0]);
    ck_assert(h_wait_pong(p.port, 5000));
    for (i = 1; i < 5; i++)
        redisFree(c[i]);
    ck_assert_int_eq(h_stop(&p, SIGTERM), 0);
}
END_TEST

START_TEST(test_upstream_killed)
{
    redisContext *c = pl_via_corral(), *rc = pl_to_redis();
    struct h_raw w;
    redisReply *r;
    long long t0;

    ck_assert(h_cmd_is(c, "OK", "SET uk:k before"));
    ck_assert_int_ge(h_cmd_int(rc, "DEL bq:q"), 0);
    /* a BLPOP waiting in Redis when it dies */
    pl_raw_open(&w, fx->corral.port);
    PL_RAW_SEND_LIT(&w, PL_BLPOP_FOREVER);
    ck_assert(pl_wait_blpops(rc, 1));
    redisFree(rc);
    t0 = h_now_ms();
    ck_assert_int_eq(h_kill(&fx->redis, SIGKILL), 0);
    r = h_raw_reply(&w, 5000);
    ck_assert_msg(pl_is_err(r, "ERR upstream"), "BLPOP got %s after %lld ms",
                  r && r->str ? r->str : "nothing", h_now_ms() - t0);
    freeReplyObject(r);
    h_raw_close(&w);

    /* requests fail fast while Redis is down */
    t0 = h_now_ms();
    pl_cmd_err(c, "ERR upstream unavailable", "SET uk:k during");
    ck_assert_int_lt(h_now_ms() - t0, 1000);
    t0 = h_now_ms();
    pl_cmd_err(c, "ERR upstream unavailable", "GET uk:k");
    pl_cmd_err(c, "ERR upstream unavailable", "INCR uk:n");
    ck_assert_int_lt(h_now_ms() - t0, 1000);

    /* Redis comes back on the same port; corral reconnects by itself and
     * the same client connection works again */
    ck_assert_int_eq(h_redis_restart(&fx->redis), 0);
    ck_assert_msg(h_wait_pong(fx->corral.port, 5000),
                  "corral did not recover within 5 s");
    ck_assert(h_cmd_is(c, "OK", "SET uk:k after"));
    ck_assert(h_cmd_is(c, "after", "GET uk:k"));
    ck_assert_int_eq(h_cmd_int(c, "INCR uk:n"), 1);
    redisFree(c);
}
END_TEST

enum { LOAD_THREADS = 10 };

/* INCR load:<epoch> in a loop; epoch 0 runs until stopped by the epoch
 * turning 1, epoch 1 until 100 INCRs succeeded. */
struct load_arg {
    int port;
    int *epoch;          /* shared, __atomic */
    long ok[2], err[2];  /* per epoch, __atomic */
    long bad, lost;
};

static void *load_thread(void *arg)
{
    struct load_arg *a = arg;
    redisContext *c = h_connect(a->port);

    while (c) {
        int e = __atomic_load_n(a->epoch, __ATOMIC_SEQ_CST);
        redisReply *r;

        if (e == 1 && (a->ok[1] >= 100 || a->err[1] >= 2000))
            break;
        r = redisCommand(c, "INCR load:%d", e);
        if (!r)
            break;                  /* no reply: counted as lost below */
        if (r->type == REDIS_REPLY_INTEGER)
            __atomic_add_fetch(&a->ok[e], 1, __ATOMIC_SEQ_CST);
        else if (pl_is_err(r, "ERR upstream"))
            __atomic_add_fetch(&a->err[e], 1, __ATOMIC_SEQ_CST);
        else
            a->bad++;
        freeReplyObject(r);
    }
    if (!c || c->err)
        a->lost++;
    if (c)
        redisFree(c);
    return NULL;
}

struct load_wait {
    struct load_arg *a;
    long min;
    int errors;    /* count errors, not successes, of epoch 0 */
};

static int load_reached(void *arg)
{
    struct load_wait *lw = arg;
    long n = 0;
    int i;

    for (i = 0; i < LOAD_THREADS; i++)
        n += __atomic_load_n(lw->errors ? &lw->a[i].err[0] : &lw->a[i].ok[0],
                             __ATOMIC_SEQ_CST);
    return n >= lw->min;
}

static void *load_runner(void *arg)
{
    pl_run_threads(load_thread, arg, sizeof(struct load_arg), LOAD_THREADS);
    return NULL;
}

START_TEST(test_upstream_killed_under_load)
{
    struct load_arg a[LOAD_THREADS];
    struct load_wait lw;
    int epoch = 0, i;
    long ok1 = 0, bad = 0, lost = 0;
    redisContext *rc;
    pthread_t runner;
    char want[32];

    if (fx->redis.pid <= 0) {        /* an earlier test left Redis down */
        ck_assert_int_eq(h_redis_restart(&fx->redis), 0);
        ck_assert(h_wait_pong(fx->corral.port, 5000));
    }
    for (i = 0; i < LOAD_THREADS; i++)
        a[i] = (struct load_arg){ .port = fx->corral.port, .epoch = &epoch };
    ck_assert_int_eq(pthread_create(&runner, NULL, load_runner, a), 0);
    /* phase 1: Redis killed under load and restarted; every request gets
     * exactly one reply, an integer or an upstream error */
    lw = (struct load_wait){ a, 500, 0 };
    ck_assert(h_wait_until(load_reached, &lw, 10000));
    ck_assert_int_eq(h_kill(&fx->redis, SIGKILL), 0);
    lw = (struct load_wait){ a, 50, 1 };
    ck_assert_msg(h_wait_until(load_reached, &lw, 5000),
                  "requests did not fail while Redis was down");
    ck_assert_int_eq(h_redis_restart(&fx->redis), 0);
    ck_assert(h_wait_pong(fx->corral.port, 5000));
    /* phase 2: key load:1 exists only in the new Redis; every INCR of it
     * acknowledged to a client ran exactly once */
    __atomic_store_n(&epoch, 1, __ATOMIC_SEQ_CST);
    pthread_join(runner, NULL);
    for (i = 0; i < LOAD_THREADS; i++) {
        ok1 += a[i].ok[1];
        bad += a[i].bad;
        lost += a[i].lost;
    }
    ck_assert_int_eq(lost, 0);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(ok1, LOAD_THREADS * 100);
    rc = pl_to_redis();
    snprintf(want, sizeof(want), "%ld", ok1);
    ck_assert(h_cmd_is(rc, want, "GET load:1"));
    redisFree(rc);
}
END_TEST

/* ---- 10. protected mode and AUTH ---- */

START_TEST(test_protected_mode)
{
    char yaml[512], command[512], out[256];
    int port = h_free_port(), st;
    long long end;
    redisContext *c = NULL;
    struct proc p;

    snprintf(yaml, sizeof(yaml),
             "listen: 0.0.0.0:%d\nupstream:\n  address: 127.0.0.1:%d\n"
             "stats:\n  listen: \"\"\n", port, fx->redis.port);
    ck_assert_int_eq(h_corral_spawn(&p, port, yaml), 0);
    st = h_wait_exit(&p, 5000);
    if (st < 0)
        h_stop(&p, SIGKILL);
    ck_assert_int_eq(st, 1);
    snprintf(command, sizeof(command), "grep -c protected %s", p.log);
    ck_assert_msg(h_run(command, out, sizeof(out)) == 0,
                  "the log does not say why (%s)", p.log);

    /* with a password it starts, and clients must AUTH */
    port = h_free_port();
    snprintf(yaml, sizeof(yaml),
             "listen: 0.0.0.0:%d\nupstream:\n  address: 127.0.0.1:%d\n"
             "stats:\n  listen: \"\"\nclients:\n  password: open-sesame\n",
             port, fx->redis.port);
    ck_assert_int_eq(h_corral_spawn(&p, port, yaml), 0);
    end = h_now_ms() + 10000;
    while (!c && h_now_ms() < end && h_wait_exit(&p, 5) < 0)
        c = h_connect(port);
    ck_assert_msg(c != NULL, "corral with a password did not start");
    pl_cmd_err(c, "NOAUTH", "PING");
    ck_assert(h_cmd_is(c, "OK", "AUTH open-sesame"));
    redisFree(c);
    ck_assert_int_eq(h_stop(&p, SIGTERM), 0);
}
END_TEST

static int pong_on(void *arg)
{
    redisReply *r = redisCommand(arg, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");

    if (r)
        freeReplyObject(r);
    return ok;
}

START_TEST(test_auth)
{
    redisContext *a, *b;
    struct proc p;

    ck_assert_int_eq(h_corral_start(&p, fx->redis.port, 0,
                                    "clients:\n  password: s3cret\n"), 0);
    a = h_connect(p.port);
    b = h_connect(p.port);
    ck_assert(a && b);
    pl_cmd_err(a, "NOAUTH", "GET au:k");
    pl_cmd_err(a, "NOAUTH", "SET au:k v");
    pl_cmd_err(a, "WRONGPASS", "AUTH nope");
    pl_cmd_err(a, "WRONGPASS", "AUTH default nope");
    pl_cmd_err(a, "NOAUTH", "GET au:k");
    ck_assert(h_cmd_is(a, "OK", "AUTH s3cret"));
    ck_assert(h_wait_until(pong_on, a, 5000));
    ck_assert(h_cmd_is(a, "OK", "SET au:k v"));
    ck_assert(h_cmd_is(a, "v", "GET au:k"));
    ck_assert(h_cmd_is(a, "v", "GET au:k"));     /* now in the cache */
    /* authentication is per client: the cached value is not served to b */
    pl_cmd_err(b, "NOAUTH", "GET au:k");
    ck_assert(h_cmd_is(b, "OK", "AUTH default s3cret"));
    ck_assert(h_cmd_is(b, "v", "GET au:k"));
    redisFree(a);
    redisFree(b);
    ck_assert_int_eq(h_stop(&p, SIGTERM), 0);
}
END_TEST


static Suite *passthrough_errors_suite(void)
{
    Suite *s = suite_create("passthrough_errors");
    TCase *tc = tcase_create("passthrough_errors");

    tcase_add_unchecked_fixture(tc, pl_setup, pl_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_protocol_errors);
    tcase_add_test(tc, test_max_request);
    tcase_add_test(tc, test_max_clients);
    tcase_add_test(tc, test_protected_mode);
    tcase_add_test(tc, test_auth);
    /* last: they restart Redis */
    tcase_add_test(tc, test_upstream_killed);
    tcase_add_test(tc, test_upstream_killed_under_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fx = pl_init("check_passthrough_errors");
    if (!fx)
        return 1;
    return pl_run(passthrough_errors_suite());
}
