/*
 * faultlib.h — helpers of the fault suites (check_faults_upstream.c,
 * check_faults_clients.c): blocking loopback sockets, a raw connection
 * with a RESP reply reader that is safe to use in threads, pipelines of
 * one command, and a corral started from a generated config.
 *
 * Nothing here asserts: every function reports failure by its result.
 */
#ifndef CORRAL_TEST_FAULTLIB_H
#define CORRAL_TEST_FAULTLIB_H

#include <check.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

#include "harness.h"

/* ---- sockets ---- */

/* A blocking TCP connection to 127.0.0.1:port (close-on-exec), or -1.
 * rcvbuf > 0 sets a small receive buffer before connecting. */
int fl_tcp_connect(int port, int rcvbuf);

/* Write all len bytes (no SIGPIPE). Returns 0, or -1. */
int fl_send_all(int fd, const char *buf, size_t len);

/* Wait up to ms (negative: not at all) for fd to become readable. Returns
 * 1 when it did. */
int fl_wait_readable(int fd, long long ms);

/* A raw connection with a RESP reply reader. */
struct fl_conn {
    int fd;
    redisReader *rd;
    int eof;                    /* EOF or reset seen */
};

/* Connect to 127.0.0.1:port (rcvbuf as fl_tcp_connect). Returns 0, or -1
 * (rc->fd is then -1). */
int fl_conn_open(struct fl_conn *rc, int port, int rcvbuf);

/* Close and free; rc may be closed already. */
void fl_conn_close(struct fl_conn *rc);

/* The next reply, or NULL at the deadline (h_now_ms), on EOF or on a
 * protocol error. The caller frees it with freeReplyObject. */
redisReply *fl_conn_next(struct fl_conn *rc, long long deadline_ms);

/* ---- requests and values ---- */

/* A malloc'd buffer of n copies of one command (argc words of argv) in
 * RESP, its length in *len. NULL when out of memory or the command is
 * longer than 4 KB. */
char *fl_repeat_cmd(int n, size_t *len, int argc, const char **argv);

/* The decimal string value of a key (as INCR leaves it), or -1 when
 * absent or not a number. */
long long fl_get_number(redisContext *c, const char *key);

/* ---- processes ---- */

/* Is our child p still running (not exited, not a zombie)? */
int fl_running(struct proc *p);

/* Start corral in front of 127.0.0.1:upstream_port. up_extra: more lines of
 * the upstream section ("  timeout: 500ms\n"); extra: more top-level YAML
 * (both may be NULL). stats_port > 0 enables the stats port. With pong
 * set, waits until PING answers PONG; otherwise only until the port
 * accepts. Returns 0 when ready within 10 s, else -1. */
int fl_corral_up(struct proc *p, int upstream_port, int stats_port,
                 const char *up_extra, const char *extra, int pong);

/* ---- the test program ---- */

/* Ignore SIGPIPE, give the children a small AddressSanitizer quarantine
 * (unless ASAN_OPTIONS chooses one), and run s (h_run_suite). Returns
 * main's exit status. */
int fl_run(Suite *s);

#endif
