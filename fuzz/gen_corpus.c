/*
 * gen_corpus.c -- writes the seed corpora of the fuzz harnesses:
 *   gen_corpus DIR  ->  files in DIR/header, DIR/payload, DIR/batch, DIR/stream, DIR/snapshot, DIR/apply
 * from the sample deltas of tests/delta_samples.h under several encoding
 * options (so every op, flag, float coding and the compressed path are
 * represented). A stream seed is a chunking byte, a stream header, then
 * every sample resequenced 1, 2, ... (one variant per encoding option,
 * plus one with a gap and one cut short). DIR/snapshot: snapshots of a few
 * small dbs (empty, with deletes, metadata and upper layers, each metric).
 * DIR/apply: inputs of fuzz_apply (see its header).
 * Generated, not checked in: the corpus follows the format.
 */
#include <stdio.h>

#include "../tests/delta_samples.h"

static int write_file(const char *dir, const char *sub, int k, int v, const uint8_t *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/seed-%d-%d", dir, sub, k, v);
    FILE *f = fopen(path, "wb");
    if (!f) return perror(path), 1;
    int bad = fwrite(p, 1, n, f) != n;
    return fclose(f) != 0 || bad;
}

/* A small db of n vectors (dim 4, M 2 so upper layers appear), every third deleted. */
static int write_snapshot(const char *dir, int k, int metric, int n) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, 4);
    cfg.metric = (dv_metric)metric;
    cfg.M = 2;
    cfg.ef_construction = 8;
    dv_db *db;
    if (dv_db_open(&cfg, &db) != DV_OK) return 1;
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "v%d", i);
        float v[4] = {(float)i, (float)(i % 3), 1.0f, -(float)(i % 5)};
        dv_meta_kv kv[2] = {{"k", "v"}, {"lang", "fr"}};
        if (dv_db_insert(db, id, v, kv, (size_t)(i % 3)) != DV_OK) return 1;
        if (i % 3 == 2 && dv_db_delete(db, id) != DV_OK) return 1;
    }
    uint64_t seqs[64] = {0};
    for (int i = 0; i < 64; i++) seqs[i] = (uint64_t)i * 3;
    dv_snapshot_meta meta = {0};
    meta.sequence = (uint64_t)n * 3;
    meta.slot_sequences = k % 2 ? seqs : NULL;
    meta.n_slot_sequences = 64;
    static uint8_t buf[1 << 16];
    size_t len = 0;
    int rc = dv_db_snapshot_to_buffer(db, &meta, buf, sizeof buf, &len) != DV_OK;
    dv_db_close(db);
    return rc || write_file(dir, "snapshot", k, metric, buf, len);
}

/* An UPDATE of kind 3 (FORMAT.md 3.2): bits that flip low mantissa bits of a
 * DV_SAMPLE_DIM vector, shuffled; compress: LZ4 over the body. */
static size_t kind3_encode(int compress, uint8_t *buf, size_t cap) {
    uint32_t bits[DV_SAMPLE_DIM];
    for (uint32_t i = 0; i < DV_SAMPLE_DIM; i++) bits[i] = i * 3u;
    dv_delta d;
    memset(&d, 0, sizeof d);
    d.h.operation = DV_OP_UPDATE;
    d.h.sequence = 42;
    d.h.prev_sequence = 41;
    d.vkind = DV_VEC_DENSE_XOR;
    d.slot = 7;
    d.id = "doc-7";
    d.id_len = 5;
    d.dim = d.n = DV_SAMPLE_DIM;
    d.xor_bits = bits;
    d.base_hash = 0x0123456789abcdefull;
    dv_encode_opts o;
    dv_encode_opts_default(&o);
    o.compress = compress;
    dv_mem mem;
    dv_mem_init(&mem, NULL);
    dv_delta_arena scratch;
    dv_delta_arena_init(&scratch, &mem);
    size_t plen = 0;
    dv_status st =
        dv_delta_encode(&d, &o, &scratch, buf, buf + DV_DELTA_HEADER_SIZE, cap - DV_DELTA_HEADER_SIZE, &plen);
    dv_delta_arena_free(&scratch);
    return st == DV_OK ? DV_DELTA_HEADER_SIZE + plen : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (with subfolders header/ payload/ batch/ stream/ snapshot/)\n",
                argv[0]);
        return 2;
    }
    static uint8_t buf[1 << 16], batch[1 << 16], stream[6][1 << 18];
    size_t stream_len[6];
    int rc = 0;
    dv_stream_info info;
    memset(&info, 0, sizeof info);
    info.delta_version = DV_DELTA_FORMAT_VERSION;
    info.dim = DV_SAMPLE_DIM;
    info.M = 16;
    info.ef_construction = 200;
    info.seed = 42;
    info.relink_ratio = 0.5f;
    info.first_sequence = 1;
    for (int v = 0; v < 6; v++) {
        stream[v][0] = (uint8_t)(v * 37);
        if (dv_stream_header_encode(&info, stream[v] + 1, DV_STREAM_HEADER_SIZE) != DV_OK) return 1;
        stream_len[v] = 1 + DV_STREAM_HEADER_SIZE;
    }
    for (int k = 0; k < DV_SAMPLE_COUNT; k++) {
        for (int v = 0; v < 6; v++) {
            dv_encode_opts o;
            dv_encode_opts_default(&o);
            o.compress = v == 1 || v == 5;
            o.shuffle = v >= 2;
            o.xor_before = v == 3;
            o.values = v == 4 ? DV_VALUES_F16 : v == 5 ? DV_VALUES_I8 : DV_VALUES_F32;
            size_t n = dv_sample_encode(k, &o, buf, sizeof buf);
            if (n == 0) return 1;
            rc |= write_file(argv[1], "header", k, v, buf, n);
            rc |= write_file(argv[1], "payload", k, v, buf, n);
            if (stream_len[v] + n <= sizeof stream[v]) {
                uint8_t *rec = stream[v] + stream_len[v];
                memcpy(rec, buf, n);
                for (int i = 0; i < 8; i++) rec[i] = (uint8_t)((uint64_t)(k + 1) >> (8 * i));
                dv_delta_seal(rec, rec + DV_DELTA_HEADER_SIZE, n - DV_DELTA_HEADER_SIZE);
                stream_len[v] += n;
            }
            if (k == DV_SAMPLE_BATCH && !(buf[9] & DV_FLAG_COMPRESSED)) {
                batch[0] = (uint8_t)(v & 1);
                memcpy(batch + 1, buf + DV_DELTA_HEADER_SIZE, n - DV_DELTA_HEADER_SIZE);
                rc |= write_file(argv[1], "batch", k, v, batch, n - DV_DELTA_HEADER_SIZE + 1);
            }
        }
    }
    for (int v = 0; v < 2; v++) { /* UPDATE kind 3 (dense XOR the replica's values), plain and LZ4 */
        size_t n = kind3_encode(v, buf, sizeof buf);
        if (n == 0) return 1;
        rc |= write_file(argv[1], "header", DV_SAMPLE_COUNT, v, buf, n);
        rc |= write_file(argv[1], "payload", DV_SAMPLE_COUNT, v, buf, n);
    }
    for (int v = 0; v < 6; v++) rc |= write_file(argv[1], "stream", 0, v, stream[v], stream_len[v]);
    rc |= write_file(argv[1], "stream", 1, 0, stream[0], stream_len[0] - 5); /* torn tail */
    /* a gap: the first record's sequence is 2 */
    uint8_t *first = stream[1] + 1 + DV_STREAM_HEADER_SIZE;
    uint64_t size = 0;
    if (dv_stream_record_size(first, &size) != DV_OK) return 1;
    first[0] = 2;
    dv_delta_seal(first, first + DV_DELTA_HEADER_SIZE, (size_t)size - DV_DELTA_HEADER_SIZE);
    rc |= write_file(argv[1], "stream", 1, 1, stream[1], stream_len[1]);
    int sizes[] = {0, 1, 7, 20};
    for (int k = 0; k < 4; k++)
        for (int metric = 0; metric <= 2; metric++) rc |= write_snapshot(argv[1], k, metric, sizes[k]);
    /* fuzz_apply: the parallel comparison (bit 6) on each seed stream, and two inputs it found where
     * parallel apply once decided otherwise than inline apply: an insert above the entry point's level
     * accepted by the dispatcher, and a slot past the bound a conflict inline but not once parallel apply
     * had grown the per-slot table (fuzz/fuzz_apply.c) */
    static const uint8_t apply_seeds[][8] = {{0x40},
                                             {0x50},
                                             {0x60},
                                             {0x70},
                                             {0x75, 0x05, 0x44, 0x41, 0x05, 0x2c},
                                             {0xc5, 0x00, 0x40, 0x00, 0x40, 0x40, 0xf9}};
    static const size_t apply_len[] = {1, 1, 1, 1, 6, 7};
    for (int k = 0; k < 6; k++) rc |= write_file(argv[1], "apply", k, 0, apply_seeds[k], apply_len[k]);
    return rc;
}
