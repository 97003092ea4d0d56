/*
 * fuzz_resp_request.c — libFuzzer target for the RESP request parser.
 *
 * Input layout: byte 0 picks max_request (low bits) and whether to expand the
 * input (bit 7: the byte in the middle of the payload is repeated about
 * RESP_INLINE_MAX times, so the long-line limits are reachable from small
 * inputs), byte 1 seeds the read sizes, the rest is client input. The
 * input is parsed as a stream of pipelined requests three ways (all bytes at
 * once; in small random reads, each call seeing an exact-size copy so any
 * read past the given length is caught; and reading exactly what the parser
 * asked for) and every outcome must agree. Each result is checked: consumed
 * within the buffer, arguments inside the request (or inside the inline
 * storage), need beyond the bytes given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define MAX_RECORDS 4096

static const size_t max_requests[] = {
    0, 8, 30, 100, 1000, 70000, 512u * 1024 * 1024, 3,
};

/* What one parse call produced; the three runs must yield equal lists. */
struct record {
    int st;
    int argc;
    size_t consumed;
    size_t need;
    const char *err;
    uint64_t hash;      /* over every argument's length and bytes */
};

struct run {
    struct record rec[MAX_RECORDS];
    size_t n;
};

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Check one result and append it to the run. Returns 1 to keep going. */
static int take(struct run *r, const struct resp_parser *p, const char *buf,
                size_t len, enum resp_status st)
{
    struct record *rc;
    int i;

    if (r->n == MAX_RECORDS)
        return 0;
    rc = &r->rec[r->n++];
    memset(rc, 0, sizeof(*rc));
    rc->st = st;
    rc->hash = 0xcbf29ce484222325ULL;
    switch (st) {
    case RESP_AGAIN:
        if (p->need <= len)
            __builtin_trap();
        rc->need = p->need;
        return 0;
    case RESP_ERROR:
        if (p->err == NULL || p->err[0] == '\0')
            __builtin_trap();
        rc->err = p->err;
        return 0;
    case RESP_OK:
        break;
    default:
        __builtin_trap();
    }
    if (p->consumed == 0 || p->consumed > len || p->consumed > p->max_request ||
        p->argc < 0)
        __builtin_trap();
    for (i = 0; i < p->argc; i++) {
        size_t off = p->argv[i].off, l = p->argv[i].len;

        if (p->is_inline) {
            if (off > p->inl_cap || l > p->inl_cap - off)
                __builtin_trap();
        } else if (off > p->consumed || l > p->consumed - off) {
            __builtin_trap();
        }
        rc->hash = hash_bytes(rc->hash, &l, sizeof(l));
        rc->hash = hash_bytes(rc->hash, resp_arg_ptr(p, buf, i), l);
    }
    rc->argc = p->argc;
    rc->consumed = p->consumed;
    return 1;
}

static void run_whole(struct run *r, const char *buf, size_t n, size_t max)
{
    struct resp_parser p;
    size_t off = 0;

    resp_parser_init(&p, max);
    for (;;) {
        enum resp_status st = resp_parse_request(&p, buf + off, n - off);

        if (!take(r, &p, buf + off, n - off, st))
            break;
        off += p.consumed;
    }
    resp_parser_free(&p);
}

/* Small random reads; every call gets a fresh exact-size copy. */
static void run_pieces(struct run *r, const char *buf, size_t n, size_t max,
                       uint32_t seed)
{
    struct resp_parser p;
    size_t off = 0, avail = 0;

    resp_parser_init(&p, max);
    for (;;) {
        size_t len = avail - off;
        char *copy = malloc(len ? len : 1);
        enum resp_status st;
        int more;

        if (copy == NULL)
            break;
        memcpy(copy, buf + off, len);
        st = resp_parse_request(&p, copy, len);
        if (st == RESP_AGAIN && avail < n) {
            free(copy);
            seed = seed * 1103515245u + 12345u;
            avail += 1 + (seed >> 16) % ((seed & 0x100) ? 300 : 7) + n / 32;
            if (avail > n)
                avail = n;
            continue;
        }
        more = take(r, &p, copy, len, st);
        free(copy);
        if (!more)
            break;
        off += p.consumed;
        if (seed & 0x200)
            resp_parser_reset(&p); /* otherwise implicit */
        seed = seed * 1103515245u + 12345u;
    }
    resp_parser_free(&p);
}

/* Read exactly what the parser said it needs. */
static void run_need(struct run *r, const char *buf, size_t n, size_t max)
{
    struct resp_parser p;
    size_t off = 0, avail = 0;

    resp_parser_init(&p, max);
    for (;;) {
        enum resp_status st = resp_parse_request(&p, buf + off, avail - off);

        if (st == RESP_AGAIN && avail < n) {
            if (p.need <= avail - off)
                __builtin_trap();
            avail = n - off < p.need ? n : off + p.need;
            continue;
        }
        if (!take(r, &p, buf + off, avail - off, st))
            break;
        off += p.consumed;
    }
    resp_parser_free(&p);
}

static void compare(const struct run *a, const struct run *b)
{
    size_t i;

    if (a->n != b->n)
        __builtin_trap();
    for (i = 0; i < a->n; i++) {
        const struct record *x = &a->rec[i], *y = &b->rec[i];

        if (x->st != y->st || x->argc != y->argc ||
            x->consumed != y->consumed || x->need != y->need ||
            x->hash != y->hash)
            __builtin_trap();
        if ((x->err == NULL) != (y->err == NULL) ||
            (x->err && strcmp(x->err, y->err) != 0))
            __builtin_trap();
    }
}

/* Payload with its middle byte repeated to about RESP_INLINE_MAX bytes. */
static char *expand(const uint8_t *pl, size_t n, unsigned knob, size_t *out)
{
    size_t h = n / 2, fill = RESP_INLINE_MAX - 16 + (knob & 31);
    char *buf = malloc(n + fill);

    if (buf == NULL)
        return NULL;
    memcpy(buf, pl, h);
    memset(buf + h, pl[h], fill);
    memcpy(buf + h + fill, pl + h + 1, n - h - 1);
    *out = n - 1 + fill;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run whole, pieces, need;
    size_t max, n;
    char *buf;

    if (size < 2)
        return 0;
    max = max_requests[(data[0] & 0x7f) % (sizeof(max_requests) /
                                           sizeof(max_requests[0]))];
    n = size - 2;
    if ((data[0] & 0x80) && n > 0) {
        buf = expand(data + 2, n, data[1], &n);
    } else {
        buf = malloc(n ? n : 1);
        if (buf != NULL)
            memcpy(buf, data + 2, n);
    }
    if (buf == NULL)
        return 0;
    whole.n = pieces.n = need.n = 0;
    run_whole(&whole, buf, n, max);
    run_pieces(&pieces, buf, n, max, data[1] * 2654435761u);
    run_need(&need, buf, n, max);
    compare(&whole, &pieces);
    compare(&whole, &need);
    free(buf);
    return 0;
}
