/*
 * snapfile.h -- loading a snapshot file through a dv_io table (src/log/).
 */
#ifndef DV_LOG_SNAPFILE_H
#define DV_LOG_SNAPFILE_H

#include "deltavec.h"

/* dv_snapshot_load_file, with *io_err (may be NULL) set to the errno of a
 * failed open, size or read (0 when the file was read and its bytes were
 * judged): an I/O error is not a bad snapshot. */
dv_status dv_log_snapshot_load(const dv_io *io, const char *path, const dv_allocator *allocator, dv_db **out,
                               dv_snapshot_meta *meta, char *msg, size_t cap, int *io_err);

#endif
