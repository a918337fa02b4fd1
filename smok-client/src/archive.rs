//! Archives (HTTP-API.md §7.12): pathpoints the server wants read periodically, each at its
//! interval. The settings (`GET /v1/device/pathpoints/archived`) are fetched at the client's
//! start and every `archive_refresh_interval` (600 s); each listed pathpoint is read when its
//! last value — or the last attempt — is older than its interval, and the value goes up like
//! any other read. Intervals come in **seconds** and timestamps are kept in milliseconds: the
//! plan converts once, so the comparison is between milliseconds (the published client
//! compares seconds with milliseconds and almost never re-reads).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use ngtt_proto::payload::Advise;
use ngtt_proto::Escaped;
use ngtt_transport::{Backoff, SplitMix64};
use smok_http::{ArchiveEntry, Lenient};

use crate::device::{SyncContext, WeakDevice};
use crate::schedule::Periodic;

/// The default interval between two fetches of the archive settings.
pub const DEFAULT_ARCHIVE_REFRESH: Duration = Duration::from_secs(600);

/// Shortest interval taken (1 s) and longest (10 years), as the server enforces.
const MIN_INTERVAL_MS: u64 = 1_000;
const MAX_INTERVAL_MS: u64 = 10 * 366 * 86_400 * 1_000;

/// Most pathpoints archived (the server's limit); the others are skipped.
const MAX_PATHS: usize = 10_000;

/// Longest the task sleeps between two looks at what is due.
const MAX_NAP: Duration = Duration::from_secs(60);

/// Which pathpoints are read when. Pure: the caller passes the time (ms since the epoch) and
/// the last value's timestamp of each path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArchivePlan {
    /// Path → interval in ms.
    intervals: BTreeMap<String, u64>,
    /// Path → when it was last attempted (ms).
    attempted: HashMap<String, u64>,
}

impl ArchivePlan {
    /// A plan from the server's entries: malformed entries and bad intervals are logged and
    /// skipped; a path listed twice keeps the shorter interval.
    pub fn from_entries(entries: Vec<Lenient<ArchiveEntry>>) -> ArchivePlan {
        let mut intervals = BTreeMap::new();
        for entry in entries {
            let entry = match entry {
                Lenient::Valid(entry) => entry,
                Lenient::Invalid { raw, reason } => {
                    tracing::warn!(entry = %raw, "skipping a malformed archive entry: {reason}");
                    continue;
                }
            };
            let ms = entry.interval * 1000.0;
            if !ms.is_finite() || ms < MIN_INTERVAL_MS as f64 || ms > MAX_INTERVAL_MS as f64 {
                tracing::warn!(
                    interval = entry.interval,
                    "skipping an archive entry: interval out of 1 s to 10 years"
                );
                continue;
            }
            for path in entry.pathpoints {
                if intervals.len() >= MAX_PATHS && !intervals.contains_key(&path) {
                    tracing::warn!("more than {MAX_PATHS} archived pathpoints: the rest skipped");
                    break;
                }
                let ms = ms as u64;
                intervals
                    .entry(path)
                    .and_modify(|v: &mut u64| *v = (*v).min(ms))
                    .or_insert(ms);
            }
        }
        ArchivePlan {
            intervals,
            attempted: HashMap::new(),
        }
    }

    /// Replaces the settings, keeping what is known of the paths still listed.
    pub fn replace(&mut self, new: ArchivePlan) {
        let mut attempted = std::mem::take(&mut self.attempted);
        attempted.retain(|path, _| new.intervals.contains_key(path));
        *self = ArchivePlan { attempted, ..new };
    }

    /// The archived paths and their intervals.
    pub fn intervals(&self) -> impl Iterator<Item = (&str, Duration)> {
        self.intervals
            .iter()
            .map(|(p, ms)| (p.as_str(), Duration::from_millis(*ms)))
    }

    /// When `path` was last read or attempted, whichever is later.
    fn last(&self, path: &str, last_value_ms: Option<u64>) -> Option<u64> {
        last_value_ms.max(self.attempted.get(path).copied())
    }

    /// The paths due at `now_ms`: never read, or last read at least their interval ago.
    pub fn due(&self, now_ms: u64, last_value_ms: impl Fn(&str) -> Option<u64>) -> Vec<String> {
        self.intervals
            .iter()
            .filter(|(path, interval)| match self.last(path, last_value_ms(path)) {
                None => true,
                Some(last) => now_ms.saturating_sub(last) >= **interval,
            })
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// Records an attempt to read `path` at `now_ms`.
    pub fn attempted(&mut self, path: &str, now_ms: u64) {
        self.attempted.insert(path.to_owned(), now_ms);
    }

    /// How long from `now_ms` until the next path is due (`None` without paths).
    pub fn next_due(&self, now_ms: u64, last_value_ms: impl Fn(&str) -> Option<u64>) -> Option<Duration> {
        self.intervals
            .iter()
            .map(|(path, interval)| match self.last(path, last_value_ms(path)) {
                None => 0,
                Some(last) => (last + interval).saturating_sub(now_ms),
            })
            .min()
            .map(Duration::from_millis)
    }
}

/// Fetches the settings and reads what is due, until the device is closed.
pub(crate) async fn run_archives(ctx: SyncContext, device: WeakDevice, refresh: Duration) {
    let mut schedule = Periodic::new(refresh, 0.1);
    let mut backoff = Backoff::new(ctx.backoff);
    let mut rng = SplitMix64::from_entropy();
    let mut plan = ArchivePlan::default();
    // Paths whose reads failed, logged once until they succeed or the settings change.
    let mut failing: HashSet<String> = HashSet::new();
    let mut timer = crate::device::wake::Timer::default();
    loop {
        if schedule.is_due(ctx.started.elapsed()) {
            let result = ctx.http.archived().await;
            ctx.health.record(&result);
            let elapsed = ctx.started.elapsed();
            match result {
                Ok(entries) => {
                    backoff = Backoff::new(ctx.backoff);
                    plan.replace(ArchivePlan::from_entries(entries));
                    failing.clear();
                    for (path, _) in plan.intervals() {
                        if let Err(e) = ctx.fw.registry.resolve(path) {
                            tracing::warn!(path = %Escaped(path), error = %e, "an archived pathpoint cannot be used");
                        }
                    }
                    ctx.fw.registry_changed.notify_one();
                    schedule.done(elapsed, rng.next_f64());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "archive settings cannot be fetched: will retry");
                    schedule.failed(elapsed, backoff.next_delay());
                }
            }
        }
        let Some(device) = device.upgrade() else { return };
        let last = |path: &str| ctx.fw.registry.last(path).map(|s| s.ts());
        for path in plan.due(crate::device::now_ms(), last) {
            plan.attempted(&path, crate::device::now_ms());
            match device.read(&path, Advise::Advise).await {
                Ok(_) => {
                    failing.remove(&path);
                }
                Err(e) => {
                    if failing.insert(path.clone()) {
                        tracing::warn!(path = %Escaped(&path), error = %e, "an archived pathpoint cannot be read (logged once)");
                    }
                }
            }
        }
        drop(device);
        let nap = plan
            .next_due(crate::device::now_ms(), last)
            .unwrap_or(MAX_NAP)
            .min(schedule.wait(ctx.started.elapsed()))
            .min(MAX_NAP);
        if !nap.is_zero() {
            tokio::select! {
                _ = timer.sleep(nap) => {}
                _ = ctx.cancel.cancelled() => return,
            }
        } else if ctx.cancel.is_cancelled() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(interval: f64, paths: &[&str]) -> Lenient<ArchiveEntry> {
        Lenient::Valid(ArchiveEntry {
            interval,
            pathpoints: paths.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    #[test]
    fn intervals_are_seconds_and_timestamps_milliseconds() {
        let mut plan = ArchivePlan::from_entries(vec![entry(60.0, &["W1"]), entry(5.0, &["W2", "W1"])]);
        assert_eq!(
            plan.intervals().collect::<Vec<_>>(),
            [("W1", Duration::from_secs(5)), ("W2", Duration::from_secs(5))]
        );
        let now = 1_796_000_000_000u64;
        // Read 4 s ago: not due (the published client would take 4000 "seconds" as due).
        let last = |_: &str| Some(now - 4_000);
        assert!(plan.due(now, last).is_empty());
        assert_eq!(plan.next_due(now, last), Some(Duration::from_secs(1)));
        assert_eq!(plan.due(now + 1_000, last), ["W1", "W2"]);
        // An attempt that left no new value still counts.
        plan.attempted("W1", now + 1_000);
        assert_eq!(plan.due(now + 1_000, last), ["W2"]);
        assert_eq!(plan.due(now, |_| None), ["W2"], "never read: due");
    }

    #[test]
    fn bad_entries_are_skipped() {
        let plan = ArchivePlan::from_entries(vec![
            entry(0.5, &["W1"]),
            entry(f64::NAN, &["W2"]),
            Lenient::Invalid {
                raw: serde_json::json!({"interval": "x"}),
                reason: "bad".into(),
            },
            entry(10.0, &["W3"]),
        ]);
        assert_eq!(plan.intervals().count(), 1);
    }

    proptest::proptest! {
        /// Whatever the intervals and last reads: a path is due exactly when its interval has
        /// passed, and `next_due` is the wait after which the first path is due.
        #[test]
        fn due_and_next_due_agree(
            secs in proptest::collection::vec(1u32..100_000, 1..6),
            ages_ms in proptest::collection::vec(proptest::option::of(0u64..200_000_000), 6),
        ) {
            let now = 1_796_000_000_000u64;
            let paths: Vec<String> = (0..secs.len()).map(|k| format!("W{k}")).collect();
            let plan = ArchivePlan::from_entries(
                secs.iter()
                    .zip(&paths)
                    .map(|(s, p)| entry(f64::from(*s), &[p.as_str()]))
                    .collect(),
            );
            let last = |path: &str| {
                let k: usize = path[1..].parse().unwrap();
                ages_ms[k].map(|age| now - age)
            };
            let due = plan.due(now, last);
            for (k, path) in paths.iter().enumerate() {
                let expected = match ages_ms[k] {
                    None => true,
                    Some(age) => age >= u64::from(secs[k]) * 1000,
                };
                proptest::prop_assert_eq!(due.contains(path), expected, "{}", path);
            }
            let wait = plan.next_due(now, last).unwrap();
            proptest::prop_assert_eq!(wait.is_zero(), !due.is_empty());
            let later = now + wait.as_millis() as u64;
            proptest::prop_assert!(!plan.due(later, last).is_empty());
            if let Some(earlier) = later.checked_sub(1).filter(|_| !wait.is_zero()) {
                proptest::prop_assert!(plan.due(earlier, last).is_empty());
            }
        }
    }
}
