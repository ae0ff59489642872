/*
 * delete.c -- `deltavec delete DIR ID...`: deletes live ids. Every id is
 * checked first (live, not given twice), so a bad one changes nothing;
 * the deletes then run as one batch (one sync).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An id given twice would fail its second delete after the first was done: refused up front. */
static int check_distinct(const cli_command *self, const cli_list *ids) {
    const char **sorted = malloc(ids->n * sizeof *sorted);
    if (!sorted) return CLI_EXIT_FAIL;
    memcpy(sorted, ids->v, ids->n * sizeof *sorted);
    qsort(sorted, ids->n, sizeof *sorted, cmp_str);
    int rc = 0;
    for (size_t i = 1; i < ids->n && !rc; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) rc = cli_usage_error(self, "%s given twice", sorted[i]);
    free(sorted);
    return rc;
}

static int check_all_live(const cli_command *self, dv_store *s, const cli_list *ids) {
    const dv_db *db = dv_store_db(s);
    const dv_meta_kv *pairs;
    size_t n;
    for (size_t i = 0; i < ids->n; i++) {
        if (dv_db_meta(db, ids->v[i], &pairs, &n) != DV_OK) {
            fprintf(stderr, "deltavec %s: %s: not found (nothing was deleted)\n", self->name, ids->v[i]);
            return CLI_EXIT_FAIL;
        }
    }
    return 0;
}

static int run_delete(const cli_command *self, int argc, char **argv) {
    cli_list pos = {0};
    cli_opt opts[] = {CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 2, (size_t)-1);
    dv_store *s = NULL;
    dv_store_op *ops = NULL;
    cli_list ids = {pos.v ? pos.v + 1 : NULL, pos.n ? pos.n - 1 : 0};
    if (rc == 0) rc = check_distinct(self, &ids);
    if (rc == 0) rc = cli_store_open(pos.v[0], 1, &s);
    if (rc == 0) rc = check_all_live(self, s, &ids);
    if (rc == 0 && !(ops = calloc(ids.n, sizeof *ops))) rc = CLI_EXIT_FAIL;
    if (rc == 0) {
        for (size_t i = 0; i < ids.n; i++) ops[i] = (dv_store_op){.kind = DV_STORE_DELETE, .id = ids.v[i]};
        rc = cli_store_write(self, s, ops, ids.n);
    }
    if (rc == 0) printf("deleted %zu at sequence %llu\n", ids.n, (unsigned long long)dv_store_sequence(s));
    dv_store_close(s);
    free(ops);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_delete = {"delete", "delete vectors by id",
                                    "usage: deltavec delete DIR ID...\n"
                                    "  Deletes every ID as one batch; if one is not live or is given twice,\n"
                                    "  nothing is deleted. An id that starts with '-' goes after '--'.\n",
                                    run_delete};
