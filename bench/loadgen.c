/*
 * loadgen.c — a lean GET load generator for the cache-hit benchmark rows.
 *
 * redis-benchmark spends about as much CPU per pipelined GET as the server
 * it measures, so on a machine where it has one CPU and the server another,
 * the client, not the server, sets the pace. loadgen does only what a hit
 * row needs, on one thread with epoll: CLIENTS connections, each with a
 * batch of PIPELINE GETs in flight; the next batch goes out on a connection
 * when the last reply of its previous batch has arrived (as redis-benchmark
 * -P does). Keys are key:%012d, drawn uniformly below KEYSPACE: the names
 * redis-benchmark -r fills. Replies are scanned with corral's own reply
 * scanner (src/resp.c) as they are read and not kept.
 *
 *   loadgen [-h HOST] -p PORT [-c CLIENTS] [-P PIPELINE] [-n REQUESTS]
 *           [-r KEYSPACE]
 *
 * Defaults: 127.0.0.1, 50 clients, pipeline 1, 100000 requests, keyspace 1.
 * Prints "GET: <n> requests per second" (from the first request sent to the
 * last reply read) and exits 0 only if every reply was a bulk string, i.e.
 * every key existed. An error or null reply, a malformed reply, a reply
 * nobody asked for or a closed connection fails the run with a message on
 * stderr (exit 1); bad arguments exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "resp.h"

#define REQ_MAX      64          /* bytes of one encoded GET, at most */
#define PIPELINE_MAX 100000
#define READ_SIZE    (64 * 1024)

struct conn {
    int fd;
    long inflight;               /* GETs sent and not yet answered */
    struct resp_scanner scan;    /* the reply being read */
    int fresh;                   /* no byte of that reply seen yet */
    char *out;                   /* the batch being sent */
    size_t out_len;
    size_t out_off;              /* bytes of it already written */
};

struct run {
    long total;                  /* GETs to send */
    long sent;
    long answered;
    long bad;                    /* replies that were not bulk strings */
    char first_bad;              /* type of the first of them */
    char err[128];               /* text of the first error reply */
    int pipeline;
    unsigned long keyspace;
    uint64_t rng;
    int ep;
};

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void usage(void)
{
    fputs("usage: loadgen [-h HOST] -p PORT [-c CLIENTS] [-P PIPELINE] "
          "[-n REQUESTS] [-r KEYSPACE]\n", stderr);
    exit(2);
}

/* A decimal argument in [lo, hi]; anything else is a usage error. */
static long arg_num(const char *s, long lo, long hi)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        usage();
    return v;
}

static uint64_t next_random(struct run *r)
{
    /* xorshift64: cheap, and uniform enough to spread keys */
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void watch(struct run *r, struct conn *c, int op, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(r->ep, op, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

/* Write what is left of c's batch; when the socket is full, wait for it to
 * drain (EPOLLOUT) and go on from there. */
static void conn_flush(struct run *r, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                watch(r, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
                return;
            }
            die("write: %s", strerror(errno));
        }
        c->out_off += (size_t)n;
    }
}

/* Encode c's next batch of GETs, if any are left to send, and send it. */
static void conn_send(struct run *r, struct conn *c)
{
    long n = r->total - r->sent;

    if (n <= 0)
        return;
    if (n > r->pipeline)
        n = r->pipeline;
    c->out_len = 0;
    c->out_off = 0;
    for (long i = 0; i < n; i++) {
        unsigned long k = (unsigned long)(next_random(r) % r->keyspace);
        int len = snprintf(c->out + c->out_len, REQ_MAX,
                           "*2\r\n$3\r\nGET\r\n$16\r\nkey:%012lu\r\n", k);

        if (len < 0 || len >= REQ_MAX)
            die("keyspace too large for 12-digit keys");
        c->out_len += (size_t)len;
    }
    c->inflight = n;
    r->sent += n;
    conn_flush(r, c);
}

/* Read what c has and account for every complete reply in it; when the
 * batch is answered, send the next one. */
static void conn_read(struct run *r, struct conn *c, char *buf)
{
    ssize_t n = read(c->fd, buf, READ_SIZE);
    size_t off = 0;

    if (n == 0)
        die("server closed a connection with %ld replies outstanding%s%s",
            c->inflight, r->err[0] ? "; the first error reply: " : "",
            r->err);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        die("read: %s", strerror(errno));
    }
    while (off < (size_t)n) {
        ssize_t used;

        if (c->fresh && buf[off] == '-' && r->err[0] == '\0') {
            size_t len = 0;

            while (off + 1 + len < (size_t)n && len < sizeof r->err - 1 &&
                   buf[off + 1 + len] != '\r')
                len++;
            memcpy(r->err, buf + off + 1, len);
            r->err[len] = '\0';
        }
        used = resp_scan(&c->scan, buf + off, (size_t)n - off);
        c->fresh = 0;
        if (used < 0)
            die("malformed reply after %ld replies", r->answered);
        off += (size_t)used;
        if (!c->scan.done)
            break;
        if (c->inflight == 0)
            die("a reply that no request asked for");
        if (c->scan.type != '$' || c->scan.num < 0) {
            if (r->bad++ == 0)
                r->first_bad = c->scan.num < 0 && c->scan.type == '$'
                                   ? 'n' : c->scan.type;
        }
        c->inflight--;
        r->answered++;
        resp_scan_init(&c->scan);
        c->fresh = 1;
    }
    if (c->inflight == 0)
        conn_send(r, c);
}

/* Connect to host:port, non-blocking, with TCP_NODELAY as hiredis sets it. */
static int dial(const char *host, const char *port)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1, one = 1, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        die("%s:%s: %s", host, port, gai_strerror(rc));
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        die("cannot connect to %s:%s: %s", host, port, strerror(errno));
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        die("socket options: %s", strerror(errno));
    return fd;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = NULL;
    long clients = 50;
    struct run r;
    struct conn *conns;
    struct epoll_event evs[256];
    char *buf;
    double t0, secs;
    int opt;

    memset(&r, 0, sizeof r);
    r.total = 100000;
    r.pipeline = 1;
    r.keyspace = 1;
    r.rng = 0x9e3779b97f4a7c15ULL;
    while ((opt = getopt(argc, argv, "h:p:c:P:n:r:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; arg_num(optarg, 1, 65535); break;
        case 'c': clients = arg_num(optarg, 1, 10000); break;
        case 'P': r.pipeline = (int)arg_num(optarg, 1, PIPELINE_MAX); break;
        case 'n': r.total = arg_num(optarg, 1, 1000000000000L); break;
        case 'r':
            r.keyspace = (unsigned long)arg_num(optarg, 1, 999999999999L);
            break;
        default: usage();
        }
    }
    if (port == NULL || optind != argc)
        usage();
    /* a server that closes a connection shows up as a failed read or
     * write, with a message, not as a silent SIGPIPE */
    signal(SIGPIPE, SIG_IGN);

    conns = calloc((size_t)clients, sizeof *conns);
    buf = malloc(READ_SIZE);
    r.ep = epoll_create1(0);
    if (conns == NULL || buf == NULL)
        die("out of memory");
    if (r.ep < 0)
        die("epoll_create1: %s", strerror(errno));
    for (long i = 0; i < clients; i++) {
        struct conn *c = &conns[i];

        c->out = malloc((size_t)r.pipeline * REQ_MAX);
        if (c->out == NULL)
            die("out of memory");
        c->fd = dial(host, port);
        resp_scan_init(&c->scan);
        c->fresh = 1;
        watch(&r, c, EPOLL_CTL_ADD, EPOLLIN);
    }

    t0 = now_s();
    for (long i = 0; i < clients; i++)
        conn_send(&r, &conns[i]);
    while (r.answered < r.total) {
        int n = epoll_wait(r.ep, evs, (int)(sizeof evs / sizeof evs[0]), -1);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            if (evs[i].events & EPOLLOUT) {
                conn_flush(&r, c);
                if (c->out_off == c->out_len)
                    watch(&r, c, EPOLL_CTL_MOD, EPOLLIN);
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                conn_read(&r, c, buf);
        }
    }
    secs = now_s() - t0;

    printf("GET: %.2f requests per second\n",
           secs > 0 ? (double)r.total / secs : 0.0);
    if (r.bad > 0) {
        fprintf(stderr, "loadgen: %ld of %ld replies were not bulk strings "
                "(the first: %s%s)\n", r.bad, r.total,
                r.first_bad == 'n' ? "a null" :
                r.first_bad == '-' ? "-" : "another type",
                r.first_bad == '-' ? r.err : "");
        return 1;
    }
    for (long i = 0; i < clients; i++) {
        close(conns[i].fd);
        free(conns[i].out);
    }
    free(conns);
    free(buf);
    close(r.ep);
    return 0;
}
