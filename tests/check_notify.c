/*
 * check_notify.c — unit tests for notify.c: datagrams arrive at
 * $NOTIFY_SOCKET (path and abstract) with the right contents and in order,
 * nothing is sent without it, bad addresses and a full receiver fail without
 * blocking, and the watchdog environment is parsed strictly.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

/* A bound receiving socket; each test runs in its own process (fork mode),
 * so the environment changes do not leak between tests. */
struct receiver {
    int fd;
    char dir[64];
    char path[128];
};

static void receiver_open_path(struct receiver *r)
{
    struct sockaddr_un sa;

    snprintf(r->dir, sizeof(r->dir), "/tmp/check_notify.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r->dir));
    snprintf(r->path, sizeof(r->path), "%s/notify", r->dir);
    r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r->fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, r->path);
    ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", r->path, 1), 0);
}

/* Binds "\0name" and sets NOTIFY_SOCKET to "@name". */
static void receiver_open_abstract(struct receiver *r)
{
    struct sockaddr_un sa;
    char name[64];
    size_t len;

    r->dir[0] = '\0';
    snprintf(name, sizeof(name), "corral-check-notify-%ld-%ld",
             (long)getpid(), (long)time(NULL));
    len = strlen(name);
    r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r->fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path + 1, name, len);
    ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&sa,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)),
                     0);
    snprintf(r->path, sizeof(r->path), "@%s", name);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", r->path, 1), 0);
}

static void receiver_close(struct receiver *r)
{
    close(r->fd);
    if (r->dir[0] != '\0') {
        unlink(r->path);
        rmdir(r->dir);
    }
}

/* The next queued datagram, NUL-terminated; fails the test when none is
 * queued (sends are synchronous, so nothing can still be on its way). */
static void receiver_next(struct receiver *r, char *buf, size_t size)
{
    ssize_t n = recv(r->fd, buf, size - 1, MSG_DONTWAIT);

    ck_assert_msg(n >= 0, "no datagram queued: %s", strerror(errno));
    buf[n] = '\0';
}

static void receiver_assert_empty(struct receiver *r)
{
    char buf[16];
    ssize_t n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);

    ck_assert_int_eq(n, -1);
    ck_assert_int_eq(errno, EAGAIN);
}

static uint64_t now_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Checks a RELOADING datagram and that its timestamp lies in [lo, hi]. */
static void assert_reloading(const char *msg, uint64_t lo, uint64_t hi)
{
    static const char head[] = "RELOADING=1\nMONOTONIC_USEC=";
    unsigned long long t;
    char *end;

    ck_assert_msg(strncmp(msg, head, sizeof(head) - 1) == 0, "got '%s'", msg);
    ck_assert(msg[sizeof(head) - 1] >= '0' && msg[sizeof(head) - 1] <= '9');
    errno = 0;
    t = strtoull(msg + sizeof(head) - 1, &end, 10);
    ck_assert_int_eq(errno, 0);
    ck_assert_msg(*end == '\0', "trailing bytes in '%s'", msg);
    ck_assert_msg(t >= lo && t <= hi, "MONOTONIC_USEC=%llu not in [%llu, %llu]",
                  t, (unsigned long long)lo, (unsigned long long)hi);
}

/* The lifecycle sequence, in order, as the service manager sees it. */
static void check_sequence(struct receiver *r)
{
    char buf[512];
    uint64_t lo, hi;

    ck_assert_int_eq(notify_ready(NULL), 0);
    lo = now_usec();
    ck_assert_int_eq(notify_reloading(), 0);
    hi = now_usec();
    ck_assert_int_eq(notify_ready("reloaded"), 0);
    ck_assert_int_eq(notify_watchdog(), 0);
    ck_assert_int_eq(notify_stopping(), 0);

    receiver_next(r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "READY=1");
    receiver_next(r, buf, sizeof(buf));
    assert_reloading(buf, lo, hi);
    receiver_next(r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "READY=1\nSTATUS=reloaded");
    receiver_next(r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "WATCHDOG=1");
    receiver_next(r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "STOPPING=1");
    receiver_assert_empty(r);
}

START_TEST(test_path_socket_sequence)
{
    struct receiver r;

    receiver_open_path(&r);
    check_sequence(&r);
    receiver_close(&r);
}
END_TEST

START_TEST(test_abstract_socket_sequence)
{
    struct receiver r;

    receiver_open_abstract(&r);
    check_sequence(&r);
    receiver_close(&r);
}
END_TEST

START_TEST(test_send_verbatim)
{
    struct receiver r;
    char buf[512];

    receiver_open_path(&r);
    ck_assert_int_eq(notify_send("STATUS=a\nWATCHDOG=1"), 0);
    receiver_next(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "STATUS=a\nWATCHDOG=1");
    receiver_close(&r);
}
END_TEST

START_TEST(test_status_format_and_newlines)
{
    struct receiver r;
    char buf[1024];
    char big[2000];

    receiver_open_path(&r);
    ck_assert_int_eq(notify_status("serving %d clients on %s", 3, "127.0.0.1:6380"), 0);
    receiver_next(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "STATUS=serving 3 clients on 127.0.0.1:6380");

    /* A newline must not start another variable (e.g. a forged READY=1). */
    ck_assert_int_eq(notify_status("bad\nREADY=1\r"), 0);
    receiver_next(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "STATUS=bad READY=1 ");
    ck_assert_int_eq(notify_ready("x\nSTOPPING=1"), 0);
    receiver_next(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "READY=1\nSTATUS=x STOPPING=1");

    /* Oversized status text is truncated, still one datagram. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(notify_ready(big), 0);
    receiver_next(&r, buf, sizeof(buf));
    ck_assert_uint_eq(strlen(buf), 511);
    ck_assert(strncmp(buf, "READY=1\nSTATUS=aaaa", 19) == 0);
    ck_assert_int_eq(notify_status("%s", big), 0);
    receiver_next(&r, buf, sizeof(buf));
    ck_assert_uint_eq(strlen(buf), 511);
    ck_assert(strncmp(buf, "STATUS=aaaa", 11) == 0);
    receiver_assert_empty(&r);
    receiver_close(&r);
}
END_TEST

START_TEST(test_unset_is_noop)
{
    struct receiver r;

    receiver_open_path(&r);
    ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
    ck_assert_int_eq(notify_ready("up"), 0);
    ck_assert_int_eq(notify_reloading(), 0);
    ck_assert_int_eq(notify_stopping(), 0);
    ck_assert_int_eq(notify_status("%d", 1), 0);
    ck_assert_int_eq(notify_watchdog(), 0);
    ck_assert_int_eq(notify_send("READY=1"), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
    ck_assert_int_eq(notify_ready(NULL), 0);
    receiver_assert_empty(&r);
    receiver_close(&r);
}
END_TEST

START_TEST(test_empty_state_rejected)
{
    struct receiver r;

    receiver_open_path(&r);
    errno = 0;
    ck_assert_int_eq(notify_send(""), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(notify_send(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    receiver_assert_empty(&r);
    receiver_close(&r);
}
END_TEST

START_TEST(test_bad_addresses)
{
    char longpath[300];

    /* Nobody listening there. */
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", "/nonexistent/corral/notify", 1), 0);
    ck_assert_int_eq(notify_ready(NULL), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", "@corral-check-notify-nobody-listens", 1), 0);
    ck_assert_int_eq(notify_ready(NULL), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);

    /* Relative paths and an empty abstract name are not addresses. */
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", "run/notify", 1), 0);
    ck_assert_int_eq(notify_stopping(), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", "@", 1), 0);
    ck_assert_int_eq(notify_stopping(), -1);
    ck_assert_int_eq(errno, EINVAL);

    /* Too long for sun_path: refused, not truncated to another address. */
    longpath[0] = '/';
    memset(longpath + 1, 'x', sizeof(longpath) - 2);
    longpath[sizeof(longpath) - 1] = '\0';
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", longpath, 1), 0);
    ck_assert_int_eq(notify_watchdog(), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    longpath[0] = '@';
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", longpath, 1), 0);
    ck_assert_int_eq(notify_watchdog(), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

/* Binds a receiver at an address whose sun_path part is exactly max bytes
 * long (the most that fits), then one byte longer, which must be refused. */
START_TEST(test_longest_addresses)
{
    struct sockaddr_un sa;
    struct receiver r;
    char name[sizeof(sa.sun_path) + 2];
    char buf[64];
    size_t max = sizeof(sa.sun_path) - 1;   /* abstract: bytes after the NUL */
    size_t n;

    /* Abstract name using every byte of sun_path. */
    r.dir[0] = '\0';
    n = (size_t)snprintf(name, sizeof(name), "@corral-%ld-", (long)getpid());
    memset(name + n, 'n', max + 1 - n);
    name[max + 1] = '\0';
    r.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r.fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path + 1, name + 1, max);
    ck_assert_int_eq(bind(r.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
    ck_assert_int_eq(notify_watchdog(), 0);
    receiver_next(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "WATCHDOG=1");
    name[max + 1] = 'n';
    name[max + 2] = '\0';
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
    ck_assert_int_eq(notify_watchdog(), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    receiver_assert_empty(&r);
    close(r.fd);

    /* Filesystem path of max bytes (its NUL takes the last byte). */
    snprintf(r.dir, sizeof(r.dir), "/tmp/check_notify.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r.dir));
    n = (size_t)snprintf(name, sizeof(name), "%s/", r.dir);
    memset(name + n, 'p', max - n);
    name[max] = '\0';
    ck_assert_uint_lt(strlen(name), sizeof(r.path));
    strcpy(r.path, name);
    r.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r.fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, max + 1);
    ck_assert_int_eq(bind(r.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
    ck_assert_int_eq(notify_stopping(), 0);
    receiver_next(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "STOPPING=1");
    name[max] = 'p';
    name[max + 1] = '\0';
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
    ck_assert_int_eq(notify_stopping(), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    receiver_assert_empty(&r);
    receiver_close(&r);
}
END_TEST

START_TEST(test_full_receiver_does_not_block)
{
    struct receiver r;
    int small = 1024, i, rc = 0, sent = 0;

    receiver_open_path(&r);
    ck_assert_int_eq(setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    /* Nobody reads: the queue fills and the next send must fail at once. */
    for (i = 0; i < 100000; i++) {
        rc = notify_watchdog();
        if (rc != 0)
            break;
        sent++;
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_gt(sent, 0);
    receiver_close(&r);
}
END_TEST

START_TEST(test_watchdog_usec)
{
    ck_assert_int_eq(unsetenv("WATCHDOG_USEC"), 0);
    ck_assert_int_eq(unsetenv("WATCHDOG_PID"), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), 0);

    ck_assert_int_eq(setenv("WATCHDOG_USEC", "30000000", 1), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), 30000000u);
    ck_assert_int_eq(setenv("WATCHDOG_USEC", "18446744073709551615", 1), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), UINT64_MAX);

    /* Malformed values turn the watchdog off rather than guessing. */
    static const char *const bad[] = {
        "", "0x10", "12abc", "-5", " 5", "5 ", "+5", "18446744073709551616",
        "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(setenv("WATCHDOG_USEC", bad[i], 1), 0);
        ck_assert_msg(notify_watchdog_usec() == 0, "WATCHDOG_USEC='%s'", bad[i]);
    }
    ck_assert_int_eq(setenv("WATCHDOG_USEC", "0", 1), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), 0);
}
END_TEST

START_TEST(test_watchdog_pid)
{
    char pid[32];

    ck_assert_int_eq(setenv("WATCHDOG_USEC", "20000000", 1), 0);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    ck_assert_int_eq(setenv("WATCHDOG_PID", pid, 1), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), 20000000u);

    /* Meant for another process (e.g. inherited by a child). */
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    ck_assert_int_eq(setenv("WATCHDOG_PID", pid, 1), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), 0);
    ck_assert_int_eq(setenv("WATCHDOG_PID", "", 1), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), 0);
    ck_assert_int_eq(setenv("WATCHDOG_PID", "self", 1), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), 0);

    ck_assert_int_eq(unsetenv("WATCHDOG_PID"), 0);
    ck_assert_uint_eq(notify_watchdog_usec(), 20000000u);
}
END_TEST

static Suite *notify_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_path_socket_sequence);
    tcase_add_test(tc, test_abstract_socket_sequence);
    tcase_add_test(tc, test_send_verbatim);
    tcase_add_test(tc, test_status_format_and_newlines);
    tcase_add_test(tc, test_unset_is_noop);
    tcase_add_test(tc, test_empty_state_rejected);
    tcase_add_test(tc, test_bad_addresses);
    tcase_add_test(tc, test_longest_addresses);
    tcase_add_test(tc, test_full_receiver_does_not_block);
    tcase_add_test(tc, test_watchdog_usec);
    tcase_add_test(tc, test_watchdog_pid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(notify_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
