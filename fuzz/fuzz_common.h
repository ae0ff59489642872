/*
 * fuzz_common.h -- shared by the libFuzzer harnesses: the round-trip oracle.
 *
 * A decoder that accepts an input must hand back a delta the encoder also
 * accepts, and encoding then decoding it again must give the same content
 * (the format is canonical up to the encoding options). Any violation is a
 * bug in one side or the other: abort() so libFuzzer keeps the input.
 */
#ifndef DV_FUZZ_COMMON_H
#define DV_FUZZ_COMMON_H

#include <stdlib.h>

#include "../tests/delta_samples.h"
#include "delta/wire.h"

static inline void dv_fuzz_roundtrip(const dv_delta *d, dv_mem *mem) {
    size_t bound = dv_delta_encoded_bound(d);
    if (bound == 0) abort();
    uint8_t *payload = malloc(bound);
    if (!payload) abort();
    dv_delta_arena scratch, arena;
    dv_delta_arena_init(&scratch, mem);
    dv_delta_arena_init(&arena, mem);
    uint8_t hdr[DV_DELTA_HEADER_SIZE];
    size_t plen = 0;
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    if (dv_delta_encode(d, &o, &scratch, hdr, payload, bound, &plen) != DV_OK) abort();
    dv_delta back;
    if (dv_delta_decode(hdr, payload, plen, NULL, &arena, &back) != DV_OK) abort();
    if (!dv_delta_same(d, &back)) abort();
    dv_delta_arena_free(&scratch);
    dv_delta_arena_free(&arena);
    free(payload);
}

/* Walks every event (exercises dv_delta_to_events on decoded input). */
static inline dv_status dv_fuzz_sink(void *ctx, const dv_event *ev) {
    (*(size_t *)ctx) += (size_t)ev->kind;
    return DV_OK;
}

#endif
