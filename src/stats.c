/*
 * stats.c — the HTTP stats port on evhttp (see stats.h).
 *
 * The listening socket is made here (so errors carry errno and unix paths
 * work) and handed to evhttp, which owns it from then on. Every request goes
 * through one generic callback that routes on the path alone. Response
 * bodies are built in one evbuffer kept for the server's life: evhttp moves
 * its contents out when the reply is sent, so requests allocate no buffer
 * of their own, and the page is added by reference, never copied.
 *
 * HEAD: evhttp 2.1 would send a body given for a HEAD reply (and then the
 * next response on a kept-alive connection would be garbled), and it leaves
 * out Content-Length for HEAD. So the body is built as for GET, its length
 * goes into Content-Length by hand, and the body is dropped before sending.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "addr.h"
#include "metrics.h"
#include "stats.h"
#include "stats_page.h"

#define STATS_BACKLOG 64

struct stats {
    struct evhttp *http;
    struct evbuffer *body;       /* response body being built; empty
                                    between requests */
    struct metrics *m;
    stats_collect_fn collect;
    stats_health_fn health;
    void *arg;
    int port;                    /* TCP port bound; 0 for unix */
    char *unix_path;             /* unix socket to remove at stop, or NULL */
    dev_t unix_dev;              /* identity of the socket we bound, so a */
    ino_t unix_ino;              /* path taken over since is left alone */
};

enum stats_route {
    ROUTE_NONE,
    ROUTE_PAGE,
    ROUTE_METRICS,
    ROUTE_STATS,
    ROUTE_HEALTH,
};

static void stats_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void stats_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static enum stats_route stats_route_of(const char *path)
{
    if (path == NULL)
        return ROUTE_NONE;
    if (strcmp(path, "/") == 0)
        return ROUTE_PAGE;
    if (strcmp(path, "/metrics") == 0)
        return ROUTE_METRICS;
    if (strcmp(path, "/stats") == 0)
        return ROUTE_STATS;
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTH;
    return ROUTE_NONE;
}

static uint64_t stats_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Send s->body (already filled) with the given status and type. For HEAD
 * the body's length is announced and the body dropped. */
static void stats_reply(struct stats *s, struct evhttp_request *req,
                        int code, const char *reason, const char *ctype,
                        const char *allow)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    size_t len = evbuffer_get_length(s->body);
    char lenbuf[32];
    int fail = 0;

    fail |= evhttp_add_header(h, "Content-Type", ctype);
    fail |= evhttp_add_header(h, "Cache-Control", "no-store");
    fail |= evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (allow != NULL)
        fail |= evhttp_add_header(h, "Allow", allow);
    if (code == 200 && strncmp(ctype, "text/html", 9) == 0)
        fail |= evhttp_add_header(h, "Content-Security-Policy",
                                  "default-src 'none'; connect-src 'self'; "
                                  "script-src 'unsafe-inline'; "
                                  "style-src 'unsafe-inline'; img-src data:");
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
        fail |= evhttp_add_header(h, "Content-Length", lenbuf);
        evbuffer_drain(s->body, len);
    }
    if (fail != 0) {
        /* Out of memory: a bare 500 is all that can be said. */
        evbuffer_drain(s->body, evbuffer_get_length(s->body));
        evhttp_clear_headers(h);
        evhttp_send_reply(req, 500, "Internal Server Error", NULL);
        return;
    }
    evhttp_send_reply(req, code, reason, s->body);
    /* evhttp moved the chains out; make sure nothing leaks into the next
     * response even if it could not. */
    evbuffer_drain(s->body, evbuffer_get_length(s->body));
}

static void stats_reply_text(struct stats *s, struct evhttp_request *req,
                             int code, const char *reason, const char *text,
                             const char *allow)
{
    evbuffer_drain(s->body, evbuffer_get_length(s->body));
    if (evbuffer_add(s->body, text, strlen(text)) != 0) {
        code = 500;
        reason = "Internal Server Error";
        evbuffer_drain(s->body, evbuffer_get_length(s->body));
    }
    stats_reply(s, req, code, reason, "text/plain; charset=utf-8", allow);
}

static void stats_render(struct stats *s, struct evhttp_request *req,
                         enum stats_route route)
{
    const char *ctype;
    int rc;

    if (s->collect != NULL)
        s->collect(s->arg, s->m);
    evbuffer_drain(s->body, evbuffer_get_length(s->body));
    if (route == ROUTE_METRICS) {
        ctype = "text/plain; version=0.0.4; charset=utf-8";
        rc = metrics_render_prometheus(s->m, s->body);
    } else {
        ctype = "application/json";
        rc = metrics_render_json(s->m, stats_wall_us(), s->body);
    }
    if (rc < 0) {
        stats_reply_text(s, req, 500, "Internal Server Error",
                         "cannot render the metrics\n", NULL);
        return;
    }
    stats_reply(s, req, 200, "OK", ctype, NULL);
}

static void stats_handle(struct evhttp_request *req, void *arg)
{
    struct stats *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    enum stats_route route;

    route = stats_route_of(uri != NULL ? evhttp_uri_get_path(uri) : NULL);
    if (route == ROUTE_NONE) {
        stats_reply_text(s, req, 404, "Not Found", "not found\n", NULL);
        return;
    }
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        stats_reply_text(s, req, 405, "Method Not Allowed",
                         "method not allowed\n", "GET, HEAD");
        return;
    }
    switch (route) {
    case ROUTE_PAGE:
        evbuffer_drain(s->body, evbuffer_get_length(s->body));
        if (evbuffer_add_reference(s->body, stats_page_html,
                                   sizeof(stats_page_html) - 1,
                                   NULL, NULL) != 0) {
            stats_reply_text(s, req, 500, "Internal Server Error",
                             "out of memory\n", NULL);
            return;
        }
        stats_reply(s, req, 200, "OK", "text/html; charset=utf-8", NULL);
        return;
    case ROUTE_METRICS:
    case ROUTE_STATS:
        stats_render(s, req, route);
        return;
    case ROUTE_HEALTH:
        if (s->health == NULL || s->health(s->arg) == 1)
            stats_reply_text(s, req, 200, "OK", "ok\n", NULL);
        else
            stats_reply_text(s, req, 503, "Service Unavailable",
                             "upstream unavailable\n", NULL);
        return;
    case ROUTE_NONE:
        break;
    }
}

/* A unix socket file that nobody accepts on any more (connect is refused)
 * is stale and may be removed. */
static int stats_unix_stale(const struct sockaddr_un *sun, socklen_t len)
{
    struct stat st;
    int fd, rc, stale;

    if (lstat(sun->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    rc = connect(fd, (const struct sockaddr *)sun, len);
    stale = rc != 0 && errno == ECONNREFUSED;
    close(fd);
    return stale;
}

/* Bind and listen; returns the socket or -1 with errno set. */
static int stats_listen_socket(const struct sockaddr_storage *ss,
                               socklen_t len)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
    int fd, one = 1, err;

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (ss->ss_family != AF_UNIX &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)ss, len) != 0) {
        err = errno;
        if (ss->ss_family != AF_UNIX || err != EADDRINUSE ||
            !stats_unix_stale(sun, len) || unlink(sun->sun_path) != 0) {
            errno = err;
            goto fail;
        }
        if (bind(fd, (const struct sockaddr *)ss, len) != 0)
            goto fail;
    }
    if (listen(fd, STATS_BACKLOG) != 0)
        goto fail;
    return fd;
fail:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* Record the bound port, or the unix path and its identity. */
static int stats_note_address(struct stats *s, int fd,
                              const struct sockaddr_storage *ss)
{
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    struct stat st;

    if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;

        s->unix_path = strdup(sun->sun_path);
        if (s->unix_path == NULL)
            return -1;
        if (stat(s->unix_path, &st) == 0) {
            s->unix_dev = st.st_dev;
            s->unix_ino = st.st_ino;
        }
        return 0;
    }
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0)
        return -1;
    if (bound.ss_family == AF_INET)
        s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    else if (bound.ss_family == AF_INET6)
        s->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    return 0;
}

/* Remove the unix socket we bound, unless the path now names another. */
static void stats_unlink(struct stats *s)
{
    struct stat st;

    if (s->unix_path == NULL)
        return;
    if (stat(s->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_dev == s->unix_dev && st.st_ino == s->unix_ino)
        unlink(s->unix_path);
}

struct stats *stats_start(struct event_base *base, const char *listen,
                          struct metrics *m, stats_collect_fn collect,
                          stats_health_fn health, void *arg, char *err,
                          size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct stats *s;
    int fd;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (base == NULL || listen == NULL || m == NULL) {
        stats_err(err, errlen, "stats: missing event base, address or metrics");
        return NULL;
    }
    if (addr_parse(listen, &ss, &len) != 0) {
        stats_err(err, errlen,
                  "stats listen '%s': invalid address (expected host:port "
                  "or unix:/path)", listen);
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        stats_err(err, errlen, "stats listen %s: out of memory", listen);
        return NULL;
    }
    s->m = m;
    s->collect = collect;
    s->health = health;
    s->arg = arg;
    s->body = evbuffer_new();
    s->http = evhttp_new(base);
    if (s->body == NULL || s->http == NULL) {
        stats_err(err, errlen, "stats listen %s: out of memory", listen);
        goto fail;
    }
    evhttp_set_timeout(s->http, STATS_TIMEOUT_S);
    evhttp_set_max_headers_size(s->http, STATS_MAX_HEADERS);
    evhttp_set_max_body_size(s->http, STATS_MAX_BODY);
    /* Let every method evhttp knows reach stats_handle, so it can answer
     * 405 with Allow instead of evhttp's bare 501. */
    evhttp_set_allowed_methods(s->http,
                               EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
                               EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                               EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                               EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
                               EVHTTP_REQ_PATCH);
    evhttp_set_gencb(s->http, stats_handle, s);

    fd = stats_listen_socket(&ss, len);
    if (fd < 0) {
        stats_err(err, errlen, "stats listen %s: %s", listen,
                  strerror(errno));
        goto fail;
    }
    if (stats_note_address(s, fd, &ss) != 0) {
        stats_err(err, errlen, "stats listen %s: %s", listen,
                  strerror(errno));
        close(fd);
        goto fail_unlink;
    }
    if (evhttp_accept_socket_with_handle(s->http, fd) == NULL) {
        stats_err(err, errlen, "stats listen %s: cannot serve the socket",
                  listen);
        close(fd);
        goto fail_unlink;
    }
    return s;

fail_unlink:
    stats_unlink(s);
fail:
    if (s->http != NULL)
        evhttp_free(s->http);
    if (s->body != NULL)
        evbuffer_free(s->body);
    free(s->unix_path);
    free(s);
    return NULL;
}

int stats_port(const struct stats *s)
{
    return s != NULL ? s->port : 0;
}

void stats_stop(struct stats *s)
{
    if (s == NULL)
        return;
    evhttp_free(s->http);        /* closes the listener and connections */
    evbuffer_free(s->body);
    stats_unlink(s);
    free(s->unix_path);
    free(s);
}
