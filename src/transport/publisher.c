/*
 * publisher.c -- ships a database directory's log to NATS JetStream.
 *
 * The publisher reads the directory's segment files (never the writer's
 * memory), so the writer never waits on the network: a record is shipped
 * once it is in a segment. Consecutive records already in the log go out
 * together as one message on dv.N.deltas (a run in stream-file framing, at
 * most group_bytes; message.c), with:
 *   Nats-Msg-Id  "<db id hex>:<first>-<last>"  JetStream drops a resend
 *                                          (dedupe window of the stream);
 *   expected last stream sequence          the stream sequence the message
 *                                          must follow: a message from
 *                                          anyone else in between makes the
 *                                          server refuse ours (error 10071);
 *   expected last message id               (chained) the id of the message
 *                                          before it, once one is acked.
 * Grouping pays JetStream's per-message costs (these checks, headers,
 * storage framing) once per run: the publisher never waits for records to
 * arrive, a run is what the log already holds, so a caught-up publisher
 * sends each record alone and at once.
 *
 * Invariants:
 *  - `acked` is the last delta sequence the server acknowledged and
 *    `stream_last` its stream sequence; both are re-read from the server
 *    after every (re)connect or refusal ("sync"), so in-flight messages lost
 *    with a connection are simply sent again.
 *  - At sync, the stream's last record must be one of ours: same db id, a
 *    sequence our log has, the same checksum as our record. Anything else
 *    is another primary: DV_EFENCED, sticky.
 *  - At most `window` messages are unacknowledged (libnats' async window).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/transport.h"

struct dv_publisher {
    dv_publisher_config cfg;
    char *strs[6]; /* owned copies of the config strings */
    dvt_names names;
    dvt_conn conn;
    dv_stream_info info; /* the oldest segment's header (config, db id) */
    char db_hex[2 * DV_STREAM_DB_ID_SIZE + 1];
    int synced;
    int chained; /* the stream's last message is known to be our last acked (its id in last_id) */
    char last_id[80];
    dv_status sticky; /* DV_EFENCED etc.: returned by every later call */
    uint64_t acked, stream_last;
    /* tailer: next record of segment seg_first at byte off, sequence next_seq */
    int fd;
    uint64_t seg_first, off, next_seq;
    uint64_t fsize;     /* size of the segment when last looked at */
    const uint8_t *rec; /* the record tail_next returned (points into buf) */
    uint8_t *buf;       /* read-ahead window of the segment: bytes [buf_off, buf_off + buf_len) */
    size_t buf_cap, buf_len;
    uint64_t buf_off;
    /* the run being gathered for the next message: records first..last */
    uint8_t *grp;
    size_t grp_len, grp_cap;
    uint64_t grp_first, grp_last;
    uint8_t *zbuf; /* the run compressed */
    size_t zcap;
    /* asynchronous publish errors (libnats calls back from its thread) */
    pthread_mutex_t mu;
    int async_failed;
    jsErrCode async_code;
    char async_text[256];
    char err[DVT_ERR_MAX];
};

static char *dup_str(const char *s) { return s ? strdup(s) : NULL; }

void dv_publisher_config_default(dv_publisher_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->nats.timeout_ms = 5000;
    cfg->window = 256;
    cfg->keep_snapshots = 2;
    cfg->replicas = 1;
    cfg->group_bytes = 64 * 1024;
    cfg->zstd_level = 1;
}

static void on_async_err(jsCtx *js, jsPubAckErr *pae, void *closure) {
    (void)js;
    dv_publisher *p = closure;
    pthread_mutex_lock(&p->mu);
    if (!p->async_failed) { /* the first refusal is the one that matters */
        p->async_failed = 1;
        p->async_code = pae->ErrCode;
        snprintf(p->async_text, sizeof p->async_text, "%s (JetStream error %d)",
                 pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err), (int)pae->ErrCode);
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---- the tailer ---------------------------------------------------------- */

static void tail_close(dv_publisher *p) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
}

static dv_status read_at(int fd, uint8_t *buf, size_t len, uint64_t off, size_t *got) {
    *got = 0;
    while (*got < len) {
        ssize_t r = pread(fd, buf + *got, len - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return DV_EIO;
        if (r == 0) break;
        *got += (size_t)r;
    }
    return DV_OK;
}

/* Opens segment `first` and reads its header (*info may be NULL). */
static dv_status seg_open(dv_publisher *p, uint64_t first, dv_stream_info *info) {
    char path[4200];
    dvt_seq_file(path, sizeof path, p->cfg.dir, first, ".dvs");
    tail_close(p);
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0) {
        snprintf(p->err, sizeof p->err, "open %s: %s", path, strerror(errno));
        return errno == ENOENT ? DV_ENOTFOUND : DV_EIO;
    }
    uint8_t hdr[DV_STREAM_MAX_HEADER];
    size_t got, hsize = 0;
    dv_stream_info tmp;
    dv_status st = read_at(p->fd, hdr, sizeof hdr, 0, &got);
    if (st == DV_OK) st = dv_stream_header_decode(hdr, got, info ? info : &tmp, &hsize);
    if (st != DV_OK) {
        snprintf(p->err, sizeof p->err, "segment %s: unreadable header (%s)", path, dv_strerror(st));
        tail_close(p);
        return st;
    }
    p->seg_first = first;
    p->off = hsize;
    p->next_seq = first;
    p->fsize = 0;
    p->buf_len = 0;
    return DV_OK;
}

#define READ_AHEAD (1u << 20)

/* Bytes [off, off + len) of the segment, read ahead in 1 MiB windows; NULL past the end of the file. */
static const uint8_t *seg_bytes(dv_publisher *p, uint64_t off, size_t len, dv_status *st) {
    *st = DV_OK;
    if (off >= p->buf_off && off + len <= p->buf_off + p->buf_len) return p->buf + (off - p->buf_off);
    size_t want = len > READ_AHEAD ? len : READ_AHEAD;
    if (want > p->buf_cap) {
        uint8_t *nb = realloc(p->buf, want);
        if (!nb) {
            *st = DV_ENOMEM;
            return NULL;
        }
        p->buf = nb;
        p->buf_cap = want;
    }
    size_t got = 0;
    *st = read_at(p->fd, p->buf, want, off, &got);
    p->buf_off = off;
    p->buf_len = *st == DV_OK ? got : 0;
    return got >= len ? p->buf : NULL;
}

/*
 * The next record of the log into p->rec (*len bytes). DV_EEMPTY when none
 * is complete yet (a record being written at the end of the last segment
 * counts as not there yet); DV_EDAMAGED for a bad record followed by more.
 */
static dv_status tail_next(dv_publisher *p, size_t *len) {
    for (;;) {
        dv_status st = DV_OK;
        const uint8_t *hdr = seg_bytes(p, p->off, DV_DELTA_HEADER_SIZE, &st);
        if (st != DV_OK) return st;
        if (!hdr) {
            struct stat sb;
            if (fstat(p->fd, &sb) != 0) return DV_EIO;
            p->fsize = (uint64_t)sb.st_size;
            if (p->off != p->fsize) return DV_EEMPTY; /* a record is being written */
            char path[4200];
            dvt_seq_file(path, sizeof path, p->cfg.dir, p->next_seq, ".dvs");
            if (access(path, F_OK) != 0 || p->next_seq == p->seg_first) return DV_EEMPTY;
            st = seg_open(p, p->next_seq, NULL); /* the writer rolled to a new segment */
            if (st != DV_OK) return st;
            continue;
        }
        uint64_t size = 0;
        st = dv_stream_record_size(hdr, &size);
        const uint8_t *rec = NULL;
        if (st == DV_OK) {
            rec = seg_bytes(p, p->off, (size_t)size, &st);
            if (st != DV_OK) return st;
            if (!rec) return DV_EEMPTY; /* the rest of the record is not written yet */
            st = dv_delta_verify(rec, rec + DV_DELTA_HEADER_SIZE, (size_t)size - DV_DELTA_HEADER_SIZE);
        }
        if (st != DV_OK) {
            /* At the very end of the file this may be a write in progress: look again later. */
            struct stat sb;
            if (fstat(p->fd, &sb) != 0) return DV_EIO;
            p->fsize = (uint64_t)sb.st_size;
            p->buf_len = 0; /* re-read: the bytes may have been mid-write */
            if (p->off + (size ? size : DV_DELTA_HEADER_SIZE) >= p->fsize) return DV_EEMPTY;
            snprintf(p->err, sizeof p->err, "segment %020llu at %llu: %s, and records follow",
                     (unsigned long long)p->seg_first, (unsigned long long)p->off, dv_strerror(st));
            return DV_EDAMAGED;
        }
        dv_delta_header h;
        dv_delta_header_decode(rec, &h);
        if (h.sequence != p->next_seq) {
            snprintf(p->err, sizeof p->err, "segment %020llu at %llu: sequence %llu, expected %llu",
                     (unsigned long long)p->seg_first, (unsigned long long)p->off,
                     (unsigned long long)h.sequence, (unsigned long long)p->next_seq);
            return DV_EDAMAGED;
        }
        p->rec = rec;
        p->off += size;
        p->next_seq++;
        *len = (size_t)size;
        return DV_OK;
    }
}

/*
 * Positions the tailer so the next record returned is `seq`. When check is
 * set, compares our record seq - 1 with the stream's (checksum bytes):
 * DV_EFENCED if they differ or our log does not reach it.
 */
static dv_status tail_seek(dv_publisher *p, uint64_t seq, const uint8_t *check_sum) {
    uint64_t *segs = NULL;
    size_t n = 0;
    dv_status st = dvt_list_seq_files(p->cfg.dir, ".dvs", &segs, &n);
    if (st != DV_OK) return st;
    uint64_t want = check_sum ? seq - 1 : seq, first = 0;
    for (size_t i = 0; i < n; i++)
        if (segs[i] <= want) first = segs[i];
    free(segs);
    if (first == 0) {
        snprintf(p->err, sizeof p->err, "the log no longer holds sequence %llu (the stream's next)",
                 (unsigned long long)want);
        return DV_EGAP;
    }
    st = seg_open(p, first, NULL);
    while (st == DV_OK && p->next_seq < seq) {
        size_t len;
        st = tail_next(p, &len);
        if (st == DV_EEMPTY) {
            snprintf(p->err, sizeof p->err,
                     "the stream holds sequence %llu, beyond this log's end %llu: another primary published",
                     (unsigned long long)(seq - 1), (unsigned long long)(p->next_seq - 1));
            return DV_EFENCED;
        }
        if (st == DV_OK && check_sum && p->next_seq == seq && memcmp(p->rec + 32, check_sum, 8) != 0) {
            snprintf(p->err, sizeof p->err,
                     "the stream's record %llu differs from this log's: another primary published",
                     (unsigned long long)(seq - 1));
            return DV_EFENCED;
        }
    }
    return st;
}

/* ---- open / close -------------------------------------------------------- */

dv_status dv_publisher_open(const dv_publisher_config *cfg, dv_publisher **out) {
    if (!cfg || !out || !cfg->dir || !cfg->nats.servers || !dv_nats_name_valid(cfg->nats.name))
        return DV_EINVAL;
    *out = NULL;
    dv_publisher *p = calloc(1, sizeof *p);
    if (!p) return DV_ENOMEM;
    p->cfg = *cfg;
    p->fd = -1;
    pthread_mutex_init(&p->mu, NULL);
    const char **fields[6] = {&p->cfg.dir,           &p->cfg.nats.servers, &p->cfg.nats.user,
                              &p->cfg.nats.password, &p->cfg.nats.name,    &p->cfg.nats.tls_ca};
    for (int i = 0; i < 6; i++) {
        p->strs[i] = dup_str(*fields[i]);
        *fields[i] = p->strs[i];
    }
    if (!p->cfg.window) p->cfg.window = 256;
    if (!p->cfg.keep_snapshots) p->cfg.keep_snapshots = 2;
    if (p->cfg.replicas <= 0) p->cfg.replicas = 1;
    if (!p->cfg.group_bytes) p->cfg.group_bytes = 64 * 1024;
    if (!p->cfg.zstd_level) p->cfg.zstd_level = 1;
    dvt_names_init(&p->names, p->cfg.nats.name);
    uint64_t *segs = NULL;
    size_t n = 0;
    dv_status st = dvt_list_seq_files(p->cfg.dir, ".dvs", &segs, &n);
    if (st == DV_OK && n == 0) st = DV_ENOTFOUND;
    if (st == DV_OK) st = seg_open(p, segs[0], &p->info);
    free(segs);
    tail_close(p);
    if (st != DV_OK) {
        dv_publisher_close(p);
        return st;
    }
    dvt_hex(p->db_hex, p->info.db_id, DV_STREAM_DB_ID_SIZE);
    *out = p;
    return DV_OK;
}

void dv_publisher_close(dv_publisher *p) {
    if (!p) return;
    dvt_disconnect(&p->conn);
    tail_close(p);
    free(p->buf);
    free(p->grp);
    free(p->zbuf);
    for (int i = 0; i < 6; i++) free(p->strs[i]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

uint64_t dv_publisher_acked(const dv_publisher *p) { return p ? p->acked : 0; }
const char *dv_publisher_last_error(const dv_publisher *p) { return p ? p->err : "no publisher"; }

/* ---- sync with the server -------------------------------------------------- */

static int same_config(const dv_stream_info *a, const dv_stream_info *b) {
    return a->dim == b->dim && a->metric == b->metric && a->M == b->M &&
           a->ef_construction == b->ef_construction && a->seed == b->seed &&
           memcmp(&a->relink_ratio, &b->relink_ratio, sizeof(float)) == 0 && a->mode == b->mode;
}

/* The meta message: ours, or published now; another db id is DV_EFENCED. */
static dv_status sync_meta(dv_publisher *p) {
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        natsStatus s = js_GetLastMsg(&m, p->conn.js, p->names.meta_stream, p->names.meta, NULL, &jerr);
        if (s == NATS_OK) {
            dv_stream_info mi;
            dv_status st = dv_stream_header_decode((const uint8_t *)natsMsg_GetData(m),
                                                   (size_t)natsMsg_GetDataLength(m), &mi, NULL);
            natsMsg_Destroy(m);
            if (st != DV_OK) {
                snprintf(p->err, sizeof p->err, "%s holds no stream header (%s)", p->names.meta,
                         dv_strerror(st));
                return DV_EFENCED;
            }
            if (memcmp(mi.db_id, p->info.db_id, DV_STREAM_DB_ID_SIZE) != 0) {
                char other[2 * DV_STREAM_DB_ID_SIZE + 1];
                dvt_hex(other, mi.db_id, DV_STREAM_DB_ID_SIZE);
                snprintf(p->err, sizeof p->err, "%s belongs to database %s, this directory is %s",
                         p->names.meta, other, p->db_hex);
                return DV_EFENCED;
            }
            if (!same_config(&mi, &p->info)) {
                snprintf(p->err, sizeof p->err, "%s names another config than this directory's",
                         p->names.meta);
                return DV_ECONFIG;
            }
            return DV_OK;
        }
        if (s != NATS_NOT_FOUND) {
            dvt_err(p->err, sizeof p->err, "read meta", s, jerr);
            return DV_ENETWORK;
        }
        uint8_t hdr[DV_STREAM_HEADER_SIZE];
        dv_stream_header_encode(&p->info, hdr, sizeof hdr);
        natsMsg *pm = NULL;
        char id[80];
        snprintf(id, sizeof id, "meta:%s", p->db_hex);
        if (natsMsg_Create(&pm, p->names.meta, NULL, (const char *)hdr, (int)sizeof hdr) != NATS_OK)
            return DV_ENOMEM;
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = id;
        jsPubAck *pa = NULL;
        s = js_PublishMsg(&pa, p->conn.js, pm, &po, &jerr);
        jsPubAck_Destroy(pa);
        natsMsg_Destroy(pm);
        if (s != NATS_OK) {
            dvt_err(p->err, sizeof p->err, "publish meta", s, jerr);
            return DV_ENETWORK;
        }
    }
    return DV_OK;
}

static dv_status sync_stream(dv_publisher *p) {
    const char *subj[1] = {p->names.deltas};
    const char *msubj[1] = {p->names.meta};
    dv_status st =
        dvt_ensure_stream(&p->conn, p->names.stream, subj, 1, 0, 0, p->cfg.replicas, p->err, sizeof p->err);
    if (st == DV_OK)
        st = dvt_ensure_stream(&p->conn, p->names.meta_stream, msubj, 1, 1, 0, p->cfg.replicas, p->err,
                               sizeof p->err);
    if (st == DV_OK) st = dvt_obj_ensure(&p->conn, &p->names, p->cfg.replicas, p->err, sizeof p->err);
    if (st == DV_OK) st = sync_meta(p);
    if (st != DV_OK) return st;
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetLastMsg(&m, p->conn.js, p->names.stream, p->names.deltas, NULL, &jerr);
    if (s == NATS_NOT_FOUND) {
        jsStreamInfo *si = NULL;
        s = js_GetStreamInfo(&si, p->conn.js, p->names.stream, NULL, &jerr);
        if (s != NATS_OK) {
            dvt_err(p->err, sizeof p->err, "stream info", s, jerr);
            return DV_ENETWORK;
        }
        p->stream_last = si->State.LastSeq;
        jsStreamInfo_Destroy(si);
        p->acked = 0;
        uint64_t *segs = NULL;
        size_t n = 0;
        st = dvt_list_seq_files(p->cfg.dir, ".dvs", &segs, &n);
        uint64_t start = (st == DV_OK && n) ? segs[0] : 1;
        free(segs);
        if (st != DV_OK) return st;
        st = tail_seek(p, start, NULL);
    } else if (s == NATS_OK) {
        /* ours: our db id, a run of valid records as named; its last record tells where we are */
        const uint8_t *d = NULL;
        uint8_t *owned = NULL;
        size_t dl = 0;
        const char *id = NULL;
        uint64_t first = 0, last = 0;
        dvt_run run;
        char why[256];
        int ours = dvt_msg_records(m, &d, &dl, &owned, why, sizeof why) == DV_OK &&
                   natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK &&
                   dvt_msg_id_parse(id, p->db_hex, &first, &last) &&
                   dvt_run_walk(d, dl, &run, why, sizeof why) == DV_OK && run.first == first &&
                   run.last == last;
        uint8_t sum[8];
        size_t rl = 0;
        const uint8_t *rec = ours ? dvt_run_find(d, dl, last, &rl) : NULL;
        if (rec) memcpy(sum, rec + 32, 8);
        free(owned);
        p->stream_last = natsMsg_GetSequence(m);
        natsMsg_Destroy(m);
        if (!rec) {
            snprintf(p->err, sizeof p->err,
                     "the stream's last message (stream sequence %llu) is not from database %s",
                     (unsigned long long)p->stream_last, p->db_hex);
            return DV_EFENCED;
        }
        p->acked = last;
        st = tail_seek(p, last + 1, sum);
    } else {
        dvt_err(p->err, sizeof p->err, "read the stream's last record", s, jerr);
        return DV_ENETWORK;
    }
    if (st == DV_OK) p->synced = 1;
    p->chained = 0;
    return st;
}

static int fatal(dv_status st) { return st != DV_OK && st != DV_ENETWORK && st != DV_EEMPTY; }

/* Waits for every in-flight publish; last_id: the id of the last one sent (NULL: none sent). */
static dv_status wait_acks(dv_publisher *p, uint64_t last_seq, uint64_t last_stream, const char *last_id) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = p->conn.timeout_ms;
    natsStatus s = js_PublishAsyncComplete(p->conn.js, &po);
    if (s != NATS_OK) {
        natsMsgList pending = {0};
        if (js_PublishAsyncGetPendingList(&pending, p->conn.js) == NATS_OK) natsMsgList_Destroy(&pending);
        dvt_err(p->err, sizeof p->err, "waiting for acknowledgements", s, 0);
        p->synced = 0;
        return DV_ENETWORK;
    }
    pthread_mutex_lock(&p->mu);
    int failed = p->async_failed;
    jsErrCode code = p->async_code;
    if (failed) snprintf(p->err, sizeof p->err, "publish refused: %s", p->async_text);
    p->async_failed = 0;
    pthread_mutex_unlock(&p->mu);
    if (failed) {
        p->synced = 0; /* re-read the stream: ours after a lost ack, or another primary */
        return code == JSStreamWrongLastSequenceErr || code == JSStreamWrongLastMsgIDErr ? DV_EDUPLICATE
                                                                                         : DV_ENETWORK;
    }
    p->acked = last_seq;
    p->stream_last = last_stream;
    if (last_seq && last_id) {
        memcpy(p->last_id, last_id, sizeof p->last_id);
        p->chained = 1;
    }
    return DV_OK;
}

/* Sends the gathered run as one message after stream sequence *stream_seq (async). */
static dv_status send_run(dv_publisher *p, uint64_t *stream_seq, char prev_id[80]) {
    char id[80];
    dvt_msg_id(id, sizeof id, p->db_hex, p->grp_first, p->grp_last);
    natsMsg *m = NULL;
    size_t zlen = dvt_run_compress(p->grp, p->grp_len, p->cfg.zstd_level, &p->zbuf, &p->zcap);
    natsStatus s = zlen ? natsMsg_Create(&m, p->names.deltas, NULL, (const char *)p->zbuf, (int)zlen)
                        : natsMsg_Create(&m, p->names.deltas, NULL, (const char *)p->grp, (int)p->grp_len);
    if (s == NATS_OK && zlen) s = natsMsgHeader_Set(m, DVT_CODEC_HEADER, "zstd");
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return DV_ENOMEM;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    po.ExpectLastSubjectSeq = *stream_seq; /* 0 (an empty stream) sends no expectation */
    /* Chain each message to the previous one's id: once one is refused, every later one in
     * flight is refused too (the subject sequence alone would let a later one through after
     * another writer's message). The first after a sync goes alone, on the sequence only. */
    if (p->chained) po.ExpectLastMsgId = prev_id;
    s = js_PublishMsgAsync(p->conn.js, &m, &po);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        dvt_err(p->err, sizeof p->err, "publish", s, 0);
        p->synced = 0;
        wait_acks(p, p->acked, p->stream_last, NULL);
        return DV_ENETWORK;
    }
    (*stream_seq)++;
    memcpy(prev_id, id, 80);
    p->grp_len = 0;
    return DV_OK;
}

/* Appends the record the tailer returned to the run being gathered. */
static dv_status gather(dv_publisher *p, size_t len) {
    if (p->grp_len + len > p->grp_cap) {
        size_t cap = p->grp_cap ? p->grp_cap : 64 * 1024;
        while (cap < p->grp_len + len) cap *= 2;
        uint8_t *g = realloc(p->grp, cap);
        if (!g) return DV_ENOMEM;
        p->grp = g;
        p->grp_cap = cap;
    }
    if (!p->grp_len) p->grp_first = p->next_seq - 1;
    p->grp_last = p->next_seq - 1;
    memcpy(p->grp + p->grp_len, p->rec, len);
    p->grp_len += len;
    return DV_OK;
}

static dv_status publish_some(dv_publisher *p, uint64_t *n_pub) {
    uint64_t stream_seq = p->stream_last, sent_last = p->acked;
    uint32_t inflight = 0;
    char prev_id[80];
    memcpy(prev_id, p->last_id, sizeof prev_id);
    p->grp_len = 0;
    for (;;) {
        size_t len = 0;
        dv_status st = tail_next(p, &len);
        if (st != DV_OK && st != DV_EEMPTY) {
            p->synced = 0; /* records gathered but not sent: the next sync seeks the tailer back */
            return st;
        }
        /* the run goes out when the next record would not fit, or nothing more is in the log */
        if (p->grp_len && (st == DV_EEMPTY || p->grp_len + len > p->cfg.group_bytes)) {
            uint64_t first = p->grp_first, last = p->grp_last;
            dv_status ss = send_run(p, &stream_seq, prev_id);
            if (ss != DV_OK) return ss;
            *n_pub += last - first + 1;
            sent_last = last;
            if (++inflight >= 16 * p->cfg.window || !p->chained) {
                ss = wait_acks(p, sent_last, stream_seq, prev_id);
                if (ss != DV_OK) return ss;
                inflight = 0;
            }
        }
        if (st == DV_EEMPTY) break;
        st = gather(p, len);
        if (st != DV_OK) {
            p->synced = 0;
            return st;
        }
    }
    return inflight ? wait_acks(p, sent_last, stream_seq, prev_id) : DV_OK;
}

dv_status dv_publisher_pump(dv_publisher *p, uint64_t *n_published) {
    uint64_t n = 0;
    if (n_published) *n_published = 0;
    if (!p) return DV_EINVAL;
    if (p->sticky) return p->sticky;
    if (p->conn.nc && natsConnection_IsClosed(p->conn.nc)) dvt_disconnect(&p->conn);
    if (!p->conn.nc) {
        dv_status st =
            dvt_connect(&p->conn, &p->cfg.nats, p->cfg.window, on_async_err, p, p->err, sizeof p->err);
        if (st != DV_OK) return st;
        p->synced = 0;
    }
    dv_status st = DV_OK;
    for (int round = 0; round < 3; round++) {
        if (!p->synced) {
            st = sync_stream(p);
            if (st != DV_OK) break;
        }
        st = publish_some(p, &n);
        if (st != DV_EDUPLICATE) break; /* a refusal: sync again, which tells ours from another's */
        st = DV_ENETWORK;
    }
    if (n_published) *n_published = n;
    if (fatal(st)) p->sticky = st;
    return st;
}

/* ---- snapshots ------------------------------------------------------------- */

typedef struct seq_list {
    uint64_t v[64];
    size_t n;
} seq_list;

static void on_obj(void *ctx, const char *name) {
    seq_list *l = ctx;
    uint64_t s = dvt_snap_seq(name);
    if (s && l->n < 64) l->v[l->n++] = s;
}

static int cmp_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

dv_status dv_publisher_put_snapshot(dv_publisher *p, uint64_t *sequence) {
    if (!p) return DV_EINVAL;
    if (p->sticky) return p->sticky;
    dv_status st = dv_publisher_pump(p, NULL); /* connected and synced, log shipped */
    if (st != DV_OK) return st;
    uint64_t *snaps = NULL;
    size_t ns = 0;
    st = dvt_list_seq_files(p->cfg.dir, ".dvp", &snaps, &ns);
    if (st != DV_OK) return st;
    if (ns == 0) {
        free(snaps);
        snprintf(p->err, sizeof p->err, "%s holds no snapshot (checkpoint first)", p->cfg.dir);
        return DV_ENOTFOUND;
    }
    uint64_t seq = snaps[ns - 1];
    free(snaps);
    seq_list have = {{0}, 0};
    st = dvt_obj_list(&p->conn, &p->names, on_obj, &have, p->err, sizeof p->err);
    if (st != DV_OK) return st;
    int present = 0;
    for (size_t i = 0; i < have.n; i++) present |= have.v[i] == seq;
    if (!present) {
        char path[4200], name[32];
        uint8_t *buf = NULL;
        size_t len = 0;
        dvt_seq_file(path, sizeof path, p->cfg.dir, seq, ".dvp");
        st = dvt_read_file(path, &buf, &len);
        dv_snapshot_meta meta;
        if (st == DV_OK) st = dv_snapshot_peek(buf, len, &meta);
        dvt_snap_name(name, seq);
        if (st == DV_OK) st = dvt_obj_put(&p->conn, &p->names, name, buf, len, p->err, sizeof p->err);
        free(buf);
        if (st != DV_OK) return st;
        if (have.n < 64) have.v[have.n++] = seq;
    }
    /* Retention: keep the newest keep_snapshots, and the log from the oldest kept one. */
    qsort(have.v, have.n, sizeof have.v[0], cmp_desc);
    for (size_t i = p->cfg.keep_snapshots; i < have.n; i++) {
        char name[32];
        dvt_snap_name(name, have.v[i]);
        st = dvt_obj_delete(&p->conn, &p->names, name, p->err, sizeof p->err);
        if (st != DV_OK) return st;
    }
    size_t kept = have.n < p->cfg.keep_snapshots ? have.n : p->cfg.keep_snapshots;
    uint64_t oldest = kept ? have.v[kept - 1] : 0;
    if (oldest > p->acked) oldest = p->acked;
    uint64_t keep_from = 0; /* the stream sequence of the message holding record `oldest` */
    if (oldest > 0)
        st = dvt_find_stream_seq(&p->conn, p->names.stream, oldest, &keep_from, p->err, sizeof p->err);
    if (st != DV_OK) return st;
    if (keep_from > 1) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Stream.Purge.Sequence = keep_from; /* keeps stream sequences >= keep_from */
        jsErrCode jerr = 0;
        natsStatus s = js_PurgeStream(p->conn.js, p->names.stream, &jo, &jerr);
        if (s != NATS_OK) {
            dvt_err(p->err, sizeof p->err, "purge the stream", s, jerr);
            return DV_ENETWORK;
        }
    }
    if (sequence) *sequence = seq;
    return DV_OK;
}
