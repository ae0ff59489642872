/*
 * snapshot.c -- the snapshot codec: a whole db to bytes and back
 * (deltavec.h section 4c; byte-by-byte spec in docs/STORAGE.md).
 *
 * Layout: a 160-byte header (magic, version, sizes, meta, config, graph
 * globals; XXH3-64 checksum) and six sections in a fixed order, each
 *     [kind u32][reserved u32 = 0][length u64] payload [checksum u64]
 * where the checksum is XXH3-64 of the 16 section-header bytes and the
 * payload, so every section is verified before it is used:
 *   1 SLOTS    per slot: state u8 (0 free, 1 vector, 2 tombstone), level u8,
 *              id_len u16, n_meta u16, 0 u16 (a tombstone: id_len = n_meta = 0)
 *   2 STRINGS  per vector: id bytes, then n_meta x [klen u16][vlen u16][key][value]
 *   3 NODES    per slot node_size bytes: its layer-0 list then its vector
 *              ([count][2M neighbours][dim floats]); free slots all zero
 *   4 UPPER    per live slot with level > 0: level x [count][M neighbours]
 *   5 FREE     the free-slot stack, bottom to top (u32 each)
 *   6 SEQS     optional per-slot sequence table (u64 each), or empty
 * NODES is the bulk of a snapshot: the db keeps lists and vectors in two
 * arrays (db_internal.h), which the writer interleaves node by node through
 * its stage and the loader splits again. The loader reads it once: chunk by
 * chunk it feeds the section checksum, copies, then checks and
 * state-hashes each slot of the chunk while it is in cache (a damaged NODES
 * is still reported as DV_ECHECKSUM). dv_db_snapshot_load reads the same
 * layout through the caller's source (large reads at offsets): header
 * first, then each small section whole into a buffer of its own, checked as
 * it arrives, and NODES chunk by chunk into one chunk-sized buffer, so a
 * file is read once with no mapping. Both modes share every check below.
 *
 * Derived data is not stored but rebuilt: in-degrees, cosine inverse norms,
 * the id map. Loading validates everything the db's invariants require
 * (check.c) before handing the db out, then recomputes the state hash and
 * compares it with the recorded one: bytes that pass are a db the rest of
 * the library can trust. Nothing here does I/O; the writer streams through
 * the caller's sink, batching small fields in a stack buffer.
 */
#include <string.h>
#include <xxhash.h>

#include "db/db_internal.h"
#include "db/state_hash.h"
#include "simd/simd.h"
#include "util/le.h"
#include "util/text.h"
#include "util/utf8.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the snapshot codec copies the db's arrays as little-endian bytes"
#endif

#define HDR DV_SNAPSHOT_HEADER_SIZE
#define SEC_HDR 16u
#define SEC_TRAILER 8u
#define N_SECTIONS 6u
#define SLOT_REC 8u

enum { SEC_SLOTS = 1, SEC_STRINGS, SEC_NODES, SEC_UPPER, SEC_FREE, SEC_SEQS };
static const char *const SEC_NAMES[] = {"?", "slots", "strings", "nodes", "upper", "free", "seqs"};

/* ---- layout (shared by size and write) ------------------------------------- */

typedef struct layout {
    uint64_t len[N_SECTIONS + 1]; /* payload bytes per section kind */
    uint64_t total;
    size_t n_seqs; /* entries of the SEQS section: 0 or n_slots */
} layout;

static uint64_t meta_pair_bytes(const dv_meta *m) {
    uint64_t b = 0;
    for (uint32_t j = 0; m && j < m->n; j++) b += 4 + strlen(m->kv[j].key) + strlen(m->kv[j].value);
    return b;
}

static void compute_layout(const dv_db *db, const dv_snapshot_meta *meta, layout *L) {
    memset(L, 0, sizeof *L);
    uint64_t strings = 0, upper_lists = 0;
    for (uint32_t i = 0; i < db->n_slots; i++) {
        const dv_slot *si = dv_info(db, i);
        if (!si->live) continue;
        if (!si->tomb) strings += si->id_len + meta_pair_bytes(si->meta);
        upper_lists += si->level;
    }
    L->n_seqs = meta && meta->slot_sequences ? db->n_slots : 0;
    L->len[SEC_SLOTS] = (uint64_t)db->n_slots * SLOT_REC;
    L->len[SEC_STRINGS] = strings;
    L->len[SEC_NODES] = (uint64_t)db->n_slots * db->node_size;
    L->len[SEC_UPPER] = upper_lists * (1 + (uint64_t)db->M) * 4;
    L->len[SEC_FREE] = (uint64_t)db->n_free * 4;
    L->len[SEC_SEQS] = (uint64_t)L->n_seqs * 8;
    L->total = HDR;
    for (unsigned k = 1; k <= N_SECTIONS; k++) L->total += SEC_HDR + L->len[k] + SEC_TRAILER;
}

/* ---- writer ------------------------------------------------------------------ */

#define STAGE 8192

typedef struct writer {
    dv_stream_sink_fn sink;
    void *ctx;
    dv_status st;
    XXH3_state_t h;
    size_t n; /* staged bytes */
    uint8_t stage[STAGE];
} writer;

static void w_flush(writer *w) {
    if (w->n && w->st == DV_OK) w->st = w->sink(w->ctx, w->stage, w->n);
    w->n = 0;
}

/* Appends bytes to the output and to the current section's hash. */
static void w_put(writer *w, const void *p, size_t len) {
    if (w->st != DV_OK || len == 0) return;
    dv_xxh3_update(&w->h, p, len);
    if (len >= STAGE / 2) { /* large: pass through without copying */
        w_flush(w);
        if (w->st == DV_OK) w->st = w->sink(w->ctx, p, len);
        return;
    }
    if (w->n + len > STAGE) w_flush(w);
    memcpy(w->stage + w->n, p, len);
    w->n += len;
}

static void w_u16(writer *w, uint16_t v) {
    uint8_t b[2];
    dv_st16(b, v);
    w_put(w, b, 2);
}

static void w_zeros(writer *w, size_t len) {
    static const uint8_t zero[1024];
    while (len > 0) {
        size_t k = len < sizeof zero ? len : sizeof zero;
        w_put(w, zero, k);
        len -= k;
    }
}

static void sec_begin(writer *w, uint32_t kind, uint64_t len) {
    uint8_t b[SEC_HDR];
    dv_st32(b, kind);
    dv_st32(b + 4, 0);
    dv_st64(b + 8, len);
    XXH3_64bits_reset(&w->h);
    w_put(w, b, sizeof b);
}

static void sec_end(writer *w) {
    uint8_t b[8];
    dv_st64(b, XXH3_64bits_digest(&w->h));
    w_put(w, b, 8); /* hashing it too is harmless: the state is reset next */
}

static void encode_header(const dv_db *db, const dv_snapshot_meta *meta, const layout *L, uint8_t *h) {
    memset(h, 0, HDR);
    memcpy(h, DV_SNAPSHOT_MAGIC, DV_SNAPSHOT_MAGIC_SIZE);
    dv_st16(h + 8, DV_SNAPSHOT_VERSION);
    dv_st16(h + 10, HDR);
    dv_st32(h + 12, N_SECTIONS);
    dv_st64(h + 24, L->total);
    if (meta) {
        dv_st64(h + 32, meta->sequence);
        memcpy(h + 40, meta->db_id, DV_STREAM_DB_ID_SIZE);
        h[68] = meta->mode;
    }
    dv_st64(h + 56, dv_db_state_hash(db));
    dv_st32(h + 64, DV_VERSION_NUMBER);
    dv_st32(h + 72, db->dim);
    dv_st32(h + 76, (uint32_t)db->cfg.metric);
    dv_st32(h + 80, db->M);
    dv_st32(h + 84, db->cfg.ef_construction);
    dv_st32(h + 88, db->cfg.ef_search);
    memcpy(h + 92, &db->cfg.relink_ratio, 4);
    dv_st64(h + 96, db->cfg.seed);
    dv_st64(h + 104, db->rng);
    dv_st32(h + 112, db->n_slots);
    dv_st32(h + 116, db->n_free);
    dv_st32(h + 120, (uint32_t)db->live);
    dv_st32(h + 124, db->entry);
    dv_st32(h + 128, db->max_level);
    dv_st64(h + 16, XXH3_64bits(h, HDR));
}

static void write_slots(writer *w, const dv_db *db) {
    for (uint32_t i = 0; i < db->n_slots; i++) {
        const dv_slot *si = dv_info(db, i);
        uint8_t r[SLOT_REC] = {0};
        if (si->live && si->tomb) {
            r[0] = 2;
            r[1] = si->level;
        } else if (si->live) {
            r[0] = 1;
            r[1] = si->level;
            dv_st16(r + 2, si->id_len);
            dv_st16(r + 4, (uint16_t)(si->meta ? si->meta->n : 0));
        }
        w_put(w, r, sizeof r);
    }
}

static void write_strings(writer *w, const dv_db *db) {
    for (uint32_t i = 0; i < db->n_slots; i++) {
        const dv_slot *si = dv_info(db, i);
        if (!si->live || si->tomb) continue;
        w_put(w, si->id, si->id_len);
        for (uint32_t j = 0; si->meta && j < si->meta->n; j++) {
            size_t kl = strlen(si->meta->kv[j].key), vl = strlen(si->meta->kv[j].value);
            w_u16(w, (uint16_t)kl);
            w_u16(w, (uint16_t)vl);
            w_put(w, si->meta->kv[j].key, kl);
            w_put(w, si->meta->kv[j].value, vl);
        }
    }
}

#define GATHER (256u * 1024u)

/* Where node records are assembled: GATHER bytes from the db's allocator,
 * not counted in the db's memory (a const db may be read by searchers
 * meanwhile). */
typedef struct gather {
    const dv_db *db;
    uint8_t *buf; /* NULL: records go through the writer's stage */
    size_t per;   /* records per buffer */
} gather;

static void gather_open(gather *g, const dv_db *db) {
    g->db = db;
    g->per = GATHER / db->node_size;
    g->buf = g->per ? db->mem.a.realloc(db->mem.a.ctx, NULL, 0, g->per * db->node_size) : NULL;
}

static void gather_close(gather *g) {
    if (g->buf) g->db->mem.a.realloc(g->db->mem.a.ctx, g->buf, g->per * g->db->node_size, 0);
}

/* Node records of slots [i, j): assembled a buffer at a time, then one put
 * (hashed once, handed to the sink whole: a put per list and vector cost 50%
 * more, most of it in the sink's calls). */
static void write_live_nodes(writer *w, const gather *g, uint32_t i, uint32_t j) {
    const dv_db *db = g->db;
    size_t lb = db->links0_words * 4, vb = db->vector_size, nb = db->node_size;
    if (!g->buf) {
        for (; i < j; i++) {
            w_put(w, dv_l0(db, i), lb);
            w_put(w, dv_vec(db, i), vb);
        }
        return;
    }
    while (i < j && w->st == DV_OK) {
        uint8_t *p = g->buf;
        for (size_t k = 0; k < g->per && i < j; k++, i++, p += nb) {
            memcpy(p, dv_l0(db, i), lb);
            memcpy(p + lb, dv_vec(db, i), vb);
        }
        w_put(w, g->buf, (size_t)(p - g->buf));
    }
}

/* Live slots go out as their list then their vector; free slots as zeros
 * (a deleted vector's stale bytes never reach a file). */
static void write_nodes(writer *w, const dv_db *db) {
    gather g;
    gather_open(&g, db);
    uint32_t i = 0;
    while (i < db->n_slots) {
        uint32_t j = i;
        int live = dv_info(db, i)->live;
        while (j < db->n_slots && dv_info(db, j)->live == live) j++;
        if (live)
            write_live_nodes(w, &g, i, j);
        else
            w_zeros(w, (size_t)(j - i) * db->node_size);
        i = j;
    }
    gather_close(&g);
}

static void write_upper(writer *w, const dv_db *db) {
    for (uint32_t i = 0; i < db->n_slots; i++) {
        const dv_slot *si = dv_info(db, i);
        if (!si->live) continue;
        for (uint32_t l = 1; l <= si->level; l++) w_put(w, dv_list(db, i, l), (1 + (size_t)db->M) * 4);
    }
}

static void write_seqs(writer *w, const dv_snapshot_meta *meta, size_t n) {
    uint64_t given = meta->n_slot_sequences < n ? meta->n_slot_sequences : n;
    w_put(w, meta->slot_sequences, (size_t)given * 8);
    uint8_t unknown[8];
    dv_st64(unknown, DV_SEQ_UNKNOWN);
    for (uint64_t i = given; i < n; i++) w_put(w, unknown, 8);
}

static int meta_ok(const dv_snapshot_meta *meta) { return !meta || meta->mode <= DV_STREAM_LOGICAL; }

dv_status dv_db_snapshot_size(const dv_db *db, const dv_snapshot_meta *meta, uint64_t *size) {
    if (!db || !size || !meta_ok(meta)) return DV_EINVAL;
    layout L;
    compute_layout(db, meta, &L);
    *size = L.total;
    return DV_OK;
}

dv_status dv_db_snapshot_write(const dv_db *db, const dv_snapshot_meta *meta, dv_stream_sink_fn sink,
                               void *sink_ctx) {
    if (!db || !sink || !meta_ok(meta)) return DV_EINVAL;
    layout L;
    compute_layout(db, meta, &L);
    writer w;
    w.sink = sink;
    w.ctx = sink_ctx;
    w.st = DV_OK;
    w.n = 0;
    uint8_t h[HDR];
    encode_header(db, meta, &L, h);
    XXH3_64bits_reset(&w.h);
    w_put(&w, h, HDR);
    for (uint32_t k = 1; k <= N_SECTIONS; k++) {
        sec_begin(&w, k, L.len[k]);
        switch (k) {
        case SEC_SLOTS:
            write_slots(&w, db);
            break;
        case SEC_STRINGS:
            write_strings(&w, db);
            break;
        case SEC_NODES:
            write_nodes(&w, db);
            break;
        case SEC_UPPER:
            write_upper(&w, db);
            break;
        case SEC_FREE:
            w_put(&w, db->free_slots, (size_t)db->n_free * 4);
            break;
        default:
            if (L.n_seqs) write_seqs(&w, meta, L.n_seqs);
            break;
        }
        sec_end(&w);
    }
    w_flush(&w);
    return w.st;
}

typedef struct buf_sink {
    uint8_t *p;
    size_t cap, n;
} buf_sink;

static dv_status to_buf(void *ctx, const uint8_t *bytes, size_t len) {
    buf_sink *b = ctx;
    if (len > b->cap - b->n) return DV_ETOOBIG;
    memcpy(b->p + b->n, bytes, len);
    b->n += len;
    return DV_OK;
}

dv_status dv_db_snapshot_to_buffer(const dv_db *db, const dv_snapshot_meta *meta, uint8_t *buf, size_t cap,
                                   size_t *written) {
    if (!db || (!buf && cap) || !meta_ok(meta)) return DV_EINVAL;
    uint64_t size;
    dv_status st = dv_db_snapshot_size(db, meta, &size);
    if (st != DV_OK) return st;
    if (size > cap) return DV_ETOOBIG;
    buf_sink b = {buf, cap, 0};
    st = dv_db_snapshot_write(db, meta, to_buf, &b);
    if (st == DV_OK && written) *written = b.n;
    return st;
}

/* ---- reader ------------------------------------------------------------------ */

typedef struct reader {
    const uint8_t *buf; /* buffer mode: the whole snapshot; source mode: head */
    size_t len;         /* the snapshot's byte length (source mode: the size given) */
    dv_text msg;
    /* source mode (dv_db_snapshot_load): bytes come from src on demand, the
     * small sections into side buffers, NODES straight into the db's array */
    dv_snapshot_source_fn src;
    void *src_ctx;
    dv_mem side;
    size_t side_len[N_SECTIONS + 1];
    uint8_t head[HDR];
    /* decoded header */
    dv_snapshot_meta meta;
    dv_db_config cfg;
    uint64_t rng;
    uint32_t n_slots, n_free, live, entry, max_level;
    /* sections: payload offset in the snapshot and length; where the
     * section (its 16 header bytes, payload, checksum) is in memory (NULL:
     * NODES in source mode, streamed by load_nodes) */
    size_t off[N_SECTIONS + 1], slen[N_SECTIONS + 1];
    const uint8_t *sec[N_SECTIONS + 1];
    uint8_t nodes_hdr[SEC_HDR];
    uint64_t nodes_sum;
} reader;

static const uint8_t *payload(const reader *r, unsigned k) { return r->sec[k] + SEC_HDR; }

static void clear_msg(reader *r) {
    r->msg.len = 0;
    if (r->msg.cap) r->msg.buf[0] = 0;
}

static dv_status fail(reader *r, dv_status st, const char *what, uint64_t offset) {
    dv_text_put(&r->msg, what);
    dv_text_put(&r->msg, " at ");
    dv_text_u64(&r->msg, offset);
    dv_text_put(&r->msg, ": ");
    dv_text_put(&r->msg, dv_strerror(st));
    return st;
}

static dv_status sec_fail(reader *r, dv_status st, unsigned k, const char *what, uint64_t offset) {
    dv_text_put(&r->msg, "section ");
    dv_text_u64(&r->msg, k);
    dv_text_put(&r->msg, " (");
    dv_text_put(&r->msg, SEC_NAMES[k]);
    dv_text_put(&r->msg, "): ");
    return fail(r, st, what, offset);
}

/* Magic, version, header checksum, total size. Fills r->meta and the config. */
static dv_status read_header(reader *r, int exact_size) {
    const uint8_t *b = r->buf;
    if (r->len == 0) return fail(r, DV_EEMPTY, "empty input", 0);
    size_t m = r->len < DV_SNAPSHOT_MAGIC_SIZE ? r->len : DV_SNAPSHOT_MAGIC_SIZE;
    if (memcmp(b, DV_SNAPSHOT_MAGIC, m) != 0) return fail(r, DV_ENOTSNAPSHOT, "magic", 0);
    if (r->len < 12) return fail(r, DV_ETRUNCATED, "header", 0);
    if (dv_ld16(b + 8) != DV_SNAPSHOT_VERSION) return fail(r, DV_EVERSION, "version", 8);
    if (dv_ld16(b + 10) != HDR) return fail(r, DV_ECORRUPT, "header size", 10);
    if (r->len < HDR) return fail(r, DV_ETRUNCATED, "header", 0);
    uint8_t h[HDR];
    memcpy(h, b, HDR);
    uint64_t sum = dv_ld64(h + 16);
    memset(h + 16, 0, 8);
    if (XXH3_64bits(h, HDR) != sum) return fail(r, DV_ECHECKSUM, "header checksum", 16);
    uint64_t total = dv_ld64(h + 24);
    if (r->len < total) return fail(r, DV_ETRUNCATED, "end of snapshot", r->len);
    if (exact_size && r->len > total) return fail(r, DV_ECORRUPT, "bytes after the snapshot", total);
    dv_snapshot_meta *mt = &r->meta;
    memset(mt, 0, sizeof *mt);
    mt->size = total;
    mt->sequence = dv_ld64(h + 32);
    memcpy(mt->db_id, h + 40, DV_STREAM_DB_ID_SIZE);
    mt->state_hash = dv_ld64(h + 56);
    mt->producer_version = dv_ld32(h + 64);
    mt->mode = h[68];
    dv_db_config_default(&r->cfg, dv_ld32(h + 72));
    r->cfg.metric = (dv_metric)dv_ld32(h + 76);
    r->cfg.M = dv_ld32(h + 80);
    r->cfg.ef_construction = dv_ld32(h + 84);
    r->cfg.ef_search = dv_ld32(h + 88);
    memcpy(&r->cfg.relink_ratio, h + 92, 4);
    r->cfg.seed = dv_ld64(h + 96);
    r->rng = dv_ld64(h + 104);
    r->n_slots = dv_ld32(h + 112);
    r->n_free = dv_ld32(h + 116);
    r->live = dv_ld32(h + 120);
    r->entry = dv_ld32(h + 124);
    r->max_level = dv_ld32(h + 128);
    mt->count = r->live;
    mt->slots = r->n_slots;
    if (dv_ld32(h + 12) != N_SECTIONS) return fail(r, DV_ECORRUPT, "section count", 12);
    for (size_t i = 69; i < 72; i++)
        if (h[i]) return fail(r, DV_ECORRUPT, "reserved header byte", i);
    for (size_t i = 132; i < HDR; i++)
        if (h[i]) return fail(r, DV_ECORRUPT, "reserved header byte", i);
    if (mt->mode > DV_STREAM_LOGICAL) return fail(r, DV_ECORRUPT, "mode", 68);
    if (total < HDR) return fail(r, DV_ECORRUPT, "total size", 24);
    return DV_OK;
}

/* XXH3-64 of one section (through dv_xxh3_update when it is long enough
 * for the vector loop to matter; the value is the same). */
static uint64_t sum64(const uint8_t *p, size_t len) {
    if (len < 4096) return XXH3_64bits(p, len);
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    dv_xxh3_update(&st, p, len);
    return XXH3_64bits_digest(&st);
}

/* Source mode: len bytes at off into dst, or the source's status with the
 * offset (a read error is not damage: it is reported as the source said). */
static dv_status src_read(reader *r, unsigned k, uint8_t *dst, size_t len, uint64_t off) {
    dv_status st = r->src(r->src_ctx, dst, len, off);
    if (st == DV_OK) return DV_OK;
    clear_msg(r);
    return k ? sec_fail(r, st, k, "reading", off) : fail(r, st, "reading", off);
}

/* Where section k (header at pos, payload len) is in memory: in the buffer,
 * or (source mode) read into a side buffer of its own. NODES stays in the
 * source; only its header and checksum are kept. */
static dv_status place_section(reader *r, unsigned k, size_t pos, const uint8_t *s, uint64_t len) {
    if (k == SEC_NODES) {
        memcpy(r->nodes_hdr, s, SEC_HDR);
        if (!r->src) {
            r->sec[k] = r->buf + pos;
            r->nodes_sum = dv_ld64(r->buf + pos + SEC_HDR + len);
            return DV_OK;
        }
        uint8_t t[SEC_TRAILER];
        dv_status st = src_read(r, k, t, sizeof t, pos + SEC_HDR + len);
        r->nodes_sum = dv_ld64(t);
        return st;
    }
    if (!r->src) {
        r->sec[k] = r->buf + pos;
        return DV_OK;
    }
    size_t n = SEC_HDR + (size_t)len + SEC_TRAILER;
    uint8_t *b = dv_mem_alloc(&r->side, n);
    if (!b) return DV_ENOMEM;
    r->sec[k] = b;
    r->side_len[k] = n;
    memcpy(b, s, SEC_HDR);
    return src_read(r, k, b + SEC_HDR, n - SEC_HDR, pos + SEC_HDR);
}

/* Section framing and checksums, in order (source mode: reading each
 * section whole, NODES excepted, and verifying it as it arrives). */
static dv_status read_sections(reader *r) {
    size_t pos = HDR;
    for (unsigned k = 1; k <= N_SECTIONS; k++) {
        size_t left = (size_t)r->meta.size - pos;
        if (left < SEC_HDR + SEC_TRAILER) return sec_fail(r, DV_ECORRUPT, k, "section header", pos);
        uint8_t hdr[SEC_HDR];
        const uint8_t *s = r->buf + pos;
        dv_status st;
        if (r->src) {
            if ((st = src_read(r, k, hdr, sizeof hdr, pos)) != DV_OK) return st;
            s = hdr;
        }
        uint64_t len = dv_ld64(s + 8);
        if (dv_ld32(s) != k || dv_ld32(s + 4) != 0) return sec_fail(r, DV_ECORRUPT, k, "section kind", pos);
        if (len > left - SEC_HDR - SEC_TRAILER) return sec_fail(r, DV_ECORRUPT, k, "section length", pos + 8);
        if ((st = place_section(r, k, pos, s, len)) != DV_OK) return st;
        /* NODES, the bulk, is verified while it is copied (load_nodes) */
        if (k != SEC_NODES && sum64(r->sec[k], SEC_HDR + (size_t)len) != dv_ld64(r->sec[k] + SEC_HDR + len))
            return sec_fail(r, DV_ECHECKSUM, k, "checksum", pos);
        r->off[k] = pos + SEC_HDR;
        r->slen[k] = (size_t)len;
        pos += SEC_HDR + (size_t)len + SEC_TRAILER;
    }
    if (pos != r->meta.size) return fail(r, DV_ECORRUPT, "bytes after the last section", pos);
    return DV_OK;
}

/* Config and counts against each other and the section lengths (still no allocation). */
static dv_status check_counts(reader *r) {
    const dv_db_config *c = &r->cfg;
    if (c->dim < 1 || c->dim > DV_MAX_DIM || (unsigned)c->metric > DV_METRIC_COSINE || c->M < 2 ||
        c->M > DV_MAX_M || c->ef_construction < 1 || c->ef_construction > (1u << 24) || c->ef_search < 1 ||
        c->ef_search > (1u << 24) || !(c->relink_ratio >= 0.0f && c->relink_ratio <= 1e6f))
        return fail(r, DV_ECORRUPT, "config", 72);
    size_t node_size = (1 + 2 * (size_t)c->M) * 4 + (size_t)c->dim * 4;
    if (r->n_slots >= DV_NO_SLOT) return fail(r, DV_ECORRUPT, "slot count", 112);
    if ((uint64_t)r->live + r->n_free > r->n_slots) return fail(r, DV_ECORRUPT, "live + free > slots", 116);
    if (r->slen[SEC_SLOTS] != (uint64_t)r->n_slots * SLOT_REC)
        return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "length", r->off[SEC_SLOTS]);
    if (r->slen[SEC_NODES] != (uint64_t)r->n_slots * node_size)
        return sec_fail(r, DV_ECORRUPT, SEC_NODES, "length", r->off[SEC_NODES]);
    if (r->slen[SEC_FREE] != (uint64_t)r->n_free * 4)
        return sec_fail(r, DV_ECORRUPT, SEC_FREE, "length", r->off[SEC_FREE]);
    if (r->slen[SEC_SEQS] != 0 && r->slen[SEC_SEQS] != (uint64_t)r->n_slots * 8)
        return sec_fail(r, DV_ECORRUPT, SEC_SEQS, "length", r->off[SEC_SEQS]);
    if (r->max_level > DV_MAX_LEVEL) return fail(r, DV_ECORRUPT, "max level", 128);
    if (r->live == 0 && (r->entry != DV_NO_SLOT || r->max_level != 0))
        return fail(r, DV_ECORRUPT, "entry point of an empty db", 124);
    if (r->live != 0 && r->entry >= r->n_slots) return fail(r, DV_ECORRUPT, "entry point", 124);
    return DV_OK;
}

/* SLOTS records: flags, levels, id lengths, pair counts, the live count and
 * the UPPER length they imply. */
static dv_status check_slots(reader *r) {
    const uint8_t *s = payload(r, SEC_SLOTS);
    uint64_t live = 0, tombs = 0, upper_lists = 0;
    for (uint32_t i = 0; i < r->n_slots; i++, s += SLOT_REC) {
        uint64_t at = r->off[SEC_SLOTS] + (uint64_t)i * SLOT_REC;
        if (s[0] > 2 || dv_ld16(s + 6) != 0) return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "slot flags", at);
        if (!s[0]) {
            if (s[1] || dv_ld16(s + 2) || dv_ld16(s + 4))
                return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "free slot record", at);
            continue;
        }
        if (s[0] == 2) { /* a tombstone: graph only, above the top level is allowed */
            if (dv_ld16(s + 2) || dv_ld16(s + 4))
                return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "tombstone record", at);
            if (s[1] > DV_MAX_LEVEL) return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "level", at + 1);
            tombs++;
            upper_lists += s[1];
            continue;
        }
        uint16_t idl = dv_ld16(s + 2);
        if (s[1] > r->max_level) return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "level", at + 1);
        if (idl < 1 || idl > DV_MAX_ID_LEN) return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "id length", at + 2);
        if (dv_ld16(s + 4) > DV_MAX_META_PAIRS)
            return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "pair count", at + 4);
        live++;
        upper_lists += s[1];
    }
    if (live != r->live) return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "live count", r->off[SEC_SLOTS]);
    if (live + tombs + r->n_free != r->n_slots)
        return sec_fail(r, DV_ECORRUPT, SEC_SLOTS, "vectors + tombstones + free != slots", r->off[SEC_SLOTS]);
    if (r->slen[SEC_UPPER] != upper_lists * (1 + (uint64_t)r->cfg.M) * 4)
        return sec_fail(r, DV_ECORRUPT, SEC_UPPER, "length", r->off[SEC_UPPER]);
    return DV_OK;
}

static void free_pairs(dv_db *db, dv_meta_kv *kv, uint32_t n) {
    for (uint32_t j = 0; j < n; j++) {
        dv_mem_free(&db->mem, (void *)kv[j].key, strlen(kv[j].key) + 1);
        dv_mem_free(&db->mem, (void *)kv[j].value, strlen(kv[j].value) + 1);
    }
}

static char *copy_str(dv_db *db, const uint8_t *p, size_t n) {
    char *s = dv_mem_alloc(&db->mem, n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* Metadata pairs of one slot from STRINGS at *pos (bounds, UTF-8, no
 * duplicate key). On success *out owns the copies. */
static dv_status read_meta(reader *r, dv_db *db, size_t *pos, uint32_t n, dv_meta **out) {
    *out = NULL;
    if (n == 0) return DV_OK;
    const uint8_t *s = payload(r, SEC_STRINGS);
    size_t end = r->slen[SEC_STRINGS];
    dv_meta *m = dv_mem_alloc(&db->mem, sizeof(dv_meta) + (size_t)n * sizeof(dv_meta_kv));
    if (!m) return DV_ENOMEM;
    m->n = 0;
    m->cap = n;
    dv_status st = DV_OK;
    for (uint32_t j = 0; j < n && st == DV_OK; j++) {
        size_t at = *pos;
        if (end - *pos < 4) {
            st = sec_fail(r, DV_ECORRUPT, SEC_STRINGS, "pair lengths", r->off[SEC_STRINGS] + at);
            break;
        }
        size_t kl = dv_ld16(s + *pos), vl = dv_ld16(s + *pos + 2);
        *pos += 4;
        if (kl < 1 || kl > DV_MAX_META_KEY_LEN || vl < 1 || vl > DV_MAX_META_VALUE_LEN ||
            end - *pos < kl + vl || !dv_utf8_valid(s + *pos, kl) || !dv_utf8_valid(s + *pos + kl, vl)) {
            st = sec_fail(r, DV_ECORRUPT, SEC_STRINGS, "metadata pair", r->off[SEC_STRINGS] + at);
            break;
        }
        for (uint32_t q = 0; q < j && st == DV_OK; q++)
            if (strlen(m->kv[q].key) == kl && memcmp(m->kv[q].key, s + *pos, kl) == 0)
                st =
                    sec_fail(r, DV_ECORRUPT, SEC_STRINGS, "duplicate metadata key", r->off[SEC_STRINGS] + at);
        if (st != DV_OK) break;
        char *k = copy_str(db, s + *pos, kl);
        char *v = k ? copy_str(db, s + *pos + kl, vl) : NULL;
        if (!v) {
            if (k) dv_mem_free(&db->mem, k, kl + 1);
            st = DV_ENOMEM;
            break;
        }
        m->kv[j].key = k;
        m->kv[j].value = v;
        m->n++;
        *pos += kl + vl;
    }
    if (st != DV_OK) {
        free_pairs(db, m->kv, m->n);
        m->n = 0;
        dv_store_meta_free(db, m);
        return st;
    }
    *out = m;
    return DV_OK;
}

/* A tombstone: upper lists only (no id, no metadata). */
static dv_status load_tombstone(reader *r, dv_db *db, uint32_t i, uint32_t level, const uint8_t *up) {
    (void)r;
    dv_slot *si = dv_info(db, i);
    size_t up_list = (1 + (size_t)db->M) * 4;
    if (level > 0) {
        si->upper = dv_mem_calloc(&db->mem, (size_t)level * (db->M + 2), 4);
        if (!si->upper) return DV_ENOMEM;
        for (uint32_t l = 0; l < level; l++)
            memcpy(si->upper + (size_t)l * (db->M + 2), up + l * up_list, up_list);
    }
    si->level = (uint8_t)level;
    si->live = 1;
    si->tomb = 1;
    db->n_tomb++;
    return DV_OK;
}

/* Ids, metadata and upper lists of every live slot, and the hash of each id
 * in id_hash[slot] (the id map is filled after, by dv_ids_build). A slot is
 * marked live only once it owns all of its memory, so dv_db_close frees
 * exactly what was taken when a later slot fails. */
static dv_status load_slots(reader *r, dv_db *db, uint32_t *id_hash) {
    const uint8_t *rec = payload(r, SEC_SLOTS);
    const uint8_t *str = payload(r, SEC_STRINGS);
    const uint8_t *up = payload(r, SEC_UPPER);
    size_t spos = 0, upos = 0, up_list = (1 + (size_t)db->M) * 4;
    for (uint32_t i = 0; i < r->n_slots; i++, rec += SLOT_REC) {
        if (!rec[0]) continue;
        if (rec[0] == 2) {
            dv_status st = load_tombstone(r, db, i, rec[1], up + upos);
            if (st != DV_OK) return st;
            upos += (size_t)rec[1] * up_list;
            continue;
        }
        size_t idl = dv_ld16(rec + 2);
        if (r->slen[SEC_STRINGS] - spos < idl || !dv_utf8_valid(str + spos, idl))
            return sec_fail(r, DV_ECORRUPT, SEC_STRINGS, "id", r->off[SEC_STRINGS] + spos);
        dv_slot *si = dv_info(db, i);
        char *id = copy_str(db, str + spos, idl);
        if (!id) return DV_ENOMEM;
        spos += idl;
        dv_meta *m = NULL;
        dv_status st = read_meta(r, db, &spos, dv_ld16(rec + 4), &m);
        uint32_t level = rec[1];
        uint32_t *upper = NULL;
        if (st == DV_OK && level > 0) {
            upper = dv_mem_calloc(&db->mem, (size_t)level * (db->M + 2), 4);
            if (!upper) st = DV_ENOMEM;
        }
        if (st != DV_OK) {
            dv_store_meta_free(db, m);
            dv_mem_free(&db->mem, id, idl + 1);
            return st;
        }
        for (uint32_t l = 0; l < level; l++, upos += up_list)
            memcpy(upper + (size_t)l * (db->M + 2), up + upos, up_list);
        si->id = id;
        si->id_len = (uint16_t)idl;
        si->meta = m;
        si->meta_sig = dv_store_meta_sig(m);
        si->upper = upper;
        si->level = (uint8_t)level;
        si->live = 1; /* owns its memory now: close() frees it */
        id_hash[i] = dv_ids_hash(id, idl);
    }
    if (spos != r->slen[SEC_STRINGS])
        return sec_fail(r, DV_ECORRUPT, SEC_STRINGS, "unused bytes", r->off[SEC_STRINGS] + spos);
    return DV_OK;
}

/* Where slot's id starts in STRINGS (for the message about a duplicate id:
 * the section was parsed whole by then). */
static uint64_t id_offset(const reader *r, uint32_t slot) {
    const uint8_t *rec = payload(r, SEC_SLOTS);
    const uint8_t *str = payload(r, SEC_STRINGS);
    size_t pos = 0;
    for (uint32_t i = 0; i < slot; i++, rec += SLOT_REC) {
        if (!rec[0]) continue;
        pos += dv_ld16(rec + 2);
        for (uint32_t j = dv_ld16(rec + 4); j > 0; j--)
            pos += 4 + (size_t)dv_ld16(str + pos) + dv_ld16(str + pos + 2);
    }
    return r->off[SEC_STRINGS] + pos;
}

/* The NODES pass state: the section checksum runs over the chunks as they
 * are copied, and every slot of a chunk is checked and hashed right after
 * its copy, while it is in cache (one pass over the bulk of the input). */
typedef struct nodes_pass {
    XXH3_state_t sum; /* NODES section checksum */
    /* One word per slot, so that checking a neighbour and counting it is
     * one random access (they are the cost of the check; info[] is 40 bytes
     * a slot): WORD_DEG the layer-0 in-degree counted so far, WORD_LEVEL the
     * level + 1 (0: free slot), WORD_SEEN set while the slot is in the list
     * being checked. */
    uint64_t *word;
    uint32_t top; /* highest level of a live slot */
    dv_state_hasher state;
} nodes_pass;

#define WORD_DEG UINT64_C(0xffffffff)
#define WORD_LEVEL_SHIFT 32
#define WORD_LEVEL (UINT64_C(0x7f) << WORD_LEVEL_SHIFT) /* levels are <= DV_MAX_LEVEL + 1 < 0x80 */
#define WORD_SEEN (UINT64_C(1) << 39)

/* One list of slot i at layer l: a count within the degree bound and
 * neighbours that are in range (all of them first, in a loop the compiler
 * vectorises, so the loops after it index word[] without a branch), other
 * than i, live with a level >= l and distinct (each one marks its word; a
 * mark already there is a duplicate; the marks are cleared after). Layer-0
 * lists count their neighbours' in-degrees in the same access (when the
 * list is bad the load fails, so what it counted does not matter). Returns
 * 0 when the list is bad. */
static int check_list(nodes_pass *np, uint32_t n_slots, uint32_t i, uint32_t l, const uint32_t *lst,
                      uint32_t max_degree) {
    uint32_t count = lst[0];
    if (count > max_degree) return 0;
    const uint32_t *nb = lst + 1;
    uint32_t out = 0;
    for (uint32_t j = 0; j < count; j++) out |= (uint32_t)(nb[j] >= n_slots);
    if (out) return 0;
    uint64_t *word = np->word, need = (uint64_t)(l + 1) << WORD_LEVEL_SHIFT, add = l == 0, bad = 0;
    for (uint32_t j = 0; j < count; j++) {
        uint64_t w = word[nb[j]];
        bad |= (uint64_t)(nb[j] == i) | (w & WORD_SEEN) | (uint64_t)((w & WORD_LEVEL) < need);
        word[nb[j]] = (w | WORD_SEEN) + add;
    }
    for (uint32_t j = 0; j < count; j++) word[nb[j]] &= ~WORD_SEEN;
    return bad == 0;
}

static int finite_bits(const float *v, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        memcpy(&x, v + i, 4);
        bad |= (uint32_t)((x & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

/* One slot after its NODES bytes were copied (upper lists, ids and metadata
 * are loaded): free slots have an empty list; live ones finite values and
 * valid lists (check_list). Then upper in-degrees, norm and the slot's share
 * of the state hash. */
static dv_status check_slot(reader *r, dv_db *db, nodes_pass *np, uint32_t i) {
    dv_slot *si = dv_info(db, i);
    uint64_t at = r->off[SEC_NODES] + (uint64_t)i * db->node_size;
    if (!si->live) {
        if (dv_l0(db, i)[0] != 0) return sec_fail(r, DV_ECORRUPT, SEC_NODES, "list of a free slot", at);
        dv_state_hash_slot(&np->state, db, i);
        return DV_OK;
    }
    if (si->level > np->top && !si->tomb) np->top = si->level;
    if (!finite_bits(dv_vec(db, i), db->dim))
        return sec_fail(r, DV_ECORRUPT, SEC_NODES, "non-finite value", at);
    if (!check_list(np, db->n_slots, i, 0, dv_l0(db, i), db->M0))
        return sec_fail(r, DV_ECORRUPT, SEC_NODES, "neighbour list", at);
    for (uint32_t l = 1; l <= si->level; l++) {
        const uint32_t *lst = dv_list(db, i, l);
        if (!check_list(np, db->n_slots, i, l, lst, db->M))
            return sec_fail(r, DV_ECORRUPT, SEC_UPPER, "neighbour list", r->off[SEC_UPPER]);
        for (uint32_t j = 0; j < lst[0]; j++) (*dv_indeg(db, lst[1 + j], l))++;
    }
    si->inv_norm = dv_store_inv_norm(db, dv_vec(db, i));
    dv_state_hash_slot(&np->state, db, i);
    return DV_OK;
}

#define CHUNK (256u * 1024u)
#define PREFETCH_AHEAD 4u

/* Asks for the words of a slot's layer-0 neighbours a few slots before
 * check_list needs them, so their cache misses overlap the work on the
 * slots in between (hashing, the vector check) instead of stalling it.
 * The list is not checked yet: an index out of range prefetches word[0]. */
static void prefetch_list(const nodes_pass *np, const dv_db *db, uint32_t slot) {
    const uint32_t *lst = dv_l0(db, slot);
    uint32_t count = lst[0] <= db->M0 ? lst[0] : 0;
    for (uint32_t j = 1; j <= count; j++) __builtin_prefetch(&np->word[lst[j] < db->n_slots ? lst[j] : 0], 1);
}

/* Splits n node records [list][vector] into slots i.. (one storage run). */
static void place_nodes(dv_db *db, uint32_t i, uint32_t n, const uint8_t *rec) {
    size_t lb = db->links0_words * 4;
    uint32_t *list = dv_l0(db, i);
    char *vec = (char *)dv_vec(db, i);
    for (uint32_t k = 0; k < n; k++, rec += db->node_size) {
        memcpy(list + (size_t)k * db->links0_words, rec, lb);
        memcpy(vec + (size_t)k * db->vector_size, rec + lb, db->vector_size);
    }
}

/* Copies NODES into the db's arrays chunk by chunk (source mode: through
 * one chunk buffer), hashing and checking each slot. A damaged section is
 * reported as DV_ECHECKSUM even when a slot check failed first: the rest is
 * still hashed to tell the two apart. */
static dv_status load_nodes(reader *r, dv_db *db, nodes_pass *np) {
    const uint8_t *src = r->sec[SEC_NODES] ? payload(r, SEC_NODES) : NULL;
    XXH3_64bits_reset(&np->sum);
    XXH3_64bits_update(&np->sum, r->nodes_hdr, SEC_HDR);
    uint32_t per = (uint32_t)(CHUNK / db->node_size) + 1;
    size_t buf_len = src || r->n_slots == 0 ? 0 : (size_t)per * db->node_size;
    uint8_t *buf = buf_len ? dv_mem_alloc(&db->mem, buf_len) : NULL;
    if (buf_len && !buf) return DV_ENOMEM;
    dv_status st = DV_OK;
    for (uint32_t i = 0, n; i < r->n_slots; i += n) {
        n = r->n_slots - i < per ? r->n_slots - i : per;
        if (n > dv_slot_run(db, i)) n = dv_slot_run(db, i); /* a chunk stays in one block of each array */
        size_t off = (size_t)i * db->node_size, len = (size_t)n * db->node_size;
        const uint8_t *rec = src ? src + off : buf;
        if (!src) {
            dv_status rs = src_read(r, SEC_NODES, buf, len, r->off[SEC_NODES] + off);
            if (rs != DV_OK) {
                dv_mem_free(&db->mem, buf, buf_len);
                return rs;
            }
        }
        dv_xxh3_update(&np->sum, rec, len);
        if (st != DV_OK) continue;
        place_nodes(db, i, n, rec);
        for (uint32_t k = i; k < i + n && st == DV_OK; k++) {
            if (k + PREFETCH_AHEAD < i + n) prefetch_list(np, db, k + PREFETCH_AHEAD);
            st = check_slot(r, db, np, k);
        }
    }
    dv_mem_free(&db->mem, buf, buf_len);
    if (XXH3_64bits_digest(&np->sum) != r->nodes_sum) {
        clear_msg(r); /* the checksum explains it better than any slot check */
        return sec_fail(r, DV_ECHECKSUM, SEC_NODES, "checksum", r->off[SEC_NODES] - SEC_HDR);
    }
    return st;
}

/* Free stack (distinct free slots: with live + free == slots, all of them)
 * and entry point. */
static dv_status check_rest(reader *r, dv_db *db, nodes_pass *np) {
    const uint8_t *fs = payload(r, SEC_FREE);
    for (uint32_t k = 0; k < r->n_free; k++) {
        uint32_t s = dv_ld32(fs + (size_t)k * 4);
        if (s >= db->n_slots || (np->word[s] & (WORD_LEVEL | WORD_SEEN))) /* live, or already on the stack */
            return sec_fail(r, DV_ECORRUPT, SEC_FREE, "free slot", r->off[SEC_FREE] + (uint64_t)k * 4);
        np->word[s] |= WORD_SEEN;
        db->free_slots[k] = s;
    }
    if (r->live && (!dv_is_vector(db, r->entry) || dv_info(db, r->entry)->level != r->max_level ||
                    np->top != r->max_level))
        return fail(r, DV_ECORRUPT, "entry point", 124);
    return DV_OK;
}

static dv_status build(reader *r, const dv_allocator *allocator, dv_db **out) {
    dv_db_config cfg = r->cfg;
    cfg.allocator = allocator;
    dv_db *db;
    dv_status st = dv_db_open(&cfg, &db);
    if (st != DV_OK) return st;
    nodes_pass np;
    np.word = NULL;
    np.top = 0;
    uint32_t *id_hash = NULL;
    size_t n = r->n_slots;
    if ((st = dv_store_reserve(db, r->n_slots)) != DV_OK) goto fail;
    if (!dv_ids_reserve(db, r->live)) {
        st = DV_ENOMEM;
        goto fail;
    }
    if (n && !(id_hash = dv_mem_calloc(&db->mem, n, 4))) {
        st = DV_ENOMEM;
        goto fail;
    }
    db->n_slots = r->n_slots; /* info[] is zeroed: close() frees only slots marked live */
    if ((st = load_slots(r, db, id_hash)) != DV_OK) goto fail;
    uint32_t dup = dv_ids_build(db, id_hash);
    if (dup != DV_NO_SLOT) {
        st = sec_fail(r, DV_ECORRUPT, SEC_STRINGS, "duplicate id", id_offset(r, dup));
        goto fail;
    }
    dv_mem_free(&db->mem, id_hash, n * 4);
    id_hash = NULL;
    if (n && !(np.word = dv_mem_alloc(&db->mem, n * 8))) {
        st = DV_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < r->n_slots; i++)
        np.word[i] = dv_info(db, i)->live ? (uint64_t)(dv_info(db, i)->level + 1) << WORD_LEVEL_SHIFT : 0;
    dv_state_hash_begin(&np.state, db);
    if ((st = load_nodes(r, db, &np)) != DV_OK) goto fail;
    if ((st = check_rest(r, db, &np)) != DV_OK) goto fail;
    for (uint32_t i = 0; i < r->n_slots; i++) dv_info(db, i)->indeg0 = (uint32_t)(np.word[i] & WORD_DEG);
    dv_mem_free(&db->mem, np.word, n * 8);
    np.word = NULL;
    db->n_free = r->n_free;
    db->live = r->live;
    db->entry = r->entry;
    db->max_level = r->max_level;
    db->rng = r->rng;
    if (dv_state_hash_end(&np.state, db) != r->meta.state_hash) {
        st = fail(r, DV_ECORRUPT, "state hash differs from the recorded one", 56);
        goto fail;
    }
    *out = db;
    return DV_OK;
fail:
    if (id_hash) dv_mem_free(&db->mem, id_hash, n * 4);
    if (np.word) dv_mem_free(&db->mem, np.word, n * 8);
    dv_db_close(db);
    return st;
}

static dv_status load_seqs(reader *r, const dv_allocator *allocator, dv_snapshot_meta *meta) {
    size_t n = r->slen[SEC_SEQS] / 8;
    if (n == 0) return DV_OK;
    dv_mem m;
    dv_mem_init(&m, allocator);
    uint64_t *t = dv_mem_alloc(&m, n * 8);
    if (!t) return DV_ENOMEM;
    memcpy(t, payload(r, SEC_SEQS), n * 8);
    meta->slot_sequences = t;
    meta->n_slot_sequences = n;
    return DV_OK;
}

/* Everything after the header, both modes; frees the side buffers. */
static dv_status load(reader *r, const dv_allocator *allocator, dv_db **out, dv_snapshot_meta *meta) {
    dv_status st = read_sections(r);
    if (st == DV_OK) st = check_counts(r);
    if (st == DV_OK) st = check_slots(r);
    dv_db *db = NULL;
    if (st == DV_OK) st = build(r, allocator, &db);
    dv_snapshot_meta got = r->meta;
    if (st == DV_OK && meta && (st = load_seqs(r, allocator, &got)) != DV_OK) dv_db_close(db);
    if (st == DV_ENOMEM) fail(r, st, "loading", 0);
    for (unsigned k = 1; k <= N_SECTIONS; k++)
        if (r->side_len[k]) dv_mem_free(&r->side, (void *)r->sec[k], r->side_len[k]);
    if (st != DV_OK) return st;
    if (meta) *meta = got;
    *out = db;
    return DV_OK;
}

dv_status dv_db_snapshot_read(const uint8_t *buf, size_t len, const dv_allocator *allocator, dv_db **out,
                              dv_snapshot_meta *meta, char *msg, size_t cap) {
    if (out) *out = NULL;
    if (meta) memset(meta, 0, sizeof *meta);
    reader r;
    memset(&r, 0, sizeof r);
    dv_text_init(&r.msg, msg, cap);
    if (!out || (!buf && len)) return fail(&r, DV_EINVAL, "arguments", 0);
    r.buf = buf;
    r.len = len;
    dv_status st = read_header(&r, 1);
    return st == DV_OK ? load(&r, allocator, out, meta) : st;
}

dv_status dv_db_snapshot_load(dv_snapshot_source_fn source, void *ctx, uint64_t size,
                              const dv_allocator *allocator, dv_db **out, dv_snapshot_meta *meta, char *msg,
                              size_t cap) {
    if (out) *out = NULL;
    if (meta) memset(meta, 0, sizeof *meta);
    reader r;
    memset(&r, 0, sizeof r);
    dv_text_init(&r.msg, msg, cap);
    if (!out || !source || (uint64_t)(size_t)size != size) return fail(&r, DV_EINVAL, "arguments", 0);
    r.src = source;
    r.src_ctx = ctx;
    dv_mem_init(&r.side, allocator);
    size_t head = size < HDR ? (size_t)size : HDR;
    dv_status st = head ? src_read(&r, 0, r.head, head, 0) : DV_OK;
    if (st != DV_OK) return st;
    r.buf = r.head;
    r.len = (size_t)size;
    st = read_header(&r, 1);
    return st == DV_OK ? load(&r, allocator, out, meta) : st;
}

dv_status dv_snapshot_peek(const uint8_t *buf, size_t len, dv_snapshot_meta *meta) {
    if (!meta || (!buf && len)) return DV_EINVAL;
    memset(meta, 0, sizeof *meta);
    reader r;
    memset(&r, 0, sizeof r);
    dv_text_init(&r.msg, NULL, 0);
    r.buf = buf;
    r.len = len;
    dv_status st = read_header(&r, 0);
    if (st == DV_OK) *meta = r.meta;
    return st;
}

void dv_snapshot_meta_release(dv_snapshot_meta *meta, const dv_allocator *allocator) {
    if (!meta || !meta->slot_sequences) return;
    dv_mem m;
    dv_mem_init(&m, allocator);
    dv_mem_free(&m, meta->slot_sequences, meta->n_slot_sequences * 8);
    meta->slot_sequences = NULL;
    meta->n_slot_sequences = 0;
}
