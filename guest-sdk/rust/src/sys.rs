//! The raw imports of the wasmcell guest ABI (`docs/guest-abi.md`).
//!
//! On wasm32 these are the host's built-in imports. On any other target
//! (unit tests of guest logic on the build machine, `cargo doc`) they are
//! stand-ins: output goes to stderr with the `std` feature and nowhere
//! without it, the clock reads the machine's monotonic clock with `std` and
//! 0 without it, and the program always looks cold-loaded.

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "env")]
    extern "C" {
        /// `env.print(ptr, len) -> i32`: UTF-8 text to the host's log (level PRINT).
        #[link_name = "print"]
        pub fn env_print(ptr: *const u8, len: usize) -> i32;
    }

    #[link(wasm_import_module = "wasmcell")]
    extern "C" {
        /// `wasmcell.log(level, ptr, len) -> i32`: one log line, level 1 error … 5 trace.
        #[link_name = "log"]
        pub fn wasmcell_log(level: i32, ptr: *const u8, len: usize) -> i32;
        /// `wasmcell.now_ns() -> i64`: the runtime's monotonic clock.
        #[link_name = "now_ns"]
        pub fn wasmcell_now_ns() -> i64;
        /// `wasmcell.start_kind() -> i32`: 0 cold load, 1 reset, 2 reload.
        #[link_name = "start_kind"]
        pub fn wasmcell_start_kind() -> i32;
        /// `wasmcell.retain_restored() -> i32`: 1 if the retain area was carried over.
        #[link_name = "retain_restored"]
        pub fn wasmcell_retain_restored() -> i32;
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn print(text: &str) -> i32 {
    // SAFETY: the host reads `len` bytes at `ptr`, which is a live &str.
    unsafe { imports::env_print(text.as_ptr(), text.len()) }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn log(level: i32, text: &str) -> i32 {
    // SAFETY: as in `print`.
    unsafe { imports::wasmcell_log(level, text.as_ptr(), text.len()) }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn now_ns() -> i64 {
    // SAFETY: no arguments, no memory access.
    unsafe { imports::wasmcell_now_ns() }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn start_kind() -> i32 {
    // SAFETY: no arguments, no memory access.
    unsafe { imports::wasmcell_start_kind() }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn retain_restored() -> i32 {
    // SAFETY: no arguments, no memory access.
    unsafe { imports::wasmcell_retain_restored() }
}

// ---- stand-ins for other targets ------------------------------------------

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn print(text: &str) -> i32 {
    #[cfg(feature = "std")]
    {
        use std::io::Write;
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    let _ = text;
    0
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn log(level: i32, text: &str) -> i32 {
    if !(1..=5).contains(&level) {
        return -1;
    }
    #[cfg(feature = "std")]
    std::eprintln!(
        "[{}] {text}",
        crate::Level::from_i32(level).map_or("?", |l| l.as_str())
    );
    let _ = text;
    0
}

#[cfg(all(not(target_arch = "wasm32"), feature = "std"))]
pub(crate) fn now_ns() -> i64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as i64
}

#[cfg(all(not(target_arch = "wasm32"), not(feature = "std")))]
pub(crate) fn now_ns() -> i64 {
    0
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn start_kind() -> i32 {
    0
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn retain_restored() -> i32 {
    0
}
