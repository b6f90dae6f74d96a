//! The monotonic clock guests read through `wasmcell.now_ns`. Hosts replace
//! it to run programs against simulated or machine time.

use once_cell::sync::Lazy;
use std::time::Instant;

/// A source of monotonic nanoseconds. Must never go backwards.
pub trait Clock: Send + Sync + 'static {
    fn now_ns(&self) -> i64;
}

impl<F> Clock for F
where
    F: Fn() -> i64 + Send + Sync + 'static,
{
    fn now_ns(&self) -> i64 {
        self()
    }
}

static PROCESS_START: Lazy<Instant> = Lazy::new(Instant::now);
/// Wall time (ns since the UNIX epoch) when [`PROCESS_START`] was taken.
static WALL_AT_START: Lazy<u64> = Lazy::new(|| {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    wall.saturating_sub(PROCESS_START.elapsed().as_nanos() as u64)
});

/// The wall time at the clock's origin: WASI's REALTIME clock is this plus
/// the runtime's clock, so a replaced clock moves the guest's wall time too.
pub(crate) fn wall_ns_at_start() -> u64 {
    *WALL_AT_START
}

/// The default clock: nanoseconds since the library was first used in this
/// process (`CLOCK_MONOTONIC` underneath).
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now_ns(&self) -> i64 {
        PROCESS_START.elapsed().as_nanos() as i64
    }
}
