//! Deadline mode: no instruction count, every call into the guest stopped
//! by the watchdog once it runs past the runtime's deadline.

mod common;

use common::fixture;
use std::time::{Duration, Instant};
use wasmcell::{ErrorKind, FaultKind, Limits, Runtime};

const DEADLINE_NS: u64 = 30_000_000;

fn deadline_runtime(deadline_ns: u64) -> Runtime {
    let rt = Runtime::default();
    rt.set_default_limits(Limits {
        deadline_ns,
        // A budget that would stop every test program at once: deadline
        // mode must not count.
        fuel_per_poll: 10,
        ..Limits::default()
    })
    .unwrap();
    rt
}

/// 2 million iterations of a short loop: far more than 10 instructions.
const LONG_LOOP: &str = r#"(module
    (global $total (export "total") (mut i64) (i64.const 0))
    (func (export "poll") (local i32)
      (loop $l
        (global.set $total (i64.add (global.get $total) (i64.const 1)))
        (local.set 0 (i32.add (local.get 0) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get 0) (i32.const 2000000))))))"#;

#[test]
fn a_poll_runs_uncounted_and_an_endless_one_is_stopped_at_the_deadline() {
    let rt = deadline_runtime(DEADLINE_NS);
    let worker = rt.load("worker", LONG_LOOP.as_bytes()).unwrap();
    assert!(worker.deadline_mode());
    worker.poll().unwrap();
    assert_eq!(worker.stats().last_fuel_used, 0);
    assert_eq!(worker.watchdog(), (DEADLINE_NS, 1));

    let spin = rt.load("spin", &fixture("infinite_loop.wat")).unwrap();
    let started = Instant::now();
    let err = spin.poll().unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Watchdog, "{err}");
    assert_eq!(spin.fault_kind(), FaultKind::Watchdog);
    assert!(took >= Duration::from_nanos(DEADLINE_NS), "early: {took:?}");
    assert!(took < Duration::from_secs(2), "stopped after {took:?}");
    // The other program keeps running; a reset program stays in the mode.
    worker.poll().unwrap();
    spin.reset().unwrap();
    assert!(spin.deadline_mode());
    assert_eq!(spin.poll().unwrap_err().kind(), ErrorKind::Watchdog);
}

#[test]
fn init_and_the_start_function_are_stopped_too() {
    let rt = deadline_runtime(DEADLINE_NS);
    let endless_init = r#"(module (func (export "poll"))
        (func (export "init") (loop $l (br $l))))"#;
    let err = rt.load("init", endless_init.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Instantiate, "{err}");
    assert!(
        err.message().contains("init: stopped by the watchdog"),
        "{err}"
    );

    let endless_start = r#"(module (func (export "poll"))
        (func $start (loop $l (br $l))) (start $start))"#;
    let err = rt.load("start", endless_start.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Instantiate, "{err}");
    assert!(
        err.message()
            .contains("start function: stopped by the watchdog"),
        "{err}"
    );

    // A start function that ends still runs, before `init`.
    let ordered = r#"(module
        (global $step (mut i32) (i32.const 0))
        (func $start (global.set $step (i32.const 1)))
        (start $start)
        (func (export "init")
          (if (i32.ne (global.get $step) (i32.const 1)) (then unreachable))
          (global.set $step (i32.const 2)))
        (func (export "poll") (result i32)
          (i32.sub (global.get $step) (i32.const 2))))"#;
    rt.load("ordered", ordered.as_bytes())
        .unwrap()
        .poll()
        .unwrap();
}

#[test]
fn a_shadow_poll_is_stopped_at_the_deadline() {
    let rt = deadline_runtime(DEADLINE_NS);
    let program = rt.load("p", &fixture("hello.wat")).unwrap();
    let mut prepared = program
        .prepare_reload(&fixture("infinite_loop.wat"))
        .unwrap();
    let err = prepared.shadow_poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Watchdog, "{err}");
    // The running version was never touched.
    program.poll().unwrap();
}

#[test]
fn the_budget_cannot_be_set_and_the_watchdog_not_turned_off() {
    let rt = deadline_runtime(DEADLINE_NS);
    let program = rt.load("p", &fixture("hello.wat")).unwrap();
    let err = program.set_fuel(1_000).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("deadline mode"), "{err}");
    let err = program.set_watchdog(0, 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    // A longer or shorter time is fine.
    program.set_watchdog(5_000_000, 2).unwrap();
    assert_eq!(program.watchdog(), (5_000_000, 2));
    // The mode is chosen at load.
    let mut limits = program.limits();
    limits.deadline_ns = 0;
    let err = program.set_limits(limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    limits.deadline_ns = 7_000_000;
    program.set_limits(limits).unwrap();
    assert_eq!(program.watchdog(), (7_000_000, 2));

    // The counting mode cannot be switched to deadline mode either.
    let counting = Runtime::default()
        .load("counting", &fixture("hello.wat"))
        .unwrap();
    assert!(!counting.deadline_mode());
    let mut limits = counting.limits();
    limits.deadline_ns = 1_000_000;
    assert_eq!(
        counting.set_limits(limits).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn the_same_module_compiles_separately_for_each_mode() {
    // One runtime, one module cache: a module compiled for counting must
    // not be handed to a program loaded in deadline mode, nor back.
    let rt = Runtime::default();
    rt.set_default_limits(Limits {
        fuel_per_poll: 1_000_000,
        ..Limits::default()
    })
    .unwrap();
    let bytes = fixture("infinite_loop.wat");
    let counted = rt.load("counted", &bytes).unwrap();
    assert_eq!(counted.poll().unwrap_err().kind(), ErrorKind::Budget);
    rt.set_default_limits(Limits {
        deadline_ns: DEADLINE_NS,
        fuel_per_poll: 1_000_000,
        ..Limits::default()
    })
    .unwrap();
    let timed = rt.load("timed", &bytes).unwrap();
    assert_eq!(timed.poll().unwrap_err().kind(), ErrorKind::Watchdog);
    rt.set_default_limits(Limits {
        fuel_per_poll: 1_000_000,
        ..Limits::default()
    })
    .unwrap();
    let counted_again = rt.load("counted again", &bytes).unwrap();
    assert_eq!(counted_again.poll().unwrap_err().kind(), ErrorKind::Budget);
    assert_eq!(rt.cache_stats().memory_hits, 1);
}
