/*
 * transport_rig.h -- test and bench support for replication through a real
 * nats-server (nats_server.h): a temporary work directory beside a started
 * server, publisher and follower configurations for the server's users, the
 * pump loop that brings a follower to a position, a JetStream connection for
 * the messages a test forges or counts itself, and the xorshift generator
 * the transport workloads draw from.
 *
 * No cmocka here: bench/bench_transport.c uses it too. The tests' assertions
 * over it are in transport_checks.h. Both files are built only into the
 * test_transport_* executables and bench_transport (they need libnats).
 */
#ifndef DV_TEST_TRANSPORT_RIG_H
#define DV_TEST_TRANSPORT_RIG_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "deltavec.h"
#include "support/nats_server.h"

typedef struct transport_rig {
    const char *tag; /* set by the user: the work directory's name starts so */
    const char *db;  /* set by the user: the database name the server's users are made for */
    test_nats srv;
    char work[256]; /* temporary directory for the database directories of a test */
} transport_rig;

/* Makes $TMPDIR/<tag>-XXXXXX (/tmp without TMPDIR) and starts a server for database db; 0 on success. */
int rig_start(transport_rig *r);
/* Stops the server and removes the work directory; 0 on success. */
int rig_stop(transport_rig *r);
/* work/name into out. */
void rig_path(const transport_rig *r, const char *name, char *out, size_t cap);

/* A primary database directory as the transport tests and the bench create it. */
typedef struct rig_primary {
    uint32_t dim;
    uint32_t M, ef_construction; /* 0: the library's defaults */
    dv_stream_mode mode;         /* DV_STREAM_STRUCTURAL (0) or DV_STREAM_LOGICAL */
    uint64_t keep_log_from;      /* dv_store_config.keep_log_from (0: the store's retention) */
    uint64_t segment_bytes;      /* 0: the default */
} rig_primary;

/* Opens (creates) directory dir as cfg says, without fsync: no test crashes the machine. */
dv_status rig_primary_open(const char *dir, const rig_primary *cfg, dv_store **out);

/* Calls each(rec, arg) for every record of the directory's segments in log order. DV_OK when every
 * segment ends cleanly; else the reader's status for the first bad one (DV_EIO: a file cannot be read). */
dv_status rig_each_log_record(const char *dir, void (*each)(const dv_stream_record *rec, void *arg),
                              void *arg);

/* Publishes directory dir to the server's database as user pub; the caller sets any other field. */
void rig_publisher_config(const transport_rig *r, const char *dir, dv_publisher_config *pc);
/* Follows the server's database into replica directory dir as user fol, durable consumer `durable`. */
void rig_follower_config(const transport_rig *r, const char *dir, const char *durable,
                         dv_follower_config *fc);

/*
 * Pumps p (NULL: the follower alone) and f until f holds target, or until 600 follower pumps in a row
 * (100 ms each: about a minute) brought nothing. DV_ENETWORK is waited out (a server restarting); any
 * other failure of either pump is returned at once (their dv_*_last_error say why). DV_OK otherwise:
 * the caller checks dv_follower_position.
 */
dv_status rig_converge(dv_publisher *p, dv_follower *f, uint64_t target);

/* A JetStream context on its own connection (for raw messages and stream figures). */
typedef struct rig_js {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
} rig_js;

/* Connects to the rig's server as user (NULL: no credentials); jo may be NULL. NATS_OK or the failure. */
natsStatus rig_js_connect(const transport_rig *r, const char *user, const char *password, jsOptions *jo,
                          rig_js *c);
void rig_js_close(rig_js *c);
/* As user: one message on the database's deltas subject, with a Nats-Msg-Id and a Dv-Codec header unless
 * NULL. Its stream sequence into *seq and whether JetStream dropped it as a repeated id into *duplicate
 * (NULL: not wanted). NATS_OK or the failure. */
natsStatus rig_publish_raw(const transport_rig *r, const char *user, const char *password, const void *data,
                           int len, const char *msg_id, const char *codec, uint64_t *seq, int *duplicate);
/* As the admin: deletes message seq of the database's deltas stream. */
natsStatus rig_delete_raw(const transport_rig *r, uint64_t seq);

/* xorshift64: the transport workloads' generator (seed != 0). */
uint64_t rig_rand(uint64_t *state);
/* Uniform in [-1, 1) in steps of 1/steps. */
float rig_rand_unit(uint64_t *state, uint32_t steps);

#endif
