/*
 * nats_server.h -- test support: a real nats-server with JetStream on
 * 127.0.0.1, free ports (TCP and WebSocket), a temporary store directory
 * and a generated config with users:
 *   pub / pubpw   may publish only database <db>'s subjects (and the
 *                 JetStream API calls on its own streams);
 *   fol / folpw   may only read: consumers, acks, message gets;
 *   adm / admpw   everything (tests use it to tamper with a stream);
 *   no credentials: refused.
 * Started by fork/exec, stopped by PID; stop removes only what start made.
 */
#ifndef DV_TEST_NATS_SERVER_H
#define DV_TEST_NATS_SERVER_H

#include <sys/types.h>

typedef struct test_nats {
    pid_t pid;
    int port, ws_port;
    char dir[256];   /* temporary directory: nats.conf, store/, log */
    char url[64];    /* nats://127.0.0.1:port */
    char ws_url[64]; /* ws://127.0.0.1:ws_port */
    char db[64];
} test_nats;

/* 1 when nats-server can be run. */
int test_nats_available(void);
/* Starts a server for database name db; 0 on success (waits until it accepts connections). */
int test_nats_start(test_nats *n, const char *db);
/* Stops the process (SIGKILL when hard, else SIGTERM) and waits for it; keeps the directory. */
void test_nats_kill(test_nats *n, int hard);
/* Starts the process again on the same ports and store directory; 0 on success. */
int test_nats_restart(test_nats *n);
/* Stops the process and removes the directory start created. */
void test_nats_stop(test_nats *n);

#endif
