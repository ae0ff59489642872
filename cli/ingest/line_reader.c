/*
 * line_reader.c -- bounded line reading (line_reader.h): the file is read
 * in blocks, lines are cut at '\n' with memchr, NUL bytes are kept (the
 * format readers refuse them with their position).
 */
#define _POSIX_C_SOURCE 200809L
#include "line_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 65536

void line_reader_init(line_reader *lr, ingest_reader *r) {
    memset(lr, 0, sizeof *lr);
    lr->r = r;
}

static int append(line_reader *lr, const char *bytes, size_t n) {
    if (lr->len + n + 1 > lr->cap) {
        size_t cap = lr->cap ? lr->cap : BLOCK;
        while (cap < lr->len + n + 1) cap *= 2;
        char *b = realloc(lr->buf, cap);
        if (!b) return -1;
        lr->buf = b;
        lr->cap = cap;
    }
    memcpy(lr->buf + lr->len, bytes, n);
    lr->len += n;
    lr->buf[lr->len] = '\0';
    return 0;
}

/* Refills the block; 1 with bytes, 0 at end of file, -1 on a read error. */
static int refill(line_reader *lr) {
    if (!lr->block && !(lr->block = malloc(BLOCK))) return -1;
    lr->block_pos = 0;
    lr->block_len = fread(lr->block, 1, BLOCK, lr->r->f);
    if (lr->block_len > 0) return 1;
    return ferror(lr->r->f) ? -1 : 0;
}

line_result line_reader_next(line_reader *lr) {
    int too_long = 0;
    lr->len = 0;
    lr->line_no++;
    if (append(lr, "", 0) != 0) return LINE_IO;
    for (;;) {
        if (lr->block_pos == lr->block_len) {
            int rc = refill(lr);
            if (rc < 0) return LINE_IO;
            if (rc == 0) {
                if (too_long) return LINE_TOO_LONG;
                if (lr->len > 0) return LINE_OK;
                lr->line_no--;
                return LINE_END;
            }
        }
        const char *start = lr->block + lr->block_pos;
        size_t avail = lr->block_len - lr->block_pos;
        const char *nl = memchr(start, '\n', avail);
        size_t n = nl ? (size_t)(nl - start) + 1 : avail;
        lr->block_pos += n;
        lr->r->bytes_read += n;
        /* past the limit the bytes are dropped, not kept: memory stays bounded */
        if (!too_long && lr->len + n > INGEST_MAX_LINE) too_long = 1;
        if (!too_long && append(lr, start, n) != 0) return LINE_IO;
        if (nl) return too_long ? LINE_TOO_LONG : LINE_OK;
    }
}

void line_reader_free(line_reader *lr) {
    free(lr->buf);
    free(lr->block);
    lr->buf = lr->block = NULL;
}
