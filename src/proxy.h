/*
 * proxy.h — the request path: what happens to each parsed client request,
 * and to each upstream reply addressed to a client or a fill.
 */
#ifndef CORRAL_PROXY_H
#define CORRAL_PROXY_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct upconn;
struct upop;
struct evbuffer;
struct resp_parser;
struct resp_scanner;

enum proxy_result {
    PROXY_DONE = 0,   /* request handled; its bytes have been consumed */
    PROXY_WAIT,       /* cannot run yet (the client's earlier requests must
                         finish first); nothing consumed, retry later */
    PROXY_CLOSED,     /* the client was closed */
};

/* Handle one complete request: the first p->consumed bytes of the client's
 * input buffer in, contiguous at buf. On PROXY_DONE those bytes have been
 * drained from in (or moved upstream). */
enum proxy_result proxy_request(struct client *c, struct evbuffer *in,
                                const char *buf, const struct resp_parser *p,
                                uint64_t start_ns);

/* A reply of len bytes at the front of in answers op (a client request, a
 * fill or an MGET). Consumes exactly len bytes of in. */
void proxy_upop_reply(struct upconn *u, struct upop *op, struct evbuffer *in,
                      size_t len, const struct resp_scanner *s);

/* op will never be answered (connection lost, timeout): msg is the error
 * text without "-" and CRLF ("ERR upstream unavailable"). */
void proxy_upop_failed(struct upconn *u, struct upop *op, const char *msg);

#endif
