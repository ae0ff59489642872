/*
 * ring_layout.h -- the structures laid over a ring region (see docs/RING.md).
 *
 * Region (offsets from its start; every area starts on a 64 KiB page):
 *
 *   [0, 64 KiB)         control page: dv_ring_ctrl in its first 320 bytes, rest zero
 *   hdr_off             slot_count x 64-byte headers (caller bytes, never read by the ring)
 *   desc_off            slot_count x 16-byte dv_ring_desc (the ring's own entry metadata)
 *   pay_off             payload_size bytes: a byte ring, entries contiguous, 16-byte aligned
 *
 * Positions are free-running 32-bit counters (slot count and payload bytes
 * since init), wrapping modulo 2^32; an index is counter & mask. Because
 * every capacity is a power of two <= 2^30, differences computed modulo 2^32
 * are exact. A slot counter and a payload counter are packed into one 64-bit
 * atomic word ((slot << 32) | payload) so both move together.
 *
 * Cache lines: config (read-only after init), producer, shared stats,
 * consumer-public and consumer-private each own one 64-byte line, so the
 * producer's and the consumer's hot positions are 128 bytes apart.
 *
 * Everything here is little-endian on the hosts we support (x86-64, arm64,
 * wasm32); the atomic words hold native integers.
 */
#ifndef DV_RING_LAYOUT_H
#define DV_RING_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define DV_RING_MAGIC 0x31474e4952564444ull /* "DDVRING1" read as little-endian bytes */
#define DV_RING_LAYOUT_VERSION 1u
#define DV_RING_CTRL_SIZE 320u
#define DV_RING_DESC_SIZE 16u
#define DV_RING_VOID 0x80000000u /* desc.len flag: aborted MPSC reservation, consumer skips it */

typedef struct dv_ring_ctrl {
    /* line 0 (0..63): configuration, written once by init, then read-only */
    _Atomic uint64_t magic; /*  0: DV_RING_MAGIC, stored last by init (release) */
    uint32_t version;       /*  8: DV_RING_LAYOUT_VERSION */
    uint32_t mode;          /* 12: dv_ring_mode */
    uint32_t slot_count;    /* 16 */
    uint32_t payload_size;  /* 20 */
    uint64_t total_size;    /* 24: bytes of the region in use */
    uint32_t hdr_off;       /* 32 */
    uint32_t desc_off;      /* 36 */
    uint32_t pay_off;       /* 40 */
    uint32_t reserved0;     /* 44: zero */
    uint64_t reserved1;     /* 48: zero */
    uint64_t checksum;      /* 56: XXH3-64 of bytes 8..55 */

    /* line 1 (64..127): producer side */
    alignas(64) _Atomic uint64_t prod; /* 64: SPSC: committed end; MPSC: reservation cursor */
    uint64_t cons_cache;               /* 72: SPSC producer's last seen `released` */
    uint64_t pad1[6];

    /* line 2 (128..191): counters written rarely by producers (and the SPSC consumer) */
    alignas(64) _Atomic uint64_t full_events; /* 128 */
    _Atomic uint64_t high_water;              /* 136 */
    uint64_t pad2[6];

    /* line 3 (192..255): consumer side, read by producers */
    alignas(64) _Atomic uint64_t released; /* 192: everything before it is free */
    uint64_t pad3[7];

    /* line 4 (256..319): consumer private (stats read them relaxed) */
    alignas(64) _Atomic uint64_t read; /* 256: next entry to poll */
    uint64_t prod_cache;               /* 264: SPSC consumer's last seen `prod` */
    _Atomic uint64_t polled_entries;   /* 272: entries handed to the consumer */
    _Atomic uint64_t polled_bytes;     /* 280: their payload bytes */
    uint64_t pad4[4];
} dv_ring_ctrl;

/* The ring's metadata for one slot: 16 bytes in a parallel array. */
typedef struct dv_ring_desc {
    _Atomic uint32_t seq; /* 0: MPSC: slot position + 1 once committed (SPSC: unused, 0) */
    uint32_t start;       /* 4: payload counter where the payload begins (after any wrap skip) */
    uint32_t len;         /* 8: committed payload length, or DV_RING_VOID */
    uint32_t span; /* 12: payload bytes held from start (16-aligned); next entry begins at start+span */
} dv_ring_desc;

_Static_assert(sizeof(dv_ring_ctrl) == DV_RING_CTRL_SIZE, "control block size");
_Static_assert(offsetof(dv_ring_ctrl, checksum) == 56, "checksum offset");
_Static_assert(offsetof(dv_ring_ctrl, prod) == 64, "prod offset");
_Static_assert(offsetof(dv_ring_ctrl, full_events) == 128, "stats offset");
_Static_assert(offsetof(dv_ring_ctrl, released) == 192, "released offset");
_Static_assert(offsetof(dv_ring_ctrl, read) == 256, "read offset");
_Static_assert(offsetof(dv_ring_ctrl, polled_bytes) == 280, "polled_bytes offset");
_Static_assert(sizeof(dv_ring_desc) == DV_RING_DESC_SIZE, "descriptor size");

static inline uint64_t dv_ring_pack(uint32_t slot, uint32_t pay) { return ((uint64_t)slot << 32) | pay; }
static inline uint32_t dv_ring_slot(uint64_t w) { return (uint32_t)(w >> 32); }
static inline uint32_t dv_ring_pay(uint64_t w) { return (uint32_t)w; }

#endif
