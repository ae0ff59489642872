/*
 * membuf.h -- test support: a growing memory buffer behind a dv_stream_sink_fn
 * sink (snapshot and stream writers), optionally refusing past a size.
 */
#ifndef DV_TEST_MEMBUF_H
#define DV_TEST_MEMBUF_H

#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"

typedef struct membuf {
    uint8_t *b; /* malloc'ed (free it) */
    size_t n, cap;
    size_t fail_at; /* the sink refuses (DV_EFULL) once n would pass this (0: never) */
    size_t calls;   /* how many times the sink was called */
} membuf;

/* Appends p[0..n) to the membuf ctx; fails the test when out of memory. */
dv_status membuf_sink(void *ctx, const uint8_t *p, size_t n);

#endif
