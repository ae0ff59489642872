/*
 * test_insert_batch.c -- dv_db_insert_batch: the same state as the same
 * inserts one by one, captured so that a replica applying the stream (plain
 * and batched capture) reaches the primary's state hash, every bad item
 * refused before anything changes, and a capture ring filling mid-batch
 * stopping it with n_done items in (and on the replica).
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
#include "support/stream.h"

#define DIM 16
#define SEED 7

/* n items with ids "item-<i>", random vectors, and metadata on every third. */
typedef struct batch {
    dv_insert_item *items;
    float *vecs;
    char (*ids)[24];
    dv_meta_kv meta[2];
    size_t n;
} batch;

static void make_batch(batch *b, size_t n, size_t first, uint64_t seed) {
    b->n = n;
    b->items = calloc(n, sizeof *b->items);
    b->vecs = malloc(n * DIM * sizeof(float));
    b->ids = calloc(n, sizeof *b->ids);
    b->meta[0] = (dv_meta_kv){"colour", "blue"};
    b->meta[1] = (dv_meta_kv){"size", "large"};
    for (size_t i = 0; i < n * DIM; i++) b->vecs[i] = test_randf(&seed);
    for (size_t i = 0; i < n; i++) {
        snprintf(b->ids[i], sizeof b->ids[i], "item-%zu", first + i);
        b->items[i].id = b->ids[i];
        b->items[i].vec = b->vecs + i * DIM;
        b->items[i].meta = i % 3 == 0 ? b->meta : NULL;
        b->items[i].n_meta = i % 3 == 0 ? 2 : 0;
    }
}

static void free_batch(batch *b) {
    free(b->items);
    free(b->vecs);
    free(b->ids);
}

static void same_state_as_single_inserts(void **state) {
    (void)state;
    batch b;
    make_batch(&b, 700, 0, 1);
    dv_db *one_by_one = test_open_db(DIM, SEED), *batched = test_open_db(DIM, SEED);
    for (size_t i = 0; i < b.n; i++)
        assert_int_equal(
            dv_db_insert(one_by_one, b.items[i].id, b.items[i].vec, b.items[i].meta, b.items[i].n_meta),
            DV_OK);
    size_t done = 0;
    assert_int_equal(dv_db_insert_batch(batched, b.items, b.n, &done), DV_OK);
    assert_int_equal(done, b.n);
    assert_int_equal(dv_db_count(batched), b.n);
    assert_int_equal(dv_db_state_hash(batched), dv_db_state_hash(one_by_one));
    const char *v = NULL;
    assert_int_equal(dv_db_get_meta(batched, "item-300", "size", &v), DV_OK);
    assert_string_equal(v, "large");
    /* a second batch after deletes reuses the freed slots, as inserts do */
    assert_int_equal(dv_db_delete(batched, "item-5"), DV_OK);
    assert_int_equal(dv_db_delete(one_by_one, "item-5"), DV_OK);
    batch more;
    make_batch(&more, 50, 1000, 2);
    assert_int_equal(dv_db_insert_batch(batched, more.items, more.n, NULL), DV_OK);
    for (size_t i = 0; i < more.n; i++)
        assert_int_equal(dv_db_insert(one_by_one, more.items[i].id, more.items[i].vec, more.items[i].meta,
                                      more.items[i].n_meta),
                         DV_OK);
    assert_int_equal(dv_db_state_hash(batched), dv_db_state_hash(one_by_one));
    float got[DIM];
    assert_int_equal(dv_db_get(batched, "item-1049", got), DV_OK);
    assert_memory_equal(got, more.items[49].vec, sizeof got);
    free_batch(&more);
    free_batch(&b);
    dv_db_close(one_by_one);
    dv_db_close(batched);
}

/* Applies every delta of the primary's recorded stream to replica. */
static void apply_stream(const test_primary *p, dv_db *replica) {
    dv_apply *ap = NULL;
    assert_int_equal(dv_apply_init(replica, NULL, &ap), DV_OK);
    for (size_t i = 0; i < p->stream.n; i++)
        assert_int_equal(dv_apply_buffer(ap, p->stream.d[i].bytes, p->stream.d[i].len), DV_OK);
    dv_apply_free(ap);
}

static void replica_converges(const dv_capture_config *cfg, size_t expect_deltas_max) {
    test_primary p;
    test_primary_open(&p, DIM, cfg, 3);
    batch b;
    make_batch(&b, 400, 0, 4);
    size_t done = 0;
    /* the ring (default 1024 entries) takes a 400-item batch without a drain */
    assert_int_equal(dv_db_insert_batch(p.db, b.items, b.n, &done), DV_OK);
    assert_int_equal(done, b.n);
    assert_int_equal(dv_capture_flush(p.cap), DV_OK);
    test_primary_drain(&p);
    assert_true(p.stream.n >= 1 && p.stream.n <= expect_deltas_max);
    dv_db *replica = test_open_db(DIM, 42);
    apply_stream(&p, replica);
    assert_int_equal(dv_db_count(replica), b.n);
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    dv_db_close(replica);
    free_batch(&b);
    test_primary_close(&p);
}

static void captured_batch_replays_to_the_same_state(void **state) {
    (void)state;
    replica_converges(NULL, 400); /* one delta per item */
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.batch_max_deltas = 32;
    replica_converges(&cfg, 400 / 32 + 1); /* grouped by the capture's batching */
}

static void refused(dv_db *db, const dv_insert_item *items, size_t n, dv_status want) {
    uint64_t before = dv_db_state_hash(db);
    size_t count = dv_db_count(db), done = 77;
    assert_int_equal(dv_db_insert_batch(db, items, n, &done), want);
    assert_int_equal(done, 0);
    assert_int_equal(dv_db_count(db), count);
    assert_int_equal(dv_db_state_hash(db), before);
}

static void a_bad_item_changes_nothing(void **state) {
    (void)state;
    dv_db *db = test_open_db(DIM, SEED);
    batch b;
    make_batch(&b, 40, 0, 5);
    assert_int_equal(dv_db_insert(db, "existing", b.items[0].vec, NULL, 0), DV_OK);
    /* the bad item is the last: items before it must not go in */
    dv_insert_item saved = b.items[39];
    float nan_vec[DIM] = {0};
    nan_vec[2] = NAN;
    b.items[39].vec = nan_vec;
    refused(db, b.items, b.n, DV_ENONFINITE);
    b.items[39] = saved;
    b.items[39].vec = NULL;
    refused(db, b.items, b.n, DV_EINVAL);
    b.items[39] = saved;
    b.items[39].id = "";
    refused(db, b.items, b.n, DV_EID);
    b.items[39].id = NULL;
    refused(db, b.items, b.n, DV_EID);
    b.items[39] = saved;
    b.items[39].id = "existing";
    refused(db, b.items, b.n, DV_EEXIST);
    b.items[39].id = b.items[3].id; /* twice in the batch */
    refused(db, b.items, b.n, DV_EEXIST);
    b.items[39] = saved;
    dv_meta_kv bad_meta = {"", "x"};
    b.items[39].meta = &bad_meta;
    b.items[39].n_meta = 1;
    refused(db, b.items, b.n, DV_EMETA);
    b.items[39].meta = NULL; /* n_meta 1 without pairs */
    refused(db, b.items, b.n, DV_EINVAL);
    b.items[39] = saved;
    refused(db, NULL, 3, DV_EINVAL);
    size_t done = 9;
    assert_int_equal(dv_db_insert_batch(db, NULL, 0, &done), DV_OK);
    assert_int_equal(done, 0);
    assert_int_equal(dv_db_insert_batch(NULL, b.items, b.n, &done), DV_EINVAL);
    /* and the repaired batch goes in whole */
    assert_int_equal(dv_db_insert_batch(db, b.items, b.n, &done), DV_OK);
    assert_int_equal(done, b.n);
    assert_int_equal(dv_db_count(db), b.n + 1);
    free_batch(&b);
    dv_db_close(db);
}

/* A ring of 8 entries fills mid-batch: DV_EFULL, the first n_done items are
 * in the db and in the stream, the rest in neither. */
static void full_ring_stops_the_batch_with_n_done_in(void **state) {
    (void)state;
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    cfg.ring.slot_count = 8;
    cfg.ring.payload_size = 1u << 16;
    test_primary p;
    test_primary_open(&p, DIM, &cfg, 6);
    batch b;
    make_batch(&b, 100, 0, 7);
    size_t done = 0;
    assert_int_equal(dv_db_insert_batch(p.db, b.items, b.n, &done), DV_EFULL);
    assert_true(done > 0 && done < b.n);
    assert_int_equal(dv_db_count(p.db), done);
    float v[DIM];
    assert_int_equal(dv_db_get(p.db, b.items[done - 1].id, v), DV_OK);
    assert_int_equal(dv_db_get(p.db, b.items[done].id, v), DV_ENOTFOUND);
    test_primary_drain(&p);
    assert_int_equal(p.stream.n, done);
    dv_db *replica = test_open_db(DIM, 42);
    apply_stream(&p, replica);
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    /* the rest, once the consumer has drained, goes in and converges too */
    size_t rest_done = 0, first = done;
    while (first < b.n) {
        dv_status st = dv_db_insert_batch(p.db, b.items + first, b.n - first, &rest_done);
        assert_true(st == DV_OK || st == DV_EFULL);
        first += rest_done;
        test_primary_drain(&p);
    }
    dv_db_close(replica);
    replica = test_open_db(DIM, 42);
    apply_stream(&p, replica);
    assert_int_equal(dv_db_count(replica), b.n);
    assert_int_equal(dv_db_state_hash(replica), dv_db_state_hash(p.db));
    dv_db_close(replica);
    free_batch(&b);
    test_primary_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_state_as_single_inserts),
        cmocka_unit_test(captured_batch_replays_to_the_same_state),
        cmocka_unit_test(a_bad_item_changes_nothing),
        cmocka_unit_test(full_ring_stops_the_batch_with_n_done_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
