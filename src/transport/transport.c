/*
 * transport.c -- the connection, server-side names, a minimal Object Store
 * and file helpers shared by the publisher (publisher.c) and the follower
 * (follower.c). See transport.h for the names.
 *
 * Object Store layout (as the NATS Object Store defines it, so the NATS
 * clients' object store API reads what we write): bucket B lives in stream
 * OBJ_B with subjects $O.B.C.> (chunks) and $O.B.M.> (one meta message per
 * object, rolled up per subject). An object named X is the chunks published
 * on $O.B.C.<nuid> in order, and a JSON meta on $O.B.M.<base64url(X)> with
 * name, bucket, nuid, size, chunks, mtime and digest "SHA-256=<base64url>".
 * Deleting purges the chunks and rewrites the meta with "deleted":true.
 * Everything read back is untrusted: the JSON fields are bounded, the size
 * and chunk count checked against what arrives, and the digest verified
 * (the snapshot loader then checks the bytes again).
 */
#define _GNU_SOURCE
#include "transport/transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void dvt_names_init(dvt_names *n, const char *name) {
    snprintf(n->stream, sizeof n->stream, "DV_%s", name);
    snprintf(n->deltas, sizeof n->deltas, "dv.%s.deltas", name);
    snprintf(n->meta_stream, sizeof n->meta_stream, "DV_%s_META", name);
    snprintf(n->meta, sizeof n->meta, "dv.%s.meta", name);
    snprintf(n->bucket, sizeof n->bucket, "dv_%s", name);
    snprintf(n->obj_stream, sizeof n->obj_stream, "OBJ_dv_%s", name);
}

void dvt_err(char *err, size_t cap, const char *what, natsStatus s, jsErrCode jerr) {
    if (!err || cap == 0) return;
    const char *last = nats_GetLastError(NULL);
    if (jerr)
        snprintf(err, cap, "%s: %s (JetStream error %d)%s%s", what, natsStatus_GetText(s), (int)jerr,
                 last ? ": " : "", last ? last : "");
    else
        snprintf(err, cap, "%s: %s%s%s", what, natsStatus_GetText(s), last ? ": " : "", last ? last : "");
}

dv_status dvt_connect(dvt_conn *c, const dv_nats_config *cfg, int64_t window, jsPubAckErrHandler on_err,
                      void *err_ctx, char *err, size_t cap) {
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
    if (s == NATS_OK) s = natsOptions_SetURL(o, cfg->servers);
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, c->timeout_ms);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1); /* keep trying; requests fail meanwhile */
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, 100);
    if (s == NATS_OK && cfg->user)
        s = natsOptions_SetUserInfo(o, cfg->user, cfg->password ? cfg->password : "");
    if (s == NATS_OK && cfg->tls_ca) {
        s = natsOptions_SetSecure(o, true);
        if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(o, cfg->tls_ca);
    }
    if (s == NATS_OK) s = natsConnection_Connect(&c->nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK) {
        dvt_err(err, cap, "connect", s, 0);
        c->nc = NULL;
        return DV_ENETWORK;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = c->timeout_ms;
    if (window > 0) {
        jo.PublishAsync.MaxPending = window;
        jo.PublishAsync.ErrHandler = on_err;
        jo.PublishAsync.ErrHandlerClosure = err_ctx;
        jo.PublishAsync.StallWait = c->timeout_ms;
    }
    s = natsConnection_JetStream(&c->js, c->nc, &jo);
    if (s != NATS_OK) {
        dvt_err(err, cap, "jetstream context", s, 0);
        natsConnection_Destroy(c->nc);
        c->nc = NULL;
        return DV_ENETWORK;
    }
    return DV_OK;
}

void dvt_disconnect(dvt_conn *c) {
    if (c->js) jsCtx_Destroy(c->js);
    if (c->nc) {
        natsConnection_Close(c->nc);
        natsConnection_Destroy(c->nc);
    }
    c->js = NULL;
    c->nc = NULL;
}

int dvt_connected(const dvt_conn *c) {
    return c->nc && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
}

dv_status dvt_ensure_stream(dvt_conn *c, const char *name, const char **subjects, int n_subjects,
                            int64_t max_msgs_per_subject, int allow_rollup, int replicas, char *err,
                            size_t cap) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, name, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return DV_OK;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
        dvt_err(err, cap, name, s, jerr);
        return DV_ENETWORK;
    }
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subjects;
    sc.SubjectsLen = n_subjects;
    sc.Storage = js_FileStorage;
    sc.Replicas = replicas > 0 ? replicas : 1;
    if (max_msgs_per_subject > 0) sc.MaxMsgsPerSubject = max_msgs_per_subject;
    sc.AllowRollup = allow_rollup != 0;
    jerr = 0;
    s = js_AddStream(&si, c->js, &sc, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return DV_OK;
    }
    if (jerr == JSStreamNameExistErr) return DV_OK; /* created meanwhile */
    dvt_err(err, cap, name, s, jerr);
    return DV_ENETWORK;
}

/* ---- object store ---------------------------------------------------- */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url(char *out, const uint8_t *in, size_t n) {
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = B64URL[v >> 6 & 63];
        out[o++] = B64URL[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = i + 1 < n ? B64URL[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = 0;
}

static int unb64url(char *out, size_t cap, const char *in) {
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *p = strchr(B64URL, *in);
        if (!p) return -1;
        acc = acc << 6 | (uint32_t)(p - B64URL);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap) return -1;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    out[o] = 0;
    return 0;
}

static void meta_subject(char *out, size_t cap, const dvt_names *n, const char *name) {
    char enc[4 * DVT_NAME_MAX];
    b64url(enc, (const uint8_t *)name, strlen(name));
    snprintf(out, cap, "$O.%s.M.%s", n->bucket, enc);
}

static void digest_of(char out[64], const uint8_t *data, size_t len) {
    uint8_t md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    memcpy(out, "SHA-256=", 8);
    b64url(out + 8, md, 32);
}

dv_status dvt_obj_ensure(dvt_conn *c, const dvt_names *n, int replicas, char *err, size_t cap) {
    char chunks[DVT_SUBJ_MAX], metas[DVT_SUBJ_MAX];
    snprintf(chunks, sizeof chunks, "$O.%s.C.>", n->bucket);
    snprintf(metas, sizeof metas, "$O.%s.M.>", n->bucket);
    const char *subj[2] = {chunks, metas};
    return dvt_ensure_stream(c, n->obj_stream, subj, 2, 0, 1, replicas, err, cap);
}

static dv_status publish_sync(dvt_conn *c, natsMsg *m, char *err, size_t cap, const char *what) {
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_PublishMsg(&pa, c->js, m, NULL, &jerr);
    jsPubAck_Destroy(pa);
    if (s != NATS_OK) {
        dvt_err(err, cap, what, s, jerr);
        return DV_ENETWORK;
    }
    return DV_OK;
}

static dv_status put_meta(dvt_conn *c, const dvt_names *n, const char *name, const char *nuid, size_t size,
                          size_t chunks, const char *digest, int deleted, char *err, size_t cap) {
    char subj[DVT_SUBJ_MAX * 2], json[1024], mtime[40];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(mtime, sizeof mtime, "%Y-%m-%dT%H:%M:%SZ", &tm);
    meta_subject(subj, sizeof subj, n, name);
    int len = snprintf(json, sizeof json,
                       "{\"name\":\"%s\",\"bucket\":\"%s\",\"nuid\":\"%s\",\"size\":%zu,\"mtime\":\"%s\","
                       "\"chunks\":%zu,\"digest\":\"%s\"%s,\"options\":{\"max_chunk_size\":%d}}",
                       name, n->bucket, nuid, size, mtime, chunks, digest, deleted ? ",\"deleted\":true" : "",
                       DVT_CHUNK);
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subj, NULL, json, len);
    if (s == NATS_OK) s = natsMsgHeader_Set(m, "Nats-Rollup", "sub");
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        dvt_err(err, cap, "object meta", s, 0);
        return DV_ENOMEM;
    }
    dv_status st = publish_sync(c, m, err, cap, "object meta");
    natsMsg_Destroy(m);
    return st;
}

/* A unique chunk subject token: 22 random characters of [A-Za-z0-9], as a NATS NUID. */
static int make_nuid(char out[32]) {
    static const char A[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint8_t r[22];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got = read(fd, r, sizeof r);
    close(fd);
    if (got != (ssize_t)sizeof r) return -1;
    for (int i = 0; i < 22; i++) out[i] = A[r[i] % 62];
    out[22] = 0;
    return 0;
}

dv_status dvt_obj_put(dvt_conn *c, const dvt_names *n, const char *name, const uint8_t *data, size_t len,
                      char *err, size_t cap) {
    char nuid[32], subj[DVT_SUBJ_MAX], digest[64];
    if (make_nuid(nuid) != 0) return DV_EIO;
    snprintf(subj, sizeof subj, "$O.%s.C.%s", n->bucket, nuid);
    size_t chunks = 0;
    for (size_t off = 0; off < len; off += DVT_CHUNK, chunks++) {
        size_t k = len - off < DVT_CHUNK ? len - off : DVT_CHUNK;
        natsMsg *m = NULL;
        if (natsMsg_Create(&m, subj, NULL, (const char *)data + off, (int)k) != NATS_OK) return DV_ENOMEM;
        dv_status st = publish_sync(c, m, err, cap, "object chunk");
        natsMsg_Destroy(m);
        if (st != DV_OK) return st;
    }
    digest_of(digest, data, len);
    return put_meta(c, n, name, nuid, len, chunks, digest, 0, err, cap);
}

/* Copies the JSON string value of "key" (no escapes accepted) into out. */
static int json_str(const char *js, size_t jlen, const char *key, char *out, size_t cap) {
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = memmem(js, jlen, pat, strlen(pat));
    if (!p) return -1;
    p += strlen(pat);
    size_t i = 0;
    while (p < js + jlen && *p != '"') {
        if (*p == '\\' || i + 1 >= cap) return -1;
        out[i++] = *p++;
    }
    if (p >= js + jlen) return -1;
    out[i] = 0;
    return 0;
}

static int json_u64(const char *js, size_t jlen, const char *key, uint64_t *v) {
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = memmem(js, jlen, pat, strlen(pat));
    if (!p) return -1;
    p += strlen(pat);
    uint64_t x = 0;
    int digits = 0;
    while (p < js + jlen && *p >= '0' && *p <= '9') {
        if (x > (UINT64_MAX - 9) / 10) return -1;
        x = x * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (!digits) return -1;
    *v = x;
    return 0;
}

typedef struct obj_info {
    char nuid[64];
    char digest[80];
    uint64_t size, chunks;
    int deleted;
} obj_info;

static dv_status get_info(dvt_conn *c, const dvt_names *n, const char *name, obj_info *oi, char *err,
                          size_t cap) {
    char subj[DVT_SUBJ_MAX * 2];
    meta_subject(subj, sizeof subj, n, name);
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetLastMsg(&m, c->js, n->obj_stream, subj, NULL, &jerr);
    if (s == NATS_NOT_FOUND) {
        snprintf(err, cap, "object %s not found in bucket %s", name, n->bucket);
        return DV_ENOTFOUND;
    }
    if (s != NATS_OK) {
        dvt_err(err, cap, "object meta", s, jerr);
        return DV_ENETWORK;
    }
    const char *js = natsMsg_GetData(m);
    size_t jlen = (size_t)natsMsg_GetDataLength(m);
    memset(oi, 0, sizeof *oi);
    oi->deleted = memmem(js, jlen, "\"deleted\":true", 14) != NULL;
    int bad = 0;
    if (!oi->deleted) {
        bad |= json_str(js, jlen, "nuid", oi->nuid, sizeof oi->nuid) != 0 || !dv_nats_name_valid(oi->nuid);
        bad |= json_str(js, jlen, "digest", oi->digest, sizeof oi->digest) != 0;
        bad |= json_u64(js, jlen, "size", &oi->size) != 0 || json_u64(js, jlen, "chunks", &oi->chunks) != 0;
        bad |= oi->size > SIZE_MAX / 2 || oi->chunks > oi->size;
    }
    natsMsg_Destroy(m);
    if (oi->deleted) {
        snprintf(err, cap, "object %s was deleted", name);
        return DV_ENOTFOUND;
    }
    if (bad) {
        snprintf(err, cap, "object %s: unreadable meta", name);
        return DV_ECORRUPT;
    }
    return DV_OK;
}

dv_status dvt_obj_get(dvt_conn *c, const dvt_names *n, const char *name, uint8_t **data, size_t *len,
                      char *err, size_t cap) {
    obj_info oi;
    dv_status st = get_info(c, n, name, &oi, err, cap);
    if (st != DV_OK) return st;
    uint8_t *buf = malloc(oi.size ? oi.size : 1);
    if (!buf) return DV_ENOMEM;
    size_t got = 0;
    st = DV_OK;
    if (oi.chunks > 0) {
        char subj[DVT_SUBJ_MAX];
        snprintf(subj, sizeof subj, "$O.%s.C.%s", n->bucket, oi.nuid);
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = n->obj_stream;
        so.Ordered = true;
        natsSubscription *sub = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_SubscribeSync(&sub, c->js, subj, NULL, &so, &jerr);
        if (s != NATS_OK) {
            dvt_err(err, cap, "object chunks", s, jerr);
            st = DV_ENETWORK;
        }
        for (uint64_t i = 0; st == DV_OK && i < oi.chunks; i++) {
            natsMsg *m = NULL;
            s = natsSubscription_NextMsg(&m, sub, c->timeout_ms);
            if (s != NATS_OK) {
                dvt_err(err, cap, "object chunk", s, 0);
                st = DV_ENETWORK;
                break;
            }
            size_t k = (size_t)natsMsg_GetDataLength(m);
            if (k > oi.size - got) {
                snprintf(err, cap, "object %s: chunks exceed the recorded size %llu", name,
                         (unsigned long long)oi.size);
                st = DV_ECORRUPT;
            } else {
                memcpy(buf + got, natsMsg_GetData(m), k);
                got += k;
            }
            natsMsg_Destroy(m);
        }
        if (sub) {
            natsSubscription_Unsubscribe(sub);
            natsSubscription_Destroy(sub);
        }
    }
    if (st == DV_OK && got != oi.size) {
        snprintf(err, cap, "object %s: %zu bytes, meta says %llu", name, got, (unsigned long long)oi.size);
        st = DV_ETRUNCATED;
    }
    if (st == DV_OK) {
        char d[64];
        digest_of(d, buf, got);
        if (strcmp(d, oi.digest) != 0) {
            snprintf(err, cap, "object %s: digest mismatch", name);
            st = DV_ECHECKSUM;
        }
    }
    if (st != DV_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *len = got;
    return DV_OK;
}

dv_status dvt_obj_list(dvt_conn *c, const dvt_names *n, void (*fn)(void *ctx, const char *name), void *ctx,
                       char *err, size_t cap) {
    char filter[DVT_SUBJ_MAX], prefix[DVT_SUBJ_MAX];
    snprintf(filter, sizeof filter, "$O.%s.M.>", n->bucket);
    int plen = snprintf(prefix, sizeof prefix, "$O.%s.M.", n->bucket);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Info.SubjectsFilter = filter;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, n->obj_stream, &jo, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return DV_OK;
    if (s != NATS_OK) {
        dvt_err(err, cap, "object list", s, jerr);
        return DV_ENETWORK;
    }
    jsStreamStateSubjects *subs = si->State.Subjects;
    for (int i = 0; subs && i < subs->Count; i++) {
        const char *sj = subs->List[i].Subject;
        char name[DVT_NAME_MAX + 8];
        if (strncmp(sj, prefix, (size_t)plen) != 0) continue;
        if (unb64url(name, sizeof name, sj + plen) != 0) continue;
        obj_info oi;
        char e2[64];
        if (get_info(c, n, name, &oi, e2, sizeof e2) == DV_OK) fn(ctx, name);
    }
    jsStreamInfo_Destroy(si);
    return DV_OK;
}

dv_status dvt_obj_delete(dvt_conn *c, const dvt_names *n, const char *name, char *err, size_t cap) {
    obj_info oi;
    dv_status st = get_info(c, n, name, &oi, err, cap);
    if (st != DV_OK) return st == DV_ENOTFOUND ? DV_OK : st;
    char subj[DVT_SUBJ_MAX];
    snprintf(subj, sizeof subj, "$O.%s.C.%s", n->bucket, oi.nuid);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Purge.Subject = subj;
    jsErrCode jerr = 0;
    natsStatus s = js_PurgeStream(c->js, n->obj_stream, &jo, &jerr);
    if (s != NATS_OK) {
        dvt_err(err, cap, "object purge", s, jerr);
        return DV_ENETWORK;
    }
    return put_meta(c, n, name, oi.nuid, 0, 0, "", 1, err, cap);
}

void dvt_snap_name(char out[32], uint64_t seq) { snprintf(out, 32, "snap-%020llu", (unsigned long long)seq); }

uint64_t dvt_snap_seq(const char *name) {
    if (strncmp(name, "snap-", 5) != 0 || strlen(name) != 25) return 0;
    uint64_t v = 0;
    for (const char *p = name + 5; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v;
}

/* ---- files -------------------------------------------------------------- */

dv_status dvt_read_file(const char *path, uint8_t **buf, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? DV_ENOTFOUND : DV_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return DV_EIO;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        close(fd);
        return DV_ENOMEM;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = got;
    return DV_OK;
}

dv_status dvt_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return DV_EIO;
    int r = fsync(fd);
    close(fd);
    return r == 0 ? DV_OK : DV_EIO;
}

dv_status dvt_write_file_atomic(const char *dir, const char *name, const uint8_t *buf, size_t len) {
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno == ENOSPC ? DV_ENOSPC : DV_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            dv_status st = errno == ENOSPC ? DV_ENOSPC : DV_EIO;
            close(fd);
            unlink(tmp);
            return st;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return DV_EIO;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return DV_EIO;
    }
    return dvt_fsync_dir(dir);
}

void dvt_seq_file(char *out, size_t cap, const char *dir, uint64_t seq, const char *ext) {
    snprintf(out, cap, "%s/%020llu%s", dir, (unsigned long long)seq, ext);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

dv_status dvt_list_seq_files(const char *dir, const char *ext, uint64_t **seqs, size_t *n) {
    *seqs = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? DV_ENOTFOUND : DV_EIO;
    size_t cap = 0, cnt = 0, elen = strlen(ext);
    uint64_t *v = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (strlen(nm) != 20 + elen || strcmp(nm + 20, ext) != 0) continue;
        uint64_t x = 0;
        int ok = 1;
        for (int i = 0; i < 20; i++) {
            if (nm[i] < '0' || nm[i] > '9' || x > (UINT64_MAX - 9) / 10) {
                ok = 0;
                break;
            }
            x = x * 10 + (uint64_t)(nm[i] - '0');
        }
        if (!ok) continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                free(v);
                closedir(d);
                return DV_ENOMEM;
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = x;
    }
    closedir(d);
    if (cnt) qsort(v, cnt, sizeof *v, cmp_u64);
    *seqs = v;
    *n = cnt;
    return DV_OK;
}

int64_t dvt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void dvt_hex(char *out, const uint8_t *in, size_t n) {
    static const char H[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = H[in[i] >> 4];
        out[2 * i + 1] = H[in[i] & 15];
    }
    out[2 * n] = 0;
}

int dv_nats_available(void) { return 1; }
