/*
 * simd.h -- every SIMD kernel of deltavec, behind plain functions.
 *
 * Nothing outside src/simd/ sees an intrinsic. Each ISA has its own file
 * (kernels_scalar.c, kernels_sse.c, kernels_avx2.c, kernels_avx512.c,
 * kernels_simd128.c); the build compiles the ones the target can run
 * (per-file flags chosen by suffix in CMakeLists.txt) and dispatch.c picks
 * the best one the CPU supports at first use (or the one DV_SIMD names).
 * Every variant must give the same answers as the scalar one:
 * bit-identical for diff, scatter and gather (they feed deltas, state and
 * hashes); within float rounding of a different summation order for the
 * reductions, except that avx512 sums in exactly the avx2 order and so
 * returns the same floats as avx2 (kernels_avx512.c says why: a logical
 * replica rebuilds the graph from distances). A structural replica
 * computes no distance at all -- the graph edits are shipped -- so its
 * state never depends on the kernel set.
 *
 * Vector lengths are arbitrary: kernels handle tails that are not a
 * multiple of the vector width (the seed's compute_diff did not).
 */
#ifndef DV_SIMD_H
#define DV_SIMD_H

#include <stddef.h>
#include <stdint.h>

typedef struct dv_kernels {
    const char *name; /* "scalar", "sse", "avx2", "avx512", "simd128" */
    /* sum_i (a[i]-b[i])^2 */
    float (*l2sq)(const float *a, const float *b, size_t n);
    /* sum_i a[i]*b[i] */
    float (*dot)(const float *a, const float *b, size_t n);
    /* Writes, in increasing order, every i < n with |new_v[i] - old_v[i]| > eps
     * to idx_out (room for n entries) and returns how many. NaN differences
     * never count (an ordered compare, as in C). SIMD variants may scribble
     * on idx_out[count..n) but never write at or past idx_out[n]. */
    size_t (*diff)(const float *old_v, const float *new_v, size_t n, float eps, uint32_t *idx_out);
    /* dst[idx[i]] = values[i] for i < n, in order of i. Caller guarantees
     * idx[i] in range; callers pass strictly increasing indices, and should
     * an index repeat, the later value wins in every variant. */
    void (*scatter)(float *dst, const uint32_t *idx, const float *values, size_t n);
    /* out[i] = src[idx[i]] for i < n (gather; used for before-images). */
    void (*gather)(float *out, const float *src, const uint32_t *idx, size_t n);
} dv_kernels;

/* The best kernel set for this CPU, or the usable one the environment
 * variable DV_SIMD names in the native library (chosen once, thread-safe). */
const dv_kernels *dv_kernels_best(void);
/* A named kernel set, or NULL if not compiled in or not supported by this CPU. */
const dv_kernels *dv_kernels_named(const char *name);
/* All kernel sets usable on this CPU, scalar first; returns the count. */
size_t dv_kernels_all(const dv_kernels **out, size_t max);

/* Convenience wrappers over dv_kernels_best(). */
float dv_l2sq(const float *a, const float *b, size_t n);
float dv_dot(const float *a, const float *b, size_t n);
size_t dv_diff(const float *old_v, const float *new_v, size_t n, float eps, uint32_t *idx_out);
void dv_scatter(float *dst, const uint32_t *idx, const float *values, size_t n);
void dv_gather(float *out, const float *src, const uint32_t *idx, size_t n);

/* 1 when none of v[0..n) is an Inf or a NaN, else 0; run with the widest
 * vector unit this CPU has. */
int dv_all_finite_f32(const float *v, size_t n);

/* Four byte planes of n bytes each (plane k = byte k of every element)
 * back into n 4-byte little-endian elements at out (4n bytes, any
 * alignment, not overlapping the planes): the float codec's unshuffle. */
void dv_unshuffle4(void *out, const uint8_t *planes, size_t n);

/* XXH3-64 streaming update: exactly xxhash's XXH3_64bits_update() on the
 * XXH3_state_t at xxh3_state (reset and digest it with xxhash as usual),
 * run with the widest vector unit this CPU has. The library is built for
 * the baseline ISA (SSE2 on x86-64), where XXH3 runs at about half the
 * speed of its AVX2 loop; the snapshot codec hashes every byte it reads or
 * writes, so it takes this path (hash.c, hash_avx2.c). */
void dv_xxh3_update(void *xxh3_state, const void *bytes, size_t len);

#endif
