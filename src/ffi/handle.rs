//! The handle table. C never sees a Rust pointer: a handle is an index into
//! this table, a generation and a kind tag packed into a pointer-sized value,
//! so NULL, stale, double-freed and wrong-kind handles are recognised and
//! answered with `WASMCELL_ERR_INVALID_HANDLE` instead of being dereferenced.
//!
//! # Lookups on the poll path take no lock and no reference count
//!
//! The slots live in a fixed directory of chunks that are allocated on first
//! use and never freed or moved, so a slot is read without a lock. A slot
//! holds the full handle value valid in it (0 when empty) and, for a
//! program, a pointer to a node that owns the table's reference to the
//! program. The hot calls ([`with_program`]: poll, state, stats, the
//! setters, the process image and signal calls) pin the current thread
//! (epoch-based reclamation, crossbeam-epoch, on a collector of wasmcell's
//! own), check the slot's handle, load the node, check the node's own handle
//! (a slot reused between the two loads), run while pinned and unpin: no
//! lock, no reference count. Anything else (a NULL, stale or wrong-kind
//! handle) falls back to the slow path under the table's lock, which
//! words the error exactly as before.
//!
//! Calls that may run for long (load, reload, prepare, commit, reset,
//! unload) take an owned reference to the program under a short pin
//! ([`program`]) and run unpinned: a thread stays pinned only for the
//! duration of one hot call.
//!
//! Insertions and removals are serialised by one lock, never held while
//! waiting. A removal clears the slot and releases the lock; pinned readers
//! may still use the entry, so it is dropped only after a grace period
//! (every thread pinned at the removal has unpinned):
//!
//! - **An unload never waits for it.** `Program::unload` already waited for
//!   the program's own running poll and released its instance; what is left
//!   of the entry is parked in a graveyard and dropped by a later insertion,
//!   unload or runtime free once its grace period is over.
//! - **A runtime free waits for it** on the freeing thread, so that the
//!   entries' destructors (which run the host functions' `free_fn`, user
//!   callbacks that may call back into wasmcell) run there and before the
//!   free returns, never on a polling thread. It waits for the hot calls
//!   running on other threads (of any program) to return — at most one
//!   poll's duration — and at most [`GRACE_WAIT_LIMIT`]: past it (a thread
//!   descheduled in a poll for that long, or a host callback blocked on
//!   something the freeing thread holds) the entries are parked too and
//!   their `free_fn` run at a later insertion, unload or free.
//! - A thread inside a pinned section or inside guest code (a host callback
//!   or log sink, which may hold its program's lock) never waits: its
//!   removals are parked.
//!
//! The one cost this puts on polling threads: every 128 pins a thread helps
//! the collector, and popping its queue defers the release of the queue's
//! node into the thread's own bag; a full bag is one allocation (a crossbeam
//! `Bag`), so a polling thread allocates at most about once per 64 removals
//! made elsewhere (`tests/ffi_poll_path.rs`). With no loads and unloads, a
//! poll allocates nothing.
//!
//! Runtime and prepared-reload entries are looked up under the table's
//! (read) lock and cloned: they are not on the poll path, and their removal
//! then needs no grace period (a discard never waits for a running poll).

use crate::error::{Error, ErrorKind};
use crate::program::Program;
use crate::runtime::Runtime;
use crossbeam_epoch::{Atomic, Collector, Guard, LocalHandle, Owned, Shared};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

// A handle packs a kind (2 bits), a generation (30 bits) and an index
// (32 bits) into 64 bits; on a narrower `usize` the kind and generation
// would be cut off and stale handles could alias live ones.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("wasmcell's C handles need 64-bit pointers (see src/ffi/handle.rs)");

const KIND_RUNTIME: u64 = 1;
const KIND_PROGRAM: u64 = 2;
const KIND_RELOAD: u64 = 3;
const GENERATION_MASK: u64 = (1 << 30) - 1;

/// Slots per chunk, and chunks in the directory: 4 194 304 slots at most.
const CHUNK_BITS: u32 = 10;
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
const DIRECTORY_LEN: usize = 4096;
const MAX_SLOTS: usize = CHUNK_LEN * DIRECTORY_LEN;

/// A runtime as the C layer keeps it: with the message of its last failure.
pub(crate) struct RuntimeEntry {
    pub(crate) runtime: Runtime,
    pub(crate) last_error: Mutex<String>,
}

/// A program as the C layer keeps it: with the message of its last failed
/// call that did not fault it (a rejected reload, a bad argument).
pub(crate) struct ProgramEntry {
    pub(crate) program: Program,
    pub(crate) last_error: Mutex<String>,
}

/// A prepared hot swap waiting for its commit.
pub(crate) struct ReloadEntry {
    pub(crate) prepared: Mutex<Option<crate::program::PreparedReload>>,
    pub(crate) runtime_slot: u32,
}

/// What a slot holds, as the writer side keeps it (under `Table::writer`).
/// A program's entry itself lives in its slot's node.
enum Occupant {
    Empty,
    Runtime(Arc<RuntimeEntry>),
    Program { runtime_slot: u32 },
    Reload(Arc<ReloadEntry>),
}

impl Occupant {
    fn runtime_slot(&self) -> Option<u32> {
        match self {
            Occupant::Empty | Occupant::Runtime(_) => None,
            Occupant::Program { runtime_slot } => Some(*runtime_slot),
            Occupant::Reload(r) => Some(r.runtime_slot),
        }
    }
}

fn kind_name(kind: u64) -> &'static str {
    match kind {
        KIND_RUNTIME => "runtime",
        KIND_PROGRAM => "program",
        KIND_RELOAD => "reload",
        _ => "unknown",
    }
}

/// The table's reference to a program, with the handle it was inserted
/// under (checked by lock-free readers: the slot may be reused between
/// their two loads).
struct ProgramNode {
    handle: u64,
    entry: Arc<ProgramEntry>,
}

/// A slot, at a fixed address for the life of the process.
struct Slot {
    /// The handle valid in this slot, 0 when empty.
    handle: AtomicU64,
    /// The program's node when the slot holds a program, else null.
    program: Atomic<ProgramNode>,
}

impl Slot {
    const fn new() -> Self {
        Self {
            handle: AtomicU64::new(0),
            program: Atomic::null(),
        }
    }
}

type Chunk = [Slot; CHUNK_LEN];

/// What only insertions and removals change, under `Table::writer`.
#[derive(Default)]
struct Writer {
    /// Per slot ever handed out (index below `meta.len()`): its generation
    /// and occupant.
    meta: Vec<Meta>,
    free: Vec<u32>,
}

struct Meta {
    generation: u64,
    occupant: Occupant,
}

/// Program nodes unlinked by a thread that could not wait for a grace
/// period, with the token that tells when theirs is over. (`Owned`, not
/// moved out of their allocation: pinned readers may hold references into
/// it.)
struct Batch {
    nodes: Vec<Owned<ProgramNode>>,
    token: Arc<()>,
}

pub(crate) struct Table {
    directory: [OnceLock<Box<Chunk>>; DIRECTORY_LEN],
    /// Slots this table hands out at most (`MAX_SLOTS`; less in tests).
    capacity: usize,
    writer: RwLock<Writer>,
    graveyard: Mutex<Vec<Batch>>,
}

static TABLE: Table = Table::new(MAX_SLOTS);

// ---- epochs ------------------------------------------------------------------

/// wasmcell's own epoch collector: the global one of crossbeam-epoch is
/// shared with rayon (wasmer's compile threads), whose garbage a polling
/// thread would otherwise help to free, and whose pins would delay unloads.
fn collector() -> &'static Collector {
    static COLLECTOR: OnceLock<Collector> = OnceLock::new();
    COLLECTOR.get_or_init(Collector::new)
}

thread_local! {
    static HANDLE: LocalHandle = collector().register();
}

#[inline]
fn pin() -> Guard {
    // During thread exit, once `HANDLE` is gone, a fresh registration pins
    // (crossbeam-epoch's own `pin` does the same).
    HANDLE
        .try_with(LocalHandle::pin)
        .unwrap_or_else(|_| collector().register().pin())
}

/// Whether this thread must not wait for a grace period: it is pinned (it
/// would wait for itself), or it runs inside guest code (a host callback
/// or log sink, whose program's lock a pinned poll may be waiting for).
fn must_not_wait() -> bool {
    HANDLE.try_with(LocalHandle::is_pinned).unwrap_or(false) || crate::program::inside_guest_call()
}

/// A token whose only other reference is dropped by a closure deferred now:
/// it is unique again once every thread pinned now has unpinned.
fn grace_token() -> Arc<()> {
    let token = Arc::new(());
    let theirs = Arc::clone(&token);
    let guard = pin();
    // The closure only decrements the count (the caller keeps a reference
    // until it is unique), so whoever collects it frees nothing.
    guard.defer(move || drop(theirs));
    guard.flush();
    token
}

/// How long a runtime free waits for the hot calls running on other threads
/// to return before it leaves its programs to the graveyard: long enough
/// for any poll that is not stuck, short enough that a host callback
/// blocked on the freeing thread (a lock it holds) cannot deadlock it.
const GRACE_WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits, without being pinned, until every thread pinned at the call has
/// unpinned, or `limit` has passed: whether the period ended.
fn wait_for_grace_period(limit: std::time::Duration) -> bool {
    let mut token = grace_token();
    let started = std::time::Instant::now();
    let mut rounds = 0u32;
    // `get_mut` reads the count with Acquire: it orders what follows after
    // the deferred closure, itself after the readers' unpinning.
    while Arc::get_mut(&mut token).is_none() {
        if started.elapsed() > limit {
            return false;
        }
        pin().flush();
        rounds = rounds.saturating_add(1);
        if rounds < 100 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
    true
}

/// Program nodes taken out of their slots. Pinned readers may still be using
/// them: they are dropped only after a grace period, or parked in the
/// graveyard; dropping an `Unlinked` does that, so nothing frees them early.
struct Unlinked<'t> {
    table: &'t Table,
    nodes: Vec<Owned<ProgramNode>>,
    /// Whether to wait for a grace period and drop the nodes and the
    /// graveyard now (a runtime free, whose host functions' `free_fn` run
    /// here); otherwise (an unload, a discard) the nodes go to the graveyard
    /// and only what is past its grace period is dropped, without waiting.
    drain: bool,
}

impl<'t> Unlinked<'t> {
    fn new(table: &'t Table, drain: bool) -> Self {
        Self {
            table,
            nodes: Vec::new(),
            drain,
        }
    }
}

impl Drop for Unlinked<'_> {
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        if self.drain {
            self.table.dispose(nodes);
        } else {
            // An unload never waits for polls of other programs (the
            // program's own poll was waited for by `Program::unload`, which
            // released its instance): what is left of the entry is parked.
            self.table.park(nodes);
            self.table.drain_expired();
        }
    }
}

// ---- handles -----------------------------------------------------------------

fn encode(kind: u64, index: u32, generation: u64) -> usize {
    ((kind << 62) | ((generation & GENERATION_MASK) << 32) | (index as u64 + 1)) as usize
}

fn decode(handle: usize) -> Option<(u64, u32, u64)> {
    let raw = handle as u64;
    let index = (raw & 0xffff_ffff).checked_sub(1)? as u32;
    Some((raw >> 62, index, (raw >> 32) & GENERATION_MASK))
}

fn invalid(why: &str) -> Error {
    Error::new(ErrorKind::InvalidHandle, why)
}

impl Writer {
    /// The occupant behind `handle`, or the error of a handle that is not
    /// one of kind `kind`, worded for `what`.
    fn lookup(&self, handle: usize, kind: u64, what: &str) -> Result<(u32, &Occupant), Error> {
        if handle == 0 {
            return Err(invalid(&format!("{what} handle is NULL")));
        }
        let (found_kind, index, generation) =
            decode(handle).ok_or_else(|| invalid(&format!("not a {what} handle")))?;
        let meta = self
            .meta
            .get(index as usize)
            .ok_or_else(|| invalid(&format!("not a {what} handle")))?;
        if matches!(meta.occupant, Occupant::Empty)
            || meta.generation & GENERATION_MASK != generation
        {
            return Err(invalid(&format!(
                "stale {what} handle (already freed or unloaded)"
            )));
        }
        if found_kind != kind {
            return Err(invalid(&format!(
                "a {} handle was passed where a {what} handle is expected",
                kind_name(found_kind)
            )));
        }
        Ok((index, &meta.occupant))
    }
}

impl Table {
    const fn new(capacity: usize) -> Self {
        Self {
            directory: [const { OnceLock::new() }; DIRECTORY_LEN],
            capacity,
            writer: RwLock::new(Writer {
                meta: Vec::new(),
                free: Vec::new(),
            }),
            graveyard: Mutex::new(Vec::new()),
        }
    }

    /// The slot at `index`, if its chunk exists.
    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot> {
        let index = index as usize;
        self.directory
            .get(index >> CHUNK_BITS)?
            .get()?
            .get(index & (CHUNK_LEN - 1))
    }

    /// A free slot (its chunk allocated): a freed one, else a new one.
    fn allocate(&self, writer: &mut Writer) -> Result<u32, Error> {
        if let Some(index) = writer.free.pop() {
            return Ok(index);
        }
        let index = writer.meta.len();
        if index >= self.capacity {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("the handle table is full ({} handles)", self.capacity),
            ));
        }
        self.directory[index >> CHUNK_BITS]
            .get_or_init(|| Box::new([const { Slot::new() }; CHUNK_LEN]));
        writer.meta.push(Meta {
            generation: 1,
            occupant: Occupant::Empty,
        });
        Ok(index as u32)
    }

    /// Fills the free slot `index` and returns its handle; a program's
    /// entry goes into the slot's node.
    fn occupy(
        &self,
        writer: &mut Writer,
        index: u32,
        kind: u64,
        occupant: Occupant,
        program: Option<Arc<ProgramEntry>>,
    ) -> usize {
        let meta = &mut writer.meta[index as usize];
        let handle = encode(kind, index, meta.generation);
        meta.occupant = occupant;
        if let Some(slot) = self.slot(index) {
            if let Some(entry) = program {
                let node = Owned::new(ProgramNode {
                    handle: handle as u64,
                    entry,
                });
                slot.program.store(node, Ordering::Release);
            }
            // Published after the node: a reader that sees this handle
            // loads this node or a later one.
            slot.handle.store(handle as u64, Ordering::Release);
        }
        handle
    }

    /// Empties slot `index`; its program node (if any) goes to `unlinked`.
    fn vacate(&self, writer: &mut Writer, index: u32, unlinked: &mut Unlinked<'_>) -> Occupant {
        let Some(meta) = writer.meta.get_mut(index as usize) else {
            return Occupant::Empty;
        };
        let occupant = std::mem::replace(&mut meta.occupant, Occupant::Empty);
        if matches!(occupant, Occupant::Empty) {
            return occupant;
        }
        meta.generation += 1;
        // A slot whose generation would wrap is retired, never reused:
        // a handle kept from 2^30 reuses ago must stay stale.
        if meta.generation < GENERATION_MASK {
            writer.free.push(index);
        }
        if let Some(slot) = self.slot(index) {
            slot.handle.store(0, Ordering::Release);
            let guard = pin();
            let node = slot.program.swap(Shared::null(), Ordering::AcqRel, &guard);
            if !node.is_null() {
                // SAFETY: the node was stored by `occupy` from an `Owned`
                // and the slot was its only owner; the swap unlinked it, so
                // no reader loads it any more. Readers that loaded it before
                // are pinned: `Unlinked` frees it only after a grace period.
                unlinked.nodes.push(unsafe { node.into_owned() });
            }
        }
        occupant
    }

    /// Drops unlinked nodes after a grace period, with the graveyard; or,
    /// on a thread that must not wait, parks them in the graveyard.
    /// When the wait passes [`GRACE_WAIT_LIMIT`], everything is parked
    /// again (dropped by a later call) instead of blocking further.
    fn dispose(&self, nodes: Vec<Owned<ProgramNode>>) {
        if must_not_wait() {
            self.park(nodes);
            return;
        }
        let buried: Vec<Batch> = std::mem::take(&mut *self.graveyard.lock());
        if nodes.is_empty() && buried.is_empty() {
            return;
        }
        if !wait_for_grace_period(GRACE_WAIT_LIMIT) {
            self.park(nodes);
            self.graveyard.lock().extend(buried);
            return;
        }
        // The entries' destructors run here, on the removing thread, with
        // no lock of the table held.
        drop(nodes);
        drop(buried);
    }

    /// Parks unlinked nodes in the graveyard until their grace period is
    /// over.
    fn park(&self, nodes: Vec<Owned<ProgramNode>>) {
        if !nodes.is_empty() {
            let token = grace_token();
            self.graveyard.lock().push(Batch { nodes, token });
        }
    }

    /// Drops the graveyard's batches whose grace period is over, without
    /// waiting (insertions must not wait for a running poll).
    fn drain_expired(&self) {
        if must_not_wait() {
            return;
        }
        let mut expired = Vec::new();
        {
            let mut graveyard = self.graveyard.lock();
            if graveyard.is_empty() {
                return;
            }
            pin().flush();
            let mut i = 0;
            while i < graveyard.len() {
                if Arc::get_mut(&mut graveyard[i].token).is_some() {
                    expired.extend(graveyard.swap_remove(i).nodes);
                } else {
                    i += 1;
                }
            }
        }
        drop(expired);
    }

    /// The node of the live program behind `handle`, without a lock; `None`
    /// for anything else (the caller then asks the slow path why).
    #[inline]
    fn find_program<'g>(&self, handle: usize, guard: &'g Guard) -> Option<&'g ProgramNode> {
        let (kind, index, _) = decode(handle)?;
        if kind != KIND_PROGRAM {
            return None;
        }
        let slot = self.slot(index)?;
        if slot.handle.load(Ordering::Acquire) != handle as u64 {
            return None;
        }
        let node = slot.program.load(Ordering::Acquire, guard);
        // SAFETY: a non-null pointer in a slot is a node stored by `occupy`;
        // it is freed only after being unlinked and a grace period, and this
        // thread has been pinned (`guard`) since before it loaded it, so it
        // lives at least as long as `guard`.
        let node = unsafe { node.as_ref() }?;
        // The slot may have been emptied and reused between the two loads.
        (node.handle == handle as u64).then_some(node)
    }

    fn insert_runtime(&self, runtime: Runtime) -> Result<usize, Error> {
        let entry = Arc::new(RuntimeEntry {
            runtime,
            last_error: Mutex::new(String::new()),
        });
        let handle = {
            let mut writer = self.writer.write();
            let index = self.allocate(&mut writer)?;
            self.occupy(
                &mut writer,
                index,
                KIND_RUNTIME,
                Occupant::Runtime(entry),
                None,
            )
        };
        self.drain_expired();
        Ok(handle)
    }

    fn insert_program(&self, runtime_handle: usize, program: Program) -> Result<usize, Error> {
        let handle = {
            let mut writer = self.writer.write();
            let (runtime_slot, _) = writer.lookup(runtime_handle, KIND_RUNTIME, "runtime")?;
            let index = self.allocate(&mut writer)?;
            let entry = Arc::new(ProgramEntry {
                program,
                last_error: Mutex::new(String::new()),
            });
            self.occupy(
                &mut writer,
                index,
                KIND_PROGRAM,
                Occupant::Program { runtime_slot },
                Some(entry),
            )
        };
        self.drain_expired();
        Ok(handle)
    }

    fn insert_reload(
        &self,
        program_handle: usize,
        prepared: crate::program::PreparedReload,
    ) -> Result<usize, Error> {
        let handle = {
            let mut writer = self.writer.write();
            let runtime_slot = match writer.lookup(program_handle, KIND_PROGRAM, "program")? {
                (_, Occupant::Program { runtime_slot }) => *runtime_slot,
                _ => return Err(invalid("not a program handle")),
            };
            let index = self.allocate(&mut writer)?;
            let entry = Arc::new(ReloadEntry {
                prepared: Mutex::new(Some(prepared)),
                runtime_slot,
            });
            self.occupy(
                &mut writer,
                index,
                KIND_RELOAD,
                Occupant::Reload(entry),
                None,
            )
        };
        self.drain_expired();
        Ok(handle)
    }

    fn runtime(&self, handle: usize) -> Result<Arc<RuntimeEntry>, Error> {
        match self.writer.read().lookup(handle, KIND_RUNTIME, "runtime")? {
            (_, Occupant::Runtime(entry)) => Ok(entry.clone()),
            _ => Err(invalid("not a runtime handle")),
        }
    }

    /// An owned reference to the program behind `handle` (the slow path:
    /// under the read lock, with the exact error of a bad handle).
    fn program(&self, handle: usize) -> Result<Arc<ProgramEntry>, Error> {
        let writer = self.writer.read();
        let index = match writer.lookup(handle, KIND_PROGRAM, "program")? {
            (index, Occupant::Program { .. }) => index,
            _ => return Err(invalid("not a program handle")),
        };
        let guard = pin();
        let node = self
            .slot(index)
            .map(|slot| slot.program.load(Ordering::Acquire, &guard));
        // SAFETY: as in `find_program` (pinned since before the load); and
        // the read lock keeps the slot from being emptied meanwhile.
        match node.and_then(|node| unsafe { node.as_ref() }) {
            Some(node) => Ok(node.entry.clone()),
            None => Err(invalid("not a program handle")),
        }
    }

    /// Runs `f` on the program behind `handle`: pinned, without a lock or a
    /// reference count when the handle is live; otherwise on the slow path.
    #[inline]
    fn with_program<R>(
        &self,
        handle: usize,
        f: impl FnOnce(&Arc<ProgramEntry>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let guard = pin();
        if let Some(node) = self.find_program(handle, &guard) {
            return f(&node.entry);
        }
        drop(guard);
        self.with_program_slow(handle, f)
    }

    /// A handle the lock-free lookup did not find: the exact error, or (a
    /// handle used while it was being inserted) an owned reference.
    #[cold]
    #[inline(never)]
    fn with_program_slow<R>(
        &self,
        handle: usize,
        f: impl FnOnce(&Arc<ProgramEntry>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        f(&self.program(handle)?)
    }

    fn remove_program(&self, handle: usize) -> Result<(), Error> {
        let mut unlinked = Unlinked::new(self, false);
        {
            let mut writer = self.writer.write();
            let index = match writer.lookup(handle, KIND_PROGRAM, "program")? {
                (index, Occupant::Program { .. }) => index,
                _ => return Err(invalid("not a program handle")),
            };
            self.vacate(&mut writer, index, &mut unlinked);
        }
        drop(unlinked);
        Ok(())
    }

    fn remove_runtime(&self, handle: usize) -> Result<(), Error> {
        let mut unlinked = Unlinked::new(self, true);
        let mut removed = Vec::new();
        {
            let mut writer = self.writer.write();
            let (index, _) = writer.lookup(handle, KIND_RUNTIME, "runtime")?;
            removed.push(self.vacate(&mut writer, index, &mut unlinked));
            let orphans: Vec<u32> = writer
                .meta
                .iter()
                .enumerate()
                .filter(|(_, meta)| meta.occupant.runtime_slot() == Some(index))
                .map(|(i, _)| i as u32)
                .collect();
            for orphan in orphans {
                removed.push(self.vacate(&mut writer, orphan, &mut unlinked));
            }
        }
        // After a grace period (and with the graveyard), outside the lock.
        drop(unlinked);
        drop(removed);
        Ok(())
    }

    fn reload(&self, handle: usize) -> Result<Arc<ReloadEntry>, Error> {
        match self.writer.read().lookup(handle, KIND_RELOAD, "reload")? {
            (_, Occupant::Reload(entry)) => Ok(entry.clone()),
            _ => Err(invalid("not a reload handle")),
        }
    }

    fn remove_reload(&self, handle: usize) -> Result<Arc<ReloadEntry>, Error> {
        let mut unlinked = Unlinked::new(self, false);
        let removed = {
            let mut writer = self.writer.write();
            let index = match writer.lookup(handle, KIND_RELOAD, "reload")? {
                (index, Occupant::Reload(_)) => index,
                _ => return Err(invalid("not a reload handle")),
            };
            self.vacate(&mut writer, index, &mut unlinked)
        };
        // A reload has no node: nothing to wait for (a discard does not wait
        // for a running poll); the graveyard only loses what is past its
        // grace period.
        drop(unlinked);
        match removed {
            Occupant::Reload(entry) => Ok(entry),
            _ => Err(invalid("not a reload handle")),
        }
    }
}

pub(crate) fn insert_runtime(runtime: Runtime) -> Result<usize, Error> {
    TABLE.insert_runtime(runtime)
}

/// Registers a program loaded from the runtime behind `runtime_handle`.
/// Fails (and the caller unloads the program) if that runtime is gone.
pub(crate) fn insert_program(runtime_handle: usize, program: Program) -> Result<usize, Error> {
    TABLE.insert_program(runtime_handle, program)
}

pub(crate) fn runtime(handle: usize) -> Result<Arc<RuntimeEntry>, Error> {
    TABLE.runtime(handle)
}

/// An owned reference to the program behind `handle`, for calls that may
/// run long: they must not stay pinned (see the module documentation).
pub(crate) fn program(handle: usize) -> Result<Arc<ProgramEntry>, Error> {
    TABLE.program(handle)
}

/// Runs `f` on the program behind `handle` while pinned: no lock, no
/// reference count. `f` must be short (it delays every unload of the
/// process) and must not wait for a grace period (removals made inside it
/// go to the graveyard by themselves).
#[inline]
pub(crate) fn with_program<R>(
    handle: usize,
    f: impl FnOnce(&Arc<ProgramEntry>) -> Result<R, Error>,
) -> Result<R, Error> {
    TABLE.with_program(handle, f)
}

/// Removes a program handle; later uses of it are stale. The table's
/// reference is parked until its grace period is over (an unload does not
/// wait for other programs' polls) and dropped by a later table change.
pub(crate) fn remove_program(handle: usize) -> Result<(), Error> {
    TABLE.remove_program(handle)
}

/// Removes a runtime handle and the handles of all its programs and
/// prepared reloads. The entries are dropped after the table is unlocked and
/// a grace period (waited for at most `GRACE_WAIT_LIMIT`, then parked): a
/// dropped instance may run a host function's `free_fn`, which may call back
/// into wasmcell.
pub(crate) fn remove_runtime(handle: usize) -> Result<(), Error> {
    TABLE.remove_runtime(handle)
}

/// Registers a prepared reload of the program behind `program_handle`.
pub(crate) fn insert_reload(
    program_handle: usize,
    prepared: crate::program::PreparedReload,
) -> Result<usize, Error> {
    TABLE.insert_reload(program_handle, prepared)
}

/// The prepared reload behind `handle`, left in the table.
pub(crate) fn reload(handle: usize) -> Result<Arc<ReloadEntry>, Error> {
    TABLE.reload(handle)
}

/// Removes a prepared reload handle, returning what it held.
pub(crate) fn remove_reload(handle: usize) -> Result<Arc<ReloadEntry>, Error> {
    TABLE.remove_reload(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_never_encode_null() {
        let _serial = serial();
        for (kind, index, generation) in [(1, 0, 1), (2, 7, 3), (1, u32::MAX - 1, GENERATION_MASK)]
        {
            let handle = encode(kind, index, generation);
            assert_ne!(handle, 0);
            assert_eq!(decode(handle), Some((kind, index, generation)));
        }
    }

    #[test]
    fn stale_wrong_kind_and_null_handles_are_refused() {
        let _serial = serial();
        let runtime = insert_runtime(Runtime::default()).unwrap();
        assert!(self::runtime(runtime).is_ok());
        assert_eq!(
            program(runtime).err().unwrap().kind(),
            ErrorKind::InvalidHandle
        );
        assert_eq!(
            self::runtime(0).err().unwrap().kind(),
            ErrorKind::InvalidHandle
        );
        remove_runtime(runtime).unwrap();
        let stale = self::runtime(runtime).err().unwrap();
        assert!(stale.message().contains("stale"), "{stale}");
        assert_eq!(
            remove_runtime(runtime).unwrap_err().kind(),
            ErrorKind::InvalidHandle
        );
        // A new runtime reusing the slot does not revive the old handle.
        let reused = insert_runtime(Runtime::default()).unwrap();
        assert_ne!(reused, runtime);
        assert!(self::runtime(runtime).is_err());
        remove_runtime(reused).unwrap();
    }

    /// A table of its own (leaked: tables live as long as the process).
    /// The tests share the process's epoch collector: one that stays pinned
    /// (or waits for a grace period) would slow the others' removals down.
    fn serial() -> parking_lot::MutexGuard<'static, ()> {
        static SERIAL: Mutex<()> = Mutex::new(());
        SERIAL.lock()
    }

    fn table(capacity: usize) -> &'static Table {
        Box::leak(Box::new(Table::new(capacity)))
    }

    fn load(runtime: &Runtime, name: &str) -> Program {
        runtime
            .load(name, b"(module (func (export \"poll\")))")
            .unwrap()
    }

    fn message<T>(result: Result<T, Error>) -> String {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(error) => {
                assert_eq!(error.kind(), ErrorKind::InvalidHandle, "{error}");
                error.message().to_string()
            }
        }
    }

    fn name_of(table: &Table, handle: usize) -> Result<String, Error> {
        table.with_program(handle, |entry| Ok(entry.program.name().to_string()))
    }

    #[test]
    fn handles_beyond_the_directory_or_never_handed_out_are_not_handles() {
        let _serial = serial();
        let t = table(MAX_SLOTS);
        let rt = t.insert_runtime(Runtime::default()).unwrap();
        let p = t
            .insert_program(rt, load(&Runtime::default(), "p"))
            .unwrap();
        assert_eq!(name_of(t, p).unwrap(), "p");
        for index in [
            MAX_SLOTS as u32,
            MAX_SLOTS as u32 + 5,
            u32::MAX - 1,
            2,
            1023,
            1024,
        ] {
            for generation in [0, 1, 2, GENERATION_MASK] {
                let forged = encode(KIND_PROGRAM, index, generation);
                assert_eq!(message(name_of(t, forged)), "not a program handle");
                assert_eq!(message(t.program(forged)), "not a program handle");
                assert_eq!(message(t.remove_program(forged)), "not a program handle");
                let forged = encode(KIND_RUNTIME, index, generation);
                assert_eq!(message(t.runtime(forged)), "not a runtime handle");
            }
        }
        // Index bits 0 (index + 1 is stored), any kind or generation.
        assert_eq!(
            message(name_of(t, 2 << 62 | 1 << 32)),
            "not a program handle"
        );
        assert_eq!(message(name_of(t, 0)), "program handle is NULL");
        // Wrong kind and forged kind, as before.
        assert_eq!(
            message(name_of(t, rt)),
            "a runtime handle was passed where a program handle is expected"
        );
        let forged = (rt as u64 & !(3 << 62) | KIND_PROGRAM << 62) as usize;
        assert_eq!(message(name_of(t, forged)), "not a program handle");
        assert_eq!(
            message(t.runtime(p)),
            "a program handle was passed where a runtime handle is expected"
        );
        t.remove_runtime(rt).unwrap();
        assert_eq!(
            message(name_of(t, p)),
            "stale program handle (already freed or unloaded)"
        );
    }

    #[test]
    fn a_reused_slot_does_not_revive_an_old_handle() {
        let _serial = serial();
        let t = table(2);
        let runtime = Runtime::default();
        let rt = t.insert_runtime(Runtime::default()).unwrap();
        let old = t.insert_program(rt, load(&runtime, "old")).unwrap();
        let weak = Arc::downgrade(&t.program(old).unwrap());
        t.remove_program(old).unwrap();
        // Dropped by the removal itself, on this thread.
        assert!(weak.upgrade().is_none());
        let new = t.insert_program(rt, load(&runtime, "new")).unwrap();
        let (_, old_index, old_generation) = decode(old).unwrap();
        let (_, new_index, new_generation) = decode(new).unwrap();
        assert_eq!(old_index, new_index);
        assert_eq!(new_generation, old_generation + 1);
        assert_eq!(name_of(t, new).unwrap(), "new");
        let stale = "stale program handle (already freed or unloaded)";
        assert_eq!(message(name_of(t, old)), stale);
        assert_eq!(message(t.program(old)), stale);
        assert_eq!(message(t.remove_program(old)), stale);
        // The slot is full (capacity 2): nothing else fits.
        let full = t.insert_runtime(Runtime::default()).unwrap_err();
        assert_eq!(full.kind(), ErrorKind::Limit);
        t.remove_runtime(rt).unwrap();
        assert_eq!(message(name_of(t, new)), stale);
    }

    #[test]
    fn a_slot_whose_generation_would_wrap_is_retired() {
        let _serial = serial();
        let t = table(2);
        let a = t.insert_runtime(Runtime::default()).unwrap();
        let b = t.insert_runtime(Runtime::default()).unwrap();
        t.remove_runtime(b).unwrap();
        let (_, index, _) = decode(b).unwrap();
        t.writer.write().meta[index as usize].generation = GENERATION_MASK - 1;
        let last = t.insert_runtime(Runtime::default()).unwrap();
        assert_eq!(
            decode(last),
            Some((KIND_RUNTIME, index, GENERATION_MASK - 1))
        );
        t.remove_runtime(last).unwrap();
        // Generation 2^30 - 1 would wrap to 0 next: the slot is not reused
        // and the table (capacity 2) is full.
        assert_eq!(
            t.insert_runtime(Runtime::default()).unwrap_err().kind(),
            ErrorKind::Limit
        );
        assert!(t.writer.read().free.is_empty());
        for handle in [b, last] {
            assert!(message(t.runtime(handle)).starts_with("stale runtime handle"));
        }
        t.remove_runtime(a).unwrap();
        assert!(t.insert_runtime(Runtime::default()).is_ok());
    }

    #[test]
    fn an_unload_does_not_wait_for_a_pinned_reader_and_a_runtime_free_does() {
        let _serial = serial();
        let t = table(4);
        let runtime = Runtime::default();
        let rt = t.insert_runtime(Runtime::default()).unwrap();
        let p = t.insert_program(rt, load(&runtime, "p")).unwrap();
        let weak = Arc::downgrade(&t.program(p).unwrap());
        let guard = pin();
        let node = t.find_program(p, &guard).unwrap();
        // The unload returns at once: the entry is parked, not dropped.
        std::thread::spawn(move || t.remove_program(p).unwrap())
            .join()
            .unwrap();
        assert!(t.find_program(p, &guard).is_none());
        assert_eq!(node.entry.program.name(), "p");
        assert!(weak.upgrade().is_some());
        // A runtime free waits for the reader, then drops on its own thread.
        let remover = std::thread::spawn(move || {
            t.remove_runtime(rt).unwrap();
            weak.upgrade().is_none()
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            !remover.is_finished(),
            "the runtime free did not wait for the reader"
        );
        drop(guard);
        assert!(remover.join().unwrap());
    }

    #[test]
    fn a_runtime_free_waits_a_bounded_time_then_parks() {
        let _serial = serial();
        let t = table(4);
        let runtime = Runtime::default();
        let rt = t.insert_runtime(Runtime::default()).unwrap();
        let p = t.insert_program(rt, load(&runtime, "p")).unwrap();
        let weak = Arc::downgrade(&t.program(p).unwrap());
        // A reader that stays pinned (a host callback blocked on the
        // freeing thread, say) cannot make the free wait forever.
        let guard = pin();
        let started = std::time::Instant::now();
        std::thread::spawn(move || t.remove_runtime(rt).unwrap())
            .join()
            .unwrap();
        let took = started.elapsed();
        assert!(took >= GRACE_WAIT_LIMIT, "{took:?}");
        assert!(took < GRACE_WAIT_LIMIT * 5, "{took:?}");
        assert!(weak.upgrade().is_some(), "dropped under a pinned reader");
        assert_eq!(t.graveyard.lock().len(), 1);
        drop(guard);
        // A later insertion drops it once the reader is gone.
        let mut inserted = Vec::new();
        while !t.graveyard.lock().is_empty() {
            assert!(inserted.len() < 500, "the graveyard is never drained");
            inserted.push(t.insert_runtime(Runtime::default()).unwrap());
            std::thread::sleep(std::time::Duration::from_millis(1));
            if inserted.len() == 2 {
                for handle in inserted.drain(..) {
                    t.remove_runtime(handle).unwrap();
                }
            }
        }
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn a_pinned_removal_goes_to_the_graveyard_and_is_dropped_later() {
        let _serial = serial();
        let t = table(1000);
        let runtime = Runtime::default();
        let rt = t.insert_runtime(Runtime::default()).unwrap();
        let p = t.insert_program(rt, load(&runtime, "p")).unwrap();
        let q = t.insert_program(rt, load(&runtime, "q")).unwrap();
        let weak = Arc::downgrade(&t.program(p).unwrap());
        // As a host callback of q, inside q's poll, unloading p.
        t.with_program(q, |_| t.remove_program(p)).unwrap();
        assert_eq!(
            message(name_of(t, p)),
            "stale program handle (already freed or unloaded)"
        );
        assert_eq!(t.graveyard.lock().len(), 1);
        assert!(weak.upgrade().is_some(), "dropped by a pinned thread");
        // An insertion drops it once its grace period is over, not waiting.
        let mut inserted = Vec::new();
        while !t.graveyard.lock().is_empty() {
            assert!(inserted.len() < 500, "the graveyard is never drained");
            inserted.push(t.insert_runtime(Runtime::default()).unwrap());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(weak.upgrade().is_none());
        // And a runtime free drains it, waiting.
        let weak_q = Arc::downgrade(&t.program(q).unwrap());
        t.with_program(q, |_| t.remove_program(q)).unwrap();
        assert_eq!(t.graveyard.lock().len(), 1);
        t.remove_runtime(rt).unwrap();
        assert!(t.graveyard.lock().is_empty());
        assert!(weak_q.upgrade().is_none());
        for other in inserted {
            t.remove_runtime(other).unwrap();
        }
    }
}
