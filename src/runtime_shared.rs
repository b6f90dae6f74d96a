//! The state a runtime shares with its programs: default limits, host
//! functions, log sink, clock, WASI seed, compile settings, the module cache
//! and whether it is closed. Programs hold it; instances see it only as
//! [`HostServices`]. It knows nothing of programs, so the layers stay
//! acyclic: runtime -> program -> instance -> link -> guest_env, and each of
//! them -> runtime_shared/host/limits below.

use crate::cache::ModuleCache;
use crate::clock::Clock;
use crate::compile::CompileSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::host::{HostDefinition, HostServices};
use crate::limits::Limits;
use crate::log::LogSink;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub(crate) struct RuntimeShared {
    pub(crate) limits: RwLock<Limits>,
    pub(crate) host_functions: RwLock<HashMap<(String, String), HostDefinition>>,
    pub(crate) log: RwLock<Arc<dyn LogSink>>,
    pub(crate) clock: RwLock<Arc<dyn Clock>>,
    pub(crate) closed: AtomicBool,
    /// Seed of the WASI random generators of programs instantiated from now
    /// on; None: seeded from the OS.
    pub(crate) random_seed: RwLock<Option<u64>>,
    pub(crate) compile: RwLock<CompileSettings>,
    pub(crate) cache: ModuleCache,
}

impl RuntimeShared {
    pub(crate) fn compile_settings(&self) -> CompileSettings {
        *self.compile.read()
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::InvalidHandle,
                "the runtime is closed",
            ));
        }
        Ok(())
    }
}

impl HostServices for RuntimeShared {
    fn host_function(&self, module: &str, name: &str) -> Option<HostDefinition> {
        self.host_functions
            .read()
            .get(&(module.to_string(), name.to_string()))
            .cloned()
    }

    fn log_sink(&self) -> Arc<dyn LogSink> {
        self.log.read().clone()
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.read().clone()
    }

    fn random_seed(&self) -> Option<u64> {
        *self.random_seed.read()
    }
}
