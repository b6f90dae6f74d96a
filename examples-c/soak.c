/* Soak: hours of a controller's life in minutes, with nothing allowed to
 * pile up. Phases, each ending with every program unloaded and every
 * runtime freed:
 *
 *   1. load/unload cycles of one program (default 10 000),
 *   2. hot swaps of one program between two versions (default 10 000),
 *   3. runtime new/define/load/poll/free cycles (default 1 000),
 *   4. a 1 kHz control loop over 100 programs for the given time: most
 *      count into their process image, some trap now and then, some run away
 *      (budget), some grow and touch memory until their limit and trap, some
 *      are hot-swapped every 100 ms by another thread; every fault is reset.
 *
 * Resident memory, open file descriptors, threads, memory mappings and the
 * address space reserved are sampled after a warm-up (a short version of
 * every phase) and after each phase, and during the loop; the run fails if
 * any grew beyond its tolerance (every unloaded program must give its
 * memory reservation back), or if any call returned something unexpected.
 *
 * Usage: soak [fixtures-dir] [loop-seconds] [cycles]
 *   loop-seconds  duration of phase 4 (default 180)
 *   cycles        phases 1 and 2 (default 10000; phase 3 runs cycles/10)
 * Environment: SOAK_RSS_TOLERANCE_KIB (default 2048),
 *   SOAK_MAPS_TOLERANCE (default 16), SOAK_VMSIZE_TOLERANCE_MIB (default 256).
 * Exit status 0: flat; 1: something grew or a call failed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasmcell.h"

/* ---- guests ------------------------------------------------------------------------ */

/* A counter with a process image: input "step" (i32), output "count" (i64),
 * retain "total" (i64, layout 1, so it survives swaps between v1 and v2). */
#define IMAGE                                                                            \
    "  (memory (export \"memory\") 1)\n"                                                \
    "  (data (i32.const 0) \"WCIM\" \"\\01\\00\\00\\00\"\n"                             \
    "    \"\\40\\00\\00\\00\" \"\\04\\00\\00\\00\" \"\\60\\00\\00\\00\" \"\\08\\00\\00\\00\"\n" \
    "    \"\\80\\00\\00\\00\" \"\\08\\00\\00\\00\" \"\\01\\00\\00\\00\"\n"                \
    "    \"\\00\\01\\00\\00\" \"\\03\\00\\00\\00\")\n"                                    \
    "  (data (i32.const 256)\n"                                                         \
    "    \"\\00\\02\\00\\00\" \"\\04\\00\\00\\00\" \"\\00\" \"\\05\" \"\\00\\00\" \"\\00\\00\\00\\00\"\n" \
    "    \"\\08\\02\\00\\00\" \"\\05\\00\\00\\00\" \"\\01\" \"\\07\" \"\\00\\00\" \"\\00\\00\\00\\00\"\n" \
    "    \"\\10\\02\\00\\00\" \"\\05\\00\\00\\00\" \"\\02\" \"\\07\" \"\\00\\00\" \"\\00\\00\\00\\00\")\n" \
    "  (data (i32.const 512) \"step\\00\\00\\00\\00count\\00\\00\\00total\")\n"            \
    "  (func (export \"wasmcell_image\") (result i32) (i32.const 0))\n"

static const char COUNTER_V1[] =
    "(module\n"
    "  (import \"soak\" \"tick\" (func $tick (param i32) (result i32)))\n" IMAGE
    "  (func (export \"poll\")\n"
    "    (i64.store (i32.const 96) (i64.add (i64.load (i32.const 96)) (i64.extend_i32_s (i32.load (i32.const 64)))))\n"
    "    (i64.store (i32.const 128) (i64.add (i64.load (i32.const 128)) (i64.const 1)))\n"
    "    (drop (call $tick (i32.wrap_i64 (i64.load (i32.const 128)))))))\n";

static const char COUNTER_V2[] =
    "(module\n"
    "  (import \"soak\" \"tick\" (func $tick (param i32) (result i32)))\n" IMAGE
    "  (func (export \"poll\") (result i32)\n"
    "    (i64.store (i32.const 96) (i64.sub (i64.load (i32.const 96)) (i64.extend_i32_s (i32.load (i32.const 64)))))\n"
    "    (i64.store (i32.const 128) (i64.add (i64.load (i32.const 128)) (i64.const 1)))\n"
    "    (drop (call $tick (i32.const 2)))\n"
    "    (i32.const 0)))\n";

/* Divides by zero every 997th poll. */
static const char FAULTY[] =
    "(module (global $n (mut i32) (i32.const 0))\n"
    "  (func (export \"poll\")\n"
    "    (global.set $n (i32.add (global.get $n) (i32.const 1)))\n"
    "    (drop (i32.div_u (i32.const 1) (i32.rem_u (global.get $n) (i32.const 997))))))";

/* Loops forever every 2003rd poll (the budget stops it). */
static const char RUNAWAY[] =
    "(module (global $n (mut i32) (i32.const 0))\n"
    "  (func (export \"poll\")\n"
    "    (global.set $n (i32.add (global.get $n) (i32.const 1)))\n"
    "    (if (i32.eqz (i32.rem_u (global.get $n) (i32.const 2003))) (then (loop $l (br $l))))))";

/* Grows its memory by a page per poll and touches it; at the limit
 * (memory.grow returns -1) it traps; the reset must give the pages back. */
static const char GROWER[] =
    "(module (memory (export \"memory\") 1)\n"
    "  (func (export \"poll\") (local $page i32)\n"
    "    (local.set $page (memory.grow (i32.const 1)))\n"
    "    (if (i32.eq (local.get $page) (i32.const -1)) (then unreachable))\n"
    "    (i32.store (i32.mul (local.get $page) (i32.const 65536)) (local.get $page))\n"
    "    (i32.store (i32.add (i32.mul (local.get $page) (i32.const 65536)) (i32.const 32768)) (local.get $page))))";

/* ---- helpers ----------------------------------------------------------------------- */

static int failures = 0;
static long ticks = 0;

#define EXPECT_OK(call)                                                                         \
    do {                                                                                        \
        wasmcell_status s_ = (call);                                                            \
        if (s_ != WASMCELL_OK) {                                                                \
            char m_[512] = "";                                                                  \
            wasmcell_last_error(m_, sizeof m_, NULL);                                           \
            fprintf(stderr, "soak: %s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call,      \
                    wasmcell_status_str(s_), m_);                                               \
            if (++failures > 20) exit(1);                                                       \
        }                                                                                       \
    } while (0)

static int32_t tick(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                    wasmcell_val *results, size_t nresults) {
    (void)user_data; (void)call; (void)nargs;
    __atomic_fetch_add(&ticks, 1, __ATOMIC_RELAXED);
    if (nresults == 1) results[0].i32 = args[0].i32;
    return 0;
}

static void quiet_log(void *user_data, const char *program, wasmcell_log_level level, const char *message,
                      size_t len) {
    (void)user_data; (void)program; (void)level; (void)message; (void)len;
}

static wasmcell_runtime *new_runtime(void) {
    wasmcell_runtime *rt = NULL;
    EXPECT_OK(wasmcell_runtime_new(&rt));
    EXPECT_OK(wasmcell_runtime_define(rt, "soak", "tick", "(i)i", tick, NULL, NULL));
    EXPECT_OK(wasmcell_runtime_set_log(rt, quiet_log, NULL));
    return rt;
}

static wasmcell_program *load(wasmcell_runtime *rt, const char *name, const char *wat) {
    wasmcell_program *p = NULL;
    EXPECT_OK(wasmcell_program_load(rt, name, (const uint8_t *)wat, strlen(wat), &p));
    return p;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- process resources ------------------------------------------------------------- */

struct sample {
    long rss_kib, vmsize_kib, fds, threads, maps;
};

static long status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long value = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0) value = strtol(line + n, NULL, 10);
    if (f) fclose(f);
    return value;
}

static long count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    long lines = 0;
    int c;
    while (f && (c = fgetc(f)) != EOF) lines += c == '\n';
    if (f) fclose(f);
    return lines;
}

static long count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    long n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n - 1; /* the directory itself */
}

static struct sample sample_now(void) {
    struct sample s;
    s.rss_kib = status_field("VmRSS:");
    s.vmsize_kib = status_field("VmSize:");
    s.threads = status_field("Threads:");
    s.fds = count_fds();
    s.maps = count_lines("/proc/self/maps");
    return s;
}

static void print_sample(const char *what, double seconds, long ops, struct sample s) {
    printf("  %-34s %7.1f s %9ld   RSS %7.1f MiB   VmSize %9.1f MiB   fds %3ld   threads %3ld   maps %5ld\n", what,
           seconds, ops, s.rss_kib / 1024.0, s.vmsize_kib / 1024.0, s.fds, s.threads, s.maps);
    fflush(stdout);
}

static long env_long(const char *name, long fallback) {
    const char *text = getenv(name);
    return text && *text ? strtol(text, NULL, 10) : fallback;
}

static struct sample baseline;
static long rss_tolerance, maps_tolerance, vmsize_tolerance;

/* Compares a sample taken with nothing loaded against the baseline. A
 * compile helper thread may outlive its compile for a moment: threads and
 * descriptors get up to 3 s to settle before they count. */
static void check_flat(const char *what, struct sample s) {
    for (int i = 0; i < 30 && (s.threads != baseline.threads || s.fds != baseline.fds); i++) {
        struct timespec t = {0, 100 * 1000000L};
        nanosleep(&t, NULL);
        s = sample_now();
    }
    if (s.rss_kib - baseline.rss_kib > rss_tolerance) {
        printf("  FAIL %s: resident memory grew by %.1f MiB (tolerance %.1f MiB)\n", what,
               (s.rss_kib - baseline.rss_kib) / 1024.0, rss_tolerance / 1024.0);
        failures++;
    }
    if (s.fds != baseline.fds) {
        printf("  FAIL %s: %ld open file descriptors, %ld after the warm-up\n", what, s.fds, baseline.fds);
        failures++;
    }
    if (s.threads != baseline.threads) {
        printf("  FAIL %s: %ld threads, %ld after the warm-up\n", what, s.threads, baseline.threads);
        failures++;
    }
    if (s.maps - baseline.maps > maps_tolerance) {
        printf("  FAIL %s: %ld memory mappings, %ld after the warm-up\n", what, s.maps, baseline.maps);
        failures++;
    }
    if (s.vmsize_kib - baseline.vmsize_kib > vmsize_tolerance) {
        printf("  FAIL %s: address space grew by %.1f MiB: unloaded programs kept their reservations?\n", what,
               (s.vmsize_kib - baseline.vmsize_kib) / 1024.0);
        failures++;
    }
}

/* ---- phases -------------------------------------------------------------------------- */

static long phase_load_unload(long cycles) {
    wasmcell_runtime *rt = new_runtime();
    for (long i = 0; i < cycles; i++) {
        wasmcell_program *p = load(rt, "cycle", i % 2 ? COUNTER_V1 : GROWER);
        EXPECT_OK(wasmcell_program_poll(p));
        EXPECT_OK(wasmcell_program_unload(p));
    }
    EXPECT_OK(wasmcell_runtime_free(rt));
    return cycles;
}

static long phase_reloads(long cycles) {
    wasmcell_runtime *rt = new_runtime();
    wasmcell_program *p = load(rt, "swapped", COUNTER_V1);
    for (long i = 0; i < cycles; i++) {
        const char *next = i % 2 ? COUNTER_V1 : COUNTER_V2;
        if (i % 3 == 0) {
            wasmcell_reload *r = NULL;
            EXPECT_OK(wasmcell_program_prepare_reload(p, (const uint8_t *)next, strlen(next), &r));
            if (i % 6 == 0) EXPECT_OK(wasmcell_reload_discard(r));
            else EXPECT_OK(wasmcell_program_commit_reload(p, r));
        } else {
            EXPECT_OK(wasmcell_program_reload(p, (const uint8_t *)next, strlen(next)));
        }
        EXPECT_OK(wasmcell_program_poll(p));
    }
    EXPECT_OK(wasmcell_program_unload(p));
    EXPECT_OK(wasmcell_runtime_free(rt));
    return cycles;
}

static long phase_runtimes(long cycles) {
    for (long i = 0; i < cycles; i++) {
        wasmcell_runtime *rt = new_runtime();
        wasmcell_program *p = load(rt, "in-runtime", i % 2 ? COUNTER_V1 : FAULTY);
        EXPECT_OK(wasmcell_program_poll(p));
        /* Freed with the program still loaded. */
        EXPECT_OK(wasmcell_runtime_free(rt));
    }
    return cycles;
}

#define PROGRAMS 100

struct loop_state {
    wasmcell_program *programs[PROGRAMS];
    const char *kinds[PROGRAMS];
    atomic_int stop;
    long swaps;
};

static void *swapper(void *arg) {
    struct loop_state *st = arg;
    long n = 0;
    while (!atomic_load(&st->stop)) {
        struct timespec t = {0, 100 * 1000000L};
        nanosleep(&t, NULL);
        /* Programs 0 and 1 are swapped between the two counter versions. */
        wasmcell_program *p = st->programs[n % 2];
        const char *next = (n / 2) % 2 ? COUNTER_V1 : COUNTER_V2;
        EXPECT_OK(wasmcell_program_reload(p, (const uint8_t *)next, strlen(next)));
        n++;
    }
    st->swaps = n;
    return NULL;
}

struct loop_figures {
    long cycles, polls, faults, late, max_cycle_us;
    struct sample early, late_sample;
};

static struct loop_figures phase_loop(double seconds) {
    struct loop_figures fig = {0};
    struct loop_state st;
    memset(&st, 0, sizeof st);
    wasmcell_runtime *rt = new_runtime();
    EXPECT_OK(wasmcell_runtime_set_default_memory_limit(rt, 4 << 20));
    for (int i = 0; i < PROGRAMS; i++) {
        const char *wat = COUNTER_V1;
        st.kinds[i] = "counter";
        if (i >= 90 && i < 94) wat = FAULTY, st.kinds[i] = "faulty";
        else if (i >= 94 && i < 97) wat = RUNAWAY, st.kinds[i] = "runaway";
        else if (i >= 97) wat = GROWER, st.kinds[i] = "grower";
        char name[32];
        snprintf(name, sizeof name, "%s-%d", st.kinds[i], i);
        st.programs[i] = load(rt, name, wat);
        if (strcmp(st.kinds[i], "runaway") == 0) EXPECT_OK(wasmcell_program_set_fuel(st.programs[i], 20000));
        if (strcmp(st.kinds[i], "counter") == 0) {
            uint32_t step;
            EXPECT_OK(wasmcell_program_signal_lookup(st.programs[i], "step", &step, NULL, NULL, NULL));
            EXPECT_OK(wasmcell_program_signal_set_i64(st.programs[i], step, 1 + i % 3));
        }
    }
    pthread_t thread;
    pthread_create(&thread, NULL, swapper, &st);
    double start = now_s(), next = start, end = start + seconds;
    int early_taken = 0, late_taken = 0;
    while (now_s() < end) {
        double cycle_start = now_s();
        int growers_reset = 0;
        for (int i = 0; i < PROGRAMS; i++) {
            wasmcell_status s = wasmcell_program_poll(st.programs[i]);
            fig.polls++;
            if (s == WASMCELL_OK) continue;
            int expected = (strcmp(st.kinds[i], "faulty") == 0 && s == WASMCELL_ERR_TRAP) ||
                           (strcmp(st.kinds[i], "runaway") == 0 && s == WASMCELL_ERR_BUDGET) ||
                           (strcmp(st.kinds[i], "grower") == 0 && s == WASMCELL_ERR_TRAP);
            if (!expected) {
                char m[512] = "";
                wasmcell_program_error(st.programs[i], m, sizeof m, NULL);
                fprintf(stderr, "soak: %s polled %s: %s\n", st.kinds[i], wasmcell_status_str(s), m);
                failures++;
            }
            fig.faults++;
            EXPECT_OK(wasmcell_program_reset(st.programs[i]));
            growers_reset |= i == PROGRAMS - 1;
        }
        fig.cycles++;
        long cycle_us = (long)((now_s() - cycle_start) * 1e6);
        if (cycle_us > fig.max_cycle_us) fig.max_cycle_us = cycle_us;
        /* Sampled right after the growers (which start together and trap
         * together) were reset, so their touched pages do not count. */
        if (growers_reset && now_s() - start >= seconds / 5) {
            if (!early_taken) fig.early = sample_now();
            else fig.late_sample = sample_now();
            late_taken = early_taken;
            early_taken = 1;
        }
        next += 0.001;
        double wait = next - now_s();
        if (wait > 0) {
            struct timespec t = {0, (long)(wait * 1e9)};
            nanosleep(&t, NULL);
        } else {
            fig.late++;
            if (wait < -0.05) next = now_s(); /* do not try to catch up after a long stall */
        }
    }
    atomic_store(&st.stop, 1);
    pthread_join(thread, NULL);
    if (!late_taken) fig.late_sample = sample_now();
    if (!early_taken) fig.early = fig.late_sample;
    printf("  1 kHz loop: %ld cycles, %ld polls, %ld faults reset, %ld hot swaps, %ld late cycles, longest cycle %ld us\n",
           fig.cycles, fig.polls, fig.faults, st.swaps, fig.late, fig.max_cycle_us);
    print_sample("loop, 100 programs, at 20 %", 0, 0, fig.early);
    print_sample("loop, 100 programs, at the end", 0, 0, fig.late_sample);
    if (fig.late_sample.rss_kib - fig.early.rss_kib > rss_tolerance) {
        printf("  FAIL loop: resident memory grew by %.1f MiB while polling (tolerance %.1f MiB)\n",
               (fig.late_sample.rss_kib - fig.early.rss_kib) / 1024.0, rss_tolerance / 1024.0);
        failures++;
    }
    if (fig.late_sample.fds != fig.early.fds || fig.late_sample.threads != fig.early.threads ||
        fig.late_sample.maps - fig.early.maps > maps_tolerance) {
        printf("  FAIL loop: descriptors, threads or mappings grew while polling\n");
        failures++;
    }
    for (int i = 0; i < PROGRAMS; i++)
        if (i % 2) EXPECT_OK(wasmcell_program_unload(st.programs[i]));
    EXPECT_OK(wasmcell_runtime_free(rt)); /* unloads the other half */
    return fig;
}

int main(int argc, char **argv) {
    double loop_seconds = argc > 2 ? atof(argv[2]) : 180;
    long cycles = argc > 3 ? atol(argv[3]) : 10000;
    rss_tolerance = env_long("SOAK_RSS_TOLERANCE_KIB", 2048);
    maps_tolerance = env_long("SOAK_MAPS_TOLERANCE", 16);
    vmsize_tolerance = env_long("SOAK_VMSIZE_TOLERANCE_MIB", 256) * 1024;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("soak: wasmcell %s; %ld load/unload cycles, %ld reloads, %ld runtime cycles, %.0f s at 1 kHz over %d "
           "programs\n",
           wasmcell_version(), cycles, cycles, cycles / 10, loop_seconds, PROGRAMS);
    double t0 = now_s();
    print_sample("start", 0, 0, sample_now());

    /* Warm-up: every phase, short; the baseline is taken after it, with
     * nothing loaded (wasmer's lazily created pools and caches exist now). */
    double t = now_s();
    long ops = phase_load_unload(200) + phase_reloads(200) + phase_runtimes(20);
    phase_loop(loop_seconds > 10 ? 3 : 1);
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    baseline = sample_now();
    print_sample("after warm-up (baseline)", now_s() - t, ops, baseline);

    t = now_s();
    ops = phase_load_unload(cycles);
    struct sample s = sample_now();
    print_sample("load/unload cycles", now_s() - t, ops, s);
    check_flat("load/unload cycles", s);

    t = now_s();
    ops = phase_reloads(cycles);
    s = sample_now();
    print_sample("hot swaps of one program", now_s() - t, ops, s);
    check_flat("hot swaps", s);

    t = now_s();
    ops = phase_runtimes(cycles / 10);
    s = sample_now();
    print_sample("runtime new/free cycles", now_s() - t, ops, s);
    check_flat("runtime cycles", s);

    t = now_s();
    struct loop_figures fig = phase_loop(loop_seconds);
    s = sample_now();
    print_sample("after the loop, all unloaded", now_s() - t, fig.polls, s);
    check_flat("1 kHz loop", s);

    printf("soak: %.0f s, %ld host calls, %s\n", now_s() - t0, ticks,
           failures ? "FAILED" : "flat: no growth of memory, descriptors, threads or mappings");
    return failures ? 1 : 0;
}
