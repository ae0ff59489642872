/*
 * dump.c -- `deltavec dump FILE`: print and check a stream file.
 *
 * A stream is a stream header then records, each a delta (docs/FORMAT.md
 * section 10). logscan.c reads it in chunks through the library's
 * incremental reader: the header (config, first sequence, producer, db id)
 * is printed, then one line per record with its byte offset, and every
 * problem -- gap, duplicate, checksum, payload that does not decode,
 * unreadable record header, torn tail -- as an "error at offset N" line
 * where it occurs. Exit status 1 if there was any problem, including an
 * empty file or one that is not a stream (each with its own message).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "deltavec.h"
#include "logscan.h"

typedef struct dump_ctx {
    const char *path;
} dump_ctx;

static const char *metric_name(uint32_t m) {
    static const char *const names[] = {"l2", "ip", "cosine"};
    return m < 3 ? names[m] : "?";
}

static void print_header(void *ctx, const dv_stream_info *in) {
    static const char *const lossy[] = {"lossless", "lossy f16", "lossy i8"};
    (void)ctx;
    printf("stream: container version %u, header %u bytes, record format %u, %s, %s\n", in->version,
           in->header_size, in->delta_version, in->mode == DV_STREAM_LOGICAL ? "logical" : "structural",
           lossy[in->lossy < 3 ? in->lossy : 0]);
    printf("config: dim %u, metric %s, M %u, ef_construction %u, seed %llu, relink_ratio %g\n", in->dim,
           metric_name(in->metric), in->M, in->ef_construction, (unsigned long long)in->seed,
           (double)in->relink_ratio);
    printf("first sequence %llu, producer %u.%u.%u, db id ", (unsigned long long)in->first_sequence,
           in->producer_version / 10000, in->producer_version / 100 % 100, in->producer_version % 100);
    for (int i = 0; i < DV_STREAM_DB_ID_SIZE; i++) printf("%02x", in->db_id[i]);
    printf("\n");
}

static int print_record(void *ctx, const dv_stream_record *rec, const char *line) {
    (void)ctx;
    printf("@%llu %s\n", (unsigned long long)rec->offset, line);
    return 0;
}

static int print_problem(void *ctx, dv_status st, uint64_t offset, const char *msg) {
    const dump_ctx *d = ctx;
    if (st == DV_ENOTSTREAM || st == DV_EEMPTY || st == DV_EIO)
        fprintf(stderr, "%s: %s\n", d->path, msg);
    else
        printf("error at offset %llu: %s: %s\n", (unsigned long long)offset, dv_status_name(st), msg);
    return 0;
}

static int run_dump(const cli_command *self, int argc, char **argv) {
    cli_opt opts[] = {CLI_OPT_END};
    cli_list pos = {0};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    if (rc == 0) {
        dump_ctx d = {pos.v[0]};
        cli_scan_cb cb = {print_header, print_record, print_problem, &d, 0};
        cli_scan_result res;
        uint64_t problems = cli_scan_file(d.path, &cb, &res);
        fprintf(stderr, "%llu records, %llu problem%s\n", (unsigned long long)res.records,
                (unsigned long long)problems, problems == 1 ? "" : "s");
        rc = problems ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_dump = {
    "dump", "print and check any stream file (a log segment, a demo --stream file)",
    "usage: deltavec dump FILE\n"
    "  Prints the stream header of FILE, one line per record (@OFFSET then the delta), and every\n"
    "  problem as 'error at offset N: STATUS: message'. Exit status 1 if there was any problem.\n",
    run_dump};
