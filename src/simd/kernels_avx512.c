/*
 * kernels_avx512.c -- AVX-512F kernels (x86-64), 16 floats per vector.
 *
 * Built with -mavx512f -mavx2 -mfma (CMake sets them by the _avx512.c
 * suffix) and only ever called after dispatch.c has seen AVX512F, AVX2,
 * FMA and POPCNT on the CPU *and* the zmm/opmask state enabled by the OS
 * in XCR0 (util/cpu.h). Only AVX512F instructions are used, so every
 * AVX-512 CPU runs it.
 *
 * l2sq and dot are bit-identical to the AVX2 set, not merely close: they
 * sum in exactly the AVX2 order. The AVX2 kernels keep four 8-float
 * accumulators s0..s3 over a 32-float body, add the leftover 8-float
 * blocks to s0 and the last 1..7 floats to s1, and finish with
 * hsum((s0 + s1) + (s2 + s3)). Here one zmm holds s0|s1 and another
 * s2|s3, the same FMAs run lane for lane (an FMA rounds once, whatever the
 * vector width), the 8-float blocks and the tail are masked FMAs into the
 * matching half, and the halves are added in the AVX2 order before the
 * same horizontal sum. Why it matters: a database in logical mode
 * (docs/STORAGE.md "Log mode") and a logical replica rebuild the graph by
 * searching, so they reach the writer's state hash only if every distance
 * is the same float; with this set an AVX-512 machine and an AVX2 machine
 * (and a directory written before this set existed) still agree. The
 * price: each lane's running sum is one FMA chain, so the loop is bound by
 * the FMA latency exactly as the AVX2 one, and the gain is only half the
 * instructions and loads. That pays when both vectors sit on 64-byte
 * boundaries; otherwise nearly every 64-byte load straddles two cache
 * lines and the zmm loop measured slower than the AVX2 one (docs/BENCH.md,
 * bench_kernels). Since both loops give the same floats, each call takes
 * the zmm loop for aligned inputs and the AVX2 one for the others.
 *
 * diff is exact (the scalar subtraction, |.| and ordered greater-than);
 * set lanes are compressed in a register (vpcompressd) and stored whole
 * at idx_out + k, in bounds because k <= i and i + 16 <= n; the last 1..15
 * floats use masked loads and a compressing store of just the set lanes.
 *
 * gather uses 16-lane vgatherdps, whose offsets are signed 32-bit: a block
 * holding an index >= 2^31 falls back to scalar loads. scatter keeps plain
 * stores in index order (a repeated index keeps the later value, as in
 * scalar): vscatterdps was slower than them on the machine of
 * docs/BENCH.md.
 */
#include "simd/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#include "simd/reduce_avx2.h" /* the AVX2 loops and their hsum256 */
#include "simd/scatter_stores.h"

/* Lanes 8..15 (vextractf32x8 would need AVX512DQ; the 64-bit form is AVX512F). */
static inline __m256 high_half(__m512 v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* (lo + hi of s01) + (lo + hi of s23), summed: the AVX2 set's final step. */
static inline float finish(__m512 s01, __m512 s23) {
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(s01), high_half(s01));
    __m256 b = _mm256_add_ps(_mm512_castps512_ps256(s23), high_half(s23));
    return hsum256(_mm256_add_ps(a, b));
}

#define LOW8 ((__mmask16)0x00ff)

/* Lanes [from, to) of a 16-lane mask. */
static inline __mmask16 lanes_mask(size_t from, size_t to) {
    return (__mmask16)(((1u << (to - from)) - 1u) << from);
}

static float zmm_l2sq(const float *a, const float *b, size_t n) {
    __m512 s01 = _mm512_setzero_ps(), s23 = _mm512_setzero_ps(); /* AVX2's s0|s1 and s2|s3 */
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s01 = _mm512_fmadd_ps(d0, d0, s01);
        s23 = _mm512_fmadd_ps(d1, d1, s23);
    }
    for (; i + 8 <= n; i += 8) { /* AVX2 adds these 8-float blocks to s0 */
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(LOW8, a + i), _mm512_maskz_loadu_ps(LOW8, b + i));
        s01 = _mm512_mask3_fmadd_ps(d, d, s01, LOW8);
    }
    if (i < n) { /* and the last 1..7 floats to s1: expanded into lanes 8.. */
        __mmask16 m = lanes_mask(8, 8 + (n - i));
        __m512 d =
            _mm512_sub_ps(_mm512_maskz_expandloadu_ps(m, a + i), _mm512_maskz_expandloadu_ps(m, b + i));
        s01 = _mm512_mask3_fmadd_ps(d, d, s01, m);
    }
    return finish(s01, s23);
}

static float zmm_dot(const float *a, const float *b, size_t n) {
    __m512 s01 = _mm512_setzero_ps(), s23 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s01 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s01);
        s23 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s23);
    }
    for (; i + 8 <= n; i += 8)
        s01 = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(LOW8, a + i), _mm512_maskz_loadu_ps(LOW8, b + i),
                                    s01, LOW8);
    if (i < n) {
        __mmask16 m = lanes_mask(8, 8 + (n - i));
        s01 = _mm512_mask3_fmadd_ps(_mm512_maskz_expandloadu_ps(m, a + i),
                                    _mm512_maskz_expandloadu_ps(m, b + i), s01, m);
    }
    return finish(s01, s23);
}

/* Both vectors on 64-byte boundaries: no zmm load crosses a cache line. */
static inline int both_aligned64(const float *a, const float *b) {
    return (((uintptr_t)a | (uintptr_t)b) & 63u) == 0;
}

static float avx512_l2sq(const float *a, const float *b, size_t n) {
    return both_aligned64(a, b) ? zmm_l2sq(a, b, n) : avx2_l2sq_loop(a, b, n);
}

static float avx512_dot(const float *a, const float *b, size_t n) {
    return both_aligned64(a, b) ? zmm_dot(a, b, n) : avx2_dot_loop(a, b, n);
}

static size_t avx512_diff(const float *old_v, const float *new_v, size_t n, float eps, uint32_t *idx_out) {
    const __m512 veps = _mm512_set1_ps(eps);
    const __m512i sixteen = _mm512_set1_epi32(16);
    __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); /* i + lane */
    size_t k = 0, i = 0;
    for (; i + 16 <= n; i += 16, lanes = _mm512_add_epi32(lanes, sixteen)) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(new_v + i), _mm512_loadu_ps(old_v + i));
        __mmask16 m = _mm512_cmp_ps_mask(_mm512_abs_ps(d), veps, _CMP_GT_OQ);
        if (m == 0) continue;
        _mm512_storeu_si512((void *)(idx_out + k), _mm512_maskz_compress_epi32(m, lanes));
        k += (size_t)__builtin_popcount(m);
    }
    if (i < n) { /* masked-off lanes are excluded from the compare, whatever eps is */
        __mmask16 t = lanes_mask(0, n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(t, new_v + i), _mm512_maskz_loadu_ps(t, old_v + i));
        __mmask16 m = _mm512_mask_cmp_ps_mask(t, _mm512_abs_ps(d), veps, _CMP_GT_OQ);
        _mm512_mask_compressstoreu_epi32((void *)(idx_out + k), m, lanes);
        k += (size_t)__builtin_popcount(m);
    }
    return k;
}

/* Does any of these 16 indices have its top bit set (no signed 32-bit offset)? */
static inline int any_index_past_int32(__m512i vi) {
    return _mm512_cmplt_epi32_mask(vi, _mm512_setzero_si512()) != 0;
}

static void avx512_gather(float *out, const float *src, const uint32_t *idx, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i vi = _mm512_loadu_si512((const void *)(idx + i));
        if (any_index_past_int32(vi)) {
            for (size_t j = i; j < i + 16; j++) out[j] = src[idx[j]];
            continue;
        }
        _mm512_storeu_ps(out + i, _mm512_i32gather_ps(vi, src, 4));
    }
    for (; i < n; i++) out[i] = src[idx[i]];
}

const dv_kernels dv_kernels_avx512 = {
    "avx512", avx512_l2sq, avx512_dot, avx512_diff, dv_scatter_stores, avx512_gather,
};

#endif /* x86-64 */
