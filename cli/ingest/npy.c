/*
 * npy.c -- the NumPy .npy reader: a 2-D float32 or float64 array in C
 * order, streamed row by row. The header is the format's Python dict
 * literal ({'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }),
 * parsed as such: exactly these three keys, each once; anything else
 * (another dtype, Fortran order, not 2-D) is refused with the reason.
 * Row i's id is i. Big-endian arrays ('>f4', '>f8') are byte-swapped.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAX_HEADER (1u << 20) /* numpy writes < 1 KiB; refuse a hostile length early */

typedef struct npy_state {
    uint64_t rows, row; /* rows in the shape, next row */
    size_t item;        /* 4 or 8 */
    int swap;           /* big-endian data */
    uint8_t *bytes;     /* one row */
} npy_state;

typedef struct npy_header {
    char descr[16];
    int fortran; /* -1: key absent */
    int n_shape; /* -1: key absent */
    uint64_t shape[8];
} npy_header;

/* ---- the header dict literal ---- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_space(cursor *c) {
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static int take(cursor *c, char ch) {
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...", no escapes: numpy never writes them in these fields). */
static int parse_string(cursor *c, char *out, size_t cap) {
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != q && *c->p != '\\') c->p++;
    if (c->p >= c->end || *c->p != q || (size_t)(c->p - start) >= cap) return -1;
    memcpy(out, start, (size_t)(c->p - start));
    out[c->p - start] = '\0';
    c->p++;
    return 0;
}

static int parse_word(cursor *c, const char *word) {
    size_t n = strlen(word);
    skip_space(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* (a, b, ...) of non-negative integers; "(n,)" is 1-D, "()" 0-D. */
static int parse_shape(cursor *c, npy_header *h) {
    if (!take(c, '(')) return -1;
    h->n_shape = 0;
    while (!take(c, ')')) {
        skip_space(c);
        if (c->p >= c->end || !isdigit((unsigned char)*c->p) || h->n_shape == 8) return -1;
        uint64_t v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            if (v > (UINT64_MAX - 9) / 10) return -1;
            v = v * 10 + (uint64_t)(*c->p++ - '0');
        }
        h->shape[h->n_shape++] = v;
        if (!take(c, ',')) {
            if (!take(c, ')')) return -1;
            break;
        }
    }
    return 0;
}

/* Parses the dict; on failure writes what is wrong into why. */
static int parse_header(const char *text, size_t len, npy_header *h, char *why, size_t why_cap) {
    cursor c = {text, text + len};
    h->descr[0] = '\0';
    h->fortran = h->n_shape = -1;
    if (!take(&c, '{')) return snprintf(why, why_cap, "header is not a dict literal"), -1;
    while (!take(&c, '}')) {
        char key[32];
        if (parse_string(&c, key, sizeof key) != 0 || !take(&c, ':'))
            return snprintf(why, why_cap, "header: expected a quoted key and ':' at byte %td", c.p - text),
                   -1;
        int dup = 0, bad = 0;
        if (!strcmp(key, "descr")) {
            dup = h->descr[0] != '\0';
            skip_space(&c);
            if (c.p < c.end && *c.p == '[')
                return snprintf(why, why_cap,
                                "structured dtype: only float32 or float64 arrays are supported"),
                       -1;
            bad = parse_string(&c, h->descr, sizeof h->descr) != 0 || h->descr[0] == '\0';
        } else if (!strcmp(key, "fortran_order")) {
            dup = h->fortran != -1;
            h->fortran = parse_word(&c, "True") ? 1 : parse_word(&c, "False") ? 0 : -2;
            bad = h->fortran == -2;
        } else if (!strcmp(key, "shape")) {
            dup = h->n_shape != -1;
            bad = parse_shape(&c, h) != 0;
        } else {
            return snprintf(why, why_cap, "header has an unknown key '%s'", key), -1;
        }
        if (dup) return snprintf(why, why_cap, "header has the key '%s' twice", key), -1;
        if (bad) return snprintf(why, why_cap, "header: bad value for '%s'", key), -1;
        if (!take(&c, ',')) {
            if (!take(&c, '}'))
                return snprintf(why, why_cap, "header: expected ',' or '}' at byte %td", c.p - text), -1;
            break;
        }
    }
    skip_space(&c);
    if (c.p != c.end) return snprintf(why, why_cap, "header: bytes after the dict"), -1;
    if (h->descr[0] == '\0' || h->fortran < 0 || h->n_shape < 0)
        return snprintf(why, why_cap, "header lacks one of 'descr', 'fortran_order', 'shape'"), -1;
    return 0;
}

/* ---- checks of what the header says ---- */

static int check_header(ingest_reader *r, npy_state *s, const npy_header *h, ingest_error *err) {
    const char *d = h->descr;
    if ((d[0] == '<' || d[0] == '>' || d[0] == '=') && d[1] == 'f' &&
        (!strcmp(d + 2, "4") || !strcmp(d + 2, "8"))) {
        s->item = d[2] == '4' ? 4 : 8;
        s->swap = d[0] == '>';
    } else {
        ingest_fail(err, INGEST_FATAL, 0, 0,
                    "dtype '%s' is not supported: only float32 ('<f4') or float64 ('<f8')", d);
        return -1;
    }
    if (h->fortran) {
        ingest_fail(err, INGEST_FATAL, 0, 0,
                    "Fortran-order (column-major) array: save it in C order (numpy.ascontiguousarray)");
        return -1;
    }
    if (h->n_shape != 2) {
        ingest_fail(err, INGEST_FATAL, 0, 0, "array has %d dimension%s: expected 2 (rows, dim)", h->n_shape,
                    h->n_shape == 1 ? "" : "s");
        return -1;
    }
    if (h->shape[1] < 1 || h->shape[1] > DV_MAX_DIM) {
        ingest_fail(err, INGEST_FATAL, 0, 0, "shape (%" PRIu64 ", %" PRIu64 "): dim must be 1..%u",
                    h->shape[0], h->shape[1], DV_MAX_DIM);
        return -1;
    }
    if (r->dim && h->shape[1] != r->dim) {
        ingest_fail(err, INGEST_FATAL, 0, 0,
                    "shape (%" PRIu64 ", %" PRIu64 "): %" PRIu64 " values per row, expected %u", h->shape[0],
                    h->shape[1], h->shape[1], r->dim);
        return -1;
    }
    r->dim = (uint32_t)h->shape[1];
    s->rows = h->shape[0];
    r->rows_total = s->rows;
    return 0;
}

static int read_preamble(ingest_reader *r, char **text, size_t *len, ingest_error *err) {
    uint8_t pre[12];
    size_t got;
    if (ingest_read_exact(r, pre, 10, &got) != 1 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        ingest_fail(err, INGEST_FATAL, 0, 0, "not a .npy file (no \\x93NUMPY magic)");
        return -1;
    }
    uint8_t major = pre[6];
    if (major < 1 || major > 3) {
        ingest_fail(err, INGEST_FATAL, 0, 0, "npy format version %u.%u is not supported (1..3)", major,
                    pre[7]);
        return -1;
    }
    uint64_t hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    if (major >= 2) {
        if (ingest_read_exact(r, pre + 10, 2, &got) != 1) {
            ingest_fail(err, INGEST_FATAL, 0, 0, "file ends inside the header length");
            return -1;
        }
        hlen |= (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
    }
    if (hlen == 0 || hlen > NPY_MAX_HEADER) {
        ingest_fail(err, INGEST_FATAL, 0, 0, "header length %" PRIu64 " is not in 1..%u", hlen,
                    NPY_MAX_HEADER);
        return -1;
    }
    *text = malloc(hlen);
    if (!*text) return ingest_fail(err, INGEST_FATAL, 0, 0, "out of memory"), -1;
    if (ingest_read_exact(r, *text, hlen, &got) != 1) {
        ingest_fail(err, INGEST_FATAL, 0, 0, "file ends inside the header (%zu of %" PRIu64 " bytes)", got,
                    hlen);
        return -1;
    }
    if ((*text)[hlen - 1] != '\n') {
        ingest_fail(err, INGEST_FATAL, 0, 0, "header does not end with a newline");
        return -1;
    }
    *len = (size_t)hlen;
    return 0;
}

static int npy_open(ingest_reader *r, ingest_error *err) {
    npy_state *s = calloc(1, sizeof *s);
    if (!s) return ingest_fail(err, INGEST_FATAL, 0, 0, "out of memory"), -1;
    r->state = s;
    char *text = NULL, why[200];
    size_t len = 0;
    npy_header h;
    int rc = read_preamble(r, &text, &len, err);
    if (rc == 0 && parse_header(text, len, &h, why, sizeof why) != 0) {
        ingest_fail(err, INGEST_FATAL, 0, 0, "%s", why);
        rc = -1;
    }
    free(text);
    if (rc != 0 || check_header(r, s, &h, err) != 0) return -1;
    s->bytes = malloc(s->item * r->dim);
    if (!s->bytes) return ingest_fail(err, INGEST_FATAL, 0, 0, "out of memory"), -1;
    return 0;
}

static uint64_t load_u64(const uint8_t *p, size_t n, int swap) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[swap ? n - 1 - i : i] << (8 * i);
    return v;
}

static void decode_row(ingest_reader *r, const npy_state *s) {
    for (uint32_t i = 0; i < r->dim; i++) {
        uint64_t bits = load_u64(s->bytes + s->item * i, s->item, s->swap);
        if (s->item == 4) {
            uint32_t u = (uint32_t)bits;
            memcpy(&r->vec[i], &u, 4);
        } else {
            double d;
            memcpy(&d, &bits, 8);
            r->vec[i] = ingest_float_of(d);
        }
    }
}

static ingest_result npy_next(ingest_reader *r, ingest_record *rec, ingest_error *err) {
    npy_state *s = r->state;
    size_t len = s->item * r->dim, got;
    if (s->row == s->rows) {
        uint8_t extra;
        if (ingest_read_exact(r, &extra, 1, &got) == 0) return INGEST_END;
        return ingest_fail(err, INGEST_FATAL, 1, s->row,
                           "bytes after the last row (shape has %" PRIu64 " rows)", s->rows);
    }
    uint64_t row = s->row;
    if (ingest_read_exact(r, s->bytes, len, &got) != 1)
        return ingest_fail(err, INGEST_FATAL, 1, row,
                           "file ends inside the row (%zu of %zu bytes; shape has %" PRIu64 " rows)", got,
                           len, s->rows);
    s->row++;
    decode_row(r, s);
    if (ingest_check_finite(r->vec, r->dim, row, err) != INGEST_RECORD) return INGEST_BAD;
    snprintf(r->id, sizeof r->id, "%" PRIu64, row);
    ingest_emit(r, rec, row);
    return INGEST_RECORD;
}

static void npy_close(ingest_reader *r) {
    npy_state *s = r->state;
    if (s) free(s->bytes);
    free(s);
}

const ingest_ops ingest_npy_ops = {npy_open, npy_next, npy_close};
