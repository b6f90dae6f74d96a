//! The C ABI: a thin translation of the safe core. Every function here checks
//! its arguments, converts them, calls the core and reports a status. Nothing
//! here panics across the boundary: each entry point runs inside
//! [`status::guard`], which turns a caught panic into `WASMCELL_ERR_INTERNAL`.
//!
//! The generated header `include/wasmcell.h` is the reference for C users;
//! the doc comments on these items are its text.
#![allow(non_camel_case_types)]
// Every entry point is `unsafe extern "C"`: it reads and writes through raw
// pointers the caller vouches for, which each one's `# Safety` section states.

// In the order the generated header presents them (cbindgen follows the
// module order): statuses and version, runtime, programs, host functions,
// process image, hot swap, logging, clock, module cache.
pub mod cache;
pub mod clock;
pub mod host;
pub mod log;
pub mod process_image;
pub mod program;
pub mod reload;
pub mod runtime;
pub mod status;
pub mod version;
// Internal: the handle table and string/buffer helpers.
pub mod handle;
pub mod text;
