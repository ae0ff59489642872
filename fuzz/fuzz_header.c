/*
 * fuzz_header.c -- libFuzzer harness for the 64-byte header decoder,
 * dv_delta_verify and dv_delta_describe on raw input (first 64 bytes the
 * header, the rest the payload). Checksums are NOT fixed up here: this is
 * the untrusted-bytes-off-the-wire view.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < DV_DELTA_HEADER_SIZE) {
        char line[16];
        dv_delta_describe(NULL, NULL, 0, line, sizeof line);
        return 0;
    }
    dv_delta_header h;
    dv_status s = dv_delta_header_decode(data, &h);
    if (s == DV_OK) {
        uint8_t again[DV_DELTA_HEADER_SIZE];
        dv_delta_header_encode(&h, again);
        if (memcmp(again, data, DV_DELTA_HEADER_SIZE) != 0) abort(); /* decode o encode = identity */
    }
    dv_delta_verify(data, data + DV_DELTA_HEADER_SIZE, size - DV_DELTA_HEADER_SIZE);
    char line[200];
    dv_delta_describe(data, data + DV_DELTA_HEADER_SIZE, size - DV_DELTA_HEADER_SIZE, line, sizeof line);
    if (strlen(line) >= sizeof line) abort();
    return 0;
}
