/*
 * dvw_vectors.c -- native side of the wasm/JS interoperability tests.
 *
 *   dvw_vectors gen STREAM JSON [ops] [dim] [xor]
 *       Runs the fixed workload below on a native primary with capture on,
 *       writes every delta to the stream file STREAM and the config, final
 *       state hash and a checkpoint hash every 100 sequences to JSON.
 *       With "xor": batches of 8 with dense_xor, so every dense update is an
 *       UPDATE of kind 3 (docs/FORMAT.md 3.2); no checkpoints (a batch holds
 *       several ops), the final hash only.
 *   dvw_vectors apply STREAM
 *       Applies a stream file (e.g. one written in wasm) to a fresh native
 *       replica created from the stream header; prints "count=N position=S
 *       hash=HEX" (exit 1 on any error).
 *   dvw_vectors primary [ops] [dim]
 *       Runs the workload without capture; prints "hash=HEX".
 *   dvw_vectors bench STREAM
 *       Times native apply of every delta of STREAM; prints JSON with
 *       median/p99 nanoseconds per operation kind.
 *
 * Stream file: the stream container of docs/FORMAT.md section 10 (stream
 * header with the db config, then records back to back), written with the
 * core's dv_stream_writer and read with its dv_stream_reader (fed 4 KiB at
 * a time, so records straddling chunks are exercised too).
 *
 * Workload (js/test/workload.js implements the same, op for op): PRNG
 * mulberry32(seed 0x5eed); a value is ((r >>> 8) / 2^23) - 1 (exact in f32).
 * Each op: r = next() % 100; live < 8 or r < 55 -> insert "v<counter>"
 * (every 5th insert carries metadata {"tag": "t<counter % 7>"}); r < 75 ->
 * dense update of live[next() % live]; r < 90 -> sparse update of 3
 * distinct increasing dims (d0 = next() % (dim-2), then d0+1, d0+2);
 * r < 97 -> delete live[i] (swap-remove from the live list); else set_meta
 * "tag" = "m<op>". Vectors are drawn insert/update order, dim values each.
 *
 * apply and bench check the header with dv_apply_begin_stream and apply
 * through dv_apply (section 8 of deltavec.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deltavec.h"

typedef struct wl_cfg {
    uint32_t dim, M, efc, efs, metric;
    uint64_t seed;
    uint32_t ops;
} wl_cfg;

static const wl_cfg default_cfg = {32, 8, 64, 32, 0, 42, 3000};

static uint32_t rng_state;
static uint32_t rnd(void) {
    uint32_t t = (rng_state += 0x6D2B79F5u);
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return t ^ (t >> 14);
}
static float rval(void) { return (float)(rnd() >> 8) / 8388608.0f - 1.0f; }

static void die(const char *what, int st) {
    fprintf(stderr, "dvw_vectors: %s: %s\n", what, dv_status_name(st));
    exit(1);
}

static dv_db *open_db(const wl_cfg *c) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, c->dim);
    cfg.M = c->M;
    cfg.ef_construction = c->efc;
    cfg.ef_search = c->efs;
    cfg.metric = (dv_metric)c->metric;
    cfg.seed = c->seed;
    dv_db *db = NULL;
    int st = dv_db_open(&cfg, &db);
    if (st) die("open", st);
    return db;
}

/* Runs the workload; calls after(op) after every op (for draining capture). */
static void run_workload(dv_db *db, const wl_cfg *c, void (*after)(void *), void *ctx) {
    rng_state = 0x5eed;
    char **live = calloc(c->ops + 1, sizeof *live);
    uint32_t n_live = 0, counter = 0;
    float *v = malloc(sizeof(float) * c->dim);
    for (uint32_t op = 0; op < c->ops; op++) {
        uint32_t r = rnd() % 100;
        int st = DV_OK;
        if (n_live < 8 || r < 55) {
            char id[32], tag[32];
            snprintf(id, sizeof id, "v%" PRIu32, counter);
            for (uint32_t i = 0; i < c->dim; i++) v[i] = rval();
            dv_meta_kv kv = {"tag", tag};
            snprintf(tag, sizeof tag, "t%" PRIu32, counter % 7);
            st = dv_db_insert(db, id, v, &kv, counter % 5 == 0 ? 1 : 0);
            live[n_live++] = strdup(id);
            counter++;
        } else if (r < 75) {
            const char *id = live[rnd() % n_live];
            for (uint32_t i = 0; i < c->dim; i++) v[i] = rval();
            st = dv_db_update(db, id, v);
        } else if (r < 90) {
            const char *id = live[rnd() % n_live];
            uint32_t d0 = rnd() % (c->dim - 2), idx[3] = {d0, d0 + 1, d0 + 2};
            float vals[3];
            for (int i = 0; i < 3; i++) vals[i] = rval();
            st = dv_db_update_sparse(db, id, idx, vals, 3);
        } else if (r < 97) {
            uint32_t i = rnd() % n_live;
            st = dv_db_delete(db, live[i]);
            free(live[i]);
            live[i] = live[--n_live];
        } else {
            const char *id = live[rnd() % n_live];
            char val[32];
            snprintf(val, sizeof val, "m%" PRIu32, op);
            st = dv_db_set_meta(db, id, "tag", val);
        }
        if (st) die("workload op", st);
        if (after) after(ctx);
    }
    for (uint32_t i = 0; i < n_live; i++) free(live[i]);
    free(live);
    free(v);
}

typedef struct gen_ctx {
    dv_capture *cap;
    dv_db *db;
    dv_stream_writer *writer;
    FILE *json;
    uint64_t n;
    int first_cp;
    int batched; /* no checkpoints: the db is ahead of the open batch */
} gen_ctx;

static void drain(void *p) {
    gen_ctx *g = p;
    dv_delta_header h[64];
    size_t n = 0;
    while (dv_capture_poll(g->cap, h, 64, &n) == DV_OK && n > 0) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *hb, *pb;
            size_t len;
            int st = dv_capture_payload(g->cap, h[i].sequence, &hb, &pb, &len);
            if (st) die("payload", st);
            if ((st = dv_stream_writer_append(g->writer, hb, pb, len))) die("stream append", st);
            g->n++;
            if (g->n % 100 == 0 && !g->batched) {
                /* The db state right now includes exactly the deltas up to here:
                 * capture emits one delta per op and we drain after each op. */
                fprintf(g->json, "%s\n    {\"seq\": %" PRIu64 ", \"hash\": \"%016" PRIx64 "\"}",
                        g->first_cp ? "" : ",", h[i].sequence, dv_db_state_hash(g->db));
                g->first_cp = 0;
            }
        }
        dv_capture_release(g->cap, h[n - 1].sequence);
    }
}

/* dv_stream_writer's sink: a FILE. */
static dv_status file_sink(void *ctx, const uint8_t *bytes, size_t len) {
    return fwrite(bytes, 1, len, (FILE *)ctx) == len ? DV_OK : DV_EFULL;
}

static uint32_t arg_u32(int argc, char **argv, int i, uint32_t def) {
    return argc > i ? (uint32_t)strtoul(argv[i], NULL, 0) : def;
}

static int cmd_gen(int argc, char **argv) {
    wl_cfg c = default_cfg;
    c.ops = arg_u32(argc, argv, 4, c.ops);
    c.dim = arg_u32(argc, argv, 5, c.dim);
    gen_ctx g = {0};
    g.db = open_db(&c);
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    if (argc > 6 && strcmp(argv[6], "xor") == 0) {
        cc.dense_xor = 1;
        cc.batch_max_deltas = 8;
        g.batched = 1;
    }
    int st = dv_capture_init(g.db, &cc, &g.cap);
    if (st) die("capture init", st);
    if ((st = dv_capture_start(g.cap))) die("capture start", st);
    FILE *stream = fopen(argv[2], "wb");
    g.json = fopen(argv[3], "w");
    if (!stream || !g.json) {
        perror("dvw_vectors");
        return 1;
    }
    dv_stream_info info;
    if ((st = dv_stream_info_from_db(g.db, DV_STREAM_STRUCTURAL, 1, &info))) die("stream info", st);
    if ((st = dv_stream_writer_open(&info, file_sink, stream, NULL, &g.writer))) die("stream open", st);
    fprintf(g.json,
            "{\n  \"dim\": %u, \"metric\": %u, \"M\": %u, \"efConstruction\": %u, \"efSearch\": %u,\n", c.dim,
            c.metric, c.M, c.efc, c.efs);
    fprintf(g.json, "  \"seed\": %" PRIu64 ", \"ops\": %u, \"backend\": \"%s\",\n  \"checkpoints\": [",
            c.seed, c.ops, dv_simd_backend());
    g.first_cp = 1;
    run_workload(g.db, &c, drain, &g);
    if ((st = dv_capture_flush(g.cap))) die("capture flush", st);
    drain(&g);
    uint64_t bytes = dv_stream_writer_offset(g.writer);
    dv_stream_writer_free(g.writer);
    if (fclose(stream) != 0) die("stream close", DV_EFULL);
    fprintf(g.json,
            "\n  ],\n  \"deltas\": %" PRIu64 ", \"count\": %zu, \"final_hash\": \"%016" PRIx64
            "\", \"stream_bytes\": %" PRIu64 "\n}\n",
            g.n, dv_db_count(g.db), dv_db_state_hash(g.db), bytes);
    fclose(g.json);
    printf("deltas=%" PRIu64 " bytes=%" PRIu64 " count=%zu hash=%016" PRIx64 "\n", g.n, bytes,
           dv_db_count(g.db), dv_db_state_hash(g.db));
    dv_capture_free(g.cap);
    dv_db_close(g.db);
    return 0;
}

/* Reads the whole stream file; returns its bytes and size. */
static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(sz > 0 ? (size_t)sz : 1);
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) die("read", DV_ETRUNCATED);
    fclose(f);
    *size = (size_t)sz;
    return buf;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Feeds the reader until the next record (DV_OK) or a problem; 0 at a clean end of input. */
typedef struct feed {
    const uint8_t *buf;
    size_t size, pos;
} feed;

static int next_record(dv_stream_reader *rd, feed *f, dv_stream_record *rec) {
    enum { CHUNK = 4096 };
    for (;;) {
        size_t chunk = f->size - f->pos < CHUNK ? f->size - f->pos : CHUNK, used = 0;
        int st = dv_stream_reader_next(rd, f->buf + f->pos, chunk, &used, rec);
        f->pos += used;
        if (st == DV_OK) return 1;
        if (st != DV_EEMPTY) {
            fprintf(stderr, "dvw_vectors: %s\n", dv_stream_reader_message(rd));
            die("stream record", st);
        }
        if (f->pos == f->size) {
            uint64_t off = 0;
            st = dv_stream_reader_finish(rd, &off);
            if (st) {
                fprintf(stderr, "dvw_vectors: at %" PRIu64 ": %s\n", off, dv_stream_reader_message(rd));
                die("stream end", st);
            }
            return 0;
        }
    }
}

static int cmd_apply(int argc, char **argv, int bench) {
    (void)argc;
    size_t size;
    uint8_t *buf = read_file(argv[2], &size);
    dv_stream_reader *rd = NULL;
    int st = dv_stream_reader_open(NULL, &rd);
    if (st) die("reader", st);
    feed f = {buf, size, 0};
    dv_stream_record rec;
    int more = next_record(rd, &f, &rec); /* the header comes before any record */
    dv_stream_info info;
    if ((st = dv_stream_reader_info(rd, &info))) die("stream header", st);
    dv_db *db = NULL;
    if ((st = dv_db_open_from_stream(&info, NULL, &db))) die("open from stream", st);
    dv_apply *ap = NULL;
    dv_apply_config acfg;
    dv_apply_config_default(&acfg);
    if ((st = dv_apply_init(db, &acfg, &ap))) die("apply init", st);
    if ((st = dv_apply_begin_stream(ap, &info))) {
        fprintf(stderr, "dvw_vectors: %s\n", dv_apply_last_error(ap));
        die("begin stream", st);
    }
    uint64_t pos = 0, n = 0;
    uint64_t *t[6] = {0};
    size_t nt[6] = {0};
    for (int k = 0; k < 6; k++) t[k] = malloc(sizeof(uint64_t) * (size / 64 + 1));
    for (; more; more = next_record(rd, &f, &rec)) {
        const dv_delta_header *h = &rec.h;
        uint64_t t0 = bench ? now_ns() : 0;
        st = dv_apply_delta(ap, rec.header, rec.payload, rec.payload_len);
        if (bench) {
            int kind = h->operation == DV_OP_UPDATE ? ((h->flags & DV_FLAG_SPARSE) ? 5 : 2) : h->operation;
            if (kind > 5) kind = 0;
            t[kind][nt[kind]++] = now_ns() - t0;
        }
        if (st) {
            fprintf(stderr, "dvw_vectors: %s\n", dv_apply_last_error(ap));
            die("apply", st);
        }
        pos = dv_apply_position(ap);
        n++;
    }
    dv_stream_reader_free(rd);
    if (bench) {
        static const char *names[6] = {"other", "insert", "dense_update", "delete", "batch", "sparse_update"};
        printf("{\"backend\": \"%s\", \"deltas\": %" PRIu64 ", \"ops\": {", dv_simd_backend(), n);
        int first = 1;
        for (int k = 0; k < 6; k++) {
            if (!nt[k]) continue;
            qsort(t[k], nt[k], sizeof(uint64_t), cmp_u64);
            printf("%s\"%s\": {\"n\": %zu, \"median_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64 "}",
                   first ? "" : ", ", names[k], nt[k], t[k][nt[k] / 2], t[k][(nt[k] * 99) / 100]);
            first = 0;
        }
        printf("}, \"hash\": \"%016" PRIx64 "\"}\n", dv_db_state_hash(db));
    } else {
        printf("count=%zu position=%" PRIu64 " hash=%016" PRIx64 "\n", dv_db_count(db), pos,
               dv_db_state_hash(db));
    }
    for (int k = 0; k < 6; k++) free(t[k]);
    dv_apply_free(ap);
    dv_db_close(db);
    free(buf);
    return 0;
}

static int cmd_primary(int argc, char **argv) {
    wl_cfg c = default_cfg;
    c.ops = arg_u32(argc, argv, 2, c.ops);
    c.dim = arg_u32(argc, argv, 3, c.dim);
    dv_db *db = open_db(&c);
    run_workload(db, &c, NULL, NULL);
    printf("count=%zu hash=%016" PRIx64 " backend=%s\n", dv_db_count(db), dv_db_state_hash(db),
           dv_simd_backend());
    dv_db_close(db);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "gen") == 0) return cmd_gen(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "apply") == 0) return cmd_apply(argc, argv, 0);
    if (argc >= 3 && strcmp(argv[1], "bench") == 0) return cmd_apply(argc, argv, 1);
    if (argc >= 2 && strcmp(argv[1], "primary") == 0) return cmd_primary(argc, argv);
    fprintf(stderr, "usage: dvw_vectors gen STREAM JSON [ops] [dim] [xor] | apply STREAM |"
                    " primary [ops] [dim] | bench STREAM\n");
    return 2;
}
