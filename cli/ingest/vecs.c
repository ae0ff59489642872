/*
 * vecs.c -- the .fvecs / .bvecs reader (the TEXMEX layout of the SIFT and
 * GIST sets): each row is a little-endian int32 dimension d, then d
 * float32 (.fvecs) or d uint8 (.bvecs) values. The id of a row is its
 * number, from 0.
 *
 * A row whose dimension differs from the expected one is bad but can be
 * skipped (its length is known); a dimension field outside 1..DV_MAX_DIM
 * or a file ending inside a row is fatal: the framing is lost.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct vecs_state {
    uint64_t row;   /* number of the next row */
    uint8_t *bytes; /* one row's raw values */
} vecs_state;

static size_t elem_size(const ingest_reader *r) { return r->format == INGEST_FVECS ? 4 : 1; }

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int vecs_open(ingest_reader *r, ingest_error *err) {
    vecs_state *s = calloc(1, sizeof *s);
    uint8_t *bytes = malloc((size_t)DV_MAX_DIM * 4);
    if (!s || !bytes) {
        free(s);
        free(bytes);
        ingest_fail(err, INGEST_FATAL, 0, 0, "out of memory");
        return -1;
    }
    s->bytes = bytes;
    r->state = s;
    return 0;
}

static void decode_row(ingest_reader *r, const uint8_t *bytes, uint32_t dim) {
    for (uint32_t i = 0; i < dim; i++) {
        if (r->format == INGEST_BVECS) {
            r->vec[i] = (float)bytes[i];
        } else {
            uint32_t u = load_le32(bytes + 4 * (size_t)i);
            memcpy(&r->vec[i], &u, 4);
        }
    }
}

static void count_rows(ingest_reader *r, uint32_t dim) {
    uint64_t row_bytes = 4 + (uint64_t)dim * elem_size(r);
    if (r->bytes_total && r->rows_total == 0) r->rows_total = r->bytes_total / row_bytes;
}

static ingest_result vecs_next(ingest_reader *r, ingest_record *rec, ingest_error *err) {
    vecs_state *s = r->state;
    uint64_t row = s->row, offset = r->bytes_read;
    uint8_t head[4];
    size_t got;
    int rc = ingest_read_exact(r, head, 4, &got);
    if (rc == 0) return INGEST_END;
    if (rc < 0)
        return ingest_fail(err, INGEST_FATAL, 1, row,
                           "file ends inside the dimension field (%zu of 4 bytes at offset %" PRIu64 ")", got,
                           offset);
    int32_t dim = (int32_t)load_le32(head);
    if (dim < 1 || dim > DV_MAX_DIM)
        return ingest_fail(err, INGEST_FATAL, 1, row,
                           "dimension field %" PRId32 " at offset %" PRIu64
                           " is not in 1..%u (not a .%s file, or damaged)",
                           dim, offset, DV_MAX_DIM, ingest_format_name(r->format));
    size_t len = (size_t)dim * elem_size(r);
    if (ingest_read_exact(r, s->bytes, len, &got) != 1)
        return ingest_fail(err, INGEST_FATAL, 1, row, "file ends inside the row (%zu of %zu value bytes)",
                           got, len);
    s->row++;
    count_rows(r, (uint32_t)dim);
    if (ingest_check_dim(r, (uint32_t)dim, row, err) != INGEST_RECORD) return INGEST_BAD;
    decode_row(r, s->bytes, (uint32_t)dim);
    if (ingest_check_finite(r->vec, r->dim, row, err) != INGEST_RECORD) return INGEST_BAD;
    snprintf(r->id, sizeof r->id, "%" PRIu64, row);
    ingest_emit(r, rec, row);
    return INGEST_RECORD;
}

static void vecs_close(ingest_reader *r) {
    vecs_state *s = r->state;
    if (s) free(s->bytes);
    free(s);
}

const ingest_ops ingest_vecs_ops = {vecs_open, vecs_next, vecs_close};
