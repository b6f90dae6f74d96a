//! Hot swap: reload under concurrent polling, retained state across reloads
//! and resets, failed reloads, and the compiled-module cache.

mod common;

use common::{fixture, record_arg};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use wasmcell::{ErrorKind, HostCall, ProgramState, Runtime, Val};

/// What the retain_counter fixtures report.
struct Reports {
    tick: Arc<AtomicI64>,
    version: Arc<AtomicI64>,
    started: Mutex<Vec<(i32, i32)>>,
}

fn runtime() -> (Runtime, Arc<Reports>) {
    let rt = Runtime::default();
    let reports = Arc::new(Reports {
        tick: record_arg(&rt, "test", "tick", "(i)"),
        version: record_arg(&rt, "test", "version", "(i)"),
        started: Mutex::new(Vec::new()),
    });
    let r = reports.clone();
    rt.define(
        "test",
        "started",
        "(ii)",
        move |_: &mut HostCall<'_>, args: &[Val], _: &mut [Val]| {
            if let (Val::I32(kind), Val::I32(restored)) = (args[0], args[1]) {
                r.started.lock().unwrap().push((kind, restored));
            }
            Ok(())
        },
    )
    .unwrap();
    (rt, reports)
}

#[test]
fn a_retained_counter_survives_1000_reloads_with_two_compiles() {
    let (rt, reports) = runtime();
    let versions = [
        fixture("retain_counter_v1.wat"),
        fixture("retain_counter_v2.wat"),
    ];
    let program = rt.load("counter", &versions[0]).unwrap();
    for swap in 0..1000 {
        program.poll().unwrap();
        assert_eq!(reports.tick.load(Ordering::SeqCst), swap + 1);
        program.reload(&versions[(swap as usize + 1) % 2]).unwrap();
        assert_eq!(
            program.notice(),
            "retain area carried over (8 bytes, layout id 1)"
        );
    }
    program.poll().unwrap();
    assert_eq!(reports.tick.load(Ordering::SeqCst), 1001);
    assert_eq!(reports.version.load(Ordering::SeqCst), 1);
    let stats = rt.cache_stats();
    assert_eq!(stats.compiles, 2, "each version compiled once: {stats:?}");
    assert_eq!(stats.memory_hits, 999);
    let started = reports.started.lock().unwrap();
    assert_eq!(started[0], (0, 0), "cold load, nothing restored");
    assert!(
        started[1..].iter().all(|s| *s == (2, 1)),
        "reloads with the retain area restored"
    );
}

#[test]
fn reset_keeps_the_retain_area_and_says_so() {
    let (rt, reports) = runtime();
    let program = rt
        .load("counter", &fixture("retain_counter_v1.wat"))
        .unwrap();
    for _ in 0..5 {
        program.poll().unwrap();
    }
    program.reset().unwrap();
    program.poll().unwrap();
    assert_eq!(reports.tick.load(Ordering::SeqCst), 6);
    assert_eq!(reports.started.lock().unwrap().last(), Some(&(1, 1)));
}

#[test]
fn a_different_retain_layout_starts_from_defaults_and_tells_why() {
    let (rt, reports) = runtime();
    let program = rt
        .load("counter", &fixture("retain_counter_v1.wat"))
        .unwrap();
    for _ in 0..5 {
        program.poll().unwrap();
    }
    program.reload(&fixture("retain_counter_v3.wat")).unwrap();
    assert!(
        program.notice().contains("not carried over"),
        "{}",
        program.notice()
    );
    assert!(
        program.notice().contains("layout id 2"),
        "{}",
        program.notice()
    );
    program.poll().unwrap();
    assert_eq!(reports.tick.load(Ordering::SeqCst), 1);
    assert_eq!(reports.started.lock().unwrap().last(), Some(&(2, 0)));
}

#[test]
fn a_failed_reload_keeps_the_old_version_running() {
    let (rt, reports) = runtime();
    let program = rt
        .load("counter", &fixture("retain_counter_v1.wat"))
        .unwrap();
    program.poll().unwrap();
    for (bytes, kind) in [
        (b"garbage".to_vec(), ErrorKind::Compile),
        (fixture("missing_import.wat"), ErrorKind::Link),
        (fixture("init_trap.wat"), ErrorKind::Instantiate),
    ] {
        let err = program.reload(&bytes).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(
            err.message().contains("previous version keeps running"),
            "{err}"
        );
        program.poll().unwrap();
    }
    assert_eq!(reports.tick.load(Ordering::SeqCst), 4);
    assert_eq!(program.state(), ProgramState::Ready);
}

#[test]
fn prepare_and_commit_are_separate_steps() {
    let (rt, reports) = runtime();
    let a = rt.load("a", &fixture("retain_counter_v1.wat")).unwrap();
    let b = rt.load("b", &fixture("retain_counter_v1.wat")).unwrap();
    let prepared = a.prepare_reload(&fixture("retain_counter_v2.wat")).unwrap();
    a.poll().unwrap();
    assert_eq!(
        reports.version.load(Ordering::SeqCst),
        1,
        "not swapped before commit"
    );
    let err = b.commit_reload(prepared).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let prepared = a.prepare_reload(&fixture("retain_counter_v2.wat")).unwrap();
    a.commit_reload(prepared).unwrap();
    a.poll().unwrap();
    assert_eq!(reports.version.load(Ordering::SeqCst), 2);
    assert_eq!(reports.tick.load(Ordering::SeqCst), 2);
    drop(a.prepare_reload(&fixture("retain_counter_v1.wat")).unwrap()); // discarded
    a.poll().unwrap();
    assert_eq!(reports.version.load(Ordering::SeqCst), 2);
}

#[test]
fn reload_under_concurrent_polling_never_breaks_a_poll() {
    let (rt, reports) = runtime();
    let versions = [
        fixture("retain_counter_v1.wat"),
        fixture("retain_counter_v2.wat"),
    ];
    let program = rt.load("counter", &versions[0]).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let (program, done, reports) = (program.clone(), done.clone(), reports.clone());
        std::thread::spawn(move || {
            let mut expected = 0;
            while !done.load(Ordering::SeqCst) {
                program.poll().expect("every poll succeeds during swaps");
                expected += 1;
                assert_eq!(
                    reports.tick.load(Ordering::SeqCst),
                    expected,
                    "the counter never skips or repeats"
                );
            }
            expected
        })
    };
    for swap in 0..2000 {
        program.reload(&versions[(swap + 1) % 2]).unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let polls = poller.join().unwrap();
    assert!(polls > 0);
    assert_eq!(program.stats().faults, 0);
}

#[test]
fn the_disk_cache_skips_compiles_and_rejects_corrupted_files() {
    let dir = std::env::temp_dir().join(format!("wasmcell-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bytes = fixture("hello.wat");

    let first = Runtime::default();
    first.set_cache_dir(Some(dir.clone())).unwrap();
    first.load("hello", &bytes).unwrap().poll().unwrap();
    assert_eq!(first.cache_stats().compiles, 1);
    first.load("again", &bytes).unwrap();
    assert_eq!(first.cache_stats().memory_hits, 1);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");

    let second = Runtime::default();
    second.set_cache_dir(Some(dir.clone())).unwrap();
    second.load("hello", &bytes).unwrap().poll().unwrap();
    let stats = second.cache_stats();
    assert_eq!((stats.compiles, stats.disk_hits), (0, 1), "{stats:?}");

    // Flip one byte of the stored artifact: the digest no longer matches.
    let mut contents = std::fs::read(&files[0]).unwrap();
    let last = contents.len() - 1;
    contents[last] ^= 0xff;
    std::fs::write(&files[0], &contents).unwrap();
    let third = Runtime::default();
    third.set_cache_dir(Some(dir.clone())).unwrap();
    third.load("hello", &bytes).unwrap().poll().unwrap();
    let stats = third.cache_stats();
    assert_eq!(
        (stats.compiles, stats.disk_hits, stats.rejected_files),
        (1, 0, 1),
        "{stats:?}"
    );

    // A foreign file (another format entirely) is rejected the same way.
    std::fs::write(&files[0], b"not a wasmcell artifact").unwrap();
    let fourth = Runtime::default();
    fourth.set_cache_dir(Some(dir.clone())).unwrap();
    fourth.load("hello", &bytes).unwrap().poll().unwrap();
    assert_eq!(fourth.cache_stats().rejected_files, 1);
    // ... and replaced by a good one.
    let fifth = Runtime::default();
    fifth.set_cache_dir(Some(dir.clone())).unwrap();
    fifth.load("hello", &bytes).unwrap();
    assert_eq!(fifth.cache_stats().disk_hits, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn different_budgets_are_different_cache_entries() {
    let rt = Runtime::default();
    let bytes = fixture("hello.wat");
    rt.load("a", &bytes).unwrap();
    let mut limits = rt.default_limits();
    limits.fuel_per_poll = 1234;
    rt.set_default_limits(limits).unwrap();
    rt.load("b", &bytes).unwrap();
    assert_eq!(rt.cache_stats().compiles, 2);
}

/// Not on Windows: FIFOs, symlinks to /dev/zero and `mkfifo` are Unix things.
#[cfg(windows)]
#[test]
#[ignore = "skipped on Windows: needs mkfifo and a symlink to /dev/zero (Unix only)"]
fn the_disk_cache_refuses_fifos_and_symlinks_without_blocking() {}

#[cfg(unix)]
#[test]
fn the_disk_cache_refuses_fifos_and_symlinks_without_blocking() {
    let dir = std::env::temp_dir().join(format!("wasmcell-cache-hygiene-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bytes = fixture("hello.wat");
    let first = Runtime::default();
    first.set_cache_dir(Some(dir.clone())).unwrap();
    first.load("hello", &bytes).unwrap();
    let artifact = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    // A FIFO named like the artifact: opening it for reading would block
    // forever; a symlink to /dev/zero would read until memory runs out.
    let fifo = std::ffi::CString::new(artifact.to_str().unwrap()).unwrap();
    std::fs::remove_file(&artifact).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let (done, finished) = std::sync::mpsc::channel();
    let (dir2, bytes2) = (dir.clone(), bytes.clone());
    std::thread::spawn(move || {
        let rt = Runtime::default();
        rt.set_cache_dir(Some(dir2)).unwrap();
        rt.load("hello", &bytes2).unwrap();
        let _ = done.send(rt.cache_stats());
    });
    let stats = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a FIFO in the cache directory blocked the load");
    assert_eq!((stats.compiles, stats.rejected_files), (1, 1), "{stats:?}");
    // The recompiled artifact replaced the FIFO with a regular file.
    assert!(std::fs::symlink_metadata(&artifact).unwrap().is_file());

    std::fs::remove_file(&artifact).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &artifact).unwrap();
    let rt = Runtime::default();
    rt.set_cache_dir(Some(dir.clone())).unwrap();
    rt.load("hello", &bytes).unwrap().poll().unwrap();
    let stats = rt.cache_stats();
    assert_eq!((stats.compiles, stats.rejected_files), (1, 1), "{stats:?}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retain_signals_are_carried_by_name_and_type_across_a_new_layout() {
    use wasmcell::SignalValue;
    let (rt, _) = runtime();
    let program = rt.load("p", &fixture("retain_by_name_a.wat")).unwrap();
    program.poll().unwrap();
    let prepared = program
        .prepare_reload(&fixture("retain_by_name_b.wat"))
        .unwrap();
    let plan = prepared.retain_plan().unwrap();
    assert_eq!(
        (plan.kept, plan.added, plan.dropped, plan.retyped),
        (2, 1, 1, 1)
    );
    assert_eq!(
        plan.report(),
        "total f64: kept\nbig i64: kept\ncount f64: retyped from u32, starts from its default\n\
         fresh u32: added, starts from its default\ngone u8: dropped\n"
    );
    program.commit_reload(prepared).unwrap();
    let value = |name: &str| program.get_signal(program.signal(name).unwrap().0).unwrap();
    assert_eq!(value("total"), SignalValue::Float(-f64::MAX));
    assert_eq!(value("big"), SignalValue::Int(i64::MIN as i128));
    assert_eq!(value("count"), SignalValue::Float(2.5));
    assert_eq!(value("fresh"), SignalValue::Int(77));
    let notice = program.notice();
    assert!(
        notice.starts_with("retain area not carried over: the new version declares 32 bytes with layout id 2, the old one 24 bytes with layout id 1; retain signals matched by name: 2 kept, 1 added, 1 dropped, 1 retyped\n"),
        "{notice}"
    );
    assert!(notice.ends_with("gone u8: dropped"), "{notice}");
}
