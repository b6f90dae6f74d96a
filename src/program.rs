//! A program: one sandboxed guest, polled by the host's control loop. This
//! file holds its lifecycle (load, poll, reset, unload), its limits and the
//! process-image accessors; `program/reload.rs` holds hot swap.

use crate::compile::CompiledModule;
use crate::error::{Error, ErrorKind, Result};
use crate::fault::{Fault, FaultKind};
use crate::guest_env::StartKind;
use crate::host::{CallWatch, HostServices};
use crate::image_layout::{Area, ImageLayout, Signal};
use crate::instance::CallOutcome;
use crate::instance::{instantiate, LiveInstance};
use crate::limits::validate_limits;
use crate::limits::Limits;
use crate::process_image::{read_retain_signal, HostImage, SignalId, SignalValue};
use crate::runtime_shared::RuntimeShared;
use crate::watchdog::WatchSlot;
use parking_lot::{Mutex, MutexGuard};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};

mod reload;
pub use reload::PreparedReload;

/// What a program's published outputs do when it faults. Values are stable
/// (`WASMCELL_FAULT_OUTPUTS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultOutputs {
    /// The last good outputs stay published (the default).
    #[default]
    Hold = 0,
    /// The output area's initial values from the module are published with
    /// the faulting poll's number (a motor-on output falls back to off).
    Defaults = 1,
}

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
    /// Durations of timed polls only (see [`Program::set_timing`]).
    pub last_poll_ns: u64,
    pub max_poll_ns: u64,
    pub total_poll_ns: u64,
    pub last_fuel_used: u64,
    /// Polls longer than the watchdog time (see [`Program::set_watchdog`]).
    pub overruns: u64,
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
    overruns: AtomicU64,
}

thread_local! {
    /// The programs whose guest code this thread is running, innermost last
    /// (a host callback may poll another program, nesting a second entry).
    static RUNNING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread is inside guest code of any program (so inside a
/// host callback or log sink when it calls back into wasmcell).
pub(crate) fn inside_guest_call() -> bool {
    RUNNING.with(|running| !running.borrow().is_empty())
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
    /// Held by reset and by the commit of a reload for their whole run, so
    /// they happen one after the other: a reset never swaps in a module read
    /// before a concurrent reload committed. Lock order: `swap`, then `live`.
    swap: Mutex<()>,
    /// Threads waiting for `live` for something other than a poll (commit,
    /// reset, unload, retain read). A poll that ends while one waits unlocks
    /// fairly, so a thread polling flat out cannot starve a hot swap.
    live_waiters: AtomicU64,
    /// Watchdog time in ns (0: off), its sensitivity, and the overruns in a
    /// row so far (written only by the polling thread).
    watchdog_ns: AtomicU64,
    watchdog_sensitivity: AtomicU32,
    /// Whether polls are timed for the statistics (`set_timing`).
    timing: AtomicBool,
    /// Deadline mode (`Limits::deadline_ns`), fixed at load: no instruction
    /// count, and a watchdog that cannot be turned off.
    deadline_mode: bool,
    consecutive_overruns: AtomicU32,
    /// The slot the watchdog thread watches, created by the first set_watchdog.
    watch: OnceLock<Arc<WatchSlot>>,
    /// [`FaultOutputs`] as u8.
    fault_outputs: AtomicU8,
    /// Reloads prepared and not yet committed or discarded; unload releases them.
    prepared: Mutex<Vec<Weak<Mutex<Option<LiveInstance>>>>>,
    /// The instruction budget per poll: the one source (`limits()` reports
    /// it, `set_fuel` and `set_limits` write it).
    fuel_per_poll: AtomicU64,
    limits: Mutex<Limits>,
    fault: Mutex<Option<Fault>>,
    /// What happened to the retain area at the last reset or reload.
    notice: Mutex<String>,
    stats: AtomicStats,
    /// The host's side of the process image. Lock order: `live`, then `image`.
    image: Mutex<HostImage>,
    live: Mutex<Option<LiveInstance>>,
}

/// The watch of a new instance's own calls in deadline mode (start
/// function, `init`, shadow polls); None when the budget bounds them.
fn instance_watch(limits: &Limits) -> Option<Arc<dyn CallWatch>> {
    (limits.deadline_ns > 0).then(|| WatchSlot::watched(limits.deadline_ns) as Arc<dyn CallWatch>)
}

/// Marks the program as running guest code on this thread for the duration
/// of a call (poll, init, start function), also when the call unwinds.
struct RunningGuard;

impl RunningGuard {
    fn enter(program: &ProgramShared) -> Self {
        Self::enter_key(program as *const ProgramShared as usize)
    }

    /// Marks guest code running for `key`: a program, or a runtime whose
    /// program is being loaded.
    fn enter_key(key: usize) -> Self {
        RUNNING.with(|running| running.borrow_mut().push(key));
        Self
    }
}

/// Whether this thread is running guest code of a program being loaded
/// into the runtime at `runtime` (its address).
pub(crate) fn loading_into(runtime: usize) -> bool {
    RUNNING.with(|running| running.borrow().contains(&runtime))
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        RUNNING.with(|running| running.borrow_mut().pop());
    }
}

impl ProgramShared {
    /// Takes the instance lock for something other than a poll; the poll
    /// holding it hands it over fairly when it ends (see `live_waiters`).
    fn acquire_live(&self, what: &str) -> Result<MutexGuard<'_, Option<LiveInstance>>> {
        self.live_waiters.fetch_add(1, Ordering::Relaxed);
        let guard = self.acquire(&self.live, what);
        self.live_waiters.fetch_sub(1, Ordering::Relaxed);
        guard
    }

    fn is_running_on_this_thread(&self) -> bool {
        let key = self as *const ProgramShared as usize;
        RUNNING.with(|running| running.borrow().contains(&key))
    }

    /// Takes `lock`. From inside a host callback (of any program) it does
    /// not wait: if another thread holds it, the call fails with
    /// [`ErrorKind::Busy`]. Two programs whose callbacks call each other on
    /// two threads would otherwise wait for each other forever.
    fn acquire<'a, T>(&self, lock: &'a Mutex<T>, what: &str) -> Result<MutexGuard<'a, T>> {
        if !inside_guest_call() {
            return Ok(lock.lock());
        }
        lock.try_lock().ok_or_else(|| {
            Error::new(
                ErrorKind::Busy,
                format!(
                    "program '{}' is busy on another thread; a host callback cannot wait to {what} it",
                    self.name
                ),
            )
        })
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
        let compiled = runtime
            .cache
            .get_or_compile(bytes, &limits, runtime.compile_settings())
            .map_err(with_name)?;
        // The program does not exist yet, but its start function and `init`
        // run guest code of this runtime: callbacks from them that free the
        // runtime or replace its sink get BUSY.
        let _loading = RunningGuard::enter_key(Arc::as_ptr(runtime) as usize);
        let services: Arc<dyn HostServices> = runtime.clone();
        let mut live = instantiate(
            &services,
            &compiled,
            &name,
            0,
            &limits,
            instance_watch(&limits),
        )
        .map_err(with_name)?;
        live.run_init(&name, limits.fuel_per_poll, StartKind::Cold, false)
            .map_err(with_name)?;
        let deadline_mode = limits.deadline_ns > 0;
        let watch = OnceLock::new();
        if deadline_mode {
            let _ = watch.set(WatchSlot::watched(limits.deadline_ns));
        }
        Ok(Self {
            shared: Arc::new(ProgramShared {
                name,
                runtime: runtime.clone(),
                tag: AtomicU64::new(0),
                state: AtomicU8::new(ProgramState::Ready as u8),
                swap: Mutex::new(()),
                live_waiters: AtomicU64::new(0),
                watchdog_ns: AtomicU64::new(limits.deadline_ns),
                watchdog_sensitivity: AtomicU32::new(1),
                timing: AtomicBool::new(true),
                deadline_mode,
                consecutive_overruns: AtomicU32::new(0),
                watch,
                fault_outputs: AtomicU8::new(FaultOutputs::Hold as u8),
                prepared: Mutex::new(Vec::new()),
                fuel_per_poll: AtomicU64::new(limits.fuel_per_poll),
                limits: Mutex::new(limits),
                fault: Mutex::new(None),
                notice: Mutex::new(String::new()),
                stats: AtomicStats::default(),
                image: Mutex::new(HostImage::new(live.image.clone())),
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
        if self.is_busy_on_this_thread() {
            // Inside its own callback: the instance picks the tag up at the
            // next (re)instantiation.
            return;
        }
        if let Ok(mut live) = self.shared.acquire_live("tag") {
            if let Some(live) = live.as_mut() {
                live.set_program_tag(tag);
            }
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
            overruns: s.overruns.load(Ordering::Relaxed),
        }
    }

    /// The instruction budget of each poll (and of `init`). At least 1.
    pub fn set_fuel(&self, per_poll: u64) -> Result<()> {
        self.check_loaded()?;
        self.check_counting("set its instruction budget")?;
        if per_poll == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the instruction budget must be at least 1",
            ));
        }
        self.shared.fuel_per_poll.store(per_poll, Ordering::Relaxed);
        Ok(())
    }

    pub fn fuel(&self) -> u64 {
        self.shared.fuel_per_poll.load(Ordering::Relaxed)
    }

    /// This program's limits.
    pub fn limits(&self) -> Limits {
        let mut limits = *self.shared.limits.lock();
        // The budget's one source is `fuel_per_poll` (read by every poll
        // without the lock); the copy inside `limits` is never read.
        limits.fuel_per_poll = self.fuel();
        limits
    }

    /// Changes this program's limits. The fuel applies from the next poll; the
    /// memory limit from the next reset or reload (a running instance's memory
    /// is already sized); the module size limit from the next reload.
    /// In deadline mode a new `deadline_ns` becomes the watchdog time now;
    /// the mode itself (a zero or non-zero `deadline_ns`) is chosen at load.
    pub fn set_limits(&self, limits: Limits) -> Result<()> {
        self.check_loaded()?;
        validate_limits(&limits)?;
        if (limits.deadline_ns > 0) != self.shared.deadline_mode {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "program '{}': deadline mode is chosen when a program is loaded (its code is compiled for it); load it again to change it",
                    self.shared.name
                ),
            ));
        }
        self.shared
            .fuel_per_poll
            .store(limits.fuel_per_poll, Ordering::Relaxed);
        let old_deadline = self.shared.limits.lock().deadline_ns;
        *self.shared.limits.lock() = limits;
        if self.shared.deadline_mode && limits.deadline_ns != old_deadline {
            let (_, sensitivity) = self.watchdog();
            self.set_watchdog(limits.deadline_ns, sensitivity)?;
        }
        Ok(())
    }

    pub(crate) fn is_busy_on_this_thread(&self) -> bool {
        self.shared.is_running_on_this_thread()
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

    /// Refuses `what` in deadline mode, which has no instruction budget.
    fn check_counting(&self, what: &str) -> Result<()> {
        if self.shared.deadline_mode {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "program '{}' runs in deadline mode (no instruction budget): cannot {what}",
                    self.shared.name
                ),
            ));
        }
        Ok(())
    }

    /// Whether the program runs in deadline mode (see [`Limits::deadline_ns`]).
    pub fn deadline_mode(&self) -> bool {
        self.shared.deadline_mode
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
        let mut guard = shared.acquire(&shared.live, "poll")?;
        let result = match guard.as_mut() {
            Some(live) => self.poll_locked(live),
            None => Err(self.unloaded_error()),
        };
        if shared.live_waiters.load(Ordering::Relaxed) > 0 {
            // A swap, reset, unload or retain read is waiting: hand the lock
            // over instead of letting a flat-out poller take it again.
            MutexGuard::unlock_fair(guard);
        } else {
            drop(guard);
        }
        result
    }

    fn poll_locked(&self, live: &mut LiveInstance) -> Result<()> {
        let shared = &*self.shared;
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
        let watchdog_ns = shared.watchdog_ns.load(Ordering::Relaxed);
        // The watchdog's overrun count needs the time even with timing off.
        let timed = watchdog_ns > 0 || shared.timing.load(Ordering::Relaxed);
        let started = timed.then(quanta::Instant::now);
        let has_image = !live.image.is_empty();
        if has_image {
            let image = shared.image.lock();
            if image.has_inputs() {
                image.copy_in(live);
            }
        }
        let watch = (watchdog_ns > 0).then(|| shared.watch.get()).flatten();
        let mut outcome = {
            let _running = RunningGuard::enter(shared);
            if let Some(watch) = watch {
                watch.arm(live.floor_ptr());
            }
            let outcome = live.poll(&shared.name, fuel);
            if watch.is_some_and(|watch| watch.disarm()) {
                live.reset_floor();
                let limit = watchdog_ns.saturating_mul(u64::from(
                    shared.watchdog_sensitivity.load(Ordering::Relaxed),
                ));
                CallOutcome {
                    fuel_used: outcome.fuel_used,
                    fault: Some(Fault::watchdog(&shared.name, "poll", limit)),
                }
            } else {
                outcome
            }
        };
        let since = |started: quanta::Instant| (quanta::Instant::now() - started).as_nanos() as u64;
        if let (true, Some(started)) = (watchdog_ns > 0, started) {
            let elapsed_so_far = since(started);
            if outcome.fault.is_none() {
                outcome.fault = self.count_overrun(elapsed_so_far, watchdog_ns);
            } else if elapsed_so_far > watchdog_ns {
                shared.stats.overruns.fetch_add(1, Ordering::Relaxed);
            }
        }
        if has_image && outcome.fault.is_none() {
            // Outputs are published only after a poll that succeeded: a
            // faulting poll never exposes half-written outputs.
            let mut image = shared.image.lock();
            if image.has_outputs() {
                let poll_number = shared.stats.polls.load(Ordering::Relaxed) + 1;
                image.publish(live, poll_number);
            }
        }
        let elapsed = started.map(since);

        // Only the thread holding the program's lock writes the counters, so
        // plain load/store (no locked read-modify-write) is enough; readers on
        // other threads still see each counter atomically.
        let stats = &shared.stats;
        let bump = |counter: &AtomicU64, by: u64| {
            counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed)
        };
        bump(&stats.polls, 1);
        if let Some(elapsed) = elapsed {
            bump(&stats.total_poll_ns, elapsed);
            stats.last_poll_ns.store(elapsed, Ordering::Relaxed);
            if elapsed > stats.max_poll_ns.load(Ordering::Relaxed) {
                stats.max_poll_ns.store(elapsed, Ordering::Relaxed);
            }
        }
        stats
            .last_fuel_used
            .store(outcome.fuel_used, Ordering::Relaxed);
        match outcome.fault {
            None => Ok(()),
            Some(fault) => {
                bump(&stats.faults, 1);
                if has_image
                    && shared.fault_outputs.load(Ordering::Relaxed) == FaultOutputs::Defaults as u8
                {
                    // Safe outputs: the module's initial output values,
                    // published with the faulting poll's number.
                    let mut image = shared.image.lock();
                    if image.has_outputs() {
                        image.publish_bytes(
                            live.initial_outputs(),
                            stats.polls.load(Ordering::Relaxed),
                        );
                    }
                }
                let error = fault.to_error();
                *shared.fault.lock() = Some(fault);
                shared
                    .state
                    .store(ProgramState::Faulted as u8, Ordering::Release);
                Err(error)
            }
        }
    }

    /// Counts a poll longer than the watchdog time as an overrun; the
    /// `sensitivity`-th in a row faults the program.
    fn count_overrun(&self, elapsed: u64, watchdog_ns: u64) -> Option<Fault> {
        let shared = &*self.shared;
        if elapsed <= watchdog_ns {
            shared.consecutive_overruns.store(0, Ordering::Relaxed);
            return None;
        }
        shared.stats.overruns.fetch_add(1, Ordering::Relaxed);
        let in_a_row = shared.consecutive_overruns.fetch_add(1, Ordering::Relaxed) + 1;
        let sensitivity = shared.watchdog_sensitivity.load(Ordering::Relaxed);
        if in_a_row < sensitivity {
            return None;
        }
        shared.consecutive_overruns.store(0, Ordering::Relaxed);
        Some(Fault {
            kind: FaultKind::Watchdog,
            message: format!(
                "program '{}': poll: watchdog overrun: {in_a_row} polls in a row longer than {watchdog_ns} ns (the last took {elapsed} ns)",
                shared.name
            ),
        })
    }

    /// Whether polls are timed for [`PollStats`] (on by default). A host
    /// that times its own loop turns it off and saves the clock reads of
    /// every poll; the duration statistics then stop changing. A program
    /// with a watchdog is timed regardless (overruns need the time).
    pub fn set_timing(&self, on: bool) -> Result<()> {
        self.check_loaded()?;
        self.shared.timing.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Whether polls are timed (see [`Program::set_timing`]).
    pub fn timing(&self) -> bool {
        self.shared.timing.load(Ordering::Relaxed)
    }

    /// Sets the watchdog: a poll running longer than `time_ns * sensitivity`
    /// is stopped while it runs, and `sensitivity` consecutive polls longer
    /// than `time_ns` fault the program as an overrun; both are
    /// [`FaultKind::Watchdog`]. `time_ns == 0` turns it off. A host callback
    /// that blocks cannot be interrupted: the poll stops when it returns.
    pub fn set_watchdog(&self, time_ns: u64, sensitivity: u32) -> Result<()> {
        self.check_loaded()?;
        let shared = &*self.shared;
        if time_ns == 0 && shared.deadline_mode {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "program '{}' runs in deadline mode: its watchdog bounds every poll and cannot be turned off",
                    shared.name
                ),
            ));
        }
        let sensitivity = sensitivity.max(1);
        let limit = time_ns.saturating_mul(u64::from(sensitivity));
        let watch = shared.watch.get_or_init(|| WatchSlot::watched(limit));
        watch.set_limit(limit);
        shared
            .watchdog_sensitivity
            .store(sensitivity, Ordering::Relaxed);
        shared.consecutive_overruns.store(0, Ordering::Relaxed);
        shared.watchdog_ns.store(time_ns, Ordering::Relaxed);
        Ok(())
    }

    /// The watchdog time and sensitivity (time 0: off).
    pub fn watchdog(&self) -> (u64, u32) {
        (
            self.shared.watchdog_ns.load(Ordering::Relaxed),
            self.shared.watchdog_sensitivity.load(Ordering::Relaxed),
        )
    }

    /// What the published outputs do when the program faults.
    pub fn set_fault_outputs(&self, mode: FaultOutputs) -> Result<()> {
        self.check_loaded()?;
        self.shared
            .fault_outputs
            .store(mode as u8, Ordering::Relaxed);
        Ok(())
    }

    /// The kind of the current fault, [`FaultKind::None`] if not faulted.
    pub fn fault_kind(&self) -> FaultKind {
        self.shared
            .fault
            .lock()
            .as_ref()
            .map_or(FaultKind::None, |f| f.kind)
    }

    /// Replaces the instance with a fresh one of the same module: memory and
    /// globals back to their initial values, except the retain area, which is
    /// carried over; `init` runs again (`wasmcell.start_kind() == 1`). Clears a
    /// fault. On failure the program is faulted with the reason.
    pub fn reset(&self) -> Result<()> {
        self.check_not_reentrant("reset")?;
        let shared = &*self.shared;
        // Held until the fresh instance is in: a reload committed meanwhile
        // waits, then replaces what this reset swapped in (newest wins).
        let _swap = shared.acquire(&shared.swap, "reset")?;
        let compiled = match shared.acquire_live("reset")?.as_ref() {
            Some(live) => live.compiled.clone(),
            None => return Err(self.unloaded_error()),
        };
        let result = self
            .instantiate(&compiled)
            .and_then(|fresh| self.swap_in(fresh, StartKind::Reset));
        if let Err(error) = &result {
            if error.kind() != ErrorKind::InvalidHandle {
                *shared.fault.lock() = Some(Fault {
                    kind: FaultKind::Other,
                    message: error.message().to_string(),
                });
                shared
                    .state
                    .store(ProgramState::Faulted as u8, Ordering::Release);
            }
        }
        result
    }

    /// A new instance of `compiled` for this program, with its current
    /// limits and tag. Callbacks from its start function that re-enter the
    /// program get BUSY.
    fn instantiate(&self, compiled: &CompiledModule) -> Result<LiveInstance> {
        let shared = &*self.shared;
        shared.runtime.check_open()?;
        let _running = RunningGuard::enter(shared);
        let services: Arc<dyn HostServices> = shared.runtime.clone();
        instantiate(
            &services,
            compiled,
            &shared.name,
            self.tag(),
            &self.limits(),
            instance_watch(&self.limits()),
        )
        .map_err(|error| {
            // Freed meanwhile (its host functions are gone, so linking
            // failed): say so, not "does not link".
            if shared.runtime.check_open().is_err() {
                Error::new(ErrorKind::InvalidHandle, "the runtime was freed")
            } else {
                error
            }
        })
    }

    /// Carries the retain area from the running instance into `fresh`, runs
    /// its `init` and swaps it in, all under the program's lock.
    fn swap_in(&self, mut fresh: LiveInstance, start: StartKind) -> Result<()> {
        let shared = &*self.shared;
        let retired = {
            let mut live = shared.acquire_live("swap in a new instance of")?;
            let Some(old) = live.as_mut() else {
                return Err(self.unloaded_error());
            };
            let (restored, notice) = carry_retain(old, &mut fresh);
            {
                // A callback made from `init` that calls back into this
                // program gets BUSY, as it would during a poll.
                let _running = RunningGuard::enter(shared);
                fresh.run_init(&shared.name, self.fuel(), start, restored)?;
            }
            *shared.notice.lock() = notice;
            *shared.fault.lock() = None;
            shared.image.lock().adopt(fresh.image.clone());
            shared
                .state
                .store(ProgramState::Ready as u8, Ordering::Release);
            live.replace(fresh)
        };
        // Tearing the old instance down (unmapping its memory) happens after
        // the lock is released, so it does not stall the polling thread.
        drop(retired);
        Ok(())
    }

    /// The process image the running version declares.
    pub fn image_layout(&self) -> Arc<ImageLayout> {
        self.shared.image.lock().layout()
    }

    /// Writes input bytes at `offset` of the input area; they reach the guest
    /// at the start of the next poll. Never waits for a running poll.
    pub fn write_inputs(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_loaded()?;
        self.shared.image.lock().write_inputs(offset, data)
    }

    /// Reads back the input bytes the host wrote.
    pub fn read_inputs(&self, offset: usize, out: &mut [u8]) -> Result<()> {
        self.check_loaded()?;
        self.shared.image.lock().read_inputs(offset, out)
    }

    /// Reads the published outputs (those of the last poll that succeeded)
    /// and returns the number of that poll (0: none yet). Never waits for a
    /// running poll.
    pub fn read_outputs(&self, offset: usize, out: &mut [u8]) -> Result<u64> {
        self.check_loaded()?;
        self.shared.image.lock().read_outputs(offset, out)
    }

    /// The declared signals with their current ids.
    pub fn signals(&self) -> Vec<(SignalId, Signal)> {
        self.shared.image.lock().signals()
    }

    /// The signal at `index` (declaration order) with its id, and how many
    /// signals there are.
    pub fn signal_at(&self, index: usize) -> (Option<(SignalId, Signal)>, usize) {
        self.shared.image.lock().signal_at(index)
    }

    /// Looks a signal up by name, once; then get or set it by id.
    pub fn signal(&self, name: &str) -> Result<(SignalId, Signal)> {
        self.check_loaded()?;
        self.shared.image.lock().lookup(name)
    }

    /// The value of a signal: inputs as last written by the host, outputs as
    /// last published, retain values from the guest's memory (this waits for
    /// a running poll).
    pub fn get_signal(&self, id: SignalId) -> Result<SignalValue> {
        self.check_loaded()?;
        {
            // Looked up and read under one lock: a swap in between could
            // otherwise index a new, smaller buffer with the old offset.
            let image = self.shared.image.lock();
            let signal = image.signal(id)?;
            if signal.area != Area::Retain {
                return Ok(image.get(&signal));
            }
        }
        self.check_not_reentrant("read a retain signal")?;
        let mut live = self.shared.acquire_live("read a retain signal of")?;
        let live = live.as_mut().ok_or_else(|| self.unloaded_error())?;
        // Looked up again under the live lock: no swap can run meanwhile.
        let signal = self.shared.image.lock().signal(id)?;
        Ok(read_retain_signal(live, &signal))
    }

    /// Sets an input signal, range-checked against its type; it reaches the
    /// guest at the start of the next poll.
    pub fn set_signal(&self, id: SignalId, value: SignalValue) -> Result<()> {
        self.check_loaded()?;
        let mut image = self.shared.image.lock();
        let signal = image.signal(id)?;
        image.set(&signal, value)
    }

    /// Drops the instance and its memory. Waits for a poll running on another
    /// thread to finish. Unloading twice fails with [`ErrorKind::InvalidHandle`].
    pub fn unload(&self) -> Result<()> {
        self.check_not_reentrant("unload")?;
        let instance = {
            let mut live = self.shared.acquire_live("unload")?;
            let instance = live.take();
            if instance.is_some() {
                // "Unloaded" has one meaning: the state, stored under the
                // live lock as the instance leaves, so whoever finds no
                // instance under that lock also reads the state Unloaded.
                self.shared
                    .state
                    .store(ProgramState::Unloaded as u8, Ordering::Release);
            }
            instance
        };
        match instance {
            Some(instance) => {
                drop(instance);
                // Prepared reloads die with their program: each keeps a whole
                // instance (memory reservation included).
                let prepared = std::mem::take(&mut *self.shared.prepared.lock());
                for slot in prepared.iter().filter_map(Weak::upgrade) {
                    let released = slot.lock().take();
                    drop(released);
                }
                Ok(())
            }
            None => Err(self.unloaded_error()),
        }
    }
}

/// Carries the retain area of `old` into `fresh` (see [`crate::retain`]).
/// Returns whether anything was carried, and the notice saying what.
fn carry_retain(old: &mut LiveInstance, fresh: &mut LiveInstance) -> (bool, String) {
    let plan = crate::retain::plan(&old.image, &fresh.image);
    let carried = plan.carry(old, fresh);
    (carried, plan.notice())
}
