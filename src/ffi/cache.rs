//! C API of the compiled-module cache.

use super::runtime::{wasmcell_runtime, with_runtime};
use super::status::wasmcell_status;
use super::text::{borrow_str, write_out};

/// Counters of a runtime's compiled-module cache, from
/// `wasmcell_runtime_cache_stats`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct wasmcell_cache_stats {
    /// Modules compiled by cranelift.
    pub compiles: u64,
    /// Loads, reloads and prepares served from memory.
    pub memory_hits: u64,
    /// Loads, reloads and prepares served from the cache directory.
    pub disk_hits: u64,
    /// Cache files that failed validation (corrupted, truncated, written by
    /// another version or for another machine) and were recompiled.
    pub rejected_files: u64,
}

/// Keeps compiled modules in `path` as well as in memory (the directory is
/// created if missing), so a restarted controller skips compiling programs it
/// has seen before. `NULL` turns the disk cache off. Every file is validated
/// before use (wasmcell and wasmer version, target, cache key, SHA-256 of the
/// artifact); a corrupted or foreign file is recompiled and replaced, never
/// executed. The directory must be writable only by the controller: its
/// files are native code.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_IO` (cannot create it),
/// `WASMCELL_ERR_INVALID_ARGUMENT` (not UTF-8), `WASMCELL_ERR_INVALID_HANDLE`.
/// Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
/// `path`: NULL or a NUL-terminated string, read during the call only.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_cache_dir(
    rt: *mut wasmcell_runtime,
    path: *const std::ffi::c_char,
) -> wasmcell_status {
    with_runtime(rt, |entry| {
        let directory = if path.is_null() {
            None
        } else {
            Some(borrow_str(path, "path")?.into())
        };
        entry.runtime.set_cache_dir(directory)
    })
}

/// Copies the runtime's cache counters into `*stats`.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
/// `stats`: NULL or a writable `wasmcell_cache_stats`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_cache_stats(
    rt: *mut wasmcell_runtime,
    stats: *mut wasmcell_cache_stats,
) -> wasmcell_status {
    with_runtime(rt, |entry| {
        let s = entry.runtime.cache_stats();
        write_out(
            stats,
            wasmcell_cache_stats {
                compiles: s.compiles,
                memory_hits: s.memory_hits,
                disk_hits: s.disk_hits,
                rejected_files: s.rejected_files,
            },
            "stats",
        )
    })
}
