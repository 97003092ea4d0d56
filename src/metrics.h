/*
 * metrics.h — every metric corral exports, declared once.
 *
 * METRICS_LIST is the single list (symbol, kind, family name, labels, help).
 * Entries of one family are adjacent and differ only by labels. The same list
 * is rendered by the stats port's /metrics (Prometheus text), /stats (JSON)
 * and by `corral --describe-stats`. Latency histograms are declared the same
 * way in LATENCY_LIST.
 *
 * Counters are plain uint64_t bumped by the single event-loop thread
 * (metrics_inc); gauges are set when the stats are collected.
 */
#ifndef CORRAL_METRICS_H
#define CORRAL_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "hist.h"

struct evbuffer;

/* X(symbol, kind, name, labels, help); kind is COUNTER or GAUGE. */
#define METRICS_LIST(X) \
    X(REQ_HIT, COUNTER, "corral_requests_total", "class=\"hit\"", "Client requests by class") \
    X(REQ_MISS, COUNTER, "corral_requests_total", "class=\"miss\"", "Client requests by class") \
    X(REQ_COALESCED, COUNTER, "corral_requests_total", "class=\"coalesced\"", "Client requests by class") \
    X(REQ_LEASE_WAIT, COUNTER, "corral_requests_total", "class=\"lease_wait\"", "Client requests by class") \
    X(REQ_PASSTHROUGH, COUNTER, "corral_requests_total", "class=\"passthrough\"", "Client requests by class") \
    X(CACHE_HITS, COUNTER, "corral_cache_hits_total", "", "Keys answered from the local cache") \
    X(CACHE_MISSES, COUNTER, "corral_cache_misses_total", "", "Cacheable keys not found in the local cache") \
    X(COALESCED, COUNTER, "corral_coalesced_reads_total", "", "Reads that joined a fill already in flight") \
    X(FILLS, COUNTER, "corral_upstream_fills_total", "", "Upstream fills sent for cache misses") \
    X(FILL_ERRORS, COUNTER, "corral_upstream_fill_errors_total", "", "Fills that failed (error, timeout, upstream loss)") \
    X(FILLS_UNSTORED, COUNTER, "corral_fills_not_stored_total", "", "Fills served but not stored because the key was invalidated meanwhile") \
    X(EVICTIONS, COUNTER, "corral_cache_evictions_total", "", "Entries evicted to stay within cache.max_memory") \
    X(INVAL_WRITE, COUNTER, "corral_invalidations_total", "source=\"write\"", "Local cache invalidations by source") \
    X(INVAL_TRACKING, COUNTER, "corral_invalidations_total", "source=\"tracking\"", "Local cache invalidations by source") \
    X(INVAL_FLUSH, COUNTER, "corral_invalidations_total", "source=\"flush\"", "Local cache invalidations by source") \
    X(CACHE_ENTRIES, GAUGE, "corral_cache_entries", "", "Entries in the local cache") \
    X(CACHE_BYTES, GAUGE, "corral_cache_bytes", "", "Bytes charged to cache.max_memory, overhead included") \
    X(LEASES_GRANTED, COUNTER, "corral_leases_granted_total", "", "Leases granted to a client that read a missing key") \
    X(LEASES_FULFILLED_WRITE, COUNTER, "corral_leases_fulfilled_total", "by=\"write\"", "Leases ended by a write of the key") \
    X(LEASES_FULFILLED_INVAL, COUNTER, "corral_leases_fulfilled_total", "by=\"invalidation\"", "Leases ended by a write of the key") \
    X(LEASES_EXPIRED, COUNTER, "corral_leases_expired_total", "", "Leases whose holder did not write in time") \
    X(LEASES_HANDED_OVER, COUNTER, "corral_leases_handed_over_total", "", "Leases passed to a waiting reader") \
    X(LEASE_WAITING, GAUGE, "corral_lease_waiting", "", "Readers parked on a lease now") \
    X(CLIENTS_CONNECTED, GAUGE, "corral_client_connections", "", "Client connections open now") \
    X(CLIENTS_TOTAL, COUNTER, "corral_client_connections_total", "", "Client connections accepted") \
    X(CLIENTS_REJECTED, COUNTER, "corral_clients_rejected_total", "", "Connections refused at clients.max") \
    X(PROTOCOL_ERRORS, COUNTER, "corral_protocol_errors_total", "", "Client connections closed for malformed or oversized requests") \
    X(OUTPUT_LIMIT_CLOSED, COUNTER, "corral_output_limit_disconnects_total", "", "Clients disconnected at clients.output_limit") \
    X(UPSTREAM_ERRORS, COUNTER, "corral_upstream_errors_total", "", "Requests failed by corral because the upstream was unavailable or timed out") \
    X(UPSTREAM_RECONNECTS, COUNTER, "corral_upstream_reconnects_total", "", "Upstream connections (re)established") \
    X(UPSTREAM_CONNECTED, GAUGE, "corral_upstream_connected", "", "Shared upstream connections up now") \
    X(UPSTREAM_PINNED, GAUGE, "corral_upstream_pinned_connections", "", "Upstream connections pinned to a client now")

/* X(symbol, class label, help) */
#define LATENCY_LIST(X) \
    X(LAT_HIT, "hit", "GET/MGET answered from the local cache") \
    X(LAT_MISS, "miss", "Read that went upstream as a fill") \
    X(LAT_COALESCED, "coalesced", "Read that joined a fill in flight") \
    X(LAT_LEASE_WAIT, "lease_wait", "Read parked on a lease") \
    X(LAT_PASSTHROUGH, "passthrough", "Command forwarded unchanged")

enum metric_id {
#define METRIC_ENUM(sym, kind, name, labels, help) M_##sym,
    METRICS_LIST(METRIC_ENUM)
#undef METRIC_ENUM
    M__COUNT
};

enum latency_id {
#define LAT_ENUM(sym, label, help) sym,
    LATENCY_LIST(LAT_ENUM)
#undef LAT_ENUM
    LAT__COUNT
};

struct metrics {
    uint64_t v[M__COUNT];
    struct hist lat[LAT__COUNT];   /* request latency by class */
    struct hist upstream_rtt;      /* upstream round trip per request */
    uint64_t started_us;           /* wall clock at start, for rates */
};

#define metrics_inc(m, sym) ((m)->v[M_##sym]++)
#define metrics_add(m, sym, n) ((m)->v[M_##sym] += (n))
#define metrics_set(m, sym, n) ((m)->v[M_##sym] = (n))

void metrics_init(struct metrics *m);

/* Render in Prometheus text format 0.0.4 into out. */
int metrics_render_prometheus(const struct metrics *m, struct evbuffer *out);

/* Render as JSON (counters, rates per second since start, and per latency
 * class count/p50/p90/p99/p99.9/max in microseconds) into out. now_us is the
 * wall clock. */
int metrics_render_json(const struct metrics *m, uint64_t now_us,
                        struct evbuffer *out);

/* Print every metric with its type and help text (corral --describe-stats). */
void metrics_describe(FILE *f);

#endif
