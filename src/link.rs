//! Linking: resolves every import of a module to a host function defined on
//! the runtime or to a built-in (`env.print`, `wasmcell.*`, WASI), with a
//! message naming the import and both types when they differ.

use crate::builtins::{builtin, builtin_type};
use crate::error::{Error, ErrorKind, Result};
use crate::guest_env::GuestEnv;
use crate::host::HostServices;
use std::fmt::Write as _;
use wasmer::{ExternType, FunctionEnv, FunctionType, Imports, Module, Store, Type};

/// Resolves every import of `module`: host definitions first, then built-ins.
pub(crate) fn link(
    store: &mut Store,
    env: &FunctionEnv<GuestEnv>,
    module: &Module,
    services: &dyn HostServices,
) -> Result<Imports> {
    let mut imports = Imports::new();
    for import in module.imports() {
        let (module_name, name) = (import.module(), import.name());
        let ExternType::Function(wanted) = import.ty() else {
            return Err(Error::new(
                ErrorKind::Link,
                format!(
                    "import `{module_name}.{name}` is not a function ({:?}); wasmcell provides only functions",
                    import.ty()
                ),
            ));
        };
        let mismatch = |provided: &FunctionType, what: &str| {
            Error::new(
                ErrorKind::Link,
                format!(
                    "import `{module_name}.{name}` has type {} but the {what} has type {}",
                    show_type(wanted),
                    show_type(provided)
                ),
            )
        };
        let function = if let Some(definition) = services.host_function(module_name, name) {
            let provided = definition.signature.wasm_type();
            if &provided != wanted {
                return Err(mismatch(
                    &provided,
                    &format!("host function (signature \"{}\")", definition.signature),
                ));
            }
            crate::host_import::host_import(store, env, definition)
        } else if let Some(provided) = builtin_type(module_name, name) {
            if &provided != wanted {
                return Err(mismatch(&provided, "built-in"));
            }
            builtin(store, env, module_name, name).ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    format!("built-in {module_name}.{name} missing"),
                )
            })?
        } else {
            return Err(Error::new(
                ErrorKind::Link,
                format!(
                    "missing import `{module_name}.{name}` {}: define it on the runtime before loading",
                    show_type(wanted)
                ),
            ));
        };
        imports.define(module_name, name, function);
    }
    Ok(imports)
}

fn show_type(ty: &FunctionType) -> String {
    let list = |types: &[Type]| {
        types
            .iter()
            .map(|t| format!("{t:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!("({})", list(ty.params()));
    let _ = write!(text, " -> ({})", list(ty.results()));
    text
}
