//! [`Reports`]: macro runs waiting to be reported to the server, and when to report them.
//!
//! A run is reported (`POST /v1/device/macros/{id}/{ts}`, one request per occurrence: the API
//! has no batch) after its writes and its record in the store. Reports are coalesced: while
//! another occurrence is due within [`COALESCE`] of the oldest waiting report, they wait for
//! that occurrence's wake-up and go out together after it — one burst on the kept-alive
//! connection instead of a wake-up and a request after every run. A run with no other one
//! close behind it is reported at once, so a device whose macros run hourly reports each
//! straight away, and one running a macro every few seconds reports at most [`COALESCE`] late.
//! A failed burst is retried after a backoff. Pure: the caller passes the time (epoch seconds).

use std::collections::VecDeque;

/// How long a report may wait for the next occurrence's wake-up, seconds.
pub const COALESCE: f64 = 60.0;

/// A run waiting to be reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    /// The macro.
    pub macro_id: String,
    /// The occurrence, epoch seconds.
    pub timestamp: f64,
    /// When it was queued, epoch seconds.
    pub since: f64,
}

/// The runs not yet reported, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reports {
    waiting: VecDeque<Waiting>,
    retry_at: Option<f64>,
}

impl Reports {
    /// Queues the report of the occurrence `timestamp` of `macro_id`, at `now`; a report
    /// already queued is not queued twice.
    pub fn push(&mut self, macro_id: &str, timestamp: f64, now: f64) {
        let queued = self
            .waiting
            .iter()
            .any(|w| w.macro_id == macro_id && w.timestamp.to_bits() == timestamp.to_bits());
        if !queued {
            self.waiting.push_back(Waiting {
                macro_id: macro_id.to_owned(),
                timestamp,
                since: now,
            });
        }
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The waiting reports, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Waiting> {
        self.waiting.iter()
    }

    /// The oldest report, if any.
    pub fn first(&self) -> Option<&Waiting> {
        self.waiting.front()
    }

    /// Whether to send the waiting reports at `now`, the next occurrence being due at
    /// `next_due`: not while a failed burst backs off, nor while that occurrence comes within
    /// [`COALESCE`] of the oldest report (its wake-up will carry them).
    pub fn send_now(&self, now: f64, next_due: Option<f64>) -> bool {
        let Some(oldest) = self.waiting.front() else {
            return false;
        };
        if self.retry_at.is_some_and(|at| at > now) {
            return false;
        }
        !next_due.is_some_and(|next| next > now && next <= oldest.since + COALESCE)
    }

    /// When the task must wake for the reports, if it would not wake for the next occurrence
    /// anyway: the end of a backoff; `now` when [`send_now`](Self::send_now) holds.
    pub fn wake_at(&self, now: f64, next_due: Option<f64>) -> Option<f64> {
        if self.waiting.is_empty() {
            return None;
        }
        match self.retry_at {
            Some(at) if at > now => Some(at),
            _ if self.send_now(now, next_due) => Some(now),
            _ => None,
        }
    }

    /// The oldest report was delivered (or refused for good).
    pub fn delivered(&mut self) {
        self.waiting.pop_front();
        self.retry_at = None;
    }

    /// The oldest report could not be delivered at `now`: the burst stops, retried after
    /// `backoff` seconds.
    pub fn failed(&mut self, now: f64, backoff: f64) {
        self.retry_at = Some(now + backoff.max(0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_run_is_reported_at_once() {
        let mut r = Reports::default();
        assert!(!r.send_now(100.0, None));
        r.push("m1", 100.0, 100.0);
        assert!(r.send_now(100.0, None), "nothing else due");
        assert!(r.send_now(100.0, Some(3700.0)), "the next one an hour away");
        assert_eq!(r.wake_at(100.0, Some(3700.0)), Some(100.0));
    }

    #[test]
    fn runs_close_together_are_reported_together() {
        let mut r = Reports::default();
        // A macro every 6 s from 0: reports wait for the next run while it is within 60 s
        // of the oldest report, so each burst carries eleven, none older than 60 s.
        let mut bursts = Vec::new();
        for k in 0..33 {
            let now = 6.0 * k as f64;
            r.push(&format!("m{}", k % 10), now, now);
            assert!(r.first().is_some_and(|w| now - w.since <= COALESCE));
            if r.send_now(now, Some(now + 6.0)) {
                bursts.push((now, r.len()));
                while !r.is_empty() {
                    r.delivered();
                }
            } else {
                assert_eq!(
                    r.wake_at(now, Some(now + 6.0)),
                    None,
                    "the next run wakes the task"
                );
            }
        }
        assert_eq!(bursts, vec![(60.0, 11), (126.0, 11), (192.0, 11)]);
    }

    #[test]
    fn a_failed_burst_backs_off_and_keeps_its_reports() {
        let mut r = Reports::default();
        r.push("m1", 10.0, 10.0);
        r.push("m2", 10.0, 10.0);
        r.push("m1", 10.0, 10.0);
        assert_eq!(r.len(), 2, "queued once");
        assert!(r.send_now(10.0, None));
        r.delivered();
        r.failed(10.0, 5.0);
        assert_eq!(r.len(), 1);
        assert!(!r.send_now(12.0, None));
        assert_eq!(r.wake_at(12.0, None), Some(15.0));
        assert!(r.send_now(15.0, None));
        r.delivered();
        assert_eq!(r.wake_at(15.0, None), None);
    }
}
