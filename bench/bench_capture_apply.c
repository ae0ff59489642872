/*
 * bench_capture_apply.c -- what capture costs a primary and what apply costs
 * a replica, per kind of write, on one workload (docs/BENCH.md "Capture,
 * encoding and apply"). Ring throughput is bench_ring.c, parallel-apply
 * worker scaling bench_apply_parallel.c, encoded sizes bench_encoding.c.
 *
 * Per dim (one process, one thread, synthetic clustered data of dataset.h):
 *   capture  a primary P with capture and its twin T without (same config
 *            and seed, so the same graph), fed the same writes, interleaved
 *            in chunks; every write timed on both. A consumer drains P's
 *            ring after every write (poll, copy out, release), timed on its
 *            own.
 *   apply    the stream P produced is replayed to a replica R: the load
 *            (N inserts) brings R to position k, then every later delta is
 *            timed one by one with dv_apply_delta, grouped by kind. Batches
 *            come from a second capture (batch_max_deltas = 100) applied to
 *            a copy of P taken at that checkpoint. Single HNSW edge
 *            add/remove are REINDEX deltas built with the internal builder
 *            (src/delta/delta.h), added then removed again, so R ends equal
 *            to P (hash checked). T's per-write times are what a logical
 *            replica pays for the same changes (dv_db_* on a replica with
 *            the same config).
 *
 * Usage: bench_capture_apply [--quick] [--out DIR] [--dims 384,128] [--n N]
 * Writes DIR/capture_apply.json (--quick: DIR/capture_apply-quick.json).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "db/replay.h"
#include "delta/delta.h"
#include "deltavec.h"
#include "pipeline_common.h"

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
/* Apply latency targets of the design (us); 0 = none. */
static const double TARGET_US[K_COUNT] = {0, 50, 30, 30, 10, 20, 2000, 1000, 15, 10};

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
        if (!s->v) pl_die("realloc", DV_ENOMEM);
    }
    s->v[s->n++] = id;
}

/* ---- part 1 + 3: capture and apply per dim ---------------------------------------- */

typedef struct capture_row {
    size_t n;                           /* writes */
    pl_lat plain, capt, diff, consumer; /* per write (consumer: per write of that kind) */
    size_t deltas, with_graph;          /* deltas committed; deltas that carry a graph part */
    uint64_t bytes;                     /* header + payload bytes committed */
} capture_row;

/* Capture throughput on one core: thread CPU time of rounds of the same
 * writes on T and on P (with its consumer draining every 64 writes). */
typedef struct thru_row {
    uint32_t rounds, per_round;
    pl_lat plain, captured, diff; /* thread CPU us per write, one sample per round */
} thru_row;

enum { T_SPARSE, T_DRIFT, T_COUNT };
static const int THRU_KIND[T_COUNT] = {K_SPARSE, K_DRIFT};
static const char *const THRU_KEY[T_COUNT] = {"sparse_5pct", "dense_drift"};

typedef struct dim_result {
    uint32_t dim, n;
    capture_row cap[K_COUNT];
    thru_row thru[T_COUNT];
    pl_lat apply[K_COUNT];     /* per delta */
    pl_lat apply_cpu[K_COUNT]; /* the same deltas in thread CPU time (what a busy machine disturbs least) */
    pl_lat apply_nc[K_COUNT];  /* the same deltas on a twin replica with coherence_check = 0 */
    pl_lat logical[K_COUNT];   /* T's per-write time (batches: sum per 100) */
    uint64_t bytes[K_COUNT];
    size_t n_deltas[K_COUNT];
    double capture_seconds; /* whole part */
    int converged, converged_batches;
    uint64_t hash_p, hash_r;
} dim_result;

typedef struct dim_ctx {
    const pl_opts *o;
    uint32_t dim;
    dv_db *P, *T;
    dv_capture *cap;
    pl_stream s;
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
        double t0 = pl_now_us();
        dv_status st = do_write(db, w);
        double t = pl_now_us() - t0;
        if (st != DV_OK) pl_die(KIND_NAME[w->kind], st);
        if (on_p)
            tp = t;
        else
            tt = t;
    }
    size_t before = c->s.n;
    double t0 = pl_now_us();
    size_t got = pl_drain(c->cap, &c->s, kind);
    double tc = pl_now_us() - t0;
    row->n++;
    pl_lat_add(&row->plain, tt);
    pl_lat_add(&row->capt, tp);
    pl_lat_add(&row->diff, tp - tt);
    pl_lat_add(&row->consumer, tc);
    row->deltas += got;
    for (size_t i = before; i < c->s.n; i++) {
        row->bytes += c->s.d[i].len;
        if (c->s.d[i].b[9] & DV_FLAG_HAS_HNSW) row->with_graph++;
    }
    pl_lat_add(&c->res->logical[kind], tt);
}

static const float *next_pool_row(dim_ctx *c) {
    if (c->pool_next >= c->pool_n) pl_die("vector pool exhausted", DV_EINVAL);
    return c->pool + c->pool_next++ * c->dim;
}

static void load(dim_ctx *c) {
    write_op w;
    memset(&w, 0, sizeof w);
    w.kind = K_LOAD;
    for (uint32_t i = 0; i < c->o->n; i++) {
        pl_make_id(w.id, sizeof w.id, c->next_id);
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
        pl_make_id(w->id, sizeof w->id, c->next_id);
        idset_add(&c->live, c->next_id++);
        w->vec = next_pool_row(c);
        return;
    }
    size_t pick = pl_rng_next(&c->rng) % c->live.n;
    pl_make_id(w->id, sizeof w->id, c->live.v[pick]);
    if (kind == K_DELETE) {
        c->live.v[pick] = c->live.v[--c->live.n];
        return;
    }
    dv_status st = dv_db_get(c->P, w->id, buf);
    if (st != DV_OK) pl_die("dv_db_get", st);
    if (kind == K_DRIFT || kind == K_BATCH_UPD) {
        for (uint32_t d = 0; d < dim; d++) buf[d] += pl_rng_gauss(&c->rng, 0.01f);
        w->vec = buf;
    } else if (kind == K_RELINK) {
        w->vec = next_pool_row(c);
    } else { /* sparse: 5% of the dims, distinct, increasing, += N(0, 0.05) */
        uint32_t k = dim / 20 ? dim / 20 : 1, n = 0;
        uint32_t stride = dim / k;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t d = j * stride + (uint32_t)(pl_rng_next(&c->rng) % stride);
            w->idx[n] = d;
            w->vals[n++] = buf[d] + pl_rng_gauss(&c->rng, 0.05f);
        }
        w->n_sparse = n;
    }
}

static void single_writes(dim_ctx *c) {
    static const int kinds[] = {K_INSERT, K_DRIFT, K_RELINK, K_SPARSE, K_DELETE};
    size_t total = (size_t)c->o->per_kind * 5;
    int *order = pl_xmalloc(total * sizeof *order);
    for (size_t i = 0; i < total; i++) order[i] = kinds[i % 5];
    for (size_t i = total; i > 1; i--) { /* shuffle: kinds interleaved at random */
        size_t j = pl_rng_next(&c->rng) % i;
        int t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    float *buf = pl_xmalloc(c->dim * sizeof *buf);
    write_op w;
    memset(&w, 0, sizeof w);
    w.idx = pl_xmalloc(c->dim * sizeof *w.idx);
    w.vals = pl_xmalloc(c->dim * sizeof *w.vals);
    for (size_t i = 0; i < total; i++) {
        make_write(c, order[i], &w, buf);
        run_write(c, &w, (i / 250) % 2 == 0, order[i]);
    }
    free(order);
    free(buf);
    free(w.idx);
    free(w.vals);
}

/* Batches of 100 from a second capture; returns the pl_stream (its own). */
static void batched_writes(dim_ctx *c, int kind) {
    float *buf = pl_xmalloc(c->dim * sizeof *buf);
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
        pl_lat_add(&c->res->logical[kind], sum_t);
    }
    free(buf);
}

static double thread_cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Applies one delta, timed (wall clock; *cpu_us: thread CPU time, clock reads included). */
static double apply_one(dv_apply *ap, const uint8_t *hdr, size_t len, double *cpu_us) {
    double c0 = thread_cpu_us(), t0 = pl_now_us();
    dv_status st = dv_apply_delta(ap, hdr, hdr + DV_DELTA_HEADER_SIZE, len - DV_DELTA_HEADER_SIZE);
    double t = pl_now_us() - t0;
    *cpu_us = thread_cpu_us() - c0;
    if (st != DV_OK) {
        fprintf(stderr, "apply: %s\n", dv_apply_last_error(ap));
        pl_die("dv_apply_delta", st);
    }
    return t;
}

/* Applies delta (hdr, len) of kind to ap (coherence on) and ap_nc (off), in
 * alternating order, recording both times. */
static void apply_pair(dim_result *r, dv_apply *ap, dv_apply *ap_nc, const uint8_t *hdr, size_t len,
                       int kind) {
    int nc_first = (r->n_deltas[kind] & 1) != 0;
    double t_nc = 0, cpu = 0, cpu_nc = 0;
    if (nc_first) t_nc = apply_one(ap_nc, hdr, len, &cpu_nc);
    pl_lat_add(&r->apply[kind], apply_one(ap, hdr, len, &cpu));
    pl_lat_add(&r->apply_cpu[kind], cpu);
    if (!nc_first) t_nc = apply_one(ap_nc, hdr, len, &cpu_nc);
    pl_lat_add(&r->apply_nc[kind], t_nc);
    r->bytes[kind] += len;
    r->n_deltas[kind]++;
}

/* Applies every pl_blob of s from index `from`, timing each by its kind. */
static void apply_stream(dim_result *r, dv_apply *ap, dv_apply *ap_nc, const pl_stream *s, size_t from,
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
    if (st != DV_OK) pl_die("builder edge", st);
    b->d.h.sequence = dv_apply_position(ap) + 1;
    b->d.h.timestamp = pl_clock(NULL);
    b->d.h.prev_sequence = 0;
    size_t len = 0;
    dv_delta_arena_reset(scratch);
    dv_encode_opts eo;
    dv_encode_opts_default(&eo);
    if (dv_delta_encoded_bound(&b->d) > cap) pl_die("edge delta bound", DV_ETOOBIG);
    st = dv_delta_encode(&b->d, &eo, scratch, buf, buf + DV_DELTA_HEADER_SIZE, cap, &len);
    if (st != DV_OK) pl_die("dv_delta_encode", st);
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
        uint32_t s = (uint32_t)(pl_rng_next(&c->rng) % cap_slots),
                 t = (uint32_t)(pl_rng_next(&c->rng) % cap_slots);
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

/* Thread CPU time of the writes on db; with cap, its consumer polls, reads
 * and releases every 64 writes (and at the end), in batches as a real one does. */
static double timed_writes(dv_db *db, dv_capture *cap, const write_op *w, uint32_t n) {
    double t0 = thread_cpu_us();
    for (uint32_t i = 0; i < n; i++) {
        dv_status st = do_write(db, &w[i]);
        if (st != DV_OK) pl_die(KIND_NAME[w[i].kind], st);
        if (cap && (i % 64 == 63 || i + 1 == n)) pl_drain(cap, NULL, 0);
    }
    return thread_cpu_us() - t0;
}

/* Rounds of per_round writes of one kind (built against P, so P and T stay
 * twins), alternating which db goes first; cap is a capture of P whose
 * stream is read and dropped. */
static void throughput(dim_ctx *c, dv_capture *cap, int t, uint32_t rounds, uint32_t per_round) {
    thru_row *row = &c->res->thru[t];
    row->rounds = rounds;
    row->per_round = per_round;
    write_op *w = pl_xmalloc(per_round * sizeof *w);
    float *vecs = pl_xmalloc((size_t)per_round * c->dim * sizeof *vecs);
    uint32_t *idx = pl_xmalloc((size_t)per_round * c->dim * sizeof *idx);
    float *vals = pl_xmalloc((size_t)per_round * c->dim * sizeof *vals);
    for (uint32_t r = 0; r < rounds; r++) {
        for (uint32_t i = 0; i < per_round; i++) {
            memset(&w[i], 0, sizeof w[i]);
            w[i].idx = idx + (size_t)i * c->dim;
            w[i].vals = vals + (size_t)i * c->dim;
            make_write(c, THRU_KIND[t], &w[i], vecs + (size_t)i * c->dim);
        }
        double tp, tt;
        if (r % 2) {
            tp = timed_writes(c->P, cap, w, per_round);
            tt = timed_writes(c->T, NULL, w, per_round);
        } else {
            tt = timed_writes(c->T, NULL, w, per_round);
            tp = timed_writes(c->P, cap, w, per_round);
        }
        pl_lat_add(&row->plain, tt / per_round);
        pl_lat_add(&row->captured, tp / per_round);
        pl_lat_add(&row->diff, (tp - tt) / per_round);
    }
    free(w);
    free(vecs);
    free(idx);
    free(vals);
}

static void run_dim(const pl_opts *o, uint32_t dim, dim_result *res) {
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

    double t_start = pl_now_us();
    c.P = pl_open_db(dim, o->efc);
    c.T = pl_open_db(dim, o->efc);
    c.cap = pl_start_capture(c.P, NULL, 1);
    printf("  dim %u: loading %u vectors into P (captured) and T (plain)...\n", dim, o->n);
    fflush(stdout);
    load(&c);
    printf("  dim %u: %u single writes of each kind...\n", dim, o->per_kind);
    fflush(stdout);
    single_writes(&c);

    /* batches: a second capture on P from the next sequence, replica = copy of P now */
    dv_status st = dv_capture_stop(c.cap);
    if (st != DV_OK) pl_die("dv_capture_stop", st);
    uint64_t last = dv_capture_last_sequence(c.cap);
    dv_capture_free(c.cap);
    dv_db *Rb;
    if ((st = dv_db_clone(c.P, &Rb)) != DV_OK) pl_die("dv_db_clone", st);
    uint64_t hash_ckpt = dv_db_state_hash(Rb);
    dv_capture_config bc;
    dv_capture_config_default(&bc);
    bc.batch_max_deltas = 100;
    c.cap = pl_start_capture(c.P, &bc, last + 1);
    size_t batch_start = c.s.n;
    printf("  dim %u: %u batches of 100 inserts and of 100 updates...\n", dim, o->batches);
    fflush(stdout);
    batched_writes(&c, K_BATCH_INS);
    batched_writes(&c, K_BATCH_UPD);
    if ((st = dv_capture_flush(c.cap)) != DV_OK) pl_die("dv_capture_flush", st);
    pl_drain(c.cap, &c.s, K_BATCH_UPD);
    res->capture_seconds = (pl_now_us() - t_start) / 1e6;

    /* apply: replica R follows the single-delta pl_stream, Rb the batched one */
    printf("  dim %u: applying %zu deltas to replicas...\n", dim, c.s.n);
    fflush(stdout);
    dv_db *R = pl_open_db(dim, o->efc), *R2 = pl_open_db(dim, o->efc), *Rb2;
    dv_apply *ap = NULL, *ap2 = NULL, *apb = NULL, *apb2 = NULL;
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.coherence_check = 0;
    if ((st = dv_apply_init(R, NULL, &ap)) != DV_OK || (st = dv_apply_init(R2, &ac, &ap2)) != DV_OK)
        pl_die("dv_apply_init", st);
    apply_stream(res, ap, ap2, &c.s, 0, batch_start);
    edge_pairs(&c, R, ap, ap2);
    if ((st = dv_db_clone(Rb, &Rb2)) != DV_OK) pl_die("dv_db_clone", st);
    ac.start_position = last;
    ac.coherence_check = 1;
    if ((st = dv_apply_init(Rb, &ac, &apb)) != DV_OK) pl_die("dv_apply_init", st);
    ac.coherence_check = 0;
    if ((st = dv_apply_init(Rb2, &ac, &apb2)) != DV_OK) pl_die("dv_apply_init", st);
    apply_stream(res, apb, apb2, &c.s, batch_start, c.s.n);

    /* convergence: R (single deltas + edge pairs) must equal P as it was at the
     * checkpoint (= Rb before the batches); Rb after the batches must equal P */
    res->hash_r = dv_db_state_hash(R);
    res->converged = res->hash_r == hash_ckpt && dv_db_state_hash(R2) == hash_ckpt;
    res->hash_p = dv_db_state_hash(c.P);
    res->converged_batches = res->hash_p == dv_db_state_hash(Rb) && res->hash_p == dv_db_state_hash(Rb2);

    /* throughput: a third capture (default config) on P, its stream dropped */
    if ((st = dv_capture_stop(c.cap)) != DV_OK) pl_die("dv_capture_stop", st);
    uint64_t next = dv_capture_last_sequence(c.cap) + 1;
    dv_capture_free(c.cap);
    c.cap = pl_start_capture(c.P, NULL, next);
    printf("  dim %u: capture throughput (thread CPU time)...\n", dim);
    fflush(stdout);
    for (int t = 0; t < T_COUNT; t++) throughput(&c, c.cap, t, o->quick ? 5 : 21, 1000);
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
    pl_stream_free(&c.s);
    free(c.live.v);
    bench_matrix_free(&base);
}

/* ---- report ------------------------------------------------------------------------ */

static double capture_only_rate(const capture_row *r) {
    double ov = pl_lat_pct(&r->diff, 0.5);
    if (!(ov > 0.01)) ov = 0.01;
    return 1e6 / (ov + pl_lat_pct(&r->consumer, 0.5));
}

static double writes_per_s(const capture_row *r) {
    double t = pl_lat_sum(&r->capt) + pl_lat_sum(&r->consumer);
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
        double pm = pl_lat_pct(&c->plain, 0.5), ov = pl_lat_pct(&c->diff, 0.5);
        const char *name = k == K_BATCH_INS   ? "insert, batched by 100"
                           : k == K_BATCH_UPD ? "dense drift, batched"
                                              : KIND_NAME[k];
        char graph[16] = "-";
        if (k < K_BATCH_INS && c->deltas)
            snprintf(graph, sizeof graph, "%.0f%%", 100.0 * (double)c->with_graph / (double)c->deltas);
        printf("   %-24s %6zu %9.2f %9.2f %9.2f %9.2f %9.2f %6.1f%% %9.2f %11.0f %11.0f %8.0f %6s\n", name,
               c->n, pm, pl_lat_pct(&c->plain, 0.99), pl_lat_pct(&c->capt, 0.5), pl_lat_pct(&c->capt, 0.99),
               ov, 100.0 * ov / pm, pl_lat_pct(&c->consumer, 0.5), writes_per_s(c), capture_only_rate(c),
               c->deltas ? (double)c->bytes / (double)c->deltas : 0.0, graph);
    }
    printf(
        "   (target floor: 50,000 deltas/s captured; writes/s = writes / (capture-side write time + consumer "
        "time);\n    capt-only/s = 1 / (median overhead + median consumer time): what capture itself "
        "allows)\n");
}

static double thru_rate(const thru_row *t) {
    double d = pl_lat_pct(&t->diff, 0.5);
    return d > 0 ? 1e6 / d : NAN;
}

static void print_throughput(const dim_result *r) {
    printf(
        "\n== 1b. capture throughput on one core, dim %u (thread CPU us per write, median of %u rounds of %u "
        "writes;\n    the same writes on T and on P, whose consumer polls, reads and releases every 64 "
        "writes)\n",
        r->dim, r->thru[0].rounds, r->thru[0].per_round);
    printf("   %-20s %10s %12s %12s %14s\n", "write", "plain", "captured", "capture", "deltas/s");
    for (int t = 0; t < T_COUNT; t++) {
        const thru_row *x = &r->thru[t];
        if (!x->rounds) continue;
        printf("   %-20s %10.3f %12.3f %12.3f %14.0f\n", KIND_NAME[THRU_KIND[t]], pl_lat_pct(&x->plain, 0.5),
               pl_lat_pct(&x->captured, 0.5), pl_lat_pct(&x->diff, 0.5), thru_rate(x));
    }
    printf("   (deltas/s = 1 / median capture CPU time per write: capture + consumer, one core)\n");
}

static void print_apply(const dim_result *r) {
    printf("\n== 3. apply on a structural replica, dim %u (dv_apply_delta per delta, coherence check on; "
           "replica at %u+ vectors)\n",
           r->dim, r->n);
    printf("   %-24s %6s %9s %9s %9s %9s %9s %9s %9s %12s %10s\n", "operation", "n", "median", "p99",
           "target", "tgt/med", "cpu med", "tgt/cpu", "no-coh", "logical med", "logic/str");
    for (int k = 0; k < K_COUNT; k++) {
        const pl_lat *l = &r->apply[k];
        if (!l->n) continue;
        double m = pl_lat_pct(l, 0.5), lg = pl_lat_pct(&r->logical[k], 0.5);
        double cm = pl_lat_pct(&r->apply_cpu[k], 0.5);
        char tgt[16] = "-", ratio[16] = "-", cratio[16] = "-", lgs[16] = "-", lgr[16] = "-";
        if (TARGET_US[k] > 0) {
            snprintf(tgt, sizeof tgt, "<%.0f", TARGET_US[k]);
            snprintf(ratio, sizeof ratio, "%.1fx", TARGET_US[k] / m);
            snprintf(cratio, sizeof cratio, "%.1fx", TARGET_US[k] / cm);
        }
        if (r->logical[k].n) {
            snprintf(lgs, sizeof lgs, "%.2f", lg);
            snprintf(lgr, sizeof lgr, "%.1fx", lg / m);
        }
        printf("   %-24s %6zu %9.2f %9.2f %9s %9s %9.2f %9s %9.2f %12s %10s\n", KIND_NAME[k], l->n, m,
               pl_lat_pct(l, 0.99), tgt, ratio, cm, cratio, pl_lat_pct(&r->apply_nc[k], 0.5), lgs, lgr);
    }
    printf(
        "   tgt/med > 1 beats the latency target by that factor (our aim: >= 10x); cpu med / tgt/cpu: the "
        "same\n"
        "   deltas in thread CPU time (two clock reads included). no-coh = median on a twin\n"
        "   replica with coherence_check = 0 (same deltas, alternating order). logical med = the same\n"
        "   change done by dv_db_* on a replica with the same config (what a replica without structural\n"
        "   deltas pays; batches: sum of the 100 writes). Replica == primary at the checkpoint: %s; batch\n"
        "   replica == primary at the end: %s\n",
        r->converged ? "yes" : "NO", r->converged_batches ? "yes" : "NO");
}

static void write_json(const pl_opts *o, const dim_result *dr, size_t nd, double total_s) {
    char path[1024];
    FILE *f = pl_json_open(o, "capture_apply", total_s, path, sizeof path);
    if (!f) return;
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
            pl_json_lat(f, &c->plain);
            fprintf(f, ", \"with_capture\": ");
            pl_json_lat(f, &c->capt);
            fprintf(f, ",\n         \"overhead_paired\": ");
            pl_json_lat(f, &c->diff);
            fprintf(f, ", \"consumer\": ");
            pl_json_lat(f, &c->consumer);
            fprintf(f, "}");
            first = 0;
        }
        fprintf(f, "},\n     \"capture_throughput\": {");
        for (int t = 0; t < T_COUNT; t++) {
            const thru_row *x = &r->thru[t];
            fprintf(f,
                    "%s\n       \"%s\": {\"rounds\": %u, \"writes_per_round\": %u, \"time\": \"thread CPU\", "
                    "\"plain_us_per_write\": %.4f, \"captured_us_per_write\": %.4f, "
                    "\"capture_us_per_write\": %.4f, \"deltas_per_s\": %.0f}",
                    t ? "," : "", THRU_KEY[t], x->rounds, x->per_round, pl_lat_pct(&x->plain, 0.5),
                    pl_lat_pct(&x->captured, 0.5), pl_lat_pct(&x->diff, 0.5), thru_rate(x));
        }
        fprintf(f, "},\n     \"apply\": {");
        first = 1;
        for (int k = 0; k < K_COUNT; k++) {
            if (!r->apply[k].n) continue;
            fprintf(f, "%s\n       \"%s\": {\"target_us\": %g, \"bytes_per_delta\": %.1f, \"structural\": ",
                    first ? "" : ",", KIND_KEY[k], TARGET_US[k],
                    (double)r->bytes[k] / (double)r->n_deltas[k]);
            pl_json_lat(f, &r->apply[k]);
            fprintf(f, ", \"structural_thread_cpu\": ");
            pl_json_lat(f, &r->apply_cpu[k]);
            fprintf(f, ", \"structural_no_coherence_check\": ");
            pl_json_lat(f, &r->apply_nc[k]);
            fprintf(f, ", \"logical_replica_dv_db\": ");
            pl_json_lat(f, &r->logical[k]);
            fprintf(f, "}");
            first = 0;
        }
        fprintf(f, "}}%s\n", i + 1 < nd ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("\nwrote %s\n", path);
}

int main(int argc, char **argv) {
    pl_prog = "bench_capture_apply";
    pl_opts o;
    if (pl_opts_parse(argc, argv, &o)) return 2;
    printf("bench_capture_apply%s: capture overhead and apply latency (deltavec %s, SIMD %s, one thread)\n",
           o.quick ? " --quick" : "", dv_version_string(), dv_simd_backend());
    double t0 = pl_now_us();
    dim_result dr[4];
    for (size_t i = 0; i < o.n_dims; i++) run_dim(&o, o.dims[i], &dr[i]);
    double total = (pl_now_us() - t0) / 1e6;
    for (size_t i = 0; i < o.n_dims; i++) print_capture(&dr[i]);
    for (size_t i = 0; i < o.n_dims; i++) print_throughput(&dr[i]);
    for (size_t i = 0; i < o.n_dims; i++) print_apply(&dr[i]);
    printf("\ntotal %.1f s\n", total);
    write_json(&o, dr, o.n_dims, total);
    int ok = 1;
    for (size_t i = 0; i < o.n_dims; i++) {
        ok = ok && dr[i].converged && dr[i].converged_batches;
        for (int k = 0; k < K_COUNT; k++) {
            pl_lat_free(&dr[i].cap[k].plain);
            pl_lat_free(&dr[i].cap[k].capt);
            pl_lat_free(&dr[i].cap[k].diff);
            pl_lat_free(&dr[i].cap[k].consumer);
            pl_lat_free(&dr[i].apply[k]);
            pl_lat_free(&dr[i].apply_cpu[k]);
            pl_lat_free(&dr[i].apply_nc[k]);
            pl_lat_free(&dr[i].logical[k]);
        }
        for (int t = 0; t < T_COUNT; t++) {
            pl_lat_free(&dr[i].thru[t].plain);
            pl_lat_free(&dr[i].thru[t].captured);
            pl_lat_free(&dr[i].thru[t].diff);
        }
    }
    if (!ok) fprintf(stderr, "bench_capture_apply: a replica did not converge\n");
    return ok ? 0 : 1;
}
