/*
 * events.c -- a decoded delta back into the observer events it came from,
 * in the replay order documented in delta.h (apply feeds these to
 * dv_db_replay()).
 */
#include <string.h>

#include "delta/delta.h"

static dv_op_kind write_kind(const dv_delta *d) {
    switch (d->h.operation) {
    case DV_OP_INSERT:
        return DV_WRITE_INSERT;
    case DV_OP_DELETE:
        return DV_WRITE_DELETE;
    case DV_OP_REINDEX:
        return DV_WRITE_REINDEX;
    default:
        break;
    }
    if (d->vkind == DV_VEC_DENSE || d->vkind == DV_VEC_DENSE_XOR) return DV_WRITE_UPDATE;
    if (d->vkind == DV_VEC_SPARSE) return DV_WRITE_UPDATE_SPARSE;
    return DV_WRITE_SET_META;
}

static dv_status emit_op(const dv_delta *d, dv_event_kind k, dv_event_fn fn, void *ctx) {
    dv_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = k;
    ev.slot = d->id ? d->slot : DV_NO_SLOT;
    ev.u.op.op = write_kind(d);
    ev.u.op.id = d->id;
    ev.u.op.bound_bytes = 0;
    return fn(ctx, &ev);
}

/* The per-event or per-section consumer of one walk over a delta. */
typedef struct sink {
    dv_event_fn fn;
    dv_section_fn sec_fn; /* NULL: sections are expanded into edge events */
    void *ctx;
} sink;

static dv_status emit_hnsw(const dv_delta *d, const sink *out) {
    dv_event_fn fn = out->fn;
    void *ctx = out->ctx;
    dv_status s;
    dv_event ev;
    for (uint32_t i = 0; i < d->n_sections; i++) {
        const dv_hnsw_section *sec = &d->sections[i];
        if (out->sec_fn) {
            if ((s = out->sec_fn(ctx, sec))) return s;
            continue;
        }
        for (uint32_t k = 0; k < sec->n_remove; k++) {
            memset(&ev, 0, sizeof ev);
            ev.kind = DV_EV_EDGE_REMOVE;
            ev.slot = sec->removes[k].from;
            ev.u.edge.layer = sec->layer;
            ev.u.edge.to = sec->removes[k].to;
            if ((s = fn(ctx, &ev))) return s;
        }
        for (uint32_t k = 0; k < sec->n_add; k++) {
            memset(&ev, 0, sizeof ev);
            ev.kind = DV_EV_EDGE_ADD;
            ev.slot = sec->adds[k].from;
            ev.u.edge.layer = sec->layer;
            ev.u.edge.to = sec->adds[k].to;
            ev.u.edge.distance = sec->adds[k].dist;
            if ((s = fn(ctx, &ev))) return s;
        }
    }
    return DV_OK;
}

int dv_delta_vector_event(const dv_delta *d, dv_event *ev) {
    memset(ev, 0, sizeof *ev);
    ev->slot = d->slot;
    switch (d->vkind) {
    case DV_VEC_INSERT:
        ev->kind = DV_EV_VECTOR_INSERT;
        ev->u.insert.id = d->id;
        ev->u.insert.vec = d->values;
        ev->u.insert.meta = d->meta;
        ev->u.insert.n_meta = d->n_meta;
        ev->u.insert.level = d->level;
        return 1;
    case DV_VEC_DENSE:
        ev->kind = DV_EV_VECTOR_UPDATE;
        ev->u.update.new_vec = d->values;
        ev->u.update.n = d->dim;
        return 1;
    case DV_VEC_SPARSE:
        ev->kind = DV_EV_VECTOR_UPDATE;
        ev->u.update.idx = d->idx;
        ev->u.update.values = d->values;
        ev->u.update.n = d->n;
        return 1;
    case DV_VEC_DELETE:
        ev->kind = DV_EV_VECTOR_DELETE;
        ev->u.del.id = d->id;
        return 1;
    case DV_VEC_DENSE_XOR:
        return -1;
    default:
        return 0;
    }
}

static dv_status emit_vector(const dv_delta *d, dv_event_fn fn, void *ctx) {
    dv_event ev;
    int has = dv_delta_vector_event(d, &ev);
    if (has < 0) return DV_EINVAL;
    return has ? fn(ctx, &ev) : DV_OK;
}

/* UPDATE metadata operations (INSERT metadata travels in VECTOR_INSERT). */
static dv_status emit_meta(const dv_delta *d, dv_event_fn fn, void *ctx) {
    if (d->h.operation != DV_OP_UPDATE) return DV_OK;
    for (uint32_t i = 0; i < d->n_meta; i++) {
        dv_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = DV_EV_META_SET;
        ev.slot = d->slot;
        ev.u.meta.key = d->meta[i].key;
        ev.u.meta.value = d->meta[i].value;
        dv_status s = fn(ctx, &ev);
        if (s) return s;
    }
    return DV_OK;
}

static dv_status emit_purge(const dv_delta *d, dv_event_fn fn, void *ctx) {
    for (uint32_t i = 0; i < d->n_purge; i++) {
        dv_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = DV_EV_VECTOR_PURGE;
        ev.slot = d->purge[i];
        dv_status s = fn(ctx, &ev);
        if (s) return s;
    }
    return DV_OK;
}

static dv_status emit_entry(const dv_delta *d, dv_event_fn fn, void *ctx) {
    if (!d->has_entry) return DV_OK;
    dv_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = DV_EV_ENTRY;
    ev.slot = d->entry;
    ev.u.entry.entry = d->entry;
    ev.u.entry.max_level = d->max_level;
    return fn(ctx, &ev);
}

static dv_status walk(const dv_delta *d, const sink *k) {
    dv_event_fn fn = k->fn;
    void *ctx = k->ctx;
    dv_status s;
    if (d->h.operation == DV_OP_BATCH) {
        for (uint32_t i = 0; i < d->n_sub; i++)
            if ((s = walk(&d->subs[i], k))) return s;
        return DV_OK;
    }
    if ((s = emit_op(d, DV_EV_OP_BEGIN, fn, ctx))) return s;
    if (d->vkind == DV_VEC_DELETE) {
        /* The primary moves the entry point off a node before detaching it. */
        if ((s = emit_hnsw(d, k)) || (s = emit_entry(d, fn, ctx)) || (s = emit_vector(d, fn, ctx))) return s;
    } else {
        if ((s = emit_vector(d, fn, ctx)) || (s = emit_meta(d, fn, ctx)) || (s = emit_hnsw(d, k)) ||
            (s = emit_entry(d, fn, ctx)) || (s = emit_purge(d, fn, ctx)))
            return s;
    }
    return emit_op(d, DV_EV_OP_END, fn, ctx);
}

dv_status dv_delta_to_events(const dv_delta *d, dv_event_fn fn, void *ctx) {
    if (!d || !fn) return DV_EINVAL;
    sink k = {fn, NULL, ctx};
    return walk(d, &k);
}

dv_status dv_delta_to_events_sections(const dv_delta *d, dv_event_fn fn, dv_section_fn sec_fn, void *ctx) {
    if (!d || !fn || !sec_fn) return DV_EINVAL;
    sink k = {fn, sec_fn, ctx};
    return walk(d, &k);
}
