//! Giving memory back to the system: after a wave of connections (each TLS handshake leaves
//! freed buffers scattered between the connections that stay) and when devices leave.
//!
//! glibc's allocator keeps freed memory in its arenas for reuse, so after thousands of
//! handshakes or departures the server's resident memory stays at its peak although nothing
//! uses it. [`TrimPolicy`] decides when enough connections have come and gone to make it worth
//! asking glibc to return its free pages ([`trim`], `malloc_trim(0)`, which also releases free
//! pages in the middle of its heaps); the accept loop checks it on a slow tick, so an idle
//! server never trims. [`tune_allocator`] caps glibc's arenas.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::storage::Db;

/// Connections that must have started or ended since the last trim, at least.
const MIN_CHURN: usize = 256;

/// Trims at most this often.
const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// While connections keep coming and going, trims at most this often (a trim holds the
/// allocator's locks while it walks the heap: not in the middle of a reconnect storm).
const BUSY_INTERVAL: Duration = Duration::from_secs(30);

/// How often the accept loop asks [`TrimPolicy::check`].
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Arenas glibc may create: one per core would multiply the memory held free per arena; the
/// connections' allocations are short critical sections, so a few arenas do not contend.
const MAX_ARENAS: i32 = 2;

/// When to give freed memory back: once connections started plus connections ended since the
/// last trim reach [`MIN_CHURN`] and an eighth of the connections now, and the wave is over
/// (nothing came or went since the previous check) — or it goes on for [`BUSY_INTERVAL`].
#[derive(Debug)]
pub(crate) struct TrimPolicy {
    churn_at_last: u64,
    churn_at_check: u64,
    /// The last trim, or when the policy started.
    last: Instant,
}

impl TrimPolicy {
    /// A policy started at `now`, that has not trimmed yet.
    pub(crate) fn new(now: Instant) -> TrimPolicy {
        TrimPolicy {
            churn_at_last: 0,
            churn_at_check: 0,
            last: now,
        }
    }

    /// With `live` connections and `churn` connections started or ended since the server
    /// started, at `now`: whether to trim now.
    pub(crate) fn check(&mut self, live: usize, churn: u64, now: Instant) -> bool {
        let since = churn.saturating_sub(self.churn_at_last);
        let quiet = churn == self.churn_at_check;
        self.churn_at_check = churn;
        if since < MIN_CHURN.max(live / 8) as u64 {
            return false;
        }
        let wait = if quiet { MIN_INTERVAL } else { BUSY_INTERVAL };
        if now < self.last + wait {
            return false;
        }
        self.last = now;
        self.churn_at_last = churn;
        true
    }
}

/// A map below this capacity is never shrunk (its table is a few KiB at most).
const SHRINK_FLOOR: usize = 64;

/// The capacity to shrink a map of `len` entries and `capacity` slots to: once it is less than
/// a quarter full, to twice its length (so a map that empties entry by entry is rehashed a
/// logarithmic number of times, and one that refills does not grow back at once).
fn shrunk_capacity(len: usize, capacity: usize) -> Option<usize> {
    (capacity > SHRINK_FLOOR && len < capacity / 4).then(|| (len * 2).max(SHRINK_FLOOR))
}

/// Shrinks a per-device map that devices left (a `HashMap` never gives its table back by
/// itself: after a fleet of 20 000 left, an empty registry would keep a table for 28 000).
pub(crate) fn shrink_sparse<K: Eq + Hash, V>(map: &mut HashMap<K, V>) {
    if let Some(capacity) = shrunk_capacity(map.len(), map.capacity()) {
        map.shrink_to(capacity);
    }
}

/// Gives back what the server holds but does not use: the storage engine's caches, then the
/// allocator's free pages ([`trim`]).
pub(crate) async fn give_back(db: Db) {
    if let Err(e) = db.release_memory().await {
        tracing::debug!("releasing the storage's caches failed: {e}");
    }
    // A failed join is a panic of `trim`, which takes no input: nothing to do about it.
    let _ = tokio::task::spawn_blocking(trim).await;
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
    fn trims_once_a_wave_of_connections_is_over() {
        let t0 = Instant::now();
        let mut p = TrimPolicy::new(t0);
        let at = |n: u32| t0 + n * MIN_INTERVAL;
        assert!(!p.check(100, 100, at(1)), "a hundred connections: not worth it");
        assert!(!p.check(12_000, 12_000, at(2)), "still coming: wait");
        assert!(!p.check(20_000, 20_000, at(3)), "still coming");
        assert!(p.check(20_000, 20_000, at(4)), "over: trim");
        assert!(!p.check(20_000, 20_000, at(10)), "nothing came or went since");
        assert!(!p.check(19_000, 21_000, at(11)), "a twentieth left");
        assert!(!p.check(10_000, 30_000, at(12)), "half left, still leaving");
        assert!(p.check(10_000, 30_000, at(13)), "they stopped leaving");
    }

    #[test]
    fn endless_churn_trims_now_and_then() {
        let t0 = Instant::now();
        let mut p = TrimPolicy::new(t0);
        assert!(!p.check(1_000, 1_000, t0 + MIN_INTERVAL));
        assert!(!p.check(1_000, 3_000, t0 + BUSY_INTERVAL / 2));
        assert!(p.check(1_000, 4_000, t0 + BUSY_INTERVAL));
        assert!(!p.check(1_000, 5_000, t0 + BUSY_INTERVAL + MIN_INTERVAL));
    }

    #[test]
    fn maps_shrink_when_a_quarter_full() {
        assert_eq!(shrunk_capacity(0, 64), None, "small tables stay");
        assert_eq!(shrunk_capacity(20_000, 28_672), None);
        assert_eq!(shrunk_capacity(7_168, 28_672), None, "a quarter full");
        assert_eq!(shrunk_capacity(7_167, 28_672), Some(14_334));
        assert_eq!(shrunk_capacity(0, 28_672), Some(SHRINK_FLOOR));
        let mut map: HashMap<u32, u32> = (0..20_000).map(|i| (i, i)).collect();
        let full = map.capacity();
        for i in 0..20_000 {
            map.remove(&i);
            shrink_sparse(&mut map);
            assert!(map.capacity() >= map.len());
        }
        assert!(map.capacity() < full / 100, "{} of {full} left", map.capacity());
    }

    #[test]
    fn a_small_server_trims_after_a_few_hundred_departures() {
        let t0 = Instant::now();
        let mut p = TrimPolicy::new(t0);
        let at = |n: u32| t0 + n * MIN_INTERVAL;
        p.check(0, 200, at(1));
        assert!(!p.check(0, 200, at(2)), "fewer than MIN_CHURN");
        p.check(0, 300, at(3));
        assert!(p.check(0, 300, at(4)));
    }
}
