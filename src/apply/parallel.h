/*
 * parallel.h -- the parallel engine's internal interface: what the public
 * entry points (applier.c) call, and a test hook that pauses the
 * worker-loop protocol at named points, so tests can force the
 * interleavings that matter (a stop request racing with loops leaving)
 * instead of waiting for the scheduler to produce them.
 */
#ifndef DV_APPLY_PARALLEL_H
#define DV_APPLY_PARALLEL_H

#include <stdint.h>

#include "deltavec.h"

/* Worker state for an applier with config.workers >= 1 in structural mode
 * (none otherwise; no queue is allocated before a loop runs). */
dv_status dv_par_init(dv_apply *ap);
void dv_par_free(dv_apply *ap);
/* Non-zero when dv_apply_batch should go through the workers: every loop
 * runs, none is asked to stop, and the replica has no observer. */
int dv_par_ready(const dv_apply *ap);
dv_status dv_par_batch(dv_apply *ap, const uint8_t *const *headers, const uint8_t *const *payloads,
                       const size_t *payload_lens, size_t n, dv_status *results, size_t *n_applied);

typedef enum dv_par_point {
    DV_PAR_STOP_REQUESTING = 1, /* dv_apply_workers_stop, about to publish its request (index: 0) */
    DV_PAR_LOOP_LEAVING,        /* loop `index` decided to return, before it deregisters */
    DV_PAR_LOOP_LEFT            /* loop `index` deregistered, before it returns */
} dv_par_point;

typedef void (*dv_par_test_hook)(void *ctx, dv_par_point point, uint32_t index);

/* Installs (fn NULL: removes) the hook; only while no loop runs. Unset, it
 * costs one branch at each point, none of which is on the apply path. */
void dv_par_set_test_hook(dv_apply *ap, dv_par_test_hook fn, void *ctx);

#endif
