/*
 * pipeline_common.h -- what the capture/apply, encoding and update-size
 * benchmarks share (bench_capture_apply.c, bench_encoding.c,
 * bench_update_size.c): per-operation latency samples, a splitmix64
 * generator, a captured stream held in memory, the ring consumer, the db
 * and capture set-up, the common command line and the JSON preamble.
 * Each benchmark is its own executable linked with pipeline_common.c.
 */
#ifndef DV_BENCH_PIPELINE_COMMON_H
#define DV_BENCH_PIPELINE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "deltavec.h"

/* Name printed by pl_die(); each main() sets it. */
extern const char *pl_prog;

double pl_now_us(void); /* CLOCK_MONOTONIC, microseconds */
void pl_die(const char *what, int st);
void *pl_xmalloc(size_t n);
uint64_t pl_rng_next(uint64_t *s); /* splitmix64 */
double pl_rng_unit(uint64_t *s);   /* [0, 1) */
float pl_rng_gauss(uint64_t *s, float sigma);

/* Per-operation samples (us). */
typedef struct pl_lat {
    double *v;
    size_t n, cap;
} pl_lat;

void pl_lat_add(pl_lat *l, double us);
double pl_lat_pct(const pl_lat *l, double p); /* nearest rank, p in 0..1; NAN when empty */
double pl_lat_sum(const pl_lat *l);
void pl_lat_free(pl_lat *l);

/* A captured stream held in memory: each delta copied out of the ring. */
typedef struct pl_blob {
    uint8_t *b; /* 64-byte header, then payload */
    uint32_t len;
    uint8_t kind;
} pl_blob;

typedef struct pl_stream {
    pl_blob *d;
    size_t n, cap;
    uint64_t bytes;
} pl_stream;

void pl_stream_push(pl_stream *s, const uint8_t *hdr, const uint8_t *pay, size_t len, int kind);
void pl_stream_free(pl_stream *s);
/* The consumer: everything in the capture ring is copied out (tagged with
 * kind when keep != NULL) and released. Returns the number of deltas. */
size_t pl_drain(dv_capture *cap, pl_stream *keep, int kind);

/* The common command line: [--quick] [--out DIR] [--dims 384,128] [--n N]. */
typedef struct pl_opts {
    int quick;
    const char *out_dir;
    uint32_t dims[4];
    size_t n_dims;
    uint32_t n;        /* vectors loaded per dim */
    uint32_t per_kind; /* single writes per kind after the load */
    uint32_t batches;  /* batches of 100 of each kind */
    uint32_t edges;    /* edge add/remove pairs */
    uint32_t enc_n;    /* deltas per encoding workload */
    uint32_t enc_base; /* vectors in the encoding db */
    uint32_t snap_n;   /* vectors of the update-size comparison */
    uint32_t efc;      /* ef_construction */
} pl_opts;

/* Parses argv into o (defaults: full run, bench/results, dims 384,128). 0 ok, 2 usage printed. */
int pl_opts_parse(int argc, char **argv, pl_opts *o);

dv_db *pl_open_db(uint32_t dim, uint32_t efc);
/* A started capture of db (base NULL: defaults) with an 8 MiB ring and a real-time clock. */
dv_capture *pl_start_capture(dv_db *db, const dv_capture_config *base, uint64_t first_seq);
void pl_make_id(char *buf, size_t cap, uint32_t i); /* "vec-%07u" */
/* CLOCK_REALTIME in ns: the capture timestamp source (ctx unused). */
uint64_t pl_clock(void *ctx);

void pl_json_lat(FILE *f, const pl_lat *l);
/* Opens DIR/<name>.json (<name>-quick.json with --quick) and writes the
 * opening brace and the run's environment fields; NULL on failure. */
FILE *pl_json_open(const pl_opts *o, const char *name, double total_s, char *path, size_t path_cap);

#endif
