/*
 * test_ingest_readers.c -- the readers of `deltavec ingest` (cli/ingest/):
 * .fvecs/.bvecs, .npy, JSONL and CSV files written to a scratch directory
 * and read back record by record; every bad record (wrong dimension,
 * non-finite value, bad JSON, truncated rows, bad .npy headers) is
 * reported at its exact row or line with its reason, and the readers that
 * can go on after a bad record do.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>

#include "log_util.h"
#include "reader.h"

static char scratch[256];

static int setup(void **state) {
    (void)state;
    lu_tempdir(scratch, sizeof scratch, "ingest");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    lu_rmdir(scratch);
    return 0;
}

static const char *write_file(const char *name, const void *bytes, size_t len) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_text(const char *name, const char *text) {
    return write_file(name, text, strlen(text));
}

static ingest_reader *open_ok(const char *path, ingest_format format, uint32_t dim) {
    ingest_reader *r = NULL;
    ingest_error err;
    int rc = ingest_open(path, format, dim, &r, &err);
    if (rc != 0) print_error("open %s: %s\n", path, err.reason);
    assert_int_equal(rc, 0);
    return r;
}

/* Opening fails with a reason containing `want`. */
static void open_fails(const char *path, ingest_format format, uint32_t dim, const char *want) {
    ingest_reader *r = NULL;
    ingest_error err;
    assert_int_equal(ingest_open(path, format, dim, &r, &err), -1);
    assert_null(r);
    if (!strstr(err.reason, want)) print_error("reason \"%s\" lacks \"%s\"\n", err.reason, want);
    assert_non_null(strstr(err.reason, want));
}

static void expect_record(ingest_reader *r, const char *id, uint64_t pos, uint32_t dim, const float *values) {
    ingest_record rec;
    ingest_error err;
    ingest_result rc = ingest_next(r, &rec, &err);
    if (rc != INGEST_RECORD) print_error("expected record %s, got %d: %s\n", id, rc, err.reason);
    assert_int_equal(rc, INGEST_RECORD);
    assert_string_equal(rec.id, id);
    assert_int_equal(rec.pos, pos);
    assert_int_equal(rec.dim, dim);
    if (values) assert_memory_equal(rec.vec, values, sizeof(float) * dim);
}

static void expect_problem(ingest_reader *r, ingest_result want, uint64_t pos, const char *reason) {
    ingest_record rec;
    ingest_error err;
    ingest_result rc = ingest_next(r, &rec, &err);
    if (rc != want)
        print_error("expected %d at %llu, got %d (%s)\n", want, (unsigned long long)pos, rc, err.reason);
    assert_int_equal(rc, want);
    assert_int_equal(err.has_pos, 1);
    assert_int_equal(err.pos, pos);
    if (!strstr(err.reason, reason)) print_error("reason \"%s\" lacks \"%s\"\n", err.reason, reason);
    assert_non_null(strstr(err.reason, reason));
}

static void expect_end(ingest_reader *r) {
    ingest_record rec;
    ingest_error err;
    assert_int_equal(ingest_next(r, &rec, &err), INGEST_END);
}

/* ---- .fvecs / .bvecs ---- */

typedef struct bytes {
    uint8_t data[8192];
    size_t len;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
    assert_true(b->len + n <= sizeof b->data);
    if (n == 0) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_fvec(bytes *b, int32_t dim, const float *v) {
    put(b, &dim, 4); /* the test machine is little-endian, as the format */
    put(b, v, sizeof(float) * (size_t)(dim > 0 ? dim : 0));
}

static const float V[4][4] = {{1, 2, 3, 4}, {0.5f, -1, 1e-3f, 7}, {9, 8, 7, 6}, {-2, -3, -4, -5}};

static void fvecs_reads_rows_as_ids(void **state) {
    (void)state;
    bytes b = {.len = 0};
    for (int i = 0; i < 4; i++) put_fvec(&b, 4, V[i]);
    ingest_reader *r = open_ok(write_file("good.fvecs", b.data, b.len), INGEST_AUTO, 0);
    assert_int_equal(ingest_reader_format(r), INGEST_FVECS);
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        expect_record(r, id, (uint64_t)i, 4, V[i]);
    }
    assert_int_equal(ingest_rows_total(r), 4);
    expect_end(r);
    assert_int_equal(ingest_bytes_read(r), b.len);
    ingest_close(r);
}

static void fvecs_bad_rows_are_reported_and_skipped(void **state) {
    (void)state;
    bytes b = {.len = 0};
    float nan_row[4] = {1, 2, NAN, 4};
    put_fvec(&b, 4, V[0]);
    put_fvec(&b, 3, V[1]);    /* row 1: wrong dimension */
    put_fvec(&b, 4, nan_row); /* row 2: NaN in value 2 */
    put_fvec(&b, 4, V[3]);
    ingest_reader *r = open_ok(write_file("bad.fvecs", b.data, b.len), INGEST_FVECS, 4);
    expect_record(r, "0", 0, 4, V[0]);
    expect_problem(r, INGEST_BAD, 1, "3 values, expected 4");
    expect_problem(r, INGEST_BAD, 2, "value 2 is NaN");
    expect_record(r, "3", 3, 4, V[3]);
    expect_end(r);
    ingest_close(r);
}

static void fvecs_truncation_is_fatal_at_its_row(void **state) {
    (void)state;
    bytes b = {.len = 0};
    for (int i = 0; i < 3; i++) put_fvec(&b, 4, V[i]);
    /* cut inside row 2's values */
    ingest_reader *r = open_ok(write_file("cut.fvecs", b.data, b.len - 5), INGEST_FVECS, 0);
    expect_record(r, "0", 0, 4, V[0]);
    expect_record(r, "1", 1, 4, V[1]);
    expect_problem(r, INGEST_FATAL, 2, "file ends inside the row (11 of 16 value bytes)");
    ingest_close(r);
    /* cut inside row 1's dimension field */
    r = open_ok(write_file("cut2.fvecs", b.data, 20 + 2), INGEST_FVECS, 0);
    expect_record(r, "0", 0, 4, V[0]);
    expect_problem(r, INGEST_FATAL, 1, "file ends inside the dimension field (2 of 4 bytes at offset 20)");
    ingest_close(r);
    /* a dimension field that cannot be one: framing lost */
    bytes c = {.len = 0};
    put_fvec(&c, 4, V[0]);
    put_fvec(&c, -7, NULL);
    r = open_ok(write_file("garbage.fvecs", c.data, c.len), INGEST_FVECS, 0);
    expect_record(r, "0", 0, 4, V[0]);
    expect_problem(r, INGEST_FATAL, 1, "dimension field -7 at offset 20 is not in 1..4096");
    ingest_close(r);
}

static void bvecs_reads_bytes_as_floats(void **state) {
    (void)state;
    uint8_t rows[2][7] = {{3, 0, 0, 0, 0, 128, 255}, {3, 0, 0, 0, 1, 2, 3}};
    ingest_reader *r = open_ok(write_file("b.bvecs", rows, sizeof rows), INGEST_AUTO, 3);
    const float a[3] = {0, 128, 255}, c[3] = {1, 2, 3};
    expect_record(r, "0", 0, 3, a);
    expect_record(r, "1", 1, 3, c);
    expect_end(r);
    ingest_close(r);
}

/* ---- .npy ---- */

/* A .npy file: header dict `dict` (padded to 64 bytes as numpy does), then `data`. */
static const char *write_npy(const char *name, int major, const char *dict, const void *data, size_t len) {
    static uint8_t buf[16384];
    size_t pre = major == 1 ? 10 : 12;
    size_t hlen = strlen(dict) + 1;
    while ((pre + hlen) % 64) hlen++;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    buf[8] = (uint8_t)hlen;
    buf[9] = (uint8_t)(hlen >> 8);
    if (major != 1) buf[10] = buf[11] = 0;
    memset(buf + pre, ' ', hlen);
    memcpy(buf + pre, dict, strlen(dict));
    buf[pre + hlen - 1] = '\n';
    assert_true(pre + hlen + len <= sizeof buf);
    memcpy(buf + pre + hlen, data, len);
    return write_file(name, buf, pre + hlen + len);
}

static void npy_float32_and_float64(void **state) {
    (void)state;
    ingest_reader *r = open_ok(
        write_npy("f4.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }", V, sizeof V),
        INGEST_AUTO, 4);
    assert_int_equal(ingest_rows_total(r), 4);
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        expect_record(r, id, (uint64_t)i, 4, V[i]);
    }
    expect_end(r);
    ingest_close(r);

    double d[3][2] = {{0.25, -1.5}, {1e300, 2}, {3, 4}};
    r = open_ok(
        write_npy("f8.npy", 2, "{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(3,2)}", d, sizeof d),
        INGEST_NPY, 0);
    const float r0[2] = {0.25f, -1.5f}, r2[2] = {3, 4};
    expect_record(r, "0", 0, 2, r0);
    expect_problem(r, INGEST_BAD, 1, "value 0 is infinite or out of float32 range");
    expect_record(r, "2", 2, 2, r2);
    expect_end(r);
    ingest_close(r);
}

static void npy_big_endian_is_swapped(void **state) {
    (void)state;
    const float v[2] = {1.5f, -2};
    uint8_t be[8];
    for (int i = 0; i < 2; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) be[4 * i + k] = (uint8_t)(u >> (24 - 8 * k));
    }
    ingest_reader *r =
        open_ok(write_npy("be.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }", be, 8),
                INGEST_NPY, 2);
    expect_record(r, "0", 0, 2, v);
    expect_end(r);
    ingest_close(r);
}

static void npy_bad_headers_are_refused_with_the_reason(void **state) {
    (void)state;
    float z[8] = {0};
    open_fails(write_npy("fo.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4), }", z, 32),
               INGEST_NPY, 0, "Fortran-order");
    open_fails(write_npy("i4.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 4), }", z, 32),
               INGEST_NPY, 0, "dtype '<i4' is not supported");
    open_fails(write_npy("1d.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }", z, 32),
               INGEST_NPY, 0, "array has 1 dimension: expected 2");
    open_fails(
        write_npy("3d.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", z, 32),
        INGEST_NPY, 0, "array has 3 dimensions");
    open_fails(write_npy("nokey.npy", 1, "{'descr': '<f4', 'shape': (2, 4), }", z, 32), INGEST_NPY, 0,
               "lacks one of");
    open_fails(
        write_npy("extra.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), 'x': 1}", z, 32),
        INGEST_NPY, 0, "unknown key 'x'");
    open_fails(write_npy("dup.npy", 1,
                         "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 4)}", z, 32),
               INGEST_NPY, 0, "key 'descr' twice");
    open_fails(
        write_npy("rec.npy", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", z, 32),
        INGEST_NPY, 0, "structured dtype");
    open_fails(
        write_npy("junk.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), } x", z, 32),
        INGEST_NPY, 0, "bytes after the dict");
    open_fails(write_npy("dim.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", z, 32),
               INGEST_NPY, 8, "4 values per row, expected 8");
    open_fails(write_text("text.npy", "id,a,b\n"), INGEST_NPY, 0, "not a .npy file");
    uint8_t v9[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 9, 0, 16, 0};
    open_fails(write_file("v9.npy", v9, sizeof v9), INGEST_NPY, 0, "version 9.0 is not supported");
    uint8_t short_hdr[14] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 100, 0, '{'};
    open_fails(write_file("short.npy", short_hdr, sizeof short_hdr), INGEST_NPY, 0,
               "file ends inside the header (4 of 100 bytes)");
}

static void npy_truncated_data_and_trailing_bytes(void **state) {
    (void)state;
    ingest_reader *r =
        open_ok(write_npy("cut.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }", V,
                          sizeof V - 6),
                INGEST_NPY, 0);
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        expect_record(r, id, (uint64_t)i, 4, V[i]);
    }
    expect_problem(r, INGEST_FATAL, 3, "file ends inside the row (10 of 16 bytes; shape has 4 rows)");
    ingest_close(r);
    r = open_ok(
        write_npy("long.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }", V, 20),
        INGEST_NPY, 0);
    expect_record(r, "0", 0, 4, V[0]);
    expect_problem(r, INGEST_FATAL, 1, "bytes after the last row (shape has 1 rows)");
    ingest_close(r);
}

/* ---- JSONL ---- */

static void jsonl_records_with_metadata(void **state) {
    (void)state;
    const char *text =
        "{\"id\": \"a\", \"vector\": [1, 2, 3], \"metadata\": {\"lang\": \"en\", \"n\": 7, \"ok\": true}}\n"
        "\n"
        "{\"id\": 42, \"vector\": [0.5, -1, 1e-3], \"text\": \"ignored\"}\r\n"
        "   \n"
        "{\"vector\": [4, 5, 6], \"id\": \"c\"}";
    ingest_reader *r = open_ok(write_text("m.jsonl", text), INGEST_AUTO, 0);
    ingest_record rec;
    ingest_error err;
    assert_int_equal(ingest_next(r, &rec, &err), INGEST_RECORD);
    assert_string_equal(rec.id, "a");
    assert_int_equal(rec.pos, 1);
    assert_int_equal(rec.n_meta, 3);
    assert_string_equal(rec.meta[0].key, "lang");
    assert_string_equal(rec.meta[0].value, "en");
    assert_string_equal(rec.meta[1].value, "7");
    assert_string_equal(rec.meta[2].value, "true");
    const float b[3] = {0.5f, -1, 1e-3f}, c[3] = {4, 5, 6};
    expect_record(r, "42", 3, 3, b);
    expect_record(r, "c", 5, 3, c);
    expect_end(r);
    ingest_close(r);
}

static void jsonl_bad_lines_name_line_and_reason(void **state) {
    (void)state;
    const char *text = "{\"id\": \"ok1\", \"vector\": [1, 2]}\n"   /* 1 */
                       "{\"id\": \"x\", \"vector\": [1, 2,}\n"     /* 2: bad JSON */
                       "{\"id\": \"y\", \"vector\": [1, 2, 3]}\n"  /* 3: wrong dim */
                       "{\"id\": \"z\", \"vector\": [1, 1e39]}\n"  /* 4: beyond float32 */
                       "{\"vector\": [1, 2]}\n"                    /* 5: no id */
                       "{\"id\": \"w\", \"vector\": \"1,2\"}\n"    /* 6: not an array */
                       "{\"id\": \"v\", \"vector\": [1, \"2\"]}\n" /* 7: not a number */
                       "{\"id\": \"u\", \"vector\": [1, 2], \"metadata\": {\"k\": [1]}}\n" /* 8 */
                       "{\"id\": \"t\", \"vector\": [1, 2]} trailing\n"                    /* 9 */
                       "[1, 2]\n"                                 /* 10: not an object */
                       "{\"id\": 1.5, \"vector\": [1, 2]}\n"      /* 11: id not an integer */
                       "{\"id\": \"ok2\", \"vector\": [3, 4]}\n"; /* 12 */
    ingest_reader *r = open_ok(write_text("bad.jsonl", text), INGEST_JSONL, 2);
    expect_record(r, "ok1", 1, 2, NULL);
    expect_problem(r, INGEST_BAD, 2, "invalid JSON at column 29");
    expect_problem(r, INGEST_BAD, 3, "3 values, expected 2");
    expect_problem(r, INGEST_BAD, 4, "value 1 is infinite or out of float32 range");
    expect_problem(r, INGEST_BAD, 5, "\"id\" is missing");
    expect_problem(r, INGEST_BAD, 6, "\"vector\" is not an array");
    expect_problem(r, INGEST_BAD, 7, "\"vector\" value 1 is not a number");
    expect_problem(r, INGEST_BAD, 8, "metadata \"k\": value must be a string, number or boolean");
    expect_problem(r, INGEST_BAD, 9, "text after the JSON object at column 31");
    expect_problem(r, INGEST_BAD, 10, "not a JSON object");
    expect_problem(r, INGEST_BAD, 11, "\"id\" 1.5 is not an integer");
    const float ok2[2] = {3, 4};
    expect_record(r, "ok2", 12, 2, ok2);
    expect_end(r);
    ingest_close(r);
}

/* ---- CSV ---- */

static void csv_header_quotes_and_line_numbers(void **state) {
    (void)state;
    const char *text = "id,x,y,z\n"                 /* 1: header, skipped */
                       "a,1,2,3\n"                  /* 2 */
                       "\n"                         /* 3: blank */
                       "\"b,with comma\",4,5,6\r\n" /* 4 */
                       "\"multi\nline\", 7, 8 ,9\n" /* 5-6 */
                       "c,1e-3,-0,2.5";             /* 7: no final newline */
    ingest_reader *r = open_ok(write_text("h.csv", text), INGEST_AUTO, 0);
    const float a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, m[3] = {7, 8, 9}, c[3] = {1e-3f, -0.0f, 2.5f};
    expect_record(r, "a", 2, 3, a);
    expect_record(r, "b,with comma", 4, 3, b);
    expect_record(r, "multi\nline", 5, 3, m);
    expect_record(r, "c", 7, 3, c);
    expect_end(r);
    ingest_close(r);
}

static void csv_bad_rows_name_line_and_reason(void **state) {
    (void)state;
    const char *text = "a,1,2\n"    /* 1 (no header: the first value is a number) */
                       "b,1,x\n"    /* 2: not a number */
                       "c,1\n"      /* 3: wrong dim */
                       "d,1,\n"     /* 4: empty value */
                       "e,inf,2\n"  /* 5: infinite */
                       "f,nan,2\n"  /* 6: NaN */
                       "g,1e39,2\n" /* 7: beyond float32 */
                       "lonely\n"   /* 8: id only */
                       ",1,2\n"     /* 9: empty id */
                       "h,3,4\n";   /* 10 */
    ingest_reader *r = open_ok(write_text("bad.csv", text), INGEST_CSV, 0);
    expect_record(r, "a", 1, 2, NULL);
    expect_problem(r, INGEST_BAD, 2, "value 1 is not a number (\"x\")");
    expect_problem(r, INGEST_BAD, 3, "1 values, expected 2");
    expect_problem(r, INGEST_BAD, 4, "value 1 is empty");
    expect_problem(r, INGEST_BAD, 5, "value 0 is infinite");
    expect_problem(r, INGEST_BAD, 6, "value 0 is NaN");
    expect_problem(r, INGEST_BAD, 7, "value 0 is infinite or out of float32 range");
    expect_problem(r, INGEST_BAD, 8, "1 field: expected an id, then the values");
    expect_problem(r, INGEST_BAD, 9, "empty id");
    const float h[2] = {3, 4};
    expect_record(r, "h", 10, 2, h);
    expect_end(r);
    ingest_close(r);
}

/* ---- formats and files ---- */

static void formats_from_names_and_files(void **state) {
    (void)state;
    assert_int_equal(ingest_format_from_path("a/b.fvecs"), INGEST_FVECS);
    assert_int_equal(ingest_format_from_path("x.ndjson"), INGEST_JSONL);
    assert_int_equal(ingest_format_from_path("dir.csv/noext"), INGEST_AUTO);
    assert_int_equal(ingest_format_from_name("npy"), INGEST_NPY);
    assert_int_equal(ingest_format_from_name("parquet"), INGEST_AUTO);
    assert_string_equal(ingest_pos_unit(INGEST_CSV), "line");
    assert_string_equal(ingest_pos_unit(INGEST_BVECS), "row");
    open_fails(write_text("data.txt", "1\n"), INGEST_AUTO, 0, "give --format");
    char missing[512];
    snprintf(missing, sizeof missing, "%s/none.fvecs", scratch);
    open_fails(missing, INGEST_AUTO, 0, "cannot open: No such file or directory");
    open_fails(scratch, INGEST_CSV, 0, "is a directory");
}

/* Memory stays bounded: a line past the limit is skipped without being kept. */
static void overlong_line_is_skipped(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/long.jsonl", scratch);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("{\"id\": \"a\", \"vector\": [1]}\n{\"id\": \"b\", \"vector\": [", f);
    for (unsigned i = 0; i < (17u << 20) / 2; i++) fputs("1,", f);
    fputs("1]}\n{\"id\": \"c\", \"vector\": [2]}\n", f);
    assert_int_equal(fclose(f), 0);
    ingest_reader *r = open_ok(path, INGEST_AUTO, 1);
    expect_record(r, "a", 1, 1, NULL);
    expect_problem(r, INGEST_BAD, 2, "line longer than 16777216 bytes");
    expect_record(r, "c", 3, 1, NULL);
    expect_end(r);
    ingest_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fvecs_reads_rows_as_ids),
        cmocka_unit_test(fvecs_bad_rows_are_reported_and_skipped),
        cmocka_unit_test(fvecs_truncation_is_fatal_at_its_row),
        cmocka_unit_test(bvecs_reads_bytes_as_floats),
        cmocka_unit_test(npy_float32_and_float64),
        cmocka_unit_test(npy_big_endian_is_swapped),
        cmocka_unit_test(npy_bad_headers_are_refused_with_the_reason),
        cmocka_unit_test(npy_truncated_data_and_trailing_bytes),
        cmocka_unit_test(jsonl_records_with_metadata),
        cmocka_unit_test(jsonl_bad_lines_name_line_and_reason),
        cmocka_unit_test(csv_header_quotes_and_line_numbers),
        cmocka_unit_test(csv_bad_rows_name_line_and_reason),
        cmocka_unit_test(formats_from_names_and_files),
        cmocka_unit_test(overlong_line_is_skipped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
