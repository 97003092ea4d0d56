/*
 * hist.h — latency histograms.
 *
 * Log-linear buckets in the HdrHistogram style over 1 us .. 60 s: every power
 * of two is split into 2^HIST_SUB_BITS linear sub-buckets, so a bucket is at
 * most 1/128 of its values wide and a reported value is within 1/256 of the
 * recorded one (bucket midpoint). Buckets are closed at the top: bucket i
 * holds the values in (hist_bucket_upper(i - 1), hist_bucket_upper(i)], and
 * 1 us and every power of two are exact upper edges. Values below 1 us are
 * recorded as 1 us; values above 60 s land in the overflow counter and still
 * count in count/sum/max. Recording is O(1), allocates nothing and uses no
 * floating point. Pure: no clock, no I/O; values are nanoseconds supplied by
 * the caller.
 *
 * Memory: sizeof(struct hist) is 26464 bytes (5 + 3303 uint64_t); the layout
 * is checked at compile time in hist.c. Bucket counters are 64-bit so they
 * never wrap in a long-running process.
 */
#ifndef CORRAL_HIST_H
#define CORRAL_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 7                     /* 128 linear sub-buckets per
                                               power of two: error <= 1/128 */
#define HIST_MIN_NS   1000ULL               /* 1 us */
#define HIST_MAX_NS   60000000000ULL        /* 60 s */

/* Layout (private to hist.c, here only to size the array). A value v is
 * bucketed by x = v - 1 and e, the index of the highest set bit of x; the
 * exponents of HIST_MIN_NS - 1 and HIST_MAX_NS - 1 are fixed below. */
#define HIST_EXP_MIN  9
#define HIST_EXP_MAX  35
#define HIST_RAW_INDEX(x, e) \
    ((((uint64_t)(e) - HIST_EXP_MIN) << HIST_SUB_BITS) + \
     ((uint64_t)(x) >> ((e) - HIST_SUB_BITS)) - (1ULL << HIST_SUB_BITS))
#define HIST_NBUCKETS \
    (HIST_RAW_INDEX(HIST_MAX_NS - 1, HIST_EXP_MAX) - \
     HIST_RAW_INDEX(HIST_MIN_NS - 1, HIST_EXP_MIN) + 1)   /* 3303 */

struct hist {
    uint64_t count;
    uint64_t sum_ns;                    /* saturates at UINT64_MAX */
    uint64_t max_ns;                    /* 0 when empty */
    uint64_t min_ns;                    /* 0 when empty */
    uint64_t overflow;                  /* values above HIST_MAX_NS */
    uint64_t buckets[HIST_NBUCKETS];
};

void hist_init(struct hist *h);
void hist_reset(struct hist *h);

/* Record one value (nanoseconds). Values below 1 us count as 1 us. */
void hist_record(struct hist *h, uint64_t ns);

/* Record n values of ns at once (requests answered in one batch). */
void hist_record_n(struct hist *h, uint64_t ns, uint64_t n);

/* Add src's counts into dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/* Value at percentile p (0..100) in nanoseconds, within 1% of the recorded
 * value at that rank; 0 when empty; max_ns for p == 100. The rank is the
 * nearest rank, ceil(p / 100 * count) (at least 1), with p resolved to
 * 0.0001; p below 0 or NaN counts as 0, above 100 as 100. A rank that falls
 * among the overflow values (above 60 s) reports max_ns. */
uint64_t hist_percentile(const struct hist *h, double p);

/* Number of recorded values <= bound_ns (for Prometheus 'le' buckets). A
 * bound inside a bucket counts that bucket only if the bucket's upper edge is
 * <= bound_ns, so the result never over-counts. Exact when bound_ns is a
 * bucket upper edge, is below min_ns, or is at least max_ns or 60 s. */
uint64_t hist_count_le(const struct hist *h, uint64_t bound_ns);

/* Inclusive upper edge of bucket i in nanoseconds (the top bucket's edge is
 * clipped to HIST_MAX_NS); 0 when i >= HIST_NBUCKETS. Strictly increasing. */
uint64_t hist_bucket_upper(size_t i);

/* The fixed Prometheus bucket bounds, in nanoseconds, ascending: 1, 2.5, 5,
 * 10, ... 500 us, 1 ... 500 ms, 1, 2.5, 5, 10, 30, 60 s. Only 1 us and 60 s
 * are bucket edges; for the others hist_count_le rounds down to the bucket
 * edge below the bound, which is less than 1/128 (0.8%) below it, so an
 * 'le' bucket may miss values in that last sliver but never over-counts. */
extern const uint64_t hist_prom_bounds[];
extern const size_t hist_prom_nbounds;

#endif
