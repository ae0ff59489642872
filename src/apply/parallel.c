/*
 * parallel.c -- parallel structural apply: one dispatcher, N worker loops
 * (the contract is in section 8 of deltavec.h; the design and its proof
 * sketch in docs/CONCURRENCY.md).
 *
 * The core creates no threads and makes no OS call. The host runs
 * dv_apply_worker_run(ap, i) on N threads (src/platform does it with
 * pthreads; a wasm host from Web Workers); the thread calling
 * dv_apply_batch is the dispatcher. Sleeping goes through the futex-style
 * wait/wake hooks of the config.
 *
 * Who touches what (this is the whole race-freedom argument):
 *  - the dispatcher owns everything except neighbour lists, in-degree
 *    counters and the vectors of the updates it hands over: it decodes,
 *    checks sequences and conflicts, and applies the vector part of every
 *    other delta (insert: id map, free list, slot, vector, empty lists;
 *    update: vector, norm; metadata) in sequence order, inside the db
 *    transaction (src/db/txn.h) that spans the epoch;
 *  - each edge operation goes to the loop owning `from` (list_owner): the
 *    loop owns the lists of "its" nodes, so every list sees its operations
 *    in stream order; in-degree counters of targets are shared and updated
 *    with __atomic RMWs (commutative, so the final counts are exact);
 *  - an update of values only (no graph part, no metadata) may go whole to
 *    the thread owning its id (update_owner: a loop, or the dispatcher's
 *    own share, applied as it goes), which decodes, checks and applies it
 *    with its own undo journal; only in an epoch with no insert (which
 *    would change slots and the id map such an owner reads), and the
 *    dispatcher closes the epoch before it changes a handed id's vector
 *    itself (mark), so every vector has one writer per epoch;
 *  - a node's lists exist before any operation on them is queued (the
 *    dispatcher attaches the node first) and are never freed or moved
 *    while operations are queued: deletes, entry changes and batches are
 *    applied inline after draining the workers, and store growth (realloc
 *    of data/info) waits for a drain too; the per-slot sequence table is
 *    grown when an epoch that hands updates over opens, never during it.
 *
 * Validation: the dispatcher checks all it can see at the moment the
 * operation would run inline (both ends live, layer within both levels, no
 * self loop: that state is exactly the inline one, since it processes
 * vector parts in order and no delete is in flight). A worker checks what
 * depends on the list (no duplicate, degree bound, edge present for a
 * removal). A refusal (worker's or dispatcher's) at delta tag F makes every
 * worker skip tags >= F; at the end of the epoch each worker journal
 * (tagged by delta, FIFO so tags never decrease) is undone down to F, then
 * the db transaction down to F's mark: the replica is exactly as after
 * delta F-1, as the inline applier would leave it. A handed update its
 * owner cannot decide (a conflict: the policy is the dispatcher's) is a
 * refusal that asks for a redo: after the same rollback, F and the rest of
 * the epoch are applied again inline, which decides them as inline apply
 * does by construction.
 *
 * Memory order: the dispatcher publishes a worker's queue tail with release
 * after writing the operations; the worker acquires it, applies, and
 * publishes its head with release; a drain acquires every head, so all list
 * changes happen-before the dispatcher's next step (commit, rollback,
 * realloc) and before the write-lock release that lets readers in.
 * Parking is Dekker-style: the sleeper stores its "parked" flag, fences,
 * re-checks its condition, then waits on its bell word; the waker stores its
 * progress, fences, and rings (increments + wake) if it sees the flag.
 */
#include <stdatomic.h>
#include <string.h>

#include "apply/apply_internal.h"
#include "apply/host.h"
#include "apply/parallel.h"
#include "db/observer.h"
#include "db/replay.h"
#include "db/rwlock.h"
#include "util/cpu.h"
#include "util/le.h"
#include "util/text.h"

#define QBITS 13u /* 8192 operations (128 KiB) per worker queue */
#define QSIZE (1u << QBITS)
#define QMASK (QSIZE - 1u)
#define CHUNK 128u         /* operations a worker applies between head publications */
#define PUBLISH_EVERY 256u /* the dispatcher publishes a long delta's operations early */
#define SPINS 512u         /* idle polls before parking */
#define NO_TAG UINT32_MAX
#define EARLY_END_MIN 16u /* readers waiting: end the epoch after at least this many deltas */
#define PREFETCH_AHEAD 8u /* edges read ahead by the dispatcher and the workers (dv_db_edge_prefetch) */
#define DEC_WINDOW 32u    /* deltas of a batch idle loops may decode ahead of the dispatcher */
#define DEC_CLOSED UINT32_MAX
#define MARK_SLOTS 4096u /* ids of loop-applied updates an epoch remembers (by id hash % MARK_SLOTS) */
#define NO_INDEX SIZE_MAX
#define HAND_PUBLISH_EVERY 8u /* handed updates (about a microsecond each) per publication */
#define RUN_MIN 16u           /* updates in a row that go to the loops as one run */
#define PAR_RUN 0xFFFFu       /* par_op.kind of a run (see run_share) */

/* A delta decoded ahead by a loop: the slot of batch index i is dec[i % DEC_WINDOW]. */
enum { DEC_FREE = 0, DEC_BUSY, DEC_DONE };
typedef struct par_dec {
    _Atomic uint32_t state; /* FREE -> BUSY (a loop claimed it) -> DONE (release) -> FREE (dispatcher) */
    dv_status st;           /* dv_delta_decode's status */
    dv_delta d;             /* points into arena */
    dv_mem mem;             /* the arena's: used by one thread at a time, handed over by `state` */
    dv_delta_arena arena;
    char pad[64];
} par_dec;

/* One operation: tag = index of its delta in the epoch; kind = DV_EV_EDGE_ADD or DV_EV_EDGE_REMOVE
 * (from's list on layer, target to), DV_EV_VECTOR_UPDATE (from = the index of the delta in the
 * batch; layer 1: decoded ahead, in its decode slot; layer 0: not decoded yet) or PAR_RUN (to
 * updates from batch index from, tags from tag on: each loop applies those run_owner gives it). */
typedef struct par_op {
    uint32_t tag, from, to;
    uint16_t layer, kind;
} par_op;

/* Undo record of an applied operation (pos: where a removed edge was; for a
 * vector update, the offset of its saved state in the loop's pool). */
typedef struct par_jrec {
    uint32_t tag, from, to, pos;
    uint16_t layer, kind;
} par_jrec;

typedef struct par_worker {
    /* dispatcher-private, on lines the worker never reads: enqueue writes
     * local_tail for every operation, and a line the worker polls (tail) or
     * writes (its journal count beside q) would move between the cores each
     * time (perf: the dispatcher's largest cost) */
    par_op *dq;           /* the dispatcher's copy of q, taken when an epoch opens */
    uint64_t local_tail;  /* operations written */
    uint64_t cached_head; /* head as last read */
    uint64_t published;   /* tail as last stored */
    char pad_d[64];
    /* written by the dispatcher, read by the worker */
    _Atomic uint64_t tail;
    _Atomic uint32_t bell;
    char pad0[64];
    /* written by the worker, read by the dispatcher */
    _Atomic uint64_t head;
    _Atomic uint32_t parked;
    _Atomic uint32_t running;
    _Atomic uint32_t gen; /* the stop generation the loop registered in */
    char pad1[64];
    /* worker-owned; the dispatcher reads/resets them only after a drain */
    dv_mem mem; /* own live-byte counter: the allocator function itself must be thread-safe */
    par_op *q;  /* QSIZE operations, allocated by the loop on its first run */
    par_jrec *j;
    size_t jn, jcap;
    dv_delta_arena arena; /* vector updates the loop decodes itself */
    unsigned char *pool;  /* vector updates' saved state: saved_vec header, then dim floats */
    size_t pool_len, pool_cap;
    uint32_t fail_tag;
    dv_status fail_st;
    int fail_redo; /* fail_tag is a vector update the loop would not decide: redo it inline */
    par_op fail_op;
    char pad2[64];
} par_worker;

/* A delta of the open epoch. */
typedef struct par_pend {
    uint64_t seq;
    size_t txn_mark;     /* db journal records before it */
    size_t touched_mark; /* ap->touched entries before it */
    size_t index;        /* its position in the dv_apply_batch arrays */
    uint64_t dups_before;
    uint32_t omitted, replaced;
} par_pend;

struct dv_par {
    uint32_t n;                  /* loops */
    uint32_t share_units;        /* 16 per loop, plus the dispatcher's sixteenths (update_owner) */
    par_worker *w;               /* n + 1: the loops', then the dispatcher's own share (update_owner) */
    _Atomic uint32_t registered; /* loops inside dv_apply_worker_run */
    _Atomic uint32_t gen;        /* stop generation: + 1 per dv_apply_workers_stop */
    _Atomic uint32_t fail_tag;   /* lowest refused tag of the open epoch */
    char pad0[64];
    _Atomic uint32_t disp_bell;
    _Atomic uint32_t disp_parked;
    char pad1[64];
    /* dispatcher-private */
    int open;
    par_pend *pend;
    uint32_t n_pend, pend_cap;
    uint64_t dups;     /* duplicates reported during the open epoch */
    uint32_t disp_tag; /* tag the dispatcher refused, NO_TAG if none */
    dv_status disp_st;
    int disp_after_events; /* that refusal came from a check inline apply makes after every event */
    int inline_locked;     /* the write lock is held across inline deltas (see inline_lock) */
    uint32_t inline_n;     /* inline deltas under it */
    dv_par_test_hook test_hook;
    void *test_ctx;
    /* decode-ahead of the running dv_apply_batch (see claim_decode) */
    par_dec *dec;
    char pad2[64];
    _Atomic uint64_t
        dec_next; /* (batch generation << 32) | next batch index to decode; index DEC_CLOSED: none */
    _Atomic uint64_t dec_limit; /* (generation << 32) | indices below it may be claimed */
    char pad3[64];
    const uint8_t *const *dec_headers; /* the batch's arrays, published by the release store of dec_next */
    const uint8_t *const *dec_payloads;
    const size_t *dec_lens;
    uint32_t dec_n, dec_gen;
    uint32_t dec_held; /* dispatcher-private: index whose slot it uses, DEC_CLOSED if none */
    size_t dec_pos;    /* dispatcher-private: deltas of the batch it has taken */
    /* vector updates on the loops (dispatcher-private) */
    uint32_t handed[DEC_WINDOW]; /* batch indices whose decode slot a loop holds, oldest first */
    uint32_t handed_first, handed_n;
    int loop_updates;   /* the open epoch hands vector updates to the loops (no insert in it) */
    uint32_t epoch_no;  /* + 1 per epoch; mark[id hash % MARK_SLOTS] == epoch_no: a loop may write it */
    int batch_arrays;   /* dec_headers/payloads/lens are this batch's (a loop may decode from them) */
    uint32_t *mark;     /* MARK_SLOTS entries */
    uint8_t *run_owner; /* by tag (epoch_max + 1 entries): which of the n + 1 owners applies a run's update */
    size_t hand_from;   /* batch index before which no update is handed over (after a redo) */
    int runs_on;        /* the last try_run found a run: loops do not decode ahead meanwhile */
    size_t members_until; /* try_run's last scan: batch indices below this are run members... */
    uint64_t members_key; /* ...when sequence - index equals this */
    size_t scan_from;     /* ...and scan_hash[k - scan_from] is member k's id hash */
    uint32_t *scan_hash;  /* epoch_max entries */
    size_t redo_from;     /* a loop left a delta undecided: the batch goes back to this index... */
    size_t redo_until;    /* ...and applies inline up to this one; NO_INDEX: none */
};

/* ---- small helpers ------------------------------------------------------------ */

static void ring(const dv_apply *ap, _Atomic uint32_t *bell) {
    atomic_fetch_add_explicit(bell, 1, memory_order_seq_cst);
    if (ap->cfg.hooks.wake) ap->cfg.hooks.wake(ap->cfg.hooks.ctx, (const uint32_t *)(const void *)bell);
}

/* Sleeps on bell until rung, unless ready(arg) turns true meanwhile. */
static void park(const dv_apply *ap, _Atomic uint32_t *parked, _Atomic uint32_t *bell,
                 int (*ready)(const dv_apply *, const void *), const void *arg) {
    for (uint32_t i = 0; i < SPINS; i++) {
        if (ready(ap, arg)) return;
        dv_cpu_pause();
    }
    if (!ap->cfg.hooks.wait) {
        if (ap->cfg.hooks.yield) ap->cfg.hooks.yield(ap->cfg.hooks.ctx);
        return;
    }
    uint32_t b = atomic_load_explicit(bell, memory_order_seq_cst);
    atomic_store_explicit(parked, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    if (!ready(ap, arg)) ap->cfg.hooks.wait(ap->cfg.hooks.ctx, (const uint32_t *)(const void *)bell, b);
    atomic_store_explicit(parked, 0, memory_order_relaxed);
}

/* ---- init / free ------------------------------------------------------------------ */

dv_status dv_par_init(dv_apply *ap) {
    if (ap->cfg.workers < 1 || ap->cfg.mode != DV_APPLY_STRUCTURAL) return DV_OK;
    dv_par *p = dv_mem_calloc(&ap->mem, 1, sizeof *p);
    if (!p) return DV_ENOMEM;
    ap->par = p; /* from here on, dv_par_free releases whatever was allocated */
    p->n = ap->cfg.workers;
    p->share_units = 16u * p->n + (16u / p->n > 1u ? 16u / p->n : 1u);
    p->w = dv_mem_calloc(&ap->mem, (size_t)p->n + 1u, sizeof *p->w); /* the loops', then the dispatcher's */
    p->dec = dv_mem_calloc(&ap->mem, DEC_WINDOW, sizeof *p->dec);
    p->mark = dv_mem_calloc(&ap->mem, MARK_SLOTS, sizeof *p->mark);
    p->run_owner = dv_mem_calloc(&ap->mem, (size_t)ap->cfg.epoch_max + 1u, 1);
    p->scan_hash = dv_mem_calloc(&ap->mem, (size_t)ap->cfg.epoch_max + 1u, sizeof *p->scan_hash);
    if (!p->w || !p->dec || !p->mark || !p->run_owner || !p->scan_hash) {
        dv_par_free(ap);
        return DV_ENOMEM;
    }
    for (uint32_t i = 0; i <= p->n; i++) {
        dv_mem_init(&p->w[i].mem, ap->cfg.allocator);
        dv_delta_arena_init(&p->w[i].arena, &p->w[i].mem);
        p->w[i].fail_tag = NO_TAG;
    }
    for (uint32_t i = 0; i < DEC_WINDOW; i++) {
        dv_mem_init(&p->dec[i].mem, ap->cfg.allocator);
        dv_delta_arena_init(&p->dec[i].arena, &p->dec[i].mem);
    }
    p->redo_from = p->redo_until = NO_INDEX;
    atomic_store(&p->dec_next, (uint64_t)DEC_CLOSED);
    p->dec_held = DEC_CLOSED;
    atomic_store(&p->fail_tag, NO_TAG);
    p->disp_tag = NO_TAG;
    return DV_OK;
}

/* Also after a dv_par_init that failed part way: the arrays it did not get
 * are NULL, the others zeroed until filled in (nothing to free in them). */
void dv_par_free(dv_apply *ap) {
    dv_par *p = ap->par;
    if (!p) return;
    for (uint32_t i = 0; p->w && i <= p->n; i++) {
        par_worker *w = &p->w[i];
        dv_mem_free(&w->mem, w->q, (size_t)QSIZE * sizeof *w->q);
        dv_mem_free(&w->mem, w->j, w->jcap * sizeof *w->j);
        dv_mem_free(&w->mem, w->pool, w->pool_cap);
        dv_delta_arena_free(&w->arena);
    }
    dv_mem_free(&ap->mem, p->mark, (size_t)MARK_SLOTS * sizeof *p->mark);
    dv_mem_free(&ap->mem, p->run_owner, (size_t)ap->cfg.epoch_max + 1u);
    dv_mem_free(&ap->mem, p->scan_hash, ((size_t)ap->cfg.epoch_max + 1u) * sizeof *p->scan_hash);
    for (uint32_t i = 0; p->dec && i < DEC_WINDOW; i++) dv_delta_arena_free(&p->dec[i].arena);
    dv_mem_free(&ap->mem, p->dec, (size_t)DEC_WINDOW * sizeof *p->dec);
    dv_mem_free(&ap->mem, p->pend, (size_t)p->pend_cap * sizeof *p->pend);
    dv_mem_free(&ap->mem, p->w, ((size_t)p->n + 1u) * sizeof *p->w);
    dv_mem_free(&ap->mem, p, sizeof *p);
    ap->par = NULL;
}

uint32_t dv_apply_worker_count(const dv_apply *ap) { return ap && ap->par ? ap->par->n : 0; }

uint32_t dv_apply_workers_running(const dv_apply *ap) {
    return ap && ap->par ? atomic_load_explicit(&ap->par->registered, memory_order_acquire) : 0;
}

dv_status dv_apply_set_hooks(dv_apply *ap, const dv_apply_hooks *hooks) {
    if (!ap) return DV_EINVAL;
    if (dv_apply_workers_running(ap)) return DV_ESTATE;
    if (hooks)
        ap->cfg.hooks = *hooks;
    else
        memset(&ap->cfg.hooks, 0, sizeof ap->cfg.hooks);
    return DV_OK;
}

void dv_apply_hooks_get(const dv_apply *ap, dv_apply_hooks *out) { *out = ap->cfg.hooks; }
void *dv_apply_host_state(const dv_apply *ap) { return ap->host; }
void dv_apply_host_state_set(dv_apply *ap, void *state) { ap->host = state; }

int dv_par_ready(const dv_apply *ap) {
    const dv_par *p = ap->par;
    if (!p || dv_db_has_observer(ap->db) ||
        atomic_load_explicit(&p->registered, memory_order_acquire) != p->n)
        return 0;
    uint32_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
    for (uint32_t i = 0; i < p->n; i++) /* no loop is asked to stop */
        if (atomic_load_explicit(&p->w[i].gen, memory_order_relaxed) != g) return 0;
    return 1;
}

void dv_par_set_test_hook(dv_apply *ap, dv_par_test_hook fn, void *ctx) {
    if (!ap || !ap->par) return;
    ap->par->test_hook = fn;
    ap->par->test_ctx = ctx;
}

static void test_point(const dv_par *p, dv_par_point point, uint32_t index) {
    if (p->test_hook) p->test_hook(p->test_ctx, point, index);
}

/* A stop request ends the generation of loops registered before it, and
 * only that one: nothing is cleared afterwards, so a request that lands
 * late (while, or after, the loops leave) cannot reach the loops of a
 * later start, which register in the new generation. */
void dv_apply_workers_stop(dv_apply *ap) {
    if (!ap || !ap->par) return;
    dv_par *p = ap->par;
    test_point(p, DV_PAR_STOP_REQUESTING, 0);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_seq_cst);
    for (uint32_t i = 0; i < p->n; i++) ring(ap, &p->w[i].bell);
}

/* ---- worker side ---------------------------------------------------------------- */

static void worker_fail(dv_par *p, par_worker *w, const par_op *op, dv_status st, int redo) {
    if (op->tag < w->fail_tag) {
        w->fail_tag = op->tag;
        w->fail_st = st;
        w->fail_redo = redo;
        w->fail_op = *op;
    }
    uint32_t cur = atomic_load_explicit(&p->fail_tag, memory_order_relaxed);
    while (op->tag < cur && !atomic_compare_exchange_weak_explicit(
                                &p->fail_tag, &cur, op->tag, memory_order_relaxed, memory_order_relaxed)) {
    }
}

static int journal_room(par_worker *w) {
    if (w->jn < w->jcap) return 1;
    size_t cap = w->jcap ? w->jcap * 2 : 1024;
    par_jrec *q = dv_mem_realloc(&w->mem, w->j, w->jcap * sizeof *q, cap * sizeof *q);
    if (!q) return 0;
    w->j = q;
    w->jcap = cap;
    return 1;
}

/* Applies one operation to a list this worker owns (the list part of the
 * edge check; the dispatcher checked the ends). */
static void run_op(dv_apply *ap, par_worker *w, const par_op *op) {
    dv_par *p = ap->par;
    if (op->tag >= atomic_load_explicit(&p->fail_tag, memory_order_relaxed)) return; /* rolled back anyway */
    uint32_t pos;
    dv_status st = dv_db_edge_apply_owned(ap->db, (dv_event_kind)op->kind, op->from, op->layer, op->to, &pos);
    if (st == DV_OK && !journal_room(w)) {
        dv_db_edge_undo_owned(ap->db, (dv_event_kind)op->kind, op->from, op->layer, op->to, pos);
        st = DV_ENOMEM;
    }
    if (st != DV_OK) {
        worker_fail(p, w, op, st, 0);
        return;
    }
    par_jrec *r = &w->j[w->jn++];
    r->tag = op->tag;
    r->from = op->from;
    r->to = op->to;
    r->pos = pos;
    r->layer = op->layer;
    r->kind = op->kind;
}

static dv_status decode_into(const dv_apply *ap, const uint8_t *hdr, const uint8_t *pay, size_t len,
                             dv_delta_arena *arena, dv_delta *d);

/* What a loop saves before it changes a vector (then the dim old values). */
typedef struct saved_vec {
    uint64_t old_seq; /* last_seq of the slot */
    float inv_norm;
    uint32_t pad;
} saved_vec;

/* Room for a saved_vec and dim floats, 8-byte aligned; NULL when there is
 * none (or the offset would not fit a journal record's 32 bits). */
static saved_vec *pool_take(par_worker *w, size_t dim) {
    size_t bytes = (sizeof(saved_vec) + dim * sizeof(float) + 7u) & ~(size_t)7u;
    if (w->pool_len + bytes > UINT32_MAX) return NULL;
    if (w->pool_cap - w->pool_len < bytes) {
        size_t cap = w->pool_cap ? w->pool_cap : 64 * 1024;
        while (cap - w->pool_len < bytes) cap *= 2;
        unsigned char *q = dv_mem_realloc(&w->mem, w->pool, w->pool_cap, cap);
        if (!q) return NULL;
        w->pool = q;
        w->pool_cap = cap;
    }
    saved_vec *v = (saved_vec *)(void *)(w->pool + w->pool_len);
    w->pool_len += bytes;
    return v;
}

/* A vector update the dispatcher handed over, decoded ahead in its decode
 * slot or still bytes (the loop decodes it here): the loop owning its id for
 * the epoch checks it (an update of values only, no conflict, the replay
 * check) and applies it, journaled here. Anything else -- a conflict, whose
 * policy only the dispatcher decides, bytes that do not decode, no memory
 * for the journal -- is left to the dispatcher, which rolls back to this
 * delta and applies it inline (redo): the outcome is then the inline one by
 * construction. A decode slot goes back in any case (the dispatcher waits
 * for it before it lets a loop decode into it again). */
static void run_vector(dv_apply *ap, par_worker *w, const par_op *op) {
    dv_par *p = ap->par;
    par_dec *x = op->layer ? &p->dec[op->from % DEC_WINDOW] : NULL;
    if (op->tag < atomic_load_explicit(&p->fail_tag, memory_order_relaxed)) {
        dv_delta own;
        const dv_delta *d = x ? &x->d : &own;
        dv_status st = x ? x->st
                         : decode_into(ap, p->dec_headers[op->from], p->dec_payloads[op->from],
                                       p->dec_lens[op->from], &w->arena, &own);
        size_t dim = dv_db_dim(ap->db);
        saved_vec *sv = NULL;
        if (st != DV_OK || d->h.operation != DV_OP_UPDATE || d->n_meta || d->n_sections || d->has_entry ||
            !dv_apply_update_conflict_free(ap, d) || !journal_room(w) || !(sv = pool_take(w, dim))) {
            worker_fail(p, w, op, DV_OK, 1);
        } else {
            sv->old_seq = ap->last_seq[d->slot];
            dv_db_vector_set_owned(ap->db, d->slot, d->vkind == DV_VEC_SPARSE ? d->idx : NULL, d->values,
                                   d->n, (float *)(void *)(sv + 1), &sv->inv_norm);
            ap->last_seq[d->slot] = d->h.sequence;
            par_jrec *r = &w->j[w->jn++];
            r->tag = op->tag;
            r->from = d->slot;
            r->to = 0;
            r->pos = (uint32_t)((unsigned char *)sv - w->pool);
            r->layer = 0;
            r->kind = DV_EV_VECTOR_UPDATE;
        }
    }
    if (x) atomic_store_explicit(&x->state, DEC_FREE, memory_order_release);
}

/* This owner's share of a run: the updates run_owner gives it, in order
 * (the next one's bytes read ahead). */
static void run_share(dv_apply *ap, par_worker *w, const par_op *run) {
    dv_par *p = ap->par;
    uint8_t me = (uint8_t)(w - p->w);
    uint32_t end = run->tag + run->to, next = run->tag;
    while (next < end && p->run_owner[next] != me) next++;
    while (next < end) {
        uint32_t t = next;
        for (next++; next < end && p->run_owner[next] != me; next++) {
        }
        if (next < end) {
            uint32_t k = run->from + (next - run->tag);
            __builtin_prefetch(p->dec_headers[k]);
            __builtin_prefetch(p->dec_payloads[k]);
        }
        par_op one = {t, run->from + (t - run->tag), 0, 0, DV_EV_VECTOR_UPDATE};
        run_vector(ap, w, &one);
    }
}

/* One queued (or, for the dispatcher's own share, immediate) operation. */
static void run_any(dv_apply *ap, par_worker *w, const par_op *op) {
    if (op->kind == DV_EV_VECTOR_UPDATE)
        run_vector(ap, w, op);
    else if (op->kind == PAR_RUN)
        run_share(ap, w, op);
    else
        run_op(ap, w, op);
}

/* ---- decode-ahead ------------------------------------------------------------------ *
 * A loop with no edge operation queued decodes a later delta of the running
 * batch (checksum, decompression, parsing: pure functions of the bytes), so
 * the dispatcher finds it decoded. Indices are claimed in order with a CAS
 * on dec_next, by loops and by the dispatcher alike, so each delta is
 * decoded exactly once; the generation in the high half keeps a claim read
 * in one batch from succeeding in the next. A claim needs index < limit,
 * which the dispatcher raises only after freeing the slot the index reuses.
 * The result is what the dispatcher's own decode would have been: where it
 * happens does not change what is applied. */

/* Claims the next index to decode (any index when `any`, else only below the limit), or DEC_CLOSED. */
static uint32_t claim_decode(dv_par *p, int any) {
    uint64_t cur = atomic_load_explicit(&p->dec_next, memory_order_acquire);
    for (;;) {
        uint32_t i = (uint32_t)cur;
        if (i == DEC_CLOSED) return DEC_CLOSED;
        if (!any) {
            uint64_t lim = atomic_load_explicit(&p->dec_limit, memory_order_acquire);
            if ((lim >> 32) != (cur >> 32) || i >= (uint32_t)lim) return DEC_CLOSED;
        }
        if (atomic_compare_exchange_weak_explicit(&p->dec_next, &cur, cur + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return i;
    }
}

static int decode_pending(const dv_par *p) {
    uint64_t cur = atomic_load_explicit(&p->dec_next, memory_order_acquire);
    uint64_t lim = atomic_load_explicit(&p->dec_limit, memory_order_acquire);
    return (uint32_t)cur != DEC_CLOSED && (lim >> 32) == (cur >> 32) && (uint32_t)cur < (uint32_t)lim;
}

static dv_status decode_into(const dv_apply *ap, const uint8_t *hdr, const uint8_t *pay, size_t len,
                             dv_delta_arena *arena, dv_delta *d) {
    if (!hdr || (!pay && len)) return DV_EINVAL;
    dv_delta_arena_reset(arena);
    return dv_delta_decode(hdr, pay, len, &ap->lim, arena, d);
}

/* One decode job for a loop with nothing queued; 0 when there was none. */
static int decode_ahead(dv_apply *ap) {
    dv_par *p = ap->par;
    uint32_t i = claim_decode(p, 0);
    if (i == DEC_CLOSED) return 0;
    par_dec *x = &p->dec[i % DEC_WINDOW];
    atomic_store_explicit(&x->state, DEC_BUSY, memory_order_relaxed);
    x->st = decode_into(ap, p->dec_headers[i], p->dec_payloads[i], p->dec_lens[i], &x->arena, &x->d);
    atomic_store_explicit(&x->state, DEC_DONE, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->disp_parked, memory_order_relaxed)) ring(ap, &p->disp_bell);
    return 1;
}

typedef struct worker_arg {
    const par_worker *w;
    uint64_t h;
    uint32_t gen;
} worker_arg;

static int stop_requested(const dv_par *p, uint32_t gen) {
    return atomic_load_explicit(&p->gen, memory_order_acquire) != gen;
}

static int worker_ready(const dv_apply *ap, const void *arg) {
    const worker_arg *a = arg;
    return atomic_load_explicit(&a->w->tail, memory_order_acquire) != a->h ||
           stop_requested(ap->par, a->gen) || decode_pending(ap->par);
}

dv_status dv_apply_worker_run(dv_apply *ap, uint32_t index) {
    if (!ap) return DV_EINVAL;
    dv_par *p = ap->par;
    if (!p) return DV_EUNSUPPORTED;
    if (index >= p->n) return DV_EINVAL;
    par_worker *w = &p->w[index];
    uint32_t expect = 0;
    if (!atomic_compare_exchange_strong(&w->running, &expect, 1)) return DV_ESTATE;
    if (!w->q && !(w->q = dv_mem_alloc(&w->mem, (size_t)QSIZE * sizeof *w->q))) {
        atomic_store(&w->running, 0);
        return DV_ENOMEM;
    }
    /* a stop request already made is not this loop's: it waits for the next one */
    uint32_t gen = atomic_load_explicit(&p->gen, memory_order_acquire);
    atomic_store_explicit(&w->gen, gen, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->registered, 1, memory_order_acq_rel); /* publishes w->q and w->gen */
    uint64_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
    for (;;) {
        uint64_t t = atomic_load_explicit(&w->tail, memory_order_acquire);
        if (h == t) {
            if (stop_requested(p, gen)) break;
            if (decode_ahead(ap)) continue; /* edge operations first: they hold the epoch open */
            worker_arg a = {w, h, gen};
            park(ap, &w->parked, &w->bell, worker_ready, &a);
            continue;
        }
        uint64_t end = t - h > CHUNK ? h + CHUNK : t;
        for (; h < end; h++) {
            if (h + PREFETCH_AHEAD < t) { /* overlap the next lists' cache misses with this one */
                const par_op *next = &w->q[(h + PREFETCH_AHEAD) & QMASK];
                if (next->kind != DV_EV_VECTOR_UPDATE && next->kind != PAR_RUN)
                    dv_db_edge_prefetch_checked(ap->db, next->from, next->layer, next->to);
            }
            run_any(ap, w, &w->q[h & QMASK]);
        }
        atomic_store_explicit(&w->head, h, memory_order_release);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&p->disp_parked, memory_order_relaxed)) ring(ap, &p->disp_bell);
    }
    test_point(p, DV_PAR_LOOP_LEAVING, index);
    atomic_fetch_sub_explicit(&p->registered, 1, memory_order_acq_rel);
    atomic_store_explicit(&w->running, 0, memory_order_release);
    test_point(p, DV_PAR_LOOP_LEFT, index);
    return DV_OK;
}

/* ---- dispatcher: queues ---------------------------------------------------------- */

static void publish(dv_apply *ap, par_worker *w) {
    if (w->published == w->local_tail) return;
    w->published = w->local_tail;
    atomic_store_explicit(&w->tail, w->local_tail, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->parked, memory_order_relaxed)) ring(ap, &w->bell);
}

static void publish_all(dv_apply *ap) {
    for (uint32_t i = 0; i < ap->par->n; i++) publish(ap, &ap->par->w[i]);
}

static int worker_has_room(const dv_apply *ap, const void *arg) {
    (void)ap;
    par_worker *w = (par_worker *)(uintptr_t)arg;
    w->cached_head = atomic_load_explicit(&w->head, memory_order_acquire);
    return w->local_tail - w->cached_head < QSIZE;
}

static int workers_idle(const dv_apply *ap, const void *arg) {
    (void)arg;
    const dv_par *p = ap->par;
    for (uint32_t i = 0; i < p->n; i++)
        if (atomic_load_explicit(&p->w[i].head, memory_order_acquire) != p->w[i].local_tail) return 0;
    return 1;
}

/* Waits until every queued operation is applied (and visible here). */
static void drain(dv_apply *ap) {
    dv_par *p = ap->par;
    publish_all(ap);
    while (!workers_idle(ap, NULL)) park(ap, &p->disp_parked, &p->disp_bell, workers_idle, NULL);
}

/* The loop owning from's lists: edge work stays on the loops, since the
 * dispatcher already reads and checks every edge (inserts keep it the
 * busiest thread). */
static par_worker *list_owner(const dv_par *p, uint32_t from) {
    return &p->w[(uint32_t)(((uint64_t)(from * 0x9E3779B1u) * p->n) >> 32)];
}

/* Who applies the updates of the id with header hash idh in the epoch: one
 * of the n loops, or the dispatcher itself (p->w[n], which applies its
 * share as it goes instead of queueing it: every thread then applies, the
 * calling one included). The dispatcher also reads and routes every
 * update, so with n loops its share is 1/n of a loop's (16/n sixteenths):
 * with one loop, halves (on 2 cores, 1.8-2.2x inline on independent
 * updates, where a third for the dispatcher gave 1.35-1.39x), with more,
 * less for the thread that also routes. The hash is mixed, then scaled to
 * the shares by a multiply (no division). */
static par_worker *update_owner(const dv_par *p, uint32_t idh) {
    uint32_t h = idh * 0x9E3779B1u;
    uint32_t k = (uint32_t)(((uint64_t)h * p->share_units) >> 36);
    return &p->w[k < p->n ? k : p->n];
}

/* The fields come as values: an operation built in a struct just before a
 * 16-byte copy of it stalled on store forwarding (perf). */
static void enqueue_to(dv_apply *ap, par_worker *w, uint32_t tag, uint32_t from, uint32_t to, uint32_t layer,
                       dv_event_kind kind) {
    dv_par *p = ap->par;
    if (w == &p->w[p->n]) { /* the dispatcher's own share: applied now, in stream order like a loop's */
        par_op op = {tag, from, to, (uint16_t)layer, (uint16_t)kind};
        run_any(ap, w, &op);
        return;
    }
    if (w->local_tail - w->cached_head >= QSIZE) {
        publish(ap, w);
        while (!worker_has_room(ap, w)) park(ap, &p->disp_parked, &p->disp_bell, worker_has_room, w);
    }
    par_op *op = &w->dq[w->local_tail & QMASK];
    op->tag = tag;
    op->from = from;
    op->to = to;
    op->layer = (uint16_t)layer;
    op->kind = (uint16_t)kind;
    w->local_tail++;
    if (w->local_tail - w->published >= PUBLISH_EVERY) publish(ap, w);
}

static void enqueue(dv_apply *ap, uint32_t tag, uint32_t from, uint32_t to, uint32_t layer,
                    dv_event_kind kind) {
    enqueue_to(ap, list_owner(ap->par, from), tag, from, to, layer, kind);
}

/* ---- dispatcher: epochs ------------------------------------------------------------ */

/* Inline deltas between epochs (barriers, short runs) share one write-lock
 * hold, released like an epoch's: after epoch_max deltas, after
 * EARLY_END_MIN when readers wait, before an epoch, at the end of the
 * batch. One acquisition per delta let readers in between every two
 * deltas: with readers busy, each acquisition waited for them (a reader
 * test ran 5x longer when short runs went inline one lock at a time). */
static void inline_lock(dv_apply *ap) {
    dv_par *p = ap->par;
    if (p->inline_locked) return;
    dv_apply_lock(ap);
    p->inline_locked = 1;
    p->inline_n = 0;
}

static void inline_unlock(dv_apply *ap) {
    dv_par *p = ap->par;
    if (!p->inline_locked) return;
    p->inline_locked = 0;
    dv_apply_unlock(ap);
}

static void inline_done(dv_apply *ap) {
    dv_par *p = ap->par;
    p->inline_n++;
    if (p->inline_n >= ap->cfg.epoch_max || (p->inline_n >= EARLY_END_MIN && dv_db_readers_waiting(ap->db)))
        inline_unlock(ap);
}

/* Opens an epoch: write lock (readers wait until epoch_end), one db
 * transaction. loop_updates: the epoch may hand vector updates to the loops
 * (it does not start with an insert): the per-slot table is grown now,
 * since it must not move while loops use it. */
static dv_status epoch_begin(dv_apply *ap, int loop_updates) {
    dv_par *p = ap->par;
    inline_unlock(ap);
    dv_apply_lock(ap);
    dv_status st = dv_txn_begin(ap->db);
    if (st != DV_OK) {
        dv_apply_unlock(ap);
        return st;
    }
    p->loop_updates = loop_updates && dv_apply_reserve_all_slots(ap) == DV_OK;
    p->epoch_no++;
    for (uint32_t i = 0; i < p->n; i++) p->w[i].dq = p->w[i].q; /* allocated before the loop registered */
    p->open = 1;
    p->n_pend = 0;
    p->dups = 0;
    p->disp_tag = NO_TAG;
    ap->n_touched = 0;
    return DV_OK;
}

/* Undoes, newest first, every operation of tag >= f this worker applied. */
static void worker_rollback(dv_apply *ap, par_worker *w, uint32_t f) {
    while (w->jn > 0 && w->j[w->jn - 1].tag >= f) {
        const par_jrec *r = &w->j[--w->jn];
        if (r->kind == DV_EV_VECTOR_UPDATE) {
            const saved_vec *sv = (const saved_vec *)(const void *)(w->pool + r->pos);
            dv_db_vector_restore_owned(ap->db, r->from, (const float *)(const void *)(sv + 1), sv->inv_norm);
            ap->last_seq[r->from] = sv->old_seq;
        } else {
            dv_db_edge_undo_owned(ap->db, (dv_event_kind)r->kind, r->from, r->layer, r->to, r->pos);
        }
    }
}

static void undo_touched_to(dv_apply *ap, size_t mark) {
    while (ap->n_touched > mark) {
        ap->n_touched--;
        ap->last_seq[ap->touched[ap->n_touched].slot] = ap->touched[ap->n_touched].old_seq;
    }
}

/* The message of a refusal found by a worker. */
static dv_status worker_refusal(dv_apply *ap, uint64_t seq, const par_worker *w) {
    char what[160];
    dv_text t;
    dv_text_init(&t, what, sizeof what);
    const par_op *op = &w->fail_op;
    dv_text_put(&t, op->kind == DV_EV_EDGE_ADD ? "edge add " : "edge remove ");
    dv_text_u64(&t, op->from);
    dv_text_put(&t, " -> ");
    dv_text_u64(&t, op->to);
    dv_text_put(&t, " on layer ");
    dv_text_u64(&t, op->layer);
    if (w->fail_st == DV_EINCOHERENT)
        dv_text_put(&t, op->kind == DV_EV_EDGE_ADD ? " (duplicate or degree bound)" : " (no such edge)");
    ap->cur = NULL;
    return dv_apply_fail(ap, seq, what, w->fail_st);
}

/* The first loop (or the dispatcher's own share) whose lowest failure is at
 * tag f: a refusal (redo 0) or an update left to the dispatcher (redo 1). */
static const par_worker *failed_at(const dv_par *p, uint32_t f, int redo) {
    for (uint32_t i = 0; i <= p->n; i++)
        if (p->w[i].fail_tag == f && p->w[i].fail_redo == redo) return &p->w[i];
    return NULL;
}

/*
 * Drains the workers and closes the epoch: on a refusal at tag F, rolls
 * back F and everything after it (worker journals first: they need the
 * nodes the dispatcher attached), reports F's status in results and marks
 * the later deltas (up to index `last`) not tried. Commits the rest,
 * releases the write lock. Returns F's status, or DV_OK.
 */
static dv_status epoch_end(dv_apply *ap, dv_status *results, size_t last, size_t *applied) {
    dv_par *p = ap->par;
    if (!p->open) return DV_OK;
    drain(ap);
    dv_db *db = ap->db;
    uint32_t f = atomic_load_explicit(&p->fail_tag, memory_order_acquire);
    uint32_t keep = p->n_pend;
    dv_status ret = DV_OK;
    if (f != NO_TAG) {
        const par_pend *pf = &p->pend[f];
        for (uint32_t i = 0; i <= p->n; i++) worker_rollback(ap, &p->w[i], f);
        dv_txn_rollback_to(db, pf->txn_mark);
        undo_touched_to(ap, pf->touched_mark);
        const par_worker *rw = failed_at(p, f, 1), *fw = failed_at(p, f, 0);
        if (rw) { /* a loop left delta F to the dispatcher: F and the rest go again, inline */
            if (p->disp_tag != NO_TAG) ap->st.refused--; /* it will be met again */
            p->redo_from = pf->index;
            p->redo_until = last;
            /* a stream whose updates the loops keep leaving (kind 3 drift, many conflicts) would be
             * redone again and again: the next epoch's worth of deltas is not handed over */
            p->hand_from = last + 1 + ap->cfg.epoch_max;
        } else if (p->disp_tag == f && !(p->disp_after_events && fw)) {
            ret = p->disp_st; /* message already recorded */
        } else { /* a loop's refusal; inline apply meets an edge's before the checks after the events */
            if (p->disp_tag != NO_TAG) ap->st.refused--; /* that refusal is now "not tried" or superseded */
            ret = fw ? worker_refusal(ap, pf->seq, fw)
                     : dv_apply_fail(ap, pf->seq, "parallel apply", DV_ECORRUPT);
        }
        ap->st.duplicates -= p->dups - pf->dups_before;
        ap->position = pf->seq - 1;
        if (results && !rw) {
            results[pf->index] = ret;
            for (size_t k = pf->index + 1; k <= last; k++) results[k] = DV_EGAP;
        }
        keep = f;
    }
    dv_txn_commit(db);
    for (uint32_t i = 0; i < keep; i++) {
        ap->st.omitted += p->pend[i].omitted;
        ap->st.replaced += p->pend[i].replaced;
    }
    ap->st.applied += keep;
    ap->st.parallel_deltas += keep;
    ap->st.epochs++;
    *applied += keep;
    for (uint32_t i = 0; i <= p->n; i++) {
        p->w[i].jn = 0;
        p->w[i].pool_len = 0;
        p->w[i].fail_tag = NO_TAG;
        p->w[i].fail_redo = 0;
    }
    atomic_store_explicit(&p->fail_tag, NO_TAG, memory_order_relaxed);
    p->disp_tag = NO_TAG;
    p->open = 0;
    p->n_pend = 0;
    ap->n_touched = 0;
    ap->cur = NULL;
    dv_apply_unlock(ap);
    return ret;
}

/* ---- dispatcher: one delta ----------------------------------------------------------- */

typedef struct disp_ctx {
    dv_apply *ap;
    uint32_t tag;
    dv_event_kind failed_kind; /* 0 = nothing refused */
} disp_ctx;

static dv_status disp_event(void *ctx, const dv_event *ev) {
    disp_ctx *c = ctx;
    dv_apply *ap = c->ap;
    dv_status st;
    switch (ev->kind) {
    case DV_EV_EDGE_ADD:
    case DV_EV_EDGE_REMOVE: {
        if ((st = dv_db_edge_check_ends(ap->db, ev->slot, ev->u.edge.layer, ev->u.edge.to)) != DV_OK) break;
        enqueue(ap, c->tag, ev->slot, ev->u.edge.to, ev->u.edge.layer, ev->kind);
        ap->st.edge_ops++;
        return DV_OK;
    }
    case DV_EV_VECTOR_DELETE: /* deltas with these are barriers: never dispatched */
    case DV_EV_VECTOR_PURGE:
    case DV_EV_ENTRY:
        st = DV_EBADOP;
        break;
    default: /* OP_BEGIN/END, vector insert/update, metadata: the dispatcher's own part */
        st = dv_db_replay(ap->db, ev);
        break;
    }
    if (st != DV_OK) c->failed_kind = ev->kind;
    return st;
}

/* A whole HNSW section (removes, then adds): the ends' records are read a
 * few edges ahead, since checking them is most of the dispatcher's work. */
static dv_status disp_edges(disp_ctx *c, dv_event_kind kind, uint32_t layer, const void *edges, size_t stride,
                            size_t n) {
    dv_apply *ap = c->ap;
    const unsigned char *e = edges;
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++) {
        uint32_t ft[2];
        memcpy(ft, e + i * stride, 8);
        dv_db_edge_prefetch(ap->db, ft[0], layer, ft[1]);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t ft[2];
        if (i + PREFETCH_AHEAD < n) {
            memcpy(ft, e + (i + PREFETCH_AHEAD) * stride, 8);
            dv_db_edge_prefetch(ap->db, ft[0], layer, ft[1]);
        }
        memcpy(ft, e + i * stride, 8);
        dv_status st = dv_db_edge_check_ends(ap->db, ft[0], layer, ft[1]);
        if (st != DV_OK) {
            c->failed_kind = kind;
            return st;
        }
        enqueue(ap, c->tag, ft[0], ft[1], layer, kind);
        ap->st.edge_ops++;
    }
    return DV_OK;
}

static dv_status disp_section(void *ctx, const dv_hnsw_section *sec) {
    disp_ctx *c = ctx;
    dv_status st =
        disp_edges(c, DV_EV_EDGE_REMOVE, sec->layer, sec->removes, sizeof *sec->removes, sec->n_remove);
    if (st != DV_OK) return st;
    return disp_edges(c, DV_EV_EDGE_ADD, sec->layer, sec->adds, sizeof *sec->adds, sec->n_add);
}

/* Room for `more` pending deltas. */
static dv_status pend_reserve(dv_apply *ap, size_t more) {
    dv_par *p = ap->par;
    while (p->pend_cap - p->n_pend < more) {
        uint32_t cap = p->pend_cap ? p->pend_cap * 2 : 64;
        par_pend *q =
            dv_mem_realloc(&ap->mem, p->pend, (size_t)p->pend_cap * sizeof *q, (size_t)cap * sizeof *q);
        if (!q) return DV_ENOMEM;
        p->pend = q;
        p->pend_cap = cap;
    }
    return DV_OK;
}

static dv_status pend_push(dv_apply *ap, uint64_t seq, size_t index) {
    dv_par *p = ap->par;
    if (pend_reserve(ap, 1) != DV_OK) return DV_ENOMEM;
    par_pend *e = &p->pend[p->n_pend++];
    memset(e, 0, sizeof *e);
    e->seq = seq;
    e->txn_mark = dv_txn_mark(ap->db);
    e->touched_mark = ap->n_touched;
    e->index = index;
    e->dups_before = p->dups;
    return DV_OK;
}

/* The entry-point half of apply.c's check_coherence (the per-node half is
 * implied by the per-edge checks here: no delete is in an epoch). */
static int entry_coherent(const dv_db *db) {
    uint32_t entry, max_level;
    dv_db_entry(db, &entry, &max_level);
    if (dv_db_count(db) == 0) return entry == DV_NO_SLOT;
    return entry != DV_NO_SLOT && dv_db_slot_live(db, entry) && dv_db_level_of(db, entry) == max_level;
}

/* Gates 3 and 4 for one non-barrier delta, its tag being the next one.
 * On refusal the message is recorded and the caller ends the epoch. */
static dv_status dispatch(dv_apply *ap, const dv_delta *d) {
    dv_par *p = ap->par;
    dv_db *db = ap->db;
    par_pend *e = &p->pend[p->n_pend - 1];
    uint64_t seq = d->h.sequence;
    ap->cur = d;
    p->disp_after_events = 0;
    if (d->vkind != DV_VEC_NONE || d->id) {
        dv_status gs = dv_apply_reserve_slot(ap, d); /* DV_ENOMEM is never a conflict */
        if (gs != DV_OK) return gs;
        dv_conflict_kind k = dv_apply_detect(ap, d);
        if (k) {
            dv_conflict_action a = dv_apply_decide(ap, k, d);
            if (a == DV_CONFLICT_ABORT)
                return dv_apply_fail(ap, seq, dv_apply_conflict_name(k), dv_apply_conflict_status(k));
            if (a == DV_CONFLICT_OMIT) {
                e->omitted = 1;
                ap->position = seq;
                return DV_OK;
            }
            e->replaced = 1;
        }
    }
    int vec = d->vkind == DV_VEC_DENSE || d->vkind == DV_VEC_SPARSE;
    dv_status st = dv_txn_reserve(db, 4 + (size_t)d->n_meta, vec ? 1 : 0, 0);
    if (st != DV_OK) return dv_apply_fail(ap, seq, "journal", st);
    if (d->vkind == DV_VEC_INSERT && dv_db_insert_moves_lists(db, d->slot))
        drain(ap); /* lists workers write */
    disp_ctx c = {ap, p->n_pend - 1, 0};
    st = dv_delta_to_events_sections(d, disp_event, disp_section, &c);
    publish_all(ap);
    if (st != DV_OK) {
        const char *what = c.failed_kind ? dv_apply_event_name(c.failed_kind) : "replay";
        return dv_apply_fail(ap, seq, what, st == DV_ECONFLICT ? DV_ECONSTRAINT : st);
    }
    /* the checks inline apply makes after the events (apply.c check_entry, check_coherence): a loop's
     * refusal of one of this delta's edges comes first there, so epoch_end prefers it */
    p->disp_after_events = 1;
    /* whatever coherence_check says (a delta that moves the entry point is a barrier) */
    if ((d->vkind != DV_VEC_NONE || d->id) && (st = dv_apply_check_level(ap, d->slot, seq)) != DV_OK)
        return st;
    if (ap->cfg.coherence_check && !entry_coherent(db))
        return dv_apply_fail(ap, seq, "entry point not live on the top level", DV_EINCOHERENT);
    p->disp_after_events = 0;
    if (d->vkind != DV_VEC_NONE || d->id) {
        if ((st = dv_apply_note_touched(ap, d->slot, seq)) != DV_OK)
            return dv_apply_fail(ap, seq, "journal", st);
    }
    ap->position = seq;
    return DV_OK;
}

/* Deltas applied inline, after a drain. A kind 3 update reads the vector it
 * changes (its base) before it can be dispatched: inline too. */
static int is_barrier(const dv_delta *d) {
    return d->h.operation == DV_OP_BATCH || d->has_entry || d->vkind == DV_VEC_DELETE || d->n_purge ||
           d->vkind == DV_VEC_DENSE_XOR;
}

/* ---- dv_apply_batch with workers -------------------------------------------------------- */

typedef struct batch_state {
    const uint8_t *const *headers;
    size_t n;
    dv_status *results;
    size_t applied;
    dv_status first;
} batch_state;

/* What a header says before decoding: a delete or a BATCH is a barrier (an
 * entry-point change is only known after decoding, and is one then too). A
 * NULL header ends the run (it is refused). Only a hint: the decoded delta
 * decides how it is applied. */
static int header_barrier(const uint8_t *hdr) {
    dv_delta_header h;
    if (!hdr || dv_delta_header_decode(hdr, &h) != DV_OK) return 1; /* refused: the run ends there */
    return h.operation == DV_OP_DELETE || h.operation == DV_OP_BATCH ||
           (h.operation == DV_OP_REINDEX && (h.flags & DV_FLAG_PURGE));
}

/* Whether delta i, with no epoch open, starts a run of fewer than min_run
 * deltas before the next barrier or the end of the batch. Such a run is
 * applied inline: opening an epoch (the write lock, waking the workers) and
 * draining it cost more than a few deltas' edge work saves -- on 2 cores a
 * stream with 10% deletes (runs of ~10) ran at 0.47x of inline without this.
 * Scans at most min_run headers. */
static int short_run(const dv_apply *ap, const batch_state *b, size_t i) {
    size_t min = ap->cfg.min_run;
    if (min <= 1) return 0;
    if (b->n - i < min) return 1;
    for (size_t j = i + 1; j < i + min; j++)
        if (header_barrier(b->headers[j])) return 1;
    return 0;
}

static void set_result(batch_state *b, size_t i, dv_status st) {
    if (b->results) b->results[i] = st;
    if (st == DV_OK)
        b->applied++;
    else if (st != DV_EDUPLICATE && b->first == DV_OK)
        b->first = st;
}

/* Closes the epoch; an earlier refusal found there makes delta i "not tried".
 * Returns non-zero when the batch must stop. */
static int close_epoch(dv_apply *ap, batch_state *b, size_t i, int include_i) {
    dv_status st = epoch_end(ap, b->results, include_i ? i : (i ? i - 1 : 0), &b->applied);
    if (ap->par->redo_from != NO_INDEX) return 1; /* dv_par_batch goes back first */
    if (st == DV_OK) return 0;
    if (b->first == DV_OK) b->first = st;
    if (b->results && !include_i) b->results[i] = DV_EGAP;
    return 1;
}

/* ---- dispatcher: decode-ahead ---------------------------------------------------------- */

/* Opens decode-ahead for a batch of n deltas (the loops may decode its first DEC_WINDOW). */
static void decode_open(dv_apply *ap, const uint8_t *const *headers, const uint8_t *const *payloads,
                        const size_t *lens, size_t n) {
    dv_par *p = ap->par;
    p->dec_pos = 0;
    p->handed_n = 0;                      /* every slot came back when the last epoch drained */
    if (n < 2 || n >= DEC_CLOSED) return; /* stays closed: the dispatcher decodes */
    p->dec_gen++;
    uint64_t g = (uint64_t)p->dec_gen << 32;
    p->dec_headers = headers;
    p->dec_payloads = payloads;
    p->dec_lens = lens;
    p->batch_arrays = 1;
    p->dec_n = (uint32_t)n;
    atomic_store_explicit(&p->dec_limit, g | (n < DEC_WINDOW ? n : DEC_WINDOW), memory_order_release);
    atomic_store_explicit(&p->dec_next, g, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    for (uint32_t k = 0; k < p->n; k++)
        if (atomic_load_explicit(&p->w[k].parked, memory_order_relaxed)) ring(ap, &p->w[k].bell);
}

static int slot_done(const dv_apply *ap, const void *arg) {
    (void)ap;
    const par_dec *x = arg;
    return atomic_load_explicit(&x->state, memory_order_acquire) == DEC_DONE;
}

/* Waits for the loop decoding index j, then frees its slot (and returns it). */
static par_dec *slot_wait(dv_apply *ap, uint32_t j) {
    dv_par *p = ap->par;
    par_dec *x = &p->dec[j % DEC_WINDOW];
    while (!slot_done(ap, x)) park(ap, &p->disp_parked, &p->disp_bell, slot_done, x);
    return x;
}

/* The slot the dispatcher used for its previous delta goes back to the loops. */
static void release_held(dv_apply *ap) {
    dv_par *p = ap->par;
    if (p->dec_held == DEC_CLOSED) return;
    atomic_store_explicit(&p->dec[p->dec_held % DEC_WINDOW].state, DEC_FREE, memory_order_relaxed);
    p->dec_held = DEC_CLOSED;
}

/* The oldest index whose decode slot a loop still holds (a vector update
 * handed over), or `i` when there is none older: the slots from there on
 * may not be reused yet. */
static size_t oldest_held(dv_par *p, size_t i) {
    while (p->handed_n) {
        const par_dec *x = &p->dec[p->handed[p->handed_first] % DEC_WINDOW];
        if (atomic_load_explicit(&x->state, memory_order_acquire) != DEC_FREE)
            return p->handed[p->handed_first] < i ? p->handed[p->handed_first] : i;
        p->handed_first = (p->handed_first + 1) % DEC_WINDOW;
        p->handed_n--;
    }
    return i;
}

/* Lets the loops decode ahead up to DEC_WINDOW deltas past the oldest slot
 * still in use (i or older) -- not while runs go on: a delta decoded ahead
 * has to be taken alone, and a run must start where nothing was claimed
 * (the loops have the run's work to do instead). */
static void raise_limit(dv_par *p, size_t i) {
    uint64_t g = (uint64_t)p->dec_gen << 32;
    size_t base = oldest_held(p, i); /* slots from base on may be in use */
    uint64_t lim = p->runs_on ? i : base + DEC_WINDOW < p->dec_n ? base + DEC_WINDOW : p->dec_n;
    uint64_t cur = atomic_load_explicit(&p->dec_limit, memory_order_relaxed);
    if ((cur >> 32) == p->dec_gen && (uint32_t)cur > lim)
        return; /* never lowered: claims were checked against it */
    atomic_store_explicit(&p->dec_limit, g | lim, memory_order_release);
}

/* Takes delta i of the batch: 1 when a loop decoded it ahead (its slot is
 * then dec_held), 0 when nobody decodes it but the caller (an index taken
 * before, when a redo went back over it, stays as it was taken). */
static int take_index(dv_apply *ap, size_t i) {
    dv_par *p = ap->par;
    if (i < p->dec_pos) return p->dec_held == i;
    release_held(ap);
    p->dec_pos = i + 1;
    uint64_t cur = atomic_load_explicit(&p->dec_next, memory_order_acquire);
    if ((uint32_t)cur == DEC_CLOSED) return 0;
    raise_limit(p, i);
    /* claim i unless a loop did; claims go in order, so cur never trails i */
    while ((uint32_t)cur == i &&
           !atomic_compare_exchange_weak_explicit(&p->dec_next, &cur, cur + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
    }
    if ((uint32_t)cur == i) return 0;
    slot_wait(ap, (uint32_t)i);
    p->dec_held = (uint32_t)i;
    ap->st.decoded_ahead++;
    return 1;
}

/* Delta i, taken: from its decode slot, or decoded now. */
static dv_status decode_taken(dv_apply *ap, size_t i, int ahead, const uint8_t *hdr, const uint8_t *payload,
                              size_t len, dv_delta *d) {
    if (ahead) {
        const par_dec *x = &ap->par->dec[i % DEC_WINDOW];
        *d = x->d;
        return x->st;
    }
    return decode_into(ap, hdr, payload, len, &ap->arena, d);
}

/* Ends decode-ahead: no new claim, and every claimed delta decoded, before
 * the batch's arrays go back to the caller. */
static void decode_close(dv_apply *ap) {
    dv_par *p = ap->par;
    release_held(ap);
    p->batch_arrays = 0;
    uint64_t cur = atomic_exchange_explicit(&p->dec_next, (uint64_t)DEC_CLOSED, memory_order_acq_rel);
    if ((uint32_t)cur == DEC_CLOSED) return;
    for (uint32_t j = (uint32_t)p->dec_pos; j < (uint32_t)cur; j++) { /* claimed by loops, not used */
        par_dec *x = slot_wait(ap, j);
        atomic_store_explicit(&x->state, DEC_FREE, memory_order_relaxed);
    }
}

/* An update a loop can apply by itself: dense or sparse values and nothing
 * else (no metadata, no edges, no entry change). */
static int loop_update(const dv_apply *ap, const dv_delta *d, size_t i) {
    return ap->par->loop_updates && i >= ap->par->hand_from && d->h.operation == DV_OP_UPDATE &&
           (d->vkind == DV_VEC_DENSE || d->vkind == DV_VEC_SPARSE) && !d->n_meta && !d->n_sections &&
           !d->has_entry && d->slot < ap->last_cap;
}

/* Hands the update of batch index i (the epoch's latest tag; its id's
 * header hash idh), decoded ahead by a loop, to the thread owning that id
 * for the epoch, with its decode slot (the owner frees it). All of an id's
 * updates go to one owner, in order (runs use the same mapping); the mark
 * tells the dispatcher not to change that id's vector itself in this
 * epoch. */
static void hand_update(dv_apply *ap, size_t i, uint32_t idh, uint64_t seq) {
    dv_par *p = ap->par;
    p->handed[(p->handed_first + p->handed_n) % DEC_WINDOW] = (uint32_t)i;
    p->handed_n++;
    p->dec_held = DEC_CLOSED;
    p->mark[idh % MARK_SLOTS] = p->epoch_no;
    par_worker *w = update_owner(p, idh);
    enqueue_to(ap, w, p->n_pend - 1, (uint32_t)i, 0, 1, DV_EV_VECTOR_UPDATE);
    if (w != &p->w[p->n] && w->local_tail - w->published >= HAND_PUBLISH_EVERY) publish(ap, w);
    ap->st.loop_updates++;
    ap->position = seq;
}

/* Whether the dispatcher must close the open epoch before it applies d
 * itself: d is an insert (an epoch that hands updates to the loops has
 * none), the epoch handed an update of d's id to a loop (the db journal
 * must never hold a state older than a loop's journal does, as rollback
 * undoes the loops' journals first; a vector is only ever changed by
 * deltas carrying its id), or d names a slot past the per-slot table,
 * which must not move while loops read it. */
static int close_before(const dv_apply *ap, const dv_delta *d) {
    const dv_par *p = ap->par;
    if (!p->open || !p->loop_updates) return 0;
    if (d->h.operation == DV_OP_INSERT) return 1; /* it changes slots and the id map, which loops read */
    return (d->vkind != DV_VEC_NONE || d->id) &&
           (p->mark[d->h.vector_id_hash % MARK_SLOTS] == p->epoch_no || d->slot >= ap->last_cap);
}

/* Opens an epoch for delta i (operation op) unless one is open: 0, or the
 * failure set as i's result. An epoch that starts with an insert keeps
 * vector parts on the dispatcher; any other may hand updates to the loops
 * until an insert comes (close_before). */
static int epoch_for(dv_apply *ap, batch_state *b, size_t i, uint64_t seq, uint8_t op) {
    dv_status st;
    if (ap->par->open || (st = epoch_begin(ap, op != DV_OP_INSERT)) == DV_OK) return 0;
    set_result(b, i, dv_apply_fail(ap, seq, "transaction", st));
    return 1;
}

static void one_delta(dv_apply *ap, batch_state *b, size_t i, const uint8_t *hdr, const uint8_t *payload,
                      size_t len) {
    dv_par *p = ap->par;
    ap->cur = NULL;
    int redo = p->redo_until != NO_INDEX;
    if (redo) {
        ap->st.redone_inline++;                           /* whatever its outcome: it is taken again */
        if (i >= p->redo_until) p->redo_until = NO_INDEX; /* the last one of the redo */
    }
    int ahead = take_index(ap, i);
    dv_delta d;
    dv_status st = decode_taken(ap, i, ahead, hdr, payload, len, &d);
    if (!hdr || (!payload && len)) {
        if (close_epoch(ap, b, i, 0)) return;
        set_result(b, i, DV_EINVAL);
        return;
    }
    if (st != DV_OK) {
        if (close_epoch(ap, b, i, 0)) return;
        dv_delta_header h;
        uint64_t seq = dv_delta_header_decode(hdr, &h) == DV_OK ? h.sequence : 0;
        set_result(b, i, dv_apply_fail(ap, seq, "decode", st));
        return;
    }
    if (d.h.sequence <= ap->position) { /* duplicate of an applied (or dispatched) delta */
        dv_apply_check_sequence(ap, d.h.sequence);
        if (p->open) p->dups++;
        set_result(b, i, DV_EDUPLICATE);
        return;
    }
    int barrier = is_barrier(&d);
    if (d.h.sequence != ap->position + 1 || barrier || redo || (!p->open && short_run(ap, b, i))) {
        if (close_epoch(ap, b, i, 0)) return;
        if ((st = dv_apply_check_sequence(ap, d.h.sequence)) != DV_OK) {
            set_result(b, i, st);
            return;
        }
        inline_lock(ap);
        st = dv_apply_decoded_locked(ap, &d);
        inline_done(ap);
        if (st == DV_OK) {
            if (barrier)
                ap->st.barriers++;
            else if (!redo)
                ap->st.short_runs++;
        }
        set_result(b, i, st);
        return;
    }
    if (close_before(ap, &d) && close_epoch(ap, b, i, 0)) return;
    if (epoch_for(ap, b, i, d.h.sequence, d.h.operation)) return;
    if ((st = pend_push(ap, d.h.sequence, i)) != DV_OK) {
        if (close_epoch(ap, b, i, 0)) return;
        set_result(b, i, dv_apply_fail(ap, d.h.sequence, "epoch", st));
        return;
    }
    if (b->results) b->results[i] = DV_OK; /* tentative until the epoch closes */
    if (ahead && loop_update(ap, &d, i)) {
        hand_update(ap, i, d.h.vector_id_hash, d.h.sequence);
        st = DV_OK;
    } else {
        st = dispatch(ap, &d);
    }
    if (st != DV_OK) {
        p->disp_tag = p->n_pend - 1;
        p->disp_st = st;
        uint32_t cur = atomic_load_explicit(&p->fail_tag, memory_order_relaxed);
        while (p->disp_tag < cur &&
               !atomic_compare_exchange_weak_explicit(&p->fail_tag, &cur, p->disp_tag, memory_order_relaxed,
                                                      memory_order_relaxed)) {
        }
        close_epoch(ap, b, i, 1);
        return;
    }
    if (p->n_pend >= ap->cfg.epoch_max || (p->n_pend >= EARLY_END_MIN && dv_db_readers_waiting(ap->db)))
        close_epoch(ap, b, i, 1);
}

/* Whether the header at hdr says: an update of values only, sequence seq.
 * Read, not validated: the owner decodes the delta in full, and anything
 * that does not decode goes back to the dispatcher (redo). *idh: the
 * header's id hash. */
static int run_member(const uint8_t *hdr, const uint8_t *payload, size_t len, uint64_t seq, uint32_t *idh) {
    if (!hdr || (!payload && len) || dv_ld64(hdr) != seq || hdr[8] != DV_OP_UPDATE ||
        (hdr[9] & (DV_FLAG_HAS_HNSW | DV_FLAG_HAS_META)) || dv_ld16(hdr + 10) != DV_DELTA_FORMAT_VERSION)
        return 0;
    *idh = dv_ld32(hdr + 12);
    return 1;
}

/* Claims batch indices [i, end) for a run: none may have been claimed for
 * decode-ahead (a loop decoding one ahead would then own its slot). */
static int claim_run(dv_apply *ap, size_t i, size_t end) {
    dv_par *p = ap->par;
    release_held(ap);
    uint64_t cur = atomic_load_explicit(&p->dec_next, memory_order_acquire);
    if ((uint32_t)cur != i ||
        !atomic_compare_exchange_strong_explicit(&p->dec_next, &cur, cur + (end - i), memory_order_acq_rel,
                                                 memory_order_acquire))
        return 0;
    p->dec_pos = end;
    raise_limit(p, end);
    return 1;
}

/*
 * A run: at least RUN_MIN updates of values only, in sequence from delta i,
 * go to the loops as one operation each instead of one per update -- at a
 * microsecond of work per update, handing them over one by one cost the
 * dispatcher as much as applying them (a contended claim per delta, the
 * queue's lines moving between cores). Each update's owner (one of the
 * loops or the dispatcher, by its id) is written in run_owner by tag; every
 * owner decodes, checks and applies its own, in stream order, exactly as a
 * handed update. The dispatcher does its share after publishing the run.
 * Returns the number of deltas taken (0: none, the caller goes on one by one).
 */
static size_t try_run(dv_apply *ap, batch_state *b, size_t i) {
    dv_par *p = ap->par;
    if (!p->batch_arrays || p->redo_until != NO_INDEX || i < p->dec_pos || i < p->hand_from ||
        (p->open && !p->loop_updates) || (!p->open && short_run(ap, b, i)))
        return 0;
    uint32_t room = ap->cfg.epoch_max - (p->open ? p->n_pend : 0);
    if (room < RUN_MIN) return 0;
    size_t end;
    uint64_t seq = ap->position + 1;
    if (i >= p->scan_from && i < p->members_until && p->members_key == seq - i) {
        end = p->members_until; /* scanned before, with the same sequences: a short stretch stays short */
    } else {                    /* the id hashes go to scan_hash, by index from scan_from */
        end = i;
        p->scan_from = i;
        while (end < b->n && end - i < ap->cfg.epoch_max &&
               run_member(b->headers[end], p->dec_payloads[end], p->dec_lens[end], seq + (end - i),
                          &p->scan_hash[end - i])) {
            if (end + 16 < b->n) __builtin_prefetch(b->headers[end + 16]);
            end++;
        }
        p->members_until = end;
        p->members_key = seq - i;
        if (end - i < RUN_MIN && end < b->n && end - i < ap->cfg.epoch_max)
            p->runs_on = 0; /* a non-member ends it: loops may decode ahead again */
    }
    if (end - i > room) end = i + room;
    if (end - i < RUN_MIN) return 0;
    p->runs_on = 1; /* loops stop decoding ahead: the run starts once the dispatcher is past what they took */
    if ((uint32_t)atomic_load_explicit(&p->dec_next, memory_order_relaxed) != i) return 0;
    if (!p->open && epoch_begin(ap, 1) != DV_OK) return 0; /* the one-by-one path reports it */
    /* room first: a run is all or nothing (end - i <= room keeps it within epoch_max) */
    if (!p->loop_updates || pend_reserve(ap, end - i) != DV_OK || !claim_run(ap, i, end)) return 0;
    uint32_t tag0 = p->n_pend;
    for (size_t k = i; k < end; k++) {
        uint32_t idh = p->scan_hash[k - p->scan_from];
        pend_push(ap, seq + (k - i), k); /* room reserved */
        p->run_owner[p->n_pend - 1] = (uint8_t)(update_owner(p, idh) - p->w);
        p->mark[idh % MARK_SLOTS] = p->epoch_no;
        if (b->results) b->results[k] = DV_OK; /* tentative until the epoch closes */
    }
    for (uint32_t k = 0; k < p->n; k++) {
        par_worker *w = &p->w[k];
        enqueue_to(ap, w, tag0, (uint32_t)i, (uint32_t)(end - i), 0, (dv_event_kind)PAR_RUN);
        publish(ap, w);
    }
    par_op run = {tag0, (uint32_t)i, (uint32_t)(end - i), 0, PAR_RUN};
    run_share(ap, &p->w[p->n], &run);
    ap->st.loop_updates += end - i;
    ap->position = seq + (end - i) - 1;
    if (p->n_pend >= ap->cfg.epoch_max || (p->n_pend >= EARLY_END_MIN && dv_db_readers_waiting(ap->db)))
        close_epoch(ap, b, end - 1, 1);
    return end - i;
}

/* Where the batch goes on: `next`, or back to the delta a loop left
 * undecided when an epoch's close asked for a redo. */
static size_t next_index(dv_par *p, size_t next) {
    if (p->redo_from == NO_INDEX) return next;
    size_t back = p->redo_from;
    p->redo_from = NO_INDEX;
    return back;
}

dv_status dv_par_batch(dv_apply *ap, const uint8_t *const *headers, const uint8_t *const *payloads,
                       const size_t *payload_lens, size_t n, dv_status *results, size_t *n_applied) {
    batch_state b = {headers, n, results, 0, DV_OK};
    dv_par *p = ap->par;
    size_t i = 0;
    p->members_until = p->hand_from = 0;
    p->runs_on = 0;
    decode_open(ap, headers, payloads, payload_lens, n);
    for (;;) {
        while (i < n && b.first == DV_OK) {
            size_t taken = try_run(ap, &b, i);
            if (!taken) {
                one_delta(ap, &b, i, headers[i], payloads[i], payload_lens[i]);
                taken = 1;
            }
            i = next_index(p, i + taken);
        }
        if (b.first != DV_OK || !n) break;
        close_epoch(ap, &b, n - 1, 1);
        if (p->redo_from == NO_INDEX) break;
        i = next_index(p, n);
    }
    p->redo_from = p->redo_until = NO_INDEX; /* a refusal may have ended a redo early */
    decode_close(ap);
    inline_unlock(ap);
    if (results)
        for (; i < n; i++) results[i] = DV_EGAP;
    if (n_applied) *n_applied = b.applied;
    return b.first;
}
