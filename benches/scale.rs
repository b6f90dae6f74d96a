//! Figures that are not per-operation, so not criterion's kind: compiling a
//! ~1 MB module (cold vs cache hit, beside raw wasmer's compile), and 1000
//! programs resident in one runtime (RSS per program, time to poll all of
//! them once, and the latency distribution of single polls over 1 M polls).
//!
//! Run: `make bench` (or `cargo bench --bench scale`).

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};
use support::{big_module, rss_bytes};
use wasmcell::Runtime;
use wasmer::sys::{Cranelift, EngineBuilder};
use wasmer::{Engine, Module};

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
        "load of a ~1 MB module ({} bytes of wasm), best of 3",
        wasm.len()
    );
    let raw = best(3, || {
        let engine: Engine = EngineBuilder::new(Cranelift::default()).engine().into();
        black_box(Module::new(&engine, &wasm).unwrap());
    });
    let cold = best(3, || {
        let fresh = Runtime::default();
        black_box(fresh.load("cold", &wasm).unwrap());
    });
    let warm = Runtime::default();
    warm.load("first", &wasm).unwrap();
    let hit = best(5, || {
        black_box(warm.load("hit", &wasm).unwrap());
    });
    row(
        "  wasmcell cold load (compiles)",
        cold,
        raw,
        "raw wasmer Module::new",
    );
    row(
        "  wasmcell load, cache hit",
        hit,
        cold,
        "wasmcell cold load",
    );
}

fn thousand_programs() {
    let scale = Runtime::default();
    let counter = "(module (global $n (mut i32) (i32.const 0)) (memory 1)
        (func (export \"poll\") (global.set $n (i32.add (global.get $n) (i32.const 1)))))";
    scale.load("warm", counter.as_bytes()).unwrap();
    let before = rss_bytes();
    let programs: Vec<_> = (0..1000)
        .map(|i| scale.load(&format!("p{i}"), counter.as_bytes()).unwrap())
        .collect();
    let after = rss_bytes();
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
        "  RSS per program: {:.1} KiB (guest memory included; target < 200 KiB)",
        (after as i64 - before as i64) as f64 / 1000.0 / 1024.0
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

fn main() {
    // First, so that memory the large module's compile returns to the
    // system does not blur the RSS difference.
    thousand_programs();
    large_module();
}
