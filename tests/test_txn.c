/* test_txn.c -- a transaction undoes every kind of change exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "deltavec.h"
#include "support/stream.h"
#include "db/db_internal.h"
#include "db/txn.h"
#include "db/replay.h"

#define DIM 12

static uint64_t rng_state;
static uint32_t rnd(void) { return test_rand(&rng_state); }
static float rndf(void) { return test_randf(&rng_state); }

static dv_db *open_db(void) { return test_open_db_sized(DIM, 4, 16); }

/* One random write; ids are drawn from a small pool so every path occurs. */
static void random_write(dv_db *db) {
    char id[16], val[16];
    float v[DIM];
    snprintf(id, sizeof id, "id%u", rnd() % 60);
    for (int i = 0; i < DIM; i++) v[i] = rndf();
    switch (rnd() % 6) {
    case 0:
    case 1: {
        dv_meta_kv m[2] = {{"a", "1"}, {"b", "2"}};
        dv_db_insert(db, id, v, m, rnd() % 3);
        break;
    }
    case 2:
        dv_db_update(db, id, v);
        break;
    case 3: {
        uint32_t idx[2] = {rnd() % 6, 6 + rnd() % 6};
        dv_db_update_sparse(db, id, idx, v, 2);
        break;
    }
    case 4:
        dv_db_delete(db, id);
        break;
    default: {
        char key[8];
        snprintf(key, sizeof key, "k%u", rnd() % 5);
        snprintf(val, sizeof val, "v%u", rnd() % 100);
        dv_db_set_meta(db, id, key, rnd() % 4 ? val : NULL);
    }
    }
}

static void rollback_restores_the_exact_state(void **state) {
    (void)state;
    rng_state = 7;
    dv_db *db = open_db();
    for (int i = 0; i < 200; i++) random_write(db);
    for (int round = 0; round < 60; round++) {
        uint64_t before = dv_db_state_hash(db);
        assert_int_equal(dv_txn_begin(db), DV_OK);
        int n = 1 + (int)(rnd() % 40);
        for (int i = 0; i < n; i++) random_write(db);
        dv_txn_rollback(db);
        assert_int_equal(dv_db_state_hash(db), before);
        assert_int_equal(dv_db_check_invariants(db), DV_OK);
        /* keep some of the work so the db evolves between rounds */
        assert_int_equal(dv_txn_begin(db), DV_OK);
        for (int i = 0; i < 5; i++) random_write(db);
        dv_txn_commit(db);
        assert_int_equal(dv_db_check_invariants(db), DV_OK);
    }
    dv_db_close(db);
}

static void committed_work_equals_work_without_a_transaction(void **state) {
    (void)state;
    dv_db *a = open_db(), *b = open_db();
    rng_state = 9;
    for (int i = 0; i < 400; i++) random_write(a);
    rng_state = 9;
    for (int i = 0; i < 400; i += 10) {
        assert_int_equal(dv_txn_begin(b), DV_OK);
        for (int k = 0; k < 10; k++) random_write(b);
        dv_txn_commit(b);
    }
    assert_int_equal(dv_db_state_hash(a), dv_db_state_hash(b));
    dv_db_close(a);
    dv_db_close(b);
}

static void nested_begin_is_refused_and_close_discards_an_open_transaction(void **state) {
    (void)state;
    rng_state = 11;
    dv_db *db = open_db();
    assert_int_equal(dv_txn_begin(db), DV_OK);
    assert_int_equal(dv_txn_begin(db), DV_ESTATE);
    for (int i = 0; i < 50; i++) random_write(db);
    dv_db_close(db); /* must not leak (ASan checks) */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rollback_restores_the_exact_state),
        cmocka_unit_test(committed_work_equals_work_without_a_transaction),
        cmocka_unit_test(nested_begin_is_refused_and_close_discards_an_open_transaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
