/*
 * bench_filtered.c -- metadata-filtered search (dv_db_search_filtered) per
 * filter selectivity, against two references measured in the same run:
 *   - exact: brute force over the matching vectors (the true answer; the
 *     recall reference),
 *   - post-filter: dv_db_search for ef hits, then the filter -- what a
 *     caller without filtered search would do (fewer than k hits whenever
 *     the ef nearest hold fewer than k matches).
 * Data: n vectors uniform in [-0.5, 0.5)^dim (fixed xorshift seed), each
 * with the pairs p50 (every 2nd row), p10 (every 10th), p1 (every 100th),
 * p01 (every 1000th) set to "y" on matching rows and "n" elsewhere. The
 * first row of the table is no filter: the plain search at the same ef.
 * For each filter: queries/s, recall@k against exact, queries that got
 * fewer than k hits, and how many queries the beam search answered (the
 * rest went to the exact scan: docs/DB.md "Filtered search"). Prints a table
 * and writes JSON.
 *
 * Usage: bench_filtered [--n 50000] [--dim 64] [--queries 200] [--k 10] [--ef 64] [--out FILE]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "db/hnsw.h"
#include "deltavec.h"

/* Row 0 is no filter at all (the plain search's recall at this ef: the reference for the others). */
#define N_FILTERS 5
static const char *const KEYS[N_FILTERS] = {"none", "p50", "p10", "p1", "p01"};
static const unsigned EVERY[N_FILTERS] = {1, 2, 10, 100, 1000};

typedef struct method {
    double seconds;
    size_t found, total, short_queries; /* hits in the exact top k; exact hits; queries with < k hits */
} method;

typedef struct result {
    const char *key;
    double selectivity;
    method filtered, post, exact, scan;
    size_t by_graph;
} result;

static void die(const char *what, int st) { bench_die("bench_filtered", what, st); }

static uint64_t rng = 88172645463325252ull;
static float rand_unit(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / 16777216.0f - 0.5f;
}

static float l2(const float *a, const float *b, unsigned dim) {
    float s = 0;
    for (unsigned i = 0; i < dim; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

/* Exact filtered top k by brute force over the rows matching `every`: row numbers into best. */
static size_t exact_rows(const float *x, size_t n, unsigned dim, const float *q, unsigned every, size_t k,
                         size_t *best, float *bestd) {
    size_t m = 0;
    for (size_t i = 0; i < n; i += every) {
        float d = l2(x + i * dim, q, dim);
        if (m == k && !(d < bestd[k - 1])) continue;
        size_t j = m < k ? m++ : k - 1;
        while (j > 0 && bestd[j - 1] > d) {
            bestd[j] = bestd[j - 1];
            best[j] = best[j - 1];
            j--;
        }
        bestd[j] = d;
        best[j] = i;
    }
    return m;
}

static size_t row_of(const char *id) { return strtoul(id + 1, NULL, 10); }

static size_t overlap(const dv_hit *hits, size_t n, const size_t *rows, size_t m) {
    size_t f = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            if (row_of(hits[i].id) == rows[j]) f++;
    return f;
}

int main(int argc, char **argv) {
    size_t n = 50000, nq = 200, k = 10, ef = 64;
    unsigned dim = 64;
    const char *out = "bench/results/filtered.json";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n"))
            n = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dim"))
            dim = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--queries"))
            nq = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--k"))
            k = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--ef"))
            ef = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    }
    if (n == 0 || dim == 0 || nq == 0 || k == 0 || ef < k) die("arguments", DV_EINVAL);
    dv_db_config c;
    dv_db_config_default(&c, dim);
    c.ef_construction = 100;
    dv_db *db;
    int st = dv_db_open(&c, &db);
    if (st != DV_OK) die("open", st);
    float *x = malloc(n * dim * sizeof *x), *q = malloc(nq * dim * sizeof *q);
    dv_hit *hits = malloc(ef * sizeof *hits), *hits_all = malloc(nq * ef * sizeof *hits_all);
    size_t *truth = malloc(nq * k * sizeof *truth), *truth_n = malloc(nq * sizeof *truth_n);
    float *bestd = malloc(k * sizeof *bestd);
    if (!x || !q || !hits || !hits_all || !truth || !truth_n || !bestd) die("malloc", DV_ENOMEM);
    for (size_t i = 0; i < n * dim; i++) x[i] = rand_unit();
    for (size_t i = 0; i < nq * dim; i++) q[i] = rand_unit();
    char id[32];
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        dv_meta_kv meta[N_FILTERS - 1];
        for (int f = 1; f < N_FILTERS; f++) meta[f - 1] = (dv_meta_kv){KEYS[f], i % EVERY[f] ? "n" : "y"};
        snprintf(id, sizeof id, "v%zu", i);
        if ((st = dv_db_insert(db, id, x + i * dim, meta, N_FILTERS - 1)) != DV_OK) die("insert", st);
    }
    double build_s = bench_now() - t0;
    dv_search_scratch *scratch;
    if ((st = dv_hnsw_scratch_create(NULL, &scratch)) != DV_OK) die("scratch", st);

    result res[N_FILTERS];
    for (int f = 0; f < N_FILTERS; f++) {
        result *r = &res[f];
        memset(r, 0, sizeof *r);
        r->key = KEYS[f];
        r->selectivity = 1.0 / EVERY[f];
        dv_meta_kv pair = {KEYS[f], "y"};
        dv_filter filter = {&pair, f > 0}; /* 0 pairs: no filter */
        /* each method in its own pass over the queries: the exact scan streams the whole data set through the
         * cache, and timing a graph search right after it would measure cold caches */
        t0 = bench_now();
        for (size_t i = 0; i < nq; i++) {
            truth_n[i] = exact_rows(x, n, dim, q + i * dim, EVERY[f], k, truth + i * k, bestd);
            r->exact.found += truth_n[i];
            r->exact.total += truth_n[i];
        }
        r->exact.seconds = bench_now() - t0;
        size_t *got = malloc(nq * sizeof *got);
        if (!got) die("malloc", DV_ENOMEM);
        t0 = bench_now();
        for (size_t i = 0; i < nq; i++)
            if ((st = dv_db_search_filtered(db, q + i * dim, k, ef, &filter, hits_all + i * ef, &got[i])) !=
                DV_OK)
                die("filtered", st);
        r->filtered.seconds = bench_now() - t0;
        for (size_t i = 0; i < nq; i++) {
            r->filtered.found += overlap(hits_all + i * ef, got[i], truth + i * k, truth_n[i]);
            r->filtered.total += truth_n[i];
            r->filtered.short_queries += got[i] < truth_n[i];
            dv_filter_path path;
            size_t g;
            st = dv_hnsw_search_filtered_with(db, scratch, q + i * dim, k, ef, &filter, hits, &g, &path);
            if (st != DV_OK) die("filtered (path)", st);
            r->by_graph += path != DV_FILTER_PATH_SCAN; /* the plain search (no filter) is the graph too */
        }
        /* the library's exact scan alone (what the search falls back to), for every filter */
        dv_matcher matcher;
        dv_matcher_init(&matcher, &filter);
        t0 = bench_now();
        for (size_t i = 0; i < nq; i++) {
            st = dv_hnsw_exact_scan(db, scratch, q + i * dim, k, f > 0 ? &matcher : NULL, hits_all + i * ef,
                                    &got[i]);
            if (st != DV_OK) die("scan", st);
        }
        r->scan.seconds = bench_now() - t0;
        /* post-filter: the ef nearest, then the filter */
        t0 = bench_now();
        for (size_t i = 0; i < nq; i++) {
            dv_hit *h = hits_all + i * ef;
            size_t g, kept = 0;
            if ((st = dv_db_search(db, q + i * dim, ef, ef, h, &g)) != DV_OK) die("search", st);
            for (size_t j = 0; j < g && kept < k; j++)
                if (row_of(h[j].id) % EVERY[f] == 0) h[kept++] = h[j];
            got[i] = kept;
        }
        r->post.seconds = bench_now() - t0;
        for (size_t i = 0; i < nq; i++) {
            r->post.found += overlap(hits_all + i * ef, got[i], truth + i * k, truth_n[i]);
            r->post.total += truth_n[i];
            r->post.short_queries += got[i] < truth_n[i];
        }
        free(got);
    }

    printf("%-6s %7s | %12s %8s %7s %8s | %10s | %12s %8s %7s | %12s\n", "filter", "share", "filtered q/s",
           "recall", "short", "by graph", "scan q/s", "post q/s", "recall", "short", "exact q/s");
    for (int f = 0; f < N_FILTERS; f++) {
        const result *r = &res[f];
        printf("%-6s %6.1f%% | %12.0f %8.4f %7zu %8zu | %10.0f | %12.0f %8.4f %7zu | %12.0f\n", r->key,
               100 * r->selectivity, nq / r->filtered.seconds, (double)r->filtered.found / r->filtered.total,
               r->filtered.short_queries, r->by_graph, nq / r->scan.seconds, nq / r->post.seconds,
               (double)r->post.found / r->post.total, r->post.short_queries, nq / r->exact.seconds);
    }
    printf(
        "(n %zu, dim %u, k %zu, ef %zu, %zu queries, M 16, ef_construction 100, build %.1f s, %s kernels, "
        "one "
        "thread; short = queries with fewer than k hits while k vectors match; exact = brute force over the "
        "matching rows in this program)\n",
        n, dim, k, ef, nq, build_s, dv_simd_backend());

    FILE *fo = fopen(out, "w");
    if (!fo) {
        fprintf(stderr, "bench_filtered: cannot write %s\n", out);
        return 1;
    }
    fprintf(fo,
            "{\n  \"bench\": \"filtered\",\n  \"n\": %zu,\n  \"dim\": %u,\n  \"k\": %zu,\n  \"ef\": %zu,\n",
            n, dim, k, ef);
    fprintf(fo, "  \"queries\": %zu,\n  \"simd\": \"%s\",\n  \"results\": [\n", nq, dv_simd_backend());
    for (int f = 0; f < N_FILTERS; f++) {
        const result *r = &res[f];
        fprintf(fo,
                "    {\"filter\": \"%s\", \"selectivity\": %g, \"filtered_qps\": %.1f, \"filtered_recall\": "
                "%.4f, "
                "\"filtered_short\": %zu, \"by_graph\": %zu, \"scan_qps\": %.1f, \"post_filter_qps\": %.1f, "
                "\"post_filter_recall\": "
                "%.4f, \"post_filter_short\": %zu, \"exact_qps\": %.1f}%s\n",
                r->key, r->selectivity, nq / r->filtered.seconds,
                (double)r->filtered.found / r->filtered.total, r->filtered.short_queries, r->by_graph,
                nq / r->scan.seconds, nq / r->post.seconds, (double)r->post.found / r->post.total,
                r->post.short_queries, nq / r->exact.seconds, f + 1 < N_FILTERS ? "," : "");
    }
    fprintf(fo, "  ]\n}\n");
    fclose(fo);
    dv_hnsw_scratch_destroy(scratch);
    free(x);
    free(q);
    free(hits);
    free(hits_all);
    free(truth);
    free(truth_n);
    free(bestd);
    dv_db_close(db);
    return 0;
}
