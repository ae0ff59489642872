/*
 * heap.h -- the binary heaps and the small sort of the HNSW searches
 * (hnsw.c, filtered.c): a min-heap of candidates and a max-heap of results
 * over dv_heap_item, kept inline because they are the inner loop.
 * Private to src/db.
 */
#ifndef DV_DB_HEAP_H
#define DV_DB_HEAP_H

#include "db/db_internal.h"

static inline void minheap_push(dv_heap_item *h, uint32_t *n, float d, uint32_t id) {
    uint32_t i = (*n)++;
    while (i > 0) {
        uint32_t p = (i - 1) >> 1;
        if (h[p].d <= d) break;
        h[i] = h[p];
        i = p;
    }
    h[i].d = d;
    h[i].id = id;
}

static inline void minheap_pop(dv_heap_item *h, uint32_t *n) {
    dv_heap_item last = h[--(*n)];
    uint32_t i = 0, m = *n;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1].d < h[c].d) c++;
        if (last.d <= h[c].d) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
}

static inline void maxheap_push(dv_heap_item *h, uint32_t *n, float d, uint32_t id) {
    uint32_t i = (*n)++;
    while (i > 0) {
        uint32_t p = (i - 1) >> 1;
        if (h[p].d >= d) break;
        h[i] = h[p];
        i = p;
    }
    h[i].d = d;
    h[i].id = id;
}

static inline void maxheap_pop(dv_heap_item *h, uint32_t *n) {
    dv_heap_item last = h[--(*n)];
    uint32_t i = 0, m = *n;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1].d > h[c].d) c++;
        if (last.d >= h[c].d) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
}

/* Sorts by (d, id); input is usually nearly sorted (insertion sort). */
static inline void sort_items(dv_heap_item *a, uint32_t n) {
    for (uint32_t i = 1; i < n; i++) {
        dv_heap_item x = a[i];
        uint32_t j = i;
        while (j > 0 && (a[j - 1].d > x.d || (a[j - 1].d == x.d && a[j - 1].id > x.id))) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

#endif
