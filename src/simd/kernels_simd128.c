/*
 * kernels_simd128.c -- WebAssembly SIMD128 kernels (wasm32), 4 floats per vector.
 *
 * Compiled only for wasm32 with -msimd128 (native CMake builds exclude
 * *_simd128.c; scripts/check-wasm.sh compiles and runs it under node).
 * Baseline SIMD128 has no FMA, so reductions are mul + add with four
 * independent accumulators over a 16-float body, a 4-wide loop and a
 * scalar tail; results agree with scalar within float rounding.
 *
 * diff is exact: same subtraction and |.|, f32x4.gt (false for NaN), the
 * lane mask from i32x4.bitmask, and the set lanes compressed with
 * i8x16.swizzle (indices >= 16 give zero bytes). The 16-byte store at
 * idx_out + k is in bounds since k <= i and i + 4 <= n. scatter/gather
 * have no SIMD128 instruction: scalar, in index order (later duplicate
 * wins, as in scalar).
 */
#include "simd/kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

static inline float hsum_f32x4(v128_t v) {
    return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
           (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

static float simd128_l2sq(const float *a, const float *b, size_t n) {
    v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v128_t d0 = wasm_f32x4_sub(wasm_v128_load(a + i), wasm_v128_load(b + i));
        v128_t d1 = wasm_f32x4_sub(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4));
        v128_t d2 = wasm_f32x4_sub(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8));
        v128_t d3 = wasm_f32x4_sub(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12));
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(d0, d0));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(d1, d1));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(d2, d2));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(d3, d3));
    }
    for (; i + 4 <= n; i += 4) {
        v128_t d = wasm_f32x4_sub(wasm_v128_load(a + i), wasm_v128_load(b + i));
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(d, d));
    }
    float s = hsum_f32x4(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

static float simd128_dot(const float *a, const float *b, size_t n) {
    v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8)));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12)));
    }
    for (; i + 4 <= n; i += 4)
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    float s = hsum_f32x4(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* compress_lut[m]: swizzle control moving the 32-bit lanes set in m to the front. */
static const int8_t compress_lut[16][16] = {
    {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, -128, -128, -128, -128, -128, -128, -128, -128},
    {8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, 8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -128, -128, -128, -128},
    {12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, -128, -128, -128, -128},
    {8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128},
    {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
};

static size_t simd128_diff(const float *old_v, const float *new_v, size_t n, float eps, uint32_t *idx_out) {
    const v128_t veps = wasm_f32x4_splat(eps);
    const v128_t four = wasm_i32x4_splat(4);
    v128_t lanes = wasm_i32x4_make(0, 1, 2, 3);
    size_t k = 0, i = 0;
    for (; i + 4 <= n; i += 4, lanes = wasm_i32x4_add(lanes, four)) {
        v128_t d = wasm_f32x4_sub(wasm_v128_load(new_v + i), wasm_v128_load(old_v + i));
        unsigned m = (unsigned)wasm_i32x4_bitmask(wasm_f32x4_gt(wasm_f32x4_abs(d), veps));
        if (m == 0) continue;
        v128_t ctl = wasm_v128_load(compress_lut[m]);
        wasm_v128_store(idx_out + k, wasm_i8x16_swizzle(lanes, ctl));
        k += (size_t)__builtin_popcount(m);
    }
    for (; i < n; i++)
        if (__builtin_fabsf(new_v[i] - old_v[i]) > eps) idx_out[k++] = (uint32_t)i;
    return k;
}

static void simd128_scatter(float *dst, const uint32_t *idx, const float *values, size_t n) {
    for (size_t i = 0; i < n; i++) dst[idx[i]] = values[i];
}

static void simd128_gather(float *out, const float *src, const uint32_t *idx, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = src[idx[i]];
}

const dv_kernels dv_kernels_simd128 = {
    "simd128", simd128_l2sq, simd128_dot, simd128_diff, simd128_scatter, simd128_gather,
};

#endif /* __wasm_simd128__ */
