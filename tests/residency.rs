//! Memory residency: with `Residency::Prefault` the control loop takes no
//! page faults on the program's initial memory. (The first poll's own cost
//! is `tests/first_poll.rs`, alone in its process.)

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
