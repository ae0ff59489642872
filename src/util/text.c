#include "util/text.h"

static void terminate(dv_text *t) {
    if (t->cap) t->buf[t->len < t->cap ? t->len : t->cap - 1] = '\0';
}

void dv_text_init(dv_text *t, char *buf, size_t cap) {
    t->buf = buf;
    t->cap = cap;
    t->len = 0;
    terminate(t);
}

void dv_text_put(dv_text *t, const char *s) {
    for (; s && *s; s++, t->len++)
        if (t->len + 1 < t->cap) t->buf[t->len] = *s;
    terminate(t);
}

void dv_text_u64(dv_text *t, uint64_t v) {
    char tmp[21];
    int i = 20;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    dv_text_put(t, tmp + i);
}

void dv_text_hex(dv_text *t, uint64_t v, int digits) {
    char tmp[17];
    if (digits > 16) digits = 16;
    for (int i = digits - 1; i >= 0; i--) {
        tmp[i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    }
    tmp[digits < 0 ? 0 : digits] = '\0';
    dv_text_put(t, tmp);
}
