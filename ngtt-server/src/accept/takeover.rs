//! [`TakeoverLimiter`]: how often one device id may replace its own live connection.
//!
//! A device that reconnects replaces its previous connection; that is normal a few times a
//! minute. Two devices sharing one certificate replace each other as fast as they can connect
//! (hundreds of times a second, each time a storage round and a log line). Beyond
//! `per_minute` takeovers in a sliding minute, each further takeover of that id waits for the
//! next free turn, `spacing` after the previous one; a turn further than `max_wait` away is
//! refused outright. The first takeover delayed in a burst is reported once (a probable
//! shared certificate); the report is re-armed after a quiet minute.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The window the takeovers are counted over.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// What to do with a connection that would replace its device's live connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Takeover {
    /// Replace now.
    Proceed,
    /// Replace after waiting this long; `report`: first delay of this burst, log it at WARN.
    Delay {
        /// How long to wait.
        wait: Duration,
        /// Whether to report the probable shared certificate now.
        report: bool,
        /// Takeovers of this id in the last minute, this one included.
        recent: usize,
    },
    /// Too many already waiting: close this connection.
    Refuse,
}

#[derive(Debug)]
struct History {
    recent: VecDeque<Instant>,
    next_turn: Instant,
    reported: bool,
}

/// The takeover history of every device id replaced in the last minute.
#[derive(Debug)]
pub(crate) struct TakeoverLimiter {
    per_minute: usize,
    spacing: Duration,
    max_wait: Duration,
    devices: HashMap<String, History>,
    last_sweep: Option<Instant>,
}

impl TakeoverLimiter {
    /// `per_minute` free takeovers per id and sliding minute, then one per `spacing`, waiting
    /// at most `max_wait`.
    pub(crate) fn new(per_minute: usize, spacing: Duration, max_wait: Duration) -> TakeoverLimiter {
        TakeoverLimiter {
            per_minute,
            spacing,
            max_wait,
            devices: HashMap::new(),
            last_sweep: None,
        }
    }

    /// A new connection of `device` would replace its live connection at `now`.
    pub(crate) fn takeover(&mut self, device: &str, now: Instant) -> Takeover {
        self.sweep(now);
        let history = self.devices.entry(device.to_owned()).or_insert_with(|| History {
            recent: VecDeque::new(),
            next_turn: now,
            reported: false,
        });
        while history
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            history.recent.pop_front();
        }
        if history.recent.is_empty() && history.next_turn <= now {
            // A quiet minute: a later burst is reported again.
            history.reported = false;
        }
        if history.recent.len() < self.per_minute && history.next_turn <= now {
            history.recent.push_back(now);
            history.next_turn = now;
            return Takeover::Proceed;
        }
        let turn = history.next_turn.max(now) + self.spacing;
        let wait = turn - now;
        if wait > self.max_wait {
            return Takeover::Refuse;
        }
        history.next_turn = turn;
        history.recent.push_back(turn);
        let report = !history.reported;
        history.reported = true;
        Takeover::Delay {
            wait,
            report,
            recent: history.recent.len(),
        }
    }

    /// Device ids with a history now.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.devices.len()
    }

    /// Forgets ids quiet for a minute, at most once a minute.
    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < WINDOW)
        {
            return;
        }
        self.last_sweep = Some(now);
        self.devices.retain(|_, h| {
            h.next_turn > now
                || h.recent
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < WINDOW)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn limiter() -> TakeoverLimiter {
        TakeoverLimiter::new(3, 10 * S, 60 * S)
    }

    #[test]
    fn a_few_takeovers_a_minute_proceed() {
        let mut l = limiter();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(l.takeover("d", t0 + i * S), Takeover::Proceed);
        }
        // Another id is counted apart.
        assert_eq!(l.takeover("e", t0 + 3 * S), Takeover::Proceed);
    }

    #[test]
    fn a_storm_is_spaced_reported_once_and_finally_refused() {
        let mut l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.takeover("d", t0), Takeover::Proceed);
        }
        let first = l.takeover("d", t0);
        assert_eq!(
            first,
            Takeover::Delay {
                wait: 10 * S,
                report: true,
                recent: 4
            }
        );
        // Concurrent attempts queue behind each other, not in parallel, and are not reported.
        let second = l.takeover("d", t0);
        assert!(matches!(second, Takeover::Delay { wait, report: false, .. } if wait == 20 * S));
        for _ in 0..4 {
            assert!(matches!(
                l.takeover("d", t0),
                Takeover::Delay { report: false, .. }
            ));
        }
        // The queue is 60 s long now: the next is refused, and does not lengthen it.
        assert_eq!(l.takeover("d", t0), Takeover::Refuse);
        assert_eq!(l.takeover("d", t0), Takeover::Refuse);
    }

    #[test]
    fn a_quiet_minute_restores_free_takeovers_and_rearms_the_report() {
        let mut l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            l.takeover("d", t0);
        }
        assert!(matches!(
            l.takeover("d", t0),
            Takeover::Delay { report: true, .. }
        ));
        // The delayed one took its turn at t0 + 10 s; a minute after that all is forgotten.
        let later = t0 + 71 * S;
        assert_eq!(l.takeover("d", later), Takeover::Proceed);
        for _ in 0..2 {
            assert_eq!(l.takeover("d", later), Takeover::Proceed);
        }
        assert!(matches!(
            l.takeover("d", later),
            Takeover::Delay { report: true, .. }
        ));
    }

    #[test]
    fn quiet_ids_are_forgotten() {
        let mut l = limiter();
        let t0 = Instant::now();
        for i in 0..100 {
            l.takeover(&format!("d{i}"), t0);
        }
        assert_eq!(l.tracked(), 100);
        l.takeover("new", t0 + 61 * S);
        assert_eq!(l.tracked(), 1);
    }
}
