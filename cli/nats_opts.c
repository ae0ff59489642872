/*
 * nats_opts.c -- connection options of serve/follow and their stop signal
 * (nats_opts.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "nats_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cli.h"

volatile sig_atomic_t cli_stop_signal;

static void on_stop(int sig) { cli_stop_signal = sig; }

void cli_catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: a sleep ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_sleep_ms(uint32_t ms) {
    /* short steps: the signal may land on one of libnats's threads and not interrupt this one */
    for (uint32_t slept = 0; slept < ms && !cli_stop_signal; slept += 50) {
        uint32_t step = ms - slept < 50 ? ms - slept : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
}

const char *cli_nats_name_of_dir(const char *dir, char out[65]) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/') start--;
    if (len - start < 1 || len - start > 64) return NULL;
    memcpy(out, dir + start, len - start);
    out[len - start] = '\0';
    return dv_nats_name_valid(out) ? out : NULL;
}

int cli_nats_finish(const cli_command *cmd, cli_nats_opts *o, dv_nats_config *cfg) {
    if (!o->url) return cli_usage_error(cmd, "--nats URL is required (e.g. nats://127.0.0.1:4222)");
    if (!o->name && !(o->name = cli_nats_name_of_dir(o->dir, o->default_name)))
        return cli_usage_error(
            cmd, "'%s' is not a valid database name: give --name (1..64 of A-Z a-z 0-9 _ -)", o->dir);
    if (!dv_nats_name_valid(o->name))
        return cli_usage_error(cmd, "--name: '%s': use 1..64 of A-Z a-z 0-9 _ -", o->name);
    if (!o->password) o->password = getenv("DELTAVEC_NATS_PASSWORD");
    if (o->password && !o->user) return cli_usage_error(cmd, "a password needs --user");
    memset(cfg, 0, sizeof *cfg);
    cfg->servers = o->url;
    cfg->name = o->name;
    cfg->user = o->user;
    cfg->password = o->user ? (o->password ? o->password : "") : NULL;
    cfg->tls_ca = o->tls_ca;
    cfg->timeout_ms = o->timeout_ms;
    return 0;
}
