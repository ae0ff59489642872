/*
 * transport_checks.c -- test support: assertions and JS replicas of the transport tests (see
 * transport_checks.h).
 */
#define _GNU_SOURCE
#include "support/transport_checks.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef DV_SOURCE_DIR
#define DV_SOURCE_DIR "."
#endif

int check_rig_setup(void **state) { return rig_start(*state); }

int check_rig_teardown(void **state) { return rig_stop(*state); }

dv_store *check_primary_open(const char *dir, const rig_primary *cfg) {
    dv_store *s = NULL;
    assert_int_equal(rig_primary_open(dir, cfg, &s), DV_OK);
    return s;
}

dv_publisher *check_publisher_open(const dv_publisher_config *pc) {
    dv_publisher *p = NULL;
    assert_int_equal(dv_publisher_open(pc, &p), DV_OK);
    return p;
}

dv_follower *check_follower_open(const dv_follower_config *fc) {
    dv_follower *f = NULL;
    assert_int_equal(dv_follower_open(fc, &f), DV_OK);
    return f;
}

void check_converge(dv_publisher *p, dv_follower *f, uint64_t target) {
    dv_status st = rig_converge(p, f, target);
    if (st != DV_OK)
        fail_msg("%s: publisher: %s; follower: %s", dv_status_name(st), p ? dv_publisher_last_error(p) : "-",
                 dv_follower_last_error(f));
    assert_int_equal(dv_follower_position(f), target);
}

static const uint32_t SPARSE_0_7_19[3] = {0, 7, 19};
const mixed_profile MIXED_TAGGED = {40, 25, 20, 10, 50, 10000, SPARSE_0_7_19, 3, {"tag", "a"}, {"tag", "b"}};
const mixed_profile MIXED_UNTAGGED = {40, 25,           20,          10, 50, 10000, SPARSE_0_7_19,
                                      3,  {NULL, NULL}, {"tag", "b"}};

void mixed_writes(dv_store *s, mixed_workload *w, int n) {
    const mixed_profile *m = w->profile;
    const uint32_t update_below = m->insert_pct + m->update_pct, sparse_below = update_below + m->sparse_pct,
                   delete_below = sparse_below + m->delete_pct;
    float v[256];
    char id[32];
    assert_true(w->dim <= 256 && m->sparse_index[m->sparse_n - 1] < w->dim);
    for (int i = 0; i < n; i++) {
        for (uint32_t d = 0; d < w->dim; d++) v[d] = rig_rand_unit(&w->rng, m->value_steps);
        uint32_t r = (uint32_t)(rig_rand(&w->rng) % 100);
        if (r < m->insert_pct || w->next_id < m->inserts_first) {
            snprintf(id, sizeof id, "v%u", w->next_id++);
            const dv_meta_kv *kv = m->insert_kv.key ? &m->insert_kv : NULL;
            assert_int_equal(dv_store_insert(s, id, v, kv, kv ? 1 : 0), DV_OK);
            continue;
        }
        snprintf(id, sizeof id, "v%u", (uint32_t)(rig_rand(&w->rng) % w->next_id));
        dv_status st;
        if (r < update_below)
            st = dv_store_update(s, id, v);
        else if (r < sparse_below)
            st = dv_store_update_sparse(s, id, m->sparse_index, v, m->sparse_n);
        else if (r < delete_below)
            st = dv_store_delete(s, id);
        else
            st = dv_store_set_meta(s, id, m->set_kv.key, m->set_kv.value);
        assert_true(st == DV_OK || st == DV_ENOTFOUND);
    }
}

static int readable(const char *relative) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", DV_SOURCE_DIR, relative);
    return access(p, R_OK) == 0;
}

int js_node_ready(void) {
    return readable("js/dist/deltavec.wasm") && readable("js/node_modules/@nats-io/jetstream/package.json") &&
           system("node --version >/dev/null 2>&1") == 0;
}

void js_require_node(void) {
    if (js_node_ready()) return;
    printf("node, js/dist or js/node_modules/@nats-io missing: skipped\n");
    skip();
}

int js_chromium_ready(void) {
    if (!readable("js/dist/nats-browser.js") || !readable("js/node_modules/playwright-core/package.json"))
        return 0;
    const char *c = getenv("CHROMIUM");
    return access(c && *c ? c : "/usr/bin/chromium", X_OK) == 0;
}

void js_write_queries(float *q, int nq, uint32_t dim, uint64_t seed, const char *qfile) {
    FILE *qf = fopen(qfile, "w");
    assert_non_null(qf);
    fprintf(qf, "[");
    for (int i = 0; i < nq; i++) {
        fprintf(qf, "%s[", i ? "," : "");
        for (uint32_t d = 0; d < dim; d++) {
            q[(size_t)i * dim + d] = rig_rand_unit(&seed, 10000);
            fprintf(qf, "%s%.9g", d ? "," : "", (double)q[(size_t)i * dim + d]);
        }
        fprintf(qf, "]");
    }
    fprintf(qf, "]\n");
    fclose(qf);
}

void js_expected_line(const dv_db *db, uint64_t position, const float *q, int nq, uint32_t dim, char *out,
                      size_t cap) {
    size_t o = (size_t)snprintf(out, cap, "{\"position\":\"%llu\",\"hash\":\"%016llx\",\"top10\":[",
                                (unsigned long long)position, (unsigned long long)dv_db_state_hash(db));
    for (int i = 0; i < nq; i++) {
        dv_hit h[10];
        size_t n = 0;
        assert_int_equal(dv_db_search(db, q + (size_t)i * dim, 10, 64, h, &n), DV_OK);
        o += (size_t)snprintf(out + o, cap - o, "%s[", i ? "," : "");
        for (size_t k = 0; k < n; k++)
            o += (size_t)snprintf(out + o, cap - o, "%s\"%s\"", k ? "," : "", h[k].id);
        o += (size_t)snprintf(out + o, cap - o, "]");
    }
    snprintf(out + o, cap - o, "]}");
}

int js_run_replica(const transport_rig *r, const char *script, const char *transport, const char *url,
                   uint64_t target, const char *qfile, const char *env, char *line, size_t cap) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s DV_NATS_URL='%s' DV_NATS_WS_URL='%s' DV_NATS_USER=fol DV_NATS_PASS=folpw DV_DB=%s"
             " DV_TARGET=%llu DV_QUERIES='%s' DV_TRANSPORT=%s node '%s/js/test-nats/%s'",
             env, url, url, r->srv.db, (unsigned long long)target, qfile, transport, DV_SOURCE_DIR, script);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    line[0] = 0;
    if (!fgets(line, (int)cap, p)) line[0] = 0;
    int rc = pclose(p);
    line[strcspn(line, "\n")] = 0;
    return rc;
}
