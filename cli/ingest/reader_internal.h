/*
 * reader_internal.h -- what the format readers (vecs.c, npy.c, jsonl.c,
 * csv.c) share with reader.c: the reader object, the table each format
 * fills, and the helpers that build a record and report a bad one.
 */
#ifndef DV_CLI_INGEST_READER_INTERNAL_H
#define DV_CLI_INGEST_READER_INTERNAL_H

#include <stdio.h>

#include "reader.h"

typedef struct ingest_ops {
    int (*open)(ingest_reader *r, ingest_error *err); /* reads a header if the format has one */
    ingest_result (*next)(ingest_reader *r, ingest_record *rec, ingest_error *err);
    void (*close)(ingest_reader *r); /* frees state (not the FILE) */
} ingest_ops;

extern const ingest_ops ingest_vecs_ops; /* .fvecs and .bvecs */
extern const ingest_ops ingest_npy_ops;
extern const ingest_ops ingest_jsonl_ops;
extern const ingest_ops ingest_csv_ops;

/* The metadata of one record: pairs pointing into an arena of strings. */
typedef struct ingest_meta {
    dv_meta_kv pairs[DV_MAX_META_PAIRS]; /* filled by ingest_emit, once the arena stops moving */
    size_t key_at[DV_MAX_META_PAIRS], value_at[DV_MAX_META_PAIRS]; /* offsets into the arena */
    size_t n;
    char *arena;
    size_t used, cap;
} ingest_meta;

struct ingest_reader {
    const ingest_ops *ops;
    ingest_format format;
    FILE *f;
    int owns_file;
    uint64_t bytes_read, bytes_total, rows_total;
    uint32_t dim; /* values per record; 0 until the first record (or header) fixes it */
    float *vec;   /* DV_MAX_DIM floats: the current record's values */
    char id[DV_MAX_ID_LEN + 1];
    ingest_meta meta;
    void *state; /* the format's own */
};

/* Sets err (with a position when has_pos) and returns result. printf-style reason. */
ingest_result ingest_fail(ingest_error *err, ingest_result result, int has_pos, uint64_t pos, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));
/* Reads exactly len bytes: 1, or 0 at a clean end of file before any byte, or -1 (*got says how many). */
int ingest_read_exact(ingest_reader *r, void *buf, size_t len, size_t *got);
/* Fixes the expected dimension on the first record; INGEST_RECORD or a BAD naming both dims. */
ingest_result ingest_check_dim(ingest_reader *r, uint32_t dim, uint64_t pos, ingest_error *err);
/* INGEST_RECORD when every value is finite, else BAD naming the first column (from 0) that is not. */
ingest_result ingest_check_finite(const float *vec, uint32_t dim, uint64_t pos, ingest_error *err);
/* d as float32; a finite value beyond float32's range becomes infinite (the finite check then refuses it). */
float ingest_float_of(double d);
/* Copies an id (len bytes, not NUL-terminated) into r->id; BAD if empty or too long. */
ingest_result ingest_set_id(ingest_reader *r, const char *id, size_t len, uint64_t pos, ingest_error *err);
/* Metadata of the current record. */
void ingest_meta_clear(ingest_meta *m);
ingest_result ingest_meta_add(ingest_meta *m, const char *key, const char *value, uint64_t pos,
                              ingest_error *err);
/* Fills *rec from r->id, r->vec, r->dim and r->meta. */
void ingest_emit(ingest_reader *r, ingest_record *rec, uint64_t pos);

#endif
