/*
 * sanitized.h -- TEST_SANITIZED is 1 when the test is built with ASan or
 * TSan (gcc or clang), so a test can pick a smaller workload there: the
 * full size runs in the plain build. TEST_TSAN is 1 under TSan alone, whose
 * cost per memory access is the highest (and whose build is the one run in a
 * loop next to CPU-bound processes, docs/CONCURRENCY.md).
 */
#ifndef DV_TEST_SANITIZED_H
#define DV_TEST_SANITIZED_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif
#if !defined(TEST_SANITIZED) && (defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
#define TEST_SANITIZED 1
#endif
#ifndef TEST_SANITIZED
#define TEST_SANITIZED 0
#endif

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#if !defined(TEST_TSAN) && defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#endif
#ifndef TEST_TSAN
#define TEST_TSAN 0
#endif

#endif
