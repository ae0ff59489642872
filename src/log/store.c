/*
 * store.c -- a database directory: snapshots + a durable log of deltas
 * (deltavec.h section 9; layout and guarantees in docs/STORAGE.md).
 *
 *   dir/LOCK                       flock'd by the one writer
 *   dir/<first seq, 20 digits>.dvs log segments: each one stream (stream
 *                                  header with the db config, then records)
 *   dir/<seq, 20 digits>.dvp       snapshots (state after that sequence)
 *   dir/<name>.tmp                 a segment or snapshot being written (ignored)
 *
 * Write path (one writer, many threads): a write takes `wmu`, runs the db
 * write; the db's capture hands the sealed delta to log_append (the capture
 * sink) which frames it with the stream writer and pwrites it at the end of
 * the current segment. A failed pwrite is cut off again (truncate) and
 * refused, so capture publishes nothing and the db undoes the write (the
 * journal of src/db/txn.c). Then, outside `wmu`, DV_SYNC_ALWAYS waits on
 * `smu` until a sync covers its sequence: the first waiter becomes the
 * leader and runs one fdatasync for everything written so far while the
 * others wait (group commit); writers appending meanwhile join the next
 * round. A failed fsync leaves the tail's durability unknown: the store is
 * then `failed` and refuses writes until reopened.
 *
 * Recovery: newest snapshot that loads, then every record after it,
 * applied through dv_apply (structural, inline: the replica path, so the
 * result is bit-identical). The first problem in the log (unreadable
 * header, checksum, gap, torn record) is a torn tail when it is in the
 * last segment and no verifiable record follows it (cut off by a writer),
 * else damage (DV_EDAMAGED: refused, or cut by dv_store_repair).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "deltavec.h"
#include "log/io.h"
#include "log/snapfile.h"
#include "util/alloc.h"

#define SEQ_DIGITS 20
#define NAME_MAX_LEN 48
#define READ_CHUNK (256u * 1024u)
#define NO_OFFSET UINT64_MAX

typedef struct name_list {
    uint64_t *seq;
    size_t n, cap;
} name_list;

/* The segment being tailed during recovery / refresh. */
typedef struct tail {
    int fd;
    uint64_t first;    /* first sequence (its name) */
    uint64_t file_off; /* next byte to read */
    uint64_t good_end; /* end of the last intact record (or of the header) */
    uint64_t last_seq; /* sequence of that record (first - 1 before any) */
    dv_stream_reader *rd;
    int header_ok;
} tail;

struct dv_store {
    dv_mem mem;
    const dv_io *io;
    dv_store_config cfg;
    float repair_fraction; /* the create config's, copied at open (cfg.create is the caller's); < 0: none */
    char *path;
    size_t path_len;
    int lock_fd;
    uint8_t db_id[DV_STREAM_DB_ID_SIZE];

    dv_db *db;
    dv_apply *ap;        /* replay (read-only stores keep it for refresh) */
    dv_capture *cap;     /* writers */
    tail t;              /* read-only stores: the segment being followed */
    uint64_t position;   /* last sequence in db */
    dv_stream_mode mode; /* the log's: from cfg.mode when created, else from the files */

    /* writer: the current segment */
    pthread_mutex_t wmu; /* db writes + appends */
    int seg_fd;
    uint64_t seg_first, seg_off;
    uint64_t seg_records;
    dv_stream_writer *w;
    uint8_t *rec; /* the record being framed */
    size_t rec_len, rec_cap;

    /* durability (smu) */
    pthread_mutex_t smu;
    pthread_cond_t scv;
    uint64_t written_seq, synced_seq;
    int syncing;
    _Atomic int failed; /* dv_status: sticky after an uncertain failure */
    int stop;
    int have_thread;
    pthread_t flusher;

    char err[320];
};

/* ---- small helpers ---------------------------------------------------------------- */

static void set_err(dv_store *s, const char *what, const char *file, int e) {
    snprintf(s->err, sizeof s->err, "%s %s: %s", what, file ? file : "", e ? strerror(e) : "failed");
}

static void seq_name(char *out, uint64_t seq, const char *ext) {
    snprintf(out, NAME_MAX_LEN, "%020llu%s", (unsigned long long)seq, ext);
}

static char *join(dv_store *s, const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", s->path, name);
    return buf;
}

/* "<20 digits><ext>" -> seq; 0 when the name is something else. */
static uint64_t parse_name(const char *name, const char *ext) {
    size_t el = strlen(ext);
    if (strlen(name) != SEQ_DIGITS + el || strcmp(name + SEQ_DIGITS, ext) != 0) return 0;
    uint64_t v = 0;
    for (int i = 0; i < SEQ_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    return v;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct list_ctx {
    dv_store *s;
    name_list *segs, *snaps;
    int oom;
} list_ctx;

static int push(dv_mem *m, name_list *l, uint64_t v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint64_t *p = dv_mem_realloc(m, l->seq, l->cap * 8, cap * 8);
        if (!p) return 0;
        l->seq = p;
        l->cap = cap;
    }
    l->seq[l->n++] = v;
    return 1;
}

static int on_name(void *ctx, const char *name) {
    list_ctx *c = ctx;
    uint64_t v;
    if ((v = parse_name(name, ".dvs")) != 0) {
        if (!push(&c->s->mem, c->segs, v)) c->oom = 1;
    } else if ((v = parse_name(name, ".dvp")) != 0) {
        if (!push(&c->s->mem, c->snaps, v)) c->oom = 1;
    }
    return c->oom;
}

/* Leftovers of a crash while a segment header or snapshot was being
 * written ("<name>.tmp"): never part of the database, removed by a writer. */
typedef struct tmp_ctx {
    dv_store *s;
    char names[16][NAME_MAX_LEN];
    int n;
} tmp_ctx;

static int on_tmp(void *ctx, const char *name) {
    tmp_ctx *t = ctx;
    size_t l = strlen(name);
    if (l > 4 && l < NAME_MAX_LEN && strcmp(name + l - 4, ".tmp") == 0 && t->n < 16)
        memcpy(t->names[t->n++], name, l + 1);
    return 0;
}

static void remove_tmp(dv_store *s) {
    tmp_ctx t;
    t.s = s;
    t.n = 0;
    if (s->io->list(s->io->ctx, s->path, on_tmp, &t) != 0) return;
    for (int i = 0; i < t.n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", s->path, t.names[i]);
        s->io->unlink(s->io->ctx, p);
    }
}

static void list_free(dv_store *s, name_list *l) {
    dv_mem_free(&s->mem, l->seq, l->cap * 8);
    memset(l, 0, sizeof *l);
}

static dv_status list_dir(dv_store *s, name_list *segs, name_list *snaps) {
    memset(segs, 0, sizeof *segs);
    memset(snaps, 0, sizeof *snaps);
    list_ctx c = {s, segs, snaps, 0};
    int e = s->io->list(s->io->ctx, s->path, on_name, &c);
    if (c.oom) e = ENOMEM;
    if (e) {
        set_err(s, "listing", s->path, e);
        list_free(s, segs);
        list_free(s, snaps);
        return dv_io_status(e);
    }
    if (segs->n > 1) qsort(segs->seq, segs->n, 8, cmp_u64);
    if (snaps->n > 1) qsort(snaps->seq, snaps->n, 8, cmp_u64);
    return DV_OK;
}

static dv_status sync_dir(dv_store *s) {
    int fd, e = s->io->open(s->io->ctx, s->path, DV_IO_DIR, &fd);
    if (!e) {
        e = s->io->sync(s->io->ctx, fd, 0);
        s->io->close(s->io->ctx, fd);
    }
    if (e) set_err(s, "fsync of directory", s->path, e);
    return dv_io_status(e);
}

/* Copies src into dst[cap], cut to fit, always NUL-terminated. */
static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void report_msg(dv_recovery_report *r, const char *msg) {
    if (r) copy_str(r->message, sizeof r->message, msg);
}

/* ---- reading whole files ---------------------------------------------------------- */

static dv_status read_file(dv_store *s, const char *name, uint8_t **buf, size_t *len) {
    char p[4096];
    int fd, e = s->io->open(s->io->ctx, join(s, name, p, sizeof p), DV_IO_READ, &fd);
    if (e) {
        set_err(s, "opening", name, e);
        return dv_io_status(e);
    }
    uint64_t size = 0;
    e = s->io->size(s->io->ctx, fd, &size);
    uint8_t *b = NULL;
    size_t got = 0;
    if (!e && size > SIZE_MAX - 1) e = EFBIG;
    if (!e && !(b = dv_mem_alloc(&s->mem, (size_t)size + 1))) e = ENOMEM;
    if (!e) e = s->io->pread(s->io->ctx, fd, b, (size_t)size, 0, &got);
    s->io->close(s->io->ctx, fd);
    if (e) {
        dv_mem_free(&s->mem, b, (size_t)size + 1);
        set_err(s, "reading", name, e);
        return dv_io_status(e);
    }
    *buf = b;
    *len = got;
    return DV_OK;
}

/* ---- recovery: tailing a segment ------------------------------------------------- */

static void tail_close(dv_store *s, tail *t) {
    if (t->fd >= 0) s->io->close(s->io->ctx, t->fd);
    dv_stream_reader_free(t->rd);
    memset(t, 0, sizeof *t);
    t->fd = -1;
}

static dv_status tail_open(dv_store *s, tail *t, uint64_t first) {
    char name[NAME_MAX_LEN], p[4096];
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->first = first;
    seq_name(name, first, ".dvs");
    int e = s->io->open(s->io->ctx, join(s, name, p, sizeof p), DV_IO_READ, &t->fd);
    if (e) {
        t->fd = -1;
        set_err(s, "opening", name, e);
        return dv_io_status(e);
    }
    dv_stream_reader_config rc;
    dv_stream_reader_config_default(&rc);
    rc.allocator = &s->mem.a;
    dv_status st = dv_stream_reader_open(&rc, &t->rd);
    if (st != DV_OK) tail_close(s, t);
    return st;
}

/* Is there a record after `from` in buf that verifies? (Then whatever is at
 * `from` is damage, not a torn tail.) */
static int valid_record_after(const uint8_t *buf, size_t len, size_t from) {
    for (size_t off = from; off + DV_DELTA_HEADER_SIZE <= len; off++) {
        dv_delta_header h;
        if (dv_delta_header_decode(buf + off, &h) != DV_OK) continue;
        if (h.payload_size > len - off - DV_DELTA_HEADER_SIZE) continue;
        if (dv_delta_verify(buf + off, buf + off + DV_DELTA_HEADER_SIZE, h.payload_size) == DV_OK) return 1;
    }
    return 0;
}

/* Records (whole or torn) framed from `from` to the end of buf. */
static uint64_t records_from(const uint8_t *buf, size_t len, size_t from) {
    uint64_t n = 0;
    size_t off = from;
    while (off < len) {
        dv_delta_header h;
        n++;
        if (len - off < DV_DELTA_HEADER_SIZE || dv_delta_header_decode(buf + off, &h) != DV_OK ||
            h.payload_size > len - off - DV_DELTA_HEADER_SIZE)
            break;
        off += DV_DELTA_HEADER_SIZE + h.payload_size;
    }
    return n;
}

typedef enum feed_result { FEED_CLEAN = 0, FEED_PROBLEM = 1, FEED_STOP = 2 } feed_result;

typedef struct feed_out {
    feed_result res;
    uint64_t problem_at; /* FEED_PROBLEM / FEED_STOP: offset concerned */
    dv_status problem;
    char msg[200];
} feed_out;

/* The stream header has just been read: it must name the segment's first
 * sequence. Sets good_end to the header's end. */
static int head_ok(tail *t, feed_out *out) {
    dv_stream_info info;
    if (dv_stream_reader_info(t->rd, &info) != DV_OK) return 1; /* the reader reports its own error */
    if (info.first_sequence != t->first) {
        out->res = FEED_PROBLEM;
        out->problem = DV_ECORRUPT;
        out->problem_at = 0;
        snprintf(out->msg, sizeof out->msg, "stream header says first sequence %llu",
                 (unsigned long long)info.first_sequence);
        return 0;
    }
    t->header_ok = 1;
    t->good_end = info.header_size;
    t->last_seq = t->first - 1;
    return 1;
}

/* Reads the segment from t->file_off to its end, applying every in-order
 * record after the db's position (and up to stop_after, if non-zero). At
 * the end of the file, at_end says whether to ask the reader for a torn
 * record (recovery) or leave it pending (a read-only store tailing). */
static dv_status tail_feed(dv_store *s, tail *t, uint64_t stop_after, int at_end, feed_out *out,
                           uint64_t *applied) {
    out->res = FEED_CLEAN;
    out->problem_at = NO_OFFSET;
    out->problem = DV_OK;
    out->msg[0] = 0;
    uint8_t *chunk = dv_mem_alloc(&s->mem, READ_CHUNK);
    if (!chunk) return DV_ENOMEM;
    dv_status result = DV_OK;
    for (;;) {
        size_t got = 0;
        int e = s->io->pread(s->io->ctx, t->fd, chunk, READ_CHUNK, t->file_off, &got);
        if (e) {
            set_err(s, "reading segment", "", e);
            result = dv_io_status(e);
            break;
        }
        size_t pos = 0;
        int stop = 0;
        while (!stop) {
            size_t used = 0;
            dv_stream_record rec;
            dv_status st = dv_stream_reader_next(t->rd, chunk + pos, got - pos, &used, &rec);
            pos += used;
            if (st == DV_EEMPTY) break;
            if (st == DV_OK) {
                if (!t->header_ok && !head_ok(t, out)) {
                    stop = 1;
                    break;
                }
                if (stop_after && rec.h.sequence > stop_after) {
                    out->res = FEED_STOP;
                    out->problem_at = rec.offset;
                    stop = 1;
                    break;
                }
                if (rec.h.sequence > s->position) {
                    if (rec.h.sequence != s->position + 1) {
                        out->res = FEED_PROBLEM;
                        out->problem = DV_EGAP;
                        out->problem_at = rec.offset;
                        snprintf(out->msg, sizeof out->msg, "record at %llu: sequence %llu after %llu",
                                 (unsigned long long)rec.offset, (unsigned long long)rec.h.sequence,
                                 (unsigned long long)s->position);
                        stop = 1;
                        break;
                    }
                    st = dv_apply_delta(s->ap, rec.header, rec.payload, rec.payload_len);
                    if (st != DV_OK) {
                        out->res = FEED_PROBLEM;
                        out->problem = st;
                        out->problem_at = rec.offset;
                        snprintf(out->msg, sizeof out->msg,
                                 "record at %llu (sequence %llu) refused by apply: %s",
                                 (unsigned long long)rec.offset, (unsigned long long)rec.h.sequence,
                                 dv_apply_last_error(s->ap));
                        stop = 1;
                        break;
                    }
                    s->position = rec.h.sequence;
                    if (applied) (*applied)++;
                }
                t->good_end = rec.offset + DV_DELTA_HEADER_SIZE + rec.payload_len;
                t->last_seq = rec.h.sequence;
                continue;
            }
            /* any other answer: the first problem of this segment */
            out->res = FEED_PROBLEM;
            out->problem = st;
            out->problem_at = rec.offset;
            copy_str(out->msg, sizeof out->msg, dv_stream_reader_message(t->rd));
            stop = 1;
        }
        dv_stream_info tmp;
        if (!stop && !t->header_ok && dv_stream_reader_info(t->rd, &tmp) == DV_OK && !head_ok(t, out))
            stop = 1;
        t->file_off += pos;
        if (stop) break;
        if (got < READ_CHUNK) { /* end of file */
            if (at_end) {
                uint64_t off = 0;
                dv_status st = dv_stream_reader_finish(t->rd, &off);
                if (st != DV_OK) {
                    out->res = FEED_PROBLEM;
                    out->problem = st;
                    out->problem_at = off;
                    copy_str(out->msg, sizeof out->msg, dv_stream_reader_message(t->rd));
                }
            }
            break;
        }
    }
    dv_mem_free(&s->mem, chunk, READ_CHUNK);
    return result;
}

/* ---- loading: snapshot + log ------------------------------------------------------- */

typedef enum load_mode { LOAD_OPEN, LOAD_REPAIR, LOAD_READ } load_mode;

static dv_status make_apply(dv_store *s, uint64_t start, const dv_snapshot_meta *meta) {
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = 0;
    /* a logical log has no graph parts: replay rebuilds the graph through the ordinary writes, which
     * (same start state, same writes in the same order, same level seed) gives the same state */
    ac.mode = s->mode == DV_STREAM_LOGICAL ? DV_APPLY_LOGICAL : DV_APPLY_STRUCTURAL;
    ac.start_position = start;
    ac.allocator = &s->mem.a;
    /* the repair policy is the writer's, not state (snapshots and logs do not keep it); it matters to a
     * logical replay, whose deletes repair the graph as dv_db_delete does: set it before the replay */
    dv_status st = s->repair_fraction >= 0.0f ? dv_db_set_repair_fraction(s->db, s->repair_fraction) : DV_OK;
    if (st == DV_OK) st = dv_apply_init(s->db, &ac, &s->ap);
    if (st == DV_OK && meta && meta->slot_sequences)
        st = dv_apply_restore_slot_sequences(s->ap, meta->slot_sequences, meta->n_slot_sequences);
    return st;
}

/* Loads the newest snapshot <= limit that loads; *loaded 0 when none did. */
static dv_status load_snapshot(dv_store *s, const name_list *snaps, uint64_t limit, dv_recovery_report *r,
                               int *loaded) {
    *loaded = 0;
    for (size_t i = snaps->n; i-- > 0;) {
        if (limit && snaps->seq[i] > limit) continue;
        char name[NAME_MAX_LEN];
        seq_name(name, snaps->seq[i], ".dvp");
        dv_snapshot_meta meta;
        char msg[160] = "", p[4096];
        int e = 0;
        dv_status st = dv_log_snapshot_load(s->io, join(s, name, p, sizeof p), &s->mem.a, &s->db, &meta, msg,
                                            sizeof msg, &e);
        if (e) { /* an I/O error is not a bad snapshot: do not fall back past it */
            set_err(s, "reading", name, e);
            return st;
        }
        if (st == DV_OK && meta.sequence != snaps->seq[i]) {
            st = DV_ECORRUPT;
            dv_db_close(s->db);
            s->db = NULL;
        }
        if (st != DV_OK) {
            if (r) r->snapshots_skipped++;
            dv_snapshot_meta_release(&meta, &s->mem.a);
            if (st == DV_ENOMEM) return st;
            continue;
        }
        memcpy(s->db_id, meta.db_id, sizeof s->db_id);
        s->position = meta.sequence;
        s->mode = (dv_stream_mode)meta.mode;
        st = make_apply(s, meta.sequence, &meta);
        dv_snapshot_meta_release(&meta, &s->mem.a);
        if (st != DV_OK) return st;
        if (r) r->snapshot_sequence = s->position;
        *loaded = 1;
        return DV_OK;
    }
    return DV_OK;
}

/* Reads the stream header of a segment (to create the db when no snapshot loads). */
static dv_status segment_info(dv_store *s, uint64_t first, dv_stream_info *info) {
    char name[NAME_MAX_LEN], p[4096];
    seq_name(name, first, ".dvs");
    int fd, e = s->io->open(s->io->ctx, join(s, name, p, sizeof p), DV_IO_READ, &fd);
    if (e) {
        set_err(s, "opening", name, e);
        return dv_io_status(e);
    }
    uint8_t head[DV_STREAM_MAX_HEADER];
    size_t got = 0;
    e = s->io->pread(s->io->ctx, fd, head, sizeof head, 0, &got);
    s->io->close(s->io->ctx, fd);
    if (e) return dv_io_status(e);
    return dv_stream_header_decode(head, got, info, NULL);
}

static dv_status truncate_file(dv_store *s, uint64_t first, uint64_t size) {
    char name[NAME_MAX_LEN], p[4096];
    seq_name(name, first, ".dvs");
    join(s, name, p, sizeof p);
    int e;
    if (size == 0) {
        e = s->io->unlink(s->io->ctx, p);
    } else {
        int fd;
        e = s->io->open(s->io->ctx, p, DV_IO_WRITE, &fd);
        if (!e) {
            e = s->io->truncate(s->io->ctx, fd, size);
            if (!e) e = s->io->sync(s->io->ctx, fd, 0);
            s->io->close(s->io->ctx, fd);
        }
    }
    if (e) {
        set_err(s, size ? "truncating" : "removing", name, e);
        return dv_io_status(e);
    }
    return DV_OK;
}

/* The first problem of segment segs[i]: a torn tail (cut it when allowed)
 * or damage. */
static dv_status on_problem(dv_store *s, const name_list *segs, size_t i, const feed_out *fo, load_mode mode,
                            dv_recovery_report *r) {
    char name[NAME_MAX_LEN];
    seq_name(name, segs->seq[i], ".dvs");
    uint8_t *buf = NULL;
    size_t len = 0;
    dv_status st = read_file(s, name, &buf, &len);
    if (st != DV_OK) return st;
    uint64_t at = fo->problem_at < len ? fo->problem_at : len;
    int last = i + 1 == segs->n;
    int damage = !last || valid_record_after(buf, len, (size_t)at + 1);
    uint64_t dropped = at == 0 ? 1 : records_from(buf, len, (size_t)at);
    uint64_t dropped_bytes = len - at;
    dv_mem_free(&s->mem, buf, len + 1);
    if (r) {
        copy_str(r->problem_file, sizeof r->problem_file, name);
        r->problem_offset = at;
    }
    if (damage && mode != LOAD_REPAIR) {
        char m[400];
        snprintf(m, sizeof m,
                 "%s at offset %llu: %.200s (%s); valid records follow: refused (dv_store_repair cuts here)",
                 name, (unsigned long long)at, fo->msg, dv_status_name(fo->problem));
        report_msg(r, m);
        copy_str(s->err, sizeof s->err, m);
        return DV_EDAMAGED;
    }
    if (mode == LOAD_READ) { /* a reader never cuts; an incomplete tail is the writer's business */
        char m[320];
        snprintf(m, sizeof m, "%s at offset %llu: %s (ignored by a read-only open)", name,
                 (unsigned long long)at, fo->msg);
        report_msg(r, m);
        return DV_OK;
    }
    /* cut: this segment at `at` (the whole file if its header is bad), and every later one */
    for (size_t j = segs->n; j-- > i + 1;) {
        char nj[NAME_MAX_LEN], p[4096];
        seq_name(nj, segs->seq[j], ".dvs");
        uint64_t sz = 0;
        int fd;
        if (!s->io->open(s->io->ctx, join(s, nj, p, sizeof p), DV_IO_READ, &fd)) {
            s->io->size(s->io->ctx, fd, &sz);
            s->io->close(s->io->ctx, fd);
        }
        if ((st = truncate_file(s, segs->seq[j], 0)) != DV_OK) return st;
        dropped_bytes += sz;
        dropped++;
    }
    if ((st = truncate_file(s, segs->seq[i], at < DV_STREAM_HEADER_SIZE ? 0 : at)) != DV_OK) return st;
    if ((st = sync_dir(s)) != DV_OK) return st;
    if (r) {
        r->dropped_records += dropped;
        r->dropped_bytes += dropped_bytes;
        char m[320];
        snprintf(m, sizeof m, "%s: %s at offset %llu (%s): cut %llu record(s), %llu byte(s)", name,
                 damage ? "damage" : "torn tail", (unsigned long long)at, fo->msg,
                 (unsigned long long)dropped, (unsigned long long)dropped_bytes);
        report_msg(r, m);
    }
    return DV_OK;
}

/* Loads snapshot + log into s->db / s->ap / s->position. stop_after != 0:
 * stop at that sequence (as_of, revert: a writer also cuts the log there).
 * *tail_seg gets the index of the last segment kept (SIZE_MAX: none). */
static dv_status load(dv_store *s, name_list *segs, const name_list *snaps, uint64_t stop_after,
                      load_mode mode, dv_recovery_report *r, uint64_t *tail_end) {
    int loaded = 0;
    dv_status st = load_snapshot(s, snaps, stop_after, r, &loaded);
    if (st != DV_OK) return st;
    if (!loaded) {
        if (segs->n == 0 || segs->seq[0] != 1) {
            snprintf(s->err, sizeof s->err, "no snapshot loads and the log does not start at sequence 1");
            report_msg(r, s->err);
            return DV_EGAP;
        }
        dv_stream_info info;
        if ((st = segment_info(s, 1, &info)) != DV_OK) {
            if (st == DV_EIO || st == DV_ENOMEM || st == DV_ENOTFOUND) return st; /* ENOTFOUND: unlinked */
            /* no snapshot and the first segment's header (the config) is unreadable: segment headers
             * are written whole (temporary file + rename), so this is damage, never a torn tail */
            snprintf(s->err, sizeof s->err,
                     "%020llu.dvs at offset 0: stream header unreadable (%s), no snapshot", 1ull,
                     dv_status_name(st));
            report_msg(r, s->err);
            if (r) snprintf(r->problem_file, sizeof r->problem_file, "%020llu.dvs", 1ull);
            return DV_EDAMAGED;
        }
        if ((st = dv_db_open_from_stream(&info, &s->mem.a, &s->db)) != DV_OK) return st;
        memcpy(s->db_id, info.db_id, sizeof s->db_id);
        s->position = 0;
        s->mode = (dv_stream_mode)info.mode;
        if ((st = make_apply(s, 0, NULL)) != DV_OK) return st;
    }
    *tail_end = NO_OFFSET;
    /* first segment to read: the last one starting at or before position + 1 */
    size_t i0 = 0;
    while (i0 + 1 < segs->n && segs->seq[i0 + 1] <= s->position + 1) i0++;
    if (segs->n && segs->seq[i0] > s->position + 1) {
        snprintf(s->err, sizeof s->err, "log starts at %llu, state is at %llu: sequences missing",
                 (unsigned long long)segs->seq[i0], (unsigned long long)s->position);
        report_msg(r, s->err);
        return DV_EGAP;
    }
    for (size_t i = i0; i < segs->n; i++) {
        tail t;
        if (segs->seq[i] != s->position + 1 && i > i0) { /* sequences missing between segments */
            feed_out fo = {FEED_PROBLEM, 0, DV_EGAP, ""};
            snprintf(fo.msg, sizeof fo.msg, "segment starts at %llu after sequence %llu",
                     (unsigned long long)segs->seq[i], (unsigned long long)s->position);
            if ((st = on_problem(s, segs, i, &fo, mode, r)) != DV_OK) return st;
            if (mode != LOAD_READ) segs->n = i;
            return DV_OK;
        }
        if ((st = tail_open(s, &t, segs->seq[i])) != DV_OK) return st;
        feed_out fo;
        uint64_t applied = 0;
        st = tail_feed(s, &t, stop_after, mode != LOAD_READ || i + 1 < segs->n, &fo, &applied);
        if (r) {
            r->segments++;
            r->records_replayed += applied;
        }
        if (st != DV_OK) {
            tail_close(s, &t);
            return st;
        }
        if (fo.res == FEED_STOP) {
            if (mode == LOAD_OPEN) { /* revert: cut the log after stop_after */
                for (size_t j = segs->n; j-- > i + 1;)
                    if ((st = truncate_file(s, segs->seq[j], 0)) != DV_OK) break;
                if (st == DV_OK)
                    st = truncate_file(s, segs->seq[i],
                                       fo.problem_at > DV_STREAM_HEADER_SIZE ? fo.problem_at : 0);
                if (st == DV_OK) st = sync_dir(s);
                segs->n = fo.problem_at > DV_STREAM_HEADER_SIZE ? i + 1 : i;
                *tail_end = fo.problem_at > DV_STREAM_HEADER_SIZE ? fo.problem_at : NO_OFFSET;
            }
            tail_close(s, &t);
            return st;
        }
        if (fo.res == FEED_PROBLEM) {
            int resumable = t.header_ok && t.last_seq == s->position;
            tail_close(s, &t);
            st = on_problem(s, segs, i, &fo, mode, r);
            if (st != DV_OK) return st;
            if (mode != LOAD_READ) {
                uint64_t at = fo.problem_at;
                segs->n = at < DV_STREAM_HEADER_SIZE ? i : i + 1;
                *tail_end = at < DV_STREAM_HEADER_SIZE || !resumable ? NO_OFFSET : at;
            }
            return DV_OK;
        }
        if (i + 1 == segs->n) {
            /* a writer continues this segment only if it ends exactly at the state (a newer
             * snapshot may have left it behind: then a new segment starts) */
            *tail_end = t.header_ok && t.last_seq == s->position ? t.good_end : NO_OFFSET;
            if (mode == LOAD_READ && !stop_after) {
                s->t = t; /* keep following it */
                continue;
            }
        }
        tail_close(s, &t);
    }
    if (stop_after && s->position < stop_after) {
        snprintf(s->err, sizeof s->err, "the log ends at %llu, before %llu", (unsigned long long)s->position,
                 (unsigned long long)stop_after);
        report_msg(r, s->err);
        return DV_EGAP;
    }
    return DV_OK;
}

/* ---- writer: segments and appends ---------------------------------------------------------- */

static dv_status rec_sink(void *ctx, const uint8_t *bytes, size_t len) {
    dv_store *s = ctx;
    if (s->rec_len + len > s->rec_cap) {
        size_t cap = s->rec_cap ? s->rec_cap : 4096;
        while (cap < s->rec_len + len) cap *= 2;
        uint8_t *p = dv_mem_realloc(&s->mem, s->rec, s->rec_cap, cap);
        if (!p) return DV_ENOMEM;
        s->rec = p;
        s->rec_cap = cap;
    }
    memcpy(s->rec + s->rec_len, bytes, len);
    s->rec_len += len;
    return DV_OK;
}

/* Creates segment `first` (header written and synced, directory synced)
 * and makes it current. The previous one, if any, is synced and closed
 * first (waiting out a sync in flight). */
static dv_status new_segment(dv_store *s, uint64_t first) {
    char name[NAME_MAX_LEN], p[4096], tmp[4096];
    seq_name(name, first, ".dvs");
    join(s, name, p, sizeof p);
    dv_stream_info info;
    dv_status st = dv_stream_info_from_db(s->db, s->mode, first, &info);
    if (st != DV_OK) return st;
    memcpy(info.db_id, s->db_id, sizeof info.db_id);
    uint8_t head[DV_STREAM_HEADER_SIZE];
    if ((st = dv_stream_header_encode(&info, head, sizeof head)) != DV_OK) return st;
    /* the header goes in under a temporary name: a segment file either has a whole header or does not exist
     */
    snprintf(tmp, sizeof tmp, "%.4000s.tmp", p);
    int fd, e = s->io->open(s->io->ctx, tmp, DV_IO_WRITE | DV_IO_CREATE, &fd);
    size_t w = 0;
    if (!e) {
        e = s->io->truncate(s->io->ctx, fd, 0);
        if (!e) e = s->io->pwrite(s->io->ctx, fd, head, sizeof head, 0, &w);
        if (!e) e = s->io->sync(s->io->ctx, fd, 0);
        if (!e) e = s->io->rename(s->io->ctx, tmp, p);
        if (e) {
            s->io->close(s->io->ctx, fd);
            s->io->unlink(s->io->ctx, tmp);
        }
    }
    if (e) {
        set_err(s, "creating segment", name, e);
        return dv_io_status(e);
    }
    if ((st = sync_dir(s)) != DV_OK) { /* the new name may or may not survive a crash: uncertain */
        s->io->close(s->io->ctx, fd);
        s->failed = DV_ESTATE;
        return st;
    }
    dv_stream_writer *nw = NULL;
    if ((st = dv_stream_writer_resume(sizeof head, first, rec_sink, s, &s->mem.a, &nw)) != DV_OK) {
        s->io->close(s->io->ctx, fd);
        return st;
    }
    /* retire the old segment: durable before anything lands in the new one */
    pthread_mutex_lock(&s->smu);
    while (s->syncing) pthread_cond_wait(&s->scv, &s->smu);
    if (s->seg_fd >= 0) {
        e = s->io->sync(s->io->ctx, s->seg_fd, 1);
        if (e) {
            pthread_mutex_unlock(&s->smu);
            set_err(s, "fdatasync", "segment", e);
            s->failed = dv_io_status(e);
            dv_stream_writer_free(nw);
            s->io->close(s->io->ctx, fd);
            return dv_io_status(e);
        }
        s->io->close(s->io->ctx, s->seg_fd);
        s->synced_seq = s->written_seq;
    }
    s->seg_fd = fd;
    pthread_mutex_unlock(&s->smu);
    dv_stream_writer_free(s->w);
    s->w = nw;
    s->seg_first = first;
    s->seg_off = sizeof head;
    s->seg_records = 0;
    return DV_OK;
}

/* The capture sink: frames the delta and writes it at the end of the
 * current segment. A refusal leaves the segment as it was (or, if the
 * partial bytes cannot be cut off, fails the store). */
static dv_status log_append(void *ctx, const uint8_t *hdr, const uint8_t *payload, size_t len) {
    dv_store *s = ctx;
    if (s->failed) return DV_ESTATE;
    dv_status st;
    if (s->seg_records && s->seg_off + DV_DELTA_HEADER_SIZE + len > s->cfg.segment_bytes) {
        dv_delta_header h;
        dv_delta_header_decode(hdr, &h);
        if ((st = new_segment(s, h.sequence)) != DV_OK) return st;
    }
    s->rec_len = 0;
    uint64_t off = s->seg_off, seq = dv_stream_writer_next_sequence(s->w);
    st = dv_stream_writer_append(s->w, hdr, payload, len);
    if (st != DV_OK) {
        if (dv_stream_writer_offset(s->w) != off || st == DV_ENOMEM) { /* the writer is broken: a fresh one */
            dv_stream_writer *nw = NULL;
            if (dv_stream_writer_resume(off, seq, rec_sink, s, &s->mem.a, &nw) == DV_OK) {
                dv_stream_writer_free(s->w);
                s->w = nw;
            }
        }
        return st;
    }
    size_t w = 0;
    int e = s->io->pwrite(s->io->ctx, s->seg_fd, s->rec, s->rec_len, off, &w);
    if (e) {
        set_err(s, "appending to segment", "", e);
        dv_stream_writer *nw = NULL;
        dv_status rs = dv_stream_writer_resume(off, seq, rec_sink, s, &s->mem.a, &nw);
        if (rs == DV_OK) {
            dv_stream_writer_free(s->w);
            s->w = nw;
        }
        /* cut the partial record off; if that fails the tail is uncertain */
        if (rs != DV_OK || (w > 0 && s->io->truncate(s->io->ctx, s->seg_fd, off) != 0)) s->failed = DV_ESTATE;
        return dv_io_status(e);
    }
    s->seg_off = off + s->rec_len;
    s->seg_records++;
    if (s->rec_cap > (1u << 20)) { /* give a huge record's buffer back */
        dv_mem_free(&s->mem, s->rec, s->rec_cap);
        s->rec = NULL;
        s->rec_cap = 0;
    }
    pthread_mutex_lock(&s->smu);
    s->written_seq = seq;
    pthread_mutex_unlock(&s->smu);
    return DV_OK;
}

/* smu held. Waits until everything up to `seq` is synced; the first waiter
 * syncs for all (group commit). */
static dv_status wait_durable(dv_store *s, uint64_t seq) {
    while (s->synced_seq < seq) {
        if (s->failed) return DV_EIO;
        if (s->syncing) {
            pthread_cond_wait(&s->scv, &s->smu);
            continue;
        }
        s->syncing = 1;
        uint64_t target = s->written_seq;
        int fd = s->seg_fd;
        pthread_mutex_unlock(&s->smu);
        int e = s->io->sync(s->io->ctx, fd, 1);
        pthread_mutex_lock(&s->smu);
        s->syncing = 0;
        if (e) {
            set_err(s, "fdatasync", "segment", e);
            s->failed = dv_io_status(e); /* what reached the disk is unknown */
        } else if (target > s->synced_seq) {
            s->synced_seq = target;
        }
        pthread_cond_broadcast(&s->scv);
    }
    return DV_OK;
}

static void *flusher_main(void *arg) {
    dv_store *s = arg;
    pthread_mutex_lock(&s->smu);
    while (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->cfg.sync_interval_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&s->scv, &s->smu, &ts);
        if (s->stop) break;
        if (!s->failed && s->written_seq > s->synced_seq) wait_durable(s, s->written_seq);
    }
    pthread_mutex_unlock(&s->smu);
    return NULL;
}

/* ---- open / close -------------------------------------------------------------------------- */

void dv_store_config_default(dv_store_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->sync = DV_SYNC_ALWAYS;
    cfg->sync_interval_ms = 100;
    cfg->segment_bytes = 64u << 20;
    cfg->keep_snapshots = 2;
    cfg->compress = 1;
}

static void make_db_id(uint8_t id[DV_STREAM_DB_ID_SIZE], const char *path) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t in[4] = {(uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec, (uint64_t)getpid(), (uint64_t)(uintptr_t)id};
    XXH128_hash_t h = XXH3_128bits_withSeed(in, sizeof in, XXH3_64bits(path, strlen(path)));
    memcpy(id, &h.low64, 8);
    memcpy(id + 8, &h.high64, 8);
}

/* Delta timestamps: wall clock, nanoseconds since the Unix epoch. */
static uint64_t wall_ns(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static dv_status start_capture(dv_store *s) {
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.ring.slot_count = 2;
    cc.ring.payload_size = dv_db_dim(s->db) > 1024 ? 1u << 20 : 256u << 10;
    cc.first_sequence = s->position + 1;
    if (s->mode == DV_STREAM_LOGICAL)
        cc.parts = DV_CAPTURE_VECTORS | DV_CAPTURE_METADATA; /* no graph parts */
    cc.compress = s->cfg.compress;
    cc.allocator = &s->mem.a;
    cc.clock = wall_ns;
    cc.sink = log_append;
    cc.sink_ctx = s;
    dv_status st = dv_capture_init(s->db, &cc, &s->cap);
    if (st != DV_OK) return st;
    size_t n = 0;
    const uint64_t *seqs = dv_apply_slot_sequences(s->ap, &n);
    if (seqs && n) st = dv_capture_restore_slot_sequences(s->cap, seqs, n);
    if (st == DV_OK) st = dv_capture_start(s->cap);
    return st;
}

/* Sets the writer up after load: resume the last segment or start one. */
static dv_status start_writer(dv_store *s, const name_list *segs, uint64_t tail_end) {
    pthread_mutex_lock(&s->smu); /* the flusher thread may be looking (revert) */
    s->written_seq = s->synced_seq = s->position;
    pthread_mutex_unlock(&s->smu);
    if (segs->n && tail_end != NO_OFFSET && segs->seq[segs->n - 1] <= s->position + 1) {
        char name[NAME_MAX_LEN], p[4096];
        uint64_t first = segs->seq[segs->n - 1];
        seq_name(name, first, ".dvs");
        int fd, e = s->io->open(s->io->ctx, join(s, name, p, sizeof p), DV_IO_WRITE, &fd);
        if (e) {
            set_err(s, "opening", name, e);
            return dv_io_status(e);
        }
        dv_status st = dv_stream_writer_resume(tail_end, s->position + 1, rec_sink, s, &s->mem.a, &s->w);
        if (st != DV_OK) {
            s->io->close(s->io->ctx, fd);
            return st;
        }
        s->seg_fd = fd;
        s->seg_first = first;
        s->seg_off = tail_end;
        s->seg_records = s->position + 1 - first;
    } else {
        dv_status st = new_segment(s, s->position + 1);
        if (st != DV_OK) return st;
    }
    return start_capture(s);
}

static void drop_state(dv_store *s) {
    dv_capture_free(s->cap);
    s->cap = NULL;
    dv_apply_free(s->ap);
    s->ap = NULL;
    dv_db_close(s->db);
    s->db = NULL;
    tail_close(s, &s->t);
}

static dv_status lock_dir(dv_store *s) {
    char p[4096];
    int e = s->io->open(s->io->ctx, join(s, "LOCK", p, sizeof p), DV_IO_WRITE | DV_IO_CREATE, &s->lock_fd);
    if (e) {
        s->lock_fd = -1;
        set_err(s, "opening", "LOCK", e);
        return dv_io_status(e);
    }
    e = s->io->lock(s->io->ctx, s->lock_fd);
    if (e) {
        if (e == EWOULDBLOCK || e == EAGAIN) {
            snprintf(s->err, sizeof s->err, "%s: another writer holds the directory", s->path);
            return DV_ELOCKED;
        }
        set_err(s, "locking", "LOCK", e);
        return dv_io_status(e);
    }
    return DV_OK;
}

/* Fresh directory: db from cfg->create, db id, first segment. */
static dv_status create_new(dv_store *s) {
    dv_db_config dc = *s->cfg.create;
    dc.allocator = &s->mem.a;
    dv_status st = dv_db_open(&dc, &s->db);
    if (st != DV_OK) return st;
    make_db_id(s->db_id, s->path);
    s->position = 0;
    s->mode = s->cfg.mode;
    return make_apply(s, 0, NULL);
}

static dv_status check_create_config(dv_store *s) {
    if (!s->cfg.create) return DV_OK;
    if (s->mode != s->cfg.mode) {
        static const char *const names[] = {"structural", "logical"};
        snprintf(s->err, sizeof s->err, "directory log mode %s != requested %s", names[s->mode & 1],
                 names[s->cfg.mode & 1]);
        return DV_ECONFIG;
    }
    dv_db_config dc = *s->cfg.create;
    dc.allocator = NULL;
    dv_db *tmp = NULL;
    dv_status st = dv_db_open(&dc, &tmp);
    if (st != DV_OK) return st;
    dv_stream_info info;
    st = dv_stream_info_from_db(s->db, DV_STREAM_STRUCTURAL, 1, &info);
    if (st == DV_OK) st = dv_stream_check_db(&info, tmp, s->err, sizeof s->err);
    dv_db_close(tmp);
    return st;
}

static dv_status open_inner(dv_store *s, dv_recovery_report *r, load_mode mode) {
    dv_status st;
    if (!s->cfg.read_only) {
        int e = s->cfg.create && mode == LOAD_OPEN ? s->io->mkdir(s->io->ctx, s->path) : 0;
        if (e && e != EEXIST) {
            set_err(s, "creating directory", s->path, e);
            return dv_io_status(e);
        }
        if ((st = lock_dir(s)) != DV_OK) return st;
        remove_tmp(s);
    }
    name_list segs, snaps;
    if ((st = list_dir(s, &segs, &snaps)) != DV_OK) return st;
    uint64_t tail_end = NO_OFFSET;
    if (segs.n == 0 && snaps.n == 0) {
        if (!s->cfg.create || s->cfg.read_only || mode == LOAD_REPAIR) {
            snprintf(s->err, sizeof s->err, "%s holds no database", s->path);
            st = DV_ENOTFOUND;
        } else {
            st = create_new(s);
        }
    } else {
        st = load(s, &segs, &snaps, s->cfg.read_only ? s->cfg.as_of : 0, mode, r, &tail_end);
        if (st == DV_OK) st = check_create_config(s);
    }
    if (st == DV_OK && mode == LOAD_OPEN) st = start_writer(s, &segs, tail_end);
    if (st == DV_OK && mode == LOAD_OPEN) { /* a writer needs the applier only to recover */
        dv_apply_free(s->ap);
        s->ap = NULL;
    }
    if (r) r->last_sequence = s->position;
    list_free(s, &segs);
    list_free(s, &snaps);
    return st;
}

static dv_status store_new(const char *path, const dv_store_config *cfg, dv_store **out) {
    dv_store_config def;
    if (!cfg) {
        dv_store_config_default(&def);
        cfg = &def;
    }
    if ((unsigned)cfg->sync > DV_SYNC_NONE || (cfg->sync == DV_SYNC_INTERVAL && cfg->sync_interval_ms == 0) ||
        cfg->segment_bytes < 256 || (unsigned)cfg->mode > DV_STREAM_LOGICAL)
        return DV_EINVAL;
    dv_mem mem;
    dv_mem_init(&mem, cfg->allocator);
    dv_store *s = dv_mem_calloc(&mem, 1, sizeof *s);
    if (!s) return DV_ENOMEM;
    s->mem = mem;
    s->cfg = *cfg;
    s->repair_fraction = cfg->create ? cfg->create->repair_fraction : -1.0f;
    if (!s->cfg.keep_snapshots) s->cfg.keep_snapshots = 1;
    s->io = cfg->io ? cfg->io : dv_io_posix();
    s->path_len = strlen(path);
    s->path = dv_mem_alloc(&s->mem, s->path_len + 1);
    if (!s->path) {
        dv_mem_free(&mem, s, sizeof *s);
        return DV_ENOMEM;
    }
    memcpy(s->path, path, s->path_len + 1);
    s->lock_fd = s->seg_fd = -1;
    s->t.fd = -1;
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->smu, NULL);
    pthread_cond_init(&s->scv, NULL);
    *out = s;
    return DV_OK;
}

static void store_free(dv_store *s) {
    drop_state(s);
    dv_stream_writer_free(s->w);
    if (s->seg_fd >= 0) s->io->close(s->io->ctx, s->seg_fd);
    if (s->lock_fd >= 0) s->io->close(s->io->ctx, s->lock_fd);
    dv_mem_free(&s->mem, s->rec, s->rec_cap);
    pthread_mutex_destroy(&s->wmu);
    pthread_mutex_destroy(&s->smu);
    pthread_cond_destroy(&s->scv);
    dv_mem_free(&s->mem, s->path, s->path_len + 1);
    dv_mem m = s->mem;
    dv_mem_free(&m, s, sizeof *s);
}

/* A reader lists and opens files while a writer may checkpoint, and sees
 * the directory between the writer's steps: readdir need not return the
 * entries renamed in during its scan (the new snapshot and segment), and a
 * file it listed may be unlinked by the retention before it is opened. That
 * shows as an empty listing or a vanished file (DV_ENOTFOUND) or a listing
 * with a hole in the sequences (DV_EGAP). An attempt started after the
 * writer's renames sees a consistent set of files; a directory that really
 * is empty or has a gap fails the same way every time. */
#define READER_ATTEMPTS 4

static int reader_may_retry(dv_status st) { return st == DV_ENOTFOUND || st == DV_EGAP; }

dv_status dv_store_open(const char *path, const dv_store_config *cfg, dv_store **out,
                        dv_recovery_report *report) {
    if (report) memset(report, 0, sizeof *report);
    if (!out) return DV_EINVAL;
    *out = NULL;
    if (!path || !*path || strlen(path) > 3000) return DV_EINVAL;
    dv_store *s;
    dv_status st = store_new(path, cfg, &s);
    if (st != DV_OK) return st;
    if (s->cfg.as_of && !s->cfg.read_only) st = DV_EINVAL;
    if (st == DV_OK) st = open_inner(s, report, s->cfg.read_only ? LOAD_READ : LOAD_OPEN);
    for (int again = 1; s->cfg.read_only && reader_may_retry(st) && again < READER_ATTEMPTS; again++) {
        drop_state(s);
        s->position = 0;
        s->err[0] = 0;
        if (report) memset(report, 0, sizeof *report);
        st = open_inner(s, report, LOAD_READ);
    }
    if (st == DV_OK && !s->cfg.read_only && s->cfg.sync == DV_SYNC_INTERVAL) {
        if (pthread_create(&s->flusher, NULL, flusher_main, s) != 0)
            st = DV_ENOMEM;
        else
            s->have_thread = 1;
    }
    if (st != DV_OK) {
        if (report && !report->message[0]) report_msg(report, s->err[0] ? s->err : dv_strerror(st));
        store_free(s);
        return st;
    }
    if (report && !report->message[0]) report_msg(report, "clean");
    *out = s;
    return DV_OK;
}

void dv_store_close(dv_store *s) {
    if (!s) return;
    if (s->have_thread) {
        pthread_mutex_lock(&s->smu);
        s->stop = 1;
        pthread_cond_broadcast(&s->scv);
        pthread_mutex_unlock(&s->smu);
        pthread_join(s->flusher, NULL);
    }
    if (!s->cfg.read_only && s->seg_fd >= 0 && !s->failed) dv_store_sync(s);
    store_free(s);
}

dv_status dv_store_repair(const char *path, const dv_store_config *cfg, dv_recovery_report *report) {
    if (report) memset(report, 0, sizeof *report);
    if (!path || !*path || strlen(path) > 3000) return DV_EINVAL;
    dv_store *s;
    dv_status st = store_new(path, cfg, &s);
    if (st != DV_OK) return st;
    s->cfg.read_only = 0;
    s->cfg.create = NULL;
    st = open_inner(s, report, LOAD_REPAIR);
    if (report && !report->message[0]) report_msg(report, st == DV_OK ? "nothing to repair" : s->err);
    store_free(s);
    return st;
}

const dv_db *dv_store_db(const dv_store *s) { return s ? s->db : NULL; }
uint64_t dv_store_sequence(const dv_store *s) {
    if (!s) return 0;
    if (s->cfg.read_only) return s->position;
    pthread_mutex_lock((pthread_mutex_t *)&s->smu); /* written_seq moves under smu */
    uint64_t v = s->written_seq;
    pthread_mutex_unlock((pthread_mutex_t *)&s->smu);
    return v;
}

uint64_t dv_store_durable_sequence(const dv_store *s) {
    if (!s) return 0;
    if (s->cfg.read_only) return s->position;
    pthread_mutex_lock((pthread_mutex_t *)&s->smu);
    uint64_t v = s->synced_seq;
    pthread_mutex_unlock((pthread_mutex_t *)&s->smu);
    return v;
}

const char *dv_store_last_error(const dv_store *s) { return s ? s->err : "no store"; }

/* ---- writes -------------------------------------------------------------------------------- */

static dv_status write_begin(dv_store *s) {
    if (!s) return DV_EINVAL;
    if (s->cfg.read_only) return DV_ESTATE;
    pthread_mutex_lock(&s->wmu);
    if (s->failed) {
        pthread_mutex_unlock(&s->wmu);
        return DV_ESTATE;
    }
    return DV_OK;
}

static dv_status write_end(dv_store *s, dv_status st) {
    pthread_mutex_lock(&s->smu);
    uint64_t seq = s->written_seq;
    pthread_mutex_unlock(&s->smu);
    pthread_mutex_unlock(&s->wmu);
    if (st != DV_OK || s->cfg.sync != DV_SYNC_ALWAYS) return st;
    pthread_mutex_lock(&s->smu);
    st = wait_durable(s, seq);
    pthread_mutex_unlock(&s->smu);
    return st;
}

dv_status dv_store_insert(dv_store *s, const char *id, const float *vec, const dv_meta_kv *meta,
                          size_t n_meta) {
    dv_status st = write_begin(s);
    return st != DV_OK ? st : write_end(s, dv_db_insert(s->db, id, vec, meta, n_meta));
}

dv_status dv_store_update(dv_store *s, const char *id, const float *vec) {
    dv_status st = write_begin(s);
    return st != DV_OK ? st : write_end(s, dv_db_update(s->db, id, vec));
}

dv_status dv_store_update_sparse(dv_store *s, const char *id, const uint32_t *idx, const float *values,
                                 size_t n) {
    dv_status st = write_begin(s);
    return st != DV_OK ? st : write_end(s, dv_db_update_sparse(s->db, id, idx, values, n));
}

dv_status dv_store_delete(dv_store *s, const char *id) {
    dv_status st = write_begin(s);
    return st != DV_OK ? st : write_end(s, dv_db_delete(s->db, id));
}

dv_status dv_store_set_meta(dv_store *s, const char *id, const char *key, const char *value) {
    dv_status st = write_begin(s);
    return st != DV_OK ? st : write_end(s, dv_db_set_meta(s->db, id, key, value));
}

static dv_status run_op(dv_db *db, const dv_store_op *o) {
    switch (o->kind) {
    case DV_STORE_INSERT:
        return dv_db_insert(db, o->id, o->vec, o->meta, o->n_meta);
    case DV_STORE_UPDATE:
        return dv_db_update(db, o->id, o->vec);
    case DV_STORE_UPDATE_SPARSE:
        return dv_db_update_sparse(db, o->id, o->idx, o->values, o->n);
    case DV_STORE_DELETE:
        return dv_db_delete(db, o->id);
    case DV_STORE_SET_META:
        return dv_db_set_meta(db, o->id, o->key, o->value);
    default:
        return DV_EINVAL;
    }
}

dv_status dv_store_write_batch(dv_store *s, const dv_store_op *ops, size_t n, size_t *n_done) {
    if (n_done) *n_done = 0;
    if (!ops && n) return DV_EINVAL;
    dv_status st = write_begin(s);
    if (st != DV_OK) return st;
    size_t i = 0;
    for (; i < n && st == DV_OK; i++) {
        st = run_op(s->db, &ops[i]);
        if (st != DV_OK) break;
    }
    if (n_done) *n_done = i;
    /* the ops before a failure are logged: they are made durable like any write */
    dv_status sync = write_end(s, DV_OK);
    return st != DV_OK ? st : sync;
}

dv_status dv_store_sync(dv_store *s) {
    if (!s) return DV_EINVAL;
    if (s->cfg.read_only) return DV_OK;
    pthread_mutex_lock(&s->smu);
    dv_status st = wait_durable(s, s->written_seq);
    pthread_mutex_unlock(&s->smu);
    return st;
}

/* ---- read-only: refresh -------------------------------------------------------------------- */

dv_status dv_store_refresh(dv_store *s, uint64_t *n_new) {
    if (n_new) *n_new = 0;
    if (!s) return DV_EINVAL;
    if (!s->cfg.read_only || s->cfg.as_of) return DV_ESTATE;
    for (;;) {
        if (s->t.fd < 0) { /* nothing followed yet: the segment holding position + 1, if any */
            name_list segs, snaps;
            dv_status st = list_dir(s, &segs, &snaps);
            if (st != DV_OK) return st;
            uint64_t want = 0, oldest = segs.n ? segs.seq[0] : 0;
            for (size_t i = 0; i < segs.n; i++)
                if (segs.seq[i] <= s->position + 1) want = segs.seq[i];
            list_free(s, &segs);
            list_free(s, &snaps);
            if (!want && oldest > s->position + 1) { /* a checkpoint dropped what we still needed */
                snprintf(s->err, sizeof s->err, "the log after %llu was dropped by a checkpoint: reopen",
                         (unsigned long long)s->position);
                return DV_EGAP;
            }
            if (!want) return DV_OK;
            if ((st = tail_open(s, &s->t, want)) != DV_OK) return st;
        }
        feed_out fo;
        dv_status st = tail_feed(s, &s->t, 0, 0, &fo, n_new);
        if (st != DV_OK) return st;
        if (fo.res == FEED_PROBLEM) {
            snprintf(s->err, sizeof s->err, "segment %llu at offset %llu: %s", (unsigned long long)s->t.first,
                     (unsigned long long)fo.problem_at, fo.msg);
            return DV_EDAMAGED;
        }
        /* a newer segment starting right after us means this one is complete */
        char name[NAME_MAX_LEN], p[4096];
        seq_name(name, s->position + 1, ".dvs");
        int fd;
        if (s->position + 1 == s->t.first ||
            s->io->open(s->io->ctx, join(s, name, p, sizeof p), DV_IO_READ, &fd))
            return DV_OK;
        s->io->close(s->io->ctx, fd);
        tail_feed(s, &s->t, 0, 0, &fo, n_new); /* bytes written just before the roll */
        if (fo.res == FEED_PROBLEM) return DV_EDAMAGED;
        tail_close(s, &s->t);
    }
}

/* ---- checkpoint, retention, revert --------------------------------------------------------- */

typedef struct file_sink {
    dv_store *s;
    int fd;
    uint64_t off;
    int err;
} file_sink;

static dv_status to_file(void *ctx, const uint8_t *bytes, size_t len) {
    file_sink *f = ctx;
    size_t w = 0;
    int e = f->s->io->pwrite(f->s->io->ctx, f->fd, bytes, len, f->off, &w);
    if (e) {
        f->err = e;
        return dv_io_status(e);
    }
    f->off += len;
    return DV_OK;
}

static dv_status write_snapshot(dv_store *s, uint64_t seq) {
    char name[NAME_MAX_LEN], p[4096], tmp[4096];
    seq_name(name, seq, ".dvp");
    join(s, name, p, sizeof p);
    snprintf(tmp, sizeof tmp, "%.4000s.tmp", p);
    dv_snapshot_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.sequence = seq;
    memcpy(meta.db_id, s->db_id, sizeof meta.db_id);
    meta.mode = (uint8_t)s->mode;
    size_t n = 0;
    const uint64_t *tab = dv_capture_slot_sequences(s->cap, &n);
    meta.slot_sequences = (uint64_t *)tab;
    meta.n_slot_sequences = n;
    file_sink f = {s, -1, 0, 0};
    int e = s->io->open(s->io->ctx, tmp, DV_IO_WRITE | DV_IO_CREATE, &f.fd);
    dv_status st = DV_OK;
    if (!e) e = s->io->truncate(s->io->ctx, f.fd, 0);
    if (!e) {
        st = dv_db_snapshot_write(s->db, &meta, to_file, &f);
        e = f.err;
        if (st == DV_OK && !e) e = s->io->sync(s->io->ctx, f.fd, 0);
    }
    if (f.fd >= 0) s->io->close(s->io->ctx, f.fd);
    if (st == DV_OK && !e) e = s->io->rename(s->io->ctx, tmp, p);
    if (st != DV_OK || e) {
        s->io->unlink(s->io->ctx, tmp);
        if (e) set_err(s, "writing snapshot", name, e);
        return e ? dv_io_status(e) : st;
    }
    return sync_dir(s);
}

static dv_status retention(dv_store *s) {
    name_list segs, snaps;
    dv_status st = list_dir(s, &segs, &snaps);
    if (st != DV_OK) return st;
    char name[NAME_MAX_LEN], p[4096];
    size_t keep_from = snaps.n > s->cfg.keep_snapshots ? snaps.n - s->cfg.keep_snapshots : 0;
    for (size_t i = 0; i < keep_from; i++) {
        seq_name(name, snaps.seq[i], ".dvp");
        s->io->unlink(s->io->ctx, join(s, name, p, sizeof p));
    }
    uint64_t oldest = snaps.n ? snaps.seq[keep_from] : 0; /* the log must reach back to it */
    for (size_t i = 0; i + 1 < segs.n; i++) {
        uint64_t last = segs.seq[i + 1] - 1; /* the segment holds first..last */
        if (last > oldest) break;
        if (s->cfg.keep_log_from && last >= s->cfg.keep_log_from) break;
        if (segs.seq[i] == s->seg_first) break;
        seq_name(name, segs.seq[i], ".dvs");
        s->io->unlink(s->io->ctx, join(s, name, p, sizeof p));
    }
    list_free(s, &segs);
    list_free(s, &snaps);
    return sync_dir(s);
}

dv_status dv_store_checkpoint(dv_store *s, uint64_t *seq_out) {
    dv_status st = write_begin(s);
    if (st != DV_OK) return st;
    uint64_t seq = s->written_seq;
    st = write_snapshot(s, seq);
    if (st == DV_OK && s->seg_records) st = new_segment(s, seq + 1);
    if (st == DV_OK) st = retention(s);
    pthread_mutex_unlock(&s->wmu);
    if (st == DV_OK && seq_out) *seq_out = seq;
    return st;
}

dv_status dv_store_revert(dv_store *s, uint64_t sequence) {
    dv_status st = write_begin(s);
    if (st != DV_OK) return st;
    if (sequence > s->written_seq) {
        pthread_mutex_unlock(&s->wmu);
        return DV_EINVAL;
    }
    /* the log must be whole before it is cut and replayed */
    pthread_mutex_unlock(&s->wmu);
    if ((st = dv_store_sync(s)) != DV_OK) return st;
    pthread_mutex_lock(&s->wmu);
    name_list segs, snaps;
    if ((st = list_dir(s, &segs, &snaps)) != DV_OK) {
        pthread_mutex_unlock(&s->wmu);
        return st;
    }
    /* covered? the newest snapshot at or before the target, and the log from just after it */
    uint64_t base = 0;
    for (size_t i = 0; i < snaps.n; i++)
        if (snaps.seq[i] <= sequence) base = snaps.seq[i];
    if (sequence > 0 && (segs.n == 0 || segs.seq[0] > base + 1)) {
        snprintf(s->err, sizeof s->err,
                 "sequence %llu is no longer covered (log starts at %llu, snapshot %llu)",
                 (unsigned long long)sequence, (unsigned long long)(segs.n ? segs.seq[0] : 0),
                 (unsigned long long)base);
        list_free(s, &segs);
        list_free(s, &snaps);
        pthread_mutex_unlock(&s->wmu);
        return DV_EGAP;
    }
    drop_state(s);
    dv_stream_writer_free(s->w);
    s->w = NULL;
    pthread_mutex_lock(&s->smu);
    if (s->seg_fd >= 0) s->io->close(s->io->ctx, s->seg_fd);
    s->seg_fd = -1;
    pthread_mutex_unlock(&s->smu);
    uint64_t tail_end = NO_OFFSET;
    dv_recovery_report r;
    memset(&r, 0, sizeof r);
    if (sequence == 0) {
        /* back to empty: every segment and snapshot goes */
        dv_stream_info info;
        st = segs.n ? segment_info(s, segs.seq[0], &info) : DV_ENOTFOUND;
        if (st == DV_OK) st = dv_db_open_from_stream(&info, &s->mem.a, &s->db);
        for (size_t i = 0; st == DV_OK && i < segs.n; i++) st = truncate_file(s, segs.seq[i], 0);
        segs.n = 0;
        s->position = 0;
        if (st == DV_OK) st = make_apply(s, 0, NULL);
    } else {
        st = load(s, &segs, &snaps, sequence, LOAD_OPEN, &r, &tail_end);
    }
    /* snapshots after the target describe a future that is gone */
    char name[NAME_MAX_LEN], p[4096];
    for (size_t i = 0; st == DV_OK && i < snaps.n; i++) {
        if (snaps.seq[i] <= sequence) continue;
        seq_name(name, snaps.seq[i], ".dvp");
        int e = s->io->unlink(s->io->ctx, join(s, name, p, sizeof p));
        if (e) {
            set_err(s, "removing", name, e);
            st = dv_io_status(e);
        }
    }
    if (st == DV_OK) st = sync_dir(s);
    if (st == DV_OK) st = start_writer(s, &segs, tail_end);
    dv_apply_free(s->ap);
    s->ap = NULL;
    if (st != DV_OK) s->failed = DV_ESTATE; /* half reverted: reopen */
    list_free(s, &segs);
    list_free(s, &snaps);
    pthread_mutex_unlock(&s->wmu);
    return st;
}
