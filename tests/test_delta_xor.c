/* test_delta_xor.c -- UPDATE kind 3 (dense values XOR the replica's current ones, docs/FORMAT.md
 * 3.2): capture emits it when smaller, replicas (structural, logical, batched) converge, a replica
 * with other values refuses it unchanged, and the decoder refuses malformed forms. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "support/membuf.h"
#include "support/stream.h"
#include "delta/delta.h"
#include "delta/floats.h"
#include "util/alloc.h"

#define DIM 128
#define N_VEC 200

static uint64_t rng_state;

/* About N(0, 1): the sum of four uniforms, centred and scaled. */
static float gauss(void) {
    float s = 0;
    for (int i = 0; i < 4; i++) s += test_randf(&rng_state);
    return (s - 2.0f) * 1.7f;
}

static dv_db *open_db(void) { return test_open_db_sized(DIM, 8, 40); }

/* Captured deltas, copied out: 64-byte header then payload. */
typedef struct blobs {
    uint8_t *b[8192];
    size_t len[8192];
    size_t n, bytes, kind3;
} blobs;

static int is_kind3(const uint8_t *hdr, const uint8_t *payload, size_t len) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_delta d;
    assert_int_equal(dv_delta_decode(hdr, payload, len, NULL, &arena, &d), DV_OK);
    int k = d.vkind == DV_VEC_DENSE_XOR;
    for (uint32_t i = 0; i < d.n_sub; i++) k |= d.subs[i].vkind == DV_VEC_DENSE_XOR;
    dv_delta_arena_free(&arena);
    return k;
}

static void drain(dv_capture *cap, blobs *out) {
    dv_delta_header h[64];
    size_t n = 0;
    while (dv_capture_poll(cap, h, 64, &n) == DV_OK && n > 0) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *hb, *pb;
            size_t len;
            assert_int_equal(dv_capture_payload(cap, h[i].sequence, &hb, &pb, &len), DV_OK);
            assert_true(out->n < 8192);
            uint8_t *b = malloc(DV_DELTA_HEADER_SIZE + len);
            assert_non_null(b);
            memcpy(b, hb, DV_DELTA_HEADER_SIZE);
            memcpy(b + DV_DELTA_HEADER_SIZE, pb, len);
            out->b[out->n] = b;
            out->len[out->n++] = len;
            out->bytes += DV_DELTA_HEADER_SIZE + len;
            out->kind3 += (size_t)is_kind3(hb, pb, len);
        }
        assert_int_equal(dv_capture_release(cap, h[n - 1].sequence), DV_OK);
    }
}

static void blobs_free(blobs *s) {
    for (size_t i = 0; i < s->n; i++) free(s->b[i]);
}

/* N_VEC inserts, then `drifts` dense updates new = old + N(0, 0.01) (fixed seed). */
static void workload(dv_db *db, dv_capture *cap, blobs *out, int drifts) {
    rng_state = 42;
    float v[DIM];
    char id[32];
    for (int i = 0; i < N_VEC; i++) {
        for (int d = 0; d < DIM; d++) v[d] = gauss();
        snprintf(id, sizeof id, "v%d", i);
        assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
        drain(cap, out);
    }
    for (int i = 0; i < drifts; i++) {
        snprintf(id, sizeof id, "v%u", test_rand(&rng_state) % N_VEC);
        assert_int_equal(dv_db_get(db, id, v), DV_OK);
        for (int d = 0; d < DIM; d++) v[d] += gauss() * 0.01f;
        assert_int_equal(dv_db_update(db, id, v), DV_OK);
        drain(cap, out);
    }
    assert_int_equal(dv_capture_flush(cap), DV_OK);
    drain(cap, out);
}

static void capture_run(const dv_capture_config *cfg, blobs *out, uint64_t *hash) {
    dv_db *db = open_db();
    dv_capture *cap = NULL;
    assert_int_equal(dv_capture_init(db, cfg, &cap), DV_OK);
    assert_int_equal(dv_capture_start(cap), DV_OK);
    workload(db, cap, out, 400);
    *hash = dv_db_state_hash(db);
    dv_capture_free(cap);
    dv_db_close(db);
}

/* The workload captured with kind 3 on, vectors and metadata only (no graph sections). */
static void capture_kind3_run(blobs *out, uint64_t *hash) {
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.dense_xor = 1;
    cfg.parts = DV_CAPTURE_VECTORS | DV_CAPTURE_METADATA;
    memset(out, 0, sizeof *out);
    capture_run(&cfg, out, hash);
    assert_true(out->kind3 > 0);
}

static dv_db *replay(const blobs *s, dv_apply_mode mode) {
    dv_db *r = open_db();
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.mode = mode;
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(r, &ac, &ap), DV_OK);
    for (size_t i = 0; i < s->n; i++) {
        dv_status st = dv_apply_delta(ap, s->b[i], s->b[i] + DV_DELTA_HEADER_SIZE, s->len[i]);
        if (st != DV_OK) fail_msg("delta %zu: %s: %s", i, dv_status_name(st), dv_apply_last_error(ap));
    }
    dv_apply_free(ap);
    return r;
}

static void drift_travels_xor_smaller_and_replicas_converge(void **state) {
    (void)state;
    dv_capture_config plain, xor;
    dv_capture_config_default(&plain);
    dv_capture_config_default(&xor);
    xor.dense_xor = 1;
    blobs a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    uint64_t ha, hb;
    capture_run(&plain, &a, &ha);
    capture_run(&xor, &b, &hb);
    assert_int_equal(ha, hb); /* the same writes: the encoding does not change the primary */
    assert_int_equal(a.kind3, 0);
    assert_true(b.kind3 >= 350); /* drift is smaller as XOR + LZ4: nearly every update */
    assert_true(b.bytes < a.bytes);
    print_message("400 drift updates + %d inserts, dim %d: %zu bytes plain, %zu with kind 3 (%zu deltas)\n",
                  N_VEC, DIM, a.bytes, b.bytes, b.kind3);
    dv_db *r = replay(&b, DV_APPLY_STRUCTURAL);
    assert_int_equal(dv_db_state_hash(r), hb);
    dv_db_close(r);
    blobs_free(&a);
    blobs_free(&b);
}

static void logical_and_batched_replicas_converge(void **state) {
    (void)state;
    blobs s;
    uint64_t h;
    capture_kind3_run(&s, &h);
    dv_db *r = replay(&s, DV_APPLY_LOGICAL);
    float a[DIM], b[DIM];
    dv_db *p = replay(&s, DV_APPLY_LOGICAL); /* two logical replicas agree on every vector */
    for (int i = 0; i < N_VEC; i++) {
        char id[32];
        snprintf(id, sizeof id, "v%d", i);
        assert_int_equal(dv_db_get(r, id, a), DV_OK);
        assert_int_equal(dv_db_get(p, id, b), DV_OK);
        assert_memory_equal(a, b, sizeof a);
    }
    dv_db_close(r);
    dv_db_close(p);
    blobs_free(&s);

    /* batches of 10: sub-deltas are always kind 3, a vector may change twice in one batch */
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.dense_xor = 1;
    cfg.batch_max_deltas = 10;
    memset(&s, 0, sizeof s);
    capture_run(&cfg, &s, &h);
    assert_true(s.kind3 > 0);
    r = replay(&s, DV_APPLY_STRUCTURAL);
    assert_int_equal(dv_db_state_hash(r), h);
    dv_db_close(r);
    blobs_free(&s);
}

/* A one-vector replica and a kind 3 delta (uncompressed) that updates it. */
typedef struct fixture {
    dv_db *db;
    dv_apply *ap;
    float cur[DIM];
    uint8_t hdr[DV_DELTA_HEADER_SIZE];
    uint8_t payload[8 * DIM + 256];
    size_t len;
} fixture;

static void fixture_open(fixture *f, const uint32_t *bits, uint64_t base_hash) {
    dv_db *p = open_db();
    dv_capture *cap = NULL;
    assert_int_equal(dv_capture_init(p, NULL, &cap), DV_OK);
    assert_int_equal(dv_capture_start(cap), DV_OK);
    for (int d = 0; d < DIM; d++) f->cur[d] = 0.5f + (float)d;
    assert_int_equal(dv_db_insert(p, "x", f->cur, NULL, 0), DV_OK);
    blobs s;
    memset(&s, 0, sizeof s);
    drain(cap, &s);
    f->db = open_db();
    assert_int_equal(dv_apply_init(f->db, NULL, &f->ap), DV_OK);
    assert_int_equal(dv_apply_delta(f->ap, s.b[0], s.b[0] + DV_DELTA_HEADER_SIZE, s.len[0]), DV_OK);
    blobs_free(&s);
    dv_capture_free(cap);
    dv_db_close(p);

    dv_delta d;
    memset(&d, 0, sizeof d);
    d.h.operation = DV_OP_UPDATE;
    d.h.sequence = 2;
    d.h.prev_sequence = 1;
    d.vkind = DV_VEC_DENSE_XOR;
    d.slot = 0;
    d.id = "x";
    d.id_len = 1;
    d.dim = d.n = DIM;
    d.xor_bits = bits;
    d.base_hash = base_hash;
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    o.compress = 0;
    assert_int_equal(dv_delta_encode(&d, &o, NULL, f->hdr, f->payload, sizeof f->payload, &f->len), DV_OK);
}

/* Payload offsets: kind, slot 0, id length 1, id "x", dim 128 (2 varint bytes), then the hash. */
#define HASH_AT 6

static void fixture_close(fixture *f) {
    dv_apply_free(f->ap);
    dv_db_close(f->db);
}

static dv_status apply_fixture(fixture *f) { return dv_apply_delta(f->ap, f->hdr, f->payload, f->len); }

static void kind3_applies_on_its_base_only(void **state) {
    (void)state;
    uint32_t bits[DIM];
    for (int d = 0; d < DIM; d++) bits[d] = (uint32_t)d; /* flips low mantissa bits */
    float cur[DIM];
    for (int d = 0; d < DIM; d++) cur[d] = 0.5f + (float)d;
    fixture f;
    fixture_open(&f, bits, dv_delta_xor_base_hash(cur, DIM));
    uint64_t before = dv_db_state_hash(f.db);

    /* another base: DATA conflict, replica unchanged */
    uint8_t keep[DV_DELTA_HEADER_SIZE];
    memcpy(keep, f.hdr, sizeof keep);
    f.payload[HASH_AT] ^= 0x01;
    dv_delta_seal(f.hdr, f.payload, f.len);
    assert_int_equal(apply_fixture(&f), DV_EDATA);
    assert_int_equal(dv_db_state_hash(f.db), before);
    f.payload[HASH_AT] ^= 0x01;
    memcpy(f.hdr, keep, sizeof keep);

    /* its base: new = current XOR bits */
    assert_int_equal(apply_fixture(&f), DV_OK);
    float got[DIM];
    assert_int_equal(dv_db_get(f.db, "x", got), DV_OK);
    for (int d = 0; d < DIM; d++) {
        uint32_t u;
        memcpy(&u, &cur[d], 4);
        u ^= bits[d];
        float want;
        memcpy(&want, &u, 4);
        assert_memory_equal(&got[d], &want, 4);
    }
    fixture_close(&f);
}

static void kind3_resolving_to_nan_is_refused_unchanged(void **state) {
    (void)state;
    float cur[DIM];
    uint32_t bits[DIM];
    for (int d = 0; d < DIM; d++) {
        cur[d] = 0.5f + (float)d;
        uint32_t u;
        memcpy(&u, &cur[d], 4);
        bits[d] = d == 7 ? u ^ 0x7FC00000u : 0u; /* dim 7 becomes a quiet NaN */
    }
    fixture f;
    fixture_open(&f, bits, dv_delta_xor_base_hash(cur, DIM));
    uint64_t before = dv_db_state_hash(f.db);
    assert_int_equal(apply_fixture(&f), DV_ENONFINITE);
    assert_int_equal(dv_db_state_hash(f.db), before);
    fixture_close(&f);
}

/* Decodes payload p (len) under header hdr after resealing; returns the status. */
static dv_status decode_resealed(uint8_t *hdr, const uint8_t *p, size_t len, uint8_t flags_or) {
    hdr[9] |= flags_or;
    hdr[28] = (uint8_t)len; /* payload_size, little-endian */
    hdr[29] = (uint8_t)(len >> 8);
    hdr[30] = hdr[31] = 0;
    dv_delta_seal(hdr, p, len);
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_delta d;
    dv_status st = dv_delta_decode(hdr, p, len, NULL, &arena, &d);
    dv_delta_arena_free(&arena);
    return st;
}

static void decoder_refuses_malformed_kind3(void **state) {
    (void)state;
    uint32_t bits[DIM] = {0};
    fixture f;
    fixture_open(&f, bits, 12345);
    uint8_t h[DV_DELTA_HEADER_SIZE], p[sizeof f.payload];
    const size_t coding_at = HASH_AT + 8;

    memcpy(h, f.hdr, sizeof h);
    memcpy(p, f.payload, f.len);
    assert_int_equal(decode_resealed(h, p, f.len, 0), DV_OK);
    assert_int_equal(p[coding_at], DV_FA_F32 | DV_FA_XOR | DV_FA_SHUFFLED);

    memcpy(h, f.hdr, sizeof h); /* a before-image flag on kind 3 */
    assert_int_equal(decode_resealed(h, p, f.len, DV_FLAG_HAS_BEFORE), DV_ECORRUPT);
    memcpy(h, f.hdr, sizeof h); /* SPARSE */
    assert_int_equal(decode_resealed(h, p, f.len, DV_FLAG_SPARSE), DV_ECORRUPT);
    memcpy(h, f.hdr, sizeof h); /* the array without its XOR bit */
    p[coding_at] = DV_FA_F32 | DV_FA_SHUFFLED;
    assert_int_equal(decode_resealed(h, p, f.len, 0), DV_ECORRUPT);
    memcpy(h, f.hdr, sizeof h); /* an f16 array */
    p[coding_at] = DV_FA_F16 | DV_FA_XOR;
    assert_int_equal(decode_resealed(h, p, f.len, 0), DV_ECORRUPT);
    p[coding_at] = f.payload[coding_at];
    memcpy(h, f.hdr, sizeof h); /* cut inside the base hash */
    assert_int_equal(decode_resealed(h, p, HASH_AT + 3, 0), DV_ECORRUPT);
    memcpy(h, f.hdr, sizeof h); /* cut inside the values */
    assert_int_equal(decode_resealed(h, p, f.len - 1, 0), DV_ECORRUPT);
    memcpy(h, f.hdr, sizeof h); /* a byte after the values */
    p[f.len] = 0;
    assert_int_equal(decode_resealed(h, p, f.len + 1, 0), DV_ECORRUPT);
    memcpy(h, f.hdr, sizeof h); /* kind 4 does not exist */
    p[0] = 4;
    assert_int_equal(decode_resealed(h, p, f.len, 0), DV_ECORRUPT);
    fixture_close(&f);
}

/* The blobs [from, n) as one stream (logical, from sequence from + 1). */
static membuf as_stream(const blobs *s, size_t from, dv_db *like) {
    dv_stream_info info;
    assert_int_equal(dv_stream_info_from_db(like, DV_STREAM_LOGICAL, from + 1, &info), DV_OK);
    membuf m = {0};
    dv_stream_writer *w = NULL;
    assert_int_equal(dv_stream_writer_open(&info, membuf_sink, &m, NULL, &w), DV_OK);
    for (size_t i = from; i < s->n; i++)
        assert_int_equal(dv_stream_writer_append(w, s->b[i], s->b[i] + DV_DELTA_HEADER_SIZE, s->len[i]),
                         DV_OK);
    dv_stream_writer_free(w);
    return m;
}

static void compaction_resolves_kind3_against_a_vector_it_holds(void **state) {
    (void)state;
    blobs s;
    uint64_t h;
    capture_kind3_run(&s, &h);
    dv_db *like = open_db();
    membuf whole = as_stream(&s, 0, like), packed = {0};
    dv_compact_stats cs;
    assert_int_equal(dv_stream_compact(whole.b, whole.n, membuf_sink, &packed, NULL, &cs), DV_OK);
    assert_int_equal(cs.records_out, N_VEC); /* one insert per id, with its final vector */
    /* the compacted stream gives a logical replica the vectors of the full one */
    dv_db *full = replay(&s, DV_APPLY_LOGICAL), *comp = open_db();
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.mode = DV_APPLY_LOGICAL;
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(comp, &ac, &ap), DV_OK);
    for (size_t off = DV_STREAM_HEADER_SIZE; off < packed.n;) { /* records after the stream header */
        uint64_t size = 0;
        assert_int_equal(dv_stream_record_size(packed.b + off, &size), DV_OK);
        assert_int_equal(dv_apply_buffer(ap, packed.b + off, (size_t)size), DV_OK);
        off += (size_t)size;
    }
    float a[DIM], b[DIM];
    for (int i = 0; i < N_VEC; i++) {
        char id[32];
        snprintf(id, sizeof id, "v%d", i);
        assert_int_equal(dv_db_get(full, id, a), DV_OK);
        assert_int_equal(dv_db_get(comp, id, b), DV_OK);
        assert_memory_equal(a, b, sizeof a);
    }
    /* a run whose first kind 3 update has its base before the run cannot be resolved */
    membuf tail = as_stream(&s, N_VEC, like), out = {0};
    assert_int_equal(dv_stream_compact(tail.b, tail.n, membuf_sink, &out, NULL, &cs), DV_EUNSUPPORTED);
    dv_apply_free(ap);
    dv_db_close(full);
    dv_db_close(comp);
    dv_db_close(like);
    free(whole.b);
    free(packed.b);
    free(tail.b);
    free(out.b);
    blobs_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(drift_travels_xor_smaller_and_replicas_converge),
        cmocka_unit_test(logical_and_batched_replicas_converge),
        cmocka_unit_test(kind3_applies_on_its_base_only),
        cmocka_unit_test(kind3_resolving_to_nan_is_refused_unchanged),
        cmocka_unit_test(decoder_refuses_malformed_kind3),
        cmocka_unit_test(compaction_resolves_kind3_against_a_vector_it_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
