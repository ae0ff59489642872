/*
 * bench_transport.c -- replication through one local nats-server (started here, JetStream file storage,
 * on 127.0.0.1; tests/support/nats_server.c). Prints each figure beside its reference, same run:
 *
 *  1. throughput: the publisher ships the log of building an n x dim db (one delta per insert) to the
 *     stream; reference: raw JetStream async publishes of the same byte sizes (no message id, no
 *     expectations; the `nats bench js pub` pattern) with the same window. Then a follower applies all of
 *     them: end-to-end deltas/s.
 *  2. bytes on the wire: a 1% dense update of the db (n/100 vectors) as stored in the stream (JetStream's
 *     own byte count, headers included) against the snapshot of the db put in the object store.
 *  3. write-to-visible latency: single writes, one every ms, in the writer thread; a publisher thread and a
 *     follower thread pump continuously; latency = time the follower has applied the write's delta minus
 *     the time the write returned. p50 / p99.
 *
 * Usage: bench_transport [--n 100000] [--dim 128] [--lat 2000] [--json FILE]
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

static void fill(float *v, uint32_t dim, uint64_t *rng) {
    for (uint32_t d = 0; d < dim; d++) v[d] = (float)(rng_next(rng) % 20000) / 10000.0f - 1.0f;
}

static void check(dv_status st, const char *what) {
    if (st != DV_OK) bench_die(PROG, what, st);
}

static dv_publisher *open_pub(const char *dir) {
    dv_publisher_config pc;
    dv_publisher_config_default(&pc);
    pc.nats.servers = srv.url;
    pc.nats.user = "pub";
    pc.nats.password = "pubpw";
    pc.nats.name = DB;
    pc.dir = dir;
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

static uint64_t stream_bytes(const char *stream) {
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
        if (js_GetStreamInfo(&si, js, stream, NULL, &jerr) == NATS_OK) b = si->State.Bytes;
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

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    uint32_t n = 100000, dim = 128, nlat = 2000;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dim") && i + 1 < argc)
            dim = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--lat") && i + 1 < argc)
            nlat = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--n N] [--dim D] [--lat N] [--json FILE]\n", PROG);
            return 2;
        }
    }
    if (n < 100 || dim == 0) return 2;
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
    dv_store *s = NULL;
    check(dv_store_open(pdir, &sc, &s, NULL), "store open");
    float *v = malloc(dim * sizeof *v);
    uint64_t rng = 42;
    char id[32];
    printf("building %u x %u ...\n", n, dim);
    for (uint32_t i = 0; i < n; i++) {
        fill(v, dim, &rng);
        snprintf(id, sizeof id, "v%u", i);
        check(dv_store_insert(s, id, v, NULL, 0), "insert");
    }
    check(dv_store_sync(s), "sync");
    rec_list recs = {0};
    log_sizes(pdir, &recs);
    dv_publisher *p = open_pub(pdir);
    double t0 = bench_now();
    uint64_t np = 0;
    check(dv_publisher_pump(p, &np), "publish");
    double t_pub = bench_now() - t0;
    /* The machine may be shared: the reference runs before and after, and the faster run counts. */
    double t_raw = raw_publish(&recs, 256, "RAW1");
    double t_raw2 = raw_publish(&recs, 256, "RAW2");
    if (t_raw2 < t_raw) t_raw = t_raw2;
    dv_follower *f = open_fol(rdir, "bench_replica");
    t0 = bench_now();
    while (dv_follower_position(f) < dv_store_sequence(s)) check(dv_follower_pump(f, 100, NULL), "follow");
    double t_fol = bench_now() - t0;
    int equal = dv_db_state_hash(dv_follower_db(f)) == dv_db_state_hash(dv_store_db(s));
    double mb = (double)recs.bytes / 1e6;
    printf("\n1. throughput (%llu deltas, %.1f MB, mean %.0f B)\n", (unsigned long long)np, mb,
           (double)recs.bytes / (double)(recs.n ? recs.n : 1));
    printf("   publisher        %10.0f deltas/s  %7.1f MB/s\n", (double)np / t_pub, mb / t_pub);
    printf("   raw js publish   %10.0f msgs/s    %7.1f MB/s   (same sizes, same window; best of 2)\n",
           (double)recs.n / t_raw, mb / t_raw);
    printf("   publisher / raw  %9.0f%%\n", 100.0 * t_raw / t_pub);
    printf("   follower applied %10.0f deltas/s  (end to end from the stream; replica hash %s)\n",
           (double)np / t_fol, equal ? "equal" : "DIFFERENT");

    /* 2. bytes on the wire: 1% update against a snapshot */
    /* (a) each chosen vector replaced by a new random one; (b) each drifts slightly (every value moves by
     * up to 1%), the common case of re-embedded documents */
    uint32_t nup = n / 100;
    uint64_t upd = 0, drift = 0;
    for (int kind = 0; kind < 2; kind++) {
        uint64_t before = stream_bytes("DV_" DB);
        for (uint32_t i = 0; i < nup; i++) {
            snprintf(id, sizeof id, "v%u", (uint32_t)(rng_next(&rng) % n));
            if (kind == 0) {
                fill(v, dim, &rng);
            } else {
                check(dv_db_get(dv_store_db(s), id, v), "get");
                for (uint32_t d = 0; d < dim; d++)
                    v[d] *= 1.0f + ((float)(rng_next(&rng) % 2001) - 1000.0f) * 1e-5f;
            }
            check(dv_store_update(s, id, v), "update");
        }
        check(dv_publisher_pump(p, NULL), "publish update");
        *(kind == 0 ? &upd : &drift) = stream_bytes("DV_" DB) - before;
    }
    uint64_t obj0 = stream_bytes("OBJ_dv_" DB);
    check(dv_store_checkpoint(s, NULL), "checkpoint");
    check(dv_publisher_put_snapshot(p, NULL), "put snapshot");
    uint64_t snap = stream_bytes("OBJ_dv_" DB) - obj0;
    printf("\n2. bytes on the wire, 1%% update (%u of %u vectors x %u)\n", nup, n, dim);
    printf("   snapshot (object store)          %12llu B\n", (unsigned long long)snap);
    printf("   deltas, vectors replaced         %12llu B   snapshot / deltas %6.0fx\n",
           (unsigned long long)upd, upd ? (double)snap / (double)upd : 0.0);
    printf("   deltas, vectors drifting by <=1%% %12llu B   snapshot / deltas %6.0fx\n",
           (unsigned long long)drift, drift ? (double)snap / (double)drift : 0.0);
    while (dv_follower_position(f) < dv_store_sequence(s)) check(dv_follower_pump(f, 100, NULL), "follow");
    dv_follower_close(f);

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
                    "{\"n\":%u,\"dim\":%u,\"deltas\":%llu,\"publisher_deltas_per_s\":%.0f,\"raw_msgs_per_s\":"
                    "%.0f,"
                    "\"publisher_vs_raw\":%.3f,\"follower_deltas_per_s\":%.0f,\"update_1pct_bytes\":%llu,"
                    "\"update_1pct_drift_bytes\":%llu,\"snapshot_bytes\":%llu,\"latency_p50_ms\":%.3f,"
                    "\"latency_p99_ms\":%.3f}\n",
                    n, dim, (unsigned long long)np, (double)np / t_pub, (double)recs.n / t_raw, t_raw / t_pub,
                    (double)np / t_fol, (unsigned long long)upd, (unsigned long long)drift,
                    (unsigned long long)snap, p50, p99);
            fclose(jf);
        }
    }
    dv_follower_close(lc.f);
    dv_publisher_close(p);
    dv_store_close(s);
    free(v);
    free(recs.sizes);
    free(lc.t_write);
    free(lc.lat);
    test_nats_stop(&srv);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) return 1;
    return equal ? 0 : 1;
}
