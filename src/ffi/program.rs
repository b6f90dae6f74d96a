//! C API of [`crate::Program`].

use super::handle::{self, ProgramEntry};
use super::runtime::{to_handle, wasmcell_runtime, with_runtime};
use super::status::{guard, guard_quiet, wasmcell_status};
use super::text::{borrow_bytes, borrow_str, copy_out, write_out};
use crate::error::Result;
use std::ffi::c_char;
use std::sync::Arc;

/// An opaque program handle: one loaded guest. Created by
/// `wasmcell_program_load`, released by `wasmcell_program_unload` or by
/// freeing its runtime.
pub struct wasmcell_program {
    _private: [u8; 0],
}

/// Program states reported by `wasmcell_program_state`.
pub type wasmcell_state = i32;
/// Loaded and ready to poll.
pub const WASMCELL_STATE_READY: wasmcell_state = 1;
/// A poll faulted; polls return `WASMCELL_ERR_FAULTED` until
/// `wasmcell_program_reset` or `wasmcell_program_reload`.
pub const WASMCELL_STATE_FAULTED: wasmcell_state = 2;

/// Counters of a program since it was loaded, from `wasmcell_program_stats`.
/// Durations are wall-clock nanoseconds of the guest call.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct wasmcell_stats {
    /// Polls run (successful and faulting; not those refused because faulted).
    pub polls: u64,
    /// Polls that faulted.
    pub faults: u64,
    /// Duration of the last poll (process image copies included).
    pub last_poll_ns: u64,
    /// Longest poll since load: the figure to hold against the cycle time.
    pub max_poll_ns: u64,
    /// Mean duration over all polls run.
    pub mean_poll_ns: u64,
    /// Instruction budget used by the last poll (equal to the budget when it
    /// ran out).
    pub last_fuel_used: u64,
    /// Polls that ran longer than the watchdog time
    /// (`wasmcell_program_set_watchdog`); 0 without a watchdog.
    pub overruns: u64,
}

pub(crate) fn to_program_handle(program: *mut wasmcell_program) -> usize {
    program as usize
}

/// Runs a short entry point (poll, state, stats, setters, process image and
/// signals) on the program behind `p`, without a lock or a reference count:
/// `f` runs pinned (see `handle`), so it must not run long. The message rule
/// of the header: a failure's message is recorded for the calling thread
/// (`wasmcell_last_error`, by `guard`) and, when `p` is a live program, on
/// the program (`wasmcell_program_error`).
pub(crate) fn with_program(
    p: *mut wasmcell_program,
    f: impl FnOnce(&Arc<ProgramEntry>) -> Result<()>,
) -> wasmcell_status {
    guard(|| {
        handle::with_program(to_program_handle(p), |entry| {
            f(entry).inspect_err(|error| *entry.last_error.lock() = error.message().to_string())
        })
    })
}

/// Like [`with_program`], for entry points that may run long (reset, unload,
/// reload, prepare, commit: they compile or wait): `f` runs on an owned
/// reference, unpinned, so that it delays no runtime free.
pub(crate) fn with_program_owned(
    p: *mut wasmcell_program,
    f: impl FnOnce(&Arc<ProgramEntry>) -> Result<()>,
) -> wasmcell_status {
    guard(|| {
        let entry = handle::program(to_program_handle(p))?;
        f(&entry).inspect_err(|error| *entry.last_error.lock() = error.message().to_string())
    })
}

/// Loads a program: `len` bytes of binary WebAssembly or WAT text. Compiles
/// it, links its imports (host functions defined so far and the built-ins),
/// instantiates it, runs its `init` export if any, and writes the new handle
/// to `*out`. `name` (copied) identifies the program in messages and logs.
///
/// Ownership: `bytes` is only read during the call. On success the caller
/// owns `*out` until `wasmcell_program_unload` or `wasmcell_runtime_free`.
/// On failure `*out` is unchanged and the message is available from
/// `wasmcell_last_error` and `wasmcell_runtime_error`.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (NULL pointers,
/// empty name); `WASMCELL_ERR_INVALID_HANDLE`; `WASMCELL_ERR_LIMIT` (module
/// too large, initial memory above the limit); `WASMCELL_ERR_COMPILE`;
/// `WASMCELL_ERR_LINK`; `WASMCELL_ERR_INSTANTIATE`.
///
/// Thread safety: any thread; compiling takes far longer than a poll, so keep loads out
/// of a real-time thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
/// `name`: NULL or a NUL-terminated string, read during the call only.
/// `bytes`: `len` readable bytes (NULL when it is 0).
/// `out`: NULL or a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_load(
    rt: *mut wasmcell_runtime,
    name: *const c_char,
    bytes: *const u8,
    len: usize,
    out: *mut *mut wasmcell_program,
) -> wasmcell_status {
    with_runtime(rt, |entry| {
        let name = borrow_str(name, "name")?;
        let bytes = borrow_bytes(bytes, len, "bytes")?;
        if out.is_null() {
            return write_out(out, std::ptr::null_mut(), "out");
        }
        let program = entry.runtime.load(name, bytes)?;
        register(rt, program, out)
    })
}

/// Like `wasmcell_program_load`, reading the module from the file at `path`
/// (a `.wasm` binary or `.wat` text).
///
/// Returns: as `wasmcell_program_load`, plus `WASMCELL_ERR_NOT_FOUND` (no
/// such file) and `WASMCELL_ERR_IO` (unreadable). Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
/// `name`: NULL or a NUL-terminated string, read during the call only.
/// `path`: NULL or a NUL-terminated string, read during the call only.
/// `out`: NULL or a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_load_file(
    rt: *mut wasmcell_runtime,
    name: *const c_char,
    path: *const c_char,
    out: *mut *mut wasmcell_program,
) -> wasmcell_status {
    with_runtime(rt, |entry| {
        let name = borrow_str(name, "name")?;
        let path = borrow_str(path, "path")?;
        if out.is_null() {
            return write_out(out, std::ptr::null_mut(), "out");
        }
        let program = entry.runtime.load_file(name, path)?;
        register(rt, program, out)
    })
}

fn register(
    rt: *mut wasmcell_runtime,
    program: crate::Program,
    out: *mut *mut wasmcell_program,
) -> Result<()> {
    match handle::insert_program(to_handle(rt), program.clone()) {
        Ok(handle) => {
            program.set_tag(handle as u64);
            write_out(out, std::ptr::without_provenance_mut(handle), "out")
        }
        Err(error) => {
            let _ = program.unload();
            Err(error)
        }
    }
}

/// Runs one cycle of the program: calls its `poll` export under the
/// instruction budget.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_TRAP`, `WASMCELL_ERR_BUDGET`,
/// `WASMCELL_ERR_HOST`, `WASMCELL_ERR_GUEST_FAULT`, `WASMCELL_ERR_WATCHDOG`
/// (stopped or overrun: `wasmcell_program_set_watchdog`) (the program is now
/// FAULTED; `wasmcell_program_error` says why, `wasmcell_program_fault_kind`
/// classifies it); `WASMCELL_ERR_FAULTED` (it was already faulted);
/// `WASMCELL_ERR_BUSY` (called from one of its own callbacks);
/// `WASMCELL_ERR_INVALID_HANDLE`. Other programs are never affected.
///
/// Thread safety: any thread. Calls on one program are serialised (a second
/// thread waits for the running poll); different programs poll in parallel.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_poll(p: *mut wasmcell_program) -> wasmcell_status {
    with_program(p, |entry| entry.program.poll())
}

/// Replaces the program's instance with a fresh one of the same module
/// (memory and globals back to their initial values, `init` run again),
/// clearing a fault.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INSTANTIATE` or `WASMCELL_ERR_LIMIT`
/// (the program stays FAULTED with the reason); `WASMCELL_ERR_BUSY`;
/// `WASMCELL_ERR_INVALID_HANDLE`. Thread safety: any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_reset(p: *mut wasmcell_program) -> wasmcell_status {
    with_program_owned(p, |entry| {
        entry.program.reset()?;
        entry.last_error.lock().clear();
        Ok(())
    })
}

/// Unloads the program and invalidates its handle (waiting for a poll running
/// on another thread to finish).
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_BUSY` (from its own callback; nothing
/// happens); `WASMCELL_ERR_INVALID_HANDLE` (NULL, stale, already unloaded,
/// runtime freed). Thread safety: any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_unload(p: *mut wasmcell_program) -> wasmcell_status {
    with_program_owned(p, |entry| {
        entry.program.unload()?;
        // Waits for a grace period, then drops the table's reference; the
        // last one (this call's) is dropped on this thread.
        handle::remove_program(to_program_handle(p))
    })
}

/// Writes the program's state (`WASMCELL_STATE_*`) to `*state`. Does not wait
/// for a running poll.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `state`: NULL or a writable `wasmcell_state`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_state(
    p: *mut wasmcell_program,
    state: *mut wasmcell_state,
) -> wasmcell_status {
    with_program(p, |entry| {
        let current = entry.program.state();
        if current == crate::ProgramState::Unloaded {
            // Unloaded by a runtime_free running on another thread: the
            // handle is on its way out of the table.
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::InvalidHandle,
                "the program is unloaded",
            ));
        }
        write_out(state, current as wasmcell_state, "state")
    })
}

/// Copies the message of the last call on this program that failed into
/// `buf` (NUL-terminated), whichever thread made it: a poll that faulted
/// leaves the fault's message, a rejected argument its own. Cleared when a
/// reset, reload or commit succeeds; "" if nothing failed. This getter and
/// `wasmcell_program_fault_message` do not record their own failures.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_BUFFER_TOO_SMALL` (a truncated,
/// NUL-terminated prefix is written if `cap > 0`; the full length is in
/// `*len`); `WASMCELL_ERR_INVALID_ARGUMENT` (`buf` NULL with `cap > 0`);
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread; waits for no poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `buf`: NULL or `cap` writable bytes.
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_error(
    p: *mut wasmcell_program,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wasmcell_status {
    guard_quiet(|| {
        let entry = handle::program(to_program_handle(p))?;
        let message = entry.last_error.lock().clone();
        copy_out(&message, buf, cap, len)
    })
}

/// Copies the message of the program's fault into `buf` (NUL-terminated)
/// while it is FAULTED: it names the trap and the wasm function, or the
/// callback and its code, and is kept until a reset, reload or commit
/// succeeds, whatever other calls fail meanwhile. "" when it is not faulted.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_BUFFER_TOO_SMALL` (a truncated,
/// NUL-terminated prefix is written if `cap > 0`; the full length is in
/// `*len`); `WASMCELL_ERR_INVALID_ARGUMENT` (`buf` NULL with `cap > 0`);
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread; waits for no poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `buf`: NULL or `cap` writable bytes.
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_fault_message(
    p: *mut wasmcell_program,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wasmcell_status {
    guard_quiet(|| {
        let entry = handle::program(to_program_handle(p))?;
        let message = entry.program.fault().map(|fault| fault.message);
        copy_out(message.as_deref().unwrap_or(""), buf, cap, len)
    })
}

/// Writes what faulted the program (`WASMCELL_FAULT_*`) to `*kind`;
/// `WASMCELL_FAULT_NONE` if it is not faulted.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `kind`: NULL or a writable `wasmcell_fault`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_fault_kind(
    p: *mut wasmcell_program,
    kind: *mut wasmcell_fault,
) -> wasmcell_status {
    with_program(p, |entry| {
        write_out(kind, entry.program.fault_kind() as wasmcell_fault, "kind")
    })
}

/// Sets the program's instruction budget per poll (and for `init` on reset and
/// reload), from the next poll on. A poll that needs more fails with
/// `WASMCELL_ERR_BUDGET`. The budget is an upper bound of the wasm
/// instructions one poll executes.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (0, or the
/// program runs in deadline mode: `wasmcell_runtime_set_default_deadline`),
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread; does not wait for a running poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_set_fuel(
    p: *mut wasmcell_program,
    per_poll: u64,
) -> wasmcell_status {
    with_program(p, |entry| entry.program.set_fuel(per_poll))
}

/// Sets the program's watchdog, the way a PLC task's is set: a poll that runs
/// longer than `time_ns * sensitivity` is stopped while it runs (even in a
/// guest loop its instruction budget would still allow), and `sensitivity`
/// consecutive polls longer than `time_ns` fault the program as an overrun.
/// Both fault it with `WASMCELL_ERR_WATCHDOG` / `WASMCELL_FAULT_WATCHDOG`;
/// `wasmcell_stats.overruns` counts polls longer than `time_ns`.
/// `time_ns` 0 turns the watchdog off; `sensitivity` 0 counts as 1.
///
/// How: one process-wide watchdog thread wakes every quarter of the
/// shortest limit (50 us .. 10 ms) and stops an overdue poll through its
/// budget counter, so the guest stops at its next loop header or function
/// entry. A poll that does not overrun pays two atomic stores. A host
/// callback that blocks cannot be interrupted: the poll stops when it
/// returns, and its time counts.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (`time_ns` 0 for a
/// program in deadline mode, whose watchdog cannot be turned off),
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread; applies from the next poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_set_watchdog(
    p: *mut wasmcell_program,
    time_ns: u64,
    sensitivity: u32,
) -> wasmcell_status {
    with_program(p, |entry| entry.program.set_watchdog(time_ns, sensitivity))
}

/// Turns the timing of polls on (`on` != 0, the default) or off (0). The
/// duration counters of `wasmcell_stats` (`last_poll_ns`, `max_poll_ns`,
/// `mean_poll_ns`) come from it; a host that times its own control loop
/// turns it off and saves the clock reads of every poll, and those counters
/// then stop changing. A program with a watchdog is timed regardless.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread; applies
/// from the next poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_set_timing(
    p: *mut wasmcell_program,
    on: i32,
) -> wasmcell_status {
    with_program(p, |entry| entry.program.set_timing(on != 0))
}

/// Fault outputs: the last good outputs stay published (the default).
pub const WASMCELL_FAULT_OUTPUTS_HOLD: i32 = 0;
/// Fault outputs: on a fault, the output area's initial values from the
/// module are published, with the faulting poll's number.
pub const WASMCELL_FAULT_OUTPUTS_DEFAULTS: i32 = 1;

/// Chooses what the published outputs do when the program faults (trap,
/// budget, watchdog, host error, guest-reported fault):
/// `WASMCELL_FAULT_OUTPUTS_HOLD` keeps the last good outputs published;
/// `WASMCELL_FAULT_OUTPUTS_DEFAULTS` publishes the output area as the module
/// initialised it (before `init`), numbered with the faulting poll, so an
/// output such as motor-on falls back to its safe default. Programs without
/// a process image are unaffected.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (unknown mode),
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_set_fault_outputs(
    p: *mut wasmcell_program,
    mode: i32,
) -> wasmcell_status {
    with_program(p, |entry| {
        let mode = match mode {
            WASMCELL_FAULT_OUTPUTS_HOLD => crate::FaultOutputs::Hold,
            WASMCELL_FAULT_OUTPUTS_DEFAULTS => crate::FaultOutputs::Defaults,
            _ => {
                return Err(crate::error::Error::new(
                    crate::error::ErrorKind::InvalidArgument,
                    format!("unknown fault outputs mode {mode} (use WASMCELL_FAULT_OUTPUTS_*)"),
                ))
            }
        };
        entry.program.set_fault_outputs(mode)
    })
}

/// Sets the maximum size (elements) of each of the program's tables, applied
/// when it is next reset or reloaded: `table.grow` past it returns -1 in the
/// guest; a version whose initial table exceeds it is refused with
/// `WASMCELL_ERR_LIMIT` (a reset then faults the program).
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_set_table_limit(
    p: *mut wasmcell_program,
    max_elements: u32,
) -> wasmcell_status {
    with_program(p, |entry| {
        let mut limits = entry.program.limits();
        limits.max_table_elements = max_elements;
        entry.program.set_limits(limits)
    })
}

/// Sets the program's maximum linear memory in bytes, applied when it is next
/// reset or reloaded (a running instance keeps its current limit).
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_set_memory_limit(
    p: *mut wasmcell_program,
    bytes: u64,
) -> wasmcell_status {
    with_program(p, |entry| {
        let mut limits = entry.program.limits();
        limits.max_memory_bytes = bytes;
        entry.program.set_limits(limits)
    })
}

/// Copies the program's counters into `*stats`. Does not wait for a running poll.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `stats`: NULL or a writable `wasmcell_stats`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_stats(
    p: *mut wasmcell_program,
    stats: *mut wasmcell_stats,
) -> wasmcell_status {
    with_program(p, |entry| {
        let s = entry.program.stats();
        let out = wasmcell_stats {
            polls: s.polls,
            faults: s.faults,
            last_poll_ns: s.last_poll_ns,
            max_poll_ns: s.max_poll_ns,
            mean_poll_ns: s.mean_poll_ns(),
            last_fuel_used: s.last_fuel_used,
            overruns: s.overruns,
        };
        write_out(stats, out, "stats")
    })
}

/// Copies the name the program was loaded with into `buf` (NUL-terminated).
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
pub unsafe extern "C" fn wasmcell_program_name(
    p: *mut wasmcell_program,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wasmcell_status {
    with_program(p, |entry| copy_out(entry.program.name(), buf, cap, len))
}

/// Fault kinds reported by `wasmcell_program_fault_kind`.
pub type wasmcell_fault = i32;
/// Not faulted.
pub const WASMCELL_FAULT_NONE: wasmcell_fault = 0;
/// `unreachable` executed (a Rust guest's panic compiles to this).
pub const WASMCELL_FAULT_UNREACHABLE: wasmcell_fault = 1;
/// A load or store outside linear memory, or a buffer argument outside it.
pub const WASMCELL_FAULT_MEMORY_OUT_OF_BOUNDS: wasmcell_fault = 2;
pub const WASMCELL_FAULT_INTEGER_DIVIDE_BY_ZERO: wasmcell_fault = 3;
pub const WASMCELL_FAULT_INTEGER_OVERFLOW: wasmcell_fault = 4;
/// Float to integer conversion of NaN or an out-of-range value.
pub const WASMCELL_FAULT_BAD_CONVERSION_TO_INTEGER: wasmcell_fault = 5;
/// The wasm stack limit was reached (runaway recursion).
pub const WASMCELL_FAULT_STACK_OVERFLOW: wasmcell_fault = 6;
/// `call_indirect` with a mismatched signature.
pub const WASMCELL_FAULT_INDIRECT_CALL_MISMATCH: wasmcell_fault = 7;
/// `call_indirect` to a null or out-of-range table entry.
pub const WASMCELL_FAULT_INDIRECT_CALL_NULL: wasmcell_fault = 8;
/// The instruction budget of the poll ran out (`WASMCELL_ERR_BUDGET`).
pub const WASMCELL_FAULT_BUDGET_EXHAUSTED: wasmcell_fault = 9;
/// A host callback returned non-zero (`WASMCELL_ERR_HOST`).
pub const WASMCELL_FAULT_HOST_ERROR: wasmcell_fault = 10;
/// `poll` returned non-zero (`WASMCELL_ERR_GUEST_FAULT`).
pub const WASMCELL_FAULT_GUEST_REPORTED: wasmcell_fault = 11;
/// Any other trap, or a failed reset.
pub const WASMCELL_FAULT_OTHER: wasmcell_fault = 12;
/// The watchdog stopped the poll, or counted too many overruns in a row.
pub const WASMCELL_FAULT_WATCHDOG: wasmcell_fault = 13;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultKind;
    use crate::program::ProgramState;

    #[test]
    fn c_constants_match_the_core_enums() {
        assert_eq!(WASMCELL_STATE_READY, ProgramState::Ready as i32);
        assert_eq!(WASMCELL_STATE_FAULTED, ProgramState::Faulted as i32);
        assert_eq!(WASMCELL_FAULT_NONE, FaultKind::None as i32);
        assert_eq!(
            WASMCELL_FAULT_STACK_OVERFLOW,
            FaultKind::StackOverflow as i32
        );
        assert_eq!(
            WASMCELL_FAULT_BUDGET_EXHAUSTED,
            FaultKind::BudgetExhausted as i32
        );
        assert_eq!(WASMCELL_FAULT_OTHER, FaultKind::Other as i32);
    }
}
