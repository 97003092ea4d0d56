/*
 * check_stats_it.c — the stats port of a running corral, after real traffic
 * of every request class: /metrics passes `promtool check metrics`, every
 * class has counted requests and latency, /stats carries percentiles,
 * /healthz follows the upstream, / is the page.
 */
#include <check.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct proc redis, corral;
static int stats;

static void setup(void)
{
    h_reaper_init();
    ck_assert_int_eq(h_redis_start(&redis, 0), 0);
    stats = h_free_port();
    ck_assert_int_eq(h_corral_start(&corral, redis.port, stats, NULL), 0);
}

static void teardown(void)
{
    h_stop(&corral, SIGTERM);
    h_stop(&redis, SIGTERM);
}

static int paused_get_in_flight(void *arg)
{
    return h_metric(stats, "corral_upstream_fills_total") >= *(long long *)arg;
}

static int lease_parked(void *arg)
{
    return h_metric(stats, "corral_lease_waiting") == 1;
}

/* One request of each class: hit, miss, coalesced, lease_wait, passthrough. */
static void traffic(void)
{
    redisContext *a = h_connect(corral.port), *b = h_connect(corral.port);
    redisContext *r = h_connect(redis.port);
    redisReply *rep;
    long long fills;

    ck_assert(a && b && r);
    ck_assert(h_cmd_is(a, "OK", "SET k v"));            /* passthrough */
    ck_assert(h_cmd_is(a, "v", "GET k"));               /* miss (fill) */
    ck_assert(h_cmd_is(a, "v", "GET k"));               /* hit */

    /* coalesced: two readers of one key while Redis is paused */
    ck_assert(h_cmd_is(r, "OK", "SET c v"));
    fills = h_metric(stats, "corral_upstream_fills_total") + 1;
    ck_assert(h_cmd_is(r, "OK", "CLIENT PAUSE 300 ALL"));
    ck_assert_int_eq(h_send(a, "GET c"), 0);
    ck_assert(h_wait_until(paused_get_in_flight, &fills, 5000));
    ck_assert_int_eq(h_send(b, "GET c"), 0);
    rep = h_reply_within(a, 5000);
    ck_assert(rep && rep->type == REDIS_REPLY_STRING);
    freeReplyObject(rep);
    rep = h_reply_within(b, 5000);
    ck_assert(rep && rep->type == REDIS_REPLY_STRING);
    freeReplyObject(rep);

    /* lease_wait: a holds the lease on a missing key, b parks, a writes */
    ck_assert(h_cmd_is(a, NULL, "GET missing"));
    ck_assert_int_eq(h_send(b, "GET missing"), 0);
    ck_assert(h_wait_until(lease_parked, NULL, 5000));
    ck_assert(h_cmd_is(a, "OK", "SET missing computed"));
    rep = h_reply_within(b, 5000);
    ck_assert(rep && rep->type == REDIS_REPLY_STRING &&
              strcmp(rep->str, "computed") == 0);
    freeReplyObject(rep);
    redisFree(a);
    redisFree(b);
    redisFree(r);
}

START_TEST(test_metrics_promtool)
{
    static const char *const classes[] = { "hit", "miss", "coalesced",
                                           "lease_wait", "passthrough" };
    char name[128], path[256], cmd[512];
    char *body;
    int status, i;
    FILE *f;

    traffic();
    for (i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "corral_requests_total{class=\"%s\"}",
                 classes[i]);
        ck_assert_msg(h_metric(stats, name) >= 1, "%s not counted", name);
        snprintf(name, sizeof(name),
                 "corral_request_duration_seconds_count{class=\"%s\"}",
                 classes[i]);
        ck_assert_msg(h_metric(stats, name) >= 1, "%s not recorded", name);
    }
    ck_assert_int_ge(h_metric(stats, "corral_upstream_rtt_seconds_count"), 1);
    ck_assert_int_ge(h_metric(stats, "corral_leases_granted_total"), 1);

    body = h_http_get(stats, "/metrics", &status);
    ck_assert_ptr_nonnull(body);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(body, "text/plain; version=0.0.4"));
    snprintf(path, sizeof(path), "%s/metrics.txt", h_tmpdir());
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(strstr(body, "\r\n\r\n") + 4, f);
    fclose(f);
    free(body);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    ck_assert_msg(system(cmd) == 0, "promtool check metrics failed on %s", path);
}
END_TEST

START_TEST(test_stats_json_and_page)
{
    char *body;
    int status;

    traffic();
    body = h_http_get(stats, "/stats", &status);
    ck_assert_ptr_nonnull(body);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(body, "application/json"));
    ck_assert_ptr_nonnull(strstr(body, "\"lease_wait\""));
    ck_assert_ptr_nonnull(strstr(body, "\"p999_us\""));
    free(body);

    body = h_http_get(stats, "/", &status);
    ck_assert_ptr_nonnull(body);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(body, "<!DOCTYPE html>"));
    /* self-contained: nothing loaded from elsewhere */
    ck_assert_ptr_null(strstr(body, "src=\"http"));
    ck_assert_ptr_null(strstr(body, "href=\"http"));
    free(body);

    body = h_http_get(stats, "/nope", &status);
    ck_assert_int_eq(status, 404);
    free(body);
}
END_TEST

static int unhealthy(void *arg)
{
    int status = 0;
    char *body = h_http_get(stats, "/healthz", &status);

    free(body);
    return status == *(int *)arg;
}

START_TEST(test_healthz_follows_upstream)
{
    int want = 200;

    ck_assert(unhealthy(&want));
    h_stop(&redis, SIGKILL);
    want = 503;
    ck_assert(h_wait_until(unhealthy, &want, 5000));
    ck_assert_int_eq(h_redis_start(&redis, redis.port), 0);
    want = 200;
    ck_assert(h_wait_until(unhealthy, &want, 5000));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stats_it");
    TCase *tc = tcase_create("stats");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_metrics_promtool);
    tcase_add_test(tc, test_stats_json_and_page);
    tcase_add_test(tc, test_healthz_follows_upstream);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
