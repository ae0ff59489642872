/*
 * create.c -- `deltavec create DIR --dim N ...`: a new database directory.
 *
 * The config (dim, metric, M, ef_construction) and the log mode are the
 * library's and live in every segment header and snapshot; the sync policy
 * is how a writer waits for the disk, not part of the data, so the CLI
 * remembers it in DIR/cli.json for its later writing commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

static const char *const MODES[] = {"structural", "logical", NULL};

static int refuse_existing(const char *dir) {
    cli_dir_file *segs = NULL, *snaps = NULL;
    size_t n_segs = 0, n_snaps = 0;
    int exists = cli_dir_list(dir, ".dvs", &segs, &n_segs) == 0 &&
                 cli_dir_list(dir, ".dvp", &snaps, &n_snaps) == 0 && (n_segs || n_snaps);
    free(segs);
    free(snaps);
    if (exists) fprintf(stderr, "deltavec: %s already holds a database\n", dir);
    return exists;
}

static int run_create(const cli_command *self, int argc, char **argv) {
    uint32_t dim = 0, m = 16, efc = 200;
    int metric = 0, mode = 0, sync = 0;
    cli_opt opts[] = {{"--dim", NULL, CLI_U32, &dim, 1, DV_MAX_DIM, NULL, 0},
                      {"--metric", NULL, CLI_CHOICE, &metric, 0, 0, cli_metric_names, 0},
                      {"--m", NULL, CLI_U32, &m, 2, DV_MAX_M, NULL, 0},
                      {"--ef-construction", NULL, CLI_U32, &efc, 1, 1u << 24, NULL, 0},
                      {"--mode", NULL, CLI_CHOICE, &mode, 0, 0, MODES, 0},
                      {"--sync", NULL, CLI_CHOICE, &sync, 0, 0, cli_sync_names, 0},
                      CLI_OPT_END};
    cli_list pos = {0};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    if (rc == 0 && !opts[0].seen) rc = cli_usage_error(self, "--dim is required");
    const char *dir = pos.n ? pos.v[0] : NULL;
    if (rc == 0 && refuse_existing(dir)) rc = CLI_EXIT_FAIL;
    dv_db_config db;
    dv_store_config cfg;
    dv_store *s = NULL;
    if (rc == 0) {
        dv_db_config_default(&db, dim);
        db.metric = (dv_metric)metric;
        db.M = m;
        db.ef_construction = efc;
        dv_store_config_default(&cfg);
        cfg.create = &db;
        cfg.sync = (dv_sync_policy)sync;
        cfg.mode = mode ? DV_STREAM_LOGICAL : DV_STREAM_STRUCTURAL;
        dv_recovery_report r;
        memset(&r, 0, sizeof r);
        dv_status st = dv_store_open(dir, &cfg, &s, &r);
        if (st != DV_OK) {
            fprintf(stderr, "deltavec: %s: %s: %s\n", dir, dv_status_name(st),
                    r.message[0] ? r.message : dv_strerror(st));
            rc = CLI_EXIT_FAIL;
        }
    }
    if (rc == 0) {
        cli_dir_options o = {(dv_sync_policy)sync};
        if (cli_dir_options_write(dir, &o)) rc = CLI_EXIT_FAIL;
    }
    dv_store_close(s);
    if (rc == 0)
        printf("created %s: dim %u, metric %s, M %u, ef_construction %u, %s log, sync %s\n", dir, dim,
               cli_metric_names[metric], m, efc, MODES[mode], cli_sync_names[sync]);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_create = {
    "create", "create a database directory",
    "usage: deltavec create DIR --dim N [--metric l2|cosine|dot] [--m 16] [--ef-construction 200]\n"
    "                       [--mode structural|logical] [--sync always|interval|none]\n"
    "  Creates DIR (its parent must exist) holding an empty database of N-dimensional vectors.\n"
    "  --metric           distance: l2 (squared Euclidean, default), cosine, dot (1 - dot product)\n"
    "  --m                HNSW links per node, 2..64 (default 16)\n"
    "  --ef-construction  HNSW build beam, 1..16777216 (default 200)\n"
    "  --mode             what the log records: structural (default) every graph change too, so a replica\n"
    "                     or a recovery is identical without rebuilding; logical only the vector and\n"
    "                     metadata changes (smaller log; opening replays the writes to rebuild the graph)\n"
    "  --sync             when a write returns: always (after fdatasync, default), interval (a thread\n"
    "                     syncs every 100 ms), none (the OS writes back); remembered in DIR/cli.json\n",
    run_create};
