/*
 * metrics.c — renders the metrics declared in metrics.h as Prometheus text
 * (format 0.0.4), as JSON for /stats and as the --describe-stats listing.
 *
 * Numbers that are fixed-point in nanoseconds or microseconds (bucket
 * bounds, sums, percentiles, uptime) are printed as exact decimals, never
 * through a float, so 'le' labels are stable strings such as "0.0025".
 */
#include "metrics.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#define LAT_FAMILY "corral_request_duration_seconds"
#define LAT_HELP   "Client request latency in seconds by request class"
#define RTT_FAMILY "corral_upstream_rtt_seconds"
#define RTT_HELP   "Upstream round trip time per request in seconds"

/* Room for any fixed() result: 20 digits, a point, 20 digits, NUL. */
#define FIXED_LEN 48

enum metric_kind { KIND_COUNTER, KIND_GAUGE };

struct metric_desc {
    const char *name;
    const char *labels;             /* Prometheus form: k="v",k2="v2" */
    const char *help;
    enum metric_kind kind;
};

struct latency_desc {
    const char *label;              /* value of the class label */
    const char *help;
};

static const struct metric_desc metric_descs[M__COUNT] = {
#define METRIC_DESC(sym, kind, name, labels, help) \
    [M_##sym] = { name, labels, help, KIND_##kind },
    METRICS_LIST(METRIC_DESC)
#undef METRIC_DESC
};

static const struct latency_desc latency_descs[LAT__COUNT] = {
#define LAT_DESC(sym, label, help) [sym] = { label, help },
    LATENCY_LIST(LAT_DESC)
#undef LAT_DESC
};

/* Output sink that remembers the first evbuffer failure. */
struct out {
    struct evbuffer *buf;
    int failed;
};

static void out_printf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;

    if (o->failed)
        return;
    va_start(ap, fmt);
    if (evbuffer_add_vprintf(o->buf, fmt, ap) < 0)
        o->failed = 1;
    va_end(ap);
}

static void out_mem(struct out *o, const char *s, size_t n)
{
    if (!o->failed && n > 0 && evbuffer_add(o->buf, s, n) != 0)
        o->failed = 1;
}

static void out_str(struct out *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static const char *kind_name(enum metric_kind kind)
{
    return kind == KIND_COUNTER ? "counter" : "gauge";
}

/* v / 10^digits (digits <= 19) as an exact decimal without trailing zeros
 * ("0.0025", "60"). buf must hold FIXED_LEN bytes; returns buf. */
static const char *fixed(char *buf, uint64_t v, unsigned digits)
{
    uint64_t scale = 1;
    size_t len;

    for (unsigned i = 0; i < digits; i++)
        scale *= 10;
    if (v % scale == 0) {
        snprintf(buf, FIXED_LEN, "%llu", (unsigned long long)(v / scale));
        return buf;
    }
    snprintf(buf, FIXED_LEN, "%llu.%0*llu", (unsigned long long)(v / scale),
             (int)digits, (unsigned long long)(v % scale));
    len = strlen(buf);
    while (buf[len - 1] == '0')
        buf[--len] = '\0';
    return buf;
}

/* ---- Prometheus text format ---- */

/* HELP text: backslash and newline are the only escapes. */
static void prom_help(struct out *o, const char *name, const char *help,
                      const char *type)
{
    const char *p = help;

    out_printf(o, "# HELP %s ", name);
    while (*p != '\0') {
        size_t run = strcspn(p, "\\\n");

        out_mem(o, p, run);
        p += run;
        if (*p == '\\')
            out_str(o, "\\\\");
        else if (*p == '\n')
            out_str(o, "\\n");
        else
            break;
        p++;
    }
    out_printf(o, "\n# TYPE %s %s\n", name, type);
}

/* One histogram series; labels is "" or k="v" without braces. */
static void prom_hist(struct out *o, const char *family, const char *labels,
                      const struct hist *h)
{
    const char *sep = labels[0] != '\0' ? "," : "";
    char num[FIXED_LEN];

    for (size_t i = 0; i < hist_prom_nbounds; i++)
        out_printf(o, "%s_bucket{%s%sle=\"%s\"} %llu\n", family, labels, sep,
                   fixed(num, hist_prom_bounds[i], 9),
                   (unsigned long long)hist_count_le(h, hist_prom_bounds[i]));
    out_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", family, labels, sep,
               (unsigned long long)h->count);
    if (labels[0] != '\0') {
        out_printf(o, "%s_sum{%s} %s\n", family, labels,
                   fixed(num, h->sum_ns, 9));
        out_printf(o, "%s_count{%s} %llu\n", family, labels,
                   (unsigned long long)h->count);
    } else {
        out_printf(o, "%s_sum %s\n", family, fixed(num, h->sum_ns, 9));
        out_printf(o, "%s_count %llu\n", family,
                   (unsigned long long)h->count);
    }
}

int metrics_render_prometheus(const struct metrics *m, struct evbuffer *out)
{
    struct out o = { out, 0 };
    char labels[64];

    for (size_t i = 0; i < M__COUNT; i++) {
        const struct metric_desc *d = &metric_descs[i];

        if (i == 0 || strcmp(d->name, metric_descs[i - 1].name) != 0)
            prom_help(&o, d->name, d->help, kind_name(d->kind));
        if (d->labels[0] != '\0')
            out_printf(&o, "%s{%s} %llu\n", d->name, d->labels,
                       (unsigned long long)m->v[i]);
        else
            out_printf(&o, "%s %llu\n", d->name,
                       (unsigned long long)m->v[i]);
    }

    prom_help(&o, LAT_FAMILY, LAT_HELP, "histogram");
    for (size_t i = 0; i < LAT__COUNT; i++) {
        snprintf(labels, sizeof(labels), "class=\"%s\"",
                 latency_descs[i].label);
        prom_hist(&o, LAT_FAMILY, labels, &m->lat[i]);
    }
    prom_help(&o, RTT_FAMILY, RTT_HELP, "histogram");
    prom_hist(&o, RTT_FAMILY, "", &m->upstream_rtt);
    return o.failed ? -1 : 0;
}

/* ---- JSON ---- */

/* A JSON string from n bytes of plain text. */
static void json_str(struct out *o, const char *s, size_t n)
{
    size_t start = 0;

    out_str(o, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out_mem(o, s + start, i - start);
        if (c == '"' || c == '\\')
            out_printf(o, "\\%c", c);
        else
            out_printf(o, "\\u%04x", c);
        start = i + 1;
    }
    out_mem(o, s + start, n - start);
    out_str(o, "\"");
}

/* A Prometheus label value (escapes \\ \" \n, closing quote not included)
 * as a JSON string; returns the position after the closing quote. */
static const char *json_label_value(struct out *o, const char *p)
{
    out_str(o, "\"");
    while (*p != '\0' && *p != '"') {
        unsigned char c = (unsigned char)*p;

        if (c == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n')) {
            out_mem(o, p, 2);           /* same escape in JSON */
            p += 2;
            continue;
        }
        if (c == '\\')
            out_str(o, "\\\\");
        else if (c < 0x20)
            out_printf(o, "\\u%04x", c);
        else
            out_mem(o, p, 1);
        p++;
    }
    out_str(o, "\"");
    return *p == '"' ? p + 1 : p;
}

/* Prometheus labels k="v",k2="v2" as a JSON object. */
static void json_labels(struct out *o, const char *p)
{
    int first = 1;

    out_str(o, "{");
    while (*p != '\0') {
        const char *eq = strchr(p, '=');

        if (eq == NULL || eq[1] != '"')
            break;                      /* malformed: stop, stay valid */
        if (!first)
            out_str(o, ",");
        first = 0;
        json_str(o, p, (size_t)(eq - p));
        out_str(o, ":");
        p = json_label_value(o, eq + 2);
        if (*p == ',')
            p++;
    }
    out_str(o, "}");
}

/* value per second over uptime_us, as a JSON number. */
static void json_rate(struct out *o, uint64_t value, uint64_t uptime_us)
{
    if (uptime_us == 0)
        out_str(o, "0");
    else
        out_printf(o, "%.6g", (double)value * 1e6 / (double)uptime_us);
}

static void json_hist(struct out *o, const struct hist *h, uint64_t uptime_us)
{
    static const struct {
        const char *key;
        double p;
    } pcts[] = {
        { "p50_us", 50.0 }, { "p90_us", 90.0 }, { "p99_us", 99.0 },
        { "p999_us", 99.9 },
    };
    char num[FIXED_LEN];
    int first = 1;

    out_printf(o, "{\"count\":%llu,\"rate\":", (unsigned long long)h->count);
    json_rate(o, h->count, uptime_us);
    out_printf(o, ",\"sum_us\":%s", fixed(num, h->sum_ns, 3));
    out_printf(o, ",\"min_us\":%s", fixed(num, h->min_ns, 3));
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
        out_printf(o, ",\"%s\":%s", pcts[i].key,
                   fixed(num, hist_percentile(h, pcts[i].p), 3));
    out_printf(o, ",\"max_us\":%s", fixed(num, h->max_ns, 3));
    out_printf(o, ",\"overflow\":%llu,\"buckets\":[",
               (unsigned long long)h->overflow);
    for (size_t i = 0; i < HIST_NBUCKETS; i++) {
        if (h->buckets[i] == 0)
            continue;
        out_printf(o, "%s[%s,%llu]", first ? "" : ",",
                   fixed(num, hist_bucket_upper(i), 3),
                   (unsigned long long)h->buckets[i]);
        first = 0;
    }
    out_str(o, "]}");
}

int metrics_render_json(const struct metrics *m, uint64_t now_us,
                        struct evbuffer *out)
{
    struct out o = { out, 0 };
    uint64_t uptime_us = now_us > m->started_us ? now_us - m->started_us : 0;
    char num[FIXED_LEN];

    out_printf(&o, "{\"uptime_seconds\":%s,\"metrics\":[",
               fixed(num, uptime_us, 6));
    for (size_t i = 0; i < M__COUNT; i++) {
        const struct metric_desc *d = &metric_descs[i];

        out_str(&o, i == 0 ? "{\"name\":" : ",{\"name\":");
        json_str(&o, d->name, strlen(d->name));
        out_str(&o, ",\"labels\":");
        json_labels(&o, d->labels);
        out_printf(&o, ",\"type\":\"%s\",\"value\":%llu", kind_name(d->kind),
                   (unsigned long long)m->v[i]);
        if (d->kind == KIND_COUNTER) {
            out_str(&o, ",\"rate\":");
            json_rate(&o, m->v[i], uptime_us);
        }
        out_str(&o, "}");
    }
    out_str(&o, "],\"latency\":{");
    for (size_t i = 0; i < LAT__COUNT; i++) {
        if (i > 0)
            out_str(&o, ",");
        json_str(&o, latency_descs[i].label, strlen(latency_descs[i].label));
        out_str(&o, ":");
        json_hist(&o, &m->lat[i], uptime_us);
    }
    out_str(&o, "},\"upstream_rtt\":");
    json_hist(&o, &m->upstream_rtt, uptime_us);
    out_str(&o, "}\n");
    return o.failed ? -1 : 0;
}

/* ---- the rest ---- */

void metrics_init(struct metrics *m)
{
    struct timespec ts;

    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < LAT__COUNT; i++)
        hist_init(&m->lat[i]);
    hist_init(&m->upstream_rtt);
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        m->started_us = (uint64_t)ts.tv_sec * 1000000ULL +
                        (uint64_t)ts.tv_nsec / 1000;
}

void metrics_describe(FILE *f)
{
    for (size_t i = 0; i < M__COUNT; i++) {
        const struct metric_desc *d = &metric_descs[i];
        int has = d->labels[0] != '\0';

        fprintf(f, "%s%s%s%s %s %s\n", d->name, has ? "{" : "", d->labels,
                has ? "}" : "", kind_name(d->kind), d->help);
    }
    for (size_t i = 0; i < LAT__COUNT; i++)
        fprintf(f, "%s{class=\"%s\"} histogram %s\n", LAT_FAMILY,
                latency_descs[i].label, latency_descs[i].help);
    fprintf(f, "%s histogram %s\n", RTT_FAMILY, RTT_HELP);
}
