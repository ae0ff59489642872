/*
 * describe.c -- one line of text per delta, for `deltavec dump` and logs.
 * The core has no stdio: text goes through util/text.h.
 */
#include <string.h>

#include "delta/delta.h"
#include "util/text.h"

typedef dv_text out;

static void put(out *o, const char *s) { dv_text_put(o, s); }
static void put_u64(out *o, uint64_t v) { dv_text_u64(o, v); }
static void put_hex(out *o, uint64_t v, int digits) { dv_text_hex(o, v, digits); }

static void put_kv(out *o, const char *k, uint64_t v) {
    put(o, " ");
    put(o, k);
    put(o, "=");
    put_u64(o, v);
}

static void put_flags(out *o, uint8_t f) {
    static const char *names[] = {"compressed", "sparse", "meta", "hnsw", "before", "f16", "i8", "bit7"};
    put(o, " flags=");
    int any = 0;
    for (int i = 0; i < 8; i++)
        if (f & (1u << i)) {
            if (any) put(o, "|");
            put(o, names[i]);
            any = 1;
        }
    if (!any) put(o, "-");
}

static void put_payload(out *o, const dv_delta *d) {
    static const char *kinds[] = {"none", "insert", "dense", "sparse", "delete", "dense-xor"};
    if (d->h.operation == DV_OP_BATCH) {
        put_kv(o, "subs", d->n_sub);
        return;
    }
    if (d->id) {
        put(o, " id=\"");
        put(o, d->id); /* valid UTF-8 without NUL: checked by the decoder */
        put(o, "\"");
        put_kv(o, "slot", d->slot);
    }
    put(o, " vec=");
    put(o, kinds[d->vkind <= DV_VEC_DENSE_XOR ? d->vkind : 0]);
    if (d->dim) put_kv(o, "dim", d->dim);
    if (d->vkind == DV_VEC_SPARSE) put_kv(o, "n", d->n);
    if (d->vkind == DV_VEC_INSERT) put_kv(o, "level", d->level);
    if (d->n_meta) put_kv(o, "meta", d->n_meta);
    uint64_t rm = 0, add = 0;
    for (uint32_t i = 0; i < d->n_sections; i++) {
        rm += d->sections[i].n_remove;
        add += d->sections[i].n_add;
    }
    if (d->n_sections) {
        put_kv(o, "sections", d->n_sections);
        put_kv(o, "edges_rm", rm);
        put_kv(o, "edges_add", add);
    }
    if (d->has_entry) {
        put(o, " entry=");
        if (d->entry == DV_NO_SLOT)
            put(o, "none");
        else
            put_u64(o, d->entry);
        put_kv(o, "max_level", d->max_level);
    }
    if (d->n_purge) put_kv(o, "purged", d->n_purge);
}

dv_status dv_delta_describe(const uint8_t hdr[DV_DELTA_HEADER_SIZE], const uint8_t *payload,
                            size_t payload_len, char *buf, size_t cap) {
    out o;
    dv_text_init(&o, buf, cap);
    dv_delta_header h;
    dv_status s = hdr ? dv_delta_header_decode(hdr, &h) : DV_EINVAL;
    if (s == DV_OK) {
        put(&o, "seq=");
        put_u64(&o, h.sequence);
        put(&o, " op=");
        put(&o, dv_delta_op_name(h.operation));
        put_flags(&o, h.flags);
        put(&o, " idhash=");
        put_hex(&o, h.vector_id_hash, 8);
        put_kv(&o, "ts", h.timestamp);
        put_kv(&o, "prev", h.prev_sequence);
        put_kv(&o, "size", h.payload_size);
        put(&o, " sum=");
        put_hex(&o, h.checksum, 16);
        dv_mem mem;
        dv_mem_init(&mem, NULL);
        dv_delta_arena arena;
        dv_delta_arena_init(&arena, &mem);
        dv_delta d;
        s = dv_delta_decode(hdr, payload, payload_len, NULL, &arena, &d);
        if (s == DV_OK) put_payload(&o, &d);
        dv_delta_arena_free(&arena);
    }
    if (s != DV_OK) {
        put(&o, o.len ? " error=" : "error=");
        put(&o, dv_status_name(s));
    }
    return s;
}
