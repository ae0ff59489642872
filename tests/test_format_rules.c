/*
 * test_format_rules.c -- the rules of docs/FORMAT.md that a decoder or a
 * replica written from it alone would otherwise have to guess: duplicate
 * metadata keys, which of DV_ECORRUPT / DV_ETRUNCATED a short delta gets,
 * what a structural replica does with a graph-less (logical) stream,
 * before-images under the lossy i8 coding, and the metadata order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "deltavec.h"
#include "support/stream.h"
#include "util/alloc.h"

#define DIM 8

static dv_apply *applier(dv_db *replica, dv_conflict_action policy, int coherence) {
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.policy = policy;
    cfg.coherence_check = coherence;
    cfg.workers = 0;
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(replica, &cfg, &ap), DV_OK);
    return ap;
}

/* Encodes d (header fields from d->h) into out: 64-byte header + payload. */
static void encode(const dv_delta *d, test_delta *out) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena scratch;
    dv_delta_arena_init(&scratch, &mem);
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    o.compress = 0;
    size_t cap = dv_delta_encoded_bound(d), len = 0;
    assert_true(cap > 0);
    out->bytes = malloc(DV_DELTA_HEADER_SIZE + cap);
    assert_int_equal(
        dv_delta_encode(d, &o, &scratch, out->bytes, out->bytes + DV_DELTA_HEADER_SIZE, cap, &len), DV_OK);
    out->len = DV_DELTA_HEADER_SIZE + len;
    dv_delta_arena_free(&scratch);
}

/* An INSERT of "a" at slot 0, level 0, that becomes the entry point, with the given pairs. */
static void insert_with_pairs(const char *const *kv, size_t n_pairs, test_delta *out) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_builder b;
    dv_delta_builder_init(&b, &mem);
    dv_delta_builder_begin(&b, DV_OP_INSERT);
    float v[DIM] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(dv_delta_builder_set_insert(&b, 0, "a", 0, DIM, v), DV_OK);
    for (size_t i = 0; i < n_pairs; i++)
        assert_int_equal(dv_delta_builder_meta(&b, kv[2 * i], kv[2 * i + 1]), DV_OK);
    dv_delta_builder_entry(&b, 0, 0);
    b.d.h.sequence = 1;
    encode(&b.d, out);
    dv_delta_builder_free(&b);
}

static void duplicate_insert_keys_decode_but_apply_refuses_them_with_emeta(void **state) {
    (void)state;
    static const char *const kv[] = {"k", "1", "k", "2"};
    test_delta t;
    insert_with_pairs(kv, 2, &t);
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_delta d;
    assert_int_equal(dv_delta_decode_buf(t.bytes, t.len, NULL, &arena, &d), DV_OK);
    assert_int_equal(d.n_meta, 2);
    dv_delta_arena_free(&arena);

    for (int logical = 0; logical <= 1; logical++) {
        dv_db *r = test_open_db(DIM, 1);
        dv_apply_config cfg;
        dv_apply_config_default(&cfg);
        cfg.mode = logical ? DV_APPLY_LOGICAL : DV_APPLY_STRUCTURAL;
        dv_apply *ap;
        assert_int_equal(dv_apply_init(r, &cfg, &ap), DV_OK);
        uint64_t h = dv_db_state_hash(r);
        assert_int_equal(dv_apply_buffer(ap, t.bytes, t.len), DV_EMETA);
        assert_int_equal(dv_db_state_hash(r), h);
        dv_apply_free(ap);
        dv_db_close(r);
    }
    free(t.bytes);
}

static void update_keys_apply_in_order_and_an_existing_key_keeps_its_position(void **state) {
    (void)state;
    static const char *const kv[] = {"x", "1", "y", "2", "z", "3"};
    test_delta ins, upd;
    insert_with_pairs(kv, 3, &ins);
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_builder b;
    dv_delta_builder_init(&b, &mem);
    dv_delta_builder_begin(&b, DV_OP_UPDATE);
    assert_int_equal(dv_delta_builder_set_meta_target(&b, 0, "a"), DV_OK);
    assert_int_equal(dv_delta_builder_meta(&b, "x", "first"), DV_OK);
    assert_int_equal(dv_delta_builder_meta(&b, "x", "last"), DV_OK); /* the same key twice: in order */
    assert_int_equal(dv_delta_builder_meta(&b, "y", NULL), DV_OK);   /* remove: the rest keep their order */
    assert_int_equal(dv_delta_builder_meta(&b, "w", "new"), DV_OK);  /* a new key goes last */
    b.d.h.sequence = 2;
    b.d.h.prev_sequence = 1;
    encode(&b.d, &upd);
    dv_delta_builder_free(&b);

    dv_db *r = test_open_db(DIM, 1);
    dv_apply *ap = applier(r, DV_CONFLICT_ABORT, 1);
    assert_int_equal(dv_apply_buffer(ap, ins.bytes, ins.len), DV_OK);
    assert_int_equal(dv_apply_buffer(ap, upd.bytes, upd.len), DV_OK);
    const dv_meta_kv *m;
    size_t n = 0;
    assert_int_equal(dv_db_meta(r, "a", &m, &n), DV_OK);
    assert_int_equal(n, 3);
    assert_string_equal(m[0].key, "x");
    assert_string_equal(m[0].value, "last");
    assert_string_equal(m[1].key, "z");
    assert_string_equal(m[2].key, "w");
    dv_apply_free(ap);
    dv_db_close(r);
    free(ins.bytes);
    free(upd.bytes);
}

static void a_short_buffer_is_truncated_a_short_structure_is_corrupt(void **state) {
    (void)state;
    static const char *const kv[] = {"k", "v"};
    test_delta t;
    insert_with_pairs(kv, 1, &t);
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_delta d;
    /* fewer bytes than a header, or than payload_size says: DV_ETRUNCATED */
    assert_int_equal(dv_delta_decode_buf(t.bytes, 10, NULL, &arena, &d), DV_ETRUNCATED);
    assert_int_equal(dv_delta_decode_buf(t.bytes, t.len - 1, NULL, &arena, &d), DV_ETRUNCATED);
    /* a payload that ends inside a structure, resealed so that the checksum holds: DV_ECORRUPT */
    dv_delta_header h;
    assert_int_equal(dv_delta_header_decode(t.bytes, &h), DV_OK);
    h.payload_size -= 1;
    dv_delta_header_encode(&h, t.bytes);
    dv_delta_seal(t.bytes, t.bytes + DV_DELTA_HEADER_SIZE, h.payload_size);
    assert_int_equal(dv_delta_decode_buf(t.bytes, t.len - 1, NULL, &arena, &d), DV_ECORRUPT);
    dv_delta_arena_free(&arena);
    free(t.bytes);
}

/* A logical stream: capture without the graph part. */
static void graph_less_primary(test_primary *p) {
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.parts = DV_CAPTURE_VECTORS | DV_CAPTURE_METADATA;
    test_primary_open(p, DIM, &cfg, 5);
    uint64_t rng = 9;
    float v[DIM];
    char id[16];
    for (int i = 0; i < 20; i++) {
        for (int d = 0; d < DIM; d++) v[d] = test_randf(&rng);
        id[0] = (char)('a' + i);
        id[1] = 0;
        assert_int_equal(dv_db_insert(p->db, id, v, NULL, 0), DV_OK);
    }
    test_primary_drain(p);
    assert_int_equal(p->stream.n, 20);
    for (size_t i = 0; i < p->stream.n; i++) assert_false(p->stream.d[i].bytes[9] & DV_FLAG_HAS_HNSW);
}

static void a_structural_replica_refuses_a_graph_less_stream_as_incoherent(void **state) {
    (void)state;
    test_primary p;
    graph_less_primary(&p);
    /* structural, coherence check on (the default): the first insert leaves no entry point */
    dv_db *r = test_open_db(DIM, 5);
    dv_apply *ap = applier(r, DV_CONFLICT_ABORT, 1);
    uint64_t h = dv_db_state_hash(r);
    assert_int_equal(dv_apply_buffer(ap, p.stream.d[0].bytes, p.stream.d[0].len), DV_EINCOHERENT);
    assert_int_equal(dv_db_state_hash(r), h);
    dv_apply_free(ap);
    dv_db_close(r);
    /* a logical replica builds its own index from the same stream */
    r = test_open_db(DIM, 5);
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.mode = DV_APPLY_LOGICAL;
    assert_int_equal(dv_apply_init(r, &cfg, &ap), DV_OK);
    for (size_t i = 0; i < p.stream.n; i++)
        assert_int_equal(dv_apply_buffer(ap, p.stream.d[i].bytes, p.stream.d[i].len), DV_OK);
    assert_int_equal(dv_db_count(r), 20);
    dv_hit hits[5];
    size_t n = 0;
    float q[DIM] = {0};
    assert_int_equal(dv_db_search(r, q, 5, 0, hits, &n), DV_OK);
    assert_int_equal(n, 5);
    dv_apply_free(ap);
    dv_db_close(r);
    test_primary_close(&p);
}

/* Primary with i8 capture and before-images: insert, then a sparse update. */
static void i8_primary(test_primary *p, int sparse) {
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.lossy = DV_LOSSY_I8;
    cfg.before_images = 1;
    test_primary_open(p, DIM, &cfg, 3);
    float v[DIM] = {0.1f, -0.7f, 0.33f, 0.9f, -0.25f, 0.6f, 0.05f, -0.4f};
    assert_int_equal(dv_db_insert(p->db, "a", v, NULL, 0), DV_OK);
    if (sparse) {
        uint32_t idx[1] = {2};
        float val[1] = {0.5f};
        assert_int_equal(dv_db_update_sparse(p->db, "a", idx, val, 1), DV_OK);
    } else {
        for (int d = 0; d < DIM; d++) v[d] += 0.01f;
        assert_int_equal(dv_db_update(p->db, "a", v), DV_OK);
    }
    test_primary_drain(p);
    assert_int_equal(p->stream.n, 2);
}

static void i8_before_images_are_not_compared_with_the_replica_values(void **state) {
    (void)state;
    for (int sparse = 0; sparse <= 1; sparse++) {
        test_primary p;
        i8_primary(&p, sparse);
        dv_db *r = test_open_db(DIM, 3);
        dv_apply *ap = applier(r, DV_CONFLICT_ABORT, 1);
        assert_int_equal(dv_apply_buffer(ap, p.stream.d[0].bytes, p.stream.d[0].len), DV_OK);
        /* a sparse update's before array has its own min/scale: it cannot equal the
         * values the replica decoded from the insert, so apply does not compare them */
        assert_int_equal(dv_apply_buffer(ap, p.stream.d[1].bytes, p.stream.d[1].len), DV_OK);
        dv_apply_stats st;
        assert_int_equal(dv_apply_stats_get(ap, &st), DV_OK);
        assert_int_equal(st.omitted + st.replaced, 0);
        dv_apply_free(ap);
        dv_db_close(r);
        test_primary_close(&p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duplicate_insert_keys_decode_but_apply_refuses_them_with_emeta),
        cmocka_unit_test(update_keys_apply_in_order_and_an_existing_key_keeps_its_position),
        cmocka_unit_test(a_short_buffer_is_truncated_a_short_structure_is_corrupt),
        cmocka_unit_test(a_structural_replica_refuses_a_graph_less_stream_as_incoherent),
        cmocka_unit_test(i8_before_images_are_not_compared_with_the_replica_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
