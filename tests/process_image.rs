//! The process image: copy-in/copy-out, transactional outputs, retain across
//! reset and reload, named typed signals.

mod common;

use common::fixture;
use wasmcell::{Area, ErrorKind, Runtime, SignalType, SignalValue};

fn conveyor() -> (Runtime, wasmcell::Program) {
    let rt = Runtime::default();
    let program = rt.load("conveyor", &fixture("conveyor.wat")).unwrap();
    (rt, program)
}

fn f64_at(bytes: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

#[test]
fn the_descriptor_declares_areas_and_signals() {
    let (_rt, program) = conveyor();
    let layout = program.image_layout();
    assert_eq!(
        (layout.inputs.len, layout.outputs.len, layout.retain.len),
        (16, 24, 8)
    );
    let names: Vec<_> = program.signals().into_iter().map(|(_, s)| s.name).collect();
    assert_eq!(
        names,
        ["speed", "enable", "motor_on", "position", "pulses", "distance"]
    );
    let (_, speed) = program.signal("speed").unwrap();
    assert_eq!(
        (speed.area, speed.ty, speed.offset),
        (Area::Input, SignalType::F64, 0)
    );
}

#[test]
fn inputs_are_copied_in_and_outputs_copied_out_by_bytes() {
    let (_rt, program) = conveyor();
    program.write_inputs(0, &2.5f64.to_le_bytes()).unwrap();
    program.write_inputs(8, &[1]).unwrap();
    let mut outputs = [0u8; 24];
    assert_eq!(
        program.read_outputs(0, &mut outputs).unwrap(),
        0,
        "nothing published before the first poll"
    );
    program.poll().unwrap();
    program.poll().unwrap();
    assert_eq!(
        program.read_outputs(0, &mut outputs).unwrap(),
        2,
        "published by poll 2"
    );
    assert_eq!(outputs[0], 1);
    assert_eq!(f64_at(&outputs, 8), 5.0);
    assert_eq!(u32::from_le_bytes(outputs[16..20].try_into().unwrap()), 2);
    let mut echo = [0u8; 8];
    program.read_inputs(0, &mut echo).unwrap();
    assert_eq!(f64::from_le_bytes(echo), 2.5);
}

#[test]
fn named_signals_get_and_set_with_type_checks() {
    let (_rt, program) = conveyor();
    let (speed, _) = program.signal("speed").unwrap();
    let (enable, _) = program.signal("enable").unwrap();
    let (position, _) = program.signal("position").unwrap();
    let (pulses, _) = program.signal("pulses").unwrap();
    let (motor_on, _) = program.signal("motor_on").unwrap();
    program.set_signal(speed, SignalValue::Float(1.25)).unwrap();
    program.set_signal(enable, SignalValue::Int(1)).unwrap();
    for _ in 0..4 {
        program.poll().unwrap();
    }
    assert_eq!(
        program.get_signal(position).unwrap(),
        SignalValue::Float(5.0)
    );
    assert_eq!(program.get_signal(pulses).unwrap(), SignalValue::Int(4));
    assert_eq!(program.get_signal(motor_on).unwrap(), SignalValue::Int(1));
    assert_eq!(program.get_signal(speed).unwrap(), SignalValue::Float(1.25));

    let err = program.set_signal(enable, SignalValue::Int(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let err = program
        .set_signal(position, SignalValue::Float(1.0))
        .unwrap_err();
    assert!(
        err.message().contains("only inputs can be written"),
        "{err}"
    );
    assert_eq!(
        program.signal("nope").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        program.get_signal(12345).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_faulting_poll_never_changes_the_published_outputs() {
    let (_rt, program) = conveyor();
    let (speed, _) = program.signal("speed").unwrap();
    let (enable, _) = program.signal("enable").unwrap();
    program.set_signal(speed, SignalValue::Float(2.0)).unwrap();
    program.set_signal(enable, SignalValue::Int(1)).unwrap();
    program.poll().unwrap();
    let mut before = [0u8; 24];
    assert_eq!(program.read_outputs(0, &mut before).unwrap(), 1);
    program.set_signal(speed, SignalValue::Float(-1.0)).unwrap();
    assert_eq!(program.poll().unwrap_err().kind(), ErrorKind::Trap);
    let mut after = [0u8; 24];
    assert_eq!(
        program.read_outputs(0, &mut after).unwrap(),
        1,
        "still the outputs of poll 1"
    );
    assert_eq!(before, after);
    assert_eq!(f64_at(&after, 8), 2.0);
}

#[test]
fn retain_survives_reset_and_reload_and_inputs_are_kept() {
    let (_rt, program) = conveyor();
    let (speed, _) = program.signal("speed").unwrap();
    let (enable, _) = program.signal("enable").unwrap();
    let (distance, _) = program.signal("distance").unwrap();
    program.set_signal(speed, SignalValue::Float(1.5)).unwrap();
    program.set_signal(enable, SignalValue::Int(1)).unwrap();
    for _ in 0..4 {
        program.poll().unwrap();
    }
    assert_eq!(
        program.get_signal(distance).unwrap(),
        SignalValue::Float(6.0)
    );
    program.reset().unwrap();
    program.poll().unwrap();
    assert_eq!(
        program.get_signal(distance).unwrap(),
        SignalValue::Float(7.5)
    );
    program.reload(&fixture("conveyor.wat")).unwrap();
    program.poll().unwrap();
    assert_eq!(
        program.get_signal(distance).unwrap(),
        SignalValue::Float(9.0)
    );
    // Same signal table: the ids stay valid across the reload.
    assert_eq!(program.get_signal(speed).unwrap(), SignalValue::Float(1.5));
}

#[test]
fn a_new_signal_table_makes_old_ids_stale() {
    let (_rt, program) = conveyor();
    let (speed, _) = program.signal("speed").unwrap();
    let plain = "(module (memory (export \"memory\") 1) (func (export \"poll\")))";
    program.reload(plain.as_bytes()).unwrap();
    let err = program.get_signal(speed).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("look the signal up again"), "{err}");
}

#[test]
fn out_of_range_byte_ranges_are_refused() {
    let (_rt, program) = conveyor();
    let err = program.write_inputs(10, &[0; 8]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.message().contains("outside the 16-byte input area"),
        "{err}"
    );
    let mut big = [0u8; 25];
    assert_eq!(
        program.read_outputs(0, &mut big).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        program
            .read_outputs(usize::MAX, &mut [0u8; 2])
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn hostile_descriptors_fail_the_load_with_a_clear_message() {
    let rt = Runtime::default();
    let bad_magic = r#"(module (memory (export "memory") 1)
        (func (export "wasmcell_image") (result i32) (i32.const 0))
        (func (export "poll")))"#;
    let err = rt.load("bad", bad_magic.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link);
    assert!(
        err.message()
            .contains("invalid process image descriptor: bad magic"),
        "{err}"
    );
    let outside = r#"(module (memory (export "memory") 1)
        (func (export "wasmcell_image") (result i32) (i32.const 70000))
        (func (export "poll")))"#;
    assert!(rt
        .load("bad", outside.as_bytes())
        .unwrap_err()
        .message()
        .contains("outside memory"));
    let trapping = r#"(module (memory (export "memory") 1)
        (func (export "wasmcell_image") (result i32) unreachable)
        (func (export "poll")))"#;
    assert_eq!(
        rt.load("bad", trapping.as_bytes()).unwrap_err().kind(),
        ErrorKind::Instantiate
    );
}

/// Signal reads racing hot swaps that change the signal table and shrink the
/// output area: every read gives a value or a documented error (a stale id),
/// never an internal error (a lookup in one table used on another's buffer).
#[test]
fn signal_reads_racing_swaps_that_shrink_the_image_never_fail_internally() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let rt = Runtime::default();
    let (wide, narrow) = (fixture("image_wide.wat"), fixture("image_narrow.wat"));
    let program = rt.load("swapped", &wide).unwrap();
    program.poll().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (program, stop) = (program.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut values, mut stale) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let Ok((id, _)) = program.signal("level") else {
                    continue;
                };
                for _ in 0..64 {
                    match program.get_signal(id) {
                        Ok(SignalValue::Float(v)) => {
                            assert!(v == 0.0 || v == 1.5 || v == 2.5, "read {v}");
                            values += 1;
                        }
                        Ok(other) => panic!("an f64 signal read as {other:?}"),
                        Err(e) => {
                            assert_ne!(e.kind(), ErrorKind::Internal, "{}", e.message());
                            stale += 1;
                        }
                    }
                }
            }
            (values, stale)
        })
    };
    let started = std::time::Instant::now();
    let mut swaps = 0;
    while started.elapsed() < std::time::Duration::from_millis(1500) {
        let bytes = if swaps % 2 == 0 { &narrow } else { &wide };
        program.reload(bytes).unwrap();
        program.poll().unwrap();
        swaps += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let (values, stale) = reader.join().expect("the reader never panics");
    assert!(
        swaps > 20 && values > 0,
        "{swaps} swaps, {values} values, {stale} stale ids"
    );
}
