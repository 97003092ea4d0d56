/*
 * addr.h — socket addresses as written in the configuration:
 * "host:port", "[v6]:port" or "unix:/path".
 */
#ifndef CORRAL_ADDR_H
#define CORRAL_ADDR_H

#include <sys/socket.h>

/* Resolve s into *ss (blocking name lookup for a host name). Returns 0, or
 * -1 when s is malformed or cannot be resolved. */
int addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Is this a loopback or unix address? */
int addr_is_local(const struct sockaddr_storage *ss);

/* "ip:port" / "unix:path" of a connected peer, for logs. */
void addr_format(const struct sockaddr *sa, socklen_t len, char *out,
                 size_t outlen);

#endif
