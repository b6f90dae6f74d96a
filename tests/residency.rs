//! Memory residency and first polls: with `Residency::Prefault` the control
//! loop takes no page faults on the program's initial memory; the engine's
//! one-time set-up happens when the first runtime is created, not in the
//! first poll.

use std::time::Instant;
use wasmcell::{Residency, Runtime};

/// Minor page faults of this thread so far.
#[cfg(not(windows))]
fn minor_faults() -> i64 {
    // SAFETY: getrusage writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    usage.ru_minflt
}

/// Not on Windows: the tests that count page faults are ignored there.
#[cfg(windows)]
fn minor_faults() -> i64 {
    unreachable!("getrusage(RUSAGE_THREAD) does not exist on Windows")
}

/// A program with 16 MiB of initial memory whose poll writes one byte per page.
const TOUCHER: &[u8] = br#"(module (memory (export "memory") 256)
  (func (export "poll") (local $at i32)
    (loop $page
      (i32.store8 (local.get $at) (i32.const 1))
      (local.set $at (i32.add (local.get $at) (i32.const 4096)))
      (br_if $page (i32.lt_u (local.get $at) (i32.const 16777216))))))"#;

fn faults_in_first_poll(residency: Residency) -> i64 {
    let rt = Runtime::default();
    let mut limits = rt.default_limits();
    limits.residency = residency;
    rt.set_default_limits(limits).unwrap();
    let program = rt.load("toucher", TOUCHER).unwrap();
    let before = minor_faults();
    program.poll().unwrap();
    minor_faults() - before
}

#[test]
#[cfg_attr(
    windows,
    ignore = "skipped on Windows: counts this thread's page faults with getrusage(RUSAGE_THREAD), which Windows lacks"
)]
fn a_prefaulted_memory_takes_no_page_faults_in_the_loop() {
    let on_demand = faults_in_first_poll(Residency::OnDemand);
    let prefaulted = faults_in_first_poll(Residency::Prefault);
    println!(
        "first poll touching 16 MiB: {on_demand} minor faults on demand, {prefaulted} prefaulted"
    );
    assert!(on_demand >= 4000, "on demand: {on_demand} faults");
    assert!(prefaulted < 100, "prefaulted: {prefaulted} faults");
}

#[test]
#[cfg_attr(
    windows,
    ignore = "skipped on Windows: counts this thread's page faults with getrusage(RUSAGE_THREAD), which Windows lacks"
)]
fn lock_prefaults_and_survives_a_refused_mlock() {
    // Whether mlock is allowed depends on RLIMIT_MEMLOCK; either way the
    // program loads, runs and takes no faults in the loop.
    let faults = faults_in_first_poll(Residency::Lock);
    assert!(faults < 100, "locked: {faults} faults");
}

#[test]
fn first_polls_are_cheap_once_a_runtime_exists() {
    // The first runtime of the process warmed the engine up at creation.
    let rt = Runtime::default();
    let wat = br#"(module (func (export "poll")))"#;
    let first = rt.load("first", wat).unwrap();
    let started = Instant::now();
    first.poll().unwrap();
    let first_poll = started.elapsed();
    let second = rt.load("second", wat).unwrap();
    let started = Instant::now();
    second.poll().unwrap();
    let second_poll = started.elapsed();
    let thread_poll = std::thread::spawn(move || {
        let third = rt.load("third", wat).unwrap();
        let started = Instant::now();
        third.poll().unwrap();
        started.elapsed()
    })
    .join()
    .unwrap();
    println!(
        "first poll: first program {first_poll:?}, a new program {second_poll:?}, on a new thread {thread_poll:?}"
    );
    // Generous (a noisy 2-core machine): the one-time set-up was ~650 us.
    assert!(
        first_poll.as_micros() < 300,
        "first poll took {first_poll:?}"
    );
}
