/*
 * logscan.c -- one stream file through dv_stream_reader (logscan.h).
 */
#include "logscan.h"

#include "dbdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64u * 1024u)

typedef struct scan {
    const cli_scan_cb *cb;
    cli_scan_result *res;
    dv_stream_reader *r;
    int stopped;
} scan;

static void problem(scan *s, dv_status st, uint64_t offset, const char *msg) {
    s->res->problems++;
    if (s->cb->problem && s->cb->problem(s->cb->ctx, st, offset, msg)) s->stopped = 1;
}

static void header_once(scan *s) {
    if (s->res->has_info || dv_stream_reader_info(s->r, &s->res->info) != DV_OK) return;
    s->res->has_info = 1;
    if (s->cb->header) s->cb->header(s->cb->ctx, &s->res->info);
}

static void intact_record(scan *s, dv_status st, const dv_stream_record *rec) {
    char line[512];
    dv_status ds = dv_delta_describe(rec->header, rec->payload, rec->payload_len, line, sizeof line);
    if (rec->h.sequence > s->res->last_sequence) s->res->last_sequence = rec->h.sequence;
    if (s->cb->record && s->cb->record(s->cb->ctx, rec, line)) s->stopped = 1;
    if (!s->stopped && st != DV_OK) problem(s, st, rec->offset, dv_stream_reader_message(s->r));
    if (!s->stopped && ds != DV_OK) problem(s, ds, rec->offset, "payload does not decode");
}

/* One answer of the reader. Returns 0 when it wants the next chunk. */
static int one(scan *s, const uint8_t *chunk, size_t got, size_t *pos) {
    size_t used;
    dv_stream_record rec;
    dv_status st = dv_stream_reader_next(s->r, chunk + *pos, got - *pos, &used, &rec);
    *pos += used;
    if (st == DV_EEMPTY) return 0;
    header_once(s);
    if (st == DV_ENOTSTREAM || dv_stream_reader_stopped(s->r)) { /* the framing is lost */
        problem(s, st, rec.offset, dv_stream_reader_message(s->r));
        s->stopped = 1;
    } else if (st == DV_OK || st == DV_EGAP || st == DV_EDUPLICATE) {
        s->res->records++;
        intact_record(s, st, &rec);
    } else if (st == DV_ECHECKSUM) {
        s->res->records++;
        problem(s, st, rec.offset, dv_stream_reader_message(s->r));
    } else { /* DV_ENOMEM */
        problem(s, st, dv_stream_reader_offset(s->r), dv_strerror(st));
        s->stopped = 1;
    }
    return !s->stopped;
}

static void finish(scan *s) {
    uint64_t at = 0;
    header_once(s);
    dv_status st = dv_stream_reader_finish(s->r, &at);
    if (st == DV_EEMPTY)
        problem(s, st, 0, "empty file: not a deltavec stream (a stream has at least its header)");
    else if (st != DV_OK)
        problem(s, st, at, dv_stream_reader_message(s->r));
}

uint64_t cli_scan_file(const char *path, const cli_scan_cb *cb, cli_scan_result *res) {
    memset(res, 0, sizeof *res);
    scan s = {cb, res, NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        res->missing = errno == ENOENT;
        if (res->missing && cb->missing_ok) return 0;
        problem(&s, DV_EIO, 0, strerror(errno));
        return res->problems;
    }
    uint8_t *chunk = malloc(CHUNK);
    if (!chunk || dv_stream_reader_open(NULL, &s.r) != DV_OK) {
        problem(&s, DV_ENOMEM, 0, dv_strerror(DV_ENOMEM));
        free(chunk);
        fclose(f);
        return res->problems;
    }
    while (!s.stopped) {
        size_t got = fread(chunk, 1, CHUNK, f), pos = 0;
        if (got == 0) {
            if (ferror(f))
                problem(&s, DV_EIO, res->bytes, strerror(errno));
            else
                finish(&s);
            break;
        }
        res->bytes += got;
        while (one(&s, chunk, got, &pos)) {
        }
    }
    dv_stream_reader_free(s.r);
    free(chunk);
    fclose(f);
    return res->problems;
}

int cli_log_files_open(const char *cmd, const char *arg, cli_log_files *lf) {
    memset(lf, 0, sizeof *lf);
    lf->arg = arg;
    lf->is_dir = cli_is_dir(arg);
    if (!lf->is_dir) {
        lf->n = 1;
        return 0;
    }
    /* A listing made while a writer checkpoints may miss both the segment
     * renamed in and the ones unlinked (docs/STORAGE.md "Readers"): an
     * empty one is made again before it counts. */
    for (int attempt = 0; attempt < 4 && lf->n == 0; attempt++) {
        free(lf->files);
        lf->files = NULL;
        if (cli_dir_list(arg, ".dvs", &lf->files, &lf->n)) {
            fprintf(stderr, "deltavec %s: %s: %s\n", cmd, arg, strerror(errno));
            return 1;
        }
    }
    if (lf->n == 0) {
        fprintf(stderr, "deltavec %s: %s: no log segments here (not a database directory)\n", cmd, arg);
        return 1;
    }
    return 0;
}

void cli_log_file_path(const cli_log_files *lf, size_t i, char *path, size_t cap, const char **name) {
    if (!lf->is_dir) {
        snprintf(path, cap, "%s", lf->arg);
        const char *slash = strrchr(lf->arg, '/');
        *name = slash ? slash + 1 : lf->arg;
        return;
    }
    snprintf(path, cap, "%s/%s", lf->arg, lf->files[i].name);
    *name = lf->files[i].name;
}

void cli_log_files_free(cli_log_files *lf) {
    free(lf->files);
    lf->files = NULL;
}
