/*
 * finite.c -- dv_all_finite_f32() (simd.h): no Inf and no NaN among n
 * floats, the check every decoded or replayed vector passes. The same loop
 * built for AVX2 and AVX-512 (finite_avx2.c, finite_avx512.c) when
 * dispatch.c chose those kernels, else this file's (SSE2 on x86-64, SIMD128
 * in the wasm build). It is checked twice per dense vector a replica
 * applies (by the decoder, and by the db, which also takes vectors from
 * its own API): at dim 384 the SSE2 loop was a tenth of a batch of dense
 * updates.
 */
#include "simd/finite_loop.h"
#include "simd/kernels.h"

/* This file's build of the loop (the baseline ISA). */
static int dv_all_finite_f32_loop(const float *v, size_t n) { return dv_finite_loop(v, n); }

int dv_all_finite_f32(const float *v, size_t n) {
#if defined(__x86_64__) || defined(_M_X64)
    const dv_kernels *k = dv_kernels_best();
    if (k == &dv_kernels_avx512) return dv_all_finite_f32_avx512(v, n);
    if (k == &dv_kernels_avx2) return dv_all_finite_f32_avx2(v, n);
#endif
    return dv_all_finite_f32_loop(v, n);
}
