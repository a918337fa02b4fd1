//! [`Attempts`]: how hard an order is tried, by its advise level — pure, no clock.

use std::time::Duration;

use ngtt_proto::payload::Advise;

/// How many times reads and writes are attempted, and the pause between attempts.
///
/// The defaults follow the published client for writes (FORCE: up to 10 attempts, ADVISE: 1)
/// and improve on it for reads, which it never retries: a FORCE read is attempted up to 3
/// times, so that one bus timeout does not leave the server without a value. Attempts are
/// separated by `pause`, doubling, at most `max_pause` — the Python client retried at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts of an ADVISE read (default 1).
    pub read_advise: u32,
    /// Attempts of a FORCE read (default 3).
    pub read_force: u32,
    /// Attempts of an ADVISE write (default 1).
    pub write_advise: u32,
    /// Attempts of a FORCE write (default 10).
    pub write_force: u32,
    /// Pause after the first failed attempt (default 50 ms).
    pub pause: Duration,
    /// Longest pause (default 2 s).
    pub max_pause: Duration,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            read_advise: 1,
            read_force: 3,
            write_advise: 1,
            write_force: 10,
            pause: Duration::from_millis(50),
            max_pause: Duration::from_secs(2),
        }
    }
}

impl Attempts {
    /// How many times a read with `advise` is attempted (at least 1).
    pub fn reads(&self, advise: Advise) -> u32 {
        match advise {
            Advise::Force => self.read_force,
            _ => self.read_advise,
        }
        .max(1)
    }

    /// How many times a write with `advise` is attempted (at least 1).
    pub fn writes(&self, advise: Advise) -> u32 {
        match advise {
            Advise::Force => self.write_force,
            _ => self.write_advise,
        }
        .max(1)
    }

    /// The pause after failed attempt number `failed` (1 for the first).
    pub fn pause_after(&self, failed: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failed.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.pause
            .checked_mul(factor)
            .unwrap_or(self.max_pause)
            .min(self.max_pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let a = Attempts::default();
        assert_eq!((a.reads(Advise::Advise), a.reads(Advise::Force)), (1, 3));
        assert_eq!((a.writes(Advise::Advise), a.writes(Advise::Force)), (1, 10));
        assert_eq!(a.pause_after(1), Duration::from_millis(50));
        assert_eq!(a.pause_after(3), Duration::from_millis(200));
        assert_eq!(a.pause_after(40), Duration::from_secs(2));
        let none = Attempts { write_force: 0, ..a };
        assert_eq!(none.writes(Advise::Force), 1);
    }
}
