/*
 * capture.c -- canonical-ABI adapters of interface `delta-capture`
 * (wit/deltavec.wit): the `capture` resource over dv_capture_* (section 6
 * of deltavec.h).
 *
 * The representation holds the capture and a reference to its database
 * (cabi.h), released after dv_capture_free has detached the capture.
 * Polled headers go out as the WIT delta-header record, whose memory
 * layout is dv_delta_header's on wasm32 except the operation (an enum index,
 * wire value - 1). Payloads are lowered straight from the ring (the host
 * copies them before the next call); `encoded` allocates header + payload.
 */
#include <stdlib.h>
#include <string.h>

#include "cabi.h"

DVC_IMPORT("[export]" DVC_CAPTURE_IFACE, "[resource-new]capture") int32_t dvc_capture_new(int32_t rep);

typedef struct dvc_capture {
    dv_capture *cap;
    dvc_db *db;
    uint32_t slot_count; /* the ring's header slots: no poll returns more */
} dvc_capture;

_Static_assert(sizeof(dv_delta_header) == 64, "dv_delta_header is the 64-byte WIT record layout");
_Static_assert(sizeof(dv_capture_stats) == 64, "dv_capture_stats is 8 u64, as capture-stats");

static void dvc_put_capture_config(uint8_t *a, const dv_capture_config *c) {
    dvc_put32(a, 0, c->ring.slot_count);
    dvc_put32(a, 4, c->ring.payload_size);
    dvc_put8(a, 8, (uint8_t)(c->parts & DV_CAPTURE_ALL)); /* flag bits are the DV_CAPTURE_* bits */
    dvc_put64(a, 16, c->first_sequence);
    dvc_putf32(a, 24, c->sparse_max_fraction);
    dvc_putf32(a, 28, c->diff_epsilon);
    dvc_put8(a, 32, c->before_images != 0);
    dvc_put8(a, 33, c->compress != 0);
    dvc_put8(a, 34, c->shuffle != 0);
    dvc_put8(a, 35, (uint8_t)c->lossy);
    dvc_put32(a, 36, c->batch_max_deltas);
    dvc_put32(a, 40, c->batch_max_bytes);
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[static]capture.default-config")
uint8_t *dvc_capture_default_config(void) {
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    uint8_t *a = dvc_ret_area();
    dvc_put_capture_config(a, &cfg);
    return a;
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[static]capture.open")
uint8_t *dvc_capture_open(dvc_db *db, uint32_t slot_count, uint32_t payload_size, uint32_t parts,
                          uint64_t first_sequence, float sparse_max_fraction, float diff_epsilon,
                          uint32_t before_images, uint32_t compress, uint32_t shuffle, uint32_t lossy,
                          uint32_t batch_max_deltas, uint32_t batch_max_bytes) {
    dv_capture_config cfg;
    dv_capture_config_default(&cfg);
    if (slot_count) cfg.ring.slot_count = slot_count;
    if (payload_size) cfg.ring.payload_size = payload_size;
    cfg.parts = parts;
    if (first_sequence) cfg.first_sequence = first_sequence;
    cfg.sparse_max_fraction = sparse_max_fraction;
    cfg.diff_epsilon = diff_epsilon;
    cfg.before_images = (int)before_images;
    cfg.compress = (int)compress;
    cfg.shuffle = (int)shuffle;
    cfg.lossy = (dv_lossy_mode)lossy;
    cfg.batch_max_deltas = batch_max_deltas;
    cfg.batch_max_bytes = batch_max_bytes;
    if (db->captured) return dvc_result_unit(DV_ESTATE, "the database already has a capture");
    dvc_capture *w = malloc(sizeof *w);
    if (!w) return dvc_result_unit(DV_ENOMEM, NULL);
    dv_status st = dv_capture_init(db->db, &cfg, &w->cap);
    if (st != DV_OK) {
        free(w);
        return dvc_result_unit(st, NULL);
    }
    w->db = db;
    w->slot_count = cfg.ring.slot_count;
    db->captured = 1;
    dvc_db_ref(db);
    uint8_t *a = dvc_ret_area();
    dvc_put32(a, 4, (uint32_t)dvc_capture_new((int32_t)(uintptr_t)w));
    return a;
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[dtor]capture")
void dvc_capture_dtor(dvc_capture *w) {
    dv_capture_free(w->cap);
    w->db->captured = 0;
    dvc_db_unref(w->db);
    free(w);
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.start")
uint8_t *dvc_capture_start(dvc_capture *w) { return dvc_result_unit(dv_capture_start(w->cap), NULL); }

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.stop")
uint8_t *dvc_capture_stop(dvc_capture *w) { return dvc_result_unit(dv_capture_stop(w->cap), NULL); }

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.flush")
uint8_t *dvc_capture_flush(dvc_capture *w) { return dvc_result_unit(dv_capture_flush(w->cap), NULL); }

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.poll")
uint8_t *dvc_capture_poll(dvc_capture *w, uint32_t max) {
    if (max > w->slot_count) max = w->slot_count;
    dv_delta_header *h = malloc(sizeof *h * (max ? max : 1));
    if (!h) return dvc_result_unit(DV_ENOMEM, NULL);
    size_t n = 0;
    dv_status st = max ? dv_capture_poll(w->cap, h, max, &n) : DV_EEMPTY;
    if (st == DV_EEMPTY) { /* nothing new: an empty list */
        st = DV_OK;
        n = 0;
    }
    if (st != DV_OK) {
        free(h);
        return dvc_result_unit(st, NULL);
    }
    for (size_t i = 0; i < n; i++)
        h[i].operation = (uint8_t)(h[i].operation - 1); /* wire 1..5 -> enum 0..4 */
    uint8_t *a = dvc_ret_area();
    dvc_put_list(a, 4, h, (uint32_t)n);
    return a;
}
DVC_EXPORT("cabi_post_" DVC_CAPTURE_IFACE "#[method]capture.poll")
void dvc_capture_poll_post(uint8_t *a) {
    if (a[0] == 0) free((void *)(uintptr_t)dvc_get32(a, 4));
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.payload")
uint8_t *dvc_capture_payload(dvc_capture *w, uint64_t sequence) {
    const uint8_t *h = NULL, *p = NULL;
    size_t len = 0;
    dv_status st = dv_capture_payload(w->cap, sequence, &h, &p, &len);
    if (st != DV_OK) return dvc_result_unit(st, NULL);
    uint8_t *a = dvc_ret_area();
    dvc_put_list(a, 4, p, (uint32_t)len); /* into the ring: valid until released */
    return a;
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.encoded")
uint8_t *dvc_capture_encoded(dvc_capture *w, uint64_t sequence) {
    const uint8_t *h = NULL, *p = NULL;
    size_t len = 0;
    dv_status st = dv_capture_payload(w->cap, sequence, &h, &p, &len);
    if (st != DV_OK) return dvc_result_unit(st, NULL);
    uint8_t *buf = malloc(DV_DELTA_HEADER_SIZE + len);
    if (!buf) return dvc_result_unit(DV_ENOMEM, NULL);
    memcpy(buf, h, DV_DELTA_HEADER_SIZE);
    memcpy(buf + DV_DELTA_HEADER_SIZE, p, len);
    uint8_t *a = dvc_ret_area();
    dvc_put_list(a, 4, buf, (uint32_t)(DV_DELTA_HEADER_SIZE + len));
    return a;
}
DVC_EXPORT("cabi_post_" DVC_CAPTURE_IFACE "#[method]capture.encoded")
void dvc_capture_encoded_post(uint8_t *a) {
    if (a[0] == 0) free((void *)(uintptr_t)dvc_get32(a, 4));
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.checkpoint")
uint8_t *dvc_capture_checkpoint(dvc_capture *w) {
    dv_checkpoint cp;
    dv_status st = dv_capture_checkpoint(w->cap, &cp);
    uint8_t *a = dvc_ret_area();
    if (st != DV_OK) { /* result<checkpoint, _>: payload 8-aligned */
        dvc_put8(a, 0, 1);
        dvc_put_error(a, 8, st, NULL);
        return a;
    }
    dvc_put64(a, 8, cp.sequence);
    dvc_put64(a, 16, cp.state_hash);
    return a;
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.release")
uint8_t *dvc_capture_release(dvc_capture *w, uint64_t sequence) {
    return dvc_result_unit(dv_capture_release(w->cap, sequence), NULL);
}

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.last-sequence")
uint64_t dvc_capture_last_sequence(dvc_capture *w) { return dv_capture_last_sequence(w->cap); }

DVC_EXPORT(DVC_CAPTURE_IFACE "#[method]capture.stats")
uint8_t *dvc_capture_stats(dvc_capture *w) {
    uint8_t *a = dvc_ret_area();
    dv_capture_stats st;
    if (dv_capture_stats_get(w->cap, &st) == DV_OK) memcpy(a, &st, sizeof st);
    return a;
}
