/* The conveyor of guest/conveyor.wat on the C guest SDK: a program driven
 * only through its process image, no host functions. Same signals, offsets
 * and retain layout id as the WAT and Rust versions, so the host can
 * hot-swap between them and the travelled distance carries over.
 *
 * Build (the Makefile does it: `make guests` -> build/guests/conveyor_c.wasm):
 *   clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic \
 *         -Iguest-sdk/c guest/c/conveyor.c -o conveyor_c.wasm
 *
 * A negative speed command is a fault: the program half-writes its outputs
 * and panics (logs the reason, then traps); the host publishes nothing from
 * that poll. */
#include "wasmcell_guest.h"

struct inputs {
    double speed; /* belt speed command, m per poll */
    bool enable;
};

struct outputs {
    bool motor_on;
    double position; /* m */
    uint32_t pulses; /* polls with the motor on */
};

struct retain {
    double distance; /* m travelled since the first load */
};

static struct inputs in;
static struct outputs out;
static struct retain keep;

WASMCELL_PROCESS_IMAGE(in, out, keep, 1,
    WASMCELL_INPUT(speed),
    WASMCELL_INPUT(enable),
    WASMCELL_OUTPUT(motor_on),
    WASMCELL_OUTPUT(position),
    WASMCELL_OUTPUT(pulses),
    WASMCELL_RETAIN(distance));

WASMCELL_EXPORT(poll) void conveyor_poll(void) {
    if (in.speed < 0) {
        out.motor_on = true;
        out.position = -999.0;
        WASMCELL_PANIC("negative speed command");
    }
    out.motor_on = in.enable;
    if (in.enable) {
        out.position += in.speed;
        out.pulses++;
        keep.distance += in.speed;
    }
}
