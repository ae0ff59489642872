/*
 * bench_snapshot.cpp -- snapshot save and load against hnswlib's
 * saveIndex/loadIndex, same vectors, same run, one thread.
 *
 * For each size (100k x 128; 1M x 128 with --large; 10k with --quick) both
 * indexes are built from the same synthetic clustered vectors (dataset.h)
 * with M = 16 and ef_construction = --efc (default 40: the build is not what
 * is measured and a smaller ef keeps it short; the file layout does not
 * depend on it). Then, best of --rounds:
 *   - save to file: deltavec dv_db_snapshot_to_buffer + write() + fsync();
 *     hnswlib saveIndex() + fsync() of the file. Also deltavec's streaming
 *     writer (dv_db_snapshot_write straight into write()) + fsync().
 *   - load from file (page cache): deltavec mmap() of the file (the
 *     loader takes a buffer; a mapping is the zero-copy one) +
 *     dv_db_snapshot_read, which verifies every checksum, validates the
 *     graph and recomputes the state hash; hnswlib loadIndex() (ifstream
 *     reads straight into its arrays; no checksums, no validation). The
 *     files were just written, so both read from the page cache.
 *   - load from file with read(): dv_snapshot_load_file, which reads the
 *     header and small sections with pread() and the bulk (NODES) in 256 KiB
 *     preads straight into the db's array (no mapping, no whole-file copy),
 *     with the same checks as dv_db_snapshot_read.
 *   - load from memory: dv_db_snapshot_read alone, and its rate in GB/s of
 *     snapshot bytes.
 * File sizes are compared. Files go in $TMPDIR (default /tmp) via mkstemp
 * and are removed. The loaded db's state hash is checked against the
 * original's. Results: a table on stdout and <out>/snapshot.json (quick:
 * snapshot-quick.json).
 */
#include <hnswlib/hnswlib.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataset.h"
#include "deltavec.h"

namespace {

struct Options {
    bool quick = false, large = false;
    int rounds = 3;
    size_t M = 16, efc = 40, dim = 128;
    std::string out_dir = "bench/results";
};

struct Row {
    size_t n = 0, dim = 0;
    uint64_t dv_bytes = 0, hl_bytes = 0;
    double dv_save = 1e30, dv_save_stream = 1e30, hl_save = 1e30;
    double dv_load_file = 1e30, dv_load_read = 1e30, dv_load_mem = 1e30, hl_load = 1e30;
    double c_dv_load_read = 1e30;
    /* the same, thread CPU time */
    double c_dv_save = 1e30, c_dv_save_stream = 1e30, c_hl_save = 1e30, c_dv_load_file = 1e30,
           c_dv_load_mem = 1e30, c_hl_load = 1e30;
};

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* CPU time of this thread (user + system): on a shared machine wall time
 * also counts the time other processes hold the cores. */
double cpu_now() {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

[[noreturn]] void die(const char *what, int st) {
    std::fprintf(stderr, "bench_snapshot: %s: %s\n", what, st ? dv_status_name(st) : std::strerror(errno));
    std::exit(1);
}

std::string temp_path() {
    const char *dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/dv-snapshot-XXXXXX";
    std::vector<char> b(p.begin(), p.end());
    b.push_back(0);
    int fd = mkstemp(b.data());
    if (fd < 0) die("mkstemp", 0);
    close(fd);
    return std::string(b.data());
}

void write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("write", 0);
        }
        p += k;
        n -= (size_t)k;
    }
}

dv_status fd_sink(void *ctx, const uint8_t *p, size_t n) {
    write_all(*(int *)ctx, p, n);
    return DV_OK;
}

void fsync_path(const std::string &path) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) die("fsync", 0);
    close(fd);
}

std::vector<uint8_t> read_file(const std::string &path) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) die("open", 0);
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat", 0);
    std::vector<uint8_t> b((size_t)st.st_size);
    size_t got = 0;
    while (got < b.size()) {
        ssize_t k = read(fd, b.data() + got, b.size() - got);
        if (k <= 0) die("read", 0);
        got += (size_t)k;
    }
    close(fd);
    return b;
}

/* The file as a read-only mapping of the page cache (no copy). */
struct Mapped {
    const uint8_t *p = nullptr;
    size_t n = 0;
    explicit Mapped(const std::string &path) {
        int fd = open(path.c_str(), O_RDONLY);
        if (fd < 0) die("open", 0);
        struct stat st;
        if (fstat(fd, &st) != 0) die("fstat", 0);
        n = (size_t)st.st_size;
        void *m = mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (m == MAP_FAILED) die("mmap", 0);
        close(fd);
        p = (const uint8_t *)m;
    }
    ~Mapped() { munmap((void *)p, n); }
};

uint64_t file_size(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) die("stat", 0);
    return (uint64_t)st.st_size;
}

Row run(const Options &o, size_t n) {
    Row r;
    r.n = n;
    r.dim = o.dim;
    bench_matrix base{}, query{};
    bench_synth_generate(n, 1, o.dim, 1000, 0.7f, 20240601, &base, &query);
    std::printf("building %zu x %zu (M %zu, ef_construction %zu)...\n", n, o.dim, o.M, o.efc);
    std::fflush(stdout);

    dv_db_config cfg;
    dv_db_config_default(&cfg, (uint32_t)o.dim);
    cfg.M = (uint32_t)o.M;
    cfg.ef_construction = (uint32_t)o.efc;
    dv_db *db;
    int st = dv_db_open(&cfg, &db);
    if (st) die("dv_db_open", st);
    char id[32];
    for (size_t i = 0; i < n; i++) {
        std::snprintf(id, sizeof id, "%zu", i);
        if ((st = dv_db_insert(db, id, base.data + i * o.dim, nullptr, 0))) die("insert", st);
    }
    hnswlib::L2Space space(o.dim);
    auto *hl = new hnswlib::HierarchicalNSW<float>(&space, n, o.M, o.efc, 100);
    for (size_t i = 0; i < n; i++) hl->addPoint(base.data + i * o.dim, i);
    const uint64_t want = dv_db_state_hash(db);

    std::string dv_path = temp_path(), hl_path = temp_path();
    for (int round = 0; round < o.rounds; round++) {
        /* deltavec: buffer, then write + fsync */
        double t0 = now(), c0 = cpu_now();
        uint64_t size;
        if ((st = dv_db_snapshot_size(db, nullptr, &size))) die("size", st);
        std::vector<uint8_t> buf(size);
        size_t written;
        if ((st = dv_db_snapshot_to_buffer(db, nullptr, buf.data(), buf.size(), &written)))
            die("to_buffer", st);
        int fd = open(dv_path.c_str(), O_WRONLY | O_TRUNC);
        if (fd < 0) die("open", 0);
        write_all(fd, buf.data(), written);
        if (fsync(fd) != 0) die("fsync", 0);
        close(fd);
        r.dv_save = std::min(r.dv_save, now() - t0);
        r.c_dv_save = std::min(r.c_dv_save, cpu_now() - c0);
        buf = std::vector<uint8_t>();

        /* deltavec: streaming into the file */
        t0 = now();
        c0 = cpu_now();
        fd = open(dv_path.c_str(), O_WRONLY | O_TRUNC);
        if (fd < 0) die("open", 0);
        if ((st = dv_db_snapshot_write(db, nullptr, fd_sink, &fd))) die("write", st);
        if (fsync(fd) != 0) die("fsync", 0);
        close(fd);
        r.dv_save_stream = std::min(r.dv_save_stream, now() - t0);
        r.c_dv_save_stream = std::min(r.c_dv_save_stream, cpu_now() - c0);

        /* hnswlib */
        t0 = now();
        c0 = cpu_now();
        hl->saveIndex(hl_path);
        fsync_path(hl_path);
        r.hl_save = std::min(r.hl_save, now() - t0);
        r.c_hl_save = std::min(r.c_hl_save, cpu_now() - c0);

        /* loads (page cache) */
        t0 = now();
        c0 = cpu_now();
        dv_db *got;
        char msg[200];
        {
            Mapped file(dv_path);
            if ((st = dv_db_snapshot_read(file.p, file.n, nullptr, &got, nullptr, msg, sizeof msg))) {
                std::fprintf(stderr, "%s\n", msg);
                die("read", st);
            }
        }
        r.dv_load_file = std::min(r.dv_load_file, now() - t0);
        r.c_dv_load_file = std::min(r.c_dv_load_file, cpu_now() - c0);
        if (dv_db_state_hash(got) != want) die("state hash differs after load", DV_ECORRUPT);
        dv_db_close(got);

        t0 = now();
        c0 = cpu_now();
        if ((st = dv_snapshot_load_file(dv_path.c_str(), nullptr, nullptr, &got, nullptr, msg, sizeof msg))) {
            std::fprintf(stderr, "%s\n", msg);
            die("load_file", st);
        }
        r.dv_load_read = std::min(r.dv_load_read, now() - t0);
        r.c_dv_load_read = std::min(r.c_dv_load_read, cpu_now() - c0);
        if (dv_db_state_hash(got) != want) die("state hash differs after file load", DV_ECORRUPT);
        dv_db_close(got);
        std::vector<uint8_t> file = read_file(dv_path);

        t0 = now();
        c0 = cpu_now();
        if ((st = dv_db_snapshot_read(file.data(), file.size(), nullptr, &got, nullptr, msg, sizeof msg)))
            die("read", st);
        r.dv_load_mem = std::min(r.dv_load_mem, now() - t0);
        r.c_dv_load_mem = std::min(r.c_dv_load_mem, cpu_now() - c0);
        dv_db_close(got);
        file = std::vector<uint8_t>();

        t0 = now();
        c0 = cpu_now();
        auto *loaded = new hnswlib::HierarchicalNSW<float>(&space, hl_path);
        r.hl_load = std::min(r.hl_load, now() - t0);
        r.c_hl_load = std::min(r.c_hl_load, cpu_now() - c0);
        if (loaded->cur_element_count != n) die("hnswlib load count", DV_ECORRUPT);
        delete loaded;
    }
    r.dv_bytes = file_size(dv_path);
    r.hl_bytes = file_size(hl_path);
    unlink(dv_path.c_str());
    unlink(hl_path.c_str());
    delete hl;
    dv_db_close(db);
    bench_matrix_free(&base);
    bench_matrix_free(&query);
    return r;
}

void print(const std::vector<Row> &rows) {
    std::printf("\n%-12s %-9s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s\n", "vectors", "side",
                "file MB", "save ms", "stream ms", "mmap ms", "read ms", "read GB/s", "mem ms", "mem GB/s",
                "mmap x", "read x");
    for (const Row &r : rows) {
        double mb = 1e-6;
        std::printf("%-12s %-9s %10.1f %10.1f %10.1f %10.1f %10.1f %10.2f %10.1f %10.2f %10.2f %10.2f\n",
                    (std::to_string(r.n) + "x" + std::to_string(r.dim)).c_str(), "deltavec", r.dv_bytes * mb,
                    r.dv_save * 1e3, r.dv_save_stream * 1e3, r.dv_load_file * 1e3, r.dv_load_read * 1e3,
                    r.dv_bytes / r.dv_load_read * 1e-9, r.dv_load_mem * 1e3,
                    r.dv_bytes / r.dv_load_mem * 1e-9, r.hl_load / r.dv_load_file,
                    r.hl_load / r.dv_load_read);
        std::printf("%-12s %-9s %10.1f %10.1f %10s %10.1f %10s %10s %10s %10s %10s %10s\n", "", "hnswlib",
                    r.hl_bytes * mb, r.hl_save * 1e3, "-", r.hl_load * 1e3, "-", "-", "-", "-", "1.00",
                    "1.00");
        std::printf("%-12s size deltavec / hnswlib = %.3f\n", "", (double)r.dv_bytes / (double)r.hl_bytes);
    }
    std::printf("\nthread CPU time (user + system; unaffected by other processes on the cores):\n");
    std::printf("%-12s %-9s %10s %10s %10s %10s %10s %10s %10s %10s %10s\n", "vectors", "side", "save ms",
                "stream ms", "mmap ms", "read ms", "read GB/s", "mem ms", "mem GB/s", "mmap x", "read x");
    for (const Row &r : rows) {
        std::printf("%-12s %-9s %10.1f %10.1f %10.1f %10.1f %10.2f %10.1f %10.2f %10.2f %10.2f\n",
                    (std::to_string(r.n) + "x" + std::to_string(r.dim)).c_str(), "deltavec",
                    r.c_dv_save * 1e3, r.c_dv_save_stream * 1e3, r.c_dv_load_file * 1e3,
                    r.c_dv_load_read * 1e3, r.dv_bytes / r.c_dv_load_read * 1e-9, r.c_dv_load_mem * 1e3,
                    r.dv_bytes / r.c_dv_load_mem * 1e-9, r.c_hl_load / r.c_dv_load_file,
                    r.c_hl_load / r.c_dv_load_read);
        std::printf("%-12s %-9s %10.1f %10s %10.1f %10s %10s %10s %10s %10s %10s\n", "", "hnswlib",
                    r.c_hl_save * 1e3, "-", r.c_hl_load * 1e3, "-", "-", "-", "-", "1.00", "1.00");
    }
}

void write_json(const Options &o, const std::vector<Row> &rows) {
    std::string path = o.out_dir + "/snapshot" + (o.quick ? "-quick" : "") + ".json";
    FILE *f = std::fopen(path.c_str(), "w");
    if (!f) {
        std::perror(path.c_str());
        return;
    }
    std::fprintf(
        f,
        "{\n  \"bench\": \"snapshot\",\n  \"backend\": \"%s\",\n  \"M\": %zu,\n  \"ef_construction\": %zu,\n",
        dv_simd_backend(), o.M, o.efc);
    std::fprintf(
        f, "  \"rounds\": %d,\n  \"note\": \"best of rounds; save includes fsync; load from page cache\",\n",
        o.rounds);
    std::fprintf(f, "  \"rows\": [\n");
    for (size_t i = 0; i < rows.size(); i++) {
        const Row &r = rows[i];
        std::fprintf(
            f,
            "    {\"n\": %zu, \"dim\": %zu, \"deltavec_bytes\": %llu, \"hnswlib_bytes\": %llu, "
            "\"size_ratio\": %.4f,\n     \"deltavec_save_s\": %.6f, \"deltavec_save_stream_s\": %.6f, "
            "\"hnswlib_save_s\": %.6f,\n     \"deltavec_load_file_s\": %.6f, \"deltavec_load_read_s\": %.6f, "
            "\"deltavec_load_mem_s\": "
            "%.6f, \"hnswlib_load_s\": %.6f,\n     \"deltavec_load_read_gbps\": %.3f, "
            "\"deltavec_load_mem_gbps\": %.3f, "
            "\"load_speedup_vs_hnswlib\": %.3f, \"read_load_speedup_vs_hnswlib\": %.3f,\n     "
            "\"cpu_deltavec_save_s\": %.6f, "
            "\"cpu_deltavec_save_stream_s\": %.6f, "
            "\"cpu_hnswlib_save_s\": %.6f, \"cpu_deltavec_load_file_s\": %.6f, "
            "\"cpu_deltavec_load_read_s\": %.6f, "
            "\"cpu_deltavec_load_mem_s\": %.6f, \"cpu_hnswlib_load_s\": %.6f}%s\n",
            r.n, r.dim, (unsigned long long)r.dv_bytes, (unsigned long long)r.hl_bytes,
            (double)r.dv_bytes / (double)r.hl_bytes, r.dv_save, r.dv_save_stream, r.hl_save, r.dv_load_file,
            r.dv_load_read, r.dv_load_mem, r.hl_load, r.dv_bytes / r.dv_load_read * 1e-9,
            r.dv_bytes / r.dv_load_mem * 1e-9, r.hl_load / r.dv_load_file, r.hl_load / r.dv_load_read,
            r.c_dv_save, r.c_dv_save_stream, r.c_hl_save, r.c_dv_load_file, r.c_dv_load_read, r.c_dv_load_mem,
            r.c_hl_load, i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
    std::printf("wrote %s\n", path.c_str());
}

} // namespace

int main(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--quick")
            o.quick = true;
        else if (a == "--large")
            o.large = true;
        else if (a == "--rounds" && i + 1 < argc)
            o.rounds = std::atoi(argv[++i]);
        else if (a == "--efc" && i + 1 < argc)
            o.efc = (size_t)std::atoi(argv[++i]);
        else if (a == "--out" && i + 1 < argc)
            o.out_dir = argv[++i];
        else {
            std::fprintf(stderr,
                         "usage: %s [--quick | --large] [--rounds N] [--efc EF] [--out DIR]\n"
                         "  default 100k x 128; --large adds 1M x 128; --quick 10k only\n",
                         argv[0]);
            return 2;
        }
    }
    if (o.rounds < 1) o.rounds = 1;
    std::vector<Row> rows;
    if (o.quick) {
        rows.push_back(run(o, 10000));
    } else {
        rows.push_back(run(o, 100000));
        if (o.large) rows.push_back(run(o, 1000000));
    }
    print(rows);
    write_json(o, rows);
    return 0;
}
