/*
 * ids.c -- id and metadata string checks (length, UTF-8 through util/utf8.h)
 * and the id -> slot hash map. See ids.h.
 */
#include "db/ids.h"

#include <string.h>
#include <xxhash.h>

#include "db/db_internal.h"
#include "util/utf8.h"

/* A NUL-terminated string of 1..max bytes of UTF-8, checked by the one
 * validator (util/utf8.h); reads at most max + 1 bytes. */
int dv_db_str_valid(const char *str, size_t max, size_t *len_out) {
    size_t n = 0;
    while (n <= max && str[n]) n++;
    if (n == 0 || n > max || !dv_utf8_valid((const uint8_t *)str, n)) return 0;
    *len_out = n;
    return 1;
}

int dv_id_valid(const char *id, size_t *len) { return id != NULL && dv_db_str_valid(id, DV_MAX_ID_LEN, len); }

static uint32_t id_hash(const char *id, size_t len) { return (uint32_t)XXH3_64bits(id, len); }

uint32_t dv_ids_hash(const char *id, size_t len) { return id_hash(id, len); }

uint32_t dv_ids_find(const dv_db *db, const char *id, size_t len) {
    const dv_ids *m = &db->ids;
    if (m->cap == 0) return DV_NO_SLOT;
    uint32_t mask = m->cap - 1;
    for (uint32_t i = id_hash(id, len) & mask;; i = (i + 1) & mask) {
        uint32_t s = m->b[i];
        if (s == DV_NO_SLOT) return DV_NO_SLOT;
        const dv_slot *si = dv_info(db, s);
        if (si->id_len == len && memcmp(si->id, id, len) == 0) return s;
    }
}

static void put(dv_db *db, uint32_t *b, uint32_t cap, uint32_t slot) {
    uint32_t mask = cap - 1;
    uint32_t i = id_hash(dv_info(db, slot)->id, dv_info(db, slot)->id_len) & mask;
    while (b[i] != DV_NO_SLOT) i = (i + 1) & mask;
    b[i] = slot;
}

int dv_ids_reserve(dv_db *db, uint32_t extra) {
    dv_ids *m = &db->ids;
    uint64_t want = (uint64_t)m->n + extra;
    if (want * 2 <= m->cap) return 1;
    uint64_t cap = m->cap ? m->cap : 16;
    while (cap < want * 2) cap *= 2;
    if (cap > (1u << 31)) return 0;
    uint32_t *nb = dv_mem_alloc(&db->mem, (size_t)cap * 4);
    if (!nb) return 0;
    memset(nb, 0xFF, (size_t)cap * 4);
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->b[i] != DV_NO_SLOT) put(db, nb, (uint32_t)cap, m->b[i]);
    dv_mem_free(&db->mem, m->b, (size_t)m->cap * 4);
    m->b = nb;
    m->cap = (uint32_t)cap;
    return 1;
}

void dv_ids_add(dv_db *db, uint32_t slot) {
    put(db, db->ids.b, db->ids.cap, slot);
    db->ids.n++;
}

/* A bulk insert of ids known only to the caller's hash array: the bucket of
 * the slot a few places ahead is prefetched (the table is larger than the
 * caches for a big db: each insert would otherwise wait for one miss), and
 * an occupied bucket is compared by hash before its id is read. */
#define BUILD_AHEAD 16u

uint32_t dv_ids_build(dv_db *db, const uint32_t *hash) {
    dv_ids *m = &db->ids;
    if (m->cap == 0) return DV_NO_SLOT; /* no live slot: reserve(0) kept no table */
    uint32_t mask = m->cap - 1;
    for (uint32_t s = 0; s < db->n_slots; s++) {
        if (s + BUILD_AHEAD < db->n_slots) __builtin_prefetch(&m->b[hash[s + BUILD_AHEAD] & mask], 1);
        const dv_slot *in = dv_info(db, s);
        if (!in->live || in->tomb) continue; /* a tombstone's id left the map */
        uint32_t i = hash[s] & mask;
        for (; m->b[i] != DV_NO_SLOT; i = (i + 1) & mask) {
            uint32_t o = m->b[i];
            const dv_slot *si = dv_info(db, o);
            if (hash[o] == hash[s] && si->id_len == in->id_len && memcmp(si->id, in->id, in->id_len) == 0)
                return s;
        }
        m->b[i] = s;
        m->n++;
    }
    return DV_NO_SLOT;
}

void dv_ids_remove(dv_db *db, uint32_t slot) {
    dv_ids *m = &db->ids;
    uint32_t mask = m->cap - 1;
    uint32_t i = id_hash(dv_info(db, slot)->id, dv_info(db, slot)->id_len) & mask;
    while (m->b[i] != slot) i = (i + 1) & mask;
    /* backward-shift deletion: move later members of the run into the hole
     * when their home position is at or before the hole */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        uint32_t s = m->b[j];
        if (s == DV_NO_SLOT) break;
        uint32_t home = id_hash(dv_info(db, s)->id, dv_info(db, s)->id_len) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->b[i] = s;
            i = j;
        }
    }
    m->b[i] = DV_NO_SLOT;
    m->n--;
}

void dv_ids_free(dv_db *db) {
    dv_mem_free(&db->mem, db->ids.b, (size_t)db->ids.cap * 4);
    db->ids.b = NULL;
    db->ids.cap = db->ids.n = 0;
}

/* A set of item indices over a temporary table (load <= 1/2). */
size_t dv_ids_first_repeat(dv_mem *mem, const dv_insert_item *items, size_t n, int *nomem) {
    *nomem = 0;
    if (n < 2) return n;
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2) cap *= 2;
    if (cap > (1u << 31)) {
        *nomem = 1;
        return n;
    }
    uint32_t *b = dv_mem_alloc(mem, (size_t)cap * 4);
    if (!b) {
        *nomem = 1;
        return n;
    }
    memset(b, 0xFF, (size_t)cap * 4);
    uint32_t mask = (uint32_t)cap - 1;
    size_t repeat = n;
    for (size_t k = 0; k < n && repeat == n; k++) {
        const char *id = items[k].id;
        uint32_t i = id_hash(id, strlen(id)) & mask;
        for (; b[i] != UINT32_MAX; i = (i + 1) & mask) {
            if (strcmp(items[b[i]].id, id) == 0) {
                repeat = k;
                break;
            }
        }
        b[i] = (uint32_t)k;
    }
    dv_mem_free(mem, b, (size_t)cap * 4);
    return repeat;
}
