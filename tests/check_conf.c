/*
 * check_conf.c — unit tests for the configuration loader (src/conf.c):
 * defaults, the shipped sample file, every error with its file:line, size
 * and duration syntax, addresses, rules and conf_policy.
 */
#include "conf.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define ERRLEN 256

static const char *srcdir(void)
{
    const char *d = getenv("srcdir");
    return d ? d : ".";
}

/* Defaults, then text on top. Returns the loader's result. */
static int load(struct conf *c, const char *text, char *err)
{
    ck_assert_int_eq(conf_defaults(c), 0);
    return conf_load_string(c, "t.yml", text, strlen(text), err, ERRLEN);
}

static void assert_str_eq_null(const char *a, const char *b)
{
    if (!a || !b)
        ck_assert_ptr_eq(a, b);
    else
        ck_assert_str_eq(a, b);
}

static void assert_conf_eq(const struct conf *a, const struct conf *b)
{
    size_t i;

    assert_str_eq_null(a->listen, b->listen);
    assert_str_eq_null(a->upstream.address, b->upstream.address);
    assert_str_eq_null(a->upstream.username, b->upstream.username);
    assert_str_eq_null(a->upstream.password, b->upstream.password);
    ck_assert_int_eq(a->upstream.connections, b->upstream.connections);
    ck_assert_uint_eq(a->upstream.connect_timeout_ms, b->upstream.connect_timeout_ms);
    ck_assert_uint_eq(a->upstream.timeout_ms, b->upstream.timeout_ms);
    ck_assert_int_eq(a->clients.max, b->clients.max);
    assert_str_eq_null(a->clients.password, b->clients.password);
    ck_assert_int_eq(a->clients.protected_mode, b->clients.protected_mode);
    ck_assert_uint_eq(a->clients.idle_timeout_ms, b->clients.idle_timeout_ms);
    ck_assert_uint_eq(a->clients.max_request, b->clients.max_request);
    ck_assert_uint_eq(a->clients.output_limit, b->clients.output_limit);
    ck_assert_int_eq(a->cache.enabled, b->cache.enabled);
    ck_assert_uint_eq(a->cache.max_memory, b->cache.max_memory);
    ck_assert_uint_eq(a->cache.ttl_ms, b->cache.ttl_ms);
    ck_assert_uint_eq(a->cache.max_value, b->cache.max_value);
    ck_assert_int_eq(a->cache.invalidation, b->cache.invalidation);
    ck_assert_uint_eq(a->cache.nrules, b->cache.nrules);
    for (i = 0; i < a->cache.nrules; i++) {
        const struct conf_rule *x = &a->cache.rules[i], *y = &b->cache.rules[i];
        ck_assert_uint_eq(x->prefix_len, y->prefix_len);
        ck_assert(memcmp(x->prefix, y->prefix, x->prefix_len) == 0);
        ck_assert_int_eq(x->cache, y->cache);
        ck_assert_int_eq(x->ttl_ms, y->ttl_ms);
        ck_assert_int_eq(x->lease, y->lease);
        ck_assert_int_eq(x->lease_timeout_ms, y->lease_timeout_ms);
    }
    ck_assert_int_eq(a->lease.enabled, b->lease.enabled);
    ck_assert_uint_eq(a->lease.timeout_ms, b->lease.timeout_ms);
    ck_assert_uint_eq(a->lease.max_wait_ms, b->lease.max_wait_ms);
    ck_assert_uint_eq(a->lease.unfilled_ttl_ms, b->lease.unfilled_ttl_ms);
    ck_assert_int_eq(a->lease.max_waiters, b->lease.max_waiters);
    assert_str_eq_null(a->stats.listen, b->stats.listen);
    ck_assert_int_eq(a->log.level, b->log.level);
}

START_TEST(test_defaults)
{
    struct conf c;

    ck_assert_int_eq(conf_defaults(&c), 0);
    ck_assert_str_eq(c.listen, "127.0.0.1:6380");
    ck_assert_str_eq(c.upstream.address, "127.0.0.1:6379");
    ck_assert_ptr_null(c.upstream.username);
    ck_assert_ptr_null(c.upstream.password);
    ck_assert_int_eq(c.upstream.connections, 4);
    ck_assert_uint_eq(c.upstream.connect_timeout_ms, 1000);
    ck_assert_uint_eq(c.upstream.timeout_ms, 5000);
    ck_assert_int_eq(c.clients.max, 10000);
    ck_assert_ptr_null(c.clients.password);
    ck_assert_int_eq(c.clients.protected_mode, 1);
    ck_assert_uint_eq(c.clients.idle_timeout_ms, 0);
    ck_assert_uint_eq(c.clients.max_request, 512ULL << 20);
    ck_assert_uint_eq(c.clients.output_limit, 64ULL << 20);
    ck_assert_int_eq(c.cache.enabled, 1);
    ck_assert_uint_eq(c.cache.max_memory, 64ULL << 20);
    ck_assert_uint_eq(c.cache.ttl_ms, 60000);
    ck_assert_uint_eq(c.cache.max_value, 1ULL << 20);
    ck_assert_int_eq(c.cache.invalidation, CONF_INVAL_TRACKING);
    ck_assert_uint_eq(c.cache.nrules, 0);
    ck_assert_int_eq(c.lease.enabled, 1);
    ck_assert_uint_eq(c.lease.timeout_ms, 2000);
    ck_assert_uint_eq(c.lease.max_wait_ms, 10000);
    ck_assert_uint_eq(c.lease.unfilled_ttl_ms, 10000);
    ck_assert_int_eq(c.lease.max_waiters, 10000);
    ck_assert_str_eq(c.stats.listen, "127.0.0.1:9380");
    ck_assert_int_eq(c.log.level, 2); /* LOG_INFO in log.h */
    conf_free(&c);
    /* conf_free leaves a struct that can be freed again and refilled */
    conf_free(&c);
    ck_assert_ptr_null(c.listen);
    ck_assert_int_eq(conf_defaults(&c), 0);
    conf_free(&c);
}
END_TEST

START_TEST(test_empty_documents)
{
    static const char *const texts[] = {
        "", "\n", "# only a comment\n", "---\n", "--- ~\n", "---\n...\n", "~\n", "{}\n",
        "upstream:\ncache:\n  rules:\n",
    };
    struct conf d, c;
    char err[ERRLEN];
    size_t i;

    ck_assert_int_eq(conf_defaults(&d), 0);
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        ck_assert_msg(load(&c, texts[i], err) == 0, "'%s': %s", texts[i], err);
        assert_conf_eq(&c, &d);
        conf_free(&c);
    }
    conf_free(&d);
}
END_TEST

START_TEST(test_sample_is_defaults)
{
    struct conf d, c;
    char path[1024], err[ERRLEN];

    snprintf(path, sizeof(path), "%s/etc/corral.yml", srcdir());
    ck_assert_int_eq(conf_defaults(&d), 0);
    ck_assert_int_eq(conf_defaults(&c), 0);
    ck_assert_msg(conf_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    assert_conf_eq(&c, &d);
    conf_free(&c);
    conf_free(&d);
}
END_TEST

/* Collects the dotted path of every key in a YAML file. */
struct key_walk {
    char keys[128][64];
    int n;
};

static void walk_node(yaml_parser_t *p, yaml_event_t *ev, const char *path, struct key_walk *w);

static void walk_next(yaml_parser_t *p, yaml_event_t *ev)
{
    ck_assert(yaml_parser_parse(p, ev));
}

static void walk_node(yaml_parser_t *p, yaml_event_t *ev, const char *path, struct key_walk *w)
{
    char sub[64];

    if (ev->type == YAML_MAPPING_START_EVENT) {
        for (;;) {
            yaml_event_delete(ev);
            walk_next(p, ev);
            if (ev->type == YAML_MAPPING_END_EVENT)
                break;
            ck_assert_int_eq(ev->type, YAML_SCALAR_EVENT);
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
                     (const char *)ev->data.scalar.value);
            ck_assert_int_lt(w->n, 128);
            strcpy(w->keys[w->n++], sub);
            yaml_event_delete(ev);
            walk_next(p, ev);
            walk_node(p, ev, sub, w);
        }
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        snprintf(sub, sizeof(sub), "%s[]", path);
        for (;;) {
            yaml_event_delete(ev);
            walk_next(p, ev);
            if (ev->type == YAML_SEQUENCE_END_EVENT)
                break;
            walk_node(p, ev, sub, w);
        }
    }
}

static int walk_has(const struct key_walk *w, const char *key)
{
    int i;

    for (i = 0; i < w->n; i++)
        if (strcmp(w->keys[i], key) == 0)
            return 1;
    return 0;
}

/* Does a comment line of text hold " key:"? */
static int in_comment(const char *text, const char *key)
{
    char needle[64];
    const char *line = text;

    snprintf(needle, sizeof(needle), " %s:", key);
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        const char *p = line;
        while (p < line + n && *p == ' ')
            p++;
        if (p < line + n && *p == '#') {
            char buf[256];
            snprintf(buf, sizeof(buf), "%.*s", (int)(line + n - p), p);
            if (strstr(buf, needle))
                return 1;
        }
        line += n + (end ? 1 : 0);
    }
    return 0;
}

/* The sample documents every key: as a YAML key, or (rule keys, since the
 * default has no rules) in its commented example. */
START_TEST(test_sample_has_every_key)
{
    char path[1024], text[16384];
    struct key_walk w;
    yaml_parser_t p;
    yaml_event_t ev;
    FILE *f;
    size_t len, i;
    int j;

    snprintf(path, sizeof(path), "%s/etc/corral.yml", srcdir());
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';

    memset(&w, 0, sizeof(w));
    ck_assert(yaml_parser_initialize(&p));
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    do {
        walk_next(&p, &ev);
        if (ev.type == YAML_MAPPING_START_EVENT)
            walk_node(&p, &ev, "", &w);
        yaml_event_type_t t = ev.type;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
    } while (1);
    yaml_parser_delete(&p);

    for (i = 0; conf_keys[i]; i++) {
        const char *rule = strstr(conf_keys[i], "[].");
        if (rule) {
            ck_assert_msg(in_comment(text, rule + 3), "sample lacks an example of %s", conf_keys[i]);
        } else {
            ck_assert_msg(walk_has(&w, conf_keys[i]), "sample lacks %s", conf_keys[i]);
        }
    }
    for (j = 0; j < w.n; j++) {
        int found = 0;
        for (i = 0; conf_keys[i]; i++)
            found |= strcmp(conf_keys[i], w.keys[j]) == 0;
        ck_assert_msg(found, "sample key %s missing from conf_keys", w.keys[j]);
    }
}
END_TEST

/*
 * Every key in conf_keys is one the loader dispatches on: giving it a value
 * of the wrong shape reports a type error for that key, never "unknown key".
 */
START_TEST(test_conf_keys_all_known)
{
    static const char *const bad[] = { "[1]", "{x: 1}" };
    size_t i, b, nkeys = 0;

    for (i = 0; conf_keys[i]; i++) {
        char yaml[512], want[128], err[ERRLEN];
        int matched = 0;

        nkeys++;
        for (b = 0; b < 2; b++) {
            const char *key = conf_keys[i];
            char closers[64] = "";
            size_t n = 0, ncl = 0;
            struct conf c;

            /* "a.b[].c" -> "{a: {b: [{prefix: p, c: BAD}]}}" */
            n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "{");
            closers[ncl++] = '}';
            for (;;) {
                const char *dot = strchr(key, '.');
                size_t clen = dot ? (size_t)(dot - key) : strlen(key);
                int seq = clen > 2 && memcmp(key + clen - 2, "[]", 2) == 0;
                n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "%.*s: ",
                                      (int)(seq ? clen - 2 : clen), key);
                if (!dot)
                    break;
                if (seq) {
                    n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "[{");
                    if (strcmp(dot + 1, "prefix") != 0)
                        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "prefix: p, ");
                    closers[ncl++] = ']';
                    closers[ncl++] = '}';
                } else {
                    n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "{");
                    closers[ncl++] = '}';
                }
                key = dot + 1;
            }
            n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "%s", bad[b]);
            while (ncl > 0)
                n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "%c", closers[--ncl]);
            ck_assert_uint_lt(n, sizeof(yaml));

            ck_assert_msg(load(&c, yaml, err) == -1, "%s accepted", yaml);
            conf_free(&c);
            {
                const char *last = strrchr(conf_keys[i], '.');
                snprintf(want, sizeof(want), "unknown key '%s'", last ? last + 1 : conf_keys[i]);
                ck_assert_msg(strstr(err, want) == NULL, "%s: %s", yaml, err);
            }
            snprintf(want, sizeof(want), "t.yml:1: '%s': expected ", conf_keys[i]);
            matched |= strncmp(err, want, strlen(want)) == 0;
        }
        ck_assert_msg(matched, "%s: no type error", conf_keys[i]);
    }
    ck_assert_uint_eq(nkeys, 37);
}
END_TEST

struct err_case {
    const char *yaml;
    const char *want;
};

static const struct err_case err_cases[] = {
    /* unknown keys */
    { "upstrem:\n  address: a:1\n", "t.yml:1: unknown key 'upstrem' in section 'top level'" },
    { "listen: a:1\nupstream:\n  adress: 1.2.3.4:5\n", "t.yml:3: unknown key 'adress' in section 'upstream'" },
    { "cache:\n  rules:\n    - prefix: a\n      tll: 5s\n",
      "t.yml:4: unknown key 'tll' in section 'cache.rules[]'" },
    { "upstream.address: a:1\n", "t.yml:1: unknown key 'upstream.address' in section 'top level'" },
    { "Listen: a:1\n", "t.yml:1: unknown key 'Listen' in section 'top level'" },
    { "\"k\\ty\\x01\": 1\n", "t.yml:1: unknown key 'k?y?' in section 'top level'" }, /* shown safely */
    { "log:\n  level: info\n  <<: {}\n", "t.yml:3: unknown key '<<' in section 'log'" },
    /* wrong types */
    { "upstream: 5\n", "t.yml:1: 'upstream': expected a mapping, got a scalar" },
    { "upstream: [a]\n", "t.yml:1: 'upstream': expected a mapping, got a sequence" },
    { "\nlisten:\n  - a:1\n", "t.yml:3: 'listen': expected an address, got a sequence" },
    { "upstream:\n  connections: {a: 1}\n",
      "t.yml:2: 'upstream.connections': expected an integer, got a mapping" },
    { "cache:\n  rules: 5\n", "t.yml:2: 'cache.rules': expected a sequence of rules, got a scalar" },
    { "cache:\n  rules:\n    - 5\n", "t.yml:3: 'cache.rules[]': expected a mapping, got a scalar" },
    { "cache:\n  rules:\n    - [a]\n", "t.yml:3: 'cache.rules[]': expected a mapping, got a sequence" },
    { "listen: ~\n", "t.yml:1: 'listen': expected an address, got null" },
    { "cache:\n  ttl:\n", "t.yml:2: 'cache.ttl': expected a duration, got null" },
    { "hello\n", "t.yml:1: top level: expected a mapping, got a scalar" },
    { "- a\n", "t.yml:1: top level: expected a mapping, got a sequence" },
    { "? [a]\n: 1\n", "t.yml:1: a sequence as a key in section 'top level'" },
    /* bad values */
    { "cache:\n\n  max_memory: 64 mb\n",
      "t.yml:3: 'cache.max_memory': not a size: '64 mb' (expected an integer with b, kb, mb or gb)" },
    { "cache:\n  max_value: 1tb\n",
      "t.yml:2: 'cache.max_value': not a size: '1tb' (expected an integer with b, kb, mb or gb)" },
    { "cache:\n  max_value: 1.5mb\n",
      "t.yml:2: 'cache.max_value': not a size: '1.5mb' (expected an integer with b, kb, mb or gb)" },
    { "lease:\n  timeout: 5\n",
      "t.yml:2: 'lease.timeout': not a duration: '5' (expected an integer with ms, s, m or h)" },
    { "lease:\n  timeout: 1d\n",
      "t.yml:2: 'lease.timeout': not a duration: '1d' (expected an integer with ms, s, m or h)" },
    { "lease:\n  timeout: -1s\n",
      "t.yml:2: 'lease.timeout': not a duration: '-1s' (expected an integer with ms, s, m or h)" },
    { "cache:\n  enabled: maybe\n", "t.yml:2: 'cache.enabled': not a boolean: 'maybe' (expected true or false)" },
    { "cache:\n  enabled: 1\n", "t.yml:2: 'cache.enabled': not a boolean: '1' (expected true or false)" },
    { "upstream:\n  connections: four\n", "t.yml:2: 'upstream.connections': not an integer: 'four'" },
    { "upstream:\n  connections: 4.0\n", "t.yml:2: 'upstream.connections': not an integer: '4.0'" },
    { "upstream:\n  connections: 0x10\n", "t.yml:2: 'upstream.connections': not an integer: '0x10'" },
    { "log:\n  level: verbose\n",
      "t.yml:2: 'log.level': unknown level 'verbose' (expected error, warn, info or debug)" },
    { "log:\n  level: INFO\n",
      "t.yml:2: 'log.level': unknown level 'INFO' (expected error, warn, info or debug)" },
    { "cache:\n  invalidation: push\n",
      "t.yml:2: 'cache.invalidation': unknown mode 'push' (expected tracking, bcast or none)" },
    { "listen: 6380\n", "t.yml:1: 'listen': invalid address '6380' (expected host:port or unix:/path)" },
    { "listen: \"\"\n", "t.yml:1: 'listen': invalid address '' (expected host:port or unix:/path)" },
    { "stats:\n  listen: localhost\n",
      "t.yml:2: 'stats.listen': invalid address 'localhost' (expected host:port or unix:/path)" },
    { "upstream:\n  address: unix:relative.sock\n",
      "t.yml:2: 'upstream.address': invalid address 'unix:relative.sock' (expected host:port or unix:/path)" },
    { "upstream:\n  password: \"\"\n",
      "t.yml:2: 'upstream.password': must not be empty (use ~ to leave it unset)" },
    { "clients:\n  password: ''\n",
      "t.yml:2: 'clients.password': must not be empty (use ~ to leave it unset)" },
    { "listen: \"a\\0b:1\"\n", "t.yml:1: 'listen': contains a NUL byte" },
    { "upstream:\n  password: \"se\\0cret\"\n", "t.yml:2: 'upstream.password': contains a NUL byte" },
    /* out of range */
    { "upstream:\n  connections: 257\n", "t.yml:2: 'upstream.connections': 257 is out of range (1..256)" },
    { "upstream:\n  connections: 0\n", "t.yml:2: 'upstream.connections': 0 is out of range (1..256)" },
    { "upstream:\n  connections: -1\n", "t.yml:2: 'upstream.connections': -1 is out of range (1..256)" },
    { "upstream:\n  connections: 99999999999999999999999\n",
      "t.yml:2: 'upstream.connections': 99999999999999999999999 is out of range (1..256)" },
    { "clients:\n  max: 1000001\n", "t.yml:2: 'clients.max': 1000001 is out of range (1..1000000)" },
    { "clients:\n  max: 0\n", "t.yml:2: 'clients.max': 0 is out of range (1..1000000)" },
    { "lease:\n  max_waiters: 10000001\n",
      "t.yml:2: 'lease.max_waiters': 10000001 is out of range (0..10000000)" },
    { "cache:\n  ttl: 0\n", "t.yml:2: 'cache.ttl': 0 is out of range (1ms..8760h)" },
    { "cache:\n  ttl: 0s\n", "t.yml:2: 'cache.ttl': 0s is out of range (1ms..8760h)" },
    { "cache:\n  ttl: 8761h\n", "t.yml:2: 'cache.ttl': 8761h is out of range (1ms..8760h)" },
    { "cache:\n  ttl: 99999999999999999999h\n",
      "t.yml:2: 'cache.ttl': 99999999999999999999h is out of range (1ms..8760h)" },
    { "upstream:\n  connect_timeout: 0ms\n",
      "t.yml:2: 'upstream.connect_timeout': 0ms is out of range (1ms..8760h)" },
    { "lease:\n  max_wait: 0\n", "t.yml:2: 'lease.max_wait': 0 is out of range (1ms..8760h)" },
    { "clients:\n  idle_timeout: 8761h\n", "t.yml:2: 'clients.idle_timeout': 8761h is out of range (0..8760h)" },
    { "clients:\n  max_request: 1023\n", "t.yml:2: 'clients.max_request': 1023 is out of range (1kb..4gb)" },
    { "clients:\n  max_request: 4097mb\n", "t.yml:2: 'clients.max_request': 4097mb is out of range (1kb..4gb)" },
    { "clients:\n  output_limit: 1023b\n",
      "t.yml:2: 'clients.output_limit': 1023b is out of range (1kb or more)" },
    { "cache:\n  max_value: 0\n", "t.yml:2: 'cache.max_value': 0 is out of range (1b or more)" },
    { "cache:\n  max_memory: 17179869184gb\n",
      "t.yml:2: 'cache.max_memory': 17179869184gb is out of range (?)" },
    { "cache:\n  rules:\n    - prefix: a\n      ttl: 0s\n",
      "t.yml:4: 'cache.rules[].ttl': 0s is out of range (1ms..8760h)" },
    { "cache:\n  rules:\n    - {prefix: a, lease_timeout: 0}\n",
      "t.yml:3: 'cache.rules[].lease_timeout': 0 is out of range (1ms..8760h)" },
    /* duplicates */
    { "listen: a:1\nlisten: b:2\n", "t.yml:2: duplicate key 'listen' in section 'top level'" },
    { "upstream:\n  timeout: 1s\n  address: a:1\n  timeout: 2s\n",
      "t.yml:4: duplicate key 'timeout' in section 'upstream'" },
    { "log: {}\ncache: {}\nlog: {}\n", "t.yml:3: duplicate key 'log' in section 'top level'" },
    { "cache:\n  rules:\n    - prefix: a\n      cache: true\n      cache: false\n",
      "t.yml:5: duplicate key 'cache' in section 'cache.rules[]'" },
    /* rules */
    { "cache:\n  rules:\n    - prefix: a\n    - cache: false\n      ttl: 1s\n",
      "t.yml:4: cache rule has no 'prefix'" },
    { "cache:\n  rules:\n    - prefix: ~\n", "t.yml:3: 'cache.rules[].prefix': expected a string, got null" },
    { "cache:\n  rules:\n    - prefix: [a]\n",
      "t.yml:3: 'cache.rules[].prefix': expected a string, got a sequence" },
    /* YAML level */
    { "listen: a:1\n---\nlisten: b:2\n", "t.yml:2: only one YAML document is allowed" },
    { "upstream: &u {timeout: 1s}\nclients: *u\n", "t.yml:2: 'clients': aliases are not supported" },
    { "log:\n  level: &l info\nlisten: *l\n", "t.yml:3: 'listen': aliases are not supported" },
    { "upstream:\n\taddress: a:1\n",
      "t.yml:2: YAML syntax error: found character that cannot start any token while scanning for the next token" },
    { "upstream:\n  address: \"a:1\"\n   timeout: 1s\n",
      "t.yml:3: YAML syntax error: did not find expected key while parsing a block mapping" },
    { "listen: a:1\nlog: {level: info\n",
      "t.yml:3: YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping" },
    { "listen: a:1\n\nlog: {level: \"\xff\"}\n", "t.yml:3: YAML syntax error: invalid leading UTF-8 octet" },
};

START_TEST(test_errors)
{
    const struct err_case *ec = &err_cases[_i];
    struct conf c;
    char err[ERRLEN];

    ck_assert_msg(load(&c, ec->yaml, err) == -1, "accepted: %s", ec->yaml);
    ck_assert_str_eq(err, ec->want);
    conf_free(&c);
}
END_TEST

START_TEST(test_parse_size)
{
    static const struct { const char *s; int rc; uint64_t v; } cases[] = {
        { "0", 0, 0 }, { "1", 0, 1 }, { "1b", 0, 1 }, { "1B", 0, 1 }, { "1kb", 0, 1024 },
        { "2KB", 0, 2048 }, { "3Mb", 0, 3ULL << 20 }, { "4gB", 0, 4ULL << 30 },
        { "007kb", 0, 7168 },
        { "18446744073709551615", 0, UINT64_MAX }, { "18446744073709551615b", 0, UINT64_MAX },
        { "17179869183gb", 0, 17179869183ULL << 30 },
        { "18446744073709551616", -1, 0 }, { "17179869184gb", -1, 0 },
        { "18014398509481984kb", -1, 0 },
        { "", -1, 0 }, { "kb", -1, 0 }, { "1 kb", -1, 0 }, { " 1kb", -1, 0 }, { "1kb ", -1, 0 },
        { "-1", -1, 0 }, { "+1", -1, 0 }, { "1k", -1, 0 }, { "1tb", -1, 0 }, { "1.5mb", -1, 0 },
        { "1kbb", -1, 0 }, { "0x10", -1, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = conf_parse_size(cases[i].s, &v);
        ck_assert_msg(rc == cases[i].rc, "'%s' returned %d", cases[i].s, rc);
        if (rc == 0)
            ck_assert_msg(v == cases[i].v, "'%s' gave %llu", cases[i].s, (unsigned long long)v);
    }
    ck_assert_int_eq(conf_parse_size(NULL, &(uint64_t){ 0 }), -1);
}
END_TEST

START_TEST(test_parse_duration)
{
    static const struct { const char *s; int rc; uint64_t v; } cases[] = {
        { "0", 0, 0 }, { "000", 0, 0 }, { "0ms", 0, 0 }, { "0s", 0, 0 }, { "1ms", 0, 1 },
        { "1s", 0, 1000 }, { "1S", 0, 1000 }, { "2m", 0, 120000 }, { "2M", 0, 120000 },
        { "3h", 0, 10800000 }, { "10MS", 0, 10 }, { "1500ms", 0, 1500 },
        { "18446744073709551615ms", 0, UINT64_MAX },
        { "5124095576030h", 0, 5124095576030ULL * 3600000 },
        { "5124095576031h", -1, 0 }, { "307445734561825m", 0, 307445734561825ULL * 60000 },
        { "307445734561826m", -1, 0 }, { "18446744073709552s", -1, 0 },
        { "18446744073709551616ms", -1, 0 },
        { "5", -1, 0 }, { "1000", -1, 0 }, { "", -1, 0 }, { "s", -1, 0 }, { "1 s", -1, 0 },
        { "1d", -1, 0 }, { "1sec", -1, 0 }, { "1.5s", -1, 0 }, { "-1s", -1, 0 }, { "1h30m", -1, 0 },
        { "99999999999999999999999", -1, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = conf_parse_duration(cases[i].s, &v);
        ck_assert_msg(rc == cases[i].rc, "'%s' returned %d", cases[i].s, rc);
        if (rc == 0)
            ck_assert_msg(v == cases[i].v, "'%s' gave %llu", cases[i].s, (unsigned long long)v);
    }
}
END_TEST

START_TEST(test_values)
{
    static const char text[] =
        "listen: \"[::1]:7000\"\n"
        "upstream:\n"
        "  address: unix:/run/redis/redis.sock\n"
        "  username: app\n"
        "  password: 's3cret'\n"
        "  connections: 256\n"
        "  connect_timeout: 250ms\n"
        "  timeout: 2m\n"
        "clients:\n"
        "  max: 1000000\n"
        "  password: \"~\"\n"          /* quoted: a string, not null */
        "  protected: off\n"
        "  idle_timeout: 0\n"
        "  max_request: 4gb\n"
        "  output_limit: 1KB\n"
        "cache:\n"
        "  enabled: No\n"
        "  max_memory: 0\n"
        "  ttl: 8760h\n"
        "  max_value: 1\n"
        "  invalidation: bcast\n"
        "lease:\n"
        "  enabled: FALSE\n"
        "  timeout: 1ms\n"
        "  max_wait: 1h\n"
        "  unfilled_ttl: 0\n"
        "  max_waiters: 0\n"
        "stats:\n"
        "  listen: \"\"\n"
        "log:\n"
        "  level: debug\n";
    struct conf c;
    char err[ERRLEN];

    ck_assert_msg(load(&c, text, err) == 0, "%s", err);
    ck_assert_str_eq(c.listen, "[::1]:7000");
    ck_assert_str_eq(c.upstream.address, "unix:/run/redis/redis.sock");
    ck_assert_str_eq(c.upstream.username, "app");
    ck_assert_str_eq(c.upstream.password, "s3cret");
    ck_assert_int_eq(c.upstream.connections, 256);
    ck_assert_uint_eq(c.upstream.connect_timeout_ms, 250);
    ck_assert_uint_eq(c.upstream.timeout_ms, 120000);
    ck_assert_int_eq(c.clients.max, 1000000);
    ck_assert_str_eq(c.clients.password, "~");
    ck_assert_int_eq(c.clients.protected_mode, 0);
    ck_assert_uint_eq(c.clients.idle_timeout_ms, 0);
    ck_assert_uint_eq(c.clients.max_request, 4ULL << 30);
    ck_assert_uint_eq(c.clients.output_limit, 1024);
    ck_assert_int_eq(c.cache.enabled, 0);
    ck_assert_uint_eq(c.cache.max_memory, 0);
    ck_assert_uint_eq(c.cache.ttl_ms, 8760ULL * 3600000);
    ck_assert_uint_eq(c.cache.max_value, 1);
    ck_assert_int_eq(c.cache.invalidation, CONF_INVAL_BCAST);
    ck_assert_int_eq(c.lease.enabled, 0);
    ck_assert_uint_eq(c.lease.timeout_ms, 1);
    ck_assert_uint_eq(c.lease.max_wait_ms, 3600000);
    ck_assert_uint_eq(c.lease.unfilled_ttl_ms, 0);
    ck_assert_int_eq(c.lease.max_waiters, 0);
    ck_assert_str_eq(c.stats.listen, "");
    ck_assert_int_eq(c.log.level, 3);
    conf_free(&c);
}
END_TEST

START_TEST(test_bools_levels_modes)
{
    static const struct { const char *s; int v; } bools[] = {
        { "true", 1 }, { "True", 1 }, { "TRUE", 1 }, { "yes", 1 }, { "on", 1 }, { "ON", 1 },
        { "false", 0 }, { "False", 0 }, { "no", 0 }, { "NO", 0 }, { "off", 0 }, { "Off", 0 },
        { "\"true\"", 1 },
    };
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    static const char *const modes[] = { "tracking", "bcast", "none" };
    struct conf c;
    char text[128], err[ERRLEN];
    size_t i;

    for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        /* start from the opposite value so the store is observable */
        snprintf(text, sizeof(text), "clients:\n  protected: %s\n", bools[i].s);
        ck_assert_int_eq(conf_defaults(&c), 0);
        c.clients.protected_mode = !bools[i].v;
        ck_assert_msg(conf_load_string(&c, "t.yml", text, strlen(text), err, ERRLEN) == 0, "%s", err);
        ck_assert_msg(c.clients.protected_mode == bools[i].v, "%s", bools[i].s);
        conf_free(&c);
    }
    for (i = 0; i < 4; i++) {
        snprintf(text, sizeof(text), "log: {level: %s}\n", levels[i]);
        ck_assert_msg(load(&c, text, err) == 0, "%s", err);
        ck_assert_int_eq(c.log.level, (int)i);
        conf_free(&c);
    }
    for (i = 0; i < 3; i++) {
        snprintf(text, sizeof(text), "cache: {invalidation: %s}\n", modes[i]);
        ck_assert_msg(load(&c, text, err) == 0, "%s", err);
        ck_assert_int_eq(c.cache.invalidation, (int)i);
        conf_free(&c);
    }
    ck_assert_int_eq(CONF_INVAL_TRACKING, 0);
    ck_assert_int_eq(CONF_INVAL_BCAST, 1);
    ck_assert_int_eq(CONF_INVAL_NONE, 2);
}
END_TEST

START_TEST(test_secrets_null)
{
    static const char *const nulls[] = { "~", "null", "Null", "NULL", "" };
    struct conf c;
    char text[128], err[ERRLEN];
    size_t i;

    for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        /* a null resets a password set earlier in the same struct */
        ck_assert_int_eq(load(&c, "upstream: {username: u, password: p}\nclients: {password: q}\n", err), 0);
        ck_assert_str_eq(c.upstream.password, "p");
        snprintf(text, sizeof(text), "upstream:\n  username: %s\n  password: %s\nclients:\n  password: %s\n",
                 nulls[i], nulls[i], nulls[i]);
        ck_assert_msg(conf_load_string(&c, "t.yml", text, strlen(text), err, ERRLEN) == 0, "%s", err);
        ck_assert_ptr_null(c.upstream.username);
        ck_assert_ptr_null(c.upstream.password);
        ck_assert_ptr_null(c.clients.password);
        conf_free(&c);
    }
    /* quoted "null" is a string */
    ck_assert_int_eq(load(&c, "upstream: {password: 'null'}\n", err), 0);
    ck_assert_str_eq(c.upstream.password, "null");
    conf_free(&c);
}
END_TEST

START_TEST(test_addresses)
{
    static const char *const good[] = {
        "127.0.0.1:6380", "0.0.0.0:1", "localhost:65535", "redis-1.example.com:6379",
        "my_host:80", "[::1]:6380", "[fe80::1%eth0]:6379", "[::ffff:127.0.0.1]:1", "[FE80::A]:2",
        "unix:/tmp/corral.sock", "unix:/x",
    };
    static const char *const bad[] = {
        "127.0.0.1", ":6380", "h:0", "h:65536", "h:", "h:123456", "h:+80", "h:-1", "h:80 ",
        " h:80", "::1:6380", "[::1]6380", "[]:80", "[::1:80", "[zz::1]:80", "[1.2.3.4]:80",
        "[%eth0::1]:80", "[::1%]:80", "[::1%e/0]:80", "h/x:80", "unix:", "unix:rel", "unix", "*:80", "tcp://h:80",
    };
    struct conf c;
    char text[512], err[ERRLEN];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), "listen: \"%s\"\nupstream: {address: \"%s\"}\n", good[i], good[i]);
        ck_assert_msg(load(&c, text, err) == 0, "%s: %s", good[i], err);
        ck_assert_str_eq(c.listen, good[i]);
        ck_assert_str_eq(c.upstream.address, good[i]);
        conf_free(&c);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "stats: {listen: \"%s\"}\n", bad[i]);
        ck_assert_msg(load(&c, text, err) == -1, "%s accepted", bad[i]);
        ck_assert_msg(strstr(err, "invalid address") != NULL, "%s: %s", bad[i], err);
        conf_free(&c);
    }
    /* unix socket paths must fit sockaddr_un.sun_path (107 bytes + NUL) */
    strcpy(text, "listen: unix:/");
    memset(text + strlen(text), 'a', 106);
    text[14 + 106] = '\0';
    ck_assert_msg(load(&c, text, err) == 0, "%s", err);
    conf_free(&c);
    strcat(text, "a");
    ck_assert_int_eq(load(&c, text, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "invalid address"));
    /* long values are shortened in messages */
    ck_assert_ptr_nonnull(strstr(err, "aaa...'"));
    conf_free(&c);
}
END_TEST

static const char spec_rules[] =
    "cache:\n"
    "  rules:\n"
    "    - prefix: \"session:\"\n"
    "      cache: false\n"
    "    - prefix: \"report:\"\n"
    "      ttl: 10m\n"
    "    - prefix: \"slow:\"\n"
    "      lease: false\n"
    "      lease_timeout: 30s\n";

START_TEST(test_rules_parsed)
{
    struct conf c;
    char err[ERRLEN];
    const struct conf_rule *r;

    ck_assert_msg(load(&c, spec_rules, err) == 0, "%s", err);
    ck_assert_uint_eq(c.cache.nrules, 3);
    r = c.cache.rules;
    ck_assert_str_eq(r[0].prefix, "session:");
    ck_assert_uint_eq(r[0].prefix_len, 8);
    ck_assert_int_eq(r[0].cache, 0);
    ck_assert_int_eq(r[0].ttl_ms, -1);
    ck_assert_int_eq(r[0].lease, -1);
    ck_assert_int_eq(r[0].lease_timeout_ms, -1);
    ck_assert_int_eq(r[0].line, 3);
    ck_assert_str_eq(r[1].prefix, "report:");
    ck_assert_int_eq(r[1].cache, -1);
    ck_assert_int_eq(r[1].ttl_ms, 600000);
    ck_assert_int_eq(r[1].line, 5);
    ck_assert_int_eq(r[2].lease, 0);
    ck_assert_int_eq(r[2].lease_timeout_ms, 30000);
    ck_assert_int_eq(r[2].line, 7);
    conf_free(&c);
}
END_TEST

START_TEST(test_policy)
{
    struct conf c;
    struct conf_policy p;
    char err[ERRLEN];

    ck_assert_msg(load(&c, spec_rules, err) == 0, "%s", err);

    conf_policy(&c, "session:42", 10, &p);
    ck_assert_int_eq(p.cache, 0);
    ck_assert_uint_eq(p.ttl_ms, 60000);
    ck_assert_int_eq(p.lease, 1);
    ck_assert_uint_eq(p.lease_timeout_ms, 2000);

    /* a rule's ttl overrides cache.ttl, even when longer */
    conf_policy(&c, "report:daily", 12, &p);
    ck_assert_int_eq(p.cache, 1);
    ck_assert_uint_eq(p.ttl_ms, 600000);
    ck_assert_int_eq(p.lease, 1);

    conf_policy(&c, "slow:x", 6, &p);
    ck_assert_int_eq(p.cache, 1);
    ck_assert_int_eq(p.lease, 0);
    ck_assert_uint_eq(p.lease_timeout_ms, 30000);

    /* no rule: the defaults; a key shorter than a prefix does not match it */
    conf_policy(&c, "session", 7, &p);
    ck_assert_int_eq(p.cache, 1);
    ck_assert_uint_eq(p.ttl_ms, 60000);
    ck_assert_int_eq(p.lease, 1);
    ck_assert_uint_eq(p.lease_timeout_ms, 2000);
    conf_policy(&c, "", 0, &p);
    ck_assert_int_eq(p.cache, 1);
    /* binary keys: the length counts, not a NUL */
    conf_policy(&c, "session:\0x", 10, &p);
    ck_assert_int_eq(p.cache, 0);
    conf_policy(&c, "sess\0ion:", 9, &p);
    ck_assert_int_eq(p.cache, 1);
    conf_free(&c);
}
END_TEST

START_TEST(test_policy_globally_disabled)
{
    static const char text[] =
        "cache: {enabled: false, ttl: 5s, rules: [{prefix: a, cache: true, lease: true}]}\n"
        "lease: {enabled: false, timeout: 3s}\n";
    struct conf c;
    struct conf_policy p;
    char err[ERRLEN];

    ck_assert_msg(load(&c, text, err) == 0, "%s", err);
    conf_policy(&c, "a1", 2, &p);
    ck_assert_int_eq(p.cache, 0);
    ck_assert_int_eq(p.lease, 0);
    ck_assert_uint_eq(p.ttl_ms, 5000);
    ck_assert_uint_eq(p.lease_timeout_ms, 3000);
    conf_policy(&c, "b", 1, &p);
    ck_assert_int_eq(p.cache, 0);
    ck_assert_int_eq(p.lease, 0);
    conf_free(&c);
}
END_TEST

START_TEST(test_policy_first_match)
{
    static const char text[] =
        "cache:\n"
        "  rules:\n"
        "    - {prefix: \"user:\", ttl: 1s}\n"
        "    - {prefix: \"user:admin:\", ttl: 2s, cache: false}\n"
        "    - {prefix: \"bin\\0:\", ttl: 3s}\n"
        "    - {prefix: \"\", ttl: 4s, lease: false}\n";
    struct conf c;
    struct conf_policy p;
    char err[ERRLEN];

    ck_assert_msg(load(&c, text, err) == 0, "%s", err);
    ck_assert_uint_eq(c.cache.rules[2].prefix_len, 5);
    ck_assert_uint_eq(c.cache.rules[3].prefix_len, 0);
    conf_policy(&c, "user:admin:1", 12, &p);
    ck_assert_uint_eq(p.ttl_ms, 1000);
    ck_assert_int_eq(p.cache, 1);
    conf_policy(&c, "bin\0:k", 6, &p);
    ck_assert_uint_eq(p.ttl_ms, 3000);
    conf_policy(&c, "bin:k", 5, &p);
    ck_assert_uint_eq(p.ttl_ms, 4000);
    ck_assert_int_eq(p.lease, 0);
    conf_policy(&c, "", 0, &p);
    ck_assert_uint_eq(p.ttl_ms, 4000);
    conf_free(&c);
}
END_TEST

START_TEST(test_load_on_top)
{
    struct conf c;
    char err[ERRLEN];
    const char *t2 = "cache: {ttl: 5s}\n";
    const char *t3 = "cache: {rules: ~}\n";

    ck_assert_int_eq(load(&c, "upstream: {connections: 8}\ncache: {rules: [{prefix: a}]}\n", err), 0);
    ck_assert_int_eq(conf_load_string(&c, "t2", t2, strlen(t2), err, ERRLEN), 0);
    ck_assert_int_eq(c.upstream.connections, 8);
    ck_assert_uint_eq(c.cache.ttl_ms, 5000);
    ck_assert_uint_eq(c.cache.nrules, 1);      /* no rules key: kept */
    t2 = "cache: {rules: [{prefix: b}, {prefix: c}]}\n";
    ck_assert_int_eq(conf_load_string(&c, "t2", t2, strlen(t2), err, ERRLEN), 0);
    ck_assert_uint_eq(c.cache.nrules, 2);      /* rules key: replaces */
    ck_assert_str_eq(c.cache.rules[0].prefix, "b");
    ck_assert_int_eq(conf_load_string(&c, "t3", t3, strlen(t3), err, ERRLEN), 0);
    ck_assert_uint_eq(c.cache.nrules, 0);
    ck_assert_ptr_null(c.cache.rules);
    conf_free(&c);
}
END_TEST

/* A failed load leaves the struct exactly as it was. */
START_TEST(test_failed_load_changes_nothing)
{
    static const char *const bad[] = {
        "upstream: {connections: 9, password: x}\ncache: {rules: [{prefix: z}]}\nbogus: 1\n",
        "cache: {rules: [{prefix: z}, {ttl: 1s}]}\n",
        "listen: b:2\nlog: {level: debug}\n---\n",
        "upstream: {username: ~}\nlisten: [\n",
    };
    struct conf c, want;
    char err[ERRLEN];
    const char *good = "upstream: {connections: 8, username: u}\ncache: {rules: [{prefix: a, ttl: 1s}]}\n";
    size_t i;

    ck_assert_int_eq(load(&want, good, err), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(load(&c, good, err), 0);
        ck_assert_int_eq(conf_load_string(&c, "bad", bad[i], strlen(bad[i]), err, ERRLEN), -1);
        ck_assert_msg(strncmp(err, "bad:", 4) == 0, "%s", err);
        assert_conf_eq(&c, &want);
        conf_free(&c);
    }
    conf_free(&want);
}
END_TEST

START_TEST(test_load_file)
{
    char path[] = "/tmp/check_conf_XXXXXX";
    char want[128], err[ERRLEN];
    struct conf c;
    int fd;

    ck_assert_int_eq(conf_defaults(&c), 0);
    ck_assert_int_eq(conf_load_file(&c, "/nonexistent/corral.yml", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "/nonexistent/corral.yml: No such file or directory");
    ck_assert_int_eq(conf_load_file(&c, "/", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "/: Is a directory");

    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "log:\n  level: warn\n  levle: x\n", 30), 30);
    close(fd);
    ck_assert_int_eq(conf_load_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3: unknown key 'levle' in section 'log'", path);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(c.log.level, 2);

    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "log:\n  level: warn\n", 19), 19);
    close(fd);
    ck_assert_msg(conf_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.log.level, 1);
    unlink(path);
    conf_free(&c);
}
END_TEST

START_TEST(test_error_buffer)
{
    struct conf c;
    char small[12];
    const char *bad = "bogus: 1\n";

    ck_assert_int_eq(conf_defaults(&c), 0);
    memset(small, 'x', sizeof(small));
    ck_assert_int_eq(conf_load_string(&c, "t.yml", bad, strlen(bad), small, sizeof(small)), -1);
    ck_assert_str_eq(small, "t.yml:1: un");
    ck_assert_int_eq(conf_load_string(&c, "t.yml", bad, strlen(bad), NULL, 0), -1);
    ck_assert_int_eq(conf_load_string(&c, "t.yml", bad, strlen(bad), small, 0), -1);
    conf_free(&c);
}
END_TEST

START_TEST(test_rules_limit)
{
    size_t n = 10001, i, len = 0, cap = n * 16 + 64;
    char *text = malloc(cap);
    char err[ERRLEN];
    struct conf c;

    ck_assert_ptr_nonnull(text);
    len += (size_t)snprintf(text + len, cap - len, "cache: {rules: [");
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s{prefix: a}", i ? "," : "");
    len += (size_t)snprintf(text + len, cap - len, "]}\n");
    ck_assert_int_eq(load(&c, text, err), -1);
    ck_assert_str_eq(err, "t.yml:1: 'cache.rules': more than 10000 rules");
    conf_free(&c);
    /* exactly 10000 is fine */
    strcpy(strrchr(text, ',') , "]}\n");
    ck_assert_msg(load(&c, text, err) == 0, "%s", err);
    ck_assert_uint_eq(c.cache.nrules, 10000);
    conf_free(&c);
    free(text);
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_empty_documents);
    tcase_add_test(tc, test_sample_is_defaults);
    tcase_add_test(tc, test_sample_has_every_key);
    tcase_add_test(tc, test_conf_keys_all_known);
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
    tcase_add_test(tc, test_parse_size);
    tcase_add_test(tc, test_parse_duration);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_bools_levels_modes);
    tcase_add_test(tc, test_secrets_null);
    tcase_add_test(tc, test_addresses);
    tcase_add_test(tc, test_rules_parsed);
    tcase_add_test(tc, test_policy);
    tcase_add_test(tc, test_policy_globally_disabled);
    tcase_add_test(tc, test_policy_first_match);
    tcase_add_test(tc, test_load_on_top);
    tcase_add_test(tc, test_failed_load_changes_nothing);
    tcase_add_test(tc, test_load_file);
    tcase_add_test(tc, test_error_buffer);
    tcase_add_test(tc, test_rules_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
