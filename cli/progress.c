/*
 * progress.c -- the in-place progress line (progress.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <unistd.h>

#include "common.h"

#define REDRAW_US 200000.0 /* five redraws a second: cheap, and readable */

void cli_progress_start(cli_progress *p, FILE *out) {
    p->out = out && isatty(fileno(out)) ? out : NULL;
    p->start_us = p->last_us = cli_now_us();
    p->drawn = 0;
}

static void print_duration(FILE *out, double seconds) {
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600)
        fprintf(out, "%luh%02lum", s / 3600, s / 60 % 60);
    else if (s >= 60)
        fprintf(out, "%lum%02lus", s / 60, s % 60);
    else
        fprintf(out, "%lus", s);
}

void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total_records, uint64_t bytes,
                         uint64_t total_bytes) {
    if (!p->out) return;
    double now = cli_now_us();
    if (p->drawn && now - p->last_us < REDRAW_US) return;
    p->last_us = now;
    double elapsed = (now - p->start_us) / 1e6, rate = elapsed > 0 ? (double)done / elapsed : 0;
    double fraction = total_records ? (double)done / (double)total_records
                      : total_bytes ? (double)bytes / (double)total_bytes
                                    : -1;
    fprintf(p->out, "\r\033[K%llu", (unsigned long long)done);
    if (total_records) fprintf(p->out, "/%llu", (unsigned long long)total_records);
    fprintf(p->out, " records");
    if (fraction >= 0) fprintf(p->out, "  %5.1f%%", 100 * (fraction > 1 ? 1 : fraction));
    fprintf(p->out, "  %.0f/s", rate);
    if (fraction > 0 && fraction < 1 && elapsed > 0) {
        fprintf(p->out, "  ETA ");
        print_duration(p->out, elapsed * (1 - fraction) / fraction);
    }
    fflush(p->out);
    p->drawn = 1;
}

void cli_progress_clear(cli_progress *p) {
    if (!p->out || !p->drawn) return;
    fprintf(p->out, "\r\033[K");
    fflush(p->out);
    p->drawn = 0;
}
