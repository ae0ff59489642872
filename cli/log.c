/*
 * log.c -- `deltavec log dump|verify|compact ...`: the log of a database
 * directory. Dispatches to the subcommand (log_dump.c, log_verify.c,
 * log_compact.c), each a cli_command of its own so its messages and help
 * name it ("deltavec log dump: ...").
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"

static const cli_command *const SUBCOMMANDS[] = {&cli_cmd_log_dump, &cli_cmd_log_verify,
                                                 &cli_cmd_log_compact};

static int run_log(const cli_command *self, int argc, char **argv) {
    if (argc < 1) return cli_usage_error(self, "missing subcommand: dump, verify or compact");
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(self->usage, stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof SUBCOMMANDS / sizeof SUBCOMMANDS[0]; i++)
        if (!strcmp(SUBCOMMANDS[i]->name + 4, argv[0]))
            return SUBCOMMANDS[i]->run(SUBCOMMANDS[i], argc - 1, argv + 1);
    return cli_usage_error(self, "unknown subcommand '%s' (dump, verify or compact)", argv[0]);
}

const cli_command cli_cmd_log = {
    "log", "dump, verify or compact the log of a database directory",
    "usage: deltavec log dump DIR|FILE [--from SEQ] [--json]\n"
    "       deltavec log verify DIR|FILE\n"
    "       deltavec log compact DIR\n"
    "  dump     one line per record (FILE@OFFSET then the delta), from sequence SEQ on;\n"
    "           --json: one JSON object per record per line (JSON Lines)\n"
    "  verify   exit 0 only if every record is intact and in order (and, for a DIR, the segments\n"
    "           follow each other and every snapshot loads); else the first problem and its byte\n"
    "           offset, exit 1\n"
    "  compact  checkpoint keeping only the newest snapshot: the log before it is removed\n"
    "  dump and verify are read-only (they work while another process writes DIR).\n",
    run_log};
