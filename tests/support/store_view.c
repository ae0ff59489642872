/*
 * store_view.c -- test support: a database directory opened read-only (see store_view.h).
 */
#include "support/store_view.h"

#include <stddef.h>

dv_store *test_store_read_only(const char *dir) {
    dv_store_config sc;
    dv_store_config_default(&sc);
    sc.read_only = 1;
    dv_store *s = NULL;
    return dv_store_open(dir, &sc, &s, NULL) == DV_OK ? s : NULL;
}
