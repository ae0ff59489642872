/*
 * args.h -- the strict argument parser every deltavec subcommand uses.
 *
 * A command describes its options in a table (cli_opt, ended by a NULL
 * name) and says how many positional arguments it takes; cli_parse fills
 * the outputs or says precisely what is wrong. Rules, the same for every
 * command (docs/CLI.md "Arguments"):
 *   - `--name value`, `--name=value`, and a one-letter alias `-k value`;
 *   - `--help` / `-h` anywhere: the command's usage on stdout, exit 0;
 *   - `--` ends the options (an id that starts with '-' goes after it);
 *   - an unknown option, a missing value, a repeated single option, a
 *     wrong number of positionals: a message naming it, exit 2;
 *   - numbers are decimal digits only: a sign, trailing junk, an empty
 *     value, overflow or a value outside [min, max] is refused, naming the
 *     option and the range.
 */
#ifndef DV_CLI_ARGS_H
#define DV_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"

/* Exit statuses of every command (docs/CLI.md "Exit status"). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
/* cli_parse's answer when it printed the usage for --help: the command returns CLI_EXIT_OK. */
#define CLI_HELP_SHOWN (-1)

typedef struct cli_command cli_command;

typedef enum cli_arg_kind {
    CLI_FLAG,   /* no value: *(int *)out = 1 */
    CLI_STR,    /* *(const char **)out = the value (non-empty) */
    CLI_U64,    /* *(uint64_t *)out, decimal, within [min, max] */
    CLI_U32,    /* *(uint32_t *)out, decimal, within [min, max] (max <= UINT32_MAX) */
    CLI_CHOICE, /* *(int *)out = index of the value in choices (NULL-terminated) */
    CLI_LIST    /* repeatable: every value appended to *(cli_list *)out */
} cli_arg_kind;

/* Values of a repeatable option, or the positionals. v is malloc'ed (cli_args_free). */
typedef struct cli_list {
    const char **v;
    size_t n;
} cli_list;

typedef struct cli_opt {
    const char *name;  /* "--dim"; NULL ends the table */
    const char *alias; /* "-k", or NULL */
    cli_arg_kind kind;
    void *out;
    uint64_t min, max;          /* CLI_U64 / CLI_U32 */
    const char *const *choices; /* CLI_CHOICE */
    int seen;                   /* set by cli_parse: the option was given */
} cli_opt;

/* Ends a cli_opt table. */
#define CLI_OPT_END                                                                                          \
    { NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL, 0 }

/*
 * Parses argv[0..argc) (the arguments after the command's name) for cmd:
 * options into opts, positionals into *pos (between min_pos and max_pos of
 * them). Returns 0, CLI_HELP_SHOWN, or CLI_EXIT_USAGE after printing the
 * problem and a hint to stderr. Call cli_args_free afterwards in every case.
 */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_opt *opts, cli_list *pos, size_t min_pos,
              size_t max_pos);
void cli_args_free(cli_opt *opts, cli_list *pos);

/* Strict decimal: digits only, no sign, no junk, no overflow. 0 on success. */
int cli_parse_u64(const char *s, uint64_t *out);
/*
 * A vector written as "0.1,0.2,..." (spaces allowed around values): every
 * value a finite float. The first cap values go to out; *n gets the count
 * of all (the caller compares it with the dimension). 0 on success, else
 * -1 with why in msg.
 */
int cli_parse_vector(const char *s, float *out, size_t cap, size_t *n, char *msg, size_t msg_cap);

/*
 * KEY=VALUE arguments of option opt (--meta, --filter) as metadata pairs:
 * *pairs is one malloc'ed block (free it), NULL when l is empty. 0, or an
 * exit status after printing why.
 */
int cli_split_pairs(const cli_command *cmd, const char *opt, const cli_list *l, dv_meta_kv **pairs);

/* Prints "deltavec CMD: MESSAGE" and the help hint to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
