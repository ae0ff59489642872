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
#include <unistd.h>

#include <cmocka.h>

#include "deltavec.h"
#include "support/nats_server.h"

#ifndef DV_SOURCE_DIR
#define DV_SOURCE_DIR "."
#endif

#define DIM 24
#define DB "lg"
#define NQ 5

static test_nats srv;
static char work[256];

static int setup(void **state) {
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/dv-transport-logical-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(work)) return -1;
    return test_nats_start(&srv, DB);
}

static int teardown(void **state) {
    (void)state;
    test_nats_stop(&srv);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    return system(cmd) == 0 ? 0 : -1;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float rnd(uint64_t *s) { return (float)(rng_next(s) % 20000) / 10000.0f - 1.0f; }

static int node_ready(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/js/dist/deltavec.wasm", DV_SOURCE_DIR);
    if (access(p, R_OK) != 0) return 0;
    snprintf(p, sizeof p, "%s/js/node_modules/@nats-io/jetstream/package.json", DV_SOURCE_DIR);
    if (access(p, R_OK) != 0) return 0;
    return system("node --version >/dev/null 2>&1") == 0;
}

/* n mixed writes: inserts, dense and sparse updates (which move nodes: the re-link work), deletes, metadata.
 */
static void write_ops(dv_store *s, uint64_t *rng, uint32_t *next_id, int n) {
    float v[DIM];
    char id[32];
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < DIM; d++) v[d] = rnd(rng);
        uint32_t r = (uint32_t)(rng_next(rng) % 100);
        if (r < 40 || *next_id < 50) {
            snprintf(id, sizeof id, "v%u", (*next_id)++);
            dv_meta_kv kv = {"tag", "a"};
            assert_int_equal(dv_store_insert(s, id, v, &kv, 1), DV_OK);
            continue;
        }
        snprintf(id, sizeof id, "v%u", (uint32_t)(rng_next(rng) % *next_id));
        dv_status st;
        if (r < 65)
            st = dv_store_update(s, id, v);
        else if (r < 85) {
            uint32_t idx[3] = {0, 7, 19};
            st = dv_store_update_sparse(s, id, idx, v, 3);
        } else if (r < 95)
            st = dv_store_delete(s, id);
        else
            st = dv_store_set_meta(s, id, "tag", "b");
        assert_true(st == DV_OK || st == DV_ENOTFOUND);
    }
}

static dv_store *primary_open(const char *dir) {
    dv_db_config c;
    dv_db_config_default(&c, DIM);
    c.M = 8;
    c.ef_construction = 48;
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.mode = DV_STREAM_LOGICAL;
    sc.sync = DV_SYNC_NONE;
    sc.keep_log_from = 1; /* the primary keeps its log: the stream trim is the publisher's */
    dv_store *s = NULL;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    return s;
}

static dv_publisher *pub_open(const char *dir) {
    dv_publisher_config pc;
    dv_publisher_config_default(&pc);
    pc.nats.servers = srv.url;
    pc.nats.user = "pub";
    pc.nats.password = "pubpw";
    pc.nats.name = DB;
    pc.nats.timeout_ms = 2000;
    pc.dir = dir;
    pc.keep_snapshots = 1;
    dv_publisher *p = NULL;
    assert_int_equal(dv_publisher_open(&pc, &p), DV_OK);
    return p;
}

static dv_follower *fol_open(const char *dir, const char *durable) {
    dv_follower_config fc;
    dv_follower_config_default(&fc);
    fc.nats.servers = srv.url;
    fc.nats.user = "fol";
    fc.nats.password = "folpw";
    fc.nats.name = DB;
    fc.nats.timeout_ms = 2000;
    fc.dir = dir;
    fc.durable = durable;
    fc.checkpoint_every = 1500; /* the follower's own (logical) snapshots are exercised too */
    dv_follower *f = NULL;
    assert_int_equal(dv_follower_open(&fc, &f), DV_OK);
    return f;
}

/* Pumps publisher and follower until the follower holds target (bounded: ~60 s of idle rounds). */
static void converge(dv_publisher *p, dv_follower *f, uint64_t target) {
    for (int idle = 0; dv_follower_position(f) < target && idle < 600;) {
        dv_status ps = dv_publisher_pump(p, NULL);
        assert_true(ps == DV_OK || ps == DV_ENETWORK);
        uint64_t n = 0;
        dv_status fs = dv_follower_pump(f, 100, &n);
        if (fs != DV_OK && fs != DV_ENETWORK) fail_msg("follower: %s", dv_follower_last_error(f));
        idle = n ? 0 : idle + 1;
    }
    assert_int_equal(dv_follower_position(f), target);
}

/* The line follow.mjs prints for a replica equal to db. */
static void expected_line(const dv_db *db, uint64_t position, float q[NQ][DIM], char *out, size_t cap) {
    size_t o = (size_t)snprintf(out, cap, "{\"position\":\"%llu\",\"hash\":\"%016llx\",\"top10\":[",
                                (unsigned long long)position, (unsigned long long)dv_db_state_hash(db));
    for (int i = 0; i < NQ; i++) {
        dv_hit h[10];
        size_t n = 0;
        assert_int_equal(dv_db_search(db, q[i], 10, 64, h, &n), DV_OK);
        o += (size_t)snprintf(out + o, cap - o, "%s[", i ? "," : "");
        for (size_t k = 0; k < n; k++)
            o += (size_t)snprintf(out + o, cap - o, "%s\"%s\"", k ? "," : "", h[k].id);
        o += (size_t)snprintf(out + o, cap - o, "]");
    }
    snprintf(out + o, cap - o, "]}");
}

/* NQ random queries into q and into the JSON file qfile (what the Node replica searches). */
static void write_queries(float q[NQ][DIM], const char *qfile) {
    uint64_t qr = 11;
    FILE *qf = fopen(qfile, "w");
    assert_non_null(qf);
    fprintf(qf, "[");
    for (int i = 0; i < NQ; i++) {
        fprintf(qf, "%s[", i ? "," : "");
        for (int d = 0; d < DIM; d++) {
            q[i][d] = rnd(&qr);
            fprintf(qf, "%s%.9g", d ? "," : "", (double)q[i][d]);
        }
        fprintf(qf, "]");
    }
    fprintf(qf, "]\n");
    fclose(qf);
}

/* Runs js/test-nats/follow.mjs over TCP until target with extra environment env; its one-line answer. */
static void run_node(uint64_t target, const char *qfile, const char *env, char *line, size_t cap) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s DV_NATS_URL='%s' DV_NATS_USER=fol DV_NATS_PASS=folpw DV_DB=" DB
             " DV_TARGET=%llu DV_QUERIES='%s' DV_TRANSPORT=tcp node '%s/js/test-nats/follow.mjs'",
             env, srv.url, (unsigned long long)target, qfile, DV_SOURCE_DIR);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    line[0] = 0;
    if (!fgets(line, (int)cap, p)) line[0] = 0;
    int rc = pclose(p);
    line[strcspn(line, "\n")] = 0;
    if (rc != 0) fail_msg("node follower failed: %s", line);
}

/* The mode in the stream header of a directory's first segment file. */
static int segment_mode(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep '\\.dvs$' | sort | head -1", dir);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    char name[128] = {0};
    assert_non_null(fgets(name, sizeof name, ls));
    pclose(ls);
    name[strcspn(name, "\n")] = 0;
    char path[800];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t hdr[DV_STREAM_MAX_HEADER];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    dv_stream_info info;
    assert_int_equal(dv_stream_header_decode(hdr, got, &info, NULL), DV_OK);
    return info.mode;
}

static void assert_line(const dv_db *db, uint64_t pos, float q[NQ][DIM], const char *want) {
    static char got[16384];
    expected_line(db, pos, q, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_logical_primary_c_and_node_replicas_converge(void **state) {
    (void)state;
    char pdir[400], r1[400], r2[400], qfile[400];
    snprintf(pdir, sizeof pdir, "%s/primary", work);
    snprintf(r1, sizeof r1, "%s/replica-c", work);
    snprintf(r2, sizeof r2, "%s/replica-late", work);
    snprintf(qfile, sizeof qfile, "%s/queries.json", work);
    dv_store *s = primary_open(pdir);
    dv_publisher *p = pub_open(pdir);
    dv_follower *f = fol_open(r1, "c_replica");
    uint64_t rng = 31337;
    uint32_t next_id = 0;
    float q[NQ][DIM];
    write_queries(q, qfile);
    static char want[16384], got[16384];

    /* 1. from the start of the stream: the replicas are created from the stream header (mode logical) */
    for (int done = 0; done < 4000; done += 500) {
        write_ops(s, &rng, &next_id, 500);
        assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
        assert_int_equal(dv_follower_pump(f, 10, NULL), DV_OK);
    }
    uint64_t target = dv_store_sequence(s);
    converge(p, f, target);
    expected_line(dv_store_db(s), target, q, want, sizeof want);
    assert_line(dv_follower_db(f), target, q, want);
    assert_int_equal(segment_mode(r1), DV_STREAM_LOGICAL);
    if (node_ready()) {
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
    write_ops(s, &rng, &next_id, 1500);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    target = dv_store_sequence(s);
    converge(p, f, target);
    expected_line(dv_store_db(s), target, q, want, sizeof want);
    assert_line(dv_follower_db(f), target, q, want);
    /* a follower joining now: the snapshot (logical), then the logical records after it */
    dv_follower *late = fol_open(r2, "late");
    converge(p, late, target);
    dv_follower_lag lag;
    dv_follower_lag_get(late, &lag);
    assert_int_equal(lag.bootstraps, 1);
    assert_line(dv_follower_db(late), target, q, want);
    assert_int_equal(segment_mode(r2), DV_STREAM_LOGICAL);
    dv_follower_close(late);
    if (node_ready()) {
        run_node(target, qfile, "DV_EXPECT_BOOTSTRAP=1", got, sizeof got);
        assert_string_equal(got, want);
    }

    /* 3. the C replica restarts from its own (logical) directory, and a read-only store replays it */
    dv_follower_close(f);
    f = fol_open(r1, "c_replica");
    assert_int_equal(dv_follower_position(f), target);
    assert_line(dv_follower_db(f), target, q, want);
    write_ops(s, &rng, &next_id, 300);
    target = dv_store_sequence(s);
    converge(p, f, target);
    expected_line(dv_store_db(s), target, q, want, sizeof want);
    assert_line(dv_follower_db(f), target, q, want);
    dv_follower_close(f);
    dv_store_config rc;
    dv_store_config_default(&rc);
    rc.read_only = 1;
    dv_store *ro = NULL;
    assert_int_equal(dv_store_open(r1, &rc, &ro, NULL), DV_OK);
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
        cmocka_unit_test_setup_teardown(test_logical_primary_c_and_node_replicas_converge, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
