/*
 * membuf.c -- test support: a memory buffer as a write sink (see membuf.h).
 */
#include "support/membuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

dv_status membuf_sink(void *ctx, const uint8_t *p, size_t n) {
    membuf *m = ctx;
    m->calls++;
    if (m->fail_at && m->n + n > m->fail_at) return DV_EFULL;
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2;
        m->b = realloc(m->b, m->cap);
        assert_non_null(m->b);
    }
    memcpy(m->b + m->n, p, n);
    m->n += n;
    return DV_OK;
}
