//! The C ABI: a thin translation of the safe core. Every function here checks
//! its arguments, converts them, calls the core and reports a status. Nothing
//! here panics across the boundary: each entry point runs inside
//! [`status::guard`], which turns a caught panic into `WASMCELL_ERR_INTERNAL`.
//!
//! The generated header `include/wasmcell.h` is the reference for C users;
//! the doc comments on these items are its text.
#![allow(non_camel_case_types)]
// Raw pointers are checked (NULL) and documented in the header; these
// functions are the unsafe boundary by nature.
#![allow(clippy::missing_safety_doc)]
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod cache;
pub mod clock;
pub mod handle;
pub mod host;
pub mod log;
pub mod process_image;
pub mod program;
pub mod runtime;
pub mod status;
pub mod text;
pub mod version;
