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
 * hash each slot while it is still in cache. Small fields are staged into
 * a local buffer before they reach XXH3: the digest depends only on the
 * concatenated bytes, so staging changes the speed, not the value.
 */
#include <string.h>

#include "db/state_hash.h"

typedef struct stage {
    XXH3_state_t *st;
    size_t n;
    uint8_t b[512];
} stage;

static void flush(stage *s) {
    if (s->n) XXH3_64bits_update(s->st, s->b, s->n);
    s->n = 0;
}
static void put(stage *s, const void *p, size_t len) {
    if (len > sizeof s->b / 2) {
        flush(s);
        XXH3_64bits_update(s->st, p, len);
        return;
    }
    if (s->n + len > sizeof s->b) flush(s);
    memcpy(s->b + s->n, p, len);
    s->n += len;
}
static void put_u32(stage *s, uint32_t v) { put(s, &v, 4); }

void dv_state_hash_begin(XXH3_state_t *st, const dv_db *db) {
    stage s = {st, 0, {0}};
    XXH3_64bits_reset(st);
    put_u32(&s, db->dim);
    put_u32(&s, (uint32_t)db->cfg.metric);
    put_u32(&s, db->M);
    put_u32(&s, db->n_slots);
    flush(&s);
}

void dv_state_hash_slot(XXH3_state_t *st, const dv_db *db, uint32_t i) {
    stage s;
    s.st = st;
    s.n = 0;
    const dv_slot *si = &db->info[i];
    uint8_t live = si->live ? (uint8_t)(si->tomb ? 2 : 1) : 0;
    put(&s, &live, 1);
    if (live == 2) { /* a tombstone: no id or metadata any more, still a graph node */
        put(&s, dv_vec(db, i), (size_t)db->dim * 4);
        put_u32(&s, si->level);
        for (uint32_t l = 0; l <= si->level; l++) {
            const uint32_t *lst = dv_list(db, i, l);
            put(&s, lst, (size_t)(lst[0] + 1) * 4);
        }
    } else if (live) {
        put_u32(&s, si->id_len);
        put(&s, si->id, si->id_len);
        put(&s, dv_vec(db, i), (size_t)db->dim * 4);
        uint32_t nm = si->meta ? si->meta->n : 0;
        put_u32(&s, nm);
        for (uint32_t j = 0; j < nm; j++) {
            size_t kl = strlen(si->meta->kv[j].key), vl = strlen(si->meta->kv[j].value);
            put_u32(&s, (uint32_t)kl);
            put(&s, si->meta->kv[j].key, kl);
            put_u32(&s, (uint32_t)vl);
            put(&s, si->meta->kv[j].value, vl);
        }
        put_u32(&s, si->level);
        for (uint32_t l = 0; l <= si->level; l++) {
            const uint32_t *lst = dv_list(db, i, l);
            put(&s, lst, (size_t)(lst[0] + 1) * 4);
        }
    }
    flush(&s);
}

uint64_t dv_state_hash_end(XXH3_state_t *st, const dv_db *db) {
    stage s = {st, 0, {0}};
    put_u32(&s, db->entry);
    put_u32(&s, db->max_level);
    flush(&s);
    return XXH3_64bits_digest(st);
}

uint64_t dv_db_state_hash(const dv_db *db) {
    if (!db) return 0;
    XXH3_state_t st;
    dv_state_hash_begin(&st, db);
    for (uint32_t i = 0; i < db->n_slots; i++) dv_state_hash_slot(&st, db, i);
    return dv_state_hash_end(&st, db);
}
