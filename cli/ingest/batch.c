/*
 * batch.c -- a batch of copied records (batch.h). Metadata strings go into
 * one growing arena and are addressed by offset until the batch is handed
 * to the store, so the arena may move while records are added.
 */
#define _POSIX_C_SOURCE 200809L
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ingest_batch_init(ingest_batch *b, size_t cap, uint32_t dim) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->dim = dim;
    b->ops = calloc(cap, sizeof *b->ops);
    b->pos = calloc(cap, sizeof *b->pos);
    b->vecs = malloc(cap * dim * sizeof *b->vecs);
    b->ids = malloc(cap * sizeof *b->ids);
    b->meta_first = calloc(cap, sizeof *b->meta_first);
    b->meta_count = calloc(cap, sizeof *b->meta_count);
    if (!b->ops || !b->pos || !b->vecs || !b->ids || !b->meta_first || !b->meta_count) {
        ingest_batch_free(b);
        return -1;
    }
    return 0;
}

void ingest_batch_free(ingest_batch *b) {
    free(b->ops);
    free(b->pos);
    free(b->vecs);
    free(b->ids);
    free(b->meta_first);
    free(b->meta_count);
    free(b->key_at);
    free(b->value_at);
    free(b->pairs);
    free(b->strings);
    memset(b, 0, sizeof *b);
}

static int grow_pairs(ingest_batch *b, size_t need) {
    if (need <= b->pairs_cap) return 0;
    size_t cap = b->pairs_cap ? b->pairs_cap * 2 : 256;
    while (cap < need) cap *= 2;
    size_t *k = realloc(b->key_at, cap * sizeof *k);
    if (!k) return -1;
    b->key_at = k;
    size_t *v = realloc(b->value_at, cap * sizeof *v);
    if (!v) return -1;
    b->value_at = v;
    dv_meta_kv *p = realloc(b->pairs, cap * sizeof *p);
    if (!p) return -1;
    b->pairs = p;
    b->pairs_cap = cap;
    return 0;
}

/* Appends s with its NUL; returns its offset, or SIZE_MAX when out of memory. */
static size_t put_string(ingest_batch *b, const char *s) {
    size_t len = strlen(s) + 1;
    if (b->strings_used + len > b->strings_cap) {
        size_t cap = b->strings_cap ? b->strings_cap * 2 : 4096;
        while (cap < b->strings_used + len) cap *= 2;
        char *a = realloc(b->strings, cap);
        if (!a) return SIZE_MAX;
        b->strings = a;
        b->strings_cap = cap;
    }
    memcpy(b->strings + b->strings_used, s, len);
    b->strings_used += len;
    return b->strings_used - len;
}

int ingest_batch_add(ingest_batch *b, const ingest_record *rec) {
    size_t i = b->n;
    if (i == b->cap || rec->dim != b->dim || grow_pairs(b, b->n_pairs + rec->n_meta) != 0) return -1;
    b->meta_first[i] = b->n_pairs;
    b->meta_count[i] = rec->n_meta;
    for (size_t m = 0; m < rec->n_meta; m++) {
        size_t k = put_string(b, rec->meta[m].key),
               v = k == SIZE_MAX ? SIZE_MAX : put_string(b, rec->meta[m].value);
        if (v == SIZE_MAX) return -1;
        b->key_at[b->n_pairs] = k;
        b->value_at[b->n_pairs] = v;
        b->n_pairs++;
    }
    snprintf(b->ids[i], sizeof b->ids[i], "%s", rec->id);
    memcpy(b->vecs + i * b->dim, rec->vec, sizeof(float) * b->dim);
    b->pos[i] = rec->pos;
    b->n++;
    return 0;
}

const dv_store_op *ingest_batch_ops(ingest_batch *b) {
    for (size_t p = 0; p < b->n_pairs; p++) {
        b->pairs[p].key = b->strings + b->key_at[p];
        b->pairs[p].value = b->strings + b->value_at[p];
    }
    for (size_t i = 0; i < b->n; i++) {
        dv_store_op *op = &b->ops[i];
        memset(op, 0, sizeof *op);
        op->kind = DV_STORE_INSERT;
        op->id = b->ids[i];
        op->vec = b->vecs + i * b->dim;
        op->meta = b->meta_count[i] ? b->pairs + b->meta_first[i] : NULL;
        op->n_meta = b->meta_count[i];
    }
    return b->ops;
}

void ingest_batch_clear(ingest_batch *b) {
    b->n = 0;
    b->n_pairs = 0;
    b->strings_used = 0;
}
