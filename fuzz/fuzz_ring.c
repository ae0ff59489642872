/*
 * fuzz_ring.c -- libFuzzer harness for a ring attached over a hostile
 * shared region (another process or wasm instance may write anything).
 *
 * The harness formats a small ring, pushes and polls a few entries, then
 * lets the input overwrite bytes of the control block and of the slot
 * descriptors (the ring's own metadata in shared memory), optionally
 * resealing the control checksum so the edits reach the position checks.
 * dv_ring_attach over the result must refuse or give a ring on which peek,
 * poll, release and a producer's reserve/commit never crash and never touch
 * a byte outside the region (which is allocated at its exact size, so ASan
 * sees any overrun); every payload handed out is read in full.
 *
 * Input: byte 0: bit 0 reseal, bits 1-2 how many entries to pre-poll,
 * bit 3 MPSC; then 3-byte edits {area_offset u16, value}: offsets below 320
 * hit the control block, the rest the descriptors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "deltavec.h"
#include "ring/ring_layout.h"

#define SLOTS 16u
#define PAYLOAD 4096u

static void reseal(uint8_t *region) {
    uint64_t ck = XXH3_64bits(region + 8, 56 - 8);
    memcpy(region + 56, &ck, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    dv_ring_config cfg;
    dv_ring_config_default(&cfg, (data[0] & 8) ? DV_RING_MPSC : DV_RING_SPSC);
    cfg.slot_count = SLOTS;
    cfg.payload_size = PAYLOAD;
    size_t need = dv_ring_required_size(&cfg);
    if (need == 0) abort();
    uint8_t *region = aligned_alloc(64, need);
    if (!region) return 0;
    memset(region, 0, need);
    dv_ring ring;
    if (dv_ring_init(region, need, &cfg, &ring) != DV_OK) abort();
    uint8_t hdr[DV_RING_HEADER_SIZE], pay[700];
    memset(hdr, 0xAB, sizeof hdr);
    memset(pay, 0xCD, sizeof pay);
    for (int i = 0; i < 6; i++)
        if (dv_ring_push(&ring, hdr, pay, (size_t)(i * 131) % sizeof pay) != DV_OK) abort();
    dv_ring_entry e[4];
    size_t n = 0;
    size_t pre = (data[0] >> 1) & 3;
    if (pre && dv_ring_poll(&ring, e, pre, &n) != DV_OK) abort();
    if (n && dv_ring_release(&ring, &e[n - 1]) != DV_OK) abort();

    /* hostile edits of the shared metadata */
    const dv_ring_ctrl *c = (const dv_ring_ctrl *)region;
    size_t desc_off = c->desc_off, desc_len = (size_t)SLOTS * DV_RING_DESC_SIZE;
    for (size_t i = 1; i + 3 <= size; i += 3) {
        size_t off = (size_t)data[i] | (size_t)data[i + 1] << 8;
        off %= DV_RING_CTRL_SIZE + desc_len;
        size_t at = off < DV_RING_CTRL_SIZE ? off : desc_off + (off - DV_RING_CTRL_SIZE);
        region[at] = data[i + 2];
    }
    if (data[0] & 1) reseal(region);

    dv_ring r;
    if (dv_ring_attach(region, need, &r) == DV_OK) {
        volatile uint8_t sink = 0;
        for (int round = 0; round < 8; round++) {
            dv_ring_entry one;
            if (dv_ring_peek(&r, &one) == DV_OK) {
                for (uint32_t b = 0; b < one.len; b++) sink ^= ((const uint8_t *)one.payload)[b];
                for (uint32_t b = 0; b < DV_RING_HEADER_SIZE; b++) sink ^= ((const uint8_t *)one.header)[b];
            }
            size_t got = 0;
            if (dv_ring_poll(&r, e, 4, &got) == DV_OK) {
                for (size_t k = 0; k < got; k++)
                    for (uint32_t b = 0; b < e[k].len; b++) sink ^= ((const uint8_t *)e[k].payload)[b];
                if (got) (void)dv_ring_release(&r, &e[got - 1]);
            }
            dv_ring_reservation res;
            if (dv_ring_reserve(&r, 100 + (size_t)round * 50, &res) == DV_OK) {
                memset(res.header, 1, DV_RING_HEADER_SIZE);
                memset(res.payload, 2, res.capacity);
                (void)dv_ring_commit(&r, &res, res.capacity / 2);
            }
            dv_ring_stats st;
            (void)dv_ring_stats_get(&r, &st);
        }
        (void)sink;
    }
    free(region);
    return 0;
}
