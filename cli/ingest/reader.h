/*
 * reader.h -- streaming readers of the files `deltavec ingest` loads
 * (docs/CLI.md): .fvecs/.bvecs, .npy, JSONL and CSV behind one iterator.
 *
 * A reader holds one record at a time (bounded memory whatever the file
 * size): ingest_next hands out the next record, or says precisely which
 * record is bad and why. Positions are rows counted from 0 for the binary
 * formats (the row number is also the record's id) and lines counted from
 * 1 for the text formats (as editors show them).
 */
#ifndef DV_CLI_INGEST_READER_H
#define DV_CLI_INGEST_READER_H

#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"

typedef enum ingest_format {
    INGEST_AUTO = 0, /* from the file name's extension */
    INGEST_FVECS,
    INGEST_BVECS,
    INGEST_NPY,
    INGEST_JSONL,
    INGEST_CSV
} ingest_format;

/* One record; every pointer is owned by the reader and valid until the next call. */
typedef struct ingest_record {
    const char *id;
    const float *vec;
    uint32_t dim;
    const dv_meta_kv *meta;
    size_t n_meta;
    uint64_t pos; /* row (binary formats, from 0) or line (text formats, from 1) where it starts */
} ingest_record;

typedef enum ingest_result {
    INGEST_RECORD = 1, /* *rec holds the next record */
    INGEST_END = 0,    /* the file ended cleanly */
    INGEST_BAD = -1,   /* this record is bad (err says where and why); the next call goes on after it */
    INGEST_FATAL = -2  /* the file cannot be read further (truncated, framing lost, I/O error) */
} ingest_result;

typedef struct ingest_error {
    int has_pos;  /* 0: about the file as a whole (open, header) */
    uint64_t pos; /* row or line, as ingest_record.pos */
    char reason[384];
} ingest_error;

typedef struct ingest_reader ingest_reader;

/* "fvecs", "bvecs", "npy", "jsonl", "csv" -> the format; INGEST_AUTO for anything else. */
ingest_format ingest_format_from_name(const char *name);
/* The format its extension names (.fvecs .bvecs .npy .jsonl/.ndjson .csv), else INGEST_AUTO. */
ingest_format ingest_format_from_path(const char *path);
const char *ingest_format_name(ingest_format format);
/* "row" for the binary formats, "line" for the text ones. */
const char *ingest_pos_unit(ingest_format format);

/*
 * Opens path ("-" reads standard input; then format must be given).
 * expected_dim > 0: every record must have that many values (a record that
 * has not is bad); 0: the first record's dimension is the expected one.
 * Returns 0, or -1 with err->reason (nothing to close then).
 */
int ingest_open(const char *path, ingest_format format, uint32_t expected_dim, ingest_reader **out,
                ingest_error *err);
ingest_result ingest_next(ingest_reader *r, ingest_record *rec, ingest_error *err);
ingest_format ingest_reader_format(const ingest_reader *r);
/* Bytes consumed so far, and the file's size (0 when unknown, e.g. a pipe). */
uint64_t ingest_bytes_read(const ingest_reader *r);
uint64_t ingest_bytes_total(const ingest_reader *r);
/* Records the file holds when the format says so (.npy shape, .fvecs size / row size), else 0. */
uint64_t ingest_rows_total(const ingest_reader *r);
void ingest_close(ingest_reader *r);

#endif
