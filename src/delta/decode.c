/*
 * decode.c -- payload decoder: stored bytes -> dv_delta (see docs/FORMAT.md).
 *
 * Hostile input is the normal case. Rules followed throughout:
 *  - the header and the checksum are checked before any payload byte is
 *    interpreted (a random corruption is thus DV_ECHECKSUM; the structural
 *    checks below guard against crafted input with a valid checksum);
 *  - every count is compared with the bytes remaining (times the smallest
 *    encoding of one element) BEFORE memory is allocated for it, so a
 *    5-byte varint cannot make us allocate gigabytes;
 *  - input bytes are never reinterpreted as float/uint32: everything is
 *    decoded into aligned arena copies with explicit little-endian loads;
 *  - the encoding is canonical: flags must match the content exactly,
 *    varints are minimal, nothing may follow the last structure.
 * Status mapping: short outer buffer DV_ETRUNCATED; structure inconsistent
 * DV_ECORRUPT; bounds DV_ETOOBIG/DV_EDIM/DV_EID/DV_EMETA; NaN/Inf
 * DV_ENONFINITE; flags not matching the op DV_EBADOP.
 */
#include <lz4.h>

#include "delta/delta.h"
#include "delta/floats.h"
#include "delta/wire.h"
#include "util/utf8.h"

#define DV_DELTA_MAX_LEVEL 255u

typedef struct dec {
    dv_rd r;
    dv_delta_arena *arena;
    uint32_t max_dim;
    uint32_t max_payload;
    unsigned types_seen; /* bit (1 << element type) per float array read */
} dec;

static void *dec_alloc(dec *c, size_t count, size_t size) {
    size_t total = dv_mul_size(count, size);
    if (total == 0 && count && size) return NULL;
    return dv_delta_arena_alloc(c->arena, total ? total : 1);
}

/* A length-prefixed UTF-8 string copied NUL-terminated into the arena. */
static dv_status dec_string(dec *c, uint32_t max_len, dv_status bad, const char **out, uint32_t *out_len) {
    uint32_t n = dv_rd_varint(&c->r);
    if (c->r.err) return c->r.err;
    if (n == 0 || n > max_len) return bad;
    const uint8_t *q = dv_rd_bytes(&c->r, n);
    if (!q) return c->r.err;
    if (!dv_utf8_valid(q, n)) return bad;
    char *s = dec_alloc(c, (size_t)n + 1u, 1);
    if (!s) return DV_ENOMEM;
    memcpy(s, q, n);
    s[n] = '\0';
    *out = s;
    if (out_len) *out_len = n;
    return DV_OK;
}

static dv_status dec_floats(dec *c, uint32_t n, float **out, uint8_t *coding) {
    float *v = dec_alloc(c, n, sizeof(float));
    if (!v) return DV_ENOMEM;
    dv_fa_read(&c->r, n, v, coding);
    if (c->r.err) return c->r.err;
    c->types_seen |= 1u << (*coding & DV_FA_TYPE_MASK);
    *out = v;
    return DV_OK;
}

static dv_status dec_dim(dec *c, uint32_t *dim) {
    *dim = dv_rd_varint(&c->r);
    if (c->r.err) return c->r.err;
    if (*dim == 0 || *dim > c->max_dim) return DV_EDIM;
    return DV_OK;
}

static dv_status dec_target(dec *c, dv_delta *d) {
    d->slot = dv_rd_varint(&c->r);
    if (c->r.err) return c->r.err;
    if (d->slot == DV_NO_SLOT) return DV_ECORRUPT;
    return dec_string(c, DV_MAX_ID_LEN, DV_EID, &d->id, &d->id_len);
}

/* INSERT metadata: n pairs. UPDATE: n operations (u8 1 = set, 0 = remove). */
static dv_status dec_meta(dec *c, dv_delta *d, int ops) {
    uint32_t n = dv_rd_varint(&c->r);
    if (c->r.err) return c->r.err;
    if (n == 0) return DV_ECORRUPT; /* the flag says there is metadata */
    if (!ops && n > DV_MAX_META_PAIRS) return DV_EMETA;
    if (n > dv_rd_left(&c->r) / 3u) return DV_ECORRUPT; /* >= 3 bytes each */
    dv_meta_kv *kv = dec_alloc(c, n, sizeof *kv);
    if (!kv) return DV_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        int set = 1;
        if (ops) {
            uint8_t t = dv_rd_u8(&c->r);
            if (c->r.err) return c->r.err;
            if (t > 1) return DV_ECORRUPT;
            set = t;
        }
        dv_status s = dec_string(c, DV_MAX_META_KEY_LEN, DV_EMETA, &kv[i].key, NULL);
        if (s) return s;
        kv[i].value = NULL;
        if (set && (s = dec_string(c, DV_MAX_META_VALUE_LEN, DV_EMETA, &kv[i].value, NULL))) return s;
    }
    d->meta = kv;
    d->n_meta = n;
    return DV_OK;
}

static dv_status dec_hnsw(dec *c, dv_delta *d) {
    uint32_t ns = dv_rd_varint(&c->r);
    if (c->r.err) return c->r.err;
    if (ns > dv_rd_left(&c->r) / 3u) return DV_ECORRUPT;
    dv_hnsw_section *secs = dec_alloc(c, ns, sizeof *secs);
    if (!secs) return DV_ENOMEM;
    for (uint32_t i = 0; i < ns; i++) {
        dv_hnsw_section *s = &secs[i];
        s->layer = dv_rd_varint(&c->r);
        s->n_remove = dv_rd_varint(&c->r);
        if (c->r.err) return c->r.err;
        if (s->layer > DV_DELTA_MAX_LEVEL) return DV_ECORRUPT;
        if (s->n_remove > dv_rd_left(&c->r) / 2u) return DV_ECORRUPT;
        dv_edge_rm *rm = dec_alloc(c, s->n_remove, sizeof *rm);
        if (!rm) return DV_ENOMEM;
        for (uint32_t k = 0; k < s->n_remove; k++) {
            rm[k].from = dv_rd_varint(&c->r);
            rm[k].to = dv_rd_varint(&c->r);
            if (c->r.err) return c->r.err;
            if (rm[k].from == DV_NO_SLOT || rm[k].to == DV_NO_SLOT) return DV_ECORRUPT;
        }
        s->n_add = dv_rd_varint(&c->r);
        if (c->r.err) return c->r.err;
        if (s->n_add > dv_rd_left(&c->r) / 6u) return DV_ECORRUPT;
        if (s->n_add == 0 && s->n_remove == 0) return DV_ECORRUPT;
        dv_edge_add *ad = dec_alloc(c, s->n_add, sizeof *ad);
        if (!ad) return DV_ENOMEM;
        for (uint32_t k = 0; k < s->n_add; k++) {
            ad[k].from = dv_rd_varint(&c->r);
            ad[k].to = dv_rd_varint(&c->r);
            ad[k].dist = dv_bits_f32(dv_rd_u32le(&c->r));
            if (c->r.err) return c->r.err;
            if (ad[k].from == DV_NO_SLOT || ad[k].to == DV_NO_SLOT) return DV_ECORRUPT;
            if (ad[k].dist != ad[k].dist) return DV_ENONFINITE;
        }
        s->removes = rm;
        s->adds = ad;
    }
    uint8_t has_entry = dv_rd_u8(&c->r);
    if (c->r.err) return c->r.err;
    if (has_entry > 1) return DV_ECORRUPT;
    if (has_entry) {
        d->entry = dv_rd_varint(&c->r);
        d->max_level = dv_rd_varint(&c->r);
        if (c->r.err) return c->r.err;
        if (d->max_level > DV_DELTA_MAX_LEVEL) return DV_ECORRUPT;
    }
    if (ns == 0 && !has_entry) return DV_ECORRUPT; /* flag without content */
    d->has_entry = has_entry;
    d->n_sections = ns;
    d->sections = secs;
    return DV_OK;
}

/* REINDEX purge list: n >= 1 slots, gap coded (strictly increasing by
 * construction), each below 0xFFFFFFFF. */
static dv_status dec_purge(dec *c, dv_delta *d) {
    uint32_t n = dv_rd_varint(&c->r);
    if (c->r.err) return c->r.err;
    if (n == 0 || n > dv_rd_left(&c->r)) return DV_ECORRUPT; /* one byte at least per slot */
    uint32_t *slots = dec_alloc(c, n, sizeof *slots);
    if (!slots) return DV_ENOMEM;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v = dv_rd_varint(&c->r);
        if (c->r.err) return c->r.err;
        v = i == 0 ? v : prev + 1u + v;
        if (v >= DV_NO_SLOT) return DV_ECORRUPT;
        slots[i] = (uint32_t)v;
        prev = v;
    }
    d->n_purge = n;
    d->purge = slots;
    return DV_OK;
}

/* Sparse indices: the first as is, then each as (gap - 1) from the previous,
 * so strictly increasing is guaranteed by construction. */
static dv_status dec_sparse_idx(dec *c, dv_delta *d) {
    if (d->n == 0 || d->n > d->dim) return DV_ECORRUPT;
    if (d->n > dv_rd_left(&c->r)) return DV_ECORRUPT;
    uint32_t *idx = dec_alloc(c, d->n, sizeof *idx);
    if (!idx) return DV_ENOMEM;
    uint64_t cur = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        uint64_t g = dv_rd_varint(&c->r);
        if (c->r.err) return c->r.err;
        cur = i == 0 ? g : cur + 1u + g;
        if (cur >= d->dim) return DV_EDIM;
        idx[i] = (uint32_t)cur;
    }
    d->idx = idx;
    return DV_OK;
}

/* UPDATE kind 3: dense values XOR the replica's current ones. The stored
 * bits are kept as bits (they need not be finite numbers); apply checks the
 * base hash against its own values and the resolved values for finiteness. */
static dv_status dec_dense_xor(dec *c, dv_delta *d, uint8_t flags) {
    if (flags & (DV_FLAG_SPARSE | DV_FLAG_HAS_BEFORE)) return DV_ECORRUPT;
    dv_status s;
    d->vkind = DV_VEC_DENSE_XOR;
    if ((s = dec_target(c, d)) || (s = dec_dim(c, &d->dim))) return s;
    d->n = d->dim;
    const uint8_t *h = dv_rd_bytes(&c->r, 8);
    if (!h) return c->r.err;
    d->base_hash = dv_ld64(h);
    float *v = NULL;
    uint8_t coding = 0;
    if ((s = dec_floats(c, d->n, &v, &coding))) return s;
    if ((coding & (DV_FA_TYPE_MASK | DV_FA_XOR)) != (DV_FA_F32 | DV_FA_XOR)) return DV_ECORRUPT;
    uint32_t *bits = dec_alloc(c, d->n, sizeof *bits);
    if (!bits) return DV_ENOMEM;
    memcpy(bits, v, (size_t)d->n * sizeof *bits); /* the f32 reader stored the bit patterns */
    d->xor_bits = bits;
    return DV_OK;
}

static dv_status dec_vector_update(dec *c, dv_delta *d, uint8_t flags) {
    uint8_t kind = dv_rd_u8(&c->r);
    if (c->r.err) return c->r.err;
    if (kind == 3) return dec_dense_xor(c, d, flags);
    dv_status s;
    if (kind == 0) {
        if (flags & (DV_FLAG_SPARSE | DV_FLAG_HAS_BEFORE)) return DV_ECORRUPT;
        if (!(flags & DV_FLAG_HAS_META)) return DV_ECORRUPT; /* an empty update */
        d->vkind = DV_VEC_NONE;
        return dec_target(c, d);
    }
    if (kind > 2) return DV_ECORRUPT;
    if ((kind == 2) != ((flags & DV_FLAG_SPARSE) != 0)) return DV_ECORRUPT;
    d->vkind = kind == 1 ? DV_VEC_DENSE : DV_VEC_SPARSE;
    if ((s = dec_target(c, d)) || (s = dec_dim(c, &d->dim))) return s;
    d->n = d->dim;
    if (kind == 2) {
        d->n = dv_rd_varint(&c->r);
        if (c->r.err) return c->r.err;
        if ((s = dec_sparse_idx(c, d))) return s;
    }
    float *values = NULL, *before = NULL;
    uint8_t cv = 0, cb = 0;
    if ((s = dec_floats(c, d->n, &values, &cv))) return s;
    if (flags & DV_FLAG_HAS_BEFORE) {
        if ((s = dec_floats(c, d->n, &before, &cb))) return s;
    }
    if (cv & DV_FA_XOR) { /* values are stored XOR the exact (f32) before-image */
        if (!before || (cb & (DV_FA_TYPE_MASK | DV_FA_XOR)) != DV_FA_F32) return DV_ECORRUPT;
        for (uint32_t i = 0; i < d->n; i++)
            values[i] = dv_bits_f32(dv_f32_bits(values[i]) ^ dv_f32_bits(before[i]));
    }
    if (cb & DV_FA_XOR) return DV_ECORRUPT;
    if (!dv_all_finite(values, d->n) || (before && !dv_all_finite(before, d->n))) return DV_ENONFINITE;
    d->values = values;
    d->before = before;
    return DV_OK;
}

static dv_status dec_plain_floats(dec *c, uint32_t n, const float **out) {
    float *v = NULL;
    uint8_t coding = 0;
    dv_status s = dec_floats(c, n, &v, &coding);
    if (s) return s;
    if (coding & DV_FA_XOR) return DV_ECORRUPT;
    if (!dv_all_finite(v, n)) return DV_ENONFINITE;
    *out = v;
    return DV_OK;
}

static dv_status dec_batch(dec *c, const dv_delta_header *bh, const uint8_t *body, size_t len, dv_delta *d);

/* Decodes an uncompressed body for header h into d (d->h already set). */
static dv_status dec_body(dec *c, const uint8_t *body, size_t len, dv_delta *d, int in_batch) {
    uint8_t op = d->h.operation, flags = d->h.flags;
    dv_status s = DV_OK;
    if (op == DV_OP_BATCH) {
        if (in_batch) return DV_EBADOP;
        /* a batch names no vector and follows no slot (FORMAT.md section 6) */
        if (d->h.vector_id_hash || d->h.prev_sequence) return DV_ECORRUPT;
        return dec_batch(c, &d->h, body, len, d);
    }
    dv_rd_init(&c->r, body, len);
    c->types_seen = 0;
    switch (op) {
    case DV_OP_INSERT:
        d->vkind = DV_VEC_INSERT;
        if ((s = dec_target(c, d))) return s;
        d->level = dv_rd_varint(&c->r);
        if (c->r.err) return c->r.err;
        if (d->level > DV_DELTA_MAX_LEVEL) return DV_ECORRUPT;
        if ((s = dec_dim(c, &d->dim))) return s;
        d->n = d->dim;
        if ((s = dec_plain_floats(c, d->n, &d->values))) return s;
        if ((flags & DV_FLAG_HAS_META) && (s = dec_meta(c, d, 0))) return s;
        break;
    case DV_OP_UPDATE:
        if ((s = dec_vector_update(c, d, flags))) return s;
        if ((flags & DV_FLAG_HAS_META) && (s = dec_meta(c, d, 1))) return s;
        break;
    case DV_OP_DELETE:
        d->vkind = DV_VEC_DELETE;
        if ((s = dec_target(c, d))) return s;
        if (flags & DV_FLAG_HAS_BEFORE) {
            if ((s = dec_dim(c, &d->dim))) return s;
            d->n = d->dim;
            if ((s = dec_plain_floats(c, d->n, &d->before))) return s;
        }
        break;
    case DV_OP_REINDEX:
        break;
    default:
        return DV_EBADOP;
    }
    if ((flags & DV_FLAG_HAS_HNSW) && (s = dec_hnsw(c, d))) return s;
    if (op == DV_OP_REINDEX && (flags & DV_FLAG_PURGE) && (s = dec_purge(c, d))) return s;
    if (dv_rd_left(&c->r) != 0) return DV_ECORRUPT; /* trailing bytes */
    /* Lossy flags must describe the arrays exactly: a flag needs at least one
     * array of its type, and arrays may only be f32 or the flagged type. */
    unsigned lossy = (flags & DV_FLAG_LOSSY_F16)  ? (1u << DV_FA_F16)
                     : (flags & DV_FLAG_LOSSY_I8) ? (1u << DV_FA_I8)
                                                  : 0u;
    if ((c->types_seen & ~((1u << DV_FA_F32) | lossy)) || (lossy && !(c->types_seen & lossy)))
        return DV_ECORRUPT;
    /* vector_id_hash must name the id the payload carries (0 without id). */
    if (d->h.vector_id_hash != (d->id ? dv_delta_id_hash(d->id, d->id_len) : 0u)) return DV_ECORRUPT;
    return DV_OK;
}

/* Body of a batch: sub-deltas back to back (header + payload each). */
static dv_status dec_batch(dec *c, const dv_delta_header *bh, const uint8_t *body, size_t len, dv_delta *d) {
    /* Pass 1: count, with every size checked, so the array is exact. */
    size_t pos = 0;
    uint32_t n = 0;
    while (pos < len) {
        if (len - pos < DV_DELTA_HEADER_SIZE) return DV_ECORRUPT;
        uint32_t psz = dv_ld32(body + pos + 28);
        if (psz > len - pos - DV_DELTA_HEADER_SIZE) return DV_ECORRUPT;
        pos += DV_DELTA_HEADER_SIZE + (size_t)psz;
        n++;
    }
    if (n == 0) return DV_ECORRUPT;
    dv_delta *subs = dec_alloc(c, n, sizeof *subs);
    if (!subs) return DV_ENOMEM;
    pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        dv_delta *sd = &subs[i];
        memset(sd, 0, sizeof *sd);
        const uint8_t *hdr = body + pos;
        dv_status s = dv_delta_header_decode(hdr, &sd->h);
        if (s) return s;
        if (sd->h.operation == DV_OP_BATCH || (sd->h.flags & DV_FLAG_COMPRESSED)) return DV_EBADOP;
        if (sd->h.sequence != bh->sequence) return DV_ECORRUPT;
        pos += DV_DELTA_HEADER_SIZE;
        if (sd->h.payload_offset != pos) return DV_ECORRUPT;
        if (dv_delta_checksum(hdr, body + pos, sd->h.payload_size) != sd->h.checksum) return DV_ECHECKSUM;
        if ((s = dec_body(c, body + pos, sd->h.payload_size, sd, 1))) return s;
        pos += sd->h.payload_size;
    }
    d->n_sub = n;
    d->subs = subs;
    return DV_OK;
}

size_t dv_delta_body_size(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload, size_t len) {
    dv_delta_header h;
    if (dv_delta_header_decode(hdr, &h) != DV_OK || !(h.flags & DV_FLAG_COMPRESSED) || !payload) return len;
    dv_rd r;
    dv_rd_init(&r, payload, len);
    uint32_t raw = dv_rd_varint(&r);
    return r.err ? len : raw;
}

dv_status dv_delta_decode(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload, size_t len,
                          const dv_decode_limits *lim, dv_delta_arena *arena, dv_delta *out) {
    if (!hdr || !arena || !out || (len && !payload)) return DV_EINVAL;
    memset(out, 0, sizeof *out);
    dv_status s = dv_delta_verify(hdr, payload, len);
    if (s) return s;
    dv_delta_header_decode(hdr, &out->h);
    dec c;
    memset(&c, 0, sizeof c);
    c.arena = arena;
    c.max_dim = lim && lim->max_dim && lim->max_dim < DV_MAX_DIM ? lim->max_dim : DV_MAX_DIM;
    c.max_payload = lim && lim->max_payload && lim->max_payload < DV_DELTA_MAX_PAYLOAD ? lim->max_payload
                                                                                       : DV_DELTA_MAX_PAYLOAD;
    const uint8_t *body = payload;
    size_t blen = out->h.payload_size;
    if (blen > c.max_payload) return DV_ETOOBIG;
    if (out->h.flags & DV_FLAG_COMPRESSED) {
        dv_rd r;
        dv_rd_init(&r, payload, blen);
        uint32_t raw = dv_rd_varint(&r);
        if (r.err) return r.err;
        if (raw == 0) return DV_ECORRUPT;
        if (raw > c.max_payload) return DV_ETOOBIG;
        size_t clen = dv_rd_left(&r);
        if (clen == 0) return DV_ECORRUPT;
        uint8_t *buf = dv_delta_arena_alloc(arena, raw);
        if (!buf) return DV_ENOMEM;
        int got = LZ4_decompress_safe((const char *)payload + r.pos, (char *)buf, (int)clen, (int)raw);
        if (got != (int)raw) return DV_ECORRUPT;
        body = buf;
        blen = raw;
    }
    return dec_body(&c, body, blen, out, 0);
}

dv_status dv_delta_decode_buf(const uint8_t *buf, size_t len, const dv_decode_limits *lim,
                              dv_delta_arena *arena, dv_delta *out) {
    if (!buf && len) return DV_EINVAL;
    if (len < DV_DELTA_HEADER_SIZE) return DV_ETRUNCATED;
    return dv_delta_decode(buf, buf + DV_DELTA_HEADER_SIZE, len - DV_DELTA_HEADER_SIZE, lim, arena, out);
}
