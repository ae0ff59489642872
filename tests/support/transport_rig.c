/*
 * transport_rig.c -- test and bench support: replication through a real nats-server (see transport_rig.h).
 */
#define _GNU_SOURCE
#include "support/transport_rig.h"

#include "log_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rig_start(transport_rig *r) {
    const char *t = getenv("TMPDIR");
    snprintf(r->work, sizeof r->work, "%s/%s-XXXXXX", t && *t ? t : "/tmp", r->tag);
    if (!mkdtemp(r->work)) {
        r->work[0] = 0;
        return -1;
    }
    return test_nats_start(&r->srv, r->db);
}

int rig_stop(transport_rig *r) {
    test_nats_stop(&r->srv);
    if (!r->work[0]) return 0;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->work);
    r->work[0] = 0;
    return system(cmd) == 0 ? 0 : -1;
}

void rig_path(const transport_rig *r, const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", r->work, name);
}

dv_status rig_primary_open(const char *dir, const rig_primary *cfg, dv_store **out) {
    dv_db_config c;
    dv_db_config_default(&c, cfg->dim);
    if (cfg->M) c.M = cfg->M;
    if (cfg->ef_construction) c.ef_construction = cfg->ef_construction;
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.create = &c;
    sc.mode = cfg->mode;
    sc.sync = DV_SYNC_NONE;
    sc.keep_log_from = cfg->keep_log_from;
    if (cfg->segment_bytes) sc.segment_bytes = cfg->segment_bytes;
    return dv_store_open(dir, &sc, out, NULL);
}

static dv_status each_record(const uint8_t *buf, size_t len, void (*each)(const dv_stream_record *, void *),
                             void *arg) {
    dv_stream_reader *r = NULL;
    dv_status st = dv_stream_reader_open(NULL, &r);
    for (size_t pos = 0; st == DV_OK;) {
        size_t used = 0;
        dv_stream_record rec;
        st = dv_stream_reader_next(r, buf + pos, len - pos, &used, &rec);
        pos += used;
        if (st == DV_OK) each(&rec, arg);
    }
    dv_stream_reader_free(r);
    return st == DV_EEMPTY ? DV_OK : st;
}

dv_status rig_each_log_record(const char *dir, void (*each)(const dv_stream_record *rec, void *arg),
                              void *arg) {
    char(*names)[32];
    size_t n = lu_segment_list(dir, &names);
    dv_status st = DV_OK;
    for (size_t i = 0; i < n && st == DV_OK; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len = 0;
        uint8_t *buf = lu_read(path, &len);
        st = buf ? each_record(buf, len, each, arg) : DV_EIO;
        free(buf);
    }
    free(names);
    return st;
}

static void connect_as(const transport_rig *r, const char *user, const char *password, dv_nats_config *n) {
    n->servers = r->srv.url;
    n->user = user;
    n->password = password;
    n->name = r->srv.db;
}

void rig_publisher_config(const transport_rig *r, const char *dir, dv_publisher_config *pc) {
    dv_publisher_config_default(pc);
    connect_as(r, "pub", "pubpw", &pc->nats);
    pc->dir = dir;
}

void rig_follower_config(const transport_rig *r, const char *dir, const char *durable,
                         dv_follower_config *fc) {
    dv_follower_config_default(fc);
    connect_as(r, "fol", "folpw", &fc->nats);
    fc->dir = dir;
    fc->durable = durable;
}

static int transient(dv_status st) { return st == DV_OK || st == DV_ENETWORK; }

dv_status rig_converge(dv_publisher *p, dv_follower *f, uint64_t target) {
    for (int idle = 0; dv_follower_position(f) < target && idle < 600;) {
        dv_status ps = p ? dv_publisher_pump(p, NULL) : DV_OK;
        if (!transient(ps)) return ps;
        uint64_t n = 0;
        dv_status fs = dv_follower_pump(f, 100, &n);
        if (!transient(fs)) return fs;
        idle = n ? 0 : idle + 1;
    }
    return DV_OK;
}

natsStatus rig_js_connect(const transport_rig *r, const char *user, const char *password, jsOptions *jo,
                          rig_js *c) {
    memset(c, 0, sizeof *c);
    natsStatus st = natsOptions_Create(&c->opts);
    if (st == NATS_OK) st = natsOptions_SetURL(c->opts, r->srv.url);
    if (st == NATS_OK && user) st = natsOptions_SetUserInfo(c->opts, user, password);
    if (st == NATS_OK) st = natsConnection_Connect(&c->nc, c->opts);
    if (st == NATS_OK) st = natsConnection_JetStream(&c->js, c->nc, jo);
    return st;
}

void rig_js_close(rig_js *c) {
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    natsOptions_Destroy(c->opts);
    memset(c, 0, sizeof *c);
}

natsStatus rig_publish_raw(const transport_rig *r, const char *user, const char *password, const void *data,
                           int len, const char *msg_id, const char *codec, uint64_t *seq, int *duplicate) {
    char subject[96];
    snprintf(subject, sizeof subject, "dv.%s.deltas", r->srv.db);
    rig_js c;
    natsMsg *m = NULL;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus st = rig_js_connect(r, user, password, NULL, &c);
    if (st == NATS_OK) st = natsMsg_Create(&m, subject, NULL, data, len);
    if (st == NATS_OK && msg_id) st = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id);
    if (st == NATS_OK && codec) st = natsMsgHeader_Set(m, "Dv-Codec", codec);
    if (st == NATS_OK) st = js_PublishMsg(&pa, c.js, m, NULL, &jerr);
    if (st == NATS_OK) {
        *seq = pa->Sequence;
        if (duplicate) *duplicate = pa->Duplicate;
    }
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    rig_js_close(&c);
    return st;
}

natsStatus rig_delete_raw(const transport_rig *r, uint64_t seq) {
    char stream[96];
    snprintf(stream, sizeof stream, "DV_%s", r->srv.db);
    rig_js c;
    jsErrCode jerr = 0;
    natsStatus st = rig_js_connect(r, "adm", "admpw", NULL, &c);
    if (st == NATS_OK) st = js_DeleteMsg(c.js, stream, seq, NULL, &jerr);
    rig_js_close(&c);
    return st;
}

uint64_t rig_rand(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

float rig_rand_unit(uint64_t *state, uint32_t steps) {
    return (float)(rig_rand(state) % (2 * steps)) / (float)steps - 1.0f;
}
