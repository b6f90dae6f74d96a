//! Compiling a module and turning it into a live, linked instance: the part of
//! a program that is replaced on reset and reload.

use crate::budget::FUEL_GLOBAL_EXPORT;
use crate::compile::CompiledModule;
use crate::error::{Error, ErrorKind, Result};
use crate::fault::{Fault, FaultKind};
use crate::guest_env::{FuelCounter, GuestEnv, OutputMeter, Random, StartKind};
use crate::host::{CallWatch, HostServices};
use crate::image_layout::{read_layout, ImageLayout, IMAGE_EXPORT};
use crate::limits::{clamp_stack, with_instance_limits, Limits, DEFAULT_STACK_BYTES};
use crate::link::link;
use crate::log::LogLevel;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use wasmer::{
    AsStoreMut, FunctionEnv, Instance, InstantiationError, Memory, RuntimeError, Store,
    TypedFunction,
};

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
    /// Deadline mode: the watch that stops this instance's own calls (start
    /// function, `_initialize`, image descriptor, `init`, shadow polls).
    /// The running program's polls are watched by the program's watch.
    /// None: the instruction budget bounds every call.
    deadline: Option<Arc<dyn CallWatch>>,
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
        let fuel = self.budget(fuel);
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

    /// Calls `poll` like [`LiveInstance::poll`], watched by the instance's
    /// own deadline in deadline mode (a shadow poll: the program's watch
    /// belongs to its running instance).
    pub(crate) fn poll_watched(&mut self, program: &str, fuel: u64) -> CallOutcome {
        let (mut outcome, stopped) = self.watched(|live| live.poll(program, fuel));
        if let Some(limit) = stopped {
            outcome.fault = Some(Fault::watchdog(program, "poll", limit));
        }
        outcome
    }

    /// Runs `call` (a call into the guest) under the instance's own
    /// deadline, if it has one. Some(limit) when the watchdog stopped it.
    fn watched<T>(&mut self, call: impl FnOnce(&mut Self) -> T) -> (T, Option<u64>) {
        let Some(watch) = self.deadline.clone() else {
            return (call(self), None);
        };
        watch.arm(self.floor.ptr());
        let result = call(self);
        let stopped = watch.disarm();
        if !stopped {
            return (result, None);
        }
        self.reset_floor();
        (result, Some(watch.limit_ns()))
    }

    /// The budget a call gets: `fuel`, or in deadline mode as good as none.
    fn budget(&self, fuel: u64) -> u64 {
        if self.deadline.is_some() {
            i64::MAX as u64
        } else {
            fuel
        }
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
        // Deadline mode counts nothing (only imports charge the counter).
        let fuel_used = match self.deadline {
            Some(_) => 0,
            None => (fuel as i64).saturating_sub(remaining.max(0)) as u64,
        };
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
    services: &Arc<dyn HostServices>,
    compiled: &CompiledModule,
    name: &Arc<str>,
    tag: u64,
    limits: &Limits,
    deadline: Option<Arc<dyn CallWatch>>,
) -> Result<LiveInstance> {
    let mut store = Store::new(compiled.engine.clone());
    let output = Arc::new(OutputMeter::default());
    let env = FunctionEnv::new(
        &mut store,
        GuestEnv {
            memory: None,
            program_name: name.clone(),
            program_tag: tag,
            services: services.clone(),
            start_kind: StartKind::Cold,
            shadow: false,
            retain_restored: false,
            fuel: None,
            floor: None,
            output: output.clone(),
            last_error_line: std::cell::RefCell::new(String::new()),
            stdio: [Vec::new(), Vec::new()],
            random: Random::new(services.random_seed(), name),
        },
    );
    let imports = link(&mut store, &env, &compiled.module, services.as_ref())?;
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
                services
                    .log_sink()
                    .log(name, LogLevel::Warn, why.as_bytes());
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
        deadline,
    };
    if live.deadline.is_some() && live.instance.exports.contains(crate::budget::START_EXPORT) {
        // Deadline mode moved the start function here, to run it watched.
        live.call_unit_export(name, crate::budget::START_EXPORT, limits.fuel_per_poll)?;
    }
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
/// budget counter is the third-to-last one (the budget rewrite appends it,
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
        self.set_fuel(self.budget(fuel));
        self.output.bytes.store(0, Ordering::Relaxed);
        self.output.error_line.store(false, Ordering::Relaxed);
        let own_stack = OwnStack::enter(self.exact_stack);
        let (result, stopped) = self.watched(|live| describe.call(&mut live.store));
        drop(own_stack);
        self.flush_output();
        if let Some(limit) = stopped {
            let fault = Fault::watchdog(program, IMAGE_EXPORT, limit);
            return Err(Error::new(ErrorKind::Instantiate, fault.message));
        }
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
        let fuel = self.budget(fuel);
        self.set_fuel(fuel);
        self.output.bytes.store(0, Ordering::Relaxed);
        self.output.error_line.store(false, Ordering::Relaxed);
        let own_stack = OwnStack::enter(self.exact_stack);
        let (result, stopped) = self.watched(|live| init.call(&mut live.store).map(|()| 0));
        drop(own_stack);
        self.flush_output();
        let function = match name {
            crate::budget::START_EXPORT => "start function",
            other => other,
        };
        if let Some(limit) = stopped {
            let fault = Fault::watchdog(program, function, limit);
            return Err(Error::new(ErrorKind::Instantiate, fault.message));
        }
        match self.outcome(program, function, fuel, result).fault {
            Some(fault) => Err(Error::new(ErrorKind::Instantiate, fault.message)),
            None => Ok(()),
        }
    }
}
