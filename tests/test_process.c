/* test_process.c -- filter, transform and route deltas between rings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "support/stream.h"
#include "db/replay.h"
#include "delta/delta.h"
#include "util/alloc.h"

#define DIM 16
#define MAX_OUT 4

static uint64_t rng_state;
static float rndf(void) { return test_randf(&rng_state); }

typedef struct fixture {
    dv_db *primary;
    dv_capture *cap;
    void *mem[MAX_OUT];
    dv_ring out[MAX_OUT];
    size_t n_out;
} fixture;

static dv_db *open_db(void) { return test_open_db_sized(DIM, 8, 32); }

static void setup(fixture *f, size_t n_out, uint32_t out_slots, uint32_t out_bytes) {
    memset(f, 0, sizeof *f);
    f->primary = open_db();
    assert_int_equal(dv_capture_init(f->primary, NULL, &f->cap), DV_OK);
    assert_int_equal(dv_capture_start(f->cap), DV_OK);
    f->n_out = n_out;
    for (size_t i = 0; i < n_out; i++) {
        dv_ring_config rc;
        dv_ring_config_default(&rc, DV_RING_SPSC);
        rc.slot_count = out_slots;
        rc.payload_size = out_bytes;
        size_t size = dv_ring_required_size(&rc);
        f->mem[i] = aligned_alloc(64, size);
        assert_int_equal(dv_ring_init(f->mem[i], size, &rc, &f->out[i]), DV_OK);
    }
}

static void teardown(fixture *f) {
    dv_capture_free(f->cap);
    dv_db_close(f->primary);
    for (size_t i = 0; i < f->n_out; i++) free(f->mem[i]);
}

/* inserts n vectors (ids "a-i" or "b-i"), updates and deletes some */
static void workload(dv_db *db, int n) {
    float v[DIM];
    char id[32];
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < DIM; d++) v[d] = rndf();
        snprintf(id, sizeof id, "%c-%d", i % 2 ? 'a' : 'b', i);
        dv_meta_kv meta[1] = {{"shard", i % 3 ? "hot" : "cold"}};
        assert_int_equal(dv_db_insert(db, id, v, meta, 1), DV_OK);
    }
    for (int i = 0; i < n; i += 3) {
        snprintf(id, sizeof id, "%c-%d", i % 2 ? 'a' : 'b', i);
        uint32_t idx[2] = {1, 7};
        float vals[2] = {rndf(), rndf()};
        assert_int_equal(dv_db_update_sparse(db, id, idx, vals, 2), DV_OK);
    }
    for (int i = 0; i < n; i += 5) {
        snprintf(id, sizeof id, "%c-%d", i % 2 ? 'a' : 'b', i);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
    }
}

static dv_process *make_stage(fixture *f, dv_process_config *cfg) {
    cfg->outputs = f->out;
    cfg->n_outputs = f->n_out;
    dv_process *p = NULL;
    assert_int_equal(dv_process_init(cfg, &p), DV_OK);
    return p;
}

static void run_all(dv_process *p, fixture *f) {
    size_t n = 0;
    dv_status st;
    while ((st = dv_process_run(p, dv_capture_ring(f->cap), 1000, &n)) == DV_OK) {
    }
    assert_int_equal(st, DV_EEMPTY);
}

static dv_status replay_into(void *db, const dv_event *ev) { return dv_db_replay(db, ev); }

/* Applies a logical stream through the public API (what a logical replica does). */
static void logical_apply(dv_db *db, const dv_delta *d) {
    if (d->h.operation == DV_OP_BATCH) {
        for (uint32_t i = 0; i < d->n_sub; i++) logical_apply(db, &d->subs[i]);
        return;
    }
    assert_int_equal(d->n_sections, 0);
    switch (d->vkind) {
    case DV_VEC_INSERT:
        assert_int_equal(dv_db_insert(db, d->id, d->values, d->meta, d->n_meta), DV_OK);
        break;
    case DV_VEC_DENSE:
        assert_int_equal(dv_db_update(db, d->id, d->values), DV_OK);
        break;
    case DV_VEC_SPARSE:
        assert_int_equal(dv_db_update_sparse(db, d->id, d->idx, d->values, d->n), DV_OK);
        break;
    case DV_VEC_DELETE:
        assert_int_equal(dv_db_delete(db, d->id), DV_OK);
        break;
    default:
        for (uint32_t i = 0; i < d->n_meta; i++)
            assert_int_equal(dv_db_set_meta(db, d->id, d->meta[i].key, d->meta[i].value), DV_OK);
    }
}

/* Drains an output ring: checks gap-free numbering from 1 and prev_sequence
 * sanity; applies each delta with `apply` (structural replay when replica
 * != NULL and structural, logical otherwise). Returns the delta count. */
static size_t drain_output(const dv_ring *r, dv_db *replica, int structural) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_ring_entry e;
    size_t n = 0, count = 0;
    uint64_t expect = 1;
    while (dv_ring_poll(r, &e, 1, &n) == DV_OK && n == 1) {
        dv_delta d;
        dv_delta_arena_reset(&arena);
        assert_int_equal(dv_delta_decode(e.header, e.payload, e.len, NULL, &arena, &d), DV_OK);
        assert_int_equal(d.h.sequence, expect);
        assert_true(d.h.prev_sequence < d.h.sequence);
        expect++;
        if (replica && structural) {
            assert_int_equal(dv_delta_to_events(&d, replay_into, replica), DV_OK);
        } else if (replica) {
            logical_apply(replica, &d);
        }
        assert_int_equal(dv_ring_release(r, &e), DV_OK);
        count++;
    }
    dv_delta_arena_free(&arena);
    return count;
}

static void broadcast_forwards_identical_streams(void **state) {
    (void)state;
    rng_state = 11;
    fixture f;
    setup(&f, 2, 4096, 1u << 22);
    dv_process_config cfg;
    dv_process_config_default(&cfg);
    dv_process *p = make_stage(&f, &cfg);
    workload(f.primary, 300);
    run_all(p, &f);
    dv_db *r1 = open_db(), *r2 = open_db();
    size_t n1 = drain_output(&f.out[0], r1, 1), n2 = drain_output(&f.out[1], r2, 1);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, dv_capture_last_sequence(f.cap));
    assert_int_equal(dv_db_state_hash(r1), dv_db_state_hash(f.primary));
    assert_int_equal(dv_db_state_hash(r2), dv_db_state_hash(f.primary));
    dv_db_close(r1);
    dv_db_close(r2);
    dv_process_free(p);
    teardown(&f);
}

static void dropping_the_graph_gives_a_logical_stream(void **state) {
    (void)state;
    rng_state = 12;
    fixture f;
    setup(&f, 1, 4096, 1u << 22);
    dv_process_config cfg;
    dv_process_config_default(&cfg);
    cfg.drop_hnsw = 1;
    dv_process *p = make_stage(&f, &cfg);
    workload(f.primary, 300);
    run_all(p, &f);
    dv_db *r = open_db();
    drain_output(&f.out[0], r, 0);
    assert_int_equal(dv_db_count(r), dv_db_count(f.primary));
    float a[DIM], b[DIM];
    assert_int_equal(dv_db_get(f.primary, "a-1", a), DV_OK);
    assert_int_equal(dv_db_get(r, "a-1", b), DV_OK);
    assert_memory_equal(a, b, sizeof a);
    dv_db_close(r);
    dv_process_free(p);
    teardown(&f);
}

static void partitions_by_id_hash_are_disjoint_and_gap_free(void **state) {
    (void)state;
    rng_state = 13;
    fixture f;
    setup(&f, 3, 4096, 1u << 22);
    dv_process_config cfg;
    dv_process_config_default(&cfg);
    cfg.route = DV_ROUTE_BY_ID_HASH;
    dv_process *p = make_stage(&f, &cfg);
    workload(f.primary, 300);
    run_all(p, &f);
    dv_db *r[3];
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        r[i] = open_db();
        total += drain_output(&f.out[i], r[i], 0);
        assert_true(dv_db_count(r[i]) > 0);
    }
    assert_int_equal(dv_db_count(r[0]) + dv_db_count(r[1]) + dv_db_count(r[2]), dv_db_count(f.primary));
    dv_process_stats ps;
    assert_int_equal(dv_process_stats_get(p, &ps), DV_OK);
    /* every delta lands in a partition, but the graph-only ones (the repair
     * steps after deletes), which a logical output has no use for */
    assert_true(total + ps.dropped >= dv_capture_last_sequence(f.cap));
    float v[DIM];
    char id[32];
    for (int i = 1; i < 300; i += 5) { /* every live id is in exactly its partition */
        snprintf(id, sizeof id, "%c-%d", i % 2 ? 'a' : 'b', i);
        if (dv_db_get(f.primary, id, v) != DV_OK) continue;
        int found = 0;
        for (int k = 0; k < 3; k++) found += dv_db_get(r[k], id, v) == DV_OK;
        assert_int_equal(found, 1);
    }
    for (int i = 0; i < 3; i++) dv_db_close(r[i]);
    dv_process_free(p);
    teardown(&f);
}

static int keep_even_numbers(void *ctx, const dv_delta_header *h, const char *id) {
    (void)ctx;
    (void)h;
    return id && (atoi(id + 2) % 2 == 0);
}

static void filters_select_by_prefix_metadata_op_and_callback(void **state) {
    (void)state;
    rng_state = 14;
    struct {
        const char *prefix, *key, *value;
        uint32_t ops;
        dv_filter_fn fn;
    } cases[] = {
        {"a-", NULL, NULL, 0, NULL},
        {NULL, "shard", "hot", 0, NULL},
        {NULL, NULL, NULL, 1u << DV_OP_INSERT, NULL},
        {NULL, NULL, NULL, 0, keep_even_numbers},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fixture f;
        setup(&f, 1, 4096, 1u << 22);
        dv_process_config cfg;
        dv_process_config_default(&cfg);
        cfg.id_prefix = cases[c].prefix;
        cfg.meta_key = cases[c].key;
        cfg.meta_value = cases[c].value;
        cfg.keep_ops = cases[c].ops;
        cfg.filter = cases[c].fn;
        dv_process *p = make_stage(&f, &cfg);
        workload(f.primary, 120);
        run_all(p, &f);
        dv_db *r = open_db();
        drain_output(&f.out[0], r, 0);
        float v[DIM];
        char id[32];
        for (int i = 0; i < 120; i++) {
            snprintf(id, sizeof id, "%c-%d", i % 2 ? 'a' : 'b', i);
            int live = dv_db_get(f.primary, id, v) == DV_OK;
            int want;
            if (cases[c].prefix)
                want = live && id[0] == 'a';
            else if (cases[c].key)
                want = live && (i % 3 != 0);
            else if (cases[c].ops)
                want = 1; /* inserts only: deletes never reach the replica */
            else
                want = live && i % 2 == 0;
            assert_int_equal(dv_db_get(r, id, v) == DV_OK, want);
        }
        dv_db_close(r);
        dv_process_stats st;
        dv_process_stats_get(p, &st);
        assert_true(st.dropped > 0);
        dv_process_free(p);
        teardown(&f);
    }
}

static void quantized_stream_stays_within_the_f16_bound(void **state) {
    (void)state;
    rng_state = 15;
    fixture f;
    setup(&f, 1, 4096, 1u << 22);
    dv_process_config cfg;
    dv_process_config_default(&cfg);
    cfg.quantize = DV_LOSSY_F16;
    dv_process *p = make_stage(&f, &cfg);
    workload(f.primary, 100);
    run_all(p, &f);
    dv_db *r = open_db();
    drain_output(&f.out[0], r, 1);
    float a[DIM], b[DIM];
    assert_int_equal(dv_db_get(f.primary, "a-1", a), DV_OK);
    assert_int_equal(dv_db_get(r, "a-1", b), DV_OK);
    for (int d = 0; d < DIM; d++) assert_true(fabsf(a[d] - b[d]) <= fabsf(a[d]) * (1.0f / 2048.0f) + 1e-7f);
    dv_db_close(r);
    dv_process_free(p);
    teardown(&f);
}

/* UPDATE kind 3 bits are taken against exact values: a quantizing stage refuses them. */
static void quantizing_stage_refuses_kind3(void **state) {
    (void)state;
    rng_state = 16;
    fixture f;
    setup(&f, 1, 4096, 1u << 22);
    dv_capture_free(f.cap);
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.dense_xor = 1;
    cc.batch_max_deltas = 4; /* inside batches every dense update is kind 3 */
    assert_int_equal(dv_capture_init(f.primary, &cc, &f.cap), DV_OK);
    assert_int_equal(dv_capture_start(f.cap), DV_OK);
    float v[DIM];
    for (int d = 0; d < DIM; d++) v[d] = rndf();
    assert_int_equal(dv_db_insert(f.primary, "x", v, NULL, 0), DV_OK);
    for (int d = 0; d < DIM; d++) v[d] += 0.01f; /* every dim: a dense update */
    assert_int_equal(dv_db_update(f.primary, "x", v), DV_OK);
    assert_int_equal(dv_capture_flush(f.cap), DV_OK);
    dv_process_config cfg;
    dv_process_config_default(&cfg);
    cfg.quantize = DV_LOSSY_F16;
    dv_process *p = make_stage(&f, &cfg);
    size_t n = 0;
    assert_int_equal(dv_process_run(p, dv_capture_ring(f.cap), 10, &n), DV_EUNSUPPORTED);
    dv_process_free(p);
    teardown(&f);
}

/* Drains a rewritten output logically, continuing its numbering in *got. */
static void drain_continuing(const dv_ring *r, dv_db *replica, uint64_t *got) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena a;
    dv_delta_arena_init(&a, &mem);
    dv_ring_entry e;
    size_t k = 0;
    while (dv_ring_poll(r, &e, 1, &k) == DV_OK && k) {
        dv_delta d;
        dv_delta_arena_reset(&a);
        assert_int_equal(dv_delta_decode(e.header, e.payload, e.len, NULL, &a, &d), DV_OK);
        assert_int_equal(d.h.sequence, ++*got);
        logical_apply(replica, &d);
        dv_ring_release(r, &e);
    }
    dv_delta_arena_free(&a);
}

static void full_output_stops_the_stage_without_duplicates(void **state) {
    (void)state;
    rng_state = 16;
    fixture f;
    setup(&f, 2, 8, 1u << 16); /* tiny outputs */
    dv_process_config cfg;
    dv_process_config_default(&cfg);
    cfg.drop_hnsw = 1; /* rewriting path with per-output numbering */
    dv_process *p = make_stage(&f, &cfg);
    workload(f.primary, 60);
    dv_db *r[2] = {open_db(), open_db()};
    uint64_t got[2] = {0, 0};
    size_t n = 0;
    int fulls = 0;
    for (;;) {
        dv_status st = dv_process_run(p, dv_capture_ring(f.cap), 1000, &n);
        if (st == DV_EEMPTY) break;
        if (st != DV_EFULL) {
            assert_int_equal(st, DV_OK);
            continue;
        }
        fulls++;
        for (int o = 0; o < 2; o++) drain_continuing(&f.out[o], r[o], &got[o]);
    }
    assert_true(fulls > 0);
    for (int o = 0; o < 2; o++) {
        drain_continuing(&f.out[o], r[o], &got[o]);
        assert_int_equal(dv_db_count(r[o]), dv_db_count(f.primary));
        dv_db_close(r[o]);
    }
    assert_int_equal(got[0], got[1]);
    dv_process_free(p);
    teardown(&f);
}

static void corrupt_input_stops_a_rewriting_stage_until_skipped(void **state) {
    (void)state;
    rng_state = 17;
    fixture f;
    setup(&f, 1, 4096, 1u << 20);
    dv_process_config cfg;
    dv_process_config_default(&cfg);
    cfg.drop_metadata = 1;
    dv_process *p = make_stage(&f, &cfg);
    /* a hostile producer writes into a ring the stage reads */
    dv_ring_config rc;
    dv_ring_config_default(&rc, DV_RING_SPSC);
    size_t size = dv_ring_required_size(&rc);
    void *mem = aligned_alloc(64, size);
    dv_ring in;
    assert_int_equal(dv_ring_init(mem, size, &rc, &in), DV_OK);
    uint8_t junk[64] = {1, 2, 3};
    assert_int_equal(dv_ring_push(&in, junk, junk, sizeof junk), DV_OK);
    size_t n = 0;
    dv_status st = dv_process_run(p, &in, 10, &n);
    assert_true(st < 0 && st != DV_EEMPTY);
    assert_int_equal(dv_process_run(p, &in, 10, &n), st); /* stays stopped */
    assert_int_equal(dv_process_skip(p, &in), DV_OK);
    assert_int_equal(dv_process_run(p, &in, 10, &n), DV_EEMPTY);
    dv_process_stats ps;
    dv_process_stats_get(p, &ps);
    assert_int_equal(ps.bad_input, 2);
    free(mem);
    dv_process_free(p);
    teardown(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(broadcast_forwards_identical_streams),
        cmocka_unit_test(dropping_the_graph_gives_a_logical_stream),
        cmocka_unit_test(partitions_by_id_hash_are_disjoint_and_gap_free),
        cmocka_unit_test(filters_select_by_prefix_metadata_op_and_callback),
        cmocka_unit_test(quantized_stream_stays_within_the_f16_bound),
        cmocka_unit_test(quantizing_stage_refuses_kind3),
        cmocka_unit_test(full_output_stops_the_stage_without_duplicates),
        cmocka_unit_test(corrupt_input_stops_a_rewriting_stage_until_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
