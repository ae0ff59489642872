/*
 * clone.c -- dv_db_clone(): a deep copy of a db (same allocator, config,
 * slots, free-slot stack, graph, entry point and level PRNG state), used to
 * start a replica from a copy of the primary. The observer is not copied.
 */
#include <string.h>

#include "db/hnsw.h"

/* A tombstone keeps only its graph part: no id or metadata is copied. */
static dv_status clone_tombstone(dv_db *dst, const dv_db *src, uint32_t i) {
    const dv_slot *s = dv_info(src, i);
    dv_slot *d = dv_info(dst, i);
    if (s->level) {
        size_t words = (size_t)s->level * (src->M + 2);
        d->upper = dv_mem_alloc(&dst->mem, words * 4);
        if (!d->upper) return DV_ENOMEM;
        memcpy(d->upper, s->upper, words * 4);
    }
    d->inv_norm = s->inv_norm;
    d->indeg0 = s->indeg0;
    d->level = s->level;
    d->live = 1;
    d->tomb = 1;
    return DV_OK;
}

static dv_status clone_slot(dv_db *dst, const dv_db *src, uint32_t i) {
    const dv_slot *s = dv_info(src, i);
    if (s->tomb) return clone_tombstone(dst, src, i);
    dv_node_prep p;
    const dv_meta_kv *kv = s->meta ? s->meta->kv : NULL;
    dv_status st = dv_store_node_prepare(dst, s->id, s->id_len, kv, s->meta ? s->meta->n : 0, s->level, &p);
    if (st != DV_OK) return st;
    dv_slot *d = dv_info(dst, i);
    d->id = p.id;
    d->id_len = s->id_len;
    d->meta = p.meta;
    d->meta_sig = s->meta_sig;
    d->upper = p.upper;
    if (s->upper) memcpy(d->upper, s->upper, (size_t)s->level * (src->M + 2) * 4);
    d->inv_norm = s->inv_norm;
    d->indeg0 = s->indeg0;
    d->level = s->level;
    d->live = 1;
    return DV_OK;
}

dv_status dv_db_clone(const dv_db *src, dv_db **out) {
    if (!src || !out) return DV_EINVAL;
    *out = NULL;
    dv_db_config cfg = src->cfg;
    cfg.allocator = &src->mem.a;
    dv_db *db;
    dv_status st = dv_db_open(&cfg, &db);
    if (st != DV_OK) return st;
    db->cfg.allocator = NULL;
    if ((st = dv_store_reserve_for_clone(db, src->n_slots)) != DV_OK) goto fail;
    if (!dv_ids_reserve(db, (uint32_t)src->live)) {
        st = DV_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0, run; i < src->n_slots; i += run) { /* storage runs may differ in length */
        run = dv_slot_run(src, i) < dv_slot_run(db, i) ? dv_slot_run(src, i) : dv_slot_run(db, i);
        if (run > src->n_slots - i) run = src->n_slots - i;
        memcpy(dv_vec(db, i), dv_vec(src, i), (size_t)run * src->vector_size);
        memcpy(dv_l0(db, i), dv_l0(src, i), (size_t)run * src->links0_words * 4);
    }
    for (uint32_t i = 0; i < src->n_slots; i++) {
        if (!dv_info(src, i)->live) continue;
        if ((st = clone_slot(db, src, i)) != DV_OK) goto fail;
        db->n_slots = i + 1; /* so close() frees what is attached so far */
        if (!dv_info(src, i)->tomb) dv_ids_add(db, i);
    }
    db->n_slots = src->n_slots;
    if (src->n_free) memcpy(db->free_slots, src->free_slots, (size_t)src->n_free * 4); /* NULL when empty */
    db->n_free = src->n_free;
    db->live = src->live;
    db->n_tomb = src->n_tomb;
    db->entry = src->entry;
    db->max_level = src->max_level;
    db->rng = src->rng;
    *out = db;
    return DV_OK;
fail:
    dv_db_close(db);
    return st;
}
