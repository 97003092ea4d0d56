/*
 * check_flight.c — unit tests for the flight table (src/flight.c).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flight.h"

struct user { int a; double b; };

START_TEST(test_add_find_per_db)
{
    struct flight_table *t = flight_table_create(sizeof(struct user));
    struct flight *f0, *f1;

    ck_assert_ptr_nonnull(t);
    f0 = flight_add(t, 0, "k", 1);
    f1 = flight_add(t, 1, "k", 1);
    ck_assert_ptr_nonnull(f0);
    ck_assert_ptr_nonnull(f1);
    ck_assert_ptr_eq(flight_find(t, 0, "k", 1), f0);
    ck_assert_ptr_eq(flight_find(t, 1, "k", 1), f1);
    ck_assert_ptr_null(flight_find(t, 2, "k", 1));
    ck_assert_ptr_null(flight_find(t, 0, "kk", 2));
    ck_assert_int_eq(f0->state, FLIGHT_IDLE);
    ck_assert_int_eq(memcmp(f0->key, "k", 1), 0);
    ck_assert_uint_eq(flight_count(t), 2);
    flight_table_destroy(t);
}
END_TEST

START_TEST(test_detach_keeps_alive)
{
    struct flight_table *t = flight_table_create(0);
    struct flight *f = flight_add(t, 0, "key", 3), *g;

    flight_detach(t, f);
    ck_assert_int_eq(f->attached, 0);
    ck_assert_ptr_null(flight_find(t, 0, "key", 3));
    ck_assert_uint_eq(flight_count(t), 1);
    /* a new flight for the same key can be attached meanwhile */
    g = flight_add(t, 0, "key", 3);
    ck_assert_ptr_eq(flight_find(t, 0, "key", 3), g);
    ck_assert_uint_eq(flight_count(t), 2);
    flight_free(t, f);
    ck_assert_ptr_eq(flight_find(t, 0, "key", 3), g);
    ck_assert_uint_eq(flight_count(t), 1);
    flight_free(t, g);
    ck_assert_uint_eq(flight_count(t), 0);
    flight_table_destroy(t);
}
END_TEST

START_TEST(test_waiters_fifo)
{
    struct flight_table *t = flight_table_create(0);
    struct flight *f = flight_add(t, 0, "k", 1), *g = flight_add(t, 0, "j", 1);
    struct flight_waiter w[4];

    memset(w, 0, sizeof(w));
    flight_wait(f, &w[0], 10);
    flight_wait(f, &w[1], 11);
    flight_wait(f, &w[2], 12);
    ck_assert_uint_eq(f->nwaiters, 3);
    ck_assert_ptr_eq(flight_first(f), &w[0]);
    flight_unwait(&w[0]);
    ck_assert_ptr_null(w[0].f);
    flight_unwait(&w[0]);                       /* no-op when not waiting */
    ck_assert_ptr_eq(flight_first(f), &w[1]);
    flight_unwait(&w[2]);
    ck_assert_uint_eq(f->nwaiters, 1);
    flight_wait(g, &w[3], 5);
    flight_move_waiters(f, g);
    ck_assert_uint_eq(f->nwaiters, 0);
    ck_assert_ptr_null(flight_first(f));
    ck_assert_uint_eq(g->nwaiters, 2);
    ck_assert_ptr_eq(flight_first(g), &w[3]);
    ck_assert_ptr_eq(w[1].f, g);
    ck_assert_uint_eq(w[1].since_ms, 11);       /* arrival time kept */
    flight_unwait(&w[3]);
    ck_assert_ptr_eq(flight_first(g), &w[1]);
    flight_table_destroy(t);
}
END_TEST

static void count_cb(struct flight *f, void *arg)
{
    (*(int *)arg)++;
}

static void free_cb(struct flight *f, void *arg)
{
    flight_free(arg, f);
}

START_TEST(test_foreach_key_every_db)
{
    struct flight_table *t = flight_table_create(0);
    int n = 0, db;

    for (db = 0; db < 16; db++)
        flight_add(t, db, "shared", 6);
    flight_add(t, 0, "other", 5);
    flight_foreach_key(t, "shared", 6, count_cb, &n);
    ck_assert_int_eq(n, 16);
    /* the callback may free what it is given */
    flight_foreach_key(t, "shared", 6, free_cb, t);
    ck_assert_uint_eq(flight_count(t), 1);
    n = 0;
    flight_foreach(t, -1, count_cb, &n);
    ck_assert_int_eq(n, 1);
    n = 0;
    flight_foreach(t, 3, count_cb, &n);
    ck_assert_int_eq(n, 0);
    flight_table_destroy(t);
}
END_TEST

START_TEST(test_user_area)
{
    struct flight_table *t = flight_table_create(sizeof(struct user));
    struct flight *f = flight_add(t, 0, "k", 1);
    struct user *u = flight_user(f);

    ck_assert_int_eq(u->a, 0);                  /* zeroed */
    ck_assert_uint_eq((uintptr_t)u % _Alignof(max_align_t), 0);
    u->a = 42;
    u->b = 1.5;
    ck_assert_ptr_eq(flight_of_user(u), f);
    ck_assert_int_eq(((struct user *)flight_user(flight_find(t, 0, "k", 1)))->a, 42);
    /* the key bytes follow the user area and are intact */
    ck_assert_int_eq(f->key[0], 'k');
    flight_table_destroy(t);
}
END_TEST

START_TEST(test_many_grow)
{
    struct flight_table *t = flight_table_create(8);
    char key[32];
    int i;

    for (i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof(key), "key:%d", i);
        ck_assert_ptr_nonnull(flight_add(t, i % 3, key, (size_t)n));
    }
    for (i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof(key), "key:%d", i);
        struct flight *f = flight_find(t, i % 3, key, (size_t)n);

        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_null(flight_find(t, (i + 1) % 3, key, (size_t)n));
        if (i % 2)
            flight_free(t, f);
    }
    ck_assert_uint_eq(flight_count(t), 10000);
    flight_table_destroy(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flight");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_add_find_per_db);
    tcase_add_test(tc, test_detach_keeps_alive);
    tcase_add_test(tc, test_waiters_fifo);
    tcase_add_test(tc, test_foreach_key_every_db);
    tcase_add_test(tc, test_user_area);
    tcase_add_test(tc, test_many_grow);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
