/* stream.c -- see stream.h. Test support only: uses libc freely. */
#include "support/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, int st) {
    fprintf(stderr, "test support: %s failed: %s\n", what, dv_status_name(st));
    abort();
}

uint32_t test_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

float test_randf(uint64_t *s) { return (float)test_rand(s) / 2147483648.0f - 1.0f; }

static dv_db *open_or_die(const dv_db_config *cfg) {
    dv_db *db = NULL;
    int st = dv_db_open(cfg, &db);
    if (st != DV_OK) die("dv_db_open", st);
    return db;
}

dv_db *test_open_db(uint32_t dim, uint64_t seed) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, dim);
    cfg.M = 8;
    cfg.ef_construction = 48;
    cfg.ef_search = 64;
    cfg.seed = seed;
    return open_or_die(&cfg);
}

dv_db *test_open_db_sized(uint32_t dim, uint32_t M, uint32_t ef_construction) {
    dv_db_config cfg;
    dv_db_config_default(&cfg, dim);
    cfg.M = M;
    cfg.ef_construction = ef_construction;
    return open_or_die(&cfg);
}

void test_primary_open(test_primary *p, uint32_t dim, const dv_capture_config *cfg, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->dim = dim;
    p->rng = seed;
    p->db = test_open_db(dim, 42);
    int st = dv_capture_init(p->db, cfg, &p->cap);
    if (st != DV_OK) die("dv_capture_init", st);
    if ((st = dv_capture_start(p->cap)) != DV_OK) die("dv_capture_start", st);
}

void test_stream_free(test_stream *s) {
    for (size_t i = 0; i < s->n; i++) free(s->d[i].bytes);
    free(s->d);
    memset(s, 0, sizeof *s);
}

void test_primary_close(test_primary *p) {
    dv_capture_free(p->cap);
    dv_db_close(p->db);
    test_stream_free(&p->stream);
}

static void stream_push(test_stream *s, const uint8_t *hdr, const uint8_t *payload, size_t len) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->d = realloc(s->d, s->cap * sizeof *s->d);
        if (!s->d) abort();
    }
    uint8_t *b = malloc(DV_DELTA_HEADER_SIZE + len);
    if (!b) abort();
    memcpy(b, hdr, DV_DELTA_HEADER_SIZE);
    if (len) memcpy(b + DV_DELTA_HEADER_SIZE, payload, len);
    s->d[s->n].bytes = b;
    s->d[s->n].len = DV_DELTA_HEADER_SIZE + len;
    s->n++;
}

void test_primary_drain(test_primary *p) {
    dv_delta_header h[128];
    size_t n = 0;
    while (dv_capture_poll(p->cap, h, 128, &n) == DV_OK && n) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *hb, *pb;
            size_t len;
            int st = dv_capture_payload(p->cap, h[i].sequence, &hb, &pb, &len);
            if (st != DV_OK) die("dv_capture_payload", st);
            stream_push(&p->stream, hb, pb, len);
        }
        dv_capture_release(p->cap, h[n - 1].sequence);
    }
}

static void make_id(char *buf, size_t cap, uint32_t i) { snprintf(buf, cap, "doc-%u", i); }

static void one_write(test_primary *p, const workload_mix *m) {
    int total = m->insert + m->update + m->sparse + m->del + m->meta;
    int r = (int)(test_rand(&p->rng) % (uint32_t)total);
    char id[32];
    float v[DV_MAX_DIM];
    uint32_t pick = p->next_id ? test_rand(&p->rng) % p->next_id : 0;
    make_id(id, sizeof id, pick);
    int live = p->next_id && dv_db_get(p->db, id, v) == DV_OK;
    if (r < m->insert || !live) {
        /* a fresh id, or re-insert of a deleted one */
        if (live || !p->next_id || test_rand(&p->rng) % 4) make_id(id, sizeof id, p->next_id++);
        if (dv_db_get(p->db, id, v) == DV_OK) return;
        for (uint32_t i = 0; i < p->dim; i++) v[i] = test_randf(&p->rng);
        dv_meta_kv meta[2] = {{"lang", pick % 2 ? "en" : "fr"}, {"src", "test"}};
        int st = dv_db_insert(p->db, id, v, meta, test_rand(&p->rng) % 3);
        if (st != DV_OK) die("insert", st);
        return;
    }
    r -= m->insert;
    int st;
    if (r < m->update) {
        for (uint32_t i = 0; i < p->dim; i++) v[i] += 0.05f * test_randf(&p->rng);
        st = dv_db_update(p->db, id, v);
    } else if ((r -= m->update) < m->sparse) {
        uint32_t idx[4], n = 0;
        float vals[4];
        for (uint32_t d = test_rand(&p->rng) % 5; d < p->dim && n < 4; d += 1 + test_rand(&p->rng) % 7) {
            idx[n] = d;
            vals[n++] = test_randf(&p->rng);
        }
        st = dv_db_update_sparse(p->db, id, idx, vals, n);
    } else if ((r -= m->sparse) < m->del) {
        st = dv_db_delete(p->db, id);
    } else {
        char val[16];
        snprintf(val, sizeof val, "v%u", test_rand(&p->rng) % 50);
        st = dv_db_set_meta(p->db, id, test_rand(&p->rng) % 2 ? "tag" : "lang",
                            test_rand(&p->rng) % 5 ? val : NULL);
    }
    if (st != DV_OK) die("write", st);
}

void test_primary_run(test_primary *p, size_t n, const workload_mix *mix) {
    static const workload_mix defaults = {40, 20, 20, 12, 8};
    if (!mix) mix = &defaults;
    for (size_t i = 0; i < n; i++) {
        one_write(p, mix);
        if (i % 64 == 63) test_primary_drain(p);
    }
    int st = dv_capture_flush(p->cap);
    if (st != DV_OK) die("flush", st);
    test_primary_drain(p);
}
