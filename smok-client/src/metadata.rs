//! Plain metadata (HTTP-API.md §7.13): a string-to-string store per device on the server, read
//! through a local cache.
//!
//! * [`SmokDevice::metadata`]: a value read from the server is used for `metadata_cache_for`
//!   (60 s) without asking again; a local write refreshes it. `Ok(None)` when the server says
//!   the key does not exist (404). When the server cannot be asked (no link, 5xx, a malformed
//!   answer) the local copy is returned, logged; without one, the error.
//! * [`SmokDevice::set_metadata`]: the value is cached at once, then sent with the wall-clock
//!   time of the write in double precision (the server keeps it unless its copy is newer).
//!   Setting the empty string deletes the key, as the published client means to.
//! * [`SmokDevice::delete_metadata`]: `DELETE` really sent (the published client's never
//!   reaches the server), and the local copy forgotten.
//!
//! Writes and deletes are tried 3 times with backoff, then the error is returned to the
//! caller: nothing is dropped silently.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use ngtt_proto::Escaped;

use crate::clock::epoch_secs;
use crate::error::Result;
use crate::SmokDevice;

/// The default time a value read from the server is used without asking again.
pub const DEFAULT_METADATA_CACHE: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq)]
struct Cached {
    value: String,
    /// When it was fetched or written locally.
    at: Instant,
}

/// The local copies, each with when it was had. Pure: the caller passes `now`.
#[derive(Debug)]
pub(crate) struct MetadataCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Cached>>,
}

impl MetadataCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        MetadataCache {
            ttl,
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The local copy of `key` if it is younger than the cache time.
    pub(crate) fn fresh(&self, key: &str, now: Instant) -> Option<String> {
        let entries = self.lock();
        let c = entries.get(key)?;
        (now.saturating_duration_since(c.at) < self.ttl).then(|| c.value.clone())
    }

    /// The local copy of `key`, however old.
    pub(crate) fn local(&self, key: &str) -> Option<String> {
        self.lock().get(key).map(|c| c.value.clone())
    }

    pub(crate) fn remember(&self, key: &str, value: String, now: Instant) {
        self.lock().insert(key.to_owned(), Cached { value, at: now });
    }

    pub(crate) fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

impl SmokDevice {
    /// The plain metadata value of `key` (see [`crate::metadata`]): the cached copy while it is
    /// fresh, else the server's; `Ok(None)` when the key does not exist.
    pub async fn metadata(&self, key: &str) -> Result<Option<String>> {
        let cache = &self.extras().metadata;
        if let Some(value) = cache.fresh(key, Instant::now()) {
            return Ok(Some(value));
        }
        let ctx = self.sync_ctx();
        let result = ctx.http.metadata_get(key).await;
        ctx.health.record(&result);
        match result {
            Ok(Some(got)) => {
                cache.remember(key, got.value.clone(), Instant::now());
                Ok(Some(got.value))
            }
            Ok(None) => {
                cache.forget(key);
                Ok(None)
            }
            Err(e) => match cache.local(key) {
                Some(value) => {
                    tracing::warn!(key = %Escaped(key), error = %e, "metadata cannot be read from the server: the local copy is used");
                    Ok(Some(value))
                }
                None => Err(e.into()),
            },
        }
    }

    /// Sets the plain metadata `key` to `value` (the empty string deletes it), locally at once
    /// and then on the server unless the server's copy was written later.
    pub async fn set_metadata(&self, key: &str, value: &str) -> Result<()> {
        if value.is_empty() {
            return self.delete_metadata(key).await;
        }
        self.extras()
            .metadata
            .remember(key, value.to_owned(), Instant::now());
        let written_at = epoch_secs(SystemTime::now());
        let http = &self.sync_ctx().http;
        self.retrying(|| http.metadata_put(key, value, written_at)).await
    }

    /// Deletes the plain metadata `key`, locally and on the server (idempotent).
    pub async fn delete_metadata(&self, key: &str) -> Result<()> {
        self.extras().metadata.forget(key);
        let http = &self.sync_ctx().http;
        self.retrying(|| http.metadata_delete(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_fresh_for_the_cache_time_and_kept_after() {
        let cache = MetadataCache::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(cache.fresh("k", t0), None);
        cache.remember("k", "v".into(), t0);
        assert_eq!(
            cache.fresh("k", t0 + Duration::from_secs(59)).as_deref(),
            Some("v")
        );
        assert_eq!(cache.fresh("k", t0 + Duration::from_secs(60)), None);
        assert_eq!(cache.local("k").as_deref(), Some("v"), "stale, but a fallback");
        cache.forget("k");
        assert_eq!(cache.local("k"), None);
    }
}
