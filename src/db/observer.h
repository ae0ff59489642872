/*
 * observer.h -- the db reports every state change as a dv_event.
 *
 * This is the seam between the database and the delta pipeline: capture
 * (src/capture) turns events into deltas; apply decodes deltas back into
 * the same events and replays them with dv_db_replay() (src/db/replay.h).
 * A db that replays, in order, every event another db emitted ends in the
 * same state: same dv_db_state_hash(), same search results.
 *
 * Every public write (insert, update, update_sparse, delete, set_meta) is
 * bracketed: OP_BEGIN ... events ... OP_END. OP_BEGIN comes after all
 * validation and allocation that can fail, and before the first change; the
 * observer may refuse it (e.g. DV_EFULL when the ring has no room for
 * bound_bytes), and the db then returns that status unchanged. Between
 * OP_BEGIN and OP_END the write cannot fail.
 *
 * Graph mutations are reported as primitives whose replay is deterministic:
 *  - EDGE_ADD appends `to` at the end of from's list on `layer`;
 *  - EDGE_REMOVE removes `to` from from's list, keeping the order of the rest;
 *  - ENTRY sets the entry point and max level;
 *  - VECTOR_INSERT creates node `slot` with `level` and empty lists;
 *  - VECTOR_DELETE tombstones `slot`, clears its own lists and frees the slot
 *    (the edges *into* it have been removed by EDGE_REMOVE events before).
 * The HNSW code mutates the graph only through these primitives, so the
 * primary's lists are, by construction, what a replica rebuilds.
 */
#ifndef DV_DB_OBSERVER_H
#define DV_DB_OBSERVER_H

#include "deltavec.h"
#include "util/events.h" /* dv_event, dv_event_fn: the vocabulary shared with src/delta */

typedef struct dv_observer {
    dv_event_fn on_event;
    void *ctx;
} dv_observer;

/* Installs (or, with NULL, removes) the db's observer. */
void dv_db_set_observer(dv_db *db, const dv_observer *obs);

#endif
