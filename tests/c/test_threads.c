/* 8 programs polled from 4 threads at once, one of them faulting every 5th
 * poll and being reset: every healthy program must see every one of its polls
 * succeed, in order, with its own state. Usage: test_threads [fixtures-dir] */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define THREADS 4
#define PROGRAMS_PER_THREAD 2
#define ROUNDS 2000

/* The callback stores the counter on the polling thread: each thread can
 * then check the value its own poll produced. */
static __thread int32_t thread_tick = 0;

static int32_t tick(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                    wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)call; (void)nargs; (void)results; (void)nresults;
    thread_tick = args[0].i32;
    return 0;
}

struct worker {
    wasmcell_program *programs[PROGRAMS_PER_THREAD];
    int flaky; /* programs[0] is the flaky one */
    int missed;
    int wrong_values;
    int faults;
};

static void *work(void *arg) {
    struct worker *w = arg;
    for (int round = 1; round <= ROUNDS; round++) {
        for (int i = 0; i < PROGRAMS_PER_THREAD; i++) {
            wasmcell_status status = wasmcell_program_poll(w->programs[i]);
            if (w->flaky && i == 0) {
                if (status == WASMCELL_ERR_TRAP) {
                    w->faults++;
                    if (wasmcell_program_reset(w->programs[i]) != WASMCELL_OK) w->missed++;
                } else if (status != WASMCELL_OK) {
                    w->missed++;
                }
                continue;
            }
            if (status != WASMCELL_OK) {
                w->missed++;
            } else if (thread_tick != 100 + round) {
                w->wrong_values++;
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) fixtures_dir = argv[1];
    wasmcell_runtime *rt = NULL;
    CHECK_STATUS(wasmcell_runtime_new(&rt), WASMCELL_OK);
    CHECK_STATUS(wasmcell_runtime_define(rt, "test", "tick", "(i)", tick, NULL, NULL), WASMCELL_OK);

    struct worker workers[THREADS] = {0};
    for (int t = 0; t < THREADS; t++) {
        workers[t].flaky = (t == 0);
        for (int i = 0; i < PROGRAMS_PER_THREAD; i++) {
            const char *file = (t == 0 && i == 0) ? "flaky.wat" : "counter.wat";
            CHECK_STATUS(load_fixture(rt, file, &workers[t].programs[i]), WASMCELL_OK);
        }
    }
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, work, &workers[t]);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

    for (int t = 0; t < THREADS; t++) {
        CHECK(workers[t].missed == 0);
        CHECK(workers[t].wrong_values == 0);
        for (int i = 0; i < PROGRAMS_PER_THREAD; i++) {
            wasmcell_stats stats;
            CHECK_STATUS(wasmcell_program_stats(workers[t].programs[i], &stats), WASMCELL_OK);
            CHECK(stats.polls == ROUNDS);
            if (!(t == 0 && i == 0)) CHECK(stats.faults == 0);
        }
    }
    CHECK(workers[0].faults == ROUNDS / 5);
    CHECK_STATUS(wasmcell_runtime_free(rt), WASMCELL_OK);
    return check_summary("test_threads");
}
