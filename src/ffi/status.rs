//! Status codes, their strings, and the thread-local last error.

use crate::error::{Error, ErrorKind};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Result of every wasmcell function: `WASMCELL_OK` (0) or a negative
/// `WASMCELL_ERR_*` code. Numeric values never change once released.
pub type wasmcell_status = i32;

/// Success.
pub const WASMCELL_OK: wasmcell_status = 0;
/// An argument is NULL where it must not be, out of range or malformed
/// (bad signature string, empty name, zero budget...).
pub const WASMCELL_ERR_INVALID_ARGUMENT: wasmcell_status = -1;
/// The handle is NULL, stale (freed or unloaded), of the wrong kind, or
/// belongs to a runtime that was freed.
pub const WASMCELL_ERR_INVALID_HANDLE: wasmcell_status = -2;
/// The bytes are neither a valid WebAssembly binary nor valid WAT text.
pub const WASMCELL_ERR_COMPILE: wasmcell_status = -3;
/// The module cannot be linked: a missing import (named in the message), an
/// import whose type differs from the host's definition, a non-function
/// import, or no `poll` export of type `() -> ()` / `() -> i32`.
pub const WASMCELL_ERR_LINK: wasmcell_status = -4;
/// Instantiation failed: the start function or the `init` export trapped.
pub const WASMCELL_ERR_INSTANTIATE: wasmcell_status = -5;
/// The guest trapped (unreachable, out-of-bounds access, divide by zero,
/// stack overflow...). The program is now FAULTED.
pub const WASMCELL_ERR_TRAP: wasmcell_status = -6;
/// The guest used up its instruction budget for this poll. The program is
/// now FAULTED.
pub const WASMCELL_ERR_BUDGET: wasmcell_status = -7;
/// A host callback returned non-zero (or raised), which trapped the guest.
/// The program is now FAULTED; its error message names the callback and code.
pub const WASMCELL_ERR_HOST: wasmcell_status = -8;
/// The program is FAULTED; reset or reload it before polling again.
pub const WASMCELL_ERR_FAULTED: wasmcell_status = -9;
/// A host callback tried to poll, reset, reload or unload the program it was
/// called from (or free its runtime). Nothing was done.
pub const WASMCELL_ERR_BUSY: wasmcell_status = -10;
/// The caller's buffer is too small; the required length was written to the
/// length out-pointer and the buffer holds a NUL-terminated prefix.
pub const WASMCELL_ERR_BUFFER_TOO_SMALL: wasmcell_status = -11;
/// Something looked up does not exist: a file (`wasmcell_program_load_file`),
/// a signal name or index (`wasmcell_program_signal_lookup`/`_info`), a
/// signal id from an older version of the program.
pub const WASMCELL_ERR_NOT_FOUND: wasmcell_status = -12;
/// A bug in wasmcell (a caught panic). The process is still safe to use.
pub const WASMCELL_ERR_INTERNAL: wasmcell_status = -13;
/// `poll` returned a non-zero i32: the guest reported its own fault. The
/// program is now FAULTED.
pub const WASMCELL_ERR_GUEST_FAULT: wasmcell_status = -14;
/// A limit was exceeded: module size, or a module whose initial memory is
/// larger than the program's memory limit.
pub const WASMCELL_ERR_LIMIT: wasmcell_status = -15;
/// Reading a file failed for a reason other than its absence.
pub const WASMCELL_ERR_IO: wasmcell_status = -16;
/// The program's watchdog stopped a poll that ran longer than
/// `time_ns * sensitivity`, or counted `sensitivity` overruns in a row
/// (`wasmcell_program_set_watchdog`); the program is faulted.
pub const WASMCELL_ERR_WATCHDOG: wasmcell_status = -17;

pub(crate) fn status_of(kind: ErrorKind) -> wasmcell_status {
    match kind {
        ErrorKind::InvalidArgument => WASMCELL_ERR_INVALID_ARGUMENT,
        ErrorKind::InvalidHandle => WASMCELL_ERR_INVALID_HANDLE,
        ErrorKind::Compile => WASMCELL_ERR_COMPILE,
        ErrorKind::Link => WASMCELL_ERR_LINK,
        ErrorKind::Instantiate => WASMCELL_ERR_INSTANTIATE,
        ErrorKind::Trap => WASMCELL_ERR_TRAP,
        ErrorKind::Budget => WASMCELL_ERR_BUDGET,
        ErrorKind::Host => WASMCELL_ERR_HOST,
        ErrorKind::GuestFault => WASMCELL_ERR_GUEST_FAULT,
        ErrorKind::Faulted => WASMCELL_ERR_FAULTED,
        ErrorKind::Busy => WASMCELL_ERR_BUSY,
        ErrorKind::BufferTooSmall => WASMCELL_ERR_BUFFER_TOO_SMALL,
        ErrorKind::NotFound => WASMCELL_ERR_NOT_FOUND,
        ErrorKind::Limit => WASMCELL_ERR_LIMIT,
        ErrorKind::Io => WASMCELL_ERR_IO,
        ErrorKind::Watchdog => WASMCELL_ERR_WATCHDOG,
        ErrorKind::Internal => WASMCELL_ERR_INTERNAL,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub(crate) fn set_last_error(message: &str) {
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        last.clear();
        last.push_str(message);
    });
}

/// Runs an entry point: catches panics and records a failure's message as
/// this thread's last error.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Error>) -> wasmcell_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => WASMCELL_OK,
        Ok(Err(error)) => {
            set_last_error(error.message());
            status_of(error.kind())
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error (caught panic): {what}"));
            WASMCELL_ERR_INTERNAL
        }
    }
}

/// Like [`guard`] but leaves the last error alone: for the functions that
/// read error messages, so that reading one cannot overwrite it.
pub(crate) fn guard_quiet(f: impl FnOnce() -> Result<(), Error>) -> wasmcell_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => WASMCELL_OK,
        Ok(Err(error)) => status_of(error.kind()),
        Err(_) => WASMCELL_ERR_INTERNAL,
    }
}

/// A static, NUL-terminated description of a status code ("unknown status"
/// for values wasmcell never returns). Never NULL; the string must not be freed.
///
/// Thread safety: any thread, any time.
///
/// # Safety
///
/// Any argument values are safe (no pointers).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_status_str(status: wasmcell_status) -> *const std::ffi::c_char {
    let text: &'static [u8] = match status {
        WASMCELL_OK => b"ok\0",
        WASMCELL_ERR_INVALID_ARGUMENT => b"invalid argument\0",
        WASMCELL_ERR_INVALID_HANDLE => b"invalid handle\0",
        WASMCELL_ERR_COMPILE => b"module does not compile\0",
        WASMCELL_ERR_LINK => b"module does not link\0",
        WASMCELL_ERR_INSTANTIATE => b"instantiation failed\0",
        WASMCELL_ERR_TRAP => b"guest trapped\0",
        WASMCELL_ERR_BUDGET => b"instruction budget exhausted\0",
        WASMCELL_ERR_HOST => b"host callback failed\0",
        WASMCELL_ERR_FAULTED => b"program is faulted\0",
        WASMCELL_ERR_BUSY => b"program is busy (re-entrant call)\0",
        WASMCELL_ERR_BUFFER_TOO_SMALL => b"buffer too small\0",
        WASMCELL_ERR_NOT_FOUND => b"not found\0",
        WASMCELL_ERR_INTERNAL => b"internal error\0",
        WASMCELL_ERR_GUEST_FAULT => b"guest reported a fault\0",
        WASMCELL_ERR_LIMIT => b"limit exceeded\0",
        WASMCELL_ERR_IO => b"i/o error\0",
        WASMCELL_ERR_WATCHDOG => b"stopped by the watchdog\0",
        _ => b"unknown status\0",
    };
    text.as_ptr().cast()
}

/// Copies the message of the last failed wasmcell call *on this thread* into
/// `buf` (NUL-terminated) and its length (without the NUL) into `*len` if
/// `len` is not NULL. Successful calls do not clear it. Use it for calls that
/// have no program to ask (load, define); prefer `wasmcell_program_error` and
/// `wasmcell_runtime_error` where a handle exists, since some hosts
/// (LabVIEW) may run consecutive calls on different threads.
///
/// `buf` may be NULL only with `cap == 0` (to query the length).
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_BUFFER_TOO_SMALL` (a truncated,
/// NUL-terminated prefix is written when `cap > 0`); `WASMCELL_ERR_INVALID_ARGUMENT`
/// (`buf` NULL with `cap > 0`). Reading never changes the last error.
///
/// Thread safety: any thread; reads that thread's own last error.
///
/// # Safety
///
/// `buf`: NULL or `cap` writable bytes.
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_last_error(
    buf: *mut std::ffi::c_char,
    cap: usize,
    len: *mut usize,
) -> wasmcell_status {
    guard_quiet(|| LAST_ERROR.with(|last| super::text::copy_out(&last.borrow(), buf, cap, len)))
}
