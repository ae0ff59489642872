/*
 * demo.c -- `deltavec demo`: the end-to-end replication run (the README's
 * main job).
 *
 *   primary thread                     replica thread
 *                                                    +-- ring --> apply (inline, timed) -> replica A
 *   dv_db + capture  --SPSC ring-->  process stage --+
 *                                     (broadcast)    +-- ring --> apply (N workers)     -> replica B
 *
 * Phase 1 loads the built-in dataset into the primary (every insert is a
 * structural delta); phase 2 runs a mixed workload (sparse and dense
 * updates, deletes, re-inserts, metadata changes). The replica applies the
 * stream as it arrives: replica A one delta at a time, timing each (the
 * latency table); replica B in groups through the parallel applier with
 * worker threads (the throughput figure). At the end the demo compares both
 * replicas with the primary: state hash, top-10 results, recall; and
 * prints throughput, the apply-side latency table with its targets and the bytes
 * shipped against a whole snapshot. Exit status 1 if the replica differs.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <errno.h>

#include "args.h"
#include "cli.h"
#include "common.h"
#include "deltavec.h"

typedef struct demo_opts {
    uint32_t n, dim, updates, queries;
    uint64_t seed;
    const char *json;
    const char *stream; /* write every delta here as a stream (docs/FORMAT.md section 10) */
    uint32_t workers;   /* replica B's apply workers */
} demo_opts;

/* ---- latency samples per delta kind ----------------------------------------- */

/* A delete leaves a tombstone; the graph repair travels apart, as REINDEX steps (docs/DB.md). */
enum { K_INSERT, K_DENSE, K_SPARSE, K_DELETE, K_REPAIR, K_META, K_BATCH, K_COUNT };
static const char *const KIND_NAMES[K_COUNT] = {
    "insert (with graph)", "dense update",    "sparse update", "delete (tombstone)",
    "repair step (graph)", "metadata change", "batch"};
static const double SEED_TARGET_US[K_COUNT] = {50, 30, 10, 20, 0, 0, 2000};

typedef struct samples {
    double *v;
    size_t n, cap;
    uint64_t bytes;
} samples;

static void add_sample(samples *s, double us, size_t bytes) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) abort();
    }
    s->v[s->n++] = us;
    s->bytes += bytes;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(samples *s, double p) {
    if (!s->n) return 0;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    size_t i = (size_t)(p * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

static int kind_of(const dv_delta_header *h) {
    switch (h->operation) {
    case DV_OP_INSERT:
        return K_INSERT;
    case DV_OP_DELETE:
        return K_DELETE;
    case DV_OP_BATCH:
        return K_BATCH;
    case DV_OP_REINDEX:
        return K_REPAIR;
    case DV_OP_UPDATE:
        if (h->flags & DV_FLAG_SPARSE) return K_SPARSE;
        return (h->flags & DV_FLAG_HAS_META) && h->payload_size < 256 ? K_META : K_DENSE;
    default:
        return K_META;
    }
}

/* ---- the two threads -------------------------------------------------------- */

typedef struct pipeline {
    demo_opts o;
    const float *data;
    dv_db *primary, *replica, *replica_b;
    dv_capture *cap;
    dv_process *stage;
    dv_ring out;
    void *out_mem;
    dv_ring out_b;
    void *out_b_mem;
    dv_ring outs[2]; /* the process stage's outputs: out, out_b */
    dv_apply *ap_b;
    double t_apply_b; /* microseconds replica B spent in dv_apply_batch */
    uint64_t applied_b;
    dv_apply *ap;
    atomic_int primary_done;
    dv_status primary_status, replica_status;
    double t_load, t_total;
    uint64_t writes;
    samples lat[K_COUNT];
    uint64_t shipped_bytes, shipped_deltas, load_bytes;
    int stream_failed;
    FILE *stream;
    FILE *json;               /* --json, opened before the run */
    dv_stream_writer *writer; /* into stream */
} pipeline;

static void yield_cb(void *ctx) {
    (void)ctx;
    sched_yield();
}

static uint64_t clock_cb(void *ctx) {
    (void)ctx;
    return (uint64_t)(cli_now_us() * 1000.0);
}

static void make_id(char *buf, size_t cap, uint32_t i) { snprintf(buf, cap, "item-%06u", i); }

static dv_status primary_load(pipeline *p) {
    char id[32];
    for (uint32_t i = 0; i < p->o.n; i++) {
        make_id(id, sizeof id, i);
        dv_meta_kv meta[1] = {{"cluster", i % 2 ? "odd" : "even"}};
        dv_status st = dv_db_insert(p->primary, id, p->data + (size_t)i * p->o.dim, meta, 1);
        if (st != DV_OK) return st;
        p->writes++;
    }
    return DV_OK;
}

/* A realistic stream after the load: mostly small edits. */
static dv_status primary_mix(pipeline *p) {
    uint64_t rng = p->o.seed * 31 + 7;
    uint32_t next = p->o.n, dim = p->o.dim;
    float *v = malloc(dim * sizeof *v);
    uint32_t *idx = malloc(dim * sizeof *idx);
    float *vals = malloc(dim * sizeof *vals);
    char id[32];
    dv_status st = DV_OK;
    for (uint32_t k = 0; k < p->o.updates && st == DV_OK; k++) {
        uint32_t r = cli_rand(&rng) % 100, pick = cli_rand(&rng) % next;
        make_id(id, sizeof id, pick);
        if (dv_db_get(p->primary, id, v) != DV_OK) { /* deleted earlier: insert it again */
            memcpy(v, p->data + (size_t)(pick % p->o.n) * dim, dim * sizeof *v);
            st = dv_db_insert(p->primary, id, v, NULL, 0);
        } else if (r < 50) { /* sparse: 5% of the dims change */
            uint32_t n = 0;
            for (uint32_t d = cli_rand(&rng) % 20; d < dim; d += 20) {
                idx[n] = d;
                vals[n++] = v[d] + 0.1f * cli_randf(&rng);
            }
            st = dv_db_update_sparse(p->primary, id, idx, vals, n);
        } else if (r < 70) { /* dense drift */
            for (uint32_t d = 0; d < dim; d++) v[d] += 0.01f * cli_randf(&rng);
            st = dv_db_update(p->primary, id, v);
        } else if (r < 80) {
            st = dv_db_delete(p->primary, id);
        } else if (r < 90) { /* a brand-new item */
            make_id(id, sizeof id, next++);
            for (uint32_t d = 0; d < dim; d++)
                v[d] = p->data[(size_t)(pick % p->o.n) * dim + d] + 0.05f * cli_randf(&rng);
            st = dv_db_insert(p->primary, id, v, NULL, 0);
        } else {
            st = dv_db_set_meta(p->primary, id, "status", r % 2 ? "reviewed" : NULL);
        }
        p->writes++;
    }
    free(v);
    free(idx);
    free(vals);
    return st;
}

/* The stream writer's sink: the --stream file. */
static dv_status file_sink(void *ctx, const uint8_t *bytes, size_t len) {
    return fwrite(bytes, 1, len, (FILE *)ctx) == len ? DV_OK : DV_EFULL; /* e.g. disk full */
}

/* A stream of the primary's structural deltas from sequence 1 (the stage broadcasts them untouched). */
static int open_stream_writer(pipeline *p) {
    dv_stream_info info;
    dv_status st = dv_stream_info_from_db(p->primary, DV_STREAM_STRUCTURAL, 1, &info);
    if (st == DV_OK) st = dv_stream_writer_open(&info, file_sink, p->stream, NULL, &p->writer);
    if (st != DV_OK) fprintf(stderr, "demo: writing %s failed: %s\n", p->o.stream, dv_strerror(st));
    return st == DV_OK;
}

static void *primary_thread(void *arg) {
    pipeline *p = arg;
    double t0 = cli_now_us();
    p->primary_status = primary_load(p);
    p->t_load = cli_now_us() - t0;
    if (p->primary_status == DV_OK) p->primary_status = primary_mix(p);
    if (p->primary_status == DV_OK) p->primary_status = dv_capture_flush(p->cap);
    atomic_store(&p->primary_done, 1);
    return NULL;
}

/* Applies what is in the replica ring; returns how many deltas. */
static size_t replica_pump(pipeline *p) {
    dv_ring_entry e[64];
    size_t n = 0, total = 0;
    while (dv_ring_poll(&p->out, e, 64, &n) == DV_OK && n) {
        for (size_t i = 0; i < n; i++) {
            dv_delta_header h;
            dv_delta_header_decode(e[i].header, &h);
            double t0 = cli_now_us();
            dv_status st = dv_apply_delta(p->ap, e[i].header, e[i].payload, e[i].len);
            double us = cli_now_us() - t0;
            if (st != DV_OK) {
                fprintf(stderr, "replica: %s\n", dv_apply_last_error(p->ap));
                p->replica_status = st;
                return total;
            }
            add_sample(&p->lat[kind_of(&h)], us, DV_DELTA_HEADER_SIZE + e[i].len);
            if (p->writer &&
                (st = dv_stream_writer_append(p->writer, e[i].header, e[i].payload, e[i].len)) != DV_OK) {
                fprintf(stderr, "demo: writing %s failed: %s\n", p->o.stream, dv_strerror(st));
                dv_stream_writer_free(p->writer);
                p->writer = NULL;
                p->stream_failed = 1;
            }
            p->shipped_bytes += DV_DELTA_HEADER_SIZE + e[i].len;
            p->shipped_deltas++;
            if (h.sequence <= p->o.n) p->load_bytes += DV_DELTA_HEADER_SIZE + e[i].len;
        }
        dv_ring_release(&p->out, &e[n - 1]);
        total += n;
    }
    return total;
}

/* Replica B: whole groups through dv_apply_batch (parallel when workers run). */
static size_t replica_b_pump(pipeline *p) {
    dv_ring_entry e[256];
    const uint8_t *hdr[256], *pay[256];
    size_t len[256];
    size_t n = 0, total = 0;
    while (dv_ring_poll(&p->out_b, e, 256, &n) == DV_OK && n) {
        for (size_t i = 0; i < n; i++) {
            hdr[i] = e[i].header;
            pay[i] = e[i].payload;
            len[i] = e[i].len;
        }
        double t0 = cli_now_us();
        size_t applied = 0;
        dv_status st = dv_apply_batch(p->ap_b, hdr, pay, len, n, NULL, &applied);
        p->t_apply_b += cli_now_us() - t0;
        p->applied_b += applied;
        if (st != DV_OK) {
            fprintf(stderr, "replica B: %s\n", dv_apply_last_error(p->ap_b));
            p->replica_status = st;
            return total;
        }
        dv_ring_release(&p->out_b, &e[n - 1]);
        total += n;
    }
    return total;
}

static void *replica_thread(void *arg) {
    pipeline *p = arg;
    for (;;) {
        int done = atomic_load(&p->primary_done);
        size_t moved = 0;
        dv_status st = dv_process_run(p->stage, dv_capture_ring(p->cap), 256, &moved);
        if (st != DV_OK && st != DV_EEMPTY && st != DV_EFULL) {
            p->replica_status = st;
            break;
        }
        size_t applied = replica_pump(p);
        if (p->replica_status == DV_OK) applied += replica_b_pump(p);
        if (p->replica_status != DV_OK) break;
        if (done && st == DV_EEMPTY && applied == 0) break;
        if (!moved && !applied) sched_yield();
    }
    return NULL;
}

/* ---- setup and report ---------------------------------------------------------- */

static int setup(pipeline *p) {
    dv_db_config dc;
    dv_db_config_default(&dc, p->o.dim);
    dc.ef_construction = 100;
    if (dv_db_open(&dc, &p->primary) != DV_OK || dv_db_open(&dc, &p->replica) != DV_OK ||
        dv_db_open(&dc, &p->replica_b) != DV_OK)
        return 0;
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.ring.payload_size = 8u << 20;
    cc.full_policy = DV_FULL_WAIT;
    cc.wait = yield_cb;
    cc.clock = clock_cb;
    if (dv_capture_init(p->primary, &cc, &p->cap) != DV_OK || dv_capture_start(p->cap) != DV_OK) return 0;
    dv_ring_config rc;
    dv_ring_config_default(&rc, DV_RING_SPSC);
    rc.payload_size = 8u << 20;
    size_t size = dv_ring_required_size(&rc);
    p->out_mem = aligned_alloc(64, size);
    p->out_b_mem = aligned_alloc(64, size);
    if (!p->out_mem || dv_ring_init(p->out_mem, size, &rc, &p->out) != DV_OK) return 0;
    if (!p->out_b_mem || dv_ring_init(p->out_b_mem, size, &rc, &p->out_b) != DV_OK) return 0;
    p->outs[0] = p->out; /* the stage keeps this pointer: it must outlive it */
    p->outs[1] = p->out_b;
    dv_process_config pc;
    dv_process_config_default(&pc);
    pc.outputs = p->outs;
    pc.n_outputs = 2;
    if (dv_process_init(&pc, &p->stage) != DV_OK) return 0;
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = 0; /* replica A: inline, one delta per call */
    if (dv_apply_init(p->replica, &ac, &p->ap) != DV_OK) return 0;
    ac.workers = p->o.workers;
    if (dv_apply_init(p->replica_b, &ac, &p->ap_b) != DV_OK) return 0;
    return dv_apply_start_threads(p->ap_b) == DV_OK;
}

/* What shipping the whole index costs: ids, vectors, metadata and every
 * neighbour list, packed (no slack). */
typedef struct snap_ctx {
    const dv_db *db;
    uint64_t bytes;
} snap_ctx;

static int snap_visit(void *ctx, const char *id, const float *vec, uint32_t slot) {
    snap_ctx *s = ctx;
    (void)vec;
    (void)slot;
    const dv_meta_kv *m;
    size_t nm = 0;
    s->bytes += strlen(id) + 1 + (uint64_t)dv_db_dim(s->db) * 4 + 4;
    if (dv_db_meta(s->db, id, &m, &nm) == DV_OK)
        for (size_t i = 0; i < nm; i++) s->bytes += strlen(m[i].key) + strlen(m[i].value) + 2;
    return 0;
}

static uint64_t snapshot_bytes(const dv_db *db, uint32_t M) {
    snap_ctx s = {db, 0};
    dv_db_iterate(db, snap_visit, &s);
    /* graph: layer-0 lists are ~2M links, upper layers add ~1/M of that */
    s.bytes += (uint64_t)dv_db_count(db) * (2u * M + 1) * 4 * 17 / 16;
    return s.bytes;
}

static void compare_search(pipeline *p, int *same_top10, double *recall) {
    float *q = malloc(p->o.dim * sizeof *q);
    uint64_t rng = p->o.seed + 99;
    dv_hit a[10], b[10], e[10];
    size_t na, nb, ne, hits = 0, total = 0;
    *same_top10 = 1;
    for (uint32_t i = 0; i < p->o.queries; i++) {
        const float *base = p->data + (size_t)(cli_rand(&rng) % p->o.n) * p->o.dim;
        for (uint32_t d = 0; d < p->o.dim; d++) q[d] = base[d] + 0.1f * cli_randf(&rng);
        dv_db_search(p->primary, q, 10, 0, a, &na);
        dv_db_search(p->replica, q, 10, 0, b, &nb);
        dv_db_search_exact(p->replica, q, 10, e, &ne);
        if (na != nb) *same_top10 = 0;
        for (size_t k = 0; k < na && k < nb; k++)
            if (strcmp(a[k].id, b[k].id) != 0 || a[k].distance != b[k].distance) *same_top10 = 0;
        for (size_t x = 0; x < ne; x++)
            for (size_t y = 0; y < nb; y++) hits += strcmp(e[x].id, b[y].id) == 0;
        total += ne;
    }
    *recall = total ? (double)hits / (double)total : 1;
    free(q);
}

/* The figures of report() that the JSON file also carries. */
typedef struct demo_figures {
    uint64_t update_bytes, snapshot_bytes;
    double recall;
    int same_top10, converged;
} demo_figures;

static cJSON *latency_json(pipeline *p) {
    cJSON *lat = cJSON_CreateObject();
    for (int k = 0; lat && k < K_COUNT; k++) {
        if (!p->lat[k].n) continue;
        cJSON *one = cJSON_AddObjectToObject(lat, KIND_NAMES[k]);
        if (!one || !cJSON_AddNumberToObject(one, "n", (double)p->lat[k].n) ||
            !cJSON_AddNumberToObject(one, "median", pct(&p->lat[k], 0.5)) ||
            !cJSON_AddNumberToObject(one, "p99", pct(&p->lat[k], 0.99))) {
            cJSON_Delete(lat);
            return NULL;
        }
    }
    return lat;
}

/* Writes the figures to the --json file opened at start; 0, or -1 after saying why. */
static int write_json(pipeline *p, const demo_figures *f) {
    cJSON *o = cJSON_CreateObject();
    double apply_rate = p->t_apply_b > 0 ? (double)p->applied_b / (p->t_apply_b / 1e6) : 0.0;
    int ok = o && cJSON_AddNumberToObject(o, "n", p->o.n) && cJSON_AddNumberToObject(o, "dim", p->o.dim) &&
             cJSON_AddNumberToObject(o, "updates", p->o.updates) &&
             cJSON_AddNumberToObject(o, "writes_per_s", (double)p->writes / (p->t_total / 1e6)) &&
             cJSON_AddNumberToObject(o, "deltas", (double)p->shipped_deltas) &&
             cJSON_AddNumberToObject(o, "bytes_shipped", (double)p->shipped_bytes) &&
             cJSON_AddNumberToObject(o, "edit_bytes", (double)f->update_bytes) &&
             cJSON_AddNumberToObject(o, "snapshot_bytes", (double)f->snapshot_bytes);
    cJSON *lat = ok ? latency_json(p) : NULL;
    ok = lat && cJSON_AddItemToObject(o, "latency_us", lat);
    if (!ok) cJSON_Delete(lat);
    ok = ok && cJSON_AddBoolToObject(o, "same_top10", f->same_top10) &&
         cJSON_AddNumberToObject(o, "recall", f->recall) &&
         cJSON_AddNumberToObject(o, "workers_b", dv_apply_worker_count(p->ap_b)) &&
         cJSON_AddNumberToObject(o, "apply_b_deltas_per_s", apply_rate) &&
         cJSON_AddBoolToObject(o, "converged", f->converged);
    char *text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    int written = text && fprintf(p->json, "%s\n", text) >= 0;
    cJSON_free(text);
    if (fclose(p->json) != 0) written = 0;
    p->json = NULL;
    if (!written)
        fprintf(stderr, "deltavec demo: %s: %s\n", p->o.json, text ? strerror(errno) : "out of memory");
    return written ? 0 : -1;
}

static int report(pipeline *p) {
    uint64_t hp = dv_db_state_hash(p->primary), hr = dv_db_state_hash(p->replica);
    uint64_t hb = dv_db_state_hash(p->replica_b);
    int same = 0;
    double recall = 0;
    compare_search(p, &same, &recall);
    uint64_t snap = snapshot_bytes(p->primary, 16);
    uint64_t update_bytes = p->shipped_bytes - p->load_bytes;
    dv_capture_stats cs;
    dv_capture_stats_get(p->cap, &cs);

    printf("\ndeltavec replication demo: %u x %u built-in dataset, then %u mixed writes (SIMD: %s)\n", p->o.n,
           p->o.dim, p->o.updates, dv_simd_backend());
    printf("  primary writes        %10llu in %.2f s (%.0f writes/s captured)\n",
           (unsigned long long)p->writes, p->t_total / 1e6, (double)p->writes / (p->t_total / 1e6));
    printf("  deltas applied        %10llu (%llu sparse, %llu dense, %llu unchanged writes skipped)\n",
           (unsigned long long)p->shipped_deltas, (unsigned long long)cs.sparse_updates,
           (unsigned long long)cs.dense_updates, (unsigned long long)cs.skipped_unchanged);
    printf("\n  apply latency on the replica (us)           n   median      p99       target\n");
    for (int k = 0; k < K_COUNT; k++) {
        if (!p->lat[k].n) continue;
        char target[32] = "-";
        if (SEED_TARGET_US[k] > 0) snprintf(target, sizeof target, "< %.0f", SEED_TARGET_US[k]);
        printf("  %-26s %10zu %8.2f %8.2f   %s\n", KIND_NAMES[k], p->lat[k].n, pct(&p->lat[k], 0.5),
               pct(&p->lat[k], 0.99), target);
    }
    printf("\n  bytes shipped (all deltas)        %12llu\n", (unsigned long long)p->shipped_bytes);
    printf("  bytes shipped for the %u edits  %12llu (%.0f B per edit)\n", p->o.updates,
           (unsigned long long)update_bytes, (double)update_bytes / (p->o.updates ? p->o.updates : 1));
    printf("  one whole snapshot of the index   %12llu (%.1fx the edits' deltas)\n", (unsigned long long)snap,
           update_bytes ? (double)snap / (double)update_bytes : 0.0);
    printf("\n  replica top-10 == primary top-10 on %u queries: %s; replica recall@10 %.4f\n", p->o.queries,
           same ? "yes" : "NO", recall);
    uint32_t nw = dv_apply_worker_count(p->ap_b);
    printf("  replica B (%u apply worker%s beside the applying thread): %llu deltas in %.2f s of apply (%.0f "
           "deltas/s)\n",
           nw, nw == 1 ? "" : "s", (unsigned long long)p->applied_b, p->t_apply_b / 1e6,
           p->t_apply_b > 0 ? (double)p->applied_b / (p->t_apply_b / 1e6) : 0.0);
    printf("  state hash replica B %016llx: %s\n", (unsigned long long)hb,
           hb == hp ? "CONVERGED" : "DIVERGED");
    printf("  state hash primary %016llx replica %016llx: %s\n", (unsigned long long)hp,
           (unsigned long long)hr, hp == hr ? "CONVERGED" : "DIVERGED");
    if (p->json) {
        demo_figures fig = {update_bytes, snap, recall, same, hp == hr && hb == hp};
        if (write_json(p, &fig)) return 0;
    }
    return hp == hr && hb == hp && same;
}

static void teardown(pipeline *p) {
    if (p->ap_b) dv_apply_stop_threads(p->ap_b);
    dv_apply_free(p->ap_b);
    dv_apply_free(p->ap);
    dv_process_free(p->stage);
    dv_capture_free(p->cap);
    dv_db_close(p->primary);
    dv_db_close(p->replica);
    dv_db_close(p->replica_b);
    free(p->out_mem);
    free(p->out_b_mem);
    for (int k = 0; k < K_COUNT; k++) free(p->lat[k].v);
}

static int run_demo(const cli_command *self, int argc, char **argv) {
    pipeline p;
    memset(&p, 0, sizeof p);
    p.o = (demo_opts){20000, 128, 10000, 200, 7, NULL, NULL, 1};
    cli_opt opts[] = {{"--n", NULL, CLI_U32, &p.o.n, 100, UINT32_MAX / 2, NULL, 0},
                      {"--dim", NULL, CLI_U32, &p.o.dim, 1, DV_MAX_DIM, NULL, 0},
                      {"--updates", NULL, CLI_U32, &p.o.updates, 0, UINT32_MAX / 2, NULL, 0},
                      {"--queries", NULL, CLI_U32, &p.o.queries, 0, 1000000, NULL, 0},
                      {"--seed", NULL, CLI_U64, &p.o.seed, 0, UINT64_MAX, NULL, 0},
                      {"--json", NULL, CLI_STR, &p.o.json, 0, 0, NULL, 0},
                      {"--stream", NULL, CLI_STR, &p.o.stream, 0, 0, NULL, 0},
                      {"--workers", NULL, CLI_U32, &p.o.workers, 0, DV_APPLY_MAX_WORKERS, NULL, 0},
                      CLI_OPT_END};
    cli_list pos = {0};
    int rc = cli_parse(self, argc, argv, opts, &pos, 0, 0);
    cli_args_free(opts, &pos);
    if (rc) return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    /* Output files are opened before the run: a path that cannot be written fails now, not after it. */
    if (p.o.json && !(p.json = fopen(p.o.json, "w"))) {
        fprintf(stderr, "deltavec demo: --json %s: %s\n", p.o.json, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    if (p.o.stream && !(p.stream = fopen(p.o.stream, "wb"))) {
        fprintf(stderr, "deltavec demo: --stream %s: %s\n", p.o.stream, strerror(errno));
        if (p.json) fclose(p.json);
        return CLI_EXIT_FAIL;
    }
    float *data = cli_dataset(p.o.n, p.o.dim, p.o.seed);
    p.data = data;
    if (!data || !setup(&p) || (p.stream && !open_stream_writer(&p))) {
        fprintf(stderr, "demo: setup failed\n");
        teardown(&p);
        if (p.stream) fclose(p.stream);
        if (p.json) fclose(p.json);
        free(data);
        return 1;
    }
    uint32_t nw = dv_apply_worker_count(p.ap_b);
    printf("deltavec %s demo: primary -> capture ring -> process stage -> 2 rings -> replica A (inline), "
           "replica B (%u worker%s + the applying thread)\n",
           dv_version_string(), nw, nw == 1 ? "" : "s");
    pthread_t tp, tr;
    double t0 = cli_now_us();
    pthread_create(&tp, NULL, primary_thread, &p);
    pthread_create(&tr, NULL, replica_thread, &p);
    pthread_join(tp, NULL);
    pthread_join(tr, NULL);
    p.t_total = cli_now_us() - t0;
    int ok = p.primary_status == DV_OK && p.replica_status == DV_OK;
    if (!ok)
        fprintf(stderr, "demo: primary %s, replica %s\n", dv_status_name(p.primary_status),
                dv_status_name(p.replica_status));
    ok = ok && report(&p);
    dv_stream_writer_free(p.writer);
    if (p.stream && (fclose(p.stream) != 0 || p.stream_failed)) ok = 0;
    if (p.json) fclose(p.json); /* a run that failed before report() */
    teardown(&p);
    free(data);
    return ok ? 0 : 1;
}

const cli_command cli_cmd_demo = {
    "demo", "end-to-end replication demo on a built-in dataset",
    "usage: deltavec demo [--n 20000] [--dim 128] [--updates 10000] [--queries 200] [--seed 7]\n"
    "                     [--workers 1] [--json FILE] [--stream FILE]\n"
    "  A primary, a capture ring, a process stage and two replicas in one process (docs/CLI.md).\n"
    "  --n        vectors in the built-in dataset (>= 100)\n"
    "  --dim      dimension, 1..4096\n"
    "  --updates  mixed writes after the load\n"
    "  --queries  queries comparing the replica's top-10 with the primary's\n"
    "  --seed     dataset and workload seed\n"
    "  --workers  replica B's apply worker threads beside the applying one, 0..64 (0: inline)\n"
    "  --json     also write the figures as JSON to FILE\n"
    "  --stream   also write every delta as a stream file (deltavec dump reads it)\n"
    "  Exit status 0 only if both replicas converge to the primary's state hash.\n",
    run_demo};
