/*
 * insert.c -- `deltavec insert DIR ID --vector "..." [--meta KEY=VALUE]...`:
 * one new vector, written durably (the directory's sync policy) before the
 * command returns.
 */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

static int run_insert(const cli_command *self, int argc, char **argv) {
    const char *text = NULL;
    cli_list meta = {0}, pos = {0};
    cli_opt opts[] = {{"--vector", NULL, CLI_STR, &text, 0, 0, NULL, 0},
                      {"--meta", NULL, CLI_LIST, &meta, 0, 0, NULL, 0},
                      CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 2, 2);
    if (rc == 0 && !text) rc = cli_usage_error(self, "--vector is required");
    dv_meta_kv *kv = NULL;
    if (rc == 0) rc = cli_split_pairs(self, "--meta", &meta, &kv);
    dv_store *s = NULL;
    float *vec = NULL;
    if (rc == 0) rc = cli_store_open(pos.v[0], 1, &s);
    if (rc == 0) rc = cli_vector_arg(self, s, text, &vec);
    if (rc == 0) {
        dv_store_op op = {.kind = DV_STORE_INSERT, .id = pos.v[1], .vec = vec, .meta = kv, .n_meta = meta.n};
        rc = cli_store_write(self, s, &op, 1);
        if (rc == 0)
            printf("inserted %s at sequence %llu\n", pos.v[1], (unsigned long long)dv_store_sequence(s));
    }
    dv_store_close(s);
    free(vec);
    free(kv);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_insert = {
    "insert", "add one vector (with metadata)",
    "usage: deltavec insert DIR ID --vector \"0.1,0.2,...\" [--meta KEY=VALUE]...\n"
    "  Adds the vector ID (dim values, comma-separated) with optional metadata pairs; fails if ID is\n"
    "  live. Returns once the write is durable as the directory's sync policy says.\n",
    run_insert};
