/*
 * main.c -- the `deltavec` command (docs/CLI.md): finds the subcommand in
 * the table (commands.c) and runs it. Exit status: 0 ok, 1 failure, 2
 * usage error. Output that cannot be written (a full disk, a closed pipe)
 * is a failure too: stdout is flushed and checked before exiting.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"

/* The list of commands, for `deltavec`, `deltavec --help` and `deltavec help`. */
void cli_print_overview(FILE *out) {
    fprintf(out,
            "usage: deltavec COMMAND [ARGS...]   (deltavec help COMMAND for its options)\n\ncommands:\n");
    for (size_t i = 0; i < cli_command_count; i++)
        fprintf(out, "  %-9s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
    fprintf(out, "\nexit status: 0 ok, 1 failure, 2 usage error\n");
}

static int finish(int rc) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("deltavec: writing the output");
        return CLI_EXIT_FAIL;
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_print_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        cli_print_overview(stdout);
        return finish(CLI_EXIT_OK);
    }
    const cli_command *cmd = cli_command_find(name);
    if (!cmd) {
        fprintf(stderr, "deltavec: unknown command '%s' (see 'deltavec help')\n", name);
        return CLI_EXIT_USAGE;
    }
    return finish(cmd->run(cmd, argc - 2, argv + 2));
}
