//! Jitter: the control thread's worst cycles while another thread hot-swaps.
//!
//! Ten programs are polled by the main thread (a 1 kHz loop, then a
//! flat-out loop) while a second thread reloads a large module (a fresh one
//! each time, so every swap compiles) every 100 ms. Reported: p50, p99,
//! p99.9 and max of single polls, polls over 100 us, and missed 1 ms
//! deadlines, for the default compile settings (cores - 1 threads, background
//! priority) and for compiles on every core at normal priority, beside the
//! same loop with no swaps (the machine's own noise).
//!
//! Run: `make bench` (or `cargo bench --bench jitter`).

#[path = "support/mod.rs"]
mod support;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmcell::{CompileSettings, Runtime};

const PROGRAMS: usize = 10;
const SECONDS: u64 = 4;

/// A large module (~300 KB of wasm) whose code differs by `version`, so the
/// module cache never serves it.
fn swap_module(version: u32) -> Vec<u8> {
    let mut text = String::from("(module (global $g (mut i32) (i32.const 0))\n");
    for i in 0..6000 {
        text.push_str(&format!(
            "(func $f{i} (param i32) (result i32) (local i32)
               (local.set 1 (i32.mul (local.get 0) (i32.const {})))
               (if (i32.gt_s (local.get 1) (i32.const 1000))
                 (then (local.set 1 (i32.sub (local.get 1) (i32.const 7)))))
               (global.set $g (i32.add (global.get $g) (local.get 1)))
               (i32.xor (local.get 1) (global.get $g)))\n",
            i + version as usize * 7919
        ));
    }
    text.push_str("(func (export \"poll\") (drop (call $f1 (i32.const 3)))))");
    wat::parse_str(text).unwrap()
}

struct Figures {
    samples: Vec<u64>,
    missed: u64,
    swaps: u32,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn run(settings: CompileSettings, paced: bool, swapping: bool) -> Figures {
    let rt = Runtime::default();
    rt.set_compile_settings(settings);
    rt.set_log_sink(|_: &str, _: wasmcell::LogLevel, _: &[u8]| {})
        .unwrap();
    let programs: Vec<_> = (0..PROGRAMS)
        .map(|i| {
            rt.load(
                &format!("p{i}"),
                br#"(module (global $n (mut i32) (i32.const 0))
                    (func (export "poll") (local $i i32)
                      (loop $l (global.set $n (i32.add (global.get $n) (local.get $i)))
                        (local.set $i (i32.add (local.get $i) (i32.const 1)))
                        (br_if $l (i32.lt_u (local.get $i) (i32.const 50))))))"#,
            )
            .unwrap()
        })
        .collect();
    let swapped = rt.load("swapped", &swap_module(0)).unwrap();
    // Modules are built before the run: only compiles compete with polls.
    let modules: Vec<Vec<u8>> = (1..=(SECONDS as u32 * 10 + 2)).map(swap_module).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU32::new(0));
    let swapper = {
        let (stop, swaps, swapped) = (stop.clone(), swaps.clone(), swapped.clone());
        std::thread::spawn(move || {
            for module in &modules {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if !swapping {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                let started = Instant::now();
                swapped.reload(module).unwrap();
                swaps.fetch_add(1, Ordering::Relaxed);
                if let Some(rest) = Duration::from_millis(100).checked_sub(started.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
        })
    };
    let mut samples = Vec::with_capacity(2_000_000);
    let mut missed = 0;
    let end = Instant::now() + Duration::from_secs(SECONDS);
    let mut deadline = Instant::now();
    while Instant::now() < end {
        for program in &programs {
            let started = Instant::now();
            program.poll().unwrap();
            samples.push(started.elapsed().as_nanos() as u64);
        }
        if paced {
            deadline += Duration::from_millis(1);
            let now = Instant::now();
            if now > deadline {
                missed += 1;
                deadline = now;
            } else {
                while Instant::now() < deadline {
                    std::hint::spin_loop();
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    samples.sort_unstable();
    Figures {
        samples,
        missed,
        swaps: swaps.load(Ordering::Relaxed),
    }
}

fn report(name: &str, figures: &Figures) {
    let s = &figures.samples;
    let over = s.iter().filter(|&&ns| ns > 100_000).count();
    println!(
        "{name:44} polls {:>8}  p50 {:>6.2} us  p99 {:>6.2} us  p99.9 {:>7.2} us  max {:>9.2} us  >100us {:>4}  missed 1ms {:>3}  swaps {:>3}",
        s.len(),
        percentile(s, 0.5) as f64 / 1e3,
        percentile(s, 0.99) as f64 / 1e3,
        percentile(s, 0.999) as f64 / 1e3,
        *s.last().unwrap() as f64 / 1e3,
        over,
        figures.missed,
        figures.swaps
    );
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    println!(
        "jitter: {PROGRAMS} programs polled on the main thread, a fresh large module hot-swapped every 100 ms, {SECONDS} s per row, {cores} cores"
    );
    let default = CompileSettings::default();
    let every_core = CompileSettings {
        threads: NonZeroUsize::new(cores).unwrap(),
        background: false,
    };
    for (paced, loop_name) in [(true, "1 kHz loop"), (false, "flat-out loop")] {
        report(
            &format!("{loop_name}, no swaps (the machine's own noise)"),
            &run(default, paced, false),
        );
        report(
            &format!("{loop_name}, default (cores-1, background)"),
            &run(default, paced, true),
        );
        report(
            &format!("{loop_name}, every core, normal priority"),
            &run(every_core, paced, true),
        );
    }
}
