/* Host I/O through callbacks: a simulated level sensor and a pump actuator.
 * The guest (guest/thermostat_v1.wat, or any program importing the same
 * functions) reads plant.read_sensor(channel) -> f64 and writes
 * plant.set_actuator(channel, value).
 * Usage: callbacks <program> [cycles] */
#include <stdio.h>
#include <stdlib.h>

#include "wasmcell.h"

struct plant {
    double level;  /* sensor channel 0 */
    int pump;      /* actuator channel 0 */
    long reads, writes;
};

static int32_t read_sensor(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                           wasmcell_val *results, size_t nresults) {
    struct plant *plant = user_data;
    (void)call; (void)nargs; (void)nresults;
    if (args[0].i32 != 0) {
        /* An unknown channel is the guest's bug: fault it with a reason. */
        wasmcell_call_set_error(call, "no such sensor channel");
        return 1;
    }
    plant->reads++;
    results[0].f64 = plant->level;
    return 0;
}

static int32_t set_actuator(void *user_data, wasmcell_call *call, const wasmcell_val *args, size_t nargs,
                            wasmcell_val *results, size_t nresults) {
    struct plant *plant = user_data;
    (void)call; (void)nargs; (void)results; (void)nresults;
    plant->writes++;
    plant->pump = args[1].i32 != 0;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "Usage: callbacks <program> [cycles]\n");
        return 2;
    }
    int cycles = argc > 2 ? atoi(argv[2]) : 20;
    struct plant plant = {.level = 25.0};
    wasmcell_runtime *rt = NULL;
    wasmcell_program *program = NULL;
    wasmcell_runtime_new(&rt);
    wasmcell_runtime_define(rt, "plant", "read_sensor", "(i)F", read_sensor, &plant, NULL);
    wasmcell_runtime_define(rt, "plant", "set_actuator", "(ii)", set_actuator, &plant, NULL);
    wasmcell_status status = wasmcell_program_load_file(rt, "controller", argv[1], &program);
    if (status != WASMCELL_OK) {
        char message[512] = "";
        wasmcell_runtime_error(rt, message, sizeof message, NULL);
        fprintf(stderr, "callbacks: %s: %s\n", wasmcell_status_str(status), message);
        wasmcell_runtime_free(rt);
        return 1;
    }
    for (int cycle = 0; cycle < cycles && status == WASMCELL_OK; cycle++) {
        status = wasmcell_program_poll(program);
        printf("cycle %2d: level %5.1f  pump %s\n", cycle, plant.level, plant.pump ? "ON" : "off");
        plant.level += plant.pump ? 0.9 : -0.6; /* the pump fills, consumers drain */
    }
    if (status != WASMCELL_OK) {
        char message[512] = "";
        wasmcell_program_error(program, message, sizeof message, NULL);
        fprintf(stderr, "callbacks: %s: %s\n", wasmcell_status_str(status), message);
    }
    printf("%ld sensor reads, %ld actuator writes\n", plant.reads, plant.writes);
    wasmcell_runtime_free(rt);
    return status == WASMCELL_OK ? 0 : 1;
}
