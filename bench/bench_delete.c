/*
 * bench_delete.c -- the cost of delete-with-repair against insert, per db size.
 *
 * A delete repairs the graph (docs/DB.md): every node with an edge to the
 * deleted one gets a new list, and finding those nodes can need a scan of
 * the layer. This measures how that scales: for each n, insert n random
 * vectors (uniform in [-0.5, 0.5)^dim, fixed xorshift seed), then delete
 * --deletes of them in a fixed order (vector k * 7919 mod n), each call
 * timed. Reports inserts/s, deletes/s and their ratio (the reference is
 * this run's own insert rate: hnswlib only marks deleted elements, which
 * is not the same operation), and the final state hash, so a change to the
 * repair can be checked to build the same graph. Prints a table and writes
 * JSON.
 *
 * Usage: bench_delete [--sizes 20000,50000] [--deletes 2000] [--dim 64] [--out FILE]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "deltavec.h"

#define MAX_SIZES 8

typedef struct result {
    size_t n, deletes;
    double insert_s, delete_s;
    uint64_t hash;
} result;

static void die(const char *what, int st) { bench_die("bench_delete", what, st); }

#define RNG_SEED 88172645463325252ull
static uint64_t rng;
static float rand_unit(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / 16777216.0f - 0.5f;
}

static result run(size_t n, size_t deletes, unsigned dim) {
    result r = {n, 0, 0, 0, 0};
    rng = RNG_SEED; /* every size starts from the same stream: its hash depends on n only */
    dv_db_config c;
    dv_db_config_default(&c, dim);
    c.ef_construction = 100;
    dv_db *db;
    int st = dv_db_open(&c, &db);
    if (st != DV_OK) die("open", st);
    float *v = malloc(dim * sizeof *v);
    if (!v) die("malloc", DV_ENOMEM);
    char id[32];
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        for (unsigned d = 0; d < dim; d++) v[d] = rand_unit();
        snprintf(id, sizeof id, "v%zu", i);
        if ((st = dv_db_insert(db, id, v, NULL, 0)) != DV_OK) die("insert", st);
    }
    r.insert_s = bench_now() - t0;
    t0 = bench_now();
    for (size_t k = 0; k < deletes && k < n; k++) {
        snprintf(id, sizeof id, "v%zu", (k * 7919u) % n);
        st = dv_db_delete(db, id);
        if (st == DV_OK)
            r.deletes++;
        else if (st != DV_ENOTFOUND) /* 7919 and n may share a factor: repeats are expected */
            die("delete", st);
    }
    r.delete_s = bench_now() - t0;
    r.hash = dv_db_state_hash(db);
    free(v);
    dv_db_close(db);
    return r;
}

int main(int argc, char **argv) {
    size_t sizes[MAX_SIZES] = {20000, 50000}, n_sizes = 2, deletes = 2000;
    unsigned dim = 64;
    const char *out = "bench/results/delete.json";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--sizes")) {
            n_sizes = 0;
            for (char *s = argv[i + 1]; *s && n_sizes < MAX_SIZES;) {
                sizes[n_sizes++] = strtoul(s, &s, 10);
                if (*s == ',') s++;
            }
        } else if (!strcmp(argv[i], "--deletes")) {
            deletes = strtoul(argv[i + 1], NULL, 10);
        } else if (!strcmp(argv[i], "--dim")) {
            dim = (unsigned)strtoul(argv[i + 1], NULL, 10);
        } else if (!strcmp(argv[i], "--out")) {
            out = argv[i + 1];
        }
    }
    result res[MAX_SIZES];
    printf("%10s %10s %12s %10s %12s %14s %18s\n", "n", "deletes", "inserts/s", "deletes/s", "del/ins time",
           "us per delete", "state hash");
    for (size_t i = 0; i < n_sizes; i++) {
        res[i] = run(sizes[i], deletes, dim);
        const result *r = &res[i];
        double ins = r->n / r->insert_s, del = r->deletes / r->delete_s;
        printf("%10zu %10zu %12.0f %10.0f %11.1fx %14.1f   %016llx\n", r->n, r->deletes, ins, del, ins / del,
               1e6 / del, (unsigned long long)r->hash);
    }
    printf("(dim %u, M 16, ef_construction 100, %s kernels, one thread, wall clock)\n", dim,
           dv_simd_backend());
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "bench_delete: cannot write %s\n", out);
        return 1;
    }
    fprintf(f, "{\n  \"bench\": \"delete\",\n  \"dim\": %u,\n  \"simd\": \"%s\",\n  \"results\": [\n", dim,
            dv_simd_backend());
    for (size_t i = 0; i < n_sizes; i++) {
        const result *r = &res[i];
        fprintf(f,
                "    {\"n\": %zu, \"deletes\": %zu, \"insert_s\": %.6f, \"delete_s\": %.6f, "
                "\"inserts_per_s\": %.0f, "
                "\"deletes_per_s\": %.0f, \"state_hash\": \"%016llx\"}%s\n",
                r->n, r->deletes, r->insert_s, r->delete_s, r->n / r->insert_s, r->deletes / r->delete_s,
                (unsigned long long)r->hash, i + 1 < n_sizes ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("wrote %s\n", out);
    return 0;
}
