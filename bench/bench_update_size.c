/*
 * bench_update_size.c -- a 1% update of a 100k x 128 db: bytes and apply
 * time of its deltas against the raw size of the whole live state (ids,
 * vectors, metadata, neighbour lists: the least any snapshot would ship) and
 * against dv_db_clone (the in-memory lower bound of producing and loading a
 * copy). Two variants: dense drift (edges kept) and replaced vectors
 * (re-linked). docs/BENCH.md "Capture, encoding and apply" holds the results.
 *
 * Usage: bench_update_size [--quick] [--out DIR]
 * Writes DIR/update_size.json (--quick: DIR/update_size-quick.json).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "db/replay.h"
#include "deltavec.h"
#include "pipeline_common.h"

typedef struct update_result {
    uint32_t n, dim, updates;
    /* per variant: 0 = dense drift (edges kept), 1 = replaced vectors (re-linked) */
    uint64_t delta_bytes[2];
    size_t deltas[2], with_graph[2];
    double apply_ms[2];   /* sum of per-delta apply times */
    double write_ms[2];   /* primary: the same writes with capture */
    uint64_t state_bytes; /* raw size of the live state (state_raw_bytes) */
    double clone_ms;      /* dv_db_clone, best of 3 */
    double build_s;
    int converged;
} update_result;

/* The raw size of the live state: for every live slot its id bytes, dim x 4
 * vector bytes, metadata key and value bytes, and 4 bytes per neighbour on
 * every level it has. No framing, lengths, free slots or allocator slack are
 * counted, so any real snapshot format is at least this large (before
 * compression). This is a lower bound to compare delta bytes with, not a
 * serializer. */
static uint64_t state_raw_bytes(const dv_db *db) {
    uint32_t dim = dv_db_dim(db), cap = dv_db_slot_capacity(db);
    uint64_t bytes = 0;
    for (uint32_t s = 0; s < cap; s++) {
        if (!dv_db_slot_live(db, s)) continue;
        const dv_meta_kv *m;
        size_t nm = 0;
        dv_db_meta_of(db, s, &m, &nm);
        bytes += strlen(dv_db_id_of(db, s)) + (uint64_t)dim * 4;
        for (size_t i = 0; i < nm; i++) bytes += strlen(m[i].key) + strlen(m[i].value);
        uint32_t level = dv_db_level_of(db, s);
        for (uint32_t l = 0; l <= level; l++) {
            const uint32_t *lst;
            uint32_t n = 0;
            dv_db_neighbours(db, s, l, &lst, &n);
            bytes += (uint64_t)n * 4;
        }
    }
    return bytes;
}

static void run_update(const pl_opts *o, update_result *r) {
    memset(r, 0, sizeof *r);
    uint32_t dim = 128, n = o->snap_n, upd = n / 100;
    r->n = n;
    r->dim = dim;
    r->updates = upd;
    bench_matrix base, q;
    bench_synth_generate((size_t)n + upd, 0, dim, 1000, 0.7f, 20240601, &base, &q);
    printf("  building %u x %u (ef_construction %u)...\n", n, dim, o->efc);
    fflush(stdout);
    double t0 = pl_now_us();
    dv_db *P = pl_open_db(dim, o->efc);
    char id[24];
    for (uint32_t i = 0; i < n; i++) {
        pl_make_id(id, sizeof id, i);
        dv_meta_kv meta[1] = {{"cluster", i % 2 ? "odd" : "even"}};
        dv_status st = dv_db_insert(P, id, base.data + (size_t)i * dim, meta, 1);
        if (st != DV_OK) pl_die("insert", st);
    }
    r->build_s = (pl_now_us() - t0) / 1e6;
    dv_db *R;
    dv_status st = dv_db_clone(P, &R);
    if (st != DV_OK) pl_die("dv_db_clone", st);
    dv_capture *cap = pl_start_capture(P, NULL, 1);
    dv_apply *ap;
    if ((st = dv_apply_init(R, NULL, &ap)) != DV_OK) pl_die("dv_apply_init", st);
    /* 1% of the ids, distinct: a partial Fisher-Yates over 0..n-1 */
    uint32_t *perm = pl_xmalloc((size_t)n * sizeof *perm);
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    uint64_t rng = 4242;
    float *v = pl_xmalloc(dim * sizeof *v);
    for (int variant = 0; variant < 2; variant++) {
        for (uint32_t i = 0; i < upd; i++) {
            uint32_t j = i + (uint32_t)(pl_rng_next(&rng) % (n - i)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        pl_stream s;
        memset(&s, 0, sizeof s);
        for (uint32_t i = 0; i < upd; i++) {
            pl_make_id(id, sizeof id, perm[i]);
            if ((st = dv_db_get(P, id, v)) != DV_OK) pl_die("dv_db_get", st);
            if (variant == 0)
                for (uint32_t d = 0; d < dim; d++) v[d] += pl_rng_gauss(&rng, 0.01f);
            else
                memcpy(v, base.data + (size_t)(n + i) * dim, dim * sizeof *v);
            double tw = pl_now_us();
            if ((st = dv_db_update(P, id, v)) != DV_OK) pl_die("dv_db_update", st);
            r->write_ms[variant] += (pl_now_us() - tw) / 1e3;
            pl_drain(cap, &s, 0);
        }
        for (size_t i = 0; i < s.n; i++) {
            const pl_blob *b = &s.d[i];
            if (b->b[9] & DV_FLAG_HAS_HNSW) r->with_graph[variant]++;
            double ta = pl_now_us();
            st = dv_apply_delta(ap, b->b, b->b + DV_DELTA_HEADER_SIZE, b->len - DV_DELTA_HEADER_SIZE);
            r->apply_ms[variant] += (pl_now_us() - ta) / 1e3;
            if (st != DV_OK) {
                fprintf(stderr, "apply: %s\n", dv_apply_last_error(ap));
                pl_die("dv_apply_delta", st);
            }
        }
        r->delta_bytes[variant] = s.bytes;
        r->deltas[variant] = s.n;
        pl_stream_free(&s);
    }
    r->converged = dv_db_state_hash(P) == dv_db_state_hash(R);
    /* the live state of the updated primary: raw size, and the in-memory copy time */
    r->state_bytes = state_raw_bytes(P);
    r->clone_ms = 1e300;
    for (int rep = 0; rep < 3; rep++) {
        dv_db *C;
        double ts = pl_now_us();
        if ((st = dv_db_clone(P, &C)) != DV_OK) pl_die("dv_db_clone", st);
        double t_cl = (pl_now_us() - ts) / 1e3;
        dv_db_close(C);
        if (t_cl < r->clone_ms) r->clone_ms = t_cl;
    }
    free(perm);
    free(v);
    dv_apply_free(ap);
    dv_capture_free(cap);
    dv_db_close(P);
    dv_db_close(R);
    bench_matrix_free(&base);
}

/* ---- report ------------------------------------------------------------------------ */

static void print_update(const update_result *s) {
    printf("\n== 1%% update of %u x %u: delta bytes vs the raw live state (%u vectors updated per variant)\n",
           s->n, s->dim, s->updates);
    printf("   primary build %.1f s; replica = copy of the primary before the updates, applies the deltas\n",
           s->build_s);
    static const char *vn[2] = {"dense drift N(0, 0.01)", "replaced vectors (re-link)"};
    printf("   %-28s %8s %8s %14s %10s %12s %12s %12s\n", "variant", "deltas", "w/graph", "delta bytes",
           "B/delta", "state/deltas", "apply ms", "clone/apply");
    for (int v = 0; v < 2; v++)
        printf("   %-28s %8zu %8zu %14llu %10.0f %11.0fx %12.2f %11.1fx\n", vn[v], s->deltas[v],
               s->with_graph[v], (unsigned long long)s->delta_bytes[v],
               (double)s->delta_bytes[v] / (double)s->deltas[v],
               (double)s->state_bytes / (double)s->delta_bytes[v], s->apply_ms[v],
               s->clone_ms / s->apply_ms[v]);
    printf("   raw live state: %llu bytes (ids, vectors, metadata, 4 bytes per neighbour link; no framing:\n"
           "   a lower bound for any snapshot before compression)\n",
           (unsigned long long)s->state_bytes);
    printf("   dv_db_clone %.1f ms (in-memory lower bound of producing + loading a copy)\n", s->clone_ms);
    printf("   replica == primary after both variants: %s\n", s->converged ? "yes" : "NO");
}

static void write_json(const pl_opts *o, const update_result *s, double total_s) {
    char path[1024];
    FILE *f = pl_json_open(o, "update_size", total_s, path, sizeof path);
    if (!f) return;
    fprintf(f, "  \"n\": %u, \"dim\": %u, \"updated\": %u, \"build_s\": %.2f, \"converged\": %s,\n", s->n,
            s->dim, s->updates, s->build_s, s->converged ? "true" : "false");
    fprintf(f, "  \"state_raw_bytes\": %llu, \"clone_ms\": %.3f,\n", (unsigned long long)s->state_bytes,
            s->clone_ms);
    static const char *vk[2] = {"dense_drift", "replaced_relink"};
    for (int v = 0; v < 2; v++)
        fprintf(f,
                "  \"%s\": {\"deltas\": %zu, \"with_graph\": %zu, \"delta_bytes\": %llu, \"apply_ms\": %.3f, "
                "\"primary_write_ms\": %.3f}%s\n",
                vk[v], s->deltas[v], s->with_graph[v], (unsigned long long)s->delta_bytes[v], s->apply_ms[v],
                s->write_ms[v], v ? "" : ",");
    fprintf(f, "}\n");
    fclose(f);
    printf("\nwrote %s\n", path);
}

int main(int argc, char **argv) {
    pl_prog = "bench_update_size";
    pl_opts o;
    if (pl_opts_parse(argc, argv, &o)) return 2;
    printf(
        "bench_update_size%s: a 1%% update as deltas vs the live state (deltavec %s, SIMD %s, one thread)\n",
        o.quick ? " --quick" : "", dv_version_string(), dv_simd_backend());
    double t0 = pl_now_us();
    update_result sr;
    run_update(&o, &sr);
    double total = (pl_now_us() - t0) / 1e6;
    print_update(&sr);
    printf("\ntotal %.1f s\n", total);
    write_json(&o, &sr, total);
    if (!sr.converged) fprintf(stderr, "bench_update_size: the replica did not converge\n");
    return sr.converged ? 0 : 1;
}
