/*
 * check_cmd.c — unit tests for the command table (cmd.h): name lookup,
 * flags, key location and blocking detection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"

/* Commands Redis 7.0 flags "write" (COMMAND INFO). */
static const char redis_write[] =
    "APPEND BITFIELD BITOP BLMOVE BLMPOP BLPOP BRPOP BRPOPLPUSH BZMPOP "
    "BZPOPMAX BZPOPMIN COPY DECR DECRBY DEL EXPIRE EXPIREAT FLUSHALL "
    "FLUSHDB GEOADD GEORADIUS GEORADIUSBYMEMBER GEOSEARCHSTORE GETDEL GETEX "
    "GETSET HDEL HINCRBY HINCRBYFLOAT HMSET HSET HSETNX INCR INCRBY "
    "INCRBYFLOAT LINSERT LMOVE LMPOP LPOP LPUSH LPUSHX LREM LSET LTRIM "
    "MIGRATE MOVE MSET MSETNX PERSIST PEXPIRE PEXPIREAT PFADD PFDEBUG "
    "PFMERGE PSETEX RENAME RENAMENX RESTORE RESTORE-ASKING RPOP RPOPLPUSH "
    "RPUSH RPUSHX SADD SDIFFSTORE SET SETBIT SETEX SETNX SETRANGE "
    "SINTERSTORE SMOVE SORT SPOP SREM SUNIONSTORE SWAPDB UNLINK XACK XADD "
    "XAUTOCLAIM XCLAIM XDEL XREADGROUP XSETID XTRIM ZADD ZDIFFSTORE ZINCRBY "
    "ZINTERSTORE ZMPOP ZPOPMAX ZPOPMIN ZRANGESTORE ZREM ZREMRANGEBYLEX "
    "ZREMRANGEBYRANK ZREMRANGEBYSCORE ZUNIONSTORE";

/* Writes corral adds: scripts and functions, containers with write
 * subcommands, and commands that can change key contents without the flag. */
static const char extra_write[] =
    "EVAL EVALSHA FCALL FUNCTION XGROUP PFCOUNT DEBUG";

/* Commands Redis 7.0 flags "readonly", minus PFCOUNT (a write here). */
static const char redis_readonly[] =
    "BITCOUNT BITFIELD_RO BITPOS DBSIZE DUMP EVALSHA_RO EVAL_RO EXISTS "
    "EXPIRETIME FCALL_RO GEODIST GEOHASH GEOPOS GEORADIUSBYMEMBER_RO "
    "GEORADIUS_RO GEOSEARCH GET GETBIT GETRANGE HEXISTS HGET HGETALL HKEYS "
    "HLEN HMGET HRANDFIELD HSCAN HSTRLEN HVALS KEYS LCS LINDEX LLEN LOLWUT "
    "LPOS LRANGE MGET PEXPIRETIME PTTL RANDOMKEY SCAN SCARD SDIFF "
    "SINTER SINTERCARD SISMEMBER SMEMBERS SMISMEMBER SORT_RO SRANDMEMBER "
    "SSCAN STRLEN SUBSTR SUNION TOUCH TTL TYPE XLEN XPENDING XRANGE XREAD "
    "XREVRANGE ZCARD ZCOUNT ZDIFF ZINTER ZINTERCARD ZLEXCOUNT ZMSCORE "
    "ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANK ZREVRANGE "
    "ZREVRANGEBYLEX ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE ZUNION";

/* A request split on spaces; "''" stands for an empty argument. */
#define REQ_MAX 64
struct req {
    int argc;
    const char *argv[REQ_MAX];
    size_t len[REQ_MAX];
    char buf[1024];
};

static void req_parse(struct req *r, const char *line)
{
    ck_assert_uint_lt(strlen(line), sizeof(r->buf));
    strcpy(r->buf, line);
    r->argc = 0;
    for (char *save = NULL, *t = strtok_r(r->buf, " ", &save); t != NULL;
         t = strtok_r(NULL, " ", &save)) {
        ck_assert_int_lt(r->argc, REQ_MAX);
        if (strcmp(t, "''") == 0)
            t[0] = '\0';
        r->argv[r->argc] = t;
        r->len[r->argc] = strlen(t);
        r->argc++;
    }
}

static const struct cmd *must_lookup(const char *name)
{
    const struct cmd *c = cmd_lookup(name, strlen(name));
    ck_assert_msg(c != NULL, "%s not found", name);
    return c;
}

/* The key indexes of 'line', as "i j k". */
static void keys_str(const char *line, char *out, size_t outlen)
{
    struct req r;
    int idx[REQ_MAX], more = -1;

    req_parse(&r, line);
    const struct cmd *c = must_lookup(r.argv[0]);
    int n = cmd_keys(c, r.argc, r.argv, r.len, idx, REQ_MAX, &more);
    ck_assert_int_eq(more, 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%s%d", i ? " " : "", idx[i]);
    }
}

#define ck_keys(line, expected)                                   \
    do {                                                          \
        char got_[256];                                           \
        keys_str((line), got_, sizeof(got_));                     \
        ck_assert_msg(strcmp(got_, (expected)) == 0,              \
                      "%s: keys \"%s\", expected \"%s\"", (line), \
                      got_, (expected));                          \
    } while (0)

static int blocks(const char *line)
{
    struct req r;
    req_parse(&r, line);
    return cmd_blocks(must_lookup(r.argv[0]), r.argc, r.argv, r.len);
}

/* Is 'name' one of the space-separated words of 'list'? */
static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p != '\0';) {
        size_t w = strcspn(p, " ");
        if (w == len && strncmp(p, name, len) == 0)
            return 1;
        p += w;
        p += strspn(p, " ");
    }
    return 0;
}

/* The table entries with 'flag' are exactly those named in list1 and
 * list2. */
static void ck_flag_set(unsigned flag, const char *list1, const char *list2)
{
    for (size_t i = 0; i < cmd_count(); i++) {
        const struct cmd *c = cmd_at(i);
        int want = in_list(list1, c->name) || in_list(list2, c->name);
        ck_assert_msg(!!(c->flags & flag) == want, "%s: flag %#x %s",
                      c->name, flag, want ? "missing" : "unexpected");
    }
    /* Every listed name exists. */
    const char *lists[2] = { list1, list2 };
    for (int l = 0; l < 2; l++) {
        char buf[2048];
        ck_assert_uint_lt(strlen(lists[l]), sizeof(buf));
        strcpy(buf, lists[l]);
        for (char *save = NULL, *t = strtok_r(buf, " ", &save); t != NULL;
             t = strtok_r(NULL, " ", &save))
            must_lookup(t);
    }
}

START_TEST(test_table_sane)
{
    /* Redis 7.0 has 240 commands; plus CLIENT|GETNAME, CLIENT|SETNAME and
       the refused CLIENT|CACHING, CLIENT|REPLY, CLIENT|TRACKING. */
    ck_assert_uint_eq(cmd_count(), 245);
    ck_assert_ptr_null(cmd_at(cmd_count()));
    ck_assert_ptr_null(cmd_at((size_t)-1));

    for (size_t i = 0; i < cmd_count(); i++) {
        const struct cmd *c = cmd_at(i);
        size_t len = strlen(c->name);

        ck_assert_uint_gt(len, 0);
        ck_assert_uint_le(len, 32);
        for (size_t k = 0; k < len; k++)
            ck_assert_msg(!(c->name[k] >= 'a' && c->name[k] <= 'z'),
                          "%s not upper case", c->name);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcasecmp(c->name, cmd_at(j)->name) != 0,
                          "%s twice", c->name);
        ck_assert_int_ne(c->arity, 0);
        ck_assert_msg(!((c->flags & CMD_WRITE) && (c->flags & CMD_READONLY)),
                      "%s both write and readonly", c->name);
        switch (c->keys) {
        case CMD_KEYS_NONE:
            break;
        case CMD_KEYS_RANGE:
            ck_assert_int_ge(c->first, 1);
            ck_assert_int_ge(c->step, 1);
            ck_assert(c->last < 0 || c->last >= c->first);
            break;
        case CMD_KEYS_NUMKEYS:
            ck_assert_int_ge(c->first, 1);
            ck_assert(c->last >= 0 && c->last < c->first);
            break;
        case CMD_KEYS_STREAMS:
        case CMD_KEYS_SORT:
        case CMD_KEYS_GEORADIUS:
        case CMD_KEYS_MIGRATE:
            ck_assert_int_ge(c->first, 1);
            break;
        default:
            ck_abort_msg("%s: bad key spec kind", c->name);
        }
    }
}
END_TEST

START_TEST(test_write_ranges_start_at_one)
{
    int ranges = 0;
    for (size_t i = 0; i < cmd_count(); i++) {
        const struct cmd *c = cmd_at(i);
        if ((c->flags & CMD_WRITE) && c->keys == CMD_KEYS_RANGE) {
            ck_assert_msg(c->first >= 1, "%s", c->name);
            ranges++;
        }
    }
    ck_assert_int_gt(ranges, 80);
}
END_TEST

START_TEST(test_lookup_every_entry)
{
    for (size_t i = 0; i < cmd_count(); i++) {
        const struct cmd *c = cmd_at(i);
        char upper[64], lower[64], mixed[64];
        size_t len = strlen(c->name);

        for (size_t k = 0; k <= len; k++) {
            char ch = c->name[k];
            char lo = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
            upper[k] = ch;
            lower[k] = lo;
            mixed[k] = (k % 2) ? ch : lo;
        }
        const char *bar = strchr(c->name, '|');
        if (bar == NULL) {
            ck_assert_ptr_eq(cmd_lookup(upper, len), c);
            ck_assert_ptr_eq(cmd_lookup(lower, len), c);
            ck_assert_ptr_eq(cmd_lookup(mixed, len), c);
        } else {
            size_t cl = (size_t)(bar - c->name);
            const char *names[3] = { upper, lower, mixed };
            for (int v = 0; v < 3; v++) {
                const char *sub = names[v] + cl + 1;
                ck_assert_ptr_eq(cmd_lookup_sub(names[v], cl, sub,
                                                len - cl - 1), c);
                ck_assert_ptr_null(cmd_lookup(names[v], len));
            }
            ck_assert_ptr_nonnull(cmd_lookup(upper, cl));
        }
    }
}
END_TEST

START_TEST(test_lookup_unknown)
{
    char longname[101];

    memset(longname, 'A', 100);
    longname[100] = '\0';
    ck_assert_ptr_null(cmd_lookup("", 0));
    ck_assert_ptr_null(cmd_lookup(NULL, 3));
    ck_assert_ptr_null(cmd_lookup("GETX", 4));
    ck_assert_ptr_null(cmd_lookup("GE", 2));
    ck_assert_ptr_null(cmd_lookup("GET ", 4));
    ck_assert_ptr_null(cmd_lookup("GET\0", 4));
    ck_assert_ptr_null(cmd_lookup("NOSUCHCOMMAND", 13));
    ck_assert_ptr_null(cmd_lookup(longname, 100));
    /* Only letters fold: 0x7f is not '_' in another case. */
    ck_assert_ptr_null(cmd_lookup("EVAL\x7fRO", 7));
    ck_assert_ptr_null(cmd_lookup("RESTORE\rASKING", 14));
    /* A prefix of the given length is what is looked up. */
    ck_assert_ptr_eq(cmd_lookup("GETRANGE", 3), must_lookup("GET"));

    ck_assert_ptr_null(cmd_lookup("CLIENT|SETNAME", 14));
    ck_assert_ptr_null(cmd_lookup_sub("CLIENT", 6, "KILL", 4));
    ck_assert_ptr_null(cmd_lookup_sub("CLIENT", 6, "", 0));
    ck_assert_ptr_null(cmd_lookup_sub("", 0, "SETNAME", 7));
    ck_assert_ptr_null(cmd_lookup_sub("GET", 3, "SETNAME", 7));
    ck_assert_ptr_null(cmd_lookup_sub("CLIEN", 5, "T|SETNAME", 9));
    ck_assert_ptr_null(cmd_lookup_sub("CLIENT|", 7, "SETNAME", 7));
    ck_assert_ptr_null(cmd_lookup_sub("CLIENT", 6, longname, 100));
    ck_assert_ptr_null(cmd_lookup_sub(longname, 100, "SETNAME", 7));
    ck_assert_ptr_null(cmd_lookup_sub(NULL, 6, "SETNAME", 7));
    ck_assert_ptr_null(cmd_lookup_sub("CLIENT", 6, NULL, 7));
}
END_TEST

START_TEST(test_procs)
{
    static const struct {
        const char *name;
        enum cmd_proc proc;
    } procs[] = {
        { "GET", CMD_PROC_GET },       { "MGET", CMD_PROC_MGET },
        { "AUTH", CMD_PROC_AUTH },     { "HELLO", CMD_PROC_HELLO },
        { "QUIT", CMD_PROC_QUIT },     { "SELECT", CMD_PROC_SELECT },
        { "RESET", CMD_PROC_RESET },
    };
    size_t special = 0;

    for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
        ck_assert_int_eq(must_lookup(procs[i].name)->proc, procs[i].proc);
    ck_assert_int_eq(cmd_lookup_sub("client", 6, "setname", 7)->proc,
                     CMD_PROC_SETNAME);
    ck_assert_int_eq(cmd_lookup_sub("CLIENT", 6, "GetName", 7)->proc,
                     CMD_PROC_GETNAME);
    ck_assert_int_eq(must_lookup("CLIENT")->proc, CMD_PROC_FORWARD);
    ck_assert(must_lookup("CLIENT")->flags & CMD_SUBCMDS);
    /* subcommands that would break a shared connection are refused */
    ck_assert_int_eq(cmd_lookup_sub("CLIENT", 6, "tracking", 8)->proc,
                     CMD_PROC_UNSUPPORTED);
    ck_assert_int_eq(cmd_lookup_sub("CLIENT", 6, "REPLY", 5)->proc,
                     CMD_PROC_UNSUPPORTED);
    ck_assert_int_eq(cmd_lookup_sub("CLIENT", 6, "Caching", 7)->proc,
                     CMD_PROC_UNSUPPORTED);
    ck_assert_int_eq(must_lookup("SYNC")->proc, CMD_PROC_UNSUPPORTED);
    ck_assert_int_eq(must_lookup("psync")->proc, CMD_PROC_UNSUPPORTED);
    ck_assert_int_eq(must_lookup("REPLCONF")->proc, CMD_PROC_UNSUPPORTED);
    for (size_t i = 0; i < cmd_count(); i++)
        if (cmd_at(i)->proc != CMD_PROC_FORWARD)
            special++;
    ck_assert_uint_eq(special, 15);
}
END_TEST

START_TEST(test_flags)
{
    ck_flag_set(CMD_WRITE, redis_write, extra_write);
    ck_flag_set(CMD_READONLY, redis_readonly, "OBJECT XINFO");
    ck_flag_set(CMD_BLOCKING,
                "BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN BZPOPMAX "
                "BZMPOP WAIT", "");
    ck_flag_set(CMD_MAYBLOCK, "XREAD XREADGROUP", "");
    ck_flag_set(CMD_SUBSCRIBE, "SUBSCRIBE PSUBSCRIBE SSUBSCRIBE", "");
    ck_flag_set(CMD_PUBSUB, "UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE", "");
    ck_flag_set(CMD_MONITOR, "MONITOR", "");
    ck_flag_set(CMD_MULTI, "MULTI", "");
    ck_flag_set(CMD_EXEC, "EXEC", "");
    ck_flag_set(CMD_DISCARD, "DISCARD", "");
    ck_flag_set(CMD_WATCH, "WATCH", "");
    ck_flag_set(CMD_UNWATCH, "UNWATCH", "");
    ck_flag_set(CMD_FLUSH, "FLUSHDB FLUSHALL SWAPDB", "");
    ck_flag_set(CMD_ADMIN,
                "ACL BGREWRITEAOF BGSAVE CLIENT CLUSTER CONFIG DEBUG FAILOVER "
                "LATENCY MODULE MONITOR PFDEBUG PFSELFTEST PSYNC REPLCONF "
                "REPLICAOF SAVE SHUTDOWN SLAVEOF SLOWLOG SYNC", "");
}
END_TEST

START_TEST(test_keys_basic)
{
    ck_keys("GET k", "1");
    ck_keys("SET k v EX 10", "1");
    ck_keys("MSET a 1 b 2 c 3", "1 3 5");
    ck_keys("DEL a b c", "1 2 3");
    ck_keys("DEL", "");
    ck_keys("RENAME a b", "1 2");
    ck_keys("BITOP AND d a b", "2 3 4");
    ck_keys("COPY a b DB 2 REPLACE", "1 2");
    ck_keys("SMOVE a b m", "1 2");
    ck_keys("LMOVE a b LEFT RIGHT", "1 2");
    ck_keys("BLPOP a b 0", "1 2");
    ck_keys("ZRANGESTORE d s 0 -1", "1 2");
    ck_keys("XGROUP CREATE s g $", "2");
    ck_keys("OBJECT ENCODING k", "2");
    ck_keys("OBJECT HELP", "");
    ck_keys("WATCH a b", "1 2");
    ck_keys("PING", "");
    ck_keys("SPUBLISH ch m", "");
}
END_TEST

START_TEST(test_keys_numkeys)
{
    ck_keys("EVAL s 0", "");
    ck_keys("EVAL s 0 a1 a2", "");
    ck_keys("EVAL s 2 a b x", "3 4");
    ck_keys("EVAL s 5 a b", "3 4");
    ck_keys("EVAL s -1 a", "");
    ck_keys("EVAL s abc a", "");
    ck_keys("EVAL s '' a", "");
    ck_keys("EVAL s 99999999999999999999 a", "3");
    ck_keys("EVAL s", "");
    ck_keys("EVALSHA_RO sha 1 a x", "3");
    ck_keys("FCALL f 2 a b x", "3 4");
    ck_keys("ZUNIONSTORE d 2 a b WEIGHTS 1 2", "1 3 4");
    ck_keys("ZINTERSTORE d 9 a", "1 3");
    ck_keys("ZDIFFSTORE d", "1");
    ck_keys("ZUNION 2 a b WITHSCORES", "2 3");
    ck_keys("LMPOP 2 a b LEFT", "2 3");
    ck_keys("SINTERCARD 1 a LIMIT 3", "2");
    ck_keys("BLMPOP 0 2 a b LEFT COUNT 2", "3 4");
    ck_keys("BZMPOP 1.5 1 a MIN", "3");
}
END_TEST

START_TEST(test_keys_streams)
{
    ck_keys("XREAD STREAMS a b 0 0", "2 3");
    ck_keys("XREAD COUNT 1 BLOCK 0 STREAMS a 0", "6");
    ck_keys("xread count 1 block 0 streams a b 0 0", "6 7");
    ck_keys("XREAD BLOCK 0 STREAMS a", "");
    ck_keys("XREAD COUNT 1", "");
    ck_keys("XREADGROUP GROUP g c STREAMS a b > >", "5 6");
    ck_keys("XREADGROUP GROUP STREAMS c STREAMS a >", "5");
    ck_keys("XREADGROUP GROUP g c COUNT 2 BLOCK 5 NOACK STREAMS a >", "10");
}
END_TEST

START_TEST(test_keys_sort_geo_migrate)
{
    ck_keys("SORT a", "1");
    ck_keys("SORT a STORE d", "1 3");
    ck_keys("SORT a BY w_* LIMIT 0 5 GET # STORE d", "1 10");
    ck_keys("SORT a GET STORE", "1");
    ck_keys("SORT a BY STORE GET # store d", "1 7");
    ck_keys("SORT a STORE d1 STORE d2", "1 5");
    ck_keys("SORT_RO a BY w_* GET #", "1");

    ck_keys("GEORADIUS g 0 0 5 km", "1");
    ck_keys("GEORADIUS g 0 0 5 km STORE d", "1 7");
    ck_keys("GEORADIUS g 0 0 5 km storedist d", "1 7");
    ck_keys("GEORADIUS g 0 0 5 km COUNT 3 ANY STORE d", "1 10");
    ck_keys("GEORADIUS g 0 0 5 km STORE d1 STOREDIST d2", "1 7 9");
    ck_keys("GEORADIUSBYMEMBER g m 5 km STORE d", "1 6");
    ck_keys("GEORADIUSBYMEMBER g STORE 5 km", "1");
    ck_keys("GEORADIUS_RO g 0 0 5 km", "1");

    ck_keys("MIGRATE h 6379 k 0 1000", "3");
    ck_keys("MIGRATE h 6379 k 0 1000 COPY REPLACE", "3");
    ck_keys("MIGRATE h 6379 '' 0 1000 COPY KEYS a b", "8 9");
    ck_keys("MIGRATE h 6379 '' 0 1000 AUTH KEYS KEYS a", "9");
    ck_keys("MIGRATE h 6379 '' 0 1000 AUTH2 u KEYS keys a b", "10 11");
    ck_keys("MIGRATE h 6379 '' 0 1000", "3");
    ck_keys("MIGRATE h 6379", "");
}
END_TEST

START_TEST(test_keys_truncation)
{
    struct req r;
    int idx[8], more;

    req_parse(&r, "MSET a 1 b 2 c 3");
    const struct cmd *c = must_lookup("MSET");
    more = 7;
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, idx, 3, &more), 3);
    ck_assert_int_eq(more, 0);
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, idx, 2, &more), 2);
    ck_assert_int_eq(more, 1);
    ck_assert_int_eq(idx[0], 1);
    ck_assert_int_eq(idx[1], 3);
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, NULL, 0, &more), 0);
    ck_assert_int_eq(more, 1);
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, NULL, -5, &more), 0);
    ck_assert_int_eq(more, 1);
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, idx, 2, NULL), 2);

    req_parse(&r, "ZUNIONSTORE d 2 a b");
    c = must_lookup("ZUNIONSTORE");
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, idx, 1, &more), 1);
    ck_assert_int_eq(idx[0], 1);
    ck_assert_int_eq(more, 1);
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, idx, 2, &more), 2);
    ck_assert_int_eq(idx[1], 3);
    ck_assert_int_eq(more, 1);

    req_parse(&r, "GEORADIUS g 0 0 5 km STORE d");
    c = must_lookup("GEORADIUS");
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, idx, 1, &more), 1);
    ck_assert_int_eq(more, 1);

    req_parse(&r, "MIGRATE h 1 '' 0 10 KEYS a b c");
    c = must_lookup("MIGRATE");
    ck_assert_int_eq(cmd_keys(c, r.argc, r.argv, r.len, idx, 2, &more), 2);
    ck_assert_int_eq(idx[1], 8);
    ck_assert_int_eq(more, 1);

    req_parse(&r, "DEL a");
    ck_assert_int_eq(cmd_keys(NULL, r.argc, r.argv, r.len, idx, 8, &more), 0);
    ck_assert_int_eq(more, 0);
    c = must_lookup("DEL");
    ck_assert_int_eq(cmd_keys(c, 0, r.argv, r.len, idx, 8, &more), 0);
    ck_assert_int_eq(cmd_keys(c, -3, r.argv, r.len, idx, 8, &more), 0);
    ck_assert_int_eq(cmd_keys(c, 2, NULL, NULL, idx, 8, &more), 0);
}
END_TEST

START_TEST(test_blocks)
{
    ck_assert(blocks("BLPOP a 0"));
    ck_assert(blocks("BZMPOP 0 1 a MIN"));
    ck_assert(blocks("WAIT 1 0"));
    ck_assert(blocks("XREAD BLOCK 0 STREAMS a 0"));
    ck_assert(blocks("xread Block 100 streams a $"));
    ck_assert(blocks("XREAD COUNT 5 BLOCK 0 STREAMS a 0"));
    ck_assert(blocks("XREADGROUP GROUP g c BLOCK 10 STREAMS a >"));
    ck_assert(!blocks("XREAD COUNT 5 STREAMS a 0"));
    ck_assert(!blocks("XREAD STREAMS BLOCK 0"));
    ck_assert(!blocks("XREAD COUNT BLOCK STREAMS a 0"));
    ck_assert(!blocks("XREAD BLOCK 0"));
    ck_assert(!blocks("XREAD BLOCK"));
    ck_assert(!blocks("XREADGROUP GROUP BLOCK c STREAMS a >"));
    ck_assert(!blocks("XREADGROUP GROUP g BLOCK STREAMS a >"));
    ck_assert(!blocks("GET a"));
    ck_assert(!blocks("SUBSCRIBE ch"));
    ck_assert(!cmd_blocks(NULL, 0, NULL, NULL));
    ck_assert(!cmd_blocks(must_lookup("XREAD"), 3, NULL, NULL));
}
END_TEST

/* Arbitrary requests for every command: key indexes stay within
 * [1, argc), strictly increasing, and truncation agrees with the full
 * answer. */
START_TEST(test_keys_garbage)
{
    static const char *tokens[] = {
        "STORE", "storedist", "KEYS", "STREAMS", "block", "COUNT", "AUTH",
        "AUTH2", "LIMIT", "GET", "BY", "2", "-1", "0", "1",
        "99999999999", "x", "",
    };
    const size_t ntok = sizeof(tokens) / sizeof(tokens[0]);
    unsigned long seed = 12345;

    for (size_t i = 0; i < cmd_count(); i++) {
        const struct cmd *c = cmd_at(i);
        for (int argc = 1; argc <= 9; argc++) {
            for (int round = 0; round < 200; round++) {
                const char *argv[9];
                size_t len[9];
                int all[16], part[16], more, moreall;

                argv[0] = c->name;
                len[0] = strlen(c->name);
                for (int a = 1; a < argc; a++) {
                    seed = seed * 6364136223846793005ul + 1442695040888963407u;
                    argv[a] = tokens[(seed >> 33) % ntok];
                    len[a] = strlen(argv[a]);
                }
                /* Plain checks, one assertion per request: check's
                 * assertions are slow in bulk. */
                int n = cmd_keys(c, argc, argv, len, all, 16, &moreall);
                int ok = moreall == 0 && n >= 0;
                for (int k = 0; ok && k < n; k++)
                    ok = all[k] >= 1 && all[k] < argc &&
                         (k == 0 || all[k] > all[k - 1]);
                int p = cmd_keys(c, argc, argv, len, part, 1, &more);
                ok = ok && p == (n > 0 ? 1 : 0) && more == (n > 1) &&
                     (p == 0 || part[0] == all[0]);
                if (!ok)
                    ck_abort_msg("%s argc %d: bad keys", c->name, argc);
                cmd_blocks(c, argc, argv, len);
            }
        }
    }
}
END_TEST

static Suite *cmd_suite(void)
{
    Suite *s = suite_create("cmd");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_table_sane);
    tcase_add_test(tc, test_write_ranges_start_at_one);
    tcase_add_test(tc, test_lookup_every_entry);
    tcase_add_test(tc, test_lookup_unknown);
    tcase_add_test(tc, test_procs);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_keys_basic);
    tcase_add_test(tc, test_keys_numkeys);
    tcase_add_test(tc, test_keys_streams);
    tcase_add_test(tc, test_keys_sort_geo_migrate);
    tcase_add_test(tc, test_keys_truncation);
    tcase_add_test(tc, test_blocks);
    tcase_add_test(tc, test_keys_garbage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cmd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
