/*
 * fuzz_stream.c -- libFuzzer harness for the stream container reader
 * (src/delta/stream.c) on hostile bytes.
 *
 * Input: byte 0 seeds the chunking, the rest is the stream. The stream is
 * read twice: once as one chunk, once cut into pseudo-random chunks (1 to
 * 256 bytes, so byte-at-a-time feeding is common). Oracles, each an abort():
 *  - both readings give the same answers (status, offset, record bytes) and
 *    the same end-of-input answer: chunking never changes the result;
 *  - every consumed count stays within its chunk and every reported offset
 *    and record lies within the input, its bytes equal to the input's there;
 *  - a framing-lost error is sticky and consumes nothing;
 *  - dv_stream_header_decode agrees with the reader about the header;
 *  - dv_stream_verify runs on the same bytes and agrees that a header is there.
 * The reader is given a small max_payload so ETOOBIG is reached too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "deltavec.h"

#define MAX_ITEMS 4096

typedef struct item {
    dv_status st;
    uint64_t off;
    uint64_t hash;
} item;

typedef struct run {
    item it[MAX_ITEMS];
    size_t n;
    dv_status fin;
    uint64_t fin_off;
    int has_info;
    dv_stream_info info;
} run;

/* A record (possibly out of order or with a bad checksum): the reader goes on after it. */
static int is_record(dv_status st) {
    return st == DV_OK || st == DV_EGAP || st == DV_EDUPLICATE || st == DV_ECHECKSUM;
}

static uint32_t next_rand(uint32_t *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void read_stream(const uint8_t *data, size_t size, uint32_t seed, int chunked, run *out) {
    dv_stream_reader_config cfg;
    dv_stream_reader_config_default(&cfg);
    cfg.max_payload = 1u << 16;
    dv_stream_reader *r;
    if (dv_stream_reader_open(&cfg, &r) != DV_OK) abort();
    out->n = 0;
    size_t at = 0;
    int stop = 0;
    while (!stop && at < size && out->n < MAX_ITEMS) {
        size_t clen = chunked ? 1 + next_rand(&seed) % (seed & 1 ? 4 : 256) : size - at;
        if (clen > size - at) clen = size - at;
        const uint8_t *chunk = data + at;
        size_t pos = 0;
        while (out->n < MAX_ITEMS) {
            size_t used = (size_t)-1;
            dv_stream_record rec;
            dv_status st = dv_stream_reader_next(r, chunk + pos, clen - pos, &used, &rec);
            if (used > clen - pos) abort();
            pos += used;
            if (dv_stream_reader_offset(r) != at + pos) abort();
            if (st == DV_EEMPTY) {
                if (pos != clen) abort();
                break;
            }
            if (st == DV_ENOMEM) abort();
            item *it = &out->it[out->n++];
            it->st = st;
            it->off = rec.offset;
            it->hash = 0;
            if (rec.offset > size) abort();
            if (!dv_stream_reader_stopped(r)) {
                if (!is_record(st)) abort();
                if (rec.offset + DV_DELTA_HEADER_SIZE + rec.payload_len > at + pos) abort();
                if (memcmp(rec.header, data + rec.offset, DV_DELTA_HEADER_SIZE) != 0) abort();
                if (rec.payload_len != rec.h.payload_size) abort();
                if (memcmp(rec.payload, data + rec.offset + DV_DELTA_HEADER_SIZE, rec.payload_len) != 0)
                    abort();
                it->hash = XXH3_64bits(rec.header, DV_DELTA_HEADER_SIZE) ^ rec.payload_len;
            } else {
                size_t again = 1;
                if (dv_stream_reader_next(r, chunk, clen, &again, &rec) != st || again != 0) abort();
                stop = 1;
                break;
            }
        }
        at += clen;
    }
    if (out->n >= MAX_ITEMS) { /* too many answers to compare: nothing more to check */
        out->fin = DV_OK;
        out->fin_off = 0;
    } else {
        out->fin = dv_stream_reader_finish(r, &out->fin_off);
        if (out->fin_off > size) abort();
    }
    out->has_info = dv_stream_reader_info(r, &out->info) == DV_OK;
    if (strlen(dv_stream_reader_message(r)) == 0 && out->n) abort();
    dv_stream_reader_free(r);
}

static run whole, cut;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint32_t seed = data[0];
    data++;
    size--;
    read_stream(data, size, seed, 0, &whole);
    read_stream(data, size, seed, 1, &cut);
    if (whole.n < MAX_ITEMS && cut.n < MAX_ITEMS) {
        if (whole.n != cut.n || whole.fin != cut.fin || whole.fin_off != cut.fin_off) abort();
        for (size_t i = 0; i < whole.n; i++)
            if (whole.it[i].st != cut.it[i].st || whole.it[i].off != cut.it[i].off ||
                whole.it[i].hash != cut.it[i].hash)
                abort();
        if (whole.has_info != cut.has_info) abort();
    }
    dv_stream_info info;
    size_t hs = 0;
    dv_status hst = dv_stream_header_decode(data, size, &info, &hs);
    if ((hst == DV_OK) != whole.has_info) abort();
    if (hst == DV_OK && (memcmp(&info, &whole.info, sizeof info) != 0 || hs > size)) abort();
    dv_stream_summary s;
    dv_stream_verify(data, size, NULL, NULL, &s);
    if (s.has_info != whole.has_info) abort();
    return 0;
}
