//! [`Periodic`]: when a periodic sync is due — measured from the client's own start (not the
//! host's boot, HTTP-API.md §4), jittered so that a fleet does not sync in lock-step, retried
//! sooner after a failure. Pure: the caller passes the time since start and the random draw.

use std::time::Duration;

/// A periodic task's timetable.
#[derive(Clone, Debug, PartialEq)]
pub struct Periodic {
    period: Duration,
    jitter: f64,
    next: Duration,
}

impl Periodic {
    /// Due at once (at `elapsed` zero), then every `period`, each interval shortened by up to
    /// `jitter` (0.0..=1.0) of itself.
    pub fn new(period: Duration, jitter: f64) -> Self {
        Periodic {
            period,
            jitter: jitter.clamp(0.0, 1.0),
            next: Duration::ZERO,
        }
    }

    /// Whether the task is due `elapsed` after the start.
    pub fn is_due(&self, elapsed: Duration) -> bool {
        elapsed >= self.next
    }

    /// How long from `elapsed` until it is due (zero when due).
    pub fn wait(&self, elapsed: Duration) -> Duration {
        self.next.saturating_sub(elapsed)
    }

    /// The task succeeded at `elapsed`; `draw` (0.0..1.0) picks the jitter.
    pub fn done(&mut self, elapsed: Duration, draw: f64) {
        let interval = self.period.mul_f64(1.0 - self.jitter * draw.clamp(0.0, 1.0));
        self.next = elapsed + interval;
    }

    /// The task failed at `elapsed`: due again after `backoff`, but never later than a period.
    pub fn failed(&mut self, elapsed: Duration, backoff: Duration) {
        self.next = elapsed + backoff.min(self.period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn timetable() {
        let mut p = Periodic::new(S(300), 0.1);
        assert!(p.is_due(S(0)), "the first sync is at the client's start");
        p.done(S(0), 0.0);
        assert!(!p.is_due(S(299)) && p.is_due(S(300)));
        p.done(S(300), 1.0);
        assert_eq!(p.wait(S(300)), S(270), "at most 10 % earlier");
        p.failed(S(400), S(2));
        assert!(p.is_due(S(402)));
        p.failed(S(400), S(1000));
        assert_eq!(
            p.wait(S(400)),
            S(300),
            "a failure never waits longer than a period"
        );
    }
}
