/*
 * cmd.c — the command table (see cmd.h): every command of Redis 7.0 with
 * its arity, routing flags and key spec, a case-insensitive hash index over
 * the names, and the key locators for the spec kinds.
 *
 * Flags and key positions follow what Redis 7.0 reports through COMMAND and
 * COMMAND DOCS, with these choices for corral:
 * - a container command (ACL, CLIENT, OBJECT, XGROUP, ...) carries the union
 *   of its subcommands' write and admin flags, and a key range when every
 *   subcommand that takes a key has it at the same place (OBJECT, MEMORY,
 *   XGROUP, XINFO: argv[2]);
 * - EVAL, EVALSHA and FCALL are writes; PFCOUNT is a write too, since it
 *   may rewrite the cached cardinality stored in the HyperLogLog string;
 *   DEBUG is a write (DEBUG POPULATE creates keys);
 * - shard channels (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE) are not keys.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "cmd.h"

/* Room for a "NAME|SUB" name in cmd_lookup_sub; table names are shorter. */
#define CMD_NAME_MAX 32

/* Shorthands for the table only. */
#define FWD CMD_PROC_FORWARD
#define W CMD_WRITE
#define RO CMD_READONLY
#define ADM CMD_ADMIN
#define NOKEYS CMD_KEYS_NONE, 0, 0, 0
#define RANGE(first, last, step) CMD_KEYS_RANGE, first, last, step
#define NUMKEYS(count, dest) CMD_KEYS_NUMKEYS, count, dest, 1
#define STREAMS(opts) CMD_KEYS_STREAMS, opts, 0, 1
#define SORT(key, opts) CMD_KEYS_SORT, key, opts, 1
#define GEORADIUS(key, opts) CMD_KEYS_GEORADIUS, key, opts, 1
#define MIGRATE(key, opts) CMD_KEYS_MIGRATE, key, opts, 1

static const struct cmd cmd_table[] = {
    { "ACL", FWD, -2, ADM, NOKEYS },
    { "APPEND", FWD, 3, W, RANGE(1, 1, 1) },
    { "ASKING", FWD, 1, 0, NOKEYS },
    { "AUTH", CMD_PROC_AUTH, -2, 0, NOKEYS },
    { "BGREWRITEAOF", FWD, 1, ADM, NOKEYS },
    { "BGSAVE", FWD, -1, ADM, NOKEYS },
    { "BITCOUNT", FWD, -2, RO, RANGE(1, 1, 1) },
    { "BITFIELD", FWD, -2, W, RANGE(1, 1, 1) },
    { "BITFIELD_RO", FWD, -2, RO, RANGE(1, 1, 1) },
    { "BITOP", FWD, -4, W, RANGE(2, -1, 1) },
    { "BITPOS", FWD, -3, RO, RANGE(1, 1, 1) },
    { "BLMOVE", FWD, 6, W | CMD_BLOCKING, RANGE(1, 2, 1) },
    { "BLMPOP", FWD, -5, W | CMD_BLOCKING, NUMKEYS(2, 0) },
    { "BLPOP", FWD, -3, W | CMD_BLOCKING, RANGE(1, -2, 1) },
    { "BRPOP", FWD, -3, W | CMD_BLOCKING, RANGE(1, -2, 1) },
    { "BRPOPLPUSH", FWD, 4, W | CMD_BLOCKING, RANGE(1, 2, 1) },
    { "BZMPOP", FWD, -5, W | CMD_BLOCKING, NUMKEYS(2, 0) },
    { "BZPOPMAX", FWD, -3, W | CMD_BLOCKING, RANGE(1, -2, 1) },
    { "BZPOPMIN", FWD, -3, W | CMD_BLOCKING, RANGE(1, -2, 1) },
    { "CLIENT", FWD, -2, ADM | CMD_SUBCMDS, NOKEYS },
    { "CLIENT|GETNAME", CMD_PROC_GETNAME, 2, 0, NOKEYS },
    { "CLIENT|SETNAME", CMD_PROC_SETNAME, 3, 0, NOKEYS },
    /* would change the state of a shared upstream connection */
    { "CLIENT|CACHING", CMD_PROC_UNSUPPORTED, 3, 0, NOKEYS },
    { "CLIENT|REPLY", CMD_PROC_UNSUPPORTED, 3, 0, NOKEYS },
    { "CLIENT|TRACKING", CMD_PROC_UNSUPPORTED, -3, 0, NOKEYS },
    { "CLUSTER", FWD, -2, ADM, NOKEYS },
    { "COMMAND", FWD, -1, 0, NOKEYS },
    { "CONFIG", FWD, -2, ADM, NOKEYS },
    { "COPY", FWD, -3, W, RANGE(1, 2, 1) },
    { "DBSIZE", FWD, 1, RO, NOKEYS },
    { "DEBUG", FWD, -2, W | ADM, NOKEYS },
    { "DECR", FWD, 2, W, RANGE(1, 1, 1) },
    { "DECRBY", FWD, 3, W, RANGE(1, 1, 1) },
    { "DEL", FWD, -2, W, RANGE(1, -1, 1) },
    { "DISCARD", FWD, 1, CMD_DISCARD, NOKEYS },
    { "DUMP", FWD, 2, RO, RANGE(1, 1, 1) },
    { "ECHO", FWD, 2, 0, NOKEYS },
    { "EVAL", FWD, -3, W, NUMKEYS(2, 0) },
    { "EVAL_RO", FWD, -3, RO, NUMKEYS(2, 0) },
    { "EVALSHA", FWD, -3, W, NUMKEYS(2, 0) },
    { "EVALSHA_RO", FWD, -3, RO, NUMKEYS(2, 0) },
    { "EXEC", FWD, 1, CMD_EXEC, NOKEYS },
    { "EXISTS", FWD, -2, RO, RANGE(1, -1, 1) },
    { "EXPIRE", FWD, -3, W, RANGE(1, 1, 1) },
    { "EXPIREAT", FWD, -3, W, RANGE(1, 1, 1) },
    { "EXPIRETIME", FWD, 2, RO, RANGE(1, 1, 1) },
    { "FAILOVER", FWD, -1, ADM, NOKEYS },
    { "FCALL", FWD, -3, W, NUMKEYS(2, 0) },
    { "FCALL_RO", FWD, -3, RO, NUMKEYS(2, 0) },
    { "FLUSHALL", FWD, -1, W | CMD_FLUSH, NOKEYS },
    { "FLUSHDB", FWD, -1, W | CMD_FLUSH, NOKEYS },
    { "FUNCTION", FWD, -2, W, NOKEYS },
    { "GEOADD", FWD, -5, W, RANGE(1, 1, 1) },
    { "GEODIST", FWD, -4, RO, RANGE(1, 1, 1) },
    { "GEOHASH", FWD, -2, RO, RANGE(1, 1, 1) },
    { "GEOPOS", FWD, -2, RO, RANGE(1, 1, 1) },
    { "GEORADIUS", FWD, -6, W, GEORADIUS(1, 6) },
    { "GEORADIUS_RO", FWD, -6, RO, RANGE(1, 1, 1) },
    { "GEORADIUSBYMEMBER", FWD, -5, W, GEORADIUS(1, 5) },
    { "GEORADIUSBYMEMBER_RO", FWD, -5, RO, RANGE(1, 1, 1) },
    { "GEOSEARCH", FWD, -7, RO, RANGE(1, 1, 1) },
    { "GEOSEARCHSTORE", FWD, -8, W, RANGE(1, 2, 1) },
    { "GET", CMD_PROC_GET, 2, RO, RANGE(1, 1, 1) },
    { "GETBIT", FWD, 3, RO, RANGE(1, 1, 1) },
    { "GETDEL", FWD, 2, W, RANGE(1, 1, 1) },
    { "GETEX", FWD, -2, W, RANGE(1, 1, 1) },
    { "GETRANGE", FWD, 4, RO, RANGE(1, 1, 1) },
    { "GETSET", FWD, 3, W, RANGE(1, 1, 1) },
    { "HDEL", FWD, -3, W, RANGE(1, 1, 1) },
    { "HELLO", CMD_PROC_HELLO, -1, 0, NOKEYS },
    { "HEXISTS", FWD, 3, RO, RANGE(1, 1, 1) },
    { "HGET", FWD, 3, RO, RANGE(1, 1, 1) },
    { "HGETALL", FWD, 2, RO, RANGE(1, 1, 1) },
    { "HINCRBY", FWD, 4, W, RANGE(1, 1, 1) },
    { "HINCRBYFLOAT", FWD, 4, W, RANGE(1, 1, 1) },
    { "HKEYS", FWD, 2, RO, RANGE(1, 1, 1) },
    { "HLEN", FWD, 2, RO, RANGE(1, 1, 1) },
    { "HMGET", FWD, -3, RO, RANGE(1, 1, 1) },
    { "HMSET", FWD, -4, W, RANGE(1, 1, 1) },
    { "HRANDFIELD", FWD, -2, RO, RANGE(1, 1, 1) },
    { "HSCAN", FWD, -3, RO, RANGE(1, 1, 1) },
    { "HSET", FWD, -4, W, RANGE(1, 1, 1) },
    { "HSETNX", FWD, 4, W, RANGE(1, 1, 1) },
    { "HSTRLEN", FWD, 3, RO, RANGE(1, 1, 1) },
    { "HVALS", FWD, 2, RO, RANGE(1, 1, 1) },
    { "INCR", FWD, 2, W, RANGE(1, 1, 1) },
    { "INCRBY", FWD, 3, W, RANGE(1, 1, 1) },
    { "INCRBYFLOAT", FWD, 3, W, RANGE(1, 1, 1) },
    { "INFO", FWD, -1, 0, NOKEYS },
    { "KEYS", FWD, 2, RO, NOKEYS },
    { "LASTSAVE", FWD, 1, 0, NOKEYS },
    { "LATENCY", FWD, -2, ADM, NOKEYS },
    { "LCS", FWD, -3, RO, RANGE(1, 2, 1) },
    { "LINDEX", FWD, 3, RO, RANGE(1, 1, 1) },
    { "LINSERT", FWD, 5, W, RANGE(1, 1, 1) },
    { "LLEN", FWD, 2, RO, RANGE(1, 1, 1) },
    { "LMOVE", FWD, 5, W, RANGE(1, 2, 1) },
    { "LMPOP", FWD, -4, W, NUMKEYS(1, 0) },
    { "LOLWUT", FWD, -1, RO, NOKEYS },
    { "LPOP", FWD, -2, W, RANGE(1, 1, 1) },
    { "LPOS", FWD, -3, RO, RANGE(1, 1, 1) },
    { "LPUSH", FWD, -3, W, RANGE(1, 1, 1) },
    { "LPUSHX", FWD, -3, W, RANGE(1, 1, 1) },
    { "LRANGE", FWD, 4, RO, RANGE(1, 1, 1) },
    { "LREM", FWD, 4, W, RANGE(1, 1, 1) },
    { "LSET", FWD, 4, W, RANGE(1, 1, 1) },
    { "LTRIM", FWD, 4, W, RANGE(1, 1, 1) },
    { "MEMORY", FWD, -2, 0, RANGE(2, 2, 1) },
    { "MGET", CMD_PROC_MGET, -2, RO, RANGE(1, -1, 1) },
    { "MIGRATE", FWD, -6, W, MIGRATE(3, 6) },
    { "MODULE", FWD, -2, ADM, NOKEYS },
    { "MONITOR", FWD, 1, ADM | CMD_MONITOR, NOKEYS },
    { "MOVE", FWD, 3, W, RANGE(1, 1, 1) },
    { "MSET", FWD, -3, W, RANGE(1, -1, 2) },
    { "MSETNX", FWD, -3, W, RANGE(1, -1, 2) },
    { "MULTI", FWD, 1, CMD_MULTI, NOKEYS },
    { "OBJECT", FWD, -2, RO, RANGE(2, 2, 1) },
    { "PERSIST", FWD, 2, W, RANGE(1, 1, 1) },
    { "PEXPIRE", FWD, -3, W, RANGE(1, 1, 1) },
    { "PEXPIREAT", FWD, -3, W, RANGE(1, 1, 1) },
    { "PEXPIRETIME", FWD, 2, RO, RANGE(1, 1, 1) },
    { "PFADD", FWD, -2, W, RANGE(1, 1, 1) },
    { "PFCOUNT", FWD, -2, W, RANGE(1, -1, 1) },
    { "PFDEBUG", FWD, 3, W | ADM, RANGE(2, 2, 1) },
    { "PFMERGE", FWD, -2, W, RANGE(1, -1, 1) },
    { "PFSELFTEST", FWD, 1, ADM, NOKEYS },
    { "PING", FWD, -1, 0, NOKEYS },
    { "PSETEX", FWD, 4, W, RANGE(1, 1, 1) },
    { "PSUBSCRIBE", FWD, -2, CMD_SUBSCRIBE, NOKEYS },
    { "PSYNC", CMD_PROC_UNSUPPORTED, -3, ADM, NOKEYS },
    { "PTTL", FWD, 2, RO, RANGE(1, 1, 1) },
    { "PUBLISH", FWD, 3, 0, NOKEYS },
    { "PUBSUB", FWD, -2, 0, NOKEYS },
    { "PUNSUBSCRIBE", FWD, -1, CMD_PUBSUB, NOKEYS },
    { "QUIT", CMD_PROC_QUIT, -1, 0, NOKEYS },
    { "RANDOMKEY", FWD, 1, RO, NOKEYS },
    { "READONLY", FWD, 1, 0, NOKEYS },
    { "READWRITE", FWD, 1, 0, NOKEYS },
    { "RENAME", FWD, 3, W, RANGE(1, 2, 1) },
    { "RENAMENX", FWD, 3, W, RANGE(1, 2, 1) },
    { "REPLCONF", CMD_PROC_UNSUPPORTED, -1, ADM, NOKEYS },
    { "REPLICAOF", FWD, 3, ADM, NOKEYS },
    { "RESET", CMD_PROC_RESET, 1, 0, NOKEYS },
    { "RESTORE", FWD, -4, W, RANGE(1, 1, 1) },
    { "RESTORE-ASKING", FWD, -4, W, RANGE(1, 1, 1) },
    { "ROLE", FWD, 1, 0, NOKEYS },
    { "RPOP", FWD, -2, W, RANGE(1, 1, 1) },
    { "RPOPLPUSH", FWD, 3, W, RANGE(1, 2, 1) },
    { "RPUSH", FWD, -3, W, RANGE(1, 1, 1) },
    { "RPUSHX", FWD, -3, W, RANGE(1, 1, 1) },
    { "SADD", FWD, -3, W, RANGE(1, 1, 1) },
    { "SAVE", FWD, 1, ADM, NOKEYS },
    { "SCAN", FWD, -2, RO, NOKEYS },
    { "SCARD", FWD, 2, RO, RANGE(1, 1, 1) },
    { "SCRIPT", FWD, -2, 0, NOKEYS },
    { "SDIFF", FWD, -2, RO, RANGE(1, -1, 1) },
    { "SDIFFSTORE", FWD, -3, W, RANGE(1, -1, 1) },
    { "SELECT", CMD_PROC_SELECT, 2, 0, NOKEYS },
    { "SET", FWD, -3, W, RANGE(1, 1, 1) },
    { "SETBIT", FWD, 4, W, RANGE(1, 1, 1) },
    { "SETEX", FWD, 4, W, RANGE(1, 1, 1) },
    { "SETNX", FWD, 3, W, RANGE(1, 1, 1) },
    { "SETRANGE", FWD, 4, W, RANGE(1, 1, 1) },
    { "SHUTDOWN", FWD, -1, ADM, NOKEYS },
    { "SINTER", FWD, -2, RO, RANGE(1, -1, 1) },
    { "SINTERCARD", FWD, -3, RO, NUMKEYS(1, 0) },
    { "SINTERSTORE", FWD, -3, W, RANGE(1, -1, 1) },
    { "SISMEMBER", FWD, 3, RO, RANGE(1, 1, 1) },
    { "SLAVEOF", FWD, 3, ADM, NOKEYS },
    { "SLOWLOG", FWD, -2, ADM, NOKEYS },
    { "SMEMBERS", FWD, 2, RO, RANGE(1, 1, 1) },
    { "SMISMEMBER", FWD, -3, RO, RANGE(1, 1, 1) },
    { "SMOVE", FWD, 4, W, RANGE(1, 2, 1) },
    { "SORT", FWD, -2, W, SORT(1, 2) },
    { "SORT_RO", FWD, -2, RO, SORT(1, 2) },
    { "SPOP", FWD, -2, W, RANGE(1, 1, 1) },
    { "SPUBLISH", FWD, 3, 0, NOKEYS },
    { "SRANDMEMBER", FWD, -2, RO, RANGE(1, 1, 1) },
    { "SREM", FWD, -3, W, RANGE(1, 1, 1) },
    { "SSCAN", FWD, -3, RO, RANGE(1, 1, 1) },
    { "SSUBSCRIBE", FWD, -2, CMD_SUBSCRIBE, NOKEYS },
    { "STRLEN", FWD, 2, RO, RANGE(1, 1, 1) },
    { "SUBSCRIBE", FWD, -2, CMD_SUBSCRIBE, NOKEYS },
    { "SUBSTR", FWD, 4, RO, RANGE(1, 1, 1) },
    { "SUNION", FWD, -2, RO, RANGE(1, -1, 1) },
    { "SUNIONSTORE", FWD, -3, W, RANGE(1, -1, 1) },
    { "SUNSUBSCRIBE", FWD, -1, CMD_PUBSUB, NOKEYS },
    { "SWAPDB", FWD, 3, W | CMD_FLUSH, NOKEYS },
    { "SYNC", CMD_PROC_UNSUPPORTED, 1, ADM, NOKEYS },
    { "TIME", FWD, 1, 0, NOKEYS },
    { "TOUCH", FWD, -2, RO, RANGE(1, -1, 1) },
    { "TTL", FWD, 2, RO, RANGE(1, 1, 1) },
    { "TYPE", FWD, 2, RO, RANGE(1, 1, 1) },
    { "UNLINK", FWD, -2, W, RANGE(1, -1, 1) },
    { "UNSUBSCRIBE", FWD, -1, CMD_PUBSUB, NOKEYS },
    { "UNWATCH", FWD, 1, CMD_UNWATCH, NOKEYS },
    { "WAIT", FWD, 3, CMD_BLOCKING, NOKEYS },
    { "WATCH", FWD, -2, CMD_WATCH, RANGE(1, -1, 1) },
    { "XACK", FWD, -4, W, RANGE(1, 1, 1) },
    { "XADD", FWD, -5, W, RANGE(1, 1, 1) },
    { "XAUTOCLAIM", FWD, -6, W, RANGE(1, 1, 1) },
    { "XCLAIM", FWD, -6, W, RANGE(1, 1, 1) },
    { "XDEL", FWD, -3, W, RANGE(1, 1, 1) },
    { "XGROUP", FWD, -2, W, RANGE(2, 2, 1) },
    { "XINFO", FWD, -2, RO, RANGE(2, 2, 1) },
    { "XLEN", FWD, 2, RO, RANGE(1, 1, 1) },
    { "XPENDING", FWD, -3, RO, RANGE(1, 1, 1) },
    { "XRANGE", FWD, -4, RO, RANGE(1, 1, 1) },
    { "XREAD", FWD, -4, RO | CMD_MAYBLOCK, STREAMS(1) },
    { "XREADGROUP", FWD, -7, W | CMD_MAYBLOCK, STREAMS(4) },
    { "XREVRANGE", FWD, -4, RO, RANGE(1, 1, 1) },
    { "XSETID", FWD, -3, W, RANGE(1, 1, 1) },
    { "XTRIM", FWD, -4, W, RANGE(1, 1, 1) },
    { "ZADD", FWD, -4, W, RANGE(1, 1, 1) },
    { "ZCARD", FWD, 2, RO, RANGE(1, 1, 1) },
    { "ZCOUNT", FWD, 4, RO, RANGE(1, 1, 1) },
    { "ZDIFF", FWD, -3, RO, NUMKEYS(1, 0) },
    { "ZDIFFSTORE", FWD, -4, W, NUMKEYS(2, 1) },
    { "ZINCRBY", FWD, 4, W, RANGE(1, 1, 1) },
    { "ZINTER", FWD, -3, RO, NUMKEYS(1, 0) },
    { "ZINTERCARD", FWD, -3, RO, NUMKEYS(1, 0) },
    { "ZINTERSTORE", FWD, -4, W, NUMKEYS(2, 1) },
    { "ZLEXCOUNT", FWD, 4, RO, RANGE(1, 1, 1) },
    { "ZMPOP", FWD, -4, W, NUMKEYS(1, 0) },
    { "ZMSCORE", FWD, -3, RO, RANGE(1, 1, 1) },
    { "ZPOPMAX", FWD, -2, W, RANGE(1, 1, 1) },
    { "ZPOPMIN", FWD, -2, W, RANGE(1, 1, 1) },
    { "ZRANDMEMBER", FWD, -2, RO, RANGE(1, 1, 1) },
    { "ZRANGE", FWD, -4, RO, RANGE(1, 1, 1) },
    { "ZRANGEBYLEX", FWD, -4, RO, RANGE(1, 1, 1) },
    { "ZRANGEBYSCORE", FWD, -4, RO, RANGE(1, 1, 1) },
    { "ZRANGESTORE", FWD, -5, W, RANGE(1, 2, 1) },
    { "ZRANK", FWD, 3, RO, RANGE(1, 1, 1) },
    { "ZREM", FWD, -3, W, RANGE(1, 1, 1) },
    { "ZREMRANGEBYLEX", FWD, 4, W, RANGE(1, 1, 1) },
    { "ZREMRANGEBYRANK", FWD, 4, W, RANGE(1, 1, 1) },
    { "ZREMRANGEBYSCORE", FWD, 4, W, RANGE(1, 1, 1) },
    { "ZREVRANGE", FWD, -4, RO, RANGE(1, 1, 1) },
    { "ZREVRANGEBYLEX", FWD, -4, RO, RANGE(1, 1, 1) },
    { "ZREVRANGEBYSCORE", FWD, -4, RO, RANGE(1, 1, 1) },
    { "ZREVRANK", FWD, 3, RO, RANGE(1, 1, 1) },
    { "ZSCAN", FWD, -3, RO, RANGE(1, 1, 1) },
    { "ZSCORE", FWD, 3, RO, RANGE(1, 1, 1) },
    { "ZUNION", FWD, -3, RO, NUMKEYS(1, 0) },
    { "ZUNIONSTORE", FWD, -4, W, NUMKEYS(2, 1) },
};

#undef FWD
#undef W
#undef RO
#undef ADM
#undef NOKEYS
#undef RANGE
#undef NUMKEYS
#undef STREAMS
#undef SORT
#undef GEORADIUS
#undef MIGRATE

#define CMD_COUNT (sizeof(cmd_table) / sizeof(cmd_table[0]))

/* Open-addressing index over the names: a slot holds a table index + 1, or
 * 0 when empty. Built once, on first use; at most half full, so probing
 * always ends at an empty slot. */
#define CMD_SLOTS 512
_Static_assert(CMD_COUNT * 2 <= CMD_SLOTS, "command index too small");
_Static_assert(CMD_COUNT < UINT16_MAX, "command index slot too narrow");

static uint16_t cmd_slots[CMD_SLOTS];
static uint8_t cmd_lens[CMD_COUNT];
static size_t cmd_maxlen;
static pthread_once_t cmd_once = PTHREAD_ONCE_INIT;

static unsigned char cmd_upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - ('a' - 'A')) : c;
}

/* FNV-1a over the upper-cased bytes. */
static uint32_t cmd_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= cmd_upper((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

static void cmd_index_build(void)
{
    for (size_t i = 0; i < CMD_COUNT; i++) {
        size_t len = strlen(cmd_table[i].name);
        uint32_t pos = cmd_hash(cmd_table[i].name, len) & (CMD_SLOTS - 1);

        while (cmd_slots[pos] != 0)
            pos = (pos + 1) & (CMD_SLOTS - 1);
        cmd_slots[pos] = (uint16_t)(i + 1);
        cmd_lens[i] = (uint8_t)len;
        if (len > cmd_maxlen)
            cmd_maxlen = len;
    }
}

/* Does s[0..len) equal the upper-case table name 'up' (of length len),
 * ignoring case? */
static int cmd_name_eq(const char *s, const char *up, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (cmd_upper((unsigned char)s[i]) != (unsigned char)up[i])
            return 0;
    return 1;
}

static const struct cmd *cmd_find(const char *name, size_t len)
{
    uint32_t pos = cmd_hash(name, len) & (CMD_SLOTS - 1);

    for (;;) {
        unsigned slot = cmd_slots[pos];
        if (slot == 0)
            return NULL;
        if (cmd_lens[slot - 1] == len &&
            cmd_name_eq(name, cmd_table[slot - 1].name, len))
            return &cmd_table[slot - 1];
        pos = (pos + 1) & (CMD_SLOTS - 1);
    }
}

const struct cmd *cmd_lookup(const char *name, size_t len)
{
    pthread_once(&cmd_once, cmd_index_build);
    if (name == NULL || len == 0 || len > cmd_maxlen)
        return NULL;
    /* "CLIENT|SETNAME" is not a command name Redis would run. */
    if (memchr(name, '|', len) != NULL)
        return NULL;
    return cmd_find(name, len);
}

const struct cmd *cmd_lookup_sub(const char *name, size_t len,
                                 const char *sub, size_t sublen)
{
    char buf[CMD_NAME_MAX];

    pthread_once(&cmd_once, cmd_index_build);
    if (name == NULL || sub == NULL || len == 0 || sublen == 0 ||
        len > cmd_maxlen || sublen > cmd_maxlen ||
        len + 1 + sublen > cmd_maxlen || len + 1 + sublen > sizeof(buf))
        return NULL;
    if (memchr(name, '|', len) != NULL || memchr(sub, '|', sublen) != NULL)
        return NULL;
    memcpy(buf, name, len);
    buf[len] = '|';
    memcpy(buf + len + 1, sub, sublen);
    return cmd_find(buf, len + 1 + sublen);
}

size_t cmd_count(void)
{
    return CMD_COUNT;
}

const struct cmd *cmd_at(size_t i)
{
    return i < CMD_COUNT ? &cmd_table[i] : NULL;
}

/* ---- key location ---- */

/* Collects key indexes up to a limit, remembering whether any were left
 * out. */
struct cmd_keyset {
    int *idx;
    int max;
    int n;
    int more;
};

/* Add argument index i; returns 0 once the set is full (the caller stops). */
static int cmd_key_add(struct cmd_keyset *ks, int i)
{
    if (ks->n >= ks->max) {
        ks->more = 1;
        return 0;
    }
    ks->idx[ks->n++] = i;
    return 1;
}

/* Add argument indexes from..to inclusive, every step. */
static void cmd_key_add_range(struct cmd_keyset *ks, int from, int to,
                              int step)
{
    for (int i = from; i <= to; i += step)
        if (!cmd_key_add(ks, i) || to - i < step)
            return;
}

/* Is argument i the keyword kw (upper case), ignoring case? */
static int cmd_arg_is(const char *const *argv, const size_t *argvlen, int i,
                      const char *kw)
{
    size_t len = strlen(kw);
    return argvlen[i] == len && argv[i] != NULL &&
           cmd_name_eq(argv[i], kw, len);
}

/* Parse a key count. Accepts more than Redis does (a sign, leading zeros),
 * so a count Redis takes is never missed. Returns -1 for anything that is
 * not a non-negative integer; counts beyond INT_MAX saturate. */
static int cmd_parse_count(const char *s, size_t len)
{
    size_t i = 0;
    long long v = 0;

    if (s == NULL || len == 0)
        return -1;
    if (s[0] == '+' || s[0] == '-')
        i = 1;
    if (i == len)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v < INT_MAX)
            v = v * 10 + (s[i] - '0');
    }
    if (s[0] == '-')
        return v == 0 ? 0 : -1;
    return v > INT_MAX ? INT_MAX : (int)v;
}

/* XREAD/XREADGROUP: parse the options from argv[c->first] the way Redis
 * does (COUNT and BLOCK take a value) up to the STREAMS keyword. Returns
 * the index of STREAMS, or -1; *block tells whether BLOCK came before it. */
static int cmd_streams_pos(const struct cmd *c, int argc,
                           const char *const *argv, const size_t *argvlen,
                           int *block)
{
    *block = 0;
    for (int i = c->first; i < argc; i++) {
        int moreargs = argc - 1 - i;
        if (cmd_arg_is(argv, argvlen, i, "STREAMS"))
            return i;
        if (moreargs > 0 && cmd_arg_is(argv, argvlen, i, "BLOCK")) {
            *block = 1;
            i++;
        } else if (moreargs > 0 && cmd_arg_is(argv, argvlen, i, "COUNT")) {
            i++;
        }
        /* NOACK and anything Redis would reject: next argument. */
    }
    return -1;
}

static void cmd_keys_numkeys(const struct cmd *c, int argc,
                             const char *const *argv, const size_t *argvlen,
                             struct cmd_keyset *ks)
{
    if (c->last > 0 && c->last < argc && !cmd_key_add(ks, c->last))
        return;
    if (c->first <= 0 || c->first >= argc)
        return;
    int n = cmd_parse_count(argv[c->first], argvlen[c->first]);
    int avail = argc - c->first - 1;
    if (n > avail)
        n = avail;
    if (n > 0)
        cmd_key_add_range(ks, c->first + 1, c->first + n, 1);
}

static void cmd_keys_streams(const struct cmd *c, int argc,
                             const char *const *argv, const size_t *argvlen,
                             struct cmd_keyset *ks)
{
    int block;
    int s = cmd_streams_pos(c, argc, argv, argvlen, &block);
    if (s < 0)
        return;
    /* Keys, then as many IDs; Redis rejects an odd count. */
    int n = (argc - s - 1) / 2;
    if (n > 0)
        cmd_key_add_range(ks, s + 1, s + n, 1);
}

/* SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
 * [ALPHA] [STORE destination]: the last STORE wins, as in Redis. */
static void cmd_keys_sort(const struct cmd *c, int argc,
                          const char *const *argv, const size_t *argvlen,
                          struct cmd_keyset *ks)
{
    int store = -1;

    for (int j = c->last; j > 0 && j < argc; j++) {
        int left = argc - 1 - j;
        if (left >= 2 && cmd_arg_is(argv, argvlen, j, "LIMIT")) {
            j += 2;
        } else if (left >= 1 && cmd_arg_is(argv, argvlen, j, "STORE")) {
            store = ++j;
        } else if (left >= 1 && (cmd_arg_is(argv, argvlen, j, "BY") ||
                                 cmd_arg_is(argv, argvlen, j, "GET"))) {
            j++;
        }
        /* ASC, DESC, ALPHA and anything Redis would reject: one argument. */
    }
    if (c->first > 0 && c->first < argc && !cmd_key_add(ks, c->first))
        return;
    if (store > 0)
        cmd_key_add(ks, store);
}

/* GEORADIUS key lon lat radius unit [options] / GEORADIUSBYMEMBER key
 * member radius unit [options]: options start at c->last, COUNT takes a
 * value. Redis stores into the last STORE or STOREDIST destination; every
 * one given is reported, as COMMAND GETKEYS does. */
static void cmd_keys_georadius(const struct cmd *c, int argc,
                               const char *const *argv,
                               const size_t *argvlen, struct cmd_keyset *ks)
{
    if (c->first <= 0 || c->first >= argc || !cmd_key_add(ks, c->first))
        return;
    for (int j = c->last; j > 0 && j < argc; j++) {
        int left = argc - 1 - j;
        if (left >= 1 && (cmd_arg_is(argv, argvlen, j, "STORE") ||
                          cmd_arg_is(argv, argvlen, j, "STOREDIST"))) {
            if (!cmd_key_add(ks, ++j))
                return;
        } else if (left >= 1 && cmd_arg_is(argv, argvlen, j, "COUNT")) {
            j++;
        }
    }
}

/* MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
 * [AUTH2 user pw] [KEYS key ...]: options start at c->last. */
static void cmd_keys_migrate(const struct cmd *c, int argc,
                             const char *const *argv, const size_t *argvlen,
                             struct cmd_keyset *ks)
{
    int key = c->first;

    if (key <= 0 || key >= argc)
        return;
    if (argvlen[key] == 0) {
        for (int j = c->last; j > 0 && j < argc; j++) {
            int left = argc - 1 - j;
            if (cmd_arg_is(argv, argvlen, j, "KEYS")) {
                cmd_key_add_range(ks, j + 1, argc - 1, 1);
                return;
            }
            if (left >= 1 && cmd_arg_is(argv, argvlen, j, "AUTH"))
                j++;
            else if (left >= 2 && cmd_arg_is(argv, argvlen, j, "AUTH2"))
                j += 2;
        }
    }
    /* The single-key form; Redis migrates even the empty key. */
    cmd_key_add(ks, key);
}

int cmd_keys(const struct cmd *c, int argc, const char *const *argv,
             const size_t *argvlen, int *idx, int max, int *more)
{
    struct cmd_keyset ks = { idx, max > 0 ? max : 0, 0, 0 };

    if (c != NULL && argc > 1 && argv != NULL && argvlen != NULL) {
        switch (c->keys) {
        case CMD_KEYS_NONE:
            break;
        case CMD_KEYS_RANGE: {
            int last = c->last < 0 ? argc + c->last : c->last;
            if (last > argc - 1)
                last = argc - 1;
            if (c->first > 0)
                cmd_key_add_range(&ks, c->first, last,
                                  c->step > 0 ? c->step : 1);
            break;
        }
        case CMD_KEYS_NUMKEYS:
            cmd_keys_numkeys(c, argc, argv, argvlen, &ks);
            break;
        case CMD_KEYS_STREAMS:
            cmd_keys_streams(c, argc, argv, argvlen, &ks);
            break;
        case CMD_KEYS_SORT:
            cmd_keys_sort(c, argc, argv, argvlen, &ks);
            break;
        case CMD_KEYS_GEORADIUS:
            cmd_keys_georadius(c, argc, argv, argvlen, &ks);
            break;
        case CMD_KEYS_MIGRATE:
            cmd_keys_migrate(c, argc, argv, argvlen, &ks);
            break;
        }
    }
    if (more != NULL)
        *more = ks.more;
    return ks.n;
}

int cmd_blocks(const struct cmd *c, int argc, const char *const *argv,
               const size_t *argvlen)
{
    int block;

    if (c == NULL)
        return 0;
    if (c->flags & CMD_BLOCKING)
        return 1;
    if (!(c->flags & CMD_MAYBLOCK) || argv == NULL || argvlen == NULL)
        return 0;
    /* Without STREAMS Redis rejects the command before blocking. */
    return cmd_streams_pos(c, argc, argv, argvlen, &block) >= 0 && block;
}
