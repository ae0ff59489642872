/*
 * state_hash.c -- dv_db_state_hash(): XXH3-64 over the canonical state.
 *
 * Order: config (dim, metric, M), slot count, then per slot in order: state
 * byte (0 free, 1 vector, 2 tombstone); a vector: id, vector bytes, metadata
 * pairs (insertion order, which replay reproduces: overwrite in place,
 * removal keeps order), level, each layer's neighbour list in order; a
 * tombstone: vector bytes, level, lists; finally entry point and max level.
 * Derived data (norms, in-degrees, the id map, the free-slot stack order,
 * capacities) is not hashed.
 *
 * The per-slot step is exposed (state_hash.h) so the snapshot loader can
 * hash each slot while it is still in cache. Fields are staged (see
 * dv_state_hasher) so that XXH3 sees a few large updates instead of
 * several small ones per slot; the value does not depend on it.
 */
#include <string.h>

#include "db/state_hash.h"
#include "simd/simd.h"

static void flush(dv_state_hasher *h) {
    if (h->n) dv_xxh3_update(&h->st, h->stage, h->n);
    h->n = 0;
}

static void put(dv_state_hasher *h, const void *p, size_t len) {
    if (len > sizeof h->stage - h->n) {
        flush(h);
        if (len > sizeof h->stage / 2) { /* large: hash in place */
            dv_xxh3_update(&h->st, p, len);
            return;
        }
    }
    memcpy(h->stage + h->n, p, len);
    h->n += len;
}

static void put_u32(dv_state_hasher *h, uint32_t v) { put(h, &v, 4); }

void dv_state_hash_begin(dv_state_hasher *h, const dv_db *db) {
    XXH3_64bits_reset(&h->st);
    h->n = 0;
    put_u32(h, db->dim);
    put_u32(h, (uint32_t)db->cfg.metric);
    put_u32(h, db->M);
    put_u32(h, db->n_slots);
}

void dv_state_hash_slot(dv_state_hasher *h, const dv_db *db, uint32_t i) {
    const dv_slot *si = dv_info(db, i);
    uint8_t live = si->live ? (uint8_t)(si->tomb ? 2 : 1) : 0;
    put(h, &live, 1);
    if (!live) return;
    if (live == 2) { /* a tombstone: no id or metadata any more, still a graph node */
        put(h, dv_vec(db, i), (size_t)db->dim * 4);
        put_u32(h, si->level);
        for (uint32_t l = 0; l <= si->level; l++) {
            const uint32_t *lst = dv_list(db, i, l);
            put(h, lst, (size_t)(lst[0] + 1) * 4);
        }
        return;
    }
    put_u32(h, si->id_len);
    put(h, si->id, si->id_len);
    put(h, dv_vec(db, i), (size_t)db->dim * 4);
    uint32_t nm = si->meta ? si->meta->n : 0;
    put_u32(h, nm);
    for (uint32_t j = 0; j < nm; j++) {
        size_t kl = strlen(si->meta->kv[j].key), vl = strlen(si->meta->kv[j].value);
        put_u32(h, (uint32_t)kl);
        put(h, si->meta->kv[j].key, kl);
        put_u32(h, (uint32_t)vl);
        put(h, si->meta->kv[j].value, vl);
    }
    put_u32(h, si->level);
    for (uint32_t l = 0; l <= si->level; l++) {
        const uint32_t *lst = dv_list(db, i, l);
        put(h, lst, (size_t)(lst[0] + 1) * 4);
    }
}

uint64_t dv_state_hash_end(dv_state_hasher *h, const dv_db *db) {
    put_u32(h, db->entry);
    put_u32(h, db->max_level);
    flush(h);
    return XXH3_64bits_digest(&h->st);
}

uint64_t dv_db_state_hash(const dv_db *db) {
    if (!db) return 0;
    dv_state_hasher h;
    dv_state_hash_begin(&h, db);
    for (uint32_t i = 0; i < db->n_slots; i++) dv_state_hash_slot(&h, db, i);
    return dv_state_hash_end(&h, db);
}
