/*
 * test_transport_replicate.c -- replication through a real nats-server
 * (JetStream, file storage, users with permissions; tests/support/
 * nats_server.c starts and stops it by PID). A primary database directory
 * is written through dv_store_*, a publisher ships its log, followers keep
 * replica directories; every test ends with the replica's state hash and
 * top-10 results equal to the primary's. Also the name rule of the
 * configs (dv_nats_name_valid), which needs no server.
 *
 * DV_TRANSPORT_OPS sets the op count of the mixed workload (default
 * 10000; the full figure of the replication issue is 100000:
 *   DV_TRANSPORT_OPS=100000 ctest -R test_transport_replicate).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "deltavec.h"
#include "support/store_view.h"
#include "support/transport_checks.h"
#include "support/transport_rig.h"

#define DIM 16
#define DB "t1"

static transport_rig rig = {.tag = "dv-transport", .db = DB};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void path_of(char *out, size_t cap, const char *name) { rig_path(&rig, name, out, cap); }

/* ---- primary and workload ----------------------------------------------- */

/* keep_log_from: never drop the log from this sequence on at a checkpoint (0: the store's retention). */
static dv_store *primary_open_keep(const char *name, uint64_t keep_log_from) {
    char dir[400];
    path_of(dir, sizeof dir, name);
    const rig_primary cfg = {
        .dim = DIM, .M = 8, .ef_construction = 32, .keep_log_from = keep_log_from, .segment_bytes = 1 << 20};
    return check_primary_open(dir, &cfg);
}

static dv_store *primary_open(const char *name) { return primary_open_keep(name, 0); }

/* Mixed writes: 45% inserts (20 first) with k=x, dense and sparse updates, deletes, metadata k=y. */
static const uint32_t SPARSE_1_5[2] = {1, 5};
static const mixed_profile MIX = {45, 25, 15, 10, 20, 1000, SPARSE_1_5, 2, {"k", "x"}, {"k", "y"}};

static mixed_workload workload(uint64_t seed) { return (mixed_workload){&MIX, DIM, seed, 0}; }

static void assert_same(const dv_db *a, const dv_db *b) {
    assert_non_null(b);
    assert_int_equal(dv_db_state_hash(a), dv_db_state_hash(b));
    assert_int_equal(dv_db_count(a), dv_db_count(b));
    uint64_t rng = 99;
    for (int q = 0; q < 5; q++) {
        float v[DIM];
        for (int d = 0; d < DIM; d++) v[d] = rig_rand_unit(&rng, 1000);
        dv_hit ha[10], hb[10];
        size_t na = 0, nb = 0;
        assert_int_equal(dv_db_search(a, v, 10, 64, ha, &na), DV_OK);
        assert_int_equal(dv_db_search(b, v, 10, 64, hb, &nb), DV_OK);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) assert_string_equal(ha[i].id, hb[i].id);
    }
}

/* ---- publisher and follower ----------------------------------------------- */

/* group_bytes 0: the default (runs of records per message); 1: one record per message. */
static dv_publisher *pub_open_grouped(const char *name, const char *user, const char *pw,
                                      uint32_t group_bytes) {
    char dir[400];
    path_of(dir, sizeof dir, name);
    dv_publisher_config pc;
    rig_publisher_config(&rig, dir, &pc);
    pc.nats.user = user;
    pc.nats.password = pw;
    pc.nats.timeout_ms = 2000;
    pc.window = 64;
    pc.keep_snapshots = 1;
    if (group_bytes) pc.group_bytes = group_bytes;
    return check_publisher_open(&pc);
}

static dv_publisher *pub_open(const char *name, const char *user, const char *pw) {
    return pub_open_grouped(name, user, pw, 0);
}

static dv_follower *fol_open(const char *name, const char *durable) {
    char dir[400];
    path_of(dir, sizeof dir, name);
    dv_follower_config fc;
    rig_follower_config(&rig, dir, durable, &fc);
    fc.nats.timeout_ms = 2000;
    fc.checkpoint_every = 3000;
    return check_follower_open(&fc);
}

static int ops(void) {
    const char *e = getenv("DV_TRANSPORT_OPS");
    int n = e ? atoi(e) : 10000;
    return n > 0 ? n : 10000;
}

/* 1 (C replica): a mixed workload reaches the replica bit for bit. */
static void test_replica_follows_mixed_workload(void **state) {
    (void)state;
    dv_store *s = primary_open("p1");
    dv_publisher *p = pub_open("p1", "pub", "pubpw");
    dv_follower *f = fol_open("r1", "r1");
    mixed_workload w = workload(12345);
    int total = ops();
    for (int done = 0; done < total; done += 1000) {
        mixed_writes(s, &w, 1000);
        uint64_t n = 0;
        assert_int_equal(dv_publisher_pump(p, &n), DV_OK);
        dv_follower_pump(f, 10, NULL);
    }
    check_converge(p, f, dv_store_sequence(s));
    assert_int_equal(dv_publisher_acked(p), dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_lag lag;
    dv_follower_lag_get(f, &lag);
    assert_int_equal(lag.sequences, 0);
    /* A restart resumes from the replica directory: nothing re-applied, still equal. */
    dv_follower_close(f);
    f = fol_open("r1", "r1");
    assert_int_equal(dv_follower_position(f), dv_store_sequence(s));
    mixed_writes(s, &w, 200);
    check_converge(p, f, dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_close(f);
    /* the replica directory is a database directory: a read-only store opens it */
    char rdir[400];
    path_of(rdir, sizeof rdir, "r1");
    dv_store *ro = test_store_read_only(rdir);
    assert_non_null(ro);
    assert_same(dv_store_db(s), dv_store_db(ro));
    dv_store_close(ro);
    dv_publisher_close(p);
    dv_store_close(s);
}

/* Reads every segment of a replica directory: returns the last sequence, failing on a repeat or gap. */
/* Each record's sequence follows the one before (the first: any). */
static void follows_last(const dv_stream_record *rec, void *arg) {
    uint64_t *last = arg;
    if (*last) assert_int_equal(rec->h.sequence, *last + 1);
    *last = rec->h.sequence;
}

static uint64_t replica_records_in_order(const char *name) {
    char dir[400];
    path_of(dir, sizeof dir, name);
    /* a follower checkpoint drops the files before its snapshot: records continue from the newest one */
    uint64_t last = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".dvp") == 0) {
            uint64_t q = strtoull(e->d_name, NULL, 10);
            if (q > last) last = q;
        }
    closedir(d);
    assert_int_equal(rig_each_log_record(dir, follows_last, &last), DV_OK);
    return last;
}

/* 2: kill -9 of a follower process mid-stream, restart: converges. */
static void test_follower_killed_mid_stream_converges(void **state) {
    (void)state;
    dv_store *s = primary_open("p2");
    dv_publisher *p = pub_open_grouped("p2", "pub", "pubpw", 2048); /* runs of a few records */
    mixed_workload w = workload(777);
    mixed_writes(s, &w, 4000);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    /* a child follows (small batches) and is killed while applying */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char dir[400];
        path_of(dir, sizeof dir, "r2");
        dv_follower_config fc;
        rig_follower_config(&rig, dir, "r2", &fc);
        fc.batch = 16;
        dv_follower *f = NULL;
        if (dv_follower_open(&fc, &f) != DV_OK) _exit(3);
        for (;;) dv_follower_pump(f, 50, NULL);
    }
    /* kill once the child has made some records durable (mid-stream: 4,000 to go in batches of 16) */
    char seg[400];
    path_of(seg, sizeof seg, "r2/00000000000000000001.dvs");
    for (int i = 0; i < 400; i++) {
        struct stat sb;
        if (stat(seg, &sb) == 0 && sb.st_size > 4096) break;
        sleep_ms(5);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    mixed_writes(s, &w, 1000);
    dv_follower *f = fol_open("r2", "r2");
    uint64_t before = dv_follower_position(f);
    check_converge(p, f, dv_store_sequence(s));
    assert_true(before <= dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_close(f);
    /* no delta applied twice: the replica directory holds each sequence once, in order */
    assert_int_equal(replica_records_in_order("r2"), dv_store_sequence(s));
    dv_publisher_close(p);
    dv_store_close(s);
}

/* 3 and 4: the server restarts mid-stream, then is unreachable for 10 s while the primary writes. */
static void test_server_restart_and_outage(void **state) {
    (void)state;
    dv_store *s = primary_open("p3");
    dv_publisher *p = pub_open("p3", "pub", "pubpw");
    dv_follower *f = fol_open("r3", "r3");
    mixed_workload w = workload(4242);
    mixed_writes(s, &w, 2000);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    uint64_t acked = dv_publisher_acked(p);
    dv_follower_pump(f, 100, NULL);
    /* hard kill and restart on the same store: everything acknowledged is still there */
    test_nats_kill(&rig.srv, 1);
    assert_int_equal(test_nats_restart(&rig.srv), 0);
    check_converge(p, f, acked);
    /* outage: writes go on into the local log; the publisher reports the network */
    test_nats_kill(&rig.srv, 0);
    for (int i = 0; i < 10; i++) {
        mixed_writes(s, &w, 200);
        dv_status ps = dv_publisher_pump(p, NULL);
        assert_true(ps == DV_ENETWORK || ps == DV_OK);
        dv_status fs = dv_follower_pump(f, 10, NULL);
        assert_true(fs == DV_ENETWORK || fs == DV_OK);
        sleep_ms(1000);
    }
    assert_true(dv_publisher_acked(p) < dv_store_sequence(s));
    assert_int_equal(test_nats_restart(&rig.srv), 0);
    check_converge(p, f, dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_close(f);
    dv_publisher_close(p);
    dv_store_close(s);
}

/* A new follower in work/name: one bootstrap from the object store, then equal to the primary. */
static void new_follower_bootstraps(dv_store *s, dv_publisher *p, const char *name) {
    dv_follower *f = fol_open(name, name);
    check_converge(p, f, dv_store_sequence(s));
    dv_follower_lag lag;
    dv_follower_lag_get(f, &lag);
    assert_int_equal(lag.bootstraps, 1);
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_close(f);
}

/* 5: a follower joining after the stream was trimmed bootstraps from the object store. */
static void test_late_follower_bootstraps_from_snapshot(void **state) {
    (void)state;
    dv_store *s = primary_open("p5");
    dv_publisher *p = pub_open("p5", "pub", "pubpw");
    mixed_workload w = workload(55);
    mixed_writes(s, &w, 3000);
    uint64_t snap = 0;
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    assert_int_equal(dv_publisher_put_snapshot(p, &snap), DV_OK);
    assert_int_equal(snap, dv_store_sequence(s));
    mixed_writes(s, &w, 500);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    new_follower_bootstraps(s, p, "r5");
    dv_publisher_close(p);
    dv_store_close(s);
}

/*
 * Messages hold runs of records: old single-record messages and runs mix in one stream; a follower
 * whose position falls inside a run (bootstrap from a snapshot taken mid-run) applies only its tail.
 */
static void test_runs_and_partial_duplicates(void **state) {
    (void)state;
    dv_store *s = primary_open_keep("p8", 1); /* the publisher ships what the checkpoint covers */
    mixed_workload w = workload(88);
    mixed_writes(s, &w, 100);
    dv_publisher *p1 = pub_open_grouped("p8", "pub", "pubpw", 1); /* one record per message */
    assert_int_equal(dv_publisher_pump(p1, NULL), DV_OK);
    dv_publisher_close(p1);
    uint64_t singles = dv_store_sequence(s);
    mixed_writes(s, &w, 150);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK); /* a snapshot in the middle of the next run */
    uint64_t snap_seq = dv_store_sequence(s);
    mixed_writes(s, &w, 150);
    dv_publisher *p = pub_open("p8", "pub", "pubpw");
    uint64_t n = 0;
    assert_int_equal(dv_publisher_pump(p, &n), DV_OK);
    assert_int_equal(n, dv_store_sequence(s) - singles);
    /* a follower from the start reads single-record messages and runs alike */
    dv_follower *f0 = fol_open("r8a", "r8a");
    check_converge(p, f0, dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f0));
    dv_follower_close(f0);
    uint64_t snap = 0;
    assert_int_equal(dv_publisher_put_snapshot(p, &snap), DV_OK);
    assert_int_equal(snap, snap_seq);
    /* the stream: 1 message per record up to `singles`, then a few runs; the trim kept the run holding
     * the snapshot's next record */
    rig_js c;
    assert_int_equal(rig_js_connect(&rig, "adm", "admpw", NULL, &c), NATS_OK);
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetStreamInfo(&si, c.js, "DV_" DB, NULL, &jerr), NATS_OK);
    uint64_t msgs = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    assert_true(msgs >= 1 && msgs <= 5);
    natsMsg *first = NULL;
    assert_int_equal(js_GetMsg(&first, c.js, "DV_" DB, singles + 1, NULL, &jerr), NATS_OK); /* not purged */
    const char *id = NULL;
    assert_int_equal(natsMsgHeader_Get(first, "Nats-Msg-Id", &id), NATS_OK);
    char want[32];
    snprintf(want, sizeof want, ":%llu-", (unsigned long long)(singles + 1));
    assert_non_null(strstr(id, want));
    const char *codec = NULL; /* a run this size compresses: the follower below reads it decompressed */
    assert_int_equal(natsMsgHeader_Get(first, "Dv-Codec", &codec), NATS_OK);
    assert_string_equal(codec, "zstd");
    natsMsg_Destroy(first);
    rig_js_close(&c);
    /* a new follower: the snapshot, then the tail of the run that holds it */
    new_follower_bootstraps(s, p, "r8");
    dv_publisher_close(p);
    dv_store_close(s);
}

/* 6: a second primary for the same database is fenced; follower may not publish; no credentials refused. */
static void test_fencing_and_permissions(void **state) {
    (void)state;
    dv_store *s = primary_open("p6");
    dv_publisher *p = pub_open("p6", "pub", "pubpw");
    mixed_workload w = workload(66);
    mixed_writes(s, &w, 100);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    dv_store *s2 = primary_open("p6b"); /* another database, same name on the server */
    mixed_workload w2 = workload(67);
    mixed_writes(s2, &w2, 100);
    dv_publisher *p2 = pub_open("p6b", "pub", "pubpw");
    assert_int_equal(dv_publisher_pump(p2, NULL), DV_EFENCED);
    assert_non_null(strstr(dv_publisher_last_error(p2), "belongs to database"));
    assert_int_equal(dv_publisher_pump(p2, NULL), DV_EFENCED); /* sticky */
    dv_publisher_close(p2);
    /* the follower user cannot publish */
    dv_publisher *pf = pub_open("p6", "fol", "folpw");
    mixed_writes(s, &w, 10);
    assert_int_equal(dv_publisher_pump(pf, NULL), DV_ENETWORK);
    dv_publisher_close(pf);
    /* no credentials: refused at connect */
    dv_publisher *pn = pub_open("p6", NULL, NULL);
    assert_int_equal(dv_publisher_pump(pn, NULL), DV_ENETWORK);
    assert_non_null(strstr(dv_publisher_last_error(pn), "connect"));
    dv_publisher_close(pn);
    /* the real publisher carries on */
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    assert_int_equal(dv_publisher_acked(p), dv_store_sequence(s));
    dv_publisher_close(p);
    dv_store_close(s2);
    dv_store_close(s);
}

/* The db id this database's messages carry (the prefix of their Nats-Msg-Id), read as user from the newest
 * message the first time (deleted records hide the last one later); "" when the stream holds none. */
static const char *publisher_id_prefix(const char *user, const char *pw) {
    static char prefix[80];
    if (prefix[0]) return prefix;
    rig_js c;
    assert_int_equal(rig_js_connect(&rig, user, pw, NULL, &c), NATS_OK);
    natsMsg *last = NULL;
    const char *id = NULL;
    jsErrCode jerr = 0;
    if (js_GetLastMsg(&last, c.js, "DV_" DB, "dv." DB ".deltas", NULL, &jerr) == NATS_OK &&
        natsMsgHeader_Get(last, "Nats-Msg-Id", &id) == NATS_OK && id)
        snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(id, ":"), id);
    natsMsg_Destroy(last);
    rig_js_close(&c);
    return prefix;
}

/* The id a publisher gives the run of records in data (prefix:first or prefix:first-last) into out. */
static void run_id(const char *prefix, const void *data, int len, char *out, size_t cap) {
    dv_delta_header h;
    if (len < 64 || dv_delta_header_decode(data, &h) != DV_OK) return;
    uint64_t count = 0;
    for (size_t off = 0; off + 64 <= (size_t)len; count++) {
        dv_delta_header hh;
        dv_delta_header_decode((const uint8_t *)data + off, &hh);
        off += 64 + hh.payload_size;
    }
    if (count == 1)
        snprintf(out, cap, "%s:%llu", prefix, (unsigned long long)h.sequence);
    else
        snprintf(out, cap, "%s:%llu-%llu", prefix, (unsigned long long)h.sequence,
                 (unsigned long long)(h.sequence + count - 1));
}

/*
 * Publishes data on the deltas subject as user; returns its stream sequence. The message id: none when
 * foreign; with exact_id the one the publisher would give the records; else this database's id with a
 * sequence that names no record (a distinct one each time, or JetStream's dedupe would drop the message).
 */
static const char *raw_codec; /* a Dv-Codec header for the next raw_publish */

static uint64_t raw_publish(const char *user, const char *pw, const void *data, int len, int foreign,
                            int exact_id) {
    /* with the real publisher's message id prefix (db id) unless foreign, so only the record is wrong */
    const char *prefix = publisher_id_prefix(user, pw);
    static int forgeries; /* distinct ids: JetStream would drop a repeated one as a duplicate */
    char forged[96] = "";
    if (!foreign && prefix[0]) snprintf(forged, sizeof forged, "%s:%d", prefix, 999999000 + ++forgeries);
    if (!foreign && prefix[0] && exact_id) run_id(prefix, data, len, forged, sizeof forged);
    uint64_t seq = 0;
    assert_int_equal(
        rig_publish_raw(&rig, user, pw, data, len, forged[0] ? forged : NULL, raw_codec, &seq, NULL),
        NATS_OK);
    raw_codec = NULL;
    return seq;
}

/* 7: hostile messages are refused with their status; the replica stays unchanged. */
static void test_hostile_messages_refused(void **state) {
    (void)state;
    dv_store *s = primary_open("p7");
    dv_publisher *p = pub_open("p7", "pub", "pubpw");
    mixed_workload w = workload(77);
    mixed_writes(s, &w, 300);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    /* garbage; a next delta with a damaged checksum; one of a db with another dim; a valid next delta
     * of this config published without this database's message id (another publisher); the same under
     * this database's id naming other records; a run holding one record twice (not consecutive) */
    /* and a message claiming to be a zstd frame that is none; one with a codec this build does not know */
    char dirs[8][8] = {"r7a", "r7b", "r7c", "r7d", "r7e", "r7f", "r7g", "r7h"};
    for (int k = 0; k < 8; k++) {
        dv_follower *f = fol_open(dirs[k], dirs[k]);
        check_converge(NULL, f, dv_store_sequence(s));
        uint64_t bad_seq = 0;
        uint64_t hash = dv_db_state_hash(dv_follower_db(f));
        uint64_t pos = dv_follower_position(f);
        if (k == 0 || k >= 6) {
            raw_codec = k == 6 ? "zstd" : k == 7 ? "brotli" : NULL;
            bad_seq = raw_publish("pub", "pubpw", "garbage", 7, 0, 0);
        } else {
            /* the next delta of a db with another dim, or with its checksum damaged */
            dv_db_config c;
            dv_db_config_default(&c, k == 2 ? DIM + 1 : DIM);
            dv_db *other = NULL;
            dv_capture *cap = NULL;
            assert_int_equal(dv_db_open(&c, &other), DV_OK);
            dv_capture_config cc;
            dv_capture_config_default(&cc);
            cc.first_sequence = pos + 1;
            assert_int_equal(dv_capture_init(other, &cc, &cap), DV_OK);
            assert_int_equal(dv_capture_start(cap), DV_OK);
            float v[DIM + 1] = {0.5f};
            assert_int_equal(dv_db_insert(other, "hostile", v, NULL, 0), DV_OK);
            dv_delta_header h;
            size_t nd = 0;
            assert_int_equal(dv_capture_poll(cap, &h, 1, &nd), DV_OK);
            const uint8_t *hb, *pl;
            size_t len;
            assert_int_equal(dv_capture_payload(cap, h.sequence, &hb, &pl, &len), DV_OK);
            uint8_t buf[8192];
            assert_true(2 * (64 + len) <= sizeof buf);
            memcpy(buf, hb, 64);
            memcpy(buf + 64, pl, len);
            if (k == 1) buf[64] ^= 0x40;
            int blen = (int)(64 + len);
            if (k == 5) { /* the record twice in one message */
                memcpy(buf + blen, buf, (size_t)blen);
                blen *= 2;
            }
            bad_seq = raw_publish("pub", "pubpw", buf, blen, k == 3, k == 2 || k == 5);
            dv_capture_free(cap);
            dv_db_close(other);
        }
        dv_status st = DV_OK;
        for (int i = 0; i < 50 && st == DV_OK; i++) st = dv_follower_pump(f, 100, NULL);
        if (k == 0) assert_int_equal(st, DV_ETRUNCATED);
        if (k == 1) assert_int_equal(st, DV_ECHECKSUM);
        if (k == 2 && (st == DV_OK || st == DV_ENETWORK || st == DV_EFENCED))
            fail_msg("case 2: %s: %s", dv_status_name(st), dv_follower_last_error(f)); /* refused by apply */
        if (k == 3) assert_int_equal(st, DV_EFENCED);
        if (k == 4) assert_non_null(strstr(dv_follower_last_error(f), "message id names"));
        if (k == 5) assert_non_null(strstr(dv_follower_last_error(f), "not consecutive"));
        if (k == 4 || k == 5 || k == 6) assert_int_equal(st, DV_ECORRUPT);
        if (k == 7) assert_int_equal(st, DV_EUNSUPPORTED);
        assert_non_null(strstr(dv_follower_last_error(f), "stream sequence"));
        assert_int_equal(dv_db_state_hash(dv_follower_db(f)), hash);
        assert_int_equal(dv_follower_position(f), pos);
        assert_int_equal(dv_follower_pump(f, 10, NULL), st); /* stopped */
        dv_follower_close(f);
        assert_int_equal(rig_delete_raw(&rig, bad_seq), NATS_OK); /* clean the stream for the next case */
    }
    /* the publisher saw another writer's message on its subject: fenced (it was the last one) */
    raw_publish("pub", "pubpw", "garbage", 7, 0, 0);
    mixed_writes(s, &w, 10);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_EFENCED);
    assert_non_null(strstr(dv_publisher_last_error(p), "not from database"));
    dv_publisher_close(p);
    dv_store_close(s);
}

/* The one name rule (dv_nats_name_valid), and the config checks of both ends that use it. No server. */
static void test_name_rule(void **state) {
    (void)state;
    char longest[66];
    memset(longest, 'a', 64);
    longest[64] = '\0';
    const char *good[] = {"a", "Z", "9", "_", "-", "shop", "db_1-A", longest};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) assert_int_equal(dv_nats_name_valid(good[i]), 1);
    longest[64] = 'a';
    longest[65] = '\0';
    const char *bad[] = {"", longest, "a.b", "a b", " ", "a*", "a>", "a/b", "caf\xc3\xa9", "tab\t"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(dv_nats_name_valid(bad[i]), 0);
    assert_int_equal(dv_nats_name_valid(NULL), 0);
    /* the publisher and the follower refuse what the rule refuses (before any file or network) */
    dv_publisher_config pc;
    dv_publisher_config_default(&pc);
    pc.dir = "no-such-dir";
    pc.nats.servers = "nats://127.0.0.1:1";
    pc.nats.name = "a.b";
    dv_publisher *p = NULL;
    assert_int_equal(dv_publisher_open(&pc, &p), DV_EINVAL);
    dv_follower_config fc;
    dv_follower_config_default(&fc);
    fc.dir = "no-such-dir";
    fc.nats.servers = "nats://127.0.0.1:1";
    fc.nats.name = "db";
    fc.durable = longest;
    dv_follower *f = NULL;
    assert_int_equal(dv_follower_open(&fc, &f), DV_EINVAL);
}

int main(void) {
    if (!test_nats_available()) {
        printf("nats-server not found: skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_rule),
        cmocka_unit_test_prestate_setup_teardown(test_replica_follows_mixed_workload, check_rig_setup,
                                                 check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_follower_killed_mid_stream_converges, check_rig_setup,
                                                 check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_server_restart_and_outage, check_rig_setup,
                                                 check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_late_follower_bootstraps_from_snapshot, check_rig_setup,
                                                 check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_runs_and_partial_duplicates, check_rig_setup,
                                                 check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_fencing_and_permissions, check_rig_setup,
                                                 check_rig_teardown, &rig),
        cmocka_unit_test_prestate_setup_teardown(test_hostile_messages_refused, check_rig_setup,
                                                 check_rig_teardown, &rig),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
