/*
 * dump.c -- `deltavec dump FILE`: describe every delta of a stream file.
 *
 * A stream file is deltas back to back, each its 64-byte header followed
 * by payload_size payload bytes (docs/FORMAT.md, "Stream files"). Every
 * delta is verified; the first bad one stops the dump with its status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "deltavec.h"

int cli_dump(int argc, char **argv) {
    if (argc != 1) {
        fprintf(stderr, "usage: deltavec dump FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[0], "rb");
    if (!f) {
        perror(argv[0]);
        return 1;
    }
    uint8_t hdr[DV_DELTA_HEADER_SIZE];
    uint8_t *payload = NULL;
    size_t cap = 0, count = 0;
    char line[512];
    int rc = 0;
    for (;;) {
        size_t got = fread(hdr, 1, sizeof hdr, f);
        if (got == 0) break;
        dv_delta_header h;
        dv_status st = got == sizeof hdr ? dv_delta_header_decode(hdr, &h) : DV_ETRUNCATED;
        if (st == DV_OK && h.payload_size > cap) {
            uint8_t *q = realloc(payload, h.payload_size);
            if (!q)
                st = DV_ENOMEM;
            else {
                payload = q;
                cap = h.payload_size;
            }
        }
        if (st == DV_OK && fread(payload, 1, h.payload_size, f) != h.payload_size) st = DV_ETRUNCATED;
        if (st == DV_OK) st = dv_delta_describe(hdr, payload, h.payload_size, line, sizeof line);
        if (st != DV_OK) {
            fprintf(stderr, "%s: delta %zu: %s (%s)\n", argv[0], count, dv_status_name(st), dv_strerror(st));
            rc = 1;
            break;
        }
        printf("%s\n", line);
        count++;
    }
    fclose(f);
    free(payload);
    if (!rc) fprintf(stderr, "%zu deltas\n", count);
    return rc;
}
