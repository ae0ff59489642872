/* stdlib.h -- freestanding subset: malloc/calloc/realloc/free over the
 * thread-safe allocator of wasm/libc/libc.c, abort (unreachable). */
#ifndef DVW_STDLIB_H
#define DVW_STDLIB_H
#include <stddef.h>
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
_Noreturn void abort(void);
#endif
