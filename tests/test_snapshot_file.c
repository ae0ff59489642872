/*
 * test_snapshot_file.c -- loading snapshots from files (deltavec.h sections
 * 4c and 9: dv_db_snapshot_load, dv_snapshot_load_file): the file loader
 * gives the same db as the buffer loader, and the same status and message
 * for every truncation (each section boundary and around it) and damage;
 * read errors through the dv_io table (EIO at every read, a file that
 * shrinks while it is read) are reported as such with nothing kept.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deltavec.h"
#include "db/replay.h"
#include "log/io.h"
#include "log_util.h"
#include "support/membuf.h"

#define DIM 64
#define COUNT 1500 /* NODES spans several of the loader's read chunks */

/* A db with live and free slots, upper layers, metadata; its snapshot with a
 * per-slot sequence table. */
static dv_db *make_db(membuf *m, dv_snapshot_meta *meta) {
    dv_db_config c;
    dv_db_config_default(&c, DIM);
    c.M = 8;
    c.ef_construction = 32;
    dv_db *db = NULL;
    assert_int_equal(dv_db_open(&c, &db), DV_OK);
    uint32_t x = 12345;
    for (int i = 0; i < COUNT; i++) {
        float v[DIM];
        for (int d = 0; d < DIM; d++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            v[d] = (float)(x % 1000u) / 100.0f;
        }
        char id[32], val[16];
        snprintf(id, sizeof id, "doc-%d", i);
        snprintf(val, sizeof val, "%d", i % 7);
        dv_meta_kv kv = {"group", val};
        assert_int_equal(dv_db_insert(db, id, v, i % 3 ? NULL : &kv, i % 3 ? 0 : 1), DV_OK);
    }
    for (int i = 0; i < COUNT; i += 17) {
        char id[32];
        snprintf(id, sizeof id, "doc-%d", i);
        assert_int_equal(dv_db_delete(db, id), DV_OK);
    }
    static uint64_t seqs[COUNT];
    for (int i = 0; i < COUNT; i++) seqs[i] = 1000 + (uint64_t)i;
    memset(meta, 0, sizeof *meta);
    meta->sequence = 77;
    meta->slot_sequences = seqs;
    meta->n_slot_sequences = COUNT;
    memset(m, 0, sizeof *m);
    assert_int_equal(dv_db_snapshot_write(db, meta, membuf_sink, m), DV_OK);
    return db;
}

static void write_file(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Loads b[0..n) from a file and from memory: same status, same message. */
static dv_status both_agree(const char *path, const uint8_t *b, size_t n) {
    write_file(path, b, n);
    dv_db *fdb = NULL, *mdb = NULL;
    char fmsg[200] = "", mmsg[200] = "";
    dv_status fs = dv_snapshot_load_file(path, NULL, NULL, &fdb, NULL, fmsg, sizeof fmsg);
    dv_status ms = dv_db_snapshot_read(b, n, NULL, &mdb, NULL, mmsg, sizeof mmsg);
    if (fs != ms || strcmp(fmsg, mmsg) != 0)
        fail_msg("length %zu: file %s \"%s\", memory %s \"%s\"", n, dv_status_name(fs), fmsg,
                 dv_status_name(ms), mmsg);
    if (fs == DV_OK) {
        assert_true(dv_db_state_hash(fdb) == dv_db_state_hash(mdb));
        dv_db_close(fdb);
        dv_db_close(mdb);
    } else {
        assert_null(fdb);
        assert_null(mdb);
    }
    return fs;
}

/* Offsets where each section starts (its header) and where its payload and
 * checksum start, from the snapshot's own framing. */
static size_t boundaries(const membuf *m, size_t *at, size_t cap) {
    size_t n = 0, pos = DV_SNAPSHOT_HEADER_SIZE;
    at[n++] = 0;
    at[n++] = pos;
    while (pos + 16 <= m->n && n + 3 <= cap) {
        uint64_t len;
        memcpy(&len, m->b + pos + 8, 8);
        at[n++] = pos + 16;
        at[n++] = pos + 16 + (size_t)len;
        pos += 16 + (size_t)len + 8;
        at[n++] = pos;
    }
    return n;
}

/* What every test starts from: a scratch directory, the db of make_db and its snapshot in memory (made
 * once: the tests only read them); fx.path is where a test writes the file it loads. */
typedef struct fixture {
    char dir[256], path[300];
    membuf m;
    dv_snapshot_meta meta;
    dv_db *src;
} fixture;

static fixture fx;

static int setup(void **state) {
    (void)state;
    lu_tempdir(fx.dir, sizeof fx.dir, "snapfile");
    snprintf(fx.path, sizeof fx.path, "%s/snap.dvp", fx.dir);
    fx.src = make_db(&fx.m, &fx.meta);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dv_db_close(fx.src);
    free(fx.m.b);
    unlink(fx.path);
    lu_rmdir(fx.dir);
    return 0;
}

/* fx.path holds the whole snapshot. */
static void intact_file(void) { write_file(fx.path, fx.m.b, fx.m.n); }

static void file_load_equals_buffer_load(void **state) {
    (void)state;
    intact_file();
    dv_db *db = NULL;
    dv_snapshot_meta got;
    char msg[200] = "";
    dv_status st = dv_snapshot_load_file(fx.path, NULL, NULL, &db, &got, msg, sizeof msg);
    if (st != DV_OK) fail_msg("%s: %s", dv_status_name(st), msg);
    assert_int_equal(dv_db_check_invariants(db), DV_OK);
    assert_true(dv_db_state_hash(db) == dv_db_state_hash(fx.src));
    assert_int_equal(got.sequence, 77);
    assert_int_equal(got.size, fx.m.n);
    assert_int_equal(got.n_slot_sequences, COUNT);
    assert_memory_equal(got.slot_sequences, fx.meta.slot_sequences, COUNT * 8);
    /* it saves to the same bytes */
    membuf again = {0};
    assert_int_equal(dv_db_snapshot_write(db, &fx.meta, membuf_sink, &again), DV_OK);
    assert_int_equal(again.n, fx.m.n);
    assert_memory_equal(again.b, fx.m.b, fx.m.n);
    dv_snapshot_meta_release(&got, NULL);
    dv_db_close(db);
    free(again.b);
}

static void truncation_at_every_section_boundary_is_truncated(void **state) {
    (void)state;
    const membuf *m = &fx.m;
    size_t at[64];
    size_t n = boundaries(m, at, 64);
    assert_int_equal(n, 2 + 3 * 6);
    assert_int_equal(at[n - 1], m->n);
    for (size_t i = 0; i < n; i++) {
        for (int d = -1; d <= 1; d++) {
            if ((d < 0 && at[i] == 0) || at[i] + (size_t)(d + 1) > m->n) continue;
            size_t len = at[i] + (size_t)(d + 1) - 1;
            if (len == m->n) continue;
            dv_status st = both_agree(fx.path, m->b, len);
            assert_int_equal(st, len == 0 ? DV_EEMPTY : DV_ETRUNCATED);
        }
    }
}

static void damage_in_every_section_is_reported_alike(void **state) {
    (void)state;
    const membuf *m = &fx.m;
    size_t at[64];
    size_t n = boundaries(m, at, 64);
    uint8_t *b = malloc(m->n);
    assert_non_null(b);
    unsigned failures = 0;
    /* a flip in each section header, payload (start, middle, end) and checksum */
    for (size_t i = 1; i + 1 < n; i++) {
        size_t lo = at[i], hi = at[i + 1];
        size_t offs[] = {lo, lo + (hi - lo) / 2, hi ? hi - 1 : 0};
        for (size_t k = 0; k < 3; k++) {
            if (offs[k] >= m->n || hi <= lo) continue;
            memcpy(b, m->b, m->n);
            b[offs[k]] ^= 0x10;
            failures += both_agree(fx.path, b, m->n) != DV_OK;
        }
    }
    assert_true(failures > 3 * 6);
    /* bytes after the snapshot */
    uint8_t *longer = malloc(m->n + 1);
    memcpy(longer, m->b, m->n);
    longer[m->n] = 0;
    assert_int_equal(both_agree(fx.path, longer, m->n + 1), DV_ECORRUPT);
    free(longer);
    free(b);
}

/* A table over POSIX whose Nth read first cuts the file at that read's
 * offset: the file shrinks under the loader after its size was taken. */
typedef struct shrinking {
    dv_io io;
    const char *path;
    uint64_t reads, cut_at;
} shrinking;

static int shrink_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off, size_t *got) {
    shrinking *s = ctx;
    if (++s->reads == s->cut_at) assert_int_equal(truncate(s->path, (off_t)(off + len / 2)), 0);
    return dv_io_posix()->pread(dv_io_posix()->ctx, fd, buf, len, off, got);
}

/* Loads the fixture's file with its nth read failing with EIO; whether a read failed. */
static int load_eio_at(uint64_t nth, dv_status *st, dv_db **db, dv_snapshot_meta *got, char *msg,
                       size_t cap) {
    dv_io_fault f;
    dv_io_fault_init(&f, NULL, nth, DV_FAULT_EIO);
    f.only = 1u << DV_IOCALL_PREAD;
    *st = dv_snapshot_load_file(fx.path, &f.io, NULL, db, got, msg, cap);
    return f.failures != 0;
}

/* Loads a fresh copy of the fixture's file cut short at its nth read; whether a read was cut. */
static int load_shrinking_at(uint64_t nth, dv_status *st, dv_db **db, dv_snapshot_meta *got, char *msg,
                             size_t cap) {
    intact_file();
    shrinking s = {*dv_io_posix(), fx.path, 0, nth};
    s.io.ctx = &s;
    s.io.pread = shrink_pread;
    *st = dv_snapshot_load_file(fx.path, &s.io, NULL, db, got, msg, cap);
    return s.reads >= nth;
}

/* A way for the loader's reads to fail, the status a load whose read failed must return, and how many
 * reads a whole load makes at least. */
typedef struct read_failure {
    int (*load_failing_at)(uint64_t nth, dv_status *st, dv_db **db, dv_snapshot_meta *got, char *msg,
                           size_t cap);
    dv_status expected;
    uint64_t min_reads;
} read_failure;

/* header, 6 section headers, 5 small sections, the NODES checksum, NODES in several chunks */
static const read_failure EIO_READS = {load_eio_at, DV_EIO, 1 + 6 + 5 + 1 + 2};
static const read_failure SHRINKING_READS = {load_shrinking_at, DV_ETRUNCATED, 10};

/* The failure at the 1st, 2nd, ... read until a load makes no more reads than that: each one gives the
 * expected status with "reading at" and keeps nothing; then the load succeeds. */
static void each_read_failing(const read_failure *rf) {
    for (uint64_t n = 1;; n++) {
        dv_db *db = NULL;
        dv_snapshot_meta got;
        char msg[200] = "";
        dv_status st;
        if (!rf->load_failing_at(n, &st, &db, &got, msg, sizeof msg)) { /* n passed the reads a load makes */
            assert_int_equal(st, DV_OK);
            assert_true(dv_db_state_hash(db) == dv_db_state_hash(fx.src));
            dv_snapshot_meta_release(&got, NULL);
            dv_db_close(db);
            assert_true(n > rf->min_reads);
            return;
        }
        if (st != rf->expected || !strstr(msg, "reading at"))
            fail_msg("read %llu: %s \"%s\"", (unsigned long long)n, dv_status_name(st), msg);
        assert_null(db);
        assert_null(got.slot_sequences);
    }
}

static void eio_at_every_read_is_reported_with_nothing_kept(void **state) {
    (void)state;
    intact_file();
    each_read_failing(&EIO_READS);
    /* opening a missing file */
    dv_db *db = NULL;
    char msg[200] = "", missing[300];
    snprintf(missing, sizeof missing, "%s/missing.dvp", fx.dir);
    assert_int_equal(dv_snapshot_load_file(missing, NULL, NULL, &db, NULL, msg, sizeof msg), DV_ENOTFOUND);
    assert_null(db);
    assert_non_null(strstr(msg, "opening"));
}

static void file_shrinking_while_read_is_truncated(void **state) {
    (void)state;
    each_read_failing(&SHRINKING_READS);
}

/* An allocator that fails its Nth allocation and counts what is held. */
typedef struct failing {
    uint64_t calls, fail_at;
    long long held;
} failing;

static void *failing_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    failing *f = ctx;
    if (new_size == 0) {
        f->held -= (long long)old_size;
        free(ptr);
        return NULL;
    }
    if (++f->calls == f->fail_at) return NULL;
    void *p = realloc(ptr, new_size);
    if (p) f->held += (long long)new_size - (long long)old_size;
    return p;
}

static void allocation_failure_at_every_step_is_enomem_without_leak(void **state) {
    (void)state;
    intact_file();
    failing count = {0, 0, 0};
    dv_allocator a = {failing_realloc, &count};
    dv_db *db = NULL;
    dv_snapshot_meta got;
    assert_int_equal(dv_snapshot_load_file(fx.path, NULL, &a, &db, &got, NULL, 0), DV_OK);
    dv_snapshot_meta_release(&got, &a);
    dv_db_close(db);
    assert_int_equal(count.held, 0);
    uint64_t total = count.calls;
    assert_true(total > 6);
    /* every step of the first few hundred (each slot's strings repeat the same steps) and a sample after */
    for (uint64_t n = 1; n <= total; n += n < 400 ? 1 : 97) {
        failing f = {0, n, 0};
        dv_allocator fa = {failing_realloc, &f};
        char msg[200] = "";
        db = NULL;
        dv_status st = dv_snapshot_load_file(fx.path, NULL, &fa, &db, &got, msg, sizeof msg);
        if (st != DV_ENOMEM)
            fail_msg("allocation %llu: %s \"%s\"", (unsigned long long)n, dv_status_name(st), msg);
        assert_null(db);
        assert_int_equal(f.held, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_load_equals_buffer_load),
        cmocka_unit_test(truncation_at_every_section_boundary_is_truncated),
        cmocka_unit_test(damage_in_every_section_is_reported_alike),
        cmocka_unit_test(eio_at_every_read_is_reported_with_nothing_kept),
        cmocka_unit_test(file_shrinking_while_read_is_truncated),
        cmocka_unit_test(allocation_failure_at_every_step_is_enomem_without_leak),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
