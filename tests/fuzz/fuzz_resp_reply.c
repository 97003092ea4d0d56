/*
 * fuzz_resp_reply.c — libFuzzer target for the RESP reply scanner.
 *
 * The input is upstream output: a stream of replies. It is scanned whole,
 * split in two at an offset taken from the data, and (when short) one byte at
 * a time; each chunk lives in its own exact-size allocation so any read past
 * a chunk is caught. All runs must find the same reply boundaries, types and
 * numbers, and end the same way (clean, partial or malformed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define MAX_REPLIES 4096

enum end_kind { END_CLEAN, END_PARTIAL, END_ERROR };

struct reply_rec {
    size_t end;         /* stream offset just past the reply */
    char type;
    long long num;
};

struct scan_run {
    struct reply_rec rec[MAX_REPLIES];
    size_t n;
    enum end_kind end;
    size_t off;         /* stream bytes used so far */
    int stopped;
    struct resp_scanner s;
};

static void check_reply(const struct resp_scanner *s)
{
    switch (s->type) {
    case '+':
    case '-':
    case ':':
        break;
    case '$':
        if (s->num < -1 || s->num > 512LL * 1024 * 1024)
            __builtin_trap();
        break;
    case '*':
        if (s->num < -1 || s->num > (1LL << 31))
            __builtin_trap();
        break;
    default:
        __builtin_trap();
    }
}

/* Feed one chunk (copied to an exact-size buffer). */
static void feed(struct scan_run *r, const char *data, size_t n)
{
    char *chunk;
    size_t at = 0;

    if (r->stopped || n == 0)
        return;
    chunk = malloc(n);
    if (chunk == NULL)
        __builtin_trap();
    memcpy(chunk, data, n);
    while (at < n) {
        ssize_t used = resp_scan(&r->s, chunk + at, n - at);

        if (used < 0) {
            r->end = END_ERROR;
            r->stopped = 1;
            break;
        }
        if ((size_t)used > n - at)
            __builtin_trap();
        /* not done: the whole chunk was taken; done: at least one byte */
        if (r->s.done ? used == 0 : (size_t)used != n - at)
            __builtin_trap();
        at += (size_t)used;
        r->off += (size_t)used;
        if (!r->s.done)
            break;
        check_reply(&r->s);
        if (r->n == MAX_REPLIES) {
            r->stopped = 1;
            break;
        }
        r->rec[r->n].end = r->off;
        r->rec[r->n].type = r->s.type;
        r->rec[r->n].num = r->s.num;
        r->n++;
        resp_scan_init(&r->s);
    }
    free(chunk);
}

static void start(struct scan_run *r)
{
    r->n = 0;
    r->off = 0;
    r->stopped = 0;
    r->end = END_CLEAN;
    resp_scan_init(&r->s);
}

static void finish(struct scan_run *r)
{
    size_t last = r->n ? r->rec[r->n - 1].end : 0;

    if (r->end == END_ERROR)
        return;
    /* bytes used after the last complete reply: a partial one */
    if (r->off > last)
        r->end = END_PARTIAL;
}

static void compare(const struct scan_run *a, const struct scan_run *b)
{
    size_t i;

    if (a->n != b->n || a->end != b->end)
        __builtin_trap();
    for (i = 0; i < a->n; i++)
        if (a->rec[i].end != b->rec[i].end ||
            a->rec[i].type != b->rec[i].type ||
            a->rec[i].num != b->rec[i].num)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct scan_run whole, split, bytes;
    const char *p = (const char *)data;
    size_t cut = 0, i;

    for (i = 0; i < size; i++)
        cut = cut * 31 + data[i];
    cut = size ? cut % (size + 1) : 0;

    start(&whole);
    feed(&whole, p, size);
    finish(&whole);

    start(&split);
    feed(&split, p, cut);
    feed(&split, p + cut, size - cut);
    finish(&split);
    compare(&whole, &split);

    if (size <= 2048) {
        start(&bytes);
        for (i = 0; i < size; i++)
            feed(&bytes, p + i, 1);
        finish(&bytes);
        compare(&whole, &bytes);
    }
    return 0;
}
