//! Shadow runs: a prepared reload proves itself on live inputs before it
//! takes over, without touching the running program.

mod common;

use common::fixture;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use wasmcell::{ErrorKind, HostCall, Runtime, SignalValue, Val};

fn outputs(program: &wasmcell::Program) -> ([u8; 24], u64) {
    let mut out = [0u8; 24];
    let poll = program.read_outputs(0, &mut out).unwrap();
    (out, poll)
}

#[test]
fn shadow_polls_run_the_new_version_and_never_touch_the_running_one() {
    let rt = Runtime::default();
    let running = rt.load("conveyor", &fixture("conveyor.wat")).unwrap();
    running.write_inputs(0, &2.0f64.to_le_bytes()).unwrap();
    running.write_inputs(8, &[1]).unwrap();
    for _ in 0..5 {
        running.poll().unwrap();
    }
    let distance_id = running.signal("distance").unwrap().0;
    let before = (
        outputs(&running),
        running.stats().polls,
        running.get_signal(distance_id).unwrap(),
    );
    assert_eq!(before.2, SignalValue::Float(10.0));

    let mut prepared = running.prepare_reload(&fixture("conveyor.wat")).unwrap();
    assert!(
        prepared.read_outputs(0, &mut [0u8; 1]).is_err(),
        "no shadow poll yet"
    );
    for _ in 0..10 {
        prepared.shadow_poll().unwrap();
    }
    // The shadow ran on the live inputs: 10 polls at speed 2.
    let mut shadow = [0u8; 24];
    assert_eq!(prepared.read_outputs(0, &mut shadow).unwrap(), 10);
    assert_eq!(shadow[0], 1, "motor on");
    assert_eq!(f64::from_le_bytes(shadow[8..16].try_into().unwrap()), 20.0);
    assert_eq!(u32::from_le_bytes(shadow[16..20].try_into().unwrap()), 10);
    // The running program is byte for byte where it was.
    let after = (
        outputs(&running),
        running.stats().polls,
        running.get_signal(distance_id).unwrap(),
    );
    assert_eq!(before, after);
    // The commit takes the running program's retain at commit time.
    running.poll().unwrap();
    running.commit_reload(prepared).unwrap();
    assert_eq!(
        running.get_signal(distance_id).unwrap(),
        SignalValue::Float(12.0)
    );
}

#[test]
fn a_version_that_faults_on_live_inputs_is_caught_in_the_shadow_run() {
    let rt = Runtime::default();
    let running = rt.load("conveyor", &fixture("conveyor.wat")).unwrap();
    running.write_inputs(0, &1.0f64.to_le_bytes()).unwrap();
    running.poll().unwrap();
    // A "new version" that divides by an input that is zero on this machine.
    let broken = br#"(module (memory (export "memory") 1)
        (data (i32.const 0) "WCIM\01\00\00\00" "\40\00\00\00\10\00\00\00" "\60\00\00\00\18\00\00\00"
                            "\00\00\00\00\00\00\00\00" "\00\00\00\00" "\00\00\00\00\00\00\00\00")
        (func (export "wasmcell_image") (result i32) (i32.const 0))
        (func (export "poll") (drop (i32.div_u (i32.const 1) (i32.load8_u (i32.const 72))))))"#;
    let mut prepared = running.prepare_reload(broken).unwrap();
    let err = prepared.shadow_poll().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    assert_eq!(
        prepared.shadow_poll().unwrap_err().kind(),
        ErrorKind::Faulted
    );
    drop(prepared);
    running.poll().unwrap();
    assert_eq!(running.stats().faults, 0);
}

#[test]
fn host_callbacks_know_they_serve_a_shadow_poll() {
    let rt = Runtime::default();
    let shadow_calls = Arc::new(AtomicU64::new(0));
    let live_calls = Arc::new(AtomicU64::new(0));
    let (s, l) = (shadow_calls.clone(), live_calls.clone());
    rt.define(
        "test",
        "tick",
        "(i)",
        move |call: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| {
            if call.is_shadow() { &s } else { &l }.fetch_add(1, Ordering::SeqCst);
            Ok(())
        },
    )
    .unwrap();
    let running = rt.load("counter", &fixture("counter.wat")).unwrap();
    running.poll().unwrap();
    let mut prepared = running.prepare_reload(&fixture("counter.wat")).unwrap();
    let polling = Arc::new(AtomicBool::new(true));
    let poller = {
        let (running, polling) = (running.clone(), polling.clone());
        std::thread::spawn(move || {
            while polling.load(Ordering::SeqCst) {
                running.poll().unwrap();
            }
        })
    };
    for _ in 0..100 {
        prepared.shadow_poll().unwrap();
    }
    polling.store(false, Ordering::SeqCst);
    poller.join().unwrap();
    assert_eq!(shadow_calls.load(Ordering::SeqCst), 100);
    assert_eq!(live_calls.load(Ordering::SeqCst), running.stats().polls);
}
