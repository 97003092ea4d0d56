/*
 * passlib.h — the shared fixture and helpers of the pass-through suites
 * (check_passthrough.c, check_passthrough_errors.c): one redis-server and
 * one corral serve a whole suite (an unchecked fixture), hiredis and raw
 * clients to them, and expectations on replies.
 *
 * check forks every test, so the fixture lives in shared memory: a test
 * that restarts Redis records the new process there and the parent stops
 * it. The functions marked "asserts" fail the running test (check) rather
 * than return an error.
 */
#ifndef CORRAL_TEST_PASSLIB_H
#define CORRAL_TEST_PASSLIB_H

#include <check.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

#include "harness.h"

struct pl_fixture {
    struct proc redis;
    struct proc corral;
};

/* ---- the test program ---- */

/* Map the fixture in memory shared with the forked tests, make this
 * process the reaper of orphaned descendants (h_reaper_init) and ignore
 * SIGPIPE. Call once from main(). Returns the fixture, or NULL (after
 * perror(prog)). */
struct pl_fixture *pl_init(const char *prog);

/* The suite's unchecked fixture: start Redis and corral (asserts) / stop
 * them, and reap a Redis a test killed. */
void pl_setup(void);
void pl_teardown(void);

/* Run s (h_run_suite), then unmap the fixture. Returns main's exit
 * status. */
int pl_run(Suite *s);

/* ---- clients and replies ---- */

/* A hiredis connection to corral / straight to Redis. Asserts. */
redisContext *pl_via_corral(void);
redisContext *pl_to_redis(void);

/* Is r an error reply starting with prefix? (r may be NULL.) */
int pl_is_err(const redisReply *r, const char *prefix);

/* Run a command and expect an error reply starting with prefix. Asserts. */
void pl_cmd_err(redisContext *c, const char *prefix, const char *fmt, ...);

/* Start n threads fn(args + i * size) and wait for them all. Asserts. */
void pl_run_threads(void *(*fn)(void *), void *args, size_t size, int n);

/* ---- raw clients (harness.h's h_raw) ---- */

/* h_raw_open / h_raw_send that assert. */
void pl_raw_open(struct h_raw *w, int port);
void pl_raw_send(struct h_raw *w, const char *buf, size_t len);

/* Send a string literal. */
#define PL_RAW_SEND_LIT(w, lit) pl_raw_send(w, lit, sizeof(lit) - 1)

/* Expect the next reply to be a status or string equal to want, or with
 * want starting with "-", an error equal to the rest. Asserts. */
void pl_raw_expect(struct h_raw *w, const char *want);

/* Expect a protocol error, then the connection closed. Asserts. */
void pl_raw_expect_protocol_error(struct h_raw *w);

/* ---- blocked clients ---- */

/* A BLPOP of bq:q that waits forever, in RESP. */
#define PL_BLPOP_FOREVER "*3\r\n$5\r\nBLPOP\r\n$4\r\nbq:q\r\n$1\r\n0\r\n"

/* Wait up to 5 s until Redis (asked on rc) has exactly want clients
 * blocked in BLPOP. Returns 1 when it did. */
int pl_wait_blpops(redisContext *rc, int want);

#endif
