//! The handle table. C never sees a Rust pointer: a handle is an index into
//! this table, a generation and a kind tag packed into a pointer-sized value,
//! so NULL, stale, double-freed and wrong-kind handles are recognised and
//! answered with `WASMCELL_ERR_INVALID_HANDLE` instead of being dereferenced.

use crate::error::{Error, ErrorKind};
use crate::program::Program;
use crate::runtime::Runtime;
use once_cell::sync::Lazy;
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;

// A handle packs a kind (2 bits), a generation (30 bits) and an index
// (32 bits) into 64 bits; on a narrower `usize` the kind and generation
// would be cut off and stale handles could alias live ones.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("wasmcell's C handles need 64-bit pointers (see src/ffi/handle.rs)");

const KIND_RUNTIME: u64 = 1;
const KIND_PROGRAM: u64 = 2;
const KIND_RELOAD: u64 = 3;
const GENERATION_MASK: u64 = (1 << 30) - 1;

/// A runtime as the C layer keeps it: with the message of its last failure.
pub(crate) struct RuntimeEntry {
    pub(crate) runtime: Runtime,
    pub(crate) last_error: Mutex<String>,
}

/// A program as the C layer keeps it: with the message of its last failed
/// call that did not fault it (a rejected reload, a bad argument).
pub(crate) struct ProgramEntry {
    pub(crate) program: Program,
    pub(crate) runtime_slot: u32,
    pub(crate) last_error: Mutex<String>,
}

/// A prepared hot swap waiting for its commit.
pub(crate) struct ReloadEntry {
    pub(crate) prepared: Mutex<Option<crate::program::PreparedReload>>,
    pub(crate) runtime_slot: u32,
}

enum Entry {
    Runtime(Arc<RuntimeEntry>),
    Program(Arc<ProgramEntry>),
    Reload(Arc<ReloadEntry>),
}

impl Entry {
    fn runtime_slot(&self) -> Option<u32> {
        match self {
            Entry::Runtime(_) => None,
            Entry::Program(p) => Some(p.runtime_slot),
            Entry::Reload(r) => Some(r.runtime_slot),
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

struct Slot {
    generation: u64,
    entry: Option<Entry>,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

static TABLE: Lazy<RwLock<Table>> = Lazy::new(|| RwLock::new(Table::default()));

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

impl Table {
    fn insert(&mut self, kind: u64, entry: Entry) -> usize {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 1,
                    entry: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.entry = Some(entry);
        encode(kind, index, slot.generation)
    }

    fn lookup(&self, handle: usize, kind: u64, what: &str) -> Result<(u32, &Entry), Error> {
        if handle == 0 {
            return Err(invalid(&format!("{what} handle is NULL")));
        }
        let (found_kind, index, generation) =
            decode(handle).ok_or_else(|| invalid(&format!("not a {what} handle")))?;
        let slot = self
            .slots
            .get(index as usize)
            .ok_or_else(|| invalid(&format!("not a {what} handle")))?;
        let entry = slot
            .entry
            .as_ref()
            .filter(|_| slot.generation & GENERATION_MASK == generation)
            .ok_or_else(|| invalid(&format!("stale {what} handle (already freed or unloaded)")))?;
        if found_kind != kind {
            return Err(invalid(&format!(
                "a {} handle was passed where a {what} handle is expected",
                kind_name(found_kind)
            )));
        }
        Ok((index, entry))
    }

    fn remove(&mut self, index: u32) -> Option<Entry> {
        let slot = &mut self.slots[index as usize];
        let entry = slot.entry.take();
        if entry.is_some() {
            slot.generation += 1;
            // A slot whose generation would wrap is retired, never reused:
            // a handle kept from 2^30 reuses ago must stay stale.
            if slot.generation < GENERATION_MASK {
                self.free.push(index);
            }
        }
        entry
    }
}

pub(crate) fn insert_runtime(runtime: Runtime) -> usize {
    let entry = Arc::new(RuntimeEntry {
        runtime,
        last_error: Mutex::new(String::new()),
    });
    TABLE.write().insert(KIND_RUNTIME, Entry::Runtime(entry))
}

/// Registers a program loaded from the runtime behind `runtime_handle`.
/// Fails (and the caller unloads the program) if that runtime is gone.
pub(crate) fn insert_program(runtime_handle: usize, program: Program) -> Result<usize, Error> {
    let mut table = TABLE.write();
    let (runtime_slot, _) = table.lookup(runtime_handle, KIND_RUNTIME, "runtime")?;
    let entry = Arc::new(ProgramEntry {
        program,
        runtime_slot,
        last_error: Mutex::new(String::new()),
    });
    Ok(table.insert(KIND_PROGRAM, Entry::Program(entry)))
}

pub(crate) fn runtime(handle: usize) -> Result<Arc<RuntimeEntry>, Error> {
    match TABLE.read().lookup(handle, KIND_RUNTIME, "runtime")? {
        (_, Entry::Runtime(entry)) => Ok(entry.clone()),
        _ => Err(invalid("not a runtime handle")),
    }
}

pub(crate) fn program(handle: usize) -> Result<Arc<ProgramEntry>, Error> {
    match TABLE.read().lookup(handle, KIND_PROGRAM, "program")? {
        (_, Entry::Program(entry)) => Ok(entry.clone()),
        _ => Err(invalid("not a program handle")),
    }
}

/// Removes a program handle; later uses of it are stale.
pub(crate) fn remove_program(handle: usize) -> Result<Arc<ProgramEntry>, Error> {
    let mut table = TABLE.write();
    let (index, _) = table.lookup(handle, KIND_PROGRAM, "program")?;
    match table.remove(index) {
        Some(Entry::Program(entry)) => Ok(entry),
        _ => Err(invalid("not a program handle")),
    }
}

/// Removes a runtime handle and the handles of all its programs and
/// prepared reloads. The entries are dropped after the table is unlocked: a
/// dropped instance may run a host function's `free_fn`, which may call back
/// into wasmcell.
pub(crate) fn remove_runtime(handle: usize) -> Result<(), Error> {
    let mut removed = Vec::new();
    {
        let mut table = TABLE.write();
        let (index, _) = table.lookup(handle, KIND_RUNTIME, "runtime")?;
        removed.extend(table.remove(index));
        let orphans: Vec<u32> = table
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.entry.as_ref().and_then(Entry::runtime_slot) == Some(index))
            .map(|(i, _)| i as u32)
            .collect();
        for orphan in orphans {
            removed.extend(table.remove(orphan));
        }
    }
    drop(removed);
    Ok(())
}

/// Registers a prepared reload of the program behind `program_handle`.
pub(crate) fn insert_reload(
    program_handle: usize,
    prepared: crate::program::PreparedReload,
) -> Result<usize, Error> {
    let mut table = TABLE.write();
    let runtime_slot = match table.lookup(program_handle, KIND_PROGRAM, "program")? {
        (_, Entry::Program(entry)) => entry.runtime_slot,
        _ => return Err(invalid("not a program handle")),
    };
    let entry = Arc::new(ReloadEntry {
        prepared: Mutex::new(Some(prepared)),
        runtime_slot,
    });
    Ok(table.insert(KIND_RELOAD, Entry::Reload(entry)))
}

/// Removes a prepared reload handle, returning what it held.
/// The prepared reload behind `handle`, left in the table.
pub(crate) fn reload(handle: usize) -> Result<Arc<ReloadEntry>, Error> {
    let table = TABLE.read();
    match table.lookup(handle, KIND_RELOAD, "reload")? {
        (_, Entry::Reload(entry)) => Ok(entry.clone()),
        _ => Err(invalid("not a reload handle")),
    }
}

pub(crate) fn remove_reload(handle: usize) -> Result<Arc<ReloadEntry>, Error> {
    let mut table = TABLE.write();
    let (index, _) = table.lookup(handle, KIND_RELOAD, "reload")?;
    match table.remove(index) {
        Some(Entry::Reload(entry)) => Ok(entry),
        _ => Err(invalid("not a reload handle")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_never_encode_null() {
        for (kind, index, generation) in [(1, 0, 1), (2, 7, 3), (1, u32::MAX - 1, GENERATION_MASK)]
        {
            let handle = encode(kind, index, generation);
            assert_ne!(handle, 0);
            assert_eq!(decode(handle), Some((kind, index, generation)));
        }
    }

    #[test]
    fn stale_wrong_kind_and_null_handles_are_refused() {
        let runtime = insert_runtime(Runtime::default());
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
        let reused = insert_runtime(Runtime::default());
        assert_ne!(reused, runtime);
        assert!(self::runtime(runtime).is_err());
        remove_runtime(reused).unwrap();
    }
}
