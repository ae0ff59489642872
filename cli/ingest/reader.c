/*
 * reader.c -- the reader object (reader.h): format from the extension,
 * opening the file, and the helpers every format uses to build a record
 * and to say why one is bad.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INGEST_FILE_BUFFER (1u << 20) /* stdio buffer: few large reads */

static const struct {
    const char *name;
    ingest_format format;
} format_names[] = {{"fvecs", INGEST_FVECS}, {"bvecs", INGEST_BVECS},  {"npy", INGEST_NPY},
                    {"jsonl", INGEST_JSONL}, {"ndjson", INGEST_JSONL}, {"csv", INGEST_CSV}};

ingest_format ingest_format_from_name(const char *name) {
    for (size_t i = 0; name && i < sizeof format_names / sizeof format_names[0]; i++)
        if (!strcmp(name, format_names[i].name)) return format_names[i].format;
    return INGEST_AUTO;
}

ingest_format ingest_format_from_path(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    return dot ? ingest_format_from_name(dot + 1) : INGEST_AUTO;
}

const char *ingest_format_name(ingest_format format) {
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (format_names[i].format == format) return format_names[i].name;
    return "auto";
}

const char *ingest_pos_unit(ingest_format format) {
    return format == INGEST_JSONL || format == INGEST_CSV ? "line" : "row";
}

static const ingest_ops *ops_of(ingest_format format) {
    switch (format) {
    case INGEST_FVECS:
    case INGEST_BVECS:
        return &ingest_vecs_ops;
    case INGEST_NPY:
        return &ingest_npy_ops;
    case INGEST_JSONL:
        return &ingest_jsonl_ops;
    case INGEST_CSV:
        return &ingest_csv_ops;
    default:
        return NULL;
    }
}

static int open_file(ingest_reader *r, const char *path, ingest_error *err) {
    if (!strcmp(path, "-")) {
        r->f = stdin;
    } else {
        r->f = fopen(path, "rb");
        if (!r->f) return ingest_fail(err, -1, 0, 0, "cannot open: %s", strerror(errno)), -1;
        r->owns_file = 1;
    }
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0 && S_ISDIR(st.st_mode))
        return ingest_fail(err, -1, 0, 0, "is a directory, not a file"), -1;
    if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode)) r->bytes_total = (uint64_t)st.st_size;
    setvbuf(r->f, NULL, _IOFBF, INGEST_FILE_BUFFER);
    return 0;
}

int ingest_open(const char *path, ingest_format format, uint32_t expected_dim, ingest_reader **out,
                ingest_error *err) {
    memset(err, 0, sizeof *err);
    *out = NULL;
    if (format == INGEST_AUTO) format = ingest_format_from_path(path);
    if (format == INGEST_AUTO) {
        ingest_fail(err, -1, 0, 0,
                    "cannot tell the format from the name (expected .fvecs, .bvecs, .npy, .jsonl or .csv): "
                    "give --format");
        return -1;
    }
    if (expected_dim > DV_MAX_DIM) {
        ingest_fail(err, -1, 0, 0, "dimension %u is above %u", expected_dim, DV_MAX_DIM);
        return -1;
    }
    ingest_reader *r = calloc(1, sizeof *r);
    float *vec = malloc(sizeof(float) * DV_MAX_DIM);
    if (!r || !vec) {
        free(r);
        free(vec);
        ingest_fail(err, -1, 0, 0, "out of memory");
        return -1;
    }
    r->ops = ops_of(format);
    r->format = format;
    r->dim = expected_dim;
    r->vec = vec;
    if (open_file(r, path, err) != 0 || r->ops->open(r, err) != 0) {
        ingest_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

ingest_result ingest_next(ingest_reader *r, ingest_record *rec, ingest_error *err) {
    memset(err, 0, sizeof *err);
    ingest_meta_clear(&r->meta);
    return r->ops->next(r, rec, err);
}

ingest_format ingest_reader_format(const ingest_reader *r) { return r->format; }
uint64_t ingest_bytes_read(const ingest_reader *r) { return r->bytes_read; }
uint64_t ingest_bytes_total(const ingest_reader *r) { return r->bytes_total; }
uint64_t ingest_rows_total(const ingest_reader *r) { return r->rows_total; }

void ingest_close(ingest_reader *r) {
    if (!r) return;
    if (r->ops && r->ops->close) r->ops->close(r);
    if (r->owns_file && r->f) fclose(r->f);
    free(r->meta.arena);
    free(r->vec);
    free(r);
}

ingest_result ingest_fail(ingest_error *err, ingest_result result, int has_pos, uint64_t pos, const char *fmt,
                          ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
    err->has_pos = has_pos;
    err->pos = pos;
    return result;
}

int ingest_read_exact(ingest_reader *r, void *buf, size_t len, size_t *got) {
    size_t n = fread(buf, 1, len, r->f);
    r->bytes_read += n;
    if (got) *got = n;
    if (n == len) return 1;
    return n == 0 && !ferror(r->f) ? 0 : -1;
}

ingest_result ingest_check_dim(ingest_reader *r, uint32_t dim, uint64_t pos, ingest_error *err) {
    if (r->dim == 0) r->dim = dim;
    if (dim == r->dim) return INGEST_RECORD;
    return ingest_fail(err, INGEST_BAD, 1, pos, "%u values, expected %u", dim, r->dim);
}

ingest_result ingest_check_finite(const float *vec, uint32_t dim, uint64_t pos, ingest_error *err) {
    for (uint32_t i = 0; i < dim; i++)
        if (!isfinite(vec[i]))
            return ingest_fail(err, INGEST_BAD, 1, pos, "value %u is %s (values must be finite float32)", i,
                               isnan(vec[i]) ? "NaN" : "infinite or out of float32 range");
    return INGEST_RECORD;
}

float ingest_float_of(double d) {
    /* converting an out-of-range double to float is undefined behaviour in C: clamp to infinity first */
    if (d > FLT_MAX) return INFINITY;
    if (d < -FLT_MAX) return -INFINITY;
    return (float)d;
}

ingest_result ingest_set_id(ingest_reader *r, const char *id, size_t len, uint64_t pos, ingest_error *err) {
    if (len == 0) return ingest_fail(err, INGEST_BAD, 1, pos, "empty id");
    if (len > DV_MAX_ID_LEN)
        return ingest_fail(err, INGEST_BAD, 1, pos, "id of %zu bytes, longer than %u", len, DV_MAX_ID_LEN);
    if (memchr(id, '\0', len)) return ingest_fail(err, INGEST_BAD, 1, pos, "id contains a NUL byte");
    memcpy(r->id, id, len);
    r->id[len] = '\0';
    return INGEST_RECORD;
}

void ingest_meta_clear(ingest_meta *m) {
    m->n = 0;
    m->used = 0;
}

/* Appends s (NUL-terminated) to the arena; returns its offset or SIZE_MAX when out of memory. */
static size_t arena_put(ingest_meta *m, const char *s, size_t len) {
    if (m->used + len + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 1024;
        while (cap < m->used + len + 1) cap *= 2;
        char *a = realloc(m->arena, cap);
        if (!a) return SIZE_MAX;
        m->arena = a;
        m->cap = cap;
    }
    size_t at = m->used;
    memcpy(m->arena + at, s, len);
    m->arena[at + len] = '\0';
    m->used += len + 1;
    return at;
}

ingest_result ingest_meta_add(ingest_meta *m, const char *key, const char *value, uint64_t pos,
                              ingest_error *err) {
    size_t klen = strlen(key), vlen = strlen(value);
    if (m->n == DV_MAX_META_PAIRS)
        return ingest_fail(err, INGEST_BAD, 1, pos, "more than %u metadata pairs", DV_MAX_META_PAIRS);
    if (klen == 0 || klen > DV_MAX_META_KEY_LEN)
        return ingest_fail(err, INGEST_BAD, 1, pos, "metadata key of %zu bytes (1..%u allowed)", klen,
                           DV_MAX_META_KEY_LEN);
    if (vlen == 0 || vlen > DV_MAX_META_VALUE_LEN)
        return ingest_fail(err, INGEST_BAD, 1, pos, "metadata value of \"%s\" has %zu bytes (1..%u allowed)",
                           key, vlen, DV_MAX_META_VALUE_LEN);
    size_t k = arena_put(m, key, klen), v = k == SIZE_MAX ? SIZE_MAX : arena_put(m, value, vlen);
    if (v == SIZE_MAX) return ingest_fail(err, INGEST_FATAL, 1, pos, "out of memory");
    m->key_at[m->n] = k;
    m->value_at[m->n] = v;
    m->n++;
    return INGEST_RECORD;
}

void ingest_emit(ingest_reader *r, ingest_record *rec, uint64_t pos) {
    for (size_t i = 0; i < r->meta.n; i++) {
        r->meta.pairs[i].key = r->meta.arena + r->meta.key_at[i];
        r->meta.pairs[i].value = r->meta.arena + r->meta.value_at[i];
    }
    rec->id = r->id;
    rec->vec = r->vec;
    rec->dim = r->dim;
    rec->meta = r->meta.n ? r->meta.pairs : NULL;
    rec->n_meta = r->meta.n;
    rec->pos = pos;
}
