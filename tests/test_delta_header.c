/*
 * test_delta_header.c -- the 64-byte header: exact byte layout, validation
 * statuses, checksum coverage; plus the small codecs under it (varints,
 * UTF-8, f16).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include <xxhash.h>

#include "delta/delta.h"
#include "delta/floats.h"
#include "delta/wire.h"
#include "util/utf8.h"

static dv_delta_header sample_header(void) {
    dv_delta_header h;
    memset(&h, 0, sizeof h);
    h.sequence = 0x0102030405060708ull;
    h.operation = DV_OP_UPDATE;
    h.flags = DV_FLAG_SPARSE | DV_FLAG_HAS_BEFORE;
    h.version = DV_DELTA_FORMAT_VERSION;
    h.vector_id_hash = 0xA1A2A3A4u;
    h.timestamp = 0xB1B2B3B4B5B6B7B8ull;
    h.payload_offset = 0xC1C2C3C4u;
    h.payload_size = 0x00D2D3D4u;
    h.checksum = 0xE1E2E3E4E5E6E7E8ull;
    h.prev_sequence = 0xF1F2F3F4F5F6F7F8ull;
    return h;
}

static void header_fields_land_at_their_documented_offsets_little_endian(void **state) {
    (void)state;
    dv_delta_header h = sample_header();
    uint8_t b[64];
    memset(b, 0xEE, sizeof b);
    dv_delta_header_encode(&h, b);
    static const uint8_t want[64] = {
        0x08,
        0x07,
        0x06,
        0x05,
        0x04,
        0x03,
        0x02,
        0x01, /* sequence @0 */
        DV_OP_UPDATE,
        DV_FLAG_SPARSE | DV_FLAG_HAS_BEFORE,
        0x01,
        0x00, /* op @8 flags @9 version @10 */
        0xA4,
        0xA3,
        0xA2,
        0xA1, /* vector_id_hash @12 */
        0xB8,
        0xB7,
        0xB6,
        0xB5,
        0xB4,
        0xB3,
        0xB2,
        0xB1, /* timestamp @16 */
        0xC4,
        0xC3,
        0xC2,
        0xC1, /* payload_offset @24 */
        0xD4,
        0xD3,
        0xD2,
        0x00, /* payload_size @28 */
        0xE8,
        0xE7,
        0xE6,
        0xE5,
        0xE4,
        0xE3,
        0xE2,
        0xE1, /* checksum @32 */
        0xF8,
        0xF7,
        0xF6,
        0xF5,
        0xF4,
        0xF3,
        0xF2,
        0xF1, /* prev_sequence @40 */
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0 /* padding @48 */
    };
    assert_memory_equal(b, want, 64);
    assert_int_equal(offsetof(dv_delta_header, payload_size), 28);
    assert_int_equal(sizeof(dv_delta_header), DV_DELTA_HEADER_SIZE);
}

static void header_round_trips_through_encode_and_decode(void **state) {
    (void)state;
    dv_delta_header h = sample_header(), g;
    uint8_t b[64];
    dv_delta_header_encode(&h, b);
    assert_int_equal(dv_delta_header_decode(b, &g), DV_OK);
    assert_memory_equal(&h, &g, sizeof h);
}

static void header_with_unknown_version_is_refused(void **state) {
    (void)state;
    dv_delta_header h = sample_header(), g;
    uint8_t b[64];
    uint16_t versions[] = {0, 2, 0x100, 0xFFFF};
    for (size_t i = 0; i < 4; i++) {
        h.version = versions[i];
        dv_delta_header_encode(&h, b);
        assert_int_equal(dv_delta_header_decode(b, &g), DV_EVERSION);
    }
}

static void header_with_unknown_op_or_flag_is_refused(void **state) {
    (void)state;
    dv_delta_header h = sample_header(), g;
    uint8_t b[64];
    int ops[] = {0, 6, 7, 0x80, 0xFF};
    for (size_t i = 0; i < 5; i++) {
        h = sample_header();
        h.operation = (uint8_t)ops[i];
        dv_delta_header_encode(&h, b);
        assert_int_equal(dv_delta_header_decode(b, &g), DV_EBADOP);
    }
    h = sample_header();
    h.flags |= 0x80; /* reserved bit */
    dv_delta_header_encode(&h, b);
    assert_int_equal(dv_delta_header_decode(b, &g), DV_EBADOP);
    h = sample_header();
    h.flags = DV_FLAG_LOSSY_F16 | DV_FLAG_LOSSY_I8;
    dv_delta_header_encode(&h, b);
    assert_int_equal(dv_delta_header_decode(b, &g), DV_EBADOP);
    struct {
        uint8_t op, flags;
    } bad[] = {{DV_OP_INSERT, DV_FLAG_SPARSE},
               {DV_OP_INSERT, DV_FLAG_HAS_BEFORE},
               {DV_OP_DELETE, DV_FLAG_HAS_META},
               {DV_OP_DELETE, DV_FLAG_SPARSE},
               {DV_OP_BATCH, DV_FLAG_HAS_HNSW},
               {DV_OP_BATCH, DV_FLAG_LOSSY_F16},
               {DV_OP_REINDEX, 0},
               {DV_OP_REINDEX, DV_FLAG_HAS_HNSW | DV_FLAG_HAS_META}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h = sample_header();
        h.operation = bad[i].op;
        h.flags = bad[i].flags;
        dv_delta_header_encode(&h, b);
        assert_int_equal(dv_delta_header_decode(b, &g), DV_EBADOP);
    }
}

static void header_with_nonzero_padding_or_huge_payload_is_refused(void **state) {
    (void)state;
    dv_delta_header h = sample_header(), g;
    uint8_t b[64];
    for (int i = 0; i < 16; i++) {
        h = sample_header();
        h.padding[i] = 1;
        dv_delta_header_encode(&h, b);
        assert_int_equal(dv_delta_header_decode(b, &g), DV_ECORRUPT);
    }
    h = sample_header();
    h.payload_size = DV_DELTA_MAX_PAYLOAD + 1u;
    dv_delta_header_encode(&h, b);
    assert_int_equal(dv_delta_header_decode(b, &g), DV_ETOOBIG);
    h.payload_size = DV_DELTA_MAX_PAYLOAD;
    dv_delta_header_encode(&h, b);
    assert_int_equal(dv_delta_header_decode(b, &g), DV_OK);
}

/* The wire definition (FORMAT.md section 1): XXH3-64 streamed over header bytes 0..23, 28..31,
 * 40..63, then the payload. The one-shot path for small deltas must give the same value. */
static void checksum_equals_the_streamed_definition_at_every_size(void **state) {
    (void)state;
    static uint8_t payload[5000];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 131u + 7u);
    uint8_t hdr[DV_DELTA_HEADER_SIZE];
    for (int i = 0; i < DV_DELTA_HEADER_SIZE; i++) hdr[i] = (uint8_t)(i * 29 + 3);
    static const size_t sizes[] = {0, 1, 17, 100, 128, 188, 240, 459, 460, 461, 1000, 5000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        XXH3_state_t st;
        XXH3_INITSTATE(&st);
        XXH3_64bits_reset(&st);
        XXH3_64bits_update(&st, hdr, 24);
        XXH3_64bits_update(&st, hdr + 28, 4);
        XXH3_64bits_update(&st, hdr + 40, 24);
        XXH3_64bits_update(&st, payload, sizes[k]);
        assert_true(dv_delta_checksum(hdr, payload, sizes[k]) == XXH3_64bits_digest(&st));
    }
}

static void checksum_covers_every_byte_but_itself_and_payload_offset(void **state) {
    (void)state;
    dv_delta_header h = sample_header();
    h.payload_size = 5;
    uint8_t b[64], payload[5] = {1, 2, 3, 4, 5};
    dv_delta_header_encode(&h, b);
    dv_delta_seal(b, payload, 5);
    assert_int_equal(dv_delta_verify(b, payload, 5), DV_OK);
    uint64_t base = dv_delta_checksum(b, payload, 5);
    for (int i = 0; i < 64; i++) {
        uint8_t c[64];
        memcpy(c, b, 64);
        c[i] ^= 0x10;
        int excluded = (i >= 24 && i < 28) || (i >= 32 && i < 40);
        if (excluded)
            assert_true(dv_delta_checksum(c, payload, 5) == base);
        else
            assert_true(dv_delta_checksum(c, payload, 5) != base);
    }
    /* moving a delta (new payload_offset) keeps it valid */
    dv_st32(b + 24, 12345);
    assert_int_equal(dv_delta_verify(b, payload, 5), DV_OK);
    for (int i = 0; i < 5; i++) {
        payload[i] ^= 1;
        assert_int_equal(dv_delta_verify(b, payload, 5), DV_ECHECKSUM);
        payload[i] ^= 1;
    }
    assert_int_equal(dv_delta_verify(b, payload, 4), DV_ETRUNCATED);
    assert_int_equal(dv_delta_verify(b, payload, 6), DV_OK); /* extra bytes ignored */
}

static void varints_refuse_overlong_and_overflowing_encodings(void **state) {
    (void)state;
    struct {
        uint8_t bytes[11];
        size_t len;
        dv_status want;
        uint32_t value;
    } cases[] = {
        {{0x00}, 1, DV_OK, 0},
        {{0x7F}, 1, DV_OK, 127},
        {{0x80, 0x01}, 2, DV_OK, 128},
        {{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 5, DV_OK, UINT32_MAX},
        {{0x80, 0x00}, 2, DV_ECORRUPT, 0},                   /* overlong zero */
        {{0xFF, 0x80, 0x00}, 3, DV_ECORRUPT, 0},             /* overlong 127 */
        {{0xFF, 0xFF, 0xFF, 0xFF, 0x10}, 5, DV_ECORRUPT, 0}, /* 2^32 */
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 6, DV_ECORRUPT, 0},
        {{0x80}, 1, DV_ECORRUPT, 0}, /* runs off the end */
        {{0}, 0, DV_ECORRUPT, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dv_rd r;
        dv_rd_init(&r, cases[i].bytes, cases[i].len);
        uint32_t v = dv_rd_varint(&r);
        assert_int_equal(r.err, cases[i].want);
        if (cases[i].want == DV_OK) {
            assert_int_equal(v, cases[i].value);
            assert_int_equal(r.pos, cases[i].len);
        }
    }
    /* every 32-bit value round-trips through the writer (sampled) */
    for (uint64_t x = 0; x <= UINT32_MAX; x = x * 3 + 1) {
        uint8_t buf[5];
        size_t n = dv_varint_put(buf, x);
        assert_int_equal(n, dv_varint_len(x));
        dv_rd r;
        dv_rd_init(&r, buf, n);
        assert_int_equal(dv_rd_varint(&r), (uint32_t)x);
        assert_int_equal(r.err, DV_OK);
    }
}

static void utf8_validator_accepts_well_formed_and_refuses_the_rest(void **state) {
    (void)state;
    const char *good[] = {
        "a", "doc-7", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(dv_utf8_valid((const uint8_t *)good[i], strlen(good[i])));
    const char *bad[] = {"\x80",
                         "\xc0\xaf",
                         "\xc1\xbf",
                         "\xe0\x80\xaf",
                         "\xed\xa0\x80",
                         "\xf0\x80\x80\xaf",
                         "\xf4\x90\x80\x80",
                         "\xf5\x80\x80\x80",
                         "\xc3",
                         "\xe2\x82",
                         "\xff",
                         "a\xc3("};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(dv_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
    const uint8_t with_nul[] = {'a', 0, 'b'};
    assert_false(dv_utf8_valid(with_nul, 3));
}

static void f16_round_trips_every_half_and_rounds_to_nearest_even(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = dv_f16_to_f32((uint16_t)h);
        if (f != f) continue; /* NaN payloads are not preserved bit-exactly */
        assert_int_equal(dv_f32_to_f16(f), h);
    }
    /* ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 -> even (1.0) */
    assert_int_equal(dv_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3C00);
    assert_int_equal(dv_f32_to_f16(1.0f + 3.0f * ldexpf(1.0f, -11)), 0x3C02);
    assert_int_equal(dv_f32_to_f16(65504.0f), 0x7BFF);
    assert_int_equal(dv_f32_to_f16(65519.0f), 0x7BFF);
    assert_int_equal(dv_f32_to_f16(65520.0f), 0x7C00);
    assert_int_equal(dv_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);
    assert_int_equal(dv_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    /* nearest: for random floats in the normal range the error is <= 2^-11 relative and
     * no other half is closer */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        float f = ldexpf((float)(x >> 40) / (float)(1u << 24) + 0.5f, (int)(x % 30) - 14); /* [2^-15, 2^15) */
        if (fabsf(f) < ldexpf(1.0f, -14)) continue;
        uint16_t h = dv_f32_to_f16(f);
        float g = dv_f16_to_f32(h);
        assert_true(fabs((double)g - f) <= ldexp(fabs(f), -11));
        double e = fabs((double)g - f);
        assert_true(fabs((double)dv_f16_to_f32((uint16_t)(h + 1)) - f) >= e);
        if (h & 0x7FFF) assert_true(fabs((double)dv_f16_to_f32((uint16_t)(h - 1)) - f) >= e);
    }
}

static void op_names_and_id_hash_are_stable(void **state) {
    (void)state;
    assert_string_equal(dv_delta_op_name(DV_OP_INSERT), "insert");
    assert_string_equal(dv_delta_op_name(DV_OP_REINDEX), "reindex");
    assert_string_equal(dv_delta_op_name(99), "?");
    assert_int_equal(dv_delta_id_hash("doc-7", 5), dv_delta_id_hash("doc-7x", 5));
    assert_int_not_equal(dv_delta_id_hash("doc-7", 5), dv_delta_id_hash("doc-8", 5));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_fields_land_at_their_documented_offsets_little_endian),
        cmocka_unit_test(header_round_trips_through_encode_and_decode),
        cmocka_unit_test(header_with_unknown_version_is_refused),
        cmocka_unit_test(header_with_unknown_op_or_flag_is_refused),
        cmocka_unit_test(header_with_nonzero_padding_or_huge_payload_is_refused),
        cmocka_unit_test(checksum_covers_every_byte_but_itself_and_payload_offset),
        cmocka_unit_test(checksum_equals_the_streamed_definition_at_every_size),
        cmocka_unit_test(varints_refuse_overlong_and_overflowing_encodings),
        cmocka_unit_test(utf8_validator_accepts_well_formed_and_refuses_the_rest),
        cmocka_unit_test(f16_round_trips_every_half_and_rounds_to_nearest_even),
        cmocka_unit_test(op_names_and_id_hash_are_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
