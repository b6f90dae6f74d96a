//! Imports every program gets without the host defining anything:
//! `env.print` (the original example's import, unchanged), `wasmcell.log` and
//! `wasmcell.now_ns`.

//!
//! Every built-in charges [`IMPORT_CALL_UNITS`] per call; those that read
//! guest text also charge one unit per [`BYTES_PER_UNIT`] bytes before
//! touching them, cut lines at
//! [`MAX_OUTPUT_LINE_BYTES`] and drop output past
//! [`MAX_OUTPUT_BYTES_PER_POLL`] per poll, so a chatty or hostile guest
//! cannot flood the host's log or stall its poll.

use crate::budget::{BYTES_PER_UNIT, IMPORT_CALL_UNITS};
use crate::guest_env::GuestEnv;
#[cfg(doc)]
use crate::guest_env::{MAX_OUTPUT_BYTES_PER_POLL, MAX_OUTPUT_LINE_BYTES};
use crate::log::LogLevel;
use wasmer::{Function, FunctionEnv, FunctionEnvMut, FunctionType, RuntimeError, Store, Type};

/// The built-in function `module.name`, or None if there is none.
pub(crate) fn builtin(
    store: &mut Store,
    env: &FunctionEnv<GuestEnv>,
    module: &str,
    name: &str,
) -> Option<Function> {
    Some(match (module, name) {
        ("env", "print") => Function::new_typed_with_env(store, env, print),
        ("wasmcell", "log") => Function::new_typed_with_env(store, env, log),
        ("wasmcell", "now_ns") => Function::new_typed_with_env(store, env, now_ns),
        ("wasmcell", "start_kind") => Function::new_typed_with_env(store, env, start_kind),
        ("wasmcell", "retain_restored") => {
            Function::new_typed_with_env(store, env, retain_restored)
        }
        (crate::wasi::MODULE, name) => return crate::wasi::function(store, env, name),
        _ => return None,
    })
}

/// The wasm type of each built-in, for link error messages.
pub(crate) fn builtin_type(module: &str, name: &str) -> Option<FunctionType> {
    Some(match (module, name) {
        ("env", "print") => FunctionType::new([Type::I32, Type::I32], [Type::I32]),
        ("wasmcell", "log") => FunctionType::new([Type::I32, Type::I32, Type::I32], [Type::I32]),
        ("wasmcell", "now_ns") => FunctionType::new([], [Type::I64]),
        ("wasmcell", "start_kind") | ("wasmcell", "retain_restored") => {
            FunctionType::new([], [Type::I32])
        }
        (crate::wasi::MODULE, name) => return crate::wasi::function_type(name),
        _ => return None,
    })
}

/// Charges the budget for one call reading `len` guest bytes.
fn charge_bytes(guest: &mut GuestEnv, len: i32) -> Result<(), RuntimeError> {
    guest.charge(IMPORT_CALL_UNITS + u64::from(len as u32) / BYTES_PER_UNIT)
}

/// Charges the budget for one call that reads no guest memory.
fn charge_call(env: &mut FunctionEnvMut<GuestEnv>) -> Result<(), RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)
}

/// `env.print(ptr, len) -> i32`: writes the UTF-8 text to the log sink.
/// Returns 0, or -1 if the range is outside memory or not UTF-8 (as in the
/// original design).
fn print(mut env: FunctionEnvMut<GuestEnv>, ptr: i32, len: i32) -> Result<i32, RuntimeError> {
    let (guest, store) = env.data_and_store_mut();
    charge_bytes(guest, len)?;
    Ok(guest.with_guest_bytes(&store, ptr, len, |guest, bytes| {
        if std::str::from_utf8(bytes).is_err() {
            return -1;
        }
        guest.write_output(LogLevel::Print, bytes);
        0
    }))
}

/// `wasmcell.log(level, ptr, len) -> i32`: level 1 error, 2 warn, 3 info,
/// 4 debug, 5 trace. Returns 0, or -1 for a bad level or range.
fn log(
    mut env: FunctionEnvMut<GuestEnv>,
    level: i32,
    ptr: i32,
    len: i32,
) -> Result<i32, RuntimeError> {
    let Some(level) = LogLevel::from_guest(level) else {
        return Ok(-1);
    };
    let (guest, store) = env.data_and_store_mut();
    charge_bytes(guest, len)?;
    Ok(guest.with_guest_bytes(&store, ptr, len, |guest, bytes| {
        guest.write_output(level, bytes);
        0
    }))
}

/// `wasmcell.now_ns() -> i64`: the runtime's monotonic clock.
fn now_ns(mut env: FunctionEnvMut<GuestEnv>) -> Result<i64, RuntimeError> {
    charge_call(&mut env)?;
    Ok(env.data().services.clock().now_ns())
}

/// `wasmcell.start_kind() -> i32`: why the current instance started: 0 cold
/// load, 1 reset, 2 reload (hot swap).
fn start_kind(mut env: FunctionEnvMut<GuestEnv>) -> Result<i32, RuntimeError> {
    charge_call(&mut env)?;
    Ok(env.data().start_kind as i32)
}

/// `wasmcell.retain_restored() -> i32`: 1 if the retain area was carried over
/// from the previous instance (reset, or reload with the same retain layout).
fn retain_restored(mut env: FunctionEnvMut<GuestEnv>) -> Result<i32, RuntimeError> {
    charge_call(&mut env)?;
    Ok(env.data().retain_restored as i32)
}
