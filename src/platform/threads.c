/*
 * threads.c -- native thread shims (an "edge" folder: pthreads and libc are
 * allowed here, never in the freestanding core).
 *
 *  - dv_apply_start_threads / dv_apply_stop_threads: one pthread per worker
 *    loop of a parallel applier (the core's dv_apply_worker_run), so C users
 *    get parallel apply in one call;
 *  - the futex-style wait/wake hooks the core sleeps with, on condition
 *    variables: a word's address hashes to one of WAIT_BUCKETS
 *    mutex+condvar pairs; wait() re-reads the word under the bucket mutex
 *    and wake() broadcasts under it, so a wake between the core's last
 *    check and the sleep cannot be lost;
 *  - dv_thread_yield: sched_yield(), for the reader-writer lock's waiting.
 * A wasm host does the same with Web Workers calling the exported worker
 * loop and memory.atomic.wait32/notify as hooks.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "apply/apply_internal.h"

#define WAIT_BUCKETS 16u

typedef struct wait_bucket {
    pthread_mutex_t mu;
    pthread_cond_t cv;
} wait_bucket;

typedef struct thread_arg {
    dv_apply *ap;
    uint32_t index;
    dv_status result; /* written with __atomic stores: the starter polls them */
    int done;
} thread_arg;

typedef struct dv_threads {
    wait_bucket b[WAIT_BUCKETS];
    uint32_t n;
    pthread_t *tid;
    thread_arg *arg;
    dv_apply_hooks saved; /* the config's hooks, put back on stop */
} dv_threads;

void dv_thread_yield(void *ctx) {
    (void)ctx;
    sched_yield();
}

static wait_bucket *bucket(dv_threads *t, const uint32_t *word) {
    uintptr_t a = (uintptr_t)word;
    return &t->b[((a >> 6) ^ (a >> 12)) % WAIT_BUCKETS];
}

static void hook_wait(void *ctx, const uint32_t *word, uint32_t expected) {
    wait_bucket *b = bucket(ctx, word);
    pthread_mutex_lock(&b->mu);
    if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == expected) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void hook_wake(void *ctx, const uint32_t *word) {
    wait_bucket *b = bucket(ctx, word);
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void *thread_main(void *p) {
    thread_arg *a = p;
    __atomic_store_n(&a->result, dv_apply_worker_run(a->ap, a->index), __ATOMIC_RELEASE);
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void threads_free(dv_threads *t) {
    for (uint32_t i = 0; i < WAIT_BUCKETS; i++) {
        pthread_mutex_destroy(&t->b[i].mu);
        pthread_cond_destroy(&t->b[i].cv);
    }
    free(t->tid);
    free(t->arg);
    free(t);
}

/* Stops and joins the first `started` threads, puts the hooks back. */
static dv_status join_all(dv_apply *ap, dv_threads *t, uint32_t started) {
    /* repeated: a loop that registers after a stop request was consumed must be stopped too */
    for (;;) {
        dv_apply_workers_stop(ap);
        uint32_t done = 0;
        for (uint32_t i = 0; i < started; i++)
            done += (uint32_t)__atomic_load_n(&t->arg[i].done, __ATOMIC_ACQUIRE);
        if (done == started) break;
        sched_yield();
    }
    dv_status st = DV_OK;
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(t->tid[i], NULL);
        if (t->arg[i].result != DV_OK && st == DV_OK) st = t->arg[i].result;
    }
    dv_apply_set_hooks(ap, &t->saved);
    return st;
}

dv_status dv_apply_start_threads(dv_apply *ap) {
    if (!ap) return DV_EINVAL;
    uint32_t n = dv_apply_worker_count(ap);
    if (n == 0) return DV_OK;
    if (ap->threads || dv_apply_workers_running(ap)) return DV_ESTATE;
    dv_threads *t = calloc(1, sizeof *t);
    if (!t) return DV_ENOMEM;
    t->tid = calloc(n, sizeof *t->tid);
    t->arg = calloc(n, sizeof *t->arg);
    for (uint32_t i = 0; i < WAIT_BUCKETS; i++) {
        pthread_mutex_init(&t->b[i].mu, NULL);
        pthread_cond_init(&t->b[i].cv, NULL);
    }
    if (!t->tid || !t->arg) {
        threads_free(t);
        return DV_ENOMEM;
    }
    t->n = n;
    t->saved = ap->cfg.hooks;
    dv_apply_hooks h = {hook_wait, hook_wake, dv_thread_yield, t};
    dv_status st = dv_apply_set_hooks(ap, &h);
    if (st != DV_OK) {
        threads_free(t);
        return st;
    }
    uint32_t started = 0;
    for (; started < n; started++) {
        t->arg[started].ap = ap;
        t->arg[started].index = started;
        t->arg[started].result = DV_OK;
        if (pthread_create(&t->tid[started], NULL, thread_main, &t->arg[started]) != 0) break;
    }
    /* wait until every loop runs (or one gave up, e.g. DV_ENOMEM for its queue) */
    while (started == n && dv_apply_workers_running(ap) < n) {
        int failed = 0;
        for (uint32_t i = 0; i < n; i++) failed |= __atomic_load_n(&t->arg[i].done, __ATOMIC_ACQUIRE);
        if (failed) break;
        sched_yield();
    }
    if (started < n || dv_apply_workers_running(ap) < n) {
        st = join_all(ap, t, started);
        threads_free(t);
        return st != DV_OK ? st : DV_ENOMEM;
    }
    ap->threads = t;
    return DV_OK;
}

dv_status dv_apply_stop_threads(dv_apply *ap) {
    if (!ap || !ap->threads) return ap ? DV_OK : DV_EINVAL;
    dv_threads *t = ap->threads;
    dv_status st = join_all(ap, t, t->n);
    threads_free(t);
    ap->threads = NULL;
    return st;
}
