/*
 * progress.h -- the progress line of long commands (`deltavec ingest`):
 * records done, percent, rate and ETA, redrawn in place at most a few
 * times a second -- only when stderr is a terminal. When stderr is a pipe
 * or a file nothing is printed, so logs and scripts see only results.
 */
#ifndef DV_CLI_PROGRESS_H
#define DV_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct cli_progress {
    FILE *out; /* NULL: disabled (not a terminal) */
    double start_us, last_us;
    int drawn; /* a line is on the screen */
} cli_progress;

/* Enabled when out is a terminal. */
void cli_progress_start(cli_progress *p, FILE *out);
/*
 * Redraws (rate-limited) with done records; fraction of the work done from
 * the records (total_records > 0) or the bytes (total_bytes > 0), else
 * no percent and no ETA.
 */
void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total_records, uint64_t bytes,
                         uint64_t total_bytes);
/* Erases the line so what follows starts on a clean one. */
void cli_progress_clear(cli_progress *p);

#endif
