/*
 * log_verify.c -- `deltavec log verify DIR|FILE`: exit 0 only if every
 * record is intact and in order; else the first problem, with its file and
 * byte offset, and exit 1.
 *
 * For a directory it also checks what recovery relies on: each segment's
 * header names the first sequence its file name says, the segments follow
 * each other without gap or overlap, every snapshot loads (all checksums,
 * the recomputed state hash), and the log covers the newest snapshot
 * onwards (docs/STORAGE.md "Recovery"). Read-only.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"
#include "logscan.h"

typedef struct verify_ctx {
    const char *name;
    int failed;
} verify_ctx;

static void fail(verify_ctx *v, const char *name, dv_status st, uint64_t offset, const char *msg) {
    if (v->failed) return;
    v->failed = 1;
    printf("%s at offset %llu: %s: %s\n", name, (unsigned long long)offset, dv_status_name(st), msg);
}

static int on_problem(void *ctx, dv_status st, uint64_t offset, const char *msg) {
    verify_ctx *v = ctx;
    fail(v, v->name, st, offset, msg);
    return 1; /* the first problem is the answer */
}

/* One segment: intact, named after its first sequence, following the previous one (*last). */
static void verify_segment(verify_ctx *v, const cli_log_files *lf, size_t i, uint64_t *last,
                           uint64_t *records) {
    char path[4200], msg[160];
    cli_log_file_path(lf, i, path, sizeof path, &v->name);
    cli_scan_cb cb = {NULL, NULL, on_problem, v, 0};
    cli_scan_result res;
    cli_scan_file(path, &cb, &res);
    *records += res.records;
    if (v->failed || !lf->is_dir) {
        if (res.last_sequence) *last = res.last_sequence;
        return;
    }
    uint64_t first = res.info.first_sequence;
    if (first != lf->files[i].seq) {
        snprintf(msg, sizeof msg, "stream header says first sequence %llu, the file name %llu",
                 (unsigned long long)first, (unsigned long long)lf->files[i].seq);
        fail(v, v->name, DV_ECORRUPT, 0, msg);
    } else if (i > 0 && first != *last + 1) {
        snprintf(msg, sizeof msg, "segment starts at sequence %llu, the previous one ends at %llu",
                 (unsigned long long)first, (unsigned long long)*last);
        fail(v, v->name, first > *last + 1 ? DV_EGAP : DV_EDUPLICATE, 0, msg);
    }
    *last = res.last_sequence ? res.last_sequence : first - 1;
}

/* Loads a whole snapshot file (every checksum and the state hash are checked). */
static void verify_snapshot(verify_ctx *v, const char *dir, const cli_dir_file *f) {
    char path[4200], msg[256] = "";
    snprintf(path, sizeof path, "%s/%s", dir, f->name);
    dv_db *db = NULL;
    dv_snapshot_meta meta;
    dv_status s = dv_snapshot_load_file(path, NULL, NULL, &db, &meta, msg, sizeof msg);
    if (s != DV_OK) {
        fail(v, f->name, s, 0, msg[0] ? msg : dv_strerror(s));
    } else if (meta.sequence != f->seq) {
        snprintf(msg, sizeof msg, "snapshot says sequence %llu, the file name %llu",
                 (unsigned long long)meta.sequence, (unsigned long long)f->seq);
        fail(v, f->name, DV_ECORRUPT, 0, msg);
    }
    dv_snapshot_meta_release(&meta, NULL);
    dv_db_close(db);
}

static int verify_dir(verify_ctx *v, const cli_log_files *lf) {
    uint64_t last = 0, records = 0;
    for (size_t i = 0; i < lf->n && !v->failed; i++) verify_segment(v, lf, i, &last, &records);
    cli_dir_file *snaps = NULL;
    size_t ns = 0;
    if (!v->failed && cli_dir_list(lf->arg, ".dvp", &snaps, &ns))
        fail(v, lf->arg, DV_EIO, 0, strerror(errno));
    for (size_t i = 0; i < ns && !v->failed; i++) verify_snapshot(v, lf->arg, &snaps[i]);
    uint64_t newest = ns ? snaps[ns - 1].seq : 0, first = lf->files[0].seq;
    char msg[160];
    if (!v->failed && (first > newest + 1 || last < newest)) {
        snprintf(msg, sizeof msg, "the log holds sequences %llu..%llu, recovery needs %llu onwards",
                 (unsigned long long)first, (unsigned long long)last, (unsigned long long)newest + 1);
        fail(v, lf->files[0].name, DV_EGAP, 0, msg);
    }
    if (!v->failed) {
        printf("ok: %zu segment%s, %llu records", lf->n, lf->n == 1 ? "" : "s", (unsigned long long)records);
        if (last >= first)
            printf(" (sequences %llu..%llu)", (unsigned long long)first, (unsigned long long)last);
        else
            printf(" (none after sequence %llu)", (unsigned long long)last);
        printf(", %zu snapshot%s\n", ns, ns == 1 ? "" : "s");
    }
    free(snaps);
    return v->failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int run_log_verify(const cli_command *self, int argc, char **argv) {
    cli_list pos = {0};
    cli_opt opts[] = {CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    cli_log_files lf = {0};
    verify_ctx v = {NULL, 0};
    if (rc == 0) rc = cli_log_files_open(self->name, pos.v[0], &lf);
    if (rc == 0 && lf.is_dir) {
        rc = verify_dir(&v, &lf);
    } else if (rc == 0) {
        uint64_t last = 0, records = 0;
        verify_segment(&v, &lf, 0, &last, &records);
        if (!v.failed)
            printf("ok: %llu records, last sequence %llu\n", (unsigned long long)records,
                   (unsigned long long)last);
        rc = v.failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    cli_log_files_free(&lf);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_log_verify = {
    "log verify", "check a log",
    "usage: deltavec log verify DIR|FILE\n"
    "  Exit 0 only if every record is intact and in order. For DIR also: each segment's header\n"
    "  matches its name, the segments follow each other, every snapshot loads, and the log reaches\n"
    "  from the newest snapshot on. Otherwise prints the first problem as\n"
    "  'FILE at offset N: STATUS: message' and exits 1. Read-only.\n",
    run_log_verify};
