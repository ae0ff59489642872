/*
 * local_args.h -- a small option parser for ingest, serve and follow:
 * `--name value`, `--name=value`, flags, strict decimal numbers within a
 * range, --help, `--` and a count of positionals. Returns 0, LOCAL_HELP
 * (usage printed to stdout: exit 0) or 2 after printing the problem.
 */
#ifndef DV_CLI_LOCAL_ARGS_H
#define DV_CLI_LOCAL_ARGS_H

#include <stddef.h>
#include <stdint.h>

#define LOCAL_HELP (-1)

typedef enum local_kind { LOCAL_FLAG, LOCAL_STR, LOCAL_U32 } local_kind;

typedef struct local_opt {
    const char *name; /* "--batch"; NULL ends the table */
    local_kind kind;
    void *out; /* int*, const char**, uint32_t* */
    uint32_t min, max;
} local_opt;

int local_parse(const char *cmd, const char *usage, int argc, char **argv, const local_opt *opts,
                const char **pos, size_t min_pos, size_t max_pos);

#endif
