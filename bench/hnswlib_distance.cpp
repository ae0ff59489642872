// hnswlib_distance.cpp -- hnswlib's own distance functions for bench_kernels.
//
// hnswlib picks its SIMD distance code when it is compiled (USE_AVX512 when
// __AVX512F__ is defined, then AVX512Capable() at run time), so this file is
// built with the benchmarks' target flags (DV_BENCH_ARCH_FLAGS, -march=native
// by default: the same hnswlib code bench_hnsw measures). The C benchmark
// gets plain function pointers and calls them exactly as hnswlib's search
// does, with a pointer to the dimension as the third argument.
#include <hnswlib/hnswlib.h>

#include "hnswlib_distance.h"

extern "C" bench_hnswlib_dist bench_hnswlib_l2(size_t dim) {
    hnswlib::L2Space space(dim);
    return space.get_dist_func(); // a plain static function: outlives the space
}

extern "C" bench_hnswlib_dist bench_hnswlib_ip(size_t dim) {
    hnswlib::InnerProductSpace space(dim);
    return space.get_dist_func();
}

// The instruction set hnswlib's constructors chose, by the same tests they make.
extern "C" const char *bench_hnswlib_isa(void) {
#if defined(USE_AVX512)
    if (AVX512Capable()) return "avx512";
#endif
#if defined(USE_AVX)
    if (AVXCapable()) return "avx";
#endif
#if defined(USE_SSE)
    return "sse";
#else
    return "scalar";
#endif
}
