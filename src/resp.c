/*
 * resp.c — RESP2 wire format: the resumable client request parser
 * (multibulk and inline, with Redis's acceptance rules and error texts) and
 * the counter-based upstream reply scanner.
 *
 * Request parser notes, matching Redis 7 (networking.c):
 *  - a request whose first byte is '*' is multibulk, anything else inline;
 *  - header lines ("*<n>", "$<n>") end at the first '\r'; the byte after it
 *    is required but not inspected, and neither are the two bytes after a
 *    bulk body, exactly as Redis does;
 *  - numbers follow Redis's string2ll: optional '-', no '+', no leading
 *    zeros, no spaces, at most 20 characters;
 *  - Redis looks for line ends with strchr, so a NUL byte hides every line
 *    end after it: such a line can only grow until it is too long;
 *  - a line (header or inline) with no end in its first RESP_INLINE_MAX + 1
 *    bytes is an error; this is decided on the bytes alone, so the outcome
 *    never depends on how the input was split into reads.
 * The size limit is checked whenever a byte is found to belong to the
 * request, and a bulk header or multibulk count that proves the request will
 * not fit is rejected at once, before its payload is buffered.
 */
#include "resp.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- request parser ---- */

enum {
    PS_START = 0,   /* nothing examined yet */
    PS_MB_COUNT,    /* searching for the end of the "*<count>" line */
    PS_BULK_HDR,    /* searching for the end of a "$<len>" line */
    PS_BULK_BODY,   /* waiting for a bulk body and the two bytes after it */
    PS_INLINE,      /* searching for the end of an inline line */
    PS_DONE,        /* a request was returned; next call resets */
    PS_ERROR        /* sticky protocol error */
};

/* Smallest wire size of one bulk argument: "$0\r\n\r\n". */
#define MIN_ARG_BYTES 6
/* Storage above these sizes is released by resp_parser_reset(). */
#define KEEP_ARGV_CAP 1024
#define KEEP_INL_CAP (16 * 1024)

/* "expected '$', got 'c'" for every byte c; like Redis, CR and LF are shown
 * as spaces (a NUL can never get here, see the file comment). Static
 * read-only data, so parser->err can point at it. */
#define EXP_CH(c) ((c) == '\r' || (c) == '\n' || (c) == 0 ? ' ' : (char)(c))
#define EXP_MSG(c) { 'e', 'x', 'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', '$', \
                     '\'', ',', ' ', 'g', 'o', 't', ' ', '\'', EXP_CH(c), \
                     '\'', '\0' }
#define EXP4(c) EXP_MSG(c), EXP_MSG((c) + 1), EXP_MSG((c) + 2), \
                EXP_MSG((c) + 3)
#define EXP16(c) EXP4(c), EXP4((c) + 4), EXP4((c) + 8), EXP4((c) + 12)
#define EXP64(c) EXP16(c), EXP16((c) + 16), EXP16((c) + 32), EXP16((c) + 48)

static const char expected_msgs[256][22] = {
    EXP64(0), EXP64(64), EXP64(128), EXP64(192)
};

enum line_result {
    LINE_FOUND,     /* *at is the index of the terminator */
    LINE_AGAIN,     /* no terminator yet */
    LINE_TOO_LONG,  /* no terminator within RESP_INLINE_MAX + 1 bytes */
    LINE_TOO_BIG    /* the request grew past max_request */
};

/* Redis's string2ll: the whole of s[0..n) must be a canonical integer. */
static int parse_ll(const char *s, size_t n, long long *out)
{
    unsigned long long v;
    size_t i = 0;
    int neg = 0;

    if (n == 0 || n > 20)
        return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || s[i] < '1' || s[i] > '9')
        return 0;
    v = (unsigned long long)(s[i++] - '0');
    for (; i < n; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return 0;
        d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
                                                       : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

/* Look for 'term' in the line that starts at p->pos, resuming at p->scan.
 * Every byte examined belongs to the request, so the size limit is checked
 * byte by byte; on LINE_AGAIN the next byte will belong to it too. */
static enum line_result find_line_end(struct resp_parser *p, const char *buf,
                                      size_t len, char term, size_t *at)
{
    size_t last = p->pos + RESP_INLINE_MAX; /* last index a line may use
                                               without a terminator */
    size_t j;

    for (j = p->scan; j < len; j++) {
        char c = buf[j];

        if (j >= p->max_request)
            return LINE_TOO_BIG;
        if (c == term && !p->nul_seen) {
            p->scan = j;
            *at = j;
            return LINE_FOUND;
        }
        if (c == '\0')
            p->nul_seen = 1;
        if (j >= last)
            return LINE_TOO_LONG;
    }
    if (j > p->scan)
        p->scan = j;
    if (len >= p->max_request)
        return LINE_TOO_BIG;
    return LINE_AGAIN;
}

static enum resp_status fail(struct resp_parser *p, const char *err)
{
    p->state = PS_ERROR;
    p->err = err;
    p->argc = 0;
    return RESP_ERROR;
}

static enum resp_status again(struct resp_parser *p, size_t len, size_t need)
{
    p->need = need > len ? need : len + 1;
    return RESP_AGAIN;
}

static enum resp_status line_failure(struct resp_parser *p,
                                     enum line_result r, const char *toolong)
{
    if (r == LINE_TOO_BIG)
        return fail(p, "too big request");
    return fail(p, toolong);
}

/* Append one argument, growing argv geometrically; 'more' is how many
 * arguments are still expected including this one (0 when unknown), so a
 * claimed count never makes the array bigger than twice what was parsed. */
static int add_arg(struct resp_parser *p, size_t off, size_t len, size_t more)
{
    if ((size_t)p->argc == p->argv_cap) {
        size_t cap = p->argv_cap ? p->argv_cap * 2 : 8;
        struct resp_arg *nv;

        if (more && cap > p->argv_cap + more)
            cap = p->argv_cap + more;
        if (cap > SIZE_MAX / sizeof(*nv))
            return -1;
        nv = realloc(p->argv, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        p->argv = nv;
        p->argv_cap = cap;
    }
    p->argv[p->argc].off = off;
    p->argv[p->argc].len = len;
    p->argc++;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Split an inline line the way Redis's sdssplitargs does: blanks separate
 * arguments; "..." understands \n \r \t \b \a \xHH and \<any> escapes, '...'
 * only \'; a closing quote must be followed by a blank or the end. Decoded
 * bytes go to p->inl. Returns 0, -1 for unbalanced quotes, -2 for no
 * memory. */
static int split_inline(struct resp_parser *p, const char *s, size_t n)
{
    size_t i = 0, out = 0;

    if (n > p->inl_cap) {
        char *ni = realloc(p->inl, n);

        if (ni == NULL)
            return -2;
        p->inl = ni;
        p->inl_cap = n;
    }
    for (;;) {
        size_t start;
        int inq = 0, insq = 0;

        while (i < n && is_space(s[i]))
            i++;
        if (i == n)
            return 0;
        start = out;
        for (;;) {
            if (inq) {
                if (i == n)
                    return -1;
                if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' &&
                    hex_val(s[i + 2]) >= 0 && hex_val(s[i + 3]) >= 0) {
                    p->inl[out++] = (char)(hex_val(s[i + 2]) * 16 +
                                           hex_val(s[i + 3]));
                    i += 4;
                } else if (s[i] == '\\' && i + 1 < n) {
                    char c = s[i + 1];

                    switch (c) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: break;
                    }
                    p->inl[out++] = c;
                    i += 2;
                } else if (s[i] == '"') {
                    if (i + 1 < n && !is_space(s[i + 1]))
                        return -1;
                    i++;
                    break;
                } else {
                    p->inl[out++] = s[i++];
                }
            } else if (insq) {
                if (i == n)
                    return -1;
                if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\'') {
                    p->inl[out++] = '\'';
                    i += 2;
                } else if (s[i] == '\'') {
                    if (i + 1 < n && !is_space(s[i + 1]))
                        return -1;
                    i++;
                    break;
                } else {
                    p->inl[out++] = s[i++];
                }
            } else {
                if (i == n)
                    break;
                if (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' ||
                    s[i] == '\t') {
                    i++;
                    break;
                }
                if (s[i] == '"')
                    inq = 1;
                else if (s[i] == '\'')
                    insq = 1;
                else
                    p->inl[out++] = s[i];
                i++;
            }
        }
        if (add_arg(p, start, out - start, 0) < 0)
            return -2;
    }
}

static enum resp_status parse_inline(struct resp_parser *p, const char *buf,
                                     size_t len)
{
    enum line_result r;
    size_t nl, n;
    int rc;

    r = find_line_end(p, buf, len, '\n', &nl);
    if (r == LINE_AGAIN)
        return again(p, len, len + 1);
    if (r != LINE_FOUND)
        return line_failure(p, r, "too big inline request");
    n = nl;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    p->argc = 0;
    rc = split_inline(p, buf, n);
    if (rc == -1)
        return fail(p, "unbalanced quotes in request");
    if (rc < 0)
        return fail(p, "out of memory");
    p->is_inline = 1;
    p->consumed = nl + 1;
    p->state = PS_DONE;
    return RESP_OK;
}

/* Find a complete header line "<type><number>\r<any>" at p->pos. Returns
 * RESP_OK with *num set and p->pos moved past the line. */
static enum resp_status read_header(struct resp_parser *p, const char *buf,
                                    size_t len, const char *toolong,
                                    long long *num, int *bad_number)
{
    enum line_result r;
    size_t cr;

    r = find_line_end(p, buf, len, '\r', &cr);
    if (r == LINE_AGAIN)
        return again(p, len, len + 1);
    if (r != LINE_FOUND)
        return line_failure(p, r, toolong);
    /* the byte after '\r' belongs to the request even before it arrives */
    if (cr + 1 >= p->max_request)
        return fail(p, "too big request");
    if (cr + 1 >= len)
        return again(p, len, cr + 2);
    *bad_number = cr == p->pos ||
                  !parse_ll(buf + p->pos + 1, cr - p->pos - 1, num);
    return RESP_OK;
}

static enum resp_status parse_multibulk(struct resp_parser *p,
                                        const char *buf, size_t len)
{
    enum resp_status st;
    long long n;
    int bad;

    if (p->state == PS_MB_COUNT) {
        st = read_header(p, buf, len, "too big mbulk count string", &n, &bad);
        if (st != RESP_OK)
            return st;
        if (bad || n > RESP_MAX_ARGC)
            return fail(p, "invalid multibulk length");
        p->pos = p->scan + 2;
        if (n <= 0) {
            p->consumed = p->pos;
            p->state = PS_DONE;
            return RESP_OK;
        }
        if ((size_t)n * MIN_ARG_BYTES > p->max_request - p->pos)
            return fail(p, "too big request");
        p->want_args = n;
        p->scan = p->pos;
        p->nul_seen = 0;
        p->state = PS_BULK_HDR;
    }
    for (;;) {
        if (p->state == PS_BULK_HDR) {
            size_t room, rest;
            char first;

            st = read_header(p, buf, len, "too big bulk count string", &n,
                             &bad);
            if (st != RESP_OK)
                return st;
            first = buf[p->pos];
            if (first != '$')
                return fail(p, expected_msgs[(unsigned char)first]);
            if (bad || n < 0 || (unsigned long long)n > p->max_request)
                return fail(p, "invalid bulk length");
            p->pos = p->scan + 2;
            /* body, its two trailing bytes, and the smallest possible
               remaining arguments must fit */
            room = p->max_request - p->pos;
            rest = (size_t)(p->want_args - 1) * MIN_ARG_BYTES;
            if ((size_t)n > room || room - (size_t)n < 2 ||
                room - (size_t)n - 2 < rest)
                return fail(p, "too big request");
            p->bulk_len = n;
            p->state = PS_BULK_BODY;
        }
        /* PS_BULK_BODY */
        if (len < p->pos || len - p->pos < (size_t)p->bulk_len + 2)
            return again(p, len, p->pos + (size_t)p->bulk_len + 2);
        if (add_arg(p, p->pos, (size_t)p->bulk_len, (size_t)p->want_args) < 0)
            return fail(p, "out of memory");
        p->pos += (size_t)p->bulk_len + 2;
        if (--p->want_args == 0) {
            p->consumed = p->pos;
            p->state = PS_DONE;
            return RESP_OK;
        }
        p->scan = p->pos;
        p->nul_seen = 0;
        p->state = PS_BULK_HDR;
    }
}

void resp_parser_init(struct resp_parser *p, size_t max_request)
{
    memset(p, 0, sizeof(*p));
    p->max_request = max_request;
    p->bulk_len = -1;
}

void resp_parser_free(struct resp_parser *p)
{
    free(p->argv);
    free(p->inl);
    p->argv = NULL;
    p->inl = NULL;
    p->argv_cap = 0;
    p->inl_cap = 0;
    resp_parser_reset(p);
}

void resp_parser_reset(struct resp_parser *p)
{
    if (p->argv_cap > KEEP_ARGV_CAP) {
        free(p->argv);
        p->argv = NULL;
        p->argv_cap = 0;
    }
    if (p->inl_cap > KEEP_INL_CAP) {
        free(p->inl);
        p->inl = NULL;
        p->inl_cap = 0;
    }
    p->argc = 0;
    p->consumed = 0;
    p->is_inline = 0;
    p->need = 0;
    p->err = NULL;
    p->state = PS_START;
    p->pos = 0;
    p->scan = 0;
    p->nul_seen = 0;
    p->want_args = 0;
    p->bulk_len = -1;
}

enum resp_status resp_parse_request(struct resp_parser *p, const char *buf,
                                    size_t len)
{
    if (p->state == PS_ERROR)
        return RESP_ERROR;
    if (p->state == PS_DONE)
        resp_parser_reset(p);
    if (p->state == PS_START) {
        if (len == 0)
            return again(p, len, 1);
        p->argc = 0;
        p->is_inline = 0;
        p->pos = 0;
        p->scan = 0;
        p->nul_seen = 0;
        p->state = buf[0] == '*' ? PS_MB_COUNT : PS_INLINE;
    }
    if (p->state == PS_INLINE)
        return parse_inline(p, buf, len);
    return parse_multibulk(p, buf, len);
}

/* ---- reply scanner ---- */

enum {
    SS_TYPE = 0,    /* expecting a type byte */
    SS_LINE,        /* inside a '+' or '-' line */
    SS_LINE_LF,     /* '\r' seen, expecting '\n' */
    SS_NUM,         /* inside the number of ':', '$' or '*' */
    SS_NUM_LF,      /* '\r' after a number seen, expecting '\n' */
    SS_BODY,        /* skipping a bulk body */
    SS_BODY_CR,     /* expecting the '\r' after a bulk body */
    SS_BODY_LF,     /* expecting the '\n' after a bulk body */
    SS_DONE,
    SS_ERROR
};

#define SCAN_LINE_MAX (64 * 1024)          /* longest header line */
#define SCAN_BULK_MAX (512LL * 1024 * 1024) /* largest bulk string */
#define SCAN_ARRAY_MAX (1LL << 31)         /* largest array count */

void resp_scan_init(struct resp_scanner *s)
{
    memset(s, 0, sizeof(*s));
    s->state = SS_TYPE;
    s->pending = 1;
    s->top = 1;
}

static ssize_t scan_fail(struct resp_scanner *s)
{
    s->state = SS_ERROR;
    return -1;
}

/* One element (or an array header) is complete. Returns 1 when the whole
 * reply is. */
static int scan_element_done(struct resp_scanner *s)
{
    if (--s->pending == 0) {
        s->done = 1;
        s->state = SS_DONE;
        return 1;
    }
    s->top = 0;
    s->state = SS_TYPE;
    return 0;
}

/* Add digit d to the number on the current header line; 0 if out of range. */
static int scan_digit(struct resp_scanner *s, int d)
{
    long long limit;

    if (s->cur_type == ':') {
        if (s->neg) {
            if (s->cur < (LLONG_MIN + d) / 10)
                return 0;
            s->cur = s->cur * 10 - d;
        } else {
            if (s->cur > (LLONG_MAX - d) / 10)
                return 0;
            s->cur = s->cur * 10 + d;
        }
        return 1;
    }
    /* lengths: magnitude, bounded at every step so it cannot overflow */
    limit = s->cur_type == '$' ? SCAN_BULK_MAX : SCAN_ARRAY_MAX;
    s->cur = s->cur * 10 + d;
    return s->neg ? s->cur <= 1 : s->cur <= limit;
}

/* The number line is complete. Returns 1 when the whole reply is. */
static int scan_number_done(struct resp_scanner *s, int *bad)
{
    long long v = s->cur;

    *bad = 0;
    if (s->cur_type != ':') {
        if (s->neg && v != 1) {
            *bad = 1;
            return 0;
        }
        if (s->neg)
            v = -1;
    }
    if (s->top)
        s->num = v;
    if (s->cur_type == '$') {
        if (v < 0)
            return scan_element_done(s);
        s->skip = v;
        s->state = v > 0 ? SS_BODY : SS_BODY_CR;
        return 0;
    }
    if (s->cur_type == '*' && v > 0) {
        if (s->pending > LLONG_MAX - v) {
            *bad = 1;
            return 0;
        }
        s->pending += v;
    }
    return scan_element_done(s);
}

ssize_t resp_scan(struct resp_scanner *s, const char *p, size_t n)
{
    size_t i = 0;

    if (s->state == SS_ERROR)
        return -1;
    if (s->done)
        return 0;
    while (i < n) {
        char c;

        switch (s->state) {
        case SS_TYPE:
            c = p[i++];
            if (c == '+' || c == '-')
                s->state = SS_LINE;
            else if (c == ':' || c == '$' || c == '*')
                s->state = SS_NUM;
            else
                return scan_fail(s);
            s->cur_type = c;
            s->cur = 0;
            s->neg = 0;
            s->digits = 0;
            s->line_len = 0;
            if (s->top)
                s->type = c;
            break;
        case SS_LINE: {
            const char *cr = memchr(p + i, '\r', n - i);
            size_t take = cr ? (size_t)(cr - (p + i)) : n - i;

            if (take > SCAN_LINE_MAX - s->line_len)
                return scan_fail(s);
            s->line_len += take;
            i += take;
            if (cr) {
                i++;
                s->state = SS_LINE_LF;
            }
            break;
        }
        case SS_LINE_LF:
            if (p[i++] != '\n')
                return scan_fail(s);
            if (scan_element_done(s))
                return (ssize_t)i;
            break;
        case SS_NUM:
            c = p[i++];
            if (c == '\r') {
                if (!s->digits)
                    return scan_fail(s);
                s->state = SS_NUM_LF;
                break;
            }
            if (++s->line_len > SCAN_LINE_MAX)
                return scan_fail(s);
            if (c == '-' && !s->neg && !s->digits) {
                s->neg = 1;
            } else if (c >= '0' && c <= '9') {
                if (!scan_digit(s, c - '0'))
                    return scan_fail(s);
                s->digits = 1;
            } else {
                return scan_fail(s);
            }
            break;
        case SS_NUM_LF: {
            int bad;

            if (p[i++] != '\n')
                return scan_fail(s);
            if (scan_number_done(s, &bad))
                return (ssize_t)i;
            if (bad)
                return scan_fail(s);
            break;
        }
        case SS_BODY: {
            size_t take = n - i;

            if ((unsigned long long)s->skip < take)
                take = (size_t)s->skip;
            i += take;
            s->skip -= (long long)take;
            if (s->skip == 0)
                s->state = SS_BODY_CR;
            break;
        }
        case SS_BODY_CR:
            if (p[i++] != '\r')
                return scan_fail(s);
            s->state = SS_BODY_LF;
            break;
        case SS_BODY_LF:
            if (p[i++] != '\n')
                return scan_fail(s);
            if (scan_element_done(s))
                return (ssize_t)i;
            break;
        default:
            return scan_fail(s);
        }
    }
    return (ssize_t)n;
}
