/*
 * stream.h -- test support: a primary with capture, a recorded delta
 * stream, and a deterministic random workload.
 */
#ifndef DV_TEST_STREAM_H
#define DV_TEST_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"

typedef struct test_delta {
    uint8_t *bytes; /* 64-byte header + payload */
    size_t len;
} test_delta;

typedef struct test_stream {
    test_delta *d;
    size_t n, cap;
} test_stream;

typedef struct test_primary {
    dv_db *db;
    dv_capture *cap;
    test_stream stream;
    uint64_t rng;
    uint32_t next_id;
    uint32_t dim;
} test_primary;

typedef struct workload_mix {
    int insert, update, sparse, del, meta; /* relative weights */
} workload_mix;

/* A db with small HNSW parameters, fast for tests. */
dv_db *test_open_db(uint32_t dim, uint64_t seed);
/* A db with the graph size a test was written for (M, ef_construction); all else default. */
dv_db *test_open_db_sized(uint32_t dim, uint32_t M, uint32_t ef_construction);
/* Primary + capture (cfg may be NULL for defaults). */
void test_primary_open(test_primary *p, uint32_t dim, const dv_capture_config *cfg, uint64_t seed);
void test_primary_close(test_primary *p);
/* Runs n random writes (ids re-inserted after delete too), draining the
 * capture ring into p->stream every few writes. */
void test_primary_run(test_primary *p, size_t n, const workload_mix *mix);
/* Moves every delta now in the capture ring into p->stream. */
void test_primary_drain(test_primary *p);
void test_stream_free(test_stream *s);

uint32_t test_rand(uint64_t *state);
float test_randf(uint64_t *state);

#endif
