/*
 * process.c -- the middle stage: filter, transform and route deltas from one
 * ring to several (see section 7 of deltavec.h for the contract).
 *
 * Two paths:
 *  - pass-through: no filter, no transform, broadcast. The stored bytes are
 *    copied to every output unchanged (no decode, no rehash): the outputs
 *    are the primary's stream itself.
 *  - rewrite: every delta is decoded (which verifies it), each vector
 *    change (a single delta, or each sub-delta of a batch) is filtered and
 *    transformed, and what is left is re-encoded per output with that
 *    output's own gap-free sequence and prev_sequence.
 *
 * Progress within one input entry is tracked in `done_mask` (outputs that
 * already took it), so a full output never causes a duplicate elsewhere.
 * Per-output counters advance only when an output accepts a delta.
 */
#include <string.h>

#include "deltavec.h"
#include "delta/delta.h"
#include "util/alloc.h"

#define PROCESS_MAX_OUTPUTS 64
#define PROCESS_MAX_SLOTS (1u << 28) /* bound on per-slot tables from untrusted slots */

enum { SEL_UNKNOWN = 0, SEL_KEEP = 1, SEL_DROP = 2 };

typedef struct out_state {
    uint64_t next_seq; /* next sequence this output gets */
    uint64_t *last;    /* per primary slot: last sequence on this output */
    uint32_t last_cap;
} out_state;

struct dv_process {
    dv_mem mem;
    dv_process_config cfg;
    char *id_prefix, *meta_key, *meta_value; /* owned copies */
    size_t id_prefix_len;
    int rewrite, logical;
    dv_encode_opts enc;

    out_state *outs;
    uint8_t *selected; /* per primary slot: SEL_* (metadata predicate) */
    uint32_t sel_cap;
    uint64_t done_mask; /* outputs that took the current input entry */
    int have_current;   /* the current entry was counted as read */
    int decoded;        /* cur/n_kept hold the current entry (kept across EFULL retries) */
    dv_delta cur;
    uint32_t n_kept;

    dv_delta_arena arena;   /* decoded input */
    dv_delta_arena scratch; /* encoder scratch */
    dv_delta *subs;         /* transformed sub-deltas of the current entry */
    uint32_t subs_cap;
    dv_delta_batch batch;
    uint8_t *buf;
    size_t buf_cap;

    dv_process_stats st;
};

void dv_process_config_default(dv_process_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->compress = 1;
    cfg->route = DV_ROUTE_BROADCAST;
}

static char *dup_str(dv_mem *m, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = dv_mem_alloc(m, n);
    if (d) memcpy(d, s, n);
    return d;
}

static void free_str(dv_mem *m, char *s) {
    if (s) dv_mem_free(m, s, strlen(s) + 1);
}

dv_status dv_process_init(const dv_process_config *cfg, dv_process **out) {
    if (!cfg || !out || !cfg->outputs || cfg->n_outputs == 0 || cfg->n_outputs > PROCESS_MAX_OUTPUTS ||
        (unsigned)cfg->quantize > DV_LOSSY_I8 || (cfg->meta_key && !cfg->meta_value) ||
        (unsigned)cfg->route > DV_ROUTE_BY_ID_HASH)
        return DV_EINVAL;
    dv_mem mem;
    dv_mem_init(&mem, cfg->allocator);
    dv_process *p = dv_mem_calloc(&mem, 1, sizeof *p);
    if (!p) return DV_ENOMEM;
    p->mem = mem;
    p->cfg = *cfg;
    int content_filter = cfg->keep_ops || cfg->id_prefix || cfg->meta_key || cfg->filter;
    int partitioned = cfg->route == DV_ROUTE_BY_ID_HASH && cfg->n_outputs > 1;
    p->logical = cfg->drop_hnsw || content_filter || partitioned;
    p->rewrite = p->logical || cfg->drop_metadata || cfg->quantize != DV_LOSSLESS;
    dv_encode_opts_default(&p->enc);
    p->enc.compress = cfg->compress;
    p->enc.values = cfg->quantize == DV_LOSSY_F16  ? DV_VALUES_F16
                    : cfg->quantize == DV_LOSSY_I8 ? DV_VALUES_I8
                                                   : DV_VALUES_F32;
    dv_delta_arena_init(&p->arena, &p->mem);
    dv_delta_arena_init(&p->scratch, &p->mem);
    dv_delta_batch_init(&p->batch, &p->mem);
    p->outs = dv_mem_calloc(&p->mem, cfg->n_outputs, sizeof *p->outs);
    p->id_prefix = dup_str(&p->mem, cfg->id_prefix);
    p->meta_key = dup_str(&p->mem, cfg->meta_key);
    p->meta_value = dup_str(&p->mem, cfg->meta_value);
    if (!p->outs || (cfg->id_prefix && !p->id_prefix) ||
        (cfg->meta_key && (!p->meta_key || !p->meta_value))) {
        dv_process_free(p);
        return DV_ENOMEM;
    }
    p->id_prefix_len = p->id_prefix ? strlen(p->id_prefix) : 0;
    for (size_t i = 0; i < cfg->n_outputs; i++) p->outs[i].next_seq = 1;
    *out = p;
    return DV_OK;
}

void dv_process_free(dv_process *p) {
    if (!p) return;
    for (size_t i = 0; p->outs && i < p->cfg.n_outputs; i++)
        dv_mem_free(&p->mem, p->outs[i].last, (size_t)p->outs[i].last_cap * 8);
    dv_mem_free(&p->mem, p->outs, p->cfg.n_outputs * sizeof *p->outs);
    dv_mem_free(&p->mem, p->selected, p->sel_cap);
    dv_mem_free(&p->mem, p->subs, (size_t)p->subs_cap * sizeof *p->subs);
    dv_mem_free(&p->mem, p->buf, p->buf_cap);
    free_str(&p->mem, p->id_prefix);
    free_str(&p->mem, p->meta_key);
    free_str(&p->mem, p->meta_value);
    dv_delta_arena_free(&p->arena);
    dv_delta_arena_free(&p->scratch);
    dv_delta_batch_free(&p->batch);
    dv_mem mem = p->mem;
    dv_mem_free(&mem, p, sizeof *p);
}

dv_status dv_process_stats_get(const dv_process *p, dv_process_stats *out) {
    if (!p || !out) return DV_EINVAL;
    *out = p->st;
    return DV_OK;
}

/* ---- growable per-slot tables ---------------------------------------------- */

static dv_status grow_u64(dv_mem *m, uint64_t **a, uint32_t *cap, uint32_t need) {
    if (need <= *cap) return DV_OK;
    if (need > PROCESS_MAX_SLOTS) return DV_ETOOBIG;
    uint32_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    uint64_t *q = dv_mem_realloc(m, *a, (size_t)*cap * 8, (size_t)n * 8);
    if (!q) return DV_ENOMEM;
    memset(q + *cap, 0, (size_t)(n - *cap) * 8);
    *a = q;
    *cap = n;
    return DV_OK;
}

static dv_status grow_sel(dv_process *p, uint32_t need) {
    if (need <= p->sel_cap) return DV_OK;
    if (need > PROCESS_MAX_SLOTS) return DV_ETOOBIG;
    uint32_t n = p->sel_cap ? p->sel_cap : 1024;
    while (n < need) n *= 2;
    uint8_t *q = dv_mem_realloc(&p->mem, p->selected, p->sel_cap, n);
    if (!q) return DV_ENOMEM;
    memset(q + p->sel_cap, 0, n - p->sel_cap);
    p->selected = q;
    p->sel_cap = n;
    return DV_OK;
}

/* ---- filter + transform ------------------------------------------------------ */

static int has_slot(const dv_delta *d) { return d->vkind != DV_VEC_NONE || d->id != NULL; }

static int meta_matches(const dv_process *p, const dv_delta *d) {
    for (uint32_t i = 0; i < d->n_meta; i++)
        if (d->meta[i].value && strcmp(d->meta[i].key, p->meta_key) == 0 &&
            strcmp(d->meta[i].value, p->meta_value) == 0)
            return 1;
    return 0;
}

/* Decides whether a (sub-)delta is kept; may record the metadata decision. */
static dv_status keep_delta(dv_process *p, const dv_delta *d, int *keep) {
    *keep = 0;
    /* kind 3 bits are taken against exact values: a quantized replica holds others */
    if (d->vkind == DV_VEC_DENSE_XOR && p->cfg.quantize != DV_LOSSLESS) return DV_EUNSUPPORTED;
    if (p->cfg.keep_ops && !(p->cfg.keep_ops & (1u << d->h.operation))) return DV_OK;
    if (p->logical && !has_slot(d)) return DV_OK; /* graph-only: nothing left */
    if (p->id_prefix &&
        (!d->id || d->id_len < p->id_prefix_len || memcmp(d->id, p->id_prefix, p->id_prefix_len)))
        return DV_OK;
    if (p->meta_key) {
        dv_status st = grow_sel(p, d->slot + 1);
        if (st != DV_OK) return st;
        if (d->vkind == DV_VEC_INSERT) p->selected[d->slot] = meta_matches(p, d) ? SEL_KEEP : SEL_DROP;
        int sel = p->selected[d->slot] == SEL_KEEP;
        if (d->vkind == DV_VEC_DELETE) p->selected[d->slot] = SEL_UNKNOWN;
        if (!sel) return DV_OK;
    }
    if (p->cfg.filter && !p->cfg.filter(p->cfg.filter_ctx, &d->h, d->id)) return DV_OK;
    *keep = 1;
    return DV_OK;
}

/* Applies the transforms to a shallow copy; *empty when nothing is left. */
static void transform(const dv_process *p, dv_delta *d, int *empty) {
    if (p->logical) {
        d->n_sections = 0;
        d->sections = NULL;
        d->has_entry = 0;
        d->n_purge = 0; /* tombstones are a structural notion */
        d->purge = NULL;
    }
    if (p->cfg.drop_metadata) {
        d->n_meta = 0;
        d->meta = NULL;
    }
    *empty = d->vkind == DV_VEC_NONE && d->n_meta == 0 && d->n_sections == 0 && !d->has_entry && !d->n_purge;
}

static dv_status reserve_subs(dv_process *p, uint32_t n) {
    if (n <= p->subs_cap) return DV_OK;
    dv_delta *q = dv_mem_realloc(&p->mem, p->subs, (size_t)p->subs_cap * sizeof *q, (size_t)n * sizeof *q);
    if (!q) return DV_ENOMEM;
    p->subs = q;
    p->subs_cap = n;
    return DV_OK;
}

/* Fills p->subs with the kept, transformed vector changes of d. */
static dv_status select_subs(dv_process *p, const dv_delta *d, uint32_t *n_kept) {
    uint32_t n = d->h.operation == DV_OP_BATCH ? d->n_sub : 1;
    const dv_delta *src = d->h.operation == DV_OP_BATCH ? d->subs : d;
    dv_status st = reserve_subs(p, n);
    if (st != DV_OK) return st;
    *n_kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        int keep, empty;
        if ((st = keep_delta(p, &src[i], &keep)) != DV_OK) return st;
        if (!keep) continue;
        dv_delta t = src[i];
        transform(p, &t, &empty);
        if (!empty) p->subs[(*n_kept)++] = t;
    }
    return DV_OK;
}

static size_t route_of(const dv_process *p, const dv_delta *d) {
    if (p->cfg.route != DV_ROUTE_BY_ID_HASH) return (size_t)-1; /* all */
    return (d->id ? dv_delta_id_hash(d->id, d->id_len) : 0u) % p->cfg.n_outputs;
}

/* ---- encode for one output ------------------------------------------------- */

static dv_status ensure_buf(dv_process *p, size_t n) {
    if (n <= p->buf_cap) return DV_OK;
    uint8_t *q = dv_mem_realloc(&p->mem, p->buf, p->buf_cap, n);
    if (!q) return DV_ENOMEM;
    p->buf = q;
    p->buf_cap = n;
    return DV_OK;
}

/* prev_sequence on output o for sub-delta d (whose new sequence is seq). */
static dv_status stamp(dv_process *p, out_state *o, dv_delta *d, uint64_t seq, uint64_t ts) {
    d->h.sequence = seq;
    d->h.timestamp = ts;
    d->h.payload_offset = 0;
    d->h.prev_sequence = 0;
    if (!has_slot(d)) return DV_OK;
    dv_status st = grow_u64(&p->mem, &o->last, &o->last_cap, d->slot + 1);
    if (st != DV_OK) return st;
    d->h.prev_sequence = o->last[d->slot];
    return DV_OK;
}

/* Encodes the subs routed to output `oi` and pushes them as one delta. */
static dv_status emit_to(dv_process *p, size_t oi, const dv_delta *orig, uint32_t n_kept) {
    out_state *o = &p->outs[oi];
    uint64_t seq = o->next_seq;
    uint8_t hdr[DV_DELTA_HEADER_SIZE];
    size_t len = 0, count = 0;
    uint32_t last_i = 0;
    dv_status st;
    dv_delta_batch_clear(&p->batch);
    dv_delta_arena_reset(&p->scratch);
    for (uint32_t i = 0; i < n_kept; i++) {
        size_t r = route_of(p, &p->subs[i]);
        if (r != (size_t)-1 && r != oi) continue;
        if ((st = stamp(p, o, &p->subs[i], seq, orig->h.timestamp)) != DV_OK) return st;
        count++;
        last_i = i;
        if (orig->h.operation == DV_OP_BATCH && (st = dv_delta_batch_append(&p->batch, &p->subs[i], &p->enc)))
            return st;
    }
    if (count == 0) return DV_OK;
    if (orig->h.operation == DV_OP_BATCH) {
        dv_delta_header bh = orig->h;
        bh.sequence = seq;
        bh.payload_offset = 0;
        size_t bound = dv_delta_batch_bound(&p->batch);
        if ((st = ensure_buf(p, bound)) != DV_OK) return st;
        st = dv_delta_batch_finish(&p->batch, &bh, &p->enc, hdr, p->buf, p->buf_cap, &len);
    } else {
        size_t bound = dv_delta_encoded_bound(&p->subs[last_i]);
        if (bound == 0) return DV_ECORRUPT;
        if ((st = ensure_buf(p, bound)) != DV_OK) return st;
        st = dv_delta_encode(&p->subs[last_i], &p->enc, &p->scratch, hdr, p->buf, p->buf_cap, &len);
    }
    if (st != DV_OK) return st;
    if ((st = dv_ring_push(&p->cfg.outputs[oi], hdr, p->buf, len)) != DV_OK) return st;
    /* accepted: advance this output's numbering */
    for (uint32_t i = 0; i < n_kept; i++) {
        size_t r = route_of(p, &p->subs[i]);
        if ((r == (size_t)-1 || r == oi) && has_slot(&p->subs[i])) o->last[p->subs[i].slot] = seq;
    }
    o->next_seq = seq + 1;
    p->st.written++;
    p->st.rewritten++;
    return DV_OK;
}

/* ---- the two paths ---------------------------------------------------------- */

static dv_status forward_raw(dv_process *p, const dv_ring_entry *e) {
    for (size_t oi = 0; oi < p->cfg.n_outputs; oi++) {
        if (p->done_mask & (1ull << oi)) continue;
        dv_status st = dv_ring_push(&p->cfg.outputs[oi], e->header, e->payload, e->len);
        if (st != DV_OK) return st;
        p->done_mask |= 1ull << oi;
        p->st.written++;
    }
    return DV_OK;
}

/* Decodes and selects once per input entry: a retry after DV_EFULL must not
 * re-run the filter (the metadata predicate has state). */
static dv_status prepare_current(dv_process *p, const dv_ring_entry *e) {
    if (p->decoded) return DV_OK;
    dv_delta_arena_reset(&p->arena);
    dv_status st = dv_delta_decode(e->header, e->payload, e->len, NULL, &p->arena, &p->cur);
    if (st != DV_OK) {
        p->st.bad_input++;
        p->st.last_error = st;
        return st;
    }
    if ((st = select_subs(p, &p->cur, &p->n_kept)) != DV_OK) return st;
    p->decoded = 1;
    if (p->n_kept == 0) p->st.dropped++;
    return DV_OK;
}

static dv_status forward_rewritten(dv_process *p, const dv_ring_entry *e) {
    dv_status st = prepare_current(p, e);
    if (st != DV_OK || p->n_kept == 0) return st;
    for (size_t oi = 0; oi < p->cfg.n_outputs; oi++) {
        if (p->done_mask & (1ull << oi)) continue;
        if ((st = emit_to(p, oi, &p->cur, p->n_kept)) != DV_OK) return st;
        p->done_mask |= 1ull << oi;
    }
    return DV_OK;
}

/* Marks the peeked entry read and releases it. */
static dv_status consume(const dv_ring *in) {
    dv_ring_entry e;
    size_t n = 0;
    dv_status st = dv_ring_poll(in, &e, 1, &n);
    if (st != DV_OK) return st;
    return dv_ring_release(in, &e);
}

dv_status dv_process_run(dv_process *p, const dv_ring *in, size_t max, size_t *n_done) {
    if (!p || !in || !n_done) return DV_EINVAL;
    *n_done = 0;
    while (*n_done < max) {
        dv_ring_entry e;
        dv_status st = dv_ring_peek(in, &e);
        if (st == DV_EEMPTY) return *n_done ? DV_OK : DV_EEMPTY;
        if (st != DV_OK) return st;
        if (!p->have_current) p->st.read++;
        p->have_current = 1;
        st = p->rewrite ? forward_rewritten(p, &e) : forward_raw(p, &e);
        if (st != DV_OK) return st;
        p->done_mask = 0;
        p->have_current = 0;
        p->decoded = 0;
        if ((st = consume(in)) != DV_OK) return st;
        (*n_done)++;
    }
    return DV_OK;
}

dv_status dv_process_skip(dv_process *p, const dv_ring *in) {
    if (!p || !in) return DV_EINVAL;
    p->done_mask = 0;
    p->have_current = 0;
    p->decoded = 0;
    return consume(in);
}
