/*
 * floats.c -- float array codec (see floats.h): f32 / f16 / affine-i8
 * elements, optional byte shuffle and XOR against a before-image.
 *
 * Why these: raw f32 bytes barely compress (the mantissa is noise); the
 * shuffle groups the sign/exponent bytes into one plane where LZ4 finds
 * runs; XOR against the old value zeroes the sign, exponent and top mantissa
 * bits of a slightly changed float, which turns the high planes into zeros.
 * f16 and i8 are the lossy modes for light replicas, with stated bounds.
 */
#include "delta/floats.h"
#include "simd/simd.h"

#include <xxhash.h>

/* No libm: the core must build freestanding for wasm32. */
static int finite_f32(float f) { return (dv_f32_bits(f) & 0x7F800000u) != 0x7F800000u; }

uint16_t dv_f32_to_f16(float f) {
    uint32_t x = dv_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) return (uint16_t)(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u : 0u));
    if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* >= 65520 rounds to infinity */
    if (ax >= 0x38800000u) {                                  /* normal half */
        uint32_t r = ax + 0xFFFu + ((ax >> 13) & 1u) - 0x38000000u;
        return (uint16_t)(sign | (r >> 13));
    }
    if (ax < 0x33000000u) return sign; /* <= 2^-25 rounds to zero */
    uint32_t e = ax >> 23, m = (ax & 0x7FFFFFu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14..24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

float dv_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    if (exp == 0) {
        float v = (float)man * 5.9604644775390625e-8f; /* exact: man * 2^-24 */
        return sign ? -v : v;
    }
    if (exp == 31) return dv_bits_f32(sign | 0x7F800000u | (man << 13));
    return dv_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

size_t dv_fa_bound(uint32_t n) {
    size_t a = (size_t)n * 4u, b = (size_t)n + 8u;
    return 1u + (a > b ? a : b);
}

int dv_all_finite(const float *v, uint32_t n) { return dv_all_finite_f32(v, n); }

static void put_f32(dv_wr *w, const float *v, uint32_t n, int shuffle, const float *xor_base) {
    if (!shuffle) {
        uint8_t *q = dv_wr_reserve(w, (size_t)n * 4u);
        if (!q) return;
        for (uint32_t i = 0; i < n; i++)
            dv_st32(q + 4 * (size_t)i, dv_f32_bits(v[i]) ^ (xor_base ? dv_f32_bits(xor_base[i]) : 0u));
        return;
    }
    uint8_t *q = dv_wr_reserve(w, (size_t)n * 4u);
    if (!q) return;
    /* One pass per byte plane over contiguous input and output, the XOR
     * choice outside the loops: each loop vectorizes. (Four strided stores
     * per element did not, and were a third of a dense-update capture.) */
    for (unsigned k = 0; k < 4; k++) {
        uint8_t *plane = q + (size_t)k * n;
        const unsigned sh = 8u * k;
        if (xor_base)
            for (uint32_t i = 0; i < n; i++)
                plane[i] = (uint8_t)((dv_f32_bits(v[i]) ^ dv_f32_bits(xor_base[i])) >> sh);
        else
            for (uint32_t i = 0; i < n; i++) plane[i] = (uint8_t)(dv_f32_bits(v[i]) >> sh);
    }
}

static int fits_f16(const float *v, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if ((dv_f32_bits(v[i]) & 0x7FFFFFFFu) >= 0x477FF000u) return 0; /* |v| >= 65520, Inf, NaN */
    return 1;
}

uint8_t dv_fa_write(dv_wr *w, const float *v, uint32_t n, dv_value_mode mode, int shuffle,
                    const float *xor_base) {
    if (mode == DV_VALUES_F16 && fits_f16(v, n)) {
        uint8_t coding = (uint8_t)(DV_FA_F16 | (shuffle ? DV_FA_SHUFFLED : 0u));
        dv_wr_u8(w, coding);
        uint8_t *q = dv_wr_reserve(w, (size_t)n * 2u);
        if (!q) return coding;
        for (uint32_t i = 0; i < n; i++) {
            uint16_t h = dv_f32_to_f16(v[i]);
            if (shuffle) {
                q[i] = (uint8_t)h;
                q[(size_t)n + i] = (uint8_t)(h >> 8);
            } else {
                dv_st16(q + 2 * (size_t)i, h);
            }
        }
        return coding;
    }
    if (mode == DV_VALUES_I8 && n > 0) {
        float lo = v[0], hi = v[0];
        for (uint32_t i = 1; i < n; i++) {
            if (v[i] < lo) lo = v[i];
            if (v[i] > hi) hi = v[i];
        }
        float scale = (hi - lo) / 255.0f;
        if (finite_f32(scale) && finite_f32(lo + scale * 255.0f)) {
            dv_wr_u8(w, (uint8_t)DV_FA_I8);
            dv_wr_u32le(w, dv_f32_bits(lo));
            dv_wr_u32le(w, dv_f32_bits(scale));
            uint8_t *q = dv_wr_reserve(w, n);
            if (!q) return DV_FA_I8;
            for (uint32_t i = 0; i < n; i++) {
                float t = scale > 0.0f ? (v[i] - lo) / scale : 0.0f;
                /* t is in [0, 255] up to rounding: round half up, clamp */
                q[i] = t <= 0.0f ? 0 : t >= 255.0f ? 255 : (uint8_t)(int)(t + 0.5f);
            }
            return DV_FA_I8;
        }
    }
    /* lossless f32 (also the fallback of the lossy modes) */
    int use_xor = xor_base != NULL && mode == DV_VALUES_F32;
    uint8_t coding = (uint8_t)(DV_FA_F32 | (shuffle ? DV_FA_SHUFFLED : 0u) | (use_xor ? DV_FA_XOR : 0u));
    dv_wr_u8(w, coding);
    put_f32(w, v, n, shuffle, use_xor ? xor_base : NULL);
    return coding;
}

uint8_t dv_fa_write_xor_bits(dv_wr *w, const uint32_t *bits, uint32_t n, int shuffle) {
    uint8_t coding = (uint8_t)(DV_FA_F32 | DV_FA_XOR | (shuffle ? DV_FA_SHUFFLED : 0u));
    dv_wr_u8(w, coding);
    uint8_t *q = dv_wr_reserve(w, (size_t)n * 4u);
    if (!q) return coding;
    if (!shuffle) {
        for (uint32_t i = 0; i < n; i++) dv_st32(q + 4 * (size_t)i, bits[i]);
        return coding;
    }
    for (unsigned k = 0; k < 4; k++)
        for (uint32_t i = 0; i < n; i++) q[(size_t)k * n + i] = (uint8_t)(bits[i] >> (8u * k));
    return coding;
}

void dv_fa_read(dv_rd *r, uint32_t n, float *out, uint8_t *coding) {
    uint8_t c = dv_rd_u8(r);
    *coding = c;
    if (r->err != DV_OK) return;
    unsigned type = c & DV_FA_TYPE_MASK;
    int shuffled = (c & DV_FA_SHUFFLED) != 0;
    if ((c & 0xF0u) || type == 3u || (type == DV_FA_I8 && (c & (DV_FA_SHUFFLED | DV_FA_XOR))) ||
        (type != DV_FA_F32 && (c & DV_FA_XOR))) {
        dv_rd_fail(r, DV_ECORRUPT);
        return;
    }
    if (type == DV_FA_F32) {
        const uint8_t *q = dv_rd_bytes(r, (size_t)n * 4u);
        if (!q) return;
        if (shuffled) {
            dv_unshuffle4(out, q, n); /* the floats' memory is their little-endian bytes (wire.h) */
        } else {
            for (uint32_t i = 0; i < n; i++) out[i] = dv_bits_f32(dv_ld32(q + 4 * (size_t)i));
        }
    } else if (type == DV_FA_F16) {
        const uint8_t *q = dv_rd_bytes(r, (size_t)n * 2u);
        if (!q) return;
        for (uint32_t i = 0; i < n; i++) {
            uint16_t h = shuffled ? (uint16_t)(q[i] | (q[(size_t)n + i] << 8)) : dv_ld16(q + 2 * (size_t)i);
            out[i] = dv_f16_to_f32(h);
        }
    } else {
        float lo = dv_bits_f32(dv_rd_u32le(r));
        float scale = dv_bits_f32(dv_rd_u32le(r));
        const uint8_t *q = dv_rd_bytes(r, n);
        if (!q) return;
        if (!finite_f32(lo) || !finite_f32(scale)) {
            dv_rd_fail(r, DV_ENONFINITE);
            return;
        }
        if (scale < 0.0f) { /* the encoder always stores min and a scale >= 0 */
            dv_rd_fail(r, DV_ECORRUPT);
            return;
        }
        for (uint32_t i = 0; i < n; i++) out[i] = lo + scale * (float)q[i];
    }
}

/* The hosts deltavec supports are little-endian (wire.h), so the values'
 * memory is their little-endian f32 bytes. */
uint64_t dv_delta_xor_base_hash(const float *v, uint32_t dim) { return XXH3_64bits(v, (size_t)dim * 4u); }
