/*
 * cmd.h — the command table: everything corral knows about Redis commands,
 * in one place.
 *
 * For each command: its name, arity, flags that decide routing (write,
 * blocking, transaction, pub/sub, ...) and where its keys are.  The request
 * path asks this table which keys a write touches (cache invalidation, lease
 * fulfilment) and whether a command needs a pinned upstream connection.
 * Commands missing from the table are still forwarded; they are treated as
 * touching no keys, and coherence for them relies on tracking invalidation.
 */
#ifndef CORRAL_CMD_H
#define CORRAL_CMD_H

#include <stddef.h>

enum cmd_flag {
    CMD_WRITE     = 1 << 0,  /* may modify the keys it names */
    CMD_READONLY  = 1 << 1,  /* reads keys, never modifies */
    CMD_BLOCKING  = 1 << 2,  /* always may block: BLPOP, BRPOP, BLMOVE,
                                BRPOPLPUSH, BLMPOP, BZPOPMIN/MAX, BZMPOP, WAIT */
    CMD_MAYBLOCK  = 1 << 3,  /* blocks when given a BLOCK argument:
                                XREAD, XREADGROUP (see cmd_blocks) */
    CMD_SUBSCRIBE = 1 << 4,  /* SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: the
                                connection turns into a message stream */
    CMD_MONITOR   = 1 << 5,  /* MONITOR */
    CMD_MULTI     = 1 << 6,  /* MULTI */
    CMD_EXEC      = 1 << 7,  /* EXEC */
    CMD_DISCARD   = 1 << 8,  /* DISCARD */
    CMD_WATCH     = 1 << 9,  /* WATCH */
    CMD_UNWATCH   = 1 << 10, /* UNWATCH */
    CMD_FLUSH     = 1 << 11, /* FLUSHDB, FLUSHALL, SWAPDB: drop whole dbs */
    CMD_PUBSUB    = 1 << 12, /* UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE:
                                one reply per channel, so they run on a
                                streaming connection like SUBSCRIBE */
    CMD_ADMIN     = 1 << 13, /* administrative; forwarded unchanged */
    CMD_SUBCMDS   = 1 << 14, /* the table has entries for some of its
                                subcommands: look them up (CLIENT) */
};

/* How the keys of a command are found. */
enum cmd_keys_kind {
    CMD_KEYS_NONE = 0,   /* no keys */
    CMD_KEYS_RANGE,      /* first..last step (last < 0 counts from the end:
                            -1 = last argument) */
    CMD_KEYS_NUMKEYS,    /* argv[first] is a count N; keys follow it:
                            argv[first+1 .. first+N] (EVAL, FCALL, ZUNION,
                            LMPOP, ...); 'last' is the index of a destination
                            key before the count, or 0 (ZUNIONSTORE: 1) */
    CMD_KEYS_STREAMS,    /* XREAD/XREADGROUP: after the STREAMS keyword, the
                            first half of the remaining args; options are
                            parsed from argv[first] (XREAD 1, XREADGROUP 4) */
    CMD_KEYS_SORT,       /* SORT/SORT_RO: argv[first], plus the arg after the
                            last STORE; options start at argv[last] */
    CMD_KEYS_GEORADIUS,  /* argv[first], plus the arg after each STORE or
                            STOREDIST; options start at argv[last] */
    CMD_KEYS_MIGRATE,    /* argv[first] (3) unless empty, else the args after
                            KEYS (options start at argv[last]); argv[first]
                            itself when there is no KEYS */
};

/* Commands corral handles itself instead of (or before) forwarding. */
enum cmd_proc {
    CMD_PROC_FORWARD = 0, /* forward unchanged */
    CMD_PROC_GET,         /* GET: cache, coalescing, leases */
    CMD_PROC_MGET,        /* MGET: cache hits answered locally */
    CMD_PROC_AUTH,        /* AUTH: checked against clients.password */
    CMD_PROC_HELLO,       /* HELLO: RESP2 only */
    CMD_PROC_QUIT,        /* QUIT */
    CMD_PROC_SELECT,      /* SELECT: per-client db */
    CMD_PROC_SETNAME,     /* CLIENT SETNAME: per-client name */
    CMD_PROC_GETNAME,     /* CLIENT GETNAME */
    CMD_PROC_RESET,       /* RESET: back to the connection's initial state */
    CMD_PROC_UNSUPPORTED, /* would break the one-reply-per-request
                             contract of a shared connection (CLIENT
                             TRACKING/CACHING/REPLY, SYNC, PSYNC,
                             REPLCONF): answered with an error */
};

struct cmd {
    const char *name;     /* upper case; subcommands as "CLIENT|SETNAME" */
    enum cmd_proc proc;
    int arity;            /* as in Redis: N exact, -N at least N */
    unsigned flags;       /* enum cmd_flag */
    enum cmd_keys_kind keys;
    int first, last, step;
};

/* Find a command by name, case-insensitively. Returns NULL when unknown,
 * and for any name containing '|' (subcommand entries are found only through
 * cmd_lookup_sub). O(1) expected; allocates nothing. The name index is built
 * on the first lookup (thread-safe). */
const struct cmd *cmd_lookup(const char *name, size_t len);

/* Find a container command's subcommand ("CLIENT", "SETNAME") the same way;
 * NULL when the table has no entry for it. The table lists only the
 * subcommands whose handling differs from their container's (CLIENT SETNAME,
 * CLIENT GETNAME); for the rest the container's entry applies. */
const struct cmd *cmd_lookup_sub(const char *name, size_t len,
                                 const char *sub, size_t sublen);

/* Store into idx[] the argument indexes of the keys of the request
 * argv[0..argc) (each argument given as pointer + length) and return how many
 * there are, at most max (more are not reported: the return value is then
 * max and *more is set to 1 if more is non-NULL; otherwise *more is set to
 * 0). A request whose arguments do not make sense for the key spec (a numkeys
 * count larger than argc, ...) yields the keys that can be located, never an
 * index < 1 or >= argc. A NULL c yields no keys. */
int cmd_keys(const struct cmd *c, int argc, const char *const *argv,
             const size_t *argvlen, int *idx, int max, int *more);

/* Does this request block (CMD_BLOCKING, or CMD_MAYBLOCK with a BLOCK
 * argument)? */
int cmd_blocks(const struct cmd *c, int argc, const char *const *argv,
               const size_t *argvlen);

/* Number of commands in the table, and access by index (for tests). */
size_t cmd_count(void);
const struct cmd *cmd_at(size_t i);

#endif
