/*
 * bench_apply_parallel.c -- apply throughput (deltas/s) of one captured
 * stream with inline apply and with 1, 2 and 4 workers. Prints a table and
 * writes JSON.
 *
 * The stream: a primary at dim 128 (M 16, ef_construction 100) takes
 * --inserts inserts then --updates writes (half dense, half sparse updates;
 * with --deletes P, P percent of them delete a random live vector instead;
 * with --drift, every update is a small drift of the vector -- each value
 * moved by at most 1% dense, or 8 values by at most 1% sparse -- which keeps
 * its edges: a stream of independent vector changes, no graph work; only
 * they are timed, after the inserts are applied),
 * with capture on (vectors + graph, LZ4); every delta is copied out of the
 * ring. Each configuration applies the whole stream to a fresh replica with
 * dv_apply_batch (1000 deltas per call), --rounds times, rounds interleaved
 * across configurations; the best wall time counts, and every replica must
 * end with the primary's state hash. workers = 0 is inline apply; workers
 * = N runs N worker loops beside the calling thread, which applies a share
 * too (N + 1 threads: on 2 cores, 1 worker uses both). Deletes are barriers
 * of the parallel path (applied inline after a drain), so --deletes shows
 * its cost.
 *
 * Usage: bench_apply_parallel [--inserts N] [--updates N] [--deletes PCT] [--drift] [--epoch-max N]
 *                             [--rounds R] [--out FILE]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "deltavec.h"

#define DIM 128
#define PER_CALL 1000

typedef struct blob {
    uint8_t *b;
    size_t len;
} blob;

static blob *stream;
static size_t n_stream, cap_stream;

static void die(const char *what, int st) { bench_die("bench_apply_parallel", what, st); }

static uint64_t rng = 12345;
static float randf(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(rng >> 40) / 8388608.0f - 1.0f;
}

static void drain(dv_capture *cap) {
    dv_delta_header h[256];
    size_t n;
    while (dv_capture_poll(cap, h, 256, &n) == DV_OK && n) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *hb, *pb;
            size_t len;
            int st = dv_capture_payload(cap, h[i].sequence, &hb, &pb, &len);
            if (st != DV_OK) die("payload", st);
            if (n_stream == cap_stream) {
                cap_stream = cap_stream ? cap_stream * 2 : 4096;
                stream = realloc(stream, cap_stream * sizeof *stream);
                if (!stream) die("realloc", DV_ENOMEM);
            }
            blob *x = &stream[n_stream++];
            x->len = DV_DELTA_HEADER_SIZE + len;
            x->b = malloc(x->len);
            if (!x->b) die("malloc", DV_ENOMEM);
            memcpy(x->b, hb, DV_DELTA_HEADER_SIZE);
            memcpy(x->b + DV_DELTA_HEADER_SIZE, pb, len);
        }
        dv_capture_release(cap, h[n - 1].sequence);
    }
}

static void db_config(dv_db_config *c) {
    dv_db_config_default(c, DIM);
    c->ef_construction = 100;
}

/* Live vector numbers, for deletes (swap-remove). */
static size_t *live;
static size_t n_live;

static uint64_t build_primary(size_t inserts, size_t updates, unsigned delete_pct, int drift) {
    dv_db_config c;
    db_config(&c);
    dv_db *db;
    int st = dv_db_open(&c, &db);
    if (st != DV_OK) die("open", st);
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.ring.payload_size = 16u << 20;
    dv_capture *cap;
    if ((st = dv_capture_init(db, &cc, &cap)) != DV_OK) die("capture init", st);
    if ((st = dv_capture_start(cap)) != DV_OK) die("capture start", st);
    float v[DIM];
    char id[32];
    live = malloc(inserts * sizeof *live);
    if (!live) die("malloc", DV_ENOMEM);
    for (size_t i = 0; i < inserts + updates; i++) {
        if (i < inserts) {
            for (int d = 0; d < DIM; d++) v[d] = randf();
            snprintf(id, sizeof id, "v%zu", i);
            st = dv_db_insert(db, id, v, NULL, 0);
            live[n_live++] = i;
        } else {
            size_t at = (size_t)(rng >> 33) % n_live;
            snprintf(id, sizeof id, "v%zu", live[at]);
            randf();
            if ((rng >> 20) % 100 < delete_pct && n_live > 1) {
                st = dv_db_delete(db, id);
                live[at] = live[--n_live];
            } else if (i % 2) {
                if ((st = dv_db_get(db, id, v)) != DV_OK) die("get", st);
                for (int d = 0; d < DIM; d++) v[d] += (drift ? 0.01f : 0.3f) * randf();
                st = dv_db_update(db, id, v);
            } else {
                uint32_t idx[8];
                float val[8];
                if (drift && (st = dv_db_get(db, id, v)) != DV_OK) die("get", st);
                for (int k = 0; k < 8; k++) {
                    idx[k] = (uint32_t)k * 16 + (uint32_t)(rng >> 60);
                    val[k] = drift ? v[idx[k]] + 0.01f * randf() : randf();
                }
                st = dv_db_update_sparse(db, id, idx, val, 8);
            }
        }
        if (st != DV_OK) die("write", st);
        if (i % 128 == 127) drain(cap);
    }
    dv_capture_flush(cap);
    drain(cap);
    uint64_t h = dv_db_state_hash(db);
    free(live);
    dv_capture_free(cap);
    dv_db_close(db);
    return h;
}

typedef struct result {
    uint32_t workers;
    double best_s;
    double disp_cpu_s, total_cpu_s; /* of the best round: the calling thread's and the process's CPU time */
    dv_apply_stats st;
} result;

static double cpu_s(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds one apply_once took: on the dispatcher (the calling thread)
 * and in the whole process (dispatcher + worker threads). */
typedef struct cpu_use {
    double disp, total;
} cpu_use;

static uint32_t epoch_max; /* --epoch-max; 0: the default */
static size_t untimed;     /* --drift: the inserts are applied before the clock starts */

static double apply_once(uint32_t workers, uint64_t want, dv_apply_stats *stats, cpu_use *cpu) {
    dv_db_config c;
    db_config(&c);
    dv_db *r;
    int st = dv_db_open(&c, &r);
    if (st != DV_OK) die("open replica", st);
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = workers;
    if (epoch_max) ac.epoch_max = epoch_max;
    dv_apply *ap;
    if ((st = dv_apply_init(r, &ac, &ap)) != DV_OK) die("apply init", st);
    if ((st = dv_apply_start_threads(ap)) != DV_OK) die("start threads", st);
    const uint8_t *h[PER_CALL], *p[PER_CALL];
    size_t lens[PER_CALL];
    double t0 = 0, c0 = 0, p0 = 0;
    for (size_t i = 0; i < n_stream;) {
        if (i == untimed) { /* the clock starts here (at 0 without --drift) */
            t0 = bench_now();
            c0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
            p0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
        }
        size_t n = n_stream - i < PER_CALL ? n_stream - i : PER_CALL;
        if (i < untimed && untimed < i + n) n = untimed - i; /* the untimed prefix ends a batch */
        for (size_t k = 0; k < n; k++) {
            h[k] = stream[i + k].b;
            p[k] = stream[i + k].b + DV_DELTA_HEADER_SIZE;
            lens[k] = stream[i + k].len - DV_DELTA_HEADER_SIZE;
        }
        if ((st = dv_apply_batch(ap, h, p, lens, n, NULL, NULL)) != DV_OK) die(dv_apply_last_error(ap), st);
        i += n;
    }
    double dt = bench_now() - t0;
    cpu->disp = cpu_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    cpu->total = cpu_s(CLOCK_PROCESS_CPUTIME_ID) - p0; /* idle loops that spin count too */
    dv_apply_stop_threads(ap);
    dv_apply_stats_get(ap, stats);
    if (dv_db_state_hash(r) != want) die("replica hash differs from the primary", DV_EDATA);
    dv_apply_free(ap);
    dv_db_close(r);
    return dt;
}

static long cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* Upper bound of the speedup on idle cores: the dispatcher's CPU time is a
 * sequential part, and all the CPU time spread over every core another. */
static double ceiling(const result *inl, const result *r) {
    double per_core = r->total_cpu_s / (double)cores();
    double t = r->disp_cpu_s > per_core ? r->disp_cpu_s : per_core;
    return t > 0 ? inl->total_cpu_s / t : 0;
}

int main(int argc, char **argv) {
    size_t inserts = 70000, updates = 30000;
    unsigned delete_pct = 0;
    int rounds = 3, drift = 0;
    const char *out = "bench/results/apply_parallel.json";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--drift"))
            drift = 1;
        else if (!v)
            return 2;
        else if (++i, !strcmp(a, "--inserts"))
            inserts = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--updates"))
            updates = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--deletes"))
            delete_pct = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--epoch-max"))
            epoch_max = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--rounds"))
            rounds = atoi(v);
        else if (!strcmp(a, "--out"))
            out = v;
    }
    if (inserts == 0 || rounds < 1 || delete_pct > 100) return 2;
    double t0 = bench_now();
    uint64_t want = build_primary(inserts, updates, delete_pct, drift);
    if (drift) untimed = inserts; /* independent vector changes: only they are timed */
    size_t bytes = 0;
    for (size_t i = 0; i < n_stream; i++) bytes += stream[i].len;
    printf(
        "stream: %zu deltas (%zu inserts + %zu %supdates, %u%% of them deletes, dim %d), %.1f MB, built in "
        "%.1f "
        "s; %s SIMD\n",
        n_stream, inserts, updates, drift ? "drift " : "", delete_pct, DIM, bytes / 1e6, bench_now() - t0,
        dv_simd_backend());
    const uint32_t configs[] = {0, 1, 2, 4};
    result res[4];
    for (int c = 0; c < 4; c++) {
        res[c].workers = configs[c];
        res[c].best_s = 1e30;
    }
    cpu_use cu;
    apply_once(0, want, &res[0].st, &cu); /* warm-up: first-touch page faults would count against config 0 */
    for (int r = 0; r < rounds; r++) {
        for (int c = 0; c < 4; c++) {
            double dt = apply_once(configs[c], want, &res[c].st, &cu);
            if (dt < res[c].best_s) {
                res[c].best_s = dt;
                res[c].disp_cpu_s = cu.disp;
                res[c].total_cpu_s = cu.total;
            }
        }
    }
    printf("\n%-22s %12s %12s %8s %10s %9s %8s %9s %9s %9s %9s %9s\n", "apply", "seconds", "deltas/s",
           "vs inline", "parallel", "barriers", "epochs", "disp cpu", "all cpu", "ceiling", "dec ahead",
           "on loops");
    for (int c = 0; c < 4; c++) {
        const result *r = &res[c];
        char name[32];
        if (r->workers == 0)
            snprintf(name, sizeof name, "inline (workers 0)");
        else
            snprintf(name, sizeof name, "%u worker%s", r->workers, r->workers > 1 ? "s" : "");
        printf("%-22s %12.3f %12.0f %8.2fx %10llu %9llu %8llu %9.3f %9.3f %8.2fx %9llu %9llu\n", name,
               r->best_s, (n_stream - untimed) / r->best_s, res[0].best_s / r->best_s,
               (unsigned long long)r->st.parallel_deltas, (unsigned long long)r->st.barriers,
               (unsigned long long)r->st.epochs, r->disp_cpu_s, r->total_cpu_s, ceiling(&res[0], r),
               (unsigned long long)r->st.decoded_ahead, (unsigned long long)r->st.loop_updates);
    }
    if (untimed)
        printf("(timed: the %zu updates, after the %zu inserts were applied untimed)\n", n_stream - untimed,
               untimed);
    printf(
        "(best of %d rounds, wall clock; every replica's state hash equals the primary's. disp cpu = CPU\n"
        " seconds of the dispatcher (the calling thread), all cpu = of the process (dispatcher + workers,\n"
        " spinning included), both in the best round. ceiling = inline CPU / max(disp cpu, all cpu / "
        "cores):\n"
        " the most this configuration could gain on %ld idle cores with the work it did here; on loops =\n"
        " updates of values only that a worker loop checked and applied itself)\n",
        rounds, cores());
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", out);
        return 1;
    }
    fprintf(f,
            "{\n  \"bench\": \"apply_parallel\",\n  \"dim\": %d,\n  \"inserts\": %zu,\n  \"updates\": %zu,\n"
            "  \"delete_pct\": %u,\n  \"drift\": %s,\n",
            DIM, inserts, updates, delete_pct, drift ? "true" : "false");
    fprintf(f,
            "  \"deltas\": %zu,\n  \"timed_deltas\": %zu,\n  \"stream_bytes\": %zu,\n  \"rounds\": %d,\n"
            "  \"simd\": \"%s\",\n  \"cores\": %ld,\n",
            n_stream, n_stream - untimed, bytes, rounds, dv_simd_backend(), cores());
    fprintf(f, "  \"results\": [\n");
    for (int c = 0; c < 4; c++) {
        const result *r = &res[c];
        fprintf(
            f,
            "    {\"workers\": %u, \"seconds\": %.6f, \"deltas_per_s\": %.0f, \"speedup_vs_inline\": %.3f, "
            "\"parallel_deltas\": %llu, \"barriers\": %llu, \"epochs\": %llu, \"edge_ops\": %llu,\n"
            "     \"decoded_ahead\": %llu, \"loop_updates\": %llu, \"redone_inline\": %llu, "
            "\"dispatcher_cpu_s\": %.6f, \"process_cpu_s\": %.6f, \"cpu_ceiling_vs_inline\": %.3f}%s\n",
            r->workers, r->best_s, (n_stream - untimed) / r->best_s, res[0].best_s / r->best_s,
            (unsigned long long)r->st.parallel_deltas, (unsigned long long)r->st.barriers,
            (unsigned long long)r->st.epochs, (unsigned long long)r->st.edge_ops,
            (unsigned long long)r->st.decoded_ahead, (unsigned long long)r->st.loop_updates,
            (unsigned long long)r->st.redone_inline, r->disp_cpu_s, r->total_cpu_s, ceiling(&res[0], r),
            c < 3 ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("wrote %s\n", out);
    for (size_t i = 0; i < n_stream; i++) free(stream[i].b);
    free(stream);
    return 0;
}
