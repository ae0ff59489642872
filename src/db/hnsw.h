/*
 * hnsw.h -- the HNSW index (Malkov & Yashunin) over the store's slots.
 *
 * Searches are const on the db and write only to a dv_search_scratch, so
 * each concurrent reader (dv_searcher) has its own scratch. Writes
 * (link/unlink) go through the graph primitives of graph.c and therefore
 * report every change to the observer. Write paths are split in a planning
 * step that may allocate (before OP_BEGIN) and an apply step that cannot
 * fail (between OP_BEGIN and OP_END).
 */
#ifndef DV_DB_HNSW_H
#define DV_DB_HNSW_H

#include "db/db_internal.h"

/* Level of a new node: floor(-ln(u) * mult) from a splitmix64 state. */
uint32_t dv_hnsw_random_level(uint64_t *rng, double mult);
/* Advances rng past one level draw without computing the level (replay). */
void dv_hnsw_skip_level(uint64_t *rng);

/* k-NN through the index / by brute force, with an explicit scratch. */
dv_status dv_hnsw_search_with(const dv_db *db, dv_search_scratch *s, const float *q, size_t k, size_t ef,
                              dv_hit *hits, size_t *n_hits);
dv_status dv_hnsw_exact_with(const dv_db *db, dv_search_scratch *s, const float *q, size_t k, dv_hit *hits,
                             size_t *n_hits);

/* How a filtered search found its hits (tests check that both ways run). */
typedef enum dv_filter_path {
    DV_FILTER_PATH_NONE = 0,  /* no filter: the plain search */
    DV_FILTER_PATH_GRAPH = 1, /* the beam search admitting only matches */
    DV_FILTER_PATH_SCAN = 2   /* the exact scan of the matching vectors */
} dv_filter_path;

/* k-NN among the live vectors matching filter (filtered.c); *path (may be
 * NULL) says which way the hits were found. */
dv_status dv_hnsw_search_filtered_with(const dv_db *db, dv_search_scratch *s, const float *q, size_t k,
                                       size_t ef, const dv_filter *filter, dv_hit *hits, size_t *n_hits,
                                       dv_filter_path *path);
/* DV_OK for no filter or valid pairs; DV_EINVAL (pairs NULL), DV_EMETA (as insert metadata). */
dv_status dv_filter_check(const dv_filter *filter);

/* A valid, active filter ready to test slots: sig is the OR of its pairs'
 * bits (dv_store_pair_sig), so a slot whose meta_sig lacks one of them
 * cannot match and its metadata is never read. */
typedef struct dv_matcher {
    const dv_filter *filter;
    uint32_t sig;
} dv_matcher;
void dv_matcher_init(dv_matcher *m, const dv_filter *filter);
/* Reads the slot's metadata: every pair of the filter must be there. */
int dv_matcher_match_pairs(const dv_db *db, const dv_matcher *m, uint32_t slot);
/* A tombstone (a deleted vector still routing searches) matches nothing. */
static inline int dv_matcher_match(const dv_db *db, const dv_matcher *m, uint32_t slot) {
    return !dv_info(db, slot)->tomb && (dv_info(db, slot)->meta_sig & m->sig) == m->sig &&
           dv_matcher_match_pairs(db, m, slot);
}

/* ---- shared by the searches of hnsw.c and filtered.c ---- */
/* Arguments of a search: DV_EINVAL for NULLs, DV_ENONFINITE for the query; sets *n_hits = 0. */
dv_status dv_hnsw_check_query(const dv_db *db, const float *q, size_t k, dv_hit *hits, size_t *n_hits);
/* Greedy descent through the upper layers to the layer-0 entry *ep
 * (distance *epd); uses s's visited tags (reserved for the db's slots). */
void dv_hnsw_descend(const dv_db *db, dv_search_scratch *s, const float *q, float qinv, uint32_t *ep,
                     float *epd);
/* k nearest live vectors by brute force, only those matching m when it is not NULL. */
dv_status dv_hnsw_exact_scan(const dv_db *db, dv_search_scratch *s, const float *q, size_t k,
                             const dv_matcher *m, dv_hit *hits, size_t *n_hits);
/* Fills hits[0..n) from sorted (slot, distance) items; *n_hits = n. */
void dv_hnsw_write_hits(const dv_db *db, const dv_heap_item *sorted, size_t n, dv_hit *hits, size_t *n_hits);
/* A fresh visited tag (clears the tags when the 16-bit epoch wraps). */
uint16_t dv_hnsw_new_epoch(dv_search_scratch *s);
/* Frees heaps a huge search grew, so they are not kept for the db's lifetime. */
void dv_hnsw_scratch_trim(dv_search_scratch *s);

/* Upper bound of the edge events dv_hnsw_link() emits for a node at level. */
size_t dv_hnsw_link_edge_bound(const dv_db *db, uint32_t level);
/* Links an (unconnected) live node into the graph; sets the entry point if
 * the graph was empty or the node is above max_level. Needs the db's
 * scratch reserved for n_slots and ef_construction. Cannot fail. */
void dv_hnsw_link(dv_db *db, uint32_t slot);

/* Plans removing every edge into `slot` and repairing the nodes that had
 * one (they keep their other entries and take some of slot's neighbours,
 * with back edges; hnsw.c). Counts an upper bound of the edge events into
 * *edge_events (for_update adds the removal of slot's own edges). May
 * allocate; changes nothing. */
dv_status dv_hnsw_plan_unlink(dv_db *db, uint32_t slot, int for_update, size_t *edge_events);
/* Applies the plan. Delete: also moves the entry point off `slot`.
 * Update: also removes slot's own edges. Cannot fail. */
void dv_hnsw_apply_unlink(dv_db *db, uint32_t slot, int for_update);

/* Plans one bounded step of the repair sweep (see hnsw.c): the lists of
 * slots from `from` on that hold tombstones, until about max_events edge
 * events are planned. *next: where the next step starts (n_slots: the
 * sweep is done); *events: the exact edge events; *layers: layers touched.
 * May allocate; changes nothing. */
dv_status dv_hnsw_plan_repair(dv_db *db, uint32_t from, size_t max_events, uint32_t *next, size_t *events,
                              uint32_t *layers);
/* Applies the planned step. Cannot fail. */
void dv_hnsw_apply_repair(dv_db *db);

/* Highest-level vector other than `exclude` (never a tombstone), lowest slot on ties. */
uint32_t dv_hnsw_pick_entry(const dv_db *db, uint32_t exclude, uint32_t *level);

#endif
