/* math.h -- freestanding subset. sqrt/fabs map to wasm instructions; log
 * is implemented in wasm/libc/libc.c (the same algorithm as musl, which
 * wasi-libc uses, so levels match the wasi builds). */
#ifndef DVW_MATH_H
#define DVW_MATH_H
double log(double x);
#define sqrtf(x) __builtin_sqrtf(x)
#define sqrt(x) __builtin_sqrt(x)
#define fabsf(x) __builtin_fabsf(x)
#define fabs(x) __builtin_fabs(x)
#define rintf(x) __builtin_rintf(x)
#define lrintf(x) ((long)__builtin_rintf(x))
#define isfinite(x) __builtin_isfinite(x)
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define HUGE_VAL __builtin_huge_val()
#endif
