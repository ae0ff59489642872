/*
 * searcher.c -- dv_searcher: searches and gets that may run on other threads
 * while a dv_apply changes the db (section 3 of deltavec.h, "Reads during
 * apply").
 *
 * Why a handle: a search writes only to its scratch (visited tags, heaps),
 * so each concurrent reader needs its own; and a hit's id must outlive the
 * read lock, so the handle copies ids into its own buffer. Every call holds
 * the db's read lock (rwlock.h) for its whole duration; apply holds the
 * write lock while it changes the db (per delta, or per parallel epoch), so
 * a reader sees the state between two whole deltas: no torn vector, no
 * edge to a node being deleted, no half-moved array.
 */
#include <string.h>

#include "db/hnsw.h"
#include "db/rwlock.h"

struct dv_searcher {
    dv_mem mem;
    const dv_db *db;
    dv_search_scratch *scratch;
    char *ids; /* NUL-terminated copies of the last search's hit ids */
    size_t ids_cap;
    dv_yield_fn yield;
    void *yield_ctx;
};

void dv_searcher_config_default(dv_searcher_config *cfg) {
    if (cfg) memset(cfg, 0, sizeof *cfg);
}

dv_status dv_searcher_open(const dv_db *db, const dv_searcher_config *cfg, dv_searcher **out) {
    if (!db || !out) return DV_EINVAL;
    *out = NULL;
    dv_searcher_config defaults;
    if (!cfg) {
        dv_searcher_config_default(&defaults);
        cfg = &defaults;
    }
    dv_mem m;
    dv_mem_init(&m, cfg->allocator);
    dv_searcher *s = dv_mem_calloc(&m, 1, sizeof *s);
    if (!s) return DV_ENOMEM;
    s->mem = m;
    s->db = db;
    s->yield = cfg->yield;
    s->yield_ctx = cfg->yield_ctx;
    if (dv_hnsw_scratch_create(cfg->allocator, &s->scratch) != DV_OK) {
        dv_mem_free(&m, s, sizeof *s); /* m, not s->mem: s->mem dies with s */
        return DV_ENOMEM;
    }
    *out = s;
    return DV_OK;
}

void dv_searcher_close(dv_searcher *s) {
    if (!s) return;
    dv_hnsw_scratch_destroy(s->scratch);
    dv_mem_free(&s->mem, s->ids, s->ids_cap);
    dv_mem m = s->mem;
    dv_mem_free(&m, s, sizeof *s);
}

/* Copies the hit ids out of the db (called under the read lock). */
static dv_status copy_ids(dv_searcher *s, dv_hit *hits, size_t n) {
    size_t need = 0;
    for (size_t i = 0; i < n; i++) need += (size_t)dv_info(s->db, hits[i].slot)->id_len + 1;
    if (need > s->ids_cap) {
        size_t cap = need < 256 ? 256 : need;
        char *p = dv_mem_realloc(&s->mem, s->ids, s->ids_cap, cap);
        if (!p) return DV_ENOMEM;
        s->ids = p;
        s->ids_cap = cap;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)dv_info(s->db, hits[i].slot)->id_len + 1;
        memcpy(s->ids + off, hits[i].id, len);
        hits[i].id = s->ids + off;
        off += len;
    }
    return DV_OK;
}

dv_status dv_searcher_search(dv_searcher *s, const float *query, size_t k, size_t ef, dv_hit *hits,
                             size_t *n_hits) {
    return dv_searcher_search_filtered(s, query, k, ef, NULL, hits, n_hits);
}

dv_status dv_searcher_search_filtered(dv_searcher *s, const float *query, size_t k, size_t ef,
                                      const dv_filter *filter, dv_hit *hits, size_t *n_hits) {
    if (!s || !query || !n_hits || (k && !hits)) return DV_EINVAL;
    *n_hits = 0;
    dv_status st = dv_filter_check(filter); /* the caller's strings: no lock needed */
    if (st != DV_OK) return st;
    dv_db_read_lock(s->db, s->yield, s->yield_ctx);
    size_t n = 0;
    st = dv_hnsw_search_filtered_with(s->db, s->scratch, query, k, ef, filter, hits, &n, NULL);
    if (st == DV_OK) st = copy_ids(s, hits, n);
    dv_db_read_unlock(s->db);
    if (st == DV_OK) *n_hits = n;
    return st;
}

dv_status dv_searcher_get(dv_searcher *s, const char *id, float *out) {
    if (!s || !out) return DV_EINVAL;
    size_t len;
    if (!dv_id_valid(id, &len)) return DV_EID;
    dv_db_read_lock(s->db, s->yield, s->yield_ctx);
    uint32_t slot = dv_ids_find(s->db, id, len);
    if (slot != DV_NO_SLOT) memcpy(out, dv_vec(s->db, slot), (size_t)s->db->dim * 4);
    dv_db_read_unlock(s->db);
    return slot == DV_NO_SLOT ? DV_ENOTFOUND : DV_OK;
}

dv_status dv_searcher_count(dv_searcher *s, size_t *count) {
    if (!s || !count) return DV_EINVAL;
    dv_db_read_lock(s->db, s->yield, s->yield_ctx);
    *count = s->db->live;
    dv_db_read_unlock(s->db);
    return DV_OK;
}
