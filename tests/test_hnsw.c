/*
 * test_hnsw.c -- HNSW index behaviour: recall against brute force, recall
 * after deletes and updates (repair), graph invariants (no dangling edges,
 * degree bounds, in-degree counters), determinism, k up to the live count,
 * all three metrics. Fixed seeds throughout.
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
#include "db/hnsw.h"
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

/* n clustered vectors: nc centres in [-1,1]^dim, points spread +-spread/2 */
static float *clustered(rng *r, size_t n, uint32_t dim, uint32_t nc, float spread) {
    float *c = malloc(sizeof(float) * nc * dim), *x = malloc(sizeof(float) * n * dim);
    for (size_t i = 0; i < (size_t)nc * dim; i++) c[i] = runif(r) * 2 - 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(rnext(r) % nc);
        for (uint32_t j = 0; j < dim; j++) x[i * dim + j] = c[k * dim + j] + (runif(r) - 0.5f) * spread;
    }
    free(c);
    return x;
}

static dv_db *open_db(uint32_t dim, dv_metric metric, uint64_t seed) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, dim);
    cfg.metric = metric;
    cfg.M = 12;
    cfg.ef_construction = 100;
    cfg.seed = seed;
    dv_db *db = NULL;
    assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
    return db;
}

static void idname(char *buf, size_t i) { snprintf(buf, 32, "vec-%zu", i); }

static void insert_all(dv_db *db, const float *x, size_t n, uint32_t dim) {
    char id[32];
    for (size_t i = 0; i < n; i++) {
        idname(id, i);
        assert_int_equal(dv_db_insert(db, id, x + i * dim, NULL, 0), DV_OK);
    }
}

/* mean recall@k of dv_db_search(ef) against dv_db_search_exact */
static double recall(const dv_db *db, const float *q, size_t nq, uint32_t dim, size_t k, size_t ef) {
    dv_hit *a = calloc(k, sizeof *a), *b = calloc(k, sizeof *b);
    size_t hit = 0, total = 0;
    for (size_t i = 0; i < nq; i++) {
        size_t na, nb;
        assert_int_equal(dv_db_search(db, q + i * dim, k, ef, a, &na), DV_OK);
        assert_int_equal(dv_db_search_exact(db, q + i * dim, k, b, &nb), DV_OK);
        assert_int_equal(na, nb);
        for (size_t x = 0; x < na; x++)
            for (size_t y = 0; y < nb; y++)
                if (a[x].slot == b[y].slot) hit++;
        total += nb;
    }
    free(a);
    free(b);
    return total ? (double)hit / (double)total : 1.0;
}

/* Every list holds graph nodes only (vectors or tombstones, explicit,
 * through the accessors); with no tombstone left, vectors only. */
static void assert_no_dangling(const dv_db *db) {
    uint32_t n = dv_db_slot_capacity(db);
    int repaired = dv_db_tombstones(db) == 0;
    for (uint32_t s = 0; s < n; s++) {
        if (!dv_db_slot_in_graph(db, s)) continue;
        for (uint32_t l = 0; l <= dv_db_level_of(db, s); l++) {
            const uint32_t *lst;
            uint32_t cnt;
            assert_int_equal(dv_db_neighbours(db, s, l, &lst, &cnt), DV_OK);
            assert_true(cnt <= dv_db_max_degree(db, l));
            for (uint32_t j = 0; j < cnt; j++) {
                assert_true(dv_db_slot_in_graph(db, lst[j]));
                if (repaired) assert_true(dv_db_slot_live(db, lst[j]));
                assert_true(dv_db_level_of(db, lst[j]) >= l);
            }
        }
    }
    assert_int_equal(dv_db_check_invariants(db), DV_OK);
}

enum { DIM = 32, N = 6000, NQ = 200 };

static void recall_at_10_reaches_095(void **state) {
    (void)state;
    rng r = {1};
    float *x = clustered(&r, N, DIM, 60, 0.8f), *q = clustered(&r, NQ, DIM, 60, 0.8f);
    dv_db *db = open_db(DIM, DV_METRIC_L2, 7);
    insert_all(db, x, N, DIM);
    assert_int_equal(dv_db_count(db), N);
    double rc = recall(db, q, NQ, DIM, 10, 100);
    print_message("recall@10 ef=100: %.4f\n", rc);
    assert_true(rc >= 0.95);
    assert_no_dangling(db);
    dv_db_close(db);
    free(x);
    free(q);
}

static void recall_holds_after_deleting_30_and_updating_20_percent(void **state) {
    (void)state;
    rng r = {2};
    float *x = clustered(&r, N, DIM, 60, 0.8f), *q = clustered(&r, NQ, DIM, 60, 0.8f);
    float *nv = clustered(&r, N, DIM, 60, 0.8f);
    dv_db *db = open_db(DIM, DV_METRIC_L2, 8);
    insert_all(db, x, N, DIM);
    char id[32];
    char *dead = calloc(N, 1);
    for (size_t done = 0; done < N * 3 / 10;) {
        size_t i = rnext(&r) % N;
        if (dead[i]) continue;
        idname(id, i);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
        dead[i] = 1;
        done++;
    }
    assert_no_dangling(db);
    for (size_t done = 0; done < N / 5;) {
        size_t i = rnext(&r) % N;
        if (dead[i]) continue;
        idname(id, i);
        assert_int_equal(dv_db_update(db, id, nv + i * DIM), DV_OK);
        done++;
    }
    assert_int_equal(dv_db_count(db), N - N * 3 / 10);
    assert_no_dangling(db);
    double rc = recall(db, q, NQ, DIM, 10, 100);
    print_message("recall@10 ef=100 after deletes+updates: %.4f\n", rc);
    assert_true(rc >= 0.9);
    dv_db_close(db);
    free(dead);
    free(x);
    free(q);
    free(nv);
}

/* What the unlink part of a re-linking update emits (the events before the
 * first edge the link adds from x): x's own removals, x's removal from an
 * in-neighbour's list, additions to in-neighbours' lists and their back
 * edges. */
typedef struct unlink_watch {
    uint32_t x;
    int linking;
    size_t x_out, x_in, others_removed, adds;
} unlink_watch;

static dv_status watch_unlink(void *ctx, const dv_event *ev) {
    unlink_watch *w = ctx;
    if (ev->kind == DV_EV_OP_BEGIN) w->linking = 0;
    if (w->linking || (ev->kind != DV_EV_EDGE_ADD && ev->kind != DV_EV_EDGE_REMOVE)) return DV_OK;
    if (ev->kind == DV_EV_EDGE_ADD && ev->slot == w->x) {
        w->linking = 1; /* dv_hnsw_link: x's new edges first */
        return DV_OK;
    }
    if (ev->kind == DV_EV_EDGE_ADD)
        w->adds++;
    else if (ev->slot == w->x)
        w->x_out++;
    else if (ev->u.edge.to == w->x)
        w->x_in++;
    else
        w->others_removed++;
    return DV_OK;
}

/* An update that re-links x takes x out of its in-neighbours' lists, and each
 * may take some of x's neighbours into the room (with back edges); no other
 * entry leaves a list (hnsw.c, plan_in_neighbour: re-selecting the whole
 * lists dropped about four edges per list and cost recall). After re-linking every vector twice over,
 * recall stays within a hundredth of a fresh build of the final vectors. */
static void relinks_keep_in_neighbours_edges_and_recall(void **state) {
    (void)state;
    enum { RN = 2000 };
    rng r = {5};
    float *x = clustered(&r, RN, DIM, 40, 0.8f), *q = clustered(&r, NQ, DIM, 40, 0.8f);
    float *nv = clustered(&r, 2 * RN, DIM, 40, 0.8f);
    dv_db_config cfg;
    dv_db_config_default(&cfg, DIM);
    cfg.M = 12;
    cfg.ef_construction = 100;
    cfg.relink_ratio = 0.0f; /* every update re-links */
    dv_db *db = NULL;
    assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
    insert_all(db, x, RN, DIM);
    unlink_watch w = {0};
    dv_observer obs = {watch_unlink, &w, NULL};
    dv_db_set_observer(db, &obs);
    char id[32];
    for (size_t k = 0; k < 2 * RN; k++) {
        size_t i = rnext(&r) % RN;
        idname(id, i);
        w.x = dv_db_slot_of(db, id);
        assert_int_equal(dv_db_update(db, id, nv + k * DIM), DV_OK);
        memcpy(x + i * DIM, nv + k * DIM, DIM * sizeof(float));
    }
    print_message("per re-link: %.1f own edges, %.1f in-edges removed, %.1f added (and back edges)\n",
                  (double)w.x_out / (2 * RN), (double)w.x_in / (2 * RN), (double)w.adds / (2 * RN));
    assert_true(w.x_out > 0 && w.x_in > 0 && w.adds > 0); /* the watch saw each part */
    assert_int_equal(w.others_removed, 0);
    dv_db_set_observer(db, NULL);
    assert_no_dangling(db);
    dv_db *fresh = NULL;
    assert_int_equal(dv_db_open(&cfg, &fresh), DV_OK);
    insert_all(fresh, x, RN, DIM);
    for (size_t ef = 10; ef <= 40; ef *= 2) {
        double churned = recall(db, q, NQ, DIM, 10, ef), built = recall(fresh, q, NQ, DIM, 10, ef);
        print_message("ef %zu: recall@10 after re-linking 200%% %.4f, fresh build %.4f\n", ef, churned,
                      built);
        /* measured: 0.031 / 0.009 under at ef 10 / 20, 0.006 over at ef 40
         * (re-selecting whole lists: 0.077 / 0.050 / 0.024 under) */
        assert_true(churned >= built - (ef < 40 ? 0.04 : 0.01));
    }
    dv_db_close(fresh);
    dv_db_close(db);
    free(x);
    free(q);
    free(nv);
}

/* ef of the recall-after-delete test: recall stays under 1 (0.93-0.98
 * here), so a repair that loses edges shows (without the repair's back
 * edges, 50% deletes left it 0.065 under a fresh build at ef 20). At ef 20
 * the gap is still ~0.02 (docs/DB.md). */
enum { DEL_EF = 50 };

/* recall@10 at DEL_EF after deleting `fraction` of N (then dv_db_repair),
 * and of a fresh db built from the same survivors in the same order. */
static void recall_after_deletes(double fraction, double *repaired, double *fresh, double *tombstoned) {
    rng r = {31};
    float *x = clustered(&r, N, DIM, 60, 0.8f), *q = clustered(&r, 400, DIM, 60, 0.8f);
    dv_db *db = open_db(DIM, DV_METRIC_L2, 9), *f = open_db(DIM, DV_METRIC_L2, 9);
    insert_all(db, x, N, DIM);
    char id[32];
    char *dead = calloc(N, 1);
    for (size_t done = 0; done < (size_t)(N * fraction);) {
        size_t i = rnext(&r) % N;
        if (dead[i]) continue;
        idname(id, i);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
        dead[i] = 1;
        done++;
    }
    *tombstoned = recall(db, q, 400, DIM, 10, DEL_EF);
    assert_int_equal(dv_db_repair(db), DV_OK);
    assert_int_equal(dv_db_tombstones(db), 0);
    assert_no_dangling(db);
    assert_int_equal(dv_db_check_invariants(db), DV_OK);
    *repaired = recall(db, q, 400, DIM, 10, DEL_EF);
    for (size_t i = 0; i < N; i++) {
        if (dead[i]) continue;
        idname(id, i);
        assert_int_equal(dv_db_insert(f, id, x + i * DIM, NULL, 0), DV_OK);
    }
    assert_int_equal(dv_db_count(f), dv_db_count(db));
    *fresh = recall(f, q, 400, DIM, 10, DEL_EF);
    dv_db_close(db);
    dv_db_close(f);
    free(dead);
    free(x);
    free(q);
}

static void recall_after_10_and_50_percent_deletes_is_within_a_hundredth_of_a_fresh_build(void **state) {
    (void)state;
    static const double fractions[] = {0.10, 0.50};
    for (int i = 0; i < 2; i++) {
        double rep, fresh, tomb;
        recall_after_deletes(fractions[i], &rep, &fresh, &tomb);
        print_message(
            "deleted %.0f%%: recall@10 ef=%d with tombstones %.4f, repaired %.4f, fresh build %.4f\n",
            fractions[i] * 100, DEL_EF, tomb, rep, fresh);
        assert_true(fresh < 0.999); /* low enough for a loss to show */
        assert_true(rep >= fresh - 0.01);
        assert_true(tomb >= fresh - 0.02); /* tombstones keep routing before the repair */
    }
}

/* With no repair, 90% of the db tombstoned: every search still returns k
 * vectors, none of them deleted, and finds the true neighbours. */
static void many_tombstones_still_give_k_live_results(void **state) {
    (void)state;
    rng r = {32};
    float *x = clustered(&r, 3000, DIM, 30, 0.8f), *q = clustered(&r, 100, DIM, 30, 0.8f);
    dv_db *db = open_db(DIM, DV_METRIC_L2, 10);
    assert_int_equal(dv_db_set_repair_fraction(db, 0.0f), DV_OK);
    insert_all(db, x, 3000, DIM);
    char id[32];
    for (size_t i = 0; i < 3000; i++) {
        if (i % 10 == 3) continue;
        idname(id, i);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
    }
    assert_int_equal(dv_db_count(db), 300);
    assert_true(dv_db_tombstones(db) > 2000); /* nearly all still in the graph */
    dv_hit h[10];
    float v[DIM];
    for (size_t i = 0; i < 100; i++) {
        size_t n;
        assert_int_equal(dv_db_search(db, q + i * DIM, 10, 10, h, &n), DV_OK);
        assert_int_equal(n, 10);
        for (size_t k = 0; k < n; k++) {
            assert_int_equal(dv_db_get(db, h[k].id, v), DV_OK);
            assert_int_equal(atoi(h[k].id + 4) % 10, 3);
        }
    }
    double rc = recall(db, q, 100, DIM, 10, 50);
    print_message("recall@10 ef=50 with 90%% tombstones: %.4f\n", rc);
    assert_true(rc >= 0.9);
    assert_int_equal(dv_db_repair(db), DV_OK);
    assert_int_equal(dv_db_tombstones(db), 0);
    assert_int_equal(dv_db_check_invariants(db), DV_OK);
    assert_true(recall(db, q, 100, DIM, 10, 50) >= 0.9);
    dv_db_close(db);
    free(x);
    free(q);
}

static void random_deletes_leave_no_dangling_edge(void **state) {
    (void)state;
    rng r = {3};
    size_t n = 1500;
    float *x = clustered(&r, n, 16, 20, 1.0f);
    dv_db *db = open_db(16, DV_METRIC_L2, 9);
    insert_all(db, x, n, 16);
    char id[32];
    char *dead = calloc(n, 1);
    /* delete in rounds down to 10 nodes; audit after each round */
    for (size_t left = n; left > 10;) {
        for (size_t k = 0; k < n / 10 && left > 10;) {
            size_t i = rnext(&r) % n;
            if (dead[i]) continue;
            idname(id, i);
            assert_int_equal(dv_db_delete(db, id), DV_OK);
            dead[i] = 1;
            left--;
            k++;
        }
        assert_no_dangling(db);
    }
    /* and down to empty */
    for (size_t i = 0; i < n; i++) {
        if (dead[i]) continue;
        idname(id, i);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
        assert_no_dangling(db);
    }
    uint32_t e, ml;
    dv_db_entry(db, &e, &ml);
    assert_int_equal(e, DV_NO_SLOT);
    assert_int_equal(dv_db_count(db), 0);
    dv_db_close(db);
    free(dead);
    free(x);
}

/* A fixed mixed workload; returns the final state hash. */
static uint64_t workload(uint64_t seed, uint64_t data_seed) {
    rng r = {data_seed};
    size_t n = 1200;
    float *x = clustered(&r, n, 16, 10, 1.0f);
    dv_db *db = open_db(16, DV_METRIC_COSINE, seed);
    insert_all(db, x, n, 16);
    char id[32];
    for (size_t k = 0; k < 300; k++) {
        size_t i = rnext(&r) % n;
        idname(id, i);
        if (k % 3 == 0) {
            dv_db_delete(db, id); /* may be ENOTFOUND: same in both runs */
        } else if (k % 3 == 1) {
            dv_db_update(db, id, x + ((i + 1) % n) * 16);
        } else {
            dv_db_insert(db, id, x + ((i + 7) % n) * 16, NULL, 0);
        }
    }
    assert_no_dangling(db);
    uint64_t h = dv_db_state_hash(db);
    dv_db_close(db);
    free(x);
    return h;
}

static void same_seed_and_ops_give_same_state_hash(void **state) {
    (void)state;
    uint64_t a = workload(11, 5), b = workload(11, 5), c = workload(12, 5);
    assert_true(a == b);
    assert_true(a != c); /* different level draws change the graph */
}

static void k_up_to_live_count_and_beyond(void **state) {
    (void)state;
    rng r = {4};
    size_t n = 300;
    float *x = clustered(&r, n, 8, 5, 1.0f);
    dv_db *db = open_db(8, DV_METRIC_L2, 1);
    dv_hit *h = calloc(n + 50, sizeof *h);
    size_t nh = 99;
    assert_int_equal(dv_db_search(db, x, 5, 0, h, &nh), DV_OK);
    assert_int_equal(nh, 0); /* empty db */
    insert_all(db, x, n, 8);
    char id[32];
    for (size_t i = 0; i < 40; i++) {
        idname(id, i * 7);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
    }
    size_t live = n - 40;
    assert_int_equal(dv_db_search(db, x + 8, live, 10, h, &nh), DV_OK);
    assert_int_equal(nh, live);
    char *seen = calloc(dv_db_slot_capacity(db), 1);
    for (size_t i = 0; i < nh; i++) {
        assert_true(dv_db_slot_live(db, h[i].slot));
        assert_false(seen[h[i].slot]);
        seen[h[i].slot] = 1;
        if (i) assert_true(h[i - 1].distance <= h[i].distance);
        assert_string_equal(h[i].id, dv_db_id_of(db, h[i].slot));
    }
    assert_int_equal(dv_db_search(db, x + 8, live + 50, 0, h, &nh), DV_OK);
    assert_int_equal(nh, live);
    assert_int_equal(dv_db_search_exact(db, x + 8, live + 50, h, &nh), DV_OK);
    assert_int_equal(nh, live);
    free(seen);
    free(h);
    free(x);
    dv_db_close(db);
}

static void all_metrics_find_the_exact_neighbours(void **state) {
    (void)state;
    dv_metric ms[3] = {DV_METRIC_L2, DV_METRIC_IP, DV_METRIC_COSINE};
    for (int m = 0; m < 3; m++) {
        rng r = {20 + (uint64_t)m};
        size_t n = 2000;
        float *x = clustered(&r, n, 24, 30, 0.8f), *q = clustered(&r, 50, 24, 30, 0.8f);
        dv_db *db = open_db(24, ms[m], 3);
        insert_all(db, x, n, 24);
        double rc = recall(db, q, 50, 24, 10, 200);
        print_message("metric %d recall@10 ef=200: %.4f\n", m, rc);
        assert_true(rc >= 0.9);
        /* self query: distance to itself is the minimum (L2: 0, cosine: ~0) */
        dv_hit h[3];
        size_t nh;
        assert_int_equal(dv_db_search(db, x + 24 * 5, 3, 50, h, &nh), DV_OK);
        assert_int_equal(nh, 3);
        if (ms[m] != DV_METRIC_IP) assert_int_equal(h[0].slot, 5);
        dv_db_close(db);
        free(x);
        free(q);
    }
}

static void search_rejects_bad_queries(void **state) {
    (void)state;
    dv_db *db = open_db(4, DV_METRIC_L2, 1);
    float v[4] = {1, 2, 3, 4}, bad[4] = {1, 0.0f / 0.0f, 0, 0};
    dv_hit h[2];
    size_t nh;
    assert_int_equal(dv_db_insert(db, "a", v, NULL, 0), DV_OK);
    assert_int_equal(dv_db_search(db, bad, 1, 0, h, &nh), DV_ENONFINITE);
    assert_int_equal(dv_db_search(db, NULL, 1, 0, h, &nh), DV_EINVAL);
    assert_int_equal(dv_db_search(db, v, 1, 0, NULL, &nh), DV_EINVAL);
    assert_int_equal(dv_db_search(db, v, 0, 0, h, &nh), DV_OK);
    assert_int_equal(nh, 0);
    assert_int_equal(dv_db_search(db, v, 2, 0, h, &nh), DV_OK);
    assert_int_equal(nh, 1);
    assert_string_equal(h[0].id, "a");
    dv_db_close(db);
}

/* The descent through the upper layers, as hnswlib walks it: every
 * neighbour of the current node computed at each step. */
static void plain_descent(const dv_db *db, const float *q, uint32_t *ep, float *epd) {
    float qinv = dv_store_inv_norm(db, q);
    uint32_t cur = db->entry;
    float curd = dv_dist_q(db, q, qinv, cur);
    for (uint32_t l = db->max_level; l > 0; l--) {
        for (int changed = 1; changed;) {
            changed = 0;
            const uint32_t *lst = dv_list(db, cur, l);
            for (uint32_t j = 0, n = lst[0]; j < n; j++) {
                float d = dv_dist_q(db, q, qinv, lst[1 + j]);
                if (d < curd) {
                    curd = d;
                    cur = lst[1 + j];
                    changed = 1;
                }
            }
        }
    }
    *ep = cur;
    *epd = curd;
}

/* dv_hnsw_descend skips the nodes it already computed; it must end on the
 * node and distance the plain walk ends on, for every metric, with
 * tombstones in the graph. */
static void descent_skipping_repeats_ends_where_the_plain_walk_does(void **state) {
    (void)state;
    const dv_metric metrics[] = {DV_METRIC_L2, DV_METRIC_COSINE, DV_METRIC_IP};
    for (size_t mi = 0; mi < 3; mi++) {
        rng r = {77 + mi};
        const uint32_t dim = 24;
        const size_t n = 3000;
        float *x = clustered(&r, n, dim, 30, 0.4f);
        dv_db_config cfg;
        dv_db_config_default(&cfg, dim);
        cfg.metric = metrics[mi];
        cfg.M = 4; /* more layers: 3,000 vectors reach level 4 or 5 */
        cfg.ef_construction = 40;
        dv_db *db = NULL;
        assert_int_equal(dv_db_open(&cfg, &db), DV_OK);
        insert_all(db, x, n, dim);
        char id[32];
        for (size_t i = 0; i < n; i += 7) {
            idname(id, i);
            assert_int_equal(dv_db_delete(db, id), DV_OK);
        }
        assert_true(db->max_level >= 3);
        dv_search_scratch *s = NULL;
        assert_int_equal(dv_hnsw_scratch_create(NULL, &s), DV_OK);
        assert_int_equal(dv_hnsw_scratch_reserve(s, db->n_slots, 16), DV_OK);
        float *q = clustered(&r, 300, dim, 30, 0.6f);
        for (size_t i = 0; i < 300; i++) {
            uint32_t ep, want_ep;
            float epd, want_epd;
            dv_hnsw_descend(db, s, q + i * dim, dv_store_inv_norm(db, q + i * dim), &ep, &epd);
            plain_descent(db, q + i * dim, &want_ep, &want_epd);
            assert_int_equal(ep, want_ep);
            assert_memory_equal(&epd, &want_epd, sizeof epd);
        }
        dv_hnsw_scratch_destroy(s);
        free(q);
        free(x);
        dv_db_close(db);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recall_at_10_reaches_095),
        cmocka_unit_test(recall_holds_after_deleting_30_and_updating_20_percent),
        cmocka_unit_test(relinks_keep_in_neighbours_edges_and_recall),
        cmocka_unit_test(random_deletes_leave_no_dangling_edge),
        cmocka_unit_test(recall_after_10_and_50_percent_deletes_is_within_a_hundredth_of_a_fresh_build),
        cmocka_unit_test(many_tombstones_still_give_k_live_results),
        cmocka_unit_test(same_seed_and_ops_give_same_state_hash),
        cmocka_unit_test(k_up_to_live_count_and_beyond),
        cmocka_unit_test(all_metrics_find_the_exact_neighbours),
        cmocka_unit_test(search_rejects_bad_queries),
        cmocka_unit_test(descent_skipping_repeats_ends_where_the_plain_walk_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
