//! The engine version: everything that differs between the two wasmer
//! releases wasmcell builds on, and nothing else. The rest of the crate uses
//! these items and never names a version.
//!
//! - Linux, macOS and every other non-Windows target: wasmer 7.4.2.
//! - Windows: wasmer 6.1.0. Every 7.x compiler crate stops with a
//!   `compile_error!` on Windows (the V8 backend it points to has no
//!   middleware, so no instruction budget); 6.1.0 is the newest release
//!   whose compilers build there.
//!
//! Each item below says what differs and what wasmcell does about it.

use std::fmt::Debug;
use std::ptr::NonNull;
use wasmer::sys::vm::VMGlobalDefinition;
use wasmer::sys::{BaseTunables, FunctionMiddleware, ModuleMiddleware};
use wasmer::wasmparser::{ImportSectionReader, Operator};
use wasmer::{AsStoreMut, Global, LocalFunctionIndex, Store};

pub(crate) use wasmer::sys::{MiddlewareError, MiddlewareReaderState};

/// The wasmer release in use, for the header of compiled-module cache files
/// (an artifact of one release is foreign to the other). build.rs reads it
/// from the pin in Cargo.toml for the target.
pub(crate) const WASMER_VERSION: &str = env!("WASMCELL_WASMER_VERSION");

/// The module description a middleware may extend. 7.x re-exports it from
/// `wasmer`; 6.1 has it in `wasmer-types` only.
#[cfg(not(windows))]
pub(crate) use wasmer::ModuleInfo;
/// The module description a middleware may extend. 7.x re-exports it from
/// `wasmer`; 6.1 has it in `wasmer-types` only.
#[cfg(windows)]
pub(crate) use wasmer_types::ModuleInfo;

/// A per-function compiler middleware that handles each operator as it comes
/// and keeps none of them across calls. That is the one form both releases
/// accept soundly: 7.x ties a function middleware to the lifetime of the
/// function's bytes (`FunctionMiddleware<'a>`), 6.1 gives each `feed` call a
/// lifetime of its own, so an operator kept past its call would need a
/// lifetime transmute there.
pub(crate) trait OperatorRewriter: Debug + Send {
    /// Handles one operator: pushes it (and whatever goes with it) to `state`.
    fn rewrite<'a>(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError>;
}

/// A module middleware built from [`OperatorRewriter`]s. `generate_function_middleware`
/// has a different signature in each release; [`Middleware`] adapts it.
pub(crate) trait ModuleRewriter: Debug + Send + Sync {
    /// The rewriter of one function (called concurrently from compile threads).
    fn function(&self, index: LocalFunctionIndex) -> Box<dyn OperatorRewriter>;
    /// Changes the module description before any function is compiled.
    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError>;
}

/// A [`ModuleRewriter`] as the engine's `ModuleMiddleware`, for
/// `CompilerConfig::push_middleware`.
#[derive(Debug)]
pub(crate) struct Middleware<M>(pub(crate) M);

/// An [`OperatorRewriter`] as the engine's `FunctionMiddleware`.
#[derive(Debug)]
struct FunctionAdapter(Box<dyn OperatorRewriter>);

#[cfg(not(windows))]
impl<M: ModuleRewriter> ModuleMiddleware for Middleware<M> {
    fn generate_function_middleware<'a>(
        &self,
        index: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        Box::new(FunctionAdapter(self.0.function(index)))
    }

    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        self.0.transform_module_info(info)
    }
}

#[cfg(not(windows))]
impl<'a> FunctionMiddleware<'a> for FunctionAdapter {
    fn feed(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        self.0.rewrite(operator, state)
    }
}

#[cfg(windows)]
impl<M: ModuleRewriter> ModuleMiddleware for Middleware<M> {
    fn generate_function_middleware(
        &self,
        index: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware> {
        Box::new(FunctionAdapter(self.0.function(index)))
    }

    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        self.0.transform_module_info(info)
    }
}

#[cfg(windows)]
impl FunctionMiddleware for FunctionAdapter {
    fn feed<'a>(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        self.0.rewrite(operator, state)
    }
}

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
