/*
 * cpu.h -- what the CPU offers: the spin-wait hint, and on x86-64 the
 * instruction-set extensions the CPU *and the operating system* support.
 *
 * dv_cpu_pause() tells the CPU the thread is spinning (x86 PAUSE, ARM
 * YIELD): it saves power and frees the pipeline for a sibling hyperthread.
 * Elsewhere (wasm32 included) it does nothing; callers bound their spins
 * and fall back to a yield or wait hook.
 *
 * dv_cpu_features() answers from CPUID and XGETBV (cpu.c). A CPU flag alone
 * is not enough: the OS must save the register state across context
 * switches, which it announces in XCR0 -- bits 1-2 (xmm, ymm) for AVX/AVX2,
 * and bits 5-7 (opmask k0-7, upper halves of zmm0-15, zmm16-31) for
 * AVX-512. A kernel using zmm registers on an OS that does not save them
 * would see them corrupted by any other process, so an AVX-512 flag is
 * reported only when XCR0 has all of 1, 2, 5, 6, 7 set.
 */
#ifndef DV_UTIL_CPU_H
#define DV_UTIL_CPU_H

#include <stdint.h>

static inline void dv_cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Feature bits of dv_cpu_features(). */
enum {
    DV_CPU_SSE41 = 1u << 0,
    DV_CPU_POPCNT = 1u << 1,
    DV_CPU_AVX2 = 1u << 2,    /* AVX2 with OS support of ymm state */
    DV_CPU_FMA = 1u << 3,     /* FMA3 with OS support of ymm state */
    DV_CPU_AVX512F = 1u << 4, /* every DV_CPU_AVX512* needs OS support of zmm + opmask state */
    DV_CPU_AVX512DQ = 1u << 5,
    DV_CPU_AVX512BW = 1u << 6,
    DV_CPU_AVX512VL = 1u << 7,
    DV_CPU_AVX512VNNI = 1u << 8,
    DV_CPU_AVX512BF16 = 1u << 9,
    DV_CPU_AVX512FP16 = 1u << 10,
};

/* The raw answers the features are computed from (x86 CPUID leaves 1 and 7,
 * XCR0), kept apart so the decision can be tested with made-up values. */
typedef struct dv_cpuid_regs {
    uint32_t leaf1_ecx;
    uint32_t leaf7_ebx, leaf7_ecx, leaf7_edx; /* leaf 7, subleaf 0 (0 if absent) */
    uint32_t leaf7_1_eax;                     /* leaf 7, subleaf 1 (0 if absent) */
    uint64_t xcr0;                            /* 0 unless leaf1_ecx has OSXSAVE */
} dv_cpuid_regs;

/* The DV_CPU_* bits these registers grant (pure). */
unsigned dv_cpu_features_from(const dv_cpuid_regs *r);
/* The DV_CPU_* bits of this CPU and OS, read once and cached; 0 off x86-64. */
unsigned dv_cpu_features(void);

#endif
