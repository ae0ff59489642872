/*
 * feed_mt.c -- deltavec-mt.wasm only: a delta feed for the parallel replica
 * of exports_mt.c. Deltas travel from the thread that receives them (a
 * browser page's main thread, or Node's) to the dispatcher worker through a
 * dv_ring (SPSC, section 5 of deltavec.h) in the shared memory: the
 * producer writes each delta straight into a ring reservation, the
 * dispatcher applies them from the ring without copying. No message per
 * delta, no stream buffer.
 *
 * Scheduling without blocking the dispatcher (it also answers messages):
 *  - `running` is 1 while a drain is scheduled or running. The producer,
 *    after each commit, swaps it to 1; if it was 0 it sends the dispatcher
 *    one "drain" message (dvw_feed_commit returns 1 to say so).
 *  - the dispatcher's drain applies batches until the ring is empty, stores
 *    running = 0, then looks at the ring once more: an entry committed in
 *    between is either seen there (and the drain goes on if it can swap
 *    running back to 1) or its producer saw running == 0 and sent a new
 *    message. Nothing is left unapplied and no message is lost.
 *
 * Shared words (the first 16 u32 of the struct, read by JS with Atomics):
 *  running, consumed (entries answered), applied, duplicates, refused,
 *  first_status (0 = none since the last dvw_feed_clear), failed sequence
 *  lo/hi, position lo/hi (after the last batch), drains (dvw_feed_drain
 *  calls). `consumed` is notified
 *  (memory.atomic.notify) after every batch, so a producer can wait for room
 *  or for a flush with Atomics.waitAsync; `running` when it drops to 0. The failure fields and detail are
 *  written before first_status is published (seq_cst), and read only after.
 *
 * Refusals: the applier refuses a bad delta and every later one that does
 * not follow the last good sequence (DV_EGAP); the replica stays at the
 * last good state, exactly as dv_apply_batch leaves it. The producer learns
 * it from first_status and re-sends from the failed sequence.
 */
#if defined(DVW_FREESTANDING)
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "dvw.h"

#define FEED_BATCH 256u  /* entries per dv_apply_batch */
#define RING_ALIGN 64u   /* dv_ring_init wants a 64-byte aligned region */
#define DETAIL_SIZE 256u /* copy of dv_apply_last_error for the first refusal */

enum {
    W_RUNNING,
    W_CONSUMED,
    W_APPLIED,
    W_DUPLICATES,
    W_REFUSED,
    W_FIRST_STATUS,
    W_FAILED_SEQ_LO,
    W_FAILED_SEQ_HI,
    W_POSITION_LO,
    W_POSITION_HI,
    W_DRAINS, /* dvw_feed_drain calls: how often an idle dispatcher was woken */
    W_COUNT = 16
};

typedef struct dvw_feed {
    _Atomic uint32_t w[W_COUNT]; /* shared words, layout above (JS reads them) */
    char detail[DETAIL_SIZE];
    dv_ring ring;
    dv_ring_reservation res; /* the producer's open reservation */
    dvw_par *par;
    void *region; /* malloc'd block holding the 64-byte aligned ring region */
} dvw_feed;

/* Opens a feed into the parallel replica p: an SPSC ring of `slots` header
 * slots and `payload_size` payload bytes (powers of two; 0 = ring
 * defaults). The largest delta payload it carries is payload_size / 2. */
DVW_EXPORT int32_t dvw_feed_open(dvw_par *p, uint32_t slots, uint32_t payload_size, dvw_feed **out) {
    if (!p || !out) return DV_EINVAL;
    dv_ring_config rc;
    dv_ring_config_default(&rc, DV_RING_SPSC);
    if (slots) rc.slot_count = slots;
    if (payload_size) rc.payload_size = payload_size;
    size_t need = dv_ring_required_size(&rc);
    if (!need) return DV_EINVAL;
    dvw_feed *f = calloc(1, sizeof *f);
    if (!f) return DV_ENOMEM;
    f->region = malloc(need + RING_ALIGN);
    if (!f->region) {
        free(f);
        return DV_ENOMEM;
    }
    void *mem = (void *)(((uintptr_t)f->region + RING_ALIGN - 1) & ~(uintptr_t)(RING_ALIGN - 1));
    dv_status st = dv_ring_init(mem, need, &rc, &f->ring);
    if (st != DV_OK) {
        free(f->region);
        free(f);
        return st;
    }
    f->par = p;
    *out = f;
    return DV_OK;
}

/* Only while no drain runs (running == 0 and every pushed entry consumed). */
DVW_EXPORT void dvw_feed_close(dvw_feed *f) {
    if (!f) return;
    free(f->region);
    free(f);
}

/* Producer: claims room for a delta with `payload_len` payload bytes.
 * DV_EFULL: wait for `consumed` to move and retry; DV_ETOOBIG: never fits. */
DVW_EXPORT int32_t dvw_feed_reserve(dvw_feed *f, uint32_t payload_len) {
    if (!f) return DV_EINVAL;
    return dv_ring_reserve(&f->ring, payload_len, &f->res);
}

DVW_EXPORT void *dvw_feed_reserved_header(const dvw_feed *f) { return f->res.header; }
DVW_EXPORT void *dvw_feed_reserved_payload(const dvw_feed *f) { return f->res.payload; }

/* Producer: publishes the reserved delta (header and payload written).
 * Returns 1 when the dispatcher is idle and must be sent a drain message,
 * 0 when a drain is already scheduled or running, < 0 on error. */
DVW_EXPORT int32_t dvw_feed_commit(dvw_feed *f, uint32_t payload_len) {
    if (!f) return DV_EINVAL;
    dv_status st = dv_ring_commit(&f->ring, &f->res, payload_len);
    if (st != DV_OK) return st;
    return atomic_exchange(&f->w[W_RUNNING], 1u) == 0u ? 1 : 0;
}

static void note_failure(dvw_feed *f, dv_apply *ap, dv_status st, const dv_ring_entry *e) {
    if (atomic_load(&f->w[W_FIRST_STATUS]) != 0) return;
    uint64_t seq = 0;
    dv_delta_header h;
    if (dv_delta_header_decode(e->header, &h) == DV_OK) seq = h.sequence;
    const char *msg = dv_apply_last_error(ap);
    size_t n = strlen(msg);
    if (n >= DETAIL_SIZE) n = DETAIL_SIZE - 1;
    memcpy(f->detail, msg, n);
    f->detail[n] = '\0';
    atomic_store(&f->w[W_FAILED_SEQ_LO], (uint32_t)seq);
    atomic_store(&f->w[W_FAILED_SEQ_HI], (uint32_t)(seq >> 32));
    atomic_store(&f->w[W_FIRST_STATUS], (uint32_t)st);
}

/* Applies up to FEED_BATCH entries; returns how many were taken (0: empty). */
static size_t drain_batch(dvw_feed *f) {
    dv_ring_entry e[FEED_BATCH];
    const uint8_t *hdrs[FEED_BATCH], *pays[FEED_BATCH];
    size_t lens[FEED_BATCH], n = 0, applied = 0;
    dv_status res[FEED_BATCH];
    if (dv_ring_poll(&f->ring, e, FEED_BATCH, &n) != DV_OK || n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        hdrs[i] = e[i].header;
        pays[i] = e[i].payload;
        lens[i] = e[i].len;
    }
    dv_apply *ap = dvw_par_applier(f->par);
    dv_apply_batch(ap, hdrs, pays, lens, n, res, &applied);
    uint32_t dups = 0, refused = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i] == DV_OK) continue;
        if (res[i] == DV_EDUPLICATE) {
            dups++;
            continue;
        }
        refused++;
        note_failure(f, ap, res[i], &e[i]);
    }
    dv_ring_release_read(&f->ring);
    uint64_t pos = dv_apply_position(ap);
    atomic_fetch_add(&f->w[W_APPLIED], (uint32_t)applied);
    atomic_fetch_add(&f->w[W_DUPLICATES], dups);
    atomic_fetch_add(&f->w[W_REFUSED], refused);
    atomic_store(&f->w[W_POSITION_HI], (uint32_t)(pos >> 32));
    atomic_store(&f->w[W_POSITION_LO], (uint32_t)pos);
    atomic_fetch_add(&f->w[W_CONSUMED], (uint32_t)n);
    __builtin_wasm_memory_atomic_notify((int32_t *)(uintptr_t)&f->w[W_CONSUMED], UINT32_MAX);
    return n;
}

/* Dispatcher: applies everything in the ring, then goes idle (see the file
 * comment for why no commit is missed). Returns the entries applied. */
DVW_EXPORT uint32_t dvw_feed_drain(dvw_feed *f) {
    if (!f) return 0;
    atomic_fetch_add(&f->w[W_DRAINS], 1u);
    uint32_t total = 0;
    for (;;) {
        size_t n;
        while ((n = drain_batch(f)) != 0) total += (uint32_t)n;
        atomic_store(&f->w[W_RUNNING], 0u);
        __builtin_wasm_memory_atomic_notify((int32_t *)(uintptr_t)&f->w[W_RUNNING], UINT32_MAX);
        dv_ring_entry e;
        if (dv_ring_peek(&f->ring, &e) != DV_OK) return total; /* empty: the next commit sends a message */
        uint32_t idle = 0u;
        if (!atomic_compare_exchange_strong(&f->w[W_RUNNING], &idle, 1u))
            return total; /* the producer swapped it first and sent a message */
    }
}

/* The first refusal's detail (valid once first_status != 0). */
DVW_EXPORT const char *dvw_feed_detail(const dvw_feed *f) { return f->detail; }

/* Forgets the first refusal (call while idle, after reading it). */
DVW_EXPORT void dvw_feed_clear(dvw_feed *f) {
    if (!f) return;
    f->detail[0] = '\0';
    atomic_store(&f->w[W_FAILED_SEQ_LO], 0u);
    atomic_store(&f->w[W_FAILED_SEQ_HI], 0u);
    atomic_store(&f->w[W_FIRST_STATUS], 0u);
}
#endif
