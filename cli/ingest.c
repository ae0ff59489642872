/*
 * ingest.c -- `deltavec ingest DIR FILE [--format F] [--batch N] [--skip-bad]`
 * (docs/CLI.md): streams the records of FILE (cli/ingest/ readers) into
 * the database directory DIR through dv_store_write_batch.
 *
 * Every record is checked before it is written: by the reader (format,
 * dimension, finite values) and by the store, which refuses a bad id or
 * metadata before changing anything. The first bad record stops the
 * command (exit 1) with the file, its row or line and the reason, after
 * the records before it are written and durable; --skip-bad skips such
 * records, names them and counts them. A file that cannot be read further
 * (truncated, framing lost) always stops it.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "batch.h"
#include "cli.h"
#include "common.h"
#include "dbdir.h"
#include "progress.h"
#include "reader.h"

#define SKIPPED_SHOWN 100 /* skipped records named one by one; past that only counted */

typedef struct ingest_opts {
    const char *dir, *file;
    ingest_format format;
    uint32_t batch;
    int skip_bad;
} ingest_opts;

typedef struct ingest_run {
    const ingest_opts *o;
    dv_store *store;
    ingest_reader *reader;
    ingest_batch batch;
    cli_progress progress;
    uint64_t written, skipped;
} ingest_run;

static volatile sig_atomic_t interrupted; /* the signal that asked us to stop, or 0 */

static void on_signal(int sig) { interrupted = sig; }

/* "deltavec ingest: FILE line 7: REASON" (or row N). */
static void print_problem(ingest_run *run, uint64_t pos, const char *reason, const char *suffix) {
    cli_progress_clear(&run->progress);
    fprintf(stderr, "deltavec ingest: %s %s %llu: %s%s\n", run->o->file,
            ingest_pos_unit(ingest_reader_format(run->reader)), (unsigned long long)pos, reason, suffix);
}

/* A bad record: stops the run (returns 1), or with --skip-bad names it and counts it (returns 0). */
static int bad_record(ingest_run *run, uint64_t pos, const char *reason) {
    if (!run->o->skip_bad) {
        print_problem(run, pos, reason, "");
        return 1;
    }
    if (run->skipped < SKIPPED_SHOWN)
        print_problem(run, pos, reason, " (skipped)");
    else if (run->skipped == SKIPPED_SHOWN)
        fprintf(stderr, "deltavec ingest: more bad records skipped; only counted from here\n");
    run->skipped++;
    return 0;
}

/* Statuses that mean "this record is bad", not "the store failed". */
static int record_status(dv_status st) {
    return st == DV_EID || st == DV_EEXIST || st == DV_EMETA || st == DV_EDIM || st == DV_ENONFINITE ||
           st == DV_ETOOBIG;
}

/* Writes the batch; a refused record is reported (or skipped) and the rest goes on. 0, or 1 to stop. */
static int flush(ingest_run *run) {
    ingest_batch *b = &run->batch;
    const dv_store_op *ops = ingest_batch_ops(b);
    size_t from = 0;
    while (from < b->n) {
        size_t done = 0;
        dv_status st = dv_store_write_batch(run->store, ops + from, b->n - from, &done);
        run->written += done;
        from += done;
        if (st == DV_OK) break;
        if (!record_status(st)) {
            cli_progress_clear(&run->progress);
            fprintf(stderr, "deltavec ingest: %s: %s: %s\n", run->o->dir, dv_status_name(st),
                    dv_store_last_error(run->store));
            return 1;
        }
        char reason[512];
        snprintf(reason, sizeof reason, "id \"%s\": %s: %s", ops[from].id, dv_status_name(st),
                 dv_strerror(st));
        if (bad_record(run, b->pos[from], reason)) return 1;
        from++;
    }
    ingest_batch_clear(b);
    return 0;
}

static void show_progress(ingest_run *run) {
    cli_progress_update(&run->progress, run->written + run->batch.n, ingest_rows_total(run->reader),
                        ingest_bytes_read(run->reader), ingest_bytes_total(run->reader));
}

/* SIGINT/SIGTERM: the records read so far are written, then 128 + the signal. */
static int stop_on_signal(ingest_run *run) {
    int rc = flush(run);
    cli_progress_clear(&run->progress);
    fprintf(stderr, "deltavec ingest: stopped by signal %d; the records written so far are durable\n",
            (int)interrupted);
    return rc ? rc : 128 + interrupted;
}

/* Reads and writes until the end of the file: 0, or the exit status after printing why it stopped. */
static int copy_records(ingest_run *run) {
    for (;;) {
        if (interrupted) return stop_on_signal(run);
        ingest_record rec;
        ingest_error err;
        ingest_result rc = ingest_next(run->reader, &rec, &err);
        /* a read cut short by the signal (a pipe, a FIFO) is the signal, not a bad file */
        if (rc != INGEST_RECORD && interrupted) return stop_on_signal(run);
        if (rc == INGEST_END) return flush(run);
        if (rc == INGEST_RECORD) {
            if (ingest_batch_add(&run->batch, &rec) != 0) {
                fprintf(stderr, "deltavec ingest: out of memory\n");
                return 1;
            }
            if (run->batch.n == run->batch.cap && flush(run)) return 1;
            show_progress(run);
            continue;
        }
        /* what came before the bad record is written first: it stays durable whatever follows */
        if (flush(run)) return 1;
        if (rc == INGEST_FATAL) { /* the file cannot be read past this point: --skip-bad cannot help */
            print_problem(run, err.pos, err.reason, "");
            return 1;
        }
        if (bad_record(run, err.pos, err.reason)) return 1;
    }
}

static int run_ingest(const ingest_opts *o) {
    ingest_run run = {.o = o};
    if (cli_store_open(o->dir, 1, &run.store)) return CLI_EXIT_FAIL; /* it said why */
    uint32_t dim = dv_db_dim(dv_store_db(run.store));
    ingest_error err;
    int rc = 1;
    if (ingest_open(o->file, o->format, dim, &run.reader, &err) != 0) {
        fprintf(stderr, "deltavec ingest: %s: %s\n", o->file, err.reason);
    } else if (ingest_batch_init(&run.batch, o->batch, dim) != 0) {
        fprintf(stderr, "deltavec ingest: out of memory for a batch of %u\n", o->batch);
    } else {
        double t0 = cli_now_us();
        cli_progress_start(&run.progress, stderr);
        rc = copy_records(&run);
        cli_progress_clear(&run.progress);
        dv_status st = dv_store_sync(run.store);
        if (st != DV_OK) {
            fprintf(stderr, "deltavec ingest: %s: sync: %s\n", o->dir, dv_store_last_error(run.store));
            rc = 1;
        }
        double s = (cli_now_us() - t0) / 1e6;
        printf("%llu records written, %llu skipped, in %.2f s (%.0f/s); %s at sequence %llu\n",
               (unsigned long long)run.written, (unsigned long long)run.skipped, s,
               s > 0 ? (double)run.written / s : 0.0, o->dir,
               (unsigned long long)dv_store_sequence(run.store));
    }
    ingest_batch_free(&run.batch);
    ingest_close(run.reader);
    dv_store_close(run.store);
    return rc;
}

static const char *const FORMATS[] = {"fvecs", "bvecs", "npy", "jsonl", "csv", NULL}; /* ingest_format - 1 */

static int run_ingest_cmd(const cli_command *self, int argc, char **argv) {
    ingest_opts o = {.batch = 1024, .format = INGEST_AUTO};
    int format = -1;
    cli_list pos = {0};
    cli_opt opts[] = {{"--format", NULL, CLI_CHOICE, &format, 0, 0, FORMATS, 0},
                      {"--batch", NULL, CLI_U32, &o.batch, 1, 1000000, NULL, 0},
                      {"--skip-bad", NULL, CLI_FLAG, &o.skip_bad, 0, 0, NULL, 0},
                      CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 2, 2);
    if (rc == 0) {
        if (format >= 0) o.format = (ingest_format)(format + 1);
        o.dir = pos.v[0];
        o.file = pos.v[1];
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = run_ingest(&o);
    }
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_ingest = {
    "ingest", "add the vectors of a file (.fvecs .bvecs .npy .jsonl .csv)",
    "usage: deltavec ingest DIR FILE [--format fvecs|bvecs|npy|jsonl|csv] [--batch N] [--skip-bad]\n"
    "  Streams FILE into DIR (made by deltavec create), --batch records (default 1024, 1..1000000)\n"
    "  per durable write. The format comes from FILE's extension unless --format is given (FILE -\n"
    "  reads standard input). Ids: the row number (from 0) for .fvecs/.bvecs/.npy, the \"id\" field\n"
    "  of JSONL ({\"id\": ..., \"vector\": [...], \"metadata\": {...}}), the first column of CSV.\n"
    "  Each record is checked before it is written; the first bad one stops the command (exit 1)\n"
    "  naming the file, the line (text) or row (binary) and the reason, after the records before it\n"
    "  are durable. --skip-bad skips bad records instead, naming and counting them. A progress line\n"
    "  (rate, ETA) is shown when stderr is a terminal. Needs the writer lock.\n",
    run_ingest_cmd};
