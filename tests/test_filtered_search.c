/*
 * test_filtered_search.c -- dv_db_search_filtered / dv_searcher_search_filtered:
 * recall against an exact filtered search computed here by brute force (for a
 * broad filter, a filter whose matches lie away from the query, an AND of two
 * pairs, and a very selective one), the way each was answered (the beam search
 * or the exact scan), fewer matches than k, no match, deletions, and the
 * argument errors. Fixed seeds throughout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "db/hnsw.h"
#include "db/replay.h"

typedef struct rng {
    uint64_t s;
} rng;
static uint64_t rnext(rng *r) {
    r->s += 0x9E3779B97F4A7C15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float runif(rng *r) { return (float)((rnext(r) >> 40) / 16777216.0); }

enum { DIM = 32, N = 12000, NQ = 100, CLUSTERS = 40, K = 10, EF = 100 };

/* The data set: clustered vectors, each with metadata
 *   half    = "even" | "odd"  (by row: matches spread over every cluster, 50%)
 *   side    = "left" | "right" (by cluster parity: matches are whole clusters)
 *   tenth   = row % 10        (10%)
 *   rare    = "yes" for one row in 1000 (0.1%) */
typedef struct dataset {
    float *x, *centres;
    uint32_t *cluster;
} dataset;

static dataset make_data(rng *r) {
    dataset d;
    d.centres = malloc(sizeof(float) * CLUSTERS * DIM);
    d.x = malloc(sizeof(float) * N * DIM);
    d.cluster = malloc(sizeof(uint32_t) * N);
    for (size_t i = 0; i < (size_t)CLUSTERS * DIM; i++) d.centres[i] = runif(r) * 2 - 1;
    for (size_t i = 0; i < N; i++) {
        uint32_t c = (uint32_t)(rnext(r) % CLUSTERS);
        d.cluster[i] = c;
        for (uint32_t j = 0; j < DIM; j++)
            d.x[i * DIM + j] = d.centres[c * DIM + j] + (runif(r) - 0.5f) * 0.6f;
    }
    return d;
}

static void free_data(dataset *d) {
    free(d->x);
    free(d->centres);
    free(d->cluster);
}

/* A query near a cluster of the given parity (the "side" filter then selects far clusters). */
static void query_near(rng *r, const dataset *d, uint32_t parity, float *q) {
    uint32_t c = (uint32_t)(rnext(r) % (CLUSTERS / 2)) * 2 + parity;
    for (uint32_t j = 0; j < DIM; j++) q[j] = d->centres[c * DIM + j] + (runif(r) - 0.5f) * 0.6f;
}

static dv_db *open_db(void) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, DIM);
    cfg.M = 12;
    cfg.ef_construction = 100;
    cfg.seed = 11;
    dv_db *db = NULL;
    assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
    return db;
}

static void insert_all(dv_db *db, const dataset *d) {
    char id[32], tenth[8];
    for (size_t i = 0; i < N; i++) {
        snprintf(id, sizeof id, "v%zu", i);
        snprintf(tenth, sizeof tenth, "%zu", i % 10);
        dv_meta_kv meta[4] = {{"half", i % 2 ? "odd" : "even"},
                              {"side", d->cluster[i] % 2 ? "right" : "left"},
                              {"tenth", tenth},
                              {"rare", i % 1000 == 7 ? "yes" : "no"}};
        assert_int_equal(dv_db_insert(db, id, d->x + i * DIM, meta, 4), DV_OK);
    }
}

/* ---- the reference: exact filtered k-NN, by brute force over dv_db_iterate ---- */

typedef struct exact_ctx {
    const dv_db *db;
    const float *q;
    const dv_filter *f;
    size_t k, n, matches;
    dv_hit *best; /* sorted ascending, n <= k */
} exact_ctx;

static int holds_all(const dv_db *db, const char *id, const dv_filter *f) {
    for (size_t i = 0; i < f->n_equal; i++) {
        const char *v = NULL;
        assert_int_equal(dv_db_get_meta(db, id, f->equal[i].key, &v), DV_OK);
        if (!v || strcmp(v, f->equal[i].value) != 0) return 0;
    }
    return 1;
}

static int exact_visit(void *ctx, const char *id, const float *vec, uint32_t slot) {
    exact_ctx *e = ctx;
    if (!holds_all(e->db, id, e->f)) return 0;
    e->matches++;
    float d = 0;
    for (uint32_t j = 0; j < DIM; j++) d += (vec[j] - e->q[j]) * (vec[j] - e->q[j]);
    size_t i = e->n < e->k ? e->n++ : e->k;
    if (i == e->k && !(d < e->best[e->k - 1].distance)) return 0;
    if (i == e->k) i = e->k - 1;
    while (i > 0 && e->best[i - 1].distance > d) {
        e->best[i] = e->best[i - 1];
        i--;
    }
    e->best[i].distance = d;
    e->best[i].slot = slot;
    e->best[i].id = id;
    return 0;
}

static size_t exact_filtered(const dv_db *db, const float *q, const dv_filter *f, size_t k, dv_hit *best,
                             size_t *matches) {
    exact_ctx e = {db, q, f, k, 0, 0, best};
    assert_int_equal(dv_db_iterate(db, exact_visit, &e), DV_OK);
    if (matches) *matches = e.matches;
    return e.n;
}

/* The way one query was answered, by the internal call on its own scratch. */
static dv_filter_path path_of(const dv_db *db, const float *q, const dv_filter *f) {
    dv_search_scratch *s = NULL;
    assert_int_equal(dv_hnsw_scratch_create(NULL, &s), DV_OK);
    dv_hit hits[K];
    size_t n;
    dv_filter_path path;
    assert_int_equal(dv_hnsw_search_filtered_with(db, s, q, K, EF, f, hits, &n, &path), DV_OK);
    dv_hnsw_scratch_destroy(s);
    return path;
}

/* Mean recall@K of dv_db_search_filtered against the reference over NQ
 * queries near clusters of `parity`; every hit must match the filter.
 * *graph: how many of the queries the beam search answered. */
static double filtered_recall(const dv_db *db, const dataset *d, const dv_filter *f, uint32_t parity,
                              uint64_t seed, int *graph) {
    rng r = {seed};
    float q[DIM];
    dv_hit got[K], want[K];
    size_t found = 0, total = 0;
    *graph = 0;
    for (int i = 0; i < NQ; i++) {
        query_near(&r, d, parity, q);
        size_t n = 0;
        assert_int_equal(dv_db_search_filtered(db, q, K, EF, f, got, &n), DV_OK);
        *graph += path_of(db, q, f) == DV_FILTER_PATH_GRAPH;
        size_t nw = exact_filtered(db, q, f, K, want, NULL);
        assert_int_equal(n, nw); /* k hits whenever k vectors match */
        for (size_t a = 0; a < n; a++) {
            assert_true(holds_all(db, got[a].id, f));
            if (a) assert_true(got[a - 1].distance <= got[a].distance);
            for (size_t b = 0; b < nw; b++)
                if (got[a].slot == want[b].slot) found++;
        }
        total += nw;
    }
    return total ? (double)found / (double)total : 1.0;
}

static dv_db *db_under_test;
static dataset data;

static int setup(void **state) {
    (void)state;
    rng r = {5};
    data = make_data(&r);
    db_under_test = open_db();
    insert_all(db_under_test, &data);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dv_db_close(db_under_test);
    free_data(&data);
    return 0;
}

static void broad_filter_goes_through_the_graph_with_high_recall(void **state) {
    (void)state;
    dv_meta_kv pair = {"half", "odd"};
    dv_filter f = {&pair, 1};
    int graph;
    double rc = filtered_recall(db_under_test, &data, &f, 0, 21, &graph);
    print_message("half=odd (50%%): recall@10 ef=100 %.4f, %d/%d queries by the graph\n", rc, graph, NQ);
    assert_int_equal(graph, NQ);
    assert_true(rc >= 0.95);
}

/* The matches are whole clusters other than the query's: the nearest ef
 * nodes hold none, so searching first and filtering after finds nothing;
 * the search must walk out of the query's cluster. */
static void matches_far_from_the_query_are_found(void **state) {
    (void)state;
    dv_meta_kv pair = {"side", "right"};
    dv_filter f = {&pair, 1};
    int graph;
    double rc = filtered_recall(db_under_test, &data, &f, 0, 22, &graph);
    print_message("side=right, queries in left clusters: recall@10 ef=100 %.4f, %d/%d by the graph\n", rc,
                  graph, NQ);
    assert_int_equal(graph, NQ);
    assert_true(rc >= 0.95);
}

static void and_of_two_pairs(void **state) {
    (void)state;
    dv_meta_kv pairs[2] = {{"half", "even"}, {"tenth", "4"}};
    dv_filter f = {pairs, 2};
    int graph;
    double rc = filtered_recall(db_under_test, &data, &f, 1, 23, &graph);
    print_message("half=even AND tenth=4 (10%%): recall@10 ef=100 %.4f, %d/%d by the graph\n", rc, graph, NQ);
    assert_true(rc >= 0.95);
}

static void selective_filter_is_answered_by_the_exact_scan(void **state) {
    (void)state;
    dv_meta_kv pair = {"rare", "yes"}; /* 12 of 12000 */
    dv_filter f = {&pair, 1};
    int graph;
    assert_true(filtered_recall(db_under_test, &data, &f, 0, 24, &graph) == 1.0);
    assert_int_equal(graph, 0);
}

static void fewer_matches_than_k_returns_them_all(void **state) {
    (void)state;
    dv_meta_kv pair = {"rare", "yes"};
    dv_filter f = {&pair, 1};
    float q[DIM] = {0};
    dv_hit got[20], want[20];
    size_t n = 0, matches = 0;
    assert_int_equal(dv_db_search_filtered(db_under_test, q, 20, 0, &f, got, &n), DV_OK);
    size_t nw = exact_filtered(db_under_test, q, &f, 20, want, &matches);
    assert_int_equal(matches, N / 1000);
    assert_int_equal(n, matches);
    assert_int_equal(nw, n);
    for (size_t i = 0; i < n; i++) { /* the same set (the order of near ties may differ by rounding) */
        size_t same = 0;
        for (size_t j = 0; j < nw; j++) same += got[i].slot == want[j].slot;
        assert_int_equal(same, 1);
    }
}

static void no_match_gives_no_hits(void **state) {
    (void)state;
    float q[DIM] = {0};
    dv_hit got[K];
    size_t n = 99;
    dv_meta_kv absent_value = {"half", "neither"}, absent_key = {"colour", "red"};
    dv_filter f1 = {&absent_value, 1}, f2 = {&absent_key, 1};
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, 0, &f1, got, &n), DV_OK);
    assert_int_equal(n, 0);
    n = 99;
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, 0, &f2, got, &n), DV_OK);
    assert_int_equal(n, 0);
    /* contradictory AND: both pairs exist, never together */
    dv_meta_kv both[2] = {{"half", "odd"}, {"tenth", "2"}};
    dv_filter f3 = {both, 2};
    n = 99;
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, 0, &f3, got, &n), DV_OK);
    assert_int_equal(n, 0);
}

static void no_filter_is_the_plain_search(void **state) {
    (void)state;
    rng r = {31};
    float q[DIM];
    query_near(&r, &data, 1, q);
    dv_hit a[K], b[K];
    size_t na, nb;
    assert_int_equal(dv_db_search(db_under_test, q, K, EF, a, &na), DV_OK);
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, EF, NULL, b, &nb), DV_OK);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) assert_int_equal(a[i].slot, b[i].slot);
    dv_filter empty = {NULL, 0};
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, EF, &empty, b, &nb), DV_OK);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) assert_int_equal(a[i].slot, b[i].slot);
}

static void searcher_gives_the_same_hits(void **state) {
    (void)state;
    dv_searcher *s = NULL;
    assert_int_equal(dv_searcher_open(db_under_test, NULL, &s), DV_OK);
    rng r = {32};
    float q[DIM];
    dv_meta_kv pair = {"side", "left"};
    dv_filter f = {&pair, 1};
    for (int i = 0; i < 20; i++) {
        query_near(&r, &data, (uint32_t)i % 2, q);
        dv_hit a[K], b[K];
        size_t na, nb;
        assert_int_equal(dv_db_search_filtered(db_under_test, q, K, EF, &f, a, &na), DV_OK);
        assert_int_equal(dv_searcher_search_filtered(s, q, K, EF, &f, b, &nb), DV_OK);
        assert_int_equal(na, K);
        assert_int_equal(na, nb);
        for (size_t j = 0; j < na; j++) {
            assert_int_equal(a[j].slot, b[j].slot);
            assert_string_equal(a[j].id, b[j].id);
        }
    }
    dv_meta_kv bad = {"", "x"};
    dv_filter fb = {&bad, 1};
    dv_hit h[K];
    size_t n;
    assert_int_equal(dv_searcher_search_filtered(s, q, K, EF, &fb, h, &n), DV_EMETA);
    dv_searcher_close(s);
}

static void bad_filters_are_refused(void **state) {
    (void)state;
    float q[DIM] = {0};
    dv_hit h[K];
    size_t n = 99;
    dv_filter null_pairs = {NULL, 1};
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, 0, &null_pairs, h, &n), DV_EINVAL);
    assert_int_equal(n, 0);
    dv_meta_kv empty_key = {"", "odd"}, null_value = {"half", NULL}, null_key = {NULL, "odd"};
    dv_meta_kv bad_utf8 = {"half", "\xff\xfe"}, dup[2] = {{"half", "odd"}, {"half", "even"}};
    char long_key[DV_MAX_META_KEY_LEN + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    dv_meta_kv too_long = {long_key, "v"};
    const dv_meta_kv *bad[] = {&empty_key, &null_value, &null_key, &bad_utf8, &too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dv_filter f = {bad[i], 1};
        assert_int_equal(dv_db_search_filtered(db_under_test, q, K, 0, &f, h, &n), DV_EMETA);
    }
    dv_filter fd = {dup, 2};
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, 0, &fd, h, &n), DV_EMETA);
    dv_meta_kv many[DV_MAX_META_PAIRS + 1];
    char keys[DV_MAX_META_PAIRS + 1][8];
    for (int i = 0; i <= DV_MAX_META_PAIRS; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        many[i].key = keys[i];
        many[i].value = "v";
    }
    dv_filter fm = {many, DV_MAX_META_PAIRS + 1};
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, 0, &fm, h, &n), DV_EMETA);
    /* the query's own errors come first, as in dv_db_search */
    dv_meta_kv ok = {"half", "odd"};
    dv_filter fo = {&ok, 1};
    assert_int_equal(dv_db_search_filtered(NULL, q, K, 0, &fo, h, &n), DV_EINVAL);
    assert_int_equal(dv_db_search_filtered(db_under_test, NULL, K, 0, &fo, h, &n), DV_EINVAL);
    assert_int_equal(dv_db_search_filtered(db_under_test, q, K, 0, &fo, NULL, &n), DV_EINVAL);
    float nan_q[DIM] = {0};
    nan_q[3] = NAN;
    assert_int_equal(dv_db_search_filtered(db_under_test, nan_q, K, 0, &fo, h, &n), DV_ENONFINITE);
}

/* A fresh db: delete 30% (every row with tenth in {0,1,2}), then search
 * with filters that match deleted rows too. */
static void deleted_vectors_are_never_returned(void **state) {
    (void)state;
    dv_db *db = open_db();
    insert_all(db, &data);
    char id[32];
    for (size_t i = 0; i < N; i++) {
        if (i % 10 > 2) continue;
        snprintf(id, sizeof id, "v%zu", i);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
    }
    dv_meta_kv pair = {"half", "even"};
    dv_filter f = {&pair, 1};
    int graph;
    double rc = filtered_recall(db, &data, &f, 1, 25, &graph);
    print_message("after deleting 30%%, half=even: recall@10 ef=100 %.4f, %d/%d by the graph\n", rc, graph,
                  NQ);
    assert_true(rc >= 0.95);
    dv_meta_kv gone = {"tenth", "1"};
    dv_filter fg = {&gone, 1};
    float q[DIM] = {0};
    dv_hit h[K];
    size_t n = 99;
    assert_int_equal(dv_db_search_filtered(db, q, K, 0, &fg, h, &n), DV_OK);
    assert_int_equal(n, 0);
    dv_db_close(db);
}

static int by_id(const void *a, const void *b) { return strcmp(a, b); }

/* The ids of the vectors matching colour=value among the nearest 50 to the origin, sorted. */
static size_t coloured(const dv_db *db, const char *value, char ids[][16]) {
    float q[DIM] = {0};
    dv_meta_kv pair = {"colour", value};
    dv_filter f = {&pair, 1};
    dv_hit h[50];
    size_t n = 0;
    assert_int_equal(dv_db_search_filtered(db, q, 50, 0, &f, h, &n), DV_OK);
    for (size_t i = 0; i < n; i++) snprintf(ids[i], 16, "%s", h[i].id);
    qsort(ids, n, 16, by_id);
    return n;
}

/* Metadata written after insert (set, overwrite, remove) is what the filter
 * sees, also in a clone and in a db loaded from a snapshot (the per-slot
 * signature the search tests first is derived, so it must follow every
 * change and be rebuilt on load; dv_db_check_invariants recomputes it). */
static void metadata_changes_are_seen_by_the_filter(void **state) {
    (void)state;
    dv_db *db = open_db();
    rng r = {77};
    float v[DIM];
    char id[16], got[50][16];
    for (int i = 0; i < 300; i++) {
        for (int j = 0; j < DIM; j++) v[j] = runif(&r) - 0.5f;
        snprintf(id, sizeof id, "m%d", i);
        assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
    }
    assert_int_equal(coloured(db, "red", got), 0);
    const char *red[] = {"m10", "m20", "m30", "m40", "m50"};
    for (int i = 0; i < 5; i++) assert_int_equal(dv_db_set_meta(db, red[i], "colour", "red"), DV_OK);
    assert_int_equal(dv_db_set_meta(db, "m20", "size", "large"), DV_OK); /* a second pair: the block grows */
    assert_int_equal(coloured(db, "red", got), 5);
    assert_string_equal(got[0], "m10");
    assert_string_equal(got[4], "m50");
    assert_int_equal(dv_db_set_meta(db, "m30", "colour", "blue"), DV_OK); /* overwrite */
    assert_int_equal(dv_db_set_meta(db, "m40", "colour", NULL), DV_OK);   /* remove */
    assert_int_equal(coloured(db, "red", got), 3);
    assert_string_equal(got[0], "m10");
    assert_string_equal(got[1], "m20");
    assert_string_equal(got[2], "m50");
    assert_int_equal(coloured(db, "blue", got), 1);
    assert_string_equal(got[0], "m30");
    dv_meta_kv both[2] = {{"size", "large"}, {"colour", "red"}};
    dv_filter fb = {both, 2};
    dv_hit h[5];
    size_t n = 0;
    float q[DIM] = {0};
    assert_int_equal(dv_db_search_filtered(db, q, 5, 0, &fb, h, &n), DV_OK);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, "m20");
    assert_int_equal(dv_db_check_invariants(db), DV_OK);

    dv_db *copy = NULL;
    assert_int_equal(dv_db_clone(db, &copy), DV_OK);
    assert_int_equal(dv_db_check_invariants(copy), DV_OK);
    assert_int_equal(coloured(copy, "red", got), 3);
    dv_db_close(copy);
    uint64_t size = 0;
    assert_int_equal(dv_db_snapshot_size(db, NULL, &size), DV_OK);
    uint8_t *buf = malloc((size_t)size);
    assert_int_equal(dv_db_snapshot_to_buffer(db, NULL, buf, (size_t)size, NULL), DV_OK);
    dv_db *loaded = NULL;
    assert_int_equal(dv_db_snapshot_read(buf, (size_t)size, NULL, &loaded, NULL, NULL, 0), DV_OK);
    assert_int_equal(dv_db_check_invariants(loaded), DV_OK);
    assert_int_equal(coloured(loaded, "red", got), 3);
    assert_int_equal(coloured(loaded, "blue", got), 1);
    dv_db_close(loaded);
    free(buf);
    dv_db_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(broad_filter_goes_through_the_graph_with_high_recall),
        cmocka_unit_test(matches_far_from_the_query_are_found),
        cmocka_unit_test(and_of_two_pairs),
        cmocka_unit_test(selective_filter_is_answered_by_the_exact_scan),
        cmocka_unit_test(fewer_matches_than_k_returns_them_all),
        cmocka_unit_test(no_match_gives_no_hits),
        cmocka_unit_test(no_filter_is_the_plain_search),
        cmocka_unit_test(searcher_gives_the_same_hits),
        cmocka_unit_test(bad_filters_are_refused),
        cmocka_unit_test(deleted_vectors_are_never_returned),
        cmocka_unit_test(metadata_changes_are_seen_by_the_filter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
