/*
 * version.c -- `deltavec version`: library version and SIMD kernel set.
 */
#include <stdio.h>

#include "args.h"
#include "cli.h"
#include "deltavec.h"

static int run_version(const cli_command *self, int argc, char **argv) {
    cli_opt opts[] = {CLI_OPT_END};
    cli_list pos = {0};
    int rc = cli_parse(self, argc, argv, opts, &pos, 0, 0);
    cli_args_free(opts, &pos);
    if (rc) return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    printf("deltavec %s (SIMD: %s)\n", dv_version_string(), dv_simd_backend());
    return CLI_EXIT_OK;
}

const cli_command cli_cmd_version = {
    "version", "library version and SIMD kernel set",
    "usage: deltavec version\n"
    "  Prints the library version and the SIMD kernel set chosen for this CPU.\n",
    run_version};
