/*
 * utf8.h -- strict UTF-8 validation for ids and metadata.
 *
 * Ids and metadata travel as C strings inside deltas, so "valid" here means
 * well-formed UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence) AND no NUL byte (a NUL would silently
 * shorten the string on the other side).
 */
#ifndef DV_UTIL_UTF8_H
#define DV_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if s[0..n) is well-formed UTF-8 without NUL bytes, else 0. */
int dv_utf8_valid(const uint8_t *s, size_t n);

#endif
