/*
 * hist.c — log-linear latency histograms (layout described in hist.h).
 *
 * A value v in [HIST_MIN_NS, HIST_MAX_NS] is bucketed by x = v - 1: with e
 * the index of the highest set bit of x, the power of two [2^e, 2^(e+1)) is
 * cut into 2^HIST_SUB_BITS sub-buckets of width 2^(e - HIST_SUB_BITS), and
 * the sub-bucket is the next HIST_SUB_BITS bits of x below the top one.
 * Bucketing x rather than v makes every bucket closed at the top, which is
 * what Prometheus 'le' bounds need, and puts 1 us exactly on an edge. Raw
 * indices below that of HIST_MIN_NS are never used and are cut off.
 */
#include "hist.h"

#include <string.h>

#define SUB_COUNT (1ULL << HIST_SUB_BITS)
#define FIRST_RAW HIST_RAW_INDEX(HIST_MIN_NS - 1, HIST_EXP_MIN)

_Static_assert(((HIST_MIN_NS - 1) >> HIST_EXP_MIN) == 1,
               "HIST_EXP_MIN must be the top bit of HIST_MIN_NS - 1");
_Static_assert(((HIST_MAX_NS - 1) >> HIST_EXP_MAX) == 1,
               "HIST_EXP_MAX must be the top bit of HIST_MAX_NS - 1");
_Static_assert(HIST_SUB_BITS >= 6 && HIST_SUB_BITS <= HIST_EXP_MIN,
               "sub-buckets must give <= 1% error and fit the first octave");
_Static_assert(sizeof(struct hist) == (5 + HIST_NBUCKETS) * sizeof(uint64_t),
               "struct hist has no padding (hist.h documents its size)");
_Static_assert(HIST_SUB_BITS != 7 || sizeof(struct hist) == 26464,
               "update the memory figure in hist.h");

const uint64_t hist_prom_bounds[] = {
    1000ULL, 2500ULL, 5000ULL,                          /* 1 .. 5 us */
    10000ULL, 25000ULL, 50000ULL,
    100000ULL, 250000ULL, 500000ULL,
    1000000ULL, 2500000ULL, 5000000ULL,                 /* 1 .. 5 ms */
    10000000ULL, 25000000ULL, 50000000ULL,
    100000000ULL, 250000000ULL, 500000000ULL,
    1000000000ULL, 2500000000ULL, 5000000000ULL,        /* 1 .. 5 s */
    10000000000ULL, 30000000000ULL, 60000000000ULL,
};
const size_t hist_prom_nbounds =
    sizeof(hist_prom_bounds) / sizeof(hist_prom_bounds[0]);

/* Bucket of a value in [HIST_MIN_NS, HIST_MAX_NS]. */
static inline size_t bucket_of(uint64_t ns)
{
    uint64_t x = ns - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(x);

    return (size_t)(HIST_RAW_INDEX(x, e) - FIRST_RAW);
}

/* Exclusive lower and unclipped inclusive upper edge of bucket i. */
static void bucket_edges(size_t i, uint64_t *lo, uint64_t *hi)
{
    uint64_t raw = (uint64_t)i + FIRST_RAW;
    unsigned shift = (unsigned)(HIST_EXP_MIN + (raw >> HIST_SUB_BITS)) -
                     HIST_SUB_BITS;
    uint64_t sub = raw & (SUB_COUNT - 1);

    *lo = (SUB_COUNT + sub) << shift;
    *hi = (SUB_COUNT + sub + 1) << shift;
}

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;

    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
}

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof(*h));
}

void hist_record_n(struct hist *h, uint64_t ns, uint64_t n)
{
    if (n == 0)
        return;
    if (ns < HIST_MIN_NS)
        ns = HIST_MIN_NS;
    if (ns < h->min_ns || h->count == 0)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->count += n;
    h->sum_ns = sat_add(h->sum_ns, n > UINT64_MAX / ns ? UINT64_MAX : ns * n);
    if (ns > HIST_MAX_NS)
        h->overflow += n;
    else
        h->buckets[bucket_of(ns)] += n;
}

void hist_record(struct hist *h, uint64_t ns)
{
    hist_record_n(h, ns, 1);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
    dst->count += src->count;
    dst->sum_ns = sat_add(dst->sum_ns, src->sum_ns);
    dst->overflow += src->overflow;
    for (size_t i = 0; i < HIST_NBUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
}

uint64_t hist_bucket_upper(size_t i)
{
    uint64_t lo, hi;

    if (i >= HIST_NBUCKETS)
        return 0;
    bucket_edges(i, &lo, &hi);
    return hi > HIST_MAX_NS ? HIST_MAX_NS : hi;
}

/* Midpoint of the values bucket i can hold, kept within what was recorded. */
static uint64_t representative(const struct hist *h, size_t i)
{
    uint64_t lo, hi, mid;

    bucket_edges(i, &lo, &hi);
    lo += 1;
    if (lo < HIST_MIN_NS)
        lo = HIST_MIN_NS;
    if (hi > HIST_MAX_NS)
        hi = HIST_MAX_NS;
    mid = lo + (hi - lo) / 2;
    if (mid < h->min_ns)
        mid = h->min_ns;
    if (mid > h->max_ns)
        mid = h->max_ns;
    return mid;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    uint64_t ppm, rank, seen = 0;

    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max_ns;
    if (!(p > 0.0))                     /* negative or NaN */
        p = 0.0;
    ppm = (uint64_t)(p * 10000.0 + 0.5);        /* parts per million */
    if (ppm >= 1000000)
        return h->max_ns;
    rank = (uint64_t)(((unsigned __int128)ppm * h->count + 999999) / 1000000);
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i < HIST_NBUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank)
            return representative(h, i);
    }
    return h->max_ns;                   /* the rank is in the overflow */
}

uint64_t hist_count_le(const struct hist *h, uint64_t bound_ns)
{
    uint64_t n = 0, lo, hi;
    size_t end;

    if (h->count == 0 || bound_ns < h->min_ns)
        return 0;
    if (bound_ns >= h->max_ns)
        return h->count;
    if (bound_ns >= HIST_MAX_NS)
        return h->count - h->overflow;
    /* HIST_MIN_NS <= min_ns <= bound_ns < HIST_MAX_NS */
    end = bucket_of(bound_ns);
    bucket_edges(end, &lo, &hi);
    if (hi == bound_ns)
        end++;
    for (size_t i = 0; i < end; i++)
        n += h->buckets[i];
    return n;
}
