/*
 * fuzz_apply.c -- libFuzzer harness for apply: a stream of deltas, derived
 * from a real primary's stream, applied to a replica.
 *
 * Once per process a primary (dim 4, M 4) with capture runs a fixed mix of
 * inserts, updates, sparse updates, deletes and metadata changes; its deltas
 * are the seed stream. Each input mutates a copy of that stream -- byte
 * edits, truncations, drops and duplicates, optionally resealing checksums
 * so the mutations reach the payload and replica checks -- and applies it
 * in order to a fresh replica. The oracle, for every delta:
 *   refused  -> the replica's state hash and position are unchanged;
 *   accepted -> dv_db_check_invariants() holds.
 * With bit 6 of byte 0 (structural mode), the same stream also goes in one
 * dv_apply_batch to a replica applying inline and to one applying in
 * parallel (one worker loop on a thread of this harness beside the
 * dispatcher, every run parallel: min_run 1): both must give the same
 * results, position, applied count and state hash (docs/CONCURRENCY.md:
 * parallel apply refuses exactly what inline apply refuses).
 * A violation abort()s so libFuzzer keeps the input.
 *
 * Input: byte 0: bit 0 reseal checksums, bit 1 logical mode, bits 2-3
 * policy (ABORT, OMIT, REPLACE), bits 4-5 seed stream (single deltas,
 * batched, batched kind 3, inserts then a long stretch of updates: runs
 * parallel apply hands to its loops), bit 6 the parallel comparison; then
 * 4-byte edits {delta, offset_lo, offset_hi, value}: value 0 truncates the
 * delta at offset, value 1 drops it, value 2 duplicates it, else the byte at
 * offset is XORed with value.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/replay.h"
#include "delta/delta.h"
#include "deltavec.h"

#define DIM 4
#define MAX_DELTAS 256

typedef struct blob {
    uint8_t *p;
    size_t len;
} blob;

typedef struct seed {
    blob d[MAX_DELTAS];
    size_t n;
} seed;

static seed SEEDS[4]; /* single deltas, batched, batched kind 3 (dense XOR the replica), update runs */

static void fail(void) { abort(); }

static dv_db *open_db(void) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, DIM);
    cfg.M = 4;
    cfg.ef_construction = 16;
    cfg.ef_search = 16;
    dv_db *db = NULL;
    if (dv_db_open(&cfg, &db) != DV_OK) fail();
    return db;
}

static void drain(dv_capture *c, seed *s) {
    dv_delta_header h[64];
    size_t n = 0;
    while (dv_capture_poll(c, h, 64, &n) == DV_OK && n) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *hb, *pb;
            size_t len;
            if (dv_capture_payload(c, h[i].sequence, &hb, &pb, &len) != DV_OK || s->n == MAX_DELTAS) fail();
            blob *b = &s->d[s->n++];
            b->len = DV_DELTA_HEADER_SIZE + len;
            b->p = malloc(b->len);
            if (!b->p) fail();
            memcpy(b->p, hb, DV_DELTA_HEADER_SIZE);
            memcpy(b->p + DV_DELTA_HEADER_SIZE, pb, len);
        }
        dv_capture_release(c, h[n - 1].sequence);
    }
}

/* 24 inserts, then 60 small drifts of those vectors, dense and sparse. */
static void make_update_seed(seed *s) {
    dv_db *db = open_db();
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.ring.payload_size = 1u << 20;
    dv_capture *c = NULL;
    if (dv_capture_init(db, &cc, &c) != DV_OK || dv_capture_start(c) != DV_OK) fail();
    uint64_t rng = 777;
    char id[8] = "u";
    for (int i = 0; i < 84; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        id[1] = (char)('A' + (i < 24 ? i : (int)((rng >> 33) % 24)));
        id[2] = 0;
        float v[DIM];
        dv_status st;
        if (i < 24) {
            for (int d = 0; d < DIM; d++) v[d] = (float)((rng >> (8 * d)) & 0xFF) / 256.0f - 0.5f;
            st = dv_db_insert(db, id, v, NULL, 0);
        } else {
            if (dv_db_get(db, id, v) != DV_OK) fail();
            uint32_t idx[1] = {(uint32_t)((rng >> 20) % DIM)};
            for (int d = 0; d < DIM; d++) v[d] += (float)((rng >> (4 * d)) & 0xF) / 4096.0f;
            st = i % 2 ? dv_db_update(db, id, v) : dv_db_update_sparse(db, id, idx, &v[idx[0]], 1);
        }
        if (st != DV_OK) fail();
        drain(c, s);
    }
    if (dv_capture_flush(c) != DV_OK) fail();
    drain(c, s);
    dv_capture_free(c);
    dv_db_close(db);
}

static void make_seed(seed *s, uint32_t batch, int dense_xor) {
    dv_db *db = open_db();
    dv_capture_config cc;
    dv_capture_config_default(&cc);
    cc.ring.payload_size = 1u << 20;
    cc.batch_max_deltas = batch;
    cc.before_images = !dense_xor; /* kind 3 carries a base hash in place of before-images */
    cc.dense_xor = dense_xor;
    dv_capture *c = NULL;
    if (dv_capture_init(db, &cc, &c) != DV_OK || dv_capture_start(c) != DV_OK) fail();
    uint64_t rng = 12345;
    char id[16], val[16];
    for (int i = 0; i < 60; i++) {
        float v[DIM];
        for (int d = 0; d < DIM; d++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            v[d] = (float)(rng >> 40) / (float)(1u << 24) - 0.5f;
        }
        int k = i < 24 ? 0 : (int)((rng >> 20) % 5);
        int target = (int)((rng >> 30) % 24);
        memcpy(id, "v", 2);
        id[1] = (char)('a' + target % 26);
        id[2] = (char)('a' + i % 26);
        id[3] = 0;
        dv_status st;
        switch (k) {
        case 0:
            id[1] = (char)('A' + i % 26);
            id[2] = (char)('A' + i / 26);
            st = dv_db_insert(db, id, v, NULL, 0);
            break;
        case 1:
        case 2: {
            uint32_t idx[1] = {(uint32_t)(rng % DIM)};
            id[1] = (char)('A' + target % 26);
            id[2] = 'A';
            st = k == 1 ? dv_db_update(db, id, v) : dv_db_update_sparse(db, id, idx, v, 1);
            break;
        }
        case 3:
            id[1] = (char)('A' + target % 26);
            id[2] = 'A';
            st = dv_db_delete(db, id);
            break;
        default:
            id[1] = (char)('A' + target % 26);
            id[2] = 'A';
            val[0] = (char)('0' + i % 10);
            val[1] = 0;
            st = dv_db_set_meta(db, id, "k", val);
            break;
        }
        if (st != DV_OK && st != DV_ENOTFOUND && st != DV_EEXIST) fail();
        if (i == 45 && dv_db_repair(db) != DV_OK) fail(); /* REINDEX steps: edges and a purge list */
        drain(c, s);
    }
    if (dv_capture_flush(c) != DV_OK) fail();
    drain(c, s);
    dv_capture_free(c);
    dv_db_close(db);
}

static void reseal(uint8_t *p, size_t len) {
    if (len < DV_DELTA_HEADER_SIZE) return;
    uint32_t psz;
    memcpy(&psz, p + 28, 4);
    size_t have = len - DV_DELTA_HEADER_SIZE;
    if (psz > have) return;
    uint64_t ck = dv_delta_checksum(p, p + DV_DELTA_HEADER_SIZE, psz);
    memcpy(p + 32, &ck, 8);
}

static void *loop_thread(void *arg) { return (void *)(intptr_t)dv_apply_worker_run((dv_apply *)arg, 0); }

typedef struct batch_outcome {
    dv_status first, res[MAX_DELTAS];
    size_t applied;
    uint64_t position, hash;
} batch_outcome;

/* The stream in one dv_apply_batch, inline (workers 0) or with one loop. */
static void apply_batch(const blob *s, size_t n, dv_conflict_action policy, uint32_t workers,
                        batch_outcome *o) {
    dv_db *r = open_db();
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.policy = policy;
    cfg.workers = workers;
    cfg.min_run = 1;
    dv_apply *ap = NULL;
    if (dv_apply_init(r, &cfg, &ap) != DV_OK) fail();
    pthread_t t;
    if (workers) {
        if (pthread_create(&t, NULL, loop_thread, ap) != 0) fail();
        while (dv_apply_workers_running(ap) != workers) sched_yield();
    }
    const uint8_t *h[MAX_DELTAS], *pl[MAX_DELTAS];
    size_t lens[MAX_DELTAS];
    for (size_t i = 0; i < n; i++) { /* a delta shorter than its header goes as a NULL header: refused */
        h[i] = s[i].len >= DV_DELTA_HEADER_SIZE ? s[i].p : NULL;
        pl[i] = s[i].len >= DV_DELTA_HEADER_SIZE ? s[i].p + DV_DELTA_HEADER_SIZE : NULL;
        lens[i] = s[i].len >= DV_DELTA_HEADER_SIZE ? s[i].len - DV_DELTA_HEADER_SIZE : 0;
    }
    o->first = dv_apply_batch(ap, h, pl, lens, n, o->res, &o->applied);
    if (workers) {
        dv_apply_workers_stop(ap);
        void *ret = NULL;
        if (pthread_join(t, &ret) != 0 || (intptr_t)ret != DV_OK) {
            fprintf(stderr, "worker loop returned %d\n", (int)(intptr_t)ret);
            fail();
        }
    }
    o->position = dv_apply_position(ap);
    o->hash = dv_db_state_hash(r);
    dv_status inv = dv_db_check_invariants(r);
    if (inv != DV_OK) {
        fprintf(stderr, "batch with %u workers (first %s: %s): invariants fail: %s\n", workers,
                dv_status_name(o->first), dv_apply_last_error(ap), dv_status_name(inv));
        fail();
    }
    dv_apply_free(ap);
    dv_db_close(r);
}

static void parallel_matches_inline(const blob *s, size_t n, dv_conflict_action policy) {
    static batch_outcome a, b;
    apply_batch(s, n, policy, 0, &a);
    apply_batch(s, n, policy, 1, &b);
    int same = a.first == b.first && a.applied == b.applied && a.position == b.position && a.hash == b.hash;
    for (size_t i = 0; same && i < n; i++) same = a.res[i] == b.res[i];
    if (!same) {
        fprintf(
            stderr,
            "parallel apply differs from inline: first %s / %s, applied %zu / %zu, position %llu / %llu\n",
            dv_status_name(a.first), dv_status_name(b.first), a.applied, b.applied,
            (unsigned long long)a.position, (unsigned long long)b.position);
        fail();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    if (!SEEDS[0].n) {
        make_seed(&SEEDS[0], 0, 0);
        make_seed(&SEEDS[1], 4, 0);
        make_seed(&SEEDS[2], 4, 1); /* inside batches dense updates are always kind 3 */
        make_update_seed(&SEEDS[3]);
    }
    const seed *sd = &SEEDS[(data[0] >> 4) & 3];
    blob s[MAX_DELTAS];
    size_t n = sd->n;
    for (size_t i = 0; i < n; i++) {
        s[i].len = sd->d[i].len;
        s[i].p = malloc(s[i].len);
        if (!s[i].p) fail();
        memcpy(s[i].p, sd->d[i].p, s[i].len);
    }
    for (size_t e = 1; e + 4 <= size && n > 0; e += 4) {
        size_t k = data[e] % n;
        size_t off = s[k].len ? ((size_t)data[e + 1] | (size_t)data[e + 2] << 8) % s[k].len : 0;
        uint8_t v = data[e + 3];
        if (v == 0) {
            s[k].len = off;
        } else if (v == 1) {
            free(s[k].p);
            memmove(&s[k], &s[k + 1], (n - k - 1) * sizeof *s);
            n--;
        } else if (v == 2 && n < MAX_DELTAS) {
            memmove(&s[k + 1], &s[k], (n - k) * sizeof *s);
            s[k + 1].p = malloc(s[k].len ? s[k].len : 1);
            if (!s[k + 1].p) fail();
            memcpy(s[k + 1].p, s[k].p, s[k].len);
            n++;
        } else if (s[k].len) {
            s[k].p[off] ^= v;
        }
    }
    if (data[0] & 1)
        for (size_t i = 0; i < n; i++) reseal(s[i].p, s[i].len);

    dv_db *r = open_db();
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.mode = (data[0] & 2) ? DV_APPLY_LOGICAL : DV_APPLY_STRUCTURAL;
    static const dv_conflict_action pol[4] = {DV_CONFLICT_ABORT, DV_CONFLICT_OMIT, DV_CONFLICT_REPLACE,
                                              DV_CONFLICT_ABORT};
    cfg.policy = pol[(data[0] >> 2) & 3];
    cfg.workers = 0;
    dv_apply *ap = NULL;
    if (dv_apply_init(r, &cfg, &ap) != DV_OK) fail();
    if ((data[0] & 0x40) && cfg.mode == DV_APPLY_STRUCTURAL) parallel_matches_inline(s, n, cfg.policy);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = dv_db_state_hash(r), pos = dv_apply_position(ap);
        size_t count = dv_db_count(r);
        dv_status st = dv_apply_buffer(ap, s[i].p, s[i].len);
        if (st != DV_OK) {
            if (dv_db_state_hash(r) != h || dv_apply_position(ap) != pos || dv_db_count(r) != count) {
                fprintf(stderr, "delta %zu refused (%s: %s) but the replica changed\n", i, dv_status_name(st),
                        dv_apply_last_error(ap));
                fail();
            }
        } else {
            dv_status inv = dv_db_check_invariants(r);
            if (inv != DV_OK) {
                fprintf(stderr, "delta %zu accepted but invariants fail: %s\n", i, dv_status_name(inv));
                fail();
            }
        }
    }
    dv_apply_free(ap);
    dv_db_close(r);
    for (size_t i = 0; i < n; i++) free(s[i].p);
    return 0;
}
