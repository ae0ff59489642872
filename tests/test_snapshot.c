/*
 * test_snapshot.c -- snapshots (deltavec.h section 4c, docs/STORAGE.md):
 * round trips on random workloads, continuation after loading (writes,
 * capture and apply with the per-slot sequence tables), and the loader
 * against truncation, bit flips, resealed damage and allocation failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "deltavec.h"
#include "db/replay.h"
#include "support/membuf.h"
#include "support/stream.h"

#define DIM 8

/* ---- helpers ------------------------------------------------------------ */

/* Snapshot of db through the sink, checked against size and to_buffer. */
static membuf snap(const dv_db *db, const dv_snapshot_meta *meta) {
    membuf m = {0};
    assert_int_equal(dv_db_snapshot_write(db, meta, membuf_sink, &m), DV_OK);
    uint64_t size = 0;
    assert_int_equal(dv_db_snapshot_size(db, meta, &size), DV_OK);
    assert_int_equal(size, m.n);
    uint8_t *b = malloc(m.n);
    size_t written = 0;
    assert_int_equal(dv_db_snapshot_to_buffer(db, meta, b, m.n, &written), DV_OK);
    assert_int_equal(written, m.n);
    assert_memory_equal(b, m.b, m.n);
    free(b);
    return m;
}

static dv_db *load_ok(const membuf *m, dv_snapshot_meta *meta) {
    dv_db *db = NULL;
    char msg[200];
    dv_status st = dv_db_snapshot_read(m->b, m->n, NULL, &db, meta, msg, sizeof msg);
    if (st != DV_OK) fail_msg("load: %s: %s", dv_status_name(st), msg);
    assert_non_null(db);
    assert_int_equal(dv_db_check_invariants(db), DV_OK);
    return db;
}

static void make_primary(test_primary *p, uint64_t seed, size_t writes) {
    test_primary_open(p, DIM, NULL, seed);
    test_primary_run(p, writes, NULL);
}

/* The same random writes on two dbs (twin rng states) must keep them equal:
 * slots, levels (rng), free-slot reuse all preserved by the snapshot. */
static void same_future(dv_db *a, dv_db *b, uint64_t seed) {
    test_primary pa = {0}, pb = {0};
    pa.db = a;
    pb.db = b;
    pa.dim = pb.dim = DIM;
    pa.rng = pb.rng = seed;
    pa.next_id = pb.next_id = 0;
    /* ids of the workload restart at doc-0: re-inserts, updates, deletes of live ones */
    for (int i = 0; i < 200; i++) {
        float v[DIM];
        char id[32];
        uint32_t r = test_rand(&pa.rng);
        test_rand(&pb.rng);
        snprintf(id, sizeof id, "doc-%u", r % 300);
        for (int d = 0; d < DIM; d++) v[d] = (float)((r >> d) & 7) - 3.5f + (float)i * 0.01f;
        dv_status s1, s2;
        if (dv_db_get(a, id, v + 0) == DV_OK && r % 3 == 0) {
            s1 = dv_db_delete(a, id);
            s2 = dv_db_delete(b, id);
        } else if (dv_db_get(a, id, v) == DV_OK) {
            v[r % DIM] += 0.5f;
            s1 = dv_db_update(a, id, v);
            s2 = dv_db_update(b, id, v);
        } else {
            s1 = dv_db_insert(a, id, v, NULL, 0);
            s2 = dv_db_insert(b, id, v, NULL, 0);
        }
        assert_int_equal(s1, s2);
        assert_true(dv_db_state_hash(a) == dv_db_state_hash(b));
    }
}

/* ---- round trips ---------------------------------------------------------- */

static void round_trip_random_workloads_keep_state_hash(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        test_primary p;
        make_primary(&p, seed * 7919, 300 + seed * 150);
        dv_snapshot_meta meta = {0};
        meta.sequence = dv_capture_last_sequence(p.cap);
        meta.mode = DV_STREAM_STRUCTURAL;
        for (int i = 0; i < DV_STREAM_DB_ID_SIZE; i++) meta.db_id[i] = (uint8_t)(seed + i);
        membuf m = snap(p.db, &meta);
        dv_snapshot_meta got;
        dv_db *db = load_ok(&m, &got);
        assert_true(dv_db_state_hash(db) == dv_db_state_hash(p.db));
        assert_true(got.state_hash == dv_db_state_hash(p.db));
        assert_int_equal(got.sequence, meta.sequence);
        assert_memory_equal(got.db_id, meta.db_id, DV_STREAM_DB_ID_SIZE);
        assert_int_equal(got.producer_version, DV_VERSION_NUMBER);
        assert_int_equal(got.count, dv_db_count(p.db));
        assert_int_equal(got.size, m.n);
        assert_null(got.slot_sequences);
        /* a loaded db saves to the same bytes */
        membuf m2 = snap(db, &meta);
        assert_int_equal(m2.n, m.n);
        assert_memory_equal(m2.b, m.b, m.n);
        /* and behaves the same from now on: rng, free-slot stack, graph */
        dv_capture_stop(p.cap);
        same_future(p.db, db, seed);
        dv_db_close(db);
        free(m.b);
        free(m2.b);
        test_primary_close(&p);
    }
}

static void round_trip_every_metric_with_metadata(void **state) {
    (void)state;
    for (int metric = DV_METRIC_L2; metric <= DV_METRIC_COSINE; metric++) {
        dv_db_config cfg;
        dv_db_config_default(&cfg, 5);
        cfg.metric = (dv_metric)metric;
        cfg.M = 4;
        cfg.ef_construction = 20;
        cfg.ef_search = 33;
        cfg.relink_ratio = 0.25f;
        cfg.seed = 99;
        dv_db *db;
        assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
        uint64_t rng = 5;
        for (int i = 0; i < 120; i++) {
            char id[32];
            snprintf(id, sizeof id, "ид-%d", i); /* UTF-8 ids */
            float v[5];
            for (int d = 0; d < 5; d++) v[d] = test_randf(&rng);
            dv_meta_kv kv[3] = {{"a", "1"}, {"ключ", "значение"}, {"c", "three"}};
            assert_int_equal(dv_db_insert(db, id, v, kv, (size_t)(i % 4)), DV_OK);
            if (i % 5 == 0) assert_int_equal(dv_db_set_meta(db, id, "a", NULL), DV_OK);
            if (i % 7 == 3) assert_int_equal(dv_db_delete(db, id), DV_OK);
        }
        membuf m = snap(db, NULL);
        dv_db *got = load_ok(&m, NULL);
        assert_true(dv_db_state_hash(got) == dv_db_state_hash(db));
        assert_int_equal(dv_db_metric(got), metric);
        const char *val;
        assert_int_equal(dv_db_get_meta(got, "ид-2", "ключ", &val), DV_OK);
        assert_string_equal(val, "значение");
        /* same search answers (ef_search came along) */
        float q[5] = {0.1f, -0.2f, 0.3f, 0.0f, 0.5f};
        dv_hit h1[10], h2[10];
        size_t n1, n2;
        assert_int_equal(dv_db_search(db, q, 10, 0, h1, &n1), DV_OK);
        assert_int_equal(dv_db_search(got, q, 10, 0, h2, &n2), DV_OK);
        assert_int_equal(n1, n2);
        for (size_t i = 0; i < n1; i++) {
            assert_string_equal(h1[i].id, h2[i].id);
            assert_true(h1[i].distance == h2[i].distance);
        }
        same_future(db, got, 77);
        dv_db_close(got);
        dv_db_close(db);
        free(m.b);
    }
}

static void empty_db_round_trips(void **state) {
    (void)state;
    dv_db *db = test_open_db(DIM, 3);
    membuf m = snap(db, NULL);
    assert_int_equal(m.n, DV_SNAPSHOT_HEADER_SIZE + 6 * 24);
    dv_snapshot_meta meta;
    dv_db *got = load_ok(&m, &meta);
    assert_int_equal(dv_db_count(got), 0);
    assert_true(dv_db_state_hash(got) == dv_db_state_hash(db));
    same_future(db, got, 4);
    dv_db_close(got);
    dv_db_close(db);
    free(m.b);
    /* emptied by deletes: every slot free, the stack order kept */
    db = test_open_db(DIM, 3);
    const char *ids[] = {"x", "y", "z"};
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 3; i++) {
            float v[DIM] = {(float)i, 1, 2, 3, 4, 5, 6, (float)round};
            dv_db_insert(db, ids[i], v, NULL, 0);
        }
    assert_int_equal(dv_db_count(db), 3);
    assert_int_equal(dv_db_delete(db, "y"), DV_OK);
    assert_int_equal(dv_db_delete(db, "x"), DV_OK);
    assert_int_equal(dv_db_delete(db, "z"), DV_OK);
    m = snap(db, NULL);
    got = load_ok(&m, NULL);
    assert_true(dv_db_state_hash(got) == dv_db_state_hash(db));
    same_future(db, got, 5);
    dv_db_close(got);
    dv_db_close(db);
    free(m.b);
}

/* ---- continuation: apply and capture after loading ----------------------- */

static void deltas_after_snapshot_apply_to_loaded_db(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 2024, 500);
    size_t at = p.stream.n;
    size_t n_seq;
    const uint64_t *live_seqs = dv_capture_slot_sequences(p.cap, &n_seq);
    uint64_t *seqs = malloc(n_seq * 8); /* the capture's table moves on with later writes */
    memcpy(seqs, live_seqs, n_seq * 8);
    dv_snapshot_meta meta = {0};
    meta.sequence = dv_capture_last_sequence(p.cap);
    meta.slot_sequences = seqs;
    meta.n_slot_sequences = n_seq;
    membuf m = snap(p.db, &meta);
    test_primary_run(&p, 600, NULL); /* updates and deletes of vectors from before the snapshot */
    assert_true(p.stream.n > at + 100);

    dv_snapshot_meta got;
    dv_db *db = load_ok(&m, &got);
    assert_non_null(got.slot_sequences);
    assert_int_equal(got.n_slot_sequences, got.slots);
    assert_memory_equal(got.slot_sequences, seqs, got.slots * 8);

    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.start_position = got.sequence;
    ac.workers = 0;
    dv_apply *ap;
    assert_int_equal(dv_apply_init(db, &ac, &ap), DV_OK);
    assert_int_equal(dv_apply_restore_slot_sequences(ap, got.slot_sequences, got.n_slot_sequences), DV_OK);
    for (size_t i = at; i < p.stream.n; i++) {
        dv_status st = dv_apply_buffer(ap, p.stream.d[i].bytes, p.stream.d[i].len);
        if (st != DV_OK) fail_msg("delta %zu: %s", i, dv_apply_last_error(ap));
    }
    assert_true(dv_db_state_hash(db) == dv_db_state_hash(p.db));
    assert_int_equal(dv_apply_restore_slot_sequences(ap, NULL, 0), DV_ESTATE);
    /* the applier's table now equals the primary's capture table */
    size_t na, nc;
    const uint64_t *ta = dv_apply_slot_sequences(ap, &na), *tc = dv_capture_slot_sequences(p.cap, &nc);
    for (uint32_t s = 0; s < dv_db_slot_capacity(p.db); s++) assert_true(ta[s] == tc[s]);
    dv_apply_free(ap);
    dv_db_close(db);

    /* the table is checked: a wrong one (all 0) refuses the first update of an old vector */
    db = load_ok(&m, NULL);
    assert_int_equal(dv_apply_init(db, &ac, &ap), DV_OK);
    uint64_t *zeros = calloc(got.n_slot_sequences, 8);
    assert_int_equal(dv_apply_restore_slot_sequences(ap, zeros, got.n_slot_sequences), DV_OK);
    dv_status first_bad = DV_OK;
    for (size_t i = at; i < p.stream.n && first_bad == DV_OK; i++)
        first_bad = dv_apply_buffer(ap, p.stream.d[i].bytes, p.stream.d[i].len);
    assert_int_equal(first_bad, DV_EDATA);
    free(zeros);
    dv_apply_free(ap);
    dv_db_close(db);

    dv_snapshot_meta_release(&got, NULL);
    assert_null(got.slot_sequences);
    free(seqs);
    free(m.b);
    test_primary_close(&p);
}

static void capture_continues_on_loaded_db_with_identical_deltas(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 77, 400);
    size_t n_seq;
    dv_snapshot_meta meta = {0};
    meta.sequence = dv_capture_last_sequence(p.cap);
    meta.slot_sequences = (uint64_t *)dv_capture_slot_sequences(p.cap, &n_seq);
    meta.n_slot_sequences = n_seq;
    membuf m = snap(p.db, &meta);

    test_primary q;
    memset(&q, 0, sizeof q);
    q.dim = DIM;
    q.rng = p.rng;
    q.next_id = p.next_id;
    dv_snapshot_meta got;
    q.db = load_ok(&m, &got);
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.first_sequence = got.sequence + 1;
    assert_int_equal(dv_capture_init(q.db, &cc, &q.cap), DV_OK);
    assert_int_equal(dv_capture_restore_slot_sequences(q.cap, got.slot_sequences, got.n_slot_sequences),
                     DV_OK);
    assert_int_equal(dv_capture_start(q.cap), DV_OK);
    assert_int_equal(dv_capture_restore_slot_sequences(q.cap, NULL, 0), DV_ESTATE);

    size_t at = p.stream.n;
    test_primary_run(&p, 400, NULL);
    test_primary_run(&q, 400, NULL);
    assert_int_equal(q.stream.n, p.stream.n - at);
    for (size_t i = 0; i < q.stream.n; i++) {
        assert_int_equal(q.stream.d[i].len, p.stream.d[at + i].len);
        assert_memory_equal(q.stream.d[i].bytes, p.stream.d[at + i].bytes, q.stream.d[i].len);
    }
    assert_true(dv_db_state_hash(q.db) == dv_db_state_hash(p.db));
    dv_snapshot_meta_release(&got, NULL);
    test_primary_close(&q);
    test_primary_close(&p);
    free(m.b);
}

/* ---- damage ----------------------------------------------------------------- */

static membuf small_snapshot(void) {
    test_primary p;
    test_primary_open(&p, 4, NULL, 11);
    test_primary_run(&p, 40, NULL);
    size_t n;
    dv_snapshot_meta meta = {0};
    meta.sequence = dv_capture_last_sequence(p.cap);
    meta.slot_sequences = (uint64_t *)dv_capture_slot_sequences(p.cap, &n);
    meta.n_slot_sequences = n;
    membuf m = snap(p.db, &meta);
    test_primary_close(&p);
    return m;
}

static dv_status try_load(const uint8_t *b, size_t n, dv_db **out) {
    char msg[200];
    msg[0] = 0;
    dv_status st = dv_db_snapshot_read(b, n, NULL, out, NULL, msg, sizeof msg);
    if (st != DV_OK) {
        assert_null(*out);
        assert_true(msg[0] != 0);
    }
    return st;
}

static void every_truncation_is_refused_as_truncated(void **state) {
    (void)state;
    membuf m = small_snapshot();
    for (size_t len = 0; len < m.n; len++) {
        uint8_t *b = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(b, m.b, len);
        dv_db *db = NULL;
        dv_status st = try_load(b, len, &db);
        assert_int_equal(st, len == 0 ? DV_EEMPTY : DV_ETRUNCATED);
        dv_snapshot_meta pm;
        assert_int_equal(dv_snapshot_peek(b, len, &pm), st);
        free(b);
    }
    /* appended garbage */
    uint8_t *b = malloc(m.n + 1);
    memcpy(b, m.b, m.n);
    b[m.n] = 0;
    dv_db *db = NULL;
    assert_int_equal(try_load(b, m.n + 1, &db), DV_ECORRUPT);
    dv_snapshot_meta pm;
    assert_int_equal(dv_snapshot_peek(b, m.n + 1, &pm), DV_OK); /* peek ignores bytes past the size */
    free(b);
    free(m.b);
}

static void bit_flip_at_every_offset_is_refused(void **state) {
    (void)state;
    membuf m = small_snapshot();
    uint8_t *b = malloc(m.n);
    size_t counts[64] = {0};
    for (size_t off = 0; off < m.n; off++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, m.b, m.n);
            b[off] ^= (uint8_t)(1u << bit);
            dv_db *db = NULL;
            dv_status st = try_load(b, m.n, &db);
            if (off < 8)
                assert_int_equal(st, DV_ENOTSNAPSHOT);
            else if (off < 10)
                assert_int_equal(st, DV_EVERSION);
            else
                assert_true(st == DV_ECHECKSUM || st == DV_ECORRUPT || st == DV_ETRUNCATED);
            counts[-st]++;
        }
    }
    /* nearly all flips are caught by a checksum */
    assert_true(counts[-DV_ECHECKSUM] > 8 * m.n * 9 / 10);
    free(b);
    free(m.b);
}

/* Recomputes the header and every section checksum, so that damage reaches
 * the structural checks behind them. */
static void reseal(uint8_t *b, size_t n) {
    if (n < DV_SNAPSHOT_HEADER_SIZE) return;
    memset(b + 16, 0, 8);
    uint64_t h = XXH3_64bits(b, DV_SNAPSHOT_HEADER_SIZE);
    memcpy(b + 16, &h, 8);
    size_t pos = DV_SNAPSHOT_HEADER_SIZE;
    while (pos + 24 <= n) {
        uint64_t len;
        memcpy(&len, b + pos + 8, 8);
        if (len > n - pos - 24) return;
        uint64_t s = XXH3_64bits(b + pos, 16 + (size_t)len);
        memcpy(b + pos + 16 + len, &s, 8);
        pos += 24 + (size_t)len;
    }
}

static void resealed_damage_never_loads_a_broken_db(void **state) {
    (void)state;
    membuf m = small_snapshot();
    uint8_t *b = malloc(m.n);
    size_t accepted = 0, refused = 0;
    uint64_t rng = 1;
    for (size_t off = 0; off < m.n; off++) {
        for (int k = 0; k < 3; k++) {
            memcpy(b, m.b, m.n);
            if (k == 0)
                b[off] ^= (uint8_t)(1u << (test_rand(&rng) % 8));
            else if (k == 1)
                b[off] = 0xFF;
            else
                b[off] = (uint8_t)(b[off] + 1);
            if (memcmp(b, m.b, m.n) == 0) continue;
            reseal(b, m.n);
            dv_db *db = NULL;
            dv_status st = try_load(b, m.n, &db);
            if (st == DV_OK) {
                /* only fields the state hash does not cover may differ; the db is sound */
                assert_int_equal(dv_db_check_invariants(db), DV_OK);
                dv_db_close(db);
                accepted++;
            } else {
                assert_true(st == DV_ECORRUPT || st == DV_ETRUNCATED || st == DV_EVERSION ||
                            st == DV_ENOTSNAPSHOT || st == DV_ECHECKSUM);
                refused++;
            }
        }
    }
    assert_true(refused > accepted);
    free(b);
    free(m.b);
}

static void hostile_counts_do_not_allocate(void **state) {
    (void)state;
    membuf m = small_snapshot();
    uint32_t fields[] = {112, 116, 120}; /* n_slots, n_free, live */
    for (size_t f = 0; f < 3; f++) {
        uint8_t *b = malloc(m.n);
        memcpy(b, m.b, m.n);
        uint32_t big = 0x7FFFFFF0u;
        memcpy(b + fields[f], &big, 4);
        reseal(b, m.n);
        dv_db *db = NULL;
        assert_int_equal(try_load(b, m.n, &db), DV_ECORRUPT);
        free(b);
    }
    /* a section length beyond the input */
    uint8_t *b = malloc(m.n);
    memcpy(b, m.b, m.n);
    uint64_t huge = 1ull << 40;
    memcpy(b + DV_SNAPSHOT_HEADER_SIZE + 8, &huge, 8);
    reseal(b, m.n);
    dv_db *db = NULL;
    assert_int_equal(try_load(b, m.n, &db), DV_ECORRUPT);
    free(b);
    free(m.b);
}

/* ---- each structural check, behind valid checksums --------------------------- */

/* A snapshot of a db with upper layers and free slots, and where its
 * sections are: kind k's payload at off[k], len[k] bytes. */
typedef struct parsed {
    membuf m;
    size_t off[7], len[7];
    uint32_t M, dim, n_slots;
    size_t node_size;
} parsed;

static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static parsed list_snapshot(void) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, 4);
    cfg.M = 4;
    dv_db *db;
    assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
    uint64_t rng = 5;
    char id[16];
    for (int i = 0; i < 300; i++) {
        float v[4];
        for (int d = 0; d < 4; d++) v[d] = test_randf(&rng);
        snprintf(id, sizeof id, "v%d", i);
        assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
    }
    for (int i = 0; i < 300; i += 7) {
        snprintf(id, sizeof id, "v%d", i);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
    }
    parsed p;
    memset(&p, 0, sizeof p);
    p.m = snap(db, NULL);
    dv_db_close(db);
    p.M = rd32(p.m.b + 80);
    p.dim = rd32(p.m.b + 72);
    p.n_slots = rd32(p.m.b + 112);
    p.node_size = (1 + 2 * (size_t)p.M) * 4 + (size_t)p.dim * 4;
    size_t pos = DV_SNAPSHOT_HEADER_SIZE;
    for (int k = 1; k <= 6; k++) {
        uint64_t len;
        memcpy(&len, p.m.b + pos + 8, 8);
        p.off[k] = pos + 16;
        p.len[k] = (size_t)len;
        pos += 24 + (size_t)len;
    }
    return p;
}

static const uint8_t *slot_rec(const parsed *p, const uint8_t *b, uint32_t i) {
    return b + p->off[1] + i * 8u;
}
static uint8_t *l0_of(const parsed *p, uint8_t *b, uint32_t i) { return b + p->off[3] + i * p->node_size; }

/* The first slot that is live (want_live) with a level >= min_level and a
 * layer-0 list of at least min_count. */
static uint32_t find_slot(const parsed *p, int want_live, uint32_t min_level, uint32_t min_count) {
    for (uint32_t i = 0; i < p->n_slots; i++) {
        const uint8_t *r = slot_rec(p, p->m.b, i);
        if (r[0] != want_live) continue;
        if (want_live && (r[1] < min_level || rd32(l0_of(p, p->m.b, i)) < min_count)) continue;
        return i;
    }
    fail_msg("no slot of that kind");
    return 0;
}

/* Loads b after resealing it; the load must fail with DV_ECORRUPT and a
 * message naming what. */
static void refused_for(uint8_t *b, size_t n, const char *what) {
    reseal(b, n);
    dv_db *db = NULL;
    char msg[200] = "";
    dv_status st = dv_db_snapshot_read(b, n, NULL, &db, NULL, msg, sizeof msg);
    if (st != DV_ECORRUPT || !strstr(msg, what))
        fail_msg("expected DV_ECORRUPT (%s), got %s: %s", what, dv_status_name(st), msg);
    assert_null(db);
}

static void every_list_and_free_stack_defect_is_named(void **state) {
    (void)state;
    parsed p = list_snapshot();
    size_t n = p.m.n;
    uint8_t *b = malloc(n);
    uint32_t live = find_slot(&p, 1, 0, 2), upper = find_slot(&p, 1, 1, 0), freed = find_slot(&p, 0, 0, 0);
    uint32_t flat = DV_NO_SLOT; /* a live slot of level 0 */
    for (uint32_t i = 0; i < p.n_slots && flat == DV_NO_SLOT; i++)
        if (slot_rec(&p, p.m.b, i)[0] && slot_rec(&p, p.m.b, i)[1] == 0) flat = i;
    assert_true(flat != DV_NO_SLOT);

    /* resealed but unchanged: loads (the cases below fail for their defect alone) */
    memcpy(b, p.m.b, n);
    reseal(b, n);
    dv_db *db = NULL;
    assert_int_equal(try_load(b, n, &db), DV_OK);
    dv_db_close(db);

    uint32_t bad_targets[] = {live, freed, p.n_slots, UINT32_MAX};
    for (size_t k = 0; k < 4; k++) { /* self, free slot, out of range (twice) */
        memcpy(b, p.m.b, n);
        wr32(l0_of(&p, b, live) + 4, bad_targets[k]);
        refused_for(b, n, "section 3 (nodes): neighbour list");
    }
    memcpy(b, p.m.b, n); /* duplicate */
    wr32(l0_of(&p, b, live) + 8, rd32(l0_of(&p, b, live) + 4));
    refused_for(b, n, "section 3 (nodes): neighbour list");
    memcpy(b, p.m.b, n); /* more neighbours than 2M */
    wr32(l0_of(&p, b, live), 2 * p.M + 1);
    refused_for(b, n, "section 3 (nodes): neighbour list");
    memcpy(b, p.m.b, n); /* a free slot with a list */
    wr32(l0_of(&p, b, freed), 1);
    wr32(l0_of(&p, b, freed) + 4, live);
    refused_for(b, n, "list of a free slot");

    /* upper layers: the first upper list in UPPER is layer 1 of the first
     * live slot with a level; a level-0 slot may not be on it */
    uint32_t first_upper = DV_NO_SLOT;
    for (uint32_t i = 0; i < p.n_slots && first_upper == DV_NO_SLOT; i++)
        if (slot_rec(&p, p.m.b, i)[0] && slot_rec(&p, p.m.b, i)[1] > 0) first_upper = i;
    assert_int_equal(first_upper, upper);
    uint32_t targets_up[] = {flat, upper, freed, p.n_slots};
    for (size_t k = 0; k < 4; k++) {
        memcpy(b, p.m.b, n);
        wr32(b + p.off[4], 1);
        wr32(b + p.off[4] + 4, targets_up[k]);
        refused_for(b, n, "section 4 (upper): neighbour list");
    }

    /* two live slots with one id: the second one's id is named */
    {
        uint32_t a = find_slot(&p, 1, 0, 0), second = DV_NO_SLOT;
        size_t pos = 0, at_a = 0, at_b = 0;
        for (uint32_t i = 0; i < p.n_slots; i++) {
            const uint8_t *r = slot_rec(&p, p.m.b, i);
            if (!r[0]) continue;
            uint16_t idl, pairs;
            memcpy(&idl, r + 2, 2);
            memcpy(&pairs, r + 4, 2);
            assert_int_equal(pairs, 0);
            if (i == a) at_a = pos;
            if (i > a && second == DV_NO_SLOT && idl == slot_rec(&p, p.m.b, a)[2]) {
                second = i;
                at_b = pos;
            }
            pos += idl;
        }
        assert_true(second != DV_NO_SLOT);
        memcpy(b, p.m.b, n);
        memcpy(b + p.off[2] + at_b, b + p.off[2] + at_a, slot_rec(&p, p.m.b, a)[2]);
        char want[64];
        snprintf(want, sizeof want, "section 2 (strings): duplicate id at %zu", p.off[2] + at_b);
        refused_for(b, n, want);
    }

    /* the free stack: a live slot, a repeated slot, out of range */
    assert_true(p.len[5] >= 8);
    uint32_t second_free = rd32(p.m.b + p.off[5] + 4);
    uint32_t stack_bad[] = {live, second_free, p.n_slots};
    for (size_t k = 0; k < 3; k++) {
        memcpy(b, p.m.b, n);
        wr32(b + p.off[5], stack_bad[k]);
        refused_for(b, n, "section 5 (free): free slot");
    }
    free(b);
    free(p.m.b);
}

/* ---- allocation failure ---------------------------------------------------- */

typedef struct counting {
    long fail_at; /* this allocation fails (-1: none) */
    long calls;
    long live; /* outstanding blocks */
} counting;

static void *counting_realloc(void *ctx, void *p, size_t old, size_t n) {
    counting *c = ctx;
    (void)old;
    if (n == 0) {
        if (p) c->live--;
        free(p);
        return NULL;
    }
    if (c->calls++ == c->fail_at) return NULL;
    void *q = realloc(p, n);
    if (q && !p) c->live++;
    return q;
}

static void allocation_failure_at_every_step_is_enomem_without_leak(void **state) {
    (void)state;
    membuf m = small_snapshot();
    uint64_t want;
    {
        dv_db *db = load_ok(&m, NULL);
        want = dv_db_state_hash(db);
        dv_db_close(db);
    }
    for (long n = 0;; n++) {
        counting c = {n, 0, 0};
        dv_allocator a = {counting_realloc, &c};
        dv_db *db = NULL;
        dv_snapshot_meta meta;
        char msg[200];
        dv_status st = dv_db_snapshot_read(m.b, m.n, &a, &db, &meta, msg, sizeof msg);
        if (st == DV_OK) {
            assert_true(c.calls <= n); /* every allocation was tried */
            assert_true(dv_db_state_hash(db) == want);
            assert_non_null(meta.slot_sequences);
            dv_snapshot_meta_release(&meta, &a);
            dv_db_close(db);
            assert_int_equal(c.live, 0);
            break;
        }
        assert_int_equal(st, DV_ENOMEM);
        assert_null(db);
        assert_null(meta.slot_sequences);
        assert_int_equal(c.live, 0);
        assert_true(n < 100000);
    }
    free(m.b);
}

/* ---- writer ---------------------------------------------------------------- */

/* The writer assembles node records in a buffer from the db's allocator;
 * when that fails it writes them piece by piece: the same bytes. */
static void writer_without_its_buffer_writes_the_same_bytes(void **state) {
    (void)state;
    membuf m = small_snapshot();
    counting c = {-1, 0, 0};
    dv_allocator a = {counting_realloc, &c};
    dv_db *db = NULL;
    char msg[200];
    assert_int_equal(dv_db_snapshot_read(m.b, m.n, &a, &db, NULL, msg, sizeof msg), DV_OK);
    membuf with = {0}, without = {0};
    long before = c.calls;
    assert_int_equal(dv_db_snapshot_write(db, NULL, membuf_sink, &with), DV_OK);
    assert_true(c.calls > before); /* it did ask for the buffer */
    c.fail_at = c.calls;           /* the next allocation fails */
    assert_int_equal(dv_db_snapshot_write(db, NULL, membuf_sink, &without), DV_OK);
    assert_int_equal(with.n, without.n);
    assert_memory_equal(with.b, without.b, with.n);
    dv_db_close(db);
    assert_int_equal(c.live, 0);
    free(with.b);
    free(without.b);
    free(m.b);
}

static void sink_errors_and_small_buffers_are_reported(void **state) {
    (void)state;
    test_primary p;
    make_primary(&p, 5, 200);
    membuf ok = snap(p.db, NULL);
    for (size_t cut = 1; cut < ok.n; cut += 97) {
        membuf m = {0};
        m.fail_at = cut;
        assert_int_equal(dv_db_snapshot_write(p.db, NULL, membuf_sink, &m), DV_EFULL);
        free(m.b);
    }
    uint8_t *b = malloc(ok.n);
    size_t w = 7;
    assert_int_equal(dv_db_snapshot_to_buffer(p.db, NULL, b, ok.n - 1, &w), DV_ETOOBIG);
    assert_int_equal(w, 7);
    dv_snapshot_meta bad = {0};
    bad.mode = 9;
    assert_int_equal(dv_db_snapshot_to_buffer(p.db, &bad, b, ok.n, &w), DV_EINVAL);
    assert_int_equal(dv_db_snapshot_write(NULL, NULL, membuf_sink, &ok), DV_EINVAL);
    dv_db *db = (dv_db *)1;
    assert_int_equal(dv_db_snapshot_read(NULL, 5, NULL, &db, NULL, NULL, 0), DV_EINVAL);
    assert_null(db);
    /* peek reads the header only */
    dv_snapshot_meta pm;
    assert_int_equal(dv_snapshot_peek(ok.b, ok.n, &pm), DV_OK);
    assert_int_equal(pm.count, dv_db_count(p.db));
    assert_true(pm.state_hash == dv_db_state_hash(p.db));
    assert_null(pm.slot_sequences);
    /* the bulk goes to the sink in large pieces, not one call per field */
    assert_true(ok.calls < 64);
    free(b);
    free(ok.b);
    test_primary_close(&p);
}

static void not_a_snapshot_is_named(void **state) {
    (void)state;
    dv_db *db = NULL;
    const uint8_t stream_magic[] = DV_STREAM_MAGIC;
    assert_int_equal(try_load(stream_magic, 8, &db), DV_ENOTSNAPSHOT);
    assert_int_equal(try_load((const uint8_t *)"hello world, not a snapshot", 27, &db), DV_ENOTSNAPSHOT);
    assert_int_equal(try_load((const uint8_t *)DV_SNAPSHOT_MAGIC, 5, &db), DV_ETRUNCATED);
    assert_string_equal(dv_status_name(DV_ENOTSNAPSHOT), "DV_ENOTSNAPSHOT");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_random_workloads_keep_state_hash),
        cmocka_unit_test(round_trip_every_metric_with_metadata),
        cmocka_unit_test(empty_db_round_trips),
        cmocka_unit_test(writer_without_its_buffer_writes_the_same_bytes),
        cmocka_unit_test(deltas_after_snapshot_apply_to_loaded_db),
        cmocka_unit_test(capture_continues_on_loaded_db_with_identical_deltas),
        cmocka_unit_test(every_truncation_is_refused_as_truncated),
        cmocka_unit_test(bit_flip_at_every_offset_is_refused),
        cmocka_unit_test(resealed_damage_never_loads_a_broken_db),
        cmocka_unit_test(hostile_counts_do_not_allocate),
        cmocka_unit_test(every_list_and_free_stack_defect_is_named),
        cmocka_unit_test(allocation_failure_at_every_step_is_enomem_without_leak),
        cmocka_unit_test(sink_errors_and_small_buffers_are_reported),
        cmocka_unit_test(not_a_snapshot_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
