/*
 * gen_corpus.c -- writes the seed corpora of the fuzz harnesses:
 *   gen_corpus DIR  ->  files in DIR/header, DIR/payload, DIR/batch
 * from the sample deltas of tests/delta_samples.h under several encoding
 * options (so every op, flag, float coding and the compressed path are
 * represented). Generated, not checked in: the corpus follows the format.
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

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (with subfolders header/ payload/ batch/)\n", argv[0]);
        return 2;
    }
    static uint8_t buf[1 << 16], batch[1 << 16];
    int rc = 0;
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
            if (k == DV_SAMPLE_BATCH && !(buf[9] & DV_FLAG_COMPRESSED)) {
                batch[0] = (uint8_t)(v & 1);
                memcpy(batch + 1, buf + DV_DELTA_HEADER_SIZE, n - DV_DELTA_HEADER_SIZE);
                rc |= write_file(argv[1], "batch", k, v, batch, n - DV_DELTA_HEADER_SIZE + 1);
            }
        }
    }
    return rc;
}
