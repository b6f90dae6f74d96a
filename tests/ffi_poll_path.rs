//! The C ABI's poll path: a poll through `wasmcell_program_poll` (and the
//! state and statistics reads beside it) allocates nothing; while other
//! threads load and unload programs, next to nothing (src/ffi/handle.rs).
//!
//! Counted by a global allocator that counts only on the thread (and only in
//! the window) being measured (`tests/alloc_count`).

mod alloc_count;

use alloc_count::{allocations_in, ENGINE_ALLOCATIONS};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use wasmcell::ffi::program::{
    wasmcell_program, wasmcell_program_load, wasmcell_program_poll, wasmcell_program_state,
    wasmcell_program_stats, wasmcell_program_unload, wasmcell_state, wasmcell_stats,
};
use wasmcell::ffi::runtime::{wasmcell_runtime, wasmcell_runtime_free, wasmcell_runtime_new};
use wasmcell::ffi::status::{WASMCELL_ERR_INVALID_HANDLE, WASMCELL_OK};

const EMPTY: &[u8] = br#"(module (func (export "poll")))"#;

fn runtime() -> *mut wasmcell_runtime {
    let mut rt = std::ptr::null_mut();
    // SAFETY: `rt` is writable.
    assert_eq!(unsafe { wasmcell_runtime_new(&mut rt) }, WASMCELL_OK);
    rt
}

fn load(rt: *mut wasmcell_runtime, name: &std::ffi::CStr) -> *mut wasmcell_program {
    let mut p = std::ptr::null_mut();
    // SAFETY: valid name, bytes and out pointer; handles are validated.
    let status =
        unsafe { wasmcell_program_load(rt, name.as_ptr(), EMPTY.as_ptr(), EMPTY.len(), &mut p) };
    assert_eq!(status, WASMCELL_OK);
    p
}

/// Polls `p` (with a state and a statistics read each) 1000 times after a
/// warm-up; the allocations this thread made meanwhile.
fn allocations_in_1000_polls(p: *mut wasmcell_program) -> u64 {
    let mut state: wasmcell_state = 0;
    let mut stats = wasmcell_stats::default();
    let mut poll = || {
        // SAFETY: handles are validated; the out pointers are writable.
        unsafe {
            assert_eq!(wasmcell_program_poll(p), WASMCELL_OK);
            assert_eq!(wasmcell_program_state(p, &mut state), WASMCELL_OK);
            assert_eq!(wasmcell_program_stats(p, &mut stats), WASMCELL_OK);
        }
    };
    for _ in 0..300 {
        poll();
    }
    allocations_in(|| {
        for _ in 0..1000 {
            poll();
        }
    })
}

#[test]
#[allow(clippy::absurd_extreme_comparisons)]
fn a_poll_through_the_c_abi_allocates_nothing() {
    let rt = runtime();
    let p = load(rt, c"steady");
    let allocations = allocations_in_1000_polls(p);
    assert!(
        allocations <= ENGINE_ALLOCATIONS,
        "{allocations} allocations in 1000 polls through the C ABI"
    );
    // SAFETY: handles are validated.
    unsafe {
        assert_eq!(wasmcell_runtime_free(rt), WASMCELL_OK);
        assert_eq!(wasmcell_program_poll(p), WASMCELL_ERR_INVALID_HANDLE);
    }
}

/// Another thread loads and unloads programs all along. The polling thread
/// helps the epoch collector now and then (every 128 pins): that frees
/// nothing of wasmcell's, but popping the collector's queue defers the
/// queue node's release, and a full bag of such releases is one allocation
/// (a crossbeam `Bag`) per 64 nodes it pops: at most about one per 64
/// removals made elsewhere (4 in 20 000 polls beside 686 unloads when
/// measured), far below one per poll.
#[test]
fn polls_allocate_next_to_nothing_while_another_thread_unloads() {
    let rt = runtime();
    let p = load(rt, c"steady");
    let stop = Arc::new(AtomicBool::new(false));
    let unloads = Arc::new(AtomicU64::new(0));
    let churn = {
        let (stop, unloads) = (stop.clone(), unloads.clone());
        let rt = rt as usize;
        std::thread::spawn(move || {
            let rt = rt as *mut wasmcell_runtime;
            while !stop.load(Ordering::Relaxed) {
                let q = load(rt, c"churned");
                // SAFETY: handles are validated.
                assert_eq!(unsafe { wasmcell_program_unload(q) }, WASMCELL_OK);
                unloads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while unloads.load(Ordering::Relaxed) < 3 {
        std::thread::yield_now();
    }
    let before = unloads.load(Ordering::Relaxed);
    let mut allocations = 0;
    for _ in 0..20 {
        allocations += allocations_in_1000_polls(p);
    }
    let during = unloads.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    println!("{allocations} allocations in 20 000 polls while {during} programs were unloaded");
    assert!(
        allocations <= 20 * ENGINE_ALLOCATIONS + during / 8 + 2,
        "{allocations} allocations in 20 000 polls while {during} programs were unloaded"
    );
    // SAFETY: handles are validated.
    assert_eq!(unsafe { wasmcell_runtime_free(rt) }, WASMCELL_OK);
}
