/*
 * text.h -- a tiny bounded string builder for messages in the core, which
 * has no stdio (it must build freestanding for wasm). Output is truncated
 * to the buffer and always NUL-terminated when cap > 0.
 */
#ifndef DV_UTIL_TEXT_H
#define DV_UTIL_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dv_text {
    char *buf;
    size_t cap, len; /* len counts what would have been written */
} dv_text;

void dv_text_init(dv_text *t, char *buf, size_t cap);
void dv_text_put(dv_text *t, const char *s);
void dv_text_u64(dv_text *t, uint64_t v);
void dv_text_hex(dv_text *t, uint64_t v, int digits);

#endif
