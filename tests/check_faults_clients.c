/*
 * check_faults_clients.c — integration tests of corral against hostile
 * clients: clients that never read (clients.output_limit), 10,000 idle
 * connections, clients that send half a request and stall, clients.max,
 * a storm of connects and closes, and a client pipelining far past the
 * pending limit. The faults of the upstream are in
 * check_faults_upstream.c; the tests are numbered on from there.
 *
 * Every test prints its counts (requests sent, answered, errors, lost) on
 * one line starting "faults:". Every wait has a deadline; all traffic stays
 * on 127.0.0.1.
 */
#include <check.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faultlib.h"
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

/* Read from fd until EOF or a reset, for at most ms. Returns 1 when the
 * connection ended (EOF or reset) in time; *bytes counts what was read. */
static int read_to_end(int fd, long long ms, long long *bytes)
{
    long long end = h_now_ms() + ms;
    static char buf[65536];

    *bytes = 0;
    while (h_now_ms() < end) {
        ssize_t n;

        if (!fl_wait_readable(fd, end - h_now_ms()))
            continue;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
        if (n < 0 && errno != EINTR)
            return 0;
        if (n > 0)
            *bytes += n;
    }
    return 0;
}

/* The soft RLIMIT_NOFILE of pid, from /proc, or -1. */
static long nofile_of(pid_t pid)
{
    char path[64], line[256];
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/limits", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Max open files %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

struct metric_want {
    int port;
    const char *name;
    long long value;
    int at_least;               /* >= value rather than == value */
};

static int metric_is(void *arg)
{
    struct metric_want *m = arg;
    long long v = h_metric(m->port, m->name);

    return m->at_least ? v >= m->value : v == m->value;
}

/* ---- 5. slow client that never reads ---- */

/* A client pipelines 100 GETs of a 512 KB value and never reads; corral
 * (clients.output_limit: 1mb plus extra) must drop it. */
static void slow_client(const char *extra, const char *label)
{
    int stats = h_free_port(), fd;
    redisContext *c;
    redisReply *r;
    struct metric_want m;
    size_t vlen = 512 * 1024, len;
    char *value = malloc(vlen + 1), *buf, yaml[256];
    const char *argv[2] = { "GET", "faults:big" };
    long long got;
    long long rss0, rss1;

    ck_assert_ptr_nonnull(value);
    memset(value, 'v', vlen);
    value[vlen] = '\0';
    snprintf(yaml, sizeof(yaml), "clients:\n  output_limit: 1mb\n%s", extra);
    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(fl_corral_up(&w.corral, w.redis.port, stats, NULL, yaml,
                                  1), 0);
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    r = redisCommand(c, "SET faults:big %b", value, vlen);
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    rss0 = h_rss_kb(w.corral.pid);

    buf = fl_repeat_cmd(100, &len, 2, argv);
    ck_assert_ptr_nonnull(buf);
    fd = fl_tcp_connect(w.corral.port, 4096);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fl_send_all(fd, buf, len), 0);
    free(buf);
    m.port = stats;
    m.name = "corral_output_limit_disconnects_total";
    m.value = 1;
    m.at_least = 0;
    ck_assert(h_wait_until(metric_is, &m, WAIT_MS));
    rss1 = h_rss_kb(w.corral.pid);

    /* another client is unaffected */
    r = redisCommand(c, "GET faults:big");
    ck_assert(r && r->type == REDIS_REPLY_STRING && r->len == vlen &&
              memcmp(r->str, value, vlen) == 0);
    freeReplyObject(r);
    ck_assert(h_cmd_is(c, "PONG", "PING"));

    /* the slow one finds its connection closed when it finally reads */
    ck_assert(read_to_end(fd, 5000, &got));
    close(fd);
    printf("faults: slow client (%s): sent=100 GETs of 512 KB, received %lld "
           "of %ld bytes before the disconnect, rss_kb=%lld->%lld\n",
           label, got, 100L * (long)(vlen + 16), rss0, rss1);
    fflush(stdout);
    ck_assert_int_lt(got, 100L * (long)vlen);
    ck_assert_int_lt(rss1 - rss0, 50 * 1024);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    redisFree(c);
    free(value);
    ck_assert(fl_running(&w.corral));
}

START_TEST(test_slow_client_output_limit)
{
    slow_client("", "cache hits");
}
END_TEST

/* The same with every GET going upstream: the replies still in flight
 * when the client is dropped arrive for a client that is gone. */
START_TEST(test_slow_client_output_limit_upstream)
{
    slow_client("cache:\n  enabled: false\nlease:\n  enabled: false\n",
                "pass-through");
}
END_TEST

/* ---- 6. 10,000 idle connections ---- */

#define T6_IDLE 9999            /* + the normal client = clients.max */

START_TEST(test_ten_thousand_idle)
{
    struct rlimit rl;
    /* each process holds one end of every connection: the test and corral
       need 10,000 descriptors each, plus some */
    rlim_t need = T6_IDLE + 512;
    int stats = h_free_port(), i, *fds, opened = 0;
    struct metric_want m;
    redisContext *c;
    long long rss0, rss1;
    long long t0, ping_ms;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max < need) {
        /* root may raise the hard limit */
        struct rlimit up = { need, need };

        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    if (rl.rlim_max < need) {
        printf("faults: 10,000 idle connections: SKIPPED, RLIMIT_NOFILE hard "
               "limit %lu < %lu\n", (unsigned long)rl.rlim_max,
               (unsigned long)need);
        fflush(stdout);
        return;
    }
    rl.rlim_cur = rl.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    fds = malloc(T6_IDLE * sizeof(*fds));
    ck_assert_ptr_nonnull(fds);

    /* corral inherits the raised limit */
    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(fl_corral_up(&w.corral, w.redis.port, stats, NULL, NULL,
                                  1), 0);
    ck_assert_int_ge(nofile_of(w.corral.pid), (long)need);
    rss0 = h_rss_kb(w.corral.pid);
    t0 = h_now_ms();
    for (i = 0; i < T6_IDLE; i++) {
        fds[i] = fl_tcp_connect(w.corral.port, 0);
        if (fds[i] < 0)
            break;
        opened++;
    }
    ck_assert_int_eq(opened, T6_IDLE);
    m.port = stats;
    m.name = "corral_client_connections";
    m.value = T6_IDLE;
    m.at_least = 0;
    ck_assert(h_wait_until(metric_is, &m, 20000));
    rss1 = h_rss_kb(w.corral.pid);

    t0 = h_now_ms() - t0;
    ping_ms = h_now_ms();
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ping_ms = h_now_ms() - ping_ms;
    printf("faults: 10,000 idle connections: opened=%d in %lld ms, normal "
           "client connect+PING %lld ms, rss_kb=%lld->%lld (%lld bytes per "
           "idle connection), corral's open-file limit %ld\n",
           opened + 1, t0, ping_ms, rss0, rss1,
           (rss1 - rss0) * 1024 / T6_IDLE, nofile_of(w.corral.pid));
    fflush(stdout);
    ck_assert_int_le(ping_ms, 100);
    redisFree(c);
    for (i = 0; i < opened; i++) {
        /* a reset rather than a FIN: leaves no 10,000 ports in TIME_WAIT */
        struct linger lg = { 1, 0 };

        setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fds[i]);
    }
    free(fds);
    m.value = 0;
    ck_assert(h_wait_until(metric_is, &m, WAIT_MS));
    ck_assert(fl_running(&w.corral));
}
END_TEST

/* ---- 7. clients that send half a request and stall ---- */

#define T7_HALF 100

START_TEST(test_half_requests)
{
    static const char half[] = "*3\r\n$3\r\nSET\r\n$1\r\nk";
    int fds[T7_HALF], i, closed = 0;
    long long t0, latest = 0, earliest = -1;
    redisContext *c;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(fl_corral_up(&w.corral, w.redis.port, 0, NULL,
                                  "clients:\n  idle_timeout: 1s\n", 1), 0);
    t0 = h_now_ms();
    for (i = 0; i < T7_HALF; i++) {
        fds[i] = fl_tcp_connect(w.corral.port, 0);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(fl_send_all(fds[i], half, sizeof(half) - 1), 0);
    }
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "OK", "SET faults:half whole"));
    ck_assert(h_cmd_is(c, "whole", "GET faults:half"));
    redisFree(c);

    for (i = 0; i < T7_HALF; i++) {
        char b[16];
        ssize_t n = -1;

        if (fl_wait_readable(fds[i], t0 + 3000 - h_now_ms()))
            n = recv(fds[i], b, sizeof(b), 0);
        if (n == 0) {
            long long at = h_now_ms() - t0;

            closed++;
            if (at > latest)
                latest = at;
            if (earliest < 0 || at < earliest)
                earliest = at;
        }
        close(fds[i]);
    }
    printf("faults: half requests: clients=%d disconnected=%d (first after "
           "%lld ms, last after %lld ms)\n", T7_HALF, closed, earliest,
           latest);
    fflush(stdout);
    ck_assert_int_eq(closed, T7_HALF);
    ck_assert_int_ge(earliest, 900);
    ck_assert_int_le(latest, 3000);
    ck_assert(fl_running(&w.corral));
}
END_TEST

/* ---- 8. clients.max reached ---- */

START_TEST(test_max_clients)
{
    static const char want[] = "-ERR max number of clients reached\r\n";
    redisContext *c[10], *again;
    char buf[128];
    size_t got = 0;
    long long end;
    int i, fd, eof = 0, tries = 0;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(fl_corral_up(&w.corral, w.redis.port, 0, NULL,
                                  "clients:\n  max: 10\n", 1), 0);
    for (i = 0; i < 10; i++) {
        c[i] = h_connect(w.corral.port);
        ck_assert_ptr_nonnull(c[i]);
        ck_assert(h_cmd_is(c[i], "PONG", "PING"));
    }
    fd = fl_tcp_connect(w.corral.port, 0);
    ck_assert_int_ge(fd, 0);
    end = h_now_ms() + 3000;
    while (!eof && got < sizeof(buf) - 1 && h_now_ms() < end) {
        ssize_t n;

        if (!fl_wait_readable(fd, end - h_now_ms()))
            continue;
        n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            eof = 1;
        else
            got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    ck_assert_str_eq(buf, want);
    ck_assert(eof);

    /* the ten are still served */
    for (i = 0; i < 10; i++)
        ck_assert(h_cmd_is(c[i], "PONG", "PING"));
    /* once one leaves, a new client is accepted (as soon as corral has
       seen the close) */
    redisFree(c[0]);
    end = h_now_ms() + 3000;
    for (again = NULL; !again && h_now_ms() < end;) {
        redisReply *r;

        again = h_connect(w.corral.port);
        ck_assert_ptr_nonnull(again);
        r = redisCommand(again, "PING");
        if (!r || r->type != REDIS_REPLY_STATUS ||
            strcmp(r->str, "PONG") != 0) {
            redisFree(again);
            again = NULL;
            tries++;
            poll(NULL, 0, 5);
        }
        if (r)
            freeReplyObject(r);
    }
    ck_assert_ptr_nonnull(again);
    printf("faults: clients.max: 10 served, the 11th refused with the "
           "error and closed, a new one accepted after one left (%d refused "
           "tries while corral saw the close)\n", tries);
    fflush(stdout);
    redisFree(again);
    for (i = 1; i < 10; i++)
        redisFree(c[i]);
}
END_TEST

/* ---- 9. connection storm ---- */

#define T9_THREADS 4
#define T9_LOOPS 500

struct t9_worker {
    int port, connected, pinged, failed;
};

static void *t9_main(void *arg)
{
    struct t9_worker *t = arg;
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    int i;

    for (i = 0; i < T9_LOOPS; i++) {
        int fd = fl_tcp_connect(t->port, 0);

        if (fd < 0) {
            t->failed++;
            continue;
        }
        t->connected++;
        if (i % 2 == 0) {
            char b[16];
            ssize_t n = -1;

            if (fl_send_all(fd, ping, sizeof(ping) - 1) == 0 &&
                fl_wait_readable(fd, 5000))
                n = recv(fd, b, sizeof(b), 0);
            if (n == 7 && memcmp(b, "+PONG\r\n", 7) == 0) {
                t->pinged++;
            } else {
                t->failed++;
                fprintf(stderr, "storm: PING %d: %zd bytes '%.*s' (%s)\n", i,
                        n, n > 0 ? (int)n : 0, b, strerror(errno));
            }
        }
        if (i % 4 == 3) {
            /* close with a reset rather than a FIN */
            struct linger lg = { 1, 0 };

            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(fd);
    }
    return NULL;
}

START_TEST(test_connection_storm)
{
    struct t9_worker t[T9_THREADS];
    pthread_t th[T9_THREADS];
    int stats = h_free_port(), i, connected = 0, pinged = 0, failed = 0;
    struct metric_want m;
    long long rss0, rss1;
    long long t0;
    redisContext *c;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(fl_corral_up(&w.corral, w.redis.port, stats, NULL, NULL,
                                  1), 0);
    rss0 = h_rss_kb(w.corral.pid);
    t0 = h_now_ms();
    for (i = 0; i < T9_THREADS; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        t[i].port = w.corral.port;
        ck_assert_int_eq(pthread_create(&th[i], NULL, t9_main, &t[i]), 0);
    }
    for (i = 0; i < T9_THREADS; i++) {
        pthread_join(th[i], NULL);
        connected += t[i].connected;
        pinged += t[i].pinged;
        failed += t[i].failed;
    }
    t0 = h_now_ms() - t0;
    m.port = stats;
    m.name = "corral_client_connections";
    m.value = 0;
    m.at_least = 0;
    ck_assert(h_wait_until(metric_is, &m, 5000));
    m.name = "corral_client_connections_total";
    m.value = T9_THREADS * T9_LOOPS;
    m.at_least = 1;
    ck_assert(metric_is(&m));
    rss1 = h_rss_kb(w.corral.pid);
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    redisFree(c);
    printf("faults: connection storm: connections=%d in %lld ms, pings "
           "sent=%d answered=%d failed=%d, open afterwards=0, "
           "rss_kb=%lld->%lld\n", connected, t0, T9_THREADS * T9_LOOPS / 2,
           pinged, failed, rss0, rss1);
    fflush(stdout);
    ck_assert_int_eq(connected, T9_THREADS * T9_LOOPS);
    ck_assert_int_eq(pinged, T9_THREADS * T9_LOOPS / 2);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_lt(rss1 - rss0, 20 * 1024);
    ck_assert(fl_running(&w.corral));
}
END_TEST

/* ---- 10. a client pipelining far past the pending limit ---- */

#define T10_REQS 50000
#define T10_KEYLEN 1000         /* 50,000 requests of ~1 KB: 51 MB, more
                                   than the kernel's socket buffers hold */

struct t10_writer {
    int fd;
    const char *buf;
    size_t len;
    size_t sent;                /* atomic */
    int err;
};

static void *t10_main(void *arg)
{
    struct t10_writer *t = arg;

    while (t->sent < t->len) {
        size_t chunk = t->len - t->sent < 65536 ? t->len - t->sent : 65536;
        ssize_t n = send(t->fd, t->buf + t->sent, chunk, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            t->err = errno;
            break;
        }
        __atomic_add_fetch(&t->sent, (size_t)n, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

START_TEST(test_pipeline_past_pending_limit)
{
    static char key[T10_KEYLEN + 1];
    const char *argv[2] = { "INCR", key };
    struct t10_writer t;
    pthread_t th;
    struct fl_conn rc;
    struct timeval tv = { 20, 0 };
    size_t last, stalled_at;
    long long end, still_since, i, answered = 0, in_order = 0;
    long long rss0, rss_stalled, rss_max;
    int sndbuf = 65536;
    char *buf;
    redisContext *r;

    memset(key, 'k', T10_KEYLEN);
    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(fl_corral_up(&w.corral, w.redis.port, 0,
                                  "  timeout: 30s\n", NULL, 1), 0);
    memset(&t, 0, sizeof(t));
    buf = fl_repeat_cmd(T10_REQS, &t.len, 2, argv);
    ck_assert_ptr_nonnull(buf);
    t.buf = buf;
    ck_assert_int_eq(fl_conn_open(&rc, w.corral.port, 0), 0);
    setsockopt(rc.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    setsockopt(rc.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    t.fd = rc.fd;
    rss0 = h_rss_kb(w.corral.pid);

    /* with Redis stopped nothing is answered: corral must stop reading the
       client once CLIENT_MAX_PENDING requests wait, so the write stalls */
    ck_assert_int_eq(kill(w.redis.pid, SIGSTOP), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, t10_main, &t), 0);
    end = h_now_ms() + 5000;
    last = 0;
    still_since = h_now_ms();
    while (h_now_ms() < end && h_now_ms() - still_since < 500) {
        size_t s = __atomic_load_n(&t.sent, __ATOMIC_SEQ_CST);

        if (s != last) {
            last = s;
            still_since = h_now_ms();
        }
        fl_wait_readable(rc.fd, 20);      /* a pause; nothing is read */
    }
    stalled_at = __atomic_load_n(&t.sent, __ATOMIC_SEQ_CST);
    rss_stalled = h_rss_kb(w.corral.pid);
    ck_assert_int_eq(kill(w.redis.pid, SIGCONT), 0);
    pthread_join(th, NULL);
    rss_max = h_rss_kb(w.corral.pid);
    if (rss_stalled > rss_max)
        rss_max = rss_stalled;
    ck_assert_int_eq(t.err, 0);
    ck_assert_uint_eq(t.sent, t.len);

    /* now read: every reply, in order */
    end = h_now_ms() + 30000;
    for (i = 0; i < T10_REQS; i++) {
        redisReply *rep = fl_conn_next(&rc, end);

        if (!rep)
            break;
        answered++;
        in_order += rep->type == REDIS_REPLY_INTEGER && rep->integer == i + 1;
        freeReplyObject(rep);
    }
    fl_conn_close(&rc);
    free(buf);
    r = h_connect(w.redis.port);
    ck_assert_ptr_nonnull(r);
    i = fl_get_number(r, key);
    redisFree(r);
    printf("faults: pipeline past the pending limit: sent=%d answered=%lld "
           "in_order=%lld errors=%lld lost=%lld; while Redis was stopped the "
           "client's write stalled at %zu of %zu bytes; counter=%lld; "
           "rss_kb=%lld->%lld\n",
           T10_REQS, answered, in_order, answered - in_order,
           T10_REQS - answered, stalled_at, t.len, i, rss0, rss_max);
    fflush(stdout);
    ck_assert_uint_lt(stalled_at, t.len / 2);
    ck_assert_int_eq(answered, T10_REQS);
    ck_assert_int_eq(in_order, T10_REQS);
    ck_assert_int_eq(i, T10_REQS);
    ck_assert_int_lt(rss_max - rss0, 50 * 1024);
}
END_TEST

static Suite *faults_clients_suite(void)
{
    Suite *s = suite_create("faults_clients");
    TCase *tc = tcase_create("faults_clients");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_slow_client_output_limit);
    tcase_add_test(tc, test_slow_client_output_limit_upstream);
    tcase_add_test(tc, test_ten_thousand_idle);
    tcase_add_test(tc, test_half_requests);
    tcase_add_test(tc, test_max_clients);
    tcase_add_test(tc, test_connection_storm);
    tcase_add_test(tc, test_pipeline_past_pending_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fl_run(faults_clients_suite());
}
