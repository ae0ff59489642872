/*
 * state_hash.c -- dv_db_state_hash(): XXH3-64 over the canonical state.
 *
 * Order: config (dim, metric, M), slot count, then per slot in order: live
 * flag; if live: id, vector bytes, metadata pairs (insertion order, which
 * replay reproduces: overwrite in place, removal keeps order), level, each
 * layer's neighbour list in order; finally entry point and max level.
 * Derived data (norms, in-degrees, the id map, the free-slot stack order,
 * capacities) is not hashed.
 */
#include <string.h>
#include <xxhash.h>

#include "db/db_internal.h"

static void put_u32(XXH3_state_t *st, uint32_t v) { XXH3_64bits_update(st, &v, 4); }

uint64_t dv_db_state_hash(const dv_db *db) {
    if (!db) return 0;
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    put_u32(&st, db->dim);
    put_u32(&st, (uint32_t)db->cfg.metric);
    put_u32(&st, db->M);
    put_u32(&st, db->n_slots);
    for (uint32_t i = 0; i < db->n_slots; i++) {
        const dv_slot *si = &db->info[i];
        uint8_t live = si->live;
        XXH3_64bits_update(&st, &live, 1);
        if (!live) continue;
        put_u32(&st, si->id_len);
        XXH3_64bits_update(&st, si->id, si->id_len);
        XXH3_64bits_update(&st, dv_vec(db, i), (size_t)db->dim * 4);
        uint32_t nm = si->meta ? si->meta->n : 0;
        put_u32(&st, nm);
        for (uint32_t j = 0; j < nm; j++) {
            size_t kl = strlen(si->meta->kv[j].key), vl = strlen(si->meta->kv[j].value);
            put_u32(&st, (uint32_t)kl);
            XXH3_64bits_update(&st, si->meta->kv[j].key, kl);
            put_u32(&st, (uint32_t)vl);
            XXH3_64bits_update(&st, si->meta->kv[j].value, vl);
        }
        put_u32(&st, si->level);
        for (uint32_t l = 0; l <= si->level; l++) {
            const uint32_t *lst = dv_list(db, i, l);
            XXH3_64bits_update(&st, lst, (size_t)(lst[0] + 1) * 4);
        }
    }
    put_u32(&st, db->entry);
    put_u32(&st, db->max_level);
    return XXH3_64bits_digest(&st);
}
