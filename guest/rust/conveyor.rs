//! The conveyor of guest/conveyor.wat (and of the hand-packed
//! guest/conveyor.rs) on the wasmcell guest SDK: a program driven only
//! through its process image, no host functions. Same signals, same offsets,
//! same retain layout id, so the host can hot-swap between the three and
//! the travelled distance carries over.
//!
//! Build (the Makefile does it: `make guests` → build/guests/conveyor_rust.wasm):
//!   cargo build --release --target wasm32-unknown-unknown \
//!       --manifest-path guest-sdk/rust/Cargo.toml --example conveyor
//!
//! A negative speed command is a fault: the program half-writes its outputs
//! and panics; the host publishes nothing from that poll, and the log (and
//! the fault message) say "negative speed command".
#![no_std]

use wasmcell_guest::{process_image, program};

process_image! {
    inputs: struct Inputs {
        /// Belt speed command, m per poll.
        speed: f64,
        /// Motor enabled.
        enable: bool,
    }
    outputs: struct Outputs {
        motor_on: bool,
        /// Belt position, m.
        position: f64,
        /// Polls with the motor on.
        pulses: u32,
    }
    retain(layout = 1): struct Retain {
        /// Distance travelled since the first load, m.
        distance: f64,
    }
}

program! { poll: poll }

fn poll(io: Io) {
    let speed = io.inputs.speed;
    if speed < 0.0 {
        io.outputs.motor_on = true;
        io.outputs.position = -999.0;
        panic!("negative speed command: {speed}");
    }
    io.outputs.motor_on = io.inputs.enable;
    if io.inputs.enable {
        io.outputs.position += speed;
        io.outputs.pulses += 1;
        io.retain.distance += speed;
    }
}
