/* A conveyor driven only through the process image: no host callbacks at
 * all, the way a PLC runtime or a LabVIEW VI drives its logic. Each cycle the
 * host writes inputs, polls, and reads the published outputs; a fault in the
 * logic (a negative speed command at cycle 12) leaves the last good outputs
 * in place, and a reset keeps the retained distance counter.
 * Usage: process-image <guest-dir> */
#include <stdint.h>
#include <stdio.h>

#include "wasmcell.h"

static uint32_t lookup(wasmcell_program *p, const char *name) {
    uint32_t id = 0;
    wasmcell_status status = wasmcell_program_signal_lookup(p, name, &id, NULL, NULL, NULL);
    if (status != WASMCELL_OK) {
        fprintf(stderr, "no signal %s: %s\n", name, wasmcell_status_str(status));
    }
    return id;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build/guests";
    char path[1024];
    snprintf(path, sizeof path, "%s/conveyor.wat", dir);

    wasmcell_runtime *rt = NULL;
    wasmcell_program *conveyor = NULL;
    wasmcell_runtime_new(&rt);
    if (wasmcell_program_load_file(rt, "conveyor", path, &conveyor) != WASMCELL_OK) {
        char message[512];
        wasmcell_runtime_error(rt, message, sizeof message, NULL);
        fprintf(stderr, "load failed: %s\n", message);
        return 1;
    }

    /* The signal list, as a HMI would show it. */
    size_t count = 0;
    wasmcell_program_signal_count(conveyor, &count);
    static const char *areas[] = {"input", "output", "retain"};
    printf("conveyor declares %zu signals:\n", count);
    for (size_t i = 0; i < count; i++) {
        char name[64];
        wasmcell_area area;
        wasmcell_signal_type type;
        uint32_t offset;
        wasmcell_program_signal_info(conveyor, i, name, sizeof name, NULL, NULL, &area, &type, &offset);
        printf("  %-9s %-6s type %2d at offset %u\n", name, areas[area], type, offset);
    }

    /* Look names up once; the loop then uses ids only. */
    uint32_t speed = lookup(conveyor, "speed"), enable = lookup(conveyor, "enable");
    uint32_t motor_on = lookup(conveyor, "motor_on"), position = lookup(conveyor, "position");
    uint32_t pulses = lookup(conveyor, "pulses"), distance = lookup(conveyor, "distance");

    int failures = 0;
    for (int cycle = 1; cycle <= 16; cycle++) {
        double command = cycle == 12 ? -1.0 : 0.25 * (cycle % 4);
        wasmcell_program_signal_set_f64(conveyor, speed, command);
        wasmcell_program_signal_set_i64(conveyor, enable, cycle > 2);
        wasmcell_status status = wasmcell_program_poll(conveyor);

        double pos = 0, dist = 0;
        int64_t on = 0, count_pulses = 0;
        uint64_t published_by = 0;
        uint8_t raw[24];
        wasmcell_program_read_outputs(conveyor, 0, raw, sizeof raw, &published_by);
        wasmcell_program_signal_get_i64(conveyor, motor_on, &on);
        wasmcell_program_signal_get_f64(conveyor, position, &pos);
        wasmcell_program_signal_get_i64(conveyor, pulses, &count_pulses);
        wasmcell_program_signal_get_f64(conveyor, distance, &dist);
        printf("cycle %2d: speed %5.2f -> %-13s motor %s position %5.2f pulses %2lld distance %5.2f (outputs of poll %llu)\n",
               cycle, command, wasmcell_status_str(status), on ? "on " : "off", pos, (long long)count_pulses, dist,
               (unsigned long long)published_by);
        if (status != WASMCELL_OK) {
            if (pos < 0) failures++; /* a faulting poll must not publish */
            wasmcell_program_reset(conveyor);
        }
    }
    wasmcell_runtime_free(rt);
    printf("%s\n", failures ? "FAIL: a faulting poll published outputs" : "outputs stayed consistent through the fault");
    return failures ? 1 : 0;
}
