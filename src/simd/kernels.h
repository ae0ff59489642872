/* kernels.h -- the kernel tables each ISA file defines (internal to src/simd). */
#ifndef DV_SIMD_KERNELS_H
#define DV_SIMD_KERNELS_H

#include "simd/simd.h"

extern const dv_kernels dv_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const dv_kernels dv_kernels_sse;
extern const dv_kernels dv_kernels_avx2;
extern const dv_kernels dv_kernels_avx512;
#endif
#if defined(__wasm_simd128__)
extern const dv_kernels dv_kernels_simd128;
#endif

#endif
