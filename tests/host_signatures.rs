//! Every parameter and result type reaches a host function intact, both on
//! the typed trampolines (common shapes) and on the dynamic path (the rest):
//! the guest calls with distinctive values, the host checks what arrived and
//! returns distinctive results, and the guest reports those back.

use std::sync::{Arc, Mutex};
use wasmcell::{HostCall, Runtime, Val};

/// Signatures covering every typed shape kind and the dynamic fallback.
const SIGNATURES: &[&str] = &[
    // typed: no params, every result kind
    "()", "()i", "()I", "()f", "()F", // typed: one or two params of any scalar type
    "(i)", "(I)I", "(f)f", "(F)F", "(iF)i", "(Fi)F", "(If)I", "(fI)f",
    // typed: three or four i32, buffers included
    "(iii)i", "(iiii)I", "(*~)i", "(*~i)F", "(*~*~)",
    // dynamic: mixed types beyond two params, several results, five params
    "(iIfF)F", "(ii)iI", "(FFF)", "(iiiii)i", "(*~I)f",
];

fn param_value(kind: char, index: usize) -> Val {
    let i = index as i32;
    match kind {
        'i' => Val::I32(-7 - i),
        'I' => Val::I64((1 << 40) + i as i64),
        'f' => Val::F32(1.5 + i as f32),
        'F' => Val::F64(-2.25 - i as f64),
        _ => unreachable!(),
    }
}

fn result_value(kind: char, index: usize) -> Val {
    let i = index as i32;
    match kind {
        'i' => Val::I32(500 + i),
        'I' => Val::I64(-(1 << 41) - i as i64),
        'f' => Val::F32(0.75 - i as f32),
        'F' => Val::F64(3.125 + i as f64),
        _ => unreachable!(),
    }
}

fn wasm_type(kind: char) -> &'static str {
    match kind {
        'i' => "i32",
        'I' => "i64",
        'f' => "f32",
        'F' => "f64",
        _ => unreachable!(),
    }
}

fn wasm_const(val: Val) -> String {
    match val {
        Val::I32(v) => format!("(i32.const {v})"),
        Val::I64(v) => format!("(i64.const {v})"),
        Val::F32(v) => format!("(f32.const {v})"),
        Val::F64(v) => format!("(f64.const {v})"),
        Val::Buf { .. } => unreachable!(),
    }
}

/// Parameter kinds ('*' for a buffer) and result kinds of a signature.
fn split(signature: &str) -> (Vec<char>, Vec<char>) {
    let (params, results) = signature[1..].split_once(')').unwrap();
    let params = params.replace("*~", "*").chars().collect();
    (params, results.chars().collect())
}

/// A guest that calls `sig.f` once per poll with the expected arguments and
/// hands each result to `check.got_<type>(index, value)`. Buffer argument k
/// is the 3 bytes at offset 16 + 8k, holding "ab" followed by k.
fn guest(signature: &str) -> String {
    let (params, results) = split(signature);
    let mut wasm_params = Vec::new();
    let mut args = String::new();
    let mut data = String::new();
    for (index, kind) in params.iter().enumerate() {
        if *kind == '*' {
            wasm_params.extend(["i32", "i32"]);
            let offset = 16 + 8 * index;
            args += &format!("(i32.const {offset}) (i32.const 3) ");
            data += &format!("(data (i32.const {offset}) \"ab\\{index:02x}\")\n");
        } else {
            wasm_params.push(wasm_type(*kind));
            args += &wasm_const(param_value(*kind, index));
        }
    }
    let result_types: Vec<&str> = results.iter().map(|k| wasm_type(*k)).collect();
    let locals: String = result_types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("(local $r{i} {t}) "))
        .collect();
    // Results are on the stack in order: pop them last first.
    let store: String = (0..results.len())
        .rev()
        .map(|i| format!("(local.set $r{i}) "))
        .collect();
    let report: String = results
        .iter()
        .enumerate()
        .map(|(i, k)| format!("(call $got_{k} (i32.const {i}) (local.get $r{i})) "))
        .collect();
    let got_imports: String = ['i', 'I', 'f', 'F']
        .iter()
        .map(|k| {
            format!(
                "(import \"check\" \"got_{}\" (func $got_{k} (param i32 {})))\n",
                wasm_type(*k),
                wasm_type(*k)
            )
        })
        .collect();
    format!(
        r#"(module
  (import "sig" "f" (func $f (param {}) (result {})))
  {got_imports}
  (memory (export "memory") 1)
  {data}
  (func (export "poll") {locals}
    (call $f {args})
    {store}
    {report}))"#,
        wasm_params.join(" "),
        result_types.join(" "),
    )
}

#[test]
fn every_type_reaches_the_host_and_comes_back_on_typed_and_dynamic_paths() {
    for signature in SIGNATURES {
        let (params, results) = split(signature);
        let rt = Runtime::default();
        let received: Arc<Mutex<Vec<Vec<Val>>>> = Arc::default();
        let buffers: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let (r, b, result_kinds) = (received.clone(), buffers.clone(), results.clone());
        rt.define(
            "sig",
            "f",
            signature,
            move |call: &mut HostCall<'_>, args: &[Val], out: &mut [Val]| {
                r.lock().unwrap().push(args.to_vec());
                for arg in args {
                    if let Some(bytes) = call.buf(arg) {
                        b.lock().unwrap().push(bytes.to_vec());
                    }
                }
                for (index, (slot, kind)) in out.iter_mut().zip(&result_kinds).enumerate() {
                    *slot = result_value(*kind, index);
                }
                Ok(())
            },
        )
        .unwrap();
        let got: Arc<Mutex<Vec<(i32, Val)>>> = Arc::default();
        for kind in ["i", "I", "f", "F"] {
            let g = got.clone();
            rt.define(
                "check",
                &format!("got_{}", wasm_type(kind.chars().next().unwrap())),
                &format!("(i{kind})"),
                move |_: &mut HostCall<'_>, args: &[Val], _: &mut [Val]| {
                    if let Val::I32(index) = args[0] {
                        g.lock().unwrap().push((index, args[1]));
                    }
                    Ok(())
                },
            )
            .unwrap();
        }
        let wat = guest(signature);
        let program = rt
            .load("sig", wat.as_bytes())
            .unwrap_or_else(|e| panic!("{signature}: {e}\n{wat}"));
        program
            .poll()
            .unwrap_or_else(|e| panic!("{signature}: {e}"));

        let calls = received.lock().unwrap();
        assert_eq!(calls.len(), 1, "{signature}");
        assert_eq!(calls[0].len(), params.len(), "{signature}");
        for (index, (arg, kind)) in calls[0].iter().zip(&params).enumerate() {
            match kind {
                '*' => assert_eq!(
                    *arg,
                    Val::Buf {
                        offset: 16 + 8 * index,
                        len: 3
                    },
                    "{signature} arg {index}"
                ),
                _ => assert_eq!(*arg, param_value(*kind, index), "{signature} arg {index}"),
            }
        }
        let expected_buffers: Vec<Vec<u8>> = params
            .iter()
            .enumerate()
            .filter(|(_, k)| **k == '*')
            .map(|(index, _)| vec![b'a', b'b', index as u8])
            .collect();
        assert_eq!(*buffers.lock().unwrap(), expected_buffers, "{signature}");
        let expected_results: Vec<(i32, Val)> = results
            .iter()
            .enumerate()
            .map(|(index, kind)| (index as i32, result_value(*kind, index)))
            .collect();
        assert_eq!(*got.lock().unwrap(), expected_results, "{signature}");
    }
}

#[test]
fn a_result_of_the_wrong_type_faults_on_both_paths() {
    for signature in ["()i", "(iIfF)i"] {
        let rt = Runtime::default();
        rt.define(
            "sig",
            "f",
            signature,
            |_: &mut HostCall<'_>, _: &[Val], out: &mut [Val]| {
                out[0] = Val::F64(1.0);
                Ok(())
            },
        )
        .unwrap();
        for kind in ["i", "I", "f", "F"] {
            rt.define(
                "check",
                &format!("got_{}", wasm_type(kind.chars().next().unwrap())),
                &format!("(i{kind})"),
                |_: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| Ok(()),
            )
            .unwrap();
        }
        let program = rt.load("sig", guest(signature).as_bytes()).unwrap();
        let error = program.poll().unwrap_err();
        assert_eq!(error.kind(), wasmcell::ErrorKind::Host, "{signature}");
        assert!(
            error.message().contains("where its signature says I32"),
            "{signature}: {error}"
        );
    }
}

#[test]
fn a_buffer_outside_memory_faults_on_both_paths() {
    for (signature, call) in [
        ("(*~)i", "(drop (call $f (i32.const 65530) (i32.const 10)))"),
        (
            "(*~I)f",
            "(drop (call $f (i32.const 65530) (i32.const 10) (i64.const 1)))",
        ),
    ] {
        let rt = Runtime::default();
        let called = Arc::new(Mutex::new(false));
        let c = called.clone();
        rt.define(
            "sig",
            "f",
            signature,
            move |_: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| {
                *c.lock().unwrap() = true;
                Ok(())
            },
        )
        .unwrap();
        let (params, results) = split(signature);
        let wasm_params: Vec<&str> = params
            .iter()
            .flat_map(|k| match k {
                '*' => vec!["i32", "i32"],
                k => vec![wasm_type(*k)],
            })
            .collect();
        let wat = format!(
            r#"(module (import "sig" "f" (func $f (param {}) (result {})))
                (memory (export "memory") 1) (func (export "poll") {call}))"#,
            wasm_params.join(" "),
            wasm_type(results[0])
        );
        let program = rt.load("sig", wat.as_bytes()).unwrap();
        let error = program.poll().unwrap_err();
        assert_eq!(
            error.kind(),
            wasmcell::ErrorKind::Trap,
            "{signature}: {error}"
        );
        assert!(
            error.message().contains("lies outside the guest's memory"),
            "{signature}: {error}"
        );
        assert!(!*called.lock().unwrap(), "{signature}: the callback ran");
    }
}
