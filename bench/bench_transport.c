/*
 * bench_transport.c -- replication through one local nats-server (started here, JetStream file storage,
 * on 127.0.0.1; tests/support/nats_server.c). Prints each figure beside its reference, same run:
 *
 *  1. throughput: the publisher ships the log of building an n x dim db (one delta per insert) to the
 *     stream, once with one record per message (group_bytes 1) and once with runs of records per message
 *     (the default); reference: raw JetStream async publishes of the same byte sizes, one per record (no
 *     message id, no expectations; the `nats bench js pub` pattern) with the same window. Then a follower
 *     applies all of them: end-to-end deltas/s.
 *  2. bytes on the wire: a 1% update of the db as stored in the stream (JetStream's own byte count,
 *     headers included) against the snapshot of the db put in the object store. A 1% update is one write
 *     to each of n/100 vectors chosen uniformly: dense (a) replaced by a new random vector, (b) every value
 *     drifting by up to 1%; sparse (c) 10% of the vector's values (dim/10 indices) replaced. Each measured
 *     with one record per message and with runs.
 *  3. write-to-visible latency: single writes, one every ms, in the writer thread; a publisher thread and a
 *     follower thread pump continuously; latency = time the follower has applied the write's delta minus
 *     the time the write returned. p50 / p99.
 *
 * Vectors are uniform in [-1, 1) with all 24 mantissa bits random (as model outputs are): no figure here
 * profits from values a compressor could exploit.
 *
 * Usage: bench_transport [--n 100000] [--dim 128] [--lat 2000] [--group BYTES] [--zstd LEVEL] [--json FILE]
 * (--group and --zstd: the runs publisher's group_bytes and zstd_level; -1: no compression)
 */
#define _GNU_SOURCE
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "deltavec.h"
#include "support/nats_server.h"

#define DB "bench"
static const char *PROG = "bench_transport";
static test_nats srv;
static char work[256];

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float uniform(uint64_t *rng) { return (float)((double)(rng_next(rng) >> 11) * 0x1.0p-52 - 1.0); }

static void fill(float *v, uint32_t dim, uint64_t *rng) {
    for (uint32_t d = 0; d < dim; d++) v[d] = uniform(rng);
}

static void check(dv_status st, const char *what) {
    if (st != DV_OK) bench_die(PROG, what, st);
}

static int zstd_level; /* --zstd: the runs publisher's level (0: the default; -1: never) */

/* group_bytes 1: one record per message, uncompressed (the format before runs), published as database
 * DB "1" (the admin user may). */
static dv_publisher *open_pub(const char *dir, uint32_t group_bytes) {
    dv_publisher_config pc;
    dv_publisher_config_default(&pc);
    pc.nats.servers = srv.url;
    pc.nats.user = group_bytes == 1 ? "adm" : "pub";
    pc.nats.password = group_bytes == 1 ? "admpw" : "pubpw";
    pc.nats.name = group_bytes == 1 ? DB "1" : DB;
    pc.dir = dir;
    if (group_bytes) pc.group_bytes = group_bytes;
    pc.zstd_level = group_bytes == 1 ? -1 : zstd_level;
    dv_publisher *p = NULL;
    check(dv_publisher_open(&pc, &p), "publisher open");
    return p;
}

static dv_follower *open_fol(const char *dir, const char *durable) {
    dv_follower_config fc;
    dv_follower_config_default(&fc);
    fc.nats.servers = srv.url;
    fc.nats.user = "fol";
    fc.nats.password = "folpw";
    fc.nats.name = DB;
    fc.dir = dir;
    fc.durable = durable;
    fc.batch = 512;
    fc.checkpoint_every = UINT64_MAX;
    dv_follower *f = NULL;
    check(dv_follower_open(&fc, &f), "follower open");
    return f;
}

/* ---- raw reference: the same byte sizes, plain async publishes ---------------------- */

typedef struct rec_list {
    uint32_t *sizes;
    size_t n, cap;
    uint64_t bytes;
} rec_list;

static dv_status on_bytes(rec_list *l, const uint8_t *buf, size_t len) {
    dv_stream_reader *r = NULL;
    dv_status st = dv_stream_reader_open(NULL, &r);
    size_t pos = 0;
    while (st == DV_OK) {
        size_t used = 0;
        dv_stream_record rec;
        dv_status rs = dv_stream_reader_next(r, buf + pos, len - pos, &used, &rec);
        pos += used;
        if (rs != DV_OK) break;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 1024;
            l->sizes = realloc(l->sizes, l->cap * sizeof *l->sizes);
        }
        l->sizes[l->n++] = (uint32_t)(64 + rec.payload_len);
        l->bytes += 64 + rec.payload_len;
    }
    dv_stream_reader_free(r);
    return st;
}

/* Record sizes of every segment of dir (read with the stream reader). */
static void log_sizes(const char *dir, rec_list *l) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep '\\.dvs$' | sort", dir);
    FILE *ls = popen(cmd, "r");
    char name[128];
    while (ls && fgets(name, sizeof name, ls)) {
        name[strcspn(name, "\n")] = 0;
        char path[800];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)sz + 1);
        size_t got = fread(buf, 1, (size_t)sz, f);
        fclose(f);
        on_bytes(l, buf, got);
        free(buf);
    }
    if (ls) pclose(ls);
}

/* The message sizes the publisher sends for these records: runs of at most group_bytes (a larger one alone).
 */
static rec_list run_sizes(const rec_list *l, uint32_t group_bytes) {
    rec_list r = {0};
    r.sizes = malloc((l->n ? l->n : 1) * sizeof *r.sizes);
    uint32_t cur = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (cur && (uint64_t)cur + l->sizes[i] > group_bytes) {
            r.sizes[r.n++] = cur;
            cur = 0;
        }
        cur += l->sizes[i];
    }
    if (cur) r.sizes[r.n++] = cur;
    r.bytes = l->bytes;
    return r;
}

static double raw_publish(const rec_list *l, int window, const char *name) {
    natsConnection *nc = NULL;
    natsOptions *o = NULL;
    jsCtx *js = NULL;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, srv.url);
    natsOptions_SetUserInfo(o, "adm", "admpw");
    if (natsConnection_Connect(&nc, o) != NATS_OK) bench_die(PROG, "raw connect", DV_ENETWORK);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = window;
    natsConnection_JetStream(&js, nc, &jo);
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    char subject[64];
    snprintf(subject, sizeof subject, "raw.%s", name);
    const char *subj[1] = {subject};
    sc.Name = name;
    sc.Subjects = subj;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    if (js_AddStream(&si, js, &sc, NULL, &jerr) != NATS_OK) bench_die(PROG, "raw stream", DV_ENETWORK);
    jsStreamInfo_Destroy(si);
    uint32_t maxs = 0;
    for (size_t i = 0; i < l->n; i++) maxs = l->sizes[i] > maxs ? l->sizes[i] : maxs;
    char *payload = calloc(1, maxs + 1);
    double t0 = bench_now();
    for (size_t i = 0; i < l->n; i++)
        if (js_PublishAsync(js, subject, payload, (int)l->sizes[i], NULL) != NATS_OK)
            bench_die(PROG, "raw publish", DV_ENETWORK);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    if (js_PublishAsyncComplete(js, &po) != NATS_OK) bench_die(PROG, "raw acks", DV_ENETWORK);
    double dt = bench_now() - t0;
    free(payload);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return dt;
}

/* Bytes (or messages, msgs != 0) JetStream stores in a stream. */
static uint64_t stream_state(const char *stream, int msgs) {
    natsConnection *nc = NULL;
    natsOptions *o = NULL;
    jsCtx *js = NULL;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, srv.url);
    natsOptions_SetUserInfo(o, "adm", "admpw");
    uint64_t b = 0;
    if (natsConnection_Connect(&nc, o) == NATS_OK && natsConnection_JetStream(&js, nc, NULL) == NATS_OK) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        if (js_GetStreamInfo(&si, js, stream, NULL, &jerr) == NATS_OK)
            b = msgs ? si->State.Msgs : si->State.Bytes;
        jsStreamInfo_Destroy(si);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return b;
}

/* ---- latency: writer, publisher and follower threads ----------------------------- */

typedef struct lat_ctx {
    dv_publisher *p;
    dv_follower *f;
    _Atomic int stop;
    _Atomic uint64_t fpos; /* the follower's position, published by its thread */
    double *t_write;       /* by sequence - base */
    double *lat;           /* by sequence - base */
    uint64_t base, n;
} lat_ctx;

static void *pub_main(void *arg) {
    lat_ctx *c = arg;
    while (!atomic_load(&c->stop)) {
        uint64_t n = 0;
        dv_publisher_pump(c->p, &n);
        if (!n) usleep(100);
    }
    return NULL;
}

static void *fol_main(void *arg) {
    lat_ctx *c = arg;
    uint64_t seen = dv_follower_position(c->f);
    while (!atomic_load(&c->stop)) {
        dv_follower_pump(c->f, 2, NULL);
        uint64_t pos = dv_follower_position(c->f);
        atomic_store(&c->fpos, pos);
        double now = bench_now();
        for (uint64_t s = seen + 1; s <= pos; s++)
            if (s > c->base && s - c->base <= c->n)
                c->lat[s - c->base - 1] = now - c->t_write[s - c->base - 1];
        seen = pos;
    }
    return NULL;
}

static uint64_t stream_bytes(const char *stream) { return stream_state(stream, 0); }

/* Bytes of the records in the log after sequence `after` (what the messages carry). */
static uint64_t log_bytes_after(const char *dir, uint64_t after, uint64_t upto) {
    rec_list l = {0};
    log_sizes(dir, &l);
    uint64_t b = 0;
    for (size_t i = 0; i < l.n; i++)
        if (i + 1 > after && i + 1 <= upto) b += l.sizes[i]; /* record i holds sequence i + 1 */
    free(l.sizes);
    return b;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One 1% update of kind k (0 dense replaced, 1 dense drift, 2 sparse 10%) to n/100 vectors. */
static void update_1pct(dv_store *s, uint32_t n, uint32_t dim, int k, uint64_t *rng, float *v) {
    char id[32];
    uint32_t nsp = dim / 10 ? dim / 10 : 1;
    uint32_t *idx = malloc(nsp * sizeof *idx);
    for (uint32_t i = 0; i < n / 100; i++) {
        snprintf(id, sizeof id, "v%u", (uint32_t)(rng_next(rng) % n));
        if (k == 0) {
            fill(v, dim, rng);
            check(dv_store_update(s, id, v), "update");
        } else if (k == 1) {
            check(dv_db_get(dv_store_db(s), id, v), "get");
            for (uint32_t d = 0; d < dim; d++) v[d] *= 1.0f + 0.01f * uniform(rng);
            check(dv_store_update(s, id, v), "update");
        } else {
            for (uint32_t j = 0; j < nsp; j++) { /* nsp distinct indices, ascending */
                idx[j] = (uint32_t)((uint64_t)j * dim / nsp + rng_next(rng) % (dim / nsp ? dim / nsp : 1));
                v[j] = uniform(rng);
            }
            check(dv_store_update_sparse(s, id, idx, v, nsp), "sparse update");
        }
    }
    free(idx);
}

int main(int argc, char **argv) {
    uint32_t n = 100000, dim = 128, nlat = 2000, group = 0;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dim") && i + 1 < argc)
            dim = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--lat") && i + 1 < argc)
            nlat = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--group") && i + 1 < argc)
            group = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--zstd") && i + 1 < argc)
            zstd_level = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--n N] [--dim D] [--lat N] [--group BYTES] [--zstd LEVEL] [--json FILE]\n",
                    PROG);
            return 2;
        }
    }
    if (n < 100 || dim == 0 || group == 1) return 2;
    const char *t = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/dv-bench-transport-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(work) || test_nats_start(&srv, DB) != 0) {
        fprintf(stderr, "%s: cannot start nats-server\n", PROG);
        return 1;
    }
    char pdir[400], rdir[400], ldir[400];
    snprintf(pdir, sizeof pdir, "%s/primary", work);
    snprintf(rdir, sizeof rdir, "%s/replica", work);
    snprintf(ldir, sizeof ldir, "%s/replica-lat", work);

    /* 1. build the primary (its log: one delta per insert), then ship it */
    dv_db_config c;
    dv_db_config_default(&c, dim);
    c.ef_construction = 100;
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.sync = DV_SYNC_NONE;
    sc.keep_log_from = 1; /* the checkpoint keeps the log (to look at it with DV_BENCH_KEEP) */
    dv_store *s = NULL;
    check(dv_store_open(pdir, &sc, &s, NULL), "store open");
    /* both publishers connect and create their streams before the clock runs, as the raw reference does */
    dv_publisher *p1 = open_pub(pdir, 1), *p = open_pub(pdir, group);
    check(dv_publisher_pump(p1, NULL), "connect (one record per message)");
    check(dv_publisher_pump(p, NULL), "connect");
    float *v = malloc(dim * sizeof *v);
    uint64_t rng = 42;
    char id[32];
    printf("building %u x %u ...\n", n, dim);
    fflush(stdout);
    for (uint32_t i = 0; i < n; i++) {
        fill(v, dim, &rng);
        snprintf(id, sizeof id, "v%u", i);
        check(dv_store_insert(s, id, v, NULL, 0), "insert");
    }
    check(dv_store_sync(s), "sync");
    rec_list recs = {0};
    log_sizes(pdir, &recs);
    /* The machine may be shared: the reference runs before and after, and the faster run counts. */
    double t_raw = raw_publish(&recs, 256, "RAW1");
    double t0 = bench_now();
    uint64_t np1 = 0;
    check(dv_publisher_pump(p1, &np1), "publish (one record per message)");
    double t_pub1 = bench_now() - t0;
    t0 = bench_now();
    uint64_t np = 0;
    check(dv_publisher_pump(p, &np), "publish");
    double t_pub = bench_now() - t0;
    double t_raw2 = raw_publish(&recs, 256, "RAW2");
    if (t_raw2 < t_raw) t_raw = t_raw2;
    /* second reference: raw publishes of the publisher's message sizes (what the runs themselves cost) */
    rec_list runs = run_sizes(&recs, group ? group : 64 * 1024);
    double t_rawr = raw_publish(&runs, 256, "RAW3");
    uint64_t msgs = stream_state("DV_" DB, 1);
    dv_follower *f = open_fol(rdir, "bench_replica");
    t0 = bench_now();
    while (dv_follower_position(f) < dv_store_sequence(s)) check(dv_follower_pump(f, 100, NULL), "follow");
    double t_fol = bench_now() - t0;
    int equal = dv_db_state_hash(dv_follower_db(f)) == dv_db_state_hash(dv_store_db(s));
    double mb = (double)recs.bytes / 1e6;
    printf("\n1. throughput (%llu deltas, %.1f MB, mean %.0f B)\n", (unsigned long long)np, mb,
           (double)recs.bytes / (double)(recs.n ? recs.n : 1));
    printf("   raw js publish   %10.0f msgs/s    %7.1f MB/s   (one per record, same sizes and window; best "
           "of 2)\n",
           (double)recs.n / t_raw, mb / t_raw);
    printf("   publisher, 1 record/message  %10.0f deltas/s  %7.1f MB/s   %4.0f%% of raw\n",
           (double)np1 / t_pub1, mb / t_pub1, 100.0 * t_raw / t_pub1);
    printf("   publisher, runs              %10.0f deltas/s  %7.1f MB/s   %4.0f%% of raw   (%llu messages, "
           "%.1f records each)\n",
           (double)np / t_pub, mb / t_pub, 100.0 * t_raw / t_pub, (unsigned long long)msgs,
           (double)np / (double)(msgs ? msgs : 1));
    printf("   raw js publish of the runs' sizes  %6.0f msgs/s  %7.1f MB/s   publisher runs: %3.0f%% of it\n",
           (double)runs.n / t_rawr, mb / t_rawr, 100.0 * t_rawr / t_pub);
    printf("   follower applied %10.0f deltas/s  (end to end from the stream; replica hash %s)\n",
           (double)np / t_fol, equal ? "equal" : "DIFFERENT");
    fflush(stdout);

    /* 2. bytes on the wire: 1% update against a snapshot */
    static const char *kinds[3] = {"dense, vectors replaced", "dense, values drifting <= 1%",
                                   "sparse, 10% of the values"};
    uint64_t runs_b[3], single_b[3], rec_b[3], nmsg[3];
    for (int k = 0; k < 3; k++) {
        uint64_t before = stream_bytes("DV_" DB), before1 = stream_bytes("DV_" DB "1");
        uint64_t m0 = stream_state("DV_" DB, 1), seq0 = dv_store_sequence(s);
        update_1pct(s, n, dim, k, &rng, v);
        check(dv_store_sync(s), "sync");
        check(dv_publisher_pump(p, NULL), "publish update");
        check(dv_publisher_pump(p1, NULL), "publish update (one record per message)");
        runs_b[k] = stream_bytes("DV_" DB) - before;
        single_b[k] = stream_bytes("DV_" DB "1") - before1;
        nmsg[k] = stream_state("DV_" DB, 1) - m0;
        rec_b[k] = log_bytes_after(pdir, seq0, dv_store_sequence(s));
    }
    uint64_t obj0 = stream_bytes("OBJ_dv_" DB);
    check(dv_store_checkpoint(s, NULL), "checkpoint");
    check(dv_publisher_put_snapshot(p, NULL), "put snapshot");
    uint64_t snap = stream_bytes("OBJ_dv_" DB) - obj0;
    printf("\n2. bytes on the wire, 1%% update (one write to each of %u of %u vectors x %u)\n", n / 100, n,
           dim);
    printf("   snapshot (object store)        %12llu B\n", (unsigned long long)snap);
    printf("   %-30s %10s %10s %8s %12s %8s %10s\n", "update", "records B", "B/record", "messages",
           "stored, runs", "ratio", "1 rec/msg");
    for (int k = 0; k < 3; k++)
        printf("   %-30s %10llu %10.0f %8llu %12llu %7.0fx %9.0fx\n", kinds[k], (unsigned long long)rec_b[k],
               (double)rec_b[k] / (n / 100), (unsigned long long)nmsg[k], (unsigned long long)runs_b[k],
               runs_b[k] ? (double)snap / (double)runs_b[k] : 0.0,
               single_b[k] ? (double)snap / (double)single_b[k] : 0.0);
    fflush(stdout);
    while (dv_follower_position(f) < dv_store_sequence(s)) check(dv_follower_pump(f, 100, NULL), "follow");
    dv_follower_close(f);
    dv_publisher_close(p1);

    /* 3. write-to-visible latency */
    lat_ctx lc = {0};
    lc.p = p;
    lc.f = open_fol(ldir, "bench_lat");
    while (dv_follower_position(lc.f) < dv_store_sequence(s))
        check(dv_follower_pump(lc.f, 100, NULL), "catch up");
    lc.base = dv_store_sequence(s);
    atomic_store(&lc.fpos, lc.base);
    lc.n = nlat;
    lc.t_write = calloc(nlat, sizeof(double));
    lc.lat = calloc(nlat, sizeof(double));
    pthread_t tp, tf;
    pthread_create(&tp, NULL, pub_main, &lc);
    pthread_create(&tf, NULL, fol_main, &lc);
    for (uint32_t i = 0; i < nlat; i++) {
        fill(v, dim, &rng);
        snprintf(id, sizeof id, "v%u", (uint32_t)(rng_next(&rng) % n));
        uint64_t seq_before = dv_store_sequence(s);
        check(dv_store_update(s, id, v), "update");
        double now = bench_now();
        uint64_t seq = dv_store_sequence(s);
        for (uint64_t q = seq_before + 1; q <= seq; q++)
            if (q - lc.base <= lc.n) lc.t_write[q - lc.base - 1] = now;
        if (seq - lc.base >= lc.n) break;
        usleep(1000);
    }
    uint64_t last = dv_store_sequence(s);
    if (last > lc.base + lc.n) last = lc.base + lc.n;
    while (atomic_load(&lc.fpos) < last) usleep(1000);
    usleep(20000);
    atomic_store(&lc.stop, 1);
    pthread_join(tp, NULL);
    pthread_join(tf, NULL);
    size_t m = 0;
    for (uint64_t i = 0; i < last - lc.base; i++)
        if (lc.t_write[i] > 0 && lc.lat[i] > 0) lc.lat[m++] = lc.lat[i];
    qsort(lc.lat, m, sizeof(double), cmp_d);
    double p50 = m ? lc.lat[m / 2] * 1e3 : 0, p99 = m ? lc.lat[(m * 99) / 100] * 1e3 : 0;
    printf("\n3. write-to-visible latency (%zu writes, one per ms; publisher and follower threads)\n", m);
    printf("   p50 %.2f ms   p99 %.2f ms\n", p50, p99);

    if (json) {
        FILE *jf = fopen(json, "w");
        if (jf) {
            fprintf(jf,
                    "{\"n\":%u,\"dim\":%u,\"zstd_level\":%d,\"deltas\":%llu,\"raw_msgs_per_s\":%.0f,"
                    "\"publisher_single_deltas_per_s\":%.0f,\"publisher_single_vs_raw\":%.3f,"
                    "\"publisher_deltas_per_s\":%.0f,\"publisher_vs_raw\":%.3f,\"messages\":%llu,"
                    "\"publisher_vs_raw_same_messages\":%.3f,"
                    "\"follower_deltas_per_s\":%.0f,\"snapshot_bytes\":%llu,\"update_1pct\":[",
                    n, dim, zstd_level ? zstd_level : 1, (unsigned long long)np, (double)recs.n / t_raw,
                    (double)np1 / t_pub1, t_raw / t_pub1, (double)np / t_pub, t_raw / t_pub,
                    (unsigned long long)msgs, t_rawr / t_pub, (double)np / t_fol, (unsigned long long)snap);
            for (int k = 0; k < 3; k++)
                fprintf(jf,
                        "%s{\"kind\":\"%s\",\"record_bytes\":%llu,\"messages\":%llu,\"stored_bytes\":%llu,"
                        "\"stored_bytes_single\":%llu,\"snapshot_ratio\":%.1f}",
                        k ? "," : "", kinds[k], (unsigned long long)rec_b[k], (unsigned long long)nmsg[k],
                        (unsigned long long)runs_b[k], (unsigned long long)single_b[k],
                        runs_b[k] ? (double)snap / (double)runs_b[k] : 0.0);
            fprintf(jf, "],\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f}\n", p50, p99);
            fclose(jf);
        }
    }
    dv_follower_close(lc.f);
    dv_publisher_close(p);
    dv_store_close(s);
    free(v);
    free(recs.sizes);
    free(runs.sizes);
    free(lc.t_write);
    free(lc.lat);
    test_nats_stop(&srv);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (getenv("DV_BENCH_KEEP")) /* keep the directories to look at the log */
        printf("kept %s\n", work);
    else if (system(cmd) != 0)
        return 1;
    return equal ? 0 : 1;
}
