/*
 * cabi.h -- what the canonical-ABI adapters of the deltavec component share
 * (the .c files of wasm/component/): export and import attributes, the return area,
 * argument ownership, and the lowering of a dv_status into the WIT
 * `delta-error` variant (wit/deltavec.wit).
 *
 * The adapters are the component's whole binding: each exported function
 * lifts its flat canonical-ABI arguments, calls the same dv_* function the
 * npm module's dvw_* export calls (wasm/exports.c), and lowers the result.
 * No database, delta or apply logic lives here. Core names are the
 * "legacy" names wit-component understands: `iface#func` exports,
 * `cabi_post_iface#func` post-return functions, `cabi_realloc`, and the
 * `[export]iface` module for resource handles.
 *
 * Canonical-ABI rules the code relies on (CanonicalABI.md):
 *  - A function whose results flatten to more than one value returns an
 *    i32 pointer to a return area; ours is one static, 8-aligned buffer,
 *    read by the host before the next call (the component model forbids
 *    re-entrance).
 *  - Arguments passed through memory (strings, lists) were allocated by the
 *    host with cabi_realloc and belong to the callee, which frees them; an
 *    empty one may carry a pointer that was never allocated, so only
 *    len > 0 is freed.
 *  - A returned list the adapter allocated is freed in its cabi_post_*
 *    function, called once the host has copied it out; returned strings
 *    point at static or object-owned text and need no freeing.
 *  - `borrow<T>` and `self` of a resource this component implements arrive
 *    as the representation (our pointer); `own<T>` results are handles
 *    made by the imported [resource-new]T.
 *  - result<T, delta-error>: discriminant byte at 0, payload at the
 *    alignment of T (4, or 8 for records holding a u64); delta-error is a
 *    discriminant byte then a string (ptr, len) at +4.
 */
#ifndef DVC_CABI_H
#define DVC_CABI_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "deltavec.h"

#define DVC_EXPORT(name) __attribute__((export_name(name)))
#define DVC_IMPORT(mod, name) __attribute__((import_module(mod), import_name(name)))

#define DVC_DB_IFACE "deltavec:delta/vector-db@1.0.0"
#define DVC_CAPTURE_IFACE "deltavec:delta/delta-capture@1.0.0"
#define DVC_APPLY_IFACE "deltavec:delta/delta-apply@1.0.0"
#define DVC_RUNTIME_IFACE "deltavec:delta/runtime@1.0.0"

/* The return area (64 bytes covers the largest result: capture-stats). */
extern uint64_t dvc_ret[8];
static inline uint8_t *dvc_ret_area(void) {
    memset(dvc_ret, 0, sizeof dvc_ret);
    return (uint8_t *)dvc_ret;
}

static inline void dvc_put8(uint8_t *area, size_t off, uint8_t v) { area[off] = v; }
static inline void dvc_put32(uint8_t *area, size_t off, uint32_t v) { memcpy(area + off, &v, 4); }
static inline void dvc_put64(uint8_t *area, size_t off, uint64_t v) { memcpy(area + off, &v, 8); }
static inline void dvc_putf32(uint8_t *area, size_t off, float v) { memcpy(area + off, &v, 4); }
/* A list or string (ptr, len) at off. */
static inline void dvc_put_list(uint8_t *area, size_t off, const void *p, uint32_t len) {
    dvc_put32(area, off, (uint32_t)(uintptr_t)p);
    dvc_put32(area, off + 4, len);
}
static inline uint32_t dvc_get32(const uint8_t *p, size_t off) {
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}

/* Frees an argument the host allocated (len > 0 only, see above). */
void dvc_free_arg(void *p, uint32_t len);
/* A NUL-terminated copy of a UTF-8 argument (which it takes over and frees):
 * NULL when the allocator refuses or when the text holds a NUL byte (a C
 * string cannot carry it; *st says which). Free the result with free(). */
char *dvc_cstr(uint8_t *p, uint32_t len, dv_status bad, dv_status *st);

/* Writes `err(delta-error)` for st (< 0) with message msg (NULL: dv_strerror)
 * at area + off: the error case's discriminant at off, its string at off + 4. */
void dvc_put_error(uint8_t *area, size_t off, dv_status st, const char *msg);
/* result<_, delta-error>: ok, or err at offset 4. Returns the area. */
uint8_t *dvc_result_unit(dv_status st, const char *msg);

/* ---- the database wrapper (vector-db.c), shared with capture and apply ---- */

/* A database resource: the handle owns one reference, each capture and
 * applier made from it one more; the db is closed with the last. */
typedef struct dvc_db {
    dv_db *db;
    uint32_t refs;
    /* A capture exists: the C API allows one per db (a second one would
     * replace the first's observer), so the binding refuses a second. */
    uint32_t captured;
} dvc_db;

void dvc_db_ref(dvc_db *w);
void dvc_db_unref(dvc_db *w);

#endif
