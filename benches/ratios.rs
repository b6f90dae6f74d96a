//! What wasmcell costs per operation, measured by criterion beside its
//! baseline in the same run (raw wasmer on the same module and compiler, or
//! native code), because this machine is noisy: the ratio is what counts.
//! After the measurements, a table of ratios is printed from criterion's own
//! estimates (medians) of the benchmarks that ran in this process: each
//! median is read right after its benchmark, only if this process ran it and
//! criterion wrote its estimate after it started; a row whose benchmarks a
//! filter skipped says "not run", never an earlier run's figure.
//!
//! Run: `make bench` (or `cargo bench --bench ratios`; a criterion filter
//! such as `cargo bench --bench ratios -- callback` runs one group).

#[path = "support/mod.rs"]
mod support;

use criterion::measurement::WallTime;
use criterion::{Bencher, BenchmarkGroup, Criterion, Throughput};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use support::*;
use wasmcell::ffi::host::{wasmcell_call, wasmcell_val};
use wasmcell::{CompileSettings, Runtime};
use wasmer::sys::{Cranelift, EngineBuilder};
use wasmer::{imports, Engine, Function, Instance, Module, Store, TypedFunction};

/// Medians (ns) of the benchmarks this process ran, by "group/bench".
static MEDIANS: Mutex<BTreeMap<String, f64>> = Mutex::new(BTreeMap::new());
/// criterion's output directory (set once in `main`).
static ROOT: OnceLock<PathBuf> = OnceLock::new();

/// A criterion group that records the median of every benchmark it runs.
struct Group<'a> {
    inner: BenchmarkGroup<'a, WallTime>,
    name: String,
}

fn new_group<'a>(c: &'a mut Criterion, name: &str) -> Group<'a> {
    Group {
        inner: c.benchmark_group(name),
        name: name.to_string(),
    }
}

impl Group<'_> {
    /// Runs benchmark `id` and, if it ran here (the filter selected it and
    /// criterion analysed it), keeps its median for the table: the closure
    /// must have been called by this process, and criterion's estimate file
    /// must have been written after the benchmark started.
    fn bench(&mut self, id: &str, mut f: impl FnMut(&mut Bencher<'_, WallTime>)) {
        let ran = Cell::new(false);
        let started = SystemTime::now();
        self.inner.bench_function(id, |b| {
            ran.set(true);
            f(b)
        });
        if !ran.get() {
            return;
        }
        let root = ROOT.get().expect("ROOT is set in main");
        if let Some(median) = fresh_median_ns(root, &self.name, id, started) {
            let key = format!("{}/{id}", self.name);
            MEDIANS.lock().unwrap().insert(key, median);
        }
    }

    fn sample_size(&mut self, n: usize) {
        self.inner.sample_size(n);
    }

    fn throughput(&mut self, t: Throughput) {
        self.inner.throughput(t);
    }

    fn finish(self) {
        self.inner.finish();
    }
}

/// Criterion's median estimate of one benchmark, in nanoseconds, if its
/// estimate file was written at or after `since`.
fn fresh_median_ns(root: &Path, group: &str, bench: &str, since: SystemTime) -> Option<f64> {
    let path = root.join(group).join(bench).join("new/estimates.json");
    let written = std::fs::metadata(&path).ok()?.modified().ok()?;
    // File times come from a coarse clock: allow it to lag by 50 ms (every
    // benchmark runs for seconds).
    if written + Duration::from_millis(50) < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn empty_poll(c: &mut Criterion) {
    let mut group = new_group(c, "empty_poll");
    #[inline(never)]
    extern "C" fn native_poll() {}
    let native: extern "C" fn() = black_box(native_poll);
    group.bench("native_fn_pointer", |b| b.iter(|| native()));
    let mut raw = RawGuest::new(EMPTY_WAT, false);
    group.bench("raw_wasmer", |b| b.iter(|| raw.poll()));
    let rt = Runtime::default();
    let program = rt.load("empty", EMPTY_WAT.as_bytes()).unwrap();
    group.bench("wasmcell_rust", |b| b.iter(|| program.poll().unwrap()));
    // The same poll with a watchdog armed and disarmed around it.
    let watched = rt.load("watched", EMPTY_WAT.as_bytes()).unwrap();
    watched.set_watchdog(1_000_000_000, 1).unwrap();
    group.bench("wasmcell_rust_watchdog", |b| {
        b.iter(|| watched.poll().unwrap())
    });
    let c_program = CProgram::new(EMPTY_WAT);
    group.bench("wasmcell_c_abi", |b| {
        b.iter(|| assert_eq!(c_program.poll(), 0))
    });
    // The same with the poll timer off (a host that times its own loop).
    let untimed = CProgram::new(EMPTY_WAT);
    untimed.set_timing(false);
    group.bench("wasmcell_c_abi_untimed", |b| {
        b.iter(|| assert_eq!(untimed.poll(), 0))
    });
    group.finish();
}

fn compute_budget(c: &mut Criterion) {
    let rt = Runtime::default();
    // Deadline mode: no instruction count, a watchdog 10 s away.
    let deadline_rt = Runtime::default();
    deadline_rt
        .set_default_limits(wasmcell::Limits {
            deadline_ns: 10_000_000_000,
            ..wasmcell::Limits::default()
        })
        .unwrap();
    for (shape, body) in [
        ("straight", STRAIGHT_BODY),
        ("branchy", BRANCHY_BODY),
        ("tight", ""),
    ] {
        let mut group = new_group(c, &format!("compute_{shape}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(ITERATIONS as u64));
        let wat = compute_wat(body);
        let mut raw = RawGuest::new(&wat, false);
        group.bench("raw_wasmer", |b| b.iter(|| raw.poll()));
        let mut metered = RawGuest::new(&wat, true);
        group.bench("wasmer_metering", |b| b.iter(|| metered.poll()));
        let program = rt.load(shape, wat.as_bytes()).unwrap();
        program.set_fuel(u64::MAX / 4).unwrap();
        group.bench("wasmcell_budget", |b| b.iter(|| program.poll().unwrap()));
        let watched = rt
            .load(&format!("{shape}_watched"), wat.as_bytes())
            .unwrap();
        watched.set_fuel(u64::MAX / 4).unwrap();
        watched.set_watchdog(10_000_000_000, 1).unwrap();
        group.bench("wasmcell_budget_watchdog", |b| {
            b.iter(|| watched.poll().unwrap())
        });
        let deadline = deadline_rt.load(shape, wat.as_bytes()).unwrap();
        group.bench("wasmcell_deadline", |b| b.iter(|| deadline.poll().unwrap()));
        group.finish();
    }
}

/// Host-call round trips, per call (CALLS calls per poll). wasmcell always
/// polls under its instruction budget, so each shape is measured against raw
/// wasmer unmetered and under wasmer's own `Metering`; the `caller_loop`
/// group measures the same loop without the call, which gives the budget's
/// cost per iteration, so the table can also print the host call net of it.
fn callbacks(c: &mut Criterion) {
    let mut loop_group = new_group(c, "caller_loop");
    loop_group.throughput(Throughput::Elements(CALLS as u64));
    let mut raw = RawGuest::caller(None, false, false);
    loop_group.bench("raw_wasmer", |b| b.iter(|| raw.poll()));
    let mut metered = RawGuest::caller(None, false, true);
    loop_group.bench("raw_wasmer_metering", |b| b.iter(|| metered.poll()));
    let program = CProgram::shaped(None);
    loop_group.bench("wasmcell_budget", |b| {
        b.iter(|| assert_eq!(program.poll(), 0))
    });
    loop_group.finish();
    for (shape, name) in [
        (Shape::Scalar, "callback_i_i"),
        (Shape::Buffer, "callback_buf"),
        (Shape::Wide, "callback_dynamic_iiI_i"),
    ] {
        let mut group = new_group(c, name);
        group.throughput(Throughput::Elements(CALLS as u64));
        let mut raw = RawGuest::caller(Some(shape), false, false);
        group.bench("raw_typed_import", |b| b.iter(|| raw.poll()));
        if shape == Shape::Scalar {
            let mut with_env = RawGuest::caller_reading_env();
            group.bench("raw_typed_import_reading_env", |b| {
                b.iter(|| with_env.poll())
            });
        }
        let mut metered = RawGuest::caller(Some(shape), false, true);
        group.bench("raw_typed_import_metering", |b| b.iter(|| metered.poll()));
        let mut dynamic = RawGuest::caller(Some(shape), true, false);
        group.bench("raw_dynamic_import", |b| b.iter(|| dynamic.poll()));
        let program = CProgram::shaped(Some(shape));
        group.bench("wasmcell_c_callback", |b| {
            b.iter(|| assert_eq!(program.poll(), 0))
        });
        group.finish();
    }
}

fn process_image(c: &mut Criterion) {
    let mut group = new_group(c, "process_image");
    let rt = Runtime::default();
    let plain = rt.load("plain", image_wat(0).as_bytes()).unwrap();
    let imaged = rt.load("imaged", image_wat(1024).as_bytes()).unwrap();
    imaged.write_inputs(0, &[7u8; 1024]).unwrap();
    group.bench("poll_without_image", |b| b.iter(|| plain.poll().unwrap()));
    group.bench("poll_with_1KiB_in_1KiB_out", |b| {
        b.iter(|| imaged.poll().unwrap())
    });
    group.finish();
}

/// A tiny program with what a load has to do: an import to link (the
/// built-in `env.print`), a memory with data, and an `init` export run once.
const LOAD_WAT: &str = r#"(module
  (import "env" "print" (func $print (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Polling\n")
  (global $ready (mut i32) (i32.const 0))
  (func (export "init") (i32.store (i32.const 64) (i32.const 1)) (global.set $ready (i32.const 1)))
  (func (export "poll") (global.set $ready (i32.add (global.get $ready) (i32.const 1)))))"#;

/// Raw wasmer doing what a wasmcell load does after compiling: link
/// `env.print` (a typed host function), instantiate, call `init`.
fn raw_instantiate(store: &mut Store, module: &Module) -> Instance {
    let print = Function::new_typed(store, |_: i32, len: i32| len);
    let imports = imports! { "env" => { "print" => print } };
    let instance = Instance::new(store, module, &imports).unwrap();
    let init: TypedFunction<(), ()> = instance.exports.get_typed_function(store, "init").unwrap();
    init.call(store).unwrap();
    instance
}

/// wasmer's own compile settings: every core, normal priority.
fn every_core() -> CompileSettings {
    CompileSettings {
        threads: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        background: false,
    }
}

fn load(c: &mut Criterion) {
    let mut group = new_group(c, "load_tiny");
    let wasm = wat::parse_str(LOAD_WAT).unwrap();
    // Cold: a fresh engine (runtime) each time, compile, link, instantiate,
    // init, on both sides.
    group.bench("raw_wasmer_compile_link_instantiate_init", |b| {
        b.iter(|| {
            let engine: Engine = EngineBuilder::new(Cranelift::default()).engine().into();
            let mut store = Store::new(engine);
            let module = Module::new(&store, &wasm).unwrap();
            black_box(raw_instantiate(&mut store, &module));
        })
    });
    group.bench("wasmcell_cold", |b| {
        b.iter(|| {
            let fresh = Runtime::default();
            black_box(fresh.load("cold", &wasm).unwrap());
        })
    });
    group.bench("wasmcell_cold_every_core", |b| {
        b.iter(|| {
            let fresh = Runtime::default();
            fresh.set_compile_settings(every_core());
            black_box(fresh.load("cold", &wasm).unwrap());
        })
    });
    // Cache hit: the module is compiled; link, instantiate, init.
    let engine: Engine = EngineBuilder::new(Cranelift::default()).engine().into();
    let compiled = Module::new(&engine, &wasm).unwrap();
    group.bench("raw_wasmer_link_instantiate_init", |b| {
        b.iter(|| {
            let mut store = Store::new(engine.clone());
            black_box(raw_instantiate(&mut store, &compiled));
        })
    });
    let warm = Runtime::default();
    warm.load("first", &wasm).unwrap();
    group.bench("wasmcell_cache_hit", |b| {
        b.iter(|| black_box(warm.load("hit", &wasm).unwrap()))
    });
    group.finish();
}

/// Writes that did not write the whole line, in the write(2)-per-line print
/// benchmark (the run fails if any did).
static FAILED_WRITES: AtomicU64 = AtomicU64::new(0);

/// Writes the guest buffer to the file descriptor in `user_data`, as the
/// original example's print did: one write(2) per line; counts failures.
unsafe extern "C" fn c_print_unbuffered(
    user_data: *mut c_void,
    _: *mut wasmcell_call,
    args: *const wasmcell_val,
    _: usize,
    results: *mut wasmcell_val,
    _: usize,
) -> i32 {
    unsafe {
        let buf = (*args).buf;
        let written = libc::write(user_data as usize as i32, buf.ptr.cast(), buf.len);
        (*results).i32 = if written == buf.len as isize {
            0
        } else {
            FAILED_WRITES.fetch_add(1, Ordering::Relaxed);
            -1
        };
    }
    0
}

/// Appends the guest buffer to the `Vec<u8>` behind `user_data` (a buffered
/// writer with no flush).
unsafe extern "C" fn c_print_buffered(
    user_data: *mut c_void,
    _: *mut wasmcell_call,
    args: *const wasmcell_val,
    _: usize,
    results: *mut wasmcell_val,
    _: usize,
) -> i32 {
    unsafe {
        let buf = (*args).buf;
        let out = &mut *(user_data as *mut Vec<u8>);
        out.extend_from_slice(std::slice::from_raw_parts(buf.ptr, buf.len));
        if out.len() > 1 << 20 {
            out.clear();
        }
        (*results).i32 = 0;
    }
    0
}

/// The original design's figure: the example program printing "Polling\n"
/// each poll, through a C callback defined as `env.print`, against a native
/// loop writing the same bytes the same way.
fn print(c: &mut Criterion) {
    let hello = include_str!("../tests/fixtures/hello.wat");
    let path = std::env::temp_dir().join(format!("wasmcell-print-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);

    let mut group = new_group(c, "print_write_per_line");
    group.throughput(Throughput::Bytes(8));
    group.bench("native_loop", |b| {
        b.iter(|| {
            let line = black_box(b"Polling\n");
            // SAFETY: fd is open for the whole benchmark; line is 8 bytes.
            assert_eq!(unsafe { libc::write(fd, line.as_ptr().cast(), 8) }, 8);
        })
    });
    // A host definition of `env.print` takes precedence over the built-in.
    let print_host =
        |callback: CCallback, user_data| Some((c"env", c"print", c"(*~)i", callback, user_data));
    let printer = CProgram::with_host(
        hello,
        print_host(c_print_unbuffered, fd as usize as *mut c_void),
    );
    group.bench("guest_poll", |b| b.iter(|| assert_eq!(printer.poll(), 0)));
    group.finish();
    let failed = FAILED_WRITES.load(Ordering::Relaxed);
    println!("print_write_per_line: {failed} failed write(2) calls in the guest's print");
    assert_eq!(
        failed, 0,
        "print_write_per_line: {failed} write(2) calls of the guest's print failed: \
         the figure would count failed writes as lines"
    );

    let mut group = new_group(c, "print_buffered");
    group.throughput(Throughput::Bytes(8));
    let mut native_out: Vec<u8> = Vec::with_capacity(1 << 21);
    group.bench("native_loop", |b| {
        b.iter(|| {
            native_out.extend_from_slice(black_box(b"Polling\n"));
            if native_out.len() > 1 << 20 {
                native_out.clear();
            }
        })
    });
    let mut guest_out: Box<Vec<u8>> = Box::new(Vec::with_capacity(1 << 21));
    let out_ptr = &mut *guest_out as *mut Vec<u8> as *mut c_void;
    let printer = CProgram::with_host(hello, print_host(c_print_buffered, out_ptr));
    group.bench("guest_poll", |b| b.iter(|| assert_eq!(printer.poll(), 0)));
    group.finish();
    drop(printer);
    drop(file);
    let _ = std::fs::remove_file(&path);
}

/// One row of the table: `measured` against `baseline` ("group/bench"),
/// both divided by `per` (operations per iteration). With `net_of`, each
/// side first loses its own figure for the same loop without the operation
/// (measured, baseline), so the row compares the operation alone.
struct Row {
    what: &'static str,
    measured: &'static str,
    baseline: &'static str,
    per: f64,
    net_of: Option<(&'static str, &'static str)>,
}

const fn row(what: &'static str, measured: &'static str, baseline: &'static str) -> Row {
    Row {
        what,
        measured,
        baseline,
        per: 1.0,
        net_of: None,
    }
}

const fn per_call(what: &'static str, measured: &'static str, baseline: &'static str) -> Row {
    Row {
        what,
        measured,
        baseline,
        per: CALLS as f64,
        net_of: None,
    }
}

const fn net_call(what: &'static str, measured: &'static str, baseline: &'static str) -> Row {
    Row {
        what,
        measured,
        baseline,
        per: CALLS as f64,
        net_of: Some(("caller_loop/wasmcell_budget", "caller_loop/raw_wasmer")),
    }
}

/// Three rows per callback shape: against raw wasmer unmetered, under
/// wasmer's `Metering`, and the host call alone (loops subtracted).
macro_rules! callback_rows {
    ($group:literal, $sig:literal) => {
        [
            per_call(
                concat!(
                    "C callback ",
                    $sig,
                    " per call vs raw typed import, unmetered (budget incl.)"
                ),
                concat!($group, "/wasmcell_c_callback"),
                concat!($group, "/raw_typed_import"),
            ),
            per_call(
                concat!(
                    "C callback ",
                    $sig,
                    " per call vs raw typed import under wasmer Metering"
                ),
                concat!($group, "/wasmcell_c_callback"),
                concat!($group, "/raw_typed_import_metering"),
            ),
            net_call(
                concat!(
                    "C callback ",
                    $sig,
                    ", the call alone (each side's loop subtracted)"
                ),
                concat!($group, "/wasmcell_c_callback"),
                concat!($group, "/raw_typed_import"),
            ),
            per_call(
                concat!(
                    "raw wasmer dynamic import ",
                    $sig,
                    " vs typed import, per call"
                ),
                concat!($group, "/raw_dynamic_import"),
                concat!($group, "/raw_typed_import"),
            ),
        ]
    };
}

const CALLBACK_I_I: [Row; 4] = callback_rows!("callback_i_i", "(i)i");
const CALLBACK_BUF: [Row; 4] = callback_rows!("callback_buf", "(*~)i");
const CALLBACK_WIDE: [Row; 4] = callback_rows!("callback_dynamic_iiI_i", "(iiI)i");

/// The table: every row's benchmarks come from this process.
fn table() -> Vec<Row> {
    let mut rows = vec![
        row(
            "empty poll with a watchdog vs without (arm + disarm)",
            "empty_poll/wasmcell_rust_watchdog",
            "empty_poll/wasmcell_rust",
        ),
        row(
            "budget, straight-line compute, with a watchdog vs without",
            "compute_straight/wasmcell_budget_watchdog",
            "compute_straight/wasmcell_budget",
        ),
        row(
            "budget, branchy compute, with a watchdog vs without",
            "compute_branchy/wasmcell_budget_watchdog",
            "compute_branchy/wasmcell_budget",
        ),
        row(
            "empty poll, Rust API (default budget, timing, stats) vs raw wasmer",
            "empty_poll/wasmcell_rust",
            "empty_poll/raw_wasmer",
        ),
        row(
            "empty poll, C ABI vs raw wasmer (issue 15: <= +35 ns)",
            "empty_poll/wasmcell_c_abi",
            "empty_poll/raw_wasmer",
        ),
        row(
            "empty poll, C ABI, poll timer off vs raw wasmer (issue 15: <= +20 ns)",
            "empty_poll/wasmcell_c_abi_untimed",
            "empty_poll/raw_wasmer",
        ),
        row(
            "raw wasmer call vs native fn pointer",
            "empty_poll/raw_wasmer",
            "empty_poll/native_fn_pointer",
        ),
        row(
            "budget, straight-line compute vs unmetered (target <= 1.05x, issue 15)",
            "compute_straight/wasmcell_budget",
            "compute_straight/raw_wasmer",
        ),
        row(
            "wasmer Metering, straight-line compute vs unmetered",
            "compute_straight/wasmer_metering",
            "compute_straight/raw_wasmer",
        ),
        row(
            "budget, branchy compute vs unmetered (target <= 1.20x, issue 15)",
            "compute_branchy/wasmcell_budget",
            "compute_branchy/raw_wasmer",
        ),
        row(
            "budget, empty loop (counter and compare only) vs unmetered",
            "compute_tight/wasmcell_budget",
            "compute_tight/raw_wasmer",
        ),
        row(
            "deadline mode, straight-line compute vs unmetered (target <= 1.05x, issue 15)",
            "compute_straight/wasmcell_deadline",
            "compute_straight/raw_wasmer",
        ),
        row(
            "deadline mode, branchy compute vs unmetered (target <= 1.05x, issue 15)",
            "compute_branchy/wasmcell_deadline",
            "compute_branchy/raw_wasmer",
        ),
        row(
            "deadline mode, empty loop (floor check only) vs unmetered",
            "compute_tight/wasmcell_deadline",
            "compute_tight/raw_wasmer",
        ),
        row(
            "wasmer Metering, branchy compute vs unmetered",
            "compute_branchy/wasmer_metering",
            "compute_branchy/raw_wasmer",
        ),
        per_call(
            "caller loop without the call, per iteration: wasmcell (budget) vs unmetered",
            "caller_loop/wasmcell_budget",
            "caller_loop/raw_wasmer",
        ),
        per_call(
            "caller loop without the call, per iteration: wasmer Metering vs unmetered",
            "caller_loop/raw_wasmer_metering",
            "caller_loop/raw_wasmer",
        ),
    ];
    rows.extend(CALLBACK_I_I);
    rows.extend([
        per_call(
            "C callback (i)i vs a raw typed import that reads its env, per call",
            "callback_i_i/wasmcell_c_callback",
            "callback_i_i/raw_typed_import_reading_env",
        ),
        per_call(
            "raw typed import (i)i reading its env vs not reading it, per call",
            "callback_i_i/raw_typed_import_reading_env",
            "callback_i_i/raw_typed_import",
        ),
    ]);
    rows.extend(CALLBACK_BUF);
    rows.extend(CALLBACK_WIDE);
    rows.extend([
        per_call(
            "C callback (iiI)i (wasmcell's dynamic path) vs raw dynamic import, per call",
            "callback_dynamic_iiI_i/wasmcell_c_callback",
            "callback_dynamic_iiI_i/raw_dynamic_import",
        ),
        row(
            "poll with 1 KiB in + 1 KiB out image vs the same poll without",
            "process_image/poll_with_1KiB_in_1KiB_out",
            "process_image/poll_without_image",
        ),
        row(
            "load tiny, cold (wasmcell defaults) vs raw compile+link+instantiate+init",
            "load_tiny/wasmcell_cold",
            "load_tiny/raw_wasmer_compile_link_instantiate_init",
        ),
        row(
            "load tiny, cold (every core, normal prio) vs raw compile+link+inst.+init",
            "load_tiny/wasmcell_cold_every_core",
            "load_tiny/raw_wasmer_compile_link_instantiate_init",
        ),
        row(
            "load tiny, cache hit vs raw link+instantiate+init of a compiled module",
            "load_tiny/wasmcell_cache_hit",
            "load_tiny/raw_wasmer_link_instantiate_init",
        ),
        row(
            "load tiny, cache hit vs wasmcell cold",
            "load_tiny/wasmcell_cache_hit",
            "load_tiny/wasmcell_cold",
        ),
        row(
            "print throughput, write(2) per line: fraction of native (target >= 0.95)",
            "print_write_per_line/native_loop",
            "print_write_per_line/guest_poll",
        ),
        row(
            "print throughput, buffered: fraction of native",
            "print_buffered/native_loop",
            "print_buffered/guest_poll",
        ),
    ]);
    rows
}

fn print_ratio_table() {
    let medians = MEDIANS.lock().unwrap();
    let get = |key: &str| medians.get(key).copied();
    println!("\nwasmcell ratios (criterion medians, every figure measured by this process)");
    println!(
        "{:<80} {:>12} {:>12} {:>8} {:>12}",
        "what", "measured", "baseline", "ratio", "difference"
    );
    for row in table() {
        let net = match row.net_of {
            None => Some((0.0, 0.0)),
            Some((m, b)) => get(m).zip(get(b)),
        };
        let what = row.what;
        match (get(row.measured), get(row.baseline), net) {
            (Some(m), Some(b), Some((m0, b0))) => {
                let (m, b) = ((m - m0) / row.per, (b - b0) / row.per);
                println!(
                    "{what:<80} {:>12} {:>12} {:>7.2}x {:>12}",
                    format_ns(m),
                    format_ns(b),
                    m / b,
                    format_ns(m - b)
                )
            }
            _ => println!("{what:<80} not run in this process (filtered out, or not measured: --test, --profile-time)"),
        }
    }
}

fn format_ns(ns: f64) -> String {
    match ns.abs() {
        a if a >= 1e6 => format!("{:.2} ms", ns / 1e6),
        a if a >= 1e3 => format!("{:.2} µs", ns / 1e3),
        _ => format!("{ns:.1} ns"),
    }
}

fn main() {
    let root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion");
    ROOT.set(root.clone()).expect("main runs once");
    let mut c = Criterion::default()
        .output_directory(&root)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    empty_poll(&mut c);
    compute_budget(&mut c);
    callbacks(&mut c);
    process_image(&mut c);
    load(&mut c);
    print(&mut c);
    c.final_summary();
    print_ratio_table();
}
