/*
 * update.c -- `deltavec update DIR ID [--vector "..."] [--meta KEY=VALUE]...`:
 * replaces the vector of a live id and/or sets metadata pairs, as one
 * batch of writes (one sync).
 */
#include "cli.h"
#include "id_write.h"

static const char *need_a_change(const cli_id_write *w) {
    return w->vector_text || w->meta.n ? NULL : "nothing to change: give --vector or --meta";
}

/* The vector first, then each metadata pair. */
static size_t update_ops(const cli_id_write *w, dv_store_op *ops) {
    size_t n = 0;
    if (w->vec) ops[n++] = (dv_store_op){.kind = DV_STORE_UPDATE, .id = w->id, .vec = w->vec};
    for (size_t i = 0; i < w->meta.n; i++)
        ops[n++] = (dv_store_op){
            .kind = DV_STORE_SET_META, .id = w->id, .key = w->kv[i].key, .value = w->kv[i].value};
    return n;
}

static int run_update(const cli_command *self, int argc, char **argv) {
    return cli_id_write_run(self, argc, argv, need_a_change, update_ops, "updated");
}

const cli_command cli_cmd_update = {
    "update", "replace a vector and/or set metadata",
    "usage: deltavec update DIR ID [--vector \"0.1,0.2,...\"] [--meta KEY=VALUE]...\n"
    "  Replaces the whole vector of the live ID and/or sets metadata pairs (at least one of them);\n"
    "  fails if ID is not live.\n",
    run_update};
