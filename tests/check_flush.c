/*
 * check_flush.c — unit tests for flush.c: output queued on a socket
 * bufferevent during an event-loop pass reaches the peer by the end of that
 * same pass, in one write, without the write event ever being registered;
 * output the socket cannot take at once keeps the write event until it has
 * drained, and then drops it again.
 */
#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flush.h"
#include "server.h"

struct fixture {
    struct server srv;
    struct flush_entry fe;
    struct bufferevent *bev;
    int peer;                   /* the other end of the socket pair */
    const char *data;           /* queued by queue_cb */
    size_t len;
    int drained;                /* write callbacks seen */
};

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct fixture *f = arg;

    f->drained++;
    flush_drained(&f->fe);
}

static void fixture_open(struct fixture *f, int (*ready)(void *owner))
{
    int sv[2];

    memset(f, 0, sizeof(*f));
    f->srv.base = event_base_new();
    ck_assert_ptr_nonnull(f->srv.base);
    ck_assert_int_eq(flush_init(&f->srv), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    f->peer = sv[1];
    /* as client_accept makes one: a socket bufferevent on an open fd */
    f->bev = bufferevent_socket_new(f->srv.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    ck_assert_ptr_nonnull(f->bev);
    bufferevent_setcb(f->bev, NULL, write_cb, NULL, f);
    ck_assert_int_eq(flush_attach(&f->srv, &f->fe, f->bev, f, ready), 0);
    bufferevent_enable(f->bev, EV_READ);
}

static void fixture_close(struct fixture *f)
{
    flush_detach(&f->fe);
    bufferevent_free(f->bev);
    flush_free(&f->srv);
    event_base_free(f->srv.base);
    close(f->peer);
}

/* Runs inside the loop, as a read callback would: queues the output. */
static void queue_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fixture *f = arg;

    ck_assert_int_eq(evbuffer_add(bufferevent_get_output(f->bev), f->data,
                                  f->len), 0);
}

/* One event-loop pass in which queue_cb queues f->data. */
static void one_pass_queueing(struct fixture *f, const char *data, size_t len)
{
    struct event *ev = event_new(f->srv.base, -1, 0, queue_cb, f);

    ck_assert_ptr_nonnull(ev);
    f->data = data;
    f->len = len;
    event_active(ev, EV_TIMEOUT, 0);
    ck_assert_int_ge(event_base_loop(f->srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
    event_free(ev);
}

START_TEST(written_in_the_same_pass)
{
    struct fixture f;
    char buf[64];
    ssize_t n;

    fixture_open(&f, NULL);
    ck_assert_int_eq(bufferevent_get_enabled(f.bev) & EV_WRITE, 0);
    one_pass_queueing(&f, "+PONG\r\n", 7);
    /* no second pass: the bytes are already at the peer */
    n = recv(f.peer, buf, sizeof(buf), MSG_DONTWAIT);
    ck_assert_int_eq(n, 7);
    ck_assert(memcmp(buf, "+PONG\r\n", 7) == 0);
    ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(f.bev)), 0);
    /* the owner heard that the output drained, and the write event was
       never left registered */
    ck_assert_int_eq(f.drained, 1);
    ck_assert_int_eq(bufferevent_get_enabled(f.bev) & EV_WRITE, 0);

    /* and again, after the bufferevent has been through its own write
       callback once */
    one_pass_queueing(&f, "$1\r\nx\r\n", 7);
    n = recv(f.peer, buf, sizeof(buf), MSG_DONTWAIT);
    ck_assert_int_eq(n, 7);
    ck_assert_int_eq(bufferevent_get_enabled(f.bev) & EV_WRITE, 0);
    fixture_close(&f);
}
END_TEST

START_TEST(leftover_keeps_write_event_until_drained)
{
    struct fixture f;
    size_t big = 4 << 20, got = 0;
    char *data = malloc(big), *buf = malloc(65536);
    size_t i;
    int rounds = 0;

    ck_assert_ptr_nonnull(data);
    ck_assert_ptr_nonnull(buf);
    for (i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    fixture_open(&f, NULL);
    one_pass_queueing(&f, data, big);
    /* more than a socket buffer: the rest waits for the write event */
    ck_assert_uint_gt(evbuffer_get_length(bufferevent_get_output(f.bev)), 0);
    ck_assert_int_ne(bufferevent_get_enabled(f.bev) & EV_WRITE, 0);
    ck_assert_int_eq(f.drained, 0);
    while (got < big) {
        ssize_t n = recv(f.peer, buf, 65536, MSG_DONTWAIT);

        if (n > 0) {
            ck_assert(memcmp(buf, data + got, (size_t)n) == 0);
            got += (size_t)n;
            continue;
        }
        ck_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        ck_assert_int_ge(event_base_loop(f.srv.base, EVLOOP_ONCE), 0);
        ck_assert_int_lt(++rounds, 100000);
    }
    /* the bufferevent wrote the rest; once empty, the owner dropped the
       write event */
    ck_assert_int_eq(event_base_loop(f.srv.base, EVLOOP_NONBLOCK), 0);
    ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(f.bev)), 0);
    ck_assert_int_ge(f.drained, 1);
    ck_assert_int_eq(bufferevent_get_enabled(f.bev) & EV_WRITE, 0);
    fixture_close(&f);
    free(data);
    free(buf);
}
END_TEST

static int ready_flag;

static int ready_check(void *owner)
{
    (void)owner;
    return ready_flag;
}

START_TEST(not_ready_waits_for_the_write_event)
{
    struct fixture f;
    char buf[16];
    ssize_t n;

    ready_flag = 0;
    fixture_open(&f, ready_check);
    one_pass_queueing(&f, "+OK\r\n", 5);
    /* not written (as while an upstream connection is connecting) ... */
    n = recv(f.peer, buf, sizeof(buf), MSG_DONTWAIT);
    ck_assert_int_lt(n, 0);
    ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(f.bev)), 5);
    ck_assert_int_ne(bufferevent_get_enabled(f.bev) & EV_WRITE, 0);
    /* ... but not lost either: the write event sends it */
    ready_flag = 1;
    ck_assert_int_ge(event_base_loop(f.srv.base, EVLOOP_ONCE), 0);
    n = recv(f.peer, buf, sizeof(buf), MSG_DONTWAIT);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(bufferevent_get_enabled(f.bev) & EV_WRITE, 0);
    fixture_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flush");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, written_in_the_same_pass);
    tcase_add_test(tc, leftover_keeps_write_event_until_drained);
    tcase_add_test(tc, not_ready_waits_for_the_write_event);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
