/*
 * scatter_stores.h -- scatter as plain stores unrolled by four, in index
 * order, private to src/simd. The SSE, AVX2 and AVX-512 sets all use it:
 * neither SSE nor AVX2 has a scatter instruction, and AVX-512's vscatterdps
 * measured slower than these stores (docs/BENCH.md, SIMD kernels). Index
 * order matters when an index repeats: the last value written wins, as in
 * the scalar set.
 */
#ifndef DV_SIMD_SCATTER_STORES_H
#define DV_SIMD_SCATTER_STORES_H

#include <stddef.h>
#include <stdint.h>

static inline void dv_scatter_stores(float *dst, const uint32_t *idx, const float *values, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        dst[idx[i]] = values[i];
        dst[idx[i + 1]] = values[i + 1];
        dst[idx[i + 2]] = values[i + 2];
        dst[idx[i + 3]] = values[i + 3];
    }
    for (; i < n; i++) dst[idx[i]] = values[i];
}

#endif
