/*
 * hist_record.c — microbenchmark: nanoseconds per hist_record call.
 *
 * Records 100M values (a precomputed table of log-uniform latencies from
 * 1 us to 60 s plus a few out of range, replayed in a loop) and prints the
 * mean cost per call, measured with clock_gettime(CLOCK_MONOTONIC). The cost
 * of the replay loop alone is measured the same way and printed too.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hist.h"

#define NRECORDS   100000000ULL
#define TABLE_BITS 16
#define TABLE_SIZE (1u << TABLE_BITS)

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(void)
{
    uint64_t *table = malloc(TABLE_SIZE * sizeof(*table));
    struct hist *h = malloc(sizeof(*h));
    uint64_t state = 42, t0, t1, t2, check = 0;
    volatile uint64_t sink;

    if (table == NULL || h == NULL) {
        fprintf(stderr, "hist_record: out of memory\n");
        free(table);
        free(h);
        return 1;
    }
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        double u;

        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        u = (double)(state >> 11) / 9007199254740992.0;
        /* log-uniform over 0.5 us .. 120 s: some clamp, some overflow */
        table[i] = (uint64_t)exp(log(500.0) + u * (log(120e9) - log(500.0)));
    }
    hist_init(h);

    t0 = now_ns();
    for (uint64_t i = 0; i < NRECORDS; i++)
        hist_record(h, table[i & (TABLE_SIZE - 1)]);
    t1 = now_ns();
    for (uint64_t i = 0; i < NRECORDS; i++) {
        check += table[i & (TABLE_SIZE - 1)];
        __asm__ volatile("" : "+r"(check));
    }
    t2 = now_ns();
    sink = check;
    (void)sink;

    printf("hist_record: %" PRIu64 " values in %.3f s: %.2f ns/record "
           "(replay loop alone %.2f ns); count %" PRIu64 ", overflow %"
           PRIu64 ", p50 %" PRIu64 " ns, p99 %" PRIu64 " ns\n",
           (uint64_t)NRECORDS, (double)(t1 - t0) / 1e9,
           (double)(t1 - t0) / (double)NRECORDS,
           (double)(t2 - t1) / (double)NRECORDS,
           h->count, h->overflow, hist_percentile(h, 50.0),
           hist_percentile(h, 99.0));
    free(table);
    free(h);
    return 0;
}
