/*
 * query.c -- `deltavec query DIR (--vector "..." | --file FILE [--row N])
 * [-k 10] [--ef 64] [--filter KEY=VALUE]... [--json]`: the k nearest
 * neighbours through the HNSW index, among the vectors whose metadata holds
 * every --filter pair (dv_db_search_filtered: the filter acts inside the
 * search, so k hits come back whenever k vectors match). Opens the directory read-only: it
 * works while another process writes.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "dbdir.h"

typedef struct query_opts {
    const char *vector, *file;
    uint64_t row, k;
    uint32_t ef;
    int json;
    cli_list filter;
} query_opts;

/* Row `row` of an .fvecs file (per row: int32 dim, then dim float32, little-endian). */
static int read_fvecs_row(const char *path, uint64_t row, uint32_t dim, float *out) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "deltavec query: %s: %s\n", path, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    uint8_t d[4];
    int rc = CLI_EXIT_FAIL;
    uint64_t row_bytes = 4 + 4 * (uint64_t)dim;
    if (fread(d, 1, 4, f) != 4) {
        fprintf(stderr, "deltavec query: %s: not an .fvecs file (shorter than 4 bytes)\n", path);
    } else if ((uint32_t)(d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24) != dim) {
        fprintf(stderr, "deltavec query: %s: rows have dim %u, the database has dim %u\n", path,
                (uint32_t)(d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24), dim);
    } else if (row > (uint64_t)INT64_MAX / row_bytes ||
               fseeko(f, (off_t)(row * row_bytes + 4), SEEK_SET) != 0 || fread(out, 4, dim, f) != dim) {
        fprintf(stderr, "deltavec query: %s: no row %llu (the file ends before it)\n", path,
                (unsigned long long)row);
    } else {
        rc = 0; /* little-endian on disk, as on every host the library supports */
    }
    fclose(f);
    return rc;
}

static int print_hits(const query_opts *o, const dv_hit *hits, size_t n) {
    if (!o->json) {
        for (size_t i = 0; i < n; i++) printf("%s\t%.6g\n", hits[i].id, (double)hits[i].distance);
        return 0;
    }
    cJSON *root = cJSON_CreateObject(), *arr = NULL;
    int ok = root && (arr = cJSON_AddArrayToObject(root, "hits"));
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *h = cJSON_CreateObject();
        ok = h && cJSON_AddItemToArray(arr, h) && cJSON_AddStringToObject(h, "id", hits[i].id) &&
             cJSON_AddNumberToObject(h, "distance", cli_json_float(hits[i].distance));
    }
    if (!ok) {
        cJSON_Delete(root);
        root = NULL;
    }
    return cli_json_print(root);
}

/* The k nearest among the vectors matching every --filter pair (all of them without one). */
static int search(const cli_command *self, const query_opts *o, const dv_db *db, const float *q,
                  const dv_filter *filter) {
    size_t count = dv_db_count(db), k = o->k < count ? (size_t)o->k : count, n = 0;
    dv_hit *hits = malloc((k ? k : 1) * sizeof *hits);
    if (!hits) return CLI_EXIT_FAIL;
    dv_status st = k ? dv_db_search_filtered(db, q, k, o->ef, filter, hits, &n) : DV_OK;
    int rc = CLI_EXIT_FAIL;
    if (st == DV_OK)
        rc = print_hits(o, hits, n);
    else if (st == DV_EMETA) /* a key given twice, a key or value too long or not UTF-8 */
        rc = cli_usage_error(self, "--filter: %s", dv_strerror(st));
    else
        fprintf(stderr, "deltavec %s: %s: %s\n", self->name, dv_status_name(st), dv_strerror(st));
    free(hits);
    return rc;
}

static int run_query(const cli_command *self, int argc, char **argv) {
    query_opts o = {NULL, NULL, 0, 10, 64, 0, {0}};
    cli_list pos = {0};
    cli_opt opts[] = {{"--vector", NULL, CLI_STR, &o.vector, 0, 0, NULL, 0},
                      {"--file", NULL, CLI_STR, &o.file, 0, 0, NULL, 0},
                      {"--row", NULL, CLI_U64, &o.row, 0, UINT64_MAX, NULL, 0},
                      {"-k", "--k", CLI_U64, &o.k, 1, 1000000, NULL, 0},
                      {"--ef", NULL, CLI_U32, &o.ef, 1, 1u << 24, NULL, 0},
                      {"--filter", NULL, CLI_LIST, &o.filter, 0, 0, NULL, 0},
                      {"--json", NULL, CLI_FLAG, &o.json, 0, 0, NULL, 0},
                      CLI_OPT_END};
    int rc = cli_parse(self, argc, argv, opts, &pos, 1, 1);
    if (rc == 0 && !o.vector == !o.file)
        rc = cli_usage_error(self, "give exactly one of --vector and --file");
    if (rc == 0 && opts[2].seen && !o.file) rc = cli_usage_error(self, "--row goes with --file");
    dv_meta_kv *pairs = NULL;
    if (rc == 0) rc = cli_split_pairs(self, "--filter", &o.filter, &pairs);
    dv_store *s = NULL;
    float *q = NULL;
    if (rc == 0) rc = cli_store_open(pos.v[0], 0, &s);
    if (rc == 0 && o.vector) rc = cli_vector_arg(self, s, o.vector, &q);
    if (rc == 0 && o.file) {
        uint32_t dim = dv_db_dim(dv_store_db(s));
        rc = (q = malloc(dim * sizeof *q)) ? read_fvecs_row(o.file, o.row, dim, q) : CLI_EXIT_FAIL;
    }
    if (rc == 0) {
        dv_filter filter = {pairs, o.filter.n};
        rc = search(self, &o, dv_store_db(s), q, &filter);
    }
    dv_store_close(s);
    free(q);
    free(pairs);
    cli_args_free(opts, &pos);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_query = {
    "query", "k nearest neighbours of a vector (read-only)",
    "usage: deltavec query DIR (--vector \"0.1,0.2,...\" | --file FILE [--row N]) [-k 10] [--ef 64]\n"
    "                      [--filter KEY=VALUE]... [--json]\n"
    "  Prints the k nearest live vectors as 'ID<TAB>DISTANCE' lines, nearest first.\n"
    "  --vector  the query, dim comma-separated values\n"
    "  --file    read the query from row N (default 0) of an .fvecs file\n"
    "  -k        hits, 1..1000000 (default 10; fewer when the database holds fewer)\n"
    "  --ef      HNSW search beam, 1..16777216 (default 64; raised to k)\n"
    "  --filter  only vectors whose metadata has KEY=VALUE (repeat: all must match)\n"
    "  --json    print {\"hits\": [{\"id\", \"distance\"}...]}\n"
    "  Read-only: works while another process writes DIR.\n",
    run_query};
