//! C API of the log sink.

use super::runtime::{wasmcell_runtime, with_runtime};
use super::status::wasmcell_status;
use crate::log::LogLevel;
use std::ffi::{c_char, c_void};

/// Log levels passed to a `wasmcell_log_fn`.
pub type wasmcell_log_level = i32;
/// Output of the built-in `env.print`, passed on byte for byte (the guest
/// writes its own newlines).
pub const WASMCELL_LOG_PRINT: wasmcell_log_level = 0;
pub const WASMCELL_LOG_ERROR: wasmcell_log_level = 1;
pub const WASMCELL_LOG_WARN: wasmcell_log_level = 2;
pub const WASMCELL_LOG_INFO: wasmcell_log_level = 3;
pub const WASMCELL_LOG_DEBUG: wasmcell_log_level = 4;
pub const WASMCELL_LOG_TRACE: wasmcell_log_level = 5;

/// Receives guest output. `program` is the program's NUL-terminated name;
/// `message` is `len` bytes, not NUL-terminated (print output is UTF-8,
/// log lines are whatever the guest wrote). Both are valid only during the
/// call. Runs on the polling thread while the guest is suspended; it must not
/// unwind.
pub type wasmcell_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        program: *const c_char,
        level: wasmcell_log_level,
        message: *const c_char,
        len: usize,
    ),
>;

struct CLogSink {
    callback:
        unsafe extern "C" fn(*mut c_void, *const c_char, wasmcell_log_level, *const c_char, usize),
    user_data: *mut c_void,
}

// SAFETY: the header requires user_data to be usable from every polling thread.
unsafe impl Send for CLogSink {}
// SAFETY: as above.
unsafe impl Sync for CLogSink {}

impl crate::log::LogSink for CLogSink {
    fn log(&self, program: &str, level: LogLevel, message: &[u8]) {
        // NUL-terminate the name without allocating for common lengths.
        let mut inline = [0u8; 128];
        let heap;
        let name: *const c_char = if program.len() < inline.len() {
            inline[..program.len()].copy_from_slice(program.as_bytes());
            inline.as_ptr().cast()
        } else {
            heap = std::ffi::CString::new(program.replace('\0', "?")).unwrap_or_default();
            heap.as_ptr()
        };
        // SAFETY: both strings are valid for the duration of the call.
        unsafe {
            (self.callback)(
                self.user_data,
                name,
                level as wasmcell_log_level,
                message.as_ptr().cast(),
                message.len(),
            )
        };
    }
}

/// Sends guest output (`env.print`, `wasmcell.log`) of all programs of the
/// runtime to `fn`, or back to the default (standard error, each line
/// prefixed with `[program]`) when `fn` is NULL. Takes effect immediately.
///
/// Guest output is bounded: lines longer than 4096 bytes are cut, and a
/// program's output past 64 KiB in one poll is dropped (one warning line
/// says so); reading the text costs the guest one budget unit per 16 bytes.
///
/// Ownership: `user_data` stays the caller's; it must stay valid until the
/// sink is replaced or the runtime is freed. This call returns only once no
/// thread is still inside the previous sink, so its `user_data` may be
/// released as soon as it returns.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`,
/// `WASMCELL_ERR_BUSY` (called from inside a host callback or log sink,
/// where waiting for the old sink could wait for itself; nothing changed).
/// Any thread; `fn` is called concurrently when programs are polled on
/// several threads.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
/// `fn`: NULL or a function of that type, callable while registered.
/// `user_data`: any value, passed back to the callbacks, never dereferenced.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_log(
    rt: *mut wasmcell_runtime,
    r#fn: wasmcell_log_fn,
    user_data: *mut c_void,
) -> wasmcell_status {
    with_runtime(rt, |entry| match r#fn {
        Some(callback) => entry.runtime.set_log_sink(CLogSink {
            callback,
            user_data,
        }),
        None => entry.runtime.reset_log_sink(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_levels_match_the_core_levels() {
        assert_eq!(WASMCELL_LOG_PRINT, LogLevel::Print as i32);
        assert_eq!(WASMCELL_LOG_ERROR, LogLevel::Error as i32);
        assert_eq!(WASMCELL_LOG_WARN, LogLevel::Warn as i32);
        assert_eq!(WASMCELL_LOG_INFO, LogLevel::Info as i32);
        assert_eq!(WASMCELL_LOG_DEBUG, LogLevel::Debug as i32);
        assert_eq!(WASMCELL_LOG_TRACE, LogLevel::Trace as i32);
    }
}
