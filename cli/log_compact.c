/*
 * log_compact.c -- `deltavec log compact DIR`: structural compaction of a
 * directory's log. A checkpoint that keeps only the newest snapshot: every
 * segment before it is removed, so the directory shrinks to one snapshot
 * plus an empty segment (docs/STORAGE.md "Compaction": snapshot + tail
 * gives the same state as the whole log). The command then reopens the
 * directory read-only and checks that the state hash did not change.
 */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

typedef struct log_size {
    size_t segments, snapshots;
    uint64_t bytes; /* segments and snapshots */
} log_size;

static int measure(const char *dir, log_size *out) {
    cli_dir_file *f = NULL;
    size_t n = 0;
    *out = (log_size){0, 0, 0};
    if (cli_dir_list(dir, ".dvs", &f, &n)) return -1;
    out->segments = n;
    for (size_t i = 0; i < n; i++) out->bytes += f[i].size;
    free(f);
    if (cli_dir_list(dir, ".dvp", &f, &n)) return -1;
    out->snapshots = n;
    for (size_t i = 0; i < n; i++) out->bytes += f[i].size;
    free(f);
    return 0;
}

static void print_size(const log_size *z) {
    printf("%zu segment%s + %zu snapshot%s, %llu bytes", z->segments, z->segments == 1 ? "" : "s",
           z->snapshots, z->snapshots == 1 ? "" : "s", (unsigned long long)z->bytes);
}

static int compact(const char *dir) {
    dv_store_config cfg;
    dv_store_config_default(&cfg);
    cfg.keep_snapshots = 1;
    dv_store *s = NULL;
    log_size before, after;
    if (cli_store_open_config(dir, &cfg, &s) != 0) return CLI_EXIT_FAIL;
    if (measure(dir, &before) != 0) {
        fprintf(stderr, "deltavec log compact: %s: cannot list the directory\n", dir);
        dv_store_close(s);
        return CLI_EXIT_FAIL;
    }
    uint64_t seq = 0, hash = dv_db_state_hash(dv_store_db(s));
    dv_status st = dv_store_checkpoint(s, &seq);
    if (st != DV_OK)
        fprintf(stderr, "deltavec log compact: %s: %s: %s\n", dir, dv_status_name(st),
                dv_store_last_error(s));
    dv_store_close(s);
    if (st != DV_OK) return CLI_EXIT_FAIL;
    dv_store *check = NULL;
    if (cli_store_open(dir, 0, &check) != 0) return CLI_EXIT_FAIL;
    uint64_t reopened = dv_db_state_hash(dv_store_db(check));
    dv_store_close(check);
    char h[17];
    cli_hex64(hash, h);
    if (reopened != hash || measure(dir, &after) != 0) {
        fprintf(stderr, "deltavec log compact: %s: the reopened state differs from the compacted one\n", dir);
        return CLI_EXIT_FAIL;
    }
    printf("compacted %s at sequence %llu: ", dir, (unsigned long long)seq);
    print_size(&before);
    printf(" -> ");
    print_size(&after);
    printf("; state hash %s unchanged\n", h);
    return CLI_EXIT_OK;
}

static int run_log_compact(const cli_command *self, int argc, char **argv) {
    cli_list pos = {0};
    cli_opt opts[] = {CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    if (rc == 0) rc = compact(pos.v[0]);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_log_compact = {
    "log compact", "compact a log into one snapshot",
    "usage: deltavec log compact DIR\n"
    "  Writes a snapshot of the current state and removes every older snapshot and log segment:\n"
    "  the directory becomes one snapshot plus an empty segment. Reopens DIR to check that the\n"
    "  state hash is unchanged. Needs the writer lock: fails while another process writes DIR.\n",
    run_log_compact};
