/*
 * local_args.c -- the option parser of local_args.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "local_args.h"

#include <stdio.h>
#include <string.h>

static int usage_error(const char *cmd, const char *usage, const char *what, const char *arg) {
    fprintf(stderr, "deltavec %s: %s%s\n%s", cmd, what, arg, usage);
    return 2;
}

/* Digits only, no sign or junk, within [min, max]. */
static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out) {
    uint64_t v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX) return -1;
    }
    if (v < min || v > max) return -1;
    *out = (uint32_t)v;
    return 0;
}

static const local_opt *find(const local_opt *opts, const char *arg, size_t len) {
    for (const local_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, arg, len)) return o;
    return NULL;
}

static int take(const char *cmd, const char *usage, const local_opt *o, const char *value) {
    char what[96];
    if (o->kind == LOCAL_STR) {
        if (!*value) return usage_error(cmd, usage, o->name, ": empty value");
        *(const char **)o->out = value;
    } else if (parse_u32(value, o->min, o->max, (uint32_t *)o->out) != 0) {
        snprintf(what, sizeof what, "%s: expected a number in %u..%u, not ", o->name, o->min, o->max);
        return usage_error(cmd, usage, what, value);
    }
    return 0;
}

int local_parse(const char *cmd, const char *usage, int argc, char **argv, const local_opt *opts,
                const char **pos, size_t min_pos, size_t max_pos) {
    size_t n_pos = 0;
    int options_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (n_pos == max_pos) return usage_error(cmd, usage, "unexpected argument ", a);
            pos[n_pos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            options_done = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return LOCAL_HELP;
        }
        const char *eq = strchr(a, '=');
        const local_opt *o = find(opts, a, eq ? (size_t)(eq - a) : strlen(a));
        if (!o) return usage_error(cmd, usage, "unknown option ", a);
        if (o->kind == LOCAL_FLAG) {
            if (eq) return usage_error(cmd, usage, "takes no value: ", a);
            *(int *)o->out = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) return usage_error(cmd, usage, "needs a value: ", a);
        int rc = take(cmd, usage, o, value);
        if (rc) return rc;
    }
    if (n_pos < min_pos) return usage_error(cmd, usage, "missing arguments", "");
    return 0;
}
