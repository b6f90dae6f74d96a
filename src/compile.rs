//! Compiling: from the bytes a host hands over (binary wasm or WAT) to a
//! validated module with the budget instrumentation, on compile threads the
//! host controls (how many, at which priority), so a background compile does
//! not take the control thread's core.

use crate::error::{Error, ErrorKind, Result};
use crate::limits::{check_module_shape, LimitingTunables, Limits};
use std::borrow::Cow;
use std::num::NonZeroUsize;
use wasmer::sys::{Cranelift, EngineBuilder, Features};
use wasmer::{Engine, ExternType, Module, Type};

/// A compiled, validated module, shareable between programs.
#[derive(Clone)]
pub(crate) struct CompiledModule {
    pub(crate) module: Module,
    pub(crate) engine: Engine,
    pub(crate) poll_returns_status: bool,
    pub(crate) has_init: bool,
    /// A WASI reactor's `_initialize` (static constructors, libc set-up).
    pub(crate) has_initialize: bool,
}

/// The binary module behind `bytes` (binary wasm or WAT text), checked
/// against the size and shape limits before any compile work.
pub(crate) fn wasm_bytes<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Cow<'a, [u8]>> {
    if bytes.len() as u64 > limits.max_module_bytes {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "module is {} bytes, more than the limit of {} bytes",
                bytes.len(),
                limits.max_module_bytes
            ),
        ));
    }
    let wasm: Cow<[u8]> = if bytes.starts_with(b"\0asm") {
        Cow::Borrowed(bytes)
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            Error::new(
                ErrorKind::Compile,
                "not a WebAssembly module: no \\0asm header, and not UTF-8 WAT text",
            )
        })?;
        Cow::Owned(wat::parse_str(text).map_err(|e| {
            Error::new(
                ErrorKind::Compile,
                format!("not a WebAssembly module: no \\0asm header, and not valid WAT: {e}"),
            )
        })?)
    };
    check_module_shape(&wasm, limits)?;
    Ok(wasm)
}

/// The WebAssembly features wasmcell accepts. Each one enabled is bounded by
/// the budget and the limits; the rest would let a guest get past them:
/// threads (`memory.atomic.wait` blocks a poll forever), exceptions (every
/// `throw` keeps a host-side object until the instance dies), multi-memory
/// (the memory limit is per memory), memory64 (64-bit lengths), tail calls,
/// relaxed SIMD (results differ between machines) and the rest of the
/// unfinished proposals. A module that uses a disabled feature fails to
/// compile with a message naming it. Listed in `docs/guest-abi.md`.
pub(crate) fn enabled_features() -> Features {
    let mut features = Features::none();
    features
        .bulk_memory(true)
        .reference_types(true)
        .multi_value(true)
        .simd(true);
    features.extended_const = true;
    features
}

/// How compiles run: on how many threads, at which priority. Set per runtime
/// (`wasmcell_runtime_set_compile_threads`, `..._set_compile_priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileSettings {
    /// Threads cranelift compiles functions on. Default: one less than the
    /// machine's cores (at least 1), so a compile never takes every core
    /// and the control thread keeps one.
    pub threads: NonZeroUsize,
    /// Run compiles at background priority: on Linux the compile threads
    /// get nice 10 (below every normal-priority thread, above none), so a
    /// control thread at normal or real-time priority wins the CPU. Default
    /// on. Not applied on other systems (documented).
    pub background: bool,
}

impl Default for CompileSettings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self {
            threads: NonZeroUsize::new(cores.saturating_sub(1).max(1)).unwrap_or(NonZeroUsize::MIN),
            background: true,
        }
    }
}

/// The nice value of background compile threads.
const BACKGROUND_NICE: i32 = 10;

/// Runs `compile` on a thread of its own at the settings' priority; the
/// threads cranelift starts from there inherit it. Costs one thread start
/// (tens of microseconds) per compile, nothing per poll.
fn on_compile_thread<R: Send>(settings: CompileSettings, compile: impl FnOnce() -> R + Send) -> R {
    if !settings.background {
        return compile();
    }
    // Taken by whichever thread runs it: the worker, or the caller if no
    // thread can be started.
    let job = std::sync::Mutex::new(Some(compile));
    let take = || job.lock().ok().and_then(|mut job| job.take());
    let on_worker = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("wasmcell-compile".into())
            .spawn_scoped(scope, || {
                lower_this_threads_priority();
                take().map(|compile| compile())
            });
        match worker {
            Ok(worker) => match worker.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => None,
        }
    });
    match on_worker {
        Some(result) => result,
        // No thread to be had: compile here, at the caller's priority.
        None => match take() {
            Some(compile) => compile(),
            None => unreachable!("the compile job runs exactly once"),
        },
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: gettid and setpriority have no memory effects; on Linux the nice
    // value is per thread, and threads this one creates inherit it.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {
    let _ = BACKGROUND_NICE;
}

/// An engine for compiling or deserializing modules under `limits`:
/// cranelift with wasmcell's features and tunables carrying the stack size.
/// The budget is not in the engine: [`compile_wasm`] compiles the module
/// that `crate::budget::instrument` made of the guest's.
pub(crate) fn engine_for(limits: &Limits, settings: CompileSettings) -> Engine {
    let mut compiler = Cranelift::default();
    compiler.num_threads(settings.threads);
    let mut engine = EngineBuilder::new(compiler)
        .set_features(Some(enabled_features()))
        .engine();
    engine.set_tunables(LimitingTunables::new(limits.stack_bytes));
    engine.into()
}

/// How `limits` bound a program's calls: by counting, or by deadline only.
pub(crate) fn budget_mode(limits: &Limits) -> crate::budget::BudgetMode {
    if limits.deadline_ns > 0 {
        crate::budget::BudgetMode::Deadline
    } else {
        crate::budget::BudgetMode::Count
    }
}

/// Validates a binary module, adds the instruction budget and compiles it,
/// then checks the guest ABI. The guest's bytes are validated as they came
/// (so every error names what the guest wrote); only a valid module is
/// rewritten.
pub(crate) fn compile_wasm(
    wasm: &[u8],
    limits: &Limits,
    settings: CompileSettings,
) -> Result<CompiledModule> {
    let engine = engine_for(limits, settings);
    let compiled = on_compile_thread(settings, || {
        Module::validate(&engine, wasm).map_err(|e| invalid_module(wasm, &e.to_string()))?;
        let instrumented =
            crate::budget::instrument(wasm, limits.fuel_per_poll, budget_mode(limits)).map_err(
                |e| {
                    Error::new(
                        ErrorKind::Compile,
                        format!(
                    "invalid WebAssembly module: {e} (found while adding the instruction budget)"
                ),
                    )
                },
            )?;
        Module::new(&engine, &instrumented).map_err(|e| {
            Error::new(
                ErrorKind::Compile,
                format!("the module is valid, but the engine refuses it with the instruction budget added: {e}"),
            )
        })
    });
    CompiledModule::new(compiled?, engine)
}

/// The error for a module the engine's validator refused with `text`.
fn invalid_module(wasm: &[u8], text: &str) -> Error {
    // Valid with every proposal on: it failed for a feature wasmcell refuses.
    let uses_disabled_feature =
        wasmer::wasmparser::Validator::new_with_features(wasmer::wasmparser::WasmFeatures::all())
            .validate_all(wasm)
            .is_ok();
    let hint = if uses_disabled_feature {
        " (wasmcell does not enable this WebAssembly feature: threads, exceptions, multi-memory, memory64, tail calls and relaxed SIMD are refused; see docs/guest-abi.md)"
    } else {
        ""
    };
    Error::new(
        ErrorKind::Compile,
        format!("invalid WebAssembly module: {text}{hint}"),
    )
}

const POLL_TYPES: &str = "`poll: () -> ()` or `poll: () -> i32`";

fn bad_export(name: &str, found: &ExternType, expected: &str) -> Error {
    Error::new(
        ErrorKind::Link,
        format!("export `{name}` has type {found:?}; the guest ABI requires {expected}"),
    )
}

impl CompiledModule {
    /// Checks the guest ABI of a compiled (or deserialized) module.
    pub(crate) fn new(module: Module, engine: Engine) -> Result<Self> {
        let export_type = |name: &str| {
            module
                .exports()
                .find(|export| export.name() == name)
                .map(|export| export.ty().clone())
        };
        if export_type("_start").is_some() {
            return Err(Error::new(
                ErrorKind::Link,
                "the module is a WASI command (it exports `_start`): build it as a library that exports `poll` instead (Rust: `crate-type = [\"cdylib\"]`; clang: `-mexec-model=reactor`)",
            ));
        }
        let has_initialize = match export_type("_initialize") {
            Some(ExternType::Function(ty)) if ty.params().is_empty() && ty.results().is_empty() => {
                true
            }
            Some(other) => {
                return Err(bad_export("_initialize", &other, "`_initialize: () -> ()`"))
            }
            None => false,
        };
        let poll_returns_status = match export_type("poll") {
            Some(ExternType::Function(ty)) if ty.params().is_empty() => match ty.results() {
                [] => false,
                [Type::I32] => true,
                _ => return Err(bad_export("poll", &ExternType::Function(ty), POLL_TYPES)),
            },
            Some(other) => return Err(bad_export("poll", &other, POLL_TYPES)),
            None => {
                return Err(Error::new(
                    ErrorKind::Link,
                    format!("the module does not export a `poll` function (the guest ABI requires {POLL_TYPES})"),
                ))
            }
        };
        let has_init = match export_type("init") {
            Some(ExternType::Function(ty)) if ty.params().is_empty() && ty.results().is_empty() => {
                true
            }
            Some(other) => return Err(bad_export("init", &other, "`init: () -> ()`")),
            None => false,
        };
        Ok(CompiledModule {
            module,
            engine,
            poll_returns_status,
            has_init,
            has_initialize,
        })
    }
}

/// Runs the engine's one-time initialisation (trap handlers, code memory,
/// the first coroutine stack, lazy statics), once per process, so the first
/// poll of the first program costs what any first poll costs (~650 us moved
/// out of the control loop into the first `Runtime::new`).
pub(crate) fn warm_up_process() {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        // The poll's TSC clock calibrates itself on first use (~0.5 ms).
        let _ = quanta::Instant::now();
        let limits = Limits::default();
        let settings = CompileSettings {
            background: false,
            ..CompileSettings::default()
        };
        let Ok(compiled) = compile_wasm(WARM_UP_MODULE, &limits, settings) else {
            return;
        };
        let (module, engine) = (compiled.module, compiled.engine);
        let mut store = wasmer::Store::new(engine);
        let imports = wasmer::Imports::new();
        if let Ok(instance) = wasmer::Instance::new(&mut store, &module, &imports) {
            if let Ok(poll) = instance
                .exports
                .get_typed_function::<(), ()>(&store, "poll")
            {
                let _ = poll.call(&mut store);
            }
        }
    });
}

/// `(module (func (export "poll")))`, binary.
const WARM_UP_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x03, 0x02, 0x01, 0x00, // function section
    0x07, 0x08, 0x01, 0x04, b'p', b'o', b'l', b'l', 0x00, 0x00, // export "poll"
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: empty body
];
