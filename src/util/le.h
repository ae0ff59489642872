/*
 * le.h -- little-endian loads and stores of 16/32/64-bit integers at any
 * alignment. Every byte format of deltavec (delta headers and payloads, the
 * stream container, snapshots, the wasm boundary's records) is
 * little-endian; these spell it out byte by byte, so the code is right on a
 * big-endian host too, and compilers turn them into single moves on
 * little-endian ones.
 */
#ifndef DV_UTIL_LE_H
#define DV_UTIL_LE_H

#include <stdint.h>

static inline void dv_st16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void dv_st32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void dv_st64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t dv_ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t dv_ld32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t dv_ld64(const uint8_t *p) {
    return (uint64_t)dv_ld32(p) | ((uint64_t)dv_ld32(p + 4) << 32);
}

#endif
