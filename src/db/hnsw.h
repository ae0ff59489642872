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

/* k-NN through the index / by brute force, with an explicit scratch. */
dv_status dv_hnsw_search_with(const dv_db *db, dv_search_scratch *s, const float *q, size_t k, size_t ef,
                              dv_hit *hits, size_t *n_hits);
dv_status dv_hnsw_exact_with(const dv_db *db, dv_search_scratch *s, const float *q, size_t k, dv_hit *hits,
                             size_t *n_hits);

/* Upper bound of the edge events dv_hnsw_link() emits for a node at level. */
size_t dv_hnsw_link_edge_bound(const dv_db *db, uint32_t level);
/* Links an (unconnected) live node into the graph; sets the entry point if
 * the graph was empty or the node is above max_level. Needs the db's
 * scratch reserved for n_slots and ef_construction. Cannot fail. */
void dv_hnsw_link(dv_db *db, uint32_t slot);

/* Plans removing every edge into `slot` and repairing the nodes that had
 * one (heuristic over their remaining list + slot's neighbours). Counts the
 * exact number of edge events into *edge_events (for_update adds the
 * removal of slot's own edges). May allocate; changes nothing. */
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
