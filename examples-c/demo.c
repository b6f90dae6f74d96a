/* The main job in one program: a C control loop that loads real guest
 * programs, polls them every cycle, hot-swaps one while running, and survives
 * a faulty one and a runaway one, while the others keep their cycle.
 * Usage: demo <guest-dir> (make demo passes build/guests) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasmcell.h"

/* A simulated room: the heater warms it, the outside cools it. */
struct room {
    double temperature;
    int heater;
};

static int32_t read_sensor(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                           wasmcell_val *results, size_t nresults) {
    (void)call; (void)args; (void)nargs; (void)nresults;
    results[0].f64 = ((struct room *)user_data)->temperature;
    return 0;
}

static int32_t set_actuator(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                            wasmcell_val *results, size_t nresults) {
    (void)call; (void)nargs; (void)results; (void)nresults;
    ((struct room *)user_data)->heater = args[1].i32;
    return 0;
}

static void log_line(void *user_data, const char *program, wasmcell_log_level level, const char *message,
                     size_t len) {
    (void)user_data;
    const char *tag = level == WASMCELL_LOG_PRINT ? "" : " log";
    printf("    [%s%s] %.*s%s", program, tag, (int)len, message,
           len && message[len - 1] == '\n' ? "" : "\n");
}

static void report(wasmcell_program *p, const char *name, wasmcell_status status) {
    char message[512];
    wasmcell_program_error(p, message, sizeof message, NULL);
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

#define CYCLES 12
#define PROGRAMS 4

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build/guests";
    printf("wasmcell %s demo: 4 programs, %d cycles\n", wasmcell_version(), CYCLES);

    wasmcell_runtime *rt = NULL;
    if (wasmcell_runtime_new(&rt) != WASMCELL_OK) return 1;
    struct room room = {.temperature = 18.0};
    wasmcell_runtime_define(rt, "plant", "read_sensor", "(i)F", read_sensor, &room, NULL);
    wasmcell_runtime_define(rt, "plant", "set_actuator", "(ii)", set_actuator, &room, NULL);
    wasmcell_runtime_set_log(rt, log_line, NULL);
    wasmcell_runtime_set_default_fuel(rt, 1000000);

    const char *names[PROGRAMS] = {"hello", "thermostat", "faulty", "runaway"};
    const char *files[PROGRAMS] = {"example_program.wasm", "thermostat_v1.wat", "faulty.wat", "runaway.wat"};
    wasmcell_program *programs[PROGRAMS] = {0};
    for (int i = 0; i < PROGRAMS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        wasmcell_status status = wasmcell_program_load_file(rt, names[i], path, &programs[i]);
        if (status != WASMCELL_OK) {
            char message[512];
            wasmcell_runtime_error(rt, message, sizeof message, NULL);
            fprintf(stderr, "cannot load %s: %s: %s\n", path, wasmcell_status_str(status), message);
            return 1;
        }
        printf("loaded %-10s from %s\n", names[i], path);
    }

    int ok_polls[PROGRAMS] = {0};
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int cycle = 1; cycle <= CYCLES; cycle++) {
        printf("cycle %2d  room %.1f C, heater %s\n", cycle, room.temperature, room.heater ? "on" : "off");
        if (cycle == 6) {
            /* Online change: new thermostat logic, swapped in between two polls. */
            char path[1024];
            size_t len = 0;
            snprintf(path, sizeof path, "%s/thermostat_v2.wat", dir);
            unsigned char *bytes = read_file(path, &len);
            wasmcell_status status = bytes ? wasmcell_program_reload(programs[1], bytes, len) : WASMCELL_ERR_IO;
            free(bytes);
            printf("  > hot-swapped thermostat to v2: %s\n", wasmcell_status_str(status));
            if (status != WASMCELL_OK) return 1;
        }
        for (int i = 0; i < PROGRAMS; i++) {
            wasmcell_status status = wasmcell_program_poll(programs[i]);
            if (status == WASMCELL_OK) {
                ok_polls[i]++;
                continue;
            }
            report(programs[i], names[i], status);
            if (status != WASMCELL_ERR_FAULTED) {
                /* A supervisor policy: restart faulted programs once per cycle. */
                printf("  > resetting %s: %s\n", names[i], wasmcell_status_str(wasmcell_program_reset(programs[i])));
            }
        }
        room.temperature += room.heater ? 0.8 : -0.3;
    }

    printf("\nafter %.3f s the host is alive; per program:\n", seconds_since(&start));
    int healthy_ok = 1;
    for (int i = 0; i < PROGRAMS; i++) {
        wasmcell_stats stats;
        wasmcell_program_stats(programs[i], &stats);
        printf("  %-10s polls %2llu, ok %2d, faults %llu, mean poll %llu ns, last fuel %llu\n", names[i],
               (unsigned long long)stats.polls, ok_polls[i], (unsigned long long)stats.faults,
               (unsigned long long)stats.mean_poll_ns, (unsigned long long)stats.last_fuel_used);
    }
    healthy_ok = ok_polls[0] == CYCLES && ok_polls[1] == CYCLES;
    wasmcell_runtime_free(rt);
    printf("%s\n", healthy_ok ? "healthy programs kept every cycle: OK"
                              : "a healthy program missed a cycle: FAIL");
    return healthy_ok ? 0 : 1;
}
