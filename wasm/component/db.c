/*
 * db.c -- canonical-ABI adapters of interface `vector-db` (wit/deltavec.wit):
 * the `database` resource over dv_db_* (section 3 of deltavec.h) and the
 * snapshot calls (section 4c).
 *
 * A resource's representation is a dvc_db (cabi.h): the handle holds one
 * reference, each capture or applier of the db one more, so dropping the
 * handle first never leaves them with a freed db.
 *
 * Lengths the C API cannot see are checked here, before any call: a vector
 * or query of another length than dim is DV_EDIM, sparse indices and values
 * of different lengths are DV_EINVAL, an id, key or value holding a NUL byte
 * is DV_EID / DV_EMETA (C strings end at the first NUL).
 */
#include <stdlib.h>
#include <string.h>

#include "cabi.h"

DVC_IMPORT("[export]" DVC_DB_IFACE, "[resource-new]database") int32_t dvc_database_new(int32_t rep);

void dvc_db_ref(dvc_db *w) { w->refs++; }

void dvc_db_unref(dvc_db *w) {
    if (--w->refs > 0) return;
    dv_db_close(w->db);
    free(w);
}

/* result<own<database>, delta-error> for a db just opened (or st). */
static uint8_t *dvc_db_result(dv_status st, dv_db *db, const char *msg) {
    if (st != DV_OK) return dvc_result_unit(st, msg);
    dvc_db *w = malloc(sizeof *w);
    if (!w) {
        dv_db_close(db);
        return dvc_result_unit(DV_ENOMEM, NULL);
    }
    w->db = db;
    w->refs = 1;
    w->captured = 0;
    uint8_t *a = dvc_ret_area();
    dvc_put32(a, 4, (uint32_t)dvc_database_new((int32_t)(uintptr_t)w));
    return a;
}

/* db-config as the record's memory layout (default-config's result). */
static void dvc_put_db_config(uint8_t *a, const dv_db_config *c) {
    dvc_put32(a, 0, c->dim);
    dvc_put8(a, 4, (uint8_t)c->metric);
    dvc_put32(a, 8, c->M);
    dvc_put32(a, 12, c->ef_construction);
    dvc_put32(a, 16, c->ef_search);
    dvc_put64(a, 24, c->seed);
    dvc_putf32(a, 32, c->relink_ratio);
}

DVC_EXPORT(DVC_DB_IFACE "#[static]database.open")
uint8_t *dvc_database_open(uint32_t dim, uint32_t metric, uint32_t m, uint32_t efc, uint32_t efs,
                           uint64_t seed, float relink) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, dim);
    cfg.metric = (dv_metric)metric;
    cfg.M = m;
    cfg.ef_construction = efc;
    cfg.ef_search = efs;
    cfg.seed = seed;
    cfg.relink_ratio = relink;
    dv_db *db = NULL;
    dv_status st = dv_db_open(&cfg, &db);
    return dvc_db_result(st, db, NULL);
}

DVC_EXPORT(DVC_DB_IFACE "#[static]database.default-config")
uint8_t *dvc_database_default_config(uint32_t dim) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, dim);
    uint8_t *a = dvc_ret_area();
    dvc_put_db_config(a, &cfg);
    return a;
}

DVC_EXPORT(DVC_DB_IFACE "#[dtor]database")
void dvc_database_dtor(dvc_db *w) { dvc_db_unref(w); }

/* ---- writes ---------------------------------------------------------------------- */

DVC_EXPORT(DVC_DB_IFACE "#[method]database.insert")
uint8_t *dvc_database_insert(dvc_db *w, uint8_t *id_p, uint32_t id_len, float *vec, uint32_t vec_len,
                             uint8_t *meta_p, uint32_t n_meta) {
    dv_status st;
    char *id = dvc_cstr(id_p, id_len, DV_EID, &st);
    dv_meta_kv *kv = n_meta ? calloc(n_meta, sizeof *kv) : NULL;
    if (st == DV_OK && n_meta && !kv) st = DV_ENOMEM;
    /* Lift every pair (each takes over its strings) even after a failure, so all are freed. */
    for (uint32_t i = 0; i < n_meta; i++) {
        const uint8_t *e = meta_p + (size_t)i * 16;
        uint8_t *kp = (uint8_t *)(uintptr_t)dvc_get32(e, 0), *vp = (uint8_t *)(uintptr_t)dvc_get32(e, 8);
        uint32_t kl = dvc_get32(e, 4), vl = dvc_get32(e, 12);
        dv_status s1, s2;
        char *k = dvc_cstr(kp, kl, DV_EMETA, &s1);
        char *v = dvc_cstr(vp, vl, DV_EMETA, &s2);
        if (st == DV_OK) st = s1 != DV_OK ? s1 : s2;
        if (kv) {
            kv[i].key = k;
            kv[i].value = v;
        } else {
            free(k);
            free(v);
        }
    }
    if (st == DV_OK && vec_len != dv_db_dim(w->db)) st = DV_EDIM;
    if (st == DV_OK) st = dv_db_insert(w->db, id, vec, kv, n_meta);
    for (uint32_t i = 0; kv && i < n_meta; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
    dvc_free_arg(meta_p, n_meta);
    dvc_free_arg(vec, vec_len);
    free(id);
    return dvc_result_unit(st, NULL);
}

DVC_EXPORT(DVC_DB_IFACE "#[method]database.update")
uint8_t *dvc_database_update(dvc_db *w, uint8_t *id_p, uint32_t id_len, float *vec, uint32_t vec_len) {
    dv_status st;
    char *id = dvc_cstr(id_p, id_len, DV_EID, &st);
    if (st == DV_OK && vec_len != dv_db_dim(w->db)) st = DV_EDIM;
    if (st == DV_OK) st = dv_db_update(w->db, id, vec);
    dvc_free_arg(vec, vec_len);
    free(id);
    return dvc_result_unit(st, NULL);
}

DVC_EXPORT(DVC_DB_IFACE "#[method]database.update-sparse")
uint8_t *dvc_database_update_sparse(dvc_db *w, uint8_t *id_p, uint32_t id_len, uint32_t *idx, uint32_t n_idx,
                                    float *vals, uint32_t n_vals) {
    dv_status st;
    char *id = dvc_cstr(id_p, id_len, DV_EID, &st);
    if (st == DV_OK && n_idx != n_vals) st = DV_EINVAL;
    if (st == DV_OK) st = dv_db_update_sparse(w->db, id, idx, vals, n_idx);
    dvc_free_arg(idx, n_idx);
    dvc_free_arg(vals, n_vals);
    free(id);
    return dvc_result_unit(st, NULL);
}

DVC_EXPORT(DVC_DB_IFACE "#[method]database.delete")
uint8_t *dvc_database_delete(dvc_db *w, uint8_t *id_p, uint32_t id_len) {
    dv_status st;
    char *id = dvc_cstr(id_p, id_len, DV_EID, &st);
    if (st == DV_OK) st = dv_db_delete(w->db, id);
    free(id);
    return dvc_result_unit(st, NULL);
}

DVC_EXPORT(DVC_DB_IFACE "#[method]database.set-meta")
uint8_t *dvc_database_set_meta(dvc_db *w, uint8_t *id_p, uint32_t id_len, uint8_t *key_p, uint32_t key_len,
                               uint32_t has_value, uint8_t *val_p, uint32_t val_len) {
    dv_status st, s1, s2 = DV_OK;
    char *id = dvc_cstr(id_p, id_len, DV_EID, &st);
    char *key = dvc_cstr(key_p, key_len, DV_EMETA, &s1);
    char *val = has_value ? dvc_cstr(val_p, val_len, DV_EMETA, &s2) : NULL;
    if (st == DV_OK) st = s1 != DV_OK ? s1 : s2;
    if (st == DV_OK) st = dv_db_set_meta(w->db, id, key, val);
    free(id);
    free(key);
    free(val);
    return dvc_result_unit(st, NULL);
}

DVC_EXPORT(DVC_DB_IFACE "#[method]database.set-ef-search")
uint8_t *dvc_database_set_ef_search(dvc_db *w, uint32_t ef) {
    return dvc_result_unit(dv_db_set_ef_search(w->db, ef), NULL);
}

/* ---- reads ----------------------------------------------------------------------- */

/* result<list<T>, delta-error> with the list at 4 (p is freed by the post-return). */
static uint8_t *dvc_list_result(dv_status st, void *p, uint32_t n) {
    if (st != DV_OK) {
        free(p);
        return dvc_result_unit(st, NULL);
    }
    uint8_t *a = dvc_ret_area();
    dvc_put_list(a, 4, p, n);
    return a;
}

/* Post-return of a result<list<T>, _> whose list the adapter allocated. */
static void dvc_free_list_result(uint8_t *a) {
    if (a[0] == 0) free((void *)(uintptr_t)dvc_get32(a, 4));
}

DVC_EXPORT(DVC_DB_IFACE "#[method]database.get")
uint8_t *dvc_database_get(dvc_db *w, uint8_t *id_p, uint32_t id_len) {
    dv_status st;
    char *id = dvc_cstr(id_p, id_len, DV_EID, &st);
    uint32_t dim = dv_db_dim(w->db);
    float *out = NULL;
    if (st == DV_OK && !(out = malloc(sizeof *out * dim))) st = DV_ENOMEM;
    if (st == DV_OK) st = dv_db_get(w->db, id, out);
    free(id);
    return dvc_list_result(st, out, dim);
}
DVC_EXPORT("cabi_post_" DVC_DB_IFACE "#[method]database.get")
void dvc_database_get_post(uint8_t *a) { dvc_free_list_result(a); }

DVC_EXPORT(DVC_DB_IFACE "#[method]database.meta")
uint8_t *dvc_database_meta(dvc_db *w, uint8_t *id_p, uint32_t id_len) {
    dv_status st;
    char *id = dvc_cstr(id_p, id_len, DV_EID, &st);
    const dv_meta_kv *pairs = NULL;
    size_t n = 0;
    uint8_t *out = NULL;
    if (st == DV_OK) st = dv_db_meta(w->db, id, &pairs, &n);
    if (st == DV_OK && n && !(out = malloc(n * 16))) st = DV_ENOMEM;
    /* The strings point into the db: the host copies them before the next call. */
    for (size_t i = 0; st == DV_OK && i < n; i++) {
        dvc_put_list(out, i * 16, pairs[i].key, (uint32_t)strlen(pairs[i].key));
        dvc_put_list(out, i * 16 + 8, pairs[i].value, (uint32_t)strlen(pairs[i].value));
    }
    free(id);
    return dvc_list_result(st, out, (uint32_t)n);
}
DVC_EXPORT("cabi_post_" DVC_DB_IFACE "#[method]database.meta")
void dvc_database_meta_post(uint8_t *a) { dvc_free_list_result(a); }

/* hits -> list<hit> in place: a dv_hit (id pointer, distance, slot; 12 bytes)
 * becomes a WIT hit (id ptr, id len, distance, slot; 16 bytes). */
static uint8_t *dvc_search_result(dv_status st, dv_hit *hits, size_t n) {
    uint8_t *out = NULL;
    if (st == DV_OK && n && !(out = malloc(n * 16))) st = DV_ENOMEM;
    for (size_t i = 0; st == DV_OK && i < n; i++) {
        dvc_put_list(out, i * 16, hits[i].id, (uint32_t)strlen(hits[i].id));
        dvc_putf32(out, i * 16 + 8, hits[i].distance);
        dvc_put32(out, i * 16 + 12, hits[i].slot);
    }
    free(hits);
    return dvc_list_result(st, out, (uint32_t)n);
}

/* Room for min(k, count) hits: the search never returns more. */
static dv_hit *dvc_hits_alloc(const dv_db *db, uint32_t k) {
    size_t live = dv_db_count(db);
    size_t cap = k < live ? k : live;
    return malloc(sizeof(dv_hit) * (cap ? cap : 1));
}

DVC_EXPORT(DVC_DB_IFACE "#[method]database.search")
uint8_t *dvc_database_search(dvc_db *w, float *q, uint32_t q_len, uint32_t k, uint32_t ef) {
    dv_status st = q_len == dv_db_dim(w->db) ? DV_OK : DV_EDIM;
    dv_hit *hits = dvc_hits_alloc(w->db, k);
    size_t n = 0;
    if (st == DV_OK && !hits) st = DV_ENOMEM;
    if (st == DV_OK) st = dv_db_search(w->db, q, k, ef, hits, &n);
    dvc_free_arg(q, q_len);
    return dvc_search_result(st, hits, n);
}
DVC_EXPORT("cabi_post_" DVC_DB_IFACE "#[method]database.search")
void dvc_database_search_post(uint8_t *a) { dvc_free_list_result(a); }

DVC_EXPORT(DVC_DB_IFACE "#[method]database.search-exact")
uint8_t *dvc_database_search_exact(dvc_db *w, float *q, uint32_t q_len, uint32_t k) {
    dv_status st = q_len == dv_db_dim(w->db) ? DV_OK : DV_EDIM;
    dv_hit *hits = dvc_hits_alloc(w->db, k);
    size_t n = 0;
    if (st == DV_OK && !hits) st = DV_ENOMEM;
    if (st == DV_OK) st = dv_db_search_exact(w->db, q, k, hits, &n);
    dvc_free_arg(q, q_len);
    return dvc_search_result(st, hits, n);
}
DVC_EXPORT("cabi_post_" DVC_DB_IFACE "#[method]database.search-exact")
void dvc_database_search_exact_post(uint8_t *a) { dvc_free_list_result(a); }

DVC_EXPORT(DVC_DB_IFACE "#[method]database.count")
uint32_t dvc_database_count(dvc_db *w) { return (uint32_t)dv_db_count(w->db); }

DVC_EXPORT(DVC_DB_IFACE "#[method]database.dim")
uint32_t dvc_database_dim(dvc_db *w) { return dv_db_dim(w->db); }

DVC_EXPORT(DVC_DB_IFACE "#[method]database.state-hash")
uint64_t dvc_database_state_hash(dvc_db *w) { return dv_db_state_hash(w->db); }

DVC_EXPORT(DVC_DB_IFACE "#[method]database.memory-usage")
uint64_t dvc_database_memory_usage(dvc_db *w) { return dv_db_memory_usage(w->db); }

DVC_EXPORT(DVC_DB_IFACE "#[method]database.clone")
uint8_t *dvc_database_clone(dvc_db *w) {
    dv_db *copy = NULL;
    dv_status st = dv_db_clone(w->db, &copy);
    return dvc_db_result(st, copy, NULL);
}

/* ---- snapshots --------------------------------------------------------------------- */

DVC_EXPORT(DVC_DB_IFACE "#[method]database.snapshot")
uint8_t *dvc_database_snapshot(dvc_db *w, uint64_t sequence) {
    dv_snapshot_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.sequence = sequence;
    meta.mode = DV_STREAM_STRUCTURAL;
    uint64_t size = 0;
    uint8_t *buf = NULL;
    size_t written = 0;
    dv_status st = dv_db_snapshot_size(w->db, &meta, &size);
    if (st == DV_OK && size > UINT32_MAX) st = DV_ETOOBIG;
    if (st == DV_OK && !(buf = malloc((size_t)size))) st = DV_ENOMEM;
    if (st == DV_OK) st = dv_db_snapshot_to_buffer(w->db, &meta, buf, (size_t)size, &written);
    return dvc_list_result(st, buf, (uint32_t)written);
}
DVC_EXPORT("cabi_post_" DVC_DB_IFACE "#[method]database.snapshot")
void dvc_database_snapshot_post(uint8_t *a) { dvc_free_list_result(a); }

static char dvc_snapshot_msg[256];

DVC_EXPORT(DVC_DB_IFACE "#[static]database.from-snapshot")
uint8_t *dvc_database_from_snapshot(uint8_t *bytes, uint32_t len) {
    dv_db *db = NULL;
    dvc_snapshot_msg[0] = 0;
    dv_status st =
        dv_db_snapshot_read(bytes, len, NULL, &db, NULL, dvc_snapshot_msg, sizeof dvc_snapshot_msg);
    dvc_free_arg(bytes, len);
    return dvc_db_result(st, db, dvc_snapshot_msg);
}

DVC_EXPORT(DVC_DB_IFACE "#[static]database.peek-snapshot")
uint8_t *dvc_database_peek_snapshot(uint8_t *bytes, uint32_t len) {
    dv_snapshot_meta meta;
    memset(&meta, 0, sizeof meta);
    dv_status st = dv_snapshot_peek(bytes, len, &meta);
    dvc_free_arg(bytes, len);
    uint8_t *a = dvc_ret_area();
    if (st != DV_OK) { /* payload of result<snapshot-info, _> is 8-aligned */
        dvc_put8(a, 0, 1);
        dvc_put_error(a, 8, st, NULL);
        return a;
    }
    dvc_put64(a, 8, meta.sequence);
    dvc_put64(a, 16, meta.state_hash);
    dvc_put32(a, 24, meta.count);
    dvc_put64(a, 32, meta.size);
    return a;
}
