/*
 * deltavec.h -- the one public header of deltavec.
 *
 * deltavec is a vector database (store + HNSW index) whose every change is a
 * small, checksummed, replayable delta: a 64-byte header plus a compact
 * payload. A primary captures deltas into a lock-free ring; replicas apply
 * them and end up bit-for-bit equal to the primary (same dv_db_state_hash()).
 *
 * Conventions (read once, they hold everywhere):
 *  - Every handle is opaque. Every fallible call returns a dv_status;
 *    DV_OK is 0, errors are negative, dv_strerror() explains any of them.
 *  - A call that fails leaves every object it was given unchanged.
 *  - Pointers returned into a db (ids, metadata values) stay valid until the
 *    next write to that db.
 *  - A dv_db is single-writer. Concurrent readers are allowed only where a
 *    function says so.
 *
 * Sections: 1 status codes, 2 allocator, 3 database, 4 delta wire format,
 * 4b stream container, 4c snapshots, 5 ring, 6 capture, 7 process, 8 apply,
 * 9 database directory.
 */
#ifndef DELTAVEC_H
#define DELTAVEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DV_VERSION_MAJOR 0
#define DV_VERSION_MINOR 1
#define DV_VERSION_PATCH 0
#define DV_VERSION_NUMBER (DV_VERSION_MAJOR * 10000 + DV_VERSION_MINOR * 100 + DV_VERSION_PATCH)
#define DV_VERSION_STRING "0.1.0"

/** Library version as DV_VERSION_NUMBER; compare with the macro to detect a header/library mismatch. */
unsigned dv_version_number(void);
/** Library version as "major.minor.patch". */
const char *dv_version_string(void);

/* ======================================================================= */
/* 1. Status codes                                                         */
/* ======================================================================= */

typedef enum dv_status {
    DV_OK = 0,
    DV_EINVAL = -1,        /* an argument is NULL, zero or out of its documented range */
    DV_ENOMEM = -2,        /* the allocator refused */
    DV_EEXIST = -3,        /* insert of an id that is already live */
    DV_ENOTFOUND = -4,     /* the id (or slot) is not live */
    DV_EDIM = -5,          /* vector length or a dimension index does not match the db */
    DV_ENONFINITE = -6,    /* a value is NaN or +-Inf */
    DV_EID = -7,           /* id empty, longer than DV_MAX_ID_LEN, or not valid UTF-8 */
    DV_EMETA = -8,         /* metadata key/value empty, too long, not UTF-8, or too many pairs */
    DV_EFULL = -9,         /* ring (or bounded buffer) full: backpressure, nothing was written */
    DV_EEMPTY = -10,       /* nothing to read */
    DV_ETRUNCATED = -11,   /* input ends before the structure it announces */
    DV_ECHECKSUM = -12,    /* checksum does not match the bytes */
    DV_EVERSION = -13,     /* unknown format version */
    DV_EBADOP = -14,       /* unknown operation or flag combination */
    DV_ECORRUPT = -15,     /* a count, size or offset inside the input is inconsistent */
    DV_ETOOBIG = -16,      /* input larger than a configured or format bound */
    DV_EGAP = -17,         /* a sequence is missing before this delta */
    DV_ESTALE = -18,       /* sequence older than what the replica can honour */
    DV_EDUPLICATE = -19,   /* already applied; ignored without change */
    DV_ECONFLICT = -20,    /* conflict: insert of an id the replica already has */
    DV_EDATA = -21,        /* conflict: replica state differs from what the delta expected */
    DV_ECONSTRAINT = -22,  /* conflict: delta violates a constraint of the replica */
    DV_EINCOHERENT = -23,  /* applying would break an index invariant (degree, dangling edge, ...) */
    DV_ESTATE = -24,       /* call not valid in the object's current state */
    DV_EUNSUPPORTED = -25, /* feature not built in or not supported by this build */
    DV_EABORTED = -26,     /* a conflict handler answered ABORT */
    DV_ECONFIG = -27,      /* the stream's database config differs from the replica's */
    DV_ENOTSTREAM = -28,   /* the bytes do not start with the stream magic: not a deltavec stream */
    DV_ENOTSNAPSHOT = -29, /* the bytes do not start with the snapshot magic: not a deltavec snapshot */
    DV_EIO = -30,          /* a file call failed (dv_store_last_error says which, on what, errno) */
    DV_ENOSPC = -31,       /* no space left on the device */
    DV_ELOCKED = -32,      /* another writer holds the database directory */
    DV_EDAMAGED = -33,     /* the log is damaged before its end (valid records follow a bad one) */
    DV_EFENCED = -34,      /* another publisher owns this database's replication stream */
    DV_ENETWORK = -35      /* the message server is unreachable or refused a request (retry later) */
} dv_status;

/** A human-readable, static explanation of a status. Never NULL. */
const char *dv_strerror(int status);
/** The status's C name, e.g. "DV_EFULL" (for bindings). Never NULL. */
const char *dv_status_name(int status);

/* ======================================================================= */
/* 2. Allocator                                                            */
/* ======================================================================= */

/**
 * All memory the core uses comes from one function, in the style of Lua's
 * lua_Alloc: realloc(ctx, ptr, old_size, new_size) with new_size == 0 frees
 * ptr and returns NULL; ptr == NULL allocates. Returned memory must be
 * 16-byte aligned. Pass NULL wherever a dv_allocator is taken to use malloc.
 */
typedef struct dv_allocator {
    void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
    void *ctx;
} dv_allocator;

/* ======================================================================= */
/* 3. Database: vector store + HNSW index                                  */
/* ======================================================================= */

#define DV_MAX_DIM 4096
#define DV_MAX_ID_LEN 255       /* bytes of UTF-8, excluding the NUL */
#define DV_MAX_META_KEY_LEN 255 /* bytes */
#define DV_MAX_META_VALUE_LEN 4095
#define DV_MAX_META_PAIRS 64 /* per vector */
#define DV_MAX_M 64          /* HNSW M upper bound */

typedef struct dv_db dv_db;

typedef enum dv_metric {
    DV_METRIC_L2 = 0,    /* squared Euclidean distance */
    DV_METRIC_IP = 1,    /* 1 - dot(a, b) */
    DV_METRIC_COSINE = 2 /* 1 - cos(a, b); vectors are stored as given, norms cached */
} dv_metric;

typedef struct dv_db_config {
    uint32_t dim; /* 1..DV_MAX_DIM */
    dv_metric metric;
    uint32_t M;                    /* links per node on upper layers (2*M on layer 0); 2..DV_MAX_M */
    uint32_t ef_construction;      /* >= 1 */
    uint32_t ef_search;            /* default ef for dv_db_search; >= 1 */
    uint64_t seed;                 /* level assignment; same seed + same ops = same graph */
    float relink_ratio;            /* an update re-links the node when it moves farther than this fraction of
                                      the distance to its nearest neighbour; smaller moves keep its edges
                                      (a small, local delta). 0: always re-link. Default 0.5 */
    const dv_allocator *allocator; /* NULL: malloc */
    float repair_fraction;         /* a delete leaves a tombstone; when tombstones exceed this fraction of
                                      the graph's nodes, the delete also runs dv_db_repair. 0: only explicit
                                      repairs. 0..1, default 0.1 */
} dv_db_config;

/**
 * Defaults for dimension dim: L2, M=16, ef_construction=200, ef_search=50, seed=42, relink_ratio=0.5,
 * repair_fraction=0.1.
 */
void dv_db_config_default(dv_db_config *cfg, uint32_t dim);

/** A metadata pair. Both strings NUL-terminated UTF-8. */
typedef struct dv_meta_kv {
    const char *key;
    const char *value;
} dv_meta_kv;

/** One search result. id points into the db (valid until the next write). */
typedef struct dv_hit {
    const char *id;
    float distance;
    uint32_t slot;
} dv_hit;

/** Creates an empty db. Returns DV_EINVAL for a bad config. */
dv_status dv_db_open(const dv_db_config *cfg, dv_db **out);
/**
 * Frees the db and everything it owns. NULL is a no-op. A capture attached
 * to it (dv_capture_init) commits its open batch, stops and forgets the db:
 * its ring stays readable and dv_capture_free stays safe afterwards.
 */
void dv_db_close(dv_db *db);
/** Deep copy of src (same config and allocator, identical state and state hash; no observer). */
dv_status dv_db_clone(const dv_db *src, dv_db **out);

uint32_t dv_db_dim(const dv_db *db);
dv_metric dv_db_metric(const dv_db *db);
/** Number of live vectors. */
size_t dv_db_count(const dv_db *db);

/**
 * Inserts vector vec (dim floats) under id with optional metadata, and links
 * it into the HNSW index. Errors: DV_EID, DV_EEXIST, DV_ENONFINITE, DV_EMETA,
 * DV_ENOMEM. A deleted id may be inserted again.
 */
dv_status dv_db_insert(dv_db *db, const char *id, const float *vec, const dv_meta_kv *meta, size_t n_meta);
/** One vector of dv_db_insert_batch: the arguments of one dv_db_insert. */
typedef struct dv_insert_item {
    const char *id;
    const float *vec; /* dim floats */
    const dv_meta_kv *meta;
    size_t n_meta;
} dv_insert_item;
/**
 * Inserts items[0..n) in order, each exactly as dv_db_insert would (same
 * events, so a capture records n ordinary inserts, or groups them by its
 * batching config, and replicas converge as for single inserts).
 * Every item is checked first, and if any is bad nothing is inserted
 * (*n_done = 0) and the status says why: the first item failing the checks
 * of dv_db_insert (DV_EINVAL for a NULL vec, DV_EID, DV_ENONFINITE,
 * DV_EMETA, DV_EEXIST for an id in the db), else DV_EEXIST for an id given
 * twice in the batch. Room for all n is then
 * reserved (DV_ENOMEM: nothing inserted). After that, only a refusal by
 * the observer (a capture whose ring is full: DV_EFULL) or memory for an
 * item's own copies can stop the batch: items [0, *n_done) stay inserted,
 * the rest are not, and that status is returned. Not atomic, like
 * dv_store_write_batch. n_done may be NULL; items may be NULL when n is 0.
 */
dv_status dv_db_insert_batch(dv_db *db, const dv_insert_item *items, size_t n, size_t *n_done);
/** Replaces the whole vector of a live id and re-links it in the index. */
dv_status dv_db_update(dv_db *db, const char *id, const float *vec);
/** Sets vec[idx[i]] = values[i] for i < n (idx strictly increasing, < dim) and re-links. */
dv_status dv_db_update_sparse(dv_db *db, const char *id, const uint32_t *idx, const float *values, size_t n);
/**
 * Deletes a live id. The id, its metadata and its count go at once (the id
 * may be inserted again); the node stays in the graph as a tombstone that
 * searches route through but never return, until a repair (dv_db_repair,
 * run automatically past config.repair_fraction) takes it out of the graph
 * and frees its slot for reuse. A node nothing points to is freed at once.
 */
dv_status dv_db_delete(dv_db *db, const char *id);
/**
 * Takes every tombstone out of the graph: the lists that point to one are
 * repaired (refilled from the tombstones' own neighbours), then the
 * tombstones are freed. Runs as a series of bounded graph-only writes, each
 * captured as a REINDEX delta, so replicas replay exactly the same repair.
 * Errors: DV_ENOMEM, or an observer's refusal (e.g. DV_EFULL): the steps
 * done so far stand, and a later call continues.
 */
dv_status dv_db_repair(dv_db *db);
/** Number of tombstones waiting for a repair. */
size_t dv_db_tombstones(const dv_db *db);
/** Sets (value != NULL) or removes (value == NULL) one metadata pair of a live id. */
dv_status dv_db_set_meta(dv_db *db, const char *id, const char *key, const char *value);

/** Copies the vector of a live id into out (dim floats). */
dv_status dv_db_get(const dv_db *db, const char *id, float *out);
/** Looks up one metadata value; *value is NULL when the key is absent. */
dv_status dv_db_get_meta(const dv_db *db, const char *id, const char *key, const char **value);
/** Metadata pairs of a live id: *pairs points into the db, *n their count. */
dv_status dv_db_meta(const dv_db *db, const char *id, const dv_meta_kv **pairs, size_t *n);

/** Visitor for dv_db_iterate; return non-zero to stop early. */
typedef int (*dv_visit_fn)(void *ctx, const char *id, const float *vec, uint32_t slot);
/** Visits every live vector in slot order. */
dv_status dv_db_iterate(const dv_db *db, dv_visit_fn visit, void *ctx);

/**
 * k-nearest-neighbour search through the HNSW index. ef == 0 uses the db's
 * ef_search (ef is raised to k if smaller). Writes up to k hits sorted by
 * distance (ties by slot) and their number to *n_hits. Deleted vectors are
 * never returned; k may be up to dv_db_count().
 */
dv_status dv_db_search(const dv_db *db, const float *query, size_t k, size_t ef, dv_hit *hits,
                       size_t *n_hits);
/**
 * A metadata filter: a vector matches when its metadata holds every pair of
 * equal (key == value, compared bytewise; AND of all pairs). NULL or
 * n_equal == 0: no filter, every vector matches. The pairs follow the rules
 * of insert metadata: DV_EINVAL for equal == NULL with n_equal > 0;
 * DV_EMETA for a NULL, empty, too long or non-UTF-8 key or value, a key
 * given twice, or more than DV_MAX_META_PAIRS pairs.
 */
typedef struct dv_filter {
    const dv_meta_kv *equal;
    size_t n_equal;
} dv_filter;

/**
 * As dv_db_search, among the vectors matching filter only. The filter acts
 * inside the HNSW search: non-matching vectors are still traversed (they
 * lead to matching ones) but never admitted to the results, and the search
 * keeps expanding -- past ef, as far as needed -- until it holds ef matches
 * (ef as in dv_db_search, raised to k), so k hits are returned whenever k
 * vectors match. When few vectors match (estimated from a sample of the
 * slots, or when the traversal grows past a share of the db) it scans the
 * matching vectors exactly instead: one pass over the metadata, distances
 * only for matches. *n_hits < k means fewer than k live vectors match
 * (0 when none does). Errors: those of dv_db_search and of dv_filter.
 */
dv_status dv_db_search_filtered(const dv_db *db, const float *query, size_t k, size_t ef,
                                const dv_filter *filter, dv_hit *hits, size_t *n_hits);
/** Exact k-NN by brute force over live vectors (for recall measurement and small dbs). */
dv_status dv_db_search_exact(const dv_db *db, const float *query, size_t k, dv_hit *hits, size_t *n_hits);
/** Changes the default ef for searches. */
dv_status dv_db_set_ef_search(dv_db *db, uint32_t ef);
/**
 * Changes config.repair_fraction (0..1, 0: repair only on dv_db_repair). A
 * policy of the writer, not state: snapshots, logs and replicas do not keep
 * it (a loaded db starts with the default, 0.1).
 */
dv_status dv_db_set_repair_fraction(dv_db *db, float fraction);

/*
 * Reads during apply. dv_db_search/dv_db_get above are single-threaded like
 * every dv_db call. To read a replica while a dv_apply applies deltas to it
 * on another thread, each reader thread opens its own dv_searcher (it owns
 * the search scratch and copies of the hit ids). Every searcher call holds
 * the db's reader-writer lock (C11 atomics, no OS calls) for its duration;
 * dv_apply holds it for writing while it changes the db -- per delta, or per
 * epoch of deltas with parallel workers (section 8).
 * Guarantee: a searcher call observes the state after some whole applied
 * delta and before the next: never a torn vector, a half-applied delta, a
 * dangling edge, or memory being moved; a refused delta is never seen.
 * Two successive calls may observe different states. A searcher must not be
 * used concurrently with direct dv_db_* writes (only dv_apply takes the
 * lock), and the db must outlive its searchers.
 */
typedef struct dv_searcher dv_searcher;

typedef struct dv_searcher_config {
    const dv_allocator *allocator; /* NULL: malloc (must be thread-safe with several searchers) */
    void (*yield)(void *ctx);      /* called while the writer holds the lock; NULL: spin */
    void *yield_ctx;               /* e.g. dv_thread_yield (native builds) */
} dv_searcher_config;

/** All zero: malloc, spin while waiting. */
void dv_searcher_config_default(dv_searcher_config *cfg);
/** A reader of db for one thread at a time (cfg may be NULL). */
dv_status dv_searcher_open(const dv_db *db, const dv_searcher_config *cfg, dv_searcher **out);
/** As dv_db_search; hits[i].id points into the searcher (valid until its next call). */
dv_status dv_searcher_search(dv_searcher *s, const float *query, size_t k, size_t ef, dv_hit *hits,
                             size_t *n_hits);
/** As dv_db_search_filtered; hits[i].id points into the searcher (valid until its next call). */
dv_status dv_searcher_search_filtered(dv_searcher *s, const float *query, size_t k, size_t ef,
                                      const dv_filter *filter, dv_hit *hits, size_t *n_hits);
/** As dv_db_get: copies the vector of a live id (dim floats). */
dv_status dv_searcher_get(dv_searcher *s, const char *id, float *out);
/** Number of live vectors, read under the lock. */
dv_status dv_searcher_count(dv_searcher *s, size_t *count);
void dv_searcher_close(dv_searcher *s);
/** Native builds (src/platform): a yield hook calling sched_yield(), ctx unused. */
void dv_thread_yield(void *ctx);

/**
 * A 64-bit XXH3 hash of the whole logical and structural state: config,
 * ids, vectors, metadata, tombstones, free slots, graph (levels, neighbour
 * lists in order, entry point). Two dbs with equal hashes hold the same state.
 */
uint64_t dv_db_state_hash(const dv_db *db);

/** Bytes of memory the db currently holds from its allocator. */
size_t dv_db_memory_usage(const dv_db *db);
/**
 * Makes room for n vectors in all (slots, id map, search scratch) at once, so
 * that inserts up to that count grow nothing. Growing a large array later
 * copies it into a new block; where memory cannot be handed back (wasm linear
 * memory) the old block stays behind as a hole, so a caller that knows the
 * count (a bulk load) should reserve it first. Changes no state (same state
 * hash, nothing emitted to an observer); n at or below the current room does
 * nothing. DV_ENOMEM: the allocator refused (the db is unchanged).
 */
dv_status dv_db_reserve(dv_db *db, size_t n);

/** Name of the SIMD kernel set in use ("avx2", "sse", "simd128", "scalar"). */
const char *dv_simd_backend(void);

/* ======================================================================= */
/* 4. Delta wire format                                                    */
/* ======================================================================= */
/*
 * Every change is a delta: a 64-byte header followed by payload_size payload
 * bytes (the payload may live elsewhere: ring header slots and payload bytes
 * are separate). Byte-by-byte specification: docs/FORMAT.md. All integers
 * are little-endian on every host.
 *
 *   off size field
 *    0   8   sequence        global, gap-free per primary (batch: one for all)
 *    8   1   operation       dv_delta_op
 *    9   1   flags           DV_FLAG_*
 *   10   2   version         format version, 1
 *   12   4   vector_id_hash  low 32 bits of XXH3-64(id bytes); 0 if no id
 *   16   8   timestamp       producer clock, opaque to the format
 *   24   4   payload_offset  where the payload sits in its container; NOT
 *                            covered by the checksum (moving a delta to
 *                            another ring/file must not require rehashing)
 *   28   4   payload_size    stored payload bytes (after compression)
 *   32   8   checksum        XXH3-64 of header bytes 0..23, 28..31, 40..63,
 *                            then the stored payload bytes
 *   40   8   prev_sequence   previous delta touching this vector slot (0: none)
 *   48  16   padding         zero
 */
#define DV_DELTA_HEADER_SIZE 64
#define DV_DELTA_FORMAT_VERSION 1
#define DV_DELTA_MAX_PAYLOAD (64u * 1024u * 1024u) /* stored and decompressed bound */

typedef enum dv_delta_op {
    DV_OP_INSERT = 1, /* new vector (+ metadata, level, graph edges) */
    DV_OP_UPDATE = 2, /* dense or sparse vector change and/or metadata change */
    DV_OP_DELETE = 3, /* vector removal (+ graph repair) */
    DV_OP_BATCH = 4,  /* container of sub-deltas applied atomically */
    DV_OP_REINDEX = 5 /* graph-only change (edges, entry point, tombstones freed): a repair step */
} dv_delta_op;

#define DV_FLAG_COMPRESSED 0x01u /* payload is LZ4 (uncompressed size prefix) */
#define DV_FLAG_SPARSE 0x02u     /* UPDATE carries (index, value) pairs */
#define DV_FLAG_HAS_META 0x04u   /* metadata pairs / operations present */
#define DV_FLAG_HAS_HNSW 0x08u   /* graph part present (structural replication) */
#define DV_FLAG_HAS_BEFORE 0x10u /* before-image of the changed values present */
#define DV_FLAG_PURGE 0x10u      /* REINDEX only (the HAS_BEFORE bit): a list of tombstones to free follows */
#define DV_FLAG_LOSSY_F16 0x20u  /* float values stored as IEEE half */
#define DV_FLAG_LOSSY_I8 0x40u   /* float values stored as affine 8-bit */
#define DV_FLAG_ALL 0x7Fu        /* bit 7 is reserved: must be zero */

/** The decoded header (field meanings as in the table above). */
typedef struct dv_delta_header {
    uint64_t sequence;
    uint8_t operation;
    uint8_t flags;
    uint16_t version;
    uint32_t vector_id_hash;
    uint64_t timestamp;
    uint32_t payload_offset;
    uint32_t payload_size;
    uint64_t checksum;
    uint64_t prev_sequence;
    uint8_t padding[16];
} dv_delta_header;

/** Writes h into out exactly as the format says (h->checksum written as given). */
void dv_delta_header_encode(const dv_delta_header *h, uint8_t out[DV_DELTA_HEADER_SIZE]);
/**
 * Parses and validates 64 header bytes (not the checksum: that needs the
 * payload). Errors: DV_EINVAL (NULL), DV_EVERSION, DV_EBADOP (unknown op,
 * reserved flag bit, flag not allowed for the op), DV_ECORRUPT (padding not
 * zero), DV_ETOOBIG (payload_size > DV_DELTA_MAX_PAYLOAD).
 */
dv_status dv_delta_header_decode(const uint8_t in[DV_DELTA_HEADER_SIZE], dv_delta_header *h);
/** The checksum of an encoded header (checksum and payload_offset bytes ignored) and its payload. */
uint64_t dv_delta_checksum(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload,
                           size_t payload_len);
/** Recomputes and stores the checksum into hdr bytes 32..39. */
void dv_delta_seal(uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload, size_t payload_len);
/**
 * Header validation + checksum check. payload_len must be >= payload_size
 * (DV_ETRUNCATED otherwise); only payload_size bytes are hashed.
 * Errors: as dv_delta_header_decode, DV_ETRUNCATED, DV_ECHECKSUM.
 */
dv_status dv_delta_verify(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload,
                          size_t payload_len);
/** vector_id_hash of an id: low 32 bits of XXH3-64 over its bytes. */
uint32_t dv_delta_id_hash(const char *id, size_t len);
/** Name of an operation ("insert", ...), "?" when unknown. */
const char *dv_delta_op_name(int op);
/**
 * One line of text describing a delta (header fields, and a summary of the
 * payload when it decodes), for `deltavec dump` and debugging. Always
 * NUL-terminates when cap > 0; returns the decode status (the line still
 * describes the header when the payload is bad).
 */
dv_status dv_delta_describe(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload,
                            size_t payload_len, char *buf, size_t cap);

/* ======================================================================= */
/* 4b. Stream container                                                    */
/* ======================================================================= */

/*
 * A stream is the one byte form of a sequence of deltas, used by files,
 * the durable log (one stream per segment), network carriers and the
 * wasm/JS bindings: a stream header, then records back to back. A record
 * is one delta exactly as section 4 defines it: its 64-byte header, then
 * payload_size payload bytes; nothing in between. Byte-by-byte
 * specification: docs/FORMAT.md section 10.
 *
 * The stream header carries the config that makes two replicas differ
 * (dim, metric, M, ef_construction, level seed, relink_ratio), whether
 * records carry graph parts (structural) or not (logical), the first
 * sequence the stream holds, and the producer's library version, so a
 * replica can be created from it and a mismatched replica refuses it
 * before any change (DV_ECONFIG). ef_search is not part of it: each
 * replica chooses its own.
 *
 *   off size field
 *    0   8   magic           89 44 56 53 0D 0A 1A 0A  ("\x89DVS\r\n\x1a\n")
 *    8   2   version         container version, DV_STREAM_VERSION (1)
 *   10   2   header_size     bytes of the stream header, 80..DV_STREAM_MAX_HEADER;
 *                            readers skip bytes 80..header_size-1 (later fields)
 *   12   2   delta_version   format version of every record, DV_DELTA_FORMAT_VERSION
 *   14   1   mode            dv_stream_mode
 *   15   1   lossy           dv_lossy_mode of the values (0 lossless, 1 f16, 2 i8); informational
 *   16   8   checksum        XXH3-64 (seed 0) of the header_size header bytes, this field as zeros
 *   24   4   dim             1..DV_MAX_DIM
 *   28   4   metric          dv_metric
 *   32   4   M               2..DV_MAX_M
 *   36   4   ef_construction 1..2^24
 *   40   8   seed            level seed (dv_db_config.seed)
 *   48   4   relink_ratio    f32 bits, finite, 0..1e6
 *   52   4   producer        DV_VERSION_NUMBER of the library that wrote the header
 *   56   8   first_sequence  sequence of the first record (>= 1), also when there is none yet
 *   64  16   db_id           opaque id of the primary database; all zero if unknown
 *
 * Each record's payload_offset (outside its checksum) is set by the writer
 * to the byte offset of the record's payload in the stream (record offset
 * + 64), or 0 if that exceeds UINT32_MAX; readers ignore it.
 *
 * Header checks, first failing gives the status: magic -> DV_ENOTSTREAM;
 * version -> DV_EVERSION; header_size out of range -> DV_ECORRUPT; fewer
 * than header_size bytes -> DV_ETRUNCATED; checksum -> DV_ECHECKSUM;
 * delta_version -> DV_EVERSION; any field out of its range -> DV_ECORRUPT.
 */
#define DV_STREAM_MAGIC "\x89\x44\x56\x53\r\n\x1a\n" /* "\x89DVS\r\n\x1a\n": 8 bytes, no NUL */
#define DV_STREAM_MAGIC_SIZE 8
#define DV_STREAM_VERSION 1
#define DV_STREAM_HEADER_SIZE 80  /* what a version-1 writer writes */
#define DV_STREAM_MAX_HEADER 4096 /* largest header_size a reader accepts */
#define DV_STREAM_DB_ID_SIZE 16

typedef enum dv_stream_mode {
    DV_STREAM_STRUCTURAL = 0, /* records carry graph parts: replicas become identical (DV_APPLY_STRUCTURAL) */
    DV_STREAM_LOGICAL = 1     /* vector changes only: replicas keep their own index (DV_APPLY_LOGICAL) */
} dv_stream_mode;

/** The decoded stream header. */
typedef struct dv_stream_info {
    uint16_t version;       /* container version: DV_STREAM_VERSION */
    uint16_t header_size;   /* decoded: as read; encode always writes DV_STREAM_HEADER_SIZE */
    uint16_t delta_version; /* DV_DELTA_FORMAT_VERSION */
    uint8_t mode;           /* dv_stream_mode */
    uint8_t lossy;          /* dv_lossy_mode (section 6): 0 lossless, 1 f16, 2 i8 */
    uint32_t dim;
    uint32_t metric; /* dv_metric */
    uint32_t M;
    uint32_t ef_construction;
    uint64_t seed;
    float relink_ratio;
    uint32_t producer_version; /* DV_VERSION_NUMBER of the writer */
    uint64_t first_sequence;
    uint8_t db_id[DV_STREAM_DB_ID_SIZE];
} dv_stream_info;

/**
 * Fills *info from db's config: version fields, mode, first_sequence,
 * producer = DV_VERSION_NUMBER, lossy 0 and db_id zero (set them after if
 * known). DV_EINVAL for NULL, a mode other than dv_stream_mode, or
 * first_sequence 0.
 */
dv_status dv_stream_info_from_db(const dv_db *db, dv_stream_mode mode, uint64_t first_sequence,
                                 dv_stream_info *info);
/**
 * The config of a replica for this stream: dv_db_config_default(dim) with
 * the header's metric, M, ef_construction, seed and relink_ratio (the
 * replica keeps the default ef_search and a NULL allocator).
 * DV_EINVAL for NULL; DV_ECORRUPT if a field is out of range.
 */
dv_status dv_db_config_from_stream(const dv_stream_info *info, dv_db_config *cfg);
/** dv_db_open with dv_db_config_from_stream's config and the given allocator (NULL: malloc). */
dv_status dv_db_open_from_stream(const dv_stream_info *info, const dv_allocator *allocator, dv_db **out);
/**
 * DV_OK when db's config equals the stream's on every field that makes
 * replicas differ (dim, metric, M, ef_construction, seed, relink_ratio
 * bit for bit); else DV_ECONFIG and, when cap > 0, a NUL-terminated message
 * in msg naming the first differing field and both values, e.g.
 * "stream metric cosine != replica metric l2". DV_EINVAL for NULL.
 */
dv_status dv_stream_check_db(const dv_stream_info *info, const dv_db *db, char *msg, size_t cap);

/**
 * Writes the DV_STREAM_HEADER_SIZE header bytes of info into out (cap >=
 * DV_STREAM_HEADER_SIZE, else DV_EINVAL); info->version and header_size
 * are ignored (the current ones are written). DV_EINVAL if a field is out
 * of its range (nothing trustworthy can be written).
 */
dv_status dv_stream_header_encode(const dv_stream_info *info, uint8_t *out, size_t cap);
/**
 * Decodes and checks the stream header at the start of buf (len bytes; any
 * bytes after the header are ignored). *header_size (may be NULL) gets the
 * header's length: records start there. Errors as listed above;
 * DV_EEMPTY when len == 0.
 */
dv_status dv_stream_header_decode(const uint8_t *buf, size_t len, dv_stream_info *info, size_t *header_size);
/**
 * Size of the record starting with these 64 header bytes (64 +
 * payload_size), after dv_delta_header_decode's checks (its status on
 * failure). For framing records without a reader.
 */
dv_status dv_stream_record_size(const uint8_t hdr[DV_DELTA_HEADER_SIZE], uint64_t *size);

/*
 * Reader: incremental and allocation-bounded. The caller hands it input in
 * chunks of any size (one byte at a time works); each call to
 * dv_stream_reader_next consumes some of the chunk (*consumed) and answers:
 *   DV_EEMPTY      need more bytes: the whole chunk was consumed and no
 *                  record is complete. Call again with the next chunk (a
 *                  reader tailing a growing file just waits and continues).
 *   DV_OK          *rec is the next record, verified (header checks and
 *                  checksum, dv_delta_verify) and in sequence.
 *   DV_EGAP        *rec is a verified record whose sequence is beyond the
 *                  next expected one (records are missing before it);
 *   DV_EDUPLICATE  *rec is a verified record whose sequence is not above
 *                  the last one seen. For both the reader continues after
 *                  the record (sequences resume from the highest seen).
 *   DV_ECHECKSUM   the record at rec->offset fails its checksum: skipped
 *                  (its header bytes are in rec->header, nothing else is
 *                  trusted); the reader continues after it.
 *   other errors   the stream header or a record header is unreadable
 *                  (DV_ENOTSTREAM, DV_EVERSION, DV_ECHECKSUM of the stream
 *                  header, DV_ECORRUPT, DV_EBADOP, DV_ETOOBIG above
 *                  max_payload): the framing is lost, the reader stops and
 *                  returns the same status (consuming nothing) from then on;
 *                  dv_stream_reader_stopped() tells this apart from a
 *                  record's DV_ECHECKSUM.
 *   DV_ENOMEM      the reader could not grow its buffer: nothing is lost,
 *                  call again with the rest of the chunk.
 * On every answer but DV_EEMPTY, rec->offset is the stream byte offset of
 * the structure concerned (0 for the stream header, else the record's
 * first byte) and dv_stream_reader_message() says what happened.
 * Pointers in *rec point into the caller's chunk when the record lies
 * whole inside it (no copy), else into the reader's buffer; they are valid
 * until the next call on the reader or until the chunk changes.
 * The reader buffers at most one record (<= 64 + max_payload bytes) and the
 * stream header (<= DV_STREAM_MAX_HEADER), growing as bytes actually arrive,
 * so a hostile size cannot make it allocate more than it is given.
 */
typedef struct dv_stream_reader dv_stream_reader;

typedef struct dv_stream_reader_config {
    uint32_t max_payload;          /* larger payload_size: DV_ETOOBIG; 0 = DV_DELTA_MAX_PAYLOAD */
    const dv_allocator *allocator; /* NULL: malloc */
} dv_stream_reader_config;

typedef struct dv_stream_record {
    const uint8_t *header;  /* DV_DELTA_HEADER_SIZE bytes */
    const uint8_t *payload; /* payload_len bytes (non-NULL even when 0) */
    size_t payload_len;     /* = h.payload_size */
    uint64_t offset;        /* stream byte offset of the record (or of the problem, see above) */
    dv_delta_header h;      /* the decoded header */
} dv_stream_record;

/** All zero: DV_DELTA_MAX_PAYLOAD, malloc. */
void dv_stream_reader_config_default(dv_stream_reader_config *cfg);
/** A reader at the start of a stream (cfg may be NULL). */
dv_status dv_stream_reader_open(const dv_stream_reader_config *cfg, dv_stream_reader **out);
/** Consumes from in[0..len) (in may be NULL when len == 0); see above. */
dv_status dv_stream_reader_next(dv_stream_reader *r, const uint8_t *in, size_t len, size_t *consumed,
                                dv_stream_record *rec);
/**
 * The stream header: DV_OK once it has been read, DV_EEMPTY before, or its
 * error. Always available before the first record is returned, so a
 * caller can check or create the replica (dv_apply_begin_stream,
 * dv_db_open_from_stream) before applying anything.
 */
dv_status dv_stream_reader_info(const dv_stream_reader *r, dv_stream_info *info);
/**
 * End of input. DV_OK when the stream ended on a record boundary after a
 * complete header; DV_EEMPTY for an empty stream (no byte at all: "empty
 * stream"); DV_ETRUNCATED when the input ends inside the stream header or
 * inside a record (a torn tail: *offset, may be NULL, gets where that
 * structure starts; everything before it is intact); the reader's error
 * when it stopped on one. A reader tailing a growing input does not call it.
 */
dv_status dv_stream_reader_finish(dv_stream_reader *r, uint64_t *offset);
/** Non-zero once the reader has stopped on an unreadable header (the framing is lost). */
int dv_stream_reader_stopped(const dv_stream_reader *r);
/** Bytes consumed so far (the stream offset of the next byte the reader expects). */
uint64_t dv_stream_reader_offset(const dv_stream_reader *r);
/** Sequence of the last in-order record returned (first_sequence - 1 before any). */
uint64_t dv_stream_reader_last_sequence(const dv_stream_reader *r);
/** What the last answer was about, e.g. "record at 4242: sequence 12 after 10 (11 missing)". Never NULL. */
const char *dv_stream_reader_message(const dv_stream_reader *r);
void dv_stream_reader_free(dv_stream_reader *r);

/**
 * Checks a whole stream in memory with a reader, and also decodes every
 * record's payload (dv_delta_describe's decoder), calling problem (may be
 * NULL) for each problem in order: status, offset, message. Problems: the
 * reader's answers other than DV_OK and DV_EEMPTY, a payload that does not
 * decode (that record's decode status), and finish's answer when not
 * DV_OK. *summary (may be NULL) gets the header, record and problem counts.
 * Returns DV_OK when there is no problem, else the first problem's status
 * (DV_EEMPTY for an empty buffer).
 */
typedef void (*dv_stream_problem_fn)(void *ctx, dv_status status, uint64_t offset, const char *message);

typedef struct dv_stream_summary {
    dv_stream_info info;    /* valid when has_info */
    int has_info;           /* the stream header was read */
    uint64_t records;       /* records whose framing was read (problems included) */
    uint64_t problems;      /* calls to problem */
    uint64_t last_sequence; /* highest sequence among verified records (0: none) */
} dv_stream_summary;

dv_status dv_stream_verify(const uint8_t *buf, size_t len, dv_stream_problem_fn problem, void *ctx,
                           dv_stream_summary *summary);

/*
 * Writer: encodes the header, then appends records through a caller sink
 * (a file, a socket, a buffer: the core has no stdio). Each record must be
 * a complete, verified delta (dv_delta_verify, payload_len equal to its
 * payload_size) whose sequence is exactly the next one (first_sequence,
 * then +1): otherwise the append is refused (the verify status, DV_EGAP or
 * DV_EDUPLICATE) and nothing is written. The writer stamps payload_offset
 * (see above) in its copy of the header; the checksum does not change.
 * A sink error is returned as is and leaves the stream possibly torn: the
 * writer then refuses everything with DV_ESTATE.
 */
typedef struct dv_stream_writer dv_stream_writer;

/** Writes len bytes or returns an error status (e.g. DV_EFULL for a full buffer). */
typedef dv_status (*dv_stream_sink_fn)(void *ctx, const uint8_t *bytes, size_t len);

/** Creates a writer and writes the header of info (see dv_stream_header_encode) through sink. */
dv_status dv_stream_writer_open(const dv_stream_info *info, dv_stream_sink_fn sink, void *sink_ctx,
                                const dv_allocator *allocator, dv_stream_writer **out);
/**
 * A writer that continues an existing stream (e.g. a log segment reopened
 * after recovery) without writing anything now: the next record goes at
 * stream byte offset `offset` (>= DV_STREAM_HEADER_SIZE: the end of the
 * stream's last intact record) and must carry next_sequence (>= 1).
 */
dv_status dv_stream_writer_resume(uint64_t offset, uint64_t next_sequence, dv_stream_sink_fn sink,
                                  void *sink_ctx, const dv_allocator *allocator, dv_stream_writer **out);
/** Appends one record (64 header bytes + payload). See above. */
dv_status dv_stream_writer_append(dv_stream_writer *w, const uint8_t hdr[DV_DELTA_HEADER_SIZE],
                                  const uint8_t *payload, size_t payload_len);
/** Bytes written so far (header included). */
uint64_t dv_stream_writer_offset(const dv_stream_writer *w);
/** The sequence the next append must carry. */
uint64_t dv_stream_writer_next_sequence(const dv_stream_writer *w);
void dv_stream_writer_free(dv_stream_writer *w);

/**
 * Makes an applier ready for a stream (section 8), before any of its
 * records is applied. Refuses, changing nothing, with a message in
 * dv_apply_last_error():
 *  - DV_ECONFIG: the replica's config differs (dv_stream_check_db; in
 *    logical mode only dim must match, the replica keeps its own index),
 *    or a logical stream is given to a structural applier (it has no
 *    graph parts to replay; a structural stream may be applied logically);
 *  - DV_EGAP: the stream starts after position + 1 (deltas are missing).
 * A stream starting at or before position + 1 is accepted: its records
 * up to the position are duplicates, skipped as usual.
 */
typedef struct dv_apply dv_apply;
dv_status dv_apply_begin_stream(dv_apply *ap, const dv_stream_info *info);

/* ======================================================================= */
/* 4c. Snapshots                                                           */
/* ======================================================================= */

/*
 * A snapshot is the whole state of a db in one byte string: config, ids,
 * vectors, metadata, free slots (in stack order), graph (levels, neighbour
 * lists in order, entry point), the level PRNG state, and optionally the
 * per-slot sequence table (the last sequence that touched each slot, as
 * capture and apply keep it). Loading it gives a db with the same
 * dv_db_state_hash that behaves identically afterwards: the same writes
 * give the same slots, levels and graph, and the deltas captured after the
 * snapshot's sequence apply to it exactly as to the original.
 * Byte-by-byte specification: docs/STORAGE.md, "Snapshot file".
 *
 * The file is a header (magic, version, sizes, the meta below, the config
 * and graph globals, all checksummed) and sections, each with its own
 * XXH3-64 checksum; vectors and layer-0 lists are one section laid out as
 * the db holds them, so saving and loading are large copies. All integers
 * and floats are little-endian.
 *
 * The core does no I/O: dv_db_snapshot_write streams the bytes through a
 * sink (a file, a socket); writing a file atomically (temporary file,
 * fsync, rename, fsync of the directory) is the caller's part.
 *
 * Loading treats the bytes as hostile. Checks, first failing gives the
 * status: fewer than 8 bytes that are a prefix of the magic -> DV_ETRUNCATED;
 * another magic -> DV_ENOTSNAPSHOT (an empty buffer: DV_EEMPTY); version ->
 * DV_EVERSION; fewer bytes than the header -> DV_ETRUNCATED; header checksum
 * -> DV_ECHECKSUM; fewer bytes than the recorded total size ->
 * DV_ETRUNCATED; more -> DV_ECORRUPT (trailing bytes); a section checksum
 * -> DV_ECHECKSUM; anything inconsistent inside (a count, size, level,
 * neighbour, id, metadata pair, free slot, entry point, or the recomputed
 * state hash differing from the recorded one) -> DV_ECORRUPT. Every size is
 * checked against the input length before anything is allocated. On any
 * error nothing is returned and nothing is kept.
 */
#define DV_SNAPSHOT_MAGIC "\x89\x44\x56\x50\r\n\x1a\n" /* "\x89DVP\r\n\x1a\n": 8 bytes, no NUL */
#define DV_SNAPSHOT_MAGIC_SIZE 8
#define DV_SNAPSHOT_VERSION 1
#define DV_SNAPSHOT_HEADER_SIZE 160
#define DV_SEQ_UNKNOWN UINT64_MAX /* in a per-slot sequence table: history unknown (checks skipped) */

typedef struct dv_snapshot_meta {
    uint64_t sequence;                   /* last sequence the state includes (0: none) */
    uint8_t db_id[DV_STREAM_DB_ID_SIZE]; /* opaque database id, as in the stream header; zero if unknown */
    uint8_t mode;                        /* dv_stream_mode of the log this snapshot pairs with */
    /* Written by the library: ignored by write, filled by read/peek. */
    uint64_t state_hash;       /* dv_db_state_hash of the state */
    uint32_t producer_version; /* DV_VERSION_NUMBER of the writer */
    uint32_t count;            /* live vectors */
    uint32_t slots;            /* slots ever used (live + free) */
    uint64_t size;             /* total bytes of the snapshot */
    /* Per-slot sequence table (optional): entry i is the last sequence that
     * touched slot i (0: none, DV_SEQ_UNKNOWN: unknown). Write: NULL records
     * none; entries past n_slot_sequences are recorded as DV_SEQ_UNKNOWN,
     * entries at or past the db's slot count are ignored. Read: allocated with the read's
     * allocator (release with dv_snapshot_meta_release), one entry per slot,
     * or NULL when the snapshot has none. Peek: always NULL. */
    uint64_t *slot_sequences;
    size_t n_slot_sequences;
} dv_snapshot_meta;

/**
 * Streams a snapshot of db through sink (called with chunks of any size,
 * in order; a large db is never copied into one buffer). meta (may be
 * NULL: sequence 0, zero id, structural, no table) gives the caller's
 * fields. The db must not change during the call. A sink error is
 * returned as is (the bytes written so far are not a snapshot);
 * DV_EINVAL for NULL db or sink, or a mode other than dv_stream_mode.
 */
dv_status dv_db_snapshot_write(const dv_db *db, const dv_snapshot_meta *meta, dv_stream_sink_fn sink,
                               void *sink_ctx);
/** Exact byte size dv_db_snapshot_write would write with this meta (NULL: no table). */
dv_status dv_db_snapshot_size(const dv_db *db, const dv_snapshot_meta *meta, uint64_t *size);
/**
 * dv_db_snapshot_write into buf (cap bytes). *written (may be NULL) gets
 * the size. DV_ETOOBIG, writing nothing, when cap is smaller than
 * dv_db_snapshot_size.
 */
dv_status dv_db_snapshot_to_buffer(const dv_db *db, const dv_snapshot_meta *meta, uint8_t *buf, size_t cap,
                                   size_t *written);
/**
 * Loads a snapshot from buf[0..len) into a new db (*out; config from the
 * snapshot, the given allocator, NULL: malloc) after every check listed
 * above; *meta (may be NULL) gets the recorded meta and the per-slot table
 * (release it with dv_snapshot_meta_release). On error *out is NULL, no
 * memory is kept, and when cap > 0 msg gets a NUL-terminated message with
 * the byte offset concerned, e.g. "section 3 (nodes) at 4096: checksum
 * mismatch".
 */
dv_status dv_db_snapshot_read(const uint8_t *buf, size_t len, const dv_allocator *allocator, dv_db **out,
                              dv_snapshot_meta *meta, char *msg, size_t cap);
/**
 * Fills dst with the len bytes of a snapshot at offset; returns DV_OK only
 * when all len bytes were read (anything else, e.g. DV_EIO or DV_ETRUNCATED
 * when the source ended early, is returned by dv_db_snapshot_load as is).
 */
typedef dv_status (*dv_snapshot_source_fn)(void *ctx, uint8_t *dst, size_t len, uint64_t offset);
/**
 * dv_db_snapshot_read over a snapshot of size bytes that source reads on
 * demand (a file: see dv_snapshot_load_file), with the same checks, statuses
 * and messages. Reads the header, then each section in order: the small ones
 * whole into buffers of their own (verified as they arrive), the bulk (the
 * vectors and layer-0 lists) in large reads straight into the db's array, so
 * no copy of the whole snapshot is ever held. A read error is returned as
 * the source reported it, with "reading at <offset>" in msg.
 */
dv_status dv_db_snapshot_load(dv_snapshot_source_fn source, void *ctx, uint64_t size,
                              const dv_allocator *allocator, dv_db **out, dv_snapshot_meta *meta, char *msg,
                              size_t cap);
/**
 * Reads and checks only the header (magic, version, header checksum, and
 * that len covers the recorded size: DV_ETRUNCATED otherwise; bytes past it
 * are ignored here) and fills *meta without the table. Cheap: for choosing
 * the newest intact snapshot among files before loading one.
 */
dv_status dv_snapshot_peek(const uint8_t *buf, size_t len, dv_snapshot_meta *meta);
/** Frees meta->slot_sequences (allocated by dv_db_snapshot_read with allocator) and clears it. */
void dv_snapshot_meta_release(dv_snapshot_meta *meta, const dv_allocator *allocator);

/*
 * The per-slot sequence tables of capture and apply, to record in a
 * snapshot and to restore after loading one. Getters return a pointer into
 * the object (valid until its next call) and the number of entries in *n.
 * Restoring copies n entries; slots past n count as never touched (0).
 */
typedef struct dv_capture dv_capture;
/** The capture's table (0: never touched while captured). */
const uint64_t *dv_capture_slot_sequences(const dv_capture *cap, size_t *n);
/**
 * Before dv_capture_start and any captured write: continue prev_sequence
 * from a restored table (DV_SEQ_UNKNOWN entries continue as 0). DV_ESTATE
 * once started or after a delta.
 */
dv_status dv_capture_restore_slot_sequences(dv_capture *cap, const uint64_t *seqs, size_t n);
/** The applier's table (DV_SEQ_UNKNOWN: history unknown, e.g. after dv_apply_seek_checkpoint). */
const uint64_t *dv_apply_slot_sequences(const dv_apply *ap, size_t *n);
/**
 * Before the applier applies anything after its start position: check
 * prev_sequence against a restored table (instead of skipping the check for
 * slots whose history is unknown). DV_ESTATE once a delta was applied.
 */
dv_status dv_apply_restore_slot_sequences(dv_apply *ap, const uint64_t *seqs, size_t n);

/* ======================================================================= */
/* 5. Ring                                                                 */
/* ======================================================================= */

/*
 * A ring of entries (a 64-byte header the ring never reads + 0..N payload
 * bytes) over a caller-provided memory region, laid out in 64 KiB pages:
 * control page, header slots, slot descriptors, payload byte ring. The
 * region holds all shared state (C11 atomics), so two handles attached to
 * the same memory -- two threads, two processes sharing a mapping, or two
 * wasm instances on one shared memory -- see one ring. docs/RING.md gives
 * the layout byte by byte and the memory-ordering argument.
 *
 * Roles: SPSC = exactly one producer and one consumer thread at a time;
 * MPSC = any number of producers, one consumer. The ring never allocates
 * and never blocks: a full ring answers DV_EFULL and changes nothing.
 * A dv_ring handle is immutable after init/attach, so threads may share one.
 */
typedef enum dv_ring_mode {
    DV_RING_SPSC = 1, /* one producer: no CAS; commit returns unused reserved bytes */
    DV_RING_MPSC = 2  /* several producers: CAS on a reservation cursor + per-slot commit sequence */
} dv_ring_mode;

#define DV_RING_PAGE 65536u       /* layout granule: every area starts on a 64 KiB boundary */
#define DV_RING_HEADER_SIZE 64u   /* bytes per header slot, all owned by the caller */
#define DV_RING_PAYLOAD_ALIGN 16u /* payload pointers and reservations are 16-byte aligned */
#define DV_RING_MIN_SLOTS 2u      /* slot_count range (power of two) */
#define DV_RING_MAX_SLOTS (1u << 24)
#define DV_RING_MIN_PAYLOAD 256u /* payload_size range (power of two) */
#define DV_RING_MAX_PAYLOAD (1u << 30)

typedef struct dv_ring_config {
    dv_ring_mode mode;
    uint32_t slot_count;   /* header slots, power of two; default 4096 (4 pages of headers) */
    uint32_t payload_size; /* payload bytes, power of two; default 1 MiB. Largest entry: payload_size/2 */
} dv_ring_config;

/**
 * A handle onto a ring region: filled by dv_ring_init/dv_ring_attach from the
 * validated control block. Treat the fields as private. It holds no state that
 * changes, so one handle may be shared by the producer(s) and the consumer.
 */
typedef struct dv_ring {
    unsigned char *base_; /* region start: the control block */
    unsigned char *hdr_;  /* header slots */
    unsigned char *desc_; /* slot descriptors */
    unsigned char *pay_;  /* payload bytes */
    uint32_t slot_mask_;  /* slot_count - 1 */
    uint32_t pay_mask_;   /* payload_size - 1 */
    uint32_t mode_;
    uint32_t unused_;
} dv_ring;

/** A producer's claim on one header slot and `capacity` payload bytes (from dv_ring_reserve). */
typedef struct dv_ring_reservation {
    void *header;      /* DV_RING_HEADER_SIZE writable bytes */
    void *payload;     /* capacity writable bytes, 16-byte aligned, contiguous */
    uint32_t capacity; /* = payload_max asked for */
    uint32_t slot_;    /* private */
    uint32_t start_;   /* private */
    uint32_t span_;    /* private */
} dv_ring_reservation;

/** One committed entry seen by the consumer. Pointers stay valid until it is released. */
typedef struct dv_ring_entry {
    const void *header;  /* DV_RING_HEADER_SIZE bytes, exactly as the producer wrote them */
    const void *payload; /* len bytes, 16-byte aligned, contiguous (non-NULL even when len == 0) */
    uint32_t len;        /* the size given to dv_ring_commit */
    uint32_t slot_;      /* private: ring position of the entry */
} dv_ring_entry;

typedef struct dv_ring_stats {
    dv_ring_mode mode;
    uint32_t slot_count;
    uint32_t payload_size;
    uint64_t entries;        /* entries reserved or committed and not yet released */
    uint64_t bytes_used;     /* payload bytes held (with 16-byte padding and wrap skips) */
    uint64_t bytes_free;     /* payload_size - bytes_used */
    uint64_t high_water;     /* most bytes_used observed (see docs/RING.md for when it is sampled) */
    uint64_t full_events;    /* number of DV_EFULL answers */
    uint64_t polled_entries; /* total entries handed to the consumer since init */
    uint64_t polled_bytes;   /* total payload bytes (len) of those entries */
} dv_ring_stats;

/** Defaults: mode, 4096 slots, 1 MiB of payload. cfg may not be NULL. */
void dv_ring_config_default(dv_ring_config *cfg, dv_ring_mode mode);
/** Bytes the region needs for cfg (a multiple of DV_RING_PAGE), or 0 if cfg is invalid. */
size_t dv_ring_required_size(const dv_ring_config *cfg);
/**
 * Formats mem (size bytes, 64-byte aligned, >= dv_ring_required_size) as an
 * empty ring and fills *ring. Only the first dv_ring_required_size bytes are
 * used. Errors: DV_EINVAL (bad config, size or alignment), DV_EUNSUPPORTED
 * (no lock-free 64-bit atomics). Must not race with any other use of mem.
 */
dv_status dv_ring_init(void *mem, size_t size, const dv_ring_config *cfg, dv_ring *ring);
/**
 * Validates a region formatted by dv_ring_init (possibly by another process
 * or instance) and fills *ring. The region is untrusted: DV_ECORRUPT for a
 * bad magic, checksum, geometry or inconsistent positions; DV_EVERSION for
 * another layout version; DV_EINVAL for a NULL/misaligned/too-small region.
 */
dv_status dv_ring_attach(void *mem, size_t size, dv_ring *ring);

/**
 * Producer: claims the next header slot and payload_max contiguous payload
 * bytes. DV_EFULL when the consumer has not released enough (nothing changes
 * except stats.full_events; retry later); DV_ETOOBIG when payload_max >
 * payload_size / 2 (it could never fit). SPSC: at most one reservation open at
 * a time. MPSC: each reservation must be committed or aborted, since the
 * consumer reads in slot order and waits for an open slot.
 */
dv_status dv_ring_reserve(const dv_ring *ring, size_t payload_max, dv_ring_reservation *res);
/**
 * Producer: publishes the reserved entry with len <= capacity payload bytes
 * (DV_EINVAL otherwise). SPSC gives the unused bytes back to the ring; MPSC
 * keeps the reserved span until release. DV_ESTATE: SPSC reservation that is
 * not the open one.
 */
dv_status dv_ring_commit(const dv_ring *ring, dv_ring_reservation *res, size_t len);
/** Producer: gives a reservation up. SPSC: nothing is published; MPSC: the consumer skips the slot. */
dv_status dv_ring_abort(const dv_ring *ring, dv_ring_reservation *res);
/** Producer: reserve + copy header (64 bytes) and payload (len bytes; NULL allowed when len == 0) + commit.
 */
dv_status dv_ring_push(const dv_ring *ring, const void *header, const void *payload, size_t len);

/** Consumer: the next unread committed entry, without marking it read. DV_EEMPTY if none. */
dv_status dv_ring_peek(const dv_ring *ring, dv_ring_entry *entry);
/**
 * Consumer: reads up to max committed entries in order into out[] and marks
 * them read; *n gets their number. DV_EEMPTY (and *n = 0) if none.
 * DV_ECORRUPT if shared state is inconsistent (nothing is read then).
 */
dv_status dv_ring_poll(const dv_ring *ring, dv_ring_entry *out, size_t max, size_t *n);
/**
 * Consumer: frees entry and every entry before it for producers to reuse.
 * Releasing an entry already released is a no-op; one not yet read
 * (polled) is DV_EINVAL. Pointers into released entries become invalid.
 */
dv_status dv_ring_release(const dv_ring *ring, const dv_ring_entry *entry);
/** Consumer: releases every entry read so far. */
dv_status dv_ring_release_read(const dv_ring *ring);

/** A snapshot of the counters (each read atomically, not all at one instant). Any thread. */
dv_status dv_ring_stats_get(const dv_ring *ring, dv_ring_stats *stats);

/* ======================================================================= */
/* 6. Capture                                                              */
/* ======================================================================= */

/*
 * Capture turns every write to a dv_db into deltas in a ring. One logical
 * write (insert, update, delete, metadata change) with all the HNSW
 * mutations it caused becomes ONE delta -- or, with batching, one sub-delta
 * of an atomic BATCH delta. Sequences start at config.first_sequence and
 * have no gaps; prev_sequence names the previous delta that touched the
 * same vector slot (0: none).
 *
 * The db and the stream never disagree: a write the ring cannot take is
 * refused with DV_EFULL before the db changes (or waits, see full_policy);
 * a write whose delta cannot be built (DV_ENOMEM while encoding it) is
 * undone by the db and returns that status, and capture goes on.
 *
 * A consumer either uses dv_capture_poll/payload/release, or reads the ring
 * directly (dv_capture_ring) -- not both.
 */
typedef struct dv_capture dv_capture;

#define DV_CAPTURE_VECTORS 0x1u  /* vector inserts, updates, deletes (always on) */
#define DV_CAPTURE_METADATA 0x2u /* metadata pairs and changes */
#define DV_CAPTURE_HNSW 0x4u     /* graph mutations: structural replication */
#define DV_CAPTURE_ALL 0x7u

typedef enum dv_lossy_mode {
    DV_LOSSLESS = 0,  /* f32 values: replicas converge bit for bit */
    DV_LOSSY_F16 = 1, /* IEEE half: relative error <= 2^-11 (normal range) */
    DV_LOSSY_I8 = 2   /* affine 8-bit per array: |error| <= (max-min)/510 */
} dv_lossy_mode;

typedef enum dv_full_policy {
    DV_FULL_REFUSE = 0, /* the write returns DV_EFULL, db unchanged (default) */
    DV_FULL_WAIT = 1    /* call config.wait until the consumer frees room */
} dv_full_policy;

/**
 * A synchronous consumer of captured deltas (e.g. the durable log of
 * section 9): called once per delta (a BATCH once) with its complete,
 * sealed bytes, inside the write that produced it. DV_OK: the delta is
 * taken (it is not put in the ring, which therefore never fills and is
 * not polled). Any other status refuses it: for a single write nothing is
 * published, the sequence is not consumed, and the db undoes the write and
 * returns that status. With batching, a refused flush keeps the batch open
 * (the write that joined it still succeeds; the next write or
 * dv_capture_flush retries).
 */
typedef dv_status (*dv_capture_sink_fn)(void *ctx, const uint8_t *header, const uint8_t *payload, size_t len);

typedef struct dv_capture_config {
    dv_ring_config ring; /* geometry of the capture ring (mode is forced to SPSC) */
    void *ring_memory;   /* optional caller region (e.g. shared memory), 64-byte aligned; NULL: allocated */
    size_t ring_memory_size;
    uint32_t parts;            /* DV_CAPTURE_* bits; default DV_CAPTURE_ALL */
    uint64_t first_sequence;   /* default 1 */
    float sparse_max_fraction; /* an update changing <= this fraction of dims is sparse; default 0.5 */
    float diff_epsilon;        /* |new-old| <= eps is "unchanged"; default 0 (exact). > 0 is lossy. */
    int before_images;         /* carry before-images of changed values (DATA-conflict checks: apply compares
                                  them bit for bit, except under DV_LOSSY_I8 where it cannot); default 0 */
    int compress;              /* LZ4 when it saves 1/8 of a payload; default 1 */
    int shuffle;               /* byte-shuffle floats before LZ4; default 1 */
    dv_lossy_mode lossy;       /* default DV_LOSSLESS */
    uint32_t batch_max_deltas; /* group up to this many writes in one BATCH delta; 0 or 1: no batching */
    uint32_t batch_max_bytes;  /* ... or until the batch payload reaches this many bytes; 0: no byte limit */
    dv_full_policy full_policy;
    void (*wait)(void *ctx);       /* DV_FULL_WAIT: called while the ring is full (e.g. sched_yield) */
    uint64_t (*clock)(void *ctx);  /* timestamp source; NULL: timestamps are 0 */
    void *ctx;                     /* passed to wait and clock */
    const dv_allocator *allocator; /* NULL: malloc */
    dv_capture_sink_fn sink;       /* NULL: deltas go to the ring. Else see dv_capture_sink_fn */
    void *sink_ctx;                /* passed to sink */
    int dense_xor; /* lossless dense updates travel as their bits XOR the replica's current values (an
                      UPDATE of kind 3, docs/FORMAT.md 3.2) when that is smaller after LZ4; inside batches
                      always. Needs before_images = 0, DV_LOSSLESS and diff_epsilon = 0 (else ignored).
                      Readers built before kind 3 existed refuse it (DV_ECORRUPT): default 0 */
} dv_capture_config;

/** A point in the stream: everything up to `sequence` is in the ring, and the db's hash then was state_hash.
 */
typedef struct dv_checkpoint {
    uint64_t sequence;   /* last captured sequence (first_sequence - 1 if none) */
    uint64_t state_hash; /* dv_db_state_hash() at that point */
} dv_checkpoint;

typedef struct dv_capture_stats {
    uint64_t deltas;            /* deltas committed to the ring (a batch counts once) */
    uint64_t writes;            /* db writes captured (batched ones included) */
    uint64_t skipped_unchanged; /* updates that changed nothing and emitted nothing */
    uint64_t sparse_updates, dense_updates;
    uint64_t payload_bytes; /* stored payload bytes committed */
    uint64_t raw_bytes;     /* the same payloads before compression */
    uint64_t refused_full;  /* writes refused with DV_EFULL */
} dv_capture_stats;

/** Defaults as documented field by field above. */
void dv_capture_config_default(dv_capture_config *cfg);
/**
 * Creates a capture for db (not yet started). A db has at most one capture,
 * from dv_capture_init to dv_capture_free (or dv_db_close): DV_ESTATE if
 * it has one, started or not.
 */
dv_status dv_capture_init(dv_db *db, const dv_capture_config *cfg, dv_capture **out);
/** Starts capturing: every later write to the db becomes a delta. DV_ESTATE if started or db closed. */
dv_status dv_capture_start(dv_capture *cap);
/** Flushes any open batch and stops capturing (later writes are NOT captured). DV_EFULL if the flush cannot.
 */
dv_status dv_capture_stop(dv_capture *cap);
/** Commits an open batch now. DV_OK when there is none. */
dv_status dv_capture_flush(dv_capture *cap);
/**
 * Reads up to max new deltas: their decoded headers go to out[] (in
 * sequence order), *n their number. DV_EEMPTY when none. Their bytes stay
 * available through dv_capture_payload until released.
 */
dv_status dv_capture_poll(dv_capture *cap, dv_delta_header *out, size_t max, size_t *n);
/**
 * The stored bytes of a polled, unreleased delta: *header (64 bytes) and
 * *payload (*len bytes) point into the ring. DV_ENOTFOUND otherwise.
 */
dv_status dv_capture_payload(dv_capture *cap, uint64_t sequence, const uint8_t **header,
                             const uint8_t **payload, size_t *len);
/** Flushes an open batch, then reports the last sequence and the db's state hash. DV_ESTATE once the db is
 * closed. */
dv_status dv_capture_checkpoint(dv_capture *cap, dv_checkpoint *out);
/** The consumer is done with every delta up to and including sequence: the ring may reuse them. */
dv_status dv_capture_release(dv_capture *cap, uint64_t sequence);
/** The capture ring, for a consumer stage that reads it directly. */
const dv_ring *dv_capture_ring(const dv_capture *cap);
/** Last sequence committed to the ring. */
uint64_t dv_capture_last_sequence(const dv_capture *cap);
dv_status dv_capture_stats_get(const dv_capture *cap, dv_capture_stats *out);
/**
 * Stops (without flushing an open batch: call stop first to keep it), detaches from the db, frees. Safe
 * before or after dv_db_close of its db.
 */
void dv_capture_free(dv_capture *cap);

/* ======================================================================= */
/* 7. Process: filter, transform, route                                    */
/* ======================================================================= */

/*
 * A process stage reads deltas from one ring and writes them to one or more
 * output rings, filtering, transforming and routing on the way. Rules
 * that keep its outputs usable by dv_apply:
 *  - Each output is a stream of its own: sequences are renumbered gap-free
 *    per output (from 1) and prev_sequence is rewritten to that numbering,
 *    whenever the stage drops or re-routes anything. A plain broadcast with
 *    no filter and no transform forwards the bytes untouched.
 *  - A content filter (ops, id prefix, metadata, callback) or partitioned
 *    routing makes a partial replica: a partial graph cannot be replicated
 *    structurally, so the HNSW part is dropped (the outputs are logical
 *    streams; their replicas keep their own index, see DV_APPLY_LOGICAL).
 *  - The metadata predicate is decided when a vector is inserted; later
 *    deltas of that vector follow the decision (per primary slot).
 *  - Backpressure propagates: when an output is full, run() stops and the
 *    input entry stays unreleased; the next run() resumes where it stopped,
 *    never writing an entry twice to an output.
 *  - A rewriting stage decodes every delta: one that fails to decode stops
 *    the stage with its status (it is not silently dropped, which would make
 *    the replicas diverge); dv_process_skip() drops it on purpose.
 * Rewritten deltas get a new checksum.
 */
typedef struct dv_process dv_process;

/** A filter callback: return non-zero to keep the delta. The delta's id is NULL for graph-only deltas. */
typedef int (*dv_filter_fn)(void *ctx, const dv_delta_header *h, const char *id);

typedef enum dv_route_mode {
    DV_ROUTE_BROADCAST = 0, /* every kept delta to every output */
    DV_ROUTE_BY_ID_HASH = 1 /* each delta to output[vector_id_hash % n_outputs] */
} dv_route_mode;

typedef struct dv_process_config {
    /* filter */
    uint32_t keep_ops;     /* bit (1u << DV_OP_x) per operation to keep; 0 = all */
    const char *id_prefix; /* keep only vectors whose id starts with this; NULL = all */
    const char *meta_key;  /* keep only vectors inserted with meta_key == meta_value; NULL = all */
    const char *meta_value;
    dv_filter_fn filter; /* NULL = none */
    void *filter_ctx;
    /* transform */
    int drop_metadata;      /* strip metadata pairs and metadata-only updates */
    int drop_hnsw;          /* strip graph parts: structural -> logical stream */
    dv_lossy_mode quantize; /* re-encode values lossy (f16 / int8) for light replicas */
    int compress;           /* LZ4 when re-encoding; default 1 */
    /* route */
    const dv_ring *outputs; /* n_outputs rings (SPSC or MPSC; this stage is their producer) */
    size_t n_outputs;
    dv_route_mode route;
    const dv_allocator *allocator;
} dv_process_config;

typedef struct dv_process_stats {
    uint64_t read;      /* deltas read from the input */
    uint64_t written;   /* deltas written (summed over outputs) */
    uint64_t dropped;   /* deltas filtered out entirely */
    uint64_t rewritten; /* deltas re-encoded */
    uint64_t bad_input; /* times an input delta failed to decode (see last_error) */
    dv_status last_error;
} dv_process_stats;

void dv_process_config_default(dv_process_config *cfg);
/** Creates a stage. DV_EINVAL for no outputs or a bad combination. */
dv_status dv_process_init(const dv_process_config *cfg, dv_process **out);
/**
 * Moves up to max deltas from `in` (this stage is its consumer) to the
 * outputs. *n_done: input deltas fully handled and released. Returns DV_OK,
 * DV_EEMPTY (input empty), DV_EFULL (an output is full: retry later), or the
 * decode status of a corrupt input delta (left in the input, see skip).
 */
dv_status dv_process_run(dv_process *p, const dv_ring *in, size_t max, size_t *n_done);
/** Drops the next input delta unprocessed (after run() reported it corrupt). DV_EEMPTY if none. */
dv_status dv_process_skip(dv_process *p, const dv_ring *in);
dv_status dv_process_stats_get(const dv_process *p, dv_process_stats *out);
void dv_process_free(dv_process *p);

/* ======================================================================= */
/* 8. Apply                                                                */
/* ======================================================================= */

/*
 * Apply makes a replica dv_db follow a primary's delta stream.
 *
 * Every delta is validated before anything changes: header, format
 * version, checksum, operation, sizes, dims, finite values, ids, then its
 * sequence, which must be exactly position + 1 (an already applied one is
 * ignored with DV_EDUPLICATE; a later one is refused with DV_EGAP and
 * dv_apply_last_error() names the missing range). Then conflicts (as in
 * SQLite's session extension):
 *   NOTFOUND   update/delete of a vector the replica does not have;
 *   CONFLICT   insert of an id the replica already has;
 *   DATA       the replica's last sequence for the vector is not the
 *              delta's prev_sequence, or a before-image does not match;
 *   CONSTRAINT the delta does not fit the replica (dimension, slot, level).
 * The policy (or the callback) answers ABORT (refuse with DV_ENOTFOUND,
 * DV_ECONFLICT, DV_EDATA or DV_ECONSTRAINT), OMIT (skip that vector change,
 * the stream moves on) or REPLACE (DATA: apply anyway; CONFLICT, logical
 * mode only: overwrite the existing vector).
 *
 * A delta -- a whole BATCH included -- applies all or nothing: a refused
 * one leaves the replica exactly as it was (same dv_db_state_hash), and the
 * position does not move, so re-delivering the right delta later converges.
 *
 * Modes: STRUCTURAL (default) replays the primary's graph mutations: the
 * replica becomes identical to the primary. LOGICAL applies only the vector
 * changes through the ordinary writes; the replica keeps its own index (for
 * filtered/partitioned streams, see section 7).
 *
 * Coherence (on by default): every graph change is checked as it is
 * applied (degree bounds, no edge to a missing or deleted node, the entry
 * point live on the top level); a violation refuses the delta with
 * DV_EINCOHERENT and dv_apply_last_error() says what broke.
 *
 * Threads: a dv_apply is used by one thread at a time (the "dispatcher"),
 * plus the worker loops of parallel apply below. Every delta (or parallel
 * epoch) changes the replica under its write lock, so dv_searcher readers
 * (section 3) may search and get on other threads meanwhile.
 *
 * Parallel apply (structural mode). With config.workers = N >= 1 and N
 * worker loops running (dv_apply_worker_run on N threads, or
 * dv_apply_start_threads natively), dv_apply_batch spreads the work over
 * the loops and the dispatcher (the thread calling dv_apply_batch, which
 * applies a share too: N + 1 threads apply, so on C cores N = C - 1 uses
 * them all). The dispatcher decodes, checks the sequence and conflicts,
 * applies the vector parts of inserts and metadata changes in sequence
 * order, checks each edge operation against what it can see (both ends
 * live, levels, no self loop) and routes it to the loop owning the node
 * whose list changes, through a per-loop FIFO; loops check the
 * list-dependent part (no duplicate, degree bound, edge present for a
 * removal) and apply it; in-degree counters are updated atomically.
 * Updates of values only (dense or sparse, no graph part, no metadata) go
 * whole to the thread owning their id (a loop, or the dispatcher's share),
 * which decodes, checks (no conflict) and applies them; consecutive ones go
 * as one run. An update it cannot decide alone -- a conflict, whose policy
 * the dispatcher applies, or bytes that do not decode -- is rolled back
 * with everything after it and applied again inline, so the outcome is the
 * inline one (stats.redone_inline). An epoch that starts with an insert
 * keeps vector parts on the dispatcher (inserts change what the loops
 * read); an insert closes an epoch that handed updates over. Deletes,
 * entry-point changes and BATCH deltas are barriers:
 * the workers are drained and the delta is applied inline; an insert that
 * must grow the store (realloc moves the lists) first drains the workers.
 * Deltas between barriers form an epoch (at most epoch_max deltas) held
 * under the write lock and drained before it is released. A run of fewer
 * than min_run deltas before the next delete or BATCH (as their headers
 * say) or the end of the batch is applied inline instead: waking and
 * draining the workers costs more than a short run saves (measurements in
 * docs/CONCURRENCY.md).
 * Guarantees, identical to inline apply: per-vector and per-list order is
 * the stream's, so the final state (dv_db_state_hash) is the same as
 * single-threaded apply; the position is the contiguous applied prefix;
 * a delta refused by a worker check is refused with the same status
 * (DV_EINCOHERENT) -- every change of it and of every later delta of the
 * epoch (already applied by other workers) is rolled back from per-worker
 * journals tagged by delta, and the later deltas report DV_EGAP (not
 * tried) exactly as after an inline refusal. dv_apply_delta and logical
 * mode always apply inline; so does a replica with an observer (chained
 * capture needs the primary's exact event order), and a batch started
 * while fewer than N worker loops run.
 */
typedef struct dv_apply dv_apply;

/*
 * Waiting without OS calls in the core: workers and the dispatcher sleep on
 * a 32-bit word, futex style (natively pthread condition variables in
 * src/platform, in wasm memory.atomic.wait32/notify). wait() blocks while
 * the word (read atomically) still equals expected, and may return early;
 * wake() wakes every waiter of that word. NULL wait/wake: spin. yield():
 * called while waiting for dv_searcher readers to leave; NULL: spin.
 */
typedef struct dv_apply_hooks {
    void (*wait)(void *ctx, const uint32_t *word, uint32_t expected);
    void (*wake)(void *ctx, const uint32_t *word);
    void (*yield)(void *ctx);
    void *ctx;
} dv_apply_hooks;

#define DV_APPLY_MAX_WORKERS 64

typedef enum dv_apply_mode { DV_APPLY_STRUCTURAL = 0, DV_APPLY_LOGICAL = 1 } dv_apply_mode;

typedef enum dv_conflict_kind {
    DV_CONFLICT_NOTFOUND = 1,
    DV_CONFLICT_EXISTS = 2, /* SQLite's CONFLICT */
    DV_CONFLICT_DATA = 3,
    DV_CONFLICT_CONSTRAINT = 4
} dv_conflict_kind;

typedef enum dv_conflict_action {
    DV_CONFLICT_ABORT = 0,
    DV_CONFLICT_OMIT = 1,
    DV_CONFLICT_REPLACE = 2
} dv_conflict_action;

/** Decides a conflict. h: the (sub-)delta's header; id may be NULL. */
typedef dv_conflict_action (*dv_conflict_fn)(void *ctx, dv_conflict_kind kind, const dv_delta_header *h,
                                             const char *id);

typedef struct dv_apply_config {
    dv_apply_mode mode;
    dv_conflict_action policy;  /* used when on_conflict is NULL; default ABORT */
    dv_conflict_fn on_conflict; /* NULL: use policy */
    void *conflict_ctx;
    int coherence_check;           /* default 1 */
    uint64_t start_position;       /* sequence the replica already holds (e.g. a checkpoint); default 0 */
    uint32_t max_payload;          /* refuse larger payloads (DV_ETOOBIG); 0 = DV_DELTA_MAX_PAYLOAD */
    const dv_allocator *allocator; /* thread-safe when workers run (each allocates its queue) */
    uint32_t workers;              /* parallel apply: worker loops beside the calling thread; default 4;
                                      0 = inline only */
    uint32_t epoch_max;   /* deltas per parallel epoch (write lock held, then drained); default 256 */
    dv_apply_hooks hooks; /* default all NULL (spin) */
    uint32_t min_run;     /* parallel only for runs of >= min_run deltas before the next delete/BATCH
                             (or the end of the batch); shorter runs apply inline. Default (0) 64; 1 = always */
} dv_apply_config;

/** Result counters. */
typedef struct dv_apply_stats {
    uint64_t applied;         /* deltas applied */
    uint64_t duplicates;      /* deltas ignored as already applied */
    uint64_t refused;         /* deltas refused (any status) */
    uint64_t omitted;         /* vector changes skipped by OMIT */
    uint64_t replaced;        /* conflicts resolved by REPLACE */
    uint64_t parallel_deltas; /* applied by the parallel path (dispatcher + workers) */
    uint64_t barriers;        /* deltas applied inline in a parallel batch (delete, entry, BATCH) */
    uint64_t epochs;          /* parallel epochs committed (fully or up to a refusal) */
    uint64_t edge_ops;        /* edge operations handed to workers */
    uint64_t short_runs;      /* deltas applied inline because their run was shorter than min_run */
    uint64_t decoded_ahead;   /* deltas of a parallel batch a worker loop decoded before the dispatcher
                                 reached them (the dispatcher decodes the others itself) */
    uint64_t loop_updates;    /* vector updates (values only) a worker loop checked and applied itself */
    uint64_t redone_inline;   /* deltas taken again, inline, after a loop left an update to the
                                 dispatcher (a conflict, whose policy only the dispatcher decides):
                                 the update and the later ones the loops had applied, rolled back */
} dv_apply_stats;

void dv_apply_config_default(dv_apply_config *cfg);
/** Creates an applier for replica (which it does not own). */
dv_status dv_apply_init(dv_db *replica, const dv_apply_config *cfg, dv_apply **out);
/**
 * Applies one delta (64 header bytes + payload). DV_OK, DV_EDUPLICATE
 * (already applied: nothing changed), or an error with the replica
 * unchanged.
 */
dv_status dv_apply_delta(dv_apply *ap, const uint8_t header[DV_DELTA_HEADER_SIZE], const uint8_t *payload,
                         size_t payload_len);
/** Same, for a buffer holding header then payload. */
dv_status dv_apply_buffer(dv_apply *ap, const uint8_t *buf, size_t len);
/**
 * Applies n deltas in order, each with its own result in results[i] (which
 * may be NULL). After the first refusal the rest are not tried and get
 * DV_EGAP. *n_applied (may be NULL) counts DV_OK results. Returns DV_OK if
 * every delta was applied or was a duplicate, else the first error.
 */
dv_status dv_apply_batch(dv_apply *ap, const uint8_t *const *headers, const uint8_t *const *payloads,
                         const size_t *payload_lens, size_t n, dv_status *results, size_t *n_applied);
/** Highest sequence such that everything up to it is applied. */
uint64_t dv_apply_position(const dv_apply *ap);
/**
 * Continue from `sequence` (the next delta expected is sequence + 1).
 * DV_OK if that is the current position; DV_ESTALE if sequence is older
 * (the replica already holds newer state); DV_EGAP if newer (deltas would
 * be missing). See dv_apply_seek_checkpoint to reposition a restored replica.
 */
dv_status dv_apply_seek(dv_apply *ap, uint64_t sequence);
/**
 * Repositions at a checkpoint if the replica provably holds that state:
 * its state hash must equal cp->state_hash (DV_EDATA otherwise).
 */
dv_status dv_apply_seek_checkpoint(dv_apply *ap, const dv_checkpoint *cp);
/** A message about the last refusal (what broke, which sequence). Never NULL. */
const char *dv_apply_last_error(const dv_apply *ap);
dv_status dv_apply_stats_get(const dv_apply *ap, dv_apply_stats *out);
/** Frees the applier. Its worker loops must have returned (dv_apply_stop_threads). */
void dv_apply_free(dv_apply *ap);

/** Worker loops the applier uses: config.workers in structural mode, else 0. */
uint32_t dv_apply_worker_count(const dv_apply *ap);
/** Replaces the wait/wake/yield hooks. DV_ESTATE while a worker loop runs. */
dv_status dv_apply_set_hooks(dv_apply *ap, const dv_apply_hooks *hooks);
/**
 * Runs worker loop `index` (< dv_apply_worker_count) on the calling thread
 * until dv_apply_workers_stop; this is the function a wasm Web Worker /
 * worker_thread calls. DV_EINVAL for a bad index, DV_ESTATE if that loop
 * already runs, DV_EUNSUPPORTED without workers (logical mode, workers 0),
 * DV_ENOMEM if its queue cannot be allocated.
 */
dv_status dv_apply_worker_run(dv_apply *ap, uint32_t index);
/**
 * Asks every worker loop running now to return (once its queue is empty)
 * and wakes them. Returns at once; may be called from any thread, but not
 * while dv_apply_set_hooks, dv_apply_stop_threads or dv_apply_free run (it
 * calls the wake hook). The request ends only the loops registered before
 * it: a loop that starts later (e.g. after dv_apply_start_threads again)
 * runs until the next one.
 */
void dv_apply_workers_stop(dv_apply *ap);
/** Number of worker loops inside dv_apply_worker_run now. */
uint32_t dv_apply_workers_running(const dv_apply *ap);
/**
 * Native builds (src/platform, pthreads): starts dv_apply_worker_count()
 * threads running the worker loops, with condition-variable wait/wake and
 * sched_yield hooks (replacing config.hooks), and returns once all run.
 * DV_OK without starting anything when the count is 0. DV_ESTATE if started
 * (or if loops run, or a dv_apply_workers_stop stopped them while starting).
 * A failed start stops what it started and returns what failed: DV_ENOMEM
 * for memory (a loop's queue, the thread table) or when the system refuses
 * another thread.
 */
dv_status dv_apply_start_threads(dv_apply *ap);
/** Stops and joins the threads of dv_apply_start_threads. DV_OK when none run. */
dv_status dv_apply_stop_threads(dv_apply *ap);

/* ======================================================================= */
/* 9. Database directory: snapshots + durable delta log                    */
/* ======================================================================= */

/*
 * A database directory holds one db durably: snapshot files plus a log of
 * its deltas in segment files (each segment is one stream, section 4b).
 * Layout, guarantees and recovery: docs/STORAGE.md. Native builds only
 * (files, fsync, a lock and threads; not in the wasm core).
 *
 * Every write goes through the store: the db applies it, capture encodes
 * its delta, the delta is appended to the current segment, and the call
 * returns once the delta is in the log as the sync policy says. If the
 * append fails (I/O error, disk full) the write is undone in memory and
 * its error returned: the db and its log never disagree. When the state
 * of the log's tail is uncertain after a failure (an fsync failed, or a
 * failed append could not be cut off), the store refuses every later write
 * with DV_ESTATE until it is closed and opened again (recovery then
 * decides from the files).
 *
 * One writer per directory (an exclusive lock on the file LOCK; a second
 * writer gets DV_ELOCKED); any number of read-only openers, which replay
 * what the files hold and catch up with dv_store_refresh.
 *
 * Threads: the write calls of one store may be called from several
 * threads at once (they are serialised; with DV_SYNC_ALWAYS concurrent
 * writers share one fdatasync: group commit). Reading the db
 * (dv_store_db) is not synchronised with writes: the caller does that.
 */
typedef struct dv_store dv_store;

/*
 * File I/O goes through this table, so tests can fail any call. Every
 * function returns 0 or a positive errno value. dv_io_posix() is the
 * default (open(2), pwrite(2), fdatasync(2), flock(2), ...).
 */
#define DV_IO_READ 0x1   /* open for reading */
#define DV_IO_WRITE 0x2  /* open for reading and writing */
#define DV_IO_CREATE 0x4 /* create if missing */
#define DV_IO_EXCL 0x8   /* with CREATE: fail with EEXIST if present */
#define DV_IO_DIR 0x10   /* open a directory (to fsync it) */

typedef struct dv_io {
    int (*open)(void *ctx, const char *path, int flags, int *fd);
    int (*close)(void *ctx, int fd);
    /* writes len bytes at off; *written (always set) may be < len on error */
    int (*pwrite)(void *ctx, int fd, const void *buf, size_t len, uint64_t off, size_t *written);
    /* reads up to len bytes at off; *got < len only at end of file */
    int (*pread)(void *ctx, int fd, void *buf, size_t len, uint64_t off, size_t *got);
    int (*sync)(void *ctx, int fd, int data_only); /* fdatasync (data_only) or fsync */
    int (*size)(void *ctx, int fd, uint64_t *size);
    int (*truncate)(void *ctx, int fd, uint64_t size);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    int (*mkdir)(void *ctx, const char *path);
    /* calls fn for every entry name of directory path (not . and ..); fn returning non-zero stops */
    int (*list)(void *ctx, const char *path, int (*fn)(void *fn_ctx, const char *name), void *fn_ctx);
    int (*lock)(void *ctx, int fd); /* exclusive, non-blocking: EWOULDBLOCK when another holds it */
    void *ctx;
} dv_io;

/** The POSIX table (a static object). */
const dv_io *dv_io_posix(void);

/**
 * Loads the snapshot file at path (dv_db_snapshot_load over io's pread, in
 * large reads; io NULL: dv_io_posix()). Statuses as dv_db_snapshot_read,
 * plus the dv_io errors of opening and reading (DV_ENOTFOUND, DV_EIO, ...);
 * a file that shrinks while read gives DV_ETRUNCATED.
 */
dv_status dv_snapshot_load_file(const char *path, const dv_io *io, const dv_allocator *allocator, dv_db **out,
                                dv_snapshot_meta *meta, char *msg, size_t cap);

typedef enum dv_sync_policy {
    DV_SYNC_ALWAYS = 0,   /* a write returns after its delta is durable (fdatasync; group commit) */
    DV_SYNC_INTERVAL = 1, /* a background thread syncs every sync_interval_ms: an OS crash or power
                             loss can lose the writes of the last interval; a process crash loses none */
    DV_SYNC_NONE = 2      /* the OS writes back when it likes; a process crash loses nothing written */
} dv_sync_policy;

typedef struct dv_store_config {
    const dv_db_config *create;    /* non-NULL: create the directory (its parent must exist) and a db
                                      with this config if it holds no database yet; an existing one
                                      must have this config (DV_ECONFIG). NULL: it must exist. */
    dv_stream_mode mode;           /* with create, for a new directory: DV_STREAM_STRUCTURAL (default: every
                                      record carries its graph changes) or DV_STREAM_LOGICAL (vector and
                                      metadata changes only: smaller records, and opening rebuilds the graph
                                      by replaying the writes, to the same state hash). An existing
                                      directory keeps its own; create with another mode: DV_ECONFIG */
    int read_only;                 /* no lock, no write, no repair; sees what the files hold */
    dv_sync_policy sync;           /* default DV_SYNC_ALWAYS */
    uint32_t sync_interval_ms;     /* DV_SYNC_INTERVAL: default 100 */
    uint64_t segment_bytes;        /* roll to a new segment past this size; default 64 MiB */
    uint64_t as_of;                /* read_only: open as of this sequence (0: the latest) */
    uint32_t keep_snapshots;       /* retention at checkpoint: snapshots kept (default 2, >= 1) */
    uint64_t keep_log_from;        /* retention: never drop a segment holding a sequence >= this (0: none) */
    int compress;                  /* LZ4 where it saves 1/8 of a payload; default 1 */
    const dv_io *io;               /* NULL: dv_io_posix() */
    const dv_allocator *allocator; /* NULL: malloc (must be thread-safe with several writer threads) */
} dv_store_config;

/** What opening (or repairing) found. */
typedef struct dv_recovery_report {
    uint64_t snapshot_sequence; /* sequence of the snapshot loaded (0: none, started empty) */
    uint32_t snapshots_skipped; /* newer snapshot files that failed to load */
    uint32_t segments;          /* segment files read */
    uint64_t records_replayed;  /* log records applied after the snapshot */
    uint64_t last_sequence;     /* sequence of the state opened */
    uint64_t dropped_records;   /* torn tail (or, for repair, damage): records cut off */
    uint64_t dropped_bytes;     /* bytes cut off */
    uint64_t problem_offset;    /* byte offset of the torn tail or damage in problem_file */
    char problem_file[64];      /* file name (inside the directory) of the tail or damage; "" if none */
    char message[256];          /* what happened, in words */
} dv_recovery_report;

/** Defaults as documented field by field above (create NULL, read-write). */
void dv_store_config_default(dv_store_config *cfg);
/**
 * Opens (or creates) the database directory at path: loads the newest
 * snapshot that loads, replays the log after it, and (writer) truncates a
 * torn tail -- an incomplete or checksum-failing last record -- saying so
 * in *report (may be NULL). Errors, with report->message:
 *  - DV_ELOCKED: another writer holds the directory;
 *  - DV_EDAMAGED: a bad record (or segment header) is followed by valid
 *    records: refused, nothing cut; problem_file/problem_offset say where
 *    (dv_store_repair cuts there);
 *  - DV_EGAP: segments or snapshots do not cover the sequences needed;
 *  - DV_ECONFIG: cfg->create differs from the directory's config;
 *  - DV_ENOTFOUND: no directory / no log and cfg->create is NULL;
 *  - DV_EIO, DV_ENOSPC: a file call failed.
 */
dv_status dv_store_open(const char *path, const dv_store_config *cfg, dv_store **out,
                        dv_recovery_report *report);
/** Syncs (writers), stops the background thread, releases the lock, frees. NULL is a no-op. */
void dv_store_close(dv_store *s);
/** The db (owned by the store) for reads. Write only through the dv_store_* calls. */
const dv_db *dv_store_db(const dv_store *s);

/*
 * Writes: as the dv_db_* call of the same name, plus the log. Besides the
 * db's own errors: DV_EIO / DV_ENOSPC (the append failed: undone),
 * DV_ESTATE (read-only store, or refused after an uncertain failure),
 * DV_ETOOBIG (the delta exceeds what the store can log in one record).
 */
dv_status dv_store_insert(dv_store *s, const char *id, const float *vec, const dv_meta_kv *meta,
                          size_t n_meta);
dv_status dv_store_update(dv_store *s, const char *id, const float *vec);
dv_status dv_store_update_sparse(dv_store *s, const char *id, const uint32_t *idx, const float *values,
                                 size_t n);
dv_status dv_store_delete(dv_store *s, const char *id);
dv_status dv_store_set_meta(dv_store *s, const char *id, const char *key, const char *value);
/** One write of a batch (dv_store_write_batch); fields as the dv_store_* call of that kind. */
typedef enum dv_store_op_kind {
    DV_STORE_INSERT = 1,        /* id, vec, meta, n_meta */
    DV_STORE_UPDATE = 2,        /* id, vec */
    DV_STORE_UPDATE_SPARSE = 3, /* id, idx, values, n */
    DV_STORE_DELETE = 4,        /* id */
    DV_STORE_SET_META = 5       /* id, key, value (NULL: remove) */
} dv_store_op_kind;

typedef struct dv_store_op {
    dv_store_op_kind kind;
    const char *id;
    const float *vec;
    const dv_meta_kv *meta;
    size_t n_meta;
    const uint32_t *idx;
    const float *values;
    size_t n;
    const char *key;
    const char *value;
} dv_store_op;

/**
 * Runs ops[0..n) in order under one hold of the store's write lock (no
 * other thread's write comes between them), each logged as its own delta,
 * then waits once for durability as the policy says: with DV_SYNC_ALWAYS
 * the whole batch shares one fdatasync (with whatever other threads wrote
 * meanwhile). Stops at the first op that fails and returns its status;
 * the ops before it stay applied and logged (a batch is not atomic).
 * *n_done (may be NULL) gets the number of ops applied.
 */
dv_status dv_store_write_batch(dv_store *s, const dv_store_op *ops, size_t n, size_t *n_done);
/** Makes every logged delta durable now (any policy). */
dv_status dv_store_sync(dv_store *s);
/** Sequence of the last delta in the log (what dv_store_db holds). */
uint64_t dv_store_sequence(const dv_store *s);
/** Sequence up to which the log is known durable (synced). */
uint64_t dv_store_durable_sequence(const dv_store *s);
/** Last error in words (file, call, errno). Never NULL. */
const char *dv_store_last_error(const dv_store *s);

/**
 * Read-only stores: applies the records the writer appended since the
 * last open/refresh (*n_new, may be NULL, gets their number). A torn tail
 * (the writer is mid-append) is left for the next refresh. DV_ESTATE for a
 * writer or an as_of store; DV_EDAMAGED as for open; DV_EGAP when a
 * checkpoint has dropped log this store had not read yet (reopen it).
 */
dv_status dv_store_refresh(dv_store *s, uint64_t *n_new);

/**
 * Writes a snapshot of the current state atomically (temporary file,
 * fsync, rename, fsync of the directory), starts a new segment, then
 * applies retention: keeps the newest keep_snapshots snapshots and drops
 * the segments every kept snapshot's position has passed, except those
 * holding sequences >= keep_log_from. *seq (may be NULL) gets the
 * snapshot's sequence.
 */
dv_status dv_store_checkpoint(dv_store *s, uint64_t *seq);
/**
 * Reverts a writer to the state it had at `sequence` (still covered by a
 * snapshot and the log): the log after it is cut (newer snapshots removed)
 * and the db rebuilt from snapshot + replay. Later writes continue from
 * sequence + 1. DV_EINVAL if sequence is past the log's end; DV_EGAP if it
 * is no longer covered (nothing changes then). If the rebuild itself fails
 * (I/O), the store refuses writes with DV_ESTATE until reopened.
 */
dv_status dv_store_revert(dv_store *s, uint64_t sequence);
/**
 * Offline repair of a directory that dv_store_open refuses with
 * DV_EDAMAGED: truncates the log at the first damage (and removes later
 * segments), reporting in *report what was dropped (records, bytes,
 * file, offset; nothing when the log was whole). Takes the writer lock
 * (DV_ELOCKED while a writer runs). DV_OK once the directory opens.
 */
dv_status dv_store_repair(const char *path, const dv_store_config *cfg, dv_recovery_report *report);

/*
 * Logical compaction of a run of deltas (a stream): per vector id, the
 * changes merge into at most one delta (insert then updates -> one
 * insert with the final vector and metadata; updates -> one update;
 * insert then delete -> nothing; delete then insert -> delete + insert).
 * The output is a logical stream (no graph parts) with sequences from the
 * input's first_sequence: applied logically at the same start it gives
 * the same ids, vectors and metadata as the input (not the same graph: a
 * logical replica builds its own). Structural compaction is a checkpoint.
 * `in` must be a whole, valid stream (its first problem is returned).
 */
typedef struct dv_compact_stats {
    uint64_t records_in, records_out;
    uint64_t bytes_in, bytes_out;
} dv_compact_stats;
dv_status dv_stream_compact(const uint8_t *in, size_t len, dv_stream_sink_fn sink, void *sink_ctx,
                            const dv_allocator *allocator, dv_compact_stats *stats);

/* ======================================================================= */
/* 10. Replication (NATS JetStream)                                        */
/* ======================================================================= */

/*
 * A publisher ships a database directory's log to a NATS JetStream stream;
 * followers keep replicas (their own directories) in step with it, from
 * any machine. Topology, subjects, guarantees after each fault and the
 * server config: docs/REPLICATION.md. Native builds with libnats only: a
 * build without it still declares these calls, and each returns
 * DV_EUNSUPPORTED (dv_nats_available() says which build this is).
 *
 * On the server, for a database named N:
 *   stream DV_N        subject dv.N.deltas: a run of consecutive records
 *                      (64-byte header + payload each, back to back) per
 *                      message, zstd-compressed when that pays (header
 *                      Dv-Codec: zstd), header Nats-Msg-Id "<db id
 *                      hex>:<first>-<last>" (JetStream dedupe);
 *   stream DV_N_META   subject dv.N.meta: the stream header (config, db id)
 *                      of the log, one message kept;
 *   object store dv_N  (stream OBJ_dv_N) snapshots named "snap-<20-digit
 *                      sequence>", each the state after that sequence.
 *
 * Exactly-once into the stream: every publish carries the message id and
 * the stream sequence it expects to follow, so a resend after a lost
 * acknowledgement is dropped as a duplicate and a second publisher is
 * refused (DV_EFENCED), never interleaved.
 *
 * Threads: a publisher or follower is used by one thread at a time (its
 * own loop); the database directory's writer may run in another thread
 * or process. libnats runs its own threads underneath.
 */

/** Connection settings shared by publishers and followers. */
typedef struct dv_nats_config {
    const char *servers;  /* "nats://127.0.0.1:4222", comma-separated for a cluster */
    const char *user;     /* NULL: no credentials */
    const char *password; /* with user */
    const char *name;     /* database name on the server: 1..64 of [A-Za-z0-9_-] */
    const char *tls_ca;   /* non-NULL: TLS, trusting this CA file (PEM) */
    uint32_t timeout_ms;  /* connect and request timeout; default 5000 */
} dv_nats_config;

/** 1 when this build has the NATS transport, else 0. */
int dv_nats_available(void);
/**
 * 1 when name is a valid database or durable consumer name: 1..64 bytes of
 * [A-Za-z0-9_-] (it becomes part of subjects and stream names); 0
 * otherwise, and for NULL. The rule dv_publisher_open and dv_follower_open
 * apply (DV_EINVAL); also in builds without libnats, so a tool can check
 * its arguments before anything else.
 */
int dv_nats_name_valid(const char *name);

typedef struct dv_publisher dv_publisher;

typedef struct dv_publisher_config {
    dv_nats_config nats;
    const char *dir;         /* the database directory (section 9) whose log is shipped; read only */
    uint32_t window;         /* asynchronous publishes in flight at most; default 256 */
    uint32_t keep_snapshots; /* snapshots kept in the object store; default 2 (>= 1) */
    int replicas;            /* JetStream replicas (R) of the streams it creates; default 1 */
    uint32_t group_bytes;    /* records per message: consecutive records already in the log go out as
                                one message of at most this many bytes (a larger record alone); default
                                65536; 1: one record per message. Never waits for records to come */
    int zstd_level;          /* a message is sent as a zstd frame (header Dv-Codec: zstd) when that saves
                                >= 1/32 of its bytes; this level (1..19), default 1; -1: never */
} dv_publisher_config;

/** Defaults as documented field by field above (all pointers NULL). */
void dv_publisher_config_default(dv_publisher_config *cfg);
/**
 * Opens a publisher for cfg->dir (which must hold a log) without touching
 * the network: the first dv_publisher_pump connects. DV_EINVAL for a bad
 * name or missing field, DV_ENOTFOUND / DV_EIO for the directory.
 */
dv_status dv_publisher_open(const dv_publisher_config *cfg, dv_publisher **out);
/**
 * Publishes every record the directory's log holds past the stream's last
 * one, keeping at most `window` unacknowledged, and returns once all are
 * acknowledged (durable on the server). *n_published (may be NULL) gets
 * how many were new. On (re)connect it creates the streams if missing,
 * reads the stream's last record and resumes after it. Errors:
 * DV_ENETWORK (server unreachable, timed out or refused a request: call
 * again later, nothing is lost); DV_EFENCED (the stream belongs to another
 * database id, holds records this log does not have, or another publisher
 * appended: the publisher stops, every later call returns it);
 * DV_EGAP (the log no longer holds the record after the stream's last);
 * DV_ECONFIG (the meta names another config); file errors as for the log.
 * The writer of the directory is never blocked: this only reads files.
 */
dv_status dv_publisher_pump(dv_publisher *p, uint64_t *n_published);
/**
 * Uploads the directory's newest snapshot file (dv_store_checkpoint writes
 * them) to the object store unless it is already there, removes all but
 * the newest keep_snapshots, and purges the stream's messages before the
 * one holding the oldest kept snapshot's sequence (that message stays), so
 * a follower can always catch up from a kept snapshot. *sequence (may be
 * NULL) gets the uploaded snapshot's sequence. DV_ENOTFOUND when the
 * directory has no snapshot; DV_ENETWORK as above.
 */
dv_status dv_publisher_put_snapshot(dv_publisher *p, uint64_t *sequence);
/** Sequence of the last record the stream acknowledged (0: none yet). */
uint64_t dv_publisher_acked(const dv_publisher *p);
/** The last error in words (server, request, sequence). Never NULL. */
const char *dv_publisher_last_error(const dv_publisher *p);
void dv_publisher_close(dv_publisher *p);

typedef struct dv_follower dv_follower;

typedef struct dv_follower_config {
    dv_nats_config nats;
    const char *dir;           /* replica directory: created from the server's meta/snapshot if missing */
    const char *durable;       /* durable consumer name, one per replica: 1..64 of [A-Za-z0-9_-] */
    uint32_t batch;            /* messages fetched per pump; default 256 */
    uint32_t ack_wait_ms;      /* redelivery after this without ack; default 30000 */
    uint64_t checkpoint_every; /* write a replica snapshot after this many applied deltas; default 100000 */
} dv_follower_config;

/** Defaults as documented field by field above (all pointers NULL). */
void dv_follower_config_default(dv_follower_config *cfg);
/**
 * Opens the replica directory (the snapshot and the records it holds:
 * docs/REPLICATION.md "Replica directory"; a torn last record is cut) or
 * remembers to create it on the first pump. No network yet.
 * DV_EINVAL for a bad name; load errors as dv_db_snapshot_read and the
 * stream reader give them.
 */
dv_status dv_follower_open(const dv_follower_config *cfg, dv_follower **out);
/**
 * Fetches up to `batch` records (waiting up to wait_ms for the first),
 * applies each in order, appends it to the replica directory, syncs it,
 * then acknowledges: a record is acknowledged only once applied and
 * durable, so a restart resumes exactly. *n_applied (may be NULL) counts
 * records applied now. Records at or below the position are duplicates:
 * acknowledged and ignored. A record past position + 1 (the stream was
 * trimmed past the replica) re-bootstraps from the newest snapshot in the
 * object store (DV_EGAP if none covers it). A message that is not a valid
 * record, or that the replica refuses (checksum, config, conflict...),
 * stops the follower: that status is returned now and by every later call,
 * dv_follower_last_error() names the stream sequence, and the replica stays
 * as it was (the message is not acknowledged). DV_ENETWORK: server
 * unreachable (call again). DV_ENOTFOUND before the replica exists: the
 * database has published nothing yet (call again). DV_OK with *n_applied 0
 * when nothing came.
 */
dv_status dv_follower_pump(dv_follower *f, uint32_t wait_ms, uint64_t *n_applied);
/** The replica (owned by the follower; NULL before the first successful pump creates it). */
const dv_db *dv_follower_db(const dv_follower *f);
/** Sequence of the last record applied. */
uint64_t dv_follower_position(const dv_follower *f);

typedef struct dv_follower_lag {
    uint64_t sequences;  /* records in the stream after the position (as of the last pump) */
    double seconds;      /* age of the oldest record not yet applied (0 when caught up) */
    uint64_t bootstraps; /* times the replica was (re)created from a snapshot */
} dv_follower_lag;
/** Lag as of the last pump (asks the server for nothing). */
void dv_follower_lag_get(const dv_follower *f, dv_follower_lag *out);
/** Writes a replica snapshot now and drops the records it covers. */
dv_status dv_follower_checkpoint(dv_follower *f);
/** The last error in words. Never NULL. */
const char *dv_follower_last_error(const dv_follower *f);
/** Closes the connection (the durable consumer stays on the server) and frees. NULL is a no-op. */
void dv_follower_close(dv_follower *f);

#ifdef __cplusplus
}
#endif

#endif /* DELTAVEC_H */
