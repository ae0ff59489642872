/*
 * stream.c -- the stream container: header codec, incremental reader,
 * writer, and dv_stream_verify (deltavec.h section 4b, docs/FORMAT.md
 * section 10).
 *
 * A stream is an 80-byte (version 1) header, then records back to back,
 * each a delta exactly as on the wire: 64-byte header + payload_size bytes.
 *
 * The reader is a small state machine over "units": first the stream
 * header (12 bytes to learn header_size, then header_size bytes), then one
 * record at a time (64 header bytes to learn payload_size, then the rest).
 * A unit that lies whole inside the caller's chunk is returned in place;
 * otherwise its bytes are gathered into the reader's buffer, which grows
 * only as bytes arrive and never beyond one unit (<= 64 + max_payload), so
 * a hostile size costs nothing until the bytes it announces are actually
 * sent; a buffer larger than 1 MiB is released once its record has been
 * returned. Problems inside a record whose framing is still known (checksum,
 * sequence order) are reported and the reader moves on; an unreadable
 * header means the framing is lost and the reader stops for good.
 *
 * Pure bytes: no stdio, all memory through the dv_allocator.
 */
#include <string.h>
#include <xxhash.h>

#include "delta/delta.h"
#include "delta/wire.h"
#include "util/alloc.h"
#include "util/text.h"

#define HEAD_PREFIX 12         /* magic + version + header_size */
#define KEEP_BUFFER (1u << 20) /* a larger unit buffer is released once its record is returned */

static const uint8_t MAGIC[DV_STREAM_MAGIC_SIZE] = {0x89, 'D', 'V', 'S', '\r', '\n', 0x1A, '\n'};

/* ---- header codec ------------------------------------------------------- */

static uint64_t header_checksum(const uint8_t *h, size_t size) {
    static const uint8_t zeros[8] = {0};
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, h, 16);
    XXH3_64bits_update(&st, zeros, 8);
    XXH3_64bits_update(&st, h + 24, size - 24);
    return XXH3_64bits_digest(&st);
}

/* Range checks of the config and mode fields; returns the first bad field's name or NULL. */
static const char *info_bad_field(const dv_stream_info *in) {
    if (in->mode > DV_STREAM_LOGICAL) return "mode";
    if (in->lossy > 2) return "lossy";
    if (in->dim < 1 || in->dim > DV_MAX_DIM) return "dim";
    if (in->metric > DV_METRIC_COSINE) return "metric";
    if (in->M < 2 || in->M > DV_MAX_M) return "M";
    if (in->ef_construction < 1 || in->ef_construction > (1u << 24)) return "ef_construction";
    /* written so that NaN fails too */
    if (!(in->relink_ratio >= 0.0f && in->relink_ratio <= 1e6f)) return "relink_ratio";
    if (in->first_sequence < 1) return "first_sequence";
    return NULL;
}

dv_status dv_stream_header_encode(const dv_stream_info *info, uint8_t *out, size_t cap) {
    if (!info || !out || cap < DV_STREAM_HEADER_SIZE) return DV_EINVAL;
    if (info->delta_version != DV_DELTA_FORMAT_VERSION || info_bad_field(info)) return DV_EINVAL;
    memcpy(out, MAGIC, 8);
    dv_st16(out + 8, DV_STREAM_VERSION);
    dv_st16(out + 10, DV_STREAM_HEADER_SIZE);
    dv_st16(out + 12, info->delta_version);
    out[14] = info->mode;
    out[15] = info->lossy;
    dv_st64(out + 16, 0);
    dv_st32(out + 24, info->dim);
    dv_st32(out + 28, info->metric);
    dv_st32(out + 32, info->M);
    dv_st32(out + 36, info->ef_construction);
    dv_st64(out + 40, info->seed);
    dv_st32(out + 48, dv_f32_bits(info->relink_ratio));
    dv_st32(out + 52, info->producer_version);
    dv_st64(out + 56, info->first_sequence);
    memcpy(out + 64, info->db_id, DV_STREAM_DB_ID_SIZE);
    dv_st64(out + 16, header_checksum(out, DV_STREAM_HEADER_SIZE));
    return DV_OK;
}

/* Checks what the first len (< header_size) bytes can already tell; sets
 * *size once header_size is known (0 before). Message into t. */
static dv_status head_prefix_check(const uint8_t *b, size_t len, size_t *size, dv_text *t) {
    *size = 0;
    size_t m = len < 8 ? len : 8;
    for (size_t i = 0; i < m; i++)
        if (b[i] != MAGIC[i]) {
            dv_text_put(t, "not a deltavec stream (bad magic at byte ");
            dv_text_u64(t, i);
            dv_text_put(t, ")");
            return DV_ENOTSTREAM;
        }
    if (len >= 10 && dv_ld16(b + 8) != DV_STREAM_VERSION) {
        dv_text_put(t, "stream header: container version ");
        dv_text_u64(t, dv_ld16(b + 8));
        dv_text_put(t, " unknown (this library reads 1)");
        return DV_EVERSION;
    }
    if (len >= HEAD_PREFIX) {
        uint16_t hs = dv_ld16(b + 10);
        if (hs < DV_STREAM_HEADER_SIZE || hs > DV_STREAM_MAX_HEADER) {
            dv_text_put(t, "stream header: header_size ");
            dv_text_u64(t, hs);
            dv_text_put(t, " out of range");
            return DV_ECORRUPT;
        }
        *size = hs;
    }
    return DV_OK;
}

/* Decodes a complete header (len >= header_size, checked by the caller). */
static dv_status head_decode_full(const uint8_t *b, size_t size, dv_stream_info *info, dv_text *t) {
    if (header_checksum(b, size) != dv_ld64(b + 16)) {
        dv_text_put(t, "stream header: checksum mismatch");
        return DV_ECHECKSUM;
    }
    dv_stream_info in;
    memset(&in, 0, sizeof in);
    in.version = dv_ld16(b + 8);
    in.header_size = (uint16_t)size;
    in.delta_version = dv_ld16(b + 12);
    in.mode = b[14];
    in.lossy = b[15];
    in.dim = dv_ld32(b + 24);
    in.metric = dv_ld32(b + 28);
    in.M = dv_ld32(b + 32);
    in.ef_construction = dv_ld32(b + 36);
    in.seed = dv_ld64(b + 40);
    in.relink_ratio = dv_bits_f32(dv_ld32(b + 48));
    in.producer_version = dv_ld32(b + 52);
    in.first_sequence = dv_ld64(b + 56);
    memcpy(in.db_id, b + 64, DV_STREAM_DB_ID_SIZE);
    if (in.delta_version != DV_DELTA_FORMAT_VERSION) {
        dv_text_put(t, "stream header: record format version ");
        dv_text_u64(t, in.delta_version);
        dv_text_put(t, " unknown (this library reads 1)");
        return DV_EVERSION;
    }
    const char *bad = info_bad_field(&in);
    if (bad) {
        dv_text_put(t, "stream header: field ");
        dv_text_put(t, bad);
        dv_text_put(t, " out of range");
        return DV_ECORRUPT;
    }
    if (info) *info = in;
    return DV_OK;
}

dv_status dv_stream_header_decode(const uint8_t *buf, size_t len, dv_stream_info *info, size_t *header_size) {
    if (!buf && len) return DV_EINVAL;
    if (len == 0) return DV_EEMPTY;
    char msg[96];
    dv_text t;
    dv_text_init(&t, msg, sizeof msg);
    size_t size;
    dv_status st = head_prefix_check(buf, len, &size, &t);
    if (st != DV_OK) return st;
    if (size == 0 || len < size) return DV_ETRUNCATED;
    st = head_decode_full(buf, size, info, &t);
    if (st == DV_OK && header_size) *header_size = size;
    return st;
}

dv_status dv_stream_record_size(const uint8_t hdr[DV_DELTA_HEADER_SIZE], uint64_t *size) {
    if (!hdr || !size) return DV_EINVAL;
    dv_delta_header h;
    dv_status st = dv_delta_header_decode(hdr, &h);
    if (st != DV_OK) return st;
    *size = (uint64_t)DV_DELTA_HEADER_SIZE + h.payload_size;
    return DV_OK;
}

/* ---- reader ---------------------------------------------------------------- */

enum { PH_HEAD, PH_RECORD, PH_FAILED };

struct dv_stream_reader {
    dv_mem mem;
    uint32_t max_payload;
    int phase;
    int any;      /* at least one byte was given */
    uint8_t *buf; /* bytes of the current unit gathered so far */
    size_t cap, have;
    size_t need;     /* bytes of the current unit, once known (0: not yet) */
    uint64_t offset; /* bytes consumed */
    uint64_t unit;   /* stream offset of the current unit */
    dv_stream_info info;
    int has_info;
    uint64_t last; /* highest sequence seen (first_sequence - 1 before any) */
    dv_status fail;
    uint64_t fail_at;
    char msg[192];
};

void dv_stream_reader_config_default(dv_stream_reader_config *cfg) {
    if (cfg) memset(cfg, 0, sizeof *cfg);
}

dv_status dv_stream_reader_open(const dv_stream_reader_config *cfg, dv_stream_reader **out) {
    if (!out) return DV_EINVAL;
    *out = NULL;
    dv_stream_reader_config dflt;
    if (!cfg) {
        dv_stream_reader_config_default(&dflt);
        cfg = &dflt;
    }
    dv_mem mem;
    dv_mem_init(&mem, cfg->allocator);
    dv_stream_reader *r = dv_mem_calloc(&mem, 1, sizeof *r);
    if (!r) return DV_ENOMEM;
    r->mem = mem;
    r->max_payload =
        cfg->max_payload && cfg->max_payload < DV_DELTA_MAX_PAYLOAD ? cfg->max_payload : DV_DELTA_MAX_PAYLOAD;
    r->phase = PH_HEAD;
    r->need = HEAD_PREFIX;
    memcpy(r->msg, "no input yet", sizeof "no input yet");
    *out = r;
    return DV_OK;
}

void dv_stream_reader_free(dv_stream_reader *r) {
    if (!r) return;
    dv_mem mem = r->mem;
    dv_mem_free(&mem, r->buf, r->cap);
    dv_mem_free(&mem, r, sizeof *r);
}

int dv_stream_reader_stopped(const dv_stream_reader *r) { return r && r->phase == PH_FAILED; }
uint64_t dv_stream_reader_offset(const dv_stream_reader *r) { return r ? r->offset : 0; }
uint64_t dv_stream_reader_last_sequence(const dv_stream_reader *r) { return r ? r->last : 0; }
const char *dv_stream_reader_message(const dv_stream_reader *r) { return r ? r->msg : "no reader"; }

dv_status dv_stream_reader_info(const dv_stream_reader *r, dv_stream_info *info) {
    if (!r || !info) return DV_EINVAL;
    if (r->has_info) {
        *info = r->info;
        return DV_OK;
    }
    return r->phase == PH_FAILED ? r->fail : DV_EEMPTY;
}

static void msg_start(dv_stream_reader *r, dv_text *t, const char *what, uint64_t at) {
    dv_text_init(t, r->msg, sizeof r->msg);
    dv_text_put(t, what);
    dv_text_u64(t, at);
    dv_text_put(t, ": ");
}

/* Stops the reader: every later call answers st. The message is already set. */
static dv_status fail(dv_stream_reader *r, dv_status st, uint64_t at, dv_stream_record *rec) {
    r->phase = PH_FAILED;
    r->fail = st;
    r->fail_at = at;
    if (rec) rec->offset = at;
    return st;
}

/* Copies up to want - have bytes of in[*pos..len) into the unit buffer,
 * growing it geometrically but never beyond want. */
static dv_status gather(dv_stream_reader *r, const uint8_t *in, size_t len, size_t *pos, size_t want) {
    size_t n = want - r->have;
    if (n > len - *pos) n = len - *pos;
    if (!n) return DV_OK;
    if (r->have + n > r->cap) {
        size_t c = r->cap ? r->cap * 2 : 256;
        if (c < r->have + n) c = r->have + n;
        if (c > want) c = want;
        uint8_t *b = dv_mem_realloc(&r->mem, r->buf, r->cap, c);
        if (!b) return DV_ENOMEM;
        r->buf = b;
        r->cap = c;
    }
    memcpy(r->buf + r->have, in + *pos, n);
    r->have += n;
    *pos += n;
    r->offset += n;
    return DV_OK;
}

/* The stream header, possibly over several calls. DV_OK once complete. */
static dv_status read_head(dv_stream_reader *r, const uint8_t *in, size_t len, size_t *pos,
                           dv_stream_record *rec) {
    dv_text t;
    for (;;) {
        dv_status st = gather(r, in, len, pos, r->need);
        if (st != DV_OK) return st; /* ENOMEM: nothing lost, the caller may retry */
        dv_text_init(&t, r->msg, sizeof r->msg);
        size_t size;
        st = head_prefix_check(r->buf, r->have, &size, &t);
        if (st != DV_OK) return fail(r, st, 0, rec);
        if (size > r->need) { /* header_size now known: gather the rest */
            r->need = size;
            continue;
        }
        if (r->have < r->need) return DV_EEMPTY;
        st = head_decode_full(r->buf, r->have, &r->info, &t);
        if (st != DV_OK) return fail(r, st, 0, rec);
        r->has_info = 1;
        r->last = r->info.first_sequence - 1;
        r->phase = PH_RECORD;
        r->have = 0;
        r->need = 0;
        r->unit = r->offset;
        return DV_OK;
    }
}

/* Checks a record header; sets *size (64 + payload_size) or stops the reader. */
static dv_status record_frame(dv_stream_reader *r, const uint8_t *hdr, uint64_t at, dv_delta_header *h,
                              size_t *size, dv_stream_record *rec) {
    dv_text t;
    dv_status st = dv_delta_header_decode(hdr, h);
    if (st == DV_OK && h->payload_size > r->max_payload) st = DV_ETOOBIG;
    if (st != DV_OK) {
        msg_start(r, &t, "record at ", at);
        dv_text_put(&t, "unreadable header (");
        dv_text_put(&t, dv_status_name(st));
        dv_text_put(&t, st == DV_ETOOBIG ? ": payload_size over the limit" : "");
        dv_text_put(&t, "), framing lost");
        if (rec) {
            rec->header = hdr;
            rec->payload = hdr;
            rec->payload_len = 0;
        }
        return fail(r, st, at, rec);
    }
    *size = (size_t)DV_DELTA_HEADER_SIZE + h->payload_size;
    return DV_OK;
}

/* A whole record is at bytes[0..64+payload_size): verify and order it. */
static dv_status record_done(dv_stream_reader *r, const uint8_t *bytes, uint64_t at, const dv_delta_header *h,
                             dv_stream_record *rec) {
    dv_text t;
    rec->header = bytes;
    rec->payload = bytes + DV_DELTA_HEADER_SIZE;
    rec->payload_len = h->payload_size;
    rec->offset = at;
    rec->h = *h;
    msg_start(r, &t, "record at ", at);
    dv_status st = dv_delta_verify(bytes, bytes + DV_DELTA_HEADER_SIZE, h->payload_size);
    if (st == DV_ECHECKSUM) {
        dv_text_put(&t, "checksum mismatch (record skipped)");
        return st;
    }
    if (st != DV_OK) { /* cannot happen: the header was decoded before */
        dv_text_put(&t, dv_strerror(st));
        return fail(r, st, at, rec);
    }
    uint64_t s = h->sequence;
    if (s <= r->last) {
        dv_text_put(&t, "sequence ");
        dv_text_u64(&t, s);
        dv_text_put(&t, " repeated or older (last ");
        dv_text_u64(&t, r->last);
        dv_text_put(&t, ")");
        return DV_EDUPLICATE;
    }
    st = DV_OK;
    if (s != r->last + 1) {
        dv_text_put(&t, "sequence ");
        dv_text_u64(&t, s);
        dv_text_put(&t, " after ");
        dv_text_u64(&t, r->last);
        dv_text_put(&t, " (");
        dv_text_u64(&t, r->last + 1);
        if (s - 1 > r->last + 1) {
            dv_text_put(&t, "..");
            dv_text_u64(&t, s - 1);
        }
        dv_text_put(&t, " missing)");
        st = DV_EGAP;
    } else {
        dv_text_put(&t, "ok");
    }
    r->last = s;
    return st;
}

static dv_status read_record(dv_stream_reader *r, const uint8_t *in, size_t len, size_t *pos,
                             dv_stream_record *rec) {
    dv_delta_header h;
    size_t size;
    dv_status st;
    if (r->have == 0 && len - *pos >= DV_DELTA_HEADER_SIZE) { /* in place when it fits the chunk */
        r->unit = r->offset;
        if ((st = record_frame(r, in + *pos, r->unit, &h, &size, rec)) != DV_OK) return st;
        if (len - *pos >= size) {
            const uint8_t *bytes = in + *pos;
            *pos += size;
            r->offset += size;
            return record_done(r, bytes, r->unit, &h, rec);
        }
    }
    if (r->have == 0) r->unit = r->offset;
    if (r->have < DV_DELTA_HEADER_SIZE) {
        if ((st = gather(r, in, len, pos, DV_DELTA_HEADER_SIZE)) != DV_OK) return st;
        if (r->have < DV_DELTA_HEADER_SIZE) return DV_EEMPTY;
    }
    if ((st = record_frame(r, r->buf, r->unit, &h, &size, rec)) != DV_OK) return st;
    r->need = size;
    if ((st = gather(r, in, len, pos, size)) != DV_OK) return st;
    if (r->have < size) return DV_EEMPTY;
    r->have = 0; /* the bytes stay in buf until the next call */
    r->need = 0;
    return record_done(r, r->buf, r->unit, &h, rec);
}

dv_status dv_stream_reader_next(dv_stream_reader *r, const uint8_t *in, size_t len, size_t *consumed,
                                dv_stream_record *rec) {
    if (!r || !consumed || !rec || (!in && len)) return DV_EINVAL;
    *consumed = 0;
    if (r->phase == PH_FAILED) {
        rec->offset = r->fail_at;
        return r->fail;
    }
    if (r->have == 0 && r->cap > KEEP_BUFFER) { /* do not hold on to one large record's bytes */
        dv_mem_free(&r->mem, r->buf, r->cap);
        r->buf = NULL;
        r->cap = 0;
    }
    size_t pos = 0;
    if (len) r->any = 1;
    dv_status st = DV_OK;
    if (r->phase == PH_HEAD) st = read_head(r, in, len, &pos, rec);
    if (st == DV_OK) st = read_record(r, in, len, &pos, rec);
    if (st == DV_EEMPTY) memcpy(r->msg, "need more bytes", sizeof "need more bytes");
    *consumed = pos;
    return st;
}

dv_status dv_stream_reader_finish(dv_stream_reader *r, uint64_t *offset) {
    if (!r) return DV_EINVAL;
    dv_text t;
    uint64_t at = 0;
    dv_status st = DV_OK;
    if (r->phase == PH_FAILED) {
        at = r->fail_at;
        st = r->fail;
    } else if (!r->any) {
        dv_text_init(&t, r->msg, sizeof r->msg);
        dv_text_put(&t, "empty stream (no stream header)");
        st = DV_EEMPTY;
    } else if (r->phase == PH_HEAD) {
        msg_start(r, &t, "stream header at ", 0);
        dv_text_put(&t, "truncated after ");
        dv_text_u64(&t, r->have);
        dv_text_put(&t, " bytes");
        st = DV_ETRUNCATED;
    } else if (r->have) {
        at = r->unit;
        msg_start(r, &t, "record at ", at);
        dv_text_put(&t, "truncated after ");
        dv_text_u64(&t, r->have);
        dv_text_put(&t, r->need ? " of " : " bytes (torn tail)");
        if (r->need) {
            dv_text_u64(&t, r->need);
            dv_text_put(&t, " bytes (torn tail)");
        }
        st = DV_ETRUNCATED;
    } else {
        at = r->offset;
        dv_text_init(&t, r->msg, sizeof r->msg);
        dv_text_put(&t, "end of stream");
    }
    if (offset) *offset = at;
    return st;
}

/* ---- whole-buffer verification ---------------------------------------------- */

static void problem(dv_stream_problem_fn fn, void *ctx, dv_stream_summary *s, dv_status st, uint64_t at,
                    const char *msg, dv_status *first) {
    s->problems++;
    if (*first == DV_OK) *first = st;
    if (fn) fn(ctx, st, at, msg);
}

dv_status dv_stream_verify(const uint8_t *buf, size_t len, dv_stream_problem_fn fn, void *ctx,
                           dv_stream_summary *summary) {
    if (!buf && len) return DV_EINVAL;
    dv_stream_summary s;
    memset(&s, 0, sizeof s);
    dv_stream_reader *r;
    dv_status st = dv_stream_reader_open(NULL, &r);
    if (st != DV_OK) return st;
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena arena;
    dv_delta_arena_init(&arena, &mem);
    dv_status first = DV_OK;
    size_t pos = 0;
    for (;;) {
        size_t used;
        dv_stream_record rec;
        st = dv_stream_reader_next(r, buf ? buf + pos : NULL, len - pos, &used, &rec);
        pos += used;
        if (st == DV_EEMPTY) break;
        if (!s.has_info && dv_stream_reader_info(r, &s.info) == DV_OK) s.has_info = 1;
        if (st == DV_ENOMEM) {
            first = st;
            break;
        }
        if (!dv_stream_reader_stopped(r)) s.records++;
        if (st != DV_OK) problem(fn, ctx, &s, st, rec.offset, dv_stream_reader_message(r), &first);
        if (dv_stream_reader_stopped(r)) break; /* framing lost */
        if (st == DV_ECHECKSUM) continue;
        if (rec.h.sequence > s.last_sequence) s.last_sequence = rec.h.sequence;
        dv_decode_limits lim = {0, s.info.dim};
        dv_delta d;
        dv_delta_arena_reset(&arena);
        dv_status ds = dv_delta_decode(rec.header, rec.payload, rec.payload_len, &lim, &arena, &d);
        if (ds != DV_OK) {
            char m[96];
            dv_text t;
            dv_text_init(&t, m, sizeof m);
            dv_text_put(&t, "record at ");
            dv_text_u64(&t, rec.offset);
            dv_text_put(&t, ": payload does not decode (");
            dv_text_put(&t, dv_status_name(ds));
            dv_text_put(&t, ")");
            problem(fn, ctx, &s, ds, rec.offset, m, &first);
        }
    }
    if (!s.has_info && dv_stream_reader_info(r, &s.info) == DV_OK) s.has_info = 1; /* a header-only stream */
    if (first != DV_ENOMEM) {
        uint64_t at;
        dv_status fs = dv_stream_reader_finish(r, &at);
        if (fs != DV_OK && r->phase != PH_FAILED)
            problem(fn, ctx, &s, fs, at, dv_stream_reader_message(r), &first);
    }
    dv_delta_arena_free(&arena);
    dv_stream_reader_free(r);
    if (summary) *summary = s;
    return first;
}

/* ---- writer ----------------------------------------------------------------- */

struct dv_stream_writer {
    dv_mem mem;
    dv_stream_sink_fn sink;
    void *ctx;
    uint64_t offset, next;
    int broken;
};

dv_status dv_stream_writer_open(const dv_stream_info *info, dv_stream_sink_fn sink, void *sink_ctx,
                                const dv_allocator *allocator, dv_stream_writer **out) {
    if (!out) return DV_EINVAL;
    *out = NULL;
    if (!info || !sink) return DV_EINVAL;
    uint8_t head[DV_STREAM_HEADER_SIZE];
    dv_status st = dv_stream_header_encode(info, head, sizeof head);
    if (st != DV_OK) return st;
    dv_mem mem;
    dv_mem_init(&mem, allocator);
    dv_stream_writer *w = dv_mem_calloc(&mem, 1, sizeof *w);
    if (!w) return DV_ENOMEM;
    w->mem = mem;
    w->sink = sink;
    w->ctx = sink_ctx;
    w->next = info->first_sequence;
    if ((st = sink(sink_ctx, head, sizeof head)) != DV_OK) {
        dv_stream_writer_free(w);
        return st;
    }
    w->offset = sizeof head;
    *out = w;
    return DV_OK;
}

dv_status dv_stream_writer_append(dv_stream_writer *w, const uint8_t hdr[DV_DELTA_HEADER_SIZE],
                                  const uint8_t *payload, size_t payload_len) {
    if (!w || !hdr || (!payload && payload_len)) return DV_EINVAL;
    if (w->broken) return DV_ESTATE;
    dv_delta_header h;
    dv_status st = dv_delta_header_decode(hdr, &h);
    if (st != DV_OK) return st;
    if (payload_len != h.payload_size) return payload_len < h.payload_size ? DV_ETRUNCATED : DV_EINVAL;
    if ((st = dv_delta_verify(hdr, payload, payload_len)) != DV_OK) return st;
    if (h.sequence != w->next) return h.sequence < w->next ? DV_EDUPLICATE : DV_EGAP;
    uint8_t copy[DV_DELTA_HEADER_SIZE];
    memcpy(copy, hdr, sizeof copy);
    uint64_t po = w->offset + DV_DELTA_HEADER_SIZE;
    dv_st32(copy + 24, po <= UINT32_MAX ? (uint32_t)po : 0);
    if ((st = w->sink(w->ctx, copy, sizeof copy)) != DV_OK ||
        (payload_len && (st = w->sink(w->ctx, payload, payload_len)) != DV_OK)) {
        w->broken = 1;
        return st;
    }
    w->offset += sizeof copy + payload_len;
    w->next++;
    return DV_OK;
}

dv_status dv_stream_writer_resume(uint64_t offset, uint64_t next_sequence, dv_stream_sink_fn sink,
                                  void *sink_ctx, const dv_allocator *allocator, dv_stream_writer **out) {
    if (!out) return DV_EINVAL;
    *out = NULL;
    if (!sink || offset < DV_STREAM_HEADER_SIZE || next_sequence == 0) return DV_EINVAL;
    dv_mem mem;
    dv_mem_init(&mem, allocator);
    dv_stream_writer *w = dv_mem_calloc(&mem, 1, sizeof *w);
    if (!w) return DV_ENOMEM;
    w->mem = mem;
    w->sink = sink;
    w->ctx = sink_ctx;
    w->next = next_sequence;
    w->offset = offset;
    *out = w;
    return DV_OK;
}

uint64_t dv_stream_writer_offset(const dv_stream_writer *w) { return w ? w->offset : 0; }
uint64_t dv_stream_writer_next_sequence(const dv_stream_writer *w) { return w ? w->next : 0; }

void dv_stream_writer_free(dv_stream_writer *w) {
    if (!w) return;
    dv_mem mem = w->mem;
    dv_mem_free(&mem, w, sizeof *w);
}
