/*
 * test_capture_lifetime.c -- a db has at most one capture, and either may be
 * freed first: a second capture is refused instead of silently missing
 * writes, and closing the db leaves no observer pointing anywhere.
 * Meant to run under ASan (scripts/test.sh runs the whole suite with it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "deltavec.h"
#include "support/stream.h"

#define DIM 8

static dv_db *open_db(void) { return test_open_db_sized(DIM, 8, 20); }

static void insert(dv_db *db, int i) {
    char id[32];
    float v[DIM];
    for (int k = 0; k < DIM; k++) v[k] = (float)(i * DIM + k) * 0.25f;
    snprintf(id, sizeof id, "v%d", i);
    assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
}

static size_t poll_all(dv_capture *cap, uint64_t *last) {
    dv_delta_header h[16];
    size_t n = 0, total = 0;
    while (dv_capture_poll(cap, h, 16, &n) == DV_OK && n) {
        total += n;
        *last = h[n - 1].sequence;
        assert_int_equal(dv_capture_release(cap, *last), DV_OK);
    }
    return total;
}

static void a_second_capture_on_one_db_is_refused(void **state) {
    (void)state;
    dv_db *db = open_db();
    dv_capture *a = NULL, *b = NULL;
    assert_int_equal(dv_capture_init(db, NULL, &a), DV_OK);
    assert_int_equal(dv_capture_start(a), DV_OK);
    assert_int_equal(dv_capture_init(db, NULL, &b), DV_ESTATE);
    assert_null(b);
    assert_int_equal(dv_capture_stop(a), DV_OK); /* stopped, still the db's capture */
    assert_int_equal(dv_capture_init(db, NULL, &b), DV_ESTATE);
    insert(db, 0); /* not captured: a is stopped */
    dv_capture_free(a);
    /* the db is free again: b captures every later write */
    assert_int_equal(dv_capture_init(db, NULL, &b), DV_OK);
    assert_int_equal(dv_capture_start(b), DV_OK);
    insert(db, 1);
    insert(db, 2);
    assert_int_equal(dv_capture_last_sequence(b), 2);
    uint64_t last = 0;
    assert_int_equal(poll_all(b, &last), 2);
    assert_int_equal(last, 2);
    dv_capture_free(b);
    dv_db_close(db);
}

static void closing_the_db_first_stops_its_capture_and_keeps_the_stream(void **state) {
    (void)state;
    dv_db *db = open_db();
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.batch_max_deltas = 16; /* leaves a batch open at close */
    dv_capture *cap = NULL;
    assert_int_equal(dv_capture_init(db, &cfg, &cap), DV_OK);
    assert_int_equal(dv_capture_start(cap), DV_OK);
    for (int i = 0; i < 3; i++) insert(db, i);
    assert_int_equal(dv_capture_last_sequence(cap), 0); /* the batch is open */
    dv_db_close(db);                                    /* commits it: its writes happened */
    uint64_t last = 0;
    assert_int_equal(poll_all(cap, &last), 1); /* one BATCH delta (one sequence) */
    assert_int_equal(last, 1);
    assert_int_equal(dv_capture_last_sequence(cap), 1);
    dv_capture_stats st;
    assert_int_equal(dv_capture_stats_get(cap, &st), DV_OK);
    assert_int_equal(st.writes, 3);
    assert_int_equal(dv_capture_start(cap), DV_ESTATE); /* no db to observe */
    assert_int_equal(dv_capture_stop(cap), DV_ESTATE);
    dv_checkpoint cp;
    assert_int_equal(dv_capture_checkpoint(cap, &cp), DV_ESTATE);
    dv_capture_free(cap); /* touches no freed db (ASan) */
}

static void closing_the_db_before_a_capture_that_never_started_is_safe(void **state) {
    (void)state;
    dv_db *db = open_db();
    dv_capture *cap = NULL;
    assert_int_equal(dv_capture_init(db, NULL, &cap), DV_OK);
    dv_db_close(db);
    assert_int_equal(dv_capture_start(cap), DV_ESTATE);
    dv_capture_free(cap);
}

static void a_capture_freed_first_leaves_the_db_unobserved(void **state) {
    (void)state;
    dv_db *db = open_db();
    dv_capture *cap = NULL;
    assert_int_equal(dv_capture_init(db, NULL, &cap), DV_OK);
    assert_int_equal(dv_capture_start(cap), DV_OK);
    insert(db, 0);
    dv_capture_free(cap);
    insert(db, 1); /* no observer left to call (ASan) */
    dv_db_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_second_capture_on_one_db_is_refused),
        cmocka_unit_test(closing_the_db_first_stops_its_capture_and_keeps_the_stream),
        cmocka_unit_test(closing_the_db_before_a_capture_that_never_started_is_safe),
        cmocka_unit_test(a_capture_freed_first_leaves_the_db_unobserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
