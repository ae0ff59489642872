/*
 * bench_ring.c -- ring throughput, SPSC (1 producer) and MPSC (2 producers),
 * beside memcpy of the same bytes in the same run.
 *
 * What is measured: producers copy each entry in with dv_ring_push (64-byte
 * header + payload of a fixed size); the consumer thread polls batches,
 * checks each producer's sequence, reads every payload byte (XOR of 8-byte
 * words, as a consumer that checksums it would) and releases what it has read,
 * so every payload cache line really crosses from producer to consumer. MB/s counts header + payload bytes
 * (1 MB = 1e6 bytes); the memcpy column copies the same number of bytes in
 * the same entry-sized pieces, single-threaded, through a buffer of the
 * ring's size. Wall-clock time, best of 3 repetitions per cell. A full or
 * empty ring spins briefly, then yields (the machine may have few cores:
 * MPSC with 2 producers + 1 consumer oversubscribes 2 cores).
 *
 * Usage: bench_ring [out.json] [--quick]   (default out: bench-ring.json)
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
            /* Read every payload byte, as a consumer that checksums or copies it would. */
            const unsigned char *pl = batch[i].payload;
            for (uint32_t off = 0; off + 8 <= batch[i].len; off += 8) {
                uint64_t w;
                memcpy(&w, pl + off, 8);
                a ^= w;
            }
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
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else
            path = argv[i];
    }
    static const size_t sizes[] = {64, 256, 1024, 4096};
    const uint64_t total_bytes = quick ? (16ull << 20) : (1024ull << 20);
    unsigned char *src = malloc(1024 * 16 + 4096);
    if (!src) return 1;
    for (size_t i = 0; i < 1024 * 16 + 4096; i++) src[i] = (unsigned char)(i * 131 + 7);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    result res[8];
    size_t nres = 0;
    for (size_t i = 0; i < 4; i++) bench_cell(DV_RING_SPSC, 1, sizes[i], total_bytes, src, &res[nres++]);
    for (size_t i = 0; i < 4; i++) bench_cell(DV_RING_MPSC, 2, sizes[i], total_bytes, src, &res[nres++]);

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
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("\nwrote %s (sink %llu)\n", path, (unsigned long long)(g_sink & 1));
    free(src);
    return 0;
}
