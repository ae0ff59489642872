/*
 * finite_avx512.c -- dv_all_finite_f32's loop (finite_loop.h) compiled for
 * AVX-512 (the _avx512.c suffix). Called by finite.c only after dispatch.c has
 * chosen these kernels (CPU and OS checked).
 */
#include "simd/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "simd/finite_loop.h"

int dv_all_finite_f32_avx512(const float *v, size_t n) { return dv_finite_loop(v, n); }

#endif
