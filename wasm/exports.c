/*
 * exports.c -- the WebAssembly ABI of deltavec: every function JS may call.
 *
 * The module exports exactly the dvw_* functions below (plus `memory`, and
 * for the wasi builds `_initialize`); scripts/build-wasm.sh passes them to
 * the linker with --export= one by one, so nothing else leaks out and the
 * list in docs/WASM.md is the contract. Why a shim instead of exporting
 * dv_* directly: the public C API takes structs by pointer (dv_db_config,
 * dv_capture_config) whose layout JS should not have to know, returns
 * handles through out-pointers and uses 64-bit values in places where a
 * stable (ptr, len) convention is simpler for a binding.
 *
 * Conventions (wasm32: pointers and size_t are 32-bit):
 *  - Every fallible call returns a dv_status (i32, 0 = OK, < 0 error);
 *    dvw_status_name() / dvw_strerror() turn it into text.
 *  - Handles (db, capture, replica) are opaque non-zero i32 pointers,
 *    written through an out-pointer (`out`, 4 bytes).
 *  - 64-bit values (seed, sequences) are i64 parameters (BigInt in JS); 64-bit
 *    results (state hash, sequences) are written little-endian to an
 *    8-byte out-pointer.
 *  - Buffers are allocated by JS with dvw_alloc(size) and released with
 *    dvw_free(ptr); strings are NUL-terminated UTF-8.
 *  - A dv_hit is 12 bytes: id pointer (u32), distance (f32), slot (u32).
 *    A dv_meta_kv is 8 bytes: key pointer, value pointer.
 *
 * The replica functions (dvw_replica_*) apply encoded deltas (64-byte
 * header + payload, contiguous) to a db. Until src/apply/ exists they decode
 * with dv_delta_decode and replay the events with dv_db_replay, checking
 * only that sequences are contiguous (duplicates answer DV_EDUPLICATE, gaps
 * DV_EGAP). That interim path is NOT atomic when a delta fails half way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"

#include "db/replay.h"
#include "delta/delta.h"
#include "util/alloc.h"

#define DVW_EXPORT __attribute__((visibility("default")))

/* ---- memory ------------------------------------------------------------ */

DVW_EXPORT void *dvw_alloc(uint32_t size) { return malloc(size ? size : 1); }
DVW_EXPORT void dvw_free(void *p) { free(p); }

/* ---- misc ---------------------------------------------------------------- */

DVW_EXPORT uint32_t dvw_version_number(void) { return dv_version_number(); }
DVW_EXPORT const char *dvw_version_string(void) { return dv_version_string(); }
DVW_EXPORT const char *dvw_strerror(int32_t st) { return dv_strerror(st); }
DVW_EXPORT const char *dvw_status_name(int32_t st) { return dv_status_name(st); }
DVW_EXPORT const char *dvw_simd_backend(void) { return dv_simd_backend(); }

/* ---- db ---------------------------------------------------------------- */

DVW_EXPORT int32_t dvw_db_open(uint32_t dim, uint32_t metric, uint32_t M, uint32_t efc, uint32_t efs,
                               uint64_t seed, dv_db **out) {
    if (!out) return DV_EINVAL;
    dv_db_config cfg;
    dv_db_config_default(&cfg, dim);
    cfg.metric = (dv_metric)metric;
    if (M) cfg.M = M;
    if (efc) cfg.ef_construction = efc;
    if (efs) cfg.ef_search = efs;
    cfg.seed = seed;
    if (metric > DV_METRIC_COSINE) return DV_EINVAL;
    return dv_db_open(&cfg, out);
}

DVW_EXPORT void dvw_db_close(dv_db *db) { dv_db_close(db); }
DVW_EXPORT int32_t dvw_db_clone(const dv_db *db, dv_db **out) { return dv_db_clone(db, out); }
DVW_EXPORT uint32_t dvw_db_dim(const dv_db *db) { return dv_db_dim(db); }
DVW_EXPORT uint32_t dvw_db_count(const dv_db *db) { return (uint32_t)dv_db_count(db); }
DVW_EXPORT uint32_t dvw_db_memory_usage(const dv_db *db) { return (uint32_t)dv_db_memory_usage(db); }

DVW_EXPORT int32_t dvw_db_insert(dv_db *db, const char *id, const float *vec, const dv_meta_kv *meta,
                                 uint32_t n_meta) {
    return dv_db_insert(db, id, vec, meta, n_meta);
}
DVW_EXPORT int32_t dvw_db_update(dv_db *db, const char *id, const float *vec) {
    return dv_db_update(db, id, vec);
}
DVW_EXPORT int32_t dvw_db_update_sparse(dv_db *db, const char *id, const uint32_t *idx, const float *values,
                                        uint32_t n) {
    return dv_db_update_sparse(db, id, idx, values, n);
}
DVW_EXPORT int32_t dvw_db_delete(dv_db *db, const char *id) { return dv_db_delete(db, id); }
DVW_EXPORT int32_t dvw_db_set_meta(dv_db *db, const char *id, const char *key, const char *value) {
    return dv_db_set_meta(db, id, key, value);
}
DVW_EXPORT int32_t dvw_db_get(const dv_db *db, const char *id, float *out) { return dv_db_get(db, id, out); }

/* out[0] = pointer to n dv_meta_kv pairs, out[1] = n. */
DVW_EXPORT int32_t dvw_db_meta(const dv_db *db, const char *id, uint32_t *out) {
    const dv_meta_kv *pairs = NULL;
    size_t n = 0;
    dv_status st = dv_db_meta(db, id, &pairs, &n);
    if (st == DV_OK && out) {
        out[0] = (uint32_t)(uintptr_t)pairs;
        out[1] = (uint32_t)n;
    }
    return st;
}

DVW_EXPORT int32_t dvw_db_search(const dv_db *db, const float *query, uint32_t k, uint32_t ef, dv_hit *hits,
                                 uint32_t *n_hits) {
    size_t n = 0;
    dv_status st = dv_db_search(db, query, k, ef, hits, &n);
    if (n_hits) *n_hits = (uint32_t)n;
    return st;
}

DVW_EXPORT int32_t dvw_db_search_exact(const dv_db *db, const float *query, uint32_t k, dv_hit *hits,
                                       uint32_t *n_hits) {
    size_t n = 0;
    dv_status st = dv_db_search_exact(db, query, k, hits, &n);
    if (n_hits) *n_hits = (uint32_t)n;
    return st;
}

DVW_EXPORT int32_t dvw_db_set_ef_search(dv_db *db, uint32_t ef) { return dv_db_set_ef_search(db, ef); }

DVW_EXPORT void dvw_db_state_hash(const dv_db *db, uint64_t *out) { *out = dv_db_state_hash(db); }

/* ---- capture ------------------------------------------------------------ */

/* slot_count/payload_size 0: defaults; parts 0: DV_CAPTURE_ALL; compress
 * -1: default; batch_max 0/1: no batching. */
DVW_EXPORT int32_t dvw_capture_open(dv_db *db, uint32_t slot_count, uint32_t payload_size, uint32_t parts,
                                    int32_t compress, uint32_t batch_max, uint64_t first_sequence,
                                    dv_capture **out) {
    if (!out) return DV_EINVAL;
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    if (slot_count) cfg.ring.slot_count = slot_count;
    if (payload_size) cfg.ring.payload_size = payload_size;
    if (parts) cfg.parts = parts;
    if (compress >= 0) cfg.compress = compress;
    cfg.batch_max_deltas = batch_max;
    if (first_sequence) cfg.first_sequence = first_sequence;
    dv_capture *c = NULL;
    dv_status st = dv_capture_init(db, &cfg, &c);
    if (st != DV_OK) return st;
    st = dv_capture_start(c);
    if (st != DV_OK) {
        dv_capture_free(c);
        return st;
    }
    *out = c;
    return DV_OK;
}

DVW_EXPORT int32_t dvw_capture_stop(dv_capture *c) { return dv_capture_stop(c); }
DVW_EXPORT int32_t dvw_capture_flush(dv_capture *c) { return dv_capture_flush(c); }
DVW_EXPORT void dvw_capture_free(dv_capture *c) { dv_capture_free(c); }

/* Polls up to max deltas; their 64-byte decoded headers go to hdrs (the
 * dv_delta_header layout equals the wire layout on wasm32). */
DVW_EXPORT int32_t dvw_capture_poll(dv_capture *c, dv_delta_header *hdrs, uint32_t max, uint32_t *n) {
    size_t got = 0;
    dv_status st = dv_capture_poll(c, hdrs, max, &got);
    if (n) *n = (uint32_t)got;
    return st;
}

/* out[0] = header pointer (64 bytes), out[1] = payload pointer, out[2] = payload length. */
DVW_EXPORT int32_t dvw_capture_payload(dv_capture *c, uint64_t seq, uint32_t *out) {
    const uint8_t *h = NULL, *p = NULL;
    size_t len = 0;
    dv_status st = dv_capture_payload(c, seq, &h, &p, &len);
    if (st == DV_OK) {
        out[0] = (uint32_t)(uintptr_t)h;
        out[1] = (uint32_t)(uintptr_t)p;
        out[2] = (uint32_t)len;
    }
    return st;
}

/* out: sequence (8 bytes) then state hash (8 bytes). */
DVW_EXPORT int32_t dvw_capture_checkpoint(dv_capture *c, uint64_t *out) {
    dv_checkpoint cp;
    dv_status st = dv_capture_checkpoint(c, &cp);
    if (st == DV_OK) {
        out[0] = cp.sequence;
        out[1] = cp.state_hash;
    }
    return st;
}

DVW_EXPORT int32_t dvw_capture_release(dv_capture *c, uint64_t seq) { return dv_capture_release(c, seq); }
DVW_EXPORT void dvw_capture_last_sequence(const dv_capture *c, uint64_t *out) {
    *out = dv_capture_last_sequence(c);
}

/* out: 8 u64 in dv_capture_stats order. */
DVW_EXPORT int32_t dvw_capture_stats(const dv_capture *c, dv_capture_stats *out) {
    return dv_capture_stats_get(c, out);
}

/* ---- delta helpers -------------------------------------------------------- */

/* Header + checksum validation of one contiguous delta (64 + payload bytes). */
DVW_EXPORT int32_t dvw_delta_verify(const uint8_t *buf, uint32_t len) {
    if (!buf || len < DV_DELTA_HEADER_SIZE) return DV_ETRUNCATED;
    return dv_delta_verify(buf, buf + DV_DELTA_HEADER_SIZE, len - DV_DELTA_HEADER_SIZE);
}

DVW_EXPORT int32_t dvw_delta_describe(const uint8_t *buf, uint32_t len, char *out, uint32_t cap) {
    if (!buf || len < DV_DELTA_HEADER_SIZE) return DV_ETRUNCATED;
    return dv_delta_describe(buf, buf + DV_DELTA_HEADER_SIZE, len - DV_DELTA_HEADER_SIZE, out, cap);
}

/* ---- replica (interim apply: decode + event replay) ---------------------- */

typedef struct dvw_replica {
    dv_db *db;
    uint64_t position; /* last applied sequence */
    dv_mem mem;
    dv_delta_arena arena;
} dvw_replica;

DVW_EXPORT int32_t dvw_replica_open(dv_db *db, uint64_t position, dvw_replica **out) {
    if (!db || !out) return DV_EINVAL;
    dvw_replica *r = malloc(sizeof *r);
    if (!r) return DV_ENOMEM;
    r->db = db;
    r->position = position;
    dv_mem_init(&r->mem, NULL);
    dv_delta_arena_init(&r->arena, &r->mem);
    *out = r;
    return DV_OK;
}

DVW_EXPORT void dvw_replica_free(dvw_replica *r) {
    if (!r) return;
    dv_delta_arena_free(&r->arena);
    free(r);
}

static dv_status replay_one(void *ctx, const dv_event *ev) { return dv_db_replay((dv_db *)ctx, ev); }

DVW_EXPORT int32_t dvw_replica_apply(dvw_replica *r, const uint8_t *buf, uint32_t len) {
    if (!r || !buf) return DV_EINVAL;
    if (len < DV_DELTA_HEADER_SIZE) return DV_ETRUNCATED;
    dv_delta_header h;
    dv_status st = dv_delta_header_decode(buf, &h);
    if (st != DV_OK) return st;
    if (h.sequence <= r->position) return DV_EDUPLICATE;
    if (h.sequence != r->position + 1) return DV_EGAP;
    dv_delta d;
    dv_delta_arena_reset(&r->arena);
    st = dv_delta_decode(buf, buf + DV_DELTA_HEADER_SIZE, len - DV_DELTA_HEADER_SIZE, NULL, &r->arena, &d);
    if (st == DV_OK) st = dv_delta_to_events(&d, replay_one, r->db);
    if (st == DV_OK) r->position = h.sequence;
    return st;
}

DVW_EXPORT void dvw_replica_position(const dvw_replica *r, uint64_t *out) { *out = r->position; }

/* Only forward moves are honoured by the interim path (no log to rewind). */
DVW_EXPORT int32_t dvw_replica_seek(dvw_replica *r, uint64_t position) {
    if (!r) return DV_EINVAL;
    if (position < r->position) return DV_ESTALE;
    r->position = position;
    return DV_OK;
}
