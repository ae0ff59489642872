/*
 * ring.c -- SPSC and MPSC rings of (64-byte header, payload) entries over a
 * caller-provided region. Layout: ring_layout.h and docs/RING.md.
 *
 * Invariants (all positions are 32-bit counters compared modulo 2^32):
 *   released <= read <= prod            (slot and payload counters alike)
 *   prod.slot - released.slot <= slot_count
 *   prod.pay  - released.pay  <= payload_size
 * An entry occupies one slot and the payload bytes [start, start + span)
 * where start is the producer's payload counter, moved up to the next
 * multiple of payload_size when the span would straddle the end of the
 * area (the skipped tail belongs to that entry and is freed with it). Every
 * counter and span is a multiple of 16, so payloads are 16-byte aligned.
 * A span is at most payload_size / 2, which guarantees that an entry always
 * fits in an empty ring whatever the skip.
 *
 * SPSC: the producer owns `prod` (committed end): reserve computes the next
 * place privately, commit writes the slot descriptor and publishes `prod`
 * with a release store (so unused reserved bytes go back to the ring). The
 * producer caches `released` and reloads it (acquire) only when the cache
 * says full; the consumer caches `prod` and reloads it only when it has
 * caught up. No read-modify-write at all on the hot path.
 *
 * MPSC: `prod` is a reservation cursor that producers advance with a CAS
 * (slot and payload in one 64-bit word). Commit writes the descriptor and
 * then stores seq = slot + 1 with release; the consumer reads slots in order
 * and takes one only when its seq says committed (acquire), so it never sees
 * a half-written entry and each producer's entries keep that producer's order.
 *
 * Reads of shared state are checked before use: a corrupted or hostile
 * region yields DV_ECORRUPT, never a pointer outside the region.
 * No allocation, no locks, no threads, no clocks: plain C11 atomics, so the
 * same code runs on wasm32 shared memory.
 */
#include <string.h>
#include <xxhash.h>

#include "deltavec.h"
#include "ring/ring_layout.h"

typedef struct ring_geom {
    uint32_t hdr_off, desc_off, pay_off;
    uint64_t total;
} ring_geom;

static int is_pow2(uint32_t x) { return x != 0 && (x & (x - 1)) == 0; }
static uint64_t round_page(uint64_t x) { return (x + DV_RING_PAGE - 1) & ~(uint64_t)(DV_RING_PAGE - 1); }
static uint32_t align16(uint32_t x) { return (x + 15u) & ~15u; }

/* Computes the layout of a configuration; returns 0 if the configuration is invalid. */
static int ring_geometry(uint32_t mode, uint32_t slots, uint32_t pay, ring_geom *g) {
    if (mode != DV_RING_SPSC && mode != DV_RING_MPSC) return 0;
    if (!is_pow2(slots) || slots < DV_RING_MIN_SLOTS || slots > DV_RING_MAX_SLOTS) return 0;
    if (!is_pow2(pay) || pay < DV_RING_MIN_PAYLOAD || pay > DV_RING_MAX_PAYLOAD) return 0;
    uint64_t hdr = DV_RING_PAGE;
    uint64_t desc = hdr + round_page((uint64_t)slots * DV_RING_HEADER_SIZE);
    uint64_t payoff = desc + round_page((uint64_t)slots * DV_RING_DESC_SIZE);
    uint64_t total = payoff + round_page(pay);
    if (total > SIZE_MAX) return 0; /* wasm32: the region must be addressable */
    g->hdr_off = (uint32_t)hdr;
    g->desc_off = (uint32_t)desc;
    g->pay_off = (uint32_t)payoff;
    g->total = total;
    return 1;
}

static dv_ring_ctrl *ring_ctrl(const dv_ring *r) { return (dv_ring_ctrl *)(void *)r->base_; }

static dv_ring_desc *ring_desc(const dv_ring *r, uint32_t slot) {
    return (dv_ring_desc *)(void *)(r->desc_ + (size_t)(slot & r->slot_mask_) * DV_RING_DESC_SIZE);
}

static uint64_t ctrl_checksum(const dv_ring_ctrl *c) {
    return XXH3_64bits((const unsigned char *)c + 8, offsetof(dv_ring_ctrl, checksum) - 8);
}

/* Raises the high-water mark to v if it is higher (rarely loops). */
static void ring_note_usage(dv_ring_ctrl *c, uint64_t v) {
    uint64_t cur = atomic_load_explicit(&c->high_water, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(&c->high_water, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

static void ring_fill_handle(dv_ring *r, unsigned char *base, uint32_t mode, uint32_t slots, uint32_t pay,
                             const ring_geom *g) {
    r->base_ = base;
    r->hdr_ = base + g->hdr_off;
    r->desc_ = base + g->desc_off;
    r->pay_ = base + g->pay_off;
    r->slot_mask_ = slots - 1;
    r->pay_mask_ = pay - 1;
    r->mode_ = mode;
    r->unused_ = 0;
}

void dv_ring_config_default(dv_ring_config *cfg, dv_ring_mode mode) {
    cfg->mode = mode;
    cfg->slot_count = 4096;
    cfg->payload_size = 1u << 20;
}

size_t dv_ring_required_size(const dv_ring_config *cfg) {
    ring_geom g;
    if (!cfg || !ring_geometry((uint32_t)cfg->mode, cfg->slot_count, cfg->payload_size, &g)) return 0;
    return (size_t)g.total;
}

dv_status dv_ring_init(void *mem, size_t size, const dv_ring_config *cfg, dv_ring *ring) {
    ring_geom g;
    if (!mem || !cfg || !ring || ((uintptr_t)mem & 63u) != 0) return DV_EINVAL;
    if (!ring_geometry((uint32_t)cfg->mode, cfg->slot_count, cfg->payload_size, &g)) return DV_EINVAL;
    if (size < g.total) return DV_EINVAL;
    unsigned char *base = mem;
    dv_ring_ctrl *c = mem;
    if (!atomic_is_lock_free(&c->prod) ||
        !atomic_is_lock_free(&((dv_ring_desc *)(void *)(base + g.desc_off))->seq)) {
        return DV_EUNSUPPORTED;
    }
    /* Plain stores first; the release store of magic publishes them to attachers. */
    memset(base, 0, DV_RING_PAGE);
    memset(base + g.desc_off, 0, (size_t)cfg->slot_count * DV_RING_DESC_SIZE);
    c->version = DV_RING_LAYOUT_VERSION;
    c->mode = (uint32_t)cfg->mode;
    c->slot_count = cfg->slot_count;
    c->payload_size = cfg->payload_size;
    c->total_size = g.total;
    c->hdr_off = g.hdr_off;
    c->desc_off = g.desc_off;
    c->pay_off = g.pay_off;
    c->checksum = ctrl_checksum(c);
    atomic_store_explicit(&c->prod, 0, memory_order_relaxed);
    atomic_store_explicit(&c->released, 0, memory_order_relaxed);
    atomic_store_explicit(&c->read, 0, memory_order_relaxed);
    atomic_store_explicit(&c->full_events, 0, memory_order_relaxed);
    atomic_store_explicit(&c->high_water, 0, memory_order_relaxed);
    atomic_store_explicit(&c->polled_entries, 0, memory_order_relaxed);
    atomic_store_explicit(&c->polled_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&c->magic, DV_RING_MAGIC, memory_order_release);
    ring_fill_handle(ring, base, c->mode, c->slot_count, c->payload_size, &g);
    return DV_OK;
}

/* The positions of an attached ring must satisfy the invariants at the top of the file. */
static int positions_consistent(uint64_t prod, uint64_t read, uint64_t rel, uint32_t slots, uint32_t pay) {
    uint32_t held_slots = dv_ring_slot(prod) - dv_ring_slot(rel);
    uint32_t held_bytes = dv_ring_pay(prod) - dv_ring_pay(rel);
    if (held_slots > slots || held_bytes > pay) return 0;
    if (dv_ring_slot(read) - dv_ring_slot(rel) > held_slots) return 0;
    if (dv_ring_pay(read) - dv_ring_pay(rel) > held_bytes) return 0;
    return ((dv_ring_pay(prod) | dv_ring_pay(read) | dv_ring_pay(rel)) & 15u) == 0;
}

dv_status dv_ring_attach(void *mem, size_t size, dv_ring *ring) {
    ring_geom g;
    if (!mem || !ring || ((uintptr_t)mem & 63u) != 0 || size < DV_RING_PAGE) return DV_EINVAL;
    dv_ring_ctrl *c = mem;
    if (atomic_load_explicit(&c->magic, memory_order_acquire) != DV_RING_MAGIC) return DV_ECORRUPT;
    if (c->version != DV_RING_LAYOUT_VERSION) return DV_EVERSION;
    if (c->checksum != ctrl_checksum(c)) return DV_ECORRUPT;
    if (c->reserved0 != 0 || c->reserved1 != 0) return DV_ECORRUPT;
    if (!ring_geometry(c->mode, c->slot_count, c->payload_size, &g)) return DV_ECORRUPT;
    if (c->hdr_off != g.hdr_off || c->desc_off != g.desc_off || c->pay_off != g.pay_off ||
        c->total_size != g.total) {
        return DV_ECORRUPT;
    }
    if (size < g.total) return DV_EINVAL;
    uint64_t rel = atomic_load_explicit(&c->released, memory_order_acquire);
    uint64_t read = atomic_load_explicit(&c->read, memory_order_relaxed);
    uint64_t prod = atomic_load_explicit(&c->prod, memory_order_acquire);
    if (!positions_consistent(prod, read, rel, c->slot_count, c->payload_size)) return DV_ECORRUPT;
    ring_fill_handle(ring, mem, c->mode, c->slot_count, c->payload_size, &g);
    return DV_OK;
}

/* ---- producer ---------------------------------------------------------------------------------- */

/* Payload counter where a span placed at `pay` begins: pay itself, or the next wrap point. */
static uint32_t place(const dv_ring *r, uint32_t pay, uint32_t span) {
    uint32_t off = pay & r->pay_mask_;
    return off + span > r->pay_mask_ + 1 ? pay + (r->pay_mask_ + 1 - off) : pay;
}

/* Whether an entry ending at payload counter `end` in slot `slot` fits given the consumer's `rel`. */
static int fits(const dv_ring *r, uint32_t slot, uint32_t end, uint64_t rel) {
    return slot - dv_ring_slot(rel) <= r->slot_mask_ && end - dv_ring_pay(rel) <= r->pay_mask_ + 1;
}

static void fill_reservation(const dv_ring *r, dv_ring_reservation *res, uint32_t slot, uint32_t start,
                             uint32_t span, size_t cap) {
    res->header = r->hdr_ + (size_t)(slot & r->slot_mask_) * DV_RING_HEADER_SIZE;
    res->payload = r->pay_ + (start & r->pay_mask_);
    res->capacity = (uint32_t)cap;
    res->slot_ = slot;
    res->start_ = start;
    res->span_ = span;
}

/* SPSC: where the next entry of `span` bytes goes (its slot and payload
 * start), or DV_EFULL. Reads the consumer's position only when the cached
 * one says full. Always inlined: it is most of push_spsc, the SPSC hot
 * path, and as a call its outputs went through memory. */
static inline __attribute__((always_inline)) dv_status place_spsc(const dv_ring *r, uint32_t span,
                                                                  uint32_t *slot, uint32_t *start) {
    dv_ring_ctrl *c = ring_ctrl(r);
    uint64_t p = atomic_load_explicit(&c->prod, memory_order_relaxed); /* ours alone */
    *slot = dv_ring_slot(p);
    *start = place(r, dv_ring_pay(p), span);
    if (!fits(r, *slot, *start + span, c->cons_cache)) {
        uint64_t rel = atomic_load_explicit(&c->released, memory_order_acquire);
        c->cons_cache = rel;
        if (!fits(r, *slot, *start + span, rel)) {
            atomic_fetch_add_explicit(&c->full_events, 1, memory_order_relaxed);
            ring_note_usage(c, (uint32_t)(dv_ring_pay(p) - dv_ring_pay(rel)));
            return DV_EFULL;
        }
    }
    return DV_OK;
}

static dv_status reserve_spsc(const dv_ring *r, size_t cap, uint32_t span, dv_ring_reservation *res) {
    uint32_t slot, start;
    dv_status st = place_spsc(r, span, &slot, &start);
    if (st == DV_OK) fill_reservation(r, res, slot, start, span, cap);
    return st;
}

static dv_status reserve_mpsc(const dv_ring *r, size_t cap, uint32_t span, dv_ring_reservation *res) {
    dv_ring_ctrl *c = ring_ctrl(r);
    uint64_t cur = atomic_load_explicit(&c->prod, memory_order_relaxed);
    for (;;) {
        /* Acquire: our writes into the claimed space come after the consumer's reads of it. */
        uint64_t rel = atomic_load_explicit(&c->released, memory_order_acquire);
        uint32_t slot = dv_ring_slot(cur);
        uint32_t start = place(r, dv_ring_pay(cur), span);
        if (!fits(r, slot, start + span, rel)) {
            /* A stale cursor can look full (or behind rel): recheck against the current one. */
            uint64_t now = atomic_load_explicit(&c->prod, memory_order_relaxed);
            if (now != cur) {
                cur = now;
                continue;
            }
            atomic_fetch_add_explicit(&c->full_events, 1, memory_order_relaxed);
            ring_note_usage(c, (uint32_t)(dv_ring_pay(cur) - dv_ring_pay(rel)));
            return DV_EFULL;
        }
        /* Relaxed is enough: the CAS only arbitrates between producers; the space was proven free
         * by the acquire load above, and the consumer synchronises on the slot's seq. */
        if (atomic_compare_exchange_weak_explicit(&c->prod, &cur, dv_ring_pack(slot + 1, start + span),
                                                  memory_order_relaxed, memory_order_relaxed)) {
            ring_note_usage(c, (uint32_t)(start + span - dv_ring_pay(rel)));
            fill_reservation(r, res, slot, start, span, cap);
            return DV_OK;
        }
    }
}

dv_status dv_ring_reserve(const dv_ring *ring, size_t payload_max, dv_ring_reservation *res) {
    if (!ring || !ring->base_ || !res) return DV_EINVAL;
    if (payload_max > (ring->pay_mask_ + 1) / 2) return DV_ETOOBIG;
    uint32_t span = align16((uint32_t)payload_max);
    if (ring->mode_ == DV_RING_SPSC) return reserve_spsc(ring, payload_max, span, res);
    return reserve_mpsc(ring, payload_max, span, res);
}

/* Writes the descriptor of a reserved slot (before it is published). */
static void write_desc(dv_ring_desc *d, uint32_t start, uint32_t len, uint32_t span) {
    d->start = start;
    d->len = len;
    d->span = span;
}

dv_status dv_ring_commit(const dv_ring *ring, dv_ring_reservation *res, size_t len) {
    if (!ring || !ring->base_ || !res || len > res->capacity) return DV_EINVAL;
    dv_ring_ctrl *c = ring_ctrl(ring);
    dv_ring_desc *d = ring_desc(ring, res->slot_);
    if (ring->mode_ == DV_RING_SPSC) {
        uint64_t p = atomic_load_explicit(&c->prod, memory_order_relaxed);
        if (dv_ring_slot(p) != res->slot_) return DV_ESTATE;
        uint32_t span = align16((uint32_t)len); /* give back what was reserved and not used */
        write_desc(d, res->start_, (uint32_t)len, span);
        atomic_store_explicit(&c->prod, dv_ring_pack(res->slot_ + 1, res->start_ + span),
                              memory_order_release);
        return DV_OK;
    }
    if (atomic_load_explicit(&d->seq, memory_order_relaxed) == res->slot_ + 1) return DV_ESTATE;
    write_desc(d, res->start_, (uint32_t)len, res->span_);
    atomic_store_explicit(&d->seq, res->slot_ + 1, memory_order_release);
    return DV_OK;
}

dv_status dv_ring_abort(const dv_ring *ring, dv_ring_reservation *res) {
    if (!ring || !ring->base_ || !res) return DV_EINVAL;
    if (ring->mode_ == DV_RING_SPSC) return DV_OK; /* nothing was published */
    dv_ring_desc *d = ring_desc(ring, res->slot_);
    if (atomic_load_explicit(&d->seq, memory_order_relaxed) == res->slot_ + 1) return DV_ESTATE;
    write_desc(d, res->start_, DV_RING_VOID, res->span_);
    atomic_store_explicit(&d->seq, res->slot_ + 1, memory_order_release);
    return DV_OK;
}

/* The 64-byte header in 8-byte words. A caller has usually just written
 * the header field by field, and a 16-byte load over fresh 8-byte stores
 * cannot take its bytes from the store buffer: it waits for them to reach
 * the cache (a store-forwarding stall: 70% of push's samples in
 * bench_ring --single at 64-byte payloads). A word load that matches a
 * word store forwards. */
static inline void copy_header(uint8_t *dst, const uint8_t *src) {
    for (size_t i = 0; i < DV_RING_HEADER_SIZE; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
#if defined(__GNUC__)
        __asm__("" : "+r"(w)); /* or the compiler merges the words into 16-byte moves again */
#endif
        memcpy(dst + i, &w, 8);
    }
}

/* A payload of up to 64 bytes copied inline (two overlapping fixed-size
 * moves) rather than through a call to the C library's memcpy, which was
 * the other half of a small push. */
static inline void copy_payload(uint8_t *dst, const uint8_t *src, uint32_t len) {
    if (len >= 16 && len <= 32) {
        memcpy(dst, src, 16);
        memcpy(dst + len - 16, src + len - 16, 16);
    } else if (len > 32 && len <= 64) {
        memcpy(dst, src, 32);
        memcpy(dst + len - 32, src + len - 32, 32);
    } else if (len > 0) {
        memcpy(dst, src, len);
    }
}

/* SPSC push in one step: place, copy, describe, publish. The same work as
 * reserve + commit without handing a reservation out and checking it back. */
static dv_status push_spsc(const dv_ring *r, const void *header, const void *payload, uint32_t len) {
    uint32_t span = align16(len), slot, start;
    dv_status st = place_spsc(r, span, &slot, &start);
    if (st != DV_OK) return st;
    copy_header(r->hdr_ + (size_t)(slot & r->slot_mask_) * DV_RING_HEADER_SIZE, header);
    copy_payload(r->pay_ + (start & r->pay_mask_), payload, len);
    write_desc(ring_desc(r, slot), start, len, span);
    atomic_store_explicit(&ring_ctrl(r)->prod, dv_ring_pack(slot + 1, start + span), memory_order_release);
    return DV_OK;
}

dv_status dv_ring_push(const dv_ring *ring, const void *header, const void *payload, size_t len) {
    dv_ring_reservation res;
    if (!header || (len > 0 && !payload)) return DV_EINVAL;
    if (ring && ring->base_ && ring->mode_ == DV_RING_SPSC) {
        if (len > (ring->pay_mask_ + 1) / 2) return DV_ETOOBIG;
        return push_spsc(ring, header, payload, (uint32_t)len);
    }
    dv_status st = dv_ring_reserve(ring, len, &res);
    if (st != DV_OK) return st;
    memcpy(res.header, header, DV_RING_HEADER_SIZE);
    if (len > 0) memcpy(res.payload, payload, len);
    return dv_ring_commit(ring, &res, len);
}

/* ---- consumer ---------------------------------------------------------------------------------- */

/*
 * Whether the slot at read position rd is committed. SPSC compares with the
 * cached producer position, reloading (acquire) only when caught up; the
 * reloaded value is checked against the invariants. MPSC reads the slot's
 * seq (acquire). Returns DV_OK, DV_EEMPTY or DV_ECORRUPT.
 */
static dv_status slot_ready(const dv_ring *r, uint64_t rd, uint64_t rel, uint64_t *limit) {
    dv_ring_ctrl *c = ring_ctrl(r);
    if (r->mode_ == DV_RING_MPSC) {
        dv_ring_desc *d = ring_desc(r, dv_ring_slot(rd));
        *limit = 0;
        return atomic_load_explicit(&d->seq, memory_order_acquire) == dv_ring_slot(rd) + 1 ? DV_OK
                                                                                           : DV_EEMPTY;
    }
    if (dv_ring_slot(c->prod_cache) == dv_ring_slot(rd)) {
        uint64_t p = atomic_load_explicit(&c->prod, memory_order_acquire);
        if (!positions_consistent(p, rd, rel, r->slot_mask_ + 1, r->pay_mask_ + 1)) return DV_ECORRUPT;
        c->prod_cache = p;
        ring_note_usage(c, (uint32_t)(dv_ring_pay(p) - dv_ring_pay(rel)));
        if (dv_ring_slot(p) == dv_ring_slot(rd)) return DV_EEMPTY;
    }
    *limit = c->prod_cache;
    return DV_OK;
}

/*
 * Decodes the committed entry at read position rd into *e and its successor
 * position into *next. The descriptor lives in shared memory: every field is
 * checked so the pointers handed out stay inside the payload area.
 * Sets *is_void for an aborted MPSC slot.
 */
static dv_status entry_at(const dv_ring *r, uint64_t rd, uint64_t rel, dv_ring_entry *e, uint64_t *next,
                          int *is_void) {
    uint64_t limit;
    dv_status st = slot_ready(r, rd, rel, &limit);
    if (st != DV_OK) return st;
    const dv_ring_desc *d = ring_desc(r, dv_ring_slot(rd));
    uint32_t cap = r->pay_mask_ + 1;
    uint32_t start = d->start, len = d->len, span = d->span;
    uint32_t gap = start - dv_ring_pay(rd);
    if (gap != 0 && ((start & r->pay_mask_) != 0 || gap != cap - (dv_ring_pay(rd) & r->pay_mask_))) {
        return DV_ECORRUPT;
    }
    if ((span & 15u) != 0 || span > cap / 2 || (start & r->pay_mask_) + span > cap) return DV_ECORRUPT;
    if (len != DV_RING_VOID && len > span) return DV_ECORRUPT;
    uint32_t end = start + span;
    if (end - dv_ring_pay(rel) > cap) return DV_ECORRUPT;
    if (r->mode_ == DV_RING_SPSC && end - dv_ring_pay(rd) > dv_ring_pay(limit) - dv_ring_pay(rd)) {
        return DV_ECORRUPT;
    }
    *is_void = len == DV_RING_VOID;
    e->header = r->hdr_ + (size_t)(dv_ring_slot(rd) & r->slot_mask_) * DV_RING_HEADER_SIZE;
    e->payload = r->pay_ + (start & r->pay_mask_);
    e->len = *is_void ? 0 : len;
    e->slot_ = dv_ring_slot(rd);
    *next = dv_ring_pack(dv_ring_slot(rd) + 1, end);
    return DV_OK;
}

dv_status dv_ring_peek(const dv_ring *ring, dv_ring_entry *entry) {
    if (!ring || !ring->base_ || !entry) return DV_EINVAL;
    dv_ring_ctrl *c = ring_ctrl(ring);
    uint64_t rd = atomic_load_explicit(&c->read, memory_order_relaxed);
    uint64_t rel = atomic_load_explicit(&c->released, memory_order_relaxed);
    for (;;) {
        uint64_t next;
        int is_void;
        dv_status st = entry_at(ring, rd, rel, entry, &next, &is_void);
        if (st != DV_OK || !is_void) return st;
        rd = next; /* peek skips aborted slots without consuming them */
    }
}

dv_status dv_ring_poll(const dv_ring *ring, dv_ring_entry *out, size_t max, size_t *n) {
    if (n) *n = 0;
    if (!ring || !ring->base_ || !out || max == 0 || !n) return DV_EINVAL;
    dv_ring_ctrl *c = ring_ctrl(ring);
    uint64_t rd = atomic_load_explicit(&c->read, memory_order_relaxed);
    uint64_t rel = atomic_load_explicit(&c->released, memory_order_relaxed);
    size_t got = 0;
    uint64_t bytes = 0;
    dv_status st = DV_OK;
    while (got < max) {
        uint64_t next;
        int is_void;
        st = entry_at(ring, rd, rel, &out[got], &next, &is_void);
        if (st != DV_OK) break;
        if (is_void && rd == rel) { /* nothing held before it: free the aborted slot at once */
            rel = next;
            atomic_store_explicit(&c->released, rel, memory_order_release);
        }
        rd = next;
        if (!is_void) bytes += out[got++].len;
    }
    atomic_store_explicit(&c->read, rd, memory_order_relaxed);
    if (got == 0) return st == DV_OK ? DV_EEMPTY : st;
    *n = got;
    atomic_store_explicit(&c->polled_entries,
                          atomic_load_explicit(&c->polled_entries, memory_order_relaxed) + got,
                          memory_order_relaxed);
    atomic_store_explicit(&c->polled_bytes,
                          atomic_load_explicit(&c->polled_bytes, memory_order_relaxed) + bytes,
                          memory_order_relaxed);
    return DV_OK;
}

dv_status dv_ring_release(const dv_ring *ring, const dv_ring_entry *entry) {
    if (!ring || !ring->base_ || !entry) return DV_EINVAL;
    dv_ring_ctrl *c = ring_ctrl(ring);
    uint64_t rd = atomic_load_explicit(&c->read, memory_order_relaxed);
    uint64_t rel = atomic_load_explicit(&c->released, memory_order_relaxed);
    uint32_t pos = entry->slot_;
    if (pos - dv_ring_slot(rel) >= dv_ring_slot(rd) - dv_ring_slot(rel)) {
        /* Not between released and read: either released already (fine) or never read. */
        return dv_ring_slot(rel) - 1u - pos < 0x80000000u ? DV_OK : DV_EINVAL;
    }
    const dv_ring_desc *d = ring_desc(ring, pos);
    uint64_t upto = dv_ring_pack(pos + 1, d->start + d->span);
    /* Aborted slots right after it were read already: free them too, or they would pin the ring. */
    while (dv_ring_slot(upto) != dv_ring_slot(rd)) {
        d = ring_desc(ring, dv_ring_slot(upto));
        if (d->len != DV_RING_VOID) break;
        upto = dv_ring_pack(dv_ring_slot(upto) + 1, d->start + d->span);
    }
    atomic_store_explicit(&c->released, upto, memory_order_release);
    return DV_OK;
}

dv_status dv_ring_release_read(const dv_ring *ring) {
    if (!ring || !ring->base_) return DV_EINVAL;
    dv_ring_ctrl *c = ring_ctrl(ring);
    uint64_t rd = atomic_load_explicit(&c->read, memory_order_relaxed);
    atomic_store_explicit(&c->released, rd, memory_order_release);
    return DV_OK;
}

dv_status dv_ring_stats_get(const dv_ring *ring, dv_ring_stats *s) {
    if (!ring || !ring->base_ || !s) return DV_EINVAL;
    dv_ring_ctrl *c = ring_ctrl(ring);
    uint64_t rel = atomic_load_explicit(&c->released, memory_order_acquire);
    uint64_t prod = atomic_load_explicit(&c->prod, memory_order_acquire);
    uint32_t cap = ring->pay_mask_ + 1;
    uint32_t used = dv_ring_pay(prod) - dv_ring_pay(rel);
    uint32_t held = dv_ring_slot(prod) - dv_ring_slot(rel);
    if (used > cap) used = cap; /* the two loads are not one snapshot */
    if (held > ring->slot_mask_ + 1) held = ring->slot_mask_ + 1;
    s->mode = (dv_ring_mode)ring->mode_;
    s->slot_count = ring->slot_mask_ + 1;
    s->payload_size = cap;
    s->entries = held;
    s->bytes_used = used;
    s->bytes_free = cap - used;
    s->high_water = atomic_load_explicit(&c->high_water, memory_order_relaxed);
    s->full_events = atomic_load_explicit(&c->full_events, memory_order_relaxed);
    s->polled_entries = atomic_load_explicit(&c->polled_entries, memory_order_relaxed);
    s->polled_bytes = atomic_load_explicit(&c->polled_bytes, memory_order_relaxed);
    return DV_OK;
}
