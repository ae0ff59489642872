/*
 * replay.h -- applying observed events to a db, and the read accessors the
 * capture/apply stages use.
 *
 * dv_db_replay() applies one event exactly as the primary did (no search,
 * no randomness), so replaying every event a db emitted, in order, onto a
 * db with the same config reproduces its state (same dv_db_state_hash()).
 * Replay re-emits each event to the replica's own observer, so a replica
 * can feed a further replica (chained replication); OP_BEGIN is forwarded
 * and may be refused by that observer.
 *
 * dv_db_replay_check() validates an event against the current state
 * without changing anything; dv_db_replay() runs the same check first and
 * returns its error (DV_EINCOHERENT for graph violations, DV_EINVAL for
 * malformed events, DV_ECONFLICT/DV_ENOTFOUND for id problems, ...).
 */
#ifndef DV_DB_REPLAY_H
#define DV_DB_REPLAY_H

#include "db/observer.h"

dv_status dv_db_replay_check(const dv_db *db, const dv_event *ev);
dv_status dv_db_replay(dv_db *db, const dv_event *ev);

/* n edge events of one kind (DV_EV_EDGE_ADD or DV_EV_EDGE_REMOVE) on one
 * layer, replayed in order exactly as n calls of dv_db_replay would (same
 * checks, changes, journal and observer events). Edge i's (from, to) pair
 * is the two u32 at `edges + i * stride` and, for adds, its distance the
 * float 8 bytes further (the layout of the decoder's dv_edge_rm /
 * dv_edge_add arrays). Each edge touches lists and node records at random
 * places in a large db: reading them a few edges ahead overlaps those
 * cache misses, which dominate an edge's cost. On a refusal returns its
 * status and sets *failed to the edge's index (edges before it applied). */
dv_status dv_db_replay_edges(dv_db *db, dv_event_kind kind, uint32_t layer, const void *edges, size_t stride,
                             size_t n, size_t *failed);

/* Makes sure a VECTOR_INSERT at `slot` with `level` will not need to grow
 * the store, the id map or the scratch (it still allocates the id, metadata
 * and upper lists, failure-safe). */
dv_status dv_db_reserve_for_replay(dv_db *db, uint32_t slot, uint32_t level);

/* Asks for the cache lines of slot's node (its level-0 list and vector) and
 * slot info ahead of a change to it; nothing for a slot past the store.
 * Reads no node memory itself. */
void dv_db_prefetch_slot(const dv_db *db, uint32_t slot);

/* What is wrong with slot's lists, or NULL: each list within its layer's
 * degree bound, each neighbour in the graph (a vector or a tombstone) up
 * to that layer. NULL too when slot holds no vector. Apply's
 * coherence_check runs it on every node a delta touched. */
const char *dv_db_lists_incoherence(const dv_db *db, uint32_t slot);

/* ---- read accessors (valid until the next write) ------------------------ */
uint32_t dv_db_slot_of(const dv_db *db, const char *id); /* DV_NO_SLOT if absent */
const char *dv_db_id_of(const dv_db *db, uint32_t slot); /* NULL unless it holds a vector */
const float *dv_db_vector_of(const dv_db *db, uint32_t slot);
uint32_t dv_db_level_of(const dv_db *db, uint32_t slot);
int dv_db_slot_live(const dv_db *db, uint32_t slot); /* holds a vector (not free, not a tombstone) */
/* In the graph: a vector or a tombstone (edges may point to it). */
int dv_db_slot_in_graph(const dv_db *db, uint32_t slot);
dv_status dv_db_meta_of(const dv_db *db, uint32_t slot, const dv_meta_kv **pairs, size_t *n);
dv_status dv_db_neighbours(const dv_db *db, uint32_t slot, uint32_t layer, const uint32_t **list,
                           uint32_t *n);
void dv_db_entry(const dv_db *db, uint32_t *entry, uint32_t *max_level);
const dv_db_config *dv_db_config_of(const dv_db *db);
uint32_t dv_db_slot_capacity(const dv_db *db); /* slots in use range: [0, n) */
/* Max degree of a list on layer (2M on layer 0, M above). */
uint32_t dv_db_max_degree(const dv_db *db, uint32_t layer);
/* The highest level of any vector (tombstones aside; 0 when empty): O(slots). */
uint32_t dv_db_highest_level(const dv_db *db);

/* ---- concurrent edge replay (parallel apply, src/apply/parallel.c) ------
 * A parallel applier splits an EDGE_ADD/EDGE_REMOVE(from, layer, to) in
 * two: the checks that do not read a list (its dispatcher, in stream
 * order), and the list part, run by the one worker thread that owns from's
 * lists. The list part changes from's list and to's in-degree (an atomic
 * RMW: several workers may share a target), emits no event and journals
 * nothing: the worker keeps its own undo record. Lists still change only in
 * graph.c. */

/* Starts reading what replaying the edge will touch (both node records,
 * from's layer-0 list); no effect on the state. Parallel apply's dispatcher
 * and workers call it a few edges ahead, as dv_db_replay_edges does. */
void dv_db_edge_prefetch(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to);
/* The same for an edge whose ends passed dv_db_edge_check_ends: it reads
 * nothing the dispatcher changes during an epoch (not the slot count), so a
 * worker may call it. */
void dv_db_edge_prefetch_checked(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to);
/* Both ends live, layer within both levels, no self loop: DV_OK or DV_EINCOHERENT. */
dv_status dv_db_edge_check_ends(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to);
/* The list part of replaying an edge event (kind DV_EV_EDGE_ADD or
 * DV_EV_EDGE_REMOVE) whose ends passed dv_db_edge_check_ends: refuses with
 * DV_EINCOHERENT (unchanged) a duplicate add, an add to a full list or the
 * removal of an absent edge; else applies it and sets *pos to the position
 * it was added at or removed from. The caller owns from's list. */
dv_status dv_db_edge_apply_owned(dv_db *db, dv_event_kind kind, uint32_t from, uint32_t layer, uint32_t to,
                                 uint32_t *pos);
/* Undoes one dv_db_edge_apply_owned of the caller's list, newest first. */
void dv_db_edge_undo_owned(dv_db *db, dv_event_kind kind, uint32_t from, uint32_t layer, uint32_t to,
                           uint32_t pos);
/* The vector part of an update, by the parallel-apply thread that owns
 * its id for the epoch (docs/CONCURRENCY.md "Updates of values only on the loops"):
 * the same change as replaying DV_EV_VECTOR_UPDATE (values and inverse
 * norm), without the db journal (the loop keeps its own undo: old_out gets
 * the dim values and *old_inv_norm the inverse norm before the change) and
 * without events (parallel apply runs only without an observer). idx NULL:
 * a dense update, values = dim floats; else n (index, value) pairs. The
 * caller checked it with dv_db_replay_check. */
void dv_db_vector_set_owned(dv_db *db, uint32_t slot, const uint32_t *idx, const float *values, size_t n,
                            float *old_out, float *old_inv_norm);
/* Puts back what dv_db_vector_set_owned saved (undo, newest first). */
void dv_db_vector_restore_owned(dv_db *db, uint32_t slot, const float *old, float old_inv_norm);
/* Non-zero when replaying a VECTOR_INSERT at slot would grow the store,
 * which moves every list (workers must be drained first). */
int dv_db_insert_moves_lists(const dv_db *db, uint32_t slot);

/* Full audit: every list entry live, on a layer its target has, no
 * duplicates or self loops, degree bounds, in-degree counters, id map, free
 * slots, entry point on the top level. DV_OK, DV_EINCOHERENT or DV_ECORRUPT. */
dv_status dv_db_check_invariants(const dv_db *db);

#endif
