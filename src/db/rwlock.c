/*
 * rwlock.c -- the db's reader-writer lock (see rwlock.h for the word layout
 * and the fairness rules).
 *
 * Waiting is a bounded spin with a CPU pause, then the caller's yield hook
 * (sched_yield natively, nothing in a wasm worker that may not block); with
 * no hook it keeps spinning. Critical sections are short on both sides (one
 * search, one get; one delta or one parallel epoch of apply).
 */
#include "db/rwlock.h"

#include "db/db_internal.h"
#include "util/cpu.h"

#define RW_WRITER 0x80000000u
#define RW_WAIT1 0x00010000u
#define RW_WAITMASK 0x7FFF0000u
#define RW_READMASK 0x0000FFFFu
#define RW_SPINS 64u          /* pauses before the yield hook is called */
#define RW_POLITE_ROUNDS 256u /* writer rounds that let waiting readers in first */

static _Atomic uint32_t *word(const dv_db *db) {
    /* the lock word is the one mutable part of a db a reader touches */
    return (_Atomic uint32_t *)&((dv_db *)(uintptr_t)db)->rw;
}

static void backoff(uint32_t *spins, dv_yield_fn yield, void *ctx) {
    if (*spins < RW_SPINS || !yield) {
        (*spins)++;
        dv_cpu_pause();
        return;
    }
    yield(ctx);
}

void dv_db_read_lock(const dv_db *db, dv_yield_fn yield, void *ctx) {
    _Atomic uint32_t *w = word(db);
    uint32_t spins = 0;
    int waiting = 0;
    for (;;) {
        uint32_t s = atomic_load_explicit(w, memory_order_relaxed);
        if (!(s & RW_WRITER) && (s & RW_READMASK) != RW_READMASK) {
            uint32_t n = s + 1 - (waiting ? RW_WAIT1 : 0);
            if (atomic_compare_exchange_weak_explicit(w, &s, n, memory_order_acquire, memory_order_relaxed))
                return;
            continue;
        }
        if (!waiting && (s & RW_WAITMASK) != RW_WAITMASK) {
            atomic_fetch_add_explicit(w, RW_WAIT1, memory_order_relaxed);
            waiting = 1;
        }
        backoff(&spins, yield, ctx);
    }
}

void dv_db_read_unlock(const dv_db *db) { atomic_fetch_sub_explicit(word(db), 1, memory_order_release); }

void dv_db_write_lock(dv_db *db, dv_yield_fn yield, void *ctx) {
    _Atomic uint32_t *w = word(db);
    uint32_t spins = 0;
    /* readers queued behind the previous write go first (bounded) */
    for (uint32_t r = 0;
         r < RW_POLITE_ROUNDS && (atomic_load_explicit(w, memory_order_relaxed) & RW_WAITMASK); r++)
        backoff(&spins, yield, ctx);
    spins = 0;
    for (;;) {
        uint32_t s = atomic_load_explicit(w, memory_order_relaxed);
        if (!(s & RW_WRITER) && atomic_compare_exchange_weak_explicit(
                                    w, &s, s | RW_WRITER, memory_order_acquire, memory_order_relaxed))
            break;
        backoff(&spins, yield, ctx);
    }
    spins = 0;
    while (atomic_load_explicit(w, memory_order_acquire) & RW_READMASK) backoff(&spins, yield, ctx);
}

void dv_db_write_unlock(dv_db *db) { atomic_fetch_and_explicit(word(db), ~RW_WRITER, memory_order_release); }

int dv_db_readers_waiting(const dv_db *db) {
    return (atomic_load_explicit(word(db), memory_order_relaxed) & RW_WAITMASK) != 0;
}
