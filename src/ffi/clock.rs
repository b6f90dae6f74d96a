//! C API of the clock guests read.

use super::runtime::{wasmcell_runtime, with_runtime};
use super::status::wasmcell_status;
use std::ffi::c_void;

/// Returns the current time in nanoseconds; must never go backwards. Runs on
/// the polling thread while the guest is suspended; it must not unwind.
pub type wasmcell_clock_fn = Option<unsafe extern "C" fn(user_data: *mut c_void) -> i64>;

struct CClock {
    callback: unsafe extern "C" fn(*mut c_void) -> i64,
    user_data: *mut c_void,
}

// SAFETY: the header requires user_data to be usable from every polling thread.
unsafe impl Send for CClock {}
// SAFETY: as above.
unsafe impl Sync for CClock {}

impl crate::clock::Clock for CClock {
    fn now_ns(&self) -> i64 {
        // SAFETY: a valid function pointer with its user data, per the header.
        unsafe { (self.callback)(self.user_data) }
    }
}

/// Replaces the clock guests read through `wasmcell.now_ns` (for simulation,
/// tests, or machine time), or restores the default monotonic clock
/// (nanoseconds since the library's first use) when `fn` is NULL.
///
/// Ownership: `user_data` stays the caller's; it must stay valid until the
/// clock is replaced or the runtime is freed. This call returns only once no
/// thread is still inside the previous clock, so its `user_data` may be
/// released as soon as it returns.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`,
/// `WASMCELL_ERR_BUSY` (called from inside a host callback or log sink,
/// where waiting for the old clock could wait for itself; nothing changed).
/// Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
/// `fn`: NULL or a function of that type, callable while registered.
/// `user_data`: any value, passed back to the callbacks, never dereferenced.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_clock(
    rt: *mut wasmcell_runtime,
    r#fn: wasmcell_clock_fn,
    user_data: *mut c_void,
) -> wasmcell_status {
    with_runtime(rt, |entry| match r#fn {
        Some(callback) => entry.runtime.set_clock(CClock {
            callback,
            user_data,
        }),
        None => entry.runtime.reset_clock(),
    })
}
