/*
 * test_log_faults.c -- the database directory under injected I/O faults.
 *
 * Every file call goes through a dv_io table; the fault table fails its
 * Nth call (EIO, ENOSPC, a short write, or a disk that stays dead from N
 * on). For every N over a whole scenario (create, writes across segment
 * rolls, a checkpoint, close) and for every kind: the write that met the
 * fault returns an error; memory equals the log (the failed write is
 * undone, or -- only when an fsync failed, so its durability is unknown --
 * the store refuses all later writes); reopening without faults gives back
 * exactly the acknowledged writes (plus, after an fsync failure, possibly
 * the one write whose fate was unknown).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "log/io.h"
#include "log_util.h"

#define WRITES 40

typedef struct outcome {
    uint64_t calls;   /* file calls the scenario made */
    int open_failed;  /* the first open met the fault */
    int write_failed; /* some write returned an error */
    int uncertain;    /* a failed fsync left a write in memory and the store refusing writes */
} outcome;

static dv_store_config store_cfg(const dv_db_config *c, const dv_io *io) {
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = c;
    sc.sync = DV_SYNC_ALWAYS;
    sc.segment_bytes = 2048;
    sc.io = io;
    return sc;
}

/* Runs the scenario through io; checks memory against a reference after
 * every write, then reopens with plain POSIX I/O and checks the state. */
static outcome scenario(const dv_io *io, dv_io_fault *f) {
    outcome o = {0, 0, 0, 0};
    char dir[256];
    lu_tempdir(dir, sizeof dir, "fault");
    dv_db_config c;
    lu_config(&c);
    dv_store_config sc = store_cfg(&c, io);
    dv_db *ref = lu_reference(0);
    dv_db *maybe = NULL; /* ref + the write whose durability is unknown */
    dv_store *s = NULL;
    dv_status st = dv_store_open(dir, &sc, &s, NULL);
    if (st != DV_OK) {
        o.open_failed = 1;
        assert_null(s);
    }
    for (unsigned i = 0; s && i < WRITES; i++) {
        if (i == WRITES / 2) {
            st = dv_store_checkpoint(s, NULL);
            /* a failed checkpoint changes nothing in memory */
            assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
        }
        st = lu_step(&LU_STORE_OPS, s, 0, i);
        if (st == DV_OK) {
            assert_int_equal(lu_step(&LU_DB_OPS, ref, 0, i), DV_OK);
            assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
            continue;
        }
        o.write_failed = 1;
        if (st == DV_ESTATE) break; /* refused after an uncertain failure */
        if (dv_db_state_hash(dv_store_db(s)) == dv_db_state_hash(ref)) continue; /* undone */
        /* the write is in memory: only an fsync failure (state unknown) may leave it so */
        assert_int_equal(st, DV_EIO);
        o.uncertain = 1;
        assert_int_equal(dv_db_clone(ref, &maybe), DV_OK);
        assert_int_equal(lu_step(&LU_DB_OPS, maybe, 0, i), DV_OK);
        assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(maybe));
        /* and the store refuses everything from now on */
        assert_int_equal(lu_step(&LU_STORE_OPS, s, 0, i + 1), DV_ESTATE);
        break;
    }
    dv_store_close(s);
    if (f) o.calls = f->calls;
    /* reopen on a healthy disk */
    dv_store_config ok = store_cfg(&c, NULL);
    dv_recovery_report r;
    s = NULL;
    st = dv_store_open(dir, &ok, &s, &r);
    if (st != DV_OK) print_error("reopen: %s: %s\n", dv_status_name(st), r.message);
    assert_int_equal(st, DV_OK);
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    if (h != dv_db_state_hash(ref)) {
        assert_non_null(maybe);
        assert_int_equal(h, dv_db_state_hash(maybe));
    }
    /* and the reopened store takes writes */
    assert_int_equal(dv_store_insert(s, "after", (float[LU_DIM]){1, 2, 3, 4}, NULL, 0), DV_OK);
    dv_store_close(s);
    dv_db_close(ref);
    dv_db_close(maybe);
    lu_rmdir(dir);
    return o;
}

static void every_call_fails_once_or_for_good(void **state) {
    (void)state;
    dv_io_fault count;
    dv_io_fault_init(&count, NULL, 0, DV_FAULT_EIO);
    outcome base = scenario(&count.io, &count);
    assert_false(base.open_failed);
    assert_false(base.write_failed);
    assert_true(base.calls > 100);
    const dv_io_fault_kind kinds[] = {DV_FAULT_EIO, DV_FAULT_ENOSPC, DV_FAULT_SHORT};
    unsigned runs = 0, failed_writes = 0, failed_opens = 0, uncertain = 0;
    for (int sticky = 0; sticky <= 1; sticky++) {
        for (size_t k = 0; k < 3; k++) {
            if (sticky && k > 0) continue;
            for (uint64_t n = 1; n <= base.calls; n++) {
                dv_io_fault f;
                dv_io_fault_init(&f, NULL, n, kinds[k]);
                f.sticky = sticky;
                outcome o = scenario(&f.io, &f);
                assert_true(f.failures >= 1);
                runs++;
                failed_writes += (unsigned)o.write_failed;
                failed_opens += (unsigned)o.open_failed;
                uncertain += (unsigned)o.uncertain;
            }
        }
    }
    print_message(
        "%u faulty runs over %llu calls: %u with a failed write (%u uncertain), %u with a failed open\n",
        runs, (unsigned long long)base.calls, failed_writes, uncertain, failed_opens);
    assert_true(failed_writes > runs / 2);
}

/* Recovery under faults: an open that meets a fault fails cleanly and
 * leaves the directory as it was (or cut its torn tail, as asked). */
static void recovery_under_faults(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "recfault");
    dv_db_config c;
    lu_config(&c);
    dv_store_config sc = store_cfg(&c, NULL);
    dv_store *s = NULL;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    for (unsigned i = 0; i < 30; i++) assert_int_equal(lu_step(&LU_STORE_OPS, s, 0, i), DV_OK);
    assert_int_equal(dv_store_checkpoint(s, NULL), DV_OK);
    for (unsigned i = 30; i < WRITES; i++) assert_int_equal(lu_step(&LU_STORE_OPS, s, 0, i), DV_OK);
    dv_store_close(s);
    /* tear the tail */
    char names[256][64], seg[4096];
    size_t n = lu_segments(dir, names, 256);
    snprintf(seg, sizeof seg, "%s/%s", dir, names[n - 1]);
    size_t len = 0;
    uint8_t *b = lu_read(seg, &len);
    lu_write(seg, b, len - 3);
    free(b);
    dv_db *ref = lu_reference(WRITES - 1);
    dv_io_fault count;
    dv_io_fault_init(&count, NULL, 0, DV_FAULT_EIO);
    /* count the calls of an open on a copy of the state: use a read-only open (cuts nothing) */
    dv_store_config ro = store_cfg(NULL, &count.io);
    ro.read_only = 1;
    assert_int_equal(dv_store_open(dir, &ro, &s, NULL), DV_OK);
    dv_store_close(s);
    uint64_t calls = count.calls + 8; /* a writer makes a few more (lock, truncate, sync) */
    for (uint64_t k = 1; k <= calls; k++) {
        for (int kind = DV_FAULT_EIO; kind <= DV_FAULT_SHORT; kind++) {
            dv_io_fault f;
            dv_io_fault_init(&f, NULL, k, (dv_io_fault_kind)kind);
            dv_store_config wc = store_cfg(NULL, &f.io);
            s = NULL;
            dv_status st = dv_store_open(dir, &wc, &s, NULL);
            if (st == DV_OK) {
                assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
                dv_store_close(s);
            } else {
                assert_null(s);
                if (st != DV_EIO && st != DV_ENOSPC)
                    print_error("call %llu: %s\n", (unsigned long long)k, dv_status_name(st));
                assert_true(st == DV_EIO || st == DV_ENOSPC || st == DV_ENOTFOUND || st == DV_ENOMEM);
            }
            dv_store_config plain = store_cfg(NULL, NULL);
            assert_int_equal(dv_store_open(dir, &plain, &s, NULL), DV_OK);
            assert_int_equal(dv_db_state_hash(dv_store_db(s)), dv_db_state_hash(ref));
            dv_store_close(s);
        }
    }
    dv_db_close(ref);
    lu_rmdir(dir);
}

/* The capture sink contract the store relies on: a refused delta is not
 * published, its sequence is not consumed, and the db undoes the write. */
typedef struct sink_state {
    int calls, refuse_at;
    uint64_t seqs[64];
    int n;
} sink_state;

static dv_status test_sink(void *ctx, const uint8_t *hdr, const uint8_t *payload, size_t len) {
    sink_state *t = ctx;
    if (++t->calls == t->refuse_at) return DV_ENOSPC;
    assert_int_equal(dv_delta_verify(hdr, payload, len), DV_OK);
    dv_delta_header h;
    assert_int_equal(dv_delta_header_decode(hdr, &h), DV_OK);
    t->seqs[t->n++] = h.sequence;
    return DV_OK;
}

static void capture_sink_refusal_undoes_the_write(void **state) {
    (void)state;
    for (int refuse = 1; refuse <= 12; refuse++) {
        dv_db *db = lu_reference(0), *ref = lu_reference(0);
        sink_state t = {0, refuse, {0}, 0};
        dv_capture_config cc;
        dv_capture_config_default(&cc);
        cc.sink = test_sink;
        cc.sink_ctx = &t;
        dv_capture *cap;
        assert_int_equal(dv_capture_init(db, &cc, &cap), DV_OK);
        assert_int_equal(dv_capture_start(cap), DV_OK);
        for (unsigned i = 0; i < 12; i++) {
            dv_status st = lu_step(&LU_DB_OPS, db, 0, i);
            if (t.calls == refuse && st != DV_OK) {
                assert_int_equal(st, DV_ENOSPC);
                assert_int_equal(dv_db_state_hash(db), dv_db_state_hash(ref)); /* undone */
                st = lu_step(&LU_DB_OPS, db, 0, i);                            /* the retry goes through */
            }
            assert_int_equal(st, DV_OK);
            assert_int_equal(lu_step(&LU_DB_OPS, ref, 0, i), DV_OK);
            assert_int_equal(dv_db_state_hash(db), dv_db_state_hash(ref));
        }
        /* gap-free sequences, nothing in the ring */
        for (int k = 0; k < t.n; k++) assert_int_equal(t.seqs[k], (uint64_t)k + 1);
        dv_delta_header h[4];
        size_t n;
        assert_int_equal(dv_capture_poll(cap, h, 4, &n), DV_EEMPTY);
        dv_capture_free(cap);
        dv_db_close(db);
        dv_db_close(ref);
    }
}

/* A batch of writes shares one fdatasync (counted through the I/O table). */
static void batch_shares_one_sync(void **state) {
    (void)state;
    char dir[256];
    lu_tempdir(dir, sizeof dir, "batch");
    dv_db_config c;
    lu_config(&c);
    dv_io_fault count;
    dv_io_fault_init(&count, NULL, 0, DV_FAULT_EIO);
    count.only = 1u << DV_IOCALL_SYNC;
    dv_store_config sc = store_cfg(&c, &count.io);
    sc.segment_bytes = 64u << 20;
    dv_store *s;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    enum { N = 100 };
    dv_store_op ops[N];
    char ids[N][16];
    float v[N][LU_DIM];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "b%d", i);
        lu_vec(v[i], (unsigned)i, 0);
        ops[i] = (dv_store_op){DV_STORE_INSERT, ids[i], v[i], NULL, 0, NULL, NULL, 0, NULL, NULL};
    }
    ops[N - 1] = (dv_store_op){DV_STORE_SET_META, ids[0], NULL, NULL, 0, NULL, NULL, 0, "k", "v"};
    uint64_t before = count.calls;
    size_t done = 0;
    assert_int_equal(dv_store_write_batch(s, ops, N, &done), DV_OK);
    assert_int_equal(done, N);
    assert_int_equal(count.calls - before, 1);
    assert_int_equal(dv_store_durable_sequence(s), N);
    /* a failing op stops the batch; the ones before it stay, durable */
    ops[1] = (dv_store_op){DV_STORE_DELETE, "missing", NULL, NULL, 0, NULL, NULL, 0, NULL, NULL};
    ops[0] = (dv_store_op){DV_STORE_INSERT, "c0", v[0], NULL, 0, NULL, NULL, 0, NULL, NULL};
    assert_int_equal(dv_store_write_batch(s, ops, 3, &done), DV_ENOTFOUND);
    assert_int_equal(done, 1);
    assert_int_equal(dv_store_durable_sequence(s), N + 1);
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    dv_store_close(s);
    sc.io = NULL;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    assert_int_equal(dv_db_state_hash(dv_store_db(s)), h);
    dv_store_close(s);
    lu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_call_fails_once_or_for_good),
        cmocka_unit_test(recovery_under_faults),
        cmocka_unit_test(capture_sink_refusal_undoes_the_write),
        cmocka_unit_test(batch_shares_one_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
