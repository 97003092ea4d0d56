/*
 * check_service_it.c — integration tests of corral running as a service:
 * sd_notify readiness, reload and stopping datagrams; SIGHUP reload (clients
 * kept, new rules applied, invalid files rejected, new listen and upstream
 * addresses); graceful and forced shutdown; the command line (-t, -V, -h,
 * --describe-stats).
 *
 * Every wait polls for an event (a datagram, a log line, a port state, a
 * counter) with a deadline; nothing sleeps for a fixed time.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 10000

#ifndef CORRAL_BIN
#define CORRAL_BIN "../src/corral"
#endif

/* The processes of one test. File scope because the atexit handler, which
 * takes no argument, must find them: a failed assertion ends the test
 * process, and its redis-server and corral children must not outlive it. */
static struct {
    struct proc redis, redis2, corral;
    int nfd;                    /* notification socket, or -1 */
    char npath[108];
} w;

static void kill_children(void)
{
    struct proc *ps[] = { &w.corral, &w.redis, &w.redis2 };
    size_t i;

    for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        if (ps[i]->pid > 0) {
            kill(ps[i]->pid, SIGKILL);
            waitpid(ps[i]->pid, NULL, 0);
            ps[i]->pid = 0;
        }
    }
    if (w.nfd >= 0) {
        close(w.nfd);
        unlink(w.npath);
        w.nfd = -1;
    }
}

static void setup(void)
{
    static int registered;

    memset(&w, 0, sizeof(w));
    w.nfd = -1;
    if (!registered && atexit(kill_children) == 0)
        registered = 1;
}

static void teardown(void)
{
    kill_children();
}

/* ---- helpers ---- */

/* Replace path's content with text, atomically (rename), so that corral
 * never reads half a file. */
static int file_put(const char *path, const char *text)
{
    char tmp[300];
    FILE *f;
    int ok;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) < 0)
        return -1;
    return 0;
}

/* The whole of a file, NUL-terminated, in buf; 0, or -1. */
static int file_get(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

/* A corral config in the harness's layout (stats_port 0: no stats port),
 * with extra YAML appended. */
static void conf_text(char *buf, size_t len, int listen_port, int upstream_port,
                      int stats_port, const char *extra)
{
    char stats[32] = "\"\"";

    if (stats_port > 0)
        snprintf(stats, sizeof(stats), "127.0.0.1:%d", stats_port);
    snprintf(buf, len,
             "listen: 127.0.0.1:%d\nupstream:\n  address: 127.0.0.1:%d\n"
             "stats:\n  listen: %s\n%s",
             listen_port, upstream_port, stats, extra ? extra : "");
}

static int conf_rewrite(struct proc *p, int listen_port, int upstream_port,
                        const char *extra)
{
    char text[2048];

    conf_text(text, sizeof(text), listen_port, upstream_port, 0, extra);
    return file_put(p->conf, text);
}

/* Occurrences of needle in the log of p. */
static int log_count(const struct proc *p, const char *needle)
{
    size_t len = 1 << 16;
    char *buf = malloc(len);
    const char *s = buf;
    int n = 0;

    if (buf && file_get(p->log, buf, len) == 0) {
        while ((s = strstr(s, needle))) {
            n++;
            s += strlen(needle);
        }
    }
    free(buf);
    return n;
}

struct log_wait {
    const struct proc *p;
    const char *needle;
    int count;
};

static int log_reached(void *arg)
{
    struct log_wait *lw = arg;

    return log_count(lw->p, lw->needle) >= lw->count;
}

/* Wait until the log of p holds needle at least count times. */
static int log_wait(const struct proc *p, const char *needle, int count)
{
    struct log_wait lw = { p, needle, count };

    return h_wait_until(log_reached, &lw, WAIT_MS);
}

/* Wait up to ms for p to exit, without signalling it. Returns its exit
 * status (128 + signal when killed), or -1 when it still runs. */
static int wait_exit(struct proc *p, int ms)
{
    long long end = h_now_ms() + ms;
    int status;

    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);

        if (r == p->pid)
            break;
        if (r < 0 || h_now_ms() > end)
            return -1;
        usleep(2000);
    }
    p->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int still_running(const struct proc *p)
{
    return p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == 0;
}

/* 1 when a TCP connect to the port is refused. */
static int port_refuses(void *arg)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), refused;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)*(int *)arg);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return 0;
    refused = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
              errno == ECONNREFUSED;
    close(fd);
    return refused;
}

static int port_accepts(void *arg)
{
    redisContext *c = h_connect(*(int *)arg);

    if (!c)
        return 0;
    redisFree(c);
    return 1;
}

/* How many GETs one GET of key through c caused on the upstream, or -1 when
 * the GET failed. */
static long long get_upstream_delta(redisContext *c, int redis_port,
                                    const char *key, const char *want)
{
    long long before = h_cmdstat(redis_port, "get");

    if (!h_cmd_is(c, want, "GET %s", key))
        return -1;
    return h_cmdstat(redis_port, "get") - before;
}

struct cached_arg {
    redisContext *c;
    int redis_port;
    const char *key, *want;
};

static int is_cached(void *arg)
{
    struct cached_arg *a = arg;

    return get_upstream_delta(a->c, a->redis_port, a->key, a->want) == 0;
}

/* Read key through c until corral answers it from its cache (the
 * invalidation channel comes up asynchronously after start). */
static int wait_cached(redisContext *c, int redis_port, const char *key,
                       const char *want)
{
    struct cached_arg a = { c, redis_port, key, want };

    return h_wait_until(is_cached, &a, WAIT_MS);
}

/* Run corral with args, its stdout and stderr in out. Returns its exit
 * status, or -1. */
static int run_corral(const char *const args[], char *out, size_t outlen)
{
    const char *bin = getenv("CORRAL_BIN") ? getenv("CORRAL_BIN") : CORRAL_BIN;
    char *argv[8];
    int pfd[2], status, i;
    size_t n = 0;
    long long end = h_now_ms() + WAIT_MS;
    pid_t pid;

    argv[0] = (char *)bin;
    for (i = 0; args[i] && i < 6; i++)
        argv[i + 1] = (char *)args[i];
    argv[i + 1] = NULL;
    if (pipe(pfd) < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        struct pollfd p = { pfd[0], POLLIN, 0 };
        long long left = end - h_now_ms();
        ssize_t r;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        r = read(pfd[0], out + n, outlen - 1 - n);
        if (r <= 0 || (n += (size_t)r) >= outlen - 1)
            break;
    }
    out[n] = '\0';
    close(pfd[0]);
    if (h_now_ms() > end)
        kill(pid, SIGKILL);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- sd_notify receiver ---- */

/* Bind the notification socket and point NOTIFY_SOCKET at it, for the
 * children started next. */
static int notify_listen(void)
{
    struct sockaddr_un sa;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(w.npath, sizeof(w.npath), "%s/notify.sock", h_tmpdir());
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", w.npath);
    unlink(w.npath);
    w.nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (w.nfd < 0 || bind(w.nfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    return setenv("NOTIFY_SOCKET", w.npath, 1);
}

/* 1 when the datagram d has the line exactly equal to line. */
static int has_line(const char *d, const char *line)
{
    size_t n = strlen(line);
    const char *s = d;

    while ((s = strstr(s, line))) {
        if ((s == d || s[-1] == '\n') && (s[n] == '\n' || s[n] == '\0'))
            return 1;
        s += n;
    }
    return 0;
}

/* Receive datagrams until one has the line want (e.g. "READY=1"), within
 * WAIT_MS. Each datagram with READY=1, RELOADING=1 or STOPPING=1 appends
 * 'R', 'L' or 'S' to seq; the matching datagram is left in d. Returns 1
 * when it came. */
static int notify_expect(const char *want, char *seq, size_t seqlen,
                         char *d, size_t dlen)
{
    long long end = h_now_ms() + WAIT_MS;

    for (;;) {
        struct pollfd p = { w.nfd, POLLIN, 0 };
        long long left = end - h_now_ms();
        ssize_t n;
        size_t k = strlen(seq);

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return 0;
        n = recv(w.nfd, d, dlen - 1, 0);
        if (n < 0)
            return 0;
        d[n] = '\0';
        if (k + 1 < seqlen) {
            if (has_line(d, "READY=1"))
                seq[k++] = 'R';
            if (has_line(d, "RELOADING=1"))
                seq[k++] = 'L';
            if (has_line(d, "STOPPING=1"))
                seq[k++] = 'S';
            seq[k] = '\0';
        }
        if (has_line(d, want))
            return 1;
    }
}

static long long mono_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- tests ---- */

START_TEST(test_notify_sequence)
{
    char seq[32] = "", d[600];
    const char *mono;
    long long before, after, usec;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(notify_listen(), 0);
    ck_assert_int_eq(h_corral_start(&w.corral, w.redis.port, 0, NULL), 0);
    unsetenv("NOTIFY_SOCKET");

    ck_assert(notify_expect("READY=1", seq, sizeof(seq), d, sizeof(d)));

    before = mono_usec();
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(notify_expect("RELOADING=1", seq, sizeof(seq), d, sizeof(d)));
    after = mono_usec();
    /* MONOTONIC_USEC is the reload's start on the shared monotonic clock */
    mono = strstr(d, "MONOTONIC_USEC=");
    ck_assert_ptr_nonnull(mono);
    ck_assert(mono == d || mono[-1] == '\n');
    usec = atoll(mono + strlen("MONOTONIC_USEC="));
    ck_assert_int_ge(usec, before);
    ck_assert_int_le(usec, after);
    ck_assert(notify_expect("READY=1", seq, sizeof(seq), d, sizeof(d)));

    ck_assert_int_eq(kill(w.corral.pid, SIGTERM), 0);
    ck_assert(notify_expect("STOPPING=1", seq, sizeof(seq), d, sizeof(d)));
    ck_assert_str_eq(seq, "RLRS");
    ck_assert_int_eq(wait_exit(&w.corral, WAIT_MS), 0);
}
END_TEST

static const char RULE_TTL[] =
    "cache:\n  rules:\n    - prefix: \"r:\"\n      ttl: 60s\n";
static const char RULE_NOCACHE[] =
    "cache:\n  rules:\n    - prefix: \"r:\"\n      cache: false\n";

START_TEST(test_reload_applies_rules)
{
    redisContext *c;
    int i;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(h_corral_start(&w.corral, w.redis.port, 0, RULE_TTL), 0);
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "OK", "SET r:x v1"));
    ck_assert(wait_cached(c, w.redis.port, "r:x", "v1"));
    ck_assert_int_eq(get_upstream_delta(c, w.redis.port, "r:x", "v1"), 0);

    ck_assert_int_eq(conf_rewrite(&w.corral, w.corral.port, w.redis.port,
                                  RULE_NOCACHE), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "configuration reloaded", 1));

    /* the connection made before the reload still works, and every read
       of r:x now goes upstream */
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(get_upstream_delta(c, w.redis.port, "r:x", "v1"), 1);
    ck_assert_int_eq(h_cmd_int(c, "EXISTS r:x"), 1);
    redisFree(c);
    ck_assert_int_eq(h_stop(&w.corral, SIGTERM), 0);
}
END_TEST

START_TEST(test_reload_invalid_keeps_old)
{
    char text[2048], where[300], seq[32] = "", d[600];
    const char *bad;
    int line = 1, public_port;
    redisContext *c;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(notify_listen(), 0);
    ck_assert_int_eq(h_corral_start(&w.corral, w.redis.port, 0, RULE_TTL), 0);
    unsetenv("NOTIFY_SOCKET");
    ck_assert(notify_expect("READY=1", seq, sizeof(seq), d, sizeof(d)));
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "OK", "SET r:x v1"));
    ck_assert(wait_cached(c, w.redis.port, "r:x", "v1"));

    /* an unknown key, which also turns caching of r: off were it accepted */
    conf_text(text, sizeof(text), w.corral.port, w.redis.port, 0, RULE_NOCACHE);
    for (bad = text; *bad; bad++)
        line += *bad == '\n';
    strncat(text, "no_such_key: 1\n", sizeof(text) - strlen(text) - 1);
    ck_assert_int_eq(file_put(w.corral.conf, text), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "reload rejected", 1));
    /* the service manager is told the reload is over, or it would wait */
    ck_assert(notify_expect("READY=1", seq, sizeof(seq), d, sizeof(d)));
    ck_assert_str_eq(seq, "RLR");
    snprintf(where, sizeof(where), "%s:%d:", w.corral.conf, line);
    ck_assert_int_eq(log_count(&w.corral, where), 1);
    ck_assert(still_running(&w.corral));
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert_int_eq(get_upstream_delta(c, w.redis.port, "r:x", "v1"), 0);

    /* not YAML at all */
    ck_assert_int_eq(file_put(w.corral.conf, "listen: [unclosed\n  - : :\n"), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "reload rejected", 2));
    snprintf(where, sizeof(where), "%s:", w.corral.conf);
    ck_assert_int_ge(log_count(&w.corral, where), 2);
    ck_assert(still_running(&w.corral));
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert_int_eq(get_upstream_delta(c, w.redis.port, "r:x", "v1"), 0);

    /* valid YAML, but a public listen address without a password */
    public_port = h_free_port();
    snprintf(text, sizeof(text),
             "listen: 0.0.0.0:%d\nupstream:\n  address: 127.0.0.1:%d\n"
             "stats:\n  listen: \"\"\n%s", public_port, w.redis.port,
             RULE_NOCACHE);
    ck_assert_int_eq(file_put(w.corral.conf, text), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "reload rejected", 3));
    ck_assert(port_refuses(&public_port));
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert_int_eq(get_upstream_delta(c, w.redis.port, "r:x", "v1"), 0);
    ck_assert_int_eq(log_count(&w.corral, "configuration reloaded"), 0);

    /* a valid file after the rejected ones is applied */
    ck_assert_int_eq(conf_rewrite(&w.corral, w.corral.port, w.redis.port,
                                  RULE_NOCACHE), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "configuration reloaded", 1));
    ck_assert_int_eq(get_upstream_delta(c, w.redis.port, "r:x", "v1"), 1);
    redisFree(c);
    ck_assert_int_eq(h_stop(&w.corral, SIGTERM), 0);
}
END_TEST

/* 1 when the stats port answers /metrics. */
static int stats_serves(void *arg)
{
    int status = 0;
    char *buf = h_http_get(*(int *)arg, "/metrics", &status);
    int ok = buf && status == 200 && strstr(buf, "corral_requests_total");

    free(buf);
    return ok;
}

START_TEST(test_reload_listen)
{
    char text[2048];
    redisContext *c, *c2;
    int old_port, new_port, old_stats = h_free_port(), new_stats;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(h_corral_start(&w.corral, w.redis.port, old_stats, NULL), 0);
    ck_assert(stats_serves(&old_stats));
    old_port = w.corral.port;
    c = h_connect(old_port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "PONG", "PING"));

    new_port = h_free_port();
    new_stats = h_free_port();
    ck_assert(new_port > 0 && new_stats > 0 && new_port != new_stats);
    conf_text(text, sizeof(text), new_port, w.redis.port, new_stats, NULL);
    ck_assert_int_eq(file_put(w.corral.conf, text), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "configuration reloaded", 1));
    w.corral.port = new_port;

    ck_assert(h_wait_until(port_accepts, &new_port, WAIT_MS));
    ck_assert(port_refuses(&old_port));
    ck_assert(stats_serves(&new_stats));
    ck_assert(port_refuses(&old_stats));
    c2 = h_connect(new_port);
    ck_assert_ptr_nonnull(c2);
    ck_assert(h_cmd_is(c2, "OK", "SET k v2"));
    /* the client accepted on the old port is still served */
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert(h_cmd_is(c, "v2", "GET k"));
    redisFree(c2);
    redisFree(c);
    ck_assert_int_eq(h_stop(&w.corral, SIGTERM), 0);
}
END_TEST

/* A listening TCP socket on a free loopback port (*port), or -1. */
static int occupy_port(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

START_TEST(test_reload_busy_ports)
{
    char text[2048];
    redisContext *c;
    int stats = h_free_port(), busy, busy_fd = occupy_port(&busy);

    ck_assert_int_ge(busy_fd, 0);
    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(h_corral_start(&w.corral, w.redis.port, stats, RULE_TTL), 0);
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "OK", "SET r:x v1"));
    ck_assert(wait_cached(c, w.redis.port, "r:x", "v1"));

    /* a listen address that cannot be bound: rejected, nothing changes */
    conf_text(text, sizeof(text), busy, w.redis.port, stats, RULE_NOCACHE);
    ck_assert_int_eq(file_put(w.corral.conf, text), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "reload rejected", 1));
    ck_assert(port_accepts(&w.corral.port));
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert_int_eq(get_upstream_delta(c, w.redis.port, "r:x", "v1"), 0);
    ck_assert(stats_serves(&stats));

    /* the same for a stats address that cannot be bound */
    conf_text(text, sizeof(text), w.corral.port, w.redis.port, busy,
              RULE_NOCACHE);
    ck_assert_int_eq(file_put(w.corral.conf, text), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "reload rejected", 2));
    ck_assert(stats_serves(&stats));
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert_int_eq(get_upstream_delta(c, w.redis.port, "r:x", "v1"), 0);
    ck_assert_int_eq(log_count(&w.corral, "configuration reloaded"), 0);
    close(busy_fd);
    redisFree(c);
    ck_assert_int_eq(h_stop(&w.corral, SIGTERM), 0);
}
END_TEST

/* Start corral with a stats port, a client c with key k = "val" in Redis,
 * then pause Redis for pause_ms and leave GET k in flight through c.
 * Returns once corral has read the GET (its cache miss is counted). */
static redisContext *inflight_get(int pause_ms)
{
    redisContext *c, *r;
    long long misses;
    int stats = h_free_port();

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(h_corral_start(&w.corral, w.redis.port, stats, NULL), 0);
    r = h_connect(w.redis.port);
    ck_assert_ptr_nonnull(r);
    ck_assert(h_cmd_is(r, "OK", "SET k val"));
    c = h_connect(w.corral.port);
    ck_assert_ptr_nonnull(c);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    misses = h_metric(stats, "corral_cache_misses_total");
    ck_assert_int_ge(misses, 0);
    ck_assert(h_cmd_is(r, "OK", "CLIENT PAUSE %d ALL", pause_ms));
    redisFree(r);
    ck_assert_int_eq(h_send(c, "GET k"), 0);
    ck_assert(h_metric_wait(stats, "corral_cache_misses_total", misses + 1,
                            WAIT_MS));
    return c;
}

START_TEST(test_graceful_shutdown)
{
    redisContext *c = inflight_get(2000);
    redisReply *rep = NULL;
    int port = w.corral.port;

    ck_assert_int_eq(kill(w.corral.pid, SIGTERM), 0);
    /* new connections are refused while the GET is still in flight */
    ck_assert(h_wait_until(port_refuses, &port, WAIT_MS));
    ck_assert(still_running(&w.corral));
    ck_assert_int_eq(redisGetReply(c, (void **)&rep), REDIS_OK);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(rep->str, "val");
    freeReplyObject(rep);
    ck_assert_int_eq(wait_exit(&w.corral, 3000), 0);
    redisFree(c);
}
END_TEST

START_TEST(test_second_signal_exits)
{
    redisContext *c = inflight_get(5000);
    int port = w.corral.port;
    long long t;

    ck_assert_int_eq(kill(w.corral.pid, SIGTERM), 0);
    ck_assert(h_wait_until(port_refuses, &port, WAIT_MS));
    ck_assert(still_running(&w.corral));
    t = h_now_ms();
    ck_assert_int_eq(kill(w.corral.pid, SIGTERM), 0);
    /* a clean exit (no crash freeing the request still in flight) */
    ck_assert_int_eq(wait_exit(&w.corral, 1000), 0);
    ck_assert_int_le(h_now_ms() - t, 1000);
    redisFree(c);
}
END_TEST

START_TEST(test_command_line)
{
    char out[1 << 16], good[300], bad[300], where[320];
    const char *check_good[] = { "-t", "-c", good, NULL };
    const char *check_bad[] = { "-t", "-c", bad, NULL };
    const char *version[] = { "-V", NULL };
    const char *describe[] = { "--describe-stats", NULL };
    const char *help[] = { "-h", NULL };
    const char *unknown[] = { "--no-such-option", NULL };
    const char *unknown_short[] = { "-Z", NULL };
    const char *missing[] = { "-t", "-c", "/nonexistent/corral.yml", NULL };
    const char *extra_arg[] = { "-t", "-c", good, "surplus", NULL };
    char text[1024];

    snprintf(good, sizeof(good), "%s/good.yml", h_tmpdir());
    snprintf(bad, sizeof(bad), "%s/bad.yml", h_tmpdir());
    conf_text(text, sizeof(text), 6390, 6379, 0, RULE_TTL);
    ck_assert_int_eq(file_put(good, text), 0);
    ck_assert_int_eq(file_put(bad, "listen: 127.0.0.1:6390\nupstream:\n"
                                   "  connections: lots\n"), 0);

    ck_assert_int_eq(run_corral(check_good, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "configuration OK"));

    ck_assert_int_eq(run_corral(check_bad, out, sizeof(out)), 1);
    snprintf(where, sizeof(where), "%s:3:", bad);
    ck_assert_ptr_nonnull(strstr(out, where));
    ck_assert_ptr_null(strstr(out, "configuration OK"));

    ck_assert_int_eq(run_corral(missing, out, sizeof(out)), 1);
    ck_assert_ptr_nonnull(strstr(out, "/nonexistent/corral.yml"));
    ck_assert_ptr_null(strstr(out, "configuration OK"));

    ck_assert_int_eq(run_corral(version, out, sizeof(out)), 0);
    ck_assert_int_eq(strncmp(out, "corral ", 7), 0);
    ck_assert(out[7] >= '0' && out[7] <= '9');

    ck_assert_int_eq(run_corral(describe, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "corral_requests_total"));
    ck_assert_ptr_nonnull(strstr(out, "corral_request_duration_seconds"));

    ck_assert_int_eq(run_corral(help, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage"));

    ck_assert_int_eq(run_corral(unknown, out, sizeof(out)), 1);
    ck_assert_int_eq(run_corral(unknown_short, out, sizeof(out)), 1);
    ck_assert_int_eq(run_corral(extra_arg, out, sizeof(out)), 1);
    unlink(good);
    unlink(bad);
}
END_TEST

START_TEST(test_reload_upstream)
{
    redisContext *c, *a, *b;

    ck_assert_int_eq(h_redis_start(&w.redis, 0), 0);
    ck_assert_int_eq(h_redis_start(&w.redis2, 0), 0);
    ck_assert_int_eq(h_corral_start(&w.corral, w.redis.port, 0, NULL), 0);
    a = h_connect(w.redis.port);
    b = h_connect(w.redis2.port);
    c = h_connect(w.corral.port);
    ck_assert(a && b && c);
    ck_assert(h_cmd_is(c, "OK", "SET k old"));
    ck_assert(wait_cached(c, w.redis.port, "k", "old"));
    ck_assert(h_cmd_is(b, "OK", "SET k new"));

    ck_assert_int_eq(conf_rewrite(&w.corral, w.corral.port, w.redis2.port,
                                  NULL), 0);
    ck_assert_int_eq(kill(w.corral.pid, SIGHUP), 0);
    ck_assert(log_wait(&w.corral, "configuration reloaded", 1));

    /* the value cached from the old upstream is gone: the read goes to
       the new one */
    ck_assert(h_cmd_is(c, "new", "GET k"));
    ck_assert(h_cmd_is(c, "OK", "SET k2 via-corral"));
    ck_assert(h_cmd_is(b, "via-corral", "GET k2"));
    ck_assert(h_cmd_is(a, NULL, "GET k2"));
    ck_assert(h_cmd_is(a, "old", "GET k"));
    /* and reads are cached again, from the new upstream */
    ck_assert(wait_cached(c, w.redis2.port, "k2", "via-corral"));
    redisFree(a);
    redisFree(b);
    redisFree(c);
    ck_assert_int_eq(h_stop(&w.corral, SIGTERM), 0);
}
END_TEST

static Suite *service_suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("service");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_notify_sequence);
    tcase_add_test(tc, test_reload_applies_rules);
    tcase_add_test(tc, test_reload_invalid_keeps_old);
    tcase_add_test(tc, test_reload_listen);
    tcase_add_test(tc, test_reload_busy_ports);
    tcase_add_test(tc, test_graceful_shutdown);
    tcase_add_test(tc, test_second_signal_exits);
    tcase_add_test(tc, test_command_line);
    tcase_add_test(tc, test_reload_upstream);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(service_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
