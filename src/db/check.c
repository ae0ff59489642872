/*
 * check.c -- dv_db_check_invariants(): a full O(edges) audit of the
 * invariants listed in db_internal.h. For tests and for apply's paranoid
 * mode; allocates a temporary in-degree array.
 */
#include <string.h>

#include "db/db_internal.h"
#include "db/replay.h"

dv_status dv_db_check_invariants(const dv_db *db) {
    if (!db) return DV_EINVAL;
    size_t live = 0;
    uint32_t top = 0;
    dv_mem m;
    dv_mem_init(&m, &db->mem.a);
    uint32_t *cnt = dv_mem_calloc(&m, (size_t)db->n_slots + 1, 4);
    if (!cnt) return DV_ENOMEM;
    dv_status st = DV_OK;
    for (uint32_t layer = 0; layer <= DV_MAX_LEVEL && st == DV_OK; layer++) {
        memset(cnt, 0, ((size_t)db->n_slots + 1) * 4);
        int any = 0;
        for (uint32_t i = 0; i < db->n_slots && st == DV_OK; i++) {
            const dv_slot *si = dv_info(db, i);
            if (!si->live) {
                if (layer == 0 && dv_l0(db, i)[0] != 0) st = DV_ECORRUPT;
                continue;
            }
            if (si->level < layer) continue;
            any = 1;
            const uint32_t *lst = dv_list(db, i, layer);
            if (lst[0] > dv_maxdeg(db, layer)) st = DV_EINCOHERENT;
            for (uint32_t j = 0; j < lst[0] && st == DV_OK; j++) {
                uint32_t t = lst[1 + j];
                if (t == i || !dv_is_live(db, t) || dv_info(db, t)->level < layer) st = DV_EINCOHERENT;
                for (uint32_t k = 0; k < j && st == DV_OK; k++)
                    if (lst[1 + k] == t) st = DV_EINCOHERENT;
                if (st == DV_OK) cnt[t]++;
            }
        }
        for (uint32_t i = 0; i < db->n_slots && st == DV_OK; i++)
            if (dv_info(db, i)->live && dv_info(db, i)->level >= layer && cnt[i] != *dv_indeg(db, i, layer))
                st = DV_ECORRUPT;
        if (!any) break;
    }
    dv_mem_free(&m, cnt, ((size_t)db->n_slots + 1) * 4);
    if (st != DV_OK) return st;
    size_t tombs = 0;
    for (uint32_t i = 0; i < db->n_slots; i++) {
        if (!dv_info(db, i)->live) continue;
        if (dv_info(db, i)->tomb) { /* out of the id map */
            tombs++;
            continue;
        }
        live++;
        if (dv_info(db, i)->level > top) top = dv_info(db, i)->level;
        size_t len = dv_info(db, i)->id_len;
        if (dv_ids_find(db, dv_info(db, i)->id, len) != i) return DV_ECORRUPT;
        if (dv_info(db, i)->meta_sig != dv_store_meta_sig(dv_info(db, i)->meta)) return DV_ECORRUPT;
    }
    if (live != db->live || tombs != db->n_tomb || db->ids.n != live ||
        db->n_free + live + tombs != db->n_slots)
        return DV_ECORRUPT;
    for (uint32_t k = 0; k < db->n_free; k++)
        if (db->free_slots[k] >= db->n_slots || dv_info(db, db->free_slots[k])->live) return DV_ECORRUPT;
    if (live == 0) return db->entry == DV_NO_SLOT ? DV_OK : DV_EINCOHERENT;
    if (!dv_is_vector(db, db->entry) || dv_info(db, db->entry)->level != db->max_level ||
        db->max_level != top)
        return DV_EINCOHERENT;
    return DV_OK;
}
