/*
 * serve.c -- `deltavec serve DIR --nats URL [...]` (docs/CLI.md,
 * docs/REPLICATION.md): publishes the database directory DIR to a NATS
 * JetStream server until SIGINT/SIGTERM. It only reads DIR's files, so
 * the writer (`deltavec ingest`, `insert`, your own program) runs beside
 * it in other processes; every record the log gains is published within
 * --poll-ms, and the newest snapshot (`deltavec snapshot DIR`) is uploaded
 * for followers that join late.
 *
 * The first connection must succeed within --wait-s (default 60; wrong
 * URL or credentials: exit 1 then); later outages are waited out: the log
 * keeps growing and the publisher resumes from the stream's last record. A refusal that waiting
 * cannot cure (another publisher owns the stream, the log no longer holds
 * what the stream needs, another config) stops it with exit 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "common.h"
#include "nats_opts.h"

typedef struct serve_opts {
    cli_nats_opts nats;
    uint32_t poll_ms, snapshot_every_s, window, replicas, wait_s;
} serve_opts;

/* Uploads the newest snapshot when there is one; only a refusal that waiting cannot cure is an error. */
static int put_snapshot(dv_publisher *p) {
    uint64_t seq = 0;
    dv_status st = dv_publisher_put_snapshot(p, &seq);
    if (st == DV_OK || st == DV_ENOTFOUND || st == DV_ENETWORK) return 0;
    fprintf(stderr, "deltavec serve: snapshot: %s: %s\n", dv_status_name(st), dv_publisher_last_error(p));
    return st == DV_EFENCED ? 1 : 0;
}

static int serve_loop(dv_publisher *p, const serve_opts *o) {
    int connected = 0, outage = 0;
    double last_snapshot = -1e18, start = cli_now_us();
    while (!cli_stop_signal) {
        uint64_t n = 0;
        dv_status st = dv_publisher_pump(p, &n);
        if (st == DV_ENETWORK) {
            /* never reached within --wait-s: wrong URL or credentials, most likely; say so */
            if (!connected && o->wait_s && cli_now_us() - start >= o->wait_s * 1e6) break;
            if (!outage) fprintf(stderr, "deltavec serve: %s; retrying\n", dv_publisher_last_error(p));
            outage = 1;
            cli_sleep_ms(1000);
            continue;
        }
        if (st != DV_OK) {
            fprintf(stderr, "deltavec serve: %s: %s\n", dv_status_name(st), dv_publisher_last_error(p));
            return 1;
        }
        if (outage)
            fprintf(stderr, "deltavec serve: connected again; published up to %llu\n",
                    (unsigned long long)dv_publisher_acked(p));
        connected = 1;
        outage = 0;
        double now = cli_now_us();
        if (o->snapshot_every_s && now - last_snapshot >= o->snapshot_every_s * 1e6) {
            last_snapshot = now;
            if (put_snapshot(p)) return 1;
        }
        if (n == 0) cli_sleep_ms(o->poll_ms);
    }
    if (!connected && !cli_stop_signal) {
        fprintf(stderr, "deltavec serve: cannot publish to %s within %u s: %s\n", o->nats.url, o->wait_s,
                dv_publisher_last_error(p));
        return 1;
    }
    return 0;
}

static int serve(const cli_command *self, serve_opts *o) {
    dv_publisher_config pc;
    dv_publisher_config_default(&pc);
    int rc = cli_nats_finish(self, &o->nats, &pc.nats);
    if (rc != 0) return rc;
    pc.dir = o->nats.dir;
    pc.window = o->window;
    pc.replicas = (int)o->replicas;
    if (!dv_nats_available()) {
        fprintf(stderr, "deltavec serve: this build has no NATS transport (built without libnats)\n");
        return CLI_EXIT_FAIL;
    }
    dv_publisher *p = NULL;
    dv_status st = dv_publisher_open(&pc, &p);
    if (st != DV_OK) {
        fprintf(stderr, "deltavec serve: %s: %s: %s\n", o->nats.dir, dv_status_name(st),
                p ? dv_publisher_last_error(p) : dv_strerror(st));
        dv_publisher_close(p);
        return CLI_EXIT_FAIL;
    }
    cli_catch_stop_signals();
    fprintf(stderr, "deltavec serve: publishing %s as %s on %s\n", o->nats.dir, o->nats.name, o->nats.url);
    rc = serve_loop(p, o);
    if (rc == 0)
        fprintf(stderr, "deltavec serve: stopped; the stream holds up to sequence %llu\n",
                (unsigned long long)dv_publisher_acked(p));
    dv_publisher_close(p);
    return rc;
}

static int run_serve(const cli_command *self, int argc, char **argv) {
    serve_opts o = {.nats = {.timeout_ms = 5000},
                    .poll_ms = 100,
                    .snapshot_every_s = 30,
                    .window = 256,
                    .replicas = 1,
                    .wait_s = 60};
    cli_list pos = {0};
    cli_opt opts[] = {{"--nats", NULL, CLI_STR, &o.nats.url, 0, 0, NULL, 0},
                      {"--name", NULL, CLI_STR, &o.nats.name, 0, 0, NULL, 0},
                      {"--user", NULL, CLI_STR, &o.nats.user, 0, 0, NULL, 0},
                      {"--password", NULL, CLI_STR, &o.nats.password, 0, 0, NULL, 0},
                      {"--tls-ca", NULL, CLI_STR, &o.nats.tls_ca, 0, 0, NULL, 0},
                      {"--timeout-ms", NULL, CLI_U32, &o.nats.timeout_ms, 1, 600000, NULL, 0},
                      {"--poll-ms", NULL, CLI_U32, &o.poll_ms, 1, 60000, NULL, 0},
                      {"--snapshot-every-s", NULL, CLI_U32, &o.snapshot_every_s, 0, 86400, NULL, 0},
                      {"--window", NULL, CLI_U32, &o.window, 1, 65536, NULL, 0},
                      {"--replicas", NULL, CLI_U32, &o.replicas, 1, 5, NULL, 0},
                      {"--wait-s", NULL, CLI_U32, &o.wait_s, 0, 86400, NULL, 0},
                      CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    if (rc == 0) {
        o.nats.dir = pos.v[0];
        rc = serve(self, &o);
    }
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_serve = {
    "serve", "publish a database directory over NATS JetStream",
    "usage: deltavec serve DIR --nats URL [--name NAME] [--user USER --password PASSWORD]\n"
    "         [--tls-ca FILE] [--timeout-ms MS] [--wait-s S] [--poll-ms MS] [--snapshot-every-s S]\n"
    "         [--window N] [--replicas R]\n"
    "  Publishes every record DIR's log gains (other processes write DIR) and its newest snapshot\n"
    "  every --snapshot-every-s (default 30). --name defaults to DIR's last path component. The\n"
    "  password may come from DELTAVEC_NATS_PASSWORD instead of --password. The first connection\n"
    "  must succeed within --wait-s (default 60, 0: for ever); later outages are waited out.\n"
    "  Exit 0 on SIGINT/SIGTERM, 1 when the server refuses for good (docs/CLI.md).\n",
    run_serve};
