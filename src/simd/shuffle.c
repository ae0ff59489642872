/*
 * shuffle.c -- dv_unshuffle4() (simd.h): four byte planes back into 32-bit
 * elements, the inverse of the float codec's byte shuffle (delta/floats.c).
 *
 * A transpose of 4 x 16 bytes is two rounds of interleaves (bytes, then
 * 16-bit pairs): eight instructions per 16 elements with SSE2 (the x86-64
 * baseline, so no dispatch) or SIMD128. The compiler's own vectorization
 * of the scalar loop widened every byte to 32 bits and shifted it into
 * place, four times the work; it was a seventh of the apply time of a batch
 * of dense updates.
 */
#include <string.h>

#include "simd/simd.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

void dv_unshuffle4(void *out, const uint8_t *planes, size_t n) {
    uint8_t *o = (uint8_t *)out;
    const uint8_t *q0 = planes, *q1 = planes + n, *q2 = planes + 2 * n, *q3 = planes + 3 * n;
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(q0 + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(q1 + i));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(q2 + i));
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(q3 + i));
        __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
        __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
        _mm_storeu_si128((__m128i *)(void *)(o + 4 * i), _mm_unpacklo_epi16(ab_lo, cd_lo));
        _mm_storeu_si128((__m128i *)(void *)(o + 4 * i + 16), _mm_unpackhi_epi16(ab_lo, cd_lo));
        _mm_storeu_si128((__m128i *)(void *)(o + 4 * i + 32), _mm_unpacklo_epi16(ab_hi, cd_hi));
        _mm_storeu_si128((__m128i *)(void *)(o + 4 * i + 48), _mm_unpackhi_epi16(ab_hi, cd_hi));
    }
#elif defined(__wasm_simd128__)
    for (; i + 16 <= n; i += 16) {
        v128_t a = wasm_v128_load(q0 + i), b = wasm_v128_load(q1 + i);
        v128_t c = wasm_v128_load(q2 + i), d = wasm_v128_load(q3 + i);
        v128_t ab_lo = wasm_i8x16_shuffle(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        v128_t ab_hi = wasm_i8x16_shuffle(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        v128_t cd_lo = wasm_i8x16_shuffle(c, d, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        v128_t cd_hi = wasm_i8x16_shuffle(c, d, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        wasm_v128_store(o + 4 * i, wasm_i16x8_shuffle(ab_lo, cd_lo, 0, 8, 1, 9, 2, 10, 3, 11));
        wasm_v128_store(o + 4 * i + 16, wasm_i16x8_shuffle(ab_lo, cd_lo, 4, 12, 5, 13, 6, 14, 7, 15));
        wasm_v128_store(o + 4 * i + 32, wasm_i16x8_shuffle(ab_hi, cd_hi, 0, 8, 1, 9, 2, 10, 3, 11));
        wasm_v128_store(o + 4 * i + 48, wasm_i16x8_shuffle(ab_hi, cd_hi, 4, 12, 5, 13, 6, 14, 7, 15));
    }
#endif
    for (; i < n; i++) { /* the elements' memory is little-endian, as on every host deltavec supports */
        uint8_t e[4] = {q0[i], q1[i], q2[i], q3[i]};
        memcpy(o + 4 * i, e, 4);
    }
}
