/* kernels.h -- the kernel tables each ISA file defines (internal to src/simd). */
#ifndef DV_SIMD_KERNELS_H
#define DV_SIMD_KERNELS_H

#include "simd/simd.h"

extern const dv_kernels dv_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const dv_kernels dv_kernels_sse;
extern const dv_kernels dv_kernels_avx2;
extern const dv_kernels dv_kernels_avx512;
/* XXH3_64bits_update built for AVX2 / AVX-512 (hash_avx2.c, hash_avx512.c; hash.c picks). */
void dv_xxh3_update_avx2(void *xxh3_state, const void *bytes, size_t len);
void dv_xxh3_update_avx512(void *xxh3_state, const void *bytes, size_t len);
/* dv_all_finite_f32 built for AVX2 / AVX-512 (finite_avx2.c, finite_avx512.c; finite.c picks). */
int dv_all_finite_f32_avx2(const float *v, size_t n);
int dv_all_finite_f32_avx512(const float *v, size_t n);
#endif
#if defined(__wasm_simd128__)
extern const dv_kernels dv_kernels_simd128;
#endif

#endif
