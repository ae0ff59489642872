/* cli.h -- shared helpers of the deltavec command (an edge: stdio, clocks, threads allowed). */
#ifndef DV_CLI_H
#define DV_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic microseconds. */
double cli_now_us(void);
uint32_t cli_rand(uint64_t *state);
float cli_randf(uint64_t *state); /* uniform in [-1, 1) */
/* The built-in dataset: n x dim floats in 64 gaussian-ish clusters, fully
 * determined by seed (no file, no download). malloc'ed; NULL on failure. */
float *cli_dataset(uint32_t n, uint32_t dim, uint64_t seed);

int cli_demo(int argc, char **argv);
int cli_dump(int argc, char **argv);

#endif
