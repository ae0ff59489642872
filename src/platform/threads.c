/*
 * threads.c -- native thread shims (an "edge" folder: pthreads and libc are
 * allowed here, never in the freestanding core).
 *
 *  - dv_apply_start_threads / dv_apply_stop_threads: one pthread per worker
 *    loop of a parallel applier (the core's dv_apply_worker_run), so C users
 *    get parallel apply in one call. It uses the public worker API, plus
 *    src/apply/host.h for the hooks to put back and a pointer to its table;
 *  - the futex-style wait/wake hooks the core sleeps with, on condition
 *    variables: a word's address hashes to one of WAIT_BUCKETS
 *    mutex+condvar pairs; wait() re-reads the word under the bucket mutex
 *    and wake() broadcasts under it, so a wake between the core's last
 *    check and the sleep cannot be lost;
 *  - dv_thread_yield: sched_yield(), for the reader-writer lock's waiting.
 * A wasm host does the same with Web Workers calling the exported worker
 * loop and memory.atomic.wait32/notify as hooks.
 *
 * Start and stop: start returns once every loop has registered (or one
 * has returned, which is a failed start). A stop request ends exactly the
 * loops registered before it (docs/CONCURRENCY.md, "Stopping and
 * restarting"), so stop issues one request after start saw every loop
 * registered, and joins.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "apply/host.h"
#include "deltavec.h"

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

/* Asks the loops to stop (every started one has registered or returned),
 * joins the first `started` threads and puts the hooks back. Returns the
 * first loop's error, else DV_OK. */
static dv_status join_all(dv_apply *ap, dv_threads *t, uint32_t started) {
    dv_apply_workers_stop(ap);
    dv_status st = DV_OK;
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(t->tid[i], NULL);
        dv_status r = __atomic_load_n(&t->arg[i].result, __ATOMIC_ACQUIRE);
        if (r != DV_OK && st == DV_OK) st = r;
    }
    dv_apply_set_hooks(ap, &t->saved);
    return st;
}

dv_status dv_apply_start_threads(dv_apply *ap) {
    if (!ap) return DV_EINVAL;
    uint32_t n = dv_apply_worker_count(ap);
    if (n == 0) return DV_OK;
    if (dv_apply_host_state(ap) || dv_apply_workers_running(ap)) return DV_ESTATE;
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
    dv_apply_hooks_get(ap, &t->saved);
    dv_apply_hooks h = {hook_wait, hook_wake, dv_thread_yield, t};
    dv_status st = dv_apply_set_hooks(ap, &h);
    if (st != DV_OK) {
        threads_free(t);
        return st;
    }
    uint32_t started = 0;
    int create_err = 0;
    for (; started < n; started++) {
        t->arg[started].ap = ap;
        t->arg[started].index = started;
        t->arg[started].result = DV_OK;
        if ((create_err = pthread_create(&t->tid[started], NULL, thread_main, &t->arg[started])) != 0) break;
    }
    /* Wait until each started loop has registered or returned. A loop that
     * registered returns only on a stop request made after it registered,
     * so none of ours is counted twice, and one that returned failed. */
    uint32_t done;
    for (;;) {
        done = 0;
        for (uint32_t i = 0; i < started; i++)
            done += (uint32_t)__atomic_load_n(&t->arg[i].done, __ATOMIC_ACQUIRE);
        if (dv_apply_workers_running(ap) + done >= started) break;
        sched_yield();
    }
    if (started == n && done == 0) {
        dv_apply_host_state_set(ap, t);
        return DV_OK;
    }
    /* The start failed: report what failed. pthread_create fails for want of
     * resources (EAGAIN: memory or a thread limit); a loop for its queue
     * (DV_ENOMEM) or because it already runs elsewhere (DV_ESTATE); a loop
     * that returned DV_OK was stopped by someone else's
     * dv_apply_workers_stop while starting. */
    st = join_all(ap, t, started);
    threads_free(t);
    if (create_err) return DV_ENOMEM;
    return st != DV_OK ? st : DV_ESTATE;
}

dv_status dv_apply_stop_threads(dv_apply *ap) {
    if (!ap) return DV_EINVAL;
    dv_threads *t = dv_apply_host_state(ap);
    if (!t) return DV_OK;
    dv_status st = join_all(ap, t, t->n);
    threads_free(t);
    dv_apply_host_state_set(ap, NULL);
    return st;
}
