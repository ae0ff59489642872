/*
 * test_ring.c -- the SPSC and MPSC rings (src/ring): layout, reserve/commit,
 * wrap-around, backpressure, attach validation, corruption, and threaded
 * stress runs checking no loss, no duplicate, no reorder per producer and
 * intact payload bytes. Threads (pthreads) exist only here, never in src/ring.
 *
 * Payload bytes and the 64-byte header of every entry are derived from
 * (producer, seq), so the consumer can verify each one independently.
 * Sanitizer builds run fewer entries (same code paths).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, in support/backoff.h */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "deltavec.h"
#include "ring/ring_layout.h"
#include "support/backoff.h"
#include "support/sanitized.h"

/* TSan runs a tenth of the plain size: it is the build looped 200 times (docs/CONCURRENCY.md). */
#define SPSC_STRESS_ENTRIES (TEST_TSAN ? 200000u : TEST_SANITIZED ? 1000000u : 2000000u)
#define MPSC_STRESS_ENTRIES (TEST_TSAN ? 120000u : TEST_SANITIZED ? 600000u : 1200000u)

/* ---- helpers ----------------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static void *region_alloc(const dv_ring_config *cfg, size_t *size) {
    *size = dv_ring_required_size(cfg);
    assert_true(*size > 0);
    void *mem = aligned_alloc(DV_RING_PAGE, *size);
    assert_non_null(mem);
    memset(mem, 0xA5, *size); /* init must not rely on zeroed memory */
    return mem;
}

static void cfg_make(dv_ring_config *cfg, dv_ring_mode mode, uint32_t slots, uint32_t payload) {
    cfg->mode = mode;
    cfg->slot_count = slots;
    cfg->payload_size = payload;
}

/* Fills the bytes of entry (producer, seq): header and payload are both derived from the key. */
static void fill_bytes(unsigned char *dst, size_t n, uint64_t key) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = mix64(key + i);
        memcpy(dst + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = mix64(key + i);
        memcpy(dst + i, &w, n - i);
    }
}

static int check_bytes(const unsigned char *src, size_t n, uint64_t key) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = mix64(key + i);
        if (memcmp(src + i, &w, 8) != 0) return 0;
    }
    if (i < n) {
        uint64_t w = mix64(key + i);
        if (memcmp(src + i, &w, n - i) != 0) return 0;
    }
    return 1;
}

static uint64_t entry_key(uint32_t producer, uint64_t seq) {
    return ((uint64_t)producer << 48) ^ (seq * 0x9E37ull);
}

/* Header: producer (u32), pad (u32), seq (u64), len (u64), then 40 bytes derived from the key. */
static void make_header(unsigned char h[64], uint32_t producer, uint64_t seq, uint64_t len) {
    memset(h, 0, 64);
    memcpy(h, &producer, 4);
    memcpy(h + 8, &seq, 8);
    memcpy(h + 16, &len, 8);
    fill_bytes(h + 24, 40, ~entry_key(producer, seq));
}

/* Checks header and payload of an entry; returns its producer and seq. */
static void check_entry(const dv_ring_entry *e, uint32_t *producer, uint64_t *seq) {
    const unsigned char *h = e->header;
    uint64_t len;
    memcpy(producer, h, 4);
    memcpy(seq, h + 8, 8);
    memcpy(&len, h + 16, 8);
    assert_int_equal(len, e->len);
    assert_true(check_bytes(h + 24, 40, ~entry_key(*producer, *seq)));
    assert_int_equal((uintptr_t)e->payload & 15u, 0);
    assert_true(check_bytes(e->payload, e->len, entry_key(*producer, *seq)));
}

static dv_status push_entry(const dv_ring *r, uint32_t producer, uint64_t seq, size_t len) {
    unsigned char h[64];
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    make_header(h, producer, seq, len);
    fill_bytes(p, len, entry_key(producer, seq));
    dv_status st = dv_ring_push(r, h, p, len);
    free(p);
    return st;
}

static void poll_one_checked(const dv_ring *r, uint32_t want_producer, uint64_t want_seq, dv_ring_entry *e) {
    size_t n = 0;
    assert_int_equal(dv_ring_poll(r, e, 1, &n), DV_OK);
    assert_int_equal(n, 1);
    uint32_t p;
    uint64_t s;
    check_entry(e, &p, &s);
    assert_int_equal(p, want_producer);
    assert_int_equal(s, want_seq);
}

static const dv_ring_mode MODES[2] = {DV_RING_SPSC, DV_RING_MPSC};

/* ---- layout and arguments ---------------------------------------------------------------------- */

static void test_required_size_follows_page_layout(void **state) {
    (void)state;
    dv_ring_config cfg;
    dv_ring_config_default(&cfg, DV_RING_SPSC);
    assert_int_equal(cfg.slot_count, 4096);
    /* control page + 4 pages of headers + 1 page of descriptors + 16 pages of payload */
    assert_int_equal(dv_ring_required_size(&cfg), (size_t)(1 + 4 + 1 + 16) * DV_RING_PAGE);
    cfg_make(&cfg, DV_RING_MPSC, 2, 256); /* tiny areas still start on pages */
    assert_int_equal(dv_ring_required_size(&cfg), (size_t)4 * DV_RING_PAGE);
    cfg_make(&cfg, DV_RING_SPSC, 3, 1024);
    assert_int_equal(dv_ring_required_size(&cfg), 0);
    cfg_make(&cfg, DV_RING_SPSC, 16, 1000);
    assert_int_equal(dv_ring_required_size(&cfg), 0);
    cfg_make(&cfg, DV_RING_SPSC, 16, 128);
    assert_int_equal(dv_ring_required_size(&cfg), 0);
    cfg_make(&cfg, (dv_ring_mode)7, 16, 1024);
    assert_int_equal(dv_ring_required_size(&cfg), 0);
    assert_int_equal(dv_ring_required_size(NULL), 0);
}

static void test_init_rejects_bad_arguments(void **state) {
    (void)state;
    dv_ring_config cfg;
    size_t size;
    dv_ring r;
    cfg_make(&cfg, DV_RING_SPSC, 16, 1024);
    unsigned char *mem = region_alloc(&cfg, &size);
    assert_int_equal(dv_ring_init(NULL, size, &cfg, &r), DV_EINVAL);
    assert_int_equal(dv_ring_init(mem, size, NULL, &r), DV_EINVAL);
    assert_int_equal(dv_ring_init(mem, size, &cfg, NULL), DV_EINVAL);
    assert_int_equal(dv_ring_init(mem + 16, size - 64, &cfg, &r), DV_EINVAL);
    assert_int_equal(dv_ring_init(mem, size - 1, &cfg, &r), DV_EINVAL);
    cfg.slot_count = 17;
    assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_EINVAL);
    free(mem);
}

/* ---- single-threaded behaviour ----------------------------------------------------------------- */

/* A fresh ring of `slots` entries and `payload` bytes in its own region (free() it). */
static void *ring_make(dv_ring_mode mode, uint32_t slots, uint32_t payload, dv_ring *r) {
    dv_ring_config cfg;
    size_t size;
    cfg_make(&cfg, mode, slots, payload);
    void *mem = region_alloc(&cfg, &size);
    assert_int_equal(dv_ring_init(mem, size, &cfg, r), DV_OK);
    return mem;
}

static void test_push_poll_roundtrip_keeps_all_header_bytes(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        dv_ring r;
        void *mem = ring_make(MODES[m], 64, 4096, &r);
        dv_ring_entry e;
        assert_int_equal(dv_ring_peek(&r, &e), DV_EEMPTY);
        for (uint64_t s = 0; s < 10; s++) assert_int_equal(push_entry(&r, 1, s, (size_t)(s * 37)), DV_OK);
        assert_int_equal(dv_ring_peek(&r, &e), DV_OK);
        assert_int_equal(e.len, 0);
        for (uint64_t s = 0; s < 10; s++) {
            poll_one_checked(&r, 1, s, &e);
            assert_int_equal(dv_ring_release(&r, &e), DV_OK);
        }
        assert_int_equal(dv_ring_peek(&r, &e), DV_EEMPTY);
        size_t n = 5;
        assert_int_equal(dv_ring_poll(&r, &e, 1, &n), DV_EEMPTY);
        assert_int_equal(n, 0);
        dv_ring_stats st;
        assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
        assert_int_equal(st.entries, 0);
        assert_int_equal(st.bytes_used, 0);
        assert_int_equal(st.polled_entries, 10);
        assert_int_equal(st.polled_bytes, 37 * 45);
        free(mem);
    }
}

/* Every payload length up to 80 bytes (push copies those of 16..64 bytes
 * inline, in overlapping moves): each entry reads back whole, and the bytes
 * past its end in the 16-byte span stay as they were. */
static void test_push_every_small_length_round_trips(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        dv_ring r;
        void *mem = ring_make(MODES[m], 128, 8192, &r);
        for (uint64_t len = 0; len <= 80; len++) {
            assert_int_equal(push_entry(&r, 6, len, (size_t)len), DV_OK);
            dv_ring_entry e;
            poll_one_checked(&r, 6, len, &e);
            assert_int_equal(e.len, len);
            for (size_t k = (size_t)len; k < (((size_t)len + 15) & ~(size_t)15); k++)
                assert_int_equal(((const uint8_t *)e.payload)[k],
                                 0xA5); /* as region_alloc left it: no entry reached here */
            assert_int_equal(dv_ring_release(&r, &e), DV_OK);
        }
        free(mem);
    }
}

static void test_payloads_wrap_contiguous_and_aligned(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        dv_ring_config cfg;
        size_t size;
        dv_ring r;
        cfg_make(&cfg, MODES[m], 8, 1024);
        unsigned char *mem = region_alloc(&cfg, &size);
        assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
        const unsigned char *area = mem + ((dv_ring_ctrl *)(void *)mem)->pay_off;
        int wrapped = 0;
        const unsigned char *last = NULL;
        for (uint64_t s = 0; s < 500; s++) {
            size_t len = (size_t)(mix64(s) % 513); /* 0..512 = up to half the area */
            assert_int_equal(push_entry(&r, 2, s, len), DV_OK);
            dv_ring_entry e;
            poll_one_checked(&r, 2, s, &e);
            const unsigned char *p = e.payload;
            assert_true(p >= area && p + e.len <= area + 1024);
            if (last && p < last) wrapped++;
            last = p;
            assert_int_equal(dv_ring_release(&r, &e), DV_OK);
            dv_ring_stats st;
            assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
            assert_int_equal(st.bytes_used, 0); /* skipped tails are freed with their entry */
        }
        assert_true(wrapped > 50);
        free(mem);
    }
}

static void test_spsc_commit_gives_back_unused_bytes(void **state) {
    (void)state;
    dv_ring_config cfg;
    size_t size;
    dv_ring r;
    dv_ring_reservation res;
    cfg_make(&cfg, DV_RING_SPSC, 16, 1024);
    void *mem = region_alloc(&cfg, &size);
    assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
    for (int i = 0; i < 8; i++) { /* 8 x 512 reserved would never fit; committed sizes do */
        assert_int_equal(dv_ring_reserve(&r, 512, &res), DV_OK);
        assert_int_equal(res.capacity, 512);
        memset(res.header, i, 64);
        memset(res.payload, i, 512);
        assert_int_equal(dv_ring_commit(&r, &res, 20), DV_OK);
    }
    dv_ring_stats st;
    assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
    assert_int_equal(st.entries, 8);
    assert_int_equal(st.bytes_used, 8 * 32);
    assert_int_equal(st.full_events, 0);
    free(mem);
}

static void test_mpsc_commit_keeps_reserved_span(void **state) {
    (void)state;
    dv_ring_config cfg;
    size_t size;
    dv_ring r;
    dv_ring_reservation res;
    cfg_make(&cfg, DV_RING_MPSC, 16, 1024);
    void *mem = region_alloc(&cfg, &size);
    assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dv_ring_reserve(&r, 512, &res), DV_OK);
        assert_int_equal(dv_ring_commit(&r, &res, 20), DV_OK);
    }
    assert_int_equal(dv_ring_reserve(&r, 512, &res), DV_EFULL);
    dv_ring_entry e[2];
    size_t n;
    assert_int_equal(dv_ring_poll(&r, e, 2, &n), DV_OK);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].len, 20);
    assert_int_equal(dv_ring_release(&r, &e[1]), DV_OK);
    assert_int_equal(dv_ring_reserve(&r, 512, &res), DV_OK);
    free(mem);
}

static void fill_until_full(const dv_ring *r, size_t len, uint64_t *count) {
    dv_status st;
    *count = 0;
    while ((st = push_entry(r, 3, *count, len)) == DV_OK) (*count)++;
    assert_int_equal(st, DV_EFULL);
}

static void test_full_ring_refuses_and_loses_nothing(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        for (int by_slots = 0; by_slots < 2; by_slots++) {
            dv_ring_config cfg;
            size_t size;
            dv_ring r;
            cfg_make(&cfg, MODES[m], 32, 4096);
            void *mem = region_alloc(&cfg, &size);
            assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
            size_t len = by_slots ? 0 : 200; /* 0: slots run out first; 200 (208 held): bytes do */
            uint64_t k;
            fill_until_full(&r, len, &k);
            assert_int_equal(k, by_slots ? 32 : 4096 / 208);
            dv_ring_stats st;
            assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
            assert_int_equal(st.full_events, 1);
            assert_int_equal(st.entries, k);
            assert_true(st.high_water >= st.bytes_used);
            assert_int_equal(push_entry(&r, 3, k, len), DV_EFULL); /* still full, still nothing lost */
            assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
            assert_int_equal(st.full_events, 2);
            assert_int_equal(st.entries, k);
            dv_ring_entry e;
            for (uint64_t s = 0; s < k; s++) poll_one_checked(&r, 3, s, &e);
            size_t n;
            assert_int_equal(dv_ring_poll(&r, &e, 1, &n), DV_EEMPTY);
            assert_int_equal(push_entry(&r, 3, k, len), DV_EFULL); /* read is not released */
            assert_int_equal(dv_ring_release_read(&r), DV_OK);
            assert_int_equal(push_entry(&r, 3, k, len), DV_OK);
            poll_one_checked(&r, 3, k, &e);
            free(mem);
        }
    }
}

static void test_reserve_beyond_half_payload_is_toobig(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        dv_ring_config cfg;
        size_t size;
        dv_ring r;
        dv_ring_reservation res;
        cfg_make(&cfg, MODES[m], 16, 1024);
        void *mem = region_alloc(&cfg, &size);
        assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
        assert_int_equal(dv_ring_reserve(&r, 513, &res), DV_ETOOBIG);
        assert_int_equal(dv_ring_reserve(&r, SIZE_MAX, &res), DV_ETOOBIG);
        /* Half the area always fits an empty ring, whatever the current offset. */
        for (int i = 0; i < 20; i++) {
            dv_ring_entry e;
            assert_int_equal(push_entry(&r, 4, (uint64_t)i, 48 + 16 * (size_t)i), DV_OK);
            poll_one_checked(&r, 4, (uint64_t)i, &e);
            assert_int_equal(dv_ring_release(&r, &e), DV_OK);
            assert_int_equal(dv_ring_reserve(&r, 512, &res), DV_OK);
            assert_int_equal(dv_ring_commit(&r, &res, 0), DV_OK);
            size_t n;
            assert_int_equal(dv_ring_poll(&r, &e, 1, &n), DV_OK);
            assert_int_equal(dv_ring_release(&r, &e), DV_OK);
        }
        dv_ring_stats st;
        assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
        assert_int_equal(st.full_events, 0);
        free(mem);
    }
}

static void test_commit_checks_length_and_state(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        dv_ring_config cfg;
        size_t size;
        dv_ring r;
        dv_ring_reservation res;
        cfg_make(&cfg, MODES[m], 16, 1024);
        void *mem = region_alloc(&cfg, &size);
        assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
        assert_int_equal(dv_ring_reserve(&r, 100, &res), DV_OK);
        assert_int_equal(dv_ring_commit(&r, &res, 101), DV_EINVAL);
        assert_int_equal(dv_ring_commit(&r, &res, 100), DV_OK);
        assert_int_equal(dv_ring_commit(&r, &res, 100), DV_ESTATE); /* committed twice */
        assert_int_equal(dv_ring_push(&r, NULL, NULL, 0), DV_EINVAL);
        unsigned char h[64] = {0};
        assert_int_equal(dv_ring_push(&r, h, NULL, 4), DV_EINVAL);
        dv_ring_stats st;
        assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
        assert_int_equal(st.entries, 1);
        free(mem);
    }
}

static void test_release_frees_everything_up_to_the_entry(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        dv_ring_config cfg;
        size_t size;
        dv_ring r;
        cfg_make(&cfg, MODES[m], 16, 4096);
        void *mem = region_alloc(&cfg, &size);
        assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
        for (uint64_t s = 0; s < 6; s++) assert_int_equal(push_entry(&r, 5, s, 100), DV_OK);
        dv_ring_entry e[6];
        size_t n;
        assert_int_equal(dv_ring_poll(&r, e, 4, &n), DV_OK);
        assert_int_equal(n, 4);
        dv_ring_entry unread;
        assert_int_equal(dv_ring_peek(&r, &unread), DV_OK);
        assert_int_equal(dv_ring_release(&r, &unread), DV_EINVAL); /* not read yet */
        assert_int_equal(dv_ring_release(&r, &e[2]), DV_OK);
        dv_ring_stats st;
        assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
        assert_int_equal(st.entries, 3);
        assert_int_equal(st.bytes_used, 3 * 112);
        assert_int_equal(dv_ring_release(&r, &e[0]), DV_OK); /* already released: no-op */
        assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
        assert_int_equal(st.entries, 3);
        uint32_t p;
        uint64_t s;
        check_entry(&e[3], &p, &s); /* still valid: not released */
        assert_int_equal(s, 3);
        assert_int_equal(dv_ring_poll(&r, e, 6, &n), DV_OK);
        assert_int_equal(n, 2);
        assert_int_equal(dv_ring_release(&r, &e[1]), DV_OK);
        assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
        assert_int_equal(st.entries, 0);
        free(mem);
    }
}

static void test_mpsc_aborted_reservations_are_skipped(void **state) {
    (void)state;
    dv_ring_config cfg;
    size_t size;
    dv_ring r;
    dv_ring_reservation a, b, c;
    cfg_make(&cfg, DV_RING_MPSC, 16, 4096);
    void *mem = region_alloc(&cfg, &size);
    assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
    unsigned char h[64];
    assert_int_equal(dv_ring_reserve(&r, 64, &a), DV_OK);
    assert_int_equal(dv_ring_reserve(&r, 64, &b), DV_OK);
    dv_ring_entry e;
    size_t n;
    make_header(h, 6, 1, 0);
    memcpy(b.header, h, 64);
    assert_int_equal(dv_ring_commit(&r, &b, 0), DV_OK);
    assert_int_equal(dv_ring_poll(&r, &e, 1, &n), DV_EEMPTY); /* slot a still open */
    assert_int_equal(dv_ring_abort(&r, &a), DV_OK);
    assert_int_equal(dv_ring_abort(&r, &a), DV_ESTATE);
    poll_one_checked(&r, 6, 1, &e);
    /* a trailing aborted slot after the last read entry is freed with it */
    assert_int_equal(dv_ring_reserve(&r, 64, &c), DV_OK);
    assert_int_equal(dv_ring_abort(&r, &c), DV_OK);
    assert_int_equal(dv_ring_poll(&r, &e, 1, &n), DV_EEMPTY);
    assert_int_equal(dv_ring_release(&r, &e), DV_OK);
    dv_ring_stats st;
    assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes_used, 0);
    assert_int_equal(st.polled_entries, 1);
    /* with nothing held, an aborted slot is freed as soon as the consumer passes it */
    assert_int_equal(dv_ring_reserve(&r, 64, &c), DV_OK);
    assert_int_equal(dv_ring_abort(&r, &c), DV_OK);
    assert_int_equal(dv_ring_poll(&r, &e, 1, &n), DV_EEMPTY);
    assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
    assert_int_equal(st.entries, 0);
    free(mem);
}

/* ---- attach and corruption --------------------------------------------------------------------- */

static void test_attach_shares_the_ring(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        dv_ring_config cfg;
        size_t size;
        dv_ring prod, cons;
        cfg_make(&cfg, MODES[m], 16, 4096);
        void *mem = region_alloc(&cfg, &size);
        assert_int_equal(dv_ring_init(mem, size, &cfg, &prod), DV_OK);
        assert_int_equal(push_entry(&prod, 7, 0, 300), DV_OK);
        assert_int_equal(dv_ring_attach(mem, size, &cons), DV_OK);
        dv_ring_entry e;
        poll_one_checked(&cons, 7, 0, &e);
        assert_int_equal(push_entry(&prod, 7, 1, 10), DV_OK);
        assert_int_equal(dv_ring_release(&cons, &e), DV_OK);
        poll_one_checked(&cons, 7, 1, &e);
        assert_int_equal(dv_ring_attach(mem, size - 1, &cons), DV_EINVAL);
        assert_int_equal(dv_ring_attach((unsigned char *)mem + 8, size - 64, &cons), DV_EINVAL);
        free(mem);
    }
}

static void reseal(dv_ring_ctrl *c) { c->checksum = XXH3_64bits((const unsigned char *)c + 8, 48); }

static void test_attach_rejects_corrupt_control_block(void **state) {
    (void)state;
    dv_ring_config cfg;
    size_t size;
    dv_ring r;
    cfg_make(&cfg, DV_RING_SPSC, 16, 4096);
    unsigned char *mem = region_alloc(&cfg, &size);
    assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
    assert_int_equal(push_entry(&r, 8, 0, 50), DV_OK);
    dv_ring_ctrl *c = (dv_ring_ctrl *)(void *)mem;
    unsigned char saved[DV_RING_CTRL_SIZE];
    memcpy(saved, mem, sizeof saved);
    /* Every single-bit flip in the configuration line is caught. */
    for (size_t byte = 0; byte < 64; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            mem[byte] ^= (unsigned char)(1u << bit);
            dv_status st = dv_ring_attach(mem, size, &r);
            assert_int_not_equal(st, DV_OK);
            if (byte < 8) assert_int_equal(st, DV_ECORRUPT);
            if (byte >= 8 && byte < 12) assert_int_equal(st, DV_EVERSION);
            mem[byte] ^= (unsigned char)(1u << bit);
        }
    }
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_OK);
    /* Geometry that checksums fine but is not a valid layout. */
    c->slot_count = 24;
    reseal(c);
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_ECORRUPT);
    memcpy(mem, saved, sizeof saved);
    c->pay_off += DV_RING_PAGE;
    reseal(c);
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_ECORRUPT);
    memcpy(mem, saved, sizeof saved);
    c->slot_count = 1u << 20; /* valid alone, but needs more memory than given */
    c->total_size = dv_ring_required_size(&(dv_ring_config){DV_RING_SPSC, 1u << 20, 4096});
    c->desc_off = DV_RING_PAGE + (1u << 26);
    c->pay_off = c->desc_off + (1u << 24);
    reseal(c);
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_EINVAL);
    memcpy(mem, saved, sizeof saved);
    /* Positions that break the invariants. */
    atomic_store(&c->prod, dv_ring_pack(17, 64));
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_ECORRUPT);
    atomic_store(&c->prod, dv_ring_pack(1, 8));
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_ECORRUPT);
    atomic_store(&c->prod, dv_ring_pack(1, 8192));
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_ECORRUPT);
    memcpy(mem, saved, sizeof saved);
    atomic_store(&c->read, dv_ring_pack(2, 64));
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_ECORRUPT);
    memcpy(mem, saved, sizeof saved);
    assert_int_equal(dv_ring_attach(mem, size, &r), DV_OK);
    dv_ring_entry e;
    poll_one_checked(&r, 8, 0, &e);
    free(mem);
}

static void test_poll_rejects_corrupt_descriptor(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        dv_ring_config cfg;
        size_t size;
        dv_ring r;
        cfg_make(&cfg, MODES[m], 16, 1024);
        unsigned char *mem = region_alloc(&cfg, &size);
        assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
        assert_int_equal(push_entry(&r, 9, 0, 100), DV_OK);
        dv_ring_desc *d = (dv_ring_desc *)(void *)(mem + ((dv_ring_ctrl *)(void *)mem)->desc_off);
        dv_ring_desc good = {0};
        good.start = d->start;
        good.len = d->len;
        good.span = d->span;
        dv_ring_entry e;
        size_t n;
        const uint32_t bad[][3] = {
            {4096, 100, 112}, /* start far ahead */
            {16, 100, 112},   /* start moved without a wrap */
            {0, 100, 2048},   /* span beyond the area */
            {0, 100, 100},    /* span not 16-aligned */
            {0, 200, 112},    /* len beyond span */
            {0, 100, 1024},   /* span over half the area */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            d->start = bad[i][0];
            d->len = bad[i][1];
            d->span = bad[i][2];
            assert_int_equal(dv_ring_poll(&r, &e, 1, &n), DV_ECORRUPT);
            assert_int_equal(n, 0);
            assert_int_equal(dv_ring_peek(&r, &e), DV_ECORRUPT);
        }
        d->start = good.start;
        d->len = good.len;
        d->span = good.span;
        poll_one_checked(&r, 9, 0, &e);
        free(mem);
    }
}

/* ---- threaded stress ----------------------------------------------------------------------------- */

/* Payload length of entry seq: mostly small, some zero, some up to half the area (forcing wraps). */
static size_t stress_len(uint32_t producer, uint64_t seq, uint32_t cap) {
    uint64_t x = mix64(entry_key(producer, seq) + 1);
    if (x % 50 == 0) return (size_t)((x >> 8) % (cap / 2 + 1));
    if (x % 7 == 0) return 0;
    return (size_t)((x >> 8) % 300);
}

typedef struct stress_ctx {
    dv_ring ring;
    uint32_t cap;
    uint32_t producer;
    uint64_t count;
    _Atomic uint64_t full_seen;
    unsigned char *scratch;
} stress_ctx;

/* One producer: reserves a worst-case bound (sometimes much larger than needed), commits the real size. */
static void *stress_producer(void *arg) {
    stress_ctx *x = arg;
    uint64_t full = 0, waits = 0;
    int aborted = 0;
    for (uint64_t s = 0; s < x->count; s++) {
        size_t len = stress_len(x->producer, s, x->cap);
        uint64_t k = mix64(s ^ 0x55);
        size_t bound = (k & 3) == 0 ? x->cap / 2 : len + (size_t)(k % 64);
        if (bound > x->cap / 2) bound = x->cap / 2;
        dv_ring_reservation res;
        dv_status st;
        while ((st = dv_ring_reserve(&x->ring, bound, &res)) == DV_EFULL) {
            full++;
            test_backoff(waits++);
        }
        waits = 0;
        if (st != DV_OK) abort();
        if (x->ring.mode_ == DV_RING_MPSC && k % 97 == 0 && !aborted) { /* a producer changes its mind */
            if (dv_ring_abort(&x->ring, &res) != DV_OK) abort();
            aborted = 1;
            s--;
            continue;
        }
        aborted = 0;
        make_header(res.header, x->producer, s, len);
        fill_bytes(res.payload, len, entry_key(x->producer, s));
        if (dv_ring_commit(&x->ring, &res, len) != DV_OK) abort();
    }
    atomic_store(&x->full_seen, full);
    return NULL;
}

/*
 * The consumer: polls batches, verifies every entry, checks that each
 * producer's seqs arrive exactly once and in order, and releases with a
 * varying delay (immediately, after holding a few, or everything read).
 */
static void stress_consume(const dv_ring *r, uint32_t cap, uint32_t producers, uint64_t per_producer) {
    uint64_t next[8] = {0};
    uint64_t total = 0, want = per_producer * producers;
    dv_ring_entry batch[16];
    uint64_t round = 0, empty_polls = 0;
    while (total < want) {
        size_t n = 0;
        dv_status st = dv_ring_poll(r, batch, 1 + (size_t)(mix64(round) % 16), &n);
        round++;
        if (st == DV_EEMPTY) { /* producers may be waiting for what we hold */
            assert_int_equal(dv_ring_release_read(r), DV_OK);
            test_backoff(empty_polls++);
            continue;
        }
        empty_polls = 0;
        assert_int_equal(st, DV_OK);
        for (size_t i = 0; i < n; i++) {
            uint32_t p;
            uint64_t s;
            check_entry(&batch[i], &p, &s);
            assert_true(p < producers);
            assert_int_equal(s, next[p]); /* no loss, no duplicate, no reorder */
            assert_int_equal(batch[i].len, stress_len(p, s, cap));
            next[p]++;
        }
        total += n;
        switch (round % 4) {
        case 0:
            break; /* hold: released by a later round */
        case 1:
            assert_int_equal(dv_ring_release(r, &batch[n - 1]), DV_OK);
            break;
        case 2:
            assert_int_equal(dv_ring_release(r, &batch[0]), DV_OK);
            break;
        default:
            assert_int_equal(dv_ring_release_read(r), DV_OK);
            break;
        }
    }
    assert_int_equal(dv_ring_release_read(r), DV_OK);
    for (uint32_t p = 0; p < producers; p++) assert_int_equal(next[p], per_producer);
    dv_ring_entry e;
    assert_int_equal(dv_ring_peek(r, &e), DV_EEMPTY);
}

static void run_stress(dv_ring_mode mode, uint32_t producers, uint64_t total, uint32_t slots, uint32_t cap) {
    dv_ring_config cfg;
    size_t size;
    dv_ring r;
    cfg_make(&cfg, mode, slots, cap);
    void *mem = region_alloc(&cfg, &size);
    assert_int_equal(dv_ring_init(mem, size, &cfg, &r), DV_OK);
    stress_ctx ctx[8];
    pthread_t th[8];
    for (uint32_t p = 0; p < producers; p++) {
        ctx[p].ring = r;
        ctx[p].cap = cap;
        ctx[p].producer = p;
        ctx[p].count = total / producers;
        atomic_init(&ctx[p].full_seen, 0);
        assert_int_equal(pthread_create(&th[p], NULL, stress_producer, &ctx[p]), 0);
    }
    stress_consume(&r, cap, producers, total / producers);
    uint64_t full = 0;
    for (uint32_t p = 0; p < producers; p++) {
        assert_int_equal(pthread_join(th[p], NULL), 0);
        full += atomic_load(&ctx[p].full_seen);
    }
    dv_ring_stats st;
    assert_int_equal(dv_ring_stats_get(&r, &st), DV_OK);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes_used, 0);
    assert_int_equal(st.polled_entries, total / producers * producers);
    assert_int_equal(st.full_events, full);
    assert_true(st.high_water <= cap);
    free(mem);
}

static void test_spsc_threads_lose_nothing(void **state) {
    (void)state;
    run_stress(DV_RING_SPSC, 1, SPSC_STRESS_ENTRIES, 256, 1u << 16);
}

static void test_spsc_threads_tiny_ring_under_constant_backpressure(void **state) {
    (void)state;
    run_stress(DV_RING_SPSC, 1, SPSC_STRESS_ENTRIES / 10, 4, 1024);
}

static void test_mpsc_two_producers_keep_their_order(void **state) {
    (void)state;
    run_stress(DV_RING_MPSC, 2, MPSC_STRESS_ENTRIES, 256, 1u << 16);
}

static void test_mpsc_four_producers_small_ring(void **state) {
    (void)state;
    run_stress(DV_RING_MPSC, 4, MPSC_STRESS_ENTRIES / 2, 16, 4096);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_size_follows_page_layout),
        cmocka_unit_test(test_init_rejects_bad_arguments),
        cmocka_unit_test(test_push_poll_roundtrip_keeps_all_header_bytes),
        cmocka_unit_test(test_push_every_small_length_round_trips),
        cmocka_unit_test(test_payloads_wrap_contiguous_and_aligned),
        cmocka_unit_test(test_spsc_commit_gives_back_unused_bytes),
        cmocka_unit_test(test_mpsc_commit_keeps_reserved_span),
        cmocka_unit_test(test_full_ring_refuses_and_loses_nothing),
        cmocka_unit_test(test_reserve_beyond_half_payload_is_toobig),
        cmocka_unit_test(test_commit_checks_length_and_state),
        cmocka_unit_test(test_release_frees_everything_up_to_the_entry),
        cmocka_unit_test(test_mpsc_aborted_reservations_are_skipped),
        cmocka_unit_test(test_attach_shares_the_ring),
        cmocka_unit_test(test_attach_rejects_corrupt_control_block),
        cmocka_unit_test(test_poll_rejects_corrupt_descriptor),
        cmocka_unit_test(test_spsc_threads_lose_nothing),
        cmocka_unit_test(test_spsc_threads_tiny_ring_under_constant_backpressure),
        cmocka_unit_test(test_mpsc_two_producers_keep_their_order),
        cmocka_unit_test(test_mpsc_four_producers_small_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
