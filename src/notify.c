/*
 * notify.c — sd_notify datagrams to the service manager (see notify.h).
 *
 * One short-lived non-blocking AF_UNIX datagram socket per notification:
 * notifications are rare (start, reload, stop, a watchdog ping every few
 * seconds), so keeping a socket open would buy nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

/* Largest datagram built by the helpers below (notify_send takes any). */
#define NOTIFY_MSG_MAX 512

/* Fill *sa from $NOTIFY_SOCKET's value. Returns the address length, or -1
 * with errno set when the value is not a usable address. */
static int notify_addr(const char *path, struct sockaddr_un *sa)
{
    size_t len = strlen(path);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (path[0] == '/') {
        if (len >= sizeof(sa->sun_path)) {     /* the NUL must fit too */
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(sa->sun_path, path, len + 1);
        return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    if (path[0] == '@') {
        /* Abstract namespace: a leading NUL, then exactly the name bytes. */
        if (len < 2) {
            errno = EINVAL;
            return -1;
        }
        if (len > sizeof(sa->sun_path)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        sa->sun_path[0] = '\0';
        memcpy(sa->sun_path + 1, path + 1, len - 1);
        return (int)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    errno = EINVAL;
    return -1;
}

int notify_send(const char *state)
{
    struct sockaddr_un sa;
    const char *path;
    size_t len;
    ssize_t n;
    int salen, fd, err;

    if (state == NULL || state[0] == '\0') {
        errno = EINVAL;
        return -1;
    }
    path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return 0;
    salen = notify_addr(path, &sa);
    if (salen < 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    len = strlen(state);
    n = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)salen);
    err = errno;
    close(fd);
    if (n < 0) {
        errno = err;
        return -1;
    }
    if ((size_t)n != len) {                    /* datagrams are all or nothing */
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

/* Send head followed by text, with text's newlines turned into spaces and
 * the whole truncated to NOTIFY_MSG_MAX - 1 bytes. */
static int notify_text(const char *head, const char *text)
{
    char msg[NOTIFY_MSG_MAX];
    size_t n = strlen(head), i;

    if (n >= sizeof(msg)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(msg, head, n);
    for (i = 0; text[i] != '\0' && n < sizeof(msg) - 1; i++)
        msg[n++] = (text[i] == '\n' || text[i] == '\r') ? ' ' : text[i];
    msg[n] = '\0';
    return notify_send(msg);
}

int notify_ready(const char *status)
{
    if (status == NULL)
        return notify_send("READY=1");
    return notify_text("READY=1\nSTATUS=", status);
}

int notify_reloading(void)
{
    char msg[64];
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return -1;
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL +
                 (unsigned long long)ts.tv_nsec / 1000ULL);
    return notify_send(msg);
}

int notify_stopping(void)
{
    return notify_send("STOPPING=1");
}

int notify_status(const char *fmt, ...)
{
    char text[NOTIFY_MSG_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0) {
        errno = EINVAL;
        return -1;
    }
    return notify_text("STATUS=", text);
}

int notify_watchdog(void)
{
    return notify_send("WATCHDOG=1");
}

/* Parse a non-empty string of decimal digits that fits in 64 bits. */
static int notify_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || *s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        unsigned d;

        if (*s < '0' || *s > '9')
            return -1;
        d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

uint64_t notify_watchdog_usec(void)
{
    const char *pid = getenv("WATCHDOG_PID");
    uint64_t usec, p;

    if (pid != NULL) {
        if (notify_parse_u64(pid, &p) != 0 || p != (uint64_t)getpid())
            return 0;
    }
    if (notify_parse_u64(getenv("WATCHDOG_USEC"), &usec) != 0)
        return 0;
    return usec;
}
