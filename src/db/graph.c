/*
 * graph.c -- the only code that changes neighbour lists or the entry point.
 *
 * Each primitive applies one change and reports it to the observer, so what
 * the observer sees is, by construction, exactly what a replica must replay:
 *  - add_edge appends `to` to from's list (in-degree of `to` + 1);
 *  - remove_edge removes `to` keeping the order of the rest;
 *  - set_entry sets entry point and max level.
 * Also the OP_BEGIN/OP_END bracketing and the bound_bytes formula, and the
 * list part of parallel apply's edge replay (dv_db_edge_apply_owned, see
 * replay.h): the same list changes, run by the worker owning the list,
 * with the target's in-degree changed atomically.
 */
#include <string.h>

#include "db/db_internal.h"

/* A zeroed event of `kind` about `slot`; the caller fills its union part. */
static dv_event event_of(dv_event_kind kind, uint32_t slot) {
    dv_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.slot = slot;
    return ev;
}

dv_status dv_db_emit(dv_db *db, const dv_event *ev) {
    if (!db->has_obs) return DV_OK;
    return db->obs.on_event(db->obs.ctx, ev);
}

size_t dv_db_op_bound_bytes(const dv_db *db, size_t id_len, size_t meta_bytes, size_t edge_events,
                            size_t layers) {
    return 64 + id_len + (size_t)db->dim * 4 * 2 + meta_bytes + 16 + edge_events * 12 + 64 * layers;
}

dv_status dv_db_emit_begin(dv_db *db, dv_op_kind op, const char *id, size_t bound_bytes, size_t edge_bound) {
    dv_event ev = event_of(DV_EV_OP_BEGIN, DV_NO_SLOT);
    ev.u.op.op = op;
    ev.u.op.id = id;
    ev.u.op.bound_bytes = bound_bytes;
    db->op_edges = 0;
    db->op_edge_bound = edge_bound;
    if (dv_txn_active(db)) { /* journal room for the whole op, before any change */
        dv_status st = dv_txn_reserve(db, edge_bound + 4, 1, 1);
        if (st != DV_OK) return st;
    }
    return dv_db_emit(db, &ev);
}

dv_status dv_db_emit_end(dv_db *db, dv_op_kind op, const char *id) {
    dv_event ev = event_of(DV_EV_OP_END, DV_NO_SLOT);
    ev.u.op.op = op;
    ev.u.op.id = id;
    return dv_db_emit(db, &ev);
}

/* No early exit: the usual answer is "no" (the whole list is read anyway),
 * and a branch-free OR over the list lets the compiler vectorize it. Delete
 * repair scans whole layers with it. */
int dv_graph_has_edge(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to) {
    const uint32_t *lst = dv_list(db, from, layer);
    const uint32_t n = lst[0], *e = lst + 1;
    uint32_t hit = 0;
    for (uint32_t j = 0; j < n; j++) hit |= (uint32_t)(e[j] == to);
    return (int)hit;
}

void dv_graph_add_edge(dv_db *db, uint32_t from, uint32_t layer, uint32_t to, float d) {
    uint32_t *lst = dv_list(db, from, layer);
    lst[1 + lst[0]] = to;
    lst[0]++;
    (*dv_indeg(db, to, layer))++;
    if (dv_txn_active(db)) dv_txn_log_edge_add(db, from, layer, to);
    db->op_edges++;
    if (!db->has_obs) return; /* a replica without chained capture: no event to build */
    dv_event ev = event_of(DV_EV_EDGE_ADD, from);
    ev.u.edge.layer = layer;
    ev.u.edge.to = to;
    ev.u.edge.distance = d;
    dv_db_emit(db, &ev);
}

void dv_graph_remove_edge(dv_db *db, uint32_t from, uint32_t layer, uint32_t to) {
    const uint32_t *lst = dv_list(db, from, layer);
    uint32_t j = dv_graph_find(lst, to);
    if (j == lst[0]) return; /* callers only remove existing edges */
    dv_graph_remove_at(db, from, layer, j);
}

void dv_graph_remove_at(dv_db *db, uint32_t from, uint32_t layer, uint32_t j) {
    uint32_t *lst = dv_list(db, from, layer);
    uint32_t n = lst[0], to = lst[1 + j];
    memmove(lst + 1 + j, lst + 2 + j, (size_t)(n - j - 1) * 4);
    lst[0] = n - 1;
    (*dv_indeg(db, to, layer))--;
    if (dv_txn_active(db)) dv_txn_log_edge_remove(db, from, layer, to, j);
    db->op_edges++;
    if (!db->has_obs) return;
    dv_event ev = event_of(DV_EV_EDGE_REMOVE, from);
    ev.u.edge.layer = layer;
    ev.u.edge.to = to;
    dv_db_emit(db, &ev);
}

void dv_graph_set_entry(dv_db *db, uint32_t entry, uint32_t max_level) {
    if (dv_txn_active(db)) dv_txn_log_entry(db, db->entry, db->max_level);
    db->entry = entry;
    db->max_level = max_level;
    dv_event ev = event_of(DV_EV_ENTRY, entry);
    ev.u.entry.entry = entry;
    ev.u.entry.max_level = max_level;
    dv_db_emit(db, &ev);
}

/* ---- edge replay by the worker owning the list (replay.h) ------------------ */

dv_status dv_db_edge_apply_owned(dv_db *db, dv_event_kind kind, uint32_t from, uint32_t layer, uint32_t to,
                                 uint32_t *pos) {
    uint32_t *lst = dv_list(db, from, layer);
    uint32_t n = lst[0], j = dv_graph_find(lst, to);
    uint32_t *indeg = dv_indeg(db, to, layer);
    if (kind == DV_EV_EDGE_ADD) {
        if (j < n || n >= dv_maxdeg(db, layer)) return DV_EINCOHERENT; /* duplicate or degree bound */
        lst[1 + n] = to;
        lst[0] = n + 1;
        __atomic_fetch_add(indeg, 1u, __ATOMIC_RELAXED);
    } else {
        if (j == n) return DV_EINCOHERENT; /* no such edge */
        memmove(lst + 1 + j, lst + 2 + j, (size_t)(n - j - 1) * 4);
        lst[0] = n - 1;
        __atomic_fetch_sub(indeg, 1u, __ATOMIC_RELAXED);
    }
    *pos = j;
    return DV_OK;
}

void dv_db_edge_undo_owned(dv_db *db, dv_event_kind kind, uint32_t from, uint32_t layer, uint32_t to,
                           uint32_t pos) {
    uint32_t *lst = dv_list(db, from, layer);
    uint32_t n = lst[0];
    uint32_t *indeg = dv_indeg(db, to, layer);
    if (kind == DV_EV_EDGE_ADD) {
        lst[0] = n - 1; /* it was appended, and everything applied after it is undone already */
        __atomic_fetch_sub(indeg, 1u, __ATOMIC_RELAXED);
    } else {
        memmove(lst + 2 + pos, lst + 1 + pos, (size_t)(n - pos) * 4);
        lst[1 + pos] = to;
        lst[0] = n + 1;
        __atomic_fetch_add(indeg, 1u, __ATOMIC_RELAXED);
    }
}
