/*
 * bench_kernels.c -- every SIMD kernel set usable on this CPU, per call,
 * beside hnswlib's own distance functions measured in the same run.
 *
 * Not a test and not part of the HNSW comparison: it shows what the
 * runtime dispatch buys (ns per call of l2sq/dot, diff at 1% and 50% of
 * the floats changed, scatter/gather of 5% and 50% of the indices, l2sq
 * and dot again on 64-byte aligned copies of the inputs; XXH3's streaming
 * update in its SSE2, AVX2 and AVX-512 builds) and
 * how the chosen set compares with hnswlib's L2Space / InnerProductSpace
 * functions at the same dimensions (hnswlib_distance.cpp, compiled with
 * the benchmarks' -march flags, so hnswlib takes its AVX-512 code where
 * the CPU has it). Uses the internal src/simd/simd.h (kernel tables),
 * which is why it lives apart from bench_hnsw.
 *
 * Method: thread CPU time (CLOCK_THREAD_CPUTIME_ID, robust on a shared
 * machine), 20e6/dim + 1 calls per timing, best of --reps repetitions
 * (default 11). The repetitions are interleaved: each repetition times
 * every cell of every dimension once, so a burst of load from elsewhere
 * spoils one repetition of many cells rather than every repetition of a
 * few, and the ratios of one run stay comparable. Inputs come from a fixed LCG
 * (js/bench/kernels.mjs rebuilds the same ones for its wasm column) in
 * malloc'd buffers (16-byte alignment, so wide loads are unaligned, as in
 * a database whose vectors follow their neighbour lists).
 *
 * Usage: bench_kernels [--reps N] [--out DIR] [dim...]
 *        (default dims 128 384 768 784 1536; --out writes DIR/kernels.json)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "hnswlib_distance.h"
#include "simd/kernels.h"

#ifndef DV_BENCH_FLAGS
#define DV_BENCH_FLAGS "?"
#endif

#define MAX_SETS 8
#define MAX_DIMS 16

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile float sink_f;
static volatile size_t sink_z;

/* The operations timed per set, in table and JSON order. */
enum op {
    OP_L2,
    OP_DOT,
    OP_DIFF1,
    OP_DIFF50,
    OP_SCATTER5,
    OP_GATHER5,
    OP_SCATTER50,
    OP_GATHER50,
    OP_L2_A64,
    OP_DOT_A64,
    N_OPS
};
static const char *const op_key[N_OPS] = {"l2sq",           "dot",          "diff_1pct",     "diff_50pct",
                                          "scatter_5pct",   "gather_5pct",  "scatter_50pct", "gather_50pct",
                                          "l2sq_aligned64", "dot_aligned64"};
enum hop { H_L2, H_IP, N_HOPS };
static const char *const hop_key[N_HOPS] = {"l2sq", "ip"};

/* Inputs of one dimension. */
#define N_BUFFERS 12

/* Inputs of one dimension. Every buffer starts at its own offset within a
 * 4 KiB page (16 + 320 * k bytes: 16-byte but not 64-byte aligned, as
 * vectors in a database): buffers at equal page offsets would make loads
 * of one and stores to another falsely alias (4K aliasing), which made
 * one dimension's diff 2-3x slower depending on where malloc put things. */
typedef struct inputs {
    size_t n;
    float *a, *b, *c1, *c50, *dst, *vals, *out;
    float *a64, *b64; /* copies of a and b on 64-byte boundaries */
    uint32_t *idx, *idx5, *idx50;
    size_t m5, m50;
    void *base[N_BUFFERS];
    int n_base;
} inputs;

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(2);
    }
    return p;
}

/* bytes at page offset off (< 4096) of a fresh page-aligned block, remembered for free_inputs. */
static void *page_offset_buffer(inputs *in, size_t bytes, size_t off) {
    size_t total = (bytes + off + 4095) / 4096 * 4096;
    unsigned char *p = aligned_alloc(4096, total);
    if (!p || in->n_base == N_BUFFERS) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(2);
    }
    in->base[in->n_base++] = p;
    return p + off;
}

/* The k-th buffer of a dimension: 16-byte aligned at its own page offset. */
static void *staggered(inputs *in, size_t bytes) {
    return page_offset_buffer(in, bytes, 16 + 320 * (size_t)in->n_base);
}

/* a = (r >> 40) / 2^24, b = a / 2, c1/c50 = a + 1 on 1%/50% of the floats
 * (the LCG and formulas js/bench/kernels.mjs reproduces); idx5/idx50 take
 * every 20th / every 2nd index. */
static void make_inputs(inputs *in, size_t n) {
    in->n = n;
    in->n_base = 0;
    in->a = staggered(in, (n + 1) * sizeof(float)), in->b = staggered(in, (n + 1) * sizeof(float));
    in->c1 = staggered(in, (n + 1) * sizeof(float)), in->c50 = staggered(in, (n + 1) * sizeof(float));
    in->dst = staggered(in, n * sizeof(float)), in->vals = staggered(in, n * sizeof(float));
    in->out = staggered(in, n * sizeof(float));
    in->idx = staggered(in, n * sizeof(uint32_t)), in->idx5 = staggered(in, n * sizeof(uint32_t));
    in->idx50 = staggered(in, n * sizeof(uint32_t));
    uint64_t r = 1;
    for (size_t i = 0; i <= n; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        in->a[i] = (float)(r >> 40) / 16777216.0f;
        in->b[i] = in->a[i] * 0.5f;
        in->c1[i] = (r >> 20) % 100 == 0 ? in->a[i] + 1.0f : in->a[i];
        in->c50[i] = (r >> 20) % 2 == 0 ? in->a[i] + 1.0f : in->a[i];
    }
    in->m5 = in->m50 = 0;
    for (size_t i = 0; i < n; i++) {
        in->vals[i] = in->b[i];
        if (i % 20 == 0) in->idx5[in->m5++] = (uint32_t)i;
        if (i % 2 == 0) in->idx50[in->m50++] = (uint32_t)i;
    }
    memcpy(in->dst, in->a, n * sizeof(float));
    in->a64 = page_offset_buffer(in, n * sizeof(float), 64 * 50); /* 64-byte aligned, own page offsets */
    in->b64 = page_offset_buffer(in, n * sizeof(float), 64 * 55);
    memcpy(in->a64, in->a, n * sizeof(float));
    memcpy(in->b64, in->b, n * sizeof(float));
}

static void free_inputs(inputs *in) {
    for (int i = 0; i < in->n_base; i++) free(in->base[i]);
}

/* ns per call of one deltavec kernel over `calls` calls (one timing). */
static double time_set(const dv_kernels *k, enum op op, const inputs *in, size_t calls) {
    size_t n = in->n;
    double t = cpu_now();
    for (size_t c = 0; c < calls; c++) {
        switch (op) {
        case OP_L2:
            sink_f = k->l2sq(in->a, in->b, n);
            break;
        case OP_DOT:
            sink_f = k->dot(in->a, in->b, n);
            break;
        case OP_DIFF1:
            sink_z = k->diff(in->a, in->c1, n, 0.001f, in->idx);
            break;
        case OP_DIFF50:
            sink_z = k->diff(in->a, in->c50, n, 0.001f, in->idx);
            break;
        case OP_SCATTER5:
            k->scatter(in->dst, in->idx5, in->vals, in->m5);
            break;
        case OP_GATHER5:
            k->gather(in->out, in->a, in->idx5, in->m5);
            break;
        case OP_SCATTER50:
            k->scatter(in->dst, in->idx50, in->vals, in->m50);
            break;
        case OP_GATHER50:
            k->gather(in->out, in->a, in->idx50, in->m50);
            break;
        case OP_L2_A64:
            sink_f = k->l2sq(in->a64, in->b64, n);
            break;
        default:
            sink_f = k->dot(in->a64, in->b64, n);
            break;
        }
        if (op >= OP_SCATTER5 && op <= OP_GATHER50)
            sink_f = op == OP_SCATTER5 || op == OP_SCATTER50 ? in->dst[0] : in->out[0];
    }
    return (cpu_now() - t) * 1e9 / (double)calls;
}

static double time_hnswlib(bench_hnswlib_dist f, const inputs *in, size_t calls) {
    size_t dim = in->n;
    double t = cpu_now();
    for (size_t c = 0; c < calls; c++) sink_f = f(in->a, in->b, &dim);
    return (cpu_now() - t) * 1e9 / (double)calls;
}

/* Best-of figures of one dimension: [set][op] and hnswlib's [hop]. */
typedef struct cell {
    double ns[MAX_SETS][N_OPS];
    double hns[N_HOPS];
} cell;

static void reset_cell(cell *c) {
    for (size_t s = 0; s < MAX_SETS; s++)
        for (int o = 0; o < N_OPS; o++) c->ns[s][o] = 1e30;
    for (int h = 0; h < N_HOPS; h++) c->hns[h] = 1e30;
}

/* One repetition of one dimension: every cell timed once, its best kept. */
static void measure_once(cell *c, const inputs *in, const dv_kernels *const *sets, size_t ns) {
    size_t calls = 20000000 / in->n + 1;
    bench_hnswlib_dist hf[N_HOPS] = {bench_hnswlib_l2(in->n), bench_hnswlib_ip(in->n)};
    for (size_t s = 0; s < ns; s++) {
        for (int o = 0; o < N_OPS; o++) {
            double e = time_set(sets[s], (enum op)o, in, calls);
            if (e < c->ns[s][o]) c->ns[s][o] = e;
        }
    }
    for (int h = 0; h < N_HOPS; h++) {
        double e = time_hnswlib(hf[h], in, calls);
        if (e < c->hns[h]) c->hns[h] = e;
    }
}

/* XXH3 streaming update (dv_xxh3_update's builds), GB/s over 1 MiB fed in
 * 4 KiB pieces as the snapshot codec and the state hash feed it; best of
 * reps, interleaved. [0] is xxhash as this file is compiled (baseline
 * x86-64: SSE2), [1] AVX2, [2] AVX-512; 0 where the CPU lacks the set. */
#define XXH3_BUILDS 3
static const char *const xxh3_key[XXH3_BUILDS] = {"sse2", "avx2", "avx512"};

static void baseline_xxh3_update(void *st, const void *p, size_t len) {
    XXH3_64bits_update((XXH3_state_t *)st, p, len);
}

static void measure_xxh3(double *gbps, int reps) {
    typedef void (*update_fn)(void *, const void *, size_t);
    update_fn fns[XXH3_BUILDS] = {baseline_xxh3_update, NULL, NULL};
#if defined(__x86_64__)
    if (dv_kernels_named("avx2")) fns[1] = dv_xxh3_update_avx2;
    if (dv_kernels_named("avx512")) fns[2] = dv_xxh3_update_avx512;
#endif
    enum { BYTES = 1 << 20, PIECE = 4096, ROUNDS = 64 };
    unsigned char *buf = xmalloc(BYTES);
    for (size_t i = 0; i < BYTES; i++) buf[i] = (unsigned char)(i * 2654435761u >> 13);
    double best[XXH3_BUILDS] = {1e30, 1e30, 1e30};
    for (int rep = 0; rep < reps; rep++) {
        for (int f = 0; f < XXH3_BUILDS; f++) {
            if (!fns[f]) continue;
            double t = cpu_now();
            for (int r = 0; r < ROUNDS; r++) {
                XXH3_state_t st;
                XXH3_64bits_reset(&st);
                for (size_t off = 0; off < BYTES; off += PIECE) fns[f](&st, buf + off, PIECE);
                sink_z = (size_t)XXH3_64bits_digest(&st);
            }
            double e = (cpu_now() - t) / ROUNDS;
            if (e < best[f]) best[f] = e;
        }
    }
    for (int f = 0; f < XXH3_BUILDS; f++) gbps[f] = fns[f] ? (double)BYTES / best[f] / 1e9 : 0.0;
    free(buf);
}

static int set_index(const dv_kernels *const *sets, size_t ns, const char *name) {
    for (size_t s = 0; s < ns; s++)
        if (strcmp(sets[s]->name, name) == 0) return (int)s;
    return -1;
}

static void print_tables(const cell *cells, const size_t *dims, size_t nd, const dv_kernels *const *sets,
                         size_t ns, int best, const double *xxh3) {
    printf("%-8s %6s %10s %10s %12s %12s %12s %12s %13s %13s %11s %11s\n", "set", "dim", "l2sq ns", "dot ns",
           "diff 1% ns", "diff 50% ns", "scatter 5%", "gather 5%", "scatter 50%", "gather 50%", "l2sq al64",
           "dot al64");
    for (size_t d = 0; d < nd; d++)
        for (size_t s = 0; s < ns; s++) {
            const double *v = cells[d].ns[s];
            printf("%-8s %6zu %10.1f %10.1f %12.1f %12.1f %12.1f %12.1f %13.1f %13.1f %11.1f %11.1f\n",
                   sets[s]->name, dims[d], v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]);
        }
    printf("\nagainst hnswlib (%s code, %s): ns per distance; ratio > 1 = deltavec faster\n",
           bench_hnswlib_isa(), DV_BENCH_FLAGS);
    printf("%6s %-6s %12s %12s %12s %14s %14s\n", "dim", "kernel", "hnswlib ns", sets[best]->name,
           "hnswlib/ours", "avx2/avx512", "hnswlib/avx2");
    int i2 = set_index(sets, ns, "avx2"), i5 = set_index(sets, ns, "avx512");
    for (size_t d = 0; d < nd; d++) {
        for (int h = 0; h < N_HOPS; h++) {
            const cell *c = &cells[d];
            double ours = c->ns[best][h], hn = c->hns[h];
            char r25[32] = "-", rh2[32] = "-";
            if (i2 >= 0 && i5 >= 0) snprintf(r25, sizeof r25, "%.2fx", c->ns[i2][h] / c->ns[i5][h]);
            if (i2 >= 0) snprintf(rh2, sizeof rh2, "%.2fx", hn / c->ns[i2][h]);
            printf("%6zu %-6s %12.1f %12.1f %11.2fx %14s %14s\n", dims[d], h == H_L2 ? "l2sq" : "ip/dot", hn,
                   ours, hn / ours, r25, rh2);
        }
    }
    printf("\nXXH3 streaming update, 1 MiB in 4 KiB pieces, GB/s:");
    for (int f = 0; f < XXH3_BUILDS; f++)
        if (xxh3[f] > 0) printf(" %s %.2f", xxh3_key[f], xxh3[f]);
    if (xxh3[1] > 0 && xxh3[2] > 0) printf(" (avx512/avx2 %.2fx)", xxh3[2] / xxh3[1]);
    printf("\n");
}

static int write_json(const char *dir, const cell *cells, const size_t *dims, size_t nd,
                      const dv_kernels *const *sets, size_t ns, int best, int reps, const double *xxh3) {
    char path[4096];
    snprintf(path, sizeof path, "%s/kernels.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "{\n  \"bench\": \"kernels\",\n");
    fprintf(f,
            "  \"method\": \"ns per call, thread CPU time, best of %d interleaved repetitions of 20e6/dim+1 "
            "calls\",\n",
            reps);
    fprintf(f, "  \"reps\": %d,\n  \"dispatch\": \"%s\",\n  \"sets\": [", reps, sets[best]->name);
    for (size_t s = 0; s < ns; s++) fprintf(f, "%s\"%s\"", s ? ", " : "", sets[s]->name);
    fprintf(f, "],\n  \"hnswlib\": {\"isa\": \"%s\", \"flags\": \"%s\"},\n  \"dims\": [", bench_hnswlib_isa(),
            DV_BENCH_FLAGS);
    for (size_t d = 0; d < nd; d++) fprintf(f, "%s%zu", d ? ", " : "", dims[d]);
    fprintf(f, "],\n  \"ns\": {");
    for (size_t d = 0; d < nd; d++) {
        fprintf(f, "%s\n    \"%zu\": {", d ? "," : "", dims[d]);
        for (size_t s = 0; s < ns; s++) {
            fprintf(f, "%s\n      \"%s\": {", s ? "," : "", sets[s]->name);
            for (int o = 0; o < N_OPS; o++)
                fprintf(f, "%s\"%s\": %.2f", o ? ", " : "", op_key[o], cells[d].ns[s][o]);
            fprintf(f, "}");
        }
        fprintf(f, ",\n      \"hnswlib\": {\"%s\": %.2f, \"%s\": %.2f}\n    }", hop_key[0], cells[d].hns[0],
                hop_key[1], cells[d].hns[1]);
    }
    /* ratios: hnswlib time over ours (> 1: deltavec faster); avx2 time over avx512 (> 1: avx512 faster) */
    int i2 = set_index(sets, ns, "avx2"), i5 = set_index(sets, ns, "avx512");
    fprintf(f, "\n  },\n  \"ratios\": {");
    for (size_t d = 0; d < nd; d++) {
        const cell *c = &cells[d];
        fprintf(
            f,
            "%s\n    \"%zu\": {\"hnswlib_over_dispatch_l2sq\": %.3f, \"hnswlib_ip_over_dispatch_dot\": %.3f",
            d ? "," : "", dims[d], c->hns[H_L2] / c->ns[best][OP_L2], c->hns[H_IP] / c->ns[best][OP_DOT]);
        if (i2 >= 0)
            fprintf(f, ", \"hnswlib_over_avx2_l2sq\": %.3f, \"hnswlib_ip_over_avx2_dot\": %.3f",
                    c->hns[H_L2] / c->ns[i2][OP_L2], c->hns[H_IP] / c->ns[i2][OP_DOT]);
        if (i2 >= 0 && i5 >= 0) {
            fprintf(f, ", \"avx2_over_avx512\": {");
            for (int o = 0; o < N_OPS; o++)
                fprintf(f, "%s\"%s\": %.3f", o ? ", " : "", op_key[o], c->ns[i2][o] / c->ns[i5][o]);
            fprintf(f, "}");
        }
        fprintf(f, "}");
    }
    fprintf(f, "\n  },\n  \"xxh3_gbps\": {");
    for (int x = 0, first = 1; x < XXH3_BUILDS; x++)
        if (xxh3[x] > 0) fprintf(f, "%s\"%s\": %.3f", first ? "" : ", ", xxh3_key[x], xxh3[x]), first = 0;
    fprintf(f, "}\n}\n");
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    printf("\nwrote %s\n", path);
    return 0;
}

int main(int argc, char **argv) {
    size_t dims[MAX_DIMS] = {128, 384, 768, 784, 1536};
    size_t nd = 5, given = 0;
    int reps = 11;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else {
            size_t n = (size_t)strtoul(argv[i], NULL, 10);
            if (n == 0 || n > (1u << 20)) {
                fprintf(stderr, "usage: bench_kernels [--reps N] [--out DIR] [dim...]  (dim 1..2^20)\n");
                return 2;
            }
            if (given < MAX_DIMS) dims[given++] = n;
        }
    }
    if (given) nd = given;
    if (reps < 1) reps = 1;
    const dv_kernels *sets[MAX_SETS];
    size_t ns = dv_kernels_all(sets, MAX_SETS);
    int best = set_index(sets, ns, dv_kernels_best()->name);
    printf("kernel sets usable here:");
    for (size_t s = 0; s < ns; s++) printf(" %s", sets[s]->name);
    printf(" (dispatch picks %s)\n", dv_kernels_best()->name);
    printf("ns per call, thread CPU time, best of %d interleaved repetitions\n\n", reps);
    cell *cells = xmalloc(nd * sizeof *cells);
    inputs *in = xmalloc(nd * sizeof *in);
    for (size_t d = 0; d < nd; d++) make_inputs(&in[d], dims[d]), reset_cell(&cells[d]);
    for (int rep = 0; rep < reps; rep++) /* interleaved: each repetition times every cell of every dim */
        for (size_t d = 0; d < nd; d++) measure_once(&cells[d], &in[d], sets, ns);
    for (size_t d = 0; d < nd; d++) free_inputs(&in[d]);
    free(in);
    double xxh3[XXH3_BUILDS];
    measure_xxh3(xxh3, reps);
    print_tables(cells, dims, nd, sets, ns, best, xxh3);
    int rc = out ? write_json(out, cells, dims, nd, sets, ns, best, reps, xxh3) : 0;
    free(cells);
    return rc;
}
