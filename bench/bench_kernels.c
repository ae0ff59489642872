/*
 * bench_kernels.c -- throughput of every SIMD kernel set usable on this CPU.
 *
 * Not a test and not part of the HNSW comparison: it shows what the
 * runtime dispatch buys (ns per call for l2sq/dot at typical dimensions,
 * diff at a few change densities). Uses the internal src/simd/simd.h
 * (kernel tables), which is why it lives apart from bench_hnsw, which
 * only sees include/deltavec.h. Best of 5 timed repetitions per cell.
 *
 * Usage: bench_kernels [dim...]   (default dims 64 128 384 768 1536)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "simd/simd.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust on a shared machine */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile float sink_f;
static volatile size_t sink_z;

typedef struct work {
    const dv_kernels *k;
    const float *a, *b;
    size_t n;
    uint32_t *idx;
} work;

enum op { OP_L2, OP_DOT, OP_DIFF };

/* ns per call of one kernel over `calls` calls, best of 5 repetitions. */
static double time_ns(const work *w, enum op op, size_t calls) {
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t = now_s();
        for (size_t c = 0; c < calls; c++) {
            if (op == OP_L2)
                sink_f = w->k->l2sq(w->a, w->b, w->n);
            else if (op == OP_DOT)
                sink_f = w->k->dot(w->a, w->b, w->n);
            else
                sink_z = w->k->diff(w->a, w->b, w->n, 0.001f, w->idx);
        }
        double e = (now_s() - t) * 1e9 / (double)calls;
        if (e < best) best = e;
    }
    return best;
}

int main(int argc, char **argv) {
    size_t dims[16] = {64, 128, 384, 768, 1536};
    size_t nd = 5;
    if (argc > 1) {
        nd = 0;
        for (int i = 1; i < argc && nd < 16; i++) dims[nd++] = (size_t)strtoul(argv[i], NULL, 10);
    }
    const dv_kernels *sets[8];
    size_t ns = dv_kernels_all(sets, 8);
    printf("kernel sets usable here:");
    for (size_t s = 0; s < ns; s++) printf(" %s", sets[s]->name);
    printf(" (dispatch picks %s)\n\n", dv_kernels_best()->name);
    printf("%-8s %6s %10s %10s %12s %12s\n", "set", "dim", "l2sq ns", "dot ns", "diff 1% ns", "diff 50% ns");
    for (size_t d = 0; d < nd; d++) {
        size_t n = dims[d];
        if (n == 0 || n > (1u << 20)) continue;
        /* malloc alignment (16 B): the 32-byte AVX loads are unaligned half the time, as in a db */
        float *a = malloc((n + 1) * sizeof(float)), *b = malloc((n + 1) * sizeof(float));
        float *c1 = malloc((n + 1) * sizeof(float)), *c50 = malloc((n + 1) * sizeof(float));
        uint32_t *idx = malloc(n * sizeof(uint32_t));
        if (!a || !b || !c1 || !c50 || !idx) return 2;
        uint64_t r = 1;
        for (size_t i = 0; i <= n; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            a[i] = (float)(r >> 40) / 16777216.0f;
            b[i] = a[i] * 0.5f;
            c1[i] = (r >> 20) % 100 == 0 ? a[i] + 1.0f : a[i];
            c50[i] = (r >> 20) % 2 == 0 ? a[i] + 1.0f : a[i];
        }
        size_t calls = 20000000 / n + 1;
        for (size_t s = 0; s < ns; s++) {
            const dv_kernels *k = sets[s];
            work w = {k, a, b, n, idx}, w1 = {k, a, c1, n, idx}, w50 = {k, a, c50, n, idx};
            double tl = time_ns(&w, OP_L2, calls), td = time_ns(&w, OP_DOT, calls);
            double t1 = time_ns(&w1, OP_DIFF, calls), t50 = time_ns(&w50, OP_DIFF, calls);
            printf("%-8s %6zu %10.1f %10.1f %12.1f %12.1f\n", k->name, n, tl, td, t1, t50);
        }
        free(a), free(b), free(c1), free(c50), free(idx);
    }
    return 0;
}
