//! The engine version: everything that differs between the two wasmer
//! releases wasmcell builds on, and nothing else. The rest of the crate uses
//! these items and never names a version.
//!
//! - Linux, macOS and every other non-Windows target: wasmer 7.4.2.
//! - Windows: wasmer 6.1.0. Every 7.x compiler crate stops with a
//!   `compile_error!` on Windows; 6.1.0 is the newest release whose
//!   compilers build there.
//!
//! The instruction budget is no engine feature: it is a rewrite of the
//! module bytes before either release sees them (`crate::budget`).
//!
//! Each item below says what differs and what wasmcell does about it.

use std::ptr::NonNull;
use wasmer::sys::vm::VMGlobalDefinition;
use wasmer::sys::BaseTunables;
use wasmer::wasmparser::ImportSectionReader;
use wasmer::{AsStoreMut, Global, Store};

/// The wasmer release in use, for the header of compiled-module cache files
/// (an artifact of one release is foreign to the other). build.rs reads it
/// from the pin in Cargo.toml for the target.
pub(crate) const WASMER_VERSION: &str = env!("WASMCELL_WASMER_VERSION");

/// wasmer's own tunables for the machine it runs on. 7.x has
/// `BaseTunables::default()`; 6.1 builds them from the host target.
#[cfg(not(windows))]
pub(crate) fn base_tunables() -> BaseTunables {
    BaseTunables::default()
}

/// wasmer's own tunables for the machine it runs on. 7.x has
/// `BaseTunables::default()`; 6.1 builds them from the host target.
#[cfg(windows)]
pub(crate) fn base_tunables() -> BaseTunables {
    BaseTunables::for_target(&wasmer::sys::Target::default())
}

/// The storage of `global`, a global defined by an instance in `store`.
/// 7.x unwraps the engine-neutral `VMExtern` with `unwrap_sys`, 6.1 with
/// `into_sys`; the rest is the same.
pub(crate) fn global_definition(
    store: &mut Store,
    global: &Global,
) -> Option<NonNull<VMGlobalDefinition>> {
    let vm_extern = wasmer::Extern::Global(global.clone()).to_vm_extern();
    #[cfg(not(windows))]
    let vm_extern = vm_extern.unwrap_sys();
    #[cfg(windows)]
    let vm_extern = vm_extern.into_sys();
    let wasmer::sys::vm::VMExtern::Global(handle) = vm_extern else {
        return None;
    };
    let objects = store.objects_mut().as_sys();
    Some(handle.get(objects).vmglobal())
}

/// Empties wasmer's pool of guest-call stacks, so that the next call gets a
/// fresh stack of the size its engine asks for, and the stack of this call is
/// not reused by a program of another size.
///
/// 7.x has `drain_stack_pool`. 6.1 has no such function (its pool is private
/// and it reuses any pooled stack whatever its size), so on Windows this is a
/// no-op and the stack size is per process, not per program: a call runs on
/// whichever pooled stack it gets, in practice one of the size the process's
/// first guest calls used. A stack overflow still faults only that program.
/// Documented in README.md ("Windows / LabVIEW"); the C tests of exact
/// per-program sizes are skipped on Windows.
#[cfg(not(windows))]
pub(crate) fn drain_stack_pool() {
    wasmer::sys::vm::drain_stack_pool();
}

/// See the non-Windows twin: no-op with wasmer 6.1.
#[cfg(windows)]
pub(crate) fn drain_stack_pool() {}

/// The entries of an import section. wasmparser 0.257 (wasmer 7.x) groups
/// compact imports and flattens them with `into_imports`; 0.224 (wasmer 6.1)
/// iterates the section directly.
pub(crate) fn imports<'a>(
    reader: ImportSectionReader<'a>,
) -> impl Iterator<Item = wasmer::wasmparser::Result<wasmer::wasmparser::Import<'a>>> {
    #[cfg(not(windows))]
    return reader.into_imports();
    #[cfg(windows)]
    return reader.into_iter();
}
