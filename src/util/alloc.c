#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

/* The default allocator: libc malloc. It is the only reference to malloc in
 * the core; wasm builds over shared memory replace it via dv_allocator. */
static void *libc_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    (void)ctx;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
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
