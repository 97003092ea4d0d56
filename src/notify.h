/*
 * notify.h — readiness, reload and watchdog notifications to the service
 * manager (the sd_notify datagram protocol, spoken directly).
 *
 * Each notification is one datagram of "VARIABLE=value" lines sent to the
 * AF_UNIX socket named by $NOTIFY_SOCKET: a filesystem path starting with
 * '/', or an abstract socket name written with a leading '@'. The
 * environment is read on every call and nothing is kept between calls: no
 * socket stays open, no state is global.
 *
 * Without systemd (NOTIFY_SOCKET unset or empty) every call is a no-op that
 * returns 0, so corral runs the same in a terminal. Sending never blocks: a
 * receiver whose queue is full makes the call fail (-1, errno EAGAIN)
 * instead of stalling the event loop.
 *
 * All functions return 0 when the datagram was sent (or there is nothing to
 * send to) and -1 with errno set on error; an error is worth a log line but
 * never fatal. Call them from the event loop, not from a signal handler.
 */
#ifndef CORRAL_NOTIFY_H
#define CORRAL_NOTIFY_H

#include <stdint.h>

/* Send state verbatim as one datagram (e.g. "READY=1" or
 * "STATUS=x\nWATCHDOG=1"). state must be non-empty (else -1, EINVAL, even
 * without NOTIFY_SOCKET). -1 with EINVAL also when NOTIFY_SOCKET is neither
 * an absolute path nor '@' followed by a name, ENAMETOOLONG when it does not
 * fit a socket address, and the errno of socket()/sendmsg() otherwise (e.g.
 * ENOENT, ECONNREFUSED, EAGAIN). */
int notify_send(const char *state);

/* "READY=1", followed by "STATUS=<status>" when status is non-NULL. Any
 * newline in status is sent as a space (it cannot inject another variable);
 * status is truncated to fit a 512-byte datagram. */
int notify_ready(const char *status);

/* "RELOADING=1" and "MONOTONIC_USEC=<CLOCK_MONOTONIC now, in microseconds>",
 * as Type=notify-reload expects at the start of a reload. Follow with
 * notify_ready() when the reload is done (whether it applied or not). */
int notify_reloading(void);

/* "STOPPING=1": graceful shutdown has begun. */
int notify_stopping(void);

/* "STATUS=<printf-formatted text>", newlines sent as spaces, truncated to
 * fit a 512-byte datagram. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "WATCHDOG=1": keep-alive; send it every notify_watchdog_usec() / 2. */
int notify_watchdog(void);

/* The watchdog interval the service manager expects, in microseconds, from
 * $WATCHDOG_USEC; 0 (watchdog off) when it is unset, empty, not a positive
 * decimal number, or when $WATCHDOG_PID is set and is not this process's
 * pid (the variable was meant for another process). */
uint64_t notify_watchdog_usec(void);

#endif
