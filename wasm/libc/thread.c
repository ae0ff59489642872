/*
 * thread.c -- per-instance setup for deltavec-mt.wasm, and a trivial
 * parallel job that proves N instances can work on one shared memory.
 *
 * Every instance of a module starts with the same __stack_pointer value
 * (the linker's stack), and with __tls_base unset. Instance 0 (the one that
 * created the memory) keeps the linker's stack; before a worker instance
 * calls anything else it must call dvw_thread_init(stack_top, tls_block)
 * with a stack and a TLS block allocated for it (dvw_alloc from instance 0;
 * sizes from dvw_tls_size/dvw_tls_align). Without that, two instances push
 * frames onto the same stack and results are silently wrong.
 *
 * The job: rows [0, n) of a row-major float matrix against one query.
 * Workers claim chunks of `chunk` rows with an atomic fetch-add on a shared
 * counter (so work spreads over however many workers run), write each
 * distance to out[row] and add their row count to done; the dispatcher
 * waits until done == n. Distances go through dv_l2sq (SIMD128 kernels).
 */
#include <stdatomic.h>
#include <stdint.h>

#include "simd/simd.h"

#define DVW_EXPORT __attribute__((visibility("default")))

extern void __wasm_init_tls(void *mem);

extern atomic_int dvw_heap_frozen; /* wasm/libc/libc.c: no memory.grow once set */

/* Must not use the shadow stack itself: it only moves __stack_pointer.
 * A second instance on the memory freezes the heap size (libc.c says why). */
DVW_EXPORT void dvw_thread_init(void *stack_top, void *tls) {
    __asm__ volatile(".globaltype __stack_pointer, i32\n\t"
                     "local.get %0\n\t"
                     "global.set __stack_pointer" ::"r"(stack_top));
    if (tls) __wasm_init_tls(tls);
    atomic_store(&dvw_heap_frozen, 1);
}

DVW_EXPORT uint32_t dvw_tls_size(void) { return (uint32_t)__builtin_wasm_tls_size(); }
DVW_EXPORT uint32_t dvw_tls_align(void) { return (uint32_t)__builtin_wasm_tls_align(); }

/* Shared job descriptor (all fields written by the dispatcher before start). */
typedef struct dvw_l2_job {
    const float *rows;
    const float *query;
    float *out;
    uint32_t dim;
    uint32_t n;
    uint32_t chunk;
    atomic_uint next;    /* next unclaimed row */
    atomic_uint done;    /* rows finished */
    atomic_uint workers; /* workers that took part */
} dvw_l2_job;

DVW_EXPORT uint32_t dvw_l2_job_size(void) { return (uint32_t)sizeof(dvw_l2_job); }

DVW_EXPORT void dvw_l2_job_init(dvw_l2_job *j, const float *rows, const float *query, float *out,
                                uint32_t dim, uint32_t n, uint32_t chunk) {
    j->rows = rows;
    j->query = query;
    j->out = out;
    j->dim = dim;
    j->n = n;
    j->chunk = chunk ? chunk : 64;
    atomic_init(&j->next, 0);
    atomic_init(&j->done, 0);
    atomic_init(&j->workers, 0);
}

/* Runs claimed chunks until none are left; returns the rows this caller did. */
DVW_EXPORT uint32_t dvw_l2_job_run(dvw_l2_job *j) {
    uint32_t mine = 0;
    atomic_fetch_add(&j->workers, 1);
    for (;;) {
        uint32_t b = atomic_fetch_add(&j->next, j->chunk);
        if (b >= j->n) break;
        uint32_t e = b + j->chunk < j->n ? b + j->chunk : j->n;
        for (uint32_t r = b; r < e; r++) j->out[r] = dv_l2sq(j->rows + (size_t)r * j->dim, j->query, j->dim);
        mine += e - b;
        uint32_t d = atomic_fetch_add(&j->done, e - b) + (e - b);
        if (d == j->n) __builtin_wasm_memory_atomic_notify((int *)&j->done, 0xffffffffu);
    }
    return mine;
}

DVW_EXPORT uint32_t dvw_l2_job_done(dvw_l2_job *j) { return atomic_load(&j->done); }
DVW_EXPORT uint32_t dvw_l2_job_workers(dvw_l2_job *j) { return atomic_load(&j->workers); }
