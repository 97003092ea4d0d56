/*
 * check_passthrough.c — integration tests of the pass-through path: real
 * redis-server and corral processes, real clients (hiredis, raw sockets,
 * redis-cli, redis-benchmark), checking what users see: replies, ordering,
 * per-client state, pinned connections (MULTI, WATCH, BLPOP, SUBSCRIBE),
 * concurrent clients and clients that die holding state. Protocol errors,
 * limits, upstream failure, protected mode and AUTH are in
 * check_passthrough_errors.c.
 *
 * One redis-server and one corral serve the whole suite (unchecked fixture,
 * passlib.h). Tests that need other settings start a corral of their own.
 */
#include <check.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "passlib.h"

static struct pl_fixture *fx;   /* shared with the forked tests */

/* ---- helpers ---- */


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

/* ---- 1. commands, framing, per-client state ---- */

START_TEST(test_basic_commands)
{
    redisContext *c = pl_via_corral(), *rc = pl_to_redis();
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
    ck_assert_msg(pl_is_err(r, "ERR unknown command") &&
                  strstr(r->str, "FOOBARCMD"),
                  "got '%s'", r->str ? r->str : "");
    freeReplyObject(r);
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    redisFree(c);
    redisFree(rc);
}
END_TEST

START_TEST(test_inline_commands)
{
    redisContext *rc = pl_to_redis();
    struct h_raw w;

    pl_raw_open(&w, fx->corral.port);
    PL_RAW_SEND_LIT(&w, "PING\r\n");
    pl_raw_expect(&w, "PONG");
    PL_RAW_SEND_LIT(&w, "SET inl:k v\r\n");
    pl_raw_expect(&w, "OK");
    PL_RAW_SEND_LIT(&w, "SET inl:q \"a b\"\r\nGET inl:q\r\n");
    pl_raw_expect(&w, "OK");
    pl_raw_expect(&w, "a b");
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
    pl_raw_open(&w, fx->corral.port);
    pl_raw_send(&w, buf, len);              /* one write of all 1000 */
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

        pl_raw_send(w, req + from, to - from);
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
    redisContext *barrier = pl_via_corral();
    size_t cuts[64], k;
    int n;
    struct h_raw w;

    pl_raw_open(&w, fx->corral.port);
    for (n = 0; n < (int)strlen(set_req) - 1; n++)     /* a byte per write */
        cuts[n] = (size_t)n + 1;
    send_in_pieces(&w, barrier, set_req, cuts, n);
    pl_raw_expect(&w, "OK");
    for (k = 1; k < strlen(get_req); k++) {           /* every cut in turn */
        send_in_pieces(&w, barrier, get_req, &k, 1);
        pl_raw_expect(&w, "hello");
    }
    for (k = 1; k < strlen(inl_req); k++) {
        send_in_pieces(&w, barrier, inl_req, &k, 1);
        pl_raw_expect(&w, "split");
    }
    h_raw_close(&w);
    redisFree(barrier);
}
END_TEST

START_TEST(test_select_db)
{
    redisContext *c = pl_via_corral(), *rc = pl_to_redis();

    ck_assert(h_cmd_is(c, "OK", "SELECT 3"));
    ck_assert(h_cmd_is(c, "OK", "SET sel:k in3"));
    ck_assert(h_cmd_is(c, "in3", "GET sel:k"));
    /* really in db 3, not in db 0 */
    ck_assert_int_eq(h_cmd_int(rc, "EXISTS sel:k"), 0);
    ck_assert(h_cmd_is(rc, "OK", "SELECT 3"));
    ck_assert(h_cmd_is(rc, "in3", "GET sel:k"));
    /* a SELECT Redis refuses leaves the client in db 3 */
    pl_cmd_err(c, "ERR", "SELECT 99999");
    ck_assert(h_cmd_is(c, "in3", "GET sel:k"));
    ck_assert(h_cmd_is(c, "OK", "SELECT 0"));
    ck_assert(h_cmd_is(c, NULL, "GET sel:k"));
    redisFree(c);
    redisFree(rc);
}
END_TEST

START_TEST(test_two_clients_two_dbs)
{
    redisContext *a = pl_via_corral(), *b = pl_via_corral();
    redisContext *rc = pl_to_redis();
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
    redisContext *a = pl_via_corral(), *b = pl_via_corral();

    ck_assert(h_cmd_is(a, NULL, "CLIENT GETNAME"));
    ck_assert(h_cmd_is(a, "OK", "CLIENT SETNAME worker-1"));
    ck_assert(h_cmd_is(a, "worker-1", "CLIENT GETNAME"));
    ck_assert(h_cmd_is(b, NULL, "CLIENT GETNAME"));
    pl_cmd_err(a, "ERR", "CLIENT SETNAME %s", "has space");
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
    redisContext *c = pl_via_corral();

    ck_assert_int_eq(hello_proto(cmd(c, "HELLO 2")), 2);
    ck_assert_int_eq(hello_proto(cmd(c, "HELLO")), 2);
    pl_cmd_err(c, "NOPROTO", "HELLO 3");
    /* still speaking RESP2 */
    ck_assert(h_cmd_is(c, "PONG", "PING"));
    ck_assert(h_cmd_is(c, "OK", "SET hello:k v"));
    ck_assert(h_cmd_is(c, "v", "GET hello:k"));
    redisFree(c);
}
END_TEST

START_TEST(test_quit)
{
    redisContext *rc = pl_to_redis();
    struct h_raw w;

    pl_raw_open(&w, fx->corral.port);
    PL_RAW_SEND_LIT(&w, "*1\r\n$4\r\nQUIT\r\n");
    pl_raw_expect(&w, "OK");
    ck_assert_msg(h_raw_closed(&w, 5000), "connection not closed after QUIT");
    h_raw_close(&w);
    /* inline, with a request behind it that must not run */
    pl_raw_open(&w, fx->corral.port);
    PL_RAW_SEND_LIT(&w, "QUIT\r\nSET quit:k no\r\n");
    pl_raw_expect(&w, "OK");
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
    redisContext *rc = pl_to_redis();

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
    redisContext *rc = pl_to_redis();
    int i, ok = 0;

    ck_assert_int_ge(h_cmd_int(rc, "DEL conc:ctr"), 0);
    for (i = 0; i < 100; i++)
        a[i] = (struct incr_arg){ fx->corral.port, 0 };
    pl_run_threads(incr_thread, a, sizeof(a[0]), 100);
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
    redisContext *rc = pl_to_redis();
    int i, done = 0, bad = 0, broken = 0;

    ck_assert(h_cmd_is(rc, "OK", "MSET tx:a 1000 tx:b 0"));
    for (i = 0; i < 50; i++)
        a[i] = (struct tx_arg){ fx->corral.port, 0, 0, 0 };
    pl_run_threads(tx_thread, a, sizeof(a[0]), 50);
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
    redisContext *c = pl_via_corral(), *rc = pl_to_redis();
    pthread_t t;

    ck_assert_int_ge(h_cmd_int(rc, "DEL bw:q"), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, blpop_thread, &a), 0);
    ck_assert_msg(pl_wait_blpops(rc, 1), "BLPOP never blocked in Redis");
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
    redisContext *sub = pl_via_corral(), *psub = pl_via_corral();
    redisContext *pub = pl_via_corral();

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
    redisContext *a = pl_via_corral(), *rc = pl_to_redis();

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
    redisContext *c = pl_via_corral(), *rc = pl_to_redis();
    struct h_raw w;

    ck_assert_int_ge(h_cmd_int(rc, "DEL bq:q"), 0);
    pl_raw_open(&w, fx->corral.port);
    PL_RAW_SEND_LIT(&w, PL_BLPOP_FOREVER);
    ck_assert(pl_wait_blpops(rc, 1));
    h_raw_close(&w);
    ck_assert_msg(pl_wait_blpops(rc, 0),
                  "the BLPOP of a closed client is still blocked in Redis");
    ck_assert_int_eq(h_cmd_int(c, "LPUSH bq:q v"), 1);
    /* the element was not taken by a BLPOP nobody is waiting for */
    ck_assert_int_eq(h_cmd_int(rc, "LLEN bq:q"), 1);
    ck_assert_int_eq(h_cmd_int(c, "LLEN bq:q"), 1);
    redisFree(c);
    redisFree(rc);
}
END_TEST


static Suite *passthrough_suite(void)
{
    Suite *s = suite_create("passthrough");
    TCase *tc = tcase_create("passthrough");

    tcase_add_unchecked_fixture(tc, pl_setup, pl_teardown);
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
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fx = pl_init("check_passthrough");
    if (!fx)
        return 1;
    return pl_run(passthrough_suite());
}
