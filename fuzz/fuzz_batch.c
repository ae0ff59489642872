/*
 * fuzz_batch.c -- libFuzzer harness for the batch container.
 *
 * Input: byte 0 selects compression (bit 0), the rest is a batch body:
 * sub-deltas back to back. The harness reseals what a fuzzer cannot
 * forge -- every sub-header checksum it can locate (walking payload_size
 * fields like the decoder does) and the batch checksum -- so mutations
 * reach the structural checks: sub sequences, payload offsets, sizes,
 * nesting, flags and every sub-payload decoder.
 */
#include <lz4.h>

#include "fuzz_common.h"

#define BATCH_SEQ 100u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20)) return 0;
    int compress = data[0] & 1;
    size_t blen = size - 1;
    uint8_t *body = malloc(blen ? blen : 1);
    if (!body) return 0;
    memcpy(body, data + 1, blen);
    for (size_t pos = 0; blen - pos >= DV_DELTA_HEADER_SIZE;) {
        uint32_t psz = dv_ld32(body + pos + 28);
        if (psz > blen - pos - DV_DELTA_HEADER_SIZE) break;
        dv_delta_seal(body + pos, body + pos + DV_DELTA_HEADER_SIZE, psz);
        pos += DV_DELTA_HEADER_SIZE + psz;
    }
    /* payload: either the body, or varint(raw) + LZ4(body) */
    size_t cap = 10 + (size_t)LZ4_compressBound((int)blen);
    uint8_t *buf = malloc(DV_DELTA_HEADER_SIZE + cap);
    if (!buf) {
        free(body);
        return 0;
    }
    size_t plen = blen;
    uint8_t flags = 0;
    if (compress && blen > 0) {
        size_t vl = dv_varint_put(buf + DV_DELTA_HEADER_SIZE, blen);
        int c = LZ4_compress_default((const char *)body, (char *)buf + DV_DELTA_HEADER_SIZE + vl, (int)blen,
                                     (int)(cap - vl));
        if (c > 0) {
            plen = vl + (size_t)c;
            flags = DV_FLAG_COMPRESSED;
        }
    }
    if (!flags && blen) memcpy(buf + DV_DELTA_HEADER_SIZE, body, blen);
    dv_delta_header h;
    memset(&h, 0, sizeof h);
    h.sequence = BATCH_SEQ;
    h.operation = DV_OP_BATCH;
    h.flags = flags;
    h.version = DV_DELTA_FORMAT_VERSION;
    h.payload_size = (uint32_t)plen;
    dv_delta_header_encode(&h, buf);
    dv_delta_seal(buf, buf + DV_DELTA_HEADER_SIZE, plen);

    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_delta d;
    if (dv_delta_decode(buf, buf + DV_DELTA_HEADER_SIZE, plen, NULL, &arena, &d) == DV_OK) {
        size_t n = 0;
        dv_delta_to_events(&d, dv_fuzz_sink, &n);
        dv_fuzz_roundtrip(&d, &mem);
    }
    dv_delta_arena_free(&arena);
    if (mem.live_bytes != 0) abort();
    free(buf);
    free(body);
    return 0;
}
