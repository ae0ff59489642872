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
 *  - the dispatcher owns everything except neighbour lists and in-degree
 *    counters: it decodes, checks sequences and conflicts, and applies the
 *    vector part of every delta (insert: id map, free list, slot, vector,
 *    empty lists; update: vector, norm; metadata) in sequence order, inside
 *    the db transaction (src/db/txn.h) that spans the epoch;
 *  - each edge operation goes to worker (from % N): the worker owns the
 *    lists of "its" nodes, so every list sees its operations in stream
 *    order; in-degree counters of targets are shared and updated with
 *    __atomic RMWs (commutative, so the final counts are exact);
 *  - a node's lists exist before any operation on them is queued (the
 *    dispatcher attaches the node first) and are never freed or moved
 *    while operations are queued: deletes, entry changes and batches are
 *    applied inline after draining the workers, and store growth (realloc
 *    of data/info) waits for a drain too.
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
 * delta F-1, as the inline applier would leave it.
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

/* One edge operation: tag = index of its delta in the epoch; kind = DV_EV_EDGE_ADD or DV_EV_EDGE_REMOVE. */
typedef struct par_op {
    uint32_t tag, from, to;
    uint16_t layer, kind;
} par_op;

/* Undo record of an applied operation (pos: where a removed edge was). */
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
    uint32_t fail_tag;
    dv_status fail_st;
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
    uint32_t n;
    uint32_t n_mask; /* n - 1 when n is a power of two, else 0 */
    par_worker *w;
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
    int inline_locked; /* the write lock is held across inline deltas (see inline_lock) */
    uint32_t inline_n; /* inline deltas under it */
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
    if (ap->cfg.workers < 2 || ap->cfg.mode != DV_APPLY_STRUCTURAL) return DV_OK;
    dv_par *p = dv_mem_calloc(&ap->mem, 1, sizeof *p);
    if (!p) return DV_ENOMEM;
    p->n = ap->cfg.workers;
    p->n_mask = (p->n & (p->n - 1)) == 0 ? p->n - 1 : 0;
    p->w = dv_mem_calloc(&ap->mem, p->n, sizeof *p->w);
    if (!p->w) {
        dv_mem_free(&ap->mem, p, sizeof *p);
        return DV_ENOMEM;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        dv_mem_init(&p->w[i].mem, ap->cfg.allocator);
        p->w[i].fail_tag = NO_TAG;
    }
    p->dec = dv_mem_calloc(&ap->mem, DEC_WINDOW, sizeof *p->dec);
    if (!p->dec) {
        dv_mem_free(&ap->mem, p->w, (size_t)p->n * sizeof *p->w);
        dv_mem_free(&ap->mem, p, sizeof *p);
        return DV_ENOMEM;
    }
    for (uint32_t i = 0; i < DEC_WINDOW; i++) {
        dv_mem_init(&p->dec[i].mem, ap->cfg.allocator);
        dv_delta_arena_init(&p->dec[i].arena, &p->dec[i].mem);
    }
    atomic_store(&p->dec_next, (uint64_t)DEC_CLOSED);
    p->dec_held = DEC_CLOSED;
    atomic_store(&p->fail_tag, NO_TAG);
    p->disp_tag = NO_TAG;
    ap->par = p;
    return DV_OK;
}

void dv_par_free(dv_apply *ap) {
    dv_par *p = ap->par;
    if (!p) return;
    for (uint32_t i = 0; i < p->n; i++) {
        par_worker *w = &p->w[i];
        dv_mem_free(&w->mem, w->q, (size_t)QSIZE * sizeof *w->q);
        dv_mem_free(&w->mem, w->j, w->jcap * sizeof *w->j);
    }
    for (uint32_t i = 0; i < DEC_WINDOW; i++) dv_delta_arena_free(&p->dec[i].arena);
    dv_mem_free(&ap->mem, p->dec, (size_t)DEC_WINDOW * sizeof *p->dec);
    dv_mem_free(&ap->mem, p->pend, (size_t)p->pend_cap * sizeof *p->pend);
    dv_mem_free(&ap->mem, p->w, (size_t)p->n * sizeof *p->w);
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

static void worker_fail(dv_par *p, par_worker *w, const par_op *op, dv_status st) {
    if (op->tag < w->fail_tag) {
        w->fail_tag = op->tag;
        w->fail_st = st;
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
        worker_fail(p, w, op, st);
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
                dv_db_edge_prefetch_checked(ap->db, next->from, next->layer, next->to);
            }
            run_op(ap, w, &w->q[h & QMASK]);
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

/* The worker owning from's lists. */
static par_worker *owner(const dv_par *p, uint32_t from) {
    return &p->w[p->n_mask ? from & p->n_mask : from % p->n]; /* no division for 2, 4, 8 ... workers */
}

/* The fields come as values: an operation built in a struct just before a
 * 16-byte copy of it stalled on store forwarding (perf). */
static void enqueue(dv_apply *ap, uint32_t tag, uint32_t from, uint32_t to, uint32_t layer,
                    dv_event_kind kind) {
    dv_par *p = ap->par;
    par_worker *w = owner(p, from);
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

/* Opens an epoch: write lock (readers wait until epoch_end), one db transaction. */
static dv_status epoch_begin(dv_apply *ap) {
    dv_par *p = ap->par;
    inline_unlock(ap);
    dv_apply_lock(ap);
    dv_status st = dv_txn_begin(ap->db);
    if (st != DV_OK) {
        dv_apply_unlock(ap);
        return st;
    }
    for (uint32_t i = 0; i < p->n; i++) p->w[i].dq = p->w[i].q; /* allocated before the loop registered */
    p->open = 1;
    p->n_pend = 0;
    p->dups = 0;
    p->disp_tag = NO_TAG;
    ap->n_touched = 0;
    return DV_OK;
}

/* Undoes, newest first, every operation of tag >= f this worker applied. */
static void worker_rollback(dv_db *db, par_worker *w, uint32_t f) {
    while (w->jn > 0 && w->j[w->jn - 1].tag >= f) {
        const par_jrec *r = &w->j[--w->jn];
        dv_db_edge_undo_owned(db, (dv_event_kind)r->kind, r->from, r->layer, r->to, r->pos);
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
        for (uint32_t i = 0; i < p->n; i++) worker_rollback(db, &p->w[i], f);
        dv_txn_rollback_to(db, pf->txn_mark);
        undo_touched_to(ap, pf->touched_mark);
        if (p->disp_tag == f) {
            ret = p->disp_st; /* message already recorded */
        } else {
            if (p->disp_tag != NO_TAG) ap->st.refused--; /* that later refusal is now "not tried" */
            const par_worker *fw = NULL;
            for (uint32_t i = 0; i < p->n && !fw; i++)
                if (p->w[i].fail_tag == f) fw = &p->w[i];
            ret = fw ? worker_refusal(ap, pf->seq, fw)
                     : dv_apply_fail(ap, pf->seq, "parallel apply", DV_ECORRUPT);
        }
        ap->st.duplicates -= p->dups - pf->dups_before;
        ap->position = pf->seq - 1;
        if (results) {
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
    for (uint32_t i = 0; i < p->n; i++) {
        p->w[i].jn = 0;
        p->w[i].fail_tag = NO_TAG;
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

static dv_status pend_push(dv_apply *ap, const dv_delta *d, size_t index) {
    dv_par *p = ap->par;
    if (p->n_pend == p->pend_cap) {
        uint32_t cap = p->pend_cap ? p->pend_cap * 2 : 64;
        par_pend *q =
            dv_mem_realloc(&ap->mem, p->pend, (size_t)p->pend_cap * sizeof *q, (size_t)cap * sizeof *q);
        if (!q) return DV_ENOMEM;
        p->pend = q;
        p->pend_cap = cap;
    }
    par_pend *e = &p->pend[p->n_pend++];
    memset(e, 0, sizeof *e);
    e->seq = d->h.sequence;
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
    if (ap->cfg.coherence_check && !entry_coherent(db))
        return dv_apply_fail(ap, seq, "entry point not live on the top level", DV_EINCOHERENT);
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
    if (n < 2 || n >= DEC_CLOSED) return; /* stays closed: the dispatcher decodes */
    p->dec_gen++;
    uint64_t g = (uint64_t)p->dec_gen << 32;
    p->dec_headers = headers;
    p->dec_payloads = payloads;
    p->dec_lens = lens;
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

/* Delta i of the batch, decoded: by a loop ahead of time, or now. */
static dv_status next_decoded(dv_apply *ap, size_t i, const uint8_t *hdr, const uint8_t *payload, size_t len,
                              dv_delta *d) {
    dv_par *p = ap->par;
    release_held(ap);
    p->dec_pos = i + 1;
    uint64_t cur = atomic_load_explicit(&p->dec_next, memory_order_acquire);
    if ((uint32_t)cur != DEC_CLOSED) {
        uint64_t g = (uint64_t)p->dec_gen << 32;
        uint64_t lim = i + DEC_WINDOW < p->dec_n ? i + DEC_WINDOW : p->dec_n; /* slots of < i are free */
        atomic_store_explicit(&p->dec_limit, g | lim, memory_order_release);
        /* claim i unless a loop did; claims go in order, so cur never trails i */
        while ((uint32_t)cur == i &&
               !atomic_compare_exchange_weak_explicit(&p->dec_next, &cur, cur + 1, memory_order_acq_rel,
                                                      memory_order_acquire)) {
        }
        if ((uint32_t)cur != i) {
            par_dec *x = slot_wait(ap, (uint32_t)i);
            p->dec_held = (uint32_t)i;
            ap->st.decoded_ahead++;
            *d = x->d;
            return x->st;
        }
    }
    return decode_into(ap, hdr, payload, len, &ap->arena, d);
}

/* Ends decode-ahead: no new claim, and every claimed delta decoded, before
 * the batch's arrays go back to the caller. */
static void decode_close(dv_apply *ap) {
    dv_par *p = ap->par;
    release_held(ap);
    uint64_t cur = atomic_exchange_explicit(&p->dec_next, (uint64_t)DEC_CLOSED, memory_order_acq_rel);
    if ((uint32_t)cur == DEC_CLOSED) return;
    for (uint32_t j = (uint32_t)p->dec_pos; j < (uint32_t)cur; j++) { /* claimed by loops, not used */
        par_dec *x = slot_wait(ap, j);
        atomic_store_explicit(&x->state, DEC_FREE, memory_order_relaxed);
    }
}

static void one_delta(dv_apply *ap, batch_state *b, size_t i, const uint8_t *hdr, const uint8_t *payload,
                      size_t len) {
    dv_par *p = ap->par;
    ap->cur = NULL;
    dv_delta d;
    dv_status st = next_decoded(ap, i, hdr, payload, len, &d);
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
    if (d.h.sequence != ap->position + 1 || barrier || (!p->open && short_run(ap, b, i))) {
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
            else
                ap->st.short_runs++;
        }
        set_result(b, i, st);
        return;
    }
    if (!p->open && (st = epoch_begin(ap)) != DV_OK) {
        set_result(b, i, dv_apply_fail(ap, d.h.sequence, "transaction", st));
        return;
    }
    if ((st = pend_push(ap, &d, i)) != DV_OK) {
        if (close_epoch(ap, b, i, 0)) return;
        set_result(b, i, dv_apply_fail(ap, d.h.sequence, "epoch", st));
        return;
    }
    if (b->results) b->results[i] = DV_OK; /* tentative until the epoch closes */
    st = dispatch(ap, &d);
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

dv_status dv_par_batch(dv_apply *ap, const uint8_t *const *headers, const uint8_t *const *payloads,
                       const size_t *payload_lens, size_t n, dv_status *results, size_t *n_applied) {
    batch_state b = {headers, n, results, 0, DV_OK};
    size_t i = 0;
    decode_open(ap, headers, payloads, payload_lens, n);
    for (; i < n && b.first == DV_OK; i++) one_delta(ap, &b, i, headers[i], payloads[i], payload_lens[i]);
    if (b.first == DV_OK && n) close_epoch(ap, &b, n - 1, 1);
    decode_close(ap);
    inline_unlock(ap);
    if (results)
        for (; i < n; i++) results[i] = DV_EGAP;
    if (n_applied) *n_applied = b.applied;
    return b.first;
}
