//! A steady poll allocates nothing: not with a process image, not with
//! `env.print`/`wasmcell.log` into a host sink, not with WASI `fd_write`, not
//! with scalar and buffer host callbacks. An allocation in the control loop
//! is a latency spike waiting to happen (and a lock inside malloc).
//!
//! Counted by a global allocator that counts only on the thread (and only in
//! the window) being measured (`tests/alloc_count`).

mod alloc_count;
mod common;

use alloc_count::{allocations_in, ENGINE_ALLOCATIONS};
use common::fixture;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmcell::{HostCall, LogLevel, Program, Runtime, Val};

/// Asserts that the measured polls allocated nothing beyond the engine's own.
#[track_caller]
// `<= 0` off Windows, where ENGINE_ALLOCATIONS is 0: the same check as `== 0`.
#[allow(clippy::absurd_extreme_comparisons)]
fn assert_no_allocations(allocations: u64) {
    assert!(
        allocations <= ENGINE_ALLOCATIONS,
        "{allocations} allocations in 1000 steady polls (the engine's own: at most {ENGINE_ALLOCATIONS})"
    );
}

/// Allocations made by `polls` steady polls of `program` (after warm-up).
fn allocations_per_poll(program: &Program, mut between: impl FnMut()) -> u64 {
    for _ in 0..20 {
        between();
        program.poll().unwrap();
    }
    allocations_in(|| {
        for _ in 0..1000 {
            between();
            program.poll().unwrap();
        }
    })
}

/// A runtime whose log sink counts lines without allocating.
fn quiet_runtime() -> (Runtime, std::sync::Arc<AtomicU64>) {
    let rt = Runtime::default();
    let lines = std::sync::Arc::new(AtomicU64::new(0));
    let seen = lines.clone();
    rt.set_log_sink(move |_: &str, _: LogLevel, _: &[u8]| {
        seen.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    (rt, lines)
}

#[test]
fn an_empty_poll_allocates_nothing() {
    let (rt, _) = quiet_runtime();
    let program = rt
        .load("empty", br#"(module (func (export "poll")))"#)
        .unwrap();
    assert_no_allocations(allocations_per_poll(&program, || {}));
}

#[test]
fn a_poll_with_a_process_image_allocates_nothing() {
    let (rt, _) = quiet_runtime();
    let program = rt.load("conveyor", &fixture("conveyor.wat")).unwrap();
    let mut speed = 0.0f64;
    let mut outputs = [0u8; 24];
    let allocations = allocations_per_poll(&program, || {
        speed += 0.5;
        program.write_inputs(0, &speed.to_le_bytes()).unwrap();
        program.write_inputs(8, &[1]).unwrap();
        program.read_outputs(0, &mut outputs).unwrap();
    });
    assert_no_allocations(allocations);
    assert_eq!(outputs[0], 1, "the conveyor ran");
}

#[test]
fn print_log_and_wasi_output_into_a_host_sink_allocate_nothing() {
    let (rt, lines) = quiet_runtime();
    let program = rt
        .load(
            "chatty",
            br#"(module
              (import "env" "print" (func $print (param i32 i32) (result i32)))
              (import "wasmcell" "log" (func $log (param i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 0) "\40\00\00\00\0c\00\00\00")
              (data (i32.const 64) "wasi line 1\n")
              (data (i32.const 128) "printed\n")
              (func (export "poll")
                (drop (call $print (i32.const 128) (i32.const 8)))
                (drop (call $log (i32.const 3) (i32.const 128) (i32.const 7)))
                (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 32)))
                (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 32)))))"#,
        )
        .unwrap();
    assert_no_allocations(allocations_per_poll(&program, || {}));
    assert_eq!(lines.load(Ordering::Relaxed), 4 * 1020);
}

#[test]
fn scalar_and_buffer_host_callbacks_allocate_nothing() {
    let (rt, _) = quiet_runtime();
    rt.define(
        "plant",
        "read",
        "(i)F",
        |_: &mut HostCall<'_>, args: &[Val], results: &mut [Val]| {
            if let Val::I32(channel) = args[0] {
                results[0] = Val::F64(f64::from(channel) * 0.5);
            }
            Ok(())
        },
    )
    .unwrap();
    rt.define(
        "plant",
        "send",
        "(*~)i",
        |call: &mut HostCall<'_>, args: &[Val], results: &mut [Val]| {
            if let Val::Buf { offset, len } = args[0] {
                let sum: u32 = call.memory()[offset..offset + len]
                    .iter()
                    .map(|&b| u32::from(b))
                    .sum();
                results[0] = Val::I32(sum as i32);
            }
            Ok(())
        },
    )
    .unwrap();
    let program = rt
        .load(
            "calls",
            br#"(module
              (import "plant" "read" (func $read (param i32) (result f64)))
              (import "plant" "send" (func $send (param i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 0) "telegram")
              (func (export "poll")
                (drop (call $read (i32.const 3)))
                (drop (call $send (i32.const 0) (i32.const 8)))))"#,
        )
        .unwrap();
    assert_no_allocations(allocations_per_poll(&program, || {}));
}

#[test]
fn the_counter_sees_an_allocation_in_the_loop() {
    // The instrument itself: one Box per iteration is 1000 allocations.
    let (rt, _) = quiet_runtime();
    let program = rt
        .load("empty", br#"(module (func (export "poll")))"#)
        .unwrap();
    let allocations = allocations_per_poll(&program, || {
        std::hint::black_box(Box::new(1u64));
    });
    assert!(
        (1000..=1000 + ENGINE_ALLOCATIONS).contains(&allocations),
        "{allocations} allocations for 1000 boxes"
    );
}
