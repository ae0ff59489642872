/*
 * bench_pipeline.c -- capture, encoding and apply: the benchmark sections of
 * issues 3 and 4 (except ring throughput, bench_ring.c, and parallel-apply
 * worker scaling, bench_apply_parallel.c). docs/BENCH.md explains the
 * method and holds the results.
 *
 * Parts (one process, one thread, synthetic clustered data of dataset.h):
 *   1. capture   per dim: a primary P with capture and its twin T without
 *                (same config and seed, so the same graph), fed the same
 *                writes, interleaved in chunks; every write timed on both.
 *                A consumer drains P's ring after every write (poll,
 *                copy out, release), timed on its own.
 *   3. apply     the stream P produced is replayed to a replica R: the load
 *                (N inserts) brings R to position k, then every later delta
 *                is timed one by one with dv_apply_delta, grouped by kind.
 *                Batches come from a second capture (batch_max_deltas =
 *                100) applied to a copy of P taken at that checkpoint.
 *                Single HNSW edge add/remove are REINDEX deltas built with
 *                the internal builder (src/delta/delta.h), added then
 *                removed again, so R ends equal to P (hash checked).
 *                T's per-write times are what a logical replica pays for
 *                the same changes (dv_db_* on a replica with the same config).
 *   2. encoding  bytes per delta on three workloads (sparse 5%, dense drift,
 *                fresh inserts) for each capture encoding config, vector
 *                part (parts = VECTORS|METADATA) and graph part (ALL minus
 *                that); plus why dense f32 does not reach 4:1 losslessly
 *                (per-byte-plane entropy, LZ4 on the raw floats).
 *   4. snapshot  a 1% dense-drift update of a 100k x 128 db: bytes and time
 *                of its deltas against a whole-index snapshot (exact packed
 *                size from the graph; dv_db_clone time as the in-memory
 *                lower bound of producing + loading one; a real packed
 *                serialization and LZ4 of it for reference).
 *
 * Times: clock_gettime(CLOCK_MONOTONIC) around each call, in us; medians and
 * p99 (nearest rank) of per-operation samples. The machine is shared and
 * noisy: compare the ratios of one run, not absolute numbers across runs.
 *
 * Usage: bench_pipeline [--quick] [--out DIR] [--dims 384,128] [--n N]
 * Writes DIR/pipeline.json (--quick: DIR/pipeline-quick.json).
 */
#define _POSIX_C_SOURCE 200809L
#include <lz4.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dataset.h"
#include "db/replay.h"
#include "delta/delta.h"
#include "deltavec.h"

/* ---- small tools ------------------------------------------------------------- */

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void die(const char *what, int st) {
    fprintf(stderr, "bench_pipeline: %s: %s\n", what, dv_status_name(st));
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_pipeline: out of memory\n");
        exit(1);
    }
    return p;
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static float rng_gauss(uint64_t *s, float sigma) { /* Box-Muller */
    double u = rng_unit(s), v = rng_unit(s);
    if (u < 1e-300) u = 1e-300;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v)) * sigma;
}

/* Per-operation samples (us). */
typedef struct lat {
    double *v;
    size_t n, cap;
} lat;

static void lat_add(lat *l, double us) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) die("realloc", DV_ENOMEM);
    }
    l->v[l->n++] = us;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (p in 0..1) of the samples; NAN when empty. */
static double lat_pct(const lat *l, double p) {
    if (!l->n) return NAN;
    double *c = xmalloc(l->n * sizeof *c);
    memcpy(c, l->v, l->n * sizeof *c);
    qsort(c, l->n, sizeof *c, cmp_double);
    size_t r = (size_t)ceil(p * (double)l->n);
    double v = c[r ? r - 1 : 0];
    free(c);
    return v;
}

static double lat_sum(const lat *l) {
    double s = 0;
    for (size_t i = 0; i < l->n; i++) s += l->v[i];
    return s;
}

static void lat_free(lat *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- kinds of writes / deltas --------------------------------------------------- */

enum {
    K_LOAD,      /* insert while the db grows 0..N */
    K_INSERT,    /* insert into the loaded db */
    K_DRIFT,     /* dense update, new = old + N(0, 0.01): edges kept */
    K_RELINK,    /* dense update to an unrelated vector: re-linked */
    K_SPARSE,    /* sparse update of 5% of the dims */
    K_DELETE,    /* delete with graph repair */
    K_BATCH_INS, /* BATCH of 100 inserts */
    K_BATCH_UPD, /* BATCH of 100 dense-drift updates */
    K_EDGE_ADD,  /* REINDEX: one layer-0 edge added */
    K_EDGE_RM,   /* REINDEX: that edge removed */
    K_COUNT
};

static const char *const KIND_NAME[K_COUNT] = {
    "insert, during load", "insert",          "dense update (drift)", "dense update (re-link)",
    "sparse update (5%)",  "delete",          "batch of 100 inserts", "batch of 100 updates",
    "HNSW edge add",       "HNSW edge remove"};
static const char *const KIND_KEY[K_COUNT] = {
    "insert_load", "insert",          "dense_drift",     "dense_relink", "sparse_5pct",
    "delete",      "batch100_insert", "batch100_update", "edge_add",     "edge_remove"};
/* The seed's apply latency targets (us); 0 = none. */
static const double SEED_US[K_COUNT] = {0, 50, 30, 30, 10, 20, 2000, 1000, 15, 10};

/* ---- a captured stream, held in memory --------------------------------------------- */

typedef struct blob {
    uint8_t *b; /* 64-byte header, then payload */
    uint32_t len;
    uint8_t kind;
} blob;

typedef struct stream {
    blob *d;
    size_t n, cap;
    uint64_t bytes;
} stream;

static void stream_push(stream *s, const uint8_t *hdr, const uint8_t *pay, size_t len, int kind) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->d = realloc(s->d, s->cap * sizeof *s->d);
        if (!s->d) die("realloc", DV_ENOMEM);
    }
    uint8_t *b = xmalloc(DV_DELTA_HEADER_SIZE + len);
    memcpy(b, hdr, DV_DELTA_HEADER_SIZE);
    if (len) memcpy(b + DV_DELTA_HEADER_SIZE, pay, len);
    s->d[s->n++] = (blob){b, (uint32_t)(DV_DELTA_HEADER_SIZE + len), (uint8_t)kind};
    s->bytes += DV_DELTA_HEADER_SIZE + len;
}

static void stream_free(stream *s) {
    for (size_t i = 0; i < s->n; i++) free(s->d[i].b);
    free(s->d);
    memset(s, 0, sizeof *s);
}

/* The consumer: everything in the capture ring is copied out (tagged with
 * kind when keep != NULL) and released. Returns the number of deltas. */
static size_t drain(dv_capture *cap, stream *keep, int kind) {
    dv_delta_header h[64];
    size_t n = 0, total = 0;
    while (dv_capture_poll(cap, h, 64, &n) == DV_OK && n) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *hb, *pb;
            size_t len;
            dv_status st = dv_capture_payload(cap, h[i].sequence, &hb, &pb, &len);
            if (st != DV_OK) die("dv_capture_payload", st);
            if (keep) stream_push(keep, hb, pb, len, kind);
        }
        dv_capture_release(cap, h[n - 1].sequence);
        total += n;
    }
    return total;
}

/* ---- run configuration ------------------------------------------------------------ */

typedef struct opts {
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
    uint32_t snap_n;   /* vectors of the snapshot comparison */
    uint32_t efc;      /* ef_construction */
} opts;

static dv_db *open_db(uint32_t dim, uint32_t efc) {
    dv_db_config c;
    dv_db_config_default(&c, dim);
    c.ef_construction = efc;
    dv_db *db;
    dv_status st = dv_db_open(&c, &db);
    if (st != DV_OK) die("dv_db_open", st);
    return db;
}

static uint64_t clock_cb(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static dv_capture *start_capture(dv_db *db, const dv_capture_config *base, uint64_t first_seq) {
    dv_capture_config c;
    if (base)
        c = *base;
    else
        dv_capture_config_default(&c);
    c.ring.payload_size = 8u << 20;
    c.first_sequence = first_seq;
    c.clock = clock_cb;
    dv_capture *cap;
    dv_status st = dv_capture_init(db, &c, &cap);
    if (st == DV_OK) st = dv_capture_start(cap);
    if (st != DV_OK) die("capture init/start", st);
    return cap;
}

static void make_id(char *buf, size_t cap, uint32_t i) { snprintf(buf, cap, "vec-%07u", i); }

/* ---- one write, as data: applied identically to P and T -------------------------- */

typedef struct write_op {
    int kind;
    char id[24];
    const float *vec;  /* insert / dense: the new vector */
    uint32_t n_sparse; /* sparse: idx/vals */
    uint32_t *idx;
    float *vals;
} write_op;

static dv_status do_write(dv_db *db, const write_op *w) {
    switch (w->kind) {
    case K_LOAD:
    case K_INSERT:
    case K_BATCH_INS:
        return dv_db_insert(db, w->id, w->vec, NULL, 0);
    case K_DRIFT:
    case K_RELINK:
    case K_BATCH_UPD:
        return dv_db_update(db, w->id, w->vec);
    case K_SPARSE:
        return dv_db_update_sparse(db, w->id, w->idx, w->vals, w->n_sparse);
    case K_DELETE:
        return dv_db_delete(db, w->id);
    default:
        return DV_EINVAL;
    }
}

/* Live ids of P (== T): slot-free bookkeeping for picking update targets. */
typedef struct idset {
    uint32_t *v;
    size_t n, cap;
} idset;

static void idset_add(idset *s, uint32_t id) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("realloc", DV_ENOMEM);
    }
    s->v[s->n++] = id;
}

/* ---- part 1 + 3: capture and apply per dim ---------------------------------------- */

typedef struct capture_row {
    size_t n;                        /* writes */
    lat plain, capt, diff, consumer; /* per write (consumer: per write of that kind) */
    size_t deltas, with_graph;       /* deltas committed; deltas that carry a graph part */
    uint64_t bytes;                  /* header + payload bytes committed */
} capture_row;

typedef struct dim_result {
    uint32_t dim, n;
    capture_row cap[K_COUNT];
    lat apply[K_COUNT];    /* per delta */
    lat apply_nc[K_COUNT]; /* the same deltas on a twin replica with coherence_check = 0 */
    lat logical[K_COUNT];  /* T's per-write time (batches: sum per 100) */
    uint64_t bytes[K_COUNT];
    size_t n_deltas[K_COUNT];
    double capture_seconds; /* whole part */
    int converged, converged_batches;
    uint64_t hash_p, hash_r;
} dim_result;

typedef struct dim_ctx {
    const opts *o;
    uint32_t dim;
    dv_db *P, *T;
    dv_capture *cap;
    stream s;
    dim_result *res;
    idset live;
    uint64_t rng;
    uint32_t next_id;
    const float *pool; /* rows for inserts */
    size_t pool_n, pool_next;
} dim_ctx;

/* Runs w on P (captured, drained) and T, in the order `p_first`; records times. */
static void run_write(dim_ctx *c, const write_op *w, int p_first, int kind) {
    capture_row *row = &c->res->cap[kind];
    double tp = 0, tt = 0;
    for (int pass = 0; pass < 2; pass++) {
        int on_p = pass == 0 ? p_first : !p_first;
        dv_db *db = on_p ? c->P : c->T;
        double t0 = now_us();
        dv_status st = do_write(db, w);
        double t = now_us() - t0;
        if (st != DV_OK) die(KIND_NAME[w->kind], st);
        if (on_p)
            tp = t;
        else
            tt = t;
    }
    size_t before = c->s.n;
    double t0 = now_us();
    size_t got = drain(c->cap, &c->s, kind);
    double tc = now_us() - t0;
    row->n++;
    lat_add(&row->plain, tt);
    lat_add(&row->capt, tp);
    lat_add(&row->diff, tp - tt);
    lat_add(&row->consumer, tc);
    row->deltas += got;
    for (size_t i = before; i < c->s.n; i++) {
        row->bytes += c->s.d[i].len;
        if (c->s.d[i].b[9] & DV_FLAG_HAS_HNSW) row->with_graph++;
    }
    lat_add(&c->res->logical[kind], tt);
}

static const float *next_pool_row(dim_ctx *c) {
    if (c->pool_next >= c->pool_n) die("vector pool exhausted", DV_EINVAL);
    return c->pool + c->pool_next++ * c->dim;
}

static void load(dim_ctx *c) {
    write_op w;
    memset(&w, 0, sizeof w);
    w.kind = K_LOAD;
    for (uint32_t i = 0; i < c->o->n; i++) {
        make_id(w.id, sizeof w.id, c->next_id);
        idset_add(&c->live, c->next_id++);
        w.vec = next_pool_row(c);
        run_write(c, &w, (i / 500) % 2 == 0, K_LOAD);
    }
}

/* Builds the next write of `kind` against P's current state. buf: dim floats. */
static void make_write(dim_ctx *c, int kind, write_op *w, float *buf) {
    uint32_t dim = c->dim;
    w->kind = kind;
    if (kind == K_INSERT || kind == K_BATCH_INS) {
        make_id(w->id, sizeof w->id, c->next_id);
        idset_add(&c->live, c->next_id++);
        w->vec = next_pool_row(c);
        return;
    }
    size_t pick = rng_next(&c->rng) % c->live.n;
    make_id(w->id, sizeof w->id, c->live.v[pick]);
    if (kind == K_DELETE) {
        c->live.v[pick] = c->live.v[--c->live.n];
        return;
    }
    dv_status st = dv_db_get(c->P, w->id, buf);
    if (st != DV_OK) die("dv_db_get", st);
    if (kind == K_DRIFT || kind == K_BATCH_UPD) {
        for (uint32_t d = 0; d < dim; d++) buf[d] += rng_gauss(&c->rng, 0.01f);
        w->vec = buf;
    } else if (kind == K_RELINK) {
        w->vec = next_pool_row(c);
    } else { /* sparse: 5% of the dims, distinct, increasing, += N(0, 0.05) */
        uint32_t k = dim / 20 ? dim / 20 : 1, n = 0;
        uint32_t stride = dim / k;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t d = j * stride + (uint32_t)(rng_next(&c->rng) % stride);
            w->idx[n] = d;
            w->vals[n++] = buf[d] + rng_gauss(&c->rng, 0.05f);
        }
        w->n_sparse = n;
    }
}

static void single_writes(dim_ctx *c) {
    static const int kinds[] = {K_INSERT, K_DRIFT, K_RELINK, K_SPARSE, K_DELETE};
    size_t total = (size_t)c->o->per_kind * 5;
    int *order = xmalloc(total * sizeof *order);
    for (size_t i = 0; i < total; i++) order[i] = kinds[i % 5];
    for (size_t i = total; i > 1; i--) { /* shuffle: kinds interleaved at random */
        size_t j = rng_next(&c->rng) % i;
        int t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    float *buf = xmalloc(c->dim * sizeof *buf);
    write_op w;
    memset(&w, 0, sizeof w);
    w.idx = xmalloc(c->dim * sizeof *w.idx);
    w.vals = xmalloc(c->dim * sizeof *w.vals);
    for (size_t i = 0; i < total; i++) {
        make_write(c, order[i], &w, buf);
        run_write(c, &w, (i / 250) % 2 == 0, order[i]);
    }
    free(order);
    free(buf);
    free(w.idx);
    free(w.vals);
}

/* Batches of 100 from a second capture; returns the stream (its own). */
static void batched_writes(dim_ctx *c, int kind) {
    float *buf = xmalloc(c->dim * sizeof *buf);
    write_op w;
    memset(&w, 0, sizeof w);
    for (uint32_t b = 0; b < c->o->batches; b++) {
        double sum_t = 0;
        size_t before = c->res->logical[kind].n;
        for (int i = 0; i < 100; i++) {
            make_write(c, kind, &w, buf);
            run_write(c, &w, (b % 2) == 0, kind);
        }
        for (size_t i = before; i < c->res->logical[kind].n; i++) sum_t += c->res->logical[kind].v[i];
        c->res->logical[kind].n = before; /* keep one sample per batch: the sum of 100 */
        lat_add(&c->res->logical[kind], sum_t);
    }
    free(buf);
}

/* Applies one delta, timed. */
static double apply_one(dv_apply *ap, const uint8_t *hdr, size_t len) {
    double t0 = now_us();
    dv_status st = dv_apply_delta(ap, hdr, hdr + DV_DELTA_HEADER_SIZE, len - DV_DELTA_HEADER_SIZE);
    double t = now_us() - t0;
    if (st != DV_OK) {
        fprintf(stderr, "apply: %s\n", dv_apply_last_error(ap));
        die("dv_apply_delta", st);
    }
    return t;
}

/* Applies delta (hdr, len) of kind to ap (coherence on) and ap_nc (off), in
 * alternating order, recording both times. */
static void apply_pair(dim_result *r, dv_apply *ap, dv_apply *ap_nc, const uint8_t *hdr, size_t len,
                       int kind) {
    int nc_first = (r->n_deltas[kind] & 1) != 0;
    double t_nc = 0;
    if (nc_first) t_nc = apply_one(ap_nc, hdr, len);
    lat_add(&r->apply[kind], apply_one(ap, hdr, len));
    if (!nc_first) t_nc = apply_one(ap_nc, hdr, len);
    lat_add(&r->apply_nc[kind], t_nc);
    r->bytes[kind] += len;
    r->n_deltas[kind]++;
}

/* Applies every blob of s from index `from`, timing each by its kind. */
static void apply_stream(dim_result *r, dv_apply *ap, dv_apply *ap_nc, const stream *s, size_t from,
                         size_t to) {
    for (size_t i = from; i < to; i++) apply_pair(r, ap, ap_nc, s->d[i].b, s->d[i].len, s->d[i].kind);
}

static float l2sq(const float *a, const float *b, uint32_t dim) {
    float s = 0;
    for (uint32_t i = 0; i < dim; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

/* One REINDEX delta with a single layer-0 edge change, applied and timed. */
static void edge_delta(dim_result *r, dv_apply *ap, dv_apply *ap_nc, dv_delta_builder *b,
                       dv_delta_arena *scratch, int add, uint32_t from, uint32_t to, float dist, uint8_t *buf,
                       size_t cap) {
    dv_delta_builder_begin(b, DV_OP_REINDEX);
    dv_status st =
        add ? dv_delta_builder_edge_add(b, 0, from, to, dist) : dv_delta_builder_edge_remove(b, 0, from, to);
    if (st != DV_OK) die("builder edge", st);
    b->d.h.sequence = dv_apply_position(ap) + 1;
    b->d.h.timestamp = clock_cb(NULL);
    b->d.h.prev_sequence = 0;
    size_t len = 0;
    dv_delta_arena_reset(scratch);
    dv_encode_opts eo;
    dv_encode_opts_default(&eo);
    if (dv_delta_encoded_bound(&b->d) > cap) die("edge delta bound", DV_ETOOBIG);
    st = dv_delta_encode(&b->d, &eo, scratch, buf, buf + DV_DELTA_HEADER_SIZE, cap, &len);
    if (st != DV_OK) die("dv_delta_encode", st);
    apply_pair(r, ap, ap_nc, buf, DV_DELTA_HEADER_SIZE + len, add ? K_EDGE_ADD : K_EDGE_RM);
}

static void edge_pairs(dim_ctx *c, dv_db *R, dv_apply *ap, dv_apply *ap_nc) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_builder b;
    dv_delta_arena scratch;
    dv_delta_builder_init(&b, &mem);
    dv_delta_arena_init(&scratch, &mem);
    uint8_t buf[4096];
    uint32_t cap_slots = dv_db_slot_capacity(R), maxd = dv_db_max_degree(R, 0);
    uint32_t done = 0, tries = 0;
    while (done < c->o->edges && tries < c->o->edges * 1000) {
        tries++;
        uint32_t s = (uint32_t)(rng_next(&c->rng) % cap_slots), t = (uint32_t)(rng_next(&c->rng) % cap_slots);
        if (s == t || !dv_db_slot_live(R, s) || !dv_db_slot_live(R, t)) continue;
        const uint32_t *lst;
        uint32_t n;
        if (dv_db_neighbours(R, s, 0, &lst, &n) != DV_OK || n >= maxd) continue;
        int present = 0;
        for (uint32_t i = 0; i < n; i++) present |= lst[i] == t;
        if (present) continue;
        float dist = l2sq(dv_db_vector_of(R, s), dv_db_vector_of(R, t), c->dim);
        edge_delta(c->res, ap, ap_nc, &b, &scratch, 1, s, t, dist, buf, sizeof buf - DV_DELTA_HEADER_SIZE);
        edge_delta(c->res, ap, ap_nc, &b, &scratch, 0, s, t, 0, buf, sizeof buf - DV_DELTA_HEADER_SIZE);
        done++;
    }
    dv_delta_builder_free(&b);
    dv_delta_arena_free(&scratch);
}

static void run_dim(const opts *o, uint32_t dim, dim_result *res) {
    memset(res, 0, sizeof *res);
    res->dim = dim;
    res->n = o->n;
    dim_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.dim = dim;
    c.res = res;
    c.rng = 0x5eed0000u + dim;
    size_t pool_n = (size_t)o->n + 2u * o->per_kind + 100u * o->batches + 16;
    bench_matrix base, q;
    bench_synth_generate(pool_n, 0, dim, 1000, 0.7f, 20240601 + dim, &base, &q);
    c.pool = base.data;
    c.pool_n = pool_n;

    double t_start = now_us();
    c.P = open_db(dim, o->efc);
    c.T = open_db(dim, o->efc);
    c.cap = start_capture(c.P, NULL, 1);
    printf("  dim %u: loading %u vectors into P (captured) and T (plain)...\n", dim, o->n);
    fflush(stdout);
    load(&c);
    printf("  dim %u: %u single writes of each kind...\n", dim, o->per_kind);
    fflush(stdout);
    single_writes(&c);

    /* batches: a second capture on P from the next sequence, replica = copy of P now */
    dv_status st = dv_capture_stop(c.cap);
    if (st != DV_OK) die("dv_capture_stop", st);
    uint64_t last = dv_capture_last_sequence(c.cap);
    dv_capture_free(c.cap);
    dv_db *Rb;
    if ((st = dv_db_clone(c.P, &Rb)) != DV_OK) die("dv_db_clone", st);
    uint64_t hash_ckpt = dv_db_state_hash(Rb);
    dv_capture_config bc;
    dv_capture_config_default(&bc);
    bc.batch_max_deltas = 100;
    c.cap = start_capture(c.P, &bc, last + 1);
    size_t batch_start = c.s.n;
    printf("  dim %u: %u batches of 100 inserts and of 100 updates...\n", dim, o->batches);
    fflush(stdout);
    batched_writes(&c, K_BATCH_INS);
    batched_writes(&c, K_BATCH_UPD);
    if ((st = dv_capture_flush(c.cap)) != DV_OK) die("dv_capture_flush", st);
    drain(c.cap, &c.s, K_BATCH_UPD);
    res->capture_seconds = (now_us() - t_start) / 1e6;

    /* apply: replica R follows the single-delta stream, Rb the batched one */
    printf("  dim %u: applying %zu deltas to replicas...\n", dim, c.s.n);
    fflush(stdout);
    dv_db *R = open_db(dim, o->efc), *R2 = open_db(dim, o->efc), *Rb2;
    dv_apply *ap = NULL, *ap2 = NULL, *apb = NULL, *apb2 = NULL;
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.coherence_check = 0;
    if ((st = dv_apply_init(R, NULL, &ap)) != DV_OK || (st = dv_apply_init(R2, &ac, &ap2)) != DV_OK)
        die("dv_apply_init", st);
    apply_stream(res, ap, ap2, &c.s, 0, batch_start);
    edge_pairs(&c, R, ap, ap2);
    if ((st = dv_db_clone(Rb, &Rb2)) != DV_OK) die("dv_db_clone", st);
    ac.start_position = last;
    ac.coherence_check = 1;
    if ((st = dv_apply_init(Rb, &ac, &apb)) != DV_OK) die("dv_apply_init", st);
    ac.coherence_check = 0;
    if ((st = dv_apply_init(Rb2, &ac, &apb2)) != DV_OK) die("dv_apply_init", st);
    apply_stream(res, apb, apb2, &c.s, batch_start, c.s.n);

    /* convergence: R (single deltas + edge pairs) must equal P as it was at the
     * checkpoint (= Rb before the batches); Rb after the batches must equal P */
    res->hash_r = dv_db_state_hash(R);
    res->converged = res->hash_r == hash_ckpt && dv_db_state_hash(R2) == hash_ckpt;
    res->hash_p = dv_db_state_hash(c.P);
    res->converged_batches = res->hash_p == dv_db_state_hash(Rb) && res->hash_p == dv_db_state_hash(Rb2);
    dv_apply_free(ap);
    dv_apply_free(ap2);
    dv_apply_free(apb2);
    dv_db_close(R2);
    dv_db_close(Rb2);
    dv_apply_free(apb);
    dv_capture_free(c.cap);
    dv_db_close(R);
    dv_db_close(Rb);
    dv_db_close(c.P);
    dv_db_close(c.T);
    stream_free(&c.s);
    free(c.live.v);
    bench_matrix_free(&base);
}

/* ---- part 2: encoded size per delta kind ---------------------------------------------- */

enum { W_SPARSE, W_DRIFT, W_INSERT, W_COUNT };
static const char *const W_NAME[W_COUNT] = {"sparse update 5%", "dense drift", "fresh insert"};
static const char *const W_KEY[W_COUNT] = {"sparse_5pct", "dense_drift", "fresh_insert"};

typedef struct enc_cfg {
    const char *name;
    int compress, shuffle, before;
    dv_lossy_mode lossy;
    uint32_t parts;
} enc_cfg;

#define VM (DV_CAPTURE_VECTORS | DV_CAPTURE_METADATA)
static const enc_cfg ENC_CFGS[] = {
    {"f32, no compression", 0, 0, 0, DV_LOSSLESS, VM},
    {"f32 + LZ4", 1, 0, 0, DV_LOSSLESS, VM},
    {"f32 + LZ4 + shuffle (default)", 1, 1, 0, DV_LOSSLESS, VM},
    {"f32 + LZ4 + shuffle + before-image", 1, 1, 1, DV_LOSSLESS, VM},
    {"f16, no compression", 0, 0, 0, DV_LOSSY_F16, VM},
    {"f16 + LZ4 + shuffle", 1, 1, 0, DV_LOSSY_F16, VM},
    {"i8, no compression", 0, 0, 0, DV_LOSSY_I8, VM},
    {"i8 + LZ4", 1, 1, 0, DV_LOSSY_I8, VM},
    {"f32, no compression, with graph", 0, 0, 0, DV_LOSSLESS, DV_CAPTURE_ALL},
    {"f32 + LZ4 + shuffle, with graph", 1, 1, 0, DV_LOSSLESS, DV_CAPTURE_ALL},
};
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
            if (st != DV_OK) die("dv_capture_payload", st);
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
    char *src = xmalloc((size_t)sz), *sh = xmalloc((size_t)sz), *dst = xmalloc((size_t)LZ4_compressBound(sz));
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

static void run_encoding(const opts *o, uint32_t dim, enc_result *r) {
    memset(r, 0, sizeof *r);
    r->dim = dim;
    r->base_n = o->enc_base;
    r->n = o->enc_n;
    bench_matrix base, q;
    size_t pool_n = (size_t)o->enc_base + o->enc_n;
    bench_synth_generate(pool_n, 0, dim, 1000, 0.7f, 777 + dim, &base, &q);
    dv_db *B = open_db(dim, o->efc);
    char id[24];
    for (uint32_t i = 0; i < o->enc_base; i++) {
        make_id(id, sizeof id, i);
        dv_status st = dv_db_insert(B, id, base.data + (size_t)i * dim, NULL, 0);
        if (st != DV_OK) die("insert", st);
    }
    float *v = xmalloc(dim * sizeof *v), *old = xmalloc(dim * sizeof *old),
          *vals = xmalloc(dim * sizeof *vals);
    uint32_t *idx = xmalloc(dim * sizeof *idx);
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
        if (st != DV_OK) die("dv_db_clone", st);
        dv_capture_config cc;
        dv_capture_config_default(&cc);
        cc.compress = ec->compress;
        cc.shuffle = ec->shuffle;
        cc.before_images = ec->before;
        cc.lossy = ec->lossy;
        cc.parts = ec->parts;
        dv_capture *cap = start_capture(D, &cc, 1);
        uint64_t rng = 99; /* the same writes for every config */
        for (int w = 0; w < W_COUNT; w++) {
            for (uint32_t i = 0; i < o->enc_n; i++) {
                if (w == W_INSERT) {
                    make_id(id, sizeof id, o->enc_base + i);
                    const float *nv = base.data + (size_t)(o->enc_base + i) * dim;
                    st = dv_db_insert(D, id, nv, NULL, 0);
                    if (analyse) {
                        planes_add(&pl[w], nv, dim);
                        lz4_measure(&la[w], nv, dim);
                    }
                } else {
                    make_id(id, sizeof id, (uint32_t)(rng_next(&rng) % o->enc_base));
                    if ((st = dv_db_get(D, id, old)) != DV_OK) die("dv_db_get", st);
                    if (w == W_DRIFT) {
                        for (uint32_t d = 0; d < dim; d++) v[d] = old[d] + rng_gauss(&rng, 0.01f);
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
                        }
                    } else {
                        uint32_t k = dim / 20 ? dim / 20 : 1, stride = dim / k;
                        for (uint32_t j = 0; j < k; j++) {
                            idx[j] = j * stride + (uint32_t)(rng_next(&rng) % stride);
                            vals[j] = old[idx[j]] + rng_gauss(&rng, 0.05f);
                        }
                        st = dv_db_update_sparse(D, id, idx, vals, k);
                        if (analyse) {
                            planes_add(&pl[w], vals, k);
                            lz4_measure(&la[w], vals, k);
                        }
                    }
                }
                if (st != DV_OK) die(W_NAME[w], st);
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
    /* LZ4 on uniform random bytes of one dense delta's size */
    {
        uint64_t s = 5;
        lz4acc a;
        memset(&a, 0, sizeof a);
        for (int i = 0; i < 100; i++) {
            for (uint32_t d = 0; d < dim; d++) {
                uint32_t u = (uint32_t)rng_next(&s);
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

/* ---- part 4: 1% update, deltas vs a whole snapshot ----------------------------------- */

typedef struct snap_result {
    uint32_t n, dim, updates;
    /* per variant: 0 = dense drift (edges kept), 1 = replaced vectors (re-linked) */
    uint64_t delta_bytes[2];
    size_t deltas[2], with_graph[2];
    double apply_ms[2];      /* sum of per-delta apply times */
    double write_ms[2];      /* primary: the same writes with capture */
    uint64_t snapshot_bytes; /* exact packed size */
    uint64_t snapshot_lz4_bytes;
    double serialize_ms, lz4_ms, clone_ms; /* best of 3 */
    double build_s;
    int converged;
} snap_result;

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
    return p + 4;
}

/* Packed snapshot: header, then per live slot: slot, id (u8 len + bytes), level,
 * dim f32, metadata pairs (u8 count, u8/u16 lengths + bytes), per layer u8
 * count + u32 neighbours. buf NULL: size only. Exact for this layout. */
static uint64_t snapshot(const dv_db *db, uint8_t *buf) {
    uint32_t dim = dv_db_dim(db), cap = dv_db_slot_capacity(db), entry, max_level;
    dv_db_entry(db, &entry, &max_level);
    uint64_t bytes = 64; /* config, counts, entry point, level PRNG state */
    uint8_t *p = buf ? buf + 64 : NULL;
    if (buf) {
        memset(buf, 0, 64);
        put_u32(buf, dim);
        put_u32(buf + 4, cap);
        put_u32(buf + 8, entry);
        put_u32(buf + 12, max_level);
    }
    for (uint32_t s = 0; s < cap; s++) {
        if (!dv_db_slot_live(db, s)) continue;
        const char *id = dv_db_id_of(db, s);
        size_t il = strlen(id);
        uint32_t level = dv_db_level_of(db, s);
        const dv_meta_kv *m;
        size_t nm = 0;
        dv_db_meta_of(db, s, &m, &nm);
        uint64_t node = 4 + 1 + il + 1 + (uint64_t)dim * 4 + 1;
        for (size_t i = 0; i < nm; i++) node += 1 + strlen(m[i].key) + 2 + strlen(m[i].value);
        for (uint32_t l = 0; l <= level; l++) {
            const uint32_t *lst;
            uint32_t n = 0;
            dv_db_neighbours(db, s, l, &lst, &n);
            node += 1 + (uint64_t)n * 4;
            if (p) {
                if (l == 0) {
                    p = put_u32(p, s);
                    *p++ = (uint8_t)il;
                    memcpy(p, id, il);
                    p += il;
                    *p++ = (uint8_t)level;
                    memcpy(p, dv_db_vector_of(db, s), (size_t)dim * 4);
                    p += (size_t)dim * 4;
                    *p++ = (uint8_t)nm;
                    for (size_t i = 0; i < nm; i++) {
                        size_t kl = strlen(m[i].key), vl = strlen(m[i].value);
                        *p++ = (uint8_t)kl;
                        memcpy(p, m[i].key, kl);
                        p += kl;
                        *p++ = (uint8_t)(vl & 0xFF);
                        *p++ = (uint8_t)(vl >> 8);
                        memcpy(p, m[i].value, vl);
                        p += vl;
                    }
                }
                *p++ = (uint8_t)n;
                memcpy(p, lst, (size_t)n * 4);
                p += (size_t)n * 4;
            }
        }
        bytes += node;
    }
    return bytes;
}

static void run_snapshot(const opts *o, snap_result *r) {
    memset(r, 0, sizeof *r);
    uint32_t dim = 128, n = o->snap_n, upd = n / 100;
    r->n = n;
    r->dim = dim;
    r->updates = upd;
    bench_matrix base, q;
    bench_synth_generate((size_t)n + upd, 0, dim, 1000, 0.7f, 20240601, &base, &q);
    printf("  snapshot: building %u x %u (ef_construction %u)...\n", n, dim, o->efc);
    fflush(stdout);
    double t0 = now_us();
    dv_db *P = open_db(dim, o->efc);
    char id[24];
    for (uint32_t i = 0; i < n; i++) {
        make_id(id, sizeof id, i);
        dv_meta_kv meta[1] = {{"cluster", i % 2 ? "odd" : "even"}};
        dv_status st = dv_db_insert(P, id, base.data + (size_t)i * dim, meta, 1);
        if (st != DV_OK) die("insert", st);
    }
    r->build_s = (now_us() - t0) / 1e6;
    dv_db *R;
    dv_status st = dv_db_clone(P, &R);
    if (st != DV_OK) die("dv_db_clone", st);
    dv_capture *cap = start_capture(P, NULL, 1);
    dv_apply *ap;
    if ((st = dv_apply_init(R, NULL, &ap)) != DV_OK) die("dv_apply_init", st);
    /* 1% of the ids, distinct: a partial Fisher-Yates over 0..n-1 */
    uint32_t *perm = xmalloc((size_t)n * sizeof *perm);
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    uint64_t rng = 4242;
    float *v = xmalloc(dim * sizeof *v);
    for (int variant = 0; variant < 2; variant++) {
        for (uint32_t i = 0; i < upd; i++) {
            uint32_t j = i + (uint32_t)(rng_next(&rng) % (n - i)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        stream s;
        memset(&s, 0, sizeof s);
        for (uint32_t i = 0; i < upd; i++) {
            make_id(id, sizeof id, perm[i]);
            if ((st = dv_db_get(P, id, v)) != DV_OK) die("dv_db_get", st);
            if (variant == 0)
                for (uint32_t d = 0; d < dim; d++) v[d] += rng_gauss(&rng, 0.01f);
            else
                memcpy(v, base.data + (size_t)(n + i) * dim, dim * sizeof *v);
            double tw = now_us();
            if ((st = dv_db_update(P, id, v)) != DV_OK) die("dv_db_update", st);
            r->write_ms[variant] += (now_us() - tw) / 1e3;
            drain(cap, &s, K_DRIFT);
        }
        for (size_t i = 0; i < s.n; i++) {
            const blob *b = &s.d[i];
            if (b->b[9] & DV_FLAG_HAS_HNSW) r->with_graph[variant]++;
            double ta = now_us();
            st = dv_apply_delta(ap, b->b, b->b + DV_DELTA_HEADER_SIZE, b->len - DV_DELTA_HEADER_SIZE);
            r->apply_ms[variant] += (now_us() - ta) / 1e3;
            if (st != DV_OK) {
                fprintf(stderr, "apply: %s\n", dv_apply_last_error(ap));
                die("dv_apply_delta", st);
            }
        }
        r->delta_bytes[variant] = s.bytes;
        r->deltas[variant] = s.n;
        stream_free(&s);
    }
    r->converged = dv_db_state_hash(P) == dv_db_state_hash(R);
    /* the snapshot of the updated primary: exact size, packed copy, LZ4, clone */
    r->snapshot_bytes = snapshot(P, NULL);
    uint8_t *buf = xmalloc(r->snapshot_bytes);
    int lz_cap = LZ4_compressBound((int)r->snapshot_bytes);
    char *lz = xmalloc((size_t)lz_cap);
    r->serialize_ms = r->lz4_ms = r->clone_ms = 1e300;
    for (int rep = 0; rep < 3; rep++) {
        double ts = now_us();
        uint64_t got = snapshot(P, buf);
        double t_ser = (now_us() - ts) / 1e3;
        if (got != r->snapshot_bytes) die("snapshot size", DV_ECORRUPT);
        ts = now_us();
        int c = LZ4_compress_default((const char *)buf, lz, (int)r->snapshot_bytes, lz_cap);
        double t_lz = (now_us() - ts) / 1e3;
        r->snapshot_lz4_bytes = c > 0 ? (uint64_t)c : 0;
        dv_db *C;
        ts = now_us();
        if ((st = dv_db_clone(P, &C)) != DV_OK) die("dv_db_clone", st);
        double t_cl = (now_us() - ts) / 1e3;
        dv_db_close(C);
        if (t_ser < r->serialize_ms) r->serialize_ms = t_ser;
        if (t_lz < r->lz4_ms) r->lz4_ms = t_lz;
        if (t_cl < r->clone_ms) r->clone_ms = t_cl;
    }
    free(buf);
    free(lz);
    free(perm);
    free(v);
    dv_apply_free(ap);
    dv_capture_free(cap);
    dv_db_close(P);
    dv_db_close(R);
    bench_matrix_free(&base);
}

/* ---- report ------------------------------------------------------------------------ */

static double mean_b(const enc_cell *c) {
    return c->deltas ? 64.0 + (double)c->stored / (double)c->deltas : NAN;
}

static double capture_only_rate(const capture_row *r) {
    double ov = lat_pct(&r->diff, 0.5);
    if (!(ov > 0.01)) ov = 0.01;
    return 1e6 / (ov + lat_pct(&r->consumer, 0.5));
}

static double writes_per_s(const capture_row *r) {
    double t = lat_sum(&r->capt) + lat_sum(&r->consumer);
    return t > 0 ? (double)r->n / (t / 1e6) : NAN;
}

static void print_capture(const dim_result *r) {
    printf("\n== 1. capture, dim %u (%u vectors loaded; us per write: P with capture vs twin T without, same "
           "writes;\n   overhead = median of the paired differences; consumer = poll + copy out + release "
           "per write)\n",
           r->dim, r->n);
    printf("   %-24s %6s %9s %9s %9s %9s %9s %7s %9s %11s %11s %8s %6s\n", "write", "n", "plain med",
           "plain p99", "capt med", "capt p99", "overhead", "ovh %", "consumer", "writes/s", "capt-only/s",
           "B/delta", "graph");
    for (int k = K_LOAD; k <= K_BATCH_UPD; k++) {
        const capture_row *c = &r->cap[k];
        if (!c->n) continue;
        double pm = lat_pct(&c->plain, 0.5), ov = lat_pct(&c->diff, 0.5);
        const char *name = k == K_BATCH_INS   ? "insert, batched by 100"
                           : k == K_BATCH_UPD ? "dense drift, batched"
                                              : KIND_NAME[k];
        char graph[16] = "-";
        if (k < K_BATCH_INS && c->deltas)
            snprintf(graph, sizeof graph, "%.0f%%", 100.0 * (double)c->with_graph / (double)c->deltas);
        printf("   %-24s %6zu %9.2f %9.2f %9.2f %9.2f %9.2f %6.1f%% %9.2f %11.0f %11.0f %8.0f %6s\n", name,
               c->n, pm, lat_pct(&c->plain, 0.99), lat_pct(&c->capt, 0.5), lat_pct(&c->capt, 0.99), ov,
               100.0 * ov / pm, lat_pct(&c->consumer, 0.5), writes_per_s(c), capture_only_rate(c),
               c->deltas ? (double)c->bytes / (double)c->deltas : 0.0, graph);
    }
    printf(
        "   (seed floor: 50,000 deltas/s captured; writes/s = writes / (capture-side write time + consumer "
        "time);\n    capt-only/s = 1 / (median overhead + median consumer time): what capture itself "
        "allows)\n");
}

static void print_apply(const dim_result *r) {
    printf("\n== 3. apply on a structural replica, dim %u (dv_apply_delta per delta, coherence check on; "
           "replica at %u+ vectors)\n",
           r->dim, r->n);
    printf("   %-24s %6s %9s %9s %9s %9s %9s %9s %12s %10s\n", "operation", "n", "median", "p99", "seed",
           "seed/med", "B/delta", "no-coh", "logical med", "logic/str");
    for (int k = 0; k < K_COUNT; k++) {
        const lat *l = &r->apply[k];
        if (!l->n) continue;
        double m = lat_pct(l, 0.5), lg = lat_pct(&r->logical[k], 0.5);
        char seed[16] = "-", ratio[16] = "-", lgs[16] = "-", lgr[16] = "-";
        if (SEED_US[k] > 0) {
            snprintf(seed, sizeof seed, "<%.0f", SEED_US[k]);
            snprintf(ratio, sizeof ratio, "%.1fx", SEED_US[k] / m);
        }
        if (r->logical[k].n) {
            snprintf(lgs, sizeof lgs, "%.2f", lg);
            snprintf(lgr, sizeof lgr, "%.1fx", lg / m);
        }
        printf("   %-24s %6zu %9.2f %9.2f %9s %9s %9.0f %9.2f %12s %10s\n", KIND_NAME[k], l->n, m,
               lat_pct(l, 0.99), seed, ratio, (double)r->bytes[k] / (double)r->n_deltas[k],
               lat_pct(&r->apply_nc[k], 0.5), lgs, lgr);
    }
    printf(
        "   seed/med > 1 beats the seed target by that factor (our aim: >= 10x). no-coh = median on a twin\n"
        "   replica with coherence_check = 0 (same deltas, alternating order). logical med = the same\n"
        "   change done by dv_db_* on a replica with the same config (what a replica without structural\n"
        "   deltas pays; batches: sum of the 100 writes). Replica == primary at the checkpoint: %s; batch\n"
        "   replica == primary at the end: %s\n",
        r->converged ? "yes" : "NO", r->converged_batches ? "yes" : "NO");
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
}

static void print_snapshot(const snap_result *s) {
    printf("\n== 4. 1%% update of %u x %u: deltas vs a whole snapshot (%u vectors updated per variant)\n",
           s->n, s->dim, s->updates);
    printf("   primary build %.1f s; replica = copy of the primary before the updates, applies the deltas\n",
           s->build_s);
    static const char *vn[2] = {"dense drift N(0, 0.01)", "replaced vectors (re-link)"};
    printf("   %-28s %8s %8s %14s %10s %12s %12s %12s\n", "variant", "deltas", "w/graph", "delta bytes",
           "B/delta", "snap/deltas", "apply ms", "clone/apply");
    for (int v = 0; v < 2; v++)
        printf("   %-28s %8zu %8zu %14llu %10.0f %11.0fx %12.2f %11.1fx\n", vn[v], s->deltas[v],
               s->with_graph[v], (unsigned long long)s->delta_bytes[v],
               (double)s->delta_bytes[v] / (double)s->deltas[v],
               (double)s->snapshot_bytes / (double)s->delta_bytes[v], s->apply_ms[v],
               s->clone_ms / s->apply_ms[v]);
    printf("   snapshot: %llu bytes packed (ids, vectors, metadata, levels, every neighbour list), %llu with "
           "LZ4\n",
           (unsigned long long)s->snapshot_bytes, (unsigned long long)s->snapshot_lz4_bytes);
    printf(
        "   producing it: dv_db_clone %.1f ms (in-memory lower bound of build + load), packed serialization "
        "%.1f ms, LZ4 %.1f ms\n",
        s->clone_ms, s->serialize_ms, s->lz4_ms);
    printf("   replica == primary after both variants: %s\n", s->converged ? "yes" : "NO");
}

static void json_lat(FILE *f, const lat *l) {
    if (!l->n) {
        fprintf(f, "null");
        return;
    }
    fprintf(f, "{\"n\": %zu, \"median_us\": %.3f, \"p99_us\": %.3f, \"mean_us\": %.3f}", l->n,
            lat_pct(l, 0.5), lat_pct(l, 0.99), lat_sum(l) / (double)l->n);
}

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(out, cap, "%s", strchr(line, ':') + 2);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    fclose(f);
}

static void git_rev(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *p = popen("git describe --always --dirty 2>/dev/null", "r");
    if (!p) return;
    if (fgets(out, (int)cap, p)) out[strcspn(out, "\n")] = 0;
    pclose(p);
}

static void write_json(const opts *o, const dim_result *dr, size_t nd, const enc_result *e,
                       const snap_result *s, double total_s) {
    mkdir(o->out_dir, 0777);
    char path[1024], cpu[256], rev[64], date[32];
    snprintf(path, sizeof path, "%s/pipeline%s.json", o->out_dir, o->quick ? "-quick" : "");
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return;
    }
    cpu_model(cpu, sizeof cpu);
    git_rev(rev, sizeof rev);
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", gmtime(&t));
    fprintf(f,
            "{\n  \"bench\": \"pipeline\", \"quick\": %s, \"date_utc\": \"%s\", \"cpu\": \"%s\", \"git\": "
            "\"%s\",\n",
            o->quick ? "true" : "false", date, cpu, rev);
    fprintf(f, "  \"simd\": \"%s\", \"threads\": 1, \"seconds\": %.1f, \"M\": 16, \"ef_construction\": %u,\n",
            dv_simd_backend(), total_s, o->efc);
    fprintf(f, "  \"time_method\": \"CLOCK_MONOTONIC around each call; median and nearest-rank p99\",\n");
    fprintf(f, "  \"dims\": [\n");
    for (size_t i = 0; i < nd; i++) {
        const dim_result *r = &dr[i];
        fprintf(
            f,
            "    {\"dim\": %u, \"n\": %u, \"converged\": %s, \"converged_batches\": %s,\n     \"capture\": {",
            r->dim, r->n, r->converged ? "true" : "false", r->converged_batches ? "true" : "false");
        int first = 1;
        for (int k = K_LOAD; k <= K_BATCH_UPD; k++) {
            const capture_row *c = &r->cap[k];
            if (!c->n) continue;
            fprintf(
                f,
                "%s\n       \"%s\": {\"writes\": %zu, \"deltas\": %zu, \"with_graph\": %zu, \"bytes\": %llu, "
                "\"writes_per_s\": %.1f, \"capture_only_per_s\": %.1f,\n         \"plain\": ",
                first ? "" : ",", KIND_KEY[k], c->n, c->deltas, c->with_graph, (unsigned long long)c->bytes,
                writes_per_s(c), capture_only_rate(c));
            json_lat(f, &c->plain);
            fprintf(f, ", \"with_capture\": ");
            json_lat(f, &c->capt);
            fprintf(f, ",\n         \"overhead_paired\": ");
            json_lat(f, &c->diff);
            fprintf(f, ", \"consumer\": ");
            json_lat(f, &c->consumer);
            fprintf(f, "}");
            first = 0;
        }
        fprintf(f, "},\n     \"apply\": {");
        first = 1;
        for (int k = 0; k < K_COUNT; k++) {
            if (!r->apply[k].n) continue;
            fprintf(f,
                    "%s\n       \"%s\": {\"seed_target_us\": %g, \"bytes_per_delta\": %.1f, \"structural\": ",
                    first ? "" : ",", KIND_KEY[k], SEED_US[k], (double)r->bytes[k] / (double)r->n_deltas[k]);
            json_lat(f, &r->apply[k]);
            fprintf(f, ", \"structural_no_coherence_check\": ");
            json_lat(f, &r->apply_nc[k]);
            fprintf(f, ", \"logical_replica_dv_db\": ");
            json_lat(f, &r->logical[k]);
            fprintf(f, "}");
            first = 0;
        }
        fprintf(f, "}}%s\n", i + 1 < nd ? "," : "");
    }
    fprintf(f, "  ],\n");
    if (e) {
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
        fprintf(f, "\"dense_drift_xor_old\": [%.4f, %.4f, %.4f, %.4f]},\n", e->xor_plane_h[0],
                e->xor_plane_h[1], e->xor_plane_h[2], e->xor_plane_h[3]);
        fprintf(f, "    \"lz4_on_values\": {");
        for (int w = 0; w < W_COUNT; w++)
            fprintf(f, "\"%s\": {\"plain\": %.4f, \"shuffled\": %.4f}, ", W_KEY[w], e->lz4_ratio[w][0],
                    e->lz4_ratio[w][1]);
        fprintf(f, "\"uniform_random\": %.4f}},\n", e->lz4_random_ratio);
    }
    if (s) {
        fprintf(f,
                "  \"snapshot\": {\"n\": %u, \"dim\": %u, \"updated\": %u, \"build_s\": %.2f, \"converged\": "
                "%s,\n",
                s->n, s->dim, s->updates, s->build_s, s->converged ? "true" : "false");
        fprintf(f,
                "    \"snapshot_bytes\": %llu, \"snapshot_lz4_bytes\": %llu, \"clone_ms\": %.3f, "
                "\"serialize_ms\": %.3f, \"lz4_ms\": %.3f,\n",
                (unsigned long long)s->snapshot_bytes, (unsigned long long)s->snapshot_lz4_bytes, s->clone_ms,
                s->serialize_ms, s->lz4_ms);
        static const char *vk[2] = {"dense_drift", "replaced_relink"};
        for (int v = 0; v < 2; v++)
            fprintf(f,
                    "    \"%s\": {\"deltas\": %zu, \"with_graph\": %zu, \"delta_bytes\": %llu, \"apply_ms\": "
                    "%.3f, "
                    "\"primary_write_ms\": %.3f}%s\n",
                    vk[v], s->deltas[v], s->with_graph[v], (unsigned long long)s->delta_bytes[v],
                    s->apply_ms[v], s->write_ms[v], v ? "" : ",");
        fprintf(f, "  },\n");
    }
    fprintf(f, "  \"end\": true\n}\n");
    fclose(f);
    printf("\nwrote %s\n", path);
}

int main(int argc, char **argv) {
    opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = "bench/results";
    int dims_given = 0;
    uint32_t n_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            o.quick = 1;
        else if (!strcmp(a, "--out") && v)
            o.out_dir = argv[++i];
        else if (!strcmp(a, "--n") && v)
            n_given = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--dims") && v) {
            char *s = argv[++i], *end;
            while (*s && o.n_dims < 4) {
                unsigned long d = strtoul(s, &end, 10);
                if (end == s || d == 0 || d > DV_MAX_DIM) break;
                o.dims[o.n_dims++] = (uint32_t)d;
                s = *end == ',' ? end + 1 : end;
            }
            dims_given = 1;
        } else {
            fprintf(stderr, "usage: bench_pipeline [--quick] [--out DIR] [--dims 384,128] [--n N]\n");
            return 2;
        }
    }
    if (!dims_given) {
        o.dims[0] = 384;
        o.dims[1] = 128;
        o.n_dims = 2;
    }
    o.efc = 200;
    if (o.quick) {
        o.n = 2000, o.per_kind = 200, o.batches = 5, o.edges = 300, o.enc_n = 200, o.enc_base = 1000,
        o.snap_n = 10000;
    } else {
        o.n = 20000, o.per_kind = 2000, o.batches = 20, o.edges = 2000, o.enc_n = 500, o.enc_base = 5000,
        o.snap_n = 100000;
    }
    if (n_given) o.n = n_given;
    printf("bench_pipeline%s: capture, encoding, apply (deltavec %s, SIMD %s, one thread)\n",
           o.quick ? " --quick" : "", dv_version_string(), dv_simd_backend());
    double t0 = now_us();
    dim_result dr[4];
    for (size_t i = 0; i < o.n_dims; i++) run_dim(&o, o.dims[i], &dr[i]);
    printf("  encoding sizes...\n");
    fflush(stdout);
    enc_result er;
    run_encoding(&o, 384, &er);
    snap_result sr;
    run_snapshot(&o, &sr);
    double total = (now_us() - t0) / 1e6;
    for (size_t i = 0; i < o.n_dims; i++) print_capture(&dr[i]);
    print_encoding(&er);
    for (size_t i = 0; i < o.n_dims; i++) print_apply(&dr[i]);
    print_snapshot(&sr);
    printf("\ntotal %.1f s\n", total);
    write_json(&o, dr, o.n_dims, &er, &sr, total);
    int ok = sr.converged;
    for (size_t i = 0; i < o.n_dims; i++) {
        ok = ok && dr[i].converged && dr[i].converged_batches;
        for (int k = 0; k < K_COUNT; k++) {
            lat_free(&dr[i].cap[k].plain);
            lat_free(&dr[i].cap[k].capt);
            lat_free(&dr[i].cap[k].diff);
            lat_free(&dr[i].cap[k].consumer);
            lat_free(&dr[i].apply[k]);
            lat_free(&dr[i].apply_nc[k]);
            lat_free(&dr[i].logical[k]);
        }
    }
    if (!ok) fprintf(stderr, "bench_pipeline: a replica did not converge\n");
    return ok ? 0 : 1;
}
