/*
 * help.c -- `deltavec help [COMMAND]`: the list of commands, or one
 * command's usage, on stdout.
 */
#include <stdio.h>

#include "args.h"
#include "cli.h"

static int run_help(const cli_command *self, int argc, char **argv) {
    cli_opt opts[] = {CLI_OPT_END};
    cli_list pos = {0};
    int rc = cli_parse(self, argc, argv, opts, &pos, 0, 1);
    if (rc == 0) {
        if (pos.n == 0) {
            cli_print_overview(stdout);
        } else {
            const cli_command *cmd = cli_command_find(pos.v[0]);
            if (cmd)
                fputs(cmd->usage, stdout);
            else
                rc = cli_usage_error(self, "unknown command '%s'", pos.v[0]);
        }
    }
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_help = {"help", "the list of commands, or one command's usage",
                                  "usage: deltavec help [COMMAND]\n"
                                  "  Prints the list of commands, or COMMAND's usage and options.\n",
                                  run_help};
