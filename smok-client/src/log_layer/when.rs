//! [`WhenSequencer`]: log timestamps (`when`, µs since the epoch) that strictly increase per
//! device (NGTT.md §6), even when the clock stalls, repeats or steps back.

use std::sync::Mutex;

/// Issues strictly increasing `when` stamps and hands each, under the same lock, to the code
/// that queues its record — so records also *arrive* at the sink in stamp order, whatever the
/// number of threads logging. Share one (`Arc`) between everything that makes log records for
/// one device.
#[derive(Debug, Default)]
pub struct WhenSequencer {
    last: Mutex<u64>,
}

/// The stamp following `last` for a clock reading of `now_us`: the reading itself when it is
/// later than `last`, otherwise `last + 1` µs.
pub fn next_when(last: u64, now_us: u64) -> u64 {
    now_us.max(last.saturating_add(1))
}

impl WhenSequencer {
    /// A sequencer that has issued nothing.
    pub fn new() -> Self {
        WhenSequencer::default()
    }

    /// Issues the stamp for a clock reading of `now_us` and calls `queue` with it while no
    /// other stamp can be issued.
    pub fn issue<R>(&self, now_us: u64, queue: impl FnOnce(u64) -> R) -> R {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let when = next_when(*last, now_us);
        *last = when;
        queue(when)
    }

    /// The last stamp issued (0 before the first).
    pub fn last(&self) -> u64 {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_and_steps_back_are_bumped() {
        let s = WhenSequencer::new();
        let stamps: Vec<u64> = [100, 100, 100, 50, 200, 200]
            .iter()
            .map(|&t| s.issue(t, |w| w))
            .collect();
        assert_eq!(stamps, [100, 101, 102, 103, 200, 201]);
        assert_eq!(s.last(), 201);
    }

    proptest! {
        #[test]
        fn always_strictly_increasing(readings in proptest::collection::vec(0u64..1_000, 1..200)) {
            let s = WhenSequencer::new();
            let stamps: Vec<u64> = readings.iter().map(|&t| s.issue(t, |w| w)).collect();
            prop_assert!(stamps.windows(2).all(|w| w[0] < w[1]));
            // Never earlier than the clock said.
            prop_assert!(stamps.iter().zip(&readings).all(|(s, r)| s >= r));
        }
    }
}
