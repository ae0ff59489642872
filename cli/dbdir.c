/*
 * dbdir.c -- database-directory helpers shared by the subcommands (dbdir.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "dbdir.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"

const char *const cli_metric_names[] = {"l2", "dot", "cosine", NULL};
const char *const cli_sync_names[] = {"always", "interval", "none", NULL};

const char *cli_metric_name(uint32_t metric) { return metric < 3 ? cli_metric_names[metric] : "?"; }

void cli_hex64(uint64_t v, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)v); }

int cli_json_print(cJSON *root) {
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "deltavec: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

void cli_format_float(float v, char *buf, size_t cap) {
    for (int digits = 6; digits < 9; digits++) {
        snprintf(buf, cap, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
    snprintf(buf, cap, "%.9g", (double)v); /* 9 significant digits always read back as the same float */
}

double cli_json_float(float v) {
    char buf[32];
    cli_format_float(v, buf, sizeof buf);
    return strtod(buf, NULL);
}

int cli_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "<20 digits><ext>" -> 1 and *seq; 0 for any other name. */
static int parse_name(const char *name, const char *ext, uint64_t *seq) {
    size_t el = strlen(ext);
    if (strlen(name) != 20 + el || strcmp(name + 20, ext) != 0) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *seq = v;
    return v != 0;
}

static int cmp_file(const void *a, const void *b) {
    uint64_t x = ((const cli_dir_file *)a)->seq, y = ((const cli_dir_file *)b)->seq;
    return x < y ? -1 : x > y;
}

int cli_dir_list(const char *dir, const char *ext, cli_dir_file **files, size_t *n) {
    *files = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        uint64_t seq;
        if (!parse_name(e->d_name, ext, &seq)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            cli_dir_file *f = realloc(*files, cap * sizeof **files);
            if (!f) {
                rc = -1;
                errno = ENOMEM;
                break;
            }
            *files = f;
        }
        cli_dir_file *f = &(*files)[*n];
        memset(f, 0, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", e->d_name);
        f->seq = seq;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0) continue; /* removed meanwhile (a checkpoint's retention) */
        f->size = (uint64_t)st.st_size;
        f->mtime = (int64_t)st.st_mtime;
        (*n)++;
    }
    closedir(d);
    if (rc) {
        free(*files);
        *files = NULL;
        *n = 0;
        return -1;
    }
    if (*n) qsort(*files, *n, sizeof **files, cmp_file);
    return 0;
}

dv_status cli_read_stream_header(const char *path, dv_stream_info *info) {
    uint8_t buf[DV_STREAM_MAX_HEADER];
    FILE *f = fopen(path, "rb");
    if (!f) return DV_EIO;
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return dv_stream_header_decode(buf, got, info, NULL);
}

static int print_open_error(const char *dir, dv_status st, const dv_recovery_report *r, const dv_store *s) {
    const char *why = r->message[0] ? r->message : "";
    switch (st) {
    case DV_ENOTFOUND:
        fprintf(stderr, "deltavec: %s: no database here (deltavec create %s --dim N makes one)\n", dir, dir);
        break;
    case DV_ELOCKED:
        fprintf(stderr, "deltavec: %s: another process is writing this database (it holds %s/LOCK)\n", dir,
                dir);
        break;
    case DV_EDAMAGED:
        fprintf(stderr, "deltavec: %s: the log is damaged in %s at offset %llu: %s\n", dir, r->problem_file,
                (unsigned long long)r->problem_offset, why);
        break;
    default:
        fprintf(stderr, "deltavec: %s: %s: %s\n", dir, dv_status_name(st),
                why[0] ? why : (s ? dv_store_last_error(s) : dv_strerror(st)));
    }
    return CLI_EXIT_FAIL;
}

int cli_store_open_config(const char *dir, dv_store_config *cfg, dv_store **out) {
    *out = NULL;
    if (!cli_is_dir(dir)) {
        fprintf(stderr, "deltavec: %s: no such directory\n", dir);
        return CLI_EXIT_FAIL;
    }
    if (!cfg->read_only) {
        cli_dir_options o;
        if (cli_dir_options_read(dir, &o)) return CLI_EXIT_FAIL;
        cfg->sync = o.sync;
    }
    dv_recovery_report r;
    memset(&r, 0, sizeof r);
    dv_status st = dv_store_open(dir, cfg, out, &r);
    if (st != DV_OK) return print_open_error(dir, st, &r, *out);
    if (!cfg->read_only && r.dropped_records)
        fprintf(stderr, "deltavec: %s: cut a torn tail of %llu record(s) in %s at offset %llu\n", dir,
                (unsigned long long)r.dropped_records, r.problem_file, (unsigned long long)r.problem_offset);
    return 0;
}

int cli_store_open(const char *dir, int writer, dv_store **out) {
    dv_store_config cfg;
    dv_store_config_default(&cfg);
    cfg.read_only = !writer;
    return cli_store_open_config(dir, &cfg, out);
}

static void options_path(const char *dir, char *buf, size_t cap) { snprintf(buf, cap, "%s/cli.json", dir); }

int cli_dir_options_write(const char *dir, const cli_dir_options *o) {
    char path[4096];
    options_path(dir, path, sizeof path);
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (root && cJSON_AddStringToObject(root, "sync", cli_sync_names[o->sync])) text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "deltavec: out of memory\n");
        return -1;
    }
    FILE *f = fopen(path, "w");
    int ok = f && fprintf(f, "%s\n", text) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    cJSON_free(text);
    if (!ok) {
        fprintf(stderr, "deltavec: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cli_dir_options_read(const char *dir, cli_dir_options *o) {
    char path[4096], text[4096];
    o->sync = DV_SYNC_ALWAYS;
    options_path(dir, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) return 0; /* not made by the CLI, or older: the library's defaults */
    size_t got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[got] = '\0';
    cJSON *root = cJSON_Parse(text);
    const cJSON *sync = cJSON_GetObjectItemCaseSensitive(root, "sync");
    int found = 0;
    for (int i = 0; cJSON_IsString(sync) && cli_sync_names[i]; i++) {
        if (!strcmp(sync->valuestring, cli_sync_names[i])) {
            o->sync = (dv_sync_policy)i;
            found = 1;
        }
    }
    cJSON_Delete(root);
    if (!found) {
        fprintf(stderr, "deltavec: %s: not a JSON object with \"sync\": \"always|interval|none\"\n", path);
        return -1;
    }
    return 0;
}

int cli_store_write(const cli_command *cmd, dv_store *s, const dv_store_op *ops, size_t n) {
    size_t done = 0;
    dv_status st = dv_store_write_batch(s, ops, n, &done);
    if (st == DV_OK) return 0;
    const char *why =
        st == DV_EIO || st == DV_ENOSPC || st == DV_ESTATE ? dv_store_last_error(s) : dv_strerror(st);
    fprintf(stderr, "deltavec %s: %s: %s: %s\n", cmd->name, done < n ? ops[done].id : "?", dv_status_name(st),
            why);
    if (done) fprintf(stderr, "deltavec %s: the %zu write(s) before it are done\n", cmd->name, done);
    return CLI_EXIT_FAIL;
}

int cli_vector_arg(const cli_command *cmd, const dv_store *s, const char *text, float **vec) {
    uint32_t dim = dv_db_dim(dv_store_db(s));
    float *v = malloc((size_t)dim * sizeof *v);
    char msg[128];
    size_t n = 0;
    *vec = NULL;
    if (!v) {
        fprintf(stderr, "deltavec %s: out of memory\n", cmd->name);
        return CLI_EXIT_FAIL;
    }
    if (cli_parse_vector(text, v, dim, &n, msg, sizeof msg)) {
        free(v);
        return cli_usage_error(cmd, "--vector: %s", msg);
    }
    if (n != dim) {
        free(v);
        return cli_usage_error(cmd, "--vector: %zu values, the database has dim %u", n, dim);
    }
    *vec = v;
    return 0;
}
