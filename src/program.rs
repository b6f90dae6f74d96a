//! A program: one sandboxed guest, polled by the host's control loop.

use crate::error::{Error, ErrorKind, Result};
use crate::fault::{Fault, FaultKind};
use crate::instance::{compile, instantiate, LiveInstance};
use crate::limits::Limits;
use crate::runtime::{validate_limits, RuntimeShared};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};

/// Where a program is in its life. Numeric values are stable (`WASMCELL_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgramState {
    /// Loaded and ready to poll.
    Ready = 1,
    /// A poll faulted; polls fail with [`ErrorKind::Faulted`] until reset or reload.
    Faulted = 2,
    /// Unloaded; the program can no longer be used.
    Unloaded = 3,
}

impl ProgramState {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Ready,
            2 => Self::Faulted,
            _ => Self::Unloaded,
        }
    }
}

/// Counters of a program since it was loaded. Durations are wall-clock
/// nanoseconds of the guest call (fuel reset and fault handling included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollStats {
    pub polls: u64,
    pub faults: u64,
    pub last_poll_ns: u64,
    pub max_poll_ns: u64,
    pub total_poll_ns: u64,
    pub last_fuel_used: u64,
}

impl PollStats {
    pub fn mean_poll_ns(&self) -> u64 {
        self.total_poll_ns.checked_div(self.polls).unwrap_or(0)
    }
}

#[derive(Default)]
struct AtomicStats {
    polls: AtomicU64,
    faults: AtomicU64,
    last_poll_ns: AtomicU64,
    max_poll_ns: AtomicU64,
    total_poll_ns: AtomicU64,
    last_fuel_used: AtomicU64,
}

/// A small process-wide number per thread, used to recognise a callback that
/// calls back into the program it was called from.
fn this_thread() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! { static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed); }
    ID.with(|id| *id)
}

/// A loaded program. Cloning gives another handle to the same program; all
/// methods take `&self`. Calls on one program are serialised; a call from
/// inside one of the program's own host callbacks fails with
/// [`ErrorKind::Busy`] instead of deadlocking.
#[derive(Clone)]
pub struct Program {
    shared: Arc<ProgramShared>,
}

pub(crate) struct ProgramShared {
    name: Arc<str>,
    runtime: Arc<RuntimeShared>,
    tag: AtomicU64,
    /// `ProgramState` as u8, readable without waiting for a running poll.
    state: AtomicU8,
    /// The thread currently running guest code of this program, 0 if none.
    running_on: AtomicU64,
    fuel_per_poll: AtomicU64,
    limits: Mutex<Limits>,
    fault: Mutex<Option<Fault>>,
    stats: AtomicStats,
    live: Mutex<Option<LiveInstance>>,
}

/// Marks the program as running on this thread for the duration of a call,
/// also when the call unwinds.
struct RunningGuard<'a>(&'a AtomicU64);

impl<'a> RunningGuard<'a> {
    fn enter(slot: &'a AtomicU64) -> Self {
        slot.store(this_thread(), Ordering::Release);
        Self(slot)
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("name", &self.name())
            .field("state", &self.state())
            .finish()
    }
}

impl Program {
    pub(crate) fn load(
        runtime: &Arc<RuntimeShared>,
        name: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a program needs a non-empty name",
            ));
        }
        let name: Arc<str> = name.into();
        let with_name =
            |e: Error| Error::new(e.kind(), format!("loading '{name}': {}", e.message()));
        let compiled = compile(bytes, &limits).map_err(with_name)?;
        let live = instantiate(runtime, &compiled, &name, 0, &limits).map_err(with_name)?;
        Ok(Self {
            shared: Arc::new(ProgramShared {
                name,
                runtime: runtime.clone(),
                tag: AtomicU64::new(0),
                state: AtomicU8::new(ProgramState::Ready as u8),
                running_on: AtomicU64::new(0),
                fuel_per_poll: AtomicU64::new(limits.fuel_per_poll),
                limits: Mutex::new(limits),
                fault: Mutex::new(None),
                stats: AtomicStats::default(),
                live: Mutex::new(Some(live)),
            }),
        })
    }

    pub(crate) fn downgrade(&self) -> Weak<ProgramShared> {
        Arc::downgrade(&self.shared)
    }

    pub(crate) fn upgrade(weak: &Weak<ProgramShared>) -> Option<Self> {
        weak.upgrade().map(|shared| Self { shared })
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// A number the embedder attaches to the program; host callbacks see it
    /// as [`crate::HostCall::program_tag`]. Takes effect at the next
    /// (re)instantiation for callbacks, immediately for [`Program::tag`].
    pub fn set_tag(&self, tag: u64) {
        self.shared.tag.store(tag, Ordering::Relaxed);
        if let Some(live) = self.shared.live.lock().as_mut() {
            live.set_program_tag(tag);
        }
    }

    pub fn tag(&self) -> u64 {
        self.shared.tag.load(Ordering::Relaxed)
    }

    pub fn state(&self) -> ProgramState {
        ProgramState::from_u8(self.shared.state.load(Ordering::Acquire))
    }

    /// The fault that stopped the program, kept until reset or reload.
    pub fn fault(&self) -> Option<Fault> {
        self.shared.fault.lock().clone()
    }

    pub fn stats(&self) -> PollStats {
        let s = &self.shared.stats;
        PollStats {
            polls: s.polls.load(Ordering::Relaxed),
            faults: s.faults.load(Ordering::Relaxed),
            last_poll_ns: s.last_poll_ns.load(Ordering::Relaxed),
            max_poll_ns: s.max_poll_ns.load(Ordering::Relaxed),
            total_poll_ns: s.total_poll_ns.load(Ordering::Relaxed),
            last_fuel_used: s.last_fuel_used.load(Ordering::Relaxed),
        }
    }

    /// The instruction budget of each poll (and of `init`). At least 1.
    pub fn set_fuel(&self, per_poll: u64) -> Result<()> {
        self.check_loaded()?;
        if per_poll == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the instruction budget must be at least 1",
            ));
        }
        self.shared.fuel_per_poll.store(per_poll, Ordering::Relaxed);
        self.shared.limits.lock().fuel_per_poll = per_poll;
        Ok(())
    }

    pub fn fuel(&self) -> u64 {
        self.shared.fuel_per_poll.load(Ordering::Relaxed)
    }

    /// This program's limits.
    pub fn limits(&self) -> Limits {
        *self.shared.limits.lock()
    }

    /// Changes this program's limits. The fuel applies from the next poll; the
    /// memory limit from the next reset or reload (a running instance's memory
    /// is already sized); the module size limit from the next reload.
    pub fn set_limits(&self, limits: Limits) -> Result<()> {
        self.check_loaded()?;
        validate_limits(&limits)?;
        self.shared
            .fuel_per_poll
            .store(limits.fuel_per_poll, Ordering::Relaxed);
        *self.shared.limits.lock() = limits;
        Ok(())
    }

    pub(crate) fn is_busy_on_this_thread(&self) -> bool {
        self.shared.running_on.load(Ordering::Acquire) == this_thread()
    }

    fn check_not_reentrant(&self, what: &str) -> Result<()> {
        if self.is_busy_on_this_thread() {
            return Err(Error::new(
                ErrorKind::Busy,
                format!(
                    "program '{}': cannot {what} from inside one of its own host callbacks",
                    self.shared.name
                ),
            ));
        }
        Ok(())
    }

    fn check_loaded(&self) -> Result<()> {
        if self.state() == ProgramState::Unloaded {
            return Err(self.unloaded_error());
        }
        Ok(())
    }

    fn unloaded_error(&self) -> Error {
        Error::new(
            ErrorKind::InvalidHandle,
            format!("program '{}' is unloaded", self.shared.name),
        )
    }

    /// Runs one cycle: calls the guest's `poll` under the instruction budget.
    /// A trap, budget exhaustion, host callback error or non-zero return faults
    /// the program; later polls then fail with [`ErrorKind::Faulted`].
    pub fn poll(&self) -> Result<()> {
        self.check_not_reentrant("poll")?;
        let shared = &*self.shared;
        let mut live = shared.live.lock();
        let Some(live) = live.as_mut() else {
            return Err(self.unloaded_error());
        };
        if shared.state.load(Ordering::Acquire) == ProgramState::Faulted as u8 {
            let message = shared
                .fault
                .lock()
                .as_ref()
                .map(|f| f.message.clone())
                .unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Faulted,
                format!(
                    "program '{}' is faulted ({message}); reset or reload it",
                    shared.name
                ),
            ));
        }
        let fuel = shared.fuel_per_poll.load(Ordering::Relaxed);
        let started = quanta::Instant::now();
        let outcome = {
            let _running = RunningGuard::enter(&shared.running_on);
            live.poll(&shared.name, fuel)
        };
        let elapsed = (quanta::Instant::now() - started).as_nanos() as u64;

        // Only the thread holding the program's lock writes the counters, so
        // plain load/store (no locked read-modify-write) is enough; readers on
        // other threads still see each counter atomically.
        let stats = &shared.stats;
        let bump = |counter: &AtomicU64, by: u64| {
            counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed)
        };
        bump(&stats.polls, 1);
        bump(&stats.total_poll_ns, elapsed);
        stats.last_poll_ns.store(elapsed, Ordering::Relaxed);
        if elapsed > stats.max_poll_ns.load(Ordering::Relaxed) {
            stats.max_poll_ns.store(elapsed, Ordering::Relaxed);
        }
        stats
            .last_fuel_used
            .store(outcome.fuel_used, Ordering::Relaxed);
        match outcome.fault {
            None => Ok(()),
            Some(fault) => {
                bump(&stats.faults, 1);
                let error = fault.to_error();
                *shared.fault.lock() = Some(fault);
                shared
                    .state
                    .store(ProgramState::Faulted as u8, Ordering::Release);
                Err(error)
            }
        }
    }

    /// The kind of the current fault, [`FaultKind::None`] if not faulted.
    pub fn fault_kind(&self) -> FaultKind {
        self.shared
            .fault
            .lock()
            .as_ref()
            .map_or(FaultKind::None, |f| f.kind)
    }

    /// Replaces the instance with a fresh one of the same module (memory and
    /// globals back to their initial values, `init` run again). Clears a fault.
    /// On failure the program is faulted with the reason.
    pub fn reset(&self) -> Result<()> {
        self.check_not_reentrant("reset")?;
        let shared = &*self.shared;
        let compiled = match shared.live.lock().as_ref() {
            Some(live) => live.compiled.clone(),
            None => return Err(self.unloaded_error()),
        };
        let limits = self.limits();
        let fresh = instantiate(
            &shared.runtime,
            &compiled,
            &shared.name,
            self.tag(),
            &limits,
        );
        self.install(fresh)
    }

    /// Hot swap: compiles and instantiates `bytes` on the calling thread
    /// without holding the program's lock, then swaps the new instance in
    /// between two polls. On failure the old instance keeps running untouched.
    pub fn reload(&self, bytes: &[u8]) -> Result<()> {
        self.check_not_reentrant("reload")?;
        self.check_loaded()?;
        self.shared.runtime.check_open()?;
        let shared = &*self.shared;
        let limits = self.limits();
        let fresh = compile(bytes, &limits)
            .and_then(|compiled| {
                instantiate(
                    &shared.runtime,
                    &compiled,
                    &shared.name,
                    self.tag(),
                    &limits,
                )
            })
            .map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "reloading '{}': {} (the previous version keeps running)",
                        shared.name,
                        e.message()
                    ),
                )
            })?;
        self.install(Ok(fresh))
    }

    fn install(&self, fresh: Result<LiveInstance>) -> Result<()> {
        let shared = &*self.shared;
        let mut live = shared.live.lock();
        if live.is_none() {
            return Err(self.unloaded_error());
        }
        match fresh {
            Ok(fresh) => {
                *live = Some(fresh);
                *shared.fault.lock() = None;
                shared
                    .state
                    .store(ProgramState::Ready as u8, Ordering::Release);
                Ok(())
            }
            Err(error) => {
                *shared.fault.lock() = Some(Fault {
                    kind: FaultKind::Other,
                    message: error.message().to_string(),
                });
                shared
                    .state
                    .store(ProgramState::Faulted as u8, Ordering::Release);
                Err(error)
            }
        }
    }

    /// Drops the instance and its memory. Waits for a poll running on another
    /// thread to finish. Unloading twice fails with [`ErrorKind::InvalidHandle`].
    pub fn unload(&self) -> Result<()> {
        self.check_not_reentrant("unload")?;
        let instance = self.shared.live.lock().take();
        match instance {
            Some(instance) => {
                self.shared
                    .state
                    .store(ProgramState::Unloaded as u8, Ordering::Release);
                drop(instance);
                Ok(())
            }
            None => Err(self.unloaded_error()),
        }
    }
}
