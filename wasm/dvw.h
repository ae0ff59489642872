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

/* exports.c: a dv_stream_info as the fixed little-endian layout JS reads and
 * writes (DVW_STREAM_INFO_SIZE bytes, docs/WASM.md), so JS never decodes the
 * stream header itself. */
#define DVW_STREAM_INFO_SIZE 80u
void dvw_stream_info_put(const dv_stream_info *info, uint8_t *out);
void dvw_stream_info_get(const uint8_t *in, dv_stream_info *info);

/* exports.c: the result of applying a whole stream buffer (stream header +
 * records) with one dv_apply_batch, as JS reads it: 10 x u32, then a
 * NUL-terminated message (DVW_STREAM_RESULT_SIZE bytes, layout fixed). */
#define DVW_STREAM_RESULT_SIZE 256u
typedef struct dvw_stream_result {
    int32_t status;         /* first problem (DV_OK if none) */
    uint32_t deltas;        /* records found (a torn tail or an unreadable record counts as one) */
    uint32_t applied;       /* DV_OK results */
    uint32_t duplicates;    /* DV_EDUPLICATE results */
    uint32_t failed_at;     /* index of the first refused record, or UINT32_MAX */
    uint32_t parsed_len;    /* bytes of the records before the problem (all bytes if none) */
    uint32_t failed_seq_lo; /* sequence of the refused record (from its header), 0 if unknown */
    uint32_t failed_seq_hi;
    uint32_t failed_off_lo; /* stream byte offset of the problem (0: the stream header) */
    uint32_t failed_off_hi;
    char message[DVW_STREAM_RESULT_SIZE - 40]; /* what went wrong ("" if nothing) */
} dvw_stream_result;
int32_t dvw_apply_stream_buffer(dv_apply *ap, const uint8_t *buf, uint32_t len, dvw_stream_result *res);

#if defined(DVW_FREESTANDING)
/* exports_mt.c: the parallel replica and its applier (feed_mt.c applies with it). */
typedef struct dvw_par dvw_par;
dv_apply *dvw_par_applier(dvw_par *p);
#endif

#endif
