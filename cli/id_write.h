/*
 * id_write.h -- what `insert` and `update` share: the arguments
 * DIR ID [--vector "..."] [--meta KEY=VALUE]..., the directory opened as its
 * one writer, the metadata split into pairs and the vector parsed for the
 * database's dimension, the command's writes run as one batch (one sync) and
 * "<done> ID at sequence N" printed. A command says only which arguments it
 * needs and which writes they make.
 */
#ifndef DV_CLI_ID_WRITE_H
#define DV_CLI_ID_WRITE_H

#include <stddef.h>

#include "args.h"
#include "deltavec.h"

typedef struct cli_id_write {
    const char *id;          /* the second positional */
    const char *vector_text; /* --vector as given, NULL without it */
    cli_list meta;           /* --meta as given */
    dv_meta_kv *kv;          /* meta.n pairs */
    float *vec;              /* the parsed --vector, NULL without it */
} cli_id_write;

/* NULL when the arguments will do, else the usage message saying what is missing. */
typedef const char *(*cli_id_write_check)(const cli_id_write *w);
/* Fills ops (room for meta.n + 1) with the command's writes; how many. */
typedef size_t (*cli_id_write_build)(const cli_id_write *w, dv_store_op *ops);

/* Parses argv (after the command's name), checks, opens DIR, builds and runs the writes, prints
 * "<done> ID at sequence N". The command's exit status. */
int cli_id_write_run(const cli_command *cmd, int argc, char **argv, cli_id_write_check check,
                     cli_id_write_build build, const char *done);

#endif
