/*
 * hash.c -- dv_xxh3_update() (simd.h): xxhash's streaming XXH3 update,
 * through the AVX-512 or the AVX2 build of it (hash_avx512.c,
 * hash_avx2.c) when dispatch.c chose that kernel set, else the one this
 * file is compiled with. XXH3's result does not depend on the vector unit
 * that computed it.
 */
#include <xxhash.h>

#include "simd/kernels.h"

void dv_xxh3_update(void *xxh3_state, const void *bytes, size_t len) {
#if defined(__x86_64__) || defined(_M_X64)
    const dv_kernels *k = dv_kernels_best();
    if (k == &dv_kernels_avx512) {
        dv_xxh3_update_avx512(xxh3_state, bytes, len);
        return;
    }
    if (k == &dv_kernels_avx2) {
        dv_xxh3_update_avx2(xxh3_state, bytes, len);
        return;
    }
#endif
    XXH3_64bits_update((XXH3_state_t *)xxh3_state, bytes, len);
}
