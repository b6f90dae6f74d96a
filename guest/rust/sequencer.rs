//! A batch sequencer (a state machine) on the wasmcell guest SDK: fill a
//! tank, heat it, hold the temperature, drain it, count the batch.
//!
//! Build (the Makefile does it: `make guests` → build/guests/sequencer_rust.wasm):
//!   cargo build --release --target wasm32-unknown-unknown \
//!       --manifest-path guest-sdk/rust/Cargo.toml --example sequencer
//! Its twins: guest/c/sequencer.c (C SDK) and guest/sequencer.wat.
//!
//! States (output `state`): 0 IDLE, 1 FILLING (inlet open) until level >=
//! 80 %, 2 HEATING (heater on) until temperature >= 70 °C, 3 HOLDING (heater
//! on) for 5 more polls, 4 DRAINING (outlet open) until level <= 5 %, then
//! IDLE with one more batch counted. `start` leaves IDLE; `stop` goes back to
//! IDLE from anywhere without counting. `step_polls` counts the polls spent
//! in the state (0 on the poll that entered it). The state lives in the
//! retain area: a hot swap continues the batch where it was.
#![no_std]

use wasmcell_guest::{info, process_image, program, retain_restored, start_kind, warn, StartKind};

const IDLE: u8 = 0;
const FILLING: u8 = 1;
const HEATING: u8 = 2;
const HOLDING: u8 = 3;
const DRAINING: u8 = 4;

const FULL: f64 = 80.0; // %
const EMPTY: f64 = 5.0; // %
const HOT: f64 = 70.0; // °C
const HOLD_POLLS: u32 = 5;

process_image! {
    inputs: struct Inputs {
        start: bool,
        stop: bool,
        /// Tank level, %.
        level: f64,
        /// Tank temperature, °C.
        temperature: f64,
    }
    outputs: struct Outputs {
        state: u8,
        inlet: bool,
        heater: bool,
        outlet: bool,
        step_polls: u32,
    }
    retain(layout = 1): struct Retain {
        step: u8,
        polls_in_step: u32,
        batches: u32,
    }
}

program! { init: init, poll: poll }

fn name(state: u8) -> &'static str {
    match state {
        IDLE => "IDLE",
        FILLING => "FILLING",
        HEATING => "HEATING",
        HOLDING => "HOLDING",
        DRAINING => "DRAINING",
        _ => "?",
    }
}

fn init(io: Io) {
    if start_kind() != StartKind::ColdLoad && !retain_restored() {
        warn!("sequencer: retained state lost, starting in IDLE");
    } else if io.retain.step != IDLE {
        info!(
            "sequencer: continuing in {} ({} batches done)",
            name(io.retain.step),
            io.retain.batches
        );
    }
}

fn poll(io: Io) {
    let (inputs, state) = (io.inputs, io.retain);
    let next = if inputs.stop {
        IDLE
    } else {
        match state.step {
            IDLE if inputs.start => FILLING,
            FILLING if inputs.level >= FULL => HEATING,
            HEATING if inputs.temperature >= HOT => HOLDING,
            HOLDING if state.polls_in_step >= HOLD_POLLS => DRAINING,
            DRAINING if inputs.level <= EMPTY => {
                state.batches += 1;
                IDLE
            }
            IDLE | FILLING | HEATING | HOLDING | DRAINING => state.step,
            _ => IDLE, // unknown state (corrupted retain): safe state
        }
    };
    if next != state.step {
        info!("sequencer: {} -> {}", name(state.step), name(next));
        state.step = next;
        state.polls_in_step = 0;
    } else {
        state.polls_in_step += 1;
    }
    let out = io.outputs;
    out.state = state.step;
    out.inlet = state.step == FILLING;
    out.heater = state.step == HEATING || state.step == HOLDING;
    out.outlet = state.step == DRAINING;
    out.step_polls = state.polls_in_step;
}
