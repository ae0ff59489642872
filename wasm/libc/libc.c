/*
 * libc.c -- the libc subset of the freestanding shared-memory build
 * (deltavec-mt.wasm), where wasi-libc cannot be linked: Debian ships no
 * threads variant and its dlmalloc is not built with atomics.
 *
 * Allocator: segregated power-of-two size classes (16 B .. 1 GiB) with one
 * LIFO free list per class, carved by a bump pointer from __heap_base and
 * grown with memory.grow. Every block carries a 16-byte header holding its
 * class, so free() needs no size and blocks stay 16-byte aligned (what
 * dv_allocator promises). One spinlock (a C11 atomic in shared memory)
 * serialises malloc/free across all instances on the memory: allocation is
 * rare on the hot paths of the core (arenas, preallocated stores), and a
 * spinlock is the only lock usable on a browser main thread, which may not
 * block with memory.atomic.wait. Freed blocks are reused for the same class
 * only; memory is never returned (wasm memory cannot shrink).
 *
 * log() is NOT here: the build links musl's log.o from wasi-libc's libc.a
 * so levels (-log(u) * mult) round exactly as in the wasi builds.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DVW_EXPORT __attribute__((visibility("default")))

/* ---- mem* / str* -------------------------------------------------------- */

/* With -mbulk-memory these builtins lower to memory.copy / memory.fill, so
 * they do not recurse into memcpy/memset. */
void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    __builtin_memcpy(d, s, n);
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    __builtin_memmove(d, s, n);
    return d;
}
void *memset(void *d, int c, size_t n) {
    __builtin_memset(d, c, n);
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
size_t strlen(const char *s) {
    const char *p = s;
    while (*p) p++;
    return (size_t)(p - s);
}
int strcmp(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}
int strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
        if (!*a) return 0;
    }
    return 0;
}
char *strchr(const char *s, int c) {
    for (;; s++) {
        if (*s == (char)c) return (char *)s;
        if (!*s) return NULL;
    }
}
_Noreturn void abort(void) { __builtin_trap(); }

/* ---- allocator ---------------------------------------------------------- */

#define HDR 16u
#define MIN_SHIFT 4u /* class 0 = 16 bytes (header included) */
#define N_CLASSES 27u

extern unsigned char __heap_base;

typedef struct free_block {
    struct free_block *next;
} free_block;

static atomic_int heap_lock;
static uintptr_t heap_top; /* bump pointer; 0 until first use */
static free_block *free_list[N_CLASSES];
static size_t heap_live; /* bytes in live blocks (class sizes) */

static void lock(void) {
    while (atomic_exchange_explicit(&heap_lock, 1, memory_order_acquire)) {
        while (atomic_load_explicit(&heap_lock, memory_order_relaxed)) {
        }
    }
}
static void unlock(void) { atomic_store_explicit(&heap_lock, 0, memory_order_release); }

static unsigned class_of(size_t total) {
    unsigned c = 0;
    while (((size_t)1 << (c + MIN_SHIFT)) < total) c++;
    return c;
}

/* Set by dvw_thread_init (wasm/libc/thread.c) when a second instance joins
 * the memory. From then on the heap never grows: in V8 (Node 20, Chromium)
 * a memory.grow by one thread reaches the other threads' instances only
 * later (at their next interrupt check), and until then their explicitly
 * bounds-checked accesses -- atomics and memory.copy/fill, which the core
 * uses -- trap with "memory access out of bounds" on the new pages. Plain
 * loads and stores do not (guard pages). js/test/grow-race.test.js shows the
 * trap; docs/WASM.md has the measurements. So the memory is sized when it is
 * created (js/src/pool.js) and malloc returns NULL -- DV_ENOMEM in the core
 * -- when it is full, instead of trapping at random elsewhere. */
atomic_int dvw_heap_frozen;

/* Takes `size` bytes at the bump pointer, growing memory if needed and
 * still allowed. Lock held. */
static void *bump(size_t size) {
    if (!heap_top) heap_top = ((uintptr_t)&__heap_base + 15u) & ~(uintptr_t)15u;
    uintptr_t end = heap_top + size;
    if (end < heap_top) return NULL;
    uintptr_t have = (uintptr_t)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        if (atomic_load(&dvw_heap_frozen)) return NULL;
        size_t pages = (size_t)((end - have + 65535u) / 65536u);
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
    }
    void *p = (void *)heap_top;
    heap_top = end;
    return p;
}

void *malloc(size_t n) {
    if (n > ((size_t)1 << (N_CLASSES - 1 + MIN_SHIFT)) - HDR) return NULL;
    unsigned c = class_of(n + HDR);
    size_t size = (size_t)1 << (c + MIN_SHIFT);
    lock();
    unsigned char *b = (unsigned char *)free_list[c];
    if (b) {
        free_list[c] = ((free_block *)b)->next;
    } else {
        b = bump(size);
    }
    if (b) heap_live += size;
    unlock();
    if (!b) return NULL;
    *(uint32_t *)b = c;
    return b + HDR;
}

void free(void *p) {
    if (!p) return;
    unsigned char *b = (unsigned char *)p - HDR;
    unsigned c = *(uint32_t *)b;
    lock();
    ((free_block *)b)->next = free_list[c];
    free_list[c] = (free_block *)b;
    heap_live -= (size_t)1 << (c + MIN_SHIFT);
    unlock();
}

void *calloc(size_t n, size_t size) {
    if (size && n > (size_t)-1 / size) return NULL;
    void *p = malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    unsigned c = *(uint32_t *)((unsigned char *)p - HDR);
    size_t cap = ((size_t)1 << (c + MIN_SHIFT)) - HDR;
    if (n <= cap) return p;
    void *q = malloc(n);
    if (!q) return NULL;
    memcpy(q, p, cap);
    free(p);
    return q;
}

/* out[0] = bytes in live blocks, out[1] = bump pointer (high-water of the heap). */
DVW_EXPORT void dvw_heap_stats(uint32_t *out) {
    lock();
    out[0] = (uint32_t)heap_live;
    out[1] = (uint32_t)heap_top;
    unlock();
}
