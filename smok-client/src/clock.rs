//! [`Clock`]: where the executor (stale writes) and the log layer (log timestamps) read the
//! wall-clock time, so that tests can fix it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync {
    /// The time now.
    fn now(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The operating system's clock ([`SystemTime::now`]); the default everywhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that shows a time set by hand (tests): cloning shares the time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock showing `now` until told otherwise.
    pub fn new(now: SystemTime) -> Self {
        ManualClock(Arc::new(Mutex::new(now)))
    }

    /// A clock showing `secs` seconds after the epoch.
    pub fn at_epoch_secs(secs: f64) -> Self {
        ManualClock::new(UNIX_EPOCH + Duration::from_secs_f64(secs))
    }

    /// Shows `now` from now on.
    pub fn set(&self, now: SystemTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wall-clock time that advances with tokio's clock: `start` plus the tokio time elapsed since
/// the clock was made. Under paused time (`tokio::time::pause`, `start_paused`) it moves
/// exactly as far as the test advances time, which makes `wait` orders and stale writes
/// deterministic together.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: SystemTime,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock showing `start` now. Must be called inside a tokio runtime when time is paused.
    pub fn starting_at(start: SystemTime) -> Self {
        TokioClock {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.start + self.origin.elapsed()
    }
}

/// `time` as seconds since the epoch (negative before it).
pub fn epoch_secs(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// `time` as microseconds since the epoch (0 before it, saturating far in the future).
pub fn epoch_micros(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(epoch_micros(t), 1_700_000_000_123_456);
        assert!((epoch_secs(t) - 1_700_000_000.123_456).abs() < 1e-6);
        let before = UNIX_EPOCH - Duration::from_secs(2);
        assert_eq!(epoch_secs(before), -2.0);
        assert_eq!(epoch_micros(before), 0);
    }

    #[test]
    fn manual_clock_is_shared_by_clones() {
        let clock = ManualClock::at_epoch_secs(100.0);
        let other = clock.clone();
        clock.advance(Duration::from_secs(5));
        assert_eq!(epoch_secs(other.now()), 105.0);
        other.set(UNIX_EPOCH);
        assert_eq!(epoch_secs(clock.now()), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = TokioClock::starting_at(UNIX_EPOCH + Duration::from_secs(1000));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(epoch_secs(clock.now()), 1002.5);
    }
}
