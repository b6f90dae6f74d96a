//! wasmcell: load, poll, hot-swap and unload sandboxed WebAssembly programs
//! from a machine's control loop.
//!
//! The core is this safe Rust API ([`Runtime`], [`Program`], [`HostFunction`]);
//! `src/ffi/` is a thin C ABI over it (header: `include/wasmcell.h`).

mod budget;
mod builtins;
pub mod cache;
pub mod clock;
mod compile;
mod engine;
pub mod error;
pub mod fault;
pub mod ffi;
mod guest_env;
pub mod host;
mod host_import;
pub mod image_layout;
mod instance;
pub mod limits;
mod link;
pub mod log;
pub mod process_image;
pub mod program;
pub mod retain;
pub mod runtime;
mod runtime_shared;
mod wasi;
mod watchdog;

pub use cache::CacheStats;
pub use clock::{Clock, MonotonicClock};
pub use compile::CompileSettings;
pub use error::{Error, ErrorKind, Result};
pub use fault::{Fault, FaultKind};
pub use host::{HostCall, HostFunction, Signature, Val, ValKind};
pub use image_layout::{Area, ImageLayout, Region, Signal, SignalType};
pub use limits::{Limits, Residency};
pub use log::{LogLevel, LogSink, StderrSink};
pub use process_image::{SignalId, SignalValue};
pub use program::{FaultOutputs, PollStats, PreparedReload, Program, ProgramState};
pub use retain::RetainPlan;
pub use runtime::{Runtime, RuntimeConfig};

/// The library version, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
