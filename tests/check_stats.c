/*
 * check_stats.c — unit tests for stats.c: routing, status codes and content
 * types of the stats port, HEAD without a body (also on a kept-alive
 * connection), 404/405, hostile requests, bind errors, unix sockets and
 * stopping with connections open. Requests are made over real sockets and
 * served by running the same event loop until the answer is complete.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/event.h>

#include "metrics.h"
#include "stats.h"

struct fixture {
    struct event_base *base;
    struct metrics *m;
    struct stats *s;
    struct event *guard;
    int timed_out;
    int healthy;
    int collects;
};

struct response {
    char *raw;          /* everything received, NUL-terminated */
    size_t len;
    int status;
    const char *body;   /* into raw */
    size_t body_len;
};

static void collect_cb(void *arg, struct metrics *m)
{
    struct fixture *f = arg;

    f->collects++;
    metrics_set(m, CACHE_ENTRIES, 42);
}

static int health_cb(void *arg)
{
    struct fixture *f = arg;

    return f->healthy;
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fixture *f = arg;

    f->timed_out = 1;
}

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->base = event_base_new();
    ck_assert_ptr_nonnull(f->base);
    f->m = malloc(sizeof(*f->m));
    ck_assert_ptr_nonnull(f->m);
    metrics_init(f->m);
    f->healthy = 1;
    f->guard = evtimer_new(f->base, guard_cb, f);
    ck_assert_ptr_nonnull(f->guard);
}

static void fixture_start(struct fixture *f, const char *listen)
{
    char err[256] = "";

    f->s = stats_start(f->base, listen, f->m, collect_cb, health_cb, f, err,
                       sizeof(err));
    ck_assert_msg(f->s != NULL, "stats_start: %s", err);
}

static void fixture_free(struct fixture *f)
{
    stats_stop(f->s);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    event_free(f->guard);
    event_base_free(f->base);
    free(f->m);
}

static int connect_tcp(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        ck_assert_int_gt(n, 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Run the loop until the server closes fd's connection; returns all bytes
 * received. Fails (instead of hanging) after 3 s without an answer. */
static void read_to_eof(struct fixture *f, int fd, struct response *r)
{
    struct timeval tv = { 3, 0 };
    size_t cap = 4096;
    char *sep;

    memset(r, 0, sizeof(*r));
    r->raw = malloc(cap);
    ck_assert_ptr_nonnull(r->raw);
    f->timed_out = 0;
    evtimer_add(f->guard, &tv);
    for (;;) {
        ssize_t n;

        if (cap - r->len < 1024) {
            cap *= 2;
            r->raw = realloc(r->raw, cap);
            ck_assert_ptr_nonnull(r->raw);
        }
        n = recv(fd, r->raw + r->len, cap - r->len - 1, MSG_DONTWAIT);
        if (n > 0) {
            r->len += (size_t)n;
            continue;
        }
        if (n == 0 || errno == ECONNRESET)
            break;
        ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s",
                      strerror(errno));
        ck_assert_msg(!f->timed_out, "no answer from the stats server");
        event_base_loop(f->base, EVLOOP_ONCE);
    }
    evtimer_del(f->guard);
    close(fd);
    r->raw[r->len] = '\0';
    if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
        r->status = -1;
    sep = strstr(r->raw, "\r\n\r\n");
    if (sep != NULL) {
        r->body = sep + 4;
        r->body_len = r->len - (size_t)(r->body - r->raw);
    }
}

/* One request on a fresh TCP connection, answered before the close. */
static void exchange(struct fixture *f, const char *req, struct response *r)
{
    int fd = connect_tcp(stats_port(f->s));

    send_all(fd, req, strlen(req));
    read_to_eof(f, fd, r);
}

static void get(struct fixture *f, const char *method, const char *target,
                struct response *r)
{
    char req[512];

    snprintf(req, sizeof(req),
             "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
             method, target);
    exchange(f, req, r);
}

/* Value of a response header (in the first response of raw), or NULL. The
 * returned string is static and valid until the next call. */
static const char *header(const struct response *r, const char *name)
{
    static char value[512];
    const char *p = strstr(r->raw, "\r\n");
    size_t nlen = strlen(name);

    while (p != NULL && strncmp(p, "\r\n\r\n", 4) != 0) {
        const char *line = p + 2, *end = strstr(line, "\r\n");

        if (end == NULL)
            break;
        if ((size_t)(end - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            size_t vlen;

            while (*v == ' ')
                v++;
            vlen = (size_t)(end - v);
            ck_assert_uint_lt(vlen, sizeof(value));
            memcpy(value, v, vlen);
            value[vlen] = '\0';
            return value;
        }
        p = end;
    }
    return NULL;
}

static void response_free(struct response *r)
{
    free(r->raw);
    memset(r, 0, sizeof(*r));
}

static int body_has(const struct response *r, const char *s)
{
    return r->body != NULL && strstr(r->body, s) != NULL;
}

START_TEST(test_metrics_prometheus)
{
    struct fixture f;
    struct response r;
    const char *cl;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    ck_assert_int_gt(stats_port(f.s), 0);
    metrics_inc(f.m, REQ_HIT);
    get(&f, "GET", "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"),
                     "text/plain; version=0.0.4; charset=utf-8");
    cl = header(&r, "Content-Length");
    ck_assert_ptr_nonnull(cl);
    ck_assert_uint_eq(strtoul(cl, NULL, 10), r.body_len);
    ck_assert_int_eq(f.collects, 1);
    /* the gauge set by collect and the counter bumped above are shown */
    ck_assert(body_has(&r, "\ncorral_cache_entries 42\n"));
    ck_assert(body_has(&r, "corral_requests_total{class=\"hit\"} 1\n"));
    ck_assert(body_has(&r, "# TYPE corral_requests_total counter\n"));
    response_free(&r);

    /* the query string does not take part in routing */
    get(&f, "GET", "/metrics?x=1&debug", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(body_has(&r, "corral_cache_entries 42"));
    ck_assert_int_eq(f.collects, 2);
    response_free(&r);
    fixture_free(&f);
}
END_TEST

START_TEST(test_stats_json)
{
    struct fixture f;
    struct response r;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    hist_record(&f.m->lat[LAT_HIT], 15000);
    get(&f, "GET", "/stats", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
    ck_assert_str_eq(header(&r, "Cache-Control"), "no-store");
    ck_assert_int_eq(f.collects, 1);
    ck_assert_uint_gt(r.body_len, 2);
    ck_assert_int_eq(r.body[0], '{');
    ck_assert(body_has(&r, "\"uptime_seconds\":"));
    ck_assert(body_has(&r, "\"hit\":{\"count\":1,"));
    ck_assert(body_has(&r, "\"corral_cache_entries\""));
    response_free(&r);

    get(&f, "GET", "/stats?pretty", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
    response_free(&r);
    fixture_free(&f);
}
END_TEST

START_TEST(test_healthz)
{
    struct fixture f;
    struct response r;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    get(&f, "GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 3);
    ck_assert_str_eq(r.body, "ok\n");
    response_free(&r);

    f.healthy = 0;
    get(&f, "GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "upstream unavailable\n");
    ck_assert_str_eq(header(&r, "Content-Type"), "text/plain; charset=utf-8");
    response_free(&r);

    /* only 1 means healthy */
    f.healthy = -1;
    get(&f, "GET", "/healthz?x", &r);
    ck_assert_int_eq(r.status, 503);
    response_free(&r);

    f.healthy = 1;
    get(&f, "GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    response_free(&r);
    ck_assert_int_eq(f.collects, 0);
    fixture_free(&f);
}
END_TEST

START_TEST(test_null_callbacks)
{
    struct fixture f;
    struct response r;
    char err[256];

    fixture_init(&f);
    f.s = stats_start(f.base, "127.0.0.1:0", f.m, NULL, NULL, NULL, err,
                      sizeof(err));
    ck_assert_ptr_nonnull(f.s);
    get(&f, "GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    response_free(&r);
    get(&f, "GET", "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(body_has(&r, "\ncorral_cache_entries 0\n"));
    response_free(&r);
    fixture_free(&f);
}
END_TEST

START_TEST(test_page)
{
    struct fixture f;
    struct response r;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    get(&f, "GET", "/", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(header(&r, "Content-Security-Policy"));
    ck_assert_uint_eq(strtoul(header(&r, "Content-Length"), NULL, 10),
                      r.body_len);
    ck_assert_uint_eq(strlen(r.body), r.body_len);
    ck_assert(body_has(&r, "<!DOCTYPE html>"));
    ck_assert(body_has(&r, "</html>"));
    /* draws SVG from /stats, periodically */
    ck_assert(body_has(&r, "createElementNS"));
    ck_assert(body_has(&r, "http://www.w3.org/2000/svg"));
    ck_assert(body_has(&r, "fetch('stats'"));
    ck_assert(body_has(&r, "setTimeout"));
    /* self-contained: nothing loaded from elsewhere */
    ck_assert(!body_has(&r, "<script src"));
    ck_assert(!body_has(&r, "<link"));
    ck_assert(!body_has(&r, "@import"));
    ck_assert(!body_has(&r, "https:"));
    ck_assert(!body_has(&r, "url("));
    ck_assert_int_eq(f.collects, 0);
    response_free(&r);
    fixture_free(&f);
}
END_TEST

START_TEST(test_not_found)
{
    static const char *const paths[] = {
        "/nope", "/metrics/", "/metricsx", "/Stats", "/healthz/x",
        "//", "/index.html", "/stats.json",
    };
    struct fixture f;
    struct response r;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(&f, "GET", paths[i], &r);
        ck_assert_msg(r.status == 404, "%s: status %d", paths[i], r.status);
        ck_assert_str_eq(r.body, "not found\n");
        response_free(&r);
    }
    /* an unknown path is 404 whatever the method */
    get(&f, "POST", "/nope", &r);
    ck_assert_int_eq(r.status, 404);
    response_free(&r);
    ck_assert_int_eq(f.collects, 0);
    fixture_free(&f);
}
END_TEST

START_TEST(test_method_not_allowed)
{
    static const char *const methods[] = {
        "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
    };
    static const char *const paths[] = { "/", "/metrics", "/stats",
                                         "/healthz" };
    struct fixture f;
    struct response r;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        for (size_t j = 0; j < sizeof(paths) / sizeof(paths[0]); j++) {
            get(&f, methods[i], paths[j], &r);
            ck_assert_msg(r.status == 405, "%s %s: status %d", methods[i],
                          paths[j], r.status);
            ck_assert_str_eq(header(&r, "Allow"), "GET, HEAD");
            response_free(&r);
        }
    }
    /* a small body does not change the answer */
    exchange(&f, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Content-Length: 3\r\n\r\nabc", &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(header(&r, "Allow"), "GET, HEAD");
    response_free(&r);
    ck_assert_int_eq(f.collects, 0);
    fixture_free(&f);
}
END_TEST

START_TEST(test_head)
{
    struct fixture f;
    struct response r, g;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");

    get(&f, "GET", "/", &g);
    get(&f, "HEAD", "/", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "text/html; charset=utf-8");
    ck_assert_uint_eq(strtoul(header(&r, "Content-Length"), NULL, 10),
                      g.body_len);
    ck_assert_ptr_nonnull(r.body);
    ck_assert_uint_eq(r.body_len, 0);
    response_free(&r);
    response_free(&g);

    get(&f, "HEAD", "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"),
                     "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_uint_gt(strtoul(header(&r, "Content-Length"), NULL, 10), 100);
    ck_assert_uint_eq(r.body_len, 0);
    response_free(&r);

    get(&f, "HEAD", "/stats", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
    ck_assert_uint_eq(r.body_len, 0);
    response_free(&r);

    f.healthy = 0;
    get(&f, "HEAD", "/healthz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(header(&r, "Content-Length"), "21");
    ck_assert_uint_eq(r.body_len, 0);
    response_free(&r);

    get(&f, "HEAD", "/nope", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_uint_eq(r.body_len, 0);
    response_free(&r);
    fixture_free(&f);
}
END_TEST

/* A body after a HEAD answer would be read as the start of the next one. */
START_TEST(test_head_keepalive)
{
    static const char pipelined[] =
        "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    struct fixture f;
    struct response r;
    const char *second;
    int fd;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    fd = connect_tcp(stats_port(f.s));
    send_all(fd, pipelined, strlen(pipelined));
    read_to_eof(&f, fd, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(r.body);
    second = r.body;
    ck_assert_msg(strncmp(second, "HTTP/1.1 200 ", 13) == 0,
                  "second response does not follow the HEAD headers: %.40s",
                  second);
    ck_assert_uint_ge(r.len, 3);
    ck_assert_str_eq(r.raw + r.len - 3, "ok\n");
    response_free(&r);
    fixture_free(&f);
}
END_TEST

START_TEST(test_hostile_requests)
{
    struct fixture f;
    struct response r;
    char *big;
    size_t n;

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");

    /* headers past the cap */
    n = STATS_MAX_HEADERS * 2;
    big = malloc(n + 128);
    ck_assert_ptr_nonnull(big);
    strcpy(big, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(big + strlen(big), 'a', n);
    strcpy(big + strlen("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ") + n,
           "\r\n\r\n");
    exchange(&f, big, &r);
    free(big);
    ck_assert_int_ge(r.status, 400);
    ck_assert_int_lt(r.status, 500);
    ck_assert_int_eq(f.collects, 0);
    response_free(&r);

    /* a body past the cap */
    exchange(&f, "POST /metrics HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: 1000000\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 413);
    response_free(&r);

    /* not HTTP at all */
    exchange(&f, "\x01\x02 garbage \xff\r\n\r\n", &r);
    ck_assert_int_ge(r.status, 400);
    ck_assert_int_lt(r.status, 500);
    response_free(&r);

    /* and the server still answers */
    get(&f, "GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    response_free(&r);
    fixture_free(&f);
}
END_TEST

/* Clients that connect and send half a request do not hold up others. */
START_TEST(test_slow_clients_do_not_block)
{
    enum { NSLOW = 100 };
    struct fixture f;
    struct response r;
    int slow[NSLOW];

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    for (int i = 0; i < NSLOW; i++) {
        slow[i] = connect_tcp(stats_port(f.s));
        send_all(slow[i], "GET /metrics HTTP/1.1\r\nHo", 25);
        /* let the server accept, so the backlog never fills */
        event_base_loop(f.base, EVLOOP_NONBLOCK);
    }
    get(&f, "GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    response_free(&r);
    ck_assert_int_eq(f.collects, 0);
    for (int i = 0; i < NSLOW; i++)
        close(slow[i]);
    fixture_free(&f);
}
END_TEST

START_TEST(test_bind_errors)
{
    struct fixture f;
    struct stats *s2;
    char addr[64], err[256];

    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", stats_port(f.s));

    strcpy(err, "unchanged");
    s2 = stats_start(f.base, addr, f.m, NULL, NULL, NULL, err, sizeof(err));
    ck_assert_ptr_null(s2);
    ck_assert_msg(strstr(err, addr) != NULL, "err: %s", err);
    ck_assert_msg(strstr(err, strerror(EADDRINUSE)) != NULL, "err: %s", err);

    s2 = stats_start(f.base, "nonsense", f.m, NULL, NULL, NULL, err,
                     sizeof(err));
    ck_assert_ptr_null(s2);
    ck_assert_msg(strstr(err, "nonsense") != NULL, "err: %s", err);

    s2 = stats_start(f.base, "192.0.2.1:0", f.m, NULL, NULL, NULL, err,
                     sizeof(err));
    ck_assert_ptr_null(s2);
    ck_assert_msg(strstr(err, strerror(EADDRNOTAVAIL)) != NULL, "err: %s",
                  err);

    s2 = stats_start(NULL, "127.0.0.1:0", f.m, NULL, NULL, NULL, err,
                     sizeof(err));
    ck_assert_ptr_null(s2);
    s2 = stats_start(f.base, "127.0.0.1:0", NULL, NULL, NULL, NULL, NULL, 0);
    ck_assert_ptr_null(s2);

    /* a tiny error buffer is not overrun */
    err[0] = 'x';
    err[1] = 'y';
    s2 = stats_start(f.base, "nonsense", f.m, NULL, NULL, NULL, err, 1);
    ck_assert_ptr_null(s2);
    ck_assert_int_eq(err[0], '\0');
    ck_assert_int_eq(err[1], 'y');
    fixture_free(&f);
}
END_TEST

START_TEST(test_stop)
{
    struct fixture f;
    struct sockaddr_in sa;
    char buf[64];
    int port, idle, fd;
    ssize_t n;

    stats_stop(NULL);
    fixture_init(&f);
    fixture_start(&f, "127.0.0.1:0");
    port = stats_port(f.s);

    /* a client in the middle of a request when the server stops */
    idle = connect_tcp(port);
    send_all(idle, "GET / HTTP/1.1\r\n", 16);
    for (int i = 0; i < 5; i++)
        event_base_loop(f.base, EVLOOP_NONBLOCK);
    stats_stop(f.s);
    f.s = NULL;
    event_base_loop(f.base, EVLOOP_NONBLOCK);
    n = recv(idle, buf, sizeof(buf), 0);
    ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET),
                  "connection still open after stop (%zd)", n);
    close(idle);

    /* and nobody listens any more */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ne(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(errno, ECONNREFUSED);
    close(fd);

    /* the port can be bound again at once */
    snprintf(buf, sizeof(buf), "127.0.0.1:%d", port);
    fixture_start(&f, buf);
    ck_assert_int_eq(stats_port(f.s), port);
    fixture_free(&f);
}
END_TEST

START_TEST(test_unix_socket)
{
    struct fixture f;
    struct response r;
    struct sockaddr_un sa;
    struct stats *s2;
    char dir[64], path[128], listen[160], err[256];
    struct stat st;
    int fd;

    snprintf(dir, sizeof(dir), "/tmp/check_stats.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/stats.sock", dir);
    snprintf(listen, sizeof(listen), "unix:%s", path);

    /* a socket file left by a dead process */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    ck_assert_int_eq(stat(path, &st), 0);

    fixture_init(&f);
    fixture_start(&f, listen);
    ck_assert_int_eq(stats_port(f.s), 0);
    fd = connect_unix(path);
    send_all(fd, "GET /healthz HTTP/1.0\r\n\r\n", 25);
    read_to_eof(&f, fd, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok\n");
    response_free(&r);

    /* a live one is not taken over */
    s2 = stats_start(f.base, listen, f.m, NULL, NULL, NULL, err, sizeof(err));
    ck_assert_ptr_null(s2);
    ck_assert_msg(strstr(err, strerror(EADDRINUSE)) != NULL, "err: %s", err);
    fd = connect_unix(path);
    send_all(fd, "GET /healthz HTTP/1.0\r\n\r\n", 25);
    read_to_eof(&f, fd, &r);
    ck_assert_int_eq(r.status, 200);
    response_free(&r);

    /* a regular file in the way is not removed */
    stats_stop(f.s);
    f.s = NULL;
    ck_assert_int_ne(stat(path, &st), 0);
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    s2 = stats_start(f.base, listen, f.m, NULL, NULL, NULL, err, sizeof(err));
    ck_assert_ptr_null(s2);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    unlink(path);
    rmdir(dir);
    fixture_free(&f);
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_metrics_prometheus);
    tcase_add_test(tc, test_stats_json);
    tcase_add_test(tc, test_healthz);
    tcase_add_test(tc, test_null_callbacks);
    tcase_add_test(tc, test_page);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_method_not_allowed);
    tcase_add_test(tc, test_head);
    tcase_add_test(tc, test_head_keepalive);
    tcase_add_test(tc, test_hostile_requests);
    tcase_add_test(tc, test_slow_clients_do_not_block);
    tcase_add_test(tc, test_bind_errors);
    tcase_add_test(tc, test_stop);
    tcase_add_test(tc, test_unix_socket);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stats_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
