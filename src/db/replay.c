/*
 * replay.c -- validate and apply observed events (see replay.h).
 *
 * The checks mirror the invariants in db_internal.h: an edge joins two live
 * nodes that both have the layer, never duplicates, never exceeds the
 * degree bound; a deleted node has no incoming edge left and is not the
 * entry point; the entry point is live and on its top level.
 */
#include <string.h>

#include "db/hnsw.h"
#include "db/replay.h"
#include "simd/simd.h"

uint32_t dv_db_slot_of(const dv_db *db, const char *id) {
    size_t len;
    if (!db || !dv_id_valid(id, &len)) return DV_NO_SLOT;
    return dv_ids_find(db, id, len);
}
const char *dv_db_id_of(const dv_db *db, uint32_t slot) {
    return dv_is_vector(db, slot) ? dv_info(db, slot)->id : NULL;
}
void dv_db_prefetch_slot(const dv_db *db, uint32_t slot) {
    if (slot >= db->n_slots) return;
    dv_prefetch_bytes(dv_l0(db, slot), db->links0_words * 4);
    dv_prefetch_bytes(dv_vec(db, slot), db->vector_size);
    dv_prefetch_bytes(dv_info(db, slot), 1);
}

const char *dv_db_lists_incoherence(const dv_db *db, uint32_t slot) {
    if (!dv_is_vector(db, slot)) return NULL;
    for (uint32_t l = 0; l <= dv_info(db, slot)->level; l++) {
        const uint32_t *lst = dv_list(db, slot, l);
        uint32_t n = lst[0];
        if (n > dv_maxdeg(db, l)) return "degree bound";
        /* the neighbours' records sit at random places: all are asked for
         * before the first is read, so their misses overlap */
        for (uint32_t j = 1; j <= n; j++)
            if (lst[j] < db->n_slots) dv_prefetch_bytes(dv_info(db, lst[j]), 1);
        for (uint32_t j = 1; j <= n; j++) /* a tombstone is still a graph node */
            if (!dv_is_live(db, lst[j]) || dv_info(db, lst[j])->level < l) return "edge to a missing node";
    }
    return NULL;
}

const float *dv_db_vector_of(const dv_db *db, uint32_t slot) {
    return dv_is_vector(db, slot) ? dv_vec(db, slot) : NULL;
}
uint32_t dv_db_level_of(const dv_db *db, uint32_t slot) {
    return dv_is_live(db, slot) ? dv_info(db, slot)->level : 0;
}
int dv_db_slot_live(const dv_db *db, uint32_t slot) { return dv_is_vector(db, slot); }
int dv_db_slot_in_graph(const dv_db *db, uint32_t slot) { return dv_is_live(db, slot); }
dv_status dv_db_meta_of(const dv_db *db, uint32_t slot, const dv_meta_kv **pairs, size_t *n) {
    *pairs = NULL;
    *n = 0;
    if (!dv_is_vector(db, slot)) return DV_ENOTFOUND;
    const dv_meta *m = dv_info(db, slot)->meta;
    if (m && m->n) {
        *pairs = m->kv;
        *n = m->n;
    }
    return DV_OK;
}
dv_status dv_db_neighbours(const dv_db *db, uint32_t slot, uint32_t layer, const uint32_t **list,
                           uint32_t *n) {
    *list = NULL;
    *n = 0;
    if (!dv_is_live(db, slot)) return DV_ENOTFOUND;
    if (layer > dv_info(db, slot)->level) return DV_EINVAL;
    const uint32_t *l = dv_list(db, slot, layer);
    *list = l + 1;
    *n = l[0];
    return DV_OK;
}
void dv_db_entry(const dv_db *db, uint32_t *entry, uint32_t *max_level) {
    *entry = db->entry;
    *max_level = db->max_level;
}
uint32_t dv_db_slot_capacity(const dv_db *db) { return db->n_slots; }
uint32_t dv_db_max_degree(const dv_db *db, uint32_t layer) { return dv_maxdeg(db, layer); }
uint32_t dv_db_highest_level(const dv_db *db) {
    uint32_t top = 0;
    for (uint32_t i = 0; i < db->n_slots; i++)
        if (dv_info(db, i)->live && !dv_info(db, i)->tomb && dv_info(db, i)->level > top)
            top = dv_info(db, i)->level;
    return top;
}

int dv_db_insert_moves_lists(const dv_db *db, uint32_t slot) {
    uint32_t need = slot >= db->n_slots ? slot + 1 : db->n_slots;
    return need > db->cap;
}

dv_status dv_db_reserve_for_replay(dv_db *db, uint32_t slot, uint32_t level) {
    if (!db || slot >= DV_NO_SLOT - 1 || level > DV_MAX_LEVEL) return DV_EINVAL;
    uint32_t need = slot >= db->n_slots ? slot + 1 : db->n_slots;
    dv_status st = dv_store_reserve(db, need);
    if (st != DV_OK) return st;
    if (!dv_ids_reserve(db, 1)) return DV_ENOMEM;
    return dv_hnsw_scratch_reserve(db->scratch, need, db->cfg.ef_construction);
}

/* ---- checks ------------------------------------------------------------- */

dv_status dv_db_edge_check_ends(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to) {
    if (!dv_is_live(db, from) || !dv_is_live(db, to)) return DV_EINCOHERENT;
    if (layer > dv_info(db, from)->level || layer > dv_info(db, to)->level || from == to)
        return DV_EINCOHERENT;
    return DV_OK;
}

/* An edge's checks, split by what a run of edges shares (dv_db_replay_edges
 * checks a list's node once per run: the producer emits a list's removals,
 * then its additions, back to back). A removal needs no check of `to`: a
 * list holds only graph nodes of at least its layer (the invariants), so
 * finding `to` in it is the whole check; an addition checks `to`, the
 * duplicate and the bound. */
static int from_valid(const dv_db *db, uint32_t from, uint32_t layer) {
    return dv_is_live(db, from) && layer <= dv_info(db, from)->level;
}

static int add_valid(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to, const uint32_t *lst) {
    if (!dv_is_live(db, to) || layer > dv_info(db, to)->level || from == to) return 0;
    return lst[0] < dv_maxdeg(db, layer) && !dv_graph_has_edge(db, from, layer, to);
}

static dv_status check_edge(const dv_db *db, const dv_event *ev) {
    uint32_t from = ev->slot, to = ev->u.edge.to, l = ev->u.edge.layer;
    if (!from_valid(db, from, l)) return DV_EINCOHERENT;
    const uint32_t *lst = dv_list(db, from, l);
    if (ev->kind == DV_EV_EDGE_REMOVE) return dv_graph_find(lst, to) < lst[0] ? DV_OK : DV_EINCOHERENT;
    return add_valid(db, from, l, to, lst) ? DV_OK : DV_EINCOHERENT;
}

static dv_status check_insert(const dv_db *db, const dv_event *ev) {
    uint32_t s = ev->slot;
    size_t len;
    if (s >= DV_NO_SLOT - 1 || !ev->u.insert.vec) return DV_EINVAL;
    if (ev->u.insert.level > DV_MAX_LEVEL) return DV_ECONSTRAINT; /* well-formed, beyond this db's levels */
    if (dv_is_live(db, s)) return DV_ECONFLICT;
    /* slots are assigned densely: a free slot or exactly the next one; a slot
     * further out would leave uninitialised gap slots and grow the store from
     * a wire value */
    if (s > db->n_slots) return DV_ECONSTRAINT;
    if (!dv_id_valid(ev->u.insert.id, &len)) return DV_EID;
    if (dv_ids_find(db, ev->u.insert.id, len) != DV_NO_SLOT) return DV_ECONFLICT;
    dv_status st = dv_store_check_vector(ev->u.insert.vec, db->dim);
    if (st != DV_OK) return st;
    return dv_store_check_meta(ev->u.insert.meta, ev->u.insert.n_meta, NULL);
}

/* A vector delete: the entry point must have moved off the node first (it
 * then becomes a tombstone, or is freed when nothing points to it). */
static dv_status check_delete(const dv_db *db, const dv_event *ev) {
    uint32_t s = ev->slot;
    if (!dv_is_vector(db, s)) return DV_ENOTFOUND;
    if (db->entry == s) return DV_EINCOHERENT;
    return DV_OK;
}

/* A purge frees a tombstone no edge points to. */
static dv_status check_purge(const dv_db *db, const dv_event *ev) {
    uint32_t s = ev->slot;
    if (!dv_is_live(db, s) || !dv_info(db, s)->tomb) return DV_ENOTFOUND;
    return dv_store_node_unreferenced(db, s) ? DV_OK : DV_EINCOHERENT; /* would dangle */
}

dv_status dv_db_replay_check(const dv_db *db, const dv_event *ev) {
    if (!db || !ev) return DV_EINVAL;
    switch (ev->kind) {
    case DV_EV_OP_BEGIN:
    case DV_EV_OP_END:
        return DV_OK;
    case DV_EV_VECTOR_INSERT:
        return check_insert(db, ev);
    case DV_EV_VECTOR_UPDATE:
        if (!dv_is_vector(db, ev->slot)) return DV_ENOTFOUND;
        if (ev->u.update.idx)
            return dv_store_check_sparse(db, ev->u.update.idx, ev->u.update.values, ev->u.update.n);
        if (!ev->u.update.new_vec) return DV_EINVAL;
        return dv_store_check_vector(ev->u.update.new_vec, db->dim);
    case DV_EV_VECTOR_DELETE:
        return check_delete(db, ev);
    case DV_EV_VECTOR_PURGE:
        return check_purge(db, ev);
    case DV_EV_META_SET: {
        size_t kl, vl;
        if (!dv_is_vector(db, ev->slot)) return DV_ENOTFOUND;
        if (!ev->u.meta.key || !dv_db_str_valid(ev->u.meta.key, DV_MAX_META_KEY_LEN, &kl)) return DV_EMETA;
        if (ev->u.meta.value && !dv_db_str_valid(ev->u.meta.value, DV_MAX_META_VALUE_LEN, &vl))
            return DV_EMETA;
        return DV_OK;
    }
    case DV_EV_EDGE_ADD:
    case DV_EV_EDGE_REMOVE:
        return check_edge(db, ev);
    case DV_EV_ENTRY:
        if (ev->u.entry.entry == DV_NO_SLOT) return ev->u.entry.max_level == 0 ? DV_OK : DV_EINCOHERENT;
        if (!dv_is_vector(db, ev->u.entry.entry)) return DV_EINCOHERENT; /* never a tombstone */
        return dv_info(db, ev->u.entry.entry)->level == ev->u.entry.max_level ? DV_OK : DV_EINCOHERENT;
    }
    return DV_EBADOP;
}

/* ---- apply -------------------------------------------------------------- */

static dv_status replay_insert(dv_db *db, const dv_event *ev) {
    uint32_t s = ev->slot;
    size_t len = strlen(ev->u.insert.id);
    dv_status st = dv_db_reserve_for_replay(db, s, ev->u.insert.level);
    if (st != DV_OK) return st;
    dv_node_prep prep;
    st = dv_store_node_prepare(db, ev->u.insert.id, len, ev->u.insert.meta, ev->u.insert.n_meta,
                               ev->u.insert.level, &prep);
    if (st != DV_OK) return st;
    dv_store_node_attach(db, s, &prep, ev->u.insert.vec);
    /* the primary drew this level from its generator: advance ours the same
     * way, so a replica (or a db recovered from its log) that takes writes
     * itself later draws the levels the primary would have drawn (one step
     * of the generator; the level itself, a log(), is not needed) */
    dv_hnsw_skip_level(&db->rng);
    return DV_OK;
}

/* How many edges ahead dv_db_replay_edges reads: enough misses in flight
 * to hide memory latency, few enough that the lines are still in L1. */
#define EDGE_PREFETCH_AHEAD 8

/* The slot records of both ends and, on layer 0 (1 + 2M words in the
 * links0 array: up to 3 lines), from's list. An upper list's address is in
 * from's record, itself being fetched: not chased. Reads only what does not
 * change while parallel apply's workers run (info, links0, links0_words),
 * so a worker may call it on edges the dispatcher checked.
 * always_inline: a function made only of prefetches has no side effect,
 * so gcc would mark it const and drop the calls. */
static inline __attribute__((always_inline)) void prefetch_ends(const dv_db *db, uint32_t from,
                                                                uint32_t layer, uint32_t to) {
    __builtin_prefetch(dv_info(db, from));
    __builtin_prefetch(dv_info(db, to));
    if (layer == 0) dv_prefetch_bytes(dv_l0(db, from), db->links0_words * 4);
}

/* The same for unchecked (wire) slots: nothing outside the store. */
static inline __attribute__((always_inline)) void prefetch_edge(const dv_db *db, uint32_t from,
                                                                uint32_t layer, uint32_t to) {
    if (from < db->n_slots && to < db->n_slots) prefetch_ends(db, from, layer, to);
}

void dv_db_edge_prefetch(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to) {
    prefetch_edge(db, from, layer, to);
}

void dv_db_edge_prefetch_checked(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to) {
    prefetch_ends(db, from, layer, to);
}

static void edge_at(const void *edges, size_t stride, size_t i, uint32_t *from, uint32_t *to) {
    const unsigned char *p = (const unsigned char *)edges + i * stride;
    memcpy(from, p, 4);
    memcpy(to, p + 4, 4);
}

dv_status dv_db_replay_edges(dv_db *db, dv_event_kind kind, uint32_t layer, const void *edges, size_t stride,
                             size_t n, size_t *failed) {
    if (!db || (n && !edges) || (kind != DV_EV_EDGE_ADD && kind != DV_EV_EDGE_REMOVE)) return DV_EINVAL;
    uint32_t from, to, checked = DV_NO_SLOT;
    for (size_t i = 0; i < n && i < EDGE_PREFETCH_AHEAD; i++) {
        edge_at(edges, stride, i, &from, &to);
        prefetch_edge(db, from, layer, to);
    }
    for (size_t i = 0; i < n; i++) {
        if (i + EDGE_PREFETCH_AHEAD < n) {
            edge_at(edges, stride, i + EDGE_PREFETCH_AHEAD, &from, &to);
            prefetch_edge(db, from, layer, to);
        }
        edge_at(edges, stride, i, &from, &to);
        if (from != checked) {
            if (!from_valid(db, from, layer)) goto incoherent;
            checked = from;
        }
        const uint32_t *lst = dv_list(db, from, layer);
        if (kind == DV_EV_EDGE_REMOVE) {
            uint32_t j = dv_graph_find(lst, to);
            if (j == lst[0]) goto incoherent;
            dv_graph_remove_at(db, from, layer, j);
        } else {
            if (!add_valid(db, from, layer, to, lst)) goto incoherent;
            float dist;
            memcpy(&dist, (const unsigned char *)edges + i * stride + 8, 4);
            dv_graph_add_edge(db, from, layer, to, dist);
        }
        continue;
    incoherent:
        *failed = i;
        return DV_EINCOHERENT;
    }
    return DV_OK;
}

void dv_db_vector_set_owned(dv_db *db, uint32_t slot, const uint32_t *idx, const float *values, size_t n,
                            float *old_out, float *old_inv_norm) {
    float *v = dv_vec(db, slot);
    memcpy(old_out, v, (size_t)db->dim * 4);
    *old_inv_norm = dv_info(db, slot)->inv_norm;
    if (idx)
        dv_scatter(v, idx, values, n);
    else
        memcpy(v, values, (size_t)db->dim * 4);
    dv_info(db, slot)->inv_norm = dv_store_inv_norm(db, v);
}

void dv_db_vector_restore_owned(dv_db *db, uint32_t slot, const float *old, float old_inv_norm) {
    memcpy(dv_vec(db, slot), old, (size_t)db->dim * 4);
    dv_info(db, slot)->inv_norm = old_inv_norm;
}

dv_status dv_db_replay(dv_db *db, const dv_event *ev) {
    dv_status st = dv_db_replay_check(db, ev);
    if (st != DV_OK) return st;
    switch (ev->kind) {
    case DV_EV_OP_BEGIN: {
        db->op_edges = 0;
        return dv_db_emit(db, ev);
    }
    case DV_EV_OP_END: /* an observer that lost an event says so here: the caller rolls back */
        return dv_db_emit(db, ev);
    case DV_EV_VECTOR_INSERT:
        return replay_insert(db, ev);
    case DV_EV_VECTOR_UPDATE:
        if (ev->u.update.idx)
            dv_store_node_set_vector(db, ev->slot, NULL, ev->u.update.idx, ev->u.update.values,
                                     ev->u.update.n);
        else
            dv_store_node_set_vector(db, ev->slot, ev->u.update.new_vec, NULL, NULL, 0);
        return DV_OK;
    case DV_EV_VECTOR_DELETE: /* the same rule as dv_db_delete */
        if (dv_store_node_unreferenced(db, ev->slot))
            dv_store_node_detach(db, ev->slot);
        else
            dv_store_node_tombstone(db, ev->slot);
        return DV_OK;
    case DV_EV_VECTOR_PURGE:
        dv_store_node_purge(db, ev->slot);
        return DV_OK;
    case DV_EV_META_SET: {
        dv_meta_prep mp;
        st = dv_store_meta_prepare(db, ev->slot, ev->u.meta.key, ev->u.meta.value, &mp);
        if (st != DV_OK) return st;
        if (mp.noop) return DV_OK;
        dv_store_meta_commit(db, ev->slot, ev->u.meta.key, &mp);
        return DV_OK;
    }
    case DV_EV_EDGE_ADD:
        dv_graph_add_edge(db, ev->slot, ev->u.edge.layer, ev->u.edge.to, ev->u.edge.distance);
        return DV_OK;
    case DV_EV_EDGE_REMOVE:
        dv_graph_remove_edge(db, ev->slot, ev->u.edge.layer, ev->u.edge.to);
        return DV_OK;
    case DV_EV_ENTRY:
        dv_graph_set_entry(db, ev->u.entry.entry, ev->u.entry.max_level);
        return DV_OK;
    }
    return DV_EBADOP;
}
