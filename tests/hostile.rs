//! The hostile-guest suite: every attack is contained with the right status
//! and message, the host survives, and a healthy program polled beside it in
//! the same runtime keeps its exact poll count and output.

mod common;

use common::{fixture, record_arg};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use wasmcell::{ErrorKind, FaultKind, HostCall, LogLevel, Program, Runtime, Val};

const POLLS: usize = 10;

/// A runtime with a healthy `hello` program whose output is counted, and the
/// host functions the hostile fixtures import.
struct Bench {
    rt: Runtime,
    healthy: Program,
    lines: Arc<Mutex<Vec<Vec<u8>>>>,
    grew: Arc<AtomicI64>,
}

impl Bench {
    fn new() -> Self {
        let rt = Runtime::default();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        rt.set_log_sink(move |program: &str, _: LogLevel, message: &[u8]| {
            if program == "healthy" {
                sink.lock().unwrap().push(message.to_vec());
            }
        })
        .unwrap();
        let grew = record_arg(&rt, "test", "grew", "(i)");
        rt.define(
            "test",
            "tick",
            "(i)",
            |_: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| Err(13),
        )
        .unwrap();
        let healthy = rt.load("healthy", &fixture("hello.wat")).unwrap();
        Self {
            rt,
            healthy,
            lines,
            grew,
        }
    }

    /// Polls the healthy program POLLS times, running `attack` between polls.
    fn interleave(&self, mut attack: impl FnMut(usize)) {
        for round in 0..POLLS {
            self.healthy
                .poll()
                .expect("the healthy neighbour never fails");
            attack(round);
        }
        self.assert_neighbour_unaffected();
    }

    fn assert_neighbour_unaffected(&self) {
        assert_eq!(self.healthy.stats().polls, POLLS as u64);
        assert_eq!(self.healthy.stats().faults, 0);
        assert_eq!(
            self.lines.lock().unwrap().as_slice(),
            vec![b"Polling\n".to_vec(); POLLS].as_slice()
        );
    }
}

/// A program that faults on poll: every poll attempt gives `kind`/`fault`
/// (first poll) and the program is reset between attempts.
fn assert_poll_contained(file: &str, fuel: u64, kind: ErrorKind, fault: FaultKind, needle: &str) {
    let bench = Bench::new();
    let hostile = bench.rt.load(file, &fixture(file)).unwrap();
    hostile.set_fuel(fuel).unwrap();
    bench.interleave(|_| {
        let err = hostile.poll().unwrap_err();
        assert_eq!(err.kind(), kind, "{file}: {err}");
        assert_eq!(hostile.fault_kind(), fault, "{file}: {err}");
        assert!(
            err.message().contains(needle),
            "{file}: {needle:?} not in {err}"
        );
        assert_eq!(hostile.poll().unwrap_err().kind(), ErrorKind::Faulted);
        hostile.reset().unwrap();
    });
    assert_eq!(hostile.stats().faults, POLLS as u64);
}

/// Bytes that fail to load: every attempt gives `kind`.
fn assert_load_refused(name: &str, bytes: &[u8], kind: ErrorKind, needle: &str) {
    let bench = Bench::new();
    bench.interleave(|_| {
        let err = bench.rt.load(name, bytes).unwrap_err();
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert!(
            err.message().contains(needle),
            "{name}: {needle:?} not in {err}"
        );
    });
}

#[test]
fn infinite_loop_is_stopped_by_the_budget() {
    assert_poll_contained(
        "infinite_loop.wat",
        50_000,
        ErrorKind::Budget,
        FaultKind::BudgetExhausted,
        "budget",
    );
}

#[test]
fn infinite_recursion_is_a_stack_overflow() {
    assert_poll_contained(
        "recursion.wat",
        u64::MAX / 2,
        ErrorKind::Trap,
        FaultKind::StackOverflow,
        "stack overflow",
    );
}

#[test]
fn out_of_bounds_store_traps() {
    assert_poll_contained(
        "out_of_bounds.wat",
        1000,
        ErrorKind::Trap,
        FaultKind::MemoryOutOfBounds,
        "out-of-bounds",
    );
}

#[test]
fn divide_by_zero_traps() {
    assert_poll_contained(
        "divide_by_zero.wat",
        1000,
        ErrorKind::Trap,
        FaultKind::IntegerDivideByZero,
        "divide by zero",
    );
}

#[test]
fn integer_overflow_traps() {
    assert_poll_contained(
        "integer_overflow.wat",
        1000,
        ErrorKind::Trap,
        FaultKind::IntegerOverflow,
        "overflow",
    );
}

#[test]
fn bad_conversion_traps() {
    assert_poll_contained(
        "bad_conversion.wat",
        1000,
        ErrorKind::Trap,
        FaultKind::BadConversionToInteger,
        "conversion",
    );
}

#[test]
fn indirect_call_mismatch_traps() {
    assert_poll_contained(
        "indirect_mismatch.wat",
        1000,
        ErrorKind::Trap,
        FaultKind::IndirectCallMismatch,
        "signature mismatch",
    );
}

#[test]
fn indirect_call_to_null_traps() {
    assert_poll_contained(
        "indirect_null.wat",
        1000,
        ErrorKind::Trap,
        FaultKind::IndirectCallNull,
        "indirect call",
    );
}

#[test]
fn unreachable_traps() {
    assert_poll_contained(
        "unreachable.wat",
        1000,
        ErrorKind::Trap,
        FaultKind::Unreachable,
        "unreachable",
    );
}

#[test]
fn a_failing_callback_faults_with_host_error() {
    assert_poll_contained(
        "counter.wat",
        1000,
        ErrorKind::Host,
        FaultKind::HostError,
        "test.tick` returned error 13",
    );
}

#[test]
fn memory_bomb_gets_minus_one_from_memory_grow() {
    let bench = Bench::new();
    let bomb = bench.rt.load("bomb", &fixture("memory_bomb.wat")).unwrap();
    bench.interleave(|_| {
        bench.grew.store(0, Ordering::SeqCst);
        bomb.poll().unwrap();
        assert_eq!(
            bench.grew.load(Ordering::SeqCst),
            -1,
            "memory.grow to 4 GiB is refused inside the guest"
        );
    });
}

#[test]
fn trap_in_start_function_fails_the_load() {
    assert_load_refused(
        "start",
        &fixture("start_trap.wat"),
        ErrorKind::Instantiate,
        "start function",
    );
}

#[test]
fn trap_in_init_fails_the_load() {
    assert_load_refused(
        "init",
        &fixture("init_trap.wat"),
        ErrorKind::Instantiate,
        "init: unreachable",
    );
}

#[test]
fn malformed_and_truncated_bytes_fail_to_compile() {
    let valid = wat::parse_str(std::str::from_utf8(&fixture("hello.wat")).unwrap()).unwrap();
    assert_load_refused(
        "truncated",
        &valid[..valid.len() / 2],
        ErrorKind::Compile,
        "invalid WebAssembly",
    );
    assert_load_refused(
        "header-only",
        b"\0asm\x01\0\0\0\x01",
        ErrorKind::Compile,
        "invalid WebAssembly",
    );
    assert_load_refused(
        "random",
        &[0x13, 0x37, 0xde, 0xad, 0xbe, 0xef],
        ErrorKind::Compile,
        "not a WebAssembly module",
    );
    assert_load_refused("empty", b"", ErrorKind::Compile, "not a WebAssembly module");
}

#[test]
fn a_100_000_function_module_is_refused_before_compiling() {
    let mut text = String::from("(module\n");
    for _ in 0..100_000 {
        text.push_str("(func)\n");
    }
    text.push_str("(func (export \"poll\")))");
    let wasm = wat::parse_str(&text).unwrap();
    let started = std::time::Instant::now();
    assert_load_refused("functions", &wasm, ErrorKind::Limit, "100001 functions");
    // Not a timing test: a refused module must not have been compiled, which
    // would take seconds; this bound only catches that.
    assert!(started.elapsed().as_secs() < 30);
}

#[test]
fn a_50_mb_module_is_refused_by_size() {
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    let payload = 50 * 1024 * 1024;
    wasm.push(0); // custom section
    let mut size = payload as u32 + 2;
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        wasm.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    wasm.extend_from_slice(&[1, b'x']);
    wasm.resize(wasm.len() + payload, 0);
    assert_load_refused("huge", &wasm, ErrorKind::Limit, "more than the limit");
}

#[test]
fn a_module_whose_initial_memory_exceeds_the_limit_is_refused() {
    assert_load_refused(
        "huge-memory",
        &fixture("huge_memory_minimum.wat"),
        ErrorKind::Limit,
        "memory limit",
    );
}

#[test]
fn too_many_imports_and_huge_tables_are_refused() {
    let mut text = String::from("(module\n");
    for i in 0..1_001 {
        text.push_str(&format!("(import \"env\" \"f{i}\" (func))\n"));
    }
    text.push_str("(func (export \"poll\")))");
    assert_load_refused("imports", text.as_bytes(), ErrorKind::Limit, "1001 imports");
    let table = "(module (table 1000000 funcref) (func (export \"poll\")))";
    assert_load_refused(
        "table",
        table.as_bytes(),
        ErrorKind::Limit,
        "1000000 table elements",
    );
}
