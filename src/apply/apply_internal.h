/*
 * apply_internal.h -- struct dv_apply and the pieces of the single-threaded
 * applier (apply.c) that the parallel dispatcher (parallel.c) reuses, so
 * both paths validate, detect conflicts and report refusals identically.
 *
 * Layering: applier.c (the public entry points) -> parallel.c -> apply.c.
 * apply.c calls nothing above it; the parallel engine's own interface is
 * parallel.h, the thread shim's (src/platform) is host.h.
 */
#ifndef DV_APPLY_INTERNAL_H
#define DV_APPLY_INTERNAL_H

#include "deltavec.h"
#include "db/replay.h"
#include "db/txn.h"
#include "delta/delta.h"
#include "util/alloc.h"

#define UNKNOWN_SEQ UINT64_MAX
#define APPLY_MAX_SLOT (1u << 28)    /* bound on slots from the wire before tables grow */
#define DV_APPLY_MIN_RUN_DEFAULT 64u /* dv_apply_config.min_run: see parallel.c short_run() */

typedef struct dv_par dv_par; /* parallel.c, private */

struct dv_apply {
    dv_mem mem;
    dv_db *db;
    dv_apply_config cfg;
    dv_decode_limits lim;
    uint64_t position;

    uint64_t *last_seq; /* per primary slot */
    uint32_t last_cap;
    uint32_t slot_hi;  /* one past the highest primary slot applied (logical mode's bound) */
    uint64_t fill_seq; /* value of new table entries: 0 or UNKNOWN_SEQ */

    /* slots the current delta touched, with their previous last_seq: a batch
     * may touch a vector twice (its second member's prev_sequence is the
     * batch's own sequence), so last_seq moves as members apply and is put
     * back if the delta rolls back. A parallel epoch keeps appending here
     * across its deltas and rolls back a suffix. */
    struct touched {
        uint32_t slot;
        uint64_t old_seq;
    } * touched;
    size_t n_touched, touched_cap;

    dv_delta_arena arena;
    const dv_delta *cur; /* the (sub-)delta being applied, for messages */
    char err[320];
    dv_apply_stats st;

    dv_par *par; /* worker state when cfg.workers >= 1 (parallel.c), else NULL */
    void *host;  /* the host thread shim's state (host.h), else NULL */
};

/* ---- apply.c, used by applier.c and parallel.c ---- */
/* dv_apply_init / dv_apply_free / dv_apply_batch without the parallel engine. */
dv_status dv_apply_create(dv_db *replica, const dv_apply_config *cfg, dv_apply **out);
void dv_apply_destroy(dv_apply *ap);
dv_status dv_apply_batch_inline(dv_apply *ap, const uint8_t *const *headers, const uint8_t *const *payloads,
                                const size_t *payload_lens, size_t n, dv_status *results, size_t *n_applied);
/* Records a refusal message "sequence S: what (id ...): strerror", counts it, returns st. */
dv_status dv_apply_fail(dv_apply *ap, uint64_t seq, const char *what, dv_status st);
const char *dv_apply_event_name(dv_event_kind k);
/* Call before dv_apply_detect: DV_ENOMEM (message set) if the per-slot table cannot grow. */
dv_status dv_apply_reserve_slot(dv_apply *ap, const dv_delta *d);
dv_conflict_kind dv_apply_detect(dv_apply *ap, const dv_delta *d);
dv_conflict_action dv_apply_decide(dv_apply *ap, dv_conflict_kind k, const dv_delta *d);
dv_status dv_apply_conflict_status(dv_conflict_kind k);
const char *dv_apply_conflict_name(dv_conflict_kind k);
dv_status dv_apply_note_touched(dv_apply *ap, uint32_t slot, uint64_t seq);
/* A node may not sit above the entry point's level: DV_ECONSTRAINT (message
 * set for sequence seq) when slot holds a vector there. */
dv_status dv_apply_check_level(dv_apply *ap, uint32_t slot, uint64_t seq);
/* Grows the per-slot table to every slot a delta may name now (DV_ENOMEM). */
dv_status dv_apply_reserve_all_slots(dv_apply *ap);
/* Whether update d (dense or sparse values, nothing else) applies with no
 * conflict and passes dv_db_replay_check: the verdict of dv_apply_detect
 * == 0 and the replay check, reached without the id map and without growing
 * the per-slot table, so a parallel-apply loop may ask it while the
 * dispatcher works on other slots (parallel.c, run_vector). */
int dv_apply_update_conflict_free(const dv_apply *ap, const dv_delta *d);
/* Gate 2: DV_OK (next), DV_EDUPLICATE or DV_EGAP (message set, counted). */
dv_status dv_apply_check_sequence(dv_apply *ap, uint64_t seq);
/* Gate 4, single-threaded, inside its own db transaction; the caller holds the db's write lock. */
dv_status dv_apply_decoded_locked(dv_apply *ap, const dv_delta *d);
/* Takes the db's write lock with the configured yield hook. */
void dv_apply_lock(dv_apply *ap);
void dv_apply_unlock(dv_apply *ap);

#endif
