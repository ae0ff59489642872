/*
 * test_stream.c -- the stream container (deltavec.h section 4b,
 * docs/FORMAT.md section 10): header codec, incremental reader under every
 * chunking, writer, dv_stream_verify, and the replica checks (DV_ECONFIG,
 * dv_db_open_from_stream, dv_apply_begin_stream).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "deltavec.h"
#include "support/membuf.h"
#include "support/stream.h"

#define DIM 8

/* ---- helpers ------------------------------------------------------------ */

static void membuf_put(membuf *m, const void *p, size_t n) { assert_int_equal(membuf_sink(m, p, n), DV_OK); }

/* A primary with a mixed workload, its deltas in p->stream. */
static void make_primary(test_primary *p, size_t writes) {
    test_primary_open(p, DIM, NULL, 1234);
    workload_mix mix = {4, 2, 2, 1, 1};
    test_primary_run(p, writes, &mix);
    test_primary_drain(p);
    assert_true(p->stream.n > 10);
}

/* The primary's stream as a container (mode structural, from sequence 1). */
static membuf write_stream(const test_primary *p, dv_stream_info *info_out) {
    dv_stream_info info;
    assert_int_equal(dv_stream_info_from_db(p->db, DV_STREAM_STRUCTURAL, 1, &info), DV_OK);
    for (int i = 0; i < DV_STREAM_DB_ID_SIZE; i++) info.db_id[i] = (uint8_t)(0xA0 + i);
    membuf m = {0};
    dv_stream_writer *w;
    assert_int_equal(dv_stream_writer_open(&info, membuf_sink, &m, NULL, &w), DV_OK);
    for (size_t i = 0; i < p->stream.n; i++) {
        const test_delta *d = &p->stream.d[i];
        assert_int_equal(dv_stream_writer_append(w, d->bytes, d->bytes + DV_DELTA_HEADER_SIZE,
                                                 d->len - DV_DELTA_HEADER_SIZE),
                         DV_OK);
    }
    assert_int_equal(dv_stream_writer_offset(w), m.n);
    assert_int_equal(dv_stream_writer_next_sequence(w), p->stream.n + 1);
    dv_stream_writer_free(w);
    if (info_out) *info_out = info;
    return m;
}

/* One reader answer, reduced to something comparable across chunkings. */
typedef struct item {
    dv_status st;
    uint64_t off;
    uint64_t hash; /* record bytes (records only) */
} item;

typedef struct run {
    item it[4096];
    size_t n;
    dv_status fin;
    uint64_t fin_off;
    uint64_t peak; /* allocator peak, when counted */
} run;

/* A record (possibly out of order or with a bad checksum): the reader goes on after it. */
static int is_record(dv_status st) {
    return st == DV_OK || st == DV_EGAP || st == DV_EDUPLICATE || st == DV_ECHECKSUM;
}

/* Feeds buf[0..split) as one chunk, then the rest in chunks of step bytes (0: one chunk). */
static void read_split(const uint8_t *buf, size_t len, size_t split, size_t step,
                       const dv_stream_reader_config *cfg, run *out) {
    dv_stream_reader *r;
    assert_int_equal(dv_stream_reader_open(cfg, &r), DV_OK);
    out->n = 0;
    size_t at = 0;
    int stop = 0;
    while (!stop && at < len) {
        size_t clen = at < split ? split - at : (step ? step : len - at);
        if (clen > len - at) clen = len - at;
        const uint8_t *chunk = buf + at;
        size_t pos = 0;
        for (;;) {
            size_t used = 0;
            dv_stream_record rec;
            dv_status st = dv_stream_reader_next(r, chunk + pos, clen - pos, &used, &rec);
            assert_true(used <= clen - pos);
            pos += used;
            if (st == DV_EEMPTY) {
                assert_int_equal(pos, clen);
                break;
            }
            item *it = &out->it[out->n++];
            assert_true(out->n < 4096);
            it->st = st;
            it->off = rec.offset;
            it->hash = 0;
            if (!dv_stream_reader_stopped(r)) {
                assert_true(is_record(st));
                assert_true(rec.offset + DV_DELTA_HEADER_SIZE + rec.payload_len <=
                            dv_stream_reader_offset(r));
                assert_memory_equal(rec.header, buf + rec.offset, DV_DELTA_HEADER_SIZE);
                assert_int_equal(rec.payload_len, rec.h.payload_size);
                if (st != DV_ECHECKSUM) {
                    XXH3_state_t hs;
                    XXH3_64bits_reset(&hs);
                    XXH3_64bits_update(&hs, rec.header, DV_DELTA_HEADER_SIZE);
                    XXH3_64bits_update(&hs, rec.payload, rec.payload_len);
                    it->hash = XXH3_64bits_digest(&hs);
                }
            } else {
                size_t again;
                assert_int_equal(dv_stream_reader_next(r, chunk, clen, &again, &rec), st); /* sticky */
                assert_int_equal(again, 0);
                stop = 1;
                break;
            }
        }
        at += clen;
    }
    out->fin = dv_stream_reader_finish(r, &out->fin_off);
    dv_stream_reader_free(r);
}

static void assert_same_run(const run *a, const run *b) {
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->it[i].st, b->it[i].st);
        assert_int_equal(a->it[i].off, b->it[i].off);
        assert_int_equal(a->it[i].hash, b->it[i].hash);
    }
    assert_int_equal(a->fin, b->fin);
    assert_int_equal(a->fin_off, b->fin_off);
}

/* Recomputes the stream header checksum after a test edits a field. */
static void reseal_header(uint8_t *h) {
    size_t size = (size_t)h[10] | ((size_t)h[11] << 8);
    memset(h + 16, 0, 8);
    uint64_t sum = XXH3_64bits(h, size);
    for (int i = 0; i < 8; i++) h[16 + i] = (uint8_t)(sum >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static dv_stream_info small_info(void) {
    dv_db *db = test_open_db(DIM, 42);
    dv_stream_info info;
    assert_int_equal(dv_stream_info_from_db(db, DV_STREAM_STRUCTURAL, 1, &info), DV_OK);
    dv_db_close(db);
    return info;
}

/* ---- header ------------------------------------------------------------- */

static void header_round_trips_every_field(void **state) {
    (void)state;
    dv_stream_info in = small_info(), out;
    in.mode = DV_STREAM_LOGICAL;
    in.lossy = 1;
    in.metric = DV_METRIC_COSINE;
    in.relink_ratio = 0.25f;
    in.first_sequence = 77;
    for (int i = 0; i < 16; i++) in.db_id[i] = (uint8_t)i;
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&in, h, sizeof h), DV_OK);
    assert_memory_equal(h, DV_STREAM_MAGIC, DV_STREAM_MAGIC_SIZE);
    size_t hs = 0;
    assert_int_equal(dv_stream_header_decode(h, sizeof h, &out, &hs), DV_OK);
    assert_int_equal(hs, DV_STREAM_HEADER_SIZE);
    assert_memory_equal(&in, &out, sizeof in);
    assert_int_equal(out.producer_version, DV_VERSION_NUMBER);
    assert_int_equal(out.M, 8);
    assert_int_equal(out.ef_construction, 48);
    assert_int_equal(out.seed, 42);
    /* a buffer too small, or an info out of range, is refused */
    assert_int_equal(dv_stream_header_encode(&in, h, DV_STREAM_HEADER_SIZE - 1), DV_EINVAL);
    in.dim = 0;
    assert_int_equal(dv_stream_header_encode(&in, h, sizeof h), DV_EINVAL);
}

static void truncated_header_at_every_length_is_truncated(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&info, h, sizeof h), DV_OK);
    for (size_t len = 0; len < DV_STREAM_HEADER_SIZE; len++) {
        dv_status want = len == 0 ? DV_EEMPTY : DV_ETRUNCATED;
        assert_int_equal(dv_stream_header_decode(h, len, NULL, NULL), want);
        run a;
        read_split(h, len, 0, 1, NULL, &a);
        assert_int_equal(a.n, 0);
        assert_int_equal(a.fin, want);
        assert_int_equal(a.fin_off, 0);
    }
    /* the whole header and nothing else: a valid, empty stream */
    run a;
    read_split(h, sizeof h, 0, 0, NULL, &a);
    assert_int_equal(a.n, 0);
    assert_int_equal(a.fin, DV_OK);
    dv_stream_summary s;
    assert_int_equal(dv_stream_verify(h, sizeof h, NULL, NULL, &s), DV_OK);
    assert_true(s.has_info);
    assert_int_equal(s.records, 0);
}

static void empty_input_is_an_empty_stream(void **state) {
    (void)state;
    dv_stream_reader *r;
    assert_int_equal(dv_stream_reader_open(NULL, &r), DV_OK);
    dv_stream_record rec;
    size_t used;
    assert_int_equal(dv_stream_reader_next(r, NULL, 0, &used, &rec), DV_EEMPTY);
    assert_int_equal(dv_stream_reader_finish(r, NULL), DV_EEMPTY);
    assert_non_null(strstr(dv_stream_reader_message(r), "empty stream"));
    dv_stream_info info;
    assert_int_equal(dv_stream_reader_info(r, &info), DV_EEMPTY);
    dv_stream_reader_free(r);
    dv_stream_summary s;
    assert_int_equal(dv_stream_verify(NULL, 0, NULL, NULL, &s), DV_EEMPTY);
    assert_int_equal(s.problems, 1);
    assert_false(s.has_info);
}

static void bad_magic_is_not_a_stream(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&info, h, sizeof h), DV_OK);
    for (size_t i = 0; i < DV_STREAM_MAGIC_SIZE; i++) {
        uint8_t bad[DV_STREAM_HEADER_SIZE];
        memcpy(bad, h, sizeof bad);
        bad[i] ^= 0x20; /* e.g. a CRLF -> LF conversion would also break byte 4/5 */
        assert_int_equal(dv_stream_header_decode(bad, sizeof bad, NULL, NULL), DV_ENOTSTREAM);
        run a;
        read_split(bad, sizeof bad, 0, 1, NULL, &a);
        assert_int_equal(a.n, 1);
        assert_int_equal(a.it[0].st, DV_ENOTSTREAM);
        assert_int_equal(a.it[0].off, 0);
        assert_int_equal(a.fin, DV_ENOTSTREAM);
    }
    /* a text file is refused at its first byte, even with one byte fed */
    dv_stream_reader *r;
    assert_int_equal(dv_stream_reader_open(NULL, &r), DV_OK);
    dv_stream_record rec;
    size_t used;
    assert_int_equal(dv_stream_reader_next(r, (const uint8_t *)"h", 1, &used, &rec), DV_ENOTSTREAM);
    assert_non_null(strstr(dv_stream_reader_message(r), "not a deltavec stream"));
    dv_stream_reader_free(r);
    /* the old header-less framing (a raw delta first) is not a stream either */
    test_primary p;
    make_primary(&p, 20);
    assert_int_equal(dv_stream_header_decode(p.stream.d[0].bytes, p.stream.d[0].len, NULL, NULL),
                     DV_ENOTSTREAM);
    test_primary_close(&p);
}

static void header_checksum_mismatch_is_refused(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&info, h, sizeof h), DV_OK);
    for (size_t i = 12; i < sizeof h; i++) { /* every byte after the prefix is covered */
        uint8_t bad[DV_STREAM_HEADER_SIZE];
        memcpy(bad, h, sizeof bad);
        bad[i] ^= 0x01;
        assert_int_equal(dv_stream_header_decode(bad, sizeof bad, NULL, NULL), DV_ECHECKSUM);
    }
    /* the stream header's checksum stops the reader (a record's would not) */
    uint8_t bad[DV_STREAM_HEADER_SIZE];
    memcpy(bad, h, sizeof bad);
    bad[30] ^= 1;
    run a;
    read_split(bad, sizeof bad, 0, 3, NULL, &a);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.it[0].st, DV_ECHECKSUM);
    assert_int_equal(a.fin, DV_ECHECKSUM);
    dv_stream_summary s;
    assert_int_equal(dv_stream_verify(bad, sizeof bad, NULL, NULL, &s), DV_ECHECKSUM);
    assert_int_equal(s.problems, 1);
    assert_int_equal(s.records, 0);
}

static void unknown_versions_are_refused(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&info, h, sizeof h), DV_OK);
    uint8_t bad[DV_STREAM_HEADER_SIZE];
    memcpy(bad, h, sizeof bad);
    bad[8] = 2; /* container version 2: refused whatever follows, even unsealed and short */
    assert_int_equal(dv_stream_header_decode(bad, sizeof bad, NULL, NULL), DV_EVERSION);
    assert_int_equal(dv_stream_header_decode(bad, 10, NULL, NULL), DV_EVERSION);
    run a;
    read_split(bad, sizeof bad, 0, 1, NULL, &a);
    assert_int_equal(a.it[0].st, DV_EVERSION);
    memcpy(bad, h, sizeof bad);
    bad[12] = 2; /* record format version 2 */
    reseal_header(bad);
    assert_int_equal(dv_stream_header_decode(bad, sizeof bad, NULL, NULL), DV_EVERSION);
}

static void out_of_range_fields_are_corrupt(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&info, h, sizeof h), DV_OK);
    struct {
        size_t off, width;
        uint32_t value;
    } cases[] = {
        {14, 1, 2}, /* mode */
        {15, 1, 3}, /* lossy */
        {24, 4, 0}, /* dim */
        {24, 4, DV_MAX_DIM + 1},
        {28, 4, 3}, /* metric */
        {32, 4, 1}, /* M */
        {32, 4, DV_MAX_M + 1},
        {36, 4, 0}, /* ef_construction */
        {36, 4, (1u << 24) + 1},
        {48, 4, 0x7FC00000u}, /* relink_ratio NaN */
        {48, 4, 0xBF800000u}, /* -1 */
        {56, 4, 0},           /* first_sequence 0 (low word; high word is 0) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t bad[DV_STREAM_HEADER_SIZE];
        memcpy(bad, h, sizeof bad);
        if (cases[i].width == 1)
            bad[cases[i].off] = (uint8_t)cases[i].value;
        else
            put32(bad + cases[i].off, cases[i].value);
        reseal_header(bad);
        assert_int_equal(dv_stream_header_decode(bad, sizeof bad, NULL, NULL), DV_ECORRUPT);
    }
    /* header_size outside 80..4096: corrupt before any checksum */
    uint8_t bad[DV_STREAM_HEADER_SIZE];
    memcpy(bad, h, sizeof bad);
    bad[10] = 79;
    assert_int_equal(dv_stream_header_decode(bad, sizeof bad, NULL, NULL), DV_ECORRUPT);
    bad[10] = 0x01;
    bad[11] = 0x10; /* 4097 */
    assert_int_equal(dv_stream_header_decode(bad, sizeof bad, NULL, NULL), DV_ECORRUPT);
}

static void longer_header_tail_is_skipped(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 40);
    membuf m = write_stream(&p, NULL);
    /* a later writer's 96-byte header: 16 unknown bytes after the known fields */
    const size_t extra = 16;
    membuf m2 = {0};
    membuf_put(&m2, m.b, DV_STREAM_HEADER_SIZE);
    uint8_t tail[16];
    memset(tail, 0x5A, sizeof tail);
    membuf_put(&m2, tail, extra);
    membuf_put(&m2, m.b + DV_STREAM_HEADER_SIZE, m.n - DV_STREAM_HEADER_SIZE);
    m2.b[10] = (uint8_t)(DV_STREAM_HEADER_SIZE + extra);
    reseal_header(m2.b);
    dv_stream_info info;
    size_t hs;
    assert_int_equal(dv_stream_header_decode(m2.b, m2.n, &info, &hs), DV_OK);
    assert_int_equal(hs, DV_STREAM_HEADER_SIZE + extra);
    assert_int_equal(info.dim, DIM);
    run a, b;
    read_split(m.b, m.n, 0, 0, NULL, &a);
    read_split(m2.b, m2.n, 0, 7, NULL, &b);
    assert_int_equal(a.n, p.stream.n);
    assert_int_equal(b.n, a.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(b.it[i].st, DV_OK);
        assert_int_equal(b.it[i].off, a.it[i].off + extra);
    }
    assert_int_equal(b.fin, DV_OK);
    /* the tail is covered by the checksum */
    m2.b[DV_STREAM_HEADER_SIZE + 3] ^= 1;
    assert_int_equal(dv_stream_header_decode(m2.b, m2.n, NULL, NULL), DV_ECHECKSUM);
    free(m.b);
    free(m2.b);
    test_primary_close(&p);
}

/* ---- reader and writer -------------------------------------------------- */

static void writer_and_reader_round_trip(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 300);
    dv_stream_info winfo;
    membuf m = write_stream(&p, &winfo);
    dv_stream_reader *r;
    assert_int_equal(dv_stream_reader_open(NULL, &r), DV_OK);
    size_t pos = 0, k = 0;
    for (;;) {
        dv_stream_record rec;
        size_t used;
        dv_status st = dv_stream_reader_next(r, m.b + pos, m.n - pos, &used, &rec);
        pos += used;
        if (st == DV_EEMPTY) break;
        assert_int_equal(st, DV_OK);
        if (k == 0) {
            dv_stream_info info;
            assert_int_equal(dv_stream_reader_info(r, &info), DV_OK);
            assert_memory_equal(&info, &winfo, sizeof info);
            assert_int_equal(rec.offset, DV_STREAM_HEADER_SIZE);
        }
        const test_delta *d = &p.stream.d[k];
        /* in place: a whole buffer is read without copies */
        assert_ptr_equal(rec.header, m.b + rec.offset);
        assert_int_equal(rec.payload_len, d->len - DV_DELTA_HEADER_SIZE);
        assert_memory_equal(rec.header, d->bytes, 24); /* payload_offset (24..27) is the stream's */
        assert_memory_equal(rec.header + 28, d->bytes + 28, DV_DELTA_HEADER_SIZE - 28);
        assert_memory_equal(rec.payload, d->bytes + DV_DELTA_HEADER_SIZE, rec.payload_len);
        assert_int_equal(rec.h.payload_offset, rec.offset + DV_DELTA_HEADER_SIZE);
        assert_int_equal(rec.h.sequence, k + 1);
        assert_int_equal(dv_stream_reader_last_sequence(r), k + 1);
        k++;
    }
    assert_int_equal(k, p.stream.n);
    assert_int_equal(pos, m.n);
    assert_int_equal(dv_stream_reader_offset(r), m.n);
    assert_int_equal(dv_stream_reader_finish(r, NULL), DV_OK);
    dv_stream_reader_free(r);
    dv_stream_summary s;
    assert_int_equal(dv_stream_verify(m.b, m.n, NULL, NULL, &s), DV_OK);
    assert_int_equal(s.records, p.stream.n);
    assert_int_equal(s.problems, 0);
    assert_int_equal(s.last_sequence, p.stream.n);
    assert_true(s.has_info);
    free(m.b);
    test_primary_close(&p);
}

static void every_split_point_and_byte_at_a_time_give_the_same_records(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 30);
    membuf m = write_stream(&p, NULL);
    run *whole = malloc(sizeof *whole), *other = malloc(sizeof *other);
    read_split(m.b, m.n, 0, 0, NULL, whole);
    assert_int_equal(whole->n, p.stream.n);
    assert_int_equal(whole->fin, DV_OK);
    for (size_t split = 0; split <= m.n; split++) {
        read_split(m.b, m.n, split, 0, NULL, other);
        assert_same_run(whole, other);
    }
    static const size_t steps[] = {1, 2, 3, 63, 64, 65, 81, 1000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        read_split(m.b, m.n, 0, steps[i], NULL, other);
        assert_same_run(whole, other);
    }
    free(whole);
    free(other);
    free(m.b);
    test_primary_close(&p);
}

/* Records of the primary's stream in this sequence order, raw (no writer checks). */
static membuf raw_stream(const test_primary *p, const size_t *order, size_t n, uint64_t *offsets) {
    dv_stream_info info;
    assert_int_equal(dv_stream_info_from_db(p->db, DV_STREAM_STRUCTURAL, 1, &info), DV_OK);
    membuf m = {0};
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&info, h, sizeof h), DV_OK);
    membuf_put(&m, h, sizeof h);
    for (size_t i = 0; i < n; i++) {
        const test_delta *d = &p->stream.d[order[i]];
        if (offsets) offsets[i] = m.n;
        membuf_put(&m, d->bytes, d->len);
    }
    return m;
}

static void gaps_and_duplicates_are_reported_with_offsets(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 30);
    /* sequences 1 2 4 4 3 5: gap before 4, 4 repeated, 3 older, 5 in order */
    size_t order[] = {0, 1, 3, 3, 2, 4};
    uint64_t off[6];
    membuf m = raw_stream(&p, order, 6, off);
    dv_status want[6] = {DV_OK, DV_OK, DV_EGAP, DV_EDUPLICATE, DV_EDUPLICATE, DV_OK};
    for (size_t step = 0; step <= 1; step++) {
        run a;
        read_split(m.b, m.n, 0, step, NULL, &a);
        assert_int_equal(a.n, 6);
        for (size_t i = 0; i < 6; i++) {
            assert_int_equal(a.it[i].st, want[i]);
            assert_int_equal(a.it[i].off, off[i]);
        }
        assert_int_equal(a.fin, DV_OK);
    }
    /* the message names the missing range */
    dv_stream_reader *r;
    assert_int_equal(dv_stream_reader_open(NULL, &r), DV_OK);
    dv_stream_record rec;
    size_t used, pos = 0;
    for (int i = 0; i < 3; i++) {
        dv_status st = dv_stream_reader_next(r, m.b + pos, m.n - pos, &used, &rec);
        pos += used;
        if (i == 2) {
            assert_int_equal(st, DV_EGAP);
            assert_non_null(strstr(dv_stream_reader_message(r), "(3 missing)"));
        }
    }
    dv_stream_reader_free(r);
    /* the library check lists both problems, in order, with offsets */
    dv_stream_summary s;
    assert_int_equal(dv_stream_verify(m.b, m.n, NULL, NULL, &s), DV_EGAP);
    assert_int_equal(s.problems, 3);
    assert_int_equal(s.records, 6);
    free(m.b);
    test_primary_close(&p);
}

static void record_checksum_mismatch_is_skipped_and_reading_continues(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 30);
    size_t order[] = {0, 1, 2, 3};
    uint64_t off[4];
    membuf m = raw_stream(&p, order, 4, off);
    m.b[off[1] + DV_DELTA_HEADER_SIZE] ^= 0x40; /* a payload byte of record 2 */
    run a;
    read_split(m.b, m.n, 0, 5, NULL, &a);
    assert_int_equal(a.n, 4);
    assert_int_equal(a.it[0].st, DV_OK);
    assert_int_equal(a.it[1].st, DV_ECHECKSUM);
    assert_int_equal(a.it[1].off, off[1]);
    assert_int_equal(a.it[2].st, DV_EGAP); /* sequence 2 never arrived intact */
    assert_int_equal(a.it[3].st, DV_OK);
    assert_int_equal(a.fin, DV_OK);
    free(m.b);
    test_primary_close(&p);
}

static void unreadable_record_header_stops_the_reader(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 30);
    size_t order[] = {0, 1, 2};
    uint64_t off[3];
    membuf m = raw_stream(&p, order, 3, off);
    m.b[off[1] + 50] = 1; /* padding of record 2: framing can no longer be trusted */
    run a;
    read_split(m.b, m.n, 0, 0, NULL, &a);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.it[1].st, DV_ECORRUPT);
    assert_int_equal(a.it[1].off, off[1]);
    assert_int_equal(a.fin, DV_ECORRUPT);
    assert_int_equal(a.fin_off, off[1]);
    run b;
    read_split(m.b, m.n, 0, 1, NULL, &b);
    assert_same_run(&a, &b);
    free(m.b);
    test_primary_close(&p);
}

static void torn_tail_is_truncated_at_the_last_records_offset(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 30);
    membuf m = write_stream(&p, NULL);
    run whole;
    read_split(m.b, m.n, 0, 0, NULL, &whole);
    uint64_t last = whole.it[whole.n - 1].off;
    for (size_t cut = (size_t)last + 1; cut < m.n; cut++) {
        run a;
        read_split(m.b, cut, 0, cut % 2 ? 1 : 0, NULL, &a);
        assert_int_equal(a.n, whole.n - 1); /* every record before it is intact */
        assert_int_equal(a.fin, DV_ETRUNCATED);
        assert_int_equal(a.fin_off, last);
    }
    dv_stream_summary s;
    assert_int_equal(dv_stream_verify(m.b, m.n - 1, NULL, NULL, &s), DV_ETRUNCATED);
    assert_int_equal(s.problems, 1);
    free(m.b);
    test_primary_close(&p);
}

typedef struct counting {
    size_t live, peak;
} counting;

static void *count_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    counting *c = ctx;
    c->live -= ptr ? old_size : 0;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    void *q = realloc(ptr, new_size);
    if (q)
        c->live += new_size;
    else if (ptr)
        c->live += old_size;
    if (c->live > c->peak) c->peak = c->live;
    return q;
}

static void hostile_record_size_is_bounded(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    membuf m = {0};
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&info, h, sizeof h), DV_OK);
    membuf_put(&m, h, sizeof h);
    dv_delta_header dh;
    memset(&dh, 0, sizeof dh);
    dh.sequence = 1;
    dh.operation = DV_OP_REINDEX;
    dh.flags = DV_FLAG_HAS_HNSW;
    dh.version = DV_DELTA_FORMAT_VERSION;
    dh.payload_size = DV_DELTA_MAX_PAYLOAD; /* announces 64 MiB, sends 1000 bytes */
    uint8_t rh[DV_DELTA_HEADER_SIZE];
    dv_delta_header_encode(&dh, rh);
    membuf_put(&m, rh, sizeof rh);
    uint8_t junk[1000];
    memset(junk, 7, sizeof junk);
    membuf_put(&m, junk, sizeof junk);

    counting c = {0, 0};
    dv_allocator a = {count_realloc, &c};
    dv_stream_reader_config cfg;
    dv_stream_reader_config_default(&cfg);
    cfg.allocator = &a;
    run r;
    read_split(m.b, m.n, 0, 10, &cfg, &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.fin, DV_ETRUNCATED);
    assert_int_equal(r.fin_off, DV_STREAM_HEADER_SIZE);
    assert_true(c.peak < 8192); /* proportional to what was sent, not to what was announced */
    assert_int_equal(c.live, 0);

    /* with a configured bound the record is refused outright */
    cfg.max_payload = 4096;
    read_split(m.b, m.n, 0, 0, &cfg, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.it[0].st, DV_ETOOBIG);
    assert_int_equal(r.it[0].off, DV_STREAM_HEADER_SIZE);
    /* and beyond DV_DELTA_MAX_PAYLOAD the header itself is refused */
    put32(m.b + DV_STREAM_HEADER_SIZE + 28, DV_DELTA_MAX_PAYLOAD + 1);
    read_split(m.b, m.n, 0, 0, NULL, &r);
    assert_int_equal(r.it[0].st, DV_ETOOBIG);
    free(m.b);
}

static void large_record_buffer_is_released_after_use(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    membuf m = {0};
    uint8_t h[DV_STREAM_HEADER_SIZE];
    assert_int_equal(dv_stream_header_encode(&info, h, sizeof h), DV_OK);
    membuf_put(&m, h, sizeof h);
    const size_t big = 3u << 20;
    uint8_t *rec = calloc(1, DV_DELTA_HEADER_SIZE + big);
    dv_delta_header dh;
    memset(&dh, 0, sizeof dh);
    dh.sequence = 1;
    dh.operation = DV_OP_REINDEX;
    dh.flags = DV_FLAG_HAS_HNSW;
    dh.version = DV_DELTA_FORMAT_VERSION;
    dh.payload_size = (uint32_t)big;
    dv_delta_header_encode(&dh, rec);
    dv_delta_seal(rec, rec + DV_DELTA_HEADER_SIZE, big);
    membuf_put(&m, rec, DV_DELTA_HEADER_SIZE + big);
    counting c = {0, 0};
    dv_allocator a = {count_realloc, &c};
    dv_stream_reader_config cfg;
    dv_stream_reader_config_default(&cfg);
    cfg.allocator = &a;
    dv_stream_reader *r;
    assert_int_equal(dv_stream_reader_open(&cfg, &r), DV_OK);
    size_t pos = 0, used;
    dv_stream_record out;
    dv_status st = DV_EEMPTY;
    while (st == DV_EEMPTY) { /* 64 KiB chunks: the record is gathered in the reader's buffer */
        size_t n = m.n - pos < 65536 ? m.n - pos : 65536;
        st = dv_stream_reader_next(r, m.b + pos, n, &used, &out);
        pos += used;
    }
    assert_int_equal(st, DV_OK);
    assert_int_equal(out.payload_len, big);
    assert_true(c.live > big); /* the record is still readable in the buffer */
    assert_int_equal(dv_stream_reader_next(r, NULL, 0, &used, &out), DV_EEMPTY);
    assert_true(c.live < 8192); /* and released by the next call */
    assert_int_equal(dv_stream_reader_finish(r, NULL), DV_OK);
    dv_stream_reader_free(r);
    assert_int_equal(c.live, 0);
    free(rec);
    free(m.b);
}

static void writer_refuses_bad_records_and_writes_nothing(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 30);
    dv_stream_info info;
    assert_int_equal(dv_stream_info_from_db(p.db, DV_STREAM_STRUCTURAL, 1, &info), DV_OK);
    membuf m = {0};
    dv_stream_writer *w;
    assert_int_equal(dv_stream_writer_open(&info, membuf_sink, &m, NULL, &w), DV_OK);
    assert_int_equal(m.n, DV_STREAM_HEADER_SIZE);
    const test_delta *d1 = &p.stream.d[0], *d2 = &p.stream.d[1];
    size_t pl1 = d1->len - DV_DELTA_HEADER_SIZE, pl2 = d2->len - DV_DELTA_HEADER_SIZE;
    /* out of order, wrong length, bad checksum: refused, nothing written */
    assert_int_equal(dv_stream_writer_append(w, d2->bytes, d2->bytes + 64, pl2), DV_EGAP);
    assert_int_equal(dv_stream_writer_append(w, d1->bytes, d1->bytes + 64, pl1 - 1), DV_ETRUNCATED);
    assert_int_equal(dv_stream_writer_append(w, d1->bytes, d1->bytes + 64, pl1 + 1), DV_EINVAL);
    uint8_t *bad = malloc(d1->len);
    memcpy(bad, d1->bytes, d1->len);
    bad[d1->len - 1] ^= 1;
    assert_int_equal(dv_stream_writer_append(w, bad, bad + 64, pl1), DV_ECHECKSUM);
    assert_int_equal(m.n, DV_STREAM_HEADER_SIZE);
    assert_int_equal(dv_stream_writer_append(w, d1->bytes, d1->bytes + 64, pl1), DV_OK);
    assert_int_equal(dv_stream_writer_append(w, d1->bytes, d1->bytes + 64, pl1), DV_EDUPLICATE);
    assert_int_equal(m.n, DV_STREAM_HEADER_SIZE + d1->len);
    /* a sink failure leaves the writer refusing everything */
    m.fail_at = m.n + 10;
    assert_int_equal(dv_stream_writer_append(w, d2->bytes, d2->bytes + 64, pl2), DV_EFULL);
    m.fail_at = 0;
    assert_int_equal(dv_stream_writer_append(w, d2->bytes, d2->bytes + 64, pl2), DV_ESTATE);
    dv_stream_writer_free(w);
    /* a header the sink cannot take: no writer */
    membuf full = {0};
    full.fail_at = 10;
    assert_int_equal(dv_stream_writer_open(&info, membuf_sink, &full, NULL, &w), DV_EFULL);
    assert_null(w);
    free(bad);
    free(m.b);
    free(full.b);
    test_primary_close(&p);
}

static void record_size_comes_from_the_header(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 20);
    uint64_t size = 0;
    assert_int_equal(dv_stream_record_size(p.stream.d[3].bytes, &size), DV_OK);
    assert_int_equal(size, p.stream.d[3].len);
    uint8_t bad[DV_DELTA_HEADER_SIZE];
    memcpy(bad, p.stream.d[3].bytes, sizeof bad);
    bad[10] = 9; /* delta version */
    assert_int_equal(dv_stream_record_size(bad, &size), DV_EVERSION);
    test_primary_close(&p);
}

/* ---- replicas ----------------------------------------------------------- */

/* Applies every record of the stream through a reader; returns the first non-OK apply status. */
static dv_status apply_stream(dv_apply *ap, const membuf *m) {
    dv_stream_reader *r;
    assert_int_equal(dv_stream_reader_open(NULL, &r), DV_OK);
    size_t pos = 0;
    int begun = 0;
    dv_status result = DV_OK;
    for (;;) {
        dv_stream_record rec;
        size_t used;
        dv_status st = dv_stream_reader_next(r, m->b + pos, m->n - pos, &used, &rec);
        pos += used;
        if (st == DV_EEMPTY) break;
        assert_int_equal(st, DV_OK);
        if (!begun) {
            dv_stream_info info;
            assert_int_equal(dv_stream_reader_info(r, &info), DV_OK);
            if ((result = dv_apply_begin_stream(ap, &info)) != DV_OK) break;
            begun = 1;
        }
        if ((st = dv_apply_delta(ap, rec.header, rec.payload, rec.payload_len)) != DV_OK &&
            st != DV_EDUPLICATE) {
            result = st;
            break;
        }
    }
    dv_stream_reader_free(r);
    return result;
}

static void replica_created_from_the_header_reaches_the_primarys_hash(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 300);
    membuf m = write_stream(&p, NULL);
    dv_stream_info info;
    assert_int_equal(dv_stream_header_decode(m.b, m.n, &info, NULL), DV_OK);
    dv_db *replica;
    assert_int_equal(dv_db_open_from_stream(&info, NULL, &replica), DV_OK);
    assert_int_equal(dv_stream_check_db(&info, replica, NULL, 0), DV_OK);
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = 0;
    dv_apply *ap;
    assert_int_equal(dv_apply_init(replica, &ac, &ap), DV_OK);
    assert_int_equal(apply_stream(ap, &m), DV_OK);
    assert_int_equal(dv_apply_position(ap), p.stream.n);
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    /* the same stream again: every record is a duplicate, nothing changes */
    assert_int_equal(apply_stream(ap, &m), DV_OK);
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    dv_apply_free(ap);
    dv_db_close(replica);
    free(m.b);
    test_primary_close(&p);
}

typedef struct field_case {
    const char *field;
    void (*edit)(dv_db_config *c);
    const char *message;
} field_case;

static void edit_dim(dv_db_config *c) { c->dim = DIM + 1; }
static void edit_metric(dv_db_config *c) { c->metric = DV_METRIC_COSINE; }
static void edit_m(dv_db_config *c) { c->M = 16; }
static void edit_efc(dv_db_config *c) { c->ef_construction = 49; }
static void edit_seed(dv_db_config *c) { c->seed = 43; }
static void edit_relink(dv_db_config *c) { c->relink_ratio = 0.25f; }

static void each_config_mismatch_is_refused_naming_the_field(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 100);
    membuf m = write_stream(&p, NULL);
    dv_stream_info info;
    assert_int_equal(dv_stream_header_decode(m.b, m.n, &info, NULL), DV_OK);
    const field_case cases[] = {
        {"dim", edit_dim, "stream dim 8 != replica dim 9"},
        {"metric", edit_metric, "stream metric l2 != replica metric cosine"},
        {"M", edit_m, "stream M 8 != replica M 16"},
        {"ef_construction", edit_efc, "stream ef_construction 48 != replica ef_construction 49"},
        {"seed", edit_seed, "stream seed 42 != replica seed 43"},
        {"relink_ratio", edit_relink, "stream relink_ratio 0.5 != replica relink_ratio 0.25"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dv_db_config cfg;
        assert_int_equal(dv_db_config_from_stream(&info, &cfg), DV_OK);
        cases[i].edit(&cfg);
        dv_db *replica;
        assert_int_equal(dv_db_open(&cfg, &replica), DV_OK);
        float v[DIM + 1] = {1, 2, 3};
        assert_int_equal(dv_db_insert(replica, "existing", v, NULL, 0), DV_OK);
        uint64_t before = dv_db_state_hash(replica);
        char msg[128];
        assert_int_equal(dv_stream_check_db(&info, replica, msg, sizeof msg), DV_ECONFIG);
        assert_string_equal(msg, cases[i].message);
        dv_apply_config ac;
        dv_apply_config_default(&ac);
        ac.workers = 0;
        dv_apply *ap;
        assert_int_equal(dv_apply_init(replica, &ac, &ap), DV_OK);
        assert_int_equal(apply_stream(ap, &m), DV_ECONFIG);
        assert_string_equal(dv_apply_last_error(ap), cases[i].message);
        assert_int_equal(dv_apply_position(ap), 0);
        assert_int_equal(dv_db_state_hash(replica), before);
        dv_apply_free(ap);
        dv_db_close(replica);
    }
    free(m.b);
    test_primary_close(&p);
}

/* Without the header check, a wrong metric applies "successfully" into a
 * different state and a wrong M fails halfway; with it, both are refused
 * before the first record. */
static void wrong_metric_and_wrong_m_are_refused_before_any_change(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 300);
    membuf m = write_stream(&p, NULL);
    dv_stream_info info;
    assert_int_equal(dv_stream_header_decode(m.b, m.n, &info, NULL), DV_OK);
    void (*edits[2])(dv_db_config *) = {edit_metric, edit_m};
    for (int i = 0; i < 2; i++) {
        dv_db_config cfg;
        assert_int_equal(dv_db_config_from_stream(&info, &cfg), DV_OK);
        edits[i](&cfg);
        dv_db *replica;
        assert_int_equal(dv_db_open(&cfg, &replica), DV_OK);
        uint64_t empty = dv_db_state_hash(replica);
        dv_apply *ap;
        assert_int_equal(dv_apply_init(replica, NULL, &ap), DV_OK);
        assert_int_equal(dv_apply_begin_stream(ap, &info), DV_ECONFIG);
        assert_int_equal(dv_db_state_hash(replica), empty);
        assert_int_equal(dv_db_count(replica), 0);
        dv_apply_free(ap);
        dv_db_close(replica);
    }
    free(m.b);
    test_primary_close(&p);
}

static void logical_streams_and_logical_replicas(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    dv_db *db = test_open_db(DIM, 42);
    dv_apply *structural, *logical;
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = 0;
    assert_int_equal(dv_apply_init(db, &ac, &structural), DV_OK);
    ac.mode = DV_APPLY_LOGICAL;
    assert_int_equal(dv_apply_init(db, &ac, &logical), DV_OK);
    /* a structural stream may be applied logically */
    assert_int_equal(dv_apply_begin_stream(logical, &info), DV_OK);
    /* a logical stream has no graph to replay */
    info.mode = DV_STREAM_LOGICAL;
    assert_int_equal(dv_apply_begin_stream(structural, &info), DV_ECONFIG);
    assert_non_null(
        strstr(dv_apply_last_error(structural), "stream mode logical != replica mode structural"));
    assert_int_equal(dv_apply_begin_stream(logical, &info), DV_OK);
    /* a logical replica keeps its own index: only dim must match */
    info.M = 12;
    info.metric = DV_METRIC_IP;
    assert_int_equal(dv_apply_begin_stream(logical, &info), DV_OK);
    info.dim = DIM * 2;
    assert_int_equal(dv_apply_begin_stream(logical, &info), DV_ECONFIG);
    assert_non_null(strstr(dv_apply_last_error(logical), "stream dim 16 != replica dim 8"));
    dv_apply_free(structural);
    dv_apply_free(logical);
    dv_db_close(db);
}

static void stream_starting_after_the_position_is_a_gap(void **state) {
    (void)state;
    dv_stream_info info = small_info();
    dv_db *db = test_open_db(DIM, 42);
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = 0;
    ac.start_position = 10;
    dv_apply *ap;
    assert_int_equal(dv_apply_init(db, &ac, &ap), DV_OK);
    info.first_sequence = 11; /* exactly the next one */
    assert_int_equal(dv_apply_begin_stream(ap, &info), DV_OK);
    info.first_sequence = 3; /* earlier: its first records are duplicates */
    assert_int_equal(dv_apply_begin_stream(ap, &info), DV_OK);
    info.first_sequence = 13;
    assert_int_equal(dv_apply_begin_stream(ap, &info), DV_EGAP);
    assert_non_null(strstr(dv_apply_last_error(ap), "missing 11..12"));
    assert_int_equal(dv_apply_position(ap), 10);
    dv_apply_free(ap);
    dv_db_close(db);
}

static void segment_starting_mid_stream_continues_a_replica(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 200);
    size_t half = p.stream.n / 2;
    /* two segments: [1, half] and [half+1, n], each with its own header */
    membuf seg[2] = {{0}, {0}};
    for (int s = 0; s < 2; s++) {
        dv_stream_info info;
        assert_int_equal(dv_stream_info_from_db(p.db, DV_STREAM_STRUCTURAL, s ? half + 1 : 1, &info), DV_OK);
        dv_stream_writer *w;
        assert_int_equal(dv_stream_writer_open(&info, membuf_sink, &seg[s], NULL, &w), DV_OK);
        for (size_t i = s ? half : 0; i < (s ? p.stream.n : half); i++) {
            const test_delta *d = &p.stream.d[i];
            assert_int_equal(dv_stream_writer_append(w, d->bytes, d->bytes + 64, d->len - 64), DV_OK);
        }
        dv_stream_writer_free(w);
    }
    dv_stream_info info;
    assert_int_equal(dv_stream_header_decode(seg[0].b, seg[0].n, &info, NULL), DV_OK);
    dv_db *replica;
    assert_int_equal(dv_db_open_from_stream(&info, NULL, &replica), DV_OK);
    dv_apply *ap;
    assert_int_equal(dv_apply_init(replica, NULL, &ap), DV_OK);
    assert_int_equal(apply_stream(ap, &seg[1]), DV_EGAP); /* second segment first: refused */
    assert_int_equal(dv_db_count(replica), 0);
    assert_int_equal(apply_stream(ap, &seg[0]), DV_OK);
    assert_int_equal(apply_stream(ap, &seg[1]), DV_OK);
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    dv_apply_free(ap);
    dv_db_close(replica);
    free(seg[0].b);
    free(seg[1].b);
    test_primary_close(&p);
}

static void new_statuses_have_names_and_messages(void **state) {
    (void)state;
    assert_string_equal(dv_status_name(DV_ECONFIG), "DV_ECONFIG");
    assert_string_equal(dv_status_name(DV_ENOTSTREAM), "DV_ENOTSTREAM");
    assert_string_equal(dv_strerror(DV_ENOTSTREAM), "not a deltavec stream");
    assert_non_null(strstr(dv_strerror(DV_ECONFIG), "config"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_round_trips_every_field),
        cmocka_unit_test(truncated_header_at_every_length_is_truncated),
        cmocka_unit_test(empty_input_is_an_empty_stream),
        cmocka_unit_test(bad_magic_is_not_a_stream),
        cmocka_unit_test(header_checksum_mismatch_is_refused),
        cmocka_unit_test(unknown_versions_are_refused),
        cmocka_unit_test(out_of_range_fields_are_corrupt),
        cmocka_unit_test(longer_header_tail_is_skipped),
        cmocka_unit_test(writer_and_reader_round_trip),
        cmocka_unit_test(every_split_point_and_byte_at_a_time_give_the_same_records),
        cmocka_unit_test(gaps_and_duplicates_are_reported_with_offsets),
        cmocka_unit_test(record_checksum_mismatch_is_skipped_and_reading_continues),
        cmocka_unit_test(unreadable_record_header_stops_the_reader),
        cmocka_unit_test(torn_tail_is_truncated_at_the_last_records_offset),
        cmocka_unit_test(hostile_record_size_is_bounded),
        cmocka_unit_test(large_record_buffer_is_released_after_use),
        cmocka_unit_test(writer_refuses_bad_records_and_writes_nothing),
        cmocka_unit_test(record_size_comes_from_the_header),
        cmocka_unit_test(replica_created_from_the_header_reaches_the_primarys_hash),
        cmocka_unit_test(each_config_mismatch_is_refused_naming_the_field),
        cmocka_unit_test(wrong_metric_and_wrong_m_are_refused_before_any_change),
        cmocka_unit_test(logical_streams_and_logical_replicas),
        cmocka_unit_test(stream_starting_after_the_position_is_a_gap),
        cmocka_unit_test(segment_starting_mid_stream_continues_a_replica),
        cmocka_unit_test(new_statuses_have_names_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
