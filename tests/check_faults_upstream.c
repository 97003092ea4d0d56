/*
 * check_faults_upstream.c — integration tests of corral when its upstream
 * fails: Redis killed mid-pipeline and restarted, Redis restarted under a
 * cached value, an upstream that accepts but never answers, and one that
 * answers garbage (a fake upstream served by a thread of this program).
 * The faults of hostile clients are in check_faults_clients.c.
 *
 * Every test prints its counts (requests sent, answered, errors, lost) on
 * one line starting "faults:". Every wait has a deadline; all traffic stays
 * on 127.0.0.1.
 */
#include <check.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faultlib.h"
#include "harness.h"

#define WAIT_MS 10000

/* A fake upstream: accepts connections and reads requests; never answers
 * (FAKE_SILENT), or answers each request with a reply that is not RESP2
 * (FAKE_GARBAGE) or with +PONG (FAKE_PONG). Runs in a thread. */
enum fake_mode { FAKE_SILENT, FAKE_GARBAGE, FAKE_PONG };

#define FAKE_MAX_CONNS 64

struct fake {
    int lfd, port;
    int mode;                   /* enum fake_mode; atomic access */
    int stop;                   /* atomic */
    pthread_t th;
    int running;
    int fds[FAKE_MAX_CONNS];
    redisReader *rd[FAKE_MAX_CONNS];
};

/* ---- the fake upstream ---- */

static void fake_drop(struct fake *f, int i)
{
    close(f->fds[i]);
    f->fds[i] = -1;
    if (f->rd[i])
        redisReaderFree(f->rd[i]);
    f->rd[i] = NULL;
}

/* Parse requests from connection i's buffer and answer each per mode. */
static void fake_answer(struct fake *f, int i, const char *data, size_t n)
{
    int mode = __atomic_load_n(&f->mode, __ATOMIC_SEQ_CST);
    const char *ans = mode == FAKE_GARBAGE ? "!garbage\r\n" : "+PONG\r\n";
    void *req;

    if (mode == FAKE_SILENT)
        return;
    if (redisReaderFeed(f->rd[i], data, n) != REDIS_OK) {
        fake_drop(f, i);
        return;
    }
    for (;;) {
        req = NULL;
        if (redisReaderGetReply(f->rd[i], &req) != REDIS_OK) {
            fake_drop(f, i);
            return;
        }
        if (!req)
            return;
        freeReplyObject(req);
        if (fl_send_all(f->fds[i], ans, strlen(ans)) < 0) {
            fake_drop(f, i);
            return;
        }
    }
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    static char buf[65536];

    while (!__atomic_load_n(&f->stop, __ATOMIC_SEQ_CST)) {
        struct pollfd pf[FAKE_MAX_CONNS + 1];
        int map[FAKE_MAX_CONNS + 1], n = 1, i;

        pf[0].fd = f->lfd;
        pf[0].events = POLLIN;
        for (i = 0; i < FAKE_MAX_CONNS; i++) {
            if (f->fds[i] >= 0) {
                pf[n].fd = f->fds[i];
                pf[n].events = POLLIN;
                map[n++] = i;
            }
        }
        if (poll(pf, (nfds_t)n, 50) <= 0)
            continue;
        if (pf[0].revents & POLLIN) {
            int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);

            for (i = 0; fd >= 0 && i < FAKE_MAX_CONNS; i++) {
                if (f->fds[i] < 0) {
                    f->fds[i] = fd;
                    f->rd[i] = redisReaderCreate();
                    break;
                }
            }
            if (fd >= 0 && (i == FAKE_MAX_CONNS || !f->rd[i])) {
                if (i < FAKE_MAX_CONNS)
                    f->fds[i] = -1;
                close(fd);
            }
        }
        for (i = 1; i < n; i++) {
            int k = map[i];
            ssize_t got;

            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            got = recv(f->fds[k], buf, sizeof(buf), 0);
            if (got <= 0)
                fake_drop(f, k);
            else
                fake_answer(f, k, buf, (size_t)got);
        }
    }
    return NULL;
}

/* Listen on a free loopback port and serve in a thread. 0, or -1. */
static int fake_start(struct fake *f, enum fake_mode mode)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int i, one = 1;

    memset(f, 0, sizeof(*f));
    for (i = 0; i < FAKE_MAX_CONNS; i++)
        f->fds[i] = -1;
    f->mode = mode;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0)
        return -1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(f->lfd, 64) < 0 ||
        getsockname(f->lfd, (struct sockaddr *)&sa, &sl) < 0 ||
        pthread_create(&f->th, NULL, fake_main, f) != 0) {
        close(f->lfd);
        f->lfd = -1;
        return -1;
    }
    f->port = ntohs(sa.sin_port);
    f->running = 1;
    return 0;
}

static void fake_stop(struct fake *f)
{
    int i;

    if (!f->running)
        return;
    __atomic_store_n(&f->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(f->th, NULL);
    for (i = 0; i < FAKE_MAX_CONNS; i++)
        if (f->fds[i] >= 0)
            fake_drop(f, i);
    close(f->lfd);
    f->lfd = -1;
    f->running = 0;
}

/* ---- the processes of one test ---- */

/* Redis, corral and the fake upstream of the running test, at file scope
 * so that exit handlers find them (see harness.h). */
static struct h_world w;
static struct fake fake_up;

static void fake_stop_at_exit(void)
{
    fake_stop(&fake_up);
}

static void setup(void)
{
    static int registered;

    /* registered before the world's handler: runs after it */
    if (!registered && atexit(fake_stop_at_exit) == 0)
        registered = 1;
    h_world_setup(&w);
    memset(&fake_up, 0, sizeof(fake_up));
    fake_up.lfd = -1;
}

static void teardown(void)
{
    h_world_kill(&w);
    fake_stop(&fake_up);
}

/* corral's stats port answers /healthz with 200. */
static int healthy(void *arg)
{
    int status = -1;
    char *resp = h_http_get(*(int *)arg, "/healthz", &status);
    int ok = resp && status == 200;

    free(resp);
    return ok;
}

/* ---- 1. upstream killed mid-pipeline ---- */

/*
 * Two kills, each followed by a restart:
 *   stopped  Redis has answered each client's first T1_FIRST INCRs; it is
 *            stopped (SIGSTOP), the clients pipeline the rest, and it is
 *            killed: those requests were surely in flight;
 *   flowing  on the restarted Redis each client pipelines T1_REQS more, and
 *            Redis is killed while it is answering them.
 * Every INCR whose reply Redis wrote before it died must be answered with
 * that reply, even when corral learns of the death (a reset) before it
 * has read them: stopped, exactly T1_FIRST integers per client; flowing, at
 * least as many as Redis had run and answered when the kill was decided.
 * After each restart every client sends an ECHO of its own marker: the next
 * reply on its connection must be that ECHO's, so no reply came twice.
 */
#define T1_CLIENTS 20
#define T1_REQS 1000
#define T1_FIRST 300
#define T1_STEPS 8              /* barriers each client passes */

struct t1_client {
    int port, idx;
    pthread_barrier_t *bar;
    int answered, ints, errs, other, bad_seq, int_after_err, echo_ok;
    int ints_stopped;           /* integers read after the first kill */
    int ok;
};

/* Read n replies to INCRs on one key: integers continuing from *next, then
 * only "ERR upstream" errors. */
static void t1_read(struct t1_client *t, struct fl_conn *rc, int n,
                    long long *next)
{
    long long end = h_now_ms() + 20000;
    int i, seen_err = 0;

    for (i = 0; t->ok && i < n; i++) {
        redisReply *r = fl_conn_next(rc, end);

        if (!r)
            return;
        t->answered++;
        if (r->type == REDIS_REPLY_INTEGER) {
            t->ints++;
            t->bad_seq += r->integer != *next;
            t->int_after_err += seen_err;
            *next = r->integer + 1;
        } else if (r->type == REDIS_REPLY_ERROR &&
                   strncmp(r->str, "ERR upstream", 12) == 0) {
            t->errs++;
            seen_err = 1;
        } else {
            t->other++;
        }
        freeReplyObject(r);
    }
}

/* Send ECHO marker-<idx>; is the next reply its own? */
static void t1_echo(struct t1_client *t, struct fl_conn *rc)
{
    char marker[32], echo[96];
    redisReply *r;

    snprintf(marker, sizeof(marker), "marker-%d", t->idx);
    snprintf(echo, sizeof(echo), "*2\r\n$4\r\nECHO\r\n$%zu\r\n%s\r\n",
             strlen(marker), marker);
    if (!t->ok || fl_send_all(rc->fd, echo, strlen(echo)) < 0)
        return;
    r = fl_conn_next(rc, h_now_ms() + 5000);
    t->echo_ok += r && r->type == REDIS_REPLY_STRING &&
                  strcmp(r->str, marker) == 0;
    if (r)
        freeReplyObject(r);
}

static void t1_send(struct t1_client *t, struct fl_conn *rc, const char *buf,
                    size_t len)
{
    if (t->ok && fl_send_all(rc->fd, buf, len) < 0)
        t->ok = 0;
}

static void *t1_client_main(void *arg)
{
    struct t1_client *t = arg;
    struct fl_conn rc = { -1, NULL, 0 };
    char key[32];
    const char *argv[2] = { "INCR", key };
    size_t len = 0, one;
    char *buf;
    long long next = 1;

    snprintf(key, sizeof(key), "faults:incr:%d", t->idx);
    buf = fl_repeat_cmd(T1_REQS, &len, 2, argv);
    t->ok = buf && fl_conn_open(&rc, t->port, 0) == 0;
    one = len / T1_REQS;
    /* stopped */
    t1_send(t, &rc, buf, one * T1_FIRST);
    pthread_barrier_wait(t->bar);       /* 1: main stops Redis */
    pthread_barrier_wait(t->bar);       /* 2: stopped */
    t1_send(t, &rc, buf + one * T1_FIRST, one * (T1_REQS - T1_FIRST));
    pthread_barrier_wait(t->bar);       /* 3: main kills Redis */
    t1_read(t, &rc, T1_REQS, &next);
    t->ints_stopped = t->ints;
    pthread_barrier_wait(t->bar);       /* 4: main restarts Redis */
    pthread_barrier_wait(t->bar);       /* 5: Redis answers again */
    t1_echo(t, &rc);
    /* flowing: the new Redis starts from nothing */
    next = 1;
    t1_send(t, &rc, buf, len);
    pthread_barrier_wait(t->bar);       /* 6: main kills Redis mid-flow */
    t1_read(t, &rc, T1_REQS, &next);
    pthread_barrier_wait(t->bar);       /* 7: main restarts Redis */
    pthread_barrier_wait(t->bar);       /* 8: Redis answers again */
    t1_echo(t, &rc);
    fl_conn_close(&rc);
    free(buf);
    return NULL;
}

/* Sum of the counters of the test's keys in Redis. */
static long long t1_total(int redis_port)
{
    redisContext *r = h_connect(redis_port);
    long long n = 0;
    int i;

    if (!r)
        return -1;
    for (i = 0; i < T1_CLIENTS; i++) {
        char key[32];
        long long v;

        snprintf(key, sizeof(key), "faults:incr:%d", i);
        v = fl_get_number(r, key);
        n += v > 0 ? v : 0;
    }
    redisFree(r);
    return n;
}

START_TEST(test_upstream_killed_mid_pipeline)
{
    struct t1_client t[T1_CLIENTS];
    pthread_t th[T1_CLIENTS];
    pthread_barrier_t bar;
    long answered = 0, ints = 0, errs = 0, other = 0, bad_seq = 0;
    long int_after_err = 0, echo_ok = 0, ints_stopped = 0;
    long long end, done_at_kill = -1;
    int i, port, step;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    port = w.redis.port;
    ck_assert_int_eq(fl_corral_up(&w.corral, port, 0, NULL, NULL, 1), 0);
    ck_assert_int_eq(pthread_barrier_init(&bar, NULL, T1_CLIENTS + 1), 0);
    for (i = 0; i < T1_CLIENTS; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        t[i].port = w.corral.port;
        t[i].idx = i;
        t[i].bar = &bar;
        ck_assert_int_eq(pthread_create(&th[i], NULL, t1_client_main, &t[i]),
                         0);
    }
    for (step = 1; step <= T1_STEPS; step++) {
        pthread_barrier_wait(&bar);
        if (step == 1) {
            /* let Redis answer the first part, then stop it */
            end = h_now_ms() + WAIT_MS;
            while (t1_total(port) < (long long)T1_CLIENTS * T1_FIRST &&
                   h_now_ms() < end)
                continue;
            ck_assert_int_eq(t1_total(port), (long long)T1_CLIENTS * T1_FIRST);
            ck_assert_int_eq(kill(w.redis.pid, SIGSTOP), 0);
        } else if (step == 3) {
            ck_assert_int_eq(h_stop(&w.redis, SIGKILL), 128 + SIGKILL);
        } else if (step == 6) {
            /* kill once a quarter of the pipelines has run; the replies
               to what the first count saw were written before Redis
               answered the second count */
            end = h_now_ms() + WAIT_MS;
            while ((done_at_kill = t1_total(port)) <
                       (long long)T1_CLIENTS * T1_REQS / 4 &&
                   h_now_ms() < end)
                continue;
            ck_assert_int_ge(t1_total(port), done_at_kill);
            ck_assert_int_eq(h_stop(&w.redis, SIGKILL), 128 + SIGKILL);
        } else if (step == 4 || step == 7) {
            /* the clients have read every reply: restart */
            ck_assert_int_eq(h_redis_start(&w.redis, port), 0);
            ck_assert(h_wait_pong(w.corral.port, 5000));
        }
    }
    for (i = 0; i < T1_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        answered += t[i].answered;
        ints += t[i].ints;
        errs += t[i].errs;
        other += t[i].other;
        bad_seq += t[i].bad_seq;
        int_after_err += t[i].int_after_err;
        echo_ok += t[i].echo_ok;
        ints_stopped += t[i].ints_stopped;
    }
    pthread_barrier_destroy(&bar);
    printf("faults: upstream killed mid-pipeline (twice): sent=%d "
           "answered=%ld integers=%ld (%ld after the first kill, %ld after "
           "the second, which came after %lld INCRs had run and been "
           "answered) errors=%ld other=%ld lost=%ld duplicated=%ld "
           "out_of_sequence=%ld\n",
           2 * T1_CLIENTS * T1_REQS, answered, ints, ints_stopped,
           ints - ints_stopped, done_at_kill, errs, other,
           2L * T1_CLIENTS * T1_REQS - answered, 2L * T1_CLIENTS - echo_ok,
           bad_seq);
    fflush(stdout);
    ck_assert_int_eq(answered, 2 * T1_CLIENTS * T1_REQS);
    ck_assert_int_eq(other, 0);
    ck_assert_int_eq(bad_seq, 0);
    ck_assert_int_eq(int_after_err, 0);
    ck_assert_int_eq(ints_stopped, T1_CLIENTS * T1_FIRST);
    ck_assert_int_ge(ints - ints_stopped, done_at_kill);
    ck_assert_int_ge(errs, T1_CLIENTS * (T1_REQS - T1_FIRST));
    ck_assert_int_eq(echo_ok, 2 * T1_CLIENTS);
    ck_assert(fl_running(&w.corral));
}
END_TEST

/* ---- 2. upstream restarted ---- */

struct cached_arg {
    redisContext *c;
    int redis_port;
    const char *key, *value;
};

/* A GET through corral answers value without reaching Redis. */
static int served_from_cache(void *arg)
{
    struct cached_arg *a = arg;
    long long before = h_cmdstat(a->redis_port, "get");

    return h_cmd_is(a->c, a->value, "GET %s", a->key) &&
           h_cmdstat(a->redis_port, "get") == before;
}

START_TEST(test_upstream_restarted)
{
    redisContext *c;
    struct cached_arg a;
    long long t0, resumed_ms;
    int port;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    port = w.redis.port;
    ck_assert_int_eq(fl_corral_up(&w.corral, port, 0, NULL, NULL, 1), 0);
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "OK", "SET faults:restart before"));
    a.c = c;
    a.redis_port = port;
    a.key = "faults:restart";
    a.value = "before";
    ck_assert(h_wait_until(served_from_cache, &a, WAIT_MS));

    ck_assert_int_eq(h_stop(&w.redis, SIGKILL), 128 + SIGKILL);
    ck_assert_int_eq(h_redis_start(&w.redis, port), 0);
    t0 = h_now_ms();
    ck_assert(h_wait_pong(w.corral.port, 5000));
    resumed_ms = h_now_ms() - t0;

    /* the new Redis has no data: the value cached before is gone */
    ck_assert(h_cmd_is(c, NULL, "GET faults:restart"));
    ck_assert(h_cmd_is(c, "OK", "SET faults:restart after"));
    ck_assert(h_cmd_is(c, "after", "GET faults:restart"));
    printf("faults: upstream restarted: traffic resumed %lld ms after the "
           "restart, stale value served=0\n", resumed_ms);
    fflush(stdout);
    redisFree(c);
}
END_TEST

/* ---- 3. upstream that accepts but never answers ---- */

/* Send n requests in one write, cycling through a SET of a 2 KB value, a
 * GET (the reads of one batch coalesce into one fill) and a PING; count
 * the replies and those that are errors saying the upstream timed out or
 * is unavailable. 0, or -1 when the connection failed. */
static int pipeline_errors(int port, int n, long long deadline_ms,
                           int *answered, int *errs)
{
    static char value[2049];
    const char *set[3] = { "SET", "faults:silent", value };
    const char *get[2] = { "GET", "faults:silent:get" };
    const char *ping[1] = { "PING" };
    char *one[3], *buf;
    size_t l[3], len = 0;
    struct fl_conn rc;
    int i;

    memset(value, 'x', sizeof(value) - 1);
    one[0] = fl_repeat_cmd(1, &l[0], 3, set);
    one[1] = fl_repeat_cmd(1, &l[1], 2, get);
    one[2] = fl_repeat_cmd(1, &l[2], 1, ping);
    buf = malloc((l[0] + l[1] + l[2]) * (size_t)n);
    for (i = 0; buf && one[0] && one[1] && one[2] && i < n; i++) {
        memcpy(buf + len, one[i % 3], l[i % 3]);
        len += l[i % 3];
    }
    free(one[0]);
    free(one[1]);
    free(one[2]);
    *answered = *errs = 0;
    if (!buf || i < n || fl_conn_open(&rc, port, 0) < 0) {
        free(buf);
        return -1;
    }
    if (fl_send_all(rc.fd, buf, len) == 0) {
        for (i = 0; i < n; i++) {
            redisReply *r = fl_conn_next(&rc, deadline_ms);

            if (!r)
                break;
            ++*answered;
            *errs += r->type == REDIS_REPLY_ERROR &&
                     (strcmp(r->str, "ERR upstream timeout") == 0 ||
                      strcmp(r->str, "ERR upstream unavailable") == 0);
            freeReplyObject(r);
        }
    }
    fl_conn_close(&rc);
    free(buf);
    return 0;
}

START_TEST(test_upstream_never_answers)
{
    int stats = h_free_port(), round, answered, errs;
    int total = 0, total_answered = 0, total_errs = 0;
    redisContext *c;
    redisReply *r;
    long long t0, first_ms, batch_ms, worst_ms = 0;
    long long rss0, rss1;

    /* invalidation off: GETs run real fills (PTTL + GET) on the pool */
    ck_assert_int_eq(fake_start(&fake_up, FAKE_SILENT), 0);
    ck_assert_int_eq(fl_corral_up(&w.corral, fake_up.port, stats,
                                  "  timeout: 500ms\n",
                                  "cache:\n  invalidation: none\n", 0), 0);
    /* some shared connection is up (connected, nothing answered yet) */
    ck_assert(h_wait_until(healthy, &stats, WAIT_MS));

    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    t0 = h_now_ms();
    r = redisCommand(c, "PING");
    first_ms = h_now_ms() - t0;
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq(r->str, "ERR upstream timeout");
    freeReplyObject(r);
    redisFree(c);
    ck_assert_int_ge(first_ms, 400);
    ck_assert_int_le(first_ms, 2000);

    rss0 = h_rss_kb(w.corral.pid);
    for (round = 0; round < 5; round++) {
        t0 = h_now_ms();
        ck_assert_int_eq(pipeline_errors(w.corral.port, 100, t0 + 5000,
                                         &answered, &errs), 0);
        batch_ms = h_now_ms() - t0;
        if (batch_ms > worst_ms)
            worst_ms = batch_ms;
        total += 100;
        total_answered += answered;
        total_errs += errs;
        ck_assert_int_eq(answered, 100);
        ck_assert_int_eq(errs, 100);
        ck_assert_int_le(batch_ms, 2000);
    }
    rss1 = h_rss_kb(w.corral.pid);
    printf("faults: upstream never answers: sent=%d answered=%d errors=%d "
           "lost=%d first_error_ms=%lld worst_batch_ms=%lld "
           "rss_kb=%lld->%lld\n",
           1 + total, 1 + total_answered, 1 + total_errs,
           total - total_answered, first_ms, worst_ms, rss0, rss1);
    fflush(stdout);
    ck_assert_int_gt(rss0, 0);
    ck_assert_int_lt(rss1 - rss0, 20 * 1024);
    ck_assert(fl_running(&w.corral));
}
END_TEST

/* ---- 4. upstream that answers garbage ---- */

static int pong(void *arg)
{
    redisContext *c = h_connect(*(int *)arg);
    redisReply *r;
    int ok;

    if (!c)
        return 0;
    r = redisCommand(c, "PING");
    ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

START_TEST(test_upstream_garbage)
{
    int stats = h_free_port(), i, errs = 0, pongs = 0;
    redisContext *c;

    ck_assert_int_eq(fake_start(&fake_up, FAKE_GARBAGE), 0);
    ck_assert_int_eq(fl_corral_up(&w.corral, fake_up.port, stats, NULL,
                                  "cache:\n  invalidation: none\n", 0), 0);
    ck_assert(h_wait_until(healthy, &stats, WAIT_MS));
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    for (i = 0; i < 20; i++) {
        redisReply *r = redisCommand(c, i % 2 ? "GET faults:k" : "PING");

        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
        ck_assert_int_eq(strncmp(r->str, "ERR upstream", 12), 0);
        errs++;
        freeReplyObject(r);
    }
    ck_assert(fl_running(&w.corral));

    __atomic_store_n(&fake_up.mode, FAKE_PONG, __ATOMIC_SEQ_CST);
    ck_assert(h_wait_until(pong, &w.corral.port, 5000));
    for (i = 0; i < 20; i++) {
        ck_assert(h_cmd_is(c, "PONG", "PING"));
        pongs++;
    }
    printf("faults: upstream answers garbage: sent=%d answered=%d "
           "errors=%d (while garbage) pongs=%d (after repair) lost=0\n",
           errs + pongs, errs + pongs, errs, pongs);
    fflush(stdout);
    redisFree(c);
    ck_assert(fl_running(&w.corral));
}
END_TEST

static Suite *faults_upstream_suite(void)
{
    Suite *s = suite_create("faults_upstream");
    TCase *tc = tcase_create("faults_upstream");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_upstream_killed_mid_pipeline);
    tcase_add_test(tc, test_upstream_restarted);
    tcase_add_test(tc, test_upstream_never_answers);
    tcase_add_test(tc, test_upstream_garbage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fl_run(faults_upstream_suite());
}
