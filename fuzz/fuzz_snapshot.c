/*
 * fuzz_snapshot.c -- libFuzzer harness for the snapshot loader
 * (dv_db_snapshot_read, dv_snapshot_peek) on raw input. Checksums are not
 * fixed up, so most inputs stop at a checksum; the seed corpus (gen_corpus)
 * holds valid snapshots whose checksums libFuzzer's comparison tracing
 * learns to keep. Properties: no crash, leak or undefined behaviour; a
 * refusal returns no db; an accepted db keeps every invariant, has the
 * recorded state hash, and saves back to exactly the input bytes. The
 * section loader over a source (dv_db_snapshot_load, what files use) gives
 * the same status and message as the buffer loader.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deltavec.h"
#include "db/replay.h"

typedef struct mem_source {
    const uint8_t *p;
    size_t n;
} mem_source;

static dv_status from_mem(void *ctx, uint8_t *dst, size_t len, uint64_t offset) {
    const mem_source *m = ctx;
    if (offset > m->n || len > m->n - offset) abort(); /* the loader reads only within the size given */
    memcpy(dst, m->p + offset, len);
    return DV_OK;
}

/* The source loader agrees with the buffer loader on status and message. */
static void same_as_source(const uint8_t *data, size_t size, dv_status st, const char *msg) {
    mem_source m = {data, size};
    dv_db *db = NULL;
    char msg2[160];
    dv_status st2 = dv_db_snapshot_load(from_mem, &m, size, NULL, &db, NULL, msg2, sizeof msg2);
    if (st2 != st || strcmp(msg, msg2) != 0) abort();
    if ((st2 == DV_OK) != (db != NULL)) abort();
    dv_db_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dv_snapshot_meta peeked;
    dv_status ps = dv_snapshot_peek(data, size, &peeked);
    dv_db *db = (dv_db *)&peeked; /* must be reset to NULL on refusal */
    dv_snapshot_meta meta;
    char msg[160];
    dv_status st = dv_db_snapshot_read(data, size, NULL, &db, &meta, msg, sizeof msg);
    if (strlen(msg) >= sizeof msg) abort();
    same_as_source(data, size, st, msg);
    if (st != DV_OK) {
        if (db != NULL) abort();
        return 0;
    }
    if (ps != DV_OK || peeked.state_hash != meta.state_hash) abort(); /* read accepts => peek accepts */
    if (dv_db_check_invariants(db) != DV_OK) abort();
    if (dv_db_state_hash(db) != meta.state_hash) abort();
    uint64_t n = 0;
    if (dv_db_snapshot_size(db, &meta, &n) != DV_OK || n != size) abort();
    dv_snapshot_meta_release(&meta, NULL);
    dv_db_close(db);
    return 0;
}
