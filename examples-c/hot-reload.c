/* Online change under load: a 1 kHz control loop polls a program while
 * another thread hot-swaps it between two versions every 100 ms. The
 * program's cycle counter lives in its retain area, so it must go on
 * counting across swaps. Prints missed polls (must be 0) and the poll latency
 * seen by the control thread, including the worst stall caused by a swap.
 * Usage: hot-reload <guest-dir> [seconds] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasmcell.h"

struct report {
    int32_t version;
    int64_t count;
};

static int32_t on_report(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                         wasmcell_val *results, size_t nresults) {
    struct report *r = user_data;
    (void)call; (void)nargs; (void)results; (void)nresults;
    r->version = args[0].i32;
    r->count = args[1].i64;
    return 0;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) { free(buf); buf = NULL; }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

struct swapper {
    wasmcell_program *program;
    unsigned char *versions[2];
    size_t lens[2];
    atomic_int stop;
    int swaps;
    int failures;
    int64_t worst_reload_ns;
};

static void *swap_loop(void *arg) {
    struct swapper *s = arg;
    while (!atomic_load(&s->stop)) {
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
        int next = (s->swaps + 1) % 2;
        int64_t start = now_ns();
        if (wasmcell_program_reload(s->program, s->versions[next], s->lens[next]) != WASMCELL_OK) {
            s->failures++;
        }
        int64_t took = now_ns() - start;
        if (took > s->worst_reload_ns) s->worst_reload_ns = took;
        s->swaps++;
    }
    return NULL;
}

static int compare(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build/guests";
    double seconds = argc > 2 ? atof(argv[2]) : 10.0;
    struct swapper s = {0};
    char path[1024];
    for (int v = 0; v < 2; v++) {
        snprintf(path, sizeof path, "%s/counter_v%d.wat", dir, v + 1);
        s.versions[v] = read_file(path, &s.lens[v]);
        if (!s.versions[v]) {
            fprintf(stderr, "cannot read %s\n", path);
            return 1;
        }
    }
    wasmcell_runtime *rt = NULL;
    struct report report = {0};
    wasmcell_runtime_new(&rt);
    wasmcell_runtime_define(rt, "host", "report", "(iI)", on_report, &report, NULL);
    if (wasmcell_program_load(rt, "counter", s.versions[0], s.lens[0], &s.program) != WASMCELL_OK) {
        char message[512];
        wasmcell_last_error(message, sizeof message, NULL);
        fprintf(stderr, "load failed: %s\n", message);
        return 1;
    }

    long cycles = (long)(seconds * 1000);
    int64_t *latency = malloc(sizeof(int64_t) * (size_t)cycles);
    long missed = 0, overruns = 0, wrong_counts = 0;
    pthread_t thread;
    pthread_create(&thread, NULL, swap_loop, &s);

    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long cycle = 0; cycle < cycles; cycle++) {
        next.tv_nsec += 1000000; /* 1 kHz */
        if (next.tv_nsec >= 1000000000) { next.tv_nsec -= 1000000000; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        int64_t start = now_ns();
        wasmcell_status status = wasmcell_program_poll(s.program);
        latency[cycle] = now_ns() - start;
        if (getenv("HOT_RELOAD_TRACE") && latency[cycle] > 100000)
            fprintf(stderr, "cycle %ld: %lld ns (swaps so far %d)\n", cycle, (long long)latency[cycle], s.swaps);
        if (status != WASMCELL_OK) missed++;
        else if (report.count != cycle + 1) wrong_counts++;
        if (now_ns() - start > 1000000) overruns++;
    }
    atomic_store(&s.stop, 1);
    pthread_join(thread, NULL);

    /* The first poll on a thread pays wasmer's one-time per-thread setup
     * (signal stack, call stack); it is reported apart from the steady state. */
    int64_t first = latency[0];
    latency++;
    cycles--;
    qsort(latency, (size_t)cycles, sizeof *latency, compare);
    printf("hot-reload: %ld polls at 1 kHz over %.0f s, %d hot swaps (%d failed)\n", cycles + 1, seconds, s.swaps,
           s.failures);
    printf("  missed polls: %ld, counter breaks: %ld, polls over 1 ms: %ld\n", missed, wrong_counts, overruns);
    printf("  poll latency on the control thread: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
           latency[cycles / 2] / 1e3, latency[cycles * 99 / 100] / 1e3, latency[cycles * 999 / 1000] / 1e3,
           latency[cycles - 1] / 1e3);
    printf("  first poll on the control thread (one-time per-thread setup): %.1f us\n", first / 1e3);
    printf("  slowest reload call (on the swapping thread, cache hits): %.1f us\n", s.worst_reload_ns / 1e3);
    wasmcell_cache_stats cache;
    wasmcell_runtime_cache_stats(rt, &cache);
    printf("  compiles: %llu, cache hits: %llu; final count %lld (version %d)\n",
           (unsigned long long)cache.compiles, (unsigned long long)cache.memory_hits, (long long)report.count,
           report.version);
    wasmcell_runtime_free(rt);
    free(latency - 1);
    free(s.versions[0]);
    free(s.versions[1]);
    return (missed == 0 && wrong_counts == 0 && s.failures == 0) ? 0 : 1;
}
