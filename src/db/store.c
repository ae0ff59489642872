/*
 * store.c -- slots: vectors, ids, metadata, tombstones, free-slot reuse.
 *
 * A node is created in two steps so that a write can allocate everything
 * before OP_BEGIN and then cannot fail: dv_store_node_prepare() copies the id and
 * metadata and allocates the upper-layer lists; dv_store_node_attach() places them
 * at a reserved free slot and emits VECTOR_INSERT. Deleted slots go on a
 * LIFO stack (free_slots) and are reused first, so the same sequence of
 * operations always yields the same slots (required for convergence).
 */
#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "db/db_internal.h"
#include "simd/simd.h"

/* Grows nodes, infos and free_slots to hold n slots. Growth is by 1/8 (at least
 * 64 slots): memory per vector stays close to the payload, and large blocks
 * grow by a page remap (dv_mem_realloc_big), so nothing is copied. Each array
 * keeps its own capacity, so a failure half-way leaves a consistent db. */
static int grow_array(dv_mem *m, void **p, uint32_t *cap, uint32_t want, size_t elem) {
    if (want <= *cap) return 1;
    size_t bytes = dv_mul_size(want, elem);
    if (!bytes) return 0;
    void *q = dv_mem_realloc_big(m, *p, (size_t)*cap * elem, bytes); /* grows without a copy (alloc.h) */
    if (!q) return 0;
    *p = q;
    *cap = want;
    return 1;
}

#if DV_SEGMENTED_NODES
/* Grows one of segment 0's arrays to `want` records (want <= DV_SEG_SLOTS). */
static int grow_first(dv_db *db, void **p, uint32_t *cap, uint32_t want, size_t elem) {
    if (*cap >= want) return 1;
    void *q = dv_mem_realloc(&db->mem, *p, (size_t)*cap * elem, (size_t)want * elem);
    if (!q) return 0;
    *p = q;
    *cap = want;
    return 1;
}

/* Segments for want slots (db_internal.h). The first grows by realloc up to
 * DV_SEG_SLOTS, its vectors, lists and infos each keeping their own
 * capacity like the flat arrays, so a failure half-way stays consistent;
 * the others are allocated whole and never move. New infos are zeroed. */
static int grow_segments(dv_db *db, uint32_t want) {
    if (want <= db->vectors_cap && want <= db->links_cap && want <= db->info_cap) return 1;
    if (!db->seg) {
        db->seg = dv_mem_alloc(&db->mem, 4 * sizeof(dv_seg));
        if (!db->seg) return 0;
        memset(db->seg, 0, 4 * sizeof(dv_seg));
        db->seg_cap = 4;
        db->seg_n = 1; /* segment 0 exists from here on, possibly empty */
    }
    dv_seg *s0 = &db->seg[0];
    uint32_t first = want < DV_SEG_SLOTS ? want : DV_SEG_SLOTS, old_info = db->info_cap;
    if (!grow_first(db, (void **)&s0->vectors, &db->vectors_cap, first, db->vector_size) ||
        !grow_first(db, (void **)&s0->links0, &db->links_cap, first, db->links0_words * 4) ||
        !grow_first(db, (void **)&s0->info, &db->info_cap, first, sizeof(dv_slot)))
        return 0;
    if (db->info_cap > old_info)
        memset(s0->info + old_info, 0, (size_t)(db->info_cap - old_info) * sizeof(dv_slot));
    while (db->vectors_cap < want) { /* here every capacity == seg_n * DV_SEG_SLOTS */
        if (db->seg_n == db->seg_cap) {
            dv_seg *t = dv_mem_realloc(&db->mem, db->seg, (size_t)db->seg_cap * sizeof(dv_seg),
                                       (size_t)db->seg_cap * 2 * sizeof(dv_seg));
            if (!t) return 0;
            db->seg = t;
            db->seg_cap *= 2;
        }
        size_t vb = (size_t)DV_SEG_SLOTS * db->vector_size, lb = (size_t)DV_SEG_SLOTS * db->links0_words * 4,
               ib = (size_t)DV_SEG_SLOTS * sizeof(dv_slot);
        char *vectors = dv_mem_alloc(&db->mem, vb);
        uint32_t *links0 = dv_mem_alloc(&db->mem, lb);
        dv_slot *info = dv_mem_alloc(&db->mem, ib);
        if (!vectors || !links0 || !info) {
            if (vectors) dv_mem_free(&db->mem, vectors, vb);
            if (links0) dv_mem_free(&db->mem, links0, lb);
            if (info) dv_mem_free(&db->mem, info, ib);
            return 0;
        }
        memset(info, 0, ib);
        db->seg[db->seg_n++] = (dv_seg){vectors, links0, info};
        db->vectors_cap += DV_SEG_SLOTS;
        db->links_cap += DV_SEG_SLOTS;
        db->info_cap += DV_SEG_SLOTS;
    }
    return 1;
}

void dv_store_free_slots_storage(dv_db *db) {
    for (uint32_t i = 0; i < db->seg_n; i++) {
        uint32_t v = i ? DV_SEG_SLOTS : db->vectors_cap < DV_SEG_SLOTS ? db->vectors_cap : DV_SEG_SLOTS;
        uint32_t l = i ? DV_SEG_SLOTS : db->links_cap < DV_SEG_SLOTS ? db->links_cap : DV_SEG_SLOTS;
        uint32_t f = i ? DV_SEG_SLOTS : db->info_cap < DV_SEG_SLOTS ? db->info_cap : DV_SEG_SLOTS;
        dv_mem_free(&db->mem, db->seg[i].vectors, (size_t)v * db->vector_size);
        dv_mem_free(&db->mem, db->seg[i].links0, (size_t)l * db->links0_words * 4);
        dv_mem_free(&db->mem, db->seg[i].info, (size_t)f * sizeof(dv_slot));
    }
    dv_mem_free(&db->mem, db->seg, (size_t)db->seg_cap * sizeof(dv_seg));
    dv_mem_free_big(&db->mem, db->free_slots, (size_t)db->free_cap * 4);
}
/* Segments never move: a clone reserves what its source holds. */
dv_status dv_store_reserve_for_clone(dv_db *db, uint32_t n) { return dv_store_reserve(db, n); }
#else
/* want vector slots rounded up to fill whole 2 MiB pages, when that costs
 * at most want >> extra_shift more slots, else want. The kernel backs a
 * huge page only where a whole aligned 2 MiB range lies inside a mapping,
 * and new vectors are written at the end of the array: a partial last page
 * took one fault per 4 KiB (about 1.2 us each here, 40 per batch of 100
 * inserts at dim 384) instead of one per 2 MiB. */
static uint32_t whole_pages(const dv_db *db, uint32_t want, unsigned extra_shift) {
    size_t size = db->vector_size, g = DV_HUGE_PAGE_BYTES;
    if ((uint64_t)want * size < 2 * DV_HUGE_PAGE_BYTES) return want;
    while (g > 1 && size % 2 == 0) { /* g = 2 MiB / gcd(size, 2 MiB): slots per whole number of pages */
        size /= 2;
        g /= 2;
    }
    uint64_t r = ((uint64_t)want + g - 1) / g * g;
    return r - want <= (want >> extra_shift) && r < DV_NO_SLOT ? (uint32_t)r : want;
}

/* The vectors' capacity when the array grows to want or more: whole pages
 * within 1/16. A first reservation stays exact (a db sized for n holds n). */
static uint32_t vectors_capacity(const dv_db *db, uint32_t want) {
    return db->vectors_cap == 0 ? want : whole_pages(db, want, 4);
}

dv_status dv_store_reserve_for_clone(dv_db *db, uint32_t n) {
    dv_status st = dv_store_reserve(db, n);
    uint32_t v = whole_pages(db, n, 3);
    if (st == DV_OK && v > db->vectors_cap &&
        !grow_array(&db->mem, (void **)&db->vectors, &db->vectors_cap, v, db->vector_size))
        st = DV_ENOMEM;
    return st;
}

/* Flat arrays: each grows separately (and keeps its own capacity). */
static int grow_segments(dv_db *db, uint32_t want) {
    uint32_t old_info = db->info_cap;
    if (!grow_array(&db->mem, (void **)&db->vectors, &db->vectors_cap, vectors_capacity(db, want),
                    db->vector_size) ||
        !grow_array(&db->mem, (void **)&db->links0, &db->links_cap, want, db->links0_words * 4) ||
        !grow_array(&db->mem, (void **)&db->info, &db->info_cap, want, sizeof(dv_slot)))
        return 0;
    if (db->info_cap > old_info)
        memset(db->info + old_info, 0, (size_t)(db->info_cap - old_info) * sizeof(dv_slot));
    return 1;
}

void dv_store_free_slots_storage(dv_db *db) {
    dv_mem_free_big(&db->mem, db->vectors, (size_t)db->vectors_cap * db->vector_size);
    dv_mem_free_big(&db->mem, db->links0, (size_t)db->links_cap * db->links0_words * 4);
    dv_mem_free_big(&db->mem, db->info, (size_t)db->info_cap * sizeof(dv_slot));
    dv_mem_free_big(&db->mem, db->free_slots, (size_t)db->free_cap * 4);
}
#endif

dv_status dv_store_reserve(dv_db *db, uint32_t n) {
    if (n <= db->cap) return DV_OK;
    if (n >= DV_NO_SLOT) return DV_ENOMEM;
    uint64_t nc = (uint64_t)db->cap + db->cap / 8;
    if (nc < (uint64_t)db->cap + 64) nc = (uint64_t)db->cap + 64;
    if (nc < n) nc = n;
    if (nc >= DV_NO_SLOT) nc = DV_NO_SLOT - 1;
    uint32_t want = (uint32_t)nc;
    if (!grow_segments(db, want) || !grow_array(&db->mem, (void **)&db->free_slots, &db->free_cap, want, 4))
        return DV_ENOMEM;
    db->cap = want;
    return DV_OK;
}

uint32_t dv_store_next_slot(const dv_db *db) {
    return db->n_free ? db->free_slots[db->n_free - 1] : db->n_slots;
}

/* No Inf or NaN (exponent bits all ones), checked with the widest vector
 * unit (simd.h): every insert and dense update on a replica runs it. */
dv_status dv_store_check_vector(const float *v, size_t n) {
    return dv_all_finite_f32(v, n) ? DV_OK : DV_ENONFINITE;
}

dv_status dv_store_check_sparse(const dv_db *db, const uint32_t *idx, const float *values, size_t n) {
    if (n > 0 && (!idx || !values)) return DV_EINVAL;
    if (n > db->dim) return DV_EDIM;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= db->dim || (i > 0 && idx[i] <= idx[i - 1])) return DV_EDIM;
        if (!isfinite(values[i])) return DV_ENONFINITE;
    }
    return DV_OK;
}

float dv_store_inv_norm(const dv_db *db, const float *v) {
    if (db->cfg.metric != DV_METRIC_COSINE) return 1.0f;
    float s = db->dot(v, v, db->dim);
    return s > 0.0f ? 1.0f / sqrtf(s) : 0.0f;
}

dv_status dv_store_check_meta(const dv_meta_kv *meta, size_t n, size_t *bytes) {
    size_t total = 0;
    if (n == 0) {
        if (bytes) *bytes = 0;
        return DV_OK;
    }
    if (!meta) return DV_EINVAL;
    if (n > DV_MAX_META_PAIRS) return DV_EMETA;
    for (size_t i = 0; i < n; i++) {
        size_t kl, vl;
        if (!meta[i].key || !meta[i].value) return DV_EMETA;
        if (!dv_db_str_valid(meta[i].key, DV_MAX_META_KEY_LEN, &kl)) return DV_EMETA;
        if (!dv_db_str_valid(meta[i].value, DV_MAX_META_VALUE_LEN, &vl)) return DV_EMETA;
        for (size_t j = 0; j < i; j++)
            if (strcmp(meta[j].key, meta[i].key) == 0) return DV_EMETA; /* duplicate key */
        total += kl + vl + 8;
    }
    if (bytes) *bytes = total;
    return DV_OK;
}

uint32_t dv_store_pair_sig(const char *key, const char *value) {
    uint64_t h = XXH3_64bits_withSeed(value, strlen(value), XXH3_64bits(key, strlen(key)));
    return (1u << (h & 31)) | (1u << ((h >> 5) & 31));
}

uint32_t dv_store_meta_sig(const dv_meta *m) {
    uint32_t sig = 0;
    for (uint32_t i = 0; m && i < m->n; i++) sig |= dv_store_pair_sig(m->kv[i].key, m->kv[i].value);
    return sig;
}

static size_t meta_size(uint32_t cap) { return sizeof(dv_meta) + (size_t)cap * sizeof(dv_meta_kv); }

void dv_store_meta_free(dv_db *db, dv_meta *m) {
    if (!m) return;
    for (uint32_t i = 0; i < m->n; i++) {
        dv_mem_free(&db->mem, (void *)m->kv[i].key, strlen(m->kv[i].key) + 1);
        dv_mem_free(&db->mem, (void *)m->kv[i].value, strlen(m->kv[i].value) + 1);
    }
    dv_mem_free(&db->mem, m, meta_size(m->cap));
}

static char *str_dup(dv_db *db, const char *s, size_t len) {
    char *p = dv_mem_alloc(&db->mem, len + 1);
    if (p) memcpy(p, s, len + 1);
    return p;
}

dv_status dv_store_meta_copy(dv_db *db, const dv_meta_kv *meta, size_t n, dv_meta **out) {
    *out = NULL;
    if (n == 0) return DV_OK;
    dv_meta *m = dv_mem_alloc(&db->mem, meta_size((uint32_t)n));
    if (!m) return DV_ENOMEM;
    m->n = 0;
    m->cap = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        char *k = str_dup(db, meta[i].key, strlen(meta[i].key));
        char *v = k ? str_dup(db, meta[i].value, strlen(meta[i].value)) : NULL;
        if (!v) {
            if (k) dv_mem_free(&db->mem, k, strlen(k) + 1);
            dv_store_meta_free(db, m);
            return DV_ENOMEM;
        }
        m->kv[i].key = k;
        m->kv[i].value = v;
        m->n++;
    }
    *out = m;
    return DV_OK;
}

static size_t upper_words(const dv_db *db, uint32_t level) { return (size_t)level * (db->M + 2); }

dv_status dv_store_node_prepare(dv_db *db, const char *id, size_t id_len, const dv_meta_kv *meta,
                                size_t n_meta, uint32_t level, dv_node_prep *p) {
    memset(p, 0, sizeof *p);
    p->level = level;
    p->id_len = id_len;
    p->id = str_dup(db, id, id_len);
    if (!p->id) return DV_ENOMEM;
    if (dv_store_meta_copy(db, meta, n_meta, &p->meta) != DV_OK) goto fail;
    if (level > 0) {
        p->upper = dv_mem_calloc(&db->mem, upper_words(db, level), 4);
        if (!p->upper) goto fail;
    }
    return DV_OK;
fail:
    dv_store_node_prep_free(db, p);
    return DV_ENOMEM;
}

void dv_store_node_prep_free(dv_db *db, dv_node_prep *p) {
    if (p->id) dv_mem_free(&db->mem, p->id, p->id_len + 1);
    dv_store_meta_free(db, p->meta);
    if (p->upper) dv_mem_free(&db->mem, p->upper, upper_words(db, p->level) * 4);
    memset(p, 0, sizeof *p);
}

/* Takes `slot` out of the free set: it is either on the free stack or at or
 * beyond n_slots (gap slots then become free, lowest on top of the stack). */
static void take_slot(dv_db *db, uint32_t slot) {
    if (slot < db->n_slots) {
        uint32_t i = db->n_free;
        while (i > 0 && db->free_slots[i - 1] != slot) i--;
        /* i > 0 by precondition (slot is free) */
        memmove(db->free_slots + i - 1, db->free_slots + i, (size_t)(db->n_free - i) * 4);
        db->n_free--;
        if (dv_txn_active(db)) dv_txn_log_attach(db, slot, i - 1, db->n_slots);
        return;
    }
    if (dv_txn_active(db)) dv_txn_log_attach(db, slot, UINT32_MAX, db->n_slots);
    for (uint32_t s = slot; s > db->n_slots; s--) {
        db->free_slots[db->n_free++] = s - 1;
        memset(dv_info(db, s - 1), 0, sizeof(dv_slot));
    }
    db->n_slots = slot + 1;
}

void dv_store_node_attach(dv_db *db, uint32_t slot, dv_node_prep *p, const float *vec) {
    take_slot(db, slot);
    dv_slot *si = dv_info(db, slot);
    memset(si, 0, sizeof *si);
    si->id = p->id;
    si->id_len = (uint16_t)p->id_len;
    si->meta = p->meta;
    si->meta_sig = dv_store_meta_sig(p->meta);
    si->upper = p->upper;
    si->level = (uint8_t)p->level;
    si->live = 1;
    memset(dv_l0(db, slot), 0, db->links0_words * 4);
    memcpy(dv_vec(db, slot), vec, (size_t)db->dim * 4);
    si->inv_norm = dv_store_inv_norm(db, vec);
    dv_ids_add(db, slot);
    db->live++;
    memset(p, 0, sizeof *p);

    dv_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = DV_EV_VECTOR_INSERT;
    ev.slot = slot;
    ev.u.insert.id = si->id;
    ev.u.insert.vec = dv_vec(db, slot);
    ev.u.insert.meta = si->meta ? si->meta->kv : NULL;
    ev.u.insert.n_meta = si->meta ? si->meta->n : 0;
    ev.u.insert.level = si->level;
    dv_db_emit(db, &ev);
}

static void emit_delete(dv_db *db, dv_event_kind kind, uint32_t slot, const char *id) {
    dv_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.slot = slot;
    ev.u.del.id = id;
    dv_db_emit(db, &ev);
}

/* Clears the node's own lists and frees its slot (a vector or a tombstone). */
static void free_node(dv_db *db, uint32_t slot) {
    dv_slot *si = dv_info(db, slot);
    int journal = dv_txn_active(db); /* the journal keeps id, metadata and lists alive */
    if (journal) dv_txn_log_detach(db, slot);
    for (uint32_t l = 0; l <= si->level; l++) {
        uint32_t *lst = dv_list(db, slot, l);
        for (uint32_t j = 0; j < lst[0]; j++) (*dv_indeg(db, lst[1 + j], l))--;
        lst[0] = 0;
    }
    if (si->tomb) {
        db->n_tomb--;
    } else {
        dv_ids_remove(db, slot);
        db->live--;
    }
    if (!journal) {
        if (si->id) dv_mem_free(&db->mem, si->id, (size_t)si->id_len + 1);
        dv_store_meta_free(db, si->meta);
        if (si->upper) dv_mem_free(&db->mem, si->upper, upper_words(db, si->level) * 4);
    }
    memset(si, 0, sizeof *si);
    memset(dv_vec(db, slot), 0, (size_t)db->dim * 4);
    db->free_slots[db->n_free++] = slot;
}

void dv_store_node_detach(dv_db *db, uint32_t slot) {
    emit_delete(db, DV_EV_VECTOR_DELETE, slot, dv_info(db, slot)->id);
    free_node(db, slot);
}

int dv_store_node_unreferenced(const dv_db *db, uint32_t slot) {
    if (db->entry == slot) return 0;
    for (uint32_t l = 0; l <= dv_info(db, slot)->level; l++)
        if (*dv_indeg(db, slot, l) != 0) return 0;
    return 1;
}

void dv_store_node_tombstone(dv_db *db, uint32_t slot) {
    dv_slot *si = dv_info(db, slot);
    emit_delete(db, DV_EV_VECTOR_DELETE, slot, si->id);
    if (dv_txn_active(db)) dv_txn_log_tombstone(db, slot);
    dv_ids_remove(db, slot);
    si->tomb = 1; /* id and metadata stay allocated until the purge (cheap undo) */
    db->live--;
    db->n_tomb++;
}

void dv_store_node_purge(dv_db *db, uint32_t slot) {
    emit_delete(db, DV_EV_VECTOR_PURGE, slot, NULL);
    free_node(db, slot);
}

void dv_store_node_set_vector(dv_db *db, uint32_t slot, const float *vec, const uint32_t *idx,
                              const float *values, size_t n) {
    float *v = dv_vec(db, slot);
    dv_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = DV_EV_VECTOR_UPDATE;
    ev.slot = slot;
    ev.u.update.old_vec = v;
    if (idx) {
        ev.u.update.idx = idx;
        ev.u.update.values = values;
        ev.u.update.n = n;
    } else {
        ev.u.update.new_vec = vec;
        ev.u.update.n = db->dim;
    }
    dv_db_emit(db, &ev);
    if (dv_txn_active(db)) {
        if (idx)
            dv_txn_log_sparse(db, slot, idx, n);
        else
            dv_txn_log_vector(db, slot);
    }
    if (idx) {
        dv_scatter(v, idx, values, n); /* SIMD kernel (src/simd) */
    } else if (vec != v) {
        memcpy(v, vec, (size_t)db->dim * 4);
    }
    dv_info(db, slot)->inv_norm = dv_store_inv_norm(db, v);
}

/* ---- metadata writes: prepare (may fail) / commit (cannot fail) ---------- */

static int meta_find(const dv_meta *m, const char *key) {
    for (uint32_t i = 0; m && i < m->n; i++)
        if (strcmp(m->kv[i].key, key) == 0) return (int)i;
    return -1;
}

dv_status dv_store_meta_prepare(dv_db *db, uint32_t slot, const char *key, const char *value,
                                dv_meta_prep *p) {
    memset(p, 0, sizeof *p);
    const dv_meta *m = dv_info(db, slot)->meta;
    p->index = meta_find(m, key);
    if (!value) {
        p->noop = p->index < 0;
        return DV_OK;
    }
    if (p->index < 0 && m && m->n >= DV_MAX_META_PAIRS) return DV_EMETA;
    p->value = str_dup(db, value, strlen(value));
    if (!p->value) return DV_ENOMEM;
    if (p->index >= 0) return DV_OK;
    p->key = str_dup(db, key, strlen(key));
    if (!p->key) goto fail;
    if (!m || m->n == m->cap) {
        uint32_t nc = m ? m->cap + m->cap / 2 + 1 : 1;
        if (nc > DV_MAX_META_PAIRS) nc = DV_MAX_META_PAIRS;
        p->grown = dv_mem_alloc(&db->mem, meta_size(nc));
        if (!p->grown) goto fail;
        p->grown->cap = nc;
        p->grown->n = 0;
    }
    return DV_OK;
fail:
    dv_store_meta_prep_free(db, p);
    return DV_ENOMEM;
}

void dv_store_meta_prep_free(dv_db *db, dv_meta_prep *p) {
    if (p->key) dv_mem_free(&db->mem, p->key, strlen(p->key) + 1);
    if (p->value) dv_mem_free(&db->mem, p->value, strlen(p->value) + 1);
    if (p->grown) dv_mem_free(&db->mem, p->grown, meta_size(p->grown->cap));
    memset(p, 0, sizeof *p);
}

void dv_store_meta_commit(dv_db *db, uint32_t slot, const char *key, dv_meta_prep *p) {
    dv_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = DV_EV_META_SET;
    ev.slot = slot;
    ev.u.meta.key = key;
    ev.u.meta.value = p->value;
    dv_db_emit(db, &ev);

    dv_meta *m = dv_info(db, slot)->meta;
    int journal = dv_txn_active(db); /* the journal keeps replaced memory alive */
    if (!p->value) {                 /* remove, keeping the order of the rest */
        dv_meta_kv *kv = &m->kv[p->index];
        if (journal) {
            dv_txn_log_meta_remove(db, slot, (uint32_t)p->index, kv->key, kv->value);
        } else {
            dv_mem_free(&db->mem, (void *)kv->key, strlen(kv->key) + 1);
            dv_mem_free(&db->mem, (void *)kv->value, strlen(kv->value) + 1);
        }
        memmove(kv, kv + 1, (size_t)(m->n - (uint32_t)p->index - 1) * sizeof *kv);
        m->n--;
    } else if (p->index >= 0) { /* overwrite in place */
        dv_meta_kv *kv = &m->kv[p->index];
        if (journal)
            dv_txn_log_meta_overwrite(db, slot, (uint32_t)p->index, kv->value);
        else
            dv_mem_free(&db->mem, (void *)kv->value, strlen(kv->value) + 1);
        kv->value = p->value;
    } else { /* append */
        if (journal) dv_txn_log_meta_append(db, slot, p->grown ? m : NULL, p->grown != NULL);
        if (p->grown) {
            if (m) {
                memcpy(p->grown->kv, m->kv, (size_t)m->n * sizeof(dv_meta_kv));
                p->grown->n = m->n;
                if (!journal) dv_mem_free(&db->mem, m, meta_size(m->cap));
            }
            m = dv_info(db, slot)->meta = p->grown;
        }
        m->kv[m->n].key = p->key;
        m->kv[m->n].value = p->value;
        m->n++;
    }
    dv_info(db, slot)->meta_sig = dv_store_meta_sig(m);
    memset(p, 0, sizeof *p);
}
