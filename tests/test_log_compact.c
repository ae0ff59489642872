/*
 * test_log_compact.c -- logical compaction (dv_stream_compact): per-id
 * merge rules, and a randomized check that a compacted run applied at the
 * same start gives the same ids, vectors and metadata as the run itself
 * (logically applied replicas; the graph is each replica's own). The
 * structural form of compaction, snapshot + tail, is checked by
 * test_log_store (checkpoint: same state hash).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <xxhash.h>

#include "log_util.h"
#include "support/membuf.h"

/* Records of a stream in memory. */
typedef struct recs {
    dv_stream_info info;
    const uint8_t *hdr[20000];
    const uint8_t *pay[20000];
    size_t len[20000];
    size_t n;
} recs;

static void split(const uint8_t *b, size_t len, recs *r) {
    r->n = 0;
    size_t off;
    assert_int_equal(dv_stream_header_decode(b, len, &r->info, &off), DV_OK);
    while (off < len) {
        dv_delta_header h;
        assert_int_equal(dv_delta_header_decode(b + off, &h), DV_OK);
        r->hdr[r->n] = b + off;
        r->pay[r->n] = b + off + DV_DELTA_HEADER_SIZE;
        r->len[r->n++] = h.payload_size;
        off += DV_DELTA_HEADER_SIZE + h.payload_size;
    }
}

/* A stream of records [from, to) of r, starting at sequence from + 1. */
static membuf substream(const recs *r, size_t from, size_t to) {
    dv_stream_info info = r->info;
    info.first_sequence = from + 1;
    membuf out = {0};
    dv_stream_writer *w;
    assert_int_equal(dv_stream_writer_open(&info, membuf_sink, &out, NULL, &w), DV_OK);
    for (size_t i = from; i < to; i++)
        assert_int_equal(dv_stream_writer_append(w, r->hdr[i], r->pay[i], r->len[i]), DV_OK);
    dv_stream_writer_free(w);
    return out;
}

/* Hash of the content (ids, vector bits, metadata in order), independent of slots and graph. */
typedef struct content {
    char **ids;
    size_t n;
} content;

static int collect(void *ctx, const char *id, const float *vec, uint32_t slot) {
    (void)vec;
    (void)slot;
    content *c = ctx;
    c->ids = realloc(c->ids, (c->n + 1) * sizeof(char *));
    c->ids[c->n++] = strdup(id);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static uint64_t content_hash(const dv_db *db) {
    content c = {0};
    dv_db_iterate(db, collect, &c);
    qsort(c.ids, c.n, sizeof(char *), cmp_str);
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    for (size_t i = 0; i < c.n; i++) {
        float v[LU_DIM];
        dv_db_get(db, c.ids[i], v);
        XXH3_64bits_update(st, c.ids[i], strlen(c.ids[i]) + 1);
        XXH3_64bits_update(st, v, sizeof v);
        const dv_meta_kv *m;
        size_t nm;
        dv_db_meta(db, c.ids[i], &m, &nm);
        for (size_t k = 0; k < nm; k++) {
            XXH3_64bits_update(st, m[k].key, strlen(m[k].key) + 1);
            XXH3_64bits_update(st, m[k].value, strlen(m[k].value) + 1);
        }
        free(c.ids[i]);
    }
    free(c.ids);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

static dv_db *logical_replica(const dv_stream_info *info, dv_apply **ap) {
    dv_db *db;
    assert_int_equal(dv_db_open_from_stream(info, NULL, &db), DV_OK);
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.mode = DV_APPLY_LOGICAL;
    ac.workers = 0;
    assert_int_equal(dv_apply_init(db, &ac, ap), DV_OK);
    return db;
}

static void apply_stream(dv_apply *ap, const membuf *s) {
    recs *r = malloc(sizeof *r);
    split(s->b, s->n, r);
    assert_int_equal(dv_apply_begin_stream(ap, &r->info), DV_OK);
    for (size_t i = 0; i < r->n; i++) {
        dv_status st = dv_apply_delta(ap, r->hdr[i], r->pay[i], r->len[i]);
        if (st != DV_OK) print_error("record %zu: %s: %s\n", i, dv_status_name(st), dv_apply_last_error(ap));
        assert_int_equal(st, DV_OK);
    }
    free(r);
}

/* A random write history on few ids (so the same ids are hit again and again). */
static void random_history(dv_store *s, unsigned seed, unsigned writes) {
    srand(seed);
    for (unsigned i = 0; i < writes; i++) {
        char id[16];
        snprintf(id, sizeof id, "v%d", rand() % 24);
        float v[LU_DIM];
        lu_vec(v, (unsigned)rand(), 0);
        const dv_db *db = dv_store_db(s);
        float cur[LU_DIM];
        int live = dv_db_get(db, id, cur) == DV_OK;
        int k = rand() % 10;
        dv_status st;
        if (!live) {
            dv_meta_kv m[2] = {{"a", "1"}, {"b", "2"}};
            st = dv_store_insert(s, id, v, m, (size_t)(k % 3));
        } else if (k < 3) {
            st = dv_store_update(s, id, v);
        } else if (k < 5) {
            uint32_t idx[2] = {0, 2};
            float val[2] = {v[0], v[1]};
            st = dv_store_update_sparse(s, id, idx, val, 1 + (size_t)(k % 2));
        } else if (k < 7) {
            const char *keys[3] = {"a", "b", "c"};
            st = dv_store_set_meta(s, id, keys[rand() % 3], rand() % 3 ? "x" : NULL);
        } else {
            st = dv_store_delete(s, id);
        }
        assert_int_equal(st, DV_OK);
    }
}

static void compacted_run_gives_the_same_content(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 25; seed++) {
        char dir[256], p[4096];
        lu_tempdir(dir, sizeof dir, "compact");
        dv_db_config c;
        lu_config(&c);
        dv_store_config sc;
        dv_store_config_default(&sc);
        sc.create = &c;
        sc.sync = DV_SYNC_NONE;
        dv_store *s;
        assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
        random_history(s, seed, 600);
        dv_store_close(s);
        snprintf(p, sizeof p, "%s/%020u.dvs", dir, 1u);
        size_t len = 0;
        uint8_t *b = lu_read(p, &len);
        recs *r = malloc(sizeof *r);
        split(b, len, r);
        size_t start = (size_t)(seed * 7) % (r->n / 2); /* the run starts somewhere in the first half */
        membuf prefix = substream(r, 0, start), run = substream(r, start, r->n);
        membuf packed = {0};
        dv_compact_stats cs;
        assert_int_equal(dv_stream_compact(run.b, run.n, membuf_sink, &packed, NULL, &cs), DV_OK);
        assert_int_equal(cs.records_in, r->n - start);
        assert_true(cs.records_out < cs.records_in / 3);
        assert_int_equal(cs.bytes_out, packed.n);
        assert_int_equal(dv_stream_verify(packed.b, packed.n, NULL, NULL, NULL), DV_OK);
        /* A: prefix + the run; B: prefix + the compacted run */
        dv_apply *apa, *apb;
        dv_db *a = logical_replica(&r->info, &apa), *bb = logical_replica(&r->info, &apb);
        if (start) {
            apply_stream(apa, &prefix);
            apply_stream(apb, &prefix);
        }
        apply_stream(apa, &run);
        apply_stream(apb, &packed);
        assert_int_equal(dv_db_count(a), dv_db_count(bb));
        assert_int_equal(content_hash(a), content_hash(bb));
        dv_apply_free(apa);
        dv_apply_free(apb);
        dv_db_close(a);
        dv_db_close(bb);
        free(prefix.b);
        free(run.b);
        free(packed.b);
        free(r);
        free(b);
        lu_rmdir(dir);
    }
}

/* The merge rules one by one. */
static void merge_rules(void **state) {
    (void)state;
    char dir[256], p[4096];
    lu_tempdir(dir, sizeof dir, "rules");
    dv_db_config c;
    lu_config(&c);
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.sync = DV_SYNC_NONE;
    dv_store *s;
    assert_int_equal(dv_store_open(dir, &sc, &s, NULL), DV_OK);
    float v[LU_DIM] = {1, 2, 3, 4}, w[LU_DIM] = {5, 6, 7, 8};
    uint32_t idx[1] = {3};
    float val[1] = {9};
    assert_int_equal(dv_store_insert(s, "kept", v, NULL, 0), DV_OK); /* insert + updates -> insert */
    assert_int_equal(dv_store_update(s, "kept", w), DV_OK);
    assert_int_equal(dv_store_update_sparse(s, "kept", idx, val, 1), DV_OK);
    assert_int_equal(dv_store_set_meta(s, "kept", "k", "v"), DV_OK);
    assert_int_equal(dv_store_insert(s, "gone", v, NULL, 0), DV_OK); /* insert + delete -> nothing */
    assert_int_equal(dv_store_update(s, "gone", w), DV_OK);
    assert_int_equal(dv_store_delete(s, "gone"), DV_OK);
    dv_store_close(s);
    snprintf(p, sizeof p, "%s/%020u.dvs", dir, 1u);
    size_t len = 0;
    uint8_t *b = lu_read(p, &len);
    membuf packed = {0};
    dv_compact_stats cs;
    assert_int_equal(dv_stream_compact(b, len, membuf_sink, &packed, NULL, &cs), DV_OK);
    assert_int_equal(cs.records_in, 7);
    assert_int_equal(cs.records_out, 1);
    recs *r = malloc(sizeof *r);
    split(packed.b, packed.n, r);
    assert_int_equal(r->info.mode, DV_STREAM_LOGICAL);
    dv_delta_header h;
    assert_int_equal(dv_delta_header_decode(r->hdr[0], &h), DV_OK);
    assert_int_equal(h.operation, DV_OP_INSERT);
    assert_int_equal(h.sequence, 1);
    dv_apply *ap;
    dv_db *db = logical_replica(&r->info, &ap);
    apply_stream(ap, &packed);
    float got[LU_DIM];
    assert_int_equal(dv_db_get(db, "kept", got), DV_OK);
    assert_true(got[0] == 5 && got[3] == 9);
    const char *mv;
    assert_int_equal(dv_db_get_meta(db, "kept", "k", &mv), DV_OK);
    assert_string_equal(mv, "v");
    assert_int_equal(dv_db_count(db), 1);
    dv_apply_free(ap);
    dv_db_close(db);
    free(r);
    free(packed.b);
    /* not a stream: refused */
    packed = (membuf){0};
    assert_int_equal(dv_stream_compact((const uint8_t *)"hello", 5, membuf_sink, &packed, NULL, NULL),
                     DV_ENOTSTREAM);
    free(packed.b);
    free(b);
    lu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge_rules),
        cmocka_unit_test(compacted_run_gives_the_same_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
