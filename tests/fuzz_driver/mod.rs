//! The module fuzzer's driver, shared by `examples/fuzz_modules.rs` (the
//! `make fuzz` command) and `tests/fuzz_smoke.rs` (a short run with fixed
//! seeds inside `cargo test`).
//!
//! Each iteration is one seed: it generates two modules (wasm-smith, with
//! wasmcell's features and imports, or a broken variant), loads the first
//! into a fresh runtime, polls it under a small budget and memory limit,
//! checks it against raw wasmer (differential), exercises the process image,
//! resets it, hot-swaps it to the second module, unloads it and closes the
//! runtime. Every result must be a status the API documents for that call,
//! and the program state must follow from it; a sentinel program in the same
//! runtime must keep polling. A watchdog ends the process on an iteration
//! that hangs, a signal handler reports a crash with its seed, and RSS is
//! tracked across the run.
#![allow(dead_code)]

pub mod gen;
pub mod raw;

use gen::{Class, Generated, Rng, HOST_FUNCTIONS, HOST_MODULE};
use raw::{Arg, HostFail, RawOutcome, CLOCK_NS};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};
use wasmcell::{
    Area, ErrorKind, FaultKind, FaultOutputs, HostCall, Limits, LogLevel, Program, ProgramState,
    Runtime, RuntimeConfig, SignalValue, Val,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed of the first iteration; iteration i uses `seed + i`.
    pub seed: u64,
    /// Stop after this many iterations...
    pub iterations: Option<u64>,
    /// ... or after this many seconds (whichever comes first).
    pub seconds: Option<f64>,
    /// Print every step of every iteration (for replays).
    pub verbose: bool,
    /// An iteration running longer than this is a hang.
    pub hang_seconds: u64,
    /// Where the modules of a failing iteration are written.
    pub save_dir: Option<PathBuf>,
    /// Allowed RSS growth between the end of the warm-up and the end of the run.
    pub rss_tolerance_mib: u64,
    /// Print progress lines while running.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            iterations: None,
            seconds: Some(60.0),
            verbose: false,
            hang_seconds: 60,
            save_dir: None,
            rss_tolerance_mib: 32,
            progress: true,
        }
    }
}

/// A failed check, with the seed that reproduces it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub seed: Option<u64>,
    pub message: String,
}

/// The result of a run.
#[derive(Debug, Default)]
pub struct Summary {
    pub first_seed: u64,
    pub iterations: u64,
    pub elapsed: Duration,
    /// Count of every outcome, keyed "operation:status[/fault kind]".
    pub outcomes: BTreeMap<String, u64>,
    pub failures: Vec<Failure>,
    pub rss_start_kib: u64,
    pub rss_warm_kib: u64,
    pub rss_end_kib: u64,
    pub rss_peak_kib: u64,
    pub heap_warm_kib: u64,
    pub heap_end_kib: u64,
    pub warm_iteration: u64,
    pub fds: (u64, u64),
    pub threads: (u64, u64),
    pub slowest: (u64, Duration),
    pub rss_tolerance_mib: u64,
}

impl Summary {
    pub fn count(&self, key: &str) -> u64 {
        self.outcomes.get(key).copied().unwrap_or(0)
    }

    /// Sum of the counts whose key starts with `prefix`.
    pub fn total(&self, prefix: &str) -> u64 {
        self.outcomes
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }

    pub fn rate(&self) -> f64 {
        self.iterations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn print(&self) {
        println!(
            "wasmcell module fuzzer: seeds {}..{}: {} iterations, {} generated modules, {} calls checked, in {:.1} s ({:.1} iterations/s, {:.1} modules/s)",
            self.first_seed,
            self.first_seed + self.iterations.saturating_sub(1),
            self.iterations,
            self.total("module:") - self.count("module:image"),
            self.total("call:"),
            self.elapsed.as_secs_f64(),
            self.rate(),
            (self.total("module:") - self.count("module:image")) as f64
                / self.elapsed.as_secs_f64().max(1e-9)
        );
        let mut group = "";
        for (key, count) in &self.outcomes {
            let prefix = key.split(':').next().unwrap_or("");
            if prefix == "call" {
                continue;
            }
            if prefix != group {
                println!("  {prefix}:");
                group = prefix;
            }
            println!("    {:<44} {count:>9}", &key[prefix.len() + 1..]);
        }
        println!(
            "differential (raw wasmer 7.4.2): {} modules compared, {} loads agreed, {} polls agreed, {} output images agreed, {} compile verdicts agreed; not compared: {} budget, {} stack, {} oracle guard",
            self.count("diff:modules"),
            self.count("diff:load-agreed"),
            self.count("diff:poll-agreed"),
            self.count("diff:outputs-agreed"),
            self.count("diff:compile-agreed"),
            self.count("diff:skip-budget"),
            self.count("diff:skip-stack"),
            self.count("diff:skip-guard"),
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "resources: RSS start {:.1} MiB, after warm-up (iteration {}) {:.1} MiB, end {:.1} MiB (after malloc_trim; growth {:+.1} MiB, tolerance {} MiB), peak {:.1} MiB; threads {} -> {}; open fds {} -> {}",
            mib(self.rss_start_kib),
            self.warm_iteration,
            mib(self.rss_warm_kib),
            mib(self.rss_end_kib),
            mib(self.rss_end_kib) - mib(self.rss_warm_kib),
            self.rss_tolerance_mib,
            mib(self.rss_peak_kib),
            self.threads.0,
            self.threads.1,
            self.fds.0,
            self.fds.1
        );
        println!(
            "heap in use (glibc): after warm-up {:.1} MiB, end {:.1} MiB (growth {:+.1} MiB)",
            mib(self.heap_warm_kib),
            mib(self.heap_end_kib),
            mib(self.heap_end_kib) - mib(self.heap_warm_kib)
        );
        println!(
            "slowest iteration: seed {} ({} ms)",
            self.slowest.0,
            self.slowest.1.as_millis()
        );
        if self.failures.is_empty() {
            println!("failures: 0 (no crash, hang, undocumented status, broken invariant or differential mismatch)");
        } else {
            println!("failures: {}", self.failures.len());
            for failure in &self.failures {
                match failure.seed {
                    Some(seed) => println!(
                        "  FAIL seed {seed}: {}   (reproduce: make fuzz-replay SEED={seed})",
                        failure.message
                    ),
                    None => println!("  FAIL {}", failure.message),
                }
            }
        }
    }
}

// ---- process-wide guards: crash handler, watchdog, panic hook ----------------

static CURRENT_SEED: AtomicU64 = AtomicU64::new(u64::MAX);
static CURRENT_PHASE: AtomicUsize = AtomicUsize::new(0);
/// Milliseconds since `epoch()` when the running iteration started; 0 = idle.
static ITERATION_STARTED_MS: AtomicU64 = AtomicU64::new(0);
/// The running iteration's seed and its two modules, for the crash reporter.
type CurrentModules = Option<(u64, Vec<u8>, Vec<u8>)>;
static CURRENT_MODULES: Mutex<CurrentModules> = Mutex::new(None);
static SAVE_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

#[derive(Clone, Copy)]
#[repr(usize)]
enum Phase {
    Setup,
    Generate,
    Load,
    Poll,
    Differential,
    Image,
    Limits,
    Reset,
    Reload,
    Second,
    Unload,
    Close,
}

const PHASES: &[&str] = &[
    "setup",
    "generate",
    "load",
    "poll",
    "differential",
    "process image",
    "limits",
    "reset",
    "reload",
    "second program",
    "unload",
    "close",
];

fn phase(p: Phase) {
    CURRENT_PHASE.store(p as usize, Ordering::Relaxed);
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// A host function's deliberate panic (wasmcell must catch it).
struct DeliberatePanic;

extern "C" fn on_crash(sig: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // Async-signal-safe: fixed buffer, write(2), _exit(2).
    let mut buf = [0u8; 320];
    let mut n = 0;
    let mut push = |bytes: &[u8]| {
        for b in bytes {
            if n < buf.len() {
                buf[n] = *b;
                n += 1;
            }
        }
    };
    let number = |mut v: u64, out: &mut [u8; 20]| -> usize {
        let mut len = 0;
        loop {
            out[19 - len] = b'0' + (v % 10) as u8;
            len += 1;
            v /= 10;
            if v == 0 {
                return len;
            }
        }
    };
    let mut digits = [0u8; 20];
    let seed = CURRENT_SEED.load(Ordering::Relaxed);
    let phase = PHASES
        .get(CURRENT_PHASE.load(Ordering::Relaxed))
        .copied()
        .unwrap_or("?");
    push(b"\nCRASH: signal ");
    let len = number(sig as u64, &mut digits);
    push(&digits[20 - len..]);
    push(b" while fuzzing seed ");
    let len = number(seed, &mut digits);
    push(&digits[20 - len..]);
    push(b" (phase: ");
    push(phase.as_bytes());
    push(b"); reproduce with: make fuzz-replay SEED=");
    push(&digits[20 - len..]);
    push(b"\n");
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), n);
        libc::_exit(70);
    }
}

/// Installs the crash reporter before wasmer installs its trap handlers
/// (wasmer chains to handlers installed before it for faults outside
/// guest code, so a host crash reaches this one), the panic hook that keeps
/// the deliberate host-function panics quiet, the wasm stack size raw
/// wasmer uses (wasmcell's default, so both sides have the same stack), and
/// the watchdog.
fn install_guards(hang_seconds: u64) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT] {
            // SAFETY: a zeroed sigaction with a handler, flags and an empty
            // mask is a valid argument.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_crash as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<DeliberatePanic>().is_none() {
                default_hook(info);
            }
        }));
        wasmer::sys::vm::set_stack_size(wasmcell::limits::DEFAULT_STACK_BYTES as usize);
        let limit_ms = hang_seconds.max(1) * 1000;
        std::thread::Builder::new()
            .name("fuzz-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(250));
                let started = ITERATION_STARTED_MS.load(Ordering::Relaxed);
                if started != 0 && now_ms().saturating_sub(started) > limit_ms {
                    let seed = CURRENT_SEED.load(Ordering::Relaxed);
                    let phase = PHASES[CURRENT_PHASE.load(Ordering::Relaxed)];
                    eprintln!(
                        "\nHANG: seed {seed} has run for more than {} s (phase: {phase}); reproduce with: make fuzz-replay SEED={seed}",
                        limit_ms / 1000
                    );
                    if let Ok(modules) = CURRENT_MODULES.try_lock() {
                        if let Some((seed, a, b)) = modules.as_ref() {
                            save_modules(*seed, a, b);
                        }
                    }
                    std::process::exit(3);
                }
            })
            .expect("watchdog thread");
    });
}

fn save_modules(seed: u64, a: &[u8], b: &[u8]) {
    let Some(dir) = SAVE_DIR.lock().ok().and_then(|d| d.clone()) else {
        return;
    };
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("seed-{seed}-a.wasm")), a);
        let _ = std::fs::write(dir.join(format!("seed-{seed}-b.wasm")), b);
        eprintln!(
            "modules of seed {seed} written to {}/seed-{seed}-{{a,b}}.wasm",
            dir.display()
        );
    }
}

// ---- process resources ------------------------------------------------------

fn status_field(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn rss_kib() -> u64 {
    status_field("VmRSS:")
}

/// Resident memory once the allocator has given back what it can: glibc
/// keeps freed memory in its arenas (the fuzzer's 17 MiB modules raise its
/// mmap threshold, so later large buffers come from the arenas and stay
/// resident after they are freed), which is not memory anyone holds.
pub fn trimmed_rss_kib() -> u64 {
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe { libc::malloc_trim(0) };
    rss_kib()
}

/// Bytes the allocator hands out right now (glibc's `mallinfo2`: in-use
/// chunks plus directly mapped ones), in KiB: unlike RSS, free memory the
/// allocator keeps (fragmentation) does not count.
pub fn heap_kib() -> u64 {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    ((info.uordblks + info.hblkhd) / 1024) as u64
}

pub fn threads() -> u64 {
    status_field("Threads:")
}

pub fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

// ---- the documented statuses of each call ----------------------------------------

use ErrorKind::*;

/// `wasmcell_program_load` (and `Runtime::load`).
const LOAD: &[ErrorKind] = &[
    InvalidArgument,
    InvalidHandle,
    Limit,
    Compile,
    Link,
    Instantiate,
];
/// Watchdog: from `Program::set_watchdog` (the C header's poll list lacks it).
const POLL: &[ErrorKind] = &[
    Trap,
    Budget,
    Host,
    GuestFault,
    Faulted,
    Busy,
    InvalidHandle,
    Watchdog,
];
/// `wasmcell_reload_shadow_poll` (Watchdog: deadline mode).
const SHADOW_POLL: &[ErrorKind] = &[
    Trap,
    Budget,
    Watchdog,
    Host,
    GuestFault,
    Instantiate,
    Faulted,
    Busy,
    InvalidHandle,
];
/// InvalidArgument: turning off the watchdog of a program in deadline mode.
const SET_WATCHDOG: &[ErrorKind] = &[InvalidArgument, InvalidHandle];
const SET_FAULT_OUTPUTS: &[ErrorKind] = &[InvalidArgument, InvalidHandle];
const RESET: &[ErrorKind] = &[Instantiate, Limit, Busy, InvalidHandle];
/// `wasmcell_program_reload` and `wasmcell_program_prepare_reload`.
const RELOAD: &[ErrorKind] = &[
    Limit,
    Compile,
    Link,
    Instantiate,
    Busy,
    InvalidArgument,
    InvalidHandle,
];
const COMMIT: &[ErrorKind] = &[Instantiate, InvalidArgument, Busy, InvalidHandle];
const UNLOAD: &[ErrorKind] = &[Busy, InvalidHandle];
const SET_FUEL: &[ErrorKind] = &[InvalidArgument, InvalidHandle];
const SET_LIMITS: &[ErrorKind] = &[InvalidArgument, InvalidHandle];
const IMAGE_BYTES: &[ErrorKind] = &[InvalidArgument, InvalidHandle];
const SIGNAL_GET: &[ErrorKind] = &[NotFound, InvalidArgument, InvalidHandle, Busy];
const SIGNAL_SET: &[ErrorKind] = &[InvalidArgument, NotFound, InvalidHandle];
const CLOSE: &[ErrorKind] = &[Busy];

/// Allowed growth of the heap in use between the warm-up and the end (it is
/// about 1 MiB between iterations, when every runtime is closed).
const HEAP_TOLERANCE_KIB: u64 = 8 * 1024;

/// Longest fault message (docs/guest-abi.md: messages are cut at 4096 bytes).
const MAX_FAULT_MESSAGE: usize = 4096;
/// Longest line a log sink may receive (docs/guest-abi.md).
const MAX_OUTPUT_LINE: usize = 4096;

const SENTINEL: &str = r#"(module
  (global $n (mut i64) (i64.const 0))
  (func (export "poll") (result i32)
    (global.set $n (i64.add (global.get $n) (i64.const 1)))
    (i32.const 0)))"#;

// ---- one iteration -------------------------------------------------------------------

/// What one poll of wasmcell did, comparable with raw wasmer.
#[derive(Debug, Clone, PartialEq)]
enum Polled {
    Ok,
    Fault(FaultKind),
    Refused(ErrorKind),
}

struct Iteration<'a> {
    seed: u64,
    verbose: bool,
    outcomes: &'a mut BTreeMap<String, u64>,
    failures: Vec<String>,
    rng: Rng,
}

impl Iteration<'_> {
    fn count(&mut self, key: impl Into<String>) {
        *self.outcomes.entry(key.into()).or_default() += 1;
    }

    fn fail(&mut self, message: impl Into<String>) {
        let message = message.into();
        if self.verbose {
            println!("  !! {message}");
        }
        self.failures.push(message);
    }

    fn say(&self, message: impl FnOnce() -> String) {
        if self.verbose {
            println!("  {}", message());
        }
    }

    /// Records the outcome of `op` and checks it is a status the API
    /// documents for it (never Internal, which is a caught wasmcell bug)
    /// and that an error explains itself. Returns the error kind.
    fn status<T>(
        &mut self,
        op: &str,
        result: &wasmcell::Result<T>,
        allowed: &[ErrorKind],
    ) -> Option<ErrorKind> {
        self.count("call:");
        match result {
            Ok(_) => {
                self.count(format!("{op}:Ok"));
                self.say(|| format!("{op}: Ok"));
                None
            }
            Err(e) => {
                let kind = e.kind();
                self.say(|| format!("{op}: {kind:?}: {}", e.message()));
                self.count(format!("{op}:{kind:?}"));
                if !allowed.contains(&kind) {
                    self.fail(format!(
                        "{op} returned {kind:?}, which its documentation does not list ({allowed:?}): {}",
                        e.message()
                    ));
                } else if e.message().is_empty() {
                    self.fail(format!("{op} returned {kind:?} with an empty message"));
                }
                Some(kind)
            }
        }
    }

    fn sentinel(&mut self, sentinel: &Program) {
        if let Err(e) = sentinel.poll() {
            self.fail(format!(
                "the sentinel program in the same runtime stopped polling: {:?}: {}",
                e.kind(),
                e.message()
            ));
        }
    }

    /// Polls and checks that state, fault kind and counters follow from the result.
    fn poll(&mut self, p: &Program, what: &str) -> Polled {
        let before = p.stats().polls;
        let result = p.poll();
        let kind = self.status("poll", &result, POLL);
        let polled = match kind {
            None => Polled::Ok,
            Some(k @ (Trap | Budget | Host | GuestFault | Watchdog)) => {
                let fault = p.fault_kind();
                self.count(format!("poll-fault:{fault:?}"));
                if p.state() != ProgramState::Faulted {
                    self.fail(format!(
                        "{what}: poll returned {k:?} but the program is {:?}",
                        p.state()
                    ));
                }
                if fault.error_kind() != k {
                    self.fail(format!(
                        "{what}: poll returned {k:?} with fault kind {fault:?}"
                    ));
                }
                if let Some(f) = p.fault() {
                    if f.message.len() > MAX_FAULT_MESSAGE {
                        self.fail(format!(
                            "{what}: fault message of {} bytes",
                            f.message.len()
                        ));
                    }
                }
                if p.stats().polls != before + 1 {
                    self.fail(format!("{what}: a faulting poll was not counted"));
                }
                Polled::Fault(fault)
            }
            Some(k) => Polled::Refused(k),
        };
        if polled == Polled::Ok {
            if p.state() != ProgramState::Ready {
                self.fail(format!(
                    "{what}: poll succeeded but the program is {:?}",
                    p.state()
                ));
            }
            if p.stats().polls != before + 1 {
                self.fail(format!("{what}: a successful poll was not counted"));
            }
        }
        if let Polled::Fault(_) = polled {
            // A faulted program refuses polls until reset or reload.
            let again = p.poll();
            if self.status("poll", &again, POLL) != Some(Faulted) {
                self.fail(format!(
                    "{what}: a faulted program's next poll returned {:?}",
                    again.as_ref().err().map(|e| e.kind())
                ));
            }
        }
        polled
    }

    /// Checks the state after reset, reload or commit.
    fn after_swap(
        &mut self,
        p: &Program,
        what: &str,
        kind: Option<ErrorKind>,
        before: (ProgramState, FaultKind),
    ) {
        match kind {
            None => {
                if p.state() != ProgramState::Ready || p.fault_kind() != FaultKind::None {
                    self.fail(format!(
                        "{what} succeeded but the program is {:?} ({:?})",
                        p.state(),
                        p.fault_kind()
                    ));
                }
            }
            Some(InvalidHandle | Busy) => {}
            Some(k) if what == "reset" => {
                if p.state() != ProgramState::Faulted {
                    self.fail(format!(
                        "reset failed with {k:?} but the program is {:?}, not FAULTED",
                        p.state()
                    ));
                }
            }
            Some(k) => {
                if (p.state(), p.fault_kind()) != before {
                    self.fail(format!(
                        "{what} failed with {k:?} but the running version changed: {before:?} -> {:?}",
                        (p.state(), p.fault_kind())
                    ));
                }
            }
        }
    }
}

fn define_host_functions(rt: &Runtime, max_line: Arc<AtomicU64>) {
    for f in HOST_FUNCTIONS {
        let name = f.name;
        rt.define(
            HOST_MODULE,
            name,
            f.signature,
            move |call: &mut HostCall<'_>, args: &[Val], results: &mut [Val]| -> Result<(), i32> {
                let args: Vec<Arg> = args
                    .iter()
                    .map(|a| match *a {
                        Val::I32(v) => Arg::I32(v),
                        Val::I64(v) => Arg::I64(v),
                        Val::F32(v) => Arg::F32(v),
                        Val::F64(v) => Arg::F64(v),
                        Val::Buf { offset, len } => Arg::Buf(offset, len),
                    })
                    .collect();
                match raw::host_call(name, call.memory(), &args) {
                    Ok(out) => {
                        for (slot, value) in results.iter_mut().zip(out) {
                            *slot = match value {
                                Arg::I32(v) => Val::I32(v),
                                Arg::I64(v) => Val::I64(v),
                                Arg::F32(v) => Val::F32(v),
                                Arg::F64(v) => Val::F64(v),
                                Arg::Buf(..) => Val::I32(0),
                            };
                        }
                        Ok(())
                    }
                    Err(HostFail::Code(code)) => {
                        call.set_error_message(format!("fuzz.{name} refused its arguments"));
                        Err(code)
                    }
                    Err(HostFail::Panic) => std::panic::panic_any(DeliberatePanic),
                }
            },
        )
        .expect("defining a fuzzer host function");
    }
    rt.set_clock(|| CLOCK_NS).expect("clock");
    rt.set_log_sink(move |_program: &str, _level: LogLevel, message: &[u8]| {
        max_line.fetch_max(message.len() as u64, Ordering::Relaxed);
    })
    .expect("log sink");
}

fn random_limits(rng: &mut Rng, bounded: bool) -> Limits {
    let mut limits = Limits {
        fuel_per_poll: rng.pick(&[300, 5_000, 100_000, 2_000_000]),
        max_memory_bytes: rng.pick(&[64 << 10, 1 << 20, 4 << 20, 64 << 20]),
        ..Limits::default()
    };
    if rng.chance(15) {
        limits.stack_bytes = rng.pick(&[64 << 10, 2 << 20]);
    }
    if rng.chance(8) {
        limits.max_module_bytes = rng.range(256, 8192);
    }
    if !bounded && rng.chance(10) {
        limits.max_table_elements = rng.range(0, 50) as u32;
    }
    // Deadline mode (no instruction count, the watchdog stops every call),
    // not for modules compared with raw wasmer under a budget.
    if !bounded && rng.chance(10) {
        limits.deadline_ns = rng.pick(&[2_000_000, 10_000_000]);
    }
    if rng.chance(5) {
        limits.max_functions = rng.range(1, 8) as u32;
    }
    limits
}

fn random_signal_value(rng: &mut Rng) -> SignalValue {
    let any = rng.next_u64() as i32 as i128;
    if rng.chance(50) {
        SignalValue::Int(rng.pick(&[
            0i128,
            1,
            -1,
            127,
            255,
            256,
            -32769,
            i64::MAX as i128,
            u64::MAX as i128,
            i128::MAX,
            any,
        ]))
    } else {
        SignalValue::Float(rng.pick(&[
            0.0,
            -0.0,
            0.5,
            1.0,
            3.0,
            -7.25,
            1e300,
            f64::NAN,
            f64::INFINITY,
            4294967296.0,
        ]))
    }
}

/// The process image calls: byte ranges in and out of range, every signal
/// read, input signals written with values in and out of range.
fn exercise_image(it: &mut Iteration, p: &Program) {
    let layout = p.image_layout();
    for (area, len) in [
        (0, layout.inputs.len as usize),
        (1, layout.outputs.len as usize),
    ] {
        for _ in 0..2 {
            let offset = it.rng.below(len as u64 + 8) as usize;
            let count = it.rng.below(len as u64 + 8) as usize;
            let inside = offset + count <= len;
            let mut buf = vec![0xa5u8; count];
            let (op, kind) = if area == 0 {
                let r = p.write_inputs(offset, &buf);
                ("write_inputs", it.status("write_inputs", &r, IMAGE_BYTES))
            } else {
                let r = p.read_outputs(offset, &mut buf);
                ("read_outputs", it.status("read_outputs", &r, IMAGE_BYTES))
            };
            if inside != kind.is_none() {
                it.fail(format!(
                    "{op}({offset}, {count}) on a {len}-byte area returned {kind:?}"
                ));
            }
        }
    }
    for (id, signal) in p.signals() {
        let r = p.get_signal(id);
        it.status("signal_get", &r, SIGNAL_GET);
        if it.rng.chance(60) {
            let value = random_signal_value(&mut it.rng);
            let r = p.set_signal(id, value);
            let kind = it.status("signal_set", &r, SIGNAL_SET);
            if signal.area != Area::Input && kind.is_none() {
                it.fail(format!(
                    "signal_set on {:?} signal '{}' succeeded",
                    signal.area, signal.name
                ));
            }
        }
    }
    let bogus = it.rng.next_u64() as u32 | 0x8000_0000;
    let r = p.get_signal(bogus);
    if it.status("signal_get", &r, SIGNAL_GET).is_none() {
        it.fail(format!("signal_get of bogus id {bogus:#x} succeeded"));
    }
}

/// Compares wasmcell's first polls of a freshly loaded module with raw
/// wasmer's, allowing differences only where wasmcell's budget (or the
/// stack, a resource limit too) stopped the guest.
#[allow(clippy::too_many_arguments)]
fn differential(
    it: &mut Iteration,
    bytes: &[u8],
    fuel: u64,
    load: Result<(), (ErrorKind, String)>,
    input_area: (u32, u32),
    output_area: (u32, u32),
    inputs: &[Vec<u8>],
    polls: &[Polled],
    outputs: &[Option<Vec<u8>>],
) {
    phase(Phase::Differential);
    let guard = fuel.saturating_mul(4).saturating_add(1_000_000);
    let report = match raw::run(bytes, guard, input_area, output_area, inputs) {
        Ok(report) => report,
        Err(e) => {
            it.fail(format!(
                "raw wasmer refused to compile a module wasmcell compiled: {e}"
            ));
            return;
        }
    };
    it.count("diff:modules");
    it.say(|| {
        format!(
            "raw wasmer: load {:?}, polls {:?}",
            report.load, report.polls
        )
    });
    match (&load, &report.load) {
        (Ok(()), RawOutcome::Ok) => it.count("diff:load-agreed"),
        (
            _,
            RawOutcome::Fault {
                kind: FaultKind::StackOverflow,
                ..
            },
        ) => {
            it.count("diff:skip-stack");
            return;
        }
        (Err((_, message)), RawOutcome::Exhausted) if message.contains("budget") => {
            it.count("diff:skip-budget");
            return;
        }
        (_, RawOutcome::Exhausted) => {
            it.count("diff:skip-guard");
            return;
        }
        (Ok(()), other) => {
            it.fail(format!(
                "wasmcell loaded the module, raw wasmer's load gave {other:?}"
            ));
            return;
        }
        (Err((_, message)), RawOutcome::Ok) => {
            if message.contains("budget") {
                it.count("diff:skip-budget");
            } else if message.contains("stack overflow") {
                it.count("diff:skip-stack");
            } else {
                it.fail(format!("wasmcell's load failed ({message}) but raw wasmer loaded, ran wasmcell_image and init"));
            }
            return;
        }
        (Err((_, message)), RawOutcome::Fault { kind, buffer }) => {
            let described = match kind {
                FaultKind::HostError | FaultKind::Other | FaultKind::GuestReported => true,
                _ if *buffer => true,
                kind => message.contains(kind.describe()),
            };
            if described || message.contains("budget") || message.contains("stack overflow") {
                it.count("diff:load-agreed");
            } else {
                it.fail(format!(
                    "wasmcell's load failed with \"{message}\", raw wasmer's with {kind:?}"
                ));
            }
            return;
        }
        (Err((_, message)), RawOutcome::Setup(raw)) => {
            it.fail(format!(
                "wasmcell's load failed ({message}), raw wasmer could not instantiate ({raw})"
            ));
            return;
        }
    }
    for (k, (mine, theirs)) in polls.iter().zip(&report.polls).enumerate() {
        match (mine, theirs) {
            (Polled::Fault(FaultKind::BudgetExhausted), _) => {
                it.count("diff:skip-budget");
                return;
            }
            (Polled::Fault(FaultKind::StackOverflow), _)
            | (
                _,
                RawOutcome::Fault {
                    kind: FaultKind::StackOverflow,
                    ..
                },
            ) => {
                it.count("diff:skip-stack");
                return;
            }
            (_, RawOutcome::Exhausted) => {
                it.count("diff:skip-guard");
                return;
            }
            (Polled::Ok, RawOutcome::Ok) => {
                it.count("diff:poll-agreed");
                let (a, b) = (outputs.get(k), report.outputs.get(k));
                if let (Some(Some(a)), Some(Some(b))) = (a, b) {
                    if a == b {
                        it.count("diff:outputs-agreed");
                    } else {
                        it.fail(format!(
                            "poll {k}: published outputs {a:?}, raw wasmer's output area {b:?}"
                        ));
                    }
                }
            }
            (Polled::Fault(a), RawOutcome::Fault { kind: b, .. }) if a == b => {
                it.count("diff:poll-agreed");
                return;
            }
            (mine, theirs) => {
                it.fail(format!(
                    "poll {k}: wasmcell {mine:?}, raw wasmer {theirs:?}"
                ));
                return;
            }
        }
    }
}

/// Checks that wasmcell and raw wasmer agree on whether a module compiles.
fn compile_agreement(it: &mut Iteration, bytes: &[u8], kind: Option<ErrorKind>) {
    if !bytes.starts_with(b"\0asm") || matches!(kind, Some(Limit | InvalidArgument)) {
        return;
    }
    let mine = kind != Some(Compile);
    let theirs = raw::compile(bytes);
    if mine == theirs.is_ok() {
        it.count("diff:compile-agreed");
    } else {
        it.fail(format!(
            "wasmcell {} the module, raw wasmer {}",
            if mine {
                "compiled"
            } else {
                "refused to compile"
            },
            match theirs {
                Ok(()) => "compiled it".to_string(),
                Err(e) => format!("refused it: {e}"),
            }
        ));
    }
}

fn expect_load(it: &mut Iteration, what: &str, class: Class, kind: Option<ErrorKind>) {
    let ok = match class {
        Class::NoPoll | Class::BadExport => matches!(kind, Some(Link | Limit)),
        Class::Empty => matches!(kind, Some(Compile | InvalidArgument)),
        Class::GarbageText => kind.is_some(),
        Class::Bounded | Class::Unbounded => kind != Some(InvalidArgument),
        _ => true,
    };
    if !ok {
        it.fail(format!("{what}: a {} module gave {kind:?}", class.name()));
    }
}

fn body(it: &mut Iteration) {
    phase(Phase::Generate);
    let class_a = gen::pick_class(&mut it.rng);
    let class_b = gen::pick_class(&mut it.rng);
    let limits = random_limits(&mut it.rng, class_a == Class::Bounded);
    let a: Generated = gen::generate(&mut it.rng, class_a, limits.max_memory_bytes);
    let b: Generated = gen::generate(&mut it.rng, class_b, limits.max_memory_bytes);
    *CURRENT_MODULES.lock().unwrap() = Some((it.seed, a.bytes.clone(), b.bytes.clone()));
    if limits.deadline_ns > 0 {
        it.count("limits:deadline mode");
    }
    for m in [&a, &b] {
        it.count(format!("module:{}", m.class.name()));
        if m.image {
            it.count("module:image");
        }
    }
    it.say(|| {
        format!(
            "module a: {} ({} bytes{}), module b: {} ({} bytes{}), limits: {limits:?}",
            a.class.name(),
            a.bytes.len(),
            if a.image { ", process image" } else { "" },
            b.class.name(),
            b.bytes.len(),
            if b.image { ", process image" } else { "" },
        )
    });

    phase(Phase::Setup);
    let rt = Runtime::new(RuntimeConfig { limits });
    let max_line = Arc::new(AtomicU64::new(0));
    define_host_functions(&rt, max_line.clone());
    let sentinel = rt
        .load("sentinel", SENTINEL.as_bytes())
        .expect("the sentinel loads");
    it.sentinel(&sentinel);

    phase(Phase::Load);
    let loaded = rt.load("a", &a.bytes);
    let kind = it.status("load", &loaded, LOAD);
    expect_load(it, "load", a.class, kind);
    if a.class.is_broken() || a.class == Class::OffFeature || kind == Some(Compile) {
        compile_agreement(it, &a.bytes, kind);
    }
    it.sentinel(&sentinel);
    let load_result = match &loaded {
        Ok(_) => Ok(()),
        Err(e) => Err((e.kind(), e.message().to_string())),
    };
    let p = match loaded {
        Ok(p) => p,
        Err(_) => {
            if a.class == Class::Bounded && kind == Some(Instantiate) {
                differential(
                    it,
                    &a.bytes,
                    limits.fuel_per_poll,
                    load_result,
                    (0, 0),
                    (0, 0),
                    &[],
                    &[],
                    &[],
                );
            }
            // Nothing to poll: still load the second module and close.
            let second = rt.load("b", &b.bytes);
            let kind = it.status("load", &second, LOAD);
            expect_load(it, "load of b", b.class, kind);
            if let Ok(q) = second {
                it.poll(&q, "b");
            }
            finish(it, &rt, &sentinel, None, &max_line);
            return;
        }
    };

    // ---- first polls, recorded for the differential check
    phase(Phase::Poll);
    let layout = p.image_layout();
    let input_area = (layout.inputs.offset, layout.inputs.len);
    let output_area = (layout.outputs.offset, layout.outputs.len);
    let (mut inputs, mut polls, mut outputs) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..it.rng.range(2, 6) {
        if input_area.1 > 0 && it.rng.chance(60) {
            let len = input_area.1 as usize;
            let offset = it.rng.below(len as u64) as usize;
            let count = it.rng.range(1, (len - offset) as u64) as usize;
            let data = it.rng.bytes(count);
            let r = p.write_inputs(offset, &data);
            it.status("write_inputs", &r, IMAGE_BYTES);
        }
        let mut snapshot = vec![0u8; input_area.1 as usize];
        if p.read_inputs(0, &mut snapshot).is_err() {
            it.fail("read_inputs of the whole input area failed");
        }
        let polled = it.poll(&p, &format!("poll {k}"));
        inputs.push(snapshot);
        let ok = polled == Polled::Ok;
        polls.push(polled);
        if ok {
            let mut published = vec![0u8; output_area.1 as usize];
            let r = p.read_outputs(0, &mut published);
            it.status("read_outputs", &r, IMAGE_BYTES);
            outputs.push((output_area.1 > 0).then_some(published));
        }
        it.sentinel(&sentinel);
        if !ok {
            break;
        }
    }
    if a.class == Class::Bounded {
        differential(
            it,
            &a.bytes,
            limits.fuel_per_poll,
            load_result,
            input_area,
            output_area,
            &inputs,
            &polls,
            &outputs,
        );
    }

    phase(Phase::Image);
    exercise_image(it, &p);

    phase(Phase::Limits);
    if it.rng.chance(40) {
        let fuel = it.rng.pick(&[0, 1, 1000, 50_000, 3_000_000]);
        let r = p.set_fuel(fuel);
        let kind = it.status("set_fuel", &r, SET_FUEL);
        let refused = fuel == 0 || p.deadline_mode();
        if refused != (kind == Some(InvalidArgument)) {
            it.fail(format!(
                "set_fuel({fuel}) returned {kind:?} (deadline mode: {})",
                p.deadline_mode()
            ));
        }
    }
    if it.rng.chance(20) {
        // A watchdog of 20 us .. 2 ms: some polls are stopped while they run.
        let time_ns = it.rng.pick(&[0, 20_000, 200_000, 2_000_000]);
        let sensitivity = it.rng.range(0, 3) as u32;
        let r = p.set_watchdog(time_ns, sensitivity);
        let kind = it.status("set_watchdog", &r, SET_WATCHDOG);
        let refused = time_ns == 0 && p.deadline_mode();
        if refused != (kind == Some(InvalidArgument)) {
            it.fail(format!(
                "set_watchdog({time_ns}) returned {kind:?} (deadline mode: {})",
                p.deadline_mode()
            ));
        }
        let mode = if it.rng.chance(50) {
            FaultOutputs::Hold
        } else {
            FaultOutputs::Defaults
        };
        let r = p.set_fault_outputs(mode);
        it.status("set_fault_outputs", &r, SET_FAULT_OUTPUTS);
    }
    if it.rng.chance(30) {
        let mut new_limits = p.limits();
        new_limits.max_memory_bytes = it.rng.pick(&[0, 64 << 10, 1 << 20, 128 << 20]);
        new_limits.max_table_elements = it.rng.pick(&[0, 10, 100_000]);
        let r = p.set_limits(new_limits);
        it.status("set_limits", &r, SET_LIMITS);
    }

    phase(Phase::Reset);
    if it.rng.chance(70) {
        let before = (p.state(), p.fault_kind());
        let r = p.reset();
        let kind = it.status("reset", &r, RESET);
        it.after_swap(&p, "reset", kind, before);
        it.sentinel(&sentinel);
        for k in 0..it.rng.range(1, 2) {
            it.poll(&p, &format!("poll {k} after reset"));
        }
    }

    phase(Phase::Reload);
    let before = (p.state(), p.fault_kind());
    match it.rng.below(5) {
        0 | 1 => {
            let r = p.reload(&b.bytes);
            let kind = it.status("reload", &r, RELOAD);
            expect_load(it, "reload", b.class, kind);
            it.after_swap(&p, "reload", kind, before);
        }
        2 => {
            let r = p.prepare_reload(&b.bytes);
            let kind = it.status("prepare_reload", &r, RELOAD);
            expect_load(it, "prepare_reload", b.class, kind);
            if let Ok(mut prepared) = r {
                if it.rng.chance(50) {
                    it.poll(&p, "poll between prepare and commit");
                }
                // Shadow polls of the new version: nothing may reach the
                // running program (state, poll count, published outputs).
                let watched = |p: &Program| {
                    let mut outputs = vec![0u8; p.image_layout().outputs.len as usize];
                    let number = p.read_outputs(0, &mut outputs).unwrap_or(u64::MAX);
                    (p.state(), p.fault_kind(), p.stats().polls, number, outputs)
                };
                let before_shadow = watched(&p);
                for _ in 0..it.rng.range(0, 3) {
                    let r = prepared.shadow_poll();
                    it.status("shadow_poll", &r, SHADOW_POLL);
                    let mut out = vec![0u8; it.rng.below(16) as usize];
                    let r = prepared.read_outputs(it.rng.below(8) as usize, &mut out);
                    it.status("shadow_read_outputs", &r, IMAGE_BYTES);
                }
                if watched(&p) != before_shadow {
                    it.fail("a shadow poll changed the running program (state, poll count or published outputs)");
                }
                let before = (p.state(), p.fault_kind());
                let r = p.commit_reload(prepared);
                let kind = it.status("commit_reload", &r, COMMIT);
                it.after_swap(&p, "commit_reload", kind, before);
            } else {
                it.after_swap(&p, "prepare_reload", kind, before);
            }
        }
        3 => {
            let r = p.prepare_reload(&b.bytes);
            let kind = it.status("prepare_reload", &r, RELOAD);
            drop(r); // discarded
            it.after_swap(&p, "discarded reload", kind.or(Some(Busy)), before);
            if (p.state(), p.fault_kind()) != before {
                it.fail("discarding a prepared reload changed the running version");
            }
        }
        _ => {
            // A second swap lands between prepare and commit: the commit
            // still swaps its own version in (newest commit wins).
            let prepared = p.prepare_reload(&b.bytes);
            it.status("prepare_reload", &prepared, RELOAD);
            let garbage = gen::generate(&mut it.rng, Class::BitFlipped, limits.max_memory_bytes);
            let before = (p.state(), p.fault_kind());
            let r = p.reload(&garbage.bytes);
            let kind = it.status("reload", &r, RELOAD);
            it.after_swap(&p, "reload", kind, before);
            if let Ok(prepared) = prepared {
                let before = (p.state(), p.fault_kind());
                let r = p.commit_reload(prepared);
                let kind = it.status("commit_reload", &r, COMMIT);
                it.after_swap(&p, "commit_reload", kind, before);
            }
        }
    }
    it.sentinel(&sentinel);
    for k in 0..it.rng.range(1, 3) {
        it.poll(&p, &format!("poll {k} after reload"));
    }
    it.sentinel(&sentinel);

    phase(Phase::Second);
    if it.rng.chance(30) {
        let second = rt.load("b", &b.bytes);
        let kind = it.status("load", &second, LOAD);
        expect_load(it, "load of b", b.class, kind);
        if let Ok(q) = second {
            it.poll(&q, "second program");
            // A reload prepared for one program cannot be committed on another.
            if let Ok(prepared) = q.prepare_reload(SENTINEL.as_bytes()) {
                let r = p.commit_reload(prepared);
                if it.status("commit_reload", &r, COMMIT) != Some(InvalidArgument) {
                    it.fail("a reload prepared for another program was committed");
                }
            }
            it.poll(&p, "first program beside the second");
        }
    }

    phase(Phase::Unload);
    let unload_now = it.rng.chance(70);
    if unload_now {
        let r = p.unload();
        if it.status("unload", &r, UNLOAD).is_some() {
            it.fail("unloading a loaded program failed");
        }
        let stale = p.prepare_reload(SENTINEL.as_bytes());
        for (op, kind) in [
            ("poll", p.poll().err().map(|e| e.kind())),
            ("reset", p.reset().err().map(|e| e.kind())),
            (
                "reload",
                p.reload(SENTINEL.as_bytes()).err().map(|e| e.kind()),
            ),
            ("prepare_reload", stale.err().map(|e| e.kind())),
            ("unload", p.unload().err().map(|e| e.kind())),
            ("set_fuel", p.set_fuel(1).err().map(|e| e.kind())),
        ] {
            it.count(format!(
                "after-unload:{op}:{}",
                kind.map_or("Ok".into(), |k| format!("{k:?}"))
            ));
            if kind != Some(InvalidHandle) {
                it.fail(format!("{op} on an unloaded program returned {kind:?}"));
            }
        }
        if p.state() != ProgramState::Unloaded {
            it.fail(format!("an unloaded program is {:?}", p.state()));
        }
    }
    finish(it, &rt, &sentinel, Some(&p), &max_line);
}

fn finish(
    it: &mut Iteration,
    rt: &Runtime,
    sentinel: &Program,
    p: Option<&Program>,
    max_line: &AtomicU64,
) {
    it.sentinel(sentinel);
    phase(Phase::Close);
    let r = rt.close();
    if it.status("close", &r, CLOSE).is_some() {
        it.fail("closing the runtime failed");
    }
    for program in [Some(sentinel), p].into_iter().flatten() {
        if program.poll().err().map(|e| e.kind()) != Some(InvalidHandle) {
            it.fail("a program of a closed runtime still polls");
        }
    }
    let r = rt.load("late", SENTINEL.as_bytes());
    if r.err().map(|e| e.kind()) != Some(InvalidHandle) {
        it.fail("a closed runtime still loads");
    }
    let line = max_line.load(Ordering::Relaxed) as usize;
    if line > MAX_OUTPUT_LINE {
        it.fail(format!("the log sink received a line of {line} bytes"));
    }
}

/// Runs one seed; returns its failures.
pub fn run_seed(seed: u64, verbose: bool, outcomes: &mut BTreeMap<String, u64>) -> Vec<String> {
    CURRENT_SEED.store(seed, Ordering::Relaxed);
    ITERATION_STARTED_MS.store(now_ms(), Ordering::Relaxed);
    if verbose {
        println!("seed {seed}:");
    }
    let mut it = Iteration {
        seed,
        verbose,
        outcomes,
        failures: Vec::new(),
        rng: Rng::new(seed),
    };
    let result = catch_unwind(AssertUnwindSafe(|| body(&mut it)));
    if let Err(panic) = result {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into());
        let phase = PHASES[CURRENT_PHASE.load(Ordering::Relaxed)];
        it.fail(format!("panic during {phase}: {text}"));
    }
    ITERATION_STARTED_MS.store(0, Ordering::Relaxed);
    let failures = it.failures;
    if !failures.is_empty() {
        if let Some((s, a, b)) = CURRENT_MODULES.lock().unwrap().as_ref() {
            if *s == seed {
                save_modules(seed, a, b);
            }
        }
    }
    failures
}

/// Runs the fuzzer as `options` say and returns the summary (printing
/// progress, not the summary).
pub fn run(options: &Options) -> Summary {
    install_guards(options.hang_seconds);
    *SAVE_DIR.lock().unwrap() = options.save_dir.clone();
    let start = Instant::now();
    let mut summary = Summary {
        first_seed: options.seed,
        rss_start_kib: rss_kib(),
        fds: (open_fds(), 0),
        threads: (threads(), 0),
        rss_tolerance_mib: options.rss_tolerance_mib,
        ..Default::default()
    };
    let mut last_progress = Instant::now();
    let mut warm_done = false;
    let mut i = 0u64;
    loop {
        if options.iterations.is_some_and(|n| i >= n)
            || options
                .seconds
                .is_some_and(|s| start.elapsed().as_secs_f64() >= s)
        {
            break;
        }
        let seed = options.seed.wrapping_add(i);
        let began = Instant::now();
        let failures = run_seed(seed, options.verbose, &mut summary.outcomes);
        let took = began.elapsed();
        if took > summary.slowest.1 {
            summary.slowest = (seed, took);
        }
        for message in failures {
            if options.progress {
                eprintln!("FAIL seed {seed}: {message}");
            }
            summary.failures.push(Failure {
                seed: Some(seed),
                message,
            });
        }
        i += 1;
        let warm = options.iterations.is_some_and(|n| i * 5 >= n)
            || options
                .seconds
                .is_some_and(|s| start.elapsed().as_secs_f64() * 5.0 >= s);
        if warm && !warm_done {
            warm_done = true;
            summary.rss_warm_kib = trimmed_rss_kib();
            summary.heap_warm_kib = heap_kib();
            summary.warm_iteration = i;
        }
        if options.progress && last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            eprintln!(
                "  {:>6.0} s: {i} iterations ({:.1}/s), {} failures, RSS {:.1} MiB, heap in use {:.1} MiB",
                start.elapsed().as_secs_f64(),
                i as f64 / start.elapsed().as_secs_f64(),
                summary.failures.len(),
                trimmed_rss_kib() as f64 / 1024.0,
                heap_kib() as f64 / 1024.0
            );
        }
    }
    summary.iterations = i;
    summary.elapsed = start.elapsed();
    summary.rss_peak_kib = status_field("VmHWM:");
    summary.rss_end_kib = trimmed_rss_kib();
    summary.heap_end_kib = heap_kib();
    if !warm_done {
        summary.rss_warm_kib = summary.rss_start_kib;
        summary.heap_warm_kib = summary.heap_end_kib;
    }
    summary.fds.1 = open_fds();
    summary.threads.1 = threads();
    let growth = summary.rss_end_kib.saturating_sub(summary.rss_warm_kib);
    if i >= 50 && growth > options.rss_tolerance_mib * 1024 {
        summary.failures.push(Failure {
            seed: None,
            message: format!(
                "resident memory (after malloc_trim) grew by {:.1} MiB between iteration {} and the end ({} iterations): a leak?",
                growth as f64 / 1024.0,
                summary.warm_iteration,
                i
            ),
        });
    }
    let heap_growth = summary.heap_end_kib.saturating_sub(summary.heap_warm_kib);
    if i >= 50 && heap_growth > HEAP_TOLERANCE_KIB {
        summary.failures.push(Failure {
            seed: None,
            message: format!(
                "memory held by the allocator's users grew by {:.1} MiB between iteration {} and the end: a leak",
                heap_growth as f64 / 1024.0,
                summary.warm_iteration
            ),
        });
    }
    summary
}
