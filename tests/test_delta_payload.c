/*
 * test_delta_payload.c -- payload encode/decode of every operation, replay
 * order of the events, builder sectioning, and hostile input: every error
 * status from crafted bytes, every single-bit flip, every truncation,
 * resealed mutations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "delta/floats.h"
#include "delta/wire.h"
#include "delta_samples.h"

#define BUF_CAP (64 * 1024)

typedef struct fixture {
    dv_mem mem;
    dv_delta_arena arena, scratch;
    dv_delta_builder b;
    uint8_t buf[BUF_CAP];
} fixture;

static int setup(void **state) {
    fixture *f = test_malloc(sizeof *f);
    dv_mem_init(&f->mem, NULL);
    dv_delta_arena_init(&f->arena, &f->mem);
    dv_delta_arena_init(&f->scratch, &f->mem);
    dv_delta_builder_init(&f->b, &f->mem);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    dv_delta_builder_free(&f->b);
    dv_delta_arena_free(&f->arena);
    dv_delta_arena_free(&f->scratch);
    assert_int_equal(f->mem.live_bytes, 0);
    test_free(f);
    return 0;
}

static dv_encode_opts opts(int compress, int shuffle, int xor_before, dv_value_mode m) {
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    o.compress = compress;
    o.shuffle = shuffle;
    o.xor_before = xor_before;
    o.values = m;
    return o;
}

static dv_status decode(fixture *f, const uint8_t *buf, size_t len, dv_delta *out) {
    dv_delta_arena_reset(&f->arena);
    return dv_delta_decode_buf(buf, len, NULL, &f->arena, out);
}

/* ---- round trips ------------------------------------------------------- */

static void every_sample_round_trips_under_every_lossless_option(void **state) {
    fixture *f = *state;
    for (int k = 0; k < DV_SAMPLE_COUNT; k++) {
        for (int variant = 0; variant < 8; variant++) {
            dv_encode_opts o = opts(variant & 1, (variant >> 1) & 1, (variant >> 2) & 1, DV_VALUES_F32);
            size_t len = dv_sample_encode(k, &o, f->buf, sizeof f->buf);
            assert_true(len >= DV_DELTA_HEADER_SIZE);
            dv_delta d;
            assert_int_equal(decode(f, f->buf, len, &d), DV_OK);
            if (k == DV_SAMPLE_BATCH) {
                assert_int_equal(d.h.operation, DV_OP_BATCH);
                assert_int_equal(d.n_sub, 5);
                for (uint32_t i = 0; i < d.n_sub; i++) {
                    dv_sample_fill(&f->b, (int)i, 100);
                    assert_true(dv_delta_same(&d.subs[i], &f->b.d));
                    assert_int_equal(d.subs[i].h.sequence, 100);
                    assert_int_equal(d.subs[i].h.prev_sequence, f->b.d.h.prev_sequence);
                }
            } else {
                dv_sample_fill(&f->b, k, 42);
                assert_true(dv_delta_same(&d, &f->b.d));
                assert_int_equal(d.h.sequence, 42);
                assert_int_equal(d.h.timestamp, f->b.d.h.timestamp);
                assert_int_equal(d.h.prev_sequence, f->b.d.h.prev_sequence);
                uint32_t want = f->b.d.id ? dv_delta_id_hash(f->b.d.id, f->b.d.id_len) : 0;
                assert_int_equal(d.h.vector_id_hash, want);
            }
        }
    }
}

static void flags_describe_the_content(void **state) {
    fixture *f = *state;
    dv_encode_opts o = opts(0, 0, 0, DV_VALUES_F32);
    struct {
        int k;
        uint8_t flags;
    } want[] = {
        {DV_SAMPLE_INSERT, DV_FLAG_HAS_META | DV_FLAG_HAS_HNSW},
        {DV_SAMPLE_DENSE, DV_FLAG_HAS_BEFORE | DV_FLAG_HAS_HNSW},
        {DV_SAMPLE_SPARSE, DV_FLAG_SPARSE | DV_FLAG_HAS_BEFORE},
        {DV_SAMPLE_META, DV_FLAG_HAS_META},
        {DV_SAMPLE_DELETE, DV_FLAG_HAS_BEFORE | DV_FLAG_HAS_HNSW},
        {DV_SAMPLE_REINDEX, DV_FLAG_HAS_HNSW},
        {DV_SAMPLE_BATCH, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t len = dv_sample_encode(want[i].k, &o, f->buf, sizeof f->buf);
        assert_true(len > 0);
        assert_int_equal(f->buf[9], want[i].flags);
    }
    o.values = DV_VALUES_F16;
    assert_true(dv_sample_encode(DV_SAMPLE_SPARSE, &o, f->buf, sizeof f->buf) > 0);
    assert_int_equal(f->buf[9], DV_FLAG_SPARSE | DV_FLAG_HAS_BEFORE | DV_FLAG_LOSSY_F16);
    o.values = DV_VALUES_I8;
    assert_true(dv_sample_encode(DV_SAMPLE_META, &o, f->buf, sizeof f->buf) > 0);
    assert_int_equal(f->buf[9], DV_FLAG_HAS_META); /* no float array: no lossy flag */
}

static void bound_covers_every_encoding_and_small_buffers_give_efull(void **state) {
    fixture *f = *state;
    for (int k = 0; k < DV_SAMPLE_REINDEX + 1; k++) {
        dv_sample_fill(&f->b, k, 42);
        size_t bound = dv_delta_encoded_bound(&f->b.d);
        assert_true(bound > 0);
        for (int m = 0; m < 3; m++) {
            dv_encode_opts o = opts(0, 1, 1, (dv_value_mode)m);
            uint8_t hdr[64];
            size_t plen = 0;
            assert_int_equal(dv_delta_encode(&f->b.d, &o, &f->scratch, hdr, f->buf, bound, &plen), DV_OK);
            assert_true(plen <= bound);
            if (plen > 0) {
                assert_int_equal(dv_delta_encode(&f->b.d, &o, &f->scratch, hdr, f->buf, plen - 1, &plen),
                                 DV_EFULL);
            }
        }
    }
}

static void payload_offset_is_carried_but_not_checksummed(void **state) {
    fixture *f = *state;
    dv_sample_fill(&f->b, DV_SAMPLE_SPARSE, 5);
    f->b.d.h.payload_offset = 4096;
    size_t plen;
    assert_int_equal(dv_delta_encode(&f->b.d, NULL, &f->scratch, f->buf, f->buf + 64, BUF_CAP - 64, &plen),
                     DV_OK);
    dv_delta d;
    assert_int_equal(decode(f, f->buf, 64 + plen, &d), DV_OK);
    assert_int_equal(d.h.payload_offset, 4096);
    dv_st32(f->buf + 24, 77);
    assert_int_equal(decode(f, f->buf, 64 + plen, &d), DV_OK);
    assert_int_equal(d.h.payload_offset, 77);
}

/* ---- events ------------------------------------------------------------ */

typedef struct rec {
    int n;
    dv_event_kind kinds[64];
    dv_op_kind op;
    uint32_t slots[64];
    int stop_at;
} rec;

static dv_status record(void *ctx, const dv_event *ev) {
    rec *r = ctx;
    if (r->n == r->stop_at) return DV_EFULL;
    if (ev->kind == DV_EV_OP_BEGIN) r->op = ev->u.op.op;
    r->slots[r->n] = ev->slot;
    r->kinds[r->n++] = ev->kind;
    return DV_OK;
}

static void events_come_out_in_replay_order(void **state) {
    fixture *f = *state;
    const dv_event_kind B = DV_EV_OP_BEGIN, E = DV_EV_OP_END, VI = DV_EV_VECTOR_INSERT,
                        VU = DV_EV_VECTOR_UPDATE;
    const dv_event_kind VD = DV_EV_VECTOR_DELETE, MS = DV_EV_META_SET, EA = DV_EV_EDGE_ADD,
                        ER = DV_EV_EDGE_REMOVE;
    const dv_event_kind EN = DV_EV_ENTRY;
    struct {
        int k;
        dv_op_kind op;
        int n;
        dv_event_kind kinds[12];
    } want[6];
    memset(want, 0, sizeof want);
    const struct {
        int k;
        dv_op_kind op;
        int n;
        dv_event_kind kinds[12];
    } init[] = {
        {DV_SAMPLE_INSERT, DV_WRITE_INSERT, 9, {B, VI, EA, EA, EA, ER, EA, EN, E}},
        {DV_SAMPLE_DENSE, DV_WRITE_UPDATE, 5, {B, VU, ER, EA, E}},
        {DV_SAMPLE_SPARSE, DV_WRITE_UPDATE_SPARSE, 3, {B, VU, E}},
        {DV_SAMPLE_META, DV_WRITE_SET_META, 4, {B, MS, MS, E}},
        {DV_SAMPLE_DELETE,
         DV_WRITE_DELETE,
         7,
         {B, ER, ER, EA, EN, VD, E}}, /* entry moves before the node goes */
        {DV_SAMPLE_REINDEX, DV_WRITE_REINDEX, 5, {B, ER, EA, EN, E}},
    };
    memcpy(want, init, sizeof want);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t len = dv_sample_encode(want[i].k, NULL, f->buf, sizeof f->buf);
        dv_delta d;
        assert_int_equal(decode(f, f->buf, len, &d), DV_OK);
        rec r = {.n = 0, .stop_at = -1};
        assert_int_equal(dv_delta_to_events(&d, record, &r), DV_OK);
        assert_int_equal(r.n, want[i].n);
        assert_int_equal(r.op, want[i].op);
        for (int k = 0; k < r.n; k++)
            if (r.kinds[k] != want[i].kinds[k]) {
                fail_msg("sample %d event %d: %d != %d", want[i].k, k, (int)r.kinds[k],
                         (int)want[i].kinds[k]);
            }
    }
    /* the insert's edges keep the builder's event order: 7->1 (layer 2), 1->7, 7->3, remove 3->4, 3->7 */
    size_t len = dv_sample_encode(DV_SAMPLE_INSERT, NULL, f->buf, sizeof f->buf);
    dv_delta d;
    assert_int_equal(decode(f, f->buf, len, &d), DV_OK);
    rec r = {.n = 0, .stop_at = -1};
    dv_delta_to_events(&d, record, &r);
    uint32_t from[] = {7, 1, 7, 3, 3};
    for (int k = 0; k < 5; k++) assert_int_equal(r.slots[2 + k], from[k]);
    /* a batch yields its sub-deltas' brackets in order; a refusal stops the walk */
    len = dv_sample_encode(DV_SAMPLE_BATCH, NULL, f->buf, sizeof f->buf);
    assert_int_equal(decode(f, f->buf, len, &d), DV_OK);
    r = (rec){.n = 0, .stop_at = -1};
    assert_int_equal(dv_delta_to_events(&d, record, &r), DV_OK);
    assert_int_equal(r.n, 9 + 5 + 3 + 4 + 7);
    r = (rec){.n = 0, .stop_at = 3};
    assert_int_equal(dv_delta_to_events(&d, record, &r), DV_EFULL);
    assert_int_equal(r.n, 3);
}

static void builder_opens_a_section_on_layer_change_or_remove_after_add(void **state) {
    fixture *f = *state;
    dv_delta_builder *b = &f->b;
    dv_delta_builder_begin(b, DV_OP_REINDEX);
    dv_delta_builder_edge_remove(b, 0, 1, 2); /* s0: rm */
    dv_delta_builder_edge_remove(b, 0, 1, 3); /* s0: rm */
    dv_delta_builder_edge_add(b, 0, 1, 4, 1); /* s0: add */
    dv_delta_builder_edge_add(b, 0, 1, 5, 1); /* s0: add */
    dv_delta_builder_edge_remove(b, 0, 4, 1); /* s1: remove after add */
    dv_delta_builder_edge_add(b, 1, 4, 9, 1); /* s2: layer change */
    dv_delta_builder_edge_add(b, 0, 9, 4, 1); /* s3: layer change */
    for (uint32_t i = 0; i < 300; i++)        /* growth keeps sections pointing at their edges */
        dv_delta_builder_edge_add(b, 0, 100 + i, 200 + i, (float)i);
    assert_int_equal(b->d.n_sections, 4);
    assert_int_equal(b->d.sections[0].n_remove, 2);
    assert_int_equal(b->d.sections[0].n_add, 2);
    assert_int_equal(b->d.sections[1].n_remove, 1);
    assert_int_equal(b->d.sections[1].n_add, 0);
    assert_int_equal(b->d.sections[2].layer, 1);
    assert_int_equal(b->d.sections[3].n_add, 301);
    assert_int_equal(b->d.sections[0].removes[1].to, 3);
    assert_int_equal(b->d.sections[0].adds[1].to, 5);
    assert_int_equal(b->d.sections[1].removes[0].from, 4);
    assert_int_equal(b->d.sections[3].adds[300].to, 499);
    uint8_t hdr[64];
    size_t plen;
    assert_int_equal(dv_delta_encode(&b->d, NULL, &f->scratch, hdr, f->buf, BUF_CAP, &plen), DV_OK);
    dv_delta d;
    dv_delta_arena_reset(&f->arena);
    assert_int_equal(dv_delta_decode(hdr, f->buf, plen, NULL, &f->arena, &d), DV_OK);
    assert_true(dv_delta_same(&d, &b->d));
}

/* REINDEX with a purge list: round trip, flag, replay order (graph part,
 * entry, one VECTOR_PURGE per slot); the encoder refuses a list out of
 * order and a purge on another operation. */
static void purge_lists_round_trip_and_replay_after_the_graph_part(void **state) {
    fixture *f = *state;
    dv_delta_builder *b = &f->b;
    uint8_t hdr[64];
    size_t plen;
    dv_delta_builder_begin(b, DV_OP_REINDEX);
    assert_int_equal(dv_delta_builder_edge_remove(b, 0, 1, 3), DV_OK);
    static const uint32_t slots[] = {3, 7, 8, 900000};
    for (int i = 0; i < 4; i++) assert_int_equal(dv_delta_builder_purge(b, slots[i]), DV_OK);
    assert_int_equal(dv_delta_encode(&b->d, NULL, &f->scratch, hdr, f->buf, BUF_CAP, &plen), DV_OK);
    dv_delta_header h;
    assert_int_equal(dv_delta_header_decode(hdr, &h), DV_OK);
    assert_int_equal(h.flags & (DV_FLAG_HAS_HNSW | DV_FLAG_PURGE), DV_FLAG_HAS_HNSW | DV_FLAG_PURGE);
    dv_delta d;
    dv_delta_arena_reset(&f->arena);
    assert_int_equal(dv_delta_decode(hdr, f->buf, plen, NULL, &f->arena, &d), DV_OK);
    assert_true(dv_delta_same(&d, &b->d));
    assert_int_equal(d.n_purge, 4);
    assert_int_equal(d.purge[3], 900000);
    rec r = {.n = 0, .stop_at = -1};
    assert_int_equal(dv_delta_to_events(&d, record, &r), DV_OK);
    static const dv_event_kind want[] = {DV_EV_OP_BEGIN,     DV_EV_EDGE_REMOVE,  DV_EV_VECTOR_PURGE,
                                         DV_EV_VECTOR_PURGE, DV_EV_VECTOR_PURGE, DV_EV_VECTOR_PURGE,
                                         DV_EV_OP_END};
    assert_int_equal(r.n, 7);
    for (int k = 0; k < 7; k++) assert_int_equal(r.kinds[k], want[k]);
    assert_int_equal(r.slots[5], 900000);
    /* purges only: no graph part, still a valid REINDEX */
    dv_delta_builder_begin(b, DV_OP_REINDEX);
    assert_int_equal(dv_delta_builder_purge(b, 5), DV_OK);
    assert_int_equal(dv_delta_encode(&b->d, NULL, &f->scratch, hdr, f->buf, BUF_CAP, &plen), DV_OK);
    assert_int_equal(dv_delta_header_decode(hdr, &h), DV_OK);
    assert_int_equal(h.flags & (DV_FLAG_HAS_HNSW | DV_FLAG_PURGE), DV_FLAG_PURGE);
    /* refused: out of order, repeated, on a DELETE */
    dv_delta_builder_begin(b, DV_OP_REINDEX);
    dv_delta_builder_purge(b, 9);
    dv_delta_builder_purge(b, 4);
    assert_int_equal(dv_delta_encode(&b->d, NULL, &f->scratch, hdr, f->buf, BUF_CAP, &plen), DV_EINVAL);
    dv_delta_builder_begin(b, DV_OP_REINDEX);
    dv_delta_builder_purge(b, 9);
    dv_delta_builder_purge(b, 9);
    assert_int_equal(dv_delta_encode(&b->d, NULL, &f->scratch, hdr, f->buf, BUF_CAP, &plen), DV_EINVAL);
    dv_delta_builder_begin(b, DV_OP_DELETE);
    dv_delta_builder_set_delete(b, 1, "x", 0, NULL);
    dv_delta_builder_purge(b, 9);
    assert_int_equal(dv_delta_encode(&b->d, NULL, &f->scratch, hdr, f->buf, BUF_CAP, &plen), DV_EINVAL);
}

static void encoder_refuses_invalid_deltas(void **state) {
    fixture *f = *state;
    dv_delta_builder *b = &f->b;
    uint8_t hdr[64];
    size_t plen;
    float v[4] = {1, 2, 3, 4};
    uint32_t idx[2] = {3, 3};
#define ENC() dv_delta_encode(&b->d, NULL, &f->scratch, hdr, f->buf, BUF_CAP, &plen)
    dv_delta_builder_begin(b, DV_OP_INSERT);
    dv_delta_builder_set_insert(b, 1, "", 0, 4, v);
    assert_int_equal(ENC(), DV_EID);
    dv_delta_builder_begin(b, DV_OP_INSERT);
    dv_delta_builder_set_insert(b, 1, "\xc0\xaf", 0, 4, v);
    assert_int_equal(ENC(), DV_EID);
    v[2] = NAN;
    dv_delta_builder_begin(b, DV_OP_INSERT);
    dv_delta_builder_set_insert(b, 1, "x", 0, 4, v);
    assert_int_equal(ENC(), DV_ENONFINITE);
    v[2] = 3;
    dv_delta_builder_begin(b, DV_OP_UPDATE);
    dv_delta_builder_set_sparse(b, 1, "x", 4, idx, v, NULL, 2);
    assert_int_equal(ENC(), DV_EDIM);
    dv_delta_builder_begin(b, DV_OP_INSERT);
    dv_delta_builder_set_insert(b, 1, "x", 0, 4, v);
    dv_delta_builder_meta(b, "k", NULL);
    assert_int_equal(ENC(), DV_EMETA);
    dv_delta_builder_begin(b, DV_OP_UPDATE);
    dv_delta_builder_set_meta_target(b, 1, "x");
    assert_int_equal(ENC(), DV_EINVAL); /* an empty update */
    dv_delta_builder_begin(b, DV_OP_REINDEX);
    assert_int_equal(ENC(), DV_EINVAL);
    dv_delta_builder_begin(b, DV_OP_INSERT);
    assert_int_equal(dv_delta_builder_set_insert(b, 1, "x", 0, DV_MAX_DIM + 1, v),
                     DV_EDIM); /* before copying */
    dv_delta_builder_begin(b, DV_OP_INSERT);
    dv_delta_builder_set_insert(b, 1, "x", 0, 4, v);
    b->d.dim = b->d.n = DV_MAX_DIM + 1;
    assert_int_equal(ENC(), DV_EDIM);
#undef ENC
}

/* ---- hostile input ----------------------------------------------------- */

/* Seals a hand-made body into a full delta in f->buf; returns its length. */
static size_t craft(fixture *f, uint8_t op, uint8_t flags, const char *id, uint64_t seq, const uint8_t *body,
                    size_t len) {
    dv_delta_header h;
    memset(&h, 0, sizeof h);
    h.sequence = seq;
    h.operation = op;
    h.flags = flags;
    h.version = DV_DELTA_FORMAT_VERSION;
    h.vector_id_hash = id ? dv_delta_id_hash(id, strlen(id)) : 0;
    h.payload_size = (uint32_t)len;
    dv_delta_header_encode(&h, f->buf);
    memcpy(f->buf + 64, body, len);
    dv_delta_seal(f->buf, f->buf + 64, len);
    return 64 + len;
}

static dv_status craft_decode(fixture *f, uint8_t op, uint8_t flags, const char *id, const uint8_t *body,
                              size_t len) {
    size_t n = craft(f, op, flags, id, 1, body, len);
    dv_delta d;
    return decode(f, f->buf, n, &d);
}

#define ONE 0x00, 0x00, 0x80, 0x3F
#define QNAN 0x00, 0x00, 0xC0, 0x7F
#define PINF 0x00, 0x00, 0x80, 0x7F

static void crafted_payloads_give_their_specific_status(void **state) {
    fixture *f = *state;
    struct {
        const char *what;
        uint8_t op, flags;
        const char *id;
        uint8_t body[48];
        size_t len;
        dv_status want;
    } cases[] = {
        /* INSERT: slot, idlen, id, level, dim, coding, floats */
        {"valid insert", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 2, 0, ONE, ONE}, 14, DV_OK},
        {"trailing byte", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 2, 0, ONE, ONE, 0}, 15, DV_ECORRUPT},
        {"short floats", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 2, 0, ONE, 0, 0}, 12, DV_ECORRUPT},
        {"dim 0", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 0, 0}, 6, DV_EDIM},
        {"dim too big", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 0x81, 0x40, 0}, 7, DV_EDIM},
        {"NaN value", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 2, 0, ONE, QNAN}, 14, DV_ENONFINITE},
        {"Inf value", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 1, 0, PINF}, 10, DV_ENONFINITE},
        {"empty id", DV_OP_INSERT, 0, "a", {1, 0, 0, 1, 0, ONE}, 9, DV_EID},
        {"bad utf8 id", DV_OP_INSERT, 0, "a", {1, 1, 0xC0, 0, 1, 0, ONE}, 9, DV_EID},
        {"id with NUL", DV_OP_INSERT, 0, "a", {1, 2, 'a', 0, 0, 1, 0, ONE}, 10, DV_EID},
        {"id too long", DV_OP_INSERT, 0, "a", {1, 0x80, 0x02, 'a'}, 4, DV_EID},
        {"slot is NO_SLOT",
         DV_OP_INSERT,
         0,
         "a",
         {0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 'a', 0, 1, 0, ONE},
         14,
         DV_ECORRUPT},
        {"level too big", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0x80, 0x02, 1, 0, ONE}, 10, DV_ECORRUPT},
        {"overlong varint", DV_OP_INSERT, 0, "a", {0x81, 0x00, 1, 'a', 0, 1, 0, ONE}, 10, DV_ECORRUPT},
        {"wrong id hash", DV_OP_INSERT, 0, "b", {1, 1, 'a', 0, 1, 0, ONE}, 10, DV_ECORRUPT},
        {"bad coding byte", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 1, 0x10, ONE}, 10, DV_ECORRUPT},
        {"xor on insert", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 1, 0x08, ONE}, 10, DV_ECORRUPT},
        {"f16 without flag", DV_OP_INSERT, 0, "a", {1, 1, 'a', 0, 1, 1, 0, 0x3C}, 8, DV_ECORRUPT},
        {"f16 with flag", DV_OP_INSERT, DV_FLAG_LOSSY_F16, "a", {1, 1, 'a', 0, 1, 1, 0, 0x3C}, 8, DV_OK},
        {"f16 inf", DV_OP_INSERT, DV_FLAG_LOSSY_F16, "a", {1, 1, 'a', 0, 1, 1, 0, 0x7C}, 8, DV_ENONFINITE},
        {"flag without arrays",
         DV_OP_INSERT,
         DV_FLAG_LOSSY_I8,
         "a",
         {1, 1, 'a', 0, 1, 0, ONE},
         10,
         DV_ECORRUPT},
        {"i8 nan scale",
         DV_OP_INSERT,
         DV_FLAG_LOSSY_I8,
         "a",
         {1, 1, 'a', 0, 1, 2, ONE, QNAN, 7},
         15,
         DV_ENONFINITE},
        {"i8 negative scale",
         DV_OP_INSERT,
         DV_FLAG_LOSSY_I8,
         "a",
         {1, 1, 'a', 0, 1, 2, ONE, 0, 0, 0x80, 0xBF, 7},
         15,
         DV_ECORRUPT},
        /* INSERT + META: count, klen, key, vlen, value */
        {"meta ok",
         DV_OP_INSERT,
         DV_FLAG_HAS_META,
         "a",
         {1, 1, 'a', 0, 1, 0, ONE, 1, 1, 'k', 1, 'v'},
         15,
         DV_OK},
        {"meta empty value",
         DV_OP_INSERT,
         DV_FLAG_HAS_META,
         "a",
         {1, 1, 'a', 0, 1, 0, ONE, 1, 1, 'k', 0},
         14,
         DV_EMETA},
        {"meta count 0", DV_OP_INSERT, DV_FLAG_HAS_META, "a", {1, 1, 'a', 0, 1, 0, ONE, 0}, 11, DV_ECORRUPT},
        {"meta too many", DV_OP_INSERT, DV_FLAG_HAS_META, "a", {1, 1, 'a', 0, 1, 0, ONE, 65}, 11, DV_EMETA},
        {"meta huge count",
         DV_OP_INSERT,
         DV_FLAG_HAS_META,
         "a",
         {1, 1, 'a', 0, 1, 0, ONE, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F},
         15,
         DV_EMETA},
        /* UPDATE: kind, slot, id, ... */
        {"sparse ok", DV_OP_UPDATE, DV_FLAG_SPARSE, "a", {2, 1, 1, 'a', 4, 2, 0, 2, 0, ONE, ONE}, 17, DV_OK},
        {"sparse idx >= dim",
         DV_OP_UPDATE,
         DV_FLAG_SPARSE,
         "a",
         {2, 1, 1, 'a', 4, 2, 0, 3, 0, ONE, ONE},
         17,
         DV_EDIM},
        {"sparse n > dim",
         DV_OP_UPDATE,
         DV_FLAG_SPARSE,
         "a",
         {2, 1, 1, 'a', 1, 2, 0, 0, 0, ONE, ONE},
         17,
         DV_ECORRUPT},
        {"sparse n 0", DV_OP_UPDATE, DV_FLAG_SPARSE, "a", {2, 1, 1, 'a', 4, 0, 0}, 7, DV_ECORRUPT},
        {"kind/flag mismatch", DV_OP_UPDATE, 0, "a", {2, 1, 1, 'a', 4, 1, 0, 0, ONE}, 13, DV_ECORRUPT},
        {"unknown kind", DV_OP_UPDATE, 0, "a", {3, 1, 1, 'a'}, 4, DV_ECORRUPT},
        {"empty update", DV_OP_UPDATE, 0, "a", {0, 1, 1, 'a'}, 4, DV_ECORRUPT},
        {"meta op ok", DV_OP_UPDATE, DV_FLAG_HAS_META, "a", {0, 1, 1, 'a', 1, 0, 1, 'k'}, 8, DV_OK},
        {"meta op bad type",
         DV_OP_UPDATE,
         DV_FLAG_HAS_META,
         "a",
         {0, 1, 1, 'a', 1, 2, 1, 'k'},
         8,
         DV_ECORRUPT},
        {"xor without before", DV_OP_UPDATE, 0, "a", {1, 1, 1, 'a', 1, 0x08, ONE}, 10, DV_ECORRUPT},
        {"xor ok",
         DV_OP_UPDATE,
         DV_FLAG_HAS_BEFORE,
         "a",
         {1, 1, 1, 'a', 1, 0x08, 0, 0, 0, 0, 0, ONE},
         15,
         DV_OK},
        {"dense nan before",
         DV_OP_UPDATE,
         DV_FLAG_HAS_BEFORE,
         "a",
         {1, 1, 1, 'a', 1, 0, ONE, 0, QNAN},
         15,
         DV_ENONFINITE},
        /* DELETE */
        {"delete ok", DV_OP_DELETE, 0, "a", {1, 1, 'a'}, 3, DV_OK},
        {"delete before ok", DV_OP_DELETE, DV_FLAG_HAS_BEFORE, "a", {1, 1, 'a', 1, 0, ONE}, 9, DV_OK},
        /* HNSW: sections, layer, n_rm, (from,to)*, n_add, (from,to,f32)*, has_entry, [entry, max] */
        {"reindex ok",
         DV_OP_REINDEX,
         DV_FLAG_HAS_HNSW,
         NULL,
         {1, 0, 1, 1, 2, 1, 2, 1, ONE, 1, 5, 0},
         15,
         DV_OK},
        {"empty section", DV_OP_REINDEX, DV_FLAG_HAS_HNSW, NULL, {1, 0, 0, 0, 0}, 5, DV_ECORRUPT},
        {"flag without graph", DV_OP_REINDEX, DV_FLAG_HAS_HNSW, NULL, {0, 0}, 2, DV_ECORRUPT},
        {"entry byte 2", DV_OP_REINDEX, DV_FLAG_HAS_HNSW, NULL, {0, 2, 1, 1}, 4, DV_ECORRUPT},
        {"nan distance",
         DV_OP_REINDEX,
         DV_FLAG_HAS_HNSW,
         NULL,
         {1, 0, 0, 1, 1, 2, QNAN, 0},
         11,
         DV_ENONFINITE},
        {"layer too big",
         DV_OP_REINDEX,
         DV_FLAG_HAS_HNSW,
         NULL,
         {1, 0x80, 0x02, 1, 1, 2, 0, 0},
         8,
         DV_ECORRUPT},
        {"huge edge count",
         DV_OP_REINDEX,
         DV_FLAG_HAS_HNSW,
         NULL,
         {1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0},
         8,
         DV_ECORRUPT},
        {"entry only",
         DV_OP_REINDEX,
         DV_FLAG_HAS_HNSW,
         NULL,
         {0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0},
         8,
         DV_OK},
        {"id hash on reindex", DV_OP_REINDEX, DV_FLAG_HAS_HNSW, "a", {0, 1, 1, 0}, 4, DV_ECORRUPT},
        /* PURGE: n, then gap-coded slots (after the graph part when HAS_HNSW) */
        {"purge ok", DV_OP_REINDEX, DV_FLAG_PURGE, NULL, {3, 4, 0, 9}, 4, DV_OK},
        {"graph and purge ok",
         DV_OP_REINDEX,
         DV_FLAG_HAS_HNSW | DV_FLAG_PURGE,
         NULL,
         {0, 1, 1, 0, 1, 7},
         6,
         DV_OK},
        {"purge of none", DV_OP_REINDEX, DV_FLAG_PURGE, NULL, {0}, 1, DV_ECORRUPT},
        {"purge count past the end", DV_OP_REINDEX, DV_FLAG_PURGE, NULL, {5, 1, 2}, 3, DV_ECORRUPT},
        {"purge short", DV_OP_REINDEX, DV_FLAG_PURGE, NULL, {2, 1}, 2, DV_ECORRUPT},
        {"purge trailing byte", DV_OP_REINDEX, DV_FLAG_PURGE, NULL, {1, 1, 0}, 3, DV_ECORRUPT},
        {"purged slot NO_SLOT",
         DV_OP_REINDEX,
         DV_FLAG_PURGE,
         NULL,
         {1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F},
         6,
         DV_ECORRUPT},
        {"purge gap past NO_SLOT",
         DV_OP_REINDEX,
         DV_FLAG_PURGE,
         NULL,
         {2, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F, 0},
         7,
         DV_ECORRUPT},
        /* BATCH bodies are built by the batch test; COMPRESSED: raw-size prefix + LZ4 block */
        {"lz4 garbage", DV_OP_DELETE, DV_FLAG_COMPRESSED, "a", {3, 0xFF, 0xFF}, 3, DV_ECORRUPT},
        {"lz4 raw size 0", DV_OP_DELETE, DV_FLAG_COMPRESSED, "a", {0, 0x30, 1, 1, 'a'}, 5, DV_ECORRUPT},
        {"lz4 raw too big",
         DV_OP_DELETE,
         DV_FLAG_COMPRESSED,
         "a",
         {0x81, 0x80, 0x80, 0x20, 0x30},
         5,
         DV_ETOOBIG},
        {"lz4 ok", DV_OP_DELETE, DV_FLAG_COMPRESSED, "a", {3, 0x30, 1, 1, 'a'}, 5, DV_OK},
        {"lz4 short output", DV_OP_DELETE, DV_FLAG_COMPRESSED, "a", {4, 0x30, 1, 1, 'a'}, 5, DV_ECORRUPT},
        {"compressed empty", DV_OP_DELETE, DV_FLAG_COMPRESSED, "a", {3}, 1, DV_ECORRUPT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dv_status s = craft_decode(f, cases[i].op, cases[i].flags, cases[i].id, cases[i].body, cases[i].len);
        if (s != cases[i].want)
            fail_msg("case '%s': got %s, want %s", cases[i].what, dv_status_name(s),
                     dv_status_name(cases[i].want));
    }
}

static void decode_limits_are_enforced(void **state) {
    fixture *f = *state;
    dv_encode_opts o = opts(0, 0, 0, DV_VALUES_F32);
    size_t len = dv_sample_encode(DV_SAMPLE_INSERT, &o, f->buf, sizeof f->buf);
    dv_delta d;
    dv_decode_limits lim = {0, DV_SAMPLE_DIM - 1};
    dv_delta_arena_reset(&f->arena);
    assert_int_equal(dv_delta_decode_buf(f->buf, len, &lim, &f->arena, &d), DV_EDIM);
    lim = (dv_decode_limits){(uint32_t)(len - 65), 0};
    assert_int_equal(dv_delta_decode_buf(f->buf, len, &lim, &f->arena, &d), DV_ETOOBIG);
    lim = (dv_decode_limits){(uint32_t)(len - 64), DV_SAMPLE_DIM};
    assert_int_equal(dv_delta_decode_buf(f->buf, len, &lim, &f->arena, &d), DV_OK);
    assert_int_equal(dv_delta_decode_buf(NULL, 0, NULL, &f->arena, &d), DV_ETRUNCATED);
    assert_int_equal(dv_delta_decode(f->buf, NULL, 5, NULL, &f->arena, &d), DV_EINVAL);
}

/* Builds a batch body by hand from sub-deltas encoded standalone. */
static void batch_structure_is_checked(void **state) {
    fixture *f = *state;
    dv_encode_opts o = opts(0, 0, 0, DV_VALUES_F32);
    size_t len = dv_sample_encode(DV_SAMPLE_BATCH, &o, f->buf, sizeof f->buf);
    static uint8_t good[BUF_CAP];
    size_t blen = len - 64;
    memcpy(good, f->buf + 64, blen);
    dv_delta d;
    assert_int_equal(craft_decode(f, DV_OP_BATCH, 0, NULL, good, blen), DV_ECORRUPT); /* seq 1 != 100 */
    size_t n = craft(f, DV_OP_BATCH, 0, NULL, 100, good, blen);
    assert_int_equal(decode(f, f->buf, n, &d), DV_OK);
    static uint8_t bad[BUF_CAP];
    /* first sub's payload_offset off by one (structural, not checksummed) */
    memcpy(bad, good, blen);
    dv_st32(bad + 24, dv_ld32(bad + 24) + 1);
    n = craft(f, DV_OP_BATCH, 0, NULL, 100, bad, blen);
    assert_int_equal(decode(f, f->buf, n, &d), DV_ECORRUPT);
    /* a sub byte flipped: the sub checksum catches it even with a valid outer checksum */
    memcpy(bad, good, blen);
    bad[64 + 2] ^= 1;
    n = craft(f, DV_OP_BATCH, 0, NULL, 100, bad, blen);
    assert_int_equal(decode(f, f->buf, n, &d), DV_ECHECKSUM);
    /* a nested batch, a compressed sub */
    memcpy(bad, good, blen);
    bad[8] = DV_OP_BATCH;
    bad[9] = 0;
    dv_delta_seal(bad, bad + 64, dv_ld32(bad + 28));
    n = craft(f, DV_OP_BATCH, 0, NULL, 100, bad, blen);
    assert_int_equal(decode(f, f->buf, n, &d), DV_EBADOP);
    memcpy(bad, good, blen);
    bad[9] |= DV_FLAG_COMPRESSED;
    dv_delta_seal(bad, bad + 64, dv_ld32(bad + 28));
    n = craft(f, DV_OP_BATCH, 0, NULL, 100, bad, blen);
    assert_int_equal(decode(f, f->buf, n, &d), DV_EBADOP);
    /* truncated sub, a sub claiming more than the body, an empty batch */
    n = craft(f, DV_OP_BATCH, 0, NULL, 100, good, blen - 1);
    assert_int_equal(decode(f, f->buf, n, &d), DV_ECORRUPT);
    n = craft(f, DV_OP_BATCH, 0, NULL, 100, good, 63);
    assert_int_equal(decode(f, f->buf, n, &d), DV_ECORRUPT);
    n = craft(f, DV_OP_BATCH, 0, NULL, 100, good, 0);
    assert_int_equal(decode(f, f->buf, n, &d), DV_ECORRUPT);
}

static void every_bit_flip_is_detected(void **state) {
    fixture *f = *state;
    static uint8_t orig[BUF_CAP];
    for (int k = 0; k < DV_SAMPLE_COUNT; k++) {
        for (int c = 0; c < 2; c++) {
            dv_encode_opts o = opts(c, 1, 0, DV_VALUES_F32);
            size_t len = dv_sample_encode(k, &o, orig, sizeof orig);
            for (size_t i = 0; i < len; i++) {
                if (i >= 24 && i < 28) continue; /* payload_offset: container data, by design */
                for (int bit = 0; bit < 8; bit++) {
                    memcpy(f->buf, orig, len);
                    f->buf[i] ^= (uint8_t)(1u << bit);
                    dv_delta d;
                    dv_status s = decode(f, f->buf, len, &d);
                    if (s == DV_OK)
                        fail_msg("sample %d compress %d: flip byte %zu bit %d undetected", k, c, i, bit);
                }
            }
        }
    }
}

static void every_truncation_is_refused(void **state) {
    fixture *f = *state;
    for (int k = 0; k < DV_SAMPLE_COUNT; k++) {
        size_t len = dv_sample_encode(k, NULL, f->buf, sizeof f->buf);
        for (size_t cut = 0; cut < len; cut++) {
            dv_delta d;
            /* copy to an exact-size heap buffer so ASan sees any over-read */
            uint8_t *p = test_malloc(cut ? cut : 1);
            memcpy(p, f->buf, cut);
            dv_delta_arena_reset(&f->arena);
            assert_int_equal(dv_delta_decode_buf(p, cut, NULL, &f->arena, &d), DV_ETRUNCATED);
            test_free(p);
        }
    }
}

/* Mutations behind a valid checksum: exercise the structural checks (the
 * checksum would otherwise stop nearly all of them). Must never crash or
 * read out of bounds; any status is acceptable. */
static void resealed_mutations_never_crash(void **state) {
    fixture *f = *state;
    static uint8_t orig[BUF_CAP];
    uint64_t x = 12345;
    int ok = 0, refused = 0;
    for (int k = 0; k < DV_SAMPLE_COUNT; k++) {
        dv_encode_opts o = opts(0, k & 1, 1, (dv_value_mode)(k % 3));
        size_t len = dv_sample_encode(k, &o, orig, sizeof orig);
        for (int round = 0; round < 3000; round++) {
            memcpy(f->buf, orig, len);
            int nmut = 1 + (int)(x % 3);
            for (int m = 0; m < nmut; m++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t pos = 64 + (size_t)(x % (len - 64));
                f->buf[pos] = (uint8_t)(x >> 32);
            }
            size_t plen = len - 64;
            if (x & 1) plen -= (size_t)((x >> 8) % (plen < 8 ? plen : 8)); /* also shorten */
            dv_st32(f->buf + 28, (uint32_t)plen);
            dv_delta_seal(f->buf, f->buf + 64, plen);
            uint8_t *p = test_malloc(64 + plen);
            memcpy(p, f->buf, 64 + plen);
            dv_delta d;
            dv_delta_arena_reset(&f->arena);
            dv_status s = dv_delta_decode_buf(p, 64 + plen, NULL, &f->arena, &d);
            if (s == DV_OK) {
                ok++;
                rec r = {.n = 0, .stop_at = 60};
                dv_delta_to_events(&d, record, &r);
            } else {
                refused++;
            }
            test_free(p);
        }
    }
    assert_true(refused > 0);
    (void)ok;
}

/* ---- random round trips ------------------------------------------------ */

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static float rnd_float(uint64_t *s) { return (float)((double)(rng(s) % 2000001) / 1000000.0 - 1.0); }

static void random_deltas_round_trip(void **state) {
    fixture *f = *state;
    dv_delta_builder *b = &f->b;
    uint64_t s = 0xC0FFEE;
    static float v[DV_MAX_DIM], old[DV_MAX_DIM];
    static uint32_t idx[DV_MAX_DIM];
    static uint8_t payload[4 * DV_MAX_DIM * 3 + 4096];
    for (int it = 0; it < 3000; it++) {
        uint32_t dim = 1 + (uint32_t)(rng(&s) % (it % 10 == 0 ? DV_MAX_DIM : 64));
        for (uint32_t i = 0; i < dim; i++) {
            old[i] = rnd_float(&s);
            v[i] = (rng(&s) & 3) ? old[i] : rnd_float(&s);
        }
        char id[32];
        size_t idl = 1 + rng(&s) % 20;
        for (size_t i = 0; i < idl; i++) id[i] = (char)('a' + rng(&s) % 26);
        id[idl] = 0;
        int op = (int)(rng(&s) % 5);
        uint32_t slot = (uint32_t)(rng(&s) % 100000);
        switch (op) {
        case 0:
            dv_delta_builder_begin(b, DV_OP_INSERT);
            dv_delta_builder_set_insert(b, slot, id, (uint32_t)(rng(&s) % 8), dim, v);
            if (rng(&s) & 1) dv_delta_builder_meta(b, "k", id);
            break;
        case 1:
            dv_delta_builder_begin(b, DV_OP_UPDATE);
            dv_delta_builder_set_dense(b, slot, id, dim, v, (rng(&s) & 1) ? old : NULL);
            break;
        case 2: {
            uint32_t n = 0;
            for (uint32_t i = 0; i < dim; i++)
                if (rng(&s) % 8 == 0) idx[n++] = i;
            if (n == 0) idx[n++] = dim - 1;
            float vals[DV_MAX_DIM];
            for (uint32_t i = 0; i < n; i++) vals[i] = rnd_float(&s);
            dv_delta_builder_begin(b, DV_OP_UPDATE);
            dv_delta_builder_set_sparse(b, slot, id, dim, idx, vals, (rng(&s) & 1) ? old : NULL, n);
            if (rng(&s) & 1) dv_delta_builder_meta(b, "m", NULL);
            break;
        }
        case 3:
            dv_delta_builder_begin(b, DV_OP_DELETE);
            dv_delta_builder_set_delete(b, slot, id, dim, (rng(&s) & 1) ? old : NULL);
            break;
        default:
            dv_delta_builder_begin(b, DV_OP_REINDEX);
            break;
        }
        int edges = (int)(rng(&s) % 40) + (op == 4);
        for (int e = 0; e < edges; e++) {
            uint32_t layer = (uint32_t)(rng(&s) % 3);
            uint32_t a = (uint32_t)(rng(&s) % 70000), c = (uint32_t)(rng(&s) % 70000);
            if (rng(&s) & 1)
                dv_delta_builder_edge_add(b, layer, a, c, rnd_float(&s));
            else
                dv_delta_builder_edge_remove(b, layer, a, c);
        }
        if (rng(&s) & 1) dv_delta_builder_entry(b, (uint32_t)(rng(&s) % 1000), (uint32_t)(rng(&s) % 5));
        b->d.h.sequence = rng(&s);
        b->d.h.prev_sequence = rng(&s);
        b->d.h.timestamp = rng(&s);
        dv_encode_opts o = opts((int)(rng(&s) & 1), (int)(rng(&s) & 1), (int)(rng(&s) & 1), DV_VALUES_F32);
        size_t bound = dv_delta_encoded_bound(&b->d);
        assert_true(bound > 0 && bound <= sizeof payload);
        uint8_t hdr[64];
        size_t plen;
        assert_int_equal(dv_delta_encode(&b->d, &o, &f->scratch, hdr, payload, bound, &plen), DV_OK);
        dv_delta d;
        dv_delta_arena_reset(&f->arena);
        assert_int_equal(dv_delta_decode(hdr, payload, plen, NULL, &f->arena, &d), DV_OK);
        assert_true(dv_delta_same(&d, &b->d));
        assert_int_equal(d.h.sequence, b->d.h.sequence);
        assert_int_equal(d.h.prev_sequence, b->d.h.prev_sequence);
        assert_int_equal(d.h.timestamp, b->d.h.timestamp);
    }
}

/* An allocator that refuses after `budget` successful allocations. */
typedef struct budget {
    int budget;
} budget;

static void *budget_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    budget *b = ctx;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    if (b->budget-- <= 0) return NULL;
    return realloc(ptr, new_size);
}

static void allocation_failures_give_enomem_and_leak_nothing(void **state) {
    fixture *f = *state;
    for (int k = 0; k < DV_SAMPLE_COUNT; k++) {
        size_t len = dv_sample_encode(k, NULL, f->buf, sizeof f->buf);
        int succeeded = 0;
        for (int limit = 0; limit < 64 && !succeeded; limit++) {
            budget bud = {limit};
            dv_allocator a = {budget_realloc, &bud};
            dv_mem mem;
            dv_mem_init(&mem, &a);
            dv_delta_arena arena;
            dv_delta_arena_init(&arena, &mem);
            dv_delta d;
            dv_status s = dv_delta_decode_buf(f->buf, len, NULL, &arena, &d);
            if (s == DV_OK)
                succeeded = 1;
            else
                assert_int_equal(s, DV_ENOMEM);
            dv_delta_arena_free(&arena);
            assert_int_equal(mem.live_bytes, 0);
        }
        assert_true(succeeded);
    }
    /* the builder reports ENOMEM too, and frees cleanly */
    budget bud = {1};
    dv_allocator a = {budget_realloc, &bud};
    dv_mem mem;
    dv_mem_init(&mem, &a);
    dv_delta_builder b;
    dv_delta_builder_init(&b, &mem);
    dv_delta_builder_begin(&b, DV_OP_REINDEX);
    dv_status s = DV_OK;
    for (int i = 0; i < 100 && s == DV_OK; i++) s = dv_delta_builder_edge_add(&b, 0, 1, (uint32_t)i, 1.0f);
    assert_int_equal(s, DV_ENOMEM);
    dv_delta_builder_free(&b);
    assert_int_equal(mem.live_bytes, 0);
}

static void describe_prints_one_line_and_reports_errors(void **state) {
    fixture *f = *state;
    size_t len = dv_sample_encode(DV_SAMPLE_INSERT, NULL, f->buf, sizeof f->buf);
    char line[256];
    assert_int_equal(dv_delta_describe(f->buf, f->buf + 64, len - 64, line, sizeof line), DV_OK);
    assert_non_null(strstr(line, "seq=42 op=insert"));
    assert_non_null(strstr(line, "id=\"doc-7\""));
    assert_null(strchr(line, '\n'));
    f->buf[70] ^= 1;
    assert_int_equal(dv_delta_describe(f->buf, f->buf + 64, len - 64, line, sizeof line), DV_ECHECKSUM);
    assert_non_null(strstr(line, "error=DV_ECHECKSUM"));
    char tiny[8];
    dv_delta_describe(f->buf, f->buf + 64, len - 64, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_sample_round_trips_under_every_lossless_option, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(flags_describe_the_content, setup, teardown),
        cmocka_unit_test_setup_teardown(bound_covers_every_encoding_and_small_buffers_give_efull, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(payload_offset_is_carried_but_not_checksummed, setup, teardown),
        cmocka_unit_test_setup_teardown(events_come_out_in_replay_order, setup, teardown),
        cmocka_unit_test_setup_teardown(builder_opens_a_section_on_layer_change_or_remove_after_add, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(encoder_refuses_invalid_deltas, setup, teardown),
        cmocka_unit_test_setup_teardown(crafted_payloads_give_their_specific_status, setup, teardown),
        cmocka_unit_test_setup_teardown(decode_limits_are_enforced, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_structure_is_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(every_bit_flip_is_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(every_truncation_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(resealed_mutations_never_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(random_deltas_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(purge_lists_round_trip_and_replay_after_the_graph_part, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(allocation_failures_give_enomem_and_leak_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(describe_prints_one_line_and_reports_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
