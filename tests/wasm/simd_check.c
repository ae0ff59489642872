/*
 * simd_check.c -- runs the SIMD128 kernels against scalar inside a wasm32-wasi module.
 *
 * Native CI cannot execute kernels_simd128.c, so scripts/check-wasm.sh builds
 * this file with it (clang-14 --target=wasm32-wasi -msimd128) and runs it
 * under node's WASI. Same checks as tests/test_simd.c, in plain C with an
 * exit status (no cmocka in wasi-libc): reductions within 1e-5 of the
 * absolute-term sum of a double reference, diff/scatter/gather bit-exact,
 * diff never writing at or past idx_out[n], unaligned pointers, fixed seed;
 * and the byte-plane unshuffle of the float codec against its definition.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/kernels.h"
#include "simd/simd.h"

#define GUARD 8

static int failures;
static uint64_t rng_state = 7;
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float rng_float(void) {
    return (float)((double)(rng_next() >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            failures++;                                                                                      \
            printf(__VA_ARGS__);                                                                             \
            printf("\n");                                                                                    \
        }                                                                                                    \
    } while (0)

static void check_n(const dv_kernels *k, size_t n, size_t off) {
    float *ob = calloc(n + GUARD + 1, sizeof(float)), *nb = calloc(n + GUARD + 1, sizeof(float));
    float *vb = calloc(n + GUARD + 1, sizeof(float)), *g1 = calloc(n + 1, sizeof(float));
    float *g2 = calloc(n + 1, sizeof(float)), *d1 = calloc(n + 1, sizeof(float));
    float *d2 = calloc(n + 1, sizeof(float));
    uint32_t *i1 = calloc(n + 1, sizeof(uint32_t)), *i2 = calloc(n + GUARD, sizeof(uint32_t));
    if (!ob || !nb || !vb || !g1 || !g2 || !d1 || !d2 || !i1 || !i2) {
        printf("out of memory\n");
        exit(2);
    }
    float *o = ob + off, *v = nb + off, *vals = vb + off;
    double l2 = 0, l2abs = 0, dot = 0, dotabs = 0;
    for (size_t i = 0; i < n; i++) {
        o[i] = rng_float();
        v[i] = (rng_next() % 3 == 0) ? o[i] + rng_float() * 0.1f : o[i];
        if (i % 11 == 5) v[i] = o[i] + 0.5f - 0.5f; /* equal */
        if (i % 13 == 7) o[i] = 0.0f, v[i] = -0.0f;
        double d = (double)o[i] - v[i];
        l2 += d * d, l2abs += d * d;
        dot += (double)o[i] * v[i], dotabs += fabs((double)o[i] * v[i]);
    }
    float gl2 = k->l2sq(o, v, n), gdot = k->dot(o, v, n);
    CHECK(fabs(gl2 - l2) <= 1e-5 * l2abs + 1e-30, "%s l2sq n=%zu: %g vs %g", k->name, n, gl2, l2);
    CHECK(fabs(gdot - dot) <= 1e-5 * dotabs + 1e-30, "%s dot n=%zu: %g vs %g", k->name, n, gdot, dot);

    const float eps[] = {0.0f, 0.01f, 0.05f};
    for (size_t e = 0; e < 3; e++) {
        for (size_t i = 0; i < n + GUARD; i++) i2[i] = 0xdeadbeefu;
        size_t kw = dv_kernels_scalar.diff(o, v, n, eps[e], i1);
        size_t kg = k->diff(o, v, n, eps[e], i2);
        CHECK(kw == kg && (kw == 0 || memcmp(i1, i2, kw * sizeof(uint32_t)) == 0), "%s diff n=%zu eps=%g",
              k->name, n, eps[e]);
        for (size_t i = n; i < n + GUARD; i++)
            CHECK(i2[i] == 0xdeadbeefu, "%s diff wrote past n=%zu", k->name, n);
        /* scatter the changed values, gather them back */
        size_t m = kw;
        for (size_t i = 0; i < m; i++) vals[i] = v[i1[i]];
        memcpy(d1, o, n * sizeof(float));
        memcpy(d2, o, n * sizeof(float));
        dv_kernels_scalar.scatter(d1, i1, vals, m);
        k->scatter(d2, i1, vals, m);
        CHECK(n == 0 || memcmp(d1, d2, n * sizeof(float)) == 0, "%s scatter n=%zu", k->name, n);
        dv_kernels_scalar.gather(g1, v, i1, m);
        k->gather(g2, v, i1, m);
        CHECK(m == 0 || memcmp(g1, g2, m * sizeof(float)) == 0, "%s gather n=%zu", k->name, n);
    }
    free(ob), free(nb), free(vb), free(g1), free(g2), free(d1), free(d2), free(i1), free(i2);
}

/* dv_unshuffle4 (src/simd/shuffle.c, its SIMD128 loop here): element i's
 * byte k comes from plane k, nothing written past 4n bytes. */
static void check_unshuffle(size_t n) {
    uint8_t *planes = malloc(4 * n + 1), *out = malloc(4 * n + GUARD);
    for (size_t j = 0; j < 4 * n; j++) planes[j] = (uint8_t)rng_next();
    memset(out, 0xA5, 4 * n + GUARD);
    dv_unshuffle4(out, planes, n);
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < 4; b++)
            CHECK(out[4 * i + b] == planes[b * n + i], "unshuffle n=%zu element %zu byte %zu", n, i, b);
    for (size_t j = 4 * n; j < 4 * n + GUARD; j++)
        CHECK(out[j] == 0xA5, "unshuffle n=%zu wrote past the end", n);
    free(planes), free(out);
}

int main(void) {
    const dv_kernels *k = dv_kernels_named("simd128");
    if (!k) {
        printf("simd128 kernels not compiled in (build with -msimd128)\n");
        return 1;
    }
    if (dv_kernels_best() != k) {
        printf("dispatch picked %s, expected simd128\n", dv_kernels_best()->name);
        return 1;
    }
    static const size_t big[] = {128, 384, 1000, 4096};
    size_t cases = 0;
    for (size_t off = 0; off < 2; off++) {
        for (size_t n = 0; n <= 67; n++, cases++) check_n(k, n, off);
        for (size_t b = 0; b < 4; b++, cases++) check_n(k, big[b], off);
    }
    for (size_t n = 0; n <= 67; n++, cases++) check_unshuffle(n);
    for (size_t b = 0; b < 4; b++, cases++) check_unshuffle(big[b]);
    printf("simd128 vs scalar: %zu cases, %d failures\n", cases, failures);
    return failures ? 1 : 0;
}
