/*
 * check_faults.c — integration tests of corral under faults and hostile
 * clients: the upstream killed mid-pipeline and restarted, an upstream that
 * never answers or answers garbage, clients that never read, that send half
 * a request, that open thousands of connections or connect and close in a
 * storm, clients.max, and a client pipelining far past the pending limit.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The processes of one test, at file scope so that the atexit handler finds
 * them: a failed assertion ends the test process, and its children must not
 * outlive it. */
static struct {
    struct proc redis, corral;
    struct fake fake;
} w;

static void fake_stop(struct fake *f);

static void kill_children(void)
{
    struct proc *ps[] = { &w.corral, &w.redis };
    size_t i;

    for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        if (ps[i]->pid > 0) {
            kill(ps[i]->pid, SIGKILL);
            waitpid(ps[i]->pid, NULL, 0);
            ps[i]->pid = 0;
        }
    }
    fake_stop(&w.fake);
}

static void setup(void)
{
    static int registered;

    memset(&w, 0, sizeof(w));
    w.fake.lfd = -1;
    if (!registered && atexit(kill_children) == 0)
        registered = 1;
}

static void teardown(void)
{
    kill_children();
}

/* ---- sockets ---- */

/* A blocking TCP connection to 127.0.0.1:port, or -1. rcvbuf > 0 sets a
 * small receive buffer before connecting. */
static int tcp_connect(int port, int rcvbuf)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Wait up to ms for fd to become readable. 1 when it did. */
static int wait_readable(int fd, long long ms)
{
    struct pollfd p = { fd, POLLIN, 0 };

    if (ms < 0)
        ms = 0;
    return poll(&p, 1, (int)ms) == 1;
}

/* Read from fd until EOF or a reset, for at most ms. Returns 1 when the
 * connection ended (EOF or reset) in time; *bytes counts what was read. */
static int read_to_end(int fd, long long ms, long long *bytes)
{
    long long end = h_now_ms() + ms;
    static char buf[65536];

    *bytes = 0;
    while (h_now_ms() < end) {
        ssize_t n;

        if (!wait_readable(fd, end - h_now_ms()))
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

/* A raw connection with a RESP reply reader. */
struct rconn {
    int fd;
    redisReader *rd;
    int eof;                    /* EOF or reset seen */
};

static int rconn_open(struct rconn *rc, int port, int rcvbuf)
{
    rc->eof = 0;
    rc->fd = tcp_connect(port, rcvbuf);
    rc->rd = rc->fd >= 0 ? redisReaderCreate() : NULL;
    if (rc->fd >= 0 && !rc->rd) {
        close(rc->fd);
        rc->fd = -1;
    }
    return rc->fd >= 0 ? 0 : -1;
}

static void rconn_close(struct rconn *rc)
{
    if (rc->fd >= 0)
        close(rc->fd);
    if (rc->rd)
        redisReaderFree(rc->rd);
    rc->fd = -1;
    rc->rd = NULL;
}

/* The next reply, or NULL at the deadline, on EOF or on a protocol error.
 * The caller frees it. */
static redisReply *rconn_next(struct rconn *rc, long long deadline_ms)
{
    char buf[16384];            /* per call: clients run in threads */

    for (;;) {
        void *r = NULL;
        ssize_t n;

        if (redisReaderGetReply(rc->rd, &r) != REDIS_OK)
            return NULL;
        if (r)
            return r;
        if (rc->eof || !wait_readable(rc->fd, deadline_ms - h_now_ms()))
            return NULL;
        n = recv(rc->fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc->eof = 1;
            return NULL;
        }
        if (redisReaderFeed(rc->rd, buf, (size_t)n) != REDIS_OK)
            return NULL;
    }
}

/* A buffer of n copies of one command in RESP. NULL when out of memory. */
static char *repeat_cmd(int n, size_t *len, int argc, const char **argv)
{
    char one[4096];
    size_t l = 0, i;
    char *buf;
    int a;

    l += (size_t)snprintf(one + l, sizeof(one) - l, "*%d\r\n", argc);
    for (a = 0; a < argc; a++)
        l += (size_t)snprintf(one + l, sizeof(one) - l, "$%zu\r\n%s\r\n",
                              strlen(argv[a]), argv[a]);
    if (l >= sizeof(one))
        return NULL;
    buf = malloc(l * (size_t)n + 1);
    if (!buf)
        return NULL;
    for (i = 0; i < (size_t)n; i++)
        memcpy(buf + i * l, one, l);
    *len = l * (size_t)n;
    return buf;
}

/* A decimal string value of a key (as INCR leaves it), or -1 when absent
 * or not a number. */
static long long get_number(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "GET %s", key);
    long long v = -1;

    if (r && r->type == REDIS_REPLY_STRING)
        v = atoll(r->str);
    if (r)
        freeReplyObject(r);
    return v;
}

/* ---- processes ---- */

/* VmRSS of pid in kB, or -1. */
static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
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

/* Is our child p still running (not exited, not a zombie)? */
static int running(struct proc *p)
{
    int status;

    return p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == 0;
}

static int port_ready(void *arg)
{
    int fd = tcp_connect(*(int *)arg, 0);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* Start corral in front of 127.0.0.1:upstream_port. up_extra: more lines of
 * the upstream section ("  timeout: 500ms\n"); extra: more top-level YAML.
 * stats_port > 0 enables the stats port. With pong set, waits until PING
 * answers PONG; otherwise only until the port accepts. 0 when ready. */
static int corral_up(struct proc *p, int upstream_port, int stats_port,
                     const char *up_extra, const char *extra, int pong)
{
    char yaml[2048], stats[64];
    int port = h_free_port();

    if (stats_port > 0)
        snprintf(stats, sizeof(stats), "127.0.0.1:%d", stats_port);
    else
        snprintf(stats, sizeof(stats), "\"\"");
    snprintf(yaml, sizeof(yaml),
             "listen: 127.0.0.1:%d\nupstream:\n  address: 127.0.0.1:%d\n%s"
             "stats:\n  listen: %s\nlog:\n  level: warn\n%s",
             port, upstream_port, up_extra ? up_extra : "", stats,
             extra ? extra : "");
    if (h_corral_spawn(p, port, yaml) < 0)
        return -1;
    if (!h_wait_until(port_ready, &p->port, WAIT_MS))
        return -1;
    if (pong && !h_wait_pong(p->port, WAIT_MS))
        return -1;
    return 0;
}

/* ---- the stats port ---- */

/* The body of GET path on the stats port into buf; the HTTP status, or -1. */
static int http_get(int port, const char *path, char *buf, size_t len)
{
    struct rconn rc;
    char req[256];
    size_t got = 0;
    long long end = h_now_ms() + 3000;
    int status = -1;

    if (rconn_open(&rc, port, 0) < 0)
        return -1;
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    if (send_all(rc.fd, req, strlen(req)) == 0) {
        while (got + 1 < len && h_now_ms() < end) {
            ssize_t n;

            if (!wait_readable(rc.fd, end - h_now_ms()))
                continue;
            n = recv(rc.fd, buf + got, len - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    }
    buf[got] = '\0';
    rconn_close(&rc);
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

/* A metric's value from /metrics (first sample with exactly that name), or
 * -1. */
static long long metric(int stats_port, const char *name)
{
    static char buf[1 << 17];
    size_t nl = strlen(name);
    const char *p;

    if (http_get(stats_port, "/metrics", buf, sizeof(buf)) != 200)
        return -1;
    for (p = buf; (p = strstr(p, name)) != NULL; p += nl) {
        if ((p == buf || p[-1] == '\n') && p[nl] == ' ')
            return atoll(p + nl + 1);
    }
    return -1;
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
    long long v = metric(m->port, m->name);

    return m->at_least ? v >= m->value : v == m->value;
}

static int healthy(void *arg)
{
    char buf[4096];

    return http_get(*(int *)arg, "/healthz", buf, sizeof(buf)) == 200;
}

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
        if (send_all(f->fds[i], ans, strlen(ans)) < 0) {
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

/* ---- 1. upstream killed mid-pipeline ---- */

/*
 * Two kills, each followed by a restart:
 *   stopped  Redis has answered each client's first T1_FIRST INCRs; it is
 *            stopped (SIGSTOP), the clients pipeline the rest, and it is
 *            killed: those requests were surely in flight;
 *   flowing  on the restarted Redis each client pipelines T1_REQS more, and
 *            Redis is killed while it is answering them.
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
    int ok;
};

/* Read n replies to INCRs on one key: integers continuing from *next, then
 * only "ERR upstream" errors. */
static void t1_read(struct t1_client *t, struct rconn *rc, int n,
                    long long *next)
{
    long long end = h_now_ms() + 20000;
    int i, seen_err = 0;

    for (i = 0; t->ok && i < n; i++) {
        redisReply *r = rconn_next(rc, end);

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
static void t1_echo(struct t1_client *t, struct rconn *rc)
{
    char marker[32], echo[96];
    redisReply *r;

    snprintf(marker, sizeof(marker), "marker-%d", t->idx);
    snprintf(echo, sizeof(echo), "*2\r\n$4\r\nECHO\r\n$%zu\r\n%s\r\n",
             strlen(marker), marker);
    if (!t->ok || send_all(rc->fd, echo, strlen(echo)) < 0)
        return;
    r = rconn_next(rc, h_now_ms() + 5000);
    t->echo_ok += r && r->type == REDIS_REPLY_STRING &&
                  strcmp(r->str, marker) == 0;
    if (r)
        freeReplyObject(r);
}

static void t1_send(struct t1_client *t, struct rconn *rc, const char *buf,
                    size_t len)
{
    if (t->ok && send_all(rc->fd, buf, len) < 0)
        t->ok = 0;
}

static void *t1_client_main(void *arg)
{
    struct t1_client *t = arg;
    struct rconn rc = { -1, NULL, 0 };
    char key[32];
    const char *argv[2] = { "INCR", key };
    size_t len = 0, one;
    char *buf;
    long long next = 1;

    snprintf(key, sizeof(key), "faults:incr:%d", t->idx);
    buf = repeat_cmd(T1_REQS, &len, 2, argv);
    t->ok = buf && rconn_open(&rc, t->port, 0) == 0;
    one = len / T1_REQS;
    /* stopped */
    t1_send(t, &rc, buf, one * T1_FIRST);
    pthread_barrier_wait(t->bar);       /* 1: main stops Redis */
    pthread_barrier_wait(t->bar);       /* 2: stopped */
    t1_send(t, &rc, buf + one * T1_FIRST, one * (T1_REQS - T1_FIRST));
    pthread_barrier_wait(t->bar);       /* 3: main kills Redis */
    t1_read(t, &rc, T1_REQS, &next);
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
    rconn_close(&rc);
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
        v = get_number(r, key);
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
    long int_after_err = 0, echo_ok = 0;
    long long end, done_at_kill = -1;
    int i, port, step;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    port = w.redis.port;
    ck_assert_int_eq(corral_up(&w.corral, port, 0, NULL, NULL, 1), 0);
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
            /* kill once a quarter of the pipelines has run */
            end = h_now_ms() + WAIT_MS;
            while ((done_at_kill = t1_total(port)) <
                       (long long)T1_CLIENTS * T1_REQS / 4 &&
                   h_now_ms() < end)
                continue;
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
    }
    pthread_barrier_destroy(&bar);
    printf("faults: upstream killed mid-pipeline (twice): sent=%d "
           "answered=%ld integers=%ld errors=%ld other=%ld lost=%ld "
           "duplicated=%ld out_of_sequence=%ld; second kill after %lld "
           "INCRs had run\n",
           2 * T1_CLIENTS * T1_REQS, answered, ints, errs, other,
           2L * T1_CLIENTS * T1_REQS - answered, 2L * T1_CLIENTS - echo_ok,
           bad_seq, done_at_kill);
    fflush(stdout);
    ck_assert_int_eq(answered, 2 * T1_CLIENTS * T1_REQS);
    ck_assert_int_eq(other, 0);
    ck_assert_int_eq(bad_seq, 0);
    ck_assert_int_eq(int_after_err, 0);
    /* (a reply Redis had written may die with it: an INCR that ran can
       still be answered with an error, so no tighter lower bound) */
    ck_assert_int_ge(ints, T1_CLIENTS * T1_FIRST);
    ck_assert_int_ge(errs, T1_CLIENTS * (T1_REQS - T1_FIRST));
    ck_assert_int_eq(echo_ok, 2 * T1_CLIENTS);
    ck_assert(running(&w.corral));
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
    ck_assert_int_eq(corral_up(&w.corral, port, 0, NULL, NULL, 1), 0);
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
    struct rconn rc;
    int i;

    memset(value, 'x', sizeof(value) - 1);
    one[0] = repeat_cmd(1, &l[0], 3, set);
    one[1] = repeat_cmd(1, &l[1], 2, get);
    one[2] = repeat_cmd(1, &l[2], 1, ping);
    buf = malloc((l[0] + l[1] + l[2]) * (size_t)n);
    for (i = 0; buf && one[0] && one[1] && one[2] && i < n; i++) {
        memcpy(buf + len, one[i % 3], l[i % 3]);
        len += l[i % 3];
    }
    free(one[0]);
    free(one[1]);
    free(one[2]);
    *answered = *errs = 0;
    if (!buf || i < n || rconn_open(&rc, port, 0) < 0) {
        free(buf);
        return -1;
    }
    if (send_all(rc.fd, buf, len) == 0) {
        for (i = 0; i < n; i++) {
            redisReply *r = rconn_next(&rc, deadline_ms);

            if (!r)
                break;
            ++*answered;
            *errs += r->type == REDIS_REPLY_ERROR &&
                     (strcmp(r->str, "ERR upstream timeout") == 0 ||
                      strcmp(r->str, "ERR upstream unavailable") == 0);
            freeReplyObject(r);
        }
    }
    rconn_close(&rc);
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
    long rss0, rss1;

    /* invalidation off: GETs run real fills (PTTL + GET) on the pool */
    ck_assert_int_eq(fake_start(&w.fake, FAKE_SILENT), 0);
    ck_assert_int_eq(corral_up(&w.corral, w.fake.port, stats,
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

    rss0 = rss_kb(w.corral.pid);
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
    rss1 = rss_kb(w.corral.pid);
    printf("faults: upstream never answers: sent=%d answered=%d errors=%d "
           "lost=%d first_error_ms=%lld worst_batch_ms=%lld "
           "rss_kb=%ld->%ld\n",
           1 + total, 1 + total_answered, 1 + total_errs,
           total - total_answered, first_ms, worst_ms, rss0, rss1);
    fflush(stdout);
    ck_assert_int_gt(rss0, 0);
    ck_assert_int_lt(rss1 - rss0, 20 * 1024);
    ck_assert(running(&w.corral));
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

    ck_assert_int_eq(fake_start(&w.fake, FAKE_GARBAGE), 0);
    ck_assert_int_eq(corral_up(&w.corral, w.fake.port, stats, NULL,
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
    ck_assert(running(&w.corral));

    __atomic_store_n(&w.fake.mode, FAKE_PONG, __ATOMIC_SEQ_CST);
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
    ck_assert(running(&w.corral));
}
END_TEST

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
    long rss0, rss1;

    ck_assert_ptr_nonnull(value);
    memset(value, 'v', vlen);
    value[vlen] = '\0';
    snprintf(yaml, sizeof(yaml), "clients:\n  output_limit: 1mb\n%s", extra);
    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(corral_up(&w.corral, w.redis.port, stats, NULL, yaml, 1),
                     0);
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    r = redisCommand(c, "SET faults:big %b", value, vlen);
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    rss0 = rss_kb(w.corral.pid);

    buf = repeat_cmd(100, &len, 2, argv);
    ck_assert_ptr_nonnull(buf);
    fd = tcp_connect(w.corral.port, 4096);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send_all(fd, buf, len), 0);
    free(buf);
    m.port = stats;
    m.name = "corral_output_limit_disconnects_total";
    m.value = 1;
    m.at_least = 0;
    ck_assert(h_wait_until(metric_is, &m, WAIT_MS));
    rss1 = rss_kb(w.corral.pid);

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
           "of %ld bytes before the disconnect, rss_kb=%ld->%ld\n",
           label, got, 100L * (long)(vlen + 16), rss0, rss1);
    fflush(stdout);
    ck_assert_int_lt(got, 100L * (long)vlen);
    ck_assert_int_lt(rss1 - rss0, 50 * 1024);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    redisFree(c);
    free(value);
    ck_assert(running(&w.corral));
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
    long rss0, rss1;
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
    ck_assert_int_eq(corral_up(&w.corral, w.redis.port, stats, NULL, NULL, 1),
                     0);
    ck_assert_int_ge(nofile_of(w.corral.pid), (long)need);
    rss0 = rss_kb(w.corral.pid);
    t0 = h_now_ms();
    for (i = 0; i < T6_IDLE; i++) {
        fds[i] = tcp_connect(w.corral.port, 0);
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
    rss1 = rss_kb(w.corral.pid);

    t0 = h_now_ms() - t0;
    ping_ms = h_now_ms();
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ping_ms = h_now_ms() - ping_ms;
    printf("faults: 10,000 idle connections: opened=%d in %lld ms, normal "
           "client connect+PING %lld ms, rss_kb=%ld->%ld (%ld bytes per idle "
           "connection), corral's open-file limit %ld\n",
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
    ck_assert(running(&w.corral));
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
    ck_assert_int_eq(corral_up(&w.corral, w.redis.port, 0, NULL,
                               "clients:\n  idle_timeout: 1s\n", 1), 0);
    t0 = h_now_ms();
    for (i = 0; i < T7_HALF; i++) {
        fds[i] = tcp_connect(w.corral.port, 0);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(send_all(fds[i], half, sizeof(half) - 1), 0);
    }
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "OK", "SET faults:half whole"));
    ck_assert(h_cmd_is(c, "whole", "GET faults:half"));
    redisFree(c);

    for (i = 0; i < T7_HALF; i++) {
        char b[16];
        ssize_t n = -1;

        if (wait_readable(fds[i], t0 + 3000 - h_now_ms()))
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
    ck_assert(running(&w.corral));
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
    ck_assert_int_eq(corral_up(&w.corral, w.redis.port, 0, NULL,
                               "clients:\n  max: 10\n", 1), 0);
    for (i = 0; i < 10; i++) {
        c[i] = h_connect(w.corral.port);
        ck_assert_ptr_nonnull(c[i]);
        ck_assert(h_cmd_is(c[i], "PONG", "PING"));
    }
    fd = tcp_connect(w.corral.port, 0);
    ck_assert_int_ge(fd, 0);
    end = h_now_ms() + 3000;
    while (!eof && got < sizeof(buf) - 1 && h_now_ms() < end) {
        ssize_t n;

        if (!wait_readable(fd, end - h_now_ms()))
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
        int fd = tcp_connect(t->port, 0);

        if (fd < 0) {
            t->failed++;
            continue;
        }
        t->connected++;
        if (i % 2 == 0) {
            char b[16];
            ssize_t n = -1;

            if (send_all(fd, ping, sizeof(ping) - 1) == 0 &&
                wait_readable(fd, 5000))
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
    long rss0, rss1;
    long long t0;
    redisContext *c;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(corral_up(&w.corral, w.redis.port, stats, NULL, NULL, 1),
                     0);
    rss0 = rss_kb(w.corral.pid);
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
    rss1 = rss_kb(w.corral.pid);
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    redisFree(c);
    printf("faults: connection storm: connections=%d in %lld ms, pings "
           "sent=%d answered=%d failed=%d, open afterwards=0, "
           "rss_kb=%ld->%ld\n", connected, t0, T9_THREADS * T9_LOOPS / 2,
           pinged, failed, rss0, rss1);
    fflush(stdout);
    ck_assert_int_eq(connected, T9_THREADS * T9_LOOPS);
    ck_assert_int_eq(pinged, T9_THREADS * T9_LOOPS / 2);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_lt(rss1 - rss0, 20 * 1024);
    ck_assert(running(&w.corral));
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
    struct rconn rc;
    struct timeval tv = { 20, 0 };
    size_t last, stalled_at;
    long long end, still_since, i, answered = 0, in_order = 0;
    long rss0, rss_stalled, rss_max;
    int sndbuf = 65536;
    char *buf;
    redisContext *r;

    memset(key, 'k', T10_KEYLEN);
    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(corral_up(&w.corral, w.redis.port, 0,
                               "  timeout: 30s\n", NULL, 1), 0);
    memset(&t, 0, sizeof(t));
    buf = repeat_cmd(T10_REQS, &t.len, 2, argv);
    ck_assert_ptr_nonnull(buf);
    t.buf = buf;
    ck_assert_int_eq(rconn_open(&rc, w.corral.port, 0), 0);
    setsockopt(rc.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    setsockopt(rc.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    t.fd = rc.fd;
    rss0 = rss_kb(w.corral.pid);

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
        wait_readable(rc.fd, 20);      /* a pause; nothing is read */
    }
    stalled_at = __atomic_load_n(&t.sent, __ATOMIC_SEQ_CST);
    rss_stalled = rss_kb(w.corral.pid);
    ck_assert_int_eq(kill(w.redis.pid, SIGCONT), 0);
    pthread_join(th, NULL);
    rss_max = rss_kb(w.corral.pid);
    if (rss_stalled > rss_max)
        rss_max = rss_stalled;
    ck_assert_int_eq(t.err, 0);
    ck_assert_uint_eq(t.sent, t.len);

    /* now read: every reply, in order */
    end = h_now_ms() + 30000;
    for (i = 0; i < T10_REQS; i++) {
        redisReply *rep = rconn_next(&rc, end);

        if (!rep)
            break;
        answered++;
        in_order += rep->type == REDIS_REPLY_INTEGER && rep->integer == i + 1;
        freeReplyObject(rep);
    }
    rconn_close(&rc);
    free(buf);
    r = h_connect(w.redis.port);
    ck_assert_ptr_nonnull(r);
    i = get_number(r, key);
    redisFree(r);
    printf("faults: pipeline past the pending limit: sent=%d answered=%lld "
           "in_order=%lld errors=%lld lost=%lld; while Redis was stopped the "
           "client's write stalled at %zu of %zu bytes; counter=%lld; "
           "rss_kb=%ld->%ld\n",
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

/* A corral built with AddressSanitizer keeps freed memory in a quarantine
 * of up to 256 MB, which the memory bounds above would count as growth:
 * give the children a small one unless the caller chose a size. */
static void asan_small_quarantine(void)
{
    const char *cur = getenv("ASAN_OPTIONS");
    char opts[1024];

    if (cur && strstr(cur, "quarantine_size_mb"))
        return;
    snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=4", cur ? cur : "",
             cur && *cur ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
}

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_upstream_killed_mid_pipeline);
    tcase_add_test(tc, test_upstream_restarted);
    tcase_add_test(tc, test_upstream_never_answers);
    tcase_add_test(tc, test_upstream_garbage);
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
    SRunner *sr = srunner_create(faults_suite());
    int failed;

    signal(SIGPIPE, SIG_IGN);
    asan_small_quarantine();
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
