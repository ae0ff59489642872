/*
 * cli_process.h -- test support: a command (the deltavec CLI) run as a child
 * process with its output in files, waited for with a deadline, and the
 * text it wrote read back; paths under a test's directory for its arguments.
 */
#ifndef DV_TEST_CLI_PROCESS_H
#define DV_TEST_CLI_PROCESS_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct test_proc_io {
    const char *out_file; /* the child's stdout goes to this file, truncated (NULL: /dev/null) */
    const char *err_file; /* its stderr likewise (a terminal's name works too) */
    const char *env;      /* "NAME=value" set in the child alone (NULL: none) */
} test_proc_io;

/* Starts `bin first ...` (arguments NULL-terminated, 30 at most) with io's redirections; its pid, -1 when
 * fork failed. A child that cannot set up or exec exits 127. */
pid_t test_proc_start(const char *bin, const test_proc_io *io, const char *first, ...);
pid_t test_proc_startv(const char *bin, const test_proc_io *io, const char *first, va_list rest);

/* Waits for pid, at most seconds (0: no limit). Its exit status (0..255), or 256 + the signal that ended
 * it; -1 when waiting failed or the time ran out (the child is then killed and reaped). */
int test_proc_wait(pid_t pid, int seconds);

/* The file at path as a NUL-terminated string into buf (empty when it cannot be read). */
void test_read_text(const char *path, char *buf, size_t cap);

/* dir/name in one of 4 rotating buffers: enough for the arguments of one call. */
const char *test_path(const char *dir, const char *name);

#endif
