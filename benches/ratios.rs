//! What wasmcell costs per operation, measured by criterion beside its
//! baseline in the same run (raw wasmer on the same module and compiler, or
//! native code), because this machine is noisy: the ratio is what counts.
//! After the measurements, a table of ratios is printed from criterion's own
//! estimates (medians).
//!
//! Run: `make bench` (or `cargo bench --bench ratios`; a criterion filter
//! such as `cargo bench --bench ratios -- callback` runs one group).

#[path = "support/mod.rs"]
mod support;

use criterion::{Criterion, Throughput};
use std::ffi::c_void;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::*;
use wasmcell::ffi::host::{wasmcell_call, wasmcell_val};
use wasmcell::ffi::program::wasmcell_program_poll;
use wasmcell::Runtime;
use wasmer::sys::{Cranelift, EngineBuilder};
use wasmer::{Engine, Module};

fn empty_poll(c: &mut Criterion) {
    let mut group = c.benchmark_group("empty_poll");
    #[inline(never)]
    extern "C" fn native_poll() {}
    let native: extern "C" fn() = black_box(native_poll);
    group.bench_function("native_fn_pointer", |b| b.iter(|| native()));
    let mut raw = RawGuest::new(EMPTY_WAT, false);
    group.bench_function("raw_wasmer", |b| b.iter(|| raw.poll()));
    let rt = Runtime::default();
    let program = rt.load("empty", EMPTY_WAT.as_bytes()).unwrap();
    group.bench_function("wasmcell_rust", |b| b.iter(|| program.poll().unwrap()));
    // The same poll with a watchdog armed and disarmed around it.
    let watched = rt.load("watched", EMPTY_WAT.as_bytes()).unwrap();
    watched.set_watchdog(1_000_000_000, 1).unwrap();
    group.bench_function("wasmcell_rust_watchdog", |b| {
        b.iter(|| watched.poll().unwrap())
    });
    let c_program = CProgram::new(EMPTY_WAT);
    group.bench_function("wasmcell_c_abi", |b| {
        b.iter(|| assert_eq!(wasmcell_program_poll(black_box(c_program.program)), 0))
    });
    group.finish();
}

fn compute_budget(c: &mut Criterion) {
    let rt = Runtime::default();
    for (shape, body) in [
        ("straight", STRAIGHT_BODY),
        ("branchy", BRANCHY_BODY),
        ("tight", ""),
    ] {
        let mut group = c.benchmark_group(format!("compute_{shape}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(ITERATIONS as u64));
        let wat = compute_wat(body);
        let mut raw = RawGuest::new(&wat, false);
        group.bench_function("raw_wasmer", |b| b.iter(|| raw.poll()));
        let mut metered = RawGuest::new(&wat, true);
        group.bench_function("wasmer_metering", |b| b.iter(|| metered.poll()));
        let program = rt.load(shape, wat.as_bytes()).unwrap();
        program.set_fuel(u64::MAX / 4).unwrap();
        group.bench_function("wasmcell_budget", |b| b.iter(|| program.poll().unwrap()));
        let watched = rt
            .load(&format!("{shape}_watched"), wat.as_bytes())
            .unwrap();
        watched.set_fuel(u64::MAX / 4).unwrap();
        watched.set_watchdog(10_000_000_000, 1).unwrap();
        group.bench_function("wasmcell_budget_watchdog", |b| {
            b.iter(|| watched.poll().unwrap())
        });
        group.finish();
    }
}

fn callbacks(c: &mut Criterion) {
    for (buffer, name) in [(false, "callback_i_i"), (true, "callback_buf")] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(CALLS as u64));
        let (mut store, poll) = raw_caller(buffer, false);
        group.bench_function("raw_typed_import", |b| {
            b.iter(|| poll.call(&mut store).unwrap())
        });
        let (mut store, poll) = raw_caller(buffer, true);
        group.bench_function("raw_dynamic_import", |b| {
            b.iter(|| poll.call(&mut store).unwrap())
        });
        let program = CProgram::caller(buffer);
        group.bench_function("wasmcell_c_callback", |b| {
            b.iter(|| assert_eq!(wasmcell_program_poll(program.program), 0))
        });
        group.finish();
    }
}

fn process_image(c: &mut Criterion) {
    let mut group = c.benchmark_group("process_image");
    let rt = Runtime::default();
    let plain = rt.load("plain", image_wat(0).as_bytes()).unwrap();
    let imaged = rt.load("imaged", image_wat(1024).as_bytes()).unwrap();
    imaged.write_inputs(0, &[7u8; 1024]).unwrap();
    group.bench_function("poll_without_image", |b| b.iter(|| plain.poll().unwrap()));
    group.bench_function("poll_with_1KiB_in_1KiB_out", |b| {
        b.iter(|| imaged.poll().unwrap())
    });
    group.finish();
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_tiny");
    let wasm = wat::parse_str(EMPTY_WAT).unwrap();
    group.bench_function("raw_wasmer_module_new", |b| {
        b.iter(|| {
            let engine: Engine = EngineBuilder::new(Cranelift::default()).engine().into();
            black_box(Module::new(&engine, &wasm).unwrap())
        })
    });
    group.bench_function("wasmcell_cold", |b| {
        b.iter(|| {
            let fresh = Runtime::default();
            black_box(fresh.load("cold", &wasm).unwrap());
        })
    });
    let warm = Runtime::default();
    warm.load("first", &wasm).unwrap();
    group.bench_function("wasmcell_cache_hit", |b| {
        b.iter(|| black_box(warm.load("hit", &wasm).unwrap()))
    });
    group.finish();
}

/// Writes the guest buffer to the file descriptor in `user_data`, as the
/// original example's print did: one write(2) per line.
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
        (*results).i32 = if written == buf.len as isize { 0 } else { -1 };
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

    let mut group = c.benchmark_group("print_write_per_line");
    group.throughput(Throughput::Bytes(8));
    group.bench_function("native_loop", |b| {
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
    group.bench_function("guest_poll", |b| {
        b.iter(|| assert_eq!(wasmcell_program_poll(printer.program), 0))
    });
    group.finish();

    let mut group = c.benchmark_group("print_buffered");
    group.throughput(Throughput::Bytes(8));
    let mut native_out: Vec<u8> = Vec::with_capacity(1 << 21);
    group.bench_function("native_loop", |b| {
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
    group.bench_function("guest_poll", |b| {
        b.iter(|| assert_eq!(wasmcell_program_poll(printer.program), 0))
    });
    group.finish();
    drop(printer);
    drop(file);
    let _ = std::fs::remove_file(&path);
}

/// Criterion's median estimate of one benchmark, in nanoseconds.
fn median_ns(root: &Path, group: &str, bench: &str) -> Option<f64> {
    let path = root.join(group).join(bench).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// The table of ratios: (group, measured, baseline, per-iteration divisor, what).
const RATIOS: &[(&str, &str, &str, f64, &str)] = &[
    (
        "empty_poll",
        "wasmcell_rust_watchdog",
        "wasmcell_rust",
        1.0,
        "empty poll with a watchdog vs without (arm + disarm)",
    ),
    (
        "compute_branchy",
        "wasmcell_budget_watchdog",
        "wasmcell_budget",
        1.0,
        "budget, branchy compute, with a watchdog vs without",
    ),
    (
        "empty_poll",
        "wasmcell_rust",
        "raw_wasmer",
        1.0,
        "empty poll, Rust API (default budget, timing, stats)",
    ),
    (
        "empty_poll",
        "wasmcell_c_abi",
        "raw_wasmer",
        1.0,
        "empty poll, C ABI (target <= 1.2x)",
    ),
    (
        "empty_poll",
        "raw_wasmer",
        "native_fn_pointer",
        1.0,
        "raw wasmer call vs native fn pointer",
    ),
    (
        "compute_straight",
        "wasmcell_budget",
        "raw_wasmer",
        1.0,
        "budget, straight-line compute (target <= 1.05x, issue 15)",
    ),
    (
        "compute_straight",
        "wasmer_metering",
        "raw_wasmer",
        1.0,
        "wasmer Metering, straight-line compute",
    ),
    (
        "compute_branchy",
        "wasmcell_budget",
        "raw_wasmer",
        1.0,
        "budget, branchy compute (target <= 1.20x, issue 15)",
    ),
    (
        "compute_tight",
        "wasmcell_budget",
        "raw_wasmer",
        1.0,
        "budget, empty loop (counter and compare only)",
    ),
    (
        "compute_branchy",
        "wasmer_metering",
        "raw_wasmer",
        1.0,
        "wasmer Metering, branchy compute",
    ),
    (
        "callback_i_i",
        "wasmcell_c_callback",
        "raw_typed_import",
        CALLS as f64,
        "C callback (i)i per call (target <= 1.3x)",
    ),
    (
        "callback_i_i",
        "raw_dynamic_import",
        "raw_typed_import",
        CALLS as f64,
        "raw wasmer dynamic import (i)i per call",
    ),
    (
        "callback_buf",
        "wasmcell_c_callback",
        "raw_typed_import",
        CALLS as f64,
        "C callback (*~)i per call (target <= 1.3x)",
    ),
    (
        "callback_buf",
        "raw_dynamic_import",
        "raw_typed_import",
        CALLS as f64,
        "raw wasmer dynamic import (*~)i per call",
    ),
    (
        "process_image",
        "poll_with_1KiB_in_1KiB_out",
        "poll_without_image",
        1.0,
        "poll with 1 KiB in + 1 KiB out image",
    ),
    (
        "load_tiny",
        "wasmcell_cold",
        "raw_wasmer_module_new",
        1.0,
        "load tiny module, cold (compile)",
    ),
    (
        "load_tiny",
        "wasmcell_cache_hit",
        "wasmcell_cold",
        1.0,
        "load tiny module, cache hit vs cold",
    ),
    (
        "print_write_per_line",
        "native_loop",
        "guest_poll",
        1.0,
        "print throughput, write(2) per line: fraction of native (target >= 0.95)",
    ),
    (
        "print_buffered",
        "native_loop",
        "guest_poll",
        1.0,
        "print throughput, buffered: fraction of native",
    ),
];

fn print_ratio_table(root: &Path) {
    println!("\nwasmcell ratios (criterion medians, same run)");
    println!(
        "{:<72} {:>12} {:>12} {:>8}",
        "what", "measured", "baseline", "ratio"
    );
    for (group, measured, baseline, per, what) in RATIOS {
        match (
            median_ns(root, group, measured),
            median_ns(root, group, baseline),
        ) {
            (Some(m), Some(b)) => println!(
                "{what:<72} {:>12} {:>12} {:>7.2}x",
                format_ns(m / per),
                format_ns(b / per),
                m / b
            ),
            _ => println!("{what:<72} (not measured in this run)"),
        }
    }
}

fn format_ns(ns: f64) -> String {
    match ns {
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.1} ns"),
    }
}

fn main() {
    let root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion");
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
    print_ratio_table(&root);
}
