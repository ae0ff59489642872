/*
 * txn.h -- all-or-nothing changes to a db: an undo journal.
 *
 * Apply must leave a replica exactly as it was when a delta (or a whole
 * batch) is refused half-way, e.g. by a coherence check on its 40th edge.
 * While a transaction is open, every primitive mutation (graph.c and
 * store.c are the only code that changes state) first records how to undo
 * itself; rollback replays the records backwards. Memory a mutation would
 * free (a detached node's id, metadata and upper lists, an overwritten
 * metadata value, ...) is kept alive by its record until commit, so undo
 * never allocates and cannot fail.
 *
 * Journal capacity is reserved before a change starts (dv_txn_reserve, and
 * automatically by dv_db_emit_begin for public writes with their edge bound),
 * so recording never allocates either; a write whose journal space cannot
 * be reserved is refused with DV_ENOMEM before it changes anything.
 */
#ifndef DV_DB_TXN_H
#define DV_DB_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"

struct dv_slot;

/* Opens a transaction (DV_ESTATE if one is open). */
dv_status dv_txn_begin(dv_db *db);
/* Makes room for n_records more records, of which at most n_vectors save a
 * vector and n_detaches save a whole node. */
dv_status dv_txn_reserve(dv_db *db, size_t n_records, size_t n_vectors, size_t n_detaches);
/* Keeps every change and frees what the journal kept alive. */
void dv_txn_commit(dv_db *db);
/* Undoes every change since dv_txn_begin, newest first. */
void dv_txn_rollback(dv_db *db);
/* Partial rollback (parallel apply: refuse one delta of an epoch and every
 * later one, keep the earlier ones): dv_txn_mark() is the number of records
 * so far; dv_txn_rollback_to() undoes the records after a mark, newest
 * first, and leaves the transaction open. */
size_t dv_txn_mark(const dv_db *db);
void dv_txn_rollback_to(dv_db *db, size_t mark);
/* Frees the journal's memory (dv_db_close). */
void dv_txn_free(dv_db *db);

/* ---- recording hooks, called by the primitives only when db->txn is open ---- */
void dv_txn_log_edge_add(dv_db *db, uint32_t from, uint32_t layer, uint32_t to);
void dv_txn_log_edge_remove(dv_db *db, uint32_t from, uint32_t layer, uint32_t to, uint32_t pos);
void dv_txn_log_entry(dv_db *db, uint32_t old_entry, uint32_t old_max_level);
void dv_txn_log_vector(dv_db *db, uint32_t slot);
/* Before a sparse update of entries idx[0..n) (distinct, < dim): the old
 * values of just those entries (or the whole vector when that is smaller).
 * Uses at most the pool bytes reserved for one vector. */
void dv_txn_log_sparse(dv_db *db, uint32_t slot, const uint32_t *idx, size_t n);
/* from_free_index: where the slot was on the free stack, or UINT32_MAX when
 * the store grew from old_n_slots to take it. */
void dv_txn_log_attach(dv_db *db, uint32_t slot, uint32_t from_free_index, uint32_t old_n_slots);
/* Saves the node before detach; the caller then must not free id/meta/upper. */
void dv_txn_log_detach(dv_db *db, uint32_t slot);
/* A vector became a tombstone (its id left the id map). */
void dv_txn_log_tombstone(dv_db *db, uint32_t slot);
void dv_txn_log_meta_remove(dv_db *db, uint32_t slot, uint32_t index, const char *key, const char *value);
void dv_txn_log_meta_overwrite(dv_db *db, uint32_t slot, uint32_t index, const char *old_value);
/* old_block: the block replaced by a grown one (kept alive), or NULL. grew: a new block was installed. */
void dv_txn_log_meta_append(dv_db *db, uint32_t slot, void *old_block, int grew);

#endif
