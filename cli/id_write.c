/*
 * id_write.c -- a write to one id from the arguments to the printed sequence (see id_write.h).
 */
#include "id_write.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dbdir.h"

/* The directory opened as the writer, --meta split, --vector parsed when given. */
static int open_for(const cli_command *cmd, const char *dir, cli_id_write *w, dv_store **s) {
    int rc = cli_split_pairs(cmd, "--meta", &w->meta, &w->kv);
    if (rc == 0) rc = cli_store_open(dir, 1, s);
    if (rc == 0 && w->vector_text) rc = cli_vector_arg(cmd, *s, w->vector_text, &w->vec);
    return rc;
}

static int write_batch(const cli_command *cmd, dv_store *s, const cli_id_write *w, cli_id_write_build build,
                       const char *done) {
    dv_store_op *ops = calloc(w->meta.n + 1, sizeof *ops);
    if (!ops) return CLI_EXIT_FAIL;
    int rc = cli_store_write(cmd, s, ops, build(w, ops));
    if (rc == 0) printf("%s %s at sequence %llu\n", done, w->id, (unsigned long long)dv_store_sequence(s));
    free(ops);
    return rc;
}

int cli_id_write_run(const cli_command *cmd, int argc, char **argv, cli_id_write_check check,
                     cli_id_write_build build, const char *done) {
    cli_id_write w = {0};
    cli_list pos = {0};
    cli_opt opts[] = {{"--vector", NULL, CLI_STR, &w.vector_text, 0, 0, NULL, 0},
                      {"--meta", NULL, CLI_LIST, &w.meta, 0, 0, NULL, 0},
                      CLI_OPT_END};
    int rc = cli_parse(cmd, argc, argv, opts, &pos, 2, 2);
    const char *missing = rc == 0 ? check(&w) : NULL;
    if (missing) rc = cli_usage_error(cmd, "%s", missing);
    dv_store *s = NULL;
    if (rc == 0) {
        w.id = pos.v[1];
        rc = open_for(cmd, pos.v[0], &w, &s);
    }
    if (rc == 0) rc = write_batch(cmd, s, &w, build, done);
    dv_store_close(s);
    free(w.vec);
    free(w.kv);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}
