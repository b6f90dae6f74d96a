//! Compiling a module and turning it into a live, linked instance: the part of
//! a program that is replaced on reset and reload.

use crate::budget::FUEL_GLOBAL_EXPORT;
use crate::builtins::{builtin, builtin_type};
use crate::compile::CompiledModule;
use crate::error::{Error, ErrorKind, Result};
use crate::fault::{Fault, FaultKind};
use crate::image::{read_layout, ImageLayout, IMAGE_EXPORT};
use crate::limits::{clamp_stack, with_instance_limits, Limits, DEFAULT_STACK_BYTES};
use crate::log::LogLevel;
use crate::runtime::RuntimeShared;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use wasmer::{
    AsStoreMut, AsStoreRef, ExternType, FunctionEnv, FunctionType, Global, Imports, Instance,
    InstantiationError, Memory, Module, RuntimeError, Store, Type, TypedFunction,
};

/// Per-instance data reachable from imports.
pub(crate) struct GuestEnv {
    pub(crate) memory: Option<Memory>,
    pub(crate) program_name: Arc<str>,
    pub(crate) program_tag: u64,
    pub(crate) runtime: Arc<RuntimeShared>,
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
    pub(crate) random: crate::wasi::Random,
}

/// What the guest wrote during the current call into it: bytes against the
/// per-poll cap, and whether partial lines wait in the stdio buffers (read
/// by the host after each call without touching the guest's environment).
#[derive(Default)]
pub(crate) struct OutputMeter {
    bytes: AtomicU64,
    pending: AtomicBool,
    /// The guest logged an error line during the current call.
    error_line: AtomicBool,
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
            self.runtime.log_sink().log(
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
        self.runtime
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

enum PollFunction {
    Unit(TypedFunction<(), ()>),
    Status(TypedFunction<(), i32>),
}

/// A linked instance with its own store: one program's live state.
pub(crate) struct LiveInstance {
    pub(crate) compiled: CompiledModule,
    pub(crate) store: Store,
    pub(crate) instance: Instance,
    env: FunctionEnv<GuestEnv>,
    memory: Option<Memory>,
    pub(crate) image: Arc<ImageLayout>,
    fuel: FuelCounter,
    /// The stop floor the budget checks compare with (0, or raised by the watchdog).
    floor: FuelCounter,
    /// Guest output of the current call, shared with the built-ins.
    output: Arc<OutputMeter>,
    /// Whether calls must run on a stack of exactly this program's size
    /// (see [`OwnStack`]).
    exact_stack: bool,
    /// The output area right after instantiation (before `init`).
    initial_outputs: Vec<u8>,
    poll: PollFunction,
}

/// Whether a program's stack size differs from the default, so that its
/// calls must not run on (or leave behind) a pooled stack of another size.
fn needs_own_stack(limits: &Limits) -> bool {
    clamp_stack(limits.stack_bytes) != clamp_stack(DEFAULT_STACK_BYTES)
}

/// wasmer runs guest calls on pooled stacks and reuses any pooled stack at
/// least as large as the one asked for, so after a program with a 100 MiB
/// stack ran, a 512 KiB program would recurse 100 MiB deep. A program whose
/// stack size is not the default empties the pool before its call (it gets a
/// fresh stack of its own size) and after it (nobody inherits it). This costs
/// a stack mapping per call for such programs only; the default size keeps
/// the pool. Best effort across threads: another thread may return a stack
/// to the shared pool meanwhile (its own cache is per thread).
struct OwnStack(bool);

impl OwnStack {
    fn enter(exact: bool) -> Self {
        if exact {
            crate::engine::drain_stack_pool();
        }
        Self(exact)
    }
}

impl Drop for OwnStack {
    fn drop(&mut self) {
        if self.0 {
            crate::engine::drain_stack_pool();
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
    fn of(store: &mut Store, global: &Global) -> Option<Self> {
        crate::engine::global_definition(store, global).map(Self)
    }

    /// The counter as an atomic: besides the polling thread, the watchdog
    /// thread may write it while the guest runs (relaxed atomics compile to
    /// the same plain moves the guest uses).
    fn atomic(&self) -> &std::sync::atomic::AtomicI64 {
        // SAFETY: the definition is boxed inside the store, which owns the
        // `LiveInstance`'s and the `GuestEnv`'s copies of this pointer, so it
        // outlives them; the global is an aligned i64 (added by the budget
        // middleware), only ever accessed as an i64.
        unsafe { std::sync::atomic::AtomicI64::from_ptr(self.ptr()) }
    }

    fn ptr(&self) -> *mut i64 {
        // SAFETY: a field projection inside the live definition (see `atomic`).
        unsafe { std::ptr::addr_of_mut!((*self.0.as_ptr()).val.i64) }
    }

    fn set(&mut self, value: i64) {
        self.atomic().store(value, Ordering::Relaxed);
    }

    fn get(&self) -> i64 {
        self.atomic().load(Ordering::Relaxed)
    }
}

// SAFETY: wasmer 7 marks `Store` !Send only because of its optional
// `on_called` hook (a non-Send boxed closure), which wasmcell never installs.
// Everything else a store owns (instances, memories, tables) is plain data
// owned by the store. The budget counter's pointer points into that
// same store and moves with it. A `LiveInstance` is only ever touched by one thread at a
// time: it lives behind its program's mutex.
unsafe impl Send for LiveInstance {}

/// What one call into the guest did.
pub(crate) struct CallOutcome {
    pub(crate) fuel_used: u64,
    pub(crate) fault: Option<Fault>,
}

impl LiveInstance {
    /// Calls `poll` with `fuel` as its budget.
    pub(crate) fn poll(&mut self, program: &str, fuel: u64) -> CallOutcome {
        self.set_fuel(fuel);
        self.output.bytes.store(0, Ordering::Relaxed);
        self.output.error_line.store(false, Ordering::Relaxed);
        let own_stack = OwnStack::enter(self.exact_stack);
        let result = match &self.poll {
            PollFunction::Unit(f) => f.call(&mut self.store).map(|()| 0),
            PollFunction::Status(f) => f.call(&mut self.store),
        };
        drop(own_stack);
        self.flush_output();
        self.outcome(program, "poll", fuel, result)
    }

    /// Marks calls as shadow calls (or not) for host callbacks.
    pub(crate) fn set_shadow(&mut self, shadow: bool) {
        self.env.as_mut(&mut self.store).shadow = shadow;
    }

    /// The guest's output area, as it is now.
    pub(crate) fn output_area(&mut self) -> Vec<u8> {
        let range = self.image.outputs.range();
        self.memory_mut()[range].to_vec()
    }

    /// Copies `inputs` (the running program's input buffer) into this
    /// instance's input area, as far as both extend.
    pub(crate) fn copy_inputs(&mut self, inputs: &[u8]) {
        let range = self.image.inputs.range();
        let area = &mut self.memory_mut()[range];
        let len = area.len().min(inputs.len());
        area[..len].copy_from_slice(&inputs[..len]);
    }

    /// Where the stop floor lives, for the watchdog.
    pub(crate) fn floor_ptr(&self) -> *mut i64 {
        self.floor.ptr()
    }

    /// Lowers the stop floor again after the watchdog raised it.
    pub(crate) fn reset_floor(&mut self) {
        self.floor.set(0);
    }

    /// The output area as the module initialised it (safe outputs).
    pub(crate) fn initial_outputs(&self) -> &[u8] {
        &self.initial_outputs
    }

    /// Writes out WASI output lines still waiting for their newline: the
    /// output of one call into the guest appears when the call ends.
    fn flush_output(&mut self) {
        if self.output.pending.swap(false, Ordering::Relaxed) {
            self.env.as_mut(&mut self.store).flush_stdio();
        }
    }

    pub(crate) fn set_program_tag(&mut self, tag: u64) {
        self.env.as_mut(&mut self.store).program_tag = tag;
    }

    fn set_fuel(&mut self, fuel: u64) {
        self.fuel.set(fuel.min(i64::MAX as u64) as i64);
    }

    fn outcome(
        &mut self,
        program: &str,
        function: &str,
        fuel: u64,
        result: Result<i32, RuntimeError>,
    ) -> CallOutcome {
        let remaining = self.fuel.get();
        let fuel_used = (fuel as i64).saturating_sub(remaining.max(0)) as u64;
        let fault = match result {
            Ok(0) => None,
            Ok(code) => Some(Fault {
                kind: FaultKind::GuestReported,
                message: format!("program '{program}': {function} returned fault code {code}"),
            }),
            Err(error) => Some(Fault::from_runtime_error(
                program,
                function,
                error,
                remaining < 0,
            )),
        };
        let fault = fault.map(|mut fault| {
            // A guest that logs an error and then traps (a panic handler)
            // explained its fault: the message says so.
            if fault.kind == FaultKind::Unreachable
                && self.output.error_line.swap(false, Ordering::Relaxed)
            {
                let line = self
                    .env
                    .as_ref(&self.store)
                    .last_error_line
                    .borrow()
                    .clone();
                fault.message =
                    crate::fault::bounded(format!("{} (after logging: {line})", fault.message));
            }
            fault
        });
        CallOutcome { fuel_used, fault }
    }
}

/// Links and instantiates `compiled` for the program `name` and reads its
/// process image descriptor. `init` is run separately ([`LiveInstance::run_init`]),
/// once the retain area has been carried over.
pub(crate) fn instantiate(
    runtime: &Arc<RuntimeShared>,
    compiled: &CompiledModule,
    name: &Arc<str>,
    tag: u64,
    limits: &Limits,
) -> Result<LiveInstance> {
    let mut store = Store::new(compiled.engine.clone());
    let output = Arc::new(OutputMeter::default());
    let env = FunctionEnv::new(
        &mut store,
        GuestEnv {
            memory: None,
            program_name: name.clone(),
            program_tag: tag,
            runtime: runtime.clone(),
            start_kind: StartKind::Cold,
            shadow: false,
            retain_restored: false,
            fuel: None,
            floor: None,
            output: output.clone(),
            last_error_line: std::cell::RefCell::new(String::new()),
            stdio: [Vec::new(), Vec::new()],
            random: crate::wasi::Random::new(runtime.random_seed(), name),
        },
    );
    let imports = link(&mut store, &env, &compiled.module, runtime)?;
    let exact_stack = needs_own_stack(limits);
    let (instance, refused) = with_instance_limits(limits, || {
        let _own_stack = OwnStack::enter(exact_stack);
        Instance::new(&mut store, &compiled.module, &imports).map_err(Box::new)
    });
    let instance = instance.map_err(|e| match (refused, *e) {
        (Some(why), _) => Error::new(ErrorKind::Limit, why),
        (None, InstantiationError::Link(e)) => {
            Error::new(ErrorKind::Link, format!("cannot link the module: {e}"))
        }
        (None, InstantiationError::Start(trap)) => {
            let exhausted = start_budget_exhausted(&mut store);
            let fault = Fault::from_runtime_error(name, "start function", trap, exhausted);
            Error::new(ErrorKind::Instantiate, fault.message)
        }
        (None, other) => Error::new(
            ErrorKind::Instantiate,
            format!("cannot instantiate: {other}"),
        ),
    })?;

    let memory = instance.exports.get_memory("memory").ok().cloned();
    env.as_mut(&mut store).memory = memory.clone();
    if let Some(memory) = &memory {
        if limits.residency != crate::limits::Residency::OnDemand {
            let view = memory.view(&store);
            // SAFETY: the instance is not running (it has just been created
            // and nothing else holds its memory); the slice dies here.
            let bytes = unsafe { view.data_unchecked_mut() };
            if let Err(why) = make_resident(bytes, limits.residency) {
                runtime.log_sink().log(name, LogLevel::Warn, why.as_bytes());
            }
        }
    }
    let internal = |what: &str| Error::new(ErrorKind::Internal, format!("instance lacks {what}"));
    let fuel = instance
        .exports
        .get_global(FUEL_GLOBAL_EXPORT)
        .ok()
        .and_then(|global| FuelCounter::of(&mut store, global))
        .ok_or_else(|| internal("its budget counter"))?;
    let floor = instance
        .exports
        .get_global(crate::budget::FLOOR_GLOBAL_EXPORT)
        .ok()
        .and_then(|global| FuelCounter::of(&mut store, global))
        .ok_or_else(|| internal("its stop floor"))?;
    env.as_mut(&mut store).fuel = Some(fuel);
    env.as_mut(&mut store).floor = Some(floor);
    let poll = if compiled.poll_returns_status {
        PollFunction::Status(
            instance
                .exports
                .get_typed_function(&store, "poll")
                .map_err(|_| internal("`poll`"))?,
        )
    } else {
        PollFunction::Unit(
            instance
                .exports
                .get_typed_function(&store, "poll")
                .map_err(|_| internal("`poll`"))?,
        )
    };
    let mut live = LiveInstance {
        compiled: compiled.clone(),
        store,
        instance,
        env,
        memory,
        image: Arc::default(),
        fuel,
        floor,
        output,
        exact_stack,
        initial_outputs: Vec::new(),
        poll,
    };
    if live.compiled.has_initialize {
        live.call_unit_export(name, "_initialize", limits.fuel_per_poll)?;
    }
    live.image = Arc::new(live.read_image(name, limits.fuel_per_poll)?);
    let outputs = live.image.outputs.range();
    live.initial_outputs = live.memory_mut()[outputs].to_vec();
    Ok(live)
}

/// Faults every page of `bytes` in now (and locks them for
/// [`crate::limits::Residency::Lock`]), so the control loop does not take the
/// faults. Err says why the lock was refused (the pages stay prefaulted).
fn make_resident(
    bytes: &mut [u8],
    residency: crate::limits::Residency,
) -> std::result::Result<(), String> {
    const PAGE: usize = 4096;
    for page in bytes.chunks_mut(PAGE) {
        // A write (of the value already there) maps a private page; a read
        // would only map the shared zero page.
        // SAFETY: `page` is a valid, exclusive slice of at least one byte.
        unsafe {
            std::ptr::write_volatile(page.as_mut_ptr(), std::ptr::read_volatile(page.as_ptr()))
        };
    }
    #[cfg(unix)]
    if residency == crate::limits::Residency::Lock && !bytes.is_empty() {
        // SAFETY: locks the pages of a live mapping; unmapping the memory
        // (when the instance is dropped) releases the lock.
        if unsafe { libc::mlock(bytes.as_ptr().cast(), bytes.len()) } != 0 {
            return Err(format!(
                "could not lock the program's {} bytes of memory in RAM ({}); they are prefaulted but may be paged out (raise RLIMIT_MEMLOCK)",
                bytes.len(),
                std::io::Error::last_os_error()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = residency;
    Ok(())
}

/// Whether the start function that just trapped ran out of budget. The
/// instance was never returned, but its globals live in the store: the
/// budget counter is the third-to-last one (the budget middleware appends it,
/// its length slot and the stop floor; wasmcell links no imported globals).
fn start_budget_exhausted(store: &mut Store) -> bool {
    let objects = store.objects_mut().as_sys();
    let globals: Vec<_> = objects.iter_globals().collect();
    let Some(counter) = globals.len().checked_sub(3).map(|i| globals[i]) else {
        return false;
    };
    // SAFETY: the definition belongs to this store, which is alive and not
    // running guest code; the counter global is an i64.
    unsafe { counter.vmglobal().as_ref().val.i64 < 0 }
}

impl LiveInstance {
    /// The guest's whole linear memory (empty if it exports none).
    pub(crate) fn memory_mut(&mut self) -> &mut [u8] {
        match &self.memory {
            Some(memory) => {
                let view = memory.view(&self.store);
                // SAFETY: no guest code runs while the host holds `&mut self`
                // (the instance is behind its program's lock), so nothing else
                // accesses the memory; the slice borrows `self`, so it cannot
                // outlive a `memory.grow` made by a later call.
                unsafe {
                    std::slice::from_raw_parts_mut(view.data_ptr(), view.data_size() as usize)
                }
            }
            None => &mut [],
        }
    }

    /// Calls the guest's `wasmcell_image` export, if any, and checks the
    /// descriptor it points to.
    fn read_image(&mut self, program: &str, fuel: u64) -> Result<ImageLayout> {
        let Ok(describe) = self
            .instance
            .exports
            .get_typed_function::<(), i32>(&self.store, IMAGE_EXPORT)
        else {
            if self.instance.exports.get_extern(IMAGE_EXPORT).is_some() {
                return Err(Error::new(
                    ErrorKind::Link,
                    format!("export `{IMAGE_EXPORT}` must be a function () -> i32"),
                ));
            }
            return Ok(ImageLayout::default());
        };
        self.set_fuel(fuel);
        self.output.bytes.store(0, Ordering::Relaxed);
        self.output.error_line.store(false, Ordering::Relaxed);
        let own_stack = OwnStack::enter(self.exact_stack);
        let result = describe.call(&mut self.store);
        drop(own_stack);
        self.flush_output();
        let address = match result {
            Ok(address) => address as u32,
            Err(error) => {
                let exhausted = self.fuel.get() < 0;
                let fault = Fault::from_runtime_error(program, IMAGE_EXPORT, error, exhausted);
                return Err(Error::new(ErrorKind::Instantiate, fault.message));
            }
        };
        read_layout(self.memory_mut(), address)
            .map_err(|e| Error::new(ErrorKind::Link, e.to_string()))
    }

    /// Runs the guest's `init` (if it has one) under the budget, telling it
    /// through `wasmcell.start_kind()` why it starts.
    pub(crate) fn run_init(
        &mut self,
        program: &str,
        fuel: u64,
        start: StartKind,
        retain_restored: bool,
    ) -> Result<()> {
        {
            let guest = self.env.as_mut(&mut self.store);
            guest.start_kind = start;
            guest.retain_restored = retain_restored;
        }
        if !self.compiled.has_init {
            return Ok(());
        }
        self.call_unit_export(program, "init", fuel)
    }

    /// Calls the export `name: () -> ()` under the budget `fuel`; a fault
    /// fails the instantiation.
    fn call_unit_export(&mut self, program: &str, name: &str, fuel: u64) -> Result<()> {
        let init: TypedFunction<(), ()> = self
            .instance
            .exports
            .get_typed_function(&self.store, name)
            .map_err(|_| Error::new(ErrorKind::Internal, format!("instance lacks `{name}`")))?;
        self.set_fuel(fuel);
        self.output.bytes.store(0, Ordering::Relaxed);
        self.output.error_line.store(false, Ordering::Relaxed);
        let own_stack = OwnStack::enter(self.exact_stack);
        let result = init.call(&mut self.store).map(|()| 0);
        drop(own_stack);
        self.flush_output();
        match self.outcome(program, name, fuel, result).fault {
            Some(fault) => Err(Error::new(ErrorKind::Instantiate, fault.message)),
            None => Ok(()),
        }
    }
}

/// Resolves every import of `module`: host definitions first, then built-ins.
fn link(
    store: &mut Store,
    env: &FunctionEnv<GuestEnv>,
    module: &Module,
    runtime: &RuntimeShared,
) -> Result<Imports> {
    let mut imports = Imports::new();
    for import in module.imports() {
        let (module_name, name) = (import.module(), import.name());
        let ExternType::Function(wanted) = import.ty() else {
            return Err(Error::new(
                ErrorKind::Link,
                format!(
                    "import `{module_name}.{name}` is not a function ({:?}); wasmcell provides only functions",
                    import.ty()
                ),
            ));
        };
        let mismatch = |provided: &FunctionType, what: &str| {
            Error::new(
                ErrorKind::Link,
                format!(
                    "import `{module_name}.{name}` has type {} but the {what} has type {}",
                    show_type(wanted),
                    show_type(provided)
                ),
            )
        };
        let function = if let Some(definition) = runtime.host_function(module_name, name) {
            let provided = definition.signature.wasm_type();
            if &provided != wanted {
                return Err(mismatch(
                    &provided,
                    &format!("host function (signature \"{}\")", definition.signature),
                ));
            }
            crate::host_import::host_import(store, env, definition)
        } else if let Some(provided) = builtin_type(module_name, name) {
            if &provided != wanted {
                return Err(mismatch(&provided, "built-in"));
            }
            builtin(store, env, module_name, name).ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    format!("built-in {module_name}.{name} missing"),
                )
            })?
        } else {
            return Err(Error::new(
                ErrorKind::Link,
                format!(
                    "missing import `{module_name}.{name}` {}: define it on the runtime before loading",
                    show_type(wanted)
                ),
            ));
        };
        imports.define(module_name, name, function);
    }
    Ok(imports)
}

fn show_type(ty: &FunctionType) -> String {
    let list = |types: &[Type]| {
        types
            .iter()
            .map(|t| format!("{t:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!("({})", list(ty.params()));
    let _ = write!(text, " -> ({})", list(ty.results()));
    text
}
