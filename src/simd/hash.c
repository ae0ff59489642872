/*
 * hash.c -- dv_xxh3_update() (simd.h): xxhash's streaming XXH3 update,
 * through the AVX2 build of it (hash_avx2.c) when dispatch.c chose the
 * AVX2 or the AVX-512 kernels (the AVX-512 set implies AVX2), else the
 * one this file is compiled with. XXH3's result does not depend on the
 * vector unit that computed it.
 */
#include <xxhash.h>

#include "simd/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
void dv_xxh3_update_avx2(void *xxh3_state, const void *bytes, size_t len); /* hash_avx2.c */
#endif

void dv_xxh3_update(void *xxh3_state, const void *bytes, size_t len) {
#if defined(__x86_64__) || defined(_M_X64)
    const dv_kernels *k = dv_kernels_best();
    if (k == &dv_kernels_avx2 || k == &dv_kernels_avx512) {
        dv_xxh3_update_avx2(xxh3_state, bytes, len);
        return;
    }
#endif
    XXH3_64bits_update((XXH3_state_t *)xxh3_state, bytes, len);
}
