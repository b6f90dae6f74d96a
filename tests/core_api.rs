//! The safe Rust API, exercised on the WAT fixtures shared with the C and
//! Python suites.

mod common;

use common::{fixture, record_arg};
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use wasmcell::{ErrorKind, FaultKind, Limits, LogLevel, ProgramState, Runtime, Val};

/// A runtime whose guest output is captured, with `test.tick(i)` recording its argument.
/// Guest output as (program, level, text).
type Lines = Arc<Mutex<Vec<(String, LogLevel, String)>>>;

fn runtime_with_capture() -> (Runtime, Lines, Arc<AtomicI64>) {
    let rt = Runtime::default();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    rt.set_log_sink(move |program: &str, level: LogLevel, message: &[u8]| {
        sink.lock().unwrap().push((
            program.to_string(),
            level,
            String::from_utf8_lossy(message).into_owned(),
        ));
    })
    .unwrap();
    let ticks = record_arg(&rt, "test", "tick", "(i)");
    (rt, lines, ticks)
}

#[test]
fn the_original_example_prints_polling_each_poll() {
    let (rt, lines, _) = runtime_with_capture();
    let program = rt.load("hello", &fixture("hello.wat")).unwrap();
    for _ in 0..3 {
        program.poll().unwrap();
    }
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 3);
    for (program, level, text) in lines.iter() {
        assert_eq!(program, "hello");
        assert_eq!(*level, LogLevel::Print);
        assert_eq!(text, "Polling\n");
    }
    assert_eq!(program.stats().polls, 3);
}

#[test]
fn init_runs_before_the_first_poll_and_state_persists_between_polls() {
    let (rt, _, ticks) = runtime_with_capture();
    let program = rt.load("counter", &fixture("counter.wat")).unwrap();
    program.poll().unwrap();
    assert_eq!(ticks.load(Ordering::SeqCst), 101);
    program.poll().unwrap();
    assert_eq!(ticks.load(Ordering::SeqCst), 102);
    assert_eq!(program.state(), ProgramState::Ready);
}

#[test]
fn a_trap_faults_the_program_until_reset() {
    let rt = Runtime::default();
    let program = rt.load("bad", &fixture("unreachable.wat")).unwrap();
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap);
    assert!(err.message().contains("unreachable"), "{}", err.message());
    assert!(
        err.message().contains("explode"),
        "names the wasm function: {}",
        err.message()
    );
    assert_eq!(program.state(), ProgramState::Faulted);
    assert_eq!(program.fault_kind(), FaultKind::Unreachable);
    let again = program.poll().unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Faulted);
    assert!(program.fault().unwrap().message.contains("unreachable"));
    program.reset().unwrap();
    assert_eq!(program.state(), ProgramState::Ready);
    assert!(program.fault().is_none());
    assert_eq!(program.poll().unwrap_err().kind(), ErrorKind::Trap);
    assert_eq!(program.stats().faults, 2);
}

#[test]
fn traps_are_classified() {
    let rt = Runtime::default();
    for (file, kind) in [
        ("divide_by_zero.wat", FaultKind::IntegerDivideByZero),
        ("out_of_bounds.wat", FaultKind::MemoryOutOfBounds),
        ("recursion.wat", FaultKind::StackOverflow),
    ] {
        let program = rt.load(file, &fixture(file)).unwrap();
        let err = program.poll().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Trap, "{file}: {err}");
        assert_eq!(program.fault_kind(), kind, "{file}: {err}");
    }
}

#[test]
fn an_infinite_loop_exhausts_the_budget() {
    let rt = Runtime::default();
    let program = rt.load("spin", &fixture("infinite_loop.wat")).unwrap();
    program.set_fuel(10_000).unwrap();
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Budget, "{err}");
    assert_eq!(program.fault_kind(), FaultKind::BudgetExhausted);
    assert_eq!(program.stats().last_fuel_used, 10_000);
    program.reset().unwrap();
    assert_eq!(program.poll().unwrap_err().kind(), ErrorKind::Budget);
}

#[test]
fn fuel_used_is_reported_for_a_good_poll() {
    let (rt, _, _) = runtime_with_capture();
    let program = rt.load("counter", &fixture("counter.wat")).unwrap();
    program.poll().unwrap();
    let used = program.stats().last_fuel_used;
    assert!(used > 0 && used < 100, "fuel used {used}");
}

#[test]
fn a_memory_bomb_is_refused_inside_the_guest() {
    let rt = Runtime::default();
    let grew = record_arg(&rt, "test", "grew", "(i)");
    let program = rt.load("bomb", &fixture("memory_bomb.wat")).unwrap();
    program.poll().unwrap();
    assert_eq!(
        grew.load(Ordering::SeqCst),
        -1,
        "memory.grow past the limit returns -1"
    );
}

#[test]
fn a_module_whose_initial_memory_exceeds_the_limit_fails_to_load() {
    let rt = Runtime::default();
    let err = rt
        .load("huge", &fixture("huge_memory_minimum.wat"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert!(err.message().contains("memory limit"), "{err}");
    rt.set_default_limits(Limits {
        max_memory_bytes: 2 << 30,
        ..Limits::default()
    })
    .unwrap();
    rt.load("huge", &fixture("huge_memory_minimum.wat"))
        .unwrap();
}

#[test]
fn load_errors_are_distinguished() {
    let rt = Runtime::default();
    let cases: &[(&[u8], ErrorKind, &str)] = &[
        (
            b"\0asm\x01\0\0\0\xff",
            ErrorKind::Compile,
            "invalid WebAssembly",
        ),
        (
            b"definitely not wasm",
            ErrorKind::Compile,
            "not a WebAssembly module",
        ),
        (&[0xff, 0xfe, 0x00], ErrorKind::Compile, "not UTF-8"),
        (
            &fixture("no_poll.wat"),
            ErrorKind::Link,
            "does not export a `poll`",
        ),
        (
            &fixture("bad_poll_signature.wat"),
            ErrorKind::Link,
            "export `poll` has type",
        ),
        (
            &fixture("missing_import.wat"),
            ErrorKind::Link,
            "plant.read_valve",
        ),
        (
            &fixture("start_trap.wat"),
            ErrorKind::Instantiate,
            "start function",
        ),
        (&fixture("init_trap.wat"), ErrorKind::Instantiate, "init"),
    ];
    for (bytes, kind, needle) in cases {
        let err = rt.load("p", bytes).unwrap_err();
        assert_eq!(err.kind(), *kind, "{err}");
        assert!(err.message().contains(needle), "{needle:?} not in {err}");
    }
}

#[test]
fn an_import_with_the_wrong_type_is_a_link_error() {
    let rt = Runtime::default();
    rt.define(
        "test",
        "tick",
        "(I)",
        |_: &mut wasmcell::HostCall<'_>, _: &[Val], _: &mut [Val]| Ok(()),
    )
    .unwrap();
    let err = rt.load("counter", &fixture("counter.wat")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link);
    assert!(err.message().contains("test.tick"), "{err}");
}

#[test]
fn host_functions_get_buffers_scalars_and_can_fail() {
    let rt = Runtime::default();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let actuator = Arc::new(AtomicI32::new(-1));
    let sensor = Arc::new(AtomicI64::new(80));
    let (s, a, r) = (sent.clone(), actuator.clone(), sensor.clone());
    rt.define(
        "plant",
        "read_sensor",
        "(i)F",
        move |_: &mut wasmcell::HostCall<'_>, _: &[Val], out: &mut [Val]| {
            out[0] = Val::F64(r.load(Ordering::SeqCst) as f64);
            Ok(())
        },
    )
    .unwrap();
    rt.define(
        "plant",
        "set_actuator",
        "(ii)",
        move |_: &mut wasmcell::HostCall<'_>, args: &[Val], _: &mut [Val]| {
            if let Val::I32(v) = args[1] {
                a.store(v, Ordering::SeqCst);
            }
            Ok(())
        },
    )
    .unwrap();
    rt.define(
        "plant",
        "send",
        "(*~)i",
        move |call: &mut wasmcell::HostCall<'_>, args: &[Val], out: &mut [Val]| {
            let bytes = call.buf(&args[0]).unwrap().to_vec();
            if bytes == b"cycle" && s.lock().unwrap().len() >= 2 {
                call.set_error_message("queue full");
                return Err(42);
            }
            s.lock().unwrap().push(bytes);
            out[0] = Val::I32(0);
            Ok(())
        },
    )
    .unwrap();
    let program = rt.load("plant", &fixture("callbacks.wat")).unwrap();
    program.poll().unwrap();
    assert_eq!(actuator.load(Ordering::SeqCst), 1);
    sensor.store(10, Ordering::SeqCst);
    program.poll().unwrap();
    assert_eq!(actuator.load(Ordering::SeqCst), 0);
    assert_eq!(
        sent.lock().unwrap().as_slice(),
        &[b"cycle".to_vec(), b"cycle".to_vec()]
    );
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host);
    assert!(err.message().contains("plant.send"), "{err}");
    assert!(err.message().contains("error 42: queue full"), "{err}");
    assert_eq!(program.fault_kind(), FaultKind::HostError);
}

#[test]
fn a_panicking_host_function_faults_only_its_program() {
    let rt = Runtime::default();
    rt.define(
        "test",
        "tick",
        "(i)",
        |_: &mut wasmcell::HostCall<'_>, _: &[Val], _: &mut [Val]| -> Result<(), i32> {
            panic!("sensor driver bug")
        },
    )
    .unwrap();
    let program = rt.load("counter", &fixture("counter.wat")).unwrap();
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host);
    assert!(err.message().contains("panicked"), "{err}");
}

#[test]
fn guest_reported_faults_use_the_return_value() {
    let rt = Runtime::default();
    let program = rt.load("g", &fixture("guest_fault.wat")).unwrap();
    program.poll().unwrap();
    program.poll().unwrap();
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::GuestFault);
    assert!(err.message().contains("fault code 7"), "{err}");
}

#[test]
fn logging_and_a_replaceable_clock() {
    let (rt, lines, _) = runtime_with_capture();
    let time = record_arg(&rt, "test", "time", "(I)");
    rt.set_clock(|| 123_456_789i64).unwrap();
    let program = rt.load("logger", &fixture("logger.wat")).unwrap();
    program.poll().unwrap();
    assert_eq!(time.load(Ordering::SeqCst), 123_456_789);
    assert_eq!(
        lines.lock().unwrap().as_slice(),
        &[(
            "logger".to_string(),
            LogLevel::Warn,
            "warn line".to_string()
        )]
    );
    rt.reset_clock().unwrap();
    program.poll().unwrap();
    assert_ne!(time.load(Ordering::SeqCst), 123_456_789);
}

#[test]
fn a_callback_that_reenters_its_program_gets_busy() {
    let rt = Runtime::default();
    let slot: Arc<Mutex<Option<wasmcell::Program>>> = Arc::new(Mutex::new(None));
    let kinds = Arc::new(Mutex::new(Vec::new()));
    let (s, k) = (slot.clone(), kinds.clone());
    rt.define(
        "test",
        "reenter",
        "()",
        move |_: &mut wasmcell::HostCall<'_>, _: &[Val], _: &mut [Val]| {
            let program = s.lock().unwrap().clone().unwrap();
            let mut k = k.lock().unwrap();
            k.push(program.poll().unwrap_err().kind());
            k.push(program.reset().unwrap_err().kind());
            k.push(
                program
                    .reload(b"(module (func (export \"poll\")))")
                    .unwrap_err()
                    .kind(),
            );
            k.push(program.unload().unwrap_err().kind());
            Ok(())
        },
    )
    .unwrap();
    let program = rt.load("re", &fixture("reenter.wat")).unwrap();
    *slot.lock().unwrap() = Some(program.clone());
    program.poll().unwrap();
    assert_eq!(kinds.lock().unwrap().as_slice(), &[ErrorKind::Busy; 4]);
    program.unload().unwrap();
}

#[test]
fn unload_and_close_invalidate() {
    let (rt, _, _) = runtime_with_capture();
    let program = rt.load("counter", &fixture("counter.wat")).unwrap();
    program.unload().unwrap();
    assert_eq!(program.state(), ProgramState::Unloaded);
    assert_eq!(program.poll().unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert_eq!(
        program.unload().unwrap_err().kind(),
        ErrorKind::InvalidHandle
    );
    let other = rt.load("counter2", &fixture("counter.wat")).unwrap();
    rt.close().unwrap();
    assert_eq!(other.poll().unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert_eq!(
        rt.load("x", &fixture("hello.wat")).unwrap_err().kind(),
        ErrorKind::InvalidHandle
    );
    rt.close().unwrap();
}

#[test]
fn a_faulting_program_does_not_disturb_its_neighbour() {
    let (rt, lines, _) = runtime_with_capture();
    let healthy = rt.load("hello", &fixture("hello.wat")).unwrap();
    let flaky = rt.load("flaky", &fixture("flaky.wat")).unwrap();
    let mut faults = 0;
    for _ in 0..100 {
        healthy.poll().unwrap();
        if flaky.poll().is_err() {
            faults += 1;
            flaky.reset().unwrap();
        }
    }
    assert_eq!(faults, 20);
    assert_eq!(healthy.stats().polls, 100);
    assert_eq!(lines.lock().unwrap().len(), 100);
}

#[test]
fn reload_swaps_and_a_failed_reload_keeps_the_old_program() {
    let (rt, _, ticks) = runtime_with_capture();
    let program = rt.load("p", &fixture("unreachable.wat")).unwrap();
    assert!(program.poll().is_err());
    let err = program.reload(b"not wasm").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compile);
    assert_eq!(
        program.state(),
        ProgramState::Faulted,
        "failed reload changes nothing"
    );
    program.reload(&fixture("counter.wat")).unwrap();
    assert_eq!(program.state(), ProgramState::Ready);
    program.poll().unwrap();
    assert_eq!(ticks.load(Ordering::SeqCst), 101);
}

#[test]
fn polls_without_timing_leave_the_durations_alone() {
    let rt = Runtime::default();
    let program = rt.load("conveyor", &fixture("conveyor.wat")).unwrap();
    assert!(program.timing(), "timing is on by default");
    program.poll().unwrap();
    let timed = program.stats();
    assert!(timed.last_poll_ns > 0 && timed.total_poll_ns > 0);

    program.set_timing(false).unwrap();
    assert!(!program.timing());
    for _ in 0..50 {
        program.poll().unwrap();
    }
    let untimed = program.stats();
    assert_eq!(untimed.polls, timed.polls + 50, "polls are still counted");
    assert_eq!(
        (
            untimed.last_poll_ns,
            untimed.max_poll_ns,
            untimed.total_poll_ns
        ),
        (timed.last_poll_ns, timed.max_poll_ns, timed.total_poll_ns),
        "no duration was recorded"
    );

    // A watchdog needs the time: its polls are timed even with timing off.
    program.set_watchdog(1_000_000_000, 1).unwrap();
    program.poll().unwrap();
    assert!(program.stats().total_poll_ns > untimed.total_poll_ns);
    program.set_watchdog(0, 1).unwrap();

    program.set_timing(true).unwrap();
    let before = program.stats().total_poll_ns;
    program.poll().unwrap();
    assert!(program.stats().total_poll_ns > before, "timing resumes");
    program.unload().unwrap();
    assert_eq!(
        program.set_timing(true).unwrap_err().kind(),
        ErrorKind::InvalidHandle
    );
}
