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
#include "support/transport_rig.h"

#define DB "bench"
static const char *PROG = "bench_transport";
static transport_rig rig = {.tag = "dv-bench-transport", .db = DB};

static float uniform(uint64_t *rng) { return (float)((double)(rig_rand(rng) >> 11) * 0x1.0p-52 - 1.0); }

static void fill(float *v, uint32_t dim, uint64_t *rng) {
    for (uint32_t d = 0; d < dim; d++) v[d] = uniform(rng);
}

static void check(dv_status st, const char *what) {
    if (st != DV_OK) bench_die(PROG, what, st);
}

static int zstd_level; /* --zstd: the runs publisher's level (0: the default; -1: never) */

/* group_bytes 1: one record per message, uncompressed (the format before runs), published as database
 * DB "1" (the admin user may). name: the database (NULL: DB, or DB "1" for group_bytes 1). */
static dv_publisher *open_pub_as(const char *dir, uint32_t group_bytes, const char *name) {
    dv_publisher_config pc;
    rig_publisher_config(&rig, dir, &pc);
    if (group_bytes == 1 || name) {
        pc.nats.user = "adm";
        pc.nats.password = "admpw";
    }
    pc.nats.name = name ? name : group_bytes == 1 ? DB "1" : DB;
    if (group_bytes) pc.group_bytes = group_bytes;
    pc.zstd_level = group_bytes == 1 ? -1 : zstd_level;
    dv_publisher *p = NULL;
    check(dv_publisher_open(&pc, &p), "publisher open");
    return p;
}

static dv_publisher *open_pub(const char *dir, uint32_t group_bytes) {
    return open_pub_as(dir, group_bytes, NULL);
}

static dv_follower *open_fol_of(const char *dir, const char *durable, const char *name) {
    dv_follower_config fc;
    rig_follower_config(&rig, dir, durable, &fc);
    fc.nats.name = name;
    fc.batch = 512;
    fc.checkpoint_every = UINT64_MAX;
    dv_follower *f = NULL;
    check(dv_follower_open(&fc, &f), "follower open");
    return f;
}

static dv_follower *open_fol(const char *dir, const char *durable) { return open_fol_of(dir, durable, DB); }

/* ---- raw reference: the same byte sizes, plain async publishes ---------------------- */

typedef struct rec_list {
    uint32_t *sizes;
    size_t n, cap;
    uint64_t bytes;
} rec_list;

static void add_size(const dv_stream_record *rec, void *arg) {
    rec_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->sizes = realloc(l->sizes, l->cap * sizeof *l->sizes);
    }
    l->sizes[l->n++] = (uint32_t)(64 + rec->payload_len);
    l->bytes += 64 + rec->payload_len;
}

/* Record sizes of every segment of dir (read with the stream reader). */
static void log_sizes(const char *dir, rec_list *l) {
    check(rig_each_log_record(dir, add_size, l), "read the log");
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
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = window;
    rig_js c;
    if (rig_js_connect(&rig, "adm", "admpw", &jo, &c) != NATS_OK) bench_die(PROG, "raw connect", DV_ENETWORK);
    jsCtx *js = c.js;
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
    rig_js_close(&c);
    return dt;
}

/* Bytes (or messages, msgs != 0) JetStream stores in a stream. */
static uint64_t stream_state(const char *stream, int msgs) {
    rig_js c;
    uint64_t b = 0;
    if (rig_js_connect(&rig, "adm", "admpw", NULL, &c) == NATS_OK) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        if (js_GetStreamInfo(&si, c.js, stream, NULL, &jerr) == NATS_OK)
            b = msgs ? si->State.Msgs : si->State.Bytes;
        jsStreamInfo_Destroy(si);
    }
    rig_js_close(&c);
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
        snprintf(id, sizeof id, "v%u", (uint32_t)(rig_rand(rng) % n));
        if (k == 0) {
            fill(v, dim, rng);
            check(dv_store_update(s, id, v), "update");
        } else if (k == 1) {
            check(dv_db_get(dv_store_db(s), id, v), "get");
            for (uint32_t d = 0; d < dim; d++) v[d] *= 1.0f + 0.01f * uniform(rng);
            check(dv_store_update(s, id, v), "update");
        } else {
            for (uint32_t j = 0; j < nsp; j++) { /* nsp distinct indices, ascending */
                idx[j] = (uint32_t)((uint64_t)j * dim / nsp + rig_rand(rng) % (dim / nsp ? dim / nsp : 1));
                v[j] = uniform(rng);
            }
            check(dv_store_update_sparse(s, id, idx, v, nsp), "sparse update");
        }
    }
    free(idx);
}

static const char *const KINDS[3] = {"dense, vectors replaced", "dense, values drifting <= 1%",
                                     "sparse, 10% of the values"};

/* The 1% update figures of one primary (one log mode). */
typedef struct mode_figures {
    const char *mode;
    uint64_t snap; /* its snapshot in the object store */
    uint64_t rec_b[3], stored_b[3], single_b[3], nmsg[3];
    double apply_s[3];        /* the follower fetching and applying each update */
    double build_s, follow_s; /* building the n x dim primary; a follower applying that log */
    uint64_t deltas;
} mode_figures;

/* The three 1% updates (seed urng: the same writes in each mode) on primary s shipped by p (and p1, one
 * record per message, when not NULL) to stream `name`; the follower f applies each, timed; then the
 * snapshot of the result put in the object store. */
static void measure_updates(dv_store *s, const char *pdir, dv_publisher *p, dv_publisher *p1, dv_follower *f,
                            const char *name, uint32_t n, uint32_t dim, uint64_t urng, float *v,
                            mode_figures *m) {
    char stream[96], stream1[96], obj[96];
    snprintf(stream, sizeof stream, "DV_%s", name);
    snprintf(stream1, sizeof stream1, "DV_%s1", name);
    snprintf(obj, sizeof obj, "OBJ_dv_%s", name);
    for (int k = 0; k < 3; k++) {
        uint64_t before = stream_bytes(stream), before1 = p1 ? stream_bytes(stream1) : 0;
        uint64_t m0 = stream_state(stream, 1), seq0 = dv_store_sequence(s);
        update_1pct(s, n, dim, k, &urng, v);
        check(dv_store_sync(s), "sync");
        check(dv_publisher_pump(p, NULL), "publish update");
        if (p1) check(dv_publisher_pump(p1, NULL), "publish update (one record per message)");
        m->stored_b[k] = stream_bytes(stream) - before;
        m->single_b[k] = p1 ? stream_bytes(stream1) - before1 : 0;
        m->nmsg[k] = stream_state(stream, 1) - m0;
        m->rec_b[k] = log_bytes_after(pdir, seq0, dv_store_sequence(s));
        double t0 = bench_now();
        check(rig_converge(NULL, f, dv_store_sequence(s)), "follow");
        m->apply_s[k] = bench_now() - t0;
    }
    if (dv_db_state_hash(dv_follower_db(f)) != dv_db_state_hash(dv_store_db(s))) {
        fprintf(stderr, "%s: %s replica differs from its primary\n", PROG, m->mode);
        exit(1);
    }
    uint64_t obj0 = stream_bytes(obj);
    check(dv_store_checkpoint(s, NULL), "checkpoint");
    check(dv_publisher_put_snapshot(p, NULL), "put snapshot");
    m->snap = stream_bytes(obj) - obj0;
}

/* Opens (creates) a primary database directory of log mode `mode`. */
static dv_store *open_primary(const char *dir, dv_stream_mode mode, uint32_t dim) {
    /* keep_log_from 1: the checkpoint keeps the log (to look at it with DV_BENCH_KEEP) */
    const rig_primary cfg = {.dim = dim, .ef_construction = 100, .mode = mode, .keep_log_from = 1};
    dv_store *s = NULL;
    check(rig_primary_open(dir, &cfg, &s), "store open");
    return s;
}

/* Inserts n random vectors v0..v(n-1) (seed 42: the same in each mode); the seconds it took. */
static double build(dv_store *s, const char *mode, uint32_t n, uint32_t dim, float *v) {
    uint64_t rng = 42;
    char id[32];
    printf("building %u x %u (%s log) ...\n", n, dim, mode);
    fflush(stdout);
    double t0 = bench_now();
    for (uint32_t i = 0; i < n; i++) {
        fill(v, dim, &rng);
        snprintf(id, sizeof id, "v%u", i);
        check(dv_store_insert(s, id, v, NULL, 0), "insert");
    }
    check(dv_store_sync(s), "sync");
    return bench_now() - t0;
}

/* The logical-mode primary: built, shipped by a runs publisher as database DB "L", followed by a replica
 * that re-links every write (the end-to-end apply rate), then the same three 1% updates. */
static void measure_logical(uint32_t n, uint32_t dim, uint64_t urng, float *v, mode_figures *m) {
    char pdir[400], rdir[400];
    rig_path(&rig, "primary-logical", pdir, sizeof pdir);
    rig_path(&rig, "replica-logical", rdir, sizeof rdir);
    dv_store *s = open_primary(pdir, DV_STREAM_LOGICAL, dim);
    m->build_s = build(s, "logical", n, dim, v);
    dv_publisher *p = open_pub_as(pdir, 0, DB "L");
    check(dv_publisher_pump(p, &m->deltas), "publish (logical)");
    dv_follower *f = open_fol_of(rdir, "bench_logical", DB "L");
    double t0 = bench_now();
    check(rig_converge(NULL, f, dv_store_sequence(s)), "follow");
    m->follow_s = bench_now() - t0;
    measure_updates(s, pdir, p, NULL, f, DB "L", n, dim, urng, v, m);
    dv_follower_close(f);
    dv_publisher_close(p);
    dv_store_close(s);
}

static void print_modes(const mode_figures *ms, int nm, uint32_t n) {
    printf("\n4. log modes: the 1%% update on the wire and the follower re-linking it (runs publisher)\n");
    printf("   %-10s %-30s %10s %9s %12s %12s %8s %12s\n", "mode", "update", "records B", "B/record",
           "stored B", "snapshot B", "ratio", "apply/s");
    for (int i = 0; i < nm; i++)
        for (int k = 0; k < 3; k++)
            printf("   %-10s %-30s %10llu %9.0f %12llu %12llu %7.0fx %12.0f\n", ms[i].mode, KINDS[k],
                   (unsigned long long)ms[i].rec_b[k], (double)ms[i].rec_b[k] / (n / 100),
                   (unsigned long long)ms[i].stored_b[k], (unsigned long long)ms[i].snap,
                   ms[i].stored_b[k] ? (double)ms[i].snap / (double)ms[i].stored_b[k] : 0.0,
                   ms[i].apply_s[k] > 0 ? (n / 100) / ms[i].apply_s[k] : 0.0);
    for (int i = 0; i < nm; i++)
        printf("   %-10s build %.1f s (%.0f inserts/s); follower applied the build's %llu deltas at %.0f "
               "deltas/s\n",
               ms[i].mode, ms[i].build_s, n / ms[i].build_s, (unsigned long long)ms[i].deltas,
               ms[i].follow_s > 0 ? (double)ms[i].deltas / ms[i].follow_s : 0.0);
}

static void json_modes(FILE *jf, const mode_figures *ms, int nm, uint32_t n) {
    fprintf(jf, ",\"modes\":[");
    for (int i = 0; i < nm; i++) {
        fprintf(jf,
                "%s{\"mode\":\"%s\",\"snapshot_bytes\":%llu,\"build_inserts_per_s\":%.0f,"
                "\"follower_deltas_per_s\":%.0f,\"update_1pct\":[",
                i ? "," : "", ms[i].mode, (unsigned long long)ms[i].snap, n / ms[i].build_s,
                ms[i].follow_s > 0 ? (double)ms[i].deltas / ms[i].follow_s : 0.0);
        for (int k = 0; k < 3; k++)
            fprintf(jf,
                    "%s{\"kind\":\"%s\",\"record_bytes\":%llu,\"messages\":%llu,\"stored_bytes\":%llu,"
                    "\"snapshot_ratio\":%.1f,\"follower_apply_per_s\":%.0f}",
                    k ? "," : "", KINDS[k], (unsigned long long)ms[i].rec_b[k],
                    (unsigned long long)ms[i].nmsg[k], (unsigned long long)ms[i].stored_b[k],
                    ms[i].stored_b[k] ? (double)ms[i].snap / (double)ms[i].stored_b[k] : 0.0,
                    ms[i].apply_s[k] > 0 ? (n / 100) / ms[i].apply_s[k] : 0.0);
        fprintf(jf, "]}");
    }
    fprintf(jf, "]");
}

int main(int argc, char **argv) {
    uint32_t n = 100000, dim = 128, nlat = 2000, group = 0;
    const char *json = NULL;
    int modes = 3; /* --mode: bit 0 structural, bit 1 logical (section 4) */
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
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            i++;
            modes = !strcmp(argv[i], "structural") ? 1
                    : !strcmp(argv[i], "logical")  ? 2
                    : !strcmp(argv[i], "both")     ? 3
                                                   : 0;
            if (!modes) return 2;
        } else {
            fprintf(stderr,
                    "usage: %s [--n N] [--dim D] [--lat N] [--group BYTES] [--zstd LEVEL] "
                    "[--mode structural|logical|both] [--json FILE]\n",
                    PROG);
            return 2;
        }
    }
    if (n < 100 || dim == 0 || group == 1) return 2;
    if (rig_start(&rig) != 0) {
        fprintf(stderr, "%s: cannot start nats-server\n", PROG);
        return 1;
    }
    char pdir[400], rdir[400], ldir[400];
    rig_path(&rig, "primary", pdir, sizeof pdir);
    rig_path(&rig, "replica", rdir, sizeof rdir);
    rig_path(&rig, "replica-lat", ldir, sizeof ldir);

    /* 1. build the primary (its log: one delta per insert), then ship it */
    float *v = malloc(dim * sizeof *v);
    mode_figures ms[2];
    memset(ms, 0, sizeof ms);
    ms[0].mode = "structural";
    ms[1].mode = "logical";
    /* both publishers connect and create their streams before the clock runs, as the raw reference does;
     * the store is opened first: the publishers read its directory */
    dv_store *s = open_primary(pdir, DV_STREAM_STRUCTURAL, dim);
    dv_publisher *p1 = open_pub(pdir, 1), *p = open_pub(pdir, group);
    check(dv_publisher_pump(p1, NULL), "connect (one record per message)");
    check(dv_publisher_pump(p, NULL), "connect");
    ms[0].build_s = build(s, "structural", n, dim, v);
    uint64_t rng = 0x9e3779b97f4a7c15ull; /* the latency writes (the build used seed 42) */
    char id[32];
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
    check(rig_converge(NULL, f, dv_store_sequence(s)), "follow");
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

    ms[0].deltas = np;
    ms[0].follow_s = t_fol;

    /* 2. bytes on the wire: 1% update against a snapshot */
    const uint64_t urng = 4242; /* the updates' writes: the same in section 4's logical primary */
    measure_updates(s, pdir, p, p1, f, DB, n, dim, urng, v, &ms[0]);
    uint64_t snap = ms[0].snap;
    printf("\n2. bytes on the wire, 1%% update (one write to each of %u of %u vectors x %u)\n", n / 100, n,
           dim);
    printf("   snapshot (object store)        %12llu B\n", (unsigned long long)snap);
    printf("   %-30s %10s %10s %8s %12s %8s %10s\n", "update", "records B", "B/record", "messages",
           "stored, runs", "ratio", "1 rec/msg");
    for (int k = 0; k < 3; k++)
        printf("   %-30s %10llu %10.0f %8llu %12llu %7.0fx %9.0fx\n", KINDS[k],
               (unsigned long long)ms[0].rec_b[k], (double)ms[0].rec_b[k] / (n / 100),
               (unsigned long long)ms[0].nmsg[k], (unsigned long long)ms[0].stored_b[k],
               ms[0].stored_b[k] ? (double)snap / (double)ms[0].stored_b[k] : 0.0,
               ms[0].single_b[k] ? (double)snap / (double)ms[0].single_b[k] : 0.0);
    fflush(stdout);
    dv_follower_close(f);
    dv_publisher_close(p1);

    /* 3. write-to-visible latency */
    lat_ctx lc = {0};
    lc.p = p;
    lc.f = open_fol(ldir, "bench_lat");
    check(rig_converge(NULL, lc.f, dv_store_sequence(s)), "catch up");
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
        snprintf(id, sizeof id, "v%u", (uint32_t)(rig_rand(&rng) % n));
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

    /* 4. the same 1% updates from a logical-mode primary (built and followed here) beside the structural */
    dv_follower_close(lc.f);
    dv_publisher_close(p);
    dv_store_close(s);
    if (modes & 2) measure_logical(n, dim, urng, v, &ms[1]);
    const mode_figures *mode_list = modes == 2 ? &ms[1] : ms;
    int nmodes = modes == 3 ? 2 : 1;
    print_modes(mode_list, nmodes, n);
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
                        k ? "," : "", KINDS[k], (unsigned long long)ms[0].rec_b[k],
                        (unsigned long long)ms[0].nmsg[k], (unsigned long long)ms[0].stored_b[k],
                        (unsigned long long)ms[0].single_b[k],
                        ms[0].stored_b[k] ? (double)snap / (double)ms[0].stored_b[k] : 0.0);
            fprintf(jf, "],\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f", p50, p99);
            json_modes(jf, mode_list, nmodes, n);
            fprintf(jf, "}\n");
            fclose(jf);
        }
    }
    free(v);
    free(recs.sizes);
    free(runs.sizes);
    free(lc.t_write);
    free(lc.lat);
    if (getenv("DV_BENCH_KEEP")) { /* keep the directories to look at the log */
        test_nats_stop(&rig.srv);
        printf("kept %s\n", rig.work);
    } else if (rig_stop(&rig) != 0) {
        return 1;
    }
    return equal ? 0 : 1;
}
