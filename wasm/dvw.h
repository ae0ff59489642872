/*
 * dvw.h -- what the wasm export files share (exports.c, exports_mt.c,
 * feed_mt.c): the export attribute and the few helpers one of them
 * defines for the others. Not part of any public API; the exported ABI is
 * the lists wasm/exports.list and wasm/exports-mt.list (docs/WASM.md).
 */
#ifndef DVW_H
#define DVW_H

#include <stdint.h>

#include "deltavec.h"

#define DVW_EXPORT __attribute__((visibility("default")))

/* exports.c: dv_apply_stats as an explicit list of DVW_APPLY_STATS_COUNT u64
 * (the layout JS reads does not follow the C struct). */
#define DVW_APPLY_STATS_COUNT 10u
int32_t dvw_apply_stats_write(const dv_apply *ap, uint64_t *out);

#if defined(DVW_FREESTANDING)
/* exports_mt.c: the parallel replica and its applier (feed_mt.c applies with it). */
typedef struct dvw_par dvw_par;
dv_apply *dvw_par_applier(dvw_par *p);
#endif

#endif
