/*
 * quickstart.c -- deltavec from C in one page: create a database directory,
 * insert vectors with metadata (one by one and in a batch), search (plain
 * and filtered by metadata), then open a replica of the directory, let it
 * apply what the primary logs, and check both hold the same state.
 *
 * Build against an installed deltavec (pkg-config finds it; the .pc file
 * carries the library's rpath, so no LD_LIBRARY_PATH is needed):
 *     cc -std=c11 quickstart.c $(pkg-config --cflags --libs deltavec) -o quickstart
 *     ./quickstart [DIR]      (DIR: where to create the database; default a new temporary directory)
 * Exits 0 when the replica matches the primary.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <deltavec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 8
#define N 1000

static int check(dv_status st, const char *what) {
    if (st == DV_OK) return 1;
    fprintf(stderr, "quickstart: %s: %s (%s)\n", what, dv_status_name(st), dv_strerror(st));
    return 0;
}

/* A reproducible vector for row i. */
static void make_vector(unsigned i, float *v) {
    unsigned x = i * 2654435761u + 1;
    for (int j = 0; j < DIM; j++) {
        x = x * 1103515245u + 12345u;
        v[j] = (float)(x >> 8) / 16777216.0f;
    }
}

static void print_hits(const char *title, const dv_hit *hits, size_t n) {
    printf("%s:", title);
    for (size_t i = 0; i < n; i++) printf(" %s (%.4f)", hits[i].id, hits[i].distance);
    printf("\n");
}

/* Writes N vectors through the store: the first half one by one, the rest as one batch. */
static int fill(dv_store *primary) {
    static float vecs[N][DIM];
    static char ids[N][16];
    static dv_store_op ops[N / 2];
    for (unsigned i = 0; i < N; i++) {
        make_vector(i, vecs[i]);
        snprintf(ids[i], sizeof ids[i], "doc-%u", i);
    }
    dv_meta_kv even = {"parity", "even"}, odd = {"parity", "odd"};
    for (unsigned i = 0; i < N / 2; i++)
        if (!check(dv_store_insert(primary, ids[i], vecs[i], i % 2 ? &odd : &even, 1), "insert")) return 0;
    for (unsigned i = N / 2; i < N; i++) {
        dv_store_op *op = &ops[i - N / 2];
        memset(op, 0, sizeof *op);
        op->kind = DV_STORE_INSERT;
        op->id = ids[i];
        op->vec = vecs[i];
        op->meta = i % 2 ? &odd : &even;
        op->n_meta = 1;
    }
    size_t done = 0; /* one lock hold and one fdatasync for the whole batch */
    return check(dv_store_write_batch(primary, ops, N / 2, &done), "write batch");
}

int main(int argc, char **argv) {
    char tmp[] = "/tmp/deltavec-quickstart-XXXXXX", path[4096];
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
    if (!dir) return perror("mkdtemp"), 1;
    snprintf(path, sizeof path, "%s/db", dir);
    printf("deltavec %s (%s kernels), database directory %s\n", dv_version_string(), dv_simd_backend(), path);

    /* 1. the primary: a database directory created with this config */
    dv_db_config db_cfg;
    dv_db_config_default(&db_cfg, DIM);
    dv_store_config cfg;
    dv_store_config_default(&cfg);
    cfg.create = &db_cfg;
    dv_store *primary = NULL;
    if (!check(dv_store_open(path, &cfg, &primary, NULL), "open primary")) return 1;
    if (!fill(primary)) return 1;

    /* 2. search the primary's db: nearest 3, then nearest 3 with parity=odd */
    const dv_db *db = dv_store_db(primary);
    float q[DIM];
    make_vector(42, q);
    dv_hit hits[3];
    size_t n = 0;
    if (!check(dv_db_search(db, q, 3, 0, hits, &n), "search")) return 1;
    print_hits("nearest to doc-42", hits, n);
    dv_meta_kv odd = {"parity", "odd"};
    dv_filter only_odd = {&odd, 1};
    if (!check(dv_db_search_filtered(db, q, 3, 0, &only_odd, hits, &n), "filtered search")) return 1;
    print_hits("nearest with parity=odd", hits, n);

    /* 3. a replica: a read-only opener of the directory applies the logged deltas */
    dv_store_config ro;
    dv_store_config_default(&ro);
    ro.read_only = 1;
    dv_store *replica = NULL;
    if (!check(dv_store_open(path, &ro, &replica, NULL), "open replica")) return 1;

    /* 4. more writes on the primary; the replica applies them on refresh */
    if (!check(dv_store_delete(primary, "doc-7"), "delete") ||
        !check(dv_store_set_meta(primary, "doc-8", "colour", "blue"), "set meta"))
        return 1;
    uint64_t applied = 0;
    if (!check(dv_store_refresh(replica, &applied), "refresh")) return 1;

    uint64_t hp = dv_db_state_hash(dv_store_db(primary)), hr = dv_db_state_hash(dv_store_db(replica));
    printf("primary: %zu vectors, sequence %llu, state %016llx\n", dv_db_count(dv_store_db(primary)),
           (unsigned long long)dv_store_sequence(primary), (unsigned long long)hp);
    printf("replica: %zu vectors, sequence %llu, state %016llx (%llu deltas applied on refresh)\n",
           dv_db_count(dv_store_db(replica)), (unsigned long long)dv_store_sequence(replica),
           (unsigned long long)hr, (unsigned long long)applied);
    dv_store_close(replica);
    dv_store_close(primary);
    if (hp != hr) {
        fprintf(stderr, "quickstart: the replica differs from the primary\n");
        return 1;
    }
    printf("replica == primary\n");
    return 0;
}
