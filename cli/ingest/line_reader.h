/*
 * line_reader.h -- lines of a text file, in bounded memory: a line longer
 * than the limit is skipped (and said so) instead of growing a buffer
 * without end. Used by the JSONL and CSV readers.
 */
#ifndef DV_CLI_INGEST_LINE_READER_H
#define DV_CLI_INGEST_LINE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "reader_internal.h"

#define INGEST_MAX_LINE (16u << 20) /* 16 MiB: a 4096-value vector in JSON is ~100 KiB */

typedef struct line_reader {
    ingest_reader *r; /* its FILE and byte count */
    char *buf;        /* the current line (may contain NUL bytes), NUL-terminated */
    size_t len, cap;
    char *block; /* bytes read from the file and not yet handed out */
    size_t block_pos, block_len;
    uint64_t line_no; /* of the current line, from 1 */
} line_reader;

typedef enum line_result {
    LINE_OK = 1,        /* buf/len hold the line, with its '\n' when it had one */
    LINE_END = 0,       /* end of file */
    LINE_TOO_LONG = -1, /* line line_no is longer than INGEST_MAX_LINE: skipped */
    LINE_IO = -2        /* read error */
} line_result;

void line_reader_init(line_reader *lr, ingest_reader *r);
line_result line_reader_next(line_reader *lr);
void line_reader_free(line_reader *lr);

#endif
