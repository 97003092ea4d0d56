/*
 * stats.h — the read-only HTTP stats port (SPEC "Stats port").
 *
 * Served by evhttp on the proxy's own event loop, never blocking it:
 *   GET /metrics  Prometheus text 0.0.4 (metrics_render_prometheus)
 *   GET /stats    JSON (metrics_render_json)
 *   GET /healthz  200 "ok\n" when health() says so, else 503
 *                 "upstream unavailable\n"
 *   GET /         a self-contained HTML page plotting the latency
 *                 histograms from /stats (no external assets)
 * HEAD works on every path and sends the GET headers (Content-Length
 * included) without a body. Other methods on those paths get 405 with
 * "Allow: GET, HEAD"; other paths 404. The query string is ignored.
 *
 * Limits against slow or hostile clients: a connection silent or not
 * reading for STATS_TIMEOUT_S seconds is closed, request headers are capped
 * at STATS_MAX_HEADERS bytes and bodies at STATS_MAX_BODY bytes (larger gets
 * 413 and a close). libevent 2.1's evhttp offers no way to learn when an
 * incoming connection closes, so the number of concurrent stats connections
 * is not capped: each one costs a descriptor and at most one response in
 * memory until it finishes or times out. The stats port is loopback by
 * default.
 */
#ifndef CORRAL_STATS_H
#define CORRAL_STATS_H

#include <stddef.h>

#define STATS_TIMEOUT_S   10
#define STATS_MAX_HEADERS 8192
#define STATS_MAX_BODY    1024

struct event_base;
struct metrics;
struct stats;

/* Called before /metrics and /stats are rendered, to set the gauges in m. */
typedef void (*stats_collect_fn)(void *arg, struct metrics *m);

/* Returns 1 when healthy (the upstream is connected), anything else when
 * not. */
typedef int (*stats_health_fn)(void *arg);

/* Listen on `listen` ("host:port", "[v6]:port" or "unix:/path"; port 0
 * picks a free port, see stats_port) and serve on base. m is read (and
 * passed to collect) at each request and must outlive the server. collect
 * and health may be NULL (no refresh; always healthy); they must not call
 * stats_stop. A unix socket path left behind by a dead process is replaced;
 * one still accepting connections is not. Returns the server, or NULL with
 * a message in err (bad address, bind/listen failure, out of memory). */
struct stats *stats_start(struct event_base *base, const char *listen,
                          struct metrics *m, stats_collect_fn collect,
                          stats_health_fn health, void *arg, char *err,
                          size_t errlen);

/* The TCP port actually bound (useful after port 0), or 0 for a unix
 * socket. */
int stats_port(const struct stats *s);

/* Close the listener and every open stats connection (responses in flight
 * are dropped), remove a unix socket path, and free s. NULL is a no-op.
 * Call it from the loop thread, not from inside collect or health. */
void stats_stop(struct stats *s);

#endif
