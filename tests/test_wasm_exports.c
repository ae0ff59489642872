/* test_wasm_exports.c -- the wasm exports' C logic, built natively: the
 * exports file is included as is (its wasm-only parts are guarded). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../wasm/exports.c"

/* Deltas shorter than a header are never read: each gets DV_ETRUNCATED. */
static void apply_batch_reports_each_short_delta_as_truncated(void **state) {
    (void)state;
    dv_db *db = NULL;
    assert_int_equal(dvw_db_open(4, DV_METRIC_L2, 8, 32, 32, 42, &db), DV_OK);
    dvw_replica *r = NULL;
    assert_int_equal(dvw_replica_open(db, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT, 1, 0, &r), DV_OK);
    uint32_t bufs[3] = {0, 0, 0}; /* never dereferenced: every length is short */
    uint32_t lens[3] = {10, 0, DV_DELTA_HEADER_SIZE - 1};
    int32_t results[3] = {123, 123, 123};
    uint32_t applied = 99;
    assert_int_equal(dvw_replica_apply_batch(r, bufs, lens, 3, results, &applied), DV_ETRUNCATED);
    for (int i = 0; i < 3; i++) assert_int_equal(results[i], DV_ETRUNCATED);
    assert_int_equal(applied, 0);
    dvw_replica_free(r);
    dv_db_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_batch_reports_each_short_delta_as_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
