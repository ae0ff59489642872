/*
 * test_transport_cli.c -- `deltavec serve` and `deltavec follow` as
 * processes against a real nats-server (tests/support/nats_server.c):
 * serve publishes a primary directory while `deltavec ingest` writes it
 * from other processes; follow keeps a replica directory in another
 * process; the replica reaches the primary's state hash; both exit 0 on
 * SIGTERM/SIGINT; a restarted follower resumes and converges again; wrong
 * credentials, an unreachable server and bad arguments fail as documented.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "deltavec.h"
#include "support/cli_process.h"
#include "support/store_view.h"
#include "support/transport_checks.h"
#include "support/transport_rig.h"

#define DIM 8
#define DB "clidb"

static transport_rig rig = {.tag = "dv-transport-cli", .db = DB};
static char primary[300], err_text[65536];
static pid_t children[16]; /* started and not yet reaped: killed by teardown when a test fails midway */
static int n_children;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* work/name, in one of 4 rotating buffers (enough for the arguments of one call). */
static const char *path_of(const char *name) { return test_path(rig.work, name); }

/* Starts `deltavec ARGS...` (NULL-terminated) with stdout to /dev/null and stderr to err_file; env: an
 * environment variable for it ("NAME=value", NULL: none). Remembered until reaped. */
static pid_t spawnv(const char *err_file, const char *env, const char *first, va_list rest) {
    const test_proc_io io = {NULL, err_file, env};
    pid_t pid = test_proc_startv(DV_DELTAVEC_BIN, &io, first, rest);
    assert_true(pid > 0);
    if (n_children < 16) children[n_children++] = pid;
    return pid;
}

static pid_t spawn(const char *err_file, const char *env, const char *first, ...) {
    va_list ap;
    va_start(ap, first);
    pid_t pid = spawnv(err_file, env, first, ap);
    va_end(ap);
    return pid;
}

/* Waits up to seconds for pid; its exit status (or 256 + signal); fails when it did not end in time. */
static int wait_exit(pid_t pid, int seconds) {
    int rc = test_proc_wait(pid, seconds);
    for (int i = 0; i < n_children; i++)
        if (children[i] == pid) children[i] = children[--n_children];
    if (rc < 0)
        fail_msg("process %d did not end within %d s", (int)pid,
                 seconds); /* the caller's stderr file says why */
    return rc;
}

static int run_wait(const char *err_file, const char *first, ...) {
    va_list ap;
    va_start(ap, first);
    pid_t pid = spawnv(err_file, NULL, first, ap);
    va_end(ap);
    int rc = wait_exit(pid, 60);
    test_read_text(err_file, err_text, sizeof err_text);
    return rc;
}

static int setup(void **state) {
    (void)state;
    int rc = rig_start(&rig);
    rig_path(&rig, DB, primary, sizeof primary); /* serve's default name: the directory's */
    return rc;
}

static int teardown(void **state) {
    (void)state;
    while (n_children > 0) {
        pid_t pid = children[--n_children];
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return rig_stop(&rig);
}

static void create_primary(void) {
    const rig_primary cfg = {.dim = DIM, .M = 8, .ef_construction = 32};
    dv_store_close(check_primary_open(primary, &cfg));
}

/* A JSONL file of n records "<prefix><i>" with metadata. */
static const char *write_jsonl(const char *name, const char *prefix, int n, uint64_t seed) {
    const char *p = path_of(name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "{\"id\": \"%s%d\", \"vector\": [", prefix, i);
        for (int d = 0; d < DIM; d++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            fprintf(f, "%s%.4f", d ? ", " : "", (double)(seed >> 40) / (double)(1 << 24) - 0.5);
        }
        fprintf(f, "], \"metadata\": {\"part\": \"%s\"}}\n", prefix);
    }
    assert_int_equal(fclose(f), 0);
    return p;
}

static void ingest(const char *file) {
    int rc = run_wait(path_of("ingest.err"), "ingest", primary, file, "--batch", "64", NULL);
    if (rc != 0) fail_msg("ingest %s: %s", file, err_text);
}

/* State hash and sequence of a directory as a read-only opener sees it; 0 when it cannot be opened yet. */
static uint64_t hash_of(const char *dir, size_t *count) {
    dv_store *s = test_store_read_only(dir);
    if (!s) return 0;
    uint64_t h = dv_db_state_hash(dv_store_db(s));
    if (count) *count = dv_db_count(dv_store_db(s));
    dv_store_close(s);
    return h;
}

static void wait_converged(const char *replica) {
    size_t n_primary = 0, n_replica = 0;
    uint64_t want = hash_of(primary, &n_primary), got = 0;
    assert_true(want != 0);
    for (int i = 0; i < 1200 && got != want; i++) {
        got = hash_of(replica, &n_replica);
        if (got != want) sleep_ms(100);
    }
    if (got != want) {
        static char serve_err[8192], follow_err[8192];
        test_read_text(path_of("serve.err"), serve_err, sizeof serve_err);
        test_read_text(path_of("follow.err"), follow_err, sizeof follow_err);
        fail_msg("replica %zu records, primary %zu: hashes differ\nserve: %s\nfollow: %s", n_replica,
                 n_primary, serve_err, follow_err);
    }
}

static pid_t start_serve(const char *err_file) {
    return spawn(err_file, NULL, "serve", primary, "--nats", rig.srv.url, "--user", "pub", "--password",
                 "pubpw", "--poll-ms", "50", NULL);
}

/* The follower's password comes from the environment (kept off the command line). */
static pid_t start_follow(const char *replica, const char *err_file) {
    return spawn(err_file, "DELTAVEC_NATS_PASSWORD=folpw", "follow", replica, "--nats", rig.srv.url, "--name",
                 DB, "--user", "fol", NULL);
}

static void stop(pid_t pid, int sig, const char *err_file, const char *want) {
    assert_int_equal(kill(pid, sig), 0);
    int rc = wait_exit(pid, 30);
    test_read_text(err_file, err_text, sizeof err_text);
    if (rc != 0) fail_msg("exit %d after signal %d: %s", rc, sig, err_text);
    if (!strstr(err_text, want)) fail_msg("stderr lacks \"%s\": %s", want, err_text);
}

static void serve_and_follow_converge(void **state) {
    (void)state;
    create_primary();
    ingest(write_jsonl("a.jsonl", "a", 300, 1));
    char replica[400]; /* path_of's buffers are reused: keep a copy */
    snprintf(replica, sizeof replica, "%s", path_of("replica1"));
    /* the follower starts first: it waits (--wait-s) until serve has published the database */
    pid_t follow = start_follow(replica, path_of("follow.err"));
    sleep_ms(1500);
    pid_t serve = start_serve(path_of("serve.err"));
    /* written while both run, by other processes */
    ingest(write_jsonl("b.jsonl", "b", 200, 2));
    ingest(write_jsonl("c.jsonl", "c", 100, 3));
    wait_converged(replica);
    char want[64];
    snprintf(want, sizeof want, "stopped at sequence %d", 600);
    stop(follow, SIGINT, path_of("follow.err"), want);
    stop(serve, SIGTERM, path_of("serve.err"), "stopped; the stream holds up to sequence 600");

    /* more writes while nothing runs; then both again: the follower resumes from its files */
    ingest(write_jsonl("d.jsonl", "d", 150, 4));
    serve = start_serve(path_of("serve2.err"));
    follow = start_follow(replica, path_of("follow2.err"));
    wait_converged(replica);
    stop(follow, SIGTERM, path_of("follow2.err"), "stopped at sequence 750");
    stop(serve, SIGINT, path_of("serve2.err"), "stopped; the stream holds up to sequence 750");
    size_t n = 0;
    hash_of(replica, &n);
    assert_int_equal(n, 750);
}

static void failures_are_reported(void **state) {
    (void)state;
    char err[400];
    snprintf(err, sizeof err, "%s", path_of("fail.err"));
    /* no credentials: the server refuses the first connection */
    assert_int_equal(run_wait(err, "follow", path_of("r-nocreds"), "--nats", rig.srv.url, "--name", DB,
                              "--wait-s", "2", NULL),
                     1);
    assert_non_null(strstr(err_text, "cannot follow " DB));
    /* the follower's user may read the stream but not publish the record it lacks */
    create_primary();
    ingest(write_jsonl("e.jsonl", "e", 1, 5));
    assert_int_equal(run_wait(err, "serve", primary, "--nats", rig.srv.url, "--user", "fol", "--password",
                              "folpw", "--timeout-ms", "2000", "--wait-s", "2", NULL),
                     1);
    assert_non_null(strstr(err_text, "deltavec serve: "));
    /* nothing listens there */
    assert_int_equal(run_wait(err, "serve", primary, "--nats", "nats://127.0.0.1:1", "--timeout-ms", "500",
                              "--wait-s", "1", NULL),
                     1);
    assert_non_null(strstr(err_text, "cannot publish to nats://127.0.0.1:1 within 1 s"));
    /* usage */
    assert_int_equal(run_wait(err, "serve", primary, NULL), 2);
    assert_non_null(strstr(err_text, "--nats URL is required"));
    assert_int_equal(run_wait(err, "follow", path_of("r"), "--nats", rig.srv.url, "--name", "bad name", NULL),
                     2);
    assert_int_equal(run_wait(err, "serve", primary, "--nats", rig.srv.url, "--window", "0", NULL), 2);
    assert_int_equal(run_wait(err, "follow", "--help", NULL), 0);
    /* a directory that holds no database */
    assert_int_equal(run_wait(err, "serve", path_of("nothing"), "--nats", rig.srv.url, NULL), 1);
}

int main(void) {
    if (!test_nats_available()) {
        printf("nats-server not available: skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serve_and_follow_converge),
        cmocka_unit_test(failures_are_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
