/*
 * bench_util.h -- the wall clock and the fatal-error exit the C benchmarks
 * share (bench_apply_parallel, bench_delete, bench_ring). Header-only: each
 * benchmark is one executable.
 */
#ifndef DV_BENCH_UTIL_H
#define DV_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deltavec.h"

/* Monotonic wall clock, seconds. */
static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Prints "prog: what: DV_STATUS" and exits with status 1. */
static inline void bench_die(const char *prog, const char *what, int st) {
    fprintf(stderr, "%s: %s: %s\n", prog, what, dv_status_name(st));
    exit(1);
}

#endif
