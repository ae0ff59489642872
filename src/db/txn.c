/*
 * txn.c -- the undo journal behind dv_txn_* (see txn.h for the contract).
 *
 * A record is small and fixed-size; what a record must save in bulk (a
 * vector, a detached node's slot struct, layer-0 block and list counts)
 * goes into a byte pool addressed by offset (the pool may be reallocated
 * while reserving, never while recording).
 */
#include "db/txn.h"

#include <string.h>

#include "db/db_internal.h"

typedef enum jkind {
    J_EDGE_ADD = 1,
    J_EDGE_REMOVE,
    J_ENTRY,
    J_VECTOR,
    J_ATTACH,
    J_DETACH,
    J_META_REMOVE,
    J_META_OVERWRITE,
    J_META_APPEND,
    J_TOMB,
    J_SPARSE
} jkind;

typedef struct jrec {
    uint32_t kind, slot, layer, a, b;
    float f;
    size_t off; /* into the pool */
    void *p1, *p2;
} jrec;

struct dv_txn {
    int open;
    jrec *recs;
    size_t n, cap;
    unsigned char *pool;
    size_t pool_len, pool_cap;
    uint64_t rng; /* level generator state at begin */
};

static size_t meta_bytes(uint32_t cap) { return sizeof(dv_meta) + (size_t)cap * sizeof(dv_meta_kv); }
static size_t vector_bytes(const dv_db *db) { return (size_t)db->dim * 4; }
static size_t detach_bytes(const dv_db *db) {
    return sizeof(dv_slot) + db->links0_words * 4 + vector_bytes(db) + (DV_MAX_LEVEL + 1) * 4;
}

dv_status dv_txn_begin(dv_db *db) {
    if (!db->txn) {
        db->txn = dv_mem_calloc(&db->mem, 1, sizeof *db->txn);
        if (!db->txn) return DV_ENOMEM;
    }
    if (db->txn->open) return DV_ESTATE;
    db->txn->open = 1;
    db->txn->n = 0;
    db->txn->pool_len = 0;
    db->txn->rng = db->rng;
    return DV_OK;
}

static int grow(dv_mem *m, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = dv_mem_realloc(m, *p, *cap * elem, n * elem);
    if (!q) return 0;
    *p = q;
    *cap = n;
    return 1;
}

dv_status dv_txn_reserve(dv_db *db, size_t n_records, size_t n_vectors, size_t n_detaches) {
    struct dv_txn *t = db->txn;
    if (!t || !t->open) return DV_OK; /* nothing to journal */
    size_t bytes = n_vectors * vector_bytes(db) + n_detaches * detach_bytes(db);
    if (!grow(&db->mem, (void **)&t->recs, &t->cap, t->n + n_records, sizeof(jrec)) ||
        !grow(&db->mem, (void **)&t->pool, &t->pool_cap, t->pool_len + bytes, 1))
        return DV_ENOMEM;
    return DV_OK;
}

/* Capacity was reserved: running out is a bug in a bound, and undo would be
 * incomplete, so it stops the process loudly rather than corrupt silently. */
static jrec *push(dv_db *db, jkind kind, uint32_t slot) {
    struct dv_txn *t = db->txn;
    if (t->n == t->cap && !grow(&db->mem, (void **)&t->recs, &t->cap, t->n + 1, sizeof(jrec)))
        __builtin_trap();
    jrec *r = &t->recs[t->n++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->slot = slot;
    return r;
}

static size_t pool_take(dv_db *db, size_t bytes) {
    struct dv_txn *t = db->txn;
    if (t->pool_len + bytes > t->pool_cap &&
        !grow(&db->mem, (void **)&t->pool, &t->pool_cap, t->pool_len + bytes, 1))
        __builtin_trap();
    size_t off = t->pool_len;
    t->pool_len += bytes;
    return off;
}

/* ---- recording ----------------------------------------------------------- */

void dv_txn_log_edge_add(dv_db *db, uint32_t from, uint32_t layer, uint32_t to) {
    jrec *r = push(db, J_EDGE_ADD, from);
    r->layer = layer;
    r->a = to;
}

void dv_txn_log_edge_remove(dv_db *db, uint32_t from, uint32_t layer, uint32_t to, uint32_t pos) {
    jrec *r = push(db, J_EDGE_REMOVE, from);
    r->layer = layer;
    r->a = to;
    r->b = pos;
}

void dv_txn_log_entry(dv_db *db, uint32_t old_entry, uint32_t old_max_level) {
    jrec *r = push(db, J_ENTRY, old_entry);
    r->a = old_entry;
    r->b = old_max_level;
}

void dv_txn_log_vector(dv_db *db, uint32_t slot) {
    jrec *r = push(db, J_VECTOR, slot);
    r->off = pool_take(db, vector_bytes(db));
    memcpy(db->txn->pool + r->off, dv_vec(db, slot), vector_bytes(db));
    r->f = dv_info(db, slot)->inv_norm;
}

/* A sparse update saves only the entries it overwrites, (index, old bits)
 * pairs, when that is smaller than the vector: a 5% update of a 384-dim
 * vector then journals 152 bytes instead of 1,536 (it is most of its cost). */
void dv_txn_log_sparse(dv_db *db, uint32_t slot, const uint32_t *idx, size_t n) {
    if (n * 8 >= vector_bytes(db)) {
        dv_txn_log_vector(db, slot);
        return;
    }
    jrec *r = push(db, J_SPARSE, slot);
    r->a = (uint32_t)n;
    r->off = pool_take(db, n * 8);
    unsigned char *p = db->txn->pool + r->off;
    const float *v = dv_vec(db, slot);
    for (size_t i = 0; i < n; i++) {
        memcpy(p + i * 8, &idx[i], 4);
        memcpy(p + i * 8 + 4, &v[idx[i]], 4);
    }
    r->f = dv_info(db, slot)->inv_norm;
}

void dv_txn_log_attach(dv_db *db, uint32_t slot, uint32_t from_free_index, uint32_t old_n_slots) {
    jrec *r = push(db, J_ATTACH, slot);
    r->a = from_free_index;
    r->b = old_n_slots;
}

void dv_txn_log_detach(dv_db *db, uint32_t slot) {
    jrec *r = push(db, J_DETACH, slot);
    r->off = pool_take(db, detach_bytes(db));
    unsigned char *p = db->txn->pool + r->off;
    const dv_slot *si = dv_info(db, slot);
    memcpy(p, si, sizeof *si);
    p += sizeof *si;
    memcpy(p, dv_l0(db, slot), db->links0_words * 4); /* count + list, then the vector */
    p += db->links0_words * 4;
    memcpy(p, dv_vec(db, slot), vector_bytes(db));
    p += vector_bytes(db);
    for (uint32_t l = 1; l <= si->level; l++) {
        uint32_t count = dv_list(db, slot, l)[0];
        memcpy(p + (size_t)l * 4, &count, 4);
    }
}

void dv_txn_log_tombstone(dv_db *db, uint32_t slot) { (void)push(db, J_TOMB, slot); }

void dv_txn_log_meta_remove(dv_db *db, uint32_t slot, uint32_t index, const char *key, const char *value) {
    jrec *r = push(db, J_META_REMOVE, slot);
    r->a = index;
    r->p1 = (void *)key;
    r->p2 = (void *)value;
}

void dv_txn_log_meta_overwrite(dv_db *db, uint32_t slot, uint32_t index, const char *old_value) {
    jrec *r = push(db, J_META_OVERWRITE, slot);
    r->a = index;
    r->p1 = (void *)old_value;
}

void dv_txn_log_meta_append(dv_db *db, uint32_t slot, void *old_block, int grew) {
    jrec *r = push(db, J_META_APPEND, slot);
    r->p1 = old_block;
    r->a = (uint32_t)grew;
}

/* After a transaction larger than this, its journal capacity is given back:
 * one huge batch must not keep hundreds of megabytes for the db's lifetime.
 * Below it the capacity is kept, so steady small transactions do not
 * reallocate. */
#define TXN_KEEP_RECORDS (16u * 1024u)
#define TXN_KEEP_POOL (1024u * 1024u)

static void trim(dv_db *db) {
    struct dv_txn *t = db->txn;
    if (t->cap > TXN_KEEP_RECORDS) {
        dv_mem_free(&db->mem, t->recs, t->cap * sizeof(jrec));
        t->recs = NULL;
        t->cap = 0;
    }
    if (t->pool_cap > TXN_KEEP_POOL) {
        dv_mem_free(&db->mem, t->pool, t->pool_cap);
        t->pool = NULL;
        t->pool_cap = 0;
    }
}

/* ---- undo ------------------------------------------------------------------ */

static void free_str(dv_db *db, const char *s) {
    if (s) dv_mem_free(&db->mem, (void *)s, strlen(s) + 1);
}

static void undo_edge_remove(dv_db *db, const jrec *r) {
    uint32_t *lst = dv_list(db, r->slot, r->layer);
    uint32_t n = lst[0];
    memmove(lst + 2 + r->b, lst + 1 + r->b, (size_t)(n - r->b) * 4);
    lst[1 + r->b] = r->a;
    lst[0] = n + 1;
    (*dv_indeg(db, r->a, r->layer))++;
}

static void undo_attach(dv_db *db, const jrec *r) {
    uint32_t slot = r->slot;
    dv_slot *si = dv_info(db, slot);
    dv_ids_remove(db, slot);
    free_str(db, si->id);
    dv_store_meta_free(db, si->meta);
    if (si->upper) dv_mem_free(&db->mem, si->upper, (size_t)si->level * (db->M + 2) * 4);
    memset(si, 0, sizeof *si);
    memset(dv_l0(db, slot), 0, db->links0_words * 4);
    memset(dv_vec(db, slot), 0, vector_bytes(db));
    db->live--;
    if (r->a != UINT32_MAX) { /* back onto the free stack where it was */
        memmove(db->free_slots + r->a + 1, db->free_slots + r->a, (size_t)(db->n_free - r->a) * 4);
        db->free_slots[r->a] = slot;
        db->n_free++;
    } else { /* the store had grown: drop the gap slots it pushed */
        db->n_free -= slot - r->b;
        db->n_slots = r->b;
    }
}

static void undo_detach(dv_db *db, const jrec *r) {
    uint32_t slot = r->slot;
    const unsigned char *p = db->txn->pool + r->off;
    dv_slot *si = dv_info(db, slot);
    memcpy(si, p, sizeof *si);
    p += sizeof *si;
    memcpy(dv_l0(db, slot), p, db->links0_words * 4);
    p += db->links0_words * 4;
    memcpy(dv_vec(db, slot), p, vector_bytes(db));
    p += vector_bytes(db);
    for (uint32_t l = 0; l <= si->level; l++) {
        uint32_t *lst = dv_list(db, slot, l);
        if (l > 0) memcpy(&lst[0], p + (size_t)l * 4, 4);
        for (uint32_t j = 0; j < lst[0]; j++) (*dv_indeg(db, lst[1 + j], l))++;
    }
    if (si->tomb) {
        db->n_tomb++;
    } else {
        dv_ids_add(db, slot);
        db->live++;
    }
    db->n_free--; /* detach pushed the slot on top; everything later is undone */
}

static void undo_meta(dv_db *db, const jrec *r) {
    dv_meta *m = dv_info(db, r->slot)->meta;
    if (r->kind == J_META_REMOVE) {
        memmove(&m->kv[r->a + 1], &m->kv[r->a], (size_t)(m->n - r->a) * sizeof(dv_meta_kv));
        m->kv[r->a].key = r->p1;
        m->kv[r->a].value = r->p2;
        m->n++;
    } else if (r->kind == J_META_OVERWRITE) {
        free_str(db, m->kv[r->a].value);
        m->kv[r->a].value = r->p1;
    } else { /* append: drop the last pair; restore the previous block */
        m->n--;
        free_str(db, m->kv[m->n].key);
        free_str(db, m->kv[m->n].value);
        if (r->a) {
            dv_mem_free(&db->mem, m, meta_bytes(m->cap));
            dv_info(db, r->slot)->meta = r->p1;
        }
    }
    dv_info(db, r->slot)->meta_sig = dv_store_meta_sig(dv_info(db, r->slot)->meta);
}

static void undo(dv_db *db, const jrec *r) {
    switch (r->kind) {
    case J_EDGE_ADD: {
        uint32_t *lst = dv_list(db, r->slot, r->layer);
        lst[0]--;
        (*dv_indeg(db, r->a, r->layer))--;
        break;
    }
    case J_EDGE_REMOVE:
        undo_edge_remove(db, r);
        break;
    case J_ENTRY:
        db->entry = r->a;
        db->max_level = r->b;
        break;
    case J_VECTOR:
        memcpy(dv_vec(db, r->slot), db->txn->pool + r->off, vector_bytes(db));
        dv_info(db, r->slot)->inv_norm = r->f;
        break;
    case J_SPARSE: {
        const unsigned char *p = db->txn->pool + r->off;
        float *v = dv_vec(db, r->slot);
        for (uint32_t i = 0; i < r->a; i++) {
            uint32_t at;
            memcpy(&at, p + (size_t)i * 8, 4);
            memcpy(&v[at], p + (size_t)i * 8 + 4, 4);
        }
        dv_info(db, r->slot)->inv_norm = r->f;
        break;
    }
    case J_ATTACH:
        undo_attach(db, r);
        break;
    case J_DETACH:
        undo_detach(db, r);
        break;
    case J_TOMB:
        dv_info(db, r->slot)->tomb = 0;
        dv_ids_add(db, r->slot);
        db->live++;
        db->n_tomb--;
        break;
    default:
        undo_meta(db, r);
        break;
    }
}

void dv_txn_rollback(dv_db *db) {
    struct dv_txn *t = db->txn;
    if (!t || !t->open) return;
    for (size_t i = t->n; i > 0; i--) undo(db, &t->recs[i - 1]);
    db->rng = t->rng;
    t->open = 0;
    t->n = 0;
    t->pool_len = 0;
    trim(db);
}

size_t dv_txn_mark(const dv_db *db) { return db->txn && db->txn->open ? db->txn->n : 0; }

void dv_txn_rollback_to(dv_db *db, size_t mark) {
    struct dv_txn *t = db->txn;
    if (!t || !t->open) return;
    for (size_t i = t->n; i > mark; i--) undo(db, &t->recs[i - 1]);
    if (mark < t->n) t->n = mark; /* pool bytes of the undone records are simply not reused */
}

/* ---- commit: free what the journal kept alive ------------------------------- */

static void release(dv_db *db, const jrec *r) {
    switch (r->kind) {
    case J_DETACH: {
        dv_slot si;
        memcpy(&si, db->txn->pool + r->off, sizeof si);
        free_str(db, si.id);
        dv_store_meta_free(db, si.meta);
        if (si.upper) dv_mem_free(&db->mem, si.upper, (size_t)si.level * (db->M + 2) * 4);
        break;
    }
    case J_META_REMOVE:
        free_str(db, r->p1);
        free_str(db, r->p2);
        break;
    case J_META_OVERWRITE:
        free_str(db, r->p1);
        break;
    case J_META_APPEND:
        if (r->p1) dv_mem_free(&db->mem, r->p1, meta_bytes(((dv_meta *)r->p1)->cap));
        break;
    default:
        break;
    }
}

void dv_txn_commit(dv_db *db) {
    struct dv_txn *t = db->txn;
    if (!t || !t->open) return;
    for (size_t i = 0; i < t->n; i++) release(db, &t->recs[i]);
    t->open = 0;
    t->n = 0;
    t->pool_len = 0;
    trim(db);
}

void dv_txn_free(dv_db *db) {
    struct dv_txn *t = db->txn;
    if (!t) return;
    if (t->open) dv_txn_rollback(db);
    dv_mem_free(&db->mem, t->recs, t->cap * sizeof(jrec));
    dv_mem_free(&db->mem, t->pool, t->pool_cap);
    dv_mem_free(&db->mem, t, sizeof *t);
    db->txn = NULL;
}

int dv_txn_active(const dv_db *db) { return db->txn && db->txn->open; }
