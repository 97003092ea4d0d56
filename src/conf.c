/*
 * conf.c — loads corral's YAML configuration into a struct conf (see conf.h).
 *
 * The loader walks libyaml's event stream against one table of keys
 * (CONF_KEY_TABLE below). The same table produces conf_keys[], so the list
 * the man page is checked against is exactly what the parser accepts. Every
 * load works on a private copy of the caller's struct and replaces it only
 * when the whole document was accepted.
 */
#include "conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define KB 1024ULL
#define MB (1024ULL * KB)
#define GB (1024ULL * MB)

/* Upper bound of every duration key: one year. Keeps deadline arithmetic in
 * nanoseconds far away from overflow. */
#define DUR_MAX (8760ULL * 3600 * 1000)
#define DUR_RANGE "1ms..8760h"
#define DUR0_RANGE "0..8760h"

#define RULES_MAX 10000            /* cache.rules entries */
#define FILE_MAX (16u << 20)       /* largest configuration file read */
#define SUN_PATH_MAX 107           /* sizeof(sockaddr_un.sun_path) - 1 */

enum kind {
    K_SECTION,     /* mapping of further keys */
    K_RULES,       /* cache.rules: sequence of rule mappings */
    K_ADDR,        /* char *: host:port or unix:/path */
    K_ADDR_OPT,    /* char *: the same, or "" (disabled) */
    K_SECRET,      /* char *: non-empty string, or null for unset */
    K_PREFIX,      /* conf_rule prefix: any bytes, may be "" */
    K_INT,         /* int */
    K_LONG,        /* long */
    K_SIZE,        /* uint64_t bytes */
    K_DUR,         /* uint64_t milliseconds */
    K_RDUR,        /* int64_t milliseconds (rules) */
    K_BOOL,        /* int 0/1 */
    K_LEVEL,       /* int, enum log_level */
    K_INVAL        /* enum conf_invalidation */
};

#define C_OFF(m) offsetof(struct conf, m)
#define R_OFF(m) offsetof(struct conf_rule, m)

/*
 * Every key: dotted path, kind, offset of the field (in struct conf, or in
 * struct conf_rule for "cache.rules[]." keys), accepted range and its text
 * for error messages. Keep the man page's ranges in step with this.
 */
#define CONF_KEY_TABLE(X) \
    X("listen", K_ADDR, C_OFF(listen), 0, 0, NULL) \
    X("upstream", K_SECTION, 0, 0, 0, NULL) \
    X("upstream.address", K_ADDR, C_OFF(upstream.address), 0, 0, NULL) \
    X("upstream.username", K_SECRET, C_OFF(upstream.username), 0, 0, NULL) \
    X("upstream.password", K_SECRET, C_OFF(upstream.password), 0, 0, NULL) \
    X("upstream.connections", K_INT, C_OFF(upstream.connections), 1, 256, "1..256") \
    X("upstream.connect_timeout", K_DUR, C_OFF(upstream.connect_timeout_ms), 1, DUR_MAX, DUR_RANGE) \
    X("upstream.timeout", K_DUR, C_OFF(upstream.timeout_ms), 1, DUR_MAX, DUR_RANGE) \
    X("clients", K_SECTION, 0, 0, 0, NULL) \
    X("clients.max", K_LONG, C_OFF(clients.max), 1, 1000000, "1..1000000") \
    X("clients.password", K_SECRET, C_OFF(clients.password), 0, 0, NULL) \
    X("clients.protected", K_BOOL, C_OFF(clients.protected_mode), 0, 1, NULL) \
    X("clients.idle_timeout", K_DUR, C_OFF(clients.idle_timeout_ms), 0, DUR_MAX, DUR0_RANGE) \
    X("clients.max_request", K_SIZE, C_OFF(clients.max_request), KB, 4 * GB, "1kb..4gb") \
    X("clients.output_limit", K_SIZE, C_OFF(clients.output_limit), KB, UINT64_MAX, "1kb or more") \
    X("cache", K_SECTION, 0, 0, 0, NULL) \
    X("cache.enabled", K_BOOL, C_OFF(cache.enabled), 0, 1, NULL) \
    X("cache.max_memory", K_SIZE, C_OFF(cache.max_memory), 0, UINT64_MAX, NULL) \
    X("cache.ttl", K_DUR, C_OFF(cache.ttl_ms), 1, DUR_MAX, DUR_RANGE) \
    X("cache.max_value", K_SIZE, C_OFF(cache.max_value), 1, UINT64_MAX, "1b or more") \
    X("cache.invalidation", K_INVAL, C_OFF(cache.invalidation), 0, 0, NULL) \
    X("cache.rules", K_RULES, 0, 0, 0, NULL) \
    X("cache.rules[].prefix", K_PREFIX, R_OFF(prefix), 0, 0, NULL) \
    X("cache.rules[].cache", K_BOOL, R_OFF(cache), 0, 1, NULL) \
    X("cache.rules[].ttl", K_RDUR, R_OFF(ttl_ms), 1, DUR_MAX, DUR_RANGE) \
    X("cache.rules[].lease", K_BOOL, R_OFF(lease), 0, 1, NULL) \
    X("cache.rules[].lease_timeout", K_RDUR, R_OFF(lease_timeout_ms), 1, DUR_MAX, DUR_RANGE) \
    X("lease", K_SECTION, 0, 0, 0, NULL) \
    X("lease.enabled", K_BOOL, C_OFF(lease.enabled), 0, 1, NULL) \
    X("lease.timeout", K_DUR, C_OFF(lease.timeout_ms), 1, DUR_MAX, DUR_RANGE) \
    X("lease.max_wait", K_DUR, C_OFF(lease.max_wait_ms), 1, DUR_MAX, DUR_RANGE) \
    X("lease.unfilled_ttl", K_DUR, C_OFF(lease.unfilled_ttl_ms), 0, DUR_MAX, DUR0_RANGE) \
    X("lease.max_waiters", K_LONG, C_OFF(lease.max_waiters), 0, 10000000, "0..10000000") \
    X("stats", K_SECTION, 0, 0, 0, NULL) \
    X("stats.listen", K_ADDR_OPT, C_OFF(stats.listen), 0, 0, NULL) \
    X("log", K_SECTION, 0, 0, 0, NULL) \
    X("log.level", K_LEVEL, C_OFF(log.level), 0, 0, NULL)

struct key_spec {
    const char *path;
    enum kind kind;
    size_t off;
    uint64_t min, max;
    const char *range;
};

#define KEY_SPEC(path, kind, off, min, max, range) { path, kind, off, min, max, range },
#define KEY_NAME(path, kind, off, min, max, range) path,

static const struct key_spec specs[] = { CONF_KEY_TABLE(KEY_SPEC) };
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

const char *const conf_keys[] = { CONF_KEY_TABLE(KEY_NAME) NULL };

/* Duplicate detection keeps one bit per table entry. */
_Static_assert(sizeof(specs) / sizeof(specs[0]) <= 64, "seen mask too small");

#define RULES_SECTION "cache.rules[]"

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const char *const inval_names[] = { "tracking", "bcast", "none" };

struct loader {
    yaml_parser_t yp;
    yaml_event_t ev;
    bool have_ev;
    const char *name;
    const char *text;
    size_t len;
    char *err;
    size_t errlen;
    struct conf *c;
};

/* ---- small helpers ---- */

static void put_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void put_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int fail(struct loader *l, size_t line0, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record "name:line: message" (line0 is libyaml's 0-based line). */
static int fail(struct loader *l, size_t line0, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    put_err(l->err, l->errlen, "%s:%zu: %s", l->name, line0 + 1, msg);
    return -1;
}

static int fail_oom(struct loader *l)
{
    put_err(l->err, l->errlen, "%s: out of memory", l->name);
    return -1;
}

/* A printable, bounded rendering of untrusted bytes for error messages. */
static const char *shown(const char *s, size_t len, char *buf, size_t buflen)
{
    size_t i, n = 0, max = buflen - 4;

    for (i = 0; i < len && n < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (i < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static char *memdup0(const char *s, size_t len)
{
    char *d = malloc(len + 1);

    if (d) {
        if (len)
            memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static bool word_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* Decimal digits only. Returns 0, -1 when there are none, -2 on overflow
 * (the digits are consumed either way). */
static int parse_digits(const char **sp, uint64_t *out)
{
    const char *s = *sp;
    uint64_t v = 0;
    int rc = 0;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            rc = -2;
        else
            v = v * 10 + d;
    }
    *sp = s;
    *out = v;
    return rc;
}

struct unit {
    const char *name;
    uint64_t mult;
};

static const struct unit size_units[] = {
    { "", 1 }, { "b", 1 }, { "kb", KB }, { "mb", MB }, { "gb", GB }, { NULL, 0 }
};

/* A bare number is only valid as 0 (multiplier 0 keeps it 0). */
static const struct unit dur_units[] = {
    { "", 0 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
    { NULL, 0 }
};

/* Number with unit suffix. Returns 0, -1 on bad syntax, -2 on overflow. */
static int parse_scaled(const char *s, const struct unit *units, uint64_t *out)
{
    uint64_t v = 0;
    size_t n;
    int rc;

    if (!s)
        return -1;
    rc = parse_digits(&s, &v);
    if (rc == -1)
        return -1;
    n = strlen(s);
    for (; units->name; units++) {
        if (strlen(units->name) != n || strncasecmp(s, units->name, n) != 0)
            continue;
        if (units->mult == 0 && (rc != 0 || v != 0))
            return -1;
        if (rc != 0 || (units->mult != 0 && v > UINT64_MAX / units->mult))
            return -2;
        *out = v * units->mult;
        return 0;
    }
    return -1;
}

/* ---- public parsers ---- */

int conf_parse_size(const char *s, uint64_t *out)
{
    return parse_scaled(s, size_units, out) == 0 ? 0 : -1;
}

int conf_parse_duration(const char *s, uint64_t *out_ms)
{
    return parse_scaled(s, dur_units, out_ms) == 0 ? 0 : -1;
}

/* "host:port" (host a name, an IPv4 address or "[v6]") or "unix:/path". */
static bool address_ok(const char *s, size_t len)
{
    const char *colon;
    size_t hlen, i;
    uint64_t port;
    const char *p;

    if (len > 5 && memcmp(s, "unix:", 5) == 0)
        return s[5] == '/' && len - 5 <= SUN_PATH_MAX;
    for (colon = s + len; colon > s && colon[-1] != ':'; colon--)
        ;
    if (colon == s)
        return false;
    colon--;
    p = colon + 1;
    if (strlen(p) > 5 || parse_digits(&p, &port) < 0 || *p != '\0' ||
        port < 1 || port > 65535)
        return false;
    hlen = (size_t)(colon - s);
    if (hlen == 0)
        return false;
    if (s[0] == '[') {
        bool has_colon = false, zone = false;
        if (hlen < 3 || s[hlen - 1] != ']')
            return false;
        for (i = 1; i < hlen - 1; i++) {
            char ch = s[i];
            if (zone) {     /* "%eth0": an interface name */
                if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                      (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '-' || ch == '_'))
                    return false;
            } else if (ch == '%' && has_colon && i + 1 < hlen - 1) {
                zone = true;
            } else if (ch == ':') {
                has_colon = true;
            } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                         (ch >= 'A' && ch <= 'F') || ch == '.')) {
                return false;
            }
        }
        return has_colon;
    }
    for (i = 0; i < hlen; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
              (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* ---- defaults, copy, free ---- */

static void free_rules(struct conf *c)
{
    size_t i;

    for (i = 0; i < c->cache.nrules; i++)
        free(c->cache.rules[i].prefix);
    free(c->cache.rules);
    c->cache.rules = NULL;
    c->cache.nrules = 0;
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    free(c->listen);
    free(c->upstream.address);
    free(c->upstream.username);
    free(c->upstream.password);
    free(c->clients.password);
    free(c->stats.listen);
    free_rules(c);
    memset(c, 0, sizeof(*c));
}

int conf_defaults(struct conf *c)
{
    memset(c, 0, sizeof(*c));
    c->listen = strdup("127.0.0.1:6380");
    c->upstream.address = strdup("127.0.0.1:6379");
    c->upstream.connections = 4;
    c->upstream.connect_timeout_ms = 1000;
    c->upstream.timeout_ms = 5000;
    c->clients.max = 10000;
    c->clients.protected_mode = 1;
    c->clients.idle_timeout_ms = 0;
    c->clients.max_request = 512 * MB;
    c->clients.output_limit = 64 * MB;
    c->cache.enabled = 1;
    c->cache.max_memory = 64 * MB;
    c->cache.ttl_ms = 60 * 1000;
    c->cache.max_value = 1 * MB;
    c->cache.invalidation = CONF_INVAL_TRACKING;
    c->lease.enabled = 1;
    c->lease.timeout_ms = 2000;
    c->lease.max_wait_ms = 10 * 1000;
    c->lease.unfilled_ttl_ms = 10 * 1000;
    c->lease.max_waiters = 10000;
    c->stats.listen = strdup("127.0.0.1:9380");
    c->log.level = 2; /* LOG_INFO */
    if (!c->listen || !c->upstream.address || !c->stats.listen) {
        conf_free(c);
        return -1;
    }
    return 0;
}

static int dup_field(char **dst, const char *src)
{
    if (!src) {
        *dst = NULL;
        return 0;
    }
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

/* Deep copy of src into dst (which owns nothing yet). */
static int conf_copy(struct conf *dst, const struct conf *src)
{
    size_t i;
    int rc = 0;

    *dst = *src;
    dst->cache.rules = NULL;
    dst->cache.nrules = 0;
    rc |= dup_field(&dst->listen, src->listen);
    rc |= dup_field(&dst->upstream.address, src->upstream.address);
    rc |= dup_field(&dst->upstream.username, src->upstream.username);
    rc |= dup_field(&dst->upstream.password, src->upstream.password);
    rc |= dup_field(&dst->clients.password, src->clients.password);
    rc |= dup_field(&dst->stats.listen, src->stats.listen);
    if (rc == 0 && src->cache.nrules > 0) {
        dst->cache.rules = calloc(src->cache.nrules, sizeof(struct conf_rule));
        if (!dst->cache.rules)
            rc = -1;
        for (i = 0; rc == 0 && i < src->cache.nrules; i++) {
            const struct conf_rule *r = &src->cache.rules[i];
            dst->cache.rules[i] = *r;
            dst->cache.rules[i].prefix = memdup0(r->prefix, r->prefix_len);
            dst->cache.nrules = i + 1;
            if (!dst->cache.rules[i].prefix)
                rc = -1;
        }
    }
    if (rc != 0) {
        conf_free(dst);
        return -1;
    }
    return 0;
}

/* ---- the event walker ---- */

static int next_event(struct loader *l)
{
    if (l->have_ev) {
        yaml_event_delete(&l->ev);
        l->have_ev = false;
    }
    if (!yaml_parser_parse(&l->yp, &l->ev)) {
        const char *problem = l->yp.problem ? l->yp.problem : "unknown error";
        size_t line0 = l->yp.problem_mark.line;

        if (l->yp.error == YAML_MEMORY_ERROR)
            return fail_oom(l);
        if (l->yp.error == YAML_READER_ERROR) {
            /* The reader reports a byte offset, not a mark. */
            size_t i, end = l->yp.problem_offset < l->len ? l->yp.problem_offset : l->len;
            line0 = 0;
            for (i = 0; i < end; i++)
                line0 += l->text[i] == '\n';
        }
        if (l->yp.context)
            return fail(l, line0, "YAML syntax error: %s %s", problem, l->yp.context);
        return fail(l, line0, "YAML syntax error: %s", problem);
    }
    l->have_ev = true;
    return 0;
}

static size_t ev_line(const struct loader *l)
{
    return l->ev.start_mark.line;
}

static const char *ev_what(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_ALIAS_EVENT: return "an alias";
    case YAML_SCALAR_EVENT: return "a scalar";
    default: return "something else";
    }
}

static bool ev_is_null(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;

    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return len == 0 || word_is(s, len, "~") || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *kind_what(enum kind k)
{
    switch (k) {
    case K_SECTION: return "a mapping";
    case K_RULES: return "a sequence of rules";
    case K_ADDR: return "an address";
    case K_ADDR_OPT: return "an address or \"\"";
    case K_SECRET: return "a string or ~";
    case K_PREFIX: return "a string";
    case K_INT: case K_LONG: return "an integer";
    case K_SIZE: return "a size";
    case K_DUR: case K_RDUR: return "a duration";
    case K_BOOL: return "a boolean";
    case K_LEVEL: return "one of error, warn, info, debug";
    case K_INVAL: return "one of tracking, bcast, none";
    }
    return "a value";
}

static const struct key_spec *find_key(const char *section, const char *key, size_t klen)
{
    size_t slen = strlen(section), i;

    for (i = 0; i < NSPECS; i++) {
        const char *p = specs[i].path;
        if (slen > 0) {
            if (strncmp(p, section, slen) != 0 || p[slen] != '.')
                continue;
            p += slen + 1;
        }
        if (strchr(p, '.') == NULL && strlen(p) == klen && memcmp(p, key, klen) == 0)
            return &specs[i];
    }
    return NULL;
}

static int wrong_type(struct loader *l, const struct key_spec *k)
{
    if (l->ev.type == YAML_ALIAS_EVENT)
        return fail(l, ev_line(l), "'%s': aliases are not supported", k->path);
    return fail(l, ev_line(l), "'%s': expected %s, got %s", k->path,
                kind_what(k->kind), ev_is_null(&l->ev) ? "null" : ev_what(&l->ev));
}

static int out_of_range(struct loader *l, const struct key_spec *k, const char *s, size_t len)
{
    char buf[64];

    return fail(l, ev_line(l), "'%s': %s is out of range (%s)", k->path,
                shown(s, len, buf, sizeof(buf)), k->range ? k->range : "?");
}

static int set_string(struct loader *l, char **field, const char *s, size_t len)
{
    char *d = memdup0(s, len);

    if (!d)
        return fail_oom(l);
    free(*field);
    *field = d;
    return 0;
}

static int pick(const char *s, size_t len, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return (int)i;
    return -1;
}

/* Store the current scalar event into the field k describes. */
static int set_scalar(struct loader *l, const struct key_spec *k, void *base)
{
    const char *s = (const char *)l->ev.data.scalar.value;
    size_t len = l->ev.data.scalar.length;
    char *field = (char *)base + k->off;
    char buf[64];
    uint64_t v = 0;
    int idx;

    if (ev_is_null(&l->ev) && k->kind != K_SECRET)
        return wrong_type(l, k);
    if (k->kind != K_PREFIX && memchr(s, '\0', len))
        return fail(l, ev_line(l), "'%s': contains a NUL byte", k->path);

    switch (k->kind) {
    case K_ADDR:
    case K_ADDR_OPT:
        if (!(k->kind == K_ADDR_OPT && len == 0) && !address_ok(s, len))
            return fail(l, ev_line(l), "'%s': invalid address '%s' (expected host:port or unix:/path)",
                        k->path, shown(s, len, buf, sizeof(buf)));
        return set_string(l, (char **)(void *)field, s, len);
    case K_SECRET:
        if (ev_is_null(&l->ev)) {
            free(*(char **)(void *)field);
            *(char **)(void *)field = NULL;
            return 0;
        }
        if (len == 0)
            return fail(l, ev_line(l), "'%s': must not be empty (use ~ to leave it unset)", k->path);
        return set_string(l, (char **)(void *)field, s, len);
    case K_PREFIX: {
        struct conf_rule *r = base;
        char *d = memdup0(s, len);
        if (!d)
            return fail_oom(l);
        free(r->prefix);
        r->prefix = d;
        r->prefix_len = len;
        return 0;
    }
    case K_INT:
    case K_LONG: {
        const char *p = s;
        int rc;
        if (*p == '-' && p[1] >= '0' && p[1] <= '9')
            return out_of_range(l, k, s, len);   /* every minimum is >= 0 */
        rc = parse_digits(&p, &v);
        if (rc == -1 || *p != '\0')
            return fail(l, ev_line(l), "'%s': not an integer: '%s'", k->path,
                        shown(s, len, buf, sizeof(buf)));
        if (rc == -2 || v < k->min || v > k->max)
            return out_of_range(l, k, s, len);
        if (k->kind == K_INT)
            *(int *)(void *)field = (int)v;
        else
            *(long *)(void *)field = (long)v;
        return 0;
    }
    case K_SIZE:
    case K_DUR:
    case K_RDUR: {
        int rc = parse_scaled(s, k->kind == K_SIZE ? size_units : dur_units, &v);
        if (rc == -1 && k->kind == K_SIZE)
            return fail(l, ev_line(l), "'%s': not a size: '%s' (expected an integer with b, kb, mb or gb)",
                        k->path, shown(s, len, buf, sizeof(buf)));
        if (rc == -1)
            return fail(l, ev_line(l), "'%s': not a duration: '%s' (expected an integer with ms, s, m or h)",
                        k->path, shown(s, len, buf, sizeof(buf)));
        if (rc == -2 || v < k->min || v > k->max)
            return out_of_range(l, k, s, len);
        if (k->kind == K_RDUR)
            *(int64_t *)(void *)field = (int64_t)v;
        else
            *(uint64_t *)(void *)field = v;
        return 0;
    }
    case K_BOOL:
        if (word_is(s, len, "true") || word_is(s, len, "yes") || word_is(s, len, "on"))
            *(int *)(void *)field = 1;
        else if (word_is(s, len, "false") || word_is(s, len, "no") || word_is(s, len, "off"))
            *(int *)(void *)field = 0;
        else
            return fail(l, ev_line(l), "'%s': not a boolean: '%s' (expected true or false)",
                        k->path, shown(s, len, buf, sizeof(buf)));
        return 0;
    case K_LEVEL:
        idx = pick(s, len, level_names, sizeof(level_names) / sizeof(level_names[0]));
        if (idx < 0)
            return fail(l, ev_line(l), "'%s': unknown level '%s' (expected error, warn, info or debug)",
                        k->path, shown(s, len, buf, sizeof(buf)));
        *(int *)(void *)field = idx;
        return 0;
    case K_INVAL:
        idx = pick(s, len, inval_names, sizeof(inval_names) / sizeof(inval_names[0]));
        if (idx < 0)
            return fail(l, ev_line(l), "'%s': unknown mode '%s' (expected tracking, bcast or none)",
                        k->path, shown(s, len, buf, sizeof(buf)));
        *(enum conf_invalidation *)(void *)field = (enum conf_invalidation)idx;
        return 0;
    case K_SECTION:
    case K_RULES:
        break;
    }
    return wrong_type(l, k);
}

static int parse_mapping(struct loader *l, const char *section, void *base);

/* The current event is the SEQUENCE_START of cache.rules. */
static int parse_rules(struct loader *l, const struct key_spec *k)
{
    struct conf *c = l->c;
    size_t cap = 0;

    free_rules(c);
    for (;;) {
        struct conf_rule *r;
        size_t line0;

        if (next_event(l) < 0)
            return -1;
        if (l->ev.type == YAML_SEQUENCE_END_EVENT)
            return 0;
        if (l->ev.type != YAML_MAPPING_START_EVENT) {
            if (l->ev.type == YAML_ALIAS_EVENT)
                return fail(l, ev_line(l), "'%s': aliases are not supported", RULES_SECTION);
            return fail(l, ev_line(l), "'%s': expected a mapping, got %s", RULES_SECTION,
                        ev_is_null(&l->ev) ? "null" : ev_what(&l->ev));
        }
        line0 = ev_line(l);
        if (c->cache.nrules == RULES_MAX)
            return fail(l, line0, "'%s': more than %d rules", k->path, RULES_MAX);
        if (c->cache.nrules == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct conf_rule *nr = realloc(c->cache.rules, ncap * sizeof(*nr));
            if (!nr)
                return fail_oom(l);
            c->cache.rules = nr;
            cap = ncap;
        }
        r = &c->cache.rules[c->cache.nrules++];
        r->prefix = NULL;
        r->prefix_len = 0;
        r->cache = -1;
        r->ttl_ms = -1;
        r->lease = -1;
        r->lease_timeout_ms = -1;
        r->line = line0 + 1 > (size_t)INT32_MAX ? INT32_MAX : (int)(line0 + 1);
        if (parse_mapping(l, RULES_SECTION, r) < 0)
            return -1;
        if (!r->prefix)
            return fail(l, line0, "cache rule has no 'prefix'");
    }
}

/*
 * The current event is a MAPPING_START. Reads keys up to the matching
 * MAPPING_END, storing values into base (struct conf, or struct conf_rule
 * for the rules section).
 */
static int parse_mapping(struct loader *l, const char *section, void *base)
{
    uint64_t seen = 0;
    char buf[64];

    for (;;) {
        const struct key_spec *k;
        const char *key;
        size_t klen, bit;

        if (next_event(l) < 0)
            return -1;
        if (l->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        if (l->ev.type != YAML_SCALAR_EVENT) {
            if (l->ev.type == YAML_ALIAS_EVENT)
                return fail(l, ev_line(l), "aliases are not supported");
            return fail(l, ev_line(l), "%s as a key in section '%s'", ev_what(&l->ev),
                        *section ? section : "top level");
        }
        key = (const char *)l->ev.data.scalar.value;
        klen = l->ev.data.scalar.length;
        k = find_key(section, key, klen);
        if (!k)
            return fail(l, ev_line(l), "unknown key '%s' in section '%s'",
                        shown(key, klen, buf, sizeof(buf)), *section ? section : "top level");
        bit = (size_t)(k - specs);
        if (seen & (1ULL << bit))
            return fail(l, ev_line(l), "duplicate key '%s' in section '%s'",
                        shown(key, klen, buf, sizeof(buf)), *section ? section : "top level");
        seen |= 1ULL << bit;

        if (next_event(l) < 0)
            return -1;
        switch (k->kind) {
        case K_SECTION:
            if (l->ev.type == YAML_MAPPING_START_EVENT) {
                if (parse_mapping(l, k->path, base) < 0)
                    return -1;
            } else if (!ev_is_null(&l->ev)) {
                return wrong_type(l, k);
            }
            break;
        case K_RULES:
            if (l->ev.type == YAML_SEQUENCE_START_EVENT) {
                if (parse_rules(l, k) < 0)
                    return -1;
            } else if (ev_is_null(&l->ev)) {
                free_rules(l->c);
            } else {
                return wrong_type(l, k);
            }
            break;
        default:
            if (l->ev.type != YAML_SCALAR_EVENT)
                return wrong_type(l, k);
            if (set_scalar(l, k, base) < 0)
                return -1;
            break;
        }
    }
}

static int parse_stream(struct loader *l)
{
    if (next_event(l) < 0)              /* STREAM_START */
        return -1;
    if (next_event(l) < 0)
        return -1;
    if (l->ev.type == YAML_STREAM_END_EVENT)
        return 0;                       /* empty file or comments only */
    if (next_event(l) < 0)              /* past DOCUMENT_START */
        return -1;
    if (l->ev.type == YAML_MAPPING_START_EVENT) {
        if (parse_mapping(l, "", l->c) < 0)
            return -1;
    } else if (l->ev.type == YAML_ALIAS_EVENT) {
        return fail(l, ev_line(l), "aliases are not supported");
    } else if (!ev_is_null(&l->ev)) {
        return fail(l, ev_line(l), "top level: expected a mapping, got %s", ev_what(&l->ev));
    }
    if (next_event(l) < 0)              /* DOCUMENT_END */
        return -1;
    if (next_event(l) < 0)
        return -1;
    if (l->ev.type != YAML_STREAM_END_EVENT)
        return fail(l, ev_line(l), "only one YAML document is allowed");
    return 0;
}

int conf_load_string(struct conf *c, const char *name, const char *text,
                     size_t len, char *err, size_t errlen)
{
    struct loader l;
    struct conf tmp;
    int rc;

    memset(&l, 0, sizeof(l));
    l.name = name ? name : "(string)";
    l.text = text ? text : "";
    l.len = text ? len : 0;
    l.err = err;
    l.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (conf_copy(&tmp, c) < 0)
        return fail_oom(&l);
    if (!yaml_parser_initialize(&l.yp)) {
        conf_free(&tmp);
        return fail_oom(&l);
    }
    yaml_parser_set_input_string(&l.yp, (const unsigned char *)l.text, l.len);
    l.c = &tmp;
    rc = parse_stream(&l);
    if (l.have_ev)
        yaml_event_delete(&l.ev);
    yaml_parser_delete(&l.yp);
    if (rc < 0) {
        conf_free(&tmp);
        return -1;
    }
    conf_free(c);
    *c = tmp;
    return 0;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
    FILE *f;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;

    f = fopen(path, "rb");
    if (!f) {
        put_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t n;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb;
            if (cap >= FILE_MAX) {
                put_err(err, errlen, "%s: file larger than %u bytes", path, FILE_MAX);
                goto fail;
            }
            nb = realloc(buf, ncap);
            if (!nb) {
                put_err(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                put_err(err, errlen, "%s: %s", path, strerror(errno));
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    rc = conf_load_string(c, path, buf, len, err, errlen);
    free(buf);
    return rc;
fail:
    fclose(f);
    free(buf);
    return -1;
}

void conf_policy(const struct conf *c, const char *key, size_t klen,
                 struct conf_policy *out)
{
    const struct conf_rule *r = NULL;
    size_t i;

    for (i = 0; i < c->cache.nrules; i++) {
        const struct conf_rule *x = &c->cache.rules[i];
        if (x->prefix_len == 0 ||
            (x->prefix_len <= klen && memcmp(x->prefix, key, x->prefix_len) == 0)) {
            r = x;
            break;
        }
    }
    out->cache = c->cache.enabled && (!r || r->cache != 0);
    out->ttl_ms = (r && r->ttl_ms >= 0) ? (uint64_t)r->ttl_ms : c->cache.ttl_ms;
    out->lease = c->lease.enabled && (!r || r->lease != 0);
    out->lease_timeout_ms = (r && r->lease_timeout_ms >= 0) ? (uint64_t)r->lease_timeout_ms
                                                           : c->lease.timeout_ms;
}
