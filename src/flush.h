/*
 * flush.h — output written at the end of an event-loop pass.
 *
 * Bytes queued for a socket (a client's replies, requests for an upstream
 * connection) are not written as each is queued: the socket is marked, and
 * once the callbacks already due in this pass have run, one write per
 * marked socket sends everything it has (as Redis does before it sleeps).
 * Many replies for one client, or many clients' requests for one upstream
 * connection, go out in one syscall, and a socket whose write completes
 * never has its write event registered with the kernel. Only a socket that
 * cannot take everything gets its bufferevent's write event, until it
 * drains (flush_drained).
 */
#ifndef CORRAL_FLUSH_H
#define CORRAL_FLUSH_H

struct server;
struct bufferevent;

/* One per socket, embedded in its owner. */
struct flush_entry {
    struct flush_entry *next;
    struct server *srv;
    struct bufferevent *bev;
    int marked;
    int (*ready)(void *owner);  /* may it be written now? NULL = always */
    void *owner;
};

/* Create the end-of-pass event. Returns 0 or -1 (out of memory). */
int flush_init(struct server *srv);
void flush_free(struct server *srv);

/* Attach e to bev: from now on whatever is added to bev's output marks e,
 * and bev's write event stays disabled unless a write is left over. Returns
 * 0, or -1 when out of memory. */
int flush_attach(struct server *srv, struct flush_entry *e,
                 struct bufferevent *bev, void *owner,
                 int (*ready)(void *owner));

/* Forget e: its bufferevent is about to be freed. */
void flush_detach(struct flush_entry *e);

/* Mark e to be written at the end of this pass. */
void flush_mark(struct flush_entry *e);

/* For the bufferevent's write callback: the output has drained, so the
 * write event is no longer needed. */
void flush_drained(struct flush_entry *e);

#endif
