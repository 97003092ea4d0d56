/*
 * resp.h — RESP2 wire format: the client request parser and the upstream
 * reply scanner.
 *
 * Both are pure: they look at bytes the caller owns, do no I/O, and keep only
 * small state of their own, so they can be unit-tested and fuzzed directly.
 *
 * Request parser.  A client sends either multibulk requests
 * ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or inline ones ("GET k\r\n", as typed in
 * telnet).  The caller hands resp_parse_request() a contiguous buffer that
 * starts at the first byte of the current request; when the answer is
 * RESP_AGAIN it calls again later with the same bytes plus more appended.
 * The parser resumes where it stopped, so a large request arriving in many
 * reads costs O(total bytes), not O(n^2).
 *
 * Reply scanner.  Replies from the upstream are forwarded to clients as raw
 * bytes; corral only needs to know where each reply ends.  resp_scan() is fed
 * the upstream input chunk by chunk (no contiguity needed) and says when one
 * complete reply has been seen, plus a few facts about it (its type and, for
 * integers, bulk strings and arrays, its number).
 */
#ifndef CORRAL_RESP_H
#define CORRAL_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum resp_status {
    RESP_OK = 0,   /* a complete request was parsed */
    RESP_AGAIN,    /* need more bytes */
    RESP_ERROR     /* protocol error; see parser->err */
};

/* Largest inline request line, as in Redis (PROTO_INLINE_MAX_SIZE). */
#define RESP_INLINE_MAX (64 * 1024)
/* Largest multibulk argument count accepted, as in Redis. */
#define RESP_MAX_ARGC (1024 * 1024)

/* One argument of a parsed request. */
struct resp_arg {
    size_t off; /* offset from the start of the request buffer (multibulk),
                   or into parser->inl (inline requests) */
    size_t len;
};

struct resp_parser {
    /* configuration */
    size_t max_request;     /* largest accepted request in bytes (whole
                               request, framing included) */

    /* result, valid after RESP_OK */
    int argc;
    struct resp_arg *argv;  /* owned; argc entries */
    size_t consumed;        /* bytes of the buffer this request occupied */
    int is_inline;          /* args point into inl, not into the buffer */
    char *inl;              /* owned; decoded inline arguments */

    /* after RESP_AGAIN: call again once at least this many bytes (counted
       from the start of the request) are available; always > the length
       given in the last call */
    size_t need;

    /* after RESP_ERROR: static message for "-ERR Protocol error: <err>" */
    const char *err;

    /* private resume state */
    int state;
    size_t pos;             /* start of the current line or bulk body */
    size_t scan;            /* next byte to examine in a line search */
    int nul_seen;           /* a NUL byte hides the rest of this line */
    long long want_args;    /* bulk arguments still to read */
    long long bulk_len;     /* length of the bulk body being waited for */
    size_t argv_cap;
    size_t inl_cap;
};

/* Set up a parser. max_request bounds the size of any one request; a larger
 * one is a protocol error. Allocates nothing until the first request. */
void resp_parser_init(struct resp_parser *p, size_t max_request);

/* Release what the parser owns. The struct may be re-initialised. */
void resp_parser_free(struct resp_parser *p);

/* Forget the current request and get ready for the next one. Keeps the
 * argv/inline storage for reuse, so a steady stream of requests allocates
 * nothing; only unusually large storage (left by a request of more than 1024
 * arguments or a long inline line) is released. Calling resp_parse_request()
 * again after RESP_OK without a reset does the reset implicitly. */
void resp_parser_reset(struct resp_parser *p);

/* Parse the request starting at buf[0]. See the file comment for the calling
 * convention. On RESP_OK the result fields are valid until the next call or
 * reset; an empty inline line (a bare "\r\n") and a multibulk header with a
 * count <= 0 ("*0\r\n", "*-1\r\n") are returned as RESP_OK with argc == 0,
 * to be consumed and ignored by the caller. On RESP_ERROR the connection
 * should get "-ERR Protocol error: <err>" and be closed; the error texts match
 * Redis's ("invalid multibulk length", "invalid bulk length", "expected '$',
 * got 'x'", "too big inline request", "unbalanced quotes in request", "too
 * big mbulk count string" / "too big bulk count string" for a header line
 * over RESP_INLINE_MAX bytes, and "too big request" for max_request, reported
 * as soon as a header proves the request too large). The error stays: later
 * calls return RESP_ERROR again until a reset. Allocation failure is
 * reported as RESP_ERROR with err "out of memory". The result depends only on
 * the bytes, never on how they were split across calls. */
enum resp_status resp_parse_request(struct resp_parser *p, const char *buf,
                                    size_t len);

/* Pointer to argument i of the request just parsed from buf. */
static inline const char *resp_arg_ptr(const struct resp_parser *p,
                                       const char *buf, int i)
{
    return (p->is_inline ? p->inl : buf) + p->argv[i].off;
}

/* ---- reply scanner ---- */

struct resp_scanner {
    /* facts about the reply, valid once done is set */
    char type;          /* '+', '-', ':', '$' or '*' of the top-level reply */
    long long num;      /* ':' value, '$' length, '*' count (-1 = null) */
    int done;           /* one complete reply has been scanned */

    /* private */
    int state;
    long long pending;  /* elements still to read, top level included */
    long long skip;     /* payload bytes (+CRLF) of a bulk still to skip */
    long long cur;      /* number being accumulated on a header line */
    int neg;
    int digits;
    char cur_type;
    int top;            /* the current header is the top-level one */
    size_t line_len;    /* bytes on the current line, bounded */
};

/* Ready the scanner for a new reply. */
void resp_scan_init(struct resp_scanner *s);

/* Feed the next n bytes of upstream input. Returns how many bytes were used:
 * if s->done is set, the reply ended exactly there (the rest of the chunk
 * belongs to the next reply; call resp_scan_init before scanning it);
 * otherwise all n bytes were used and more are needed. Returns -1 on a
 * malformed reply (the upstream connection must be dropped). */
ssize_t resp_scan(struct resp_scanner *s, const char *p, size_t n);

#endif
