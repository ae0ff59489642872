/*
 * follow.c -- `deltavec follow DIR --nats URL [...]` (docs/CLI.md,
 * docs/REPLICATION.md): keeps the replica directory DIR in step with a
 * database published by `deltavec serve`, until SIGINT/SIGTERM. DIR is
 * created from the server's snapshot or stream on the first run; a
 * restart resumes from the position its files hold (nothing is applied
 * twice). The read-only commands (stats, query, get) open DIR meanwhile.
 *
 * As serve: the first connection (and the database on the server) must
 * be there within --wait-s (exit 1 otherwise), later outages are waited
 * out; a record the replica refuses (checksum,
 * config, another database's record) stops it with exit 1, the status and
 * the stream sequence, the replica unchanged.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "common.h"
#include "nats_opts.h"

typedef struct follow_opts {
    cli_nats_opts nats;
    const char *durable;
    uint32_t batch, checkpoint_every, wait_s;
    char default_durable[65];
} follow_opts;

/* On a terminal, one line redrawn: position and lag. */
static void show_status(const dv_follower *f, double *last_us) {
    if (!isatty(STDERR_FILENO)) return;
    double now = cli_now_us();
    if (now - *last_us < 500000) return;
    *last_us = now;
    dv_follower_lag lag;
    dv_follower_lag_get(f, &lag);
    fprintf(stderr, "\r\033[Ksequence %llu, %llu behind (%.1f s)",
            (unsigned long long)dv_follower_position(f), (unsigned long long)lag.sequences, lag.seconds);
    fflush(stderr);
}

static int follow_loop(dv_follower *f, const follow_opts *o) {
    int connected = 0, outage = 0;
    double last_status = 0, start = cli_now_us();
    while (!cli_stop_signal) {
        dv_status st = dv_follower_pump(f, 500, NULL);
        /* the server or the database (serve not started, or not yet published) may come: wait up to
         * --wait-s for them; once following, only outages are waited out */
        if (st == DV_ENETWORK || (st == DV_ENOTFOUND && !connected)) {
            if (!connected && o->wait_s && cli_now_us() - start >= o->wait_s * 1e6) {
                fprintf(stderr, "deltavec follow: cannot follow %s on %s within %u s: %s\n", o->nats.name,
                        o->nats.url, o->wait_s, dv_follower_last_error(f));
                return 1;
            }
            if (!outage) fprintf(stderr, "deltavec follow: %s; retrying\n", dv_follower_last_error(f));
            outage = 1;
            cli_sleep_ms(1000);
            continue;
        }
        if (st != DV_OK) {
            fprintf(stderr, "\ndeltavec follow: %s: %s\n", dv_status_name(st), dv_follower_last_error(f));
            return 1;
        }
        connected = 1;
        outage = 0;
        show_status(f, &last_status);
    }
    return 0;
}

static int follow(const cli_command *self, follow_opts *o) {
    dv_follower_config fc;
    dv_follower_config_default(&fc);
    int rc = cli_nats_finish(self, &o->nats, &fc.nats);
    if (rc != 0) return rc;
    /* one durable consumer per replica: by default named after the replica directory */
    if (!o->durable && !(o->durable = cli_nats_name_of_dir(o->nats.dir, o->default_durable)))
        return cli_usage_error(self, "give --durable NAME (1..64 of A-Z a-z 0-9 _ -)");
    if (!dv_nats_name_valid(o->durable))
        return cli_usage_error(self, "--durable: '%s': use 1..64 of A-Z a-z 0-9 _ -", o->durable);
    fc.dir = o->nats.dir;
    fc.durable = o->durable;
    fc.batch = o->batch;
    fc.checkpoint_every = o->checkpoint_every;
    if (!dv_nats_available()) {
        fprintf(stderr, "deltavec follow: this build has no NATS transport (built without libnats)\n");
        return CLI_EXIT_FAIL;
    }
    dv_follower *f = NULL;
    dv_status st = dv_follower_open(&fc, &f);
    if (st != DV_OK) {
        fprintf(stderr, "deltavec follow: %s: %s: %s\n", o->nats.dir, dv_status_name(st),
                f ? dv_follower_last_error(f) : dv_strerror(st));
        dv_follower_close(f);
        return CLI_EXIT_FAIL;
    }
    cli_catch_stop_signals();
    fprintf(stderr, "deltavec follow: following %s on %s into %s\n", o->nats.name, o->nats.url, o->nats.dir);
    rc = follow_loop(f, o);
    if (isatty(STDERR_FILENO)) fprintf(stderr, "\r\033[K");
    if (rc == 0)
        fprintf(stderr, "deltavec follow: stopped at sequence %llu\n",
                (unsigned long long)dv_follower_position(f));
    dv_follower_close(f);
    return rc;
}

static int run_follow(const cli_command *self, int argc, char **argv) {
    follow_opts o = {.nats = {.timeout_ms = 5000}, .batch = 256, .checkpoint_every = 100000, .wait_s = 60};
    cli_list pos = {0};
    cli_opt opts[] = {{"--nats", NULL, CLI_STR, &o.nats.url, 0, 0, NULL, 0},
                      {"--name", NULL, CLI_STR, &o.nats.name, 0, 0, NULL, 0},
                      {"--durable", NULL, CLI_STR, &o.durable, 0, 0, NULL, 0},
                      {"--user", NULL, CLI_STR, &o.nats.user, 0, 0, NULL, 0},
                      {"--password", NULL, CLI_STR, &o.nats.password, 0, 0, NULL, 0},
                      {"--tls-ca", NULL, CLI_STR, &o.nats.tls_ca, 0, 0, NULL, 0},
                      {"--timeout-ms", NULL, CLI_U32, &o.nats.timeout_ms, 1, 600000, NULL, 0},
                      {"--wait-s", NULL, CLI_U32, &o.wait_s, 0, 86400, NULL, 0},
                      {"--batch", NULL, CLI_U32, &o.batch, 1, 65536, NULL, 0},
                      {"--checkpoint-every", NULL, CLI_U32, &o.checkpoint_every, 1, 1000000000, NULL, 0},
                      CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    if (rc == 0) {
        o.nats.dir = pos.v[0];
        rc = follow(self, &o);
    }
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_follow = {
    "follow", "keep a replica directory in step over NATS JetStream",
    "usage: deltavec follow DIR --nats URL [--name NAME] [--durable NAME] [--user USER --password PASSWORD]\n"
    "         [--tls-ca FILE] [--timeout-ms MS] [--wait-s S] [--batch N] [--checkpoint-every N]\n"
    "  Creates DIR from the server's snapshot or stream on the first run, resumes from DIR's files\n"
    "  afterwards (nothing applied twice). --name defaults to DIR's last path component, --durable\n"
    "  (this replica's consumer on the server) too. The password may come from\n"
    "  DELTAVEC_NATS_PASSWORD. The server and the database must be there within --wait-s (default\n"
    "  60, 0: for ever); later outages are waited out. Exit 0 on SIGINT/SIGTERM, 1 when a record is\n"
    "  refused (its status and stream sequence are printed; the replica stays as it was).\n",
    run_follow};
