/*
 * dataset.c -- see dataset.h. Data generation, TEXMEX file I/O and the
 * brute-force ground truth used by bench_hnsw.
 *
 * The generator draws its Gaussians as Irwin-Hall sums (12 uniforms - 6):
 * pure IEEE arithmetic, so the data are the same bytes on every machine
 * and libm, unlike Box-Muller. That is close enough to normal for a
 * benchmark and keeps the cached .fvecs reproducible.
 */
#define _POSIX_C_SOURCE 200809L
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

/* ---- TEXMEX I/O ------------------------------------------------------------ */

/* Reads rows of (int32 d, d x 4-byte payload) into a new n x d array. */
static int read_vecs(const char *path, size_t *n_out, size_t *dim_out, void **data_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1; /* absent: caller decides whether that is an error */
    int32_t d;
    if (fread(&d, 4, 1, f) != 1 || d <= 0 || d > 1 << 20) {
        fprintf(stderr, "bench: %s: bad header\n", path);
        fclose(f);
        return -2;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return -2;
    }
    long size = ftell(f);
    size_t row = 4 + 4 * (size_t)d;
    if (size < 0 || (size_t)size % row != 0) {
        fprintf(stderr, "bench: %s: size %ld is not a multiple of the row size %zu\n", path, size, row);
        fclose(f);
        return -2;
    }
    size_t n = (size_t)size / row;
    char *out = xmalloc(n * 4 * (size_t)d);
    rewind(f);
    for (size_t i = 0; i < n; i++) {
        int32_t di;
        if (fread(&di, 4, 1, f) != 1 || di != d ||
            fread(out + i * 4 * (size_t)d, 4, (size_t)d, f) != (size_t)d) {
            fprintf(stderr, "bench: %s: row %zu is truncated or has another dimension\n", path, i);
            free(out);
            fclose(f);
            return -2;
        }
    }
    fclose(f);
    *n_out = n, *dim_out = (size_t)d, *data_out = out;
    return 0;
}

static int write_vecs(const char *path, size_t n, size_t dim, const void *data) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "bench: cannot write %s\n", tmp);
        return -1;
    }
    int32_t d = (int32_t)dim;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++)
        ok = fwrite(&d, 4, 1, f) == 1 && fwrite((const char *)data + i * 4 * dim, 4, dim, f) == dim;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) { /* rename: readers never see a half-written cache */
        fprintf(stderr, "bench: write to %s failed\n", path);
        remove(tmp);
        return -1;
    }
    return 0;
}

int bench_fvecs_read(const char *path, bench_matrix *m) {
    void *p;
    int r = read_vecs(path, &m->n, &m->dim, &p);
    if (r == 0) m->data = p;
    return r;
}
int bench_fvecs_write(const char *path, const bench_matrix *m) {
    return write_vecs(path, m->n, m->dim, m->data);
}
int bench_ivecs_read(const char *path, bench_gt *g) {
    void *p;
    int r = read_vecs(path, &g->n, &g->k, &p);
    if (r == 0) g->ids = p;
    return r;
}
int bench_ivecs_write(const char *path, const bench_gt *g) { return write_vecs(path, g->n, g->k, g->ids); }
void bench_matrix_free(bench_matrix *m) {
    free(m->data);
    memset(m, 0, sizeof *m);
}
void bench_gt_free(bench_gt *g) {
    free(g->ids);
    memset(g, 0, sizeof *g);
}

/* ---- synthetic clustered set ------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;
static uint64_t rng_next(rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }
static double rng_gauss(rng *r) { /* Irwin-Hall: mean 0, variance 1 */
    double s = 0;
    for (int i = 0; i < 12; i++) s += rng_unit(r);
    return s - 6.0;
}

static void synth_points(rng *r, const float *centres, const float *spreads, size_t n_clusters, size_t dim,
                         bench_matrix *out, size_t n) {
    out->n = n, out->dim = dim;
    out->data = xmalloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)(rng_next(r) % n_clusters);
        for (size_t j = 0; j < dim; j++)
            out->data[i * dim + j] = centres[c * dim + j] + (float)(spreads[c] * rng_gauss(r));
    }
}

void bench_synth_generate(size_t n_base, size_t n_query, size_t dim, size_t n_clusters, float spread,
                          uint64_t seed, bench_matrix *base, bench_matrix *query) {
    rng r = {seed};
    float *centres = xmalloc(n_clusters * dim * sizeof(float));
    float *spreads = xmalloc(n_clusters * sizeof(float));
    for (size_t i = 0; i < n_clusters * dim; i++) centres[i] = (float)rng_gauss(&r);
    for (size_t c = 0; c < n_clusters; c++) spreads[c] = spread * (float)(0.5 + rng_unit(&r));
    rng rb = {seed ^ 0x6261736562617365ull}, rq = {seed ^ 0x7175657279717565ull};
    synth_points(&rb, centres, spreads, n_clusters, dim, base, n_base);
    synth_points(&rq, centres, spreads, n_clusters, dim, query, n_query);
    free(centres);
    free(spreads);
}

/* ---- digits -------------------------------------------------------------------- */

int bench_digits_load(const char *csv_gz, size_t n_base, bench_matrix *base, bench_matrix *query) {
    enum { DIM = 64, MAX_ROWS = 4096 };
    char cmd[4200];
    if (strchr(csv_gz, '\'') || snprintf(cmd, sizeof cmd, "gzip -dc '%s'", csv_gz) >= (int)sizeof cmd)
        return -1;
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    float *rows = xmalloc((size_t)MAX_ROWS * DIM * sizeof(float));
    size_t n = 0;
    char line[2048];
    while (n < MAX_ROWS && fgets(line, sizeof line, p)) {
        char *s = line, *end;
        size_t j = 0;
        for (; j <= DIM; j++) { /* 64 features + the label, which is dropped */
            double v = strtod(s, &end);
            if (end == s) break;
            if (j < DIM) rows[n * DIM + j] = (float)v;
            s = (*end == ',') ? end + 1 : end;
        }
        if (j == DIM + 1) n++;
    }
    int rc = pclose(p);
    if (rc != 0 || n <= n_base) {
        fprintf(stderr, "bench: %s: read %zu rows (gzip status %d)\n", csv_gz, n, rc);
        free(rows);
        return -1;
    }
    base->n = n_base, base->dim = DIM;
    base->data = xmalloc(n_base * DIM * sizeof(float));
    memcpy(base->data, rows, n_base * DIM * sizeof(float));
    query->n = n - n_base, query->dim = DIM;
    query->data = xmalloc(query->n * DIM * sizeof(float));
    memcpy(query->data, rows + n_base * DIM, query->n * DIM * sizeof(float));
    free(rows);
    return 0;
}

/* ---- Fashion-MNIST --------------------------------------------------------------- */

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* One gzip'd IDX image file (magic 0x00000803, big-endian counts, then one
 * byte per pixel, row-major) into an n x (rows * cols) float matrix. */
static int idx_images_read(const char *path_gz, bench_matrix *m) {
    char cmd[4200];
    FILE *probe = fopen(path_gz, "rb");
    if (!probe) {
        fprintf(stderr, "bench: %s not found (apt-get install dataset-fashion-mnist)\n", path_gz);
        return -1;
    }
    fclose(probe);
    if (strchr(path_gz, '\'') || snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path_gz) >= (int)sizeof cmd)
        return -1;
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    unsigned char h[16];
    int ok = fread(h, 1, sizeof h, p) == sizeof h;
    uint32_t magic = ok ? be32(h) : 0, n = ok ? be32(h + 4) : 0, rows = ok ? be32(h + 8) : 0,
             cols = ok ? be32(h + 12) : 0;
    ok = ok && magic == 0x803 && n > 0 && n <= 1u << 24 && rows > 0 && cols > 0 && rows <= 1024 &&
         cols <= 1024;
    size_t dim = (size_t)rows * cols;
    unsigned char *px = ok ? xmalloc(dim) : NULL;
    float *data = ok ? xmalloc((size_t)n * dim * sizeof(float)) : NULL;
    for (size_t i = 0; ok && i < n; i++) {
        ok = fread(px, 1, dim, p) == dim;
        for (size_t j = 0; ok && j < dim; j++) data[i * dim + j] = (float)px[j];
    }
    free(px);
    int rc = pclose(p);
    if (!ok || rc != 0) {
        fprintf(stderr, "bench: %s: not a whole IDX image file (gzip status %d)\n", path_gz, rc);
        free(data);
        return -1;
    }
    m->n = n, m->dim = dim, m->data = data;
    return 0;
}

int bench_fashion_load(const char *data_dir, const char *idx_dir, size_t n_base, size_t n_query,
                       bench_matrix *base, bench_matrix *query) {
    char b[4096], q[4096], train[4096], test[4096];
    if (snprintf(b, sizeof b, "%s/fashion-mnist_base.fvecs", data_dir) >= (int)sizeof b ||
        snprintf(q, sizeof q, "%s/fashion-mnist_query.fvecs", data_dir) >= (int)sizeof q ||
        snprintf(train, sizeof train, "%s/train-images-idx3-ubyte.gz", idx_dir) >= (int)sizeof train ||
        snprintf(test, sizeof test, "%s/t10k-images-idx3-ubyte.gz", idx_dir) >= (int)sizeof test)
        return -1;
    memset(base, 0, sizeof *base);
    memset(query, 0, sizeof *query);
    if (bench_fvecs_read(b, base) != 0 || bench_fvecs_read(q, query) != 0) {
        bench_matrix_free(base);
        bench_matrix_free(query);
        if (idx_images_read(train, base) != 0 || idx_images_read(test, query) != 0) {
            bench_matrix_free(base);
            return -1;
        }
        mkdir(data_dir, 0777);
        if (bench_fvecs_write(b, base) != 0 || bench_fvecs_write(q, query) != 0)
            fprintf(stderr, "bench: warning: could not cache Fashion-MNIST under %s\n", data_dir);
    }
    if (base->dim != query->dim) {
        fprintf(stderr, "bench: cached Fashion-MNIST base and queries differ in dimension\n");
        bench_matrix_free(base);
        bench_matrix_free(query);
        return -1;
    }
    if (n_base && n_base < base->n) base->n = n_base; /* the first rows: the arrays stay as allocated */
    if (n_query && n_query < query->n) query->n = n_query;
    return 0;
}

/* ---- ground truth ------------------------------------------------------------------ */

/* Squared L2 in 16 independent lanes (vectorizes under -O3; exact order
 * does not matter for ground truth). */
static float l2sq16(const float *a, const float *b, size_t dim) {
    float acc[16] = {0};
    size_t j = 0;
    for (; j + 16 <= dim; j += 16)
        for (size_t l = 0; l < 16; l++) {
            float d = a[j + l] - b[j + l];
            acc[l] += d * d;
        }
    float s = 0;
    for (; j < dim; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
    for (size_t l = 0; l < 16; l++) s += acc[l];
    return s;
}

void bench_ground_truth(const bench_matrix *base, const bench_matrix *query, size_t k, bench_gt *gt) {
    gt->n = query->n, gt->k = k;
    gt->ids = xmalloc(query->n * k * sizeof(int32_t));
    float *best = xmalloc(k * sizeof(float));
    for (size_t q = 0; q < query->n; q++) {
        const float *qv = query->data + q * query->dim;
        int32_t *ids = gt->ids + q * k;
        size_t have = 0;
        for (size_t i = 0; i < base->n; i++) {
            float d = l2sq16(qv, base->data + i * base->dim, base->dim);
            if (have == k && !(d < best[k - 1])) continue; /* ties keep the lower id */
            size_t pos = have < k ? have++ : k - 1;
            while (pos > 0 && best[pos - 1] > d) {
                best[pos] = best[pos - 1];
                ids[pos] = ids[pos - 1];
                pos--;
            }
            best[pos] = d;
            ids[pos] = (int32_t)i;
        }
        for (size_t j = have; j < k; j++) ids[j] = -1;
    }
    free(best);
}
