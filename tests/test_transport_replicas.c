/*
 * test_transport_replicas.c -- one primary, replicas in C, in Node (wasm, over TCP and over WebSocket) and
 * in headless Chromium (wasm, WebSocket) following it through a real nats-server; all end with the
 * primary's state hash and the same top-10 results. The Node replicas run js/test-nats/follow.mjs
 * (followNats), the browser one js/test-nats/browser.mjs (examples/browser/nats.html). The test is skipped
 * when node, the wasm build (js/dist) or the npm NATS packages (js/node_modules) are missing; the browser
 * replica when chromium, playwright-core or js/dist/nats-browser.js (npm run build:nats) are.
 *
 * DV_TRANSPORT_OPS sets the op count (default 10000; the full figure is 100000:
 *   DV_TRANSPORT_OPS=100000 ctest -R test_transport_replicas).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "deltavec.h"
#include "support/transport_checks.h"
#include "support/transport_rig.h"

#ifndef DV_SOURCE_DIR
#define DV_SOURCE_DIR "."
#endif

#define DIM 32
#define DB "mix"
#define NQ 5

static transport_rig rig = {.tag = "dv-replicas", .db = DB};

/* Runs js/test-nats/<script> (follow.mjs: Node; browser.mjs: Chromium) without extra environment; fails the
 * test unless it exits 0. */
static void run_node(const char *script, const char *transport, const char *url, uint64_t target,
                     const char *qfile, char *line, size_t cap) {
    if (js_run_replica(&rig, script, transport, url, target, qfile, "", line, cap) != 0)
        fail_msg("node follower (%s) failed: %s", transport, line);
}

/* keep_log_from: a checkpoint keeps the log from there on (0: the store's retention). */
static dv_store *primary_open(const char *dir, uint64_t keep_log_from) {
    const rig_primary cfg = {.dim = DIM, .M = 12, .ef_construction = 64, .keep_log_from = keep_log_from};
    return check_primary_open(dir, &cfg);
}

static dv_publisher *pub_open(const char *dir) {
    dv_publisher_config pc;
    rig_publisher_config(&rig, dir, &pc);
    pc.keep_snapshots = 1;
    return check_publisher_open(&pc);
}

/* A primary directory work/name with its publisher, queries file work/queries-<name>.json. */
typedef struct primary {
    char dir[400], qfile[400];
    dv_store *s;
    dv_publisher *p;
    mixed_workload w;
} primary;

static void primary_start(primary *pr, const char *name, uint64_t keep_log_from, uint64_t seed) {
    char qname[64];
    snprintf(qname, sizeof qname, "queries-%s.json", name);
    rig_path(&rig, name, pr->dir, sizeof pr->dir);
    rig_path(&rig, qname, pr->qfile, sizeof pr->qfile);
    pr->s = primary_open(pr->dir, keep_log_from);
    pr->p = pub_open(pr->dir);
    pr->w = (mixed_workload){&MIXED_UNTAGGED, DIM, seed, 0};
}

static void primary_end(primary *pr) {
    dv_publisher_close(pr->p);
    dv_store_close(pr->s);
}

static void test_c_node_and_browser_replicas_follow_one_primary(void **state) {
    (void)state;
    js_require_node();
    primary pr;
    primary_start(&pr, "primary", 0, 2026);
    char rdir[400];
    rig_path(&rig, "replica", rdir, sizeof rdir);
    dv_follower_config fc;
    rig_follower_config(&rig, rdir, "c_replica", &fc);
    dv_follower *f = check_follower_open(&fc);

    const char *e = getenv("DV_TRANSPORT_OPS");
    int total = e && atoi(e) > 0 ? atoi(e) : 10000;
    for (int done = 0; done < total; done += 1000) {
        mixed_writes(pr.s, &pr.w, total - done < 1000 ? total - done : 1000);
        assert_int_equal(dv_publisher_pump(pr.p, NULL), DV_OK);
        assert_int_equal(dv_follower_pump(f, 10, NULL), DV_OK);
    }
    uint64_t target = dv_store_sequence(pr.s);
    check_converge(NULL, f, target);

    float q[NQ * DIM];
    js_write_queries(q, NQ, DIM, 7, pr.qfile);

    static char want[16384], got_c[16384], got[16384];
    js_expected_line(dv_store_db(pr.s), target, q, NQ, DIM, want, sizeof want);
    js_expected_line(dv_follower_db(f), target, q, NQ, DIM, got_c, sizeof got_c);
    assert_string_equal(got_c, want);
    run_node("follow.mjs", "tcp", rig.srv.url, target, pr.qfile, got, sizeof got);
    assert_string_equal(got, want);
    run_node("follow.mjs", "ws", rig.srv.ws_url, target, pr.qfile, got, sizeof got);
    assert_string_equal(got, want);
    if (js_chromium_ready()) { /* the browser replica: examples/browser/nats.html in headless Chromium */
        run_node("browser.mjs", "ws", rig.srv.ws_url, target, pr.qfile, got, sizeof got);
        assert_string_equal(got, want);
    } else {
        printf("chromium, playwright-core or js/dist/nats-browser.js missing: no browser replica\n");
    }

    dv_follower_close(f);
    primary_end(&pr);
}

/*
 * Issue test 5 for the JS replicas: the stream was trimmed (a snapshot was put in the object store), so
 * followNats in Node (TCP and WebSocket) and in Chromium must start from the snapshot, then consume the
 * records after it; without the bucket (snapshots: false) the same follower stops with DV_EGAP. The
 * snapshot is taken before the log is shipped, so it falls inside a run: the JS followers apply only the
 * run's tail.
 */
static void test_js_replicas_bootstrap_from_snapshot(void **state) {
    (void)state;
    js_require_node();
    primary pr;
    primary_start(&pr, "primary-b", 1, 4242);
    mixed_writes(pr.s, &pr.w, 3000);
    uint64_t snap = 0, snap_seq = dv_store_sequence(pr.s);
    assert_int_equal(dv_store_checkpoint(pr.s, NULL), DV_OK);
    mixed_writes(pr.s, &pr.w, 1000);
    assert_int_equal(dv_publisher_put_snapshot(pr.p, &snap),
                     DV_OK); /* ships the log, trims before the snapshot */
    assert_int_equal(snap, snap_seq);
    uint64_t target = dv_store_sequence(pr.s);
    float q[NQ * DIM];
    js_write_queries(q, NQ, DIM, 7, pr.qfile);
    static char want[16384], got[16384];
    js_expected_line(dv_store_db(pr.s), target, q, NQ, DIM, want, sizeof want);
    /* the control: the log's start is gone from the stream */
    assert_int_not_equal(js_run_replica(&rig, "follow.mjs", "tcp", rig.srv.url, target, pr.qfile,
                                        "DV_NO_SNAPSHOTS=1", got, sizeof got),
                         0);
    assert_non_null(strstr(got, "DV_EGAP"));
    /* then Node over TCP and WebSocket, and Chromium: each from the snapshot */
    struct {
        const char *script, *transport, *url;
    } replicas[3] = {{"follow.mjs", "tcp", rig.srv.url},
                     {"follow.mjs", "ws", rig.srv.ws_url},
                     {"browser.mjs", "ws", rig.srv.ws_url}};
    int n_replicas = js_chromium_ready() ? 3 : 2;
    for (int i = 0; i < n_replicas; i++) {
        if (js_run_replica(&rig, replicas[i].script, replicas[i].transport, replicas[i].url, target, pr.qfile,
                           "DV_EXPECT_BOOTSTRAP=1", got, sizeof got) != 0)
            fail_msg("%s (%s) failed: %s", replicas[i].script, replicas[i].transport, got);
        assert_string_equal(got, want);
    }
    primary_end(&pr);
}

/*
 * A running JS replica that falls behind a trim (held at a position while the primary writes, ships,
 * checkpoints and trims the stream past it) starts again from the newest snapshot by itself and converges.
 */
static void test_js_replica_rebootstraps_when_trimmed_past(void **state) {
    (void)state;
    js_require_node();
    primary pr;
    primary_start(&pr, "primary-t", 0, 99);
    char resume[400], tfile[400];
    rig_path(&rig, "resume-t", resume, sizeof resume);
    rig_path(&rig, "target-t", tfile, sizeof tfile);
    mixed_writes(pr.s, &pr.w, 1000);
    assert_int_equal(dv_publisher_pump(pr.p, NULL), DV_OK);
    uint64_t hold = dv_store_sequence(pr.s);
    /* small pulls (2 messages): what the follower has fetched while held is far less than what is trimmed;
     * the target is known only after the writes below: the script reads it from a file */
    char cmd[2600];
    snprintf(cmd, sizeof cmd,
             "DV_TARGET_FILE='%s' DV_NATS_URL='%s' DV_NATS_USER=fol DV_NATS_PASS=folpw DV_DB=" DB
             " DV_QUERIES='%s' DV_BATCH=2 DV_PAUSE_AT=%llu DV_RESUME_FILE='%s' DV_EXPECT_BOOTSTRAP=1 node "
             "'%s/js/test-nats/follow.mjs'",
             tfile, rig.srv.url, pr.qfile, (unsigned long long)hold, resume, DV_SOURCE_DIR);
    FILE *np = popen(cmd, "r");
    assert_non_null(np);
    static char line[16384], want[16384];
    assert_non_null(fgets(line, sizeof line, np));
    assert_non_null(strstr(line, "paused"));
    mixed_writes(pr.s, &pr.w, 4000);
    assert_int_equal(dv_store_checkpoint(pr.s, NULL), DV_OK);
    uint64_t snap = 0;
    assert_int_equal(dv_publisher_put_snapshot(pr.p, &snap),
                     DV_OK); /* ships, then trims before the snapshot */
    mixed_writes(pr.s, &pr.w, 500);
    assert_int_equal(dv_publisher_pump(pr.p, NULL), DV_OK);
    uint64_t target = dv_store_sequence(pr.s);
    float q[NQ * DIM];
    js_write_queries(q, NQ, DIM, 7, pr.qfile);
    FILE *tf = fopen(tfile, "w");
    assert_non_null(tf);
    fprintf(tf, "%llu\n", (unsigned long long)target);
    fclose(tf);
    FILE *rf = fopen(resume, "w");
    assert_non_null(rf);
    fclose(rf);
    line[0] = 0;
    if (!fgets(line, sizeof line, np)) line[0] = 0;
    int rc = pclose(np);
    line[strcspn(line, "\n")] = 0;
    if (rc != 0) fail_msg("node follower failed: %s", line);
    js_expected_line(dv_store_db(pr.s), target, q, NQ, DIM, want, sizeof want);
    assert_string_equal(line, want);
    primary_end(&pr);
}

/* Where the last record read is copied (header + payload). */
typedef struct record_copy {
    uint8_t *buf;
    size_t cap, len;
} record_copy;

static void copy_record(const dv_stream_record *rec, void *arg) {
    record_copy *c = arg;
    c->len = 64 + rec->payload_len;
    assert_true(c->len <= c->cap);
    memcpy(c->buf, rec->header, 64);
    memcpy(c->buf + 64, rec->payload, rec->payload_len);
}

/* The last record of the primary directory's log (header + payload) into buf; its length. */
static size_t last_record(const char *dir, uint8_t *buf, size_t cap) {
    record_copy c = {buf, cap, 0};
    assert_int_equal(rig_each_log_record(dir, copy_record, &c), DV_OK);
    return c.len;
}

/* Publishes data on the deltas subject with the given message id and Dv-Codec (NULL: none) as the
 * publisher user; or, with delete_seq, deletes that stream message as the admin. Returns its sequence. */
static uint64_t hostile_publish(const void *data, int len, const char *id, const char *codec,
                                uint64_t delete_seq) {
    if (delete_seq) {
        assert_int_equal(rig_delete_raw(&rig, delete_seq), NATS_OK);
        return delete_seq;
    }
    uint64_t seq = 0;
    int duplicate = 1;
    assert_int_equal(rig_publish_raw(&rig, "pub", "pubpw", data, len, id, codec, &seq, &duplicate), NATS_OK);
    assert_false(duplicate);
    return seq;
}

/*
 * Issue test 7 for the JS replicas: messages that are not a valid run stop followNats with their status
 * and stream sequence: a Dv-Codec: zstd message that is no zstd frame, an unknown codec, a record twice
 * in one run (sequences not consecutive), a valid record under another database's message id.
 */
static void test_js_replicas_refuse_hostile_messages(void **state) {
    (void)state;
    js_require_node();
    primary pr;
    primary_start(&pr, "primary-h", 0, 77);
    mixed_writes(pr.s, &pr.w, 500);
    assert_int_equal(dv_publisher_pump(pr.p, NULL), DV_OK);
    assert_int_equal(dv_store_sync(pr.s), DV_OK);
    uint64_t target = dv_store_sequence(pr.s);
    float q[NQ * DIM];
    js_write_queries(q, NQ, DIM, 7, pr.qfile);
    static uint8_t rec[1 << 16], twice[1 << 17];
    size_t rl = last_record(pr.dir, rec, sizeof rec);
    assert_true(rl >= 64);
    memcpy(twice, rec, rl);
    memcpy(twice + rl, rec, rl);
    char own[64], foreign[64], ids[4][96];
    /* the publisher's db id: the stream header of the primary's first segment */
    char seg[600];
    snprintf(seg, sizeof seg, "%s/00000000000000000001.dvs", pr.dir);
    FILE *sf = fopen(seg, "rb");
    assert_non_null(sf);
    uint8_t hdr[80];
    assert_int_equal(fread(hdr, 1, sizeof hdr, sf), sizeof hdr);
    fclose(sf);
    for (int i = 0; i < 16; i++) snprintf(own + 2 * i, 3, "%02x", hdr[64 + i]);
    memset(foreign, 'f', 32);
    foreign[32] = 0;
    unsigned long long t = (unsigned long long)target;
    snprintf(ids[0], sizeof ids[0], "%s:%llu", own, t + 1);
    snprintf(ids[1], sizeof ids[1], "%s:%llu", own, t + 2);
    snprintf(ids[2], sizeof ids[2], "%s:%llu-%llu", own, t, t + 1);
    snprintf(ids[3], sizeof ids[3], "%s:%llu", foreign, t);
    const char *want[4] = {"DV_ECORRUPT", "DV_EUNSUPPORTED", "DV_ECORRUPT", "DV_EFENCED"};
    for (int k = 0; k < 4; k++) {
        uint64_t bad = k == 0   ? hostile_publish("garbage!", 8, ids[k], "zstd", 0)
                       : k == 1 ? hostile_publish("garbage!", 8, ids[k], "brotli", 0)
                       : k == 2 ? hostile_publish(twice, (int)(2 * rl), ids[k], NULL, 0)
                                : hostile_publish(rec, (int)rl, ids[k], NULL, 0);
        static char got[16384];
        int rc =
            js_run_replica(&rig, "follow.mjs", k % 2 ? "ws" : "tcp", k % 2 ? rig.srv.ws_url : rig.srv.url,
                           target + 1, pr.qfile, "", got, sizeof got);
        assert_int_not_equal(rc, 0);
        char code[64], sq[64];
        snprintf(code, sizeof code, "\"error\":\"%s\"", want[k]);
        snprintf(sq, sizeof sq, "\"sequence\":%llu", (unsigned long long)bad);
        if (!strstr(got, code) || !strstr(got, sq)) fail_msg("case %d: %s", k, got);
        hostile_publish(NULL, 0, NULL, NULL, bad); /* clean the stream for the next case */
    }
    primary_end(&pr);
}

int main(void) {
    if (!test_nats_available()) {
        printf("nats-server not found: skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_c_node_and_browser_replicas_follow_one_primary,
                                                 check_rig_setup, check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_js_replicas_bootstrap_from_snapshot, check_rig_setup,
                                                 check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_js_replicas_refuse_hostile_messages, check_rig_setup,
                                                 check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_js_replica_rebootstraps_when_trimmed_past,
                                                 check_rig_setup, check_rig_teardown, &rig),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
