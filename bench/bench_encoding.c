/*
 * bench_encoding.c -- bytes per delta on three workloads (sparse 5%, dense
 * drift, fresh inserts) for each capture encoding config, vector part
 * (parts = VECTORS|METADATA) and graph part (ALL minus that); plus why dense
 * f32 does not reach 4:1 losslessly (per-byte-plane entropy, LZ4 on the raw
 * floats). docs/BENCH.md "Capture, encoding and apply" holds the results.
 *
 * Usage: bench_encoding [--quick] [--out DIR]
 * Writes DIR/encoding.json (--quick: DIR/encoding-quick.json).
 */
#define _POSIX_C_SOURCE 200809L
#include <lz4.h>
#include <math.h>
#ifdef DV_BENCH_ZSTD
#include <zstd.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "deltavec.h"
#include "pipeline_common.h"

enum { W_SPARSE, W_DRIFT, W_INSERT, W_COUNT };
static const char *const W_NAME[W_COUNT] = {"sparse update 5%", "dense drift", "fresh insert"};
static const char *const W_KEY[W_COUNT] = {"sparse_5pct", "dense_drift", "fresh_insert"};

typedef struct enc_cfg {
    const char *name;
    int compress, shuffle, before;
    dv_lossy_mode lossy;
    uint32_t parts;
    int dense_xor;
} enc_cfg;

#define VM (DV_CAPTURE_VECTORS | DV_CAPTURE_METADATA)
static const enc_cfg ENC_CFGS[] = {
    {"f32, no compression", 0, 0, 0, DV_LOSSLESS, VM, 0},
    {"f32 + LZ4", 1, 0, 0, DV_LOSSLESS, VM, 0},
    {"f32 + LZ4 + shuffle (default)", 1, 1, 0, DV_LOSSLESS, VM, 0},
    {"f32 + LZ4 + shuffle + before-image", 1, 1, 1, DV_LOSSLESS, VM, 0},
    {"f16, no compression", 0, 0, 0, DV_LOSSY_F16, VM, 0},
    {"f16 + LZ4 + shuffle", 1, 1, 0, DV_LOSSY_F16, VM, 0},
    {"i8, no compression", 0, 0, 0, DV_LOSSY_I8, VM, 0},
    {"i8 + LZ4", 1, 1, 0, DV_LOSSY_I8, VM, 0},
    {"f32, no compression, with graph", 0, 0, 0, DV_LOSSLESS, DV_CAPTURE_ALL, 0},
    {"f32 + LZ4 + shuffle, with graph", 1, 1, 0, DV_LOSSLESS, DV_CAPTURE_ALL, 0},
    {"f32 + XOR vs replica + shuffle + LZ4", 1, 1, 0, DV_LOSSLESS, VM, 1},
};
#define C_DEFAULT 2 /* the earlier best lossless config for dense drift */
#define C_XOR 10    /* dense_xor: UPDATE kind 3 */
#define N_ENC (sizeof ENC_CFGS / sizeof ENC_CFGS[0])

typedef struct enc_cell {
    uint64_t deltas, stored, raw; /* stored/raw: payload bytes (raw = before LZ4) */
} enc_cell;

typedef struct enc_result {
    uint32_t dim, base_n, n;
    enc_cell cell[N_ENC][W_COUNT];
    /* why dense f32 does not reach 4:1 losslessly */
    double plane_h[W_COUNT][4];   /* order-0 entropy (bits/byte) of each f32 byte plane, new values */
    double xor_plane_h[4];        /* same for bits(new) ^ bits(old), dense drift */
    double lz4_ratio[W_COUNT][2]; /* LZ4 on each delta's values: plain, shuffled (raw/compressed) */
    double lz4_random_ratio;      /* LZ4 on uniform random bytes, same sizes */
    /* dense drift, the XOR planes of one delta's values (shuffled), mean bytes per array */
    double xor_lz4_bytes, xor_zstd_bytes; /* zstd level 1: NAN without libzstd */
    /* other transforms tried, LZ4: zigzag integer difference of the bits, byte planes / bit planes */
    double sub_lz4_bytes, sub_bitplanes_lz4_bytes;
    double drift_info_bytes; /* information in the drift itself (see noise_bits) */
} enc_result;

static uint32_t read_varint(const uint8_t *p, size_t len) {
    uint32_t v = 0;
    for (size_t i = 0; i < len && i < 5; i++) {
        v |= (uint32_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80)) break;
    }
    return v;
}

static void drain_sizes(dv_capture *cap, enc_cell *cell) {
    dv_delta_header h[64];
    size_t n = 0;
    while (dv_capture_poll(cap, h, 64, &n) == DV_OK && n) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *hb, *pb;
            size_t len;
            dv_status st = dv_capture_payload(cap, h[i].sequence, &hb, &pb, &len);
            if (st != DV_OK) pl_die("dv_capture_payload", st);
            cell->deltas++;
            cell->stored += len;
            cell->raw += (h[i].flags & DV_FLAG_COMPRESSED) ? read_varint(pb, len) : len;
        }
        dv_capture_release(cap, h[n - 1].sequence);
    }
}

/* Byte-plane histograms of f32 arrays. */
typedef struct planes {
    uint64_t hist[4][256];
} planes;

static void planes_add(planes *p, const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) p->hist[k][(u >> (8 * k)) & 0xFF]++;
    }
}

static double plane_entropy(const uint64_t h[256]) {
    uint64_t t = 0;
    for (int i = 0; i < 256; i++) t += h[i];
    double e = 0;
    for (int i = 0; i < 256; i++)
        if (h[i]) {
            double p = (double)h[i] / (double)t;
            e -= p * log2(p);
        }
    return e;
}

/* LZ4 (block, default level) on one delta's value array, plain and shuffled. */
typedef struct lz4acc {
    double raw, plain, shuf;
} lz4acc;

static void lz4_measure(lz4acc *a, const float *v, uint32_t n) {
    int sz = (int)(n * 4);
    char *src = pl_xmalloc((size_t)sz), *sh = pl_xmalloc((size_t)sz),
         *dst = pl_xmalloc((size_t)LZ4_compressBound(sz));
    memcpy(src, v, (size_t)sz);
    for (uint32_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) sh[(size_t)k * n + i] = src[(size_t)i * 4 + (size_t)k];
    int c1 = LZ4_compress_default(src, dst, sz, LZ4_compressBound(sz));
    int c2 = LZ4_compress_default(sh, dst, sz, LZ4_compressBound(sz));
    a->raw += sz;
    a->plain += c1 < sz ? c1 : sz; /* the encoder keeps LZ4 only when it saves bytes */
    a->shuf += c2 < sz ? c2 : sz;
    free(src);
    free(sh);
    free(dst);
}

/* Shuffled XOR planes of one drift update's values, compressed: LZ4 (what
 * kind 3 ships) and, for reference, zstd level 1 (an entropy coder). */
static void xor_planes_measure(enc_result *r, const float *nv, const float *old, uint32_t n) {
    size_t sz = (size_t)n * 4;
    unsigned char *pl = pl_xmalloc(sz), *dst = pl_xmalloc((size_t)LZ4_compressBound((int)sz) + 64);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a, b;
        memcpy(&a, &nv[i], 4);
        memcpy(&b, &old[i], 4);
        for (int k = 0; k < 4; k++) pl[(size_t)k * n + i] = (unsigned char)((a ^ b) >> (8 * k));
    }
    int c = LZ4_compress_default((const char *)pl, (char *)dst, (int)sz, LZ4_compressBound((int)sz));
    r->xor_lz4_bytes += c > 0 && (size_t)c < sz ? (double)c : (double)sz;
#ifdef DV_BENCH_ZSTD
    size_t z = ZSTD_compress(dst, (size_t)LZ4_compressBound((int)sz) + 64, pl, sz, 1);
    r->xor_zstd_bytes += ZSTD_isError(z) || z > sz ? (double)sz : (double)z;
#endif
    /* the alternatives: d = zigzag(bits(new) - bits(old)), byte planes and bit planes */
    uint32_t *zz = pl_xmalloc((size_t)n * sizeof *zz);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a, b;
        memcpy(&a, &nv[i], 4);
        memcpy(&b, &old[i], 4);
        uint32_t d = a - b; /* modulo 2^32; as int32: the signed difference */
        zz[i] = (d << 1) ^ (0u - (d >> 31));
        for (int k = 0; k < 4; k++) pl[(size_t)k * n + i] = (unsigned char)(zz[i] >> (8 * k));
    }
    c = LZ4_compress_default((const char *)pl, (char *)dst, (int)sz, LZ4_compressBound((int)sz));
    r->sub_lz4_bytes += c > 0 && (size_t)c < sz ? (double)c : (double)sz;
    memset(pl, 0, sz); /* bit plane j: bit j of every value, 8 values per byte */
    for (uint32_t j = 0; j < 32; j++)
        for (uint32_t i = 0; i < n; i++)
            if ((zz[i] >> j) & 1u) pl[(size_t)j * ((n + 7) / 8) + i / 8] |= (unsigned char)(1u << (i % 8));
    size_t bsz = (size_t)32 * ((n + 7) / 8);
    c = LZ4_compress_default((const char *)pl, (char *)dst, (int)bsz, LZ4_compressBound((int)sz));
    r->sub_bitplanes_lz4_bytes += c > 0 && (size_t)c < bsz ? (double)c : (double)bsz;
    free(zz);
    free(pl);
    free(dst);
}

/* Bits a lossless coder needs at least, on average, for new = old + N(0,
 * sigma) rounded to f32, given old: the noise's differential entropy in
 * units of old's ulp, log2(sigma / ulp) + log2(sqrt(2 pi e)). */
static double noise_bits(float old, float sigma) {
    int e;
    frexpf(old, &e); /* old = m 2^e, 0.5 <= |m| < 1: ulp = 2^(e - 24) */
    double ulp = ldexp(1.0, e - 24);
    double b = log2((double)sigma / ulp) + 2.0471;
    return b > 0 ? b : 0;
}

static void run_encoding(const pl_opts *o, uint32_t dim, enc_result *r) {
    memset(r, 0, sizeof *r);
    r->dim = dim;
    r->base_n = o->enc_base;
    r->n = o->enc_n;
    bench_matrix base, q;
    size_t pool_n = (size_t)o->enc_base + o->enc_n;
    bench_synth_generate(pool_n, 0, dim, 1000, 0.7f, 777 + dim, &base, &q);
    dv_db *B = pl_open_db(dim, o->efc);
    char id[24];
    for (uint32_t i = 0; i < o->enc_base; i++) {
        pl_make_id(id, sizeof id, i);
        dv_status st = dv_db_insert(B, id, base.data + (size_t)i * dim, NULL, 0);
        if (st != DV_OK) pl_die("insert", st);
    }
    float *v = pl_xmalloc(dim * sizeof *v), *old = pl_xmalloc(dim * sizeof *old),
          *vals = pl_xmalloc(dim * sizeof *vals);
    uint32_t *idx = pl_xmalloc(dim * sizeof *idx);
    planes pl[W_COUNT], px;
    memset(pl, 0, sizeof pl);
    memset(&px, 0, sizeof px);
    lz4acc la[W_COUNT];
    memset(la, 0, sizeof la);
    for (size_t ci = 0; ci < N_ENC; ci++) {
        const enc_cfg *ec = &ENC_CFGS[ci];
        int analyse = ci == 0;
        dv_db *D;
        dv_status st = dv_db_clone(B, &D);
        if (st != DV_OK) pl_die("dv_db_clone", st);
        dv_capture_config cc;
        dv_capture_config_default(&cc);
        cc.compress = ec->compress;
        cc.shuffle = ec->shuffle;
        cc.before_images = ec->before;
        cc.lossy = ec->lossy;
        cc.parts = ec->parts;
        cc.dense_xor = ec->dense_xor;
        dv_capture *cap = pl_start_capture(D, &cc, 1);
        uint64_t rng = 99; /* the same writes for every config */
        for (int w = 0; w < W_COUNT; w++) {
            for (uint32_t i = 0; i < o->enc_n; i++) {
                if (w == W_INSERT) {
                    pl_make_id(id, sizeof id, o->enc_base + i);
                    const float *nv = base.data + (size_t)(o->enc_base + i) * dim;
                    st = dv_db_insert(D, id, nv, NULL, 0);
                    if (analyse) {
                        planes_add(&pl[w], nv, dim);
                        lz4_measure(&la[w], nv, dim);
                    }
                } else {
                    pl_make_id(id, sizeof id, (uint32_t)(pl_rng_next(&rng) % o->enc_base));
                    if ((st = dv_db_get(D, id, old)) != DV_OK) pl_die("dv_db_get", st);
                    if (w == W_DRIFT) {
                        for (uint32_t d = 0; d < dim; d++) v[d] = old[d] + pl_rng_gauss(&rng, 0.01f);
                        st = dv_db_update(D, id, v);
                        if (analyse) {
                            planes_add(&pl[w], v, dim);
                            lz4_measure(&la[w], v, dim);
                            float x[DV_MAX_DIM];
                            for (uint32_t d = 0; d < dim; d++) {
                                uint32_t a, b;
                                memcpy(&a, &v[d], 4);
                                memcpy(&b, &old[d], 4);
                                a ^= b;
                                memcpy(&x[d], &a, 4);
                            }
                            planes_add(&px, x, dim);
                            xor_planes_measure(r, v, old, dim);
                            for (uint32_t d = 0; d < dim; d++)
                                r->drift_info_bytes += noise_bits(old[d], 0.01f) / 8;
                        }
                    } else {
                        uint32_t k = dim / 20 ? dim / 20 : 1, stride = dim / k;
                        for (uint32_t j = 0; j < k; j++) {
                            idx[j] = j * stride + (uint32_t)(pl_rng_next(&rng) % stride);
                            vals[j] = old[idx[j]] + pl_rng_gauss(&rng, 0.05f);
                        }
                        st = dv_db_update_sparse(D, id, idx, vals, k);
                        if (analyse) {
                            planes_add(&pl[w], vals, k);
                            lz4_measure(&la[w], vals, k);
                        }
                    }
                }
                if (st != DV_OK) pl_die(W_NAME[w], st);
                drain_sizes(cap, &r->cell[ci][w]);
            }
        }
        dv_capture_free(cap);
        dv_db_close(D);
    }
    for (int w = 0; w < W_COUNT; w++) {
        for (int k = 0; k < 4; k++) r->plane_h[w][k] = plane_entropy(pl[w].hist[k]);
        r->lz4_ratio[w][0] = la[w].plain > 0 ? la[w].raw / la[w].plain : NAN;
        r->lz4_ratio[w][1] = la[w].shuf > 0 ? la[w].raw / la[w].shuf : NAN;
    }
    for (int k = 0; k < 4; k++) r->xor_plane_h[k] = plane_entropy(px.hist[k]);
    r->xor_lz4_bytes /= o->enc_n;
    r->sub_lz4_bytes /= o->enc_n;
    r->sub_bitplanes_lz4_bytes /= o->enc_n;
    r->drift_info_bytes /= o->enc_n;
#ifdef DV_BENCH_ZSTD
    r->xor_zstd_bytes /= o->enc_n;
#else
    r->xor_zstd_bytes = NAN;
#endif
    /* LZ4 on uniform random bytes of one dense delta's size */
    {
        uint64_t s = 5;
        lz4acc a;
        memset(&a, 0, sizeof a);
        for (int i = 0; i < 100; i++) {
            for (uint32_t d = 0; d < dim; d++) {
                uint32_t u = (uint32_t)pl_rng_next(&s);
                memcpy(&v[d], &u, 4);
            }
            lz4_measure(&a, v, dim);
        }
        r->lz4_random_ratio = a.raw / a.plain;
    }
    free(v);
    free(old);
    free(vals);
    free(idx);
    dv_db_close(B);
    bench_matrix_free(&base);
}

/* ---- report ------------------------------------------------------------------------ */

static double mean_b(const enc_cell *c) {
    return c->deltas ? 64.0 + (double)c->stored / (double)c->deltas : NAN;
}

static void print_encoding(const enc_result *e) {
    double naive = 64.0 + 4.0 * e->dim;
    printf(
        "\n== 2. encoded size, dim %u, %u deltas per workload on a %u-vector db (mean bytes per delta incl.\n"
        "   the 64-byte header; ratio = naive delta (64 + 4 x dim = %.0f B) / ours; values ~ N(0, 1.2^2))\n",
        e->dim, e->n, e->base_n, naive);
    printf("   %-36s", "capture config");
    for (int w = 0; w < W_COUNT; w++) printf(" %18s", W_NAME[w]);
    printf("\n");
    for (size_t c = 0; c < N_ENC; c++) {
        printf("   %-36s", ENC_CFGS[c].name);
        for (int w = 0; w < W_COUNT; w++) {
            double b = mean_b(&e->cell[c][w]);
            printf("   %7.0f (%5.2f:1)", b, naive / b);
        }
        printf("\n");
    }
    printf("   graph part alone (with graph - without), bytes per delta:\n");
    static const int pairs[2][2] = {{8, 0}, {9, 2}};
    for (int p = 0; p < 2; p++) {
        printf("   %-36s", p ? "  LZ4 + shuffle" : "  no compression");
        for (int w = 0; w < W_COUNT; w++)
            printf("   %7.0f          ", mean_b(&e->cell[pairs[p][0]][w]) - mean_b(&e->cell[pairs[p][1]][w]));
        printf("\n");
    }
    printf("   LZ4's own gain on the payloads (raw body / stored), default config:");
    for (int w = 0; w < W_COUNT; w++) {
        const enc_cell *c = &e->cell[2][w];
        printf(" %s %.3f", W_KEY[w], (double)c->raw / (double)c->stored);
    }
    printf("\n   why 4:1 is out of reach losslessly for dense f32: order-0 entropy of each byte plane\n"
           "   (bits per byte; plane 0 = lowest mantissa byte, 3 = sign + high exponent):\n");
    for (int w = 0; w < W_COUNT; w++) {
        double sum = 0;
        for (int k = 0; k < 4; k++) sum += e->plane_h[w][k];
        printf("     %-18s new values    %.2f %.2f %.2f %.2f -> %5.2f bits/float, bound %.2f:1; LZ4 %.3f:1, "
               "shuffled %.3f:1\n",
               W_NAME[w], e->plane_h[w][0], e->plane_h[w][1], e->plane_h[w][2], e->plane_h[w][3], sum,
               32.0 / sum, e->lz4_ratio[w][0], e->lz4_ratio[w][1]);
    }
    double sx = 0;
    for (int k = 0; k < 4; k++) sx += e->xor_plane_h[k];
    printf("     %-18s new XOR old   %.2f %.2f %.2f %.2f -> %5.2f bits/float, bound %.2f:1 (needs the before-"
           "image or replica state)\n",
           "dense drift", e->xor_plane_h[0], e->xor_plane_h[1], e->xor_plane_h[2], e->xor_plane_h[3], sx,
           32.0 / sx);
    printf("     LZ4 on uniform random bytes of the same size: %.3f:1\n", e->lz4_random_ratio);
    const enc_cell *best = &e->cell[C_DEFAULT][W_DRIFT], *x = &e->cell[C_XOR][W_DRIFT];
    printf("\n   lossless dense drift (issue 15 row; ratio = naive %.0f B / mean bytes per delta incl. "
           "header):\n",
           naive);
    printf("     earlier best lossless:        %-38s %7.0f B  %5.2f:1\n", ENC_CFGS[C_DEFAULT].name,
           mean_b(best), naive / mean_b(best));
    printf("     now (capture dense_xor = 1):  %-38s %7.0f B  %5.2f:1  (%.2fx fewer bytes)\n",
           ENC_CFGS[C_XOR].name, mean_b(x), naive / mean_b(x), mean_b(best) / mean_b(x));
    /* header, kind, target and dim of the plain form; + 9 (hash, coding) around a kind 3 values array */
    double rest = mean_b(best) - 4.0 * e->dim - 1.0;
    printf("     the values array alone, XOR planes: LZ4 %.0f B (%.2f:1 on %u B)", e->xor_lz4_bytes,
           4.0 * e->dim / e->xor_lz4_bytes, 4 * e->dim);
    if (e->xor_zstd_bytes == e->xor_zstd_bytes)
        printf(", zstd -1 %.0f B (%.2f:1; whole delta would be %.2f:1)", e->xor_zstd_bytes,
               4.0 * e->dim / e->xor_zstd_bytes, naive / (rest + 9.0 + e->xor_zstd_bytes));
    printf("\n     other transforms, LZ4 on the values: integer difference (zigzag) in byte planes %.0f B, "
           "in bit planes %.0f B (whole delta %.2f:1)",
           e->sub_lz4_bytes, e->sub_bitplanes_lz4_bytes, naive / (rest + 9.0 + e->sub_bitplanes_lz4_bytes));
    printf(
        "\n     information in the drift itself (N(0, 0.01) noise in units of each old value's ulp): %.0f B "
        "per delta,\n     so no lossless coding beats %.2f:1 on the whole delta (%.2f:1 on the values)\n",
        e->drift_info_bytes, naive / (rest + 9.0 + e->drift_info_bytes), 4.0 * e->dim / e->drift_info_bytes);
}

static void write_json(const pl_opts *o, const enc_result *e, double total_s) {
    char path[1024];
    FILE *f = pl_json_open(o, "encoding", total_s, path, sizeof path);
    if (!f) return;
    fprintf(f,
            "  \"encoding\": {\"dim\": %u, \"deltas_per_workload\": %u, \"db_vectors\": %u, "
            "\"naive_bytes\": %u,\n    \"configs\": [",
            e->dim, e->n, e->base_n, 64 + 4 * e->dim);
    for (size_t c = 0; c < N_ENC; c++) {
        const enc_cfg *ec = &ENC_CFGS[c];
        fprintf(f,
                "%s\n      {\"name\": \"%s\", \"compress\": %d, \"shuffle\": %d, \"before_images\": %d, "
                "\"lossy\": %d, \"parts\": %u",
                c ? "," : "", ec->name, ec->compress, ec->shuffle, ec->before, (int)ec->lossy, ec->parts);
        for (int w = 0; w < W_COUNT; w++) {
            const enc_cell *x = &e->cell[c][w];
            fprintf(f,
                    ", \"%s\": {\"deltas\": %llu, \"stored_payload\": %llu, \"raw_payload\": %llu, "
                    "\"mean_bytes_with_header\": %.1f, \"ratio_vs_naive\": %.3f}",
                    W_KEY[w], (unsigned long long)x->deltas, (unsigned long long)x->stored,
                    (unsigned long long)x->raw, mean_b(x), (64.0 + 4.0 * e->dim) / mean_b(x));
        }
        fprintf(f, "}");
    }
    fprintf(f, "],\n    \"entropy_bits_per_byte_planes\": {");
    for (int w = 0; w < W_COUNT; w++)
        fprintf(f, "\"%s\": [%.4f, %.4f, %.4f, %.4f], ", W_KEY[w], e->plane_h[w][0], e->plane_h[w][1],
                e->plane_h[w][2], e->plane_h[w][3]);
    fprintf(f, "\"dense_drift_xor_old\": [%.4f, %.4f, %.4f, %.4f]},\n", e->xor_plane_h[0], e->xor_plane_h[1],
            e->xor_plane_h[2], e->xor_plane_h[3]);
    fprintf(f, "    \"lz4_on_values\": {");
    for (int w = 0; w < W_COUNT; w++)
        fprintf(f, "\"%s\": {\"plain\": %.4f, \"shuffled\": %.4f}, ", W_KEY[w], e->lz4_ratio[w][0],
                e->lz4_ratio[w][1]);
    fprintf(f, "\"uniform_random\": %.4f},\n", e->lz4_random_ratio);
    const enc_cell *best = &e->cell[C_DEFAULT][W_DRIFT], *x = &e->cell[C_XOR][W_DRIFT];
    double rest = mean_b(best) - 4.0 * e->dim - 1.0;
    fprintf(f,
            "    \"lossless_dense_drift\": {\"earlier_best\": \"%s\", \"earlier_best_bytes\": %.1f, "
            "\"earlier_best_ratio\": %.3f, \"xor_config\": \"%s\", \"xor_bytes\": %.1f, \"xor_ratio\": %.3f, "
            "\"values_xor_lz4_bytes\": %.1f, \"values_xor_zstd1_bytes\": %.1f, "
            "\"values_sub_lz4_bytes\": %.1f, \"values_sub_bitplanes_lz4_bytes\": %.1f, "
            "\"drift_information_bytes\": %.1f, \"information_bound_ratio\": %.3f}}\n}\n",
            ENC_CFGS[C_DEFAULT].name, mean_b(best), (64.0 + 4.0 * e->dim) / mean_b(best),
            ENC_CFGS[C_XOR].name, mean_b(x), (64.0 + 4.0 * e->dim) / mean_b(x), e->xor_lz4_bytes,
            e->xor_zstd_bytes == e->xor_zstd_bytes ? e->xor_zstd_bytes : -1.0, e->sub_lz4_bytes,
            e->sub_bitplanes_lz4_bytes, e->drift_info_bytes,
            (64.0 + 4.0 * e->dim) / (rest + 9.0 + e->drift_info_bytes));
    fclose(f);
    printf("\nwrote %s\n", path);
}

int main(int argc, char **argv) {
    pl_prog = "bench_encoding";
    pl_opts o;
    if (pl_opts_parse(argc, argv, &o)) return 2;
    printf("bench_encoding%s: encoded size per delta (deltavec %s, SIMD %s, one thread)\n",
           o.quick ? " --quick" : "", dv_version_string(), dv_simd_backend());
    double t0 = pl_now_us();
    enc_result er;
    run_encoding(&o, 384, &er);
    double total = (pl_now_us() - t0) / 1e6;
    print_encoding(&er);
    printf("\ntotal %.1f s\n", total);
    write_json(&o, &er, total);
    return 0;
}
