/*
 * dispatch.c -- picks the kernel set, once.
 *
 * x86-64: AVX-512F if the CPU has it (with AVX2, FMA and POPCNT) and the
 * OS saves zmm and opmask state, else AVX2+FMA(+POPCNT) if the OS saves
 * ymm state, else SSE4.1, else scalar. The features come from CPUID and
 * XGETBV (util/cpu.h, which explains the XCR0 check). wasm32: the SIMD128
 * set if the module was compiled with -msimd128 (a wasm engine that lacks
 * SIMD refuses the module at load, so there is nothing to ask at run
 * time), else scalar. Other targets: scalar.
 *
 * The native library (CMake defines DV_SIMD_FROM_ENV) lets the environment
 * variable DV_SIMD name the set instead: scalar, sse, avx2, avx512 (or
 * simd128 in wasm, where it is never read). A name that is not compiled in
 * or that this CPU cannot run is ignored -- dv_simd_backend() tells what
 * runs. It is read at first use, so it must be set before the process
 * opens its first database. The freestanding core builds (wasm) have no
 * getenv: there, tests and benchmarks pick a set with dv_kernels_named().
 *
 * The choice is made lazily at first use and cached in an atomic pointer.
 * Two threads racing on the first call both compute the same answer and
 * store the same pointer, so no compare-and-swap is needed: a release
 * store / acquire load pair is enough and is TSan-clean.
 */
#include "simd/kernels.h"
#include "deltavec.h"
#include "util/cpu.h"

#include <stdatomic.h>
#include <string.h>
#if defined(DV_SIMD_FROM_ENV)
#include <stdlib.h>
#endif

/* Every set compiled into this build, scalar first, best last. */
static const dv_kernels *const compiled[] = {
    &dv_kernels_scalar,
#if defined(__x86_64__) || defined(_M_X64)
    &dv_kernels_sse,     &dv_kernels_avx2, &dv_kernels_avx512,
#endif
#if defined(__wasm_simd128__)
    &dv_kernels_simd128,
#endif
};
#define N_COMPILED (sizeof compiled / sizeof compiled[0])

/* Can this CPU run set k? */
static int supported(const dv_kernels *k) {
#if defined(__x86_64__) || defined(_M_X64)
    const unsigned avx2 = DV_CPU_AVX2 | DV_CPU_FMA | DV_CPU_POPCNT;
    unsigned need = k == &dv_kernels_avx512 ? avx2 | DV_CPU_AVX512F
                    : k == &dv_kernels_avx2 ? avx2
                    : k == &dv_kernels_sse  ? DV_CPU_SSE41
                                            : 0;
    return (dv_cpu_features() & need) == need;
#else
    (void)k;
    return 1;
#endif
}

static const dv_kernels *find_usable(const char *name) {
    for (size_t i = 0; i < N_COMPILED; i++)
        if (strcmp(compiled[i]->name, name) == 0) return supported(compiled[i]) ? compiled[i] : NULL;
    return NULL;
}

/* The set DV_SIMD names, if usable; NULL when unset or not usable. */
static const dv_kernels *forced_set(void) {
#if defined(DV_SIMD_FROM_ENV)
    const char *name = getenv("DV_SIMD");
    if (name && *name) return find_usable(name);
#endif
    return NULL;
}

static _Atomic(const dv_kernels *) best_kernels;

const dv_kernels *dv_kernels_best(void) {
    const dv_kernels *k = atomic_load_explicit(&best_kernels, memory_order_acquire);
    if (k) return k;
    k = forced_set();
    for (size_t i = N_COMPILED; !k && i-- > 0;)
        if (supported(compiled[i])) k = compiled[i];
    atomic_store_explicit(&best_kernels, k, memory_order_release);
    return k;
}

const dv_kernels *dv_kernels_named(const char *name) { return name ? find_usable(name) : NULL; }

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
