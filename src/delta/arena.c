/*
 * arena.c -- bump allocator for decoded deltas (see delta.h).
 *
 * Invariant: memory handed out is never moved, so a decoded dv_delta can
 * keep pointers into several allocations. Blocks form a list, newest first;
 * reset frees all but the largest block and rewinds it, so a consumer that
 * decodes similar deltas in a loop stops allocating after the first few.
 */
#include <string.h>

#include "delta/delta.h"

struct dv_delta_arena_block {
    dv_delta_arena_block *next;
    size_t cap; /* usable bytes after the header */
    size_t used;
    /* data follows, 16-byte aligned */
};

#define BLOCK_HDR ((sizeof(dv_delta_arena_block) + 15u) & ~(size_t)15u)
#define MIN_BLOCK ((size_t)16 * 1024)

void dv_delta_arena_init(dv_delta_arena *a, dv_mem *mem) {
    a->mem = mem;
    a->head = NULL;
    a->bytes = 0;
}

static void free_block(dv_delta_arena *a, dv_delta_arena_block *b) {
    a->bytes -= BLOCK_HDR + b->cap;
    dv_mem_free(a->mem, b, BLOCK_HDR + b->cap);
}

void dv_delta_arena_free(dv_delta_arena *a) {
    dv_delta_arena_block *b = a->head;
    while (b) {
        dv_delta_arena_block *n = b->next;
        free_block(a, b);
        b = n;
    }
    a->head = NULL;
}

void dv_delta_arena_reset(dv_delta_arena *a) {
    dv_delta_arena_block *keep = NULL, *b = a->head;
    while (b) {
        dv_delta_arena_block *n = b->next;
        if (!keep || b->cap > keep->cap) {
            if (keep) free_block(a, keep);
            keep = b;
        } else {
            free_block(a, b);
        }
        b = n;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
}

void *dv_delta_arena_alloc(dv_delta_arena *a, size_t size) {
    if (size > ((size_t)-1 >> 2)) return NULL;
    size_t need = (size + 15u) & ~(size_t)15u;
    if (need == 0) need = 16;
    dv_delta_arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > MIN_BLOCK ? need : MIN_BLOCK;
        if (b && b->cap * 2 > cap && b->cap * 2 >= b->cap) cap = b->cap * 2; /* geometric growth */
        if (cap > need + ((size_t)64 << 20)) cap = need;                     /* but no huge waste */
        b = dv_mem_alloc(a->mem, BLOCK_HDR + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->cap = cap;
        b->used = 0;
        a->head = b;
        a->bytes += BLOCK_HDR + cap;
    }
    void *p = (uint8_t *)b + BLOCK_HDR + b->used;
    b->used += need;
    return p;
}
