/*
 * check_passthrough.c — integration tests of the pass-through path: real
 * redis-server and corral processes, real clients (hiredis, raw sockets,
 * redis-cli, redis-benchmark), checking what users see: replies, ordering,
 * per-client state, pinned connections (MULTI, WATCH, BLPOP, SUBSCRIBE),
 * protocol errors, limits, upstream failure and recovery, protected mode and
 * AUTH.
 *
 * One redis-server and one corral serve the whole suite (unchecked fixture).
 * check forks every test, so the fixture lives in shared memory: a test that
 * restarts Redis records the new process there and the parent stops it.
 * Tests that need other settings start a corral of their own.
 */
#include <check.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "harness.h"

struct fixture {
    struct proc redis;
    struct proc corral;
};

static struct fixture *fx;   /* shared with the forked tests */

static void setup(void)
{
    memset(fx, 0, sizeof(*fx));
    ck_assert_msg(h_redis_start(&fx->redis, 0) == 0, "redis-server did not start");
    ck_assert_msg(h_corral_start(&fx->corral, fx->redis.port, 0, NULL) == 0,
                  "corral did not start (log %s)", fx->corral.log);
}

static void teardown(void)
{
    if (fx->corral.pid > 0)
        h_stop(&fx->corral, SIGTERM);
    if (fx->redis.pid > 0)
        h_stop(&fx->redis, SIGTERM);
    /* a Redis a test killed (h_kill) is a zombie child of ours */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        continue;
}

/* ---- helpers ---- */

/* A hiredis connection to corral / straight to Redis. */
static redisContext *via_corral(void)
{
    redisContext *c = h_connect(fx->corral.port);

    ck_assert_msg(c != NULL, "cannot connect to corral");
    return c;
}

static redisContext *to_redis(void)
{
    redisContext *c = h_connect(fx->redis.port);

    ck_assert_msg(c != NULL, "cannot connect to redis");
    return c;
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL, "no reply (%s)", c->errstr);
    return r;
}

/* Error reply starting with prefix? */
static int is_err(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* Expect an error reply starting with prefix. */
static void cmd_err(redisContext *c, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL, "no reply (%s)", c->errstr);
    ck_assert_msg(is_err(r, prefix), "want error '%s...', got type %d '%s'",
                  prefix, r->type, r->str ? r->str : "");
    freeReplyObject(r);
}

/* Is the next (pipelined) reply on c of this type and, for str != NULL,
 * this text? Frees it. Safe in threads (asserts nothing). */
static int next_is(redisContext *c, int type, const char *str)
{
    redisReply *r;
    int ok;

    if (redisGetReply(c, (void **)&r) != REDIS_OK)
        return 0;
    ok = r->type == type && (!str || (r->str && !strcmp(r->str, str)));
    freeReplyObject(r);
    return ok;
}

/* Expect r to be an array whose elements read as want, '|'-separated
 * (integers in decimal). Frees r. */
static void arr_is(redisReply *r, const char *want)
{
    char got[1024] = "";
    size_t i, n = 0;

    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    for (i = 0; i < r->elements && n < sizeof(got); i++) {
        const redisReply *e = r->element[i];

        if (e->type == REDIS_REPLY_INTEGER)
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%lld",
                                  i ? "|" : "", e->integer);
        else
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s",
                                  i ? "|" : "", e->str ? e->str : "(nil)");
    }
    freeReplyObject(r);
    ck_assert_str_eq(got, want);
}

/* Start n threads fn(args + i * size) and wait for them all. */
static void run_threads(void *(*fn)(void *), void *args, size_t size, int n)
{
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    int i;

    ck_assert_ptr_nonnull(t);
    for (i = 0; i < n; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, fn,
                                        (char *)args + (size_t)i * size), 0);
    for (i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
}

static void raw_open(struct h_raw *w, int port)
{
    ck_assert_msg(h_raw_open(w, port) == 0, "connect: %s", strerror(errno));
}

static void raw_send(struct h_raw *w, const char *buf, size_t len)
{
    ck_assert_msg(h_raw_send(w, buf, len) == 0, "send: %s", strerror(errno));
}

/* Send a string literal. */
#define RAW_SEND_LIT(w, lit) raw_send(w, lit, sizeof(lit) - 1)

/* Expect the next reply to be a status or string equal to want, or with
 * want starting with "-", an error equal to the rest. */
static void raw_expect(struct h_raw *w, const char *want)
{
    redisReply *r = h_raw_reply(w, 5000);
    int err = want[0] == '-';

    ck_assert_msg(r != NULL, "no reply, want '%s'", want);
    ck_assert_msg(err ? r->type == REDIS_REPLY_ERROR
                      : r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING,
                  "want '%s', got type %d", want, r->type);
    ck_assert_str_eq(r->str, want + err);
    freeReplyObject(r);
}

/* Expect a protocol error, then the connection closed. */
static void raw_expect_protocol_error(struct h_raw *w)
{
    redisReply *r = h_raw_reply(w, 5000);

    ck_assert_msg(is_err(r, "ERR Protocol error"), "got %s",
                  r && r->str ? r->str : "nothing");
    freeReplyObject(r);
    ck_assert_msg(h_raw_closed(w, 5000), "connection left open");
}

/* Wait until Redis has exactly want clients blocked in BLPOP. */
static int wait_blpops(redisContext *rc, int want)
{
    return h_wait_clients(rc, "blpop", 1, 0, want, 5000);
}

static const char BLPOP_FOREVER[] =
    "*3\r\n$5\r\nBLPOP\r\n$4\r\nbq:q\r\n$1\r\n0\r\n";

/* ---- 1. commands, framing, per-client state ---- */

START_TEST(test_basic_commands)
{
    redisContext *c = via_corral(), *rc = to_redis();
    redisReply *r;

    ck_assert(h_cmd_is(c, "OK", "SET bc:s hello"));
    ck_assert(h_cmd_is(c, "hello", "GET bc:s"));
    ck_assert(h_cmd_is(rc, "hello", "GET bc:s"));
    ck_assert_int_eq(h_cmd_int(c, "DEL bc:s"), 1);
    ck_assert(h_cmd_is(c, NULL, "GET bc:s"));
    ck_assert_int_eq(h_cmd_int(rc, "EXISTS bc:s"), 0);
    ck_assert_int_eq(h_cmd_int(c, "INCR bc:n"), 1);
    ck_assert_int_eq(h_cmd_int(c, "INCR bc:n"), 2);
    ck_assert(h_cmd_is(rc, "2", "GET bc:n"));
    ck_assert_int_eq(h_cmd_int(c, "LPUSH bc:l a b c"), 3);
    arr_is(cmd(c, "LRANGE bc:l 0 -1"), "c|b|a");
    ck_assert_int_eq(h_cmd_int(c, "HSET bc:h f1 v1 f2 v2"), 2);
    arr_is(cmd(c, "HGETALL bc:h"), "f1|v1|f2|v2");  /* small hash: in order */
    /* a command corral does not know goes to Redis, which answers it */
    r = cmd(c, "FOOBARCMD x y");
    ck_assert_msg(is_err(r, "ERR unknown command") && strstr(r->str, "FOOBARCMD"),
                  "got '%s'", r->str ? r->str : "");
    freeReplyObject(r);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    redisFree(c);
    redisFree(rc);
}
END_TEST

START_TEST(test_inline_commands)
{
    redisContext *rc = to_redis();
    struct h_raw w;

    raw_open(&w, fx->corral.port);
    RAW_SEND_LIT(&w, "PING\r\n");
    raw_expect(&w, "PONG");
    RAW_SEND_LIT(&w, "SET inl:k v\r\n");
    raw_expect(&w, "OK");
    RAW_SEND_LIT(&w, "SET inl:q \"a b\"\r\nGET inl:q\r\n");
    raw_expect(&w, "OK");
    raw_expect(&w, "a b");
    h_raw_close(&w);
    ck_assert(h_cmd_is(rc, "v", "GET inl:k"));
    ck_assert(h_cmd_is(rc, "a b", "GET inl:q"));
    redisFree(rc);
}
END_TEST

START_TEST(test_pipeline_1000)
{
    char *buf = malloc(1000 * 64), want[16];
    size_t len = 0;
    struct h_raw w;
    int i;

    ck_assert_ptr_nonnull(buf);
    for (i = 0; i < 1000; i++) {
        if (i % 2 == 0)
            len += (size_t)sprintf(buf + len, "*2\r\n$4\r\nINCR\r\n$6\r\npl:ctr\r\n");
        else
            len += (size_t)sprintf(buf + len, "*2\r\n$4\r\nECHO\r\n$%d\r\ne%d\r\n",
                                   snprintf(want, sizeof(want), "e%d", i), i);
    }
    raw_open(&w, fx->corral.port);
    raw_send(&w, buf, len);              /* one write of all 1000 */
    for (i = 0; i < 1000; i++) {
        redisReply *r = h_raw_reply(&w, 5000);

        ck_assert_msg(r != NULL, "reply %d missing", i);
        ck_assert_msg(r->type != REDIS_REPLY_ERROR, "reply %d: %s", i, r->str);
        if (i % 2 == 0) {
            ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
            ck_assert_int_eq(r->integer, i / 2 + 1);
        } else {
            snprintf(want, sizeof(want), "e%d", i);
            ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
            ck_assert_str_eq(r->str, want);
        }
        freeReplyObject(r);
    }
    ck_assert(h_raw_quiet(&w));
    h_raw_close(&w);
    free(buf);
}
END_TEST

/* Send req to w cut at cuts[], making corral read each piece before the
 * next one is sent: a PING round trip through corral on another connection
 * after each piece (its event loop has handled w's bytes by then). A
 * partial request must get no reply. */
static void send_in_pieces(struct h_raw *w, redisContext *barrier,
                           const char *req, const size_t *cuts, int ncuts)
{
    size_t from = 0;
    int i;

    for (i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : strlen(req);

        raw_send(w, req + from, to - from);
        from = to;
        if (i < ncuts) {
            ck_assert(h_cmd_is(barrier, "PONG", "PING"));
            ck_assert_msg(h_raw_quiet(w), "reply to a partial request (cut %zu)",
                          cuts[i]);
        }
    }
}

START_TEST(test_split_requests)
{
    static const char set_req[] =
        "*3\r\n$3\r\nSET\r\n$8\r\nsplit:k1\r\n$5\r\nhello\r\n";
    static const char get_req[] = "*2\r\n$3\r\nGET\r\n$8\r\nsplit:k1\r\n";
    static const char inl_req[] = "ECHO split\r\n";
    redisContext *barrier = via_corral();
    size_t cuts[64], k;
    int n;
    struct h_raw w;

    raw_open(&w, fx->corral.port);
    for (n = 0; n < (int)strlen(set_req) - 1; n++)     /* a byte per write */
        cuts[n] = (size_t)n + 1;
    send_in_pieces(&w, barrier, set_req, cuts, n);
    raw_expect(&w, "OK");
    for (k = 1; k < strlen(get_req); k++) {           /* every cut in turn */
        send_in_pieces(&w, barrier, get_req, &k, 1);
        raw_expect(&w, "hello");
    }
    for (k = 1; k < strlen(inl_req); k++) {
        send_in_pieces(&w, barrier, inl_req, &k, 1);
        raw_expect(&w, "split");
    }
    h_raw_close(&w);
    redisFree(barrier);
}
END_TEST

START_TEST(test_select_db)
{
    redisContext *c = via_corral(), *rc = to_redis();

    ck_assert(h_cmd_is(c, "OK", "SELECT 3"));
    ck_assert(h_cmd_is(c, "OK", "SET sel:k in3"));
    ck_assert(h_cmd_is(c, "in3", "GET sel:k"));
    /* really in db 3, not in db 0 */
    ck_assert_int_eq(h_cmd_int(rc, "EXISTS sel:k"), 0);
    ck_assert(h_cmd_is(rc, "OK", "SELECT 3"));
    ck_assert(h_cmd_is(rc, "in3", "GET sel:k"));
    /* a SELECT Redis refuses leaves the client in db 3 */
    cmd_err(c, "ERR", "SELECT 99999");
    ck_assert(h_cmd_is(c, "in3", "GET sel:k"));
    ck_assert(h_cmd_is(c, "OK", "SELECT 0"));
    ck_assert(h_cmd_is(c, NULL, "GET sel:k"));
    redisFree(c);
    redisFree(rc);
}
END_TEST

START_TEST(test_two_clients_two_dbs)
{
    redisContext *a = via_corral(), *b = via_corral(), *rc = to_redis();
    char va[16], vb[16];
    int i;

    ck_assert(h_cmd_is(a, "OK", "SELECT 1"));
    ck_assert(h_cmd_is(b, "OK", "SELECT 2"));
    for (i = 0; i < 50; i++) {
        /* pipelined on both, so their requests interleave upstream */
        snprintf(va, sizeof(va), "a%d", i);
        snprintf(vb, sizeof(vb), "b%d", i);
        redisAppendCommand(a, "SET dbs:k %s", va);
        redisAppendCommand(b, "SET dbs:k %s", vb);
        redisAppendCommand(a, "GET dbs:k");
        redisAppendCommand(b, "GET dbs:k");
        ck_assert(next_is(a, REDIS_REPLY_STATUS, "OK"));
        ck_assert(next_is(b, REDIS_REPLY_STATUS, "OK"));
        ck_assert(next_is(a, REDIS_REPLY_STRING, va));
        ck_assert(next_is(b, REDIS_REPLY_STRING, vb));
    }
    ck_assert_int_eq(h_cmd_int(rc, "EXISTS dbs:k"), 0);
    ck_assert(h_cmd_is(rc, "OK", "SELECT 1"));
    ck_assert(h_cmd_is(rc, "a49", "GET dbs:k"));
    ck_assert(h_cmd_is(rc, "OK", "SELECT 2"));
    ck_assert(h_cmd_is(rc, "b49", "GET dbs:k"));
    redisFree(a);
    redisFree(b);
    redisFree(rc);
}
END_TEST

START_TEST(test_client_name)
{
    redisContext *a = via_corral(), *b = via_corral();

    ck_assert(h_cmd_is(a, NULL, "CLIENT GETNAME"));
    ck_assert(h_cmd_is(a, "OK", "CLIENT SETNAME worker-1"));
    ck_assert(h_cmd_is(a, "worker-1", "CLIENT GETNAME"));
    ck_assert(h_cmd_is(b, NULL, "CLIENT GETNAME"));
    cmd_err(a, "ERR", "CLIENT SETNAME %s", "has space");
    ck_assert(h_cmd_is(a, "worker-1", "CLIENT GETNAME"));
    redisFree(a);
    redisFree(b);
}
END_TEST

/* The "proto" field of a HELLO reply (a flat key/value array). */
static long long hello_proto(redisReply *r)
{
    long long v = LLONG_MIN;
    size_t i;

    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    for (i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->str && !strcmp(r->element[i]->str, "proto") &&
            r->element[i + 1]->type == REDIS_REPLY_INTEGER)
            v = r->element[i + 1]->integer;
    freeReplyObject(r);
    return v;
}

START_TEST(test_hello)
{
    redisContext *c = via_corral();

    ck_assert_int_eq(hello_proto(cmd(c, "HELLO 2")), 2);
    ck_assert_int_eq(hello_proto(cmd(c, "HELLO")), 2);
    cmd_err(c, "NOPROTO", "HELLO 3");
    /* still speaking RESP2 */
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert(h_cmd_is(c, "OK", "SET hello:k v"));
    ck_assert(h_cmd_is(c, "v", "GET hello:k"));
    redisFree(c);
}
END_TEST

START_TEST(test_quit)
{
    redisContext *rc = to_redis();
    struct h_raw w;

    raw_open(&w, fx->corral.port);
    RAW_SEND_LIT(&w, "*1\r\n$4\r\nQUIT\r\n");
    raw_expect(&w, "OK");
    ck_assert_msg(h_raw_closed(&w, 5000), "connection not closed after QUIT");
    h_raw_close(&w);
    /* inline, with a request behind it that must not run */
    raw_open(&w, fx->corral.port);
    RAW_SEND_LIT(&w, "QUIT\r\nSET quit:k no\r\n");
    raw_expect(&w, "OK");
    ck_assert(h_raw_closed(&w, 5000));
    h_raw_close(&w);
    ck_assert_int_eq(h_cmd_int(rc, "EXISTS quit:k"), 0);
    redisFree(rc);
}
END_TEST

/* ---- 2. redis-cli ---- */

START_TEST(test_redis_cli)
{
    char command[256], out[1024];
    int p = fx->corral.port;

    snprintf(command, sizeof(command), "redis-cli -p %d SET cli:k hello 2>&1", p);
    ck_assert_int_eq(h_run(command, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "OK\n");
    snprintf(command, sizeof(command), "redis-cli -p %d GET cli:k 2>&1", p);
    ck_assert_int_eq(h_run(command, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "hello\n");
    snprintf(command, sizeof(command),
             "printf 'DEL cli:l\\nRPUSH cli:l a b c\\nLRANGE cli:l 0 -1\\n"
             "INCRBY cli:n 5\\nSELECT 4\\nGET cli:k\\n' | redis-cli -p %d 2>&1", p);
    ck_assert_int_eq(h_run(command, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "0\n3\na\nb\nc\n5\nOK\n\n");
}
END_TEST

/* ---- 3. redis-benchmark ---- */

static void bench(const char *tests)
{
    char command[256], out[8192];
    int st;

    snprintf(command, sizeof(command),
             "redis-benchmark -p %d -t %s -P 16 -c 50 -n 20000 -q 2>&1",
             fx->corral.port, tests);
    st = h_run(command, out, sizeof(out));
    ck_assert_msg(st == 0, "redis-benchmark -t %s exited %d: %s", tests, st, out);
    ck_assert_msg(!strstr(out, "ERR"), "redis-benchmark errors: %s", out);
}

START_TEST(test_redis_benchmark)
{
    redisContext *rc = to_redis();

    ck_assert(h_cmd_is(rc, "OK", "FLUSHALL"));
    bench("set,get,incr,lpush,lpop,mset");
    ck_assert(h_cmd_is(rc, "20000", "GET counter:__rand_int__"));
    ck_assert_int_eq(h_cmd_int(rc, "STRLEN key:__rand_int__"), 3);
    ck_assert_int_eq(h_cmd_int(rc, "LLEN mylist"), 0);
    bench("lpush");
    ck_assert_int_eq(h_cmd_int(rc, "LLEN mylist"), 20000);
    bench("lpop");
    ck_assert_int_eq(h_cmd_int(rc, "LLEN mylist"), 0);
    bench("incr");
    ck_assert(h_cmd_is(rc, "40000", "GET counter:__rand_int__"));
    redisFree(rc);
}
END_TEST

/* ---- 4. concurrent INCR ---- */

struct incr_arg {
    int port;
    int ok;      /* integer replies to 100 INCR */
};

static void *incr_thread(void *arg)
{
    struct incr_arg *a = arg;
    redisContext *c = h_connect(a->port);
    int i;

    for (i = 0; c && i < 100; i++) {
        redisReply *r = redisCommand(c, "INCR conc:ctr");

        if (!r)
            break;
        a->ok += r->type == REDIS_REPLY_INTEGER;
        freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return NULL;
}

START_TEST(test_concurrent_incr)
{
    struct incr_arg a[100];
    redisContext *rc = to_redis();
    int i, ok = 0;

    ck_assert_int_ge(h_cmd_int(rc, "DEL conc:ctr"), 0);
    for (i = 0; i < 100; i++)
        a[i] = (struct incr_arg){ fx->corral.port, 0 };
    run_threads(incr_thread, a, sizeof(a[0]), 100);
    for (i = 0; i < 100; i++)
        ok += a[i].ok;
    ck_assert_int_eq(ok, 10000);
    ck_assert(h_cmd_is(rc, "10000", "GET conc:ctr"));
    redisFree(rc);
}
END_TEST

/* ---- 5. WATCH/MULTI/EXEC ---- */

struct tx_arg {
    int port;
    int done;        /* committed transfers, 20 wanted */
    int broken;      /* a committed transfer had read a + b != 1000 */
    int bad;         /* unexpected reply */
};

/* Move 1 from tx:a to tx:b, optimistically: WATCH, read, MULTI ... EXEC,
 * again when EXEC reports a conflict (nil). */
static void *tx_thread(void *arg)
{
    struct tx_arg *a = arg;
    redisContext *c = h_connect(a->port);
    int attempts = 0;

    while (c && !a->bad && a->done < 20 && attempts++ < 100000) {
        redisReply *r;
        long long va, vb;

        redisAppendCommand(c, "WATCH tx:a tx:b");
        redisAppendCommand(c, "MGET tx:a tx:b");
        if (!next_is(c, REDIS_REPLY_STATUS, "OK") ||
            redisGetReply(c, (void **)&r) != REDIS_OK) {
            a->bad++;
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            !r->element[0]->str || !r->element[1]->str) {
            a->bad++;
            freeReplyObject(r);
            break;
        }
        va = atoll(r->element[0]->str);
        vb = atoll(r->element[1]->str);
        freeReplyObject(r);
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "SET tx:a %lld", va - 1);
        redisAppendCommand(c, "SET tx:b %lld", vb + 1);
        redisAppendCommand(c, "EXEC");
        if (!next_is(c, REDIS_REPLY_STATUS, "OK") ||
            !next_is(c, REDIS_REPLY_STATUS, "QUEUED") ||
            !next_is(c, REDIS_REPLY_STATUS, "QUEUED") ||
            redisGetReply(c, (void **)&r) != REDIS_OK) {
            a->bad++;
            break;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            a->done++;
            a->broken += va + vb != 1000;
        } else if (r->type != REDIS_REPLY_NIL) {
            a->bad++;
        }
        freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    else
        a->bad++;
    return NULL;
}

START_TEST(test_watch_multi_exec)
{
    struct tx_arg a[50];
    redisContext *rc = to_redis();
    int i, done = 0, bad = 0, broken = 0;

    ck_assert(h_cmd_is(rc, "OK", "MSET tx:a 1000 tx:b 0"));
    for (i = 0; i < 50; i++)
        a[i] = (struct tx_arg){ fx->corral.port, 0, 0, 0 };
    run_threads(tx_thread, a, sizeof(a[0]), 50);
    for (i = 0; i < 50; i++) {
        done += a[i].done;
        bad += a[i].bad;
        broken += a[i].broken;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(broken, 0);
    ck_assert_int_eq(done, 50 * 20);
    /* exactly 1000 units moved from a to b, none lost or duplicated */
    ck_assert(h_cmd_is(rc, "0", "GET tx:a"));
    ck_assert(h_cmd_is(rc, "1000", "GET tx:b"));
    redisFree(rc);
}
END_TEST

/* ---- 6. BLPOP woken by LPUSH ---- */

struct blpop_arg {
    int port;
    redisReply *r;
    long long ms;
};

static void *blpop_thread(void *arg)
{
    struct blpop_arg *a = arg;
    redisContext *c = h_connect(a->port);
    long long t0 = h_now_ms();

    if (c) {
        a->r = redisCommand(c, "BLPOP bw:q 5");
        redisFree(c);
    }
    a->ms = h_now_ms() - t0;
    return NULL;
}

START_TEST(test_blpop_wakeup)
{
    struct blpop_arg a = { fx->corral.port, NULL, 0 };
    redisContext *c = via_corral(), *rc = to_redis();
    pthread_t t;

    ck_assert_int_ge(h_cmd_int(rc, "DEL bw:q"), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, blpop_thread, &a), 0);
    ck_assert_msg(wait_blpops(rc, 1), "BLPOP never blocked in Redis");
    ck_assert_int_eq(h_cmd_int(c, "LPUSH bw:q woken"), 1);
    pthread_join(t, NULL);
    ck_assert_ptr_nonnull(a.r);
    arr_is(a.r, "bw:q|woken");
    ck_assert_int_lt(a.ms, 4000);          /* woken, not timed out */
    ck_assert_int_eq(h_cmd_int(rc, "LLEN bw:q"), 0);
    redisFree(c);
    redisFree(rc);
}
END_TEST

/* ---- 7. pub/sub ---- */

static void next_msg(redisContext *c, const char *want)
{
    redisReply *r;

    ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
    arr_is(r, want);
}

START_TEST(test_pubsub)
{
    redisContext *sub = via_corral(), *psub = via_corral(), *pub = via_corral();

    arr_is(cmd(sub, "SUBSCRIBE ps:news"), "subscribe|ps:news|1");
    arr_is(cmd(psub, "PSUBSCRIBE ps:*"), "psubscribe|ps:*|1");
    ck_assert_int_eq(h_cmd_int(pub, "PUBLISH ps:news first"), 2);
    next_msg(sub, "message|ps:news|first");
    next_msg(psub, "pmessage|ps:*|ps:news|first");
    ck_assert_int_eq(h_cmd_int(pub, "PUBLISH ps:news second"), 2);
    ck_assert_int_eq(h_cmd_int(pub, "PUBLISH ps:other third"), 1);
    next_msg(sub, "message|ps:news|second");
    next_msg(psub, "pmessage|ps:*|ps:news|second");
    next_msg(psub, "pmessage|ps:*|ps:other|third");
    /* unsubscribing ends the subscription */
    arr_is(cmd(sub, "UNSUBSCRIBE ps:news"), "unsubscribe|ps:news|0");
    ck_assert_int_eq(h_cmd_int(pub, "PUBLISH ps:news fourth"), 1);
    next_msg(psub, "pmessage|ps:*|ps:news|fourth");
    redisFree(sub);
    redisFree(psub);
    redisFree(pub);
}
END_TEST

/* ---- 8. clients that die holding state ---- */

START_TEST(test_killed_mid_multi)
{
    redisContext *a = via_corral(), *rc = to_redis();

    ck_assert_int_ge(h_cmd_int(rc, "DEL mm:x"), 0);
    ck_assert(h_cmd_is(a, "OK", "MULTI"));
    ck_assert(h_cmd_is(a, "QUEUED", "SET mm:x 1"));
    ck_assert_int_eq(h_redis_clients(rc, NULL, 0, 1), 1);  /* open in Redis */
    redisFree(a);
    ck_assert_msg(h_wait_clients(rc, NULL, 0, 1, 0, 5000),
                  "a MULTI of a closed client is still open in Redis");
    ck_assert_int_eq(h_cmd_int(rc, "EXISTS mm:x"), 0);
    redisFree(rc);
}
END_TEST

START_TEST(test_killed_mid_blpop)
{
    redisContext *c = via_corral(), *rc = to_redis();
    struct h_raw w;

    ck_assert_int_ge(h_cmd_int(rc, "DEL bq:q"), 0);
    raw_open(&w, fx->corral.port);
    RAW_SEND_LIT(&w, BLPOP_FOREVER);
    ck_assert(wait_blpops(rc, 1));
    h_raw_close(&w);
    ck_assert_msg(wait_blpops(rc, 0),
                  "the BLPOP of a closed client is still blocked in Redis");
    ck_assert_int_eq(h_cmd_int(c, "LPUSH bq:q v"), 1);
    /* the element was not taken by a BLPOP nobody is waiting for */
    ck_assert_int_eq(h_cmd_int(rc, "LLEN bq:q"), 1);
    ck_assert_int_eq(h_cmd_int(c, "LLEN bq:q"), 1);
    redisFree(c);
    redisFree(rc);
}
END_TEST

/* ---- 9. error paths ---- */

START_TEST(test_protocol_errors)
{
    redisContext *other = via_corral();
    struct h_raw w;

    ck_assert(h_cmd_is(other, "OK", "SET pe:k alive"));
    raw_open(&w, fx->corral.port);
    RAW_SEND_LIT(&w, "*abc\r\n");
    raw_expect_protocol_error(&w);
    h_raw_close(&w);
    ck_assert(h_cmd_is(other, "alive", "GET pe:k"));
    /* replies owed before the bad bytes still come first */
    raw_open(&w, fx->corral.port);
    RAW_SEND_LIT(&w, "PING\r\n*1\r\n$999999999999\r\n");
    raw_expect(&w, "PONG");
    raw_expect_protocol_error(&w);
    h_raw_close(&w);
    raw_open(&w, fx->corral.port);
    RAW_SEND_LIT(&w, "*2\r\n$3\r\nGET\r\nxy\r\n");
    raw_expect_protocol_error(&w);
    h_raw_close(&w);
    ck_assert(h_cmd_is(other, "PONG", "PING"));
    ck_assert(h_cmd_is(other, "alive", "GET pe:k"));
    redisFree(other);
}
END_TEST

START_TEST(test_max_request)
{
    static const char hdr[] = "*3\r\n$3\r\nSET\r\n$4\r\nmr:x\r\n$2000\r\n";
    size_t chunk = 1 << 16, sent = 0, total = 64u << 20;
    char *big = malloc(chunk), val[900];
    struct timeval tv = { 5, 0 };
    long long rss0, rss1;
    struct h_raw w;
    struct proc p;
    redisContext *c;

    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(h_corral_start(&p, fx->redis.port, 0,
                                    "clients:\n  max_request: 1kb\n"), 0);
    c = h_connect(p.port);
    ck_assert_ptr_nonnull(c);
    /* under the limit: fine */
    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    ck_assert(h_cmd_is(c, "OK", "SET mr:k %s", val));
    /* over it, in one write: error and close */
    memcpy(big, hdr, sizeof(hdr) - 1);
    memset(big + sizeof(hdr) - 1, 'x', 2000);
    memcpy(big + sizeof(hdr) - 1 + 2000, "\r\n", 2);
    raw_open(&w, p.port);
    raw_send(&w, big, sizeof(hdr) - 1 + 2002);
    raw_expect_protocol_error(&w);
    h_raw_close(&w);

    /* a client streaming a huge request is cut off, and corral's memory
     * does not grow with it */
    memset(big, 'b', chunk);
    rss0 = h_rss_kb(p.pid);
    ck_assert_int_gt(rss0, 0);
    raw_open(&w, p.port);
    setsockopt(w.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    errno = 0;
    while (sent < total) {
        ssize_t n = send(w.fd, big, chunk, MSG_NOSIGNAL);

        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    ck_assert_msg(sent < total, "corral took all %zu bytes", sent);
    ck_assert_msg(errno == EPIPE || errno == ECONNRESET,
                  "the connection was not closed after %zu bytes: %s", sent,
                  strerror(errno));
    h_raw_close(&w);
    rss1 = h_rss_kb(p.pid);
    ck_assert_msg(rss1 - rss0 < 8 * 1024, "RSS grew from %lld to %lld kB",
                  rss0, rss1);
    /* other clients are unaffected, and nothing was written */
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert_int_eq(h_cmd_int(c, "EXISTS mr:x"), 0);
    redisFree(c);
    free(big);
    ck_assert_int_eq(h_stop(&p, SIGTERM), 0);
}
END_TEST

START_TEST(test_max_clients)
{
    redisContext *c[5];
    struct h_raw w;
    struct proc p;
    int i;

    ck_assert_int_eq(h_corral_start(&p, fx->redis.port, 0,
                                    "clients:\n  max: 5\n"), 0);
    for (i = 0; i < 5; i++) {
        c[i] = h_connect(p.port);
        ck_assert_ptr_nonnull(c[i]);
        ck_assert(h_cmd_is(c[i], "PONG", "PING"));
    }
    raw_open(&w, p.port);
    raw_expect(&w, "-ERR max number of clients reached");
    ck_assert(h_raw_closed(&w, 5000));
    h_raw_close(&w);
    for (i = 0; i < 5; i++)
        ck_assert(h_cmd_is(c[i], "PONG", "PING"));
    /* a slot that frees up can be taken again */
    redisFree(c[0]);
    ck_assert(h_wait_pong(p.port, 5000));
    for (i = 1; i < 5; i++)
        redisFree(c[i]);
    ck_assert_int_eq(h_stop(&p, SIGTERM), 0);
}
END_TEST

START_TEST(test_upstream_killed)
{
    redisContext *c = via_corral(), *rc = to_redis();
    struct h_raw w;
    redisReply *r;
    long long t0;

    ck_assert(h_cmd_is(c, "OK", "SET uk:k before"));
    ck_assert_int_ge(h_cmd_int(rc, "DEL bq:q"), 0);
    /* a BLPOP waiting in Redis when it dies */
    raw_open(&w, fx->corral.port);
    RAW_SEND_LIT(&w, BLPOP_FOREVER);
    ck_assert(wait_blpops(rc, 1));
    redisFree(rc);
    t0 = h_now_ms();
    ck_assert_int_eq(h_kill(&fx->redis, SIGKILL), 0);
    r = h_raw_reply(&w, 5000);
    ck_assert_msg(is_err(r, "ERR upstream"), "BLPOP got %s after %lld ms",
                  r && r->str ? r->str : "nothing", h_now_ms() - t0);
    freeReplyObject(r);
    h_raw_close(&w);

    /* requests fail fast while Redis is down */
    t0 = h_now_ms();
    cmd_err(c, "ERR upstream unavailable", "SET uk:k during");
    ck_assert_int_lt(h_now_ms() - t0, 1000);
    t0 = h_now_ms();
    cmd_err(c, "ERR upstream unavailable", "GET uk:k");
    cmd_err(c, "ERR upstream unavailable", "INCR uk:n");
    ck_assert_int_lt(h_now_ms() - t0, 1000);

    /* Redis comes back on the same port; corral reconnects by itself and
     * the same client connection works again */
    ck_assert_int_eq(h_redis_restart(&fx->redis), 0);
    ck_assert_msg(h_wait_pong(fx->corral.port, 5000),
                  "corral did not recover within 5 s");
    ck_assert(h_cmd_is(c, "OK", "SET uk:k after"));
    ck_assert(h_cmd_is(c, "after", "GET uk:k"));
    ck_assert_int_eq(h_cmd_int(c, "INCR uk:n"), 1);
    redisFree(c);
}
END_TEST

enum { LOAD_THREADS = 10 };

/* INCR load:<epoch> in a loop; epoch 0 runs until stopped by the epoch
 * turning 1, epoch 1 until 100 INCRs succeeded. */
struct load_arg {
    int port;
    int *epoch;          /* shared, __atomic */
    long ok[2], err[2];  /* per epoch, __atomic */
    long bad, lost;
};

static void *load_thread(void *arg)
{
    struct load_arg *a = arg;
    redisContext *c = h_connect(a->port);

    while (c) {
        int e = __atomic_load_n(a->epoch, __ATOMIC_SEQ_CST);
        redisReply *r;

        if (e == 1 && (a->ok[1] >= 100 || a->err[1] >= 2000))
            break;
        r = redisCommand(c, "INCR load:%d", e);
        if (!r)
            break;                  /* no reply: counted as lost below */
        if (r->type == REDIS_REPLY_INTEGER)
            __atomic_add_fetch(&a->ok[e], 1, __ATOMIC_SEQ_CST);
        else if (is_err(r, "ERR upstream"))
            __atomic_add_fetch(&a->err[e], 1, __ATOMIC_SEQ_CST);
        else
            a->bad++;
        freeReplyObject(r);
    }
    if (!c || c->err)
        a->lost++;
    if (c)
        redisFree(c);
    return NULL;
}

struct load_wait {
    struct load_arg *a;
    long min;
    int errors;    /* count errors, not successes, of epoch 0 */
};

static int load_reached(void *arg)
{
    struct load_wait *lw = arg;
    long n = 0;
    int i;

    for (i = 0; i < LOAD_THREADS; i++)
        n += __atomic_load_n(lw->errors ? &lw->a[i].err[0] : &lw->a[i].ok[0],
                             __ATOMIC_SEQ_CST);
    return n >= lw->min;
}

static void *load_runner(void *arg)
{
    run_threads(load_thread, arg, sizeof(struct load_arg), LOAD_THREADS);
    return NULL;
}

START_TEST(test_upstream_killed_under_load)
{
    struct load_arg a[LOAD_THREADS];
    struct load_wait lw;
    int epoch = 0, i;
    long ok1 = 0, bad = 0, lost = 0;
    redisContext *rc;
    pthread_t runner;
    char want[32];

    if (fx->redis.pid <= 0) {        /* an earlier test left Redis down */
        ck_assert_int_eq(h_redis_restart(&fx->redis), 0);
        ck_assert(h_wait_pong(fx->corral.port, 5000));
    }
    for (i = 0; i < LOAD_THREADS; i++)
        a[i] = (struct load_arg){ .port = fx->corral.port, .epoch = &epoch };
    ck_assert_int_eq(pthread_create(&runner, NULL, load_runner, a), 0);
    /* phase 1: Redis killed under load and restarted; every request gets
     * exactly one reply, an integer or an upstream error */
    lw = (struct load_wait){ a, 500, 0 };
    ck_assert(h_wait_until(load_reached, &lw, 10000));
    ck_assert_int_eq(h_kill(&fx->redis, SIGKILL), 0);
    lw = (struct load_wait){ a, 50, 1 };
    ck_assert_msg(h_wait_until(load_reached, &lw, 5000),
                  "requests did not fail while Redis was down");
    ck_assert_int_eq(h_redis_restart(&fx->redis), 0);
    ck_assert(h_wait_pong(fx->corral.port, 5000));
    /* phase 2: key load:1 exists only in the new Redis; every INCR of it
     * acknowledged to a client ran exactly once */
    __atomic_store_n(&epoch, 1, __ATOMIC_SEQ_CST);
    pthread_join(runner, NULL);
    for (i = 0; i < LOAD_THREADS; i++) {
        ok1 += a[i].ok[1];
        bad += a[i].bad;
        lost += a[i].lost;
    }
    ck_assert_int_eq(lost, 0);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(ok1, LOAD_THREADS * 100);
    rc = to_redis();
    snprintf(want, sizeof(want), "%ld", ok1);
    ck_assert(h_cmd_is(rc, want, "GET load:1"));
    redisFree(rc);
}
END_TEST

/* ---- 10. protected mode and AUTH ---- */

START_TEST(test_protected_mode)
{
    char yaml[512], command[512], out[256];
    int port = h_free_port(), st;
    long long end;
    redisContext *c = NULL;
    struct proc p;

    snprintf(yaml, sizeof(yaml),
             "listen: 0.0.0.0:%d\nupstream:\n  address: 127.0.0.1:%d\n"
             "stats:\n  listen: \"\"\n", port, fx->redis.port);
    ck_assert_int_eq(h_corral_spawn(&p, port, yaml), 0);
    st = h_wait_exit(&p, 5000);
    if (st < 0)
        h_stop(&p, SIGKILL);
    ck_assert_int_eq(st, 1);
    snprintf(command, sizeof(command), "grep -c protected %s", p.log);
    ck_assert_msg(h_run(command, out, sizeof(out)) == 0,
                  "the log does not say why (%s)", p.log);

    /* with a password it starts, and clients must AUTH */
    port = h_free_port();
    snprintf(yaml, sizeof(yaml),
             "listen: 0.0.0.0:%d\nupstream:\n  address: 127.0.0.1:%d\n"
             "stats:\n  listen: \"\"\nclients:\n  password: open-sesame\n",
             port, fx->redis.port);
    ck_assert_int_eq(h_corral_spawn(&p, port, yaml), 0);
    end = h_now_ms() + 10000;
    while (!c && h_now_ms() < end && h_wait_exit(&p, 5) < 0)
        c = h_connect(port);
    ck_assert_msg(c != NULL, "corral with a password did not start");
    cmd_err(c, "NOAUTH", "PING");
    ck_assert(h_cmd_is(c, "OK", "AUTH open-sesame"));
    redisFree(c);
    ck_assert_int_eq(h_stop(&p, SIGTERM), 0);
}
END_TEST

static int pong_on(void *arg)
{
    redisReply *r = redisCommand(arg, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");

    if (r)
        freeReplyObject(r);
    return ok;
}

START_TEST(test_auth)
{
    redisContext *a, *b;
    struct proc p;

    ck_assert_int_eq(h_corral_start(&p, fx->redis.port, 0,
                                    "clients:\n  password: s3cret\n"), 0);
    a = h_connect(p.port);
    b = h_connect(p.port);
    ck_assert(a && b);
    cmd_err(a, "NOAUTH", "GET au:k");
    cmd_err(a, "NOAUTH", "SET au:k v");
    cmd_err(a, "WRONGPASS", "AUTH nope");
    cmd_err(a, "WRONGPASS", "AUTH default nope");
    cmd_err(a, "NOAUTH", "GET au:k");
    ck_assert(h_cmd_is(a, "OK", "AUTH s3cret"));
    ck_assert(h_wait_until(pong_on, a, 5000));
    ck_assert(h_cmd_is(a, "OK", "SET au:k v"));
    ck_assert(h_cmd_is(a, "v", "GET au:k"));
    ck_assert(h_cmd_is(a, "v", "GET au:k"));     /* now in the cache */
    /* authentication is per client: the cached value is not served to b */
    cmd_err(b, "NOAUTH", "GET au:k");
    ck_assert(h_cmd_is(b, "OK", "AUTH default s3cret"));
    ck_assert(h_cmd_is(b, "v", "GET au:k"));
    redisFree(a);
    redisFree(b);
    ck_assert_int_eq(h_stop(&p, SIGTERM), 0);
}
END_TEST

static Suite *passthrough_suite(void)
{
    Suite *s = suite_create("passthrough");
    TCase *tc = tcase_create("passthrough");

    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_basic_commands);
    tcase_add_test(tc, test_inline_commands);
    tcase_add_test(tc, test_pipeline_1000);
    tcase_add_test(tc, test_split_requests);
    tcase_add_test(tc, test_select_db);
    tcase_add_test(tc, test_two_clients_two_dbs);
    tcase_add_test(tc, test_client_name);
    tcase_add_test(tc, test_hello);
    tcase_add_test(tc, test_quit);
    tcase_add_test(tc, test_redis_cli);
    tcase_add_test(tc, test_redis_benchmark);
    tcase_add_test(tc, test_concurrent_incr);
    tcase_add_test(tc, test_watch_multi_exec);
    tcase_add_test(tc, test_blpop_wakeup);
    tcase_add_test(tc, test_pubsub);
    tcase_add_test(tc, test_killed_mid_multi);
    tcase_add_test(tc, test_killed_mid_blpop);
    tcase_add_test(tc, test_protocol_errors);
    tcase_add_test(tc, test_max_request);
    tcase_add_test(tc, test_max_clients);
    tcase_add_test(tc, test_protected_mode);
    tcase_add_test(tc, test_auth);
    /* last: they restart Redis */
    tcase_add_test(tc, test_upstream_killed);
    tcase_add_test(tc, test_upstream_killed_under_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    fx = mmap(NULL, sizeof(*fx), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (fx == MAP_FAILED || h_reaper_init() < 0) {
        perror("check_passthrough");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sr = srunner_create(passthrough_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    munmap(fx, sizeof(*fx));
    return failed ? 1 : 0;
}
