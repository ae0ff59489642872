/*
 * io.c -- the POSIX dv_io table and the fault-injecting one (see io.h).
 *
 * POSIX calls retry EINTR and loop over partial writes, so a short count
 * reaches the caller only with an error. The lock is flock(2) on the LOCK
 * file: released by the kernel when the process dies, so a kill -9 never
 * leaves a directory locked.
 */
#define _GNU_SOURCE
#include "log/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int px_open(void *ctx, const char *path, int flags, int *fd) {
    (void)ctx;
    int f = O_CLOEXEC;
    if (flags & DV_IO_DIR)
        f |= O_RDONLY | O_DIRECTORY;
    else
        f |= (flags & DV_IO_WRITE) ? O_RDWR : O_RDONLY;
    if (flags & DV_IO_CREATE) f |= O_CREAT;
    if (flags & DV_IO_EXCL) f |= O_EXCL;
    int r;
    do r = open(path, f, 0644);
    while (r < 0 && errno == EINTR);
    if (r < 0) return errno;
    *fd = r;
    return 0;
}

static int px_close(void *ctx, int fd) {
    (void)ctx;
    return close(fd) == 0 || errno == EINTR ? 0 : errno;
}

static int px_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off, size_t *written) {
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            *written = done;
            return errno;
        }
        if (r == 0) {
            *written = done;
            return EIO;
        }
        done += (size_t)r;
    }
    *written = done;
    return 0;
}

static int px_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off, size_t *got) {
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            *got = done;
            return errno;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

static int px_sync(void *ctx, int fd, int data_only) {
    (void)ctx;
    return (data_only ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : errno;
}

static int px_size(void *ctx, int fd, uint64_t *size) {
    (void)ctx;
    struct stat stt;
    if (fstat(fd, &stt) != 0) return errno;
    *size = (uint64_t)stt.st_size;
    return 0;
}

static int px_truncate(void *ctx, int fd, uint64_t size) {
    (void)ctx;
    int r;
    do r = ftruncate(fd, (off_t)size);
    while (r < 0 && errno == EINTR);
    return r == 0 ? 0 : errno;
}

static int px_rename(void *ctx, const char *from, const char *to) {
    (void)ctx;
    return rename(from, to) == 0 ? 0 : errno;
}

static int px_unlink(void *ctx, const char *path) {
    (void)ctx;
    return unlink(path) == 0 ? 0 : errno;
}

static int px_mkdir(void *ctx, const char *path) {
    (void)ctx;
    return mkdir(path, 0755) == 0 ? 0 : errno;
}

static int px_list(void *ctx, const char *path, int (*fn)(void *, const char *), void *fn_ctx) {
    (void)ctx;
    DIR *d = opendir(path);
    if (!d) return errno;
    int err = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            err = errno;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (fn(fn_ctx, e->d_name)) break;
    }
    closedir(d);
    return err;
}

static int px_lock(void *ctx, int fd) {
    (void)ctx;
    int r;
    do r = flock(fd, LOCK_EX | LOCK_NB);
    while (r < 0 && errno == EINTR);
    return r == 0 ? 0 : errno;
}

static const dv_io POSIX_IO = {px_open,   px_close,  px_pwrite, px_pread, px_sync, px_size, px_truncate,
                               px_rename, px_unlink, px_mkdir,  px_list,  px_lock, NULL};

const dv_io *dv_io_posix(void) { return &POSIX_IO; }

dv_status dv_io_status(int err) {
    if (err == 0) return DV_OK;
    if (err == ENOSPC || err == EDQUOT) return DV_ENOSPC;
    if (err == ENOMEM) return DV_ENOMEM;
    if (err == EWOULDBLOCK) return DV_ELOCKED;
    if (err == ENOENT) return DV_ENOTFOUND;
    return DV_EIO;
}

/* ---- fault table ---------------------------------------------------------------- */

/* Counts the call; returns the errno to inject (0: forward it). */
static int fault_hit(dv_io_fault *f, int call) {
    if (f->only && !(f->only & (1u << call))) return 0;
    f->calls++;
    if (!f->fail_at || f->calls < f->fail_at || (!f->sticky && f->calls != f->fail_at)) return 0;
    f->failures++;
    return f->kind == DV_FAULT_ENOSPC ? ENOSPC : EIO;
}

#define FAULT(f) ((dv_io_fault *)(f))
#define BASE(f) (FAULT(f)->base)

static int ft_open(void *c, const char *path, int flags, int *fd) {
    int e = fault_hit(FAULT(c), DV_IOCALL_OPEN);
    return e ? e : BASE(c)->open(BASE(c)->ctx, path, flags, fd);
}
static int ft_close(void *c, int fd) {
    int e = fault_hit(FAULT(c), DV_IOCALL_CLOSE);
    int r = BASE(c)->close(BASE(c)->ctx, fd); /* the fd is gone either way, as with close(2) */
    return e ? e : r;
}
static int ft_pwrite(void *c, int fd, const void *buf, size_t len, uint64_t off, size_t *written) {
    int e = fault_hit(FAULT(c), DV_IOCALL_PWRITE);
    if (!e) return BASE(c)->pwrite(BASE(c)->ctx, fd, buf, len, off, written);
    *written = 0;
    if (FAULT(c)->kind != DV_FAULT_EIO && len > 1) { /* a torn write: half the bytes land */
        size_t w = 0;
        BASE(c)->pwrite(BASE(c)->ctx, fd, buf, len / 2, off, &w);
        *written = w;
    }
    return e;
}
static int ft_pread(void *c, int fd, void *buf, size_t len, uint64_t off, size_t *got) {
    int e = fault_hit(FAULT(c), DV_IOCALL_PREAD);
    if (e) *got = 0;
    return e ? e : BASE(c)->pread(BASE(c)->ctx, fd, buf, len, off, got);
}
static int ft_sync(void *c, int fd, int data_only) {
    int e = fault_hit(FAULT(c), DV_IOCALL_SYNC);
    return e ? e : BASE(c)->sync(BASE(c)->ctx, fd, data_only);
}
static int ft_size(void *c, int fd, uint64_t *size) {
    int e = fault_hit(FAULT(c), DV_IOCALL_SIZE);
    return e ? e : BASE(c)->size(BASE(c)->ctx, fd, size);
}
static int ft_truncate(void *c, int fd, uint64_t size) {
    int e = fault_hit(FAULT(c), DV_IOCALL_TRUNCATE);
    return e ? e : BASE(c)->truncate(BASE(c)->ctx, fd, size);
}
static int ft_rename(void *c, const char *from, const char *to) {
    int e = fault_hit(FAULT(c), DV_IOCALL_RENAME);
    return e ? e : BASE(c)->rename(BASE(c)->ctx, from, to);
}
static int ft_unlink(void *c, const char *path) {
    int e = fault_hit(FAULT(c), DV_IOCALL_UNLINK);
    return e ? e : BASE(c)->unlink(BASE(c)->ctx, path);
}
static int ft_mkdir(void *c, const char *path) {
    int e = fault_hit(FAULT(c), DV_IOCALL_MKDIR);
    return e ? e : BASE(c)->mkdir(BASE(c)->ctx, path);
}
static int ft_list(void *c, const char *path, int (*fn)(void *, const char *), void *fn_ctx) {
    int e = fault_hit(FAULT(c), DV_IOCALL_LIST);
    return e ? e : BASE(c)->list(BASE(c)->ctx, path, fn, fn_ctx);
}
static int ft_lock(void *c, int fd) {
    int e = fault_hit(FAULT(c), DV_IOCALL_LOCK);
    return e ? e : BASE(c)->lock(BASE(c)->ctx, fd);
}

void dv_io_fault_init(dv_io_fault *f, const dv_io *base, uint64_t fail_at, dv_io_fault_kind kind) {
    memset(f, 0, sizeof *f);
    f->base = base ? base : dv_io_posix();
    f->fail_at = fail_at;
    f->kind = kind;
    f->io = (dv_io){ft_open,   ft_close,  ft_pwrite, ft_pread, ft_sync, ft_size, ft_truncate,
                    ft_rename, ft_unlink, ft_mkdir,  ft_list,  ft_lock, f};
}
