#include "CKernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define SPIN_PAUSE() _mm_pause()
#else
#define SPIN_PAUSE() ((void)0)
#endif

// A pool of worker threads for GenCore's kernels (Threads.run in Swift).
//
// A training step runs hundreds of parallel regions, many of them tens of microseconds long.
// Dispatch puts its workers to sleep between them, and waking one costs about as much as the
// region itself. These workers spin for a while after each region before they sleep, so the
// next region finds them awake; a region that comes while the pool is busy (from another
// thread of the program) runs on its caller alone.

enum { MAX_WORKERS = 63 };
// How long an idle worker spins before it sleeps.
static const long SPIN_NANOSECONDS = 200 * 1000;

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;       // held by the thread running a region
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int workers = 0;                                         // threads started so far

// Region g is described by slot g % 2; `claim` holds (g << 32 | the next task index). A task is
// taken by moving `claim` from (g, i) to (g, i + 1), so a worker that read an older region's
// claim can never take a task of a newer one, and a slot is rewritten (for region g + 2) only
// after every task of region g has been taken and finished.
typedef struct {
    gen_task_fn fn;
    void *context;
    int tasks;
} region;
static region slots[2];
static _Atomic unsigned long claim = 0;
static _Atomic int finished;                                    // tasks of the current region done
static _Atomic int sleeping;                                    // workers waiting on `wake`

static long nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static unsigned long generation_of(unsigned long c) { return c >> 32; }

/// Takes tasks of region `generation` until none is left or a newer region has begun.
static void work(unsigned long generation) {
    unsigned long c = atomic_load(&claim);
    for (;;) {
        if (generation_of(c) != generation) return;
        const region r = slots[generation % 2];
        unsigned long task = c & 0xFFFFFFFFUL;
        if (task >= (unsigned long)r.tasks) return;
        if (!atomic_compare_exchange_weak(&claim, &c, c + 1)) continue;  // c now holds the current claim
        r.fn(r.context, (int)task);
        atomic_fetch_add_explicit(&finished, 1, memory_order_release);
        c = atomic_load(&claim);
    }
}

static void *worker(void *unused) {
    (void)unused;
    unsigned long seen = generation_of(atomic_load(&claim));
    for (;;) {
        // 1. spin until a new region begins, for a while
        long start = nanoseconds();
        int spins = 0;
        unsigned long now;
        while ((now = generation_of(atomic_load(&claim))) == seen) {
            SPIN_PAUSE();
            if (++spins % 256 == 0 && nanoseconds() - start > SPIN_NANOSECONDS) break;
        }
        // 2. then sleep until one does
        if (now == seen) {
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleeping, 1);
            while ((now = generation_of(atomic_load(&claim))) == seen) pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleeping, 1);
            pthread_mutex_unlock(&sleep_lock);
        }
        seen = now;
        work(seen);
    }
    return NULL;
}

int gen_pool_run(int tasks, gen_task_fn fn, void *context) {
    if (tasks <= 1 || pthread_mutex_trylock(&busy) != 0) return 0;
    // 1. enough workers for the region (they live as long as the process)
    while (workers < tasks - 1 && workers < MAX_WORKERS) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, worker, NULL);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        workers++;
    }
    // 2. publish the region, wake sleepers, and take tasks alongside the workers
    unsigned long generation = generation_of(atomic_load(&claim)) + 1;
    slots[generation % 2] = (region){fn, context, tasks};
    atomic_store(&finished, 0);
    atomic_store(&claim, generation << 32);
    if (atomic_load(&sleeping) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    work(generation);
    // 3. wait for the tasks others took
    while (atomic_load_explicit(&finished, memory_order_acquire) < tasks) SPIN_PAUSE();
    pthread_mutex_unlock(&busy);
    return 1;
}
