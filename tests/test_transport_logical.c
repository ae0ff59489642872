/*
 * test_transport_logical.c -- replication of a logical-mode database
 * directory (dv_store_config.mode = DV_STREAM_LOGICAL: records without
 * graph parts) through a real nats-server (tests/support/nats_server.c).
 * The publisher ships the logical records and a stream header saying so;
 * a C follower and a Node follower (js/test-nats/follow.mjs, followNats)
 * apply them logically, i.e. re-link each write through the ordinary
 * insert/update path, and must end with the primary's state hash and
 * top-10 results. The C follower's replica directory is logical too (its
 * segments' headers say so and a read-only store replays it to the same
 * state). A follower that joins after the stream was trimmed bootstraps
 * from the logical snapshot and continues.
 *
 * The Node part is skipped when node, the wasm build (js/dist) or the npm
 * NATS packages (js/node_modules) are missing.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deltavec.h"
#include "log_util.h"
#include "support/store_view.h"
#include "support/transport_checks.h"
#include "support/transport_rig.h"

#define DIM 24
#define DB "lg"
#define NQ 5

static transport_rig rig = {.tag = "dv-transport-logical", .db = DB};

static dv_store *primary_open(const char *dir) {
    /* keep_log_from 1: the primary keeps its log (the stream trim is the publisher's) */
    const rig_primary cfg = {
        .dim = DIM, .M = 8, .ef_construction = 48, .mode = DV_STREAM_LOGICAL, .keep_log_from = 1};
    return check_primary_open(dir, &cfg);
}

static dv_publisher *pub_open(const char *dir) {
    dv_publisher_config pc;
    rig_publisher_config(&rig, dir, &pc);
    pc.nats.timeout_ms = 2000;
    pc.keep_snapshots = 1;
    return check_publisher_open(&pc);
}

static dv_follower *fol_open(const char *dir, const char *durable) {
    dv_follower_config fc;
    rig_follower_config(&rig, dir, durable, &fc);
    fc.nats.timeout_ms = 2000;
    fc.checkpoint_every = 1500; /* the follower's own (logical) snapshots are exercised too */
    return check_follower_open(&fc);
}

/* Runs js/test-nats/follow.mjs over TCP until target with extra environment env; its one-line answer. */
static void run_node(uint64_t target, const char *qfile, const char *env, char *line, size_t cap) {
    if (js_run_replica(&rig, "follow.mjs", "tcp", rig.srv.url, target, qfile, env, line, cap) != 0)
        fail_msg("node follower failed: %s", line);
}

/* The mode in the stream header of a directory's first segment file. */
static int segment_mode(const char *dir) {
    char(*names)[32];
    size_t n = lu_segment_list(dir, &names);
    assert_true(n >= 1);
    char path[800];
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    free(names);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t hdr[DV_STREAM_MAX_HEADER];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    dv_stream_info info;
    assert_int_equal(dv_stream_header_decode(hdr, got, &info, NULL), DV_OK);
    return info.mode;
}

static void assert_line(const dv_db *db, uint64_t pos, const float *q, const char *want) {
    static char got[16384];
    js_expected_line(db, pos, q, NQ, DIM, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_logical_primary_c_and_node_replicas_converge(void **state) {
    (void)state;
    char pdir[400], r1[400], r2[400], qfile[400];
    rig_path(&rig, "primary", pdir, sizeof pdir);
    rig_path(&rig, "replica-c", r1, sizeof r1);
    rig_path(&rig, "replica-late", r2, sizeof r2);
    rig_path(&rig, "queries.json", qfile, sizeof qfile);
    dv_store *s = primary_open(pdir);
    dv_publisher *p = pub_open(pdir);
    dv_follower *f = fol_open(r1, "c_replica");
    mixed_workload w = {&MIXED_TAGGED, DIM, 31337, 0};
    float q[NQ * DIM];
    js_write_queries(q, NQ, DIM, 11, qfile);
    static char want[16384], got[16384];

    /* 1. from the start of the stream: the replicas are created from the stream header (mode logical) */
    for (int done = 0; done < 4000; done += 500) {
        mixed_writes(s, &w, 500);
        assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
        assert_int_equal(dv_follower_pump(f, 10, NULL), DV_OK);
    }
    uint64_t target = dv_store_sequence(s);
    check_converge(p, f, target);
    js_expected_line(dv_store_db(s), target, q, NQ, DIM, want, sizeof want);
    assert_line(dv_follower_db(f), target, q, want);
    assert_int_equal(segment_mode(r1), DV_STREAM_LOGICAL);
    if (js_node_ready()) {
        run_node(target, qfile, "DV_NO_SNAPSHOTS=1", got, sizeof got);
        assert_string_equal(got, want);
    } else {
        printf("node, js/dist or js/node_modules/@nats-io missing: no Node replica\n");
    }

    /* 2. a logical snapshot in the object store, the stream trimmed before it, more writes */
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    uint64_t snap = 0;
    assert_int_equal(dv_publisher_put_snapshot(p, &snap), DV_OK);
    assert_int_equal(snap, target);
    mixed_writes(s, &w, 1500);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    target = dv_store_sequence(s);
    check_converge(p, f, target);
    js_expected_line(dv_store_db(s), target, q, NQ, DIM, want, sizeof want);
    assert_line(dv_follower_db(f), target, q, want);
    /* a follower joining now: the snapshot (logical), then the logical records after it */
    dv_follower *late = fol_open(r2, "late");
    check_converge(p, late, target);
    dv_follower_lag lag;
    dv_follower_lag_get(late, &lag);
    assert_int_equal(lag.bootstraps, 1);
    assert_line(dv_follower_db(late), target, q, want);
    assert_int_equal(segment_mode(r2), DV_STREAM_LOGICAL);
    dv_follower_close(late);
    if (js_node_ready()) {
        run_node(target, qfile, "DV_EXPECT_BOOTSTRAP=1", got, sizeof got);
        assert_string_equal(got, want);
    }

    /* 3. the C replica restarts from its own (logical) directory, and a read-only store replays it */
    dv_follower_close(f);
    f = fol_open(r1, "c_replica");
    assert_int_equal(dv_follower_position(f), target);
    assert_line(dv_follower_db(f), target, q, want);
    mixed_writes(s, &w, 300);
    target = dv_store_sequence(s);
    check_converge(p, f, target);
    js_expected_line(dv_store_db(s), target, q, NQ, DIM, want, sizeof want);
    assert_line(dv_follower_db(f), target, q, want);
    dv_follower_close(f);
    dv_store *ro = test_store_read_only(r1);
    assert_non_null(ro);
    assert_line(dv_store_db(ro), target, q, want);
    dv_store_close(ro);
    dv_publisher_close(p);
    dv_store_close(s);
}

int main(void) {
    if (!test_nats_available()) {
        printf("nats-server not runnable: skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_logical_primary_c_and_node_replicas_converge,
                                                 check_rig_setup, check_rig_teardown, &rig),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
