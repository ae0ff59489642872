/*
 * batch.h -- records copied out of a reader (whose record lives only until
 * its next call) into one dv_store_write_batch: ids, vectors and metadata
 * of up to `cap` records, and the row/line each came from, so a record the
 * database refuses is reported where it is in the file.
 */
#ifndef DV_CLI_INGEST_BATCH_H
#define DV_CLI_INGEST_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"
#include "reader.h"

typedef struct ingest_batch {
    size_t cap, n;
    uint32_t dim;
    dv_store_op *ops;
    uint64_t *pos;
    float *vecs;                     /* cap x dim */
    char (*ids)[DV_MAX_ID_LEN + 1];  /* cap */
    size_t *meta_first, *meta_count; /* per record: its pairs in key_at/value_at */
    size_t *key_at, *value_at;       /* offsets into strings */
    size_t n_pairs, pairs_cap;
    dv_meta_kv *pairs; /* resolved by ingest_batch_ops */
    char *strings;
    size_t strings_used, strings_cap;
} ingest_batch;

/* 0, or -1 when out of memory. */
int ingest_batch_init(ingest_batch *b, size_t cap, uint32_t dim);
void ingest_batch_free(ingest_batch *b);
/* Copies rec in; 0, or -1 when out of memory. The caller flushes when n == cap. */
int ingest_batch_add(ingest_batch *b, const ingest_record *rec);
/* The ops of the batch, their pointers resolved (valid until the next add/clear). */
const dv_store_op *ingest_batch_ops(ingest_batch *b);
void ingest_batch_clear(ingest_batch *b);

#endif
