/*
 * dump.c -- `deltavec dump FILE`: print and check a stream file.
 *
 * A stream is a stream header then records, each a delta (docs/FORMAT.md
 * section 10). The file is read in chunks through the library's incremental
 * reader (dv_stream_reader), exactly as a tailing consumer would: the
 * header (config, first sequence, producer, db id) is printed, then one line
 * per record with its byte offset, and every problem -- gap, duplicate,
 * checksum, payload that does not decode, unreadable record header, torn
 * tail -- as an "error at offset N" line where it occurs. Exit status 1 if
 * there was any problem, including an empty file or one that is not a
 * stream (each with its own message).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "deltavec.h"

#define CHUNK (64u * 1024u)

static const char *metric_name(uint32_t m) {
    static const char *const names[] = {"l2", "ip", "cosine"};
    return m < 3 ? names[m] : "?";
}

static void print_header(const dv_stream_info *in) {
    static const char *const lossy[] = {"lossless", "lossy f16", "lossy i8"};
    printf("stream: container version %u, header %u bytes, record format %u, %s, %s\n", in->version,
           in->header_size, in->delta_version, in->mode == DV_STREAM_LOGICAL ? "logical" : "structural",
           lossy[in->lossy < 3 ? in->lossy : 0]);
    printf("config: dim %u, metric %s, M %u, ef_construction %u, seed %llu, relink_ratio %g\n", in->dim,
           metric_name(in->metric), in->M, in->ef_construction, (unsigned long long)in->seed,
           (double)in->relink_ratio);
    printf("first sequence %llu, producer %u.%u.%u, db id ", (unsigned long long)in->first_sequence,
           in->producer_version / 10000, in->producer_version / 100 % 100, in->producer_version % 100);
    for (int i = 0; i < DV_STREAM_DB_ID_SIZE; i++) printf("%02x", in->db_id[i]);
    printf("\n");
}

static void problem(size_t *n, dv_status st, uint64_t offset, const char *msg) {
    printf("error at offset %llu: %s: %s\n", (unsigned long long)offset, dv_status_name(st), msg);
    (*n)++;
}

int cli_dump(int argc, char **argv) {
    if (argc != 1) {
        fprintf(stderr, "usage: deltavec dump FILE\n");
        return 2;
    }
    const char *path = argv[0];
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint8_t *chunk = malloc(CHUNK);
    dv_stream_reader *r = NULL;
    if (!chunk || dv_stream_reader_open(NULL, &r) != DV_OK) {
        fprintf(stderr, "%s: out of memory\n", path);
        free(chunk);
        fclose(f);
        return 1;
    }
    size_t records = 0, problems = 0;
    int header_printed = 0, stopped = 0, read_error = 0;
    char line[512];
    while (!stopped) {
        size_t got = fread(chunk, 1, CHUNK, f), pos = 0;
        if (got == 0) {
            read_error = ferror(f);
            break;
        }
        while (!stopped) {
            size_t used;
            dv_stream_record rec;
            dv_status st = dv_stream_reader_next(r, chunk + pos, got - pos, &used, &rec);
            pos += used;
            if (st == DV_EEMPTY) break;
            dv_stream_info info;
            if (!header_printed && dv_stream_reader_info(r, &info) == DV_OK) {
                print_header(&info);
                header_printed = 1;
            }
            if (st == DV_ENOTSTREAM) {
                fprintf(stderr, "%s: %s\n", path, dv_stream_reader_message(r));
                problems++;
                stopped = 1;
                break;
            }
            if (dv_stream_reader_stopped(r)) { /* the stream header or a record header: framing lost */
                problem(&problems, st, rec.offset, dv_stream_reader_message(r));
                stopped = 1;
            } else if (st == DV_OK || st == DV_EGAP || st == DV_EDUPLICATE) {
                records++;
                dv_status ds = dv_delta_describe(rec.header, rec.payload, rec.payload_len, line, sizeof line);
                printf("@%llu %s\n", (unsigned long long)rec.offset, line);
                if (st != DV_OK) problem(&problems, st, rec.offset, dv_stream_reader_message(r));
                if (ds != DV_OK) problem(&problems, ds, rec.offset, "payload does not decode");
            } else if (st == DV_ECHECKSUM) {
                records++;
                problem(&problems, st, rec.offset, dv_stream_reader_message(r));
            } else { /* DV_ENOMEM: nothing consumed is lost, but give up */
                problem(&problems, st, dv_stream_reader_offset(r), dv_strerror(st));
                stopped = 1;
            }
        }
    }
    if (read_error) {
        perror(path);
        problems++;
    } else if (!stopped) {
        uint64_t at;
        dv_stream_info info;
        if (!header_printed && dv_stream_reader_info(r, &info) == DV_OK) print_header(&info);
        dv_status st = dv_stream_reader_finish(r, &at);
        if (st == DV_EEMPTY) {
            fprintf(stderr, "%s: empty file: not a deltavec stream (a stream has at least its header)\n",
                    path);
            problems++;
        } else if (st != DV_OK) {
            problem(&problems, st, at, dv_stream_reader_message(r));
        }
    }
    dv_stream_reader_free(r);
    free(chunk);
    fclose(f);
    fprintf(stderr, "%zu records, %zu problem%s\n", records, problems, problems == 1 ? "" : "s");
    return problems ? 1 : 0;
}
