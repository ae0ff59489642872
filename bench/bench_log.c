/*
 * bench_log.c -- the database directory's durable log (docs/STORAGE.md,
 * docs/BENCH.md "Durable log"). Beside their references, in one run:
 *  1. append throughput, sync always with 1 and 4 writer threads (group
 *     commit), interval (100 ms) and none, against a plain loop that writes
 *     the same record bytes with pwrite + fdatasync per record;
 *  2. recovery: time to open a directory per GB of log tail, against the
 *     inline apply rate of the same records already in memory;
 *  3. reopen after kill -9 of a writer (sync always);
 *  4. memory the log adds to a db (store + capture, without the db).
 * Each append figure is the best of 3 interleaved rounds. Writes
 * bench/results/log.json (--out DIR). --dir sets where the
 * directories go (default /tmp: a real disk, so fdatasync costs what it costs).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define DIM 128
#define PROG "bench_log"

static const char *g_dir = "/tmp";
static unsigned g_writes = 2000;

/* ---- a counting allocator (thread-safe) ---------------------------------------------- */
static _Atomic long long g_live;
static void *count_realloc(void *ctx, void *p, size_t old, size_t size) {
    (void)ctx;
    g_live += (long long)size - (long long)(p ? old : 0);
    if (size == 0) {
        free(p);
        return NULL;
    }
    void *q = realloc(p, size);
    if (!q) g_live -= (long long)size - (long long)(p ? old : 0);
    return q;
}
static const dv_allocator COUNTING = {count_realloc, NULL};

static void rm_rf(const char *d) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) bench_die(PROG, "rm", DV_EIO);
}

static void mkpath(char *out, size_t cap, const char *tag) {
    snprintf(out, cap, "%s/dv-bench-log-%s-%d", g_dir, tag, (int)getpid());
    rm_rf(out);
}

static void vec_of(float *v, unsigned i) {
    uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
    for (int d = 0; d < DIM; d++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v[d] = (float)((x * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 24) - 0.5f;
    }
}

static dv_store *open_dir(const char *path, dv_sync_policy sync, const dv_allocator *a) {
    dv_db_config c;
    dv_db_config_default(&c, DIM);
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.sync = sync;
    sc.allocator = a;
    dv_store *s;
    dv_recovery_report r;
    dv_status st = dv_store_open(path, &sc, &s, &r);
    if (st != DV_OK) {
        fprintf(stderr, "%s\n", r.message);
        bench_die(PROG, "dv_store_open", st);
    }
    return s;
}

static uint64_t dir_log_bytes(const char *path) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cat '%s'/*.dvs | wc -c", path);
    FILE *f = popen(cmd, "r");
    unsigned long long n = 0;
    if (!f || fscanf(f, "%llu", &n) != 1) bench_die(PROG, "du", DV_EIO);
    pclose(f);
    return n;
}

/* ---- 1. append ---------------------------------------------------------------------------- */
/* The timed writes are small sparse updates of vectors loaded before (a
 * tiny move keeps the node's edges: little db work), so the figures show
 * what the log costs, not HNSW insert time. */
#define PRELOAD 500u

typedef struct worker {
    dv_store *s;
    unsigned from, to;
    int update;
} worker;

static void *write_some(void *arg) {
    worker *w = arg;
    float v[DIM];
    char id[32];
    for (unsigned i = w->from; i < w->to; i++) {
        dv_status st;
        if (w->update) {
            snprintf(id, sizeof id, "doc-%u", i % PRELOAD);
            uint32_t idx[1] = {i % DIM};
            float val[1] = {(float)(i % 97) * 1e-4f};
            st = dv_store_update_sparse(w->s, id, idx, val, 1);
        } else {
            vec_of(v, i);
            snprintf(id, sizeof id, "doc-%u", i);
            st = dv_store_insert(w->s, id, v, NULL, 0);
        }
        if (st != DV_OK) bench_die(PROG, "write", st);
    }
    return NULL;
}

typedef struct append_result {
    const char *name;
    unsigned threads;
    double seconds, mbps, writes_per_s;
    uint64_t bytes;
} append_result;

/* Bytes of the segments from first sequence `from` on, into *buf (malloc'd) when buf != NULL. */
static uint64_t tail_bytes(const char *path, uint64_t from, uint8_t **buf) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep 'dvs$' | sort", path);
    FILE *ls = popen(cmd, "r");
    char name[64];
    uint64_t total = 0;
    if (buf) *buf = NULL;
    while (ls && fscanf(ls, "%63s", name) == 1) {
        if (strtoull(name, NULL, 10) < from) continue;
        char p[800];
        snprintf(p, sizeof p, "%s/%s", path, name);
        FILE *f = fopen(p, "rb");
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        if (buf && len > DV_STREAM_HEADER_SIZE) { /* records only */
            *buf = realloc(*buf, total + (size_t)len);
            fseek(f, DV_STREAM_HEADER_SIZE, SEEK_SET);
            if (fread(*buf + total, 1, (size_t)len - DV_STREAM_HEADER_SIZE, f) !=
                (size_t)len - DV_STREAM_HEADER_SIZE)
                bench_die(PROG, "read", DV_EIO);
        }
        fclose(f);
        total += (uint64_t)len - DV_STREAM_HEADER_SIZE;
    }
    if (ls) pclose(ls);
    return total;
}

static append_result run_append(const char *name, dv_sync_policy sync, unsigned threads, uint8_t **records,
                                uint64_t *rec_len) {
    char path[512];
    mkpath(path, sizeof path, name);
    dv_store *s = open_dir(path, sync, NULL);
    worker pre = {s, 0, PRELOAD, 0};
    write_some(&pre);
    uint64_t cp = 0;
    dv_status st = dv_store_checkpoint(s, &cp); /* the timed records start a new segment */
    if (st != DV_OK) bench_die(PROG, "checkpoint", st);
    pthread_t th[8];
    worker w[8];
    double t0 = bench_now();
    for (unsigned t = 0; t < threads; t++) {
        w[t] = (worker){s, g_writes * t / threads, g_writes * (t + 1) / threads, 1};
        pthread_create(&th[t], NULL, write_some, &w[t]);
    }
    for (unsigned t = 0; t < threads; t++) pthread_join(th[t], NULL);
    double dt = bench_now() - t0;
    dv_store_close(s);
    append_result r = {name, threads, dt, 0, g_writes / dt, tail_bytes(path, cp + 1, records)};
    if (records) *rec_len = r.bytes;
    r.mbps = (double)r.bytes / dt / 1e6;
    rm_rf(path);
    return r;
}

/* The same record bytes, one pwrite + fdatasync each. */
static append_result run_plain(const uint8_t *b, uint64_t len) {
    char path[512];
    mkpath(path, sizeof path, "plain");
    if (mkdir(path, 0755) != 0) bench_die(PROG, "mkdir", DV_EIO);
    char out[700];
    snprintf(out, sizeof out, "%s/plain.bin", path);
    int fd = open(out, O_CREAT | O_RDWR | O_TRUNC, 0644);
    size_t off = 0;
    unsigned n = 0;
    double t0 = bench_now();
    while (off < len) {
        uint64_t rs;
        if (dv_stream_record_size(b + off, &rs) != DV_OK) bench_die(PROG, "record", DV_ECORRUPT);
        if (pwrite(fd, b + off, (size_t)rs, (off_t)off) != (ssize_t)rs) bench_die(PROG, "pwrite", DV_EIO);
        fdatasync(fd);
        off += (size_t)rs;
        n++;
    }
    double dt = bench_now() - t0;
    close(fd);
    rm_rf(path);
    append_result r = {"plain pwrite+fdatasync per record", 1, dt, (double)len / dt / 1e6, n / dt, len};
    return r;
}

/* ---- 2. recovery ---------------------------------------------------------------------------- */
typedef struct recovery_result {
    uint64_t bytes, records;
    double open_s, open_mbps, s_per_gb, apply_mbps;
} recovery_result;

static recovery_result run_recovery(unsigned writes) {
    char path[512];
    mkpath(path, sizeof path, "recovery");
    dv_store *s = open_dir(path, DV_SYNC_NONE, NULL);
    worker w = {s, 0, writes, 0};
    write_some(&w);
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    dv_store_close(s);
    recovery_result r;
    memset(&r, 0, sizeof r);
    r.bytes = dir_log_bytes(path);
    /* the files are in the page cache now: this times replay, not the disk */
    double t0 = bench_now();
    dv_recovery_report rep;
    dv_store_config sc;
    dv_store_config_default(&sc);
    dv_status st = dv_store_open(path, &sc, &s, &rep);
    r.open_s = bench_now() - t0;
    if (st != DV_OK) bench_die(PROG, "reopen", st);
    if (dv_db_state_hash(dv_store_db(s)) != h) bench_die(PROG, "recovered hash", DV_EDATA);
    r.records = rep.records_replayed;
    dv_store_close(s);
    r.open_mbps = (double)r.bytes / r.open_s / 1e6;
    r.s_per_gb = r.open_s * 1e9 / (double)r.bytes;
    /* inline apply of the same records from memory */
    char names[64][700];
    int n = 0;
    for (unsigned first = 1; n < 64;) {
        snprintf(names[n], sizeof names[n], "%s/%020u.dvs", path, first);
        FILE *f = fopen(names[n], "rb");
        if (!f) break;
        fclose(f);
        n++;
        break; /* segments are 64 MiB: one is enough at these sizes */
    }
    FILE *f = fopen(names[0], "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len);
    if (fread(b, 1, (size_t)len, f) != (size_t)len) bench_die(PROG, "read", DV_EIO);
    fclose(f);
    dv_stream_info info;
    size_t off;
    dv_stream_header_decode(b, (size_t)len, &info, &off);
    dv_db *db;
    dv_apply *ap;
    dv_db_open_from_stream(&info, NULL, &db);
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = 0;
    dv_apply_init(db, &ac, &ap);
    size_t start = off;
    t0 = bench_now();
    while (off < (size_t)len) {
        uint64_t rs;
        dv_stream_record_size(b + off, &rs);
        st = dv_apply_delta(ap, b + off, b + off + DV_DELTA_HEADER_SIZE, (size_t)rs - DV_DELTA_HEADER_SIZE);
        if (st != DV_OK) bench_die(PROG, "apply", st);
        off += (size_t)rs;
    }
    double dt = bench_now() - t0;
    r.apply_mbps = (double)(off - start) / dt / 1e6;
    dv_apply_free(ap);
    dv_db_close(db);
    free(b);
    rm_rf(path);
    return r;
}

/* ---- 3. reopen after kill -9 -------------------------------------------------------------------- */
static double run_kill_reopen(uint64_t *records) {
    char path[512];
    mkpath(path, sizeof path, "kill");
    pid_t pid = fork();
    if (pid == 0) {
        dv_store *s = open_dir(path, DV_SYNC_ALWAYS, NULL);
        worker w = {s, 0, 1u << 30, 0};
        write_some(&w);
        _exit(0);
    }
    usleep(1500 * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    double t0 = bench_now();
    dv_store *s = open_dir(path, DV_SYNC_ALWAYS, NULL);
    double dt = bench_now() - t0;
    *records = dv_store_sequence(s);
    dv_store_close(s);
    rm_rf(path);
    return dt;
}

/* ---- 4. memory ------------------------------------------------------------------------------------ */
static long long run_memory(unsigned writes, long long *db_bytes) {
    char path[512];
    mkpath(path, sizeof path, "memory");
    g_live = 0;
    dv_store *s = open_dir(path, DV_SYNC_ALWAYS, &COUNTING);
    worker w = {s, 0, writes, 0};
    write_some(&w);
    *db_bytes = (long long)dv_db_memory_usage(dv_store_db(s));
    long long total = g_live;
    dv_store_close(s);
    rm_rf(path);
    return total - *db_bytes;
}

int main(int argc, char **argv) {
    const char *out = "bench/results";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            g_dir = argv[++i];
        else if (!strcmp(argv[i], "--writes") && i + 1 < argc)
            g_writes = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else {
            fprintf(stderr, "usage: %s [--dir DIR] [--out DIR] [--writes N] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (quick) g_writes = 300;
    printf("deltavec durable log, dim %d; append: %u one-dim sparse updates after %u inserts; directories "
           "under %s\n\n",
           DIM, g_writes, PRELOAD, g_dir);
    /* each measurement 3 times, interleaved (the disk is shared: fdatasync cost drifts), best kept */
    append_result a[6];
    memset(a, 0, sizeof a);
    for (int round = 0; round < 3; round++) {
        append_result b[6];
        uint8_t *recs = NULL;
        uint64_t rec_len = 0;
        b[1] = run_append("always-1", DV_SYNC_ALWAYS, 1, &recs, &rec_len);
        b[0] = run_plain(recs, rec_len);
        free(recs);
        b[2] = run_append("always-4", DV_SYNC_ALWAYS, 4, NULL, NULL);
        b[3] = run_append("interval-4", DV_SYNC_INTERVAL, 4, NULL, NULL);
        b[4] = run_append("none-4", DV_SYNC_NONE, 4, NULL, NULL);
        b[5] = run_append("none-1", DV_SYNC_NONE, 1, NULL, NULL);
        for (int i = 0; i < 6; i++)
            if (b[i].mbps > a[i].mbps) a[i] = b[i];
    }
    printf("%-36s %7s %10s %10s %12s %8s\n", "append (same records)", "threads", "MB/s", "writes/s",
           "log bytes", "vs plain");
    for (int i = 0; i < 6; i++)
        printf("%-36s %7u %10.2f %10.0f %12llu %7.2fx\n", a[i].name, a[i].threads, a[i].mbps,
               a[i].writes_per_s, (unsigned long long)a[i].bytes, a[i].mbps / a[0].mbps);
    recovery_result r = run_recovery(quick ? 2000 : 50000);
    printf("\nrecovery: %.1f MB of log tail (%llu records) opened in %.3f s = %.1f MB/s = %.1f s per GB;"
           " inline apply of the same records from memory %.1f MB/s (open/apply %.2f)\n",
           (double)r.bytes / 1e6, (unsigned long long)r.records, r.open_s, r.open_mbps, r.s_per_gb,
           r.apply_mbps, r.open_mbps / r.apply_mbps);
    uint64_t krec = 0;
    double kill_s = run_kill_reopen(&krec);
    printf("reopen after kill -9 of a writer (sync always): %.3f s for %llu records\n", kill_s,
           (unsigned long long)krec);
    long long dbb = 0, logb = run_memory(quick ? 1000 : 10000, &dbb);
    printf("memory the log adds (store + capture, db excluded): %lld bytes (db itself: %lld bytes)\n", logb,
           dbb);
    char p[600];
    snprintf(p, sizeof p, "%s/log.json", out);
    FILE *f = fopen(p, "w");
    if (!f) bench_die(PROG, "open json", DV_EIO);
    fprintf(f, "{\n  \"dim\": %d,\n  \"writes\": %u,\n  \"dir\": \"%s\",\n  \"append\": [\n", DIM, g_writes,
            strncmp(g_dir, "/dev/shm", 8) ? "disk" : "tmpfs");
    for (int i = 0; i < 6; i++)
        fprintf(f,
                "    {\"name\": \"%s\", \"threads\": %u, \"seconds\": %.4f, \"mb_per_s\": %.3f, "
                "\"writes_per_s\": %.1f,"
                " \"bytes\": %llu, \"vs_plain\": %.3f}%s\n",
                a[i].name, a[i].threads, a[i].seconds, a[i].mbps, a[i].writes_per_s,
                (unsigned long long)a[i].bytes, a[i].mbps / a[0].mbps, i < 5 ? "," : "");
    fprintf(f,
            "  ],\n  \"recovery\": {\"bytes\": %llu, \"records\": %llu, \"open_seconds\": %.4f, "
            "\"open_mb_per_s\": %.2f,"
            " \"seconds_per_gb\": %.2f, \"inline_apply_mb_per_s\": %.2f},\n",
            (unsigned long long)r.bytes, (unsigned long long)r.records, r.open_s, r.open_mbps, r.s_per_gb,
            r.apply_mbps);
    fprintf(f, "  \"kill_reopen\": {\"seconds\": %.4f, \"records\": %llu},\n", kill_s,
            (unsigned long long)krec);
    fprintf(f, "  \"memory\": {\"log_bytes\": %lld, \"db_bytes\": %lld}\n}\n", logb, dbb);
    fclose(f);
    printf("\nwrote %s\n", p);
    return 0;
}
