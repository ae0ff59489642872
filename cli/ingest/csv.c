/*
 * csv.c -- the CSV reader: each row is an id, then the vector's values
 *   id,v0,v1,...,v(d-1)
 * parsed with libcsv (RFC 4180 quoting: an id may be quoted, contain
 * commas or even line breaks). If the first row's second field is not a
 * number, that row is a header and is skipped. The file is fed to libcsv
 * one line at a time, so every row is known by the line it starts on.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_internal.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line_reader.h"

/* A row as libcsv hands it over, field by field; checks happen as fields arrive. */
typedef struct csv_row {
    uint64_t line;
    uint32_t n_fields;
    int bad;           /* reason holds why */
    int first_not_num; /* the first value field is not a number (header candidate) */
    char reason[300];
    char id[DV_MAX_ID_LEN + 1];
    size_t id_len;
} csv_row;

typedef struct csv_state {
    struct csv_parser parser;
    line_reader lines;
    ingest_reader *r;
    csv_row row;   /* being filled */
    int row_done;  /* a row ended during the last feed */
    int mid_row;   /* a row started on an earlier line and has not ended */
    uint64_t rows; /* rows ended so far */
} csv_state;

static void row_fail(csv_row *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row_fail(csv_row *row, const char *fmt, ...) {
    if (row->bad) return; /* the first problem of a row is the one reported */
    row->bad = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->reason, sizeof row->reason, fmt, ap);
    va_end(ap);
}

/* Value field `index` (from 0): strictly a number, surrounding blanks allowed. */
static void take_value(csv_state *s, const char *text, size_t len, uint32_t index) {
    csv_row *row = &s->row;
    char buf[64];
    if (len == 0 || len >= sizeof buf) {
        if (index == 0) row->first_not_num = 1;
        if (len == 0)
            row_fail(row, "value %u is empty", index);
        else
            row_fail(row, "value %u is not a number (\"%.40s...\")", index, text);
        return;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *end;
    float v = strtof(buf, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (end == buf || *end != '\0') {
        if (index == 0) row->first_not_num = 1;
        row_fail(row, "value %u is not a number (\"%s\")", index, buf);
        return;
    }
    if (index < DV_MAX_DIM) s->r->vec[index] = v; /* a non-finite value is refused by the finite check */
}

static void on_field(void *text, size_t len, void *ctx) {
    csv_state *s = ctx;
    csv_row *row = &s->row;
    uint32_t i = row->n_fields++;
    if (i == 0) {
        row->id_len = len;
        if (len > 0 && len <= DV_MAX_ID_LEN) memcpy(row->id, text, len);
        return;
    }
    if (i - 1 >= DV_MAX_DIM) return; /* counted; refused with the field count */
    take_value(s, text, len, i - 1);
}

static void on_row_end(int c, void *ctx) {
    (void)c;
    csv_state *s = ctx;
    s->row_done = 1;
    s->mid_row = 0;
}

static int csv_open_format(ingest_reader *r, ingest_error *err) {
    csv_state *s = calloc(1, sizeof *s);
    if (!s) return ingest_fail(err, INGEST_FATAL, 0, 0, "out of memory"), -1;
    r->state = s;
    s->r = r;
    line_reader_init(&s->lines, r);
    if (csv_init(&s->parser, CSV_APPEND_NULL) != 0)
        return ingest_fail(err, INGEST_FATAL, 0, 0, "out of memory"), -1;
    return 0;
}

static int is_blank(const char *t, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r' && t[i] != '\n') return 0;
    return 1;
}

/* Feeds lines until a row ends: 1 row ready, 0 end of file, or a fatal/bad result. */
static ingest_result read_row(csv_state *s, ingest_error *err) {
    memset(&s->row, 0, sizeof s->row);
    s->row_done = 0;
    for (;;) {
        line_result lrc = line_reader_next(&s->lines);
        if (lrc == LINE_IO) return ingest_fail(err, INGEST_FATAL, 1, s->lines.line_no, "read error");
        if (lrc == LINE_END) {
            if (s->mid_row) csv_fini(&s->parser, on_field, on_row_end, s);
            if (s->row_done) return INGEST_RECORD;
            return INGEST_END;
        }
        if (lrc == LINE_TOO_LONG) {
            /* the parser's state is unknown after a dropped piece: start afresh */
            csv_free(&s->parser);
            if (csv_init(&s->parser, CSV_APPEND_NULL) != 0)
                return ingest_fail(err, INGEST_FATAL, 0, 0, "out of memory");
            s->mid_row = 0;
            return ingest_fail(err, INGEST_BAD, 1, s->lines.line_no, "line longer than %u bytes",
                               INGEST_MAX_LINE);
        }
        if (!s->mid_row) {
            if (is_blank(s->lines.buf, s->lines.len)) continue;
            s->row.line = s->lines.line_no;
            s->mid_row = 1;
        }
        if (memchr(s->lines.buf, '\0', s->lines.len)) row_fail(&s->row, "NUL byte in the row");
        if (csv_parse(&s->parser, s->lines.buf, s->lines.len, on_field, on_row_end, s) != s->lines.len)
            return ingest_fail(err, INGEST_FATAL, 1, s->row.line, "CSV parser: %s",
                               csv_strerror(csv_error(&s->parser)));
        if (s->row_done) return INGEST_RECORD;
    }
}

static ingest_result check_row(ingest_reader *r, csv_row *row, ingest_error *err) {
    if (row->n_fields < 2)
        return ingest_fail(err, INGEST_BAD, 1, row->line, "%u field%s: expected an id, then the values",
                           row->n_fields, row->n_fields == 1 ? "" : "s");
    uint32_t dim = row->n_fields - 1;
    if (dim > DV_MAX_DIM)
        return ingest_fail(err, INGEST_BAD, 1, row->line, "%u values (at most %u)", dim, DV_MAX_DIM);
    if (ingest_check_dim(r, dim, row->line, err) != INGEST_RECORD) return INGEST_BAD;
    if (row->bad) return ingest_fail(err, INGEST_BAD, 1, row->line, "%s", row->reason);
    if (ingest_set_id(r, row->id, row->id_len, row->line, err) != INGEST_RECORD) return INGEST_BAD;
    return ingest_check_finite(r->vec, dim, row->line, err);
}

static ingest_result csv_next(ingest_reader *r, ingest_record *rec, ingest_error *err) {
    csv_state *s = r->state;
    for (;;) {
        ingest_result rc = read_row(s, err);
        if (rc != INGEST_RECORD) return rc;
        /* a first row whose first value is not a number names the columns */
        if (s->rows++ == 0 && s->row.first_not_num && s->row.n_fields >= 2) continue;
        if (check_row(r, &s->row, err) != INGEST_RECORD) return INGEST_BAD;
        ingest_emit(r, rec, s->row.line);
        return INGEST_RECORD;
    }
}

static void csv_close(ingest_reader *r) {
    csv_state *s = r->state;
    if (!s) return;
    csv_free(&s->parser);
    line_reader_free(&s->lines);
    free(s);
}

const ingest_ops ingest_csv_ops = {csv_open_format, csv_next, csv_close};
