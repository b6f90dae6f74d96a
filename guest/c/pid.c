/* A PID temperature controller on the C guest SDK: the twin of
 * guest/rust/pid.rs and guest/pid.wat (same signals, same arithmetic in the
 * same order, so all three give the same outputs bit for bit).
 *
 * Build (the Makefile does it: `make guests` -> build/guests/pid_c.wasm):
 *   clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic \
 *         -Iguest-sdk/c guest/c/pid.c -o pid_c.wasm
 *
 * Once per poll, with a fixed cycle of DT seconds:
 *   e = setpoint - temperature
 *   u = KP*e + (integral + KI*e*DT) - KD*(temperature - last temperature)/DT
 * heater = u clamped to 0..100 %; the integral (retained: bumpless across
 * reset and hot swap) stops growing while the output is saturated in the
 * direction of the error. Disabled: heater off, integral cleared. */
#include "wasmcell_guest.h"

#define KP 4.0 /* % per K */
#define KI 0.5 /* % per K.s */
#define KD 10.0 /* % per K/s */
#define DT 0.1 /* s, the poll period */
#define OUT_MIN 0.0
#define OUT_MAX 100.0

struct inputs {
    double setpoint;    /* degC */
    double temperature; /* degC, measured */
    bool enable;
};

struct outputs {
    double heater; /* 0..100 % */
    double error;  /* setpoint - temperature, K */
    bool saturated;
};

struct retain {
    double integral;         /* % */
    double last_temperature; /* degC, previous poll */
    bool primed;             /* last_temperature holds a measurement */
};

static struct inputs in;
static struct outputs out;
static struct retain state;

WASMCELL_PROCESS_IMAGE(in, out, state, 1,
    WASMCELL_INPUT(setpoint),
    WASMCELL_INPUT(temperature),
    WASMCELL_INPUT(enable),
    WASMCELL_OUTPUT(heater),
    WASMCELL_OUTPUT(error),
    WASMCELL_OUTPUT(saturated),
    WASMCELL_RETAIN(integral),
    WASMCELL_RETAIN(last_temperature),
    WASMCELL_RETAIN(primed));

WASMCELL_EXPORT(init) void pid_init(void) {
    if (wasmcell_start_kind() == WASMCELL_START_COLD) {
        wasmcell_info("pid: cold start");
    } else if (wasmcell_retain_restored()) {
        wasmcell_line line = WASMCELL_LINE_INIT;
        wasmcell_line_str(&line, "pid: restarted, integral ");
        wasmcell_line_f64(&line, state.integral, 3);
        wasmcell_line_str(&line, " % kept");
        wasmcell_line_log(&line, WASMCELL_LOG_INFO);
    } else {
        wasmcell_info("pid: restarted without retained state, integral from 0");
    }
}

WASMCELL_EXPORT(poll) void pid_poll(void) {
    double e = in.setpoint - in.temperature;
    out.error = e;
    if (!in.enable) {
        out.heater = 0.0;
        out.saturated = false;
        state.integral = 0.0;
        state.primed = false;
        return;
    }
    double slope = state.primed ? (in.temperature - state.last_temperature) / DT : 0.0;
    state.last_temperature = in.temperature;
    state.primed = true;
    double p = KP * e;
    double i = state.integral + KI * e * DT;
    double d = -KD * slope;
    double u = p + i + d;
    if (!((u > OUT_MAX && e > 0.0) || (u < OUT_MIN && e < 0.0))) state.integral = i;
    out.heater = u > OUT_MAX ? OUT_MAX : u < OUT_MIN ? OUT_MIN : u;
    out.saturated = u > OUT_MAX || u < OUT_MIN;
}
