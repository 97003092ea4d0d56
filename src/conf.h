/*
 * conf.h — corral's configuration: the YAML file of the spec, parsed and
 * checked.
 *
 * Pure: reads a file or a string, fills a struct conf, does nothing else.
 * Every key is optional and has the spec's default. Unknown keys, wrong types
 * and out-of-range values are errors reported as "file:line: message"; the
 * loader never silently ignores anything. Sizes take b/kb/mb/gb (1024-based),
 * durations ms/s/m/h (a bare number of a duration is an error; 0 is allowed
 * where the spec gives 0 a meaning). Every duration is at most 8760h. The
 * accepted range of every key is in man/corral.yml.5.
 */
#ifndef CORRAL_CONF_H
#define CORRAL_CONF_H

#include <stddef.h>
#include <stdint.h>

enum conf_invalidation { CONF_INVAL_TRACKING = 0, CONF_INVAL_BCAST, CONF_INVAL_NONE };

/* One cache rule (cache.rules[]). Fields a rule does not set are -1 and the
 * defaults apply. */
struct conf_rule {
    char *prefix;              /* owned; required; NUL-terminated, but may hold
                                  NUL bytes (prefix_len counts); "" matches all */
    size_t prefix_len;
    int cache;                 /* 0/1, or -1 */
    int64_t ttl_ms;            /* or -1 */
    int lease;                 /* 0/1, or -1 */
    int64_t lease_timeout_ms;  /* or -1 */
    int line;                  /* line of the rule in the file */
};

struct conf {
    char *listen;                  /* "host:port" or "unix:/path" */
    struct {
        char *address;
        char *username;            /* NULL when unset (~) */
        char *password;            /* NULL when unset */
        int connections;           /* 1..256 */
        uint64_t connect_timeout_ms; /* > 0 */
        uint64_t timeout_ms;       /* > 0 */
    } upstream;
    struct {
        long max;                  /* >= 1 */
        char *password;            /* NULL when unset */
        int protected_mode;        /* clients.protected */
        uint64_t idle_timeout_ms;  /* 0 = never */
        uint64_t max_request;      /* bytes, >= 1kb */
        uint64_t output_limit;     /* bytes, >= 1kb */
    } clients;
    struct {
        int enabled;
        uint64_t max_memory;       /* bytes */
        uint64_t ttl_ms;           /* > 0 */
        uint64_t max_value;        /* bytes */
        enum conf_invalidation invalidation;
        struct conf_rule *rules;   /* owned, nrules (<= 10000) entries, in file
                                      order; NULL when there are none */
        size_t nrules;
    } cache;
    struct {
        int enabled;
        uint64_t timeout_ms;       /* > 0 */
        uint64_t max_wait_ms;      /* > 0 */
        uint64_t unfilled_ttl_ms;  /* 0 allowed */
        long max_waiters;          /* >= 0 */
    } lease;
    struct {
        char *listen;              /* "" = disabled */
    } stats;
    struct {
        int level;                 /* enum log_level: 0 error .. 3 debug */
    } log;
};

/* What the rules say for one key (the first matching rule, defaults for
 * fields it leaves unset, cache.* and lease.* when no rule matches). A rule's
 * ttl replaces cache.ttl for its keys, and may be longer. */
struct conf_policy {
    int cache;                 /* cache this key (cache.enabled && rule) */
    uint64_t ttl_ms;
    int lease;                 /* leases for this key (lease.enabled && rule) */
    uint64_t lease_timeout_ms;
};

/* Fill c with the spec's defaults. Returns 0, or -1 when out of memory. */
int conf_defaults(struct conf *c);

/* Load a YAML file on top of what c holds (normally conf_defaults). Keys
 * the file sets replace c's values; a cache.rules list replaces c's rules.
 * Returns 0, or -1 with "file:line: message" in err (err may be NULL; the
 * message is truncated to errlen). Never partially applied: on error c is
 * left exactly as it was and still owned by the caller, who conf_frees it.
 * A missing or unreadable file is "file: reason"; files over 16 MiB are
 * refused. */
int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen);

/* Same, from a string (len bytes, need not be NUL-terminated); name is used
 * in error messages in place of a file. */
int conf_load_string(struct conf *c, const char *name, const char *text,
                     size_t len, char *err, size_t errlen);

/* Free what c owns; c may then be reused with conf_defaults. */
void conf_free(struct conf *c);

/* The policy for key; first prefix match wins. O(rules). */
void conf_policy(const struct conf *c, const char *key, size_t klen,
                 struct conf_policy *out);

/* Parsers shared with the command line: "64mb", "1s". Return 0 or -1
 * (bad syntax or 64-bit overflow). Suffixes are case-insensitive; a size
 * without one is bytes. conf_parse_duration accepts a bare "0" (as 0) and
 * no other bare number; the caller decides whether 0 is allowed. No range
 * checks beyond overflow. */
int conf_parse_size(const char *s, uint64_t *out);
int conf_parse_duration(const char *s, uint64_t *out_ms);

/* Every key the loader accepts, dotted ("upstream.address",
 * "cache.rules[].prefix"), sections included ("upstream", "cache.rules"),
 * NULL-terminated: the man page is checked against it. Generated from the
 * parser's own key table. */
extern const char *const conf_keys[];

#endif
