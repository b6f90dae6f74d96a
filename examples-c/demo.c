/* The main job in one program: a C control loop that loads real guest
 * programs, polls them every cycle, hot-swaps one while running, and survives
 * a faulty one and a runaway one, while the others keep their cycle.
 *
 * The demo checks what it shows and exits non-zero if any program did not
 * behave as described: hello printed on every cycle, the thermostat followed
 * its v1 rule before the swap and the v2 hysteresis after it (and decided
 * differently from v1 at least once), faulty trapped with a divide by zero
 * on every third poll, runaway was stopped by the budget on every poll, and
 * the healthy programs never missed a cycle.
 *
 * Usage: demo <guest-dir> (make demo passes build/guests). The hello program
 * is example_program.wasm (built from guest/example-program.rs) when the
 * directory has it, otherwise hello.wat, its WAT twin. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wasmcell.h"

/* A simulated room: the heater warms it, the outside cools it. */
struct room {
    double temperature;
    int heater;
    int commands; /* set_actuator calls */
};

static int32_t read_sensor(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                           wasmcell_val *results, size_t nresults) {
    (void)call; (void)args; (void)nargs; (void)nresults;
    results[0].f64 = ((struct room *)user_data)->temperature;
    return 0;
}

static int32_t set_actuator(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                            wasmcell_val *results, size_t nresults) {
    struct room *room = user_data;
    (void)call; (void)nargs; (void)results; (void)nresults;
    room->heater = args[1].i32;
    room->commands++;
    return 0;
}

/* What the programs printed and logged, counted as well as shown. */
struct output {
    int hello_lines;     /* "Polling\n" from the hello program */
    int v1_online;       /* thermostat v1's init log line */
    int v2_online;       /* thermostat v2's init log line */
};

static int message_is(const char *message, size_t len, const char *text) {
    return len == strlen(text) && memcmp(message, text, len) == 0;
}

static int message_has(const char *message, size_t len, const char *text) {
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(message + i, text, n) == 0) return 1;
    }
    return 0;
}

static void log_line(void *user_data, const char *program, wasmcell_log_level level, const char *message,
                     size_t len) {
    struct output *out = user_data;
    const char *tag = level == WASMCELL_LOG_PRINT ? "" : " log";
    printf("    [%s%s] %.*s%s", program, tag, (int)len, message, len && message[len - 1] == '\n' ? "" : "\n");
    if (strcmp(program, "hello") == 0 && level == WASMCELL_LOG_PRINT && message_is(message, len, "Polling\n"))
        out->hello_lines++;
    if (strcmp(program, "thermostat") == 0 && message_has(message, len, "thermostat v1 online")) out->v1_online++;
    if (strcmp(program, "thermostat") == 0 && message_has(message, len, "thermostat v2 online")) out->v2_online++;
}

static void report(wasmcell_program *p, const char *name, wasmcell_status status, char *message, size_t cap) {
    message[0] = 0;
    wasmcell_program_error(p, message, cap, NULL);
    printf("  ! %-10s %s: %s\n", name, wasmcell_status_str(status), message);
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

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* The demo's verdict: each check prints one line; any failure fails the demo. */
static int failures = 0;

static void verdict(int ok, const char *format, ...) {
    va_list args;
    va_start(args, format);
    printf("  %s ", ok ? "ok  " : "FAIL");
    vprintf(format, args);
    printf("\n");
    va_end(args);
    failures += !ok;
}

/* The thermostat's two rules, as the guest programs implement them. */
static int v1_rule(double t) { return t < 20.0; }
static int v2_rule(double t, int *on) {
    if (t < 19.5) *on = 1;
    if (t > 20.5) *on = 0;
    return *on;
}

#define CYCLES 12
#define SWAP_CYCLE 6
#define FUEL 1000000
enum { HELLO, THERMOSTAT, FAULTY, RUNAWAY, PROGRAMS };


/* ---- the guest SDK programs ---------------------------------------------------
 * The PID controller, conveyor and sequencer exist as WAT (always), and as
 * Rust and C programs built with the guest SDKs when the toolchains exist.
 * Each flavour found is loaded and driven through its process image only. */

struct sdk_run {
    int flavours;      /* programs found and run */
    int bad;           /* programs that did not behave */
    double pid_heater; /* first PID flavour's heater after the run */
    int pid_differs;   /* PID flavours whose output differs from the first */
};

static int write_f64(wasmcell_program *p, size_t offset, double value) {
    return wasmcell_program_write_inputs(p, offset, (const uint8_t *)&value, sizeof value) == WASMCELL_OK;
}

static double read_f64(wasmcell_program *p, size_t offset) {
    double value = -1;
    if (wasmcell_program_read_outputs(p, offset, (uint8_t *)&value, sizeof value, NULL) != WASMCELL_OK) return -1;
    return value;
}

static void run_sdk_program(wasmcell_runtime *rt, const char *dir, const char *kind, const char *flavour,
                            struct sdk_run *run) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", dir, kind, flavour);
    FILE *exists = fopen(path, "rb");
    if (!exists) return;
    fclose(exists);
    wasmcell_program *p = NULL;
    char name[64];
    snprintf(name, sizeof name, "%s%s", kind, flavour);
    if (wasmcell_program_load_file(rt, name, path, &p) != WASMCELL_OK) {
        char message[512] = "";
        wasmcell_last_error(message, sizeof message, NULL);
        printf("  %-22s FAILED to load: %s\n", name, message);
        run->bad++;
        return;
    }
    run->flavours++;
    int ok = 1;
    uint8_t one = 1;
    if (strcmp(kind, "pid") == 0) {
        /* setpoint 50, temperature 49.5, enabled: the heater turns on, below its limit. */
        ok = write_f64(p, 0, 50.0) && write_f64(p, 8, 49.5) &&
             wasmcell_program_write_inputs(p, 16, &one, 1) == WASMCELL_OK;
        for (int i = 0; ok && i < 20; i++) ok = wasmcell_program_poll(p) == WASMCELL_OK;
        double heater = read_f64(p, 0);
        ok = ok && heater > 0 && heater <= 100;
        if (run->pid_heater < 0) run->pid_heater = heater;
        else if (heater != run->pid_heater) run->pid_differs++;
        printf("  %-22s heater %.3f %% after 20 polls\n", name, heater);
    } else if (strcmp(kind, "conveyor") == 0) {
        ok = write_f64(p, 0, 1.5) && wasmcell_program_write_inputs(p, 8, &one, 1) == WASMCELL_OK;
        for (int i = 0; ok && i < 4; i++) ok = wasmcell_program_poll(p) == WASMCELL_OK;
        double position = read_f64(p, 8);
        ok = ok && position == 6.0;
        printf("  %-22s position %.1f after 4 polls at speed 1.5\n", name, position);
    } else {
        /* The sequencer leaves IDLE when started. */
        ok = wasmcell_program_write_inputs(p, 0, &one, 1) == WASMCELL_OK && wasmcell_program_poll(p) == WASMCELL_OK;
        uint8_t state = 0xff;
        ok = ok && wasmcell_program_read_outputs(p, 0, &state, 1, NULL) == WASMCELL_OK && state == 1;
        printf("  %-22s state %u (FILLING) after start\n", name, state);
    }
    if (!ok) run->bad++;
    wasmcell_program_unload(p);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build/guests";
    printf("wasmcell %s demo: 4 programs, %d cycles\n", wasmcell_version(), CYCLES);

    /* The original Rust example program, or its WAT twin without the wasm32 target. */
    char hello_path[1024];
    snprintf(hello_path, sizeof hello_path, "%s/example_program.wasm", dir);
    if (access(hello_path, R_OK) != 0) {
        printf("note: %s not found (the wasm32-unknown-unknown Rust target is not installed; 'make deps' "
               "installs it): using hello.wat, the WAT twin of guest/example-program.rs\n",
               hello_path);
        snprintf(hello_path, sizeof hello_path, "%s/hello.wat", dir);
    }

    wasmcell_runtime *rt = NULL;
    if (wasmcell_runtime_new(&rt) != WASMCELL_OK) return 1;
    struct room room = {.temperature = 18.0};
    struct output output = {0};
    if (wasmcell_runtime_define(rt, "plant", "read_sensor", "(i)F", read_sensor, &room, NULL) != WASMCELL_OK ||
        wasmcell_runtime_define(rt, "plant", "set_actuator", "(ii)", set_actuator, &room, NULL) != WASMCELL_OK ||
        wasmcell_runtime_set_log(rt, log_line, &output) != WASMCELL_OK ||
        wasmcell_runtime_set_default_fuel(rt, FUEL) != WASMCELL_OK) {
        char message[512];
        wasmcell_last_error(message, sizeof message, NULL);
        fprintf(stderr, "demo FAILED: cannot set up the runtime: %s\n", message);
        return 1;
    }

    const char *names[PROGRAMS] = {"hello", "thermostat", "faulty", "runaway"};
    char paths[PROGRAMS][1024];
    snprintf(paths[HELLO], sizeof paths[HELLO], "%s", hello_path);
    snprintf(paths[THERMOSTAT], sizeof paths[THERMOSTAT], "%s/thermostat_v1.wat", dir);
    snprintf(paths[FAULTY], sizeof paths[FAULTY], "%s/faulty.wat", dir);
    snprintf(paths[RUNAWAY], sizeof paths[RUNAWAY], "%s/runaway.wat", dir);
    wasmcell_program *programs[PROGRAMS] = {0};
    for (int i = 0; i < PROGRAMS; i++) {
        wasmcell_status status = wasmcell_program_load_file(rt, names[i], paths[i], &programs[i]);
        if (status != WASMCELL_OK) {
            char message[512];
            wasmcell_runtime_error(rt, message, sizeof message, NULL);
            fprintf(stderr, "demo FAILED: cannot load %s: %s: %s\n", paths[i], wasmcell_status_str(status), message);
            wasmcell_runtime_free(rt);
            return 1;
        }
        printf("loaded %-10s from %s\n", names[i], paths[i]);
    }

    /* What each program did, cycle by cycle, against what it should do. */
    int ok_polls[PROGRAMS] = {0};
    int swapped = 0, rule_breaks = 0, missing_commands = 0, v2_differs = 0, v2_on = 0;
    int faulty_traps = 0, faulty_wrong = 0, faulty_since_start = 0;
    int runaway_stops = 0, runaway_wrong = 0, failed_resets = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int cycle = 1; cycle <= CYCLES; cycle++) {
        printf("cycle %2d  room %.1f C, heater %s\n", cycle, room.temperature, room.heater ? "on" : "off");
        if (cycle == SWAP_CYCLE) {
            /* Online change: new thermostat logic, swapped in between two polls. */
            char path[1024];
            size_t len = 0;
            snprintf(path, sizeof path, "%s/thermostat_v2.wat", dir);
            unsigned char *bytes = read_file(path, &len);
            wasmcell_status status = bytes ? wasmcell_program_reload(programs[THERMOSTAT], bytes, len) : WASMCELL_ERR_IO;
            free(bytes);
            printf("  > hot-swapped thermostat to v2: %s\n", wasmcell_status_str(status));
            swapped = status == WASMCELL_OK;
        }
        double temperature = room.temperature;
        for (int i = 0; i < PROGRAMS; i++) {
            int commands = room.commands;
            wasmcell_status status = wasmcell_program_poll(programs[i]);
            wasmcell_fault kind = WASMCELL_FAULT_NONE;
            wasmcell_program_fault_kind(programs[i], &kind);
            char message[512] = "";
            if (status == WASMCELL_OK) {
                ok_polls[i]++;
            } else {
                report(programs[i], names[i], status, message, sizeof message);
            }

            if (i == THERMOSTAT && status == WASMCELL_OK) {
                int expected = cycle < SWAP_CYCLE ? v1_rule(temperature) : v2_rule(temperature, &v2_on);
                if (room.commands != commands + 1) missing_commands++;
                else if (room.heater != expected) rule_breaks++;
                if (cycle >= SWAP_CYCLE && room.heater != v1_rule(temperature)) v2_differs++;
            } else if (i == FAULTY) {
                /* Its counter reaches zero on the third poll after each (re)start. */
                faulty_since_start++;
                int should_trap = faulty_since_start == 3;
                if (should_trap && status == WASMCELL_ERR_TRAP && kind == WASMCELL_FAULT_INTEGER_DIVIDE_BY_ZERO &&
                    strstr(message, "integer divide by zero") != NULL) {
                    faulty_traps++;
                } else if (should_trap || status != WASMCELL_OK) {
                    faulty_wrong++;
                }
            } else if (i == RUNAWAY) {
                wasmcell_stats stats;
                wasmcell_program_stats(programs[i], &stats);
                if (status == WASMCELL_ERR_BUDGET && kind == WASMCELL_FAULT_BUDGET_EXHAUSTED &&
                    stats.last_fuel_used == FUEL && strstr(message, "instruction budget exhausted") != NULL) {
                    runaway_stops++;
                } else {
                    runaway_wrong++;
                }
            }

            if (status != WASMCELL_OK && status != WASMCELL_ERR_FAULTED) {
                /* A supervisor policy: restart faulted programs once per cycle. */
                wasmcell_status reset = wasmcell_program_reset(programs[i]);
                printf("  > resetting %s: %s\n", names[i], wasmcell_status_str(reset));
                failed_resets += reset != WASMCELL_OK;
                if (i == FAULTY) faulty_since_start = 0;
            }
        }
        room.temperature += room.heater ? 0.8 : -0.3;
    }

    printf("\nafter %.3f s the host is alive; per program:\n", seconds_since(&start));
    wasmcell_stats stats[PROGRAMS];
    for (int i = 0; i < PROGRAMS; i++) {
        wasmcell_program_stats(programs[i], &stats[i]);
        printf("  %-10s polls %2llu, ok %2d, faults %2llu, mean poll %llu ns, last fuel %llu\n", names[i],
               (unsigned long long)stats[i].polls, ok_polls[i], (unsigned long long)stats[i].faults,
               (unsigned long long)stats[i].mean_poll_ns, (unsigned long long)stats[i].last_fuel_used);
    }
    printf("\nthe guest SDK programs (WAT twins always; Rust and C when built):\n");
    struct sdk_run sdk = {0, 0, -1.0, 0};
    static const char *kinds[] = {"pid", "conveyor", "sequencer"};
    static const char *flavours[] = {".wat", "_rust.wasm", "_c.wasm"};
    for (int k = 0; k < 3; k++)
        for (int f = 0; f < 3; f++) run_sdk_program(rt, dir, kinds[k], flavours[f], &sdk);
    wasmcell_status freed = wasmcell_runtime_free(rt);

    printf("\nchecks:\n");
    verdict(sdk.flavours >= 3 && sdk.bad == 0 && sdk.pid_differs == 0,
            "the SDK programs ran from their process images (%d found, %d misbehaved, %d PID flavours "
            "differ from the first)",
            sdk.flavours, sdk.bad, sdk.pid_differs);
    verdict(ok_polls[HELLO] == CYCLES && stats[HELLO].faults == 0 && output.hello_lines == CYCLES,
            "hello polled on every cycle and printed \"Polling\" each time (%d polls ok, %d lines of %d)",
            ok_polls[HELLO], output.hello_lines, CYCLES);
    verdict(ok_polls[THERMOSTAT] == CYCLES && stats[THERMOSTAT].faults == 0 && missing_commands == 0,
            "thermostat polled on every cycle and set the heater each time (%d polls ok, %d without a command)",
            ok_polls[THERMOSTAT], missing_commands);
    verdict(swapped && output.v1_online == 1 && output.v2_online == 1,
            "thermostat hot-swapped to v2 at cycle %d (v1 started %d time(s), v2 %d time(s))", SWAP_CYCLE,
            output.v1_online, output.v2_online);
    verdict(rule_breaks == 0 && v2_differs > 0,
            "thermostat followed v1's rule before the swap and v2's hysteresis after it, deciding differently "
            "from v1 on %d cycle(s) (%d decisions broke the active rule)",
            v2_differs, rule_breaks);
    verdict(faulty_traps == CYCLES / 3 && faulty_wrong == 0 && stats[FAULTY].faults == (uint64_t)faulty_traps,
            "faulty trapped with an integer divide by zero on every third poll after a (re)start (%d traps, "
            "%d polls that did something else)",
            faulty_traps, faulty_wrong);
    verdict(runaway_stops == CYCLES && runaway_wrong == 0 && stats[RUNAWAY].faults == CYCLES,
            "runaway was stopped by its budget of %d instructions on every poll (%d of %d)", FUEL, runaway_stops,
            CYCLES);
    verdict(failed_resets == 0 && freed == WASMCELL_OK, "every reset and the final runtime_free succeeded");
    if (failures) {
        printf("demo FAILED: %d check(s) did not hold\n", failures);
        return 1;
    }
    printf("demo: every program behaved as described; the healthy programs kept every cycle: OK\n");
    return 0;
}
