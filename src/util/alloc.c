#define _GNU_SOURCE /* madvise, MADV_HUGEPAGE, mremap */
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

/* Large blocks (the node array, the slot table and the id map of a big db)
 * ask Linux for transparent huge pages over the 2 MiB-aligned part of the
 * block. Touching a fresh block then takes one fault per 2 MiB instead of
 * one per 4 KiB: loading a 1M x 128 snapshot otherwise spends about a
 * third of its time in page faults (docs/BENCH.md "Snapshots"), and
 * searches take fewer TLB misses. Advice only: without THP (or with it set
 * to "never") nothing changes, and a refusal is ignored. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_ALIGN ((uintptr_t)DV_HUGE_PAGE_BYTES)

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

/* ---- big blocks: the store's arrays ------------------------------------------------ *
 * With the default allocator on Linux, a block of BIG_MIN bytes or more
 * that dv_mem_realloc_big grows is an anonymous mapping of its own, which
 * mremap enlarges in place or moves by its page tables. realloc gave the
 * same only for blocks glibc happened to map: after a process has freed a
 * large mapped block, glibc raises its mapping threshold (up to 32 MiB) and
 * serves the next ones from the heap, where growing copies the whole array
 * into fresh pages (perf: a third of a growing replica's apply time in
 * bench_apply_parallel, and a 20 ms stall per growth of a 100,000-vector
 * store). Whether a block is mapped follows from its size alone, so the
 * exact sizes this API requires are all it needs. The sanitizer builds keep
 * malloc (their allocators track every block). */
#if defined(__linux__) && defined(MREMAP_MAYMOVE) && !defined(__SANITIZE_ADDRESS__) &&                       \
    !defined(__SANITIZE_THREAD__)
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define DV_BIG_MAPPED 0
#endif
#endif
#ifndef DV_BIG_MAPPED
#define DV_BIG_MAPPED 1
#endif
#else
#define DV_BIG_MAPPED 0
#endif

#if DV_BIG_MAPPED
#define BIG_MIN HUGE_MIN

/* n rounded up to whole pages, 0 on overflow. Asked each time (only a big
 * block's resize calls it): a cached value would be shared by threads. */
static size_t page_round(size_t n) {
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    return n > (size_t)-1 - page ? 0 : (n + page - 1) & ~(page - 1);
}

/* The whole mapping, not its 2 MiB-aligned part as advise_huge does: advice
 * on part of a mapping splits it in two, and mremap refuses a range that
 * spans more than one (EFAULT). The kernel backs the aligned parts. */
static void advise_mapping(void *p, size_t len) {
#if defined(MADV_HUGEPAGE)
    (void)madvise(p, len, MADV_HUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

static _Atomic size_t big_mapped; /* bytes, of every big block in the process */

static void count_mapped(size_t add, size_t sub) {
    if (add) atomic_fetch_add_explicit(&big_mapped, add, memory_order_relaxed);
    if (sub) atomic_fetch_sub_explicit(&big_mapped, sub, memory_order_relaxed);
}

/* len bytes of fresh mapping that start on a 2 MiB boundary (len + 2 MiB
 * are mapped, the two ends given back). The kernel backs a huge page only
 * where a whole aligned 2 MiB range lies in the mapping, and a mapping
 * that mremap moves keeps its huge pages only when the old and new
 * addresses share their offset in a 2 MiB page (else they are split to
 * 4 KiB ones): at an arbitrary start, a growing store took one fault per
 * 4 KiB of new vectors (31-39 per batch of 100 inserts at dim 384). */
static void *map_aligned(size_t len) {
    if (len > (size_t)-1 - HUGE_ALIGN) return NULL;
    size_t span = len + HUGE_ALIGN;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)p + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
    size_t head = (size_t)(a - (uintptr_t)p), tail = span - head - len;
    if (head) munmap(p, head);
    if (tail) munmap((char *)a + len, tail);
    return (void *)a;
}

static void *map_block(size_t size) {
    size_t len = page_round(size);
    if (!len) return NULL;
    void *p = map_aligned(len);
    if (!p) return NULL;
    advise_mapping(p, len);
    count_mapped(len, 0);
    return p;
}

/* Resizes a big block's mapping: in place when the addresses after it are
 * free (or it shrinks), else moved by its page tables to a fresh 2 MiB
 * aligned range (map_aligned), which MREMAP_FIXED replaces. */
static void *remap_block(void *p, size_t old_len, size_t new_len) {
    void *q = mremap(p, old_len, new_len, 0);
    if (q != MAP_FAILED) return q;
    void *dst = map_aligned(new_len);
    if (!dst) return NULL;
    q = mremap(p, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    if (q == MAP_FAILED) {
        munmap(dst, new_len);
        return NULL;
    }
    return q;
}

/* The default allocator's realloc for a block whose sizes may be mapped. */
static void *big_realloc(void *p, size_t old_size, size_t new_size) {
    int old_mapped = p && old_size >= BIG_MIN, new_mapped = new_size >= BIG_MIN;
    if (!old_mapped && !new_mapped) return libc_realloc(NULL, p, old_size, new_size);
    if (old_mapped && new_size == 0) {
        munmap(p, page_round(old_size));
        count_mapped(0, page_round(old_size));
        return NULL;
    }
    if (old_mapped && new_mapped) {
        void *q = remap_block(p, page_round(old_size), page_round(new_size));
        if (!q) return NULL; /* the old mapping is untouched */
        count_mapped(page_round(new_size), page_round(old_size));
        return q; /* the advice moves and grows with the mapping */
    }
    /* crossing BIG_MIN: a new block of the other kind, the bytes copied once */
    void *q = new_mapped ? map_block(new_size) : malloc(new_size);
    if (!q) return NULL;
    if (p) memcpy(q, p, old_size < new_size ? old_size : new_size);
    if (old_mapped) {
        munmap(p, page_round(old_size));
        count_mapped(0, page_round(old_size));
    } else
        free(p);
    return q;
}
#endif

void *dv_mem_realloc_big(dv_mem *m, void *p, size_t old_size, size_t new_size) {
#if DV_BIG_MAPPED
    if (m->a.realloc == libc_realloc) {
        if (!p) old_size = 0;
        void *q = big_realloc(p, old_size, new_size);
        if (q || new_size == 0) m->live_bytes = m->live_bytes - old_size + new_size;
        return q;
    }
#endif
    if (new_size == 0) {
        dv_mem_free(m, p, old_size);
        return NULL;
    }
    return dv_mem_realloc(m, p, old_size, new_size);
}

void dv_mem_free_big(dv_mem *m, void *p, size_t size) {
    if (p) (void)dv_mem_realloc_big(m, p, size, 0);
}

size_t dv_mem_big_mapped_bytes(void) {
#if DV_BIG_MAPPED
    return atomic_load_explicit(&big_mapped, memory_order_relaxed);
#else
    return 0;
#endif
}

int dv_mem_big_blocks_are_mapped(void) { return DV_BIG_MAPPED; }

size_t dv_mul_size(size_t a, size_t b) {
    if (a != 0 && b > (size_t)-1 / a) return 0;
    return a * b;
}
