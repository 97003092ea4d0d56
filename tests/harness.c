/*
 * harness.c — see harness.h.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef CORRAL_BIN
#define CORRAL_BIN "../src/corral"
#endif

long long h_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *h_tmpdir(void)
{
    static char dir[128];

    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/corral-test-%ld", (long)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

int h_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static int h_port_open(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int h_wait_until(int (*fn)(void *), void *arg, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;

    for (;;) {
        if (fn(arg))
            return 1;
        if (h_now_ms() > end)
            return 0;
        usleep(5000);
    }
}

static int h_port_ready(void *arg)
{
    return h_port_open(*(int *)arg);
}

/* Wait until PING on port answers PONG (or, with noauth_ok, a NOAUTH
 * error), on one connection made again when it drops. */
static int h_corral_answers(int port, int noauth_ok, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    redisContext *c = NULL;
    int ok = 0;

    while (!ok && h_now_ms() <= end) {
        redisReply *r;

        if (!c && !(c = h_connect(port))) {
            usleep(5000);
            continue;
        }
        r = redisCommand(c, "PING");
        if (!r) {
            redisFree(c);
            c = NULL;
        } else {
            ok = (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) ||
                 (noauth_ok && r->type == REDIS_REPLY_ERROR &&
                  strncmp(r->str, "NOAUTH", 6) == 0);
            freeReplyObject(r);
        }
        if (!ok)
            usleep(5000);
    }
    if (c)
        redisFree(c);
    return ok;
}

int h_wait_pong(int port, int timeout_ms)
{
    return h_corral_answers(port, 0, timeout_ms);
}

/* Start argv[0] with stdout/stderr appended to log; with detach set, in a
 * process group of its own. */
static pid_t h_spawn_opt(char *const argv[], const char *log, int detach)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;

        if (detach)
            setpgid(0, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static pid_t h_spawn(char *const argv[], const char *log)
{
    return h_spawn_opt(argv, log, 0);
}

static int h_redis_spawn(struct proc *p, int port, int detach)
{
    char portstr[16];
    char *argv[] = { "redis-server", "--port", portstr, "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--daemonize", "no",
                     "--protected-mode", "no", NULL };

    if (port == 0)
        port = h_free_port();
    p->port = port;
    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(p->log, sizeof(p->log), "%s/redis-%d.log", h_tmpdir(), port);
    p->pid = h_spawn_opt(argv, p->log, detach);
    if (p->pid < 0)
        return -1;
    return h_wait_until(h_port_ready, &p->port, 10000) ? 0 : -1;
}

int h_redis_start(struct proc *p, int port)
{
    return h_redis_spawn(p, port, 0);
}

int h_redis_restart(struct proc *p)
{
    return h_redis_spawn(p, p->port, 1);
}

/* Ready: corral's port accepts, or the process has exited (bind failed). */
struct h_start_wait {
    struct proc *p;
    int exited;
};

static int h_started_or_exited(void *arg)
{
    struct h_start_wait *sw = arg;
    int status;

    if (waitpid(sw->p->pid, &status, WNOHANG) == sw->p->pid) {
        sw->exited = 1;
        sw->p->pid = 0;
        return 1;
    }
    return h_port_open(sw->p->port);
}

int h_corral_start(struct proc *p, int upstream_port, int stats_port,
                   const char *extra_yaml)
{
    const char *bin = getenv("CORRAL_BIN") ? getenv("CORRAL_BIN") : CORRAL_BIN;
    char *argv[] = { (char *)bin, "-c", p->conf, NULL };
    int attempt;

    /* a free port can be taken by a parallel test between the probe and
       corral's bind: corral then exits, and another port is tried */
    for (attempt = 0; attempt < 3; attempt++) {
        struct h_start_wait sw = { p, 0 };
        FILE *f;

        p->port = h_free_port();
        snprintf(p->conf, sizeof(p->conf), "%s/corral-%d.yml", h_tmpdir(), p->port);
        snprintf(p->log, sizeof(p->log), "%s/corral-%d.log", h_tmpdir(), p->port);
        f = fopen(p->conf, "w");
        if (!f)
            return -1;
        fprintf(f, "listen: 127.0.0.1:%d\nupstream:\n  address: 127.0.0.1:%d\n",
                p->port, upstream_port);
        if (stats_port > 0)
            fprintf(f, "stats:\n  listen: 127.0.0.1:%d\n", stats_port);
        else
            fprintf(f, "stats:\n  listen: \"\"\n");
        if (extra_yaml)
            fputs(extra_yaml, f);
        fclose(f);
        p->pid = h_spawn(argv, p->log);
        if (p->pid < 0)
            return -1;
        if (!h_wait_until(h_started_or_exited, &sw, 10000))
            return -1;
        if (sw.exited)
            continue;
        if (!h_port_open(upstream_port))
            return 0;
        return h_corral_answers(p->port, 1, 10000) ? 0 : -1;
    }
    return -1;
}

int h_stop(struct proc *p, int sig)
{
    int status;
    long long end = h_now_ms() + 10000;

    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);

        if (r == p->pid)
            break;
        if (h_now_ms() > end) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            p->pid = 0;
            return -1;
        }
        usleep(2000);
    }
    p->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

redisContext *h_connect(int port)
{
    struct timeval tv = { 10, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

int h_cmd_is(redisContext *c, const char *want, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    int ok;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        return 0;
    if (!want)
        ok = r->type == REDIS_REPLY_NIL;
    else
        ok = (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
              r->type == REDIS_REPLY_ERROR) &&
             strcmp(r->str, want) == 0;
    if (!ok) {
        fprintf(stderr, "h_cmd_is: want '%s', got type %d '%s'\n",
                want ? want : "(nil)", r->type, r->str ? r->str : "");
    }
    freeReplyObject(r);
    return ok;
}

long long h_cmd_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v = LLONG_MIN;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    if (r)
        freeReplyObject(r);
    return v;
}

long long h_cmdstat(int redis_port, const char *cmd)
{
    redisContext *c = h_connect(redis_port);
    redisReply *r;
    char key[64];
    long long v = 0;
    const char *p;

    if (!c)
        return -1;
    r = redisCommand(c, "INFO commandstats");
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", cmd);
    if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, key)))
        v = atoll(p + strlen(key));
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return v;
}

int h_reaper_init(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : -1;
}

/* Has pid exited? True when it is gone or a zombie. */
static int h_pid_gone(pid_t pid)
{
    char path[64], buf[256], *rp;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return 1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    rp = strrchr(buf, ')');           /* the state follows "(comm)" */
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

int h_kill(struct proc *p, int sig)
{
    long long end = h_now_ms() + 10000;
    pid_t pid = p->pid;

    if (pid <= 0)
        return -1;
    if (kill(pid, sig) < 0 && errno == ESRCH) {
        p->pid = 0;
        return 0;
    }
    while (h_now_ms() <= end) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid || (r < 0 && errno == ECHILD && h_pid_gone(pid))) {
            p->pid = 0;
            return 0;
        }
        usleep(2000);
    }
    return -1;
}

int h_corral_spawn(struct proc *p, int port, const char *yaml)
{
    const char *bin = getenv("CORRAL_BIN") ? getenv("CORRAL_BIN") : CORRAL_BIN;
    char *argv[] = { (char *)bin, "-c", p->conf, NULL };
    FILE *f;

    p->port = port;
    snprintf(p->conf, sizeof(p->conf), "%s/corral-%d.yml", h_tmpdir(), port);
    snprintf(p->log, sizeof(p->log), "%s/corral-%d.log", h_tmpdir(), port);
    f = fopen(p->conf, "w");
    if (!f)
        return -1;
    fputs(yaml, f);
    fclose(f);
    p->pid = h_spawn(argv, p->log);
    return p->pid < 0 ? -1 : 0;
}

int h_wait_exit(struct proc *p, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    int status;

    if (p->pid <= 0)
        return -1;
    while (h_now_ms() <= end) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);

        if (r == p->pid) {
            p->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status)
                                     : 128 + WTERMSIG(status);
        }
        if (r < 0)
            return -1;
        usleep(2000);
    }
    return -1;
}

int h_send(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    int rc, done = 0;

    va_start(ap, fmt);
    rc = redisvAppendCommand(c, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK)
        return -1;
    while (!done) {
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return -1;
    }
    return 0;
}

redisReply *h_reply_within(redisContext *c, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    void *reply = NULL;

    for (;;) {
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        long long left;

        if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
            return NULL;
        if (reply)
            return reply;
        left = end - h_now_ms();
        if (left < 0 || poll(&pfd, 1, (int)left) <= 0)
            return NULL;
        if (redisBufferRead(c) != REDIS_OK)
            return NULL;
    }
}

long long h_info_int(int redis_port, const char *field)
{
    redisContext *c = h_connect(redis_port);
    redisReply *r;
    char key[128];
    long long v = LLONG_MIN;
    const char *p;

    if (!c)
        return v;
    r = redisCommand(c, "INFO everything");
    snprintf(key, sizeof(key), "\n%s:", field);
    if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, key)))
        v = atoll(p + strlen(key));
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return v;
}

char *h_http_get(int port, const char *path, int *status)
{
    struct sockaddr_in sa;
    char *buf = NULL, req[512];
    size_t n = 0, cap = 0;
    long long end = h_now_ms() + 10000;
    int fd = socket(AF_INET, SOCK_STREAM, 0), len;

    if (fd < 0)
        return NULL;
    len = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        write(fd, req, (size_t)len) != (ssize_t)len) {
        close(fd);
        return NULL;
    }
    for (;;) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        long long left = end - h_now_ms();
        ssize_t r;

        if (n + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap ? cap * 2 : 65536);

            if (!nb)
                break;
            buf = nb;
            cap = cap ? cap * 2 : 65536;
        }
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (status)
        *status = strncmp(buf, "HTTP/1.", 7) == 0 ? atoi(buf + 9) : -1;
    return buf;
}

long long h_metric(int stats_port, const char *name)
{
    char *buf = h_http_get(stats_port, "/metrics", NULL), needle[256];
    const char *s;
    long long v = -1;

    if (buf) {
        snprintf(needle, sizeof(needle), "\n%s ", name);
        if ((s = strstr(buf, needle)))
            v = atoll(s + strlen(needle));
    }
    free(buf);
    return v;
}

/* ---- raw client sockets ---- */

int h_raw_open(struct h_raw *w, int port)
{
    struct sockaddr_in sa;
    int one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    w->rd = NULL;
    w->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (w->fd < 0)
        return -1;
    if (connect(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        !(w->rd = redisReaderCreate())) {
        close(w->fd);
        w->fd = -1;
        return -1;
    }
    setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

void h_raw_close(struct h_raw *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->rd)
        redisReaderFree(w->rd);
    w->rd = NULL;
}

int h_raw_send(struct h_raw *w, const void *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(w->fd, (const char *)buf + off, len - off,
                         MSG_NOSIGNAL);

        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Read what arrives within timeout_ms into the parser: 1 data, 0 nothing,
 * -1 EOF, reset or unparseable. */
static int h_raw_fill(struct h_raw *w, int timeout_ms)
{
    struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
    char buf[65536];
    ssize_t n;

    if (poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
        return 0;
    n = recv(w->fd, buf, sizeof(buf), 0);
    if (n <= 0 || redisReaderFeed(w->rd, buf, (size_t)n) != REDIS_OK)
        return -1;
    return 1;
}

redisReply *h_raw_reply(struct h_raw *w, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    void *r = NULL;

    for (;;) {
        if (redisReaderGetReply(w->rd, &r) != REDIS_OK)
            return NULL;
        if (r)
            return r;
        if (h_now_ms() >= end || h_raw_fill(w, (int)(end - h_now_ms())) <= 0)
            return NULL;
    }
}

int h_raw_closed(struct h_raw *w, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    void *r = NULL;

    while (h_now_ms() < end) {
        int rc = h_raw_fill(w, (int)(end - h_now_ms()));

        if (rc < 0)
            return 1;
        if (rc > 0 && redisReaderGetReply(w->rd, &r) == REDIS_OK && r) {
            freeReplyObject(r);
            return 0;
        }
    }
    return 0;
}

int h_raw_quiet(struct h_raw *w)
{
    struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
    void *r = NULL;

    if (redisReaderGetReply(w->rd, &r) != REDIS_OK || r) {
        if (r)
            freeReplyObject(r);
        return 0;
    }
    return poll(&pfd, 1, 0) == 0;
}

/* ---- Redis's client list, external programs ---- */

int h_redis_clients(redisContext *rc, const char *cmd, int blocked,
                    int in_multi)
{
    redisReply *r = redisCommand(rc, "CLIENT LIST");
    char *line, *save = NULL;
    int n = 0;

    if (!r || r->type != REDIS_REPLY_STRING) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    for (line = strtok_r(r->str, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        const char *f = strstr(line, " flags="), *m = strstr(line, " multi=");
        char pat[64];
        int ok = 1;

        if (cmd) {
            snprintf(pat, sizeof(pat), " cmd=%s ", cmd);
            ok &= strstr(line, pat) != NULL;
        }
        if (blocked)        /* a 'b' among the flags */
            ok &= f && strcspn(f + 7, " b") < strcspn(f + 7, " ");
        if (in_multi)       /* multi=-1 outside a MULTI */
            ok &= m && strncmp(m + 7, "-1", 2) != 0;
        n += ok;
    }
    freeReplyObject(r);
    return n;
}

struct h_clients_query {
    redisContext *rc;
    const char *cmd;
    int blocked, in_multi, want;
};

static int h_clients_match(void *arg)
{
    struct h_clients_query *q = arg;

    return h_redis_clients(q->rc, q->cmd, q->blocked, q->in_multi) == q->want;
}

int h_wait_clients(redisContext *rc, const char *cmd, int blocked,
                   int in_multi, int want, int timeout_ms)
{
    struct h_clients_query q = { rc, cmd, blocked, in_multi, want };

    return h_wait_until(h_clients_match, &q, timeout_ms);
}

int h_run(const char *command, char *out, size_t outlen)
{
    FILE *f = popen(command, "r");
    size_t n = 0;
    int st;

    if (!f)
        return -1;
    while (n + 1 < outlen) {
        size_t got = fread(out + n, 1, outlen - 1 - n, f);

        if (got == 0)
            break;
        n += got;
    }
    out[n] = '\0';
    st = pclose(f);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

long long h_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atoll(line + 6);
    fclose(f);
    return kb;
}

/* ---- replies, the cache, the invalidation connection, metrics ---- */

int h_reply_is(redisReply *rep, const char *want)
{
    int ok;

    if (!rep)
        return 0;
    if (!want)
        ok = rep->type == REDIS_REPLY_NIL;
    else
        ok = (rep->type == REDIS_REPLY_STRING ||
              rep->type == REDIS_REPLY_STATUS) &&
             strcmp(rep->str, want) == 0;
    if (!ok)
        fprintf(stderr, "h_reply_is: want '%s', got type %d '%s'\n",
                want ? want : "(nil)", rep->type, rep->str ? rep->str : "");
    freeReplyObject(rep);
    return ok;
}

struct h_cached_query {
    redisContext *c;
    int redis_port;
    const char *key, *want;
};

static int h_is_cached(void *arg)
{
    struct h_cached_query *q = arg;
    long long before = h_cmdstat(q->redis_port, "get");

    return h_cmd_is(q->c, q->want, "GET %s", q->key) &&
           h_cmdstat(q->redis_port, "get") == before;
}

int h_wait_cached(redisContext *c, int redis_port, const char *key,
                  const char *want, int timeout_ms)
{
    struct h_cached_query q = { c, redis_port, key, want };

    return h_wait_until(h_is_cached, &q, timeout_ms);
}

long long h_subscriber_id(redisContext *rc)
{
    redisReply *rep = redisCommand(rc, "CLIENT LIST");
    long long id = 0;
    char *line, *save = NULL;

    if (!rep || rep->type != REDIS_REPLY_STRING) {
        if (rep)
            freeReplyObject(rep);
        return 0;
    }
    for (line = strtok_r(rep->str, "\n", &save); line && !id;
         line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, " sub=1 ") && strncmp(line, "id=", 3) == 0)
            id = atoll(line + 3);
    }
    freeReplyObject(rep);
    return id;
}

struct h_metric_query {
    int port;
    const char *name;
    long long min;
};

static int h_metric_reached(void *arg)
{
    struct h_metric_query *q = arg;

    return h_metric(q->port, q->name) >= q->min;
}

int h_metric_wait(int stats_port, const char *name, long long min,
                  int timeout_ms)
{
    struct h_metric_query q = { stats_port, name, min };

    return h_wait_until(h_metric_reached, &q, timeout_ms);
}

/* ---- the processes of one test ---- */

/* The world of the running test, for the exit handler. */
static struct h_world *h_exit_world;

static void h_world_at_exit(void)
{
    if (h_exit_world)
        h_world_kill(h_exit_world);
}

void h_world_setup(struct h_world *w)
{
    static int registered;

    memset(w, 0, sizeof(*w));
    h_exit_world = w;
    if (!registered && atexit(h_world_at_exit) == 0)
        registered = 1;
}

void h_world_kill(struct h_world *w)
{
    struct proc *ps[] = { &w->corral, &w->redis };
    size_t i;

    for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        if (ps[i]->pid > 0) {
            kill(ps[i]->pid, SIGKILL);
            waitpid(ps[i]->pid, NULL, 0);
            ps[i]->pid = 0;
        }
    }
}

redisContext *h_world_redis(struct h_world *w)
{
    redisContext *c = h_connect(w->redis.port);

    ck_assert_ptr_nonnull(c);
    return c;
}

redisContext *h_world_corral(struct h_world *w)
{
    redisContext *c = h_connect(w->corral.port);

    ck_assert_ptr_nonnull(c);
    return c;
}

void h_world_start(struct h_world *w, const char *extra)
{
    redisContext *r, *c;

    w->stats = h_free_port();
    ck_assert_int_eq(h_redis_start(&w->redis, 0), 0);
    ck_assert_int_eq(h_corral_start(&w->corral, w->redis.port, w->stats,
                                    extra), 0);
    r = h_world_redis(w);
    ck_assert(h_cmd_is(r, "OK", "SET probe:live 1"));
    c = h_world_corral(w);
    ck_assert(h_wait_cached(c, w->redis.port, "probe:live", "1", 10000));
    redisFree(c);
    redisFree(r);
}

/* ---- test programs ---- */

void h_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int h_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
