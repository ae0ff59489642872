/*
 * snapfile.c -- a snapshot file into a db with large reads (see snapfile.h).
 *
 * The db's section loader (dv_db_snapshot_load) asks for byte ranges in
 * order; each is one pread through the dv_io table straight into its
 * destination (the bulk: the db's own array). No mapping: on Linux a
 * read() from the page cache copies at memory speed, where mmap of a large
 * file pays for setting up and tearing down one page-table entry per page.
 */
#include "log/snapfile.h"

#include <string.h>

#include "log/io.h"

typedef struct file_source {
    const dv_io *io;
    int fd;
    int err; /* errno of the first failed read */
} file_source;

static dv_status read_at(void *ctx, uint8_t *dst, size_t len, uint64_t offset) {
    file_source *f = ctx;
    size_t got = 0;
    int e = f->io->pread(f->io->ctx, f->fd, dst, len, offset, &got);
    if (e) {
        f->err = e;
        return dv_io_status(e);
    }
    return got == len ? DV_OK : DV_ETRUNCATED; /* the file shrank since its size was taken */
}

static void put_msg(char *msg, size_t cap, const char *what, int err) {
    if (!cap) return;
    size_t n = strlen(what);
    const char *why = dv_strerror(dv_io_status(err));
    size_t m = strlen(why);
    if (n >= cap) n = cap - 1;
    memcpy(msg, what, n);
    if (m > cap - 1 - n) m = cap - 1 - n;
    memcpy(msg + n, why, m);
    msg[n + m] = 0;
}

dv_status dv_log_snapshot_load(const dv_io *io, const char *path, const dv_allocator *allocator, dv_db **out,
                               dv_snapshot_meta *meta, char *msg, size_t cap, int *io_err) {
    if (io_err) *io_err = 0;
    if (out) *out = NULL;
    if (meta) memset(meta, 0, sizeof *meta);
    if (!path || !out) return DV_EINVAL;
    file_source f = {io ? io : dv_io_posix(), -1, 0};
    int e = f.io->open(f.io->ctx, path, DV_IO_READ, &f.fd);
    uint64_t size = 0;
    if (!e && (e = f.io->size(f.io->ctx, f.fd, &size)) != 0) f.io->close(f.io->ctx, f.fd);
    if (e) {
        if (io_err) *io_err = e;
        put_msg(msg, cap, "opening the snapshot: ", e);
        return dv_io_status(e);
    }
    dv_status st = dv_db_snapshot_load(read_at, &f, size, allocator, out, meta, msg, cap);
    f.io->close(f.io->ctx, f.fd);
    if (io_err) *io_err = f.err;
    return st;
}

dv_status dv_snapshot_load_file(const char *path, const dv_io *io, const dv_allocator *allocator, dv_db **out,
                                dv_snapshot_meta *meta, char *msg, size_t cap) {
    return dv_log_snapshot_load(io, path, allocator, out, meta, msg, cap, NULL);
}
