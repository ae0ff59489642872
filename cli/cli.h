/*
 * cli.h -- the deltavec subcommands. main.c finds the command by name in
 * the table of commands.c and calls its run function with the arguments
 * after the name; run returns the process exit status (0 ok, 1 failure,
 * 2 usage error: args.h). Each command lives in its own file and defines
 * one cli_command; adding a command is that file plus one line in
 * commands.c.
 */
#ifndef DV_CLI_H
#define DV_CLI_H

#include <stddef.h>
#include <stdio.h>

struct cli_command {
    const char *name;    /* as typed: "create", "log" */
    const char *summary; /* one line for `deltavec help` */
    const char *usage;   /* the full usage text printed by `deltavec help NAME` and `NAME --help` */
    int (*run)(const struct cli_command *self, int argc, char **argv);
};
typedef struct cli_command cli_command;

/* The table of commands (commands.c), in the order `deltavec help` lists them. */
extern const cli_command *const cli_commands[];
extern const size_t cli_command_count;
/* The command called name, or NULL. */
const cli_command *cli_command_find(const char *name);

extern const cli_command cli_cmd_create;
extern const cli_command cli_cmd_insert;
extern const cli_command cli_cmd_update;
extern const cli_command cli_cmd_delete;
extern const cli_command cli_cmd_get;
extern const cli_command cli_cmd_query;
extern const cli_command cli_cmd_stats;
extern const cli_command cli_cmd_snapshot;
extern const cli_command cli_cmd_ingest;
extern const cli_command cli_cmd_serve;
extern const cli_command cli_cmd_follow;
extern const cli_command cli_cmd_log;
extern const cli_command cli_cmd_demo;
extern const cli_command cli_cmd_dump;
extern const cli_command cli_cmd_version;
extern const cli_command cli_cmd_help;
/* The subcommands of `log` (log.c dispatches to them). */
extern const cli_command cli_cmd_log_dump;
extern const cli_command cli_cmd_log_verify;
extern const cli_command cli_cmd_log_compact;

/* The list of commands (main.c), for `deltavec`, `deltavec --help` and `deltavec help`. */
void cli_print_overview(FILE *out);

#endif
