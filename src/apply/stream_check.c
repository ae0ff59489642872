/*
 * stream_check.c -- a stream header against a replica (deltavec.h section
 * 4b): the header from a db's config, a db from a header, the config
 * comparison that refuses a mismatched stream with DV_ECONFIG, and
 * dv_apply_begin_stream.
 *
 * Why the check exists: a structural replica replays the primary's graph
 * mutations, which are only valid against the same dim, metric, M, level
 * seed, ef_construction and relink_ratio. With another metric the deltas
 * apply "successfully" into a replica whose state hash silently differs;
 * with another M they end in a misleading DV_EINCOHERENT halfway. Checking
 * the header before the first record refuses both up front, naming the
 * field. A logical replica builds its own index, so only dim must agree.
 *
 * The stream bytes themselves are src/delta/stream.c; this file only reads
 * the db's config (db/replay.h accessor) and the applier's state.
 */
#include <string.h>

#include "apply/apply_internal.h"
#include "util/text.h"

static const char *metric_name(uint32_t m) {
    switch (m) {
    case DV_METRIC_L2:
        return "l2";
    case DV_METRIC_IP:
        return "ip";
    case DV_METRIC_COSINE:
        return "cosine";
    default:
        return "?";
    }
}

/* A short decimal form of a non-negative finite ratio (6 decimals, zeros trimmed). */
static void put_ratio(dv_text *t, float f) {
    if (!(f >= 0.0f && f <= 1e6f)) {
        dv_text_put(t, "(invalid)");
        return;
    }
    uint64_t micro = (uint64_t)((double)f * 1e6 + 0.5);
    dv_text_u64(t, micro / 1000000u);
    uint64_t frac = micro % 1000000u;
    if (!frac) return;
    char digits[8];
    int n = 6;
    for (int i = 5; i >= 0; i--, frac /= 10) digits[i] = (char)('0' + frac % 10);
    while (n > 1 && digits[n - 1] == '0') n--;
    digits[n] = 0;
    dv_text_put(t, ".");
    dv_text_put(t, digits);
}

dv_status dv_stream_info_from_db(const dv_db *db, dv_stream_mode mode, uint64_t first_sequence,
                                 dv_stream_info *info) {
    if (!db || !info || (unsigned)mode > DV_STREAM_LOGICAL || first_sequence == 0) return DV_EINVAL;
    const dv_db_config *c = dv_db_config_of(db);
    memset(info, 0, sizeof *info);
    info->version = DV_STREAM_VERSION;
    info->header_size = DV_STREAM_HEADER_SIZE;
    info->delta_version = DV_DELTA_FORMAT_VERSION;
    info->mode = (uint8_t)mode;
    info->dim = c->dim;
    info->metric = (uint32_t)c->metric;
    info->M = c->M;
    info->ef_construction = c->ef_construction;
    info->seed = c->seed;
    info->relink_ratio = c->relink_ratio;
    info->producer_version = DV_VERSION_NUMBER;
    info->first_sequence = first_sequence;
    return DV_OK;
}

dv_status dv_db_config_from_stream(const dv_stream_info *info, dv_db_config *cfg) {
    if (!info || !cfg) return DV_EINVAL;
    if (info->dim < 1 || info->dim > DV_MAX_DIM || info->metric > DV_METRIC_COSINE || info->M < 2 ||
        info->M > DV_MAX_M || info->ef_construction < 1 || info->ef_construction > (1u << 24) ||
        !(info->relink_ratio >= 0.0f && info->relink_ratio <= 1e6f))
        return DV_ECORRUPT;
    dv_db_config_default(cfg, info->dim);
    cfg->metric = (dv_metric)info->metric;
    cfg->M = info->M;
    cfg->ef_construction = info->ef_construction;
    cfg->seed = info->seed;
    cfg->relink_ratio = info->relink_ratio;
    return DV_OK;
}

dv_status dv_db_open_from_stream(const dv_stream_info *info, const dv_allocator *allocator, dv_db **out) {
    if (!out) return DV_EINVAL;
    *out = NULL;
    dv_db_config cfg;
    dv_status st = dv_db_config_from_stream(info, &cfg);
    if (st != DV_OK) return st;
    cfg.allocator = allocator;
    return dv_db_open(&cfg, out);
}

static void put_u64_pair(dv_text *t, const char *field, uint64_t s, uint64_t r) {
    dv_text_put(t, "stream ");
    dv_text_put(t, field);
    dv_text_put(t, " ");
    dv_text_u64(t, s);
    dv_text_put(t, " != replica ");
    dv_text_put(t, field);
    dv_text_put(t, " ");
    dv_text_u64(t, r);
}

/* The first differing field, written to t; DV_OK when none. dim_only: logical replicas. */
static dv_status compare(const dv_stream_info *in, const dv_db_config *c, int dim_only, dv_text *t) {
    if (in->dim != c->dim) {
        put_u64_pair(t, "dim", in->dim, c->dim);
        return DV_ECONFIG;
    }
    if (dim_only) return DV_OK;
    if (in->metric != (uint32_t)c->metric) {
        dv_text_put(t, "stream metric ");
        dv_text_put(t, metric_name(in->metric));
        dv_text_put(t, " != replica metric ");
        dv_text_put(t, metric_name((uint32_t)c->metric));
        return DV_ECONFIG;
    }
    if (in->M != c->M) {
        put_u64_pair(t, "M", in->M, c->M);
        return DV_ECONFIG;
    }
    if (in->ef_construction != c->ef_construction) {
        put_u64_pair(t, "ef_construction", in->ef_construction, c->ef_construction);
        return DV_ECONFIG;
    }
    if (in->seed != c->seed) {
        put_u64_pair(t, "seed", in->seed, c->seed);
        return DV_ECONFIG;
    }
    uint32_t a, b;
    memcpy(&a, &in->relink_ratio, 4);
    memcpy(&b, &c->relink_ratio, 4);
    if (a != b) {
        dv_text_put(t, "stream relink_ratio ");
        put_ratio(t, in->relink_ratio);
        dv_text_put(t, " != replica relink_ratio ");
        put_ratio(t, c->relink_ratio);
        return DV_ECONFIG;
    }
    return DV_OK;
}

dv_status dv_stream_check_db(const dv_stream_info *info, const dv_db *db, char *msg, size_t cap) {
    if (!info || !db) return DV_EINVAL;
    dv_text t;
    dv_text_init(&t, msg, msg ? cap : 0);
    dv_status st = compare(info, dv_db_config_of(db), 0, &t);
    if (st == DV_OK && msg && cap) msg[0] = 0;
    return st;
}

/* Records a refusal of the stream in dv_apply_last_error (not counted: no delta was refused). */
static dv_status refuse(dv_apply *ap, const char *msg, dv_status st) {
    dv_text t;
    dv_text_init(&t, ap->err, sizeof ap->err);
    dv_text_put(&t, msg);
    return st;
}

dv_status dv_apply_begin_stream(dv_apply *ap, const dv_stream_info *info) {
    if (!ap || !info) return DV_EINVAL;
    char msg[sizeof ap->err];
    dv_text t;
    dv_text_init(&t, msg, sizeof msg);
    if (info->mode > DV_STREAM_LOGICAL || info->first_sequence == 0)
        return refuse(ap, "stream header: mode or first_sequence out of range", DV_EINVAL);
    if (info->mode == DV_STREAM_LOGICAL && ap->cfg.mode == DV_APPLY_STRUCTURAL)
        return refuse(ap,
                      "stream mode logical != replica mode structural (a logical stream has no graph "
                      "parts to replay: apply it with DV_APPLY_LOGICAL)",
                      DV_ECONFIG);
    if (compare(info, dv_db_config_of(ap->db), ap->cfg.mode == DV_APPLY_LOGICAL, &t) != DV_OK) {
        if (ap->cfg.mode == DV_APPLY_LOGICAL) dv_text_put(&t, " (logical replica)");
        return refuse(ap, msg, DV_ECONFIG);
    }
    if (info->first_sequence - 1 > ap->position) {
        dv_text_put(&t, "stream starts at sequence ");
        dv_text_u64(&t, info->first_sequence);
        dv_text_put(&t, ", replica position ");
        dv_text_u64(&t, ap->position);
        dv_text_put(&t, ": missing ");
        dv_text_u64(&t, ap->position + 1);
        dv_text_put(&t, "..");
        dv_text_u64(&t, info->first_sequence - 1);
        return refuse(ap, msg, DV_EGAP);
    }
    return DV_OK;
}
