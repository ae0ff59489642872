/*
 * encode.c -- dv_delta -> header + payload (see docs/FORMAT.md).
 *
 * The encoder validates the whole delta first (the same rules the decoder
 * enforces, so everything we write decodes), then writes the uncompressed
 * body straight into the caller's buffer, then tries LZ4 into the scratch
 * arena and keeps the compressed form only when it is strictly smaller.
 * Flags are derived from the content, never taken from the caller, so the
 * header cannot disagree with the payload.
 */
#include <lz4.h>

#include "delta/delta.h"
#include "delta/floats.h"
#include "delta/wire.h"
#include "util/utf8.h"

#define DV_DELTA_MAX_LEVEL 255u

void dv_encode_opts_default(dv_encode_opts *o) {
    o->compress = 1;
    o->shuffle = 1;
    o->xor_before = 0;
    o->values = DV_VALUES_F32;
    o->max_payload = 0;
}

/* ---- validation ------------------------------------------------------- */

static int str_ok(const char *s, size_t max) {
    if (!s) return 0;
    size_t n = strlen(s);
    return n >= 1 && n <= max && dv_utf8_valid((const uint8_t *)s, n);
}

static dv_status check_floats(const float *v, uint32_t n) {
    if (!v) return DV_EINVAL;
    return dv_all_finite(v, n) ? DV_OK : DV_ENONFINITE;
}

static dv_status check_hnsw(const dv_delta *d) {
    if (d->n_sections && !d->sections) return DV_EINVAL;
    for (uint32_t i = 0; i < d->n_sections; i++) {
        const dv_hnsw_section *s = &d->sections[i];
        if (s->layer > DV_DELTA_MAX_LEVEL || (s->n_remove == 0 && s->n_add == 0)) return DV_EINVAL;
        if ((s->n_remove && !s->removes) || (s->n_add && !s->adds)) return DV_EINVAL;
        for (uint32_t k = 0; k < s->n_remove; k++)
            if (s->removes[k].from == DV_NO_SLOT || s->removes[k].to == DV_NO_SLOT) return DV_EINVAL;
        for (uint32_t k = 0; k < s->n_add; k++) {
            if (s->adds[k].from == DV_NO_SLOT || s->adds[k].to == DV_NO_SLOT) return DV_EINVAL;
            if (s->adds[k].dist != s->adds[k].dist) return DV_ENONFINITE;
        }
    }
    if (d->has_entry && d->max_level > DV_DELTA_MAX_LEVEL) return DV_EINVAL;
    return DV_OK;
}

static dv_status check_meta(const dv_delta *d, int ops) {
    if (!ops && d->n_meta > DV_MAX_META_PAIRS) return DV_EMETA;
    if (d->n_meta && !d->meta) return DV_EINVAL;
    for (uint32_t i = 0; i < d->n_meta; i++) {
        if (!str_ok(d->meta[i].key, DV_MAX_META_KEY_LEN)) return DV_EMETA;
        if (!ops && !d->meta[i].value) return DV_EMETA;
        if (d->meta[i].value && !str_ok(d->meta[i].value, DV_MAX_META_VALUE_LEN)) return DV_EMETA;
    }
    return DV_OK;
}

static dv_status check_target(const dv_delta *d) {
    if (d->slot == DV_NO_SLOT) return DV_EINVAL;
    if (!d->id || d->id_len != strlen(d->id)) return DV_EID;
    return str_ok(d->id, DV_MAX_ID_LEN) ? DV_OK : DV_EID;
}

static dv_status check_vector(const dv_delta *d) {
    dv_status s;
    switch (d->vkind) {
    case DV_VEC_INSERT:
        if (d->level > DV_DELTA_MAX_LEVEL || d->before || d->idx) return DV_EINVAL;
        /* fall through */
    case DV_VEC_DENSE:
        if (d->dim == 0 || d->dim > DV_MAX_DIM || d->n != d->dim) return DV_EDIM;
        if ((s = check_floats(d->values, d->n))) return s;
        break;
    case DV_VEC_SPARSE:
        if (d->dim == 0 || d->dim > DV_MAX_DIM || d->n == 0 || d->n > d->dim || !d->idx) return DV_EDIM;
        for (uint32_t i = 0; i < d->n; i++)
            if (d->idx[i] >= d->dim || (i && d->idx[i] <= d->idx[i - 1])) return DV_EDIM;
        if ((s = check_floats(d->values, d->n))) return s;
        break;
    case DV_VEC_DELETE:
        if (d->before && (d->dim == 0 || d->dim > DV_MAX_DIM || d->n != d->dim)) return DV_EDIM;
        break;
    case DV_VEC_DENSE_XOR: /* bit patterns, not numbers: no finiteness check until apply resolves them */
        if (d->dim == 0 || d->dim > DV_MAX_DIM || d->n != d->dim) return DV_EDIM;
        if (!d->xor_bits || d->before || d->idx) return DV_EINVAL;
        break;
    case DV_VEC_NONE:
        break;
    default:
        return DV_EINVAL;
    }
    if (d->before && (s = check_floats(d->before, d->n))) return s;
    if (d->xor_base) { /* the current values of a dense update, in place of a before-image */
        if (d->vkind != DV_VEC_DENSE || d->before) return DV_EINVAL;
        if ((s = check_floats(d->xor_base, d->n))) return s;
    }
    return DV_OK;
}

static dv_status check_delta(const dv_delta *d, int in_batch) {
    dv_status s;
    int has_hnsw = d->n_sections > 0 || d->has_entry;
    switch (d->h.operation) {
    case DV_OP_INSERT:
        if (d->vkind != DV_VEC_INSERT) return DV_EINVAL;
        if ((s = check_meta(d, 0))) return s;
        break;
    case DV_OP_UPDATE:
        if (d->vkind != DV_VEC_NONE && d->vkind != DV_VEC_DENSE && d->vkind != DV_VEC_SPARSE &&
            d->vkind != DV_VEC_DENSE_XOR)
            return DV_EINVAL;
        if (d->vkind == DV_VEC_NONE && (d->n_meta == 0 || d->before)) return DV_EINVAL;
        if ((s = check_meta(d, 1))) return s;
        break;
    case DV_OP_DELETE:
        if (d->vkind != DV_VEC_DELETE || d->n_meta) return DV_EINVAL;
        break;
    case DV_OP_REINDEX:
        if (d->vkind != DV_VEC_NONE || d->id || d->n_meta || (!has_hnsw && !d->n_purge)) return DV_EINVAL;
        if (d->n_purge && !d->purge) return DV_EINVAL;
        for (uint32_t i = 0; i < d->n_purge; i++)
            if (d->purge[i] == DV_NO_SLOT || (i && d->purge[i] <= d->purge[i - 1])) return DV_EINVAL;
        break;
    case DV_OP_BATCH:
        if (in_batch || d->vkind != DV_VEC_NONE || d->id || d->n_meta || has_hnsw) return DV_EINVAL;
        if (d->n_sub == 0 || !d->subs) return DV_EINVAL;
        for (uint32_t i = 0; i < d->n_sub; i++)
            if ((s = check_delta(&d->subs[i], 1))) return s;
        return DV_OK;
    default:
        return DV_EINVAL;
    }
    if (d->n_sub || (d->n_purge && d->h.operation != DV_OP_REINDEX)) return DV_EINVAL;
    if (d->h.operation != DV_OP_REINDEX && (s = check_target(d))) return s;
    if ((s = check_vector(d))) return s;
    return check_hnsw(d);
}

/* ---- bound ------------------------------------------------------------ */

static uint64_t meta_bound(const dv_delta *d) {
    uint64_t b = 5;
    for (uint32_t i = 0; i < d->n_meta; i++) {
        b += 1u + 2u + strlen(d->meta[i].key) + 2u;
        if (d->meta[i].value) b += strlen(d->meta[i].value);
    }
    return b;
}

static uint64_t body_bound(const dv_delta *d) {
    uint64_t b = 0;
    if (d->h.operation == DV_OP_BATCH) {
        for (uint32_t i = 0; i < d->n_sub; i++) b += DV_DELTA_HEADER_SIZE + body_bound(&d->subs[i]);
        return b;
    }
    if (d->id) b += 1u + 5u + 2u + d->id_len; /* kind byte, slot, id */
    switch (d->vkind) {
    case DV_VEC_INSERT:
        b += 5u + 5u + dv_fa_bound(d->n);
        break;
    case DV_VEC_DENSE:
    case DV_VEC_SPARSE:
    case DV_VEC_DENSE_XOR:
        b += 5u + 5u + 8u + 5ull * d->n + 2ull * dv_fa_bound(d->n); /* 8: a kind 3 base hash */
        break;
    case DV_VEC_DELETE:
        b += 5u + (d->before ? dv_fa_bound(d->n) : 0u);
        break;
    default:
        break;
    }
    if (d->n_meta) b += meta_bound(d);
    b += 5u + 1u + 10u;
    for (uint32_t i = 0; i < d->n_sections; i++)
        b += 15u + 10ull * d->sections[i].n_remove + 14ull * d->sections[i].n_add;
    if (d->n_purge) b += 5u + 5ull * d->n_purge;
    return b;
}

size_t dv_delta_encoded_bound(const dv_delta *d) {
    if (!d || check_delta(d, 0) != DV_OK) return 0;
    uint64_t b = body_bound(d);
    return b > DV_DELTA_MAX_PAYLOAD ? 0 : (size_t)b;
}

/* ---- body ------------------------------------------------------------- */

typedef struct enc {
    const dv_encode_opts *o;
    unsigned types; /* bit per element type written */
    int no_xor;     /* write DENSE updates plain even when they carry an xor_base */
    int wrote_xor;  /* the body holds a kind 3 update made from an xor_base */
} enc;

static void put_str(dv_wr *w, const char *s) {
    size_t n = strlen(s);
    dv_wr_varint(w, n);
    dv_wr_bytes(w, s, n);
}

static void put_floats(enc *e, dv_wr *w, const float *v, uint32_t n, const float *xor_base) {
    uint8_t c = dv_fa_write(w, v, n, e->o->values, e->o->shuffle, xor_base);
    e->types |= 1u << (c & DV_FA_TYPE_MASK);
}

static void put_target(dv_wr *w, const dv_delta *d) {
    dv_wr_varint(w, d->slot);
    dv_wr_varint(w, d->id_len);
    dv_wr_bytes(w, d->id, d->id_len);
}

static void put_meta(dv_wr *w, const dv_delta *d, int ops) {
    dv_wr_varint(w, d->n_meta);
    for (uint32_t i = 0; i < d->n_meta; i++) {
        if (ops) dv_wr_u8(w, d->meta[i].value ? 1 : 0);
        put_str(w, d->meta[i].key);
        if (d->meta[i].value) put_str(w, d->meta[i].value);
    }
}

static void put_hnsw(dv_wr *w, const dv_delta *d) {
    dv_wr_varint(w, d->n_sections);
    for (uint32_t i = 0; i < d->n_sections; i++) {
        const dv_hnsw_section *s = &d->sections[i];
        dv_wr_varint(w, s->layer);
        dv_wr_varint(w, s->n_remove);
        for (uint32_t k = 0; k < s->n_remove; k++) {
            dv_wr_varint(w, s->removes[k].from);
            dv_wr_varint(w, s->removes[k].to);
        }
        dv_wr_varint(w, s->n_add);
        for (uint32_t k = 0; k < s->n_add; k++) {
            dv_wr_varint(w, s->adds[k].from);
            dv_wr_varint(w, s->adds[k].to);
            dv_wr_u32le(w, dv_f32_bits(s->adds[k].dist));
        }
    }
    dv_wr_u8(w, d->has_entry ? 1 : 0);
    if (d->has_entry) {
        dv_wr_varint(w, d->entry);
        dv_wr_varint(w, d->max_level);
    }
}

/* Purged slots: the first as is, then each as (gap - 1), like sparse indices. */
static void put_purge(dv_wr *w, const dv_delta *d) {
    dv_wr_varint(w, d->n_purge);
    for (uint32_t i = 0; i < d->n_purge; i++)
        dv_wr_varint(w, i == 0 ? d->purge[0] : d->purge[i] - d->purge[i - 1] - 1u);
}

static void put_sparse_idx(dv_wr *w, const dv_delta *d) {
    for (uint32_t i = 0; i < d->n; i++) dv_wr_varint(w, i == 0 ? d->idx[0] : d->idx[i] - d->idx[i - 1] - 1u);
}

/* Kind 3 (FORMAT.md 3.2) is lossless only: XOR of f32 bit patterns. */
static int use_xor(const enc *e, const dv_delta *d) {
    return d->xor_base && !e->no_xor && e->o->values == DV_VALUES_F32;
}

/* UPDATE kind 3: target, dim, base hash, then the values XOR the current
 * ones as one f32 array with the XOR bit (shuffled as configured). */
static void put_dense_xor(enc *e, dv_wr *w, const dv_delta *d) {
    dv_wr_u8(w, 3);
    put_target(w, d);
    dv_wr_varint(w, d->dim);
    uint64_t h = d->vkind == DV_VEC_DENSE_XOR ? d->base_hash : dv_delta_xor_base_hash(d->xor_base, d->dim);
    uint8_t *q = dv_wr_reserve(w, 8);
    if (q) dv_st64(q, h);
    if (d->vkind == DV_VEC_DENSE_XOR) {
        dv_fa_write_xor_bits(w, d->xor_bits, d->n, e->o->shuffle);
    } else {
        dv_fa_write(w, d->values, d->n, DV_VALUES_F32, e->o->shuffle, d->xor_base);
        e->wrote_xor = 1;
    }
    e->types |= 1u << DV_FA_F32;
}

static void make_header(const dv_delta *d, uint64_t seq, uint8_t flags, size_t len, uint8_t hdr[64]);
static dv_status put_body(enc *e, dv_wr *w, const dv_delta *d, uint8_t *flags);

/* Batch body: each sub-delta as a sealed header + uncompressed payload. */
static dv_status put_batch(const dv_encode_opts *o, dv_wr *w, const dv_delta *d) {
    for (uint32_t i = 0; i < d->n_sub; i++) {
        uint8_t *hdr = dv_wr_reserve(w, DV_DELTA_HEADER_SIZE);
        size_t ppos = w->len;
        enc se = {o, 0, 0, 0};
        uint8_t sflags = 0;
        dv_status s = put_body(&se, w, &d->subs[i], &sflags);
        if (s) return s;
        if (!hdr || w->overflow) return DV_EFULL;
        dv_delta sub = d->subs[i];
        sub.h.payload_offset = (uint32_t)ppos;
        make_header(&sub, d->h.sequence, sflags, w->len - ppos, hdr);
        dv_delta_seal(hdr, w->p + ppos, w->len - ppos);
    }
    return DV_OK;
}

static dv_status put_body(enc *e, dv_wr *w, const dv_delta *d, uint8_t *flags) {
    uint8_t f = 0;
    switch (d->h.operation) {
    case DV_OP_BATCH:
        *flags = 0;
        return put_batch(e->o, w, d);
    case DV_OP_INSERT:
        put_target(w, d);
        dv_wr_varint(w, d->level);
        dv_wr_varint(w, d->dim);
        put_floats(e, w, d->values, d->n, NULL);
        if (d->n_meta) {
            f |= DV_FLAG_HAS_META;
            put_meta(w, d, 0);
        }
        break;
    case DV_OP_UPDATE:
        if (d->vkind == DV_VEC_DENSE_XOR || (d->vkind == DV_VEC_DENSE && use_xor(e, d))) {
            put_dense_xor(e, w, d);
        } else {
            dv_wr_u8(w, d->vkind == DV_VEC_DENSE ? 1 : d->vkind == DV_VEC_SPARSE ? 2 : 0);
            put_target(w, d);
        }
        if (d->vkind != DV_VEC_NONE && d->vkind != DV_VEC_DENSE_XOR && !e->wrote_xor) {
            dv_wr_varint(w, d->dim);
            if (d->vkind == DV_VEC_SPARSE) {
                f |= DV_FLAG_SPARSE;
                dv_wr_varint(w, d->n);
                put_sparse_idx(w, d);
            }
            put_floats(e, w, d->values, d->n, e->o->xor_before ? d->before : NULL);
            if (d->before) {
                f |= DV_FLAG_HAS_BEFORE;
                put_floats(e, w, d->before, d->n, NULL);
            }
        }
        if (d->n_meta) {
            f |= DV_FLAG_HAS_META;
            put_meta(w, d, 1);
        }
        break;
    case DV_OP_DELETE:
        put_target(w, d);
        if (d->before) {
            f |= DV_FLAG_HAS_BEFORE;
            dv_wr_varint(w, d->dim);
            put_floats(e, w, d->before, d->n, NULL);
        }
        break;
    case DV_OP_REINDEX:
        break;
    default:
        return DV_EINVAL;
    }
    if (d->n_sections || d->has_entry) {
        f |= DV_FLAG_HAS_HNSW;
        put_hnsw(w, d);
    }
    if (d->n_purge) {
        f |= DV_FLAG_PURGE;
        put_purge(w, d);
    }
    if (e->types & (1u << DV_FA_F16)) f |= DV_FLAG_LOSSY_F16;
    if (e->types & (1u << DV_FA_I8)) f |= DV_FLAG_LOSSY_I8;
    *flags = f;
    return DV_OK;
}

static void make_header(const dv_delta *d, uint64_t seq, uint8_t flags, size_t len, uint8_t hdr[64]) {
    dv_delta_header h;
    memset(&h, 0, sizeof h);
    h.sequence = seq;
    h.operation = d->h.operation;
    h.flags = flags;
    h.version = DV_DELTA_FORMAT_VERSION;
    h.vector_id_hash = d->id ? dv_delta_id_hash(d->id, d->id_len) : 0u;
    h.timestamp = d->h.timestamp;
    h.payload_offset = d->h.payload_offset;
    h.payload_size = (uint32_t)len;
    h.prev_sequence = d->h.prev_sequence;
    dv_delta_header_encode(&h, hdr);
}

/* Bodies below this are never compressed. LZ4 saved nothing measurable on
 * them (a sparse 5% update of 384 dims is ~115 bytes: gain 1.000 in
 * bench_encoding) while the attempt was a fifth of such a capture. */
#define DV_COMPRESS_MIN_BODY 128u

/* The LZ4 block is kept only when it saves at least 1/8 of the body (the
 * rule ZFS applies to its blocks). On float vectors LZ4 saves about 1%
 * (shuffled or not: bench_encoding, lz4_on_values) and a batch of dense
 * updates 6%, while every replica pays the decompression: a fifth of the
 * decode of such a batch (docs/BENCH.md). Bodies with real repetition
 * (zero runs, repeated metadata) save far more and stay compressed. */
#define DV_COMPRESS_MIN_GAIN_SHIFT 3u

/* Replaces payload[0..*len) by "varint raw_len, LZ4 block" when that saves
 * at least raw_len >> DV_COMPRESS_MIN_GAIN_SHIFT bytes. */
static int try_compress(dv_delta_arena *scratch, uint8_t *payload, size_t *len) {
    size_t raw = *len;
    if (!scratch || raw < DV_COMPRESS_MIN_BODY || raw > (size_t)LZ4_MAX_INPUT_SIZE) return 0;
    dv_delta_arena_reset(scratch);
    size_t vl = dv_varint_len(raw);
    int cap = LZ4_compressBound((int)raw);
    uint8_t *buf = dv_delta_arena_alloc(scratch, vl + (size_t)cap);
    if (!buf) return 0; /* compression is an optimisation: fall back to raw */
    dv_varint_put(buf, raw);
    int c = LZ4_compress_default((const char *)payload, (char *)buf + vl, (int)raw, cap);
    if (c <= 0 || vl + (size_t)c + (raw >> DV_COMPRESS_MIN_GAIN_SHIFT) > raw) return 0;
    memcpy(payload, buf, vl + (size_t)c);
    *len = vl + (size_t)c;
    return 1;
}

dv_status dv_delta_encode(const dv_delta *d, const dv_encode_opts *o, dv_delta_arena *scratch,
                          uint8_t hdr_out[DV_DELTA_HEADER_SIZE], uint8_t *payload_out, size_t payload_cap,
                          size_t *payload_len) {
    if (!d || !hdr_out || !payload_len || (payload_cap && !payload_out)) return DV_EINVAL;
    dv_encode_opts def;
    if (!o) {
        dv_encode_opts_default(&def);
        o = &def;
    }
    if (o->values != DV_VALUES_F32 && o->values != DV_VALUES_F16 && o->values != DV_VALUES_I8)
        return DV_EINVAL;
    dv_status s = check_delta(d, 0);
    if (s) return s;
    uint32_t max =
        o->max_payload && o->max_payload < DV_DELTA_MAX_PAYLOAD ? o->max_payload : DV_DELTA_MAX_PAYLOAD;
    dv_wr w;
    enc e = {o, 0, 0, 0};
    uint8_t flags = 0;
    size_t len;
    for (;;) {
        dv_wr_init(&w, payload_out, payload_cap);
        flags = 0;
        e.types = 0;
        e.wrote_xor = 0;
        if ((s = put_body(&e, &w, d, &flags))) return s;
        if (w.overflow) return body_bound(d) > max ? DV_ETOOBIG : DV_EFULL;
        if (w.len > max) return DV_ETOOBIG;
        len = w.len;
        if (o->compress && try_compress(scratch, payload_out, &len)) flags |= DV_FLAG_COMPRESSED;
        /* kind 3 is kept only when it is smaller than the plain body (8 bytes of hash shorter) */
        if (!e.wrote_xor || ((flags & DV_FLAG_COMPRESSED) && len < w.len - 8u)) break;
        e.no_xor = 1;
    }
    make_header(d, d->h.sequence, flags, len, hdr_out);
    dv_delta_seal(hdr_out, payload_out, len);
    *payload_len = len;
    return DV_OK;
}

/* ---- batch writer ------------------------------------------------------ */

void dv_delta_batch_init(dv_delta_batch *bw, dv_mem *mem) {
    memset(bw, 0, sizeof *bw);
    bw->mem = mem;
    dv_delta_arena_init(&bw->scratch, mem);
}

void dv_delta_batch_free(dv_delta_batch *bw) {
    dv_mem_free(bw->mem, bw->body, bw->cap);
    dv_delta_arena_free(&bw->scratch);
    bw->body = NULL;
    bw->cap = bw->len = 0;
    bw->n_sub = 0;
}

void dv_delta_batch_clear(dv_delta_batch *bw) {
    bw->len = 0;
    bw->n_sub = 0;
}

size_t dv_delta_batch_bound(const dv_delta_batch *bw) { return bw->len; }

dv_status dv_delta_batch_append(dv_delta_batch *bw, const dv_delta *sub, const dv_encode_opts *o) {
    if (!bw || !sub) return DV_EINVAL;
    if (sub->h.operation == DV_OP_BATCH) return DV_EINVAL;
    dv_status s = check_delta(sub, 1);
    if (s) return s;
    dv_encode_opts def;
    if (!o) {
        dv_encode_opts_default(&def);
        o = &def;
    }
    uint64_t need = (uint64_t)bw->len + DV_DELTA_HEADER_SIZE + body_bound(sub);
    if (need > DV_DELTA_MAX_PAYLOAD) return DV_ETOOBIG;
    if (need > bw->cap) {
        size_t cap = bw->cap ? bw->cap : 4096;
        while (cap < need) cap *= 2;
        uint8_t *p = dv_mem_realloc(bw->mem, bw->body, bw->cap, cap);
        if (!p) return DV_ENOMEM;
        bw->body = p;
        bw->cap = cap;
    }
    /* Encode as a one-element batch body appended at bw->len: payload
     * offsets are body-relative, so this is exactly its final place. */
    dv_delta one;
    memset(&one, 0, sizeof one);
    one.h.operation = DV_OP_BATCH;
    one.h.sequence = 0; /* patched at finish */
    one.n_sub = 1;
    one.subs = sub;
    dv_wr w;
    dv_wr_init(&w, bw->body, bw->cap);
    w.len = bw->len;
    if ((s = put_batch(o, &w, &one))) return s;
    bw->len = w.len;
    bw->n_sub++;
    return DV_OK;
}

dv_status dv_delta_batch_finish(dv_delta_batch *bw, const dv_delta_header *bh, const dv_encode_opts *o,
                                uint8_t hdr_out[DV_DELTA_HEADER_SIZE], uint8_t *payload_out,
                                size_t payload_cap, size_t *payload_len) {
    if (!bw || !bh || !hdr_out || !payload_len || (payload_cap && !payload_out)) return DV_EINVAL;
    if (bw->n_sub == 0) return DV_EINVAL;
    if (payload_cap < bw->len) return DV_EFULL;
    dv_encode_opts def;
    if (!o) {
        dv_encode_opts_default(&def);
        o = &def;
    }
    uint32_t max =
        o->max_payload && o->max_payload < DV_DELTA_MAX_PAYLOAD ? o->max_payload : DV_DELTA_MAX_PAYLOAD;
    if (bw->len > max) return DV_ETOOBIG;
    /* Stamp the batch sequence into every sub-header and reseal it. */
    size_t pos = 0;
    while (pos < bw->len) {
        uint8_t *h = bw->body + pos;
        uint32_t psz = dv_ld32(h + 28);
        dv_st64(h, bh->sequence);
        dv_delta_seal(h, h + DV_DELTA_HEADER_SIZE, psz);
        pos += DV_DELTA_HEADER_SIZE + (size_t)psz;
    }
    memcpy(payload_out, bw->body, bw->len);
    size_t len = bw->len;
    uint8_t flags = 0;
    if (o->compress && try_compress(&bw->scratch, payload_out, &len)) flags = DV_FLAG_COMPRESSED;
    dv_delta d;
    memset(&d, 0, sizeof d);
    d.h = *bh;
    d.h.operation = DV_OP_BATCH;
    make_header(&d, bh->sequence, flags, len, hdr_out);
    dv_delta_seal(hdr_out, payload_out, len);
    *payload_len = len;
    return DV_OK;
}
