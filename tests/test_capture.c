/* test_capture.c -- capture turns every db write into deltas that replay to the same state. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "support/stream.h"
#include "db/replay.h"
#include "delta/delta.h"
#include "util/alloc.h"

#define DIM 24

static uint64_t rng_state;
static uint32_t rnd(void) { return test_rand(&rng_state); }
static float rndf(void) { return test_randf(&rng_state); }

static dv_db *open_db(void) { return test_open_db_sized(DIM, 8, 40); }

/* A started capture on db (cfg NULL: defaults). */
static dv_capture *start_capture(dv_db *db, const dv_capture_config *cfg) {
    dv_capture *cap = NULL;
    assert_int_equal(dv_capture_init(db, cfg, &cap), DV_OK);
    assert_int_equal(dv_capture_start(cap), DV_OK);
    return cap;
}

static void random_vec(float *v) {
    for (int i = 0; i < DIM; i++) v[i] = rndf();
}

/* Replays one stored delta onto a replica via the decoded events. */
typedef struct replay_ctx {
    dv_db *db;
    dv_status st;
} replay_ctx;

static dv_status replay_event(void *ctx, const dv_event *ev) {
    replay_ctx *r = ctx;
    dv_status st = dv_db_replay(r->db, ev);
    if (st != DV_OK)
        print_error("replay of event kind %d slot %u failed: %s (edge layer %u to %u)\n", (int)ev->kind,
                    ev->slot, dv_status_name(st), ev->u.edge.layer, ev->u.edge.to);
    return st;
}

static void replay_delta(dv_db *replica, const uint8_t *hdr, const uint8_t *payload, size_t len) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_delta d;
    assert_int_equal(dv_delta_decode(hdr, payload, len, NULL, &arena, &d), DV_OK);
    replay_ctx r = {replica, DV_OK};
    assert_int_equal(dv_delta_to_events(&d, replay_event, &r), DV_OK);
    dv_delta_arena_free(&arena);
}

/* Polls everything, checks sequence continuity, replays, releases. */
static size_t drain(dv_capture *cap, dv_db *replica, uint64_t *expect_seq) {
    dv_delta_header h[64];
    size_t n = 0, total = 0;
    while (dv_capture_poll(cap, h, 64, &n) == DV_OK && n > 0) {
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(h[i].sequence, *expect_seq);
            (*expect_seq)++;
            const uint8_t *hb, *pb;
            size_t len;
            assert_int_equal(dv_capture_payload(cap, h[i].sequence, &hb, &pb, &len), DV_OK);
            assert_int_equal(dv_delta_verify(hb, pb, len), DV_OK);
            if (replica) replay_delta(replica, hb, pb, len);
        }
        assert_int_equal(dv_capture_release(cap, h[n - 1].sequence), DV_OK);
        total += n;
    }
    return total;
}

static void id_of(char *buf, size_t cap, uint32_t i) { snprintf(buf, cap, "vec-%u", i); }

/* A mixed random workload; drains into the replica every `drain_every` ops. */
static void run_workload(dv_db *primary, dv_capture *cap, dv_db *replica, int ops, int drain_every) {
    float v[DIM];
    char id[32];
    uint64_t seq = 1;
    uint32_t next = 0;
    for (int op = 0; op < ops; op++) {
        uint32_t r = rnd() % 100;
        uint32_t pick = next ? rnd() % next : 0;
        id_of(id, sizeof id, pick);
        int live = next && dv_db_get(primary, id, v) == DV_OK;
        if (r < 40 || !live) {
            id_of(id, sizeof id, live || !next ? next++ : pick);
            if (dv_db_get(primary, id, v) == DV_OK) continue;
            random_vec(v);
            dv_meta_kv meta[1] = {{"tag", (r & 1) ? "odd" : "even"}};
            assert_int_equal(dv_db_insert(primary, id, v, meta, r & 2 ? 1 : 0), DV_OK);
        } else if (r < 60) {
            random_vec(v);
            assert_int_equal(dv_db_update(primary, id, v), DV_OK);
        } else if (r < 80) {
            uint32_t idx[3] = {rnd() % 8, 8 + rnd() % 8, 16 + rnd() % 8};
            float vals[3] = {rndf(), rndf(), rndf()};
            assert_int_equal(dv_db_update_sparse(primary, id, idx, vals, 3), DV_OK);
        } else if (r < 92) {
            assert_int_equal(dv_db_delete(primary, id), DV_OK);
        } else {
            assert_int_equal(dv_db_set_meta(primary, id, "color", (r & 1) ? "red" : NULL), DV_OK);
        }
        if ((op + 1) % drain_every == 0) drain(cap, replica, &seq);
    }
    assert_int_equal(dv_capture_flush(cap), DV_OK);
    drain(cap, replica, &seq);
    assert_int_equal(seq - 1, dv_capture_last_sequence(cap));
}

static void captured_stream_replays_to_identical_state(void **state) {
    (void)state;
    rng_state = 1;
    dv_db *primary = open_db(), *replica = open_db();
    dv_capture *cap = start_capture(primary, NULL);
    run_workload(primary, cap, replica, 3000, 7);
    assert_int_equal(dv_db_state_hash(primary), dv_db_state_hash(replica));
    dv_checkpoint cp;
    assert_int_equal(dv_capture_checkpoint(cap, &cp), DV_OK);
    assert_int_equal(cp.state_hash, dv_db_state_hash(replica));
    dv_capture_stats st;
    assert_int_equal(dv_capture_stats_get(cap, &st), DV_OK);
    assert_true(st.sparse_updates > 0 && st.dense_updates > 0);
    assert_true(st.raw_bytes >= st.payload_bytes);
    /* a constant vector and a repetitive value compress (the body is over
     * the 128 bytes below which LZ4 is not tried): the stats see the body
     * before LZ4 */
    uint64_t raw0 = st.raw_bytes, stored0 = st.payload_bytes;
    float flat[DIM];
    for (int i = 0; i < DIM; i++) flat[i] = 0.25f;
    char text[201];
    memset(text, 'a', 200);
    text[200] = 0;
    dv_meta_kv kv = {"note", text};
    assert_int_equal(dv_db_insert(primary, "flat-1", flat, &kv, 1), DV_OK);
    assert_int_equal(dv_capture_stats_get(cap, &st), DV_OK);
    assert_true(st.raw_bytes - raw0 > st.payload_bytes - stored0);
    dv_capture_free(cap);
    dv_db_close(primary);
    dv_db_close(replica);
}

static void batched_stream_replays_to_identical_state(void **state) {
    (void)state;
    rng_state = 2;
    dv_db *primary = open_db(), *replica = open_db();
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.batch_max_deltas = 16;
    cfg.before_images = 1;
    dv_capture *cap = start_capture(primary, &cfg);
    run_workload(primary, cap, replica, 2000, 50);
    assert_int_equal(dv_db_state_hash(primary), dv_db_state_hash(replica));
    dv_capture_stats st;
    assert_int_equal(dv_capture_stats_get(cap, &st), DV_OK);
    assert_true(st.deltas < st.writes); /* writes really were grouped */
    dv_capture_free(cap);
    dv_db_close(primary);
    dv_db_close(replica);
}

static void update_that_changes_nothing_emits_nothing(void **state) {
    (void)state;
    rng_state = 3;
    dv_db *db = open_db();
    dv_capture *cap = start_capture(db, NULL);
    float v[DIM];
    random_vec(v);
    assert_int_equal(dv_db_insert(db, "a", v, NULL, 0), DV_OK);
    uint64_t last = dv_capture_last_sequence(cap);
    assert_int_equal(dv_db_update(db, "a", v), DV_OK);
    uint32_t idx[1] = {3};
    float same[1] = {v[3]};
    assert_int_equal(dv_db_update_sparse(db, "a", idx, same, 1), DV_OK);
    assert_int_equal(dv_capture_last_sequence(cap), last);
    dv_capture_stats st;
    dv_capture_stats_get(cap, &st);
    assert_int_equal(st.skipped_unchanged, 2);
    dv_capture_free(cap);
    dv_db_close(db);
}

static void few_changed_dims_make_a_sparse_delta(void **state) {
    (void)state;
    rng_state = 4;
    dv_db *db = open_db();
    dv_capture *cap = start_capture(db, NULL);
    float v[DIM];
    random_vec(v);
    assert_int_equal(dv_db_insert(db, "a", v, NULL, 0), DV_OK);
    v[5] += 1.0f;
    v[6] = -0.0f; /* sign of zero must travel too */
    assert_int_equal(dv_db_update(db, "a", v), DV_OK);
    for (int i = 0; i < DIM; i++) v[i] += 0.5f;
    assert_int_equal(dv_db_update(db, "a", v), DV_OK);
    dv_delta_header h[8];
    size_t n = 0;
    assert_int_equal(dv_capture_poll(cap, h, 8, &n), DV_OK);
    assert_int_equal(n, 3);
    assert_int_equal(h[0].operation, DV_OP_INSERT);
    assert_int_equal(h[1].operation, DV_OP_UPDATE);
    assert_true(h[1].flags & DV_FLAG_SPARSE);
    assert_false(h[2].flags & DV_FLAG_SPARSE);
    assert_int_equal(h[1].prev_sequence, h[0].sequence);
    assert_int_equal(h[2].prev_sequence, h[1].sequence);
    dv_capture_free(cap);
    dv_db_close(db);
}

static void small_moves_keep_the_graph_and_large_ones_relink(void **state) {
    (void)state;
    rng_state = 8;
    dv_db *db = open_db();
    dv_capture *cap = start_capture(db, NULL);
    float v[DIM];
    char id[32];
    for (uint32_t i = 0; i < 200; i++) {
        random_vec(v);
        id_of(id, sizeof id, i);
        assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
    }
    dv_db *replica = open_db();
    uint64_t seq = 1;
    drain(cap, replica, &seq);
    assert_int_equal(dv_db_get(db, "vec-7", v), DV_OK);
    uint32_t idx[1] = {2};
    float tiny[1] = {v[2] + 1e-4f};
    assert_int_equal(dv_db_update_sparse(db, "vec-7", idx, tiny, 1), DV_OK);
    for (int i = 0; i < DIM; i++) v[i] = -v[i] + 3.0f; /* far away */
    assert_int_equal(dv_db_update(db, "vec-7", v), DV_OK);
    dv_delta_header h[2];
    size_t n = 0;
    assert_int_equal(dv_capture_poll(cap, h, 2, &n), DV_OK);
    assert_int_equal(n, 2);
    assert_false(h[0].flags & DV_FLAG_HAS_HNSW);
    assert_true(h[1].flags & DV_FLAG_HAS_HNSW);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *hb, *pb;
        size_t len;
        assert_int_equal(dv_capture_payload(cap, h[i].sequence, &hb, &pb, &len), DV_OK);
        replay_delta(replica, hb, pb, len);
    }
    assert_int_equal(dv_db_state_hash(db), dv_db_state_hash(replica));
    dv_capture_free(cap);
    dv_db_close(db);
    dv_db_close(replica);
}

static void full_ring_refuses_the_write_and_leaves_db_unchanged(void **state) {
    (void)state;
    rng_state = 5;
    dv_db *db = open_db();
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.ring.slot_count = 8;
    cfg.ring.payload_size = 1u << 16;
    dv_capture *cap = start_capture(db, &cfg);
    float v[DIM];
    char id[32];
    dv_status st = DV_OK;
    int inserted = 0;
    for (int i = 0; i < 100 && st == DV_OK; i++) {
        random_vec(v);
        id_of(id, sizeof id, (uint32_t)i);
        uint64_t before = dv_db_state_hash(db);
        st = dv_db_insert(db, id, v, NULL, 0);
        if (st == DV_OK)
            inserted++;
        else
            assert_int_equal(dv_db_state_hash(db), before);
    }
    assert_int_equal(st, DV_EFULL);
    assert_int_equal((int)dv_db_count(db), inserted);
    /* the consumer catches up: writes flow again, and nothing was lost */
    dv_db *replica = open_db();
    uint64_t seq = 1;
    assert_int_equal(drain(cap, replica, &seq), (size_t)inserted);
    assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
    drain(cap, replica, &seq);
    assert_int_equal(dv_db_state_hash(db), dv_db_state_hash(replica));
    dv_capture_free(cap);
    dv_db_close(db);
    dv_db_close(replica);
}

static void logical_stream_carries_no_graph(void **state) {
    (void)state;
    rng_state = 6;
    dv_db *db = open_db();
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.parts = DV_CAPTURE_VECTORS | DV_CAPTURE_METADATA;
    dv_capture *cap = start_capture(db, &cfg);
    float v[DIM];
    char id[32];
    for (uint32_t i = 0; i < 50; i++) {
        random_vec(v);
        id_of(id, sizeof id, i);
        assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
    }
    dv_delta_header h[64];
    size_t n = 0;
    assert_int_equal(dv_capture_poll(cap, h, 64, &n), DV_OK);
    assert_int_equal(n, 50);
    for (size_t i = 0; i < n; i++) assert_false(h[i].flags & DV_FLAG_HAS_HNSW);
    dv_capture_free(cap);
    dv_db_close(db);
}

static void stopped_capture_and_bad_config_are_refused(void **state) {
    (void)state;
    dv_db *db = open_db();
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.first_sequence = 0;
    dv_capture *cap = NULL;
    assert_int_equal(dv_capture_init(db, &cfg, &cap), DV_EINVAL);
    dv_capture_config_default(&cfg);
    cfg.full_policy = DV_FULL_WAIT; /* without a wait function */
    assert_int_equal(dv_capture_init(db, &cfg, &cap), DV_EINVAL);
    assert_int_equal(dv_capture_init(db, NULL, &cap), DV_OK);
    assert_int_equal(dv_capture_stop(cap), DV_ESTATE);
    assert_int_equal(dv_capture_start(cap), DV_OK);
    assert_int_equal(dv_capture_start(cap), DV_ESTATE);
    const uint8_t *hb, *pb;
    size_t len;
    assert_int_equal(dv_capture_payload(cap, 99, &hb, &pb, &len), DV_ENOTFOUND);
    assert_int_equal(dv_capture_stop(cap), DV_OK);
    float v[DIM] = {1};
    assert_int_equal(dv_db_insert(db, "x", v, NULL, 0), DV_OK); /* not captured */
    dv_delta_header h[1];
    size_t n = 0;
    assert_int_equal(dv_capture_poll(cap, h, 1, &n), DV_EEMPTY);
    dv_capture_free(cap);
    dv_db_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(captured_stream_replays_to_identical_state),
        cmocka_unit_test(batched_stream_replays_to_identical_state),
        cmocka_unit_test(update_that_changes_nothing_emits_nothing),
        cmocka_unit_test(few_changed_dims_make_a_sparse_delta),
        cmocka_unit_test(small_moves_keep_the_graph_and_large_ones_relink),
        cmocka_unit_test(full_ring_refuses_the_write_and_leaves_db_unchanged),
        cmocka_unit_test(logical_stream_carries_no_graph),
        cmocka_unit_test(stopped_capture_and_bad_config_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
