//! Helpers shared by the Rust integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Resident memory of this process in bytes: the resident size of
/// /proc/self/statm on Linux, the working set on Windows.
#[cfg(not(windows))]
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap()
        * 4096
}

/// Resident memory of this process in bytes: the resident size of
/// /proc/self/statm on Linux, the working set on Windows.
#[cfg(windows)]
pub fn resident_bytes() -> u64 {
    #[repr(C)]
    #[derive(Default)]
    struct ProcessMemoryCounters {
        cb: u32,
        page_fault_count: u32,
        peak_working_set_size: usize,
        working_set_size: usize,
        quota_peak_paged_pool_usage: usize,
        quota_paged_pool_usage: usize,
        quota_peak_non_paged_pool_usage: usize,
        quota_non_paged_pool_usage: usize,
        pagefile_usage: usize,
        peak_pagefile_usage: usize,
    }
    extern "system" {
        fn GetCurrentProcess() -> *mut std::ffi::c_void;
        fn K32GetProcessMemoryInfo(
            process: *mut std::ffi::c_void,
            counters: *mut ProcessMemoryCounters,
            cb: u32,
        ) -> i32;
    }
    let mut counters = ProcessMemoryCounters {
        cb: std::mem::size_of::<ProcessMemoryCounters>() as u32,
        ..Default::default()
    };
    // SAFETY: kernel32 functions; `counters` is a valid, sized out-parameter.
    let ok = unsafe { K32GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, counters.cb) };
    assert!(ok != 0, "K32GetProcessMemoryInfo failed");
    counters.working_set_size as u64
}

/// Whether rustc can build wasm32-unknown-unknown guests here.
pub fn wasm32_available() -> bool {
    Command::new("rustc")
        .args([
            "--print",
            "target-libdir",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).is_dir())
        .unwrap_or(false)
}

/// Says loudly that a test did not run for lack of a guest toolchain; fails
/// instead when `WASMCELL_REQUIRE_GUEST_TOOLCHAINS` is set (CI sets it, after
/// installing the toolchains), so a broken install cannot pass as green.
/// The note goes to stdout, which `cargo test` shows in its summary only for
/// failures, so it is also written to `target/guest-tests-not-run.txt`,
/// which `make test` prints at the end.
pub fn not_run(what: &str) {
    let message = format!("NOT RUN: {what}");
    if std::env::var_os("WASMCELL_REQUIRE_GUEST_TOOLCHAINS").is_some() {
        panic!("{message}, but WASMCELL_REQUIRE_GUEST_TOOLCHAINS is set");
    }
    eprintln!("{message}");
    let report = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|target| target.join("guest-tests-not-run.txt"));
    if let Some(report) = report {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(report)
        {
            let _ = writeln!(file, "{message}");
        }
    }
}

/// Compiles `guest/<source>` to wasm with extra rustc flags, or None (loudly:
/// see [`not_run`]) when the wasm32 target is not installed.
pub fn build_rust_guest(source: &str, output: &str, flags: &[&str]) -> Option<Vec<u8>> {
    if !wasm32_available() {
        not_run(&format!("Rust guest {source}: the wasm32-unknown-unknown target is not installed (rustup target add wasm32-unknown-unknown); the WAT fixtures cover the same behaviour"));
        return None;
    }
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(output);
    let status = Command::new("rustc")
        .arg(format!("{}/guest/{source}", env!("CARGO_MANIFEST_DIR")))
        .args([
            "--target",
            "wasm32-unknown-unknown",
            "--crate-type",
            "cdylib",
            "-O",
            "-C",
            "strip=debuginfo",
            "-o",
        ])
        .arg(&out)
        .args(flags)
        .status()
        .expect("rustc runs");
    assert!(status.success(), "building guest {source} failed");
    Some(std::fs::read(out).unwrap())
}

/// Defines `module.name` on `rt` as a host function of one integer parameter
/// (`signature` `"(i)"` or `"(I)"`) that keeps its last argument in the
/// returned cell.
pub fn record_arg(
    rt: &wasmcell::Runtime,
    module: &str,
    name: &str,
    signature: &str,
) -> std::sync::Arc<std::sync::atomic::AtomicI64> {
    use std::sync::atomic::{AtomicI64, Ordering};
    use wasmcell::{HostCall, Val};
    let cell = std::sync::Arc::new(AtomicI64::new(0));
    let seen = cell.clone();
    rt.define(
        module,
        name,
        signature,
        move |_: &mut HostCall<'_>, args: &[Val], _: &mut [Val]| {
            match args[0] {
                Val::I32(n) => seen.store(n as i64, Ordering::SeqCst),
                Val::I64(n) => seen.store(n, Ordering::SeqCst),
                _ => return Err(1),
            }
            Ok(())
        },
    )
    .unwrap();
    cell
}
