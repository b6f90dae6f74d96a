//! Guest-driven host resources are bounded: tables, bulk memory operations,
//! guest output, disabled proposals, nesting depth and address space. Each
//! hostile module is stopped within its documented bound while a healthy
//! neighbour in the same runtime keeps every poll.

mod common;

use common::{fixture, record_arg};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use wasmcell::{ErrorKind, FaultKind, LogLevel, Program, Runtime};

use common::resident_bytes;

fn healthy(rt: &Runtime) -> Program {
    rt.load(
        "healthy",
        br#"(module (global $n (mut i32) (i32.const 0))
             (func (export "poll") (global.set $n (i32.add (global.get $n) (i32.const 1)))))"#,
    )
    .unwrap()
}

/// Re-runs one test of this binary in a child process whose address space is
/// limited with `ulimit -v` (KiB), so that a regression that allocates
/// gigabytes fails the test instead of exhausting the machine.
fn rerun_under_ulimit(test: &str, kib: u64) {
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {kib} && exec \"$0\" --exact {test} --include-ignored --test-threads=1 --nocapture"
        ))
        .arg(exe)
        .env("WASMCELL_UNDER_ULIMIT", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("1 passed"),
        "{test} under ulimit -v {kib} failed: {text}"
    );
}

fn under_ulimit() -> bool {
    std::env::var_os("WASMCELL_UNDER_ULIMIT").is_some()
}

#[test]
#[cfg_attr(
    windows,
    ignore = "skipped on Windows: ulimit -v needs a POSIX shell and RLIMIT_AS"
)]
fn table_grow_bomb_under_a_virtual_memory_limit() {
    // Two memories reserve ~12 GiB of address space; 16 GB of table would not fit.
    rerun_under_ulimit(
        "table_grow_bomb_returns_minus_one_and_allocates_nothing",
        24 << 20,
    );
}

#[test]
fn table_grow_bomb_returns_minus_one_and_allocates_nothing() {
    let rt = Runtime::default();
    let grew = record_arg(&rt, "test", "grew", "(i)");
    let neighbour = healthy(&rt);
    // The module of the report, unchanged: one grow of 2e9 elements.
    let bomb = rt.load("bomb", &fixture("table_grow_bomb.wat")).unwrap();
    let probe = rt
        .load(
            "probe",
            br#"(module (import "test" "grew" (func $grew (param i32))) (table 1 funcref)
                 (func (export "poll")
                   (call $grew (table.grow (ref.null func) (i32.const 2000000000)))))"#,
        )
        .unwrap();
    let before = resident_bytes();
    for _ in 0..10 {
        bomb.poll().unwrap();
        probe.poll().unwrap();
        neighbour.poll().unwrap();
        assert_eq!(grew.load(Ordering::SeqCst), -1, "a failed grow returns -1");
    }
    let after = resident_bytes();
    assert!(
        after < before + (8 << 20),
        "resident memory grew by {} bytes",
        after.saturating_sub(before)
    );
    assert_eq!(neighbour.stats().polls, 10);
    if under_ulimit() {
        println!("ran under a virtual memory limit");
    }
}

#[test]
fn tables_grow_up_to_the_limit_and_not_past_it() {
    let rt = Runtime::default();
    let grew = record_arg(&rt, "test", "grew", "(i)");
    let mut limits = rt.default_limits();
    limits.max_table_elements = 1000;
    rt.set_default_limits(limits).unwrap();
    let program = rt
        .load(
            "grower",
            br#"(module (import "test" "grew" (func $grew (param i32))) (table 1 funcref)
                 (func (export "poll")
                   (call $grew (table.grow (ref.null func) (i32.const 499)))))"#,
        )
        .unwrap();
    program.poll().unwrap();
    assert_eq!(grew.load(Ordering::SeqCst), 1, "old size returned");
    program.poll().unwrap();
    assert_eq!(grew.load(Ordering::SeqCst), 500);
    // 999 + 499 > 1000: refused, the table keeps its size.
    program.poll().unwrap();
    assert_eq!(grew.load(Ordering::SeqCst), -1);
    // A program-level limit applies at the next reset.
    let mut limits = program.limits();
    limits.max_table_elements = 0;
    program.set_limits(limits).unwrap();
    let err = program.reset().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert!(err.message().contains("table limit"), "{err}");
}

#[test]
fn initial_tables_over_the_limit_and_too_many_tables_are_refused() {
    let rt = Runtime::default();
    let err = rt
        .load(
            "big",
            br#"(module (table 100001 funcref) (func (export "poll")))"#,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert!(err.message().contains("100001 table elements"), "{err}");
    let err = rt.load("many", &fixture("many_tables.wat")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert!(err.message().contains("5 tables"), "{err}");
}

#[test]
fn disabled_proposals_fail_to_load_with_a_message_naming_them() {
    let rt = Runtime::default();
    let neighbour = healthy(&rt);
    for (file, feature) in [
        ("atomic_wait.wat", "threads"),
        ("exceptions.wat", "exceptions"),
        ("multi_memory.wat", "multiple memories"),
    ] {
        let err = rt.load(file, &fixture(file)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Compile, "{file}: {err}");
        assert!(err.message().contains(feature), "{file}: {err}");
        assert!(err.message().contains("does not enable"), "{file}: {err}");
        neighbour.poll().unwrap();
    }
    let err = rt
        .load("m64", br#"(module (memory i64 1) (func (export "poll")))"#)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compile, "{err}");
    assert!(err.message().contains("memory64"), "{err}");
    let err = rt
        .load(
            "tail",
            br#"(module (func $f (export "poll") (return_call $f)))"#,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compile, "{err}");
    assert!(err.message().contains("tail call"), "{err}");
}

#[test]
fn bulk_memory_operations_are_charged_by_length() {
    let rt = Runtime::default();
    let fill = |fuel: u64, op: &str| {
        let wat = format!(
            r#"(module (memory 1024)
                 (func (export "poll") {op}))"#
        );
        let program = rt.load("bulk", wat.as_bytes()).unwrap();
        program.set_fuel(fuel).unwrap();
        program.poll().map(|()| program.stats().last_fuel_used)
    };
    let fill_64m = "(memory.fill (i32.const 0) (i32.const 7) (i32.const 67108864))";
    let copy_32m = "(memory.copy (i32.const 0) (i32.const 33554432) (i32.const 33554432))";
    // 64 MiB at 8 bytes per unit is 8 388 608 units.
    let err = fill(8_000_000, fill_64m).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Budget, "{err}");
    let used = fill(9_000_000, fill_64m).unwrap();
    assert!(
        (8_388_608..8_388_700).contains(&used),
        "fill charged {used}"
    );
    let err = fill(4_000_000, copy_32m).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Budget, "{err}");
    let used = fill(5_000_000, copy_32m).unwrap();
    assert!(
        (4_194_304..4_194_400).contains(&used),
        "copy charged {used}"
    );
}

#[test]
fn table_operations_are_charged_per_element() {
    let rt = Runtime::default();
    let program = rt
        .load(
            "tables",
            br#"(module (table 100000 funcref)
                 (func (export "poll")
                   (table.fill (i32.const 0) (ref.null func) (i32.const 100000))))"#,
        )
        .unwrap();
    program.set_fuel(99_000).unwrap();
    assert_eq!(program.poll().unwrap_err().kind(), ErrorKind::Budget);
    program.reset().unwrap();
    program.set_fuel(101_000).unwrap();
    program.poll().unwrap();
    assert!(program.stats().last_fuel_used >= 100_000);
}

#[test]
fn a_fill_bomb_is_stopped_by_the_default_budget() {
    let rt = Runtime::default();
    let neighbour = healthy(&rt);
    let bomb = rt.load("fill", &fixture("fill_bomb.wat")).unwrap();
    let started = std::time::Instant::now();
    let err = bomb.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Budget, "{err}");
    assert_eq!(bomb.fault_kind(), FaultKind::BudgetExhausted);
    // About 12 fills of 64 MiB fit in the default budget: well under a second
    // here. (Before: 100 million fills, hours.) Generous for a noisy machine.
    let elapsed = started.elapsed();
    assert!(elapsed.as_secs() < 20, "one poll took {elapsed:?}");
    neighbour.poll().unwrap();
}

#[test]
fn guest_output_is_charged_cut_and_capped_per_poll() {
    let rt = Runtime::default();
    let lines: Arc<Mutex<Vec<(LogLevel, usize)>>> = Arc::default();
    let sink = lines.clone();
    rt.set_log_sink(move |program: &str, level: LogLevel, message: &[u8]| {
        if program == "chatty" {
            sink.lock().unwrap().push((level, message.len()));
        }
    })
    .unwrap();
    let program = rt.load("chatty", &fixture("print_bomb.wat")).unwrap();
    // A print of 64 MiB costs 8 Mi units: with 1 M the first print traps.
    program.set_fuel(1_000_000).unwrap();
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Budget, "{err}");
    assert!(
        lines.lock().unwrap().is_empty(),
        "nothing printed on credit"
    );
    program.reset().unwrap();
    program.set_fuel(400_000_000).unwrap();
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Budget, "{err}");
    let lines = lines.lock().unwrap();
    let prints: Vec<usize> = lines
        .iter()
        .filter(|(level, _)| *level == LogLevel::Print)
        .map(|(_, len)| *len)
        .collect();
    assert_eq!(prints, vec![4096; 16], "lines cut to 4096, 64 KiB per poll");
    let warnings = lines.iter().filter(|(l, _)| *l == LogLevel::Warn).count();
    assert_eq!(warnings, 1, "one warning when the cap is reached");
}

fn nested_blocks(depth: usize) -> String {
    format!(
        "(module (func (export \"poll\") {}{}))",
        "(block ".repeat(depth),
        ")".repeat(depth)
    )
}

#[test]
fn deep_nesting_is_refused_before_compiling() {
    let rt = Runtime::default();
    let started = std::time::Instant::now();
    let err = rt
        .load("deep", nested_blocks(160_000).as_bytes())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert!(err.message().contains("nesting limit"), "{err}");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    // Up to the limit it loads and runs.
    let program = rt.load("ok", nested_blocks(2_000).as_bytes()).unwrap();
    program.poll().unwrap();
}

#[test]
fn nested_loops_are_charged_correctly() {
    // The budget pass is linear now; its charges must still bound the work:
    // 3 nested loops of 10 iterations each run the innermost body 1000 times.
    let rt = Runtime::default();
    let program = rt
        .load(
            "loops",
            br#"(module
              (func (export "poll") (local $i i32) (local $j i32) (local $k i32)
                (loop $a
                  (local.set $j (i32.const 0))
                  (loop $b
                    (local.set $k (i32.const 0))
                    (loop $c
                      (local.set $k (i32.add (local.get $k) (i32.const 1)))
                      (br_if $c (i32.lt_u (local.get $k) (i32.const 10))))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br_if $b (i32.lt_u (local.get $j) (i32.const 10))))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $a (i32.lt_u (local.get $i) (i32.const 10))))))"#,
        )
        .unwrap();
    program.poll().unwrap();
    let used = program.stats().last_fuel_used;
    // The inner body has 10 operators (loop header included) per iteration.
    assert!(used >= 10 * 1000, "charged {used}");
    assert!(used < 20 * 1000, "charged {used}");
}

#[test]
#[cfg_attr(
    windows,
    ignore = "skipped on Windows: ulimit -v needs a POSIX shell and RLIMIT_AS"
)]
fn address_space_exhaustion_under_a_virtual_memory_limit() {
    // 3 GiB: too little for one memory reservation (4 GiB + guard).
    rerun_under_ulimit("exhausted_address_space_is_a_limit", 3 << 20);
}

#[test]
#[ignore = "needs a small address space: run by address_space_exhaustion_under_a_virtual_memory_limit in a child under ulimit -v"]
fn exhausted_address_space_is_a_limit() {
    assert!(under_ulimit(), "run this test under ulimit -v");
    let rt = Runtime::default();
    let err = rt
        .load("mem", br#"(module (memory 1) (func (export "poll")))"#)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert!(err.message().contains("address space"), "{err}");
    // A program without memory still loads and runs.
    let program = rt
        .load("nomem", br#"(module (func (export "poll")))"#)
        .unwrap();
    program.poll().unwrap();
    println!("ran under a virtual memory limit");
}
