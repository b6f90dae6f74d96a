/* Online change of a running machine, the way a controls engineer does it.
 *
 * A conveyor (guest/conveyor.wat) runs at 1 kHz on a control thread:
 * absolute deadlines with clock_nanosleep, inputs written and outputs read
 * through the process image, a watchdog (500 us, sensitivity 3) and safe
 * fault outputs (motor off). Meanwhile the host thread changes its code:
 *
 *   1. conveyor_v2.wat (a speed limit and a new retain signal): prepare it,
 *      print what would happen to the retained state, shadow-run it for 1000
 *      cycles beside the running version on the live inputs, compare its
 *      outputs with the running version's, and commit only if it never
 *      faulted and always agreed. Then print the notice.
 *   2. conveyor_broken.wat (divides by an input that reaches 0): the shadow
 *      run catches the trap, the version is discarded, and the machine never
 *      notices.
 *
 * Exits non-zero on anything unexpected: a missed deadline beyond the
 * tolerance, a fault of the running program, a failed call, the broken
 * version committed or the good one rejected.
 * Usage: online-change <guest-dir> */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasmcell.h"

#define CYCLE_NS 1000000L        /* 1 kHz */
#define SHADOW_CYCLES 1000       /* shadow polls before deciding */
#define WATCHDOG_NS 500000       /* a poll over 500 us is an overrun ... */
#define WATCHDOG_SENSITIVITY 3   /* ... 3 in a row (or one over 1.5 ms) fault the program */
/* Both versions compute the position with the same f64 additions, so the
 * advance per cycle agrees exactly; the tolerance only absorbs rounding in
 * a version that computed it differently (e.g. speed * dt). */
#define POSITION_TOLERANCE 1e-9

/* The conveyor's process image (guest/conveyor.wat). The control loop uses
 * byte offsets, not signal ids: a new version that adds a signal makes the
 * old ids stale, while a version that keeps the I/O layout keeps these
 * offsets (and a shadow run on the same bytes checks that it does). */
#define IN_SPEED 0      /* f64 */
#define IN_ENABLE 8     /* bool */
#define IN_SIZE 16
#define OUT_MOTOR_ON 0  /* bool */
#define OUT_POSITION 8  /* f64 */
#define OUT_PULSES 16   /* u32 */
#define OUT_SIZE 24

struct outputs {
    int motor_on;
    double position;
    uint32_t pulses;
};

static struct outputs decode(const uint8_t raw[OUT_SIZE]) {
    struct outputs o;
    o.motor_on = raw[OUT_MOTOR_ON] != 0;
    memcpy(&o.position, raw + OUT_POSITION, sizeof o.position);
    memcpy(&o.pulses, raw + OUT_PULSES, sizeof o.pulses);
    return o;
}

/* The live command: the speed ramps between 0.2 and 1.8 and back every
 * 0.5 s, and the conveyor stops for 0.2 s every 2 s. */
static double speed_command(long cycle) {
    long phase = cycle % 500;
    return 0.2 + 1.6 * (double)(phase < 250 ? phase : 500 - phase) / 250.0;
}
static int enable_command(long cycle) { return cycle % 2000 < 1800; }

static atomic_int unexpected; /* calls that failed, faults of the running program */

/* Every status is checked: a failure is printed with its message and counted. */
static int check(wasmcell_status status, const char *what) {
    if (status == WASMCELL_OK) return 1;
    char message[512] = "";
    wasmcell_last_error(message, sizeof message, NULL);
    fprintf(stderr, "online-change: %s: %s: %s\n", what, wasmcell_status_str(status), message);
    atomic_fetch_add(&unexpected, 1);
    return 0;
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) { free(buf); buf = NULL; }
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* ---- the control thread ------------------------------------------------ */

/* What the host thread is doing, so that a missed deadline can be blamed. */
enum phase { RUNNING, PREPARING, SHADOW_RUN, COMMITTING, PHASES };
static const char *phase_names[PHASES] = {"running", "preparing", "shadow run", "committing"};

struct plant {
    wasmcell_program *conveyor;
    atomic_long inputs_cycle; /* cycle whose inputs are in the image (set before writing them) */
    atomic_long done_cycle;   /* last cycle whose poll has finished */
    atomic_int stop;
    atomic_int phase;         /* enum phase, set by the host thread */
    sem_t cycle_done;         /* posted after every poll; the host thread waits on it */
    int realtime;             /* the control thread runs SCHED_FIFO */
    /* written by the control thread, read after it is joined */
    long cycles, missed, faults, missed_in[PHASES];
    int64_t max_lateness_ns;
    const char *scheduling;
};

static void *control_loop(void *arg) {
    struct plant *plant = arg;
    /* Real-time priority when allowed (root or CAP_SYS_NICE); otherwise the
     * loop runs time-shared, and the deadline tolerance below covers it. */
    struct sched_param param = {.sched_priority = 50};
    plant->realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
    plant->scheduling = plant->realtime ? "SCHED_FIFO 50" : "SCHED_OTHER: no permission for SCHED_FIFO";

    /* The first poll on a thread pays wasmer's per-thread set-up (~0.6 ms):
     * do it before the first deadline. */
    uint8_t in[IN_SIZE] = {0};
    check(wasmcell_program_write_inputs(plant->conveyor, 0, in, sizeof in), "write_inputs");
    if (!check(wasmcell_program_poll(plant->conveyor), "first poll")) plant->faults++;

    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long cycle = 1; !atomic_load(&plant->stop); cycle++) {
        next.tv_nsec += CYCLE_NS;
        if (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) != 0) {}
        int64_t release = (int64_t)next.tv_sec * 1000000000 + next.tv_nsec;

        /* Inputs for this cycle, then one poll. */
        double speed = speed_command(cycle);
        in[IN_ENABLE] = (uint8_t)enable_command(cycle);
        memcpy(in + IN_SPEED, &speed, sizeof speed);
        atomic_store(&plant->inputs_cycle, cycle);
        if (!check(wasmcell_program_write_inputs(plant->conveyor, 0, in, sizeof in), "write_inputs")) plant->faults++;
        wasmcell_status status = wasmcell_program_poll(plant->conveyor);
        if (status != WASMCELL_OK) {
            /* Never expected here. With WASMCELL_FAULT_OUTPUTS_DEFAULTS the
             * published outputs already say motor off; a real host would
             * raise an alarm. This one counts it, resets and goes on. */
            char message[512] = "";
            wasmcell_program_error(plant->conveyor, message, sizeof message, NULL);
            fprintf(stderr, "online-change: cycle %ld: running program faulted: %s: %s\n", cycle,
                    wasmcell_status_str(status), message);
            plant->faults++;
            check(wasmcell_program_reset(plant->conveyor), "reset");
        }
        atomic_store(&plant->done_cycle, cycle);
        sem_post(&plant->cycle_done); /* never blocks */

        /* The cycle's deadline is the next release: finishing later is a miss. */
        int64_t lateness = now_ns() - release;
        if (lateness > plant->max_lateness_ns) plant->max_lateness_ns = lateness;
        if (lateness > CYCLE_NS) {
            plant->missed++;
            plant->missed_in[atomic_load(&plant->phase)]++;
        }
        plant->cycles = cycle;
    }
    return NULL;
}

/* The shadow polls and the commit take locks the control thread's polls
 * also take (briefly: the input image, the instance at the commit). If the
 * host thread is time-shared, the kernel may preempt it while it holds one,
 * and the real-time control thread then waits for it behind every other
 * process of the machine: priority inversion. So the host thread runs
 * these two steps at real-time priority too, below the control thread, and
 * goes back to time-sharing for the slow, CPU-heavy prepare. */
static void host_priority(int realtime) {
    struct sched_param param = {.sched_priority = realtime ? 40 : 0};
    pthread_setschedparam(pthread_self(), realtime ? SCHED_FIFO : SCHED_OTHER, &param); /* best effort */
}

/* Waits (on the host thread) until a control cycle after `after` has
 * finished its poll, and returns its number. */
static long next_cycle(struct plant *plant, long after) {
    long cycle;
    while ((cycle = atomic_load(&plant->done_cycle)) <= after) sem_wait(&plant->cycle_done);
    return cycle;
}

/* ---- the host thread: one online change --------------------------------- */

/* Prepares `path` as the conveyor's next version, shadow-runs it and
 * commits it only if it never faulted and its outputs agreed with the
 * running version's. Returns 1 if committed, 0 if rejected. */
static int online_change(struct plant *plant, const char *path) {
    wasmcell_program *conveyor = plant->conveyor;
    size_t len = 0;
    unsigned char *bytes = read_file(path, &len);
    if (!bytes) {
        fprintf(stderr, "online-change: cannot read %s\n", path);
        atomic_fetch_add(&unexpected, 1);
        return 0;
    }
    printf("\n== online change to %s\n", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);

    /* 1. Prepare: compile, link, instantiate. The running version keeps
     *    polling; a version that does not compile or link stops here. */
    wasmcell_stats before = {0};
    check(wasmcell_program_stats(conveyor, &before), "program_stats");
    wasmcell_reload *reload = NULL;
    atomic_store(&plant->phase, PREPARING);
    int64_t start = now_ns();
    wasmcell_status status = wasmcell_program_prepare_reload(conveyor, bytes, len, &reload);
    atomic_store(&plant->phase, RUNNING);
    free(bytes);
    if (!check(status, "prepare_reload")) return 0;
    printf("prepared in %.1f ms while the conveyor kept running\n", (now_ns() - start) / 1e6);

    /* 2. What would happen to the retained state. */
    size_t kept = 0, added = 0, dropped = 0, retyped = 0;
    char report[2048] = "";
    check(wasmcell_reload_retain_summary(reload, &kept, &added, &dropped, &retyped), "reload_retain_summary");
    check(wasmcell_reload_report(reload, report, sizeof report, NULL), "reload_report");
    printf("retain: %zu kept, %zu added, %zu dropped, %zu retyped\n", kept, added, dropped, retyped);
    for (char *line = strtok(report, "\n"); line; line = strtok(NULL, "\n")) printf("  %s\n", line);

    /* 3. Shadow run: one shadow poll per control cycle, right after the
     *    running version's poll, on the same inputs. Positions and pulses
     *    accumulate in the output area, which the shadow starts afresh, so
     *    what is compared is motor_on and the advance of position and pulses
     *    over one cycle. A sample counts only if the control thread did not
     *    start its next cycle (new inputs) before the shadow poll finished. */
    long cycle = atomic_load(&plant->done_cycle);
    long compared = 0, out_of_step = 0, differences = 0;
    int faulted = 0;
    struct outputs prev_run = {0}, prev_shadow = {0};
    uint64_t prev_poll = 0;
    int prev_valid = 0, shadow_polls = 0;
    atomic_store(&plant->phase, SHADOW_RUN);
    host_priority(1);
    for (int i = 0; i < SHADOW_CYCLES; i++) {
        cycle = next_cycle(plant, cycle);
        uint8_t raw_run[OUT_SIZE], raw_shadow[OUT_SIZE];
        uint64_t poll = 0;
        if (!check(wasmcell_program_read_outputs(conveyor, 0, raw_run, sizeof raw_run, &poll), "read_outputs")) break;
        status = wasmcell_reload_shadow_poll(reload);
        if (status != WASMCELL_OK) {
            char message[512] = "";
            wasmcell_last_error(message, sizeof message, NULL);
            printf("shadow poll %d (control cycle %ld, speed %.3f) faulted: %s: %s\n", i + 1, cycle,
                   speed_command(cycle), wasmcell_status_str(status), message);
            faulted = 1;
            break;
        }
        shadow_polls++;
        if (!check(wasmcell_reload_read_outputs(reload, 0, raw_shadow, sizeof raw_shadow), "reload_read_outputs")) break;
        if (atomic_load(&plant->inputs_cycle) != cycle) { out_of_step++; prev_valid = 0; continue; }

        struct outputs run = decode(raw_run), shadow = decode(raw_shadow);
        int differ = run.motor_on != shadow.motor_on;
        if (prev_valid && poll == prev_poll + 1) {
            double run_advance = run.position - prev_run.position;
            double shadow_advance = shadow.position - prev_shadow.position;
            differ |= run_advance - shadow_advance > POSITION_TOLERANCE || shadow_advance - run_advance > POSITION_TOLERANCE;
            differ |= (uint32_t)(run.pulses - prev_run.pulses) != (uint32_t)(shadow.pulses - prev_shadow.pulses);
            if (differ && differences == 0)
                printf("first difference at control cycle %ld: motor %d/%d, advance %.6f/%.6f (running/new)\n", cycle,
                       run.motor_on, shadow.motor_on, run_advance, shadow_advance);
            compared++;
        }
        differences += differ;
        prev_run = run, prev_shadow = shadow, prev_poll = poll, prev_valid = 1;
    }
    atomic_store(&plant->phase, RUNNING);
    /* Most cycles must have been compared: a host thread that was starved
     * the whole time has not shown that the versions agree. */
    int agreed = !faulted && differences == 0 && compared >= SHADOW_CYCLES / 2;
    if (!faulted)
        printf("shadow run: %d cycles; %ld compared with the running version, %ld differences; %ld not compared "
               "(no previous cycle to take the advance from: the first, after a late wake-up of the host thread, or after "
               "one of the %ld where the next control cycle began during the shadow poll)\n",
               shadow_polls, compared, differences, shadow_polls - compared, out_of_step);

    /* 4. Commit or discard. The commit is made right after a control poll,
     *    so the swap (which waits for a running poll) falls between two. */
    if (!agreed) {
        host_priority(0);
        check(wasmcell_reload_discard(reload), "reload_discard");
        wasmcell_stats after = {0};
        check(wasmcell_program_stats(conveyor, &after), "program_stats");
        printf("REJECTED: discarded; meanwhile the running version polled %llu times with %llu faults\n",
               (unsigned long long)(after.polls - before.polls), (unsigned long long)(after.faults - before.faults));
        return 0;
    }
    next_cycle(plant, atomic_load(&plant->done_cycle));
    atomic_store(&plant->phase, COMMITTING);
    start = now_ns();
    status = wasmcell_program_commit_reload(conveyor, reload);
    int64_t took = now_ns() - start;
    atomic_store(&plant->phase, RUNNING);
    host_priority(0);
    if (!check(status, "commit_reload")) return 0;
    char notice[2048] = "";
    check(wasmcell_program_notice(conveyor, notice, sizeof notice, NULL), "program_notice");
    printf("COMMITTED between two polls (commit call %.1f us); notice:\n", took / 1e3);
    for (char *line = strtok(notice, "\n"); line; line = strtok(NULL, "\n")) printf("  %s\n", line);
    return 1;
}

/* Prints the retained signals by name (ids looked up anew: the commit may
 * have changed the signal table). */
static void print_retain(wasmcell_program *conveyor, const char *when) {
    size_t count = 0;
    if (!check(wasmcell_program_signal_count(conveyor, &count), "signal_count")) return;
    printf("retain %s:", when);
    for (size_t i = 0; i < count; i++) {
        char name[64];
        uint32_t id;
        wasmcell_area area;
        double value = 0;
        if (!check(wasmcell_program_signal_info(conveyor, i, name, sizeof name, NULL, &id, &area, NULL, NULL),
                   "signal_info"))
            return;
        if (area != WASMCELL_AREA_RETAIN) continue;
        if (!check(wasmcell_program_signal_get_f64(conveyor, id, &value), "signal_get_f64")) return;
        printf(" %s %g", name, value);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build/guests";
    char path[1024];

    wasmcell_runtime *rt = NULL;
    if (!check(wasmcell_runtime_new(&rt), "runtime_new")) return 1;
    struct plant plant = {0};
    sem_init(&plant.cycle_done, 0, 0);
    snprintf(path, sizeof path, "%s/conveyor.wat", dir);
    if (!check(wasmcell_program_load_file(rt, "conveyor", path, &plant.conveyor), "load conveyor.wat")) {
        wasmcell_runtime_free(rt);
        return 1;
    }
    /* What a PLC task has: a watchdog, and outputs that fall back to the
     * module's defaults (motor off) when the program faults. Both stay set
     * across reloads. */
    check(wasmcell_program_set_watchdog(plant.conveyor, WATCHDOG_NS, WATCHDOG_SENSITIVITY), "set_watchdog");
    check(wasmcell_program_set_fault_outputs(plant.conveyor, WASMCELL_FAULT_OUTPUTS_DEFAULTS), "set_fault_outputs");

    pthread_t control;
    if (pthread_create(&control, NULL, control_loop, &plant) != 0) {
        fprintf(stderr, "online-change: cannot start the control thread\n");
        wasmcell_runtime_free(rt);
        return 1;
    }
    next_cycle(&plant, 300); /* running steadily */
    printf("conveyor v1 running at 1 kHz\n");
    print_retain(plant.conveyor, "before the change");

    snprintf(path, sizeof path, "%s/conveyor_v2.wat", dir);
    int good_committed = online_change(&plant, path);
    next_cycle(&plant, atomic_load(&plant.done_cycle) + 300);
    print_retain(plant.conveyor, "300 cycles after the change");

    snprintf(path, sizeof path, "%s/conveyor_broken.wat", dir);
    int broken_committed = online_change(&plant, path);
    next_cycle(&plant, atomic_load(&plant.done_cycle) + 300);

    atomic_store(&plant.stop, 1);
    pthread_join(control, NULL);

    wasmcell_stats stats = {0};
    check(wasmcell_program_stats(plant.conveyor, &stats), "program_stats");
    wasmcell_state state = 0;
    check(wasmcell_program_state(plant.conveyor, &state), "program_state");
    /* Tolerance. At real-time priority: 2 + 1 per 1000 cycles. Even a
     * SCHED_FIFO thread on a stock kernel or a virtual machine stalls for a
     * millisecond or two now and then (interrupts, the hypervisor), with or
     * without wasmcell, and one such stall costs up to two cycles; a stall
     * caused by a prepare, a shadow poll or a commit would come with every
     * change or every shadow cycle, far above this. Time-shared (no
     * permission for SCHED_FIFO), the kernel runs every other process of
     * the machine between our cycles as it sees fit: the bound is then 10 %,
     * which still catches a shadow run or a commit that stalls the loop
     * (every shadow cycle is ~45 % of the run). */
    long tolerance = plant.realtime ? 2 + plant.cycles / 1000 : plant.cycles / 10;
    printf("\n== summary\n");
    printf("control thread (%s): %ld cycles at 1 kHz, %ld missed deadlines (tolerance %ld), max lateness %.1f us\n",
           plant.scheduling, plant.cycles, plant.missed, tolerance, plant.max_lateness_ns / 1e3);
    printf("missed deadlines while the host was:");
    for (int i = 0; i < PHASES; i++) printf(" %s %ld%s", phase_names[i], plant.missed_in[i], i + 1 < PHASES ? "," : "\n");
    printf("running program: %llu polls, %llu faults (%ld seen by the loop), max poll %.1f us, mean %.1f us, "
           "watchdog overruns %llu\n",
           (unsigned long long)stats.polls, (unsigned long long)stats.faults, plant.faults, stats.max_poll_ns / 1e3,
           stats.mean_poll_ns / 1e3, (unsigned long long)stats.overruns);
    printf("versions: %d committed (conveyor_v2 %s), %d rejected (conveyor_broken %s)\n",
           good_committed + broken_committed, good_committed ? "committed" : "REJECTED",
           !good_committed + !broken_committed, broken_committed ? "COMMITTED" : "rejected");

    int failed = 0;
    if (plant.missed > tolerance) { printf("FAIL: too many missed deadlines\n"); failed = 1; }
    if (plant.faults || stats.faults || state != WASMCELL_STATE_READY) { printf("FAIL: the running program faulted\n"); failed = 1; }
    if (!good_committed) { printf("FAIL: the good version was rejected\n"); failed = 1; }
    if (broken_committed) { printf("FAIL: the broken version was committed\n"); failed = 1; }
    if (atomic_load(&unexpected)) { printf("FAIL: %d calls failed\n", atomic_load(&unexpected)); failed = 1; }
    if (!failed) printf("PASS: the good version went live, the broken one never reached the machine\n");
    check(wasmcell_runtime_free(rt), "runtime_free");
    sem_destroy(&plant.cycle_done);
    return failed;
}
