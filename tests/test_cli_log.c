/*
 * test_cli_log.c -- `deltavec log dump` run as a process on a database
 * directory that changes while it reads: a segment that a writer's
 * retention removes after the dump listed the directory is a note (exit
 * 0), not a problem, and the segment after it is not a gap.
 *
 * The removal lands at exactly that moment, without a hook in the
 * command: the first segment is replaced by a FIFO of the same name. The
 * dump lists the directory (a FIFO is listed like a file), then blocks
 * opening the FIFO until this test opens it for writing; the test removes
 * the second segment, then feeds the first one's bytes through the FIFO.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "log_util.h"
#include "support/cli_process.h"

#define MAX_SEGS 64

static char scratch[256], db_dir[300], out_path[300], err_path[300];
static char out_text[65536], err_text[65536];

/* A directory of several segments: the smallest segment size holds about two records. */
static void create_segmented_db(void) {
    dv_db_config c;
    lu_config(&c);
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.segment_bytes = 256;
    sc.sync = DV_SYNC_NONE;
    dv_store *s = NULL;
    assert_int_equal(dv_store_open(db_dir, &sc, &s, NULL), DV_OK);
    for (unsigned i = 0; i < 12; i++) {
        char id[16];
        float v[LU_DIM];
        snprintf(id, sizeof id, "v%u", i);
        lu_vec(v, i, 0);
        assert_int_equal(dv_store_insert(s, id, v, NULL, 0), DV_OK);
    }
    dv_store_close(s);
}

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

/* The segment file names in log order (20-digit sequences: name order is log order); their count. */
static size_t list_segments(char names[MAX_SEGS][32]) {
    DIR *d = opendir(db_dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len == 24 && strcmp(e->d_name + 20, ".dvs") == 0 && n < MAX_SEGS)
            snprintf(names[n++], 32, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    return n;
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *b = malloc(65536);
    assert_non_null(b);
    *len = fread(b, 1, 65536, f);
    assert_true(*len > 0 && *len < 65536);
    fclose(f);
    return b;
}

/* The FIFO opened for writing once a reader has opened it (-1 when none did within seconds). */
static int open_when_read(const char *fifo, int seconds) {
    for (int i = 0; i < seconds * 100; i++) {
        int fd = open(fifo, O_WRONLY | O_NONBLOCK);
        if (fd >= 0) return fd;
        if (errno != ENXIO) return -1; /* ENXIO: no reader yet */
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void segment_removed_after_the_listing_is_a_note(void **state) {
    (void)state;
    create_segmented_db();
    char names[MAX_SEGS][32];
    size_t n = list_segments(names);
    assert_true(n >= 3); /* the removed one must not be the last: the last one is the writer's */
    char first[400], second[400];
    snprintf(first, sizeof first, "%s/%s", db_dir, names[0]);
    snprintf(second, sizeof second, "%s/%s", db_dir, names[1]);
    size_t len = 0;
    uint8_t *bytes = read_all(first, &len);
    assert_int_equal(unlink(first), 0);
    assert_int_equal(mkfifo(first, 0600), 0);

    const test_proc_io io = {out_path, err_path, NULL};
    pid_t pid = test_proc_start(DV_DELTAVEC_BIN, &io, "log", "dump", db_dir, NULL);
    assert_true(pid > 0);
    int fd = open_when_read(first, 60); /* the dump has listed every segment and waits on the first */
    if (fd < 0) {
        test_proc_wait(pid, 1);
        fail_msg("the dump never opened %s", names[0]);
    }
    assert_int_equal(unlink(second), 0); /* as a checkpoint's retention would */
    assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    close(fd);
    free(bytes);
    int rc = test_proc_wait(pid, 60);
    test_read_text(out_path, out_text, sizeof out_text);
    test_read_text(err_path, err_text, sizeof err_text);
    if (rc != 0) fail_msg("log dump exited with %d: %s", rc, err_text);

    char want[200];
    snprintf(want, sizeof want, "note: %s was removed by the writer (retention) while the dump ran",
             names[1]);
    assert_non_null(strstr(err_text, want));
    assert_non_null(strstr(err_text, " 0 problems")); /* and no gap before the third segment */
    /* every other segment's records are shown */
    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof want, "%s@80 seq=", names[i]);
        if (i == 1)
            assert_null(strstr(out_text, want));
        else
            assert_non_null(strstr(out_text, want));
    }
}

static int setup(void **state) {
    (void)state;
    lu_cli_scratch("cli-log", scratch, db_dir, out_path, err_path);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    lu_rmdir(scratch); /* and all in it */
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(segment_removed_after_the_listing_is_a_note),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
