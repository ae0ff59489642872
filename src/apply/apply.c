/*
 * apply.c -- a replica follows a primary's delta stream (section 8 of
 * deltavec.h is the contract).
 *
 * One delta goes through four gates, in this order, and only the last one
 * changes the replica:
 *
 *   1. decode    header, version, checksum, payload structure, values, ids
 *                (src/delta decodes hostile input; nothing is trusted);
 *   2. sequence  exactly position + 1; older = duplicate; newer = gap;
 *   3. conflicts per vector change (NOTFOUND, EXISTS, DATA, CONSTRAINT),
 *                decided by the policy or callback;
 *   4. change    inside a db transaction (src/db/txn.h): structural mode
 *                replays the delta's events (each checked by
 *                dv_db_replay_check: degree bounds, live targets, entry
 *                point...), logical mode calls the ordinary writes. Any
 *                failure rolls the whole delta (or batch) back.
 *
 * prev_sequence bookkeeping: `last_seq[slot]` is the sequence of the last
 * applied delta that touched the primary's node `slot` (deltas carry the
 * primary's slots, in both modes). UNKNOWN_SEQ marks slots whose history
 * the replica does not know (it started from a checkpoint), for which the
 * prev_sequence check is skipped until they are touched.
 *
 * Concurrency: each delta is changed under the db's write lock (rwlock.h),
 * so dv_searcher readers on other threads see whole deltas only. This file
 * is the inline path and knows nothing of the parallel engine: applier.c
 * (the public entry points) hands dv_apply_batch to parallel.c when worker
 * loops run, and parallel.c reuses the gates above (see docs/CONCURRENCY.md).
 */
#include <string.h>

#include "apply/apply_internal.h"
#include "delta/floats.h"
#include "db/rwlock.h"
#include "util/text.h"

void dv_apply_config_default(dv_apply_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = DV_APPLY_STRUCTURAL;
    cfg->policy = DV_CONFLICT_ABORT;
    cfg->coherence_check = 1;
    cfg->workers = 4;
    cfg->epoch_max = 256;
    cfg->min_run = DV_APPLY_MIN_RUN_DEFAULT;
}

dv_status dv_apply_create(dv_db *replica, const dv_apply_config *cfg, dv_apply **out) {
    if (!replica || !out) return DV_EINVAL;
    dv_apply_config defaults;
    if (!cfg) {
        dv_apply_config_default(&defaults);
        cfg = &defaults;
    }
    if ((unsigned)cfg->mode > DV_APPLY_LOGICAL || (unsigned)cfg->policy > DV_CONFLICT_REPLACE ||
        cfg->workers > DV_APPLY_MAX_WORKERS)
        return DV_EINVAL;
    dv_mem mem;
    dv_mem_init(&mem, cfg->allocator);
    dv_apply *ap = dv_mem_calloc(&mem, 1, sizeof *ap);
    if (!ap) return DV_ENOMEM;
    ap->mem = mem;
    ap->db = replica;
    ap->cfg = *cfg;
    ap->position = cfg->start_position;
    ap->fill_seq = cfg->start_position ? UNKNOWN_SEQ : 0;
    ap->lim.max_payload = cfg->max_payload;
    ap->lim.max_dim = dv_db_dim(replica);
    dv_delta_arena_init(&ap->arena, &ap->mem);
    if (ap->cfg.epoch_max == 0) ap->cfg.epoch_max = 256;
    if (ap->cfg.min_run == 0) ap->cfg.min_run = DV_APPLY_MIN_RUN_DEFAULT;
    *out = ap;
    return DV_OK;
}

void dv_apply_destroy(dv_apply *ap) {
    if (!ap) return;
    dv_delta_arena_free(&ap->arena);
    dv_mem_free(&ap->mem, ap->last_seq, (size_t)ap->last_cap * 8);
    dv_mem_free(&ap->mem, ap->touched, ap->touched_cap * sizeof *ap->touched);
    dv_mem mem = ap->mem;
    dv_mem_free(&mem, ap, sizeof *ap);
}

uint64_t dv_apply_position(const dv_apply *ap) { return ap ? ap->position : 0; }
const char *dv_apply_last_error(const dv_apply *ap) { return ap ? ap->err : "no applier"; }

dv_status dv_apply_stats_get(const dv_apply *ap, dv_apply_stats *out) {
    if (!ap || !out) return DV_EINVAL;
    *out = ap->st;
    return DV_OK;
}

/* ---- messages -------------------------------------------------------------- */

/* err = "seq S: <what>: <strerror>" */
dv_status dv_apply_fail(dv_apply *ap, uint64_t seq, const char *what, dv_status st) {
    dv_text t;
    dv_text_init(&t, ap->err, sizeof ap->err);
    dv_text_put(&t, "sequence ");
    dv_text_u64(&t, seq);
    dv_text_put(&t, ": ");
    dv_text_put(&t, what);
    if (ap->cur && ap->cur->id) {
        dv_text_put(&t, " (id \"");
        dv_text_put(&t, ap->cur->id);
        dv_text_put(&t, "\")");
    }
    dv_text_put(&t, ": ");
    dv_text_put(&t, dv_strerror(st));
    ap->st.refused++;
    return st;
}

const char *dv_apply_event_name(dv_event_kind k) {
    switch (k) {
    case DV_EV_VECTOR_INSERT:
        return "vector insert";
    case DV_EV_VECTOR_UPDATE:
        return "vector update";
    case DV_EV_VECTOR_DELETE:
        return "vector delete";
    case DV_EV_META_SET:
        return "metadata change";
    case DV_EV_EDGE_ADD:
        return "edge add";
    case DV_EV_EDGE_REMOVE:
        return "edge remove";
    case DV_EV_ENTRY:
        return "entry point change";
    case DV_EV_VECTOR_PURGE:
        return "tombstone purge";
    default:
        return "event";
    }
}

/* ---- per-slot sequence table ---------------------------------------------- */

/* The primary assigns slots densely (a free slot, or the next one past the
 * end), so a delta never names a slot beyond one past the highest the
 * replica knows: this bounds how much one delta can make the tables grow. */
static uint32_t slot_bound(const dv_apply *ap) {
    uint32_t n = dv_db_slot_capacity(ap->db);
    return n > ap->slot_hi ? n : ap->slot_hi;
}

static dv_status grow_slots(dv_apply *ap, uint32_t slot) {
    if (slot < ap->last_cap) return DV_OK;
    if (slot > slot_bound(ap) || slot >= APPLY_MAX_SLOT) return DV_ECONSTRAINT;
    uint32_t cap = ap->last_cap ? ap->last_cap : 1024;
    while (cap <= slot) cap *= 2;
    uint64_t *q = dv_mem_realloc(&ap->mem, ap->last_seq, (size_t)ap->last_cap * 8, (size_t)cap * 8);
    if (!q) return DV_ENOMEM;
    for (uint32_t i = ap->last_cap; i < cap; i++) q[i] = ap->fill_seq;
    ap->last_seq = q;
    ap->last_cap = cap;
    return DV_OK;
}

/* Grows the per-slot table for d before conflict detection: out of memory
 * is not a conflict, so no policy may skip it. A slot past the bound is left
 * to dv_apply_detect (conflict CONSTRAINT). */
dv_status dv_apply_reserve_slot(dv_apply *ap, const dv_delta *d) {
    if (d->vkind == DV_VEC_NONE && !d->id) return DV_OK;
    dv_status st = grow_slots(ap, d->slot);
    return st == DV_ENOMEM ? dv_apply_fail(ap, d->h.sequence, "slot table", st) : DV_OK;
}

dv_status dv_apply_reserve_all_slots(dv_apply *ap) {
    uint32_t bound = slot_bound(ap);
    if (bound >= APPLY_MAX_SLOT) bound = APPLY_MAX_SLOT - 1;
    return grow_slots(ap, bound);
}

/* Records that the current delta (sequence seq) applied a change to slot. */
dv_status dv_apply_note_touched(dv_apply *ap, uint32_t slot, uint64_t seq) {
    if (ap->n_touched == ap->touched_cap) {
        size_t cap = ap->touched_cap ? ap->touched_cap * 2 : 64;
        struct touched *q =
            dv_mem_realloc(&ap->mem, ap->touched, ap->touched_cap * sizeof *q, cap * sizeof *q);
        if (!q) return DV_ENOMEM;
        ap->touched = q;
        ap->touched_cap = cap;
    }
    ap->touched[ap->n_touched].slot = slot;
    ap->touched[ap->n_touched].old_seq = ap->last_seq[slot];
    ap->n_touched++;
    ap->last_seq[slot] = seq;
    if (slot >= ap->slot_hi) ap->slot_hi = slot + 1;
    return DV_OK;
}

static void undo_touched(dv_apply *ap) {
    for (size_t i = ap->n_touched; i > 0; i--)
        ap->last_seq[ap->touched[i - 1].slot] = ap->touched[i - 1].old_seq;
    ap->n_touched = 0;
}

/* ---- conflicts --------------------------------------------------------------- */

static int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* Does the replica's current vector match the delta's before-image? Bit for
 * bit, except in an i8 delta: the replica holds values decoded from earlier
 * arrays, each with its own min/scale, so the primary's before-image cannot
 * be compared with them (docs/FORMAT.md section 4); prev_sequence still is. */
static int before_matches(const dv_delta *d, const float *cur) {
    if (!d->before || !cur || (d->h.flags & DV_FLAG_LOSSY_I8)) return 1;
    if (d->vkind == DV_VEC_SPARSE) {
        for (uint32_t i = 0; i < d->n; i++)
            if (memcmp(&d->before[i], &cur[d->idx[i]], sizeof(float)) != 0) return 0;
        return 1;
    }
    return same_bits(d->before, cur, d->vkind == DV_VEC_DELETE ? d->dim : d->n);
}

/* Were a kind 3 update's bits taken against the replica's current values? */
static int xor_base_matches(const dv_delta *d, const float *cur, uint32_t dim) {
    return cur && d->dim == dim && dv_delta_xor_base_hash(cur, dim) == d->base_hash;
}

/* The replica-side slot holding the delta's vector, or DV_NO_SLOT. */
static uint32_t local_slot(const dv_apply *ap, const dv_delta *d) {
    if (!d->id) return DV_NO_SLOT;
    uint32_t s = dv_db_slot_of(ap->db, d->id);
    if (ap->cfg.mode == DV_APPLY_STRUCTURAL && s != d->slot) return DV_NO_SLOT;
    return s;
}

/* Classifies the (sub-)delta; 0 = no conflict. */
dv_conflict_kind dv_apply_detect(dv_apply *ap, const dv_delta *d) {
    if (d->vkind == DV_VEC_NONE && !d->id) return 0; /* graph only */
    uint32_t dim = dv_db_dim(ap->db);
    if (d->dim && d->dim != dim && d->vkind != DV_VEC_DELETE) return DV_CONFLICT_CONSTRAINT;
    if (d->vkind == DV_VEC_DELETE && d->before && d->dim != dim) return DV_CONFLICT_CONSTRAINT;
    /* a slot past the bound: no table entry. Asked of the bound itself, not of the table's size,
     * which depends on what came before (and which parallel apply grows ahead of time) */
    int known = d->slot <= slot_bound(ap) && grow_slots(ap, d->slot) == DV_OK;
    if (d->vkind == DV_VEC_INSERT) {
        if (!known) return DV_CONFLICT_CONSTRAINT;
        if (dv_db_slot_of(ap->db, d->id) != DV_NO_SLOT) return DV_CONFLICT_EXISTS;
        if (ap->cfg.mode == DV_APPLY_STRUCTURAL && dv_db_slot_live(ap->db, d->slot))
            return DV_CONFLICT_CONSTRAINT;
    } else {
        uint32_t s = local_slot(ap, d);
        if (s == DV_NO_SLOT) return DV_CONFLICT_NOTFOUND;
        if (!known) return DV_CONFLICT_CONSTRAINT;
        if (!before_matches(d, dv_db_vector_of(ap->db, s))) return DV_CONFLICT_DATA;
        if (d->vkind == DV_VEC_DENSE_XOR && !xor_base_matches(d, dv_db_vector_of(ap->db, s), dim))
            return DV_CONFLICT_DATA;
    }
    uint64_t last = ap->last_seq[d->slot];
    if (last != UNKNOWN_SEQ && last != d->h.prev_sequence) return DV_CONFLICT_DATA;
    return 0;
}

/* In structural mode local_slot(d) == d->slot says that d->slot holds
 * d->id: comparing the slot's own id says the same without reading the id
 * map, which an insert elsewhere may be changing. */
int dv_apply_update_conflict_free(const dv_apply *ap, const dv_delta *d) {
    const dv_db *db = ap->db;
    if (ap->cfg.mode != DV_APPLY_STRUCTURAL || (d->vkind != DV_VEC_DENSE && d->vkind != DV_VEC_SPARSE))
        return 0;
    if (d->dim != dv_db_dim(db) || d->slot >= ap->last_cap || !d->id) return 0;
    const char *id = dv_db_id_of(db, d->slot);
    if (!id || strcmp(id, d->id) != 0) return 0; /* NOTFOUND */
    if (!before_matches(d, dv_db_vector_of(db, d->slot))) return 0;
    uint64_t last = ap->last_seq[d->slot];
    if (last != UNKNOWN_SEQ && last != d->h.prev_sequence) return 0;
    dv_event ev;
    return dv_delta_vector_event(d, &ev) > 0 && dv_db_replay_check(db, &ev) == DV_OK;
}

dv_status dv_apply_conflict_status(dv_conflict_kind k) {
    switch (k) {
    case DV_CONFLICT_NOTFOUND:
        return DV_ENOTFOUND;
    case DV_CONFLICT_EXISTS:
        return DV_ECONFLICT;
    case DV_CONFLICT_DATA:
        return DV_EDATA;
    default:
        return DV_ECONSTRAINT;
    }
}

const char *dv_apply_conflict_name(dv_conflict_kind k) {
    switch (k) {
    case DV_CONFLICT_NOTFOUND:
        return "conflict NOTFOUND";
    case DV_CONFLICT_EXISTS:
        return "conflict EXISTS";
    case DV_CONFLICT_DATA:
        return "conflict DATA";
    default:
        return "conflict CONSTRAINT";
    }
}

/* REPLACE is honoured only where it has a meaning. */
dv_conflict_action dv_apply_decide(dv_apply *ap, dv_conflict_kind k, const dv_delta *d) {
    dv_conflict_action a =
        ap->cfg.on_conflict ? ap->cfg.on_conflict(ap->cfg.conflict_ctx, k, &d->h, d->id) : ap->cfg.policy;
    if (a == DV_CONFLICT_REPLACE) {
        int ok = k == DV_CONFLICT_DATA || (k == DV_CONFLICT_EXISTS && ap->cfg.mode == DV_APPLY_LOGICAL);
        if (!ok) return DV_CONFLICT_ABORT;
    }
    return a == DV_CONFLICT_OMIT || a == DV_CONFLICT_REPLACE ? a : DV_CONFLICT_ABORT;
}

/* ---- the change itself ----------------------------------------------------------- */

typedef struct replay_ctx {
    dv_apply *ap;
    dv_event_kind failed; /* 0 = none yet */
} replay_ctx;

static dv_status replay_one(void *ctx, const dv_event *ev) {
    replay_ctx *r = ctx;
    dv_status st = dv_db_replay(r->ap->db, ev);
    if (st != DV_OK) r->failed = ev->kind;
    return st;
}

/* A section's removes then adds, each array in one call that reads ahead
 * (edges are most of a structural delta's work: docs/BENCH.md). */
static dv_status replay_section(void *ctx, const dv_hnsw_section *sec) {
    replay_ctx *r = ctx;
    size_t failed = 0;
    dv_status st = dv_db_replay_edges(r->ap->db, DV_EV_EDGE_REMOVE, sec->layer, sec->removes,
                                      sizeof *sec->removes, sec->n_remove, &failed);
    if (st != DV_OK) {
        r->failed = DV_EV_EDGE_REMOVE;
        return st;
    }
    st = dv_db_replay_edges(r->ap->db, DV_EV_EDGE_ADD, sec->layer, sec->adds, sizeof *sec->adds, sec->n_add,
                            &failed);
    if (st != DV_OK) r->failed = DV_EV_EDGE_ADD;
    return st;
}

/* Journal room for one structural (sub-)delta, reserved before it changes anything. */
static dv_status reserve_journal(dv_apply *ap, const dv_delta *d) {
    size_t records = 4 + d->n_meta;
    for (uint32_t i = 0; i < d->n_sections; i++)
        records += (size_t)d->sections[i].n_add + d->sections[i].n_remove;
    int vec = d->vkind == DV_VEC_DENSE || d->vkind == DV_VEC_SPARSE || d->vkind == DV_VEC_DENSE_XOR;
    records += d->n_purge;
    return dv_txn_reserve(ap->db, records, vec ? 1 : 0, (d->vkind == DV_VEC_DELETE ? 1 : 0) + d->n_purge);
}

static dv_status apply_structural(dv_apply *ap, const dv_delta *d) {
    dv_status st = reserve_journal(ap, d);
    if (st != DV_OK) return dv_apply_fail(ap, d->h.sequence, "journal", st);
    replay_ctx r = {ap, 0};
    st = dv_delta_to_events_sections(d, replay_one, replay_section, &r);
    if (st != DV_OK) {
        const char *what = r.failed ? dv_apply_event_name(r.failed) : "replay";
        /* an entry point off its node's level is well-formed bytes the replica refuses (FORMAT.md 7) */
        if (st == DV_ECONFLICT || (st == DV_EINCOHERENT && r.failed == DV_EV_ENTRY)) st = DV_ECONSTRAINT;
        return dv_apply_fail(ap, d->h.sequence, what, st);
    }
    return DV_OK;
}

static dv_status logical_meta(dv_apply *ap, const dv_delta *d) {
    for (uint32_t i = 0; i < d->n_meta; i++) {
        dv_status st = dv_db_set_meta(ap->db, d->id, d->meta[i].key, d->meta[i].value);
        if (st != DV_OK) return st;
    }
    return DV_OK;
}

static dv_status apply_logical(dv_apply *ap, const dv_delta *d, int replace) {
    dv_status st = DV_OK;
    switch (d->vkind) {
    case DV_VEC_INSERT:
        if (replace) { /* EXISTS + REPLACE: the insert's values and pairs win */
            st = dv_db_update(ap->db, d->id, d->values);
            if (st == DV_OK) st = logical_meta(ap, d);
        } else {
            st = dv_db_insert(ap->db, d->id, d->values, d->meta, d->n_meta);
        }
        break;
    case DV_VEC_DENSE:
        st = dv_db_update(ap->db, d->id, d->values);
        break;
    case DV_VEC_SPARSE:
        st = dv_db_update_sparse(ap->db, d->id, d->idx, d->values, d->n);
        break;
    case DV_VEC_DELETE:
        st = dv_db_delete(ap->db, d->id);
        break;
    default:
        st = DV_OK; /* metadata-only update: pairs below */
        break;
    }
    if (st == DV_OK && d->vkind != DV_VEC_INSERT && d->id) st = logical_meta(ap, d);
    if (st != DV_OK) return dv_apply_fail(ap, d->h.sequence, "logical write", st);
    return DV_OK;
}

/* A kind 3 update whose base matched (dv_apply_detect): *out is the same
 * delta as a DENSE update, its values (current XOR stored bits) in the
 * apply arena. Values that are not finite are refused like any others. */
static dv_status resolve_xor(dv_apply *ap, const dv_delta *d, int replace, dv_delta *out) {
    const float *cur = dv_db_vector_of(ap->db, local_slot(ap, d));
    if (replace || !cur) /* REPLACE of a DATA conflict: the bits mean nothing on other values */
        return dv_apply_fail(ap, d->h.sequence, dv_apply_conflict_name(DV_CONFLICT_DATA), DV_EDATA);
    float *v = dv_delta_arena_alloc(&ap->arena, (size_t)d->n * sizeof *v);
    if (!v) return dv_apply_fail(ap, d->h.sequence, "xor values", DV_ENOMEM);
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t u;
        memcpy(&u, &cur[i], 4);
        u ^= d->xor_bits[i];
        memcpy(&v[i], &u, 4);
    }
    if (!dv_all_finite(v, d->n)) return dv_apply_fail(ap, d->h.sequence, "xor values", DV_ENONFINITE);
    *out = *d;
    out->vkind = DV_VEC_DENSE;
    out->values = v;
    out->xor_bits = NULL;
    return DV_OK;
}

/* One vector change: conflicts, then the change. */
static dv_status apply_one(dv_apply *ap, const dv_delta *d) {
    ap->cur = d;
    if (ap->cfg.mode == DV_APPLY_LOGICAL && d->vkind == DV_VEC_NONE && !d->id) return DV_OK; /* graph only */
    dv_status gs = dv_apply_reserve_slot(ap, d);
    if (gs != DV_OK) return gs;
    dv_conflict_kind k = dv_apply_detect(ap, d);
    int replace = 0;
    if (k) {
        dv_conflict_action a = dv_apply_decide(ap, k, d);
        if (a == DV_CONFLICT_ABORT)
            return dv_apply_fail(ap, d->h.sequence, dv_apply_conflict_name(k), dv_apply_conflict_status(k));
        if (a == DV_CONFLICT_OMIT) {
            ap->st.omitted++;
            return DV_OK;
        }
        replace = 1;
        ap->st.replaced++;
    }
    dv_delta resolved;
    if (d->vkind == DV_VEC_DENSE_XOR) {
        dv_status rs = resolve_xor(ap, d, replace, &resolved);
        if (rs != DV_OK) return rs;
        d = &resolved;
    }
    dv_status st =
        ap->cfg.mode == DV_APPLY_STRUCTURAL ? apply_structural(ap, d) : apply_logical(ap, d, replace);
    if (st != DV_OK) return st;
    if (d->vkind != DV_VEC_NONE || d->id) return dv_apply_note_touched(ap, d->slot, d->h.sequence);
    return DV_OK;
}

/* Does the delta (or a member of the batch) change any neighbour list? */
static int changes_edges(const dv_delta *d) {
    if (d->n_sections) return 1;
    for (uint32_t i = 0; i < d->n_sub; i++)
        if (d->subs[i].n_sections) return 1;
    return 0;
}

/* After the change: the entry point and every touched node are coherent.
 * The per-node part re-reads the touched nodes' lists (a random read per
 * neighbour): a delta that changes no list cannot have made one
 * incoherent (nodes appear and vanish only with their own edge events
 * checked), so vector-only updates skip it. */
static dv_status check_coherence(dv_apply *ap, const dv_delta *d) {
    uint64_t seq = d->h.sequence;
    uint32_t entry, max_level;
    dv_db_entry(ap->db, &entry, &max_level);
    if (dv_db_count(ap->db) == 0 ? entry != DV_NO_SLOT
                                 : entry == DV_NO_SLOT || !dv_db_slot_live(ap->db, entry) ||
                                       dv_db_level_of(ap->db, entry) != max_level)
        return dv_apply_fail(ap, seq, "entry point not live on the top level", DV_EINCOHERENT);
    if (ap->cfg.mode != DV_APPLY_STRUCTURAL || !changes_edges(d)) return DV_OK;
    for (size_t i = 0; i < ap->n_touched; i++) {
        const char *why = dv_db_lists_incoherence(ap->db, ap->touched[i].slot);
        if (why) return dv_apply_fail(ap, seq, why, DV_EINCOHERENT);
    }
    return DV_OK;
}

/* The entry point sits on the db's highest level: a node the delta
 * inserted may not rise above it, and a delta that moves it must leave it
 * there (the replay check saw only the named node's own level). Checked
 * whatever coherence_check says: the next insert would descend from it. */
dv_status dv_apply_check_level(dv_apply *ap, uint32_t slot, uint64_t seq) {
    uint32_t entry, max_level;
    dv_db_entry(ap->db, &entry, &max_level);
    if (dv_db_slot_live(ap->db, slot) && dv_db_level_of(ap->db, slot) > max_level)
        return dv_apply_fail(ap, seq, "node above the entry point's level", DV_ECONSTRAINT);
    return DV_OK;
}

static dv_status check_entry(dv_apply *ap, const dv_delta *d) {
    if (ap->cfg.mode != DV_APPLY_STRUCTURAL) return DV_OK;
    uint32_t entry, max_level;
    dv_db_entry(ap->db, &entry, &max_level);
    for (size_t i = 0; i < ap->n_touched; i++) {
        dv_status st = dv_apply_check_level(ap, ap->touched[i].slot, d->h.sequence);
        if (st != DV_OK) return st;
    }
    int moved = d->has_entry;
    for (uint32_t i = 0; i < d->n_sub && !moved; i++) moved = d->subs[i].has_entry;
    if (moved && entry != DV_NO_SLOT && dv_db_highest_level(ap->db) != max_level)
        return dv_apply_fail(ap, d->h.sequence, "entry point below the highest level", DV_ECONSTRAINT);
    return DV_OK;
}

/* ---- the gates ------------------------------------------------------------------ */

dv_status dv_apply_check_sequence(dv_apply *ap, uint64_t seq) {
    if (seq <= ap->position) {
        ap->st.duplicates++;
        dv_text t;
        dv_text_init(&t, ap->err, sizeof ap->err);
        dv_text_put(&t, "sequence ");
        dv_text_u64(&t, seq);
        dv_text_put(&t, " already applied (position ");
        dv_text_u64(&t, ap->position);
        dv_text_put(&t, ")");
        return DV_EDUPLICATE;
    }
    if (seq != ap->position + 1) {
        dv_text t;
        dv_text_init(&t, ap->err, sizeof ap->err);
        dv_text_put(&t, "sequence gap: missing ");
        dv_text_u64(&t, ap->position + 1);
        dv_text_put(&t, "..");
        dv_text_u64(&t, seq - 1);
        ap->st.refused++;
        return DV_EGAP;
    }
    return DV_OK;
}

void dv_apply_lock(dv_apply *ap) { dv_db_write_lock(ap->db, ap->cfg.hooks.yield, ap->cfg.hooks.ctx); }
void dv_apply_unlock(dv_apply *ap) { dv_db_write_unlock(ap->db); }

/* Members of a BATCH whose nodes are fetched ahead (4 measured the same). */
#define BATCH_PREFETCH_AHEAD 2

dv_status dv_apply_decoded_locked(dv_apply *ap, const dv_delta *d) {
    dv_status st = dv_txn_begin(ap->db);
    if (st != DV_OK) return dv_apply_fail(ap, d->h.sequence, "transaction", st);
    ap->n_touched = 0;
    if (d->h.operation == DV_OP_BATCH) {
        /* the members' slots are known from the bytes: their nodes are
         * fetched a few members ahead, so the conflict check and the
         * journal's copy of the old vector do not each wait for memory */
        for (uint32_t i = 0; i < d->n_sub && i < BATCH_PREFETCH_AHEAD; i++)
            dv_db_prefetch_slot(ap->db, d->subs[i].slot);
        for (uint32_t i = 0; i < d->n_sub && st == DV_OK; i++) {
            if (i + BATCH_PREFETCH_AHEAD < d->n_sub)
                dv_db_prefetch_slot(ap->db, d->subs[i + BATCH_PREFETCH_AHEAD].slot);
            st = apply_one(ap, &d->subs[i]);
        }
    } else {
        /* an update's node is asked for before the id lookup, whose own
         * misses (bucket, slot record, id string) then overlap them; an
         * insert's slot is fresh, a delete does not read the vector, and a
         * delta without a vector part names no node of its own */
        if (d->vkind != DV_VEC_NONE && d->vkind != DV_VEC_INSERT && d->vkind != DV_VEC_DELETE)
            dv_db_prefetch_slot(ap->db, d->slot);
        st = apply_one(ap, d);
    }
    if (st == DV_OK) st = check_entry(ap, d);
    if (st == DV_OK && ap->cfg.coherence_check) st = check_coherence(ap, d);
    if (st != DV_OK) {
        dv_txn_rollback(ap->db);
        undo_touched(ap);
        ap->cur = NULL;
        return st;
    }
    dv_txn_commit(ap->db);
    ap->cur = NULL; /* points into the arena, reset by the next delta */
    ap->position = d->h.sequence;
    ap->st.applied++;
    return DV_OK;
}

dv_status dv_apply_delta(dv_apply *ap, const uint8_t header[DV_DELTA_HEADER_SIZE], const uint8_t *payload,
                         size_t payload_len) {
    if (!ap || !header || (!payload && payload_len)) return DV_EINVAL;
    ap->cur = NULL;
    dv_delta d;
    dv_delta_arena_reset(&ap->arena);
    dv_status st = dv_delta_decode(header, payload, payload_len, &ap->lim, &ap->arena, &d);
    if (st != DV_OK) {
        dv_delta_header h;
        uint64_t seq = dv_delta_header_decode(header, &h) == DV_OK ? h.sequence : 0;
        return dv_apply_fail(ap, seq, "decode", st);
    }
    if ((st = dv_apply_check_sequence(ap, d.h.sequence)) != DV_OK) return st;
    /* concurrent dv_searcher readers see the db before or after this delta, never during */
    dv_apply_lock(ap);
    st = dv_apply_decoded_locked(ap, &d);
    dv_apply_unlock(ap);
    return st;
}

dv_status dv_apply_buffer(dv_apply *ap, const uint8_t *buf, size_t len) {
    if (!ap || !buf) return DV_EINVAL;
    ap->cur = NULL;
    if (len < DV_DELTA_HEADER_SIZE)
        return dv_apply_fail(ap, 0, "buffer shorter than a header", DV_ETRUNCATED);
    return dv_apply_delta(ap, buf, buf + DV_DELTA_HEADER_SIZE, len - DV_DELTA_HEADER_SIZE);
}

dv_status dv_apply_batch_inline(dv_apply *ap, const uint8_t *const *headers, const uint8_t *const *payloads,
                                const size_t *payload_lens, size_t n, dv_status *results, size_t *n_applied) {
    if (!ap || (n && (!headers || !payloads || !payload_lens))) return DV_EINVAL;
    dv_status first = DV_OK;
    size_t applied = 0;
    for (size_t i = 0; i < n; i++) {
        dv_status st =
            first == DV_OK ? dv_apply_delta(ap, headers[i], payloads[i], payload_lens[i]) : DV_EGAP;
        if (results) results[i] = st;
        if (st == DV_OK)
            applied++;
        else if (st != DV_EDUPLICATE && first == DV_OK)
            first = st;
    }
    if (n_applied) *n_applied = applied;
    return first;
}

dv_status dv_apply_seek(dv_apply *ap, uint64_t sequence) {
    if (!ap) return DV_EINVAL;
    if (sequence == ap->position) return DV_OK;
    return sequence < ap->position ? DV_ESTALE : DV_EGAP;
}

dv_status dv_apply_seek_checkpoint(dv_apply *ap, const dv_checkpoint *cp) {
    if (!ap || !cp) return DV_EINVAL;
    if (dv_db_state_hash(ap->db) != cp->state_hash) return DV_EDATA;
    ap->position = cp->sequence;
    ap->fill_seq = UNKNOWN_SEQ; /* the history of every slot is unknown now */
    for (uint32_t i = 0; i < ap->last_cap; i++) ap->last_seq[i] = UNKNOWN_SEQ;
    return DV_OK;
}

/* ---- per-slot table for snapshots (deltavec.h section 4c) ------------------ */

const uint64_t *dv_apply_slot_sequences(const dv_apply *ap, size_t *n) {
    if (n) *n = ap ? ap->last_cap : 0;
    return ap ? ap->last_seq : NULL;
}

dv_status dv_apply_restore_slot_sequences(dv_apply *ap, const uint64_t *seqs, size_t n) {
    if (!ap || (!seqs && n) || n > APPLY_MAX_SLOT) return DV_EINVAL;
    if (ap->st.applied || ap->position != ap->cfg.start_position) return DV_ESTATE;
    if (n && n > ap->last_cap) {
        uint64_t *q = dv_mem_realloc(&ap->mem, ap->last_seq, (size_t)ap->last_cap * 8, n * 8);
        if (!q) return DV_ENOMEM;
        ap->last_seq = q;
        ap->last_cap = (uint32_t)n;
    }
    ap->fill_seq = 0; /* slots past the table did not exist yet: never touched */
    if (n) memcpy(ap->last_seq, seqs, n * 8);
    for (uint32_t i = (uint32_t)n; i < ap->last_cap; i++) ap->last_seq[i] = 0;
    return DV_OK;
}
