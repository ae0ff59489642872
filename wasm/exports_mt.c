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
 * whole stream in one call -- docs/FORMAT.md section 10, framed by the
 * core's stream reader (wasm/exports.c dvw_apply_stream_buffer) -- so one
 * message to the dispatcher worker moves many deltas, not one call per delta.
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

struct dvw_par { /* typedef in dvw.h */
    dv_db *db;
    dv_apply *ap;
};

static void dvw_par_wait(void *ctx, const uint32_t *word, uint32_t expected) {
    (void)ctx;
    __builtin_wasm_memory_atomic_wait32((int32_t *)(uintptr_t)word, (int32_t)expected, -1);
}

static void dvw_par_wake(void *ctx, const uint32_t *word) {
    (void)ctx;
    __builtin_wasm_memory_atomic_notify((int32_t *)(uintptr_t)word, UINT32_MAX);
}

/* Opens a db with config dc and a structural applier over it with `workers`
 * worker loops beside the dispatcher (0: inline apply, no loops) and the wasm wait/wake hooks.
 * epoch_max, min_run 0: defaults (dv_apply_config). */
static int32_t dvw_par_open_config(const dv_db_config *dc, uint32_t workers, uint32_t epoch_max,
                                   uint32_t min_run, dvw_par **out) {
    if (!out || workers > DV_APPLY_MAX_WORKERS) return DV_EINVAL;
    dvw_par *p = calloc(1, sizeof *p);
    if (!p) return DV_ENOMEM;
    dv_status st = dv_db_open(dc, &p->db);
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

/* Opens a db (dvw_db_open's parameters) and its applier (dvw_par_open_config). */
DVW_EXPORT int32_t dvw_par_open(uint32_t dim, uint32_t metric, uint32_t M, uint32_t efc, uint32_t efs,
                                uint64_t seed, uint32_t workers, uint32_t epoch_max, uint32_t min_run,
                                dvw_par **out) {
    if (metric > DV_METRIC_COSINE) return DV_EINVAL;
    dv_db_config dc;
    dv_db_config_default(&dc, dim);
    dc.metric = (dv_metric)metric;
    if (M) dc.M = M;
    if (efc) dc.ef_construction = efc;
    if (efs) dc.ef_search = efs;
    dc.seed = seed;
    return dvw_par_open_config(&dc, workers, epoch_max, min_run, out);
}

/* The same with the db config of a stream header (info: DVW_STREAM_INFO_SIZE
 * bytes, wasm/exports.c); efs 0: default ef_search. */
DVW_EXPORT int32_t dvw_par_open_from_stream(const uint8_t *info_in, uint32_t efs, uint32_t workers,
                                            uint32_t epoch_max, uint32_t min_run, dvw_par **out) {
    if (!info_in || !out) return DV_EINVAL;
    dv_stream_info info;
    dvw_stream_info_get(info_in, &info);
    dv_db_config dc;
    dv_status st = dv_db_config_from_stream(&info, &dc);
    if (st != DV_OK) return st;
    if (efs) dc.ef_search = efs;
    return dvw_par_open_config(&dc, workers, epoch_max, min_run, out);
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

/*
 * Applies a whole stream buffer (docs/FORMAT.md section 10: stream header,
 * then records) with one dv_apply_batch: spread over the worker loops if all
 * of them run, else inline. The header is checked against the replica first
 * (DV_ECONFIG, DV_EGAP: nothing applied). After the first refusal nothing
 * later is tried (the replica keeps the state after the last good delta); a
 * record the reader cannot use (checksum, torn tail) is reported after the
 * whole records before it were applied. res: dvw_stream_result (dvw.h).
 */
DVW_EXPORT int32_t dvw_par_apply_stream(dvw_par *p, const uint8_t *buf, uint32_t len,
                                        dvw_stream_result *res) {
    if (!p) return DV_EINVAL;
    return dvw_apply_stream_buffer(p->ap, buf, len, res);
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
