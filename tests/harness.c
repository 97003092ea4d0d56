/*
 * harness.c — see harness.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef CORRAL_BIN
#define CORRAL_BIN "../src/corral"
#endif

long long h_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *h_tmpdir(void)
{
    static char dir[128];

    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/corral-test-%ld", (long)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

int h_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static int h_port_open(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int h_wait_until(int (*fn)(void *), void *arg, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;

    for (;;) {
        if (fn(arg))
            return 1;
        if (h_now_ms() > end)
            return 0;
        usleep(5000);
    }
}

static int h_port_ready(void *arg)
{
    return h_port_open(*(int *)arg);
}

static pid_t h_spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int h_redis_start(struct proc *p, int port)
{
    char portstr[16];
    char *argv[] = { "redis-server", "--port", portstr, "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--daemonize", "no",
                     "--protected-mode", "no", NULL };

    if (port == 0)
        port = h_free_port();
    p->port = port;
    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(p->log, sizeof(p->log), "%s/redis-%d.log", h_tmpdir(), port);
    p->pid = h_spawn(argv, p->log);
    if (p->pid < 0)
        return -1;
    return h_wait_until(h_port_ready, &p->port, 10000) ? 0 : -1;
}

int h_corral_start(struct proc *p, int upstream_port, int stats_port,
                   const char *extra_yaml)
{
    const char *bin = getenv("CORRAL_BIN") ? getenv("CORRAL_BIN") : CORRAL_BIN;
    char *argv[] = { (char *)bin, "-c", p->conf, NULL };
    FILE *f;

    p->port = h_free_port();
    snprintf(p->conf, sizeof(p->conf), "%s/corral-%d.yml", h_tmpdir(), p->port);
    snprintf(p->log, sizeof(p->log), "%s/corral-%d.log", h_tmpdir(), p->port);
    f = fopen(p->conf, "w");
    if (!f)
        return -1;
    fprintf(f, "listen: 127.0.0.1:%d\nupstream:\n  address: 127.0.0.1:%d\n",
            p->port, upstream_port);
    if (stats_port > 0)
        fprintf(f, "stats:\n  listen: 127.0.0.1:%d\n", stats_port);
    else
        fprintf(f, "stats:\n  listen: \"\"\n");
    if (extra_yaml)
        fputs(extra_yaml, f);
    fclose(f);
    p->pid = h_spawn(argv, p->log);
    if (p->pid < 0)
        return -1;
    return h_wait_until(h_port_ready, &p->port, 10000) ? 0 : -1;
}

int h_stop(struct proc *p, int sig)
{
    int status;
    long long end = h_now_ms() + 10000;

    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);

        if (r == p->pid)
            break;
        if (h_now_ms() > end) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            p->pid = 0;
            return -1;
        }
        usleep(2000);
    }
    p->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

redisContext *h_connect(int port)
{
    struct timeval tv = { 10, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

int h_cmd_is(redisContext *c, const char *want, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    int ok;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        return 0;
    if (!want)
        ok = r->type == REDIS_REPLY_NIL;
    else
        ok = (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
              r->type == REDIS_REPLY_ERROR) &&
             strcmp(r->str, want) == 0;
    if (!ok) {
        fprintf(stderr, "h_cmd_is: want '%s', got type %d '%s'\n",
                want ? want : "(nil)", r->type, r->str ? r->str : "");
    }
    freeReplyObject(r);
    return ok;
}

long long h_cmd_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v = LLONG_MIN;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    if (r)
        freeReplyObject(r);
    return v;
}

long long h_cmdstat(int redis_port, const char *cmd)
{
    redisContext *c = h_connect(redis_port);
    redisReply *r;
    char key[64];
    long long v = 0;
    const char *p;

    if (!c)
        return -1;
    r = redisCommand(c, "INFO commandstats");
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", cmd);
    if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, key)))
        v = atoll(p + strlen(key));
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return v;
}
