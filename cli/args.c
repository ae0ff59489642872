/*
 * args.c -- the strict argument parser (args.h).
 */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "deltavec %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'deltavec help %s')\n", cmd->name);
    return CLI_EXIT_USAGE;
}

int cli_parse_u64(const char *s, uint64_t *out) {
    if (!*s) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

int cli_parse_vector(const char *s, float *out, size_t cap, size_t *n, char *msg, size_t msg_cap) {
    size_t count = 0;
    const char *p = s;
    for (;;) {
        while (is_space(*p)) p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && is_space(end[-1])) end--;
        if (end == start) {
            snprintf(msg, msg_cap, "value %zu is empty", count + 1);
            return -1;
        }
        char buf[64];
        size_t len = (size_t)(end - start);
        if (len >= sizeof buf) {
            snprintf(msg, msg_cap, "value %zu is too long", count + 1);
            return -1;
        }
        memcpy(buf, start, len);
        buf[len] = '\0';
        char *stop;
        errno = 0;
        float v = strtof(buf, &stop);
        if (*stop || stop == buf || !isfinite(v)) {
            snprintf(msg, msg_cap, "value %zu '%s' is not a finite number", count + 1, buf);
            return -1;
        }
        if (count < cap) out[count] = v;
        count++;
        if (!*p) break;
        p++; /* the comma */
    }
    *n = count;
    return 0;
}

static cli_opt *find_opt(cli_opt *opts, const char *name, size_t len) {
    for (cli_opt *o = opts; o->name; o++) {
        if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
        if (o->alias && strlen(o->alias) == len && !strncmp(o->alias, name, len)) return o;
    }
    return NULL;
}

static int list_push(cli_list *l, const char *v, int argc) {
    if (!l->v && !(l->v = malloc((size_t)argc * sizeof *l->v))) return -1;
    l->v[l->n++] = v;
    return 0;
}

static int set_number(const cli_command *cmd, const cli_opt *o, const char *v) {
    uint64_t x;
    if (cli_parse_u64(v, &x) || x < o->min || x > o->max)
        return cli_usage_error(cmd, "%s: '%s' is not a whole number from %llu to %llu", o->name, v,
                               (unsigned long long)o->min, (unsigned long long)o->max);
    if (o->kind == CLI_U64)
        *(uint64_t *)o->out = x;
    else
        *(uint32_t *)o->out = (uint32_t)x;
    return 0;
}

static int set_choice(const cli_command *cmd, const cli_opt *o, const char *v) {
    char all[256] = "";
    for (int i = 0; o->choices[i]; i++) {
        if (!strcmp(o->choices[i], v)) {
            *(int *)o->out = i;
            return 0;
        }
        size_t used = strlen(all);
        snprintf(all + used, sizeof all - used, "%s%s", i ? "|" : "", o->choices[i]);
    }
    return cli_usage_error(cmd, "%s: '%s' is not one of %s", o->name, v, all);
}

static int set_value(const cli_command *cmd, cli_opt *o, const char *v, int argc) {
    if (o->kind != CLI_LIST && o->seen) return cli_usage_error(cmd, "%s given twice", o->name);
    o->seen = 1;
    switch (o->kind) {
    case CLI_FLAG:
        *(int *)o->out = 1;
        return 0;
    case CLI_U64:
    case CLI_U32:
        return set_number(cmd, o, v);
    case CLI_CHOICE:
        return set_choice(cmd, o, v);
    case CLI_STR:
    case CLI_LIST:
        if (!*v) return cli_usage_error(cmd, "%s: empty value", o->name);
        if (o->kind == CLI_STR) {
            *(const char **)o->out = v;
            return 0;
        }
        if (list_push(o->out, v, argc)) {
            fprintf(stderr, "deltavec %s: out of memory\n", cmd->name);
            return CLI_EXIT_FAIL;
        }
        return 0;
    }
    return CLI_EXIT_USAGE;
}

static int is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

/* One option at argv[*i] (which starts with '-'); advances *i past its value. */
static int take_option(const cli_command *cmd, int argc, char **argv, int *i, cli_opt *opts) {
    const char *a = argv[*i], *eq = strchr(a, '=');
    size_t len = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
    cli_opt *o = find_opt(opts, a, len);
    if (!o) return cli_usage_error(cmd, "unknown option '%.*s'", (int)len, a);
    if (o->kind == CLI_FLAG) {
        if (eq && a[1] == '-') return cli_usage_error(cmd, "%s takes no value", o->name);
        return set_value(cmd, o, NULL, argc);
    }
    const char *v;
    if (eq && a[1] == '-') {
        v = eq + 1;
    } else {
        if (*i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", o->name);
        v = argv[++*i];
    }
    return set_value(cmd, o, v, argc);
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_opt *opts, cli_list *pos, size_t min_pos,
              size_t max_pos) {
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (is_help(argv[i])) {
            fputs(cmd->usage, stdout);
            return CLI_HELP_SHOWN;
        }
    }
    int options_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && !strcmp(a, "--")) {
            options_done = 1;
            continue;
        }
        if (!options_done && a[0] == '-' && a[1]) {
            int rc = take_option(cmd, argc, argv, &i, opts);
            if (rc) return rc;
            continue;
        }
        if (pos->n == max_pos) return cli_usage_error(cmd, "unexpected argument '%s'", a);
        if (list_push(pos, a, argc)) {
            fprintf(stderr, "deltavec %s: out of memory\n", cmd->name);
            return CLI_EXIT_FAIL;
        }
    }
    if (pos->n < min_pos) {
        const char *nl = strchr(cmd->usage, '\n');
        int len = nl ? (int)(nl - cmd->usage) : (int)strlen(cmd->usage);
        return cli_usage_error(cmd, "missing argument; %.*s", len, cmd->usage);
    }
    return 0;
}

void cli_args_free(cli_opt *opts, cli_list *pos) {
    for (cli_opt *o = opts; o && o->name; o++) {
        if (o->kind != CLI_LIST) continue;
        cli_list *l = o->out;
        free(l->v);
        l->v = NULL;
        l->n = 0;
    }
    if (pos) {
        free(pos->v);
        pos->v = NULL;
        pos->n = 0;
    }
}

int cli_split_pairs(const cli_command *cmd, const char *opt, const cli_list *l, dv_meta_kv **pairs) {
    *pairs = NULL;
    if (!l->n) return 0;
    size_t bytes = l->n * sizeof **pairs;
    for (size_t i = 0; i < l->n; i++) bytes += strlen(l->v[i]) + 1;
    dv_meta_kv *kv = malloc(bytes);
    if (!kv) {
        fprintf(stderr, "deltavec %s: out of memory\n", cmd->name);
        return CLI_EXIT_FAIL;
    }
    char *text = (char *)(kv + l->n);
    for (size_t i = 0; i < l->n; i++) {
        const char *eq = strchr(l->v[i], '=');
        if (!eq || eq == l->v[i] || !eq[1]) {
            free(kv);
            return cli_usage_error(cmd, "%s: '%s' is not KEY=VALUE (both non-empty)", opt, l->v[i]);
        }
        size_t len = strlen(l->v[i]);
        memcpy(text, l->v[i], len + 1);
        text[eq - l->v[i]] = '\0';
        kv[i].key = text;
        kv[i].value = text + (eq - l->v[i]) + 1;
        text += len + 1;
    }
    *pairs = kv;
    return 0;
}
