/*
 * common.h -- helpers shared by the deltavec subcommands: a monotonic clock,
 * a small deterministic generator and the built-in dataset. The CLI is an
 * edge (stdio, clocks and threads are allowed here). The subcommands
 * (demo.c, dump.c) call these; they never call into main.c, which only
 * dispatches to the entry points of cli.h.
 */
#ifndef DV_CLI_COMMON_H
#define DV_CLI_COMMON_H

#include <stdint.h>

/* Monotonic microseconds. */
double cli_now_us(void);
uint32_t cli_rand(uint64_t *state);
float cli_randf(uint64_t *state); /* uniform in [-1, 1) */
/* The built-in dataset: n x dim floats in 64 gaussian-ish clusters, fully
 * determined by seed (no file, no download). malloc'ed; NULL on failure. */
float *cli_dataset(uint32_t n, uint32_t dim, uint64_t seed);

#endif
