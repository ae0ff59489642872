/*
 * log_dump.c -- `deltavec log dump DIR|FILE [--from SEQ] [--json]`: every
 * record of a directory's log (its segments in order) or of one stream
 * file, from sequence SEQ on. Read-only: the files are only read, so it
 * works while another process writes the directory; a last record that is
 * still being appended is reported as a note, not as damage.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"
#include "logscan.h"

typedef struct dump_ctx {
    const char *name; /* file being read */
    uint64_t from;
    int json, last_file, failed;
    uint64_t shown, problems;
} dump_ctx;

static int record_json(dump_ctx *d, const dv_stream_record *rec, const char *line) {
    char sum[17];
    cli_hex64(rec->h.checksum, sum);
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "file", d->name) &&
             cJSON_AddNumberToObject(o, "offset", (double)rec->offset) &&
             cJSON_AddNumberToObject(o, "sequence", (double)rec->h.sequence) &&
             cJSON_AddStringToObject(o, "op", dv_delta_op_name(rec->h.operation)) &&
             cJSON_AddNumberToObject(o, "flags", rec->h.flags) &&
             cJSON_AddNumberToObject(o, "id_hash", rec->h.vector_id_hash) &&
             cJSON_AddNumberToObject(o, "timestamp", (double)rec->h.timestamp) &&
             cJSON_AddNumberToObject(o, "payload_size", rec->h.payload_size) &&
             cJSON_AddNumberToObject(o, "prev_sequence", (double)rec->h.prev_sequence) &&
             cJSON_AddStringToObject(o, "checksum", sum) && cJSON_AddStringToObject(o, "describe", line);
    if (!ok) {
        cJSON_Delete(o);
        o = NULL;
    }
    return cli_json_print(o);
}

static int on_record(void *ctx, const dv_stream_record *rec, const char *line) {
    dump_ctx *d = ctx;
    if (rec->h.sequence < d->from) return 0;
    d->shown++;
    if (d->json) {
        if (record_json(d, rec, line)) {
            d->failed = 1;
            return 1;
        }
        return 0;
    }
    printf("%s@%llu %s\n", d->name, (unsigned long long)rec->offset, line);
    return 0;
}

static int on_problem(void *ctx, dv_status st, uint64_t offset, const char *msg) {
    dump_ctx *d = ctx;
    if (st == DV_ETRUNCATED && d->last_file) {
        fprintf(stderr,
                "deltavec log dump: note: %s at offset %llu: the last record is incomplete (a writer is "
                "appending it, or a torn tail that the next writer cuts)\n",
                d->name, (unsigned long long)offset);
        return 0;
    }
    d->problems++;
    fprintf(stderr, "deltavec log dump: %s at offset %llu: %s: %s\n", d->name, (unsigned long long)offset,
            dv_status_name(st), msg);
    return 0;
}

/* Skips a segment when the next one starts at or before --from: none of its records is wanted. */
static int wanted(const cli_log_files *lf, size_t i, uint64_t from) {
    return !lf->is_dir || i + 1 >= lf->n || lf->files[i + 1].seq > from;
}

static int dump_all(const cli_log_files *lf, dump_ctx *d) {
    uint64_t last = 0;
    for (size_t i = 0; i < lf->n && !d->failed; i++) {
        if (!wanted(lf, i, d->from)) continue;
        char path[4200];
        cli_log_file_path(lf, i, path, sizeof path, &d->name);
        d->last_file = lf->is_dir && i + 1 == lf->n;
        cli_scan_cb cb = {NULL, on_record, on_problem, d, lf->is_dir && !d->last_file};
        cli_scan_result res;
        cli_scan_file(path, &cb, &res);
        if (res.missing && cb.missing_ok) { /* retention of a writer removed it after we listed it */
            fprintf(stderr,
                    "deltavec log dump: note: %s was removed by the writer (retention) while the dump ran\n",
                    d->name);
            last = 0; /* the next segment is not a gap after the removed one */
            continue;
        }
        if (lf->is_dir && res.has_info && last && res.info.first_sequence != last + 1)
            on_problem(d, DV_EGAP, 0, "segment does not follow the previous one");
        if (res.last_sequence)
            last = res.last_sequence;
        else if (res.has_info)
            last = res.info.first_sequence - 1;
    }
    return d->failed || d->problems ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int run_log_dump(const cli_command *self, int argc, char **argv) {
    dump_ctx d;
    memset(&d, 0, sizeof d);
    cli_list pos = {0};
    cli_opt opts[] = {{"--from", NULL, CLI_U64, &d.from, 1, UINT64_MAX, NULL, 0},
                      {"--json", NULL, CLI_FLAG, &d.json, 0, 0, NULL, 0},
                      CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    cli_log_files lf = {0};
    if (rc == 0) rc = cli_log_files_open(self->name, pos.v[0], &lf);
    if (rc == 0) {
        rc = dump_all(&lf, &d);
        if (!d.json)
            fprintf(stderr, "%llu records shown, %llu problem%s\n", (unsigned long long)d.shown,
                    (unsigned long long)d.problems, d.problems == 1 ? "" : "s");
    }
    cli_log_files_free(&lf);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_log_dump = {
    "log dump", "print the records of a log",
    "usage: deltavec log dump DIR|FILE [--from SEQ] [--json]\n"
    "  Prints one line per record of DIR's log segments (in order) or of the stream FILE:\n"
    "  FILE@OFFSET then the delta (sequence, operation, flags, id hash, sizes). Problems go to\n"
    "  stderr with their offset (exit 1). A last record still being written is a note (exit 0).\n"
    "  --from  only records with sequence >= SEQ\n"
    "  --json  one JSON object per record per line: file, offset, sequence, op, flags, id_hash,\n"
    "          timestamp, payload_size, prev_sequence, checksum, describe\n"
    "  Read-only: works while another process writes DIR.\n",
    run_log_dump};
