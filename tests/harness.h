/*
 * harness.h — integration test harness: starts real redis-server and corral
 * processes on free loopback ports, and connects hiredis clients to them.
 *
 * Processes are started with fork/exec and waited for by connecting to
 * their port (an event, not a fixed sleep); every wait has a deadline.
 */
#ifndef CORRAL_TEST_HARNESS_H
#define CORRAL_TEST_HARNESS_H

#include <check.h>
#include <hiredis/hiredis.h>
#include <sys/types.h>

struct proc {
    pid_t pid;
    int port;
    char conf[256];     /* corral: path of its config file */
    char log[256];      /* stderr of the process */
};

/* A free TCP port on 127.0.0.1. */
int h_free_port(void);

/* Start redis-server on port (0 = pick one). Returns 0 when it accepts
 * connections within 10 s. */
int h_redis_start(struct proc *p, int port);

/* Start corral in front of upstream port, with extra YAML appended to the
 * generated config (may be NULL). stats_port > 0 enables the stats port.
 * Returns 0 when it accepts connections and answers PING through to Redis
 * (when the upstream is up) within 10 s; with clients.password set, a
 * NOAUTH answer to PING counts as ready. */
int h_corral_start(struct proc *p, int upstream_port, int stats_port,
                   const char *extra_yaml);

/* Send sig and wait for the process to exit (up to 10 s, then SIGKILL).
 * Returns its exit status, or -1. */
int h_stop(struct proc *p, int sig);

/* Connect to a port; NULL on failure. */
redisContext *h_connect(int port);

/* Run a command and expect a status/string reply equal to want; returns 1
 * when it matches. */
int h_cmd_is(redisContext *c, const char *want, const char *fmt, ...);

/* Integer reply of a command, or LLONG_MIN. */
long long h_cmd_int(redisContext *c, const char *fmt, ...);

/* The count of calls of a command in upstream INFO commandstats
 * ("cmdstat_get" -> calls=N). */
long long h_cmdstat(int redis_port, const char *cmd);

/* Directory for temporary files of this test run. */
const char *h_tmpdir(void);

/* Milliseconds on the monotonic clock. */
long long h_now_ms(void);

/* Wait until fn(arg) returns non-zero, polling every ms milliseconds, for
 * at most timeout_ms. Returns 1 when it did. */
int h_wait_until(int (*fn)(void *), void *arg, int timeout_ms);

/* ---- processes across check's forks ----
 * check runs every test in a forked child and kills that child's process
 * group when the test ends. A test that restarts Redis therefore starts the
 * new server in a process group of its own (h_redis_restart), and the test
 * program, made the reaper of orphaned descendants (h_reaper_init), can stop
 * it later with h_stop. Keep the struct proc of such a server in memory
 * shared with the forked tests (mmap MAP_SHARED) so its new pid is seen. */

/* Make this process the reaper of orphaned descendants. Call once from
 * main(), before running the tests. Returns 0, or -1. */
int h_reaper_init(void);

/* Send sig to p, which may have been started by another process of the test
 * run, and wait up to 10 s until it has exited (a zombie counts; it is reaped
 * when it is our child). Clears p->pid. Returns 0, or -1 when still alive. */
int h_kill(struct proc *p, int sig);

/* Start a new redis-server on p->port (after h_kill), in a process group of
 * its own so it outlives the test that started it. Returns 0 when it accepts
 * connections within 10 s. */
int h_redis_restart(struct proc *p);

/* Wait until PING on port answers PONG (through corral: Redis is reachable),
 * for at most timeout_ms. Returns 1 when it did. */
int h_wait_pong(int port, int timeout_ms);

/* Start corral with a config file whose whole text is yaml (nothing
 * generated), listening on port, which is stored in p->port; does not wait
 * for anything. Returns 0 when the process was started. */
int h_corral_spawn(struct proc *p, int port, const char *yaml);

/* Wait up to timeout_ms for p (our child) to exit. Returns its exit status
 * (as h_stop), or -1 when it is still running (it is left running). */
int h_wait_exit(struct proc *p, int timeout_ms);

/* ---- requests without waiting, replies with a deadline, counters ---- */

/* Send one command through c, flushed, without reading its reply.
 * Returns 0, or -1. */
int h_send(redisContext *c, const char *fmt, ...);

/* The next reply on c when it arrives within timeout_ms, else NULL (also on
 * a connection error). The caller frees it with freeReplyObject. */
redisReply *h_reply_within(redisContext *c, int timeout_ms);

/* A numeric field of upstream INFO ("keyspace_hits"), or LLONG_MIN. */
long long h_info_int(int redis_port, const char *field);

/* The value of a metric on corral's stats port (/metrics), named exactly as
 * printed, labels included: corral_lease_waiting or
 * corral_requests_total{class="hit"}. -1 when absent or unreachable. */
long long h_metric(int stats_port, const char *name);

/* GET path over HTTP/1.0 from 127.0.0.1:port: the whole response (status
 * line, headers, body; malloc'd, NUL-terminated) and its status code, or
 * NULL. */
char *h_http_get(int port, const char *path, int *status);

/* ---- raw client sockets, Redis's client list, external programs ---- */

/* A client socket with a reply parser, for bytes hiredis would not send
 * (inline commands, split or malformed requests). */
struct h_raw {
    int fd;
    redisReader *rd;
};

/* Connect to 127.0.0.1:port (TCP_NODELAY). Returns 0, or -1. */
int h_raw_open(struct h_raw *w, int port);
void h_raw_close(struct h_raw *w);

/* Write all len bytes. Returns 0, or -1. */
int h_raw_send(struct h_raw *w, const void *buf, size_t len);

/* The next reply within timeout_ms, or NULL (timeout, EOF, reset, bytes
 * that are not RESP). Freed with freeReplyObject. */
redisReply *h_raw_reply(struct h_raw *w, int timeout_ms);

/* Did the peer close the connection within timeout_ms without sending
 * another reply? */
int h_raw_closed(struct h_raw *w, int timeout_ms);

/* Nothing has arrived that was not read yet (no reply pending). */
int h_raw_quiet(struct h_raw *w);

/* Count the connections in Redis's CLIENT LIST, asked on rc, whose last
 * command is cmd (NULL: any), which are blocked (flag b) when blocked is
 * set, and in a MULTI when in_multi is set. -1 on error. */
int h_redis_clients(redisContext *rc, const char *cmd, int blocked,
                    int in_multi);

/* Wait up to timeout_ms until h_redis_clients(...) == want. Returns 1 when
 * it did. */
int h_wait_clients(redisContext *rc, const char *cmd, int blocked,
                   int in_multi, int want, int timeout_ms);

/* Run a shell command, its stdout in out (NUL-terminated, truncated to
 * outlen, which must be at least 1). Returns its exit status, or -1. */
int h_run(const char *command, char *out, size_t outlen);

/* Resident memory of a process in kB (VmRSS), or -1. */
long long h_rss_kb(pid_t pid);

/* ---- replies, the cache, the invalidation connection, metrics ---- */

/* Does rep read as want: a string or status equal to want, or nil when
 * want is NULL? Prints what it got when not. Frees rep; NULL reads as
 * nothing (0). */
int h_reply_is(redisReply *rep, const char *want);

/* Wait up to timeout_ms until GET key through c answers want (NULL: nil)
 * from corral's cache: the reply is want and Redis on redis_port counted
 * no GET for it (INFO commandstats). Returns 1 when it did. */
int h_wait_cached(redisContext *c, int redis_port, const char *key,
                  const char *want, int timeout_ms);

/* The id of corral's invalidation connection (the subscribed one) in
 * Redis's CLIENT LIST, asked on rc, or 0. */
long long h_subscriber_id(redisContext *rc);

/* Wait up to timeout_ms until metric name on corral's stats port (as
 * h_metric) is at least min. Returns 1 when it was. */
int h_metric_wait(int stats_port, const char *name, long long min,
                  int timeout_ms);

/* ---- the processes of one test ----
 * Suites whose tests each start their own Redis and corral (a checked
 * fixture) keep them in a struct h_world at file scope: a failed assertion
 * ends the test process, and an exit handler then kills what it started.
 * The functions marked "asserts" fail the running test (check) rather than
 * return an error, and are called only from inside a test. */

struct h_world {
    struct proc redis, corral;
    int stats;                  /* corral's stats port (h_world_start) */
};

/* For the fixture's setup: clear w and have h_world_kill(w) run when the
 * test process exits. */
void h_world_setup(struct h_world *w);

/* Kill (SIGKILL) and reap w's corral, then its Redis, where running;
 * clears their pids. For the fixture's teardown. */
void h_world_kill(struct h_world *w);

/* Start Redis and corral with a stats port, extra YAML appended to
 * corral's config (may be NULL), and wait until corral's cache is live (a
 * value written to Redis is then served from it). Asserts. */
void h_world_start(struct h_world *w, const char *extra);

/* A connection to w's Redis / w's corral. Asserts. */
redisContext *h_world_redis(struct h_world *w);
redisContext *h_world_corral(struct h_world *w);

/* ---- test programs ---- */

/* Raise this process's soft open-file limit to its hard limit (tests with
 * many client sockets). */
void h_raise_nofile(void);

/* Run every test of s (CK_NORMAL) and free it. Returns main's exit status:
 * 0 when all passed, else 1. */
int h_run_suite(Suite *s);

#endif
