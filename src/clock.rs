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

/// The default clock: nanoseconds since the library was first used in this
/// process (`CLOCK_MONOTONIC` underneath).
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now_ns(&self) -> i64 {
        PROCESS_START.elapsed().as_nanos() as i64
    }
}
