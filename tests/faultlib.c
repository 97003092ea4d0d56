/*
 * faultlib.c — see faultlib.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultlib.h"

#define FL_WAIT_MS 10000

/* ---- sockets ---- */

int fl_tcp_connect(int port, int rcvbuf)
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

int fl_send_all(int fd, const char *buf, size_t len)
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

int fl_wait_readable(int fd, long long ms)
{
    struct pollfd p = { fd, POLLIN, 0 };

    if (ms < 0)
        ms = 0;
    return poll(&p, 1, (int)ms) == 1;
}

int fl_conn_open(struct fl_conn *rc, int port, int rcvbuf)
{
    rc->eof = 0;
    rc->fd = fl_tcp_connect(port, rcvbuf);
    rc->rd = rc->fd >= 0 ? redisReaderCreate() : NULL;
    if (rc->fd >= 0 && !rc->rd) {
        close(rc->fd);
        rc->fd = -1;
    }
    return rc->fd >= 0 ? 0 : -1;
}

void fl_conn_close(struct fl_conn *rc)
{
    if (rc->fd >= 0)
        close(rc->fd);
    if (rc->rd)
        redisReaderFree(rc->rd);
    rc->fd = -1;
    rc->rd = NULL;
}

redisReply *fl_conn_next(struct fl_conn *rc, long long deadline_ms)
{
    char buf[16384];            /* per call: clients run in threads */

    for (;;) {
        void *r = NULL;
        ssize_t n;

        if (redisReaderGetReply(rc->rd, &r) != REDIS_OK)
            return NULL;
        if (r)
            return r;
        if (rc->eof || !fl_wait_readable(rc->fd, deadline_ms - h_now_ms()))
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

/* ---- requests and values ---- */

char *fl_repeat_cmd(int n, size_t *len, int argc, const char **argv)
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

long long fl_get_number(redisContext *c, const char *key)
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

int fl_running(struct proc *p)
{
    int status;

    return p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == 0;
}

static int port_ready(void *arg)
{
    int fd = fl_tcp_connect(*(int *)arg, 0);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int fl_corral_up(struct proc *p, int upstream_port, int stats_port,
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
    if (!h_wait_until(port_ready, &p->port, FL_WAIT_MS))
        return -1;
    if (pong && !h_wait_pong(p->port, FL_WAIT_MS))
        return -1;
    return 0;
}

/* ---- the test program ---- */

/* A corral built with AddressSanitizer keeps freed memory in a quarantine
 * of up to 256 MB, which the memory bounds of the fault tests would count
 * as growth: give the children a small one unless the caller chose a size. */
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

int fl_run(Suite *s)
{
    signal(SIGPIPE, SIG_IGN);
    asan_small_quarantine();
    return h_run_suite(s);
}
