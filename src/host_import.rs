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
use crate::fault::HostCallError;
use crate::guest_env::GuestEnv;
use crate::host::{GuestMemory, HostCall, HostDefinition, Val, ValKind};
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
    /// Whether any parameter is a `*~` buffer (wasm and host arguments differ).
    has_buffers: bool,
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
    let has_buffers = definition.signature.params().contains(&ValKind::Buf);
    let import = Arc::new(HostImport {
        definition,
        has_buffers,
        label,
    });
    typed_import(store, env, &import).unwrap_or_else(|| dynamic_import(store, env, import))
}

impl HostImport {
    fn fail(&self, kind: FaultKind, message: String) -> HostCallError {
        HostCallError { kind, message }
    }

    /// Calls the host function with the guest's wasm arguments `wasm_args`
    /// (scalars, a `*~` buffer as two i32), writing its results into
    /// `results` (one zeroed slot per declared result).
    fn invoke(
        &self,
        mut env: FunctionEnvMut<GuestEnv>,
        wasm_args: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostCallError> {
        let (guest, store) = env.data_and_store_mut();
        // The trampoline costs tens of nanoseconds: charged like the
        // built-ins, so a loop of host calls is bounded by the budget too.
        if guest.charge(crate::budget::IMPORT_CALL_UNITS).is_err() {
            return Err(self.fail(
                FaultKind::BudgetExhausted,
                format!(
                    "instruction budget exhausted calling `{}` (raise it with wasmcell_program_set_fuel)",
                    self.label
                ),
            ));
        }
        let mut call = HostCall {
            program_name: &guest.program_name,
            program_tag: guest.program_tag,
            memory: match &guest.memory {
                Some(memory) => GuestMemory::Unresolved(memory, store),
                None => GuestMemory::None,
            },
            error_message: None,
            shadow: guest.shadow,
        };
        // Only initialised when needed: this is the hot path of every call.
        let mut inline_args;
        let mut heap_args;
        let args: &[Val] = if self.has_buffers {
            inline_args = [Val::I32(0); INLINE_VALUES];
            heap_args = Vec::new();
            self.host_args(&mut call, wasm_args, &mut inline_args, &mut heap_args)?
        } else {
            // Without buffers the wasm arguments are the host arguments.
            wasm_args
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
        for (kind, value) in self
            .definition
            .signature
            .results()
            .iter()
            .zip(results.iter())
        {
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

    /// Turns each `*~` pair of `wasm_args` into one bounds-checked buffer.
    fn host_args<'v>(
        &self,
        call: &mut HostCall<'_>,
        wasm_args: &[Val],
        inline: &'v mut [Val; INLINE_VALUES],
        heap: &'v mut Vec<Val>,
    ) -> Result<&'v [Val], HostCallError> {
        let params = self.definition.signature.params();
        let args: &mut [Val] = if params.len() <= INLINE_VALUES {
            &mut inline[..params.len()]
        } else {
            heap.resize(params.len(), Val::I32(0));
            heap
        };
        let memory_len = call.memory().len();
        let mut wasm = wasm_args.iter().copied();
        let next_i32 = |wasm: &mut dyn Iterator<Item = Val>| match wasm.next() {
            Some(Val::I32(v)) => v,
            _ => 0,
        };
        for (index, (slot, kind)) in args.iter_mut().zip(params).enumerate() {
            *slot = if *kind == ValKind::Buf {
                let (ptr, len) = (next_i32(&mut wasm), next_i32(&mut wasm));
                let (offset, len) = (ptr as u32 as usize, len as u32 as usize);
                if offset + len > memory_len {
                    return Err(self.fail(
                        FaultKind::MemoryOutOfBounds,
                        format!(
                            "host function `{}`: buffer argument {index} (offset {offset}, length {len}) lies outside the guest's memory ({memory_len} bytes)",
                            self.label
                        ),
                    ));
                }
                Val::Buf { offset, len }
            } else {
                wasm.next().unwrap_or(Val::I32(0))
            };
        }
        Ok(args)
    }

    /// [`HostImport::invoke`] for a typed trampoline with at most one result.
    fn invoke_typed<R: Returned>(
        &self,
        env: FunctionEnvMut<GuestEnv>,
        wasm_args: &[Val],
    ) -> Result<R, HostCallError> {
        let kinds = self.definition.signature.results();
        let mut result = [kinds.first().map_or(Val::I32(0), |k| Val::zero(*k))];
        self.invoke(env, wasm_args, &mut result[..kinds.len()])?;
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
        let wasm_args: Vec<Val> = raw
            .iter()
            .map(|value| match *value {
                Value::I64(v) => Val::I64(v),
                Value::F32(v) => Val::F32(v),
                Value::F64(v) => Val::F64(v),
                // wasmer checked the arguments against the import's type,
                // which has only i32, i64, f32 and f64 parameters.
                Value::I32(v) => Val::I32(v),
                _ => Val::I32(0),
            })
            .collect();
        let kinds = import.definition.signature.results();
        let mut results: Vec<Val> = kinds.iter().map(|k| Val::zero(*k)).collect();
        import
            .invoke(env, &wasm_args, &mut results)
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
    fn val(self) -> Val;
}

/// What a typed trampoline returns: nothing or one scalar.
trait Returned: WasmTypeList + Send + Sync + 'static {
    fn from_val(val: Val) -> Self;
}

macro_rules! scalars {
    ($($ty:ty => $variant:ident),*) => {$(
        impl Scalar for $ty {
            fn val(self) -> Val {
                Val::$variant(self)
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
                    import.invoke_typed::<R>(env, &[$($arg.val()),*])
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
