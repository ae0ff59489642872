/*
 * hash_avx2.c -- xxhash's XXH3 streaming update compiled with -mavx2 (the
 * _avx2.c suffix), where xxhash.h picks its AVX2 accumulate loop. Called
 * by hash.c only after dispatch.c has seen AVX2 at run time. The build
 * defines XXH_INLINE_ALL, so this file's copy of xxhash is private to it.
 */
#include <stddef.h>

#include "simd/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <xxhash.h>

void dv_xxh3_update_avx2(void *xxh3_state, const void *bytes, size_t len) {
    XXH3_64bits_update((XXH3_state_t *)xxh3_state, bytes, len);
}

#endif
