//! Host calls, process image, print throughput and scale, each beside a
//! baseline measured in the same run (raw wasmer or native code).
//!
//! Run: `make bench` (or `cargo bench --bench scenarios`).

#[path = "support/mod.rs"]
mod support;

use std::ffi::c_void;
use std::hint::black_box;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::best;
use wasmcell::ffi::host::{wasmcell_call, wasmcell_val};
use wasmcell::{LogLevel, Runtime};
use wasmer::{
    imports, Function, FunctionType, Instance, Memory, Module, Store, Type, TypedFunction, Value,
};

const CALLS: u32 = 1_000_000;

fn row(what: &str, ours: Duration, baseline: Duration, baseline_name: &str) {
    println!(
        "{what:<52} {:>10.1?} {:>10.1?}  {:>6.2}x  ({baseline_name})",
        ours,
        baseline,
        ours.as_secs_f64() / baseline.as_secs_f64()
    );
}

/// A guest that calls `h.f` CALLS times per poll, with a scalar or a buffer.
fn caller_wat(buffer: bool) -> String {
    let (ty, args) = if buffer {
        (
            "(param i32 i32) (result i32)",
            "(i32.const 16) (i32.const 8)",
        )
    } else {
        ("(param i32) (result i32)", "(local.get $i)")
    };
    format!(
        r#"(module (import "h" "f" (func $f {ty}))
  (memory (export "memory") 1)
  (data (i32.const 16) "Polling\n")
  (func (export "poll") (local $i i32)
    (loop $next
      (drop (call $f {args}))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const {CALLS}))))))"#
    )
}

unsafe extern "C" fn c_increment(
    _: *mut c_void,
    _: *mut wasmcell_call,
    args: *const wasmcell_val,
    _: usize,
    results: *mut wasmcell_val,
    _: usize,
) -> i32 {
    unsafe { (*results).i32 = (*args).i32 + 1 };
    0
}

unsafe extern "C" fn c_buffer_len(
    _: *mut c_void,
    _: *mut wasmcell_call,
    args: *const wasmcell_val,
    _: usize,
    results: *mut wasmcell_val,
    _: usize,
) -> i32 {
    unsafe { (*results).i32 = (*args).buf.len as i32 + *(*args).buf.ptr as i32 };
    0
}

/// The guest of `caller_wat` on raw wasmer, with the import as a typed
/// function, or as a dynamic one (`Function::new`, the path wasmcell's
/// run-time signatures use).
fn raw_caller(buffer: bool, dynamic: bool) -> (Store, TypedFunction<(), ()>) {
    let mut store = Store::default();
    let module = Module::new(&store, caller_wat(buffer)).unwrap();
    let f = match (buffer, dynamic) {
        (true, false) => Function::new_typed(&mut store, |ptr: i32, len: i32| ptr + len),
        (false, false) => Function::new_typed(&mut store, |x: i32| x + 1),
        (true, true) => Function::new(
            &mut store,
            FunctionType::new([Type::I32, Type::I32], [Type::I32]),
            |args: &[Value]| {
                Ok(vec![Value::I32(
                    args[0].unwrap_i32() + args[1].unwrap_i32(),
                )])
            },
        ),
        (false, true) => Function::new(
            &mut store,
            FunctionType::new([Type::I32], [Type::I32]),
            |args: &[Value]| Ok(vec![Value::I32(args[0].unwrap_i32() + 1)]),
        ),
    };
    let instance = Instance::new(&mut store, &module, &imports! { "h" => { "f" => f } }).unwrap();
    let _memory: &Memory = instance.exports.get_memory("memory").unwrap();
    let poll = instance.exports.get_typed_function(&store, "poll").unwrap();
    (store, poll)
}

fn c_defined_program(
    buffer: bool,
) -> (
    *mut wasmcell::ffi::runtime::wasmcell_runtime,
    *mut wasmcell::ffi::program::wasmcell_program,
) {
    use wasmcell::ffi::{
        host::wasmcell_runtime_define, program::wasmcell_program_load,
        runtime::wasmcell_runtime_new,
    };
    let mut rt = std::ptr::null_mut();
    let mut program = std::ptr::null_mut();
    assert_eq!(wasmcell_runtime_new(&mut rt), 0);
    let (sig, f): (&std::ffi::CStr, _) = if buffer {
        (
            c"(*~)i",
            c_buffer_len as unsafe extern "C" fn(_, _, _, _, _, _) -> i32,
        )
    } else {
        (
            c"(i)i",
            c_increment as unsafe extern "C" fn(_, _, _, _, _, _) -> i32,
        )
    };
    assert_eq!(
        wasmcell_runtime_define(
            rt,
            c"h".as_ptr(),
            c"f".as_ptr(),
            sig.as_ptr(),
            Some(f),
            std::ptr::null_mut(),
            None
        ),
        0
    );
    let wat = caller_wat(buffer);
    assert_eq!(
        wasmcell_program_load(
            rt,
            c"caller".as_ptr(),
            wat.as_ptr(),
            wat.len(),
            &mut program
        ),
        0
    );
    assert_eq!(
        wasmcell::ffi::program::wasmcell_program_set_fuel(program, u64::MAX / 4),
        0
    );
    (rt, program)
}

fn image_wat(bytes: u32) -> String {
    let pad = |v: u32| {
        v.to_le_bytes()
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect::<String>()
    };
    format!(
        r#"(module (memory (export "memory") 1)
  (data (i32.const 0) "WCIM" "{}" "{}" "{}" "{}" "{}" "{}" "{}" "{}" "{}" "{}")
  (func (export "wasmcell_image") (result i32) (i32.const 0))
  (func (export "poll")))"#,
        pad(1),
        pad(1024),
        pad(bytes),
        pad(1024 + bytes),
        pad(bytes),
        pad(0),
        pad(0),
        pad(0),
        pad(0),
        pad(0)
    )
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    println!("{:<52} {:>10} {:>10}  ratio", "", "measured", "baseline");

    // --- host callback round trips ------------------------------------------
    for (buffer, name) in [(false, "(i)i"), (true, "(*~)i")] {
        let (mut store, poll) = raw_caller(buffer, false);
        let raw = best(5, CALLS as u64, || poll.call(&mut store).unwrap());
        let (mut dstore, dpoll) = raw_caller(buffer, true);
        let raw_dynamic = best(5, CALLS as u64, || dpoll.call(&mut dstore).unwrap());
        let (rt, program) = c_defined_program(buffer);
        let via_c = best(5, CALLS as u64, || {
            assert_eq!(wasmcell::ffi::program::wasmcell_program_poll(program), 0);
        });
        wasmcell::ffi::runtime::wasmcell_runtime_free(rt);
        println!("host callback round trip {name}, per call");
        row(
            "  C callback through wasmcell_runtime_define",
            via_c,
            raw,
            "raw wasmer typed import",
        );
        row(
            "  raw wasmer dynamic import (Function::new)",
            raw_dynamic,
            raw,
            "raw wasmer typed import",
        );
        row(
            "  C callback through wasmcell_runtime_define",
            via_c,
            raw_dynamic,
            "raw wasmer dynamic import",
        );
    }

    // --- process image copy -----------------------------------------------
    let rt = Runtime::default();
    let plain = rt.load("plain", image_wat(0).as_bytes()).unwrap();
    let imaged = rt.load("imaged", image_wat(1024).as_bytes()).unwrap();
    const POLLS: u64 = 1_000_000;
    let without = best(5, POLLS, || {
        for _ in 0..POLLS {
            plain.poll().unwrap();
        }
    });
    let with = best(5, POLLS, || {
        for _ in 0..POLLS {
            imaged.poll().unwrap();
        }
    });
    println!("process image, per poll");
    row(
        "  poll with 1 KiB inputs + 1 KiB outputs",
        with,
        without,
        "same poll, no image",
    );
    println!("  added per poll: {:?}", with.saturating_sub(without));

    // --- print throughput (the original design's figure) --------------------
    let path = std::env::temp_dir().join(format!("wasmcell-print-{}", std::process::id()));
    const LINES: u64 = 1_000_000;
    let file = Arc::new(Mutex::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    )));
    let sink = file.clone();
    let printer = Runtime::default();
    printer.set_log_sink(move |_: &str, _: LogLevel, message: &[u8]| {
        let _ = sink.lock().unwrap().write_all(message);
    });
    let hello = printer
        .load("hello", include_bytes!("../tests/fixtures/hello.wat"))
        .unwrap();
    let guest = best(3, LINES, || {
        for _ in 0..LINES {
            hello.poll().unwrap();
        }
        file.lock().unwrap().flush().unwrap();
    });
    let native = best(3, LINES, || {
        for _ in 0..LINES {
            let _ = black_box(&file)
                .lock()
                .unwrap()
                .write_all(black_box(b"Polling\n"));
        }
        file.lock().unwrap().flush().unwrap();
    });
    let _ = std::fs::remove_file(&path);
    println!("print throughput: \"Polling\\n\" into a buffered file, per line");
    row(
        "  guest env.print -> log sink -> file",
        guest,
        native,
        "native loop, same writer",
    );
    println!(
        "  throughput: guest {:.1} MB/s, native {:.1} MB/s: {:.2} of native (the original design measured 0.70)",
        8.0 / guest.as_secs_f64() / 1e6,
        8.0 / native.as_secs_f64() / 1e6,
        native.as_secs_f64() / guest.as_secs_f64()
    );

    // --- scale: 1000 programs ------------------------------------------------
    let scale = Runtime::default();
    let counter = "(module (global $n (mut i32) (i32.const 0)) (memory 1)
        (func (export \"poll\") (global.set $n (i32.add (global.get $n) (i32.const 1)))))";
    scale.load("warm", counter.as_bytes()).unwrap();
    let before = rss_bytes();
    let programs: Vec<_> = (0..1000)
        .map(|i| scale.load(&format!("p{i}"), counter.as_bytes()).unwrap())
        .collect();
    let after = rss_bytes();
    let all_once = best(5, 1, || {
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
    println!("scale: 1000 programs in one runtime (64 KiB linear memory each)");
    println!(
        "  RSS per program: {:.1} KiB (guest memory included)",
        (after - before) as f64 / 1000.0 / 1024.0
    );
    println!("  poll all 1000 once: {all_once:?}");
    println!(
        "  single-poll latency over 1 M polls: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        pct(0.5),
        pct(0.99),
        pct(0.999),
        latencies[latencies.len() - 1]
    );
}
