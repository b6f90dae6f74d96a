//! The watchdog: stops a poll that runs too long, while it runs.
//!
//! A program with a watchdog arms its slot before each call into the guest
//! (the deadline and where its budget counter lives) and disarms it after.
//! One process-wide thread wakes every quarter of the shortest watched
//! limit and, for an armed slot past its deadline, raises the instance's
//! stop floor (a global the budget checks compare the counter with): the
//! guest stops at its next loop header or function entry, as when its
//! budget runs out, and the poll is reported as a watchdog fault. The checks
//! compare with a loaded floor instead of the constant 0 (one more L1 load
//! per check, whether or not a watchdog is set); a poll with a watchdog pays
//! for arming and disarming (two atomic stores and a load). A host callback that blocks cannot be
//! interrupted: the guest stops when the callback returns, and the time is
//! counted.

use once_cell::sync::Lazy;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// One program's watch: read by the watchdog thread, written by the poller.
#[derive(Default)]
pub(crate) struct WatchSlot {
    /// Nanoseconds since [`EPOCH`] after which the running call is stopped;
    /// 0 when no call is running.
    deadline: AtomicU64,
    /// The running instance's stop floor (see `budget::FLOOR_GLOBAL_EXPORT`).
    floor: AtomicPtr<i64>,
    /// Set by the watchdog thread while it may write through `fuel`.
    writing: AtomicBool,
    /// Whether the watchdog stopped the current call.
    fired: AtomicBool,
    /// The stop limit (`time * sensitivity`), for the thread's wake-up period.
    limit_ns: AtomicU64,
}

static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);
static WATCHED: Lazy<Mutex<Vec<Weak<WatchSlot>>>> = Lazy::new(|| Mutex::new(Vec::new()));
static STARTED: std::sync::Once = std::sync::Once::new();

fn now_ns() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

impl WatchSlot {
    /// A slot watched by the watchdog thread (started on first use).
    pub(crate) fn watched(limit_ns: u64) -> Arc<Self> {
        let slot = Arc::new(Self::default());
        slot.limit_ns.store(limit_ns, Ordering::Relaxed);
        {
            let mut watched = WATCHED.lock();
            watched.retain(|slot| slot.strong_count() > 0);
            watched.push(Arc::downgrade(&slot));
        }
        STARTED.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("wasmcell-watchdog".into())
                .spawn(watch);
        });
        slot
    }

    pub(crate) fn set_limit(&self, limit_ns: u64) {
        self.limit_ns.store(limit_ns, Ordering::Relaxed);
    }

    /// Arms the slot for a call into the guest whose stop floor is `floor`.
    pub(crate) fn arm(&self, floor: *mut i64) {
        self.fired.store(false, Ordering::Relaxed);
        self.floor.store(floor, Ordering::Relaxed);
        let limit = self.limit_ns.load(Ordering::Relaxed);
        self.deadline
            .store(now_ns().saturating_add(limit).max(1), Ordering::SeqCst);
    }

    /// Disarms the slot; returns whether the watchdog stopped the call.
    /// After it returns the watchdog thread no longer touches the counter.
    pub(crate) fn disarm(&self) -> bool {
        self.deadline.store(0, Ordering::SeqCst);
        // The thread may have read the deadline just before: wait until it
        // is done writing (a few instructions).
        while self.writing.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        self.fired.load(Ordering::Relaxed)
    }

    /// Called by the watchdog thread: stops the call if it is past its deadline.
    fn check(&self, now: u64) {
        self.writing.store(true, Ordering::SeqCst);
        let deadline = self.deadline.load(Ordering::SeqCst);
        if deadline != 0 && now > deadline {
            let floor = self.floor.load(Ordering::Relaxed);
            if !floor.is_null() {
                self.fired.store(true, Ordering::Relaxed);
                // SAFETY: the slot is armed (deadline != 0 seen after
                // `writing` was set), so the instance owning the floor is
                // inside a call and cannot be dropped before `disarm`, which
                // waits for `writing` to clear. The floor is an aligned i64
                // the guest only reads.
                unsafe { AtomicI64::from_ptr(floor) }.store(i64::MAX, Ordering::SeqCst);
            }
        }
        self.writing.store(false, Ordering::SeqCst);
    }
}

impl crate::host::CallWatch for WatchSlot {
    fn arm(&self, floor: *mut i64) {
        WatchSlot::arm(self, floor)
    }

    fn disarm(&self) -> bool {
        WatchSlot::disarm(self)
    }

    fn limit_ns(&self) -> u64 {
        self.limit_ns.load(Ordering::Relaxed)
    }
}

/// The watchdog thread: checks every armed slot every quarter of the
/// shortest limit (at least every 50 us, at most every 10 ms).
fn watch() {
    loop {
        let slots: Vec<Arc<WatchSlot>> = WATCHED.lock().iter().filter_map(Weak::upgrade).collect();
        let shortest = slots
            .iter()
            .map(|slot| slot.limit_ns.load(Ordering::Relaxed))
            .filter(|&limit| limit > 0)
            .min()
            .unwrap_or(40_000_000);
        let now = now_ns();
        for slot in &slots {
            slot.check(now);
        }
        drop(slots);
        std::thread::sleep(Duration::from_nanos(
            (shortest / 4).clamp(50_000, 10_000_000),
        ));
    }
}
