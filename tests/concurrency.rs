//! The threading contract under real contention: re-entry from `init` is
//! BUSY, reset and reload are serialised (newest wins), unload releases
//! prepared reloads, replacing the log sink waits for calls inside the old
//! one, callbacks that poll each other's programs on two threads get BUSY
//! instead of deadlocking, and stale call handles are refused.
//!
//! Each scenario runs under a deadline, so a regression fails instead of
//! hanging the suite.

mod common;

use common::fixture;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Condvar, Mutex, OnceLock};
use std::time::Duration;
use wasmcell::{ErrorKind, HostCall, LogLevel, Program, Runtime, Val};

/// Runs `f` on its own thread and fails if it has not finished in `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(Duration::from_secs(secs))
        .expect("deadlock: the scenario did not finish")
}

/// A gate a host callback (or sink) parks on until the test opens it.
#[derive(Default)]
struct Gate {
    armed: AtomicBool,
    state: Mutex<(bool, bool)>, // (entered, released)
    changed: Condvar,
}

impl Gate {
    fn arm(&self) {
        *self.state.lock().unwrap() = (false, false);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Called from inside wasmcell: parks while armed, until released.
    fn pass(&self) {
        if !self.armed.swap(false, Ordering::SeqCst) {
            return;
        }
        let mut state = self.state.lock().unwrap();
        state.0 = true;
        self.changed.notify_all();
        while !state.1 {
            state = self.changed.wait(state).unwrap();
        }
    }

    fn wait_entered(&self) {
        let mut state = self.state.lock().unwrap();
        while !state.0 {
            state = self.changed.wait(state).unwrap();
        }
    }

    fn release(&self) {
        self.state.lock().unwrap().1 = true;
        self.changed.notify_all();
    }
}

#[test]
fn reentry_from_init_during_reset_and_reload_is_busy() {
    within(60, || {
        let rt = Runtime::default();
        let slot: Arc<OnceLock<Program>> = Arc::default();
        let seen: Arc<Mutex<Vec<ErrorKind>>> = Arc::default();
        let (program_slot, record) = (slot.clone(), seen.clone());
        rt.define(
            "test",
            "reenter",
            "()",
            move |_: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| {
                if let Some(program) = program_slot.get() {
                    let mut record = record.lock().unwrap();
                    record.push(program.poll().unwrap_err().kind());
                    record.push(program.reset().unwrap_err().kind());
                    record.push(program.unload().unwrap_err().kind());
                }
                Ok(())
            },
        )
        .unwrap();
        let wat = br#"(module (import "test" "reenter" (func $reenter))
            (func (export "init") (call $reenter))
            (func (export "poll")))"#;
        let program = rt.load("self", wat).unwrap();
        slot.set(program.clone()).unwrap();
        program.reset().unwrap();
        program.reload(wat).unwrap();
        let prepared = program.prepare_reload(wat).unwrap();
        program.commit_reload(prepared).unwrap();
        program.poll().unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![ErrorKind::Busy; 9]);
    });
}

#[test]
fn reset_never_resurrects_a_module_replaced_by_a_concurrent_reload() {
    within(60, || {
        let rt = Runtime::default();
        let gate = Arc::new(Gate::default());
        let version = Arc::new(AtomicI32::new(0));
        let g = gate.clone();
        rt.define(
            "test",
            "gate",
            "()",
            move |_: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| {
                g.pass();
                Ok(())
            },
        )
        .unwrap();
        let v = version.clone();
        rt.define(
            "test",
            "version",
            "(i)",
            move |_: &mut HostCall<'_>, args: &[Val], _: &mut [Val]| {
                if let Val::I32(n) = args[0] {
                    v.store(n, Ordering::SeqCst);
                }
                Ok(())
            },
        )
        .unwrap();
        let v1 = br#"(module (import "test" "gate" (func $gate))
            (import "test" "version" (func $version (param i32)))
            (func $start (call $gate)) (start $start)
            (func (export "poll") (call $version (i32.const 1))))"#;
        let v2 = br#"(module (import "test" "version" (func $version (param i32)))
            (func (export "poll") (call $version (i32.const 2))))"#;
        let program = rt.load("swapped", v1).unwrap();
        // The reset parks inside v1's start function (it has read v1) ...
        gate.arm();
        let resetting = {
            let program = program.clone();
            std::thread::spawn(move || program.reset())
        };
        gate.wait_entered();
        // ... while a reload of v2 is requested.
        let reloading = {
            let program = program.clone();
            std::thread::spawn(move || program.reload(v2))
        };
        std::thread::sleep(Duration::from_millis(300));
        gate.release();
        resetting.join().unwrap().unwrap();
        reloading.join().unwrap().unwrap();
        program.poll().unwrap();
        assert_eq!(version.load(Ordering::SeqCst), 2, "the newest request wins");
    });
}

#[test]
fn unload_releases_prepared_reloads() {
    within(60, || {
        let rt = Runtime::default();
        let program = rt.load("p", &fixture("hello.wat")).unwrap();
        // The new version touches 48 MiB in its start function.
        let heavy = br#"(module (memory 1024)
            (func $touch (memory.fill (i32.const 0) (i32.const 1) (i32.const 50331648)))
            (start $touch)
            (func (export "poll")))"#;
        let prepared = program.prepare_reload(heavy).unwrap();
        let resident = common::resident_bytes;
        let before = resident();
        program.unload().unwrap();
        let after = resident();
        assert!(
            before > after + (32 << 20),
            "unload released only {} bytes",
            before.saturating_sub(after)
        );
        let err = program.commit_reload(prepared).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidHandle, "{err}");
        assert!(err.message().contains("released"), "{err}");
    });
}

#[test]
fn replacing_the_log_sink_waits_for_calls_inside_the_old_one() {
    within(60, || {
        let rt = Runtime::default();
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        rt.set_log_sink(move |_: &str, _: LogLevel, _: &[u8]| g.pass())
            .unwrap();
        let program = rt.load("printer", &fixture("hello.wat")).unwrap();
        gate.arm();
        let polling = {
            let program = program.clone();
            std::thread::spawn(move || program.poll())
        };
        gate.wait_entered();
        let replaced = Arc::new(AtomicBool::new(false));
        let replacing = {
            let (rt, replaced) = (rt.clone(), replaced.clone());
            std::thread::spawn(move || {
                rt.set_log_sink(|_: &str, _: LogLevel, _: &[u8]| {})
                    .unwrap();
                replaced.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !replaced.load(Ordering::SeqCst),
            "set_log_sink returned while a poll was inside the old sink"
        );
        gate.release();
        replacing.join().unwrap();
        assert!(replaced.load(Ordering::SeqCst));
        polling.join().unwrap().unwrap();
    });
}

#[test]
fn replacing_the_log_sink_from_inside_a_callback_is_busy() {
    let rt = Runtime::default();
    let seen: Arc<Mutex<Option<ErrorKind>>> = Arc::default();
    let (runtime, record) = (rt.clone(), seen.clone());
    rt.define(
        "test",
        "tick",
        "(i)",
        move |_: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| {
            let result = runtime.set_log_sink(|_: &str, _: LogLevel, _: &[u8]| {});
            *record.lock().unwrap() = result.err().map(|e| e.kind());
            Ok(())
        },
    )
    .unwrap();
    let program = rt
        .load(
            "p",
            br#"(module (import "test" "tick" (func $tick (param i32)))
                (func (export "poll") (call $tick (i32.const 0))))"#,
        )
        .unwrap();
    program.poll().unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(ErrorKind::Busy));
}

#[test]
fn callbacks_polling_each_others_programs_on_two_threads_get_busy() {
    within(60, || {
        let rt = Runtime::default();
        let programs: Arc<Mutex<Vec<Program>>> = Arc::default();
        let barrier = Arc::new(Barrier::new(2));
        let armed = Arc::new(AtomicBool::new(true));
        let seen: Arc<Mutex<Vec<(String, ErrorKind)>>> = Arc::default();
        let (list, meet, on, record) = (
            programs.clone(),
            barrier.clone(),
            armed.clone(),
            seen.clone(),
        );
        rt.define(
            "test",
            "poke",
            "()",
            move |call: &mut HostCall<'_>, _: &[Val], _: &mut [Val]| {
                if !on.load(Ordering::SeqCst) {
                    // Uncontended: `a`'s callback polls `b`, which succeeds.
                    if call.program_name() == "a" {
                        let b = list.lock().unwrap()[1].clone();
                        let result = b.poll().map_err(|e| e.kind());
                        record.lock().unwrap().push((
                            "a -> b".into(),
                            match result {
                                Ok(()) => ErrorKind::Internal,
                                Err(kind) => kind,
                            },
                        ));
                        return if result.is_ok() { Ok(()) } else { Err(1) };
                    }
                    return Ok(());
                }
                // Both programs are inside this callback before either pokes.
                meet.wait();
                let me = call.program_name().to_string();
                let other = list
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|p| p.name() != me)
                    .cloned()
                    .unwrap();
                let kind = match other.poll() {
                    Ok(()) => ErrorKind::Internal,
                    Err(e) => e.kind(),
                };
                record.lock().unwrap().push((me, kind));
                // Neither leaves its callback before both have tried.
                meet.wait();
                Ok(())
            },
        )
        .unwrap();
        let wat =
            br#"(module (import "test" "poke" (func $poke)) (func (export "poll") (call $poke)))"#;
        let a = rt.load("a", wat).unwrap();
        let b = rt.load("b", wat).unwrap();
        programs.lock().unwrap().extend([a.clone(), b.clone()]);
        let threads: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|p| std::thread::spawn(move || p.poll()))
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            seen,
            vec![
                ("a".to_string(), ErrorKind::Busy),
                ("b".to_string(), ErrorKind::Busy)
            ]
        );
        // Without contention, a callback may poll another program.
        armed.store(false, Ordering::SeqCst);
        a.poll().unwrap();
        assert_eq!(b.stats().polls, 2);
    });
}

mod stale_call_handles {
    use std::ffi::{c_char, c_void, CString};
    use std::sync::Mutex;
    use wasmcell::ffi::host::{wasmcell_call, wasmcell_call_program_name, wasmcell_val};
    use wasmcell::ffi::program::{wasmcell_program, wasmcell_program_load, wasmcell_program_poll};
    use wasmcell::ffi::runtime::{wasmcell_runtime, wasmcell_runtime_free, wasmcell_runtime_new};
    use wasmcell::ffi::status::{WASMCELL_ERR_INVALID_HANDLE, WASMCELL_OK};

    /// The handle of the first callback, and what using it later gave.
    static KEPT: Mutex<(usize, Vec<i32>)> = Mutex::new((0, Vec::new()));

    unsafe extern "C" fn keep_or_use(
        _: *mut c_void,
        call: *mut wasmcell_call,
        _: *const wasmcell_val,
        _: usize,
        _: *mut wasmcell_val,
        _: usize,
    ) -> i32 {
        let mut kept = KEPT.lock().unwrap();
        let mut name = [0 as c_char; 64];
        let mut len = 0usize;
        if kept.0 == 0 {
            kept.0 = call as usize;
        } else {
            // The same callback, most likely at the same stack address.
            let stale = kept.0 as *mut wasmcell_call;
            let status = wasmcell_call_program_name(stale, name.as_mut_ptr(), 64, &mut len);
            kept.1.push(status);
        }
        let status = wasmcell_call_program_name(call, name.as_mut_ptr(), 64, &mut len);
        kept.1.push(status);
        0
    }

    #[test]
    fn a_call_handle_kept_past_its_callback_is_invalid() {
        let mut rt: *mut wasmcell_runtime = std::ptr::null_mut();
        // SAFETY: every pointer passed is a live local or a NUL-terminated
        // CString; handles come from the calls themselves.
        unsafe {
            assert_eq!(wasmcell_runtime_new(&mut rt), WASMCELL_OK);
            let (module, name, sig) = (
                CString::new("test").unwrap(),
                CString::new("cb").unwrap(),
                CString::new("()").unwrap(),
            );
            assert_eq!(
                wasmcell::ffi::host::wasmcell_runtime_define(
                    rt,
                    module.as_ptr(),
                    name.as_ptr(),
                    sig.as_ptr(),
                    Some(keep_or_use),
                    std::ptr::null_mut(),
                    None
                ),
                WASMCELL_OK
            );
            let wat =
                br#"(module (import "test" "cb" (func $cb)) (func (export "poll") (call $cb)))"#;
            let mut program: *mut wasmcell_program = std::ptr::null_mut();
            let pname = CString::new("caller").unwrap();
            assert_eq!(
                wasmcell_program_load(rt, pname.as_ptr(), wat.as_ptr(), wat.len(), &mut program),
                WASMCELL_OK
            );
            assert_eq!(wasmcell_program_poll(program), WASMCELL_OK);
            assert_eq!(wasmcell_program_poll(program), WASMCELL_OK);
            assert_eq!(wasmcell_runtime_free(rt), WASMCELL_OK);
        }
        let kept = KEPT.lock().unwrap();
        assert_eq!(
            kept.1,
            vec![WASMCELL_OK, WASMCELL_ERR_INVALID_HANDLE, WASMCELL_OK]
        );
    }
}
