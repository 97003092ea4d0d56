/*
 * check_metrics.c — unit tests for the metrics renderers: Prometheus text
 * (exact sample lines, one HELP/TYPE per family, cumulative buckets), JSON
 * (parsed back by a strict validator) and the --describe-stats listing.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

#define LAT_FAMILY "corral_request_duration_seconds"
#define RTT_FAMILY "corral_upstream_rtt_seconds"

static struct metrics *metrics_new(void)
{
    struct metrics *m = malloc(sizeof(*m));

    ck_assert_ptr_nonnull(m);
    metrics_init(m);
    return m;
}

/* The buffer's contents as a NUL-terminated string (caller frees). */
static char *drain(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(evbuffer_remove(b, s, n), (int)n);
    s[n] = '\0';
    return s;
}

static char *render_prom(const struct metrics *m)
{
    struct evbuffer *b = evbuffer_new();
    char *s;

    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(metrics_render_prometheus(m, b), 0);
    s = drain(b);
    evbuffer_free(b);
    return s;
}

static char *render_json(const struct metrics *m, uint64_t now_us)
{
    struct evbuffer *b = evbuffer_new();
    char *s;

    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(metrics_render_json(m, now_us, b), 0);
    s = drain(b);
    evbuffer_free(b);
    return s;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* The text contains this whole line. */
static int has_line(const char *text, const char *line)
{
    size_t len = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[len] == '\n')
            return 1;
    return 0;
}

/* Value of the sample line starting with prefix ("name{labels} "). */
static double sample(const char *text, const char *prefix)
{
    size_t len = strlen(prefix);

    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++) {
        if (p == text || p[-1] == '\n') {
            char *end;
            double v = strtod(p + len, &end);

            ck_assert_msg(end != p + len && *end == '\n', "bad value: %s",
                          prefix);
            return v;
        }
    }
    ck_abort_msg("no sample %s", prefix);
    return 0;
}

/* ---- Prometheus ---- */

/* Check the exposition grammar: each line is "# HELP name text",
 * "# TYPE name type" or "name[{labels}] value"; every sample belongs to the
 * family of the latest TYPE line (histograms: _bucket, _sum, _count); no
 * family is declared twice. */
static void check_exposition(const char *text)
{
    char family[128] = "", type[16] = "", seen[4096] = " ";
    const char *p = text;

    ck_assert(text[0] != '\0' && text[strlen(text) - 1] == '\n');
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        char line[512], name[128], *sp, *end;
        size_t len = (size_t)(nl - p), nlen;

        ck_assert_uint_lt(len, sizeof(line));
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            ck_assert(sscanf(line + 7, "%127s", name) == 1);
            ck_assert_msg(strlen(line) > 8 + strlen(name), "empty help");
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char key[140];

            ck_assert(sscanf(line + 7, "%127s %15s", family, type) == 2);
            ck_assert(strcmp(type, "counter") == 0 ||
                      strcmp(type, "gauge") == 0 ||
                      strcmp(type, "histogram") == 0);
            snprintf(key, sizeof(key), " %s ", family);
            ck_assert_msg(strstr(seen, key) == NULL, "family twice: %s",
                          family);
            ck_assert_uint_lt(strlen(seen) + strlen(key), sizeof(seen));
            strcat(seen, key + 1);
            continue;
        }
        ck_assert_msg(line[0] != '#', "stray comment: %s", line);
        nlen = strcspn(line, "{ ");
        ck_assert(nlen > 0 && nlen < sizeof(name));
        memcpy(name, line, nlen);
        name[nlen] = '\0';
        ck_assert_msg(family[0] != '\0', "sample before TYPE: %s", line);
        if (strcmp(type, "histogram") == 0) {
            size_t flen = strlen(family);

            ck_assert_msg(strncmp(name, family, flen) == 0 &&
                          (strcmp(name + flen, "_bucket") == 0 ||
                           strcmp(name + flen, "_sum") == 0 ||
                           strcmp(name + flen, "_count") == 0),
                          "%s outside %s", name, family);
        } else {
            ck_assert_msg(strcmp(name, family) == 0, "%s outside %s", name,
                          family);
        }
        sp = strrchr(line, ' ');
        ck_assert_ptr_nonnull(sp);
        if (line[nlen] == '{')
            ck_assert_msg(sp[-1] == '}', "unclosed labels: %s", line);
        else
            ck_assert(sp == line + nlen);
        strtod(sp + 1, &end);
        ck_assert_msg(end != sp + 1 && *end == '\0', "bad value: %s", line);
    }
}

/* Buckets of one histogram series are cumulative, match the fixed bounds,
 * and +Inf equals _count. Returns _count. */
static double check_hist_series(const char *text, const char *family,
                                const char *labels)
{
    const char *sep = labels[0] != '\0' ? "," : "";
    char prefix[256];
    double prev = 0, v, count;
    size_t le_lines = 0;

    for (size_t i = 0; i < hist_prom_nbounds; i++) {
        const char *p, *q;

        snprintf(prefix, sizeof(prefix), "%s_bucket{%s%sle=\"", family,
                 labels, sep);
        p = strstr(text, prefix);
        ck_assert_ptr_nonnull(p);
        /* the i-th le line of the series */
        for (size_t k = 0; k < i; k++) {
            p = strstr(p + 1, prefix);
            ck_assert_ptr_nonnull(p);
        }
        p += strlen(prefix);
        q = strchr(p, '"');
        ck_assert_int_eq(llround(strtod(p, NULL) * 1e9),
                         (long long)hist_prom_bounds[i]);
        ck_assert(strncmp(q, "\"} ", 3) == 0);
        v = strtod(q + 3, NULL);
        ck_assert_msg(v >= prev, "%s{%s} not cumulative", family, labels);
        prev = v;
        le_lines++;
    }
    snprintf(prefix, sizeof(prefix), "%s_bucket{%s%sle=\"", family, labels,
             sep);
    ck_assert_uint_eq(count_of(text, prefix), le_lines + 1);
    snprintf(prefix, sizeof(prefix), "%s_bucket{%s%sle=\"+Inf\"} ", family,
             labels, sep);
    v = sample(text, prefix);
    ck_assert(v >= prev);
    if (labels[0] != '\0')
        snprintf(prefix, sizeof(prefix), "%s_count{%s} ", family, labels);
    else
        snprintf(prefix, sizeof(prefix), "%s_count ", family);
    count = sample(text, prefix);
    ck_assert(v == count);
    return count;
}

static void check_all_series(const char *text, const struct metrics *m)
{
    static const char *classes[] = {
#define LAT_CLASS(sym, label, help) label,
        LATENCY_LIST(LAT_CLASS)
#undef LAT_CLASS
    };
    char labels[64];

    for (size_t i = 0; i < LAT__COUNT; i++) {
        snprintf(labels, sizeof(labels), "class=\"%s\"", classes[i]);
        ck_assert(check_hist_series(text, LAT_FAMILY, labels) ==
                  (double)m->lat[i].count);
    }
    ck_assert(check_hist_series(text, RTT_FAMILY, "") ==
              (double)m->upstream_rtt.count);
}

START_TEST(test_prom_counters)
{
    struct metrics *m = metrics_new();
    char *s;

    metrics_inc(m, REQ_MISS);
    metrics_add(m, REQ_HIT, 41);
    metrics_inc(m, REQ_HIT);
    metrics_add(m, CACHE_HITS, 18446744073709551615ULL);
    metrics_set(m, CACHE_BYTES, 1048576);
    metrics_inc(m, INVAL_FLUSH);
    s = render_prom(m);
    check_exposition(s);
    ck_assert(has_line(s, "corral_requests_total{class=\"hit\"} 42"));
    ck_assert(has_line(s, "corral_requests_total{class=\"miss\"} 1"));
    ck_assert(has_line(s, "corral_requests_total{class=\"coalesced\"} 0"));
    ck_assert(has_line(s, "corral_cache_hits_total 18446744073709551615"));
    ck_assert(has_line(s, "corral_cache_bytes 1048576"));
    ck_assert(has_line(s, "corral_invalidations_total{source=\"flush\"} 1"));
    ck_assert(has_line(s, "# TYPE corral_requests_total counter"));
    ck_assert(has_line(s, "# HELP corral_requests_total "
                          "Client requests by class"));
    ck_assert(has_line(s, "# TYPE corral_cache_bytes gauge"));
    ck_assert(has_line(s, "# TYPE " LAT_FAMILY " histogram"));
    ck_assert(has_line(s, "# TYPE " RTT_FAMILY " histogram"));
    free(s);
    free(m);
}
END_TEST

START_TEST(test_prom_every_metric)
{
    /* Every listed series appears exactly once; every family has exactly
     * one HELP and one TYPE line. */
    struct metrics *m = metrics_new();
    char *s, want[256];

    for (size_t i = 0; i < M__COUNT; i++)
        m->v[i] = 1000 + i;
    s = render_prom(m);
    check_exposition(s);
#define CHECK_SERIES(sym, kind, name, labels, help)                          \
    snprintf(want, sizeof(want), "%s%s%s%s %llu", name,                      \
             labels[0] ? "{" : "", labels, labels[0] ? "}" : "",             \
             (unsigned long long)(1000 + M_##sym));                          \
    ck_assert_msg(has_line(s, want), "missing %s", want);                    \
    snprintf(want, sizeof(want), "\n# TYPE %s ", name);                      \
    ck_assert_uint_eq(count_of(s, want), 1);                                 \
    snprintf(want, sizeof(want), "\n# HELP %s ", name);                      \
    ck_assert_uint_eq(count_of(s, want) + (strncmp(s, want + 1,              \
                      strlen(want + 1)) == 0), 1);
    METRICS_LIST(CHECK_SERIES)
#undef CHECK_SERIES
    free(s);
    free(m);
}
END_TEST

START_TEST(test_prom_histogram)
{
    struct metrics *m = metrics_new();
    char *s;

    hist_record(&m->lat[LAT_HIT], 500);             /* counts as 1 us */
    hist_record(&m->lat[LAT_HIT], 1000);
    hist_record(&m->lat[LAT_HIT], 2000);
    hist_record(&m->lat[LAT_HIT], 3000000);         /* 3 ms */
    hist_record(&m->lat[LAT_HIT], 70000000000ULL);  /* 70 s: overflow */
    hist_record(&m->upstream_rtt, 250000);
    hist_record(&m->upstream_rtt, 1500000);
    s = render_prom(m);
    check_exposition(s);
    check_all_series(s, m);
#define HIT LAT_FAMILY "_bucket{class=\"hit\",le="
    ck_assert(has_line(s, HIT "\"0.000001\"} 2"));
    ck_assert(has_line(s, HIT "\"0.0000025\"} 3"));
    ck_assert(has_line(s, HIT "\"0.0025\"} 3"));
    ck_assert(has_line(s, HIT "\"0.005\"} 4"));
    ck_assert(has_line(s, HIT "\"60\"} 4"));
    ck_assert(has_line(s, HIT "\"+Inf\"} 5"));
#undef HIT
    ck_assert(has_line(s, LAT_FAMILY "_sum{class=\"hit\"} 70.003004"));
    ck_assert(has_line(s, LAT_FAMILY "_count{class=\"hit\"} 5"));
    ck_assert(has_line(s, LAT_FAMILY "_bucket{class=\"miss\",le=\"+Inf\"} 0"));
    ck_assert(has_line(s, LAT_FAMILY "_sum{class=\"miss\"} 0"));
    ck_assert(has_line(s, RTT_FAMILY "_bucket{le=\"0.00025\"} 0"));
    ck_assert(has_line(s, RTT_FAMILY "_bucket{le=\"0.0005\"} 1"));
    ck_assert(has_line(s, RTT_FAMILY "_bucket{le=\"0.0025\"} 2"));
    ck_assert(has_line(s, RTT_FAMILY "_bucket{le=\"+Inf\"} 2"));
    ck_assert(has_line(s, RTT_FAMILY "_sum 0.00175"));
    ck_assert(has_line(s, RTT_FAMILY "_count 2"));
    free(s);
    free(m);
}
END_TEST

START_TEST(test_prom_histogram_random)
{
    struct metrics *m = metrics_new();
    uint64_t x = 12345;
    char *s;

    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hist_record(&m->lat[i % LAT__COUNT], x % 100000000000ULL);
        hist_record(&m->upstream_rtt, (x >> 20) % 50000000ULL);
    }
    s = render_prom(m);
    check_exposition(s);
    check_all_series(s, m);
    free(s);
    free(m);
}
END_TEST

START_TEST(test_prom_empty)
{
    struct metrics *m = metrics_new();
    char *s = render_prom(m);

    check_exposition(s);
    check_all_series(s, m);
    free(s);
    free(m);
}
END_TEST

START_TEST(test_render_failure)
{
    /* A buffer that refuses data makes both renderers report -1. */
    struct metrics *m = metrics_new();
    struct evbuffer *b = evbuffer_new();

    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(evbuffer_freeze(b, 0), 0);
    ck_assert_int_eq(metrics_render_prometheus(m, b), -1);
    ck_assert_int_eq(metrics_render_json(m, m->started_us + 1, b), -1);
    evbuffer_free(b);
    free(m);
}
END_TEST

/* ---- JSON ---- */

/* Strict JSON validator (RFC 8259 grammar); returns the end or NULL. */
static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        unsigned char c = (unsigned char)*p;

        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (strchr("0123456789abcdefABCDEF", p[i]) == NULL ||
                        p[i] == '\0')
                        return NULL;
                p += 4;
            } else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL) {
                return NULL;
            }
        }
        p++;
    }
    return p + 1;
}

static const char *json_digits(const char *p)
{
    if (*p < '0' || *p > '9')
        return NULL;
    while (*p >= '0' && *p <= '9')
        p++;
    return p;
}

static const char *json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if ((p = json_digits(p)) == NULL)
        return NULL;
    if (*p == '.' && (p = json_digits(p + 1)) == NULL)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        p = json_digits(p);
    }
    return p;
}

static const char *json_value(const char *p, int depth)
{
    char close;

    if (depth > 32)
        return NULL;
    p = json_ws(p);
    if (*p == '"')
        return json_string(p);
    if (*p == '-' || (*p >= '0' && *p <= '9'))
        return json_number(p);
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    if (*p != '{' && *p != '[')
        return NULL;
    close = *p == '{' ? '}' : ']';
    p = json_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {
            if ((p = json_string(json_ws(p))) == NULL)
                return NULL;
            p = json_ws(p);
            if (*p++ != ':')
                return NULL;
        }
        if ((p = json_value(p, depth + 1)) == NULL)
            return NULL;
        p = json_ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

static int json_valid(const char *s)
{
    const char *end = json_value(s, 0);

    return end != NULL && *json_ws(end) == '\0';
}

START_TEST(test_json_validator)
{
    /* The validator itself must reject what a broken renderer could emit. */
    ck_assert(json_valid("{\"a\":[1,2.5,-3e+06,{\"b\":{}}],\"c\":\"\\\"\"}"));
    ck_assert(!json_valid("{\"a\":1,}"));
    ck_assert(!json_valid("{\"a\":nan}"));
    ck_assert(!json_valid("{\"a\":inf}"));
    ck_assert(!json_valid("{\"a\":1.}"));
    ck_assert(!json_valid("{\"a\":\"x\ny\"}"));
    ck_assert(!json_valid("{\"a\":1}{"));
    ck_assert(!json_valid("{\"a\":[1,2}"));
    ck_assert(!json_valid("{a:1}"));
}
END_TEST

START_TEST(test_json_counters)
{
    struct metrics *m = metrics_new();
    char *s;

    m->started_us = 1000000;
    metrics_add(m, REQ_HIT, 25);
    metrics_set(m, CACHE_ENTRIES, 9);
    metrics_add(m, INVAL_TRACKING, 3);
    s = render_json(m, 11000000);
    ck_assert_msg(json_valid(s), "invalid JSON: %.300s", s);
    ck_assert(strncmp(s, "{\"uptime_seconds\":10,", 21) == 0);
    ck_assert_ptr_nonnull(strstr(s,
        "{\"name\":\"corral_requests_total\",\"labels\":{\"class\":\"hit\"},"
        "\"type\":\"counter\",\"value\":25,\"rate\":2.5}"));
    ck_assert_ptr_nonnull(strstr(s,
        "{\"name\":\"corral_invalidations_total\","
        "\"labels\":{\"source\":\"tracking\"},"
        "\"type\":\"counter\",\"value\":3,\"rate\":0.3}"));
    ck_assert_ptr_nonnull(strstr(s,
        "{\"name\":\"corral_cache_entries\",\"labels\":{},"
        "\"type\":\"gauge\",\"value\":9}"));
    ck_assert_uint_eq(count_of(s, "{\"name\":"), M__COUNT);
    free(s);
    free(m);
}
END_TEST

START_TEST(test_json_latency)
{
    struct metrics *m = metrics_new();
    char *s, key[64];

    m->started_us = 5000000;
    for (int i = 0; i < 1000; i++)
        hist_record(&m->lat[LAT_COALESCED], 131072);    /* a bucket edge */
    for (int i = 1; i <= 1000; i++)
        hist_record(&m->lat[LAT_MISS], (uint64_t)i * 100000);
    hist_record(&m->lat[LAT_MISS], 61000000000ULL);
    hist_record(&m->upstream_rtt, 2000);
    s = render_json(m, 7000000);
    ck_assert_msg(json_valid(s), "invalid JSON: %.300s", s);
    ck_assert_ptr_nonnull(strstr(s,
        "\"coalesced\":{\"count\":1000,\"rate\":500,\"sum_us\":131072,"
        "\"min_us\":131.072,\"p50_us\":131.072,\"p90_us\":131.072,"
        "\"p99_us\":131.072,\"p999_us\":131.072,\"max_us\":131.072,"
        "\"overflow\":0,\"buckets\":[[131.072,1000]]}"));
    ck_assert_ptr_nonnull(strstr(s,
        "\"upstream_rtt\":{\"count\":1,\"rate\":0.5,\"sum_us\":2,"
        "\"min_us\":2,\"p50_us\":2,"));
    ck_assert_ptr_nonnull(strstr(s, "\"max_us\":61000000,\"overflow\":1,"));
    ck_assert_ptr_nonnull(strstr(s,
        "\"passthrough\":{\"count\":0,\"rate\":0,\"sum_us\":0,\"min_us\":0,"
        "\"p50_us\":0,\"p90_us\":0,\"p99_us\":0,\"p999_us\":0,\"max_us\":0,"
        "\"overflow\":0,\"buckets\":[]}"));
    /* every class and every percentile key is there */
#define CHECK_CLASS(sym, label, help)                                        \
    snprintf(key, sizeof(key), "\"%s\":{\"count\":", label);                 \
    ck_assert_uint_eq(count_of(s, key), 1);
    LATENCY_LIST(CHECK_CLASS)
#undef CHECK_CLASS
    ck_assert_uint_eq(count_of(s, "\"p50_us\":"), LAT__COUNT + 1);
    ck_assert_uint_eq(count_of(s, "\"p90_us\":"), LAT__COUNT + 1);
    ck_assert_uint_eq(count_of(s, "\"p99_us\":"), LAT__COUNT + 1);
    ck_assert_uint_eq(count_of(s, "\"p999_us\":"), LAT__COUNT + 1);
    ck_assert_uint_eq(count_of(s, "\"max_us\":"), LAT__COUNT + 1);
    free(s);
    free(m);
}
END_TEST

START_TEST(test_json_miss_percentiles)
{
    /* 100 us .. 100 ms in 100 us steps: p50 is 50 ms, p99 99 ms (+-1%). */
    struct metrics *m = metrics_new();
    const char *p;
    char *s;
    double v;

    for (int i = 1; i <= 1000; i++)
        hist_record(&m->lat[LAT_MISS], (uint64_t)i * 100000);
    s = render_json(m, m->started_us);
    ck_assert(json_valid(s));
    p = strstr(s, "\"miss\":{");
    ck_assert_ptr_nonnull(p);
    v = strtod(strstr(p, "\"p50_us\":") + 9, NULL);
    ck_assert(fabs(v - 50000) <= 500);
    v = strtod(strstr(p, "\"p99_us\":") + 9, NULL);
    ck_assert(fabs(v - 99000) <= 990);
    v = strtod(strstr(p, "\"p999_us\":") + 10, NULL);
    ck_assert(fabs(v - 99900) <= 999);
    ck_assert_ptr_nonnull(strstr(p, "\"max_us\":100000,"));
    ck_assert_ptr_nonnull(strstr(s, "\"uptime_seconds\":0,"));
    free(s);
    free(m);
}
END_TEST

START_TEST(test_json_clock_backwards)
{
    /* now before start: uptime and rates are 0, output still valid. */
    struct metrics *m = metrics_new();
    char *s;

    m->started_us = 9000000;
    metrics_add(m, FILLS, 7);
    hist_record(&m->lat[LAT_HIT], 5000);
    s = render_json(m, 1000);
    ck_assert(json_valid(s));
    ck_assert_ptr_nonnull(strstr(s, "\"uptime_seconds\":0,"));
    ck_assert_ptr_nonnull(strstr(s, "\"value\":7,\"rate\":0}"));
    ck_assert_ptr_nonnull(strstr(s, "\"hit\":{\"count\":1,\"rate\":0,"));
    free(s);
    free(m);
}
END_TEST

/* ---- describe ---- */

START_TEST(test_describe)
{
    char *text = NULL, want[512];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    metrics_describe(f);
    ck_assert_int_eq(fclose(f), 0);
#define CHECK_METRIC(sym, kind, name, labels, help)                          \
    snprintf(want, sizeof(want), "%s%s%s%s %s %s", name,                     \
             labels[0] ? "{" : "", labels, labels[0] ? "}" : "",             \
             strcmp(#kind, "COUNTER") == 0 ? "counter" : "gauge", help);     \
    ck_assert_msg(has_line(text, want), "missing: %s", want);
    METRICS_LIST(CHECK_METRIC)
#undef CHECK_METRIC
#define CHECK_LAT(sym, label, help)                                          \
    snprintf(want, sizeof(want), "%s{class=\"%s\"} histogram %s",            \
             LAT_FAMILY, label, help);                                       \
    ck_assert_msg(has_line(text, want), "missing: %s", want);
    LATENCY_LIST(CHECK_LAT)
#undef CHECK_LAT
    ck_assert_ptr_nonnull(strstr(text, "\n" RTT_FAMILY " histogram "));
    ck_assert_uint_eq(count_of(text, "\n"), M__COUNT + LAT__COUNT + 1);
    free(text);
}
END_TEST

START_TEST(test_init)
{
    struct metrics *m = metrics_new();

    ck_assert_uint_gt(m->started_us, 1500000000ULL * 1000000ULL);
    for (size_t i = 0; i < M__COUNT; i++)
        ck_assert_uint_eq(m->v[i], 0);
    for (size_t i = 0; i < LAT__COUNT; i++)
        ck_assert_uint_eq(m->lat[i].count, 0);
    ck_assert_uint_eq(m->upstream_rtt.count, 0);
    free(m);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_prom_counters);
    tcase_add_test(tc, test_prom_every_metric);
    tcase_add_test(tc, test_prom_histogram);
    tcase_add_test(tc, test_prom_histogram_random);
    tcase_add_test(tc, test_prom_empty);
    tcase_add_test(tc, test_render_failure);
    tcase_add_test(tc, test_json_validator);
    tcase_add_test(tc, test_json_counters);
    tcase_add_test(tc, test_json_latency);
    tcase_add_test(tc, test_json_miss_percentiles);
    tcase_add_test(tc, test_json_clock_backwards);
    tcase_add_test(tc, test_describe);
    tcase_add_test(tc, test_init);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
