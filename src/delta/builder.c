/*
 * builder.c -- dv_delta_builder: capture turns observer events into a
 * dv_delta view that dv_delta_encode() can write.
 *
 * Everything is copied (event pointers die with the event). Edges are kept
 * in event order and grouped into sections: a new section starts when the
 * layer changes or a remove follows an add in the current section, so
 * "removes then adds, section by section" replays the exact event order.
 */
#include <string.h>

#include "delta/delta.h"

void dv_delta_builder_init(dv_delta_builder *b, dv_mem *mem) {
    memset(b, 0, sizeof *b);
    b->mem = mem;
    dv_delta_arena_init(&b->arena, mem);
}

void dv_delta_builder_free(dv_delta_builder *b) {
    dv_delta_arena_free(&b->arena);
    dv_mem_free(b->mem, b->secs, (size_t)b->secs_cap * sizeof *b->secs);
    dv_mem_free(b->mem, b->rm, (size_t)b->rm_cap * sizeof *b->rm);
    dv_mem_free(b->mem, b->add, (size_t)b->add_cap * sizeof *b->add);
    dv_mem_free(b->mem, b->meta, (size_t)b->meta_cap * sizeof *b->meta);
    dv_mem_free(b->mem, b->purge, (size_t)b->purge_cap * sizeof *b->purge);
    memset(b, 0, sizeof *b);
}

void dv_delta_builder_begin(dv_delta_builder *b, dv_delta_op op) {
    dv_delta_arena_reset(&b->arena);
    memset(&b->d, 0, sizeof b->d);
    b->d.h.operation = (uint8_t)op;
    b->d.entry = DV_NO_SLOT;
    b->n_rm = b->n_add = 0;
}

/* Grows *arr (elements of size sz) to hold at least need elements. */
static int grow(dv_mem *mem, void **arr, uint32_t *cap, uint32_t need, size_t sz) {
    if (need <= *cap) return 1;
    uint32_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > UINT32_MAX / 2) return 0;
        nc *= 2;
    }
    size_t bytes = dv_mul_size(nc, sz);
    if (!bytes) return 0;
    void *p = dv_mem_realloc(mem, *arr, (size_t)*cap * sz, bytes);
    if (!p) return 0;
    *arr = p;
    *cap = nc;
    return 1;
}

static const char *copy_str(dv_delta_builder *b, const char *s, uint32_t *len) {
    size_t n = strlen(s);
    if (n > UINT32_MAX - 1) return NULL;
    char *c = dv_delta_arena_alloc(&b->arena, n + 1);
    if (c) memcpy(c, s, n + 1);
    if (len) *len = (uint32_t)n;
    return c;
}

static const void *copy_mem(dv_delta_builder *b, const void *p, size_t count, size_t sz) {
    size_t n = dv_mul_size(count, sz);
    if (!n) return NULL;
    void *c = dv_delta_arena_alloc(&b->arena, n);
    if (c) memcpy(c, p, n);
    return c;
}

static dv_status set_target(dv_delta_builder *b, dv_vec_kind k, uint32_t slot, const char *id) {
    if (!id) return DV_EINVAL;
    b->d.vkind = k;
    b->d.slot = slot;
    b->d.id = copy_str(b, id, &b->d.id_len);
    return b->d.id ? DV_OK : DV_ENOMEM;
}

static dv_status set_floats(dv_delta_builder *b, const float *v, uint32_t n, const float **out) {
    if (n == 0 || n > DV_MAX_DIM) return DV_EDIM; /* checked before reading v */
    if (!v) return DV_EINVAL;
    *out = copy_mem(b, v, n, sizeof(float));
    return *out ? DV_OK : DV_ENOMEM;
}

dv_status dv_delta_builder_set_insert(dv_delta_builder *b, uint32_t slot, const char *id, uint32_t level,
                                      uint32_t dim, const float *vec) {
    dv_status s = set_target(b, DV_VEC_INSERT, slot, id);
    if (s) return s;
    b->d.level = level;
    b->d.dim = b->d.n = dim;
    return set_floats(b, vec, dim, &b->d.values);
}

dv_status dv_delta_builder_set_dense(dv_delta_builder *b, uint32_t slot, const char *id, uint32_t dim,
                                     const float *values, const float *before) {
    dv_status s = set_target(b, DV_VEC_DENSE, slot, id);
    if (s) return s;
    b->d.dim = b->d.n = dim;
    if ((s = set_floats(b, values, dim, &b->d.values))) return s;
    return before ? set_floats(b, before, dim, &b->d.before) : DV_OK;
}

dv_status dv_delta_builder_set_xor_base(dv_delta_builder *b, const float *current) {
    if (b->d.vkind != DV_VEC_DENSE || !current) return DV_EINVAL;
    return set_floats(b, current, b->d.n, &b->d.xor_base);
}

dv_status dv_delta_builder_set_sparse(dv_delta_builder *b, uint32_t slot, const char *id, uint32_t dim,
                                      const uint32_t *idx, const float *values, const float *before,
                                      uint32_t n) {
    if (!idx) return DV_EINVAL;
    dv_status s = set_target(b, DV_VEC_SPARSE, slot, id);
    if (s) return s;
    b->d.dim = dim;
    b->d.n = n;
    if ((s = set_floats(b, values, n, &b->d.values))) return s;
    b->d.idx = copy_mem(b, idx, n, sizeof(uint32_t));
    if (!b->d.idx) return DV_ENOMEM;
    return before ? set_floats(b, before, n, &b->d.before) : DV_OK;
}

dv_status dv_delta_builder_set_meta_target(dv_delta_builder *b, uint32_t slot, const char *id) {
    return set_target(b, DV_VEC_NONE, slot, id);
}

dv_status dv_delta_builder_set_delete(dv_delta_builder *b, uint32_t slot, const char *id, uint32_t dim,
                                      const float *before) {
    dv_status s = set_target(b, DV_VEC_DELETE, slot, id);
    if (s || !before) return s;
    b->d.dim = b->d.n = dim;
    return set_floats(b, before, dim, &b->d.before);
}

dv_status dv_delta_builder_meta(dv_delta_builder *b, const char *key, const char *value) {
    if (!key) return DV_EINVAL;
    if (!grow(b->mem, (void **)&b->meta, &b->meta_cap, b->d.n_meta + 1, sizeof *b->meta)) return DV_ENOMEM;
    dv_meta_kv kv;
    kv.key = copy_str(b, key, NULL);
    kv.value = value ? copy_str(b, value, NULL) : NULL;
    if (!kv.key || (value && !kv.value)) return DV_ENOMEM;
    b->meta[b->d.n_meta++] = kv;
    b->d.meta = b->meta;
    return DV_OK;
}

/* The section the next edge goes to: the current one, or a new one when
 * appending would reorder events (layer change, remove after add). */
static dv_hnsw_section *section_for(dv_delta_builder *b, uint32_t layer, int is_remove) {
    uint32_t ns = b->d.n_sections;
    if (ns) {
        dv_hnsw_section *cur = &b->secs[ns - 1];
        if (cur->layer == layer && !(is_remove && cur->n_add)) return cur;
    }
    if (!grow(b->mem, (void **)&b->secs, &b->secs_cap, ns + 1, sizeof *b->secs)) return NULL;
    dv_hnsw_section *s = &b->secs[ns];
    memset(s, 0, sizeof *s);
    s->layer = layer;
    s->removes = b->rm ? b->rm + b->n_rm : NULL; /* NULL + 0 is UB */
    s->adds = b->add ? b->add + b->n_add : NULL;
    b->d.n_sections = ns + 1;
    b->d.sections = b->secs;
    return s;
}

/* Sections are contiguous runs of rm/add; when one of those arrays moved
 * (realloc), every section's pointers are rebuilt from the counts. */
static void fix_sections(dv_delta_builder *b) {
    uint32_t r = 0, a = 0;
    for (uint32_t i = 0; i < b->d.n_sections; i++) {
        b->secs[i].removes = b->rm ? b->rm + r : NULL;
        b->secs[i].adds = b->add ? b->add + a : NULL;
        r += b->secs[i].n_remove;
        a += b->secs[i].n_add;
    }
    b->d.sections = b->secs;
}

dv_status dv_delta_builder_edge_remove(dv_delta_builder *b, uint32_t layer, uint32_t from, uint32_t to) {
    dv_edge_rm *old = b->rm;
    if (!grow(b->mem, (void **)&b->rm, &b->rm_cap, b->n_rm + 1, sizeof *b->rm)) return DV_ENOMEM;
    if (b->rm != old) fix_sections(b);
    dv_hnsw_section *s = section_for(b, layer, 1);
    if (!s) return DV_ENOMEM;
    b->rm[b->n_rm].from = from;
    b->rm[b->n_rm].to = to;
    b->n_rm++;
    s->n_remove++;
    return DV_OK;
}

dv_status dv_delta_builder_edge_add(dv_delta_builder *b, uint32_t layer, uint32_t from, uint32_t to,
                                    float dist) {
    dv_edge_add *old = b->add;
    if (!grow(b->mem, (void **)&b->add, &b->add_cap, b->n_add + 1, sizeof *b->add)) return DV_ENOMEM;
    if (b->add != old) fix_sections(b);
    dv_hnsw_section *s = section_for(b, layer, 0);
    if (!s) return DV_ENOMEM;
    b->add[b->n_add].from = from;
    b->add[b->n_add].to = to;
    b->add[b->n_add].dist = dist;
    b->n_add++;
    s->n_add++;
    return DV_OK;
}

void dv_delta_builder_entry(dv_delta_builder *b, uint32_t entry, uint32_t max_level) {
    b->d.has_entry = 1;
    b->d.entry = entry;
    b->d.max_level = max_level;
}

dv_status dv_delta_builder_purge(dv_delta_builder *b, uint32_t slot) {
    uint32_t n = b->d.n_purge;
    if (!grow(b->mem, (void **)&b->purge, &b->purge_cap, n + 1, sizeof *b->purge)) return DV_ENOMEM;
    b->purge[n] = slot;
    b->d.n_purge = n + 1;
    b->d.purge = b->purge;
    return DV_OK;
}
