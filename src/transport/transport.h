/*
 * transport.h -- internals shared by the NATS JetStream publisher and
 * follower (src/transport/): the connection, the names of the server-side
 * objects of one database, a minimal Object Store (the layout of the NATS
 * Object Store, so other NATS clients read the same snapshots), and the
 * file helpers both sides use.
 *
 * Names on the server for a database named N (see docs/REPLICATION.md):
 *   DV_N / dv.N.deltas           the records, a run of consecutive ones per
 *                                message (message.c)
 *   DV_N_META / dv.N.meta        the stream header (one message kept)
 *   OBJ_dv_N / $O.dv_N.{C,M}.>   the snapshot bucket dv_N
 *
 * This is an edge module: files, clocks, threads and libnats are allowed
 * here, never in the core.
 */
#ifndef DV_TRANSPORT_H
#define DV_TRANSPORT_H

#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#include "deltavec.h"

#define DVT_NAME_MAX 64 /* the longest name dv_nats_name_valid() accepts (names.c) */
#define DVT_SUBJ_MAX 192
#define DVT_ERR_MAX 512
#define DVT_CHUNK (128 * 1024) /* object store chunk size (the NATS clients' default) */

typedef struct dvt_names {
    char stream[DVT_SUBJ_MAX];      /* DV_N */
    char deltas[DVT_SUBJ_MAX];      /* dv.N.deltas */
    char meta_stream[DVT_SUBJ_MAX]; /* DV_N_META */
    char meta[DVT_SUBJ_MAX];        /* dv.N.meta */
    char bucket[DVT_SUBJ_MAX];      /* dv_N */
    char obj_stream[DVT_SUBJ_MAX];  /* OBJ_dv_N */
} dvt_names;

typedef struct dvt_conn {
    natsConnection *nc;
    jsCtx *js;
    uint32_t timeout_ms;
} dvt_conn;

void dvt_names_init(dvt_names *n, const char *name);
/* Connects (and gets a JetStream context with the given async window; 0: none). */
dv_status dvt_connect(dvt_conn *c, const dv_nats_config *cfg, int64_t window, jsPubAckErrHandler on_err,
                      void *err_ctx, char *err, size_t cap);
void dvt_disconnect(dvt_conn *c);
/* 1 when the connection is up (not reconnecting or closed). */
int dvt_connected(const dvt_conn *c);
/* Formats "what: nats status text (JetStream error code)" into err. */
void dvt_err(char *err, size_t cap, const char *what, natsStatus s, jsErrCode jerr);

/* Creates a stream if missing (file storage). max_msgs_per_subject 0: unlimited. */
dv_status dvt_ensure_stream(dvt_conn *c, const char *name, const char **subjects, int n_subjects,
                            int64_t max_msgs_per_subject, int allow_rollup, int replicas, char *err,
                            size_t cap);

/* Object store: put/get whole objects (chunked), list names, delete. */
dv_status dvt_obj_ensure(dvt_conn *c, const dvt_names *n, int replicas, char *err, size_t cap);
dv_status dvt_obj_put(dvt_conn *c, const dvt_names *n, const char *name, const uint8_t *data, size_t len,
                      char *err, size_t cap);
/* *data is malloc'd (free it). DV_ENOTFOUND when absent or deleted. Digest checked. */
dv_status dvt_obj_get(dvt_conn *c, const dvt_names *n, const char *name, uint8_t **data, size_t *len,
                      char *err, size_t cap);
/* Calls fn for each live object name (not deleted). */
dv_status dvt_obj_list(dvt_conn *c, const dvt_names *n, void (*fn)(void *ctx, const char *name), void *ctx,
                       char *err, size_t cap);
dv_status dvt_obj_delete(dvt_conn *c, const dvt_names *n, const char *name, char *err, size_t cap);

/* "snap-<20 digits>" <-> sequence (0 when not a snapshot name). */
void dvt_snap_name(char out[32], uint64_t seq);
uint64_t dvt_snap_seq(const char *name);

/* ---- messages on dv.N.deltas (message.c) ---- */

#define DVT_CODEC_HEADER "Dv-Codec"     /* "zstd": the data is a zstd frame of the run */
#define DVT_MAX_RUN ((size_t)128 << 20) /* bound on a decompressed run */

/* The records of one message. */
typedef struct dvt_run {
    uint64_t first, last; /* sequences of its first and last record */
    size_t count;
} dvt_run;

/* "<db_hex>:<first>" (one record) or "<db_hex>:<first>-<last>". */
void dvt_msg_id(char *out, size_t cap, const char *db_hex, uint64_t first, uint64_t last);
/* 1 when id has that form (db_hex NULL: any database), with first >= 1 and last >= first. */
int dvt_msg_id_parse(const char *id, const char *db_hex, uint64_t *first, uint64_t *last);
/* A message's run: its data, or its zstd frame decompressed into *owned (free it). */
dv_status dvt_msg_records(natsMsg *m, const uint8_t **data, size_t *len, uint8_t **owned, char *err,
                          size_t cap);
/* zstd frame of a run into *buf (grown as needed) when it saves >= 1/32; its size, else 0 (send it plain). */
size_t dvt_run_compress(const uint8_t *run, size_t len, int level, uint8_t **buf, size_t *cap);
/* Checks a message's data: >= 1 records, each whole and verified (checksum), sequences consecutive. */
dv_status dvt_run_walk(const uint8_t *d, size_t len, dvt_run *run, char *err, size_t cap);
/* The record `seq` of a walked run (NULL if not there). */
const uint8_t *dvt_run_find(const uint8_t *d, size_t len, uint64_t seq, size_t *rec_len);
/* The run a message names (its id, else its first record's sequence); 0 when neither is readable. */
int dvt_msg_run(natsMsg *m, uint64_t *first, uint64_t *last);
/* Stream sequence of the message holding record seq (the first one past it if none; LastSeq + 1 when
 * seq is past the stream's end). Binary search with direct gets: O(log messages) requests. */
dv_status dvt_find_stream_seq(dvt_conn *c, const char *stream, uint64_t seq, uint64_t *stream_seq, char *err,
                              size_t cap);

/* Files. */
dv_status dvt_read_file(const char *path, uint8_t **buf, size_t *len);
/* tmp file, fsync, rename, fsync of the directory. */
dv_status dvt_write_file_atomic(const char *dir, const char *name, const uint8_t *buf, size_t len);
dv_status dvt_fsync_dir(const char *dir);
/* Sorted sequences of the files "<20 digits><ext>" in dir (*seqs malloc'd). */
dv_status dvt_list_seq_files(const char *dir, const char *ext, uint64_t **seqs, size_t *n);
void dvt_seq_file(char *out, size_t cap, const char *dir, uint64_t seq, const char *ext);

int64_t dvt_now_ns(void);
void dvt_hex(char *out, const uint8_t *in, size_t n);

#endif
