/*
 * hnswlib_distance.h -- hnswlib's distance functions as C function pointers
 * (hnswlib_distance.cpp), the reference column of bench_kernels.
 */
#ifndef DV_BENCH_HNSWLIB_DISTANCE_H
#define DV_BENCH_HNSWLIB_DISTANCE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* hnswlib's DISTFUNC<float>: (vector, vector, pointer to the size_t dimension). */
typedef float (*bench_hnswlib_dist)(const void *a, const void *b, const void *dim);

bench_hnswlib_dist bench_hnswlib_l2(size_t dim); /* L2Space: squared L2 */
bench_hnswlib_dist bench_hnswlib_ip(size_t dim); /* InnerProductSpace: 1 - dot */
const char *bench_hnswlib_isa(void);             /* "avx512", "avx", "sse" or "scalar" */

#ifdef __cplusplus
}
#endif

#endif
