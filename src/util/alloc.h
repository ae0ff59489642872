/*
 * alloc.h -- every allocation of the core goes through a dv_allocator.
 *
 * Why: the same core runs natively (malloc) and inside shared WebAssembly
 * memory where wasi-libc's malloc cannot be linked; there our own
 * thread-safe allocator is passed in. So src/db, src/delta, src/ring,
 * src/capture and src/apply never call malloc directly.
 *
 * The wrapper also counts live bytes per allocator handle, which is how
 * dv_db_memory_usage() is exact without walking structures.
 */
#ifndef DV_UTIL_ALLOC_H
#define DV_UTIL_ALLOC_H

#include <stddef.h>
#include "deltavec.h"

typedef struct dv_mem {
    dv_allocator a;    /* resolved: never has a NULL realloc */
    size_t live_bytes; /* bytes currently allocated through this handle */
} dv_mem;

/* Resolves a user allocator (NULL = malloc) into m. */
void dv_mem_init(dv_mem *m, const dv_allocator *user);

/* Allocate / resize / free. Sizes must be passed back exactly on free/realloc. */
void *dv_mem_alloc(dv_mem *m, size_t size);
void *dv_mem_calloc(dv_mem *m, size_t count, size_t size); /* zeroed, overflow-checked */
void *dv_mem_realloc(dv_mem *m, void *p, size_t old_size, size_t new_size);
void dv_mem_free(dv_mem *m, void *p, size_t size);

/* The same for large arrays that grow (the store's nodes and slot infos):
 * with the default allocator on Linux, a block of 4 MiB or more is a
 * mapping of its own that grows without being copied. A block must be
 * resized and freed only through these two, with its exact size. */
void *dv_mem_realloc_big(dv_mem *m, void *p, size_t old_size, size_t new_size);
void dv_mem_free_big(dv_mem *m, void *p, size_t size);

/* Bytes of the mappings those big blocks hold now, in the whole process
 * (0 where blocks are never mapped). malloc's own statistics (mallinfo2) do
 * not see them: a heap measure adds this (bench_hnsw). */
size_t dv_mem_big_mapped_bytes(void);
int dv_mem_big_blocks_are_mapped(void); /* 1 in builds where big blocks are mappings */
/* A transparent huge page: a big block's mapping starts on this boundary,
 * and the kernel backs a whole aligned range of it with one page. */
#define DV_HUGE_PAGE_BYTES ((size_t)2 << 20)

/* Overflow-checked a*b; returns 0 on overflow (callers treat 0 as failure). */
size_t dv_mul_size(size_t a, size_t b);

#endif
