//! Giving memory back to the system when devices leave.
//!
//! glibc's allocator keeps freed memory in its arenas for reuse: after thousands of devices
//! disconnect, the server's resident memory stays at its peak although nothing uses it.
//! [`TrimPolicy`] decides when enough connections have gone to make it worth asking glibc to
//! return its free pages ([`trim`], `malloc_trim(0)`); the accept loop checks it on a slow tick.

use std::time::{Duration, Instant};

/// Connections that must have ended since the peak before a trim, at least.
const MIN_DROP: usize = 256;

/// Trims at most this often.
const MIN_INTERVAL: Duration = Duration::from_secs(5);

/// How often the accept loop asks [`TrimPolicy::check`].
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(5);

/// When to give freed memory back: after the live connections fell by [`MIN_DROP`] and by an
/// eighth of their peak since the last trim, at most once per [`MIN_INTERVAL`].
#[derive(Debug)]
pub(crate) struct TrimPolicy {
    peak: usize,
    last: Option<Instant>,
}

impl TrimPolicy {
    /// A policy that has not trimmed yet.
    pub(crate) fn new() -> TrimPolicy {
        TrimPolicy { peak: 0, last: None }
    }

    /// With `live` connections at `now`: whether to trim now.
    pub(crate) fn check(&mut self, live: usize, now: Instant) -> bool {
        self.peak = self.peak.max(live);
        let dropped = self.peak - live;
        if dropped < MIN_DROP.max(self.peak / 8) {
            return false;
        }
        if self.last.is_some_and(|last| now < last + MIN_INTERVAL) {
            return false;
        }
        self.last = Some(now);
        self.peak = live;
        true
    }
}

/// Returns the allocator's free memory to the system (glibc); elsewhere nothing.
pub(crate) fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_a_large_drop_and_not_too_often() {
        let t0 = Instant::now();
        let mut p = TrimPolicy::new();
        assert!(!p.check(20_000, t0));
        assert!(!p.check(19_000, t0), "a twentieth left: not worth it");
        assert!(p.check(10_000, t0), "half left");
        assert!(
            !p.check(0, t0 + Duration::from_secs(1)),
            "at most once per interval"
        );
        assert!(p.check(0, t0 + MIN_INTERVAL));
        assert!(!p.check(0, t0 + 10 * MIN_INTERVAL), "nothing left since");
    }

    #[test]
    fn small_fleets_do_not_trim_on_every_departure() {
        let t0 = Instant::now();
        let mut p = TrimPolicy::new();
        assert!(!p.check(100, t0));
        assert!(!p.check(0, t0), "fewer than MIN_DROP connections ended");
        assert!(!p.check(300, t0));
        assert!(p.check(0, t0));
    }
}
