//! Guests compiled from Rust, when the wasm32 target is installed: the
//! original example program runs unchanged, and hostile Rust guests are
//! contained with the right status.

mod common;

use common::build_rust_guest;
use std::sync::{Arc, Mutex};
use wasmcell::{ErrorKind, FaultKind, LogLevel, Runtime};

#[test]
fn the_original_rust_example_prints_polling_each_poll() {
    let Some(wasm) = build_rust_guest("example-program.rs", "example_program.wasm", &[]) else {
        return;
    };
    let rt = Runtime::default();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    rt.set_log_sink(move |_: &str, level: LogLevel, message: &[u8]| {
        sink.lock().unwrap().push((level, message.to_vec()));
    })
    .unwrap();
    let program = rt.load("example", &wasm).unwrap();
    for _ in 0..5 {
        program.poll().unwrap();
    }
    assert_eq!(
        lines.lock().unwrap().as_slice(),
        vec![(LogLevel::Print, b"Polling\n".to_vec()); 5].as_slice()
    );
}

#[test]
fn hostile_rust_guests_are_contained() {
    let rt = Runtime::default();
    for (behaviour, kind, fault) in [
        ("panic", ErrorKind::Trap, FaultKind::Unreachable),
        ("recursion", ErrorKind::Trap, FaultKind::StackOverflow),
        ("loop", ErrorKind::Budget, FaultKind::BudgetExhausted),
        ("oob", ErrorKind::Trap, FaultKind::MemoryOutOfBounds),
        ("alloc_bomb", ErrorKind::Trap, FaultKind::Unreachable),
    ] {
        let cfg = format!("behaviour=\"{behaviour}\"");
        let Some(wasm) = build_rust_guest(
            "hostile.rs",
            &format!("hostile_{behaviour}.wasm"),
            &["--cfg", &cfg],
        ) else {
            return;
        };
        let program = rt.load(behaviour, &wasm).unwrap();
        program.set_fuel(1_000_000).unwrap();
        let err = program.poll().unwrap_err();
        assert_eq!(err.kind(), kind, "{behaviour}: {err}");
        assert_eq!(program.fault_kind(), fault, "{behaviour}: {err}");
    }
}

#[test]
fn a_rust_guest_declares_its_process_image() {
    use wasmcell::{Area, SignalType, SignalValue};
    let Some(wasm) = build_rust_guest("conveyor.rs", "conveyor.wasm", &[]) else {
        return;
    };
    let rt = Runtime::default();
    let program = rt.load("conveyor", &wasm).unwrap();
    let layout = program.image_layout();
    assert_eq!(
        (layout.inputs.len, layout.outputs.len, layout.retain.len),
        (16, 24, 8)
    );
    let (speed, info) = program.signal("speed").unwrap();
    assert_eq!((info.area, info.ty), (Area::Input, SignalType::F64));
    let (enable, _) = program.signal("enable").unwrap();
    let (position, _) = program.signal("position").unwrap();
    let (distance, _) = program.signal("distance").unwrap();
    program.set_signal(speed, SignalValue::Float(0.5)).unwrap();
    program.set_signal(enable, SignalValue::Int(1)).unwrap();
    for _ in 0..4 {
        program.poll().unwrap();
    }
    assert_eq!(
        program.get_signal(position).unwrap(),
        SignalValue::Float(2.0)
    );
    program.set_signal(speed, SignalValue::Float(-1.0)).unwrap();
    assert_eq!(program.poll().unwrap_err().kind(), ErrorKind::Trap);
    assert_eq!(
        program.get_signal(position).unwrap(),
        SignalValue::Float(2.0),
        "a faulting poll publishes nothing"
    );
    program.reset().unwrap();
    assert_eq!(
        program.get_signal(distance).unwrap(),
        SignalValue::Float(2.0),
        "retain survives reset"
    );
}
