/* test_apply.c -- replicas converge; every refusal leaves them unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "delta/delta.h"
#include "support/sanitized.h"
#include "support/stream.h"
#include "util/alloc.h"

#define BIG_WORKLOAD (TEST_SANITIZED ? 20000 : 100000)

#define DIM 16

static dv_apply *make_applier(dv_db *replica, dv_apply_mode mode, dv_conflict_action policy) {
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.mode = mode;
    cfg.policy = policy;
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(replica, &cfg, &ap), DV_OK);
    return ap;
}

static void apply_all(dv_apply *ap, const test_stream *s, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
        dv_status st = dv_apply_buffer(ap, s->d[i].bytes, s->d[i].len);
        if (st != DV_OK) fail_msg("delta %zu: %s: %s", i, dv_status_name(st), dv_apply_last_error(ap));
    }
}

/* Same top-10 (ids and distances) for nq random queries. */
static void assert_same_search(dv_db *a, dv_db *b, int nq, uint64_t seed) {
    float q[DIM];
    dv_hit ha[10], hb[10];
    size_t na, nb;
    for (int i = 0; i < nq; i++) {
        for (int d = 0; d < DIM; d++) q[d] = test_randf(&seed);
        assert_int_equal(dv_db_search(a, q, 10, 0, ha, &na), DV_OK);
        assert_int_equal(dv_db_search(b, q, 10, 0, hb, &nb), DV_OK);
        assert_int_equal(na, nb);
        for (size_t k = 0; k < na; k++) {
            assert_string_equal(ha[k].id, hb[k].id);
            assert_memory_equal(&ha[k].distance, &hb[k].distance, sizeof(float));
        }
    }
}

/* recall@10 of HNSW search against exact search over nq queries */
static double recall_at_10(dv_db *db, int nq, uint64_t seed) {
    float q[DIM];
    dv_hit h[10], e[10];
    size_t nh, ne, hit = 0, total = 0;
    for (int i = 0; i < nq; i++) {
        for (int d = 0; d < DIM; d++) q[d] = test_randf(&seed);
        assert_int_equal(dv_db_search(db, q, 10, 0, h, &nh), DV_OK);
        assert_int_equal(dv_db_search_exact(db, q, 10, e, &ne), DV_OK);
        for (size_t a = 0; a < ne; a++)
            for (size_t b = 0; b < nh; b++)
                if (strcmp(e[a].id, h[b].id) == 0) hit++;
        total += ne;
    }
    return total ? (double)hit / (double)total : 1.0;
}

/* ---- convergence ---------------------------------------------------------- */

static void structural_replica_is_identical_after_a_long_mixed_workload(void **state) {
    (void)state;
    test_primary p;
    test_primary_open(&p, DIM, NULL, 101);
    test_primary_run(&p, BIG_WORKLOAD, NULL);
    dv_db *replica = test_open_db(DIM, 42);
    dv_apply *ap = make_applier(replica, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    apply_all(ap, &p.stream, 0, p.stream.n);
    assert_int_equal(dv_apply_position(ap), dv_capture_last_sequence(p.cap));
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    assert_same_search(p.db, replica, 1000, 7);
    dv_apply_free(ap);
    dv_db_close(replica);
    test_primary_close(&p);
}

static void batched_stream_with_before_images_converges(void **state) {
    (void)state;
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.batch_max_deltas = 32;
    cfg.before_images = 1;
    test_primary p;
    test_primary_open(&p, DIM, &cfg, 102);
    test_primary_run(&p, BIG_WORKLOAD / 5, NULL);
    dv_db *replica = test_open_db(DIM, 42);
    dv_apply *ap = make_applier(replica, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    apply_all(ap, &p.stream, 0, p.stream.n);
    assert_true(p.stream.n < BIG_WORKLOAD / 5 / 4); /* batches really grouped writes */
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    dv_apply_free(ap);
    dv_db_close(replica);
    test_primary_close(&p);
}

static void logical_replica_keeps_recall_within_a_hundredth(void **state) {
    (void)state;
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.parts = DV_CAPTURE_VECTORS | DV_CAPTURE_METADATA;
    test_primary p;
    test_primary_open(&p, DIM, &cfg, 103);
    test_primary_run(&p, BIG_WORKLOAD / 5, NULL);
    dv_db *replica = test_open_db(DIM, 777); /* its own index, its own seed */
    dv_apply *ap = make_applier(replica, DV_APPLY_LOGICAL, DV_CONFLICT_ABORT);
    apply_all(ap, &p.stream, 0, p.stream.n);
    assert_int_equal(dv_db_count(replica), dv_db_count(p.db));
    double rp = recall_at_10(p.db, 300, 9), rr = recall_at_10(replica, 300, 9);
    assert_true(rr >= rp - 0.01);
    dv_apply_free(ap);
    dv_db_close(replica);
    test_primary_close(&p);
}

static void replica_started_from_a_checkpoint_copy_converges(void **state) {
    (void)state;
    test_primary p;
    test_primary_open(&p, DIM, NULL, 104);
    test_primary_run(&p, 3000, NULL);
    dv_checkpoint cp;
    assert_int_equal(dv_capture_checkpoint(p.cap, &cp), DV_OK);
    dv_db *replica = NULL;
    assert_int_equal(dv_db_clone(p.db, &replica), DV_OK);
    size_t at = p.stream.n;
    test_primary_run(&p, 3000, NULL);
    dv_apply_config acfg;
    dv_apply_config_default(&acfg);
    acfg.start_position = cp.sequence;
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(replica, &acfg, &ap), DV_OK);
    assert_int_equal(dv_apply_buffer(ap, p.stream.d[at - 1].bytes, p.stream.d[at - 1].len), DV_EDUPLICATE);
    apply_all(ap, &p.stream, at, p.stream.n);
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    dv_apply_free(ap);
    /* the same, repositioning an applier by proof of state */
    dv_db *r2 = NULL;
    dv_db *empty = test_open_db(DIM, 42);
    dv_apply *ap2 = make_applier(empty, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    apply_all(ap2, &p.stream, 0, at);
    assert_int_equal(dv_db_state_hash(empty), cp.state_hash);
    assert_int_equal(dv_db_clone(empty, &r2), DV_OK);
    dv_apply *ap3 = make_applier(r2, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    dv_checkpoint wrong = cp;
    wrong.state_hash ^= 1;
    assert_int_equal(dv_apply_seek_checkpoint(ap3, &wrong), DV_EDATA);
    assert_int_equal(dv_apply_seek_checkpoint(ap3, &cp), DV_OK);
    assert_int_equal(dv_apply_position(ap3), cp.sequence);
    apply_all(ap3, &p.stream, at, p.stream.n);
    assert_int_equal(dv_db_state_hash(r2), dv_db_state_hash(p.db));
    dv_apply_free(ap2);
    dv_apply_free(ap3);
    dv_db_close(empty);
    dv_db_close(r2);
    dv_db_close(replica);
    test_primary_close(&p);
}

/* ---- faults: detected, replica unchanged, converges after re-delivery ---------- */

static void expect_refused(dv_apply *ap, dv_db *replica, const uint8_t *bytes, size_t len, dv_status want) {
    uint64_t before = dv_db_state_hash(replica), pos = dv_apply_position(ap);
    dv_status st = dv_apply_buffer(ap, bytes, len);
    if (st != want)
        fail_msg("expected %s, got %s (%s)", dv_status_name(want), dv_status_name(st),
                 dv_apply_last_error(ap));
    assert_int_equal(dv_db_state_hash(replica), before);
    assert_int_equal(dv_apply_position(ap), pos);
}

static void duplicated_dropped_reordered_truncated_and_flipped_deltas_are_refused(void **state) {
    (void)state;
    test_primary p;
    test_primary_open(&p, DIM, NULL, 105);
    test_primary_run(&p, 2000, NULL);
    const test_stream *s = &p.stream;
    dv_db *replica = test_open_db(DIM, 42);
    dv_apply *ap = make_applier(replica, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    uint64_t seed = 5;
    size_t i = 0;
    while (i < s->n) {
        const test_delta *d = &s->d[i];
        switch (test_rand(&seed) % 8) {
        case 0: /* duplicate of an applied one */
            if (i > 0) expect_refused(ap, replica, s->d[i - 1].bytes, s->d[i - 1].len, DV_EDUPLICATE);
            break;
        case 1: /* dropped: the next one arrives first */
            if (i + 1 < s->n) expect_refused(ap, replica, s->d[i + 1].bytes, s->d[i + 1].len, DV_EGAP);
            break;
        case 2: /* truncated at a random length */
            expect_refused(ap, replica, d->bytes, test_rand(&seed) % d->len, DV_ETRUNCATED);
            break;
        case 3: { /* one bit flipped anywhere but payload_offset (not covered, by design) */
            uint8_t *copy = malloc(d->len);
            memcpy(copy, d->bytes, d->len);
            size_t byte;
            do byte = test_rand(&seed) % d->len;
            while (byte >= 24 && byte < 28);
            copy[byte] ^= (uint8_t)(1u << (test_rand(&seed) % 8));
            uint64_t before = dv_db_state_hash(replica);
            dv_status st = dv_apply_buffer(ap, copy, d->len);
            assert_true(st < 0 && st != DV_EDUPLICATE);
            assert_int_equal(dv_db_state_hash(replica), before);
            free(copy);
            break;
        }
        default:
            break;
        }
        assert_int_equal(dv_apply_buffer(ap, d->bytes, d->len), DV_OK); /* re-delivery */
        i++;
    }
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    dv_apply_stats st;
    dv_apply_stats_get(ap, &st);
    assert_true(st.refused > 0 && st.duplicates > 0);
    dv_apply_free(ap);
    dv_db_close(replica);
    test_primary_close(&p);
}

static void seek_refuses_what_cannot_be_honoured(void **state) {
    (void)state;
    test_primary p;
    test_primary_open(&p, DIM, NULL, 106);
    test_primary_run(&p, 200, NULL);
    dv_db *replica = test_open_db(DIM, 42);
    dv_apply *ap = make_applier(replica, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    apply_all(ap, &p.stream, 0, 50);
    assert_int_equal(dv_apply_seek(ap, 50), DV_OK);
    assert_int_equal(dv_apply_seek(ap, 10), DV_ESTALE);
    assert_int_equal(dv_apply_seek(ap, 60), DV_EGAP);
    expect_refused(ap, replica, p.stream.d[70].bytes, p.stream.d[70].len, DV_EGAP);
    assert_non_null(strstr(dv_apply_last_error(ap), "missing 51..70"));
    dv_apply_free(ap);
    dv_db_close(replica);
    test_primary_close(&p);
}

/* ---- conflicts --------------------------------------------------------------- */

typedef struct conflict_log {
    int calls;
    dv_conflict_kind last;
    dv_conflict_action answer;
} conflict_log;

static dv_conflict_action on_conflict(void *ctx, dv_conflict_kind kind, const dv_delta_header *h,
                                      const char *id) {
    conflict_log *c = ctx;
    (void)h;
    (void)id;
    c->calls++;
    c->last = kind;
    return c->answer;
}

/* Primary: insert a, b; update a (sparse); delete b. Returns the stream. */
static void small_primary(test_primary *p, int before_images) {
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.before_images = before_images;
    test_primary_open(p, DIM, &cfg, 107);
    float v[DIM];
    for (int i = 0; i < DIM; i++) v[i] = (float)i;
    assert_int_equal(dv_db_insert(p->db, "a", v, NULL, 0), DV_OK);
    v[0] = 100;
    assert_int_equal(dv_db_insert(p->db, "b", v, NULL, 0), DV_OK);
    uint32_t idx[1] = {3};
    float val[1] = {-3};
    assert_int_equal(dv_db_update_sparse(p->db, "a", idx, val, 1), DV_OK);
    assert_int_equal(dv_db_delete(p->db, "b"), DV_OK);
    test_primary_drain(p);
    assert_int_equal(p->stream.n, 4);
}

static void conflicts_are_classified_and_resolved_by_policy(void **state) {
    (void)state;
    test_primary p;
    small_primary(&p, 1);
    const test_stream *s = &p.stream;
    float v[DIM] = {0};

    /* EXISTS: the logical replica already has "a"; ABORT refuses, REPLACE overwrites */
    dv_db *r = test_open_db(DIM, 1);
    assert_int_equal(dv_db_insert(r, "a", v, NULL, 0), DV_OK);
    conflict_log log = {0, 0, DV_CONFLICT_ABORT};
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.mode = DV_APPLY_LOGICAL;
    cfg.on_conflict = on_conflict;
    cfg.conflict_ctx = &log;
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(r, &cfg, &ap), DV_OK);
    expect_refused(ap, r, s->d[0].bytes, s->d[0].len, DV_ECONFLICT);
    assert_int_equal(log.last, DV_CONFLICT_EXISTS);
    log.answer = DV_CONFLICT_REPLACE;
    assert_int_equal(dv_apply_buffer(ap, s->d[0].bytes, s->d[0].len), DV_OK);
    float got[DIM], want[DIM];
    assert_int_equal(dv_db_get(r, "a", got), DV_OK);
    for (int i = 0; i < DIM; i++) want[i] = (float)i;
    assert_memory_equal(got, want, sizeof got);
    dv_apply_free(ap);
    dv_db_close(r);

    /* DATA: the replica's "a" changed locally, so the before-image differs */
    r = test_open_db(DIM, 42);
    ap = make_applier(r, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    apply_all(ap, s, 0, 2);
    uint32_t idx[1] = {3};
    float local[1] = {55};
    assert_int_equal(dv_db_update_sparse(r, "a", idx, local, 1), DV_OK);
    expect_refused(ap, r, s->d[2].bytes, s->d[2].len, DV_EDATA);
    dv_apply_free(ap);
    dv_db_close(r);

    /* NOTFOUND: a replica that never saw "b" gets its delete; OMIT moves on */
    r = test_open_db(DIM, 42);
    dv_apply_config_default(&cfg);
    cfg.mode = DV_APPLY_LOGICAL;
    cfg.start_position = 3;
    cfg.policy = DV_CONFLICT_ABORT;
    assert_int_equal(dv_apply_init(r, &cfg, &ap), DV_OK);
    expect_refused(ap, r, s->d[3].bytes, s->d[3].len, DV_ENOTFOUND);
    dv_apply_free(ap);
    cfg.policy = DV_CONFLICT_OMIT;
    assert_int_equal(dv_apply_init(r, &cfg, &ap), DV_OK);
    assert_int_equal(dv_apply_buffer(ap, s->d[3].bytes, s->d[3].len), DV_OK);
    assert_int_equal(dv_apply_position(ap), 4);
    dv_apply_stats st;
    dv_apply_stats_get(ap, &st);
    assert_int_equal(st.omitted, 1);
    dv_apply_free(ap);
    dv_db_close(r);

    /* CONSTRAINT: a replica of another dimension */
    r = test_open_db(DIM + 1, 42);
    ap = make_applier(r, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    expect_refused(ap, r, s->d[0].bytes, s->d[0].len, DV_ECONSTRAINT);
    dv_apply_free(ap);
    dv_db_close(r);
    test_primary_close(&p);
}

/* ---- atomicity and coherence with crafted (validly checksummed) deltas ---------- */

static void encode_into(const dv_delta *d, test_delta *out) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena scratch;
    dv_delta_arena_init(&scratch, &mem);
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    size_t cap = dv_delta_encoded_bound(d), len = 0;
    assert_true(cap > 0);
    out->bytes = malloc(DV_DELTA_HEADER_SIZE + cap);
    assert_int_equal(
        dv_delta_encode(d, &o, &scratch, out->bytes, out->bytes + DV_DELTA_HEADER_SIZE, cap, &len), DV_OK);
    out->len = DV_DELTA_HEADER_SIZE + len;
    dv_delta_arena_free(&scratch);
}

static void edge_to_a_missing_node_is_incoherent_and_changes_nothing(void **state) {
    (void)state;
    test_primary p;
    small_primary(&p, 0);
    dv_db *r = test_open_db(DIM, 42);
    dv_apply *ap = make_applier(r, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    apply_all(ap, &p.stream, 0, 4);
    /* an insert of "c" at slot 1 (free again) whose graph part points at slot 77 */
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_builder b;
    dv_delta_builder_init(&b, &mem);
    dv_delta_builder_begin(&b, DV_OP_INSERT);
    float v[DIM] = {1};
    assert_int_equal(dv_delta_builder_set_insert(&b, 1, "c", 0, DIM, v), DV_OK);
    assert_int_equal(dv_delta_builder_edge_add(&b, 0, 1, 0, 1.0f), DV_OK);
    assert_int_equal(dv_delta_builder_edge_add(&b, 0, 1, 77, 1.0f), DV_OK);
    b.d.h.sequence = 5;
    b.d.h.prev_sequence = 4; /* slot 1 was last touched by the delete of b */
    test_delta bad;
    encode_into(&b.d, &bad);
    expect_refused(ap, r, bad.bytes, bad.len, DV_EINCOHERENT);
    assert_non_null(strstr(dv_apply_last_error(ap), "edge add"));
    free(bad.bytes);
    dv_delta_builder_free(&b);
    dv_apply_free(ap);
    dv_db_close(r);
    test_primary_close(&p);
}

static void a_batch_with_one_bad_member_applies_nothing(void **state) {
    (void)state;
    test_primary p;
    small_primary(&p, 0);
    dv_db *r = test_open_db(DIM, 42);
    dv_apply *ap = make_applier(r, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    apply_all(ap, &p.stream, 0, 2); /* a and b exist */
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_batch bw;
    dv_delta_batch_init(&bw, &mem);
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    dv_delta_builder b;
    dv_delta_builder_init(&b, &mem);
    /* member 1: a valid dense update of "a" (slot 0) */
    float v[DIM];
    for (int i = 0; i < DIM; i++) v[i] = 9.0f;
    dv_delta_builder_begin(&b, DV_OP_UPDATE);
    assert_int_equal(dv_delta_builder_set_dense(&b, 0, "a", DIM, v, NULL), DV_OK);
    b.d.h.prev_sequence = 1;
    assert_int_equal(dv_delta_batch_append(&bw, &b.d, &o), DV_OK);
    /* member 2: a delete of an id the replica does not have */
    dv_delta_builder_begin(&b, DV_OP_DELETE);
    assert_int_equal(dv_delta_builder_set_delete(&b, 5, "zzz", 0, NULL), DV_OK);
    assert_int_equal(dv_delta_batch_append(&bw, &b.d, &o), DV_OK);
    dv_delta_header bh;
    memset(&bh, 0, sizeof bh);
    bh.sequence = 3;
    size_t cap = dv_delta_batch_bound(&bw), len = 0;
    uint8_t *buf = malloc(DV_DELTA_HEADER_SIZE + cap);
    assert_int_equal(dv_delta_batch_finish(&bw, &bh, &o, buf, buf + DV_DELTA_HEADER_SIZE, cap, &len), DV_OK);
    expect_refused(ap, r, buf, DV_DELTA_HEADER_SIZE + len, DV_ENOTFOUND);
    float got[DIM];
    assert_int_equal(dv_db_get(r, "a", got), DV_OK);
    assert_true(got[0] != 9.0f); /* member 1 was rolled back */
    free(buf);
    dv_delta_builder_free(&b);
    dv_delta_batch_free(&bw);
    dv_apply_free(ap);
    dv_db_close(r);
    test_primary_close(&p);
}

static void apply_batch_reports_each_result(void **state) {
    (void)state;
    test_primary p;
    test_primary_open(&p, DIM, NULL, 108);
    test_primary_run(&p, 100, NULL);
    dv_db *r = test_open_db(DIM, 42);
    dv_apply *ap = make_applier(r, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT);
    size_t n = 10;
    const uint8_t *h[10], *pl[10];
    size_t lens[10];
    dv_status res[10];
    for (size_t i = 0; i < n; i++) {
        size_t k = i == 6 ? 7 : i; /* delta 6 missing: 7 comes twice */
        h[i] = p.stream.d[k].bytes;
        pl[i] = p.stream.d[k].bytes + DV_DELTA_HEADER_SIZE;
        lens[i] = p.stream.d[k].len - DV_DELTA_HEADER_SIZE;
    }
    size_t applied = 0;
    assert_int_equal(dv_apply_batch(ap, h, pl, lens, n, res, &applied), DV_EGAP);
    assert_int_equal(applied, 6);
    assert_int_equal(res[5], DV_OK);
    assert_int_equal(res[6], DV_EGAP);
    assert_int_equal(res[9], DV_EGAP);
    assert_int_equal(dv_apply_position(ap), 6);
    dv_apply_free(ap);
    dv_db_close(r);
    test_primary_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(structural_replica_is_identical_after_a_long_mixed_workload),
        cmocka_unit_test(batched_stream_with_before_images_converges),
        cmocka_unit_test(logical_replica_keeps_recall_within_a_hundredth),
        cmocka_unit_test(replica_started_from_a_checkpoint_copy_converges),
        cmocka_unit_test(duplicated_dropped_reordered_truncated_and_flipped_deltas_are_refused),
        cmocka_unit_test(seek_refuses_what_cannot_be_honoured),
        cmocka_unit_test(conflicts_are_classified_and_resolved_by_policy),
        cmocka_unit_test(edge_to_a_missing_node_is_incoherent_and_changes_nothing),
        cmocka_unit_test(a_batch_with_one_bad_member_applies_nothing),
        cmocka_unit_test(apply_batch_reports_each_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
