//! What a device has besides its pathpoints and sensors (issue 10, part B): BAOBs, plain
//! metadata, archives, slave devices and sync hooks — their settings on the builder and their
//! state on the device (the local time is in `zone.rs`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use smok_http::HttpError;

use super::sync::SyncContext;
use super::{Inner, SmokDevice, SmokDeviceBuilder};
use crate::archive::DEFAULT_ARCHIVE_REFRESH;
use crate::baob::{BaobChange, BaobState, DEFAULT_BAOB_SYNC, DEFAULT_MAX_BAOB_LEN};
use crate::error::Result;
use crate::metadata::{MetadataCache, DEFAULT_METADATA_CACHE};

/// A sync hook (see [`SmokDeviceBuilder::on_successful_sync`]).
pub type SyncHook = Arc<dyn Fn() + Send + Sync>;

/// The builder's settings of these features.
#[derive(Clone)]
pub(crate) struct ExtrasConfig {
    pub(crate) baob_hook: Option<crate::baob::BaobHook>,
    pub(crate) baob_interval: Duration,
    pub(crate) max_baob_len: usize,
    pub(crate) archive_refresh: Duration,
    pub(crate) metadata_cache: Duration,
    pub(crate) on_success: Option<SyncHook>,
    pub(crate) on_failure: Option<SyncHook>,
    pub(crate) baobs: bool,
    pub(crate) archives: bool,
}

impl Default for ExtrasConfig {
    fn default() -> Self {
        ExtrasConfig {
            baob_hook: None,
            baob_interval: DEFAULT_BAOB_SYNC,
            max_baob_len: DEFAULT_MAX_BAOB_LEN,
            archive_refresh: DEFAULT_ARCHIVE_REFRESH,
            metadata_cache: DEFAULT_METADATA_CACHE,
            on_success: None,
            on_failure: None,
            baobs: true,
            archives: true,
        }
    }
}

/// Their state on the device.
#[derive(Debug)]
pub(crate) struct Extras {
    pub(crate) baob: BaobState,
    pub(crate) metadata: MetadataCache,
    pub(crate) archive_refresh: Duration,
    pub(crate) baobs_on: bool,
    pub(crate) archives_on: bool,
}

impl Extras {
    pub(crate) fn new(config: &ExtrasConfig) -> Self {
        Extras {
            baob: BaobState::new(
                config.baob_hook.clone(),
                config.baob_interval,
                config.max_baob_len,
            ),
            metadata: MetadataCache::new(config.metadata_cache),
            archive_refresh: config.archive_refresh,
            baobs_on: config.baobs,
            archives_on: config.archives,
        }
    }
}

/// Calls the sync hooks for the outcome of each exchange with the server.
#[derive(Clone, Default)]
pub(crate) struct SyncHooks {
    on_success: Option<SyncHook>,
    on_failure: Option<SyncHook>,
}

impl std::fmt::Debug for SyncHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHooks")
            .field("on_success", &self.on_success.is_some())
            .field("on_failure", &self.on_failure.is_some())
            .finish()
    }
}

impl SyncHooks {
    pub(crate) fn new(config: &ExtrasConfig) -> Self {
        SyncHooks {
            on_success: config.on_success.clone(),
            on_failure: config.on_failure.clone(),
        }
    }

    /// An exchange succeeded (`true`: any answer of the server, a refusal included) or found no
    /// link or a failing server (`false`).
    pub(crate) fn outcome(&self, reached: bool) {
        let hook = if reached {
            &self.on_success
        } else {
            &self.on_failure
        };
        if let Some(hook) = hook {
            hook();
        }
    }
}

impl SmokDeviceBuilder {
    /// Whether BAOBs are synced (default true; the Python client's `dont_do_baobs` is
    /// `baobs(false)`). Off, no round is made and [`SmokDevice::set_baob`] fails.
    pub fn baobs(mut self, on: bool) -> Self {
        self.extras.baobs = on;
        self
    }

    /// Whether archive settings are fetched and their pathpoints read (default true; the Python
    /// client's `dont_do_archives` is `archives(false)`).
    pub fn archives(mut self, on: bool) -> Self {
        self.extras.archives = on;
        self
    }

    /// Called (on the sync task, so keep it short) when the server changes one of the
    /// device's BAOBs: a newer copy downloaded, or a deletion (the Python client's
    /// `on_baob_updated`, which this calls in every round).
    pub fn on_baob_changed(mut self, hook: impl Fn(BaobChange) + Send + Sync + 'static) -> Self {
        self.extras.baob_hook = Some(Arc::new(hook));
        self
    }

    /// How often BAOBs are synced besides the triggers (default 3600 s, counted from the
    /// client's start; the first round at once).
    pub fn baob_sync_interval(mut self, every: Duration) -> Self {
        self.extras.baob_interval = every;
        self
    }

    /// The largest BAOB the device downloads (default 64 MiB); a larger one is skipped and
    /// logged, never read whole into memory.
    pub fn max_baob_len(mut self, bytes: usize) -> Self {
        self.extras.max_baob_len = bytes;
        self
    }

    /// How often the archive settings are fetched (default 600 s from the client's start,
    /// the first at once).
    pub fn archive_refresh_interval(mut self, every: Duration) -> Self {
        self.extras.archive_refresh = every;
        self
    }

    /// How long a plain metadata value read from the server is used without asking again
    /// (default 60 s; the Python client's `cache_metadata_for`).
    pub fn metadata_cache_for(mut self, ttl: Duration) -> Self {
        self.extras.metadata_cache = ttl;
        self
    }

    /// Called after each HTTP exchange the server answered (any answer, a refusal included):
    /// the Python client's `on_successful_sync`. Keep it short: it runs on the caller's task.
    pub fn on_successful_sync(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.extras.on_success = Some(Arc::new(hook));
        self
    }

    /// Called after each HTTP exchange that found no link or a failing server (5xx): the
    /// Python client's `on_failed_sync`.
    pub fn on_failed_sync(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.extras.on_failure = Some(Arc::new(hook));
        self
    }
}

/// A handle that does not keep the device open (for its own background tasks).
#[derive(Clone, Debug)]
pub(crate) struct WeakDevice(Weak<Inner>);

impl WeakDevice {
    pub(crate) fn upgrade(&self) -> Option<SmokDevice> {
        self.0.upgrade().map(|inner| SmokDevice { inner })
    }
}

/// How many times [`SmokDevice::retrying`] attempts a call.
const ATTEMPTS: u32 = 3;

impl SmokDevice {
    pub(crate) fn extras(&self) -> &Extras {
        &self.inner.extras
    }

    pub(crate) fn sync_ctx(&self) -> &SyncContext {
        &self.inner.sync
    }

    pub(crate) fn downgrade(&self) -> WeakDevice {
        WeakDevice(Arc::downgrade(&self.inner))
    }

    /// Runs `call` up to 3 times, with backoff, while it fails with something a retry may fix
    /// (no link, 5xx); then returns its outcome.
    pub(crate) async fn retrying<F, Fut>(&self, mut call: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), HttpError>>,
    {
        let ctx = self.sync_ctx();
        let mut backoff = ngtt_transport::Backoff::new(ctx.backoff);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = call().await;
            ctx.health.record(&result);
            match result {
                Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                    tokio::select! {
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                        _ = ctx.cancel.cancelled() => return Err(e.into()),
                    }
                }
                other => return Ok(other?),
            }
        }
    }

    /// Starts the background tasks of these features (BAOB rounds, archives).
    pub(super) fn start_extras(&self) {
        let span = tracing::info_span!("smok", device = %self.inner.identity.device_id);
        let ctx = self.inner.sync.clone();
        let baobs = crate::baob::run_rounds(ctx.clone(), self.inner.extras.clone());
        let archives = crate::archive::run_archives(ctx, self.downgrade(), self.inner.extras.archive_refresh);
        let mut tasks = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if self.inner.extras.baobs_on {
            tasks.push(tokio::spawn(tracing::Instrument::instrument(baobs, span.clone())));
        }
        if self.inner.extras.archives_on {
            tasks.push(tokio::spawn(tracing::Instrument::instrument(archives, span)));
        }
    }
}
