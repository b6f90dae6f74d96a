//! Hot swap of a program: [`Program::reload`] in one step, or prepared
//! ([`Program::prepare_reload`]: compile and instantiate off the control
//! thread, shadow polls, the retain plan) and committed between two polls
//! ([`Program::commit_reload`]).

use super::*;

impl Program {
    /// Hot swap: [`Program::prepare_reload`] then [`Program::commit_reload`].
    /// On failure the old version keeps running untouched.
    pub fn reload(&self, bytes: &[u8]) -> Result<()> {
        let prepared = self.prepare_reload(bytes)?;
        self.commit_reload(prepared)
    }

    /// The slow half of a hot swap, safe on any thread while the program keeps
    /// polling: compiles `bytes` (or takes them from the module cache), links
    /// and instantiates them. Does not touch the running version.
    pub fn prepare_reload(&self, bytes: &[u8]) -> Result<PreparedReload> {
        self.check_not_reentrant("reload")?;
        self.check_loaded()?;
        self.shared.runtime.check_open()?;
        let shared = &*self.shared;
        let limits = self.limits();
        let live = shared
            .runtime
            .cache
            .get_or_compile(bytes, &limits, shared.runtime.compile_settings())
            .and_then(|compiled| self.instantiate(&compiled))
            .map_err(|e| self.reload_error(e))?;
        let slot = Arc::new(Mutex::new(Some(live)));
        {
            let mut prepared = shared.prepared.lock();
            prepared.retain(|slot| slot.strong_count() > 0);
            prepared.push(Arc::downgrade(&slot));
        }
        // Unloaded meanwhile: release at once instead of keeping it alive.
        if self.state() == ProgramState::Unloaded {
            slot.lock().take();
            return Err(self.unloaded_error());
        }
        Ok(PreparedReload {
            program: Arc::downgrade(&self.shared),
            live: slot,
            shadow: None,
        })
    }

    /// The fast half of a hot swap, between two polls: carries the retain area
    /// over (if the new version declares the same retain size and layout id),
    /// runs the new `init` (`wasmcell.start_kind() == 2`) and swaps the new
    /// version in. A poll running on another thread finishes on the old
    /// version first; the next one runs the new version. Recovers a faulted
    /// program. On failure (`init` traps) the old version keeps running.
    pub fn commit_reload(&self, prepared: PreparedReload) -> Result<()> {
        self.check_not_reentrant("reload")?;
        if !std::ptr::eq(prepared.program.as_ptr(), Arc::as_ptr(&self.shared)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "this reload was prepared for another program, not '{}'",
                    self.shared.name
                ),
            ));
        }
        let shared = &*self.shared;
        let _swap = shared
            .acquire(&shared.swap, "reload")
            .map_err(|e| self.reload_error(e))?;
        let Some(mut live) = prepared.live.lock().take() else {
            return Err(Error::new(
                ErrorKind::InvalidHandle,
                format!(
                    "program '{}' was unloaded: its prepared reload was released",
                    shared.name
                ),
            ));
        };
        if prepared.shadow.is_some() {
            // Shadow polls changed the instance's state: start the new
            // version from a fresh instance of the same module (no compile),
            // with the running program's retain at this moment.
            let compiled = live.compiled.clone();
            drop(live);
            live = self
                .instantiate(&compiled)
                .map_err(|e| self.reload_error(e))?;
        }
        self.swap_in(live, StartKind::Reload)
            .map_err(|e| self.reload_error(e))
    }

    fn reload_error(&self, error: Error) -> Error {
        if error.kind() == ErrorKind::InvalidHandle {
            return error;
        }
        Error::new(
            error.kind(),
            format!(
                "reloading '{}': {} (the previous version keeps running)",
                self.shared.name,
                error.message()
            ),
        )
    }

    /// What happened to the retain area at the last reset or reload.
    pub fn notice(&self) -> String {
        self.shared.notice.lock().clone()
    }
}

/// A new version of a program, compiled and instantiated, waiting to be
/// swapped in by [`Program::commit_reload`]. Dropping it discards it.
pub struct PreparedReload {
    program: Weak<ProgramShared>,
    /// Emptied by unload (which releases the instance) or by commit.
    live: Arc<Mutex<Option<LiveInstance>>>,
    /// Set once shadow polls ran: what they produced.
    shadow: Option<Shadow>,
}

/// The private state of a shadow run.
struct Shadow {
    /// Outputs of the last shadow poll that succeeded.
    outputs: Vec<u8>,
    /// Shadow polls run, and the number of the one that produced `outputs`.
    polls: u64,
    outputs_poll: u64,
    /// The fault that stopped the shadow run, if any.
    fault: Option<Fault>,
}

impl PreparedReload {
    /// Runs the prepared version for one cycle on the running program's
    /// current inputs and on a private copy of its retain (taken by name and
    /// type at the first shadow poll, whose `init` also runs; later shadow
    /// polls continue the shadow's own state). Nothing reaches the running
    /// program, its published outputs or its retain. Host callbacks see
    /// [`HostCall::is_shadow`](crate::HostCall::is_shadow) and must not
    /// actuate. Returns what the new version's poll returned; after a fault
    /// the shadow run stays faulted ([`ErrorKind::Faulted`]).
    pub fn shadow_poll(&mut self) -> Result<()> {
        let released = || {
            Error::new(
                ErrorKind::InvalidHandle,
                "the program was unloaded: its prepared reload was released",
            )
        };
        let shared = self.program.upgrade().ok_or_else(released)?;
        let program = Program { shared };
        program.check_not_reentrant("shadow-poll a reload of")?;
        let shared = &*program.shared;
        let mut slot = self.live.lock();
        let fresh = slot.as_mut().ok_or_else(released)?;
        if let Some(fault) = self.shadow.as_ref().and_then(|s| s.fault.as_ref()) {
            return Err(Error::new(
                ErrorKind::Faulted,
                format!(
                    "the shadow run is faulted ({}); prepare the reload again",
                    fault.message
                ),
            ));
        }
        let fuel = program.fuel();
        if self.shadow.is_none() {
            // First shadow poll: the running program's retain, then `init`.
            {
                let mut running = shared.acquire_live("copy the retain area of")?;
                let old = running.as_mut().ok_or_else(|| program.unloaded_error())?;
                let (restored, _) = carry_retain(old, fresh);
                fresh.set_shadow(true);
                let _running = RunningGuard::enter(shared);
                let init = fresh.run_init(&shared.name, fuel, StartKind::Reload, restored);
                fresh.set_shadow(false);
                if let Err(error) = init {
                    self.shadow = Some(Shadow {
                        outputs: Vec::new(),
                        polls: 0,
                        outputs_poll: 0,
                        fault: Some(Fault {
                            kind: FaultKind::Other,
                            message: error.message().to_string(),
                        }),
                    });
                    return Err(error);
                }
            }
            let outputs = fresh.output_area();
            self.shadow = Some(Shadow {
                outputs,
                polls: 0,
                outputs_poll: 0,
                fault: None,
            });
        }
        let inputs = shared.image.lock().inputs().to_vec();
        fresh.copy_inputs(&inputs);
        fresh.set_shadow(true);
        let outcome = {
            let _running = RunningGuard::enter(shared);
            fresh.poll_watched(&shared.name, fuel)
        };
        fresh.set_shadow(false);
        let shadow = self.shadow.as_mut().ok_or_else(released)?;
        shadow.polls += 1;
        match outcome.fault {
            None => {
                shadow.outputs = fresh.output_area();
                shadow.outputs_poll = shadow.polls;
                Ok(())
            }
            Some(fault) => {
                let error = fault.to_error();
                shadow.fault = Some(fault);
                Err(error)
            }
        }
    }

    /// Reads the outputs of the last shadow poll that succeeded into `out`
    /// (from `offset` of the new version's output area) and returns that
    /// shadow poll's number (0: none yet).
    pub fn read_outputs(&self, offset: usize, out: &mut [u8]) -> Result<u64> {
        let Some(shadow) = &self.shadow else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "no shadow poll has run on this reload",
            ));
        };
        let end = offset
            .checked_add(out.len())
            .filter(|&end| end <= shadow.outputs.len());
        let Some(end) = end else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "bytes {offset}..{} are outside the new version's {}-byte output area",
                    offset.saturating_add(out.len()),
                    shadow.outputs.len()
                ),
            ));
        };
        out.copy_from_slice(&shadow.outputs[offset..end]);
        Ok(shadow.outputs_poll)
    }

    /// What committing this version now would do to the running program's
    /// retained state (kept, added, dropped and retyped signals, one report
    /// line each). The commit itself says the same in the program's notice.
    pub fn retain_plan(&self) -> Result<crate::RetainPlan> {
        let unloaded = || {
            Error::new(
                ErrorKind::InvalidHandle,
                "the program was unloaded: its prepared reload was released",
            )
        };
        let program = self.program.upgrade().ok_or_else(unloaded)?;
        let running = program.image.lock().layout();
        let live = self.live.lock();
        let fresh = live.as_ref().ok_or_else(unloaded)?;
        Ok(crate::retain::plan(&running, &fresh.image))
    }
}

impl std::fmt::Debug for PreparedReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedReload").finish_non_exhaustive()
    }
}
