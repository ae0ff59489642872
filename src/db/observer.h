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
 *  - VECTOR_DELETE removes the vector `slot`: when no edge points to it any
 *    more (an eager repair removed them before), it clears its own lists and
 *    frees the slot; otherwise the node becomes a *tombstone*: its id and
 *    count are gone, but its vector and lists stay in the graph, so searches
 *    still route through it (and never return it);
 *  - VECTOR_PURGE frees a tombstone no edge points to any more (the repair
 *    removed them): its own lists are cleared and the slot is freed.
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
    /* Called by dv_db_close while this observer is attached (may be NULL):
     * the db is going away, forget it. It is detached afterwards. */
    void (*on_close)(void *ctx);
} dv_observer;

/*
 * A db has at most one observer. Attached, it receives events only while
 * switched on (dv_db_observe); until it is detached (NULL) or the db closes
 * (on_close), the db holds its ctx. Capture attaches at dv_capture_init and
 * detaches at dv_capture_free, so a db never points at a freed capture and a
 * capture learns when its db is closed.
 */
/* Attaches obs, switched off. DV_ESTATE if an observer is attached. */
dv_status dv_db_attach_observer(dv_db *db, const dv_observer *obs);
/* Switches the attached observer's events on (non-zero) or off. */
void dv_db_observe(dv_db *db, int on);
/* Attaches obs switched on, replacing any observer; NULL detaches. */
void dv_db_set_observer(dv_db *db, const dv_observer *obs);
/* Non-zero while an observer receives events. */
int dv_db_has_observer(const dv_db *db);

#endif
