/*
 * test_replay.c -- the observer contract: replaying every event a db emits
 * onto an empty db with the same config reproduces the state (equal state
 * hash after every op, equal search results), also through a chain
 * (A -> B -> C) and from a clone; replay_check rejects incoherent events
 * without changing anything; an observer refusing OP_BEGIN leaves the db
 * unchanged; the edge events of an op never exceed what OP_BEGIN bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "db/db_internal.h"
#include "db/replay.h"

typedef struct rng {
    uint64_t s;
} rng;
static uint64_t rnext(rng *r) {
    r->s += 0x9E3779B97F4A7C15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float runif(rng *r) { return (float)((rnext(r) >> 40) / 16777216.0); }

enum { DIM = 16 };

/* ---- a recording observer that deep-copies events ------------------------ */

typedef struct rec {
    dv_event *ev;
    size_t n, cap;
    uint32_t dim;
    /* per-op accounting */
    size_t op_edges, op_bound, max_ratio_violations, ops;
    size_t id_len;
} rec;

static char *sdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    memcpy(p, s, n);
    return p;
}
static void *mdup(const void *p, size_t n) {
    if (!p) return NULL;
    void *q = malloc(n ? n : 1);
    memcpy(q, p, n);
    return q;
}

static dv_status on_event(void *ctx, const dv_event *e) {
    rec *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->ev = realloc(r->ev, r->cap * sizeof(dv_event));
    }
    dv_event c = *e;
    switch (e->kind) {
    case DV_EV_OP_BEGIN:
        c.u.op.id = sdup(e->u.op.id);
        r->op_edges = 0;
        r->op_bound = e->u.op.bound_bytes;
        r->id_len = e->u.op.id ? strlen(e->u.op.id) : 0; /* a repair step names no vector */
        break;
    case DV_EV_OP_END: {
        c.u.op.id = sdup(e->u.op.id);
        /* the encoded size with the real edge count must fit the bound */
        size_t need = 64 + r->id_len + (size_t)r->dim * 8 + 16 + r->op_edges * 12;
        if (need > r->op_bound) r->max_ratio_violations++;
        r->ops++;
        break;
    }
    case DV_EV_VECTOR_INSERT: {
        c.u.insert.id = sdup(e->u.insert.id);
        c.u.insert.vec = mdup(e->u.insert.vec, r->dim * 4);
        dv_meta_kv *m = NULL;
        if (e->u.insert.n_meta) {
            m = malloc(e->u.insert.n_meta * sizeof *m);
            for (size_t i = 0; i < e->u.insert.n_meta; i++) {
                m[i].key = sdup(e->u.insert.meta[i].key);
                m[i].value = sdup(e->u.insert.meta[i].value);
            }
        }
        c.u.insert.meta = m;
        break;
    }
    case DV_EV_VECTOR_UPDATE:
        c.u.update.old_vec = NULL;
        c.u.update.new_vec = mdup(e->u.update.new_vec, r->dim * 4);
        c.u.update.idx = mdup(e->u.update.idx, e->u.update.n * 4);
        c.u.update.values = mdup(e->u.update.values, e->u.update.n * 4);
        if (!e->u.update.idx) {
            c.u.update.idx = NULL;
            c.u.update.values = NULL;
        }
        break;
    case DV_EV_VECTOR_DELETE:
        c.u.del.id = sdup(e->u.del.id);
        break;
    case DV_EV_META_SET:
        c.u.meta.key = sdup(e->u.meta.key);
        c.u.meta.value = sdup(e->u.meta.value);
        break;
    case DV_EV_EDGE_ADD:
    case DV_EV_EDGE_REMOVE:
        r->op_edges++;
        break;
    default:
        break;
    }
    r->ev[r->n++] = c;
    return DV_OK;
}

static void free_event(dv_event *e) {
    switch (e->kind) {
    case DV_EV_OP_BEGIN:
    case DV_EV_OP_END:
        free((void *)e->u.op.id);
        break;
    case DV_EV_VECTOR_INSERT:
        free((void *)e->u.insert.id);
        free((void *)e->u.insert.vec);
        for (size_t i = 0; i < e->u.insert.n_meta; i++) {
            free((void *)e->u.insert.meta[i].key);
            free((void *)e->u.insert.meta[i].value);
        }
        free((void *)e->u.insert.meta);
        break;
    case DV_EV_VECTOR_UPDATE:
        free((void *)e->u.update.new_vec);
        free((void *)e->u.update.idx);
        free((void *)e->u.update.values);
        break;
    case DV_EV_VECTOR_DELETE:
        free((void *)e->u.del.id);
        break;
    case DV_EV_META_SET:
        free((void *)e->u.meta.key);
        free((void *)e->u.meta.value);
        break;
    default:
        break;
    }
}

static void rec_clear(rec *r) {
    for (size_t i = 0; i < r->n; i++) free_event(&r->ev[i]);
    r->n = 0;
}
static void rec_free(rec *r) {
    rec_clear(r);
    free(r->ev);
}

/* Replays r's events [from, r->n) onto db; all must succeed. */
static void replay_all(dv_db *db, const rec *r, size_t from) {
    for (size_t i = from; i < r->n; i++) {
        dv_status st = dv_db_replay(db, &r->ev[i]);
        if (st != DV_OK) fail_msg("event %zu kind %d: %s", i, r->ev[i].kind, dv_strerror(st));
    }
}

static dv_db *open_db(uint64_t seed) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, DIM);
    cfg.M = 6;
    cfg.ef_construction = 40;
    cfg.seed = seed;
    cfg.metric = DV_METRIC_COSINE;
    dv_db *db;
    assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
    return db;
}

static void randvec(rng *r, float *v) {
    for (int j = 0; j < DIM; j++) v[j] = runif(r) * 2 - 1;
}

/* One random public write on db; ids drawn from a pool of 400. */
static void random_op(dv_db *db, rng *r) {
    char id[32], key[16], val[32];
    float v[DIM];
    snprintf(id, sizeof id, "id-%u", (unsigned)(rnext(r) % 400));
    int live = dv_db_slot_of(db, id) != DV_NO_SLOT;
    unsigned k = (unsigned)(rnext(r) % 10);
    if (!live || k < 3) {
        if (live) {
            assert_int_equal(dv_db_delete(db, id), DV_OK);
            return;
        }
        dv_meta_kv m[3];
        char ks[3][8], vs[3][16];
        size_t nm = rnext(r) % 4;
        for (size_t i = 0; i < nm; i++) {
            snprintf(ks[i], 8, "k%zu", i);
            snprintf(vs[i], 16, "v%u", (unsigned)(rnext(r) % 100));
            m[i].key = ks[i];
            m[i].value = vs[i];
        }
        randvec(r, v);
        assert_int_equal(dv_db_insert(db, id, v, m, nm), DV_OK);
    } else if (k < 5) {
        randvec(r, v);
        assert_int_equal(dv_db_update(db, id, v), DV_OK);
    } else if (k < 7) {
        uint32_t idx[4];
        float val4[4];
        size_t n = 0;
        for (uint32_t j = (uint32_t)(rnext(r) % 4); j < DIM && n < 4; j += 1 + (uint32_t)(rnext(r) % 5)) {
            idx[n] = j;
            val4[n++] = runif(r);
        }
        assert_int_equal(dv_db_update_sparse(db, id, idx, val4, n), DV_OK);
    } else {
        snprintf(key, sizeof key, "k%u", (unsigned)(rnext(r) % 5));
        snprintf(val, sizeof val, "x%u", (unsigned)(rnext(r) % 1000));
        assert_int_equal(dv_db_set_meta(db, id, key, (rnext(r) % 3) ? val : NULL), DV_OK);
    }
}

static void assert_same_search(const dv_db *a, const dv_db *b, rng *r) {
    for (int t = 0; t < 10; t++) {
        float q[DIM];
        randvec(r, q);
        dv_hit ha[10], hb[10];
        size_t na, nb;
        assert_int_equal(dv_db_search(a, q, 10, 30, ha, &na), DV_OK);
        assert_int_equal(dv_db_search(b, q, 10, 30, hb, &nb), DV_OK);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_int_equal(ha[i].slot, hb[i].slot);
            assert_string_equal(ha[i].id, hb[i].id);
            assert_true(ha[i].distance == hb[i].distance);
        }
    }
}

static void replayed_events_reproduce_state_after_every_op(void **state) {
    (void)state;
    rng r = {77};
    rec ra = {.dim = DIM}, rb = {.dim = DIM};
    dv_db *a = open_db(5), *b = open_db(999), *c = open_db(1);
    dv_observer oa = {on_event, &ra, NULL}, ob = {on_event, &rb, NULL};
    dv_db_set_observer(a, &oa);
    dv_db_set_observer(b, &ob); /* B re-emits what it replays: chain to C */
    for (int op = 0; op < 2500; op++) {
        size_t fa = ra.n, fb = rb.n;
        random_op(a, &r);
        assert_true(a->op_edges <= a->op_edge_bound);
        replay_all(b, &ra, fa);
        assert_true(dv_db_state_hash(a) == dv_db_state_hash(b));
        replay_all(c, &rb, fb);
        if (op % 100 == 0) {
            assert_true(dv_db_state_hash(b) == dv_db_state_hash(c));
            assert_int_equal(dv_db_check_invariants(b), DV_OK);
        }
        if (ra.n > 100000) {
            rec_clear(&ra);
            rec_clear(&rb);
        }
    }
    assert_true(dv_db_state_hash(a) == dv_db_state_hash(c));
    assert_int_equal(dv_db_check_invariants(a), DV_OK);
    assert_int_equal(dv_db_check_invariants(c), DV_OK);
    assert_int_equal(ra.max_ratio_violations, 0);
    assert_true(ra.ops > 2000); /* removing an absent key emits nothing */
    assert_same_search(a, b, &r);
    assert_same_search(a, c, &r);

    /* a clone continues in lockstep */
    dv_db *d;
    assert_int_equal(dv_db_clone(a, &d), DV_OK);
    assert_true(dv_db_state_hash(a) == dv_db_state_hash(d));
    for (int op = 0; op < 300; op++) {
        size_t fa = ra.n;
        random_op(a, &r);
        replay_all(d, &ra, fa);
    }
    assert_true(dv_db_state_hash(a) == dv_db_state_hash(d));
    assert_same_search(a, d, &r);
    dv_db_close(d);
    dv_db_close(a);
    dv_db_close(b);
    dv_db_close(c);
    rec_free(&ra);
    rec_free(&rb);
}

/* Replays r's events [from, r->n) onto db, each run of edge events of one
 * kind on one layer through dv_db_replay_edges (as apply does per section). */
typedef struct edge_pair {
    uint32_t from, to;
    float dist;
} edge_pair;

static void replay_all_edge_arrays(dv_db *db, const rec *r, size_t from) {
    edge_pair run[256];
    size_t i = from;
    while (i < r->n) {
        const dv_event *e = &r->ev[i];
        if (e->kind != DV_EV_EDGE_ADD && e->kind != DV_EV_EDGE_REMOVE) {
            assert_int_equal(dv_db_replay(db, e), DV_OK);
            i++;
            continue;
        }
        size_t n = 0;
        while (i + n < r->n && n < 256 && r->ev[i + n].kind == e->kind &&
               r->ev[i + n].u.edge.layer == e->u.edge.layer) {
            run[n] = (edge_pair){r->ev[i + n].slot, r->ev[i + n].u.edge.to, r->ev[i + n].u.edge.distance};
            n++;
        }
        size_t failed = 99999;
        assert_int_equal(dv_db_replay_edges(db, e->kind, e->u.edge.layer, run, sizeof run[0], n, &failed),
                         DV_OK);
        assert_int_equal(failed, 99999);
        i += n;
    }
}

static void edge_arrays_replay_like_single_events(void **state) {
    (void)state;
    rng r = {4242};
    rec ra = {.dim = DIM};
    dv_db *a = open_db(5), *b = open_db(5), *c = open_db(5);
    dv_observer oa = {on_event, &ra, NULL};
    dv_db_set_observer(a, &oa);
    for (int op = 0; op < 1500; op++) {
        size_t fa = ra.n;
        random_op(a, &r);
        replay_all(b, &ra, fa);
        replay_all_edge_arrays(c, &ra, fa);
        assert_true(dv_db_state_hash(b) == dv_db_state_hash(c));
    }
    assert_int_equal(dv_db_check_invariants(c), DV_OK);

    /* a refused edge stops the array there: the ones before it are applied, the db stays coherent */
    uint32_t s = 0;
    const uint32_t *lst = NULL;
    uint32_t n = 0;
    while (s < dv_db_slot_capacity(c) && (!dv_db_slot_live(c, s) || dv_db_neighbours(c, s, 0, &lst, &n) ||
                                          n < 2 || n >= dv_db_max_degree(c, 0)))
        s++;
    assert_true(s < dv_db_slot_capacity(c));
    uint32_t t = 0; /* a live node not yet in s's list */
    for (;; t++) {
        int in = t == s || !dv_db_slot_live(c, t);
        for (uint32_t j = 0; j < n && !in; j++) in = lst[j] == t;
        if (!in) break;
    }
    edge_pair rm[3] = {{s, lst[0], 0}, {s, t, 0}, {s, lst[1], 0}}; /* the second is absent */
    uint32_t keep1 = lst[1];
    uint64_t h_before = dv_db_state_hash(c);
    size_t failed = 99999;
    assert_int_equal(dv_db_replay_edges(c, DV_EV_EDGE_REMOVE, 0, rm, sizeof rm[0], 3, &failed),
                     DV_EINCOHERENT);
    assert_int_equal(failed, 1);
    assert_true(dv_db_state_hash(c) != h_before); /* the first removal happened */
    dv_event ev = {0};
    ev.kind = DV_EV_EDGE_REMOVE;
    ev.slot = s;
    ev.u.edge.to = rm[0].to;
    ev.u.edge.layer = 0;
    assert_int_equal(dv_db_replay(b, &ev), DV_OK);
    assert_true(dv_db_state_hash(b) == dv_db_state_hash(c));
    assert_int_equal(dv_db_neighbours(c, s, 0, &lst, &n), DV_OK);
    int still = 0;
    for (uint32_t j = 0; j < n; j++) still |= lst[j] == keep1;
    assert_true(still); /* the third was not tried */
    assert_int_equal(dv_db_check_invariants(c), DV_OK);
    dv_db_close(a);
    dv_db_close(b);
    dv_db_close(c);
    rec_free(&ra);
}

/* Applies [first, second] to a clone of db as one array of kind on layer;
 * the second must be refused as incoherent, with the first applied. */
static void expect_second_refused(const dv_db *db, dv_event_kind kind, uint32_t layer, edge_pair first,
                                  edge_pair second) {
    dv_db *c;
    assert_int_equal(dv_db_clone(db, &c), DV_OK);
    edge_pair arr[2] = {first, second};
    size_t failed = 99999;
    assert_int_equal(dv_db_replay_edges(c, kind, layer, arr, sizeof arr[0], 2, &failed), DV_EINCOHERENT);
    assert_int_equal(failed, 1);
    assert_int_equal(dv_db_check_invariants(c), DV_OK);
    dv_db_close(c);
}

/* A live slot with a level of at least `level` whose list on `layer` has
 * fewer than `max` entries (and at least `min`), from `after` on. */
static uint32_t find_node(const dv_db *db, uint32_t after, uint32_t level, uint32_t layer, uint32_t min,
                          uint32_t max) {
    for (uint32_t s = after; s < dv_db_slot_capacity(db); s++) {
        const uint32_t *lst;
        uint32_t n;
        if (!dv_db_slot_in_graph(db, s) || dv_db_level_of(db, s) < level) continue;
        if (dv_db_neighbours(db, s, layer, &lst, &n) == DV_OK && n >= min && n < max) return s;
    }
    fail_msg("no node of level %u with %u..%u neighbours on layer %u", level, min, max, layer);
    return 0;
}

/* A live slot of at least `level`, not `from` and not in from's list on layer. */
static uint32_t find_stranger(const dv_db *db, uint32_t from, uint32_t layer, uint32_t level) {
    const uint32_t *lst;
    uint32_t n;
    assert_int_equal(dv_db_neighbours(db, from, layer, &lst, &n), DV_OK);
    for (uint32_t t = 0; t < dv_db_slot_capacity(db); t++) {
        int in = t == from || !dv_db_slot_in_graph(db, t) || dv_db_level_of(db, t) < level;
        for (uint32_t j = 0; j < n && !in; j++) in = lst[j] == t;
        if (!in) return t;
    }
    fail_msg("no stranger");
    return 0;
}

/* dv_db_replay_edges checks a list's node once per run of edges that leave
 * it: every way an edge can be wrong is still refused where it stands,
 * also when it is the first of a new run. */
static void edge_arrays_refuse_every_wrong_edge(void **state) {
    (void)state;
    rng r = {777};
    dv_db *db = open_db(9);
    for (int op = 0; op < 600; op++) random_op(db, &r);
    uint32_t cap = dv_db_slot_capacity(db), deg0 = dv_db_max_degree(db, 0), deg1 = dv_db_max_degree(db, 1);
    uint32_t s = find_node(db, 0, 0, 0, 2, deg0), t = find_stranger(db, s, 0, 0);
    uint32_t u = find_node(db, s + 1, 0, 0, 2, deg0), full = find_node(db, 0, 0, 0, deg0, deg0 + 1);
    uint32_t full_t = find_stranger(db, full, 0, 0);
    uint32_t hi = find_node(db, 0, 1, 1, 1, deg1), hi_t = find_stranger(db, hi, 1, 1);
    uint32_t lo = 0; /* a node without layer 1 */
    while (!dv_db_slot_in_graph(db, lo) || dv_db_level_of(db, lo) > 0) lo++;
    const uint32_t *ls, *lu, *lh;
    uint32_t ns, nu, nh;
    assert_int_equal(dv_db_neighbours(db, s, 0, &ls, &ns), DV_OK);
    assert_int_equal(dv_db_neighbours(db, u, 0, &lu, &nu), DV_OK);
    assert_int_equal(dv_db_neighbours(db, hi, 1, &lh, &nh), DV_OK);
    edge_pair add_st = {s, t, 1}, rm_s0 = {s, ls[0], 0};
    uint32_t s_only = DV_NO_SLOT; /* in s's list, not in u's */
    for (uint32_t j = 1; j < ns && s_only == DV_NO_SLOT; j++) {
        s_only = ls[j];
        for (uint32_t i = 0; i < nu; i++)
            if (lu[i] == ls[j]) s_only = DV_NO_SLOT;
    }
    assert_true(s_only != DV_NO_SLOT);

    /* additions */
    expect_second_refused(db, DV_EV_EDGE_ADD, 0, add_st, (edge_pair){s, t, 1});         /* now a duplicate */
    expect_second_refused(db, DV_EV_EDGE_ADD, 0, add_st, (edge_pair){s, ls[1], 1});     /* already there */
    expect_second_refused(db, DV_EV_EDGE_ADD, 0, add_st, (edge_pair){s, s, 1});         /* to itself */
    expect_second_refused(db, DV_EV_EDGE_ADD, 0, add_st, (edge_pair){s, cap + 5, 1});   /* to no node */
    expect_second_refused(db, DV_EV_EDGE_ADD, 0, add_st, (edge_pair){cap + 3, t, 1});   /* from no node */
    expect_second_refused(db, DV_EV_EDGE_ADD, 0, add_st, (edge_pair){full, full_t, 1}); /* full */
    expect_second_refused(db, DV_EV_EDGE_ADD, 1, (edge_pair){hi, hi_t, 1}, (edge_pair){lo, hi_t, 1});
    expect_second_refused(db, DV_EV_EDGE_ADD, 1, (edge_pair){hi, hi_t, 1}, (edge_pair){hi, lo, 1});
    /* removals */
    expect_second_refused(db, DV_EV_EDGE_REMOVE, 0, rm_s0, rm_s0);                     /* gone now */
    expect_second_refused(db, DV_EV_EDGE_REMOVE, 0, rm_s0, (edge_pair){s, t, 0});      /* never there */
    expect_second_refused(db, DV_EV_EDGE_REMOVE, 0, rm_s0, (edge_pair){u, s_only, 0}); /* s's, not u's */
    expect_second_refused(db, DV_EV_EDGE_REMOVE, 0, rm_s0, (edge_pair){cap + 3, lu[0], 0});
    expect_second_refused(db, DV_EV_EDGE_REMOVE, 1, (edge_pair){hi, lh[0], 0}, (edge_pair){lo, lh[0], 0});
    assert_true(nh >= 1);
    dv_db_close(db);
}

static void replay_from_recorded_log_converges_at_checkpoints(void **state) {
    (void)state;
    rng r = {78};
    rec ra = {.dim = DIM};
    dv_db *a = open_db(6), *b = open_db(6);
    dv_observer oa = {on_event, &ra, NULL};
    dv_db_set_observer(a, &oa);
    uint64_t hashes[4];
    size_t marks[4];
    for (int cp = 0; cp < 4; cp++) {
        for (int op = 0; op < 250; op++) random_op(a, &r);
        hashes[cp] = dv_db_state_hash(a);
        marks[cp] = ra.n;
    }
    size_t from = 0;
    for (int cp = 0; cp < 4; cp++) {
        for (size_t i = from; i < marks[cp]; i++) assert_int_equal(dv_db_replay(b, &ra.ev[i]), DV_OK);
        from = marks[cp];
        assert_true(dv_db_state_hash(b) == hashes[cp]);
    }
    dv_db_close(a);
    dv_db_close(b);
    rec_free(&ra);
}

/* A db of n random vectors where slot 3 is free (deleted, repaired away)
 * and slot 9 a tombstone that lists still point to. */
static dv_db *db_with_free_slot_and_tombstone(uint64_t seed, int n) {
    rng r = {seed};
    dv_db *db = open_db(7);
    float v[DIM];
    char id[16];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "n%d", i);
        randvec(&r, v);
        assert_int_equal(dv_db_insert(db, id, v, NULL, 0), DV_OK);
    }
    assert_int_equal(dv_db_delete(db, "n3"), DV_OK);
    assert_int_equal(dv_db_repair(db), DV_OK);
    assert_int_equal(dv_db_delete(db, "n9"), DV_OK);
    assert_int_equal(dv_db_tombstones(db), 1);
    assert_true(dv_info(db, 9)->tomb && dv_info(db, 9)->indeg0 > 0);
    return db;
}

/* The per-node half of apply's coherence_check: a built db (with a
 * tombstone still pointed to) passes on every slot; a list over its bound
 * and an edge to a freed slot or to a node below the layer are named. */
static void lists_incoherence_names_what_is_wrong(void **state) {
    (void)state;
    dv_db *db = db_with_free_slot_and_tombstone(83, 300);
    uint32_t cap = dv_db_slot_capacity(db), upper = DV_NO_SLOT, flat = DV_NO_SLOT;
    for (uint32_t s = 0; s < cap; s++) {
        assert_null(dv_db_lists_incoherence(db, s));
        if (dv_db_slot_live(db, s) && dv_db_level_of(db, s) > 0 && dv_list(db, s, 1)[0] > 0) upper = s;
        if (dv_db_slot_live(db, s) && dv_db_level_of(db, s) == 0) flat = s;
    }
    assert_null(dv_db_lists_incoherence(db, 3)); /* no vector there: nothing to check */
    assert_true(upper != DV_NO_SLOT && flat != DV_NO_SLOT);

    uint32_t *l0 = dv_list(db, 0, 0), count = l0[0], first = l0[1];
    assert_true(count > 0);
    l0[0] = dv_db_max_degree(db, 0) + 1;
    assert_string_equal(dv_db_lists_incoherence(db, 0), "degree bound");
    l0[0] = count;
    l0[1] = 3; /* the freed slot */
    assert_string_equal(dv_db_lists_incoherence(db, 0), "edge to a missing node");
    l0[1] = first;
    assert_null(dv_db_lists_incoherence(db, 0));

    uint32_t *l1 = dv_list(db, upper, 1), keep = l1[1];
    l1[1] = flat; /* a node without layer 1 */
    assert_string_equal(dv_db_lists_incoherence(db, upper), "edge to a missing node");
    l1[1] = keep;
    assert_null(dv_db_lists_incoherence(db, upper));
    dv_db_close(db);
}

static void replay_check_rejects_incoherent_events(void **state) {
    (void)state;
    dv_db *db = db_with_free_slot_and_tombstone(79, 200);
    rng r = {80};
    float v[DIM]; /* a finite vector for the inserts refused for other reasons */
    randvec(&r, v);
    uint64_t h = dv_db_state_hash(db);
    uint32_t cap = dv_db_slot_capacity(db);
    /* a node with a full layer-0 list, and a live node not in it */
    uint32_t full = DV_NO_SLOT, other = DV_NO_SLOT;
    for (uint32_t s = 0; s < cap && full == DV_NO_SLOT; s++) {
        const uint32_t *l;
        uint32_t n;
        if (dv_db_neighbours(db, s, 0, &l, &n) == DV_OK && n == dv_db_max_degree(db, 0)) full = s;
    }
    assert_true(full != DV_NO_SLOT);
    for (uint32_t s = 0; s < cap && other == DV_NO_SLOT; s++)
        if (s != full && dv_db_slot_live(db, s) && !dv_graph_has_edge(db, full, 0, s)) other = s;
    const uint32_t *l0;
    uint32_t n0;
    assert_int_equal(dv_db_neighbours(db, 0, 0, &l0, &n0), DV_OK);
    assert_true(n0 > 0);
    uint32_t level0_node = DV_NO_SLOT, missing = DV_NO_SLOT;
    for (uint32_t s = 0; s < cap; s++)
        if (dv_db_slot_live(db, s) && dv_db_level_of(db, s) == 0) level0_node = s;
    for (uint32_t s = 1; s < cap && missing == DV_NO_SLOT; s++)
        if (s != 3 && dv_db_slot_live(db, s) && !dv_graph_has_edge(db, 0, 0, s)) missing = s;

    dv_event bad[16];
    memset(bad, 0, sizeof bad);
    int nb = 0;
    /* edge from an unknown slot */
    bad[nb].kind = DV_EV_EDGE_ADD, bad[nb].slot = cap + 5, bad[nb].u.edge.to = 0, nb++;
    /* dangling edge to a free slot */
    bad[nb].kind = DV_EV_EDGE_ADD, bad[nb].slot = 0, bad[nb].u.edge.to = 3, nb++;
    /* degree overflow */
    bad[nb].kind = DV_EV_EDGE_ADD, bad[nb].slot = full, bad[nb].u.edge.to = other, nb++;
    /* layer above the node's level */
    bad[nb].kind = DV_EV_EDGE_ADD, bad[nb].slot = level0_node, bad[nb].u.edge.layer = 1,
    bad[nb].u.edge.to = l0[0], nb++;
    /* duplicate edge */
    bad[nb].kind = DV_EV_EDGE_ADD, bad[nb].slot = 0, bad[nb].u.edge.to = l0[0], nb++;
    /* removing an edge that does not exist */
    bad[nb].kind = DV_EV_EDGE_REMOVE, bad[nb].slot = 0, bad[nb].u.edge.to = missing, nb++;
    /* deleting a tombstone, purging one that still has incoming edges, purging a vector */
    bad[nb].kind = DV_EV_VECTOR_DELETE, bad[nb].slot = 9, nb++;
    bad[nb].kind = DV_EV_VECTOR_PURGE, bad[nb].slot = 9, nb++;
    bad[nb].kind = DV_EV_VECTOR_PURGE, bad[nb].slot = l0[0], nb++;
    /* the entry point on a tombstone */
    bad[nb].kind = DV_EV_ENTRY, bad[nb].u.entry.entry = 9, bad[nb].u.entry.max_level = dv_db_level_of(db, 9),
    nb++;
    /* entry point with the wrong level */
    bad[nb].kind = DV_EV_ENTRY, bad[nb].u.entry.entry = level0_node, bad[nb].u.entry.max_level = 3, nb++;
    /* insert over a live slot, insert with a bad level, a non-finite vector */
    float nanv[DIM] = {0};
    nanv[2] = NAN;
    bad[nb].kind = DV_EV_VECTOR_INSERT, bad[nb].slot = 5, bad[nb].u.insert.id = "fresh",
    bad[nb].u.insert.vec = v, nb++;
    bad[nb].kind = DV_EV_VECTOR_INSERT, bad[nb].slot = 3, bad[nb].u.insert.id = "fresh",
    bad[nb].u.insert.vec = v, bad[nb].u.insert.level = 200, nb++;
    bad[nb].kind = DV_EV_VECTOR_INSERT, bad[nb].slot = 3, bad[nb].u.insert.id = "fresh",
    bad[nb].u.insert.vec = nanv, nb++;
    /* sparse update with a non-increasing index */
    static const uint32_t idx[2] = {4, 4};
    static const float vals[2] = {1, 2};
    bad[nb].kind = DV_EV_VECTOR_UPDATE, bad[nb].slot = 0, bad[nb].u.update.idx = idx,
    bad[nb].u.update.values = vals, bad[nb].u.update.n = 2, nb++;
    for (int i = 0; i < nb; i++) {
        dv_status c = dv_db_replay_check(db, &bad[i]);
        if (c == DV_OK) fail_msg("bad event %d accepted", i);
        assert_int_equal(dv_db_replay(db, &bad[i]), c);
        assert_true(dv_db_state_hash(db) == h);
    }
    assert_int_equal(dv_db_check_invariants(db), DV_OK);
    dv_db_close(db);
}

static dv_status refuse(void *ctx, const dv_event *e) {
    int *n = ctx;
    (*n)++;
    return e->kind == DV_EV_OP_BEGIN ? DV_EFULL : DV_OK;
}

static void refused_op_begin_leaves_db_unchanged(void **state) {
    (void)state;
    rng r = {80};
    dv_db *a = open_db(8), *b = open_db(8);
    for (int i = 0; i < 300; i++) {
        random_op(a, &r);
    }
    /* b gets the same ops */
    r.s = 80;
    for (int i = 0; i < 300; i++) random_op(b, &r);
    assert_true(dv_db_state_hash(a) == dv_db_state_hash(b));
    int calls = 0;
    dv_observer o = {refuse, &calls, NULL};
    dv_db_set_observer(a, &o);
    uint64_t h = dv_db_state_hash(a);
    size_t cnt = dv_db_count(a);
    float v[DIM];
    randvec(&r, v);
    uint32_t live = DV_NO_SLOT;
    char id[32];
    for (unsigned i = 0; i < 400 && live == DV_NO_SLOT; i++) {
        snprintf(id, sizeof id, "id-%u", i);
        live = dv_db_slot_of(a, id);
    }
    assert_true(live != DV_NO_SLOT);
    uint32_t idx[1] = {3};
    float val[1] = {0.5f};
    assert_int_equal(dv_db_insert(a, "brand-new", v, NULL, 0), DV_EFULL);
    assert_int_equal(dv_db_update(a, id, v), DV_EFULL);
    assert_int_equal(dv_db_update_sparse(a, id, idx, val, 1), DV_EFULL);
    assert_int_equal(dv_db_delete(a, id), DV_EFULL);
    assert_int_equal(dv_db_set_meta(a, id, "k", "v"), DV_EFULL);
    assert_int_equal(calls, 5); /* only the five OP_BEGINs */
    assert_true(dv_db_state_hash(a) == h);
    assert_int_equal(dv_db_count(a), cnt);
    assert_int_equal(dv_db_check_invariants(a), DV_OK);
    /* the refused insert did not consume a level draw: a and b stay equal */
    dv_db_set_observer(a, NULL);
    assert_int_equal(dv_db_insert(a, "brand-new", v, NULL, 0), DV_OK);
    assert_int_equal(dv_db_insert(b, "brand-new", v, NULL, 0), DV_OK);
    assert_true(dv_db_state_hash(a) == dv_db_state_hash(b));
    dv_db_close(a);
    dv_db_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replayed_events_reproduce_state_after_every_op),
        cmocka_unit_test(replay_from_recorded_log_converges_at_checkpoints),
        cmocka_unit_test(edge_arrays_replay_like_single_events),
        cmocka_unit_test(edge_arrays_refuse_every_wrong_edge),
        cmocka_unit_test(replay_check_rejects_incoherent_events),
        cmocka_unit_test(lists_incoherence_names_what_is_wrong),
        cmocka_unit_test(refused_op_begin_leaves_db_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
