//! The instruction budget is a true upper bound: on generated straight-line,
//! branchy and nested-loop code, the fuel wasmcell charges is never less
//! than the number of wasm operators actually executed, as counted exactly
//! by wasmer's own per-block `Metering` (cost 1 per operator) on the same
//! module.

use std::sync::Arc;
use wasmcell::Runtime;
use wasmer::sys::{CompilerConfig, Cranelift, EngineBuilder};
use wasmer::{imports, Engine, Instance, Module, Store};
use wasmer_middlewares::metering::{get_remaining_points, MeteringPoints};
use wasmer_middlewares::Metering;

/// A small deterministic generator (no external crate, reproducible by seed).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Straight-line arithmetic on local 0 (`n` statements).
fn straight(g: &mut Gen, n: u64) -> String {
    (0..n)
        .map(|_| {
            let k = g.below(1000) + 1;
            match g.below(4) {
                0 => format!("(local.set 0 (i32.add (local.get 0) (i32.const {k})))"),
                1 => format!("(local.set 0 (i32.mul (local.get 0) (i32.const {k})))"),
                2 => format!("(local.set 0 (i32.xor (local.get 0) (i32.const {k})))"),
                _ => format!("(local.set 0 (i32.rotl (local.get 0) (i32.const {k})))"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A statement of nesting depth at most `depth`: straight code, an if/else
/// on a data-dependent condition, a block left early by br_if, a br_table,
/// or a counted loop (its counter in local `depth + 1`) around a nested
/// statement.
fn statement(g: &mut Gen, depth: u32) -> String {
    let choice = if depth == 0 { 0 } else { g.below(5) };
    match choice {
        0 => {
            let n = g.below(6) + 1;
            straight(g, n)
        }
        1 => {
            let bit = 1 << g.below(8);
            let (then, otherwise) = (statement(g, depth - 1), statement(g, depth - 1));
            format!(
                "(if (i32.and (local.get 0) (i32.const {bit})) (then {then}) (else {otherwise}))"
            )
        }
        2 => {
            let (first, second) = (statement(g, depth - 1), statement(g, depth - 1));
            format!("(block $b{depth} {first} (br_if $b{depth} (i32.and (local.get 0) (i32.const 1))) {second})")
        }
        3 => {
            let (first, second) = (statement(g, depth - 1), statement(g, depth - 1));
            format!("(block $x{depth} (block $y{depth} (br_table $x{depth} $y{depth} (i32.and (local.get 0) (i32.const 1)))) {first}) {second}")
        }
        _ => {
            let counter = depth + 1;
            let iterations = g.below(12) + 1;
            let body = statement(g, depth - 1);
            format!(
                "(local.set {counter} (i32.const 0))
                 (loop $l{depth}
                   {body}
                   (local.set {counter} (i32.add (local.get {counter}) (i32.const 1)))
                   (br_if $l{depth} (i32.lt_u (local.get {counter}) (i32.const {iterations}))))"
            )
        }
    }
}

/// A module whose `poll` runs generated code, with a helper function called
/// from it (calls and returns count too).
fn generated_module(seed: u64) -> String {
    let mut g = Gen(seed);
    let helper = statement(&mut g, 2);
    let body: Vec<String> = (0..g.below(4) + 1).map(|_| statement(&mut g, 4)).collect();
    let seed_value = g.below(1 << 20);
    let body = body.join("\n");
    format!(
        "(module
           (global $acc (mut i32) (i32.const 0))
           (func $helper (param i32) (result i32) (local i32 i32 i32 i32 i32 i32)
             {helper} (local.get 0))
           (func (export \"poll\") (local i32 i32 i32 i32 i32 i32)
             (local.set 0 (i32.const {seed_value}))
             {body}
             (local.set 0 (call $helper (local.get 0)))
             (global.set $acc (i32.add (global.get $acc) (local.get 0)))))"
    )
}

/// Operators one poll executes, counted by wasmer's Metering (cost 1 each).
fn executed_operators(wat: &str) -> u64 {
    let mut compiler = Cranelift::default();
    compiler.push_middleware(Arc::new(Metering::new(
        u64::MAX,
        |_: &wasmer::wasmparser::Operator| 1,
    )));
    let engine: Engine = EngineBuilder::new(compiler).engine().into();
    let mut store = Store::new(engine);
    let module = Module::new(&store, wat).unwrap();
    let instance = Instance::new(&mut store, &module, &imports! {}).unwrap();
    let poll = instance
        .exports
        .get_typed_function::<(), ()>(&store, "poll")
        .unwrap();
    poll.call(&mut store).unwrap();
    match get_remaining_points(&mut store, &instance) {
        MeteringPoints::Remaining(left) => u64::MAX - left,
        MeteringPoints::Exhausted => panic!("metering ran out"),
    }
}

#[test]
fn charged_fuel_is_never_below_the_operators_executed() {
    let rt = Runtime::default();
    let (mut total_executed, mut total_charged) = (0u64, 0u64);
    for seed in 0..60u64 {
        let wat = generated_module(seed);
        let executed = executed_operators(&wat);
        let program = rt.load(&format!("gen{seed}"), wat.as_bytes()).unwrap();
        program.poll().unwrap();
        let charged = program.stats().last_fuel_used;
        assert!(
            charged >= executed,
            "seed {seed}: charged {charged} < executed {executed}\n{wat}"
        );
        total_executed += executed;
        total_charged += charged;
    }
    println!(
        "60 generated modules: {total_executed} operators executed, {total_charged} charged ({:.2}x)",
        total_charged as f64 / total_executed as f64
    );
}

#[test]
fn a_budget_of_exactly_the_operators_executed_may_fail_but_never_overruns() {
    // With a budget below what it charges, the poll stops: never later than
    // the budget (the counter may go negative once, by one charge).
    let rt = Runtime::default();
    for seed in 100..120u64 {
        let wat = generated_module(seed);
        let program = rt.load(&format!("gen{seed}"), wat.as_bytes()).unwrap();
        program.poll().unwrap();
        let needed = program.stats().last_fuel_used;
        if needed < 2 {
            continue;
        }
        program.set_fuel(needed - 1).unwrap();
        let err = program.poll().unwrap_err();
        assert_eq!(
            err.kind(),
            wasmcell::ErrorKind::Budget,
            "seed {seed}: {err}"
        );
        assert_eq!(program.stats().last_fuel_used, needed - 1);
        program.set_fuel(needed).unwrap();
        program.reset().unwrap();
        program.poll().unwrap();
    }
}
