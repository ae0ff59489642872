/*
 * kernels_sse.c -- SSE kernels (x86-64, up to SSE4.1), 4 floats per vector.
 *
 * Built with -msse4.1 (CMake, by the _sse.c suffix); dispatch.c only picks
 * it when the CPU reports sse4.1 and lacks AVX2+FMA.
 *
 * Reductions keep four independent 4-wide accumulators over a 16-float
 * body (no FMA here: mul + add), then a 4-wide loop, then a scalar tail of
 * 0..3 floats. The summation order differs from scalar (agreement within
 * float rounding).
 *
 * diff is exact: same subtraction and |.| as scalar, ordered greater-than
 * (false for NaN), and the set lanes compressed with pshufb from a 16-entry
 * table. The 4-lane store at idx_out + k stays in bounds since k <= i and
 * i + 4 <= n. scatter/gather have no SSE instructions: unrolled scalar
 * loads/stores in index order (later duplicate wins, as in scalar).
 */
#include "simd/kernels.h"
#include "simd/scatter_stores.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <smmintrin.h>

static inline float hsum128(__m128 v) {
    __m128 sh = _mm_movehdup_ps(v);
    __m128 s = _mm_add_ps(v, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}

static float sse_l2sq(const float *a, const float *b, size_t n) {
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(), s3 = _mm_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128 d0 = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
        __m128 d1 = _mm_sub_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4));
        __m128 d2 = _mm_sub_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8));
        __m128 d3 = _mm_sub_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12));
        s0 = _mm_add_ps(s0, _mm_mul_ps(d0, d0));
        s1 = _mm_add_ps(s1, _mm_mul_ps(d1, d1));
        s2 = _mm_add_ps(s2, _mm_mul_ps(d2, d2));
        s3 = _mm_add_ps(s3, _mm_mul_ps(d3, d3));
    }
    for (; i + 4 <= n; i += 4) {
        __m128 d = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
        s0 = _mm_add_ps(s0, _mm_mul_ps(d, d));
    }
    float s = hsum128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

static float sse_dot(const float *a, const float *b, size_t n) {
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(), s3 = _mm_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
        s2 = _mm_add_ps(s2, _mm_mul_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8)));
        s3 = _mm_add_ps(s3, _mm_mul_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12)));
    }
    for (; i + 4 <= n; i += 4) s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
    float s = hsum128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Bits set in a 4-bit mask. __builtin_popcount would be a libgcc call
 * here: -mavx2/-msse4.1 do not enable POPCNT. */
static const uint8_t popcount4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

/* compress_lut[m]: pshufb control moving the 32-bit lanes set in m to the front. */
static const int8_t compress_lut[16][16] = {
    {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, -128, -128, -128, -128, -128, -128, -128, -128},
    {8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, 8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -128, -128, -128, -128},
    {12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, -128, -128, -128, -128},
    {8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128},
    {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
};

static size_t sse_diff(const float *old_v, const float *new_v, size_t n, float eps, uint32_t *idx_out) {
    const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    const __m128 veps = _mm_set1_ps(eps);
    const __m128i four = _mm_set1_epi32(4);
    __m128i lanes = _mm_setr_epi32(0, 1, 2, 3);
    size_t k = 0, i = 0;
    for (; i + 4 <= n; i += 4, lanes = _mm_add_epi32(lanes, four)) {
        __m128 d = _mm_sub_ps(_mm_loadu_ps(new_v + i), _mm_loadu_ps(old_v + i));
        unsigned m = (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(_mm_and_ps(d, absmask), veps));
        if (m == 0) continue;
        __m128i ctl = _mm_loadu_si128((const __m128i *)compress_lut[m]);
        _mm_storeu_si128((__m128i *)(idx_out + k), _mm_shuffle_epi8(lanes, ctl));
        k += (size_t)(popcount4[m]);
    }
    for (; i < n; i++)
        if (__builtin_fabsf(new_v[i] - old_v[i]) > eps) idx_out[k++] = (uint32_t)i;
    return k;
}

static void sse_gather(float *out, const float *src, const uint32_t *idx, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_setr_ps(src[idx[i]], src[idx[i + 1]], src[idx[i + 2]], src[idx[i + 3]]);
        _mm_storeu_ps(out + i, v);
    }
    for (; i < n; i++) out[i] = src[idx[i]];
}

const dv_kernels dv_kernels_sse = {
    "sse", sse_l2sq, sse_dot, sse_diff, dv_scatter_stores, sse_gather,
};

#endif /* x86-64 */
