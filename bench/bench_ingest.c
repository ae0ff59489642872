/*
 * bench_ingest.c -- `deltavec ingest` against the library it runs on
 * (docs/BENCH.md "Ingest", docs/CLI.md). In one run:
 *  1. writes an n x dim .fvecs file of clustered vectors (streamed: the
 *     bench never holds the data set in memory);
 *  2. reference: a child process inserts the same vectors, generated row
 *     by row, through the library (dv_store_write_batch, same batch size,
 *     same sync policy) into a fresh database directory;
 *  3. the command: `deltavec ingest DIR FILE --batch B` as a child process
 *     into another fresh directory, at the same time as 2 (each process
 *     is one thread; running them side by side exposes both to the same
 *     load of a shared machine, so the ratio does not depend on when);
 *  4. checks that both directories hold the same state (state hash).
 * Prints the rates, the ratio (goal >= 90%) and the peak RSS of both
 * processes (the command's memory is bounded by the database, not by the
 * file) and writes bench/results/ingest.json (--out DIR).
 *
 *   bench_ingest [--n 1000000] [--dim 128] [--batch 1024] [--dir /tmp] [--out bench/results]
 *                [--deltavec PATH]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define PROG "bench_ingest"
#define CLUSTERS 64

static size_t g_n = 1000000, g_dim = 128, g_batch = 1024;
static const char *g_dir = "/tmp", *g_out = "bench/results", *g_cli = DV_DELTAVEC_BIN;
static float *g_centres; /* CLUSTERS x dim */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float gauss(uint64_t *s) { /* sum of 4 uniforms: cheap and bell-shaped enough for clusters */
    float x = 0;
    for (int k = 0; k < 4; k++) x += (float)(splitmix(s) >> 40) / (float)(1 << 24);
    return (x - 2.0f) * 1.7f;
}

/* Row i of the data set, a pure function of i: the file writer and the library child make the same rows. */
static void row_of(size_t i, float *v) {
    uint64_t s = 0x1234567ull + i * 0x2545F4914F6CDD1Dull;
    const float *c = g_centres + (splitmix(&s) % CLUSTERS) * g_dim;
    for (size_t j = 0; j < g_dim; j++) v[j] = c[j] + 0.3f * gauss(&s);
}

static void make_centres(void) {
    g_centres = malloc(sizeof(float) * CLUSTERS * g_dim);
    if (!g_centres) bench_die(PROG, "centres", DV_ENOMEM);
    uint64_t s = 42;
    for (size_t i = 0; i < CLUSTERS * g_dim; i++) g_centres[i] = gauss(&s);
}

static void write_fvecs(const char *path) {
    FILE *f = fopen(path, "wb");
    float *v = malloc(sizeof(float) * g_dim);
    if (!f || !v) bench_die(PROG, path, DV_EIO);
    int32_t d = (int32_t)g_dim;
    for (size_t i = 0; i < g_n; i++) {
        row_of(i, v);
        if (fwrite(&d, 4, 1, f) != 1 || fwrite(v, sizeof(float), g_dim, f) != g_dim)
            bench_die(PROG, path, DV_EIO);
    }
    if (fclose(f) != 0) bench_die(PROG, path, DV_EIO);
    free(v);
}

static dv_db_config db_config(void) {
    dv_db_config c;
    dv_db_config_default(&c, (uint32_t)g_dim);
    return c;
}

static void create_dir(const char *dir) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) bench_die(PROG, "rm", DV_EIO);
    dv_db_config c = db_config();
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    dv_store *s = NULL;
    dv_status st = dv_store_open(dir, &sc, &s, NULL);
    if (st != DV_OK) bench_die(PROG, dir, st);
    dv_store_close(s);
}

/* The reference, in a child: the library's write path for the same rows, batch by batch. */
static int library_child(const char *dir) {
    dv_store_config sc;
    dv_store_config_default(&sc);
    dv_store *s = NULL;
    if (dv_store_open(dir, &sc, &s, NULL) != DV_OK) return 1;
    float *vecs = malloc(sizeof(float) * g_batch * g_dim);
    char(*ids)[24] = malloc(g_batch * sizeof *ids);
    dv_store_op *ops = calloc(g_batch, sizeof *ops);
    if (!vecs || !ids || !ops) return 1;
    for (size_t at = 0; at < g_n; at += g_batch) {
        size_t n = g_n - at < g_batch ? g_n - at : g_batch;
        for (size_t k = 0; k < n; k++) {
            row_of(at + k, vecs + k * g_dim);
            snprintf(ids[k], sizeof ids[k], "%zu", at + k);
            ops[k] = (dv_store_op){.kind = DV_STORE_INSERT, .id = ids[k], .vec = vecs + k * g_dim};
        }
        if (dv_store_write_batch(s, ops, n, NULL) != DV_OK) return 1;
    }
    int rc = dv_store_sync(s) == DV_OK ? 0 : 1;
    dv_store_close(s);
    return rc;
}

typedef struct run_result {
    pid_t pid;
    double seconds, cpu_seconds; /* wall clock; user + system time of that process alone */
    long peak_rss_kib;
} run_result;

static pid_t start_library(const char *dir) {
    pid_t pid = fork();
    if (pid == 0) _exit(library_child(dir));
    return pid;
}

static pid_t start_command(const char *dir, const char *file) {
    char batch[24];
    snprintf(batch, sizeof batch, "%zu", g_batch);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execl(g_cli, g_cli, "ingest", dir, file, "--batch", batch, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Reaps both children as they end: each one's wall time from t0 and peak RSS (wait4: that child alone). */
static void finish_both(run_result *a, run_result *b, double t0) {
    for (int left = 2; left > 0; left--) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, 0, &ru);
        run_result *r = pid == a->pid ? a : pid == b->pid ? b : NULL;
        if (!r || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "%s: %s failed\n", PROG, r == a ? "the library run" : "deltavec ingest");
            exit(1);
        }
        r->seconds = bench_now() - t0;
        r->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
        r->peak_rss_kib = ru.ru_maxrss;
    }
}

static uint64_t state_hash_of(const char *dir, size_t *count) {
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.read_only = 1;
    dv_store *s = NULL;
    dv_status st = dv_store_open(dir, &sc, &s, NULL);
    if (st != DV_OK) bench_die(PROG, dir, st);
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    *count = dv_db_count(dv_store_db(s));
    dv_store_close(s);
    return h;
}

static void parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) bench_die(PROG, a, DV_EINVAL);
        if (!strcmp(a, "--n"))
            g_n = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--dim"))
            g_dim = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--batch"))
            g_batch = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--dir"))
            g_dir = v;
        else if (!strcmp(a, "--out"))
            g_out = v;
        else if (!strcmp(a, "--deltavec"))
            g_cli = v;
        else
            bench_die(PROG, a, DV_EINVAL);
        i++;
    }
    if (g_n == 0 || g_dim == 0 || g_dim > DV_MAX_DIM || g_batch == 0) bench_die(PROG, "arguments", DV_EINVAL);
}

static void write_json(const run_result *lib, const run_result *cli, uint64_t file_bytes, uint64_t hash) {
    char path[600];
    snprintf(path, sizeof path, "%s/ingest.json", g_out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write %s: %s\n", PROG, path, strerror(errno));
        exit(1);
    }
    fprintf(f,
            "{\n  \"bench\": \"ingest\",\n  \"n\": %zu,\n  \"dim\": %zu,\n  \"batch\": %zu,\n  \"simd\": "
            "\"%s\",\n"
            "  \"file_bytes\": %llu,\n"
            "  \"library\": {\"seconds\": %.3f, \"cpu_seconds\": %.3f, \"records_per_s\": %.0f, "
            "\"peak_rss_kib\": %ld},\n"
            "  \"command\": {\"seconds\": %.3f, \"cpu_seconds\": %.3f, \"records_per_s\": %.0f, "
            "\"peak_rss_kib\": %ld},\n"
            "  \"command_over_library\": %.4f,\n  \"command_over_library_cpu\": %.4f,\n"
            "  \"state_hash\": \"%016llx\"\n}\n",
            g_n, g_dim, g_batch, dv_simd_backend(), (unsigned long long)file_bytes, lib->seconds,
            lib->cpu_seconds, (double)g_n / lib->seconds, lib->peak_rss_kib, cli->seconds, cli->cpu_seconds,
            (double)g_n / cli->seconds, cli->peak_rss_kib, lib->seconds / cli->seconds,
            lib->cpu_seconds / cli->cpu_seconds, (unsigned long long)hash);
    fclose(f);
    printf("wrote %s\n", path);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    make_centres();
    char work[400], file[500], lib_dir[500], cli_dir[500];
    snprintf(work, sizeof work, "%s/dv-bench-ingest-%d", g_dir, (int)getpid());
    if (mkdir(work, 0755) != 0) bench_die(PROG, work, DV_EIO);
    snprintf(file, sizeof file, "%s/data.fvecs", work);
    snprintf(lib_dir, sizeof lib_dir, "%s/lib", work);
    snprintf(cli_dir, sizeof cli_dir, "%s/cli", work);

    double t0 = bench_now();
    write_fvecs(file);
    struct stat st;
    uint64_t file_bytes = stat(file, &st) == 0 ? (uint64_t)st.st_size : 0;
    printf("%zu x %zu .fvecs (%.1f MiB) written in %.1f s\n", g_n, g_dim, (double)file_bytes / 1048576.0,
           bench_now() - t0);
    fflush(stdout);
    create_dir(lib_dir);
    create_dir(cli_dir);
    /* both at once: on a shared, loaded machine they see the same load, so the ratio is fair */
    run_result lib = {0}, cli = {0};
    double t1 = bench_now();
    lib.pid = start_library(lib_dir);
    cli.pid = start_command(cli_dir, file);
    finish_both(&lib, &cli, t1);

    size_t n_lib, n_cli;
    uint64_t h_lib = state_hash_of(lib_dir, &n_lib), h_cli = state_hash_of(cli_dir, &n_cli);
    printf("\n%-34s %10s %12s %12s %14s\n", "ingest of the same rows", "seconds", "records/s", "CPU seconds",
           "peak RSS MiB");
    printf("%-34s %10.1f %12.0f %12.1f %14.1f\n", "library (dv_store_write_batch)", lib.seconds,
           (double)g_n / lib.seconds, lib.cpu_seconds, (double)lib.peak_rss_kib / 1024.0);
    printf("%-34s %10.1f %12.0f %12.1f %14.1f\n", "deltavec ingest (.fvecs file)", cli.seconds,
           (double)g_n / cli.seconds, cli.cpu_seconds, (double)cli.peak_rss_kib / 1024.0);
    printf("command / library rate: %.1f%% by wall clock, %.1f%% by CPU time (goal >= 90%%); file %.1f MiB\n",
           100.0 * lib.seconds / cli.seconds, 100.0 * lib.cpu_seconds / cli.cpu_seconds,
           (double)file_bytes / 1048576.0);
    printf("state hashes: library %016llx, command %016llx (%s)\n", (unsigned long long)h_lib,
           (unsigned long long)h_cli, h_lib == h_cli && n_lib == n_cli ? "equal" : "DIFFERENT");
    printf("(dim %zu, M 16, ef_construction 200, batch %zu, sync always, %s kernels, wall clock; side by "
           "side, one thread each)\n",
           g_dim, g_batch, dv_simd_backend());
    write_json(&lib, &cli, file_bytes, h_cli);

    char cmd[500];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) return 1;
    if (h_lib != h_cli || n_lib != g_n || n_cli != g_n) {
        fprintf(stderr, "%s: the two directories differ (%zu vs %zu records)\n", PROG, n_lib, n_cli);
        return 1;
    }
    return 0;
}
