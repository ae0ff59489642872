/*
 * bench_ring.c -- ring throughput, SPSC (1 producer) and MPSC (2 producers),
 * beside memcpy of the same bytes in the same run.
 *
 * What is measured: producers copy each entry in with dv_ring_push (64-byte
 * header + payload of a fixed size); the consumer thread polls batches,
 * checks each producer's sequence, reads every payload byte (XXH3-64 of it,
 * as a consumer that verifies delta checksums does) and releases what it has read,
 * so every payload cache line really crosses from producer to consumer. MB/s counts header + payload bytes
 * (1 MB = 1e6 bytes); the memcpy column copies the same number of bytes in
 * the same entry-sized pieces, single-threaded, through a buffer of the
 * ring's size. Wall-clock time, best of 3 repetitions per cell. A full or
 * empty ring spins briefly, then yields (the machine may have few cores:
 * MPSC with 2 producers + 1 consumer oversubscribes 2 cores).
 *
 * Usage: bench_ring [out.json] [--quick] [--single]   (default out: bench-ring.json;
 *        --single: only the one-thread table, which the machine's load barely moves)
 * Build (until bench/CMakeLists.txt has it):
 *   cc -O2 -Iinclude bench/bench_ring.c build/libdeltavec.a -llz4 -lm -lpthread -o bench_ring
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bench_util.h"
#include "deltavec.h"

#define MAX_PRODUCERS 4
#define REPS 3

/* Spin a little, then give the core away: a waiting side must not starve the other on 2 cores. */
static void backoff(unsigned *spins) {
    if (++*spins < 64) return;
    *spins = 0;
    sched_yield();
}

typedef struct producer_arg {
    const dv_ring *ring;
    uint32_t id;
    uint64_t count;
    size_t size;
    const unsigned char *src;
    _Atomic int *go;
} producer_arg;

static void *producer_main(void *p) {
    producer_arg *a = p;
    unsigned char hdr[64];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, &a->id, 4);
    while (!atomic_load_explicit(a->go, memory_order_acquire)) sched_yield();
    for (uint64_t s = 0; s < a->count; s++) {
        memcpy(hdr + 8, &s, 8);
        unsigned spins = 0;
        dv_status st;
        while ((st = dv_ring_push(a->ring, hdr, a->src + (s & 1023) * 16, a->size)) == DV_EFULL)
            backoff(&spins);
        if (st != DV_OK) {
            fprintf(stderr, "push: %s\n", dv_status_name(st));
            exit(1);
        }
    }
    return NULL;
}

/* Consumes producers * count entries; returns a checksum of touched bytes so the reads stay. */
static uint64_t consume(const dv_ring *r, uint32_t producers, uint64_t count) {
    uint64_t next[MAX_PRODUCERS] = {0}, sink = 0, total = 0, want = count * producers;
    dv_ring_entry batch[64];
    while (total < want) {
        size_t n;
        unsigned spins = 0;
        dv_status st;
        while ((st = dv_ring_poll(r, batch, 64, &n)) == DV_EEMPTY) backoff(&spins);
        if (st != DV_OK) {
            fprintf(stderr, "poll: %s\n", dv_status_name(st));
            exit(1);
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t id;
            uint64_t seq, a = 0;
            memcpy(&id, batch[i].header, 4);
            memcpy(&seq, (const unsigned char *)batch[i].header + 8, 8);
            if (id >= producers || seq != next[id]) {
                fprintf(stderr, "order violated: producer %u seq %llu\n", id, (unsigned long long)seq);
                exit(1);
            }
            next[id]++;
            /* Read every payload byte, as a consumer that verifies a delta's XXH3 checksum does. */
            a = XXH3_64bits(batch[i].payload, batch[i].len);
            sink += a;
        }
        total += n;
        dv_ring_release_read(r);
    }
    return sink;
}

typedef struct result {
    const char *mode;
    uint32_t producers;
    size_t size;
    uint64_t entries;
    double seconds, mbps, eps, memcpy_mbps;
    uint64_t full_events, high_water;
} result;

static volatile uint64_t g_sink;

/* One timed run of the ring; returns seconds. */
static double run_ring(dv_ring_mode mode, uint32_t producers, size_t size, uint64_t per_producer,
                       const unsigned char *src, dv_ring_stats *stats) {
    dv_ring_config cfg;
    dv_ring ring;
    dv_ring_config_default(&cfg, mode);
    size_t bytes = dv_ring_required_size(&cfg);
    void *mem = aligned_alloc(DV_RING_PAGE, bytes);
    if (!mem || dv_ring_init(mem, bytes, &cfg, &ring) != DV_OK) {
        fprintf(stderr, "ring init failed\n");
        exit(1);
    }
    _Atomic int go = 0;
    pthread_t th[MAX_PRODUCERS];
    producer_arg args[MAX_PRODUCERS];
    for (uint32_t p = 0; p < producers; p++) {
        args[p] = (producer_arg){&ring, p, per_producer, size, src, &go};
        if (pthread_create(&th[p], NULL, producer_main, &args[p]) != 0) exit(1);
    }
    double t0 = bench_now();
    atomic_store_explicit(&go, 1, memory_order_release);
    g_sink += consume(&ring, producers, per_producer);
    double t = bench_now() - t0;
    for (uint32_t p = 0; p < producers; p++) pthread_join(th[p], NULL);
    dv_ring_stats_get(&ring, stats);
    free(mem);
    return t;
}

/* memcpy of the same bytes: entries x (64 + size), in entry-sized pieces through a ring-sized buffer. */
static double run_memcpy(size_t size, uint64_t entries, const unsigned char *src) {
    dv_ring_config cfg;
    dv_ring_config_default(&cfg, DV_RING_SPSC);
    size_t hdr_bytes = (size_t)cfg.slot_count * 64, pay_bytes = cfg.payload_size;
    unsigned char *hdr = aligned_alloc(64, hdr_bytes), *pay = aligned_alloc(64, pay_bytes);
    unsigned char h[64] = {0};
    if (!hdr || !pay) exit(1);
    memset(hdr, 0, hdr_bytes);
    memset(pay, 0, pay_bytes);
    size_t step = (size + 15) & ~(size_t)15, off = 0;
    double t0 = bench_now();
    for (uint64_t s = 0; s < entries; s++) {
        memcpy(h + 8, &s, 8);
        memcpy(hdr + (s & (cfg.slot_count - 1)) * 64, h, 64);
        if (off + step > pay_bytes) off = 0;
        memcpy(pay + off, src + (s & 1023) * 16, size);
        off += step;
    }
    double t = bench_now() - t0;
    g_sink += hdr[7] + pay[off ? off - 1 : 0];
    free(hdr);
    free(pay);
    return t;
}

/* ---- one thread, in cache: the ring's own per-entry cost -------------------------------------- */

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads every payload byte of the polled entries (as the threaded consumer does). */
static uint64_t read_entries(const dv_ring_entry *e, size_t n) {
    uint64_t a = 0;
    for (size_t i = 0; i < n; i++) a += XXH3_64bits(e[i].payload, e[i].len);
    return a;
}

/* One thread pushes ST_BURST entries, then polls, reads and releases them,
 * until `entries`: every byte is written and read in the same core's cache,
 * so what remains beside memcpy is the ring's own work per entry. Returns
 * thread CPU seconds. */
#define ST_BURST 32
static double run_ring_single(size_t size, uint64_t entries, const unsigned char *src, int read) {
    dv_ring_config cfg;
    dv_ring ring;
    dv_ring_config_default(&cfg, DV_RING_SPSC);
    size_t bytes = dv_ring_required_size(&cfg);
    void *mem = aligned_alloc(DV_RING_PAGE, bytes);
    if (!mem) exit(1);
    memset(mem, 0, bytes); /* fault the pages in before timing, as run_memcpy does for its buffers */
    if (dv_ring_init(mem, bytes, &cfg, &ring) != DV_OK) {
        fprintf(stderr, "ring init failed\n");
        exit(1);
    }
    unsigned char hdr[64] = {0};
    dv_ring_entry batch[ST_BURST];
    uint64_t sink = 0;
    double t0 = thread_cpu_s();
    for (uint64_t s = 0; s < entries;) {
        uint64_t end = s + ST_BURST < entries ? s + ST_BURST : entries;
        for (uint64_t k = s; k < end; k++) {
            memcpy(hdr + 8, &k, 8);
            if (dv_ring_push(&ring, hdr, src + (k & 1023) * 16, size) != DV_OK) exit(1);
        }
        size_t n = 0;
        if (dv_ring_poll(&ring, batch, ST_BURST, &n) != DV_OK || n != end - s) exit(1);
        if (read) sink += read_entries(batch, n);
        dv_ring_release_read(&ring);
        s = end;
    }
    double t = thread_cpu_s() - t0;
    g_sink += sink;
    free(mem);
    return t;
}

/* memcpy of the same pieces, timed in thread CPU seconds. */
static double run_memcpy_cpu(size_t size, uint64_t entries, const unsigned char *src) {
    double t0 = thread_cpu_s();
    double wall = run_memcpy(size, entries, src);
    (void)wall;
    return thread_cpu_s() - t0;
}

typedef struct single_result {
    size_t size;
    uint64_t entries;
    double ring_mbps, memcpy_mbps, ratio;      /* consumer reads every byte; medians over the repetitions */
    double bare_mbps, bare_memcpy, bare_ratio; /* consumer polls and releases only: the ring's own work */
} single_result;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define ST_REPS 7
static void single_cell(size_t size, uint64_t total_bytes, const unsigned char *src, single_result *out) {
    uint64_t entries = total_bytes / (64 + size);
    double ring_t[ST_REPS], mem_t[ST_REPS], ratio[ST_REPS], bare_t[ST_REPS], mem2_t[ST_REPS], bare_r[ST_REPS];
    for (int rep = 0; rep < ST_REPS; rep++) { /* alternate, so both see the same machine */
        ring_t[rep] = run_ring_single(size, entries, src, 1);
        mem_t[rep] = run_memcpy_cpu(size, entries, src);
        ratio[rep] = mem_t[rep] / ring_t[rep];
        bare_t[rep] = run_ring_single(size, entries, src, 0);
        mem2_t[rep] = run_memcpy_cpu(size, entries, src);
        bare_r[rep] = mem2_t[rep] / bare_t[rep];
    }
    qsort(ring_t, ST_REPS, sizeof(double), cmp_double);
    qsort(mem_t, ST_REPS, sizeof(double), cmp_double);
    qsort(ratio, ST_REPS, sizeof(double), cmp_double);
    qsort(bare_t, ST_REPS, sizeof(double), cmp_double);
    qsort(mem2_t, ST_REPS, sizeof(double), cmp_double);
    qsort(bare_r, ST_REPS, sizeof(double), cmp_double);
    double bytes = (double)entries * (double)(64 + size);
    int m = ST_REPS / 2;
    *out = (single_result){size,
                           entries,
                           bytes / ring_t[m] / 1e6,
                           bytes / mem_t[m] / 1e6,
                           ratio[m],
                           bytes / bare_t[m] / 1e6,
                           bytes / mem2_t[m] / 1e6,
                           bare_r[m]};
}

static void bench_cell(dv_ring_mode mode, uint32_t producers, size_t size, uint64_t total_bytes,
                       const unsigned char *src, result *out) {
    uint64_t per = total_bytes / (64 + size) / producers;
    uint64_t entries = per * producers;
    double best = 1e30, best_memcpy = 1e30;
    dv_ring_stats st, keep;
    memset(&keep, 0, sizeof keep);
    for (int rep = 0; rep < REPS; rep++) {
        double t = run_ring(mode, producers, size, per, src, &st);
        if (t < best) {
            best = t;
            keep = st;
        }
        double m = run_memcpy(size, entries, src);
        if (m < best_memcpy) best_memcpy = m;
    }
    double bytes = (double)entries * (double)(64 + size);
    *out = (result){mode == DV_RING_SPSC ? "spsc" : "mpsc",
                    producers,
                    size,
                    entries,
                    best,
                    bytes / best / 1e6,
                    (double)entries / best,
                    bytes / best_memcpy / 1e6,
                    keep.full_events,
                    keep.high_water};
}

int main(int argc, char **argv) {
    const char *path = "bench-ring.json";
    int quick = 0, single_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--single") == 0)
            single_only = 1;
        else
            path = argv[i];
    }
    static const size_t sizes[] = {64, 256, 1024, 4096};
    const uint64_t total_bytes = quick ? (16ull << 20) : (1024ull << 20);
    unsigned char *src = malloc(1024 * 16 + 4096);
    if (!src) return 1;
    for (size_t i = 0; i < 1024 * 16 + 4096; i++) src[i] = (unsigned char)(i * 131 + 7);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    single_result single[4];
    const uint64_t single_bytes = quick ? (64ull << 20) : (256ull << 20);
    for (size_t i = 0; i < 4; i++) single_cell(sizes[i], single_bytes, src, &single[i]);

    result res[8];
    size_t nres = 0;
    for (size_t i = 0; i < 4 && !single_only; i++)
        bench_cell(DV_RING_SPSC, 1, sizes[i], total_bytes, src, &res[nres++]);
    for (size_t i = 0; i < 4 && !single_only; i++)
        bench_cell(DV_RING_MPSC, 2, sizes[i], total_bytes, src, &res[nres++]);

    printf("ring throughput, %ld online cores, default ring (4096 slots, 1 MiB payload), %llu MiB per cell, "
           "best of %d\n",
           cores, (unsigned long long)(total_bytes >> 20), REPS);
    printf("MB/s counts 64-byte header + payload; memcpy copies the same bytes single-threaded\n\n");
    printf("%-5s %4s %8s %10s %10s %12s %12s %7s %10s\n", "mode", "prod", "payload", "entries", "MB/s",
           "entries/s", "memcpy MB/s", "ratio", "full evts");
    for (size_t i = 0; i < nres; i++) {
        const result *r = &res[i];
        printf("%-5s %4u %8zu %10llu %10.0f %12.0f %12.0f %7.2f %10llu\n", r->mode, r->producers, r->size,
               (unsigned long long)r->entries, r->mbps, r->eps, r->memcpy_mbps, r->mbps / r->memcpy_mbps,
               (unsigned long long)r->full_events);
    }

    printf(
        "\nSPSC, one thread, in cache (push %d entries, poll + read + release them; thread CPU time, median "
        "of %d,\nalternating with memcpy of the same pieces): the ring's own cost per entry\n\n",
        ST_BURST, ST_REPS);
    printf("%8s %10s | %-32s | %-32s\n", "", "", "  consumer polls + releases",
           "  consumer also reads (XXH3)");
    printf("%8s %10s | %9s %12s %7s | %9s %12s %7s\n", "payload", "entries", "MB/s", "memcpy MB/s", "ratio",
           "MB/s", "memcpy MB/s", "ratio");
    for (size_t i = 0; i < 4; i++)
        printf("%8zu %10llu | %9.0f %12.0f %7.2f | %9.0f %12.0f %7.2f\n", single[i].size,
               (unsigned long long)single[i].entries, single[i].bare_mbps, single[i].bare_memcpy,
               single[i].bare_ratio, single[i].ring_mbps, single[i].memcpy_mbps, single[i].ratio);

    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f,
            "{\n  \"bench\": \"ring\",\n  \"cores\": %ld,\n  \"ring\": {\"slot_count\": 4096, "
            "\"payload_size\": %u},\n",
            cores, 1u << 20);
    fprintf(f, "  \"bytes_per_cell\": %llu,\n  \"repetitions\": %d,\n  \"mb\": 1000000,\n  \"results\": [\n",
            (unsigned long long)total_bytes, REPS);
    for (size_t i = 0; i < nres; i++) {
        const result *r = &res[i];
        fprintf(f,
                "    {\"mode\": \"%s\", \"producers\": %u, \"payload_bytes\": %zu, \"entries\": %llu, "
                "\"seconds\": %.6f, \"mb_per_s\": %.1f, \"entries_per_s\": %.0f, \"memcpy_mb_per_s\": %.1f, "
                "\"ratio_vs_memcpy\": %.3f, \"full_events\": %llu, \"high_water_bytes\": %llu}%s\n",
                r->mode, r->producers, r->size, (unsigned long long)r->entries, r->seconds, r->mbps, r->eps,
                r->memcpy_mbps, r->mbps / r->memcpy_mbps, (unsigned long long)r->full_events,
                (unsigned long long)r->high_water, i + 1 < nres ? "," : "");
    }
    fprintf(f, "  ],\n  \"single_thread_in_cache\": [\n");
    for (size_t i = 0; i < 4; i++)
        fprintf(f,
                "    {\"mode\": \"spsc\", \"payload_bytes\": %zu, \"entries\": %llu, \"burst\": %d, "
                "\"time\": \"thread CPU, median of %d\", \"transport_mb_per_s\": %.1f, "
                "\"transport_memcpy_mb_per_s\": %.1f, \"transport_ratio_vs_memcpy\": %.3f, "
                "\"mb_per_s\": %.1f, \"memcpy_mb_per_s\": %.1f, \"ratio_vs_memcpy\": %.3f}%s\n",
                single[i].size, (unsigned long long)single[i].entries, ST_BURST, ST_REPS, single[i].bare_mbps,
                single[i].bare_memcpy, single[i].bare_ratio, single[i].ring_mbps, single[i].memcpy_mbps,
                single[i].ratio, i + 1 < 4 ? "," : "");
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("\nwrote %s (sink %llu)\n", path, (unsigned long long)(g_sink & 1));
    free(src);
    return 0;
}
