/*
 * rwlock.h -- the db's reader-writer lock, for reads during apply.
 *
 * One 32-bit word in struct dv_db, driven by C11 atomics only (no OS
 * calls: it builds freestanding for wasm32 shared memory, where the
 * waiting side spins and calls a yield hook):
 *
 *   bit 31      W: a writer holds the lock (or is waiting for readers to leave)
 *   bits 16..30 readers waiting for W to clear (a hint the writer uses to
 *               let them in between deltas, and the parallel applier to end
 *               an epoch early)
 *   bits 0..15  readers inside
 *
 * Writer preference: once W is set no new reader enters, so a stream of
 * searches cannot starve apply; a writer that finds readers waiting first
 * gives them a bounded chance to get in, so apply cannot starve searches.
 * Acquire on lock / release on unlock make everything a writer did visible
 * to the next reader and vice versa. There is one writer per db (a db is
 * single-writer); readers are dv_searcher handles.
 */
#ifndef DV_DB_RWLOCK_H
#define DV_DB_RWLOCK_H

#include <stdint.h>

#include "deltavec.h"

typedef void (*dv_yield_fn)(void *ctx);

void dv_db_read_lock(const dv_db *db, dv_yield_fn yield, void *ctx);
void dv_db_read_unlock(const dv_db *db);
void dv_db_write_lock(dv_db *db, dv_yield_fn yield, void *ctx);
void dv_db_write_unlock(dv_db *db);
/* Non-zero when readers are waiting for the writer (the lock holder asks). */
int dv_db_readers_waiting(const dv_db *db);

#endif
