/*
 * simd_env.c -- runs before main() of every test executable: when DV_SIMD
 * asks for a kernel set (ctest's per-set entries, tests/CMakeLists.txt),
 * the test must run on that set or not at all. If the library runs another
 * one (the CPU or the build lacks it), the test exits with 77, which ctest
 * reports as skipped, after saying why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"

__attribute__((constructor)) static void skip_unless_the_asked_kernel_set_runs(void) {
    const char *want = getenv("DV_SIMD");
    if (!want || !*want) return;
    const char *runs = dv_simd_backend();
    if (strcmp(runs, want) == 0) return;
    printf("SKIPPED: DV_SIMD=%s asks for a kernel set this CPU or build cannot run (the library runs %s)\n",
           want, runs);
    fflush(stdout);
    exit(77);
}
