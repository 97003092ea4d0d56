/*
 * check_hist.c — unit tests for the latency histograms: percentile accuracy
 * against exact sorted data, range boundaries, overflow, merge and the
 * 'le' counting used by the Prometheus renderer.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#define NVALUES 200000

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
    return lo + rng_next() % (hi - lo + 1);
}

static uint64_t rng_log(uint64_t lo, uint64_t hi)
{
    double u = (double)(rng_next() >> 11) / 9007199254740992.0;
    double v = exp(log((double)lo) + u * (log((double)hi) - log((double)lo)));

    if (v < (double)lo)
        return lo;
    if (v > (double)hi)
        return hi;
    return (uint64_t)v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Recorded value at nearest rank ceil(ppm / 1e6 * n) of sorted data. */
static uint64_t exact_at(const uint64_t *sorted, size_t n, uint64_t ppm)
{
    uint64_t rank = (ppm * n + 999999) / 1000000;

    if (rank == 0)
        rank = 1;
    return sorted[rank - 1];
}

/* Values <= bound in sorted data. */
static uint64_t exact_le(const uint64_t *sorted, size_t n, uint64_t bound)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= bound)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct hist *hist_new(void)
{
    struct hist *h = malloc(sizeof(*h));

    ck_assert_ptr_nonnull(h);
    hist_init(h);
    return h;
}

/* got is within 1% of want. */
static int near(uint64_t got, uint64_t want)
{
    uint64_t err = got > want ? got - want : want - got;

    return err * 100 <= want;
}

static void check_rank(const struct hist *h, const uint64_t *sorted,
                       size_t n, uint64_t ppm)
{
    uint64_t want = exact_at(sorted, n, ppm);
    uint64_t got = hist_percentile(h, (double)ppm / 10000.0);

    ck_assert_msg(near(got, want), "p%.4f: got %llu want %llu",
                  (double)ppm / 10000.0, (unsigned long long)got,
                  (unsigned long long)want);
}

/* Record vals into a histogram and check every percentile from 0 to 100 in
 * steps of 0.1 plus the far tail against the exact sorted values. */
static void check_distribution(uint64_t *vals, size_t n)
{
    static const uint64_t tail[] = { 999000, 999500, 999900, 999990,
                                     999999 };
    struct hist *h = hist_new();

    for (size_t i = 0; i < n; i++)
        hist_record(h, vals[i]);
    qsort(vals, n, sizeof(vals[0]), cmp_u64);
    ck_assert_uint_eq(h->count, n);
    ck_assert_uint_eq(h->min_ns, vals[0]);
    ck_assert_uint_eq(h->max_ns, vals[n - 1]);
    for (uint64_t ppm = 0; ppm <= 1000000; ppm += 1000)
        check_rank(h, vals, n, ppm);
    for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
        check_rank(h, vals, n, tail[i]);
    ck_assert_uint_eq(hist_percentile(h, 100.0), vals[n - 1]);
    free(h);
}

START_TEST(test_uniform)
{
    uint64_t *v = malloc(NVALUES * sizeof(*v));

    ck_assert_ptr_nonnull(v);
    rng_state = 1;
    for (size_t i = 0; i < NVALUES; i++)
        v[i] = rng_range(HIST_MIN_NS, HIST_MAX_NS);
    check_distribution(v, NVALUES);
    for (size_t i = 0; i < NVALUES; i++)
        v[i] = rng_range(HIST_MIN_NS, 20000);   /* narrow: fine buckets */
    check_distribution(v, NVALUES);
    free(v);
}
END_TEST

START_TEST(test_log_uniform)
{
    uint64_t *v = malloc(NVALUES * sizeof(*v));

    ck_assert_ptr_nonnull(v);
    rng_state = 2;
    for (size_t i = 0; i < NVALUES; i++)
        v[i] = rng_log(HIST_MIN_NS, HIST_MAX_NS);
    check_distribution(v, NVALUES);
    free(v);
}
END_TEST

START_TEST(test_constant)
{
    static const uint64_t consts[] = { 1000, 1001, 12345, 999999999,
                                       HIST_MAX_NS };
    uint64_t *v = malloc(1000 * sizeof(*v));

    ck_assert_ptr_nonnull(v);
    for (size_t c = 0; c < sizeof(consts) / sizeof(consts[0]); c++) {
        for (size_t i = 0; i < 1000; i++)
            v[i] = consts[c];
        check_distribution(v, 1000);
    }
    free(v);
}
END_TEST

START_TEST(test_bimodal)
{
    uint64_t *v = malloc(NVALUES * sizeof(*v));

    ck_assert_ptr_nonnull(v);
    rng_state = 3;
    for (size_t i = 0; i < NVALUES; i++) {
        /* 95% cache hits around 4-30 us, 5% upstream fills 0.5-20 ms */
        if (rng_next() % 100 < 95)
            v[i] = rng_log(4000, 30000);
        else
            v[i] = rng_log(500000, 20000000);
    }
    check_distribution(v, NVALUES);
    free(v);
}
END_TEST

START_TEST(test_small_counts)
{
    /* Nearest rank with few values: p50 of {10us, 20us} is 10us. */
    struct hist *h = hist_new();

    hist_record(h, 20000);
    hist_record(h, 10000);
    ck_assert(near(hist_percentile(h, 50.0), 10000));
    ck_assert_uint_eq(hist_percentile(h, 50.1), 20000);
    ck_assert(near(hist_percentile(h, 0.0), 10000));
    ck_assert(near(hist_percentile(h, -5.0), 10000));
    ck_assert(near(hist_percentile(h, NAN), 10000));
    ck_assert_uint_eq(hist_percentile(h, 250.0), 20000);
    ck_assert_uint_eq(hist_percentile(h, INFINITY), 20000);
    free(h);
}
END_TEST

START_TEST(test_empty)
{
    struct hist *h = hist_new();

    ck_assert_uint_eq(hist_percentile(h, 50.0), 0);
    ck_assert_uint_eq(hist_percentile(h, 100.0), 0);
    ck_assert_uint_eq(hist_count_le(h, HIST_MAX_NS), 0);
    ck_assert_uint_eq(hist_count_le(h, UINT64_MAX), 0);
    ck_assert_uint_eq(h->min_ns, 0);
    ck_assert_uint_eq(h->max_ns, 0);
    free(h);
}
END_TEST

START_TEST(test_below_range)
{
    struct hist *h = hist_new();

    hist_record(h, 0);
    hist_record(h, 1);
    hist_record(h, 999);
    ck_assert_uint_eq(h->count, 3);
    ck_assert_uint_eq(h->sum_ns, 3000);
    ck_assert_uint_eq(h->min_ns, 1000);
    ck_assert_uint_eq(h->max_ns, 1000);
    ck_assert_uint_eq(h->overflow, 0);
    ck_assert_uint_eq(hist_percentile(h, 50.0), 1000);
    ck_assert_uint_eq(hist_count_le(h, 999), 0);
    ck_assert_uint_eq(hist_count_le(h, 1000), 3);
    ck_assert_uint_eq(h->buckets[0], 3);
    free(h);
}
END_TEST

START_TEST(test_one_us_edge)
{
    /* 1 us is the top edge of the first bucket; 1001 ns is beyond it. */
    struct hist *h = hist_new();

    hist_record(h, 1000);
    hist_record(h, 1001);
    hist_record(h, 2000);
    ck_assert_uint_eq(hist_bucket_upper(0), 1000);
    ck_assert_uint_eq(hist_count_le(h, 1000), 1);
    ck_assert_uint_eq(hist_count_le(h, 1001), 1);       /* mid-bucket */
    ck_assert_uint_eq(hist_count_le(h, 1004), 2);       /* next edge */
    ck_assert_uint_eq(hist_count_le(h, 2000), 3);
    free(h);
}
END_TEST

START_TEST(test_powers_of_two)
{
    for (unsigned k = 10; k <= 35; k++) {
        uint64_t v = 1ULL << k;
        struct hist *h = hist_new();
        uint64_t p;

        hist_record(h, v);
        hist_record(h, v + 1);
        p = hist_percentile(h, 50.0);
        ck_assert_msg(near(p, v), "2^%u: p50 %llu", k,
                      (unsigned long long)p);
        ck_assert_uint_eq(hist_percentile(h, 100.0), v + 1);
        /* Powers of two are exact upper edges. */
        ck_assert_uint_eq(hist_count_le(h, v - 1), 0);
        ck_assert_uint_eq(hist_count_le(h, v), 1);
        ck_assert_uint_eq(hist_count_le(h, v + 1), 2);
        free(h);
    }
}
END_TEST

START_TEST(test_top_of_range)
{
    struct hist *h = hist_new();

    hist_record(h, HIST_MAX_NS);
    ck_assert_uint_eq(h->overflow, 0);
    ck_assert_uint_eq(h->buckets[HIST_NBUCKETS - 1], 1);
    ck_assert_uint_eq(hist_percentile(h, 50.0), HIST_MAX_NS);
    ck_assert_uint_eq(hist_count_le(h, HIST_MAX_NS), 1);
    ck_assert_uint_eq(hist_count_le(h, HIST_MAX_NS - 1), 0);

    hist_record(h, HIST_MAX_NS + 1);
    ck_assert_uint_eq(h->overflow, 1);
    ck_assert_uint_eq(h->count, 2);
    ck_assert_uint_eq(h->max_ns, HIST_MAX_NS + 1);
    ck_assert_uint_eq(h->sum_ns, 2 * HIST_MAX_NS + 1);
    ck_assert_uint_eq(h->buckets[HIST_NBUCKETS - 1], 1);
    ck_assert_uint_eq(hist_count_le(h, HIST_MAX_NS), 1);
    ck_assert_uint_eq(hist_count_le(h, HIST_MAX_NS + 1), 2);
    ck_assert_uint_eq(hist_percentile(h, 50.0), HIST_MAX_NS);
    ck_assert_uint_eq(hist_percentile(h, 99.0), HIST_MAX_NS + 1);
    free(h);
}
END_TEST

START_TEST(test_overflow_huge)
{
    struct hist *h = hist_new();

    hist_record(h, 5000);
    hist_record(h, UINT64_MAX);
    hist_record(h, UINT64_MAX);
    ck_assert_uint_eq(h->count, 3);
    ck_assert_uint_eq(h->overflow, 2);
    ck_assert_uint_eq(h->max_ns, UINT64_MAX);
    ck_assert_uint_eq(h->sum_ns, UINT64_MAX);           /* saturated */
    ck_assert_uint_eq(hist_percentile(h, 100.0), UINT64_MAX);
    ck_assert_uint_eq(hist_percentile(h, 50.0), UINT64_MAX);
    ck_assert_uint_eq(hist_count_le(h, HIST_MAX_NS), 1);
    ck_assert_uint_eq(hist_count_le(h, UINT64_MAX - 1), 1);
    ck_assert_uint_eq(hist_count_le(h, UINT64_MAX), 3);
    free(h);
}
END_TEST

START_TEST(test_merge)
{
    struct hist *a = hist_new(), *b = hist_new(), *all = hist_new();
    struct hist *empty = hist_new();

    rng_state = 4;
    for (int i = 0; i < 50000; i++) {
        uint64_t v = rng_log(1, HIST_MAX_NS * 2);
        hist_record(i % 3 ? a : b, v);
        hist_record(all, v);
    }
    hist_record(b, 7);                  /* the overall minimum is in b */
    hist_record(all, 7);
    hist_merge(a, b);
    ck_assert_int_eq(memcmp(a, all, sizeof(*a)), 0);
    ck_assert_uint_eq(a->min_ns, HIST_MIN_NS);

    hist_merge(a, empty);
    ck_assert_int_eq(memcmp(a, all, sizeof(*a)), 0);
    hist_merge(empty, all);
    ck_assert_int_eq(memcmp(empty, all, sizeof(*a)), 0);
    free(a);
    free(b);
    free(all);
    free(empty);
}
END_TEST

START_TEST(test_merge_min)
{
    /* Merging into an empty histogram must take src's minimum, not 0. */
    struct hist *dst = hist_new(), *src = hist_new();

    hist_record(src, 50000);
    hist_merge(dst, src);
    ck_assert_uint_eq(dst->min_ns, 50000);
    ck_assert_uint_eq(hist_percentile(dst, 0.0), 50000);
    free(dst);
    free(src);
}
END_TEST

START_TEST(test_reset)
{
    struct hist *h = hist_new(), *zero = hist_new();

    hist_record(h, 12345);
    hist_record(h, UINT64_MAX);
    hist_reset(h);
    ck_assert_int_eq(memcmp(h, zero, sizeof(*h)), 0);
    hist_record(h, 3000);
    ck_assert_uint_eq(h->min_ns, 3000);
    free(h);
    free(zero);
}
END_TEST

START_TEST(test_bucket_layout)
{
    uint64_t prev = 0;

    ck_assert_uint_eq(hist_bucket_upper(0), HIST_MIN_NS);
    ck_assert_uint_eq(hist_bucket_upper(HIST_NBUCKETS - 1), HIST_MAX_NS);
    ck_assert_uint_eq(hist_bucket_upper(HIST_NBUCKETS), 0);
    for (size_t i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t up = hist_bucket_upper(i);

        ck_assert_uint_gt(up, prev);
        /* A bucket is at most 1/128 of its lower edge wide. */
        if (i > 0)
            ck_assert_uint_le((up - prev) * 128, prev);
        prev = up;
    }
}
END_TEST

START_TEST(test_bucket_membership)
{
    /* Every edge value is counted by its own bucket and the next value by
     * the following one. */
    struct hist *h = hist_new();

    for (size_t i = 0; i + 1 < HIST_NBUCKETS; i++) {
        uint64_t up = hist_bucket_upper(i);

        hist_reset(h);
        hist_record(h, up);
        hist_record(h, up + 1);
        ck_assert_uint_eq(h->buckets[i], 1);
        ck_assert_uint_eq(h->buckets[i + 1], 1);
    }
    free(h);
}
END_TEST

START_TEST(test_count_le)
{
    uint64_t *v = malloc(NVALUES * sizeof(*v));
    struct hist *h = hist_new();
    uint64_t prev = 0;

    ck_assert_ptr_nonnull(v);
    rng_state = 5;
    for (size_t i = 0; i < NVALUES; i++) {
        v[i] = rng_log(HIST_MIN_NS, HIST_MAX_NS);
        hist_record(h, v[i]);
    }
    qsort(v, NVALUES, sizeof(v[0]), cmp_u64);
    /* Exact at every bucket edge, monotonic. */
    for (size_t i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t up = hist_bucket_upper(i), n = hist_count_le(h, up);

        ck_assert_uint_eq(n, exact_le(v, NVALUES, up));
        ck_assert_uint_ge(n, prev);
        prev = n;
    }
    /* Anywhere else: never over, at least the count at the edge below. */
    prev = 0;
    for (uint64_t b = 500; b < HIST_MAX_NS * 2; b += b / 97 + 1) {
        uint64_t n = hist_count_le(h, b), want = exact_le(v, NVALUES, b);

        ck_assert_uint_le(n, want);
        ck_assert_uint_ge(n, prev);
        if (b >= HIST_MIN_NS && b < HIST_MAX_NS)
            ck_assert_uint_ge(n, exact_le(v, NVALUES, b - b / 128));
        prev = n;
    }
    free(v);
    free(h);
}
END_TEST

START_TEST(test_prom_bounds)
{
    ck_assert_uint_eq(hist_prom_nbounds, 24);
    ck_assert_uint_eq(hist_prom_bounds[0], HIST_MIN_NS);
    ck_assert_uint_eq(hist_prom_bounds[hist_prom_nbounds - 1], HIST_MAX_NS);
    for (size_t i = 1; i < hist_prom_nbounds; i++)
        ck_assert_uint_gt(hist_prom_bounds[i], hist_prom_bounds[i - 1]);
}
END_TEST

static Suite *hist_suite(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_uniform);
    tcase_add_test(tc, test_log_uniform);
    tcase_add_test(tc, test_constant);
    tcase_add_test(tc, test_bimodal);
    tcase_add_test(tc, test_small_counts);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_below_range);
    tcase_add_test(tc, test_one_us_edge);
    tcase_add_test(tc, test_powers_of_two);
    tcase_add_test(tc, test_top_of_range);
    tcase_add_test(tc, test_overflow_huge);
    tcase_add_test(tc, test_merge);
    tcase_add_test(tc, test_merge_min);
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_bucket_layout);
    tcase_add_test(tc, test_bucket_membership);
    tcase_add_test(tc, test_count_le);
    tcase_add_test(tc, test_prom_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hist_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
