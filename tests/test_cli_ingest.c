/*
 * test_cli_ingest.c -- `deltavec ingest` run as a process on real files
 * and a real database directory: every format loads; a bad record stops
 * the command with the file, row/line and reason (exit 1) and what was
 * written before it is durable (read back after the process ended);
 * --skip-bad skips and counts; a truncated file stops even with
 * --skip-bad; usage errors exit 2; the progress line appears only when
 * stderr is a terminal (a pseudo-terminal here), never in a pipe.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

#include "log_util.h"
#include "support/cli_process.h"
#include "support/store_view.h"

#define DIM 4

static char scratch[256], db_dir[300], out_path[300], err_path[300];
static char out_text[65536], err_text[65536];

/* Runs `deltavec ARGS...` with stdout/stderr to files (pipes, not terminals); returns its exit status
 * (256 + signal when a signal ended it). */
static int run_cli(const char *first, ...) {
    const test_proc_io io = {out_path, err_path, NULL};
    va_list ap;
    va_start(ap, first);
    pid_t pid = test_proc_startv(DV_DELTAVEC_BIN, &io, first, ap);
    va_end(ap);
    assert_true(pid > 0);
    int rc = test_proc_wait(pid, 0);
    assert_true(rc >= 0);
    test_read_text(out_path, out_text, sizeof out_text);
    test_read_text(err_path, err_text, sizeof err_text);
    return rc;
}

static void create_db(void) {
    lu_rmdir(db_dir);
    dv_db_config c;
    dv_db_config_default(&c, DIM);
    c.ef_construction = 32;
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    dv_store *s = NULL;
    assert_int_equal(dv_store_open(db_dir, &sc, &s, NULL), DV_OK);
    dv_store_close(s);
}

/* The directory as the next process would see it. */
static dv_store *open_read_only(void) {
    dv_store *s = test_store_read_only(db_dir);
    assert_non_null(s);
    return s;
}

static size_t db_count(void) {
    dv_store *s = open_read_only();
    size_t n = dv_db_count(dv_store_db(s));
    dv_store_close(s);
    return n;
}

static const char *path_of(const char *name) { return test_path(scratch, name); }

static const char *write_text(const char *name, const char *text) {
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return p;
}

static float value_of(uint32_t row, uint32_t j) { return (float)row + 0.25f * (float)j; }

/* rows x DIM .fvecs; cut bytes off the end when cut > 0. */
static const char *write_fvecs(const char *name, uint32_t rows, size_t cut) {
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (uint32_t r = 0; r < rows; r++) {
        int32_t d = DIM;
        float v[DIM];
        for (uint32_t j = 0; j < DIM; j++) v[j] = value_of(r, j);
        fwrite(&d, 4, 1, f);
        fwrite(v, sizeof v, 1, f);
    }
    assert_int_equal(fclose(f), 0);
    if (cut) assert_int_equal(truncate(p, (off_t)(rows * (4 + 4 * DIM) - cut)), 0);
    return p;
}

static int setup(void **state) {
    (void)state;
    lu_cli_scratch("cli-ingest", scratch, db_dir, out_path, err_path);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    lu_rmdir(scratch); /* and all in it */
    return 0;
}

static void fvecs_file_loads_with_row_ids(void **state) {
    (void)state;
    create_db();
    const char *file = write_fvecs("a.fvecs", 300, 0);
    assert_int_equal(run_cli("ingest", db_dir, file, "--batch", "64", NULL), 0);
    assert_non_null(strstr(out_text, "300 records written, 0 skipped"));
    assert_string_equal(err_text, ""); /* piped stderr: no progress line */
    dv_store *s = open_read_only();
    assert_int_equal(dv_db_count(dv_store_db(s)), 300);
    float v[DIM];
    assert_int_equal(dv_db_get(dv_store_db(s), "257", v), DV_OK);
    for (uint32_t j = 0; j < DIM; j++) assert_true(v[j] == value_of(257, j));
    dv_store_close(s);
}

static void jsonl_bad_record_stops_after_durable_prefix(void **state) {
    (void)state;
    create_db();
    const char *file =
        write_text("b.jsonl", "{\"id\": \"a\", \"vector\": [1, 2, 3, 4], \"metadata\": {\"k\": \"v\"}}\n"
                              "{\"id\": \"b\", \"vector\": [1, 2, 3, 5]}\n"
                              "\n"
                              "{\"id\": \"c\", \"vector\": [1, 2, 3]}\n"
                              "{\"id\": \"d\", \"vector\": [1, 2, 3, 6]}\n");
    assert_int_equal(run_cli("ingest", db_dir, file, NULL), 1);
    char want[600];
    snprintf(want, sizeof want, "deltavec ingest: %s line 4: 3 values, expected 4\n", file);
    assert_string_equal(err_text, want);
    dv_store *s = open_read_only();
    assert_int_equal(dv_db_count(dv_store_db(s)), 2); /* a and b, durable; d never written */
    const char *value = NULL;
    assert_int_equal(dv_db_get_meta(dv_store_db(s), "a", "k", &value), DV_OK);
    assert_string_equal(value, "v");
    dv_store_close(s);

    /* again with --skip-bad: a and b exist now (refused by the store), c is bad, d loads */
    assert_int_equal(run_cli("ingest", db_dir, file, "--skip-bad", NULL), 0);
    assert_non_null(strstr(err_text, "line 1: id \"a\": DV_EEXIST: id already exists (skipped)\n"));
    assert_non_null(strstr(err_text, "line 2: id \"b\": DV_EEXIST"));
    assert_non_null(strstr(err_text, "line 4: 3 values, expected 4 (skipped)\n"));
    assert_non_null(strstr(out_text, "1 records written, 3 skipped"));
    assert_int_equal(db_count(), 3);
}

static void csv_and_npy_load_and_fail_precisely(void **state) {
    (void)state;
    create_db();
    const char *csv = write_text("c.csv", "id,a,b,c,d\nx,1,2,3,4\n\"y,1\",5,6,7,8\nz,1,2,three,4\n");
    assert_int_equal(run_cli("ingest", db_dir, csv, NULL), 1);
    assert_non_null(strstr(err_text, "c.csv line 4: value 2 is not a number (\"three\")\n"));
    assert_int_equal(db_count(), 2);

    /* .npy: an unsupported header is refused before anything is written */
    const char *npy = path_of("f.npy");
    FILE *f = fopen(npy, "wb");
    assert_non_null(f);
    char hdr[118];
    memset(hdr, ' ', sizeof hdr);
    const char *dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4), }";
    memcpy(hdr, dict, strlen(dict));
    hdr[sizeof hdr - 1] = '\n';
    fwrite("\x93NUMPY\x01\x00\x76\x00", 1, 10, f);
    fwrite(hdr, 1, sizeof hdr, f);
    float z[8] = {0};
    fwrite(z, sizeof z, 1, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(run_cli("ingest", db_dir, npy, NULL), 1);
    assert_non_null(strstr(err_text, "f.npy: Fortran-order"));
    assert_int_equal(db_count(), 2);
}

static void truncated_fvecs_stops_even_with_skip_bad(void **state) {
    (void)state;
    create_db();
    const char *file = write_fvecs("t.fvecs", 10, 3);
    assert_int_equal(run_cli("ingest", db_dir, file, "--skip-bad", "--batch", "4", NULL), 1);
    char want[600];
    snprintf(want, sizeof want,
             "deltavec ingest: %s row 9: file ends inside the row (13 of 16 value bytes)\n", file);
    assert_string_equal(err_text, want);
    assert_int_equal(db_count(), 9); /* rows 0..8 */
}

static void usage_and_setup_errors(void **state) {
    (void)state;
    create_db();
    const char *file = write_fvecs("u.fvecs", 3, 0);
    assert_int_equal(run_cli("ingest", NULL), 2);
    assert_int_equal(run_cli("ingest", db_dir, NULL), 2);
    assert_int_equal(run_cli("ingest", db_dir, file, "--batch", "0", NULL), 2);
    assert_int_equal(run_cli("ingest", db_dir, file, "--batch", "-5", NULL), 2);
    assert_int_equal(run_cli("ingest", db_dir, file, "--batch", "12x", NULL), 2);
    assert_int_equal(run_cli("ingest", db_dir, file, "--format", "parquet", NULL), 2);
    assert_int_equal(run_cli("ingest", db_dir, file, "--bogus", NULL), 2);
    assert_non_null(strstr(err_text, "--bogus"));
    assert_int_equal(run_cli("ingest", db_dir, file, "--batch", "99999999999999999999", NULL), 2);
    assert_int_equal(run_cli("ingest", db_dir, file, "--skip-bad", "--skip-bad", NULL), 2);
    assert_int_equal(run_cli("ingest", "--help", NULL), 0);
    assert_non_null(strstr(out_text, "usage: deltavec ingest DIR FILE"));
    /* a file named without a known extension needs --format */
    const char *noext = write_text("data.txt", "{\"id\": \"q\", \"vector\": [1, 2, 3, 4]}\n");
    assert_int_equal(run_cli("ingest", db_dir, noext, NULL), 1);
    assert_non_null(strstr(err_text, "give --format"));
    assert_int_equal(run_cli("ingest", db_dir, noext, "--format", "jsonl", NULL), 0);
    assert_int_equal(db_count(), 1);
    /* standard input, with --format */
    const char *csv = write_text("in.csv", "s1,1,2,3,4\ns2,5,6,7,8\n");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' ingest '%s' - --format csv < '%s' > '%s'", DV_DELTAVEC_BIN, db_dir, csv,
             out_path);
    assert_int_equal(system(cmd), 0);
    test_read_text(out_path, out_text, sizeof out_text);
    assert_non_null(strstr(out_text, "2 records written"));
    assert_int_equal(db_count(), 3);
    /* no directory; a directory without a database */
    assert_int_equal(run_cli("ingest", path_of("nodir"), file, NULL), 1);
    assert_non_null(strstr(err_text, "no such directory"));
    const char *empty = path_of("empty");
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(run_cli("ingest", empty, file, NULL), 1);
    assert_non_null(strstr(err_text, "no database here"));
    /* the writer lock is held by another process (this one) */
    dv_store_config sc;
    dv_store_config_default(&sc);
    dv_store *w = NULL;
    assert_int_equal(dv_store_open(db_dir, &sc, &w, NULL), DV_OK);
    assert_int_equal(run_cli("ingest", db_dir, file, NULL), 1);
    assert_non_null(strstr(err_text, "another process is writing this database"));
    dv_store_close(w);
}

/* stderr on a pseudo-terminal: the progress line (count, rate, percent, ETA) is drawn. */
static void progress_only_on_a_terminal(void **state) {
    (void)state;
    create_db();
    const char *file = write_fvecs("p.fvecs", 2000, 0);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    const char *slave_name = ptsname(master);
    assert_non_null(slave_name);
    const test_proc_io on_terminal = {out_path, slave_name, NULL};
    pid_t pid =
        test_proc_start(DV_DELTAVEC_BIN, &on_terminal, "ingest", db_dir, file, "--batch", "100", NULL);
    assert_true(pid > 0);
    char screen[65536];
    size_t got = 0;
    for (;;) { /* read until the child closes the terminal (EIO) and has exited */
        struct pollfd pfd = {master, POLLIN, 0};
        if (poll(&pfd, 1, 200) > 0) {
            ssize_t n = read(master, screen + got, sizeof screen - 1 - got);
            if (n > 0) {
                got += (size_t)n;
                continue;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
            break;
        }
    }
    for (;;) { /* what is left in the terminal's buffer */
        struct pollfd pfd = {master, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0) break;
        ssize_t n = read(master, screen + got, sizeof screen - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(master);
    screen[got] = '\0';
    assert_non_null(strstr(screen, "/2000 records"));
    assert_non_null(strstr(screen, "/s"));
    assert_non_null(strstr(screen, "ETA"));
    test_read_text(out_path, out_text, sizeof out_text);
    assert_non_null(strstr(out_text, "2000 records written"));
    assert_int_equal(db_count(), 2000);
}

/* SIGINT while the input (a FIFO that stays open) waits: what was read is written, exit 130. */
static void sigint_writes_what_was_read(void **state) {
    (void)state;
    create_db();
    const char *fifo = path_of("in.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const test_proc_io io = {out_path, err_path, NULL};
    pid_t pid = test_proc_start(DV_DELTAVEC_BIN, &io, "ingest", db_dir, fifo, "--format", "fvecs", NULL);
    assert_true(pid > 0);
    int w = open(fifo, O_WRONLY); /* blocks until the command opened it */
    assert_true(w >= 0);
    for (uint32_t r = 0; r < 100; r++) {
        int32_t d = DIM;
        float v[DIM];
        for (uint32_t j = 0; j < DIM; j++) v[j] = value_of(r, j);
        assert_int_equal(write(w, &d, 4), 4);
        assert_int_equal(write(w, v, sizeof v), (ssize_t)sizeof v);
    }
    /* wait until the command has read every byte from the pipe (FIONREAD on the write end), then a
     * little more for it to parse them (they fit one batch: nothing is written yet) and wait again */
    int pending = 1;
    for (int i = 0; i < 3000 && pending > 0; i++) {
        assert_int_equal(ioctl(w, FIONREAD, &pending), 0);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(pending, 0);
    struct timespec settle = {0, 500 * 1000000L};
    nanosleep(&settle, NULL);
    assert_int_equal(kill(pid, SIGINT), 0);
    int rc = test_proc_wait(pid, 0);
    close(w);
    assert_int_equal(rc, 130); /* exited with 130: not 256 + SIGINT (killed by the signal) */
    test_read_text(out_path, out_text, sizeof out_text);
    test_read_text(err_path, err_text, sizeof err_text);
    assert_non_null(strstr(err_text, "stopped by signal 2"));
    assert_non_null(strstr(out_text, "100 records written"));
    assert_int_equal(db_count(), 100);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fvecs_file_loads_with_row_ids),
        cmocka_unit_test(jsonl_bad_record_stops_after_durable_prefix),
        cmocka_unit_test(csv_and_npy_load_and_fail_precisely),
        cmocka_unit_test(truncated_fvecs_stops_even_with_skip_bad),
        cmocka_unit_test(usage_and_setup_errors),
        cmocka_unit_test(progress_only_on_a_terminal),
        cmocka_unit_test(sigint_writes_what_was_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
