/*
 * delta.h -- the decoded, in-memory form of a delta, and the internal
 * encode/decode API used by capture (producer) and apply (consumer).
 *
 * The wire form (64-byte header + payload) is specified byte by byte in
 * docs/FORMAT.md; the public header-level API is section 4 of deltavec.h.
 *
 * A decoded dv_delta is a *view*: every pointer in it points into a
 * dv_delta_arena (decode side) or into a dv_delta_builder (capture side).
 * Arrays are always properly aligned copies: the decoder never
 * reinterprets input bytes as float* or uint32_t*.
 *
 * Replay order (what dv_delta_to_events() yields, and what apply must do):
 *   INSERT / UPDATE (incl. metadata-only UPDATE):
 *     OP_BEGIN, vector event (VECTOR_INSERT | VECTOR_UPDATE), META_SET*,
 *     HNSW sections, ENTRY (if any), OP_END
 *   DELETE:
 *     OP_BEGIN, HNSW sections, ENTRY (if any), VECTOR_DELETE, OP_END
 *   REINDEX (graph only: a repair step):
 *     OP_BEGIN, HNSW sections, ENTRY (if any), VECTOR_PURGE*, OP_END
 *   BATCH: the events of every sub-delta, in order (each sub-delta keeps its
 *     own OP_BEGIN/OP_END); apply makes the whole batch atomic.
 * HNSW sections replay in order; within a section all removes (in order),
 * then all adds (in order). The builder opens a new section whenever an
 * event would break that pattern (layer change, or a remove after an add),
 * so the replay is exactly the primary's event order.
 *
 * Metadata-only changes are an UPDATE with vkind == DV_VEC_NONE and
 * DV_FLAG_HAS_META (no separate op: compaction merges UPDATE+UPDATE as
 * SQLite does, and a vector change plus metadata change is then one UPDATE).
 *
 * Batches: a batch has its own sequence like any delta; every sub-delta
 * carries the SAME sequence as its batch (so top-level sequences stay
 * gap-free and apply checks gaps on the batch alone). A sub-delta's
 * prev_sequence may therefore equal the batch's sequence when a batch
 * touches one vector twice. Sub-deltas are never compressed and never
 * batches themselves.
 */
#ifndef DV_DELTA_DELTA_H
#define DV_DELTA_DELTA_H

#include <stddef.h>
#include <stdint.h>
#include "deltavec.h"
#include "util/events.h"
#include "util/alloc.h"

/* ---- decoded form ---------------------------------------------------- */

typedef enum dv_vec_kind {
    DV_VEC_NONE = 0,     /* no vector part (metadata-only UPDATE, REINDEX, BATCH) */
    DV_VEC_INSERT = 1,   /* new node: id, slot, level, dim values, metadata pairs */
    DV_VEC_DENSE = 2,    /* update: all dim values (+ optional dim before-values) */
    DV_VEC_SPARSE = 3,   /* update: n (idx, value) pairs (+ optional n before-values) */
    DV_VEC_DELETE = 4,   /* delete: id, slot (+ optional dim before-values) */
    DV_VEC_DENSE_XOR = 5 /* update: dim values as bits XOR the replica's current values (xor_bits,
                            base_hash); apply resolves it into a DENSE update (FORMAT.md 3.2, kind 3) */
} dv_vec_kind;

typedef struct dv_edge_rm {
    uint32_t from, to;
} dv_edge_rm;

typedef struct dv_edge_add {
    uint32_t from, to;
    float dist; /* informational (never NaN) */
} dv_edge_add;

/* Replay: removes in order, then adds in order, all on `layer`. */
typedef struct dv_hnsw_section {
    uint32_t layer;
    uint32_t n_remove;
    const dv_edge_rm *removes;
    uint32_t n_add;
    const dv_edge_add *adds;
} dv_hnsw_section;

typedef struct dv_delta dv_delta;

struct dv_delta {
    dv_delta_header h; /* as decoded (checksum verified) or as to be encoded */

    /* vector part */
    dv_vec_kind vkind;
    uint32_t slot;       /* node slot on the primary */
    const char *id;      /* NUL-terminated valid UTF-8, no NUL inside; NULL if vkind NONE */
    uint32_t id_len;     /* bytes, excluding the NUL; 1..DV_MAX_ID_LEN */
    uint32_t level;      /* INSERT: node level */
    uint32_t dim;        /* INSERT/DENSE/SPARSE: vector dimension; DELETE: dim of before (0 if none) */
    uint32_t n;          /* number of entries in values/idx/before: dim, or the sparse count */
    const float *values; /* INSERT/DENSE/SPARSE: n new values (finite); else NULL */
    const uint32_t *idx; /* SPARSE: n strictly increasing indices < dim; else NULL */
    const float *before; /* optional before-image: n floats (DELETE: dim floats); else NULL */
    /* DENSE_XOR: dim stored bit patterns (new XOR current, not numbers) and the XXH3-64 of the
     * current values they were taken against (dv_delta_xor_base_hash) */
    const uint32_t *xor_bits;
    uint64_t base_hash;
    /* encode side, DENSE only: the current values; the encoder then writes kind 3 (values XOR
     * xor_base) when that is smaller than the plain form, or always inside a batch. NULL: plain */
    const float *xor_base;

    /* metadata: INSERT: n_meta pairs (value != NULL);
     * UPDATE: n_meta ordered operations, value NULL = remove the key */
    const dv_meta_kv *meta;
    uint32_t n_meta;

    /* HNSW part (DV_FLAG_HAS_HNSW) */
    uint32_t n_sections;
    const dv_hnsw_section *sections;
    int has_entry;  /* entry-point / max-level update present */
    uint32_t entry; /* DV_NO_SLOT when the db became empty */
    uint32_t max_level;

    /* REINDEX with DV_FLAG_PURGE: tombstones freed, strictly increasing slots */
    uint32_t n_purge;
    const uint32_t *purge;

    /* BATCH: n_sub sub-deltas, in apply order */
    uint32_t n_sub;
    const dv_delta *subs;
};

/* ---- arena: owns everything a decoded delta points to ----------------- */

typedef struct dv_delta_arena_block dv_delta_arena_block;

/* A chain of blocks: pointers handed out stay valid until reset/free (the
 * arena never moves memory it has handed out). Reset keeps the largest
 * block so steady-state decoding does not allocate. */
typedef struct dv_delta_arena {
    dv_mem *mem;
    dv_delta_arena_block *head;
    size_t bytes; /* total bytes held from mem */
} dv_delta_arena;

void dv_delta_arena_init(dv_delta_arena *a, dv_mem *mem);
void dv_delta_arena_reset(dv_delta_arena *a);
void dv_delta_arena_free(dv_delta_arena *a);
/* 16-byte aligned, uninitialised; NULL on overflow/ENOMEM. */
void *dv_delta_arena_alloc(dv_delta_arena *a, size_t size);

/* ---- decode ----------------------------------------------------------- */

typedef struct dv_decode_limits {
    uint32_t max_payload; /* bytes after decompression; 0 = DV_DELTA_MAX_PAYLOAD */
    uint32_t max_dim;     /* 0 = DV_MAX_DIM */
} dv_decode_limits;

/*
 * Decodes one delta. hdr: its 64 header bytes; payload/len: the stored
 * payload (len >= header.payload_size; bytes after payload_size are
 * ignored). Verifies version, op/flags, checksum, then the whole payload
 * structure. On success *out is a view into arena (the arena is NOT reset
 * here: reset it between deltas if you do not keep them). On failure *out is
 * unspecified and arena may hold garbage (reset it).
 * Errors: DV_EINVAL, DV_ETRUNCATED, DV_ECHECKSUM, DV_EVERSION, DV_EBADOP,
 * DV_ECORRUPT, DV_ETOOBIG, DV_ENONFINITE, DV_EID, DV_EMETA, DV_EDIM, DV_ENOMEM.
 */
dv_status dv_delta_decode(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload, size_t len,
                          const dv_decode_limits *lim, dv_delta_arena *arena, dv_delta *out);

/* Same, for a contiguous buffer holding header then payload (buf[64..]). */
dv_status dv_delta_decode_buf(const uint8_t *buf, size_t len, const dv_decode_limits *lim,
                              dv_delta_arena *arena, dv_delta *out);

/* The size of a stored payload's body before compression, without
 * decompressing: the leading varint of a compressed payload, len for an
 * uncompressed one (and for a header or varint that does not decode). For
 * statistics; dv_delta_decode is what checks it. */
size_t dv_delta_body_size(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload, size_t len);

/*
 * Yields the observer events of a decoded delta in replay order (see the
 * top of this file). Stops at, and returns, the first status != DV_OK that
 * fn returns. Event pointers are valid during the callback only.
 * OP_BEGIN/OP_END op kinds: INSERT -> DV_WRITE_INSERT, DENSE ->
 * DV_WRITE_UPDATE, SPARSE -> DV_WRITE_UPDATE_SPARSE, metadata-only ->
 * DV_WRITE_SET_META, DELETE -> DV_WRITE_DELETE, REINDEX -> DV_WRITE_REINDEX.
 * VECTOR_UPDATE events carry old_vec = NULL (dense) and n = dim for dense.
 */
dv_status dv_delta_to_events(const dv_delta *d, dv_event_fn fn, void *ctx);

/* The event of d's vector part alone, as dv_delta_to_events yields it:
 * 1 with *ev filled (VECTOR_INSERT, VECTOR_UPDATE or VECTOR_DELETE), 0 when
 * d has no vector part, -1 for DV_VEC_DENSE_XOR, which needs the replica's
 * values (apply resolves it into DENSE first). */
int dv_delta_vector_event(const dv_delta *d, dv_event *ev);

/* The same walk, except that each HNSW section is handed whole to sec_fn
 * (at the point where its EDGE_REMOVE then EDGE_ADD events would come)
 * instead of one event per edge: a replayer can then work through an edge
 * array, prefetching ahead (src/apply/apply.c). */
typedef dv_status (*dv_section_fn)(void *ctx, const dv_hnsw_section *sec);
dv_status dv_delta_to_events_sections(const dv_delta *d, dv_event_fn fn, dv_section_fn sec_fn, void *ctx);

/* ---- encode ----------------------------------------------------------- */

typedef enum dv_value_mode {
    DV_VALUES_F32 = 0, /* lossless */
    DV_VALUES_F16 = 1, /* IEEE half, round-to-nearest-even: rel. error <= 2^-11 in normal range */
    DV_VALUES_I8 = 2   /* per-array affine u8: |error| <= scale/2, scale = (max-min)/255 */
} dv_value_mode;

typedef struct dv_encode_opts {
    int compress;         /* try LZ4 on the payload; kept only if it saves 1/8 of it */
    int shuffle;          /* byte-shuffle float arrays (helps LZ4) */
    int xor_before;       /* f32 values stored XOR their before-image (needs before) */
    dv_value_mode values; /* lossy modes apply to values and before-images, never to distances */
    uint32_t max_payload; /* refuse (DV_ETOOBIG) larger bodies; 0 = DV_DELTA_MAX_PAYLOAD */
} dv_encode_opts;

/* The base_hash of a DENSE_XOR delta: XXH3-64 (seed 0) of the dim values as little-endian f32. */
uint64_t dv_delta_xor_base_hash(const float *v, uint32_t dim);

/* Default: lossless, compress + shuffle on, xor off. */
void dv_encode_opts_default(dv_encode_opts *o);

/*
 * Upper bound of the payload bytes dv_delta_encode() can write for d
 * (any opts). Use it to reserve ring space. 0 if d is invalid/too big.
 */
size_t dv_delta_encoded_bound(const dv_delta *d);

/*
 * Encodes d. Header fields taken from d->h: sequence, timestamp,
 * prev_sequence, payload_offset, operation. Computed here: version, flags
 * (from the content and opts: caller's flags are ignored), vector_id_hash
 * (from the id; 0 for BATCH/REINDEX), payload_size, checksum.
 * For BATCH, d->subs are encoded (uncompressed, sequence forced to the
 * batch's) into the batch body. scratch: temporary memory for compression;
 * each call resets it, so give it a dedicated arena (NULL: never compress).
 * Errors: DV_EINVAL (inconsistent d), DV_ENONFINITE, DV_EID, DV_EMETA,
 * DV_ETOOBIG, DV_EFULL (payload_cap too small), DV_ENOMEM.
 */
dv_status dv_delta_encode(const dv_delta *d, const dv_encode_opts *o, dv_delta_arena *scratch,
                          uint8_t hdr_out[DV_DELTA_HEADER_SIZE], uint8_t *payload_out, size_t payload_cap,
                          size_t *payload_len);

/* ---- builder: what capture fills from observer events ------------------ */

/*
 * Copies everything it is given (event pointers need not outlive the call).
 * Typical capture use: begin(op) at OP_BEGIN; set_* at the vector event;
 * meta() per META_SET; edge_*() per EDGE event; entry() per ENTRY (the last
 * one wins); at OP_END fill header fields (sequence, timestamp,
 * prev_sequence) in b->d.h and call dv_delta_encode(&b->d, ...).
 * Builder functions return DV_ENOMEM / DV_EINVAL only.
 */
typedef struct dv_delta_builder {
    dv_delta d;            /* the view being built; d.h is the caller's to fill */
    dv_delta_arena arena;  /* copies of vectors, ids, metadata */
    dv_hnsw_section *secs; /* growable */
    uint32_t secs_cap;
    dv_edge_rm *rm; /* all removes, sections index into it */
    uint32_t n_rm, rm_cap;
    dv_edge_add *add; /* all adds */
    uint32_t n_add, add_cap;
    dv_meta_kv *meta; /* growable */
    uint32_t meta_cap;
    uint32_t *purge; /* growable */
    uint32_t purge_cap;
    dv_mem *mem;
} dv_delta_builder;

void dv_delta_builder_init(dv_delta_builder *b, dv_mem *mem);
void dv_delta_builder_free(dv_delta_builder *b);
/* Starts a new delta of operation op (keeps capacity, clears content). */
void dv_delta_builder_begin(dv_delta_builder *b, dv_delta_op op);
dv_status dv_delta_builder_set_insert(dv_delta_builder *b, uint32_t slot, const char *id, uint32_t level,
                                      uint32_t dim, const float *vec);
dv_status dv_delta_builder_set_dense(dv_delta_builder *b, uint32_t slot, const char *id, uint32_t dim,
                                     const float *values, const float *before /* NULL: none */);
dv_status dv_delta_builder_set_sparse(dv_delta_builder *b, uint32_t slot, const char *id, uint32_t dim,
                                      const uint32_t *idx, const float *values,
                                      const float *before /* NULL: none */, uint32_t n);
/* A dense update set_dense() made may travel XOR these current values (copied; lossless only). */
dv_status dv_delta_builder_set_xor_base(dv_delta_builder *b, const float *current);
/* Metadata-only UPDATE: sets the id/slot without a vector part. */
dv_status dv_delta_builder_set_meta_target(dv_delta_builder *b, uint32_t slot, const char *id);
dv_status dv_delta_builder_set_delete(dv_delta_builder *b, uint32_t slot, const char *id, uint32_t dim,
                                      const float *before /* NULL: none */);
/* INSERT: a pair; UPDATE: an operation (value NULL = remove key). */
dv_status dv_delta_builder_meta(dv_delta_builder *b, const char *key, const char *value);
dv_status dv_delta_builder_edge_remove(dv_delta_builder *b, uint32_t layer, uint32_t from, uint32_t to);
dv_status dv_delta_builder_edge_add(dv_delta_builder *b, uint32_t layer, uint32_t from, uint32_t to,
                                    float dist);
void dv_delta_builder_entry(dv_delta_builder *b, uint32_t entry, uint32_t max_level);
/* REINDEX: one more tombstone freed (slots must come in increasing order). */
dv_status dv_delta_builder_purge(dv_delta_builder *b, uint32_t slot);

/* ---- batch writer: many sub-deltas into one BATCH delta ---------------- */

/*
 * Sub-deltas are encoded one by one (uncompressed) into a growing body;
 * finish() compresses/checksums the whole as one BATCH delta.
 */
typedef struct dv_delta_batch {
    dv_mem *mem;
    uint8_t *body;
    size_t len, cap;
    uint32_t n_sub;
    dv_delta_arena scratch;
} dv_delta_batch;

void dv_delta_batch_init(dv_delta_batch *bw, dv_mem *mem);
void dv_delta_batch_free(dv_delta_batch *bw);
void dv_delta_batch_clear(dv_delta_batch *bw);
/* Appends sub (its h.sequence is replaced by the batch sequence at finish). */
dv_status dv_delta_batch_append(dv_delta_batch *bw, const dv_delta *sub, const dv_encode_opts *o);
/* Payload bound of the batch as it stands (reserve ring space with it). */
size_t dv_delta_batch_bound(const dv_delta_batch *bw);
/* Encodes the BATCH delta: bh supplies sequence, timestamp, payload_offset. */
dv_status dv_delta_batch_finish(dv_delta_batch *bw, const dv_delta_header *bh, const dv_encode_opts *o,
                                uint8_t hdr_out[DV_DELTA_HEADER_SIZE], uint8_t *payload_out,
                                size_t payload_cap, size_t *payload_len);

#endif
