/*
 * cpu.c -- dv_cpu_features(): CPUID + XGETBV, decoded once (cpu.h says
 * why XCR0 matters). Off x86-64 there is nothing to ask and the answer is
 * 0. CPUID may trap to the hypervisor in a VM (microseconds), so the
 * answer is cached; two threads racing on the first call compute the same
 * bits, so a relaxed atomic store is enough.
 */
#include "util/cpu.h"

#include <stdatomic.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

/* XCR0 state components: x87 | SSE (xmm) | AVX (ymm upper) and opmask | ZMM_Hi256 | Hi16_ZMM. */
#define XCR0_YMM 0x06u
#define XCR0_ZMM 0xe6u
#define OSXSAVE (1u << 27)

unsigned dv_cpu_features_from(const dv_cpuid_regs *r) {
    unsigned f = 0;
    if (r->leaf1_ecx & (1u << 19)) f |= DV_CPU_SSE41;
    if (r->leaf1_ecx & (1u << 23)) f |= DV_CPU_POPCNT;
    if (!(r->leaf1_ecx & OSXSAVE)) return f; /* no XGETBV: no AVX state at all */
    int ymm = (r->xcr0 & XCR0_YMM) == XCR0_YMM, zmm = (r->xcr0 & XCR0_ZMM) == XCR0_ZMM;
    if (ymm && (r->leaf1_ecx & (1u << 28))) { /* AVX */
        if (r->leaf1_ecx & (1u << 12)) f |= DV_CPU_FMA;
        if (r->leaf7_ebx & (1u << 5)) f |= DV_CPU_AVX2;
    }
    if (!zmm || !(r->leaf7_ebx & (1u << 16))) return f;
    f |= DV_CPU_AVX512F;
    if (r->leaf7_ebx & (1u << 17)) f |= DV_CPU_AVX512DQ;
    if (r->leaf7_ebx & (1u << 30)) f |= DV_CPU_AVX512BW;
    if (r->leaf7_ebx & (1u << 31)) f |= DV_CPU_AVX512VL;
    if (r->leaf7_ecx & (1u << 11)) f |= DV_CPU_AVX512VNNI;
    if (r->leaf7_edx & (1u << 23)) f |= DV_CPU_AVX512FP16;
    if (r->leaf7_1_eax & (1u << 5)) f |= DV_CPU_AVX512BF16;
    return f;
}

#if defined(__x86_64__) || defined(_M_X64)
static unsigned read_features(void) {
    dv_cpuid_regs r = {0};
    unsigned eax, ebx, ecx, edx;
    unsigned max = __get_cpuid_max(0, 0);
    if (max < 1) return 0;
    __cpuid(1, eax, ebx, ecx, edx);
    r.leaf1_ecx = ecx;
    if (max >= 7) {
        __cpuid_count(7, 0, eax, ebx, ecx, edx);
        unsigned subleaves = eax;
        r.leaf7_ebx = ebx, r.leaf7_ecx = ecx, r.leaf7_edx = edx;
        if (subleaves >= 1) {
            __cpuid_count(7, 1, eax, ebx, ecx, edx);
            r.leaf7_1_eax = eax;
        }
    }
    if (r.leaf1_ecx & OSXSAVE) {
        uint32_t lo, hi; /* XGETBV(0) as raw asm: the intrinsic would need -mxsave */
        __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        r.xcr0 = ((uint64_t)hi << 32) | lo;
    }
    return dv_cpu_features_from(&r);
}
#else
static unsigned read_features(void) { return 0; }
#endif

#define KNOWN (1u << 31) /* set in the cache once the features were read */

unsigned dv_cpu_features(void) {
    static _Atomic unsigned cache;
    unsigned f = atomic_load_explicit(&cache, memory_order_relaxed);
    if (f & KNOWN) return f & ~KNOWN;
    f = read_features();
    atomic_store_explicit(&cache, f | KNOWN, memory_order_relaxed);
    return f;
}
