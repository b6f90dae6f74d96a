//! What a live instance shares with its imports (built-ins, WASI, host
//! functions): the guest's memory, the runtime's services, the budget
//! counter, the output meter and the random generator. The link layer
//! (`link.rs`, `builtins.rs`, `wasi.rs`, `host_import.rs`) depends on this
//! module and on nothing above it.

use crate::host::HostServices;
use crate::log::LogLevel;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use wasmer::{AsStoreRef, Global, Memory, RuntimeError, Store};

/// Per-instance data reachable from imports.
pub(crate) struct GuestEnv {
    pub(crate) memory: Option<Memory>,
    pub(crate) program_name: Arc<str>,
    pub(crate) program_tag: u64,
    /// What the runtime provides: host functions, log sink, clock, seed.
    pub(crate) services: Arc<dyn HostServices>,
    /// How the running `init` was started: see [`StartKind`].
    pub(crate) start_kind: StartKind,
    /// Calls run as a shadow poll of a prepared reload (host callbacks see it).
    pub(crate) shadow: bool,
    /// Whether the retain area was carried over into this instance.
    pub(crate) retain_restored: bool,
    /// The budget counter, charged by built-ins for the bytes they read
    /// (set once the instance exists).
    pub(crate) fuel: Option<FuelCounter>,
    /// The stop floor (charges below it trap; see the watchdog).
    pub(crate) floor: Option<FuelCounter>,
    /// Guest output of the current call, shared with the host side.
    pub(crate) output: Arc<OutputMeter>,
    /// The last error-level line the guest logged during the current call.
    pub(crate) last_error_line: std::cell::RefCell<String>,
    /// WASI stdout and stderr: partial lines waiting for their newline.
    pub(crate) stdio: [Vec<u8>; 2],
    /// The generator behind WASI `random_get`.
    pub(crate) random: Random,
}

/// What the guest wrote during the current call into it: bytes against the
/// per-poll cap, and whether partial lines wait in the stdio buffers (read
/// by the host after each call without touching the guest's environment).
#[derive(Default)]
pub(crate) struct OutputMeter {
    pub(crate) bytes: AtomicU64,
    pub(crate) pending: AtomicBool,
    /// The guest logged an error line during the current call.
    pub(crate) error_line: AtomicBool,
}

/// Why an instance's `init` runs, as the guest reads it from
/// `wasmcell.start_kind()`. Numeric values are part of the guest ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartKind {
    /// First load of the program.
    Cold = 0,
    /// Fresh instance of the same module after `reset`.
    Reset = 1,
    /// New code swapped in by `reload`.
    Reload = 2,
}

/// Longest line `env.print` or `wasmcell.log` passes on; the rest is cut.
pub const MAX_OUTPUT_LINE_BYTES: usize = 4096;
/// Guest output one poll (or `init`) may produce; later lines of that poll
/// are dropped, with one warning.
pub const MAX_OUTPUT_BYTES_PER_POLL: u64 = 64 * 1024;

/// Why a built-in stopped the guest: its budget ran out while it charged.
pub(crate) fn budget_trap() -> RuntimeError {
    RuntimeError::new("instruction budget exhausted")
}

impl GuestEnv {
    /// Takes `units` from the budget; Err (the guest must trap) when it
    /// is used up. The counter then stays negative, which the host reads
    /// as budget exhaustion.
    pub(crate) fn charge(&mut self, units: u64) -> Result<(), RuntimeError> {
        let Some(fuel) = &mut self.fuel else {
            return Ok(());
        };
        let left = fuel.get().saturating_sub(units.min(i64::MAX as u64) as i64);
        fuel.set(left);
        let floor = self.floor.as_ref().map_or(0, FuelCounter::get);
        if left < floor {
            return Err(budget_trap());
        }
        Ok(())
    }

    /// Accounts `len` bytes of guest output against the per-poll cap and
    /// returns how many of them may be written (0: drop the line). Warns
    /// once per poll when the cap is reached.
    pub(crate) fn admit_output(&self, len: usize) -> usize {
        let len = len.min(MAX_OUTPUT_LINE_BYTES);
        let before = self.output.bytes.fetch_add(len as u64, Ordering::Relaxed);
        if before + len as u64 <= MAX_OUTPUT_BYTES_PER_POLL {
            return len;
        }
        if before <= MAX_OUTPUT_BYTES_PER_POLL {
            self.services.log_sink().log(
                &self.program_name,
                LogLevel::Warn,
                format!("output cap of {MAX_OUTPUT_BYTES_PER_POLL} bytes per poll reached: the rest of this poll's output is dropped").as_bytes(),
            );
        }
        0
    }

    pub(crate) fn mark_output_pending(&self) {
        self.output.pending.store(true, Ordering::Relaxed);
    }

    /// Writes one line of guest output to the log sink, cut at
    /// [`MAX_OUTPUT_LINE_BYTES`] (on a character boundary for print output)
    /// and dropped once the poll's output cap is reached.
    pub(crate) fn write_output(&self, level: LogLevel, bytes: &[u8]) {
        if level == LogLevel::Error {
            // Kept (bounded, allocation reused) so that a trap right after
            // it, typically a panic handler's, can name its message.
            let mut line = self.last_error_line.borrow_mut();
            line.clear();
            line.push_str(&String::from_utf8_lossy(
                &bytes[..bytes.len().min(MAX_OUTPUT_LINE_BYTES)],
            ));
            self.output.error_line.store(true, Ordering::Relaxed);
        }
        let mut admitted = self.admit_output(bytes.len());
        if admitted == 0 && !bytes.is_empty() {
            return;
        }
        if let (LogLevel::Print, Ok(text)) = (level, std::str::from_utf8(bytes)) {
            while !text.is_char_boundary(admitted) {
                admitted -= 1;
            }
        }
        self.services
            .log_sink()
            .log(&self.program_name, level, &bytes[..admitted]);
    }

    /// Runs `f` on the guest bytes `ptr..ptr+len`, or returns -1 when the range
    /// lies outside the guest's memory.
    pub(crate) fn with_guest_bytes(
        &self,
        store: &impl AsStoreRef,
        ptr: i32,
        len: i32,
        f: impl FnOnce(&Self, &[u8]) -> i32,
    ) -> i32 {
        let Some(memory) = &self.memory else {
            return -1;
        };
        let view = memory.view(store);
        // SAFETY: the guest is suspended inside this import and nothing else
        // holds a reference into its memory; the slice does not outlive the call.
        let bytes = unsafe { view.data_unchecked() };
        let (start, len) = (ptr as u32 as usize, len as u32 as usize);
        match bytes.get(start..start.saturating_add(len)) {
            Some(bytes) => f(self, bytes),
            None => -1,
        }
    }
}

/// The budget counter global, reached through its storage instead of
/// `Global::set`/`Global::get`: those check the store, the type and the
/// mutability on every call, which was a measurable share of an empty poll.
#[derive(Clone, Copy)]
pub(crate) struct FuelCounter(std::ptr::NonNull<wasmer::sys::vm::VMGlobalDefinition>);

// SAFETY: the pointer targets storage owned by one store; the counter is only
// used by the instance that owns that store (behind its program's lock) and by
// that instance's built-ins while its guest is suspended in them.
unsafe impl Send for FuelCounter {}

impl FuelCounter {
    /// The storage of `global`, an i64 global defined by the instance in `store`.
    pub(crate) fn of(store: &mut Store, global: &Global) -> Option<Self> {
        crate::engine::global_definition(store, global).map(Self)
    }

    /// The counter as an atomic: besides the polling thread, the watchdog
    /// thread may write it while the guest runs (relaxed atomics compile to
    /// the same plain moves the guest uses).
    pub(crate) fn atomic(&self) -> &std::sync::atomic::AtomicI64 {
        // SAFETY: the definition is boxed inside the store, which owns the
        // `LiveInstance`'s and the `GuestEnv`'s copies of this pointer, so it
        // outlives them; the global is an aligned i64 (added by the budget
        // rewrite, src/budget.rs), only ever accessed as an i64.
        unsafe { std::sync::atomic::AtomicI64::from_ptr(self.ptr()) }
    }

    pub(crate) fn ptr(&self) -> *mut i64 {
        // SAFETY: a field projection inside the live definition (see `atomic`).
        unsafe { std::ptr::addr_of_mut!((*self.0.as_ptr()).val.i64) }
    }

    pub(crate) fn set(&mut self, value: i64) {
        self.atomic().store(value, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> i64 {
        self.atomic().load(Ordering::Relaxed)
    }
}

/// The per-program random generator behind `random_get` (SplitMix64:
/// statistically sound, not cryptographic; a control program gets
/// reproducible streams when the host sets a seed).
#[derive(Debug, Clone)]
pub(crate) struct Random(u64);

impl Random {
    /// A generator for `program`: from `seed` when the host set one (same
    /// seed and name, same stream), otherwise from the OS's randomness.
    pub(crate) fn new(seed: Option<u64>, program: &str) -> Self {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut hasher = match seed {
            Some(seed) => {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                seed.hash(&mut h);
                h
            }
            // RandomState is keyed from the OS's random source.
            None => std::collections::hash_map::RandomState::new().build_hasher(),
        };
        program.hash(&mut hasher);
        Self(hasher.finish())
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}
