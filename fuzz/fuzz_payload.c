/*
 * fuzz_payload.c -- libFuzzer harness for the payload decoder.
 *
 * Input: 64 header bytes + payload, as on the wire. To get past the
 * checksum (which would reject nearly every mutation) the harness forces
 * version 1, zero padding and the true payload_size, then reseals the
 * checksum; operation, flags, sequence and vector_id_hash stay under the
 * fuzzer's control (its comparison tracing finds the id hash). Accepted
 * deltas go through the round-trip oracle and the event walk.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < DV_DELTA_HEADER_SIZE || size - DV_DELTA_HEADER_SIZE > (1u << 20)) return 0;
    size_t plen = size - DV_DELTA_HEADER_SIZE;
    uint8_t *buf = malloc(size); /* exact size: ASan sees any over-read */
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[10] = DV_DELTA_FORMAT_VERSION;
    buf[11] = 0;
    memset(buf + 48, 0, 16);
    dv_st32(buf + 28, (uint32_t)plen);
    dv_delta_seal(buf, buf + DV_DELTA_HEADER_SIZE, plen);

    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_delta d;
    dv_decode_limits lim = {0, 0};
    if (dv_delta_decode(buf, buf + DV_DELTA_HEADER_SIZE, plen, &lim, &arena, &d) == DV_OK) {
        size_t n = 0;
        dv_delta_to_events(&d, dv_fuzz_sink, &n);
        dv_fuzz_roundtrip(&d, &mem);
    }
    dv_delta_arena_free(&arena);
    if (mem.live_bytes != 0) abort();
    free(buf);
    return 0;
}
