//! C API of hot swap: [`crate::Program::reload`] in one step, and prepared
//! reloads ([`crate::PreparedReload`]): compile and instantiate off the
//! control thread, look at what the swap would do, run shadow polls, then
//! commit between two polls or discard.

use super::handle;
use super::program::{to_program_handle, wasmcell_program, with_program, with_program_owned};
use super::status::{guard, wasmcell_status};
use super::text::{borrow_bytes, copy_out, write_out};
use crate::error::Result;
use std::ffi::c_char;

/// Hot swap: compiles and instantiates `bytes` (wasm or WAT) on the calling
/// thread without blocking polls, runs its `init`, then swaps it in between
/// two polls. The handle stays valid; a poll running concurrently uses the
/// old or the new version, never a mix. Also recovers a faulted program.
///
/// On failure the old version keeps running untouched (still faulted if it
/// was) and the message is kept as the program's error.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_LIMIT`, `WASMCELL_ERR_COMPILE`,
/// `WASMCELL_ERR_LINK`, `WASMCELL_ERR_INSTANTIATE`; `WASMCELL_ERR_BUSY`;
/// `WASMCELL_ERR_INVALID_ARGUMENT`; `WASMCELL_ERR_INVALID_HANDLE`.
/// Thread safety: any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `bytes`: `len` readable bytes (NULL when it is 0).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_reload(
    p: *mut wasmcell_program,
    bytes: *const u8,
    len: usize,
) -> wasmcell_status {
    with_program_owned(p, |entry| {
        let bytes = borrow_bytes(bytes, len, "bytes")?;
        entry.program.reload(bytes)?;
        entry.last_error.lock().clear();
        Ok(())
    })
}

/// An opaque handle to a prepared hot swap: a new version of a program,
/// compiled and instantiated, waiting for `wasmcell_program_commit_reload`.
pub struct wasmcell_reload {
    _private: [u8; 0],
}

/// The slow half of a hot swap, for hosts that compile on a worker thread
/// and swap on the control thread: compiles `bytes` (wasm or WAT; from the
/// module cache when seen before), links and instantiates them, without
/// touching the running version, which keeps polling meanwhile.
///
/// Ownership: on success the caller owns `*out` and must pass it to
/// `wasmcell_program_commit_reload` or `wasmcell_reload_discard`; freeing the
/// runtime or unloading the program also releases it.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_LIMIT`, `WASMCELL_ERR_COMPILE`,
/// `WASMCELL_ERR_LINK`, `WASMCELL_ERR_INSTANTIATE`; `WASMCELL_ERR_BUSY`;
/// `WASMCELL_ERR_INVALID_ARGUMENT`; `WASMCELL_ERR_INVALID_HANDLE`.
/// Thread safety: any thread; does not wait for a running poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `bytes`: `len` readable bytes (NULL when it is 0).
/// `out`: NULL or a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_prepare_reload(
    p: *mut wasmcell_program,
    bytes: *const u8,
    len: usize,
    out: *mut *mut wasmcell_reload,
) -> wasmcell_status {
    with_program_owned(p, |entry| {
        let bytes = borrow_bytes(bytes, len, "bytes")?;
        if out.is_null() {
            return write_out(out, std::ptr::null_mut(), "out");
        }
        let prepared = entry.program.prepare_reload(bytes)?;
        let handle = handle::insert_reload(to_program_handle(p), prepared)?;
        write_out(out, std::ptr::without_provenance_mut(handle), "out")
    })
}

/// The fast half of a hot swap, between two polls: carries the retain area
/// over (same size and layout id; see `wasmcell_program_notice`), runs the
/// new version's `init` and swaps it in. A poll running on another thread
/// finishes on the old version; the next runs the new one. `reload` is
/// consumed in every case except `WASMCELL_ERR_INVALID_HANDLE` for `reload`
/// itself.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INSTANTIATE` (the new `init` trapped;
/// the old version keeps running); `WASMCELL_ERR_INVALID_ARGUMENT` (prepared
/// for another program); `WASMCELL_ERR_BUSY`; `WASMCELL_ERR_INVALID_HANDLE`.
/// Thread safety: any thread; waits for a running poll of the program.
///
/// # Safety
///
/// `p`, `reload`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_commit_reload(
    p: *mut wasmcell_program,
    reload: *mut wasmcell_reload,
) -> wasmcell_status {
    if handle::program(to_program_handle(p)).is_err() {
        // A bad program handle still consumes the reload, as documented.
        let _ = handle::remove_reload(reload as usize);
    }
    with_program_owned(p, |entry| {
        if entry.program.is_busy_on_this_thread() {
            // Checked before consuming the reload, so BUSY loses nothing.
            return entry.program.poll();
        }
        let reload = handle::remove_reload(reload as usize)?;
        let prepared = reload.prepared.lock().take();
        let prepared = prepared.ok_or_else(|| {
            crate::error::Error::new(
                crate::error::ErrorKind::InvalidHandle,
                "reload already used",
            )
        })?;
        entry.program.commit_reload(prepared)?;
        entry.last_error.lock().clear();
        Ok(())
    })
}

/// Runs `f` on the prepared reload behind `reload` (still prepared: not
/// committed or discarded).
fn with_reload<R>(
    reload: *mut wasmcell_reload,
    f: impl FnOnce(&mut crate::program::PreparedReload) -> Result<R>,
) -> Result<R> {
    let entry = handle::reload(reload as usize)?;
    let mut prepared = entry.prepared.lock();
    let prepared = prepared.as_mut().ok_or_else(|| {
        crate::error::Error::new(
            crate::error::ErrorKind::InvalidHandle,
            "reload already used",
        )
    })?;
    f(prepared)
}

/// Says what committing `reload` now would do to the running program's
/// retained state: how many retain signals are `kept` (same name and type,
/// or the whole area when the size and layout id are unchanged), `added`
/// (new names: start from the new version's defaults), `dropped` (names the
/// new version no longer declares) and `retyped` (same name, another type:
/// start from the default, bytes are never reinterpreted). Any out-pointer
/// may be NULL.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE` (NULL, stale,
/// committed or discarded reload; program unloaded). Any thread; does not
/// wait for a running poll.
///
/// # Safety
///
/// `reload`: any value (handles are validated, never dereferenced).
/// `kept`: NULL or a writable `usize`.
/// `added`: NULL or a writable `usize`.
/// `dropped`: NULL or a writable `usize`.
/// `retyped`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_reload_retain_summary(
    reload: *mut wasmcell_reload,
    kept: *mut usize,
    added: *mut usize,
    dropped: *mut usize,
    retyped: *mut usize,
) -> wasmcell_status {
    guard(|| {
        let plan = with_reload(reload, |prepared| prepared.retain_plan())?;
        for (out, value) in [
            (kept, plan.kept),
            (added, plan.added),
            (dropped, plan.dropped),
            (retyped, plan.retyped),
        ] {
            if !out.is_null() {
                write_out(out, value, "count")?;
            }
        }
        Ok(())
    })
}

/// Copies the retain report of `reload` into `buf`: one line per retain
/// signal, `name type: kept`, `name type: added, starts from its default`,
/// `name type: dropped` or `name type: retyped from T, starts from its
/// default`, each ending in a newline ("" when neither version retains
/// anything). After the commit `wasmcell_program_notice` says the same under
/// a summary line.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL`,
/// `WASMCELL_ERR_INVALID_ARGUMENT`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `reload`: any value (handles are validated, never dereferenced).
/// `buf`: NULL or `cap` writable bytes.
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_reload_report(
    reload: *mut wasmcell_reload,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wasmcell_status {
    guard(|| {
        let report = with_reload(reload, |prepared| Ok(prepared.retain_plan()?.report()))?;
        copy_out(&report, buf, cap, len)
    })
}

/// Runs the prepared version for one cycle, in the shadow of the running
/// program: on the running program's current inputs and on a private copy of
/// its retain, taken by name and type at the first shadow poll (which also
/// runs the new `init`); later shadow polls continue the shadow's own state.
/// Nothing reaches the running program: its published outputs, retain,
/// statistics and poll count stay exactly as they are, and it keeps polling
/// on its own thread meanwhile. The outputs of the new version are read with
/// `wasmcell_reload_read_outputs`.
///
/// Host callbacks made during a shadow poll see `wasmcell_call_is_shadow`
/// set: a host MUST check it before actuating anything (answer reads, skip
/// side effects). Commit after shadow polls starts the new version from a
/// fresh instance with the running program's retain at commit time.
///
/// Returns what the new version's poll returns: `WASMCELL_OK`, or its fault
/// (`WASMCELL_ERR_TRAP`, `_BUDGET`, `_HOST`, `_GUEST_FAULT`, `_WATCHDOG`
/// in deadline mode, `WASMCELL_ERR_INSTANTIATE` when its `init` traps); after a fault the
/// shadow run stays faulted (`WASMCELL_ERR_FAULTED`; prepare again). Also
/// `WASMCELL_ERR_BUSY` (from the program's own callback),
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread; it waits for a running poll of
/// the program only at the first shadow poll (to copy its retain).
///
/// # Safety
///
/// `reload`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_reload_shadow_poll(
    reload: *mut wasmcell_reload,
) -> wasmcell_status {
    guard(|| with_reload(reload, |prepared| prepared.shadow_poll()))
}

/// Copies `len` bytes at `offset` of the new version's output area, as the
/// last successful shadow poll left them, into `data`.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (NULL `data` with
/// `len` > 0, range outside the output area, or no shadow poll yet);
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `reload`: any value (handles are validated, never dereferenced).
/// `data`: `len` writable bytes (NULL when it is 0).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_reload_read_outputs(
    reload: *mut wasmcell_reload,
    offset: usize,
    data: *mut u8,
    len: usize,
) -> wasmcell_status {
    guard(|| {
        if data.is_null() && len > 0 {
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::InvalidArgument,
                "data is NULL",
            ));
        }
        let mut buffer = [0u8; 256];
        let mut heap = Vec::new();
        let out: &mut [u8] = if len <= buffer.len() {
            &mut buffer[..len]
        } else {
            heap.resize(len, 0);
            &mut heap
        };
        with_reload(reload, |prepared| prepared.read_outputs(offset, out))?;
        if len > 0 {
            // SAFETY: `data` is non-NULL and, per the header, `len` writable bytes.
            unsafe { std::ptr::copy_nonoverlapping(out.as_ptr(), data, len) };
        }
        Ok(())
    })
}

/// Releases a prepared reload without swapping it in.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE` (NULL, stale,
/// already committed or discarded). Any thread.
///
/// # Safety
///
/// `reload`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_reload_discard(reload: *mut wasmcell_reload) -> wasmcell_status {
    guard(|| handle::remove_reload(reload as usize).map(drop))
}

/// Copies what happened to the retain area at the last reset or reload into
/// `buf`: "retain area carried over (N bytes, layout id L)", or why it was
/// not (different size or layout id: the new version started from its
/// defaults), or "" if the program declares no retain area.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL`,
/// `WASMCELL_ERR_INVALID_ARGUMENT`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `buf`: NULL or `cap` writable bytes.
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_notice(
    p: *mut wasmcell_program,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wasmcell_status {
    with_program(p, |entry| copy_out(&entry.program.notice(), buf, cap, len))
}
