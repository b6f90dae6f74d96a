//! Fault handling the way a PLC does it: a watchdog that stops a poll while
//! it runs and counts overruns, and safe outputs on a fault.

mod common;

use common::fixture;
use std::time::{Duration, Instant};
use wasmcell::{ErrorKind, FaultKind, FaultOutputs, HostCall, Runtime, Val};

#[test]
fn the_watchdog_stops_an_endless_loop_the_budget_would_allow() {
    let rt = Runtime::default();
    let neighbour = rt.load("neighbour", &fixture("hello.wat")).unwrap();
    let spin = rt.load("spin", &fixture("infinite_loop.wat")).unwrap();
    // A budget worth minutes of spinning: only the watchdog can stop it.
    spin.set_fuel(u64::MAX / 4).unwrap();
    spin.set_watchdog(50_000_000, 1).unwrap();
    let started = Instant::now();
    let err = spin.poll().unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Watchdog, "{err}");
    assert_eq!(spin.fault_kind(), FaultKind::Watchdog);
    assert!(err.message().contains("watchdog"), "{err}");
    assert!(took >= Duration::from_millis(50), "stopped early: {took:?}");
    assert!(
        took < Duration::from_millis(100),
        "stopped after {took:?} (limit 50 ms)"
    );
    assert_eq!(spin.stats().overruns, 1);
    neighbour.poll().unwrap();
    // Reset clears the fault; the watchdog stays set.
    spin.reset().unwrap();
    assert_eq!(spin.poll().unwrap_err().kind(), ErrorKind::Watchdog);
}

#[test]
fn polls_within_the_time_pay_nothing_and_are_not_counted() {
    let rt = Runtime::default();
    let program = rt
        .load("quick", br#"(module (func (export "poll")))"#)
        .unwrap();
    program.set_watchdog(10_000_000, 2).unwrap();
    for i in 0..10_000 {
        if let Err(e) = program.poll() {
            panic!(
                "poll {i}: {e}; last poll took {} ns",
                program.stats().last_poll_ns
            );
        }
    }
    assert_eq!(program.stats().overruns, 0);
    // Off again.
    program.set_watchdog(0, 0).unwrap();
    assert_eq!(program.watchdog().0, 0);
}

#[test]
fn sensitivity_overruns_in_a_row_fault_the_program() {
    let rt = Runtime::default();
    let sleep_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(3));
    let ms = sleep_ms.clone();
    rt.define(
        "test",
        "tick",
        "(i)",
        move |_: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| {
            std::thread::sleep(Duration::from_millis(
                ms.load(std::sync::atomic::Ordering::SeqCst),
            ));
            Ok(())
        },
    )
    .unwrap();
    let program = rt.load("slow", &fixture("counter.wat")).unwrap();
    // 2 ms time, sensitivity 3: a 3 ms poll overruns, but is well under the
    // 3 x 2 ms stop limit; the third in a row faults.
    program.set_watchdog(2_000_000, 3).unwrap();
    program.poll().unwrap();
    program.poll().unwrap();
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Watchdog, "{err}");
    assert!(err.message().contains("3 polls in a row"), "{err}");
    assert_eq!(program.stats().overruns, 3);
    // A good poll in between resets the count.
    program.reset().unwrap();
    program.poll().unwrap();
    sleep_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    program.poll().unwrap();
    sleep_ms.store(3, std::sync::atomic::Ordering::SeqCst);
    program.poll().unwrap();
    program.poll().unwrap();
    assert_eq!(program.stats().overruns, 6);
}

fn motor_on(program: &wasmcell::Program) -> (u8, u64) {
    let mut out = [0u8; 1];
    let poll = program.read_outputs(0, &mut out).unwrap();
    (out[0], poll)
}

#[test]
fn safe_outputs_are_published_on_every_kind_of_fault() {
    let rt = Runtime::default();
    let program = rt.load("conveyor", &fixture("conveyor.wat")).unwrap();
    program.set_fault_outputs(FaultOutputs::Defaults).unwrap();
    let run = |speed: f64| {
        program.write_inputs(0, &speed.to_le_bytes()).unwrap();
        program.write_inputs(8, &[1]).unwrap();
    };
    // A trap (negative speed).
    run(1.0);
    program.poll().unwrap();
    assert_eq!(motor_on(&program), (1, 1));
    run(-1.0);
    assert_eq!(program.poll().unwrap_err().kind(), ErrorKind::Trap);
    assert_eq!(
        motor_on(&program),
        (0, 2),
        "motor off, numbered with the faulting poll"
    );
    // Budget exhaustion.
    program.reset().unwrap();
    run(1.0);
    program.poll().unwrap();
    assert_eq!(motor_on(&program), (1, 3));
    program.set_fuel(1).unwrap();
    assert_eq!(program.poll().unwrap_err().kind(), ErrorKind::Budget);
    assert_eq!(motor_on(&program), (0, 4));
    // Hold keeps the last good outputs.
    program.set_fuel(1_000_000).unwrap();
    program.reset().unwrap();
    program.set_fault_outputs(FaultOutputs::Hold).unwrap();
    program.poll().unwrap();
    run(-1.0);
    program.poll().unwrap_err();
    assert_eq!(motor_on(&program), (1, 5));
}

#[test]
fn safe_outputs_on_watchdog_and_host_error_faults() {
    let rt = Runtime::default();
    rt.define(
        "test",
        "check",
        "(i)",
        |_: &mut HostCall<'_>, args: &[Val], _: &mut [Val]| match args[0] {
            Val::I32(2) => Err(7),
            _ => Ok(()),
        },
    )
    .unwrap();
    // Output: one byte at 16, initialised to 0 by the module; input byte at 0
    // selects: 0 runs (output 1), 1 spins forever, 2 fails a host call.
    let wat = br#"(module
      (import "test" "check" (func $check (param i32)))
      (memory (export "memory") 1)
      (data (i32.const 64) "WCIM\01\00\00\00" "\00\00\00\00\01\00\00\00" "\10\00\00\00\01\00\00\00"
                           "\00\00\00\00\00\00\00\00" "\00\00\00\00" "\00\00\00\00\00\00\00\00")
      (func (export "wasmcell_image") (result i32) (i32.const 64))
      (func (export "poll")
        (i32.store8 (i32.const 16) (i32.const 1))
        (call $check (i32.load8_u (i32.const 0)))
        (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 1)) (then (loop $l (br $l))))))"#;
    let program = rt.load("select", wat).unwrap();
    program.set_fault_outputs(FaultOutputs::Defaults).unwrap();
    program.set_fuel(u64::MAX / 4).unwrap();
    program.set_watchdog(20_000_000, 1).unwrap();
    for (select, kind) in [(1u8, ErrorKind::Watchdog), (2, ErrorKind::Host)] {
        program.write_inputs(0, &[0]).unwrap();
        program.poll().unwrap();
        assert_eq!(motor_on_at(&program), 1);
        program.write_inputs(0, &[select]).unwrap();
        assert_eq!(program.poll().unwrap_err().kind(), kind);
        assert_eq!(motor_on_at(&program), 0, "{kind:?}");
        program.reset().unwrap();
    }
}

fn motor_on_at(program: &wasmcell::Program) -> u8 {
    let mut out = [0u8; 1];
    program.read_outputs(0, &mut out).unwrap();
    out[0]
}
