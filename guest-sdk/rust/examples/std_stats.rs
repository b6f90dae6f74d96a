//! A program on Rust's standard library with the SDK's `std` feature: a
//! HashMap, String formatting, f64::ln (libm), std::time next to the SDK's
//! clock, println! through WASI next to the SDK's log!, and a panic that
//! the SDK's panic hook logs.
//!
//! Build for WASI preview 1 (wasmcell provides the subset it needs):
//!   cargo build --release --target wasm32-wasip1 --features std --example std_stats
#![no_std]
extern crate std;

use std::collections::HashMap;
use std::string::String;
use wasmcell_guest::{info, process_image, program};

process_image! {
    inputs: struct Inputs {
        sample: f64,
        /// Any non-zero value panics, on purpose.
        fail: bool,
    }
    outputs: struct Outputs {
        samples: u32,
        distinct: u32,
        log_mean: f64,
    }
}

program! { init: init, poll: poll }

fn init(_io: Io) {
    info!("std_stats: online");
}

fn poll(io: Io) {
    if io.inputs.fail {
        let why = String::from("asked to fail");
        panic!("std_stats: {why}");
    }
    // A HashMap per poll keeps the program stateless between polls; it
    // exercises the allocator and random_get (HashMap's RandomState).
    let mut seen: HashMap<u64, u32> = HashMap::new();
    let n = io.outputs.samples + 1;
    for k in 0..n {
        *seen
            .entry((io.inputs.sample as u64).wrapping_add(k as u64 % 3))
            .or_default() += 1;
    }
    io.outputs.samples = n;
    io.outputs.distinct = seen.len() as u32;
    io.outputs.log_mean = io.inputs.sample.max(1.0).ln();
    std::println!("std_stats: {} samples, {} distinct", n, seen.len());
}
