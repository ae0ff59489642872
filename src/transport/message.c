/*
 * message.c -- the messages on dv.N.deltas: a run of consecutive records.
 *
 * A message's data is one or more records back to back, exactly as in a
 * stream file (docs/FORMAT.md section 10.2: 64-byte header + payload, no
 * stream header), with consecutive sequences. Its Nats-Msg-Id names the
 * database and the run: "<db id hex>:<first>" for a single record (the
 * form every message had before runs), "<db id hex>:<first>-<last>" for
 * more. The id is what the publisher's dedupe and fencing key on, and what
 * followers read to find the message holding a sequence without parsing the
 * data; the records themselves are verified before anything is applied.
 *
 * A message with the header "Dv-Codec: zstd" carries the run as one zstd
 * frame (content size in the frame header, at most DVT_MAX_RUN bytes): the
 * publisher compresses a run when that saves at least 1/32 of its bytes.
 * The delta header, the graph parts' slots and the exponents of the values
 * compress; float mantissas do not, so the gain is 10-30%, not more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "transport/transport.h"

void dvt_msg_id(char *out, size_t cap, const char *db_hex, uint64_t first, uint64_t last) {
    if (first == last)
        snprintf(out, cap, "%s:%llu", db_hex, (unsigned long long)first);
    else
        snprintf(out, cap, "%s:%llu-%llu", db_hex, (unsigned long long)first, (unsigned long long)last);
}

/* Parses a decimal u64 of 1..20 digits at *s; advances *s. */
static int parse_u64(const char **s, uint64_t *v) {
    const char *p = *s;
    uint64_t x = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9') {
        uint64_t d = (uint64_t)(*p - '0');
        if (++n > 20 || x > (UINT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
        p++;
    }
    if (n == 0) return 0;
    *s = p;
    *v = x;
    return 1;
}

int dvt_msg_id_parse(const char *id, const char *db_hex, uint64_t *first, uint64_t *last) {
    if (!id) return 0;
    const char *colon = strchr(id, ':');
    if (!colon) return 0;
    if (db_hex && ((size_t)(colon - id) != strlen(db_hex) || strncmp(id, db_hex, strlen(db_hex)) != 0))
        return 0;
    const char *p = colon + 1;
    uint64_t a = 0, b = 0;
    if (!parse_u64(&p, &a) || a == 0) return 0;
    b = a;
    if (*p == '-') {
        p++;
        if (!parse_u64(&p, &b) || b < a) return 0;
    }
    if (*p) return 0;
    *first = a;
    *last = b;
    return 1;
}

dv_status dvt_run_walk(const uint8_t *d, size_t len, dvt_run *run, char *err, size_t cap) {
    memset(run, 0, sizeof *run);
    size_t off = 0;
    uint64_t expect = 0;
    while (off < len || run->count == 0) {
        uint64_t size = 0;
        dv_status st =
            len - off >= DV_DELTA_HEADER_SIZE ? dv_stream_record_size(d + off, &size) : DV_ETRUNCATED;
        if (st == DV_OK && size > len - off) st = DV_ETRUNCATED;
        if (st == DV_OK)
            st =
                dv_delta_verify(d + off, d + off + DV_DELTA_HEADER_SIZE, (size_t)size - DV_DELTA_HEADER_SIZE);
        dv_delta_header h;
        if (st == DV_OK) st = dv_delta_header_decode(d + off, &h);
        if (st == DV_OK && run->count && h.sequence != expect) st = DV_ECORRUPT;
        if (st != DV_OK) {
            snprintf(err, cap, "record %zu of the message (byte %zu of %zu): %s%s", run->count + 1, off, len,
                     dv_strerror(st), st == DV_ECORRUPT && run->count ? " (sequences not consecutive)" : "");
            return st;
        }
        if (!run->count) run->first = h.sequence;
        run->last = h.sequence;
        run->count++;
        expect = h.sequence + 1;
        off += (size_t)size;
    }
    return DV_OK;
}

const uint8_t *dvt_run_find(const uint8_t *d, size_t len, uint64_t seq, size_t *rec_len) {
    size_t off = 0;
    while (off + DV_DELTA_HEADER_SIZE <= len) {
        uint64_t size = 0;
        if (dv_stream_record_size(d + off, &size) != DV_OK || size > len - off) return NULL;
        dv_delta_header h;
        if (dv_delta_header_decode(d + off, &h) != DV_OK) return NULL;
        if (h.sequence == seq) {
            *rec_len = (size_t)size;
            return d + off;
        }
        off += (size_t)size;
    }
    return NULL;
}

int dvt_msg_run(natsMsg *m, uint64_t *first, uint64_t *last) {
    const char *id = NULL, *codec = NULL;
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && dvt_msg_id_parse(id, NULL, first, last))
        return 1;
    /* no usable id: the first record's header (a message written by hand, or damaged) */
    dv_delta_header h;
    if (natsMsgHeader_Get(m, DVT_CODEC_HEADER, &codec) == NATS_OK ||
        natsMsg_GetDataLength(m) < DV_DELTA_HEADER_SIZE ||
        dv_delta_header_decode((const uint8_t *)natsMsg_GetData(m), &h) != DV_OK)
        return 0;
    *first = *last = h.sequence;
    return 1;
}

/*
 * The run of stream message q (0: deleted, foreign or unreadable, look at
 * the next one). Messages in [from, to] are probed in order, at most 64.
 */
static int run_at(dvt_conn *c, const char *stream, uint64_t from, uint64_t to, uint64_t *at, uint64_t *first,
                  uint64_t *last) {
    for (uint64_t q = from; q <= to && q < from + 64; q++) {
        natsMsg *m = NULL;
        jsErrCode jerr = 0;
        if (js_GetMsg(&m, c->js, stream, q, NULL, &jerr) != NATS_OK) continue;
        int ok = dvt_msg_run(m, first, last);
        natsMsg_Destroy(m);
        if (ok) {
            *at = q;
            return 1;
        }
    }
    return 0;
}

dv_status dvt_find_stream_seq(dvt_conn *c, const char *stream, uint64_t seq, uint64_t *stream_seq, char *err,
                              size_t cap) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, stream, NULL, &jerr);
    if (s != NATS_OK) {
        dvt_err(err, cap, "stream info", s, jerr);
        return DV_ENETWORK;
    }
    uint64_t lo = si->State.FirstSeq, hi = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    *stream_seq = lo ? lo : 1;
    if (hi == 0 || lo > hi) return DV_OK; /* empty: from the start */
    /* Invariant: messages before lo hold only records before seq; the answer is in [lo, hi + 1]. */
    uint64_t end = hi + 1;
    while (lo < end) {
        uint64_t mid = lo + (end - lo) / 2, at = 0, first = 0, last = 0;
        if (!run_at(c, stream, mid, end - 1, &at, &first, &last)) {
            end = mid; /* nothing readable from mid on: look left */
            continue;
        }
        if (last < seq)
            lo = at + 1;
        else if (first > seq)
            end = mid;
        else {
            lo = at;
            break;
        }
    }
    *stream_seq = lo;
    return DV_OK;
}

dv_status dvt_msg_records(natsMsg *m, const uint8_t **data, size_t *len, uint8_t **owned, char *err,
                          size_t cap) {
    const char *codec = NULL;
    *owned = NULL;
    *data = (const uint8_t *)natsMsg_GetData(m);
    *len = (size_t)natsMsg_GetDataLength(m);
    if (natsMsgHeader_Get(m, DVT_CODEC_HEADER, &codec) != NATS_OK || !codec) return DV_OK;
    if (strcmp(codec, "zstd") != 0) {
        snprintf(err, cap, "message codec \"%.32s\" is not supported (zstd is)", codec);
        return DV_EUNSUPPORTED;
    }
    unsigned long long size = *len ? ZSTD_getFrameContentSize(*data, *len) : ZSTD_CONTENTSIZE_ERROR;
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size == 0) {
        snprintf(err, cap, "zstd message without a valid frame header and content size");
        return DV_ECORRUPT;
    }
    if (size > DVT_MAX_RUN) {
        snprintf(err, cap, "zstd message of %llu bytes, at most %zu", size, (size_t)DVT_MAX_RUN);
        return DV_ETOOBIG;
    }
    uint8_t *buf = malloc((size_t)size);
    if (!buf) return DV_ENOMEM;
    size_t got = ZSTD_decompress(buf, (size_t)size, *data, *len);
    if (ZSTD_isError(got) || got != size) {
        snprintf(err, cap, "zstd message: %s", ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
        free(buf);
        return DV_ECORRUPT;
    }
    *owned = buf;
    *data = buf;
    *len = got;
    return DV_OK;
}

size_t dvt_run_compress(const uint8_t *run, size_t len, int level, uint8_t **buf, size_t *cap) {
    if (level <= 0 || len < 256) return 0;
    size_t bound = ZSTD_compressBound(len);
    if (bound > *cap) {
        uint8_t *b = realloc(*buf, bound);
        if (!b) return 0;
        *buf = b;
        *cap = bound;
    }
    size_t n = ZSTD_compress(*buf, *cap, run, len, level); /* writes the content size in the frame */
    return !ZSTD_isError(n) && n < len - len / 32 ? n : 0;
}
