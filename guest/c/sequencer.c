/* A batch sequencer (a state machine) on the C guest SDK: the twin of
 * guest/rust/sequencer.rs and guest/sequencer.wat. Fill a tank, heat it,
 * hold the temperature, drain it, count the batch.
 *
 * Build (the Makefile does it: `make guests` -> build/guests/sequencer_c.wasm):
 *   clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic \
 *         -Iguest-sdk/c guest/c/sequencer.c -o sequencer_c.wasm
 *
 * States (output `state`): 0 IDLE, 1 FILLING (inlet open) until level >=
 * 80 %, 2 HEATING (heater on) until temperature >= 70 degC, 3 HOLDING
 * (heater on) for 5 more polls, 4 DRAINING (outlet open) until level <= 5 %,
 * then IDLE with one more batch counted. `start` leaves IDLE; `stop` goes
 * back to IDLE from anywhere without counting. `step_polls` counts the polls
 * spent in the state (0 on the poll that entered it). The state is retained:
 * a hot swap continues the batch where it was. */
#include "wasmcell_guest.h"

enum { IDLE, FILLING, HEATING, HOLDING, DRAINING };

#define FULL 80.0  /* % */
#define EMPTY 5.0  /* % */
#define HOT 70.0   /* degC */
#define HOLD_POLLS 5u

struct inputs {
    bool start;
    bool stop;
    double level;       /* % */
    double temperature; /* degC */
};

struct outputs {
    uint8_t state;
    bool inlet;
    bool heater;
    bool outlet;
    uint32_t step_polls;
};

struct retain {
    uint8_t step;
    uint32_t polls_in_step;
    uint32_t batches;
};

static struct inputs in;
static struct outputs out;
static struct retain keep;

WASMCELL_PROCESS_IMAGE(in, out, keep, 1,
    WASMCELL_INPUT(start),
    WASMCELL_INPUT(stop),
    WASMCELL_INPUT(level),
    WASMCELL_INPUT(temperature),
    WASMCELL_OUTPUT(state),
    WASMCELL_OUTPUT(inlet),
    WASMCELL_OUTPUT(heater),
    WASMCELL_OUTPUT(outlet),
    WASMCELL_OUTPUT(step_polls),
    WASMCELL_RETAIN(step),
    WASMCELL_RETAIN(polls_in_step),
    WASMCELL_RETAIN(batches));

static const char *name(uint8_t state) {
    switch (state) {
    case IDLE: return "IDLE";
    case FILLING: return "FILLING";
    case HEATING: return "HEATING";
    case HOLDING: return "HOLDING";
    case DRAINING: return "DRAINING";
    default: return "?";
    }
}

WASMCELL_EXPORT(init) void sequencer_init(void) {
    if (wasmcell_start_kind() != WASMCELL_START_COLD && !wasmcell_retain_restored()) {
        wasmcell_warn("sequencer: retained state lost, starting in IDLE");
    } else if (keep.step != IDLE) {
        wasmcell_line line = WASMCELL_LINE_INIT;
        wasmcell_line_str(&line, "sequencer: continuing in ");
        wasmcell_line_str(&line, name(keep.step));
        wasmcell_line_str(&line, " (");
        wasmcell_line_u64(&line, keep.batches);
        wasmcell_line_str(&line, " batches done)");
        wasmcell_line_log(&line, WASMCELL_LOG_INFO);
    }
}

WASMCELL_EXPORT(poll) void sequencer_poll(void) {
    uint8_t next = keep.step;
    if (in.stop) {
        next = IDLE;
    } else {
        switch (keep.step) {
        case IDLE: if (in.start) next = FILLING; break;
        case FILLING: if (in.level >= FULL) next = HEATING; break;
        case HEATING: if (in.temperature >= HOT) next = HOLDING; break;
        case HOLDING: if (keep.polls_in_step >= HOLD_POLLS) next = DRAINING; break;
        case DRAINING:
            if (in.level <= EMPTY) {
                keep.batches++;
                next = IDLE;
            }
            break;
        default: next = IDLE; break; /* unknown state (corrupted retain): safe state */
        }
    }
    if (next != keep.step) {
        wasmcell_line line = WASMCELL_LINE_INIT;
        wasmcell_line_str(&line, "sequencer: ");
        wasmcell_line_str(&line, name(keep.step));
        wasmcell_line_str(&line, " -> ");
        wasmcell_line_str(&line, name(next));
        wasmcell_line_log(&line, WASMCELL_LOG_INFO);
        keep.step = next;
        keep.polls_in_step = 0;
    } else {
        keep.polls_in_step++;
    }
    out.state = keep.step;
    out.inlet = keep.step == FILLING;
    out.heater = keep.step == HEATING || keep.step == HOLDING;
    out.outlet = keep.step == DRAINING;
    out.step_polls = keep.polls_in_step;
}
