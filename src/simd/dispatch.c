/* dispatch.c -- picks the best kernel set for this CPU once. (Provisional: scalar only.) */
#include "simd/kernels.h"
#include "deltavec.h"

#include <string.h>

const dv_kernels *dv_kernels_best(void) { return &dv_kernels_scalar; }

const dv_kernels *dv_kernels_named(const char *name) {
    if (name && strcmp(name, "scalar") == 0) return &dv_kernels_scalar;
    return NULL;
}

size_t dv_kernels_all(const dv_kernels **out, size_t max) {
    if (max == 0) return 0;
    out[0] = &dv_kernels_scalar;
    return 1;
}

float dv_l2sq(const float *a, const float *b, size_t n) { return dv_kernels_best()->l2sq(a, b, n); }
float dv_dot(const float *a, const float *b, size_t n) { return dv_kernels_best()->dot(a, b, n); }
size_t dv_diff(const float *o, const float *v, size_t n, float eps, uint32_t *idx) {
    return dv_kernels_best()->diff(o, v, n, eps, idx);
}
void dv_scatter(float *d, const uint32_t *idx, const float *v, size_t n) { dv_kernels_best()->scatter(d, idx, v, n); }
void dv_gather(float *o, const float *s, const uint32_t *idx, size_t n) { dv_kernels_best()->gather(o, s, idx, n); }
const char *dv_simd_backend(void) { return dv_kernels_best()->name; }
