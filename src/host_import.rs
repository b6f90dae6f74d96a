//! Host functions as wasm imports: the trampolines between a guest's call and
//! a [`HostFunction`].
//!
//! Signatures are only known at run time, so the general path is wasmer's
//! dynamic function (`Function::new_with_env`), which passes arguments and
//! results as `Vec<Value>` and costs about four times a typed import. The
//! shapes controls code uses most — up to two scalar parameters of any type,
//! or up to four i32 (which covers `*~` buffers), with at most one result —
//! get a typed trampoline instead (`Function::new_typed_with_env`), chosen
//! once when the program is linked. Both paths share [`HostImport::invoke`],
//! so behaviour (bounds checks, error codes, panics) is identical.

use crate::fault::FaultKind;
use crate::host::{HostCall, HostCallError, HostDefinition, Val, ValKind};
use crate::instance::GuestEnv;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use wasmer::{
    FromToNativeWasmType, Function, FunctionEnv, FunctionEnvMut, RuntimeError, Store, Type, Value,
    WasmTypeList,
};

/// Values kept on the stack before spilling to the heap.
const INLINE_VALUES: usize = 8;

/// One host definition, linked as one import of one instance.
struct HostImport {
    definition: HostDefinition,
    /// `module.name`, for messages.
    label: Arc<str>,
}

/// Wraps a host definition as a wasm import: converts arguments, bounds-checks
/// buffers, catches panics and turns error codes into traps.
pub(crate) fn host_import(
    store: &mut Store,
    env: &FunctionEnv<GuestEnv>,
    definition: HostDefinition,
) -> Function {
    let label = format!("{}.{}", definition.module, definition.name).into();
    let import = Arc::new(HostImport { definition, label });
    typed_import(store, env, &import).unwrap_or_else(|| dynamic_import(store, env, import))
}

impl HostImport {
    fn fail(&self, kind: FaultKind, message: String) -> HostCallError {
        HostCallError { kind, message }
    }

    /// Calls the host function with the guest's wasm arguments `raw`, writing
    /// its results into `results` (one zeroed slot per declared result).
    fn invoke(
        &self,
        mut env: FunctionEnvMut<GuestEnv>,
        raw: &[Value],
        results: &mut [Val],
    ) -> Result<(), HostCallError> {
        let (guest, store) = env.data_and_store_mut();
        let memory: &mut [u8] = match &guest.memory {
            Some(memory) => {
                let view = memory.view(&store);
                // SAFETY: the guest is suspended inside this import; the slice is
                // only handed to the callback for the duration of this call, and
                // a callback cannot re-enter this program (it gets BUSY).
                unsafe {
                    std::slice::from_raw_parts_mut(view.data_ptr(), view.data_size() as usize)
                }
            }
            None => &mut [],
        };
        let signature = &self.definition.signature;
        let params = signature.params();
        let mut inline_args = [Val::I32(0); INLINE_VALUES];
        let mut heap_args = Vec::new();
        let args: &mut [Val] = if params.len() <= INLINE_VALUES {
            &mut inline_args[..params.len()]
        } else {
            heap_args.resize(params.len(), Val::I32(0));
            &mut heap_args
        };
        let mut raw_args = raw.iter();
        let mut next = || raw_args.next().cloned().unwrap_or(Value::I32(0));
        for (index, (slot, kind)) in args.iter_mut().zip(params).enumerate() {
            *slot = match (kind, next()) {
                (ValKind::Buf, Value::I32(ptr)) => {
                    let len = next().unwrap_i32();
                    let (offset, len) = (ptr as u32 as usize, len as u32 as usize);
                    if offset + len > memory.len() {
                        return Err(self.fail(
                            FaultKind::MemoryOutOfBounds,
                            format!(
                                "host function `{}`: buffer argument {index} (offset {offset}, length {len}) lies outside the guest's memory ({} bytes)",
                                self.label,
                                memory.len()
                            ),
                        ));
                    }
                    Val::Buf { offset, len }
                }
                (_, Value::I32(v)) => Val::I32(v),
                (_, Value::I64(v)) => Val::I64(v),
                (_, Value::F32(v)) => Val::F32(v),
                (_, Value::F64(v)) => Val::F64(v),
                (_, other) => {
                    return Err(self.fail(
                        FaultKind::Other,
                        format!(
                            "host function `{}`: unexpected argument {other:?}",
                            self.label
                        ),
                    ))
                }
            };
        }
        let mut call = HostCall {
            program_name: &guest.program_name,
            program_tag: guest.program_tag,
            memory,
            error_message: None,
        };
        let returned = catch_unwind(AssertUnwindSafe(|| {
            self.definition.function.call(&mut call, args, results)
        }));
        match returned {
            Ok(Ok(())) => {}
            Ok(Err(code)) => {
                let detail = call
                    .error_message
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                return Err(self.fail(
                    FaultKind::HostError,
                    format!(
                        "host function `{}` returned error {code}{detail}",
                        self.label
                    ),
                ));
            }
            Err(_) => {
                return Err(self.fail(
                    FaultKind::HostError,
                    format!("host function `{}` panicked", self.label),
                ))
            }
        }
        for (kind, value) in signature.results().iter().zip(results.iter()) {
            let matches = matches!(
                (kind, value),
                (ValKind::I32, Val::I32(_))
                    | (ValKind::I64, Val::I64(_))
                    | (ValKind::F32, Val::F32(_))
                    | (ValKind::F64, Val::F64(_))
            );
            if !matches {
                return Err(self.fail(
                    FaultKind::HostError,
                    format!(
                        "host function `{}` returned {value:?} where its signature says {kind:?}",
                        self.label
                    ),
                ));
            }
        }
        Ok(())
    }

    /// [`HostImport::invoke`] for a typed trampoline with at most one result.
    fn invoke_typed<R: Returned>(
        &self,
        env: FunctionEnvMut<GuestEnv>,
        raw: &[Value],
    ) -> Result<R, HostCallError> {
        let kinds = self.definition.signature.results();
        let mut result = [kinds.first().map_or(Val::I32(0), |k| Val::zero(*k))];
        self.invoke(env, raw, &mut result[..kinds.len()])?;
        Ok(R::from_val(result[0]))
    }
}

/// The general path: any signature, through wasmer's dynamic functions.
fn dynamic_import(
    store: &mut Store,
    env: &FunctionEnv<GuestEnv>,
    import: Arc<HostImport>,
) -> Function {
    let ty = import.definition.signature.wasm_type();
    Function::new_with_env(store, env, ty, move |env, raw: &[Value]| {
        let kinds = import.definition.signature.results();
        let mut results: Vec<Val> = kinds.iter().map(|k| Val::zero(*k)).collect();
        import
            .invoke(env, raw, &mut results)
            .map_err(|e| RuntimeError::user(Box::new(e)))?;
        Ok(results
            .into_iter()
            .map(|value| match value {
                Val::I32(v) => Value::I32(v),
                Val::I64(v) => Value::I64(v),
                Val::F32(v) => Value::F32(v),
                Val::F64(v) => Value::F64(v),
                // `invoke` checked every result against a scalar kind.
                Val::Buf { .. } => Value::I32(0),
            })
            .collect())
    })
}

/// A wasm scalar a typed trampoline takes as a parameter.
trait Scalar: FromToNativeWasmType + Copy + Send + Sync + 'static {
    fn value(self) -> Value;
}

/// What a typed trampoline returns: nothing or one scalar.
trait Returned: WasmTypeList + Send + Sync + 'static {
    fn from_val(val: Val) -> Self;
}

macro_rules! scalars {
    ($($ty:ty => $variant:ident),*) => {$(
        impl Scalar for $ty {
            fn value(self) -> Value {
                Value::$variant(self)
            }
        }
        impl Returned for $ty {
            fn from_val(val: Val) -> Self {
                match val {
                    Val::$variant(v) => v,
                    // `invoke` checked the result kind; never reached.
                    _ => Default::default(),
                }
            }
        }
    )*};
}
scalars!(i32 => I32, i64 => I64, f32 => F32, f64 => F64);

impl Returned for () {
    fn from_val(_: Val) -> Self {}
}

/// One typed trampoline constructor per arity.
macro_rules! typed_arity {
    ($name:ident $(, $arg:ident : $ty:ident)*) => {
        fn $name<$($ty: Scalar,)* R: Returned>(
            store: &mut Store,
            env: &FunctionEnv<GuestEnv>,
            import: &Arc<HostImport>,
        ) -> Function {
            let import = import.clone();
            Function::new_typed_with_env(
                store,
                env,
                move |env: FunctionEnvMut<GuestEnv>, $($arg: $ty),*| -> Result<R, HostCallError> {
                    import.invoke_typed::<R>(env, &[$($arg.value()),*])
                },
            )
        }
    };
}
typed_arity!(typed0);
typed_arity!(typed1, a: A);
typed_arity!(typed2, a: A, b: B);
typed_arity!(typed3, a: A, b: B, c: C);
typed_arity!(typed4, a: A, b: B, c: C, d: D);

/// Binds the Rust type of wasm type `$wasm` to `$alias` in `$body`; `None`
/// for types without a typed trampoline.
macro_rules! with_scalar {
    ($wasm:expr, $alias:ident => $body:expr) => {
        match $wasm {
            Type::I32 => {
                type $alias = i32;
                $body
            }
            Type::I64 => {
                type $alias = i64;
                $body
            }
            Type::F32 => {
                type $alias = f32;
                $body
            }
            Type::F64 => {
                type $alias = f64;
                $body
            }
            _ => None,
        }
    };
}

/// As [`with_scalar`], for the result list (empty or one scalar).
macro_rules! with_result {
    ($results:expr, $alias:ident => $body:expr) => {
        match $results {
            [] => {
                type $alias = ();
                $body
            }
            [one] => with_scalar!(one, $alias => $body),
            _ => None,
        }
    };
}

/// A typed trampoline for `import`'s signature, if its shape has one.
fn typed_import(
    store: &mut Store,
    env: &FunctionEnv<GuestEnv>,
    import: &Arc<HostImport>,
) -> Option<Function> {
    let ty = import.definition.signature.wasm_type();
    let (params, results) = (ty.params(), ty.results());
    with_result!(results, R => match params {
        [] => Some(typed0::<R>(store, env, import)),
        [a] => with_scalar!(a, A => Some(typed1::<A, R>(store, env, import))),
        [a, b] => with_scalar!(a, A => with_scalar!(b, B => Some(typed2::<A, B, R>(store, env, import)))),
        [Type::I32, Type::I32, Type::I32] => Some(typed3::<i32, i32, i32, R>(store, env, import)),
        [Type::I32, Type::I32, Type::I32, Type::I32] => {
            Some(typed4::<i32, i32, i32, i32, R>(store, env, import))
        }
        _ => None,
    })
}
