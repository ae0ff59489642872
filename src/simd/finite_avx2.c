/*
 * finite_avx2.c -- dv_all_finite_f32's loop (finite_loop.h) compiled for
 * AVX2 (the _avx2.c suffix). Called by finite.c only after dispatch.c has
 * chosen these kernels (CPU and OS checked).
 */
#include "simd/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "simd/finite_loop.h"

int dv_all_finite_f32_avx2(const float *v, size_t n) { return dv_finite_loop(v, n); }

#endif
