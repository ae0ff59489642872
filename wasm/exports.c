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
 * The replica functions (dvw_replica_*) wrap section 8 (dv_apply_*): they
 * apply encoded deltas (64-byte header + payload, contiguous) to a db, all
 * or nothing, with sequence, conflict and coherence checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "dvw.h"
#include "simd/simd.h" /* dvw_kernel_bench only */
#include "util/le.h"

/* ---- apply statistics as a fixed list of u64 (shared with exports_mt.c) ---- */

int32_t dvw_apply_stats_write(const dv_apply *ap, uint64_t *out) {
    dv_apply_stats st;
    dv_status rc = dv_apply_stats_get(ap, &st);
    if (rc != DV_OK || !out) return rc != DV_OK ? rc : DV_EINVAL;
    const uint64_t v[DVW_APPLY_STATS_COUNT] = {st.applied,  st.duplicates,      st.refused,  st.omitted,
                                               st.replaced, st.parallel_deltas, st.barriers, st.epochs,
                                               st.edge_ops, st.short_runs};
    memcpy(out, v, sizeof v);
    return DV_OK;
}

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
DVW_EXPORT int32_t dvw_db_reserve(dv_db *db, uint32_t n) { return dv_db_reserve(db, n); }

DVW_EXPORT int32_t dvw_db_insert(dv_db *db, const char *id, const float *vec, const dv_meta_kv *meta,
                                 uint32_t n_meta) {
    return dv_db_insert(db, id, vec, meta, n_meta);
}
/* items: n dv_insert_item of 16 bytes (id, vec, meta, n_meta); *n_done: how many went in. */
DVW_EXPORT int32_t dvw_db_insert_batch(dv_db *db, const dv_insert_item *items, uint32_t n, uint32_t *n_done) {
    size_t done = 0;
    dv_status st = dv_db_insert_batch(db, items, n, &done);
    if (n_done) *n_done = (uint32_t)done;
    return st;
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

/* The filter as n_pairs dv_meta_kv (key, value) that must all hold; 0 pairs: no filter. */
DVW_EXPORT int32_t dvw_db_search_filtered(const dv_db *db, const float *query, uint32_t k, uint32_t ef,
                                          const dv_meta_kv *pairs, uint32_t n_pairs, dv_hit *hits,
                                          uint32_t *n_hits) {
    dv_filter filter = {pairs, n_pairs};
    size_t n = 0;
    dv_status st = dv_db_search_filtered(db, query, k, ef, &filter, hits, &n);
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

/* ---- replica: dv_apply over a db ---------------------------------------- */

typedef struct dvw_replica {
    dv_db *db;
    dv_apply *ap;
} dvw_replica;

/* mode: dv_apply_mode; policy: dv_conflict_action; coherence: 0/1 (-1 default). */
DVW_EXPORT int32_t dvw_replica_open(dv_db *db, uint32_t mode, uint32_t policy, int32_t coherence,
                                    uint64_t start_position, dvw_replica **out) {
    if (!db || !out) return DV_EINVAL;
    dvw_replica *r = malloc(sizeof *r);
    if (!r) return DV_ENOMEM;
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.mode = (dv_apply_mode)mode;
    cfg.policy = (dv_conflict_action)policy;
    if (coherence >= 0) cfg.coherence_check = coherence;
    cfg.start_position = start_position;
    r->db = db;
    dv_status st = dv_apply_init(db, &cfg, &r->ap);
    if (st != DV_OK) {
        free(r);
        return st;
    }
    *out = r;
    return DV_OK;
}

/* ---- snapshots (deltavec.h section 4c) ----------------------------------- */

/* Snapshot of db into a fresh buffer (release it with dvw_free): out[0] =
 * pointer, out[1] = length. The sequence and the per-slot sequence table
 * come from the capture c (flushed first) or else the replica r (either
 * may be 0); with neither, sequence 0 and no table. */
DVW_EXPORT int32_t dvw_db_snapshot(const dv_db *db, dv_capture *c, const dvw_replica *r, uint32_t *out) {
    if (!db || !out) return DV_EINVAL;
    dv_snapshot_meta meta;
    memset(&meta, 0, sizeof meta);
    size_t n = 0;
    if (c) {
        dv_status st = dv_capture_flush(c);
        if (st != DV_OK) return st;
        meta.sequence = dv_capture_last_sequence(c);
        meta.slot_sequences = (uint64_t *)dv_capture_slot_sequences(c, &n);
    } else if (r) {
        meta.sequence = dv_apply_position(r->ap);
        meta.slot_sequences = (uint64_t *)dv_apply_slot_sequences(r->ap, &n);
    }
    meta.n_slot_sequences = n;
    uint64_t size = 0;
    dv_status st = dv_db_snapshot_size(db, &meta, &size);
    if (st != DV_OK) return st;
    if (size > UINT32_MAX - 64) return DV_ETOOBIG;
    uint8_t *buf = malloc((size_t)size);
    if (!buf) return DV_ENOMEM;
    size_t len = 0;
    st = dv_db_snapshot_to_buffer(db, &meta, buf, (size_t)size, &len);
    if (st != DV_OK) {
        free(buf);
        return st;
    }
    out[0] = (uint32_t)(uintptr_t)buf;
    out[1] = (uint32_t)len;
    return DV_OK;
}

/* Loads a snapshot into a new db (*out). meta_out: sequence, state hash
 * (u64 each). table_out: pointer (release with dvw_free, 0 when none) and
 * entry count of the per-slot sequence table. msg (cap bytes): the
 * loader's message on failure. */
DVW_EXPORT int32_t dvw_db_snapshot_read(const uint8_t *buf, uint32_t len, dv_db **out, uint64_t *meta_out,
                                        uint32_t *table_out, char *msg, uint32_t cap) {
    if (!out || !meta_out || !table_out) return DV_EINVAL;
    dv_snapshot_meta meta;
    dv_status st = dv_db_snapshot_read(buf, len, NULL, out, &meta, msg, cap);
    if (st != DV_OK) return st;
    meta_out[0] = meta.sequence;
    meta_out[1] = meta.state_hash;
    table_out[0] = (uint32_t)(uintptr_t)meta.slot_sequences; /* malloc'd: the default allocator */
    table_out[1] = (uint32_t)meta.n_slot_sequences;
    return DV_OK;
}

/* Restores a per-slot sequence table into a replica before it applies anything. */
DVW_EXPORT int32_t dvw_replica_restore_slots(dvw_replica *r, const uint64_t *table, uint32_t n) {
    if (!r) return DV_EINVAL;
    return dv_apply_restore_slot_sequences(r->ap, table, n);
}

DVW_EXPORT void dvw_replica_free(dvw_replica *r) {
    if (!r) return;
    dv_apply_free(r->ap);
    free(r);
}

/* One contiguous delta (64-byte header + payload). */
DVW_EXPORT int32_t dvw_replica_apply(dvw_replica *r, const uint8_t *buf, uint32_t len) {
    if (!r || !buf) return DV_EINVAL;
    return dv_apply_buffer(r->ap, buf, len);
}

/* n contiguous deltas: bufs[i] (pointers) of lens[i] bytes; results[i] gets each status. */
DVW_EXPORT int32_t dvw_replica_apply_batch(dvw_replica *r, const uint32_t *bufs, const uint32_t *lens,
                                           uint32_t n, int32_t *results, uint32_t *n_applied) {
    if (!r || (n && (!bufs || !lens))) return DV_EINVAL;
    const uint8_t **hdrs = malloc(sizeof *hdrs * (n ? n : 1));
    const uint8_t **pays = malloc(sizeof *pays * (n ? n : 1));
    size_t *plens = malloc(sizeof *plens * (n ? n : 1));
    dv_status *res = malloc(sizeof *res * (n ? n : 1));
    dv_status st = DV_ENOMEM;
    if (hdrs && pays && plens && res) {
        /* the deltas before the first one shorter than a header are applied;
         * every short one is DV_ETRUNCATED, the others after it DV_EGAP (not
         * tried), as dv_apply_batch reports the deltas after a refusal */
        uint32_t k = 0;
        while (k < n && lens[k] >= DV_DELTA_HEADER_SIZE) k++;
        for (uint32_t i = 0; i < k; i++) {
            hdrs[i] = (const uint8_t *)(uintptr_t)bufs[i];
            pays[i] = hdrs[i] + DV_DELTA_HEADER_SIZE;
            plens[i] = lens[i] - DV_DELTA_HEADER_SIZE;
        }
        size_t applied = 0;
        st = dv_apply_batch(r->ap, hdrs, pays, plens, k, res, &applied);
        for (uint32_t i = k; i < n; i++) res[i] = lens[i] < DV_DELTA_HEADER_SIZE ? DV_ETRUNCATED : DV_EGAP;
        if (k < n && st == DV_OK) st = DV_ETRUNCATED;
        if (results)
            for (uint32_t i = 0; i < n; i++) results[i] = res[i];
        if (n_applied) *n_applied = (uint32_t)applied;
    }
    free(hdrs);
    free(pays);
    free(plens);
    free(res);
    return st;
}

DVW_EXPORT void dvw_replica_position(const dvw_replica *r, uint64_t *out) { *out = dv_apply_position(r->ap); }
DVW_EXPORT int32_t dvw_replica_seek(dvw_replica *r, uint64_t sequence) {
    return dv_apply_seek(r->ap, sequence);
}
DVW_EXPORT int32_t dvw_replica_seek_checkpoint(dvw_replica *r, uint64_t sequence, uint64_t state_hash) {
    dv_checkpoint cp = {sequence, state_hash};
    return dv_apply_seek_checkpoint(r->ap, &cp);
}
DVW_EXPORT const char *dvw_replica_last_error(const dvw_replica *r) { return dv_apply_last_error(r->ap); }
/* out: DVW_APPLY_STATS_COUNT u64 in dv_apply_stats order (docs/WASM.md): an
 * explicit layout, so the JS buffer size does not follow the C struct. */
DVW_EXPORT int32_t dvw_replica_stats(const dvw_replica *r, uint64_t *out) {
    return dvw_apply_stats_write(r->ap, out);
}

/* ---- stream container (docs/FORMAT.md section 10; deltavec.h section 4b) ----
 *
 * JS never parses the container: it hands bytes to the core's reader and
 * writer through these calls. A dv_stream_info crosses as the fixed layout
 * below (DVW_STREAM_INFO_SIZE bytes, little-endian), not as the C struct:
 *    0 u32 version        4 u32 header_size     8 u32 delta_version
 *   12 u32 mode          16 u32 lossy          20 u32 dim
 *   24 u32 metric        28 u32 M              32 u32 ef_construction
 *   36 f32 relink_ratio  40 u64 seed           48 u64 first_sequence
 *   56 u32 producer      60 u32 zero           64 u8[16] db_id
 */

void dvw_stream_info_put(const dv_stream_info *info, uint8_t *out) {
    memset(out, 0, DVW_STREAM_INFO_SIZE);
    dv_st32(out + 0, info->version);
    dv_st32(out + 4, info->header_size);
    dv_st32(out + 8, info->delta_version);
    dv_st32(out + 12, info->mode);
    dv_st32(out + 16, info->lossy);
    dv_st32(out + 20, info->dim);
    dv_st32(out + 24, info->metric);
    dv_st32(out + 28, info->M);
    dv_st32(out + 32, info->ef_construction);
    memcpy(out + 36, &info->relink_ratio, 4);
    dv_st64(out + 40, info->seed);
    dv_st64(out + 48, info->first_sequence);
    dv_st32(out + 56, info->producer_version);
    memcpy(out + 64, info->db_id, DV_STREAM_DB_ID_SIZE);
}

void dvw_stream_info_get(const uint8_t *in, dv_stream_info *info) {
    memset(info, 0, sizeof *info);
    info->version = (uint16_t)dv_ld32(in + 0);
    info->header_size = (uint16_t)dv_ld32(in + 4);
    info->delta_version = (uint16_t)dv_ld32(in + 8);
    info->mode = (uint8_t)dv_ld32(in + 12);
    info->lossy = (uint8_t)dv_ld32(in + 16);
    info->dim = dv_ld32(in + 20);
    info->metric = dv_ld32(in + 24);
    info->M = dv_ld32(in + 28);
    info->ef_construction = dv_ld32(in + 32);
    memcpy(&info->relink_ratio, in + 36, 4);
    info->seed = dv_ld64(in + 40);
    info->first_sequence = dv_ld64(in + 48);
    info->producer_version = dv_ld32(in + 56);
    memcpy(info->db_id, in + 64, DV_STREAM_DB_ID_SIZE);
}

/* Decodes the stream header at the start of buf; info_out gets the layout
 * above, *header_size (may be NULL) where the records start. */
DVW_EXPORT int32_t dvw_stream_header_decode(const uint8_t *buf, uint32_t len, uint8_t *info_out,
                                            uint32_t *header_size) {
    if (!info_out || (len && !buf)) return DV_EINVAL;
    dv_stream_info info;
    size_t hs = 0;
    dv_status st = dv_stream_header_decode(buf, len, &info, &hs);
    if (st == DV_OK) {
        dvw_stream_info_put(&info, info_out);
        if (header_size) *header_size = (uint32_t)hs;
    }
    return st;
}

/* Writes the DV_STREAM_HEADER_SIZE header bytes of info_in into out (cap bytes). */
DVW_EXPORT int32_t dvw_stream_header_encode(const uint8_t *info_in, uint8_t *out, uint32_t cap) {
    if (!info_in || !out) return DV_EINVAL;
    dv_stream_info info;
    dvw_stream_info_get(info_in, &info);
    return dv_stream_header_encode(&info, out, cap);
}

/* The stream info of db's config (mode: dv_stream_mode; lossy: 0..2). */
DVW_EXPORT int32_t dvw_stream_info_from_db(const dv_db *db, uint32_t mode, uint32_t lossy,
                                           uint64_t first_sequence, uint8_t *info_out) {
    if (!info_out || lossy > 2) return DV_EINVAL;
    dv_stream_info info;
    dv_status st = dv_stream_info_from_db(db, (dv_stream_mode)mode, first_sequence, &info);
    if (st != DV_OK) return st;
    info.lossy = (uint8_t)lossy;
    dvw_stream_info_put(&info, info_out);
    return DV_OK;
}

/* A db with the stream's config (dv_db_open_from_stream); efs 0: default ef_search. */
DVW_EXPORT int32_t dvw_db_open_from_stream(const uint8_t *info_in, uint32_t efs, dv_db **out) {
    if (!info_in || !out) return DV_EINVAL;
    dv_stream_info info;
    dvw_stream_info_get(info_in, &info);
    dv_db *db = NULL;
    dv_status st = dv_db_open_from_stream(&info, NULL, &db);
    if (st == DV_OK && efs) st = dv_db_set_ef_search(db, efs);
    if (st != DV_OK) {
        dv_db_close(db);
        return st;
    }
    *out = db;
    return DV_OK;
}

/* DV_OK or DV_ECONFIG with a message naming the field in msg (cap bytes). */
DVW_EXPORT int32_t dvw_stream_check_db(const uint8_t *info_in, const dv_db *db, char *msg, uint32_t cap) {
    if (!info_in) return DV_EINVAL;
    dv_stream_info info;
    dvw_stream_info_get(info_in, &info);
    return dv_stream_check_db(&info, db, msg, cap);
}

/* Reader: out (32 bytes) = {u32 consumed, u32 header ptr, u32 payload ptr,
 * u32 payload_len, u64 offset, u64 sequence}. max_payload 0: default. */
DVW_EXPORT int32_t dvw_stream_reader_open(uint32_t max_payload, dv_stream_reader **out) {
    dv_stream_reader_config cfg;
    dv_stream_reader_config_default(&cfg);
    cfg.max_payload = max_payload;
    return dv_stream_reader_open(&cfg, out);
}

DVW_EXPORT int32_t dvw_stream_reader_next(dv_stream_reader *r, const uint8_t *in, uint32_t len,
                                          uint8_t *out) {
    if (!r || !out) return DV_EINVAL;
    size_t used = 0;
    dv_stream_record rec;
    memset(&rec, 0, sizeof rec);
    dv_status st = dv_stream_reader_next(r, in, len, &used, &rec);
    dv_st32(out + 0, (uint32_t)used);
    dv_st32(out + 4, (uint32_t)(uintptr_t)rec.header);
    dv_st32(out + 8, (uint32_t)(uintptr_t)rec.payload);
    dv_st32(out + 12, (uint32_t)rec.payload_len);
    dv_st64(out + 16, rec.offset);
    dv_st64(out + 24, rec.header ? rec.h.sequence : 0);
    return st;
}

DVW_EXPORT int32_t dvw_stream_reader_info(const dv_stream_reader *r, uint8_t *info_out) {
    if (!r || !info_out) return DV_EINVAL;
    dv_stream_info info;
    dv_status st = dv_stream_reader_info(r, &info);
    if (st == DV_OK) dvw_stream_info_put(&info, info_out);
    return st;
}

/* out8: where a torn structure starts (DV_ETRUNCATED). */
DVW_EXPORT int32_t dvw_stream_reader_finish(dv_stream_reader *r, uint64_t *out) {
    if (!r) return DV_EINVAL;
    uint64_t off = 0;
    dv_status st = dv_stream_reader_finish(r, &off);
    if (out) *out = off;
    return st;
}

DVW_EXPORT void dvw_stream_reader_offset(const dv_stream_reader *r, uint64_t *out) {
    *out = dv_stream_reader_offset(r);
}
DVW_EXPORT const char *dvw_stream_reader_message(const dv_stream_reader *r) {
    return dv_stream_reader_message(r);
}
DVW_EXPORT void dvw_stream_reader_free(dv_stream_reader *r) { dv_stream_reader_free(r); }

/* Writer into a growing buffer: JS takes the bytes out after each call
 * (dvw_stream_writer_output, then dvw_stream_writer_clear). */
typedef struct dvw_writer {
    dv_stream_writer *w;
    uint8_t *buf;
    size_t len, cap;
} dvw_writer;

static dv_status dvw_writer_sink(void *ctx, const uint8_t *bytes, size_t len) {
    dvw_writer *w = ctx;
    if (len > SIZE_MAX - w->len) return DV_ENOMEM;
    if (w->len + len > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + len) {
            if (cap > SIZE_MAX / 2) return DV_ENOMEM;
            cap *= 2;
        }
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) return DV_ENOMEM;
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, bytes, len);
    w->len += len;
    return DV_OK;
}

DVW_EXPORT void dvw_stream_writer_free(dvw_writer *w) {
    if (!w) return;
    dv_stream_writer_free(w->w);
    free(w->buf);
    free(w);
}

/* Opens a writer for info_in; the stream header is its first output. */
DVW_EXPORT int32_t dvw_stream_writer_open(const uint8_t *info_in, dvw_writer **out) {
    if (!info_in || !out) return DV_EINVAL;
    dvw_writer *w = calloc(1, sizeof *w);
    if (!w) return DV_ENOMEM;
    dv_stream_info info;
    dvw_stream_info_get(info_in, &info);
    dv_status st = dv_stream_writer_open(&info, dvw_writer_sink, w, NULL, &w->w);
    if (st != DV_OK) {
        dvw_stream_writer_free(w);
        return st;
    }
    *out = w;
    return DV_OK;
}

/* Appends one contiguous delta (64-byte header + payload). */
DVW_EXPORT int32_t dvw_stream_writer_append(dvw_writer *w, const uint8_t *buf, uint32_t len) {
    if (!w || !buf) return DV_EINVAL;
    if (len < DV_DELTA_HEADER_SIZE) return DV_ETRUNCATED;
    return dv_stream_writer_append(w->w, buf, buf + DV_DELTA_HEADER_SIZE, len - DV_DELTA_HEADER_SIZE);
}

/* out[0] = pointer, out[1] = length of the bytes written since the last clear. */
DVW_EXPORT void dvw_stream_writer_output(const dvw_writer *w, uint32_t *out) {
    out[0] = (uint32_t)(uintptr_t)w->buf;
    out[1] = (uint32_t)w->len;
}
DVW_EXPORT void dvw_stream_writer_clear(dvw_writer *w) { w->len = 0; }
DVW_EXPORT void dvw_stream_writer_next_sequence(const dvw_writer *w, uint64_t *out) {
    *out = dv_stream_writer_next_sequence(w->w);
}

/* ---- a whole stream buffer applied at once (replicas; exports_mt.c) ----------
 *
 * The core's reader frames the buffer (header, then records); the header is
 * checked against the replica with dv_apply_begin_stream before anything is
 * applied (DV_ECONFIG, DV_EGAP). Records are gathered as pointers into buf
 * (a record lying whole inside the chunk is not copied) and applied with one
 * dv_apply_batch; at the first refusal nothing later is tried. A problem the
 * reader finds (a record failing its checksum, an unreadable record header,
 * a torn tail) ends the gathering: the records before it are applied, then
 * the problem is reported at its index and offset. */

/* msg (may be NULL) into dst, cut to fit, NUL-terminated. */
static void copy_msg(char *dst, size_t cap, const char *msg) {
    size_t n = msg ? strlen(msg) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, msg, n);
    dst[n] = '\0';
}

static void dvw_result_fail(dvw_stream_result *res, uint32_t index, int32_t st, uint64_t seq, uint64_t offset,
                            const char *msg) {
    res->status = st;
    res->failed_at = index;
    res->failed_seq_lo = (uint32_t)seq;
    res->failed_seq_hi = (uint32_t)(seq >> 32);
    res->failed_off_lo = (uint32_t)offset;
    res->failed_off_hi = (uint32_t)(offset >> 32);
    copy_msg(res->message, sizeof res->message, msg);
}

typedef struct dvw_gather {
    const uint8_t **hdrs, **pays;
    size_t *plens;
    dv_status *results;
    size_t n, cap;
} dvw_gather;

static dv_status dvw_gather_push(dvw_gather *g, const dv_stream_record *rec) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        const uint8_t **h = realloc(g->hdrs, sizeof *h * cap);
        if (h) g->hdrs = h;
        const uint8_t **p = realloc(g->pays, sizeof *p * cap);
        if (p) g->pays = p;
        size_t *l = realloc(g->plens, sizeof *l * cap);
        if (l) g->plens = l;
        if (!h || !p || !l) return DV_ENOMEM;
        g->cap = cap;
    }
    g->hdrs[g->n] = rec->header;
    g->pays[g->n] = rec->payload;
    g->plens[g->n] = rec->payload_len;
    g->n++;
    return DV_OK;
}

int32_t dvw_apply_stream_buffer(dv_apply *ap, const uint8_t *buf, uint32_t len, dvw_stream_result *res) {
    if (!ap || !res || (len && !buf)) return DV_EINVAL;
    memset(res, 0, sizeof *res);
    res->failed_at = UINT32_MAX;
    dv_stream_reader *rd = NULL;
    dv_status st = dv_stream_reader_open(NULL, &rd);
    if (st != DV_OK) {
        dvw_result_fail(res, 0, st, 0, 0, "cannot open a stream reader");
        return st;
    }
    dvw_gather g = {0};
    dv_status prob = DV_OK; /* what ended the gathering */
    uint64_t prob_off = 0, prob_seq = 0;
    char prob_msg[sizeof res->message] = "";
    int began = 0, refused_at_begin = 0;
    size_t pos = 0;
    for (;;) {
        size_t used = 0;
        dv_stream_record rec;
        memset(&rec, 0, sizeof rec);
        st = dv_stream_reader_next(rd, buf ? buf + pos : NULL, len - pos, &used, &rec);
        pos += used;
        dv_stream_info info;
        if (!began && dv_stream_reader_info(rd, &info) == DV_OK) {
            began = 1;
            dv_status bs = dv_apply_begin_stream(ap, &info);
            if (bs != DV_OK) {
                prob = bs;
                refused_at_begin = 1;
                copy_msg(prob_msg, sizeof prob_msg, dv_apply_last_error(ap));
                break;
            }
        }
        if (st == DV_EEMPTY) break; /* every byte consumed */
        if (st == DV_OK || st == DV_EGAP || st == DV_EDUPLICATE) {
            /* the applier decides about gaps and duplicates, as for any delta */
            uintptr_t lo = (uintptr_t)buf, hi = lo + len;
            if ((uintptr_t)rec.header < lo || (uintptr_t)rec.payload > hi ||
                rec.payload_len > hi - (uintptr_t)rec.payload) {
                prob = DV_ESTATE; /* not expected: the record lies whole inside buf */
                prob_off = rec.offset;
                break;
            }
            prob = dvw_gather_push(&g, &rec);
            if (prob != DV_OK) {
                prob_off = rec.offset;
                break;
            }
            continue;
        }
        prob = st;
        prob_off = rec.offset;
        if (rec.header) prob_seq = dv_ld64(rec.header);
        break;
    }
    if (prob == DV_OK) prob = dv_stream_reader_finish(rd, &prob_off);
    if (prob != DV_OK && !prob_msg[0]) copy_msg(prob_msg, sizeof prob_msg, dv_stream_reader_message(rd));
    /* a torn or unreadable record counts as one; a torn or refused stream header does not */
    res->deltas = (uint32_t)g.n + (prob != DV_OK && began && !refused_at_begin ? 1u : 0u);
    res->parsed_len = prob != DV_OK ? (uint32_t)prob_off : len;
    if (g.n && !refused_at_begin) {
        g.results = malloc(sizeof *g.results * g.n);
        size_t applied = 0;
        st = g.results ? dv_apply_batch(ap, g.hdrs, g.pays, g.plens, g.n, g.results, &applied) : DV_ENOMEM;
        res->applied = (uint32_t)applied;
        for (size_t i = 0; g.results && i < g.n; i++) {
            dv_status r = g.results[i];
            if (r == DV_EDUPLICATE) res->duplicates++;
            if (r != DV_OK && r != DV_EDUPLICATE && res->failed_at == UINT32_MAX)
                dvw_result_fail(res, (uint32_t)i, r, dv_ld64(g.hdrs[i]), (uint64_t)(g.hdrs[i] - buf),
                                dv_apply_last_error(ap));
        }
        if (st != DV_OK && res->status == DV_OK) dvw_result_fail(res, 0, st, 0, 0, dv_apply_last_error(ap));
    }
    if (res->status == DV_OK && prob != DV_OK)
        dvw_result_fail(res, refused_at_begin ? 0 : (uint32_t)g.n, prob, prob_seq, prob_off, prob_msg);
    free(g.hdrs);
    free(g.pays);
    free(g.plens);
    free(g.results);
    dv_stream_reader_free(rd);
    return res->status;
}

/* A whole stream buffer into a replica; res: DVW_STREAM_RESULT_SIZE bytes. */
DVW_EXPORT int32_t dvw_replica_apply_stream(dvw_replica *r, const uint8_t *buf, uint32_t len,
                                            dvw_stream_result *res) {
    if (!r) return DV_EINVAL;
    return dvw_apply_stream_buffer(r->ap, buf, len, res);
}

/* Checks a stream header (info_in) against the replica before any record:
 * DV_ECONFIG / DV_EGAP with dvw_replica_last_error explaining. */
DVW_EXPORT int32_t dvw_replica_begin_stream(dvw_replica *r, const uint8_t *info_in) {
    if (!r || !info_in) return DV_EINVAL;
    dv_stream_info info;
    dvw_stream_info_get(info_in, &info);
    return dv_apply_begin_stream(r->ap, &info);
}

/* ---- benchmark only (js/bench/wasm.mjs) --------------------------------------
 *
 * Why: a JS->wasm call costs tens of ns, as much as an L2 over 128 floats, so
 * timing one kernel call per JS call would measure the binding. This runs the
 * loop inside wasm; JS times the whole call (the module has no clock import)
 * and divides by reps. The function pointer is re-read through a volatile on
 * every iteration so neither clang nor wasm-opt can inline the kernel and hoist
 * the loop-invariant work out of the loop; the db calls kernels through the
 * same kind of indirect call, so that is also the realistic cost. */

/* set: 0 = "scalar", 1 = "simd128"; op: 0 = l2sq, 1 = dot, 2 = diff (eps 0.001,
 * idx_out needs n u32). Returns the sum of the results (so nothing is dead
 * code), or -1 when the set is not in this module or op is unknown. */
DVW_EXPORT double dvw_kernel_bench(uint32_t set, uint32_t op, const float *a, const float *b, uint32_t n,
                                   uint32_t reps, uint32_t *idx_out) {
    const dv_kernels *k = dv_kernels_named(set == 0 ? "scalar" : set == 1 ? "simd128" : "");
    if (!k || !a || !b || (op == 2 && !idx_out)) return -1.0;
    double acc = 0.0;
    if (op == 0) {
        float (*volatile f)(const float *, const float *, size_t) = k->l2sq;
        for (uint32_t r = 0; r < reps; r++) acc += f(a, b, n);
    } else if (op == 1) {
        float (*volatile f)(const float *, const float *, size_t) = k->dot;
        for (uint32_t r = 0; r < reps; r++) acc += f(a, b, n);
    } else if (op == 2) {
        size_t (*volatile f)(const float *, const float *, size_t, float, uint32_t *) = k->diff;
        for (uint32_t r = 0; r < reps; r++) acc += (double)f(a, b, n, 0.001f, idx_out);
    } else {
        return -1.0;
    }
    return acc;
}

/* ---- parallel apply (deltavec-mt.wasm only) ----------------------------------
 *
 * A replica whose structural apply spreads edge work over `workers` worker
 * loops (section 8). Each loop runs on its own wasm instance (a Web Worker /
 * worker_thread over the shared memory, after dvw_thread_init) inside
 * dvw_replica_worker_run until dvw_replica_workers_stop; the thread calling
 * dvw_replica_apply_batch is the dispatcher. Waiting is memory.atomic.wait32 /
 * notify on the applier's words, so idle loops sleep instead of spinning
 * (which matters when threads outnumber cores). The dispatcher waits too:
 * fine in Node's main thread and in workers, not in a browser's main thread. */
#if defined(DVW_FREESTANDING)
static void dvw_wait32(void *ctx, const uint32_t *word, uint32_t expected) {
    (void)ctx;
    __builtin_wasm_memory_atomic_wait32((int32_t *)(uintptr_t)word, (int32_t)expected, -1);
}

static void dvw_wake32(void *ctx, const uint32_t *word) {
    (void)ctx;
    __builtin_wasm_memory_atomic_notify((int32_t *)(uintptr_t)word, UINT32_MAX);
}

/* workers >= 1: parallel (structural mode; that many loops beside the dispatcher); 0: inline.
 * epoch_max 0: default. */
DVW_EXPORT int32_t dvw_replica_open_parallel(dv_db *db, uint32_t workers, uint32_t epoch_max,
                                             uint64_t start_position, dvw_replica **out) {
    if (!db || !out) return DV_EINVAL;
    dvw_replica *r = malloc(sizeof *r);
    if (!r) return DV_ENOMEM;
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.workers = workers;
    if (epoch_max) cfg.epoch_max = epoch_max;
    cfg.start_position = start_position;
    cfg.hooks.wait = dvw_wait32;
    cfg.hooks.wake = dvw_wake32;
    r->db = db;
    dv_status st = dv_apply_init(db, &cfg, &r->ap);
    if (st != DV_OK) {
        free(r);
        return st;
    }
    *out = r;
    return DV_OK;
}

DVW_EXPORT uint32_t dvw_replica_worker_count(const dvw_replica *r) { return dv_apply_worker_count(r->ap); }
DVW_EXPORT uint32_t dvw_replica_workers_running(const dvw_replica *r) {
    return dv_apply_workers_running(r->ap);
}
/* Blocks the calling instance's thread in worker loop `index` until dvw_replica_workers_stop. */
DVW_EXPORT int32_t dvw_replica_worker_run(dvw_replica *r, uint32_t index) {
    return dv_apply_worker_run(r->ap, index);
}
DVW_EXPORT void dvw_replica_workers_stop(dvw_replica *r) { dv_apply_workers_stop(r->ap); }
#endif
