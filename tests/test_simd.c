/*
 * test_simd.c -- every kernel set usable on this CPU against the scalar one.
 *
 * Reductions (l2sq, dot) sum in a different order per ISA, so they are
 * compared within a relative tolerance of the sum of |terms| (the scale of
 * the rounding error), plus one exact test (one-hot vectors) that proves
 * every index is counted exactly once whatever the order. diff, scatter
 * and gather must be bit-identical to scalar. Lengths cover 0..67 (every
 * tail of every vector width, several unrolled bodies), and 128, 384, 1000,
 * 4096; pointers are also offset by one float so nothing relies on
 * alignment. Data come from a fixed-seed generator. avx512 must also give
 * avx2's reductions bit for bit (it sums in their order). The CPU feature
 * reading (util/cpu.h) is checked against the compiler runtime's, and its
 * XCR0 rule (no AVX-512 unless the OS saves zmm state) on made-up
 * registers. ctest runs this file once more per kernel set with DV_SIMD
 * (tests/CMakeLists.txt), so dispatch is also checked when forced.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <xxhash.h>

#include "db/db_internal.h"
#include "simd/kernels.h"
#include "deltavec.h"
#include "util/cpu.h"

#define MAX_SETS 8
#define SCALAR (&dv_kernels_scalar)
#define GUARD 16 /* extra slots after every buffer, checked for stray writes */

static const size_t big_sizes[] = {128, 384, 1000, 4096};

static uint64_t rng_state;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float rng_float(void) {
    return (float)((double)(rng_next() >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* Calls fn(n) for every length the tests cover. */
static void for_each_size(void (*fn)(size_t n, size_t off)) {
    for (size_t off = 0; off < 2; off++) {
        for (size_t n = 0; n <= 67; n++) fn(n, off);
        for (size_t i = 0; i < sizeof big_sizes / sizeof big_sizes[0]; i++) fn(big_sizes[i], off);
    }
}

static size_t usable_sets(const dv_kernels **sets) {
    size_t n = dv_kernels_all(sets, MAX_SETS);
    assert_true(n >= 1);
    return n;
}

static float *alloc_floats(size_t n) {
    float *p = calloc(n + GUARD + 1, sizeof(float));
    assert_non_null(p);
    return p;
}

/* ---- dispatch ------------------------------------------------------------ */

static void test_scalar_is_listed_first_and_best_is_usable(void **state) {
    (void)state;
    const dv_kernels *sets[MAX_SETS];
    size_t n = usable_sets(sets);
    assert_string_equal(sets[0]->name, "scalar");
    const dv_kernels *best = dv_kernels_best();
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= sets[i] == best;
    assert_true(found);
    assert_string_equal(dv_simd_backend(), best->name);
    assert_ptr_equal(dv_kernels_best(), best); /* cached, stable */
}

static void test_named_returns_usable_sets_only(void **state) {
    (void)state;
    const dv_kernels *sets[MAX_SETS];
    size_t n = usable_sets(sets);
    for (size_t i = 0; i < n; i++) assert_ptr_equal(dv_kernels_named(sets[i]->name), sets[i]);
    assert_null(dv_kernels_named("no-such-isa"));
    assert_null(dv_kernels_named(NULL));
    assert_non_null(dv_kernels_named("scalar"));
}

/* The set dispatch must pick: DV_SIMD's if it names a usable set, else the
 * widest one the CPU (and OS, which libgcc's own XCR0 check behind
 * __builtin_cpu_supports covers) supports. */
static void test_best_set_on_x86_matches_cpu_features(void **state) {
    (void)state;
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char *want = "scalar";
    int avx2 =
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt");
    if (avx2 && __builtin_cpu_supports("avx512f"))
        want = "avx512";
    else if (avx2)
        want = "avx2";
    else if (__builtin_cpu_supports("sse4.1"))
        want = "sse";
    const char *forced = getenv("DV_SIMD");
    if (forced && *forced && dv_kernels_named(forced)) want = forced;
    assert_string_equal(dv_kernels_best()->name, want);
#else
    skip();
#endif
}

/* dv_cpu_features() (CPUID + XGETBV of our own) against the compiler runtime's reading. */
static void test_cpu_features_agree_with_the_compiler_runtime(void **state) {
    (void)state;
#if defined(__x86_64__)
    __builtin_cpu_init();
    unsigned f = dv_cpu_features();
    assert_int_equal(!!(f & DV_CPU_SSE41), !!__builtin_cpu_supports("sse4.1"));
    assert_int_equal(!!(f & DV_CPU_POPCNT), !!__builtin_cpu_supports("popcnt"));
    assert_int_equal(!!(f & DV_CPU_AVX2), !!__builtin_cpu_supports("avx2"));
    assert_int_equal(!!(f & DV_CPU_FMA), !!__builtin_cpu_supports("fma"));
    assert_int_equal(!!(f & DV_CPU_AVX512F), !!__builtin_cpu_supports("avx512f"));
    assert_int_equal(!!(f & DV_CPU_AVX512DQ), !!__builtin_cpu_supports("avx512dq"));
    assert_int_equal(!!(f & DV_CPU_AVX512BW), !!__builtin_cpu_supports("avx512bw"));
    assert_int_equal(!!(f & DV_CPU_AVX512VL), !!__builtin_cpu_supports("avx512vl"));
    assert_int_equal(!!(f & DV_CPU_AVX512VNNI), !!__builtin_cpu_supports("avx512vnni"));
    assert_int_equal(dv_cpu_features(), f); /* cached, stable */
#else
    assert_int_equal(dv_cpu_features(), 0);
#endif
}

/* A CPU with every flag: leaf 1 SSE4.1, FMA, POPCNT, OSXSAVE, AVX; leaf 7 AVX2,
 * AVX512F/DQ/BW/VL, VNNI, FP16; leaf 7.1 BF16; XCR0 x87|SSE|AVX|opmask|ZMM_Hi256|Hi16_ZMM. */
static dv_cpuid_regs full_cpu(void) {
    dv_cpuid_regs r = {0};
    r.leaf1_ecx = (1u << 19) | (1u << 12) | (1u << 23) | (1u << 27) | (1u << 28);
    r.leaf7_ebx = (1u << 5) | (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    r.leaf7_ecx = 1u << 11;
    r.leaf7_edx = 1u << 23;
    r.leaf7_1_eax = 1u << 5;
    r.xcr0 = 0xe7;
    return r;
}

#define AVX512_ALL                                                                                           \
    (DV_CPU_AVX512F | DV_CPU_AVX512DQ | DV_CPU_AVX512BW | DV_CPU_AVX512VL | DV_CPU_AVX512VNNI |              \
     DV_CPU_AVX512BF16 | DV_CPU_AVX512FP16)

static void test_avx512_needs_the_os_to_save_zmm_state(void **state) {
    (void)state;
    dv_cpuid_regs r = full_cpu();
    const unsigned base = DV_CPU_SSE41 | DV_CPU_POPCNT, avx = DV_CPU_AVX2 | DV_CPU_FMA;
    assert_int_equal(dv_cpu_features_from(&r), base | avx | AVX512_ALL);
    /* the OS saves xmm/ymm but not one of opmask, ZMM_Hi256, Hi16_ZMM: no AVX-512 at all */
    for (unsigned bit = 5; bit <= 7; bit++) {
        r.xcr0 = 0xe7 & ~(1u << bit);
        assert_int_equal(dv_cpu_features_from(&r), base | avx);
    }
    r.xcr0 = 0xe3; /* no ymm state: neither AVX2 nor AVX-512 */
    assert_int_equal(dv_cpu_features_from(&r), base);
    r = full_cpu();
    r.leaf1_ecx &= ~(1u << 27); /* no OSXSAVE: XCR0 cannot be read, whatever it says */
    assert_int_equal(dv_cpu_features_from(&r), base);
    r = full_cpu();
    r.leaf7_ebx &= ~(1u << 16); /* no AVX512F: the other AVX-512 flags do not count */
    assert_int_equal(dv_cpu_features_from(&r), base | avx);
    dv_cpuid_regs none = {0};
    assert_int_equal(dv_cpu_features_from(&none), 0);
}

/* ---- reductions ------------------------------------------------------------ */

static void check_reductions(size_t n, size_t off) {
    const dv_kernels *sets[MAX_SETS];
    size_t ns = usable_sets(sets);
    float *abuf = alloc_floats(n), *bbuf = alloc_floats(n);
    float *a = abuf + off, *b = bbuf + off;
    float scale = (n % 3 == 0) ? 1000.0f : 1.0f; /* also exercise larger magnitudes */
    for (size_t i = 0; i < n; i++) {
        a[i] = rng_float() * scale;
        b[i] = rng_float() * scale;
    }
    double l2 = 0, l2abs = 0, dot = 0, dotabs = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        l2 += d * d;
        l2abs += d * d;
        dot += (double)a[i] * b[i];
        dotabs += fabs((double)a[i] * b[i]);
    }
    /* A tolerance of 1e-5 of the absolute-term sum is ~100x the rounding
     * error seen in practice but far below one missing or doubled term. */
    for (size_t s = 0; s < ns; s++) {
        float gl2 = sets[s]->l2sq(a, b, n), gdot = sets[s]->dot(a, b, n);
        if (fabs(gl2 - l2) > 1e-5 * l2abs + 1e-30)
            fail_msg("%s l2sq n=%zu off=%zu: got %.9g want %.9g", sets[s]->name, n, off, gl2, l2);
        if (fabs(gdot - dot) > 1e-5 * dotabs + 1e-30)
            fail_msg("%s dot n=%zu off=%zu: got %.9g want %.9g", sets[s]->name, n, off, gdot, dot);
    }
    free(abuf);
    free(bbuf);
}

static void test_reductions_agree_with_scalar_within_rounding(void **state) {
    (void)state;
    rng_state = 1;
    for_each_size(check_reductions);
}

static void check_one_hot(size_t n, size_t off) {
    const dv_kernels *sets[MAX_SETS];
    size_t ns = usable_sets(sets);
    float *abuf = alloc_floats(n), *bbuf = alloc_floats(n);
    float *a = abuf + off, *b = bbuf + off;
    for (size_t pos = 0; pos < n; pos++) {
        memset(abuf, 0, (n + GUARD + 1) * sizeof(float));
        memset(bbuf, 0, (n + GUARD + 1) * sizeof(float));
        a[pos] = 3.0f;
        b[pos] = 2.0f;
        for (size_t s = 0; s < ns; s++) {
            if (sets[s]->l2sq(a, b, n) != 1.0f) fail_msg("%s l2sq n=%zu pos=%zu", sets[s]->name, n, pos);
            if (sets[s]->dot(a, b, n) != 6.0f) fail_msg("%s dot n=%zu pos=%zu", sets[s]->name, n, pos);
        }
    }
    /* Values just past the end must not be read into the sum. */
    memset(abuf, 0, (n + GUARD + 1) * sizeof(float));
    memset(bbuf, 0, (n + GUARD + 1) * sizeof(float));
    for (size_t i = n; i < n + GUARD - off; i++) a[i] = 1e30f;
    for (size_t s = 0; s < ns; s++) {
        assert_true(sets[s]->l2sq(a, b, n) == 0.0f);
        assert_true(sets[s]->dot(a, a, n) == 0.0f);
    }
    free(abuf);
    free(bbuf);
}

static void test_reductions_count_every_index_once(void **state) {
    (void)state;
    for (size_t n = 0; n <= 67; n++) check_one_hot(n, n & 1);
    check_one_hot(128, 1);
    check_one_hot(1000, 0);
}

/* avx512 sums in the avx2 order: the same floats, bit for bit (kernels_avx512.c). */
static void check_avx512_reductions_equal_avx2(size_t n, size_t off) {
    const dv_kernels *k2 = dv_kernels_named("avx2"), *k5 = dv_kernels_named("avx512");
    /* 64-byte aligned at off 0 (avx512 takes its zmm loop), not at off 1 (its AVX2 one) */
    size_t bytes = ((n + 1) * sizeof(float) + 63) / 64 * 64;
    float *abuf = aligned_alloc(64, bytes), *bbuf = aligned_alloc(64, bytes);
    assert_non_null(abuf);
    assert_non_null(bbuf);
    float *a = abuf + off, *b = bbuf + off;
    for (int round = 0; round < 4; round++) {
        float scale = round == 3 ? 1e30f : round == 2 ? 1e-20f : 1.0f; /* overflow to inf, underflow */
        for (size_t i = 0; i < n; i++) a[i] = rng_float() * scale, b[i] = rng_float() * scale;
        float l2 = k2->l2sq(a, b, n), l5 = k5->l2sq(a, b, n), d2 = k2->dot(a, b, n), d5 = k5->dot(a, b, n);
        if (memcmp(&l2, &l5, sizeof l2) != 0)
            fail_msg("l2sq n=%zu: avx2 %a, avx512 %a", n, (double)l2, (double)l5);
        if (memcmp(&d2, &d5, sizeof d2) != 0)
            fail_msg("dot n=%zu: avx2 %a, avx512 %a", n, (double)d2, (double)d5);
    }
    free(abuf);
    free(bbuf);
}

static void test_avx512_reductions_equal_avx2_bit_for_bit(void **state) {
    (void)state;
    if (!dv_kernels_named("avx512") || !dv_kernels_named("avx2")) skip(); /* needs both on this CPU */
    rng_state = 5;
    for_each_size(check_avx512_reductions_equal_avx2);
    for (size_t n = 68; n <= 300; n++) check_avx512_reductions_equal_avx2(n, n & 1);
}

/* The same writes build the same database -- graph, state hash -- with the
 * avx2 and the avx512 distances: what a logical replica or a logical log
 * replayed on the other kind of CPU relies on. dim 100 leaves a tail after
 * the 32-float bodies; cosine also goes through dot for the norms. The
 * data are made so that rounding decides the graph: the scalar order
 * (another summation order) builds a different one. */
static uint64_t build_with(const dv_kernels *k, dv_metric metric) {
    enum { DIM = 100, N = 1200 };
    dv_db_config cfg;
    dv_db_config_default(&cfg, DIM);
    cfg.metric = metric;
    dv_db *db = NULL;
    assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
    db->l2sq = k->l2sq, db->dot = k->dot; /* the kernels the db caches at open */
    float w[DIM], v[DIM];
    char id[32];
    rng_state = 7;
    for (int j = 0; j < DIM; j++) w[j] = rng_float() * (float)(1 + (j % 5) * 1000);
    for (int i = 0; i < N + N / 4; i++) {
        memcpy(v, w, sizeof v);       /* w with three pairs swapped: distances are sums of few terms of */
        for (int s = 0; s < 3; s++) { /* mixed magnitudes, full of near-ties the summation order breaks */
            size_t x = rng_next() % DIM, y = rng_next() % DIM;
            float t = v[x];
            v[x] = v[y], v[y] = t;
        }
        snprintf(id, sizeof id, "v%d", i < N ? i : (i * 7) % N);
        assert_int_equal(i < N ? dv_db_insert(db, id, v, NULL, 0) : dv_db_update(db, id, v), DV_OK);
    }
    for (int i = 0; i < N / 10; i++) {
        snprintf(id, sizeof id, "v%d", (i * 13) % N);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
    }
    uint64_t h = dv_db_state_hash(db);
    dv_db_close(db);
    return h;
}

static void test_avx512_and_avx2_build_the_same_graph(void **state) {
    (void)state;
    const dv_kernels *k2 = dv_kernels_named("avx2"), *k5 = dv_kernels_named("avx512");
    if (!k2 || !k5) skip(); /* needs both on this CPU */
    static const dv_metric metrics[] = {DV_METRIC_L2, DV_METRIC_IP, DV_METRIC_COSINE};
    int scalar_differs = 0;
    for (size_t m = 0; m < 3; m++) {
        uint64_t h2 = build_with(k2, metrics[m]);
        assert_true(build_with(k5, metrics[m]) == h2);
        scalar_differs |= build_with(SCALAR, metrics[m]) != h2;
    }
    assert_true(scalar_differs); /* the data do tell summation orders apart, so the check above can fail */
}

/* ---- diff ------------------------------------------------------------------ */

/* Compares every set's diff to scalar's on (old, new) of length n. */
static void expect_same_diff(const float *old_v, const float *new_v, size_t n, float eps) {
    const dv_kernels *sets[MAX_SETS];
    size_t ns = usable_sets(sets);
    uint32_t *want = calloc(n + 1, sizeof(uint32_t)), *got = calloc(n + GUARD, sizeof(uint32_t));
    assert_non_null(want);
    assert_non_null(got);
    size_t kw = SCALAR->diff(old_v, new_v, n, eps, want);
    for (size_t s = 0; s < ns; s++) {
        for (size_t i = 0; i < n + GUARD; i++) got[i] = 0xdeadbeefu;
        size_t k = sets[s]->diff(old_v, new_v, n, eps, got);
        if (k != kw) fail_msg("%s diff n=%zu eps=%g: %zu indices, scalar %zu", sets[s]->name, n, eps, k, kw);
        if (k && memcmp(got, want, k * sizeof(uint32_t)) != 0)
            fail_msg("%s diff n=%zu: indices differ", sets[s]->name, n);
        for (size_t i = n; i < n + GUARD; i++)
            if (got[i] != 0xdeadbeefu) fail_msg("%s diff n=%zu wrote idx_out[%zu]", sets[s]->name, n, i);
    }
    free(want);
    free(got);
}

static void check_diff_random(size_t n, size_t off) {
    float *obuf = alloc_floats(n), *nbuf = alloc_floats(n);
    float *o = obuf + off, *v = nbuf + off;
    /* Densities from "nothing changed" to "everything changed". */
    static const unsigned pct[] = {0, 3, 30, 90, 100};
    for (size_t p = 0; p < sizeof pct / sizeof pct[0]; p++) {
        for (size_t i = 0; i < n; i++) {
            o[i] = rng_float();
            v[i] = (rng_next() % 100 < pct[p]) ? o[i] + rng_float() * 0.1f : o[i];
        }
        expect_same_diff(o, v, n, 0.01f);
        expect_same_diff(o, v, n, 0.0f);
    }
    free(obuf);
    free(nbuf);
}

static void test_diff_indices_equal_scalar_exactly(void **state) {
    (void)state;
    rng_state = 2;
    for_each_size(check_diff_random);
}

static void check_diff_edges(size_t n, size_t off) {
    float *obuf = alloc_floats(n), *nbuf = alloc_floats(n);
    float *o = obuf + off, *v = nbuf + off;
    /* A repeating pattern of edge cases, so each lands in bodies and tails. */
    for (size_t i = 0; i < n; i++) {
        switch (i % 7) {
        case 0:
            o[i] = 1.0f, v[i] = 1.0f;
            break; /* equal */
        case 1:
            o[i] = 1.0f, v[i] = 1.5f;
            break; /* exactly eps apart: not > eps */
        case 2:
            o[i] = 0.0f, v[i] = -0.0f;
            break; /* signed zeros: |d| = 0 */
        case 3:
            o[i] = -1.0f, v[i] = -1.5f;
            break; /* exactly eps, negative side */
        case 4:
            o[i] = 1.0f, v[i] = 1.5000001f;
            break; /* just above eps */
        case 5:
            o[i] = 2.0f, v[i] = -INFINITY;
            break; /* infinite difference counts */
        default:
            o[i] = 0.0f, v[i] = NAN;
            break; /* NaN difference never counts */
        }
    }
    expect_same_diff(o, v, n, 0.5f);
    expect_same_diff(o, v, n, 0.0f);
    expect_same_diff(o, v, n, -1.0f); /* negative eps: every non-NaN index */
    expect_same_diff(o, v, n, NAN);   /* NaN eps: nothing */
    /* And the scalar answer itself, for the 0.5 case: indices 4 and 5 mod 7. */
    uint32_t *idx = calloc(n + 1, sizeof(uint32_t));
    assert_non_null(idx);
    size_t k = SCALAR->diff(o, v, n, 0.5f, idx);
    size_t expect = 0;
    for (size_t i = 0; i < n; i++)
        if (i % 7 == 4 || i % 7 == 5) assert_int_equal(idx[expect++], i);
    assert_int_equal(k, expect);
    free(idx);
    free(obuf);
    free(nbuf);
}

static void test_diff_edge_cases_equal_eps_signed_zero_nan(void **state) {
    (void)state;
    for_each_size(check_diff_edges);
}

/* ---- scatter / gather --------------------------------------------------------- */

/* Strictly increasing random subset of [0, dim) of size m. */
static size_t random_subset(uint32_t *idx, size_t dim, unsigned pct) {
    size_t m = 0;
    for (size_t i = 0; i < dim; i++)
        if (rng_next() % 100 < pct) idx[m++] = (uint32_t)i;
    return m;
}

static void check_scatter_gather(size_t dim, size_t off) {
    const dv_kernels *sets[MAX_SETS];
    size_t ns = usable_sets(sets);
    float *base = alloc_floats(dim), *want = alloc_floats(dim), *got = alloc_floats(dim);
    float *vals = alloc_floats(dim), *gw = alloc_floats(dim), *gg = alloc_floats(dim);
    uint32_t *idx = calloc(dim + 1, sizeof(uint32_t));
    assert_non_null(idx);
    static const unsigned pct[] = {5, 50, 100};
    for (size_t p = 0; p < 3; p++) {
        size_t m = random_subset(idx, dim, pct[p]);
        for (size_t i = 0; i < dim + GUARD; i++) base[i] = rng_float();
        for (size_t i = 0; i < m; i++) vals[off + i] = rng_float();
        memcpy(want, base, (dim + GUARD) * sizeof(float));
        SCALAR->scatter(want, idx, vals + off, m);
        SCALAR->gather(gw + off, base, idx, m);
        for (size_t s = 0; s < ns; s++) {
            /* dst offset by off floats: unaligned when off == 1 */
            for (size_t i = 0; i < dim + GUARD; i++) got[i] = -9.0f;
            memcpy(got + off, base, dim * sizeof(float));
            sets[s]->scatter(got + off, idx, vals + off, m);
            if (memcmp(got + off, want, dim * sizeof(float)) != 0)
                fail_msg("%s scatter dim=%zu m=%zu off=%zu", sets[s]->name, dim, m, off);
            for (size_t i = off + dim; i < dim + GUARD; i++)
                if (got[i] != -9.0f) fail_msg("%s scatter dim=%zu wrote past dim", sets[s]->name, dim);
            for (size_t i = 0; i < m + GUARD; i++) gg[i] = -7.0f;
            sets[s]->gather(gg + off, base, idx, m);
            if (m && memcmp(gg + off, gw + off, m * sizeof(float)) != 0)
                fail_msg("%s gather dim=%zu m=%zu off=%zu", sets[s]->name, dim, m, off);
            for (size_t i = off + m; i < m + GUARD; i++)
                if (gg[i] != -7.0f) fail_msg("%s gather dim=%zu wrote past m", sets[s]->name, dim);
        }
    }
    free(base), free(want), free(got), free(vals), free(gw), free(gg), free(idx);
}

static void test_scatter_and_gather_equal_scalar_exactly(void **state) {
    (void)state;
    rng_state = 3;
    for_each_size(check_scatter_gather);
}

static void test_scatter_with_repeated_index_keeps_the_later_value(void **state) {
    (void)state;
    const dv_kernels *sets[MAX_SETS];
    size_t ns = usable_sets(sets);
    uint32_t idx[9] = {0, 3, 3, 5, 7, 7, 7, 1, 3};
    float vals[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (size_t s = 0; s < ns; s++) {
        float dst[8] = {0};
        sets[s]->scatter(dst, idx, vals, 9);
        assert_true(dst[0] == 1 && dst[1] == 8 && dst[3] == 9 && dst[5] == 4 && dst[7] == 7);
        float g[9];
        sets[s]->gather(g, dst, idx, 9); /* repeated gather indices are fine too */
        assert_true(g[1] == 9 && g[2] == 9 && g[6] == 7 && g[7] == 8);
    }
}

/* ---- XXH3 ------------------------------------------------------------------ */

/* dv_all_finite_f32 and each ISA build of it: 1 on finite values (zeros,
 * subnormals, the largest float), 0 when one Inf, -Inf or NaN sits at any
 * position of any length around the vector steps. */
static void test_all_finite_finds_every_non_finite_value(void **state) {
    (void)state;
    typedef int (*finite_fn)(const float *, size_t);
    finite_fn fns[3] = {dv_all_finite_f32, NULL, NULL};
    if (dv_kernels_named("avx2")) fns[1] = dv_all_finite_f32_avx2;
    if (dv_kernels_named("avx512")) fns[2] = dv_all_finite_f32_avx512;
    const float bad[3] = {INFINITY, -INFINITY, NAN};
    enum { MAXN = 70 };
    float v[MAXN];
    for (size_t f = 0; f < 3; f++) {
        if (!fns[f]) continue;
        for (size_t n = 0; n <= MAXN; n++) {
            for (size_t i = 0; i < n; i++) v[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1e-40f : -FLT_MAX;
            if (fns[f](v, n) != 1) fail_msg("build %zu, length %zu: finite values refused", f, n);
            for (size_t at = 0; at < n; at++)
                for (size_t b = 0; b < 3; b++) {
                    float keep = v[at];
                    v[at] = bad[b];
                    if (fns[f](v, n) != 0)
                        fail_msg("build %zu, length %zu: value %zu at %zu missed", f, n, b, at);
                    v[at] = keep;
                }
        }
    }
}

/* dv_unshuffle4 puts element i's byte k back from plane k, for every
 * length around the 16-element step (tail only, body only, both), and
 * writes nothing past 4n bytes. */
static void test_unshuffle4_inverts_the_byte_planes(void **state) {
    (void)state;
    enum { MAXN = 83 };
    uint8_t planes[4 * MAXN], out[4 * MAXN + 8];
    for (size_t n = 0; n <= MAXN; n++) {
        for (size_t k = 0; k < 4; k++)
            for (size_t i = 0; i < n; i++) planes[k * n + i] = (uint8_t)(i * 7 + k * 61 + n);
        memset(out, 0xA5, sizeof out);
        dv_unshuffle4(out, planes, n);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < 4; k++)
                if (out[4 * i + k] != planes[k * n + i]) fail_msg("n %zu, element %zu, byte %zu", n, i, k);
        for (size_t j = 4 * n; j < sizeof out; j++) assert_int_equal(out[j], 0xA5);
    }
}

/* dv_xxh3_update and each ISA build of it: XXH3_64bits of the whole input, fed in uneven pieces. */
static void test_xxh3_update_equals_xxhash_in_every_build(void **state) {
    (void)state;
    typedef void (*update_fn)(void *, const void *, size_t);
    update_fn fns[3] = {dv_xxh3_update, NULL, NULL};
#if defined(__x86_64__)
    if (dv_kernels_named("avx2")) fns[1] = dv_xxh3_update_avx2;
    if (dv_kernels_named("avx512")) fns[2] = dv_xxh3_update_avx512;
#endif
    static const size_t lens[] = {0, 1, 17, 129, 240, 241, 1024, 4096, 100003};
    unsigned char *buf = malloc(100003);
    assert_non_null(buf);
    rng_state = 7;
    for (size_t i = 0; i < 100003; i++) buf[i] = (unsigned char)rng_next();
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        uint64_t want = XXH3_64bits(buf, lens[l]);
        for (size_t f = 0; f < 3; f++) {
            if (!fns[f]) continue;
            XXH3_state_t st;
            XXH3_64bits_reset(&st);
            for (size_t off = 0, piece = 1; off < lens[l]; off += piece, piece = piece * 3 + 1) {
                if (piece > lens[l] - off) piece = lens[l] - off;
                fns[f](&st, buf + off, piece);
            }
            if (XXH3_64bits_digest(&st) != want) fail_msg("xxh3 build %zu, length %zu", f, lens[l]);
        }
    }
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar_is_listed_first_and_best_is_usable),
        cmocka_unit_test(test_named_returns_usable_sets_only),
        cmocka_unit_test(test_best_set_on_x86_matches_cpu_features),
        cmocka_unit_test(test_cpu_features_agree_with_the_compiler_runtime),
        cmocka_unit_test(test_avx512_needs_the_os_to_save_zmm_state),
        cmocka_unit_test(test_reductions_agree_with_scalar_within_rounding),
        cmocka_unit_test(test_reductions_count_every_index_once),
        cmocka_unit_test(test_avx512_reductions_equal_avx2_bit_for_bit),
        cmocka_unit_test(test_avx512_and_avx2_build_the_same_graph),
        cmocka_unit_test(test_diff_indices_equal_scalar_exactly),
        cmocka_unit_test(test_diff_edge_cases_equal_eps_signed_zero_nan),
        cmocka_unit_test(test_scatter_and_gather_equal_scalar_exactly),
        cmocka_unit_test(test_scatter_with_repeated_index_keeps_the_later_value),
        cmocka_unit_test(test_xxh3_update_equals_xxhash_in_every_build),
        cmocka_unit_test(test_unshuffle4_inverts_the_byte_planes),
        cmocka_unit_test(test_all_finite_finds_every_non_finite_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
