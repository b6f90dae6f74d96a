//! The WASI preview 1 subset: what ordinary toolchains' programs need runs
//! (stdout/stderr to the log, clocks, random, exit), everything else answers
//! an error code. WAT twins cover each behaviour; a Rust `std` guest and a C
//! guest on wasi-libc are built and run when their toolchains are present.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use wasmcell::{ErrorKind, FaultKind, LogLevel, Runtime};

type Lines = Arc<Mutex<Vec<(String, LogLevel, String)>>>;

fn runtime() -> (Runtime, Lines) {
    let rt = Runtime::default();
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    rt.set_log_sink(move |program: &str, level: LogLevel, message: &[u8]| {
        sink.lock().unwrap().push((
            program.to_string(),
            level,
            String::from_utf8_lossy(message).into_owned(),
        ));
    })
    .unwrap();
    (rt, lines)
}

/// A module importing `fd_write`, with `text` at address 64 and `poll`
/// writing it to `fd` in one iovec.
fn writer(fd: i32, text: &str) -> String {
    format!(
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "\40\00\00\00")
          (data (i32.const 64) "{}")
          (global $errno (export "errno") (mut i32) (i32.const -1))
          (func (export "poll")
            (i32.store (i32.const 4) (i32.const {}))
            (global.set $errno (call $w (i32.const {fd}) (i32.const 0) (i32.const 1) (i32.const 32)))))"#,
        text.replace('\n', "\\n"),
        text.len()
    )
}

#[test]
fn stdout_and_stderr_reach_the_log_a_line_at_a_time() {
    let (rt, lines) = runtime();
    let out = rt
        .load("out", writer(1, "one\ntwo\nthree").as_bytes())
        .unwrap();
    out.poll().unwrap();
    // The partial line is flushed when the poll ends.
    assert_eq!(
        *lines.lock().unwrap(),
        vec![
            ("out".into(), LogLevel::Print, "one\n".into()),
            ("out".into(), LogLevel::Print, "two\n".into()),
            ("out".into(), LogLevel::Print, "three".into()),
        ]
    );
    lines.lock().unwrap().clear();
    let err = rt.load("err", writer(2, "warning\n").as_bytes()).unwrap();
    err.poll().unwrap();
    assert_eq!(
        *lines.lock().unwrap(),
        vec![("err".into(), LogLevel::Warn, "warning".into())]
    );
}

#[test]
fn a_guest_printing_10_mb_per_poll_is_capped_and_the_host_keeps_its_cycle() {
    let (rt, lines) = runtime();
    // 160 iovecs of 64 KiB each (the same page) per call: 10 MiB per poll.
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 4)
      (func (export "poll") (local $i i32)
        (memory.fill (i32.const 65536) (i32.const 65) (i32.const 65536))
        (loop $iov
          (i32.store (i32.add (i32.const 0) (i32.mul (local.get $i) (i32.const 8))) (i32.const 65536))
          (i32.store (i32.add (i32.const 4) (i32.mul (local.get $i) (i32.const 8))) (i32.const 65536))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $iov (i32.lt_u (local.get $i) (i32.const 160))))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 160) (i32.const 4096)))))"#;
    let chatty = rt.load("chatty", wat.as_bytes()).unwrap();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        chatty.poll().unwrap();
        assert!(started.elapsed().as_secs() < 5);
    }
    let lines = lines.lock().unwrap();
    let bytes: usize = lines.iter().map(|(_, _, l)| l.len()).sum();
    // 64 KiB per poll, plus one warning line per poll.
    assert!(
        bytes <= 5 * (64 * 1024 + 200),
        "{bytes} bytes reached the log"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|(_, l, _)| *l == LogLevel::Warn)
            .count(),
        5
    );
}

#[test]
fn proc_exit_faults_with_its_code() {
    let (rt, _) = runtime();
    for code in [0, 3] {
        let wat = format!(
            r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (func (export "poll") (call $exit (i32.const {code}))))"#
        );
        let program = rt.load("exits", wat.as_bytes()).unwrap();
        let err = program.poll().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::GuestFault, "{err}");
        assert_eq!(program.fault_kind(), FaultKind::GuestReported);
        assert!(
            err.message().contains(&format!("proc_exit({code})")),
            "{err}"
        );
    }
}

/// Defines `test.report(i32)`, collecting what the guest reports.
fn reporter(rt: &Runtime) -> Arc<Mutex<Vec<i32>>> {
    let seen: Arc<Mutex<Vec<i32>>> = Arc::default();
    let record = seen.clone();
    rt.define(
        "test",
        "report",
        "(i)",
        move |_: &mut wasmcell::HostCall<'_>, args: &[wasmcell::Val], _: &mut [wasmcell::Val]| {
            if let wasmcell::Val::I32(v) = args[0] {
                record.lock().unwrap().push(v);
            }
            Ok(())
        },
    )
    .unwrap();
    seen
}

#[test]
fn unsupported_calls_return_their_errno() {
    let (rt, _) = runtime();
    let seen = reporter(&rt);
    let program = rt
        .load(
            "denied",
            r#"(module
              (import "test" "report" (func $report (param i32)))
              (import "wasi_snapshot_preview1" "path_open"
                (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (func (export "poll")
                (call $report (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 4)
                  (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))
                (call $report (call $read (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 0)))
                (call $report (call $prestat (i32.const 3) (i32.const 0)))
                (call $report (call $send (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
                (call $report (call $poll (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))"#
                .as_bytes(),
        )
        .unwrap();
    program.poll().unwrap();
    // ENOSYS 52 for functions without descriptors, EBADF 8 for descriptors.
    assert_eq!(*seen.lock().unwrap(), vec![52, 8, 8, 8, 52]);
}

#[test]
fn clocks_follow_the_runtimes_clock_and_random_follows_the_seed() {
    let (rt, _) = runtime();
    let seen = reporter(&rt);
    rt.set_clock(|| 42_000i64).unwrap();
    let wat = r#"(module
      (import "test" "report" (func $report (param i32)))
      (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "poll")
        (call $report (call $time (i32.const 1) (i64.const 1) (i32.const 0)))
        (call $report (i32.load (i32.const 0)))
        (call $report (call $time (i32.const 9) (i64.const 1) (i32.const 0)))
        (call $report (call $random (i32.const 8) (i32.const 4)))
        (call $report (i32.load (i32.const 8)))))"#;
    rt.set_random_seed(Some(7));
    let a = rt.load("same", wat.as_bytes()).unwrap();
    a.poll().unwrap();
    a.reset().unwrap();
    a.poll().unwrap();
    let b = rt.load("other", wat.as_bytes()).unwrap();
    b.poll().unwrap();
    let seen = seen.lock().unwrap();
    // errno 0, the replaced clock's value, EINVAL for an unknown clock, errno 0.
    assert_eq!(seen[..4], [0, 42_000, 28, 0]);
    assert_eq!(
        seen[4], seen[9],
        "same seed and name: same bytes after a reset"
    );
    assert_ne!(seen[4], seen[14], "another program name: other bytes");
}

#[test]
fn commands_are_refused_and_reactors_are_initialised() {
    let (rt, lines) = runtime();
    let err = rt
        .load(
            "command",
            br#"(module (func (export "_start")) (func (export "poll")))"#,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link, "{err}");
    assert!(err.message().contains("cdylib"), "{err}");
    let program = rt
        .load(
            "reactor",
            br#"(module (import "env" "print" (func $p (param i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 0) "_initialize\n" "init\n")
              (func (export "_initialize") (drop (call $p (i32.const 0) (i32.const 12))))
              (func (export "init") (drop (call $p (i32.const 12) (i32.const 5))))
              (func (export "poll")))"#,
        )
        .unwrap();
    program.reset().unwrap();
    let order: Vec<String> = lines.lock().unwrap().iter().map(|l| l.2.clone()).collect();
    assert_eq!(
        order,
        vec!["_initialize\n", "init\n", "_initialize\n", "init\n"]
    );
}

/// Builds a guest with an external toolchain, or says loudly why not (and
/// fails when WASMCELL_REQUIRE_GUEST_TOOLCHAINS is set, as CI does).
fn build_guest(what: &str, command: &mut Command, output: &std::path::Path) -> Option<Vec<u8>> {
    let built = command.status().map(|s| s.success()).unwrap_or(false);
    if !built {
        common::not_run(&format!(
            "{what} guest: the toolchain is not available ({command:?}); the WAT twins cover the WASI behaviour"
        ));
        return None;
    }
    Some(std::fs::read(output).unwrap())
}

#[test]
fn a_rust_std_guest_prints_hashes_reads_the_clock_and_panics() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("std_program.wasm");
    let Some(wasm) = build_guest(
        "Rust wasm32-wasip1",
        Command::new("rustc")
            .arg(format!(
                "{}/guest/std_program.rs",
                env!("CARGO_MANIFEST_DIR")
            ))
            .args(["--target", "wasm32-wasip1", "--crate-type", "cdylib", "-O"])
            .args(["-C", "strip=debuginfo", "-o"])
            .arg(&out),
        &out,
    ) else {
        return;
    };
    let (rt, lines) = runtime();
    let program = rt.load("std", &wasm).unwrap();
    for _ in 0..4 {
        program.poll().unwrap();
    }
    let err = program.poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    let lines = lines.lock().unwrap();
    let printed: Vec<&str> = lines
        .iter()
        .filter(|l| l.1 == LogLevel::Print)
        .map(|l| l.2.as_str())
        .collect();
    assert_eq!(printed.len(), 5, "{printed:?}");
    assert_eq!(
        printed[0],
        "poll 1: [(\"pump\", 1), (\"sensor\", 1), (\"valve\", 3)]\n"
    );
    assert!(lines
        .iter()
        .any(|l| l.1 == LogLevel::Warn && l.2 == "poll 1 took true ns"));
    assert!(
        lines
            .iter()
            .any(|l| l.1 == LogLevel::Warn && l.2.contains("the fifth poll panics")),
        "the panic message reaches the log: {lines:?}"
    );
}

#[test]
fn a_c_guest_on_wasi_libc_prints_allocates_and_reads_the_time() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_printf.wasm");
    let Some(wasm) = build_guest(
        "clang + wasi-libc",
        Command::new("clang")
            .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-o"])
            .arg(&out)
            .arg(format!("{}/guest/c_printf.c", env!("CARGO_MANIFEST_DIR"))),
        &out,
    ) else {
        return;
    };
    let (rt, lines) = runtime();
    let program = rt.load("c", &wasm).unwrap();
    program.poll().unwrap();
    program.poll().unwrap();
    let printed: Vec<String> = lines.lock().unwrap().iter().map(|l| l.2.clone()).collect();
    assert_eq!(
        printed,
        vec![
            "cycle 1, clock running: yes\n",
            "cycle 2, clock running: yes\n"
        ]
    );
}
