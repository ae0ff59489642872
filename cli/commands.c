/*
 * commands.c -- the table of deltavec subcommands, in the order `deltavec
 * help` lists them. One line per command; each is defined in its own file.
 */
#include <string.h>

#include "cli.h"

const cli_command *const cli_commands[] = {
    &cli_cmd_create, &cli_cmd_insert, &cli_cmd_ingest,   &cli_cmd_update, &cli_cmd_delete, &cli_cmd_get,
    &cli_cmd_query,  &cli_cmd_stats,  &cli_cmd_snapshot, &cli_cmd_log,    &cli_cmd_serve,  &cli_cmd_follow,
    &cli_cmd_dump,   &cli_cmd_demo,   &cli_cmd_version,  &cli_cmd_help,
};
const size_t cli_command_count = sizeof cli_commands / sizeof cli_commands[0];

const cli_command *cli_command_find(const char *name) {
    for (size_t i = 0; i < cli_command_count; i++)
        if (!strcmp(cli_commands[i]->name, name)) return cli_commands[i];
    return NULL;
}
