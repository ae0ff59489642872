/*
 * bench_delete.cpp -- delete latency against hnswlib's markDelete, and recall
 * after deletes against a fresh build of the survivors, in one run.
 *
 * A delete leaves a tombstone (docs/DB.md): searches route through it and
 * never return it, and dv_db_repair takes tombstones out of the graph later
 * in bounded steps. So a delete is timed on its own, and the repair that
 * pays for it is timed apart and reported per deleted vector.
 *
 * Latency, per size n (--sizes): the synthetic clustered set of dataset.h
 * (n x --dim, 1,000 clusters) or, with --dataset fashion, the first n
 * Fashion-MNIST training images (784 dims, real data; --dim is ignored), inserted into deltavec and into
 * hnswlib (M 16, ef_construction 100, same order); then --deletes ids in a fixed random order are deleted
 * from each, every call timed: median, mean and p99 per side. Then dv_db_repair() is timed once (its cost /
 * deletes is the amortized repair per delete); hnswlib has no counterpart (its marked elements stay in the
 * graph until replaced).
 *
 * Recall, at --recall-n vectors: delete 10% and 50% (random ids, the
 * default repair_fraction doing what it does on the way), measure
 * recall@10 at ef --ef against exact search over the survivors with the
 * tombstones still in place and after dv_db_repair(), and the same for a
 * fresh db built from the survivors alone (same config, same order).
 * With --dataset fashion the queries are the first Fashion-MNIST test
 * images; --recall-n 0 skips the recall part.
 *
 * Usage: bench_delete [--sizes 20000,60000,200000,500000] [--dim 128]
 *        [--deletes 2000] [--recall-n 20000] [--queries 300] [--ef 50] [--out FILE]
 *        [--dataset synth|fashion] [--data DIR] [--fashion DIR]
 */
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "dataset.h"
#include "deltavec.h"

namespace {

const size_t K = 10;
const unsigned M = 16, EFC = 100;

double now() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

[[noreturn]] void die(const char *what, int st) {
    std::fprintf(stderr, "bench_delete: %s: %s\n", what, dv_status_name((dv_status)st));
    std::exit(1);
}

struct latency {
    double median_us, mean_us, p99_us;
};

latency summarize(std::vector<double> t) {
    latency l = {0, 0, 0};
    if (t.empty()) return l;
    std::sort(t.begin(), t.end());
    double sum = 0;
    for (double x : t) sum += x;
    l.median_us = t[t.size() / 2] * 1e6;
    l.mean_us = sum / (double)t.size() * 1e6;
    l.p99_us = t[std::min(t.size() - 1, (size_t)((double)t.size() * 0.99))] * 1e6;
    return l;
}

/* A fixed permutation of 0..n-1 (Fisher-Yates over splitmix64). */
std::vector<size_t> shuffled(size_t n, uint64_t seed) {
    std::vector<size_t> p(n);
    for (size_t i = 0; i < n; i++) p[i] = i;
    uint64_t s = seed;
    for (size_t i = n; i > 1; i--) {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        std::swap(p[i - 1], p[z % i]);
    }
    return p;
}

/* Where the vectors come from: the synthetic generator or Fashion-MNIST. */
struct source {
    bool fashion = false;
    unsigned dim = 128; /* synthetic only */
    std::string data_dir = "bench/data", fashion_dir = BENCH_FASHION_DIR;
};

/* n base rows and n_query queries; seed picks the synthetic stream. */
void load_rows(const source &src, size_t n, size_t n_query, uint64_t seed, bench_matrix *base,
               bench_matrix *query) {
    if (!src.fashion) {
        bench_synth_generate(n, n_query, src.dim, 1000, 0.5f, seed, base, query);
        return;
    }
    if (bench_fashion_load(src.data_dir.c_str(), src.fashion_dir.c_str(), n, n_query, base, query) != 0) {
        std::fprintf(stderr, "bench_delete: cannot read Fashion-MNIST\n");
        std::exit(1);
    }
    if (base->n < n || query->n < n_query) {
        std::fprintf(stderr,
                     "bench_delete: Fashion-MNIST has %zu base and %zu query vectors, not %zu and %zu\n",
                     base->n, query->n, n, n_query);
        std::exit(1);
    }
}

std::string id_of(size_t i) { return "v" + std::to_string(i); }

dv_db *open_db(unsigned dim) {
    dv_db_config c;
    dv_db_config_default(&c, dim);
    c.M = M;
    c.ef_construction = EFC;
    dv_db *db;
    int st = dv_db_open(&c, &db);
    if (st != DV_OK) die("open", st);
    return db;
}

void insert_rows(dv_db *db, const bench_matrix &m, const std::vector<size_t> &rows) {
    for (size_t i : rows) {
        int st = dv_db_insert(db, id_of(i).c_str(), m.data + i * m.dim, NULL, 0);
        if (st != DV_OK) die("insert", st);
    }
}

/* ---- latency ---------------------------------------------------------------------- */

struct size_result {
    size_t n, deletes;
    double build_s, hnsw_build_s;
    latency dv, hnsw;
    double repair_s;
    uint64_t hash;
};

size_result run_size(const source &src, size_t n, size_t deletes) {
    size_result r = {};
    r.n = n;
    bench_matrix base, query;
    load_rows(src, n, 1, 42, &base, &query);
    unsigned dim = (unsigned)base.dim;
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; i++) order[i] = i;
    dv_db *db = open_db(dim);
    double t0 = now();
    insert_rows(db, base, order);
    r.build_s = now() - t0;
    hnswlib::L2Space space(dim);
    hnswlib::HierarchicalNSW<float> h(&space, n, M, EFC, 100);
    t0 = now();
    for (size_t i = 0; i < n; i++) h.addPoint(base.data + i * dim, i);
    r.hnsw_build_s = now() - t0;

    std::vector<size_t> victims = shuffled(n, 7);
    victims.resize(std::min(deletes, n));
    r.deletes = victims.size();
    std::vector<double> tdv, th;
    tdv.reserve(victims.size());
    th.reserve(victims.size());
    std::vector<std::string> ids;
    for (size_t v : victims) ids.push_back(id_of(v));
    for (size_t k = 0; k < victims.size(); k++) { /* interleaved: a noisy neighbour hurts both */
        double a = now();
        int st = dv_db_delete(db, ids[k].c_str());
        double b = now();
        h.markDelete(victims[k]);
        double c = now();
        if (st != DV_OK) die("delete", st);
        tdv.push_back(b - a);
        th.push_back(c - b);
    }
    r.dv = summarize(tdv);
    r.hnsw = summarize(th);
    t0 = now();
    int st = dv_db_repair(db);
    r.repair_s = now() - t0;
    if (st != DV_OK) die("repair", st);
    r.hash = dv_db_state_hash(db);
    dv_db_close(db);
    bench_matrix_free(&base);
    bench_matrix_free(&query);
    return r;
}

/* ---- recall ------------------------------------------------------------------------ */

double recall(dv_db *db, const bench_matrix &q, size_t ef) {
    std::vector<dv_hit> got(K), want(K);
    size_t hit = 0, total = 0;
    for (size_t i = 0; i < q.n; i++) {
        size_t ng = 0, nw = 0;
        const float *v = q.data + i * q.dim;
        int st = dv_db_search(db, v, K, ef, got.data(), &ng);
        if (st == DV_OK) st = dv_db_search_exact(db, v, K, want.data(), &nw);
        if (st != DV_OK) die("search", st);
        for (size_t a = 0; a < nw; a++)
            for (size_t b = 0; b < ng; b++)
                if (got[b].id && std::strcmp(got[b].id, want[a].id) == 0) {
                    hit++;
                    break;
                }
        total += nw;
    }
    return total ? (double)hit / (double)total : 1.0;
}

struct recall_result {
    double fraction;
    size_t survivors;
    double with_tombstones, repaired, fresh, repair_s;
};

recall_result run_recall(const source &src, size_t n, double fraction, size_t n_query, size_t ef) {
    recall_result r = {};
    r.fraction = fraction;
    bench_matrix base, query;
    load_rows(src, n, n_query, 43, &base, &query);
    unsigned dim = (unsigned)base.dim;
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; i++) order[i] = i;
    dv_db *db = open_db(dim);
    insert_rows(db, base, order);
    std::vector<size_t> perm = shuffled(n, 11);
    size_t n_del = (size_t)((double)n * fraction);
    std::vector<char> gone(n, 0);
    for (size_t k = 0; k < n_del; k++) {
        int st = dv_db_delete(db, id_of(perm[k]).c_str());
        if (st != DV_OK) die("delete", st);
        gone[perm[k]] = 1;
    }
    r.with_tombstones = recall(db, query, ef);
    double t0 = now();
    int st = dv_db_repair(db);
    r.repair_s = now() - t0;
    if (st != DV_OK) die("repair", st);
    r.repaired = recall(db, query, ef);
    std::vector<size_t> keep;
    for (size_t i = 0; i < n; i++)
        if (!gone[i]) keep.push_back(i);
    r.survivors = keep.size();
    dv_db *fresh = open_db(dim);
    insert_rows(fresh, base, keep);
    r.fresh = recall(fresh, query, ef);
    dv_db_close(fresh);
    dv_db_close(db);
    bench_matrix_free(&base);
    bench_matrix_free(&query);
    return r;
}

} // namespace

int main(int argc, char **argv) {
    std::vector<size_t> sizes = {20000, 60000, 200000, 500000};
    size_t deletes = 2000, recall_n = 20000, n_query = 300, ef = 50;
    source src;
    std::string out = "bench/results/delete.json";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--sizes") {
            sizes.clear();
            for (char *s = argv[i + 1]; *s;) {
                sizes.push_back(std::strtoul(s, &s, 10));
                if (*s == ',') s++;
            }
        } else if (a == "--deletes") {
            deletes = std::strtoul(argv[i + 1], NULL, 10);
        } else if (a == "--dim") {
            src.dim = (unsigned)std::strtoul(argv[i + 1], NULL, 10);
        } else if (a == "--dataset") {
            src.fashion = std::strcmp(argv[i + 1], "fashion") == 0;
            if (!src.fashion && std::strcmp(argv[i + 1], "synth") != 0) {
                std::fprintf(stderr, "bench_delete: --dataset synth|fashion\n");
                return 2;
            }
        } else if (a == "--data") {
            src.data_dir = argv[i + 1];
        } else if (a == "--fashion") {
            src.fashion_dir = argv[i + 1];
        } else if (a == "--recall-n") {
            recall_n = std::strtoul(argv[i + 1], NULL, 10);
        } else if (a == "--queries") {
            n_query = std::strtoul(argv[i + 1], NULL, 10);
        } else if (a == "--ef") {
            ef = std::strtoul(argv[i + 1], NULL, 10);
        } else if (a == "--out") {
            out = argv[i + 1];
        }
    }
    const unsigned dim = src.fashion ? 28 * 28 : src.dim; /* Fashion-MNIST: 28 x 28 pixels */
    const char *set = src.fashion ? "fashion-mnist" : "synthetic clustered";
    std::printf("delete latency, %s %u dims, M %u, ef_construction %u, %s kernels\n", set, dim, M, EFC,
                dv_simd_backend());
    std::printf("%8s %7s | %9s %9s %9s | %9s %9s %9s | %11s %11s | %s\n", "n", "deletes", "dv med", "dv mean",
                "dv p99", "hnsw med", "hnsw mean", "hnsw p99", "repair ms", "repair/del", "state hash");
    std::vector<size_result> lat;
    for (size_t n : sizes) {
        size_result r = run_size(src, n, deletes);
        lat.push_back(r);
        std::printf(
            "%8zu %7zu | %7.2fus %7.2fus %7.2fus | %7.2fus %7.2fus %7.2fus | %11.1f %9.1fus | %016llx\n", r.n,
            r.deletes, r.dv.median_us, r.dv.mean_us, r.dv.p99_us, r.hnsw.median_us, r.hnsw.mean_us,
            r.hnsw.p99_us, r.repair_s * 1e3, r.repair_s * 1e6 / (double)r.deletes,
            (unsigned long long)r.hash);
        std::fflush(stdout);
    }
    std::printf(
        "\nrecall@%zu at ef %zu after deletes, %zu x %u, %zu queries (exact search over the survivors)\n", K,
        ef, recall_n, dim, n_query);
    std::printf("%8s %9s | %11s %9s %9s | %11s | %9s\n", "deleted", "survivors", "tombstones", "repaired",
                "fresh", "fresh-rep.", "repair ms");
    std::vector<recall_result> rec;
    for (double f : {0.10, 0.50}) {
        if (recall_n == 0) break; /* --recall-n 0: latency only */
        recall_result r = run_recall(src, recall_n, f, n_query, ef);
        rec.push_back(r);
        std::printf("%7.0f%% %9zu | %11.4f %9.4f %9.4f | %+11.4f | %9.1f\n", f * 100, r.survivors,
                    r.with_tombstones, r.repaired, r.fresh, r.fresh - r.repaired, r.repair_s * 1e3);
        std::fflush(stdout);
    }
    FILE *f = std::fopen(out.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "bench_delete: cannot write %s\n", out.c_str());
        return 1;
    }
    std::fprintf(f,
                 "{\n  \"bench\": \"delete\",\n  \"dataset\": \"%s\",\n  \"dim\": %u,\n  \"M\": %u,\n  "
                 "\"ef_construction\": %u,\n",
                 src.fashion ? "fashion-mnist" : "synth", dim, M, EFC);
    std::fprintf(f, "  \"simd\": \"%s\",\n  \"latency\": [\n", dv_simd_backend());
    for (size_t i = 0; i < lat.size(); i++) {
        const size_result &r = lat[i];
        std::fprintf(
            f,
            "    {\"n\": %zu, \"deletes\": %zu, \"build_s\": %.3f, \"hnswlib_build_s\": %.3f, "
            "\"delete_median_us\": %.3f, \"delete_mean_us\": %.3f, \"delete_p99_us\": %.3f, "
            "\"hnswlib_mark_delete_median_us\": %.3f, \"hnswlib_mark_delete_mean_us\": %.3f, "
            "\"hnswlib_mark_delete_p99_us\": %.3f, \"repair_s\": %.6f, \"repair_us_per_delete\": %.3f, "
            "\"state_hash\": \"%016llx\"}%s\n",
            r.n, r.deletes, r.build_s, r.hnsw_build_s, r.dv.median_us, r.dv.mean_us, r.dv.p99_us,
            r.hnsw.median_us, r.hnsw.mean_us, r.hnsw.p99_us, r.repair_s, r.repair_s * 1e6 / (double)r.deletes,
            (unsigned long long)r.hash, i + 1 < lat.size() ? "," : "");
    }
    std::fprintf(f,
                 "  ],\n  \"recall\": {\"n\": %zu, \"queries\": %zu, \"ef\": %zu, \"k\": %zu, \"runs\": [\n",
                 recall_n, n_query, ef, K);
    for (size_t i = 0; i < rec.size(); i++) {
        const recall_result &r = rec[i];
        std::fprintf(f,
                     "    {\"deleted_fraction\": %.2f, \"survivors\": %zu, \"recall_with_tombstones\": %.4f, "
                     "\"recall_repaired\": %.4f, \"recall_fresh_build\": %.4f, \"repair_s\": %.6f}%s\n",
                     r.fraction, r.survivors, r.with_tombstones, r.repaired, r.fresh, r.repair_s,
                     i + 1 < rec.size() ? "," : "");
    }
    std::fprintf(f, "  ]}\n}\n");
    std::fclose(f);
    std::printf("wrote %s\n", out.c_str());
    return 0;
}
