/*
 * cli_process.c -- test support: commands run as child processes (see cli_process.h).
 */
#define _GNU_SOURCE
#include "support/cli_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Opens path for the child's output (NULL: /dev/null) onto fd; 0 on success. */
static int redirect(const char *path, int fd) {
    int o = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || dup2(o, fd) < 0) return -1;
    close(o);
    return 0;
}

static int set_env(const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return -1;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(eq - assignment), assignment);
    return setenv(name, eq + 1, 1);
}

pid_t test_proc_startv(const char *bin, const test_proc_io *io, const char *first, va_list rest) {
    const char *argv[32] = {bin, first};
    int argc = first ? 2 : 1;
    const char *a;
    while (argc > 1 && argc < 31 && (a = va_arg(rest, const char *)) != NULL) argv[argc++] = a;
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        if (redirect(io->out_file, 1) != 0 || redirect(io->err_file, 2) != 0 || (io->env && set_env(io->env)))
            _exit(127);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

pid_t test_proc_start(const char *bin, const test_proc_io *io, const char *first, ...) {
    va_list ap;
    va_start(ap, first);
    pid_t pid = test_proc_startv(bin, io, first, ap);
    va_end(ap);
    return pid;
}

static int status_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status);
}

int test_proc_wait(pid_t pid, int seconds) {
    int status;
    if (seconds <= 0) return waitpid(pid, &status, 0) == pid ? status_code(status) : -1;
    for (int i = 0; i < seconds * 20; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status_code(status);
        if (r < 0) return -1;
        struct timespec tick = {0, 50 * 1000000L};
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

void test_read_text(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
}

const char *test_path(const char *dir, const char *name) {
    static char p[4][400];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}
