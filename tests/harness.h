/*
 * harness.h — integration test harness: starts real redis-server and corral
 * processes on free loopback ports, and connects hiredis clients to them.
 *
 * Processes are started with fork/exec and waited for by connecting to
 * their port (an event, not a fixed sleep); every wait has a deadline.
 */
#ifndef CORRAL_TEST_HARNESS_H
#define CORRAL_TEST_HARNESS_H

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
 * (when the upstream is up) within 10 s. */
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

#endif
