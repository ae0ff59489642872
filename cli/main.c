/*
 * main.c -- the `deltavec` command (docs/CLI.md).
 *
 *   deltavec demo [options]   end-to-end replication demo (the README's main job)
 *   deltavec dump FILE        one line per delta of a stream file
 *   deltavec version
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "deltavec.h"

static void usage(void) {
    fprintf(stderr, "usage: deltavec demo [options] | dump FILE | ingest DIR FILE [options] | serve DIR "
                    "--nats URL [options] |\n"
                    "       follow DIR --nats URL [options] | version\n"
                    "  demo options: --n N --dim D --updates U --queries Q --seed S --workers W --json FILE "
                    "--stream FILE\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage();
        return 2;
    }
    if (!strcmp(argv[1], "demo")) return cli_demo(argc - 2, argv + 2);
    if (!strcmp(argv[1], "dump")) return cli_dump(argc - 2, argv + 2);
    if (!strcmp(argv[1], "ingest")) return cli_ingest(argc - 2, argv + 2);
    if (!strcmp(argv[1], "serve")) return cli_serve(argc - 2, argv + 2);
    if (!strcmp(argv[1], "follow")) return cli_follow(argc - 2, argv + 2);
    if (!strcmp(argv[1], "version")) {
        printf("deltavec %s (SIMD: %s)\n", dv_version_string(), dv_simd_backend());
        return 0;
    }
    usage();
    return 2;
}
