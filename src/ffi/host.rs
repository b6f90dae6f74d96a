//! C API of host functions: defining callbacks and what a callback may do
//! with the call it is serving.

use super::program::wasmcell_program;
use super::runtime::{invalid_argument, wasmcell_runtime, with_runtime};
use super::status::{guard, wasmcell_status};
use super::text::{borrow_str, copy_out, write_out};
use crate::error::{Error, ErrorKind};
use crate::host::{HostCall, HostFunction, Signature, Val, ValKind};
use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A guest buffer handed to a host callback: `len` bytes at `ptr`, inside the
/// calling program's linear memory, bounds-checked by wasmcell. Valid (and
/// writable) only until the callback returns.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wasmcell_buf {
    pub ptr: *mut u8,
    pub len: usize,
}

/// One argument or result of a host callback. The member to use is given by
/// the signature character at the same position: `i` -> `i32`, `I` -> `i64`,
/// `f` -> `f32`, `F` -> `f64`, `*~` -> `buf` (arguments only).
#[repr(C)]
#[derive(Clone, Copy)]
pub union wasmcell_val {
    pub i32: i32,
    pub i64: i64,
    pub f32: f32,
    pub f64: f64,
    pub buf: wasmcell_buf,
}

/// The call a host callback is serving: gives access to the calling program
/// and its memory. Valid only during the callback, on the callback's thread;
/// passing it to wasmcell after the callback returned gives
/// `WASMCELL_ERR_INVALID_HANDLE`, never undefined behaviour.
pub struct wasmcell_call {
    _private: [u8; 0],
}

/// A host callback. `args` holds `nargs` values and `results` `nresults`
/// zero-initialised slots, typed by the signature given at definition.
/// Return 0 to continue the guest; any other value traps the guest with
/// `WASMCELL_ERR_HOST` and faults the program (its error message names the
/// function and the code; add detail with `wasmcell_call_set_error`).
///
/// Runs on the thread that polls the program, while the program is
/// suspended. It may poll *other* programs, but calling poll, reset, reload or
/// unload on its own program (or freeing its runtime) returns
/// `WASMCELL_ERR_BUSY`. It must not unwind (no C++ exceptions, no longjmp).
pub type wasmcell_host_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        call: *mut wasmcell_call,
        args: *const wasmcell_val,
        nargs: usize,
        results: *mut wasmcell_val,
        nresults: usize,
    ) -> i32,
>;

/// Releases a callback's `user_data` when the function is dropped (when its
/// runtime is freed).
pub type wasmcell_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// One call being served on this thread, linked to the one it is nested in
/// (a callback may poll another program whose callback then runs nested).
/// Lives on the stack of [`CHostFunction::call`] for the callback's duration.
struct ActiveCall {
    /// The handle the callback got: a number never used for another call,
    /// so a handle kept past its callback cannot name a later one (even one
    /// whose `HostCall` sits at the same stack address).
    id: usize,
    /// Address of the `HostCall` being served.
    call: usize,
    outer: Cell<*const ActiveCall>,
}

/// Call handles come in blocks of 2^39 odd numbers, one block per thread at
/// a time, so a callback takes its handle without touching memory shared
/// with other threads. A handle is never reused: a thread that used up its
/// block (after 2^39 callbacks) takes a block no thread has had. Block
/// numbers start high, so a handle is never NULL and never looks like a
/// small integer or a real pointer.
const CALL_ID_BLOCK_BITS: u32 = 40;
static NEXT_CALL_ID_BLOCK: AtomicUsize = AtomicUsize::new(0x5ca1);

thread_local! {
    /// The innermost call being served on this thread (NULL: none).
    static INNERMOST_CALL: Cell<*const ActiveCall> = const { Cell::new(std::ptr::null()) };
    /// This thread's next call handle (0: take a new block first).
    static NEXT_CALL_ID: Cell<usize> = const { Cell::new(0) };
}

/// A call handle never given out before, in this process.
fn next_call_id() -> usize {
    NEXT_CALL_ID.with(|next| {
        let mut id = next.get();
        if id == 0 {
            let block = NEXT_CALL_ID_BLOCK.fetch_add(1, Ordering::Relaxed);
            id = (block << CALL_ID_BLOCK_BITS) | 1;
        }
        let following = id + 2;
        let same_block = following >> CALL_ID_BLOCK_BITS == id >> CALL_ID_BLOCK_BITS;
        next.set(if same_block { following } else { 0 });
        id
    })
}

/// Registers a call as active on this thread until dropped.
struct ActiveCallGuard<'a>(&'a ActiveCall);

impl<'a> ActiveCallGuard<'a> {
    fn enter(active: &'a ActiveCall) -> Self {
        let outer = INNERMOST_CALL.with(|innermost| innermost.replace(active));
        active.outer.set(outer);
        Self(active)
    }
}

impl Drop for ActiveCallGuard<'_> {
    fn drop(&mut self) {
        INNERMOST_CALL.with(|innermost| innermost.set(self.0.outer.get()));
    }
}

/// The `HostCall` address of the call with handle `id`, if it is being
/// served on this thread.
fn active_call(id: usize) -> Option<usize> {
    let mut node = INNERMOST_CALL.with(Cell::get);
    while !node.is_null() {
        // SAFETY: every node is an `ActiveCall` on the stack of a callback
        // still running on this thread: its guard unlinks it before it dies.
        let active = unsafe { &*node };
        if active.id == id {
            return Some(active.call);
        }
        node = active.outer.get();
    }
    None
}

/// A C callback with its user data, as the core sees a host function.
struct CHostFunction {
    callback: unsafe extern "C" fn(
        *mut c_void,
        *mut wasmcell_call,
        *const wasmcell_val,
        usize,
        *mut wasmcell_val,
        usize,
    ) -> i32,
    user_data: *mut c_void,
    free: wasmcell_free_fn,
    /// False until the definition succeeded: a failed define must not free.
    owns_user_data: AtomicBool,
    results: Vec<ValKind>,
}

// SAFETY: the header requires user_data to be usable from any thread that
// polls programs of the runtime; wasmcell itself never touches it.
unsafe impl Send for CHostFunction {}
// SAFETY: as above; the callback is invoked concurrently only when programs
// are polled concurrently, which the header documents.
unsafe impl Sync for CHostFunction {}

impl Drop for CHostFunction {
    fn drop(&mut self) {
        if let (Some(free), true) = (self.free, self.owns_user_data.load(Ordering::Acquire)) {
            // SAFETY: the caller handed user_data and free_fn over together.
            unsafe { free(self.user_data) };
        }
    }
}

const INLINE_VALUES: usize = 8;

impl HostFunction for CHostFunction {
    fn call(&self, call: &mut HostCall<'_>, args: &[Val], results: &mut [Val]) -> Result<(), i32> {
        let zero = wasmcell_val { i64: 0 };
        // The arguments are all written below: no zero-fill (the callback
        // sees only the `nargs` values the signature gives).
        let mut inline_args = [MaybeUninit::<wasmcell_val>::uninit(); INLINE_VALUES];
        let mut heap_args = Vec::new();
        let c_args: &mut [MaybeUninit<wasmcell_val>] = if args.len() <= INLINE_VALUES {
            &mut inline_args[..args.len()]
        } else {
            heap_args.resize(args.len(), MaybeUninit::new(zero));
            &mut heap_args
        };
        let mut memory: *mut u8 = std::ptr::null_mut();
        for (slot, arg) in c_args.iter_mut().zip(args) {
            *slot = MaybeUninit::new(match *arg {
                Val::I32(v) => wasmcell_val { i32: v },
                Val::I64(v) => wasmcell_val { i64: v },
                Val::F32(v) => wasmcell_val { f32: v },
                Val::F64(v) => wasmcell_val { f64: v },
                Val::Buf { offset, len } => {
                    if memory.is_null() {
                        memory = call.memory().as_mut_ptr();
                    }
                    wasmcell_val {
                        buf: wasmcell_buf {
                            // SAFETY: the core checked offset + len against
                            // the memory size.
                            ptr: unsafe { memory.add(offset) },
                            len,
                        },
                    }
                }
            });
        }
        // The header promises zeroed result slots: only those are zeroed.
        let mut inline_results = [MaybeUninit::<wasmcell_val>::uninit(); INLINE_VALUES];
        let mut heap_results = Vec::new();
        let c_results: &mut [MaybeUninit<wasmcell_val>] = if results.len() <= INLINE_VALUES {
            &mut inline_results[..results.len()]
        } else {
            heap_results.resize(results.len(), MaybeUninit::new(zero));
            &mut heap_results
        };
        for slot in c_results.iter_mut() {
            *slot = MaybeUninit::new(zero);
        }
        let id = next_call_id();
        let active = ActiveCall {
            id,
            call: call as *mut HostCall<'_> as usize,
            outer: Cell::new(std::ptr::null()),
        };
        let registered = ActiveCallGuard::enter(&active);
        // SAFETY: the pointers are valid for the stated lengths during the
        // call, and every one of those values is initialised (written above).
        // `MaybeUninit<T>` has the layout of `T`.
        let code = unsafe {
            (self.callback)(
                self.user_data,
                std::ptr::without_provenance_mut::<wasmcell_call>(id),
                c_args.as_ptr().cast::<wasmcell_val>(),
                c_args.len(),
                c_results.as_mut_ptr().cast::<wasmcell_val>(),
                c_results.len(),
            )
        };
        drop(registered);
        if code != 0 {
            return Err(code);
        }
        for ((result, kind), value) in results.iter_mut().zip(&self.results).zip(c_results.iter()) {
            // SAFETY: every result slot was initialised (zeroed) before the
            // call; the signature says which member the callback wrote.
            *result = unsafe {
                let value = value.assume_init_ref();
                match kind {
                    ValKind::I32 | ValKind::Buf => Val::I32(value.i32),
                    ValKind::I64 => Val::I64(value.i64),
                    ValKind::F32 => Val::F32(value.f32),
                    ValKind::F64 => Val::F64(value.f64),
                }
            };
        }
        Ok(())
    }
}

/// Runs `f` on the call behind `call` if it is being served on this thread.
fn with_call<R>(
    call: *mut wasmcell_call,
    f: impl FnOnce(&mut HostCall<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    let Some(address) = active_call(call as usize) else {
        return Err(Error::new(
            ErrorKind::InvalidHandle,
            "the call handle is not active on this thread (use it only inside its callback)",
        ));
    };
    // SAFETY: the address is the HostCall of a callback still running on this
    // thread (it is unlinked from the active calls before the HostCall dies).
    let call = unsafe { &mut *(address as *mut HostCall<'_>) };
    f(call)
}

/// Registers a host callback that guests import as `module`.`name`.
///
/// `signature` is a short string: parameters in parentheses, then results.
/// `i` i32, `I` i64, `f` f32, `F` f64, and `*~` a guest (pointer, length)
/// pair that arrives as one bounds-checked `buf` argument. Example: the
/// original `print(msg, len) -> i32` is `"(*~)i"`; `"(i)F"` takes an i32 and
/// returns an f64; `"(ii)"` returns nothing.
///
/// The function is visible to programs loaded (or reloaded, or reset) after
/// this call; host definitions take precedence over the built-in imports.
/// A module can be linked only if every import it declares is defined with
/// exactly this wasm type, otherwise its load fails with `WASMCELL_ERR_LINK`.
///
/// Cost: signatures with at most one result and either up to two scalar
/// parameters (`"(i)i"`, `"(iF)"`, `"()F"`...) or up to four `i` (`*~`
/// counting as two: `"(*~)i"`, `"(*~*~)"`) take wasmer's typed call path;
/// any other signature works the same but takes wasmer's slower dynamic
/// path (`docs/benchmarks.md` has both measured).
///
/// Ownership: on success the runtime owns `user_data` and calls
/// `free_fn(user_data)` (if not NULL) exactly once, when the runtime is
/// freed. On failure nothing is kept and `free_fn` is not called.
/// `module`, `name` and `signature` are copied.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (NULL or empty
/// strings, NULL `fn`, bad signature, or `module.name` already defined; the
/// message says which); `WASMCELL_ERR_INVALID_HANDLE`.
///
/// Thread safety: any thread. The callback may be invoked concurrently from
/// every thread that polls a program of this runtime.
///
/// # Safety
///
/// `rt`: any value (handles are validated, never dereferenced).
/// `module`: NULL or a NUL-terminated string, read during the call only.
/// `name`: NULL or a NUL-terminated string, read during the call only.
/// `signature`: NULL or a NUL-terminated string, read during the call only.
/// `fn`: NULL or a function of that type, callable while registered.
/// `user_data`: any value, passed back to the callbacks, never dereferenced.
/// `free_fn`: NULL or a function of that type, callable while registered.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_runtime_define(
    rt: *mut wasmcell_runtime,
    module: *const c_char,
    name: *const c_char,
    signature: *const c_char,
    r#fn: wasmcell_host_fn,
    user_data: *mut c_void,
    free_fn: wasmcell_free_fn,
) -> wasmcell_status {
    with_runtime(rt, |entry| {
        let module = borrow_str(module, "module")?;
        let name = borrow_str(name, "name")?;
        let signature_text = borrow_str(signature, "signature")?;
        let callback = r#fn.ok_or_else(|| invalid_argument("fn is NULL"))?;
        let signature = Signature::parse(signature_text)?;
        let function = Arc::new(CHostFunction {
            callback,
            user_data,
            free: free_fn,
            owns_user_data: AtomicBool::new(false),
            results: signature.results().to_vec(),
        });
        entry
            .runtime
            .define_arc(module, name, signature_text, function.clone())?;
        // Only a successful definition takes ownership of user_data.
        function.owns_user_data.store(true, Ordering::Release);
        Ok(())
    })
}

/// Writes the handle of the program whose guest made this call to `*out`
/// (the same handle the host got from load; do not unload it from here).
/// During the `init` of a load the handle does not exist yet: `*out` is NULL.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (`out` NULL),
/// `WASMCELL_ERR_INVALID_HANDLE` (call not active). Callback thread only.
///
/// # Safety
///
/// `call`: any value (handles are validated, never dereferenced).
/// `out`: NULL or a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_call_program(
    call: *mut wasmcell_call,
    out: *mut *mut wasmcell_program,
) -> wasmcell_status {
    guard(|| {
        let tag = with_call(call, |call| Ok(call.program_tag()))?;
        write_out(out, std::ptr::without_provenance_mut(tag as usize), "out")
    })
}

/// Copies the name of the calling program into `buf` (NUL-terminated).
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL`,
/// `WASMCELL_ERR_INVALID_ARGUMENT`, `WASMCELL_ERR_INVALID_HANDLE`.
/// Callback thread only.
///
/// # Safety
///
/// `call`: any value (handles are validated, never dereferenced).
/// `buf`: NULL or `cap` writable bytes.
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_call_program_name(
    call: *mut wasmcell_call,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wasmcell_status {
    guard(|| with_call(call, |call| copy_out(call.program_name(), buf, cap, len)))
}

/// Gives the calling program's whole linear memory: `*data` (NULL and
/// `*len == 0` if it exports no memory named "memory") and `*len` bytes.
/// Valid only until the callback returns. Reading and writing inside
/// `[data, data + len)` is safe; anything outside is undefined behaviour.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (NULL out-pointer),
/// `WASMCELL_ERR_INVALID_HANDLE`. Callback thread only.
///
/// # Safety
///
/// `call`: any value (handles are validated, never dereferenced).
/// `data`: NULL or a writable pointer.
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_call_memory(
    call: *mut wasmcell_call,
    data: *mut *mut u8,
    len: *mut usize,
) -> wasmcell_status {
    guard(|| {
        if data.is_null() || len.is_null() {
            return Err(invalid_argument("data and len must not be NULL"));
        }
        let (ptr, size) = with_call(call, |call| {
            let memory = call.memory();
            let ptr = if memory.is_empty() {
                std::ptr::null_mut()
            } else {
                memory.as_mut_ptr()
            };
            Ok((ptr, memory.len()))
        })?;
        write_out(data, ptr, "data")?;
        write_out(len, size, "len")
    })
}

/// Writes 1 to `*flag` when this call comes from a shadow poll
/// (`wasmcell_reload_shadow_poll`), else 0. In a shadow poll the new version
/// of a program runs beside the old one: answer its reads, but do not
/// actuate anything.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (`flag` NULL),
/// `WASMCELL_ERR_INVALID_HANDLE`. Callback thread only.
///
/// # Safety
///
/// `call`: any value (handles are validated, never dereferenced).
/// `flag`: NULL or a writable `i32`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_call_is_shadow(
    call: *mut wasmcell_call,
    flag: *mut i32,
) -> wasmcell_status {
    guard(|| {
        let shadow = with_call(call, |call| Ok(call.is_shadow()))?;
        write_out(flag, i32::from(shadow), "flag")
    })
}

/// Attaches a message (copied) to the error code the callback is about to
/// return; it becomes part of the program's fault message. Ignored if the
/// callback then returns 0.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (NULL or not UTF-8),
/// `WASMCELL_ERR_INVALID_HANDLE`. Callback thread only.
///
/// # Safety
///
/// `call`: any value (handles are validated, never dereferenced).
/// `message`: NULL or a NUL-terminated string, read during the call only.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_call_set_error(
    call: *mut wasmcell_call,
    message: *const c_char,
) -> wasmcell_status {
    guard(|| {
        let message = borrow_str(message, "message")?;
        with_call(call, |call| {
            call.set_error_message(message);
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_handles_are_odd_distinct_and_never_reused_across_blocks() {
        let first = next_call_id();
        let second = next_call_id();
        assert_eq!(first % 2, 1);
        assert_eq!(second, first + 2);
        assert!(first >> CALL_ID_BLOCK_BITS >= 0x5ca1);
        // The last handle of a block: the next one comes from a new block,
        // above every block given out so far.
        let block = first >> CALL_ID_BLOCK_BITS;
        let last = (block << CALL_ID_BLOCK_BITS) | ((1 << CALL_ID_BLOCK_BITS) - 1);
        NEXT_CALL_ID.with(|next| next.set(last));
        assert_eq!(next_call_id(), last);
        let fresh = next_call_id();
        assert!(
            fresh >> CALL_ID_BLOCK_BITS > block,
            "{fresh:#x} after {last:#x}"
        );
        assert_eq!(fresh & ((1 << CALL_ID_BLOCK_BITS) - 1), 1);
        // Another thread gets a block of its own.
        let other = std::thread::spawn(next_call_id).join().unwrap();
        assert_ne!(other >> CALL_ID_BLOCK_BITS, fresh >> CALL_ID_BLOCK_BITS);
    }
}
