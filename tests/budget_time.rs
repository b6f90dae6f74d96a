//! The budget bounds time, not only operators: for every operator family
//! (arithmetic, memory, bulk memory, tables, calls, built-in imports), one
//! budget unit costs at most a few nanoseconds, so the default budget bounds a
//! poll to the time documented in docs/guest-abi.md.

mod common;

use std::time::Instant;
use wasmcell::{LogLevel, Runtime};

/// Families of guest code that spend as much time per budget unit as they
/// can, each an endless loop the budget must stop.
const FAMILIES: &[(&str, &str)] = &[
    (
        "integer arithmetic",
        r#"(func (export "poll") (local $x i32)
        (loop $l (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 7)) (i32.const 1))) (br $l)))"#,
    ),
    (
        "integer division",
        r#"(func (export "poll") (local $x i64) (local.set $x (i64.const 0x7fffffffffff))
        (loop $l (local.set $x (i64.div_u (i64.const 0x7fffffffffffffff) (i64.or (local.get $x) (i64.const 3)))) (br $l)))"#,
    ),
    (
        "float sqrt and division",
        r#"(func (export "poll") (local $x f64) (local.set $x (f64.const 2))
        (loop $l (local.set $x (f64.div (f64.sqrt (local.get $x)) (f64.const 1.0000001))) (br $l)))"#,
    ),
    (
        "scattered loads and stores",
        r#"(func (export "poll") (local $i i32)
        (loop $l (local.set $i (i32.and (i32.add (local.get $i) (i32.const 40961)) (i32.const 0x3fffffc)))
          (i32.store (local.get $i) (i32.add (i32.load (local.get $i)) (i32.const 1))) (br $l)))"#,
    ),
    (
        "memory.fill",
        r#"(func (export "poll")
        (loop $l (memory.fill (i32.const 0) (i32.const 1) (i32.const 67108864)) (br $l)))"#,
    ),
    (
        "memory.copy",
        r#"(func (export "poll")
        (loop $l (memory.copy (i32.const 0) (i32.const 33554432) (i32.const 33554432)) (br $l)))"#,
    ),
    (
        "table.fill",
        r#"(table 100000 funcref)
        (func (export "poll")
        (loop $l (table.fill (i32.const 0) (ref.null func) (i32.const 100000)) (br $l)))"#,
    ),
    (
        "call_indirect",
        r#"(type $t (func)) (table 1 funcref) (elem (i32.const 0) $f) (func $f)
        (func (export "poll") (loop $l (call_indirect (type $t) (i32.const 0)) (br $l)))"#,
    ),
    (
        "recursion to the stack limit",
        r#"(func $r (param i32) (if (local.get 0) (then (call $r (i32.sub (local.get 0) (i32.const 1))))))
        (func (export "poll") (loop $l (call $r (i32.const 1000)) (br $l)))"#,
    ),
    (
        "wasmcell.now_ns",
        r#"(import "wasmcell" "now_ns" (func $now (result i64)))
        (func (export "poll") (loop $l (drop (call $now)) (br $l)))"#,
    ),
    (
        "wasmcell.start_kind",
        r#"(import "wasmcell" "start_kind" (func $k (result i32)))
        (func (export "poll") (loop $l (drop (call $k)) (br $l)))"#,
    ),
    (
        "env.print of 64 MiB",
        r#"(import "env" "print" (func $print (param i32 i32) (result i32)))
        (func (export "poll") (loop $l (drop (call $print (i32.const 0) (i32.const 67108864))) (br $l)))"#,
    ),
    (
        "env.print of 1 byte",
        r#"(import "env" "print" (func $print (param i32 i32) (result i32)))
        (func (export "poll") (loop $l (drop (call $print (i32.const 0) (i32.const 1))) (br $l)))"#,
    ),
    (
        "wasmcell.log of 4 KiB",
        r#"(import "wasmcell" "log" (func $log (param i32 i32 i32) (result i32)))
        (func (export "poll") (loop $l (drop (call $log (i32.const 3) (i32.const 0) (i32.const 4096))) (br $l)))"#,
    ),
];

/// Nanoseconds per budget unit of the slowest family, measured with this fuel.
fn worst_ns_per_unit(fuel: u64) -> Vec<(&'static str, f64)> {
    let rt = Runtime::default();
    rt.set_log_sink(|_: &str, _: LogLevel, _: &[u8]| {})
        .unwrap();
    FAMILIES
        .iter()
        .map(|(family, body)| {
            let wat = format!("(module {body} (memory (export \"memory\") 1024))");
            let program = rt.load(family, wat.as_bytes()).unwrap();
            program.set_fuel(fuel).unwrap();
            let started = Instant::now();
            let err = program.poll().unwrap_err();
            let elapsed = started.elapsed();
            assert_eq!(err.kind(), wasmcell::ErrorKind::Budget, "{family}: {err}");
            (*family, elapsed.as_nanos() as f64 / fuel as f64)
        })
        .collect()
}

#[test]
fn one_budget_unit_costs_at_most_a_few_nanoseconds_in_every_family() {
    let figures = worst_ns_per_unit(20_000_000);
    for (family, ns) in &figures {
        println!("{family:32} {ns:8.3} ns per unit");
    }
    // docs/guest-abi.md documents ~2 ns per unit (default budget: ~0.2 s);
    // the assertion leaves 10x headroom for a loaded 2-core machine.
    for (family, ns) in figures {
        assert!(ns < 20.0, "{family}: {ns:.2} ns per budget unit");
    }
}
