/*
 * transport_checks.h -- cmocka assertions and replicas of the transport tests
 * over transport_rig.h: a follower brought to a position, the mixed workload
 * of writes, and the JavaScript replicas (js/test-nats/follow.mjs in Node,
 * browser.mjs in headless Chromium) that answer with one line: position,
 * state hash and the top-10 ids of a few queries.
 */
#ifndef DV_TEST_TRANSPORT_CHECKS_H
#define DV_TEST_TRANSPORT_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"
#include "support/transport_rig.h"

/* cmocka setup and teardown of a test against a server of its own: *state is the test's rig
 * (cmocka_unit_test_prestate_setup_teardown), with tag and db set. */
int check_rig_setup(void **state);
int check_rig_teardown(void **state);

/* rig_primary_open, dv_publisher_open and dv_follower_open, failing the test unless DV_OK. */
dv_store *check_primary_open(const char *dir, const rig_primary *cfg);
dv_publisher *check_publisher_open(const dv_publisher_config *pc);
dv_follower *check_follower_open(const dv_follower_config *fc);

/* rig_converge, failing the test with both sides' last errors; then f must hold target. */
void check_converge(dv_publisher *p, dv_follower *f, uint64_t target);

/* The shape of a mixed workload: percentages of inserts, dense updates, sparse updates and deletes (the
 * rest sets metadata); updates and deletes name an id inserted before (which may be deleted by now). */
typedef struct mixed_profile {
    uint32_t insert_pct, update_pct, sparse_pct, delete_pct;
    uint32_t inserts_first;       /* only inserts until this many ids exist */
    uint32_t value_steps;         /* values uniform in [-1, 1) in steps of 1/value_steps */
    const uint32_t *sparse_index; /* the indices a sparse update writes (ascending, < dim) */
    uint32_t sparse_n;
    dv_meta_kv insert_kv; /* metadata of each insert (key NULL: none) */
    dv_meta_kv set_kv;    /* what a metadata write sets */
} mixed_profile;

typedef struct mixed_workload {
    const mixed_profile *profile;
    uint32_t dim; /* <= 256 */
    uint64_t rng;
    uint32_t next_id;
} mixed_workload;

/* The transport tests' usual mix: 40% inserts (50 first), dense and sparse updates (which move nodes),
 * deletes, metadata (tag=b); inserts carry tag=a. */
extern const mixed_profile MIXED_TAGGED;
/* The same without metadata on inserts. */
extern const mixed_profile MIXED_UNTAGGED;

/* n writes of w's profile. */
void mixed_writes(dv_store *s, mixed_workload *w, int n);

/* Skips the test (with a line saying why) without node, the wasm build or the npm NATS packages. */
void js_require_node(void);
/* 1 when node is ready (see js_require_node). */
int js_node_ready(void);
/* 1 when the browser replica can run: chromium, playwright-core and js/dist/nats-browser.js. */
int js_chromium_ready(void);

/* nq random queries of dim values (generator seed) into q[nq * dim] and into the JSON file qfile. */
void js_write_queries(float *q, int nq, uint32_t dim, uint64_t seed, const char *qfile);
/* The line a JS replica prints when it equals db at position. */
void js_expected_line(const dv_db *db, uint64_t position, const float *q, int nq, uint32_t dim, char *out,
                      size_t cap);
/* Runs js/test-nats/<script> (follow.mjs or browser.mjs) as user fol over transport (tcp or ws) at url until
 * target, with extra environment env ("" for none); its one-line answer into line; returns its exit status.
 */
int js_run_replica(const transport_rig *r, const char *script, const char *transport, const char *url,
                   uint64_t target, const char *qfile, const char *env, char *line, size_t cap);

#endif
