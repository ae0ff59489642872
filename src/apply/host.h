/*
 * host.h -- what a host's thread shim (src/platform/threads.c) needs of an
 * applier beyond the public API: the hooks to put back when its threads
 * stop, and one pointer of its own to find them again. Nothing else of the
 * applier is visible to the shim; it drives the loops through the public
 * worker API (dv_apply_worker_run, dv_apply_workers_stop, ...).
 */
#ifndef DV_APPLY_HOST_H
#define DV_APPLY_HOST_H

#include "deltavec.h"

/* The applier's current wait/wake/yield hooks. */
void dv_apply_hooks_get(const dv_apply *ap, dv_apply_hooks *out);
/* The host's pointer (NULL until set). The applier never reads it. */
void *dv_apply_host_state(const dv_apply *ap);
void dv_apply_host_state_set(dv_apply *ap, void *state);

#endif
