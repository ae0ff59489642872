/*
 * apply.c -- canonical-ABI adapters of interface `delta-apply`
 * (wit/deltavec.wit): the `applier` resource over dv_apply_* (section 8 of
 * deltavec.h).
 *
 * The representation holds the applier and a reference to its replica
 * (cabi.h). A delta given as a record is encoded back to its 64 wire bytes
 * with dv_delta_header_encode, exactly as given (the checksum included), so
 * every check the C applier makes on wire bytes applies to it unchanged.
 * A refusal's message is dv_apply_last_error() when the applier wrote one
 * for this call (its refusal counter moved, or a sequence gap), else the
 * status's dv_strerror().
 */
#include <stdlib.h>
#include <string.h>

#include "cabi.h"

DVC_IMPORT("[export]" DVC_APPLY_IFACE, "[resource-new]applier") int32_t dvc_applier_new(int32_t rep);

typedef struct dvc_applier {
    dv_apply *ap;
    dvc_db *db;
} dvc_applier;

static const char dvc_not_tried[] = "not tried: an earlier delta of the batch was refused";

DVC_EXPORT(DVC_APPLY_IFACE "#[static]applier.default-config")
uint8_t *dvc_applier_default_config(void) {
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    uint8_t *a = dvc_ret_area();
    dvc_put8(a, 0, (uint8_t)cfg.mode);
    dvc_put8(a, 1, (uint8_t)cfg.policy);
    dvc_put8(a, 2, cfg.coherence_check != 0);
    dvc_put64(a, 8, cfg.start_position);
    dvc_put32(a, 16, cfg.max_payload);
    return a;
}

DVC_EXPORT(DVC_APPLY_IFACE "#[static]applier.open")
uint8_t *dvc_applier_open(dvc_db *db, uint32_t mode, uint32_t policy, uint32_t coherence,
                          uint64_t start_position, uint32_t max_payload) {
    dv_apply_config cfg;
    dv_apply_config_default(&cfg);
    cfg.mode = (dv_apply_mode)mode;
    cfg.policy = (dv_conflict_action)policy;
    cfg.coherence_check = (int)coherence;
    cfg.start_position = start_position;
    cfg.max_payload = max_payload;
    cfg.workers = 0; /* single-threaded: always inline */
    dvc_applier *w = malloc(sizeof *w);
    if (!w) return dvc_result_unit(DV_ENOMEM, NULL);
    dv_status st = dv_apply_init(db->db, &cfg, &w->ap);
    if (st != DV_OK) {
        free(w);
        return dvc_result_unit(st, NULL);
    }
    w->db = db;
    dvc_db_ref(db);
    uint8_t *a = dvc_ret_area();
    dvc_put32(a, 4, (uint32_t)dvc_applier_new((int32_t)(uintptr_t)w));
    return a;
}

DVC_EXPORT(DVC_APPLY_IFACE "#[dtor]applier")
void dvc_applier_dtor(dvc_applier *w) {
    dv_apply_free(w->ap);
    dvc_db_unref(w->db);
    free(w);
}

static uint64_t dvc_refused(const dvc_applier *w) {
    dv_apply_stats s;
    return dv_apply_stats_get(w->ap, &s) == DV_OK ? s.refused : 0;
}

/* The message of a refusal (see the top of the file). */
static const char *dvc_apply_msg(const dvc_applier *w, dv_status st, uint64_t refused_before) {
    if (st == DV_EGAP || dvc_refused(w) != refused_before) return dv_apply_last_error(w->ap);
    return NULL;
}

/* result<apply-outcome, delta-error> at a + off (ok: the outcome byte at off + 4). */
static void dvc_put_outcome(uint8_t *a, size_t off, dv_status st, const char *msg) {
    if (st == DV_OK || st == DV_EDUPLICATE) {
        dvc_put8(a, off, 0);
        dvc_put8(a, off + 4, st == DV_OK ? 0 : 1);
    } else {
        dvc_put8(a, off, 1);
        dvc_put_error(a, off + 4, st, msg);
    }
}

DVC_EXPORT(DVC_APPLY_IFACE "#[method]applier.apply")
uint8_t *dvc_applier_apply(dvc_applier *w, uint64_t sequence, uint32_t op, uint32_t flags, uint32_t version,
                           uint32_t id_hash, uint64_t timestamp, uint32_t payload_offset,
                           uint32_t payload_size, uint64_t checksum, uint64_t prev_sequence, uint64_t pad0,
                           uint64_t pad1, uint8_t *payload, uint32_t payload_len) {
    dv_delta_header h;
    h.sequence = sequence;
    h.operation = (uint8_t)(op + 1); /* enum 0..4 -> wire 1..5 */
    h.flags = (uint8_t)flags;
    h.version = (uint16_t)version;
    h.vector_id_hash = id_hash;
    h.timestamp = timestamp;
    h.payload_offset = payload_offset;
    h.payload_size = payload_size;
    h.checksum = checksum;
    h.prev_sequence = prev_sequence;
    memcpy(h.padding, &pad0, 8);
    memcpy(h.padding + 8, &pad1, 8);
    uint8_t hdr[DV_DELTA_HEADER_SIZE];
    dv_delta_header_encode(&h, hdr);
    uint64_t refused = dvc_refused(w);
    dv_status st = dv_apply_delta(w->ap, hdr, payload_len ? payload : hdr, payload_len);
    dvc_free_arg(payload, payload_len);
    uint8_t *a = dvc_ret_area();
    dvc_put_outcome(a, 0, st, dvc_apply_msg(w, st, refused));
    return a;
}

DVC_EXPORT(DVC_APPLY_IFACE "#[method]applier.apply-encoded")
uint8_t *dvc_applier_apply_encoded(dvc_applier *w, uint8_t *bytes, uint32_t len) {
    uint64_t refused = dvc_refused(w);
    dv_status st = len >= DV_DELTA_HEADER_SIZE ? dv_apply_buffer(w->ap, bytes, len) : DV_ETRUNCATED;
    dvc_free_arg(bytes, len);
    uint8_t *a = dvc_ret_area();
    dvc_put_outcome(a, 0, st, dvc_apply_msg(w, st, refused));
    return a;
}

/* list<delta>: 72-byte elements, the header record at 0 (dv_delta_header's
 * layout, operation as enum index), the payload list at 64. */
DVC_EXPORT(DVC_APPLY_IFACE "#[method]applier.apply-batch")
uint8_t *dvc_applier_apply_batch(dvc_applier *w, uint8_t *list, uint32_t n) {
    uint8_t *hdrs = malloc((size_t)DV_DELTA_HEADER_SIZE * (n ? n : 1));
    const uint8_t **hp = malloc(sizeof *hp * (n ? n : 1));
    const uint8_t **pp = malloc(sizeof *pp * (n ? n : 1));
    size_t *lens = malloc(sizeof *lens * (n ? n : 1));
    dv_status *res = malloc(sizeof *res * (n ? n : 1));
    uint8_t *out = malloc((size_t)16 * (n ? n : 1)); /* result<apply-outcome, delta-error>: 16 bytes */
    uint8_t *a = NULL;
    if (!hdrs || !hp || !pp || !lens || !res || !out) {
        free(out);
        a = dvc_result_unit(DV_ENOMEM, NULL);
    } else {
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *e = list + (size_t)i * 72;
            dv_delta_header h;
            memcpy(&h, e, sizeof h);
            h.operation = (uint8_t)(h.operation + 1);
            dv_delta_header_encode(&h, hdrs + (size_t)i * DV_DELTA_HEADER_SIZE);
            hp[i] = hdrs + (size_t)i * DV_DELTA_HEADER_SIZE;
            lens[i] = dvc_get32(e, 68);
            pp[i] = lens[i] ? (const uint8_t *)(uintptr_t)dvc_get32(e, 64) : hp[i];
        }
        uint64_t refused = dvc_refused(w);
        size_t applied = 0;
        dv_apply_batch(w->ap, hp, pp, lens, n, res, &applied);
        int refused_seen = 0;
        memset(out, 0, (size_t)16 * (n ? n : 1));
        for (uint32_t i = 0; i < n; i++) {
            const char *msg = NULL;
            if (res[i] != DV_OK && res[i] != DV_EDUPLICATE) {
                if (!refused_seen)
                    msg = dvc_apply_msg(w, res[i], refused);
                else
                    msg = dvc_not_tried;
                refused_seen = 1;
            }
            dvc_put_outcome(out, (size_t)i * 16, res[i], msg);
        }
        a = dvc_ret_area();
        dvc_put32(a, 4, (uint32_t)applied);
        dvc_put_list(a, 8, out, n);
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = list + (size_t)i * 72;
        dvc_free_arg((void *)(uintptr_t)dvc_get32(e, 64), dvc_get32(e, 68));
    }
    dvc_free_arg(list, n);
    free(hdrs);
    free(hp);
    free(pp);
    free(lens);
    free(res);
    return a;
}
DVC_EXPORT("cabi_post_" DVC_APPLY_IFACE "#[method]applier.apply-batch")
void dvc_applier_apply_batch_post(uint8_t *a) {
    if (a[0] == 0) free((void *)(uintptr_t)dvc_get32(a, 8));
}

DVC_EXPORT(DVC_APPLY_IFACE "#[method]applier.position")
uint64_t dvc_applier_position(dvc_applier *w) { return dv_apply_position(w->ap); }

DVC_EXPORT(DVC_APPLY_IFACE "#[method]applier.seek")
uint8_t *dvc_applier_seek(dvc_applier *w, uint64_t sequence) {
    return dvc_result_unit(dv_apply_seek(w->ap, sequence), NULL);
}

DVC_EXPORT(DVC_APPLY_IFACE "#[method]applier.seek-checkpoint")
uint8_t *dvc_applier_seek_checkpoint(dvc_applier *w, uint64_t sequence, uint64_t state_hash) {
    dv_checkpoint cp = {sequence, state_hash};
    return dvc_result_unit(dv_apply_seek_checkpoint(w->ap, &cp), NULL);
}

DVC_EXPORT(DVC_APPLY_IFACE "#[method]applier.last-error")
uint8_t *dvc_applier_last_error(dvc_applier *w) {
    const char *s = dv_apply_last_error(w->ap);
    uint8_t *a = dvc_ret_area();
    dvc_put_list(a, 0, s, (uint32_t)strlen(s));
    return a;
}

DVC_EXPORT(DVC_APPLY_IFACE "#[method]applier.stats")
uint8_t *dvc_applier_stats(dvc_applier *w) {
    dv_apply_stats s;
    uint8_t *a = dvc_ret_area();
    if (dv_apply_stats_get(w->ap, &s) == DV_OK) {
        dvc_put64(a, 0, s.applied);
        dvc_put64(a, 8, s.duplicates);
        dvc_put64(a, 16, s.refused);
        dvc_put64(a, 24, s.omitted);
        dvc_put64(a, 32, s.replaced);
    }
    return a;
}
