/*
 * jsonl.c -- the JSON Lines reader: one object per line,
 *   {"id": "a" | 17, "vector": [0.1, ...], "metadata": {"k": "v", ...}}
 * parsed with cJSON. "metadata" is optional; its values may be strings,
 * numbers or booleans (stored as their JSON text). Other keys are
 * ignored, so files carrying extra fields (a text, a title) load as they
 * are. Blank lines are skipped. A bad line is skipped by --skip-bad: each
 * line stands alone.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "line_reader.h"

#define MAX_INT_ID 9007199254740992.0 /* 2^53: integers above it are not exact in JSON numbers */

static int jsonl_open(ingest_reader *r, ingest_error *err) {
    line_reader *lr = malloc(sizeof *lr);
    if (!lr) return ingest_fail(err, INGEST_FATAL, 0, 0, "out of memory"), -1;
    line_reader_init(lr, r);
    r->state = lr;
    return 0;
}

static int is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static ingest_result take_id(ingest_reader *r, const cJSON *id, uint64_t line, ingest_error *err) {
    if (cJSON_IsString(id)) return ingest_set_id(r, id->valuestring, strlen(id->valuestring), line, err);
    if (cJSON_IsNumber(id)) {
        double d = id->valuedouble;
        if (d != floor(d) || fabs(d) > MAX_INT_ID)
            return ingest_fail(err, INGEST_BAD, 1, line,
                               "\"id\" %g is not an integer of at most 2^53 (give it as a string)", d);
        char text[32];
        int n = snprintf(text, sizeof text, "%.0f", d);
        return ingest_set_id(r, text, (size_t)n, line, err);
    }
    return ingest_fail(err, INGEST_BAD, 1, line, "\"id\" %s: must be a string or an integer",
                       id ? "is neither a string nor a number" : "is missing");
}

static ingest_result take_vector(ingest_reader *r, const cJSON *v, uint64_t line, ingest_error *err) {
    if (!cJSON_IsArray(v))
        return ingest_fail(err, INGEST_BAD, 1, line, "\"vector\" %s", v ? "is not an array" : "is missing");
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > DV_MAX_DIM)
        return ingest_fail(err, INGEST_BAD, 1, line, "\"vector\" has %d values (1..%u allowed)", n,
                           DV_MAX_DIM);
    if (ingest_check_dim(r, (uint32_t)n, line, err) != INGEST_RECORD) return INGEST_BAD;
    uint32_t i = 0;
    for (const cJSON *x = v->child; x; x = x->next, i++) {
        if (!cJSON_IsNumber(x))
            return ingest_fail(err, INGEST_BAD, 1, line, "\"vector\" value %u is not a number", i);
        r->vec[i] = ingest_float_of(x->valuedouble);
    }
    return ingest_check_finite(r->vec, r->dim, line, err);
}

static ingest_result take_metadata(ingest_reader *r, const cJSON *m, uint64_t line, ingest_error *err) {
    if (!m || cJSON_IsNull(m)) return INGEST_RECORD;
    if (!cJSON_IsObject(m)) return ingest_fail(err, INGEST_BAD, 1, line, "\"metadata\" is not an object");
    for (const cJSON *kv = m->child; kv; kv = kv->next) {
        char *text = NULL;
        const char *value = kv->valuestring;
        if (!cJSON_IsString(kv)) {
            if (!cJSON_IsNumber(kv) && !cJSON_IsBool(kv))
                return ingest_fail(err, INGEST_BAD, 1, line,
                                   "metadata \"%s\": value must be a string, number or boolean", kv->string);
            value = text = cJSON_PrintUnformatted(kv);
            if (!text) return ingest_fail(err, INGEST_FATAL, 1, line, "out of memory");
        }
        ingest_result rc = ingest_meta_add(&r->meta, kv->string, value, line, err);
        cJSON_free(text);
        if (rc != INGEST_RECORD) return rc;
    }
    return INGEST_RECORD;
}

static ingest_result parse_line(ingest_reader *r, const char *text, size_t len, uint64_t line,
                                ingest_error *err) {
    const char *nul = memchr(text, '\0', len);
    if (nul) return ingest_fail(err, INGEST_BAD, 1, line, "NUL byte at column %td", nul - text + 1);
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!doc) {
        size_t col = end && end >= text ? (size_t)(end - text) + 1 : 1;
        return ingest_fail(err, INGEST_BAD, 1, line, "invalid JSON at column %zu", col);
    }
    ingest_result rc = INGEST_RECORD;
    while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
    if (end < text + len)
        rc =
            ingest_fail(err, INGEST_BAD, 1, line, "text after the JSON object at column %td", end - text + 1);
    else if (!cJSON_IsObject(doc))
        rc = ingest_fail(err, INGEST_BAD, 1, line, "not a JSON object");
    if (rc == INGEST_RECORD) rc = take_id(r, cJSON_GetObjectItemCaseSensitive(doc, "id"), line, err);
    if (rc == INGEST_RECORD) rc = take_vector(r, cJSON_GetObjectItemCaseSensitive(doc, "vector"), line, err);
    if (rc == INGEST_RECORD)
        rc = take_metadata(r, cJSON_GetObjectItemCaseSensitive(doc, "metadata"), line, err);
    cJSON_Delete(doc);
    return rc;
}

static ingest_result jsonl_next(ingest_reader *r, ingest_record *rec, ingest_error *err) {
    line_reader *lr = r->state;
    for (;;) {
        line_result lrc = line_reader_next(lr);
        if (lrc == LINE_END) return INGEST_END;
        if (lrc == LINE_IO) return ingest_fail(err, INGEST_FATAL, 1, lr->line_no, "read error");
        if (lrc == LINE_TOO_LONG)
            return ingest_fail(err, INGEST_BAD, 1, lr->line_no, "line longer than %u bytes", INGEST_MAX_LINE);
        if (is_blank(lr->buf, lr->len)) continue;
        ingest_result rc = parse_line(r, lr->buf, lr->len, lr->line_no, err);
        if (rc != INGEST_RECORD) return rc;
        ingest_emit(r, rec, lr->line_no);
        return INGEST_RECORD;
    }
}

static void jsonl_close(ingest_reader *r) {
    if (r->state) line_reader_free(r->state);
    free(r->state);
}

const ingest_ops ingest_jsonl_ops = {jsonl_open, jsonl_next, jsonl_close};
