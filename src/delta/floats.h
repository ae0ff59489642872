/*
 * floats.h -- the float array codec used by delta payloads.
 *
 * A float array of n values (n known from context) is stored as
 *   u8 coding, then the data:
 *     coding bits 0-1: element type 0 = f32 (4n bytes), 1 = f16 (2n bytes),
 *                      2 = i8 (f32 min, f32 scale, then n u8: v = min + scale*q)
 *     bit 2: shuffled: the bytes of the f32/f16 elements are transposed into
 *            planes (plane k = byte k of every element, little-endian order)
 *     bit 3: xor: f32 bits are stored XOR the bits of the before-image
 *     bits 4-7: zero.
 * See docs/FORMAT.md for the full contract and the error bounds.
 */
#ifndef DV_DELTA_FLOATS_H
#define DV_DELTA_FLOATS_H

#include <stdint.h>
#include "delta/delta.h"
#include "delta/wire.h"

#define DV_FA_F32 0u
#define DV_FA_F16 1u
#define DV_FA_I8 2u
#define DV_FA_TYPE_MASK 0x03u
#define DV_FA_SHUFFLED 0x04u
#define DV_FA_XOR 0x08u

/* IEEE 754 binary16 conversions (round to nearest, ties to even). */
uint16_t dv_f32_to_f16(float f);
float dv_f16_to_f32(uint16_t h);

/* Worst-case encoded size of an array of n floats, any coding. */
size_t dv_fa_bound(uint32_t n);

/*
 * Writes v[0..n) with the requested lossy mode; falls back to f32 when the
 * values do not fit the mode (|v| > 65504 for f16, a range that overflows
 * for i8). xor_base (f32 only, ignored for lossy modes): store bits XOR
 * base bits. Returns the coding byte written.
 */
uint8_t dv_fa_write(dv_wr *w, const float *v, uint32_t n, dv_value_mode mode, int shuffle,
                    const float *xor_base);

/* Writes n raw bit patterns as an f32 array with the XOR bit (already XORed:
 * re-encoding a decoded DENSE_XOR delta). Returns the coding byte. */
uint8_t dv_fa_write_xor_bits(dv_wr *w, const uint32_t *bits, uint32_t n, int shuffle);

/* Reads an array of n floats into out; *coding receives the coding byte.
 * XOR is NOT resolved here (the caller owns the before-image). Errors are
 * left in r->err (DV_ECORRUPT for a bad coding byte or short input). */
void dv_fa_read(dv_rd *r, uint32_t n, float *out, uint8_t *coding);

/* 1 if all n values are finite. */
int dv_all_finite(const float *v, uint32_t n);

#endif
