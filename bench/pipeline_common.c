/*
 * pipeline_common.c -- the helpers of pipeline_common.h, shared by
 * bench_capture_apply, bench_encoding and bench_update_size.
 *
 * Times: clock_gettime(CLOCK_MONOTONIC) around each call, in us; medians and
 * p99 (nearest rank) of per-operation samples. The machine is shared and
 * noisy: compare the ratios of one run, not absolute numbers across runs.
 */
#define _POSIX_C_SOURCE 200809L
#include "pipeline_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *pl_prog = "bench";

/* ---- small tools ----------------------------------------------------------------- */

double pl_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

void pl_die(const char *what, int st) {
    fprintf(stderr, "%s: %s: %s\n", pl_prog, what, dv_status_name(st));
    exit(1);
}

void *pl_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", pl_prog);
        exit(1);
    }
    return p;
}

uint64_t pl_rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double pl_rng_unit(uint64_t *s) { return (double)(pl_rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

float pl_rng_gauss(uint64_t *s, float sigma) { /* Box-Muller */
    double u = pl_rng_unit(s), v = pl_rng_unit(s);
    if (u < 1e-300) u = 1e-300;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v)) * sigma;
}

void pl_lat_add(pl_lat *l, double us) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) pl_die("realloc", DV_ENOMEM);
    }
    l->v[l->n++] = us;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (p in 0..1) of the samples; NAN when empty. */
double pl_lat_pct(const pl_lat *l, double p) {
    if (!l->n) return NAN;
    double *c = pl_xmalloc(l->n * sizeof *c);
    memcpy(c, l->v, l->n * sizeof *c);
    qsort(c, l->n, sizeof *c, cmp_double);
    size_t r = (size_t)ceil(p * (double)l->n);
    double v = c[r ? r - 1 : 0];
    free(c);
    return v;
}

double pl_lat_sum(const pl_lat *l) {
    double s = 0;
    for (size_t i = 0; i < l->n; i++) s += l->v[i];
    return s;
}

void pl_lat_free(pl_lat *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- a captured pl_stream, held in memory --------------------------------------------- */

void pl_stream_push(pl_stream *s, const uint8_t *hdr, const uint8_t *pay, size_t len, int kind) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->d = realloc(s->d, s->cap * sizeof *s->d);
        if (!s->d) pl_die("realloc", DV_ENOMEM);
    }
    uint8_t *b = pl_xmalloc(DV_DELTA_HEADER_SIZE + len);
    memcpy(b, hdr, DV_DELTA_HEADER_SIZE);
    if (len) memcpy(b + DV_DELTA_HEADER_SIZE, pay, len);
    s->d[s->n++] = (pl_blob){b, (uint32_t)(DV_DELTA_HEADER_SIZE + len), (uint8_t)kind};
    s->bytes += DV_DELTA_HEADER_SIZE + len;
}

void pl_stream_free(pl_stream *s) {
    for (size_t i = 0; i < s->n; i++) free(s->d[i].b);
    free(s->d);
    memset(s, 0, sizeof *s);
}

/* The consumer: everything in the capture ring is copied out (tagged with
 * kind when keep != NULL) and released. Returns the number of deltas. */
size_t pl_drain(dv_capture *cap, pl_stream *keep, int kind) {
    dv_delta_header h[64];
    size_t n = 0, total = 0;
    while (dv_capture_poll(cap, h, 64, &n) == DV_OK && n) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *hb, *pb;
            size_t len;
            dv_status st = dv_capture_payload(cap, h[i].sequence, &hb, &pb, &len);
            if (st != DV_OK) pl_die("dv_capture_payload", st);
            if (keep) pl_stream_push(keep, hb, pb, len, kind);
        }
        dv_capture_release(cap, h[n - 1].sequence);
        total += n;
    }
    return total;
}

/* ---- run configuration ------------------------------------------------------------ */

dv_db *pl_open_db(uint32_t dim, uint32_t efc) {
    dv_db_config c;
    dv_db_config_default(&c, dim);
    c.ef_construction = efc;
    dv_db *db;
    dv_status st = dv_db_open(&c, &db);
    if (st != DV_OK) pl_die("dv_db_open", st);
    return db;
}

uint64_t pl_clock(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

dv_capture *pl_start_capture(dv_db *db, const dv_capture_config *base, uint64_t first_seq) {
    dv_capture_config c;
    if (base)
        c = *base;
    else
        dv_capture_config_default(&c);
    c.ring.payload_size = 8u << 20;
    c.first_sequence = first_seq;
    c.clock = pl_clock;
    dv_capture *cap;
    dv_status st = dv_capture_init(db, &c, &cap);
    if (st == DV_OK) st = dv_capture_start(cap);
    if (st != DV_OK) pl_die("capture init/start", st);
    return cap;
}

void pl_make_id(char *buf, size_t cap, uint32_t i) { snprintf(buf, cap, "vec-%07u", i); }

void pl_json_lat(FILE *f, const pl_lat *l) {
    if (!l->n) {
        fprintf(f, "null");
        return;
    }
    fprintf(f, "{\"n\": %zu, \"median_us\": %.3f, \"p99_us\": %.3f, \"mean_us\": %.3f}", l->n,
            pl_lat_pct(l, 0.5), pl_lat_pct(l, 0.99), pl_lat_sum(l) / (double)l->n);
}

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(out, cap, "%s", strchr(line, ':') + 2);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    fclose(f);
}

static void git_rev(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *p = popen("git describe --always --dirty 2>/dev/null", "r");
    if (!p) return;
    if (fgets(out, (int)cap, p)) out[strcspn(out, "\n")] = 0;
    pclose(p);
}

int pl_opts_parse(int argc, char **argv, pl_opts *o) {
    memset(o, 0, sizeof *o);
    o->out_dir = "bench/results";
    int dims_given = 0;
    uint32_t n_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            o->quick = 1;
        else if (!strcmp(a, "--out") && v)
            o->out_dir = argv[++i];
        else if (!strcmp(a, "--n") && v)
            n_given = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--dims") && v) {
            char *s = argv[++i], *end;
            while (*s && o->n_dims < 4) {
                unsigned long d = strtoul(s, &end, 10);
                if (end == s || d == 0 || d > DV_MAX_DIM) break;
                o->dims[o->n_dims++] = (uint32_t)d;
                s = *end == ',' ? end + 1 : end;
            }
            dims_given = 1;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--out DIR] [--dims 384,128] [--n N]\n", pl_prog);
            return 2;
        }
    }
    if (!dims_given) {
        o->dims[0] = 384;
        o->dims[1] = 128;
        o->n_dims = 2;
    }
    o->efc = 200;
    if (o->quick) {
        o->n = 2000, o->per_kind = 200, o->batches = 5, o->edges = 300, o->enc_n = 200, o->enc_base = 1000,
        o->snap_n = 10000;
    } else {
        o->n = 20000, o->per_kind = 2000, o->batches = 20, o->edges = 2000, o->enc_n = 500,
        o->enc_base = 5000, o->snap_n = 100000;
    }
    if (n_given) o->n = n_given;
    return 0;
}

FILE *pl_json_open(const pl_opts *o, const char *name, double total_s, char *path, size_t path_cap) {
    mkdir(o->out_dir, 0777);
    char cpu[256], rev[64], date[32];
    snprintf(path, path_cap, "%s/%s%s.json", o->out_dir, name, o->quick ? "-quick" : "");
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return NULL;
    }
    cpu_model(cpu, sizeof cpu);
    git_rev(rev, sizeof rev);
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", gmtime(&t));
    fprintf(f,
            "{\n  \"bench\": \"%s\", \"quick\": %s, \"date_utc\": \"%s\", \"cpu\": \"%s\", \"git\": "
            "\"%s\",\n",
            name, o->quick ? "true" : "false", date, cpu, rev);
    fprintf(f, "  \"simd\": \"%s\", \"threads\": 1, \"seconds\": %.1f, \"M\": 16, \"ef_construction\": %u,\n",
            dv_simd_backend(), total_s, o->efc);
    fprintf(f, "  \"time_method\": \"CLOCK_MONOTONIC around each call; median and nearest-rank p99\",\n");
    return f;
}
