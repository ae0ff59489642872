/*
 * dispatch.c -- picks the best kernel set for this CPU, once.
 *
 * x86-64: AVX2+FMA(+POPCNT) if the CPU (and OS, via libgcc's XCR0 check
 * behind __builtin_cpu_supports) has them, else SSE4.1, else scalar. wasm32: the
 * SIMD128 set if the module was compiled with -msimd128 (a wasm engine
 * that lacks SIMD refuses the module at load, so there is nothing to ask
 * at run time), else scalar. Other targets: scalar.
 *
 * The choice is made lazily at first use and cached in an atomic pointer.
 * Two threads racing on the first call both compute the same answer and
 * store the same pointer, so no compare-and-swap is needed: a release
 * store / acquire load pair is enough and is TSan-clean. There is no
 * environment override in the core (no getenv here; the core must build
 * freestanding): tests and benchmarks pick a set with dv_kernels_named().
 */
#include "simd/kernels.h"
#include "deltavec.h"

#include <stdatomic.h>
#include <string.h>

/* Every set compiled into this build, scalar first, best last. */
static const dv_kernels *const compiled[] = {
    &dv_kernels_scalar,
#if defined(__x86_64__) || defined(_M_X64)
    &dv_kernels_sse,
    &dv_kernels_avx2,
#endif
#if defined(__wasm_simd128__)
    &dv_kernels_simd128,
#endif
};
#define N_COMPILED (sizeof compiled / sizeof compiled[0])

/* Can this CPU run set k? */
static int supported(const dv_kernels *k) {
#if defined(__x86_64__) || defined(_M_X64)
    if (k == &dv_kernels_avx2 || k == &dv_kernels_sse) {
        __builtin_cpu_init(); /* idempotent; needed if we run before constructors */
        if (k == &dv_kernels_avx2)
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("popcnt");
        return __builtin_cpu_supports("sse4.1");
    }
#endif
    (void)k;
    return 1;
}

static _Atomic(const dv_kernels *) best_kernels;

const dv_kernels *dv_kernels_best(void) {
    const dv_kernels *k = atomic_load_explicit(&best_kernels, memory_order_acquire);
    if (k) return k;
    k = &dv_kernels_scalar;
    for (size_t i = N_COMPILED; i-- > 0;) {
        if (supported(compiled[i])) {
            k = compiled[i];
            break;
        }
    }
    atomic_store_explicit(&best_kernels, k, memory_order_release);
    return k;
}

const dv_kernels *dv_kernels_named(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < N_COMPILED; i++)
        if (strcmp(compiled[i]->name, name) == 0) return supported(compiled[i]) ? compiled[i] : NULL;
    return NULL;
}

size_t dv_kernels_all(const dv_kernels **out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < N_COMPILED && n < max; i++)
        if (supported(compiled[i])) out[n++] = compiled[i];
    return n;
}

float dv_l2sq(const float *a, const float *b, size_t n) { return dv_kernels_best()->l2sq(a, b, n); }
float dv_dot(const float *a, const float *b, size_t n) { return dv_kernels_best()->dot(a, b, n); }
size_t dv_diff(const float *o, const float *v, size_t n, float eps, uint32_t *idx) {
    return dv_kernels_best()->diff(o, v, n, eps, idx);
}
void dv_scatter(float *d, const uint32_t *idx, const float *v, size_t n) {
    dv_kernels_best()->scatter(d, idx, v, n);
}
void dv_gather(float *o, const float *s, const uint32_t *idx, size_t n) {
    dv_kernels_best()->gather(o, s, idx, n);
}
const char *dv_simd_backend(void) { return dv_kernels_best()->name; }
