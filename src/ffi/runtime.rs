//! C API of [`crate::Runtime`].

use super::handle::{self, RuntimeEntry};
use super::status::{guard, guard_quiet, wasmcell_status};
use super::text::{copy_out, write_out};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::runtime::Runtime;
use std::ffi::c_char;
use std::sync::Arc;

/// An opaque runtime handle: host functions, log sink, clock and default
/// limits shared by the programs loaded into it. Created by
/// `wasmcell_runtime_new`, freed by `wasmcell_runtime_free`.
pub struct wasmcell_runtime {
    _private: [u8; 0],
}

pub(crate) fn to_handle(runtime: *mut wasmcell_runtime) -> usize {
    runtime as usize
}

/// Runs `f` on the runtime behind `rt` and keeps a failure's message on it.
pub(crate) fn with_runtime(
    rt: *mut wasmcell_runtime,
    f: impl FnOnce(&Arc<RuntimeEntry>) -> Result<()>,
) -> wasmcell_status {
    guard(|| {
        let entry = handle::runtime(to_handle(rt))?;
        f(&entry).inspect_err(|error| *entry.last_error.lock() = error.message().to_string())
    })
}

fn update_limits(rt: *mut wasmcell_runtime, change: impl FnOnce(&mut Limits)) -> wasmcell_status {
    with_runtime(rt, |entry| {
        let mut limits = entry.runtime.default_limits();
        change(&mut limits);
        entry.runtime.set_default_limits(limits)
    })
}

/// Creates a runtime with safe default limits (finite instruction budget per
/// poll, 64 MiB memory per program, 16 MiB modules, 512 KiB wasm stack).
///
/// Ownership: on success `*out` is a new handle the caller owns and must
/// release with `wasmcell_runtime_free`. On failure `*out` is unchanged.
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (`out` NULL),
/// `WASMCELL_ERR_LIMIT` (4 194 304 runtime, program and reload handles are
/// in use), `WASMCELL_ERR_INTERNAL`.
///
/// The first runtime of a process also runs the engine's one-time
/// initialisation (once per process), so that the first poll of the
/// first program is as fast as any first poll: create runtimes before the
/// control loop starts. This is when wasmer installs its SIGSEGV, SIGBUS,
/// SIGILL and SIGFPE handlers; it chains to handlers installed earlier, so a
/// host that installs its own must do so before creating the first runtime.
///
/// Thread safety: any thread.
///
/// # Safety
///
/// `out`: NULL or a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_new(out: *mut *mut wasmcell_runtime) -> wasmcell_status {
    guard(|| {
        if out.is_null() {
            return write_out(out, std::ptr::null_mut(), "out");
        }
        let handle = handle::insert_runtime(Runtime::default())?;
        write_out(out, std::ptr::without_provenance_mut(handle), "out")
    })
}

/// Frees a runtime: unloads all its programs (waiting for polls running on
/// other threads to finish), then releases its host functions, running each
/// one's `free_fn` on this thread before returning. All program handles of
/// the runtime become invalid.
///
/// Polls are looked up without a lock, so the free also waits for the polls
/// of *other* runtimes' programs running at that moment to return — at most
/// one second. Past that (a polling thread descheduled for that long, or a
/// host callback blocked on something this thread holds), it returns
/// anyway and the remaining `free_fn` calls run at a later load, unload or
/// runtime free, on that call's thread. Called from inside a host callback
/// or log sink of another runtime's program, it does not wait at all (the
/// same deferral).
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_HANDLE` (NULL, stale, already
/// freed, or not a runtime); `WASMCELL_ERR_BUSY` when called from inside a host
/// callback of one of its programs (nothing is freed).
///
/// Thread safety: any thread. Do not free a runtime while another thread is
/// still loading into it; its load then fails with `WASMCELL_ERR_INVALID_HANDLE`.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_free(rt: *mut wasmcell_runtime) -> wasmcell_status {
    with_runtime(rt, |entry| {
        entry.runtime.close()?;
        handle::remove_runtime(to_handle(rt))
    })
}

/// Copies the message of the last failed call made on this runtime (define,
/// load, set_*) into `buf`, like `wasmcell_last_error` but independent of the
/// calling thread. Empty if none failed.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL` (truncated prefix
/// written, full length in `*len`), `WASMCELL_ERR_INVALID_ARGUMENT`,
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
/// `buf`: NULL or `cap` writable bytes.
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_error(
    rt: *mut wasmcell_runtime,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wasmcell_status {
    guard_quiet(|| {
        let entry = handle::runtime(to_handle(rt))?;
        let message = entry.last_error.lock().clone();
        copy_out(&message, buf, cap, len)
    })
}

/// Sets the instruction budget per poll that programs loaded from now on
/// start with (each can change its own with `wasmcell_program_set_fuel`).
/// The budget is an upper bound of wasm instructions a poll may execute.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (0),
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_default_fuel(
    rt: *mut wasmcell_runtime,
    per_poll: u64,
) -> wasmcell_status {
    update_limits(rt, |limits| limits.fuel_per_poll = per_poll)
}

/// Sets the maximum linear memory, in bytes, of programs loaded from now on
/// (rounded down to 64 KiB pages). `memory.grow` past it returns -1 inside the
/// guest; a module whose initial memory exceeds it fails to load with
/// `WASMCELL_ERR_LIMIT`.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_default_memory_limit(
    rt: *mut wasmcell_runtime,
    bytes: u64,
) -> wasmcell_status {
    update_limits(rt, |limits| limits.max_memory_bytes = bytes)
}

/// Chooses how programs loaded from now on are bounded. `deadline_ns` 0 (the
/// default): by the instruction budget (`wasmcell_runtime_set_default_fuel`).
/// Otherwise **deadline mode**: the programs are compiled without an
/// instruction count, and every call into the guest (poll, `init`, the
/// start function, a shadow poll) is stopped by the watchdog once it has run
/// `deadline_ns` (stopped within a quarter of it more, at least 50 us later):
/// the program faults with `WASMCELL_ERR_WATCHDOG`. Guest loops then cost a
/// load and a compare per iteration instead of the budget's arithmetic.
///
/// In deadline mode a program's watchdog starts at `deadline_ns` with
/// sensitivity 1; `wasmcell_program_set_watchdog` can change it but not turn
/// it off, and `wasmcell_program_set_fuel` is refused (both
/// `WASMCELL_ERR_INVALID_ARGUMENT`); `wasmcell_stats.last_fuel_used` is 0.
/// A program keeps the mode it was loaded in (its reloads and resets too).
/// The watchdog cannot interrupt a host callback (the call stops when the
/// callback returns) nor one bulk memory or table operation (bounded by the
/// memory and table limits); an `init` or start function it stops makes
/// the load, reset or reload fail with `WASMCELL_ERR_INSTANTIATE`.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_default_deadline(
    rt: *mut wasmcell_runtime,
    deadline_ns: u64,
) -> wasmcell_status {
    update_limits(rt, |limits| limits.deadline_ns = deadline_ns)
}

/// Sets the largest module (binary or WAT bytes) that load and reload
/// accept; larger ones fail with `WASMCELL_ERR_LIMIT` before any parsing.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (0),
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_max_module_size(
    rt: *mut wasmcell_runtime,
    bytes: u64,
) -> wasmcell_status {
    update_limits(rt, |limits| limits.max_module_bytes = bytes)
}

/// Sets the wasm stack size, in bytes, of programs loaded from now on
/// (clamped to 8 KiB .. 100 MiB). Runaway recursion faults the program with
/// `WASMCELL_ERR_TRAP` (stack overflow) when it is used up.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_default_stack_size(
    rt: *mut wasmcell_runtime,
    bytes: u64,
) -> wasmcell_status {
    update_limits(rt, |limits| limits.stack_bytes = bytes)
}

/// Sets the maximum size of each table (elements) of programs loaded from now
/// on: initial sizes above it fail to load with `WASMCELL_ERR_LIMIT`, and
/// `table.grow` past it returns -1 in the guest, allocating nothing. Each
/// element takes 8 bytes of host memory and a module has at most 4 tables.
/// Default: 100 000 elements.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_default_table_limit(
    rt: *mut wasmcell_runtime,
    max_elements: u32,
) -> wasmcell_status {
    update_limits(rt, |limits| limits.max_table_elements = max_elements)
}

/// Sets the deepest nesting of blocks, loops and ifs a function of a module
/// loaded (or reloaded) from now on may have; a deeper module fails with
/// `WASMCELL_ERR_LIMIT` before it is compiled, which keeps compile time
/// linear in the module's size. Default: 2 000.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_nesting_limit(
    rt: *mut wasmcell_runtime,
    max_depth: u32,
) -> wasmcell_status {
    update_limits(rt, |limits| limits.max_nesting = max_depth)
}

/// Sets how many threads compile the modules of loads, reloads, prepares and
/// cache misses from now on (0: the default, one less than the machine's
/// cores, at least 1). A compile then never takes every core: the control
/// thread keeps one. More threads finish a large module sooner; fewer
/// disturb the polling threads less.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_compile_threads(
    rt: *mut wasmcell_runtime,
    threads: u32,
) -> wasmcell_status {
    with_runtime(rt, |entry| {
        let mut settings = entry.runtime.compile_settings();
        settings.threads = match std::num::NonZeroUsize::new(threads as usize) {
            Some(threads) => threads,
            None => crate::CompileSettings::default().threads,
        };
        entry.runtime.set_compile_settings(settings);
        Ok(())
    })
}

/// Chooses whether compiles run at background priority (`background` != 0,
/// the default) or at the calling thread's priority (0). In the background,
/// on Linux, the compile threads run at nice 10, so a polling thread at
/// normal (or real-time) priority always wins the CPU; elsewhere the setting
/// has no effect. The calling thread waits for the compile either way.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_compile_priority(
    rt: *mut wasmcell_runtime,
    background: i32,
) -> wasmcell_status {
    with_runtime(rt, |entry| {
        let mut settings = entry.runtime.compile_settings();
        settings.background = background != 0;
        entry.runtime.set_compile_settings(settings);
        Ok(())
    })
}

/// Residency mode: linear memory is mapped on first access (default).
pub const WASMCELL_MEMORY_ON_DEMAND: i32 = 0;
/// Residency mode: every page of a new instance's memory is touched at load,
/// reset and reload, so the control loop takes no page faults on it.
pub const WASMCELL_MEMORY_PREFAULT: i32 = 1;
/// Residency mode: prefault, then lock the pages in RAM (`mlock`).
pub const WASMCELL_MEMORY_LOCK: i32 = 2;

/// Chooses what happens to the linear memory (its initial size, which holds
/// the process image) of programs loaded from now on, at load, reset and
/// reload: `WASMCELL_MEMORY_ON_DEMAND` (default: pages mapped on first
/// access, possibly inside a poll), `WASMCELL_MEMORY_PREFAULT` (all touched
/// up front at load, in time proportional to its size; the memory is
/// resident), or
/// `WASMCELL_MEMORY_LOCK` (prefault and `mlock`: needs `RLIMIT_MEMLOCK` for
/// the whole memory; when refused, a warning goes to the program's log and
/// the pages stay prefaulted). Memory grown later by `memory.grow` is not
/// covered: size the module's initial memory for what the loop uses.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (unknown mode),
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_memory_residency(
    rt: *mut wasmcell_runtime,
    mode: i32,
) -> wasmcell_status {
    use crate::limits::Residency;
    with_runtime(rt, |entry| {
        let residency = match mode {
            WASMCELL_MEMORY_ON_DEMAND => Residency::OnDemand,
            WASMCELL_MEMORY_PREFAULT => Residency::Prefault,
            WASMCELL_MEMORY_LOCK => Residency::Lock,
            _ => {
                return Err(invalid_argument(&format!(
                    "unknown memory residency mode {mode} (use WASMCELL_MEMORY_*)"
                )))
            }
        };
        let mut limits = entry.runtime.default_limits();
        limits.residency = residency;
        entry.runtime.set_default_limits(limits)
    })
}

/// Seeds the WASI `random_get` generators of programs instantiated from now
/// on (load, reset, reload): each program's stream depends on the seed and
/// its name, so a test or simulation replays exactly. Without a seed (the
/// default) each program is seeded from the operating system. The generator
/// is statistically sound but not cryptographic.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_random_seed(
    rt: *mut wasmcell_runtime,
    seed: u64,
) -> wasmcell_status {
    with_runtime(rt, |entry| {
        entry.runtime.set_random_seed(Some(seed));
        Ok(())
    })
}

pub(crate) fn invalid_argument(message: &str) -> Error {
    Error::new(crate::error::ErrorKind::InvalidArgument, message)
}

/// Sets the shape limits checked before compiling modules loaded (or
/// reloaded) from now on: the number of functions (imported and defined), the
/// number of imports, and the size of each table. A module over any of them
/// fails with `WASMCELL_ERR_LIMIT` without being compiled. The table limit
/// also holds at run time: `table.grow` past it returns -1 in the guest and
/// allocates nothing (a module has at most 4 tables of 8 bytes per element).
/// Defaults: 50 000 functions, 1 000 imports, 100 000 table elements.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_set_module_limits(
    rt: *mut wasmcell_runtime,
    max_functions: u32,
    max_imports: u32,
    max_table_elements: u32,
) -> wasmcell_status {
    update_limits(rt, |limits| {
        limits.max_functions = max_functions;
        limits.max_imports = max_imports;
        limits.max_table_elements = max_table_elements;
    })
}
