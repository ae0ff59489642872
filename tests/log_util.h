/*
 * log_util.h -- helpers shared by the tests of the database directory
 * (tests/test_log_*.c): scratch directories, a deterministic write script
 * that a plain dv_db can follow as a reference, and an independent replay
 * of a directory's segments (stream reader + dv_apply, no src/log code).
 */
#ifndef DV_TEST_LOG_UTIL_H
#define DV_TEST_LOG_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deltavec.h"

#define LU_DIM 4

/* A fresh empty directory under /dev/shm (cheap fsync) or TMPDIR. */
static inline void lu_tempdir(char *out, size_t cap, const char *tag) {
    const char *base =
        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(out, cap, "%s/dvlog-%s-%d-XXXXXX", base, tag, (int)getpid());
    if (!mkdtemp(out)) abort();
}

/* A CLI test's scratch directory (lu_tempdir) and the paths in it: the
 * database directory and the files a run's stdout and stderr go to. */
static inline void lu_cli_scratch(const char *tag, char scratch[256], char db[300], char out[300],
                                  char err[300]) {
    lu_tempdir(scratch, 256, tag);
    snprintf(db, 300, "%s/db", scratch);
    snprintf(out, 300, "%s/out", scratch);
    snprintf(err, 300, "%s/err", scratch);
}

/* Removes path and everything under it (a test may leave subdirectories:
 * test_cli_ingest makes an empty one to ingest from). */
static inline void lu_rmdir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int k = snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (k < 0 || (size_t)k >= sizeof p) continue; /* not ours: test paths are short */
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            lu_rmdir(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

/* One delta per write: most log tests count sequences as writes, so their
 * primaries repair only when told (a test file may define another). */
#ifndef LU_REPAIR_FRACTION
#define LU_REPAIR_FRACTION 0.0f
#endif

static inline void lu_config(dv_db_config *c) {
    dv_db_config_default(c, LU_DIM);
    c->M = 4;
    c->ef_construction = 16;
    c->repair_fraction = LU_REPAIR_FRACTION;
}

/* Deterministic vector for (id number, version). */
static inline void lu_vec(float *v, unsigned n, unsigned version) {
    uint32_t x = n * 2654435761u + version * 40503u + 1u;
    for (int i = 0; i < LU_DIM; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v[i] = (float)(x % 2000u) / 100.0f - 10.0f;
    }
}

/* Write i of the script (round r): mostly inserts, with updates, sparse
 * updates, metadata and deletes of ids the script inserted just before. */
typedef dv_status (*lu_insert_fn)(void *t, const char *id, const float *v, const dv_meta_kv *m, size_t n);

typedef struct lu_ops {
    dv_status (*insert)(void *t, const char *id, const float *v, const dv_meta_kv *m, size_t n);
    dv_status (*update)(void *t, const char *id, const float *v);
    dv_status (*sparse)(void *t, const char *id, const uint32_t *idx, const float *val, size_t n);
    dv_status (*del)(void *t, const char *id);
    dv_status (*meta)(void *t, const char *id, const char *k, const char *v);
} lu_ops;

static inline dv_status lu_step(const lu_ops *o, void *t, unsigned r, unsigned i) {
    char id[64];
    float v[LU_DIM];
    switch (i % 8) {
    case 3:
        snprintf(id, sizeof id, "r%u-%u", r, i - 1);
        lu_vec(v, i - 1, 1);
        return o->update(t, id, v);
    case 5: {
        snprintf(id, sizeof id, "r%u-%u", r, i - 1);
        uint32_t idx[1] = {1};
        float val[1] = {(float)i};
        return o->sparse(t, id, idx, val, 1);
    }
    case 6:
        snprintf(id, sizeof id, "r%u-%u", r, i - 2);
        return o->meta(t, id, "tag", i % 16 == 6 ? "even" : "odd");
    case 7:
        snprintf(id, sizeof id, "r%u-%u", r, i - 3);
        return o->del(t, id);
    default: {
        snprintf(id, sizeof id, "r%u-%u", r, i);
        lu_vec(v, i, 0);
        dv_meta_kv m = {"k", "v"};
        return o->insert(t, id, v, &m, i % 2);
    }
    }
}

static inline dv_status lu_db_insert(void *t, const char *id, const float *v, const dv_meta_kv *m, size_t n) {
    return dv_db_insert(t, id, v, m, n);
}
static inline dv_status lu_db_update(void *t, const char *id, const float *v) {
    return dv_db_update(t, id, v);
}
static inline dv_status lu_db_sparse(void *t, const char *id, const uint32_t *i, const float *v, size_t n) {
    return dv_db_update_sparse(t, id, i, v, n);
}
static inline dv_status lu_db_del(void *t, const char *id) { return dv_db_delete(t, id); }
static inline dv_status lu_db_meta(void *t, const char *id, const char *k, const char *v) {
    return dv_db_set_meta(t, id, k, v);
}
static const lu_ops LU_DB_OPS = {lu_db_insert, lu_db_update, lu_db_sparse, lu_db_del, lu_db_meta};

static inline dv_status lu_st_insert(void *t, const char *id, const float *v, const dv_meta_kv *m, size_t n) {
    return dv_store_insert(t, id, v, m, n);
}
static inline dv_status lu_st_update(void *t, const char *id, const float *v) {
    return dv_store_update(t, id, v);
}
static inline dv_status lu_st_sparse(void *t, const char *id, const uint32_t *i, const float *v, size_t n) {
    return dv_store_update_sparse(t, id, i, v, n);
}
static inline dv_status lu_st_del(void *t, const char *id) { return dv_store_delete(t, id); }
static inline dv_status lu_st_meta(void *t, const char *id, const char *k, const char *v) {
    return dv_store_set_meta(t, id, k, v);
}
static const lu_ops LU_STORE_OPS = {lu_st_insert, lu_st_update, lu_st_sparse, lu_st_del, lu_st_meta};

/* A plain db (the reference) after writes [0, n) of round 0 of the script. */
static inline dv_db *lu_reference(unsigned n) {
    dv_db_config c;
    lu_config(&c);
    dv_db *db;
    if (dv_db_open(&c, &db) != DV_OK) abort();
    for (unsigned i = 0; i < n; i++) lu_step(&LU_DB_OPS, db, 0, i);
    return db;
}

static inline uint8_t *lu_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static inline void lu_write(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (len) fwrite(b, 1, len, f);
    fclose(f);
}

static int lu_cmp_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Segment file names of dir, sorted (names[i] is 32 bytes); returns their
 * number. *names is malloc'd (free it). */
static inline size_t lu_segment_list(const char *dir, char (**names)[32]) {
    DIR *d = opendir(dir);
    size_t n = 0, cap = 64;
    char(*v)[32] = malloc(cap * 32);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l != 24 || strcmp(e->d_name + 20, ".dvs")) continue;
        if (n == cap) v = realloc(v, (cap *= 2) * 32);
        memcpy(v[n++], e->d_name, 25);
    }
    if (d) closedir(d);
    qsort(v, n, 32, lu_cmp_name);
    *names = v;
    return n;
}

/* The same into a caller array of at most max names of 64 bytes. */
static inline size_t lu_segments(const char *dir, char names[][64], size_t max) {
    char(*v)[32];
    size_t n = lu_segment_list(dir, &v);
    if (n > max) abort();
    for (size_t i = 0; i < n; i++) memcpy(names[i], v[i], 32);
    free(v);
    return n;
}

/* Independent replay: every segment from sequence 1 through a stream
 * reader into a fresh replica. Returns its state hash (0 on any problem);
 * *last gets the last sequence applied. */
static inline uint64_t lu_replay_hash(const char *dir, uint64_t *last) {
    char(*names)[32];
    size_t n = lu_segment_list(dir, &names);
    dv_db *db = NULL;
    dv_apply *ap = NULL;
    uint64_t h = 0;
    *last = 0;
    for (size_t i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        size_t len = 0;
        uint8_t *b = lu_read(p, &len);
        dv_stream_reader *r;
        dv_stream_reader_open(NULL, &r);
        size_t pos = 0;
        for (;;) {
            size_t used;
            dv_stream_record rec;
            dv_status st = dv_stream_reader_next(r, b + pos, len - pos, &used, &rec);
            pos += used;
            if (!db && dv_stream_reader_info(r, &(dv_stream_info){0}) == DV_OK) {
                dv_stream_info info;
                dv_stream_reader_info(r, &info);
                dv_db_open_from_stream(&info, NULL, &db);
                dv_db_set_repair_fraction(db, LU_REPAIR_FRACTION); /* the writer's (not in the header) */
                dv_apply_config ac; /* a logical log replays through the ordinary writes */
                dv_apply_config_default(&ac);
                ac.mode = info.mode == DV_STREAM_LOGICAL ? DV_APPLY_LOGICAL : DV_APPLY_STRUCTURAL;
                dv_apply_init(db, &ac, &ap);
            }
            if (st == DV_EEMPTY) break;
            if (st != DV_OK) goto out;
            if (dv_apply_delta(ap, rec.header, rec.payload, rec.payload_len) != DV_OK) goto out;
            *last = rec.h.sequence;
        }
        dv_stream_reader_free(r);
        free(b);
        continue;
    out:
        dv_stream_reader_free(r);
        free(b);
        dv_apply_free(ap);
        dv_db_close(db);
        free(names);
        return 0;
    }
    free(names);
    if (db) h = dv_db_state_hash(db);
    dv_apply_free(ap);
    dv_db_close(db);
    return h;
}

#endif
