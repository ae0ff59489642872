/*
 * bench_hnsw.cpp -- deltavec's HNSW against hnswlib, same data, same run, one thread.
 *
 * For each data set both indexes are built with M = 16, ef_construction =
 * 200 from the same vectors in the same order, then the same queries are
 * run at ef = 10 ... 200 (16 values, EFS below; k = 10). Measured:
 *   - build: wall time of the insert loop -> inserts/s;
 *   - memory per vector: glibc mallinfo2() heap in use (uordblks + hblkhd)
 *     plus the mappings deltavec makes itself for its big arrays (which
 *     malloc does not see), after minus before the build, / n -- the same
 *     method for both sides,
 *     both sized for n up front (hnswlib's max_elements, dv_db_reserve);
 *     deltavec's own dv_db_memory_usage() / n is printed beside it;
 *   - search: wall time of a pass over all queries (run over again until
 *     the pass holds MIN_PASS_QUERIES, for digits' 200) -> QPS (best of --rounds
 *     passes, the two libraries' passes interleaved so a noisy neighbour on
 *     the machine hurts both alike), and recall@10 against exact ground truth;
 *   - QPS at equal recall (0.90 / 0.95 / 0.99), interpolated linearly along
 *     each side's ef sweep -- the comparison the project's target is about.
 * deltavec is used only through include/deltavec.h. hnswlib is header-only
 * and compiled into this file with the bench's flags (-O3 -march=native by
 * default, so it picks its own SSE/AVX/AVX-512 distance code at compile
 * time); the deltavec library keeps the project's flags and picks its SIMD
 * kernels at run time (printed as "backend").
 *
 * Data sets (files under --data, default bench/data/, gitignored):
 *   synth: deterministic clustered set (dataset.h), 100,000 x 128, 1,000
 *          queries, 1,000 clusters with spread comparable to the distance
 *          between centres; --quick uses 10,000 base vectors, 200 queries.
 *   digits: scikit-learn's digits, 1,597 base + 200 queries, 64 dims.
 *   fashion: Fashion-MNIST (Debian dataset-fashion-mnist), 60,000 x 784
 *          base (the training images), the first 1,000 test images as
 *          queries; --quick: 5,000 base, 100 queries.
 * --n / --queries override the base and query counts of synth and fashion.
 * Each is written as <name>_base.fvecs, <name>_query.fvecs and
 * <name>_gt.ivecs (exact top 10) the first time and read back afterwards.
 * Results: a table on stdout and <out>/hnsw_<name>.json (default
 * bench/results/).
 */
#include <hnswlib/hnswlib.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "dataset.h"
#include "deltavec.h"

#ifndef DV_BENCH_FLAGS
#define DV_BENCH_FLAGS "unknown"
#endif

namespace {

const size_t K = 10;
/* A fine sweep: QPS at a recall is interpolated linearly between two
 * neighbouring points, and with 10, 20, 50, 100, 200 alone the chord of the
 * QPS-recall curve between 50 and 100 (recall 0.985 -> 0.996 here) put a
 * side's figure at 0.99 wherever its points happened to fall. */
const size_t EFS[] = {10, 12, 14, 16, 20, 24, 28, 32, 40, 50, 64, 80, 100, 128, 160, 200};
const size_t N_EF = sizeof EFS / sizeof EFS[0];
const double TARGETS[] = {0.90, 0.95, 0.99};
const size_t MIN_PASS_QUERIES = 2000;

struct Options {
    bool quick = false;
    std::string which = "all"; /* synth, digits, fashion, all */
    std::string side = "both"; /* ours, hnswlib, both */
    std::string data_dir = "bench/data";
    std::string out_dir = "bench/results";
    std::string digits_csv = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
    std::string fashion_dir = BENCH_FASHION_DIR;
    size_t n = 0, queries = 0; /* 0: the data set's default */
    int rounds = 3;
    size_t M = 16, ef_construction = 200;
    size_t clusters = 1000;
    float spread = 0.7f;
    uint64_t seed = 20240601;
    uint64_t db_seed = 0;     /* deltavec's level seed (dv_db_config.seed); 0 = its default */
    uint64_t hnsw_seed = 100; /* hnswlib's level seed (its random_seed; 100 is its own default) */
};

struct Dataset {
    std::string name, description;
    bench_matrix base{}, query{};
    bench_gt gt{};
};

size_t heap_in_use();

struct SideResult {
    bool ran = false;
    double build_s = 0, build_wall_s = 0; /* thread CPU time, wall time */
    double mem_per_vec = 0, self_mem_per_vec = 0;
    double qps[N_EF] = {0}, qps_wall[N_EF] = {0}, recall[N_EF] = {0};
};

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* CPU time of this thread: time the scheduler gives other processes on a
 * shared machine is not counted, which makes runs far more repeatable than
 * wall time (both are reported). */
double cpu_s() {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Accumulates CPU time, wall time and heap growth of the code between start() and stop(). */
struct Meter {
    double cpu = 0, wall = 0, c0 = 0, w0 = 0;
    long long heap = 0;
    size_t h0 = 0;
    void start() {
        h0 = heap_in_use();
        w0 = now_s();
        c0 = cpu_s();
    }
    void stop() {
        cpu += cpu_s() - c0;
        wall += now_s() - w0;
        heap += (long long)heap_in_use() - (long long)h0;
    }
};

/* The library's big-block mappings (src/util/alloc.h, not public API: the
 * bench links the static library). */
extern "C" size_t dv_mem_big_mapped_bytes(void);

size_t heap_in_use() {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd + dv_mem_big_mapped_bytes();
}

void die(const char *what) {
    fprintf(stderr, "bench_hnsw: %s\n", what);
    exit(1);
}

bool file_exists(const std::string &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

/* Reads the exact top K of ds's queries from the cache, or computes and writes it. */
void load_or_make_gt(Dataset &ds, const std::string &dir) {
    std::string g = dir + "/" + ds.name + "_gt.ivecs";
    if (bench_ivecs_read(g.c_str(), &ds.gt) != 0 || ds.gt.n != ds.query.n || ds.gt.k != K) {
        bench_gt_free(&ds.gt);
        double t = now_s();
        bench_ground_truth(&ds.base, &ds.query, K, &ds.gt);
        fprintf(stderr, "bench_hnsw: %s: exact ground truth in %.1f s\n", ds.name.c_str(), now_s() - t);
        bench_ivecs_write(g.c_str(), &ds.gt);
    }
}

/* Reads base/query/gt from the cache, or makes them with gen() and writes them. */
template <class Gen> void load_or_make(Dataset &ds, const std::string &dir, Gen gen) {
    std::string b = dir + "/" + ds.name + "_base.fvecs", q = dir + "/" + ds.name + "_query.fvecs",
                g = dir + "/" + ds.name + "_gt.ivecs";
    if (bench_fvecs_read(b.c_str(), &ds.base) != 0 || bench_fvecs_read(q.c_str(), &ds.query) != 0) {
        bench_matrix_free(&ds.base);
        bench_matrix_free(&ds.query);
        gen(ds);
        mkdir(dir.c_str(), 0777);
        if (bench_fvecs_write(b.c_str(), &ds.base) || bench_fvecs_write(q.c_str(), &ds.query))
            fprintf(stderr, "bench_hnsw: warning: could not cache %s under %s\n", ds.name.c_str(),
                    dir.c_str());
        remove(g.c_str()); /* a ground truth for other data is stale */
    }
    load_or_make_gt(ds, dir);
}

Dataset make_synth(const Options &o) {
    Dataset ds;
    size_t n = o.n       ? o.n
               : o.quick ? 10000
                         : 100000,
           nq = o.queries ? o.queries
                : o.quick ? 200
                          : 1000,
           dim = 128;
    char name[128], desc[256];
    snprintf(name, sizeof name, "synth-n%zu-q%zu-d%zu-c%zu-s%g-seed%llu", n, nq, dim, o.clusters,
             (double)o.spread, (unsigned long long)o.seed);
    snprintf(desc, sizeof desc,
             "synthetic clustered: %zu x %zu, %zu queries, %zu clusters, centres N(0,1), per-cluster sigma "
             "%.2g*U(0.5,1.5), seed %llu",
             n, dim, nq, o.clusters, (double)o.spread, (unsigned long long)o.seed);
    ds.name = name, ds.description = desc;
    load_or_make(ds, o.data_dir, [&](Dataset &d) {
        bench_synth_generate(n, nq, dim, o.clusters, o.spread, o.seed, &d.base, &d.query);
    });
    if (ds.base.n != n || ds.query.n != nq || ds.base.dim != dim)
        die("cached synthetic data has the wrong shape");
    return ds;
}

Dataset make_digits(const Options &o) {
    Dataset ds;
    ds.name = "digits";
    ds.description =
        "scikit-learn digits (python3-sklearn): 1597 base (first rows) + 200 queries (last rows), 64 dims";
    load_or_make(ds, o.data_dir, [&](Dataset &d) {
        if (bench_digits_load(o.digits_csv.c_str(), 1597, &d.base, &d.query) != 0)
            die("cannot read digits.csv.gz");
    });
    return ds;
}

/* The base and query files are cached once for every size (dataset.c); the
 * ground truth per size, under the name that holds both counts. */
Dataset make_fashion(const Options &o) {
    Dataset ds;
    size_t n = o.n ? o.n : o.quick ? 5000 : 60000, nq = o.queries ? o.queries : o.quick ? 100 : 1000;
    if (bench_fashion_load(o.data_dir.c_str(), o.fashion_dir.c_str(), n, nq, &ds.base, &ds.query) != 0)
        die("cannot read Fashion-MNIST");
    char name[128], desc[256];
    snprintf(name, sizeof name, "fashion-mnist-n%zu-q%zu", ds.base.n, ds.query.n);
    snprintf(
        desc, sizeof desc,
        "Fashion-MNIST (dataset-fashion-mnist): first %zu training images as base, first %zu test images "
        "as queries, %zu dims, pixels 0-255",
        ds.base.n, ds.query.n, ds.base.dim);
    ds.name = name, ds.description = desc;
    load_or_make_gt(ds, o.data_dir);
    return ds;
}

double recall_at_k(const Dataset &ds, const std::vector<int32_t> &found) {
    size_t hit = 0;
    for (size_t q = 0; q < ds.query.n; q++) {
        const int32_t *g = ds.gt.ids + q * K;
        for (size_t j = 0; j < K; j++) {
            int32_t id = found[q * K + j];
            if (id >= 0 && std::find(g, g + K, id) != g + K) hit++;
        }
    }
    return (double)hit / (double)(ds.query.n * K);
}

/* ---- hnswlib side ------------------------------------------------------------ */

struct Hnswlib {
    hnswlib::L2Space space;
    hnswlib::HierarchicalNSW<float> *index = nullptr;
    explicit Hnswlib(size_t dim) : space(dim) {}
    ~Hnswlib() { delete index; }

    void open(const Dataset &ds, const Options &o) {
        index = new hnswlib::HierarchicalNSW<float>(&space, ds.base.n, o.M, o.ef_construction, o.hnsw_seed);
    }
    void insert(const Dataset &ds, size_t from, size_t to) {
        for (size_t i = from; i < to; i++) index->addPoint(ds.base.data + i * ds.base.dim, i);
    }
    void finish(const Dataset &, SideResult &r) { r.self_mem_per_vec = NAN; }

    void pass(const Dataset &ds, size_t ef, size_t repeat, std::vector<int32_t> &found, Meter &m) {
        index->setEf(ef);
        m.start();
        for (size_t r = 0; r < repeat; r++) /* found[] keeps the last time over */
            for (size_t q = 0; q < ds.query.n; q++) {
                auto res = index->searchKnn(ds.query.data + q * ds.query.dim, K);
                size_t n = res.size();
                for (size_t j = n; j < K; j++) found[q * K + j] = -1;
                while (!res.empty()) { /* max-heap: farthest first */
                    found[q * K + --n] = (int32_t)res.top().second;
                    res.pop();
                }
            }
        m.stop();
    }
};

/* ---- deltavec side ------------------------------------------------------------ */

struct Ours {
    dv_db *db = nullptr;
    std::vector<char> ids; /* "<index>\0", 12 bytes each, formatted before timing */
    std::vector<int32_t> slot_to_index;
    std::vector<uint32_t> slots;
    ~Ours() { dv_db_close(db); }

    /* ids are formatted before any timing starts (outside the meters) */
    void prepare(const Dataset &ds) {
        ids.assign(ds.base.n * 12, 0);
        for (size_t i = 0; i < ds.base.n; i++) snprintf(&ids[i * 12], 12, "%u", (unsigned)(i % 1000000000u));
    }
    void open(const Dataset &ds, const Options &o) {
        dv_db_config cfg;
        dv_db_config_default(&cfg, (uint32_t)ds.base.dim);
        cfg.metric = DV_METRIC_L2;
        cfg.M = (uint32_t)o.M;
        cfg.ef_construction = (uint32_t)o.ef_construction;
        if (o.db_seed) cfg.seed = o.db_seed;
        dv_status st = dv_db_open(&cfg, &db);
        if (st == DV_OK) st = dv_db_reserve(db, ds.base.n); /* sized up front, as hnswlib's max_elements */
        if (st != DV_OK) die(dv_strerror(st));
    }
    void insert(const Dataset &ds, size_t from, size_t to) {
        for (size_t i = from; i < to; i++) {
            dv_status st = dv_db_insert(db, &ids[i * 12], ds.base.data + i * ds.base.dim, nullptr, 0);
            if (st != DV_OK) die(dv_strerror(st));
        }
    }
    void finish(const Dataset &ds, SideResult &r) {
        r.self_mem_per_vec = (double)dv_db_memory_usage(db) / (double)ds.base.n;
        if (dv_db_count(db) != ds.base.n) die("dv_db_count differs from the number of inserts");
        /* slot -> vector index, through the public iterator */
        dv_db_iterate(
            db,
            [](void *ctx, const char *id, const float *, uint32_t slot) {
                auto *m = static_cast<std::vector<int32_t> *>(ctx);
                if (slot >= m->size()) m->resize((size_t)slot + 1, -1);
                (*m)[slot] = (int32_t)strtol(id, nullptr, 10);
                return 0;
            },
            &slot_to_index);
    }

    void pass(const Dataset &ds, size_t ef, size_t repeat, std::vector<int32_t> &found, Meter &m) {
        dv_hit hits[K];
        slots.assign(ds.query.n * K, UINT32_MAX);
        m.start();
        for (size_t r = 0; r < repeat; r++) /* slots[] keeps the last time over */
            for (size_t q = 0; q < ds.query.n; q++) {
                size_t n = 0;
                dv_status st = dv_db_search(db, ds.query.data + q * ds.query.dim, K, ef, hits, &n);
                if (st != DV_OK) die(dv_strerror(st));
                for (size_t j = 0; j < n && j < K; j++) slots[q * K + j] = hits[j].slot;
            }
        m.stop();
        for (size_t i = 0; i < ds.query.n * K; i++)
            found[i] = slots[i] < slot_to_index.size() ? slot_to_index[slots[i]] : -1;
    }
};

/* QPS at a target recall, interpolated along the ef sweep; NAN if never reached. */
double qps_at_recall(const SideResult &r, double target) {
    if (!r.ran) return NAN;
    if (r.recall[0] >= target) return r.qps[0];
    for (size_t i = 1; i < N_EF; i++)
        if (r.recall[i] >= target && r.recall[i - 1] < target) {
            double f = (target - r.recall[i - 1]) / (r.recall[i] - r.recall[i - 1]);
            return r.qps[i - 1] + f * (r.qps[i] - r.qps[i - 1]);
        }
    return NAN;
}

std::string fmt(double v, const char *f) {
    if (std::isnan(v)) return "n/a";
    char b[64];
    snprintf(b, sizeof b, f, v);
    return b;
}

double ratio(const SideResult &a, const SideResult &b, double x, double y) {
    return (a.ran && b.ran && y > 0) ? x / y : NAN;
}

std::string today() {
    char b[32];
    time_t t = time(nullptr);
    strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", localtime(&t));
    return b;
}

std::string cpu_model() {
    FILE *f = fopen("/proc/cpuinfo", "r");
    std::string m = "unknown";
    if (!f) return m;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            m = strchr(line, ':') + 2;
            m.erase(m.find_last_not_of("\n") + 1);
            break;
        }
    fclose(f);
    return m;
}

void report(const Dataset &ds, const Options &o, const SideResult &us, const SideResult &hn) {
    size_t n = ds.base.n;
    printf("\n== %s\n   %s\n", ds.name.c_str(), ds.description.c_str());
    printf(
        "   M=%zu ef_construction=%zu k=%zu, single thread, deltavec backend %s, bench flags %s, best of %d "
        "passes,\n   times are thread CPU time unless marked wall\n",
        o.M, o.ef_construction, K, dv_simd_backend(), DV_BENCH_FLAGS, o.rounds);
    printf("   %-34s %14s %14s %10s\n", "", "deltavec", "hnswlib", "ours/hnsw");
    printf("   %-34s %14s %14s %10s\n", "build wall time (s)",
           fmt(us.ran ? us.build_wall_s : NAN, "%.2f").c_str(),
           fmt(hn.ran ? hn.build_wall_s : NAN, "%.2f").c_str(),
           fmt(ratio(us, hn, us.build_wall_s, hn.build_wall_s), "%.2f").c_str());
    printf("   %-34s %14s %14s %10s\n", "build CPU time (s)", fmt(us.ran ? us.build_s : NAN, "%.2f").c_str(),
           fmt(hn.ran ? hn.build_s : NAN, "%.2f").c_str(),
           fmt(ratio(us, hn, us.build_s, hn.build_s), "%.2f").c_str());
    double ui = us.ran ? n / us.build_s : NAN, hi = hn.ran ? n / hn.build_s : NAN;
    printf("   %-34s %14s %14s %10s\n", "inserts/s (CPU)", fmt(ui, "%.0f").c_str(), fmt(hi, "%.0f").c_str(),
           fmt(ratio(us, hn, ui, hi), "%.2f").c_str());
    printf("   %-34s %14s %14s %10s\n", "memory/vector, heap delta (B)",
           fmt(us.ran ? us.mem_per_vec : NAN, "%.0f").c_str(),
           fmt(hn.ran ? hn.mem_per_vec : NAN, "%.0f").c_str(),
           fmt(ratio(us, hn, us.mem_per_vec, hn.mem_per_vec), "%.2f").c_str());
    printf("   %-34s %14s %14s\n", "memory/vector, self-reported (B)",
           fmt(us.ran ? us.self_mem_per_vec : NAN, "%.0f").c_str(), "n/a");
    printf("\n   %5s %12s %12s %12s %12s %10s\n", "ef", "recall ours", "recall hnsw", "QPS ours", "QPS hnsw",
           "QPS ratio");
    for (size_t e = 0; e < N_EF; e++)
        printf("   %5zu %12s %12s %12s %12s %10s\n", EFS[e], fmt(us.ran ? us.recall[e] : NAN, "%.4f").c_str(),
               fmt(hn.ran ? hn.recall[e] : NAN, "%.4f").c_str(),
               fmt(us.ran ? us.qps[e] : NAN, "%.0f").c_str(), fmt(hn.ran ? hn.qps[e] : NAN, "%.0f").c_str(),
               fmt(ratio(us, hn, us.qps[e], hn.qps[e]), "%.2f").c_str());
    printf("\n   %-20s %12s %12s %10s\n", "QPS at recall@10", "deltavec", "hnswlib", "ratio");
    /* (QPS = queries / thread CPU seconds of the best pass) */
    for (double t : TARGETS) {
        double a = qps_at_recall(us, t), b = qps_at_recall(hn, t);
        printf("   >= %-17.2f %12s %12s %10s\n", t, fmt(a, "%.0f").c_str(), fmt(b, "%.0f").c_str(),
               fmt(a / b, "%.2f").c_str());
    }

    /* JSON */
    mkdir(o.out_dir.c_str(), 0777);
    /* hnsw_synth.json / hnsw_digits.json / hnsw_fashion.json; a --quick run never overwrites them */
    std::string base = ds.name.rfind("synth", 0) == 0     ? "synth"
                       : ds.name.rfind("fashion", 0) == 0 ? "fashion"
                                                          : ds.name;
    std::string path = o.out_dir + "/hnsw_" + base + (o.quick ? "-quick" : "") + ".json";
    FILE *f = fopen(path.c_str(), "w");
    if (!f) {
        fprintf(stderr, "bench_hnsw: cannot write %s\n", path.c_str());
        return;
    }
    auto num = [](double v) { return std::isnan(v) ? std::string("null") : fmt(v, "%.6g"); };
    fprintf(f, "{\n  \"dataset\": \"%s\",\n  \"description\": \"%s\",\n", ds.name.c_str(),
            ds.description.c_str());
    fprintf(f, "  \"n\": %zu, \"dim\": %zu, \"queries\": %zu, \"k\": %zu,\n", n, ds.base.dim, ds.query.n, K);
    fprintf(f, "  \"date\": \"%s\", \"cpu\": \"%s\", \"threads\": 1,\n", today().c_str(),
            cpu_model().c_str());
    fprintf(f, "  \"M\": %zu, \"ef_construction\": %zu, \"rounds\": %d,\n", o.M, o.ef_construction, o.rounds);
    fprintf(f, "  \"deltavec_backend\": \"%s\", \"deltavec_version\": \"%s\", \"bench_flags\": \"%s\",\n",
            dv_simd_backend(), dv_version_string(), DV_BENCH_FLAGS);
    fprintf(f, "  \"memory_method\": \"mallinfo2 (uordblks+hblkhd) + deltavec big-block mappings: growth "
               "during the side's build chunks / n\",\n");
    fprintf(f,
            "  \"time_method\": \"CLOCK_THREAD_CPUTIME_ID (and wall); build interleaved in chunks of 5000; "
            "QPS = queries / best of rounds passes, passes interleaved; a pass runs the query set over until "
            "it holds at least 2000 queries\",\n");
    const SideResult *sides[2] = {&us, &hn};
    const char *names[2] = {"deltavec", "hnswlib"};
    for (int s = 0; s < 2; s++) {
        const SideResult &r = *sides[s];
        fprintf(
            f,
            "  \"%s\": {\"ran\": %s, \"build_wall_s\": %s, \"build_cpu_s\": %s, \"inserts_per_cpu_s\": %s, "
            "\"mem_per_vector\": %s, \"self_reported_mem_per_vector\": %s,\n    \"search\": [",
            names[s], r.ran ? "true" : "false", num(r.ran ? r.build_wall_s : NAN).c_str(),
            num(r.ran ? r.build_s : NAN).c_str(), num(r.ran ? n / r.build_s : NAN).c_str(),
            num(r.ran ? r.mem_per_vec : NAN).c_str(), num(r.ran ? r.self_mem_per_vec : NAN).c_str());
        for (size_t e = 0; e < N_EF; e++)
            fprintf(f, "%s{\"ef\": %zu, \"recall_at_10\": %s, \"qps_cpu\": %s, \"qps_wall\": %s}",
                    e ? ", " : "", EFS[e], num(r.ran ? r.recall[e] : NAN).c_str(),
                    num(r.ran ? r.qps[e] : NAN).c_str(), num(r.ran ? r.qps_wall[e] : NAN).c_str());
        fprintf(f, "],\n    \"qps_at_recall\": {");
        for (size_t t = 0; t < 3; t++)
            fprintf(f, "%s\"%.2f\": %s", t ? ", " : "", TARGETS[t],
                    num(qps_at_recall(r, TARGETS[t])).c_str());
        fprintf(f, "}},\n");
    }
    /* the rows of issue 15: build rate (inserts per CPU second, so hnswlib's
     * time over ours), QPS at each recall, memory per vector */
    fprintf(f,
            "  \"ratios_ours_over_hnswlib\": {\"build_cpu_time\": %s, \"build_rate\": %s, "
            "\"mem_per_vector\": %s, \"qps_at_recall_0.90\": %s, \"qps_at_recall_0.95\": %s, "
            "\"qps_at_recall_0.99\": %s}\n}\n",
            num(ratio(us, hn, us.build_s, hn.build_s)).c_str(),
            num(ratio(us, hn, hn.build_s, us.build_s)).c_str(),
            num(ratio(us, hn, us.mem_per_vec, hn.mem_per_vec)).c_str(),
            num(qps_at_recall(us, 0.90) / qps_at_recall(hn, 0.90)).c_str(),
            num(qps_at_recall(us, 0.95) / qps_at_recall(hn, 0.95)).c_str(),
            num(qps_at_recall(us, 0.99) / qps_at_recall(hn, 0.99)).c_str());
    fclose(f);
    printf("   results: %s\n", path.c_str());
}

/* Builds both indexes in interleaved chunks (who goes first alternates), so
 * a burst of load from other processes lands on both sides, and each
 * side's meter only sees its own inserts (and its own heap growth). */
void build_both(const Dataset &ds, const Options &o, bool do_ours, bool do_hnsw, Ours &d, Hnswlib &h,
                SideResult &us, SideResult &hn) {
    Meter mu, mh;
    if (do_ours) d.prepare(ds);
    if (do_hnsw) mh.start(), h.open(ds, o), mh.stop();
    if (do_ours) mu.start(), d.open(ds, o), mu.stop();
    const size_t chunk = 5000;
    for (size_t c = 0, from = 0; from < ds.base.n; c++, from += chunk) {
        size_t to = std::min(ds.base.n, from + chunk);
        for (int turn = 0; turn < 2; turn++) {
            bool ours_now = (turn == 0) == (c % 2 == 0);
            if (ours_now && do_ours) mu.start(), d.insert(ds, from, to), mu.stop();
            if (!ours_now && do_hnsw) mh.start(), h.insert(ds, from, to), mh.stop();
        }
    }
    SideResult *rs[2] = {&us, &hn};
    Meter *ms[2] = {&mu, &mh};
    for (int i = 0; i < 2; i++) {
        rs[i]->ran = i == 0 ? do_ours : do_hnsw;
        rs[i]->build_s = ms[i]->cpu;
        rs[i]->build_wall_s = ms[i]->wall;
        rs[i]->mem_per_vec = (double)ms[i]->heap / (double)ds.base.n;
    }
    if (do_ours) d.finish(ds, us);
    if (do_hnsw) h.finish(ds, hn);
}

void run(Dataset &ds, const Options &o) {
    bool do_ours = o.side != "hnswlib", do_hnsw = o.side != "ours";
    SideResult us, hn;
    Hnswlib h(ds.base.dim);
    Ours d;
    fprintf(stderr, "bench_hnsw: %s: building (interleaved chunks of 5000)...\n", ds.name.c_str());
    build_both(ds, o, do_ours, do_hnsw, d, h, us, hn);
    std::vector<int32_t> found(ds.query.n * K);
    /* A timed pass runs at least MIN_PASS_QUERIES queries (digits' 200 are
     * about a millisecond at ef 10, too short to time against this machine's
     * noise): small query sets are run several times over. */
    const size_t repeat = (MIN_PASS_QUERIES + ds.query.n - 1) / ds.query.n;
    { /* untimed warm-up pass per side: page faults, caches, lazy allocations */
        Meter m;
        if (do_ours) d.pass(ds, EFS[0], 1, found, m);
        if (do_hnsw) h.pass(ds, EFS[0], 1, found, m);
    }
    for (size_t e = 0; e < N_EF; e++) {
        double best_us = INFINITY, best_hn = INFINITY, wall_us = INFINITY, wall_hn = INFINITY;
        for (int r = 0; r < o.rounds; r++) { /* interleaved: noise hits both sides */
            if (do_ours) {
                Meter m;
                d.pass(ds, EFS[e], repeat, found, m);
                best_us = std::min(best_us, m.cpu), wall_us = std::min(wall_us, m.wall);
                us.recall[e] = recall_at_k(ds, found);
            }
            if (do_hnsw) {
                Meter m;
                h.pass(ds, EFS[e], repeat, found, m);
                best_hn = std::min(best_hn, m.cpu), wall_hn = std::min(wall_hn, m.wall);
                hn.recall[e] = recall_at_k(ds, found);
            }
        }
        const double queries = (double)(ds.query.n * repeat);
        us.qps[e] = queries / best_us, us.qps_wall[e] = queries / wall_us;
        hn.qps[e] = queries / best_hn, hn.qps_wall[e] = queries / wall_hn;
    }
    report(ds, o, us, hn);
}

void usage() {
    fprintf(stderr,
            "usage: bench_hnsw [--quick] [--dataset synth|digits|fashion|all] [--side both|ours|hnswlib]\n"
            "                  [--data DIR] [--out DIR] [--rounds N] [--clusters N] [--spread S] [--seed N]\n"
            "                  [--digits PATH] [--fashion DIR] [--n N] [--queries N] [--db-seed N]\n"
            "                  [--hnsw-seed N]\n");
    exit(2);
}

} // namespace

int main(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> const char * {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--quick")
            o.quick = true;
        else if (a == "--dataset")
            o.which = next();
        else if (a == "--side")
            o.side = next();
        else if (a == "--data")
            o.data_dir = next();
        else if (a == "--out")
            o.out_dir = next();
        else if (a == "--rounds")
            o.rounds = std::max(1, atoi(next()));
        else if (a == "--clusters")
            o.clusters = (size_t)std::max(1L, atol(next()));
        else if (a == "--spread")
            o.spread = (float)atof(next());
        else if (a == "--seed")
            o.seed = strtoull(next(), nullptr, 10);
        else if (a == "--digits")
            o.digits_csv = next();
        else if (a == "--fashion")
            o.fashion_dir = next();
        else if (a == "--n")
            o.n = strtoull(next(), nullptr, 10);
        else if (a == "--queries")
            o.queries = strtoull(next(), nullptr, 10);
        else if (a == "--db-seed")
            o.db_seed = strtoull(next(), nullptr, 10);
        else if (a == "--hnsw-seed")
            o.hnsw_seed = strtoull(next(), nullptr, 10);
        else
            usage();
    }
    if (o.which != "all" && o.which != "synth" && o.which != "digits" && o.which != "fashion") usage();
    if (o.side != "both" && o.side != "ours" && o.side != "hnswlib") usage();
    if (o.which == "all" || o.which == "synth") {
        Dataset ds = make_synth(o);
        run(ds, o);
        bench_matrix_free(&ds.base), bench_matrix_free(&ds.query), bench_gt_free(&ds.gt);
    }
    if (o.which == "all" || o.which == "fashion") {
        if (!file_exists(o.fashion_dir + "/train-images-idx3-ubyte.gz")) {
            fprintf(stderr,
                    "bench_hnsw: %s not found (apt-get install dataset-fashion-mnist); fashion skipped\n",
                    o.fashion_dir.c_str());
            if (o.which == "fashion") return 1;
        } else {
            Dataset ds = make_fashion(o);
            run(ds, o);
            bench_matrix_free(&ds.base), bench_matrix_free(&ds.query), bench_gt_free(&ds.gt);
        }
    }
    if (o.which == "all" || o.which == "digits") {
        if (!file_exists(o.digits_csv)) {
            fprintf(stderr, "bench_hnsw: %s not found (apt-get install python3-sklearn); digits skipped\n",
                    o.digits_csv.c_str());
            return o.which == "digits" ? 1 : 0;
        }
        Dataset ds = make_digits(o);
        run(ds, o);
        bench_matrix_free(&ds.base), bench_matrix_free(&ds.query), bench_gt_free(&ds.gt);
    }
    return 0;
}
