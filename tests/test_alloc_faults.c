/*
 * test_alloc_faults.c -- every operation survives an allocation failure at
 * any point: an allocator that refuses its Nth allocation (or growth) is run
 * for N = 0, 1, 2, ... until the operation completes without reaching the
 * failure. Each refused run must return DV_ENOMEM, leave the db exactly as
 * it was (same dv_db_state_hash and count, invariants intact), keep a
 * capture's stream in agreement with its db, and leak nothing (the counting
 * allocator returns to zero after close; LeakSanitizer checks the rest).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "db/replay.h"
#include "support/stream.h"

#define DIM 8
#define BASE 24 /* vectors in the fixture db */

/* ---- the failing allocator ------------------------------------------------- */

typedef struct fault {
    long n;       /* allocations and growths seen since arm() */
    long fail_at; /* index of the one to refuse; -1 = never */
    int failed;   /* the refusal happened */
    size_t live;  /* bytes held */
} fault;

/* Thread-safe: parallel apply allocates from its worker threads too. */
static void *fault_realloc(void *ctx, void *p, size_t old_size, size_t new_size) {
    fault *f = ctx;
    if (new_size == 0) {
        free(p);
        __atomic_fetch_sub(&f->live, old_size, __ATOMIC_RELAXED);
        return NULL;
    }
    long at = __atomic_load_n(&f->fail_at, __ATOMIC_RELAXED);
    if (new_size > old_size && at >= 0 && __atomic_fetch_add(&f->n, 1, __ATOMIC_RELAXED) == at) {
        __atomic_store_n(&f->failed, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    void *q = realloc(p, new_size);
    if (q) {
        __atomic_fetch_add(&f->live, new_size, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&f->live, old_size, __ATOMIC_RELAXED);
    }
    return q;
}

static fault F;
static dv_allocator FA = {fault_realloc, &F};

static void arm(long at) {
    __atomic_store_n(&F.n, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&F.failed, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&F.fail_at, at, __ATOMIC_RELAXED);
}
static void disarm(void) { __atomic_store_n(&F.fail_at, -1, __ATOMIC_RELAXED); }

/* ---- fixtures ----------------------------------------------------------------- */

static void vec_of(uint32_t i, float *v) {
    uint64_t s = 0x9E3779B97F4A7C15ull * (i + 1);
    for (int d = 0; d < DIM; d++) v[d] = test_randf(&s);
}

static dv_db *open_db(const dv_allocator *a) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, DIM);
    cfg.M = 4;
    cfg.ef_construction = 16;
    cfg.ef_search = 16;
    cfg.allocator = a;
    dv_db *db = NULL;
    assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
    return db;
}

static void fill(dv_db *db, uint32_t n) {
    float v[DIM];
    char id[32];
    for (uint32_t i = 0; i < n; i++) {
        vec_of(i, v);
        snprintf(id, sizeof id, "v%u", i);
        dv_meta_kv kv[1] = {{"k", "x"}};
        assert_int_equal(dv_db_insert(db, id, v, kv, i % 3 == 0 ? 1 : 0), DV_OK);
    }
}

/* A capture over `db` using the fault allocator, with batching when batch > 1. */
static dv_capture *open_capture(dv_db *db, uint32_t batch) {
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.ring.payload_size = 1u << 20;
    cc.batch_max_deltas = batch;
    cc.allocator = &FA;
    dv_capture *c = NULL;
    assert_int_equal(dv_capture_init(db, &cc, &c), DV_OK);
    assert_int_equal(dv_capture_start(c), DV_OK);
    return c;
}

/* Moves every delta in the capture's ring into s. */
static void drain(dv_capture *c, test_stream *s) {
    test_primary p;
    memset(&p, 0, sizeof p);
    p.cap = c;
    p.stream = *s;
    test_primary_drain(&p);
    *s = p.stream;
}

/* A copy of base (the db when capture started) replays s: its hash. */
static uint64_t replay_hash(const dv_db *base, const test_stream *s) {
    dv_db *r = NULL;
    assert_int_equal(dv_db_clone(base, &r), DV_OK);
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(r, NULL, &ap), DV_OK);
    for (size_t i = 0; i < s->n; i++) {
        dv_status st = dv_apply_buffer(ap, s->d[i].bytes, s->d[i].len);
        if (st != DV_OK)
            fail_msg("replay of delta %zu: %s: %s", i, dv_status_name(st), dv_apply_last_error(ap));
    }
    uint64_t h = dv_db_state_hash(r);
    dv_apply_free(ap);
    dv_db_close(r);
    return h;
}

/* ---- db writes ------------------------------------------------------------------ */

enum { W_INSERT, W_UPDATE, W_SPARSE, W_DELETE, W_META, W_META_NEW, W_META_DEL, W_COUNT };
static const char *const W_NAMES[W_COUNT] = {"insert",   "update",       "sparse update", "delete",
                                             "set_meta", "set_meta new", "meta remove"};

static dv_status do_write(dv_db *db, int w) {
    float v[DIM];
    switch (w) {
    case W_INSERT: {
        vec_of(1000, v);
        dv_meta_kv kv[2] = {{"a", "1"}, {"b", "2"}};
        return dv_db_insert(db, "new", v, kv, 2);
    }
    case W_UPDATE:
        vec_of(2000, v);
        return dv_db_update(db, "v5", v);
    case W_SPARSE: {
        uint32_t idx[2] = {1, 6};
        float val[2] = {0.9f, -0.9f};
        return dv_db_update_sparse(db, "v7", idx, val, 2);
    }
    case W_DELETE:
        return dv_db_delete(db, "v3");
    case W_META:
        return dv_db_set_meta(db, "v9", "k", "changed");
    case W_META_NEW:
        return dv_db_set_meta(db, "v4", "fresh", "value");
    default:
        return dv_db_set_meta(db, "v6", "k", NULL);
    }
}

/* For every N: a refused write leaves the db as it was; with a capture
 * attached (batch = 0: none), the captured stream replays to the db's hash. */
static void sweep_write(int w, int with_capture, uint32_t batch) {
    for (long n = 0;; n++) {
        disarm();
        dv_db *db = open_db(&FA);
        fill(db, BASE);
        if (w == W_META_DEL) assert_int_equal(dv_db_set_meta(db, "v6", "k", "y"), DV_OK);
        dv_capture *c = with_capture ? open_capture(db, batch) : NULL;
        dv_db *base = NULL;
        if (c) assert_int_equal(dv_db_clone(db, &base), DV_OK);
        test_stream s = {0};
        uint64_t h0 = dv_db_state_hash(db);
        size_t n0 = dv_db_count(db);
        arm(n);
        dv_status st = do_write(db, w);
        disarm();
        if (c) {
            assert_int_equal(dv_capture_flush(c), DV_OK);
            drain(c, &s);
        }
        if (!F.failed) {
            if (st != DV_OK) fail_msg("%s without failure: %s", W_NAMES[w], dv_status_name(st));
        } else if (st == DV_OK && c) {
            /* capture may absorb a failure (an optional LZ4 attempt stores the
             * delta uncompressed): the agreement checks below still hold */
        } else {
            if (st != DV_ENOMEM)
                fail_msg("%s, allocation %ld refused: %s, want DV_ENOMEM", W_NAMES[w], n, dv_status_name(st));
            if (dv_db_state_hash(db) != h0 || dv_db_count(db) != n0)
                fail_msg("%s, allocation %ld refused: the db changed", W_NAMES[w], n);
        }
        assert_int_equal(dv_db_check_invariants(db), DV_OK);
        if (c) {
            /* the stream agrees with the db, and capture still works afterwards */
            assert_true(replay_hash(base, &s) == dv_db_state_hash(db));
            float v[DIM];
            vec_of(3000, v);
            assert_int_equal(dv_db_insert(db, "after", v, NULL, 0), DV_OK);
            assert_int_equal(dv_capture_flush(c), DV_OK);
            drain(c, &s);
            assert_true(replay_hash(base, &s) == dv_db_state_hash(db));
        }
        int done = !F.failed;
        dv_capture_free(c);
        dv_db_close(base);
        dv_db_close(db);
        test_stream_free(&s);
        if (F.live != 0) fail_msg("%s, allocation %ld refused: %zu bytes leaked", W_NAMES[w], n, F.live);
        if (done) break;
    }
}

static void refused_db_writes_leave_the_db_unchanged(void **state) {
    (void)state;
    for (int w = 0; w < W_COUNT; w++) sweep_write(w, 0, 0);
}

static void refused_captured_writes_keep_db_and_stream_in_agreement(void **state) {
    (void)state;
    for (int w = 0; w < W_COUNT; w++) sweep_write(w, 1, 0);
}

static void refused_batched_captured_writes_keep_db_and_stream_in_agreement(void **state) {
    (void)state;
    for (int w = 0; w < W_COUNT; w++) sweep_write(w, 1, 8);
}

/* ---- open, clone, search, searcher ------------------------------------------ */

static void db_open_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    for (long n = 0;; n++) {
        dv_db_config cfg;
        dv_db_config_default(&cfg, DIM);
        cfg.allocator = &FA;
        dv_db *db = NULL;
        arm(n);
        dv_status st = dv_db_open(&cfg, &db);
        disarm();
        int done = !F.failed;
        if (done) {
            assert_int_equal(st, DV_OK);
        } else {
            assert_int_equal(st, DV_ENOMEM);
            assert_null(db);
        }
        dv_db_close(db);
        assert_int_equal(F.live, 0);
        if (done) break;
    }
}

static void clone_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    for (int empty = 1; empty >= 0; empty--) {
        for (long n = 0;; n++) {
            disarm();
            dv_db *db = open_db(&FA);
            if (!empty) fill(db, BASE);
            uint64_t h0 = dv_db_state_hash(db);
            dv_db *cl = NULL;
            arm(n);
            dv_status st = dv_db_clone(db, &cl);
            disarm();
            int done = !F.failed;
            if (done) {
                assert_int_equal(st, DV_OK);
                assert_true(dv_db_state_hash(cl) == h0);
                assert_int_equal(dv_db_check_invariants(cl), DV_OK);
            } else {
                assert_int_equal(st, DV_ENOMEM);
                assert_null(cl);
            }
            assert_true(dv_db_state_hash(db) == h0);
            dv_db_close(cl);
            dv_db_close(db);
            assert_int_equal(F.live, 0);
            if (done) break;
        }
    }
}

static void search_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    for (int exact = 0; exact < 2; exact++) {
        for (long n = 0;; n++) {
            disarm();
            dv_db *db = open_db(&FA);
            fill(db, BASE);
            uint64_t h0 = dv_db_state_hash(db);
            float q[DIM];
            vec_of(77, q);
            dv_hit hits[5];
            size_t nh = 0;
            arm(n);
            dv_status st =
                exact ? dv_db_search_exact(db, q, 5, hits, &nh) : dv_db_search(db, q, 5, 40, hits, &nh);
            disarm();
            int done = !F.failed;
            assert_int_equal(st, done ? DV_OK : DV_ENOMEM);
            if (done) assert_int_equal(nh, 5);
            assert_true(dv_db_state_hash(db) == h0);
            dv_db_close(db);
            assert_int_equal(F.live, 0);
            if (done) break;
        }
    }
}

static void searcher_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    dv_db *db = open_db(NULL);
    fill(db, BASE);
    for (long n = 0;; n++) {
        dv_searcher_config sc;
        dv_searcher_config_default(&sc);
        sc.allocator = &FA;
        dv_searcher *s = NULL;
        arm(n);
        dv_status st = dv_searcher_open(db, &sc, &s);
        int failed_open = F.failed;
        dv_status st2 = DV_OK;
        size_t nh = 0;
        dv_hit hits[5];
        if (st == DV_OK) {
            float q[DIM];
            vec_of(78, q);
            st2 = dv_searcher_search(s, q, 5, 40, hits, &nh);
        }
        disarm();
        int done = !F.failed;
        if (failed_open) {
            assert_int_equal(st, DV_ENOMEM);
            assert_null(s);
        } else {
            assert_int_equal(st, DV_OK);
            assert_int_equal(st2, done ? DV_OK : DV_ENOMEM);
        }
        if (done) assert_int_equal(nh, 5);
        dv_searcher_close(s);
        assert_int_equal(F.live, 0);
        if (done) break;
    }
    dv_db_close(db);
}

/* ---- apply ----------------------------------------------------------------------- */

/* A primary's stream (malloc): BASE inserts then a mix of every write kind. */
static test_stream primary_stream(uint32_t batch) {
    dv_db *db = open_db(NULL);
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.batch_max_deltas = batch;
    cc.before_images = 1;
    dv_capture *c = NULL;
    assert_int_equal(dv_capture_init(db, &cc, &c), DV_OK);
    assert_int_equal(dv_capture_start(c), DV_OK);
    fill(db, BASE);
    for (int w = 0; w < W_COUNT; w++) {
        if (w == W_META_DEL) assert_int_equal(dv_db_set_meta(db, "v6", "k", "y"), DV_OK);
        assert_int_equal(do_write(db, w), DV_OK);
    }
    assert_int_equal(dv_capture_flush(c), DV_OK);
    test_stream s = {0};
    drain(c, &s);
    dv_capture_free(c);
    dv_db_close(db);
    return s;
}

static int conflict_cb_calls;
static dv_conflict_action omit_cb(void *ctx, dv_conflict_kind k, const dv_delta_header *h, const char *id) {
    (void)ctx;
    (void)k;
    (void)h;
    (void)id;
    conflict_cb_calls++;
    return DV_CONFLICT_OMIT;
}

/* Applies s to a replica whose db and applier use the fault allocator; for
 * every delta i and every N, a refusal is DV_ENOMEM with the replica and the
 * position unchanged, and the same delta then applies. */
static void sweep_apply(const test_stream *s, dv_apply_mode mode, int policy, int use_cb) {
    for (size_t i = 0; i < s->n; i++) {
        for (long n = 0;; n++) {
            disarm();
            dv_db *r = open_db(&FA);
            dv_apply_config cfg;
            dv_apply_config_default(&cfg);
            cfg.mode = mode;
            cfg.policy = (dv_conflict_action)policy;
            cfg.on_conflict = use_cb ? omit_cb : NULL;
            cfg.workers = 0;
            cfg.allocator = &FA;
            dv_apply *ap = NULL;
            assert_int_equal(dv_apply_init(r, &cfg, &ap), DV_OK);
            for (size_t j = 0; j < i; j++)
                assert_int_equal(dv_apply_buffer(ap, s->d[j].bytes, s->d[j].len), DV_OK);
            uint64_t h0 = dv_db_state_hash(r);
            uint64_t pos = dv_apply_position(ap);
            arm(n);
            dv_status st = dv_apply_buffer(ap, s->d[i].bytes, s->d[i].len);
            disarm();
            int done = !F.failed;
            if (done) {
                assert_int_equal(st, DV_OK);
            } else {
                if (st != DV_ENOMEM)
                    fail_msg("delta %zu, allocation %ld refused: %s (%s), want DV_ENOMEM", i, n,
                             dv_status_name(st), dv_apply_last_error(ap));
                if (dv_db_state_hash(r) != h0 || dv_apply_position(ap) != pos)
                    fail_msg("delta %zu, allocation %ld refused: the replica changed", i, n);
                st = dv_apply_buffer(ap, s->d[i].bytes, s->d[i].len);
                if (st != DV_OK) fail_msg("delta %zu after refusal %ld: %s", i, n, dv_apply_last_error(ap));
            }
            assert_int_equal(dv_db_check_invariants(r), DV_OK);
            dv_apply_free(ap);
            dv_db_close(r);
            if (F.live != 0) fail_msg("delta %zu, allocation %ld refused: %zu bytes leaked", i, n, F.live);
            if (done) break;
        }
    }
}

static void refused_apply_is_enomem_and_leaves_the_replica_unchanged(void **state) {
    (void)state;
    test_stream s = primary_stream(0);
    static const int policies[3] = {DV_CONFLICT_ABORT, DV_CONFLICT_OMIT, DV_CONFLICT_REPLACE};
    for (int p = 0; p < 3; p++) sweep_apply(&s, DV_APPLY_STRUCTURAL, policies[p], 0);
    sweep_apply(&s, DV_APPLY_STRUCTURAL, DV_CONFLICT_ABORT, 1);
    sweep_apply(&s, DV_APPLY_LOGICAL, DV_CONFLICT_OMIT, 0);
    assert_int_equal(conflict_cb_calls, 0); /* allocation failure is not a conflict */
    test_stream_free(&s);
}

static void refused_batch_apply_is_enomem_and_leaves_the_replica_unchanged(void **state) {
    (void)state;
    test_stream s = primary_stream(4);
    assert_true(s.n > 1);
    sweep_apply(&s, DV_APPLY_STRUCTURAL, DV_CONFLICT_OMIT, 0);
    sweep_apply(&s, DV_APPLY_LOGICAL, DV_CONFLICT_ABORT, 0);
    test_stream_free(&s);
}

/* dv_apply_batch over the whole stream (workers = 0: inline; 2: two worker
 * threads, min_run 1 so the parallel path runs): for every N the call stops
 * at the first refused delta with DV_ENOMEM, and the replica is exactly the
 * state after the deltas before it. With threads the Nth allocation is not
 * always the same one (the workers race), but every run must still hold. */
static void sweep_apply_batch(const test_stream *s, uint32_t workers, dv_conflict_action policy) {
    uint64_t *want = calloc(s->n + 1, sizeof *want);
    assert_non_null(want);
    {
        dv_db *r = open_db(NULL);
        dv_apply *ap = NULL;
        assert_int_equal(dv_apply_init(r, NULL, &ap), DV_OK);
        want[0] = dv_db_state_hash(r);
        for (size_t i = 0; i < s->n; i++) {
            assert_int_equal(dv_apply_buffer(ap, s->d[i].bytes, s->d[i].len), DV_OK);
            want[i + 1] = dv_db_state_hash(r);
        }
        dv_apply_free(ap);
        dv_db_close(r);
    }
    const uint8_t **h = calloc(s->n, sizeof *h), **pl = calloc(s->n, sizeof *pl);
    size_t *lens = calloc(s->n, sizeof *lens);
    dv_status *res = calloc(s->n, sizeof *res);
    assert_true(h && pl && lens && res);
    for (size_t i = 0; i < s->n; i++) {
        h[i] = s->d[i].bytes;
        pl[i] = s->d[i].bytes + DV_DELTA_HEADER_SIZE;
        lens[i] = s->d[i].len - DV_DELTA_HEADER_SIZE;
    }
    for (long n = 0;; n++) {
        disarm();
        dv_db *r = open_db(&FA);
        dv_apply_config cfg;
        dv_apply_config_default(&cfg);
        cfg.workers = workers;
        cfg.policy = policy;
        cfg.min_run = 1;
        cfg.allocator = &FA;
        dv_apply *ap = NULL;
        assert_int_equal(dv_apply_init(r, &cfg, &ap), DV_OK);
        if (workers) assert_int_equal(dv_apply_start_threads(ap), DV_OK);
        size_t applied = 0;
        arm(n);
        dv_status st = dv_apply_batch(ap, h, pl, lens, s->n, res, &applied);
        disarm();
        if (workers) assert_int_equal(dv_apply_stop_threads(ap), DV_OK);
        int done = !__atomic_load_n(&F.failed, __ATOMIC_RELAXED);
        if (st == DV_OK) {
            assert_int_equal(applied, s->n);
        } else {
            if (st != DV_ENOMEM || done)
                fail_msg("workers %u, allocation %ld refused: %s (%s)", workers, n, dv_status_name(st),
                         dv_apply_last_error(ap));
            assert_int_equal(res[applied], DV_ENOMEM);
        }
        assert_int_equal(dv_apply_position(ap), applied);
        if (dv_db_state_hash(r) != want[applied])
            fail_msg("workers %u, allocation %ld refused: replica is not the state after %zu deltas", workers,
                     n, applied);
        assert_int_equal(dv_db_check_invariants(r), DV_OK);
        dv_apply_stats as;
        assert_int_equal(dv_apply_stats_get(ap, &as), DV_OK);
        if (done && workers) assert_true(as.parallel_deltas > 0); /* the workers took part */
        dv_apply_free(ap);
        dv_db_close(r);
        if (F.live != 0) fail_msg("workers %u, allocation %ld refused: %zu bytes leaked", workers, n, F.live);
        if (done) break;
    }
    free(h);
    free(pl);
    free(lens);
    free(res);
    free(want);
}

static void refused_apply_batch_call_stops_at_the_refused_delta(void **state) {
    (void)state;
    test_stream s = primary_stream(0);
    sweep_apply_batch(&s, 0, DV_CONFLICT_ABORT);
    sweep_apply_batch(&s, 0, DV_CONFLICT_OMIT);
    test_stream_free(&s);
}

static void refused_parallel_apply_stops_at_the_refused_delta(void **state) {
    (void)state;
    test_stream s = primary_stream(0);
    sweep_apply_batch(&s, 2, DV_CONFLICT_ABORT);
    sweep_apply_batch(&s, 2, DV_CONFLICT_OMIT);
    test_stream_free(&s);
}

/* A failed test may have left blocks behind: each test counts from zero. */
static int reset(void **state) {
    (void)state;
    disarm();
    F.live = 0;
    return 0;
}

/* A parallel applier whose set-up runs out of memory at any allocation
 * returns DV_ENOMEM and keeps nothing. */
static void refused_parallel_applier_init_keeps_nothing(void **state) {
    (void)state;
    dv_db *r = open_db(NULL);
    for (uint32_t workers = 1; workers <= 2; workers++) {
        for (long n = 0;; n++) {
            dv_apply_config cfg;
            dv_apply_config_default(&cfg);
            cfg.workers = workers;
            cfg.allocator = &FA;
            dv_apply *ap = NULL;
            arm(n);
            dv_status st = dv_apply_init(r, &cfg, &ap);
            disarm();
            int done = !__atomic_load_n(&F.failed, __ATOMIC_RELAXED);
            if (st == DV_OK) {
                assert_true(done);
                assert_int_equal(dv_apply_worker_count(ap), workers);
                dv_apply_free(ap);
            } else {
                assert_int_equal(st, DV_ENOMEM);
            }
            if (F.live != 0)
                fail_msg("workers %u, allocation %ld refused: %zu bytes kept", workers, n, F.live);
            if (done) break;
        }
    }
    dv_db_close(r);
}

int main(void) {
    disarm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(db_open_fails_cleanly_at_every_allocation, reset),
        cmocka_unit_test_setup(refused_db_writes_leave_the_db_unchanged, reset),
        cmocka_unit_test_setup(clone_fails_cleanly_at_every_allocation, reset),
        cmocka_unit_test_setup(search_fails_cleanly_at_every_allocation, reset),
        cmocka_unit_test_setup(searcher_fails_cleanly_at_every_allocation, reset),
        cmocka_unit_test_setup(refused_captured_writes_keep_db_and_stream_in_agreement, reset),
        cmocka_unit_test_setup(refused_batched_captured_writes_keep_db_and_stream_in_agreement, reset),
        cmocka_unit_test_setup(refused_apply_is_enomem_and_leaves_the_replica_unchanged, reset),
        cmocka_unit_test_setup(refused_batch_apply_is_enomem_and_leaves_the_replica_unchanged, reset),
        cmocka_unit_test_setup(refused_apply_batch_call_stops_at_the_refused_delta, reset),
        cmocka_unit_test_setup(refused_parallel_apply_stops_at_the_refused_delta, reset),
        cmocka_unit_test_setup(refused_parallel_applier_init_keeps_nothing, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
