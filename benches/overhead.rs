//! What wasmcell adds on top of wasmer, measured in one run beside raw wasmer
//! on the same module and the same compiler (cranelift), so the ratios hold on
//! a noisy machine. Each figure is the best of several rounds.
//!
//! Run: `make bench` (or `cargo bench --bench overhead`).

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use support::best;
use wasmer::sys::{CompilerConfig, Cranelift, EngineBuilder};
use wasmer::{imports, Engine, Instance, Module, Store, TypedFunction};
use wasmer_middlewares::metering::set_remaining_points;
use wasmer_middlewares::Metering;

const ITERATIONS: u32 = 20_000_000;

/// A compute-heavy guest: `ITERATIONS` iterations of `body` (which updates
/// $acc from $i).
fn compute_wat(body: &str) -> String {
    format!(
        r#"(module
  (global $sink (mut i32) (i32.const 0))
  (func (export "poll")
    (local $i i32) (local $acc i32)
    (loop $next
      {body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const {ITERATIONS}))))
    (global.set $sink (local.get $acc))))"#
    )
}

/// A linear congruential step: one basic block per iteration.
const STRAIGHT_BODY: &str =
    "(local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 1103515245)) (i32.const 12345)))";

/// Branches inside the loop: four basic blocks per iteration, where
/// per-block metering charges four times and the loop-header budget once.
const BRANCHY_BODY: &str = "(if (i32.and (local.get $i) (i32.const 1))
        (then (local.set $acc (i32.add (local.get $acc) (local.get $i))))
        (else (local.set $acc (i32.xor (local.get $acc) (i32.shl (local.get $i) (i32.const 3))))))
      (if (i32.gt_u (local.get $acc) (i32.const 1000000))
        (then (local.set $acc (i32.shr_u (local.get $acc) (i32.const 1)))))";

const EMPTY_WAT: &str = r#"(module (func (export "poll")))"#;

fn raw_poll(wat: &str, metering: bool) -> (Store, TypedFunction<(), ()>, Instance) {
    let mut compiler = Cranelift::default();
    if metering {
        compiler.push_middleware(Arc::new(Metering::new(
            u64::MAX,
            |_: &wasmer::wasmparser::Operator| 1,
        )));
    }
    let engine: Engine = EngineBuilder::new(compiler).engine().into();
    let mut store = Store::new(engine);
    let module = Module::new(&store, wat).unwrap();
    let instance = Instance::new(&mut store, &module, &imports! {}).unwrap();
    let poll = instance.exports.get_typed_function(&store, "poll").unwrap();
    (store, poll, instance)
}

fn row(what: &str, ours: Duration, baseline: Duration, baseline_name: &str) {
    println!(
        "{what:<48} {:>12.1?} {:>12.1?}  {:>7.3}x  ({baseline_name})",
        ours,
        baseline,
        ours.as_secs_f64() / baseline.as_secs_f64()
    );
}

fn main() {
    println!("{:<48} {:>12} {:>12}  ratio", "", "measured", "baseline");

    // --- budget on a compute-heavy guest --------------------------------
    let rt = wasmcell::Runtime::default();
    for (shape, body) in [("straight-line", STRAIGHT_BODY), ("branchy", BRANCHY_BODY)] {
        let wat = compute_wat(body);
        let (mut store, poll, _i) = raw_poll(&wat, false);
        let unmetered = best(5, 1, || poll.call(&mut store).unwrap());
        let (mut mstore, mpoll, minstance) = raw_poll(&wat, true);
        let metered = best(5, 1, || {
            set_remaining_points(&mut mstore, &minstance, u64::MAX);
            mpoll.call(&mut mstore).unwrap()
        });
        let program = rt.load(shape, wat.as_bytes()).unwrap();
        program.set_fuel(u64::MAX / 4).unwrap();
        let budgeted = best(5, 1, || program.poll().unwrap());
        println!("compute guest, {shape} loop body, {ITERATIONS} iterations per poll");
        row(
            "  wasmer Metering (per block, cost 1/op)",
            metered,
            unmetered,
            "raw wasmer, unmetered",
        );
        row(
            "  wasmcell poll (loop-header budget)",
            budgeted,
            unmetered,
            "raw wasmer, unmetered",
        );
        println!(
            "  fuel charged per poll: {} (an upper bound of the operators executed)",
            program.stats().last_fuel_used
        );
    }

    // --- empty poll -------------------------------------------------------
    const CALLS: u64 = 2_000_000;
    let (mut estore, epoll, _e) = raw_poll(EMPTY_WAT, false);
    let raw_empty = best(5, CALLS, || {
        for _ in 0..CALLS {
            epoll.call(&mut estore).unwrap();
        }
    });
    let empty = rt.load("empty", EMPTY_WAT.as_bytes()).unwrap();
    let core_empty = best(5, CALLS, || {
        for _ in 0..CALLS {
            black_box(empty.poll()).unwrap();
        }
    });
    let mut c_rt = std::ptr::null_mut();
    let mut c_program = std::ptr::null_mut();
    assert_eq!(wasmcell::ffi::runtime::wasmcell_runtime_new(&mut c_rt), 0);
    assert_eq!(
        wasmcell::ffi::program::wasmcell_program_load(
            c_rt,
            c"empty".as_ptr(),
            EMPTY_WAT.as_ptr(),
            EMPTY_WAT.len(),
            &mut c_program
        ),
        0
    );
    let c_empty = best(5, CALLS, || {
        for _ in 0..CALLS {
            black_box(wasmcell::ffi::program::wasmcell_program_poll(black_box(
                c_program,
            )));
        }
    });
    println!("empty poll, per call");
    row(
        "  wasmcell Program::poll (Rust API)",
        core_empty,
        raw_empty,
        "raw TypedFunction::call",
    );
    row(
        "  wasmcell_program_poll (C ABI)",
        c_empty,
        raw_empty,
        "raw TypedFunction::call",
    );
    wasmcell::ffi::runtime::wasmcell_runtime_free(c_rt);

    // --- load: cold compile vs cache hit ----------------------------------
    println!("load (compile + instantiate + init), per load");
    for (size, wat) in [
        ("tiny module", EMPTY_WAT.to_string()),
        ("~1 MB module", big_module()),
    ] {
        let wasm = wat::parse_str(&wat).unwrap();
        let cold = best(3, 1, || {
            let fresh = wasmcell::Runtime::default();
            black_box(fresh.load("cold", &wasm).unwrap());
        });
        let warm_rt = wasmcell::Runtime::default();
        warm_rt.load("first", &wasm).unwrap();
        let hit = best(5, 20, || {
            for _ in 0..20 {
                black_box(warm_rt.load("hit", &wasm).unwrap());
            }
        });
        let raw = best(3, 1, || {
            let engine: Engine = EngineBuilder::new(Cranelift::default()).engine().into();
            black_box(Module::new(&engine, &wasm).unwrap());
        });
        println!("  {size} ({} bytes of wasm)", wasm.len());
        row(
            "    wasmcell cold load (compiles)",
            cold,
            raw,
            "raw wasmer Module::new",
        );
        row(
            "    wasmcell load, cache hit",
            hit,
            cold,
            "wasmcell cold load",
        );
    }
}

/// About 1 MB of wasm: many small functions with arithmetic and branches.
fn big_module() -> String {
    let mut text = String::from("(module (global $g (mut i32) (i32.const 0))\n");
    for i in 0..20000 {
        text.push_str(&format!(
            "(func $f{i} (param i32) (result i32) (local i32)
               (local.set 1 (i32.mul (local.get 0) (i32.const {i})))
               (if (i32.gt_s (local.get 1) (i32.const 1000))
                 (then (local.set 1 (i32.sub (local.get 1) (i32.const 7)))))
               (global.set $g (i32.add (global.get $g) (local.get 1)))
               (i32.xor (local.get 1) (global.get $g)))\n"
        ));
    }
    text.push_str("(func (export \"poll\") (drop (call $f1 (i32.const 3)))))");
    text
}
