/*
 * insert.c -- `deltavec insert DIR ID --vector "..." [--meta KEY=VALUE]...`:
 * one new vector, written durably (the directory's sync policy) before the
 * command returns.
 */
#include "cli.h"
#include "id_write.h"

static const char *need_vector(const cli_id_write *w) {
    return w->vector_text ? NULL : "--vector is required";
}

static size_t insert_op(const cli_id_write *w, dv_store_op *ops) {
    ops[0] = (dv_store_op){
        .kind = DV_STORE_INSERT, .id = w->id, .vec = w->vec, .meta = w->kv, .n_meta = w->meta.n};
    return 1;
}

static int run_insert(const cli_command *self, int argc, char **argv) {
    return cli_id_write_run(self, argc, argv, need_vector, insert_op, "inserted");
}

const cli_command cli_cmd_insert = {
    "insert", "add one vector (with metadata)",
    "usage: deltavec insert DIR ID --vector \"0.1,0.2,...\" [--meta KEY=VALUE]...\n"
    "  Adds the vector ID (dim values, comma-separated) with optional metadata pairs; fails if ID is\n"
    "  live. Returns once the write is durable as the directory's sync policy says.\n",
    run_insert};
