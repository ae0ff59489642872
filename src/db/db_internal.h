/*
 * db_internal.h -- struct dv_db and the helpers shared by the src/db files:
 * the layout (below) and the functions of store.c, graph.c, hnsw.c (scratch)
 * and txn.c that the others build on. db.c is the facade on top of them:
 * nothing declared here is defined in db.c, so no file below includes or
 * calls anything of the facade. Private to src/db (tests may include it).
 *
 * Memory layout (like hnswlib, see docs/DB.md):
 *  - vectors, dim floats per slot, and layer-0 lists, 1 + 2M u32 per slot
 *        [count u32][2M neighbour slots u32]
 *    in two arrays of their own: a vector whose size is a multiple of 64
 *    bytes then starts on a cache line, so the AVX-512 kernels take their
 *    zmm loop (aligned pairs only) and no load straddles two lines: on
 *    784-dim data 4-17% more QPS and a 6% faster build than hnswlib's node
 *    record of list + vector, at no byte of padding. A search
 *    reads a node's list and its vector at different times anyway (the
 *    vector when the node is a neighbour, the list when it is expanded).
 *    Native builds keep each in one flat array (`vectors`, `links0`); the
 *    wasm build in fixed segments (`seg`, see DV_SEGMENTED_NODES). Reach
 *    them with dv_vec() and dv_l0(). A snapshot's NODES section keeps the
 *    node record [list][vector] (`node_size` bytes per slot).
 *  - `info`: one small dv_slot per slot (id, metadata, upper layers, cached
 *    inverse norm, level, layer-0 in-degree, live flag); dv_info().
 *  - upper layers (level > 0 only): one block per node of `level` lists of
 *        [count u32][M neighbour slots u32][in-degree u32].
 *  - `ids`: open-addressing map id string -> slot (ids.c).
 *  - `free_slots`: LIFO stack of free slots; deterministic reuse.
 *
 * Invariants: every neighbour in any list is a live slot (no dangling
 * edges); the in-degree counters equal the number of lists holding the
 * slot on that layer; the entry point is live (or DV_NO_SLOT when empty)
 * and has level == max_level. The graph is changed only through the
 * primitives in graph.c, which also report to the observer.
 */
#ifndef DV_DB_INTERNAL_H
#define DV_DB_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"
#include "db/observer.h"
#include "db/ids.h"
#include "db/txn.h"
#include "util/alloc.h"

#define DV_MAX_LEVEL 48 /* levels above this are clamped (P < M^-48) */

/* Where nodes live. Native: one flat array grown by realloc, which for a
 * large block is a page remap (no copy, nothing left behind). wasm memory
 * only grows: a realloc'd array that cannot grow in place is copied and its
 * old block stays in the heap, so inserting one at a time peaked at 1.86x
 * the db's own count. The wasm build therefore keeps nodes and slot infos in
 * segments of DV_SEG_SLOTS slots that never move; the first segment grows by
 * realloc up to that size, so a small db stays small. */
#ifndef DV_SEGMENTED_NODES /* the ASan test build sets 1 (and a small DV_SEG_SHIFT) to test segments         \
                              natively */
#if defined(__wasm__)
#define DV_SEGMENTED_NODES 1
#else
#define DV_SEGMENTED_NODES 0
#endif
#endif
#ifndef DV_SEG_SHIFT
#define DV_SEG_SHIFT 10
#endif
#define DV_SEG_SLOTS (1u << DV_SEG_SHIFT)

typedef struct dv_meta {
    uint32_t n, cap;
    dv_meta_kv kv[]; /* n pairs, insertion order; strings owned */
} dv_meta;

typedef struct dv_slot {
    char *id;          /* NUL-terminated, owned; NULL when the slot is free */
    uint32_t *upper;   /* level lists of (M + 2) u32, NULL when level == 0 */
    dv_meta *meta;     /* NULL when no metadata */
    float inv_norm;    /* 1/|v| (0 for the zero vector); cosine only */
    uint32_t indeg0;   /* number of layer-0 lists holding this slot (parallel apply
                          workers update in-degrees with __atomic builtins) */
    uint32_t meta_sig; /* Bloom bits of the metadata pairs (dv_store_meta_sig): lets a
                          filtered search reject most non-matching slots without
                          reading their metadata. Derived: not hashed, not stored */
    uint16_t id_len;
    uint8_t level;
    uint8_t live; /* in the graph: a vector, or a tombstone */
    uint8_t tomb; /* deleted, still routing searches until a repair purges it (live stays 1) */
} dv_slot;

typedef struct dv_heap_item {
    float d;
    uint32_t id;
} dv_heap_item;

/* Per-search working memory. Searches read the db and write only here, so
 * concurrent readers each need their own scratch. */
typedef struct dv_search_scratch {
    dv_mem mem;
    uint16_t *visited; /* tag per slot; == epoch means visited in this search */
    uint32_t visited_cap;
    uint16_t epoch;
    dv_heap_item *cand; /* min-heap of candidates */
    uint32_t cand_cap;
    dv_heap_item *top; /* max-heap of results */
    uint32_t top_cap;
    dv_heap_item *sorted; /* results in ascending order */
    uint32_t sorted_cap;
} dv_search_scratch;

typedef float (*dv_dist2_fn)(const float *a, const float *b, size_t n);

/* One segment: the vectors, layer-0 lists and slot infos of DV_SEG_SLOTS consecutive slots. */
typedef struct dv_seg {
    char *vectors;
    uint32_t *links0;
    dv_slot *info;
} dv_seg;

struct dv_db {
    dv_mem mem;
    dv_db_config cfg; /* allocator pointer not used after open */
    uint32_t dim, M, M0;
    size_t links0_words; /* 1 + M0 */
    size_t vector_size;  /* dim * 4: bytes per slot in vectors */
    size_t node_size;    /* links0_words * 4 + vector_size: a node record in a snapshot */
    dv_dist2_fn l2sq, dot;

    char *vectors;           /* flat vector array (native builds) */
    uint32_t *links0;        /* flat layer-0 list array (native builds) */
    dv_slot *info;           /* flat slot info array (native builds) */
    struct dv_seg *seg;      /* segments of vectors, lists and slot info (DV_SEGMENTED_NODES) */
    uint32_t seg_n, seg_cap; /* segments in use, in the table */
    uint32_t n_slots;        /* slots ever used: [0, n_slots) */
    uint32_t cap;            /* slots usable in every array below (the least of their capacities) */
    uint32_t vectors_cap, links_cap, info_cap, free_cap;
    size_t live;   /* vectors (live slots that are not tombstones) */
    size_t n_tomb; /* tombstones: deleted nodes still in the graph */

    uint32_t *free_slots; /* LIFO stack, capacity cap */
    uint32_t n_free;

    dv_ids ids;

    uint32_t entry; /* DV_NO_SLOT when empty */
    uint32_t max_level;
    uint64_t rng;
    double level_mult;

    dv_observer obs;
    int has_obs;

    dv_search_scratch *scratch; /* the db's own scratch (writes and dv_db_search) */

    /* writer scratch: delete/update repair plans (see hnsw.c) */
    uint32_t *plan;
    size_t plan_cap, plan_len;
    uint32_t *inlist;
    size_t inlist_cap;

    struct dv_txn *txn; /* undo journal while a transaction is open (txn.c), else idle or NULL */

    /* edge events emitted in the current op and the bound announced at
     * OP_BEGIN (tests check emitted <= bounded) */
    size_t op_edges, op_edge_bound;

    /* reader-writer lock word (rwlock.c): dv_searcher readers vs dv_apply */
    _Atomic uint32_t rw;
};

/* ---- inline accessors --------------------------------------------------- */

/* Asks for every cache line of [p, p + bytes), bytes > 0; the last byte
 * too, since the range need not start on a line. always_inline: a function
 * made only of prefetches has no side effect, so gcc would mark it const
 * and drop its calls. */
static inline __attribute__((always_inline)) void dv_prefetch_bytes(const void *p, size_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
    const char *c = (const char *)p;
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o);
    __builtin_prefetch(c + bytes - 1);
#else
    (void)p;
    (void)bytes;
#endif
}

/* How many slots from slot on keep their vectors, lists and infos next to
 * each other in memory (a copy of that many records of any of the arrays
 * starting at slot stays in one block). slot < cap. */
static inline uint32_t dv_slot_run(const dv_db *db, uint32_t slot) {
    uint32_t left = db->cap - slot;
#if DV_SEGMENTED_NODES
    uint32_t in_seg = DV_SEG_SLOTS - (slot & (DV_SEG_SLOTS - 1));
    return in_seg < left ? in_seg : left;
#else
    return left;
#endif
}
/* The info of a slot < cap. */
static inline dv_slot *dv_info(const dv_db *db, uint32_t slot) {
#if DV_SEGMENTED_NODES
    return db->seg[slot >> DV_SEG_SHIFT].info + (slot & (DV_SEG_SLOTS - 1));
#else
    return db->info + slot;
#endif
}
/* The layer-0 list of a slot < cap: [count][neighbours...]. */
static inline uint32_t *dv_l0(const dv_db *db, uint32_t slot) {
#if DV_SEGMENTED_NODES
    return db->seg[slot >> DV_SEG_SHIFT].links0 + (size_t)(slot & (DV_SEG_SLOTS - 1)) * db->links0_words;
#else
    return db->links0 + (size_t)slot * db->links0_words;
#endif
}
/* The vector of a slot < cap. */
static inline float *dv_vec(const dv_db *db, uint32_t slot) {
#if DV_SEGMENTED_NODES
    return (float *)(db->seg[slot >> DV_SEG_SHIFT].vectors +
                     (size_t)(slot & (DV_SEG_SLOTS - 1)) * db->vector_size);
#else
    return (float *)(db->vectors + (size_t)slot * db->vector_size);
#endif
}
/* The list of slot at layer: [count][neighbours...]. layer <= level. */
static inline uint32_t *dv_list(const dv_db *db, uint32_t slot, uint32_t layer) {
    if (layer == 0) return dv_l0(db, slot);
    return dv_info(db, slot)->upper + (size_t)(layer - 1) * (db->M + 2);
}
static inline uint32_t dv_maxdeg(const dv_db *db, uint32_t layer) { return layer == 0 ? db->M0 : db->M; }
static inline uint32_t *dv_indeg(const dv_db *db, uint32_t slot, uint32_t layer) {
    if (layer == 0) return &dv_info(db, slot)->indeg0;
    return dv_info(db, slot)->upper + (size_t)(layer - 1) * (db->M + 2) + 1 + db->M;
}
/* Non-zero while a transaction journals changes (see txn.h). */
int dv_txn_active(const dv_db *db);

/* In the graph: a vector or a tombstone (edges may point to it). */
static inline int dv_is_live(const dv_db *db, uint32_t slot) {
    return slot < db->n_slots && dv_info(db, slot)->live;
}
/* A vector the user sees: live and not a tombstone. */
static inline int dv_is_vector(const dv_db *db, uint32_t slot) {
    return slot < db->n_slots && dv_info(db, slot)->live && !dv_info(db, slot)->tomb;
}

/* The wasm SIMD build has one kernel set, so dv_kernels_best() is always
 * simd128 there: calling it directly (not through db->l2sq) saves a
 * call_indirect per distance and lets the optimizer inline the kernel
 * into the search loops (DV_KERNEL_CALL: for loops that hold the kernel
 * pointer in a local). Same function, so the same results. */
#if defined(__wasm_simd128__)
float dv_simd128_l2sq(const float *a, const float *b, size_t n);
#define DV_DB_L2SQ(db, a, b) dv_simd128_l2sq((a), (b), (db)->dim)
#define DV_KERNEL_CALL(kernel, metric, a, b, n)                                                              \
    ((metric) == DV_METRIC_L2 ? dv_simd128_l2sq((a), (b), (n)) : (kernel)((a), (b), (n)))
#else
#define DV_DB_L2SQ(db, a, b) (db)->l2sq((a), (b), (db)->dim)
#define DV_KERNEL_CALL(kernel, metric, a, b, n) (kernel)((a), (b), (n))
#endif

/* Distance from query q (with inverse norm qinv, cosine only) to a slot. */
static inline float dv_dist_q(const dv_db *db, const float *q, float qinv, uint32_t slot) {
    const float *v = dv_vec(db, slot);
    switch (db->cfg.metric) {
    case DV_METRIC_L2:
        return DV_DB_L2SQ(db, q, v);
    case DV_METRIC_IP:
        return 1.0f - db->dot(q, v, db->dim);
    default:
        return 1.0f - db->dot(q, v, db->dim) * qinv * dv_info(db, slot)->inv_norm;
    }
}
static inline float dv_dist_nodes(const dv_db *db, uint32_t a, uint32_t b) {
    return dv_dist_q(db, dv_vec(db, a), dv_info(db, a)->inv_norm, b);
}
float dv_store_inv_norm(const dv_db *db, const float *v);

/* ---- observer ----------------------------------------------------------- */
dv_status dv_db_emit(dv_db *db, const dv_event *ev);
dv_status dv_db_emit_begin(dv_db *db, dv_op_kind op, const char *id, size_t bound_bytes, size_t edge_bound);
dv_status dv_db_emit_end(dv_db *db, dv_op_kind op, const char *id); /* the observer's status */
/* bound_bytes formula of the observer contract */
size_t dv_db_op_bound_bytes(const dv_db *db, size_t id_len, size_t meta_bytes, size_t edge_events,
                            size_t layers);

/* ---- store (store.c) ---------------------------------------------------- */
dv_status dv_store_reserve(dv_db *db, uint32_t n_slots); /* capacity for slots [0, n_slots) */
/* The same for a clone of a db with n slots: its flat vector array rounded
 * up to whole 2 MiB pages when that costs at most 1/8 more slots (the
 * store's growth step), so the inserts that follow a clone (a replica made
 * from a primary) land in huge pages from the first. */
dv_status dv_store_reserve_for_clone(dv_db *db, uint32_t n_slots);
void dv_store_free_slots_storage(dv_db *db);  /* nodes, infos, free_slots (close) */
uint32_t dv_store_next_slot(const dv_db *db); /* the slot the next insert will take */
dv_status dv_store_check_vector(const float *v, size_t n);
dv_status dv_store_check_meta(const dv_meta_kv *meta, size_t n, size_t *bytes);
/* Two bits per key=value pair (from its XXH3 hash) in 32: a slot holding a
 * pair has that pair's bits in its meta_sig. */
uint32_t dv_store_pair_sig(const char *key, const char *value);
uint32_t dv_store_meta_sig(const dv_meta *m); /* OR over the pairs; 0 for none */
dv_status dv_store_meta_copy(dv_db *db, const dv_meta_kv *meta, size_t n, dv_meta **out);
void dv_store_meta_free(dv_db *db, dv_meta *m);

dv_status dv_store_check_sparse(const dv_db *db, const uint32_t *idx, const float *values, size_t n);

/* Set (value != NULL) or remove one metadata pair: prepare allocates,
 * commit emits META_SET and applies. noop: removal of an absent key. */
typedef struct dv_meta_prep {
    int noop;
    int index; /* existing key's position or -1 */
    char *key, *value;
    dv_meta *grown;
} dv_meta_prep;
dv_status dv_store_meta_prepare(dv_db *db, uint32_t slot, const char *key, const char *value,
                                dv_meta_prep *p);
void dv_store_meta_prep_free(dv_db *db, dv_meta_prep *p);
void dv_store_meta_commit(dv_db *db, uint32_t slot, const char *key, dv_meta_prep *p);

/* A node ready to be attached: everything allocated up front. */
typedef struct dv_node_prep {
    char *id;
    size_t id_len;
    dv_meta *meta;
    uint32_t *upper;
    uint32_t level;
} dv_node_prep;
dv_status dv_store_node_prepare(dv_db *db, const char *id, size_t id_len, const dv_meta_kv *meta,
                                size_t n_meta, uint32_t level, dv_node_prep *p);
void dv_store_node_prep_free(dv_db *db, dv_node_prep *p);
/* Creates the node at `slot` (which must be free and reserved) and emits
 * VECTOR_INSERT. Cannot fail. */
void dv_store_node_attach(dv_db *db, uint32_t slot, dv_node_prep *p, const float *vec);
/* Emits VECTOR_DELETE, clears the node's own lists, frees the slot. */
void dv_store_node_detach(dv_db *db, uint32_t slot);
/* Emits VECTOR_DELETE and makes the node a tombstone: out of the id map and
 * the count, still in the graph. */
void dv_store_node_tombstone(dv_db *db, uint32_t slot);
/* VECTOR_DELETE: a node no edge points to (and not the entry) is freed at
 * once, any other becomes a tombstone. Both the write and replay use it. */
int dv_store_node_unreferenced(const dv_db *db, uint32_t slot);
/* Emits VECTOR_PURGE, clears the tombstone's own lists, frees the slot. */
void dv_store_node_purge(dv_db *db, uint32_t slot);
/* Emits VECTOR_UPDATE (before the change) and changes the vector. */
void dv_store_node_set_vector(dv_db *db, uint32_t slot, const float *vec, const uint32_t *idx,
                              const float *values, size_t n);

/* ---- graph primitives (graph.c): the only code that changes lists --------- */
void dv_graph_add_edge(dv_db *db, uint32_t from, uint32_t layer, uint32_t to, float d);
void dv_graph_remove_edge(dv_db *db, uint32_t from, uint32_t layer, uint32_t to);
/* Removes the j-th entry of from's list on layer (j < the list's length). */
void dv_graph_remove_at(dv_db *db, uint32_t from, uint32_t layer, uint32_t j);
void dv_graph_set_entry(dv_db *db, uint32_t entry, uint32_t max_level);
int dv_graph_has_edge(const dv_db *db, uint32_t from, uint32_t layer, uint32_t to);
/* The position of `to` in a list (count first, as dv_list returns it), or
 * the list's length when it is not there. */
static inline uint32_t dv_graph_find(const uint32_t *lst, uint32_t to) {
    uint32_t n = lst[0], j = 0;
    while (j < n && lst[1 + j] != to) j++;
    return j;
}

/* ---- scratch ------------------------------------------------------------ */
dv_status dv_hnsw_scratch_create(const dv_allocator *a, dv_search_scratch **out);
void dv_hnsw_scratch_destroy(dv_search_scratch *s);
dv_status dv_hnsw_scratch_reserve(dv_search_scratch *s, uint32_t n_slots, uint32_t ef);

#endif
