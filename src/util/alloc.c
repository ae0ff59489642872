#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Large blocks (the node array, the slot table and the id map of a big db)
 * ask Linux for transparent huge pages over the 2 MiB-aligned part of the
 * block. Touching a fresh block then takes one fault per 2 MiB instead of
 * one per 4 KiB: loading a 1M x 128 snapshot otherwise spends about a
 * third of its time in page faults (docs/BENCH.md "Snapshots"), and
 * searches take fewer TLB misses. Advice only: without THP (or with it set
 * to "never") nothing changes, and a refusal is ignored. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_ALIGN ((uintptr_t)2 << 20)

static void advise_huge(void *p, size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size < HUGE_MIN) return;
    uintptr_t start = ((uintptr_t)p + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
    uintptr_t end = ((uintptr_t)p + size) & ~(HUGE_ALIGN - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)size;
#endif
}

/* The default allocator: libc malloc. It is the only reference to malloc in
 * the core; wasm builds over shared memory replace it via dv_allocator. */
static void *libc_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    (void)ctx;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, new_size);
    if (p) advise_huge(p, new_size);
    return p;
}

void dv_mem_init(dv_mem *m, const dv_allocator *user) {
    if (user && user->realloc) {
        m->a = *user;
    } else {
        m->a.realloc = libc_realloc;
        m->a.ctx = NULL;
    }
    m->live_bytes = 0;
}

void *dv_mem_alloc(dv_mem *m, size_t size) {
    if (size == 0) size = 1;
    void *p = m->a.realloc(m->a.ctx, NULL, 0, size);
    if (p) m->live_bytes += size;
    return p;
}

void *dv_mem_calloc(dv_mem *m, size_t count, size_t size) {
    size_t total = dv_mul_size(count, size);
    if (total == 0 && count != 0 && size != 0) return NULL;
    void *p = dv_mem_alloc(m, total);
    if (p) memset(p, 0, total ? total : 1);
    return p;
}

void *dv_mem_realloc(dv_mem *m, void *p, size_t old_size, size_t new_size) {
    if (p == NULL) return dv_mem_alloc(m, new_size);
    if (new_size == 0) {
        dv_mem_free(m, p, old_size);
        return NULL;
    }
    void *q = m->a.realloc(m->a.ctx, p, old_size, new_size);
    if (q) m->live_bytes = m->live_bytes - old_size + new_size;
    return q;
}

void dv_mem_free(dv_mem *m, void *p, size_t size) {
    if (!p) return;
    if (size == 0) size = 1;
    m->a.realloc(m->a.ctx, p, size, 0);
    m->live_bytes -= size;
}

size_t dv_mul_size(size_t a, size_t b) {
    if (a != 0 && b > (size_t)-1 / a) return 0;
    return a * b;
}
