/*
 * proxy.c — the request path.
 *
 *   client bytes
 *     │  client_process: resp_parse_request (in place, no copy)
 *     ▼
 *   proxy_request ── auth gate ── local commands (AUTH HELLO QUIT RESET
 *     │                           SELECT* CLIENT SETNAME/GETNAME)
 *     ├─ client pinned / command needs a connection of its own
 *     │     (MULTI WATCH blocking SUBSCRIBE MONITOR)
 *     │     └─> dedicated upstream connection (upstream_dedicate)
 *     ├─ GET ──> fill_get: cache hit │ join a fill │ park on a lease │ fill
 *     ├─ MGET ─> hits from the cache, the rest in one MGET upstream
 *     └─ anything else ─> the client's shared connection (request bytes
 *                          moved, not copied); writes remember their keys
 *
 *   upstream reply ─> proxy_upop_reply
 *     ├─ writes: drop the keys locally, end leases (fill_invalidate_*)
 *     ├─ MGET: merge upstream values with the cached ones
 *     └─ client_reply*: into the client's FIFO, sent in request order
 *
 * Ordering: a client's requests in flight are all on one upstream
 * connection (c->up), so Redis runs them in the order sent. A request that
 * must go to another connection (shared <-> dedicated) waits (PROXY_WAIT)
 * until the earlier ones are answered. A client with a write in flight reads
 * through its own connection, never the cache, so it always sees its writes.
 */
#include <ctype.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "client.h"
#include "cmd.h"
#include "fill.h"
#include "log.h"
#include "proxy.h"
#include "server.h"
#include "upstream.h"

#define PROXY_TXKEYS_MAX (1024 * 1024)   /* bytes of keys kept per MULTI */

static const char NOAUTH[] = "-NOAUTH Authentication required.\r\n";
static const char UNAVAILABLE[] = "-ERR upstream unavailable\r\n";

/* Fill srv->argv/argvlen for the parsed request. -1 when out of memory. */
static int proxy_argv(struct server *srv, const char *buf,
                      const struct resp_parser *p)
{
    int i;

    if (p->argc > srv->argv_cap) {
        int cap = p->argc + 16;
        const char **v = realloc(srv->argv, (size_t)cap * sizeof(*v));
        size_t *l;

        if (!v)
            return -1;
        srv->argv = v;
        l = realloc(srv->argvlen, (size_t)cap * sizeof(*l));
        if (!l)
            return -1;
        srv->argvlen = l;
        srv->argv_cap = cap;
    }
    for (i = 0; i < p->argc; i++) {
        srv->argv[i] = resp_arg_ptr(p, buf, i);
        srv->argvlen[i] = p->argv[i].len;
    }
    return 0;
}

static int proxy_streq(const char *a, size_t alen, const char *lit)
{
    return alen == strlen(lit) && strncasecmp(a, lit, alen) == 0;
}

static int proxy_parse_ll(const char *s, size_t len, long long *out)
{
    char tmp[32], *end;

    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    *out = strtoll(tmp, &end, 10);
    return *end ? -1 : 0;
}

/* Append (len, bytes) to a key list buffer. */
static int proxy_keys_add(char **buf, size_t *len, size_t *cap,
                          const char *key, size_t klen)
{
    uint32_t l = (uint32_t)klen;
    size_t need = *len + sizeof(l) + klen;

    if (need > *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        char *nb;

        while (ncap < need)
            ncap *= 2;
        nb = realloc(*buf, ncap);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, &l, sizeof(l));
    memcpy(*buf + *len + sizeof(l), key, klen);
    *len = need;
    return 0;
}

/* Invalidate every key of a key list in db. */
static void proxy_keys_invalidate(struct server *srv, int db, const char *buf,
                                  size_t len)
{
    size_t off = 0;

    while (off + sizeof(uint32_t) <= len) {
        uint32_t l;

        memcpy(&l, buf + off, sizeof(l));
        off += sizeof(l);
        fill_invalidate_db_key(srv, db, buf + off, l, FILL_SRC_WRITE);
        off += l;
    }
}

static int proxy_caching(const struct server *srv)
{
    return srv->conf.cache.enabled || srv->conf.lease.enabled;
}

/* Remember one key a write touches: in r, or inside MULTI in the client's
 * list for EXEC (past PROXY_TXKEYS_MAX, EXEC drops the whole db instead).
 * -1 when out of memory. */
static int proxy_capture_key(struct client *c, struct req *r, const char *key,
                             size_t klen)
{
    if (!c->in_multi)
        return proxy_keys_add(&r->keys, &r->keys_len, &r->keys_cap, key, klen);
    if (c->txkeys_len > PROXY_TXKEYS_MAX ||
        proxy_keys_add(&c->txkeys, &c->txkeys_len, &c->txkeys_cap, key,
                       klen) < 0)
        c->txkeys_overflow = 1;
    return 0;
}

/* Remember the keys a write touches (in r, or in the client's MULTI list),
 * so they are dropped locally when Redis has answered. */
static int proxy_capture_write(struct client *c, struct req *r,
                               const struct cmd *cmd, int argc)
{
    struct server *srv = c->srv;
    int small[64], *idx = small, n, i, more = 0, rc = 0;

    if (cmd->flags & CMD_FLUSH) {
        if (proxy_streq(srv->argv[0], srv->argvlen[0], "FLUSHALL"))
            r->flush = 2;
        else if (proxy_streq(srv->argv[0], srv->argvlen[0], "SWAPDB")) {
            r->flush = 3;
            if (argc < 3 ||
                proxy_parse_ll(srv->argv[1], srv->argvlen[1], &r->swap_a) < 0 ||
                proxy_parse_ll(srv->argv[2], srv->argvlen[2], &r->swap_b) < 0)
                r->flush = 2;
        } else
            r->flush = 1;
        return 0;
    }
    if (!(cmd->flags & CMD_WRITE) || !proxy_caching(srv))
        return 0;
    n = cmd_keys(cmd, argc, srv->argv, srv->argvlen, small, 64, &more);
    if (more) {
        /* many keys (MSET of hundreds): find them all */
        idx = malloc((size_t)argc * sizeof(*idx));
        if (!idx)
            return -1;
        n = cmd_keys(cmd, argc, srv->argv, srv->argvlen, idx, argc, NULL);
    }
    for (i = 0; i < n && rc == 0; i++)
        rc = proxy_capture_key(c, r, srv->argv[idx[i]], srv->argvlen[idx[i]]);
    if (idx != small)
        free(idx);
    return rc;
}

/* ---- local commands ---- */

static int proxy_check_password(const struct server *srv, const char *user,
                                size_t ulen, const char *pass, size_t plen)
{
    const char *want = srv->conf.clients.password;
    size_t wlen = strlen(want), i;
    unsigned diff = plen != wlen;

    if (user && !proxy_streq(user, ulen, "default"))
        return 0;
    for (i = 0; i < plen; i++)
        diff |= (unsigned)(pass[i] ^ want[i % (wlen ? wlen : 1)]);
    return diff == 0;
}

static enum proxy_result proxy_answer(struct client *c, uint64_t start,
                                      struct evbuffer *in, size_t reqlen,
                                      const char *reply, size_t len)
{
    evbuffer_drain(in, reqlen);
    return client_answer(c, start, LAT_PASSTHROUGH, reply, len) < 0
               ? PROXY_CLOSED : PROXY_DONE;
}

#define PROXY_ANSWER_LIT(lit) \
    proxy_answer(c, start, in, reqlen, lit, sizeof(lit) - 1)

static enum proxy_result proxy_auth(struct client *c, struct evbuffer *in,
                                    size_t reqlen, int argc, uint64_t start)
{
    struct server *srv = c->srv;

    if (!srv->conf.clients.password)
        return PROXY_ANSWER_LIT("-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n");
    if (argc != 2 && argc != 3)
        return PROXY_ANSWER_LIT("-ERR syntax error\r\n");
    if (argc == 2 ? proxy_check_password(srv, NULL, 0, srv->argv[1], srv->argvlen[1])
                  : proxy_check_password(srv, srv->argv[1], srv->argvlen[1],
                                         srv->argv[2], srv->argvlen[2])) {
        c->authed = 1;
        return PROXY_ANSWER_LIT("+OK\r\n");
    }
    return PROXY_ANSWER_LIT("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

static int proxy_valid_name(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] < '!' || s[i] > '~')
            return 0;
    return 1;
}

static int proxy_setname(struct client *c, const char *name, size_t len)
{
    char *n = NULL;

    if (len) {
        n = malloc(len + 1);
        if (!n)
            return -1;
        memcpy(n, name, len);
        n[len] = '\0';
    }
    free(c->name);
    c->name = n;
    return 0;
}

static enum proxy_result proxy_hello(struct client *c, struct evbuffer *in,
                                     size_t reqlen, int argc, uint64_t start)
{
    struct server *srv = c->srv;
    long long ver = 2;
    int i;
    char buf[512];
    int n;

    if (argc >= 2) {
        if (proxy_parse_ll(srv->argv[1], srv->argvlen[1], &ver) < 0)
            return PROXY_ANSWER_LIT("-ERR Protocol version is not an integer or out of range\r\n");
        if (ver != 2)
            return PROXY_ANSWER_LIT("-NOPROTO sorry, this protocol version is not supported.\r\n");
    }
    for (i = 2; i < argc; i++) {
        if (proxy_streq(srv->argv[i], srv->argvlen[i], "AUTH") && i + 2 < argc) {
            if (!srv->conf.clients.password)
                return PROXY_ANSWER_LIT("-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n");
            if (!proxy_check_password(srv, srv->argv[i + 1], srv->argvlen[i + 1],
                                      srv->argv[i + 2], srv->argvlen[i + 2]))
                return PROXY_ANSWER_LIT("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
            c->authed = 1;
            i += 2;
        } else if (proxy_streq(srv->argv[i], srv->argvlen[i], "SETNAME") &&
                   i + 1 < argc) {
            if (!proxy_valid_name(srv->argv[i + 1], srv->argvlen[i + 1]))
                return PROXY_ANSWER_LIT("-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
            if (proxy_setname(c, srv->argv[i + 1], srv->argvlen[i + 1]) < 0)
                return PROXY_ANSWER_LIT("-ERR out of memory\r\n");
            i += 1;
        } else {
            n = snprintf(buf, sizeof(buf), "-ERR Syntax error in HELLO option '%.*s'\r\n",
                         (int)(srv->argvlen[i] > 64 ? 64 : srv->argvlen[i]),
                         srv->argv[i]);
            return proxy_answer(c, start, in, reqlen, buf, (size_t)n);
        }
    }
    if (!c->authed)
        return PROXY_ANSWER_LIT("-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n");
    n = snprintf(buf, sizeof(buf),
                 "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"
                 "$5\r\n7.0.0\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:%lld\r\n"
                 "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n"
                 "$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
                 (long long)(uintptr_t)c % 1000000007LL);
    return proxy_answer(c, start, in, reqlen, buf, (size_t)n);
}

/* Answer "-ERR '<command> [<sub>]' <why>". */
static enum proxy_result proxy_refuse(struct client *c, struct evbuffer *in,
                                      size_t reqlen, int argc, uint64_t start,
                                      const char *why)
{
    struct server *srv = c->srv;
    char buf[200];
    int n0 = (int)(srv->argvlen[0] > 32 ? 32 : srv->argvlen[0]);
    int n1 = argc > 1 ? (int)(srv->argvlen[1] > 32 ? 32 : srv->argvlen[1]) : 0;
    int n = snprintf(buf, sizeof(buf), "-ERR '%.*s%s%.*s' %s\r\n", n0,
                     srv->argv[0], argc > 1 ? " " : "", n1,
                     argc > 1 ? srv->argv[1] : "", why);

    return proxy_answer(c, start, in, reqlen, buf, (size_t)n);
}

static enum proxy_result proxy_local(struct client *c, const struct cmd *cmd,
                                     struct evbuffer *in, size_t reqlen,
                                     int argc, uint64_t start)
{
    struct server *srv = c->srv;

    switch (cmd->proc) {
    case CMD_PROC_AUTH:
        return proxy_auth(c, in, reqlen, argc, start);
    case CMD_PROC_HELLO:
        return proxy_hello(c, in, reqlen, argc, start);
    case CMD_PROC_QUIT: {
        struct req *r = client_req_new(c, start, LAT_PASSTHROUGH);

        evbuffer_drain(in, reqlen);
        if (!r) {
            client_close(c);
            return PROXY_CLOSED;
        }
        r->close_after = 1;
        client_reply(r, "+OK\r\n", 5);
        c->closing = 1;
        return PROXY_CLOSED;
    }
    case CMD_PROC_RESET:
        if (c->inflight)
            return PROXY_WAIT;
        if (c->pin) {
            upstream_release(c->pin, 0);
            c->pin = NULL;
        }
        c->in_multi = c->watching = c->stream = 0;
        c->txkeys_len = 0;
        c->txkeys_overflow = 0;
        c->db = 0;
        free(c->name);
        c->name = NULL;
        c->authed = srv->conf.clients.password == NULL;
        return PROXY_ANSWER_LIT("+RESET\r\n");
    case CMD_PROC_SETNAME:
        if (argc != 3)
            return PROXY_ANSWER_LIT("-ERR wrong number of arguments for 'client|setname' command\r\n");
        if (!proxy_valid_name(srv->argv[2], srv->argvlen[2]))
            return PROXY_ANSWER_LIT("-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
        if (proxy_setname(c, srv->argv[2], srv->argvlen[2]) < 0)
            return PROXY_ANSWER_LIT("-ERR out of memory\r\n");
        return PROXY_ANSWER_LIT("+OK\r\n");
    case CMD_PROC_GETNAME:
        if (!c->name)
            return PROXY_ANSWER_LIT("$-1\r\n");
        else {
            char buf[64];
            size_t nl = strlen(c->name);
            int n = snprintf(buf, sizeof(buf), "$%zu\r\n", nl);
            struct evbuffer *tmp = evbuffer_new();
            enum proxy_result pr;

            if (!tmp)
                return PROXY_ANSWER_LIT("-ERR out of memory\r\n");
            evbuffer_add(tmp, buf, (size_t)n);
            evbuffer_add(tmp, c->name, nl);
            evbuffer_add(tmp, "\r\n", 2);
            pr = proxy_answer(c, start, in, reqlen,
                              (const char *)evbuffer_pullup(tmp, -1),
                              evbuffer_get_length(tmp));
            evbuffer_free(tmp);
            return pr;
        }
    case CMD_PROC_UNSUPPORTED:
        return proxy_refuse(c, in, reqlen, argc, start, "is not supported through corral");
    default:
        return PROXY_DONE;
    }
}

/* ---- MGET ---- */

/* Answer the cached keys of an MGET locally and fetch only the rest.
 * Returns -1 when the request should simply be forwarded. */
static int proxy_mget(struct client *c, struct evbuffer *in, size_t reqlen,
                      int argc, uint64_t start)
{
    struct server *srv = c->srv;
    uint64_t now = start / 1000000ULL;
    int n = argc - 1, i, hits = 0, nmiss = 0;
    struct conf_policy pol;
    struct upconn *u = NULL;
    struct req *r;
    struct evbuffer *out;

    if (!srv->conf.cache.enabled || c->writes_inflight || n < 1)
        return -1;
    r = client_req_new(c, start, LAT_HIT);
    if (!r)
        return -1;
    if (r->mget_cap < n) {
        uint32_t *m = realloc(r->mget_len, (size_t)n * sizeof(*m));

        if (!m)
            goto forward;
        r->mget_len = m;
        r->mget_cap = n;
    }
    if (!r->aux && !(r->aux = evbuffer_new()))
        goto forward;
    for (i = 0; i < n; i++) {
        const char *v = NULL;
        size_t vlen = 0;

        conf_policy(&srv->conf, srv->argv[i + 1], srv->argvlen[i + 1], &pol);
        if (pol.cache)
            v = cache_get(srv->cache, c->db, srv->argv[i + 1],
                          srv->argvlen[i + 1], now, &vlen);
        if (v) {
            if (evbuffer_add(r->aux, v, vlen) < 0)
                goto forward;
            r->mget_len[i] = (uint32_t)vlen;
            hits++;
        } else {
            r->mget_len[i] = UINT32_MAX;
            /* compact the missing keys to the front of argv for MGET */
            srv->argv[1 + nmiss] = srv->argv[i + 1];
            srv->argvlen[1 + nmiss] = srv->argvlen[i + 1];
            nmiss++;
        }
    }
    metrics_add(&srv->metrics, CACHE_HITS, hits);
    metrics_add(&srv->metrics, CACHE_MISSES, nmiss);
    r->mget_n = n;
    if (hits == 0)
        goto forward;
    out = client_reply_buffer(r);
    if (nmiss == 0) {
        evbuffer_add_printf(out, "*%d\r\n", n);
        evbuffer_add_buffer(out, r->aux);
        evbuffer_drain(in, reqlen);
        client_reply_finish(r);
        return 0;
    }
    if (c->inflight && c->up)
        u = c->up;
    else
        u = upstream_pick(srv, 0);
    if (!u) {
        evbuffer_drain(in, reqlen);
        client_reply(r, UNAVAILABLE, sizeof(UNAVAILABLE) - 1);
        return 0;
    }
    r->lat_class = LAT_MISS;
    r->op = upstream_send_argv(u, UPOP_MGET, r, c->db, 1 + nmiss, srv->argv,
                               srv->argvlen);
    if (r->op) {
        /* the cached part waits for the rest: it counts as held output */
        c->held += evbuffer_get_length(r->aux);
    }
    if (!r->op) {
        evbuffer_drain(in, reqlen);
        client_reply(r, UNAVAILABLE, sizeof(UNAVAILABLE) - 1);
        return 0;
    }
    evbuffer_drain(in, reqlen);
    c->up = u;
    c->inflight++;
    return 0;

forward:
    /* undo: r is the FIFO tail and not answered; reuse it for the forward */
    r->lat_class = LAT_PASSTHROUGH;
    r->mget_n = 0;
    if (r->aux)
        evbuffer_drain(r->aux, evbuffer_get_length(r->aux));
    return -2;
}

/* Merge an upstream MGET reply for the missing keys with the cached ones. */
static void proxy_mget_reply(struct req *r, struct evbuffer *in, size_t len,
                             const struct resp_scanner *s)
{
    const char *p;
    size_t off, end;
    struct evbuffer *out;
    int i;

    if (r->c)
        r->c->held -= evbuffer_get_length(r->aux);
    if (!r->c || s->type != '*' || s->num < 0) {
        if (r->c) {
            client_reply_move(r, in, len);
        } else {
            evbuffer_drain(in, len);
        }
        return;
    }
    p = (const char *)evbuffer_pullup(in, (ssize_t)len);
    if (!p) {
        evbuffer_drain(in, len);
        client_reply(r, "-ERR out of memory\r\n", 20);
        return;
    }
    out = client_reply_buffer(r);
    off = 0;
    while (off < len && p[off] != '\n')
        off++;
    off++;                                  /* past the array header */
    evbuffer_add_printf(out, "*%d\r\n", r->mget_n);
    for (i = 0; i < r->mget_n; i++) {
        if (r->mget_len[i] != UINT32_MAX) {
            evbuffer_remove_buffer(r->aux, out, r->mget_len[i]);
            continue;
        }
        {
            struct resp_scanner es;
            ssize_t used;

            resp_scan_init(&es);
            used = off < len ? resp_scan(&es, p + off, len - off) : -1;
            if (used < 0 || !es.done) {
                evbuffer_add(out, "$-1\r\n", 5);
                continue;
            }
            end = off + (size_t)used;
            evbuffer_add(out, p + off, end - off);
            off = end;
        }
    }
    evbuffer_drain(in, len);
    client_reply_finish(r);
}

/* ---- routing ---- */

/* Does this request, from this client, need the client's dedicated
 * connection? */
static int proxy_needs_pin(const struct client *c, const struct cmd *cmd,
                           int argc, const struct server *srv)
{
    if (c->pin && (c->in_multi || c->watching || c->stream ||
                   c->pin->nops > 0))
        return 1;
    if (!cmd)
        return 0;
    if (cmd->flags & (CMD_MULTI | CMD_WATCH | CMD_SUBSCRIBE | CMD_PUBSUB |
                      CMD_MONITOR | CMD_BLOCKING))
        return 1;
    if ((cmd->flags & CMD_MAYBLOCK) &&
        cmd_blocks(cmd, argc, srv->argv, srv->argvlen))
        return 1;
    return 0;
}

/* Update the client's connection state for a request sent on its
 * dedicated connection. Returns 1 when the request may block in Redis. */
static int proxy_pin_state(struct client *c, const struct cmd *cmd, int argc)
{
    struct server *srv = c->srv;

    if (!cmd)
        return 0;
    if (cmd->flags & CMD_MULTI)
        c->in_multi = 1;
    else if (cmd->flags & (CMD_EXEC | CMD_DISCARD))
        c->in_multi = c->watching = 0;
    else if (cmd->flags & CMD_WATCH)
        c->watching = 1;
    else if ((cmd->flags & CMD_UNWATCH) && !c->in_multi)
        c->watching = 0;
    return !c->in_multi &&
           ((cmd->flags & CMD_BLOCKING) ||
            ((cmd->flags & CMD_MAYBLOCK) &&
             cmd_blocks(cmd, argc, srv->argv, srv->argvlen)));
}

enum proxy_result proxy_request(struct client *c, struct evbuffer *in,
                                const char *buf, const struct resp_parser *p,
                                uint64_t start)
{
    struct server *srv = c->srv;
    size_t reqlen = p->consumed;
    int argc = p->argc;
    const struct cmd *cmd;
    struct upconn *u = NULL;
    struct req *r;
    int pin, rc;

    if (proxy_argv(srv, buf, p) < 0) {
        client_close(c);
        return PROXY_CLOSED;
    }
    cmd = cmd_lookup(srv->argv[0], srv->argvlen[0]);
    if (cmd && (cmd->flags & CMD_SUBCMDS) && argc >= 2) {
        const struct cmd *sub = cmd_lookup_sub(srv->argv[0], srv->argvlen[0],
                                               srv->argv[1], srv->argvlen[1]);
        if (sub)
            cmd = sub;
    }
    if (!c->authed &&
        !(cmd && (cmd->proc == CMD_PROC_AUTH || cmd->proc == CMD_PROC_HELLO ||
                  cmd->proc == CMD_PROC_QUIT)))
        return PROXY_ANSWER_LIT(NOAUTH);

    /* subscribed: everything goes to the stream, replies are pushed
       (RESET and QUIT end it here) */
    if (c->stream && c->pin &&
        !(cmd && (cmd->proc == CMD_PROC_RESET || cmd->proc == CMD_PROC_QUIT))) {
        if (!upstream_send(c->pin, UPOP_IGNORE, NULL, c->db, in, reqlen)) {
            client_close(c);
            return PROXY_CLOSED;
        }
        return PROXY_DONE;
    }

    if (cmd && cmd->proc != CMD_PROC_FORWARD && cmd->proc != CMD_PROC_GET &&
        cmd->proc != CMD_PROC_MGET) {
        /* Inside MULTI these would be queued by Redis on the dedicated
           connection and change its state behind corral's back. */
        if (c->in_multi && cmd->proc != CMD_PROC_QUIT)
            return proxy_refuse(c, in, reqlen, argc, start,
                                "inside MULTI is not supported through corral");
        if (cmd->proc != CMD_PROC_SELECT)
            return proxy_local(c, cmd, in, reqlen, argc, start);
    }

    pin = proxy_needs_pin(c, cmd, argc, srv);
    if (pin) {
        int stream = cmd &&
                     (cmd->flags & (CMD_SUBSCRIBE | CMD_PUBSUB | CMD_MONITOR)) &&
                     !c->in_multi;

        if (c->inflight && c->up != c->pin)
            return PROXY_WAIT;
        if (stream && c->head)
            return PROXY_WAIT;
        if (!c->pin && !(c->pin = upstream_dedicate(srv, c))) {
            metrics_inc(&srv->metrics, UPSTREAM_ERRORS);
            return PROXY_ANSWER_LIT(UNAVAILABLE);
        }
        if (stream) {
            c->stream = 1;
            c->pin->stream = 1;
            if (!upstream_send(c->pin, UPOP_IGNORE, NULL, c->db, in, reqlen)) {
                client_close(c);
                return PROXY_CLOSED;
            }
            /* the stream delivers replies itself; no upop stays queued */
            return PROXY_DONE;
        }
        u = c->pin;
    } else {
        if (c->pin && c->pin->nops == 0 && !c->inflight) {
            /* the dedicated connection is no longer needed */
            upstream_release(c->pin, 1);
            c->pin = NULL;
        }
        if (c->inflight && c->up && c->up->index < 0)
            return PROXY_WAIT;
        if (cmd && cmd->proc == CMD_PROC_GET && argc == 2) {
            rc = fill_get(c, in, reqlen, srv->argv[1], srv->argvlen[1], start);
            if (rc >= 0)
                return c->dead ? PROXY_CLOSED : PROXY_DONE;
        } else if (cmd && cmd->proc == CMD_PROC_MGET) {
            rc = proxy_mget(c, in, reqlen, argc, start);
            if (rc == 0)
                return PROXY_DONE;
            if (rc == -2) {
                /* proxy_mget left its req on the FIFO: forward with it */
                r = c->tail;
                goto send_shared;
            }
        }
        u = c->inflight && c->up ? c->up : upstream_pick(srv, 0);
        if (!u) {
            metrics_inc(&srv->metrics, UPSTREAM_ERRORS);
            return PROXY_ANSWER_LIT(UNAVAILABLE);
        }
    }

    r = client_req_new(c, start, LAT_PASSTHROUGH);
    if (!r) {
        client_close(c);
        return PROXY_CLOSED;
    }
send_shared:
    if (!pin && !u) {
        u = c->inflight && c->up ? c->up : upstream_pick(srv, 0);
        if (!u) {
            evbuffer_drain(in, reqlen);
            metrics_inc(&srv->metrics, UPSTREAM_ERRORS);
            client_reply(r, UNAVAILABLE, sizeof(UNAVAILABLE) - 1);
            return PROXY_DONE;
        }
    }
    r->on_pin = pin;
    r->db = c->db;
    r->cmd_flags = cmd ? (int)cmd->flags : CMD_WRITE;
    if (cmd && proxy_capture_write(c, r, cmd, argc) < 0) {
        evbuffer_drain(in, reqlen);
        client_reply(r, "-ERR out of memory\r\n", 20);
        return PROXY_DONE;
    }
    if (!cmd || (cmd->flags & (CMD_WRITE | CMD_FLUSH)) ||
        (cmd->flags & CMD_EXEC)) {
        r->is_write = 1;
        c->writes_inflight++;
    }
    if (cmd && cmd->proc == CMD_PROC_SELECT) {
        long long db;

        if (argc == 2 && proxy_parse_ll(srv->argv[1], srv->argvlen[1], &db) == 0 &&
            db >= 0 && db <= 0x7fffffff) {
            /* runs on u before anything sent after it */
            r->prev_db = c->db;
            r->op = upstream_send(u, UPOP_CLIENT, r, c->db, in, reqlen);
            if (r->op) {
                u->db = (int)db;
                c->db = (int)db;
                r->is_select = 1;     /* see proxy_req_settled */
            }
            goto sent;
        }
    }
    {
        int blocks = pin && proxy_pin_state(c, cmd, argc);

        r->op = upstream_send(u, UPOP_CLIENT, r, c->db, in, reqlen);
        if (r->op)
            r->op->blocking = blocks;
    }
sent:
    if (!r->op) {
        if (r->is_write) {
            r->is_write = 0;
            c->writes_inflight--;
        }
        evbuffer_drain(in, reqlen);
        metrics_inc(&srv->metrics, UPSTREAM_ERRORS);
        client_reply(r, UNAVAILABLE, sizeof(UNAVAILABLE) - 1);
        return c->dead ? PROXY_CLOSED : PROXY_DONE;
    }
    c->up = u;
    c->inflight++;
    return PROXY_DONE;
}

/* ---- replies ---- */

/* Bookkeeping common to an answered and a failed client request. */
static void proxy_req_settled(struct server *srv, struct req *r, int is_err)
{
    struct client *c = r->c;

    r->op = NULL;
    if (r->keys_len)
        proxy_keys_invalidate(srv, r->db, r->keys, r->keys_len);
    r->keys_len = 0;
    if (r->flush == 1)
        fill_invalidate_all(srv, r->db, FILL_SRC_FLUSH);
    else if (r->flush == 2)
        fill_invalidate_all(srv, -1, FILL_SRC_FLUSH);
    else if (r->flush == 3) {
        fill_invalidate_all(srv, (int)r->swap_a, FILL_SRC_FLUSH);
        fill_invalidate_all(srv, (int)r->swap_b, FILL_SRC_FLUSH);
    }
    if (!c)
        return;
    c->inflight--;
    if (r->is_write)
        c->writes_inflight--;
    if (r->is_select && is_err) {
        /* SELECT refused: the client stays in its db; which db the
           connection is in is no longer known (others may have selected
           since), so the next request on it selects again */
        if (c->up)
            c->up->db = -1;
        c->db = r->prev_db;
    }
    if (r->on_pin && (r->cmd_flags & CMD_EXEC) && c->txkeys_len) {
        if (c->txkeys_overflow)
            fill_invalidate_all(srv, r->db, FILL_SRC_WRITE);
        else
            proxy_keys_invalidate(srv, r->db, c->txkeys, c->txkeys_len);
    }
    if (r->on_pin && (r->cmd_flags & (CMD_EXEC | CMD_DISCARD))) {
        c->txkeys_len = 0;
        c->txkeys_overflow = 0;
    }
}

static void proxy_req_resume(struct client *c)
{
    if (c && c->blocked && c->inflight == 0 && !c->dead)
        client_resume(c);
}

void proxy_upop_reply(struct upconn *u, struct upop *op, struct evbuffer *in,
                      size_t len, const struct resp_scanner *s)
{
    struct server *srv = u->srv;
    struct req *r = op->target;
    struct client *c;

    switch (op->kind) {
    case UPOP_FILL_TTL:
    case UPOP_FILL:
        fill_reply(u, op, in, len, s);
        return;
    case UPOP_MGET:
        c = r->c;
        r->op = NULL;
        if (c)
            c->inflight--;
        proxy_mget_reply(r, in, len, s);
        if (!c)
            client_req_free(srv, r);
        proxy_req_resume(c);
        return;
    case UPOP_CLIENT:
        c = r->c;
        proxy_req_settled(srv, r, s->type == '-');
        if (!c) {
            evbuffer_drain(in, len);
            client_req_free(srv, r);
            return;
        }
        client_reply_move(r, in, len);
        proxy_req_resume(c);
        return;
    default:
        evbuffer_drain(in, len);
        return;
    }
}

void proxy_upop_failed(struct upconn *u, struct upop *op, const char *msg)
{
    struct server *srv = u->srv;
    struct req *r = op->target;
    struct client *c;

    switch (op->kind) {
    case UPOP_FILL_TTL:
    case UPOP_FILL:
        fill_failed(op, msg);
        return;
    case UPOP_MGET:
    case UPOP_CLIENT:
        c = r->c;
        if (op->kind == UPOP_CLIENT) {
            proxy_req_settled(srv, r, 1);
        } else {
            r->op = NULL;
            if (c) {
                c->inflight--;
                c->held -= evbuffer_get_length(r->aux);
            }
        }
        if (!c) {
            client_req_free(srv, r);
            return;
        }
        client_reply_error(r, msg);
        proxy_req_resume(c);
        return;
    default:
        return;
    }
}
