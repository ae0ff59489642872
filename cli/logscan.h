/*
 * logscan.h -- reads one stream file (a log segment, or any file of the
 * stream container, docs/FORMAT.md section 10) in 64 KiB chunks through
 * the library's incremental reader, exactly as a tailing consumer would,
 * and reports its header, every record and every problem with its byte
 * offset to callbacks. Used by `dump`, `log dump` and `log verify`.
 *
 * Problems: the file cannot be read, it is empty or not a stream, an
 * unreadable stream or record header (the framing is lost: the scan stops),
 * a checksum mismatch (the record is skipped), a sequence gap or duplicate
 * (the record is still reported), a payload that does not decode, a torn
 * tail (the file ends inside a record).
 */
#ifndef DV_CLI_LOGSCAN_H
#define DV_CLI_LOGSCAN_H

#include <stdint.h>

#include <stddef.h>

#include "deltavec.h"

struct cli_dir_file;

typedef struct cli_scan_cb {
    /* The stream header, once read. */
    void (*header)(void *ctx, const dv_stream_info *info);
    /* A record whose checksum holds; line is dv_delta_describe's. Return non-zero to stop. */
    int (*record)(void *ctx, const dv_stream_record *rec, const char *line);
    /* A problem at a byte offset of the file. Return non-zero to stop. */
    int (*problem)(void *ctx, dv_status st, uint64_t offset, const char *msg);
    void *ctx;
    /* A file that does not exist is not a problem, only res->missing: a segment a reader listed
     * can be removed by the writer's retention before the reader opens it. */
    int missing_ok;
} cli_scan_cb;

typedef struct cli_scan_result {
    uint64_t records;       /* records read (problems included) */
    uint64_t problems;      /* calls to problem */
    uint64_t last_sequence; /* highest sequence among intact records (0: none) */
    uint64_t bytes;         /* bytes read */
    int has_info;
    int missing; /* the file does not exist (ENOENT) */
    dv_stream_info info;
} cli_scan_result;

/* Scans the file at path; returns the number of problems (0: intact). */
uint64_t cli_scan_file(const char *path, const cli_scan_cb *cb, cli_scan_result *res);

/* The stream files `log dump|verify DIR|FILE` reads: a directory's segments in log order, or one file. */
typedef struct cli_log_files {
    const char *arg; /* as given */
    int is_dir;
    struct cli_dir_file *files; /* is_dir: the segments, sorted by first sequence */
    size_t n;
} cli_log_files;

/* 0, or CLI_EXIT_FAIL after printing why (cmd names the command). */
int cli_log_files_open(const char *cmd, const char *arg, cli_log_files *lf);
/* Path and display name of file i. */
void cli_log_file_path(const cli_log_files *lf, size_t i, char *path, size_t cap, const char **name);
void cli_log_files_free(cli_log_files *lf);

#endif
