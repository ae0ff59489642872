/*
 * db.c -- open/close, config validation and the public write/read API.
 *
 * Every write follows the same shape so that a failure leaves the db
 * unchanged and an observer sees a complete, bounded op:
 *   1. validate arguments (no change),
 *   2. reserve/allocate everything that can fail (no logical change),
 *   3. OP_BEGIN with bound_bytes (the observer may refuse: return its status),
 *   4. mutate through the primitives (each emits its event), cannot fail,
 *   5. OP_END.
 * With an observer attached, steps 3-5 run inside the undo journal (txn.c):
 * if the observer could not take an event (capture out of memory while
 * building the delta), it says so at OP_END and the write is undone, so
 * the db and the observer's stream never disagree.
 */
#include <math.h>
#include <string.h>

#include "db/hnsw.h"
#include "db/replay.h"
#include "simd/simd.h"

void dv_db_config_default(dv_db_config *cfg, uint32_t dim) {
    memset(cfg, 0, sizeof *cfg);
    cfg->dim = dim;
    cfg->metric = DV_METRIC_L2;
    cfg->M = 16;
    cfg->ef_construction = 200;
    cfg->ef_search = 50;
    cfg->seed = 42;
    cfg->relink_ratio = 0.5f;
    cfg->allocator = NULL;
    cfg->repair_fraction = 0.1f;
}

static int config_ok(const dv_db_config *c) {
    return c && c->dim >= 1 && c->dim <= DV_MAX_DIM && (unsigned)c->metric <= DV_METRIC_COSINE && c->M >= 2 &&
           c->M <= DV_MAX_M && c->ef_construction >= 1 && c->ef_search >= 1 &&
           c->ef_construction <= (1u << 24) && c->ef_search <= (1u << 24) && c->relink_ratio >= 0.0f &&
           c->relink_ratio <= 1e6f && c->repair_fraction >= 0.0f && c->repair_fraction <= 1.0f;
}

dv_status dv_db_open(const dv_db_config *cfg, dv_db **out) {
    if (!out) return DV_EINVAL;
    *out = NULL;
    if (!config_ok(cfg)) return DV_EINVAL;
    dv_mem m;
    dv_mem_init(&m, cfg->allocator);
    dv_db *db = dv_mem_alloc(&m, sizeof *db);
    if (!db) return DV_ENOMEM;
    memset(db, 0, sizeof *db);
    db->mem = m;
    db->cfg = *cfg;
    db->cfg.allocator = NULL;
    db->dim = cfg->dim;
    db->M = cfg->M;
    db->M0 = 2 * cfg->M;
    db->links0_words = 1 + (size_t)db->M0;
    db->vector_size = (size_t)cfg->dim * 4;
    db->node_size = db->links0_words * 4 + db->vector_size;
    const dv_kernels *k = dv_kernels_best();
    db->l2sq = k->l2sq;
    db->dot = k->dot;
    db->entry = DV_NO_SLOT;
    db->rng = cfg->seed;
    db->level_mult = 1.0 / log((double)cfg->M);
    if (dv_hnsw_scratch_create(&db->mem.a, &db->scratch) != DV_OK) {
        dv_mem_free(&m, db, sizeof *db); /* m, not db->mem: db->mem dies with db */
        return DV_ENOMEM;
    }
    *out = db;
    return DV_OK;
}

void dv_db_close(dv_db *db) {
    if (!db) return;
    /* an attached capture stops and forgets this db (observer.h) */
    if (db->obs.on_close) db->obs.on_close(db->obs.ctx);
    dv_txn_free(db); /* an open transaction is rolled back first */
    for (uint32_t i = 0; i < db->n_slots; i++) {
        dv_slot *si = dv_info(db, i);
        if (!si->live) continue;
        dv_mem_free(&db->mem, si->id, (size_t)si->id_len + 1);
        dv_store_meta_free(db, si->meta);
        if (si->upper) dv_mem_free(&db->mem, si->upper, (size_t)si->level * (db->M + 2) * 4);
    }
    dv_store_free_slots_storage(db);
    dv_ids_free(db);
    dv_mem_free(&db->mem, db->plan, db->plan_cap * 4);
    dv_mem_free(&db->mem, db->inlist, db->inlist_cap * 4);
    dv_hnsw_scratch_destroy(db->scratch);
    dv_mem m = db->mem;
    dv_mem_free(&m, db, sizeof *db);
}

uint32_t dv_db_dim(const dv_db *db) { return db ? db->dim : 0; }
dv_metric dv_db_metric(const dv_db *db) { return db ? db->cfg.metric : DV_METRIC_L2; }
size_t dv_db_count(const dv_db *db) { return db ? db->live : 0; }
const dv_db_config *dv_db_config_of(const dv_db *db) { return &db->cfg; }

void dv_db_set_observer(dv_db *db, const dv_observer *obs) {
    if (!db) return;
    if (obs && obs->on_event) {
        db->obs = *obs;
        db->has_obs = 1;
    } else {
        memset(&db->obs, 0, sizeof db->obs);
        db->has_obs = 0;
    }
}

dv_status dv_db_attach_observer(dv_db *db, const dv_observer *obs) {
    if (!db || !obs || !obs->on_event) return DV_EINVAL;
    if (db->obs.on_event) return DV_ESTATE;
    db->obs = *obs;
    db->has_obs = 0;
    return DV_OK;
}

void dv_db_observe(dv_db *db, int on) {
    if (db) db->has_obs = on && db->obs.on_event;
}

int dv_db_has_observer(const dv_db *db) { return db && db->has_obs; }

dv_status dv_db_set_ef_search(dv_db *db, uint32_t ef) {
    if (!db || ef < 1 || ef > (1u << 24)) return DV_EINVAL;
    db->cfg.ef_search = ef;
    return DV_OK;
}

dv_status dv_db_set_repair_fraction(dv_db *db, float fraction) {
    if (!db || !(fraction >= 0.0f && fraction <= 1.0f)) return DV_EINVAL;
    db->cfg.repair_fraction = fraction;
    return DV_OK;
}

size_t dv_db_memory_usage(const dv_db *db) {
    return db ? db->mem.live_bytes + db->scratch->mem.live_bytes : 0;
}

dv_status dv_db_reserve(dv_db *db, size_t n) {
    if (!db) return DV_EINVAL;
    if (n >= DV_NO_SLOT - 1) return DV_ENOMEM;
    if (n <= db->n_slots) return DV_OK;
    dv_status st = dv_store_reserve(db, (uint32_t)n);
    if (st != DV_OK) return st;
    if (!dv_ids_reserve(db, (uint32_t)n - db->ids.n)) return DV_ENOMEM;
    return dv_hnsw_scratch_reserve(db->scratch, (uint32_t)n, db->cfg.ef_construction);
}

/* Resolves a live id to its slot. */
static dv_status lookup(const dv_db *db, const char *id, size_t *len, uint32_t *slot) {
    if (!dv_id_valid(id, len)) return DV_EID;
    *slot = dv_ids_find(db, id, *len);
    return *slot == DV_NO_SLOT ? DV_ENOTFOUND : DV_OK;
}

/* ---- writes ------------------------------------------------------------- */

/* The journal scope of one observed write: its own transaction, or (inside
 * an open one, e.g. a logical apply) a mark in it. */
typedef struct op_guard {
    int own;
    size_t mark;
    uint64_t rng;
} op_guard;

static dv_status guard_begin(dv_db *db, op_guard *g) {
    g->own = 0;
    g->mark = 0;
    g->rng = db->rng;
    if (!db->has_obs) return DV_OK;
    if (dv_txn_active(db)) {
        g->mark = dv_txn_mark(db);
        return DV_OK;
    }
    dv_status st = dv_txn_begin(db);
    if (st == DV_OK) g->own = 1;
    return st;
}

/* OP_BEGIN was refused: nothing changed. */
static void guard_abort(dv_db *db, op_guard *g) {
    if (g->own) dv_txn_rollback(db);
}

/* OP_END: keep the write, or undo it if the observer failed. */
static dv_status guard_end(dv_db *db, op_guard *g, dv_op_kind op, const char *id) {
    dv_status st = dv_db_emit_end(db, op, id);
    if (st == DV_OK) {
        if (g->own) dv_txn_commit(db);
        return DV_OK;
    }
    if (g->own) {
        dv_txn_rollback(db);
    } else {
        dv_txn_rollback_to(db, g->mark);
        db->rng = g->rng;
    }
    return st;
}

dv_status dv_db_insert(dv_db *db, const char *id, const float *vec, const dv_meta_kv *meta, size_t n_meta) {
    if (!db || !vec) return DV_EINVAL;
    size_t id_len, meta_bytes;
    if (!dv_id_valid(id, &id_len)) return DV_EID;
    dv_status st = dv_store_check_vector(vec, db->dim);
    if (st != DV_OK) return st;
    if ((st = dv_store_check_meta(meta, n_meta, &meta_bytes)) != DV_OK) return st;
    if (dv_ids_find(db, id, id_len) != DV_NO_SLOT) return DV_EEXIST;

    uint64_t rng = db->rng;
    uint32_t level = dv_hnsw_random_level(&rng, db->level_mult);
    uint32_t slot = dv_store_next_slot(db);
    if (slot == db->n_slots && db->n_slots >= DV_NO_SLOT - 1) return DV_ENOMEM;
    if ((st = dv_store_reserve(db, db->n_slots + 1)) != DV_OK) return st;
    if (!dv_ids_reserve(db, 1)) return DV_ENOMEM;
    if ((st = dv_hnsw_scratch_reserve(db->scratch, db->n_slots + 1, db->cfg.ef_construction)) != DV_OK)
        return st;
    dv_node_prep prep;
    if ((st = dv_store_node_prepare(db, id, id_len, meta, n_meta, level, &prep)) != DV_OK) return st;

    uint32_t link_levels = level < db->max_level ? level : db->max_level;
    size_t edges = db->entry == DV_NO_SLOT ? 0 : dv_hnsw_link_edge_bound(db, link_levels);
    size_t bound = dv_db_op_bound_bytes(db, id_len, meta_bytes, edges, (size_t)level + 1);
    op_guard g;
    if ((st = guard_begin(db, &g)) != DV_OK ||
        (st = dv_db_emit_begin(db, DV_WRITE_INSERT, id, bound, edges)) != DV_OK) {
        guard_abort(db, &g);
        dv_store_node_prep_free(db, &prep);
        return st;
    }
    db->rng = rng;
    dv_store_node_attach(db, slot, &prep, vec);
    dv_hnsw_link(db, slot);
    return guard_end(db, &g, DV_WRITE_INSERT, id);
}

/* The checks of dv_db_insert on one item, without the db's own ids. */
static dv_status check_item(const dv_db *db, const dv_insert_item *it) {
    size_t id_len;
    if (!it->vec) return DV_EINVAL;
    if (!dv_id_valid(it->id, &id_len)) return DV_EID;
    dv_status st = dv_store_check_vector(it->vec, db->dim);
    if (st != DV_OK) return st;
    if ((st = dv_store_check_meta(it->meta, it->n_meta, NULL)) != DV_OK) return st;
    return dv_ids_find(db, it->id, id_len) != DV_NO_SLOT ? DV_EEXIST : DV_OK;
}

/* Everything a batch needs before its first insert: each item valid, no id
 * twice, room for n more slots, ids and scratch. */
static dv_status prepare_batch(dv_db *db, const dv_insert_item *items, size_t n) {
    if (n >= DV_NO_SLOT - 1 - (size_t)db->n_slots) return DV_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        dv_status st = check_item(db, &items[i]);
        if (st != DV_OK) return st;
    }
    int nomem;
    if (dv_ids_first_repeat(&db->mem, items, n, &nomem) < n) return DV_EEXIST;
    if (nomem) return DV_ENOMEM;
    uint32_t slots = db->n_slots + (uint32_t)n;
    dv_status st = dv_store_reserve(db, slots);
    if (st != DV_OK) return st;
    if (!dv_ids_reserve(db, (uint32_t)n)) return DV_ENOMEM;
    return dv_hnsw_scratch_reserve(db->scratch, slots, db->cfg.ef_construction);
}

dv_status dv_db_insert_batch(dv_db *db, const dv_insert_item *items, size_t n, size_t *n_done) {
    if (n_done) *n_done = 0;
    if (!db || (n > 0 && !items)) return DV_EINVAL;
    dv_status st = prepare_batch(db, items, n);
    for (size_t i = 0; i < n && st == DV_OK; i++) {
        const dv_insert_item *it = &items[i];
        st = dv_db_insert(db, it->id, it->vec, it->meta, it->n_meta);
        if (st == DV_OK && n_done) *n_done = i + 1;
    }
    return st;
}

/* Squared distance the node moves, and squared distance to its nearest
 * layer-0 neighbour (both L2 on the stored vectors: a scale, not a ranking). */
static int small_move(const dv_db *db, uint32_t slot, const float *vec, const uint32_t *idx,
                      const float *values, size_t n) {
    if (db->cfg.relink_ratio <= 0.0f) return 0;
    const float *old = dv_vec(db, slot);
    float move = 0.0f;
    if (idx) {
        for (size_t i = 0; i < n; i++) {
            float d = values[i] - old[idx[i]];
            move += d * d;
        }
    } else {
        move = db->l2sq(old, vec, db->dim);
    }
    const uint32_t *lst = dv_l0(db, slot);
    if (lst[0] == 0) return 0; /* isolated node: linking is cheap and needed */
    float nearest = -1.0f;
    for (uint32_t j = 0; j < lst[0]; j++) {
        float d = db->l2sq(old, dv_vec(db, lst[1 + j]), db->dim);
        if (nearest < 0.0f || d < nearest) nearest = d;
    }
    float r = db->cfg.relink_ratio;
    return move <= r * r * nearest;
}

static dv_status update_common(dv_db *db, const char *id, const float *vec, const uint32_t *idx,
                               const float *values, size_t n, dv_op_kind op) {
    size_t id_len;
    uint32_t slot;
    dv_status st = lookup(db, id, &id_len, &slot);
    if (st != DV_OK) return st;
    op_guard g;
    if (small_move(db, slot, vec, idx, values, n)) { /* the neighbourhood stands: only the vector changes */
        if ((st = guard_begin(db, &g)) != DV_OK ||
            (st = dv_db_emit_begin(db, op, id, dv_db_op_bound_bytes(db, id_len, idx ? n * 8 : 0, 0, 1), 0)) !=
                DV_OK) {
            guard_abort(db, &g);
            return st;
        }
        dv_store_node_set_vector(db, slot, vec, idx, values, n);
        return guard_end(db, &g, op, id);
    }
    if ((st = dv_hnsw_scratch_reserve(db->scratch, db->n_slots, db->cfg.ef_construction)) != DV_OK) return st;
    size_t unlink_edges;
    if ((st = dv_hnsw_plan_unlink(db, slot, 1, &unlink_edges)) != DV_OK) return st;
    uint32_t level = dv_info(db, slot)->level;
    size_t edges = unlink_edges + dv_hnsw_link_edge_bound(db, level);
    size_t bound = dv_db_op_bound_bytes(db, id_len, idx ? n * 8 : 0, edges, (size_t)level + 1);
    if ((st = guard_begin(db, &g)) != DV_OK || (st = dv_db_emit_begin(db, op, id, bound, edges)) != DV_OK) {
        guard_abort(db, &g);
        db->plan_len = 0;
        return st;
    }
    dv_store_node_set_vector(db, slot, vec, idx, values, n);
    dv_hnsw_apply_unlink(db, slot, 1);
    dv_hnsw_link(db, slot);
    return guard_end(db, &g, op, id);
}

dv_status dv_db_update(dv_db *db, const char *id, const float *vec) {
    if (!db || !vec) return DV_EINVAL;
    size_t len;
    if (!dv_id_valid(id, &len)) return DV_EID;
    dv_status st = dv_store_check_vector(vec, db->dim);
    if (st != DV_OK) return st;
    return update_common(db, id, vec, NULL, NULL, 0, DV_WRITE_UPDATE);
}

dv_status dv_db_update_sparse(dv_db *db, const char *id, const uint32_t *idx, const float *values, size_t n) {
    if (!db) return DV_EINVAL;
    size_t len;
    if (!dv_id_valid(id, &len)) return DV_EID;
    dv_status st = dv_store_check_sparse(db, idx, values, n);
    if (st != DV_OK) return st;
    if (n == 0) { /* nothing changes; still report a missing id */
        uint32_t slot;
        return lookup(db, id, &len, &slot);
    }
    return update_common(db, id, NULL, idx, values, n, DV_WRITE_UPDATE_SPARSE);
}

/* Repair steps are bounded so that one REINDEX delta stays small (its bound
 * is reserved in the capture ring before the step runs). */
#define REPAIR_STEP_EDGES 4096u
#define REPAIR_STEP_PURGES 256u

/* One repair step: the planned list changes, then (purge != 0) up to
 * REPAIR_STEP_PURGES tombstones freed, lowest slots first. */
static dv_status repair_step(dv_db *db, size_t edges, uint32_t layers, uint32_t *purge_from) {
    uint32_t n_purge = 0, end = purge_from ? *purge_from : 0;
    for (; purge_from && end < db->n_slots && n_purge < REPAIR_STEP_PURGES; end++)
        if (dv_info(db, end)->tomb) n_purge++;
    if (edges == 0 && n_purge == 0) return DV_OK;
    size_t bound = dv_db_op_bound_bytes(db, 0, (size_t)n_purge * 8, edges, layers);
    op_guard g;
    dv_status st = guard_begin(db, &g);
    if (st == DV_OK && dv_txn_active(db)) st = dv_txn_reserve(db, edges + n_purge + 4, 0, n_purge);
    if (st == DV_OK) st = dv_db_emit_begin(db, DV_WRITE_REINDEX, NULL, bound, edges);
    if (st != DV_OK) {
        guard_abort(db, &g);
        db->plan_len = 0;
        return st;
    }
    dv_hnsw_apply_repair(db);
    for (uint32_t i = purge_from ? *purge_from : 0; i < end; i++)
        if (dv_info(db, i)->tomb) dv_store_node_purge(db, i);
    if ((st = guard_end(db, &g, DV_WRITE_REINDEX, NULL)) != DV_OK) return st;
    if (purge_from) *purge_from = end;
    return DV_OK;
}

dv_status dv_db_repair(dv_db *db) {
    if (!db) return DV_EINVAL;
    if (db->n_tomb == 0) return DV_OK;
    dv_status st = dv_hnsw_scratch_reserve(db->scratch, db->n_slots, db->cfg.ef_construction);
    if (st != DV_OK) return st;
    /* sweep: afterwards no list holds a tombstone (nothing below adds edges to one) */
    for (uint32_t from = 0; from < db->n_slots;) {
        size_t edges;
        uint32_t next, layers;
        if ((st = dv_hnsw_plan_repair(db, from, REPAIR_STEP_EDGES, &next, &edges, &layers)) != DV_OK)
            return st;
        if ((st = repair_step(db, edges, layers, NULL)) != DV_OK) return st;
        from = next;
    }
    /* purge: every tombstone is unreferenced now */
    for (uint32_t from = 0; db->n_tomb > 0 && from < db->n_slots;)
        if ((st = repair_step(db, 0, 1, &from)) != DV_OK) return st;
    return DV_OK;
}

size_t dv_db_tombstones(const dv_db *db) { return db ? db->n_tomb : 0; }

/* The automatic repair: when tombstones pass repair_fraction of the graph. */
static int repair_due(const dv_db *db) {
    float f = db->cfg.repair_fraction;
    return f > 0.0f && db->n_tomb >= 16 && (double)db->n_tomb > (double)f * (double)(db->live + db->n_tomb);
}

dv_status dv_db_delete(dv_db *db, const char *id) {
    if (!db) return DV_EINVAL;
    size_t id_len;
    uint32_t slot;
    dv_status st = lookup(db, id, &id_len, &slot);
    if (st != DV_OK) return st;
    /* the entry point never is a tombstone: searches start on a vector */
    uint32_t entry = db->entry, top = db->max_level;
    if (entry == slot) {
        entry = dv_hnsw_pick_entry(db, slot, &top);
        if (entry == DV_NO_SLOT) top = 0;
    }
    size_t bound = dv_db_op_bound_bytes(db, id_len, 0, 0, 1);
    /* the id string is freed by the delete: keep the caller's for OP_END */
    op_guard g;
    if ((st = guard_begin(db, &g)) != DV_OK ||
        (st = dv_db_emit_begin(db, DV_WRITE_DELETE, id, bound, 0)) != DV_OK) {
        guard_abort(db, &g);
        return st;
    }
    if (entry != db->entry) dv_graph_set_entry(db, entry, top);
    if (dv_store_node_unreferenced(db, slot))
        dv_store_node_detach(db, slot);
    else
        dv_store_node_tombstone(db, slot);
    if ((st = guard_end(db, &g, DV_WRITE_DELETE, id)) != DV_OK) return st;
    if (repair_due(db)) (void)dv_db_repair(db); /* the delete stands; a failed repair is retried later */
    return DV_OK;
}

dv_status dv_db_set_meta(dv_db *db, const char *id, const char *key, const char *value) {
    if (!db || !key) return DV_EINVAL;
    size_t id_len, kl, vl = 0;
    if (!dv_id_valid(id, &id_len)) return DV_EID;
    if (!dv_db_str_valid(key, DV_MAX_META_KEY_LEN, &kl)) return DV_EMETA;
    if (value && !dv_db_str_valid(value, DV_MAX_META_VALUE_LEN, &vl)) return DV_EMETA;
    uint32_t slot = dv_ids_find(db, id, id_len);
    if (slot == DV_NO_SLOT) return DV_ENOTFOUND;
    dv_meta_prep mp;
    dv_status st = dv_store_meta_prepare(db, slot, key, value, &mp);
    if (st != DV_OK) return st;
    if (mp.noop) return DV_OK;
    size_t bound = dv_db_op_bound_bytes(db, id_len, kl + vl + 8, 0, 1);
    op_guard g;
    if ((st = guard_begin(db, &g)) != DV_OK ||
        (st = dv_db_emit_begin(db, DV_WRITE_SET_META, id, bound, 0)) != DV_OK) {
        guard_abort(db, &g);
        dv_store_meta_prep_free(db, &mp);
        return st;
    }
    dv_store_meta_commit(db, slot, key, &mp);
    return guard_end(db, &g, DV_WRITE_SET_META, id);
}

/* ---- reads -------------------------------------------------------------- */

dv_status dv_db_get(const dv_db *db, const char *id, float *out) {
    if (!db || !out) return DV_EINVAL;
    size_t len;
    uint32_t slot;
    dv_status st = lookup(db, id, &len, &slot);
    if (st != DV_OK) return st;
    memcpy(out, dv_vec(db, slot), (size_t)db->dim * 4);
    return DV_OK;
}

dv_status dv_db_get_meta(const dv_db *db, const char *id, const char *key, const char **value) {
    if (!db || !key || !value) return DV_EINVAL;
    *value = NULL;
    size_t len;
    uint32_t slot;
    dv_status st = lookup(db, id, &len, &slot);
    if (st != DV_OK) return st;
    const dv_meta *m = dv_info(db, slot)->meta;
    for (uint32_t i = 0; m && i < m->n; i++)
        if (strcmp(m->kv[i].key, key) == 0) *value = m->kv[i].value;
    return DV_OK;
}

dv_status dv_db_meta(const dv_db *db, const char *id, const dv_meta_kv **pairs, size_t *n) {
    if (!db || !pairs || !n) return DV_EINVAL;
    *pairs = NULL;
    *n = 0;
    size_t len;
    uint32_t slot;
    dv_status st = lookup(db, id, &len, &slot);
    if (st != DV_OK) return st;
    const dv_meta *m = dv_info(db, slot)->meta;
    if (m && m->n) {
        *pairs = m->kv;
        *n = m->n;
    }
    return DV_OK;
}

dv_status dv_db_iterate(const dv_db *db, dv_visit_fn visit, void *ctx) {
    if (!db || !visit) return DV_EINVAL;
    for (uint32_t i = 0; i < db->n_slots; i++)
        if (dv_info(db, i)->live && !dv_info(db, i)->tomb && visit(ctx, dv_info(db, i)->id, dv_vec(db, i), i))
            break;
    return DV_OK;
}

dv_status dv_db_search(const dv_db *db, const float *query, size_t k, size_t ef, dv_hit *hits,
                       size_t *n_hits) {
    if (!db) return DV_EINVAL;
    return dv_hnsw_search_with(db, db->scratch, query, k, ef, hits, n_hits);
}

dv_status dv_db_search_filtered(const dv_db *db, const float *query, size_t k, size_t ef,
                                const dv_filter *filter, dv_hit *hits, size_t *n_hits) {
    if (!db) return DV_EINVAL;
    return dv_hnsw_search_filtered_with(db, db->scratch, query, k, ef, filter, hits, n_hits, NULL);
}

dv_status dv_db_search_exact(const dv_db *db, const float *query, size_t k, dv_hit *hits, size_t *n_hits) {
    if (!db) return DV_EINVAL;
    return dv_hnsw_exact_with(db, db->scratch, query, k, hits, n_hits);
}
