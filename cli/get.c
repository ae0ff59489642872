/*
 * get.c -- `deltavec get DIR ID [--json]`: one vector and its metadata.
 * Opens the directory read-only: it works while another process writes.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

static int print_text(const char *id, const float *v, uint32_t dim, const dv_meta_kv *kv, size_t n) {
    printf("id %s\nvector ", id);
    for (uint32_t i = 0; i < dim; i++) {
        char x[32];
        cli_format_float(v[i], x, sizeof x);
        printf("%s%s", i ? "," : "", x);
    }
    printf("\n");
    for (size_t i = 0; i < n; i++) printf("meta %s=%s\n", kv[i].key, kv[i].value);
    return 0;
}

static int print_json(const char *id, const float *v, uint32_t dim, const dv_meta_kv *kv, size_t n) {
    cJSON *o = cJSON_CreateObject(), *vec = NULL, *meta = NULL;
    int ok = o && cJSON_AddStringToObject(o, "id", id) && (vec = cJSON_AddArrayToObject(o, "vector")) &&
             (meta = cJSON_AddObjectToObject(o, "metadata"));
    for (uint32_t i = 0; ok && i < dim; i++) {
        cJSON *x = cJSON_CreateNumber(cli_json_float(v[i]));
        ok = x && cJSON_AddItemToArray(vec, x);
    }
    for (size_t i = 0; ok && i < n; i++) ok = cJSON_AddStringToObject(meta, kv[i].key, kv[i].value) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        o = NULL;
    }
    return cli_json_print(o);
}

static int run_get(const cli_command *self, int argc, char **argv) {
    int json = 0;
    cli_list pos = {0};
    cli_opt opts[] = {{"--json", NULL, CLI_FLAG, &json, 0, 0, NULL, 0}, CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 2, 2);
    dv_store *s = NULL;
    float *vec = NULL;
    if (rc == 0) rc = cli_store_open(pos.v[0], 0, &s);
    if (rc == 0) {
        const dv_db *db = dv_store_db(s);
        uint32_t dim = dv_db_dim(db);
        const dv_meta_kv *kv = NULL;
        size_t n = 0;
        if (!(vec = malloc(dim * sizeof *vec))) {
            rc = CLI_EXIT_FAIL;
        } else if (dv_db_get(db, pos.v[1], vec) != DV_OK || dv_db_meta(db, pos.v[1], &kv, &n) != DV_OK) {
            fprintf(stderr, "deltavec get: %s: not found\n", pos.v[1]);
            rc = CLI_EXIT_FAIL;
        } else {
            rc = (json ? print_json : print_text)(pos.v[1], vec, dim, kv, n);
        }
    }
    dv_store_close(s);
    free(vec);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_get = {
    "get", "one vector and its metadata (read-only)",
    "usage: deltavec get DIR ID [--json]\n"
    "  Prints the vector of ID (each value in the shortest form that reads back exactly) and its\n"
    "  metadata pairs; --json prints {\"id\", \"vector\", \"metadata\"}. Exit 1 if\n"
    "  ID is not live. Read-only: works while another process writes DIR.\n",
    run_get};
