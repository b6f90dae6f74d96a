// Hostile guest programs written in Rust, one per build: compile with
// `--cfg 'behaviour="panic"'` (or recursion, loop, oob, alloc_bomb). Used by
// the hostile-guest suite when the wasm32 target is installed.
#![no_std]

#[panic_handler]
fn on_panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(behaviour = "recursion")]
#[inline(never)]
#[allow(unconditional_recursion)]
fn down(depth: u64) -> u64 {
    // black_box keeps the recursion real: no tail call, no folding.
    core::hint::black_box(down(core::hint::black_box(depth + 1))) + 1
}

#[no_mangle]
pub extern "C" fn poll() {
    #[cfg(behaviour = "panic")]
    panic!("user logic bug");

    #[cfg(behaviour = "recursion")]
    core::hint::black_box(down(0));

    #[cfg(behaviour = "loop")]
    loop {
        core::hint::black_box(0);
    }

    #[cfg(behaviour = "oob")]
    unsafe {
        core::ptr::write_volatile(0xfff0_0000usize as *mut u32, 1);
    }

    #[cfg(behaviour = "alloc_bomb")]
    loop {
        // Grow memory one page at a time until the limit refuses (-1), then
        // fault the way an allocator does on out-of-memory.
        if core::arch::wasm32::memory_grow(0, 1) == usize::MAX {
            core::arch::wasm32::unreachable();
        }
    }
}
