/*
 * capture.c -- every write to a dv_db becomes a delta in an SPSC ring.
 *
 * Capture is the db's observer (src/db/observer.h). For each public write
 * the db sends OP_BEGIN, the write's events, OP_END:
 *
 *   OP_BEGIN   make sure the ring can take the worst case of this op (plus
 *              any open batch) by holding ONE open ring reservation big
 *              enough; if the ring is full, refuse -> the db returns
 *              DV_EFULL unchanged (or wait, by policy). This is what keeps
 *              the db and the stream in agreement: once the db changes,
 *              the bytes for it are already reserved.
 *   events     feed a dv_delta_builder (vector part, metadata, edges, entry).
 *              Updates go through the SIMD diff: few changed dims -> sparse,
 *              many -> dense, none (and no graph change) -> nothing at all.
 *   OP_END     stamp sequence, timestamp and prev_sequence, encode straight
 *              into the held reservation and commit; or, when batching,
 *              append to the open BATCH and commit it when full.
 *
 * Invariants:
 *  - sequences are gap-free: a sequence is consumed only when a delta (or a
 *    batch) is committed, never for an op that emitted nothing;
 *  - while anything is pending (an open batch), `res` is held and its
 *    capacity >= the batch's encoded bound;
 *  - prev_sequence is per slot (the primary's node slot, which deltas carry).
 */
#include <string.h>

#include "deltavec.h"

#include "db/replay.h"
#include "delta/delta.h"
#include "simd/simd.h"
#include "util/alloc.h"

/* A reservation this big is taken when a batch starts, so that most batches
 * close on their count/byte limits rather than on reservation growth. */
#define CAPTURE_BATCH_RESERVE (256u * 1024u)

struct dv_capture {
    dv_mem mem;
    dv_db *db;
    dv_capture_config cfg;
    dv_encode_opts enc;
    uint32_t dim;

    dv_ring ring;
    void *ring_raw; /* allocation backing the ring (NULL when caller-provided) */
    size_t ring_raw_size;
    size_t max_entry; /* largest payload the ring can ever take */

    int started;
    int attached;     /* this capture is the db's observer (init to free, or until the db closes) */
    dv_status broken; /* sticky: the stream lost a write (a bug); all writes refused */
    uint64_t next_seq;
    uint64_t *last_seq; /* per slot: last sequence that touched it */
    uint32_t last_seq_cap;

    /* the op being built */
    dv_delta_builder b;
    int in_op;
    dv_op_kind op;
    uint32_t op_slot;
    int op_has_content;  /* vector part, metadata or edges */
    dv_status op_failed; /* first builder failure of this op: reported at OP_END, the db undoes the write */
    size_t op_bound;     /* encoded-size bound announced for this op */

    /* the open batch */
    dv_delta_batch batch;
    uint32_t batch_n;
    uint64_t batch_seq;

    /* the held reservation */
    int have_res;
    dv_ring_reservation res;

    dv_delta_arena scratch; /* compression scratch for single deltas */
    uint32_t *diff_idx;     /* dim entries */
    float *tmp_a, *tmp_b;   /* dim floats each */

    /* polled and not yet released entries, in sequence order */
    dv_ring_entry *polled;
    uint64_t *polled_seq;
    size_t polled_head, polled_len, polled_cap;

    dv_capture_stats st;
};

void dv_capture_config_default(dv_capture_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    dv_ring_config_default(&cfg->ring, DV_RING_SPSC);
    cfg->ring.payload_size = 4u << 20;
    cfg->parts = DV_CAPTURE_ALL;
    cfg->first_sequence = 1;
    cfg->sparse_max_fraction = 0.5f;
    cfg->compress = 1;
    cfg->shuffle = 1;
    cfg->full_policy = DV_FULL_REFUSE;
}

/* ---- ring reservation management ----------------------------------------- */

/* Worst-case encoded payload of one op, from the db's bound of its events.
 * Varints and section headers can exceed the raw event bytes, and LZ4 can
 * expand incompressible input slightly: 2x + 1 KiB covers both. */
static size_t op_encoded_bound(size_t event_bound) { return event_bound * 2 + event_bound / 128 + 1024; }

static void release_reservation(dv_capture *c) {
    if (c->have_res) {
        dv_ring_abort(&c->ring, &c->res);
        c->have_res = 0;
    }
}

/* Reserves `want` bytes (falling back to `need` if want is refused), waiting
 * by policy. Nothing is held on failure. */
static dv_status reserve_room(dv_capture *c, size_t need, size_t want) {
    for (;;) {
        dv_status st = dv_ring_reserve(&c->ring, want, &c->res);
        if (st == DV_EFULL && want > need) st = dv_ring_reserve(&c->ring, need, &c->res);
        if (st == DV_OK) {
            c->have_res = 1;
            return DV_OK;
        }
        if (st != DV_EFULL || c->cfg.full_policy != DV_FULL_WAIT || !c->cfg.wait) return st;
        c->cfg.wait(c->cfg.ctx);
    }
}

static dv_status flush_batch(dv_capture *c);

/* Makes the held reservation big enough for everything pending plus an op
 * whose encoded bound is op_bound. */
static dv_status ensure_room(dv_capture *c, size_t op_bound) {
    size_t pending = c->batch_n ? dv_delta_batch_bound(&c->batch) : 0;
    size_t need = pending + op_bound;
    if (c->have_res && c->res.capacity >= need) return DV_OK;
    if (c->batch_n) { /* cannot grow a reservation in place: close the batch */
        dv_status st = flush_batch(c);
        if (st != DV_OK) return st;
        need = op_bound;
    }
    if (need > c->max_entry) return DV_ETOOBIG;
    release_reservation(c);
    size_t want = need;
    if (c->cfg.batch_max_deltas > 1 && want < CAPTURE_BATCH_RESERVE)
        want = CAPTURE_BATCH_RESERVE < c->max_entry ? CAPTURE_BATCH_RESERVE : c->max_entry;
    return reserve_room(c, need, want);
}

/* Publishes the encoded entry held in the reservation: to the ring, or to
 * the configured sink (the reservation is then given back unpublished, so
 * the ring never fills). A sink refusal publishes nothing and keeps the
 * reservation: the caller decides (the db undoes a single write). */
static dv_status commit_entry(dv_capture *c, size_t len, size_t raw_len) {
    if (c->cfg.sink) {
        dv_status st = c->cfg.sink(c->cfg.sink_ctx, (const uint8_t *)c->res.header,
                                   (const uint8_t *)c->res.payload, len);
        if (st != DV_OK) return st;
        dv_ring_abort(&c->ring, &c->res);
    } else {
        dv_ring_commit(&c->ring, &c->res, len);
    }
    c->have_res = 0;
    c->st.deltas++;
    c->st.payload_bytes += len;
    c->st.raw_bytes += raw_len;
    return DV_OK;
}

static dv_status flush_batch(dv_capture *c) {
    if (!c->batch_n) return DV_OK;
    dv_delta_header bh;
    memset(&bh, 0, sizeof bh);
    bh.sequence = c->batch_seq;
    bh.timestamp = c->cfg.clock ? c->cfg.clock(c->cfg.ctx) : 0;
    size_t len = 0;
    dv_status st = dv_delta_batch_finish(&c->batch, &bh, &c->enc, (uint8_t *)c->res.header,
                                         (uint8_t *)c->res.payload, c->res.capacity, &len);
    if (st != DV_OK) return st; /* cannot happen: capacity >= batch bound */
    if ((st = commit_entry(c, len, c->batch.len)) != DV_OK) return st; /* the batch stays open */
    dv_delta_batch_clear(&c->batch);
    c->batch_n = 0;
    c->next_seq = c->batch_seq + 1;
    return DV_OK;
}

/* ---- per-slot last sequence ---------------------------------------------- */

static dv_status reserve_last_seq(dv_capture *c, uint32_t slots) {
    if (slots <= c->last_seq_cap) return DV_OK;
    uint32_t cap = c->last_seq_cap ? c->last_seq_cap : 1024;
    while (cap < slots) cap = cap > UINT32_MAX / 2 ? slots : cap * 2;
    uint64_t *p = dv_mem_realloc(&c->mem, c->last_seq, (size_t)c->last_seq_cap * 8, (size_t)cap * 8);
    if (!p) return DV_ENOMEM;
    memset(p + c->last_seq_cap, 0, (size_t)(cap - c->last_seq_cap) * 8);
    c->last_seq = p;
    c->last_seq_cap = cap;
    return DV_OK;
}

/* ---- events -> builder ------------------------------------------------------ */

static dv_delta_op delta_op_of(dv_op_kind op) {
    switch (op) {
    case DV_WRITE_INSERT:
        return DV_OP_INSERT;
    case DV_WRITE_DELETE:
        return DV_OP_DELETE;
    default:
        return DV_OP_UPDATE;
    }
}

static dv_status on_begin(dv_capture *c, const dv_event *ev) {
    if (c->broken) return DV_ESTATE;
    /* the op may create a slot one past the current end */
    dv_status st = reserve_last_seq(c, dv_db_slot_capacity(c->db) + 1);
    if (st != DV_OK) return st;
    c->op_bound = op_encoded_bound(ev->u.op.bound_bytes);
    st = ensure_room(c, c->op_bound);
    if (st == DV_EFULL || st == DV_ETOOBIG) c->st.refused_full++;
    if (st != DV_OK) return st;
    dv_delta_builder_begin(&c->b, delta_op_of(ev->u.op.op));
    c->in_op = 1;
    c->op = ev->u.op.op;
    c->op_slot = ev->slot;
    c->op_has_content = 0;
    c->op_failed = DV_OK;
    return DV_OK;
}

/* Bit-level equality: the diff kernel compares numerically, so -0.0 and
 * +0.0 look equal to it; they must still travel to keep replicas exact. */
static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Dense updates as bits XOR the old values (kind 3): exact values only,
 * since the replica must hold bit for bit what the primary held. */
static int xor_dense(const dv_capture *c) {
    return c->cfg.dense_xor && !c->cfg.before_images && c->cfg.lossy == DV_LOSSLESS &&
           c->cfg.diff_epsilon == 0.0f;
}

static dv_status on_update(dv_capture *c, const dv_event *ev) {
    const float *old_v = ev->u.update.old_vec;
    float eps = c->cfg.diff_epsilon;
    const float *new_v = ev->u.update.new_vec;
    size_t k = 0;
    if (new_v) {
        k = dv_diff(old_v, new_v, c->dim, eps, c->diff_idx);
        if (eps == 0.0f && k < c->dim) { /* catch sign-of-zero changes the kernel calls equal */
            size_t j = 0, extra = 0;
            for (uint32_t i = 0; i < c->dim; i++) {
                if (j < k && c->diff_idx[j] == i) {
                    j++;
                    continue;
                }
                if (!same_bits(old_v[i], new_v[i])) extra++;
            }
            if (extra) { /* rare: redo as a bitwise scan */
                k = 0;
                for (uint32_t i = 0; i < c->dim; i++)
                    if (!same_bits(old_v[i], new_v[i])) c->diff_idx[k++] = i;
            }
        }
    } else { /* sparse write: keep only the entries that change something */
        for (size_t i = 0; i < ev->u.update.n; i++) {
            uint32_t d = ev->u.update.idx[i];
            float o = old_v[d], v = ev->u.update.values[i];
            int changed = eps == 0.0f ? !same_bits(o, v) : (v - o > eps || o - v > eps);
            if (changed) { /* the new values are gathered in passing */
                c->tmp_a[k] = v;
                c->diff_idx[k++] = d;
            }
        }
    }
    if (k == 0) return DV_OK; /* the vector did not change */
    const char *id = dv_db_id_of(c->db, ev->slot);
    if ((float)k <= c->cfg.sparse_max_fraction * (float)c->dim) {
        if (new_v) dv_gather(c->tmp_a, new_v, c->diff_idx, k);
        const float *before = NULL;
        if (c->cfg.before_images) { /* tmp_a holds 2*dim floats: new values, then old ones */
            dv_gather(c->tmp_a + c->dim, old_v, c->diff_idx, k);
            before = c->tmp_a + c->dim;
        }
        c->st.sparse_updates++;
        c->op_has_content = 1;
        return dv_delta_builder_set_sparse(&c->b, ev->slot, id, c->dim, c->diff_idx, c->tmp_a, before,
                                           (uint32_t)k);
    }
    if (!new_v) { /* a sparse write that changes most dims: ship it dense */
        memcpy(c->tmp_b, old_v, (size_t)c->dim * sizeof(float));
        dv_scatter(c->tmp_b, ev->u.update.idx, ev->u.update.values, ev->u.update.n);
        new_v = c->tmp_b;
    }
    c->st.dense_updates++;
    c->op_has_content = 1;
    dv_status st =
        dv_delta_builder_set_dense(&c->b, ev->slot, id, c->dim, new_v, c->cfg.before_images ? old_v : NULL);
    if (st == DV_OK && xor_dense(c)) st = dv_delta_builder_set_xor_base(&c->b, old_v);
    return st;
}

static dv_status on_event_inner(dv_capture *c, const dv_event *ev) {
    int want_meta = (c->cfg.parts & DV_CAPTURE_METADATA) != 0;
    int want_hnsw = (c->cfg.parts & DV_CAPTURE_HNSW) != 0;
    switch (ev->kind) {
    case DV_EV_VECTOR_INSERT: {
        c->op_has_content = 1;
        dv_status st = dv_delta_builder_set_insert(&c->b, ev->slot, ev->u.insert.id, ev->u.insert.level,
                                                   c->dim, ev->u.insert.vec);
        for (size_t i = 0; st == DV_OK && want_meta && i < ev->u.insert.n_meta; i++)
            st = dv_delta_builder_meta(&c->b, ev->u.insert.meta[i].key, ev->u.insert.meta[i].value);
        return st;
    }
    case DV_EV_VECTOR_UPDATE:
        return on_update(c, ev);
    case DV_EV_VECTOR_DELETE:
        c->op_has_content = 1;
        return dv_delta_builder_set_delete(&c->b, ev->slot, ev->u.del.id, c->cfg.before_images ? c->dim : 0,
                                           c->cfg.before_images ? dv_db_vector_of(c->db, ev->slot) : NULL);
    case DV_EV_META_SET:
        if (!want_meta) return DV_OK;
        if (c->b.d.vkind == DV_VEC_NONE && !c->b.d.id) {
            dv_status st = dv_delta_builder_set_meta_target(&c->b, ev->slot, dv_db_id_of(c->db, ev->slot));
            if (st != DV_OK) return st;
        }
        c->op_has_content = 1;
        return dv_delta_builder_meta(&c->b, ev->u.meta.key, ev->u.meta.value);
    case DV_EV_EDGE_ADD:
        if (!want_hnsw) return DV_OK;
        c->op_has_content = 1;
        return dv_delta_builder_edge_add(&c->b, ev->u.edge.layer, ev->slot, ev->u.edge.to,
                                         ev->u.edge.distance);
    case DV_EV_EDGE_REMOVE:
        if (!want_hnsw) return DV_OK;
        c->op_has_content = 1;
        return dv_delta_builder_edge_remove(&c->b, ev->u.edge.layer, ev->slot, ev->u.edge.to);
    case DV_EV_ENTRY:
        if (!want_hnsw) return DV_OK;
        c->op_has_content = 1;
        dv_delta_builder_entry(&c->b, ev->u.entry.entry, ev->u.entry.max_level);
        return DV_OK;
    case DV_EV_VECTOR_PURGE: /* a tombstone leaves the graph: a logical stream never saw it as one */
        if (!want_hnsw) return DV_OK;
        c->op_has_content = 1;
        return dv_delta_builder_purge(&c->b, ev->slot);
    default:
        return DV_OK;
    }
}

/* The body size of a payload we just encoded (for the stats): our own
 * header needs no validation, only its COMPRESSED bit and the varint. */
static size_t raw_body_size(const void *hdr, const void *payload, size_t len) {
    if (!(((const uint8_t *)hdr)[9] & DV_FLAG_COMPRESSED)) return len;
    const uint8_t *p = payload;
    size_t v = 0;
    for (unsigned i = 0; i < 5 && i < len; i++) {
        v |= (size_t)(p[i] & 0x7Fu) << (7 * i);
        if (!(p[i] & 0x80u)) break;
    }
    return v;
}

/* Encodes the finished op into the held reservation (or the open batch). */
static dv_status finish_op(dv_capture *c) {
    dv_delta *d = &c->b.d;
    if (d->vkind == DV_VEC_NONE && d->n_meta == 0) d->h.operation = DV_OP_REINDEX; /* graph-only */
    int batching = c->cfg.batch_max_deltas > 1;
    uint64_t seq = batching && c->batch_n ? c->batch_seq : c->next_seq;
    uint32_t slot = d->vkind != DV_VEC_NONE || d->id ? d->slot : DV_NO_SLOT;
    d->h.sequence = seq;
    d->h.timestamp = c->cfg.clock ? c->cfg.clock(c->cfg.ctx) : 0;
    d->h.prev_sequence = slot != DV_NO_SLOT && slot < c->last_seq_cap ? c->last_seq[slot] : 0;
    d->h.payload_offset = 0;
    dv_status st;
    if (batching) {
        if (c->batch_n == 0) c->batch_seq = seq;
        st = dv_delta_batch_append(&c->batch, d, &c->enc);
        if (st != DV_OK) return st;
        c->batch_n++;
    } else {
        size_t len = 0;
        dv_delta_arena_reset(&c->scratch);
        st = dv_delta_encode(d, &c->enc, &c->scratch, (uint8_t *)c->res.header, (uint8_t *)c->res.payload,
                             c->res.capacity, &len);
        if (st != DV_OK) return st; /* nothing committed: the db undoes the write */
        st = commit_entry(c, len, raw_body_size(c->res.header, c->res.payload, len));
        if (st != DV_OK) return st; /* the sink refused: nothing published, the db undoes the write */
        c->next_seq = seq + 1;
    }
    if (slot != DV_NO_SLOT && slot < c->last_seq_cap) c->last_seq[slot] = seq;
    c->st.writes++;
    /* the op is in the batch now: a failed flush keeps the batch open (the
     * next op or flush retries), it must not undo a write the stream holds */
    if (batching && (c->batch_n >= c->cfg.batch_max_deltas ||
                     (c->cfg.batch_max_bytes && c->batch.len >= c->cfg.batch_max_bytes)))
        (void)flush_batch(c);
    return DV_OK;
}

/* A failed op leaves no delta; the db undoes the write when OP_END reports
 * the failure (db.c), so the stream and the db still agree. An open batch
 * keeps the reservation it lives in. */
static dv_status on_end(dv_capture *c) {
    c->in_op = 0;
    dv_status st = c->op_failed; /* a builder step failed mid-op: never commit half a delta */
    c->op_failed = DV_OK;
    if (st == DV_OK && !c->op_has_content) {
        c->st.skipped_unchanged++;
        if (!c->batch_n) release_reservation(c);
        return DV_OK;
    }
    if (st == DV_OK) st = finish_op(c);
    if (st != DV_OK && !c->batch_n) release_reservation(c);
    return st;
}

static dv_status capture_on_event(void *ctx, const dv_event *ev) {
    dv_capture *c = ctx;
    if (!c->started) return DV_OK;
    if (ev->kind == DV_EV_OP_BEGIN) return on_begin(c, ev);
    if (!c->in_op) return DV_OK;
    if (ev->kind == DV_EV_OP_END) return on_end(c);
    dv_status st = on_event_inner(c, ev);
    if (st != DV_OK && c->op_failed == DV_OK) c->op_failed = st;
    return DV_OK;
}

/* ---- lifecycle ----------------------------------------------------------------- */

/* Lifetimes: a db has at most one capture, attached from dv_capture_init
 * to dv_capture_free (a second init is refused with DV_ESTATE). Closing the
 * db first calls back here: the open batch is committed (its writes are in
 * the db), the capture stops and forgets the db. What is in the ring stays
 * readable, and dv_capture_free is safe later. */
static void capture_on_db_close(void *ctx) {
    dv_capture *c = ctx;
    if (!c->broken) flush_batch(c); /* cannot fail: the reservation covers the batch */
    release_reservation(c);
    c->started = 0;
    c->attached = 0;
    c->db = NULL;
}

static dv_status setup_ring(dv_capture *c) {
    dv_ring_config rc = c->cfg.ring;
    rc.mode = DV_RING_SPSC; /* the db is single-writer: one producer */
    size_t need = dv_ring_required_size(&rc);
    if (need == 0) return DV_EINVAL;
    void *mem = c->cfg.ring_memory;
    size_t size = c->cfg.ring_memory_size;
    if (!mem) {
        c->ring_raw_size = need + 64;
        c->ring_raw = dv_mem_alloc(&c->mem, c->ring_raw_size);
        if (!c->ring_raw) return DV_ENOMEM;
        mem = (void *)(((uintptr_t)c->ring_raw + 63) & ~(uintptr_t)63);
        size = need;
    }
    c->max_entry = rc.payload_size / 2;
    return dv_ring_init(mem, size, &rc, &c->ring);
}

static dv_status alloc_buffers(dv_capture *c) {
    c->diff_idx = dv_mem_alloc(&c->mem, (size_t)c->dim * sizeof(uint32_t));
    c->tmp_a = dv_mem_alloc(&c->mem, (size_t)c->dim * 2 * sizeof(float));
    c->tmp_b = dv_mem_alloc(&c->mem, (size_t)c->dim * sizeof(float));
    return c->diff_idx && c->tmp_a && c->tmp_b ? DV_OK : DV_ENOMEM;
}

dv_status dv_capture_init(dv_db *db, const dv_capture_config *cfg, dv_capture **out) {
    if (!db || !out) return DV_EINVAL;
    dv_capture_config defaults;
    if (!cfg) {
        dv_capture_config_default(&defaults);
        cfg = &defaults;
    }
    if (!(cfg->sparse_max_fraction >= 0.0f && cfg->sparse_max_fraction <= 1.0f) ||
        !(cfg->diff_epsilon >= 0.0f) || cfg->first_sequence == 0 || (unsigned)cfg->lossy > DV_LOSSY_I8 ||
        (cfg->full_policy == DV_FULL_WAIT && !cfg->wait))
        return DV_EINVAL;
    dv_mem mem;
    dv_mem_init(&mem, cfg->allocator);
    dv_capture *c = dv_mem_calloc(&mem, 1, sizeof *c);
    if (!c) return DV_ENOMEM;
    c->mem = mem;
    c->db = db;
    c->cfg = *cfg;
    c->cfg.parts |= DV_CAPTURE_VECTORS;
    c->dim = dv_db_dim(db);
    c->next_seq = cfg->first_sequence;
    dv_encode_opts_default(&c->enc);
    c->enc.compress = cfg->compress;
    c->enc.shuffle = cfg->shuffle;
    c->enc.values = cfg->lossy == DV_LOSSY_F16  ? DV_VALUES_F16
                    : cfg->lossy == DV_LOSSY_I8 ? DV_VALUES_I8
                                                : DV_VALUES_F32;
    dv_delta_builder_init(&c->b, &c->mem);
    dv_delta_batch_init(&c->batch, &c->mem);
    dv_delta_arena_init(&c->scratch, &c->mem);
    dv_status st = setup_ring(c);
    if (st == DV_OK) st = alloc_buffers(c);
    if (st == DV_OK) st = reserve_last_seq(c, dv_db_slot_capacity(db) + 1);
    if (st == DV_OK) {
        dv_observer obs = {capture_on_event, c, capture_on_db_close};
        st = dv_db_attach_observer(db, &obs); /* DV_ESTATE: the db has a capture */
        c->attached = st == DV_OK;
    }
    if (st != DV_OK) {
        dv_capture_free(c);
        return st;
    }
    *out = c;
    return DV_OK;
}

dv_status dv_capture_start(dv_capture *c) {
    if (!c) return DV_EINVAL;
    if (c->started || !c->attached) return DV_ESTATE; /* started, or its db is closed */
    dv_db_observe(c->db, 1);
    c->started = 1;
    return DV_OK;
}

dv_status dv_capture_flush(dv_capture *c) {
    if (!c) return DV_EINVAL;
    return flush_batch(c);
}

dv_status dv_capture_stop(dv_capture *c) {
    if (!c) return DV_EINVAL;
    if (!c->started) return DV_ESTATE;
    dv_status st = flush_batch(c);
    if (st != DV_OK) return st;
    release_reservation(c);
    dv_db_observe(c->db, 0);
    c->started = 0;
    return DV_OK;
}

void dv_capture_free(dv_capture *c) {
    if (!c) return;
    if (c->attached) dv_db_set_observer(c->db, NULL); /* detach */
    release_reservation(c);
    dv_delta_builder_free(&c->b);
    dv_delta_batch_free(&c->batch);
    dv_delta_arena_free(&c->scratch);
    dv_mem_free(&c->mem, c->last_seq, (size_t)c->last_seq_cap * 8);
    dv_mem_free(&c->mem, c->diff_idx, (size_t)c->dim * sizeof(uint32_t));
    dv_mem_free(&c->mem, c->tmp_a, (size_t)c->dim * 2 * sizeof(float));
    dv_mem_free(&c->mem, c->tmp_b, (size_t)c->dim * sizeof(float));
    dv_mem_free(&c->mem, c->polled, c->polled_cap * sizeof(dv_ring_entry));
    dv_mem_free(&c->mem, c->polled_seq, c->polled_cap * sizeof(uint64_t));
    dv_mem_free(&c->mem, c->ring_raw, c->ring_raw_size);
    dv_mem mem = c->mem;
    dv_mem_free(&mem, c, sizeof *c);
}

/* ---- consumer side --------------------------------------------------------------- */

static dv_status grow_polled(dv_capture *c, size_t need) {
    if (c->polled_head > 0) { /* compact first */
        memmove(c->polled, c->polled + c->polled_head, c->polled_len * sizeof(dv_ring_entry));
        memmove(c->polled_seq, c->polled_seq + c->polled_head, c->polled_len * sizeof(uint64_t));
        c->polled_head = 0;
    }
    if (c->polled_len + need <= c->polled_cap) return DV_OK;
    size_t cap = c->polled_cap ? c->polled_cap : 64;
    while (cap < c->polled_len + need) cap *= 2;
    dv_ring_entry *e = dv_mem_alloc(&c->mem, cap * sizeof *e);
    uint64_t *s = dv_mem_alloc(&c->mem, cap * sizeof *s);
    if (!e || !s) {
        dv_mem_free(&c->mem, e, cap * sizeof *e);
        dv_mem_free(&c->mem, s, cap * sizeof *s);
        return DV_ENOMEM;
    }
    if (c->polled_len) {
        memcpy(e, c->polled, c->polled_len * sizeof *e);
        memcpy(s, c->polled_seq, c->polled_len * sizeof *s);
    }
    dv_mem_free(&c->mem, c->polled, c->polled_cap * sizeof *e);
    dv_mem_free(&c->mem, c->polled_seq, c->polled_cap * sizeof *s);
    c->polled = e;
    c->polled_seq = s;
    c->polled_cap = cap;
    return DV_OK;
}

dv_status dv_capture_poll(dv_capture *c, dv_delta_header *out, size_t max, size_t *n) {
    if (!c || !out || !n) return DV_EINVAL;
    *n = 0;
    if (max == 0) return DV_EINVAL;
    dv_status st = grow_polled(c, max);
    if (st != DV_OK) return st;
    dv_ring_entry *dst = c->polled + c->polled_head + c->polled_len;
    size_t got = 0;
    st = dv_ring_poll(&c->ring, dst, max, &got);
    if (st != DV_OK) return st;
    for (size_t i = 0; i < got; i++) {
        st = dv_delta_header_decode(dst[i].header, &out[i]);
        if (st != DV_OK) return DV_ECORRUPT; /* our own ring: cannot happen */
        c->polled_seq[c->polled_head + c->polled_len + i] = out[i].sequence;
    }
    c->polled_len += got;
    *n = got;
    return DV_OK;
}

/* Index (from polled_head) of the entry with `sequence`, or -1. */
static long find_polled(const dv_capture *c, uint64_t sequence) {
    size_t lo = 0, hi = c->polled_len;
    if (hi == 0) return -1;
    const uint64_t *s = c->polled_seq + c->polled_head;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < sequence)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->polled_len && s[lo] == sequence ? (long)lo : -1;
}

dv_status dv_capture_payload(dv_capture *c, uint64_t sequence, const uint8_t **header,
                             const uint8_t **payload, size_t *len) {
    if (!c || !header || !payload || !len) return DV_EINVAL;
    long i = find_polled(c, sequence);
    if (i < 0) return DV_ENOTFOUND;
    const dv_ring_entry *e = &c->polled[c->polled_head + (size_t)i];
    *header = e->header;
    *payload = e->payload;
    *len = e->len;
    return DV_OK;
}

dv_status dv_capture_release(dv_capture *c, uint64_t sequence) {
    if (!c) return DV_EINVAL;
    size_t k = 0; /* entries with seq <= sequence */
    while (k < c->polled_len && c->polled_seq[c->polled_head + k] <= sequence) k++;
    if (k == 0) return DV_OK;
    dv_status st = dv_ring_release(&c->ring, &c->polled[c->polled_head + k - 1]);
    if (st != DV_OK) return st;
    c->polled_head += k;
    c->polled_len -= k;
    return DV_OK;
}

dv_status dv_capture_checkpoint(dv_capture *c, dv_checkpoint *out) {
    if (!c || !out) return DV_EINVAL;
    dv_status st = flush_batch(c);
    if (st != DV_OK) return st;
    if (!c->attached) return DV_ESTATE; /* the db is closed: no state to hash */
    out->sequence = c->next_seq - 1;
    out->state_hash = dv_db_state_hash(c->db);
    return DV_OK;
}

const dv_ring *dv_capture_ring(const dv_capture *c) { return c ? &c->ring : NULL; }
uint64_t dv_capture_last_sequence(const dv_capture *c) { return c ? c->next_seq - 1 : 0; }

dv_status dv_capture_stats_get(const dv_capture *c, dv_capture_stats *out) {
    if (!c || !out) return DV_EINVAL;
    *out = c->st;
    return DV_OK;
}

/* ---- per-slot table for snapshots (deltavec.h section 4c) ------------------ */

const uint64_t *dv_capture_slot_sequences(const dv_capture *c, size_t *n) {
    if (n) *n = c ? c->last_seq_cap : 0;
    return c ? c->last_seq : NULL;
}

dv_status dv_capture_restore_slot_sequences(dv_capture *c, const uint64_t *seqs, size_t n) {
    if (!c || (!seqs && n) || n >= UINT32_MAX) return DV_EINVAL;
    if (c->started || c->next_seq != c->cfg.first_sequence) return DV_ESTATE;
    dv_status st = reserve_last_seq(c, (uint32_t)n);
    if (st != DV_OK) return st;
    /* an unknown history continues as "none": nothing better can be stamped */
    for (size_t i = 0; i < n; i++) c->last_seq[i] = seqs[i] == DV_SEQ_UNKNOWN ? 0 : seqs[i];
    for (size_t i = n; i < c->last_seq_cap; i++) c->last_seq[i] = 0;
    return DV_OK;
}
