//! Giving memory back to the system: after a wave of connections (each TLS handshake leaves
//! freed buffers scattered between the connections that stay) and when devices leave.
//!
//! glibc's allocator keeps freed memory in its arenas for reuse, so after thousands of
//! handshakes or departures the server's resident memory stays at its peak although nothing
//! uses it. [`TrimPolicy`] decides when enough connections have come and gone to make it worth
//! asking glibc to return its free pages ([`trim`], `malloc_trim(0)`, which also releases free
//! pages in the middle of its heaps); the accept loop checks it on a slow tick, so an idle
//! server never trims. [`tune_allocator`] caps glibc's arenas.

use std::time::{Duration, Instant};

/// Connections that must have started or ended since the last trim, at least.
const MIN_CHURN: usize = 256;

/// Trims at most this often.
const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// How often the accept loop asks [`TrimPolicy::check`].
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Arenas glibc may create: one per core would multiply the memory held free per arena; the
/// connections' allocations are short critical sections, so a few arenas do not contend.
const MAX_ARENAS: i32 = 2;

/// When to give freed memory back: once connections started plus connections ended since the
/// last trim reach [`MIN_CHURN`] and an eighth of the connections now, at most once per
/// [`MIN_INTERVAL`].
#[derive(Debug)]
pub(crate) struct TrimPolicy {
    churn_at_last: u64,
    last: Option<Instant>,
}

impl TrimPolicy {
    /// A policy that has not trimmed yet.
    pub(crate) fn new() -> TrimPolicy {
        TrimPolicy {
            churn_at_last: 0,
            last: None,
        }
    }

    /// With `live` connections and `churn` connections started or ended since the server
    /// started, at `now`: whether to trim now.
    pub(crate) fn check(&mut self, live: usize, churn: u64, now: Instant) -> bool {
        let since = churn.saturating_sub(self.churn_at_last);
        if since < MIN_CHURN.max(live / 8) as u64 {
            return false;
        }
        if self.last.is_some_and(|last| now < last + MIN_INTERVAL) {
            return false;
        }
        self.last = Some(now);
        self.churn_at_last = churn;
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

/// Caps the number of glibc malloc arenas (a server with thousands of connections otherwise
/// holds freed memory in one arena per thread that ever allocated). Call it at the start of the
/// process, before threads are started; elsewhere than glibc it does nothing.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MAX_ARENAS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_enough_churn_and_not_too_often() {
        let t0 = Instant::now();
        let mut p = TrimPolicy::new();
        assert!(!p.check(100, 100, t0), "a hundred connections: not worth it");
        assert!(p.check(20_000, 20_000, t0), "a wave of connections");
        assert!(
            !p.check(20_000, 20_000, t0 + 10 * MIN_INTERVAL),
            "nothing came or went since"
        );
        assert!(
            !p.check(19_000, 21_000, t0 + 10 * MIN_INTERVAL),
            "a twentieth left"
        );
        assert!(p.check(10_000, 30_000, t0 + 10 * MIN_INTERVAL), "half left");
        assert!(
            !p.check(0, 40_000, t0 + 10 * MIN_INTERVAL),
            "at most once per interval"
        );
        assert!(p.check(0, 40_000, t0 + 11 * MIN_INTERVAL));
    }

    #[test]
    fn a_small_server_trims_after_a_few_hundred_departures() {
        let t0 = Instant::now();
        let mut p = TrimPolicy::new();
        assert!(!p.check(0, 200, t0));
        assert!(p.check(0, 300, t0));
    }
}
