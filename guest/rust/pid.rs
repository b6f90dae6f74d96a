//! A PID temperature controller on the wasmcell guest SDK, driven through
//! its process image only (no host functions): the host writes the setpoint
//! and the measured temperature, and reads the heater command.
//!
//! Build (the Makefile does it: `make guests` → build/guests/pid_rust.wasm):
//!   cargo build --release --target wasm32-unknown-unknown \
//!       --manifest-path guest-sdk/rust/Cargo.toml --example pid
//! Its WAT twin, guest/pid.wat, does the same arithmetic in the same order.
//!
//! The controller runs once per poll with a fixed cycle of DT seconds:
//!   e = setpoint - temperature
//!   u = KP*e + (integral + KI*e*DT) - KD*(temperature - last temperature)/DT
//! The heater command is u clamped to 0..100 %. The integral is kept in the
//! retain area, so a reset or a hot swap to a new version is bumpless; it
//! stops growing while the output is saturated in the direction of the
//! error (anti-windup). Disabled, the heater is off and the integral cleared.
#![no_std]

use wasmcell_guest::{info, process_image, program, retain_restored, start_kind, StartKind};

const KP: f64 = 4.0; // % per K
const KI: f64 = 0.5; // % per K·s
const KD: f64 = 10.0; // % per K/s
const DT: f64 = 0.1; // s, the poll period
const OUT_MIN: f64 = 0.0;
const OUT_MAX: f64 = 100.0;

process_image! {
    inputs: struct Inputs {
        /// Wanted temperature, °C.
        setpoint: f64,
        /// Measured temperature, °C.
        temperature: f64,
        /// Control on; off: heater off, integral cleared.
        enable: bool,
    }
    outputs: struct Outputs {
        /// Heater command, 0..100 %.
        heater: f64,
        /// setpoint - temperature, K.
        error: f64,
        /// The command hit a limit.
        saturated: bool,
    }
    retain(layout = 1): struct Retain {
        /// Integral term, %.
        integral: f64,
        /// Temperature of the previous poll, °C (derivative on measurement).
        last_temperature: f64,
        /// last_temperature holds a measurement.
        primed: bool,
    }
}

program! { init: init, poll: poll }

fn init(io: Io) {
    match (start_kind(), retain_restored()) {
        (StartKind::ColdLoad, _) => info!("pid: cold start"),
        (_, true) => info!("pid: restarted, integral {:.3} % kept", io.retain.integral),
        (kind, false) => info!("pid: {:?} without retained state, integral from 0", kind),
    }
}

fn poll(io: Io) {
    let (inputs, out, state) = (io.inputs, io.outputs, io.retain);
    let e = inputs.setpoint - inputs.temperature;
    out.error = e;
    if !inputs.enable {
        out.heater = 0.0;
        out.saturated = false;
        state.integral = 0.0;
        state.primed = false;
        return;
    }
    let slope = if state.primed {
        (inputs.temperature - state.last_temperature) / DT
    } else {
        0.0
    };
    state.last_temperature = inputs.temperature;
    state.primed = true;
    let p = KP * e;
    let i = state.integral + KI * e * DT;
    let d = -KD * slope;
    let u = p + i + d;
    if !((u > OUT_MAX && e > 0.0) || (u < OUT_MIN && e < 0.0)) {
        state.integral = i;
    }
    out.heater = u.clamp(OUT_MIN, OUT_MAX);
    // Written out (not `!range.contains(&u)`): a NaN is not "saturated",
    // as in the C and WAT versions.
    #[allow(clippy::manual_range_contains)]
    let saturated = u > OUT_MAX || u < OUT_MIN;
    out.saturated = saturated;
}
