//! The runtime: host functions, log sink, clock and default limits shared by
//! the programs loaded into it.

use crate::cache::{CacheStats, ModuleCache};
use crate::clock::{Clock, MonotonicClock};
use crate::compile::CompileSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::host::{HostDefinition, HostFunction, Signature};
use crate::limits::validate_limits;
use crate::limits::Limits;
use crate::log::{LogSink, StderrSink};
use crate::program::{Program, ProgramShared};
use crate::runtime_shared::RuntimeShared;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// Settings fixed when a runtime is created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Default limits of programs loaded later (each program can change its own).
    pub limits: Limits,
}

/// A set of programs with the host functions, log sink and clock they share.
///
/// Cloning gives another handle to the same runtime. All methods take `&self`
/// and may be called from any thread.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<RuntimeShared>,
    /// The programs loaded into it, unloaded by `close`.
    programs: Arc<Mutex<Vec<Weak<ProgramShared>>>>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new(RuntimeConfig::default())
    }
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Self {
        crate::compile::warm_up_process();
        Self {
            shared: Arc::new(RuntimeShared {
                limits: RwLock::new(config.limits),
                host_functions: RwLock::new(HashMap::new()),
                log: RwLock::new(Arc::new(StderrSink)),
                clock: RwLock::new(Arc::new(MonotonicClock)),
                closed: AtomicBool::new(false),
                random_seed: RwLock::new(None),
                compile: RwLock::new(CompileSettings::default()),
                cache: ModuleCache::default(),
            }),
            programs: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Registers `function` as the import `module.name` with the given
    /// signature, for programs loaded from now on. A name can be defined once;
    /// host definitions take precedence over the built-in imports.
    pub fn define(
        &self,
        module: &str,
        name: &str,
        signature: &str,
        function: impl HostFunction,
    ) -> Result<()> {
        self.define_arc(module, name, signature, Arc::new(function))
    }

    /// [`Runtime::define`] for a function already behind an `Arc`.
    pub fn define_arc(
        &self,
        module: &str,
        name: &str,
        signature: &str,
        function: Arc<dyn HostFunction>,
    ) -> Result<()> {
        self.shared.check_open()?;
        if module.is_empty() || name.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "host function module and name must not be empty",
            ));
        }
        let signature = Signature::parse(signature)?;
        let mut functions = self.shared.host_functions.write();
        let key = (module.to_string(), name.to_string());
        if functions.contains_key(&key) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("host function `{module}.{name}` is already defined"),
            ));
        }
        functions.insert(
            key,
            HostDefinition {
                module: module.to_string(),
                name: name.to_string(),
                signature,
                function,
            },
        );
        Ok(())
    }

    /// Sends guest output (`env.print`, `wasmcell.log`) to `sink`. Returns
    /// once no thread is inside the previous sink any more, so whatever it
    /// uses may be released then. Fails with [`ErrorKind::Busy`] from inside
    /// a host callback or log sink (it would wait for itself).
    pub fn set_log_sink(&self, sink: impl LogSink) -> Result<()> {
        replace_and_drain(&self.shared.log, Arc::new(sink), "log sink")
    }

    /// Restores the default log sink (standard error); waits as
    /// [`Runtime::set_log_sink`] does.
    pub fn reset_log_sink(&self) -> Result<()> {
        replace_and_drain(&self.shared.log, Arc::new(StderrSink), "log sink")
    }

    /// Replaces the clock guests read through `wasmcell.now_ns`. Returns once
    /// no thread is inside the previous clock; [`ErrorKind::Busy`] from
    /// inside a host callback or log sink.
    pub fn set_clock(&self, clock: impl Clock) -> Result<()> {
        replace_and_drain(&self.shared.clock, Arc::new(clock), "clock")
    }

    /// Restores the default monotonic clock; waits as [`Runtime::set_clock`] does.
    pub fn reset_clock(&self) -> Result<()> {
        replace_and_drain(&self.shared.clock, Arc::new(MonotonicClock), "clock")
    }

    /// How compiles of loads, reloads and cache misses run from now on.
    pub fn set_compile_settings(&self, settings: CompileSettings) {
        *self.shared.compile.write() = settings;
    }

    pub fn compile_settings(&self) -> CompileSettings {
        self.shared.compile_settings()
    }

    /// Seeds WASI `random_get` of programs instantiated from now on (load,
    /// reset, reload): the same seed and program name give the same bytes,
    /// for reproducible tests and simulations. `None` goes back to seeding
    /// from the operating system.
    pub fn set_random_seed(&self, seed: Option<u64>) {
        *self.shared.random_seed.write() = seed;
    }

    /// The limits programs loaded from now on start with.
    pub fn default_limits(&self) -> Limits {
        *self.shared.limits.read()
    }

    pub fn set_default_limits(&self, limits: Limits) -> Result<()> {
        validate_limits(&limits)?;
        *self.shared.limits.write() = limits;
        Ok(())
    }

    /// Compiles, links and instantiates a program (binary wasm or WAT text) and
    /// runs its `init` export.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Program> {
        self.shared.check_open()?;
        let program = Program::load(&self.shared, name, bytes, self.default_limits())?;
        let mut programs = self.programs.lock();
        // Checked again under the lock so a concurrent close cannot miss it.
        self.shared.check_open()?;
        programs.retain(|p| p.strong_count() > 0);
        programs.push(program.downgrade());
        Ok(program)
    }

    /// Reads `path` and loads it as [`Runtime::load`] does.
    pub fn load_file(&self, name: &str, path: impl AsRef<std::path::Path>) -> Result<Program> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                ErrorKind::NotFound
            } else {
                ErrorKind::Io
            };
            Error::new(kind, format!("cannot read {}: {e}", path.display()))
        })?;
        self.load(name, &bytes)
    }

    /// Unloads every program and drops the host functions. Fails with
    /// [`ErrorKind::Busy`] (and changes nothing) when called from inside a
    /// callback of one of its programs. Closing twice is harmless.
    pub fn close(&self) -> Result<()> {
        let programs: Vec<Program> = {
            let list = self.programs.lock();
            let live: Vec<Program> = list.iter().filter_map(Program::upgrade).collect();
            let loading = crate::program::loading_into(Arc::as_ptr(&self.shared) as usize);
            if loading || live.iter().any(Program::is_busy_on_this_thread) {
                return Err(Error::new(
                    ErrorKind::Busy,
                    "cannot close the runtime from inside a callback of one of its programs",
                ));
            }
            self.shared.closed.store(true, Ordering::Release);
            live
        };
        for program in programs {
            // Not busy on this thread (checked above), so this only waits for
            // polls running on other threads.
            let _ = program.unload();
        }
        self.programs.lock().clear();
        self.shared.host_functions.write().clear();
        Ok(())
    }

    /// Counters of the compiled-module cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.shared.cache.stats()
    }

    /// Also keeps compiled modules in `directory` (created if missing), so a
    /// restarted controller skips compiling programs it has seen before.
    /// Files are validated (version, target, key, SHA-256) before use; a
    /// corrupted or foreign file is recompiled. The directory must be
    /// writable only by the controller: its artifacts are native code.
    /// `None` turns the disk cache off.
    pub fn set_cache_dir(&self, directory: Option<std::path::PathBuf>) -> Result<()> {
        self.shared.check_open()?;
        self.shared.cache.set_directory(directory)
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

/// Puts `new` in `slot`, then waits until every call that took the old value
/// (each holds a clone of its `Arc` for the call's duration) has returned, so
/// the caller may release what the old one used.
fn replace_and_drain<T: ?Sized>(slot: &RwLock<Arc<T>>, new: Arc<T>, what: &str) -> Result<()> {
    if crate::program::inside_guest_call() {
        return Err(Error::new(
            ErrorKind::Busy,
            format!("cannot replace the {what} from inside a host callback or log sink: it would wait for itself"),
        ));
    }
    let old = std::mem::replace(&mut *slot.write(), new);
    let mut spins = 0u32;
    while Arc::strong_count(&old) > 1 {
        // Calls into a sink or clock are short; yield first, then sleep.
        if spins < 100 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
        spins += 1;
    }
    Ok(())
}
