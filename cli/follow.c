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

#include "cli.h"
#include "common.h"
#include "local_args.h"
#include "nats_opts.h"

static const char usage_text[] =
    "usage: deltavec follow DIR --nats URL [--name NAME] [--durable NAME] [--user USER --password PASSWORD]\n"
    "                       [--tls-ca FILE] [--timeout-ms MS] [--batch N] [--checkpoint-every N]\n"
    "                       [--wait-s S]\n"
    "  the password may come from DELTAVEC_NATS_PASSWORD instead of --password\n";

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
        if (st == DV_ENETWORK) {
            /* the server or the database (serve not started yet) may come: wait up to --wait-s for them */
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

int cli_follow(int argc, char **argv) {
    follow_opts o = {.nats = {.timeout_ms = 5000}, .batch = 256, .checkpoint_every = 100000, .wait_s = 60};
    const char *pos[1] = {NULL};
    const local_opt opts[] = {{"--nats", LOCAL_STR, &o.nats.url, 0, 0},
                              {"--name", LOCAL_STR, &o.nats.name, 0, 0},
                              {"--durable", LOCAL_STR, &o.durable, 0, 0},
                              {"--user", LOCAL_STR, &o.nats.user, 0, 0},
                              {"--password", LOCAL_STR, &o.nats.password, 0, 0},
                              {"--tls-ca", LOCAL_STR, &o.nats.tls_ca, 0, 0},
                              {"--timeout-ms", LOCAL_U32, &o.nats.timeout_ms, 1, 600000},
                              {"--batch", LOCAL_U32, &o.batch, 1, 65536},
                              {"--checkpoint-every", LOCAL_U32, &o.checkpoint_every, 1, 1000000000},
                              {"--wait-s", LOCAL_U32, &o.wait_s, 0, 86400},
                              {NULL, LOCAL_FLAG, NULL, 0, 0}};
    int rc = local_parse("follow", usage_text, argc, argv, opts, pos, 1, 1);
    if (rc) return rc == LOCAL_HELP ? 0 : rc;
    o.nats.dir = pos[0];
    dv_follower_config fc;
    dv_follower_config_default(&fc);
    if ((rc = cli_nats_finish("follow", &o.nats, &fc.nats)) != 0) return rc;
    /* one durable consumer per replica: by default named after the replica directory */
    if (!o.durable && !(o.durable = cli_nats_name_of_dir(o.nats.dir, o.default_durable))) {
        fprintf(stderr, "deltavec follow: give --durable NAME (1..64 of A-Z a-z 0-9 _ -)\n");
        return 2;
    }
    if (!cli_nats_name_ok(o.durable)) {
        fprintf(stderr, "deltavec follow: --durable %s: use 1..64 of A-Z a-z 0-9 _ -\n", o.durable);
        return 2;
    }
    fc.dir = o.nats.dir;
    fc.durable = o.durable;
    fc.batch = o.batch;
    fc.checkpoint_every = o.checkpoint_every;
    if (!dv_nats_available()) {
        fprintf(stderr, "deltavec follow: this build has no NATS transport (built without libnats)\n");
        return 1;
    }
    dv_follower *f = NULL;
    dv_status st = dv_follower_open(&fc, &f);
    if (st != DV_OK) {
        fprintf(stderr, "deltavec follow: %s: %s: %s\n", o.nats.dir, dv_status_name(st),
                f ? dv_follower_last_error(f) : dv_strerror(st));
        dv_follower_close(f);
        return 1;
    }
    cli_catch_stop_signals();
    fprintf(stderr, "deltavec follow: following %s on %s into %s\n", o.nats.name, o.nats.url, o.nats.dir);
    rc = follow_loop(f, &o);
    if (isatty(STDERR_FILENO)) fprintf(stderr, "\r\033[K");
    if (rc == 0)
        fprintf(stderr, "deltavec follow: stopped at sequence %llu\n",
                (unsigned long long)dv_follower_position(f));
    dv_follower_close(f);
    return rc;
}
