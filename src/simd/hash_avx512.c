/*
 * hash_avx512.c -- xxhash's XXH3 streaming update compiled with -mavx512f
 * (the _avx512.c suffix), where xxhash.h picks its AVX-512 accumulate
 * loop: 1.2x its AVX2 loop on 4 KiB updates (bench_kernels, "xxh3"
 * rows). Called by hash.c only after dispatch.c has chosen the AVX-512
 * kernels (CPU and OS checked). The build defines XXH_INLINE_ALL, so this
 * file's copy of xxhash is private to it.
 */
#include <stddef.h>

#include "simd/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <xxhash.h>

void dv_xxh3_update_avx512(void *xxh3_state, const void *bytes, size_t len) {
    XXH3_64bits_update((XXH3_state_t *)xxh3_state, bytes, len);
}

#endif
