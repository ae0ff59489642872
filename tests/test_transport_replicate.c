/*
 * test_transport_replicate.c -- replication through a real nats-server
 * (JetStream, file storage, users with permissions; tests/support/
 * nats_server.c starts and stops it by PID). A primary database directory
 * is written through dv_store_*, a publisher ships its log, followers keep
 * replica directories; every test ends with the replica's state hash and
 * top-10 results equal to the primary's.
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
#include "support/nats_server.h"

#define DIM 16
#define DB "t1"

static test_nats srv;
static char work[256];

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void path_of(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", work, name); }

static int setup(void **state) {
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/dv-transport-XXXXXX", t && *t ? t : "/tmp");
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

/* ---- primary and workload ----------------------------------------------- */

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* keep_log_from: never drop the log from this sequence on at a checkpoint (0: the store's retention). */
static dv_store *primary_open_keep(const char *name, uint64_t keep_log_from) {
    char dir[400];
    path_of(dir, sizeof dir, name);
    dv_db_config c;
    dv_db_config_default(&c, DIM);
    c.M = 8;
    c.ef_construction = 32;
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.sync = DV_SYNC_NONE;
    sc.segment_bytes = 1 << 20;
    sc.keep_log_from = keep_log_from;
    dv_store *s = NULL;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    return s;
}

static dv_store *primary_open(const char *name) { return primary_open_keep(name, 0); }

typedef struct workload {
    uint64_t rng;
    uint32_t next_id;
} workload;

/* n mixed writes: inserts, dense and sparse updates, deletes, metadata. */
static void write_ops(dv_store *s, workload *w, int n) {
    float v[DIM];
    char id[32];
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < DIM; d++) v[d] = (float)(rng_next(&w->rng) % 2000) / 1000.0f - 1.0f;
        uint32_t r = (uint32_t)(rng_next(&w->rng) % 100);
        uint32_t live = w->next_id;
        if (r < 45 || live < 20) {
            snprintf(id, sizeof id, "v%u", w->next_id++);
            dv_meta_kv kv = {"k", "x"};
            assert_int_equal(dv_store_insert(s, id, v, &kv, 1), DV_OK);
            continue;
        }
        snprintf(id, sizeof id, "v%u", (uint32_t)(rng_next(&w->rng) % live));
        dv_status st;
        if (r < 70)
            st = dv_store_update(s, id, v);
        else if (r < 85) {
            uint32_t idx[2] = {1, 5};
            st = dv_store_update_sparse(s, id, idx, v, 2);
        } else if (r < 95)
            st = dv_store_delete(s, id);
        else
            st = dv_store_set_meta(s, id, "k", "y");
        assert_true(st == DV_OK || st == DV_ENOTFOUND);
    }
}

static void assert_same(const dv_db *a, const dv_db *b) {
    assert_non_null(b);
    assert_int_equal(dv_db_state_hash(a), dv_db_state_hash(b));
    assert_int_equal(dv_db_count(a), dv_db_count(b));
    uint64_t rng = 99;
    for (int q = 0; q < 5; q++) {
        float v[DIM];
        for (int d = 0; d < DIM; d++) v[d] = (float)(rng_next(&rng) % 2000) / 1000.0f - 1.0f;
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
    dv_publisher_config_default(&pc);
    pc.nats.servers = srv.url;
    pc.nats.user = user;
    pc.nats.password = pw;
    pc.nats.name = DB;
    pc.nats.timeout_ms = 2000;
    pc.dir = dir;
    pc.window = 64;
    pc.keep_snapshots = 1;
    if (group_bytes) pc.group_bytes = group_bytes;
    dv_publisher *p = NULL;
    assert_int_equal(dv_publisher_open(&pc, &p), DV_OK);
    return p;
}

static dv_publisher *pub_open(const char *name, const char *user, const char *pw) {
    return pub_open_grouped(name, user, pw, 0);
}

static dv_follower *fol_open(const char *name, const char *durable) {
    char dir[400];
    path_of(dir, sizeof dir, name);
    dv_follower_config fc;
    dv_follower_config_default(&fc);
    fc.nats.servers = srv.url;
    fc.nats.user = "fol";
    fc.nats.password = "folpw";
    fc.nats.name = DB;
    fc.nats.timeout_ms = 2000;
    fc.dir = dir;
    fc.durable = durable;
    fc.checkpoint_every = 3000;
    dv_follower *f = NULL;
    assert_int_equal(dv_follower_open(&fc, &f), DV_OK);
    return f;
}

/* Pumps both sides until the follower holds target (bounded: ~60 s of idle rounds). */
static void converge(dv_publisher *p, dv_follower *f, uint64_t target) {
    int idle = 0;
    while (dv_follower_position(f) < target && idle < 600) {
        dv_status ps = p ? dv_publisher_pump(p, NULL) : DV_OK;
        assert_true(ps == DV_OK || ps == DV_ENETWORK);
        uint64_t n = 0;
        dv_status fs = dv_follower_pump(f, 100, &n);
        if (fs != DV_OK && fs != DV_ENETWORK) fail_msg("follower: %s", dv_follower_last_error(f));
        idle = n ? 0 : idle + 1;
    }
    assert_int_equal(dv_follower_position(f), target);
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
    workload w = {12345, 0};
    int total = ops();
    for (int done = 0; done < total; done += 1000) {
        write_ops(s, &w, 1000);
        uint64_t n = 0;
        assert_int_equal(dv_publisher_pump(p, &n), DV_OK);
        dv_follower_pump(f, 10, NULL);
    }
    converge(p, f, dv_store_sequence(s));
    assert_int_equal(dv_publisher_acked(p), dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_lag lag;
    dv_follower_lag_get(f, &lag);
    assert_int_equal(lag.sequences, 0);
    /* A restart resumes from the replica directory: nothing re-applied, still equal. */
    dv_follower_close(f);
    f = fol_open("r1", "r1");
    assert_int_equal(dv_follower_position(f), dv_store_sequence(s));
    write_ops(s, &w, 200);
    converge(p, f, dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_close(f);
    /* the replica directory is a database directory: a read-only store opens it */
    char rdir[400];
    path_of(rdir, sizeof rdir, "r1");
    dv_store_config rc;
    dv_store_config_default(&rc);
    rc.read_only = 1;
    dv_store *ro = NULL;
    assert_int_equal(dv_store_open(rdir, &rc, &ro, NULL), DV_OK);
    assert_same(dv_store_db(s), dv_store_db(ro));
    dv_store_close(ro);
    dv_publisher_close(p);
    dv_store_close(s);
}

/* Reads every segment of a replica directory: returns the last sequence, failing on a repeat or gap. */
static uint64_t replica_records_in_order(const char *name) {
    char dir[400];
    path_of(dir, sizeof dir, name);
    DIR *d = opendir(dir);
    assert_non_null(d);
    char names[64][32];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".dvs") == 0 && n < 64)
            memcpy(names[n++], e->d_name, 25);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    /* a follower checkpoint drops the files before its snapshot: records continue from the newest one */
    uint64_t last = 0;
    d = opendir(dir);
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".dvp") == 0) {
            uint64_t q = strtoull(e->d_name, NULL, 10);
            if (q > last) last = q;
        }
    closedir(d);
    for (int i = 0; i < n; i++) {
        char path[2600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static uint8_t buf[1 << 22];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        dv_stream_reader *r = NULL;
        assert_int_equal(dv_stream_reader_open(NULL, &r), DV_OK);
        size_t pos = 0;
        for (;;) {
            size_t used = 0;
            dv_stream_record rec;
            dv_status st = dv_stream_reader_next(r, buf + pos, len - pos, &used, &rec);
            pos += used;
            if (st == DV_EEMPTY) break;
            assert_int_equal(st, DV_OK);
            if (last) assert_int_equal(rec.h.sequence, last + 1);
            last = rec.h.sequence;
        }
        dv_stream_reader_free(r);
    }
    return last;
}

/* 2: kill -9 of a follower process mid-stream, restart: converges. */
static void test_follower_killed_mid_stream_converges(void **state) {
    (void)state;
    dv_store *s = primary_open("p2");
    dv_publisher *p = pub_open_grouped("p2", "pub", "pubpw", 2048); /* runs of a few records */
    workload w = {777, 0};
    write_ops(s, &w, 4000);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    /* a child follows (small batches) and is killed while applying */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char dir[400];
        path_of(dir, sizeof dir, "r2");
        dv_follower_config fc;
        dv_follower_config_default(&fc);
        fc.nats.servers = srv.url;
        fc.nats.user = "fol";
        fc.nats.password = "folpw";
        fc.nats.name = DB;
        fc.dir = dir;
        fc.durable = "r2";
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
    write_ops(s, &w, 1000);
    dv_follower *f = fol_open("r2", "r2");
    uint64_t before = dv_follower_position(f);
    converge(p, f, dv_store_sequence(s));
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
    workload w = {4242, 0};
    write_ops(s, &w, 2000);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    uint64_t acked = dv_publisher_acked(p);
    dv_follower_pump(f, 100, NULL);
    /* hard kill and restart on the same store: everything acknowledged is still there */
    test_nats_kill(&srv, 1);
    assert_int_equal(test_nats_restart(&srv), 0);
    converge(p, f, acked);
    /* outage: writes go on into the local log; the publisher reports the network */
    test_nats_kill(&srv, 0);
    for (int i = 0; i < 10; i++) {
        write_ops(s, &w, 200);
        dv_status ps = dv_publisher_pump(p, NULL);
        assert_true(ps == DV_ENETWORK || ps == DV_OK);
        dv_status fs = dv_follower_pump(f, 10, NULL);
        assert_true(fs == DV_ENETWORK || fs == DV_OK);
        sleep_ms(1000);
    }
    assert_true(dv_publisher_acked(p) < dv_store_sequence(s));
    assert_int_equal(test_nats_restart(&srv), 0);
    converge(p, f, dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_close(f);
    dv_publisher_close(p);
    dv_store_close(s);
}

/* 5: a follower joining after the stream was trimmed bootstraps from the object store. */
static void test_late_follower_bootstraps_from_snapshot(void **state) {
    (void)state;
    dv_store *s = primary_open("p5");
    dv_publisher *p = pub_open("p5", "pub", "pubpw");
    workload w = {55, 0};
    write_ops(s, &w, 3000);
    uint64_t snap = 0;
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    assert_int_equal(dv_publisher_put_snapshot(p, &snap), DV_OK);
    assert_int_equal(snap, dv_store_sequence(s));
    write_ops(s, &w, 500);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    dv_follower *f = fol_open("r5", "r5");
    converge(p, f, dv_store_sequence(s));
    dv_follower_lag lag;
    dv_follower_lag_get(f, &lag);
    assert_int_equal(lag.bootstraps, 1);
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_close(f);
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
    workload w = {88, 0};
    write_ops(s, &w, 100);
    dv_publisher *p1 = pub_open_grouped("p8", "pub", "pubpw", 1); /* one record per message */
    assert_int_equal(dv_publisher_pump(p1, NULL), DV_OK);
    dv_publisher_close(p1);
    uint64_t singles = dv_store_sequence(s);
    write_ops(s, &w, 150);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK); /* a snapshot in the middle of the next run */
    uint64_t snap_seq = dv_store_sequence(s);
    write_ops(s, &w, 150);
    dv_publisher *p = pub_open("p8", "pub", "pubpw");
    uint64_t n = 0;
    assert_int_equal(dv_publisher_pump(p, &n), DV_OK);
    assert_int_equal(n, dv_store_sequence(s) - singles);
    /* a follower from the start reads single-record messages and runs alike */
    dv_follower *f0 = fol_open("r8a", "r8a");
    converge(p, f0, dv_store_sequence(s));
    assert_same(dv_store_db(s), dv_follower_db(f0));
    dv_follower_close(f0);
    uint64_t snap = 0;
    assert_int_equal(dv_publisher_put_snapshot(p, &snap), DV_OK);
    assert_int_equal(snap, snap_seq);
    /* the stream: 1 message per record up to `singles`, then a few runs; the trim kept the run holding
     * the snapshot's next record */
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsOptions *o = NULL;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, srv.url);
    natsOptions_SetUserInfo(o, "adm", "admpw");
    assert_int_equal(natsConnection_Connect(&nc, o), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetStreamInfo(&si, js, "DV_" DB, NULL, &jerr), NATS_OK);
    uint64_t msgs = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    assert_true(msgs >= 1 && msgs <= 5);
    natsMsg *first = NULL;
    assert_int_equal(js_GetMsg(&first, js, "DV_" DB, singles + 1, NULL, &jerr), NATS_OK); /* not purged */
    const char *id = NULL;
    assert_int_equal(natsMsgHeader_Get(first, "Nats-Msg-Id", &id), NATS_OK);
    char want[32];
    snprintf(want, sizeof want, ":%llu-", (unsigned long long)(singles + 1));
    assert_non_null(strstr(id, want));
    const char *codec = NULL; /* a run this size compresses: the follower below reads it decompressed */
    assert_int_equal(natsMsgHeader_Get(first, "Dv-Codec", &codec), NATS_OK);
    assert_string_equal(codec, "zstd");
    natsMsg_Destroy(first);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    /* a new follower: the snapshot, then the tail of the run that holds it */
    dv_follower *f = fol_open("r8", "r8");
    converge(p, f, dv_store_sequence(s));
    dv_follower_lag lag;
    dv_follower_lag_get(f, &lag);
    assert_int_equal(lag.bootstraps, 1);
    assert_same(dv_store_db(s), dv_follower_db(f));
    dv_follower_close(f);
    dv_publisher_close(p);
    dv_store_close(s);
}

/* 6: a second primary for the same database is fenced; follower may not publish; no credentials refused. */
static void test_fencing_and_permissions(void **state) {
    (void)state;
    dv_store *s = primary_open("p6");
    dv_publisher *p = pub_open("p6", "pub", "pubpw");
    workload w = {66, 0};
    write_ops(s, &w, 100);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    dv_store *s2 = primary_open("p6b"); /* another database, same name on the server */
    workload w2 = {67, 0};
    write_ops(s2, &w2, 100);
    dv_publisher *p2 = pub_open("p6b", "pub", "pubpw");
    assert_int_equal(dv_publisher_pump(p2, NULL), DV_EFENCED);
    assert_non_null(strstr(dv_publisher_last_error(p2), "belongs to database"));
    assert_int_equal(dv_publisher_pump(p2, NULL), DV_EFENCED); /* sticky */
    dv_publisher_close(p2);
    /* the follower user cannot publish */
    dv_publisher *pf = pub_open("p6", "fol", "folpw");
    write_ops(s, &w, 10);
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

/*
 * Publishes data on the deltas subject as user (delete_seq != 0: deletes that stream message instead).
 * The message id: none when foreign; with exact_id the one the publisher would give the record; else this
 * database's id with a sequence that names no record (a distinct one each time, or JetStream's dedupe
 * would drop the message).
 */
static const char *raw_codec; /* a Dv-Codec header for the next raw_publish */

static uint64_t raw_publish(const char *user, const char *pw, const void *data, int len, uint64_t delete_seq,
                            int foreign, int exact_id) {
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsOptions *o = NULL;
    assert_int_equal(natsOptions_Create(&o), NATS_OK);
    natsOptions_SetURL(o, srv.url);
    natsOptions_SetUserInfo(o, user, pw);
    assert_int_equal(natsConnection_Connect(&nc, o), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    uint64_t seq = 0;
    if (delete_seq) {
        assert_int_equal(js_DeleteMsg(js, "DV_" DB, delete_seq, NULL, &jerr), NATS_OK);
    } else {
        /* with the real publisher's message id prefix (db id) unless foreign, so only the record is wrong */
        natsMsg *last = NULL, *m = NULL;
        const char *id = NULL;
        static char prefix[80]; /* the db id of the first record seen (deleted records hide the last one) */
        char forged[96] = "";
        if (!prefix[0] && js_GetLastMsg(&last, js, "DV_" DB, "dv." DB ".deltas", NULL, &jerr) == NATS_OK &&
            natsMsgHeader_Get(last, "Nats-Msg-Id", &id) == NATS_OK && id)
            snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(id, ":"), id);
        natsMsg_Destroy(last);
        static int forgeries; /* distinct ids: JetStream would drop a repeated one as a duplicate */
        dv_delta_header h;
        if (!foreign && prefix[0]) snprintf(forged, sizeof forged, "%s:%d", prefix, 999999000 + ++forgeries);
        if (!foreign && prefix[0] && exact_id && len >= 64 && dv_delta_header_decode(data, &h) == DV_OK) {
            /* the id a publisher gives a run of this many records starting there */
            uint64_t count = 0;
            for (size_t off = 0; off + 64 <= (size_t)len; count++) {
                dv_delta_header hh;
                dv_delta_header_decode((const uint8_t *)data + off, &hh);
                off += 64 + hh.payload_size;
            }
            if (count == 1)
                snprintf(forged, sizeof forged, "%s:%llu", prefix, (unsigned long long)h.sequence);
            else
                snprintf(forged, sizeof forged, "%s:%llu-%llu", prefix, (unsigned long long)h.sequence,
                         (unsigned long long)(h.sequence + count - 1));
        }
        assert_int_equal(natsMsg_Create(&m, "dv." DB ".deltas", NULL, data, len), NATS_OK);
        if (forged[0]) natsMsgHeader_Set(m, "Nats-Msg-Id", forged);
        if (raw_codec) natsMsgHeader_Set(m, "Dv-Codec", raw_codec);
        raw_codec = NULL;
        assert_int_equal(js_PublishMsg(&pa, js, m, NULL, &jerr), NATS_OK);
        natsMsg_Destroy(m);
        seq = pa->Sequence;
    }
    jsPubAck_Destroy(pa);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return seq;
}

/* 7: hostile messages are refused with their status; the replica stays unchanged. */
static void test_hostile_messages_refused(void **state) {
    (void)state;
    dv_store *s = primary_open("p7");
    dv_publisher *p = pub_open("p7", "pub", "pubpw");
    workload w = {77, 0};
    write_ops(s, &w, 300);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_OK);
    /* garbage; a next delta with a damaged checksum; one of a db with another dim; a valid next delta
     * of this config published without this database's message id (another publisher); the same under
     * this database's id naming other records; a run holding one record twice (not consecutive) */
    /* and a message claiming to be a zstd frame that is none; one with a codec this build does not know */
    char dirs[8][8] = {"r7a", "r7b", "r7c", "r7d", "r7e", "r7f", "r7g", "r7h"};
    for (int k = 0; k < 8; k++) {
        dv_follower *f = fol_open(dirs[k], dirs[k]);
        converge(NULL, f, dv_store_sequence(s));
        uint64_t bad_seq = 0;
        uint64_t hash = dv_db_state_hash(dv_follower_db(f));
        uint64_t pos = dv_follower_position(f);
        if (k == 0 || k >= 6) {
            raw_codec = k == 6 ? "zstd" : k == 7 ? "brotli" : NULL;
            bad_seq = raw_publish("pub", "pubpw", "garbage", 7, 0, 0, 0);
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
            bad_seq = raw_publish("pub", "pubpw", buf, blen, 0, k == 3, k == 2 || k == 5);
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
        raw_publish("adm", "admpw", NULL, 0, bad_seq, 0, 0); /* clean the stream for the next case */
    }
    /* the publisher saw another writer's message on its subject: fenced (it was the last one) */
    raw_publish("pub", "pubpw", "garbage", 7, 0, 0, 0);
    write_ops(s, &w, 10);
    assert_int_equal(dv_publisher_pump(p, NULL), DV_EFENCED);
    assert_non_null(strstr(dv_publisher_last_error(p), "not from database"));
    dv_publisher_close(p);
    dv_store_close(s);
}

int main(void) {
    if (!test_nats_available()) {
        printf("nats-server not found: skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replica_follows_mixed_workload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_killed_mid_stream_converges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_restart_and_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_follower_bootstraps_from_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_and_partial_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing_and_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_messages_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
