/*
 * update.c -- `deltavec update DIR ID [--vector "..."] [--meta KEY=VALUE]...`:
 * replaces the vector of a live id and/or sets metadata pairs, as one
 * batch of writes (one sync).
 */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

static int run_update(const cli_command *self, int argc, char **argv) {
    const char *text = NULL;
    cli_list meta = {0}, pos = {0};
    cli_opt opts[] = {{"--vector", NULL, CLI_STR, &text, 0, 0, NULL, 0},
                      {"--meta", NULL, CLI_LIST, &meta, 0, 0, NULL, 0},
                      CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 2, 2);
    if (rc == 0 && !text && !meta.n) rc = cli_usage_error(self, "nothing to change: give --vector or --meta");
    dv_meta_kv *kv = NULL;
    if (rc == 0) rc = cli_split_pairs(self, "--meta", &meta, &kv);
    dv_store *s = NULL;
    float *vec = NULL;
    dv_store_op *ops = NULL;
    if (rc == 0) rc = cli_store_open(pos.v[0], 1, &s);
    if (rc == 0 && text) rc = cli_vector_arg(self, s, text, &vec);
    if (rc == 0 && !(ops = calloc(meta.n + 1, sizeof *ops))) rc = CLI_EXIT_FAIL;
    if (rc == 0) {
        size_t n = 0;
        if (vec) ops[n++] = (dv_store_op){.kind = DV_STORE_UPDATE, .id = pos.v[1], .vec = vec};
        for (size_t i = 0; i < meta.n; i++)
            ops[n++] = (dv_store_op){
                .kind = DV_STORE_SET_META, .id = pos.v[1], .key = kv[i].key, .value = kv[i].value};
        rc = cli_store_write(self, s, ops, n);
        if (rc == 0)
            printf("updated %s at sequence %llu\n", pos.v[1], (unsigned long long)dv_store_sequence(s));
    }
    dv_store_close(s);
    free(ops);
    free(vec);
    free(kv);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_update = {
    "update", "replace a vector and/or set metadata",
    "usage: deltavec update DIR ID [--vector \"0.1,0.2,...\"] [--meta KEY=VALUE]...\n"
    "  Replaces the whole vector of the live ID and/or sets metadata pairs (at least one of them);\n"
    "  fails if ID is not live.\n",
    run_update};
