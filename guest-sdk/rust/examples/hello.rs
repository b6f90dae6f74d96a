//! The smallest SDK program: no process image; output, logging, the clock.
//! Build: cargo build --release --target wasm32-unknown-unknown --example hello
#![no_std]

use wasmcell_guest::{info, now, println, program, start_kind, StartKind};

program! { init: init, poll: poll }

fn init() {
    let why = match start_kind() {
        StartKind::ColdLoad => "loaded",
        StartKind::Reset => "reset",
        StartKind::Reload => "reloaded",
        StartKind::Unknown(_) => "started",
    };
    info!("hello: {why}");
}

fn poll() {
    println!("Polling at {} ns", now().as_nanos());
}
