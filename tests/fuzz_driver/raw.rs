//! The differential oracle: the same module on raw wasmer (the `wasmer`
//! crate directly, no wasmcell), with the same features, the same imports
//! behaving the same way, and the same call sequence wasmcell makes (start
//! function, `wasmcell_image`, `init`, then each poll with the input area
//! copied in first). Raw wasmer has no wasmcell budget; wasmer's own
//! `Metering` middleware with a limit well above wasmcell's budget only
//! guarantees that the oracle itself terminates.

use super::gen::{HOST_FUNCTIONS, HOST_MODULE};
use std::fmt;
use std::sync::Arc;
use wasmcell::FaultKind;
use wasmer::sys::vm::TrapCode;
use wasmer::sys::{CompilerConfig, Cranelift, EngineBuilder, Features};
use wasmer::{
    AsStoreMut, Engine, Function, FunctionEnv, FunctionEnvMut, FunctionType, Imports, Instance,
    InstantiationError, Memory, Module, RuntimeError, Store, Type, Value,
};
use wasmer_middlewares::metering::{get_remaining_points, set_remaining_points, MeteringPoints};
use wasmer_middlewares::Metering;

/// What `wasmcell.now_ns` returns in the fuzzer (the runtime's clock is
/// replaced by this constant so both sides see the same time).
pub const CLOCK_NS: i64 = 1_000_000_007;

/// A host function argument as both sides see it: scalars, and `*~`
/// buffers as an (offset, length) pair already checked against memory.
#[derive(Debug, Clone, Copy)]
pub enum Arg {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Buf(usize, usize),
}

/// Why a fuzzer host function failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFail {
    /// Returned a non-zero code.
    Code(i32),
    /// The wasmcell side panics here (to test that wasmcell catches it).
    Panic,
}

/// The behaviour of every fuzzer host function, shared by the wasmcell
/// definitions and the raw oracle so both see the same results.
pub fn host_call(name: &str, memory: &mut [u8], args: &[Arg]) -> Result<Vec<Arg>, HostFail> {
    let i32_at = |i: usize| match args.get(i) {
        Some(Arg::I32(v)) => *v,
        _ => 0,
    };
    let buf_at = |i: usize| match args.get(i) {
        Some(Arg::Buf(offset, len)) => (*offset, *len),
        _ => (0, 0),
    };
    Ok(match name {
        "add" => vec![Arg::I32(i32_at(0).wrapping_add(i32_at(1)))],
        "check" => {
            let a = i32_at(0);
            if a & 0xf == 0xf {
                return Err(HostFail::Code(7));
            }
            vec![Arg::I32(a ^ 0x5a5a)]
        }
        "sum" => {
            let (offset, len) = buf_at(0);
            let sum = memory[offset..offset + len].iter().fold(0i32, |acc, b| {
                acc.wrapping_mul(31).wrapping_add(i32::from(*b))
            });
            vec![Arg::I32(sum)]
        }
        "fill" => {
            let (offset, len) = buf_at(0);
            memory[offset..offset + len].fill(i32_at(1) as u8);
            vec![]
        }
        "mix" => {
            let (a, b, c) = match args {
                [Arg::I64(a), Arg::F32(b), Arg::F64(c)] => (*a, *b, *c),
                _ => (0, 0.0, 0.0),
            };
            let r = a as f64 + f64::from(b) * c;
            vec![Arg::F64(if r.is_nan() { f64::NAN } else { r })]
        }
        "cmp" => {
            let ((o1, l1), (o2, l2)) = (buf_at(0), buf_at(1));
            let equal = memory[o1..o1 + l1] == memory[o2..o2 + l2];
            vec![Arg::I32(equal as i32)]
        }
        "wide" => {
            let (a, b, c, d, e) = match args {
                [Arg::I32(a), Arg::I64(b), Arg::F32(c), Arg::F64(d), Arg::I32(e)] => {
                    (*a, *b, *c, *d, *e)
                }
                _ => (0, 0, 0.0, 0.0, 0),
            };
            if e == -1 {
                return Err(HostFail::Code(3));
            }
            let floats = (f64::from(c) + d) as i64; // saturating, NaN -> 0
            vec![Arg::I64(
                i64::from(a).wrapping_mul(b).wrapping_add(floats) ^ i64::from(e),
            )]
        }
        "boom" => {
            if matches!(args.first(), Some(Arg::I64(42))) {
                return Err(HostFail::Panic);
            }
            vec![]
        }
        "none" => vec![],
        "pair" => {
            let a = i32_at(0);
            vec![Arg::I32(a.rotate_left(3)), Arg::I64(i64::from(a) << 20)]
        }
        other => panic!("unknown fuzzer host function {other}"),
    })
}

/// What one call (start, `wasmcell_image`, `init` or a poll) did on raw wasmer.
#[derive(Debug, Clone, PartialEq)]
pub enum RawOutcome {
    Ok,
    /// A trap, classified the way wasmcell documents its fault kinds.
    /// `buffer` marks a `*~` buffer outside memory (wasmcell words that
    /// message differently from a memory access trap).
    Fault {
        kind: FaultKind,
        buffer: bool,
    },
    /// The oracle's own termination guard ran out: no verdict.
    Exhausted,
    /// Could not link or instantiate for a reason wasmcell reports as
    /// LINK or LIMIT (no comparison).
    Setup(String),
}

/// The oracle's view of one module: the load (start, `wasmcell_image`,
/// `init`), then each poll and, after a poll that succeeded, the output area.
#[derive(Debug)]
pub struct RawReport {
    pub load: RawOutcome,
    pub polls: Vec<RawOutcome>,
    pub outputs: Vec<Option<Vec<u8>>>,
}

#[derive(Debug)]
struct RawHostError {
    kind: FaultKind,
    buffer: bool,
}

impl fmt::Display for RawHostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host function failed: {:?}", self.kind)
    }
}

impl std::error::Error for RawHostError {}

/// wasmcell's features (src/compile.rs `enabled_features`, docs/guest-abi.md).
pub fn features() -> Features {
    let mut features = Features::none();
    features
        .bulk_memory(true)
        .reference_types(true)
        .multi_value(true)
        .simd(true);
    features.extended_const = true;
    features
}

fn engine(guard: u64) -> Engine {
    let mut compiler = Cranelift::default();
    compiler.push_middleware(Arc::new(Metering::new(guard, |_| 1)));
    EngineBuilder::new(compiler)
        .set_features(Some(features()))
        .engine()
        .into()
}

/// Whether raw wasmer (same features) accepts the module.
pub fn compile(bytes: &[u8]) -> Result<(), String> {
    Module::new(&engine(u64::MAX / 4), bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

struct RawEnv {
    memory: Option<Memory>,
}

/// The trap classification wasmcell documents (`WASMCELL_FAULT_*`).
fn classify_trap(error: &RuntimeError) -> FaultKind {
    match error.clone().to_trap() {
        Some(TrapCode::UnreachableCodeReached) => FaultKind::Unreachable,
        Some(TrapCode::HeapAccessOutOfBounds) | Some(TrapCode::HeapMisaligned) => {
            FaultKind::MemoryOutOfBounds
        }
        Some(TrapCode::IntegerDivisionByZero) => FaultKind::IntegerDivideByZero,
        Some(TrapCode::IntegerOverflow) => FaultKind::IntegerOverflow,
        Some(TrapCode::BadConversionToInteger) => FaultKind::BadConversionToInteger,
        Some(TrapCode::StackOverflow) => FaultKind::StackOverflow,
        Some(TrapCode::BadSignature) => FaultKind::IndirectCallMismatch,
        Some(TrapCode::IndirectCallToNull) | Some(TrapCode::TableAccessOutOfBounds) => {
            FaultKind::IndirectCallNull
        }
        _ => FaultKind::Other,
    }
}

fn outcome_of(error: &RuntimeError, exhausted: bool) -> RawOutcome {
    if let Some(host) = error.downcast_ref::<RawHostError>() {
        return RawOutcome::Fault {
            kind: host.kind,
            buffer: host.buffer,
        };
    }
    if exhausted {
        return RawOutcome::Exhausted;
    }
    RawOutcome::Fault {
        kind: classify_trap(error),
        buffer: false,
    }
}

/// Whether the metering guard ran out during the start function (the
/// instance was never returned; its globals live in the store, and the
/// guard's "exhausted" flag is the last one the middleware added).
fn start_exhausted(store: &mut Store) -> bool {
    let objects = store.objects_mut().as_sys();
    let Some(flag) = objects.iter_globals().last() else {
        return false;
    };
    // SAFETY: the global belongs to this live store, no guest code runs,
    // and the metering middleware's last global is an i32.
    unsafe { flag.vmglobal().as_ref().val.i32 != 0 }
}

fn memory_slice<'a>(memory: &Option<Memory>, store: &impl wasmer::AsStoreRef) -> &'a mut [u8] {
    match memory {
        Some(memory) => {
            let view = memory.view(store);
            // SAFETY: the guest is suspended (inside a host call) or not
            // running; the slice is used before anything can grow memory.
            unsafe { std::slice::from_raw_parts_mut(view.data_ptr(), view.data_size() as usize) }
        }
        None => &mut [],
    }
}

fn wasm_types(wat: &str) -> (Vec<Type>, Vec<Type>) {
    let mut params = Vec::new();
    let mut results = Vec::new();
    let mut target = &mut params;
    for word in wat.split(|c: char| c == '(' || c == ')' || c.is_whitespace()) {
        match word {
            "param" => target = &mut params,
            "result" => target = &mut results,
            "i32" => target.push(Type::I32),
            "i64" => target.push(Type::I64),
            "f32" => target.push(Type::F32),
            "f64" => target.push(Type::F64),
            _ => {}
        }
    }
    (params, results)
}

/// Ranges of guest bytes the built-ins read: Some(bytes) when inside memory.
fn guest_bytes(memory: &[u8], ptr: i32, len: i32) -> Option<&[u8]> {
    let start = ptr as u32 as usize;
    memory.get(start..start.saturating_add(len as u32 as usize))
}

fn imports(store: &mut Store, env: &FunctionEnv<RawEnv>) -> Imports {
    let mut imports = Imports::new();
    let print = Function::new_typed_with_env(
        store,
        env,
        |env: FunctionEnvMut<RawEnv>, ptr: i32, len: i32| -> i32 {
            // wasmcell: no exported memory, no text (even an empty range).
            if env.data().memory.is_none() {
                return -1;
            }
            let memory = memory_slice(&env.data().memory, &env);
            match guest_bytes(memory, ptr, len) {
                Some(bytes) if std::str::from_utf8(bytes).is_ok() => 0,
                _ => -1,
            }
        },
    );
    imports.define("env", "print", print);
    let log = Function::new_typed_with_env(
        store,
        env,
        |env: FunctionEnvMut<RawEnv>, level: i32, ptr: i32, len: i32| -> i32 {
            if !(1..=5).contains(&level) || env.data().memory.is_none() {
                return -1;
            }
            let memory = memory_slice(&env.data().memory, &env);
            if guest_bytes(memory, ptr, len).is_some() {
                0
            } else {
                -1
            }
        },
    );
    imports.define("wasmcell", "log", log);
    imports.define(
        "wasmcell",
        "now_ns",
        Function::new_typed(store, || -> i64 { CLOCK_NS }),
    );
    imports.define(
        "wasmcell",
        "start_kind",
        Function::new_typed(store, || -> i32 { 0 }),
    );
    imports.define(
        "wasmcell",
        "retain_restored",
        Function::new_typed(store, || -> i32 { 0 }),
    );

    for f in HOST_FUNCTIONS {
        let (params, results) = wasm_types(f.wat);
        let signature = f.signature;
        let name = f.name;
        let ty = FunctionType::new(params, results);
        let function = Function::new_with_env(
            store,
            env,
            ty,
            move |mut env: FunctionEnvMut<RawEnv>,
                  wasm: &[Value]|
                  -> Result<Vec<Value>, RuntimeError> {
                let (data, store) = env.data_and_store_mut();
                let memory = memory_slice(&data.memory, &store);
                let inner = signature[1..signature.find(')').unwrap()].replace("*~", "*");
                let mut args = Vec::new();
                let mut values = wasm.iter();
                for c in inner.chars() {
                    let value = values.next().cloned().unwrap_or(Value::I32(0));
                    args.push(match (c, value) {
                        ('*', Value::I32(ptr)) => {
                            let len = match values.next() {
                                Some(Value::I32(len)) => *len,
                                _ => 0,
                            };
                            let (offset, len) = (ptr as u32 as usize, len as u32 as usize);
                            if offset + len > memory.len() {
                                return Err(RuntimeError::user(Box::new(RawHostError {
                                    kind: FaultKind::MemoryOutOfBounds,
                                    buffer: true,
                                })));
                            }
                            Arg::Buf(offset, len)
                        }
                        (_, Value::I32(v)) => Arg::I32(v),
                        (_, Value::I64(v)) => Arg::I64(v),
                        (_, Value::F32(v)) => Arg::F32(v),
                        (_, Value::F64(v)) => Arg::F64(v),
                        _ => Arg::I32(0),
                    });
                }
                match host_call(name, memory, &args) {
                    Ok(results) => Ok(results
                        .into_iter()
                        .map(|r| match r {
                            Arg::I32(v) => Value::I32(v),
                            Arg::I64(v) => Value::I64(v),
                            Arg::F32(v) => Value::F32(v),
                            Arg::F64(v) => Value::F64(v),
                            Arg::Buf(..) => Value::I32(0),
                        })
                        .collect()),
                    Err(_) => Err(RuntimeError::user(Box::new(RawHostError {
                        kind: FaultKind::HostError,
                        buffer: false,
                    }))),
                }
            },
        );
        imports.define(HOST_MODULE, name, function);
    }
    imports
}

/// Runs `bytes` on raw wasmer the way wasmcell runs a freshly loaded
/// program: instantiate (start function), `wasmcell_image`, `init`, then
/// one poll per entry of `inputs` (each copied into the input area first,
/// when there is one). Stops at the first poll that does not succeed.
/// `guard` is the metering limit of each call. Err: raw wasmer refused to
/// compile the module.
pub fn run(
    bytes: &[u8],
    guard: u64,
    input_area: (u32, u32),
    output_area: (u32, u32),
    inputs: &[Vec<u8>],
) -> Result<RawReport, String> {
    let engine = engine(guard);
    let module = Module::new(&engine, bytes).map_err(|e| e.to_string())?;
    let mut store = Store::new(engine);
    let env = FunctionEnv::new(&mut store, RawEnv { memory: None });
    let imports = imports(&mut store, &env);
    let mut report = RawReport {
        load: RawOutcome::Ok,
        polls: Vec::new(),
        outputs: Vec::new(),
    };
    let instance = match Instance::new(&mut store, &module, &imports) {
        Ok(instance) => instance,
        Err(InstantiationError::Start(error)) => {
            let exhausted = start_exhausted(&mut store);
            report.load = outcome_of(&error, exhausted);
            return Ok(report);
        }
        Err(other) => {
            report.load = RawOutcome::Setup(other.to_string());
            return Ok(report);
        }
    };
    let memory = instance.exports.get_memory("memory").ok().cloned();
    env.as_mut(&mut store).memory = memory.clone();

    let call = |store: &mut Store, function: &Function| -> (RawOutcome, Option<i32>) {
        set_remaining_points(store, &instance, guard);
        match function.call(store, &[]) {
            Ok(values) => (RawOutcome::Ok, values.first().and_then(|v| v.i32())),
            Err(error) => {
                let exhausted = matches!(
                    get_remaining_points(store, &instance),
                    MeteringPoints::Exhausted
                );
                (outcome_of(&error, exhausted), None)
            }
        }
    };
    let typed = |name: &str, params: &[Type], results: &[Type], store: &Store| {
        instance
            .exports
            .get_function(name)
            .ok()
            .filter(|f| {
                let ty = f.ty(store);
                ty.params() == params && ty.results() == results
            })
            .cloned()
    };

    if let Some(image) = typed("wasmcell_image", &[], &[Type::I32], &store) {
        let (outcome, _) = call(&mut store, &image);
        if outcome != RawOutcome::Ok {
            report.load = outcome;
            return Ok(report);
        }
    }
    if let Some(init) = typed("init", &[], &[], &store) {
        let (outcome, _) = call(&mut store, &init);
        if outcome != RawOutcome::Ok {
            report.load = outcome;
            return Ok(report);
        }
    }
    let poll = match (
        typed("poll", &[], &[], &store),
        typed("poll", &[], &[Type::I32], &store),
    ) {
        (Some(poll), _) | (None, Some(poll)) => poll,
        _ => {
            report.load = RawOutcome::Setup("no poll () -> () or () -> i32".into());
            return Ok(report);
        }
    };
    for input in inputs {
        if input_area.1 > 0 {
            let bytes = memory_slice(&memory, &store);
            let range = input_area.0 as usize..(input_area.0 + input_area.1) as usize;
            if let Some(area) = bytes.get_mut(range) {
                area.copy_from_slice(input);
            }
        }
        let (mut outcome, status) = call(&mut store, &poll);
        if outcome == RawOutcome::Ok && status.unwrap_or(0) != 0 {
            outcome = RawOutcome::Fault {
                kind: FaultKind::GuestReported,
                buffer: false,
            };
        }
        let ok = outcome == RawOutcome::Ok;
        report.polls.push(outcome);
        if !ok {
            break;
        }
        report.outputs.push((output_area.1 > 0).then(|| {
            let bytes = memory_slice(&memory, &store);
            bytes
                .get(output_area.0 as usize..(output_area.0 + output_area.1) as usize)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        }));
    }
    Ok(report)
}
