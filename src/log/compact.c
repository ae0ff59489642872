/*
 * compact.c -- logical compaction of a run of deltas (dv_stream_compact,
 * deltavec.h section 9): per vector id, the run's changes merge into at
 * most one change, as SQLite's session changeset merge and Kafka's
 * keep-last compaction do.
 *
 * Per id, from its first delta in the run:
 *   insert, updates...        -> one INSERT (final vector and metadata)
 *   insert ... delete         -> nothing
 *   updates...                -> one UPDATE (dense if any update was dense,
 *                                else sparse over every changed dim) carrying
 *                                the metadata operations in their order
 *   ... delete                -> one DELETE of the vector that existed before
 *   ... delete, insert ...    -> DELETE + INSERT
 * Graph-only deltas (REINDEX) and graph parts are dropped: the output is a
 * logical stream. Output order: every DELETE, then every UPDATE, then every
 * INSERT (each in order of the id's first appearance), so a re-used slot
 * is freed before it is taken again.
 *
 * Slots and prev_sequence must still satisfy the applier's per-slot checks
 * at the run's start: pre-existing vectors keep their slots; inserts take
 * the run's insert slots in increasing order (slots past the start's end
 * are contiguous, so each stays within the bound an applier allows), and
 * each slot's first output delta carries the prev_sequence of the slot's
 * first input delta (what the replica's table says at the start).
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "deltavec.h"
#include "delta/delta.h"
#include "util/alloc.h"

typedef struct kv {
    char *key, *value; /* value NULL: remove (update ops only) */
} kv;

typedef struct centry {
    char *id;
    uint32_t id_len;
    uint32_t pre_slot; /* slot of the vector that existed before the run */
    uint32_t level;
    uint8_t existed;  /* the id was live at the run's start */
    uint8_t del_pre;  /* ... and the run deleted it */
    uint8_t live;     /* live at the run's end */
    uint8_t inserted; /* the live incarnation was inserted by the run */
    uint8_t vec_full; /* vec holds the whole vector */
    uint8_t any_sparse;
    float *vec;    /* dim floats, or NULL */
    uint8_t *mask; /* sparse-only: changed dims */
    kv *meta;      /* inserted: the pair list; else the ordered operations */
    uint32_t n_meta, meta_cap;
    uint64_t ts;
} centry;

typedef struct slot_prev {
    uint32_t slot;
    uint32_t used;
    uint64_t prev; /* first input delta's prev_sequence, then the output's last sequence */
} slot_prev;

typedef struct cstate {
    dv_mem mem;
    uint32_t dim;
    centry *e;
    size_t n, cap;
    size_t *tab; /* id hash table: index + 1 */
    size_t tab_cap;
    slot_prev *sp; /* slot table, open addressing */
    size_t sp_cap, sp_n;
    uint32_t *ins_slots;
    size_t n_ins, ins_cap;
} cstate;

static char *dup_str(cstate *c, const char *s, size_t len) {
    char *p = dv_mem_alloc(&c->mem, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

static void free_str(cstate *c, char *s) {
    if (s) dv_mem_free(&c->mem, s, strlen(s) + 1);
}

static void meta_clear(cstate *c, centry *e) {
    for (uint32_t i = 0; i < e->n_meta; i++) {
        free_str(c, e->meta[i].key);
        free_str(c, e->meta[i].value);
    }
    e->n_meta = 0;
}

static int grow(dv_mem *m, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need) n *= 2;
    void *q = dv_mem_realloc(m, *p, *cap * elem, n * elem);
    if (!q) return 0;
    if (n > *cap) memset((char *)q + *cap * elem, 0, (n - *cap) * elem);
    *p = q;
    *cap = n;
    return 1;
}

/* ---- tables ------------------------------------------------------------------------ */

static dv_status rehash_ids(cstate *c) {
    size_t cap = c->tab_cap ? c->tab_cap * 2 : 256;
    size_t *t = dv_mem_calloc(&c->mem, cap, sizeof *t);
    if (!t) return DV_ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        size_t h = (size_t)XXH3_64bits(c->e[i].id, c->e[i].id_len) & (cap - 1);
        while (t[h]) h = (h + 1) & (cap - 1);
        t[h] = i + 1;
    }
    dv_mem_free(&c->mem, c->tab, c->tab_cap * sizeof *t);
    c->tab = t;
    c->tab_cap = cap;
    return DV_OK;
}

/* The entry of id (created when absent: *fresh = 1). */
static dv_status entry_of(cstate *c, const char *id, uint32_t len, centry **out, int *fresh) {
    *fresh = 0;
    if ((c->n + 1) * 2 > c->tab_cap && rehash_ids(c) != DV_OK) return DV_ENOMEM;
    size_t h = (size_t)XXH3_64bits(id, len) & (c->tab_cap - 1);
    while (c->tab[h]) {
        centry *e = &c->e[c->tab[h] - 1];
        if (e->id_len == len && memcmp(e->id, id, len) == 0) {
            *out = e;
            return DV_OK;
        }
        h = (h + 1) & (c->tab_cap - 1);
    }
    if (!grow(&c->mem, (void **)&c->e, &c->cap, c->n + 1, sizeof(centry))) return DV_ENOMEM;
    centry *e = &c->e[c->n];
    memset(e, 0, sizeof *e);
    if (!(e->id = dup_str(c, id, len))) return DV_ENOMEM;
    e->id_len = len;
    c->tab[h] = ++c->n;
    *out = e;
    *fresh = 1;
    return DV_OK;
}

static slot_prev *slot_find(cstate *c, uint32_t slot) {
    if (!c->sp_cap) return NULL;
    size_t h = (size_t)(slot * 2654435761u) & (c->sp_cap - 1);
    while (c->sp[h].used) {
        if (c->sp[h].slot == slot) return &c->sp[h];
        h = (h + 1) & (c->sp_cap - 1);
    }
    return NULL;
}

/* Records the first prev_sequence seen for slot. */
static dv_status slot_note(cstate *c, uint32_t slot, uint64_t prev) {
    if ((c->sp_n + 1) * 2 > c->sp_cap) {
        size_t cap = c->sp_cap ? c->sp_cap * 2 : 256;
        slot_prev *t = dv_mem_calloc(&c->mem, cap, sizeof *t);
        if (!t) return DV_ENOMEM;
        for (size_t i = 0; i < c->sp_cap; i++) {
            if (!c->sp[i].used) continue;
            size_t h = (size_t)(c->sp[i].slot * 2654435761u) & (cap - 1);
            while (t[h].used) h = (h + 1) & (cap - 1);
            t[h] = c->sp[i];
        }
        dv_mem_free(&c->mem, c->sp, c->sp_cap * sizeof *t);
        c->sp = t;
        c->sp_cap = cap;
    }
    if (slot_find(c, slot)) return DV_OK;
    size_t h = (size_t)(slot * 2654435761u) & (c->sp_cap - 1);
    while (c->sp[h].used) h = (h + 1) & (c->sp_cap - 1);
    c->sp[h] = (slot_prev){slot, 1, prev};
    c->sp_n++;
    return DV_OK;
}

/* ---- folding one input delta ------------------------------------------------------------- */

static dv_status ensure_vec(cstate *c, centry *e, int mask) {
    if (!e->vec && !(e->vec = dv_mem_calloc(&c->mem, c->dim, sizeof(float)))) return DV_ENOMEM;
    if (mask && !e->mask && !(e->mask = dv_mem_calloc(&c->mem, c->dim, 1))) return DV_ENOMEM;
    return DV_OK;
}

/* An operation on the metadata of e: applied to the pair list of an
 * inserted incarnation, or appended to the operations of an update. */
static dv_status meta_op(cstate *c, centry *e, const char *key, const char *value) {
    if (e->inserted) {
        for (uint32_t i = 0; i < e->n_meta; i++) {
            if (strcmp(e->meta[i].key, key) != 0) continue;
            if (value) { /* an existing key keeps its position */
                char *v = dup_str(c, value, strlen(value));
                if (!v) return DV_ENOMEM;
                free_str(c, e->meta[i].value);
                e->meta[i].value = v;
            } else {
                free_str(c, e->meta[i].key);
                free_str(c, e->meta[i].value);
                memmove(&e->meta[i], &e->meta[i + 1], (e->n_meta - i - 1) * sizeof(kv));
                e->n_meta--;
            }
            return DV_OK;
        }
        if (!value) return DV_OK;
    }
    size_t cap = e->meta_cap;
    if (!grow(&c->mem, (void **)&e->meta, &cap, (size_t)e->n_meta + 1, sizeof(kv))) return DV_ENOMEM;
    e->meta_cap = (uint32_t)cap;
    kv *p = &e->meta[e->n_meta];
    p->key = dup_str(c, key, strlen(key));
    p->value = value ? dup_str(c, value, strlen(value)) : NULL;
    if (!p->key || (value && !p->value)) {
        free_str(c, p->key);
        free_str(c, p->value);
        return DV_ENOMEM;
    }
    e->n_meta++;
    return DV_OK;
}

static dv_status fold(cstate *c, const dv_delta *d) {
    if (d->vkind == DV_VEC_NONE && !d->id) return DV_OK; /* graph only */
    dv_status st = slot_note(c, d->slot, d->h.prev_sequence);
    if (st != DV_OK) return st;
    centry *e;
    int fresh;
    if ((st = entry_of(c, d->id, d->id_len, &e, &fresh)) != DV_OK) return st;
    if (fresh) {
        e->existed = d->vkind != DV_VEC_INSERT;
        e->live = e->existed;
        e->pre_slot = d->slot;
    }
    e->ts = d->h.timestamp;
    switch (d->vkind) {
    case DV_VEC_INSERT:
        if (e->live) return DV_ECORRUPT; /* insert of a live id: not a run a primary makes */
        if (!grow(&c->mem, (void **)&c->ins_slots, &c->ins_cap, c->n_ins + 1, sizeof(uint32_t)))
            return DV_ENOMEM;
        c->ins_slots[c->n_ins++] = d->slot;
        meta_clear(c, e);
        if ((st = ensure_vec(c, e, 0)) != DV_OK) return st;
        memcpy(e->vec, d->values, (size_t)c->dim * sizeof(float));
        e->live = e->inserted = e->vec_full = 1;
        e->level = d->level;
        for (uint32_t i = 0; i < d->n_meta; i++)
            if ((st = meta_op(c, e, d->meta[i].key, d->meta[i].value)) != DV_OK) return st;
        return DV_OK;
    case DV_VEC_DELETE:
        if (!e->live) return DV_ECORRUPT;
        if (!e->inserted) e->del_pre = 1;
        e->live = e->inserted = e->vec_full = e->any_sparse = 0;
        if (e->mask) memset(e->mask, 0, c->dim);
        meta_clear(c, e);
        return DV_OK;
    case DV_VEC_DENSE:
        if (!e->live) return DV_ECORRUPT;
        if ((st = ensure_vec(c, e, 0)) != DV_OK) return st;
        memcpy(e->vec, d->values, (size_t)c->dim * sizeof(float));
        e->vec_full = 1;
        break;
    case DV_VEC_DENSE_XOR: /* resolvable only against a whole vector this run already holds */
        if (!e->live) return DV_ECORRUPT;
        if (!e->vec_full) return DV_EUNSUPPORTED;
        if (dv_delta_xor_base_hash(e->vec, c->dim) != d->base_hash) return DV_ECORRUPT;
        for (uint32_t i = 0; i < c->dim; i++) {
            uint32_t u;
            memcpy(&u, &e->vec[i], 4);
            u ^= d->xor_bits[i];
            memcpy(&e->vec[i], &u, 4);
        }
        break;
    case DV_VEC_SPARSE:
        if (!e->live) return DV_ECORRUPT;
        if ((st = ensure_vec(c, e, !e->vec_full)) != DV_OK) return st;
        for (uint32_t i = 0; i < d->n; i++) {
            e->vec[d->idx[i]] = d->values[i];
            if (!e->vec_full) e->mask[d->idx[i]] = 1;
        }
        if (!e->vec_full) e->any_sparse = 1;
        break;
    default: /* metadata only */
        if (!e->live) return DV_ECORRUPT;
        break;
    }
    for (uint32_t i = 0; i < d->n_meta; i++)
        if ((st = meta_op(c, e, d->meta[i].key, d->meta[i].value)) != DV_OK) return st;
    return DV_OK;
}

/* ---- output ------------------------------------------------------------------------------- */

typedef struct emitter {
    cstate *c;
    dv_delta_builder b;
    dv_delta_arena scratch;
    dv_encode_opts enc;
    dv_stream_writer *w;
    uint64_t seq;
    uint8_t *payload;
    size_t payload_cap;
    uint32_t *idx;
    float *val;
    dv_compact_stats *stats;
} emitter;

static dv_status emit(emitter *m, uint32_t slot, uint64_t ts) {
    dv_delta *d = &m->b.d;
    slot_prev *sp = slot_find(m->c, slot);
    d->h.sequence = m->seq;
    d->h.timestamp = ts;
    d->h.prev_sequence = sp ? sp->prev : 0;
    d->h.payload_offset = 0;
    size_t bound = dv_delta_encoded_bound(d);
    if (!bound) return DV_ETOOBIG;
    if (bound > m->payload_cap) {
        uint8_t *p = dv_mem_realloc(&m->c->mem, m->payload, m->payload_cap, bound);
        if (!p) return DV_ENOMEM;
        m->payload = p;
        m->payload_cap = bound;
    }
    uint8_t hdr[DV_DELTA_HEADER_SIZE];
    size_t len = 0;
    dv_delta_arena_reset(&m->scratch);
    dv_status st = dv_delta_encode(d, &m->enc, &m->scratch, hdr, m->payload, m->payload_cap, &len);
    if (st == DV_OK) st = dv_stream_writer_append(m->w, hdr, m->payload, len);
    if (st != DV_OK) return st;
    if (sp) sp->prev = m->seq;
    m->seq++;
    if (m->stats) {
        m->stats->records_out++;
        m->stats->bytes_out += DV_DELTA_HEADER_SIZE + len;
    }
    return DV_OK;
}

static dv_status emit_meta(emitter *m, const centry *e) {
    dv_status st = DV_OK;
    for (uint32_t i = 0; st == DV_OK && i < e->n_meta; i++)
        st = dv_delta_builder_meta(&m->b, e->meta[i].key, e->meta[i].value);
    return st;
}

static dv_status emit_all(emitter *m) {
    cstate *c = m->c;
    dv_status st = DV_OK;
    for (size_t i = 0; st == DV_OK && i < c->n; i++) { /* deletes of what existed */
        centry *e = &c->e[i];
        if (!e->del_pre) continue;
        dv_delta_builder_begin(&m->b, DV_OP_DELETE);
        st = dv_delta_builder_set_delete(&m->b, e->pre_slot, e->id, 0, NULL);
        if (st == DV_OK) st = emit(m, e->pre_slot, e->ts);
    }
    for (size_t i = 0; st == DV_OK && i < c->n; i++) { /* updates of what still exists */
        centry *e = &c->e[i];
        if (!e->live || e->inserted || (!e->vec_full && !e->any_sparse && !e->n_meta)) continue;
        dv_delta_builder_begin(&m->b, DV_OP_UPDATE);
        if (e->vec_full) {
            st = dv_delta_builder_set_dense(&m->b, e->pre_slot, e->id, c->dim, e->vec, NULL);
        } else if (e->any_sparse) {
            uint32_t k = 0;
            for (uint32_t j = 0; j < c->dim; j++)
                if (e->mask[j]) {
                    m->idx[k] = j;
                    m->val[k++] = e->vec[j];
                }
            st = dv_delta_builder_set_sparse(&m->b, e->pre_slot, e->id, c->dim, m->idx, m->val, NULL, k);
        } else {
            st = dv_delta_builder_set_meta_target(&m->b, e->pre_slot, e->id);
        }
        if (st == DV_OK) st = emit_meta(m, e);
        if (st == DV_OK) st = emit(m, e->pre_slot, e->ts);
    }
    /* inserts take the run's insert slots in increasing order */
    size_t k = 0;
    for (size_t i = 0; st == DV_OK && i < c->n; i++) {
        centry *e = &c->e[i];
        if (!e->live || !e->inserted) continue;
        uint32_t slot = c->ins_slots[k++];
        dv_delta_builder_begin(&m->b, DV_OP_INSERT);
        st = dv_delta_builder_set_insert(&m->b, slot, e->id, e->level, c->dim, e->vec);
        if (st == DV_OK) st = emit_meta(m, e);
        if (st == DV_OK) st = emit(m, slot, e->ts);
    }
    return st;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void cstate_free(cstate *c) {
    for (size_t i = 0; i < c->n; i++) {
        centry *e = &c->e[i];
        meta_clear(c, e);
        dv_mem_free(&c->mem, e->meta, (size_t)e->meta_cap * sizeof(kv));
        dv_mem_free(&c->mem, e->vec, e->vec ? (size_t)c->dim * sizeof(float) : 0);
        dv_mem_free(&c->mem, e->mask, e->mask ? c->dim : 0);
        free_str(c, e->id);
    }
    dv_mem_free(&c->mem, c->e, c->cap * sizeof(centry));
    dv_mem_free(&c->mem, c->tab, c->tab_cap * sizeof(size_t));
    dv_mem_free(&c->mem, c->sp, c->sp_cap * sizeof(slot_prev));
    dv_mem_free(&c->mem, c->ins_slots, c->ins_cap * sizeof(uint32_t));
}

/* Reads every record of the run and folds it. */
static dv_status read_run(cstate *c, const uint8_t *in, size_t len, dv_stream_info *info,
                          dv_compact_stats *stats) {
    dv_stream_reader *r;
    dv_stream_reader_config rc;
    dv_stream_reader_config_default(&rc);
    rc.allocator = &c->mem.a;
    dv_status st = dv_stream_reader_open(&rc, &r);
    if (st != DV_OK) return st;
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &c->mem);
    size_t pos = 0;
    for (;;) {
        size_t used = 0;
        dv_stream_record rec;
        st = dv_stream_reader_next(r, in + pos, len - pos, &used, &rec);
        pos += used;
        if (st == DV_EEMPTY) {
            st = dv_stream_reader_finish(r, NULL);
            if (st == DV_OK) st = dv_stream_reader_info(r, info);
            break;
        }
        if (st != DV_OK) break;
        if (!c->dim) {
            dv_stream_info hi;
            dv_stream_reader_info(r, &hi);
            c->dim = hi.dim;
        }
        dv_delta d;
        dv_delta_arena_reset(&arena);
        st = dv_delta_decode(rec.header, rec.payload, rec.payload_len, NULL, &arena, &d);
        if (st != DV_OK) break;
        if (stats) {
            stats->records_in++;
            stats->bytes_in += DV_DELTA_HEADER_SIZE + rec.payload_len;
        }
        if (d.h.operation == DV_OP_BATCH) {
            for (uint32_t i = 0; st == DV_OK && i < d.n_sub; i++) st = fold(c, &d.subs[i]);
        } else {
            st = fold(c, &d);
        }
        if (st != DV_OK) break;
    }
    dv_delta_arena_free(&arena);
    dv_stream_reader_free(r);
    return st;
}

dv_status dv_stream_compact(const uint8_t *in, size_t len, dv_stream_sink_fn sink, void *sink_ctx,
                            const dv_allocator *allocator, dv_compact_stats *stats) {
    if (!in || !sink) return DV_EINVAL;
    if (stats) memset(stats, 0, sizeof *stats);
    cstate c;
    memset(&c, 0, sizeof c);
    dv_mem_init(&c.mem, allocator);
    dv_stream_info info;
    dv_status st = read_run(&c, in, len, &info, stats);
    emitter m;
    memset(&m, 0, sizeof m);
    m.c = &c;
    m.stats = stats;
    dv_delta_builder_init(&m.b, &c.mem);
    dv_delta_arena_init(&m.scratch, &c.mem);
    dv_encode_opts_default(&m.enc);
    if (st == DV_OK) {
        if (c.n_ins > 1) qsort(c.ins_slots, c.n_ins, sizeof(uint32_t), cmp_u32);
        info.mode = DV_STREAM_LOGICAL;
        m.seq = info.first_sequence;
        m.idx = dv_mem_alloc(&c.mem, (size_t)info.dim * sizeof(uint32_t));
        m.val = dv_mem_alloc(&c.mem, (size_t)info.dim * sizeof(float));
        st = m.idx && m.val ? dv_stream_writer_open(&info, sink, sink_ctx, &c.mem.a, &m.w) : DV_ENOMEM;
        if (st == DV_OK && stats) stats->bytes_out = dv_stream_writer_offset(m.w);
        if (st == DV_OK) st = emit_all(&m);
    }
    dv_stream_writer_free(m.w);
    dv_mem_free(&c.mem, m.idx, m.idx ? (size_t)info.dim * sizeof(uint32_t) : 0);
    dv_mem_free(&c.mem, m.val, m.val ? (size_t)info.dim * sizeof(float) : 0);
    dv_mem_free(&c.mem, m.payload, m.payload_cap);
    dv_delta_arena_free(&m.scratch);
    dv_delta_builder_free(&m.b);
    cstate_free(&c);
    return st;
}
