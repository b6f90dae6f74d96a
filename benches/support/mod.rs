//! Guests, raw-wasmer baselines and C callbacks shared by the benchmarks.
#![allow(dead_code)]

use std::ffi::{c_void, CStr};
use std::sync::Arc;
use wasmcell::ffi::host::{wasmcell_call, wasmcell_runtime_define, wasmcell_val};
use wasmcell::ffi::program::{
    wasmcell_program, wasmcell_program_load, wasmcell_program_poll, wasmcell_program_set_fuel,
    wasmcell_program_set_timing,
};
use wasmcell::ffi::runtime::{wasmcell_runtime, wasmcell_runtime_free, wasmcell_runtime_new};
use wasmer::sys::{CompilerConfig, Cranelift, EngineBuilder};
use wasmer::{
    imports, Engine, Function, FunctionEnv, FunctionEnvMut, FunctionType, Instance, Memory, Module,
    Store, Type, TypedFunction, Value,
};
use wasmer_middlewares::metering::set_remaining_points;
use wasmer_middlewares::Metering;

pub const EMPTY_WAT: &str = r#"(module (func (export "poll")))"#;

/// Iterations of the compute guests, per poll.
pub const ITERATIONS: u32 = 20_000_000;

/// Host calls a caller guest makes per poll.
pub const CALLS: u32 = 1000;

/// A compute-heavy guest: `ITERATIONS` iterations of `body` (which updates
/// $acc from $i).
pub fn compute_wat(body: &str) -> String {
    format!(
        r#"(module
  (global $sink (mut i32) (i32.const 0))
  (func (export "poll")
    (local $i i32) (local $acc i32)
    (loop $next
      {body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const {ITERATIONS}))))
    (global.set $sink (local.get $acc))))"#
    )
}

/// A linear congruential step: one basic block per iteration.
pub const STRAIGHT_BODY: &str =
    "(local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 1103515245)) (i32.const 12345)))";

/// Branches inside the loop: four basic blocks per iteration, where
/// per-block metering charges four times and the loop-header budget once.
pub const BRANCHY_BODY: &str = "(if (i32.and (local.get $i) (i32.const 1))
        (then (local.set $acc (i32.add (local.get $acc) (local.get $i))))
        (else (local.set $acc (i32.xor (local.get $acc) (i32.shl (local.get $i) (i32.const 3))))))
      (if (i32.gt_u (local.get $acc) (i32.const 1000000))
        (then (local.set $acc (i32.shr_u (local.get $acc) (i32.const 1)))))";

/// A guest polled on raw wasmer (cranelift), optionally with wasmer's
/// per-block `Metering` middleware.
pub struct RawGuest {
    pub store: Store,
    pub poll: TypedFunction<(), ()>,
    pub instance: Instance,
    metered: bool,
}

/// A store on cranelift, under wasmer's per-block `Metering` when `metered`.
fn raw_store(metered: bool) -> Store {
    let mut compiler = Cranelift::default();
    if metered {
        compiler.push_middleware(Arc::new(Metering::new(
            u64::MAX,
            |_: &wasmer::wasmparser::Operator| 1,
        )));
    }
    let engine: Engine = EngineBuilder::new(compiler).engine().into();
    Store::new(engine)
}

impl RawGuest {
    pub fn new(wat: &str, metered: bool) -> Self {
        let mut store = raw_store(metered);
        let module = Module::new(&store, wat).unwrap();
        let instance = Instance::new(&mut store, &module, &imports! {}).unwrap();
        Self::from_instance(store, instance, metered)
    }

    fn from_instance(store: Store, instance: Instance, metered: bool) -> Self {
        let poll = instance.exports.get_typed_function(&store, "poll").unwrap();
        Self {
            store,
            poll,
            instance,
            metered,
        }
    }

    /// Polls once (metering points reset first, as wasmcell resets its budget).
    pub fn poll(&mut self) {
        if self.metered {
            set_remaining_points(&mut self.store, &self.instance, u64::MAX);
        }
        self.poll.call(&mut self.store).unwrap();
    }
}

/// The host function a caller guest calls: its signature decides whether
/// wasmcell links it as a typed wasmer function or through wasmer's dynamic
/// path (`src/host_import.rs`: typed for at most one result and up to two
/// scalar parameters, or up to four i32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `(i)i`: linked typed.
    Scalar,
    /// `(*~)i`, the 8-byte buffer "Polling\n": linked typed (two i32).
    Buffer,
    /// `(iiI)i`: three parameters, not all i32, so wasmcell links it through
    /// wasmer's dynamic functions.
    Wide,
}

impl Shape {
    /// The signature string given to `wasmcell_runtime_define`.
    pub fn signature(self) -> &'static CStr {
        match self {
            Shape::Scalar => c"(i)i",
            Shape::Buffer => c"(*~)i",
            Shape::Wide => c"(iiI)i",
        }
    }

    fn wasm_params(self) -> &'static [Type] {
        match self {
            Shape::Scalar => &[Type::I32],
            Shape::Buffer => &[Type::I32, Type::I32],
            Shape::Wide => &[Type::I32, Type::I32, Type::I64],
        }
    }
}

/// A guest that calls `h.f` CALLS times per poll with `shape`'s arguments,
/// or, with no shape, the same loop with no call (a global updated instead):
/// what the loop and wasmcell's budget cost without the host call.
pub fn shape_wat(shape: Option<Shape>) -> String {
    let (import, body) = match shape {
        Some(Shape::Scalar) => (
            "(param i32) (result i32)",
            "(drop (call $f (local.get $i)))",
        ),
        Some(Shape::Buffer) => (
            "(param i32 i32) (result i32)",
            "(drop (call $f (i32.const 16) (i32.const 8)))",
        ),
        Some(Shape::Wide) => (
            "(param i32 i32 i64) (result i32)",
            "(drop (call $f (local.get $i) (i32.const 2) (i64.const 3)))",
        ),
        None => (
            "(param i32) (result i32)",
            "(global.set $sink (i32.add (global.get $sink) (local.get $i)))",
        ),
    };
    format!(
        r#"(module (import "h" "f" (func $f {import}))
  (global $sink (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  (data (i32.const 16) "Polling\n")
  (func (export "poll") (local $i i32)
    (loop $next
      {body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const {CALLS}))))))"#
    )
}

/// A guest that calls `h.f` CALLS times per poll, with a scalar `(i)i` or
/// the 8-byte buffer "Polling\n" `(*~)i`.
pub fn caller_wat(buffer: bool) -> String {
    shape_wat(Some(if buffer { Shape::Buffer } else { Shape::Scalar }))
}

impl RawGuest {
    /// `shape_wat(shape)` with `h.f` typed or dynamic (`Function::new`);
    /// for a buffer, `h.f` does what wasmcell does before a callback: locate
    /// the guest memory, bounds-check the range, read it.
    pub fn caller(shape: Option<Shape>, dynamic: bool, metered: bool) -> Self {
        Self::caller_with(shape, dynamic, metered, false)
    }

    /// The scalar `(i)i` caller whose typed import reads its environment
    /// (`FunctionEnvMut::data`), as every host function that needs the
    /// calling program's state does: the floor of a host call with state.
    pub fn caller_reading_env() -> Self {
        Self::caller_with(Some(Shape::Scalar), false, false, true)
    }

    fn caller_with(shape: Option<Shape>, dynamic: bool, metered: bool, read_env: bool) -> Self {
        let mut store = raw_store(metered);
        let module = Module::new(&store, shape_wat(shape)).unwrap();
        let env = FunctionEnv::new(&mut store, None::<Memory>);
        let read_buffer = |env: &FunctionEnvMut<Option<Memory>>, ptr: i32, len: i32| -> i32 {
            let view = env.data().as_ref().unwrap().view(env);
            let (start, len) = (ptr as u32 as u64, len as u32 as u64);
            if start + len > view.data_size() {
                return -1;
            }
            let mut first = [0u8];
            view.read(start, &mut first).unwrap();
            len as i32 + first[0] as i32
        };
        let shape = shape.unwrap_or(Shape::Scalar);
        let f = if dynamic {
            Function::new_with_env(
                &mut store,
                &env,
                FunctionType::new(shape.wasm_params(), [Type::I32]),
                move |env: FunctionEnvMut<Option<Memory>>, args: &[Value]| {
                    let result = match shape {
                        Shape::Scalar => args[0].unwrap_i32() + 1,
                        Shape::Buffer => {
                            read_buffer(&env, args[0].unwrap_i32(), args[1].unwrap_i32())
                        }
                        Shape::Wide => {
                            args[0].unwrap_i32()
                                + args[1].unwrap_i32()
                                + args[2].unwrap_i64() as i32
                        }
                    };
                    Ok(vec![Value::I32(result)])
                },
            )
        } else {
            match shape {
                Shape::Scalar if read_env => Function::new_typed_with_env(
                    &mut store,
                    &env,
                    |env: FunctionEnvMut<Option<Memory>>, x: i32| {
                        x + i32::from(std::hint::black_box(env.data()).is_some())
                    },
                ),
                Shape::Scalar => Function::new_typed_with_env(
                    &mut store,
                    &env,
                    |_: FunctionEnvMut<_>, x: i32| x + 1,
                ),
                Shape::Buffer => Function::new_typed_with_env(
                    &mut store,
                    &env,
                    move |env: FunctionEnvMut<Option<Memory>>, ptr: i32, len: i32| {
                        read_buffer(&env, ptr, len)
                    },
                ),
                Shape::Wide => Function::new_typed_with_env(
                    &mut store,
                    &env,
                    |_: FunctionEnvMut<_>, a: i32, b: i32, c: i64| a + b + c as i32,
                ),
            }
        };
        let instance =
            Instance::new(&mut store, &module, &imports! { "h" => { "f" => f } }).unwrap();
        let memory = instance.exports.get_memory("memory").unwrap().clone();
        *env.as_mut(&mut store) = Some(memory);
        Self::from_instance(store, instance, metered)
    }
}

/// The caller guest on raw wasmer, unmetered (see [`RawGuest::caller`]).
pub fn raw_caller(buffer: bool, dynamic: bool) -> (Store, TypedFunction<(), ()>) {
    let shape = if buffer { Shape::Buffer } else { Shape::Scalar };
    let raw = RawGuest::caller(Some(shape), dynamic, false);
    (raw.store, raw.poll)
}

pub unsafe extern "C" fn c_increment(
    _: *mut c_void,
    _: *mut wasmcell_call,
    args: *const wasmcell_val,
    _: usize,
    results: *mut wasmcell_val,
    _: usize,
) -> i32 {
    unsafe { (*results).i32 = (*args).i32 + 1 };
    0
}

pub unsafe extern "C" fn c_buffer_len(
    _: *mut c_void,
    _: *mut wasmcell_call,
    args: *const wasmcell_val,
    _: usize,
    results: *mut wasmcell_val,
    _: usize,
) -> i32 {
    unsafe { (*results).i32 = (*args).buf.len as i32 + *(*args).buf.ptr as i32 };
    0
}

pub unsafe extern "C" fn c_wide_sum(
    _: *mut c_void,
    _: *mut wasmcell_call,
    args: *const wasmcell_val,
    _: usize,
    results: *mut wasmcell_val,
    _: usize,
) -> i32 {
    unsafe { (*results).i32 = (*args).i32 + (*args.add(1)).i32 + (*args.add(2)).i64 as i32 };
    0
}

pub type CCallback = unsafe extern "C" fn(
    *mut c_void,
    *mut wasmcell_call,
    *const wasmcell_val,
    usize,
    *mut wasmcell_val,
    usize,
) -> i32;

/// A runtime and one program loaded through the C ABI, freed on drop.
pub struct CProgram {
    pub runtime: *mut wasmcell_runtime,
    pub program: *mut wasmcell_program,
}

impl CProgram {
    /// Turns the poll timer (statistics' durations) on or off.
    pub fn set_timing(&self, on: bool) {
        // SAFETY: a handle; wasmcell validates it.
        assert_eq!(
            unsafe { wasmcell_program_set_timing(self.program, i32::from(on)) },
            0
        );
    }

    /// Polls the program through the C ABI.
    pub fn poll(&self) -> i32 {
        // SAFETY: a handle; wasmcell validates it.
        unsafe { wasmcell_program_poll(std::hint::black_box(self.program)) }
    }

    /// Loads `wat` with no host functions.
    pub fn new(wat: &str) -> Self {
        Self::with_host(wat, None)
    }

    /// Loads `wat` after defining `module.name` as `callback`:
    /// (module, name, signature, callback, user_data).
    pub fn with_host(
        wat: &str,
        host: Option<(&CStr, &CStr, &CStr, CCallback, *mut c_void)>,
    ) -> Self {
        let mut runtime = std::ptr::null_mut();
        let mut program = std::ptr::null_mut();
        // SAFETY: the out-pointers are locals, the strings NUL-terminated and
        // `wat` readable for its length.
        assert_eq!(unsafe { wasmcell_runtime_new(&mut runtime) }, 0);
        if let Some((module, name, signature, callback, user_data)) = host {
            let status = unsafe {
                wasmcell_runtime_define(
                    runtime,
                    module.as_ptr(),
                    name.as_ptr(),
                    signature.as_ptr(),
                    Some(callback),
                    user_data,
                    None,
                )
            };
            assert_eq!(status, 0);
        }
        let status = unsafe {
            wasmcell_program_load(
                runtime,
                c"bench".as_ptr(),
                wat.as_ptr(),
                wat.len(),
                &mut program,
            )
        };
        assert_eq!(status, 0);
        Self { runtime, program }
    }

    /// The caller guest of `caller_wat` with the matching C callback as `h.f`.
    pub fn caller(buffer: bool) -> Self {
        Self::shaped(Some(if buffer { Shape::Buffer } else { Shape::Scalar }))
    }

    /// `shape_wat(shape)` with the matching C callback defined as `h.f`
    /// through the C ABI (with no shape, `h.f` is defined and never called),
    /// under a budget no poll exhausts.
    pub fn shaped(shape: Option<Shape>) -> Self {
        let callback: CCallback = match shape {
            Some(Shape::Buffer) => c_buffer_len,
            Some(Shape::Wide) => c_wide_sum,
            Some(Shape::Scalar) | None => c_increment,
        };
        let signature = shape.unwrap_or(Shape::Scalar).signature();
        let host = (c"h", c"f", signature, callback, std::ptr::null_mut());
        let program = Self::with_host(&shape_wat(shape), Some(host));
        // SAFETY: a handle; wasmcell validates it.
        assert_eq!(
            unsafe { wasmcell_program_set_fuel(program.program, u64::MAX / 4) },
            0
        );
        program
    }
}

impl Drop for CProgram {
    fn drop(&mut self) {
        // SAFETY: a handle; wasmcell validates it.
        unsafe { wasmcell_runtime_free(self.runtime) };
    }
}

/// A guest declaring a process image of `bytes` inputs and `bytes` outputs
/// (descriptor layout: docs/guest-abi.md).
pub fn image_wat(bytes: u32) -> String {
    let field = |v: u32| {
        v.to_le_bytes()
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect::<String>()
    };
    let fields: Vec<String> = [1, 1024, bytes, 1024 + bytes, bytes, 0, 0, 0, 0, 0]
        .iter()
        .map(|v| format!("\"{}\"", field(*v)))
        .collect();
    format!(
        r#"(module (memory (export "memory") 1)
  (data (i32.const 0) "WCIM" {})
  (func (export "wasmcell_image") (result i32) (i32.const 0))
  (func (export "poll")))"#,
        fields.join(" ")
    )
}

/// About 1 MB of wasm: many small functions with arithmetic and branches.
pub fn big_module() -> String {
    let mut text = String::from("(module (global $g (mut i32) (i32.const 0))\n");
    for i in 0..20000 {
        text.push_str(&format!(
            "(func $f{i} (param i32) (result i32) (local i32)
               (local.set 1 (i32.mul (local.get 0) (i32.const {i})))
               (if (i32.gt_s (local.get 1) (i32.const 1000))
                 (then (local.set 1 (i32.sub (local.get 1) (i32.const 7)))))
               (global.set $g (i32.add (global.get $g) (local.get 1)))
               (i32.xor (local.get 1) (global.get $g)))\n"
        ));
    }
    text.push_str("(func (export \"poll\") (drop (call $f1 (i32.const 3)))))");
    text
}

/// This process's resident set size in bytes.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
