/*
 * test_log_store.c -- the database directory (deltavec.h section 9):
 * create/reopen, capture never stops at DV_EFULL, segment rolling, torn
 * tails cut and reported, damage refused with file and offset then
 * repaired, every-offset bit flips / truncations / appended garbage, the
 * writer lock, read-only openers and refresh, group commit from threads,
 * checkpoint + retention, revert and as-of.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>

#include "log_util.h"

static dv_store *open_store(const char *dir, dv_sync_policy sync, uint64_t seg_bytes, dv_recovery_report *r) {
    dv_db_config c;
    lu_config(&c);
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.sync = sync;
    if (seg_bytes) sc.segment_bytes = seg_bytes;
    dv_store *s = NULL;
    dv_status st = dv_store_open(dir, &sc, &s, r);
    if (st != DV_OK) print_error("open: %s: %s\n", dv_status_name(st), r ? r->message : "");
    assert_int_equal(st, DV_OK);
    return s;
}

static dv_status open_status(const char *dir, dv_recovery_report *r) {
    dv_store_config sc;
    dv_store_config_default(&sc);
    dv_store *s = NULL;
    dv_status st = dv_store_open(dir, &sc, &s, r);
    dv_store_close(s);
    return st;
}

static void run_script(dv_store *s, unsigned from, unsigned to) {
    for (unsigned i = from; i < to; i++) assert_int_equal(lu_step(&LU_STORE_OPS, s, 0, i), DV_OK);
}

/* A store in a new temporary directory (written to dir) holding the script's first `writes` writes. */
static dv_store *store_with_writes(char *dir, const char *name, dv_sync_policy sync, uint64_t seg_bytes,
                                   unsigned writes) {
    lu_tempdir(dir, 256, name);
    dv_store *s = open_store(dir, sync, seg_bytes, NULL);
    run_script(s, 0, writes);
    return s;
}

static void reopen_gives_back_every_write(void **state) {
    (void)state;
    char dir[256];
    dv_store *s = store_with_writes(dir, "reopen", DV_SYNC_ALWAYS, 0, 100);
    assert_int_equal(dv_store_sequence(s), dv_store_durable_sequence(s));
    uint64_t h = dv_db_state_hash(dv_store_db(s)), seq = dv_store_sequence(s);
    dv_db *ref = lu_reference(100);
    assert_int_equal(h, dv_db_state_hash(ref));
    dv_store_close(s);
    dv_recovery_report r;
    s = open_store(dir, DV_SYNC_ALWAYS, 0, &r);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    assert_int_equal(r.last_sequence, seq);
    assert_int_equal(r.records_replayed, seq);
    assert_int_equal(r.dropped_records, 0);
    /* writes continue where the log ended (prev_sequence chains included) */
    run_script(s, 100, 140);
    dv_db_close(ref);
    ref = lu_reference(140);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
    dv_store_close(s);
    uint64_t last;
    assert_int_equal(lu_replay_hash(dir, &last), dv_db_state_hash(ref));
    dv_db_close(ref);
    lu_rmdir(dir);
}

/* The README's capture example stopped at insert 4,097 (ring full, no reader). */
static void many_writes_never_hit_full_and_segments_roll(void **state) {
    (void)state;
    char dir[256];
    dv_store *s = store_with_writes(dir, "many", DV_SYNC_NONE, 64 * 1024, 6000);
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    dv_store_close(s);
    char names[256][64];
    assert_true(lu_segments(dir, names, 256) > 3);
    s = open_store(dir, DV_SYNC_NONE, 64 * 1024, NULL);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    dv_store_close(s);
    uint64_t last;
    assert_int_equal(lu_replay_hash(dir, &last), h);
    lu_rmdir(dir);
}

static void last_segment_path(const char *dir, char *p, size_t cap) {
    char names[256][64];
    size_t n = lu_segments(dir, names, 256);
    assert_true(n > 0);
    snprintf(p, cap, "%s/%s", dir, names[n - 1]);
}

static void torn_tail_is_cut_and_reported(void **state) {
    (void)state;
    char dir[256], seg[4096];
    dv_store *s = store_with_writes(dir, "torn", DV_SYNC_ALWAYS, 0, 20);
    dv_store_close(s);
    last_segment_path(dir, seg, sizeof seg);
    size_t len = 0;
    uint8_t *b = lu_read(seg, &len);
    lu_write(seg, b, len - 5); /* the last record loses its last 5 bytes */
    dv_recovery_report r;
    s = open_store(dir, DV_SYNC_ALWAYS, 0, &r);
    assert_int_equal(r.dropped_records, 1);
    assert_true(r.dropped_bytes > 0 && r.dropped_bytes < len);
    assert_string_equal(r.problem_file, strrchr(seg, '/') + 1);
    assert_int_equal(r.last_sequence, 19);
    dv_db *ref = lu_reference(19);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
    /* the cut file takes new writes after the last intact record */
    run_script(s, 19, 30);
    dv_store_close(s);
    dv_db_close(ref);
    ref = lu_reference(30);
    s = open_store(dir, DV_SYNC_ALWAYS, 0, &r);
    assert_int_equal(r.dropped_records, 0);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
    dv_store_close(s);
    dv_db_close(ref);
    free(b);
    lu_rmdir(dir);
}

/* A read-only store config over io (NULL: POSIX). */
static dv_store_config read_only_config(const dv_io *io) {
    dv_store_config ro;
    dv_store_config_default(&ro);
    ro.read_only = 1;
    ro.io = io;
    return ro;
}

static void damage_is_refused_with_file_and_offset_then_repaired(void **state) {
    (void)state;
    char dir[256], seg[4096];
    dv_store *s = store_with_writes(dir, "damage", DV_SYNC_ALWAYS, 0, 20);
    dv_store_close(s);
    last_segment_path(dir, seg, sizeof seg);
    size_t len = 0;
    uint8_t *b = lu_read(seg, &len);
    /* a payload byte of the third record */
    dv_delta_header h;
    size_t off = DV_STREAM_HEADER_SIZE;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dv_delta_header_decode(b + off, &h), DV_OK);
        off += DV_DELTA_HEADER_SIZE + h.payload_size;
    }
    size_t rec3 = off;
    b[rec3 + DV_DELTA_HEADER_SIZE + 2] ^= 0x10;
    lu_write(seg, b, len);
    dv_recovery_report r;
    assert_int_equal(open_status(dir, &r), DV_EDAMAGED);
    assert_int_equal(r.problem_offset, rec3);
    assert_string_equal(r.problem_file, strrchr(seg, '/') + 1);
    assert_non_null(strstr(r.message, "valid records follow"));
    /* nothing was cut */
    size_t len2 = 0;
    uint8_t *b2 = lu_read(seg, &len2);
    assert_int_equal(len2, len);
    free(b2);
    /* read-only openers are refused the same way */
    dv_store_config ro = read_only_config(NULL);
    dv_store *rs = NULL;
    assert_int_equal(dv_store_open(dir, &ro, &rs, &r), DV_EDAMAGED);
    /* repair cuts at the damage and says what was lost */
    assert_int_equal(dv_store_repair(dir, NULL, &r), DV_OK);
    assert_int_equal(r.problem_offset, rec3);
    assert_int_equal(r.dropped_records, 18);
    assert_int_equal(r.dropped_bytes, len - rec3);
    s = open_store(dir, DV_SYNC_ALWAYS, 0, &r);
    assert_int_equal(r.last_sequence, 2);
    dv_db *ref = lu_reference(2);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
    dv_store_close(s);
    dv_db_close(ref);
    free(b);
    lu_rmdir(dir);
}

/* Hashes of the reference after 0..n writes (every write of the script emits one delta). */
static void prefix_hashes(uint64_t *out, unsigned n) {
    dv_db_config c;
    lu_config(&c);
    dv_db *db;
    assert_int_equal(dv_db_open(&c, &db), DV_OK);
    out[0] = dv_db_state_hash(db);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(lu_step(&LU_DB_OPS, db, 0, i), DV_OK);
        out[i + 1] = dv_db_state_hash(db);
    }
    dv_db_close(db);
}

/* Opens dir after a mutation: DV_OK with the state of some prefix that
 * keeps every record before the first changed byte, or a refusal with
 * DV_EDAMAGED. Never another answer, never a state that is no prefix. */
static void check_mutant(const char *dir, const uint64_t *hashes, unsigned n, uint64_t min_seq, int may_cut) {
    dv_store_config sc;
    dv_store_config_default(&sc);
    dv_store *s = NULL;
    dv_recovery_report r;
    dv_status st = dv_store_open(dir, &sc, &s, &r);
    if (st == DV_OK) {
        uint64_t seq = dv_store_sequence(s);
        assert_true(seq <= n);
        assert_true(seq >= min_seq);
        if (!may_cut) assert_int_equal(seq, n);
        assert_int_equal(dv_db_state_hash(dv_store_db(s)), hashes[seq]);
        dv_store_close(s);
    } else {
        if (st != DV_EDAMAGED) print_error("status %s: %s\n", dv_status_name(st), r.message);
        assert_int_equal(st, DV_EDAMAGED);
        assert_true(r.problem_file[0] != 0);
    }
}

static void every_offset_flip_truncate_append(void **state) {
    (void)state;
    enum { N = 10 };
    uint64_t hashes[N + 1];
    prefix_hashes(hashes, N);
    char dir[256], seg[4096];
    dv_store *s = store_with_writes(dir, "flip", DV_SYNC_NONE, 0, N);
    dv_store_close(s);
    last_segment_path(dir, seg, sizeof seg);
    size_t len = 0;
    uint8_t *orig = lu_read(seg, &len);
    /* record boundaries: a change at offset o keeps every record ending at or before o */
    size_t ends[N + 1];
    ends[0] = DV_STREAM_HEADER_SIZE;
    for (int i = 0; i < N; i++) {
        dv_delta_header h;
        assert_int_equal(dv_delta_header_decode(orig + ends[i], &h), DV_OK);
        ends[i + 1] = ends[i] + DV_DELTA_HEADER_SIZE + h.payload_size;
    }
    assert_int_equal(ends[N], len);
    uint8_t *m = malloc(len + 64);
    for (size_t off = 0; off < len; off++) {
        uint64_t min_seq = 0;
        while (min_seq < N && ends[min_seq + 1] <= off) min_seq++;
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(m, orig, len);
            m[off] ^= (uint8_t)(1u << bit);
            lu_write(seg, m, len);
            check_mutant(dir, hashes, N, min_seq, 1);
        }
        /* truncation at off */
        lu_write(seg, orig, off);
        check_mutant(dir, hashes, N, min_seq, 1);
    }
    /* appended garbage of every length up to 64: the whole log survives */
    for (size_t g = 1; g <= 64; g++) {
        memcpy(m, orig, len);
        for (size_t i = 0; i < g; i++) m[len + i] = (uint8_t)(i * 37 + g);
        lu_write(seg, m, len + g);
        check_mutant(dir, hashes, N, N, 0);
    }
    free(m);
    free(orig);
    lu_rmdir(dir);
}

static void second_writer_is_locked_out(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "lock");
    dv_store *s = open_store(dir, DV_SYNC_ALWAYS, 0, NULL);
    dv_store_config sc;
    dv_store_config_default(&sc);
    dv_store *s2 = NULL;
    dv_recovery_report r;
    assert_int_equal(dv_store_open(dir, &sc, &s2, &r), DV_ELOCKED);
    assert_null(s2);
    assert_non_null(strstr(r.message, "another writer"));
    assert_int_equal(dv_store_repair(dir, NULL, &r), DV_ELOCKED);
    dv_store_close(s);
    assert_int_equal(dv_store_open(dir, &sc, &s2, &r), DV_OK);
    dv_store_close(s2);
    lu_rmdir(dir);
}

/* What a reader may see while a writer's checkpoint renames and unlinks:
 * the first `blind` listings see nothing, the first `holey` listings miss
 * the oldest segment, and the first `vanish` opens of a file for reading
 * find it gone. Everything else goes to POSIX. */
typedef struct racing_io {
    dv_io io;
    int blind, holey, vanish;
} racing_io;

typedef struct names {
    char name[64][64];
    int n;
} names;

static int collect_name(void *ctx, const char *name) {
    names *l = ctx;
    if (l->n < 64) snprintf(l->name[l->n++], sizeof l->name[0], "%s", name);
    return 0;
}

static int racing_list(void *ctx, const char *path, int (*fn)(void *, const char *), void *fn_ctx) {
    racing_io *b = ctx;
    const dv_io *posix = dv_io_posix();
    if (b->blind > 0) {
        b->blind--;
        return 0;
    }
    if (b->holey <= 0) return posix->list(posix->ctx, path, fn, fn_ctx);
    b->holey--;
    names l = {.n = 0};
    int e = posix->list(posix->ctx, path, collect_name, &l);
    int oldest = -1;
    for (int i = 0; i < l.n; i++)
        if (strstr(l.name[i], ".dvs") && (oldest < 0 || strcmp(l.name[i], l.name[oldest]) < 0)) oldest = i;
    for (int i = 0; !e && i < l.n; i++)
        if (i != oldest) e = fn(fn_ctx, l.name[i]);
    return e;
}

static int racing_open(void *ctx, const char *path, int flags, int *fd) {
    racing_io *b = ctx;
    const dv_io *posix = dv_io_posix();
    if (b->vanish > 0 && flags == DV_IO_READ) {
        b->vanish--;
        return ENOENT;
    }
    return posix->open(posix->ctx, path, flags, fd);
}

static void reader_opens_again_when_a_writer_moves_files(void **state) {
    (void)state;
    char dir[256];
    dv_store *s = store_with_writes(dir, "relist", DV_SYNC_ALWAYS, 1024, 20);
    racing_io b = {.blind = 0};
    b.io = *dv_io_posix();
    b.io.list = racing_list;
    b.io.open = racing_open;
    b.io.ctx = &b;
    dv_store_config ro = read_only_config(&b.io);
    dv_store *r = NULL;
    int *knob[] = {&b.blind, &b.holey, &b.vanish};
    for (int k = 0; k < 3; k++) {
        *knob[k] = 1; /* once: the reader starts again and opens the database */
        assert_int_equal(dv_store_open(dir, &ro, &r, NULL), DV_OK);
        assert_int_equal(*knob[k], 0);
        assert_int_equal(dv_db_state_hash(dv_store_db(r)), dv_db_state_hash(dv_store_db(s)));
        dv_store_close(r);
        r = NULL;
    }
    b.blind = 1000; /* a directory that stays empty is still "no database" */
    assert_int_equal(dv_store_open(dir, &ro, &r, NULL), DV_ENOTFOUND);
    assert_null(r);
    b.blind = 0;
    b.holey = 1000; /* a log that keeps its hole is a gap */
    assert_int_equal(dv_store_open(dir, &ro, &r, NULL), DV_EGAP);
    assert_null(r);
    b.holey = 0;
    b.vanish = 1000; /* files that stay gone */
    assert_int_equal(dv_store_open(dir, &ro, &r, NULL), DV_ENOTFOUND);
    assert_null(r);
    dv_store_close(s);
    lu_rmdir(dir);
}

static void reader_sees_committed_state_and_refreshes(void **state) {
    (void)state;
    char dir[256];
    dv_store *s = store_with_writes(dir, "reader", DV_SYNC_ALWAYS, 8 * 1024, 30);
    dv_store_config ro = read_only_config(NULL);
    dv_store *r1 = NULL;
    assert_int_equal(dv_store_open(dir, &ro, &r1, NULL), DV_OK);
    assert_int_equal(dv_db_state_hash(dv_store_db(r1)), dv_db_state_hash(dv_store_db(s)));
    assert_int_equal(dv_store_insert(r1, "x", (float[LU_DIM]){1, 2, 3, 4}, NULL, 0), DV_ESTATE);
    for (unsigned k = 30; k < 300; k += 45) { /* across several segment rolls */
        run_script(s, k, k + 45);
        uint64_t n_new = 0;
        assert_int_equal(dv_store_refresh(r1, &n_new), DV_OK);
        assert_int_equal(n_new, 45);
        assert_int_equal(dv_store_sequence(r1), dv_store_sequence(s));
        assert_int_equal(dv_db_state_hash(dv_store_db(r1)), dv_db_state_hash(dv_store_db(s)));
    }
    /* checkpoints drop segments behind the reader: the one it holds open still reads to its end */
    run_script(s, 300, 330);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    run_script(s, 330, 340);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    uint64_t n_new = 0;
    assert_int_equal(dv_store_refresh(r1, &n_new), DV_OK);
    assert_int_equal(n_new, 40);
    assert_int_equal(dv_db_state_hash(dv_store_db(r1)), dv_db_state_hash(dv_store_db(s)));
    dv_store_close(r1);
    assert_int_equal(dv_store_open(dir, &ro, &r1, NULL), DV_OK);
    assert_int_equal(dv_db_state_hash(dv_store_db(r1)), dv_db_state_hash(dv_store_db(s)));
    dv_store_close(r1);
    dv_store_close(s);
    lu_rmdir(dir);
}

typedef struct thr {
    dv_store *s;
    int t;
    int fails;
} thr;

static void *writer_thread(void *arg) {
    thr *a = arg;
    for (int i = 0; i < 100; i++) {
        char id[32];
        float v[LU_DIM];
        snprintf(id, sizeof id, "t%d-%d", a->t, i);
        lu_vec(v, (unsigned)(a->t * 1000 + i), 0);
        if (dv_store_insert(a->s, id, v, NULL, 0) != DV_OK) a->fails++;
    }
    return NULL;
}

static void group_commit_from_four_threads(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "group");
    dv_store *s = open_store(dir, DV_SYNC_ALWAYS, 16 * 1024, NULL);
    pthread_t th[4];
    thr a[4];
    for (int t = 0; t < 4; t++) {
        a[t] = (thr){s, t, 0};
        pthread_create(&th[t], NULL, writer_thread, &a[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(a[t].fails, 0);
    }
    assert_int_equal(dv_store_sequence(s), 400);
    assert_int_equal(dv_store_durable_sequence(s), 400);
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    dv_store_close(s);
    s = open_store(dir, DV_SYNC_ALWAYS, 16 * 1024, NULL);
    assert_int_equal(dv_db_count(dv_store_db(s)), 400);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    dv_store_close(s);
    lu_rmdir(dir);
}

static void interval_policy_syncs_in_background(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "interval");
    dv_db_config c;
    lu_config(&c);
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.sync = DV_SYNC_INTERVAL;
    sc.sync_interval_ms = 5;
    dv_store *s = NULL;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    run_script(s, 0, 50);
    for (int i = 0; i < 30000 && dv_store_durable_sequence(s) < 50; i++)
        usleep(1000); /* no sync call: the thread does it */
    assert_int_equal(dv_store_durable_sequence(s), 50);
    dv_store_close(s);
    lu_rmdir(dir);
}

static size_t count_ext(const char *dir, const char *ext) {
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ext)) n++;
    }
    closedir(d);
    return n;
}

static void checkpoint_then_reopen_and_retention(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "ckpt");
    dv_store *s = open_store(dir, DV_SYNC_ALWAYS, 8 * 1024, NULL);
    uint64_t seq = 0;
    for (int k = 0; k < 4; k++) {
        run_script(s, (unsigned)k * 60, (unsigned)k * 60 + 60);
        assert_int_equal(dv_store_checkpoint(s, &seq), DV_OK);
        assert_int_equal(seq, (uint64_t)k * 60 + 60);
    }
    run_script(s, 240, 260);
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    dv_store_close(s);
    assert_int_equal(count_ext(dir, ".dvp"), 2); /* keep_snapshots = 2 */
    dv_recovery_report r;
    s = open_store(dir, DV_SYNC_ALWAYS, 8 * 1024, &r);
    assert_int_equal(r.snapshot_sequence, 240);
    assert_int_equal(r.records_replayed, 20);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    dv_db *ref = lu_reference(260);
    assert_int_equal(h, dv_db_state_hash(ref));
    /* the log still reaches back to the older kept snapshot (180): as-of 200 works */
    dv_store_close(s);
    dv_store_config ro = read_only_config(NULL);
    ro.as_of = 200;
    assert_int_equal(dv_store_open(dir, &ro, &s, &r), DV_OK);
    assert_int_equal(r.snapshot_sequence, 180);
    dv_db *ref200 = lu_reference(200);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref200));
    dv_store_close(s);
    ro.as_of = 100; /* dropped by retention */
    assert_int_equal(dv_store_open(dir, &ro, &s, &r), DV_EGAP);
    /* a damaged newest snapshot: the older one + log is used */
    char p[4096];
    snprintf(p, sizeof p, "%s/%020u.dvp", dir, 240u);
    size_t len = 0;
    uint8_t *b = lu_read(p, &len);
    b[len / 2] ^= 1;
    lu_write(p, b, len);
    free(b);
    s = open_store(dir, DV_SYNC_ALWAYS, 8 * 1024, &r);
    assert_int_equal(r.snapshots_skipped, 1);
    assert_int_equal(r.snapshot_sequence, 180);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    dv_store_close(s);
    dv_db_close(ref);
    dv_db_close(ref200);
    lu_rmdir(dir);
}

static void revert_to_an_earlier_sequence(void **state) {
    (void)state;
    char dir[256];
    dv_store *s = store_with_writes(dir, "revert", DV_SYNC_ALWAYS, 8 * 1024, 50);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    run_script(s, 50, 100);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    run_script(s, 100, 200);
    /* before the oldest kept snapshot: the log there is gone, nothing changes */
    uint64_t h200 = dv_db_state_hash(dv_store_db(s));
    assert_int_equal(dv_store_revert(s, 30), DV_EGAP);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h200);
    dv_db *ref = lu_reference(70);
    assert_int_equal(dv_store_revert(s, 70), DV_OK);
    assert_int_equal(dv_store_sequence(s), 70);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
    /* writing on from there is the same as never having gone further */
    run_script(s, 70, 120);
    dv_db_close(ref);
    ref = lu_reference(120);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
    dv_store_close(s);
    s = open_store(dir, DV_SYNC_ALWAYS, 8 * 1024, NULL);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
    dv_store_close(s);
    dv_db_close(ref);
    lu_rmdir(dir);
}

/* A snapshot newer than the end of the log (the log's unsynced tail was
 * lost after the snapshot was written): writes go to a new segment, never
 * after the old segment's last record with a gap inside it. */
static void snapshot_newer_than_the_log_end(void **state) {
    (void)state;
    char dir[256], p[4096];
    lu_tempdir(dir, sizeof dir, "newer");
    dv_db_config c;
    lu_config(&c);
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.sync = DV_SYNC_NONE;
    sc.keep_log_from = 1;
    dv_store *s;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    run_script(s, 0, 30);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    dv_store_close(s);
    /* lose segment 31 and the tail of segment 1 after record 20 */
    snprintf(p, sizeof p, "%s/%020u.dvs", dir, 31u);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof p, "%s/%020u.dvs", dir, 1u);
    size_t len = 0;
    uint8_t *b = lu_read(p, &len);
    size_t off = DV_STREAM_HEADER_SIZE;
    for (int i = 0; i < 20; i++) {
        dv_delta_header h;
        assert_int_equal(dv_delta_header_decode(b + off, &h), DV_OK);
        off += DV_DELTA_HEADER_SIZE + h.payload_size;
    }
    lu_write(p, b, off);
    free(b);
    dv_recovery_report r;
    assert_int_equal(dv_store_open(dir, &sc, &s, &r), DV_OK);
    assert_int_equal(r.snapshot_sequence, 30);
    run_script(s, 30, 40);
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    dv_db *ref = lu_reference(40);
    assert_int_equal(h, dv_db_state_hash(ref));
    dv_store_close(s);
    assert_int_equal(dv_store_open(dir, &sc, &s, &r), DV_OK);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    dv_store_close(s);
    dv_db_close(ref);
    lu_rmdir(dir);
}

static void open_errors(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "errors");
    dv_store_config sc;
    dv_store_config_default(&sc);
    dv_store *s = NULL;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_ENOTFOUND); /* no create config */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    assert_int_equal(dv_store_open(missing, &sc, &s, NULL), DV_ENOTFOUND);
    s = open_store(dir, DV_SYNC_ALWAYS, 0, NULL);
    dv_store_close(s);
    /* a snapshot cut short by a crash is never read, and the next writer removes it */
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/%020u.dvp.tmp", dir, 7u);
    lu_write(tmp, (const uint8_t *)"half a snapshot", 15);
    s = open_store(dir, DV_SYNC_ALWAYS, 0, NULL);
    assert_int_equal(access(tmp, F_OK), -1);
    dv_store_close(s);
    dv_db_config other;
    lu_config(&other);
    other.metric = DV_METRIC_COSINE;
    sc.create = &other;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_ECONFIG);
    lu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reopen_gives_back_every_write),
        cmocka_unit_test(many_writes_never_hit_full_and_segments_roll),
        cmocka_unit_test(torn_tail_is_cut_and_reported),
        cmocka_unit_test(damage_is_refused_with_file_and_offset_then_repaired),
        cmocka_unit_test(every_offset_flip_truncate_append),
        cmocka_unit_test(second_writer_is_locked_out),
        cmocka_unit_test(reader_sees_committed_state_and_refreshes),
        cmocka_unit_test(reader_opens_again_when_a_writer_moves_files),
        cmocka_unit_test(group_commit_from_four_threads),
        cmocka_unit_test(interval_policy_syncs_in_background),
        cmocka_unit_test(checkpoint_then_reopen_and_retention),
        cmocka_unit_test(revert_to_an_earlier_sequence),
        cmocka_unit_test(snapshot_newer_than_the_log_end),
        cmocka_unit_test(open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
