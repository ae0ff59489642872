/*
 * kernels_scalar.c -- the reference kernels every SIMD variant is tested against.
 *
 * Plain loops in index order: this is the definition of each kernel's
 * result (tests/test_simd.c compares every other set to it). No libm:
 * __builtin_fabsf keeps the file buildable for freestanding wasm32.
 */
#include "simd/kernels.h"

static float scalar_l2sq(const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

static float scalar_dot(const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static size_t scalar_diff(const float *old_v, const float *new_v, size_t n, float eps, uint32_t *idx_out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (__builtin_fabsf(new_v[i] - old_v[i]) > eps) idx_out[k++] = (uint32_t)i;
    return k;
}

static void scalar_scatter(float *dst, const uint32_t *idx, const float *values, size_t n) {
    for (size_t i = 0; i < n; i++) dst[idx[i]] = values[i];
}

static void scalar_gather(float *out, const float *src, const uint32_t *idx, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = src[idx[i]];
}

const dv_kernels dv_kernels_scalar = {
    "scalar", scalar_l2sq, scalar_dot, scalar_diff, scalar_scatter, scalar_gather,
};
