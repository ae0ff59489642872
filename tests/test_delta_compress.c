/*
 * test_delta_compress.c -- LZ4 and the float-aware encodings: compressed
 * and uncompressed forms decode identically, compression is kept only when
 * it saves bytes, the lossy modes stay within their stated error bounds,
 * XOR/shuffle are exact.
 *
 * It also prints the size table of docs/FORMAT.md (three workloads x each
 * encoding) while checking every measured delta decodes within its bound;
 * the sizes themselves are not asserted (they are measurements, not
 * behaviour). Run: ./build/tests/test_delta_compress
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "delta/delta.h"
#include "delta/floats.h"

#define DIM 384u

typedef struct fixture {
    dv_mem mem;
    dv_delta_arena arena, scratch;
    dv_delta_builder b;
    uint8_t hdr[64];
    uint8_t payload[3 * 4 * 4096 + 4096];
} fixture;

static int setup(void **state) {
    fixture *f = test_malloc(sizeof *f);
    dv_mem_init(&f->mem, NULL);
    dv_delta_arena_init(&f->arena, &f->mem);
    dv_delta_arena_init(&f->scratch, &f->mem);
    dv_delta_builder_init(&f->b, &f->mem);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    dv_delta_builder_free(&f->b);
    dv_delta_arena_free(&f->arena);
    dv_delta_arena_free(&f->scratch);
    assert_int_equal(f->mem.live_bytes, 0);
    test_free(f);
    return 0;
}

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}
static double uni(uint64_t *s) { return ((double)(rng(s) >> 11) + 0.5) / 9007199254740992.0; }
static float gauss(uint64_t *s, double sigma) {
    return (float)(sigma * sqrt(-2.0 * log(uni(s))) * cos(6.283185307179586 * uni(s)));
}
static void unit_vec(uint64_t *s, float *v, uint32_t n) {
    double norm = 0;
    for (uint32_t i = 0; i < n; i++) {
        v[i] = gauss(s, 1.0);
        norm += (double)v[i] * v[i];
    }
    for (uint32_t i = 0; i < n; i++) v[i] = (float)(v[i] / sqrt(norm));
}

static dv_encode_opts mk(int compress, int shuffle, int xr, dv_value_mode m) {
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    o.compress = compress;
    o.shuffle = shuffle;
    o.xor_before = xr;
    o.values = m;
    return o;
}

static size_t enc(fixture *f, const dv_encode_opts *o) {
    size_t plen = 0;
    assert_int_equal(dv_delta_encode(&f->b.d, o, &f->scratch, f->hdr, f->payload, sizeof f->payload, &plen),
                     DV_OK);
    return plen;
}

static const dv_delta *dec(fixture *f, size_t plen, dv_delta *d) {
    dv_delta_arena_reset(&f->arena);
    assert_int_equal(dv_delta_decode(f->hdr, f->payload, plen, NULL, &f->arena, d), DV_OK);
    return d;
}

/* The stated bounds (docs/FORMAT.md): f16: |e| <= 2^-11 |v| in the normal
 * range, <= 2^-25 below it; i8: |e| <= scale/2 plus float rounding of
 * min + scale*q (a few ulps of the array's largest magnitude). */
static int within_bound(dv_value_mode m, const float *want, const float *got, uint32_t n) {
    float lo = want[0], hi = want[0], big = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (want[i] < lo) lo = want[i];
        if (want[i] > hi) hi = want[i];
        if (fabsf(want[i]) > big) big = fabsf(want[i]);
    }
    double scale = ((double)hi - lo) / 255.0;
    for (uint32_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        double bound = 0;
        if (m == DV_VALUES_F32)
            bound = 0;
        else if (m == DV_VALUES_F16)
            bound = fabsf(want[i]) >= ldexpf(1, -14) ? ldexp(fabs(want[i]), -11) : ldexp(1, -25);
        else
            bound = scale / 2 * (1 + 1e-6) + 4 * ldexp(big, -23);
        if (e > bound) return 0;
    }
    return 1;
}

static void compressed_and_plain_forms_decode_identically(void **state) {
    fixture *f = *state;
    uint64_t s = 7;
    float v[DIM], old[DIM];
    for (int it = 0; it < 300; it++) {
        unit_vec(&s, old, DIM);
        for (uint32_t i = 0; i < DIM; i++) v[i] = (it & 1) ? old[i] + gauss(&s, 0.01) : (float)(i % 7) * 0.5f;
        dv_delta_builder_begin(&f->b, DV_OP_UPDATE);
        dv_delta_builder_set_dense(&f->b, 3, "id", DIM, v, old);
        for (uint32_t e = 0; e < 40; e++) dv_delta_builder_edge_add(&f->b, 0, 3, e * 17, (float)e);
        dv_delta a, b;
        size_t pa = enc(f, &(dv_encode_opts){0, 1, 1, DV_VALUES_F32, 0});
        assert_false(f->hdr[9] & DV_FLAG_COMPRESSED);
        uint8_t plain[sizeof f->payload];
        memcpy(plain, f->payload, pa);
        size_t pb = enc(f, &(dv_encode_opts){1, 1, 1, DV_VALUES_F32, 0});
        if (f->hdr[9] & DV_FLAG_COMPRESSED) assert_true(pb < pa);
        dec(f, pb, &b);
        assert_memory_equal(b.values, v, sizeof v);
        assert_memory_equal(b.before, old, sizeof old);
        memcpy(f->payload, plain, pa);
        enc(f, &(dv_encode_opts){0, 1, 1, DV_VALUES_F32, 0});
        dec(f, pa, &a);
        assert_memory_equal(a.values, v, sizeof v);
        assert_int_equal(a.n_sections, b.n_sections);
        assert_int_equal(a.sections[0].n_add, 40);
    }
}

static void compression_is_kept_only_when_it_saves_bytes(void **state) {
    fixture *f = *state;
    uint64_t s = 11;
    float v[DIM];
    for (uint32_t i = 0; i < DIM; i++) v[i] = gauss(&s, 1.0); /* mantissas are noise */
    dv_delta_builder_begin(&f->b, DV_OP_INSERT);
    dv_delta_builder_set_insert(&f->b, 1, "x", 0, DIM, v);
    size_t plain = enc(f, &(dv_encode_opts){0, 0, 0, DV_VALUES_F32, 0});
    size_t tried = enc(f, &(dv_encode_opts){1, 0, 0, DV_VALUES_F32, 0});
    assert_true(tried <= plain);
    if (!(f->hdr[9] & DV_FLAG_COMPRESSED)) assert_int_equal(tried, plain);
    /* shuffled, LZ4 finds a little in the exponent plane: less than the
     * eighth of the body that a kept block must save (docs/FORMAT.md) */
    size_t shuffled = enc(f, &(dv_encode_opts){0, 1, 0, DV_VALUES_F32, 0});
    size_t tried_shuffled = enc(f, &(dv_encode_opts){1, 1, 0, DV_VALUES_F32, 0});
    assert_false(f->hdr[9] & DV_FLAG_COMPRESSED);
    assert_int_equal(tried_shuffled, shuffled);
    /* the first half of the values zero: LZ4 saves far more than an eighth, the block is kept */
    for (uint32_t i = 0; i < DIM / 2; i++) v[i] = 0.0f;
    dv_delta_builder_begin(&f->b, DV_OP_INSERT);
    dv_delta_builder_set_insert(&f->b, 1, "x", 0, DIM, v);
    size_t half_plain = enc(f, &(dv_encode_opts){0, 1, 0, DV_VALUES_F32, 0});
    size_t half = enc(f, &(dv_encode_opts){1, 1, 0, DV_VALUES_F32, 0});
    assert_true(f->hdr[9] & DV_FLAG_COMPRESSED);
    assert_true(half + (half_plain >> 3) <= half_plain);
    for (uint32_t i = 0; i < DIM; i++) v[i] = 1.0f; /* very compressible */
    dv_delta_builder_begin(&f->b, DV_OP_INSERT);
    dv_delta_builder_set_insert(&f->b, 1, "x", 0, DIM, v);
    size_t c = enc(f, &(dv_encode_opts){1, 0, 0, DV_VALUES_F32, 0});
    assert_true(f->hdr[9] & DV_FLAG_COMPRESSED);
    assert_true(c < plain / 10);
    dv_delta d;
    dec(f, c, &d);
    assert_memory_equal(d.values, v, sizeof v);
    /* no scratch arena: encoding still works, uncompressed */
    size_t plen;
    assert_int_equal(dv_delta_encode(&f->b.d, NULL, NULL, f->hdr, f->payload, sizeof f->payload, &plen),
                     DV_OK);
    assert_false(f->hdr[9] & DV_FLAG_COMPRESSED);
}

static void lossy_modes_stay_within_their_stated_bounds(void **state) {
    fixture *f = *state;
    uint64_t s = 99;
    float v[DIM];
    for (int it = 0; it < 400; it++) {
        double sigma = ldexp(1.0, (int)(rng(&s) % 40) - 30); /* 2^-30 .. 2^9 */
        for (uint32_t i = 0; i < DIM; i++) v[i] = gauss(&s, sigma) + (it % 3 == 0 ? 100.0f : 0.0f);
        for (int m = 1; m <= 2; m++) {
            dv_delta_builder_begin(&f->b, DV_OP_INSERT);
            dv_delta_builder_set_insert(&f->b, 1, "x", 0, DIM, v);
            dv_encode_opts o = mk(it & 1, (it >> 1) & 1, 0, (dv_value_mode)m);
            size_t plen = enc(f, &o);
            assert_true(f->hdr[9] & (m == 1 ? DV_FLAG_LOSSY_F16 : DV_FLAG_LOSSY_I8));
            dv_delta d;
            dec(f, plen, &d);
            if (!within_bound((dv_value_mode)m, v, d.values, DIM))
                fail_msg("mode %d sigma %g out of bound", m, sigma);
        }
    }
}

static void f16_falls_back_to_f32_for_values_beyond_its_range(void **state) {
    fixture *f = *state;
    float v[4] = {1.0f, 70000.0f, -3.0f, 0.5f}, old[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    dv_delta_builder_begin(&f->b, DV_OP_UPDATE);
    dv_delta_builder_set_dense(&f->b, 1, "x", 4, v, old);
    size_t plen = enc(f, &(dv_encode_opts){0, 0, 0, DV_VALUES_F16, 0});
    assert_true(f->hdr[9] & DV_FLAG_LOSSY_F16); /* the before-image fits f16 */
    dv_delta d;
    dec(f, plen, &d);
    assert_memory_equal(d.values, v, sizeof v); /* values went as f32: exact */
    assert_memory_equal(d.before, old, sizeof old);
    float huge[2] = {-3e38f, 3e38f}; /* i8 range overflows: f32 fallback, no lossy flag */
    dv_delta_builder_begin(&f->b, DV_OP_INSERT);
    dv_delta_builder_set_insert(&f->b, 1, "x", 0, 2, huge);
    plen = enc(f, &(dv_encode_opts){0, 0, 0, DV_VALUES_I8, 0});
    assert_false(f->hdr[9] & DV_FLAG_LOSSY_I8);
    dec(f, plen, &d);
    assert_memory_equal(d.values, huge, sizeof huge);
}

static void xor_and_shuffle_are_exact_including_signed_zero_and_subnormals(void **state) {
    fixture *f = *state;
    float v[6] = {-0.0f, 1e-40f, -1e-45f, 3.4e38f, 1.0f, -2.5f};
    float old[6] = {0.0f, -1e-40f, 1e-45f, -3.4e38f, 1.0f, 2.5f};
    for (int c = 0; c < 2; c++) {
        dv_delta_builder_begin(&f->b, DV_OP_UPDATE);
        dv_delta_builder_set_dense(&f->b, 1, "x", 6, v, old);
        size_t plen = enc(f, &(dv_encode_opts){c, 1, 1, DV_VALUES_F32, 0});
        dv_delta d;
        dec(f, plen, &d);
        assert_memory_equal(d.values, v, sizeof v);
        assert_memory_equal(d.before, old, sizeof old);
    }
}

static void max_payload_option_refuses_big_deltas(void **state) {
    fixture *f = *state;
    float v[DIM] = {0};
    dv_delta_builder_begin(&f->b, DV_OP_INSERT);
    dv_delta_builder_set_insert(&f->b, 1, "x", 0, DIM, v);
    size_t plen;
    dv_encode_opts o = mk(1, 1, 0, DV_VALUES_F32);
    o.max_payload = 100;
    assert_int_equal(dv_delta_encode(&f->b.d, &o, &f->scratch, f->hdr, f->payload, sizeof f->payload, &plen),
                     DV_ETOOBIG);
    o.max_payload = 0;
    assert_int_equal(dv_delta_encode(&f->b.d, &o, &f->scratch, f->hdr, f->payload, sizeof f->payload, &plen),
                     DV_OK);
}

/* ---- the size table ----------------------------------------------------- */

enum { W_SPARSE, W_SPARSE_BEFORE, W_DRIFT, W_DRIFT_BEFORE, W_DRIFT_N01, W_INSERT, W_COUNT };
static const char *W_NAMES[W_COUNT] = {
    "sparse 5% (19/384)",         "sparse 5% + before-image", "dense drift unit-norm",
    "dense drift + before-image", "drift N(0,1) + before",    "fresh insert unit-norm",
};

/* Fills the builder with one delta of workload w (rng state s). */
static void workload(fixture *f, int w, uint64_t *s, int i) {
    float old[DIM], v[DIM], vals[DIM], prev[DIM];
    uint32_t idx[DIM];
    char id[32];
    snprintf(id, sizeof id, "doc-%06d", i);
    unit_vec(s, old, DIM);
    if (w == W_DRIFT_N01)
        for (uint32_t k = 0; k < DIM; k++) old[k] = gauss(s, 1.0);
    switch (w) {
    case W_SPARSE:
    case W_SPARSE_BEFORE: {
        uint32_t n = 0;
        uint32_t want = DIM * 5 / 100; /* 19 */
        for (uint32_t k = 0; k < DIM && n < want; k++)
            if (rng(s) % (DIM - k) < want - n) idx[n++] = k; /* uniform subset */
        for (uint32_t k = 0; k < n; k++) {
            prev[k] = old[idx[k]];
            vals[k] = old[idx[k]] + gauss(s, 0.05);
        }
        dv_delta_builder_begin(&f->b, DV_OP_UPDATE);
        dv_delta_builder_set_sparse(&f->b, (uint32_t)i, id, DIM, idx, vals,
                                    w == W_SPARSE_BEFORE ? prev : NULL, n);
        break;
    }
    case W_DRIFT:
    case W_DRIFT_BEFORE:
    case W_DRIFT_N01:
        for (uint32_t k = 0; k < DIM; k++) v[k] = old[k] + gauss(s, 0.01);
        dv_delta_builder_begin(&f->b, DV_OP_UPDATE);
        dv_delta_builder_set_dense(&f->b, (uint32_t)i, id, DIM, v, w != W_DRIFT ? old : NULL);
        break;
    default:
        dv_delta_builder_begin(&f->b, DV_OP_INSERT);
        dv_delta_builder_set_insert(&f->b, (uint32_t)i, id, 0, DIM, old);
        break;
    }
}

static void size_table_round_trips_within_bounds(void **state) {
    fixture *f = *state;
    struct {
        const char *name;
        dv_encode_opts o;
    } modes[] = {
        {"raw f32", {0, 0, 0, DV_VALUES_F32, 0}},     {"lz4", {1, 0, 0, DV_VALUES_F32, 0}},
        {"lz4+shuffle", {1, 1, 0, DV_VALUES_F32, 0}}, {"lz4+shuf+xor", {1, 1, 1, DV_VALUES_F32, 0}},
        {"f16", {0, 0, 0, DV_VALUES_F16, 0}},         {"f16+lz4+shuf", {1, 1, 0, DV_VALUES_F16, 0}},
        {"i8", {0, 0, 0, DV_VALUES_I8, 0}},           {"i8+lz4", {1, 0, 0, DV_VALUES_I8, 0}},
    };
    const int n_modes = (int)(sizeof modes / sizeof modes[0]);
    const int N = 500;
    const double dense_ref = 64.0 + 4.0 * DIM; /* header + a raw f32 vector */
    printf("\n# delta sizes, dim %u, %d deltas per cell, mean bytes incl. 64-byte header"
           " (ratio vs 64 + 4*dim = %.0f B)\n",
           DIM, N, dense_ref);
    printf("%-28s", "workload");
    for (int m = 0; m < n_modes; m++) printf(" | %-15s", modes[m].name);
    printf("\n");
    for (int w = 0; w < W_COUNT; w++) {
        printf("%-28s", W_NAMES[w]);
        for (int m = 0; m < n_modes; m++) {
            uint64_t s = 0x5EED0000u + (uint64_t)w; /* same deltas for every mode */
            double total = 0;
            for (int i = 0; i < N; i++) {
                workload(f, w, &s, i);
                size_t plen = enc(f, &modes[m].o);
                total += 64.0 + (double)plen;
                dv_delta d;
                dec(f, plen, &d);
                if (!within_bound(modes[m].o.values, f->b.d.values, d.values, d.n))
                    fail_msg("%s / %s: values out of bound", W_NAMES[w], modes[m].name);
                if (d.before && !within_bound(modes[m].o.values, f->b.d.before, d.before, d.n))
                    fail_msg("%s / %s: before out of bound", W_NAMES[w], modes[m].name);
            }
            double mean = total / N;
            char cell[32];
            snprintf(cell, sizeof cell, "%6.0f (%4.1f:1)", mean, dense_ref / mean);
            printf(" | %-15s", cell);
        }
        printf("\n");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(compressed_and_plain_forms_decode_identically, setup, teardown),
        cmocka_unit_test_setup_teardown(compression_is_kept_only_when_it_saves_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(lossy_modes_stay_within_their_stated_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(f16_falls_back_to_f32_for_values_beyond_its_range, setup, teardown),
        cmocka_unit_test_setup_teardown(xor_and_shuffle_are_exact_including_signed_zero_and_subnormals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(max_payload_option_refuses_big_deltas, setup, teardown),
        cmocka_unit_test_setup_teardown(size_table_round_trips_within_bounds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
