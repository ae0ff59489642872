/*
 * bench_relink.c -- search quality after re-linking churn (docs/DB.md
 * "update relink"). Per dim: n synthetic clustered vectors (dataset.h) are
 * inserted, then 2n updates each replace a random vector by an unrelated
 * new one with relink_ratio 0 (every update re-links: the node leaves its
 * in-neighbours' lists and is linked again). Recall@10 of the churned db at
 * several ef is compared with a fresh build of the final vectors (same
 * config, same insertion order by id), both against exact search.
 *
 * Usage: bench_relink [--quick] [--out DIR] [--dims 384,128] [--n N]
 * Writes DIR/relink.json (--quick: DIR/relink-quick.json).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "deltavec.h"
#include "pipeline_common.h"

enum { QUERIES = 500, K = 10, N_EF = 4 };
static const size_t EFS[N_EF] = {10, 20, 40, 80};

typedef struct relink_row {
    uint32_t dim, n;
    size_t relinks;
    double relink_us; /* mean primary time per re-linking update */
    double churned[N_EF], fresh[N_EF];
} relink_row;

static double recall_at_k(const dv_db *db, const float *q, uint32_t dim, size_t ef) {
    dv_hit got[K], want[K];
    size_t hit = 0, total = 0;
    for (size_t i = 0; i < QUERIES; i++) {
        size_t ng, nw;
        if (dv_db_search(db, q + i * dim, K, ef, got, &ng) != DV_OK ||
            dv_db_search_exact(db, q + i * dim, K, want, &nw) != DV_OK)
            pl_die("search", DV_EINVAL);
        for (size_t a = 0; a < ng; a++)
            for (size_t b = 0; b < nw; b++)
                if (got[a].slot == want[b].slot) hit++;
        total += nw;
    }
    return total ? (double)hit / (double)total : 1.0;
}

static dv_db *open_relinking(uint32_t dim, uint32_t efc) {
    dv_db_config c;
    dv_db_config_default(&c, dim);
    c.ef_construction = efc;
    c.relink_ratio = 0.0f;
    dv_db *db;
    dv_status st = dv_db_open(&c, &db);
    if (st != DV_OK) pl_die("dv_db_open", st);
    return db;
}

static void insert_rows(dv_db *db, const float *data, const uint32_t *row, uint32_t n, uint32_t dim) {
    char id[24];
    for (uint32_t i = 0; i < n; i++) {
        pl_make_id(id, sizeof id, i);
        dv_status st = dv_db_insert(db, id, data + (size_t)row[i] * dim, NULL, 0);
        if (st != DV_OK) pl_die("dv_db_insert", st);
    }
}

static void run_dim(const pl_opts *o, uint32_t dim, relink_row *r) {
    uint32_t n = o->n;
    size_t relinks = 2 * (size_t)n;
    bench_matrix base, q;
    bench_synth_generate(n + relinks, QUERIES, dim, 1000, 0.7f, 20240601 + dim, &base, &q);
    uint32_t *row = malloc(n * sizeof *row); /* which pool row each id holds now */
    if (!row) pl_die("malloc", DV_ENOMEM);
    for (uint32_t i = 0; i < n; i++) row[i] = i;
    dv_db *db = open_relinking(dim, o->efc);
    insert_rows(db, base.data, row, n, dim);
    uint64_t rng = 11;
    char id[24];
    double t0 = pl_now_us();
    for (size_t k = 0; k < relinks; k++) {
        uint32_t v = (uint32_t)(pl_rng_next(&rng) % n);
        pl_make_id(id, sizeof id, v);
        row[v] = (uint32_t)(n + k);
        dv_status st = dv_db_update(db, id, base.data + (size_t)row[v] * dim);
        if (st != DV_OK) pl_die("dv_db_update", st);
    }
    r->relink_us = (pl_now_us() - t0) / (double)relinks;
    dv_db *fresh = open_relinking(dim, o->efc);
    insert_rows(fresh, base.data, row, n, dim);
    r->dim = dim;
    r->n = n;
    r->relinks = relinks;
    for (int e = 0; e < N_EF; e++) {
        r->churned[e] = recall_at_k(db, q.data, dim, EFS[e]);
        r->fresh[e] = recall_at_k(fresh, q.data, dim, EFS[e]);
    }
    dv_db_close(fresh);
    dv_db_close(db);
    free(row);
    bench_matrix_free(&base);
    bench_matrix_free(&q);
}

static void print_rows(const relink_row *rows, size_t n) {
    printf("\n   %5s %7s %8s %10s", "dim", "n", "re-links", "us/relink");
    for (int e = 0; e < N_EF; e++) printf("   ef %-3zu churned/fresh", EFS[e]);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        const relink_row *r = &rows[i];
        printf("   %5u %7u %8zu %10.1f", r->dim, r->n, r->relinks, r->relink_us);
        for (int e = 0; e < N_EF; e++)
            printf("   %.4f / %.4f %+.4f", r->churned[e], r->fresh[e], r->churned[e] - r->fresh[e]);
        printf("\n");
    }
    printf(
        "   (recall@10 against exact search, %d queries; churned = after 2n re-linking updates to unrelated\n"
        "    vectors, fresh = the final vectors built anew; the last figure is churned - fresh)\n",
        QUERIES);
}

static void write_json(const pl_opts *o, const relink_row *rows, size_t n, double total_s) {
    char path[1024];
    FILE *f = pl_json_open(o, "relink", total_s, path, sizeof path);
    if (!f) return;
    fprintf(f, "  \"queries\": %d, \"k\": %d, \"rows\": [\n", QUERIES, K);
    for (size_t i = 0; i < n; i++) {
        const relink_row *r = &rows[i];
        fprintf(f, "    {\"dim\": %u, \"n\": %u, \"relinks\": %zu, \"relink_us\": %.2f, \"recall\": [",
                r->dim, r->n, r->relinks, r->relink_us);
        for (int e = 0; e < N_EF; e++)
            fprintf(f, "%s{\"ef\": %zu, \"churned\": %.4f, \"fresh\": %.4f}", e ? ", " : "", EFS[e],
                    r->churned[e], r->fresh[e]);
        fprintf(f, "]}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("\nwrote %s\n", path);
}

int main(int argc, char **argv) {
    pl_prog = "bench_relink";
    pl_opts o;
    if (pl_opts_parse(argc, argv, &o)) return 2;
    printf("bench_relink%s: recall after re-linking churn vs a fresh build (deltavec %s, SIMD %s)\n",
           o.quick ? " --quick" : "", dv_version_string(), dv_simd_backend());
    double t0 = pl_now_us();
    relink_row rows[4];
    for (size_t i = 0; i < o.n_dims; i++) {
        printf("  dim %u: %u vectors, %u re-linking updates...\n", o.dims[i], o.n, 2 * o.n);
        fflush(stdout);
        run_dim(&o, o.dims[i], &rows[i]);
    }
    double total = (pl_now_us() - t0) / 1e6;
    print_rows(rows, o.n_dims);
    printf("\ntotal %.1f s\n", total);
    write_json(&o, rows, o.n_dims, total);
    return 0;
}
