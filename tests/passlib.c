/*
 * passlib.c — see passlib.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "passlib.h"

static struct pl_fixture *fx;   /* shared with the forked tests */

/* ---- the test program ---- */

struct pl_fixture *pl_init(const char *prog)
{
    fx = mmap(NULL, sizeof(*fx), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (fx == MAP_FAILED || h_reaper_init() < 0) {
        perror(prog);
        if (fx != MAP_FAILED)
            munmap(fx, sizeof(*fx));
        fx = NULL;
        return NULL;
    }
    signal(SIGPIPE, SIG_IGN);
    return fx;
}

void pl_setup(void)
{
    memset(fx, 0, sizeof(*fx));
    ck_assert_msg(h_redis_start(&fx->redis, 0) == 0,
                  "redis-server did not start");
    ck_assert_msg(h_corral_start(&fx->corral, fx->redis.port, 0, NULL) == 0,
                  "corral did not start (log %s)", fx->corral.log);
}

void pl_teardown(void)
{
    if (fx->corral.pid > 0)
        h_stop(&fx->corral, SIGTERM);
    if (fx->redis.pid > 0)
        h_stop(&fx->redis, SIGTERM);
    /* a Redis a test killed (h_kill) is a zombie child of ours */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        continue;
}

int pl_run(Suite *s)
{
    int rc = h_run_suite(s);

    munmap(fx, sizeof(*fx));
    fx = NULL;
    return rc;
}

/* ---- clients and replies ---- */

redisContext *pl_via_corral(void)
{
    redisContext *c = h_connect(fx->corral.port);

    ck_assert_msg(c != NULL, "cannot connect to corral");
    return c;
}

redisContext *pl_to_redis(void)
{
    redisContext *c = h_connect(fx->redis.port);

    ck_assert_msg(c != NULL, "cannot connect to redis");
    return c;
}

int pl_is_err(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           strncmp(r->str, prefix, strlen(prefix)) == 0;
}

void pl_cmd_err(redisContext *c, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL, "no reply (%s)", c->errstr);
    ck_assert_msg(pl_is_err(r, prefix), "want error '%s...', got type %d '%s'",
                  prefix, r->type, r->str ? r->str : "");
    freeReplyObject(r);
}

void pl_run_threads(void *(*fn)(void *), void *args, size_t size, int n)
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

/* ---- raw clients ---- */

void pl_raw_open(struct h_raw *w, int port)
{
    ck_assert_msg(h_raw_open(w, port) == 0, "connect: %s", strerror(errno));
}

void pl_raw_send(struct h_raw *w, const char *buf, size_t len)
{
    ck_assert_msg(h_raw_send(w, buf, len) == 0, "send: %s", strerror(errno));
}

void pl_raw_expect(struct h_raw *w, const char *want)
{
    redisReply *r = h_raw_reply(w, 5000);
    int err = want[0] == '-';

    ck_assert_msg(r != NULL, "no reply, want '%s'", want);
    ck_assert_msg(err ? r->type == REDIS_REPLY_ERROR
                      : r->type == REDIS_REPLY_STATUS ||
                        r->type == REDIS_REPLY_STRING,
                  "want '%s', got type %d", want, r->type);
    ck_assert_str_eq(r->str, want + err);
    freeReplyObject(r);
}

void pl_raw_expect_protocol_error(struct h_raw *w)
{
    redisReply *r = h_raw_reply(w, 5000);

    ck_assert_msg(pl_is_err(r, "ERR Protocol error"), "got %s",
                  r && r->str ? r->str : "nothing");
    freeReplyObject(r);
    ck_assert_msg(h_raw_closed(w, 5000), "connection left open");
}

/* ---- blocked clients ---- */

int pl_wait_blpops(redisContext *rc, int want)
{
    return h_wait_clients(rc, "blpop", 1, 0, want, 5000);
}
