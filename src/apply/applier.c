/*
 * applier.c -- the public entry points of dv_apply that choose a path:
 * creating and freeing an applier (with the parallel engine when the
 * config asks for workers) and dv_apply_batch, which goes to the workers
 * when every loop runs and inline otherwise.
 *
 * It sits above both paths so that neither calls up: parallel.c reuses
 * apply.c's gates (apply_internal.h), and apply.c knows nothing of
 * parallel.c. Everything else of the API lives with the path it belongs to
 * (dv_apply_delta in apply.c, the worker API in parallel.c).
 */
#include "apply/apply_internal.h"
#include "apply/parallel.h"

dv_status dv_apply_init(dv_db *replica, const dv_apply_config *cfg, dv_apply **out) {
    dv_apply *ap = NULL;
    dv_status st = dv_apply_create(replica, cfg, &ap);
    if (st != DV_OK) return st;
    if ((st = dv_par_init(ap)) != DV_OK) {
        dv_apply_destroy(ap);
        return st;
    }
    *out = ap;
    return DV_OK;
}

void dv_apply_free(dv_apply *ap) {
    if (!ap) return;
    dv_par_free(ap);
    dv_apply_destroy(ap);
}

dv_status dv_apply_batch(dv_apply *ap, const uint8_t *const *headers, const uint8_t *const *payloads,
                         const size_t *payload_lens, size_t n, dv_status *results, size_t *n_applied) {
    if (!ap || (n && (!headers || !payloads || !payload_lens))) return DV_EINVAL;
    if (dv_par_ready(ap)) /* worker loops are running: spread the batch over them */
        return dv_par_batch(ap, headers, payloads, payload_lens, n, results, n_applied);
    return dv_apply_batch_inline(ap, headers, payloads, payload_lens, n, results, n_applied);
}
