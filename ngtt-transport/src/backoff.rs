//! [`Backoff`]: reconnect delays with exponential growth, a cap, jitter and a reset rule
//! (NGTT.md §4.7). Pure: the caller passes the time in.

use std::time::{Duration, Instant};

use crate::config::BackoffConfig;
use crate::rng::SplitMix64;

/// Reconnect delays: `initial · 2ⁿ` after the n-th consecutive failure (n from 0), capped at
/// `max`, minus a random part of up to `jitter` of the delay. A connection that stayed up for
/// `reset_after` or longer starts the sequence over when it drops; one that dropped sooner
/// does not, so a server that accepts and immediately drops connections is still backed off.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    failures: u32,
    rng: SplitMix64,
    connected_at: Option<Instant>,
}

impl Backoff {
    /// A backoff with no failure yet, its jitter seeded from `config.seed` (or randomly).
    pub fn new(config: BackoffConfig) -> Self {
        let rng = config.seed.map_or_else(SplitMix64::from_entropy, SplitMix64::new);
        Backoff {
            config,
            failures: 0,
            rng,
            connected_at: None,
        }
    }

    /// Consecutive failures counted so far (connect failures and early drops).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The delay before retry number `failures + 1` without jitter: `initial · 2^failures`,
    /// at most `max`.
    pub fn nominal(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
        self.config
            .initial
            .checked_mul(factor)
            .unwrap_or(self.config.max)
            .min(self.config.max)
    }

    /// Records one more failure and returns how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.nominal(self.failures);
        self.failures = self.failures.saturating_add(1);
        let jitter = self.config.jitter.clamp(0.0, 1.0);
        nominal.mul_f64(1.0 - jitter * self.rng.next_f64())
    }

    /// [`Backoff::next_delay`] as a deadline from `now`.
    pub fn next_deadline(&mut self, now: Instant) -> Instant {
        now + self.next_delay()
    }

    /// A connection was established at `now`.
    pub fn connected(&mut self, now: Instant) {
        self.connected_at = Some(now);
    }

    /// The connection established by [`Backoff::connected`] dropped at `now`: the delays start
    /// over if it had been up for at least `reset_after`.
    pub fn disconnected(&mut self, now: Instant) {
        if let Some(at) = self.connected_at.take() {
            if now.saturating_duration_since(at) >= self.config.reset_after {
                self.failures = 0;
            }
        }
    }

    /// Starts the delays over.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.connected_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(jitter: f64, seed: u64) -> BackoffConfig {
        BackoffConfig {
            jitter,
            seed: Some(seed),
            ..BackoffConfig::default()
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn doubles_up_to_the_cap_without_jitter() {
        let mut b = Backoff::new(config(0.0, 1));
        let delays: Vec<u64> = (0..9).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.failures(), 9);
        // Far past the point where 2^n overflows.
        for _ in 0..100 {
            assert_eq!(b.next_delay(), secs(60));
        }
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let mut b = Backoff::new(config(0.25, 42));
        let mut seen = Vec::new();
        for n in 0..12 {
            let nominal = b.nominal(n);
            let d = b.next_delay();
            assert!(d <= nominal && d >= nominal.mul_f64(0.75), "{d:?} vs {nominal:?}");
            seen.push(d);
        }
        seen.dedup();
        assert!(seen.len() > 6, "delays should differ: {seen:?}");
    }

    #[test]
    fn same_seed_same_delays_other_seed_other_delays() {
        let run = |seed| {
            let mut b = Backoff::new(config(0.5, seed));
            (0..5).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn resets_only_after_a_long_enough_connection() {
        let t0 = Instant::now();
        let mut b = Backoff::new(config(0.0, 1));
        b.next_delay();
        b.next_delay();
        assert_eq!(b.failures(), 2);
        // Up for 5 s (less than reset_after = 30 s): the next delay keeps growing.
        b.connected(t0);
        b.disconnected(t0 + secs(5));
        assert_eq!(b.next_delay(), secs(4));
        // Up for 30 s: the delays start over.
        b.connected(t0 + secs(10));
        b.disconnected(t0 + secs(40));
        assert_eq!(b.failures(), 0);
        assert_eq!(b.next_deadline(t0), t0 + secs(1));
        // A drop without a connection is ignored; reset() starts over.
        b.disconnected(t0 + secs(1000));
        assert_eq!(b.failures(), 1);
        b.reset();
        assert_eq!(b.failures(), 0);
    }

    #[test]
    fn tiny_and_huge_settings() {
        let mut b = Backoff::new(BackoffConfig {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(25),
            jitter: 7.0, // clamped to 1.0
            seed: Some(3),
            ..BackoffConfig::default()
        });
        for _ in 0..50 {
            assert!(b.next_delay() <= Duration::from_millis(25));
        }
        let b = Backoff::new(BackoffConfig {
            initial: Duration::MAX,
            ..BackoffConfig::default()
        });
        assert_eq!(b.nominal(3), secs(60));
    }
}
