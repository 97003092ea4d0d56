/*
 * server.c — the server instance (see server.h): start-up, the listener,
 * signals, housekeeping, reload and graceful shutdown.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "cache.h"
#include "client.h"
#include "fill.h"
#include "flush.h"
#include "inval.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "stats.h"
#include "upstream.h"

#define SERVER_TICK_MS 100
#define SERVER_SHUTDOWN_GRACE_MS 10000

static const char MAXCLIENTS[] = "-ERR max number of clients reached\r\n";

/* ---- listener ---- */

static void server_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
                             struct sockaddr *sa, int salen, void *arg)
{
    struct server *srv = arg;
    char addr[64];

    if (srv->nclients >= srv->conf.clients.max) {
        ssize_t n;

        metrics_inc(&srv->metrics, CLIENTS_REJECTED);
        n = send(fd, MAXCLIENTS, sizeof(MAXCLIENTS) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
        evutil_closesocket(fd);
        return;
    }
    addr_format(sa, (socklen_t)salen, addr, sizeof(addr));
    if (client_accept(srv, fd, addr) < 0)
        log_error("out of memory accepting a client");
}

static void server_accept_error_cb(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();

    /* EMFILE and friends: keep running, the next accept may succeed */
    log_warn("accept: %s", evutil_socket_error_to_string(err));
}

static struct evconnlistener *server_listen(struct server *srv,
                                            const char *listen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct evconnlistener *l;

    if (addr_parse(listen, &ss, &len) < 0) {
        log_error("listen %s: bad address", listen);
        return NULL;
    }
    if (ss.ss_family == AF_UNIX)
        unlink(((struct sockaddr_un *)&ss)->sun_path);
    l = evconnlistener_new_bind(srv->base, server_accept_cb, srv,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                    LEV_OPT_CLOSE_ON_EXEC,
                                511, (struct sockaddr *)&ss, (int)len);
    if (!l) {
        log_error("listen %s: %s", listen, strerror(errno));
        return NULL;
    }
    evconnlistener_set_error_cb(l, server_accept_error_cb);
    return l;
}

/* Refuse a non-loopback listen address without a password (protected
 * mode). Returns 0 when allowed. */
static int server_protected_ok(const struct conf *conf)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (!conf->clients.protected_mode || conf->clients.password)
        return 0;
    if (addr_parse(conf->listen, &ss, &len) < 0 || addr_is_local(&ss))
        return 0;
    log_error("refusing to listen on non-loopback address %s without "
              "clients.password (set clients.protected: false to allow)",
              conf->listen);
    return -1;
}

/* ---- stats ---- */

static void server_collect(void *arg, struct metrics *m)
{
    struct server *srv = arg;
    struct cache_stats cs;

    cache_get_stats(srv->cache, &cs);
    m->v[M_CACHE_ENTRIES] = cs.entries;
    m->v[M_CACHE_BYTES] = cs.bytes;
    m->v[M_EVICTIONS] = cs.evictions;
    m->v[M_LEASE_WAITING] = srv->lease_waiting;
    m->v[M_CLIENTS_CONNECTED] = (uint64_t)srv->nclients;
    m->v[M_UPSTREAM_CONNECTED] = (uint64_t)upstream_ready_count(srv);
    m->v[M_UPSTREAM_PINNED] = (uint64_t)srv->npinned;
}

static int server_health(void *arg)
{
    return upstream_ready_count(arg) > 0;
}

static int server_stats_start(struct server *srv)
{
    char err[256];

    if (!srv->conf.stats.listen || !srv->conf.stats.listen[0])
        return 0;
    srv->stats = stats_start(srv->base, srv->conf.stats.listen, &srv->metrics,
                             server_collect, server_health, srv, err,
                             sizeof(err));
    if (!srv->stats) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

/* ---- invalidation ---- */

static int server_wants_inval(const struct conf *conf)
{
    return (conf->cache.enabled || conf->lease.enabled) &&
           conf->cache.invalidation != CONF_INVAL_NONE;
}

static int server_inval_start(struct server *srv)
{
    if (!server_wants_inval(&srv->conf)) {
        srv->cache_usable = 1;
        return 0;
    }
    srv->cache_usable = 0;
    srv->inval = inval_start(srv);
    return srv->inval ? 0 : -1;
}

void server_cache_lost(struct server *srv, const char *why)
{
    log_warn("cache flushed: %s", why);
    srv->cache_usable = srv->conf.cache.invalidation == CONF_INVAL_NONE;
    srv->inval_gen++;
    fill_cache_flush(srv);
}

/* ---- housekeeping ---- */

static void server_status(struct server *srv)
{
    notify_status("%ld clients, %d/%d upstream connections, cache %s",
                  srv->nclients, upstream_ready_count(srv), srv->npool,
                  srv->cache_usable ? "live" : "waiting for invalidation channel");
}

static void server_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    uint64_t now_ns = server_now_ns(), now_ms = now_ns / 1000000ULL;
    static const uint64_t second = 1000;

    upstream_tick(srv, now_ns);
    inval_tick(srv->inval, now_ms);
    if (srv->conf.clients.idle_timeout_ms && now_ms % second < SERVER_TICK_MS) {
        struct client *c;

        for (c = srv->clients; c; c = c->next) {
            if (!c->head && !c->stream && !c->dead &&
                now_ms - c->last_active_ms > srv->conf.clients.idle_timeout_ms)
                client_close(c);
        }
    }
    if (srv->watchdog_usec &&
        now_ms - srv->last_watchdog_ms >= srv->watchdog_usec / 2000) {
        notify_watchdog();
        server_status(srv);
        srv->last_watchdog_ms = now_ms;
    }
    if (srv->shutting_down && srv->nclients == 0)
        event_base_loopexit(srv->base, NULL);
}

static void server_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;

    client_reap(srv);
    if (srv->shutting_down && srv->nclients == 0)
        event_base_loopexit(srv->base, NULL);
}

/* ---- shutdown ---- */

static void server_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;

    log_warn("shutdown deadline reached with %ld clients still busy",
             srv->nclients);
    event_base_loopexit(srv->base, NULL);
}

static void server_shutdown(struct server *srv)
{
    struct client *c, *next;
    struct timeval tv = { SERVER_SHUTDOWN_GRACE_MS / 1000, 0 };

    if (srv->shutting_down) {
        log_info("second signal: exiting now");
        event_base_loopexit(srv->base, NULL);
        return;
    }
    srv->shutting_down = 1;
    notify_stopping();
    log_info("shutting down: finishing requests of %ld clients", srv->nclients);
    if (srv->listener) {
        evconnlistener_free(srv->listener);
        srv->listener = NULL;
    }
    fill_release_all(srv);
    for (c = srv->clients; c; c = next) {
        next = c->next;
        if (c->stream)
            client_close(c);
        else
            client_close_when_flushed(c);
    }
    srv->shutdown_timer = evtimer_new(srv->base, server_deadline_cb, srv);
    if (srv->shutdown_timer)
        evtimer_add(srv->shutdown_timer, &tv);
    if (srv->nclients == 0)
        event_base_loopexit(srv->base, NULL);
}

static void server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;

    if (sig == SIGHUP)
        server_reload(srv);
    else
        server_shutdown(srv);
}

/* ---- reload ---- */

static int server_str_changed(const char *a, const char *b)
{
    if (!a || !b)
        return a != b;
    return strcmp(a, b) != 0;
}

void server_reload(struct server *srv)
{
    struct conf nc, old;
    char err[512];
    struct client *c;
    struct stats *new_stats = NULL;
    int upstream_changed, listen_changed, stats_changed, inval_changed;

    notify_reloading();
    if (conf_defaults(&nc) < 0 ||
        conf_load_file(&nc, srv->conf_path, err, sizeof(err)) < 0) {
        log_error("reload rejected, keeping the running configuration: %s", err);
        conf_free(&nc);
        notify_ready("reload rejected");
        return;
    }
    if (server_protected_ok(&nc) < 0) {
        log_error("reload rejected, keeping the running configuration");
        conf_free(&nc);
        notify_ready("reload rejected");
        return;
    }
    upstream_changed =
        server_str_changed(nc.upstream.address, srv->conf.upstream.address) ||
        server_str_changed(nc.upstream.username, srv->conf.upstream.username) ||
        server_str_changed(nc.upstream.password, srv->conf.upstream.password) ||
        nc.upstream.connections != srv->conf.upstream.connections;
    listen_changed = server_str_changed(nc.listen, srv->conf.listen);
    stats_changed = server_str_changed(nc.stats.listen, srv->conf.stats.listen);
    /* tracking cannot switch between BCAST and default mode on a live
       connection: a mode change rebuilds the pool too */
    upstream_changed |= nc.cache.invalidation != srv->conf.cache.invalidation;
    inval_changed = upstream_changed ||
                    server_wants_inval(&nc) != server_wants_inval(&srv->conf);

    /* bind the new stats port before anything changes, so that a failure
       rejects the reload instead of leaving no stats port */
    if (stats_changed && nc.stats.listen && nc.stats.listen[0]) {
        new_stats = stats_start(srv->base, nc.stats.listen, &srv->metrics,
                                server_collect, server_health, srv, err,
                                sizeof(err));
        if (!new_stats) {
            log_error("reload rejected: stats %s: %s", nc.stats.listen, err);
            conf_free(&nc);
            notify_ready("reload rejected");
            return;
        }
    }
    if (listen_changed && !srv->shutting_down) {
        struct evconnlistener *l = server_listen(srv, nc.listen);

        if (!l) {
            log_error("reload rejected: cannot listen on %s", nc.listen);
            stats_stop(new_stats);
            conf_free(&nc);
            notify_ready("reload rejected");
            return;
        }
        if (srv->listener)
            evconnlistener_free(srv->listener);
        srv->listener = l;
    }

    old = srv->conf;
    srv->conf = nc;
    log_set_level((enum log_level)srv->conf.log.level);
    cache_set_limit(srv->cache, srv->conf.cache.enabled ? srv->conf.cache.max_memory : 0);
    for (c = srv->clients; c; c = c->next)
        c->parser.max_request = srv->conf.clients.max_request;
    if (stats_changed) {
        stats_stop(srv->stats);
        srv->stats = new_stats;
    }
    if (upstream_changed) {
        /* the pool may change size: rebuild it; dedicated connections to
           the old upstream are not reused */
        srv->up_gen++;
        upstream_pool_stop(srv);
        if (upstream_pool_start(srv) < 0)
            log_error("out of memory restarting the upstream pool");
    }
    if (inval_changed) {
        inval_stop(srv->inval);
        srv->inval = NULL;
        server_cache_lost(srv, "upstream or invalidation settings changed");
        server_inval_start(srv);
    } else if (!srv->conf.cache.enabled) {
        fill_invalidate_all(srv, -1, FILL_SRC_FLUSH);
    }
    conf_free(&old);
    log_info("configuration reloaded from %s", srv->conf_path);
    notify_ready("configuration reloaded");
}

/* ---- lifecycle ---- */

int server_start(struct server *srv, struct conf *conf, const char *conf_path)
{
    struct timeval tick = { 0, SERVER_TICK_MS * 1000 };

    memset(srv, 0, sizeof(*srv));
    srv->conf = *conf;
    memset(conf, 0, sizeof(*conf));
    if (conf_path && !(srv->conf_path = strdup(conf_path)))
        return -1;
    log_set_level((enum log_level)srv->conf.log.level);
    metrics_init(&srv->metrics);
    signal(SIGPIPE, SIG_IGN);

    if (server_protected_ok(&srv->conf) < 0)
        return -1;
    srv->base = event_base_new();
    if (!srv->base) {
        log_error("cannot create the event loop");
        return -1;
    }
    srv->cache = cache_create(srv->conf.cache.enabled ? srv->conf.cache.max_memory : 0);
    srv->reaper = event_new(srv->base, -1, 0, server_reap_cb, srv);
    srv->tick = event_new(srv->base, -1, EV_PERSIST, server_tick_cb, srv);
    srv->sig_term = evsignal_new(srv->base, SIGTERM, server_signal_cb, srv);
    srv->sig_int = evsignal_new(srv->base, SIGINT, server_signal_cb, srv);
    srv->sig_hup = evsignal_new(srv->base, SIGHUP, server_signal_cb, srv);
    if (!srv->cache || !srv->reaper || !srv->tick || !srv->sig_term ||
        !srv->sig_int || !srv->sig_hup || fill_init(srv) < 0 ||
        flush_init(srv) < 0) {
        log_error("out of memory");
        return -1;
    }
    evsignal_add(srv->sig_term, NULL);
    evsignal_add(srv->sig_int, NULL);
    evsignal_add(srv->sig_hup, NULL);
    evtimer_add(srv->tick, &tick);

    srv->listener = server_listen(srv, srv->conf.listen);
    if (!srv->listener)
        return -1;
    if (server_stats_start(srv) < 0)
        return -1;
    if (upstream_pool_start(srv) < 0 || server_inval_start(srv) < 0) {
        log_error("out of memory");
        return -1;
    }
    srv->watchdog_usec = notify_watchdog_usec();
    log_info("listening on %s, upstream %s (%d connections), stats %s",
             srv->conf.listen, srv->conf.upstream.address,
             srv->conf.upstream.connections,
             srv->conf.stats.listen && srv->conf.stats.listen[0]
                 ? srv->conf.stats.listen : "off");
    notify_ready("listening");
    return 0;
}

int server_run(struct server *srv)
{
    event_base_dispatch(srv->base);
    return 0;
}

void server_free(struct server *srv)
{
    struct client *c;

    for (c = srv->clients; c; c = c->next)
        client_close(c);
    client_reap(srv);
    if (srv->listener)
        evconnlistener_free(srv->listener);
    stats_stop(srv->stats);
    inval_stop(srv->inval);
    upstream_pool_stop(srv);
    fill_free(srv);
    flush_free(srv);
    cache_destroy(srv->cache);
    client_req_pool_free(srv);
    while (srv->free_ops) {
        struct upop *op = srv->free_ops;

        srv->free_ops = op->next;
        free(op);
    }
    free(srv->argv);
    free(srv->argvlen);
    if (srv->reaper)
        event_free(srv->reaper);
    if (srv->tick)
        event_free(srv->tick);
    if (srv->shutdown_timer)
        event_free(srv->shutdown_timer);
    if (srv->sig_term)
        event_free(srv->sig_term);
    if (srv->sig_int)
        event_free(srv->sig_int);
    if (srv->sig_hup)
        event_free(srv->sig_hup);
    if (srv->base)
        event_base_free(srv->base);
    conf_free(&srv->conf);
    free(srv->conf_path);
}
