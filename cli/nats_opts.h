/*
 * nats_opts.h -- the connection options `deltavec serve` and `deltavec
 * follow` share (docs/CLI.md, docs/REPLICATION.md): --nats URL, --name,
 * --user, --password (or DELTAVEC_NATS_PASSWORD, which keeps it out of the
 * process list), --tls-ca, --timeout-ms; the database name defaults to
 * DIR's last path component. Also the stop signal both commands honour.
 */
#ifndef DV_CLI_NATS_OPTS_H
#define DV_CLI_NATS_OPTS_H

#include <signal.h>
#include <stdint.h>

#include "deltavec.h"

typedef struct cli_nats_opts {
    const char *dir;
    const char *url, *name, *user, *password, *tls_ca;
    uint32_t timeout_ms;
    char default_name[65];
} cli_nats_opts;

/* DIR's last path component when it is a valid name, else NULL. */
const char *cli_nats_name_of_dir(const char *dir, char out[65]);
struct cli_command;
/* Checks the options, fills the defaults and the config. 0, or CLI_EXIT_USAGE after printing why. */
int cli_nats_finish(const struct cli_command *cmd, cli_nats_opts *o, dv_nats_config *cfg);

/* SIGINT and SIGTERM set cli_stop_signal (the loops poll it and end cleanly). */
extern volatile sig_atomic_t cli_stop_signal;
void cli_catch_stop_signals(void);
/* Sleeps ms milliseconds, returning early when a stop signal came. */
void cli_sleep_ms(uint32_t ms);

#endif
