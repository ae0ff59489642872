/*
 * test_writer.c -- a second process writing a database directory, for
 * test_readonly.sh: the read-only commands must work while it runs.
 *
 *   deltavec_test_writer DIR STOP1 DONE STOP2
 *
 * Opens DIR as its writer (sync none: the test is about readers, not the
 * disk) and inserts w0, w1, ... (dim from the directory, values from the
 * row number), one every 5 ms, with a checkpoint every 10 (whose
 * retention removes segments under the readers), until the file STOP1 exists; then writes the number of
 * inserts to DONE (via a temporary file and rename, so the reader never
 * sees half of it) and keeps the directory open, idle, until STOP2
 * exists. Exit status 0, or 1 if a write failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "deltavec.h"

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void nap(void) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static int report_count(const char *done, unsigned long n) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", done);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%lu\n", n) < 0 || fclose(f) != 0) return 1;
    return rename(tmp, done) != 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: deltavec_test_writer DIR STOP1 DONE STOP2\n");
        return 2;
    }
    dv_store_config cfg;
    dv_store_config_default(&cfg);
    cfg.sync = DV_SYNC_NONE;
    dv_store *s = NULL;
    dv_recovery_report r;
    dv_status st = dv_store_open(argv[1], &cfg, &s, &r);
    if (st != DV_OK) {
        fprintf(stderr, "test_writer: open: %s: %s\n", dv_status_name(st), r.message);
        return 1;
    }
    uint32_t dim = dv_db_dim(dv_store_db(s));
    float *v = malloc(dim * sizeof *v);
    unsigned long n = 0;
    int rc = v ? 0 : 1;
    while (!rc && !exists(argv[2])) {
        char id[32];
        snprintf(id, sizeof id, "w%lu", n);
        for (uint32_t d = 0; d < dim; d++) v[d] = (float)((n * 7 + d * 3) % 101) / 101.0f;
        if ((st = dv_store_insert(s, id, v, NULL, 0)) != DV_OK) {
            fprintf(stderr, "test_writer: insert %s: %s\n", id, dv_status_name(st));
            rc = 1;
        }
        n++;
        if (!rc && n % 10 == 0 && (st = dv_store_checkpoint(s, NULL)) != DV_OK) { /* readers meet retention */
            fprintf(stderr, "test_writer: checkpoint: %s\n", dv_status_name(st));
            rc = 1;
        }
        nap(); /* about 200 writes a second: the log stays small enough for every reader to replay */
    }
    if (!rc) rc = report_count(argv[3], n);
    while (!rc && !exists(argv[4])) nap();
    free(v);
    dv_store_close(s);
    return rc;
}
