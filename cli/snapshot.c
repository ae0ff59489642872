/*
 * snapshot.c -- `deltavec snapshot DIR`: a checkpoint (dv_store_checkpoint):
 * the state written atomically as a snapshot file, a new log segment, and
 * the directory's retention (the two newest snapshots kept, the log
 * reaching back to the oldest of them).
 */
#include <stdio.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

static int run_snapshot(const cli_command *self, int argc, char **argv) {
    cli_list pos = {0};
    cli_opt opts[] = {CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    dv_store *s = NULL;
    if (rc == 0) rc = cli_store_open(pos.v[0], 1, &s);
    if (rc == 0) {
        uint64_t seq = 0;
        dv_status st = dv_store_checkpoint(s, &seq);
        char hash[17];
        cli_hex64(dv_db_state_hash(dv_store_db(s)), hash);
        if (st == DV_OK) {
            printf("snapshot %020llu.dvp: sequence %llu, %zu vectors, state hash %s\n",
                   (unsigned long long)seq, (unsigned long long)seq, dv_db_count(dv_store_db(s)), hash);
        } else {
            fprintf(stderr, "deltavec snapshot: %s: %s: %s\n", pos.v[0], dv_status_name(st),
                    dv_store_last_error(s));
            rc = CLI_EXIT_FAIL;
        }
    }
    dv_store_close(s);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_snapshot = {
    "snapshot", "write a snapshot (checkpoint) of a database directory",
    "usage: deltavec snapshot DIR\n"
    "  Writes the current state as DIR/<sequence>.dvp atomically, starts a new log segment and\n"
    "  applies retention: the two newest snapshots stay, older ones and the log before the oldest\n"
    "  kept one are removed. Needs the writer lock: fails while another process writes DIR.\n",
    run_snapshot};
