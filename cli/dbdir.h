/*
 * dbdir.h -- what the subcommands share about a database directory
 * (docs/STORAGE.md "Database directory"): opening it as a writer or
 * read-only with a message a user can act on, listing its segment and
 * snapshot files, the options the CLI remembers in DIR/cli.json, the
 * names of metrics, and printing cJSON documents.
 */
#ifndef DV_CLI_DBDIR_H
#define DV_CLI_DBDIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "deltavec.h"

struct cJSON;

/* Opens dir: read-only (no lock, works while another process writes) or as
 * its one writer (with the sync policy remembered in DIR/cli.json). On
 * failure prints why to stderr and returns CLI_EXIT_FAIL, else 0. */
int cli_store_open(const char *dir, int writer, dv_store **out);
/* The same with a config (read_only, retention...); a writer's sync policy comes from DIR/cli.json. */
int cli_store_open_config(const char *dir, dv_store_config *cfg, dv_store **out);

/* One "<20-digit sequence><ext>" file of a database directory. */
typedef struct cli_dir_file {
    char name[32];
    uint64_t seq;
    uint64_t size;
    int64_t mtime; /* seconds since the epoch */
} cli_dir_file;

/* The files of dir ending in ext (".dvs" segments, ".dvp" snapshots),
 * sorted by sequence; *files is malloc'ed. 0, or -1 with errno set. */
int cli_dir_list(const char *dir, const char *ext, cli_dir_file **files, size_t *n);
/* 1 if path is a directory. */
int cli_is_dir(const char *path);
/* Reads the stream header of a segment file (the db config, mode, first sequence). */
dv_status cli_read_stream_header(const char *path, dv_stream_info *info);

/* The CLI's own options for a directory, in DIR/cli.json (the library ignores the file). */
typedef struct cli_dir_options {
    dv_sync_policy sync;
} cli_dir_options;
int cli_dir_options_write(const char *dir, const cli_dir_options *o);
/* Defaults (sync always) when the file is absent. 0, or -1 after printing why. */
int cli_dir_options_read(const char *dir, cli_dir_options *o);

extern const char *const cli_metric_names[];  /* by dv_metric: "l2", "dot", "cosine"; NULL-terminated */
extern const char *const cli_sync_names[];    /* by dv_sync_policy: "always", "interval", "none" */
const char *cli_metric_name(uint32_t metric); /* "?" when out of range */

/* Prints root on one line to stdout and frees it. 0, or CLI_EXIT_FAIL when out of memory. */
int cli_json_print(struct cJSON *root);
/* The shortest decimal form of v (6 to 9 significant digits) that reads back as v: 0.7f is "0.7". */
void cli_format_float(float v, char *buf, size_t cap);
/* v as the double of its shortest decimal form that reads back as v (0.01f prints as 0.01, not
 * 0.010000000707805157). */
double cli_json_float(float v);
/* A 64-bit value as 16 lowercase hex digits (state hashes, checksums). */
void cli_hex64(uint64_t v, char out[17]);

struct cli_command;
/* Runs ops on the open writer s (one batch, one sync); on a failure prints
 * "deltavec CMD: ID: STATUS: why" and returns CLI_EXIT_FAIL, else 0. */
int cli_store_write(const struct cli_command *cmd, dv_store *s, const dv_store_op *ops, size_t n);
/* Parses a --vector value for s's dimension into a malloc'ed *vec. 0, or
 * CLI_EXIT_USAGE after printing why. */
int cli_vector_arg(const struct cli_command *cmd, const dv_store *s, const char *text, float **vec);
#endif
