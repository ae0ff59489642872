/*
 * test_log_logical.c -- a database directory with a logical log
 * (dv_store_config.mode = DV_STREAM_LOGICAL): its records carry no graph
 * parts, and opening rebuilds the graph by replaying the writes. Checked:
 * the state after reopening (writer and reader, across segment rolls, from
 * the log alone and from a snapshot + log) has the state hash of a plain
 * dv_db that made the same writes; the segment headers and snapshots say
 * logical; the log is smaller than the structural log of the same writes;
 * a directory keeps its mode (create with the other one: DV_ECONFIG).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "log_util.h"

#define WRITES 600

static dv_status open_mode(const char *dir, dv_stream_mode mode, int read_only, dv_store **s) {
    dv_db_config c;
    lu_config(&c);
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = read_only ? NULL : &c;
    sc.read_only = read_only;
    sc.mode = mode;
    sc.sync = DV_SYNC_NONE;
    sc.segment_bytes = 4096; /* several segments */
    *s = NULL;
    return dv_store_open(dir, &sc, s, NULL);
}

static dv_store *must_open(const char *dir, dv_stream_mode mode, int read_only) {
    dv_store *s;
    assert_int_equal(open_mode(dir, mode, read_only, &s), DV_OK);
    return s;
}

static void run_script(dv_store *s, unsigned from, unsigned to) {
    for (unsigned i = from; i < to; i++) assert_int_equal(lu_step(&LU_STORE_OPS, s, 0, i), DV_OK);
}

static uint64_t reference_hash(unsigned n) {
    dv_db *ref = lu_reference(n);
    uint64_t h = dv_db_state_hash(ref);
    dv_db_close(ref);
    return h;
}

/* Sum of the segment sizes; every segment header must say `mode`. */
static uint64_t log_bytes(const char *dir, dv_stream_mode mode) {
    char(*names)[32];
    size_t n = lu_segment_list(dir, &names);
    uint64_t total = 0;
    assert_true(n > 1);
    for (size_t i = 0; i < n; i++) {
        char p[512];
        size_t len = 0;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        uint8_t *b = lu_read(p, &len);
        dv_stream_info info;
        assert_int_equal(dv_stream_header_decode(b, len, &info, NULL), DV_OK);
        assert_int_equal(info.mode, mode);
        total += len;
        free(b);
    }
    free(names);
    return total;
}

static void reopen_rebuilds_the_same_state(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "logical");
    dv_store *s = must_open(dir, DV_STREAM_LOGICAL, 0);
    run_script(s, 0, WRITES);
    uint64_t h = reference_hash(WRITES);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    dv_store_close(s);
    log_bytes(dir, DV_STREAM_LOGICAL);
    uint64_t last = 0;
    assert_int_equal(lu_replay_hash(dir, &last), h); /* an independent replay of the segments agrees */
    assert_int_equal(last, WRITES);

    s = must_open(dir, DV_STREAM_LOGICAL, 0); /* writer: replays the whole log */
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    assert_int_equal(dv_store_sequence(s), WRITES);
    run_script(s, WRITES, WRITES + 50); /* and goes on as the plain db would */
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), reference_hash(WRITES + 50));
    dv_store_close(s);
    s = must_open(dir, DV_STREAM_STRUCTURAL, 1); /* a reader takes the mode from the files */
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), reference_hash(WRITES + 50));
    dv_store_close(s);
    lu_rmdir(dir);
}

static void snapshot_plus_log_and_refresh(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "logical-snap");
    dv_store *w = must_open(dir, DV_STREAM_LOGICAL, 0);
    run_script(w, 0, 200);
    dv_store *r = must_open(dir, DV_STREAM_LOGICAL, 1);
    run_script(w, 200, 400);
    uint64_t n_new = 0;
    assert_int_equal(dv_store_refresh(r, &n_new), DV_OK);
    assert_int_equal(n_new, 200);
    assert_int_equal(dv_db_state_hash(dv_store_db(r)), dv_db_state_hash(dv_store_db(w)));
    dv_store_close(r);
    uint64_t seq = 0;
    assert_int_equal(dv_store_checkpoint(w, &seq), DV_OK);
    assert_int_equal(seq, 400);
    run_script(w, 400, 500);
    uint64_t h = dv_db_state_hash(dv_store_db(w));
    assert_int_equal(h, reference_hash(500));
    dv_store_close(w);

    char p[512];
    size_t len = 0;
    snprintf(p, sizeof p, "%s/%020llu.dvp", dir, 400ull);
    uint8_t *b = lu_read(p, &len);
    assert_non_null(b);
    dv_snapshot_meta meta;
    assert_int_equal(dv_snapshot_peek(b, len, &meta), DV_OK);
    assert_int_equal(meta.mode, DV_STREAM_LOGICAL);
    free(b);

    dv_recovery_report rep;
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.read_only = 1;
    assert_int_equal(dv_store_open(dir, &sc, &r, &rep), DV_OK);
    assert_int_equal(rep.snapshot_sequence, 400);
    assert_int_equal(rep.records_replayed, 100);
    assert_int_equal(dv_db_state_hash(dv_store_db(r)), h);
    dv_store_close(r);
    lu_rmdir(dir);
}

static void logical_log_is_smaller(void **state) {
    (void)state;
    char ldir[256], sdir[256];
    lu_tempdir(ldir, sizeof ldir, "logical-size");
    lu_tempdir(sdir, sizeof sdir, "structural-size");
    dv_store *l = must_open(ldir, DV_STREAM_LOGICAL, 0), *s = must_open(sdir, DV_STREAM_STRUCTURAL, 0);
    run_script(l, 0, WRITES);
    run_script(s, 0, WRITES);
    assert_int_equal(dv_db_state_hash(dv_store_db(l)), dv_db_state_hash(dv_store_db(s)));
    dv_store_close(l);
    dv_store_close(s);
    uint64_t lb = log_bytes(ldir, DV_STREAM_LOGICAL), sb = log_bytes(sdir, DV_STREAM_STRUCTURAL);
    print_message("log of %u writes: logical %llu bytes, structural %llu bytes\n", WRITES,
                  (unsigned long long)lb, (unsigned long long)sb);
    assert_true(lb < sb);
    lu_rmdir(ldir);
    lu_rmdir(sdir);
}

static void a_directory_keeps_its_mode(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "logical-mode");
    dv_store *s = must_open(dir, DV_STREAM_LOGICAL, 0);
    run_script(s, 0, 10);
    dv_store_close(s);
    assert_int_equal(open_mode(dir, DV_STREAM_STRUCTURAL, 0, &s), DV_ECONFIG);
    assert_null(s);
    assert_int_equal(open_mode(dir, (dv_stream_mode)7, 0, &s), DV_EINVAL);
    lu_rmdir(dir);
    lu_tempdir(dir, sizeof dir, "structural-mode");
    s = must_open(dir, DV_STREAM_STRUCTURAL, 0);
    dv_store_close(s);
    assert_int_equal(open_mode(dir, DV_STREAM_LOGICAL, 0, &s), DV_ECONFIG);
    lu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reopen_rebuilds_the_same_state),
        cmocka_unit_test(snapshot_plus_log_and_refresh),
        cmocka_unit_test(logical_log_is_smaller),
        cmocka_unit_test(a_directory_keeps_its_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
