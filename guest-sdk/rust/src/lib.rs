//! # wasmcell-guest: write wasmcell programs in Rust
//!
//! A wasmcell program is a WebAssembly module that exports `poll` (one
//! control cycle) and optionally `init`, and may declare a PLC-style
//! *process image*: inputs the host writes, outputs it reads, retained state
//! that survives reset and hot swap (`docs/guest-abi.md` in the wasmcell
//! repository). This crate gives a Rust program all of that without
//! `unsafe`, without `static mut` and without an allocator:
//!
//! - [`print!`], [`println!`] (to the host's log, level PRINT) and [`log!`]
//!   with [`error!`], [`warn!`], [`info!`], [`debug!`], [`trace!`], formatted
//!   into a fixed buffer on the stack;
//! - [`now()`] (the runtime's monotonic clock, which the host may replace),
//!   [`start_kind()`] and [`retain_restored()`];
//! - [`process_image!`]: the input, output and retain structs declared once,
//!   from which the descriptor, its signal table and the `wasmcell_image`
//!   export are generated at compile time;
//! - [`program!`]: the `poll` and `init` exports, calling your functions with
//!   the process image;
//! - a `#[panic_handler]` for `no_std` programs (feature `panic-handler`, on
//!   by default) that logs `panicked at FILE:LINE:COL: MESSAGE` at level
//!   error and then traps, so the host reports the fault and the log says why.
//!
//! ## A complete program
//!
//! ```ignore
//! #![no_std]
//!
//! use wasmcell_guest::{info, process_image, program, start_kind, StartKind};
//!
//! process_image! {
//!     inputs: struct Inputs {
//!         speed: f64,
//!         enable: bool,
//!     }
//!     outputs: struct Outputs {
//!         motor_on: bool,
//!         position: f64,
//!         pulses: u32,
//!     }
//!     retain(layout = 1): struct Retain {
//!         distance: f64,
//!     }
//! }
//!
//! program! { init: init, poll: poll }
//!
//! fn init(io: Io) {
//!     if start_kind() == StartKind::ColdLoad {
//!         info!("conveyor online, {:.1} m so far", io.retain.distance);
//!     }
//! }
//!
//! fn poll(io: Io) {
//!     if io.inputs.speed < 0.0 {
//!         panic!("negative speed command: {}", io.inputs.speed);
//!     }
//!     io.outputs.motor_on = io.inputs.enable;
//!     if io.inputs.enable {
//!         io.outputs.position += io.inputs.speed;
//!         io.outputs.pulses += 1;
//!         io.retain.distance += io.inputs.speed;
//!     }
//! }
//! ```
//!
//! Build it as a `cdylib` for `wasm32-unknown-unknown`:
//!
//! ```text
//! cargo build --release --target wasm32-unknown-unknown
//! ```
//!
//! ## Features
//!
//! - `panic-handler` (default): the `#[panic_handler]` described above. It
//!   is compiled only for wasm32 and only without `std`. Turn default
//!   features off to write your own.
//! - `std`: for programs on Rust's standard library (`wasm32-wasip1`, where
//!   wasmcell provides the WASI subset described in `docs/guest-abi.md`, or
//!   `wasm32-unknown-unknown`). The SDK then installs a panic hook that logs
//!   panics the same way.
//!
//! On targets other than wasm32 the imports are replaced by stand-ins
//! (output to stderr with `std`, nowhere without; a clock from
//! `std::time::Instant` with `std`, 0 without; always a cold load), so a
//! program's logic can be unit-tested on the build machine.

#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod entry;
mod image;
mod sys;
mod text;

#[cfg(feature = "std")]
pub use entry::install_panic_hook;
pub use entry::{trap, Outcome};
pub use image::{with_image, Area, ProcessImage, ProcessIo, SignalType, SignalValue};
pub use text::{log_fmt, log_str, print_fmt, print_str, Level, Line, LINE_CAPACITY};

/// Not public API: what the macros expand to.
#[doc(hidden)]
pub mod __private {
    pub use crate::entry::{run_init, run_poll, Entry, NoImage, WithImage};
    pub use crate::image::{check_names, layout_id, Descriptor, SignalEntry, Storage};
}

/// A reading of the runtime's monotonic clock (`wasmcell.now_ns`). The host
/// may replace the clock (simulation, tests), so it need not follow the
/// wall clock; it never goes backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i64);

impl Instant {
    /// Nanoseconds on the runtime's clock.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Time from `earlier` to `self` (zero if `earlier` is later).
    pub fn duration_since(self, earlier: Instant) -> core::time::Duration {
        core::time::Duration::from_nanos(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// Time since `self`.
    pub fn elapsed(self) -> core::time::Duration {
        now().duration_since(self)
    }
}

/// The runtime's monotonic clock now.
pub fn now() -> Instant {
    Instant(sys::now_ns())
}

/// The runtime's monotonic clock now, in nanoseconds.
pub fn now_ns() -> i64 {
    sys::now_ns()
}

/// Why the running instance was started (`wasmcell.start_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartKind {
    /// Loaded for the first time.
    ColdLoad,
    /// The host reset the program (after a fault): a fresh instance of the same code.
    Reset,
    /// The host swapped in new code (hot swap).
    Reload,
    /// A code this SDK does not know yet.
    Unknown(i32),
}

/// Why the running instance was started: lets `init` tell a cold load from
/// a reset or a hot swap.
pub fn start_kind() -> StartKind {
    match sys::start_kind() {
        0 => StartKind::ColdLoad,
        1 => StartKind::Reset,
        2 => StartKind::Reload,
        other => StartKind::Unknown(other),
    }
}

/// Whether the retain area was carried over from the previous instance
/// (reset, or reload with the same retain layout id and size). When it is
/// `false` after a reset or reload, the retain area holds its declared
/// initial values.
pub fn retain_restored() -> bool {
    sys::retain_restored() == 1
}
