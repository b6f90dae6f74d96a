//! Figures that are not per-operation, so not criterion's kind: loading a
//! ~1 MB module (cold vs cache hit, beside raw wasmer doing the same work:
//! compile and instantiate, or instantiate a compiled module), 1000 programs
//! resident in one runtime (RSS per program with guest memory untouched and
//! with every page of it written, time to poll all of them once, and the
//! latency distribution of single polls over 1 M polls), and the first poll
//! on a new thread.
//!
//! Run: `make bench` (or `cargo bench --bench scale`).

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};
use support::{big_module, rss_bytes};
use wasmcell::{CompileSettings, Runtime};
use wasmer::sys::{Cranelift, EngineBuilder};
use wasmer::{imports, Engine, Instance, Module, Store};

/// Best time of `rounds` runs of `f`: the figure least disturbed by noise.
fn best(rounds: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .min()
        .unwrap()
}

fn row(what: &str, ours: Duration, baseline: Duration, baseline_name: &str) {
    println!(
        "{what:<44} {:>10.1?} {:>10.1?}  {:>7.4}x  ({baseline_name})",
        ours,
        baseline,
        ours.as_secs_f64() / baseline.as_secs_f64()
    );
}

fn large_module() {
    let wasm = wat::parse_str(big_module()).unwrap();
    println!(
        "load of a ~1 MB module ({} bytes of wasm, no imports, no init), best of 3",
        wasm.len()
    );
    // The same work on both sides: a fresh engine, compile, instantiate.
    let raw = best(3, || {
        let engine: Engine = EngineBuilder::new(Cranelift::default()).engine().into();
        let mut store = Store::new(engine);
        let module = Module::new(&store, &wasm).unwrap();
        black_box(Instance::new(&mut store, &module, &imports! {}).unwrap());
    });
    let cold = best(3, || {
        let fresh = Runtime::default();
        black_box(fresh.load("cold", &wasm).unwrap());
    });
    let cold_every_core = best(3, || {
        let fresh = Runtime::default();
        fresh.set_compile_settings(CompileSettings {
            threads: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
            background: false,
        });
        black_box(fresh.load("cold", &wasm).unwrap());
    });
    // Cache hit beside instantiating an already compiled module.
    let engine: Engine = EngineBuilder::new(Cranelift::default()).engine().into();
    let compiled = Module::new(&engine, &wasm).unwrap();
    let raw_instantiate = best(5, || {
        let mut store = Store::new(engine.clone());
        black_box(Instance::new(&mut store, &compiled, &imports! {}).unwrap());
    });
    let warm = Runtime::default();
    warm.load("first", &wasm).unwrap();
    let hit = best(5, || {
        black_box(warm.load("hit", &wasm).unwrap());
    });
    row(
        "  wasmcell cold load, default compile settings",
        cold,
        raw,
        "raw wasmer: fresh engine, Module::new, Instance::new",
    );
    row(
        "  wasmcell cold load, every core, normal prio",
        cold_every_core,
        raw,
        "raw wasmer: fresh engine, Module::new, Instance::new",
    );
    row(
        "  wasmcell load, cache hit",
        hit,
        raw_instantiate,
        "raw wasmer: Instance::new of the compiled module",
    );
    row(
        "  wasmcell load, cache hit",
        hit,
        cold,
        "wasmcell cold load",
    );
}

/// A program with one 64 KiB page of memory whose `init` writes a byte in
/// every 4 KiB of it, so that all of it is resident.
const TOUCHING: &str = "(module (global $n (mut i32) (i32.const 0)) (memory 1)
    (func (export \"init\") (local $a i32)
      (loop $next
        (i32.store8 (local.get $a) (i32.const 1))
        (local.set $a (i32.add (local.get $a) (i32.const 4096)))
        (br_if $next (i32.lt_u (local.get $a) (i32.const 65536)))))
    (func (export \"poll\") (global.set $n (i32.add (global.get $n) (i32.const 1)))))";

/// The resident memory 1000 programs of `wat` add to the process, per
/// program, in KiB (the programs stay loaded until `keep` is dropped).
fn rss_per_program(rt: &Runtime, tag: &str, wat: &str, keep: &mut Vec<wasmcell::Program>) -> f64 {
    let before = rss_bytes();
    for i in 0..1000 {
        keep.push(rt.load(&format!("{tag}{i}"), wat.as_bytes()).unwrap());
    }
    let after = rss_bytes();
    (after as i64 - before as i64) as f64 / 1000.0 / 1024.0
}

fn thousand_programs() {
    let scale = Runtime::default();
    let counter = "(module (global $n (mut i32) (i32.const 0)) (memory 1)
        (func (export \"poll\") (global.set $n (i32.add (global.get $n) (i32.const 1)))))";
    scale.load("warm", counter.as_bytes()).unwrap();
    scale.load("warm_touching", TOUCHING.as_bytes()).unwrap();
    let mut programs = Vec::with_capacity(1000);
    let untouched = rss_per_program(&scale, "p", counter, &mut programs);
    let mut touching = Vec::with_capacity(1000);
    let touched = rss_per_program(&scale, "t", TOUCHING, &mut touching);
    let all_once = best(5, || {
        for p in &programs {
            p.poll().unwrap();
        }
    });
    let mut latencies: Vec<u64> = Vec::with_capacity(1_000_000);
    for i in 0..1_000_000 {
        let started = Instant::now();
        programs[i % 1000].poll().unwrap();
        latencies.push(started.elapsed().as_nanos() as u64);
    }
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!("1000 programs in one runtime (64 KiB linear memory each)");
    println!(
        "  RSS per program, guest memory never touched: {untouched:.1} KiB (target < 200 KiB)"
    );
    println!(
        "  RSS per program, every page of its 64 KiB written by init: {touched:.1} KiB (target < 200 KiB)"
    );
    println!("  poll all 1000 once: {all_once:?}");
    println!(
        "  single-poll latency over 1 M polls (round robin, timer included): p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        pct(0.5),
        pct(0.99),
        pct(0.999),
        latencies[latencies.len() - 1]
    );
}

/// The first poll of a program on a thread that never polled, beside the
/// second poll on that thread (median of 5 fresh threads).
fn first_poll_on_new_thread() {
    let rt = Runtime::default();
    let program = rt
        .load("first", b"(module (func (export \"poll\")))")
        .unwrap();
    program.poll().unwrap();
    let mut firsts = Vec::new();
    let mut seconds = Vec::new();
    for _ in 0..5 {
        let (first, second) = std::thread::scope(|s| {
            s.spawn(|| {
                let started = Instant::now();
                program.poll().unwrap();
                let first = started.elapsed();
                let started = Instant::now();
                program.poll().unwrap();
                (first, started.elapsed())
            })
            .join()
            .unwrap()
        });
        firsts.push(first);
        seconds.push(second);
    }
    firsts.sort();
    seconds.sort();
    println!(
        "first poll on a new thread: {:.1?} (median of 5 threads; the second poll on it: {:.1?})",
        firsts[2], seconds[2]
    );
}

fn main() {
    // First, so that memory the large module's compile returns to the
    // system does not blur the RSS difference.
    thousand_programs();
    first_poll_on_new_thread();
    large_module();
}
