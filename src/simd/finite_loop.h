/*
 * finite_loop.h -- the body of dv_all_finite_f32 (finite.c), included by
 * each file that builds it for one ISA. Branch-free, no early exit, so the
 * compiler vectorizes it for the file's target: the answer is almost
 * always "all finite", and then every value is read anyway.
 */
#ifndef DV_SIMD_FINITE_LOOP_H
#define DV_SIMD_FINITE_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline int dv_finite_loop(const float *v, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &v[i], 4);
        bad |= (uint32_t)((b & 0x7F800000u) == 0x7F800000u);
    }
    return !bad;
}

#endif
