//! Traps raised where the wasm stack is almost used up.
//!
//! `unreachable` and out-of-bounds table and bulk-memory operations are
//! raised by wasmer library calls that run on the guest's own stack. With an
//! unpatched wasmer-vm 7.4.2 such a trap captured a backtrace right there; a
//! guest that recursed to within a few KiB of the end made the unwinder
//! overflow the stack while it held libgcc's unwinder lock, and every later
//! trap of the process blocked forever (found by the module fuzzer, seed
//! 500094745; third_party/wasmer-vm-7.4.2/WASMCELL-PATCH.md). These tests
//! drive every such trap at every depth near the end of the stack and prove,
//! after each one, that a trap elsewhere still returns.

mod common;

use common::fixture;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use wasmcell::{FaultKind, HostCall, Limits, Program, Runtime, Val};

const KINDS: [(i32, FaultKind); 4] = [
    (1, FaultKind::Unreachable),
    (2, FaultKind::MemoryOutOfBounds),
    (3, FaultKind::MemoryOutOfBounds),
    (4, FaultKind::IndirectCallNull),
];

/// Depths scanned below the deepest recursion that still returns.
const SCAN: i32 = 1500;

struct Edge {
    _rt: Runtime,
    deep: Program,
    sentinel: Program,
    depth: Arc<AtomicI32>,
    kind: Arc<AtomicI32>,
}

impl Edge {
    fn new(stack_bytes: u64) -> Self {
        let rt = Runtime::default();
        let depth = Arc::new(AtomicI32::new(0));
        let kind = Arc::new(AtomicI32::new(0));
        for (name, cell) in [("depth", depth.clone()), ("kind", kind.clone())] {
            rt.define(
                "test",
                name,
                "()i",
                move |_: &mut HostCall<'_>, _: &[Val], results: &mut [Val]| {
                    results[0] = Val::I32(cell.load(Ordering::Relaxed));
                    Ok(())
                },
            )
            .unwrap();
        }
        let limits = Limits {
            stack_bytes,
            ..rt.default_limits()
        };
        rt.set_default_limits(limits).unwrap();
        let deep = rt.load("deep", &fixture("trap_at_depth.wat")).unwrap();
        deep.set_fuel(u64::MAX / 4).unwrap();
        let sentinel = rt.load("sentinel", &fixture("unreachable.wat")).unwrap();
        Edge {
            _rt: rt,
            deep,
            sentinel,
            depth,
            kind,
        }
    }

    /// Polls `deep` once at `depth` with trap `kind` (after a reset if the
    /// last poll faulted); the fault kind, or None when the poll returned.
    fn poll(&self, depth: i32, kind: i32) -> Option<FaultKind> {
        if self.deep.fault().is_some() {
            self.deep.reset().unwrap();
        }
        self.depth.store(depth, Ordering::Relaxed);
        self.kind.store(kind, Ordering::Relaxed);
        match self.deep.poll() {
            Ok(()) => None,
            Err(_) => Some(self.deep.fault_kind()),
        }
    }

    /// The deepest recursion that returns normally (binary search between a
    /// depth that returns and one that overflows the stack).
    fn deepest_returning(&self) -> i32 {
        let (mut ok, mut overflow) = (0, 1 << 10);
        while self.poll(overflow, 0).is_none() {
            ok = overflow;
            overflow *= 2;
            assert!(overflow < 1 << 26, "the recursion never overflowed");
        }
        assert_eq!(self.poll(overflow, 0), Some(FaultKind::StackOverflow));
        while overflow - ok > 1 {
            let mid = ok + (overflow - ok) / 2;
            match self.poll(mid, 0) {
                None => ok = mid,
                Some(kind) => {
                    assert_eq!(kind, FaultKind::StackOverflow);
                    overflow = mid
                }
            }
        }
        ok
    }

    /// Every trap kind at every depth from `deepest - SCAN` to a little past
    /// `deepest`; after each, the sentinel's own trap must still return.
    fn scan(&self) -> (usize, usize) {
        let deepest = self.deepest_returning();
        let (mut as_raised, mut as_overflow) = (0, 0);
        for depth in (deepest - SCAN).max(0)..=deepest + 8 {
            for (kind, expected) in KINDS {
                match self.poll(depth, kind) {
                    Some(FaultKind::StackOverflow) => as_overflow += 1,
                    Some(got) => {
                        assert_eq!(got, expected, "trap {kind} at depth {depth} of {deepest}");
                        as_raised += 1;
                    }
                    None => panic!("trap {kind} at depth {depth} of {deepest} did not fault"),
                }
                self.sentinel.reset().unwrap();
                assert!(self.sentinel.poll().is_err());
                assert_eq!(self.sentinel.fault_kind(), FaultKind::Unreachable);
            }
        }
        (as_raised, as_overflow)
    }
}

/// Runs `scan` on its own thread: a wedged host fails the test after a
/// timeout instead of hanging the suite.
fn scan_without_wedging(stack_bytes: u64) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let edge = Edge::new(stack_bytes);
        let counts = edge.scan();
        done.send(counts).unwrap();
    });
    match finished.recv_timeout(Duration::from_secs(120)) {
        Ok((as_raised, as_overflow)) => {
            eprintln!(
                "{stack_bytes}-byte stack: {as_raised} traps raised, {as_overflow} stack overflows"
            );
            // Most depths raise the trap itself; the depths past the deepest
            // that returns overflow first, so the scan did reach the edge.
            assert!(
                as_raised > 8 * as_overflow,
                "{as_raised} raised, {as_overflow} overflowed"
            );
            assert!(as_overflow >= KINDS.len() * 8, "{as_overflow} overflowed");
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // A wedged unwinder also blocks the panic machinery (it takes the
            // same locks to print a backtrace): report and leave at once.
            eprintln!(
                "FAILED: the host is wedged: a trap near the end of a {stack_bytes}-byte wasm stack never returned"
            );
            std::process::exit(1);
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            panic!("the scan failed (see its panic above)")
        }
    }
}

#[test]
#[cfg_attr(
    windows,
    ignore = "open on Windows (seen under Wine): after stack overflows near a library trap the process cannot exit; docs/reliability.md"
)]
fn traps_near_the_end_of_a_64_kib_stack_never_wedge_the_host() {
    scan_without_wedging(64 * 1024);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "open on Windows (seen under Wine): after stack overflows near a library trap the process cannot exit; docs/reliability.md"
)]
fn traps_near_the_end_of_the_default_stack_never_wedge_the_host() {
    scan_without_wedging(Limits::default().stack_bytes);
}
