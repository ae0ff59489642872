/*
 * backoff.h -- how a test thread waits for another thread to make progress.
 *
 * A few yields first, then short sleeps: with more runnable threads than
 * cores (CI's 2-core machine, or the TSan loop run next to CPU-bound
 * processes, docs/CONCURRENCY.md) sched_yield() hands the core to a busy
 * neighbour for a whole time slice, while a thread that sleeps is woken
 * ahead of it as soon as its sleep ends.
 */
#ifndef DV_TEST_BACKOFF_H
#define DV_TEST_BACKOFF_H

#include <sched.h>
#include <stdint.h>
#include <time.h>

/* attempt counts the waits since the awaited thing last happened. */
static inline void test_backoff(uint64_t attempt) {
    if (attempt < 16) {
        sched_yield();
        return;
    }
    struct timespec pause = {0, 20000};
    nanosleep(&pause, NULL);
}

#endif
