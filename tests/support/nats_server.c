/*
 * nats_server.c -- test support: runs a real nats-server (see nats_server.h).
 */
#define _GNU_SOURCE
#include "support/nats_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef DV_NATS_SERVER
#define DV_NATS_SERVER "nats-server"
#endif

int test_nats_available(void) {
    return access(DV_NATS_SERVER, X_OK) == 0 || system("command -v nats-server >/dev/null 2>&1") == 0;
}

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) != 0) {
        if (s >= 0) close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static int can_connect(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    if (s >= 0) close(s);
    return ok;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int write_config(test_nats *n) {
    char path[512];
    snprintf(path, sizeof path, "%s/nats.conf", n->dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    const char *db = n->db;
    fprintf(f,
            "listen: \"127.0.0.1:%d\"\n"
            "jetstream { store_dir: \"%s/store\" }\n"
            "websocket { listen: \"127.0.0.1:%d\", no_tls: true }\n"
            "authorization {\n"
            "  users: [\n"
            "    { user: adm, password: admpw }\n"
            "    { user: pub, password: pubpw, permissions: {\n"
            "        publish: { allow: [\"dv.%s.>\", \"$O.dv_%s.>\", \"$JS.API.INFO\",\n"
            "          \"$JS.API.STREAM.*.DV_%s\", \"$JS.API.STREAM.*.DV_%s_META\", "
            "\"$JS.API.STREAM.*.OBJ_dv_%s\",\n"
            "          \"$JS.API.STREAM.MSG.GET.DV_%s\", \"$JS.API.STREAM.MSG.GET.DV_%s_META\",\n"
            "          \"$JS.API.STREAM.MSG.GET.OBJ_dv_%s\",\n"
            "          \"$JS.API.CONSUMER.*.OBJ_dv_%s\", \"$JS.API.CONSUMER.*.OBJ_dv_%s.>\",\n"
            "          \"$JS.API.CONSUMER.MSG.NEXT.OBJ_dv_%s.>\", \"$JS.FC.>\"] }\n"
            "        subscribe: { allow: [\"_INBOX.>\"] } } }\n"
            "    { user: fol, password: folpw, permissions: {\n"
            "        publish: { allow: [\"$JS.API.INFO\", \"$JS.API.STREAM.INFO.*\", "
            "\"$JS.API.STREAM.MSG.GET.*\",\n"
            "          \"$JS.API.CONSUMER.>\", \"$JS.ACK.>\", \"$JS.FC.>\"] }\n"
            "        subscribe: { allow: [\"_INBOX.>\"] } } }\n"
            "  ]\n"
            "}\n",
            n->port, n->dir, n->ws_port, db, db, db, db, db, db, db, db, db, db, db);
    return fclose(f);
}

static int spawn(test_nats *n) {
    char conf[512], log[512];
    snprintf(conf, sizeof conf, "%s/nats.conf", n->dir);
    snprintf(log, sizeof log, "%s/server.log", n->dir);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp(DV_NATS_SERVER, "nats-server", "-c", conf, (char *)NULL);
        execlp("nats-server", "nats-server", "-c", conf, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    for (int i = 0; i < 200; i++) { /* up to 10 s */
        if (can_connect(n->port)) {
            sleep_ms(50); /* JetStream ready right after the listener */
            return 0;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            n->pid = 0;
            return -1;
        }
        sleep_ms(50);
    }
    return -1;
}

int test_nats_start(test_nats *n, const char *db) {
    memset(n, 0, sizeof *n);
    snprintf(n->db, sizeof n->db, "%s", db);
    snprintf(n->dir, sizeof n->dir, "/tmp/dv-nats-XXXXXX");
    if (!mkdtemp(n->dir)) return -1;
    n->port = free_port();
    n->ws_port = free_port();
    while (n->ws_port == n->port) n->ws_port = free_port();
    if (n->port < 0 || n->ws_port < 0 || write_config(n) != 0) return -1;
    snprintf(n->url, sizeof n->url, "nats://127.0.0.1:%d", n->port);
    snprintf(n->ws_url, sizeof n->ws_url, "ws://127.0.0.1:%d", n->ws_port);
    return spawn(n);
}

void test_nats_kill(test_nats *n, int hard) {
    if (n->pid <= 0) return;
    kill(n->pid, hard ? SIGKILL : SIGTERM);
    int status;
    waitpid(n->pid, &status, 0);
    n->pid = 0;
}

int test_nats_restart(test_nats *n) {
    test_nats_kill(n, 0);
    return spawn(n);
}

void test_nats_stop(test_nats *n) {
    test_nats_kill(n, 0);
    if (n->dir[0] && strncmp(n->dir, "/tmp/dv-nats-", 13) == 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", n->dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", n->dir);
    }
    n->dir[0] = 0;
}
