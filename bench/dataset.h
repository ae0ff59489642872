/*
 * dataset.h -- benchmark data sets: TEXMEX .fvecs/.ivecs I/O, the synthetic
 * clustered generator, scikit-learn's digits, Fashion-MNIST, exact ground
 * truth.
 *
 * .fvecs: per vector, a little-endian int32 dimension d followed by d
 * float32. .ivecs: the same with int32 payload (ground truth: the ids of
 * the k nearest base vectors of each query, nearest first). These are the
 * formats of the SIFT/GIST sets (http://corpus-texmex.irisa.fr/), so the
 * files under bench/data/ can be fed to other tools unchanged.
 *
 * Bench-only code: uses stdio, malloc and popen freely (not part of the
 * freestanding core).
 */
#ifndef DV_BENCH_DATASET_H
#define DV_BENCH_DATASET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bench_matrix {
    size_t n, dim;
    float *data; /* n * dim, row-major */
} bench_matrix;

typedef struct bench_gt {
    size_t n, k;
    int32_t *ids; /* n * k, nearest first */
} bench_gt;

/* Reads a whole .fvecs / .ivecs file; returns 0 on success (all rows must
 * have the same dimension). On failure prints why to stderr. */
int bench_fvecs_read(const char *path, bench_matrix *m);
int bench_fvecs_write(const char *path, const bench_matrix *m);
int bench_ivecs_read(const char *path, bench_gt *g);
int bench_ivecs_write(const char *path, const bench_gt *g);
void bench_matrix_free(bench_matrix *m);
void bench_gt_free(bench_gt *g);

/* Synthetic clustered data: n_clusters centres drawn from N(0, 1)^dim;
 * each cluster c has its own spread s_c = spread * U(0.5, 1.5); a point
 * picks a cluster uniformly and adds N(0, s_c^2) noise per coordinate.
 * Base and query sets use disjoint streams of one splitmix64 seed, so the
 * same arguments always give the same bytes on every machine. */
void bench_synth_generate(size_t n_base, size_t n_query, size_t dim, size_t n_clusters, float spread,
                          uint64_t seed, bench_matrix *base, bench_matrix *query);

/* scikit-learn's digits (1797 x 64, csv.gz with the label as last column),
 * read with `gzip -dc` through popen: the first n_base rows are the base,
 * the remaining rows the queries. Returns 0 on success. */
int bench_digits_load(const char *csv_gz, size_t n_base, bench_matrix *base, bench_matrix *query);

/* Fashion-MNIST (Debian dataset-fashion-mnist: 28 x 28 grey images of
 * clothing, gzip'd IDX files under idx_dir): the 60,000 training images are
 * the base, the 10,000 test images the queries, 784 dims, pixel values 0-255
 * as floats (as ann-benchmarks' fashion-mnist-784-euclidean). The first
 * call decodes the IDX files with `gzip -dc` and caches them as
 * <data_dir>/fashion-mnist_base.fvecs and _query.fvecs; later calls read
 * the cache. n_base / n_query (0 = all) keep only the first rows. Returns
 * 0, or -1 after saying why on stderr (absent files included). */
#define BENCH_FASHION_DIR "/usr/share/datasets/fashion-mnist"
int bench_fashion_load(const char *data_dir, const char *idx_dir, size_t n_base, size_t n_query,
                       bench_matrix *base, bench_matrix *query);

/* Exact k nearest base vectors (squared L2, ties by lower id) of every
 * query, by brute force. */
void bench_ground_truth(const bench_matrix *base, const bench_matrix *query, size_t k, bench_gt *gt);

#ifdef __cplusplus
}
#endif

#endif
