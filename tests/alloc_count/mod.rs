//! A global allocator that counts allocations made on the measuring thread
//! inside [`allocations_in`], for the tests that prove a steady poll
//! allocates nothing (`steady_state_alloc.rs`, `ffi_poll_path.rs`).
//! Including this module installs it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The engine's own allocations in 1000 steady polls: none with wasmer 7.
/// wasmer 6.1 (the Windows engine) keeps guest-call stacks in a
/// process-wide crossbeam `SegQueue`, which allocates a new 31-slot block
/// every 31 pushes: one small allocation per 31 guest calls of the whole
/// process, outside wasmcell's control (documented in README.md, "Windows /
/// LabVIEW"). A thread makes about 32 of them alone and more while other
/// tests poll; a per-poll allocation (1000) still fails.
pub const ENGINE_ALLOCATIONS: u64 = if cfg!(windows) { 100 } else { 0 };

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Per thread, so tests measuring at the same time do not count each
    /// other's allocations.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator also runs while thread locals are torn down.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The allocations `f` makes on this thread.
pub fn allocations_in(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}
