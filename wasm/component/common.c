/*
 * common.c -- the canonical-ABI plumbing of the deltavec component:
 * cabi_realloc, the return area, argument ownership, dv_status ->
 * delta-error lowering, and the `runtime` interface (wit/deltavec.wit).
 * See cabi.h for the rules these follow.
 */
#include <stdlib.h>
#include <string.h>

#include "cabi.h"

uint64_t dvc_ret[8];

/* The host's allocator for arguments it passes through memory. malloc
 * returns 16-byte aligned memory, enough for every canonical-ABI type. */
DVC_EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
    (void)old_size;
    (void)align;
    if (new_size == 0) {
        free(old);
        return (void *)align; /* a non-null, aligned, never dereferenced pointer */
    }
    void *p = realloc(old, new_size);
    if (!p) __builtin_trap(); /* the canonical ABI has no way to report it: the host traps too */
    return p;
}

void dvc_free_arg(void *p, uint32_t len) {
    if (len > 0) free(p);
}

char *dvc_cstr(uint8_t *p, uint32_t len, dv_status bad, dv_status *st) {
    if (len > 0 && memchr(p, 0, len)) {
        free(p);
        *st = bad;
        return NULL;
    }
    char *s = len > 0 ? realloc(p, (size_t)len + 1) : malloc(1);
    if (!s) {
        dvc_free_arg(p, len);
        *st = DV_ENOMEM;
        return NULL;
    }
    s[len] = 0;
    *st = DV_OK;
    return s;
}

/* Case index of delta-error for a status, in the variant's order. */
static uint8_t dvc_error_case(dv_status st) {
    switch (st) {
    case DV_EINVAL:
        return 0;
    case DV_ENOMEM:
        return 1;
    case DV_EEXIST:
        return 2;
    case DV_ENOTFOUND:
        return 3;
    case DV_EDIM:
        return 4;
    case DV_ENONFINITE:
        return 5;
    case DV_EID:
        return 6;
    case DV_EMETA:
        return 7;
    case DV_EFULL:
        return 8;
    case DV_EEMPTY:
        return 9;
    case DV_ETRUNCATED:
        return 10;
    case DV_ECHECKSUM:
        return 11;
    case DV_EVERSION:
        return 12;
    case DV_EBADOP:
        return 13;
    case DV_ECORRUPT:
        return 14;
    case DV_ETOOBIG:
        return 15;
    case DV_EGAP:
        return 16;
    case DV_ESTALE:
        return 17;
    case DV_ECONFLICT:
        return 18;
    case DV_EDATA:
        return 19;
    case DV_ECONSTRAINT:
        return 20;
    case DV_EINCOHERENT:
        return 21;
    case DV_EUNSUPPORTED:
        return 23;
    case DV_ENOTSNAPSHOT:
        return 24;
    /* DV_ESTATE, and statuses no call of the component can return
     * (DV_EDUPLICATE is an outcome here; no conflict callback, stream or
     * config check is offered): the message keeps the C name. */
    default:
        return 22;
    }
}

void dvc_put_error(uint8_t *area, size_t off, dv_status st, const char *msg) {
    if (!msg || !*msg) msg = dv_strerror(st);
    dvc_put8(area, off, dvc_error_case(st));
    dvc_put_list(area, off + 4, msg, (uint32_t)strlen(msg));
}

uint8_t *dvc_result_unit(dv_status st, const char *msg) {
    uint8_t *a = dvc_ret_area();
    if (st != DV_OK) {
        dvc_put8(a, 0, 1);
        dvc_put_error(a, 4, st, msg);
    }
    return a;
}

/* ---- interface runtime ---------------------------------------------------------- */

static uint8_t *dvc_string_result(const char *s) {
    uint8_t *a = dvc_ret_area();
    dvc_put_list(a, 0, s, (uint32_t)strlen(s));
    return a;
}

DVC_EXPORT(DVC_RUNTIME_IFACE "#version")
uint8_t *dvc_runtime_version(void) { return dvc_string_result(dv_version_string()); }

DVC_EXPORT(DVC_RUNTIME_IFACE "#simd-backend")
uint8_t *dvc_runtime_simd_backend(void) { return dvc_string_result(dv_simd_backend()); }

DVC_EXPORT(DVC_RUNTIME_IFACE "#memory-size")
uint64_t dvc_runtime_memory_size(void) { return (uint64_t)__builtin_wasm_memory_size(0) * 65536u; }
