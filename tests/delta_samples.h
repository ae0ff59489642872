/*
 * delta_samples.h -- sample deltas of every kind, shared by the delta tests
 * and the fuzz seed-corpus generator (header-only, no main()).
 *
 * dv_sample_build(k, ...) fills a builder (or batch) with sample k, and
 * dv_sample_encode() writes it as one contiguous buffer: 64 header bytes
 * then the payload. dv_delta_same() compares two decoded/built deltas
 * field by field (content, not header bytes).
 */
#ifndef DV_TESTS_DELTA_SAMPLES_H
#define DV_TESTS_DELTA_SAMPLES_H

#include <math.h>
#include <string.h>

#include "delta/delta.h"

enum {
    DV_SAMPLE_INSERT,
    DV_SAMPLE_DENSE,
    DV_SAMPLE_SPARSE,
    DV_SAMPLE_META,
    DV_SAMPLE_DELETE,
    DV_SAMPLE_REINDEX,
    DV_SAMPLE_BATCH,
    DV_SAMPLE_COUNT
};

#define DV_SAMPLE_DIM 24u

static inline void dv_sample_vec(float *v, uint32_t dim, float base) {
    for (uint32_t i = 0; i < dim; i++) v[i] = base + 0.25f * (float)i - 0.125f * (float)(i % 3);
}

/* Fills b with sample k (not BATCH). */
static inline void dv_sample_fill(dv_delta_builder *b, int k, uint64_t seq) {
    float v[DV_SAMPLE_DIM], old[DV_SAMPLE_DIM];
    dv_sample_vec(v, DV_SAMPLE_DIM, 1.0f);
    dv_sample_vec(old, DV_SAMPLE_DIM, 0.5f);
    static const uint32_t idx[] = {0, 3, 4, 17, 23};
    static const float vals[] = {1.5f, -2.0f, 0.001f, 100.0f, -0.0f};
    static const float prev[] = {1.0f, -1.0f, 0.0f, 99.0f, 3.0f};
    switch (k) {
    case DV_SAMPLE_INSERT:
        dv_delta_builder_begin(b, DV_OP_INSERT);
        dv_delta_builder_set_insert(b, 7, "doc-7", 2, DV_SAMPLE_DIM, v);
        dv_delta_builder_meta(b, "lang", "en");
        dv_delta_builder_meta(b, "t\xc3\xa9st", "\xe2\x82\xac 5");
        dv_delta_builder_edge_add(b, 2, 7, 1, 0.5f);
        dv_delta_builder_edge_add(b, 2, 1, 7, 0.5f);
        dv_delta_builder_edge_add(b, 0, 7, 3, 1.25f);
        dv_delta_builder_edge_remove(b, 0, 3, 4);
        dv_delta_builder_edge_add(b, 0, 3, 7, 1.25f);
        dv_delta_builder_entry(b, 7, 2);
        b->d.h.prev_sequence = 0;
        break;
    case DV_SAMPLE_DENSE:
        dv_delta_builder_begin(b, DV_OP_UPDATE);
        dv_delta_builder_set_dense(b, 7, "doc-7", DV_SAMPLE_DIM, v, old);
        dv_delta_builder_edge_remove(b, 0, 7, 3);
        dv_delta_builder_edge_add(b, 0, 7, 5, 2.0f);
        b->d.h.prev_sequence = seq - 1;
        break;
    case DV_SAMPLE_SPARSE:
        dv_delta_builder_begin(b, DV_OP_UPDATE);
        dv_delta_builder_set_sparse(b, 9, "v9", DV_SAMPLE_DIM, idx, vals, prev, 5);
        b->d.h.prev_sequence = seq - 3;
        break;
    case DV_SAMPLE_META:
        dv_delta_builder_begin(b, DV_OP_UPDATE);
        dv_delta_builder_set_meta_target(b, 7, "doc-7");
        dv_delta_builder_meta(b, "lang", "fr");
        dv_delta_builder_meta(b, "old", NULL);
        b->d.h.prev_sequence = seq - 2;
        break;
    case DV_SAMPLE_DELETE:
        dv_delta_builder_begin(b, DV_OP_DELETE);
        dv_delta_builder_set_delete(b, 7, "doc-7", DV_SAMPLE_DIM, old);
        dv_delta_builder_edge_remove(b, 0, 3, 7);
        dv_delta_builder_edge_remove(b, 2, 1, 7);
        dv_delta_builder_edge_add(b, 0, 3, 5, 0.75f);
        dv_delta_builder_entry(b, 1, 2);
        b->d.h.prev_sequence = seq - 1;
        break;
    case DV_SAMPLE_REINDEX:
    default:
        dv_delta_builder_begin(b, DV_OP_REINDEX);
        dv_delta_builder_edge_remove(b, 1, 4, 5);
        dv_delta_builder_edge_add(b, 1, 4, 6, 3.0f);
        dv_delta_builder_entry(b, DV_NO_SLOT, 0);
        break;
    }
    b->d.h.sequence = seq;
    b->d.h.timestamp = 1700000000000ull + seq;
}

/* Encodes sample k into buf (header + payload); returns the total length or 0. */
static inline size_t dv_sample_encode(int k, const dv_encode_opts *o, uint8_t *buf, size_t cap) {
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena scratch;
    dv_delta_arena_init(&scratch, &mem);
    size_t plen = 0, total = 0;
    dv_status s;
    if (cap < DV_DELTA_HEADER_SIZE) return 0;
    if (k == DV_SAMPLE_BATCH) {
        dv_delta_batch bw;
        dv_delta_batch_init(&bw, &mem);
        dv_delta_builder b;
        dv_delta_builder_init(&b, &mem);
        s = DV_OK;
        for (int i = DV_SAMPLE_INSERT; i <= DV_SAMPLE_DELETE && s == DV_OK; i++) {
            dv_sample_fill(&b, i, 100);
            s = dv_delta_batch_append(&bw, &b.d, o);
        }
        dv_delta_header bh;
        memset(&bh, 0, sizeof bh);
        bh.sequence = 100;
        bh.timestamp = 1700000000100ull;
        if (s == DV_OK)
            s = dv_delta_batch_finish(&bw, &bh, o, buf, buf + DV_DELTA_HEADER_SIZE,
                                      cap - DV_DELTA_HEADER_SIZE, &plen);
        dv_delta_builder_free(&b);
        dv_delta_batch_free(&bw);
    } else {
        dv_delta_builder b;
        dv_delta_builder_init(&b, &mem);
        dv_sample_fill(&b, k, 42);
        s = dv_delta_encode(&b.d, o, &scratch, buf, buf + DV_DELTA_HEADER_SIZE, cap - DV_DELTA_HEADER_SIZE,
                            &plen);
        dv_delta_builder_free(&b);
    }
    dv_delta_arena_free(&scratch);
    if (s == DV_OK) total = DV_DELTA_HEADER_SIZE + plen;
    return total;
}

static inline int dv_same_floats(const float *a, const float *b, uint32_t n) {
    if (!a || !b) return a == b;
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

static inline int dv_same_str(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

/* Content equality (bitwise for floats). */
static inline int dv_delta_same(const dv_delta *a, const dv_delta *b) {
    if (a->h.operation != b->h.operation || a->vkind != b->vkind || a->n_sub != b->n_sub) return 0;
    if (a->h.operation == DV_OP_BATCH) {
        for (uint32_t i = 0; i < a->n_sub; i++)
            if (!dv_delta_same(&a->subs[i], &b->subs[i])) return 0;
        return 1;
    }
    if (!dv_same_str(a->id, b->id) || (a->id && a->slot != b->slot)) return 0;
    if (a->vkind == DV_VEC_INSERT && a->level != b->level) return 0;
    if (a->dim != b->dim || a->n != b->n) return 0;
    if (!dv_same_floats(a->values, b->values, a->n) || !dv_same_floats(a->before, b->before, a->n)) return 0;
    if ((a->idx == NULL) != (b->idx == NULL)) return 0;
    if (a->idx && memcmp(a->idx, b->idx, (size_t)a->n * 4u) != 0) return 0;
    if (a->n_meta != b->n_meta || a->n_purge != b->n_purge) return 0;
    if (a->n_purge && memcmp(a->purge, b->purge, (size_t)a->n_purge * 4u) != 0) return 0;
    for (uint32_t i = 0; i < a->n_meta; i++)
        if (!dv_same_str(a->meta[i].key, b->meta[i].key) || !dv_same_str(a->meta[i].value, b->meta[i].value))
            return 0;
    if (a->n_sections != b->n_sections || a->has_entry != b->has_entry) return 0;
    if (a->has_entry && (a->entry != b->entry || a->max_level != b->max_level)) return 0;
    for (uint32_t i = 0; i < a->n_sections; i++) {
        const dv_hnsw_section *x = &a->sections[i], *y = &b->sections[i];
        if (x->layer != y->layer || x->n_remove != y->n_remove || x->n_add != y->n_add) return 0;
        for (uint32_t k = 0; k < x->n_remove; k++)
            if (x->removes[k].from != y->removes[k].from || x->removes[k].to != y->removes[k].to) return 0;
        for (uint32_t k = 0; k < x->n_add; k++)
            if (x->adds[k].from != y->adds[k].from || x->adds[k].to != y->adds[k].to ||
                memcmp(&x->adds[k].dist, &y->adds[k].dist, 4) != 0)
                return 0;
    }
    return 1;
}

#endif
