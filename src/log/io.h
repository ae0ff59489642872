/*
 * io.h -- the file I/O seam of the database directory (src/log/).
 *
 * Everything src/log does to files goes through a dv_io table (deltavec.h
 * section 9): the POSIX one in production, and for tests a fault table
 * that forwards to another table and fails its Nth call with a chosen
 * fault, so a test can walk N over every call a scenario makes.
 */
#ifndef DV_LOG_IO_H
#define DV_LOG_IO_H

#include <stdint.h>

#include "deltavec.h"

typedef enum dv_io_fault_kind {
    DV_FAULT_EIO = 1,    /* the call fails with EIO (a write writes nothing) */
    DV_FAULT_ENOSPC = 2, /* the call fails with ENOSPC (a write writes half its bytes first) */
    DV_FAULT_SHORT = 3   /* a write writes half its bytes and reports EIO; other calls fail with EIO */
} dv_io_fault_kind;

typedef struct dv_io_fault {
    dv_io io;          /* the table to hand to the store (its ctx is this struct) */
    const dv_io *base; /* where calls go */
    uint64_t calls;    /* calls made so far (every function counts) */
    uint64_t fail_at;  /* 1-based call number to fail; 0: never */
    uint32_t only;     /* bit (1u << DV_IOCALL_x) of the calls that count and may fail; 0: all */
    dv_io_fault_kind kind;
    int sticky;        /* fail every counted call from fail_at on (a dead disk) */
    uint64_t failures; /* faults injected */
} dv_io_fault;

enum {
    DV_IOCALL_OPEN = 0,
    DV_IOCALL_CLOSE,
    DV_IOCALL_PWRITE,
    DV_IOCALL_PREAD,
    DV_IOCALL_SYNC,
    DV_IOCALL_SIZE,
    DV_IOCALL_TRUNCATE,
    DV_IOCALL_RENAME,
    DV_IOCALL_UNLINK,
    DV_IOCALL_MKDIR,
    DV_IOCALL_LIST,
    DV_IOCALL_LOCK
};

/* A fault table over base (NULL: POSIX) that fails call number fail_at. */
void dv_io_fault_init(dv_io_fault *f, const dv_io *base, uint64_t fail_at, dv_io_fault_kind kind);

/* dv_status for an errno value from a dv_io call. */
dv_status dv_io_status(int err);

#endif
