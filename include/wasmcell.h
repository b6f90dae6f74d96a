/**
 * wasmcell: load, poll, hot-swap and unload sandboxed WebAssembly programs
 * from a machine's control loop.
 *
 * Conventions (they hold for every function below):
 *
 * - Every function except wasmcell_status_str(), wasmcell_version() and
 *   wasmcell_version_number() returns a wasmcell_status: WASMCELL_OK (0) or a
 *   negative WASMCELL_ERR_* code; results go through out-pointers.
 *   wasmcell_status_str() names a status. No function aborts or unwinds into
 *   the caller; a caught internal panic is WASMCELL_ERR_INTERNAL and the
 *   process stays usable.
 * - Handles (wasmcell_runtime *, wasmcell_program *) are opaque and never
 *   dereferenced by wasmcell: they are validated against a generation-checked
 *   table, so NULL, stale (freed or unloaded), double-freed, wrong-kind
 *   handles and programs of a freed runtime give WASMCELL_ERR_INVALID_HANDLE.
 * - Error messages, one rule: every call that fails records its message for
 *   the calling thread (wasmcell_last_error()) and on the handle it was given
 *   when that handle is live: a program (wasmcell_program_error()) or a
 *   runtime (wasmcell_runtime_error()). Calls on a prepared reload
 *   (wasmcell_reload_*) and the callback accessors (wasmcell_call_*) record
 *   per thread only. The three error getters and
 *   wasmcell_program_fault_message() never record their own failures. A
 *   program's fault has its own message (wasmcell_program_fault_message()),
 *   kept while the program is FAULTED. Output strings use caller-allocated
 *   buffers:
 *   (buf, cap, &len); len receives the full length without the NUL, and a
 *   too-small buffer gives WASMCELL_ERR_BUFFER_TOO_SMALL with a truncated,
 *   NUL-terminated prefix.
 * - Input strings are NUL-terminated UTF-8 and are copied; input byte ranges
 *   are only read during the call.
 * - Threading: a runtime and its programs may be used from any thread, and
 *   consecutive calls may come from different threads (LabVIEW). Calls on one
 *   program are serialised; different programs poll in parallel on different
 *   threads. A host callback must not call poll/reset/reload/unload on its own
 *   program (WASMCELL_ERR_BUSY, never a deadlock).
 * - Signals: wasmer installs SIGSEGV, SIGBUS, SIGILL and SIGFPE handlers the
 *   first time guest code runs and chains to handlers installed before it. A
 *   host that installs its own handlers must do so before creating the first
 *   runtime, and must not reset them afterwards.
 * - Windows (wasmcell.dll, 64-bit Windows 10 or later: it imports ProcessPrng
 *   from bcryptprimitives.dll): the C convention of x64; guest traps are
 *   caught with a vectored exception handler instead of signal handlers; the
 *   engine is wasmer 6.1.0, so the stack size is per process rather than per
 *   program and compile priority is not applied (README, "Windows / LabVIEW").
 * - Limits: every poll runs under a finite instruction budget; memory, stack
 *   and module size are bounded. A faulting program is stopped with a status;
 *   the host and the other programs keep running.
 */


#ifndef WASMCELL_H
#define WASMCELL_H

/* Generated from src/ffi/ by cbindgen (build.rs). Do not edit: change the Rust doc comments. */

#include <stddef.h>
#include <stdint.h>

/**
 * Fault outputs: the last good outputs stay published (the default).
 */
#define WASMCELL_FAULT_OUTPUTS_HOLD 0

/**
 * Fault outputs: on a fault, the output area's initial values from the
 * module are published, with the faulting poll's number.
 */
#define WASMCELL_FAULT_OUTPUTS_DEFAULTS 1

/**
 * Residency mode: linear memory is mapped on first access (default).
 */
#define WASMCELL_MEMORY_ON_DEMAND 0

/**
 * Residency mode: every page of a new instance's memory is touched at load,
 * reset and reload, so the control loop takes no page faults on it.
 */
#define WASMCELL_MEMORY_PREFAULT 1

/**
 * Residency mode: prefault, then lock the pages in RAM (`mlock`).
 */
#define WASMCELL_MEMORY_LOCK 2

/**
 * Major version: changes when the C API or ABI changes incompatibly.
 */
#define WASMCELL_VERSION_MAJOR 0

/**
 * Minor version: new functions, compatible.
 */
#define WASMCELL_VERSION_MINOR 2

/**
 * Patch version: fixes only.
 */
#define WASMCELL_VERSION_PATCH 0

/**
 * `MAJOR * 10000 + MINOR * 100 + PATCH` of the header you compiled against;
 * compare with `wasmcell_version_number()` to detect a mismatched library.
 */
#define WASMCELL_VERSION_NUMBER (((WASMCELL_VERSION_MAJOR * 10000) + (WASMCELL_VERSION_MINOR * 100)) + WASMCELL_VERSION_PATCH)

/**
 * The call a host callback is serving: gives access to the calling program
 * and its memory. Valid only during the callback, on the callback's thread;
 * passing it to wasmcell after the callback returned gives
 * `WASMCELL_ERR_INVALID_HANDLE`, never undefined behaviour.
 */
typedef struct wasmcell_call wasmcell_call;

/**
 * An opaque program handle: one loaded guest. Created by
 * `wasmcell_program_load`, released by `wasmcell_program_unload` or by
 * freeing its runtime.
 */
typedef struct wasmcell_program wasmcell_program;

/**
 * An opaque handle to a prepared hot swap: a new version of a program,
 * compiled and instantiated, waiting for `wasmcell_program_commit_reload`.
 */
typedef struct wasmcell_reload wasmcell_reload;

/**
 * An opaque runtime handle: host functions, log sink, clock and default
 * limits shared by the programs loaded into it. Created by
 * `wasmcell_runtime_new`, freed by `wasmcell_runtime_free`.
 */
typedef struct wasmcell_runtime wasmcell_runtime;

/**
 * Result of every wasmcell function: `WASMCELL_OK` (0) or a negative
 * `WASMCELL_ERR_*` code. Numeric values never change once released.
 */
typedef int32_t wasmcell_status;

/**
 * Counters of a runtime's compiled-module cache, from
 * `wasmcell_runtime_cache_stats`.
 */
typedef struct wasmcell_cache_stats {
  /**
   * Modules compiled by cranelift.
   */
  uint64_t compiles;
  /**
   * Loads, reloads and prepares served from memory.
   */
  uint64_t memory_hits;
  /**
   * Loads, reloads and prepares served from the cache directory.
   */
  uint64_t disk_hits;
  /**
   * Cache files that failed validation (corrupted, truncated, written by
   * another version or for another machine) and were recompiled.
   */
  uint64_t rejected_files;
} wasmcell_cache_stats;

/**
 * Returns the current time in nanoseconds; must never go backwards. Runs on
 * the polling thread while the guest is suspended; it must not unwind.
 */
typedef int64_t (*wasmcell_clock_fn)(void *user_data);

/**
 * A guest buffer handed to a host callback: `len` bytes at `ptr`, inside the
 * calling program's linear memory, bounds-checked by wasmcell. Valid (and
 * writable) only until the callback returns.
 */
typedef struct wasmcell_buf {
  uint8_t *ptr;
  size_t len;
} wasmcell_buf;

/**
 * One argument or result of a host callback. The member to use is given by
 * the signature character at the same position: `i` -> `i32`, `I` -> `i64`,
 * `f` -> `f32`, `F` -> `f64`, `*~` -> `buf` (arguments only).
 */
typedef union wasmcell_val {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
  struct wasmcell_buf buf;
} wasmcell_val;

/**
 * A host callback. `args` holds `nargs` values and `results` `nresults`
 * zero-initialised slots, typed by the signature given at definition.
 * Return 0 to continue the guest; any other value traps the guest with
 * `WASMCELL_ERR_HOST` and faults the program (its error message names the
 * function and the code; add detail with `wasmcell_call_set_error`).
 *
 * Runs on the thread that polls the program, while the program is
 * suspended. It may poll *other* programs, but calling poll, reset, reload or
 * unload on its own program (or freeing its runtime) returns
 * `WASMCELL_ERR_BUSY`. It must not unwind (no C++ exceptions, no longjmp).
 */
typedef int32_t (*wasmcell_host_fn)(void *user_data,
                                    struct wasmcell_call *call,
                                    const union wasmcell_val *args,
                                    size_t nargs,
                                    union wasmcell_val *results,
                                    size_t nresults);

/**
 * Releases a callback's `user_data` when the function is dropped (when its
 * runtime is freed).
 */
typedef void (*wasmcell_free_fn)(void *user_data);

/**
 * Log levels passed to a `wasmcell_log_fn`.
 */
typedef int32_t wasmcell_log_level;

/**
 * Receives guest output. `program` is the program's NUL-terminated name;
 * `message` is `len` bytes, not NUL-terminated (print output is UTF-8,
 * log lines are whatever the guest wrote). Both are valid only during the
 * call. Runs on the polling thread while the guest is suspended; it must not
 * unwind.
 */
typedef void (*wasmcell_log_fn)(void *user_data,
                                const char *program,
                                wasmcell_log_level level,
                                const char *message,
                                size_t len);

/**
 * Areas of the process image.
 */
typedef int32_t wasmcell_area;

/**
 * Signal types (the values a guest writes in its descriptor).
 */
typedef int32_t wasmcell_signal_type;

/**
 * Program states reported by `wasmcell_program_state`.
 */
typedef int32_t wasmcell_state;

/**
 * Fault kinds reported by `wasmcell_program_fault_kind`.
 */
typedef int32_t wasmcell_fault;

/**
 * Counters of a program since it was loaded, from `wasmcell_program_stats`.
 * Durations are wall-clock nanoseconds of the guest call.
 */
typedef struct wasmcell_stats {
  /**
   * Polls run (successful and faulting; not those refused because faulted).
   */
  uint64_t polls;
  /**
   * Polls that faulted.
   */
  uint64_t faults;
  /**
   * Duration of the last poll (process image copies included).
   */
  uint64_t last_poll_ns;
  /**
   * Longest poll since load: the figure to hold against the cycle time.
   */
  uint64_t max_poll_ns;
  /**
   * Mean duration over all polls run.
   */
  uint64_t mean_poll_ns;
  /**
   * Instruction budget used by the last poll (equal to the budget when it
   * ran out).
   */
  uint64_t last_fuel_used;
  /**
   * Polls that ran longer than the watchdog time
   * (`wasmcell_program_set_watchdog`); 0 without a watchdog.
   */
  uint64_t overruns;
} wasmcell_stats;

/**
 * Output of the built-in `env.print`, passed on byte for byte (the guest
 * writes its own newlines).
 */
#define WASMCELL_LOG_PRINT 0

#define WASMCELL_LOG_ERROR 1

#define WASMCELL_LOG_WARN 2

#define WASMCELL_LOG_INFO 3

#define WASMCELL_LOG_DEBUG 4

#define WASMCELL_LOG_TRACE 5

/**
 * Host -> program: copied into the guest before each poll.
 */
#define WASMCELL_AREA_INPUT 0

/**
 * Program -> host: published after each poll that succeeded.
 */
#define WASMCELL_AREA_OUTPUT 1

/**
 * Program state that survives reset and reload.
 */
#define WASMCELL_AREA_RETAIN 2

#define WASMCELL_SIGNAL_BOOL 0

#define WASMCELL_SIGNAL_I8 1

#define WASMCELL_SIGNAL_U8 2

#define WASMCELL_SIGNAL_I16 3

#define WASMCELL_SIGNAL_U16 4

#define WASMCELL_SIGNAL_I32 5

#define WASMCELL_SIGNAL_U32 6

#define WASMCELL_SIGNAL_I64 7

#define WASMCELL_SIGNAL_U64 8

#define WASMCELL_SIGNAL_F32 9

#define WASMCELL_SIGNAL_F64 10

/**
 * Loaded and ready to poll.
 */
#define WASMCELL_STATE_READY 1

/**
 * A poll faulted; polls return `WASMCELL_ERR_FAULTED` until
 * `wasmcell_program_reset` or `wasmcell_program_reload`.
 */
#define WASMCELL_STATE_FAULTED 2

/**
 * Not faulted.
 */
#define WASMCELL_FAULT_NONE 0

/**
 * `unreachable` executed (a Rust guest's panic compiles to this).
 */
#define WASMCELL_FAULT_UNREACHABLE 1

/**
 * A load or store outside linear memory, or a buffer argument outside it.
 */
#define WASMCELL_FAULT_MEMORY_OUT_OF_BOUNDS 2

#define WASMCELL_FAULT_INTEGER_DIVIDE_BY_ZERO 3

#define WASMCELL_FAULT_INTEGER_OVERFLOW 4

/**
 * Float to integer conversion of NaN or an out-of-range value.
 */
#define WASMCELL_FAULT_BAD_CONVERSION_TO_INTEGER 5

/**
 * The wasm stack limit was reached (runaway recursion).
 */
#define WASMCELL_FAULT_STACK_OVERFLOW 6

/**
 * `call_indirect` with a mismatched signature.
 */
#define WASMCELL_FAULT_INDIRECT_CALL_MISMATCH 7

/**
 * `call_indirect` to a null or out-of-range table entry.
 */
#define WASMCELL_FAULT_INDIRECT_CALL_NULL 8

/**
 * The instruction budget of the poll ran out (`WASMCELL_ERR_BUDGET`).
 */
#define WASMCELL_FAULT_BUDGET_EXHAUSTED 9

/**
 * A host callback returned non-zero (`WASMCELL_ERR_HOST`).
 */
#define WASMCELL_FAULT_HOST_ERROR 10

/**
 * `poll` returned non-zero (`WASMCELL_ERR_GUEST_FAULT`).
 */
#define WASMCELL_FAULT_GUEST_REPORTED 11

/**
 * Any other trap, or a failed reset.
 */
#define WASMCELL_FAULT_OTHER 12

/**
 * The watchdog stopped the poll, or counted too many overruns in a row.
 */
#define WASMCELL_FAULT_WATCHDOG 13

/**
 * Success.
 */
#define WASMCELL_OK 0

/**
 * An argument is NULL where it must not be, out of range or malformed
 * (bad signature string, empty name, zero budget...).
 */
#define WASMCELL_ERR_INVALID_ARGUMENT -1

/**
 * The handle is NULL, stale (freed or unloaded), of the wrong kind, or
 * belongs to a runtime that was freed.
 */
#define WASMCELL_ERR_INVALID_HANDLE -2

/**
 * The bytes are neither a valid WebAssembly binary nor valid WAT text.
 */
#define WASMCELL_ERR_COMPILE -3

/**
 * The module cannot be linked: a missing import (named in the message), an
 * import whose type differs from the host's definition, a non-function
 * import, or no `poll` export of type `() -> ()` / `() -> i32`.
 */
#define WASMCELL_ERR_LINK -4

/**
 * Instantiation failed: the start function or the `init` export trapped.
 */
#define WASMCELL_ERR_INSTANTIATE -5

/**
 * The guest trapped (unreachable, out-of-bounds access, divide by zero,
 * stack overflow...). The program is now FAULTED.
 */
#define WASMCELL_ERR_TRAP -6

/**
 * The guest used up its instruction budget for this poll. The program is
 * now FAULTED.
 */
#define WASMCELL_ERR_BUDGET -7

/**
 * A host callback returned non-zero (or raised), which trapped the guest.
 * The program is now FAULTED; its error message names the callback and code.
 */
#define WASMCELL_ERR_HOST -8

/**
 * The program is FAULTED; reset or reload it before polling again.
 */
#define WASMCELL_ERR_FAULTED -9

/**
 * A host callback tried to poll, reset, reload or unload the program it was
 * called from (or free its runtime). Nothing was done.
 */
#define WASMCELL_ERR_BUSY -10

/**
 * The caller's buffer is too small; the required length was written to the
 * length out-pointer and the buffer holds a NUL-terminated prefix.
 */
#define WASMCELL_ERR_BUFFER_TOO_SMALL -11

/**
 * Something looked up does not exist: a file (`wasmcell_program_load_file`),
 * a signal name or index (`wasmcell_program_signal_lookup`/`_info`), a
 * signal id from an older version of the program.
 */
#define WASMCELL_ERR_NOT_FOUND -12

/**
 * A bug in wasmcell (a caught panic). The process is still safe to use.
 */
#define WASMCELL_ERR_INTERNAL -13

/**
 * `poll` returned a non-zero i32: the guest reported its own fault. The
 * program is now FAULTED.
 */
#define WASMCELL_ERR_GUEST_FAULT -14

/**
 * A limit was exceeded: module size, or a module whose initial memory is
 * larger than the program's memory limit.
 */
#define WASMCELL_ERR_LIMIT -15

/**
 * Reading a file failed for a reason other than its absence.
 */
#define WASMCELL_ERR_IO -16

/**
 * The program's watchdog stopped a poll that ran longer than
 * `time_ns * sensitivity`, or counted `sensitivity` overruns in a row
 * (`wasmcell_program_set_watchdog`); the program is faulted.
 */
#define WASMCELL_ERR_WATCHDOG -17

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/* ---- Status codes and error messages ---- */

/**
 * A static, NUL-terminated description of a status code ("unknown status"
 * for values wasmcell never returns). Never NULL; the string must not be freed.
 *
 * Thread safety: any thread, any time.
 *
 * # Safety
 *
 * Any argument values are safe (no pointers).
 */
const char *wasmcell_status_str(wasmcell_status status);

/**
 * Copies the message of the last failed wasmcell call *on this thread* into
 * `buf` (NUL-terminated) and its length (without the NUL) into `*len` if
 * `len` is not NULL. Successful calls do not clear it. Use it for calls that
 * have no program to ask (load, define); prefer `wasmcell_program_error` and
 * `wasmcell_runtime_error` where a handle exists, since some hosts
 * (LabVIEW) may run consecutive calls on different threads.
 *
 * `buf` may be NULL only with `cap == 0` (to query the length).
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_BUFFER_TOO_SMALL` (a truncated,
 * NUL-terminated prefix is written when `cap > 0`); `WASMCELL_ERR_INVALID_ARGUMENT`
 * (`buf` NULL with `cap > 0`). Reading never changes the last error.
 *
 * Thread safety: any thread; reads that thread's own last error.
 *
 * # Safety
 *
 * `buf`: NULL or `cap` writable bytes.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_last_error(char *buf,
                                    size_t cap,
                                    size_t *len);

/* ---- Version ---- */

/**
 * The version of the loaded library as a static NUL-terminated string
 * ("0.2.0"). Never NULL; do not free. Any thread.
 *
 * # Safety
 *
 * Any argument values are safe (no pointers).
 */
const char *wasmcell_version(void);

/**
 * The version of the loaded library as `MAJOR * 10000 + MINOR * 100 + PATCH`.
 * Any thread.
 *
 * # Safety
 *
 * Any argument values are safe (no pointers).
 */
uint32_t wasmcell_version_number(void);

/* ---- Runtime: create, configure, free ---- */

/**
 * Creates a runtime with safe default limits (finite instruction budget per
 * poll, 64 MiB memory per program, 16 MiB modules, 512 KiB wasm stack).
 *
 * Ownership: on success `*out` is a new handle the caller owns and must
 * release with `wasmcell_runtime_free`. On failure `*out` is unchanged.
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (`out` NULL),
 * `WASMCELL_ERR_LIMIT` (4 194 304 runtime, program and reload handles are
 * in use), `WASMCELL_ERR_INTERNAL`.
 *
 * The first runtime of a process also runs the engine's one-time
 * initialisation (once per process), so that the first poll of the
 * first program is as fast as any first poll: create runtimes before the
 * control loop starts. This is when wasmer installs its SIGSEGV, SIGBUS,
 * SIGILL and SIGFPE handlers; it chains to handlers installed earlier, so a
 * host that installs its own must do so before creating the first runtime.
 *
 * Thread safety: any thread.
 *
 * # Safety
 *
 * `out`: NULL or a writable pointer.
 */
wasmcell_status wasmcell_runtime_new(struct wasmcell_runtime **out);

/**
 * Frees a runtime: unloads all its programs (waiting for polls running on
 * other threads to finish), then releases its host functions, running each
 * one's `free_fn` on this thread before returning. All program handles of
 * the runtime become invalid.
 *
 * Polls are looked up without a lock, so the free also waits for the polls
 * of *other* runtimes' programs running at that moment to return — at most
 * one second. Past that (a polling thread descheduled for that long, or a
 * host callback blocked on something this thread holds), it returns
 * anyway and the remaining `free_fn` calls run at a later load, unload or
 * runtime free, on that call's thread. Called from inside a host callback
 * or log sink of another runtime's program, it does not wait at all (the
 * same deferral).
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_HANDLE` (NULL, stale, already
 * freed, or not a runtime); `WASMCELL_ERR_BUSY` when called from inside a host
 * callback of one of its programs (nothing is freed).
 *
 * Thread safety: any thread. Do not free a runtime while another thread is
 * still loading into it; its load then fails with `WASMCELL_ERR_INVALID_HANDLE`.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_free(struct wasmcell_runtime *rt);

/**
 * Copies the message of the last failed call made on this runtime (define,
 * load, set_*) into `buf`, like `wasmcell_last_error` but independent of the
 * calling thread. Empty if none failed.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL` (truncated prefix
 * written, full length in `*len`), `WASMCELL_ERR_INVALID_ARGUMENT`,
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 * `buf`: NULL or `cap` writable bytes.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_runtime_error(struct wasmcell_runtime *rt,
                                       char *buf,
                                       size_t cap,
                                       size_t *len);

/**
 * Sets the instruction budget per poll that programs loaded from now on
 * start with (each can change its own with `wasmcell_program_set_fuel`).
 * The budget is an upper bound of wasm instructions a poll may execute.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (0),
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_default_fuel(struct wasmcell_runtime *rt,
                                                  uint64_t per_poll);

/**
 * Sets the maximum linear memory, in bytes, of programs loaded from now on
 * (rounded down to 64 KiB pages). `memory.grow` past it returns -1 inside the
 * guest; a module whose initial memory exceeds it fails to load with
 * `WASMCELL_ERR_LIMIT`.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_default_memory_limit(struct wasmcell_runtime *rt,
                                                          uint64_t bytes);

/**
 * Chooses how programs loaded from now on are bounded. `deadline_ns` 0 (the
 * default): by the instruction budget (`wasmcell_runtime_set_default_fuel`).
 * Otherwise **deadline mode**: the programs are compiled without an
 * instruction count, and every call into the guest (poll, `init`, the
 * start function, a shadow poll) is stopped by the watchdog once it has run
 * `deadline_ns` (stopped within a quarter of it more, at least 50 us later):
 * the program faults with `WASMCELL_ERR_WATCHDOG`. Guest loops then cost a
 * load and a compare per iteration instead of the budget's arithmetic.
 *
 * In deadline mode a program's watchdog starts at `deadline_ns` with
 * sensitivity 1; `wasmcell_program_set_watchdog` can change it but not turn
 * it off, and `wasmcell_program_set_fuel` is refused (both
 * `WASMCELL_ERR_INVALID_ARGUMENT`); `wasmcell_stats.last_fuel_used` is 0.
 * A program keeps the mode it was loaded in (its reloads and resets too).
 * The watchdog cannot interrupt a host callback (the call stops when the
 * callback returns) nor one bulk memory or table operation (bounded by the
 * memory and table limits); an `init` or start function it stops makes
 * the load, reset or reload fail with `WASMCELL_ERR_INSTANTIATE`.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_default_deadline(struct wasmcell_runtime *rt,
                                                      uint64_t deadline_ns);

/**
 * Sets the largest module (binary or WAT bytes) that load and reload
 * accept; larger ones fail with `WASMCELL_ERR_LIMIT` before any parsing.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (0),
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_max_module_size(struct wasmcell_runtime *rt,
                                                     uint64_t bytes);

/**
 * Sets the wasm stack size, in bytes, of programs loaded from now on
 * (clamped to 8 KiB .. 100 MiB). Runaway recursion faults the program with
 * `WASMCELL_ERR_TRAP` (stack overflow) when it is used up.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_default_stack_size(struct wasmcell_runtime *rt,
                                                        uint64_t bytes);

/**
 * Sets the maximum size of each table (elements) of programs loaded from now
 * on: initial sizes above it fail to load with `WASMCELL_ERR_LIMIT`, and
 * `table.grow` past it returns -1 in the guest, allocating nothing. Each
 * element takes 8 bytes of host memory and a module has at most 4 tables.
 * Default: 100 000 elements.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_default_table_limit(struct wasmcell_runtime *rt,
                                                         uint32_t max_elements);

/**
 * Sets the deepest nesting of blocks, loops and ifs a function of a module
 * loaded (or reloaded) from now on may have; a deeper module fails with
 * `WASMCELL_ERR_LIMIT` before it is compiled, which keeps compile time
 * linear in the module's size. Default: 2 000.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_nesting_limit(struct wasmcell_runtime *rt,
                                                   uint32_t max_depth);

/**
 * Sets how many threads compile the modules of loads, reloads, prepares and
 * cache misses from now on (0: the default, one less than the machine's
 * cores, at least 1). A compile then never takes every core: the control
 * thread keeps one. More threads finish a large module sooner; fewer
 * disturb the polling threads less.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_compile_threads(struct wasmcell_runtime *rt,
                                                     uint32_t threads);

/**
 * Chooses whether compiles run at background priority (`background` != 0,
 * the default) or at the calling thread's priority (0). In the background,
 * on Linux, the compile threads run at nice 10, so a polling thread at
 * normal (or real-time) priority always wins the CPU; elsewhere the setting
 * has no effect. The calling thread waits for the compile either way.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_compile_priority(struct wasmcell_runtime *rt,
                                                      int32_t background);

/**
 * Chooses what happens to the linear memory (its initial size, which holds
 * the process image) of programs loaded from now on, at load, reset and
 * reload: `WASMCELL_MEMORY_ON_DEMAND` (default: pages mapped on first
 * access, possibly inside a poll), `WASMCELL_MEMORY_PREFAULT` (all touched
 * up front at load, in time proportional to its size; the memory is
 * resident), or
 * `WASMCELL_MEMORY_LOCK` (prefault and `mlock`: needs `RLIMIT_MEMLOCK` for
 * the whole memory; when refused, a warning goes to the program's log and
 * the pages stay prefaulted). Memory grown later by `memory.grow` is not
 * covered: size the module's initial memory for what the loop uses.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (unknown mode),
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_memory_residency(struct wasmcell_runtime *rt,
                                                      int32_t mode);

/**
 * Seeds the WASI `random_get` generators of programs instantiated from now
 * on (load, reset, reload): each program's stream depends on the seed and
 * its name, so a test or simulation replays exactly. Without a seed (the
 * default) each program is seeded from the operating system. The generator
 * is statistically sound but not cryptographic.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_random_seed(struct wasmcell_runtime *rt,
                                                 uint64_t seed);

/**
 * Sets the shape limits checked before compiling modules loaded (or
 * reloaded) from now on: the number of functions (imported and defined), the
 * number of imports, and the size of each table. A module over any of them
 * fails with `WASMCELL_ERR_LIMIT` without being compiled. The table limit
 * also holds at run time: `table.grow` past it returns -1 in the guest and
 * allocates nothing (a module has at most 4 tables of 8 bytes per element).
 * Defaults: 50 000 functions, 1 000 imports, 100 000 table elements.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_runtime_set_module_limits(struct wasmcell_runtime *rt,
                                                   uint32_t max_functions,
                                                   uint32_t max_imports,
                                                   uint32_t max_table_elements);

/* ---- Programs: load, poll, reset, unload, inspect ---- */

/**
 * Loads a program: `len` bytes of binary WebAssembly or WAT text. Compiles
 * it, links its imports (host functions defined so far and the built-ins),
 * instantiates it, runs its `init` export if any, and writes the new handle
 * to `*out`. `name` (copied) identifies the program in messages and logs.
 *
 * Ownership: `bytes` is only read during the call. On success the caller
 * owns `*out` until `wasmcell_program_unload` or `wasmcell_runtime_free`.
 * On failure `*out` is unchanged and the message is available from
 * `wasmcell_last_error` and `wasmcell_runtime_error`.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (NULL pointers,
 * empty name); `WASMCELL_ERR_INVALID_HANDLE`; `WASMCELL_ERR_LIMIT` (module
 * too large, initial memory above the limit); `WASMCELL_ERR_COMPILE`;
 * `WASMCELL_ERR_LINK`; `WASMCELL_ERR_INSTANTIATE`.
 *
 * Thread safety: any thread; compiling takes far longer than a poll, so keep loads out
 * of a real-time thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 * `name`: NULL or a NUL-terminated string, read during the call only.
 * `bytes`: `len` readable bytes (NULL when it is 0).
 * `out`: NULL or a writable pointer.
 */
wasmcell_status wasmcell_program_load(struct wasmcell_runtime *rt,
                                      const char *name,
                                      const uint8_t *bytes,
                                      size_t len,
                                      struct wasmcell_program **out);

/**
 * Like `wasmcell_program_load`, reading the module from the file at `path`
 * (a `.wasm` binary or `.wat` text).
 *
 * Returns: as `wasmcell_program_load`, plus `WASMCELL_ERR_NOT_FOUND` (no
 * such file) and `WASMCELL_ERR_IO` (unreadable). Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 * `name`: NULL or a NUL-terminated string, read during the call only.
 * `path`: NULL or a NUL-terminated string, read during the call only.
 * `out`: NULL or a writable pointer.
 */
wasmcell_status wasmcell_program_load_file(struct wasmcell_runtime *rt,
                                           const char *name,
                                           const char *path,
                                           struct wasmcell_program **out);

/**
 * Runs one cycle of the program: calls its `poll` export under the
 * instruction budget.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_TRAP`, `WASMCELL_ERR_BUDGET`,
 * `WASMCELL_ERR_HOST`, `WASMCELL_ERR_GUEST_FAULT`, `WASMCELL_ERR_WATCHDOG`
 * (stopped or overrun: `wasmcell_program_set_watchdog`) (the program is now
 * FAULTED; `wasmcell_program_error` says why, `wasmcell_program_fault_kind`
 * classifies it); `WASMCELL_ERR_FAULTED` (it was already faulted);
 * `WASMCELL_ERR_BUSY` (called from one of its own callbacks);
 * `WASMCELL_ERR_INVALID_HANDLE`. Other programs are never affected.
 *
 * Thread safety: any thread. Calls on one program are serialised (a second
 * thread waits for the running poll); different programs poll in parallel.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_poll(struct wasmcell_program *p);

/**
 * Replaces the program's instance with a fresh one of the same module
 * (memory and globals back to their initial values, `init` run again),
 * clearing a fault.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INSTANTIATE` or `WASMCELL_ERR_LIMIT`
 * (the program stays FAULTED with the reason); `WASMCELL_ERR_BUSY`;
 * `WASMCELL_ERR_INVALID_HANDLE`. Thread safety: any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_reset(struct wasmcell_program *p);

/**
 * Unloads the program and invalidates its handle (waiting for a poll running
 * on another thread to finish).
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_BUSY` (from its own callback; nothing
 * happens); `WASMCELL_ERR_INVALID_HANDLE` (NULL, stale, already unloaded,
 * runtime freed). Thread safety: any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_unload(struct wasmcell_program *p);

/**
 * Writes the program's state (`WASMCELL_STATE_*`) to `*state`. Does not wait
 * for a running poll.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `state`: NULL or a writable `wasmcell_state`.
 */
wasmcell_status wasmcell_program_state(struct wasmcell_program *p,
                                       wasmcell_state *state);

/**
 * Copies the message of the last call on this program that failed into
 * `buf` (NUL-terminated), whichever thread made it: a poll that faulted
 * leaves the fault's message, a rejected argument its own. Cleared when a
 * reset, reload or commit succeeds; "" if nothing failed. This getter and
 * `wasmcell_program_fault_message` do not record their own failures.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_BUFFER_TOO_SMALL` (a truncated,
 * NUL-terminated prefix is written if `cap > 0`; the full length is in
 * `*len`); `WASMCELL_ERR_INVALID_ARGUMENT` (`buf` NULL with `cap > 0`);
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread; waits for no poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `buf`: NULL or `cap` writable bytes.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_program_error(struct wasmcell_program *p,
                                       char *buf,
                                       size_t cap,
                                       size_t *len);

/**
 * Copies the message of the program's fault into `buf` (NUL-terminated)
 * while it is FAULTED: it names the trap and the wasm function, or the
 * callback and its code, and is kept until a reset, reload or commit
 * succeeds, whatever other calls fail meanwhile. "" when it is not faulted.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_BUFFER_TOO_SMALL` (a truncated,
 * NUL-terminated prefix is written if `cap > 0`; the full length is in
 * `*len`); `WASMCELL_ERR_INVALID_ARGUMENT` (`buf` NULL with `cap > 0`);
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread; waits for no poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `buf`: NULL or `cap` writable bytes.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_program_fault_message(struct wasmcell_program *p,
                                               char *buf,
                                               size_t cap,
                                               size_t *len);

/**
 * Writes what faulted the program (`WASMCELL_FAULT_*`) to `*kind`;
 * `WASMCELL_FAULT_NONE` if it is not faulted.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `kind`: NULL or a writable `wasmcell_fault`.
 */
wasmcell_status wasmcell_program_fault_kind(struct wasmcell_program *p,
                                            wasmcell_fault *kind);

/**
 * Sets the program's instruction budget per poll (and for `init` on reset and
 * reload), from the next poll on. A poll that needs more fails with
 * `WASMCELL_ERR_BUDGET`. The budget is an upper bound of the wasm
 * instructions one poll executes.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (0, or the
 * program runs in deadline mode: `wasmcell_runtime_set_default_deadline`),
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread; does not wait for a running poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_set_fuel(struct wasmcell_program *p,
                                          uint64_t per_poll);

/**
 * Sets the program's watchdog, the way a PLC task's is set: a poll that runs
 * longer than `time_ns * sensitivity` is stopped while it runs (even in a
 * guest loop its instruction budget would still allow), and `sensitivity`
 * consecutive polls longer than `time_ns` fault the program as an overrun.
 * Both fault it with `WASMCELL_ERR_WATCHDOG` / `WASMCELL_FAULT_WATCHDOG`;
 * `wasmcell_stats.overruns` counts polls longer than `time_ns`.
 * `time_ns` 0 turns the watchdog off; `sensitivity` 0 counts as 1.
 *
 * How: one process-wide watchdog thread wakes every quarter of the
 * shortest limit (50 us .. 10 ms) and stops an overdue poll through its
 * budget counter, so the guest stops at its next loop header or function
 * entry. A poll that does not overrun pays two atomic stores. A host
 * callback that blocks cannot be interrupted: the poll stops when it
 * returns, and its time counts.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (`time_ns` 0 for a
 * program in deadline mode, whose watchdog cannot be turned off),
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread; applies from the next poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_set_watchdog(struct wasmcell_program *p,
                                              uint64_t time_ns,
                                              uint32_t sensitivity);

/**
 * Turns the timing of polls on (`on` != 0, the default) or off (0). The
 * duration counters of `wasmcell_stats` (`last_poll_ns`, `max_poll_ns`,
 * `mean_poll_ns`) come from it; a host that times its own control loop
 * turns it off and saves the clock reads of every poll, and those counters
 * then stop changing. A program with a watchdog is timed regardless.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread; applies
 * from the next poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_set_timing(struct wasmcell_program *p,
                                            int32_t on);

/**
 * Chooses what the published outputs do when the program faults (trap,
 * budget, watchdog, host error, guest-reported fault):
 * `WASMCELL_FAULT_OUTPUTS_HOLD` keeps the last good outputs published;
 * `WASMCELL_FAULT_OUTPUTS_DEFAULTS` publishes the output area as the module
 * initialised it (before `init`), numbered with the faulting poll, so an
 * output such as motor-on falls back to its safe default. Programs without
 * a process image are unaffected.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (unknown mode),
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_set_fault_outputs(struct wasmcell_program *p,
                                                   int32_t mode);

/**
 * Sets the maximum size (elements) of each of the program's tables, applied
 * when it is next reset or reloaded: `table.grow` past it returns -1 in the
 * guest; a version whose initial table exceeds it is refused with
 * `WASMCELL_ERR_LIMIT` (a reset then faults the program).
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_set_table_limit(struct wasmcell_program *p,
                                                 uint32_t max_elements);

/**
 * Sets the program's maximum linear memory in bytes, applied when it is next
 * reset or reloaded (a running instance keeps its current limit).
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_set_memory_limit(struct wasmcell_program *p,
                                                  uint64_t bytes);

/**
 * Copies the program's counters into `*stats`. Does not wait for a running poll.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `stats`: NULL or a writable `wasmcell_stats`.
 */
wasmcell_status wasmcell_program_stats(struct wasmcell_program *p,
                                       struct wasmcell_stats *stats);

/**
 * Copies the name the program was loaded with into `buf` (NUL-terminated).
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL`,
 * `WASMCELL_ERR_INVALID_ARGUMENT`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `buf`: NULL or `cap` writable bytes.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_program_name(struct wasmcell_program *p,
                                      char *buf,
                                      size_t cap,
                                      size_t *len);

/* ---- Host functions and what a callback may do ---- */

/**
 * Registers a host callback that guests import as `module`.`name`.
 *
 * `signature` is a short string: parameters in parentheses, then results.
 * `i` i32, `I` i64, `f` f32, `F` f64, and `*~` a guest (pointer, length)
 * pair that arrives as one bounds-checked `buf` argument. Example: the
 * original `print(msg, len) -> i32` is `"(*~)i"`; `"(i)F"` takes an i32 and
 * returns an f64; `"(ii)"` returns nothing.
 *
 * The function is visible to programs loaded (or reloaded, or reset) after
 * this call; host definitions take precedence over the built-in imports.
 * A module can be linked only if every import it declares is defined with
 * exactly this wasm type, otherwise its load fails with `WASMCELL_ERR_LINK`.
 *
 * Cost: signatures with at most one result and either up to two scalar
 * parameters (`"(i)i"`, `"(iF)"`, `"()F"`...) or up to four `i` (`*~`
 * counting as two: `"(*~)i"`, `"(*~*~)"`) take wasmer's typed call path;
 * any other signature works the same but takes wasmer's slower dynamic
 * path (`docs/benchmarks.md` has both measured).
 *
 * Ownership: on success the runtime owns `user_data` and calls
 * `free_fn(user_data)` (if not NULL) exactly once, when the runtime is
 * freed. On failure nothing is kept and `free_fn` is not called.
 * `module`, `name` and `signature` are copied.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (NULL or empty
 * strings, NULL `fn`, bad signature, or `module.name` already defined; the
 * message says which); `WASMCELL_ERR_INVALID_HANDLE`.
 *
 * Thread safety: any thread. The callback may be invoked concurrently from
 * every thread that polls a program of this runtime.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 * `module`: NULL or a NUL-terminated string, read during the call only.
 * `name`: NULL or a NUL-terminated string, read during the call only.
 * `signature`: NULL or a NUL-terminated string, read during the call only.
 * `fn`: NULL or a function of that type, callable while registered.
 * `user_data`: any value, passed back to the callbacks, never dereferenced.
 * `free_fn`: NULL or a function of that type, callable while registered.
 */
wasmcell_status wasmcell_runtime_define(struct wasmcell_runtime *rt,
                                        const char *module,
                                        const char *name,
                                        const char *signature,
                                        wasmcell_host_fn fn,
                                        void *user_data,
                                        wasmcell_free_fn free_fn);

/**
 * Writes the handle of the program whose guest made this call to `*out`
 * (the same handle the host got from load; do not unload it from here).
 * During the `init` of a load the handle does not exist yet: `*out` is NULL.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (`out` NULL),
 * `WASMCELL_ERR_INVALID_HANDLE` (call not active). Callback thread only.
 *
 * # Safety
 *
 * `call`: any value (handles are validated, never dereferenced).
 * `out`: NULL or a writable pointer.
 */
wasmcell_status wasmcell_call_program(struct wasmcell_call *call,
                                      struct wasmcell_program **out);

/**
 * Copies the name of the calling program into `buf` (NUL-terminated).
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL`,
 * `WASMCELL_ERR_INVALID_ARGUMENT`, `WASMCELL_ERR_INVALID_HANDLE`.
 * Callback thread only.
 *
 * # Safety
 *
 * `call`: any value (handles are validated, never dereferenced).
 * `buf`: NULL or `cap` writable bytes.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_call_program_name(struct wasmcell_call *call,
                                           char *buf,
                                           size_t cap,
                                           size_t *len);

/**
 * Gives the calling program's whole linear memory: `*data` (NULL and
 * `*len == 0` if it exports no memory named "memory") and `*len` bytes.
 * Valid only until the callback returns. Reading and writing inside
 * `[data, data + len)` is safe; anything outside is undefined behaviour.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (NULL out-pointer),
 * `WASMCELL_ERR_INVALID_HANDLE`. Callback thread only.
 *
 * # Safety
 *
 * `call`: any value (handles are validated, never dereferenced).
 * `data`: NULL or a writable pointer.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_call_memory(struct wasmcell_call *call,
                                     uint8_t **data,
                                     size_t *len);

/**
 * Writes 1 to `*flag` when this call comes from a shadow poll
 * (`wasmcell_reload_shadow_poll`), else 0. In a shadow poll the new version
 * of a program runs beside the old one: answer its reads, but do not
 * actuate anything.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (`flag` NULL),
 * `WASMCELL_ERR_INVALID_HANDLE`. Callback thread only.
 *
 * # Safety
 *
 * `call`: any value (handles are validated, never dereferenced).
 * `flag`: NULL or a writable `i32`.
 */
wasmcell_status wasmcell_call_is_shadow(struct wasmcell_call *call,
                                        int32_t *flag);

/**
 * Attaches a message (copied) to the error code the callback is about to
 * return; it becomes part of the program's fault message. Ignored if the
 * callback then returns 0.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (NULL or not UTF-8),
 * `WASMCELL_ERR_INVALID_HANDLE`. Callback thread only.
 *
 * # Safety
 *
 * `call`: any value (handles are validated, never dereferenced).
 * `message`: NULL or a NUL-terminated string, read during the call only.
 */
wasmcell_status wasmcell_call_set_error(struct wasmcell_call *call,
                                        const char *message);

/* ---- Process image: inputs, outputs, signals ---- */

/**
 * Writes the size in bytes of one area (`WASMCELL_AREA_*`) of the program's
 * process image to `*len` (0 if the program declares none).
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (unknown area, NULL
 * `len`), `WASMCELL_ERR_INVALID_HANDLE`. Any thread; never waits for a poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_program_image_size(struct wasmcell_program *p,
                                            wasmcell_area area,
                                            size_t *len);

/**
 * Copies `len` bytes from `data` to `offset` of the input area. They reach
 * the guest at the start of the next poll (a poll running now sees the
 * previous inputs). Ownership: `data` is only read during the call.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (range outside the
 * input area, `data` NULL with `len > 0`); `WASMCELL_ERR_INVALID_HANDLE`.
 * Any thread; never waits for a running poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `data`: `len` readable bytes (NULL when it is 0).
 */
wasmcell_status wasmcell_program_write_inputs(struct wasmcell_program *p,
                                              size_t offset,
                                              const uint8_t *data,
                                              size_t len);

/**
 * Copies `len` bytes at `offset` of the published outputs into `data`: the
 * outputs of the last poll that succeeded (a faulting poll never changes
 * them). Writes the number of that poll to `*poll` if `poll` is not NULL
 * (0: no poll has succeeded yet; compare with `wasmcell_stats.polls`).
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (range outside the
 * output area, `data` NULL with `len > 0`); `WASMCELL_ERR_INVALID_HANDLE`.
 * Any thread; never waits for a running poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `data`: `len` writable bytes (NULL when it is 0).
 * `poll`: NULL or a writable `u64`.
 */
wasmcell_status wasmcell_program_read_outputs(struct wasmcell_program *p,
                                              size_t offset,
                                              uint8_t *data,
                                              size_t len,
                                              uint64_t *poll);

/**
 * Writes the number of declared signals to `*count`.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `count`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_program_signal_count(struct wasmcell_program *p,
                                              size_t *count);

/**
 * Lists signal number `index` (0 .. count-1): copies its name into `name`
 * (NUL-terminated) and writes its id, area, type and byte offset inside its
 * area through the out-pointers that are not NULL.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_NOT_FOUND` (index out of range);
 * `WASMCELL_ERR_BUFFER_TOO_SMALL` (the other outputs are still written);
 * `WASMCELL_ERR_INVALID_ARGUMENT`; `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `name`: NULL or `cap` writable bytes.
 * `name_len`: NULL or a writable `usize`.
 * `id`: NULL or a writable `u32`.
 * `area`: NULL or a writable `wasmcell_area`.
 * `ty`: NULL or a writable `wasmcell_signal_type`.
 * `offset`: NULL or a writable `u32`.
 */
wasmcell_status wasmcell_program_signal_info(struct wasmcell_program *p,
                                             size_t index,
                                             char *name,
                                             size_t cap,
                                             size_t *name_len,
                                             uint32_t *id,
                                             wasmcell_area *area,
                                             wasmcell_signal_type *ty,
                                             uint32_t *offset);

/**
 * Looks a signal up by name (once, outside the control loop) and writes its
 * id, and its area, type and offset where the pointers are not NULL. The id
 * stays valid until a reset or reload changes the signal table.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_NOT_FOUND`;
 * `WASMCELL_ERR_INVALID_ARGUMENT` (NULL `name` or `id`);
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `name`: NULL or a NUL-terminated string, read during the call only.
 * `id`: NULL or a writable `u32`.
 * `area`: NULL or a writable `wasmcell_area`.
 * `ty`: NULL or a writable `wasmcell_signal_type`.
 * `offset`: NULL or a writable `u32`.
 */
wasmcell_status wasmcell_program_signal_lookup(struct wasmcell_program *p,
                                               const char *name,
                                               uint32_t *id,
                                               wasmcell_area *area,
                                               wasmcell_signal_type *ty,
                                               uint32_t *offset);

/**
 * Reads a signal as a double (any type; 64-bit integers above 2^53 lose
 * precision, use `wasmcell_program_signal_get_i64`). Inputs read back what
 * the host wrote, outputs the last published values, retain values the
 * guest's memory (waiting for a running poll).
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_NOT_FOUND` (unknown or stale id);
 * `WASMCELL_ERR_INVALID_ARGUMENT`; `WASMCELL_ERR_INVALID_HANDLE`;
 * `WASMCELL_ERR_BUSY` (a retain signal read from the program's own callback).
 * Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `value`: NULL or a writable `f64`.
 */
wasmcell_status wasmcell_program_signal_get_f64(struct wasmcell_program *p,
                                                uint32_t id,
                                                double *value);

/**
 * Reads an integer or bool signal exactly.
 *
 * Returns: as `wasmcell_program_signal_get_f64`, plus
 * `WASMCELL_ERR_INVALID_ARGUMENT` for float signals and u64 values above
 * INT64_MAX. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `value`: NULL or a writable `i64`.
 */
wasmcell_status wasmcell_program_signal_get_i64(struct wasmcell_program *p,
                                                uint32_t id,
                                                int64_t *value);

/**
 * Sets an input signal from a double. Integer and bool signals accept only
 * integral values in their range (bool: 0 or 1). The value reaches the
 * guest at the start of the next poll.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (not an input
 * signal, value out of range or not integral); `WASMCELL_ERR_NOT_FOUND`;
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread; never waits for a poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_signal_set_f64(struct wasmcell_program *p,
                                                uint32_t id,
                                                double value);

/**
 * Sets an input signal from an integer, range-checked against its type.
 *
 * Returns: as `wasmcell_program_signal_set_f64`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_signal_set_i64(struct wasmcell_program *p,
                                                uint32_t id,
                                                int64_t value);

/* ---- Hot swap: reload, prepare, commit ---- */

/**
 * Hot swap: compiles and instantiates `bytes` (wasm or WAT) on the calling
 * thread without blocking polls, runs its `init`, then swaps it in between
 * two polls. The handle stays valid; a poll running concurrently uses the
 * old or the new version, never a mix. Also recovers a faulted program.
 *
 * On failure the old version keeps running untouched (still faulted if it
 * was) and the message is kept as the program's error.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_LIMIT`, `WASMCELL_ERR_COMPILE`,
 * `WASMCELL_ERR_LINK`, `WASMCELL_ERR_INSTANTIATE`; `WASMCELL_ERR_BUSY`;
 * `WASMCELL_ERR_INVALID_ARGUMENT`; `WASMCELL_ERR_INVALID_HANDLE`.
 * Thread safety: any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `bytes`: `len` readable bytes (NULL when it is 0).
 */
wasmcell_status wasmcell_program_reload(struct wasmcell_program *p,
                                        const uint8_t *bytes,
                                        size_t len);

/**
 * The slow half of a hot swap, for hosts that compile on a worker thread
 * and swap on the control thread: compiles `bytes` (wasm or WAT; from the
 * module cache when seen before), links and instantiates them, without
 * touching the running version, which keeps polling meanwhile.
 *
 * Ownership: on success the caller owns `*out` and must pass it to
 * `wasmcell_program_commit_reload` or `wasmcell_reload_discard`; freeing the
 * runtime or unloading the program also releases it.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_LIMIT`, `WASMCELL_ERR_COMPILE`,
 * `WASMCELL_ERR_LINK`, `WASMCELL_ERR_INSTANTIATE`; `WASMCELL_ERR_BUSY`;
 * `WASMCELL_ERR_INVALID_ARGUMENT`; `WASMCELL_ERR_INVALID_HANDLE`.
 * Thread safety: any thread; does not wait for a running poll.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `bytes`: `len` readable bytes (NULL when it is 0).
 * `out`: NULL or a writable pointer.
 */
wasmcell_status wasmcell_program_prepare_reload(struct wasmcell_program *p,
                                                const uint8_t *bytes,
                                                size_t len,
                                                struct wasmcell_reload **out);

/**
 * The fast half of a hot swap, between two polls: carries the retain area
 * over (same size and layout id; see `wasmcell_program_notice`), runs the
 * new version's `init` and swaps it in. A poll running on another thread
 * finishes on the old version; the next runs the new one. `reload` is
 * consumed in every case except `WASMCELL_ERR_INVALID_HANDLE` for `reload`
 * itself.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INSTANTIATE` (the new `init` trapped;
 * the old version keeps running); `WASMCELL_ERR_INVALID_ARGUMENT` (prepared
 * for another program); `WASMCELL_ERR_BUSY`; `WASMCELL_ERR_INVALID_HANDLE`.
 * Thread safety: any thread; waits for a running poll of the program.
 *
 * # Safety
 *
 * `p`, `reload`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_program_commit_reload(struct wasmcell_program *p,
                                               struct wasmcell_reload *reload);

/**
 * Says what committing `reload` now would do to the running program's
 * retained state: how many retain signals are `kept` (same name and type,
 * or the whole area when the size and layout id are unchanged), `added`
 * (new names: start from the new version's defaults), `dropped` (names the
 * new version no longer declares) and `retyped` (same name, another type:
 * start from the default, bytes are never reinterpreted). Any out-pointer
 * may be NULL.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE` (NULL, stale,
 * committed or discarded reload; program unloaded). Any thread; does not
 * wait for a running poll.
 *
 * # Safety
 *
 * `reload`: any value (handles are validated, never dereferenced).
 * `kept`: NULL or a writable `usize`.
 * `added`: NULL or a writable `usize`.
 * `dropped`: NULL or a writable `usize`.
 * `retyped`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_reload_retain_summary(struct wasmcell_reload *reload,
                                               size_t *kept,
                                               size_t *added,
                                               size_t *dropped,
                                               size_t *retyped);

/**
 * Copies the retain report of `reload` into `buf`: one line per retain
 * signal, `name type: kept`, `name type: added, starts from its default`,
 * `name type: dropped` or `name type: retyped from T, starts from its
 * default`, each ending in a newline ("" when neither version retains
 * anything). After the commit `wasmcell_program_notice` says the same under
 * a summary line.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL`,
 * `WASMCELL_ERR_INVALID_ARGUMENT`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `reload`: any value (handles are validated, never dereferenced).
 * `buf`: NULL or `cap` writable bytes.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_reload_report(struct wasmcell_reload *reload,
                                       char *buf,
                                       size_t cap,
                                       size_t *len);

/**
 * Runs the prepared version for one cycle, in the shadow of the running
 * program: on the running program's current inputs and on a private copy of
 * its retain, taken by name and type at the first shadow poll (which also
 * runs the new `init`); later shadow polls continue the shadow's own state.
 * Nothing reaches the running program: its published outputs, retain,
 * statistics and poll count stay exactly as they are, and it keeps polling
 * on its own thread meanwhile. The outputs of the new version are read with
 * `wasmcell_reload_read_outputs`.
 *
 * Host callbacks made during a shadow poll see `wasmcell_call_is_shadow`
 * set: a host MUST check it before actuating anything (answer reads, skip
 * side effects). Commit after shadow polls starts the new version from a
 * fresh instance with the running program's retain at commit time.
 *
 * Returns what the new version's poll returns: `WASMCELL_OK`, or its fault
 * (`WASMCELL_ERR_TRAP`, `_BUDGET`, `_HOST`, `_GUEST_FAULT`, `_WATCHDOG`
 * in deadline mode, `WASMCELL_ERR_INSTANTIATE` when its `init` traps); after a fault the
 * shadow run stays faulted (`WASMCELL_ERR_FAULTED`; prepare again). Also
 * `WASMCELL_ERR_BUSY` (from the program's own callback),
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread; it waits for a running poll of
 * the program only at the first shadow poll (to copy its retain).
 *
 * # Safety
 *
 * `reload`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_reload_shadow_poll(struct wasmcell_reload *reload);

/**
 * Copies `len` bytes at `offset` of the new version's output area, as the
 * last successful shadow poll left them, into `data`.
 *
 * Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (NULL `data` with
 * `len` > 0, range outside the output area, or no shadow poll yet);
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `reload`: any value (handles are validated, never dereferenced).
 * `data`: `len` writable bytes (NULL when it is 0).
 */
wasmcell_status wasmcell_reload_read_outputs(struct wasmcell_reload *reload,
                                             size_t offset,
                                             uint8_t *data,
                                             size_t len);

/**
 * Releases a prepared reload without swapping it in.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE` (NULL, stale,
 * already committed or discarded). Any thread.
 *
 * # Safety
 *
 * `reload`: any value (handles are validated, never dereferenced).
 */
wasmcell_status wasmcell_reload_discard(struct wasmcell_reload *reload);

/**
 * Copies what happened to the retain area at the last reset or reload into
 * `buf`: "retain area carried over (N bytes, layout id L)", or why it was
 * not (different size or layout id: the new version started from its
 * defaults), or "" if the program declares no retain area.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_BUFFER_TOO_SMALL`,
 * `WASMCELL_ERR_INVALID_ARGUMENT`, `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `p`: any value (handles are validated, never dereferenced).
 * `buf`: NULL or `cap` writable bytes.
 * `len`: NULL or a writable `usize`.
 */
wasmcell_status wasmcell_program_notice(struct wasmcell_program *p,
                                        char *buf,
                                        size_t cap,
                                        size_t *len);

/* ---- Logging ---- */

/**
 * Sends guest output (`env.print`, `wasmcell.log`) of all programs of the
 * runtime to `fn`, or back to the default (standard error, each line
 * prefixed with `[program]`) when `fn` is NULL. Takes effect immediately.
 *
 * Guest output is bounded: lines longer than 4096 bytes are cut, and a
 * program's output past 64 KiB in one poll is dropped (one warning line
 * says so); reading the text costs the guest one budget unit per 16 bytes.
 *
 * Ownership: `user_data` stays the caller's; it must stay valid until the
 * sink is replaced or the runtime is freed. This call returns only once no
 * thread is still inside the previous sink, so its `user_data` may be
 * released as soon as it returns.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`,
 * `WASMCELL_ERR_BUSY` (called from inside a host callback or log sink,
 * where waiting for the old sink could wait for itself; nothing changed).
 * Any thread; `fn` is called concurrently when programs are polled on
 * several threads.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 * `fn`: NULL or a function of that type, callable while registered.
 * `user_data`: any value, passed back to the callbacks, never dereferenced.
 */
wasmcell_status wasmcell_runtime_set_log(struct wasmcell_runtime *rt,
                                         wasmcell_log_fn fn,
                                         void *user_data);

/* ---- Clock ---- */

/**
 * Replaces the clock guests read through `wasmcell.now_ns` (for simulation,
 * tests, or machine time), or restores the default monotonic clock
 * (nanoseconds since the library's first use) when `fn` is NULL.
 *
 * Ownership: `user_data` stays the caller's; it must stay valid until the
 * clock is replaced or the runtime is freed. This call returns only once no
 * thread is still inside the previous clock, so its `user_data` may be
 * released as soon as it returns.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_HANDLE`,
 * `WASMCELL_ERR_BUSY` (called from inside a host callback or log sink,
 * where waiting for the old clock could wait for itself; nothing changed).
 * Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 * `fn`: NULL or a function of that type, callable while registered.
 * `user_data`: any value, passed back to the callbacks, never dereferenced.
 */
wasmcell_status wasmcell_runtime_set_clock(struct wasmcell_runtime *rt,
                                           wasmcell_clock_fn fn,
                                           void *user_data);

/* ---- Compiled-module cache ---- */

/**
 * Keeps compiled modules in `path` as well as in memory (the directory is
 * created if missing), so a restarted controller skips compiling programs it
 * has seen before. `NULL` turns the disk cache off. Every file is validated
 * before use (wasmcell and wasmer version, target, cache key, SHA-256 of the
 * artifact); a corrupted or foreign file is recompiled and replaced, never
 * executed. The directory must be writable only by the controller: its
 * files are native code.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_IO` (cannot create it),
 * `WASMCELL_ERR_INVALID_ARGUMENT` (not UTF-8), `WASMCELL_ERR_INVALID_HANDLE`.
 * Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 * `path`: NULL or a NUL-terminated string, read during the call only.
 */
wasmcell_status wasmcell_runtime_set_cache_dir(struct wasmcell_runtime *rt,
                                               const char *path);

/**
 * Copies the runtime's cache counters into `*stats`.
 *
 * Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
 * `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
 *
 * # Safety
 *
 * `rt`: any value (handles are validated, never dereferenced).
 * `stats`: NULL or a writable `wasmcell_cache_stats`.
 */
wasmcell_status wasmcell_runtime_cache_stats(struct wasmcell_runtime *rt,
                                             struct wasmcell_cache_stats *stats);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* WASMCELL_H */
