/* string.h -- the libc subset the deltavec core uses, for the freestanding
 * shared-memory wasm build (wasm/libc/libc.c implements it). */
#ifndef DVW_STRING_H
#define DVW_STRING_H
#include <stddef.h>
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
#endif
