/*
 * common.c -- helpers shared by the deltavec subcommands (common.h): the
 * monotonic clock, the deterministic generator and the built-in dataset.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <stdlib.h>
#include <time.h>

double cli_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

uint32_t cli_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

float cli_randf(uint64_t *s) { return (float)cli_rand(s) / 2147483648.0f - 1.0f; }

/* Sum of three uniforms: a cheap, deterministic bell shape in [-3, 3). */
static float bell(uint64_t *s) { return cli_randf(s) + cli_randf(s) + cli_randf(s); }

float *cli_dataset(uint32_t n, uint32_t dim, uint64_t seed) {
    const uint32_t clusters = 64;
    float *centres = malloc((size_t)clusters * dim * sizeof(float));
    float *data = malloc((size_t)n * dim * sizeof(float));
    if (!centres || !data) {
        free(centres);
        free(data);
        return NULL;
    }
    uint64_t rng = seed;
    for (size_t i = 0; i < (size_t)clusters * dim; i++) centres[i] = cli_randf(&rng);
    for (uint32_t i = 0; i < n; i++) {
        const float *c = centres + (size_t)(cli_rand(&rng) % clusters) * dim;
        for (uint32_t d = 0; d < dim; d++) data[(size_t)i * dim + d] = c[d] + 0.15f * bell(&rng);
    }
    free(centres);
    return data;
}
