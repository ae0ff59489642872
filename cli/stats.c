/*
 * stats.c -- `deltavec stats DIR [--json]`: what a database directory
 * holds. Opens it read-only (works while another process writes); the
 * config and mode come from the newest segment's stream header, the file
 * figures from the directory listing.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

typedef struct stats {
    uint64_t count, position, log_bytes, snapshot_seq, memory;
    uint64_t n_segments, n_snapshots;
    int64_t snapshot_age; /* seconds; -1 without a snapshot */
    uint64_t state_hash;
    dv_stream_info info;
} stats;

static int collect(const char *dir, const dv_store *s, stats *st) {
    cli_dir_file *segs = NULL, *snaps = NULL;
    size_t ns = 0, np = 0;
    if (cli_dir_list(dir, ".dvs", &segs, &ns) || cli_dir_list(dir, ".dvp", &snaps, &np) || ns == 0) {
        fprintf(stderr, "deltavec stats: %s: cannot list its log segments\n", dir);
        free(segs);
        free(snaps);
        return CLI_EXIT_FAIL;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, segs[ns - 1].name);
    dv_status hs = cli_read_stream_header(path, &st->info);
    const dv_db *db = dv_store_db(s);
    st->count = dv_db_count(db);
    st->position = dv_store_sequence(s);
    st->state_hash = dv_db_state_hash(db);
    st->memory = dv_db_memory_usage(db);
    st->n_segments = ns;
    st->n_snapshots = np;
    for (size_t i = 0; i < ns; i++) st->log_bytes += segs[i].size;
    st->snapshot_seq = np ? snaps[np - 1].seq : 0;
    st->snapshot_age = np ? (int64_t)time(NULL) - snaps[np - 1].mtime : -1;
    free(segs);
    free(snaps);
    if (hs != DV_OK) {
        fprintf(stderr, "deltavec stats: %s: %s\n", path, dv_status_name(hs));
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static const char *mode_name(const stats *st) {
    return st->info.mode == DV_STREAM_LOGICAL ? "logical" : "structural";
}

static void print_text(const stats *st) {
    char hash[17];
    cli_hex64(st->state_hash, hash);
    printf("count            %llu\n", (unsigned long long)st->count);
    printf("dim              %u\n", st->info.dim);
    printf("metric           %s\n", cli_metric_name(st->info.metric));
    printf("mode             %s\n", mode_name(st));
    printf("M                %u\n", st->info.M);
    printf("ef_construction  %u\n", st->info.ef_construction);
    printf("position         %llu\n", (unsigned long long)st->position);
    printf("state_hash       %s\n", hash);
    printf("log_segments     %llu\n", (unsigned long long)st->n_segments);
    printf("log_bytes        %llu\n", (unsigned long long)st->log_bytes);
    if (st->n_snapshots)
        printf("snapshot         sequence %llu, %lld s old (%llu kept)\n",
               (unsigned long long)st->snapshot_seq, (long long)st->snapshot_age,
               (unsigned long long)st->n_snapshots);
    else
        printf("snapshot         none\n");
    printf("memory_bytes     %llu\n", (unsigned long long)st->memory);
}

static int print_json(const stats *st) {
    char hash[17];
    cli_hex64(st->state_hash, hash);
    cJSON *o = cJSON_CreateObject();
    int ok =
        o && cJSON_AddNumberToObject(o, "count", (double)st->count) &&
        cJSON_AddNumberToObject(o, "dim", st->info.dim) &&
        cJSON_AddStringToObject(o, "metric", cli_metric_name(st->info.metric)) &&
        cJSON_AddStringToObject(o, "mode", mode_name(st)) && cJSON_AddNumberToObject(o, "M", st->info.M) &&
        cJSON_AddNumberToObject(o, "ef_construction", st->info.ef_construction) &&
        cJSON_AddNumberToObject(o, "position", (double)st->position) &&
        cJSON_AddStringToObject(o, "state_hash", hash) &&
        cJSON_AddNumberToObject(o, "log_segments", (double)st->n_segments) &&
        cJSON_AddNumberToObject(o, "log_bytes", (double)st->log_bytes) &&
        cJSON_AddNumberToObject(o, "snapshots", (double)st->n_snapshots) &&
        (st->n_snapshots
             ? cJSON_AddNumberToObject(o, "snapshot_sequence", (double)st->snapshot_seq) &&
                   cJSON_AddNumberToObject(o, "snapshot_age_s", (double)st->snapshot_age)
             : cJSON_AddNullToObject(o, "snapshot_sequence") && cJSON_AddNullToObject(o, "snapshot_age_s")) &&
        cJSON_AddNumberToObject(o, "memory_bytes", (double)st->memory);
    if (!ok) {
        cJSON_Delete(o);
        o = NULL;
    }
    return cli_json_print(o);
}

static int run_stats(const cli_command *self, int argc, char **argv) {
    int json = 0;
    cli_list pos = {0};
    cli_opt opts[] = {{"--json", NULL, CLI_FLAG, &json, 0, 0, NULL, 0}, CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    dv_store *s = NULL;
    stats st = {0};
    if (rc == 0) rc = cli_store_open(pos.v[0], 0, &s);
    if (rc == 0) rc = collect(pos.v[0], s, &st);
    if (rc == 0) {
        if (json)
            rc = print_json(&st);
        else
            print_text(&st);
    }
    dv_store_close(s);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_stats = {
    "stats", "what a database directory holds (read-only)",
    "usage: deltavec stats DIR [--json]\n"
    "  Prints count, dim, metric, mode, M, ef_construction, position (the sequence of the last delta),\n"
    "  state_hash (hex), log segments and bytes, the newest snapshot's sequence and age, memory.\n"
    "  --json prints one object with those keys (snapshot_sequence and snapshot_age_s null when\n"
    "  there is no snapshot). Read-only: works while another process writes DIR.\n",
    run_stats};
