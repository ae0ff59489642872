/*
 * wire.h -- bounds-checked reads and writes of delta bytes: LEB128 varints
 * and (through util/le.h) little-endian integers.
 *
 * Everything that reads delta bytes goes through dv_rd: a cursor that never
 * moves past its end. A failed read sets rd->err (first error wins) and
 * returns 0, so decoders can read a whole structure and test the error once
 * before trusting any of it -- but every count is still checked against the
 * bytes remaining BEFORE anything is allocated for it.
 *
 * Varints are unsigned LEB128, at most 5 bytes for 32-bit values and 10 for
 * 64-bit ones. Overlong encodings (a final byte of 0x00 after the first byte)
 * and values that overflow the target width are refused as DV_ECORRUPT: each
 * value has exactly one encoding, so equal deltas are equal bytes.
 */
#ifndef DV_DELTA_WIRE_H
#define DV_DELTA_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "deltavec.h"
#include "util/le.h"

static inline uint32_t dv_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float dv_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- reader ---- */
typedef struct dv_rd {
    const uint8_t *p;
    size_t len, pos;
    dv_status err;
} dv_rd;

static inline void dv_rd_init(dv_rd *r, const uint8_t *p, size_t len) {
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = DV_OK;
}
static inline size_t dv_rd_left(const dv_rd *r) { return r->len - r->pos; }
static inline void dv_rd_fail(dv_rd *r, dv_status s) {
    if (r->err == DV_OK) r->err = s;
}
/* Pointer to the next n bytes, consumed; NULL (and err) if fewer remain. */
static inline const uint8_t *dv_rd_bytes(dv_rd *r, size_t n) {
    if (r->err != DV_OK) return NULL;
    if (n > r->len - r->pos) {
        dv_rd_fail(r, DV_ECORRUPT);
        return NULL;
    }
    const uint8_t *q = r->p + r->pos;
    r->pos += n;
    return q;
}
static inline uint8_t dv_rd_u8(dv_rd *r) {
    const uint8_t *q = dv_rd_bytes(r, 1);
    return q ? q[0] : 0;
}
static inline uint32_t dv_rd_u32le(dv_rd *r) {
    const uint8_t *q = dv_rd_bytes(r, 4);
    return q ? dv_ld32(q) : 0;
}
static inline uint64_t dv_rd_varint64(dv_rd *r, unsigned max_bytes, uint64_t max_value) {
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes; i++) {
        const uint8_t *q = dv_rd_bytes(r, 1);
        if (!q) return 0;
        uint8_t b = q[0];
        uint64_t part = (uint64_t)(b & 0x7F);
        if (i == 9 && part > 1) break; /* bits beyond 64 */
        v |= part << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0) break; /* overlong */
            if (v > max_value) break;   /* overflow of the target */
            return v;
        }
    }
    dv_rd_fail(r, DV_ECORRUPT);
    return 0;
}
static inline uint32_t dv_rd_varint(dv_rd *r) { return (uint32_t)dv_rd_varint64(r, 5, UINT32_MAX); }

/* ---- writer: counts what it cannot store; check w->overflow at the end ---- */
typedef struct dv_wr {
    uint8_t *p;
    size_t cap, len;
    int overflow;
} dv_wr;

static inline void dv_wr_init(dv_wr *w, uint8_t *p, size_t cap) {
    w->p = p;
    w->cap = p ? cap : 0;
    w->len = 0;
    w->overflow = 0;
}
static inline uint8_t *dv_wr_reserve(dv_wr *w, size_t n) {
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = 1;
        return NULL;
    }
    uint8_t *q = w->p + w->len;
    w->len += n;
    return q;
}
static inline void dv_wr_u8(dv_wr *w, uint8_t v) {
    uint8_t *q = dv_wr_reserve(w, 1);
    if (q) q[0] = v;
}
static inline void dv_wr_bytes(dv_wr *w, const void *src, size_t n) {
    uint8_t *q = dv_wr_reserve(w, n);
    if (q && n) memcpy(q, src, n);
}
static inline void dv_wr_u32le(dv_wr *w, uint32_t v) {
    uint8_t *q = dv_wr_reserve(w, 4);
    if (q) dv_st32(q, v);
}
static inline size_t dv_varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
static inline size_t dv_varint_put(uint8_t *q, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        q[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    q[n++] = (uint8_t)v;
    return n;
}
static inline void dv_wr_varint(dv_wr *w, uint64_t v) {
    uint8_t *q = dv_wr_reserve(w, dv_varint_len(v));
    if (q) dv_varint_put(q, v);
}

#endif
