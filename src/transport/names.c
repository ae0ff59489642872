/*
 * names.c -- dv_nats_name_valid(): the one rule for the names the NATS
 * transport puts into subjects, streams and consumers. Its own file
 * because both builds need it: transport.c checks configs with it, the
 * CLI checks --name and --durable with it, and a build without libnats
 * (stub.c) must still answer it, so it depends on nothing of libnats.
 */
#include <string.h>

#include "deltavec.h"

/* Letters, digits, '_' and '-' only: the name becomes a subject token (dv.N.deltas), where '.'
 * separates tokens and '*', '>' are wildcards. At most DVT_NAME_MAX (64) bytes: the transport's
 * fixed name buffers are sized for that. */
int dv_nats_name_valid(const char *name) {
    if (!name) return 0;
    size_t n = strlen(name);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}
