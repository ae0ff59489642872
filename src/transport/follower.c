/*
 * follower.c -- keeps a replica in step with a database's JetStream stream.
 *
 * Replica directory (same file names as a database directory, so the
 * read-only tools open it too):
 *   <20-digit S>.dvp   a snapshot: the state after sequence S (bootstrap
 *                      from the object store, or the follower's checkpoint)
 *   <20-digit F>.dvs   a stream of the records applied after it, starting
 *                      at F; a new one per open/checkpoint/bootstrap
 * The replica's position is the last record in its files, so it is
 * persisted with its data: a record is applied, appended, fdatasync'ed and
 * only then acknowledged. A crash before the ack redelivers the record,
 * which is then a duplicate (sequence <= position): acknowledged, ignored.
 *
 * Consumer: one durable pull consumer per replica (explicit ack, filter
 * dv.N.deltas), created at the stream sequence after the replica's
 * position; a fresh replica deletes a stale consumer of the same name.
 * Refusals are sticky: the follower stops with the status and the stream
 * sequence, the replica as it was, the message not acknowledged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/transport.h"

struct dv_follower {
    dv_follower_config cfg;
    char *strs[7];
    dvt_names names;
    dvt_conn conn;
    natsSubscription *sub;
    dv_db *db;
    dv_apply *ap;
    uint8_t db_id[DV_STREAM_DB_ID_SIZE];
    uint8_t mode;
    int fd; /* current segment */
    dv_stream_writer *w;
    uint64_t since_ckpt;
    dv_status sticky;
    dv_follower_lag lag;
    uint64_t stream_last_rec; /* the stream's last record as last read (for lag) */
    int64_t stream_last_at;   /* when (ns) */
    char err[DVT_ERR_MAX];
};

void dv_follower_config_default(dv_follower_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->nats.timeout_ms = 5000;
    cfg->batch = 256;
    cfg->ack_wait_ms = 30000;
    cfg->checkpoint_every = 100000;
}

const dv_db *dv_follower_db(const dv_follower *f) { return f ? f->db : NULL; }
uint64_t dv_follower_position(const dv_follower *f) { return f && f->ap ? dv_apply_position(f->ap) : 0; }
const char *dv_follower_last_error(const dv_follower *f) { return f ? f->err : "no follower"; }
void dv_follower_lag_get(const dv_follower *f, dv_follower_lag *out) {
    if (f && out) *out = f->lag;
}

static dv_status seg_sink(void *ctx, const uint8_t *bytes, size_t len) {
    dv_follower *f = ctx;
    while (len) {
        ssize_t w = write(f->fd, bytes, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return errno == ENOSPC ? DV_ENOSPC : DV_EIO;
        bytes += w;
        len -= (size_t)w;
    }
    return DV_OK;
}

static void seg_close(dv_follower *f) {
    dv_stream_writer_free(f->w);
    f->w = NULL;
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}

/* Starts segment position+1 (replacing a file of that name: it holds no applied record). */
static dv_status seg_start(dv_follower *f) {
    seg_close(f);
    uint64_t first = dv_apply_position(f->ap) + 1;
    char path[4200];
    dvt_seq_file(path, sizeof path, f->cfg.dir, first, ".dvs");
    f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        snprintf(f->err, sizeof f->err, "create %s: %s", path, strerror(errno));
        return DV_EIO;
    }
    dv_stream_info info;
    dv_status st = dv_stream_info_from_db(f->db, (dv_stream_mode)f->mode, first, &info);
    if (st == DV_OK) {
        memcpy(info.db_id, f->db_id, sizeof info.db_id);
        st = dv_stream_writer_open(&info, seg_sink, f, NULL, &f->w);
    }
    if (st == DV_OK && (fdatasync(f->fd) != 0 || dvt_fsync_dir(f->cfg.dir) != DV_OK)) st = DV_EIO;
    if (st != DV_OK) snprintf(f->err, sizeof f->err, "start segment %s: %s", path, dv_strerror(st));
    return st;
}

static void replica_free(dv_follower *f) {
    seg_close(f);
    dv_apply_free(f->ap);
    dv_db_close(f->db);
    f->ap = NULL;
    f->db = NULL;
}

/* Removes the files of the replica directory older than `keep` (a snapshot sequence). */
static void drop_older(dv_follower *f, uint64_t keep_snap, uint64_t keep_seg) {
    const char *exts[2] = {".dvp", ".dvs"};
    uint64_t keeps[2] = {keep_snap, keep_seg};
    for (int e = 0; e < 2; e++) {
        uint64_t *v = NULL;
        size_t n = 0;
        if (dvt_list_seq_files(f->cfg.dir, exts[e], &v, &n) != DV_OK) continue;
        for (size_t i = 0; i < n; i++)
            if (v[i] < keeps[e]) {
                char path[4200];
                dvt_seq_file(path, sizeof path, f->cfg.dir, v[i], exts[e]);
                unlink(path);
            }
        free(v);
    }
    dvt_fsync_dir(f->cfg.dir);
}

/* Takes a loaded snapshot as the replica (db and meta from dv_db_snapshot_read). */
static dv_status adopt(dv_follower *f, dv_db *db, dv_snapshot_meta *meta) {
    replica_free(f);
    f->db = db;
    memcpy(f->db_id, meta->db_id, sizeof f->db_id);
    f->mode = meta->mode;
    dv_apply_config ac;
    dv_apply_config_default(&ac);
    ac.workers = 0;
    ac.start_position = meta->sequence;
    if (meta->mode == DV_STREAM_LOGICAL) ac.mode = DV_APPLY_LOGICAL;
    dv_status st = dv_apply_init(db, &ac, &f->ap);
    if (st == DV_OK && meta->slot_sequences)
        st = dv_apply_restore_slot_sequences(f->ap, meta->slot_sequences, meta->n_slot_sequences);
    dv_snapshot_meta_release(meta, NULL);
    return st;
}

/* Replays one segment file of the replica directory; cuts a torn tail. */
static dv_status replay_segment(dv_follower *f, uint64_t first) {
    char path[4200];
    dvt_seq_file(path, sizeof path, f->cfg.dir, first, ".dvs");
    uint8_t *buf = NULL;
    size_t len = 0;
    dv_status st = dvt_read_file(path, &buf, &len);
    if (st != DV_OK) return st;
    dv_stream_reader *r = NULL;
    st = dv_stream_reader_open(NULL, &r);
    size_t pos = 0;
    while (st == DV_OK && pos <= len) {
        size_t used = 0;
        dv_stream_record rec;
        dv_status rs = dv_stream_reader_next(r, buf + pos, len - pos, &used, &rec);
        pos += used;
        if (rs == DV_EEMPTY) break;
        if (rs == DV_OK && !f->db) {
            dv_stream_info info;
            dv_stream_reader_info(r, &info);
            st = dv_db_open_from_stream(&info, NULL, &f->db);
            dv_snapshot_meta m = {0};
            m.mode = info.mode;
            memcpy(m.db_id, info.db_id, sizeof m.db_id);
            dv_db *db = f->db;
            f->db = NULL;
            if (st == DV_OK) st = adopt(f, db, &m);
        }
        if (rs == DV_OK) {
            dv_status as = dv_apply_delta(f->ap, rec.header, rec.payload, rec.payload_len);
            if (as != DV_OK && as != DV_EDUPLICATE) {
                snprintf(f->err, sizeof f->err, "replay %s at %llu: %s", path, (unsigned long long)rec.offset,
                         dv_apply_last_error(f->ap));
                st = as;
            }
        } else if (rs != DV_EDUPLICATE) {
            /* damaged from here: cut it off. Safe for a replica: the records after it are fetched
             * again from the stream (the consumer restarts after the position). */
            if (truncate(path, (off_t)rec.offset) != 0) st = DV_EIO;
            dv_stream_reader_free(r);
            free(buf);
            return st;
        }
    }
    uint64_t off = 0;
    dv_status fs = dv_stream_reader_finish(r, &off);
    if (st == DV_OK && fs == DV_ETRUNCATED && truncate(path, (off_t)off) != 0) st = DV_EIO; /* torn tail */
    dv_stream_reader_free(r);
    free(buf);
    return st;
}

static dv_status recover(dv_follower *f) {
    uint64_t *snaps = NULL, *segs = NULL;
    size_t ns = 0, ng = 0;
    dv_status st = dvt_list_seq_files(f->cfg.dir, ".dvp", &snaps, &ns);
    if (st == DV_OK) st = dvt_list_seq_files(f->cfg.dir, ".dvs", &segs, &ng);
    for (size_t i = ns; st == DV_OK && i-- > 0;) {
        char path[4200], msg[256];
        uint8_t *buf = NULL;
        size_t len = 0;
        dvt_seq_file(path, sizeof path, f->cfg.dir, snaps[i], ".dvp");
        if (dvt_read_file(path, &buf, &len) != DV_OK) continue;
        dv_db *db = NULL;
        dv_snapshot_meta meta;
        dv_status ls = dv_db_snapshot_read(buf, len, NULL, &db, &meta, msg, sizeof msg);
        free(buf);
        if (ls == DV_OK) {
            st = adopt(f, db, &meta);
            break;
        }
    }
    for (size_t i = 0; st == DV_OK && i < ng; i++) st = replay_segment(f, segs[i]);
    free(snaps);
    free(segs);
    if (st == DV_OK && f->db) st = seg_start(f);
    return st;
}

dv_status dv_follower_open(const dv_follower_config *cfg, dv_follower **out) {
    if (!cfg || !out || !cfg->dir || !cfg->nats.servers || !dv_nats_name_valid(cfg->nats.name) ||
        !dv_nats_name_valid(cfg->durable))
        return DV_EINVAL;
    *out = NULL;
    dv_follower *f = calloc(1, sizeof *f);
    if (!f) return DV_ENOMEM;
    f->cfg = *cfg;
    f->fd = -1;
    const char **fields[7] = {&f->cfg.dir,           &f->cfg.nats.servers, &f->cfg.nats.user,
                              &f->cfg.nats.password, &f->cfg.nats.name,    &f->cfg.nats.tls_ca,
                              &f->cfg.durable};
    for (int i = 0; i < 7; i++) {
        f->strs[i] = *fields[i] ? strdup(*fields[i]) : NULL;
        *fields[i] = f->strs[i];
    }
    if (!f->cfg.batch) f->cfg.batch = 256;
    if (!f->cfg.ack_wait_ms) f->cfg.ack_wait_ms = 30000;
    if (!f->cfg.checkpoint_every) f->cfg.checkpoint_every = 100000;
    dvt_names_init(&f->names, f->cfg.nats.name);
    if (mkdir(f->cfg.dir, 0755) != 0 && errno != EEXIST) {
        dv_follower_close(f);
        return DV_EIO;
    }
    dv_status st = recover(f);
    if (st != DV_OK) {
        dv_follower_close(f);
        return st;
    }
    *out = f;
    return DV_OK;
}

void dv_follower_close(dv_follower *f) {
    if (!f) return;
    if (f->sub) natsSubscription_Destroy(f->sub);
    f->sub = NULL;
    dvt_disconnect(&f->conn);
    replica_free(f);
    for (int i = 0; i < 7; i++) free(f->strs[i]);
    free(f);
}

dv_status dv_follower_checkpoint(dv_follower *f) {
    if (!f || !f->db) return DV_ESTATE;
    dv_snapshot_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.sequence = dv_apply_position(f->ap);
    memcpy(meta.db_id, f->db_id, sizeof meta.db_id);
    meta.mode = f->mode;
    meta.slot_sequences = (uint64_t *)dv_apply_slot_sequences(f->ap, &meta.n_slot_sequences);
    uint64_t size = 0;
    dv_status st = dv_db_snapshot_size(f->db, &meta, &size);
    uint8_t *buf = st == DV_OK ? malloc(size ? (size_t)size : 1) : NULL;
    if (st == DV_OK && !buf) st = DV_ENOMEM;
    if (st == DV_OK) st = dv_db_snapshot_to_buffer(f->db, &meta, buf, (size_t)size, NULL);
    char name[32];
    snprintf(name, sizeof name, "%020llu.dvp", (unsigned long long)meta.sequence);
    if (st == DV_OK) st = dvt_write_file_atomic(f->cfg.dir, name, buf, (size_t)size);
    free(buf);
    if (st == DV_OK) st = seg_start(f);
    if (st == DV_OK) drop_older(f, meta.sequence, meta.sequence + 1);
    if (st == DV_OK) f->since_ckpt = 0;
    return st;
}

/* ---- network ---------------------------------------------------------------- */

static dv_status stop(dv_follower *f, dv_status st) {
    f->sticky = st;
    return st;
}

/* Loads the newest snapshot of the bucket as the replica. DV_ENOTFOUND if none. */
typedef struct newest {
    uint64_t seq;
} newest;
static void on_name(void *ctx, const char *name) {
    newest *n = ctx;
    uint64_t s = dvt_snap_seq(name);
    if (s > n->seq) n->seq = s;
}

static dv_status bootstrap(dv_follower *f) {
    newest nw = {0};
    dv_status st = dvt_obj_list(&f->conn, &f->names, on_name, &nw, f->err, sizeof f->err);
    if (st != DV_OK) return st;
    if (!nw.seq) {
        snprintf(f->err, sizeof f->err, "no snapshot in bucket %s", f->names.bucket);
        return DV_ENOTFOUND;
    }
    char name[32], msg[256];
    dvt_snap_name(name, nw.seq);
    uint8_t *buf = NULL;
    size_t len = 0;
    st = dvt_obj_get(&f->conn, &f->names, name, &buf, &len, f->err, sizeof f->err);
    if (st != DV_OK) return st;
    dv_db *db = NULL;
    dv_snapshot_meta meta;
    st = dv_db_snapshot_read(buf, len, NULL, &db, &meta, msg, sizeof msg);
    if (st != DV_OK) {
        snprintf(f->err, sizeof f->err, "snapshot %s: %s", name, msg);
        free(buf);
        return st;
    }
    char file[32];
    snprintf(file, sizeof file, "%020llu.dvp", (unsigned long long)meta.sequence);
    st = dvt_write_file_atomic(f->cfg.dir, file, buf, len);
    free(buf);
    uint64_t seq = meta.sequence;
    if (st == DV_OK)
        st = adopt(f, db, &meta);
    else {
        dv_snapshot_meta_release(&meta, NULL);
        dv_db_close(db);
    }
    if (st == DV_OK) st = seg_start(f);
    if (st == DV_OK) drop_older(f, seq, seq + 1);
    if (st == DV_OK) f->lag.bootstraps++;
    return st;
}

/* A replica from the stream header in dv.N.meta (the stream holds the log from 1). */
static dv_status create_from_meta(dv_follower *f) {
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetLastMsg(&m, f->conn.js, f->names.meta_stream, f->names.meta, NULL, &jerr);
    if (s != NATS_OK) {
        dvt_err(f->err, sizeof f->err, "read the database meta", s, jerr);
        return s == NATS_NOT_FOUND ? DV_ENOTFOUND : DV_ENETWORK;
    }
    dv_stream_info info;
    dv_status st = dv_stream_header_decode((const uint8_t *)natsMsg_GetData(m),
                                           (size_t)natsMsg_GetDataLength(m), &info, NULL);
    natsMsg_Destroy(m);
    dv_db *db = NULL;
    if (st == DV_OK) st = dv_db_open_from_stream(&info, NULL, &db);
    if (st != DV_OK) {
        snprintf(f->err, sizeof f->err, "database meta: %s", dv_strerror(st));
        return st;
    }
    dv_snapshot_meta meta = {0};
    meta.mode = info.mode;
    memcpy(meta.db_id, info.db_id, sizeof meta.db_id);
    st = adopt(f, db, &meta);
    if (st == DV_OK) st = seg_start(f);
    return st;
}

/* An existing replica must belong to the database the server now holds (same db id). */
static dv_status check_meta(dv_follower *f) {
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetLastMsg(&m, f->conn.js, f->names.meta_stream, f->names.meta, NULL, &jerr);
    if (s == NATS_NOT_FOUND) return DV_OK; /* nothing published (yet): nothing to compare */
    if (s != NATS_OK) {
        dvt_err(f->err, sizeof f->err, "read the database meta", s, jerr);
        return DV_ENETWORK;
    }
    dv_stream_info info;
    dv_status st = dv_stream_header_decode((const uint8_t *)natsMsg_GetData(m),
                                           (size_t)natsMsg_GetDataLength(m), &info, NULL);
    natsMsg_Destroy(m);
    static const uint8_t zero[DV_STREAM_DB_ID_SIZE];
    if (st == DV_OK && memcmp(f->db_id, zero, sizeof zero) != 0 &&
        memcmp(info.db_id, f->db_id, sizeof zero) != 0) {
        char a[2 * DV_STREAM_DB_ID_SIZE + 1], b[2 * DV_STREAM_DB_ID_SIZE + 1];
        dvt_hex(a, f->db_id, DV_STREAM_DB_ID_SIZE);
        dvt_hex(b, info.db_id, DV_STREAM_DB_ID_SIZE);
        snprintf(f->err, sizeof f->err, "this replica follows database %s, the server now holds %s", a, b);
        return DV_ECONFIG;
    }
    if (st == DV_OK) st = dv_stream_check_db(&info, f->db, f->err, sizeof f->err);
    return st;
}

/* Stream sequence of the message holding the record after the position. */
static dv_status start_stream_seq(dv_follower *f, uint64_t *start) {
    return dvt_find_stream_seq(&f->conn, f->names.stream, dv_apply_position(f->ap) + 1, start, f->err,
                               sizeof f->err);
}

/* Delta sequence of the stream's first record (0: none or unreadable). */
static uint64_t stream_first_delta(dv_follower *f) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    if (js_GetStreamInfo(&si, f->conn.js, f->names.stream, NULL, &jerr) != NATS_OK) return 0;
    uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    for (uint64_t q = first; q && q <= last && q < first + 64; q++) { /* skip deleted/foreign messages */
        natsMsg *m = NULL;
        if (js_GetMsg(&m, f->conn.js, f->names.stream, q, NULL, &jerr) != NATS_OK) continue;
        uint64_t rec_first = 0, rec_last = 0;
        int ok = dvt_msg_run(m, &rec_first, &rec_last);
        natsMsg_Destroy(m);
        if (ok) return rec_first;
    }
    return 0;
}

static dv_status subscribe(dv_follower *f, int fresh) {
    jsErrCode jerr = 0;
    if (fresh) js_DeleteConsumer(f->conn.js, f->names.stream, f->cfg.durable, NULL, &jerr);
    jsConsumerInfo *ci = NULL;
    natsStatus s = js_GetConsumerInfo(&ci, f->conn.js, f->names.stream, f->cfg.durable, NULL, &jerr);
    if (s == NATS_OK) jsConsumerInfo_Destroy(ci);
    if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
        uint64_t start = 1;
        dv_status st = start_stream_seq(f, &start);
        if (st != DV_OK) return st;
        jsConsumerConfig cc;
        jsConsumerConfig_Init(&cc);
        cc.Durable = f->cfg.durable;
        cc.AckPolicy = js_AckExplicit;
        cc.DeliverPolicy = js_DeliverByStartSequence;
        cc.OptStartSeq = start;
        cc.FilterSubject = f->names.deltas;
        cc.AckWait = (int64_t)f->cfg.ack_wait_ms * 1000000;
        cc.MaxAckPending = (int64_t)f->cfg.batch * 4;
        jerr = 0;
        s = js_AddConsumer(&ci, f->conn.js, f->names.stream, &cc, NULL, &jerr);
        if (s == NATS_OK) jsConsumerInfo_Destroy(ci);
    }
    if (s != NATS_OK) {
        dvt_err(f->err, sizeof f->err, "consumer", s, jerr);
        return DV_ENETWORK;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = f->names.stream;
    so.Consumer = f->cfg.durable;
    s = js_PullSubscribe(&f->sub, f->conn.js, f->names.deltas, f->cfg.durable, NULL, &so, &jerr);
    if (s != NATS_OK) {
        dvt_err(f->err, sizeof f->err, "pull subscribe", s, jerr);
        return DV_ENETWORK;
    }
    return DV_OK;
}

static dv_status connect_follow(dv_follower *f) {
    dv_status st = dvt_connect(&f->conn, &f->cfg.nats, 0, NULL, NULL, f->err, sizeof f->err);
    if (st != DV_OK) return st;
    if (!f->db) {
        st = bootstrap(f);
        if (st == DV_ENOTFOUND) st = create_from_meta(f);
    } else {
        st = check_meta(f);
    }
    /* The replica's position is the truth: the consumer restarts right after it (messages a
     * crashed run fetched but never acknowledged would otherwise come back only after AckWait). */
    if (st == DV_OK) st = subscribe(f, 1);
    if (st != DV_OK) {
        if (f->sub) natsSubscription_Destroy(f->sub);
        f->sub = NULL;
        dvt_disconnect(&f->conn);
    }
    return st;
}

/* A message of another database (another publisher) is refused even if its records would apply. */
static dv_status check_origin(dv_follower *f, natsMsg *m, uint64_t stream_seq, const dvt_run *run) {
    static const uint8_t zero[DV_STREAM_DB_ID_SIZE];
    if (memcmp(f->db_id, zero, sizeof zero) == 0) return DV_OK; /* a replica of a db without id */
    char hex[2 * DV_STREAM_DB_ID_SIZE + 1];
    const char *id = NULL;
    uint64_t first = 0, last = 0;
    dvt_hex(hex, f->db_id, DV_STREAM_DB_ID_SIZE);
    natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
    if (!dvt_msg_id_parse(id, hex, &first, &last)) {
        snprintf(f->err, sizeof f->err, "stream sequence %llu: not published by database %s (message id %s)",
                 (unsigned long long)stream_seq, hex, id ? id : "none");
        return DV_EFENCED;
    }
    if (first != run->first || last != run->last) {
        snprintf(f->err, sizeof f->err,
                 "stream sequence %llu: message id names records %llu-%llu, it holds %llu-%llu",
                 (unsigned long long)stream_seq, (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)run->first, (unsigned long long)run->last);
        return DV_ECORRUPT;
    }
    return DV_OK;
}

/*
 * Checks one message (every record of its run, before applying any) and
 * applies the records past the position; *applied counts them.
 * DV_EDUPLICATE when all are at or below the position (a redelivery, or a
 * snapshot that covers them); a message starting at or below the position
 * and reaching past it (partial duplicate) applies its new tail.
 */
static dv_status apply_run(dv_follower *f, natsMsg *m, const uint8_t *d, size_t len, uint64_t stream_seq,
                           uint64_t *applied);

static dv_status apply_msg(dv_follower *f, natsMsg *m, uint64_t stream_seq, uint64_t *applied) {
    const uint8_t *d = NULL;
    uint8_t *owned = NULL;
    size_t len = 0;
    char why[256];
    *applied = 0;
    dv_status st = dvt_msg_records(m, &d, &len, &owned, why, sizeof why);
    if (st != DV_OK) {
        snprintf(f->err, sizeof f->err, "stream sequence %llu: %s", (unsigned long long)stream_seq, why);
        return st;
    }
    st = apply_run(f, m, d, len, stream_seq, applied);
    free(owned);
    return st;
}

static dv_status apply_run(dv_follower *f, natsMsg *m, const uint8_t *d, size_t len, uint64_t stream_seq,
                           uint64_t *applied) {
    char why[256];
    dvt_run run;
    dv_status st = dvt_run_walk(d, len, &run, why, sizeof why);
    if (st != DV_OK) {
        snprintf(f->err, sizeof f->err, "stream sequence %llu: not a valid run of records (%zu bytes): %s",
                 (unsigned long long)stream_seq, len, why);
        return st;
    }
    st = check_origin(f, m, stream_seq, &run);
    if (st != DV_OK) return st;
    uint64_t pos = dv_apply_position(f->ap);
    if (run.last <= pos) return DV_EDUPLICATE;
    if (run.first > pos + 1) return DV_EGAP;
    for (size_t off = 0; off < len;) {
        dv_delta_header h;
        dv_delta_header_decode(d + off, &h);
        size_t size = DV_DELTA_HEADER_SIZE + h.payload_size;
        if (h.sequence > pos) {
            st = dv_apply_delta(f->ap, d + off, d + off + DV_DELTA_HEADER_SIZE, h.payload_size);
            if (st != DV_OK) {
                snprintf(f->err, sizeof f->err, "stream sequence %llu (delta %llu) refused: %s: %s",
                         (unsigned long long)stream_seq, (unsigned long long)h.sequence, dv_strerror(st),
                         dv_apply_last_error(f->ap));
                return st;
            }
            st = dv_stream_writer_append(f->w, d + off, d + off + DV_DELTA_HEADER_SIZE, h.payload_size);
            if (st != DV_OK) {
                /* applied in memory but not logged: stop; a restart replays the files and redelivers */
                snprintf(f->err, sizeof f->err, "append delta %llu to the replica directory: %s",
                         (unsigned long long)h.sequence, dv_strerror(st));
                return st;
            }
            f->since_ckpt++;
            (*applied)++;
        }
        off += size;
    }
    return DV_OK;
}

/* Lag in records: pending counts messages (each a run), so read the stream's last record now and then. */
static void update_lag(dv_follower *f, uint64_t pending_msgs) {
    uint64_t pos = dv_apply_position(f->ap);
    if (!pending_msgs) {
        f->lag.sequences = 0;
        return;
    }
    int64_t now = dvt_now_ns();
    if (f->stream_last_rec <= pos || now - f->stream_last_at > 250000000) {
        natsMsg *m = NULL;
        jsErrCode jerr = 0;
        uint64_t first = 0, last = 0;
        if (js_GetLastMsg(&m, f->conn.js, f->names.stream, f->names.deltas, NULL, &jerr) == NATS_OK &&
            dvt_msg_run(m, &first, &last))
            f->stream_last_rec = last;
        natsMsg_Destroy(m);
        f->stream_last_at = now;
    }
    f->lag.sequences = f->stream_last_rec > pos ? f->stream_last_rec - pos : pending_msgs;
}

dv_status dv_follower_pump(dv_follower *f, uint32_t wait_ms, uint64_t *n_applied) {
    if (n_applied) *n_applied = 0;
    if (!f) return DV_EINVAL;
    if (f->sticky) return f->sticky;
    if (f->conn.nc && natsConnection_IsClosed(f->conn.nc)) {
        if (f->sub) natsSubscription_Destroy(f->sub);
        f->sub = NULL;
        dvt_disconnect(&f->conn);
    }
    if (!f->conn.nc) {
        dv_status st = connect_follow(f);
        /* DV_ENOTFOUND without a replica: nothing is published yet (the publisher may still be
         * starting), so it is not sticky: the next call looks again */
        if (st != DV_OK) return st == DV_ENETWORK || (st == DV_ENOTFOUND && !f->db) ? st : stop(f, st);
    }
    natsMsgList list = {0};
    jsErrCode jerr = 0;
    natsStatus s = natsSubscription_Fetch(&list, f->sub, (int)f->cfg.batch, wait_ms ? wait_ms : 1, &jerr);
    if (s == NATS_TIMEOUT) {
        f->lag.sequences = 0;
        f->lag.seconds = 0;
        return DV_OK;
    }
    if (s != NATS_OK) {
        dvt_err(f->err, sizeof f->err, "fetch", s, jerr);
        return DV_ENETWORK;
    }
    dv_status st = DV_OK;
    int done = 0, reset = 0; /* messages handled (to ack); consumer to restart */
    uint64_t applied = 0, pending = 0;
    for (int i = 0; i < list.Count && st == DV_OK; i++) {
        jsMsgMetaData *md = NULL;
        uint64_t sseq = 0;
        if (natsMsg_GetMetaData(&md, list.Msgs[i]) == NATS_OK) {
            sseq = md->Sequence.Stream;
            pending = md->NumPending;
            f->lag.seconds = md->NumPending ? (double)(dvt_now_ns() - md->Timestamp) / 1e9 : 0;
            jsMsgMetaData_Destroy(md);
        }
        uint64_t n = 0;
        st = apply_msg(f, list.Msgs[i], sseq, &n);
        if (st == DV_EGAP && stream_first_delta(f) <= dv_apply_position(f->ap) + 1) {
            /* not trimmed: earlier messages are out for redelivery (fetched, never acknowledged,
             * e.g. across a reconnect). Restart the consumer after the position. */
            reset = 1;
            st = DV_OK;
            break;
        }
        if (st == DV_EGAP) {
            /* the stream was trimmed past the replica: start again from a snapshot */
            uint64_t pos = dv_apply_position(f->ap);
            st = bootstrap(f);
            if (st == DV_OK && dv_apply_position(f->ap) <= pos) st = DV_EGAP;
            if (st == DV_OK) st = apply_msg(f, list.Msgs[i], sseq, &n);
            if (st == DV_EDUPLICATE) st = DV_OK; /* the snapshot covers the whole message */
            if (st == DV_EGAP)
                snprintf(f->err, sizeof f->err,
                         "stream sequence %llu: records after %llu are gone and no snapshot covers them",
                         (unsigned long long)sseq, (unsigned long long)dv_apply_position(f->ap));
        }
        applied += n;
        if (st == DV_OK || st == DV_EDUPLICATE) {
            st = DV_OK;
            done = i + 1;
        }
    }
    if (applied && fdatasync(f->fd) != 0) {
        snprintf(f->err, sizeof f->err, "fdatasync: %s", strerror(errno));
        st = DV_EIO;
        done = 0;
    }
    for (int i = 0; i < done; i++) natsMsg_Ack(list.Msgs[i], NULL);
    natsMsgList_Destroy(&list);
    update_lag(f, pending);
    if (n_applied) *n_applied = applied;
    if (st == DV_OK && reset) {
        natsSubscription_Destroy(f->sub);
        f->sub = NULL;
        st = subscribe(f, 1);
        if (st == DV_ENETWORK) {
            dvt_disconnect(&f->conn);
            return st;
        }
    }
    if (st == DV_OK && f->since_ckpt >= f->cfg.checkpoint_every) st = dv_follower_checkpoint(f);
    if (st != DV_OK && st != DV_ENETWORK) return stop(f, st);
    return st;
}
