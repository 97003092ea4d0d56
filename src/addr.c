/*
 * addr.c — parsing and formatting socket addresses (see addr.h).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"

int addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon, *port;
    struct addrinfo hints, *res = NULL;
    size_t hlen;

    memset(ss, 0, sizeof(*ss));
    if (strncmp(s, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        size_t plen = strlen(s + 5);

        if (plen == 0 || plen >= sizeof(un->sun_path))
            return -1;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, s + 5, plen + 1);
        *len = (socklen_t)sizeof(*un);
        return 0;
    }
    colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return -1;
    port = colon + 1;
    {
        char *end;
        long pn = strtol(port, &end, 10);

        if (*end || pn < 0 || pn > 65535)
            return -1;
    }
    if (s[0] == '[') {
        if (colon[-1] != ']')
            return -1;
        s++;
        hlen = (size_t)(colon - s) - 1;
    } else {
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int addr_is_local(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_UNIX)
        return 1;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

void addr_format(const struct sockaddr *sa, socklen_t len, char *out,
                 size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    (void)len;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, outlen, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, outlen, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(out, outlen, "unix");
    }
}
