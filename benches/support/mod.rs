//! Timing helper shared by the benchmarks.

use std::time::{Duration, Instant};

/// Best time of `rounds` rounds of `f` (after one warm-up round), divided by
/// the `per_round` operations each round performs. The minimum is the figure
/// least disturbed by a noisy machine.
pub fn best(rounds: usize, per_round: u64, mut f: impl FnMut()) -> Duration {
    f();
    (0..rounds)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed() / per_round as u32
        })
        .min()
        .unwrap()
}
