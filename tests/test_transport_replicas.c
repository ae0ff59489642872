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
#include <unistd.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "deltavec.h"
#include "support/nats_server.h"

#ifndef DV_SOURCE_DIR
#define DV_SOURCE_DIR "."
#endif

#define DIM 32
#define DB "mix"
#define NQ 5

static test_nats srv;
static char work[256];

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float rnd(uint64_t *s) { return (float)(rng_next(s) % 20000) / 10000.0f - 1.0f; }

static int node_ready(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/js/dist/deltavec.wasm", DV_SOURCE_DIR);
    if (access(p, R_OK) != 0) return 0;
    snprintf(p, sizeof p, "%s/js/node_modules/@nats-io/jetstream/package.json", DV_SOURCE_DIR);
    if (access(p, R_OK) != 0) return 0;
    return system("node --version >/dev/null 2>&1") == 0;
}

static int chromium_ready(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/js/dist/nats-browser.js", DV_SOURCE_DIR);
    if (access(p, R_OK) != 0) return 0;
    snprintf(p, sizeof p, "%s/js/node_modules/playwright-core/package.json", DV_SOURCE_DIR);
    if (access(p, R_OK) != 0) return 0;
    const char *c = getenv("CHROMIUM");
    return access(c && *c ? c : "/usr/bin/chromium", X_OK) == 0;
}

static void write_ops(dv_store *s, uint64_t *rng, uint32_t *next_id, int n) {
    float v[DIM];
    char id[32];
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < DIM; d++) v[d] = rnd(rng);
        uint32_t r = (uint32_t)(rng_next(rng) % 100);
        if (r < 40 || *next_id < 50) {
            snprintf(id, sizeof id, "v%u", (*next_id)++);
            assert_int_equal(dv_store_insert(s, id, v, NULL, 0), DV_OK);
            continue;
        }
        snprintf(id, sizeof id, "v%u", (uint32_t)(rng_next(rng) % *next_id));
        dv_status st;
        if (r < 65)
            st = dv_store_update(s, id, v);
        else if (r < 85) {
            uint32_t idx[3] = {0, 7, 19};
            st = dv_store_update_sparse(s, id, idx, v, 3);
        } else if (r < 95)
            st = dv_store_delete(s, id);
        else
            st = dv_store_set_meta(s, id, "tag", "b");
        assert_true(st == DV_OK || st == DV_ENOTFOUND);
    }
}

/* The line follow.mjs prints for a replica equal to db. */
static void expected_line(const dv_db *db, uint64_t position, float q[NQ][DIM], char *out, size_t cap) {
    size_t o = (size_t)snprintf(out, cap, "{\"position\":\"%llu\",\"hash\":\"%016llx\",\"top10\":[",
                                (unsigned long long)position, (unsigned long long)dv_db_state_hash(db));
    for (int i = 0; i < NQ; i++) {
        dv_hit h[10];
        size_t n = 0;
        assert_int_equal(dv_db_search(db, q[i], 10, 64, h, &n), DV_OK);
        o += (size_t)snprintf(out + o, cap - o, "%s[", i ? "," : "");
        for (size_t k = 0; k < n; k++)
            o += (size_t)snprintf(out + o, cap - o, "%s\"%s\"", k ? "," : "", h[k].id);
        o += (size_t)snprintf(out + o, cap - o, "]");
    }
    snprintf(out + o, cap - o, "]}");
}

/* Runs js/test-nats/<script> (follow.mjs: Node; browser.mjs: Chromium) with extra environment `env`, reads
 * its one-line answer; returns its exit status. */
static int run_node_env(const char *script, const char *transport, const char *url, uint64_t target,
                        const char *qfile, const char *env, char *line, size_t cap) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s DV_NATS_URL='%s' DV_NATS_WS_URL='%s' DV_NATS_USER=fol DV_NATS_PASS=folpw DV_DB=" DB
             " DV_TARGET=%llu DV_QUERIES='%s' DV_TRANSPORT=%s node '%s/js/test-nats/%s'",
             env, url, url, (unsigned long long)target, qfile, transport, DV_SOURCE_DIR, script);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    line[0] = 0;
    if (!fgets(line, (int)cap, p)) line[0] = 0;
    int rc = pclose(p);
    line[strcspn(line, "\n")] = 0;
    return rc;
}

static void run_node(const char *script, const char *transport, const char *url, uint64_t target,
                     const char *qfile, char *line, size_t cap) {
    if (run_node_env(script, transport, url, target, qfile, "", line, cap) != 0)
        fail_msg("node follower (%s) failed: %s", transport, line);
}

/* NQ random queries into q and into the JSON file qfile (what the JS replicas search). */
static void write_queries(float q[NQ][DIM], const char *qfile) {
    uint64_t qr = 7;
    FILE *qf = fopen(qfile, "w");
    assert_non_null(qf);
    fprintf(qf, "[");
    for (int i = 0; i < NQ; i++) {
        fprintf(qf, "%s[", i ? "," : "");
        for (int d = 0; d < DIM; d++) {
            q[i][d] = rnd(&qr);
            fprintf(qf, "%s%.9g", d ? "," : "", (double)q[i][d]);
        }
        fprintf(qf, "]");
    }
    fprintf(qf, "]\n");
    fclose(qf);
}

/* keep_log_from: a checkpoint keeps the log from there on (0: the store's retention). */
static dv_store *primary_open(const char *dir, uint64_t keep_log_from) {
    dv_db_config c;
    dv_db_config_default(&c, DIM);
    c.M = 12;
    c.ef_construction = 64;
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.sync = DV_SYNC_NONE;
    sc.keep_log_from = keep_log_from;
    dv_store *s = NULL;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    return s;
}

static dv_publisher *pub_open(const char *dir) {
    dv_publisher_config pc;
    dv_publisher_config_default(&pc);
    pc.nats.servers = srv.url;
    pc.nats.user = "pub";
    pc.nats.password = "pubpw";
    pc.nats.name = DB;
    pc.dir = dir;
    pc.keep_snapshots = 1;
    dv_publisher *p = NULL;
    assert_int_equal(dv_publisher_open(&pc, &p), DV_OK);
    return p;
}

static void test_c_node_and_browser_replicas_follow_one_primary(void **state) {
    (void)state;
    if (!node_ready()) {
        printf("node, js/dist or js/node_modules/@nats-io missing: skipped\n");
        skip();
    }
    char pdir[400], rdir[400], qfile[400];
    snprintf(pdir, sizeof pdir, "%s/primary", work);
    snprintf(rdir, sizeof rdir, "%s/replica", work);
    snprintf(qfile, sizeof qfile, "%s/queries.json", work);
    dv_store *s = primary_open(pdir, 0);
    dv_publisher *p = pub_open(pdir);
    dv_follower_config fc;
    dv_follower_config_default(&fc);
    fc.nats.servers = srv.url;
    fc.nats.name = DB;
    fc.nats.user = "fol";
    fc.nats.password = "folpw";
    fc.dir = rdir;
    fc.durable = "c_replica";
    dv_follower *f = NULL;
    assert_int_equal(dv_follower_open(&fc, &f), DV_OK);

    const char *e = getenv("DV_TRANSPORT_OPS");
    int total = e && atoi(e) > 0 ? atoi(e) : 10000;
    uint64_t rng = 2026;
    uint32_t next_id = 0;
    for (int done = 0; done < total; done += 1000) {
        write_ops(s, &rng, &next_id, total - done < 1000 ? total - done : 1000);
        assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
        assert_int_equal(dv_follower_pump(f, 10, NULL), DV_OK);
    }
    uint64_t target = dv_store_sequence(s);
    for (int idle = 0; dv_follower_position(f) < target && idle < 600;) {
        uint64_t n = 0;
        assert_int_equal(dv_follower_pump(f, 100, &n), DV_OK);
        idle = n ? 0 : idle + 1;
    }
    assert_int_equal(dv_follower_position(f), target);

    float q[NQ][DIM];
    write_queries(q, qfile);

    static char want[16384], got_c[16384], got[16384];
    expected_line(dv_store_db(s), target, q, want, sizeof want);
    expected_line(dv_follower_db(f), target, q, got_c, sizeof got_c);
    assert_string_equal(got_c, want);
    run_node("follow.mjs", "tcp", srv.url, target, qfile, got, sizeof got);
    assert_string_equal(got, want);
    run_node("follow.mjs", "ws", srv.ws_url, target, qfile, got, sizeof got);
    assert_string_equal(got, want);
    if (chromium_ready()) { /* the browser replica: examples/browser/nats.html in headless Chromium */
        run_node("browser.mjs", "ws", srv.ws_url, target, qfile, got, sizeof got);
        assert_string_equal(got, want);
    } else {
        printf("chromium, playwright-core or js/dist/nats-browser.js missing: no browser replica\n");
    }

    dv_follower_close(f);
    dv_publisher_close(p);
    dv_store_close(s);
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
    if (!node_ready()) {
        printf("node, js/dist or js/node_modules/@nats-io missing: skipped\n");
        skip();
    }
    char pdir[400], qfile[400];
    snprintf(pdir, sizeof pdir, "%s/primary-b", work);
    snprintf(qfile, sizeof qfile, "%s/queries-b.json", work);
    dv_store *s = primary_open(pdir, 1);
    dv_publisher *p = pub_open(pdir);
    uint64_t rng = 4242;
    uint32_t next_id = 0;
    write_ops(s, &rng, &next_id, 3000);
    uint64_t snap = 0, snap_seq = dv_store_sequence(s);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    write_ops(s, &rng, &next_id, 1000);
    assert_int_equal(dv_publisher_put_snapshot(p, &snap),
                     DV_OK); /* ships the log, trims before the snapshot */
    assert_int_equal(snap, snap_seq);
    uint64_t target = dv_store_sequence(s);
    float q[NQ][DIM];
    write_queries(q, qfile);
    static char want[16384], got[16384];
    expected_line(dv_store_db(s), target, q, want, sizeof want);
    /* the control: the log's start is gone from the stream */
    assert_int_not_equal(
        run_node_env("follow.mjs", "tcp", srv.url, target, qfile, "DV_NO_SNAPSHOTS=1", got, sizeof got), 0);
    assert_non_null(strstr(got, "DV_EGAP"));
    const char *boot = "DV_EXPECT_BOOTSTRAP=1";
    if (run_node_env("follow.mjs", "tcp", srv.url, target, qfile, boot, got, sizeof got) != 0)
        fail_msg("node follower (tcp) failed: %s", got);
    assert_string_equal(got, want);
    if (run_node_env("follow.mjs", "ws", srv.ws_url, target, qfile, boot, got, sizeof got) != 0)
        fail_msg("node follower (ws) failed: %s", got);
    assert_string_equal(got, want);
    if (chromium_ready()) {
        if (run_node_env("browser.mjs", "ws", srv.ws_url, target, qfile, boot, got, sizeof got) != 0)
            fail_msg("browser follower failed: %s", got);
        assert_string_equal(got, want);
    }
    dv_publisher_close(p);
    dv_store_close(s);
}

/*
 * A running JS replica that falls behind a trim (held at a position while the primary writes, ships,
 * checkpoints and trims the stream past it) starts again from the newest snapshot by itself and converges.
 */
static void test_js_replica_rebootstraps_when_trimmed_past(void **state) {
    (void)state;
    if (!node_ready()) {
        printf("node, js/dist or js/node_modules/@nats-io missing: skipped\n");
        skip();
    }
    char pdir[400], qfile[400], resume[400];
    snprintf(pdir, sizeof pdir, "%s/primary-t", work);
    snprintf(qfile, sizeof qfile, "%s/queries-t.json", work);
    snprintf(resume, sizeof resume, "%s/resume-t", work);
    dv_store *s = primary_open(pdir, 0);
    dv_publisher *p = pub_open(pdir);
    uint64_t rng = 99;
    uint32_t next_id = 0;
    write_ops(s, &rng, &next_id, 1000);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    uint64_t hold = dv_store_sequence(s);
    /* small pulls (2 messages): what the follower has fetched while held is far less than what is trimmed */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "DV_NATS_URL='%s' DV_NATS_USER=fol DV_NATS_PASS=folpw DV_DB=" DB " DV_QUERIES='%s' "
             "DV_BATCH=2 DV_PAUSE_AT=%llu DV_RESUME_FILE='%s' DV_EXPECT_BOOTSTRAP=1 node "
             "'%s/js/test-nats/follow.mjs'",
             srv.url, qfile, (unsigned long long)hold, resume, DV_SOURCE_DIR);
    /* the target is known only after the writes below: the script reads it from a file */
    char tfile[400];
    snprintf(tfile, sizeof tfile, "%s/target-t", work);
    char full[2600];
    snprintf(full, sizeof full, "DV_TARGET_FILE='%s' %s", tfile, cmd);
    FILE *np = popen(full, "r");
    assert_non_null(np);
    static char line[16384], want[16384];
    assert_non_null(fgets(line, sizeof line, np));
    assert_non_null(strstr(line, "paused"));
    write_ops(s, &rng, &next_id, 4000);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    uint64_t snap = 0;
    assert_int_equal(dv_publisher_put_snapshot(p, &snap), DV_OK); /* ships, then trims before the snapshot */
    write_ops(s, &rng, &next_id, 500);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    uint64_t target = dv_store_sequence(s);
    float q[NQ][DIM];
    write_queries(q, qfile);
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
    expected_line(dv_store_db(s), target, q, want, sizeof want);
    assert_string_equal(line, want);
    dv_publisher_close(p);
    dv_store_close(s);
}

/* The last record of the primary directory's log (header + payload) into buf; its length. */
static size_t last_record(const char *dir, uint8_t *buf, size_t cap) {
    char path[600];
    snprintf(path, sizeof path, "%s/00000000000000000001.dvs", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t file[1 << 24];
    size_t len = fread(file, 1, sizeof file, f);
    fclose(f);
    dv_stream_reader *r = NULL;
    assert_int_equal(dv_stream_reader_open(NULL, &r), DV_OK);
    size_t pos = 0, n = 0;
    for (;;) {
        size_t used = 0;
        dv_stream_record rec;
        dv_status st = dv_stream_reader_next(r, file + pos, len - pos, &used, &rec);
        pos += used;
        if (st != DV_OK) break;
        n = 64 + rec.payload_len;
        assert_true(n <= cap);
        memcpy(buf, rec.header, 64);
        memcpy(buf + 64, rec.payload, rec.payload_len);
    }
    dv_stream_reader_free(r);
    return n;
}

/* Publishes data on the deltas subject with the given message id and Dv-Codec (NULL: none) as the
 * publisher user; or, with delete_seq, deletes that stream message as the admin. Returns its sequence. */
static uint64_t hostile_publish(const void *data, int len, const char *id, const char *codec,
                                uint64_t delete_seq) {
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsOptions *o = NULL;
    assert_int_equal(natsOptions_Create(&o), NATS_OK);
    natsOptions_SetURL(o, srv.url);
    natsOptions_SetUserInfo(o, delete_seq ? "adm" : "pub", delete_seq ? "admpw" : "pubpw");
    assert_int_equal(natsConnection_Connect(&nc, o), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsErrCode jerr = 0;
    uint64_t seq = delete_seq;
    if (delete_seq) {
        assert_int_equal(js_DeleteMsg(js, "DV_" DB, delete_seq, NULL, &jerr), NATS_OK);
    } else {
        natsMsg *m = NULL;
        jsPubAck *pa = NULL;
        assert_int_equal(natsMsg_Create(&m, "dv." DB ".deltas", NULL, data, len), NATS_OK);
        natsMsgHeader_Set(m, "Nats-Msg-Id", id);
        if (codec) natsMsgHeader_Set(m, "Dv-Codec", codec);
        assert_int_equal(js_PublishMsg(&pa, js, m, NULL, &jerr), NATS_OK);
        assert_false(pa->Duplicate);
        seq = pa->Sequence;
        jsPubAck_Destroy(pa);
        natsMsg_Destroy(m);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return seq;
}

/*
 * Issue test 7 for the JS replicas: messages that are not a valid run stop followNats with their status
 * and stream sequence: a Dv-Codec: zstd message that is no zstd frame, an unknown codec, a record twice
 * in one run (sequences not consecutive), a valid record under another database's message id.
 */
static void test_js_replicas_refuse_hostile_messages(void **state) {
    (void)state;
    if (!node_ready()) {
        printf("node, js/dist or js/node_modules/@nats-io missing: skipped\n");
        skip();
    }
    char pdir[400], qfile[400];
    snprintf(pdir, sizeof pdir, "%s/primary-h", work);
    snprintf(qfile, sizeof qfile, "%s/queries-h.json", work);
    dv_store *s = primary_open(pdir, 0);
    dv_publisher *p = pub_open(pdir);
    uint64_t rng = 77;
    uint32_t next_id = 0;
    write_ops(s, &rng, &next_id, 500);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    assert_int_equal(dv_store_sync(s), DV_OK);
    uint64_t target = dv_store_sequence(s);
    float q[NQ][DIM];
    write_queries(q, qfile);
    static uint8_t rec[1 << 16], twice[1 << 17];
    size_t rl = last_record(pdir, rec, sizeof rec);
    assert_true(rl >= 64);
    memcpy(twice, rec, rl);
    memcpy(twice + rl, rec, rl);
    char own[64], foreign[64], ids[4][96];
    /* the publisher's db id: the stream header of the primary's first segment */
    char seg[600];
    snprintf(seg, sizeof seg, "%s/00000000000000000001.dvs", pdir);
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
        int rc = run_node_env("follow.mjs", k % 2 ? "ws" : "tcp", k % 2 ? srv.ws_url : srv.url, target + 1,
                              qfile, "", got, sizeof got);
        assert_int_not_equal(rc, 0);
        char code[64], sq[64];
        snprintf(code, sizeof code, "\"error\":\"%s\"", want[k]);
        snprintf(sq, sizeof sq, "\"sequence\":%llu", (unsigned long long)bad);
        if (!strstr(got, code) || !strstr(got, sq)) fail_msg("case %d: %s", k, got);
        hostile_publish(NULL, 0, NULL, NULL, bad); /* clean the stream for the next case */
    }
    dv_publisher_close(p);
    dv_store_close(s);
}

static int setup(void **state) {
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/dv-replicas-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(work)) return -1;
    return test_nats_start(&srv, DB);
}

static int teardown(void **state) {
    (void)state;
    test_nats_stop(&srv);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    if (!test_nats_available()) {
        printf("nats-server not found: skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_c_node_and_browser_replicas_follow_one_primary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_js_replicas_bootstrap_from_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_js_replicas_refuse_hostile_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_js_replica_rebootstraps_when_trimmed_past, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
