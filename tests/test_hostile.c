/*
 * test_hostile.c -- well-formed but hostile deltas (valid checksums, values
 * a primary never produces) are refused with the documented status, leave
 * the replica unchanged and take no lasting memory; and a db releases the
 * memory a single huge operation needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "db/replay.h"
#include "delta/delta.h"
#include "support/stream.h"
#include "util/alloc.h"

#define DIM 8

/* A primary's stream of n inserts (uncompressed single deltas). */
static test_stream inserts(size_t n) {
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.compress = 0;
    test_primary p;
    test_primary_open(&p, DIM, &cc, 7);
    workload_mix mix = {1, 0, 0, 0, 0};
    test_primary_run(&p, n, &mix);
    test_primary_drain(&p);
    test_stream s = p.stream;
    p.stream.d = NULL;
    p.stream.n = 0;
    test_primary_close(&p);
    return s;
}

static dv_apply *replica_of(dv_db **r, const test_stream *s, size_t n) {
    *r = test_open_db(DIM, 42);
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(*r, NULL, &ap), DV_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(dv_apply_buffer(ap, s->d[i].bytes, s->d[i].len), DV_OK);
    return ap;
}

/* Decodes delta `in`, lets edit() change it, re-encodes it (valid checksum). */
typedef void (*edit_fn)(dv_delta *d, void *ctx);
static test_delta reencode(const test_delta *in, edit_fn edit, void *ctx) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena, scratch;
    dv_delta_arena_init(&arena, &mem);
    dv_delta_arena_init(&scratch, &mem);
    dv_decode_limits lim = {0, 0};
    dv_delta d;
    assert_int_equal(dv_delta_decode_buf(in->bytes, in->len, &lim, &arena, &d), DV_OK);
    edit(&d, ctx);
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    o.compress = 0;
    test_delta out;
    size_t cap = in->len * 2 + 4096;
    out.bytes = malloc(cap);
    assert_non_null(out.bytes);
    size_t len = 0;
    assert_int_equal(dv_delta_encode(&d, &o, &scratch, out.bytes, out.bytes + DV_DELTA_HEADER_SIZE,
                                     cap - DV_DELTA_HEADER_SIZE, &len),
                     DV_OK);
    out.len = DV_DELTA_HEADER_SIZE + len;
    dv_delta_arena_free(&arena);
    dv_delta_arena_free(&scratch);
    return out;
}

/* Applies a hostile delta: refused with `want`, replica unchanged. */
static void assert_refused(dv_apply *ap, dv_db *r, const test_delta *t, dv_status want) {
    uint64_t h = dv_db_state_hash(r);
    size_t mem = dv_db_memory_usage(r);
    uint64_t pos = dv_apply_position(ap);
    dv_status st = dv_apply_buffer(ap, t->bytes, t->len);
    if (st != want)
        fail_msg("got %s (%s), want %s", dv_status_name(st), dv_apply_last_error(ap), dv_status_name(want));
    assert_true(dv_db_state_hash(r) == h);
    assert_int_equal(dv_apply_position(ap), pos);
    assert_int_equal(dv_db_check_invariants(r), DV_OK);
    /* what a refused delta reserved is released (a free slot may remain) */
    assert_true(dv_db_memory_usage(r) <= mem + (1u << 16));
}

/* ---- 4: entry point not on the top level --------------------------------- */

typedef struct entry_edit {
    int own; /* entry := `low` (a live level-0 node), else keep the entry */
    uint32_t low;
    uint32_t entry, top; /* the replica's entry and top level */
    int32_t level_delta; /* added to the claimed max_level */
} entry_edit;

static void edit_entry(dv_delta *d, void *ctx) {
    entry_edit *e = ctx;
    d->h.flags |= DV_FLAG_HAS_HNSW;
    d->has_entry = 1;
    d->entry = e->own ? e->low : e->entry;
    d->max_level = (uint32_t)((int32_t)(e->own ? 0 : e->top) + e->level_delta);
}

static void entry_not_on_the_top_level_is_refused_at_apply(void **state) {
    (void)state;
    test_stream s = inserts(60);
    dv_db *r;
    dv_apply *ap = replica_of(&r, &s, 59);
    entry_edit e = {0, 0, 0, 0, 0};
    dv_db_entry(r, &e.entry, &e.top);
    assert_true(e.top > 0); /* 59 nodes with M=8: some node above layer 0 */
    while (!dv_db_slot_live(r, e.low) || dv_db_level_of(r, e.low) != 0) e.low++;
    /* (a) a live node, on its real top level (0), named entry below the db's top */
    e.own = 1;
    test_delta t = reencode(&s.d[59], edit_entry, &e);
    assert_refused(ap, r, &t, DV_ECONSTRAINT);
    free(t.bytes);
    /* (b) the real entry with a max_level that is not its level (above and below) */
    e.own = 0;
    e.level_delta = 1;
    t = reencode(&s.d[59], edit_entry, &e);
    assert_refused(ap, r, &t, DV_ECONSTRAINT);
    free(t.bytes);
    e.level_delta = -1;
    t = reencode(&s.d[59], edit_entry, &e);
    assert_refused(ap, r, &t, DV_ECONSTRAINT);
    free(t.bytes);
    /* the genuine delta still applies */
    assert_int_equal(dv_apply_buffer(ap, s.d[59].bytes, s.d[59].len), DV_OK);
    assert_int_equal(dv_db_check_invariants(r), DV_OK);
    dv_apply_free(ap);
    dv_db_close(r);
    test_stream_free(&s);
}

static void raise_level(dv_delta *d, void *ctx) {
    d->level = *(uint32_t *)ctx;
    d->has_entry = 0; /* the entry point stays where it was */
}

/* Found by fuzz_apply: an insert whose level is above the entry point's,
 * with no entry change, was accepted and broke the entry invariant. */
static void insert_above_the_entry_level_is_refused(void **state) {
    (void)state;
    test_stream s = inserts(60);
    dv_db *r;
    dv_apply *ap = replica_of(&r, &s, 59);
    uint32_t entry, top;
    dv_db_entry(r, &entry, &top);
    uint32_t level = top + 1;
    test_delta t = reencode(&s.d[59], raise_level, &level);
    assert_refused(ap, r, &t, DV_ECONSTRAINT);
    free(t.bytes);
    assert_int_equal(dv_apply_buffer(ap, s.d[59].bytes, s.d[59].len), DV_OK);
    assert_int_equal(dv_db_check_invariants(r), DV_OK);
    dv_apply_free(ap);
    dv_db_close(r);
    test_stream_free(&s);
}

/* ---- 5: slots from the wire ---------------------------------------------- */

static void set_slot(dv_delta *d, void *ctx) {
    uint32_t old = d->slot;
    d->slot = *(uint32_t *)ctx;
    for (uint32_t i = 0; i < d->n_sections; i++) { /* the node's own lists name it */
        dv_hnsw_section *sec = (dv_hnsw_section *)&d->sections[i];
        for (uint32_t j = 0; j < sec->n_add; j++) {
            dv_edge_add *ea = (dv_edge_add *)&sec->adds[j];
            if (ea->from == old) ea->from = d->slot;
            if (ea->to == old) ea->to = d->slot;
        }
    }
    if (d->has_entry && d->entry == old) d->entry = d->slot;
}

static void insert_beyond_the_next_slot_is_refused_without_growth(void **state) {
    (void)state;
    test_stream s = inserts(60);
    static const dv_conflict_action policies[3] = {DV_CONFLICT_ABORT, DV_CONFLICT_OMIT, DV_CONFLICT_REPLACE};
    static const uint32_t slots[4] = {61, 1000, 5000, 1u << 28};
    for (int p = 0; p < 3; p++) {
        for (int k = 0; k < 4; k++) {
            dv_db *r = test_open_db(DIM, 42);
            dv_apply_config cfg;
            dv_apply_config_default(&cfg);
            cfg.policy = policies[p];
            dv_apply *ap = NULL;
            assert_int_equal(dv_apply_init(r, &cfg, &ap), DV_OK);
            for (size_t i = 0; i < 59; i++)
                assert_int_equal(dv_apply_buffer(ap, s.d[i].bytes, s.d[i].len), DV_OK);
            uint32_t slot = slots[k];
            test_delta t = reencode(&s.d[59], set_slot, &slot);
            uint64_t h = dv_db_state_hash(r);
            size_t mem = dv_db_memory_usage(r);
            dv_status st = dv_apply_buffer(ap, t.bytes, t.len);
            /* refused, or (OMIT) skipped: either way nothing changes and nothing grows */
            if (policies[p] == DV_CONFLICT_OMIT) {
                assert_true(st == DV_OK || st == DV_ECONSTRAINT);
            } else if (st != DV_ECONSTRAINT) {
                fail_msg("slot %u: %s (%s)", slot, dv_status_name(st), dv_apply_last_error(ap));
            }
            assert_true(dv_db_state_hash(r) == h);
            assert_true(dv_db_memory_usage(r) <= mem + (1u << 16));
            assert_int_equal(dv_db_count(r), 59);
            assert_int_equal(dv_db_check_invariants(r), DV_OK);
            free(t.bytes);
            dv_apply_free(ap);
            dv_db_close(r);
        }
    }
    test_stream_free(&s);
}

/* ---- 8: levels beyond the db's, batch header fields ----------------------- */

static void set_level(dv_delta *d, void *ctx) {
    d->level = *(uint32_t *)ctx;
    d->n_sections = 0; /* lists of a level-0 node: dropped, the level check comes first */
    d->has_entry = 0;
}

static void insert_level_above_48_is_a_constraint(void **state) {
    (void)state;
    test_stream s = inserts(3);
    dv_db *r;
    dv_apply *ap = replica_of(&r, &s, 2);
    static const uint32_t levels[3] = {49, 100, 255};
    for (int i = 0; i < 3; i++) {
        uint32_t level = levels[i];
        test_delta t = reencode(&s.d[2], set_level, &level);
        assert_refused(ap, r, &t, DV_ECONSTRAINT);
        free(t.bytes);
    }
    dv_apply_free(ap);
    dv_db_close(r);
    test_stream_free(&s);
}

static void batch_header_with_vector_hash_or_prev_sequence_is_corrupt(void **state) {
    (void)state;
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.batch_max_deltas = 4;
    test_primary p;
    test_primary_open(&p, DIM, &cc, 9);
    workload_mix mix = {1, 0, 0, 0, 0};
    test_primary_run(&p, 8, &mix);
    assert_int_equal(dv_capture_flush(p.cap), DV_OK);
    test_primary_drain(&p);
    assert_true(p.stream.n >= 1);
    test_delta *b = &p.stream.d[0];
    assert_int_equal(b->bytes[8], DV_OP_BATCH);
    for (int field = 0; field < 2; field++) {
        test_delta t;
        t.len = b->len;
        t.bytes = malloc(t.len);
        assert_non_null(t.bytes);
        memcpy(t.bytes, b->bytes, t.len);
        t.bytes[field == 0 ? 12 : 40] = 1; /* vector_id_hash, prev_sequence */
        uint64_t ck =
            dv_delta_checksum(t.bytes, t.bytes + DV_DELTA_HEADER_SIZE, t.len - DV_DELTA_HEADER_SIZE);
        for (int i = 0; i < 8; i++) t.bytes[32 + i] = (uint8_t)(ck >> (8 * i));
        dv_db *r = test_open_db(DIM, 42);
        dv_apply *ap = NULL;
        assert_int_equal(dv_apply_init(r, NULL, &ap), DV_OK);
        assert_refused(ap, r, &t, DV_ECORRUPT);
        dv_apply_free(ap);
        dv_db_close(r);
        free(t.bytes);
    }
    test_primary_close(&p);
}

/* ---- 6: memory a huge operation needed is released ------------------------ */

static void huge_search_ef_does_not_keep_its_scratch(void **state) {
    (void)state;
    dv_db *db = test_open_db(DIM, 42);
    float v[DIM];
    uint64_t rng = 3;
    char id[32];
    for (int i = 0; i < 200; i++) {
        for (int d = 0; d < DIM; d++) v[d] = test_randf(&rng);
        snprintf(id, sizeof id, "n%d", i);
        assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
    }
    dv_hit hits[10];
    size_t n;
    assert_int_equal(dv_db_search(db, v, 10, 64, hits, &n), DV_OK);
    size_t base = dv_db_memory_usage(db);
    assert_int_equal(dv_db_search(db, v, 10, (size_t)1 << 24, hits, &n), DV_OK);
    assert_int_equal(n, 10);
    if (dv_db_memory_usage(db) > base + (1u << 20))
        fail_msg("search with ef 2^24 kept %zu bytes", dv_db_memory_usage(db) - base);
    dv_db_close(db);
}

static void large_transaction_does_not_keep_its_journal(void **state) {
    (void)state;
    /* a replica applies one batch of many inserts: its journal grows for it */
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.batch_max_deltas = 4000;
    cc.batch_max_bytes = 0;
    test_primary p;
    test_primary_open(&p, DIM, &cc, 11);
    workload_mix mix = {1, 0, 0, 0, 0};
    test_primary_run(&p, 3000, &mix);
    assert_int_equal(dv_capture_flush(p.cap), DV_OK);
    test_primary_drain(&p);
    dv_db *r = test_open_db(DIM, 42);
    dv_db *ref = test_open_db(DIM, 42);
    dv_apply *ap = NULL, *ap_ref = NULL;
    assert_int_equal(dv_apply_init(r, NULL, &ap), DV_OK);
    assert_int_equal(dv_apply_init(ref, NULL, &ap_ref), DV_OK);
    for (size_t i = 0; i < p.stream.n; i++) {
        assert_int_equal(dv_apply_buffer(ap, p.stream.d[i].bytes, p.stream.d[i].len), DV_OK);
    }
    assert_true(dv_db_state_hash(r) == dv_db_state_hash(p.db));
    /* the same content inserted one by one (logical copy) needs no large journal */
    size_t after = dv_db_memory_usage(r);
    size_t primary = dv_db_memory_usage(p.db);
    if (after > primary + primary / 4)
        fail_msg("replica holds %zu bytes after one large batch, the primary %zu", after, primary);
    dv_apply_free(ap);
    dv_apply_free(ap_ref);
    dv_db_close(r);
    dv_db_close(ref);
    test_primary_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entry_not_on_the_top_level_is_refused_at_apply),
        cmocka_unit_test(insert_above_the_entry_level_is_refused),
        cmocka_unit_test(insert_beyond_the_next_slot_is_refused_without_growth),
        cmocka_unit_test(insert_level_above_48_is_a_constraint),
        cmocka_unit_test(batch_header_with_vector_hash_or_prev_sequence_is_corrupt),
        cmocka_unit_test(huge_search_ef_does_not_keep_its_scratch),
        cmocka_unit_test(large_transaction_does_not_keep_its_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
