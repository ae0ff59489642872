/*
 * test_readers_concurrent.c -- dv_searcher readers search (plain and
 * filtered by metadata) and get on other threads while a replica applies a
 * long stream (inline and with parallel workers). Every vector the primary
 * ever writes has all components equal, so a torn read (half old, half new)
 * shows as unequal components. Run under TSan by scripts/test.sh (the name
 * contains "concurrent"/"readers").
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "deltavec.h"
#include "support/sanitized.h"
#include "support/stream.h"

#define OPS (TEST_SANITIZED ? 6000 : 30000)

#define DIM 64
#define READERS 3
#define IDS 1500 /* ids drawn from doc-0 .. doc-(IDS-1): deletes and re-inserts are frequent */

static void fill(float *v, float x) {
    for (int i = 0; i < DIM; i++) v[i] = x;
}

/* Inserts, dense updates, deletes, re-inserts and metadata on a captured primary. */
static void flat_workload(test_primary *p, size_t ops, uint64_t seed) {
    uint64_t rng = seed;
    char id[32];
    float v[DIM];
    for (size_t i = 0; i < ops; i++) {
        snprintf(id, sizeof id, "doc-%u", test_rand(&rng) % IDS);
        float x = test_randf(&rng) * 100.0f;
        fill(v, x);
        int live = dv_db_get(p->db, id, v) == DV_OK;
        uint32_t r = test_rand(&rng) % 10;
        dv_status st;
        if (!live) {
            fill(v, x);
            st = dv_db_insert(p->db, id, v, NULL, 0);
        } else if (r < 6) {
            fill(v, x);
            st = dv_db_update(p->db, id, v);
        } else if (r < 9) {
            st = dv_db_delete(p->db, id);
        } else {
            st = dv_db_set_meta(p->db, id, "k", test_rand(&rng) % 2 ? "a" : "b");
        }
        assert_int_equal(st, DV_OK);
        if (i % 64 == 63) test_primary_drain(p);
    }
    assert_int_equal(dv_capture_flush(p->cap), DV_OK);
    test_primary_drain(p);
}

typedef struct reader {
    dv_db *db;
    atomic_int *done;
    uint64_t seed;
    long searches, gets, found;
    int bad; /* first violation seen, as a code (0 = none) */
} reader;

static int well_formed_id(const char *id) {
    unsigned n;
    char tail;
    return id && sscanf(id, "doc-%u%c", &n, &tail) == 1 && n < IDS;
}

static void *reader_main(void *arg) {
    reader *r = arg;
    dv_searcher_config cfg;
    dv_searcher_config_default(&cfg);
    cfg.yield = dv_thread_yield;
    dv_searcher *s = NULL;
    if (dv_searcher_open(r->db, &cfg, &s) != DV_OK) {
        r->bad = 1;
        return NULL;
    }
    float q[DIM], v[DIM];
    dv_hit hits[10];
    char id[32];
    dv_meta_kv pair = {"k", "a"}; /* the workload's set_meta: every other search is filtered by it */
    dv_filter only_a = {&pair, 1};
    while (!atomic_load(r->done) && !r->bad) {
        fill(q, test_randf(&r->seed) * 100.0f);
        size_t n = 0;
        dv_status sst = r->searches % 2 ? dv_searcher_search_filtered(s, q, 10, 32, &only_a, hits, &n)
                                        : dv_searcher_search(s, q, 10, 32, hits, &n);
        if (sst != DV_OK || n > 10) r->bad = 2;
        for (size_t i = 0; i < n && !r->bad; i++) {
            if (!isfinite(hits[i].distance) || hits[i].distance < 0) r->bad = 3;
            if (i && hits[i].distance < hits[i - 1].distance) r->bad = 4;
            if (!well_formed_id(hits[i].id)) r->bad = 5;
            for (size_t j = 0; j < i; j++)
                if (strcmp(hits[i].id, hits[j].id) == 0) r->bad = 6;
        }
        r->searches++;
        snprintf(id, sizeof id, "doc-%u", test_rand(&r->seed) % IDS);
        dv_status st = dv_searcher_get(s, id, v);
        if (st == DV_OK) {
            for (int i = 1; i < DIM; i++)
                if (memcmp(&v[i], &v[0], sizeof(float)) != 0) r->bad = 7; /* torn vector */
            r->found++;
        } else if (st != DV_ENOTFOUND) {
            r->bad = 8;
        }
        r->gets++;
    }
    dv_searcher_close(s);
    return NULL;
}

typedef struct run_cfg {
    uint32_t workers;   /* 0: inline apply with dv_apply_delta */
    uint32_t epoch_max; /* parallel: deltas per epoch */
} run_cfg;

static void readers_during_apply(const run_cfg *rc, uint64_t seed) {
    test_primary p;
    test_primary_open(&p, DIM, NULL, seed);
    flat_workload(&p, OPS, seed);
    dv_db *replica = test_open_db(DIM, 42);
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.workers = rc->workers;
    if (rc->epoch_max) cfg.epoch_max = rc->epoch_max;
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(replica, &cfg, &ap), DV_OK);
    assert_int_equal(dv_apply_start_threads(ap), DV_OK);

    atomic_int done = 0;
    reader rd[READERS];
    pthread_t t[READERS];
    for (int i = 0; i < READERS; i++) {
        rd[i] = (reader){replica, &done, seed * 31 + (uint64_t)i, 0, 0, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &rd[i]), 0);
    }
    /* this thread is the applier (and the dispatcher when workers run) */
    const test_stream *s = &p.stream;
    for (size_t i = 0; i < s->n;) {
        if (!rc->workers) {
            dv_status st = dv_apply_buffer(ap, s->d[i].bytes, s->d[i].len);
            if (st != DV_OK) fail_msg("delta %zu: %s", i, dv_apply_last_error(ap));
            i++;
            continue;
        }
        enum { CH = 200 };
        const uint8_t *h[CH], *pl[CH];
        size_t lens[CH], n = s->n - i < CH ? s->n - i : CH, applied = 0;
        for (size_t k = 0; k < n; k++) {
            h[k] = s->d[i + k].bytes;
            pl[k] = s->d[i + k].bytes + DV_DELTA_HEADER_SIZE;
            lens[k] = s->d[i + k].len - DV_DELTA_HEADER_SIZE;
        }
        dv_status st = dv_apply_batch(ap, h, pl, lens, n, NULL, &applied);
        if (st != DV_OK) fail_msg("batch at %zu: %s", i, dv_apply_last_error(ap));
        i += n;
    }
    atomic_store(&done, 1);
    long searches = 0, found = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(t[i], NULL);
        if (rd[i].bad) fail_msg("reader %d: violation %d", i, rd[i].bad);
        searches += rd[i].searches;
        found += rd[i].found;
    }
    assert_int_equal(dv_apply_stop_threads(ap), DV_OK);
    dv_apply_stats st;
    dv_apply_stats_get(ap, &st);
    if (rc->workers) assert_true(st.parallel_deltas > 0);
    assert_true(searches > 0); /* the readers really ran beside the applier */
    (void)found;
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    dv_apply_free(ap);
    dv_db_close(replica);
    test_primary_close(&p);
}

static void readers_never_see_torn_vectors_during_inline_apply(void **state) {
    (void)state;
    run_cfg rc = {0, 0};
    readers_during_apply(&rc, 301);
}

static void readers_never_see_torn_vectors_during_parallel_apply(void **state) {
    (void)state;
    run_cfg rc = {2, 32};
    readers_during_apply(&rc, 302);
}

static void searcher_results_own_their_ids_and_match_dv_db_search(void **state) {
    (void)state;
    test_primary p;
    test_primary_open(&p, DIM, NULL, 303);
    flat_workload(&p, 500, 303);
    dv_searcher *s = NULL;
    assert_int_equal(dv_searcher_open(NULL, NULL, &s), DV_EINVAL);
    assert_int_equal(dv_searcher_open(p.db, NULL, &s), DV_OK);
    float q[DIM];
    fill(q, 3.0f);
    dv_hit a[10], b[10];
    size_t na = 0, nb = 0;
    assert_int_equal(dv_searcher_search(s, q, 10, 0, a, &na), DV_OK);
    assert_int_equal(dv_db_search(p.db, q, 10, 0, b, &nb), DV_OK);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].id, b[i].id);
        assert_ptr_not_equal(a[i].id, b[i].id); /* a copy, valid after the db changes */
        assert_int_equal(a[i].slot, b[i].slot);
    }
    size_t count = 0;
    assert_int_equal(dv_searcher_count(s, &count), DV_OK);
    assert_int_equal(count, dv_db_count(p.db));
    float v[DIM];
    assert_int_equal(dv_searcher_get(s, "no-such-id", v), DV_ENOTFOUND);
    assert_int_equal(dv_searcher_get(s, "", v), DV_EID);
    char first[32];
    snprintf(first, sizeof first, "%s", a[0].id);
    assert_int_equal(dv_db_delete(p.db, first), DV_OK);
    assert_string_equal(a[0].id, first); /* still readable: owned by the searcher */
    dv_searcher_close(s);
    test_primary_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readers_never_see_torn_vectors_during_inline_apply),
        cmocka_unit_test(readers_never_see_torn_vectors_during_parallel_apply),
        cmocka_unit_test(searcher_results_own_their_ids_and_match_dv_db_search),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
