/*
 * cpu.h -- the spin-wait hint, in one place for every spinning loop of the
 * core (the db's reader-writer lock, the parallel applier's queues).
 *
 * dv_cpu_pause() tells the CPU the thread is spinning (x86 PAUSE, ARM
 * YIELD): it saves power and frees the pipeline for a sibling hyperthread.
 * Elsewhere (wasm32 included) it does nothing; callers bound their spins
 * and fall back to a yield or wait hook.
 */
#ifndef DV_UTIL_CPU_H
#define DV_UTIL_CPU_H

static inline void dv_cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
