/*
 * store_view.h -- test support: a database directory as another process
 * sees it (a read-only store: no lock, what the files hold now).
 */
#ifndef DV_TEST_STORE_VIEW_H
#define DV_TEST_STORE_VIEW_H

#include "deltavec.h"

/* dir opened read-only; NULL when it cannot be opened (yet). The caller closes it. */
dv_store *test_store_read_only(const char *dir);

#endif
