/*
 * header.c -- the 64-byte delta header: encode, decode, checksum, verify.
 *
 * Layout (little-endian, see deltavec.h section 4 and docs/FORMAT.md):
 *   0 sequence u64 | 8 operation u8 | 9 flags u8 | 10 version u16 |
 *   12 vector_id_hash u32 | 16 timestamp u64 | 24 payload_offset u32 |
 *   28 payload_size u32 | 32 checksum u64 | 40 prev_sequence u64 |
 *   48 padding 16 bytes of zero.
 *
 * The struct mirrors the layout (asserted below) but is never memcpy'd to or
 * from the wire: fields are stored byte by byte so big-endian hosts and
 * compilers with other padding rules produce the same bytes.
 *
 * Checksum: XXH3-64 (seed 0) of header bytes 0..23, then 28..31, then
 * 40..63, then the stored payload. payload_offset (24..27) is excluded because
 * it is a property of the container, not of the delta: a process stage that
 * moves a delta to another ring rewrites it without rehashing. The checksum
 * field itself (32..39) is excluded for the obvious reason.
 */
#include <stddef.h>
#include <xxhash.h>

#include "delta/delta.h"
#include "delta/wire.h"
#include "simd/simd.h"

_Static_assert(sizeof(dv_delta_header) == 64, "header struct is 64 bytes");
_Static_assert(offsetof(dv_delta_header, sequence) == 0, "sequence at 0");
_Static_assert(offsetof(dv_delta_header, operation) == 8, "operation at 8");
_Static_assert(offsetof(dv_delta_header, flags) == 9, "flags at 9");
_Static_assert(offsetof(dv_delta_header, version) == 10, "version at 10");
_Static_assert(offsetof(dv_delta_header, vector_id_hash) == 12, "vector_id_hash at 12");
_Static_assert(offsetof(dv_delta_header, timestamp) == 16, "timestamp at 16");
_Static_assert(offsetof(dv_delta_header, payload_offset) == 24, "payload_offset at 24");
_Static_assert(offsetof(dv_delta_header, payload_size) == 28, "payload_size at 28");
_Static_assert(offsetof(dv_delta_header, checksum) == 32, "checksum at 32");
_Static_assert(offsetof(dv_delta_header, prev_sequence) == 40, "prev_sequence at 40");
_Static_assert(offsetof(dv_delta_header, padding) == 48, "padding at 48");

void dv_delta_header_encode(const dv_delta_header *h, uint8_t out[DV_DELTA_HEADER_SIZE]) {
    dv_st64(out + 0, h->sequence);
    out[8] = h->operation;
    out[9] = h->flags;
    dv_st16(out + 10, h->version);
    dv_st32(out + 12, h->vector_id_hash);
    dv_st64(out + 16, h->timestamp);
    dv_st32(out + 24, h->payload_offset);
    dv_st32(out + 28, h->payload_size);
    dv_st64(out + 32, h->checksum);
    dv_st64(out + 40, h->prev_sequence);
    memcpy(out + 48, h->padding, 16);
}

/* Flags each operation may carry. The payload decoder checks that the flags
 * match the content; here only what no payload could justify is refused. */
static uint8_t allowed_flags(uint8_t op) {
    const uint8_t lossy = DV_FLAG_LOSSY_F16 | DV_FLAG_LOSSY_I8;
    switch (op) {
    case DV_OP_INSERT:
        return DV_FLAG_COMPRESSED | DV_FLAG_HAS_META | DV_FLAG_HAS_HNSW | lossy;
    case DV_OP_UPDATE:
        return DV_FLAG_COMPRESSED | DV_FLAG_SPARSE | DV_FLAG_HAS_META | DV_FLAG_HAS_HNSW |
               DV_FLAG_HAS_BEFORE | lossy;
    case DV_OP_DELETE:
        return DV_FLAG_COMPRESSED | DV_FLAG_HAS_HNSW | DV_FLAG_HAS_BEFORE | lossy;
    case DV_OP_BATCH:
        return DV_FLAG_COMPRESSED;
    case DV_OP_REINDEX:
        return DV_FLAG_COMPRESSED | DV_FLAG_HAS_HNSW | DV_FLAG_PURGE;
    default:
        return 0;
    }
}

dv_status dv_delta_header_decode(const uint8_t in[DV_DELTA_HEADER_SIZE], dv_delta_header *h) {
    if (!in || !h) return DV_EINVAL;
    dv_delta_header t;
    t.sequence = dv_ld64(in + 0);
    t.operation = in[8];
    t.flags = in[9];
    t.version = dv_ld16(in + 10);
    t.vector_id_hash = dv_ld32(in + 12);
    t.timestamp = dv_ld64(in + 16);
    t.payload_offset = dv_ld32(in + 24);
    t.payload_size = dv_ld32(in + 28);
    t.checksum = dv_ld64(in + 32);
    t.prev_sequence = dv_ld64(in + 40);
    memcpy(t.padding, in + 48, 16);
    /* Version first: a future version may redefine everything else. */
    if (t.version != DV_DELTA_FORMAT_VERSION) return DV_EVERSION;
    uint8_t ok = allowed_flags(t.operation);
    if (ok == 0) return DV_EBADOP;
    if (t.flags & ~ok) return DV_EBADOP;
    if ((t.flags & DV_FLAG_LOSSY_F16) && (t.flags & DV_FLAG_LOSSY_I8)) return DV_EBADOP;
    if (t.operation == DV_OP_REINDEX && !(t.flags & (DV_FLAG_HAS_HNSW | DV_FLAG_PURGE))) return DV_EBADOP;
    for (int i = 0; i < 16; i++)
        if (t.padding[i]) return DV_ECORRUPT;
    if (t.payload_size > DV_DELTA_MAX_PAYLOAD) return DV_ETOOBIG;
    *h = t;
    return DV_OK;
}

/* Covered header bytes + payload up to this size are hashed in one call. */
#define DV_CHECKSUM_ONESHOT 512u

uint64_t dv_delta_checksum(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload,
                           size_t payload_len) {
    /* The covered header bytes are gathered into one buffer so a single
     * streaming state is fed three updates instead of four. */
    uint8_t covered[52];
    memcpy(covered, hdr, 24);
    memcpy(covered + 24, hdr + 28, 4);
    memcpy(covered + 28, hdr + 40, 24);
    if (payload_len <= DV_CHECKSUM_ONESHOT - sizeof covered) {
        /* Small deltas (a sparse update is ~120 bytes): the same bytes in one
         * buffer and XXH3's one-shot path, the same hash as the streaming
         * state (XXH3 streams are defined as the hash of the concatenation)
         * for a fraction of its fixed cost. */
        uint8_t all[DV_CHECKSUM_ONESHOT];
        memcpy(all, covered, sizeof covered);
        if (payload_len) memcpy(all + sizeof covered, payload, payload_len);
        return XXH3_64bits(all, sizeof covered + payload_len);
    }
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, covered, sizeof covered);
    /* a long payload (a batch of dense updates is 160 KB at dim 384) through
     * the AVX2/AVX-512 build of the update: the baseline (SSE2) loop took
     * 32% of perf's samples of a batch's apply, and the batch 85 -> 75 us
     * with this one; the same hash either way */
    if (payload_len) dv_xxh3_update(&st, payload, payload_len);
    return XXH3_64bits_digest(&st);
}

void dv_delta_seal(uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload, size_t payload_len) {
    dv_st64(hdr + 32, dv_delta_checksum(hdr, payload, payload_len));
}

dv_status dv_delta_verify(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload,
                          size_t payload_len) {
    dv_delta_header h;
    dv_status s = dv_delta_header_decode(hdr, &h);
    if (s != DV_OK) return s;
    if (payload_len < h.payload_size) return DV_ETRUNCATED;
    if (h.payload_size && !payload) return DV_EINVAL;
    if (dv_delta_checksum(hdr, payload, h.payload_size) != h.checksum) return DV_ECHECKSUM;
    return DV_OK;
}

uint32_t dv_delta_id_hash(const char *id, size_t len) { return (uint32_t)XXH3_64bits(id, len); }

const char *dv_delta_op_name(int op) {
    switch (op) {
    case DV_OP_INSERT:
        return "insert";
    case DV_OP_UPDATE:
        return "update";
    case DV_OP_DELETE:
        return "delete";
    case DV_OP_BATCH:
        return "batch";
    case DV_OP_REINDEX:
        return "reindex";
    default:
        return "?";
    }
}
