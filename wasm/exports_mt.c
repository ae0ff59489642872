/*
 * exports_mt.c -- deltavec-mt.wasm only: a replica with parallel apply over
 * one shared WebAssembly.Memory (the `dvw_par_*` exports of
 * wasm/exports-mt.list, used by js/src/parallel.js).
 *
 * Threads (each one a wasm instance of the same module over the same
 * memory; every instance except the first calls dvw_thread_init first):
 *  - the owner/dispatcher: opens the replica (dvw_par_open), applies
 *    streams (dvw_par_apply_stream), reads position and hash, stops the
 *    loops, closes. It blocks in memory.atomic.wait32 while workers drain,
 *    so in a browser it must be a Web Worker, never the page's main thread;
 *  - N worker loops: dvw_par_worker_run(p, i) blocks until
 *    dvw_par_workers_stop.
 *
 * Why a separate handle instead of exports.c's dvw_replica_open_parallel: a
 * dvw_par owns its db too (one open and one close for JS), and applies a
 * whole stream buffer in one call -- the format of docs/FORMAT.md section
 * 10 (64-byte header + payload_size bytes, back to back) -- so one message
 * to the dispatcher worker moves many deltas, not one call per delta.
 *
 * Waiting: the core's hooks are futex style on a 32-bit word. wait =
 * memory.atomic.wait32(word, expected, no timeout); it returns at once
 * when the word already differs, which is what the contract asks ("blocks
 * while the word still equals expected, may return early"). wake = notify
 * every waiter. yield = NULL (spin while dv_searcher readers leave; there
 * are none in this module).
 */
#if defined(DVW_FREESTANDING)
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "dvw.h"

/* Stream offsets of the header fields this file reads (docs/FORMAT.md). */
#define DVW_HDR_SEQUENCE 0u
#define DVW_HDR_PAYLOAD_SIZE 28u

struct dvw_par { /* typedef in dvw.h */
    dv_db *db;
    dv_apply *ap;
};

/* Result of one dvw_par_apply_stream, read by JS as 8 x u32 (layout fixed). */
typedef struct dvw_par_result {
    int32_t status;         /* first error (DV_OK if none) */
    uint32_t deltas;        /* deltas found in the buffer (a truncated tail counts as one) */
    uint32_t applied;       /* DV_OK results */
    uint32_t duplicates;    /* DV_EDUPLICATE results */
    uint32_t failed_at;     /* index of the first refused delta, or UINT32_MAX */
    uint32_t parsed_len;    /* bytes consumed by whole deltas */
    uint32_t failed_seq_lo; /* sequence of the refused delta (from its header), 0 if unknown */
    uint32_t failed_seq_hi;
} dvw_par_result;

static void dvw_par_wait(void *ctx, const uint32_t *word, uint32_t expected) {
    (void)ctx;
    __builtin_wasm_memory_atomic_wait32((int32_t *)(uintptr_t)word, (int32_t)expected, -1);
}

static void dvw_par_wake(void *ctx, const uint32_t *word) {
    (void)ctx;
    __builtin_wasm_memory_atomic_notify((int32_t *)(uintptr_t)word, UINT32_MAX);
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Opens a db (dvw_db_open's parameters) and a structural applier over it
 * with `workers` worker loops (0/1: inline apply, no loops) and the wasm
 * wait/wake hooks. epoch_max, min_run 0: defaults (dv_apply_config). */
DVW_EXPORT int32_t dvw_par_open(uint32_t dim, uint32_t metric, uint32_t M, uint32_t efc, uint32_t efs,
                                uint64_t seed, uint32_t workers, uint32_t epoch_max, uint32_t min_run,
                                dvw_par **out) {
    if (!out || metric > DV_METRIC_COSINE || workers > DV_APPLY_MAX_WORKERS) return DV_EINVAL;
    dvw_par *p = calloc(1, sizeof *p);
    if (!p) return DV_ENOMEM;
    dv_db_config dc;
    dv_db_config_default(&dc, dim);
    dc.metric = (dv_metric)metric;
    if (M) dc.M = M;
    if (efc) dc.ef_construction = efc;
    if (efs) dc.ef_search = efs;
    dc.seed = seed;
    dv_status st = dv_db_open(&dc, &p->db);
    if (st != DV_OK) {
        free(p);
        return st;
    }
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = workers;
    if (epoch_max) ac.epoch_max = epoch_max;
    if (min_run) ac.min_run = min_run;
    ac.hooks.wait = dvw_par_wait;
    ac.hooks.wake = dvw_par_wake;
    st = dv_apply_init(p->db, &ac, &p->ap);
    if (st != DV_OK) {
        dv_db_close(p->db);
        free(p);
        return st;
    }
    *out = p;
    return DV_OK;
}

/* Worker loops must have returned (dvw_par_workers_stop, then each
 * dvw_par_worker_run call returned) before this. */
DVW_EXPORT void dvw_par_close(dvw_par *p) {
    if (!p) return;
    dv_apply_free(p->ap);
    dv_db_close(p->db);
    free(p);
}

DVW_EXPORT uint32_t dvw_par_worker_count(const dvw_par *p) { return dv_apply_worker_count(p->ap); }
DVW_EXPORT uint32_t dvw_par_workers_running(const dvw_par *p) { return dv_apply_workers_running(p->ap); }

/* Blocks the calling instance in worker loop `index` until dvw_par_workers_stop. */
DVW_EXPORT int32_t dvw_par_worker_run(dvw_par *p, uint32_t index) {
    if (!p) return DV_EINVAL;
    return dv_apply_worker_run(p->ap, index);
}

DVW_EXPORT void dvw_par_workers_stop(dvw_par *p) {
    if (p) dv_apply_workers_stop(p->ap);
}

/* Counts the deltas of a stream buffer; *whole gets the bytes of whole ones.
 * A tail shorter than its header or payload counts as one (truncated) delta. */
static uint32_t dvw_par_scan(const uint8_t *buf, uint32_t len, uint32_t *whole) {
    uint32_t n = 0, off = 0;
    while (off < len) {
        uint32_t left = len - off;
        if (left < DV_DELTA_HEADER_SIZE) break;
        uint32_t psize = rd32(buf + off + DVW_HDR_PAYLOAD_SIZE);
        if (psize > left - DV_DELTA_HEADER_SIZE) break;
        off += DV_DELTA_HEADER_SIZE + psize; /* <= len: no overflow */
        n++;
    }
    *whole = off;
    return n;
}

static void dvw_par_fail(dvw_par_result *res, uint32_t index, int32_t st, const uint8_t *hdr,
                         uint32_t avail) {
    res->status = st;
    res->failed_at = index;
    uint64_t seq = avail >= 8 ? rd64(hdr + DVW_HDR_SEQUENCE) : 0;
    res->failed_seq_lo = (uint32_t)seq;
    res->failed_seq_hi = (uint32_t)(seq >> 32);
}

/*
 * Applies every delta of a stream buffer (docs/FORMAT.md section 10) with
 * one dv_apply_batch: spread over the worker loops if all of them run, else
 * inline. After the first refusal nothing later is tried (the replica keeps
 * the state after the last good delta). A truncated tail is refused with
 * DV_ETRUNCATED after the whole deltas before it were applied.
 */
DVW_EXPORT int32_t dvw_par_apply_stream(dvw_par *p, const uint8_t *buf, uint32_t len, dvw_par_result *res) {
    if (!p || !res || (len && !buf)) return DV_EINVAL;
    memset(res, 0, sizeof *res);
    res->failed_at = UINT32_MAX;
    uint32_t whole = 0;
    uint32_t n = dvw_par_scan(buf, len, &whole);
    res->parsed_len = whole;
    res->deltas = n + (whole < len ? 1u : 0u);
    if (n == 0) {
        if (whole < len) dvw_par_fail(res, 0, DV_ETRUNCATED, buf, len);
        return res->status;
    }
    size_t cnt = n;
    const uint8_t **hdrs = malloc(sizeof *hdrs * cnt);
    const uint8_t **pays = malloc(sizeof *pays * cnt);
    size_t *plens = malloc(sizeof *plens * cnt);
    dv_status *results = malloc(sizeof *results * cnt);
    dv_status st = DV_ENOMEM;
    if (hdrs && pays && plens && results) {
        uint32_t off = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t psize = rd32(buf + off + DVW_HDR_PAYLOAD_SIZE);
            hdrs[i] = buf + off;
            pays[i] = buf + off + DV_DELTA_HEADER_SIZE;
            plens[i] = psize;
            off += DV_DELTA_HEADER_SIZE + psize;
        }
        size_t applied = 0;
        st = dv_apply_batch(p->ap, hdrs, pays, plens, cnt, results, &applied);
        res->applied = (uint32_t)applied;
        for (uint32_t i = 0; i < n; i++) {
            if (results[i] == DV_EDUPLICATE) res->duplicates++;
            if (results[i] != DV_OK && results[i] != DV_EDUPLICATE && res->failed_at == UINT32_MAX)
                dvw_par_fail(res, i, results[i], hdrs[i], DV_DELTA_HEADER_SIZE);
        }
        if (st != DV_OK && res->status == DV_OK) res->status = st;
        if (res->status == DV_OK && whole < len)
            dvw_par_fail(res, n, DV_ETRUNCATED, buf + whole, len - whole);
        st = res->status;
    } else {
        res->status = DV_ENOMEM;
    }
    free(hdrs);
    free(pays);
    free(plens);
    free(results);
    return st;
}

DVW_EXPORT void dvw_par_position(const dvw_par *p, uint64_t *out) { *out = dv_apply_position(p->ap); }
DVW_EXPORT void dvw_par_state_hash(const dvw_par *p, uint64_t *out) { *out = dv_db_state_hash(p->db); }
DVW_EXPORT uint32_t dvw_par_count(const dvw_par *p) { return (uint32_t)dv_db_count(p->db); }
DVW_EXPORT const char *dvw_par_last_error(const dvw_par *p) { return dv_apply_last_error(p->ap); }
/* out: 10 u64 in dv_apply_stats order (wasm/exports.c dvw_apply_stats_write). */
DVW_EXPORT int32_t dvw_par_stats(const dvw_par *p, uint64_t *out) {
    return dvw_apply_stats_write(p->ap, out);
}
/* The replica's applier (wasm/feed_mt.c applies the feed's deltas with it). */
dv_apply *dvw_par_applier(dvw_par *p) { return p->ap; }
/* The replica's db (reads such as dvw_db_search while no apply runs). */
DVW_EXPORT dv_db *dvw_par_db(const dvw_par *p) { return p->db; }
#endif
