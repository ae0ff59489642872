/*
 * events.h -- the event vocabulary the database and the delta codec share.
 *
 * src/db emits these events for every state change and replays them
 * (db/observer.h, db/replay.h); src/delta turns a decoded delta into the
 * same events (dv_delta_to_events) without knowing the database. Keeping
 * the types here, below both, lets each depend on util only for them. The
 * meaning of each event (what a replay does) is documented in
 * db/observer.h.
 */
#ifndef DV_UTIL_EVENTS_H
#define DV_UTIL_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include "deltavec.h"

#define DV_NO_SLOT UINT32_MAX

typedef enum dv_event_kind {
    DV_EV_OP_BEGIN = 1,
    DV_EV_OP_END,
    DV_EV_VECTOR_INSERT,
    DV_EV_VECTOR_UPDATE,
    DV_EV_VECTOR_DELETE,
    DV_EV_META_SET,
    DV_EV_EDGE_ADD,
    DV_EV_EDGE_REMOVE,
    DV_EV_ENTRY,
    DV_EV_VECTOR_PURGE /* frees a tombstone (a deleted node still in the graph) that no edge touches */
} dv_event_kind;

/* Which public write an OP_BEGIN/OP_END brackets. */
typedef enum dv_op_kind {
    DV_WRITE_INSERT = 1,
    DV_WRITE_UPDATE,
    DV_WRITE_UPDATE_SPARSE,
    DV_WRITE_DELETE,
    DV_WRITE_SET_META,
    DV_WRITE_REINDEX /* graph-only change: a repair step of dv_db_repair (edges, entry, purges) */
} dv_op_kind;

typedef struct dv_event {
    dv_event_kind kind;
    uint32_t slot; /* the vector/node concerned (edge: the node whose list changes) */
    union {
        struct { /* OP_BEGIN, OP_END */
            dv_op_kind op;
            const char *id;
            size_t bound_bytes; /* OP_BEGIN: upper bound of the encoded size of this op's events */
        } op;
        struct { /* VECTOR_INSERT */
            const char *id;
            const float *vec; /* dim floats */
            const dv_meta_kv *meta;
            size_t n_meta;
            uint32_t level;
        } insert;
        struct {                  /* VECTOR_UPDATE: dense when idx == NULL, else sparse */
            const float *old_vec; /* dim floats before the change (primary side; NULL on replay) */
            const float *new_vec; /* dense: dim floats after; sparse: NULL */
            const uint32_t *idx;  /* sparse: n strictly increasing indices */
            const float *values;  /* sparse: n new values */
            size_t n;
        } update;
        struct { /* VECTOR_DELETE; VECTOR_PURGE: id NULL */
            const char *id;
        } del;
        struct { /* META_SET; value NULL = remove key */
            const char *key;
            const char *value;
        } meta;
        struct { /* EDGE_ADD, EDGE_REMOVE */
            uint32_t layer;
            uint32_t to;
            float distance; /* EDGE_ADD only: distance from slot to `to` (informational) */
        } edge;
        struct {            /* ENTRY */
            uint32_t entry; /* DV_NO_SLOT when the db becomes empty */
            uint32_t max_level;
        } entry;
    } u;
} dv_event;

/* Return DV_OK to continue; only OP_BEGIN may refuse (the write is then not done). */
typedef dv_status (*dv_event_fn)(void *ctx, const dv_event *ev);

#endif
