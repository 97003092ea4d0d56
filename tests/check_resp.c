/*
 * check_resp.c — unit tests for the RESP2 request parser and reply scanner
 * (src/resp.c): Redis's acceptance rules and error texts, resumption at every
 * split point, size limits, and randomized round trips.
 */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define BIG (512u * 1024 * 1024)
#define S(lit) lit, sizeof(lit) - 1
/* a literal that is exactly one request: buffer, length, no size limit,
   expected consumed */
#define W(lit) lit, sizeof(lit) - 1, BIG, sizeof(lit) - 1
#define A(...) ((const char *const[]){ __VA_ARGS__ })

/* ---- helpers: parser ---- */

/* Everything observable about one parse call; arguments as a hash. */
struct snap {
    enum resp_status st;
    int argc, is_inline;
    size_t consumed, need;
    uint64_t args;
    char err[64];
};

#define HASH0 0xcbf29ce484222325ULL

/* Mix one argument, its length included, into h (FNV-1a). */
static uint64_t hash_arg(uint64_t h, const char *a, size_t n)
{
    size_t j;

    for (j = 0; j <= n; j++)
        h = (h ^ (j < n ? (unsigned char)a[j] : 0x100 + n)) * 0x100000001b3ULL;
    return h;
}

static void snap_take(struct snap *sn, const struct resp_parser *p,
                      const char *buf, enum resp_status st)
{
    int i;

    memset(sn, 0, sizeof(*sn));
    sn->st = st;
    if (st == RESP_ERROR)
        snprintf(sn->err, sizeof(sn->err), "%s", p->err);
    if (st == RESP_AGAIN)
        sn->need = p->need;
    if (st != RESP_OK)
        return;
    sn->argc = p->argc;
    sn->is_inline = p->is_inline;
    sn->consumed = p->consumed;
    sn->args = HASH0;
    for (i = 0; i < p->argc; i++)
        sn->args = hash_arg(sn->args, resp_arg_ptr(p, buf, i), p->argv[i].len);
}

static void snap_assert_equal(const struct snap *a, const struct snap *b,
                              const char *what)
{
    ck_assert_msg(a->st == b->st && strcmp(a->err, b->err) == 0 &&
                  a->need == b->need, "%s: status %d/%d err '%s'/'%s' need "
                  "%zu/%zu", what, a->st, b->st, a->err, b->err, a->need,
                  b->need);
    ck_assert_int_eq(a->argc, b->argc);
    ck_assert_int_eq(a->is_inline, b->is_inline);
    ck_assert_uint_eq(a->consumed, b->consumed);
    ck_assert(a->args == b->args);
}

/* mode 0: one call with the whole buffer; 1: grow the buffer a byte at a
 * time (small inputs in an exact-size copy each time, so the sanitizer sees
 * any overread); 2: give exactly as many bytes as the parser asked for. */
static void parse_mode(const char *buf, size_t len, size_t max, int mode,
                       struct snap *out)
{
    struct resp_parser p;
    enum resp_status st;
    size_t l = mode == 0 ? len : (mode == 1 && len > 0 ? 1 : 0);
    char *copy = NULL;

    resp_parser_init(&p, max);
    for (;;) {
        const char *in = buf;

        if (mode == 1 && len <= 4096) {
            free(copy);
            copy = malloc(l + 1);
            ck_assert(copy != NULL);
            memcpy(copy, buf, l);
            in = copy;
        }
        st = resp_parse_request(&p, in, l);
        if (st == RESP_AGAIN)
            ck_assert_uint_gt(p.need, l);
        if (st != RESP_AGAIN || l == len) {
            snap_take(out, &p, in, st);
            break;
        }
        l = mode == 1 ? l + 1 : p.need < len ? p.need : len;
    }
    free(copy);
    resp_parser_free(&p);
}

/* One-shot result, checked to be the same however the bytes are split. */
static void parse_checked(const char *buf, size_t len, size_t max,
                          struct snap *out)
{
    struct snap other;
    int mode;

    parse_mode(buf, len, max, 0, out);
    for (mode = 1; mode <= 2; mode++) {
        parse_mode(buf, len, max, mode, &other);
        snap_assert_equal(out, &other, mode == 1 ? "bytewise" : "by need");
    }
}

static void expect_error(const char *buf, size_t len, size_t max,
                         const char *err)
{
    struct snap sn;

    parse_checked(buf, len, max, &sn);
    ck_assert_msg(sn.st == RESP_ERROR, "expected error '%s', got %d", err,
                  sn.st);
    ck_assert_str_eq(sn.err, err);
}

static void expect_again(const char *buf, size_t len, size_t max)
{
    struct snap sn;

    parse_mode(buf, len, max, 0, &sn);
    ck_assert_int_eq(sn.st, RESP_AGAIN);
}

/* Expect RESP_OK with the given arguments (lengths taken with strlen unless
 * lens is given). */
static void expect_args(const char *buf, size_t len, size_t max,
                        size_t consumed, int is_inline, int argc,
                        const char *const *args, const size_t *lens)
{
    struct snap sn;
    uint64_t h = HASH0;
    int i;

    for (i = 0; i < argc; i++)
        h = hash_arg(h, args[i], lens ? lens[i] : strlen(args[i]));
    parse_checked(buf, len, max, &sn);
    ck_assert_msg(sn.st == RESP_OK, "status %d err %s", sn.st, sn.err);
    ck_assert_int_eq(sn.argc, argc);
    ck_assert_int_eq(sn.is_inline, is_inline);
    ck_assert_uint_eq(sn.consumed, consumed);
    ck_assert(sn.args == h);
}

static char *repeat(char c, size_t n, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + n + sl + 1);

    ck_assert(s != NULL);
    memcpy(s, prefix, pl);
    memset(s + pl, c, n);
    memcpy(s + pl + n, suffix, sl + 1);
    return s;
}

static uint64_t rng_next(uint64_t *st)
{
    uint64_t x = *st;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *st = x;
    return x;
}

static size_t rng_below(uint64_t *st, size_t n)
{
    return (size_t)(rng_next(st) % n);
}

struct dbuf {
    char *b;
    size_t len, cap;
};

static void dput(struct dbuf *d, const void *s, size_t n)
{
    if (n == 0)
        return;
    if (d->len + n > d->cap) {
        d->cap = (d->len + n) * 2 + 64;
        d->b = realloc(d->b, d->cap);
        ck_assert(d->b != NULL);
    }
    memcpy(d->b + d->len, s, n);
    d->len += n;
}

static void dputs(struct dbuf *d, const char *s)
{
    dput(d, s, strlen(s));
}

static void dputf(struct dbuf *d, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    dputs(d, tmp);
}

/* n random bytes: any byte, or printable ASCII only */
static void dput_random(struct dbuf *d, uint64_t *rng, size_t n, int print)
{
    while (n--) {
        char c = print ? (char)(' ' + rng_below(rng, 95)) : (char)rng_next(rng);

        dput(d, &c, 1);
    }
}

/* ---- parser: multibulk ---- */

START_TEST(test_multibulk)
{
    static const char req[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    struct resp_parser p;

    expect_args(W(req), 0, 2, A("GET", "k"), NULL);
    /* arguments point into the caller's buffer */
    resp_parser_init(&p, BIG);
    ck_assert_int_eq(resp_parse_request(&p, S(req)), RESP_OK);
    ck_assert_ptr_eq(resp_arg_ptr(&p, req, 0), req + 8);
    ck_assert_ptr_eq(resp_arg_ptr(&p, req, 1), req + 17);
    resp_parser_free(&p);
    /* binary-safe bodies */
    expect_args(W("*3\r\n$4\r\na\r\nb\r\n$0\r\n\r\n$3\r\n\0*\0\r\n"), 0, 3,
                A("a\r\nb", "", "\0*\0"), (const size_t[]){ 4, 0, 3 });
    /* a count <= 0 is an empty request */
    expect_args(S("*0\r\n"), BIG, 4, 0, 0, NULL, NULL);
    expect_args(S("*-1\r\n"), BIG, 5, 0, 0, NULL, NULL);
    expect_args(S("*-7\r\n$3\r\n"), BIG, 5, 0, 0, NULL, NULL);
    /* Redis skips the byte after a header's '\r' and the two bytes after a
       bulk body without looking at them; so do we */
    expect_args(W("*2\rX$3\rYfooAB$1\r\nzCD"), 0, 2, A("foo", "z"), NULL);
}
END_TEST

START_TEST(test_error_texts)
{
#define E(lit, err) { lit, sizeof(lit) - 1, err }
    static const char mb[] = "invalid multibulk length";
    static const char bl[] = "invalid bulk length";
    static const char uq[] = "unbalanced quotes in request";
    static const struct { const char *s; size_t len; const char *err; } t[] = {
        E("*x\r\n", mb), E("*\r\n", mb), E("*01\r\n", mb), E("*+1\r\n", mb),
        E("*1 \r\n", mb), E("* 1\r\n", mb), E("*-0\r\n", mb),
        E("*-\r\n", mb), E("*1048577\r\n", mb), E("*2\n$3\r\n", mb),
        E("*99999999999999999999\r\n", mb),
        E("*1\r\n$-1\r\n", bl), E("*1\r\n$x\r\n", bl), E("*1\r\n$\r\n", bl),
        E("*1\r\n$01\r\n", bl), E("*1\r\n$ 1\r\n", bl),
        E("*1\r\n$-0\r\n", bl), E("*1\r\n$1x\r\n", bl),
        E("*1\r\n$99999999999999999999\r\n", bl),
        E("*1\r\nX3\r\nfoo\r\n", "expected '$', got 'X'"),
        E("*2\r\n$1\r\na\r\n:1\r\n", "expected '$', got ':'"),
        /* CR and LF are shown as spaces, like Redis does */
        E("*1\r\n\r\n", "expected '$', got ' '"),
        E("*1\r\n\n\r\n", "expected '$', got ' '"),
        E("*1\r\n\xff\r\n", "expected '$', got '\xff'"),
        E("\"abc\r\n", uq), E("'abc\n", uq), E("\"a\"b\r\n", uq),
        E("'a'b\n", uq), E("\"abc\\\"\n", uq), E("\"a\\\n", uq),
        E("x \"\n", uq), E("'\\'\n", uq), E("\"a\"\"b\"\n", uq),
        E("\"a\r\n", uq),
    };
#undef E
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        expect_error(t[i].s, t[i].len, BIG, t[i].err);
    /* longer than max_request itself */
    expect_error(S("*1\r\n$101\r\n"), 100, bl);
    /* the largest count is accepted */
    expect_again(S("*1048576\r\n"), BIG);
    /* decided only once the line is complete, as in Redis */
    expect_again(S("*1\r\nX3"), BIG);
}
END_TEST

START_TEST(test_too_big_count_strings)
{
    char *s;

    /* no '\r' in the first RESP_INLINE_MAX + 1 bytes of a header line */
    s = repeat('1', RESP_INLINE_MAX, "*", "");
    expect_error(s, strlen(s), BIG, "too big mbulk count string");
    s[RESP_INLINE_MAX] = '\0';
    expect_again(s, strlen(s), BIG);
    free(s);
    s = repeat('1', RESP_INLINE_MAX, "*1\r\n$", "");
    expect_error(s, strlen(s), BIG, "too big bulk count string");
    free(s);
    /* a '\r' right at the limit still ends the line */
    s = repeat('1', RESP_INLINE_MAX - 1, "*", "\r\n");
    expect_error(s, strlen(s), BIG, "invalid multibulk length");
    free(s);
}
END_TEST

START_TEST(test_nul_hides_line_end)
{
    static const char mb[] = "*1\0\r\n$1\r\na\r\n";
    static const char il[] = "GET a\0b\r\nPING\r\n";
    char *s;

    /* Redis searches line ends with strchr: nothing after a NUL counts */
    expect_again(S(mb), BIG);
    expect_again(S(il), BIG);
    expect_again(S("*1\r\n$\0\r\n"), BIG);
    s = repeat('\n', RESP_INLINE_MAX + 1, "", "");
    s[0] = '\0';
    expect_error(s, RESP_INLINE_MAX + 1, BIG, "too big inline request");
    expect_again(s, RESP_INLINE_MAX, BIG);
    free(s);
    s = repeat('\r', RESP_INLINE_MAX + 1, "", "");
    s[0] = '*';
    s[1] = '\0';
    expect_error(s, RESP_INLINE_MAX + 1, BIG, "too big mbulk count string");
    expect_again(s, RESP_INLINE_MAX, BIG);
    free(s);
}
END_TEST

/* ---- parser: inline ---- */

START_TEST(test_inline_basic)
{
    const char *const *a1 = A("GET", "k");

    expect_args(W("GET k\r\n"), 1, 2, a1, NULL);
    expect_args(W("GET k\n"), 1, 2, a1, NULL);
    expect_args(W("  SET \t a   b  \r\n"), 1, 3, A("SET", "a", "b"), NULL);
    /* only space, tab, CR and LF end an unquoted word; \v \f are skipped
       between words */
    expect_args(W("\v a\vb\fc\r\n"), 1, 1, A("a\vb\fc"), NULL);
    expect_args(W("a\vb \f c\n"), 1, 2, A("a\vb", "c"), NULL);
    /* the CR before LF is dropped; another one is a separator */
    expect_args(W("GET k\r\r\n"), 1, 2, a1, NULL);
    /* empty lines */
    expect_args(W("\r\n"), 1, 0, NULL, NULL);
    expect_args(W("\n"), 1, 0, NULL, NULL);
    expect_args(W(" \t \r\n"), 1, 0, NULL, NULL);
    expect_again(S("GET k\r"), BIG);
    expect_again(S("GET k"), BIG);
}
END_TEST

START_TEST(test_inline_quotes)
{
    expect_args(W("SET \"a b\" 'c d'\r\n"), 1, 3, A("SET", "a b", "c d"), NULL);
    expect_args(W("\"\\x41\\n\\r\\t\\b\\a\\\\\\\"\\q\" \"\\x4g\" "
                  "\"\\xFf\\x01\"\n"), 1, 3,
                A("A\n\r\t\b\a\\\"q", "x4g", "\xff\x01"), NULL);
    expect_args(W("'it\\'s' 'a\\nb' \"\" ''\r\n"), 1, 4,
                A("it's", "a\\nb", "", ""), NULL);
    /* quotes may start inside a word; a quoted CR is kept */
    expect_args(W("ab\"cd\" e' f' \"\r\"\r\n"), 1, 3, A("abcd", "e f", "\r"),
                NULL);
    /* a closing quote may be followed by any blank */
    expect_args(W("\"a\"\v'b'\fc\n"), 1, 3, A("a", "b", "c"), NULL);
    /* a NUL decoded from \x00 is an ordinary byte */
    expect_args(W("\"a\\x00b\"\n"), 1, 1, A("a\0b"), (const size_t[]){ 3 });
}
END_TEST

START_TEST(test_inline_too_big)
{
    char *s = repeat('a', RESP_INLINE_MAX + 1, "", "\n");
    struct resp_parser p;

    /* RESP_INLINE_MAX + 1 bytes without a newline */
    expect_error(s, RESP_INLINE_MAX + 1, BIG, "too big inline request");
    expect_error(s, RESP_INLINE_MAX + 2, BIG, "too big inline request");
    expect_again(s, RESP_INLINE_MAX, BIG);
    /* a line of exactly RESP_INLINE_MAX bytes is fine */
    s[RESP_INLINE_MAX] = '\n';
    resp_parser_init(&p, BIG);
    ck_assert_int_eq(resp_parse_request(&p, s, RESP_INLINE_MAX + 1), RESP_OK);
    ck_assert_int_eq(p.argc, 1);
    ck_assert_uint_eq(p.argv[0].len, RESP_INLINE_MAX);
    ck_assert_uint_eq(p.consumed, RESP_INLINE_MAX + 1);
    ck_assert_uint_le(p.inl_cap, RESP_INLINE_MAX);
    resp_parser_free(&p);
    free(s);
}
END_TEST

/* ---- parser: limits, hints, lifecycle ---- */

START_TEST(test_max_request)
{
    static const char req[] = "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n"; /* 24 */
    struct resp_parser p;

    ck_assert_uint_eq(sizeof(req) - 1, 24);
    expect_args(S(req), 24, 24, 0, 2, A("GET", "hello"), NULL);
    expect_error(S(req), 23, "too big request");
    /* known from the bulk header alone: the body is never buffered */
    resp_parser_init(&p, 100);
    ck_assert_int_eq(resp_parse_request(&p, S("*1\r\n$90\r\n")), RESP_ERROR);
    ck_assert_str_eq(p.err, "too big request");
    resp_parser_free(&p);
    /* ...counting the smallest possible remaining arguments */
    expect_error(S("*3\r\n$80\r\n"), 100, "too big request");
    expect_again(S("*3\r\n$70\r\n"), 100);
    /* known from the count alone */
    expect_error(S("*20\r\n"), 100, "too big request");
    expect_again(S("*15\r\n"), 100);
    /* header lines and inline lines count too */
    expect_error(S("*1\r\n$1"), 5, "too big request");
    expect_error(S("GET abcdefgh\r\n"), 10, "too big request");
    expect_args(S("GET abcde\r\n"), 11, 11, 1, 2,
                A("GET", "abcde"), NULL);
    expect_error(S("GET abcde\r\n"), 10, "too big request");
    expect_args(S("*0\r\n"), 4, 4, 0, 0, NULL, NULL);
    expect_error(S("*0\r\n"), 3, "too big request");
}
END_TEST

START_TEST(test_need_hint)
{
    static const struct { const char *s; size_t len, need; } t[] = {
        { S(""), 1 }, { S("*1\r\n$5"), 7 }, { S("*1\r\n$5\r"), 8 },
        /* inside a body: where the body and its two trailing bytes end */
        { S("*1\r\n$5\r\nhel"), 15 }, { S("*1\r\n$5\r\nhello\r"), 15 },
    };
    struct resp_parser p;
    size_t i;

    resp_parser_init(&p, BIG);
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ck_assert_int_eq(resp_parse_request(&p, t[i].s, t[i].len), RESP_AGAIN);
        ck_assert_uint_eq(p.need, t[i].need);
    }
    ck_assert_int_eq(resp_parse_request(&p, S("*1\r\n$5\r\nhello\r\n")),
                     RESP_OK);
    ck_assert_uint_eq(p.consumed, 15);
    resp_parser_free(&p);
}
END_TEST

START_TEST(test_pipelined)
{
    static const char buf[] =
        "*1\r\n$4\r\nPING\r\n"
        "GET a\r\n"
        "\r\n"
        "*0\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"
        "SET k 'v v'\n"
        "*1\r\n$4\r\nEC";
    static const int argcs[] = { 1, 2, 0, 0, 2, 3 };
    static const char *const first[] = { "PING", "GET", NULL, NULL, "GET",
                                         "SET" };
    struct resp_parser p;
    size_t off = 0;
    int i;

    resp_parser_init(&p, BIG);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(resp_parse_request(&p, buf + off,
                                            sizeof(buf) - 1 - off), RESP_OK);
        ck_assert_int_eq(p.argc, argcs[i]);
        if (first[i] != NULL) {
            ck_assert_uint_eq(p.argv[0].len, strlen(first[i]));
            ck_assert(memcmp(resp_arg_ptr(&p, buf + off, 0), first[i],
                             strlen(first[i])) == 0);
        }
        off += p.consumed;
        if (i % 2)
            resp_parser_reset(&p); /* otherwise implicit */
    }
    ck_assert_int_eq(resp_parse_request(&p, buf + off, sizeof(buf) - 1 - off),
                     RESP_AGAIN);
    ck_assert_uint_eq(p.need, 14);
    resp_parser_free(&p);
}
END_TEST

START_TEST(test_lifecycle_and_storage)
{
    struct resp_parser p;
    const struct resp_arg *argv;
    struct dbuf big = { 0 };
    size_t i;
    const size_t n = 5000;

    resp_parser_init(&p, BIG);
    ck_assert_ptr_null(p.argv);
    /* an error stays until a reset */
    ck_assert_int_eq(resp_parse_request(&p, S("*x\r\n")), RESP_ERROR);
    ck_assert_int_eq(resp_parse_request(&p, S("PING\r\n")), RESP_ERROR);
    ck_assert_str_eq(p.err, "invalid multibulk length");
    resp_parser_reset(&p);
    ck_assert_int_eq(resp_parse_request(&p, S("*2\r\n$1\r\na\r\n$1\r\nb\r\n")),
                     RESP_OK);
    argv = p.argv;
    resp_parser_reset(&p);
    ck_assert_int_eq(resp_parse_request(&p, S("*1\r\n$1\r\nc\r\n")), RESP_OK);
    ck_assert_ptr_eq(p.argv, argv); /* no new allocation */
    resp_parser_reset(&p);

    /* a claimed count does not preallocate: storage follows the arguments
       actually parsed */
    resp_parser_free(&p);
    resp_parser_init(&p, BIG);
    ck_assert_int_eq(resp_parse_request(&p, S("*1048576\r\n$1\r\na\r\n")),
                     RESP_AGAIN);
    ck_assert_int_eq(p.argc, 1);
    ck_assert_uint_le(p.argv_cap, 16);
    resp_parser_reset(&p);

    /* many arguments: all there, storage dropped on reset afterwards */
    dputf(&big, "*%zu\r\n", n);
    for (i = 0; i < n; i++)
        dputf(&big, "$1\r\n%c\r\n", (int)('a' + i % 26));
    ck_assert_int_eq(resp_parse_request(&p, big.b, big.len), RESP_OK);
    ck_assert_int_eq(p.argc, (int)n);
    ck_assert_uint_eq(p.consumed, big.len);
    for (i = 0; i < n; i++) {
        ck_assert_uint_eq(p.argv[i].len, 1);
        ck_assert_int_eq(*resp_arg_ptr(&p, big.b, (int)i), 'a' + (int)(i % 26));
    }
    ck_assert_uint_le(p.argv_cap, 2 * n);
    resp_parser_reset(&p);
    ck_assert_uint_eq(p.argv_cap, 0);
    free(big.b);
    resp_parser_free(&p);
    ck_assert_ptr_null(p.argv);
    ck_assert_ptr_null(p.inl);
}
END_TEST

START_TEST(test_split_invariance_table)
{
    static const struct { const char *s; size_t len; size_t max; } cases[] = {
        { S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\n"), BIG },
        { S("*1\r\n$0\r\n\r\n"), BIG },
        { S("*-1\r\n"), BIG },
        { S("*2\r\n$1\r\na\r\n$x\r\n"), BIG },
        { S("*2\r\n$1\r\na\r\n#1\r\n"), BIG },
        { S("*1\r\n$20\r\n"), 20 },
        { S("*12345678901234567890123\r\n"), 10 },
        { S("*1\r\n$1234567890123\r\n"), 10 },
        { S("GET \"a\\x41\" 'b\\'c' d\r\n"), BIG },
        { S("GET \"a\\x41\" 'b\\'c' d\r\n"), 12 },
        { S("SET \"unterminated\r\n"), BIG },
        { S("SET \"unterminated\r\n"), 10 },
        { S("\r\n"), BIG },
        { S("x\0y\nz\n"), BIG },
        { S("*1\r\n$1\0\r\n"), BIG },
        { S("\0"), 1 },
    };
    struct snap sn;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_checked(cases[i].s, cases[i].len, cases[i].max, &sn);
    /* every size limit around one request */
    for (i = 0; i <= 14; i++) {
        parse_checked(S("*1\r\n$3\r\nabc\r\n"), i, &sn);
        ck_assert_int_eq(sn.st, i >= 13 ? RESP_OK : RESP_ERROR);
    }
}
END_TEST

/* ---- randomized round trip: requests ---- */

/* Append one inline-safe encoding of arg to d, picking a quoting style the
 * argument allows. */
static void encode_inline_arg(struct dbuf *d, const char *a, size_t n,
                              uint64_t *rng)
{
    size_t i;
    int plain = n > 0, single = 1;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            plain = 0;
        if (c == '\'' || c == '\\' || c == '\n' || c == '\0')
            single = 0;
    }
    if (plain && rng_below(rng, 2)) {
        dput(d, a, n);
    } else if (single && rng_below(rng, 2)) {
        dputs(d, "'");
        dput(d, a, n);
        dputs(d, "'");
    } else {
        dputs(d, "\"");
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char)a[i];

            if (c == '"' || c == '\\')
                dputf(d, "\\%c", c);
            else if (c == '\n')
                dputs(d, "\\n");
            else if (c >= 0x20 && c < 0x7f && rng_below(rng, 4))
                dput(d, a + i, 1);
            else
                dputf(d, "\\x%02x", c);
        }
        dputs(d, "\"");
    }
}

START_TEST(test_random_requests)
{
    static const char alphabet[] = "abcxyz019 \"'\\\r\n\t\v\0*$\xff";
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int round;

    for (round = 0; round < 300; round++) {
        struct dbuf wire = { 0 };
        uint64_t want[12];
        int argcs[12], nreq = 1 + (int)rng_below(&rng, 12), r, j;
        struct resp_parser p;
        size_t off = 0, avail = 0;

        for (r = 0; r < nreq; r++) {
            int inl = rng_below(&rng, 3) == 0;

            argcs[r] = 1 + (int)rng_below(&rng, 8);
            want[r] = HASH0;
            if (!inl)
                dputf(&wire, "*%d\r\n", argcs[r]);
            else if (rng_below(&rng, 2))
                dputs(&wire, " ");
            for (j = 0; j < argcs[r]; j++) {
                char a[400];
                size_t n = rng_below(&rng, 4) ? rng_below(&rng, 12)
                                              : rng_below(&rng, 400), k;

                for (k = 0; k < n; k++)
                    a[k] = rng_below(&rng, 3)
                               ? alphabet[rng_below(&rng, sizeof(alphabet) - 1)]
                               : (char)rng_next(&rng);
                want[r] = hash_arg(want[r], a, n);
                if (inl) {
                    if (j)
                        dputs(&wire, rng_below(&rng, 2) ? " " : " \t ");
                    encode_inline_arg(&wire, a, n, &rng);
                } else {
                    dputf(&wire, "$%zu\r\n", n);
                    dput(&wire, a, n);
                    dputs(&wire, "\r\n");
                }
            }
            if (inl)
                dputs(&wire, rng_below(&rng, 2) ? "\r\n" : "\n");
        }

        /* deliver in random chunks, the way a connection would */
        resp_parser_init(&p, BIG);
        for (r = 0; r < nreq;) {
            enum resp_status st = resp_parse_request(&p, wire.b + off,
                                                     avail - off);
            struct snap sn;

            if (st == RESP_AGAIN) {
                ck_assert_uint_gt(p.need, avail - off);
                ck_assert_uint_lt(avail, wire.len);
                avail += 1 + rng_below(&rng, rng_below(&rng, 2) ? 8 : 600);
                if (avail > wire.len)
                    avail = wire.len;
                continue;
            }
            snap_take(&sn, &p, wire.b + off, st);
            ck_assert_msg(st == RESP_OK, "round %d req %d: %s", round, r,
                          sn.err);
            ck_assert_int_eq(sn.argc, argcs[r]);
            ck_assert(sn.args == want[r]);
            off += p.consumed;
            r++;
        }
        ck_assert_uint_eq(off, wire.len);
        resp_parser_free(&p);
        free(wire.b);
    }
}
END_TEST

/* ---- scanner ---- */

/* Scan one reply from buf in a single call. Returns bytes used or -1. */
static ssize_t scan_once(const char *buf, size_t len, struct resp_scanner *s)
{
    resp_scan_init(s);
    return resp_scan(s, buf, len);
}

static void expect_reply(const char *buf, size_t len, size_t used, char type,
                         long long num)
{
    struct resp_scanner s, t;
    size_t cut, i;
    ssize_t r;

    r = scan_once(buf, len, &s);
    ck_assert_int_eq(r, (ssize_t)used);
    ck_assert(s.done);
    ck_assert_int_eq(s.type, type);
    ck_assert_int_eq(s.num, num);
    /* split in two at every offset */
    for (cut = 0; cut <= used; cut++) {
        resp_scan_init(&t);
        ck_assert_int_eq(resp_scan(&t, buf, cut), (ssize_t)cut);
        ck_assert(cut == used ? t.done : !t.done);
        if (cut < used)
            ck_assert_int_eq(resp_scan(&t, buf + cut, len - cut),
                             (ssize_t)(used - cut));
        ck_assert(t.done);
        ck_assert_int_eq(t.type, type);
        ck_assert_int_eq(t.num, num);
    }
    /* one byte at a time */
    resp_scan_init(&t);
    for (i = 0; i < used; i++) {
        ck_assert(!t.done);
        ck_assert_int_eq(resp_scan(&t, buf + i, 1), 1);
    }
    ck_assert(t.done);
    ck_assert_int_eq(resp_scan(&t, buf, len), 0);
    ck_assert_int_eq(t.num, num);
}

static void expect_garbage(const char *buf, size_t len)
{
    struct resp_scanner s;
    size_t i;
    ssize_t r = 0;

    ck_assert_msg(scan_once(buf, len, &s) == -1, "accepted: %.*s", (int)len,
                  buf);
    ck_assert_int_eq(resp_scan(&s, "+OK\r\n", 5), -1); /* sticky */
    resp_scan_init(&s);
    for (i = 0; i < len && r != -1; i++)
        r = resp_scan(&s, buf + i, 1);
    ck_assert_int_eq(r, -1);
}

START_TEST(test_scan_simple)
{
    expect_reply(S("+OK\r\n"), 5, '+', 0);
    expect_reply(S("-ERR bad\r\nrest"), 10, '-', 0);
    expect_reply(S("+\r\n"), 3, '+', 0);
    expect_reply(S(":123\r\n"), 6, ':', 123);
    expect_reply(S(":0\r\n"), 4, ':', 0);
    expect_reply(S(":-5\r\n"), 5, ':', -5);
    expect_reply(S(":9223372036854775807\r\n"), 22, ':', INT64_MAX);
    expect_reply(S(":-9223372036854775808\r\n"), 23, ':', INT64_MIN);
    expect_reply(S("$3\r\nfoo\r\n"), 9, '$', 3);
    expect_reply(S("$4\r\n\r\n\r\n\r\n"), 10, '$', 4);
    expect_reply(S("$0\r\n\r\n"), 6, '$', 0);
    expect_reply(S("$-1\r\n"), 5, '$', -1);
    expect_reply(S("*-1\r\n"), 5, '*', -1);
    expect_reply(S("*0\r\n:1\r\n"), 4, '*', 0);
}
END_TEST

START_TEST(test_scan_nested)
{
    static const char r1[] =
        "*4\r\n*2\r\n:1\r\n$-1\r\n*-1\r\n*0\r\n*1\r\n*1\r\n$2\r\nab\r\n";
    static const char r2[] = "*3\r\n+a\r\n-b\r\n*2\r\n$1\r\n*\r\n:7\r\n+x\r\n";
    struct resp_scanner s;
    struct dbuf d = { 0 };
    int i;

    expect_reply(S(r1), sizeof(r1) - 1, '*', 4);
    expect_reply(S(r2), sizeof(r2) - 5, '*', 3); /* "+x\r\n" is next */
    /* no depth limit */
    for (i = 0; i < 100000; i++)
        dputs(&d, "*1\r\n");
    dputs(&d, ":1\r\n");
    ck_assert_int_eq(scan_once(d.b, d.len, &s), (ssize_t)d.len);
    ck_assert(s.done);
    ck_assert_int_eq(s.num, 1);
    free(d.b);
}
END_TEST

START_TEST(test_scan_pipeline)
{
    static const char buf[] = "+OK\r\n:1\r\n$3\r\nabc\r\n*2\r\n:1\r\n:2\r\n$-1"
                              "\r\n-E\r\n";
    static const size_t ends[] = { 5, 9, 18, 30, 35, 39 };
    static const char types[] = { '+', ':', '$', '*', '$', '-' };
    struct resp_scanner s;
    size_t off = 0;
    int i;

    for (i = 0; i < 6; i++) {
        ssize_t r = scan_once(buf + off, sizeof(buf) - 1 - off, &s);

        ck_assert(s.done);
        ck_assert_int_eq(s.type, types[i]);
        off += (size_t)r;
        ck_assert_uint_eq(off, ends[i]);
    }
    /* a partial reply takes everything and is not done */
    ck_assert_int_eq(scan_once(S("*2\r\n:1\r\n$5\r\nab"), &s), 14);
    ck_assert(!s.done);
    ck_assert_int_eq(resp_scan(&s, S("cde\r\n")), 5);
    ck_assert(s.done);
    ck_assert_int_eq(resp_scan(&s, "", 0), 0);
}
END_TEST

START_TEST(test_scan_limits)
{
    struct resp_scanner s;
    size_t off, len;
    ssize_t r;
    char *line;

    /* the largest lengths are accepted */
    ck_assert_int_eq(scan_once(S("$536870912\r\n"), &s), 12);
    ck_assert(!s.done);
    ck_assert_int_eq(scan_once(S("*2147483648\r\n"), &s), 13);
    ck_assert(!s.done);
    line = repeat('a', 64 * 1024, "+", "\r\n");
    ck_assert_int_eq(scan_once(line, strlen(line), &s),
                     (ssize_t)strlen(line));
    ck_assert(s.done);
    free(line);
    line = repeat('a', 64 * 1024 + 1, "-", "\r\n");
    expect_garbage(line, strlen(line));
    free(line);
    line = repeat('0', 64 * 1024 + 1, ":", "\r\n");
    expect_garbage(line, strlen(line));
    free(line);
    /* a 3 MB body of CRs, skipped in 64 KB chunks */
    line = repeat('\r', 3000000, "$3000000\r\n", "\r\n+");
    len = strlen(line);
    resp_scan_init(&s);
    for (off = 0; !s.done; off += (size_t)r) {
        r = resp_scan(&s, line + off, len - off < 65536 ? len - off : 65536);
        ck_assert_int_ge(r, 0);
    }
    ck_assert_uint_eq(off, len - 1);
    ck_assert_int_eq(s.num, 3000000);
    free(line);
}
END_TEST

START_TEST(test_scan_garbage)
{
    static const char *const bad[] = {
        "?x\r\n", "\r\n", "$abc\r\n", ":\r\n", ":-\r\n", ":12a\r\n",
        ":1 \r\n", ": 1\r\n", ":--1\r\n", ":1-\r\n", "$-2\r\n", "$-0\r\n",
        "$536870913\r\n", "*-2\r\n", "*2147483649\r\n", "$3\r\nfooXY",
        "$3\r\nfoo\rX", "$0\r\nX", "+OK\rX", ":1\rX",
        ":9223372036854775808\r\n",
        ":-9223372036854775809\r\n", "*2\r\n:1\r\n?\r\n", "*1\r\n*1\r\nx",
        "$\r\n", "*\r\n", "$1\n",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_garbage(bad[i], strlen(bad[i]));
}
END_TEST

/* Append a random reply; returns its top-level number. */
static long long gen_reply(struct dbuf *d, uint64_t *rng, int depth,
                           char *type)
{
    static const long long edges[] = { 0, 1, -1, INT64_MAX, INT64_MIN };
    long long v;
    size_t n, i;
    char sub;

    switch (rng_below(rng, 5)) {
    case 0:
    case 1:
        *type = rng_below(rng, 2) ? '+' : '-';
        dput(d, type, 1);
        dput_random(d, rng, rng_below(rng, 20), 1);
        dputs(d, "\r\n");
        return 0;
    case 2:
        *type = ':';
        i = rng_below(rng, 7);
        v = i < 5 ? edges[i] : (long long)(rng_next(rng) >> (i == 5 ? 1 : 50));
        if (v > 0 && rng_below(rng, 2))
            v = -v;
        dputf(d, ":%lld\r\n", v);
        return v;
    default:
        /* '$' or '*' (not below depth 3), sometimes the null one */
        *type = depth > 3 || rng_below(rng, 2) ? '$' : '*';
        if (rng_below(rng, 6) == 0) {
            dputf(d, "%c-1\r\n", *type);
            return -1;
        }
        n = *type == '*' ? rng_below(rng, 6) : rng_below(rng, 4)
                                                  ? rng_below(rng, 16)
                                                  : rng_below(rng, 3000);
        dputf(d, "%c%zu\r\n", *type, n);
        if (*type == '$') {
            dput_random(d, rng, n, 0);
            dputs(d, "\r\n");
        }
        for (i = 0; *type == '*' && i < n; i++)
            gen_reply(d, rng, depth + 1, &sub);
        return (long long)n;
    }
}

START_TEST(test_random_replies)
{
    uint64_t rng = 0x2545f4914f6cdd1dULL;
    int round;

    for (round = 0; round < 500; round++) {
        struct dbuf d = { 0 };
        size_t ends[16];
        char types[16];
        long long nums[16];
        int nrep = 1 + (int)rng_below(&rng, 16), i, k = 0;
        struct resp_scanner s;
        size_t off = 0;

        for (i = 0; i < nrep; i++) {
            nums[i] = gen_reply(&d, &rng, 0, &types[i]);
            ends[i] = d.len;
        }
        resp_scan_init(&s);
        while (off < d.len) {
            size_t chunk = 1 + rng_below(&rng, rng_below(&rng, 2) ? 4 : 700);
            ssize_t r;

            if (chunk > d.len - off)
                chunk = d.len - off;
            r = resp_scan(&s, d.b + off, chunk);
            ck_assert_int_ge(r, 0);
            off += (size_t)r;
            if (s.done) {
                ck_assert_int_lt(k, nrep);
                ck_assert_uint_eq(off, ends[k]);
                ck_assert_int_eq(s.type, types[k]);
                ck_assert_int_eq(s.num, nums[k]);
                k++;
                resp_scan_init(&s);
            } else {
                ck_assert_uint_eq((size_t)r, chunk);
            }
        }
        ck_assert_int_eq(k, nrep);
        free(d.b);
    }
}
END_TEST

static Suite *resp_suite(void)
{
    const TTest *tests[] = {
        /* parser */
        test_multibulk, test_error_texts,
        test_too_big_count_strings, test_nul_hides_line_end,
        test_inline_basic, test_inline_quotes, test_inline_too_big,
        test_max_request, test_need_hint, test_pipelined,
        test_lifecycle_and_storage,
        test_split_invariance_table, test_random_requests,
        /* scanner */
        test_scan_simple, test_scan_nested, test_scan_pipeline,
        test_scan_limits, test_scan_garbage, test_random_replies,
    };
    Suite *s = suite_create("resp");
    TCase *tc = tcase_create("resp");
    size_t i;

    tcase_set_timeout(tc, 120);
    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(resp_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
